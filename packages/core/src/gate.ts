import { checkSameCols, checkSameShape } from './check.js';
import type { Matrix } from './contract.js';
import { argError } from './errors.js';
import { Tensor, type TensorInput, toTensor } from './tensor.js';

/**
 * The admission gate: every public entry point that takes rows passes them through {@link admit}
 * (or {@link admitPair}) before anything else, in the same synchronous step as the call.
 *
 * It does three things in one pass over the data, so that everything after it can trust what it
 * holds:
 * 1. **Snapshot.** The rows are copied into a buffer that only CosineKit holds (arrays of numbers
 *    are converted into one anyway). What a call uses is its inputs as they were when it was
 *    called: the caller may reuse, poison or transfer its arrays as soon as the call returns.
 * 2. **Finite check.** NaN and ±Infinity are refused with `NON_FINITE`, naming the position.
 * 3. **Magnitude guard.** Float32 engines square their inputs: above about 2^63 the squares
 *    overflow, below about 2^-63 they flush to zero, and a cosine silently becomes NaN or 0. Cosine
 *    is invariant to scaling a row, so rows whose largest |x| lies outside [2^-40, 2^40] are
 *    multiplied by a power of two (exact in binary floating point) into [0.5, 1).
 *
 * Kernels receive only admitted rows and do not check them again.
 */

const HI = 2 ** 40;
const LO = 2 ** -40;

/** Rows that passed the gate: a private, finite, float32-safe copy. */
export interface Admitted {
  /** The snapshot, owned by CosineKit. */
  readonly tensor: Tensor;
  /** `tensor row i = original row i * factor[i]`; null when no row was rescaled. */
  readonly factor: Float64Array | null;
}

/**
 * Admits one input of operation `op` as argument `arg`: converts it to a tensor, snapshots it,
 * checks it is finite and rescales rows of extreme magnitude. Throws a `CosineKitError` naming
 * `arg` and `op` on any failure.
 */
export function admit(
  input: TensorInput,
  op: string,
  arg: string,
  shape?: readonly [number, number] | readonly [number],
): Admitted {
  return snapshot(toTensor(input, op, arg, shape), input, op, arg);
}

function snapshot(t: Tensor, input: TensorInput, op: string, arg: string): Admitted {
  // A Tensor or Float32Array is the caller's memory: copy it. Arrays of numbers were just
  // converted into a fresh buffer nobody else holds.
  const owned = !(input instanceof Tensor || input instanceof Float32Array);
  const src = t.data;
  if (src.length !== t.rows * t.cols) {
    argError(
      'DISPOSED',
      op,
      arg,
      `holds ${src.length} values for shape [${t.rows}, ${t.cols}]: its buffer was transferred (detached) or shrunk.`,
    );
  }
  const data = owned ? src : src.slice();
  return guardRows(data, t.rows, t.cols, op, arg);
}

/**
 * Admits two inputs that must agree in width (`'cols'`, as for a cosine matrix) or in shape
 * (`'shape'`, as for paired rows). Shapes are compared before anything is copied.
 */
export function admitPair(
  a: TensorInput,
  b: TensorInput,
  op: string,
  agree: 'cols' | 'shape',
  names: readonly [string, string] = ['a', 'b'],
): [Admitted, Admitted] {
  const ta = toTensor(a, op, names[0]);
  const tb = toTensor(b, op, names[1]);
  if (agree === 'shape') checkSameShape(op, names[0], ta, names[1], tb);
  else checkSameCols(op, names[0], ta, names[1], tb);
  return [snapshot(ta, a, op, names[0]), snapshot(tb, b, op, names[1])];
}

/**
 * Checks and rescales `data` (which the caller owns) in place, as the gate does; for rows read from
 * somewhere CosineKit already owns, such as a decoded file.
 */
export function guardRows(data: Float32Array, rows: number, cols: number, op: string, arg: string): Admitted {
  let factor: Float64Array | null = null;
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    let m = 0;
    for (let j = o; j < o + cols; j++) {
      const v = data[j];
      const a = v < 0 ? -v : v;
      if (a > m) m = a;
      else if (!(a <= m)) nonFinite(op, arg, data, cols, j);
    }
    if (m === Number.POSITIVE_INFINITY) nonFinite(op, arg, data, cols, o + firstNonFinite(data, o, cols));
    if (m > HI || (m > 0 && m < LO)) {
      factor ??= new Float64Array(rows).fill(1);
      // 2^-e with m * 2^-e in [0.5, 1): exact, and never overflows for float32 input.
      let f = 2 ** -Math.ceil(Math.log2(m) + 1e-12);
      if (m * f >= 1) f /= 2;
      factor[i] = f;
      for (let j = o; j < o + cols; j++) data[j] *= f;
    }
  }
  return { tensor: new Tensor(data, rows, cols), factor };
}

/** Throws `NON_FINITE` when `x` holds NaN or ±Infinity, naming the first offending position. */
export function checkFinite(op: string, arg: string, x: Matrix): void {
  const d = x.data;
  // x * 0 is 0 for finite x and NaN for NaN/±Infinity: one branch-free sum over the data.
  let acc = 0;
  const n = d.length;
  let i = 0;
  for (; i + 4 <= n; i += 4) acc += d[i] * 0 + d[i + 1] * 0 + d[i + 2] * 0 + d[i + 3] * 0;
  for (; i < n; i++) acc += d[i] * 0;
  if (acc !== 0) nonFinite(op, arg, d, x.cols, firstNonFinite(d, 0, n));
}

function firstNonFinite(d: Float32Array, o: number, n: number): number {
  for (let j = 0; j < n; j++) if (!Number.isFinite(d[o + j])) return j;
  return 0;
}

function nonFinite(op: string, arg: string, d: Float32Array, cols: number, at: number): never {
  const r = Math.floor(at / cols);
  return argError('NON_FINITE', op, arg, `holds ${d[at]} at row ${r}, column ${at - r * cols}.`);
}
