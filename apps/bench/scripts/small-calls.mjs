// Small calls: what a one-row `kit.cosineRows(a, b)` costs next to core's synchronous `cosine(a, b)`
// on the same two Float32Arrays, in CPU time (process.cpuUsage, so a busy machine inflates both
// alike), interleaved in one process, median of many rounds. The ratio is the kit's fixed cost per
// call in units of one plain cosine.
// Every kit answer is checked against a float64 cosine first. The kit's time is split into the
// backend's own cosineRows kernel on the same rows (on wasm that includes copying both into wasm
// memory) and the rest (argument checks, the output check, the promise and its await). Both
// default backends declare cosineRows ungated, so no gate (snapshot copy and scan) runs; the
// 'path' column says so.
// Usage (after a build): node apps/bench/scripts/small-calls.mjs [backend=reference] [dims=256,1024,3072] [rounds=41]

import { cosine, createCosineKit, Tensor } from '@cosinekit/core';
import { createReferenceBackend, resolveKernels } from '@cosinekit/core/backend';
import { random } from './random.mjs';

const backendName = process.argv[2] ?? 'reference';
const dims = (process.argv[3] ?? '256,1024,3072').split(',').map(Number);
const ROUNDS = Number(process.argv[4] ?? 41);

function exact(a, b) {
  let d = 0;
  let x = 0;
  let y = 0;
  for (let i = 0; i < a.length; i++) {
    d += a[i] * b[i];
    x += a[i] * a[i];
    y += b[i] * b[i];
  }
  return d / Math.sqrt(x * y);
}

async function backendOf(name) {
  if (name === 'reference') return createReferenceBackend();
  if (name === 'wasm') {
    const { createWasmBackend } = await import('@cosinekit/backend-wasm');
    return createWasmBackend();
  }
  throw new Error(`unknown backend '${name}' (reference or wasm)`);
}

const cpu = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

const median = (xs) => {
  const s = [...xs].sort((p, q) => p - q);
  return s[s.length >> 1];
};

const backend = await backendOf(backendName);
const kit = createCosineKit({ backend });
await kit.ready();
const path = resolveKernels(backend).ungated.includes('cosineRows') ? 'ungated' : 'gated';

console.log(
  `small calls on '${backendName}' (${path}), CPU time per call, median of ${ROUNDS} interleaved rounds (node ${process.version})`,
);
console.log('d      cosine()   kit.cosineRows(1 row)   ratio    of which: kernel   rest');
let sink = 0;
for (const d of dims) {
  const a = random(d, 1 + d);
  const b = random(d, 7 + d);
  const want = exact(a, b);
  const got = (await kit.cosineRows(a, b))[0];
  if (!(Math.abs(got - want) <= 1e-6))
    throw new Error(`kit.cosineRows at d=${d}: ${got}, float64 says ${want}`);
  if (!(Math.abs(cosine(a, b) - want) <= 1e-6)) throw new Error(`cosine at d=${d} is off`);
  // Enough calls per sample to be well above the CPU clock's resolution (about 1 us to 1 ms).
  const reps = Math.max(200, Math.round(4e6 / d));
  const ta = new Tensor(a, 1, d);
  const tb = new Tensor(b, 1, d);
  const kernel = backend.kernels.cosineRows.bind(backend.kernels);
  // Warm every path up so that all run optimised code.
  for (let i = 0; i < reps; i++) sink += cosine(a, b);
  for (let i = 0; i < reps; i++) sink += (await kit.cosineRows(a, b))[0];
  for (let i = 0; i < reps; i++) sink += kernel(ta, tb)[0];
  const plain = [];
  const kitT = [];
  const ratios = [];
  const kernelT = [];
  for (let r = 0; r < ROUNDS; r++) {
    let t = cpu();
    for (let i = 0; i < reps; i++) sink += cosine(a, b);
    const p = (cpu() - t) / reps;
    t = cpu();
    for (let i = 0; i < reps; i++) sink += (await kit.cosineRows(a, b))[0];
    const k = (cpu() - t) / reps;
    t = cpu();
    for (let i = 0; i < reps; i++) sink += kernel(ta, tb)[0];
    kernelT.push((cpu() - t) / reps);
    plain.push(p);
    kitT.push(k);
    ratios.push(k / p);
  }
  const us = (x) => `${x.toFixed(2).padStart(6)} us`;
  console.log(
    `${String(d).padEnd(6)} ${us(median(plain))}  ${us(median(kitT)).padStart(12)}${' '.repeat(13)}${median(ratios).toFixed(2)}x          ${us(median(kernelT))} ${us(median(kitT) - median(kernelT))}`,
  );
}
kit.dispose();
await backend.dispose?.();
if (Number.isNaN(sink)) throw new Error('NaN');
