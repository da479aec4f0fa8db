/**
 * The contract's kernels on one engine. Every kernel splits its work so that no binding exceeds
 * `maxStorageBufferBindingSize` and no dispatch exceeds `maxComputeWorkgroupsPerDimension`, records
 * its passes into one command encoder per chunk, and reads back asynchronously.
 */
import type { Activation, Matrix } from '@cosinekit/core/backend';
import { beyondLimits, type Engine, type Lease, LOOP_LIMIT } from './engine.js';
import {
  BLOCK,
  clearSelectShader,
  cosineRowsShader,
  elementShader,
  gemmShader,
  gemmTile,
  gemmVectorizable,
  laneRows,
  mergeSelectShader,
  ROW_WG,
  type RowFormat,
  rowGroups,
  rowShader,
  SKINNY_QUERIES,
  segmentSelectShader,
  skinnyShader,
} from './wgsl.js';

/** Rows of `cols` floats per chunk so that a chunk fits one binding. */
export function rowsPerBinding(engine: Engine, cols: number, factor = 1): number {
  const max = Math.floor(engine.limits.maxStorageBufferBindingSize / (4 * cols * factor));
  if (max < 1) {
    beyondLimits(
      `a row of ${cols} floats does not fit the storage binding limit (${engine.limits.maxStorageBufferBindingSize} bytes)`,
    );
  }
  return max;
}

function result(len: number, out?: Float32Array): Float32Array {
  return out ?? new Float32Array(len);
}

/**
 * Loop iterations of one invocation of the row kernels on rows of `cols` floats: `normalize` passes
 * over its share of the row three times (its largest magnitude, the sum of squares, the write) with
 * two trees; `cosine` (cosineRows) and `norms` once, with one tree.
 */
export function rowLoops(mode: 'norms' | 'normalize' | 'cosine', cols: number): number {
  // One row an invocation (short rows): the passes walk the whole row, with no trees.
  if (laneRows(cols)) return (mode === 'normalize' ? 3 : 1) * cols + 4;
  return mode === 'normalize' ? 3 * (Math.ceil(cols / ROW_WG) + 1) + 16 : Math.ceil(cols / ROW_WG) + 1 + 8;
}

/** The row kernel for rows of `cols` floats: one row a workgroup, or one an invocation ({@link laneRows}). */
export function rowPipeline(engine: Engine, mode: 'norms' | 'normalize', cols: number) {
  const lanes = laneRows(cols);
  return engine.pipeline(`row:${mode}${lanes ? ':lanes' : ''}`, () => rowShader(mode, lanes));
}

/** Records rowNorms/normalize of `rows` rows held in `src` into `dst`. */
function encodeRows(
  engine: Engine,
  enc: GPUCommandEncoder,
  mode: 'norms' | 'normalize',
  src: Lease,
  dst: Lease,
  rows: number,
  cols: number,
  keep: Lease[],
): void {
  engine.loops(
    mode === 'norms' ? 'rowNorms' : 'normalizeRows',
    'x',
    rowLoops(mode, cols),
    `rows of ${cols} floats`,
  );
  const [nx, ny] = engine.grid(rowGroups(rows, cols));
  const p = engine.params([rows, cols, nx, 0]);
  keep.push(p);
  engine.dispatch(enc, rowPipeline(engine, mode, cols), [src, dst, p], nx, ny);
}

async function byRowChunks(
  engine: Engine,
  x: Matrix,
  outCols: number,
  out: Float32Array,
  encode: (enc: GPUCommandEncoder, src: Lease, dst: Lease, rows: number, keep: Lease[]) => void,
): Promise<Float32Array> {
  const per = Math.min(rowsPerBinding(engine, Math.max(x.cols, outCols)), engine.maxGroups);
  for (let r0 = 0; r0 < x.rows; r0 += per) {
    const rows = Math.min(per, x.rows - r0);
    const keep: Lease[] = [];
    try {
      const src = engine.upload(x.data.subarray(r0 * x.cols, (r0 + rows) * x.cols));
      keep.push(src);
      const dst = engine.lease(rows * outCols * 4);
      keep.push(dst);
      const enc = engine.device.createCommandEncoder();
      encode(enc, src, dst, rows, keep);
      const [buf] = await engine.submitAndRead(enc, [{ buffer: dst.buffer, bytes: rows * outCols * 4 }]);
      out.set(new Float32Array(buf), r0 * outCols);
    } finally {
      for (const l of keep) engine.release(l);
    }
  }
  return out;
}

export function rowNorms(engine: Engine, x: Matrix, out?: Float32Array): Promise<Float32Array> {
  return byRowChunks(engine, x, 1, result(x.rows, out), (enc, src, dst, rows, keep) =>
    encodeRows(engine, enc, 'norms', src, dst, rows, x.cols, keep),
  );
}

export function normalizeRows(engine: Engine, x: Matrix, out?: Float32Array): Promise<Float32Array> {
  return byRowChunks(engine, x, x.cols, result(x.data.length, out), (enc, src, dst, rows, keep) =>
    encodeRows(engine, enc, 'normalize', src, dst, rows, x.cols, keep),
  );
}

export async function cosineRows(
  engine: Engine,
  a: Matrix,
  b: Matrix,
  out?: Float32Array,
): Promise<Float32Array> {
  const res = result(a.rows, out);
  const per = Math.min(rowsPerBinding(engine, a.cols), engine.maxGroups);
  engine.loops('cosineRows', 'a', rowLoops('cosine', a.cols), `rows of ${a.cols} floats`);
  const lanes = laneRows(a.cols);
  const pipe = engine.pipeline(`cosineRows${lanes ? ':lanes' : ''}`, () => cosineRowsShader(lanes));
  for (let r0 = 0; r0 < a.rows; r0 += per) {
    const rows = Math.min(per, a.rows - r0);
    const keep: Lease[] = [];
    try {
      const la = engine.upload(a.data.subarray(r0 * a.cols, (r0 + rows) * a.cols));
      keep.push(la);
      const lb = engine.upload(b.data.subarray(r0 * a.cols, (r0 + rows) * a.cols));
      keep.push(lb);
      const dst = engine.lease(rows * 4);
      keep.push(dst);
      const [nx, ny] = engine.grid(rowGroups(rows, a.cols));
      const p = engine.params([rows, a.cols, nx, 0]);
      keep.push(p);
      const enc = engine.device.createCommandEncoder();
      engine.dispatch(enc, pipe, [la, lb, dst, p], nx, ny);
      const [buf] = await engine.submitAndRead(enc, [{ buffer: dst.buffer, bytes: rows * 4 }]);
      res.set(new Float32Array(buf), r0);
    } finally {
      for (const l of keep) engine.release(l);
    }
  }
  return res;
}

async function elementwise(
  engine: Engine,
  key: string,
  source: () => string,
  x: Matrix,
  y: Float32Array | null,
  yPerRow: boolean,
  out?: Float32Array,
): Promise<Float32Array> {
  const res = result(x.data.length, out);
  const total = x.data.length;
  // Element by element, so a chunk is any run of values: a row wider than one binding or one
  // dispatch is split too (the bias is indexed by column, from the chunk's first column).
  const bindFloats = Math.floor(
    Math.min(engine.limits.maxStorageBufferBindingSize, engine.limits.maxBufferSize) / 4,
  );
  const per = Math.max(1, Math.min(bindFloats, engine.maxGroups * 64));
  if (y && !yPerRow && y.length > bindFloats)
    beyondLimits(`a bias of ${y.length} floats does not fit the storage binding limit`);
  const pipe = engine.pipeline(key, source);
  const shared = y && !yPerRow ? engine.upload(y) : null;
  try {
    for (let e0 = 0; e0 < total; e0 += per) {
      const len = Math.min(per, total - e0);
      const keep: Lease[] = [];
      try {
        const lx = engine.upload(x.data.subarray(e0, e0 + len));
        keep.push(lx);
        const bound: Lease[] = [lx];
        if (y) {
          const ly = shared ?? engine.upload(y.subarray(e0, e0 + len));
          if (!shared) keep.push(ly);
          bound.push(ly);
        }
        const dst = engine.lease(len * 4);
        keep.push(dst);
        const [nx, ny] = engine.grid(Math.ceil(len / 64));
        const p = engine.params([len, x.cols, nx, e0 % x.cols]);
        keep.push(p);
        const enc = engine.device.createCommandEncoder();
        engine.dispatch(enc, pipe, [...bound, dst, p], nx, ny);
        const [buf] = await engine.submitAndRead(enc, [{ buffer: dst.buffer, bytes: len * 4 }]);
        res.set(new Float32Array(buf), e0);
      } finally {
        for (const l of keep) engine.release(l);
      }
    }
  } finally {
    engine.release(shared);
  }
  return res;
}

export function activation(
  engine: Engine,
  kind: Activation,
  x: Matrix,
  out?: Float32Array,
): Promise<Float32Array> {
  return elementwise(engine, `act:${kind}`, () => elementShader('act', kind), x, null, false, out);
}

export function activationGrad(
  engine: Engine,
  kind: Activation,
  x: Matrix,
  dy: Matrix,
  out?: Float32Array,
): Promise<Float32Array> {
  return elementwise(engine, `grad:${kind}`, () => elementShader('grad', kind), x, dy.data, true, out);
}

export function addBias(
  engine: Engine,
  x: Matrix,
  bias: Float32Array,
  out?: Float32Array,
): Promise<Float32Array> {
  return elementwise(engine, 'bias', () => elementShader('bias'), x, bias, false, out);
}

/** The tile shape this engine's limits allow. */
export function tileOf(engine: Engine) {
  return gemmTile(
    engine.limits.maxComputeWorkgroupStorageSize,
    engine.limits.maxComputeInvocationsPerWorkgroup,
  );
}

/** Records one tiled product `C[M x N] = op(A) op(B)` over bound buffers. */
export function encodeGemm(
  engine: Engine,
  enc: GPUCommandEncoder,
  g: {
    a: { buffer: GPUBuffer; size: number; offset?: number };
    b: { buffer: GPUBuffer; size: number; offset?: number };
    c: { buffer: GPUBuffer; size: number };
    M: number;
    N: number;
    K: number;
    lda: number;
    ldb: number;
    ldc: number;
    aOff?: number;
    bOff?: number;
    transA: boolean;
    transB: boolean;
    cos: boolean;
    /** How B's elements are stored (default float32); int8 also binds its per-row scales. */
    fmt?: RowFormat;
    scales?: Lease | null;
    /** Row of the first scale (int8). */
    sOff?: number;
  },
  keep: Lease[],
): void {
  const t = tileOf(engine);
  const side = t.wg * t.block;
  const fmt = g.fmt ?? 'f32';
  const vec =
    !g.transA &&
    g.transB &&
    gemmVectorizable(t) &&
    [g.K, g.lda, g.ldb, g.aOff ?? 0, g.bOff ?? 0].every((v) => v % 4 === 0);
  // One counted iteration per staged depth (the steps within it are unrolled).
  engine.loops(
    g.cos ? 'cosineMatrix' : 'matmul',
    g.cos ? 'queries' : 'a',
    Math.ceil(g.K / t.depth) + 4,
    `a product over ${g.K} values`,
  );
  const key = `gemm:${t.wg}x${t.block}x${t.depth}:${g.transA ? 'T' : 'N'}${g.transB ? 'T' : 'N'}:${g.cos ? 'cos' : 'raw'}${vec ? ':vec4' : ''}:${fmt}`;
  const pipe = engine.pipeline(key, () => gemmShader(t, g.transA, g.transB, g.cos, vec, fmt));
  const p = engine.params([g.M, g.N, g.K, g.lda, g.ldb, g.ldc, g.aOff ?? 0, g.bOff ?? 0, g.sOff ?? 0]);
  keep.push(p);
  const bound = [g.a, g.b, g.c, p];
  if (fmt === 'i8') bound.push(g.scales!);
  engine.dispatch(enc, pipe, bound, Math.ceil(g.N / side), Math.ceil(g.M / side));
}

/** Query rows up to which cosine scores use the skinny kernel (a few dispatches of 4 queries). */
export const SKINNY_MAX_ROWS = 16;

/** A resident block of stored rows, as the scoring kernels read it. */
export interface StoredRows {
  /** The stored rows, `ld` elements each. */
  readonly lease: Lease;
  /** int8: one float32 scale per row; else null. */
  readonly scales: Lease | null;
  readonly fmt: RowFormat;
  /** Stored elements per row ({@link rowStride}). */
  readonly ld: number;
}

/**
 * Loop iterations one invocation of the few-query scoring kernel counts for rows of `d` floats:
 * one per (vector) load, two per block of them. Past the limit, scores go to the tiled product.
 */
export function skinnyLoops(d: number): number {
  const w = d % 4 === 0 ? 4 : 1;
  return d / w + 2 * Math.ceil(d / w / BLOCK) + 4;
}

/**
 * Records cosine scores `C[rows x cols]` of normalised queries (`qn`, rows x d) against `cols`
 * stored corpus rows starting at row `n0` of `src`: the skinny kernel for a few queries, the
 * tiled product otherwise. With `mask` (one allow bit per corpus row; `row0`: the corpus row of
 * `src`'s first row) the skinny kernel skips refused rows and leaves their scores unwritten: only a
 * masked selection may read the tile then.
 */
export function encodeScores(
  engine: Engine,
  enc: GPUCommandEncoder,
  qn: Lease,
  src: StoredRows,
  tile: Lease,
  rows: number,
  cols: number,
  d: number,
  n0: number,
  keep: Lease[],
  mask?: { lease: Lease; row0: number },
): void {
  const { fmt, ld } = src;
  // Rows too long for the few-query kernel's loop on a loop-limited adapter go to the tiled
  // product, whose counted loop is over depth steps (any query count): such a corpus was refused
  // at every search of a few queries, and then when it was made, which refused products that ran.
  if (rows > SKINNY_MAX_ROWS || (engine.loopLimited && skinnyLoops(d) > LOOP_LIMIT)) {
    encodeGemm(
      engine,
      enc,
      {
        a: qn,
        b: src.lease,
        c: tile,
        M: rows,
        N: cols,
        K: d,
        lda: d,
        ldb: ld,
        ldc: cols,
        bOff: n0 * ld,
        transA: false,
        transB: true,
        cos: true,
        fmt,
        scales: src.scales,
        sOff: n0,
      },
      keep,
    );
    return;
  }
  const vec = d % 4 === 0;
  const w = vec ? 4 : 1;
  engine.loops('corpusSearch', 'queries', skinnyLoops(d), `rows of ${d} floats`);
  const masked = mask !== undefined;
  const [nx, ny] = engine.grid(Math.ceil(cols / 64));
  for (let q0 = 0; q0 < rows; q0 += SKINNY_QUERIES) {
    const m = Math.min(SKINNY_QUERIES, rows - q0);
    const pipe = engine.pipeline(`skinny:${m}:${vec ? 'vec4' : 'f32'}:${fmt}${masked ? ':mask' : ''}`, () =>
      skinnyShader(vec, fmt, masked, m),
    );
    const mOff = (mask?.row0 ?? 0) + n0;
    const p = engine.params([m, cols, d / w, cols, (q0 * d) / w, n0 * ld, nx, q0 * cols, ld, n0, mOff]);
    keep.push(p);
    const bound = [qn, src.lease, tile, p];
    if (fmt === 'i8') bound.push(src.scales!);
    if (mask) bound.push(mask.lease);
    engine.dispatch(enc, pipe, bound, nx, ny);
  }
}

function transpose(x: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(x.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = x[r * cols + c];
  return t;
}

export async function matmul(
  engine: Engine,
  a: Matrix,
  b: Matrix,
  transA: boolean,
  transB: boolean,
  out?: Float32Array,
): Promise<Float32Array> {
  const m = transA ? a.cols : a.rows;
  const k = transA ? a.rows : a.cols;
  const n = transB ? b.rows : b.cols;
  const res = result(m * n, out);
  const L = engine.limits;
  const side = tileOf(engine).wg * tileOf(engine).block;
  const maxSpan = L.maxComputeWorkgroupsPerDimension * side;
  const fits = (floats: number) => floats * 4 <= L.maxStorageBufferBindingSize;
  if (fits(m * k) && fits(k * n) && fits(m * n) && m <= maxSpan && n <= maxSpan) {
    const la = engine.upload(a.data);
    try {
      const lb = engine.upload(b.data);
      try {
        res.set(
          await gemmRead(engine, la, lb, { M: m, N: n, K: k, lda: a.cols, ldb: b.cols, transA, transB }),
        );
      } finally {
        engine.release(lb);
      }
    } finally {
      engine.release(la);
    }
    return res;
  }
  // Too large for one binding: bring both operands to rows of length k (A: m x k, B: n x k), so
  // that row blocks are contiguous, and compute C block by block.
  const A = transA ? transpose(a.data, a.rows, a.cols) : a.data;
  const B = transB ? b.data : transpose(b.data, b.rows, b.cols);
  const limitRows = Math.min(rowsPerBinding(engine, k), maxSpan);
  let mc = Math.min(m, limitRows);
  let nc = Math.min(n, limitRows);
  while (mc * nc * 4 > L.maxStorageBufferBindingSize) {
    if (mc >= nc) mc = Math.ceil(mc / 2);
    else nc = Math.ceil(nc / 2);
  }
  for (let m0 = 0; m0 < m; m0 += mc) {
    const rows = Math.min(mc, m - m0);
    const la = engine.upload(A.subarray(m0 * k, (m0 + rows) * k));
    try {
      for (let n0 = 0; n0 < n; n0 += nc) {
        const cols = Math.min(nc, n - n0);
        const lb = engine.upload(B.subarray(n0 * k, (n0 + cols) * k));
        try {
          const shape = { M: rows, N: cols, K: k, lda: k, ldb: k, transA: false, transB: true };
          const block = await gemmRead(engine, la, lb, shape);
          for (let r = 0; r < rows; r++) res.set(block.subarray(r * cols, (r + 1) * cols), (m0 + r) * n + n0);
        } finally {
          engine.release(lb);
        }
      }
    } finally {
      engine.release(la);
    }
  }
  return res;
}

/** `C = op(A) op(B)` of two uploaded operands in one dispatch, read back as `M x N` floats. */
async function gemmRead(
  engine: Engine,
  a: Lease,
  b: Lease,
  g: { M: number; N: number; K: number; lda: number; ldb: number; transA: boolean; transB: boolean },
): Promise<Float32Array> {
  const c = engine.lease(g.M * g.N * 4);
  const keep: Lease[] = [c];
  try {
    const enc = engine.device.createCommandEncoder();
    encodeGemm(engine, enc, { a, b, c, ...g, ldc: g.N, cos: false }, keep);
    const [buf] = await engine.submitAndRead(enc, [{ buffer: c.buffer, bytes: g.M * g.N * 4 }]);
    return new Float32Array(buf);
  } finally {
    for (const l of keep) engine.release(l);
  }
}

export { clearSelectShader, mergeSelectShader, segmentSelectShader };
