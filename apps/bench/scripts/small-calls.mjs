// Small calls: what a one-row `kit.cosineRows(a, b)` costs next to core's synchronous `cosine(a, b)`
// on the same two Float32Arrays, in CPU time (process.cpuUsage, so a busy machine inflates both
// alike), interleaved in one process, median of many rounds. The ratio is the kit's fixed cost per
// call (admission, snapshot, guard, promise) in units of one plain cosine.
// Every kit answer is checked against a float64 cosine first. On the reference backend it also
// times the parts of a kit call alone: admitting both inputs (the gate's copy and check, core's
// internal `admitPair` into pooled buffers) and the reference `cosineRows` kernel on one row.
// Usage (after a build): node apps/bench/scripts/small-calls.mjs [backend=reference] [dims=256,1024,3072] [rounds=41]

import { cosine, createCosineKit, Tensor } from '@cosinekit/core';
import { createReferenceBackend, referenceKernels } from '@cosinekit/core/backend';
// Internal (not exported): the gate and its buffer pool, for the breakdown.
import { admitPair, Lease } from '../../../packages/core/dist/gate.js';
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

const kit = createCosineKit({ backend: await backendOf(backendName) });
await kit.ready();

console.log(
  `small calls on '${backendName}', CPU time per call, median of ${ROUNDS} interleaved rounds (node ${process.version})`,
);
const parts = backendName === 'reference';
console.log(
  `d      cosine()   kit.cosineRows(1 row)   ratio${parts ? '    of which: admit 2 rows   kernel   rest' : ''}`,
);
const AB = ['a', 'b'];
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
  // Warm both paths up so that both run optimised code.
  for (let i = 0; i < reps; i++) sink += cosine(a, b);
  for (let i = 0; i < reps; i++) sink += (await kit.cosineRows(a, b))[0];
  const plain = [];
  const kitT = [];
  const ratios = [];
  const admitT = [];
  const kernelT = [];
  const ta = new Tensor(a, 1, d);
  const tb = new Tensor(b, 1, d);
  for (let r = 0; r < ROUNDS; r++) {
    let t = cpu();
    for (let i = 0; i < reps; i++) sink += cosine(a, b);
    const p = (cpu() - t) / reps;
    t = cpu();
    for (let i = 0; i < reps; i++) sink += (await kit.cosineRows(a, b))[0];
    const k = (cpu() - t) / reps;
    plain.push(p);
    kitT.push(k);
    ratios.push(k / p);
    if (!parts) continue;
    t = cpu();
    for (let i = 0; i < reps; i++) {
      const lease = new Lease();
      sink += admitPair(a, b, 'cosineRows', 'shape', AB, lease)[0].tensor.rows;
      lease.release();
    }
    admitT.push((cpu() - t) / reps);
    t = cpu();
    for (let i = 0; i < reps; i++) sink += referenceKernels.cosineRows(ta, tb)[0];
    kernelT.push((cpu() - t) / reps);
  }
  const tail = parts
    ? `       ${median(admitT).toFixed(2).padStart(6)} us   ${median(kernelT).toFixed(2).padStart(6)} us ${(median(kitT) - median(admitT) - median(kernelT)).toFixed(2).padStart(6)} us`
    : '';
  console.log(
    `${String(d).padEnd(6)} ${median(plain).toFixed(2).padStart(6)} us  ${median(kitT).toFixed(2).padStart(9)} us${' '.repeat(13)}${median(ratios).toFixed(2)}x${tail}`,
  );
}
kit.dispose();
if (Number.isNaN(sink)) throw new Error('NaN');
