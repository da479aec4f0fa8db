import { runProperties } from '@cosinekit/conformance';
import { createWasmBackend } from '../src/index.js';

// Default tolerances (cosine 2e-5 absolute, algebra 1e-5 relative). Both binaries accumulate float32
// products in v128 lanes (relaxed: fused multiply-add, which only removes a rounding), so the error
// of a cosine grows like sqrt(d) * 6e-8: about 4e-6 at d = 4096, five times inside the tolerance.
// Extreme magnitudes reach the kernels rescaled by the kit's guard (core's prepareRows).
runProperties({ name: 'wasm (simd)', create: () => createWasmBackend({ variant: 'simd' }) });
runProperties({ name: 'wasm (relaxed simd)', create: () => createWasmBackend({ variant: 'relaxed' }) });
