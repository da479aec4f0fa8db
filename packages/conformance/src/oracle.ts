/**
 * The float64 oracle: plain, obviously-correct formulas, independent of every backend
 * (the reference backend included), computed from the same float32 inputs.
 */
import type { Activation, Matrix, OptimizerRule } from '@cosinekit/core/backend';

/** The float64 Euclidean norm of each row of `x`. */
export function norms64(x: Matrix): Float64Array {
  const out = new Float64Array(x.rows);
  for (let i = 0; i < x.rows; i++) {
    let s = 0;
    for (let j = 0; j < x.cols; j++) s += x.data[i * x.cols + j] ** 2;
    out[i] = Math.sqrt(s);
  }
  return out;
}

/** The float64 cosine of row `i` of `a` and row `j` of `b`, clamped to [-1, 1]; 0 when either row is zero. */
export function cos64(a: Matrix, i: number, b: Matrix, j: number): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let p = 0; p < a.cols; p++) {
    const x = a.data[i * a.cols + p];
    const y = b.data[j * b.cols + p];
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  if (na === 0 || nb === 0) return 0;
  return Math.max(-1, Math.min(1, dot / Math.sqrt(na * nb)));
}

/** The float64 cosines of every row of `a` against every row of `b`, `a.rows x b.rows`, row-major (see {@link cos64}). */
export function cosineMatrix64(a: Matrix, b: Matrix): Float64Array {
  const out = new Float64Array(a.rows * b.rows);
  for (let i = 0; i < a.rows; i++) for (let j = 0; j < b.rows; j++) out[i * b.rows + j] = cos64(a, i, b, j);
  return out;
}

/** `C = op(A) op(B)` and, per element, the sum of |products| (the scale of its rounding error). */
export function matmul64(
  a: Matrix,
  b: Matrix,
  ta: boolean,
  tb: boolean,
): { c: Float64Array; scale: Float64Array } {
  const m = ta ? a.cols : a.rows;
  const k = ta ? a.rows : a.cols;
  const n = tb ? b.rows : b.cols;
  const c = new Float64Array(m * n);
  const scale = new Float64Array(m * n);
  const A = (i: number, p: number) => (ta ? a.data[p * a.cols + i] : a.data[i * a.cols + p]);
  const B = (p: number, j: number) => (tb ? b.data[j * b.cols + p] : b.data[p * b.cols + j]);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      let t = 0;
      for (let p = 0; p < k; p++) {
        const v = A(i, p) * B(p, j);
        s += v;
        t += Math.abs(v);
      }
      c[i * n + j] = s;
      scale[i * n + j] = t;
    }
  }
  return { c, scale };
}

const GELU_C = Math.sqrt(2 / Math.PI);

/** Activation `kind` of `x` in float64. */
export function act64(kind: Activation, x: number): number {
  switch (kind) {
    case 'linear':
      return x;
    case 'relu':
      return Math.max(0, x);
    case 'tanh':
      return Math.tanh(x);
    case 'sigmoid':
      return 1 / (1 + Math.exp(-x));
    case 'gelu':
      return 0.5 * x * (1 + Math.tanh(GELU_C * (x + 0.044715 * x ** 3)));
  }
}

/** Derivative by a central difference on the float64 formula: independent of any hand derivation. */
export function actGrad64(kind: Activation, x: number): number {
  if (kind === 'relu') return x > 0 ? 1 : 0;
  const h = 1e-6 * Math.max(1, Math.abs(x));
  return (act64(kind, x + h) - act64(kind, x - h)) / (2 * h);
}

/** Exact top-k by the float64 cosine: best first, ties to the lower index. */
export function topK64(q: Matrix, c: Matrix, k: number): { indices: number[][]; scores: number[][] } {
  const indices: number[][] = [];
  const scores: number[][] = [];
  for (let i = 0; i < q.rows; i++) {
    const s: [number, number][] = [];
    for (let j = 0; j < c.rows; j++) s.push([cos64(q, i, c, j), j]);
    s.sort((x, y) => y[0] - x[0] || x[1] - y[1]);
    indices.push(s.slice(0, k).map((e) => e[1]));
    scores.push(s.slice(0, k).map((e) => e[0]));
  }
  return { indices, scores };
}

/**
 * An optimiser's parameters after `rules.length` steps (one rule, hence one gradient, per step),
 * from zero moments, with every recurrence in float64 (nothing rounded): Adam (AdamW's decoupled
 * weight decay when `weightDecay` > 0) or SGD with momentum, from the same float32 inputs.
 */
export function optimizerSteps64(
  p0: Float32Array,
  grads: readonly Float32Array[],
  rules: readonly OptimizerRule[],
): Float64Array {
  const p = Float64Array.from(p0);
  const m = new Float64Array(p.length);
  const v = new Float64Array(p.length);
  rules.forEach((r, s) => {
    const g = grads[s];
    for (let i = 0; i < p.length; i++) {
      if (r.kind === 'adam') {
        m[i] = r.beta1 * m[i] + (1 - r.beta1) * g[i];
        v[i] = r.beta2 * v[i] + (1 - r.beta2) * g[i] * g[i];
        const mh = m[i] / (1 - r.beta1 ** r.step);
        const vh = v[i] / (1 - r.beta2 ** r.step);
        p[i] -= (r.learningRate * mh) / (Math.sqrt(vh) + r.epsilon) + r.learningRate * r.weightDecay * p[i];
      } else {
        m[i] = r.momentum * m[i] + g[i] + r.weightDecay * p[i];
        p[i] -= r.learningRate * m[i];
      }
    }
  });
  return p;
}

/**
 * Softmax cross-entropy of `scale x logits` per row against `targets`, entries with a 0 in `keep`
 * left out (the target never is), all in float64 with `Math.exp` and `Math.log`: the losses and
 * dL/dlogits of `weight x sum_i loss_i`, left-out entries 0.
 */
export function softmaxCrossEntropy64(
  x: ArrayLike<number>,
  rows: number,
  cols: number,
  targets: ArrayLike<number>,
  scale: number,
  weight: number,
  keep?: ArrayLike<number>,
): { grad: Float64Array; losses: Float64Array } {
  const grad = new Float64Array(rows * cols);
  const losses = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    const t = targets[i];
    const kept = (j: number) => j === t || !keep || keep[o + j] !== 0;
    let m = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < cols; j++) if (kept(j)) m = Math.max(m, x[o + j]);
    let z = 0;
    for (let j = 0; j < cols; j++) if (kept(j)) z += Math.exp(scale * (x[o + j] - m));
    losses[i] = Math.log(z) - scale * (x[o + t] - m);
    for (let j = 0; j < cols; j++)
      if (kept(j)) grad[o + j] = scale * weight * (Math.exp(scale * (x[o + j] - m)) / z - (j === t ? 1 : 0));
  }
  return { grad, losses };
}
