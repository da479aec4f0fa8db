import { KERNEL_NAMES, type KernelName } from './contract.js';
import { argError, argErrorOf, type CosineKitError, isArrayArg, reading } from './errors.js';
import { describeType, valueText } from './tensor.js';

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
    argError('INVALID_K', op, 'k', `must be an integer in [1, ${n}], got ${valueText(k)}.`);
  }
  if (k < 1 || k > n) {
    argError('INVALID_K', op, 'k', `must be in [1, ${n}] (the corpus has ${n} rows), got ${valueText(k)}.`);
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
  if (typeof options !== 'object' || options === null || isArrayArg(op, 'options', options))
    argError('INVALID_TYPE', op, 'options', `must be an object, got ${describeType(options)}.`);
  if (keys) refuseUnknownOptions(op, options, keys);
}

/**
 * The caller's options object, checked to be one and to hold no own key `op` does not take
 * (`INVALID_ARGUMENT` naming it), with each of the `keys` `op` takes read once
 * (through the prototype chain, as a plain read would; absent ones left out): every later check and
 * use reads the copy, so a getter or a Proxy trap that throws is `INVALID_ARGUMENT` naming `options`
 * of `op` (its error as `cause`), and one answering differently on each read cannot pass a check
 * with one value and be used with another. `arg` names a nested options object (`'options.wasm'`).
 * Shared by the kit, corpora and the backend factories.
 */
export function ownOptions<T extends object>(op: string, o: T, keys: readonly string[], arg = 'options'): T {
  if (typeof o !== 'object' || o === null || isArrayArg(op, arg, o))
    argError('INVALID_TYPE', op, arg, `must be an object, got ${describeType(o)}.`);
  // An option `op` does not take is refused rather than ignored: a misspelt `filter` would
  // otherwise search everything, a misspelt `signal` never abort.
  reading(op, arg, () => refuseUnknownOptions(op, o, keys, arg));
  return reading(op, arg, () => {
    const copy: Record<string, unknown> = {};
    for (const k of keys) {
      const v = (o as Record<string, unknown>)[k];
      if (v !== undefined) copy[k] = v;
    }
    return copy as T;
  });
}

/**
 * Refuses an own key of the options object `options` that `op` does not take: `INVALID_ARGUMENT`
 * naming `<arg>.<key>` (`arg` is `'options'` unless a nested object is checked) and listing `keys`.
 * A misspelt option (`thread: 2`, `fliter`) was ignored and its default used without a word. Shared
 * by the kit, the backend factories and nn.
 */
export function refuseUnknownOptions(
  op: string,
  options: object,
  keys: readonly string[],
  arg = 'options',
): void {
  for (const k of Object.keys(options))
    if (!keys.includes(k))
      argError(
        'INVALID_ARGUMENT',
        op,
        `${arg}.${k}`,
        `is not an option of ${op}; it takes ${keys.join(', ')}.`,
      );
}

/**
 * Refuses what is no kernel's name for `ranBy` (a kit's or a worker kit's), by type first (a prototype-less object or a revoked
 * Proxy, used as a property key, threw a raw TypeError; other junk answered undefined).
 */
export function checkKernelName(kernel: unknown): asserts kernel is KernelName {
  if (typeof kernel !== 'string')
    argError('INVALID_TYPE', 'ranBy', 'kernel', `must be a kernel's name, got ${describeType(kernel)}.`);
  if (!(KERNEL_NAMES as readonly string[]).includes(kernel))
    argError('INVALID_ARGUMENT', 'ranBy', 'kernel', `is '${kernel}', which is no kernel (see KERNEL_NAMES).`);
}

/**
 * Refuses a corpus's `storage` other than `'float32'`, `'float16'` or `'int8'` and a `rerank`
 * that is not an integer in [0, 2^31 - 1] (bounded as a corpus file's header is: a corpus made
 * with 2^31 saved a file no load took), naming `options.storage` or `options.rerank` of `op`.
 * Unset values pass. Every place that makes a corpus runs it: the kit's and the kernel table's.
 */
export function checkStorageOptions(op: string, storage: unknown, rerank: unknown): void {
  if (storage !== undefined && storage !== 'float32' && storage !== 'float16' && storage !== 'int8') {
    argError(
      'INVALID_ARGUMENT',
      op,
      'options.storage',
      `must be 'float32', 'float16' or 'int8', got ${valueText(storage)}.`,
    );
  }
  if (
    rerank !== undefined &&
    !(Number.isInteger(rerank) && (rerank as number) >= 0 && (rerank as number) <= 2 ** 31 - 1)
  ) {
    argError(
      'INVALID_ARGUMENT',
      op,
      'options.rerank',
      `must be an integer in [0, 2^31 - 1], got ${valueText(rerank)}.`,
    );
  }
}

/**
 * The error for an options-like argument of `args` past the `names` that `op` takes (an object
 * that is not an array, or a function), or `undefined` when there is none. A plain-JavaScript
 * caller's options handed to a call that takes none were ignored: `kit.topK(q, rows, 5, { filter })`
 * searched every row, `kit.cosineRows(a, b, { out })` left `out` as it was. Other values pass, as
 * they always did: `undefined` (a wrapper forwarding optional arguments), and the index and array
 * `list.map(kit.rowNorms)` hands on. `INVALID_ARGUMENT` naming `arguments[i]`.
 */
export function extraArgument(
  op: string,
  args: ArrayLike<unknown>,
  names: readonly string[],
): CosineKitError | undefined {
  for (let i = names.length; i < args.length; i++) {
    const v = args[i];
    let list = false;
    try {
      list = Array.isArray(v);
    } catch {
      // A revoked Proxy: no list, refused below.
    }
    if ((typeof v === 'object' && v !== null && !list) || typeof v === 'function')
      return argErrorOf(
        'INVALID_ARGUMENT',
        op,
        `arguments[${i}]`,
        `is one more than '${op}' takes (${names.length === 0 ? 'none' : names.join(', ')}): it would be ignored, so it is refused.`,
      );
  }
  return undefined;
}

/**
 * A rejected promise for an options-like argument among `more`, the arguments past the `names`
 * that `op` takes (see {@link extraArgument}), else `undefined`.
 */
export function refuseExtra(
  op: string,
  more: readonly unknown[],
  names: readonly string[],
): Promise<never> | undefined {
  if (more.length === 0) return undefined;
  const e = extraArgument(op, [...names, ...more], names);
  return e === undefined ? undefined : Promise.reject(e);
}
