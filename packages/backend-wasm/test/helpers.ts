import { type Matrix, referenceKernels } from '@cosinekit/core/backend';
import { expect } from 'vitest';
import {
  createWasmBackend,
  type WasmBackend,
  type WasmBackendOptions,
  type WasmKernels,
} from '../src/index.js';

/** Deterministic values in [-1, 1). */
export function random(rows: number, cols: number, seed: number): Matrix {
  const data = new Float32Array(rows * cols);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < data.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    data[i] = (s >>> 0) / 2 ** 31 - 1;
  }
  return { data, rows, cols };
}

/** An initialised backend. */
export async function backend(options: WasmBackendOptions = {}): Promise<WasmBackend> {
  const b = createWasmBackend(options);
  await b.init();
  return b;
}

/** Both binaries (relaxed SIMD is turned on in Node 20 by asking for it by name). */
export const VARIANTS = ['simd', 'relaxed'] as const;

/** Largest |got - want|, checked against `tol`. */
export function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number): void {
  expect(got.length).toBe(want.length);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < got.length; i++) {
    const e = Math.abs(got[i] - want[i]);
    if (!(e <= worst)) {
      worst = e;
      at = i;
    }
  }
  expect(worst, `worst error at ${at}: got ${got[at]}, want ${want[at]}`).toBeLessThanOrEqual(tol);
}

/** Relative error of a float32 dot product of length d against float64, with room to spare. */
export const tolFor = (d: number): number => 4e-7 * Math.sqrt(d) + 1e-7;

/** The bit patterns of a float32 array, to compare results bit for bit. */
export const bits = (x: Float32Array): number[] => [...new Uint32Array(x.buffer, x.byteOffset, x.length)];

/** The float64 reference kernels, typed as the synchronous functions they are. */
export const ref = referenceKernels as unknown as Omit<WasmKernels, 'createCorpus'>;

/** Element (i, p) of op(X) for a matrix stored as given (`t`: X is used transposed). */
export const opAt = (x: Matrix, t: boolean, i: number, p: number): number =>
  t ? x.data[p * x.cols + i] : x.data[i * x.cols + p];
