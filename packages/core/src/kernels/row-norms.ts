import type { Matrix } from '../contract.js';

/** Reference `rowNorms`: L2 norm of each row, accumulated in float64. */
export function rowNorms(x: Matrix, out: Float32Array = new Float32Array(x.rows)): Float32Array {
  const { data, rows, cols } = x;
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    let s0 = 0,
      s1 = 0;
    let p = 0;
    for (; p + 2 <= cols; p += 2) {
      const u = data[o + p],
        v = data[o + p + 1];
      s0 += u * u;
      s1 += v * v;
    }
    if (p < cols) s0 += data[o + p] * data[o + p];
    out[i] = Math.sqrt(s0 + s1);
  }
  return out;
}
