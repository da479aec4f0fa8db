/**
 * Staging: rows copied from JS arrays into wasm memory in the dot-product engine's layout. The
 * layout (scripts/gen.mjs): rows cut into 4-float chunks and interleaved chunk by chunk within
 * panels of P rows. Corpus rows form panels of the tile's C rows (the last one padded with zero
 * rows); query rows form panels of R rows, and the rows left over below a multiple of R stay
 * single. Either way row i of a block starts at `i * rowBytes`.
 */
import { argError, type Matrix } from '@cosinekit/core/backend';
import type { WasmRuntime } from './runtime.js';

/** Raw rows copied into wasm at once while staging (bytes), so staging needs little extra memory. */
const STAGE_CHUNK = 512 * 1024;

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

/**
 * Rows of a matrix or of a {@link RowSource}, `count` from `start`: `SHAPE_MISMATCH` naming `arg`
 * of `op` where they are not `count` rows (a matrix holding fewer values than its shape claims,
 * handed to a kernel directly, below the kit's checks).
 */
export function readRows(
  x: Matrix | RowSource,
  start: number,
  count: number,
  op: string,
  arg: string,
): Float32Array {
  const r = 'data' in x ? x.data.subarray(start * x.cols, (start + count) * x.cols) : x.read(start, count);
  // Copied into a block sized for these rows: a longer view (a subclass whose subarray() ignores
  // its arguments) would overrun into whatever wasm memory follows.
  if (r.length !== count * x.cols)
    argError(
      'SHAPE_MISMATCH',
      op,
      arg,
      `gave rows ${start}..${start + count} as ${r.length} floats, not ${count * x.cols}: it holds fewer values than its shape [${x.rows}, ${x.cols}] claims.`,
    );
  return r;
}

/** Rows of `d` floats padded to a multiple of 4 for the SIMD loops. */
export function padded(d: number): number {
  return (d + 3) & ~3;
}

/** Where staged rows live (see the layout above). */
export interface Staged {
  /** Address of the block. */
  readonly ptr: number;
  /** Rows stored (without the padding rows). */
  readonly rows: number;
  /** Bytes per row of float32 values: `ceil(d / 4) * 16`. */
  readonly rowBytes: number;
  /**
   * Whether the block holds binary16 values (a float16 corpus) in the same layout, half the bytes:
   * row i then starts at `i * rowBytes / 2`.
   */
  readonly half?: boolean;
}

/** Bytes a corpus of `rows` rows of `d` floats takes in the engine's layout. */
export function corpusBytes(rt: WasmRuntime, rows: number, d: number): number {
  const c = rt.tileCols;
  return Math.ceil(rows / c) * c * padded(d) * 4;
}

/**
 * Corpus rows (`x`, argument `arg` of `op`, normalised when asked) in panels of C rows, in a new
 * block. Normalising refuses a row holding NaN or ±Infinity (see {@link stage}).
 */
export function stageCorpus(
  rt: WasmRuntime,
  x: Matrix | RowSource,
  normalize: boolean,
  op: string,
  arg = 'rows',
): Staged {
  return stage(rt, x, rt.tileCols, x.rows, corpusBytes(rt, x.rows, x.cols), normalize, op, arg);
}

/**
 * Query rows (`x`, normalised when asked) in panels of R rows, the rest single, in a new block.
 * `first`: where `x`'s first row lies in the caller's argument (for the row an error names).
 */
export function stageQueries(
  rt: WasmRuntime,
  x: Matrix,
  normalize: boolean,
  op: string,
  arg = 'queries',
  first = 0,
): Staged {
  const split = x.rows - (x.rows % rt.tileRows);
  return stage(rt, x, rt.tileRows, split, x.rows * padded(x.cols) * 4, normalize, op, arg, first);
}

/** Rows [start, start + count) of `x`, a view without a copy. */
export function rowsOf(x: Matrix, start: number, count: number): Matrix {
  return { data: x.data.subarray(start * x.cols, (start + count) * x.cols), rows: count, cols: x.cols };
}

/**
 * `rows` packed rows of `d` floats at `src` into panels of `P` at `dst` (the export `pack`),
 * normalised when asked; a row holding NaN or ±Infinity is refused with `NON_FINITE` naming `arg`
 * of `op` and its row, counted from `row0` (the first row's place in the whole input).
 */
export function packRows(
  rt: WasmRuntime,
  src: number,
  rows: number,
  d: number,
  dst: number,
  P: number,
  normalize: boolean,
  op: string,
  arg: string,
  row0: number,
): void {
  const bad = rt.exports.pack(src, rows, d, d, dst, P, normalize);
  if (bad >= 0) argError('NON_FINITE', op, arg, `holds NaN or ±Infinity in row ${row0 + bad}.`);
}

/**
 * Corpus rows (`x`, argument `arg` of `op`) normalised in float64 and rounded to binary16, in
 * panels of C rows (half the bytes of {@link stageCorpus}'s block), in a new block: the bits the
 * reference backend stores for the same rows. A row holding NaN or ±Infinity is refused with
 * `NON_FINITE` naming `arg` and the row.
 */
export function stageHalves(rt: WasmRuntime, x: Matrix | RowSource, op: string, arg = 'rows'): Staged {
  const d = x.cols;
  return halfPanels(rt, x.rows, d, 4, op, (tmp, i0, r, dst) => {
    rt.f32.set(readRows(x, i0, r, op, arg), tmp >>> 2);
    const bad = rt.exports.packHalves(tmp, r, d, dst, rt.tileCols);
    if (bad >= 0) argError('NON_FINITE', op, arg, `holds NaN or ±Infinity in row ${i0 + bad}.`);
  });
}

/** Stored binary16 rows (`rows` x `d`, as a saved corpus holds them) in panels of C rows, in a new block. */
export function uploadHalves(
  rt: WasmRuntime,
  bits: Uint16Array,
  rows: number,
  d: number,
  op: string,
): Staged {
  return halfPanels(rt, rows, d, 2, op, (tmp, i0, r, dst) => {
    new Uint16Array(rt.memory.buffer, tmp, r * d).set(bits.subarray(i0 * d, (i0 + r) * d));
    rt.exports.panelHalves(tmp, r, d, dst, rt.tileCols);
  });
}

/**
 * A new block of `rows` binary16 rows of `d` values in panels of C rows, filled a chunk of rows (a
 * multiple of C) at a time: `fill(tmp, i0, r, dst)` puts rows [i0, i0 + r) into the panels from
 * `dst`, through `tmp`, room for r rows of `valueBytes` a value. Freed if `fill` throws.
 */
function halfPanels(
  rt: WasmRuntime,
  rows: number,
  d: number,
  valueBytes: number,
  op: string,
  fill: (tmp: number, i0: number, r: number, dst: number) => void,
): Staged {
  const P = rt.tileCols;
  const rowBytes = padded(d) * 4;
  const dst = rt.alloc(corpusBytes(rt, rows, d) >>> 1, op);
  const chunkRows = Math.max(P, Math.floor(STAGE_CHUNK / (d * valueBytes) / P) * P);
  let tmp = -1;
  try {
    tmp = rt.alloc(Math.min(rows, chunkRows) * d * valueBytes, op);
    for (let i0 = 0; i0 < rows; i0 += chunkRows)
      fill(tmp, i0, Math.min(chunkRows, rows - i0), dst + i0 * (rowBytes >>> 1));
  } catch (err) {
    rt.free(dst);
    throw err;
  } finally {
    if (tmp >= 0) rt.free(tmp);
  }
  return { ptr: dst, rows, rowBytes, half: true };
}

/**
 * Rows [0, split) of `x` in panels of `P`, rows [split, rows) single, copied into wasm a chunk
 * at a time (a multiple of P rows) and packed from there. Normalising computes each row's norm in
 * float64 (exact for finite float32 rows of any magnitude) and refuses, with `NON_FINITE` naming
 * `arg` and the row, a row holding NaN or ±Infinity, which the kit's gate would have refused: the
 * kernels that stage this way take the caller's rows off the gate (`Backend.ungated`). `first`:
 * where `x`'s first row lies in the argument (added to the row an error names).
 */
function stage(
  rt: WasmRuntime,
  x: Matrix | RowSource,
  P: number,
  split: number,
  bytes: number,
  normalize: boolean,
  op: string,
  arg: string,
  first = 0,
): Staged {
  const { rows, cols: d } = x;
  const rowBytes = padded(d) * 4;
  const splitBytes = Math.ceil(split / P) * P * rowBytes;
  const dst = rt.alloc(bytes, op);
  const chunkRows = Math.max(P, Math.floor(STAGE_CHUNK / (d * 4) / P) * P);
  let tmp = -1;
  try {
    tmp = rt.alloc(Math.min(rows, chunkRows) * d * 4, op);
    for (let i0 = 0; i0 < rows; i0 += chunkRows) {
      const r = Math.min(chunkRows, rows - i0);
      rt.f32.set(readRows(x, i0, r, op, arg), tmp >>> 2);
      const inPanels = Math.max(0, Math.min(r, split - i0));
      if (inPanels > 0)
        packRows(rt, tmp, inPanels, d, dst + i0 * rowBytes, P, normalize, op, arg, first + i0);
      if (inPanels < r) {
        const single = i0 + inPanels;
        const at = dst + splitBytes + (single - split) * rowBytes;
        packRows(rt, tmp + inPanels * d * 4, r - inPanels, d, at, 1, normalize, op, arg, first + single);
      }
    }
  } catch (err) {
    rt.free(dst);
    throw err;
  } finally {
    if (tmp >= 0) rt.free(tmp);
  }
  return { ptr: dst, rows, rowBytes };
}

/**
 * The rows of `x`, or of its transpose, as corpus (panels of C) or query rows: the operands of a
 * matrix product `C_ij = row_i(A) . row_j(B)`.
 */
export function stageOperand(
  rt: WasmRuntime,
  x: Matrix,
  transpose: boolean,
  asCorpus: boolean,
  op: string,
): Staged {
  if (!transpose) return asCorpus ? stageCorpus(rt, x, false, op) : stageQueries(rt, x, false, op);
  const rows = x.cols;
  const cols = x.rows;
  const rowBytes = padded(cols) * 4;
  const P = asCorpus ? rt.tileCols : rt.tileRows;
  const split = asCorpus ? rows : rows - (rows % P);
  const bytes = asCorpus ? corpusBytes(rt, rows, cols) : rows * rowBytes;
  const dst = rt.alloc(bytes, op);
  let raw = -1;
  try {
    raw = rt.upload(x.data, op);
    rt.exports.packTransposed(raw, x.rows, x.cols, dst, P, split);
  } catch (err) {
    rt.free(dst);
    throw err;
  } finally {
    if (raw >= 0) rt.free(raw);
  }
  return { ptr: dst, rows, rowBytes };
}
