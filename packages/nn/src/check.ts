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
