import {
  argError,
  type Matrix,
  pickRows,
  type TopKResult,
  TopKSelector,
  throughTies,
} from '@cosinekit/core/backend';
import { dotsI8, dotsI8Batch, newResult } from '../engine.js';
import type { WasmRuntime } from '../runtime.js';
import { WasmSelection } from '../select.js';
import { packRows, type RowSource, readRows, type Staged } from '../staging.js';

/** int8 rows in wasm memory: `rows` rows of `stride` bytes, and one float32 scale per row. */
export interface Quantized {
  readonly ptr: number;
  readonly scales: number;
  readonly rows: number;
  readonly cols: number;
  /** Bytes per row: `cols` rounded up to a multiple of 16. */
  readonly stride: number;
}

/** Raw rows copied into wasm at once while quantising (bytes). */
const CHUNK = 4 * 1024 * 1024;
/** Scores per tile of an int8 search, query by query (floats). */
const TILE = 64 * 1024;
/** From this many queries, an int8 search runs them in groups over cache-sized tiles of rows. */
const BATCH_MIN_QUERIES = 4;
/** Queries per group. */
const BATCH_QUERIES = 64;
/** Bytes of int8 rows per tile of a grouped search (shared between the threads; L2 holds it). */
const BATCH_TILE_BYTES = 1024 * 1024;

/** The rows of `x` normalised and quantised to int8 (one scale per row) in new blocks. */
export function quantizeRows(rt: WasmRuntime, x: Matrix | RowSource, op: string): Quantized {
  const { rows, cols: d } = x;
  const stride = Math.ceil(d / 16) * 16;
  const ptr = rt.alloc(rows * stride, op);
  let scales = -1;
  let tmp = -1;
  try {
    scales = rt.alloc(rows * 4, op);
    const chunkRows = Math.max(1, Math.floor(CHUNK / (d * 4)));
    tmp = rt.alloc(Math.min(rows, chunkRows) * d * 4, op);
    for (let i0 = 0; i0 < rows; i0 += chunkRows) {
      const r = Math.min(chunkRows, rows - i0);
      rt.f32.set(readRows(x, i0, r, op, 'rows'), tmp >>> 2);
      const bad = rt.exports.quantizeRows(tmp, r, d, ptr + i0 * stride, stride, scales + i0 * 4);
      if (bad >= 0) argError('NON_FINITE', op, 'rows', `holds NaN or ±Infinity in row ${i0 + bad}.`);
    }
  } catch (err) {
    rt.free(ptr);
    if (scales >= 0) rt.free(scales);
    throw err;
  } finally {
    if (tmp >= 0) rt.free(tmp);
  }
  return { ptr, scales, rows, cols: d, stride };
}

/**
 * int8 rows given as they were stored (codes and scales, from `exportCorpus` or a saved file), in
 * new blocks: nothing is normalised or quantised again, so they search exactly as before.
 */
export function uploadQuantized(
  rt: WasmRuntime,
  codes: Int8Array,
  scales: Float32Array,
  rows: number,
  d: number,
  op: string,
): Quantized {
  const stride = Math.ceil(d / 16) * 16;
  const ptr = rt.alloc(rows * stride, op);
  let sp = -1;
  try {
    sp = rt.upload(scales, op);
    const bytes = new Int8Array(rt.f32.buffer, ptr, rows * stride);
    bytes.fill(0);
    for (let i = 0; i < rows; i++) bytes.set(codes.subarray(i * d, (i + 1) * d), i * stride);
  } catch (err) {
    rt.free(ptr);
    throw err;
  }
  return { ptr, scales: sp, rows, cols: d, stride };
}

/** The codes (`rows * cols`, padding dropped) and scales of int8 rows, copied out of wasm memory. */
export function downloadQuantized(rt: WasmRuntime, q: Quantized): { codes: Int8Array; scales: Float32Array } {
  const codes = new Int8Array(q.rows * q.cols);
  const bytes = new Int8Array(rt.f32.buffer, q.ptr, q.rows * q.stride);
  for (let i = 0; i < q.rows; i++) codes.set(bytes.subarray(i * q.stride, i * q.stride + q.cols), i * q.cols);
  return { codes, scales: rt.download(q.scales, q.rows) };
}

function freeQuantized(rt: WasmRuntime, q: Quantized): void {
  rt.free(q.ptr);
  rt.free(q.scales);
}

/**
 * Whether a re-ranking int8 search that re-scores `pool` candidates a query among `n` rows of `d`
 * should scan the float32 rows the corpus keeps instead and take their exact top k directly: the
 * same rows and bits (a re-ranked search returns the float32 search's answer), so the choice is
 * cost alone. A cost model per query, in units of about 0.05 ns on the machine it was fitted on
 * (2-vCPU Zen 4, one thread; 20,000 rows, d = 8 to 1536, 1 to 64 queries):
 * - a float32 scan costs 26 + 1.6 d a row for one query while the rows fit in 16 MiB (a cache),
 *   26 + 4 d past that (memory, about 20 GB/s), and 15 + 0.87 d a row per query in a batch (the
 *   panel kernel reads each row once for all of them);
 * - an int8 scan 49 + 0.76 d a row for one query, 45 + 0.65 d in a batch: a row's scale and its
 *   place in the selection cost more than its codes at small d (the model that priced a value at
 *   2.6 against float32's 4, and nothing a row, kept d = 8 on int8 at 2-4x the float32 scan's time);
 * - re-scoring 8 d + 1500 a candidate: the pool and half the spare rows the scan keeps past it (8
 *   the pool, at most 256), which at small d lie within the int8 error bound and are re-scored.
 * k = 1000 of 20,000 rows took 4-11 times the float32 search when this always chose int8 (18-143 ms
 * against 3-27); k = 600 at d = 1536 stays on int8 (one query: 5.4 ms against 6.5).
 * `tuning.rescoreWeight` weighs the re-scoring term (0: never scan the float32 rows; `Infinity`:
 * always).
 */
export function scansFloat(rt: WasmRuntime, pool: number, n: number, d: number, queries = 1): boolean {
  const w = rt.tuning.rescoreWeight;
  if (w === 0) return false;
  if (w === Number.POSITIVE_INFINITY) return true;
  const alone = queries === 1;
  // One query streams the rows: about 1.6 a value while they fit in a cache (16 MiB here), 4 from memory.
  const float = n * (alone ? 26 + (4 * n * d <= 2 ** 24 ? 1.6 : 4) * d : 15 + 0.87 * d);
  const int8 = n * (alone ? 49 + 0.76 * d : 45 + 0.65 * d);
  const rescored = pool + Math.min(8 * pool, 256) / 2;
  return int8 + w * rescored * (8 * d + 1500) > float;
}

/**
 * Top-k against an int8 corpus: approximate scores tile by tile into a running selection of
 * `rerank x k` candidates per query (k without re-ranking), then, with float32 rows at hand, exact
 * scores of those candidates and the final k.
 */
export function quantizedSearch(
  rt: WasmRuntime,
  c: Quantized,
  float: Staged | undefined,
  rerank: number,
  queries: Matrix,
  k: number,
  floatSearch: (queries: Matrix) => TopKResult,
  crowd: CrowdHistory,
): TopKResult {
  const op = 'corpusSearch';
  const n = c.rows;
  const exact = float !== undefined && rerank > 0;
  if (!exact) return scanI8(rt, c, queries, k, op);
  return rerankExact(rt, float, queries, k, (take, final) => {
    const crowded = throughTies(
      Math.min(n, rerank * k),
      n,
      queries.rows,
      (w, q0, q1) => scanI8(rt, c, someRows(queries, q0, q1), w, op),
      take,
      (group, edges) => i8AtLeast(rt, c, allI8Rows(c), queries, group, edges, op),
      settling(rt, c, queries, final, n, floatSearch),
    );
    crowd.record(queries.rows, crowded);
  });
}

/**
 * How throughTies makes a re-ranked search of `queries` against `c` exact (`n` rows it may choose,
 * `final` its selection): the int8 error bound (errorBounds), as many rows re-scored as cost less
 * than a float32 scan (the cost model of scansFloat), and `floatSearch` answering the others.
 */
export function settling(
  rt: WasmRuntime,
  c: Quantized,
  queries: Matrix,
  final: TopKSelector,
  n: number,
  floatSearch: (queries: Matrix) => TopKResult,
): Parameters<typeof throughTies>[6] {
  const w = rt.tuning.rescoreWeight;
  const d = c.cols;
  const k = final.k;
  return {
    bound: errorBounds(rt, c, queries),
    kth: (i) => final.threshold(i),
    reset: (i) => final.reset(i),
    // A zero query scores 0 against every row, int8 and float32 alike.
    zero: (i) => {
      for (let j = i * d; j < (i + 1) * d; j++) if (queries.data[j] !== 0) return false;
      return true;
    },
    most: w === 0 ? Number.POSITIVE_INFINITY : Math.floor((4 * n * d) / (w * (8 * d + 5000))),
    // Crowded queries: the float32 rows scanned whole (the same scores as re-scoring gives).
    whole: (group) => {
      const r = floatSearch(pickRows(queries, group));
      for (let t = 0; t < group.length; t++) {
        final.reset(group[t]);
        for (let j = t * k; j < t * k + Math.min(k, n); j++) final.push(group[t], r.scores[j], r.indices[j]);
      }
    },
  };
}

/**
 * How crowded a corpus's re-ranked searches have been lately. A crowded query (see throughTies)
 * costs one more pass over the rows: a second int8 pass listing every row within the error bound
 * of its k-th score (2.6 a value by scansFloat's costs, plus the rows re-scored), or a float32 scan
 * (4 a value). Where most queries crowd, the first int8 scan (2.6) is wasted beside a float32 scan
 * alone: 200,000 clustered rows of 384, 100 queries, took 2.1x the float32 search, and random
 * 1536-d rows (whose top k the bound, a worst case, rarely separates) 1.9x. It keeps a running share
 * of the crowded queries of the int8 searches, a listed query weighing 0.6 and one scanned whole 1
 * (each search weighing half of the share), and while the share is at least half, searches scan the
 * float32 rows directly, trying the int8 scan again every 8th search (the queries change, the rows
 * do not). Both give the same answer, bit for bit: only the time differs. `tuning.rescoreWeight` 0
 * never scans the float32 rows directly.
 */
export class CrowdHistory {
  #share = 0;
  #skipped = 0;

  /** The running share of crowded queries, 0 to 1. */
  get share(): number {
    return this.#share;
  }

  /** Whether this search should scan the float32 rows directly. */
  skip(): boolean {
    if (this.#share < 0.5) return false;
    this.#skipped++;
    return this.#skipped % 8 !== 0;
  }

  /** Records an int8 search of `queries` queries, of which `crowded.listed` were listed and `crowded.whole` scanned whole. */
  record(queries: number, crowded: { listed: number; whole: number }): void {
    if (queries > 0)
      this.#share = 0.5 * this.#share + (0.5 * (0.6 * crowded.listed + crowded.whole)) / queries;
  }
}

/** The largest row scale of each int8 corpus, found once. */
const largestScale = new WeakMap<Quantized, number>();

/**
 * How far each query's int8 score of any row of `c` may lie from its float32 search score (see
 * throughTies): the query and the row each rounded to half their scale a value, `e(v) = sqrt(d) *
 * scale / 2` (Cauchy-Schwarz, with room for the quantiser's float32 steps; for a row, 2^-22 a value
 * more, as far as a loaded file's codes may lie from its float32 rows), so the score is within
 * `e(x) + e(q) + e(x) e(q)` of the cosine, with e(x) of the row of largest scale; the float32 search
 * within `d * 2^-24` of it; and 2^-20 for the int8 score's float32 products and a float32 tie.
 */
function errorBounds(rt: WasmRuntime, c: Quantized, queries: Matrix): (i: number) => number {
  let most = largestScale.get(c);
  if (most === undefined) {
    most = 0;
    const scales = rt.f32.subarray(c.scales >>> 2, (c.scales >>> 2) + c.rows);
    for (let r = 0; r < c.rows; r++) most = Math.max(most, Math.abs(scales[r]));
    largestScale.set(c, most);
  }
  const d = queries.cols;
  const root = Math.sqrt(d);
  const ex = root * (most * 0.5001 + 2 ** -22);
  return (i) => {
    let m = 0;
    let ss = 0;
    for (let j = i * d; j < (i + 1) * d; j++) {
      const v = queries.data[j];
      m = Math.max(m, Math.abs(v));
      ss += v * v;
    }
    const eq = ss > 0 ? root * (m / Math.sqrt(ss) / 127) * 0.5001 : 0;
    return ex + eq + ex * eq + d * 2 ** -24 + 2 ** -20;
  };
}

/**
 * The rows an int8 scan passes over, numbered `0 .. count - 1` in the scan's own order (a corpus's
 * rows, or the rows a filter passes), handed out a block at a time: `blocks(nt, each)` calls
 * `each(ptr, scales, w, j0, mask)` for rows `j0 .. j0 + w - 1` (at most `nt`) at `ptr` with their
 * scales at `scales`, `mask` a byte a row (1 to pass) or 0 when all of them pass.
 */
export interface I8Rows {
  readonly count: number;
  blocks(nt: number, each: (ptr: number, scales: number, w: number, j0: number, mask: number) => void): void;
}

/** Every row of `c`, in place. */
export function allI8Rows(c: Quantized): I8Rows {
  return {
    count: c.rows,
    blocks(nt, each) {
      for (let j0 = 0; j0 < c.rows; j0 += nt) {
        const w = Math.min(nt, c.rows - j0);
        each(c.ptr + j0 * c.stride, c.scales + j0 * 4, w, j0, 0);
      }
    },
  };
}

/**
 * For each query of `group` (rows of `queries`), the rows of `rows` (ascending, in its numbering)
 * whose int8 score is at least its entry of `edges`: one pass over the rows for the whole group,
 * grouped as {@link scanI8} groups queries, each score the very one the scans compute (integer
 * sums, clamped where computed). See throughTies: these are queries whose ties at the re-rank
 * boundary fill their selection.
 */
export function i8AtLeast(
  rt: WasmRuntime,
  c: Quantized,
  rows: I8Rows,
  queries: Matrix,
  group: readonly number[],
  edges: readonly number[],
  op: string,
): { rows: Int32Array; next: number }[] {
  const gq = group.length;
  const found = group.map(() => new Int32Array(64));
  const next = group.map(() => Number.NEGATIVE_INFINITY);
  const count = new Array<number>(gq).fill(0);
  const fit = Math.min(BATCH_TILE_BYTES / c.stride, TILE / gq);
  const nt = Math.min(rows.count, Math.max(4, Math.floor(fit / 4) * 4));
  let tile = -1;
  let q: Quantized | undefined;
  try {
    q = quantizeRows(rt, pickRows(queries, group), op);
    tile = rt.alloc(gq * nt * 4, op);
    const qq = q;
    rows.blocks(nt, (ptr, scales, w, j0, mask) => {
      dotsI8Batch(rt, qq.ptr, gq, qq.scales, ptr, w, c.stride, scales, tile, w);
      const f = rt.f32;
      const pass = mask === 0 ? null : new Uint8Array(rt.memory.buffer, mask, w);
      for (let t = 0; t < gq; t++) {
        const at = (tile >>> 2) + t * w;
        const edge = edges[t];
        for (let u = 0; u < w; u++) {
          if (pass !== null && pass[u] !== 1) continue;
          const v = f[at + u];
          if (v < edge) {
            if (v > next[t]) next[t] = v;
            continue;
          }
          if (count[t] === found[t].length) {
            const grown = new Int32Array(2 * count[t]);
            grown.set(found[t]);
            found[t] = grown;
          }
          found[t][count[t]++] = j0 + u;
        }
      }
    });
  } finally {
    if (tile >= 0) rt.free(tile);
    if (q) freeQuantized(rt, q);
  }
  return found.map((f, t) => ({ rows: f.subarray(0, count[t]), next: next[t] }));
}

/** Rows `q0 .. q1 - 1` of `m` (a view; `m` itself for all of them). */
export function someRows(m: Matrix, q0: number, q1: number): Matrix {
  return q0 === 0 && q1 === m.rows
    ? m
    : { data: m.data.subarray(q0 * m.cols, q1 * m.cols), rows: q1 - q0, cols: m.cols };
}

/** The `cand` best rows of each query by int8 score (ties to the lower row): a running selection over tiles. */
function scanI8(rt: WasmRuntime, c: Quantized, queries: Matrix, cand: number, op: string): TopKResult {
  const n = c.rows;
  const batch = queries.rows >= BATCH_MIN_QUERIES;
  // Heaps for one query at a time, or for one group of queries (see below).
  const qg = batch ? Math.min(queries.rows, BATCH_QUERIES) : 1;
  const sel = new WasmSelection(rt, queries.rows, cand, qg, op, n);
  const f = () => rt.f32;
  let tile = -1;
  let q: Quantized | undefined;
  try {
    q = quantizeRows(rt, queries, op);
    if (!batch) {
      // Query by query, over tiles of up to TILE rows.
      const nt = Math.min(n, TILE);
      tile = rt.alloc(nt * 4, op);
      for (let i = 0; i < queries.rows; i++) {
        const qscale = f()[(q.scales >>> 2) + i];
        for (let j0 = 0; j0 < n; j0 += nt) {
          const w = Math.min(nt, n - j0);
          dotsI8(
            rt,
            q.ptr + i * q.stride,
            qscale,
            c.ptr + j0 * c.stride,
            w,
            c.stride,
            c.scales + j0 * 4,
            tile,
          );
          sel.offer(i, tile, w, j0);
        }
        sel.done(i, 1);
      }
    } else {
      // Groups of queries over tiles of rows that stay in cache while each query of the group passes
      // over them, so the rows are read from memory once per group rather than once per query. The
      // scores are the same: each is the same dotsI8 over rows in groups of 4 from a multiple of 4.
      const fit = Math.min(BATCH_TILE_BYTES / c.stride, TILE / qg);
      const nt = Math.min(n, Math.max(4, Math.floor(fit / 4) * 4));
      tile = rt.alloc(qg * nt * 4, op);
      for (let g0 = 0; g0 < queries.rows; g0 += qg) {
        const gq = Math.min(qg, queries.rows - g0);
        for (let j0 = 0; j0 < n; j0 += nt) {
          const w = Math.min(nt, n - j0);
          dotsI8Batch(
            rt,
            q.ptr + g0 * q.stride,
            gq,
            q.scales + g0 * 4,
            c.ptr + j0 * c.stride,
            w,
            c.stride,
            c.scales + j0 * 4,
            tile,
            w,
          );
          sel.offerTile(g0, gq, tile, w, j0);
        }
        sel.done(g0, gq);
      }
    }
  } finally {
    if (tile >= 0) rt.free(tile);
    sel.dispose();
    if (q) freeQuantized(rt, q);
  }
  return sel.result();
}

/**
 * Exact scores of each query's candidates (see throughTies), from the float32 rows kept beside the
 * int8 codes: `take(i, rows)` rescores query `i`'s candidates into the final top-k as they come,
 * so only one query's candidates are held at a time; it answers their scores (a view of wasm
 * memory, valid until the next call). `final` is the selection they go into.
 */
export function rerankExact(
  rt: WasmRuntime,
  float: Staged,
  queries: Matrix,
  k: number,
  each: (take: (i: number, rows: Int32Array) => Float32Array, final: TopKSelector) => void,
): TopKResult {
  const op = 'corpusSearch';
  const final = new TopKSelector(queries.rows, k);
  const steps = float.rowBytes >>> 4;
  // The queries as plain normalised rows: panels of one row.
  const qs = rt.alloc(queries.rows * float.rowBytes, op);
  let raw = -1;
  let idx = -1;
  let out = -1;
  let room = 0;
  try {
    raw = rt.upload(queries.data, op);
    packRows(rt, raw, queries.rows, queries.cols, qs, 1, true, op, 'queries', 0);
    each((i, rows) => {
      const m = rows.length;
      if (m > room) {
        if (idx >= 0) rt.free(idx);
        if (out >= 0) rt.free(out);
        idx = out = -1;
        room = Math.max(m, 2 * room);
        idx = rt.alloc(room * 4, op);
        out = rt.alloc(room * 4, op);
      }
      new Int32Array(rt.f32.buffer, idx, m).set(rows);
      rt.exports.rowDots(qs + i * float.rowBytes, float.ptr, rt.tileCols, steps, idx, m, out);
      const scores = rt.f32.subarray(out >>> 2, (out >>> 2) + m);
      for (let t = 0; t < m; t++) final.push(i, scores[t], rows[t]);
      return scores;
    }, final);
  } finally {
    rt.free(qs);
    if (raw >= 0) rt.free(raw);
    if (idx >= 0) rt.free(idx);
    if (out >= 0) rt.free(out);
  }
  return final.result();
}

/** Approximate cosine matrix against an int8 corpus: one quantised query row at a time (clamped in wasm). */
export function quantizedMatrix(
  rt: WasmRuntime,
  c: Quantized,
  queries: Matrix,
  out?: Float32Array,
): Float32Array {
  const op = 'corpusMatrix';
  const n = c.rows;
  // Each query's scan is shared by the helpers above threadMinFlopsI8 (see dotsI8).
  const o = out ?? newResult(rt, queries.rows * n, n * c.stride * 2 >= rt.tuning.threadMinFlopsI8);
  const q = quantizeRows(rt, queries, op);
  let row = -1;
  try {
    row = rt.alloc(n * 4, op);
    for (let i = 0; i < queries.rows; i++) {
      const qscale = rt.f32[(q.scales >>> 2) + i];
      // Each thread copies the rows it scanned into the result (share.ts, CopyOut).
      const copy = { dest: o, lines: 1, src: row >>> 2, srcStride: n, dst: i * n, dstStride: n };
      dotsI8(rt, q.ptr + i * q.stride, qscale, c.ptr, n, c.stride, c.scales, row, copy);
    }
  } finally {
    if (row >= 0) rt.free(row);
    freeQuantized(rt, q);
  }
  return o;
}
