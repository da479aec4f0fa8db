#!/usr/bin/env node
/**
 * A million-row corpus: one million 384-d rows stored as int8 (0.4 GB of wasm memory), built a
 * chunk at a time with `createCorpusFrom` from a generator (no 1.5 GB host array), then searched.
 * Prints wasm memory before and after building, build time, search time per query (1 query, and
 * 16 at once), the extra memory a search needs (the allocator's peak minus the resident corpus)
 * and whether wasm memory grew during the searches, and recall@10 against exact float64 cosines.
 * Run `pnpm build` first.
 *
 * Usage: node scripts/million.mjs [simd|relaxed] [--rows=1000000] [--dim=384] [--rerank=0]
 *        [--threads=N (default: every core)] [--queries=5 (for recall)]
 */
import { createWasmBackend } from '../dist/index.js';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  return a === undefined ? def : Number(a.split('=')[1]);
};
const variant = args.find((a) => !a.startsWith('--')) ?? 'simd';
const rows = opt('rows', 1_000_000);
const dim = opt('dim', 384);
const rerank = opt('rerank', 0);
const threads = opt('threads', undefined);
const recallQueries = opt('queries', 5);
const MB = (b) => `${(b / 2 ** 20).toFixed(1)} MB`;

/** Row `i` of the corpus, deterministic: values in [-1, 1). */
function fillRows(start, count, out) {
  for (let r = 0; r < count; r++) {
    let s = ((start + r + 1) * 2654435761) >>> 0 || 1;
    const o = r * dim;
    for (let c = 0; c < dim; c++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      out[o + c] = (s >>> 0) / 2 ** 31 - 1;
    }
  }
  return out;
}

const backend = createWasmBackend({ variant, ...(threads !== undefined ? { threads } : {}) });
await backend.init();
const info = backend.describe();
console.log(
  `wasm ${info.variant}, ${info.threads} thread(s)${info.threadsNote ? ` (${info.threadsNote})` : ''}; ${rows.toLocaleString('en')} x ${dim}, int8${rerank ? `, re-ranking ${rerank} x k` : ''}`,
);
const rss0 = process.memoryUsage().rss;
console.log(`wasm memory before: ${MB(backend.describe().wasmMemoryBytes)}`);

let t0 = performance.now();
const corpus = backend.createCorpusFrom(
  { rows, cols: dim, read: (start, count) => fillRows(start, count, new Float32Array(count * dim)) },
  { storage: 'int8', rerank },
);
const built = performance.now() - t0;
const resident = backend.memory().bytes;
console.log(
  `built in ${(built / 1000).toFixed(1)} s; resident ${MB(resident)}; wasm memory after: ${MB(backend.describe().wasmMemoryBytes)}; process RSS grew ${MB(process.memoryUsage().rss - rss0)}`,
);

// Queries: perturbed corpus rows, so each has a clear nearest neighbour, plus pure random ones.
const Q = 16;
const queries = new Float32Array(Q * dim);
for (let i = 0; i < Q; i++) {
  const row = fillRows(Math.floor(((i + 0.5) * rows) / Q), 1, new Float32Array(dim));
  const noise = fillRows(rows + 1000 + i, 1, new Float32Array(dim));
  const w = i % 2 === 0 ? 0.3 : 20; // even: near a corpus row; odd: essentially random
  for (let c = 0; c < dim; c++) queries[i * dim + c] = row[c] + w * noise[c];
}
const q1 = { data: queries.subarray(0, dim), rows: 1, cols: dim };
const q16 = { data: queries, rows: Q, cols: dim };

backend.kernels.corpusSearch(corpus, q1, 10);
const memBefore = backend.describe().wasmMemoryBytes;
backend.memoryPeak();
const best = (fn, reps) => {
  let t = Number.POSITIVE_INFINITY;
  for (let r = 0; r < reps; r++) {
    const s = performance.now();
    fn();
    t = Math.min(t, performance.now() - s);
  }
  return t;
};
const one = best(() => backend.kernels.corpusSearch(corpus, q1, 10), 9);
const batch = best(() => backend.kernels.corpusSearch(corpus, q16, 10), 3);
const peak = backend.memoryPeak();
const memAfter = backend.describe().wasmMemoryBytes;
console.log(
  `search top-10: ${one.toFixed(1)} ms for 1 query; ${(batch / Q).toFixed(1)} ms per query for ${Q} at once (best of 9 and 3)`,
);
console.log(
  `extra memory during search: ${MB(peak - resident)} (allocator peak minus the corpus); wasm memory grew by ${MB(memAfter - memBefore)} during the searches`,
);

// Recall@10 against exact cosines (float64, streamed from the generator).
if (recallQueries > 0) {
  t0 = performance.now();
  const nq = Math.min(recallQueries, Q);
  const got = backend.kernels.corpusSearch(
    corpus,
    { data: queries.subarray(0, nq * dim), rows: nq, cols: dim },
    10,
  );
  const qn = [];
  for (let i = 0; i < nq; i++) {
    let s = 0;
    for (let c = 0; c < dim; c++) s += queries[i * dim + c] ** 2;
    qn.push(Math.sqrt(s));
  }
  const top = Array.from({ length: nq }, () => []);
  const chunk = 4096;
  const buf = new Float32Array(chunk * dim);
  for (let i0 = 0; i0 < rows; i0 += chunk) {
    const r = Math.min(chunk, rows - i0);
    fillRows(i0, r, buf);
    for (let j = 0; j < r; j++) {
      let nn = 0;
      for (let c = 0; c < dim; c++) nn += buf[j * dim + c] ** 2;
      nn = Math.sqrt(nn);
      for (let i = 0; i < nq; i++) {
        let dot = 0;
        for (let c = 0; c < dim; c++) dot += queries[i * dim + c] * buf[j * dim + c];
        const cos = dot / (qn[i] * nn);
        const t = top[i];
        if (t.length < 10 || cos > t[t.length - 1][0]) {
          t.push([cos, i0 + j]);
          t.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
          if (t.length > 10) t.pop();
        }
      }
    }
  }
  let hit = 0;
  for (let i = 0; i < nq; i++) {
    const want = new Set(top[i].map((e) => e[1]));
    for (let t = 0; t < 10; t++) if (want.has(got.indices[i * 10 + t])) hit++;
  }
  console.log(
    `recall@10 against exact: ${(hit / (nq * 10)).toFixed(3)} over ${nq} queries (exact pass ${((performance.now() - t0) / 1000).toFixed(1)} s)`,
  );
}
corpus.dispose();
backend.dispose();
