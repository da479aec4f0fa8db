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
  | 'CORRUPT_DATA'
  /** The caller's `AbortSignal` fired: the call stopped and left everything as it was before it. */
  | 'ABORTED'
  /**
   * A backend broke the contract: a kernel threw an error of its own, returned the wrong number of
   * values, an index out of range, a non-finite score, or never settled. The message names the
   * backend, the kernel and the public operation; `cause` keeps the backend's own error.
   */
  | 'BACKEND_ERROR';

/** The one error class of CosineKit. */
export class CosineKitError extends Error {
  override readonly name = 'CosineKitError';
  /** Stable, machine-readable reason. */
  readonly code: ErrorCode;
  /** The operation that failed, e.g. `'cosineMatrix'`. */
  readonly op: string | undefined;
  /** The argument at fault, e.g. `'queries'`. */
  readonly arg: string | undefined;
  /** For errors raised by or about a backend: its name. */
  readonly backend: string | undefined;
  /** For errors raised by or about a backend's kernel: the kernel's name, e.g. `'corpusSearch'`. */
  readonly kernel: string | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { op?: string; arg?: string; backend?: string; kernel?: string; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.op = options.op;
    this.arg = options.arg;
    this.backend = options.backend;
    this.kernel = options.kernel;
  }
}

/**
 * The one builder of argument errors: a {@link CosineKitError} whose message reads
 * "Argument 'arg' passed to 'op' <problem>". {@link argError} throws it.
 */
export function argErrorOf(
  code: ErrorCode,
  op: string,
  arg: string,
  problem: string,
  cause?: unknown,
  about?: { backend?: string; kernel?: string },
): CosineKitError {
  return new CosineKitError(code, `Argument '${arg}' passed to '${op}' ${problem}`, {
    op,
    arg,
    cause,
    ...about,
  });
}

/** Throws the error `argErrorOf` builds. */
export function argError(code: ErrorCode, op: string, arg: string, problem: string, cause?: unknown): never {
  throw argErrorOf(code, op, arg, problem, cause);
}

/**
 * The error for a backend that broke the contract while serving public operation `op` (whose
 * argument `arg` it was working on): `BACKEND_ERROR`, naming the backend and the kernel, keeping
 * the backend's own error as `cause`.
 */
export function backendError(
  op: string,
  arg: string,
  backend: string,
  kernel: string,
  problem: string,
  cause?: unknown,
): CosineKitError {
  return argErrorOf(
    'BACKEND_ERROR',
    op,
    arg,
    `failed in backend '${backend}' (kernel '${kernel}'): ${problem}`,
    cause,
    {
      backend,
      kernel,
    },
  );
}

/**
 * Throws the error a kernel raises when handed a resident corpus made by another backend (or by
 * another instance of the same backend).
 */
export function foreignCorpus(op: string, owner: string, expected: string): never {
  return argError(
    'INVALID_ARGUMENT',
    op,
    'corpus',
    // A handle that names this backend but is not one this instance made read "belongs to backend
    // 'wasm', not 'wasm'" (a probe).
    `${owner === expected ? `is not a corpus this instance of backend '${expected}' made (another instance's, or a copy)` : `belongs to backend '${owner}', not '${expected}'`}; search a corpus with the kit that created it.`,
  );
}

/**
 * Throws the error every kernel of a backend raises once `backend.dispose()` has run: `DISPOSED`
 * naming `backend` and the kernel `op` (the kit renames it after its public operation). Disposal
 * is final, as for tensors and corpora: a backend never reopens behind the caller's back.
 */
export function disposedBackend(op: string): never {
  return argError('DISPOSED', op, 'backend', 'was disposed (backend.dispose()); create a new one.');
}

/**
 * Throws `ABORTED` when `signal` has fired. Long calls check it before they start and between their
 * steps (segments, query blocks, stream chunks); a kernel already running finishes first, unless
 * the call races its signal as well (see `orAbort`).
 */
export function checkSignal(op: string, signal: AbortSignal | undefined): void {
  if (signal === undefined) return;
  let aborted: boolean;
  let reason: unknown;
  try {
    aborted = !!signal.aborted;
    if (aborted) reason = signal.reason;
  } catch (e) {
    // A signal-like object whose getter throws (it passed the check at the call, and threw later).
    throw argErrorOf('INVALID_ARGUMENT', op, 'options.signal', `threw while it was read: ${errorText(e)}`, e);
  }
  if (aborted) {
    throw new CosineKitError(
      'ABORTED',
      `Argument 'signal' passed to '${op}' was aborted; the call stopped.`,
      {
        op,
        arg: 'signal',
        cause: reason,
      },
    );
  }
}

/** True when `e` is a {@link CosineKitError}, optionally with the given code. */
export function isCosineKitError(e: unknown, code?: ErrorCode): e is CosineKitError {
  // A hostile Proxy's getPrototypeOf trap throws from instanceof: such a value is no error of ours.
  try {
    return e instanceof CosineKitError && (code === undefined || e.code === code);
  } catch {
    return false;
  }
}

/**
 * Calls the caller's `options.onProgress` with `args` for operation `op`, awaiting it when it
 * returns a promise. A throw or a rejection fails the call with `INVALID_ARGUMENT` naming
 * `options.onProgress`, its error as `cause`: never an unhandled rejection that ends the process,
 * nor a progress error reported as the operation's own (a file that "cannot be written"). When
 * `signal` fires while the promise is pending, the call ends with `ABORTED` without waiting for it.
 */
export async function reportProgress(
  op: string,
  onProgress: ((...args: number[]) => unknown) | undefined,
  args: number[],
  signal?: AbortSignal,
): Promise<void> {
  if (onProgress === undefined) return;
  let r: unknown;
  let thenable: boolean;
  try {
    r = onProgress(...args);
    // Inside the try: a result whose `then` getter throws escaped raw.
    thenable = typeof (r as PromiseLike<unknown> | null)?.then === 'function';
  } catch (e) {
    throw argErrorOf('INVALID_ARGUMENT', op, 'options.onProgress', `threw: ${errorText(e)}`, e);
  }
  if (!thenable) return;
  // Awaited, but not past an abort: a promise that never settles must not hold the call.
  await orAbort(op, r as PromiseLike<unknown>, signal).catch((e: unknown) => {
    if (isCosineKitError(e, 'ABORTED') && signal?.aborted) throw e;
    throw argErrorOf('INVALID_ARGUMENT', op, 'options.onProgress', `threw: ${errorText(e)}`, e);
  });
}

/**
 * `p`, or `ABORTED` as soon as `signal` fires, whichever comes first (at once if it has). `p` keeps
 * its handlers, so its later rejection is never unhandled.
 */
export function orAbort<T>(op: string, p: T | PromiseLike<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return Promise.resolve(p);
  return new Promise<T>((resolve, reject) => {
    const stop = () => {
      try {
        checkSignal(op, signal);
      } catch (e) {
        reject(e);
      }
    };
    try {
      checkSignal(op, signal);
    } catch (e) {
      // Aborted already, or its `aborted` getter threw (named as the signal: it escaped raw).
      // Nothing to wait on: `p` only gets a handler, so its later rejection is not unhandled.
      reject(e);
      Promise.resolve(p).then(undefined, () => undefined);
      return;
    }
    const off = onAbort(signal, stop);
    Promise.resolve(p).then(
      (v) => {
        off();
        resolve(v);
      },
      (e: unknown) => {
        off();
        reject(e);
      },
    );
  });
}

/**
 * One signal that fires when the caller's `signal` does or when `halt` does (a kit's
 * `dispose()`), and what lets go of both: for waits on the caller's own code (a source's `next()`,
 * an `onProgress` promise), which a dispose must end as an abort does (a stalled source held the
 * call, and a file load its descriptor, for good). Call the second once the call is over.
 */
export function eitherSignal(signal: AbortSignal | undefined, halt: AbortSignal): [AbortSignal, () => void] {
  const both = new AbortController();
  if (halt.aborted) both.abort(halt.reason);
  const offHalt = onAbort(halt, () => both.abort(halt.reason));
  let offSignal: () => void = () => {};
  if (signal !== undefined) {
    // A getter that throws reads as not fired here; checkSignal reads it again and names it.
    const aborted = signalFired(signal);
    // Its own reason: checkSignal reports it as the call's abort.
    const fire = () => {
      try {
        both.abort(signal.reason);
      } catch (e) {
        both.abort(e);
      }
    };
    if (aborted) fire();
    else offSignal = onAbort(signal, fire);
  }
  return [
    both.signal,
    () => {
      offHalt();
      offSignal();
    },
  ];
}

/**
 * Whether `e` is an engine refusing an allocation (V8's typed arrays and buffers, wasm memory): a
 * `RangeError` saying so. Such a request is too large for this process, not a broken backend;
 * CosineKit reports it as `OUT_OF_MEMORY` with `e` as the cause.
 */
export function isAllocationFailure(e: unknown): e is RangeError {
  // A negative length (`new Float32Array(-1)`) is a bug of whoever asked, not a size too large:
  // it was reported as OUT_OF_MEMORY, "make the call smaller" (a probe).
  return e instanceof RangeError && OUT_OF_MEMORY_MESSAGE.test(e.message) && !/length: -\d/.test(e.message);
}

/** What engines say when an allocation is refused. */
const OUT_OF_MEMORY_MESSAGE =
  /allocation failed|invalid typed array length|invalid array buffer length|array buffer length|out of memory|maximum memory size|could not allocate|cannot allocate/i;

/** Whether the caller's `signal` has fired (a getter that throws: not by this reading). */
export function signalFired(signal: AbortSignal | undefined): boolean {
  try {
    return !!signal?.aborted;
  } catch {
    return false;
  }
}

/** The callbacks waiting on each signal, behind one listener of the signal's own (see `onAbort`). */
const waiting = new WeakMap<AbortSignal, { calls: Set<() => void>; all: () => void }>();

/**
 * Calls `f` when `signal` fires; returns what stops that. Every call waiting on one signal shares
 * one listener, removed when the last stops waiting: a listener each made Node warn of a leak
 * (MaxListenersExceededWarning) once eleven reads of one corpus were queued with one signal. A
 * signal-like object whose listener methods throw (`checkSignalArg` asks only for `aborted` and
 * `addEventListener`) still lets calls settle.
 */
function onAbort(signal: AbortSignal, f: () => void): () => void {
  let w = waiting.get(signal);
  if (w === undefined) {
    const calls = new Set<() => void>();
    const all = () => {
      waiting.delete(signal);
      for (const g of [...calls]) g();
    };
    try {
      signal.addEventListener('abort', all, { once: true });
    } catch {
      return () => undefined;
    }
    w = { calls, all };
    waiting.set(signal, w);
  }
  const mine = w;
  mine.calls.add(f);
  return () => {
    mine.calls.delete(f);
    if (mine.calls.size > 0 || waiting.get(signal) !== mine) return;
    waiting.delete(signal);
    try {
      signal.removeEventListener('abort', mine.all);
    } catch {
      // Its listener stays; it finds nothing to stop.
    }
  };
}

/**
 * Runs `read`, which reads the caller's argument `arg` of `op` (rows, ids, a list): an error of the
 * caller's own that it throws (a getter, a Proxy trap) becomes `INVALID_ARGUMENT` naming `arg`, with
 * that error as `cause`; ours pass as they are.
 */
export function reading<T>(op: string, arg: string, read: () => T): T {
  try {
    return read();
  } catch (e) {
    throw readFailure(op, arg, e);
  }
}

/**
 * `Array.isArray(v)` for the caller's argument `arg` of `op`: a revoked Proxy (whose every
 * inspection throws) is `INVALID_ARGUMENT` naming `arg`, with the TypeError as `cause`.
 */
export function isArrayArg(op: string, arg: string, v: unknown): v is unknown[] {
  try {
    return Array.isArray(v);
  } catch (e) {
    throw readFailure(op, arg, e);
  }
}

/** What {@link reading} throws for an error `e` caught while reading argument `arg` of `op`. */
export function readFailure(op: string, arg: string, e: unknown): unknown {
  if (isCosineKitError(e)) return e;
  return argErrorOf('INVALID_ARGUMENT', op, arg, `threw while it was read: ${errorText(e)}`, e);
}

/**
 * Calls `x.dispose()` and ignores a throw or a rejection: a backend's or a resident handle's
 * failing disposal must neither fail the caller's call (a corpus's `dispose()`, a kit's, a
 * registration replaced) nor leave an unhandled rejection, which ends a Node process.
 */
export function disposeQuietly(x: { dispose?: () => unknown } | null | undefined): void {
  try {
    const r: unknown = x?.dispose?.();
    if ((typeof r === 'object' && r !== null) || typeof r === 'function') {
      const then = (r as { then?: unknown }).then;
      if (typeof then === 'function') then.call(r, undefined, () => undefined);
    }
  } catch {
    // Disposal is best effort: what the handle held is the backend's to lose.
  }
}

/**
 * A thrown value's message as text, whatever was thrown: an `Error`'s message, a string or number
 * as itself, and a value that cannot be turned into text (an object without a prototype, a Proxy
 * whose traps throw) as a plain description, never a second error.
 */
export function errorText(e: unknown): string {
  try {
    return e instanceof Error ? e.message : String(e);
  } catch {
    return 'a thrown value that cannot be read';
  }
}
