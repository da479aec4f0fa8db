import {
  argError,
  argErrorOf,
  isCosineKitError,
  reading,
  refuseUnknownOptions,
  valueText,
} from '@cosinekit/core/backend';
import type { LossInput } from './losses/loss.js';

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
      `must be a finite number in [${lo}, ${hi}${openHi ? ')' : ']'}, got ${valueText(v)}.`,
    );
  return v;
}

/**
 * The most values one layer may hold per input row (its weights, its output, a convolution's
 * unfolded windows): 2^30, 4 GiB of float32, past any WebAssembly memory. A layer past it could
 * never run a single row; refusing it when it is made names the option instead of failing later
 * with an engine's RangeError.
 */
export const MAX_LAYER_VALUES = 2 ** 30;

/** Most weights one layer of a saved encoder may hold (one float32 array), dense or convolution alike. */
export const MAX_LAYER_WEIGHTS = 2 ** 31 - 1;

/** Refuses a layer that would hold `n` values per row (see {@link MAX_LAYER_VALUES}), naming `arg`. */
export function checkLayerSize(op: string, arg: string, n: number, what: string): void {
  if (n > MAX_LAYER_VALUES)
    argError(
      'INVALID_ARGUMENT',
      op,
      arg,
      `gives ${what}: ${n} values, past the ${MAX_LAYER_VALUES} (2^30) one layer may hold per row.`,
    );
}

/** Row magnitudes float32 layers hold comfortably: past them a product or a gradient can overflow. */
export const HUGE = 2 ** 64;
/** The smallest row magnitude float32 layers hold comfortably (see {@link HUGE}): below it a product can underflow. */
export const TINY = 2 ** -64;

/**
 * The smallest largest-|value| of a non-zero row float32 layers compute with (2^-120, about
 * 7.5e-37): below it products with ordinary weights fall among float32's subnormals, which keep
 * fewer than 24 bits (a row of values near 1e-44 keeps 3), so the result is not the row's.
 */
export const ROW_FLOOR = 2 ** -120;

/**
 * Refuses (`INVALID_ARGUMENT` naming `arg` and the row) a non-zero row of `x` whose largest |value|
 * is below {@link ROW_FLOOR}: nothing overflows there, so no kernel fails to say the answer is
 * wrong (each backend gave another unit vector for a row near 1e-44). Zero rows pass.
 */
export function refuseTinyRows(op: string, arg: string, x: ArrayLike<number>, cols: number): void {
  for (let o = 0, r = 0; o < x.length; o += cols, r++) {
    let m = 0;
    for (let j = o; j < o + cols; j++) m = Math.max(m, Math.abs(x[j]));
    if (m > 0 && m < ROW_FLOOR)
      argError(
        'INVALID_ARGUMENT',
        op,
        arg,
        `has row ${r} with values no larger than ${m}, below what float32 layers compute with (2^-120, about 7.5e-37): its products would fall among float32's subnormals and its embedding would not be the row's. Scale the rows (for example to unit norm).`,
      );
  }
}

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

/**
 * Checks what a loss is handed, once, at the top of its `compute`: `rows` and `cols` positive
 * integers, `a` (and `b` when the loss pairs rows, and `negatives` when given) float arrays of
 * `rows x cols` finite values, and `targets`, when given, `rows` finite numbers. A loss called
 * outside `train` (a custom loop) once answered NaN gradients beside a finite loss for a NaN row,
 * a NaN loss for `rows: 0`, and read a NaN target as "dissimilar". Rows the caller marks
 * `normalized` are scanned by the loss's own unit-row check instead.
 */
export function checkLossInput(op: string, input: LossInput, withB: boolean): void {
  if (typeof input !== 'object' || input === null)
    argError(
      'INVALID_TYPE',
      op,
      'input',
      `must be a LossInput object, got ${input === null ? 'null' : typeof input}.`,
    );
  const { rows, cols } = input;
  for (const [arg, v] of [
    ['rows', rows],
    ['cols', cols],
  ] as const)
    if (!(typeof v === 'number' && Number.isInteger(v) && v >= 1))
      argError(
        v === 0 ? 'EMPTY_INPUT' : 'INVALID_ARGUMENT',
        op,
        arg,
        `must be a positive integer, got ${valueText(v)}.`,
      );
  checkBoolean(op, 'normalized', input.normalized);
  const n = rows * cols;
  const scan = input.normalized !== true;
  lossRows(op, 'a', input.a, n, cols, scan);
  if (withB) lossRows(op, 'b', input.b, n, cols, scan);
  if (input.negatives !== undefined) lossRows(op, 'negatives', input.negatives, n, cols, true);
  const t = input.targets;
  if (t !== undefined) {
    if (t === null || typeof t !== 'object' || t.length !== rows)
      argError('SHAPE_MISMATCH', op, 'targets', `must hold one value per pair (${rows}).`);
    for (let i = 0; i < rows; i++)
      if (typeof t[i] !== 'number' || !Number.isFinite(t[i]))
        argError(
          'NON_FINITE',
          op,
          'targets',
          `must hold finite numbers, got ${valueText(t[i])} at pair ${i}.`,
        );
  }
}

function lossRows(op: string, arg: string, v: unknown, n: number, cols: number, scan: boolean): void {
  if (!(v instanceof Float32Array || v instanceof Float64Array))
    argError('INVALID_TYPE', op, arg, 'must be a Float32Array or Float64Array.');
  if (v.length !== n)
    argError(
      'SHAPE_MISMATCH',
      op,
      arg,
      `must hold ${n / cols} x ${cols} values, got ${valueText(v.length)}.`,
    );
  if (!scan) return;
  // x * 0 is 0 for finite x, NaN otherwise: one sum, then a search only when it fails.
  let acc = 0;
  for (let i = 0; i < n; i++) acc += v[i] * 0;
  if (acc === 0) return;
  for (let i = 0; i < n; i++)
    if (!Number.isFinite(v[i]))
      argError('NON_FINITE', op, arg, `holds ${v[i]} at row ${Math.floor(i / cols)}, column ${i % cols}.`);
}

/**
 * Throws `NON_FINITE` naming `arg` of `op` when a parameter array holds NaN or ±Infinity: weights a
 * caller set (or a run that diverged) are the caller's, not a backend's failure.
 */
export function checkParameters(op: string, arg: string, params: readonly ArrayLike<number>[]): void {
  const at = firstNonFinite(params);
  if (at)
    argError(
      'NON_FINITE',
      op,
      arg,
      `holds ${params[at[0]][at[1]]} in its parameter array ${at[0]}, at ${at[1]}.`,
    );
}

/**
 * `[array, index]` of the first NaN or ±Infinity in `arrays`, or undefined: one multiply-add a value
 * (x * 0 is 0 for every finite x, NaN otherwise), the position searched only in an array that has one.
 */
export function firstNonFinite(arrays: readonly ArrayLike<number>[]): [number, number] | undefined {
  for (let k = 0; k < arrays.length; k++) {
    const p = arrays[k];
    let acc = 0;
    for (let i = 0; i < p.length; i++) acc += p[i] * 0;
    if (acc === 0) continue;
    for (let i = 0; i < p.length; i++) if (!Number.isFinite(p[i])) return [k, i];
  }
  return undefined;
}

/**
 * `e` renamed after public operation `op` when it is a {@link CosineKitError} raised under another
 * operation's name (a function this one delegates to, e.g. `recallAtK` to the retrieval search, or
 * the kit's `topK`): its argument becomes `args[e.arg]` when listed (a part of one, `x[1]`, becomes
 * the same part of the listed name, `x2[1]`; else it stays), its message is
 * rewritten to name `op` and the argument, its code, backend, kernel are kept, and the original is
 * its `cause`. Anything else (and an error already naming `op`) is returned as it is.
 */
export function renamedError(e: unknown, op: string, args: Readonly<Record<string, string>> = {}): unknown {
  if (!isCosineKitError(e) || e.op === op) return e;
  // A part of an argument ('x[1]', 'corpus[1][0]') is renamed with its argument ('x2[1]').
  const part = e.arg === undefined ? null : /^([^[.]+)([[.].*)$/.exec(e.arg);
  const arg =
    (e.arg !== undefined ? args[e.arg] : undefined) ??
    (part && Object.hasOwn(args, part[1]) ? `${args[part[1]]}${part[2]}` : undefined) ??
    e.arg ??
    'input';
  const prefix = `Argument '${e.arg}' passed to '${e.op}' `;
  const problem = e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message;
  const about: { backend?: string; kernel?: string } = {};
  if (e.backend !== undefined) about.backend = e.backend;
  if (e.kernel !== undefined) about.kernel = e.kernel;
  return argErrorOf(e.code, op, arg, problem, e, about);
}

/** Runs `body`, renaming the errors it raises under other operations' names after `op` (see {@link renamedError}). */
export async function under<T>(
  op: string,
  body: () => T | PromiseLike<T>,
  args: Readonly<Record<string, string>> = {},
): Promise<T> {
  try {
    return await body();
  } catch (e) {
    throw renamedError(e, op, args);
  }
}

/**
 * Refuses what is not an array (or typed array) of finite numbers, naming `arg` of `op`: a NaN or
 * a string label equals no prediction and would lower an accuracy without a word.
 */
export function checkLabels(op: string, arg: string, v: unknown): Float64Array {
  return finiteNumbers(op, arg, v, 'class labels');
}

/**
 * The values of `v`, an array (or typed array) of finite numbers, copied once: `INVALID_TYPE` for
 * anything else (null, a string among them, a hole of a sparse array), `NON_FINITE` for NaN or
 * ±Infinity, `INVALID_ARGUMENT` for a getter that throws (its error as cause), each naming `op`
 * and `arg`, as core names its own inputs. Later reads use the copy.
 */
export function finiteNumbers(op: string, arg: string, v: unknown, what = 'numbers'): Float64Array {
  if (!(Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView))))
    argError('INVALID_TYPE', op, arg, `must be an array of ${what}, got ${v === null ? 'null' : typeof v}.`);
  return reading(op, arg, () => {
    const a = v as ArrayLike<unknown>;
    const out = new Float64Array(a.length);
    for (let i = 0; i < a.length; i++) {
      const y = a[i];
      if (typeof y !== 'number')
        argError('INVALID_TYPE', op, arg, `must hold numbers, got ${typeof y} at ${i}.`);
      if (!Number.isFinite(y))
        argError('NON_FINITE', op, arg, `must hold finite numbers, got ${valueText(y)} at ${i}.`);
      out[i] = y;
    }
    return out;
  });
}

/**
 * Refuses an options (or data) argument that is not an object, naming it: `null`, a number or a
 * string once failed as a TypeError of the destructuring. `undefined` passes when `optional`.
 */
export function checkObject(
  op: string,
  arg: string,
  v: unknown,
  optional = true,
  keys?: readonly string[],
): void {
  if (v === undefined && optional) return;
  if (typeof v !== 'object' || v === null)
    argError('INVALID_TYPE', op, arg, `must be an object, got ${v === null ? 'null' : typeof v}.`);
  // An object whose keys cannot be listed (a revoked Proxy, a throwing ownKeys trap) is the
  // caller's, named (a raw TypeError escaped).
  reading(op, arg, () => (keys ? refuseUnknownOptions(op, v as object, keys) : Object.keys(v as object)));
}

/**
 * An option's value, or `fallback` when it is absent (`undefined`). Only `undefined` means
 * absent, as in a destructuring default: `null` is a value, left for the option's own check to
 * refuse, never quietly read as the default.
 */
export function given<T>(v: T | undefined, fallback: T): T {
  return v === undefined ? fallback : v;
}

/**
 * Refuses an optional flag that is not a boolean (a string `'no'` is truthy, `null` falsy: either
 * would be read as the opposite of what its writer may mean), naming `arg` of `op`. `undefined`
 * passes, and the flag keeps its documented default.
 */
export function checkBoolean(op: string, arg: string, v: unknown): void {
  if (v !== undefined && typeof v !== 'boolean')
    argError(
      'INVALID_TYPE',
      op,
      arg,
      `must be true or false, got ${v === null ? 'null' : typeof v === 'string' ? `'${v}'` : typeof v}.`,
    );
}

/**
 * Checks a seed: an integer that JavaScript represents exactly (|seed| <= 2^53), naming `arg` of
 * `op`. A fraction would be truncated and equal another seed's run.
 */
export function checkSeed(op: string, arg: string, v: unknown): number {
  checkNumber(op, arg, v, -(2 ** 53), 2 ** 53);
  if (!Number.isInteger(v)) argError('INVALID_ARGUMENT', op, arg, `must be an integer, got ${valueText(v)}.`);
  return v as number;
}

/**
 * A softmax scale `op` takes, as float32 ops use it (the kernel takes `scale` and `scale / rows` as
 * float32 values): `INVALID_ARGUMENT` naming `scale` past float32's range, or below its smallest
 * normal, where it rounds to 0 or loses its digits and every logit would be 0.
 */
export function checkFloat32Scale(op: string, scale: number): void {
  if (!(Math.fround(scale) < Number.POSITIVE_INFINITY))
    argError(
      'INVALID_ARGUMENT',
      op,
      'scale',
      `must be finite in float32 (below 3.4e38), got ${valueText(scale)}.`,
    );
  if (!(Math.fround(scale) >= 2 ** -126))
    argError(
      'INVALID_ARGUMENT',
      op,
      'scale',
      `must be at least 1.2e-38 (float32's smallest normal), got ${valueText(scale)}.`,
    );
}

/** Refuses (`INVALID_TYPE` naming `ops`) what is not a {@link DenseOps} (from `kernelOps` or `float64Ops`). */
export function checkOps(op: string, ops: unknown): void {
  if (typeof ops !== 'object' || ops === null || typeof (ops as { alloc?: unknown }).alloc !== 'function')
    argError(
      'INVALID_TYPE',
      op,
      'ops',
      `must be dense ops (kernelOps(await kit.kernels()) or float64Ops), got ${ops === null ? 'null' : typeof ops}.`,
    );
}

/** Refuses a precision other than 'float32' and 'float64' (a layer made in float16 was float32, silently). */
export function checkPrecision(op: string, precision: unknown): void {
  if (precision !== 'float32' && precision !== 'float64')
    argError(
      'INVALID_ARGUMENT',
      op,
      'precision',
      `must be 'float32' or 'float64', got ${valueText(precision)}.`,
    );
}

/**
 * Refuses an image shape that is not three positive integers, each read by index (`every` skips an
 * array's holes: `[2, <hole>, 1]` passed and made NaN output shapes).
 */
export function isShape3(s: unknown): s is readonly [number, number, number] {
  if (!Array.isArray(s) || s.length !== 3) return false;
  for (let i = 0; i < 3; i++) if (!(Number.isInteger(s[i]) && s[i] >= 1)) return false;
  return true;
}

/**
 * `v instanceof C` for a caller's value, false where the check itself throws (a revoked Proxy, a
 * throwing getPrototypeOf trap): the caller then gets the typed error for a value of the wrong type.
 */
export function isA<T>(v: unknown, C: abstract new (...args: never[]) => T): v is T {
  try {
    return v instanceof C;
  } catch {
    return false;
  }
}
