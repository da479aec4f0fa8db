import type { TopKResult } from '@cosinekit/core/backend';
import type { WasmRuntime } from './runtime.js';

/**
 * Smallest k whose selections are pools (a buffer of 2k rows, cut to about its best k when full)
 * rather than heaps (assembly/select.ts). A heap pays log2 k dependent steps for each row that
 * enters it, a pool a few stores, plus its cuts (two passes over 2k rows each) and a read-out
 * that is a radix sort with a fixed cost. On this machine kind (2026-12-04, a loop of offers of
 * 1,000-100,000 scores a query, one build against the other) heaps were faster at k = 16 (10,000
 * rows: 9.9 against 11.4 us a query), pools from k = 32 (14.1 against 16.7) and 4-5x faster at
 * k = 1000; whole searches, `node scripts/select-ab.mjs <heap build> dist`: top-1000 over 10,000
 * rows took 0.28-0.61x the time, top-100 0.76-0.97x, top-32 0.94-1.02x. From k = 16 since
 * 2026-12-07: rows that arrive in rising order of score (a time-ordered corpus drifting toward the
 * query) enter a heap one by one, each paying its sift; a pool takes them as stores. Whole
 * searches (one thread, 100,000 x 96 and 20,000 x 384 or x 96, 1 to 64 queries, the same rows and
 * bits): rows in rising order 0.57-0.66x the heap's time at k = 31 (1 query: 2.3 against 4.0 ms),
 * 0.67-0.95x at k = 16; random rows 0.93-1.00x; below 16 the heap stays ahead on rising rows (k =
 * 4: pools took 1.15-1.37x).
 */
export const POOL_MIN_K = 16;

/**
 * Whether the selections of the best `k` of at most `rows` rows offered to each query are pools:
 * from {@link POOL_MIN_K}, except for k below twice that over at most 4k rows a query, where nearly
 * every row enters the heap and a pool's read-out (a radix sort over a histogram of 2048 counts,
 * whatever the rows) costs more: 4,000 queries over 32 rows took 1.5x at k = 16 what they took at
 * k = 15 (a probe). Timed both ways (one thread, the same answers): 4000 x 32 x 17 at k = 16 0.70x
 * the pools' time, 4000 x 64 x 17 0.78x; at k = 32 heaps lost over 60 and 120 rows (1.0-1.3x), and
 * at k = 100 over 300 (1.5x).
 */
export function usesPools(k: number, rows = Number.POSITIVE_INFINITY): boolean {
  return k >= POOL_MIN_K && !(k < 2 * POOL_MIN_K && rows <= 4 * k);
}

/** Bytes of a pool's scratch area besides its 16k bytes (a histogram of 2048 counts and one more). */
const POOL_SCRATCH_HEAD = 2048 * 4 + 16;

/**
 * A running top-k selection held in wasm (assembly/select.ts), one per query, offered a row of
 * scores at a time, so JS handles no single score: a bounded heap for k below
 * {@link POOL_MIN_K}, a pool for larger k. Ranking as core's `TopKSelector`: scores clamped to
 * [-1, 1] as reported, higher first, ties to the lower corpus row; the same rows and scores come
 * out either way.
 *
 * Selections exist for a window of `window` queries at a time (query q uses slot `q % window`),
 * the memory of one chunk of a search rather than of every query: a chunk's queries are read out
 * into the result with {@link done} once they have seen every row, which empties their slots for
 * the next chunk. Each query's rows must be offered in increasing order (every caller walks the
 * corpus in order), which is what lets an equal score be skipped: it ranks below the row already
 * kept.
 *
 * Why not the JS selector: with k = 100 a search of 10,000 rows pushes about 550 rows per query
 * into its heap, at 60-120 ns each in JS (unpredictable branches, a call per row); 30% of a
 * 64 x 10,000 x 384 search on this machine kind, 70% at k = 1000.
 */
export class WasmSelection {
  readonly #rt: WasmRuntime;
  readonly #queries: number;
  readonly #k: number;
  readonly #window: number;
  readonly #pools: boolean;
  /** Bytes per slot: a heap's count, k entries and a sentinel, 8 bytes each; a pool's head and 2k entries. */
  readonly #bytes: number;
  #slots = -1;
  /** Room for one window's rows and scores as read out (i32 then f32, `window * k` each). */
  #out = -1;
  /** A pool's scratch (histograms and room for 2k entries); none for heaps. */
  #scratch = 0;
  readonly #indices: Int32Array;
  readonly #scores: Float32Array;

  /** `rows`: the most rows offered to each query, when known (see {@link usesPools}). */
  constructor(rt: WasmRuntime, queries: number, k: number, window: number, op: string, rows?: number) {
    this.#rt = rt;
    this.#queries = queries;
    this.#k = k;
    this.#window = window;
    this.#pools = usesPools(k, rows);
    this.#bytes = this.#pools ? 16 + k * 16 : (k + 2) * 8;
    this.#indices = new Int32Array(queries * k);
    this.#scores = new Float32Array(queries * k);
    try {
      this.#slots = rt.alloc(window * this.#bytes, op);
      this.#out = rt.alloc(window * k * 8, op);
      if (this.#pools) this.#scratch = rt.alloc(POOL_SCRATCH_HEAD + k * 16, op);
    } catch (e) {
      this.dispose();
      throw e;
    }
    if (this.#pools) rt.exports.poolsReset(this.#slots, window, k);
    else rt.exports.heapsReset(this.#slots, window, k);
  }

  /**
   * Offers query `q` the `w` scores at byte address `scores`, for corpus rows `j0`, `j0 + 1`, ...;
   * with `allow` (a byte address, not 0), only the rows whose byte from there on is 1.
   */
  offer(q: number, scores: number, w: number, j0: number, allow = 0): void {
    const at = this.#slots + (q % this.#window) * this.#bytes;
    if (this.#pools) this.#rt.exports.poolOffer(at, this.#k, scores, w, j0, allow, this.#scratch);
    else this.#rt.exports.heapOffer(at, this.#k, scores, w, j0, allow);
  }

  /**
   * Offers queries `q0` .. `q0 + count - 1` (within one window) the rows of a tile of scores at
   * byte address `tile`, `w` a query, for corpus rows `j0`, `j0 + 1`, ...: {@link offer} for each,
   * in one call into wasm.
   */
  offerTile(q0: number, count: number, tile: number, w: number, j0: number, allow = 0): void {
    const slot = q0 % this.#window;
    if (slot + count > this.#window) {
      for (let i = 0; i < count; i++) this.offer(q0 + i, tile + i * w * 4, w, j0, allow);
      return;
    }
    const at = this.#slots + slot * this.#bytes;
    const rt = this.#rt;
    if (this.#pools)
      rt.exports.poolsOffer(at, this.#bytes, count, this.#k, tile, w, j0, allow, this.#scratch);
    else rt.exports.heapsOffer(at, this.#bytes, count, this.#k, tile, w, j0, allow);
  }

  /**
   * Queries `q0` .. `q0 + count - 1` (one window's, `q0` a multiple of the window) have been
   * offered every row: their selections, best first, go into the result, and their slots are
   * emptied for the next window.
   */
  done(q0: number, count: number): void {
    const rt = this.#rt;
    const k = this.#k;
    const n = count * k;
    const rows = this.#out;
    const scores = rows + n * 4;
    const at = this.#slots + (q0 % this.#window) * this.#bytes;
    if (this.#pools) rt.exports.poolsSort(at, count, k, rows, scores, this.#scratch);
    else rt.exports.heapsSort(at, count, k, rows, scores);
    this.#indices.set(rt.i32.subarray(rows >>> 2, (rows >>> 2) + n), q0 * k);
    this.#scores.set(rt.f32.subarray(scores >>> 2, (scores >>> 2) + n), q0 * k);
  }

  /** The selections read out by {@link done} (every query's, once each has been). */
  result(): TopKResult {
    return { queries: this.#queries, k: this.#k, indices: this.#indices, scores: this.#scores };
  }

  /** Releases the wasm memory (safe to call twice). */
  dispose(): void {
    if (this.#slots >= 0) this.#rt.free(this.#slots);
    if (this.#out >= 0) this.#rt.free(this.#out);
    if (this.#scratch > 0) this.#rt.free(this.#scratch);
    this.#slots = -1;
    this.#out = -1;
    this.#scratch = 0;
  }
}
