import type { Matrix } from '../contract.js';
import { argError } from '../errors.js';
import { matrixArg, viewArg } from '../tensor.js';

/**
 * Refuses a `columnSums` call whose shape does not hold: `x.data` must be a Float32Array of
 * `rows x cols` values (whole numbers, `cols >= 1`) and `out`, when given, one of `cols` values.
 * Shared by every backend's kernel, so a bad call fails the same way everywhere, as
 * `SHAPE_MISMATCH` (or `INVALID_TYPE`) naming `columnSums` and the argument.
 */
export function checkColumnSums(x: Matrix, out: Float32Array | undefined): void {
  const { data, rows, cols } = matrixArg('columnSums', 'x', x, [0, 1]);
  if (data.length !== rows * cols)
    argError('SHAPE_MISMATCH', 'columnSums', 'x', `holds ${data.length} values, not ${rows} x ${cols}.`);
  if (out !== undefined && viewArg('columnSums', 'out', out, [Float32Array]).length !== cols)
    argError('SHAPE_MISMATCH', 'columnSums', 'out', `must be a Float32Array of ${cols} values.`);
}

/**
 * Reference `columnSums`: each column of `x` summed down the rows in order, from +0, rounding to
 * float32 after every add (the contract's order, so every backend gives the same bits). Four
 * columns at a time in locals: `Math.fround(s + v)` is what a float32 store of `s + v` keeps.
 */
export function columnSums(x: Matrix, out?: Float32Array): Float32Array {
  checkColumnSums(x, out);
  const { data: m, rows, cols } = x;
  const o = out ?? new Float32Array(cols);
  const end = rows * cols;
  let j = 0;
  for (; j + 4 <= cols; j += 4) {
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let i = j; i < end; i += cols) {
      s0 = Math.fround(s0 + m[i]);
      s1 = Math.fround(s1 + m[i + 1]);
      s2 = Math.fround(s2 + m[i + 2]);
      s3 = Math.fround(s3 + m[i + 3]);
    }
    o[j] = s0;
    o[j + 1] = s1;
    o[j + 2] = s2;
    o[j + 3] = s3;
  }
  for (; j < cols; j++) {
    let s = 0;
    for (let i = j; i < end; i += cols) s = Math.fround(s + m[i]);
    o[j] = s;
  }
  return o;
}
