import { argError } from '@cosinekit/core/backend';
import type { WasmExports } from './generated/exports.js';
import { Heap } from './heap.js';
import type { WasmVariant } from './loader.js';
import type { HelperPool } from './threads.js';
import { checkTuning, type EngineTuning } from './tuning.js';

/** Bytes of the scratch block below the heap (see {@link WasmRuntime.scratch}). */
export const SCRATCH_BYTES = 64 * 1024;

/** Something that holds wasm memory until released (a corpus, a resident vector). */
export interface Resident {
  /** Releases the memory; the backend calls it for every live handle when it is disposed. */
  release(): void;
}

/**
 * One instantiated module: its exports (typed from the AssemblyScript source, see
 * scripts/exports.mjs), the JS-side allocator over its memory, views that follow memory growth,
 * the helper threads, and the resident handles to release with it. Staging lives in staging.ts,
 * the dot-product engine's drivers in engine.ts.
 */
export class WasmRuntime {
  readonly exports: WasmExports;
  readonly heap: Heap;
  /**
   * Address of a block of {@link SCRATCH_BYTES} kept below the heap for the inputs of a short
   * synchronous kernel call: no allocation per call (the heap's bookkeeping costs as much as a
   * one-row call's copy). A kernel uses it only while it runs on the calling thread, so never two
   * at once; it is not counted in `heap.used`.
   */
  readonly scratch: number;
  readonly variant: WasmVariant;
  readonly tuning: EngineTuning;
  /** The dot-product engine's driver for `tuning.tile` (its index in TILES). */
  readonly config: number;
  /** Query rows per panel. */
  readonly tileRows: number;
  /** Corpus rows per panel. */
  readonly tileCols: number;
  /** Steps (4 floats) per span of a long row's dot products (assembly/spans.ts). */
  readonly spanSteps: number;
  readonly #live = new Set<Resident>();
  readonly memory: WebAssembly.Memory;
  /** The compiled threads build, to start more instances of it (see shards.ts). */
  readonly module: WebAssembly.Module | undefined;
  /** Helper threads sharing the work of the threaded kernels, when `threads > 1` could start. */
  pool: HelperPool | undefined;
  /** Called when the last resident handle is released (a shard other than the first is then dropped). */
  onIdle: (() => void) | undefined;
  #buffer: ArrayBuffer | SharedArrayBuffer;
  #f32: Float32Array;
  #i32: Int32Array;
  /** `heap.grown` when the views were made. */
  #grown = 0;
  #disposed = false;

  constructor(
    instance: WebAssembly.Instance,
    variant: WasmVariant,
    tuning: EngineTuning,
    memory?: WebAssembly.Memory,
    module?: WebAssembly.Module,
  ) {
    this.module = module;
    this.exports = instance.exports as unknown as WasmExports;
    this.memory = memory ?? this.exports.memory!;
    this.variant = variant;
    this.tuning = tuning;
    this.config = checkTuning(tuning);
    [this.tileRows, this.tileCols] = tuning.tile.split('x').map(Number);
    this.spanSteps = this.exports.spanSteps();
    this.scratch = (this.exports.heapBase() + 63) & ~63;
    const heapBase = this.scratch + SCRATCH_BYTES;
    const have = this.memory.buffer.byteLength;
    if (have < heapBase) this.memory.grow(Math.ceil((heapBase - have) / 65536));
    this.heap = new Heap(this.memory, heapBase);
    this.#buffer = this.memory.buffer;
    this.#f32 = new Float32Array(this.#buffer);
    this.#i32 = new Int32Array(this.#buffer);
  }

  /** A float view of the whole memory, re-created after the memory grew. Re-read it after `alloc`. */
  get f32(): Float32Array {
    this.#follow();
    return this.#f32;
  }

  /** An int32 view of the whole memory, like {@link f32}. */
  get i32(): Int32Array {
    this.#follow();
    return this.#i32;
  }

  /**
   * Re-creates the views after the memory grew. Only the heap grows it (the module never
   * allocates), so its count of growths says when, without reading `memory.buffer` (slow on a
   * shared memory); a detached view (length 0) is checked as well, should anything else grow it.
   */
  #follow(): void {
    if (this.heap.grown === this.#grown && this.#f32.length !== 0) return;
    this.#grown = this.heap.grown;
    const buf = this.memory.buffer;
    if (buf !== this.#buffer) {
      this.#buffer = buf;
      this.#f32 = new Float32Array(buf);
      this.#i32 = new Int32Array(buf);
    }
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  /** Live resident handles. */
  get residentHandles(): number {
    return this.#live.size;
  }

  /** Throws `DISPOSED` once the backend was disposed. */
  check(op: string): void {
    if (this.#disposed) {
      argError('DISPOSED', op, 'backend', 'was disposed (backend.dispose()); create a new one.');
    }
  }

  track(r: Resident): void {
    this.#live.add(r);
  }

  untrack(r: Resident): void {
    this.#live.delete(r);
    if (this.#live.size === 0) this.onIdle?.();
  }

  alloc(bytes: number, op: string): number {
    return this.heap.alloc(bytes, op);
  }

  free(ptr: number): void {
    this.heap.free(ptr);
  }

  /** Copies `data` into a new block and returns its address. */
  upload(data: Float32Array, op: string): number {
    const ptr = this.alloc(data.length * 4, op);
    this.f32.set(data, ptr >>> 2);
    return ptr;
  }

  /**
   * Copies `length` floats at `ptr` into `out` (at `offset`), or into a new array. A new array is
   * made from the view (one copy; `new Float32Array(length)` then `set` zero-fills it first, which
   * cost 0.15 against 0.09 ms for 784 KB in Node 20).
   */
  download(ptr: number, length: number, out?: Float32Array, offset = 0): Float32Array {
    const at = ptr >>> 2;
    const src = this.f32.subarray(at, at + length);
    if (out === undefined) return new Float32Array(src);
    out.set(src, offset);
    return out;
  }

  /** Releases every resident handle, stops the helper threads and forgets all memory. */
  dispose(): void {
    if (this.#disposed) return;
    this.pool?.dispose();
    this.pool = undefined;
    for (const r of [...this.#live]) r.release();
    this.#live.clear();
    this.heap.reset();
    this.#disposed = true;
  }
}
