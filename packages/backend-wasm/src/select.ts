import type { TopKResult } from '@cosinekit/core/backend';
import type { WasmRuntime } from './runtime.js';

/**
 * A running top-k selection held in wasm (assembly/select.ts): one bounded heap per query, offered
 * a row of scores at a time, so JS handles no single score. Ranking as core's `TopKSelector`:
 * scores clamped to [-1, 1] as reported, higher first, ties to the lower corpus row; the same
 * rows and scores come out.
 *
 * Heaps exist for a window of `window` queries at a time (query q uses heap `q % window`), the
 * memory of one chunk of a search rather than of every query: a chunk's queries are read out into
 * the result with {@link done} once they have seen every row, which empties their heaps for the
 * next chunk. Each query's rows must be offered in increasing order (every caller walks the corpus
 * in order), which is what lets an equal score be skipped: it ranks below the row already kept.
 *
 * Why not the JS selector: with k = 100 a search of 10,000 rows pushes about 550 rows per query
 * into its heap, at 60-120 ns each in JS (unpredictable branches, a call per row); 30% of a
 * 64 x 10,000 x 384 search on this machine kind, 70% at k = 1000.
 */
export class HeapSelection {
  readonly #rt: WasmRuntime;
  readonly #queries: number;
  readonly #k: number;
  readonly #window: number;
  /** Bytes per heap: its count, k entries and a sentinel, 8 bytes each. */
  readonly #bytes: number;
  #heaps = -1;
  /** Room for one window's rows and scores as read out (i32 then f32, `window * k` each). */
  #out = -1;
  readonly #indices: Int32Array;
  readonly #scores: Float32Array;

  constructor(rt: WasmRuntime, queries: number, k: number, window: number, op: string) {
    this.#rt = rt;
    this.#queries = queries;
    this.#k = k;
    this.#window = window;
    this.#bytes = (k + 2) * 8;
    this.#indices = new Int32Array(queries * k);
    this.#scores = new Float32Array(queries * k);
    try {
      this.#heaps = rt.alloc(window * this.#bytes, op);
      this.#out = rt.alloc(window * k * 8, op);
    } catch (e) {
      this.dispose();
      throw e;
    }
    rt.exports.heapsReset(this.#heaps, window, k);
  }

  /**
   * Offers query `q` the `w` scores at byte address `scores`, for corpus rows `j0`, `j0 + 1`, ...;
   * with `allow` (a byte address, not 0), only the rows whose byte from there on is 1.
   */
  offer(q: number, scores: number, w: number, j0: number, allow = 0): void {
    const h = this.#heaps + (q % this.#window) * this.#bytes;
    this.#rt.exports.heapOffer(h, this.#k, scores, w, j0, allow);
  }

  /**
   * Queries `q0` .. `q0 + count - 1` (one window's, `q0` a multiple of the window) have been
   * offered every row: their selections, best first, go into the result, and their heaps are
   * emptied for the next window.
   */
  done(q0: number, count: number): void {
    const rt = this.#rt;
    const k = this.#k;
    const n = count * k;
    const rows = this.#out;
    const scores = rows + n * 4;
    rt.exports.heapsSort(this.#heaps + (q0 % this.#window) * this.#bytes, count, k, rows, scores);
    this.#indices.set(rt.i32.subarray(rows >>> 2, (rows >>> 2) + n), q0 * k);
    this.#scores.set(rt.f32.subarray(scores >>> 2, (scores >>> 2) + n), q0 * k);
  }

  /** The selections read out by {@link done} (every query's, once each has been). */
  result(): TopKResult {
    return { queries: this.#queries, k: this.#k, indices: this.#indices, scores: this.#scores };
  }

  /** Releases the wasm memory (safe to call twice). */
  dispose(): void {
    if (this.#heaps >= 0) this.#rt.free(this.#heaps);
    if (this.#out >= 0) this.#rt.free(this.#out);
    this.#heaps = -1;
    this.#out = -1;
  }
}
