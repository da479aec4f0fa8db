/**
 * Registers the gpu.js backend as `'gpujs'`: priority 7 in a browser where WebGL2 runs (ahead of
 * the CPU backends), 3 elsewhere, where gpu.js runs headless GL or falls back to webasm/cpu.
 */
import { registerBackend } from '@cosinekit/core/backend';
import { GPU } from 'gpu.js';
import { createGpujsBackend, GPUJS_BACKEND_NAME } from './backend.js';

/** Registry priority of the gpu.js backend in browsers with WebGL2. */
export const GPUJS_WEBGL2_PRIORITY = 7;
/** Registry priority of the gpu.js backend elsewhere. */
export const GPUJS_PRIORITY = 3;

const webgl2 = typeof document !== 'undefined' && GPU.isWebGL2Supported;

registerBackend(
  GPUJS_BACKEND_NAME,
  () => createGpujsBackend(),
  webgl2 ? GPUJS_WEBGL2_PRIORITY : GPUJS_PRIORITY,
);
