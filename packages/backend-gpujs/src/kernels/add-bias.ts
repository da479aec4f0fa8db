import type { Matrix } from '@cosinekit/core/backend';
import { type Engine, matrixArg } from '../engine.js';
import { runTiled } from '../tiles.js';

const ADD_BIAS = `function (x, bias, r0, c0) {
  const i = r0 + this.thread.y;
  const j = c0 + this.thread.x;
  return x[i][j] + bias[j];
}`;

/** `addBias`: `x + bias` broadcast over rows. */
export function addBias(
  engine: Engine,
  x: Matrix,
  bias: Float32Array,
  out: Float32Array = new Float32Array(x.data.length),
): Float32Array {
  const key = 'addBias';
  const k = engine.kernel(key, () => ({ source: ADD_BIAS }));
  return runTiled(engine, key, k, x.rows, x.cols, out, matrixArg(engine, x.data, x.rows, x.cols), bias);
}
