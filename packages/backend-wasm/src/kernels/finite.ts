import { backendError } from '@cosinekit/core/backend';
import { firstNonFinite } from '../engine.js';
import type { WasmRuntime } from '../runtime.js';

/**
 * The `length` floats at `ptr`, written by `kernel` which checked them finite as it wrote them
 * (`finite` is its answer, 1 or 0: assembly/nn.ts), copied into `out` (or a new array). What lets
 * the dense kernels be declared self-checked (`Backend.selfChecked`), so the kit does not read
 * them all again in JavaScript. A non-finite value (from a non-finite input, or a sum past
 * float32), or a non-finite input an activation's answer hides (relu(NaN) is 0), throws
 * `BACKEND_ERROR` naming the kernel, as the kit's own check would have, and nothing is copied:
 * `kernel` never answers a non-finite value nor one made of a non-finite input.
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
    const at = firstNonFinite(rt, ptr, length);
    // The activations check their input too: relu(NaN) is 0, tanh(Infinity) is 1.
    throw backendError(
      kernel,
      'x',
      'wasm',
      kernel,
      at < length ? `returned ${rt.f32[(ptr >>> 2) + at]} among its values.` : 'was given NaN or ±Infinity.',
    );
  }
  return rt.download(ptr, length, out);
}
