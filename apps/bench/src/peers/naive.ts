/**
 * The loops a user writes instead of CosineKit, on Float32Array.
 *
 * The baseline of every ratio is the textbook loop: the dot product and both norms in one pass,
 * reading `a[i]` and `b[i]` in each term, then a divide. It is the form tutorials and answers show,
 * and on Float32Array it is slower than it looks (3.6-4.0 us for d = 1536 on this machine kind; slower
 * than the same loop on a plain Array): V8 does not merge the repeated element loads, so each costs a
 * load and a float32-to-float64 conversion.
 *
 * Beside it runs the same loop with each element read once into a local ("hoisted"), which V8 runs
 * about 2x faster: a tuned loop, shown so that no one mistakes the baseline for the best plain
 * JavaScript can do.
 */

/** Cosine of two equal-length rows, the textbook way; 0 when either is a zero vector. */
export function naiveCosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  const den = Math.sqrt(na) * Math.sqrt(nb);
  return den === 0 ? 0 : dot / den;
}

/** Row views (no copies) of a row-major `rows x d` matrix: how a user holds a list of embeddings. */
export function rowsOf(data: Float32Array, rows: number, d: number): Float32Array[] {
  return Array.from({ length: rows }, (_, i) => data.subarray(i * d, (i + 1) * d));
}

/** The `q x n` cosine matrix, one textbook pair at a time (norms recomputed per pair, as naive code does). */
export function naiveMatrix(
  queries: Float32Array,
  corpus: Float32Array,
  q: number,
  n: number,
  d: number,
  qs: readonly Float32Array[] = rowsOf(queries, q, d),
  cs: readonly Float32Array[] = rowsOf(corpus, n, d),
): Float32Array {
  const out = new Float32Array(q * n);
  for (let i = 0; i < q; i++) {
    for (let j = 0; j < n; j++) out[i * n + j] = naiveCosine(qs[i], cs[j]);
  }
  return out;
}

/** Top-k the naive way: score every row with the textbook loop, sort all indices by score, keep k. */
export function naiveSearch(
  queries: Float32Array,
  corpus: Float32Array,
  q: number,
  n: number,
  d: number,
  k: number,
  qs: readonly Float32Array[] = rowsOf(queries, q, d),
  cs: readonly Float32Array[] = rowsOf(corpus, n, d),
): { indices: Int32Array; scores: Float32Array } {
  const indices = new Int32Array(q * k);
  const scores = new Float32Array(q * k);
  const s = new Float64Array(n);
  for (let i = 0; i < q; i++) {
    for (let j = 0; j < n; j++) s[j] = naiveCosine(qs[i], cs[j]);
    const order = Array.from({ length: n }, (_, j) => j).sort((x, y) => s[y] - s[x] || x - y);
    for (let j = 0; j < k; j++) {
      indices[i * k + j] = order[j];
      scores[i * k + j] = s[order[j]];
    }
  }
  return { indices, scores };
}

/** Cosine of `a[ao..ao+d)` and `b[bo..bo+d)` with each element read once: the tuned plain loop. */
export function hoistedCosine(a: Float32Array, ao: number, b: Float32Array, bo: number, d: number): number {
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

/** The `q x n` cosine matrix, one hoisted pair at a time. */
export function hoistedMatrix(queries: Float32Array, corpus: Float32Array, q: number, n: number, d: number) {
  const out = new Float32Array(q * n);
  for (let i = 0; i < q; i++) {
    for (let j = 0; j < n; j++) out[i * n + j] = hoistedCosine(queries, i * d, corpus, j * d, d);
  }
  return out;
}
