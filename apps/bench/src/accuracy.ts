import type { Accuracy } from './types.js';
import type { Dataset } from './workloads.js';

/** Query rows checked against float64 at most; evenly spread so both ends of a batch are covered. */
export const SAMPLE_ROWS = 16;

/**
 * Exact cosines in float64, written here rather than taken from core so that the bench checks the
 * library against an independent implementation. Rows are computed on demand and cached; a shrunk
 * dataset shares its prefix with the full one, so the cache serves both.
 */
export class ExactReference {
  readonly #ds: Dataset;
  #corpusNorms: Float64Array | undefined;
  readonly #rows = new Map<number, Float64Array>();

  constructor(ds: Dataset) {
    this.#ds = ds;
  }

  /** Exact cosines of query row `i` against the first `n` corpus rows. */
  row(i: number, n: number): Float64Array {
    let r = this.#rows.get(i);
    if (!r) {
      const { corpus, queries } = this.#ds;
      const d = this.#ds.size.d;
      const full = this.#ds.size.n;
      const norms = this.#norms();
      let qq = 0;
      for (let p = 0; p < d; p++) qq += queries[i * d + p] * queries[i * d + p];
      const qn = Math.sqrt(qq);
      r = new Float64Array(full);
      for (let j = 0; j < full; j++) {
        let dot = 0;
        const o = j * d;
        for (let p = 0; p < d; p++) dot += queries[i * d + p] * corpus[o + p];
        const nn = qn * norms[j];
        r[j] = nn === 0 ? 0 : dot / nn;
      }
      this.#rows.set(i, r);
    }
    return r.subarray(0, n);
  }

  /** Exact cosine of query row `i` and corpus row `j`. */
  pair(i: number, j: number): number {
    const cached = this.#rows.get(i);
    if (cached) return cached[j];
    const { corpus, queries } = this.#ds;
    const d = this.#ds.size.d;
    let dot = 0;
    let qq = 0;
    for (let p = 0; p < d; p++) {
      dot += queries[i * d + p] * corpus[j * d + p];
      qq += queries[i * d + p] * queries[i * d + p];
    }
    const nn = Math.sqrt(qq) * this.#norms()[j];
    return nn === 0 ? 0 : dot / nn;
  }

  /**
   * Exact `M v` for the `q x n` cosine matrix `M` of the first `q` queries and `n` corpus rows:
   * `(M v)_i = unit(q_i) . sum_j v_j unit(c_j)`, in O((q + n) d) rather than the matrix's O(q n d).
   */
  projected(v: Float64Array, q: number, n: number): Float64Array {
    const { corpus, queries } = this.#ds;
    const d = this.#ds.size.d;
    const norms = this.#norms();
    const w = new Float64Array(d);
    for (let j = 0; j < n; j++) {
      if (norms[j] === 0) continue;
      const s = v[j] / norms[j];
      for (let p = 0; p < d; p++) w[p] += s * corpus[j * d + p];
    }
    const out = new Float64Array(q);
    for (let i = 0; i < q; i++) {
      let dot = 0;
      let qq = 0;
      for (let p = 0; p < d; p++) {
        dot += queries[i * d + p] * w[p];
        qq += queries[i * d + p] * queries[i * d + p];
      }
      out[i] = qq === 0 ? 0 : dot / Math.sqrt(qq);
    }
    return out;
  }

  #norms(): Float64Array {
    if (!this.#corpusNorms) {
      const { corpus } = this.#ds;
      const { n, d } = this.#ds.size;
      const out = new Float64Array(n);
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < d; p++) s += corpus[j * d + p] * corpus[j * d + p];
        out[j] = Math.sqrt(s);
      }
      this.#corpusNorms = out;
    }
    return this.#corpusNorms;
  }
}

/** Up to {@link SAMPLE_ROWS} query indices spread over `[0, q)`. */
export function sampleRows(q: number): number[] {
  if (q <= SAMPLE_ROWS) return Array.from({ length: q }, (_, i) => i);
  return Array.from({ length: SAMPLE_ROWS }, (_, i) => Math.round((i * (q - 1)) / (SAMPLE_ROWS - 1)));
}

/**
 * Checks a `q x n` cosine matrix (row-major): every value of sampled rows against float64, and
 * every row by a projection onto random signs `v`, `(out v)_i` against the exact `(M v)_i`. Values
 * each within `tolerance` keep that within `8 tolerance sqrt(n)` but with odds below 1e-13 (their
 * errors do not know `v`: Hoeffding), while a row that is wrong throughout (negated, shifted, another
 * row's) moves it by about its own norm: a backend right on the sampled rows only once passed.
 */
export function checkMatrix(
  exact: ExactReference,
  q: number,
  n: number,
  out: ArrayLike<number>,
  tolerance: number,
): Accuracy {
  if (out.length !== q * n) return failed(tolerance, `returned ${out.length} values, expected ${q * n}`);
  const rows = sampleRows(q);
  let err = 0;
  for (const i of rows) {
    const e = exact.row(i, n);
    for (let j = 0; j < n; j++) err = maxErr(err, out[i * n + j], e[j]);
  }
  let seed = 0x9e3779b9 ^ (q * 31 + n);
  const v = Float64Array.from({ length: n }, () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed & 0x10000 ? 1 : -1;
  });
  const want = exact.projected(v, q, n);
  const bound = 8 * tolerance * Math.sqrt(n) + 1e-9 * n;
  for (let i = 0; i < q; i++) {
    let got = 0;
    for (let j = 0; j < n; j++) got += out[i * n + j] * v[j];
    const off = Math.abs(got - want[i]);
    if (!(off <= bound)) {
      // That row in full, for its true largest error.
      const e = exact.row(i, n);
      for (let j = 0; j < n; j++) err = maxErr(err, out[i * n + j], e[j]);
      return {
        maxAbsError: err,
        tolerance,
        checkedRows: rows.length + 1,
        ok: false,
        problem: `row ${i} is wrong: its projection on random signs is off by ${off.toPrecision(3)}, past the ${bound.toPrecision(3)} values within the tolerance allow`,
      };
    }
  }
  return { maxAbsError: err, tolerance, checkedRows: rows.length, ok: err <= tolerance };
}

/**
 * Checks a top-k answer on sampled queries: each returned index must be among the exact top-k, or
 * score within `tie` of the exact k-th best (a tie in float32); each score must match the exact
 * cosine of its index within `tolerance`. Recall is the share of returned hits that pass the first
 * test; exact search needs 1, an approximate one `minRecall`. `tie` defaults to `tolerance`; an
 * approximate method's score tolerance (2e-2 for int8) is no tie band: rows ranked 30th to 40th lie
 * within 2e-2 of the 10th on B, and a search returning none of the true top-10 read as recall 1.
 */
export function checkSearch(
  exact: ExactReference,
  q: number,
  n: number,
  k: number,
  indices: ArrayLike<number>,
  scores: ArrayLike<number>,
  tolerance: number,
  minRecall = 1,
  tie = tolerance,
): Accuracy {
  if (indices.length !== q * k || scores.length !== q * k) {
    return failed(tolerance, `returned ${indices.length} hits, expected ${q * k}`);
  }
  // Every query: its hits distinct and in range, best first, each score its row's exact cosine (a
  // reversed top-k once passed). Recall needs the exact k-th best: on the sampled queries. Ties may
  // come in any order: peers do not all break them by the lower index as CosineKit does.
  let err = 0;
  for (let i = 0; i < q; i++) {
    const seen = new Set<number>();
    for (let j = 0; j < k; j++) {
      const idx = indices[i * k + j];
      if (!Number.isInteger(idx) || idx < 0 || idx >= n || seen.has(idx))
        return failed(tolerance, `query ${i}: hit ${j} is ${idx}, not a new row of the corpus`);
      seen.add(idx);
      err = maxErr(err, scores[i * k + j], exact.pair(i, idx));
      if (j > 0) {
        const [a, b] = [scores[i * k + j - 1], scores[i * k + j]];
        if (b > a)
          return failed(
            tolerance,
            `query ${i}: hit ${j} (row ${idx}, ${b}) scores above hit ${j - 1} (row ${indices[i * k + j - 1]}, ${a}): not best first`,
          );
      }
    }
  }
  const rows = sampleRows(q);
  let found = 0;
  for (const i of rows) {
    const e = exact.row(i, n);
    const kth = kthLargest(e, k);
    for (let j = 0; j < k; j++) if (e[indices[i * k + j]] >= kth - tie) found++;
  }
  const recall = found / (rows.length * k);
  return {
    maxAbsError: err,
    recall,
    tolerance,
    checkedRows: rows.length,
    ok: err <= tolerance && recall >= minRecall,
  };
}

function maxErr(err: number, got: number, want: number): number {
  const e = Math.abs(got - want);
  // NaN never compares greater, so catch it explicitly: a NaN cosine is a wrong answer.
  return Number.isNaN(e) ? Number.POSITIVE_INFINITY : e > err ? e : err;
}

function kthLargest(v: Float64Array, k: number): number {
  // A size-k min-heap would be faster; a sorted copy keeps the checker obviously right.
  const s = Float64Array.from(v).sort();
  return s[s.length - k];
}

function failed(tolerance: number, problem: string): Accuracy {
  return { maxAbsError: Number.POSITIVE_INFINITY, tolerance, checkedRows: 0, ok: false, problem };
}

/** Share of queries whose k nearest corpus rows vote for the query's own label (ties: the nearest wins). */
export function knnAccuracy(
  indices: ArrayLike<number>,
  q: number,
  k: number,
  queryLabels: Int32Array,
  corpusLabels: Int32Array,
): number {
  let right = 0;
  for (let i = 0; i < q; i++) {
    const votes = new Map<number, number>();
    let best = -1;
    let bestVotes = 0;
    for (let j = 0; j < k; j++) {
      const label = corpusLabels[indices[i * k + j]];
      const v = (votes.get(label) ?? 0) + 1;
      votes.set(label, v);
      if (v > bestVotes) {
        bestVotes = v;
        best = label;
      }
    }
    if (best === queryLabels[i]) right++;
  }
  return right / q;
}
