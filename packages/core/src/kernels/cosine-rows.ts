import type { Matrix } from '../contract.js';
import { cosineOf } from './pair.js';

/** Reference `cosineRows`: `out[i] = cos(a_i, b_i)`. */
export function cosineRows(a: Matrix, b: Matrix, out: Float32Array = new Float32Array(a.rows)): Float32Array {
  const d = a.cols;
  for (let i = 0; i < a.rows; i++) out[i] = cosineOf(a.data, i * d, b.data, i * d, d);
  return out;
}
