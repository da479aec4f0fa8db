#!/usr/bin/env node
/**
 * Where helper threads start to pay: times a call on one thread and on `--threads` (default 2)
 * with sharing forced (threadMinFlops = 0), over a range of sizes, best of many runs each.
 *   float: cosines of m queries against a resident corpus of n rows, d = 384 (corpusMatrix);
 *   int8:  one query against an int8 corpus without float rows (corpusMatrix, the int8 scan).
 * The default thresholds in src/runtime.ts come from this (see the README). Run `pnpm build` first.
 *
 * Usage: node scripts/crossover.mjs [simd|relaxed] [--threads=2]
 */
import { createWasmBackend } from '../dist/index.js';

const args = process.argv.slice(2);
const variant = args.find((a) => !a.startsWith('--')) ?? 'simd';
const threads = Number(args.find((a) => a.startsWith('--threads='))?.split('=')[1] ?? 2);

function random(rows, cols, seed) {
  const data = new Float32Array(rows * cols);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < data.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    data[i] = (s >>> 0) / 2 ** 31 - 1;
  }
  return { data, rows, cols };
}

/** Best time (ms) of `fn` over about 150 ms of runs (at least 5). */
function best(fn) {
  let t = Number.POSITIVE_INFINITY;
  const until = performance.now() + 150;
  for (let r = 0; r < 5 || performance.now() < until; r++) {
    const t0 = performance.now();
    fn();
    t = Math.min(t, performance.now() - t0);
  }
  return t;
}

const tuning = { threadMinFlops: 0, threadMinFlopsI8: 0 };
const one = createWasmBackend({ variant, threads: 1 });
const many = createWasmBackend({ variant, threads, tuning });
await one.init();
await many.init();
console.log(`${variant}, 1 thread vs ${many.describe().threads} (sharing forced)`);
const d = 384;
console.log('float  m x n x 384      MFLOP   1 thread    threads   speed-up');
for (const [m, n] of [
  [1, 256],
  [1, 512],
  [1, 1024],
  [1, 2048],
  [4, 1024],
  [1, 8192],
  [16, 1024],
  [4, 8192],
  [16, 8192],
]) {
  const x = random(n, d, n);
  const q = random(m, d, m);
  const c1 = one.kernels.createCorpus(x);
  const c2 = many.kernels.createCorpus(x);
  const out = new Float32Array(m * n);
  const t1 = best(() => one.kernels.corpusMatrix(c1, q, out));
  const t2 = best(() => many.kernels.corpusMatrix(c2, q, out));
  const mf = (2 * m * n * d) / 1e6;
  console.log(
    `${`${m} x ${n}`.padEnd(20)} ${mf.toFixed(2).padStart(7)} ${(t1 * 1000).toFixed(0).padStart(8)} us ${(t2 * 1000).toFixed(0).padStart(7)} us ${(t1 / t2).toFixed(2).padStart(8)}`,
  );
  c1.dispose();
  c2.dispose();
}
console.log('int8   1 x n x 384   M int-ops   1 thread    threads   speed-up');
for (const n of [1024, 2048, 4096, 8192, 16384, 32768, 65536]) {
  const x = random(n, d, n);
  const q = random(1, d, 7);
  const c1 = one.kernels.createCorpus(x, { storage: 'int8' });
  const c2 = many.kernels.createCorpus(x, { storage: 'int8' });
  const out = new Float32Array(n);
  const t1 = best(() => one.kernels.corpusMatrix(c1, q, out));
  const t2 = best(() => many.kernels.corpusMatrix(c2, q, out));
  const mf = (2 * n * d) / 1e6;
  console.log(
    `${`1 x ${n}`.padEnd(20)} ${mf.toFixed(2).padStart(7)} ${(t1 * 1000).toFixed(0).padStart(8)} us ${(t2 * 1000).toFixed(0).padStart(7)} us ${(t1 / t2).toFixed(2).padStart(8)}`,
  );
  c1.dispose();
  c2.dispose();
}
one.dispose();
many.dispose();
