/**
 * Registers the tfjs backends with CosineKit's registry: `tfjs-wasm` (priority 5), `tfjs-cpu`
 * (priority -1: only by name, the reference is faster), in a browser with WebGL2 `tfjs-webgl`
 * (priority 6), and in a browser with WebGPU `tfjs-webgpu` (priority 4). Nothing is loaded until
 * the registry first asks for one; an engine that fails to start is reported and skipped.
 */
import { registerBackend } from '@cosinekit/core/backend';
import { createTfjsBackend } from './backend.js';

registerBackend('tfjs-wasm', () => createTfjsBackend({ engine: 'wasm' }), 5);
// Below the reference (0): tfjs-cpu is slower than core's TypeScript kernels, so it runs only by name.
registerBackend('tfjs-cpu', () => createTfjsBackend({ engine: 'cpu' }), -1);

const isBrowser = typeof window !== 'undefined' && typeof document !== 'undefined';
if (isBrowser && typeof WebGL2RenderingContext !== 'undefined') {
  registerBackend('tfjs-webgl', () => createTfjsBackend({ engine: 'webgl' }), 6);
}
// tfjs's WebGPU engine, below tfjs-wasm: a peer for comparing GPU paths, chosen by name.
if (isBrowser && (globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu !== undefined) {
  registerBackend('tfjs-webgpu', () => createTfjsBackend({ engine: 'webgpu' }), 4);
}
