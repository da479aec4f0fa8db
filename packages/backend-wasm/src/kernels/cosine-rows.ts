import type { Matrix } from '@cosinekit/core/backend';
import { SCRATCH_BYTES, type WasmRuntime } from '../runtime.js';
import { padded } from '../staging.js';

/**
 * `cosineRows`: `out[i] = cos(a_i, b_i)`, one SIMD pass per row pair for the dot and both norms.
 * Both inputs and the output share one block of wasm memory, `b` starting 16-byte aligned: the
 * runtime's scratch block when they fit (a one-row call is mostly fixed cost), else one allocation.
 */
export function cosineRows(rt: WasmRuntime, a: Matrix, b: Matrix, out?: Float32Array): Float32Array {
  const n = a.rows * a.cols;
  const bAt = padded(n);
  const oAt = bAt + padded(n);
  const bytes = (oAt + a.rows) * 4;
  const small = bytes <= SCRATCH_BYTES;
  const p = small ? rt.scratch : rt.alloc(bytes, 'cosineRows');
  try {
    const f = rt.f32;
    const at = p >>> 2;
    f.set(a.data, at);
    f.set(b.data, at + bAt);
    rt.exports.cosineRows(p, p + bAt * 4, a.rows, a.cols, p + oAt * 4);
    // One value per row: read them one by one rather than through a subarray.
    const o = out ?? new Float32Array(a.rows);
    for (let i = 0; i < a.rows; i++) o[i] = f[at + oAt + i];
    return o;
  } finally {
    if (!small) rt.free(p);
  }
}
