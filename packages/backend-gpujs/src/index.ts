/**
 * @cosinekit/backend-gpujs: CosineKit's kernels on gpu.js, in WebGL2 in browsers and headless GL,
 * webasm or cpu mode in Node. Side-effect free; import `@cosinekit/backend-gpujs/register` to
 * register it with the default kit.
 */

export type { GpujsBackendOptions } from './backend.js';
export { createGpujsBackend, GPUJS_BACKEND_NAME } from './backend.js';
export type { GpujsMode, RunMode } from './engine.js';
