import type { TopKResult } from '../contract.js';
import { argError } from '../errors.js';
import { valueText } from '../tensor.js';
import { clampCos } from './cosine-rule.js';

/**
 * A running top-k selection for many queries at once: one bounded min-heap per query in flat
 * typed arrays, so memory is O(Q x k) whatever the corpus size. The root of each heap is the
 * current worst kept entry; a candidate enters only if it beats it (higher score, or equal score
 * and lower index). Reusable by any backend that streams scores tile by tile.
 *
 * Scores are ranked as they will be reported: clamped to [-1, 1] and rounded to float32 on entry.
 * Two candidates whose reported scores are equal therefore tie, and the lower index wins, whatever
 * their unrounded values (at d = 1 every positive row scores exactly 1 once clamped).
 */
export class TopKSelector {
  readonly queries: number;
  readonly k: number;
  readonly #scores: Float64Array;
  readonly #index: Int32Array;
  readonly #size: Int32Array;

  /**
   * Throws `INVALID_ARGUMENT` naming `queries` unless it is a whole number >= 0, and `INVALID_K`
   * naming `k` unless it is one >= 1 (a RangeError from deep inside, or a selector of NaN slots,
   * came out before).
   */
  constructor(queries: number, k: number) {
    for (const [arg, v, least, code] of [
      ['queries', queries, 0, 'INVALID_ARGUMENT'],
      ['k', k, 1, 'INVALID_K'],
    ] as const)
      if (!(typeof v === 'number' && Number.isSafeInteger(v) && v >= least))
        argError(code, 'TopKSelector', arg, `must be an integer >= ${least}, got ${valueText(v)}.`);
    this.queries = queries;
    this.k = k;
    this.#scores = new Float64Array(queries * k);
    this.#index = new Int32Array(queries * k);
    this.#size = new Int32Array(queries);
  }

  /**
   * The score a candidate for query `q` must beat to enter (ties go to the lower index):
   * `-Infinity` while the heap is not full. Lets a caller skip most pushes with one comparison.
   */
  threshold(q: number): number {
    return this.#size[q] < this.k ? Number.NEGATIVE_INFINITY : this.#scores[q * this.k];
  }

  /**
   * A value below every raw score that reports as {@link threshold} or better: a raw score under
   * it can never enter, so callers may skip it with one comparison.
   */
  floor(q: number): number {
    const t = this.threshold(q);
    // Anything within half a float32 ulp of t (or beyond 1, for t = 1) rounds to t or above.
    return t === Number.NEGATIVE_INFINITY ? t : t - (Math.abs(t) * 2 ** -23 + 2 ** -149);
  }

  /**
   * Offers corpus row `index` with `raw` score to query `q`. A NaN score always enters (in place of
   * the worst entry when the heap is full) and stays: the answer then holds NaN, which the kit
   * refuses as the backend's failure (`BACKEND_ERROR` naming it), rather than a row quietly left out.
   */
  push(q: number, raw: number, index: number): void {
    const score = Math.fround(clampCos(raw));
    const k = this.k;
    const base = q * k;
    const s = this.#scores;
    const ix = this.#index;
    const n = this.#size[q];
    if (n < k) {
      // Sift up from the new leaf.
      let c = n;
      while (c > 0) {
        const p = (c - 1) >> 1;
        if (!worse(score, index, s[base + p], ix[base + p])) break;
        s[base + c] = s[base + p];
        ix[base + c] = ix[base + p];
        c = p;
      }
      s[base + c] = score;
      ix[base + c] = index;
      this.#size[q] = n + 1;
      return;
    }
    // A NaN replaces the worst entry even when the heap is full (no comparison lets it in).
    if (!Number.isNaN(score) && !worse(s[base], ix[base], score, index)) return;
    // Replace the root and sift down.
    siftDown(s, ix, base, k, score, index);
  }

  /** Empties query `q`'s selection, so its candidates can be offered again from the start. */
  reset(q: number): void {
    this.#size[q] = 0;
  }

  /**
   * Offers a row of scores `scores[off + t]` for corpus rows `start + t`, t in [0, count). A NaN
   * is offered too (see {@link push}), so a backend's NaN reaches the answer rather than vanishing.
   */
  pushRow(q: number, scores: ArrayLike<number>, off: number, start: number, count: number): void {
    let th = this.floor(q);
    for (let t = 0; t < count; t++) {
      const v = scores[off + t];
      if (!(v < th)) {
        this.push(q, v, start + t);
        th = this.floor(q);
      }
    }
  }

  /**
   * The selection, best first per query, as float32 scores clamped to [-1, 1] (as ranked). Each
   * heap is copied and sorted by popping its worst entry to the back (a heap sort: about 2 k log k
   * comparisons, inline on typed arrays; a comparator sort of k positions called a JS function per
   * comparison and took 0.3 ms per query at k = 1000). Slots past the entries a query got (fewer
   * rows than k) stay index 0, score 0.
   */
  result(): TopKResult {
    const { queries, k } = this;
    const indices = new Int32Array(queries * k);
    const scores = new Float32Array(queries * k);
    const hs = new Float64Array(k);
    const hi = new Int32Array(k);
    for (let q = 0; q < queries; q++) {
      const base = q * k;
      let n = this.#size[q];
      hs.set(this.#scores.subarray(base, base + n));
      hi.set(this.#index.subarray(base, base + n));
      while (n > 0) {
        // The root is the worst of the n left: it goes to the back, the last leaf sifts down.
        n--;
        scores[base + n] = hs[0];
        indices[base + n] = hi[0];
        siftDown(hs, hi, 0, n, hs[n], hi[n]);
      }
    }
    return { queries, k, indices, scores };
  }
}

/**
 * Puts entry (score, index) into the min-heap of `n` entries at `base` of `s`/`ix` whose root slot
 * is free: it sinks from the root while a child ranks below it (the worst entry is the root).
 */
function siftDown(
  s: Float64Array,
  ix: Int32Array,
  base: number,
  n: number,
  score: number,
  index: number,
): void {
  let c = 0;
  for (;;) {
    const l = 2 * c + 1;
    if (l >= n) break;
    const r = l + 1;
    let m = l;
    if (r < n && worse(s[base + r], ix[base + r], s[base + l], ix[base + l])) m = r;
    if (!worse(s[base + m], ix[base + m], score, index)) break;
    s[base + c] = s[base + m];
    ix[base + c] = ix[base + m];
    c = m;
  }
  s[base + c] = score;
  ix[base + c] = index;
}

/** True when entry (sa, ia) ranks below (sb, ib). */
function worse(sa: number, ia: number, sb: number, ib: number): boolean {
  return sa < sb || (sa === sb && ia > ib);
}
