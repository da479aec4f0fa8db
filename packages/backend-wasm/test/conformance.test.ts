import { runConformance } from '@cosinekit/conformance';
import { createWasmBackend } from '../src/index.js';

// Both binaries: plain SIMD, and relaxed SIMD (fused multiply-add; on Node 20 the backend turns on
// V8's flag for it). Default tolerances: f32 products with v128 partial sums stay well inside them.
// One thread, then the default (every core: shared memory and helper workers in Node; one thread,
// said so, where a browser page is not cross-origin isolated).
runConformance({
  name: 'wasm (simd, 1 thread)',
  create: () => createWasmBackend({ variant: 'simd', threads: 1 }),
});
runConformance({
  name: 'wasm (simd, threads = cores)',
  create: () => createWasmBackend({ variant: 'simd' }),
});
runConformance({
  name: 'wasm (relaxed simd, threads = cores)',
  create: () => createWasmBackend({ variant: 'relaxed' }),
});
