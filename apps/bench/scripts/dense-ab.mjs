// The wasm backend's dense `matmul` on the products of the MNIST MLP's training step (784-256-64,
// batch 128: InfoNCE runs 256 rows through the encoder, the loss 128 x 128), two builds side by
// side: A, a copy of an older `packages/backend-wasm/dist` (give its folder; it resolves its own
// imports, so put a `node_modules` link next to it), and B, this checkout's build. One thread,
// the backend's own kernel (no kit checks), calls interleaved A, B, A, B in rounds, CPU time per
// call (process.cpuUsage, so another process on the machine inflates both alike), median of the
// rounds, and B/A. H is relu-like (about 52% non-zero, as the hidden layer is in training), so the
// dense path runs, not the sparse one. Every B result is compared with A's bit for bit (the nn
// package promises the same numbers for the same seed): a difference is reported and fails.
//   node apps/bench/scripts/dense-ab.mjs <old dist folder> [rounds=9] [calls per round=40] [--kit]
import { createWasmBackend as createNew } from '@cosinekit/backend-wasm';
import { createCosineKit } from '@cosinekit/core';
import { random } from './random.mjs';

const oldDist = process.argv[2];
if (!oldDist)
  throw new Error('usage: node apps/bench/scripts/dense-ab.mjs <old dist folder> [rounds] [calls]');
const nums = process.argv.slice(3).filter((x) => !x.startsWith('--'));
const ROUNDS = Number(nums[0] ?? 9);
const CALLS = Number(nums[1] ?? 40);
const { createWasmBackend: createOld } = await import(`${oldDist.replace(/\/$/, '')}/index.js`);

const backends = [createOld({ threads: 1 }), createNew({ threads: 1 })];
await Promise.all(backends.map((b) => b.init()));
// --kit: through the kit's checked kernel table, as @cosinekit/nn calls them (the output checks
// count; this checkout's core for both builds); otherwise the backends' own kernels.
const viaKit = process.argv.includes('--kit');
const kernels = viaKit
  ? await Promise.all(backends.map((backend) => createCosineKit({ backend }).kernels()))
  : backends.map((b) => b.kernels);

/** `rows x cols` of uniform values in [-1, 1), about `density` of them kept (the rest 0), relu-like. */
function relu(rows, cols, seed, density = 1) {
  const x = random(rows * cols, seed);
  const cut = 1 - 2 * density;
  for (let i = 0; i < x.length; i++) if (x[i] < cut) x[i] = 0;
  return { data: x, rows, cols };
}

const H = relu(256, 256, 3, 0.52);
const W2 = relu(256, 64, 5);
const dE = relu(256, 64, 7);
const E = relu(128, 64, 11);
const dS = relu(128, 128, 13);
const E2 = relu(128, 64, 17);
// [name, A, B, transA, transB]: op(A) is m x k, op(B) k x n.
const cases = [
  ['dH = dE W2ᵀ   256x64x256 tB', dE, W2, false, true],
  ['E = H W2      256x256x64   ', H, W2, false, false],
  ['dW2 = Hᵀ dE   256x256x64 tA', H, dE, true, false],
  ['S = E Eᵀ      128x64x128 tB', E, E2, false, true],
  ['dS E          128x128x64   ', dS, E2, false, false],
  ['dSᵀ E         128x128x64 tA', dS, E2, true, false],
];

const cpu = () => {
  const c = process.cpuUsage();
  return c.user + c.system;
};
const median = (xs) => [...xs].sort((p, q) => p - q)[xs.length >> 1];

let mismatches = 0;
console.log(
  `dense matmul, 1 thread, ${viaKit ? "through the kit's kernel table" : 'backend kernels'}, CPU us per call: median of ${ROUNDS} rounds of ${CALLS} calls, A = ${oldDist}`,
);
console.log('product                          A us     B us    B/A   bits');
let sumA = 0;
let sumB = 0;
for (const [name, a, b, ta, tb] of cases) {
  const m = ta ? a.cols : a.rows;
  const n = tb ? b.rows : b.cols;
  const outs = kernels.map(() => new Float32Array(m * n));
  const runs = kernels.map((k, i) => () => k.matmul(a, b, ta, tb, outs[i]));
  for (const r of runs) for (let i = 0; i < 10; i++) r();
  let same = true;
  for (let i = 0; i < m * n; i++) {
    if (!Object.is(outs[0][i], outs[1][i])) same = false;
  }
  if (!same) mismatches++;
  const times = [[], []];
  for (let round = 0; round < ROUNDS; round++) {
    runs.forEach((r, i) => {
      const t0 = cpu();
      for (let c = 0; c < CALLS; c++) r();
      times[i].push((cpu() - t0) / CALLS);
    });
  }
  const [ta0, tb0] = times.map(median);
  sumA += ta0;
  sumB += tb0;
  console.log(
    `${name}  ${ta0.toFixed(0).padStart(6)}   ${tb0.toFixed(0).padStart(6)}   ${(tb0 / ta0).toFixed(2)}   ${same ? 'same' : 'DIFFER'}`,
  );
}
console.log(
  `all six (one step's worth)        ${sumA.toFixed(0).padStart(6)}   ${sumB.toFixed(0).padStart(6)}   ${(sumB / sumA).toFixed(2)}`,
);
for (const b of backends) b.dispose?.();
if (mismatches > 0) {
  console.error(`${mismatches} products differ from A's bits`);
  process.exitCode = 1;
}
