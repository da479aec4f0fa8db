/**
 * One or a few queries against rows handed over for one call (`cosineMatrix`, `topK`): the rows
 * go through the dot-product engine a chunk at a time. Each chunk is copied into wasm memory,
 * normalised into the engine's panel layout (`pack`) and multiplied with the queries while both
 * copies are still in L2. Staging the whole corpus first, as a product with many queries does,
 * writes it to memory twice more (its panel copy, then the product's read of it) for a few dot
 * products a row. Same kernels, same order: the same bits as the whole-corpus path.
 */
import type { Matrix, TopKResult } from '@cosinekit/core/backend';
import { dots } from './engine.js';
import type { WasmRuntime } from './runtime.js';
import { WasmSelection } from './select.js';
import { packRows, padded, readRows, stageQueries } from './staging.js';

/**
 * True when a call of `m` queries streams its rows. With many queries, their panels (read again
 * for every chunk) cost more than the copies a stream saves, and with helper threads each chunk's
 * product is too small to share out, where the whole corpus's is shared. Measured (interleaved,
 * wall time, both paths): one thread, the stream took 0.65-0.8x the whole-corpus path's time for
 * 1 to 8 queries and 0.89-0.97x at 16 and 32; with a helper, 0.82-1.0x for 1 to 4 queries, even
 * at 8, and 1.15-1.19x (slower) at 16. One thread, again on 2026-12-08 (the same bits): 0.87-0.92x
 * at 33 to 64 queries, 0.91-0.97x at 96 to 200 (20,000 x 384, 200,000 x 96, 10,000 x 1536), so the
 * limit went from 32 to 128: a probe had found 33 queries 1.3-1.4x the cost per FLOP of 32.
 */
export function streams(rt: WasmRuntime, m: number): boolean {
  return m <= (rt.pool !== undefined && rt.pool.size > 0 ? 8 : 128);
}

/** Bytes of rows copied into wasm per chunk: with its panel copy, small enough to stay in L2. */
const CHUNK_BYTES = 256 * 1024;

/** Rows per chunk at width `d`: whole panels of the tile's `C` rows. */
function chunkRows(rt: WasmRuntime, d: number, n: number): number {
  const C = rt.tileCols;
  return Math.min(n, Math.max(C, Math.floor(CHUNK_BYTES / (d * 4) / C) * C));
}

/**
 * Cosines of `queries` against `rows`, a chunk of rows at a time: `each(scores, j0, w)` gets the
 * byte address of `queries.rows x w` cosines (query i's at `scores + i * w * 4`) of rows
 * [j0, j0 + w), in order. NaN or ±Infinity in either is refused with `NON_FINITE` naming
 * `names[0]` (queries) or `names[1]` (rows) and the row.
 */
function streamRows(
  rt: WasmRuntime,
  queries: Matrix,
  rows: Matrix,
  op: string,
  names: readonly [string, string],
  each: (scores: number, j0: number, w: number) => void,
): void {
  const m = queries.rows;
  const d = queries.cols;
  const n = rows.rows;
  const C = rt.tileCols;
  const rowBytes = padded(d) * 4;
  const cr = chunkRows(rt, d, n);
  const qs = stageQueries(rt, queries, true, op, names[0]);
  let raw = -1;
  let panels = -1;
  let scores = -1;
  try {
    raw = rt.alloc(cr * d * 4, op);
    panels = rt.alloc(Math.ceil(cr / C) * C * rowBytes, op);
    scores = rt.alloc(m * cr * 4, op);
    for (let j0 = 0; j0 < n; j0 += cr) {
      const w = Math.min(cr, n - j0);
      rt.f32.set(readRows(rows, j0, w, op, names[1]), raw >>> 2);
      packRows(rt, raw, w, d, panels, C, true, op, names[1], j0);
      dots(rt, qs.ptr, m, panels, w, rowBytes, scores, w, true);
      each(scores, j0, w);
    }
  } finally {
    rt.free(qs.ptr);
    if (raw >= 0) rt.free(raw);
    if (panels >= 0) rt.free(panels);
    if (scores >= 0) rt.free(scores);
  }
}

/** `cosineMatrix` of a few rows `a` against rows `b`, written once, straight into the result. */
export function streamMatrix(rt: WasmRuntime, a: Matrix, b: Matrix, out?: Float32Array): Float32Array {
  const n = b.rows;
  const o = out ?? new Float32Array(a.rows * n);
  streamRows(rt, a, b, 'cosineMatrix', ['a', 'b'], (scores, j0, w) => {
    const f = rt.f32;
    const at = scores >>> 2;
    for (let i = 0; i < a.rows; i++) o.set(f.subarray(at + i * w, at + (i + 1) * w), i * n + j0);
  });
  return o;
}

/**
 * `cosineMatrix` of many rows `a` against a few rows `b`: `a` streams over `b`, as `b` would over
 * `a`, and each chunk's `b.rows x w` cosines are written transposed, straight into the result.
 * Staging both sides whole, as a product of many rows against many does, copies and packs all of
 * `a` before the first dot product (20,000 x 1 x 384: 1.5x the stream's time). A cosine is the same
 * bits either way round (the same normalised rows, the same products summed in the same order).
 */
export function streamMatrixTransposed(
  rt: WasmRuntime,
  a: Matrix,
  b: Matrix,
  out?: Float32Array,
): Float32Array {
  const n = b.rows;
  const o = out ?? new Float32Array(a.rows * n);
  streamRows(rt, b, a, 'cosineMatrix', ['b', 'a'], (scores, j0, w) => {
    const f = rt.f32;
    const at = scores >>> 2;
    if (n === 1) o.set(f.subarray(at, at + w), j0);
    else
      for (let i = 0; i < n; i++) {
        const from = at + i * w;
        for (let t = 0, to = j0 * n + i; t < w; t++, to += n) o[to] = f[from + t];
      }
  });
  return o;
}

/**
 * `topK` of a few queries against rows `corpus`: each chunk's cosines offered to a running
 * selection in wasm as they come (see `WasmSelection`), never the whole matrix.
 */
export function streamTopK(rt: WasmRuntime, queries: Matrix, corpus: Matrix, k: number): TopKResult {
  const sel = new WasmSelection(rt, queries.rows, k, queries.rows, 'topK', corpus.rows);
  try {
    streamRows(rt, queries, corpus, 'topK', ['queries', 'corpus'], (scores, j0, w) => {
      sel.offerTile(0, queries.rows, scores, w, j0);
      if (j0 + w === corpus.rows) sel.done(0, queries.rows);
    });
  } finally {
    sel.dispose();
  }
  return sel.result();
}
