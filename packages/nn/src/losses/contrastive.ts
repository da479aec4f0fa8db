import { builtIn } from '../built-in.js';
import { checkNumber, checkObject, given } from '../check.js';
import type { Loss } from './loss.js';
import { pairCosineLoss } from './pair-cosine.js';

/** Options of {@link contrastiveLoss}. */
export interface ContrastiveLossOptions {
  /** Dissimilar pairs closer than this cosine distance are pushed apart; defaults to 0.5. */
  margin?: number;
}

/**
 * Contrastive loss on the cosine distance `d = 1 - cos` (Hadsell, Chopra and LeCun 2006, as in
 * sentence-transformers' `ContrastiveLoss`): `0.5 [y d² + (1 - y) relu(m - d)²]`, with y = 1 for
 * similar pairs (target > 0) and 0 otherwise, averaged over pairs.
 */
export function contrastiveLoss(options: ContrastiveLossOptions = {}): Loss {
  options = checkObject('contrastiveLoss', 'options', options, true, ['margin']);
  const m = checkNumber('contrastiveLoss', 'margin', given(options.margin, 0.5), 0, 2);
  return builtIn({
    name: 'contrastive',
    sampling: 'pairs',
    compute: (_ops, input) =>
      pairCosineLoss('contrastiveLoss', input, (cos, y) => {
        const d = 1 - cos;
        // dL/dcos = -dL/dd.
        if (y > 0) return [0.5 * d * d, -d];
        const h = m - d;
        return h > 0 ? [0.5 * h * h, h] : [0, 0];
      }),
  });
}
