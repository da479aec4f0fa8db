import type { Activation, Kernels } from '@cosinekit/core/backend';
import type * as TF from '@tensorflow/tfjs-core';
import type { KernelContext } from '../context.js';
import type { Tfjs } from '../engine.js';
import { readAndDispose, upload } from '../graph.js';

/** sqrt(2 / pi) and the cubic coefficient of GELU's tanh approximation, as in core's `activate`. */
const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;
/**
 * Beyond this magnitude tanh of GELU's inner polynomial is exactly ±1 in float32, so clamping the
 * polynomial's input there changes no result and keeps x^3 (and, in the gradient, x^2) finite.
 */
const GELU_SATURATION = 20;

/** `activation`: `f(x)` element-wise. `linear` is a copy and never reaches tfjs. */
export function activation(ctx: KernelContext): Kernels['activation'] {
  return (kind, x, out) => {
    if (kind === 'linear') return copy(x.data, out);
    return ctx.run('activation', (tf) =>
      readAndDispose(
        tf.tidy(() => forward(tf, kind, upload(tf, x))),
        out,
      ),
    );
  };
}

/** `activationGrad`: `dy * f'(x)` element-wise. */
export function activationGrad(ctx: KernelContext): Kernels['activationGrad'] {
  return (kind, x, dy, out) => {
    if (kind === 'linear') return copy(dy.data, out);
    return ctx.run('activationGrad', (tf) =>
      readAndDispose(
        tf.tidy(() => tf.mul(upload(tf, dy), derivative(tf, kind, upload(tf, x)))),
        out,
      ),
    );
  };
}

function forward(tf: Tfjs, kind: Exclude<Activation, 'linear'>, x: TF.Tensor2D): TF.Tensor {
  switch (kind) {
    case 'relu':
      return tf.relu(x);
    case 'tanh':
      return tf.tanh(x);
    case 'sigmoid':
      return tf.sigmoid(x);
    case 'gelu':
      return tf.mul(tf.mul(x, 0.5), tf.add(geluTanh(tf, x), 1));
  }
}

function derivative(tf: Tfjs, kind: Exclude<Activation, 'linear'>, x: TF.Tensor2D): TF.Tensor {
  switch (kind) {
    case 'relu':
      // 1 where x > 0, else 0 (0 at x = 0, as the reference).
      return tf.step(x, 0);
    case 'tanh':
      return tf.sub(1, tf.square(tf.tanh(x)));
    case 'sigmoid': {
      const s = tf.sigmoid(x);
      return tf.mul(s, tf.sub(1, s));
    }
    case 'gelu': {
      // 0.5 (1 + t) + 0.5 x (1 - t^2) c (1 + 3 a x^2), with t = tanh(c (x + a x^3)).
      const xc = tf.clipByValue(x, -GELU_SATURATION, GELU_SATURATION);
      const t = geluTanh(tf, x);
      const slope = tf.mul(tf.mul(xc, 0.5 * GELU_C), tf.add(tf.mul(tf.square(xc), 3 * GELU_A), 1));
      return tf.add(tf.mul(tf.add(t, 1), 0.5), tf.mul(slope, tf.sub(1, tf.square(t))));
    }
  }
}

/** tanh(c (x + a x^3)), on x clamped where the result is ±1 anyway. */
function geluTanh(tf: Tfjs, x: TF.Tensor2D): TF.Tensor {
  const xc = tf.clipByValue(x, -GELU_SATURATION, GELU_SATURATION);
  return tf.tanh(tf.mul(tf.add(xc, tf.mul(tf.mul(tf.square(xc), xc), GELU_A)), GELU_C));
}

function copy(src: Float32Array, out?: Float32Array): Float32Array {
  if (out === undefined) return src.slice();
  out.set(src);
  return out;
}
