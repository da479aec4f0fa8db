#!/usr/bin/env node
/**
 * Quick check of workload C (256 x 10,000 x 768 cosine matrix, corpus resident) on one tfjs
 * engine: this backend's `corpusMatrix` against tfjs called the obvious way on the same engine
 * and tfjs instance (normalise both sides, then matMul(a, b, false, true)).
 *
 *   pnpm --filter @cosinekit/backend-tfjs build
 *   node packages/backend-tfjs/scripts/quick-bench.mjs [engine=wasm] [reps=3] [queries=256]
 *
 * Short on purpose (this machine has two shared cores); the benchmark app does it properly.
 */
import { performance } from 'node:perf_hooks';
import { createTfjsBackend, initTfjsEngine } from '../dist/index.js';

const engine = process.argv[2] ?? 'wasm';
const reps = Number(process.argv[3] ?? 3);
const Q = Number(process.argv[4] ?? 256);
const N = 10_000;
const D = 768;
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

async function median(fn) {
  await fn(); // warm: XNNPACK packs a resident operand on first use, V8 tiers up
  const times = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[times.length >> 1];
}

const queries = { data: random(Q * D, 1), rows: Q, cols: D };
const corpusRows = { data: random(N * D, 2), rows: N, cols: D };

const backend = createTfjsBackend({ engine });
await backend.init();
const corpus = await backend.kernels.createCorpus(corpusRows);
const out = new Float32Array(Q * N);
const fast = await median(() => backend.kernels.corpusMatrix(corpus, queries, out));

// The obvious way, on the same tfjs instance and engine.
const tf = await initTfjsEngine(engine);
const obviousOnce = async () => {
  const s = tf.tidy(() => {
    const a = tf.tensor2d(queries.data, [Q, D]);
    const b = tf.tensor2d(corpusRows.data, [N, D]);
    const an = tf.div(a, tf.norm(a, 'euclidean', 1, true));
    const bn = tf.div(b, tf.norm(b, 'euclidean', 1, true));
    return tf.matMul(an, bn, false, true);
  });
  out.set(await s.data());
  s.dispose();
};
const obvious = await median(obviousOnce);

const check = new Float32Array(out);
await backend.kernels.corpusMatrix(corpus, queries, out);
let maxDiff = 0;
for (let i = 0; i < out.length; i++) maxDiff = Math.max(maxDiff, Math.abs(out[i] - check[i]));
corpus.dispose();

const gflops = (ms) => (flop / (ms * 1e6)).toFixed(1);
console.log(JSON.stringify(backend.describe()));
console.log(`workload C ${Q} x ${N} x ${D}, median of ${reps}`);
console.log(`  backend-tfjs corpusMatrix: ${fast.toFixed(1)} ms  ${gflops(fast)} GFLOP/s`);
console.log(
  `  obvious tfjs (normalise + matMul(a, b, false, true)): ${obvious.toFixed(1)} ms  ${gflops(obvious)} GFLOP/s`,
);
console.log(`  ratio ${(obvious / fast).toFixed(1)}x; max |difference| ${maxDiff.toExponential(1)}`);
console.log(`  tensors left: ${tf.memory().numTensors}`);
