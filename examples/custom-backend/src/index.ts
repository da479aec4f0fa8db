/**
 * A complete third-party CosineKit backend, written against `@cosinekit/core/backend` (the contract
 * and its helpers, the entry for backend authors) alone.
 *
 * It implements two kernels, `rowNorms` and `cosineRows`, with compensated (Kahan) summation in
 * float64: a backend for callers who want the last digit right on very long vectors. Everything
 * else falls back to the reference backend, kernel by kernel; `kit.ranBy(kernel)` says which ran.
 */
import { type Backend, type Matrix, registerBackend } from '@cosinekit/core/backend';

/** Sum of `f(i)` for i in [0, n) with Kahan compensation. */
function kahan(n: number, f: (i: number) => number): number {
  let sum = 0;
  let c = 0;
  for (let i = 0; i < n; i++) {
    const y = f(i) - c;
    const t = sum + y;
    c = t - sum - y;
    sum = t;
  }
  return sum;
}

/** Creates the backend. Nothing to initialise: it is plain TypeScript. */
export function createKahanBackend(): Backend {
  let calls = 0;
  return {
    name: 'kahan',
    kernels: {
      rowNorms(x: Matrix, out = new Float32Array(x.rows)) {
        calls++;
        const { data, cols } = x;
        for (let r = 0; r < x.rows; r++) out[r] = Math.sqrt(kahan(cols, (j) => data[r * cols + j] ** 2));
        return out;
      },
      cosineRows(a: Matrix, b: Matrix, out = new Float32Array(a.rows)) {
        calls++;
        const d = a.cols;
        for (let r = 0; r < a.rows; r++) {
          const o = r * d;
          const dot = kahan(d, (j) => a.data[o + j] * b.data[o + j]);
          const na = kahan(d, (j) => a.data[o + j] ** 2);
          const nb = kahan(d, (j) => b.data[o + j] ** 2);
          // The contract: a zero vector gives 0, and results stay in [-1, 1].
          const c = na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
          out[r] = Math.max(-1, Math.min(1, c));
        }
        return out;
      },
    },
    describe: () => ({ engine: 'TypeScript', summation: 'Kahan (float64)', calls }),
  };
}

/** Registers the backend under `'kahan'` (priority 1: above the reference, below accelerated backends). */
export function registerKahanBackend(priority = 1): void {
  registerBackend('kahan', createKahanBackend, priority);
}
