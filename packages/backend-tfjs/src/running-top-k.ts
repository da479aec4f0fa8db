import { clampCos, type TopKResult } from '@cosinekit/core/backend';

/**
 * The running per-query selection of a tiled search. Each tile of the corpus contributes its own
 * best `k` (from `tf.topk`) and they are merged here, so memory is O(Q x k) whatever N is.
 *
 * Order is score descending, then index ascending. Tiles arrive in corpus order, so on equal
 * scores an entry already kept always wins against a new one. Within a tile, `tf.topk` on the
 * cpu and wasm engines picks and orders equal values lowest index first (webgl hands tiles of
 * fewer than 100,000 columns to the cpu implementation), which the tests check; the merge re-sorts
 * a tile's candidates whenever they come out of that order, so ordering never depends on it.
 */
export class RunningTopK {
  readonly queries: number;
  readonly k: number;
  readonly #scores: Float32Array;
  readonly #indices: Int32Array;
  readonly #size: Int32Array;
  // Scratch for one merge.
  readonly #mergedScores: Float32Array;
  readonly #mergedIndices: Int32Array;
  #order: number[] = [];

  constructor(queries: number, k: number) {
    this.queries = queries;
    this.k = k;
    this.#scores = new Float32Array(queries * k);
    this.#indices = new Int32Array(queries * k);
    this.#size = new Int32Array(queries);
    this.#mergedScores = new Float32Array(k);
    this.#mergedIndices = new Int32Array(k);
  }

  /**
   * Merges `count` candidates for query `q`: scores `scores[off + t]` of corpus rows
   * `base + indices[off + t]` (tile-local indices shifted to the corpus).
   */
  merge(
    q: number,
    scores: Float32Array,
    indices: Int32Array,
    off: number,
    count: number,
    base: number,
  ): void {
    const order = this.#candidateOrder(scores, indices, off, count);
    const k = this.k;
    const at = q * k;
    const keptScores = this.#scores;
    const keptIndices = this.#indices;
    const kept = this.#size[q];
    const ms = this.#mergedScores;
    const mi = this.#mergedIndices;
    let i = 0;
    let j = 0;
    let n = 0;
    while (n < k && (i < kept || j < count)) {
      const c = order === null ? off + j : order[j];
      // Kept entries have lower indices than every candidate: on a tie the kept one goes first.
      if (j >= count || (i < kept && keptScores[at + i] >= scores[c])) {
        ms[n] = keptScores[at + i];
        mi[n++] = keptIndices[at + i++];
      } else {
        ms[n] = scores[c];
        mi[n++] = base + indices[c];
        j++;
      }
    }
    keptScores.set(ms.subarray(0, n), at);
    keptIndices.set(mi.subarray(0, n), at);
    this.#size[q] = n;
  }

  /**
   * The selection, best first per query. The candidates were clamped to [-1, 1] before they were
   * selected; clamping again here only guards a caller that merges raw scores.
   */
  result(): TopKResult {
    const scores = this.#scores.slice();
    for (let i = 0; i < scores.length; i++) scores[i] = clampCos(scores[i]);
    return { queries: this.queries, k: this.k, indices: this.#indices.slice(), scores };
  }

  /**
   * Null when the candidates already run score-descending with ties by ascending index (the
   * normal case); otherwise their positions in that order.
   */
  #candidateOrder(scores: Float32Array, indices: Int32Array, off: number, count: number): number[] | null {
    let sorted = true;
    for (let t = off + 1; t < off + count; t++) {
      const prev = scores[t - 1];
      if (scores[t] > prev || (scores[t] === prev && indices[t] < indices[t - 1])) {
        sorted = false;
        break;
      }
    }
    if (sorted) return null;
    const order = this.#order;
    order.length = 0;
    for (let t = off; t < off + count; t++) order.push(t);
    order.sort((x, y) => scores[y] - scores[x] || indices[x] - indices[y]);
    return order;
  }
}
