import { CosineKitError, type Matrix, type TopKResult, TopKSelector } from '@cosinekit/core/backend';
import { Heap } from './heap.js';
import type { WasmVariant } from './loader.js';
import type { HelperPool } from './threads.js';

/** The functions the AssemblyScript module exports (see assembly/index.ts); addresses are bytes. */
export interface WasmExports {
  /** Exported by the single-thread builds; the threads builds import a shared memory instead. */
  readonly memory?: WebAssembly.Memory;
  heapBase(): number;
  relaxed(): number;
  rowNorms(x: number, rows: number, d: number, out: number): void;
  normalizeRows(src: number, rows: number, d: number, dst: number, stride: number): void;
  cosineRows(a: number, b: number, rows: number, d: number, out: number): void;
  vectorPrepare(v: number, d: number): void;
  vectorCosine(a: number, b: number, d: number): number;
  pack(
    src: number,
    rows: number,
    d: number,
    srcStride: number,
    dst: number,
    P: number,
    normalize: number,
  ): void;
  unpack(src: number, rows: number, d: number, P: number, dst: number): void;
  quantizeRows(src: number, rows: number, d: number, dst: number, stride: number, scales: number): void;
  dotsI8(q: number, qscale: number, c: number, n: number, stride: number, scales: number, out: number): void;
  dotsI8Batch(
    q: number,
    nq: number,
    qscales: number,
    c: number,
    n: number,
    stride: number,
    scales: number,
    out: number,
    ldo: number,
  ): void;
  dequantizeRows(src: number, rows: number, d: number, stride: number, scales: number, out: number): void;
  rowDots(q: number, c: number, P: number, steps: number, idx: number, count: number, out: number): void;
  packTransposed(src: number, rows: number, cols: number, dst: number, P: number, split: number): void;
  addBias(x: number, rows: number, cols: number, bias: number, out: number): void;
  activation(kind: number, x: number, n: number, out: number): void;
  activationGrad(kind: number, x: number, dy: number, n: number, out: number): void;
  dotsWith(
    config: number,
    a: number,
    m: number,
    b: number,
    n: number,
    steps: number,
    out: number,
    ldo: number,
    clamp: number,
    panelsPerBlock: number,
  ): void;
}

/**
 * The register tiles of the dot-product engine, by driver index (the order of CONFIGS in
 * scripts/gen.mjs): query rows x corpus rows per micro-kernel call.
 */
export const TILES = ['4x2', '3x3', '2x4', '2x3', '2x2'] as const;

/** A register tile of the dot-product engine: query rows x corpus rows per micro-kernel call. */
export type Tile = (typeof TILES)[number];

/** Tuning of the dot-product engine. */
export interface EngineTuning {
  /** Main register tile. */
  tile: Tile;
  /** Bytes of corpus rows kept in cache while every query panel passes over them. */
  blockBytes: number;
  /**
   * Smallest float product (flops: 2 x rows x cols x d) shared with helper threads; smaller calls
   * run on the calling thread alone, where waking a helper would cost more than it saves.
   */
  threadMinFlops: number;
  /** The same for int8 scans (2 x rows x d). */
  threadMinFlopsI8: number;
}

/**
 * Default {@link EngineTuning.threadMinFlops}. scripts/crossover.mjs put the break-even of two
 * threads near 0.8 MFLOP (1 x 1024 x 384: 37 us alone, 35 us shared; 1 x 2048: 111 against 75);
 * the threshold sits at about 2.5 times that, so slower wake-ups on a busy machine do not turn
 * sharing into a loss.
 */
const THREAD_MIN_FLOPS = 2 * 1024 * 1024;
/**
 * Default {@link EngineTuning.threadMinFlopsI8}: break-even near 1.6 M operations (1 x 2048 x 384:
 * 61 us alone, 45 us shared; 1 x 1024: 31 against 33), threshold 2.5 times that.
 */
const THREAD_MIN_FLOPS_I8 = 4 * 1024 * 1024;

/**
 * Default tiles. Plain SIMD: 4x2 is 8 accumulators + 6 loads + 1 temporary for the separate
 * multiply = 15 registers. Relaxed: 3x3 is 9 accumulators + 6 loads, enough independent chains to
 * cover the fused multiply-add's latency on two ports.
 */
export const DEFAULT_TUNING: Record<WasmVariant, EngineTuning> = {
  simd: {
    tile: '4x2',
    blockBytes: 96 * 1024,
    threadMinFlops: THREAD_MIN_FLOPS,
    threadMinFlopsI8: THREAD_MIN_FLOPS_I8,
  },
  relaxed: {
    tile: '3x3',
    blockBytes: 96 * 1024,
    threadMinFlops: THREAD_MIN_FLOPS,
    threadMinFlopsI8: THREAD_MIN_FLOPS_I8,
  },
};

/** Largest output staged in wasm memory at once by a matrix product (floats): 16 MiB. */
const OUT_CHUNK = 4 * 1024 * 1024;
/** Scores per search tile (floats): 256 KiB, so a tile stays in L2 while it is selected from. */
const SEARCH_TILE = 64 * 1024;
/** Raw rows copied into wasm at once while staging (bytes), so staging needs little extra memory. */
const STAGE_CHUNK = 4 * 1024 * 1024;

/**
 * Rows produced a chunk at a time, so a corpus larger than any one host array can be built: `read`
 * returns rows [start, start + count) as `count x cols` floats. It may be called more than once
 * for the same rows (an int8 corpus with re-ranking reads them twice) and must return the same.
 */
export interface RowSource {
  readonly rows: number;
  readonly cols: number;
  read(start: number, count: number): Float32Array;
}

/** Rows of a matrix or of a {@link RowSource}, `count` from `start`. */
export function readRows(x: Matrix | RowSource, start: number, count: number): Float32Array {
  return 'data' in x ? x.data.subarray(start * x.cols, (start + count) * x.cols) : x.read(start, count);
}

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
 * Where staged rows live. The engine's layout (scripts/gen.mjs): rows cut into 4-float chunks and
 * interleaved chunk by chunk within panels of P rows. Corpus rows form panels of the tile's C rows
 * (the last one padded with zero rows); query rows form panels of R rows, and the rows left over
 * below a multiple of R stay single. Either way row i of a block starts at `i * rowBytes`.
 */
export interface Staged {
  /** Address of the block. */
  readonly ptr: number;
  /** Rows stored (without the padding rows). */
  readonly rows: number;
  /** Bytes per row: `ceil(d / 4) * 16`. */
  readonly rowBytes: number;
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
  /** Query rows per panel. */
  readonly tileRows: number;
  /** Corpus rows per panel. */
  readonly tileCols: number;
  readonly #live = new Set<Resident>();
  readonly memory: WebAssembly.Memory;
  /** Helper threads sharing the work of the dot-product engine, when `threads > 1` could start. */
  pool: HelperPool | undefined;
  #buffer: ArrayBuffer | SharedArrayBuffer;
  #f32: Float32Array;
  #disposed = false;

  constructor(
    instance: WebAssembly.Instance,
    variant: WasmVariant,
    tuning: EngineTuning,
    memory?: WebAssembly.Memory,
  ) {
    this.exports = instance.exports as unknown as WasmExports;
    this.memory = memory ?? this.exports.memory!;
    this.variant = variant;
    this.tuning = tuning;
    this.#config = TILES.indexOf(tuning.tile);
    if (this.#config < 0) {
      throw new CosineKitError(
        'INVALID_ARGUMENT',
        `Unknown tile '${tuning.tile}'; expected one of ${TILES.join(', ')}.`,
        {
          op: 'createWasmBackend',
          arg: 'tuning',
        },
      );
    }
    if (!(Number.isFinite(tuning.blockBytes) && tuning.blockBytes > 0)) {
      throw new CosineKitError(
        'INVALID_ARGUMENT',
        `Argument 'tuning.blockBytes' passed to 'createWasmBackend' must be a positive number; got ${tuning.blockBytes}.`,
        { op: 'createWasmBackend', arg: 'tuning' },
      );
    }
    for (const key of ['threadMinFlops', 'threadMinFlopsI8'] as const) {
      if (!(tuning[key] >= 0)) {
        throw new CosineKitError(
          'INVALID_ARGUMENT',
          `Argument 'tuning.${key}' passed to 'createWasmBackend' must be a non-negative number; got ${tuning[key]}.`,
          { op: 'createWasmBackend', arg: 'tuning' },
        );
      }
    }
    [this.tileRows, this.tileCols] = tuning.tile.split('x').map(Number);
    this.heap = new Heap(this.memory, this.exports.heapBase());
    this.#buffer = this.memory.buffer;
    this.#f32 = new Float32Array(this.#buffer);
  }

  /** A float view of the whole memory, re-created after the memory grew. Re-read it after `alloc`. */
  get f32(): Float32Array {
    const buf = this.memory.buffer;
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

  /** Bytes a corpus of `rows` rows of `d` floats takes in the engine's layout. */
  corpusBytes(rows: number, d: number): number {
    const c = this.tileCols;
    return Math.ceil(rows / c) * c * padded(d) * 4;
  }

  /** Corpus rows (`x`, normalised when asked) in panels of C rows, in a new block. */
  stageCorpus(x: Matrix | RowSource, normalize: boolean, op: string): Staged {
    return this.#stage(x, this.tileCols, x.rows, this.corpusBytes(x.rows, x.cols), normalize, op);
  }

  /** Query rows (`x`, normalised when asked) in panels of R rows, the rest single, in a new block. */
  stageQueries(x: Matrix, normalize: boolean, op: string): Staged {
    const split = x.rows - (x.rows % this.tileRows);
    return this.#stage(x, this.tileRows, split, x.rows * padded(x.cols) * 4, normalize, op);
  }

  /**
   * Rows [0, split) of `x` in panels of `P`, rows [split, rows) single, copied into wasm a chunk
   * at a time (a multiple of P rows) and packed from there.
   */
  #stage(
    x: Matrix | RowSource,
    P: number,
    split: number,
    bytes: number,
    normalize: boolean,
    op: string,
  ): Staged {
    const { rows, cols: d } = x;
    const rowBytes = padded(d) * 4;
    const splitBytes = Math.ceil(split / P) * P * rowBytes;
    const dst = this.alloc(bytes, op);
    const chunkRows = Math.max(P, Math.floor(STAGE_CHUNK / (d * 4) / P) * P);
    let tmp = -1;
    try {
      tmp = this.alloc(Math.min(rows, chunkRows) * d * 4, op);
      const norm = normalize ? 1 : 0;
      for (let i0 = 0; i0 < rows; i0 += chunkRows) {
        const r = Math.min(chunkRows, rows - i0);
        this.f32.set(readRows(x, i0, r), tmp >>> 2);
        const inPanels = Math.max(0, Math.min(r, split - i0));
        if (inPanels > 0) this.exports.pack(tmp, inPanels, d, d, dst + i0 * rowBytes, P, norm);
        if (inPanels < r) {
          const first = i0 + inPanels;
          this.exports.pack(
            tmp + inPanels * d * 4,
            r - inPanels,
            d,
            d,
            dst + splitBytes + (first - split) * rowBytes,
            1,
            norm,
          );
        }
      }
    } catch (err) {
      this.free(dst);
      throw err;
    } finally {
      if (tmp >= 0) this.free(tmp);
    }
    return { ptr: dst, rows, rowBytes };
  }

  /**
   * The rows of `x`, or of its transpose, as corpus (panels of C) or query rows: the operands of a
   * matrix product `C_ij = row_i(A) . row_j(B)`.
   */
  stageOperand(x: Matrix, transpose: boolean, asCorpus: boolean, op: string): Staged {
    if (!transpose) return asCorpus ? this.stageCorpus(x, false, op) : this.stageQueries(x, false, op);
    const t = { data: new Float32Array(0), rows: x.cols, cols: x.rows };
    const rowBytes = padded(t.cols) * 4;
    const P = asCorpus ? this.tileCols : this.tileRows;
    const split = asCorpus ? t.rows : t.rows - (t.rows % P);
    const bytes = asCorpus ? this.corpusBytes(t.rows, t.cols) : t.rows * rowBytes;
    const dst = this.alloc(bytes, op);
    let raw = -1;
    try {
      raw = this.upload(x.data, op);
      this.exports.packTransposed(raw, x.rows, x.cols, dst, P, split);
    } catch (err) {
      this.free(dst);
      throw err;
    } finally {
      if (raw >= 0) this.free(raw);
    }
    return { ptr: dst, rows: t.rows, rowBytes };
  }

  /**
   * `out[i * ldo + j] = A_i . B_j` for staged queries `a` and corpus `b`, clamped when asked. With
   * helper threads, a large call is cut into shares of whole corpus panels, one per thread.
   */
  dots(
    a: number,
    m: number,
    b: number,
    n: number,
    rowBytes: number,
    out: number,
    ldo: number,
    clamp: boolean,
  ): void {
    const C = this.tileCols;
    const panelBytes = rowBytes * C;
    const nbp = Math.max(1, Math.floor(this.tuning.blockBytes / panelBytes));
    const steps = rowBytes >>> 4;
    const cl = clamp ? 1 : 0;
    const pool = this.pool;
    const np = Math.ceil(n / C);
    // 8 flops per step: 4 lanes of multiply and add.
    if (pool === undefined || pool.size === 0 || m * n * steps * 8 < this.tuning.threadMinFlops || np < 2) {
      this.exports.dotsWith(this.#config, a, m, b, n, steps, out, ldo * 4, cl, nbp);
      return;
    }
    // Shares of whole corpus panels: each output is computed by the same micro-kernel call, in the
    // same order, whichever thread runs it, so the results are bit for bit those of one thread.
    const helpers = pool.live.slice(0, np - 1);
    const per = Math.ceil(np / (helpers.length + 1)) * C;
    const posted: number[] = [];
    for (let t = 1; t <= helpers.length && t * per < n; t++) {
      const j0 = t * per;
      const w = Math.min(n, j0 + per) - j0;
      const h = helpers[t - 1];
      pool.dots(h, [this.#config, a, m, b + j0 * rowBytes, w, steps, out + j0 * 4, ldo * 4, cl, nbp]);
      posted.push(h);
    }
    this.#share(posted, () =>
      this.exports.dotsWith(this.#config, a, m, b, Math.min(n, per), steps, out, ldo * 4, cl, nbp),
    );
  }

  /** Runs the caller's share, then waits for every posted helper (all of them, even after a failure). */
  #share(posted: number[], own: () => void): void {
    const pool = this.pool!;
    let failure: unknown;
    try {
      own();
    } catch (err) {
      failure = err;
    }
    for (const h of posted) {
      try {
        pool.wait(h);
      } catch (err) {
        failure ??= err;
      }
    }
    if (failure !== undefined) throw failure;
  }

  /**
   * Approximate cosines of one int8 query against `n` int8 rows (see assembly/quantized.ts), shared
   * with the helper threads like {@link dots} when the call is large.
   */
  dotsI8(q: number, qscale: number, c: number, n: number, stride: number, scales: number, out: number): void {
    const pool = this.pool;
    // 2 "flops" (an integer multiply and add) per byte of corpus.
    if (pool === undefined || pool.size === 0 || n * stride * 2 < this.tuning.threadMinFlopsI8 || n < 8) {
      this.exports.dotsI8(q, qscale, c, n, stride, scales, out);
      return;
    }
    const helpers = pool.live.slice(0, Math.floor(n / 4) - 1);
    const per = Math.ceil(n / (helpers.length + 1) / 4) * 4;
    const posted: number[] = [];
    for (let t = 1; t <= helpers.length && t * per < n; t++) {
      const j0 = t * per;
      const w = Math.min(n, j0 + per) - j0;
      const h = helpers[t - 1];
      pool.dotsI8(h, q, qscale, c + j0 * stride, w, stride, scales + j0 * 4, out + j0 * 4);
      posted.push(h);
    }
    this.#share(posted, () => this.exports.dotsI8(q, qscale, c, Math.min(n, per), stride, scales, out));
  }

  /**
   * {@link dotsI8} for `nq` queries against the same rows (`out[i * ldo + j]`), shared with the
   * helpers by groups of 4 rows.
   */
  dotsI8Batch(
    q: number,
    nq: number,
    qscales: number,
    c: number,
    n: number,
    stride: number,
    scales: number,
    out: number,
    ldo: number,
  ): void {
    const pool = this.pool;
    if (
      pool === undefined ||
      pool.size === 0 ||
      nq * n * stride * 2 < this.tuning.threadMinFlopsI8 ||
      n < 8
    ) {
      this.exports.dotsI8Batch(q, nq, qscales, c, n, stride, scales, out, ldo);
      return;
    }
    const helpers = pool.live.slice(0, Math.floor(n / 4) - 1);
    const per = Math.ceil(n / (helpers.length + 1) / 4) * 4;
    const posted: number[] = [];
    for (let t = 1; t <= helpers.length && t * per < n; t++) {
      const j0 = t * per;
      const w = Math.min(n, j0 + per) - j0;
      const h = helpers[t - 1];
      pool.dotsI8Batch(h, [q, nq, qscales, c + j0 * stride, w, stride, scales + j0 * 4, out + j0 * 4, ldo]);
      posted.push(h);
    }
    this.#share(posted, () =>
      this.exports.dotsI8Batch(q, nq, qscales, c, Math.min(n, per), stride, scales, out, ldo),
    );
  }

  /**
   * `out = A B^T` for staged queries `a` and corpus `b`, written to a JS array in chunks of query
   * rows so the output staged in wasm stays bounded.
   */
  product(a: Staged, b: Staged, out: Float32Array, clamp: boolean, op: string): Float32Array {
    const m = a.rows;
    const n = b.rows;
    const R = this.tileRows;
    const rows = Math.min(m, Math.max(R, Math.floor(OUT_CHUNK / n / R) * R));
    const o = this.alloc(rows * n * 4, op);
    try {
      for (let i0 = 0; i0 < m; i0 += rows) {
        const r = Math.min(rows, m - i0);
        this.dots(a.ptr + i0 * a.rowBytes, r, b.ptr, n, a.rowBytes, o, n, clamp);
        this.download(o, r * n, out, i0 * n);
      }
    } finally {
      this.free(o);
    }
    return out;
  }

  /**
   * Exact top-k of staged normalised queries against a staged normalised corpus: tiles of scores
   * computed in wasm and streamed into a running per-query selection, O(q k + tile) memory.
   */
  search(q: Staged, c: Staged, k: number, op: string): TopKResult {
    const sel = new TopKSelector(q.rows, k);
    const R = this.tileRows;
    const C = this.tileCols;
    // Query chunks of whole panels, corpus tiles of whole panels.
    const qt = Math.min(q.rows, Math.floor(256 / R) * R);
    const nt = Math.min(c.rows, Math.max(C, Math.floor(Math.max(64, SEARCH_TILE / qt) / C) * C));
    const tile = this.alloc(qt * nt * 4, op);
    try {
      for (let i0 = 0; i0 < q.rows; i0 += qt) {
        const rq = Math.min(qt, q.rows - i0);
        for (let j0 = 0; j0 < c.rows; j0 += nt) {
          const w = Math.min(nt, c.rows - j0);
          this.dots(q.ptr + i0 * q.rowBytes, rq, c.ptr + j0 * c.rowBytes, w, q.rowBytes, tile, w, true);
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
