import type { Matrix } from './contract.js';
import { argError } from './errors.js';
import { Tensor } from './tensor.js';

/**
 * Magnitude guard. Float32 engines square their inputs: above about 2^63 the squares overflow,
 * below about 2^-63 they flush to zero, and a cosine silently becomes NaN or 0. Cosine is
 * invariant to scaling a row, so rows whose largest |x| lies outside [2^-40, 2^40] are multiplied
 * by a power of two (exact in binary floating point) into [0.5, 1) before any backend sees them.
 * Ordinary data passes through untouched, with no copy.
 */
const HI = 2 ** 40;
const LO = 2 ** -40;

/** A tensor ready for a float32 engine, and the per-row factor it was multiplied by (if any). */
export interface Prepared {
  readonly tensor: Tensor;
  /** `scaled row = original row * factor[i]`; null when nothing was scaled. */
  readonly factor: Float64Array | null;
}

/**
 * Checks `x` for NaN/±Infinity (throwing `NON_FINITE` naming `arg` and `op`) and rescales rows of
 * extreme magnitude, in one pass.
 */
export function prepareRows(op: string, arg: string, x: Tensor): Prepared {
  const { data, rows, cols } = x;
  let factor: Float64Array | null = null;
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    let m = 0;
    for (let j = 0; j < cols; j++) {
      const v = data[o + j];
      const a = v < 0 ? -v : v;
      if (a > m) m = a;
      else if (!(a <= m)) nonFinite(op, arg, x, o + j);
    }
    if (m === Number.POSITIVE_INFINITY) nonFinite(op, arg, x, o + findInf(data, o, cols));
    if (m > HI || (m > 0 && m < LO)) {
      factor ??= new Float64Array(rows).fill(1);
      // 2^-e with m * 2^-e in [0.5, 1): exact, and never overflows for float32 input.
      factor[i] = 2 ** -Math.ceil(Math.log2(m) + 1e-12);
      if (m * factor[i] >= 1) factor[i] /= 2;
    }
  }
  if (factor === null) return { tensor: x, factor: null };
  const out = new Float32Array(data.length);
  for (let i = 0; i < rows; i++) {
    const f = factor[i];
    const o = i * cols;
    for (let j = 0; j < cols; j++) out[o + j] = data[o + j] * f;
  }
  return { tensor: new Tensor(out, rows, cols), factor };
}

function findInf(d: Float32Array, o: number, n: number): number {
  for (let j = 0; j < n; j++) if (!Number.isFinite(d[o + j])) return j;
  return 0;
}

function nonFinite(op: string, arg: string, x: Matrix, at: number): never {
  const r = Math.floor(at / x.cols);
  return argError('NON_FINITE', op, arg, `holds ${x.data[at]} at row ${r}, column ${at - r * x.cols}.`);
}
