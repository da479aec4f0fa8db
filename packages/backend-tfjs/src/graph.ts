/**
 * tfjs building blocks shared by the kernels. They create tensors, so call them inside `tf.tidy`.
 */
import type { Matrix } from '@cosinekit/core/backend';
import type * as TF from '@tensorflow/tfjs-core';
import type { Tfjs } from './engine.js';

/** The matrix as a 2-D float32 tensor (tfjs copies or wraps the data; it never writes to it). */
export function upload(tf: Tfjs, x: Matrix): TF.Tensor2D {
  return tf.tensor2d(x.data, [x.rows, x.cols], 'float32');
}

/**
 * Rows scaled by their largest magnitude, and that magnitude (`rows x 1`). Squaring the scaled
 * rows can neither overflow (|x| near 1e20) nor underflow (near 1e-20) in float32, so norms and
 * normalised rows stay exact where the plain sum of squares would give Infinity or 0.
 */
function scaled(tf: Tfjs, x: TF.Tensor2D): { rows: TF.Tensor2D; scale: TF.Tensor2D } {
  const scale = tf.max(tf.abs(x), 1, true) as TF.Tensor2D;
  return { rows: tf.div(x, nonZero(tf, scale)), scale };
}

/**
 * A per-row divisor with zeros replaced by 1, so a zero row divides to zeros, not NaN. Dividing
 * by a `rows x 1` column is one broadcast pass; tfjs's `divNoNan` does the same job on the full
 * matrix (measured 20x slower on tfjs-wasm), and multiplying by a reciprocal would overflow for
 * subnormal divisors.
 */
function nonZero(tf: Tfjs, column: TF.Tensor2D): TF.Tensor2D {
  return tf.where(tf.greater(column, 0), column, tf.onesLike(column));
}

/** The most values one float32 sum adds in a row (see {@link rowSums}). */
const PART = 512;

/**
 * The sum of each row (`rows x 1`). tfjs-wasm adds a row in one float32 chain, so long rows of
 * like values lose digits (the cosine of a constant row with itself was 9.5e-5 off at d = 6494):
 * rows past 1024 values are summed in near-equal parts of at most 512, and those sums again, until
 * at most 1024 are left (on every engine but tfjs-cpu, which sums in blocks of its own). The parts'
 * sums added in one chain lost up to one half-ulp of the largest per part: at d = 1,000,000 (1954
 * parts) a row with one dominant value had a norm 1.38e-5 off; in a second round of parts, about
 * a quarter of that.
 */
export function rowSums(tf: Tfjs, x: TF.Tensor2D): TF.Tensor2D {
  const r = x.shape[0];
  let d = x.shape[1];
  if (d <= 2 * PART || tf.getBackend() === 'cpu') return tf.sum(x, 1, true);
  let y = x;
  while (d > 2 * PART) {
    const parts = Math.ceil(d / PART);
    const size = Math.ceil(d / parts);
    const whole =
      parts * size === d
        ? y
        : tf.pad(y, [
            [0, 0],
            [0, parts * size - d],
          ]);
    y = tf.sum(tf.reshape(whole, [r, parts, size]), 2);
    d = parts;
  }
  return tf.sum(y, 1, true);
}

/** L2 norm of each row (`rows x 1`). */
export function rowNormsOf(tf: Tfjs, x: TF.Tensor2D): TF.Tensor2D {
  const { rows, scale } = scaled(tf, x);
  return tf.mul(scale, tf.sqrt(rowSums(tf, tf.square(rows))));
}

/** Each row over its L2 norm; a zero row stays zero (never NaN). */
export function normalizedOf(tf: Tfjs, x: TF.Tensor2D): TF.Tensor2D {
  const { rows } = scaled(tf, x);
  const norms = tf.sqrt(rowSums(tf, tf.square(rows))) as TF.Tensor2D;
  return tf.div(rows, nonZero(tf, norms));
}

/**
 * Cosines clamped to [-1, 1] on the tfjs device: `clampCos` from core, restated as a tensor op so
 * the clamp runs where the scores are (the conformance suite holds both to the same rule).
 */
export function clampCosines<T extends TF.Tensor>(tf: Tfjs, c: T): T {
  return tf.clipByValue(c, -1, 1);
}

/**
 * Reads a tensor into `out` (or a fresh array) and disposes it. Uses the async `data()` so the
 * webgl engine does not block on the GPU.
 */
export async function readAndDispose(t: TF.Tensor, out?: Float32Array): Promise<Float32Array> {
  try {
    const values = (await t.data()) as Float32Array;
    if (out === undefined) return values;
    out.set(values);
    return out;
  } finally {
    t.dispose();
  }
}
