/**
 * Every failure CosineKit reports on purpose is a {@link CosineKitError}. Its `code` is stable and
 * meant for programs; its message names the argument and the operation, for people.
 */

/** The stable error codes. */
export type ErrorCode =
  /** Two inputs that must agree in width (columns) or row count do not. */
  | 'DIMENSION_MISMATCH'
  /** Data length does not match the declared shape, or rows have different lengths. */
  | 'SHAPE_MISMATCH'
  /** An input has no rows or no columns. */
  | 'EMPTY_INPUT'
  /** An input holds NaN or ±Infinity. */
  | 'NON_FINITE'
  /** `k` is not an integer in [1, N]. */
  | 'INVALID_K'
  /** An argument has the wrong type or dtype (for example a Float64Array where float32 is needed). */
  | 'INVALID_TYPE'
  /** Any other argument outside its documented range. */
  | 'INVALID_ARGUMENT'
  /** A tensor, corpus or backend was used after `dispose()`. */
  | 'DISPOSED'
  /** No backend by that name is registered. */
  | 'UNKNOWN_BACKEND'
  /** A backend's `init()` failed; the message carries its reason. */
  | 'BACKEND_INIT_FAILED'
  /** A backend cannot run in this environment or does not implement what was asked. */
  | 'UNSUPPORTED'
  /** A request needs more memory than the backend can provide. */
  | 'OUT_OF_MEMORY'
  /** Serialized data is truncated, corrupted or of an unknown version. */
  | 'CORRUPT_DATA';

/** The one error class of CosineKit. */
export class CosineKitError extends Error {
  override readonly name = 'CosineKitError';
  /** Stable, machine-readable reason. */
  readonly code: ErrorCode;
  /** The operation that failed, e.g. `'cosineMatrix'`. */
  readonly op: string | undefined;
  /** The argument at fault, e.g. `'queries'`. */
  readonly arg: string | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { op?: string; arg?: string; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.op = options.op;
    this.arg = options.arg;
  }
}

/** Throws a {@link CosineKitError} whose message reads "Argument 'arg' passed to 'op' ...". */
export function argError(code: ErrorCode, op: string, arg: string, problem: string): never {
  throw new CosineKitError(code, `Argument '${arg}' passed to '${op}' ${problem}`, { op, arg });
}

/** True when `e` is a {@link CosineKitError}, optionally with the given code. */
export function isCosineKitError(e: unknown, code?: ErrorCode): e is CosineKitError {
  return e instanceof CosineKitError && (code === undefined || e.code === code);
}
