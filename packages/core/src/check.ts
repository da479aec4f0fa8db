import { argError } from './errors.js';
import { describeType } from './tensor.js';

/** Anything with a row count and a row length. */
export interface Shaped {
  readonly rows: number;
  readonly cols: number;
}

/**
 * The argument checker every public entry point runs before a kernel: each failure names the
 * argument and the operation.
 */

/** Throws `DIMENSION_MISMATCH` unless `a` and `b` have the same number of columns. */
export function checkSameCols(op: string, aName: string, a: Shaped, bName: string, b: Shaped): void {
  if (a.cols !== b.cols) {
    argError(
      'DIMENSION_MISMATCH',
      op,
      bName,
      `has dimension ${b.cols} but '${aName}' has dimension ${a.cols}; the rows must have the same length.`,
    );
  }
}

/** Throws `DIMENSION_MISMATCH` unless `a` and `b` have the same shape. */
export function checkSameShape(op: string, aName: string, a: Shaped, bName: string, b: Shaped): void {
  checkSameCols(op, aName, a, bName, b);
  if (a.rows !== b.rows) {
    argError(
      'DIMENSION_MISMATCH',
      op,
      bName,
      `has ${b.rows} rows but '${aName}' has ${a.rows}; rows are paired.`,
    );
  }
}

/** Throws `INVALID_K` unless `k` is an integer in [1, n]. */
export function checkK(op: string, k: unknown, n: number): asserts k is number {
  if (typeof k !== 'number' || !Number.isInteger(k)) {
    argError('INVALID_K', op, 'k', `must be an integer in [1, ${n}], got ${String(k)}.`);
  }
  if (k < 1 || k > n) {
    argError('INVALID_K', op, 'k', `must be in [1, ${n}] (the corpus has ${n} rows), got ${k}.`);
  }
}

/**
 * Refuses a backend factory's `options` that are not an object (`null`, a string, an array):
 * `INVALID_TYPE` naming `options` and `op`, rather than the `TypeError` reading an option from them
 * would throw. `undefined` passes (the factory's defaults). With `keys`, an own key not among
 * them is `INVALID_ARGUMENT` naming `options.<key>`.
 */
export function checkOptionsObject(op: string, options: unknown, keys?: readonly string[]): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    argError('INVALID_TYPE', op, 'options', `must be an object, got ${describeType(options)}.`);
  if (keys) refuseUnknownOptions(op, options, keys);
}

/**
 * Refuses an own key of the options object `options` that `op` does not take: `INVALID_ARGUMENT`
 * naming `options.<key>` and listing `keys`. A misspelt option (`thread: 2`, `fliter`) was ignored
 * and its default used without a word. Shared by the kit, the backend factories and nn.
 */
export function refuseUnknownOptions(op: string, options: object, keys: readonly string[]): void {
  for (const k of Object.keys(options))
    if (!keys.includes(k))
      argError(
        'INVALID_ARGUMENT',
        op,
        `options.${k}`,
        `is not an option of ${op}; it takes ${keys.join(', ')}.`,
      );
}
