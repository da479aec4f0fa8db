/**
 * The `million` preset: a corpus of one million 384-d rows stored as int8 in the wasm backend, built
 * through the public `kit.corpusFrom` from a generator of chunks (no 1.5 GB host array: segments of
 * {@link MILLION_SEGMENT_BYTES} are uploaded as they fill), then searched with 1 and 16 queries. What it shows is memory: a search needs O(Q x k + tile) bytes beyond the corpus
 * whatever N is. Shared by Node and the browser page: it imports nothing from Node.
 */
import { type Backend, type CosineKit, Tensor, type TopKResult } from '@cosinekit/core';
import { summarize } from './stats.js';
import { now } from './timing.js';
import type { Accuracy, BenchResult, MillionMemory, RunSettings, WorkloadSpec } from './types.js';

/** The row of a non-wasm contender (peers and other backends). */
export const MILLION_NOT_RUN = 'not run: million-row preset is wasm-only (int8 + chunked build)';

/** Re-ranking of the corpus (`rerank` x k candidates re-scored in float32): scores exact, recall 1. */
export const MILLION_RERANK = 4;
/** Query rows checked against an exact float64 top-k computed by streaming every row once. */
export const MILLION_EXACT_QUERIES = 2;
/** The target this preset is judged on: extra memory during search under 16 MiB (bench README, Targets). */
export const MILLION_EXTRA_LIMIT = 16 * 2 ** 20;
/** Rows generated per `read` call while streaming (building, and the exact pass). */
const CHUNK = 4096;
const TOLERANCE = 1e-4;
const MIN_RECALL = 0.99;

/** Host rows gathered per uploaded segment: 1M x 384 float32 rows make 6 segments. */
export const MILLION_SEGMENT_BYTES = 256 * 2 ** 20;

/**
 * How each preset builds its corpus. `huge` keeps no float32 rows (they would take 30 GB at 20M x
 * 384), so its scores are int8's: judged against float64 within the int8 bound of each row and query
 * instead of {@link TOLERANCE}.
 */
const PLANS: Record<string, { rerank: number; segmentBytes: number; fullRows?: number }> = {
  million: { rerank: MILLION_RERANK, segmentBytes: MILLION_SEGMENT_BYTES },
  // Segments shrink with --scale, so a scaled run has the full run's ~115 segments to spread.
  huge: { rerank: 0, segmentBytes: MILLION_SEGMENT_BYTES, fullRows: 20_000_000 },
};

/** What the preset reads of the wasm backend beyond core's contract (duck-typed: no import of the package). */
interface WasmMemoryApi {
  memoryPeak(): number;
  memory(): { bytes: number };
  describe(): { wasmMemoryBytes?: unknown };
  /** Each wasm instance's memory (backends that spread corpora over instances). */
  shards?(): { memoryBytes: number; usedBytes: number }[];
}

/** True when `backend` reports its allocator peak and memory (the wasm backend). */
export function hasChunkedCorpus(backend: Backend): boolean {
  const b = backend as Backend & Partial<WasmMemoryApi>;
  return (
    typeof b.memoryPeak === 'function' && typeof b.memory === 'function' && typeof b.describe === 'function'
  );
}

/** The preset's rows, `CHUNK` at a time, as a stream for `corpusFrom`. */
function* chunksOf(seed: number, n: number, d: number): Generator<Tensor> {
  for (let start = 0; start < n; start += CHUNK) {
    const count = Math.min(CHUNK, n - start);
    yield new Tensor(generateRows(seed, d, start, count, new Float32Array(count * d)), count, d);
  }
}

/**
 * Writes `count` generated rows from row `start` into `out` (row-major, `d` wide): uniform in [-1, 1),
 * each row a function of (seed, row index) only, so any chunk can be made again in any order.
 */
export function generateRows(seed: number, d: number, start: number, count: number, out: Float32Array) {
  for (let r = 0; r < count; r++) {
    let s = (Math.imul(start + r + 1, 0x9e3779b1) ^ Math.imul(seed + 1, 0x85ebca6b)) >>> 0 || 1;
    const o = r * d;
    for (let c = 0; c < d; c++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      out[o + c] = (s >>> 0) / 2147483648 - 1;
    }
  }
  return out;
}

/**
 * Q queries: even ones a corpus row plus a little noise (a clear nearest neighbour), odd ones
 * essentially random (many near ties), spread over the corpus.
 */
export function millionQueries(seed: number, q: number, n: number, d: number): Float32Array {
  const out = new Float32Array(q * d);
  const row = new Float32Array(d);
  const noise = new Float32Array(d);
  for (let i = 0; i < q; i++) {
    generateRows(seed, d, Math.floor(((i + 0.5) * n) / q), 1, row);
    generateRows(seed, d, n + 1000 + i, 1, noise);
    const w = i % 2 === 0 ? 0.3 : 20;
    for (let c = 0; c < d; c++) out[i * d + c] = row[c] + w * noise[c];
  }
  return out;
}

/** Exact float64 top-k of `nq` queries, and exact cosines of the rows the backend returned, by streaming every row. */
function exactPass(
  seed: number,
  n: number,
  d: number,
  k: number,
  queries: Float32Array,
  nq: number,
  wanted: readonly Set<number>[],
) {
  const qn: number[] = [];
  for (let i = 0; i < nq; i++) {
    let s = 0;
    for (let c = 0; c < d; c++) s += queries[i * d + c] ** 2;
    qn.push(Math.sqrt(s));
  }
  const top: [number, number][][] = Array.from({ length: nq }, () => []);
  const scoreOf: Map<number, number>[] = Array.from({ length: nq }, () => new Map());
  // int8's error bound on a cosine, e(x) + e(q) + e(x)e(q) with e(v) = sqrt(d) max|v| / (254 |v|).
  const e = (v: Float32Array, o: number, norm: number) => {
    let m = 0;
    for (let c = 0; c < d; c++) m = Math.max(m, Math.abs(v[o + c]));
    return (Math.sqrt(d) * m) / (254 * norm);
  };
  const eq = qn.map((n, i) => e(queries, i * d, n));
  const boundOf: Map<number, number>[] = Array.from({ length: nq }, () => new Map());
  let worstBound = 0;
  const buf = new Float32Array(CHUNK * d);
  for (let i0 = 0; i0 < n; i0 += CHUNK) {
    const rows = Math.min(CHUNK, n - i0);
    generateRows(seed, d, i0, rows, buf);
    for (let j = 0; j < rows; j++) {
      const o = j * d;
      let nn = 0;
      for (let c = 0; c < d; c++) nn += buf[o + c] * buf[o + c];
      nn = Math.sqrt(nn);
      for (let i = 0; i < nq; i++) {
        const qo = i * d;
        let dot = 0;
        for (let c = 0; c < d; c++) dot += queries[qo + c] * buf[o + c];
        const cos = dot / (qn[i] * nn);
        if (wanted[i].has(i0 + j)) {
          scoreOf[i].set(i0 + j, cos);
          const ex = e(buf, o, nn);
          const b = ex + eq[i] + ex * eq[i];
          boundOf[i].set(i0 + j, b);
          worstBound = Math.max(worstBound, b);
        }
        const t = top[i];
        if (t.length < k || cos > t[t.length - 1][0]) {
          t.push([cos, i0 + j]);
          t.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
          if (t.length > k) t.pop();
        }
      }
    }
  }
  return { top, scoreOf, boundOf, worstBound };
}

/** Recall (float32 ties within the tolerance of the k-th exact score count) and score error of one search's first rows. */
function judge(
  out: TopKResult,
  rows: number,
  k: number,
  exact: ReturnType<typeof exactPass>,
  int8: boolean,
): Omit<Accuracy, 'ok' | 'tolerance'> & { withinBounds: boolean } {
  let hit = 0;
  let err = 0;
  let within = true;
  for (let i = 0; i < rows; i++) {
    const top = exact.top[i];
    const ids = new Set(top.map((e) => e[1]));
    const kth = top[top.length - 1][0];
    for (let t = 0; t < k; t++) {
      const idx = out.indices[i * k + t];
      const cos = exact.scoreOf[i].get(idx);
      if (cos === undefined) {
        err = Number.POSITIVE_INFINITY;
        within = false;
        continue;
      }
      const off = Math.abs(out.scores[i * k + t] - cos);
      err = Math.max(err, off);
      // int8 scores: each within its own row's bound.
      if (off > (int8 ? exact.boundOf[i].get(idx)! : TOLERANCE)) within = false;
      // A row within the tolerance (int8: twice the worst bound) of the k-th exact score is as good.
      if (ids.has(idx) || cos >= kth - (int8 ? 2 * exact.worstBound : TOLERANCE)) hit++;
    }
  }
  return { maxAbsError: err, recall: hit / (rows * k), checkedRows: rows, withinBounds: within };
}

interface NodeProcess {
  memoryUsage?: () => { rss: number; external: number; arrayBuffers: number };
  resourceUsage?: () => { maxRSS: number };
}

/** Process RSS where there is a process (Node), else undefined (browsers). */
function rss(): number | undefined {
  return (globalThis as { process?: NodeProcess }).process?.memoryUsage?.().rss;
}

/** Peak RSS, V8's external and array buffer bytes, where there is a process. */
function processMemory(): { rssPeak?: number; external?: number; arrayBuffers?: number } {
  const p = (globalThis as { process?: NodeProcess }).process;
  const m = p?.memoryUsage?.();
  const peak = p?.resourceUsage?.().maxRSS;
  return {
    ...(peak !== undefined ? { rssPeak: peak * 1024 } : {}),
    ...(m ? { external: m.external, arrayBuffers: m.arrayBuffers } : {}),
  };
}

/** `1.83 GB`, `370 MB`, `0.3 MB`, `12 KB`. */
export function fmtBytes(b: number | undefined): string {
  if (b === undefined || !Number.isFinite(b)) return '?';
  const a = Math.abs(b);
  if (a >= 2 ** 30) return `${(b / 2 ** 30).toFixed(2)} GB`;
  if (a >= 2 ** 20) return `${(b / 2 ** 20).toFixed(1)} MB`;
  if (a >= 2 ** 10) return `${(b / 2 ** 10).toFixed(1)} KB`;
  return `${b} B`;
}

/**
 * Runs the preset on a wasm backend: build from chunks, then time 1 query and `spec.size.q` queries
 * (at most `settings.reps` repetitions each after `settings.warmup`, fewer once the budget is spent,
 * never under three), with the allocator's peak measured over every timed search. Returns one result
 * per query count, both carrying the memory figures.
 */
export async function runMillion(
  kit: CosineKit,
  backend: Backend,
  contender: string,
  spec: WorkloadSpec,
  settings: RunSettings,
): Promise<BenchResult[]> {
  const { q, n, d } = spec.size;
  const k = spec.size.k ?? 10;
  const seed = settings.seed;
  const api = backend as unknown as WasmMemoryApi;
  const wasmBytes = () => Number(api.describe().wasmMemoryBytes ?? 0);
  const rssBefore = rss();
  const wasmBefore = wasmBytes();
  const residentBefore = api.memory().bytes;
  const plan = PLANS[spec.id] ?? PLANS.million;
  const int8Scores = plan.rerank === 0;
  const segmentBytes = plan.fullRows
    ? Math.max(64 * 1024, Math.round((plan.segmentBytes * Math.min(n, plan.fullRows)) / plan.fullRows))
    : plan.segmentBytes;
  const t0 = now();
  const corpus = await kit.corpusFrom(chunksOf(seed, n, d), {
    storage: 'int8',
    rerank: plan.rerank,
    segmentBytes,
  });
  try {
    const buildMs = now() - t0;
    if (corpus.backend !== backend.name || corpus.storage !== 'int8')
      throw new Error(`${backend.name} did not keep the corpus as int8 (held by '${corpus.backend}')`);
    const resident = api.memory().bytes;
    const wasmAfter = wasmBytes();
    const shards = api.shards?.().map((s) => ({ memoryBytes: s.memoryBytes, usedBytes: s.usedBytes }));
    const queries = millionQueries(seed, q, n, d);
    const search = async (rows: number): Promise<TopKResult> =>
      corpus.search(new Tensor(queries.subarray(0, rows * d), rows, d), k);
    const time = async (rows: number) => {
      for (let i = 0; i < settings.warmup; i++) await search(rows);
      const samples: number[] = [];
      const start = now();
      let last: TopKResult | undefined;
      while (
        samples.length < settings.reps &&
        (samples.length < 3 || now() - start < settings.budgetSeconds * 1000)
      ) {
        const s = now();
        last = await search(rows);
        samples.push(now() - s);
      }
      return { timing: summarize(samples, 1), out: last ?? (await search(rows)) };
    };
    api.memoryPeak(); // starts a new measurement: the peak below is the searches' alone
    const wasmBeforeSearch = wasmBytes();
    const one = await time(1);
    const many = await time(q);
    const peak = api.memoryPeak();
    const memory: MillionMemory = {
      wasmBefore,
      wasmAfter,
      corpusBytes: resident - residentBefore,
      searchPeakExtra: Math.max(0, peak - resident),
      wasmGrowthDuringSearch: wasmBytes() - wasmBeforeSearch,
      buildMs,
      ...(rssBefore !== undefined ? { rssBefore } : {}),
      ...(rss() !== undefined ? { rssAfter: rss() } : {}),
      ...processMemory(),
      ...(shards ? { shards } : {}),
    };
    const nq = Math.min(MILLION_EXACT_QUERIES, q);
    const wanted = Array.from({ length: nq }, (_, i) => {
      const s = new Set<number>();
      for (let t = 0; t < k; t++) {
        s.add(many.out.indices[i * k + t]);
        if (i === 0) s.add(one.out.indices[t]);
      }
      return s;
    });
    const exact = exactPass(seed, n, d, k, queries, nq, wanted);
    const rssNote =
      (memory.rssBefore !== undefined && memory.rssAfter !== undefined
        ? `; RSS ${fmtBytes(memory.rssBefore)} -> ${fmtBytes(memory.rssAfter)}`
        : '') +
      (memory.rssPeak !== undefined ? `, peak ${fmtBytes(memory.rssPeak)}` : '') +
      (memory.external !== undefined
        ? `; external ${fmtBytes(memory.external)}, arrayBuffers ${fmtBytes(memory.arrayBuffers)}`
        : '') +
      (shards && shards.length > 1
        ? `; wasm memory per instance ${shards.map((s) => fmtBytes(s.memoryBytes)).join(', ')}`
        : '');
    const row = (rows: number, m: Awaited<ReturnType<typeof time>>, note: string): BenchResult => {
      const { withinBounds, ...judged } = judge(m.out, Math.min(rows, nq), k, exact, int8Scores);
      const ok = withinBounds && (judged.recall ?? 0) >= MIN_RECALL;
      const tolerance = int8Scores ? exact.worstBound : TOLERANCE;
      const msPerQuery = m.timing.median / rows;
      return {
        workload: spec.id,
        contender,
        role: 'backend',
        method: `int8 corpus from chunks (kit.corpusFrom), ${int8Scores ? 'int8 scores' : `re-rank ${plan.rerank}k`}${shards && shards.length > 1 ? ` over ${shards.length} wasm instances` : ''}, ${rows} quer${rows === 1 ? 'y' : 'ies'}`,
        ranBy: backend.name,
        size: { ...spec.size, q: rows },
        shrunk: false,
        status: ok ? 'ok' : 'wrong',
        note: `${msPerQuery.toPrecision(3)} ms/query; ${note}${ok ? '' : `; held to recall >= ${MIN_RECALL} and error <= ${int8Scores ? "each row's int8 bound" : TOLERANCE}`}`,
        timing: m.timing,
        setupMs: buildMs,
        gflops: (2 * rows * n * d) / (m.timing.median * 1e6),
        nsPerPair: (m.timing.median * 1e6) / (rows * n),
        accuracy: { ...judged, tolerance, ok },
        memory,
        msPerQuery,
      };
    };
    return [
      row(
        1,
        one,
        `corpus ${fmtBytes(memory.corpusBytes)} resident; wasm memory ${fmtBytes(wasmBefore)} before the build, ${fmtBytes(wasmAfter)} after${rssNote}`,
      ),
      row(
        q,
        many,
        `extra memory during search ${fmtBytes(memory.searchPeakExtra)} (allocator peak minus the corpus, reset before the searches); wasm memory grew ${fmtBytes(memory.wasmGrowthDuringSearch)} during them`,
      ),
    ];
  } finally {
    corpus.dispose();
  }
}
