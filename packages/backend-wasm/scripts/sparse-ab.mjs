// `matmul` with and without its sparse path (tuning.sparseDensity 0 against the default), on
// the shapes of the MNIST MLP's layers: forward X W (256 x 784 times 784 x 256, then 256 x 256
// times 256 x 64) and the weight gradients Xᵀ dZ, where X has a given share of non-zeros
// (in runs of 4 to 12 along a row, like strokes of a digit). Calls interleaved, best CPU time per
// call (process.cpuUsage) of each, and dense / sparse: where it crosses 1 is where the default
// `sparseDensity` belongs. The largest difference between the two results is printed too.
//   node scripts/sparse-ab.mjs [relaxed|simd] [reps]
import { createCosineKit } from '@cosinekit/core';
import { createWasmBackend } from '../dist/index.js';
import { random } from './random.mjs';

const variant = process.argv[2] ?? 'simd';
const reps = Number(process.argv[3] ?? 15);
const kit = (sparseDensity) =>
  createCosineKit({ backend: createWasmBackend({ threads: 1, variant, tuning: { sparseDensity } }) });
const kits = [kit(0), kit(1)];
const [dense, sparse] = await Promise.all(kits.map((k) => k.kernels()));

/** `rows x cols` with about `density` of it non-zero, in runs along the rows. */
function strokes(rows, cols, density, seed) {
  const x = new Float32Array(rows * cols);
  const u = random(rows * cols, seed);
  let i = 0;
  while (i < x.length) {
    const run = 4 + Math.floor(((u[i] + 1) / 2) * 9);
    const on = (u[(i * 7919) % x.length] + 1) / 2 < density;
    for (let t = 0; t < run && i < x.length; t++, i++) if (on) x[i] = 0.1 + Math.abs(u[i]);
  }
  return x;
}

const cpu = (f) => {
  const c0 = process.cpuUsage();
  f();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000;
};
console.log('density  product            dense ms  sparse ms  dense/sparse  max |diff|');
for (const density of [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6]) {
  const x = strokes(256, 784, density, 3);
  let nz = 0;
  for (const v of x) if (v !== 0) nz++;
  const w = random(784 * 256, 5);
  const dz = random(256 * 256, 7);
  const h = strokes(256, 256, density, 11);
  const w2 = random(256 * 64, 13);
  const dz2 = random(256 * 64, 17);
  const cases = [
    ['H W2  256x256x64 ', { data: h, rows: 256, cols: 256 }, { data: w2, rows: 256, cols: 64 }, false],
    ['Ht dZ 256x256x64 ', { data: h, rows: 256, cols: 256 }, { data: dz2, rows: 256, cols: 64 }, true],
    ['X W   256x784x256', { data: x, rows: 256, cols: 784 }, { data: w, rows: 784, cols: 256 }, false],
    ['Xt dZ 784x256x256', { data: x, rows: 256, cols: 784 }, { data: dz, rows: 256, cols: 256 }, true],
  ];
  for (const [name, a, b, ta] of cases) {
    const best = [Infinity, Infinity];
    let diff = 0;
    for (let r = 0; r < reps; r++) {
      let outs = [];
      [dense, sparse].forEach((k, i) => {
        best[i] = Math.min(
          best[i],
          cpu(() => outs.push(k.matmul(a, b, ta, false))),
        );
      });
      for (let t = 0; t < outs[0].length; t++) diff = Math.max(diff, Math.abs(outs[0][t] - outs[1][t]));
      outs = [];
    }
    console.log(
      `${(nz / x.length).toFixed(2).padStart(7)}  ${name}  ${best[0].toFixed(2).padStart(8)}  ${best[1].toFixed(2).padStart(9)}  ${(best[0] / best[1]).toFixed(2).padStart(12)}  ${diff.toExponential(1)}`,
    );
  }
}
for (const k of kits) k.dispose();
