import { argError, argErrorOf, type CosineKitError, checkFinite } from '@cosinekit/core/backend';
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
    const f = toFloat32(data);
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
export function toFloat32(data: ArrayLike<number>): Float32Array {
  const f = data instanceof Float32Array ? data : Float32Array.from(data);
  if (f.length === 0) {
    argError('EMPTY_INPUT', 'createVector', 'data', 'is empty.');
  }
  return f;
}

export function disposedError(op: string): CosineKitError {
  return argErrorOf('DISPOSED', op, 'vector', 'was disposed.');
}
