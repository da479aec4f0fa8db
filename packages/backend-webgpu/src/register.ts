/**
 * Registers the webgpu backend as `'webgpu'`: priority 8 in a browser that exposes
 * `navigator.gpu` (ahead of gpu.js's WebGL2), 2 elsewhere, where it opens Dawn if the optional
 * `webgpu` package is installed. When no device can be had, `init()` fails with the reason and the
 * registry falls back to the next backend.
 */
import { registerBackend } from '@cosinekit/core/backend';
import { createWebGpuBackend, WEBGPU_BACKEND_NAME } from './backend.js';

/** Registry priority in browsers with `navigator.gpu`. */
export const WEBGPU_BROWSER_PRIORITY = 8;
/** Registry priority elsewhere (Node with Dawn: llvmpipe unless a GPU is present). */
export const WEBGPU_PRIORITY = 2;

const browserGpu =
  typeof document !== 'undefined' &&
  (globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu !== undefined;

registerBackend(
  WEBGPU_BACKEND_NAME,
  () => createWebGpuBackend(),
  browserGpu ? WEBGPU_BROWSER_PRIORITY : WEBGPU_PRIORITY,
);
