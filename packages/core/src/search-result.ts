import type { TopKResult } from './contract.js';
import { argError } from './errors.js';
import { valueText } from './tensor.js';

/** One query's hits: corpus row indices (or ids) and their cosines, best first. */
export interface Hits {
  readonly indices: Int32Array;
  readonly scores: Float32Array;
}

/**
 * The answer of a top-k search for Q queries: k hits per query, best first, ties broken by the
 * lower corpus index. The flat arrays hold query q at `[q * k, (q + 1) * k)`.
 */
export class SearchResult implements TopKResult {
  /** Number of queries. */
  readonly queries: number;
  /** Hits per query. */
  readonly k: number;
  /**
   * The hits' rows, `queries x k`: for `kit.topK` the row's index in the corpus argument; for a
   * resident corpus's `search`, its ordinal (the number it was given when added, kept when other
   * rows are removed; see `Corpus`).
   */
  readonly indices: Int32Array;
  /** The hits' cosines, `queries x k`, best first. */
  readonly scores: Float32Array;
  /** The caller's ids of the hits (flat, like `indices`), when the corpus was given ids. */
  readonly ids: readonly (number | string)[] | undefined;

  /**
   * Wraps a top-k answer (not copied). Checked, since it is exported: `r` an object whose `queries`
   * and `k` are counts, `indices` an Int32Array and `scores` a Float32Array of `queries x k` values
   * each, `ids` (when given) an array of that length; anything else is a typed error naming
   * `SearchResult` and the field, where it once made `toArray()` return truncated rows or threw a
   * TypeError.
   */
  constructor(r: TopKResult, ids?: readonly (number | string)[]) {
    const op = 'SearchResult';
    if (typeof r !== 'object' || r === null)
      argError(
        'INVALID_TYPE',
        op,
        'r',
        `must be a top-k result object, got ${r === null ? 'null' : typeof r}.`,
      );
    const count = (name: string, v: unknown) => {
      if (!(typeof v === 'number' && Number.isSafeInteger(v) && v >= 0))
        argError(
          'INVALID_ARGUMENT',
          op,
          `r.${name}`,
          `must be a count (an integer >= 0), got ${valueText(v)}.`,
        );
    };
    count('queries', r.queries);
    count('k', r.k);
    const n = r.queries * r.k;
    if (!(r.indices instanceof Int32Array))
      argError('INVALID_TYPE', op, 'r.indices', 'must be an Int32Array.');
    if (!(r.scores instanceof Float32Array))
      argError('INVALID_TYPE', op, 'r.scores', 'must be a Float32Array.');
    for (const [name, len] of [
      ['indices', r.indices.length],
      ['scores', r.scores.length],
      ...(ids === undefined ? [] : [['ids', Array.isArray(ids) ? ids.length : -1] as const]),
    ] as const)
      if (len !== n)
        argError(
          len < 0 ? 'INVALID_TYPE' : 'SHAPE_MISMATCH',
          op,
          name === 'ids' ? 'ids' : `r.${name}`,
          len < 0 ? 'must be an array.' : `has ${len} entries, not queries x k = ${n}.`,
        );
    this.queries = r.queries;
    this.k = r.k;
    this.indices = r.indices;
    this.scores = r.scores;
    this.ids = ids;
  }

  /** Hits of query `q` as views (no copy). */
  hits(q: number): Hits {
    if (!Number.isInteger(q) || q < 0 || q >= this.queries) {
      argError(
        'INVALID_ARGUMENT',
        'hits',
        'q',
        `must be an integer in [0, ${this.queries - 1}], got ${valueText(q)}.`,
      );
    }
    const a = q * this.k;
    return { indices: this.indices.subarray(a, a + this.k), scores: this.scores.subarray(a, a + this.k) };
  }

  /** Plain arrays, one entry per query (with `ids` when the corpus has ids). */
  toArray(): { indices: number[]; scores: number[]; ids?: (number | string)[] }[] {
    const out: { indices: number[]; scores: number[]; ids?: (number | string)[] }[] = [];
    for (let q = 0; q < this.queries; q++) {
      const h = this.hits(q);
      const row: { indices: number[]; scores: number[]; ids?: (number | string)[] } = {
        indices: Array.from(h.indices),
        scores: Array.from(h.scores),
      };
      if (this.ids) row.ids = this.ids.slice(q * this.k, (q + 1) * this.k);
      out.push(row);
    }
    return out;
  }
}
