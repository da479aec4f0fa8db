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
    // One value per row: a few are read one by one rather than through a subarray (a view costs
    // more than a handful of reads); many are copied as a block (read one by one, 4M rows of d = 1
    // spent 30% of the call there, and the call cost 1.8x a plain JS loop; a probe).
    const o = out ?? new Float32Array(a.rows);
    if (a.rows <= 64) for (let i = 0; i < a.rows; i++) o[i] = f[at + oAt + i];
    else o.set(f.subarray(at + oAt, at + oAt + a.rows));
    return o;
  } finally {
    if (!small) rt.free(p);
  }
}
