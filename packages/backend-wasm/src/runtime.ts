import { CosineKitError, type Matrix, type TopKResult, TopKSelector } from '@cosinekit/core';
import { Heap } from './heap.js';
import type { WasmVariant } from './loader.js';

/** The functions the AssemblyScript module exports (see assembly/index.ts); addresses are bytes. */
export interface WasmExports {
  readonly memory: WebAssembly.Memory;
  heapBase(): number;
  relaxed(): number;
  rowNorms(x: number, rows: number, d: number, out: number): void;
  normalizeRows(src: number, rows: number, d: number, dst: number, stride: number): void;
  cosineRows(a: number, b: number, rows: number, d: number, out: number): void;
  vectorPrepare(v: number, d: number): void;
  vectorCosine(a: number, b: number, d: number): number;
  copyPadded(src: number, rows: number, cols: number, dst: number, stride: number): void;
  transposePadded(src: number, rows: number, cols: number, dst: number, stride: number): void;
  addBias(x: number, rows: number, cols: number, bias: number, out: number): void;
  activation(kind: number, x: number, n: number, out: number): void;
  activationGrad(kind: number, x: number, dy: number, n: number, out: number): void;
  dotsWith(
    config: number,
    a: number,
    m: number,
    b: number,
    n: number,
    rowBytes: number,
    out: number,
    ldo: number,
    clamp: number,
    nb: number,
  ): void;
}

/** The register tiles of the dot-product engine, by driver index (order of CONFIGS in scripts/gen.mjs). */
export const TILES = ['4x2', '3x3', '2x4', '4x3', '2x6', '1x6', '1x8', '1x4'] as const;

/** A register tile of the dot-product engine: rows of A x rows of B per micro-kernel call. */
export type Tile = (typeof TILES)[number];

/** Tuning of the dot-product engine. */
export interface EngineTuning {
  /** Main register tile. */
  tile: Tile;
  /** Bytes of B rows kept in cache while the row tiles of A pass over them. */
  blockBytes: number;
}

/** Default tiles: 4x2 fits 15 registers with a spare temporary for mul+add; 3x3 with fused madd. */
export const DEFAULT_TUNING: Record<WasmVariant, EngineTuning> = {
  simd: { tile: '4x2', blockBytes: 96 * 1024 },
  relaxed: { tile: '3x3', blockBytes: 96 * 1024 },
};

/** Largest output staged in wasm memory at once by a matrix product (floats): 16 MiB. */
const OUT_CHUNK = 4 * 1024 * 1024;
/** Scores per search tile (floats): 256 KiB, so a tile stays in L2 while it is selected from. */
const SEARCH_TILE = 64 * 1024;

/** Something that holds wasm memory until released (a corpus, a resident vector). */
export interface Resident {
  /** Releases the memory; the backend calls it for every live handle when it is disposed. */
  release(): void;
}

/** Rows of `d` floats padded to a multiple of 4 for the SIMD loops. */
export function padded(d: number): number {
  return (d + 3) & ~3;
}

/**
 * One instantiated module: its exports, the JS-side allocator over its memory, views that follow
 * memory growth, and the staging steps shared by the kernels.
 */
export class WasmRuntime {
  readonly exports: WasmExports;
  readonly heap: Heap;
  readonly variant: WasmVariant;
  readonly tuning: EngineTuning;
  readonly #config: number;
  readonly #live = new Set<Resident>();
  #buffer: ArrayBuffer;
  #f32: Float32Array;
  #disposed = false;

  constructor(instance: WebAssembly.Instance, variant: WasmVariant, tuning: EngineTuning) {
    this.exports = instance.exports as unknown as WasmExports;
    this.variant = variant;
    this.tuning = tuning;
    this.#config = TILES.indexOf(tuning.tile);
    if (this.#config < 0) throw new CosineKitError('INVALID_ARGUMENT', `Unknown tile '${tuning.tile}'.`);
    this.heap = new Heap(this.exports.memory, this.exports.heapBase());
    this.#buffer = this.exports.memory.buffer;
    this.#f32 = new Float32Array(this.#buffer);
  }

  /** A float view of the whole memory, re-created after the memory grew. Re-read it after `alloc`. */
  get f32(): Float32Array {
    const buf = this.exports.memory.buffer;
    if (buf !== this.#buffer) {
      this.#buffer = buf;
      this.#f32 = new Float32Array(buf);
    }
    return this.#f32;
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
      throw new CosineKitError('DISPOSED', `The wasm backend was disposed; '${op}' cannot run.`, { op });
    }
  }

  track(r: Resident): void {
    this.#live.add(r);
  }

  untrack(r: Resident): void {
    this.#live.delete(r);
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

  /** Copies `length` floats at `ptr` into `out` (at `offset`), or into a new array. */
  download(ptr: number, length: number, out?: Float32Array, offset = 0): Float32Array {
    const o = out ?? new Float32Array(length);
    const at = ptr >>> 2;
    o.set(this.f32.subarray(at, at + length), offset);
    return o;
  }

  /**
   * `x`'s rows normalised into a new block of rows padded to a multiple of 4 floats (zeros in the
   * padding): the layout of the dot-product engine. Returns the block's address.
   */
  stageNormalized(x: Matrix, op: string): number {
    const d = x.cols;
    const stride = padded(d);
    const ptr = this.alloc(x.rows * stride * 4, op);
    if (stride === d) {
      this.f32.set(x.data, ptr >>> 2);
      this.exports.normalizeRows(ptr, x.rows, d, ptr, stride);
      return ptr;
    }
    let raw = -1;
    try {
      raw = this.upload(x.data, op);
      this.exports.normalizeRows(raw, x.rows, d, ptr, stride);
    } catch (err) {
      this.free(ptr);
      throw err;
    } finally {
      if (raw >= 0) this.free(raw);
    }
    return ptr;
  }

  /**
   * The rows of `x` (or of its transpose) copied into a new block of padded rows, the form the
   * dot-product engine multiplies: `C_ij = row_i(A) . row_j(B)`.
   */
  stageRows(x: Matrix, transpose: boolean, op: string): number {
    const rows = transpose ? x.cols : x.rows;
    const cols = transpose ? x.rows : x.cols;
    const stride = padded(cols);
    const ptr = this.alloc(rows * stride * 4, op);
    if (!transpose && stride === cols) {
      this.f32.set(x.data, ptr >>> 2);
      return ptr;
    }
    let raw = -1;
    try {
      raw = this.upload(x.data, op);
      if (transpose) this.exports.transposePadded(raw, x.rows, x.cols, ptr, stride);
      else this.exports.copyPadded(raw, x.rows, x.cols, ptr, stride);
    } catch (err) {
      this.free(ptr);
      throw err;
    } finally {
      if (raw >= 0) this.free(raw);
    }
    return ptr;
  }

  /** `out[i * ldo + j] = A_i . B_j` (byte addresses, padded rows of `stride` floats), clamped when asked. */
  dots(
    a: number,
    m: number,
    b: number,
    n: number,
    stride: number,
    out: number,
    ldo: number,
    clamp: boolean,
  ): void {
    const rowBytes = stride * 4;
    // Rows of B per cache block: a multiple of 12 so every tile width of the drivers divides it.
    const nb = Math.max(12, Math.floor(this.tuning.blockBytes / rowBytes / 12) * 12);
    this.exports.dotsWith(this.#config, a, m, b, n, rowBytes, out, ldo * 4, clamp ? 1 : 0, nb);
  }

  /**
   * `out = A B^T` for padded row blocks `a` (m rows) and `b` (n rows), written to a JS array in
   * chunks of query rows so the staged output stays bounded.
   */
  product(
    a: number,
    m: number,
    b: number,
    n: number,
    stride: number,
    out: Float32Array,
    clamp: boolean,
    op: string,
  ): Float32Array {
    const rows = Math.max(1, Math.min(m, Math.floor(OUT_CHUNK / n)));
    const o = this.alloc(rows * n * 4, op);
    try {
      for (let i0 = 0; i0 < m; i0 += rows) {
        const r = Math.min(rows, m - i0);
        this.dots(a + i0 * stride * 4, r, b, n, stride, o, n, clamp);
        this.download(o, r * n, out, i0 * n);
      }
    } finally {
      this.free(o);
    }
    return out;
  }

  /**
   * Exact top-k of `q` normalised query rows against `n` normalised corpus rows: tiles of scores
   * computed in wasm and streamed into a running per-query selection, O(q k + tile) memory.
   */
  search(qp: number, q: number, cp: number, n: number, stride: number, k: number, op: string): TopKResult {
    const sel = new TopKSelector(q, k);
    const qt = Math.min(q, 256);
    const nt = Math.min(n, Math.max(64, Math.floor(SEARCH_TILE / qt)));
    const tile = this.alloc(qt * nt * 4, op);
    const rowBytes = stride * 4;
    try {
      for (let i0 = 0; i0 < q; i0 += qt) {
        const rq = Math.min(qt, q - i0);
        for (let j0 = 0; j0 < n; j0 += nt) {
          const w = Math.min(nt, n - j0);
          this.dots(qp + i0 * rowBytes, rq, cp + j0 * rowBytes, w, stride, tile, w, true);
          const f = this.f32;
          const base = tile >>> 2;
          for (let i = 0; i < rq; i++) sel.pushRow(i0 + i, f, base + i * w, j0, w);
        }
      }
    } finally {
      this.free(tile);
    }
    return sel.result();
  }

  /** Releases every resident handle and forgets all memory. */
  dispose(): void {
    if (this.#disposed) return;
    for (const r of [...this.#live]) r.release();
    this.#live.clear();
    this.heap.reset();
    this.#disposed = true;
  }
}
