import {
  argError,
  argErrorOf,
  beyondFloat32,
  CosineKitError,
  checkFinite,
  describeType,
  errorText,
  isArrayArg,
  reading,
} from '@cosinekit/core/backend';
import type { Resident, WasmRuntime } from './runtime.js';
import { padded } from './staging.js';

/** Bytes before a vector's data: its float64 norm sits in the last 8 (see `vectorPrepare`). */
const HEADER = 16;

/**
 * A vector resident in wasm memory, with its norm computed once when written, so the cosine of two
 * resident vectors ({@link WasmBackend.vectorCosine}) is a single wasm call doing one pass of dot
 * products. Create one with {@link WasmBackend.createVector}; release it with `dispose()`.
 */
export class WasmVector implements Resident {
  /** Number of floats. */
  readonly length: number;
  /**
   * Byte address of the first float in wasm memory (16-byte aligned, zero-padded to a multiple of
   * 4 floats), or -1 once disposed. Read-only for callers.
   */
  address: number;
  /** The runtime that owns the memory (compared by identity). */
  readonly owner: WasmRuntime;
  #block: number;

  constructor(rt: WasmRuntime, data: Float32Array) {
    this.length = data.length;
    this.owner = rt;
    this.#block = rt.alloc(HEADER + padded(data.length) * 4, 'createVector');
    this.address = this.#block + HEADER;
    rt.f32.fill(0, (this.address >>> 2) + data.length, (this.address >>> 2) + padded(data.length));
    this.#write(data);
    rt.track(this);
  }

  /** True once disposed. */
  get disposed(): boolean {
    return this.address < 0;
  }

  /** Overwrites the values (same length, finite) and recomputes the stored norm. Returns `this`. */
  set(data: ArrayLike<number>): this {
    if (this.address < 0) throw disposedError('WasmVector.set');
    const f = toFloat32(data, 'WasmVector.set');
    if (f.length !== this.length) {
      argError(
        'DIMENSION_MISMATCH',
        'WasmVector.set',
        'data',
        `has length ${f.length}; this vector has length ${this.length}.`,
      );
    }
    checkFinite('WasmVector.set', 'data', { data: f, rows: 1, cols: f.length });
    this.#write(f);
    return this;
  }

  #write(f: Float32Array): void {
    this.owner.f32.set(f, this.address >>> 2);
    this.owner.exports.vectorPrepare(this.address, this.length);
  }

  /** A copy of the values, into `out` when given. */
  toArray(out?: Float32Array): Float32Array {
    if (this.address < 0) throw disposedError('WasmVector.toArray');
    return this.owner.download(this.address, this.length, out);
  }

  /** Returns the memory to the backend's allocator. Idempotent. */
  dispose(): void {
    if (this.address < 0) return;
    if (!this.owner.disposed) this.owner.free(this.#block);
    this.owner.untrack(this);
    this.address = -1;
  }

  /** Called when the backend is disposed. */
  release(): void {
    this.address = -1;
  }
}

/** `data` as a Float32Array, checked non-empty. */
/**
 * `data` as float32 values for `op`: a Float32Array as it is, an array of numbers or another
 * typed array of numbers converted. Anything else is refused naming `data`: another type or a
 * Proxy around a typed array (`INVALID_TYPE`), an array holding a non-number (`INVALID_TYPE`
 * naming `data[i]`, not coerced), a detached buffer (`DISPOSED`), an error thrown while reading it
 * (`INVALID_ARGUMENT`, that error the cause), no values (`EMPTY_INPUT`).
 */
export function toFloat32(data: ArrayLike<number>, op = 'createVector'): Float32Array {
  const typed = ArrayBuffer.isView(data);
  if (
    (!typed && !isArrayArg(op, 'data', data)) ||
    data instanceof DataView ||
    data instanceof BigInt64Array ||
    data instanceof BigUint64Array
  )
    argError(
      'INVALID_TYPE',
      op,
      'data',
      `must be a Float32Array, an array of numbers or a typed array of numbers, got ${
        reading(op, 'data', () => data instanceof Float32Array)
          ? 'an object that only inherits from a Float32Array (a Proxy?)'
          : describeType(data)
      }.`,
    );
  let f: Float32Array;
  if (typed) {
    if (data.length === 0) {
      try {
        // Only a detached buffer refuses a new view.
        new Uint8Array((data as unknown as ArrayBufferView).buffer, 0, 0);
      } catch {
        argError('DISPOSED', op, 'data', 'is a typed array whose buffer was transferred (detached).');
      }
    }
    f = data instanceof Float32Array ? data : Float32Array.from(data);
    if (f !== data) refuseBeyondFloat32(data, f, op);
  } else {
    try {
      const a = data as readonly unknown[];
      f = new Float32Array(a.length);
      for (let i = 0; i < a.length; i++) {
        const v = a[i];
        if (typeof v !== 'number')
          argError(
            'INVALID_TYPE',
            op,
            `data[${i}]`,
            `must be a number, got ${v === null ? 'null' : typeof v}.`,
          );
        f[i] = v;
      }
    } catch (e) {
      if (e instanceof CosineKitError) throw e;
      throw argErrorOf('INVALID_ARGUMENT', op, 'data', `threw while it was read: ${errorText(e)}`, e);
    }
  }
  if (f.length === 0) {
    argError('EMPTY_INPUT', op, 'data', 'is empty.');
  }
  if (!typed) refuseBeyondFloat32(data, f, op);
  return f;
}

/**
 * Refuses a finite value that became ±Infinity in float32 (beyond about 3.4e38) by its value and
 * index: the finite check after would report an Infinity the caller never passed.
 */
function refuseBeyondFloat32(data: ArrayLike<number>, f: Float32Array, op: string): void {
  for (let i = 0; i < f.length; i++) {
    const v = f[i];
    if (v - v !== 0 && Number.isFinite(data[i])) beyondFloat32(op, 'data', data[i], `index ${i}`);
  }
}

/** The error for a vector used after `dispose()`; `arg` is the argument that held it. */
export function disposedError(op: string, arg = 'vector'): CosineKitError {
  return argErrorOf('DISPOSED', op, arg, 'was disposed.');
}
