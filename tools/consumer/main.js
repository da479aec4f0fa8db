// The consumer test's browser pages: the same checks as node.mjs, bundled by Vite from the
// installed tarballs. index.html runs every backend; isolated.html is served cross-origin isolated
// (vite.config.js) and runs the wasm backend's helper threads, whose worker script the bundle must
// carry. The result goes to window.consumerResult for browser.mjs.
// The /register entries must survive tree-shaking: their packages declare them in sideEffects.
import '@cosinekit/backend-wasm/register';
import '@cosinekit/backend-tfjs/register';
import '@cosinekit/backend-gpujs/register';
import '@cosinekit/backend-webgpu/register';
import { createGpujsBackend } from '@cosinekit/backend-gpujs';
import { createTfjsBackend } from '@cosinekit/backend-tfjs';
import { createWasmBackend } from '@cosinekit/backend-wasm';
// The documented alternative to backend-wasm's default URLs: the application says where the binary is.
import simdUrl from '@cosinekit/backend-wasm/dist/cosinekit-simd.wasm?url';
import { createWebGpuBackend } from '@cosinekit/backend-webgpu';
import { cosinekit, listBackends } from '@cosinekit/core';
// tfjs-wasm fetches its binaries from the site root unless told where Vite put them.
import tfjsWasm from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import tfjsWasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import tfjsWasmThreadedSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { runChecks } from './checks.js';

const wasmPaths = {
  'tfjs-backend-wasm.wasm': tfjsWasm,
  'tfjs-backend-wasm-simd.wasm': tfjsWasmSimd,
  'tfjs-backend-wasm-threaded-simd.wasm': tfjsWasmThreadedSimd,
};
const engineIs = (key, wanted) => (d) =>
  d[key] === wanted ? undefined : `expected ${key} ${wanted}, got ${d[key]}`;

const isolatedPage = location.pathname.includes('isolated');

// Not tfjs-wasm on the isolated page: there tfjs 4.22 picks its threaded build, whose worker does
// not start from a Vite bundle (the page stalls with 'e is not defined' in the worker).
const isolatedBackends = [
  {
    label: 'wasm, 2 threads',
    create: () => createWasmBackend({ threads: 2 }),
    expect: (d) =>
      !crossOriginIsolated
        ? 'the page is not cross-origin isolated'
        : d.threads === 2
          ? undefined
          : `expected 2 threads, got ${d.threads} (${d.threadsNote})`,
  },
];

const allBackends = [
  { label: 'wasm', create: () => createWasmBackend() },
  {
    label: 'wasm, binary URL passed in',
    create: () => createWasmBackend({ variant: 'simd', wasm: { simd: simdUrl } }),
    expect: engineIs('variant', 'simd'),
  },
  {
    label: 'tfjs-wasm',
    create: () => createTfjsBackend({ engine: 'wasm', wasmPaths }),
    expect: engineIs('engine', 'wasm'),
  },
  {
    label: 'tfjs-webgl',
    create: () => createTfjsBackend({ engine: 'webgl' }),
    expect: engineIs('engine', 'webgl'),
  },
  {
    label: 'tfjs-cpu',
    create: () => createTfjsBackend({ engine: 'cpu' }),
    expect: engineIs('engine', 'cpu'),
  },
  // gpu.js reports mode 'gpu' in browsers; the kernel class says WebGL2 really runs.
  { label: 'gpujs-webgl2', create: () => createGpujsBackend(), expect: engineIs('kernel', 'WebGL2Kernel') },
  // WebGPU on SwiftShader (--enable-unsafe-webgpu): ours, and tfjs's own engine.
  { label: 'webgpu', create: () => createWebGpuBackend(), expect: engineIs('source', 'navigator.gpu') },
  {
    label: 'tfjs-webgpu',
    create: () => createTfjsBackend({ engine: 'webgpu' }),
    expect: engineIs('engine', 'webgpu'),
  },
];

const lines = [];
const pre = document.getElementById('log');
pre.textContent = '';
const log = (entry) => {
  lines.push(entry);
  pre.textContent += `${entry.ok ? 'PASS' : 'FAIL'} ${entry.label}: ${entry.detail}\n`;
};
async function registered() {
  const names = listBackends().map((b) => b.name);
  const { backend } = await cosinekit.ready();
  const wanted = ['wasm', 'tfjs-wasm', 'tfjs-cpu', 'tfjs-webgl', 'gpujs', 'webgpu', 'tfjs-webgpu'];
  log({
    ok: backend === 'wasm' && wanted.every((n) => names.includes(n)),
    label: 'register entries + default kit',
    detail: `default kit on ${backend}; registered: ${names.join(', ')}`,
  });
}

// Every check logs a line; the page passes when every line does.
const run = () =>
  isolatedPage ? runChecks(isolatedBackends, log) : registered().then(() => runChecks(allBackends, log));
run().then(
  (ok) => {
    window.consumerResult = { ok: Boolean(ok) && lines.every((l) => l.ok), lines };
  },
  (err) => {
    log({ ok: false, label: 'page', detail: String(err?.stack ?? err) });
    window.consumerResult = { ok: false, lines };
  },
);
