import {
  argError,
  type CorpusOptions,
  foreignCorpus,
  type Matrix,
  type ResidentCorpus,
  resolveCorpusOptions,
  type StoredCorpus,
  type TopKResult,
  valueText,
} from '@cosinekit/core/backend';
import { product, search } from '../engine.js';
import type { Resident, WasmRuntime } from '../runtime.js';
import type { RowSource, Staged } from '../staging.js';
import {
  corpusBytes,
  padded,
  rowsOf,
  stageCorpus,
  stageHalves,
  stageQueries,
  uploadHalves,
} from '../staging.js';
import { streams } from '../stream.js';
import {
  CrowdHistory,
  downloadQuantized,
  type Quantized,
  quantizedMatrix,
  quantizedSearch,
  quantizeRows,
  scansFloat,
  uploadQuantized,
} from './quantized.js';

/** How a wasm corpus stores its rows. */
export type WasmCorpusStorage = 'float32' | 'float16' | 'int8';

/**
 * A corpus resident in wasm memory. Rows are normalised once at upload and stored in the
 * dot-product engine's panel layout (see `Staged`), so searching reads them in place and never
 * copies them again. With `storage: 'int8'` the rows are also quantised (one scale per row) and
 * searched at a quarter of the bytes; `rerank > 0` keeps the float32 rows too, to re-rank the best
 * `rerank x k` candidates exactly. With `storage: 'float16'` they are rounded to binary16 in the
 * same layout (half the bytes, decoded a cache block at a time as they are searched); `rerank > 0`
 * keeps the float32 rows too, and search then scans those (the exact answer re-ranking promises).
 */
export class WasmCorpus implements ResidentCorpus, Resident {
  readonly backend = 'wasm';
  readonly storage: WasmCorpusStorage;
  readonly rows: number;
  readonly cols: number;
  /** For int8 and float16 storage: candidates per result re-ranked exactly (0: stored scores are returned). */
  readonly rerank: number;
  /** Bytes per float32 row in the engine's layout (`cols` rounded up to a multiple of 4 floats). */
  readonly rowBytes: number;
  readonly #rt: WasmRuntime;
  /** float32 rows in the engine's layout, or -1 when quantised storage keeps none. */
  readonly #float: number;
  readonly #int8: Quantized | undefined;
  /** binary16 rows in the engine's layout (float16 storage), or -1. */
  readonly #half: number;
  /** How crowded its re-ranked searches have been (int8 with float rows). @internal */
  readonly crowd = new CrowdHistory();
  #alive = true;

  /**
   * From rows (normalised and quantised here), or from a stored representation (`importCorpus`:
   * float rows already normalised, codes and scales as they were made).
   */
  constructor(
    rt: WasmRuntime,
    x: Matrix | RowSource,
    storage: WasmCorpusStorage,
    rerank: number,
    stored?: StoredCorpus,
    blocks?: { float: number; int8: Quantized | undefined; half: number },
  ) {
    this.rows = x.rows;
    this.cols = x.cols;
    this.storage = storage;
    this.rerank = storage === 'float32' ? 0 : rerank;
    this.#rt = rt;
    let float = -1;
    let half = -1;
    const op = stored ? 'importCorpus' : 'createCorpus';
    if (blocks) {
      // Made by `mergeCorpora`: blocks already in this corpus's layout, adopted as they are.
      this.#int8 = blocks.int8;
      float = blocks.float;
      half = blocks.half;
    } else if (storage === 'float16') {
      half = stored ? uploadHalves(rt, stored.half!, x.rows, x.cols, op).ptr : stageHalves(rt, x, op).ptr;
      if (this.rerank > 0) {
        try {
          float = stageCorpus(rt, x, !stored, op).ptr;
        } catch (err) {
          rt.free(half);
          throw err;
        }
      }
    } else if (storage === 'int8') {
      this.#int8 = stored
        ? uploadQuantized(rt, stored.codes!, stored.scales!, x.rows, x.cols, op)
        : quantizeRows(rt, x, op);
      if (this.rerank > 0) {
        try {
          float = stageCorpus(rt, x, !stored, op).ptr;
        } catch (err) {
          rt.free(this.#int8.ptr);
          rt.free(this.#int8.scales);
          throw err;
        }
      }
    } else {
      float = stageCorpus(rt, x, !stored, op).ptr;
    }
    this.#float = float;
    this.#half = half;
    this.rowBytes = Math.ceil(x.cols / 4) * 16;
    rt.track(this);
  }

  get disposed(): boolean {
    return !this.#alive;
  }

  /** Throws unless this corpus belongs to `rt` and is alive. @internal */
  check(rt: WasmRuntime, op: string): void {
    if (rt !== this.#rt) {
      foreignCorpus(op, 'wasm (another instance)', 'wasm');
    }
    if (!this.#alive) {
      argError('DISPOSED', op, 'corpus', 'was disposed.');
    }
  }

  /** The float32 rows as the engine reads them, or undefined when int8 storage keeps none. @internal */
  float(rt: WasmRuntime, op: string): Staged | undefined {
    this.check(rt, op);
    return this.#float < 0 ? undefined : { ptr: this.#float, rows: this.rows, rowBytes: this.rowBytes };
  }

  /** The binary16 rows as the engine reads them, for float16 storage. @internal */
  half(rt: WasmRuntime, op: string): Staged | undefined {
    this.check(rt, op);
    return this.#half < 0
      ? undefined
      : { ptr: this.#half, rows: this.rows, rowBytes: this.rowBytes, half: true };
  }

  /** The int8 rows, for int8 storage. @internal */
  int8(rt: WasmRuntime, op: string): Quantized | undefined {
    this.check(rt, op);
    return this.#int8;
  }

  dispose(): void {
    if (!this.#alive) return;
    this.#alive = false;
    this.#rt.untrack(this);
    if (this.#rt.disposed) return;
    if (this.#float >= 0) this.#rt.free(this.#float);
    if (this.#half >= 0) this.#rt.free(this.#half);
    if (this.#int8) {
      this.#rt.free(this.#int8.ptr);
      this.#rt.free(this.#int8.scales);
    }
  }

  /** Called when the backend is disposed: its memory is gone with it. */
  release(): void {
    this.#alive = false;
  }
}

/**
 * `createCorpus`: uploads and normalises the rows once. Storage `float32` (default, exact), `int8`
 * (re-ranked by default: `resolveCorpusOptions`; approximate scores with `rerank: 0`) or `float16`
 * (binary16 scores unless `rerank > 0` is asked for).
 */
export function createCorpus(rt: WasmRuntime, x: Matrix | RowSource, options?: CorpusOptions): WasmCorpus {
  const { storage, rerank } = resolveCorpusOptions(options);
  if (storage !== 'float32' && storage !== 'int8' && storage !== 'float16') {
    argError(
      'UNSUPPORTED',
      'createCorpus',
      'options.storage',
      `is '${storage}', but the wasm backend stores corpora as float32, float16 or int8.`,
    );
  }
  if (!(Number.isInteger(rerank) && rerank >= 0)) {
    argError(
      'INVALID_ARGUMENT',
      'createCorpus',
      'options.rerank',
      `must be a non-negative integer; got ${valueText(rerank)}.`,
    );
  }
  return new WasmCorpus(rt, x, storage, rerank);
}

/**
 * `importCorpus`: a corpus holding exactly `stored` (float32; int8 or float16, with or without float
 * rows).
 */
export function importCorpus(rt: WasmRuntime, stored: StoredCorpus): WasmCorpus {
  const { storage, rows, cols } = stored;
  if (storage !== 'float32' && storage !== 'int8' && storage !== 'float16') {
    argError(
      'UNSUPPORTED',
      'importCorpus',
      'stored',
      `has storage '${storage}', but the wasm backend stores corpora as float32, float16 or int8.`,
    );
  }
  const rerank = storage === 'float32' ? 0 : stored.rerank;
  const float = storage === 'float32' || rerank > 0;
  const n = rows * cols;
  if (
    (float && stored.exact?.length !== n) ||
    (storage === 'int8' && (stored.codes?.length !== n || stored.scales?.length !== rows)) ||
    (storage === 'float16' && stored.half?.length !== n)
  ) {
    argError(
      'INVALID_ARGUMENT',
      'importCorpus',
      'stored',
      `lacks the sections its storage '${storage}' needs.`,
    );
  }
  const x: Matrix = { data: float ? stored.exact! : new Float32Array(0), rows, cols };
  return new WasmCorpus(rt, x, storage, rerank, stored);
}

/**
 * `mergeCorpora`: the rows of `corpora` (all in `rt`) whose `drop` byte is 0, in order, copied
 * within wasm memory into one new corpus in the same layouts (float32 and binary16 panels, int8
 * codes and scales), so it searches bit for bit as the rows did. Corpora of different widths, storage or
 * `rerank` are `INVALID_ARGUMENT`; dropping every row is `EMPTY_INPUT`.
 */
export function mergeCorpora(
  rt: WasmRuntime,
  corpora: readonly ResidentCorpus[],
  drop: readonly Uint8Array[],
): WasmCorpus {
  const op = 'mergeCorpora';
  const parts = corpora.map((c) => own(rt, c, op));
  const first = parts[0];
  const d = first.cols;
  let rows = 0;
  let most = 0;
  for (let p = 0; p < parts.length; p++) {
    const c = parts[p];
    if (c.cols !== d || c.storage !== first.storage || c.rerank !== first.rerank)
      argError(
        'INVALID_ARGUMENT',
        op,
        `corpora[${p}]`,
        'differs from corpora[0] in width, storage or rerank.',
      );
    if (drop[p]?.length !== c.rows)
      argError(
        'SHAPE_MISMATCH',
        op,
        `drop[${p}]`,
        `must hold one byte per row of corpora[${p}] (${c.rows}).`,
      );
    for (let j = 0; j < c.rows; j++) if (drop[p][j] === 0) rows++;
    most = Math.max(most, c.rows);
  }
  if (rows === 0) argError('EMPTY_INPUT', op, 'drop', 'drops every row: at least one must be kept.');
  const P = rt.tileCols;
  const steps = Math.ceil(d / 4);
  const q0 = first.int8(rt, op);
  const made: number[] = [];
  const block = (bytes: number): number => {
    const ptr = rt.alloc(bytes, op);
    made.push(ptr);
    return ptr;
  };
  let idx = -1;
  try {
    const float = first.float(rt, op) ? block(corpusBytes(rt, rows, d)) : -1;
    const half = first.half(rt, op) ? block(corpusBytes(rt, rows, d) >>> 1) : -1;
    const int8 = q0
      ? { ptr: block(rows * q0.stride), scales: block(rows * 4), rows, cols: d, stride: q0.stride }
      : undefined;
    idx = rt.alloc(most * 4, op);
    let r = 0;
    for (let p = 0; p < parts.length; p++) {
      const c = parts[p];
      const m = drop[p];
      const list = rt.i32;
      let w = 0;
      for (let j = 0; j < c.rows; j++) if (m[j] === 0) list[(idx >>> 2) + w++] = j;
      if (w === 0) continue;
      const f = c.float(rt, op);
      if (f && float >= 0) rt.exports.gatherRows(f.ptr, P, steps, idx, w, float, r);
      const h = c.half(rt, op);
      if (h && half >= 0) rt.exports.gatherHalves(h.ptr, P, steps, idx, w, half, r);
      const q = c.int8(rt, op);
      if (q && int8)
        rt.exports.gatherI8(q.ptr, q.stride, q.scales, idx, w, int8.ptr + r * q.stride, int8.scales + 4 * r);
      r += w;
    }
    return new WasmCorpus(
      rt,
      { data: new Float32Array(0), rows, cols: d },
      first.storage,
      first.rerank,
      undefined,
      { float, int8, half },
    );
  } catch (err) {
    for (const ptr of made) rt.free(ptr);
    throw err;
  } finally {
    if (idx >= 0) rt.free(idx);
  }
}

/** `exportCorpus`: the stored representation, copied out: float rows as searched, codes and scales or binary16 bits as made. */
export function exportCorpus(rt: WasmRuntime, corpus: ResidentCorpus): StoredCorpus {
  const c = own(rt, corpus, 'exportCorpus');
  const q = c.int8(rt, 'exportCorpus');
  const i8 = q ? downloadQuantized(rt, q) : null;
  return {
    rows: c.rows,
    cols: c.cols,
    storage: c.storage,
    rerank: c.rerank,
    exact: c.float(rt, 'exportCorpus') ? readCorpus(rt, c) : null,
    half: c.storage === 'float16' ? halfBits(rt, c) : null,
    codes: i8?.codes ?? null,
    scales: i8?.scales ?? null,
  };
}

/** `readCorpus`: the resident rows as stored (normalised; decoded for int8 and float16 without float rows). */
export function readCorpus(rt: WasmRuntime, corpus: ResidentCorpus): Float32Array {
  const c = own(rt, corpus, 'readCorpus');
  const float = c.float(rt, 'readCorpus');
  const q = c.int8(rt, 'readCorpus');
  const h = c.half(rt, 'readCorpus');
  const d = c.cols;
  const P = rt.tileCols;
  // Whole panels of rows at a time through a small staging block, each copied out as it is made:
  // one staging area of the whole corpus grew wasm memory by its size (a 2 GiB corpus could not be
  // saved) and made a save's copy out of wasm twice as long (new pages touched twice).
  const step = Math.min(c.rows, Math.max(P, Math.floor(READ_BLOCK_BYTES / (4 * d * P)) * P));
  const out = new Float32Array(c.rows * d);
  const rows = rt.alloc(step * d * 4, 'readCorpus');
  const panelBytes = Math.ceil(d / 4) * 16 * P;
  // binary16 rows are decoded a block of panels at a time, then unpacked as float32 panels are.
  let decoded = -1;
  try {
    if (!float && h) decoded = rt.alloc(Math.ceil(step / P) * panelBytes, 'readCorpus');
    for (let r0 = 0; r0 < c.rows; r0 += step) {
      const n = Math.min(step, c.rows - r0);
      if (float) rt.exports.unpack(float.ptr + (r0 / P) * panelBytes, n, d, P, rows);
      else if (h) {
        rt.exports.decodeHalves(
          h.ptr + (r0 / P) * (panelBytes >>> 1),
          Math.ceil(n / P) * (panelBytes >>> 2),
          decoded,
        );
        rt.exports.unpack(decoded, n, d, P, rows);
      } else if (q) rt.exports.dequantizeRows(q.ptr + r0 * q.stride, n, d, q.stride, q.scales + 4 * r0, rows);
      rt.download(rows, n * d, out, r0 * d);
    }
    return out;
  } finally {
    rt.free(rows);
    if (decoded >= 0) rt.free(decoded);
  }
}

/** The binary16 bits of a float16 corpus, packed row after row as `StoredCorpus.half` holds them. */
function halfBits(rt: WasmRuntime, c: WasmCorpus): Uint16Array {
  const h = c.half(rt, 'exportCorpus')!;
  const d = c.cols;
  const P = rt.tileCols;
  const step = Math.min(c.rows, Math.max(P, Math.floor(READ_BLOCK_BYTES / (2 * d * P)) * P));
  const out = new Uint16Array(c.rows * d);
  const rows = rt.alloc(step * d * 2, 'exportCorpus');
  try {
    const panelBytes = (h.rowBytes >>> 1) * P;
    for (let r0 = 0; r0 < c.rows; r0 += step) {
      const n = Math.min(step, c.rows - r0);
      rt.exports.unpanelHalves(h.ptr + (r0 / P) * panelBytes, n, d, P, rows);
      out.set(new Uint16Array(rt.memory.buffer, rows, n * d), r0 * d);
    }
    return out;
  } finally {
    rt.free(rows);
  }
}

/** Bytes of rows {@link readCorpus} unpacks at a time: a few MiB, so the block stays in cache. */
const READ_BLOCK_BYTES = 2 ** 21;

function own(rt: WasmRuntime, corpus: ResidentCorpus, op: string): WasmCorpus {
  if (!(corpus instanceof WasmCorpus)) {
    foreignCorpus(op, corpus.backend, 'wasm');
  }
  corpus.check(rt, op);
  return corpus;
}

/** `corpusSearch`: top-k against the resident rows; only the queries are copied in. */
export function corpusSearch(
  rt: WasmRuntime,
  corpus: ResidentCorpus,
  queries: Matrix,
  k: number,
): TopKResult {
  const c = own(rt, corpus, 'corpusSearch');
  const q8 = c.int8(rt, 'corpusSearch');
  const float = c.float(rt, 'corpusSearch');
  // float16: the binary16 rows, or with re-ranking the float32 rows (the exact answer).
  const h = c.half(rt, 'corpusSearch');
  if (h && !(float && c.rerank > 0)) return floatSearch(rt, queries, h, k);
  // Where re-scoring the pool would cost more than it saves: the float32 rows scanned (scansFloat).
  if (
    q8 &&
    !(float && c.rerank > 0 && floatFirst(rt, c, Math.min(c.rows, c.rerank * k), c.rows, queries.rows))
  )
    return quantizedSearch(
      rt,
      q8,
      float,
      c.rerank,
      queries,
      k,
      (qs) => floatSearch(rt, qs, float!, k),
      c.crowd,
    );
  return floatSearch(rt, queries, float!, k);
}

/**
 * Whether a re-ranking int8 search of `c` re-scoring `pool` candidates a query among `n` rows
 * should scan the float32 rows directly: by the cost model (scansFloat), or where its searches
 * have been crowded lately (CrowdHistory). @internal
 */
export function floatFirst(
  rt: WasmRuntime,
  c: WasmCorpus,
  pool: number,
  n: number,
  queries: number,
): boolean {
  return scansFloat(rt, pool, n, c.cols, queries) || (rt.tuning.rescoreWeight !== 0 && c.crowd.skip());
}

/** Top-k of `queries` against staged rows `float` (float32, or binary16 decoded as searched). */
function floatSearch(rt: WasmRuntime, queries: Matrix, float: Staged, k: number): TopKResult {
  return search(rt, queries, float, k, 'corpusSearch');
}

/**
 * `corpusMatrix`: cosines of the queries against the resident rows, `queries.rows x corpus.rows`;
 * exact from float32 rows, approximate for an int8 or float16 corpus that keeps none.
 */
export function corpusMatrix(
  rt: WasmRuntime,
  corpus: ResidentCorpus,
  queries: Matrix,
  out?: Float32Array,
): Float32Array {
  const c = own(rt, corpus, 'corpusMatrix');
  const rows = c.float(rt, 'corpusMatrix') ?? c.half(rt, 'corpusMatrix');
  if (!rows) return quantizedMatrix(rt, c.int8(rt, 'corpusMatrix')!, queries, out);
  if (streams(rt, rows.rows) && !streams(rt, queries.rows)) return productByChunks(rt, queries, rows, out);
  const sq = stageQueries(rt, queries, true, 'corpusMatrix');
  try {
    return product(rt, sq, rows, out, true, 'corpusMatrix');
  } finally {
    rt.free(sq.ptr);
  }
}

/** Bytes of queries staged at a time by {@link productByChunks}: with the rows, within L2. */
const QUERY_CHUNK_BYTES = 256 * 1024;

/**
 * `corpusMatrix` of many queries against a few resident rows, the queries staged a chunk at a
 * time, each multiplied while still in cache and written straight into its rows of the result.
 * Staging them all first wrote every query to memory and read it back for a few dot products each
 * (20,000 queries against 8 rows: more than the products cost). Each cosine is computed by the
 * same code from the same rows: the same bits.
 */
function productByChunks(rt: WasmRuntime, queries: Matrix, rows: Staged, out?: Float32Array): Float32Array {
  const m = queries.rows;
  const n = rows.rows;
  const R = rt.tileRows;
  const o = out ?? new Float32Array(m * n);
  const step = Math.max(R, Math.floor(QUERY_CHUNK_BYTES / (padded(queries.cols) * 4) / R) * R);
  for (let i0 = 0; i0 < m; i0 += step) {
    const r = Math.min(step, m - i0);
    const sq = stageQueries(rt, rowsOf(queries, i0, r), true, 'corpusMatrix', 'queries', i0);
    try {
      product(rt, sq, rows, o.subarray(i0 * n, (i0 + r) * n), true, 'corpusMatrix');
    } finally {
      rt.free(sq.ptr);
    }
  }
  return o;
}
