/**
 * @cosinekit/backend-tfjs: CosineKit's kernels on TensorFlow.js (tfjs-wasm, tfjs-cpu, tfjs-webgl,
 * tfjs-webgpu).
 *
 * Side-effect free: importing it registers nothing. `@cosinekit/backend-tfjs/register` registers
 * `tfjs-wasm`, `tfjs-cpu`, in browsers with WebGL2 `tfjs-webgl`, and in browsers with WebGPU
 * `tfjs-webgpu`.
 */

export type { TfjsBackend, TfjsBackendOptions } from './backend.js';
export { createTfjsBackend } from './backend.js';
export type { TfjsCorpus } from './corpus.js';
export type { Tfjs, TfjsEngine, TfjsEngineOptions } from './engine.js';
export { initTfjsEngine } from './engine.js';
