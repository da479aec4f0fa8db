import { argError } from '@cosinekit/core/backend';
import { checkLossInput } from '../check.js';
import { checkUnitRows } from '../normalize.js';
import type { LossInput, LossResult } from './loss.js';

/**
 * Shared machinery of the pair losses: the cosine of paired rows and the chain rule through it.
 * A loss supplies, per pair, its value and dL/dcos; this turns them into the batch mean and the
 * gradients with respect to both rows:
 *   dcos/da = b / (‖a‖ ‖b‖) - cos a / ‖a‖²  (and symmetrically for b).
 * A zero row has cosine 0 and no gradient, matching core's cosine kernels. With `normalized`
 * inputs (unit rows) the cosine is the dot product and dcos/da = b, its radial part left to the
 * caller's normalisation backward.
 */
export function pairCosineLoss(
  op: string,
  input: LossInput,
  term: (cos: number, target: number) => [value: number, dCos: number],
): LossResult {
  checkLossInput(op, input, true);
  const { a, b, rows, cols, targets } = input;
  const unit = input.normalized === true;
  if (!targets || targets.length !== rows) {
    argError('SHAPE_MISMATCH', op, 'targets', `must hold one value per pair (${rows}).`);
  }
  if (unit) {
    checkUnitRows(op, 'a', a, rows, cols);
    checkUnitRows(op, 'b', b, rows, cols);
  }
  const gradA = a instanceof Float64Array ? new Float64Array(a.length) : new Float32Array(a.length);
  const gradB = a instanceof Float64Array ? new Float64Array(a.length) : new Float32Array(a.length);
  let total = 0;
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    let dot = 0;
    let aa = 0;
    let bb = 0;
    for (let j = 0; j < cols; j++) {
      dot += a[o + j] * b[o + j];
      aa += a[o + j] * a[o + j];
      bb += b[o + j] * b[o + j];
    }
    const na = Math.sqrt(aa);
    const nb = Math.sqrt(bb);
    if (unit) {
      // Unit (or zero) rows: the cosine is the dot product, and dcos/da = b, dcos/db = a up to
      // the component along each row, which the caller's normalisation backward projects out.
      const [value, dCos] = term(dot, targets[i]);
      total += value;
      if (dCos === 0) continue;
      const g = dCos / rows;
      for (let j = 0; j < cols; j++) {
        gradA[o + j] = g * b[o + j];
        gradB[o + j] = g * a[o + j];
      }
      continue;
    }
    const cos = na > 0 && nb > 0 ? dot / (na * nb) : 0;
    const [value, dCos] = term(cos, targets[i]);
    total += value;
    if (dCos === 0 || na === 0 || nb === 0) continue;
    const g = dCos / rows;
    const inv = 1 / (na * nb);
    for (let j = 0; j < cols; j++) {
      gradA[o + j] = g * (b[o + j] * inv - (cos * a[o + j]) / aa);
      gradB[o + j] = g * (a[o + j] * inv - (cos * b[o + j]) / bb);
    }
  }
  return { loss: total / rows, gradA, gradB };
}
