/**
 * The tiled products behind every cosine-matrix and search kernel. All run inside
 * `KernelContext.run`; each tile's tensors live inside one `tf.tidy`, so at most one score tile
 * (about `scoreTile` floats; eight of them for a full matrix) exists at a time.
 */
import { clampCos, type Matrix, type TopKResult, TopKSelector } from '@cosinekit/core/backend';
import type * as TF from '@tensorflow/tfjs-core';
import type { KernelContext } from './context.js';
import type { CorpusTile } from './corpus.js';
import type { Tfjs } from './engine.js';
import { clampCosines, normalizedOf, readAndDispose, upload } from './graph.js';
import { RunningTopK } from './running-top-k.js';

/**
 * Normalises the rows of `x` once (unless `normalize` is false: rows stored before, already unit)
 * and lays them out as transposed tiles of `tileColumns` rows. On
 * the wasm and cpu engines this is done on the host in one pass (float64 norms, a blocked
 * transpose straight into each tile's upload buffer): tfjs's own normalise, slice and transpose
 * took 1.1-1.5 s for 100,000 x 384 rows there, the host pass 0.43-0.47 s including the upload. On
 * webgl and webgpu the engine does it, on the GPU.
 */
export function buildTiles(ctx: KernelContext, tf: Tfjs, x: Matrix, normalize = true): CorpusTile[] {
  const from = splitDims(x.cols);
  if (ctx.engine !== 'webgl' && ctx.engine !== 'webgpu')
    return hostTiles(tf, x, ctx.tileColumns, from, normalize);
  const width = ctx.tileColumns;
  const d = x.cols;
  const tiles = tf.tidy(() => {
    const rows = normalize ? normalizedOf(tf, upload(tf, x)) : upload(tf, x);
    const out: TF.Tensor2D[][] = [];
    for (let start = 0; start < x.rows; start += width) {
      const w = Math.min(width, x.rows - start);
      const t = tf.transpose(x.rows <= width ? rows : tf.slice(rows, [start, 0], [w, d]));
      out.push(
        from.length === 1
          ? [t]
          : from.map((k0, j) => tf.slice(t, [k0, 0], [(j + 1 < from.length ? from[j + 1] : d) - k0, w])),
      );
    }
    return out.flat();
  });
  const per = from.length;
  return Array.from({ length: tiles.length / per }, (_, t) => {
    const parts = tiles.slice(t * per, (t + 1) * per);
    return { start: t * width, width: parts[0].shape[1], parts, from };
  });
}

/** The most dimensions one product sums on tfjs-wasm (see {@link splitDims}). */
const PART_DIMS = 512;

/**
 * Where a row of `d` dimensions is cut into parts for the products: tfjs-wasm (XNNPACK) and the
 * GPU engines' shaders sum each output in one float32 chain along the whole row, so long rows of
 * like values lose digits (the cosine of a constant row with itself came out 0.999905 at d = 6494
 * on tfjs-wasm, 2.4e-5 off at d = 3072 on tfjs-wasm and webgl). Rows past 1024 dimensions are cut
 * into near-equal parts of at most {@link PART_DIMS}, each product summed alone and the partial
 * results added: within 1e-5 of float64 at any length. tfjs-cpu sums in blocks of its own, but
 * adds the blocks' sums in one chain: left whole, its rows drifted too (a row of alternating 0.5 and
 * 1 scored 0.99986 against itself at d = 1,000,000, and at d = 200,000 a row's exact copy ranked
 * below a row of cosine 0.99996), so it is cut the same way. Returns each part's first dimension.
 */
function splitDims(d: number): number[] {
  if (d <= 2 * PART_DIMS) return [0];
  const parts = Math.ceil(d / PART_DIMS);
  const size = Math.ceil(d / parts);
  return Array.from({ length: parts }, (_, i) => i * size);
}

/** Rows and columns per block of the host transpose: 64 x 64 floats in and out stay in L1. */
const BLOCK = 64;

/**
 * {@link buildTiles} on the host: normalised (zero rows stay zero) and transposed, tile by tile,
 * each tile cut into parts of dimensions starting at `from`.
 */
function hostTiles(tf: Tfjs, x: Matrix, width: number, from: number[], normalize: boolean): CorpusTile[] {
  const { data, rows, cols: d } = x;
  const inv = normalize ? inverseNorms(x) : new Float64Array(rows).fill(1);
  const tiles: CorpusTile[] = [];
  const parts: TF.Tensor2D[] = [];
  try {
    for (let start = 0; start < rows; start += width) {
      const w = Math.min(width, rows - start);
      const buf = new Float32Array(d * w);
      for (let i0 = 0; i0 < w; i0 += BLOCK) {
        const i1 = Math.min(w, i0 + BLOCK);
        for (let p0 = 0; p0 < d; p0 += BLOCK) {
          const p1 = Math.min(d, p0 + BLOCK);
          for (let i = i0; i < i1; i++) {
            const r = start + i;
            const o = r * d;
            const sc = inv[r];
            for (let p = p0; p < p1; p++) buf[p * w + i] = data[o + p] * sc;
          }
        }
      }
      // Dimensions k0..k1 of the transposed tile are one run of its buffer.
      const made: TF.Tensor2D[] = [];
      for (let j = 0; j < from.length; j++) {
        const k0 = from[j];
        const k1 = j + 1 < from.length ? from[j + 1] : d;
        const part = tf.tensor2d(
          from.length === 1 ? buf : buf.subarray(k0 * w, k1 * w),
          [k1 - k0, w],
          'float32',
        );
        made.push(part);
        parts.push(part);
      }
      tiles.push({ start, width: w, parts: made, from });
    }
  } catch (err) {
    for (const p of parts) p.dispose();
    throw err;
  }
  return tiles;
}

/**
 * The rows of `sources` (each a corpus's tiles) whose byte in `drop` is 0, in order, copied from
 * their transposed tiles into new tiles of `ctx.tileColumns` rows, cut at the sources' dimensions.
 * Values are copied, never computed again, so the result holds the kept rows bit for bit as the
 * sources hold them: reading every row out (a transpose on the engine), gathering it and building
 * tiles again (a transpose on the host) was most of the time of many small adds. Each source tile
 * is read once, and each new tile uploaded as soon as it is full; tiles whose rows are all dropped
 * are not read at all. Call inside `ctx.run`.
 */
export async function mergeTiles(
  ctx: KernelContext,
  tf: Tfjs,
  sources: readonly (readonly CorpusTile[])[],
  drop: readonly Uint8Array[],
  rows: number,
  d: number,
): Promise<CorpusTile[]> {
  const width = ctx.tileColumns;
  // The dimension cuts every tile of this backend shares (a part of no rows has no tiles).
  const from = sources.find((t) => t.length > 0)?.[0].from ?? [0];
  const made: CorpusTile[] = [];
  let buf: Float32Array | null = null;
  let w = 0;
  let filled = 0;
  let start = 0;
  try {
    for (let s = 0; s < sources.length; s++) {
      const keep = drop[s];
      for (const tile of sources[s]) {
        const ws = tile.width;
        let i = keep.subarray(tile.start, tile.start + ws).indexOf(0);
        if (i < 0) continue;
        await ctx.reactivate(tf);
        const src = await tileValues(tile, d);
        while (i < ws) {
          if (keep[tile.start + i] !== 0) {
            i++;
            continue;
          }
          if (buf === null) {
            w = Math.min(width, rows - start);
            buf = new Float32Array(d * w);
            filled = 0;
          }
          // A run of kept rows that fits the new tile: one short copy per dimension.
          let n = 1;
          while (i + n < ws && filled + n < w && keep[tile.start + i + n] === 0) n++;
          for (let p = 0; p < d; p++) {
            const so = p * ws + i;
            const to = p * w + filled;
            for (let j = 0; j < n; j++) buf[to + j] = src[so + j];
          }
          filled += n;
          i += n;
          if (filled === w) {
            await ctx.reactivate(tf);
            made.push({ start, width: w, parts: uploadParts(tf, buf, w, d, from), from });
            start += w;
            buf = null;
          }
        }
      }
    }
  } catch (err) {
    disposeTiles(made);
    throw err;
  }
  return made;
}

/** A tile's values, `d x width` row-major (its parts one after another). */
async function tileValues(tile: CorpusTile, d: number): Promise<Float32Array> {
  if (tile.parts.length === 1) return (await tile.parts[0].data()) as Float32Array;
  const out = new Float32Array(d * tile.width);
  for (let j = 0; j < tile.parts.length; j++)
    out.set((await tile.parts[j].data()) as Float32Array, tile.from[j] * tile.width);
  return out;
}

/** The parts of a transposed tile `buf` (`d x w`) cut at dimensions `from`, as tensors. */
function uploadParts(
  tf: Tfjs,
  buf: Float32Array,
  w: number,
  d: number,
  from: readonly number[],
): TF.Tensor2D[] {
  const parts: TF.Tensor2D[] = [];
  try {
    for (let j = 0; j < from.length; j++) {
      const k0 = from[j];
      const k1 = j + 1 < from.length ? from[j + 1] : d;
      parts.push(
        tf.tensor2d(from.length === 1 ? buf : buf.subarray(k0 * w, k1 * w), [k1 - k0, w], 'float32'),
      );
    }
  } catch (err) {
    for (const p of parts) p.dispose();
    throw err;
  }
  return parts;
}

/** Rows of `x` divided by their float64 norms (zero rows stay zero), into `out`. */
function normalizedRows(x: Matrix, out: Float32Array): Float32Array {
  const { data, rows, cols: d } = x;
  const inv = inverseNorms(x);
  for (let r = 0; r < rows; r++) {
    const o = r * d;
    const sc = inv[r];
    for (let p = 0; p < d; p++) out[o + p] = data[o + p] * sc;
  }
  return out;
}

/** 1 / the L2 norm of each row, summed in float64 (no overflow or underflow for float32 rows); 0 for a zero row. */
function inverseNorms(x: Matrix): Float64Array {
  const { data, rows, cols: d } = x;
  const inv = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const o = r * d;
    let ss = 0;
    for (let p = 0; p < d; p++) ss += data[o + p] * data[o + p];
    inv[r] = ss > 0 ? 1 / Math.sqrt(ss) : 0;
  }
  return inv;
}

/**
 * The query rows normalised, cut as the tiles are: per step of `step` rows, one tensor for each part
 * of the dimensions (`from`, see {@link splitDims}). On the wasm and cpu engines the rows are
 * normalised on the host (as {@link buildTiles} does the corpus): tfjs's own normalisation is a
 * dozen small kernels, and with one query against a small corpus their dispatch was most of a
 * search's time. On tfjs-wasm each step's parts are uploaded once, before the first tile: its
 * `slice` reads its whole input out of the engine's heap first, so cutting a part of the
 * dimensions out of the queries for every tile made long rows cost O(d^2) (1 x 1 x 1,000,000 took
 * 5.3 s, 62% of it in those reads; our wasm backend 8 ms). The cpu engine's slices are views, and
 * webgl's and webgpu's run on the GPU: there `block` slices inside each tile's `tf.tidy`.
 */
interface QueryBlocks {
  /** The parts of the step of `rows` queries starting at `q0` (the tensors of the host engines are kept: do not dispose them). */
  block(q0: number, rows: number): TF.Tensor2D[];
  dispose(): void;
}

function queryBlocks(
  ctx: KernelContext,
  tf: Tfjs,
  queries: Matrix,
  from: readonly number[],
  step: number,
): QueryBlocks {
  const { data, rows: q, cols: d } = queries;
  const end = (j: number) => (j + 1 < from.length ? from[j + 1] : d);
  if (ctx.engine !== 'wasm') {
    const qn =
      ctx.engine === 'cpu'
        ? tf.tensor2d(normalizedRows(queries, new Float32Array(q * d)), [q, d], 'float32')
        : tf.tidy(() => normalizedOf(tf, upload(tf, queries)));
    return {
      block(q0, rows) {
        const r = rows === q ? qn : tf.slice(qn, [q0, 0], [rows, d]);
        return from.length === 1 ? [r] : from.map((k0, j) => tf.slice(r, [0, k0], [rows, end(j) - k0]));
      },
      dispose: () => qn.dispose(),
    };
  }
  const inv = inverseNorms(queries);
  // tfjs-wasm copies a tensor's values into its own heap when the tensor is made, so they are
  // written into a scratch array kept between calls.
  const made: TF.Tensor2D[][] = [];
  try {
    for (let q0 = 0; q0 < q; q0 += step) {
      const rows = Math.min(step, q - q0);
      const parts: TF.Tensor2D[] = [];
      made.push(parts);
      for (let j = 0; j < from.length; j++) {
        const k0 = from[j];
        const w = end(j) - k0;
        const out = scratch(rows * w);
        for (let r = 0; r < rows; r++) {
          const o = (q0 + r) * d + k0;
          const sc = inv[q0 + r];
          const t = r * w;
          for (let p = 0; p < w; p++) out[t + p] = data[o + p] * sc;
        }
        parts.push(tf.tensor2d(out, [rows, w], 'float32'));
      }
    }
  } catch (err) {
    for (const t of made.flat()) t.dispose();
    throw err;
  }
  return {
    block: (q0) => made[q0 / step],
    dispose() {
      for (const t of made.flat()) t.dispose();
    },
  };
}

/**
 * A scratch array of `n` floats for values tfjs-wasm copies at once (see {@link queryRows}): the
 * same memory from call to call, so a large batch of queries is not a fresh array each time, whose
 * first touch (page faults) cost more than normalising it (in a profile of `cosineMatrix` of
 * 100,000 x 64 queries against 10 rows, 31% of the time was this loop writing a fresh array).
 * Dropped after {@link SCRATCH_IDLE_MS} without a call.
 */
function scratch(n: number): Float32Array {
  if (scratchFloats.length < n || scratchFloats.length > 4 * n) scratchFloats = new Float32Array(n);
  clearTimeout(scratchTimer);
  scratchTimer = setTimeout(() => {
    scratchFloats = new Float32Array(0);
  }, SCRATCH_IDLE_MS);
  // Node: the timer must not keep a process alive that has nothing else to do.
  (scratchTimer as { unref?: () => void }).unref?.();
  return scratchFloats.length === n ? scratchFloats : scratchFloats.subarray(0, n);
}
let scratchFloats = new Float32Array(0);
let scratchTimer: ReturnType<typeof setTimeout> | undefined;
const SCRATCH_IDLE_MS = 2000;

/**
 * `queries x tile` (query rows already normalised, cut into the tile's parts of the dimensions, see
 * {@link queryBlocks}): one product, or one per part, added pairwise (see {@link pairwise}). Call
 * inside `tf.tidy`.
 */
function scores(tf: Tfjs, queries: readonly TF.Tensor2D[], tile: CorpusTile): TF.Tensor2D {
  if (tile.parts.length === 1) return tf.matMul(queries[0], tile.parts[0]);
  const sums = pairwise(tf);
  for (let j = 0; j < tile.parts.length; j++) sums.push(tf.matMul(queries[j], tile.parts[j]) as TF.Tensor2D);
  return sums.total();
}

/**
 * Tensors added pairwise as they come, a binary counter of partial sums: each output is rounded
 * about log2(parts) times rather than once per part. Added one after the other, the 1954 parts'
 * sums of a row of 1,000,000 dimensions lost up to 1954 half-ulps of the largest: a row holding
 * one large value beside many small ones came out 1.38e-5 off on tfjs-wasm.
 */
function pairwise(tf: Tfjs): { push(t: TF.Tensor2D): void; total(): TF.Tensor2D } {
  const stack: { t: TF.Tensor2D; n: number }[] = [];
  return {
    push(t) {
      let cur = { t, n: 1 };
      while (stack.length > 0 && stack[stack.length - 1].n === cur.n) {
        const top = stack.pop()!;
        cur = { t: tf.add(top.t, cur.t) as TF.Tensor2D, n: 2 * cur.n };
      }
      stack.push(cur);
    },
    total() {
      let sum = stack[stack.length - 1].t;
      for (let i = stack.length - 2; i >= 0; i--) sum = tf.add(stack[i].t, sum) as TF.Tensor2D;
      return sum;
    },
  };
}

/** Disposes tiles made for one call. */
export function disposeTiles(tiles: readonly CorpusTile[]): void {
  for (const t of tiles) for (const p of t.parts) p.dispose();
}

/**
 * `out[i * n + j] = cos(q_i, corpus_j)`: one product per (query step, tile), written into its
 * place. Query rows go in steps that keep each product within eight `scoreTile`s of floats:
 * one product of the whole result (and its clamped copy) needed twice the result in the engine's
 * memory, and on tfjs-wasm a 2 GiB result overran its heap and broke the engine for the process.
 */
export async function cosineTiles(
  ctx: KernelContext,
  tf: Tfjs,
  tiles: readonly CorpusTile[],
  n: number,
  queries: Matrix,
  out?: Float32Array,
): Promise<Float32Array> {
  const q = queries.rows;
  // Eight score tiles (64 MiB by default): few steps for a big matrix, a bounded product each.
  const step = queryStep(8 * ctx.scoreTile, tiles, q);
  const qb = queryBlocks(ctx, tf, queries, tiles[0].from, step);
  try {
    if (tiles.length === 1 && step === q) {
      const t = tiles[0];
      return await readAndDispose(
        tf.tidy(() => clampCosines(tf, scores(tf, qb.block(0, q), t))),
        out,
      );
    }
    const result = out ?? new Float32Array(q * n);
    for (let q0 = 0; q0 < q; q0 += step) {
      const rows = Math.min(step, q - q0);
      for (const tile of tiles) {
        await ctx.reactivate(tf);
        const w = tile.width;
        const block = await readAndDispose(
          tf.tidy(() => clampCosines(tf, scores(tf, qb.block(q0, rows), tile))),
        );
        if (w === n) result.set(block, q0 * n);
        else
          for (let i = 0; i < rows; i++)
            result.set(block.subarray(i * w, (i + 1) * w), (q0 + i) * n + tile.start);
      }
    }
    return result;
  } finally {
    qb.dispose();
  }
}

/**
 * Exact top-k of each query over the tiles: per (query tile, corpus tile) one product, clamped to
 * [-1, 1], and one `tf.topk`, merged into a running selection. The scores selected on are the scores
 * reported, so equal reported scores go to the lower index. Never holds the Q x N scores.
 *
 * The cpu engine's `topk` (which webgl also hands every tile narrower than 100,000 columns to,
 * reading it back first) builds an object per score and sorts: 1 query x 100,000 x 96 on tfjs-cpu
 * took 142 ms at k = 1 and 176 ms at k = 10, where the scores alone took 40 ms. On those two
 * engines the tile's scores are read back and offered to core's `TopKSelector`, which ranks them
 * the same way (clamped, float32, ties to the lower row). wasm's `topk` is native, and webgpu's
 * runs on the GPU and reads back k values a query, so they keep `tf.topk`.
 */
export async function searchTiles(
  ctx: KernelContext,
  tf: Tfjs,
  tiles: readonly CorpusTile[],
  queries: Matrix,
  k: number,
  allow?: Uint8Array,
): Promise<TopKResult> {
  if (ctx.engine === 'cpu' || ctx.engine === 'webgl') {
    // On the host: each tile's scores (only its allowed columns, gathered, where `gathers` says so)
    // read back and offered to the selector; a column that fails `allow` is never offered.
    const selection = new TopKSelector(queries.rows, k);
    await eachSearchTile(ctx, tf, tiles, queries, allow, async (q0, rows, tile, cols, part) => {
      const gather = cols !== null && gathers(cols.length, tile.width, rows);
      const w = gather ? cols.length : tile.width;
      const s = await readAndDispose(
        tf.tidy(() => scores(tf, part(), gather ? gatheredTile(tf, tile, cols) : tile)),
      );
      for (let r = 0; r < rows; r++) {
        if (cols === null) selection.pushRow(q0 + r, s, r * w, tile.start, w);
        else offerColumns(selection, q0 + r, s, r * w, cols, gather, tile.start);
      }
    });
    return selection.result();
  }
  const selection = new RunningTopK(queries.rows, k);
  await eachSearchTile(ctx, tf, tiles, queries, allow, async (q0, rows, tile, cols, part) => {
    const p = cols ? cols.length : tile.width;
    const kt = Math.min(k, p);
    // A few allowed columns are gathered and scored alone; more are scored with the tile and
    // the others set to -Infinity after any clamping (so a clamp cannot make them -1).
    const gather = cols !== null && gathers(cols.length, tile.width, rows);
    const mask = cols !== null && cols.length < tile.width && !gather;
    const tileScores = (clamp: boolean) => {
      const t = gather ? gatheredTile(tf, tile, cols!) : tile;
      const raw = scores(tf, part(), t);
      const c = clamp ? clampCosines(tf, raw) : raw;
      return mask ? (tf.add(c, failingBias(tf, tile, cols!)) as TF.Tensor2D) : c;
    };
    // Selected on the raw scores first, saving a pass over the tile. That is the selection on
    // the reported (clamped) scores unless some query's k-th raw score is at or past +-1: then
    // rows rounded to 1.0000001 and rows at exactly 1 report as equals, and the tie must go
    // to the lower index, so the tile is selected again on clamped scores.
    let [v, ix] = await topOf(tf, () => tileScores(false), kt);
    if (edgeTie(v, kt)) [v, ix] = await topOf(tf, () => tileScores(true), kt);
    for (let i = 0; i < v.length; i++) v[i] = clampCos(v[i]);
    if (gather) for (let i = 0; i < ix.length; i++) ix[i] = cols![ix[i]];
    for (let r = 0; r < rows; r++) selection.merge(q0 + r, v, ix, r * kt, kt, tile.start);
  });
  return selection.result();
}

/**
 * The steps of a tiled search: for each step of queries (as many as one score tile holds) and each
 * corpus tile with a column that passes `allow` (a tile none passes is not scored), `visit` with
 * the engine active, the step's first query and rows, the tile, its allowed columns (null: all)
 * and `part`, which makes the step's normalised queries (call it inside the visit's `tf.tidy`).
 */
async function eachSearchTile(
  ctx: KernelContext,
  tf: Tfjs,
  tiles: readonly CorpusTile[],
  queries: Matrix,
  allow: Uint8Array | undefined,
  visit: (
    q0: number,
    rows: number,
    tile: CorpusTile,
    cols: Int32Array | null,
    part: () => TF.Tensor2D[],
  ) => Promise<void>,
): Promise<void> {
  const q = queries.rows;
  const step = queryStep(ctx.scoreTile, tiles, q);
  const qb = queryBlocks(ctx, tf, queries, tiles[0].from, step);
  try {
    const passing = allow ? tiles.map((t) => allowedColumns(allow, t)) : null;
    for (let q0 = 0; q0 < q; q0 += step) {
      const rows = Math.min(step, q - q0);
      for (const [at, tile] of tiles.entries()) {
        const cols = passing?.[at] ?? null;
        if (cols?.length === 0) continue;
        await ctx.reactivate(tf);
        await visit(q0, rows, tile, cols, () => qb.block(q0, rows));
      }
    }
  } finally {
    qb.dispose();
  }
}

/**
 * Offers query `query` the scores of tile columns `cols` (ascending), from `s[off + t]` for the
 * t-th of them when `gathered`, from `s[off + cols[t]]` otherwise; corpus row `start + cols[t]`.
 */
function offerColumns(
  selection: TopKSelector,
  query: number,
  s: Float32Array,
  off: number,
  cols: Int32Array,
  gathered: boolean,
  start: number,
): void {
  let floor = selection.floor(query);
  for (let t = 0; t < cols.length; t++) {
    const v = s[off + (gathered ? t : cols[t])];
    if (!(v < floor)) {
      selection.push(query, v, start + cols[t]);
      floor = selection.floor(query);
    }
  }
}

/**
 * Cost of gathering one allowed column of a tile (`tf.gather`, then its product) in products of one
 * query with one column: on tfjs-wasm, 1 query x 50,000 x 384 with 20% of the columns gathered took
 * 187 ms against 3.4 ms for the whole tile's product, 55 times the whole tile, so about 275 times
 * the product of those columns. It was 64 (the 55 taken per column, the share dropped): a filter
 * keeping 0.4-12% of the rows for 1-8 queries took 1.5-3.9x an unfiltered search, more than one
 * keeping more (a probe measured about 256 a column, 1 and 8 queries).
 */
const GATHER_COST = 256;

/**
 * Whether `passing` allowed columns of a tile `width` wide are gathered and scored alone for `rows`
 * queries rather than scored with the tile and masked: where gathering them costs less than the
 * tile's product for those queries, and at most a quarter of the tile. Gathering whenever a quarter
 * or fewer passed made a filter keeping 5-25% of the rows 5-41x an unfiltered search.
 */
export function gathers(passing: number, width: number, rows: number): boolean {
  return passing < width && 4 * passing <= width && GATHER_COST * passing <= rows * width;
}

/** The columns of `tile` whose row `allow` passes, ascending. */
function allowedColumns(allow: Uint8Array, tile: CorpusTile): Int32Array {
  let n = 0;
  for (let j = 0; j < tile.width; j++) n += allow[tile.start + j] === 1 ? 1 : 0;
  const cols = new Int32Array(n);
  for (let j = 0, t = 0; j < tile.width; j++) if (allow[tile.start + j] === 1) cols[t++] = j;
  return cols;
}

/** `tile` with only the columns `cols` (made inside the caller's tidy). */
function gatheredTile(tf: Tfjs, tile: CorpusTile, cols: Int32Array): CorpusTile {
  const at = tf.tensor1d(cols, 'int32');
  return { ...tile, width: cols.length, parts: tile.parts.map((p) => tf.gather(p, at, 1) as TF.Tensor2D) };
}

/** A row of 0 for the allowed columns `cols` of `tile` and -Infinity for the others. */
function failingBias(tf: Tfjs, tile: CorpusTile, cols: Int32Array): TF.Tensor2D {
  const b = new Float32Array(tile.width).fill(Number.NEGATIVE_INFINITY);
  for (const j of cols) b[j] = 0;
  return tf.tensor2d(b, [1, tile.width]);
}

/** `tf.topk` of the scores `make` builds (inside one tidy), read back as values and indices. */
async function topOf(tf: Tfjs, make: () => TF.Tensor2D, k: number): Promise<[Float32Array, Int32Array]> {
  const [values, indices] = tf.tidy(() => {
    const best = tf.topk(make(), k, true);
    return [best.values, best.indices];
  });
  // Both are disposed whatever fails: a failed read of the values used to leave the indices.
  try {
    return [(await values.data()) as Float32Array, (await indices.data()) as Int32Array];
  } finally {
    values.dispose();
    indices.dispose();
  }
}

/** Whether some query's k-th selected raw score is at or past +-1 (see {@link searchTiles}). */
function edgeTie(v: Float32Array, k: number): boolean {
  for (let i = k - 1; i < v.length; i += k) if (!(v[i] < 1 && v[i] > -1)) return true;
  return false;
}

/** Query rows per step so that one score tile stays within `budget` floats (a multiple of 8 when it can). */
function queryStep(budget: number, tiles: readonly CorpusTile[], q: number): number {
  let widest = 1;
  for (const t of tiles) widest = Math.max(widest, t.width);
  const fit = Math.floor(budget / widest);
  const rows = fit >= 8 ? fit - (fit % 8) : Math.max(1, fit);
  return Math.min(q, rows);
}
