import type { Activation, Matrix } from '../contract.js';

/** sqrt(2 / pi), for the tanh approximation of GELU. */
const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;

/** Scalar activation `f(x)`. `gelu` is the tanh approximation used by BERT and GPT-2. */
export function activate(kind: Activation, x: number): number {
  switch (kind) {
    case 'linear':
      return x;
    case 'relu':
      return x > 0 ? x : 0;
    case 'tanh':
      return Math.tanh(x);
    case 'sigmoid':
      return 1 / (1 + Math.exp(-x));
    case 'gelu':
      return 0.5 * x * (1 + Math.tanh(GELU_C * (x + GELU_A * x * x * x)));
  }
}

/** Scalar derivative `f'(x)`. */
export function activateDerivative(kind: Activation, x: number): number {
  switch (kind) {
    case 'linear':
      return 1;
    case 'relu':
      return x > 0 ? 1 : 0;
    case 'tanh': {
      const t = Math.tanh(x);
      return 1 - t * t;
    }
    case 'sigmoid': {
      const s = 1 / (1 + Math.exp(-x));
      return s * (1 - s);
    }
    case 'gelu': {
      const t = Math.tanh(GELU_C * (x + GELU_A * x * x * x));
      return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * GELU_C * (1 + 3 * GELU_A * x * x);
    }
  }
}

/** Reference `activation`. */
export function activation(
  kind: Activation,
  x: Matrix,
  out: Float32Array = new Float32Array(x.data.length),
): Float32Array {
  const d = x.data;
  if (kind === 'relu') {
    for (let i = 0; i < d.length; i++) out[i] = d[i] > 0 ? d[i] : 0;
  } else {
    for (let i = 0; i < d.length; i++) out[i] = activate(kind, d[i]);
  }
  return out;
}

/** Reference `activationGrad`: `dy * f'(x)`. */
export function activationGrad(
  kind: Activation,
  x: Matrix,
  dy: Matrix,
  out: Float32Array = new Float32Array(x.data.length),
): Float32Array {
  const xd = x.data;
  const g = dy.data;
  for (let i = 0; i < xd.length; i++) out[i] = g[i] * activateDerivative(kind, xd[i]);
  return out;
}
