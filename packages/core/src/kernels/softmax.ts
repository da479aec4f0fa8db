import type { Kernels, Matrix, SoftmaxCrossEntropy } from '../contract.js';
import { argError, reading } from '../errors.js';
import { describeType, matrixArg, valueText, viewArg } from '../tensor.js';

/**
 * {@link Kernels.softmaxCrossEntropy} in plain TypeScript: the float32 operations the contract
 * spells out ({@link SoftmaxCrossEntropy}), each rounded with `Math.fround`, so a backend that does
 * the same operations (four lanes at a time or one by one) gives the same bits.
 */

// The constants, rounded to float32 once.
const f = Math.fround;
// The float32s nearest log2(e) and sqrt(1/2) (1.44269504 and 0.707106781, as the contract writes).
const LOG2E = f(Math.LOG2E);
const ROUND = f(12582912);
const LN2_HI = f(0.693359375);
const LN2_LO = f(-2.12194442e-4);
const E0 = f(1.98756915e-4);
const E1 = f(1.39819995e-3);
const E2 = f(8.33345191e-3);
const E3 = f(4.16657962e-2);
const E4 = f(1.66666657e-1);
const E5 = f(5.00000012e-1);
const SQRTH = f(Math.SQRT1_2);
const L = [
  7.0376836292e-2, -1.151461031e-1, 1.167699874e-1, -1.2420140846e-1, 1.4249322787e-1, -1.6668057665e-1,
  2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1,
].map(f);
/** Below this, `exp32` is 0 (`exp(-87)` is just above the smallest normal float32). */
const EXP_FLOOR = -87;

/** `2^k` at `k + 126` for `-126 <= k <= 0`, exact (halving a power of two is exact down to 2^-126). */
const POW2 = new Float64Array(127);
POW2[126] = 1;
for (let i = 125; i >= 0; i--) POW2[i] = POW2[i + 1] / 2;

/** The contract's `exp32(u)` for `u <= 0` (`-Infinity` included). */
export function exp32(u: number): number {
  // A local name: V8 inlines Math.fround through it (a module-level one cost a call per use).
  const f = Math.fround;
  if (!(u >= EXP_FLOOR)) return 0;
  const k = f(f(f(u * LOG2E) + ROUND) - ROUND);
  const r = f(f(u - f(k * LN2_HI)) - f(k * LN2_LO));
  let p = f(f(E0 * r) + E1);
  p = f(f(p * r) + E2);
  p = f(f(p * r) + E3);
  p = f(f(p * r) + E4);
  p = f(f(p * r) + E5);
  p = f(f(f(p * f(r * r)) + r) + 1);
  // An int32 index: -k would be -0 at k = 0, which sends V8 to a slow keyed load.
  return f(p * POW2[(k + 126) | 0]);
}

const frexpF = new Float32Array(1);
const frexpI = new Int32Array(frexpF.buffer);

/** The contract's `log32(z)` for a normal `z >= 1`. */
export function log32(z: number): number {
  const f = Math.fround;
  frexpF[0] = z;
  const bits = frexpI[0];
  // z = m 2^e with 0.5 <= m < 1: the exponent field less 126, and the mantissa under exponent -1.
  let e = ((bits >>> 23) & 0xff) - 126;
  frexpI[0] = (bits & 0x807fffff) | 0x3f000000;
  const m = frexpF[0];
  let x: number;
  if (m < SQRTH) {
    e -= 1;
    x = f(f(m + m) - 1);
  } else x = f(m - 1);
  const q = f(x * x);
  let p = L[0];
  for (let i = 1; i < 9; i++) p = f(f(p * x) + L[i]);
  let y = f(f(p * x) * q);
  y = f(y + f(e * LN2_LO));
  y = f(y - f(0.5 * q));
  return f(f(x + y) + f(e * LN2_HI));
}

/** {@link Kernels.softmaxCrossEntropy}. */
export function softmaxCrossEntropy(
  logits: Matrix,
  targets: Int32Array,
  scale: number,
  weight: number,
  keep?: Uint8Array,
  out?: SoftmaxCrossEntropy,
): SoftmaxCrossEntropy {
  checkSoftmaxArgs(logits, targets, scale, weight, keep, out);
  const { data: x, rows, cols: n } = logits;
  const grad = out?.grad ?? new Float32Array(rows * n);
  const losses = out?.losses ?? new Float32Array(rows);
  const f = Math.fround;
  const s = f(scale);
  const c = f(scale * weight);
  for (let j = 0; j < rows * n; j++) {
    if (!Number.isFinite(x[j]))
      argError('NON_FINITE', 'softmaxCrossEntropy', 'logits', `holds ${x[j]} at row ${Math.floor(j / n)}.`);
  }
  const z4 = new Float64Array(4);
  for (let i = 0; i < rows; i++) {
    const o = i * n;
    const t = targets[i];
    let m = x[o + t];
    for (let j = 0; j < n; j++) if (keep?.[o + j] !== 0 && x[o + j] > m) m = x[o + j];
    z4.fill(0);
    for (let j = 0; j < n; j++) {
      let e = 0;
      if (j === t || !keep || keep[o + j] !== 0) e = exp32(f(s * f(x[o + j] - m)));
      grad[o + j] = e;
      z4[j & 3] = f(z4[j & 3] + e);
    }
    const z = f(f(z4[0] + z4[1]) + f(z4[2] + z4[3]));
    const ut = f(s * f(x[o + t] - m));
    losses[i] = f(log32(z) - ut);
    for (let j = 0; j < n; j++) grad[o + j] = f(c * f(grad[o + j] / z));
    grad[o + t] = f(c * f(f(f(exp32(ut)) / z) - 1));
  }
  return { grad, losses };
}

/**
 * The arguments of {@link Kernels.softmaxCrossEntropy} as the contract wants them: shapes that
 * agree, targets in range, `scale` and `weight` that stay finite and positive in float32.
 */
export function checkSoftmaxArgs(
  logits: Matrix,
  targets: Int32Array,
  scale: number,
  weight: number,
  keep: Uint8Array | undefined,
  out: SoftmaxCrossEntropy | undefined,
): void {
  const op = 'softmaxCrossEntropy';
  // Each argument read once and checked: a backend author's call may pass anything.
  const { data, rows, cols } = matrixArg(op, 'logits', logits, [1, 1]);
  if (data.length !== rows * cols)
    argError('SHAPE_MISMATCH', op, 'logits', 'must be a float32 matrix of at least one row and column.');
  if (viewArg(op, 'targets', targets, [Int32Array]).length !== rows)
    argError('SHAPE_MISMATCH', op, 'targets', `must be an Int32Array of ${rows} values.`);
  for (let i = 0; i < rows; i++)
    if (!(targets[i] >= 0 && targets[i] < cols))
      argError('INVALID_ARGUMENT', op, 'targets', `row ${i}'s target ${targets[i]} is outside [0, ${cols}).`);
  if (typeof scale !== 'number' || !(Math.fround(scale) > 0 && Math.fround(scale) < Number.POSITIVE_INFINITY))
    argError('INVALID_ARGUMENT', op, 'scale', `must be > 0 and finite in float32, got ${valueText(scale)}.`);
  if (typeof weight !== 'number' || !(weight > 0 && Math.fround(scale * weight) < Number.POSITIVE_INFINITY))
    argError(
      'INVALID_ARGUMENT',
      op,
      'weight',
      `must be > 0 with scale x weight finite in float32, got ${valueText(weight)}.`,
    );
  if (keep !== undefined && viewArg(op, 'keep', keep, [Uint8Array]).length !== rows * cols)
    argError('SHAPE_MISMATCH', op, 'keep', `must be a Uint8Array of ${rows} x ${cols} values.`);
  if (out !== undefined) {
    if (typeof out !== 'object' || out === null)
      argError(
        'INVALID_TYPE',
        op,
        'out',
        `must hold grad and losses float32 arrays, got ${describeType(out)}.`,
      );
    const { grad, losses } = reading(op, 'out', () => ({ grad: out.grad, losses: out.losses }));
    if (
      viewArg(op, 'out.grad', grad, [Float32Array]).length !== rows * cols ||
      viewArg(op, 'out.losses', losses, [Float32Array]).length !== rows
    )
      argError(
        'SHAPE_MISMATCH',
        op,
        'out',
        `must hold grad (${rows} x ${cols}) and losses (${rows}) float32 arrays.`,
      );
  }
}
