#!/usr/bin/env node
/**
 * Quick figures for the wasm backend (one thread unless --threads), from the built package (run `pnpm build` first):
 *   C: 256 queries x 10,000 corpus x 768, cosine matrix on a resident corpus (GFLOP/s, end to end:
 *      queries normalised and S written to a JS array);
 *   B: 1 query x 100,000 x 384, top-10 on a resident corpus (ms per query);
 *   A: one pair of resident vectors, d = 1536 (us per pair);
 *   B8: B on an int8 corpus re-ranking 4 x k candidates exactly (--rerank), and its recall@10
 *       against exact float32 search over 50 random queries;
 *   S: batched search, the queries of C top-10 against its corpus (GFLOP/s; runs with C).
 * The benchmark app measures these properly, side by side with the alternatives; this is for a
 * developer's loop, so it runs short and reports the best of a few runs.
 *
 * Figures: best of a few runs, by wall clock and by this process's CPU time.
 *
 * Usage: node scripts/quick-bench.mjs [simd|relaxed|both] [--tile=4x2] [--block=98304] [--only=C,S,B,B8,A] [--threads=2] [--rerank=4]
 */
import { createWasmBackend } from '../dist/index.js';

const args = process.argv.slice(2);
const which = args.find((a) => !a.startsWith('--')) ?? 'both';
const opt = (name) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
const only = (opt('only') ?? 'C,S,B,B8,A').split(',');
const tuning = {};
if (opt('tile')) tuning.tile = opt('tile');
if (opt('block')) tuning.blockBytes = Number(opt('block'));
const threads = Number(opt('threads') ?? 1);
const rerank = Number(opt('rerank') ?? 4);

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

/**
 * Best of `reps` runs, in wall-clock time and in this process's CPU time. On a machine shared with
 * other work the minimum is the steadiest figure, and CPU time leaves out the time the thread
 * waited for a core (the kernels are single-threaded, so the two agree on a quiet machine).
 */
function time(fn, reps) {
  let wall = Number.POSITIVE_INFINITY;
  let cpu = Number.POSITIVE_INFINITY;
  for (let r = 0; r < reps; r++) {
    const u0 = process.cpuUsage();
    const t0 = performance.now();
    fn();
    wall = Math.min(wall, performance.now() - t0);
    const u = process.cpuUsage(u0);
    cpu = Math.min(cpu, (u.user + u.system) / 1000);
  }
  return { wall, cpu };
}

/** The CPU-time figure, shown for one thread only (with helpers, CPU time adds up every thread). */
function cpuNote(figure) {
  return threads === 1 ? `, ${figure} cpu` : '';
}

async function run(variant) {
  const backend = createWasmBackend({ variant, tuning, threads });
  await backend.init();
  const k = backend.kernels;
  const info = backend.describe();
  const line = [`${variant} (tile ${info.tile}, ${info.threads} thread${info.threads > 1 ? 's' : ''})`];

  if (only.includes('C')) {
    const corpus = k.createCorpus(random(10_000, 768, 1));
    const queries = random(256, 768, 2);
    const out = new Float32Array(256 * 10_000);
    k.corpusMatrix(corpus, queries, out);
    const t = time(() => k.corpusMatrix(corpus, queries, out), 5);
    const gflops = (ms) => ((2 * 256 * 10_000 * 768) / (ms * 1e6)).toFixed(1);
    line.push(`C ${gflops(t.wall)} GFLOP/s wall${cpuNote(gflops(t.cpu))}`);
    if (only.includes('S')) {
      const s = time(() => k.corpusSearch(corpus, queries, 10), 5);
      line.push(`S ${gflops(s.wall)} GFLOP/s wall${cpuNote(gflops(s.cpu))}`);
    }
    corpus.dispose();
  }

  if (only.includes('B')) {
    const data = random(100_000, 384, 3);
    const corpus = k.createCorpus(data);
    const query = random(1, 384, 4);
    k.corpusSearch(corpus, query, 10);
    const t = time(() => k.corpusSearch(corpus, query, 10), 9);
    line.push(`B ${t.wall.toFixed(2)} ms/query wall${cpuNote(t.cpu.toFixed(2))}`);
    // Exact top-10 of 50 random queries, for the int8 corpus's recall.
    const recallQueries = random(50, 384, 11);
    const exact = k.corpusSearch(corpus, recallQueries, 10);
    corpus.dispose();
    if (only.includes('B8')) {
      const c8 = k.createCorpus(data, { storage: 'int8', rerank });
      k.corpusSearch(c8, query, 10);
      const t8 = time(() => k.corpusSearch(c8, query, 10), 9);
      const got = k.corpusSearch(c8, recallQueries, 10);
      let hit = 0;
      for (let i = 0; i < 50; i++) {
        const want = new Set(exact.indices.subarray(i * 10, i * 10 + 10));
        for (let t = 0; t < 10; t++) if (want.has(got.indices[i * 10 + t])) hit++;
      }
      line.push(
        `B int8+rerank ${rerank}xk ${t8.wall.toFixed(2)} ms/query wall${cpuNote(t8.cpu.toFixed(2))}, recall@10 ${(hit / 500).toFixed(3)}`,
      );
      c8.dispose();
    }
  }

  if (only.includes('A')) {
    const a = backend.createVector(random(1, 1536, 5).data);
    const b = backend.createVector(random(1, 1536, 6).data);
    let sink = 0;
    const n = 200_000;
    const t = time(() => {
      for (let i = 0; i < n; i++) sink += backend.vectorCosine(a, b);
    }, 5);
    const us = (ms) => ((ms * 1000) / n).toFixed(3);
    line.push(`A ${us(t.wall)} us/pair wall${cpuNote(us(t.cpu))}${sink === 42 ? '!' : ''}`);
    a.dispose();
    b.dispose();
  }

  console.log(line.join(' | '));
  backend.dispose();
}

for (const v of which === 'both' ? ['simd', 'relaxed'] : [which]) await run(v);
