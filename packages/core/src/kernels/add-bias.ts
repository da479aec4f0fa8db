import type { Matrix } from '../contract.js';

/** Reference `addBias`: `x + bias` broadcast over rows. */
export function addBias(
  x: Matrix,
  bias: Float32Array,
  out: Float32Array = new Float32Array(x.data.length),
): Float32Array {
  const { data, rows, cols } = x;
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    for (let j = 0; j < cols; j++) out[o + j] = data[o + j] + bias[j];
  }
  return out;
}
