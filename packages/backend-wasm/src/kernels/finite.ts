import { backendError } from '@cosinekit/core/backend';
import { firstNonFinite } from '../engine.js';
import type { WasmRuntime } from '../runtime.js';

/**
 * The `length` floats at `ptr`, written by `kernel` which checked them finite as it wrote them
 * (`finite` is its answer, 1 or 0: assembly/nn.ts), copied into `out` (or a new array). What lets
 * the dense kernels be declared self-checked (`Backend.selfChecked`), so the kit does not read
 * them all again in JavaScript. A non-finite value (from a non-finite input, or a sum past
 * float32) throws `BACKEND_ERROR` naming the kernel, as the kit's own check would have, and
 * nothing is copied: `kernel` never answers a non-finite value.
 */
export function downloadFinite(
  rt: WasmRuntime,
  kernel: string,
  finite: number,
  ptr: number,
  length: number,
  out?: Float32Array,
): Float32Array {
  if (finite !== 1) {
    const v = rt.f32[(ptr >>> 2) + firstNonFinite(rt, ptr, length)];
    throw backendError(kernel, 'x', 'wasm', kernel, `returned ${v} among its values.`);
  }
  return rt.download(ptr, length, out);
}
