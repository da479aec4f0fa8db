/**
 * @cosinekit/backend-webgpu: CosineKit's kernels as WebGPU compute shaders (WGSL), in browsers
 * through `navigator.gpu` and in Node through Dawn (the optional `webgpu` package). Side-effect
 * free; import `@cosinekit/backend-webgpu/register` to register it with the default kit.
 */

export type { WebGpuBackend, WebGpuBackendOptions, WebGpuStats } from './backend.js';
export { createWebGpuBackend, WEBGPU_BACKEND_NAME } from './backend.js';
export type { WebGpuEntry, WebGpuLimits } from './gpu.js';
