#!/usr/bin/env node
/**
 * Quick check of this backend's fast path against tfjs called the obvious way, on the same engine
 * and tfjs instance (`initTfjsEngine`), in one process:
 *
 *   C: 256 x 10,000 x 768 cosine matrix. Fast: `corpusMatrix` on a resident corpus. Obvious:
 *      normalise both sides, `matMul(a, b, false, true)`.
 *   B: 1 query x 100,000 x 384, top-10. Fast: `corpusSearch` on a resident corpus. Obvious: the
 *      corpus normalised once and kept (N x d), then per query normalise, `matMul(q, c, false,
 *      true)`, `topk`.
 *
 *   pnpm --filter @cosinekit/backend-tfjs build
 *   node packages/backend-tfjs/scripts/quick-bench.mjs [engine=wasm] [reps=3] [workload=C|B]
 *
 * Short on purpose (this machine has two shared cores): minimum and median of a few runs after one
 * warm-up. The benchmark app measures properly. Tests never assert timings.
 */
import { performance } from 'node:perf_hooks';
import { createTfjsBackend, initTfjsEngine } from '../dist/index.js';

const engine = process.argv[2] ?? 'wasm';
const reps = Number(process.argv[3] ?? 3);
const workload = (process.argv[4] ?? 'C').toUpperCase();
const [Q, N, D, K] = workload === 'B' ? [1, 100_000, 384, 10] : [256, 10_000, 768, 0];
const flop = 2 * Q * N * D;

function random(n, seed) {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** [min, median] in ms after one warm-up (XNNPACK packs a resident operand on first use). */
async function timeIt(fn) {
  await fn();
  const times = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return [times[0], times[times.length >> 1]];
}

const queries = { data: random(Q * D, 1), rows: Q, cols: D };
const corpusRows = { data: random(N * D, 2), rows: N, cols: D };

const backend = createTfjsBackend({ engine });
await backend.init();
const corpus = await backend.kernels.createCorpus(corpusRows);
const tf = await initTfjsEngine(engine);
const normalise = (x) => tf.div(x, tf.norm(x, 'euclidean', 1, true));

let fast;
let obvious;
let agree;
if (workload === 'B') {
  const fastOnce = () => backend.kernels.corpusSearch(corpus, queries, K);
  fast = await timeIt(fastOnce);
  await initTfjsEngine(engine);
  const kept = tf.tidy(() => normalise(tf.tensor2d(corpusRows.data, [N, D])));
  let last;
  obvious = await timeIt(async () => {
    const { values, indices } = tf.tidy(() => {
      const q = normalise(tf.tensor2d(queries.data, [Q, D]));
      return tf.topk(tf.matMul(q, kept, false, true), K);
    });
    last = await indices.data();
    await values.data();
    tf.dispose([values, indices]);
  });
  kept.dispose();
  const mine = await fastOnce();
  agree = `top-${K} indices equal: ${mine.indices.every((v, i) => v === last[i])}`;
} else {
  const out = new Float32Array(Q * N);
  fast = await timeIt(() => backend.kernels.corpusMatrix(corpus, queries, out));
  const mine = out.slice();
  await initTfjsEngine(engine);
  obvious = await timeIt(async () => {
    const s = tf.tidy(() => {
      const a = normalise(tf.tensor2d(queries.data, [Q, D]));
      const b = normalise(tf.tensor2d(corpusRows.data, [N, D]));
      return tf.matMul(a, b, false, true);
    });
    out.set(await s.data());
    s.dispose();
  });
  let maxDiff = 0;
  for (let i = 0; i < out.length; i++) maxDiff = Math.max(maxDiff, Math.abs(out[i] - mine[i]));
  agree = `max |difference| ${maxDiff.toExponential(1)}`;
}
corpus.dispose();

const gflops = (ms) => (flop / (ms * 1e6)).toFixed(1);
const show = ([min, med]) =>
  `min ${min.toFixed(1)} ms, median ${med.toFixed(1)} ms (${gflops(min)} GFLOP/s best)`;
console.log(JSON.stringify(backend.describe()));
console.log(`workload ${workload}: ${Q} x ${N} x ${D}${K ? `, top-${K}` : ''}; ${reps} runs after a warm-up`);
console.log(`  backend-tfjs (resident, transposed, tiled): ${show(fast)}`);
console.log(`  tfjs the obvious way (matMul(a, b, false, true)): ${show(obvious)}`);
console.log(
  `  ratio ${(obvious[0] / fast[0]).toFixed(1)}x (min), ${(obvious[1] / fast[1]).toFixed(1)}x (median); ${agree}`,
);
console.log(`  tensors left: ${tf.memory().numTensors}`);
