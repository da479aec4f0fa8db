// The consumer test in Node: the packed packages, installed from their tarballs, through their
// public entry points only. Prints PASS/FAIL per check; exits 1 on any failure.
import '@cosinekit/backend-wasm/register';
import '@cosinekit/backend-tfjs/register';
import '@cosinekit/backend-gpujs/register';
import '@cosinekit/backend-webgpu/register';
import { readFile } from 'node:fs/promises';
import { createGpujsBackend } from '@cosinekit/backend-gpujs';
import { createTfjsBackend } from '@cosinekit/backend-tfjs';
import { createWasmBackend } from '@cosinekit/backend-wasm';
import { createWebGpuBackend } from '@cosinekit/backend-webgpu';
import { cosine, cosinekit, listBackends } from '@cosinekit/core';
import { createWorkerKit } from '@cosinekit/worker';
import { runChecks } from './checks.js';

// The documented alternative to the default URLs: the caller hands over the binary itself.
const simdBytes = await readFile(
  new URL(import.meta.resolve('@cosinekit/backend-wasm/dist/cosinekit-simd.wasm')),
);

const engineIs =
  (key, ...wanted) =>
  (d) =>
    wanted.includes(d[key]) ? undefined : `expected ${key} ${wanted.join(' or ')}, got ${d[key]}`;

const backends = [
  { label: 'wasm', create: () => createWasmBackend() },
  {
    label: 'wasm, binary passed in',
    create: () => createWasmBackend({ variant: 'simd', wasm: { simd: simdBytes } }),
    expect: engineIs('variant', 'simd'),
  },
  {
    label: 'tfjs-wasm',
    create: () => createTfjsBackend({ engine: 'wasm' }),
    expect: engineIs('engine', 'wasm'),
  },
  {
    label: 'tfjs-cpu',
    create: () => createTfjsBackend({ engine: 'cpu' }),
    expect: engineIs('engine', 'cpu'),
  },
  {
    label: 'gpujs-webasm',
    create: () => createGpujsBackend({ mode: 'webasm' }),
    expect: engineIs('mode', 'webasm'),
  },
  { label: 'gpujs-cpu', create: () => createGpujsBackend({ mode: 'cpu' }), expect: engineIs('mode', 'cpu') },
  // Dawn from the optional 'webgpu' package (Mesa llvmpipe here, headless).
  {
    label: 'webgpu (Dawn)',
    create: () => createWebGpuBackend(),
    expect: engineIs('source', "Dawn (npm 'webgpu')"),
  },
];

let failed = 0;
const log = ({ ok, label, detail }) => {
  if (!ok) failed++;
  console.log(`${ok ? 'PASS' : 'FAIL'} node: ${label}: ${detail}`);
};

const one = cosine([1, 2, 3], [2, 4, 5]);
log({ ok: Math.abs(one - 25 / Math.sqrt(14 * 45)) < 1e-12, label: 'cosine()', detail: String(one) });

// The /register entries: the default kit picks the best backend that starts (wasm, priority 10).
const info = await cosinekit.ready();
const names = listBackends().map((b) => b.name);
log({
  ok:
    info.backend === 'wasm' &&
    ['wasm', 'tfjs-wasm', 'tfjs-cpu', 'gpujs', 'webgpu'].every((n) => names.includes(n)),
  label: 'register entries + default kit',
  detail: `default kit on ${info.backend}; registered: ${names.join(', ')}`,
});

await runChecks(backends, log);

// @cosinekit/worker: the same search from a worker thread whose default script registers wasm
// (resolved from the installed package, as a user's app resolves it).
{
  const rows = [
    [1, 0, 0],
    [0, 1, 0],
    [0.6, 0.8, 0],
    [0.1, 0.2, 0.97],
  ];
  const q = [[0.5, 0.9, 0.1]];
  const wk = await createWorkerKit({ backends: ['wasm'] });
  try {
    const backend = (await wk.ready()).backend;
    const here = (await (await cosinekit.corpus(rows)).search(q, 3)).toArray()[0];
    const far = (await (await wk.corpus(rows)).search(q, 3)).toArray()[0];
    const same =
      far.indices.join() === here.indices.join() &&
      far.scores.every((s, i) => Math.abs(s - here.scores[i]) < 1e-6);
    log({
      ok: backend === 'wasm' && same,
      label: 'worker kit (worker thread)',
      detail: `on ${backend}; hits ${far.indices.join(', ')} as in this thread: ${same}`,
    });
  } finally {
    wk.dispose();
  }
}
console.log(failed ? `node: ${failed} check(s) FAILED` : 'node: every check passed');
process.exit(failed ? 1 : 0);
