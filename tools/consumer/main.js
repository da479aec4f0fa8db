// The consumer test's browser page: the same checks as node.mjs, bundled by Vite from the
// installed tarballs. The result goes to window.consumerResult for browser.mjs.
import { createGpujsBackend } from '@cosinekit/backend-gpujs';
import { createTfjsBackend } from '@cosinekit/backend-tfjs';
import { createWasmBackend } from '@cosinekit/backend-wasm';
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

const backends = [
  { label: 'wasm', create: () => createWasmBackend() },
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
];

const lines = [];
const pre = document.getElementById('log');
pre.textContent = '';
const log = (entry) => {
  lines.push(entry);
  pre.textContent += `${entry.ok ? 'PASS' : 'FAIL'} ${entry.label}: ${entry.detail}\n`;
};
runChecks(backends, log).then(
  (ok) => {
    window.consumerResult = { ok, lines };
  },
  (err) => {
    log({ ok: false, label: 'page', detail: String(err?.stack ?? err) });
    window.consumerResult = { ok: false, lines };
  },
);
