import { argError, argErrorOf, type ErrorCode, isCosineKitError } from './errors.js';
import { attached, describeType, intact, plainFloat32, refuseFakeView, Tensor } from './tensor.js';

/** Options of the calls that return a full similarity matrix. */
export interface MatrixOptions {
  /**
   * Where to write the result: a `Float32Array` of `rows x cols` values, or a `Tensor` of that
   * shape; the call resolves to a new `Tensor` over those very values.
   * Reusing one output across calls saves the page faults of a fresh result (a 40 MB matrix costs
   * tens of milliseconds to touch for the first time). The backend writes into it where it can, and
   * the result is copied into it otherwise. It must not be on the buffer of an input (on a
   * SharedArrayBuffer beside an input on one, whose memory cannot be compared, the inputs are
   * copied first), and holds unspecified values if the call fails. After a failure by `timeoutMs`
   * the backend's kernel may still write into it when it ends: give the next call another buffer.
   */
  out?: Float32Array | Tensor;
}

/**
 * `options.out` of operation `op` (options checked to be an object, or absent, by the caller)
 * checked for a `rows x cols` result: a Float32Array or Tensor of that size, not detached or disposed, and on no buffer
 * of `inputs` (named as given). Its values, or `undefined` when none was given.
 */
export function checkOut(
  op: string,
  options: unknown,
  rows: number,
  cols: number,
  inputs: readonly (readonly [string, unknown])[],
): Float32Array | undefined {
  const fail = (code: ErrorCode, problem: string) => argError(code, op, 'options.out', problem);
  const out = (options as MatrixOptions | undefined)?.out;
  if (out === undefined) return undefined;
  refuseFakeView(out, op, 'options.out');
  const t = out instanceof Tensor;
  if (t && out.disposed) fail('DISPOSED', 'is a disposed tensor.');
  if (t) intact(out, op, 'options.out');
  const data = t ? out.data : out;
  refuseFakeView(data, op, 'options.out');
  if (!(data instanceof Float32Array))
    return fail('INVALID_TYPE', `must be a Float32Array or a Tensor, got ${describeType(out)}.`);
  // A buffer of no bytes may be detached or merely empty (new Float32Array(0), reported as detached):
  // `attached` tells them apart; an empty one is the wrong shape, below.
  attached(data, op, 'options.out');
  if (t ? out.rows !== rows || out.cols !== cols : data.length !== rows * cols)
    fail('SHAPE_MISMATCH', `must hold the ${rows} x ${cols} result, got ${t ? out.shape : data.length}.`);
  for (const [name, x] of inputs)
    if (
      (x instanceof Tensor ? (x.disposed ? null : x.data) : ArrayBuffer.isView(x) ? x : null)?.buffer ===
      data.buffer
    )
      fail('INVALID_ARGUMENT', `shares a buffer with '${name}'.`);
  // A view that tracks a resizable buffer's length is fixed at the result's: grown while an async
  // backend ran, its kernel saw more values than were due and failed as the backend's fault.
  const plain = plainFloat32(data);
  if (!lengthCanChange(plain.buffer)) return plain;
  // The caller's own memory (a resizable ArrayBuffer or a growable SharedArrayBuffer): an answer
  // written into it is theirs, not a backend's answer on a buffer that may change length.
  callersResizable.add(plain.buffer);
  return new Float32Array(plain.buffer, plain.byteOffset, plain.length);
}

/**
 * How many values `out` holds now (a Float32Array's, a live Tensor's), or undefined for anything
 * else: read when a queued call is made, so {@link checkOutKept} can tell an output the caller
 * transferred or shrank while the call waited from one of the wrong shape.
 */
export function outLength(out: unknown): number | undefined {
  try {
    const d = out instanceof Tensor ? (out.disposed ? undefined : out.data) : out;
    return d instanceof Float32Array && d.buffer.byteLength > 0 ? d.length : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Refuses (`DISPOSED` naming `options.out`) an output that held `given` values when `op` was called
 * and holds fewer now, when the queued call runs: it was transferred or shrunk meanwhile, which
 * the shape check then blamed on the caller's argument ("must hold the 64 x 3000 result, got 0").
 */
export function checkOutKept(op: string, out: unknown, given: number | undefined): void {
  if (given !== undefined && (outLength(out) ?? 0) < given)
    argError(
      'DISPOSED',
      op,
      'options.out',
      'was transferred (detached), shrunk or disposed while the call waited: its answer has nowhere to go.',
    );
}

/** True for a buffer whose length can change: a resizable ArrayBuffer or a growable SharedArrayBuffer. */
export function lengthCanChange(b: ArrayBufferLike): boolean {
  const r = b as { resizable?: unknown; growable?: unknown };
  return r.resizable === true || r.growable === true;
}

/**
 * Resizable buffers of callers' `out` arrays: a kernel's answer in one is the caller's own array,
 * written as asked, not a backend's answer on a buffer whose length can change under the caller.
 */
export const callersResizable = new WeakSet<ArrayBufferLike>();

/**
 * Whether views `a` and `b` may be on the same memory: the same buffer, or two SharedArrayBuffer
 * objects (a clone sent to a worker and back, a shared `WebAssembly.Memory`'s buffer before and
 * after it grew), whose memory JavaScript cannot compare.
 */
export function mayShare(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return a.buffer === b.buffer || (isShared(a.buffer) && isShared(b.buffer));
}

/** Whether `b` is a SharedArrayBuffer (an engine without them has none). */
const isShared = (b: ArrayBufferLike): boolean =>
  typeof SharedArrayBuffer !== 'undefined' && b instanceof SharedArrayBuffer;

/**
 * What a call of `op` given `options.out` (its values `out`) reports when it failed: `DISPOSED`
 * naming `options.out`, with the failure as `cause`, when the caller transferred (detached) or
 * shrank it while the call ran, so that the backend's write into it, or the check of its answer,
 * failed (the caller's doing, not the backend's); otherwise `e` itself (an abort, a disposed corpus
 * and the caller's other errors stay as they are).
 */
export function outFailure(op: string, e: unknown, out: Float32Array | undefined): unknown {
  if (out === undefined || out.byteLength !== 0) return e;
  if (isCosineKitError(e) && e.code !== 'BACKEND_ERROR') return e;
  return argErrorOf(
    'DISPOSED',
    op,
    'options.out',
    'was transferred (detached) or shrunk while the call ran.',
    e,
  );
}
