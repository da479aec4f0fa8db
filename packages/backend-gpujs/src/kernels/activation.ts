import type { Activation, Matrix } from '@cosinekit/core/backend';
import { type Engine, matrixArg } from '../engine.js';
import { runTiled } from '../tiles.js';

/** sqrt(2 / pi) and the cubic coefficient of the tanh approximation of GELU. */
const GELU_C = '0.7978845608028654';
const GELU_A = '0.044715';

/**
 * `t = tanh(w)` as kernel statements. GLSL ES 1.0 has no tanh and gpu.js's stand-in
 * `(e^2w - 1) / (e^2w + 1)` gives NaN past |w| ~ 44, so: a short series near zero (no
 * cancellation) and `(1 - e^-2|w|) / (1 + e^-2|w|)` elsewhere (never overflows).
 */
function tanhInto(t: string, w: string): string {
  return `let ${t} = 0.0;
  if (Math.abs(${w}) < 0.1) {
    const ${t}2 = ${w} * ${w};
    ${t} = ${w} * (1.0 - ${t}2 * (0.3333333333333333 - ${t}2 * 0.13333333333333333));
  } else {
    const ${t}e = Math.exp(-2.0 * Math.abs(${w}));
    ${t} = (1.0 - ${t}e) / (1.0 + ${t}e);
    if (${w} < 0.0) {
      ${t} = -${t};
    }
  }`;
}

/** Kernel statements returning `f(v)`. */
const FORWARD: Record<Activation, string> = {
  linear: 'return v;',
  relu: `if (v > 0.0) {
    return v;
  }
  return 0.0;`,
  tanh: `${tanhInto('t', 'v')}
  return t;`,
  sigmoid: 'return 1.0 / (1.0 + Math.exp(-v));',
  gelu: `const u = ${GELU_C} * (v + ${GELU_A} * v * v * v);
  ${tanhInto('t', 'u')}
  return 0.5 * v * (1.0 + t);`,
};

/** Kernel statements returning `g * f'(v)`. */
const BACKWARD: Record<Activation, string> = {
  linear: 'return g;',
  relu: `if (v > 0.0) {
    return g;
  }
  return 0.0;`,
  tanh: `${tanhInto('t', 'v')}
  return g * (1.0 - t * t);`,
  sigmoid: `const s = 1.0 / (1.0 + Math.exp(-v));
  return g * s * (1.0 - s);`,
  // Past |v| = 10 the derivative is 0 or 1 in float32, and v * v would only risk Inf * 0.
  gelu: `if (Math.abs(v) > 10.0) {
    if (v > 0.0) {
      return g;
    }
    return 0.0;
  }
  const u = ${GELU_C} * (v + ${GELU_A} * v * v * v);
  ${tanhInto('t', 'u')}
  return g * (0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * ${GELU_C} * (1.0 + 3.0 * ${GELU_A} * v * v));`,
};

/** `activation`: `f(x)` element-wise, one kernel per activation. */
export function activation(
  engine: Engine,
  kind: Activation,
  x: Matrix,
  out: Float32Array = new Float32Array(x.data.length),
): Float32Array {
  const key = `activation:${kind}`;
  const k = engine.kernel(key, () => ({
    source: `function (x, r0, c0) {
  const v = x[r0 + this.thread.y][c0 + this.thread.x];
  ${FORWARD[kind]}
}`,
  }));
  return runTiled(engine, key, k, x.rows, x.cols, out, matrixArg(engine, x.data, x.rows, x.cols));
}

/** `activationGrad`: `dy * f'(x)` element-wise. */
export function activationGrad(
  engine: Engine,
  kind: Activation,
  x: Matrix,
  dy: Matrix,
  out: Float32Array = new Float32Array(x.data.length),
): Float32Array {
  const key = `activationGrad:${kind}`;
  const k = engine.kernel(key, () => ({
    source: `function (x, dy, r0, c0) {
  const i = r0 + this.thread.y;
  const j = c0 + this.thread.x;
  const v = x[i][j];
  const g = dy[i][j];
  ${BACKWARD[kind]}
}`,
  }));
  return runTiled(
    engine,
    key,
    k,
    x.rows,
    x.cols,
    out,
    matrixArg(engine, x.data, x.rows, x.cols),
    matrixArg(engine, dy.data, dy.rows, dy.cols),
  );
}
