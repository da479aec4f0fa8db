import { argError } from './errors.js';
import { describeType, Tensor } from './tensor.js';

/** Options of the calls that return a full similarity matrix. */
export interface MatrixOptions {
  /**
   * Where to write the result: a `Float32Array` of `rows x cols` values, or a `Tensor` of that
   * shape, which the call then resolves to (a `Float32Array` comes back wrapped in a new `Tensor`).
   * Reusing one output across calls saves the page faults of a fresh result (a 40 MB matrix costs
   * tens of milliseconds to touch for the first time). The backend writes into it where it can, and
   * the result is copied into it otherwise. It must not share memory with an input, and holds
   * unspecified values if the call fails.
   */
  out?: Float32Array | Tensor;
}

/** `options.out` of operation `op`, after checking `options` is an object (or absent). */
export function outOption(op: string, options: unknown): unknown {
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    argError('INVALID_TYPE', op, 'options', `must be an object, got ${describeType(options)}.`);
  return (options as MatrixOptions).out;
}

/**
 * The caller's output of operation `op` checked for a `rows x cols` result: its type, length, that
 * it is not detached or disposed, and that it shares no memory with `inputs` (named as given).
 * `undefined` when none was given.
 */
export function checkOut(
  op: string,
  out: unknown,
  rows: number,
  cols: number,
  inputs: readonly (readonly [string, unknown])[],
): Float32Array | undefined {
  if (out === undefined) return undefined;
  const arg = 'options.out';
  if (out instanceof Tensor && out.disposed) argError('DISPOSED', op, arg, 'is a disposed tensor.');
  const data = out instanceof Tensor ? out.data : out;
  if (!(data instanceof Float32Array))
    return argError('INVALID_TYPE', op, arg, `must be a Float32Array or a Tensor, got ${describeType(out)}.`);
  if (data.length === 0 && data.buffer.byteLength === 0)
    argError('DISPOSED', op, arg, 'has a detached buffer (it was transferred).');
  if (out instanceof Tensor ? out.rows !== rows || out.cols !== cols : data.length !== rows * cols)
    argError(
      'SHAPE_MISMATCH',
      op,
      arg,
      `${out instanceof Tensor ? `has shape [${out.rows}, ${out.cols}]` : `has ${data.length} values`}, but the result is ${rows} x ${cols} (${rows * cols} values).`,
    );
  for (const [name, x] of inputs) {
    const v = x instanceof Tensor ? (x.disposed ? null : x.data) : ArrayBuffer.isView(x) ? x : null;
    if (
      v !== null &&
      v.buffer === data.buffer &&
      v.byteOffset < data.byteOffset + data.byteLength &&
      data.byteOffset < v.byteOffset + v.byteLength
    )
      argError('INVALID_ARGUMENT', op, arg, `shares memory with '${name}'.`);
  }
  return data;
}

/** The result as the caller gets it: `out` itself when it is a Tensor, else a Tensor over `data`. */
export function outTensor(out: unknown, data: Float32Array, rows: number, cols: number): Tensor {
  return out instanceof Tensor ? out : new Tensor(data, rows, cols);
}
