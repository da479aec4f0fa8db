/**
 * What the calling thread and the worker say to each other. Both sides import this file, so it has
 * no imports of its own beyond core's error class: values that cannot cross a thread as they are
 * (a `Tensor`, a `SearchResult`, a corpus, an error) travel as small tagged records.
 */
import { CosineKitError, type ErrorCode } from '@cosinekit/core';
import { errorText } from '@cosinekit/core/backend';

/** Messages from the calling thread to the worker. */
export type ToWorker =
  | {
      t: 'init';
      modules: string[];
      backend?: string;
      timeoutMs?: number;
      fallback: boolean;
      /** This start's own key, which the worker's `ready` or refusal carries back (see {@link FromWorker}). */
      key?: string;
    }
  | {
      t: 'call';
      id: number;
      /** The corpus handle the call is on; 0 for the kit. */
      target: number;
      op: string;
      args: unknown[];
      /** One Int32 set to 1 on abort, readable while the worker runs (absent without SharedArrayBuffer). */
      flag?: SharedArrayBuffer;
    }
  | { t: 'abort'; id: number }
  | { t: 'chunk'; id: number; done: boolean; value?: unknown; error?: WireError }
  | { t: 'release'; target: number }
  /** Asks for a `hello` again: a worker handed over after it started has sent its first already. */
  | { t: 'ping' };

/** Messages from the worker to the calling thread. */
export type FromWorker =
  | { t: 'hello' }
  /** The worker is closing itself (`self.close()`): a browser gives no event for it. */
  | { t: 'closing' }
  /**
   * `ready` and a start's failure (`fail` with id 0) carry the `key` of the `init` they answer:
   * every kit started on one worker hears them, and two started at once each took the first
   * `ready` as theirs and shared the worker's answers.
   */
  | { t: 'ready'; key?: string }
  | { t: 'done'; id: number; value: unknown; rows?: number }
  | { t: 'fail'; id: number; error: WireError; rows?: number; key?: string }
  | { t: 'progress'; id: number; rows: number }
  | { t: 'pull'; id: number }
  | { t: 'stop'; id: number }
  | { t: 'fallback'; backend: string; reason: string };

/** A `CosineKitError` (or any other error) as plain data. */
export interface WireError {
  code?: ErrorCode;
  message: string;
  name?: string;
  op?: string;
  arg?: string;
  backend?: string;
  kernel?: string;
  cause?: WireError;
}

/**
 * The key of a tagged record: `{ [TAG]: 'tensor', data, rows, cols }`, `{ [TAG]: 'result', ... }`,
 * `{ [TAG]: 'corpus', handle, ... }`, and the stand-ins for what stays on the calling thread (the
 * caller's AbortSignal, a progress callback, a stream, an `options.out` whose values need not
 * cross), for which the worker puts its own.
 */
export const TAG = '$cosinekit';

/** The kinds of tagged records. */
export type Tagged =
  | { [TAG]: 'tensor'; data: Float32Array; rows: number; cols: number }
  | {
      [TAG]: 'result';
      queries: number;
      k: number;
      indices: Int32Array;
      scores: Float32Array;
      ids?: readonly (number | string)[];
    }
  | { [TAG]: 'corpus'; handle: number; cols: number; backend: string; storage: string; rows: number }
  | { [TAG]: 'signal' }
  | { [TAG]: 'progress' }
  | { [TAG]: 'stream' }
  | { [TAG]: 'out'; length: number; rows?: number; cols?: number }
  | SharedFloats
  | { [TAG]: 'ids'; list: unknown[] }
  | { [TAG]: 'odd'; type: string }
  | { [TAG]: 'revoked' };

/**
 * Whether `v` cannot be inspected at all (a revoked Proxy: even its prototype cannot be read). It
 * crosses as a stand-in, and the worker puts a revoked Proxy of its own in its place, so core there
 * names it exactly as core here would.
 */
export function uninspectable(v: unknown): boolean {
  if ((typeof v !== 'object' && typeof v !== 'function') || v === null) return false;
  try {
    Object.getPrototypeOf(v);
    return false;
  } catch {
    return true;
  }
}

/** A revoked Proxy of this thread's (see {@link uninspectable}). */
export function revokedHere(): unknown {
  const r = Proxy.revocable({}, {});
  r.revoke();
  return r.proxy;
}

/**
 * A stand-in for an id that is no id and cannot cross (a symbol, a function, an object): the
 * worker puts a value of the same described type in its place, so core there refuses it with
 * the very message it gives in this thread.
 */
export function oddId(x: unknown, describe: (v: unknown) => string): unknown {
  const odd = typeof x === 'symbol' || typeof x === 'function' || (typeof x === 'object' && x !== null);
  return odd ? { [TAG]: 'odd', type: typeof x === 'symbol' ? 'symbol' : describe(x) } : x;
}

/** The worker's value for an odd id's stand-in (see {@link oddId}): one that core describes as `type`. */
export function evenOut(type: string): unknown {
  if (type === 'symbol') return Symbol(type);
  if (type === 'function') return () => undefined;
  if (type === 'Array') return [];
  // An instance of a class named `type`: core describes an object by its prototype's constructor.
  const named = Object.defineProperty(class {}, 'name', { value: type });
  return Object.create(named.prototype);
}

/** A Float32Array over a SharedArrayBuffer as it crosses (see {@link floatsOut}). */
export interface SharedFloats {
  [TAG]: 'shared';
  buffer: SharedArrayBuffer;
  offset: number;
  length: number;
}

/**
 * A Float32Array as it crosses: itself, or, over a SharedArrayBuffer, that buffer with the view's
 * offset and length as numbers. Node's structured clone writes a view's offset and length as
 * 32-bit values, so a view 4 GiB or more into its buffer (or 4 GiB long) arrived as a view of
 * other memory: a worker wrote a caller's `out` at the wrong place, and the caller copied from it.
 */
export function floatsOut(a: Float32Array): Float32Array | SharedFloats {
  if (typeof SharedArrayBuffer !== 'function' || !(a.buffer instanceof SharedArrayBuffer)) return a;
  return { [TAG]: 'shared', buffer: a.buffer, offset: a.byteOffset, length: a.length };
}

/** The Float32Array {@link floatsOut} sent. */
export function floatsIn(w: Float32Array | SharedFloats): Float32Array {
  return w instanceof Float32Array ? w : new Float32Array(w.buffer, w.offset, w.length);
}

/** The tag of `v`, if it is a tagged record. */
export function tagOf(v: unknown): Tagged[typeof TAG] | undefined {
  return typeof v === 'object' && v !== null && !ArrayBuffer.isView(v)
    ? ((v as Record<string, unknown>)[TAG] as Tagged[typeof TAG] | undefined)
    : undefined;
}

/** The internal call that counts the corpus handles a worker holds (see `handlesOf`). */
export const HANDLES_OP = '$handles';

/** An error as plain data; causes are kept one level deep (the backend's own error). */
export function toWire(e: unknown, depth = 0): WireError {
  let error = false;
  try {
    error = e instanceof Error;
  } catch {
    // A revoked Proxy: sent as its text, which errorText gives without reading it.
  }
  if (error) {
    const k = e as Partial<CosineKitError> & Error;
    const out: WireError = { message: k.message, name: k.name };
    if (k.code !== undefined) out.code = k.code;
    if (k.op !== undefined) out.op = k.op;
    if (k.arg !== undefined) out.arg = k.arg;
    if (k.backend !== undefined) out.backend = k.backend;
    if (k.kernel !== undefined) out.kernel = k.kernel;
    if (k.cause !== undefined && depth < 2) out.cause = toWire(k.cause, depth + 1);
    return out;
  }
  return { message: errorText(e) };
}

/** The error again: a `CosineKitError` with the same code, op, argument and message, or an `Error`. */
export function fromWire(w: WireError): Error {
  const cause = w.cause === undefined ? undefined : fromWire(w.cause);
  if (w.code !== undefined) {
    return new CosineKitError(w.code, w.message, {
      op: w.op,
      arg: w.arg,
      backend: w.backend,
      kernel: w.kernel,
      cause,
    });
  }
  // The engine's own error classes come back as themselves (a RangeError cause of OUT_OF_MEMORY
  // was a plain Error named RangeError); any other name is kept on an Error.
  const Made = (w.name !== undefined && Object.hasOwn(BUILT_IN, w.name) && BUILT_IN[w.name]) || Error;
  const e = new Made(w.message, cause === undefined ? undefined : { cause });
  if (w.name && e.name !== w.name) e.name = w.name;
  return e;
}

/** The error classes every engine has, by name. */
const BUILT_IN: Record<string, ErrorConstructor> = {
  Error,
  RangeError,
  TypeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

/**
 * The buffer under `v` when handing it over cannot hurt anyone: a fresh result that covers the
 * whole of its buffer (a view into a bigger buffer is copied instead, since the rest may be in use).
 */
export function ownBuffer(v: ArrayBufferView): ArrayBuffer | null {
  const b = v.buffer;
  if (!(b instanceof ArrayBuffer) || v.byteOffset !== 0 || v.byteLength !== b.byteLength) return null;
  return b;
}

/**
 * The signal core sees in this thread. Core reads `signal.aborted` before each block of work; a
 * worker busy in such a loop reads no messages, so where the calling thread shares a flag
 * (SharedArrayBuffer), reading `aborted` also looks at the flag, and an abort is seen at the next
 * check without waiting for this thread's event loop.
 */
export function workerSignal(flag: SharedArrayBuffer | undefined): { signal: AbortSignal; abort(): void } {
  const c = new AbortController();
  const cell = flag ? new Int32Array(flag) : null;
  const abort = () => {
    if (!c.signal.aborted) c.abort(new DOMException('The caller aborted the call.', 'AbortError'));
  };
  const s = c.signal;
  const signal = {
    get aborted() {
      if (cell && Atomics.load(cell, 0) !== 0) abort();
      return s.aborted;
    },
    get reason() {
      return s.reason;
    },
    get onabort() {
      return s.onabort;
    },
    addEventListener: s.addEventListener.bind(s),
    removeEventListener: s.removeEventListener.bind(s),
    dispatchEvent: s.dispatchEvent.bind(s),
    throwIfAborted() {
      if (signal.aborted) throw s.reason;
    },
  } as unknown as AbortSignal;
  return { signal, abort };
}
