import { argError, argErrorOf, errorText, isCosineKitError, valueText } from '@cosinekit/core/backend';
import { checkLossInput } from '../check.js';
import { checkUnitRows, HUGE_SQ, scaleOf, TINY_SQ } from '../normalize.js';
import type { LossInput, LossResult } from './loss.js';

/**
 * A cosine as the losses see it: within [-1, 1], as core's and every kernel's are. Rounding took
 * identical rows a step past 1, and `1 - cos` below 0 (-1.1e-16; -4.8e-8 for float32 unit rows).
 */
/**
 * Past this a target is far from [-1, 1], where cosine targets belong: a non-finite loss with such a
 * target is the target's to name, not the term's.
 */
const FAR_TARGET = 2 ** 20;

function clamp(c: number): number {
  return c > 1 ? 1 : c < -1 ? -1 : c;
}

/**
 * Shared machinery of the pair losses: the cosine of paired rows and the chain rule through it.
 * A loss supplies, per pair, its value and dL/dcos; this turns them into the batch mean and the
 * gradients with respect to both rows:
 *   dcos/da = b / (‖a‖ ‖b‖) - cos a / ‖a‖²  (and symmetrically for b).
 * A zero row has cosine 0 and no gradient, matching core's cosine kernels. With `normalized`
 * inputs (unit rows) the cosine is the dot product and dcos/da = b, its radial part left to the
 * caller's normalisation backward. `term` must give two numbers per pair: a NaN (or anything else)
 * is `NON_FINITE` naming `term` and `op`.
 */
export function pairCosineLoss(
  op: string,
  input: LossInput,
  term: (cos: number, target: number) => [value: number, dCos: number],
): LossResult {
  const { a, b, rows, cols, targets, normalized } = checkLossInput(op, input, true);
  const unit = normalized === true;
  if (!targets) {
    argError('SHAPE_MISMATCH', op, 'targets', `must hold one value per pair (${rows}).`);
  }
  if (unit) {
    checkUnitRows(op, 'a', a, rows, cols);
    checkUnitRows(op, 'b', b, rows, cols);
  }
  const gradA = a instanceof Float64Array ? new Float64Array(a.length) : new Float32Array(a.length);
  const gradB = a instanceof Float64Array ? new Float64Array(a.length) : new Float32Array(a.length);
  let total = 0;
  // The first pair whose term gave an infinite value, and the first target far from [-1, 1].
  let infinite = -1;
  let infiniteValue = 0;
  let far = -1;
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    if (far < 0 && !(Math.abs(targets[i]) <= FAR_TARGET)) far = i;
    let dot = 0;
    let aa = 0;
    let bb = 0;
    for (let j = 0; j < cols; j++) {
      dot += a[o + j] * b[o + j];
      aa += a[o + j] * a[o + j];
      bb += b[o + j] * b[o + j];
    }
    if (unit) {
      // Unit (or zero) rows: the cosine is the dot product, and dcos/da = b, dcos/db = a up to
      // the component along each row, which the caller's normalisation backward projects out.
      const [value, dCos] = termOf(op, term, clamp(dot), targets[i], i);
      if (infinite < 0 && !Number.isFinite(value)) [infinite, infiniteValue] = [i, value];
      total += value;
      if (dCos === 0) continue;
      const g = gradientOf(op, dCos / rows, targets[i], i, a);
      for (let j = 0; j < cols; j++) {
        gradA[o + j] = g * b[o + j];
        gradB[o + j] = g * a[o + j];
      }
      continue;
    }
    // Rows whose squares overflow or underflow float64 (float64 rows past about 1e154, or below
    // 1e-154) are taken again scaled by a power of two: a = sa a', so cos is that of a' and b',
    // and dcos/da = (b' / (|a'| |b'|) - cos a' / |a'|²) / sa.
    const sa = aa === 0 || !(aa < HUGE_SQ && aa > TINY_SQ) ? scaleOf(a, o, cols) : 1;
    const sb = bb === 0 || !(bb < HUGE_SQ && bb > TINY_SQ) ? scaleOf(b, o, cols) : 1;
    let d2 = dot;
    let a2 = aa;
    let b2 = bb;
    if (sa !== 1 || sb !== 1) {
      d2 = 0;
      a2 = 0;
      b2 = 0;
      for (let j = 0; j < cols; j++) {
        const x = a[o + j] / sa;
        const y = b[o + j] / sb;
        d2 += x * y;
        a2 += x * x;
        b2 += y * y;
      }
    }
    const ma = Math.sqrt(a2);
    const mb = Math.sqrt(b2);
    const cos = ma > 0 && mb > 0 ? d2 / (ma * mb) : 0;
    const [value, dCos] = termOf(op, term, clamp(cos), targets[i], i);
    if (infinite < 0 && !Number.isFinite(value)) [infinite, infiniteValue] = [i, value];
    total += value;
    if (dCos === 0 || ma === 0 || mb === 0) continue;
    const g = gradientOf(op, dCos / rows, targets[i], i, a);
    const inv = 1 / (ma * mb);
    let acc = 0;
    for (let j = 0; j < cols; j++) {
      gradA[o + j] = (g * ((b[o + j] / sb) * inv - (cos * (a[o + j] / sa)) / a2)) / sa;
      gradB[o + j] = (g * ((a[o + j] / sa) * inv - (cos * (b[o + j] / sb)) / b2)) / sb;
      acc += gradA[o + j] * 0 + gradB[o + j] * 0;
    }
    if (acc !== 0)
      argError(
        'NON_FINITE',
        op,
        ma * sa < mb * sb ? 'a' : 'b',
        `row ${i} has norm ${Math.min(ma * sa, mb * sb)}: the cosine's gradient (1 / norm) is past ${a instanceof Float32Array ? 'float32' : 'float64'}. Rescale the rows.`,
      );
  }
  if (!Number.isFinite(total)) {
    // A target far from [-1, 1] (a built-in term's square of 1e200 overflows) is the cause to
    // name: the target of the pair whose value was infinite, or, where finite values summed past
    // float64, the first far one. Else the term's own values are (it named a target of 0.5; and
    // a far target of another pair than the infinite value's; reviews).
    const blamed = infinite >= 0 ? (Math.abs(targets[infinite]) <= FAR_TARGET ? -1 : infinite) : far;
    if (blamed >= 0)
      argError(
        'NON_FINITE',
        op,
        'targets',
        `make the loss ${total}: pair ${blamed}'s target ${targets[blamed]} is far from [-1, 1], where targets belong.`,
      );
    argError(
      'NON_FINITE',
      op,
      'term',
      infinite >= 0
        ? `gave the value ${infiniteValue} for pair ${infinite} (target ${targets[infinite]}): the loss is ${total}; a term's value must be finite.`
        : `gave values that sum to ${total} over ${rows} pairs: each must be finite, and their sum too.`,
    );
  }
  return { loss: total / rows, gradA, gradB };
}

/**
 * The loss `term` gives pair `i`: a NaN (or no number), an infinite dL/dcos, or a throw is the
 * term's own, named `term` (a finite target was blamed as "makes the loss's gradient NaN"); an
 * infinite value stays the loss's total, and a finite dL/dcos past the rows' precision the
 * targets' to name.
 */
function termOf(
  op: string,
  term: (cos: number, target: number) => [value: number, dCos: number],
  cos: number,
  target: number,
  i: number,
): [number, number] {
  let r: unknown;
  try {
    r = term(cos, target);
  } catch (e) {
    // It escaped raw (train names a loss's throw, but this is called directly too). A typed error
    // of the term's own says what it is already.
    if (isCosineKitError(e)) throw e;
    throw argErrorOf('INVALID_ARGUMENT', op, 'term', `threw for pair ${i}: ${errorText(e)}`, e);
  }
  const [value, dCos] = Array.isArray(r) ? r : [undefined, undefined];
  // An infinite dL/dcos was blamed on the pair's target ("targets belong near [-1, 1]"). An
  // infinite value is left to the loss's total (a built-in term's square of a target of 1e200
  // overflows; the gradient then names the target, its cause).
  if (typeof value !== 'number' || Number.isNaN(value) || !Number.isFinite(dCos))
    argError(
      'NON_FINITE',
      op,
      'term',
      `gave ${Array.isArray(r) ? `[${r.slice(0, 3).map(valueText).join(', ')}${r.length > 3 ? ', ...' : ''}]` : valueText(r)} for pair ${i} (cosine ${cos}, target ${target}): it must give [value, dL/dcos], two numbers, dL/dcos finite.`,
    );
  return [value as number, dCos as number];
}

/**
 * `g`, the loss's gradient with respect to pair `i`'s cosine, once it is known to fit the rows'
 * precision: a target so far from [-1, 1] that it does not (1e150 against float32 rows) is
 * `NON_FINITE` naming `targets`, not Infinity in the gradients nor a blame on the rows.
 */
function gradientOf(op: string, g: number, target: number, i: number, a: ArrayLike<number>): number {
  if (!Number.isFinite(a instanceof Float32Array ? Math.fround(g) : g))
    argError(
      'NON_FINITE',
      op,
      'targets',
      `holds ${target} at pair ${i}, which makes the loss's gradient ${g}, past ${a instanceof Float32Array ? 'float32' : 'float64'}: targets belong near [-1, 1].`,
    );
  return g;
}
