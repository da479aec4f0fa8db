import {
  argError,
  argErrorOf,
  type CosineKitError,
  describeType,
  isAllocationFailure,
  isArrayArg,
  isCosineKitError,
  reading,
  refuseUnknownOptions,
  valueText,
  viewArg,
} from '@cosinekit/core/backend';
import type { LossInput } from './losses/loss.js';
import type { Precision, Vec } from './ops.js';

/**
 * Checks a numeric option: a finite number (not a string that arithmetic would quietly convert)
 * within `[lo, hi]`, or `[lo, hi)` when `openHi`. Throws `INVALID_TYPE` or `INVALID_ARGUMENT`
 * naming the option and the operation.
 */
/**
 * Whether `v` is a promise (a thenable), its rejection handled: a value refused for being a promise
 * (an async schedule's step size, a batch a sampler yielded unawaited) must not also end the
 * process when it rejects later. A `then` that cannot be read is no promise.
 */
export function promised(v: unknown): boolean {
  let then: unknown;
  try {
    then = (v as { then?: unknown } | null)?.then;
  } catch {
    return false;
  }
  if (typeof then !== 'function') return false;
  try {
    Promise.resolve(v).then(undefined, () => undefined);
  } catch {
    // A thenable whose then throws at once: nothing left to reject later.
  }
  return true;
}

export function checkNumber(
  op: string,
  arg: string,
  v: unknown,
  lo: number,
  hi: number,
  openHi = false,
): number {
  if (typeof v !== 'number')
    argError(
      'INVALID_TYPE',
      op,
      arg,
      `must be a number, got ${v === null ? 'null' : promised(v) ? 'a promise' : typeof v}.`,
    );
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

/**
 * `n` zeros of `precision`, for `what` (a layer's weights, a classifier's class vectors): a size
 * within {@link MAX_LAYER_VALUES} that this process cannot allocate is `OUT_OF_MEMORY` naming `arg`
 * of `op`, the engine's `RangeError` as the cause (it escaped raw).
 */
export function floats(precision: Precision, n: number, op: string, arg: string, what: string): Vec {
  try {
    return precision === 'float64' ? new Float64Array(n) : new Float32Array(n);
  } catch (e) {
    if (!isAllocationFailure(e)) throw e;
    return argError(
      'OUT_OF_MEMORY',
      op,
      arg,
      `gives ${what}: ${n} ${precision} values, more than this process could allocate (${e.message}).`,
      e,
    );
  }
}

/**
 * The engine's `RangeError` behind `e` where `e` is an allocation it refused: raw, or as the ops'
 * `alloc` names it (`OUT_OF_MEMORY` naming its `n`, the error as cause), so that a caller still
 * names it after what to make smaller (it said "Argument 'n' passed to 'embed'"). Else undefined.
 */
export function allocationFailure(e: unknown): RangeError | undefined {
  if (isAllocationFailure(e)) return e;
  if (isCosineKitError(e, 'OUT_OF_MEMORY') && e.op === 'alloc' && isAllocationFailure(e.cause))
    return e.cause;
  return undefined;
}

/**
 * An allocation the engine refused (`e`, a `RangeError` {@link isAllocationFailure} recognised; it
 * escaped raw) as `OUT_OF_MEMORY` naming `arg` of `op`, saying what to make smaller.
 */
export function memoryError(e: RangeError, op: string, arg: string, smaller: string): CosineKitError {
  return argErrorOf(
    'OUT_OF_MEMORY',
    op,
    arg,
    `needs more memory than this process could allocate (${e.message}): ${smaller}.`,
    e,
  );
}

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
    const m = rowPeak(x, r, cols);
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
  for (let r = 0; r * cols < x.length; r++) {
    const m = rowPeak(x, r, cols);
    hi = Math.max(hi, m);
    if (m > 0) lo = Math.min(lo, m);
  }
  return [lo, hi];
}

/** The largest |value| of row `r` of `x`, rows `cols` wide (NaN when it holds NaN). */
export function rowPeak(x: ArrayLike<number>, r: number, cols: number): number {
  let m = 0;
  for (let j = r * cols, end = j + cols; j < end; j++) m = Math.max(m, Math.abs(x[j]));
  return m;
}

/** The fields of a {@link LossInput}, each read once by {@link checkLossInput}. */
const LOSS_FIELDS = [
  'a',
  'b',
  'rows',
  'cols',
  'targets',
  'groups',
  'negatives',
  'negativeGroups',
  'labels',
  'normalized',
];

/**
 * Checks what a loss is handed, once, at the top of its `compute`, and returns what the loss then
 * reads instead of `input`: each field read once (a getter answering NaN on a second read passed
 * the check and failed later blaming another row; one that threw escaped raw), `targets`,
 * `groups`, `negativeGroups` and `labels` copied (numbers, or `INVALID_TYPE` naming the entry).
 * `rows` and `cols` positive integers, `a` (and `b` when the loss pairs rows, and `negatives` when
 * given) float arrays of `rows x cols` finite values (a Proxy around one, an overridden length:
 * `INVALID_TYPE`; a detached one: `DISPOSED`), and `targets`, when given, `rows` finite numbers. A
 * loss called outside `train` (a custom loop) once answered NaN gradients beside a finite loss for
 * a NaN row, a NaN loss for `rows: 0`, and read a NaN target as "dissimilar". Rows the caller
 * marks `normalized` are scanned by the loss's own unit-row check instead.
 */
export function checkLossInput(op: string, input: LossInput, withB: boolean): LossInput {
  checkObject(op, 'input', input, false);
  const v = fields(op, 'input', input, LOSS_FIELDS) as { -readonly [K in keyof LossInput]: LossInput[K] };
  const { rows, cols } = v;
  for (const [arg, n] of [
    ['rows', rows],
    ['cols', cols],
  ] as const)
    if (!(typeof n === 'number' && Number.isInteger(n) && n >= 1))
      argError(
        n === 0 ? 'EMPTY_INPUT' : 'INVALID_ARGUMENT',
        op,
        arg,
        `must be a positive integer, got ${valueText(n)}.`,
      );
  checkBoolean(op, 'normalized', v.normalized);
  const n = rows * cols;
  const scan = v.normalized !== true;
  lossRows(op, 'a', v.a, n, cols, scan);
  if (withB) lossRows(op, 'b', v.b, n, cols, scan);
  if (v.negatives !== undefined) lossRows(op, 'negatives', v.negatives, n, cols, true);
  for (const k of ['groups', 'negativeGroups', 'labels'] as const)
    if (v[k] !== undefined) v[k] = numbersOf(op, k, v[k]);
  const t = v.targets;
  if (t !== undefined) {
    const c = (v.targets = numbersOf(op, 'targets', t, 'pair '));
    if (c.length !== rows)
      argError('SHAPE_MISMATCH', op, 'targets', `must hold one value per pair (${rows}).`);
    for (let i = 0; i < rows; i++)
      if (!Number.isFinite(c[i]))
        argError('NON_FINITE', op, 'targets', `must hold finite numbers, got ${c[i]} at pair ${i}.`);
  }
  return v;
}

function lossRows(op: string, arg: string, v: unknown, n: number, cols: number, scan: boolean): void {
  const got = viewLength(op, arg, v, [Float32Array, Float64Array], 'Float32Array or Float64Array');
  const x = v as Vec;
  if (got !== n) argError('SHAPE_MISMATCH', op, arg, `must hold ${n / cols} x ${cols} values, got ${got}.`);
  if (!scan) return;
  // x * 0 is 0 for finite x, NaN otherwise: one sum, then a search only when it fails.
  let acc = 0;
  for (let i = 0; i < n; i++) acc += x[i] * 0;
  if (acc === 0) return;
  for (let i = 0; i < n; i++)
    if (!Number.isFinite(x[i]))
      argError('NON_FINITE', op, arg, `holds ${x[i]} at row ${Math.floor(i / cols)}, column ${i % cols}.`);
}

/** %TypedArray%, and its own getters: a subclass's or an own property cannot answer them. */
const TYPED = Object.getPrototypeOf(Uint8Array) as abstract new () => ArrayBufferView & ArrayLike<number>;
const typed = (k: string) => Object.getOwnPropertyDescriptor(TYPED.prototype, k)!.get!;
const TYPED_BUFFER = typed('buffer');
const TYPED_OFFSET = typed('byteOffset');

/** A plain Uint8Array over the `n` bytes of `v` (a real typed array), read by the intrinsic getters. */
export function plainView(v: ArrayBufferView, n: number): Uint8Array {
  return new Uint8Array(TYPED_BUFFER.call(v), TYPED_OFFSET.call(v), n);
}

/**
 * The true length of `v`, a typed array of one of `types` (`what` names them), checked once by
 * core's `viewArg`: a value of another type, a Proxy around a typed array or one whose `length` is
 * overridden is `INVALID_TYPE`, one whose buffer was transferred `DISPOSED`, each naming `arg` of
 * `op` (a revoked Proxy: `INVALID_ARGUMENT`). Later reads by index read the view itself.
 */
export function viewLength(
  op: string,
  arg: string,
  v: unknown,
  types: readonly (abstract new (...a: never[]) => ArrayBufferView & ArrayLike<number>)[],
  what: string,
): number {
  return viewArg(op, arg, v, types, what).length;
}
/**
 * Refuses `v` unless it is a Float32Array or Float64Array of `rows x per` finite values, `rows` a
 * whole number >= 1: a layer or encoder given another length read past its rows or short of them,
 * and answered zeros or NaN without an error. `SHAPE_MISMATCH` (or `NON_FINITE` for NaN or
 * ±Infinity, `INVALID_ARGUMENT` for `rows`) naming `arg` of `op`.
 */
export function checkRowsOf(op: string, arg: string, v: unknown, rows: unknown, per: number): void {
  const n = viewLength(op, arg, v, [Float32Array, Float64Array], 'Float32Array or Float64Array');
  if (!(typeof rows === 'number' && Number.isSafeInteger(rows) && rows >= 1))
    argError('INVALID_ARGUMENT', op, 'rows', `must be a whole number >= 1, got ${valueText(rows)}.`);
  if (n !== rows * per) argError('SHAPE_MISMATCH', op, arg, `holds ${n} values, not ${rows} x ${per}.`);
  // NaN or ±Infinity went on into the product (named after it, or out as NaN embeddings).
  const x = v as Vec;
  let acc = 0;
  for (let i = 0; i < n; i++) acc += x[i] * 0;
  if (acc !== 0) {
    let i = 0;
    while (Number.isFinite(x[i])) i++;
    argError('NON_FINITE', op, arg, `holds ${x[i]} at row ${Math.floor(i / per)}, column ${i % per}.`);
  }
}

/** The rows a layer's or encoder's forward pass took, read from its `cache` (refused by name when it is not one). */
export function cacheRows(op: string, cache: unknown): number {
  const rows = typeof cache === 'object' && cache !== null ? (cache as { rows?: unknown }).rows : undefined;
  if (!(typeof rows === 'number' && Number.isSafeInteger(rows) && rows >= 1))
    argError('INVALID_TYPE', op, 'cache', `must be what forward() returned, got ${valueText(cache)}.`);
  return rows;
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
 * ±Infinity, `INVALID_ARGUMENT` for a getter or Proxy that throws (its error as cause), each naming
 * `op` and `arg`, as core names its own inputs. Later reads use the copy.
 */
export function finiteNumbers(op: string, arg: string, v: unknown, what = 'numbers'): Float64Array {
  const out = numbersOf(op, arg, v, '', what);
  for (let i = 0; i < out.length; i++)
    if (!Number.isFinite(out[i]))
      argError('NON_FINITE', op, arg, `must hold finite numbers, got ${out[i]} at ${i}.`);
  return out;
}

/** Longest array-like object {@link numbersOf} reads: an array's longest. */
const MAX_ARRAY_LIKE = 2 ** 32 - 1;

/**
 * The values of `v`, an array, a typed array or an array-like object (`{ length, 0: .., 1: .. }`,
 * as the `ArrayLike<number>` types promise) of numbers, each read once (its length too: one
 * answering 4, then 1, scored 4 values as 1): `INVALID_TYPE` for anything else, naming the entry
 * (`at <at>i`) that is no number (a hole included); a typed array checked by {@link viewLength} (a
 * detached one is `DISPOSED`, not empty); an array-like whose `length` is no whole number from 0 to
 * 2^32 - 1 `INVALID_ARGUMENT`; a getter or trap that throws `INVALID_ARGUMENT`.
 */
export function numbersOf(op: string, arg: string, v: unknown, at = '', what = 'numbers'): Float64Array {
  const view = ArrayBuffer.isView(v) || isA(v, TYPED);
  if (view) viewLength(op, arg, v, [TYPED], `typed array of ${what}`);
  const plain = view || isArrayArg(op, arg, v);
  if (!plain && (typeof v !== 'object' || v === null || !reading(op, arg, () => 'length' in v)))
    argError('INVALID_TYPE', op, arg, `must be an array of ${what}, got ${describeType(v)}.`);
  return reading(op, arg, () => {
    const a = v as ArrayLike<unknown>;
    const length: unknown = a.length;
    if (
      !plain &&
      !(typeof length === 'number' && Number.isInteger(length) && length >= 0 && length <= MAX_ARRAY_LIKE)
    )
      argError(
        'INVALID_ARGUMENT',
        op,
        arg,
        `is an array-like object whose length is ${valueText(length)}, not a whole number from 0 to 2^32 - 1.`,
      );
    const out = new Float64Array(length as number);
    for (let i = 0; i < out.length; i++) {
      const y = a[i];
      if (typeof y !== 'number')
        argError('INVALID_TYPE', op, arg, `must hold numbers, got ${describeType(y)} at ${at}${i}.`);
      out[i] = y;
    }
    return out;
  });
}

/**
 * `keys` of `v` read once each, through its prototype chain as a plain read would, into a plain
 * object every later check and use reads: a getter or trap that throws is `INVALID_ARGUMENT` naming
 * `arg` of `op` (its error as cause), and one answering differently on each read cannot pass a
 * check with one value and be used with another.
 */
export function fields<T>(op: string, arg: string, v: T, keys: readonly string[]): T {
  return reading(op, arg, () => {
    const copy: Record<string, unknown> = {};
    for (const k of keys) copy[k] = (v as Record<string, unknown>)[k];
    return copy as T;
  });
}

/**
 * Refuses an options (or data) argument that is not an object, naming it: `null`, a number or a
 * string once failed as a TypeError of the destructuring. `undefined` passes when `optional`.
 */
export function checkObject<T>(op: string, arg: string, v: T, optional = true, keys?: readonly string[]): T {
  if (v === undefined && optional) return {} as T;
  if (typeof v !== 'object' || v === null)
    argError('INVALID_TYPE', op, arg, `must be an object, got ${v === null ? 'null' : typeof v}.`);
  // An object whose keys cannot be listed (a revoked Proxy, a throwing ownKeys trap) is the
  // caller's, named (a raw TypeError escaped).
  reading(op, arg, () => (keys ? refuseUnknownOptions(op, v, keys, arg) : Object.keys(v)));
  // With `keys`, the options each read once (see `fields`).
  return keys ? fields(op, arg, v, keys) : v;
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
    argError('INVALID_TYPE', op, arg, `must be true or false, got ${valueText(v)}.`);
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
  if (
    typeof ops !== 'object' ||
    ops === null ||
    reading(op, 'ops', () => typeof (ops as { alloc?: unknown }).alloc) !== 'function'
  )
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

/** The kernel table's dense sums, which name a caller's float32 overflow as `INVALID_ARGUMENT`. */
const SUMS = new Set(['matmul', 'addBias', 'columnSums']);

/**
 * Whether `e` is the kernel table naming its caller's values, whose float32 sums overflowed
 * (`INVALID_ARGUMENT` from `matmul`, `addBias` or `columnSums`): a step that met a value past float32,
 * as a kernel's refused answer (`BACKEND_ERROR`) is, whose cause the caller of nn is told.
 */
export function tableOverflow(e: unknown): boolean {
  return isCosineKitError(e, 'INVALID_ARGUMENT') && SUMS.has(e.op ?? '');
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

/**
 * Resolves on a later turn of the event loop, after timers and I/O waiting: `setImmediate` in
 * Node, a `MessageChannel` message in browsers (`setTimeout` is clamped to 4 ms there), else a
 * `setTimeout`.
 */
export function nextTurn(): Promise<void> {
  const g = globalThis as {
    setImmediate?: (f: () => void) => unknown;
    MessageChannel?: new () => {
      port1: { onmessage: (() => void) | null; close(): void };
      port2: { postMessage(v: unknown): void; close(): void };
    };
  };
  return new Promise((resolve) => {
    if (g.setImmediate) g.setImmediate(resolve);
    else if (g.MessageChannel) {
      const c = new g.MessageChannel();
      c.port1.onmessage = () => {
        c.port1.close();
        c.port2.close();
        resolve();
      };
      c.port2.postMessage(0);
    } else setTimeout(resolve, 0);
  });
}
