import { builtIn } from '../built-in.js';
import { checkNumber, checkObject, given } from '../check.js';
import type { Loss } from './loss.js';
import { pairCosineLoss } from './pair-cosine.js';

/** Options of {@link cosineEmbeddingLoss}. */
export interface CosineEmbeddingLossOptions {
  /** Dissimilar pairs are penalised only above this cosine; defaults to 0. */
  margin?: number;
}

/**
 * Cosine embedding loss (as in PyTorch's `CosineEmbeddingLoss`): `1 - cos` for similar pairs
 * (target > 0) and `max(0, cos - margin)` for dissimilar pairs (target <= 0), averaged over pairs.
 */
export function cosineEmbeddingLoss(options: CosineEmbeddingLossOptions = {}): Loss {
  options = checkObject('cosineEmbeddingLoss', 'options', options, true, ['margin']);
  const margin = checkNumber('cosineEmbeddingLoss', 'margin', given(options.margin, 0), -1, 1);
  return builtIn({
    name: 'cosine-embedding',
    sampling: 'pairs',
    compute: (_ops, input) =>
      pairCosineLoss('cosineEmbeddingLoss', input, (cos, y) => {
        if (y > 0) return [1 - cos, -1];
        return cos > margin ? [cos - margin, 1] : [0, 0];
      }),
  });
}
