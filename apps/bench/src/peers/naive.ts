/**
 * The naive JavaScript loop a user writes first: per pair, the dot product and both norms over
 * Float32Array, then a divide. It is the default baseline of every ratio.
 */

/** Cosine of `a[ao..ao+d)` and `b[bo..bo+d)`, one loop, float64 sums. */
export function naiveCosine(a: Float32Array, ao: number, b: Float32Array, bo: number, d: number): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < d; i++) {
    const x = a[ao + i];
    const y = b[bo + i];
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  const den = Math.sqrt(na) * Math.sqrt(nb);
  return den === 0 ? 0 : dot / den;
}

/** The `q x n` cosine matrix, one naive pair at a time (norms recomputed per pair, as naive code does). */
export function naiveMatrix(queries: Float32Array, corpus: Float32Array, q: number, n: number, d: number) {
  const out = new Float32Array(q * n);
  for (let i = 0; i < q; i++) {
    for (let j = 0; j < n; j++) out[i * n + j] = naiveCosine(queries, i * d, corpus, j * d, d);
  }
  return out;
}

/** Top-k the naive way: score every row, sort all indices by score, keep the first k. */
export function naiveSearch(
  queries: Float32Array,
  corpus: Float32Array,
  q: number,
  n: number,
  d: number,
  k: number,
): { indices: Int32Array; scores: Float32Array } {
  const indices = new Int32Array(q * k);
  const scores = new Float32Array(q * k);
  const s = new Float64Array(n);
  for (let i = 0; i < q; i++) {
    for (let j = 0; j < n; j++) s[j] = naiveCosine(queries, i * d, corpus, j * d, d);
    const order = Array.from({ length: n }, (_, j) => j).sort((x, y) => s[y] - s[x] || x - y);
    for (let j = 0; j < k; j++) {
      indices[i * k + j] = order[j];
      scores[i * k + j] = s[order[j]];
    }
  }
  return { indices, scores };
}
