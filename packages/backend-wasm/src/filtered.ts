/**
 * `corpusSearchAllowed`: search among the rows a filter passes only, so that time falls with the
 * share that passes. Two ways, chosen by that share:
 * - few rows pass (below {@link gatherBelow}): their rows are gathered, a block at a time, into a
 *   compact block in the engine's layout, and the dot-product engine scores only those (each score
 *   is the very dot product an unfiltered search computes for that row: the same kernel over the
 *   same 16-byte chunks in the same order);
 * - many pass: the corpus is streamed as an unfiltered search streams it, tiles with no passing row
 *   are skipped, and a row that fails is never offered to the selection.
 * int8 corpora scan their quantised rows with failing rows kept out of the candidates (`rerank x k`
 * among the passing rows, then re-ranked exactly, as `corpusSearch` does over all rows).
 */
import {
  foreignCorpus,
  type Matrix,
  type ResidentCorpus,
  type TopKResult,
  TopKSelector,
} from '@cosinekit/core/backend';
import { dots, dotsI8Batch } from './engine.js';
import { WasmCorpus } from './kernels/corpus.js';
import { type Quantized, quantizeRows, rerankExact } from './kernels/quantized.js';
import type { WasmRuntime } from './runtime.js';
import { type Staged, stageQueries } from './staging.js';

/**
 * Below this share of passing rows, gathering them costs less than streaming every row. A gathered
 * row is read 16 bytes per cache line of its panel, so gathering costs several times what scoring
 * it against one query does, and the crossover rises with the number of queries that share the
 * gathered block: timed on 100k x 384, one thread, it sat near 10% of the rows for 1 query and near
 * 25% for 8 (both ways timed by corpusSearchAllowed with shares from 1% to 50%).
 */
export function gatherBelow(queries: number): number {
  return Math.min(0.25, 0.075 + 0.025 * queries);
}
/** Scores per tile (floats), as an unfiltered search uses. */
const SEARCH_TILE = 64 * 1024;
/** Bytes of int8 rows per tile of the filtered int8 scan (L2-sized, as the unfiltered one). */
const I8_TILE_BYTES = 1024 * 1024;
/** Queries per group of the int8 scan. */
const I8_QUERIES = 64;

const op = 'corpusSearchAllowed';

/** `corpusSearchAllowed` on the wasm backend; see the module's comment. */
export function corpusSearchAllowed(
  rt: WasmRuntime,
  corpus: ResidentCorpus,
  queries: Matrix,
  k: number,
  allow: Uint8Array,
): TopKResult {
  if (!(corpus instanceof WasmCorpus)) foreignCorpus(op, corpus.backend, 'wasm');
  corpus.check(rt, op);
  const n = corpus.rows;
  // before[j]: rows passing among [0, j), so a tile's count is one subtraction.
  const before = new Int32Array(n + 1);
  for (let j = 0; j < n; j++) before[j + 1] = before[j] + (allow[j] === 1 ? 1 : 0);
  const passing = before[n];
  const q8 = corpus.int8(rt, op);
  const float = corpus.float(rt, op);
  if (q8) return int8Allowed(rt, q8, float, corpus.rerank, queries, k, allow, before);
  const sel = new TopKSelector(queries.rows, k);
  const sq = stageQueries(rt, queries, true, op);
  try {
    if (passing < gatherBelow(queries.rows) * n) gathered(rt, sq, float!, allow, passing, sel);
    else streamed(rt, sq, float!, allow, before, sel);
  } finally {
    rt.free(sq.ptr);
  }
  return sel.result();
}

/** Query rows and corpus rows per tile, whole panels, as an unfiltered search tiles. */
function tiling(rt: WasmRuntime, queries: number, rows: number): { qt: number; nt: number } {
  const R = rt.tileRows;
  const C = rt.tileCols;
  const qt = Math.min(queries, Math.floor(256 / R) * R);
  const nt = Math.min(rows, Math.max(C, Math.floor(Math.max(64, SEARCH_TILE / qt) / C) * C));
  return { qt, nt };
}

/** Every tile with a passing row, scored in place; passing rows offered to the selection. */
function streamed(
  rt: WasmRuntime,
  q: Staged,
  c: Staged,
  allow: Uint8Array,
  before: Int32Array,
  sel: TopKSelector,
): void {
  const { qt, nt } = tiling(rt, q.rows, c.rows);
  const tile = rt.alloc(qt * nt * 4, op);
  try {
    for (let i0 = 0; i0 < q.rows; i0 += qt) {
      const rq = Math.min(qt, q.rows - i0);
      for (let j0 = 0; j0 < c.rows; j0 += nt) {
        const w = Math.min(nt, c.rows - j0);
        const count = before[j0 + w] - before[j0];
        if (count === 0) continue;
        dots(rt, q.ptr + i0 * q.rowBytes, rq, c.ptr + j0 * c.rowBytes, w, q.rowBytes, tile, w, true);
        const f = rt.f32;
        const base = tile >>> 2;
        for (let i = 0; i < rq; i++) {
          const at = base + i * w;
          if (count === w) {
            sel.pushRow(i0 + i, f, at, j0, w);
            continue;
          }
          let th = sel.floor(i0 + i);
          for (let t = 0; t < w; t++) {
            if (allow[j0 + t] !== 1 || f[at + t] < th) continue;
            sel.push(i0 + i, f[at + t], j0 + t);
            th = sel.floor(i0 + i);
          }
        }
      }
    }
  } finally {
    rt.free(tile);
  }
}

/** The passing rows gathered a block at a time into a compact block, and only those scored. */
function gathered(
  rt: WasmRuntime,
  q: Staged,
  c: Staged,
  allow: Uint8Array,
  passing: number,
  sel: TopKSelector,
): void {
  const rows = new Int32Array(passing);
  for (let j = 0, t = 0; t < passing; j++) if (allow[j] === 1) rows[t++] = j;
  const C = rt.tileCols;
  const { qt, nt } = tiling(rt, q.rows, passing);
  const steps = c.rowBytes >>> 4;
  const block = rt.alloc(Math.ceil(nt / C) * C * c.rowBytes, op);
  let idx = -1;
  let tile = -1;
  try {
    idx = rt.alloc(nt * 4, op);
    tile = rt.alloc(qt * nt * 4, op);
    for (let g0 = 0; g0 < passing; g0 += nt) {
      const w = Math.min(nt, passing - g0);
      new Int32Array(rt.f32.buffer, idx, w).set(rows.subarray(g0, g0 + w));
      rt.exports.gatherRows(c.ptr, C, steps, idx, w, block);
      for (let i0 = 0; i0 < q.rows; i0 += qt) {
        const rq = Math.min(qt, q.rows - i0);
        dots(rt, q.ptr + i0 * q.rowBytes, rq, block, w, q.rowBytes, tile, w, true);
        const f = rt.f32;
        const base = tile >>> 2;
        for (let i = 0; i < rq; i++) {
          const at = base + i * w;
          let th = sel.floor(i0 + i);
          for (let t = 0; t < w; t++) {
            if (f[at + t] < th) continue;
            sel.push(i0 + i, f[at + t], rows[g0 + t]);
            th = sel.floor(i0 + i);
          }
        }
      }
    }
  } finally {
    rt.free(block);
    if (idx >= 0) rt.free(idx);
    if (tile >= 0) rt.free(tile);
  }
}

/**
 * int8: quantised scores over tiles with a passing row, failing rows never candidates; with float
 * rows and `rerank > 0`, the best `rerank x k` passing candidates re-ranked exactly.
 */
function int8Allowed(
  rt: WasmRuntime,
  c: Quantized,
  float: Staged | undefined,
  rerank: number,
  queries: Matrix,
  k: number,
  allow: Uint8Array,
  before: Int32Array,
): TopKResult {
  const n = c.rows;
  const passing = before[n];
  const exact = float !== undefined && rerank > 0;
  const sel = new TopKSelector(queries.rows, exact ? Math.min(passing, rerank * k) : k);
  const q = quantizeRows(rt, queries, op);
  let tile = -1;
  try {
    const qg = Math.min(queries.rows, I8_QUERIES);
    const fit = Math.min(I8_TILE_BYTES / c.stride, SEARCH_TILE / qg);
    const nt = Math.min(n, Math.max(4, Math.floor(fit / 4) * 4));
    tile = rt.alloc(qg * nt * 4, op);
    for (let g0 = 0; g0 < queries.rows; g0 += qg) {
      const gq = Math.min(qg, queries.rows - g0);
      for (let j0 = 0; j0 < n; j0 += nt) {
        const w = Math.min(nt, n - j0);
        if (before[j0 + w] === before[j0]) continue;
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
        const f = rt.f32;
        const base = tile >>> 2;
        for (let i = 0; i < gq; i++) {
          const at = base + i * w;
          let th = sel.floor(g0 + i);
          for (let t = 0; t < w; t++) {
            if (allow[j0 + t] !== 1 || f[at + t] < th) continue;
            sel.push(g0 + i, f[at + t], j0 + t);
            th = sel.floor(g0 + i);
          }
        }
      }
    }
  } finally {
    if (tile >= 0) rt.free(tile);
    rt.free(q.ptr);
    rt.free(q.scales);
  }
  const approx = sel.result();
  return exact ? rerankExact(rt, float, queries, approx, k) : approx;
}
