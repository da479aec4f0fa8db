// The sparse path's product loop (`sparseProduct`, assembly/sparse.ts) of two builds of this
// package's single-thread plain-SIMD binary, on the MNIST MLP's four products it can take: X W1
// (256 x 784 times 784 x 256) and Xᵀ dZ (transA) with X about 19% non-zero in runs along its rows
// like a digit's strokes, and H W2 (256 x 256 times 256 x 64) and Hᵀ dZ2 with H rectified (about
// half non-zero). Each build compresses op(A) with its own exports, then only the product loop is
// timed: calls alternate between the builds (A, B, B, A, ...), CPU time per call (process.cpuUsage),
// the median over the rounds, and B / A. The outputs are compared bit for bit (the loop's sums
// keep their order whatever its blocking).
//   node scripts/sparse-kernel-ab.mjs <distA> <distB> [rounds=21]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { random } from './random.mjs';

const [dirA, dirB] = process.argv.slice(2, 4);
if (!dirA || !dirB) throw new Error('usage: node scripts/sparse-kernel-ab.mjs <distA> <distB> [rounds]');
const rounds = Number(process.argv[4] ?? 21);
const CALLS = 8;

/** `rows x cols` with about `density` of it non-zero, in runs of 4 to 12 along the rows. */
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

const X = strokes(256, 784, 0.19, 3);
const H = random(256 * 256, 13).map((v) => Math.max(0, v));
const B = {
  W1: random(784 * 256, 5),
  DZ: random(256 * 256, 7),
  W2: random(256 * 64, 9),
  DZ2: random(256 * 64, 11),
};

async function load(dir) {
  const { instance } = await WebAssembly.instantiate(readFileSync(join(dir, 'cosinekit-simd.wasm')));
  const ex = instance.exports;
  let top = Math.ceil(ex.heapBase() / 64) * 64;
  const alloc = (bytes) => {
    const p = top;
    top = Math.ceil((top + bytes) / 64) * 64;
    return p;
  };
  const at = { X: alloc(X.length * 4), H: alloc(H.length * 4) };
  for (const k of Object.keys(B)) at[k] = alloc(B[k].length * 4);
  at.ptr = alloc(1024 * 4);
  at.idx = alloc((X.length + 1024) * 4);
  at.val = alloc((X.length + 1024) * 4);
  at.out = alloc(784 * 256 * 4);
  const need = top - ex.memory.buffer.byteLength;
  if (need > 0) ex.memory.grow(Math.ceil(need / 65536));
  const f32 = new Float32Array(ex.memory.buffer);
  f32.set(X, at.X / 4);
  f32.set(H, at.H / 4);
  for (const k of Object.keys(B)) f32.set(B[k], at[k] / 4);
  return { ex, at };
}
const builds = [await load(dirA), await load(dirB)];

// [name, compress op(A) (returns gap), m, B, n]
const cases = [
  [
    'X W1  256x784x256   ',
    ({ ex, at }) => {
      ex.compressRows(at.X, 256, 784, 1e9, at.ptr, at.idx, at.val);
      return 0;
    },
    256,
    'W1',
    256,
  ],
  [
    'Xt dZ 784x256x256 tA',
    ({ ex, at }) => {
      ex.countColumns(at.X, 256, 784, at.ptr);
      ex.compressColumns(at.X, 256, 784, at.ptr, at.idx, at.val);
      return 1;
    },
    784,
    'DZ',
    256,
  ],
  [
    'H W2  256x256x64    ',
    ({ ex, at }) => {
      ex.compressRows(at.H, 256, 256, 1e9, at.ptr, at.idx, at.val);
      return 0;
    },
    256,
    'W2',
    64,
  ],
  [
    'Ht dZ 256x256x64  tA',
    ({ ex, at }) => {
      ex.countColumns(at.H, 256, 256, at.ptr);
      ex.compressColumns(at.H, 256, 256, at.ptr, at.idx, at.val);
      return 1;
    },
    256,
    'DZ2',
    64,
  ],
];
const cpu = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};
const median = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];
console.log(
  `sparseProduct alone, plain SIMD, 1 thread, ${rounds} rounds of ${CALLS} calls; CPU ms per call (median)`,
);
console.log('product                    A ms    B ms     B/A  outputs');
for (const [name, compress, m, b, n] of cases) {
  const gaps = builds.map(compress);
  const times = [[], []];
  for (let r = 0; r < rounds; r++) {
    for (const w of r % 2 ? [1, 0] : [0, 1]) {
      const { ex, at } = builds[w];
      const t0 = cpu();
      for (let c = 0; c < CALLS; c++) ex.sparseProduct(at.ptr, at.idx, at.val, gaps[w], m, at[b], n, at.out);
      times[w].push((cpu() - t0) / CALLS);
    }
  }
  const [oa, ob] = builds.map(({ ex, at }) => new Uint32Array(ex.memory.buffer, at.out, m * n));
  const same = oa.every((v, i) => v === ob[i]);
  const [ta, tb] = times.map(median);
  console.log(
    `${name}  ${ta.toFixed(3).padStart(6)}  ${tb.toFixed(3).padStart(6)}  ${(tb / ta).toFixed(3).padStart(6)}  ${same ? 'bit-identical' : 'DIFFER'}`,
  );
}
