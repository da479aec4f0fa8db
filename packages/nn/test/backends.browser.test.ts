import { inject } from 'vitest';
import { type Candidate, checkBackends } from './backend-checks.js';

/**
 * The float32-vs-float64 checks of the model (backend-checks.ts: MLP, CNN with conv, pooling and
 * flatten, NormFace/CosFace/ArcFace heads) in headless Chromium, on the backends that only run in a
 * browser (tfjs-webgl and tfjs-webgpu, gpujs webgl2 and webgl, WebGPU, all on SwiftShader) and on
 * the wasm backends loaded the way a page loads them. The reference runs the same checks, and at
 * least one browser backend must run; one that cannot start here is skipped with its reason printed.
 *
 * Tolerances, per backend, applied to the loss (absolute) and to each gradient (relative to its
 * largest magnitude, plus 1e-6): ten times the worst error measured here (Chromium 156 on
 * SwiftShader), rounded up to 1, 2 or 5 x 10^k. Worst measured (gradient relative / loss absolute):
 *
 * | backend      | gradient | loss    | tolerance |
 * | ------------ | -------- | ------- | --------- |
 * | wasm simd    | 9.2e-7   | 7.2e-7  | 1e-5      |
 * | wasm relaxed | 1.45e-6  | 5.8e-7  | 2e-5      |
 * | tfjs-wasm    | 1.04e-6  | 6.4e-7  | 2e-5      |
 * | tfjs-webgl   | 1.61e-6  | 1.34e-6 | 2e-5      |
 * | tfjs-webgpu  | 1.61e-6  | 1.41e-6 | 2e-5      |
 * | gpujs webgl2 | 1.20e-6  | 5.2e-7  | 2e-5      |
 * | gpujs webgl  | 1.20e-6  | 5.2e-7  | 2e-5      |
 * | webgpu       | 1.61e-6  | 1.34e-6 | 2e-5      |
 *
 * The GPU paths (float32 textures and f32 storage on SwiftShader) come as close to float64 as the
 * wasm ones, so they get no looser tolerance: the worst case is the MLP's input gradient on most
 * backends, a CNN weight gradient on wasm simd and gpujs. relaxed SIMD may fuse multiply-adds, so
 * its errors vary with the CPU.
 */
const TOLERANCE: Record<string, number> = {
  'wasm simd': 1e-5,
  'wasm relaxed': 2e-5,
  'tfjs-wasm': 2e-5,
  'tfjs-webgl': 2e-5,
  'tfjs-webgpu': 2e-5,
  'gpujs webgl2': 2e-5,
  'gpujs webgl': 2e-5,
  webgpu: 2e-5,
};

const candidates: Candidate[] = [];
const skipped: [string, string][] = [];

function add(name: string, create: Candidate['create']): void {
  candidates.push({ name, create, tolerance: TOLERANCE[name] });
}

/** A package's module, or undefined with its import error as the skip reason of its backends. */
async function load<T>(pkg: string, imported: Promise<T>, names: string[]): Promise<T | undefined> {
  try {
    return await imported;
  } catch (e) {
    for (const name of names) skipped.push([name, `${pkg} did not load here: ${(e as Error).message}`]);
    return undefined;
  }
}

// Literal specifiers, so Vite resolves them for the page.
const wasm = await load('@cosinekit/backend-wasm', import('@cosinekit/backend-wasm'), [
  'wasm simd',
  'wasm relaxed',
]);
if (wasm)
  for (const variant of ['simd', 'relaxed'] as const)
    add(`wasm ${variant}`, async () => wasm.createWasmBackend({ variant }));

const tfjs = await load('@cosinekit/backend-tfjs', import('@cosinekit/backend-tfjs'), [
  'tfjs-wasm',
  'tfjs-webgl',
  'tfjs-webgpu',
]);
if (tfjs) {
  // tfjs-wasm's binaries: the config hands over their directory as a URL the test server serves.
  const wasmPaths = (inject as unknown as (k: string) => string | undefined)('tfjsWasmDir');
  if (wasmPaths) add('tfjs-wasm', async () => tfjs.createTfjsBackend({ engine: 'wasm', wasmPaths }));
  else skipped.push(['tfjs-wasm', 'the config found no @tensorflow/tfjs-backend-wasm binaries']);
  for (const engine of ['webgl', 'webgpu'] as const)
    add(`tfjs-${engine}`, async () => tfjs.createTfjsBackend({ engine }));
}

const gpujs = await load('@cosinekit/backend-gpujs', import('@cosinekit/backend-gpujs'), [
  'gpujs webgl2',
  'gpujs webgl',
]);
if (gpujs)
  for (const mode of ['webgl2', 'webgl'] as const)
    add(`gpujs ${mode}`, async () => gpujs.createGpujsBackend({ mode }));

const webgpu = await load('@cosinekit/backend-webgpu', import('@cosinekit/backend-webgpu'), ['webgpu']);
if (webgpu) add('webgpu', async () => webgpu.createWebGpuBackend());

await checkBackends(candidates, skipped, true);
