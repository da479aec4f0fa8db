import { builtIn } from '../built-in.js';
import type { Loss } from './loss.js';
import { pairCosineLoss } from './pair-cosine.js';

/**
 * Mean squared error between the cosine of each pair and its target similarity, `(cos - t)²`
 * averaged over pairs: the "embedding adapter" recipe (targets +1 for similar pairs, -1 for
 * dissimilar ones), and sentence-transformers' `CosineSimilarityLoss` for graded targets.
 */
export function mseSimilarityLoss(): Loss {
  return builtIn({
    name: 'mse',
    sampling: 'pairs',
    compute: (_ops, input) =>
      pairCosineLoss('mseSimilarityLoss', input, (cos, t) => {
        const e = cos - t;
        return [e * e, 2 * e];
      }),
  });
}
