/**
 * `corpusSearchAllowed`: search among the rows a filter passes only, so that time falls with the
 * share that passes. Two ways, chosen by that share:
 * - few rows pass (below {@link gatherBelow}): their rows are gathered, a block at a time, into a
 *   compact block in the engine's layout, and the dot-product engine scores only those (each score
 *   is the very dot product an unfiltered search computes for that row: the same kernel over the
 *   same 16-byte chunks in the same order);
 * - many pass: the corpus is streamed as an unfiltered search streams it, tiles with no passing row
 *   are skipped, and a row that fails is never offered to the selection (the filter's mask is
 *   copied into wasm, where the selection skips its failing rows sixteen at a time).
 * int8 corpora choose the same way between their quantised rows gathered and scanned in place, with
 * failing rows kept out of the candidates (`rerank x k` among the passing rows, then re-ranked
 * exactly, as `corpusSearch` does over all rows).
 */
import {
  foreignCorpus,
  type Matrix,
  type ResidentCorpus,
  type TopKResult,
  throughTies,
} from '@cosinekit/core/backend';
import { corpusBegin, dotsI8Batch } from './engine.js';
import { floatFirst, WasmCorpus } from './kernels/corpus.js';
import {
  type I8Rows,
  i8AtLeast,
  type Quantized,
  quantizeRows,
  rerankExact,
  settling,
  someRows,
} from './kernels/quantized.js';
import type { WasmRuntime } from './runtime.js';
import { WasmSelection } from './select.js';
import { type Staged, stageQueries } from './staging.js';

/**
 * Below this share of passing rows, gathering them costs less than streaming every row (of `d`
 * floats, `compact` for binary16 or int8 rows, `threaded` where helper threads share the stream).
 * A gathered row costs several times a streamed one, less the more queries share the gathered
 * block, and more the shorter the row (a fixed cost per row): timed on this VM, one thread, both
 * ways forced at shares from 5% to 85%, the crossover sat near 25% of the rows for 1 query at
 * d >= 384 (20% at d = 96, 10% at d = 17), 41% for 4 queries, 56% for 8 and past 90% for 64; at
 * 1.4x those for binary16 and int8 rows (their stream reads fewer bytes a row than the gathered
 * path moves); at about 0.65x with a second thread (the stream is shared, a block's gathering is
 * not). It was 10% for 1 query and at most 25%, which made a filter passing 10-25% of the rows as
 * slow as no filter, 2.4-3.2x the gathered search just below (a probe).
 */
export function gatherBelow(queries: number, d: number, compact: boolean, threaded: boolean): number {
  const share = (compact ? 1.4 : 1) / ((1 + 3 / Math.sqrt(queries)) * (1 + 24 / d));
  return Math.min(0.95, threaded ? 0.65 * share : share);
}

/** Whether a stream of `queries` over `rows` rows of `d` floats would be shared with helper threads. */
function threadedStream(rt: WasmRuntime, queries: number, rows: number, d: number): boolean {
  return rt.pool !== undefined && 2 * queries * rows * d >= rt.tuning.threadMinFlops;
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
  const q8 = corpus.int8(rt, op);
  const float = corpus.float(rt, op);
  // float16: the binary16 rows as float32 rows are (decoded as scored), or with re-ranking the
  // float32 rows (the exact answer).
  const h = corpus.half(rt, op);
  const rows = h && !(float && corpus.rerank > 0) ? h : float;
  // The mask in wasm: the passing rows and each tile's are counted there (a prefix count in JS
  // took a new n + 1 integers per call, 1.4 ms at 200,000 rows on this VM, mostly new pages),
  // and the selection skips failing rows sixteen at a time.
  const mask = uploadMask(rt, allow, n);
  try {
    const passing = rt.exports.countAllowed(mask, n);
    // Where re-scoring the pool would cost more than it saves, or searches have been crowded: the
    // passing float32 rows scanned (floatFirst).
    if (
      q8 &&
      !(
        float &&
        corpus.rerank > 0 &&
        floatFirst(rt, corpus, Math.min(passing, corpus.rerank * k), passing, queries.rows)
      )
    )
      return int8Allowed(rt, q8, float, corpus, queries, k, allow, mask, passing);
    return floatAllowed(rt, queries, rows!, k, allow, mask, passing);
  } finally {
    rt.free(mask);
  }
}

/** Top-k of `queries` among the float32 rows of `c` that pass (`mask` in wasm, `passing` of them), exact. */
function floatAllowed(
  rt: WasmRuntime,
  queries: Matrix,
  c: Staged,
  k: number,
  allow: Uint8Array,
  mask: number,
  passing: number,
): TopKResult {
  const sq = stageQueries(rt, queries, true, op);
  try {
    const d = queries.cols;
    const below = gatherBelow(queries.rows, d, c.half === true, threadedStream(rt, queries.rows, c.rows, d));
    if (passing < below * c.rows) return gathered(rt, sq, c, allow, passing, k);
    return streamed(rt, sq, c, mask, k);
  } finally {
    rt.free(sq.ptr);
  }
}

/**
 * The filter's mask copied into wasm memory: one byte per corpus row (`n`), 1 where it passes (the
 * contract's `allow.length === corpus.rows`; bytes past a shorter mask fail).
 */
function uploadMask(rt: WasmRuntime, allow: Uint8Array, n: number): number {
  const at = rt.alloc(n, op);
  const bytes = new Uint8Array(rt.memory.buffer, at, n);
  bytes.set(allow.subarray(0, n));
  bytes.fill(0, Math.min(n, allow.length));
  return at;
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
function streamed(rt: WasmRuntime, q: Staged, c: Staged, mask: number, k: number): TopKResult {
  const { qt, nt } = tiling(rt, q.rows, c.rows);
  const sel = new WasmSelection(rt, q.rows, k, qt, op, c.rows);
  let tile = -1;
  try {
    tile = rt.alloc(qt * nt * 4, op);
    for (let i0 = 0; i0 < q.rows; i0 += qt) {
      const rq = Math.min(qt, q.rows - i0);
      for (let j0 = 0; j0 < c.rows; j0 += nt) {
        const w = Math.min(nt, c.rows - j0);
        const count = rt.exports.countAllowed(mask + j0, w);
        if (count === 0) continue;
        corpusBegin(rt, q.ptr + i0 * q.rowBytes, rq, c, j0, w, tile, w, true, op).finish();
        // A tile whose rows all pass needs no mask.
        const m = count === w ? 0 : mask + j0;
        sel.offerTile(i0, rq, tile, w, j0, m);
      }
      sel.done(i0, rq);
    }
  } finally {
    if (tile >= 0) rt.free(tile);
    sel.dispose();
  }
  return sel.result();
}

/**
 * The passing rows gathered a block at a time into a compact block, and only those scored. The
 * selection ranks positions among the passing rows, which keep the rows' order (so ties still go
 * to the lower row), and they are turned into rows at the end.
 */
function gathered(
  rt: WasmRuntime,
  q: Staged,
  c: Staged,
  allow: Uint8Array,
  passing: number,
  k: number,
): TopKResult {
  const rows = passingRows(allow, passing);
  const C = rt.tileCols;
  const { qt, nt } = tiling(rt, q.rows, passing);
  const steps = c.rowBytes >>> 4;
  // Every query's heap at once: each block of passing rows is gathered once for all the queries.
  const sel = new WasmSelection(rt, q.rows, k, q.rows, op, passing);
  let block = -1;
  let idx = -1;
  let tile = -1;
  try {
    block = rt.alloc(Math.ceil(nt / C) * C * (c.half ? c.rowBytes >>> 1 : c.rowBytes), op);
    idx = rt.alloc(nt * 4, op);
    tile = rt.alloc(qt * nt * 4, op);
    for (let g0 = 0; g0 < passing; g0 += nt) {
      const w = Math.min(nt, passing - g0);
      new Int32Array(rt.memory.buffer, idx, w).set(rows.subarray(g0, g0 + w));
      if (c.half) rt.exports.gatherHalves(c.ptr, C, steps, idx, w, block, 0);
      else rt.exports.gatherRows(c.ptr, C, steps, idx, w, block, 0);
      const gatheredRows: Staged = { ptr: block, rows: w, rowBytes: c.rowBytes, half: c.half };
      for (let i0 = 0; i0 < q.rows; i0 += qt) {
        const rq = Math.min(qt, q.rows - i0);
        corpusBegin(rt, q.ptr + i0 * q.rowBytes, rq, gatheredRows, 0, w, tile, w, true, op).finish();
        sel.offerTile(i0, rq, tile, w, g0);
      }
    }
    sel.done(0, q.rows);
  } finally {
    if (block >= 0) rt.free(block);
    if (idx >= 0) rt.free(idx);
    if (tile >= 0) rt.free(tile);
    sel.dispose();
  }
  const r = sel.result();
  // Positions among the passing rows to rows; slots past them (fewer rows pass than k) stay 0.
  const kept = Math.min(k, passing);
  for (let i = 0; i < q.rows; i++) {
    for (let t = 0; t < kept; t++) r.indices[i * k + t] = rows[r.indices[i * k + t]];
  }
  return r;
}

/**
 * int8: quantised scores of the passing rows only, failing rows never candidates: gathered a block
 * at a time when few pass (below {@link gatherBelow}, as for float32 rows), else scanned in place
 * over the tiles that hold a passing row; with float rows and `rerank > 0`, the best `rerank x k`
 * passing candidates (and their ties, see throughTies) re-ranked exactly.
 */
function int8Allowed(
  rt: WasmRuntime,
  c: Quantized,
  float: Staged | undefined,
  corpus: WasmCorpus,
  queries: Matrix,
  k: number,
  allow: Uint8Array,
  mask: number,
  passing: number,
): TopKResult {
  const d = queries.cols;
  const gather =
    passing < gatherBelow(queries.rows, d, true, threadedStream(rt, queries.rows, c.rows, d)) * c.rows;
  const list = gather ? passingRows(allow, passing) : null;
  const rows = list ? gatheredI8(rt, c, list) : maskedI8(rt, c, mask);
  /** The `w` best of `qs` among the passing rows, as corpus rows. */
  const scan = (qs: Matrix, w: number): TopKResult => {
    const r = int8AllowedScan(rt, c, rows, qs, w);
    if (list) for (let t = 0; t < r.indices.length; t++) r.indices[t] = list[r.indices[t]];
    return r;
  };
  const rerank = corpus.rerank;
  if (!(float !== undefined && rerank > 0)) return scan(queries, k);
  return rerankExact(rt, float, queries, k, (take, final) => {
    const crowded = throughTies(
      Math.min(passing, rerank * k),
      passing,
      queries.rows,
      (w, q0, q1) => scan(someRows(queries, q0, q1), w),
      take,
      (group, edges) => {
        const found = i8AtLeast(rt, c, rows, queries, group, edges, op);
        if (list) for (const f of found) for (let t = 0; t < f.rows.length; t++) f.rows[t] = list[f.rows[t]];
        return found;
      },
      // Crowded queries past re-scoring: the passing float32 rows scanned whole.
      settling(rt, c, queries, final, passing, (qs) => floatAllowed(rt, qs, float, k, allow, mask, passing)),
    );
    corpus.crowd.record(queries.rows, crowded);
  });
}

/** The rows `allow` passes (`passing` of them), ascending. */
function passingRows(allow: Uint8Array, passing: number): Int32Array {
  const rows = new Int32Array(passing);
  for (let j = 0, t = 0; t < passing; j++) if (allow[j] === 1) rows[t++] = j;
  return rows;
}

/** The rows of `c` in place, tiles with no passing row skipped, a tile's mask where some fail. */
function maskedI8(rt: WasmRuntime, c: Quantized, mask: number): I8Rows {
  return {
    count: c.rows,
    blocks(nt, each) {
      for (let j0 = 0; j0 < c.rows; j0 += nt) {
        const w = Math.min(nt, c.rows - j0);
        const count = rt.exports.countAllowed(mask + j0, w);
        if (count === 0) continue;
        each(c.ptr + j0 * c.stride, c.scales + j0 * 4, w, j0, count === w ? 0 : mask + j0);
      }
    },
  };
}

/**
 * The rows `list` names, gathered a block at a time (codes and scales) and numbered by their place
 * in it: a filter that passes few rows costs about those rows, wherever they lie, where scanning in
 * place read every tile holding one of them (all of them, for rows spread evenly).
 */
function gatheredI8(rt: WasmRuntime, c: Quantized, list: Int32Array): I8Rows {
  return {
    count: list.length,
    blocks(nt, each) {
      let codes = -1;
      let scales = -1;
      let idx = -1;
      try {
        const m = Math.min(nt, list.length);
        codes = rt.alloc(m * c.stride, op);
        scales = rt.alloc(m * 4, op);
        idx = rt.alloc(m * 4, op);
        for (let g0 = 0; g0 < list.length; g0 += nt) {
          const w = Math.min(nt, list.length - g0);
          new Int32Array(rt.memory.buffer, idx, w).set(list.subarray(g0, g0 + w));
          rt.exports.gatherI8(c.ptr, c.stride, c.scales, idx, w, codes, scales);
          each(codes, scales, w, g0, 0);
        }
      } finally {
        for (const p of [codes, scales, idx]) if (p >= 0) rt.free(p);
      }
    },
  };
}

/** The `cand` best of `rows` (in its numbering) for each query by int8 score (ties to the lower row). */
function int8AllowedScan(
  rt: WasmRuntime,
  c: Quantized,
  rows: I8Rows,
  queries: Matrix,
  cand: number,
): TopKResult {
  const qg = Math.min(queries.rows, I8_QUERIES);
  const sel = new WasmSelection(rt, queries.rows, cand, qg, op);
  let q: Quantized | undefined;
  let tile = -1;
  try {
    q = quantizeRows(rt, queries, op);
    const fit = Math.min(I8_TILE_BYTES / c.stride, SEARCH_TILE / qg);
    const nt = Math.min(rows.count, Math.max(4, Math.floor(fit / 4) * 4));
    tile = rt.alloc(qg * nt * 4, op);
    const qq = q;
    for (let g0 = 0; g0 < queries.rows; g0 += qg) {
      const gq = Math.min(qg, queries.rows - g0);
      rows.blocks(nt, (ptr, scales, w, j0, mask) => {
        dotsI8Batch(rt, qq.ptr + g0 * qq.stride, gq, qq.scales + g0 * 4, ptr, w, c.stride, scales, tile, w);
        sel.offerTile(g0, gq, tile, w, j0, mask);
      });
      sel.done(g0, gq);
    }
  } finally {
    if (tile >= 0) rt.free(tile);
    sel.dispose();
    if (q) {
      rt.free(q.ptr);
      rt.free(q.scales);
    }
  }
  return sel.result();
}
