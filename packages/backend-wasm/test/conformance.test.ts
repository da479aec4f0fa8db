import { runConformance } from '@cosinekit/conformance';
import { createWasmBackend } from '../src/index.js';

// Both binaries: plain SIMD, and relaxed SIMD (fused multiply-add; on Node 20 the backend turns on
// V8's flag for it). Default tolerances: f32 products with v128 partial sums stay well inside them.
runConformance({ name: 'wasm (simd)', create: () => createWasmBackend({ variant: 'simd' }) });
runConformance({ name: 'wasm (relaxed simd)', create: () => createWasmBackend({ variant: 'relaxed' }) });
// Two threads: shared memory and a helper worker in Node; one thread, said so, where a browser page
// is not cross-origin isolated.
runConformance({
  name: 'wasm (simd, 2 threads)',
  create: () => createWasmBackend({ variant: 'simd', threads: 2 }),
});
