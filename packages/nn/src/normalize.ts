import { argError } from '@cosinekit/core/backend';
import type { Vec } from './ops.js';

/**
 * Row-wise L2 normalisation `y_i = x_i / ‖x_i‖` and its gradient. A zero row maps to zero with a
 * zero gradient, the same rule as core's cosine kernels (the cosine of a zero vector is 0).
 */

/** Normalised rows and the norms the backward pass needs. */
export interface NormalizedRows {
  readonly y: Vec;
  readonly norms: Float64Array;
}

/** A zeroed array of `n` values in the precision of `like` (`DenseOps.alloc` fits). */
export type Alloc = (n: number) => Vec;

const allocLike =
  (like: Vec): Alloc =>
  (n) =>
    like instanceof Float64Array ? new Float64Array(n) : new Float32Array(n);

/** `y_i = x_i / ‖x_i‖` in the precision of `x`; `alloc` gives the zeroed output (same precision). */
export function normalizeRowsForward(
  x: Vec,
  rows: number,
  cols: number,
  alloc: Alloc = allocLike(x),
): NormalizedRows {
  const y = alloc(x.length);
  const norms = new Float64Array(rows);
  // Made before the loop: V8 optimises this function on the stack inside its first call's loop,
  // and a result literal after the loop, not yet run, deoptimised it again and again (119 times in
  // a 9-epoch MLP run, node --trace-deopt: "insufficient type feedback"), once in the same run here.
  const result: NormalizedRows = { y, norms };
  for (let i = 0, o = 0; i < rows; i++, o += cols) {
    const end = o + cols;
    let s = 0;
    for (let j = o; j < end; j++) {
      const v = x[j];
      s += v * v;
    }
    const n = Math.sqrt(s);
    norms[i] = n;
    if (n > 0) for (let j = o; j < end; j++) y[j] = x[j] / n;
  }
  return result;
}

/**
 * dL/dx from dL/dy: `(dy_i - y_i (y_i · dy_i)) / ‖x_i‖`. Float32: a gradient past float32 (a row
 * of tiny norm: 1 / ‖x_i‖ overflows the quotient) is `NON_FINITE` naming `arg` of `op`, never an
 * Infinity handed on (it came back as NaN from the next product, blamed on the backend).
 */
export function normalizeRowsBackward(
  fwd: NormalizedRows,
  dy: Vec,
  rows: number,
  cols: number,
  alloc: Alloc = allocLike(dy),
  op = 'normalizeRowsBackward',
  arg = 'x',
): Vec {
  const { y, norms } = fwd;
  const dx = alloc(dy.length);
  for (let i = 0, o = 0; i < rows; i++, o += cols) {
    const n = norms[i];
    if (n === 0) continue;
    const end = o + cols;
    let p = 0;
    for (let j = o; j < end; j++) p += y[j] * dy[j];
    let acc = 0;
    for (let j = o; j < end; j++) {
      dx[j] = (dy[j] - y[j] * p) / n;
      acc += dx[j] * 0;
    }
    // acc is 0 unless a gradient is NaN or ±Infinity (then NaN): one check per row.
    if (acc !== 0)
      argError(
        'NON_FINITE',
        op,
        arg,
        `row ${i} has norm ${n}: its normalisation gradient is past ${dx instanceof Float32Array ? 'float32' : 'float64'} (1 / norm overflows), or dL/dy is not finite. The rows have collapsed towards zero; rescale the inputs or lower the learning rate.`,
      );
  }
  return dx;
}

/** How far a unit row's squared norm may be from 1: float32 rounding of a normalised row of any width. */
const UNIT_SLACK = 1e-3;

/**
 * Throws unless every row of `x` (`rows x cols`) is a unit vector or zero, as a caller promises with
 * `LossInput.normalized`: a loss then takes dot products as cosines, so rows of another norm would
 * give a wrong loss silently. One pass in float64, far cheaper than normalising the rows again.
 * `NON_FINITE` for a row holding NaN or ±Infinity, `INVALID_ARGUMENT` for a row of another norm.
 */
export function checkUnitRows(op: string, arg: string, x: Vec, rows: number, cols: number): void {
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    let ss = 0;
    for (let j = 0; j < cols; j++) ss += x[o + j] * x[o + j];
    if (ss === 0 || Math.abs(ss - 1) <= UNIT_SLACK) continue;
    if (!Number.isFinite(ss)) argError('NON_FINITE', op, arg, `row ${i} holds NaN or Infinity.`);
    argError(
      'INVALID_ARGUMENT',
      op,
      arg,
      `row ${i} has norm ${Math.sqrt(ss)}, but the input says normalized: true (unit or zero rows only).`,
    );
  }
}
