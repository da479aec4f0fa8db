import { argError } from '@cosinekit/core';
import { normalizeRowsBackward, normalizeRowsForward } from '../normalize.js';
import type { Loss } from './loss.js';

/** Options of {@link multipleNegativesRankingLoss}. */
export interface MultipleNegativesRankingLossOptions {
  /** Multiplies the cosines before the softmax (inverse temperature); defaults to 20. */
  scale?: number;
}

/**
 * Multiple-negatives ranking loss (InfoNCE with in-batch negatives, as in sentence-transformers):
 * the cross-entropy of the logits `scale x cos(a_i, b_j)` against the target j = i, averaged over
 * i. Every other positive in the batch is a negative for anchor i, except, when `groups` are given,
 * rows of the anchor's own group (they are not negatives, so they leave the softmax).
 *
 * The `rows x rows` cosine matrix and both gradient products run on the backend (`ops.matmul`):
 *   S = Â B̂ᵀ, dÂ = dS B̂, dB̂ = dSᵀ Â, with dS = scale (softmax(scale S) - I) / rows.
 */
export function multipleNegativesRankingLoss(options: MultipleNegativesRankingLossOptions = {}): Loss {
  const scale = options.scale ?? 20;
  if (!(scale > 0)) argError('INVALID_ARGUMENT', 'multipleNegativesRankingLoss', 'scale', 'must be > 0.');
  return {
    name: 'multiple-negatives-ranking',
    sampling: 'in-batch',
    async compute(ops, input) {
      const { a, b, rows, cols, groups } = input;
      if (groups && groups.length !== rows) {
        argError('SHAPE_MISMATCH', 'multipleNegativesRankingLoss', 'groups', `must hold ${rows} values.`);
      }
      const na = normalizeRowsForward(a, rows, cols);
      const nb = normalizeRowsForward(b, rows, cols);
      const s = await ops.matmul(na.y, rows, cols, nb.y, rows, cols, false, true);
      const dS = ops.alloc(rows * rows);
      let total = 0;
      for (let i = 0; i < rows; i++) {
        const o = i * rows;
        let max = -Infinity;
        for (let j = 0; j < rows; j++) {
          if (j !== i && groups && groups[j] === groups[i]) continue;
          max = Math.max(max, scale * s[o + j]);
        }
        let z = 0;
        for (let j = 0; j < rows; j++) {
          if (j !== i && groups && groups[j] === groups[i]) continue;
          z += Math.exp(scale * s[o + j] - max);
        }
        total += max + Math.log(z) - scale * s[o + i];
        for (let j = 0; j < rows; j++) {
          if (j !== i && groups && groups[j] === groups[i]) continue;
          const p = Math.exp(scale * s[o + j] - max) / z;
          dS[o + j] = (scale * (p - (j === i ? 1 : 0))) / rows;
        }
      }
      const dA = await ops.matmul(dS, rows, rows, nb.y, rows, cols, false, false);
      const dB = await ops.matmul(dS, rows, rows, na.y, rows, cols, true, false);
      return {
        loss: total / rows,
        gradA: normalizeRowsBackward(na, dA, rows, cols),
        gradB: normalizeRowsBackward(nb, dB, rows, cols),
      };
    },
  };
}
