import { argError } from '@cosinekit/core/backend';
import { isA } from './check.js';
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

/**
 * `y_i = x_i / ‖x_i‖` in the precision of `x`; `alloc` gives the zeroed output (same precision).
 * `x` must hold `rows x cols` values (`SHAPE_MISMATCH` otherwise); a row holding NaN or ±Infinity
 * is `NON_FINITE` (it has no direction; it once came out as a zero row), both naming `arg` of `op`.
 */
export function normalizeRowsForward(
  x: Vec,
  rows: number,
  cols: number,
  alloc: Alloc = allocLike(x),
  op = 'normalizeRowsForward',
  arg = 'x',
): NormalizedRows {
  checkShape(op, arg, x, rows, cols);
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
    if (!(s < HUGE_SQ && s > TINY_SQ)) {
      // NaN, or Infinity from a non-finite value rather than from large finite float64 ones.
      if (!(s < Number.POSITIVE_INFINITY) && !rowFinite(x, o, cols))
        argError('NON_FINITE', op, arg, `row ${i} holds NaN or Infinity; it has no direction.`);
      // Float64 rows whose squares overflow or underflow (past about 1e154, below 1e-154; float32
      // values cannot reach either): taken again scaled by a power of two, x = sc x', so y is x'
      // over its norm and the norm is sc |x'|. Unscaled, such a row came out zero (its norm
      // Infinity, or 0), and a loss on it silently ln(n) with zero gradients.
      const sc = scaleOf(x, o, cols);
      if (sc !== 1) {
        let t = 0;
        for (let j = o; j < end; j++) {
          const v = x[j] / sc;
          t += v * v;
        }
        const n = Math.sqrt(t);
        norms[i] = n * sc;
        if (n > 0) for (let j = o; j < end; j++) y[j] = x[j] / sc / n;
        continue;
      }
    }
    const n = Math.sqrt(s);
    norms[i] = n;
    if (n > 0) for (let j = o; j < end; j++) y[j] = x[j] / n;
  }
  return result;
}

/** Whether `x[o .. o + cols)` holds only finite values. */
function rowFinite(x: Vec, o: number, cols: number): boolean {
  for (let j = o; j < o + cols; j++) if (!Number.isFinite(x[j])) return false;
  return true;
}

/** Refuses `x` unless it is a float array of exactly `rows x cols` values. */
function checkShape(op: string, arg: string, x: unknown, rows: number, cols: number): void {
  // isA: instanceof on a revoked Proxy threw a raw TypeError.
  if (!(isA(x, Float32Array) || isA(x, Float64Array)))
    argError('INVALID_TYPE', op, arg, 'must be a Float32Array or Float64Array.');
  if (!(Number.isSafeInteger(rows) && rows >= 0 && Number.isSafeInteger(cols) && cols >= 0))
    argError('INVALID_ARGUMENT', op, 'rows', `and cols must be integers >= 0, got ${rows} x ${cols}.`);
  if (x.length !== rows * cols)
    argError('SHAPE_MISMATCH', op, arg, `holds ${x.length} values, not ${rows} x ${cols}.`);
}

/** Squared norms beyond which a float64 row is taken again scaled by a power of two. */
export const HUGE_SQ = 2 ** 1000;
export const TINY_SQ = 2 ** -1000;

/** A power of two near the largest |value| of `x[o .. o + cols)` (1 for a zero row). */
export function scaleOf(x: ArrayLike<number>, o: number, cols: number): number {
  let m = 0;
  for (let j = 0; j < cols; j++) m = Math.max(m, Math.abs(x[o + j]));
  return m > 0 && Number.isFinite(m) ? 2 ** Math.floor(Math.log2(m)) : 1;
}

/** A row norm from which an overflowing normalisation gradient is dL/dy's doing, not the row's (2^-20). */
const NOT_COLLAPSED = 2 ** -20;

/**
 * dL/dx from dL/dy: `(dy_i - y_i (y_i · dy_i)) / ‖x_i‖`. Float32: a gradient past float32 (a row
 * of tiny norm: 1 / ‖x_i‖ overflows the quotient) is `NON_FINITE` naming `arg` of `op`, or `dyArg`
 * when given and the row's norm is ordinary (dL/dy too large), never an Infinity handed on (it came
 * back as NaN from the next product, blamed on the backend).
 */
export function normalizeRowsBackward(
  fwd: NormalizedRows,
  dy: Vec,
  rows: number,
  cols: number,
  alloc: Alloc = allocLike(dy),
  op = 'normalizeRowsBackward',
  arg = 'x',
  dyArg?: string,
): Vec {
  checkShape(op, op === 'normalizeRowsBackward' ? 'dy' : arg, dy, rows, cols);
  const { y, norms } = fwd;
  if (y?.length !== dy.length || norms?.length !== rows)
    argError('SHAPE_MISMATCH', op, 'fwd', `is not the forward pass of ${rows} x ${cols} values.`);
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
    if (acc !== 0 && dyArg !== undefined && n >= NOT_COLLAPSED) {
      // A row of ordinary norm: dL/dy itself is past what the quotient holds (3e38 was blamed on
      // the rows, "collapsed towards zero" at norm 0.53).
      let big = 0;
      for (let j = o; j < end; j++) big = Math.max(big, Math.abs(dy[j]));
      argError(
        'NON_FINITE',
        op,
        dyArg,
        `row ${i} reaches ${big}: with that row's norm ${n}, its normalisation gradient is past ${dx instanceof Float32Array ? 'float32' : 'float64'}. Scale the gradient down.`,
      );
    }
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
