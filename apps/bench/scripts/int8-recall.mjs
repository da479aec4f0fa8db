// Recall of quantised corpora on random data, and what re-ranking costs: recall@k of int8 and
// float16 storage against the exact float32 top-k, without re-ranking and with `rerank` r (the
// best r x k candidates re-scored from float32 rows), with the search time of each and the bytes
// each keeps resident. Random rows and queries (uniform in [-1, 1]) are the hard case: their
// cosines crowd near 0, so a small quantisation error reorders neighbours.
// Other data than random rows, as real embeddings are: `outlier` scales one dimension 30x (the
// outlier features of transformer embeddings), `clustered` draws rows and queries around 100
// centres with a spread of a tenth of a centre's values.
// Usage (after a build): nice -n 10 node apps/bench/scripts/int8-recall.mjs [N=200000] [d=384] [Q=100] [k=10] [backend=wasm] [reranks=0,2,3,4] [storages=int8] [rounds=5] [data=random|outlier|clustered]
// (float16 is held by the reference backend, which is slow at these sizes: ask for it with a smaller N.)

import { createCosineKit, Tensor } from '@cosinekit/core';
import { createReferenceBackend } from '@cosinekit/core/backend';
import { random } from './random.mjs';

const N = Number(process.argv[2] ?? 200_000);
const d = Number(process.argv[3] ?? 384);
const Q = Number(process.argv[4] ?? 100);
const k = Number(process.argv[5] ?? 10);
const backendName = process.argv[6] ?? 'wasm';
const reranks = (process.argv[7] ?? '0,2,3,4').split(',').map(Number);
const storages = (process.argv[8] ?? 'int8').split(',');
const ROUNDS = Number(process.argv[9] ?? 5);
const DATA = process.argv[10] ?? 'random';
if (!['random', 'outlier', 'clustered'].includes(DATA))
  throw new Error(`data must be random, outlier or clustered, got ${DATA}`);

/** `n` rows of `d` floats of the chosen kind, from `seed`. */
function rowsOf(n, seed) {
  const x = random(n * d, seed);
  if (DATA === 'outlier') for (let i = 0; i < n; i++) x[i * d] *= 30;
  if (DATA === 'clustered') {
    const centres = random(100 * d, 4242);
    for (let i = 0; i < n; i++) {
      const c = ((x[i * d] + 1) * 50) | 0;
      for (let j = 0; j < d; j++) x[i * d + j] = centres[c * d + j] + 0.1 * x[i * d + j];
    }
  }
  return x;
}

async function backendOf(name) {
  if (name === 'reference') return createReferenceBackend();
  const { createWasmBackend } = await import('@cosinekit/backend-wasm');
  return createWasmBackend();
}

const kit = createCosineKit({ backend: await backendOf(backendName), onFallback: () => {} });
const info = await kit.ready();
const rows = new Tensor(rowsOf(N, 12345), N, d);
const queries = new Tensor(rowsOf(Q, 777), Q, d);

const median = (xs) => [...xs].sort((p, q) => p - q)[xs.length >> 1];

// Every corpus resident at once, then searched in interleaved rounds (one search of each per
// round), so that a busy machine slows every configuration alike; the median per configuration.
const configs = [{ storage: 'float32', rerank: 0 }];
for (const storage of storages) for (const rerank of reranks) configs.push({ storage, rerank });
for (const c of configs) c.corpus = await kit.corpus(rows, { storage: c.storage, rerank: c.rerank });
for (const c of configs) {
  c.ms = [];
  c.cpu = [];
}
for (let round = 0; round < ROUNDS; round++) {
  for (const c of configs) {
    const t = performance.now();
    const u = process.cpuUsage();
    c.r = await c.corpus.search(queries, k);
    c.ms.push(performance.now() - t);
    const v = process.cpuUsage(u);
    c.cpu.push((v.user + v.system) / 1000);
  }
}
const truth = configs[0];
console.log(
  `recall@${k} on ${DATA} data, ${N} x ${d}, ${Q} queries, on ${info.backend} (${info.details.simd ?? ''} ${info.details.threads ?? ''} threads); search time (wall, and CPU of all threads): median of ${ROUNDS} interleaved rounds`,
);

function recall(got) {
  let hit = 0;
  for (let q = 0; q < Q; q++) {
    const want = new Set(truth.r.indices.subarray(q * k, (q + 1) * k));
    for (let t = 0; t < k; t++) if (want.has(got.indices[q * k + t])) hit++;
  }
  return hit / (Q * k);
}

function maxScoreError(got) {
  // Against the exact float32 scores of the same rank: how far the reported score sits.
  let e = 0;
  for (let i = 0; i < Q * k; i++) e = Math.max(e, Math.abs(got.scores[i] - truth.r.scores[i]));
  return e;
}

for (const c of configs) {
  const bytes =
    c.storage === 'float32'
      ? 4 * N * d
      : N * d * (c.storage === 'int8' ? 1 : 2) +
        (c.storage === 'int8' ? 4 * N : 0) +
        (c.rerank > 0 ? 4 * N * d : 0);
  console.log(
    `${`${c.storage} rerank ${c.rerank}`.padEnd(22)}  recall ${recall(c.r).toFixed(4)}  search ${median(c.ms).toFixed(1).padStart(7)} ms (CPU ${median(c.cpu).toFixed(0).padStart(6)} ms)  resident ${(bytes / 2 ** 20).toFixed(0).padStart(5)} MiB  max score gap ${maxScoreError(c.r).toExponential(2)}  (${c.corpus.backend})`,
  );
  c.corpus.dispose();
}
kit.dispose();
