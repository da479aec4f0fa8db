import type { TopKResult } from './contract.js';
import { argError } from './errors.js';

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
  readonly queries: number;
  readonly k: number;
  readonly indices: Int32Array;
  readonly scores: Float32Array;
  /** The caller's ids of the hits (flat, like `indices`), when the corpus was given ids. */
  readonly ids: readonly (number | string)[] | undefined;

  constructor(r: TopKResult, ids?: readonly (number | string)[]) {
    this.queries = r.queries;
    this.k = r.k;
    this.indices = r.indices;
    this.scores = r.scores;
    this.ids = ids;
  }

  /** Hits of query `q` as views (no copy). */
  hits(q: number): Hits {
    if (!Number.isInteger(q) || q < 0 || q >= this.queries) {
      argError('INVALID_ARGUMENT', 'hits', 'q', `must be an integer in [0, ${this.queries - 1}], got ${q}.`);
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
