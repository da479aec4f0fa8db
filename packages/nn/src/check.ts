import { argError } from '@cosinekit/core/backend';

/**
 * Checks a numeric option: a finite number (not a string that arithmetic would quietly convert)
 * within `[lo, hi]`, or `[lo, hi)` when `openHi`. Throws `INVALID_TYPE` or `INVALID_ARGUMENT`
 * naming the option and the operation.
 */
export function checkNumber(
  op: string,
  arg: string,
  v: unknown,
  lo: number,
  hi: number,
  openHi = false,
): number {
  if (typeof v !== 'number')
    argError('INVALID_TYPE', op, arg, `must be a number, got ${v === null ? 'null' : typeof v}.`);
  if (!(Number.isFinite(v) && v >= lo && (openHi ? v < hi : v <= hi)))
    argError(
      'INVALID_ARGUMENT',
      op,
      arg,
      `must be a finite number in [${lo}, ${hi}${openHi ? ')' : ']'}, got ${v}.`,
    );
  return v;
}

/** Row magnitudes float32 layers hold comfortably: past them a product or a gradient can overflow. */
export const HUGE = 2 ** 64;
/** The smallest row magnitude float32 layers hold comfortably (see {@link HUGE}): below it a product can underflow. */
export const TINY = 2 ** -64;

/**
 * The largest |value| of the largest row and of the smallest non-zero row of `x` (`cols` wide):
 * `[lo, hi]`, for telling a caller that their rows are past what float32 training holds.
 */
export function rowMagnitudes(x: ArrayLike<number>, cols: number): [number, number] {
  let hi = 0;
  let lo = Number.POSITIVE_INFINITY;
  for (let o = 0; o < x.length; o += cols) {
    let m = 0;
    for (let j = o; j < o + cols; j++) m = Math.max(m, Math.abs(x[j]));
    hi = Math.max(hi, m);
    if (m > 0) lo = Math.min(lo, m);
  }
  return [lo, hi];
}
