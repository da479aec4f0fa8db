import {
  type Candidate,
  checkBackends,
  type GpujsModule,
  load,
  missing,
  type TfjsModule,
  type WasmModule,
  type WebGpuModule,
} from './backend-checks.js';

/** The float32-vs-float64 checks of the model on every Node backend but gpujs headlessgl. */
const candidates: Candidate[] = [];
const skipped: [string, string][] = [];

const wasm = await load<WasmModule>('@cosinekit/backend-wasm');
for (const variant of ['simd', 'relaxed']) {
  if (wasm)
    candidates.push({ name: `wasm ${variant}`, create: async () => wasm.createWasmBackend({ variant }) });
  else skipped.push([`wasm ${variant}`, missing('@cosinekit/backend-wasm')]);
}
const tfjs = await load<TfjsModule>('@cosinekit/backend-tfjs');
for (const engine of ['cpu', 'wasm']) {
  if (tfjs)
    candidates.push({ name: `tfjs-${engine}`, create: async () => tfjs.createTfjsBackend({ engine }) });
  else skipped.push([`tfjs-${engine}`, missing('@cosinekit/backend-tfjs')]);
}
const gpujs = await load<GpujsModule>('@cosinekit/backend-gpujs');
// headlessgl has a file of its own: its GL stack and Dawn's do not share a process.
for (const mode of ['cpu']) {
  if (gpujs)
    candidates.push({ name: `gpujs ${mode}`, create: async () => gpujs.createGpujsBackend({ mode }) });
  else skipped.push([`gpujs ${mode}`, missing('@cosinekit/backend-gpujs')]);
}
const webgpu = await load<WebGpuModule>('@cosinekit/backend-webgpu');
if (webgpu) candidates.push({ name: 'webgpu', create: async () => webgpu.createWebGpuBackend() });
else skipped.push(['webgpu', missing('@cosinekit/backend-webgpu')]);

await checkBackends(candidates, skipped, true);
