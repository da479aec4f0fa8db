// Interleaved A/B of the wasm backend's sparse `matmul` on the MLP's two first-layer products,
// with MNIST digits as A: forward X W1 (256 x 784 times 784 x 256) and the weight gradient
// Xᵀ dZ (transA: 784 x 256 times 256 x 256), X a batch of 256 training digits (about 19% non-zero),
// a different batch on each call, W1 and dZ random. Two builds of @cosinekit/backend-wasm run in
// the same process: "old" (a copy of an earlier dist/, e.g. `cp -r packages/backend-wasm/dist
// /tmp/old/dist` with `ln -s $PWD/packages/backend-wasm/node_modules /tmp/old/node_modules` so it
// resolves @cosinekit/core) and "new" (this checkout's dist/). Each round calls every product on
// both builds, in alternating order, `CALLS` times each; the CPU time per call (process.cpuUsage)
// is reported as the median over the rounds, with new / old. Every output is also compared bit
// for bit between the two builds (the sparse path promises the same bits).
//   node apps/mnist/scripts/sparse-ab.mjs /tmp/old/dist [rounds=9] [threads=1] [simd|relaxed]
// (after `pnpm exec turbo run build --filter=@cosinekit/example-mnist...`)
import { pathToFileURL } from 'node:url';
import { createWasmBackend as createNew } from '@cosinekit/backend-wasm';
import { createCosineKit } from '@cosinekit/core';
import { splitDigits } from '../dist/data.js';

const oldDist = process.argv[2];
if (!oldDist) throw new Error('usage: sparse-ab.mjs <old dist folder> [rounds] [threads] [variant]');
const rounds = Number(process.argv[3] ?? 9);
const threads = Number(process.argv[4] ?? 1);
const variant = process.argv[5] ?? 'simd';
const CALLS = 10;
const { createWasmBackend: createOld } = await import(pathToFileURL(`${oldDist}/index.js`).href);
const kits = [createOld, createNew].map((create) =>
  createCosineKit({ backend: create({ threads, variant }) }),
);
const ks = await Promise.all(kits.map((k) => k.kernels()));

const { train } = splitDigits(0.8, 1);
const batches = Math.floor(train.x.length / (256 * 784));
const batch = (t) => ({
  data: train.x.subarray((t % batches) * 256 * 784, ((t % batches) + 1) * 256 * 784),
  rows: 256,
  cols: 784,
});
/** Deterministic values in [-0.1, 0.1). */
function random(n, seed) {
  const d = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    d[i] = ((s >>> 0) / 2 ** 32 - 0.5) / 5;
  }
  return d;
}
const w1 = { data: random(784 * 256, 5), rows: 784, cols: 256 };
const dz = { data: random(256 * 256, 7), rows: 256, cols: 256 };
const cases = [
  ['X W1   256x784x256   ', (k, t) => k.matmul(batch(t), w1, false, false)],
  ['Xt dZ  784x256x256 tA', (k, t) => k.matmul(batch(t), dz, true, false)],
];

const cpu = () => {
  const c = process.cpuUsage();
  return c.user + c.system;
};
const same = (x, y) => {
  const a = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const b = new Uint32Array(y.buffer, y.byteOffset, y.length);
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
};
let differ = 0;
for (const [, f] of cases) for (let t = 0; t < 8; t++) if (!same(f(ks[0], t), f(ks[1], t))) differ++;
const times = cases.map(() => [[], []]);
for (let r = 0; r < rounds; r++) {
  cases.forEach(([, f], c) => {
    for (const which of r % 2 ? [1, 0] : [0, 1]) {
      const t0 = cpu();
      for (let t = 0; t < CALLS; t++) f(ks[which], r * CALLS + t);
      times[c][which].push((cpu() - t0) / CALLS / 1000);
    }
  });
}
const median = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];
console.log(`${variant}, ${threads} thread(s), ${rounds} rounds of ${CALLS} calls; CPU ms per call (median)`);
console.log('product                  old ms  new ms  new/old');
cases.forEach(([name], c) => {
  const [o, n] = times[c].map(median);
  console.log(
    `${name}  ${o.toFixed(3).padStart(6)}  ${n.toFixed(3).padStart(6)}  ${(n / o).toFixed(3).padStart(7)}`,
  );
});
console.log(differ === 0 ? 'outputs bit-identical' : `OUTPUTS DIFFER in ${differ} calls`);
for (const k of kits) k.dispose();
