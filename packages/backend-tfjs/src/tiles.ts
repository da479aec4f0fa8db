/**
 * The tiled products behind every cosine-matrix and search kernel. All run inside
 * `KernelContext.run`; each tile's tensors live inside one `tf.tidy`, so at most one score tile
 * (about `scoreTile` floats) exists at a time.
 */
import { clampCos, type Matrix, type TopKResult } from '@cosinekit/core/backend';
import type * as TF from '@tensorflow/tfjs-core';
import type { KernelContext } from './context.js';
import type { CorpusTile } from './corpus.js';
import type { Tfjs } from './engine.js';
import { clampCosines, normalizedOf, readAndDispose, upload } from './graph.js';
import { RunningTopK } from './running-top-k.js';

/**
 * Normalises the rows of `x` once and lays them out as transposed tiles of `tileColumns` rows. On
 * the wasm and cpu engines this is done on the host in one pass (float64 norms, a blocked
 * transpose straight into each tile's upload buffer): tfjs's own normalise, slice and transpose
 * took 1.1-1.5 s for 100,000 x 384 rows there, the host pass 0.43-0.47 s including the upload. On
 * webgl and webgpu the engine does it, on the GPU.
 */
export function buildTiles(ctx: KernelContext, tf: Tfjs, x: Matrix): CorpusTile[] {
  if (ctx.engine !== 'webgl' && ctx.engine !== 'webgpu') return hostTiles(tf, x, ctx.tileColumns);
  const width = ctx.tileColumns;
  const columns = tf.tidy(() => {
    const rows = normalizedOf(tf, upload(tf, x));
    if (x.rows <= width) return [tf.transpose(rows)];
    const out: TF.Tensor2D[] = [];
    for (let start = 0; start < x.rows; start += width) {
      const w = Math.min(width, x.rows - start);
      out.push(tf.transpose(tf.slice(rows, [start, 0], [w, x.cols])));
    }
    return out;
  });
  return columns.map((c, t) => ({ start: t * width, width: c.shape[1], columns: c }));
}

/** Rows and columns per block of the host transpose: 64 x 64 floats in and out stay in L1. */
const BLOCK = 64;

/** {@link buildTiles} on the host: normalised (zero rows stay zero) and transposed, tile by tile. */
function hostTiles(tf: Tfjs, x: Matrix, width: number): CorpusTile[] {
  const { data, rows, cols: d } = x;
  const inv = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const o = r * d;
    let ss = 0;
    for (let p = 0; p < d; p++) ss += data[o + p] * data[o + p];
    inv[r] = ss > 0 ? 1 / Math.sqrt(ss) : 0;
  }
  const tiles: CorpusTile[] = [];
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
      tiles.push({ start, width: w, columns: tf.tensor2d(buf, [d, w], 'float32') });
    }
  } catch (err) {
    disposeTiles(tiles);
    throw err;
  }
  return tiles;
}

/** Disposes tiles made for one call. */
export function disposeTiles(tiles: readonly CorpusTile[]): void {
  for (const t of tiles) t.columns.dispose();
}

/** `out[i * n + j] = cos(q_i, corpus_j)`: one product per tile, written into its columns. */
export async function cosineTiles(
  ctx: KernelContext,
  tf: Tfjs,
  tiles: readonly CorpusTile[],
  n: number,
  queries: Matrix,
  out?: Float32Array,
): Promise<Float32Array> {
  const q = queries.rows;
  const qn = tf.tidy(() => normalizedOf(tf, upload(tf, queries)));
  try {
    if (tiles.length === 1) {
      const t = tiles[0].columns;
      return await readAndDispose(
        tf.tidy(() => clampCosines(tf, tf.matMul(qn, t))),
        out,
      );
    }
    const result = out ?? new Float32Array(q * n);
    for (const tile of tiles) {
      await ctx.reactivate(tf);
      const w = tile.width;
      const block = await readAndDispose(tf.tidy(() => clampCosines(tf, tf.matMul(qn, tile.columns))));
      for (let i = 0; i < q; i++) result.set(block.subarray(i * w, (i + 1) * w), i * n + tile.start);
    }
    return result;
  } finally {
    qn.dispose();
  }
}

/**
 * Exact top-k of each query over the tiles: per (query tile, corpus tile) one product, clamped to
 * [-1, 1], and one `tf.topk`, merged into a running selection. The scores selected on are the scores
 * reported, so equal reported scores go to the lower index. Never holds the Q x N scores.
 */
export async function searchTiles(
  ctx: KernelContext,
  tf: Tfjs,
  tiles: readonly CorpusTile[],
  queries: Matrix,
  k: number,
): Promise<TopKResult> {
  const q = queries.rows;
  const d = queries.cols;
  const selection = new RunningTopK(q, k);
  const qn = tf.tidy(() => normalizedOf(tf, upload(tf, queries)));
  try {
    const step = queryStep(ctx.scoreTile, tiles, q);
    for (let q0 = 0; q0 < q; q0 += step) {
      const rows = Math.min(step, q - q0);
      for (const tile of tiles) {
        await ctx.reactivate(tf);
        const kt = Math.min(k, tile.width);
        const part = () => (rows === q ? qn : tf.slice(qn, [q0, 0], [rows, d]));
        // Selected on the raw scores first, saving a pass over the tile. That is the selection on
        // the reported (clamped) scores unless some query's k-th raw score is at or past +-1: then
        // rows rounded to 1.0000001 and rows at exactly 1 report as equals, and the tie must go
        // to the lower index, so the tile is selected again on clamped scores.
        let [v, ix] = await topOf(tf, () => tf.matMul(part(), tile.columns), kt);
        if (edgeTie(v, kt))
          [v, ix] = await topOf(tf, () => clampCosines(tf, tf.matMul(part(), tile.columns)), kt);
        for (let i = 0; i < v.length; i++) v[i] = clampCos(v[i]);
        for (let r = 0; r < rows; r++) selection.merge(q0 + r, v, ix, r * kt, kt, tile.start);
      }
    }
  } finally {
    qn.dispose();
  }
  return selection.result();
}

/** `tf.topk` of the scores `make` builds (inside one tidy), read back as values and indices. */
async function topOf(tf: Tfjs, make: () => TF.Tensor2D, k: number): Promise<[Float32Array, Int32Array]> {
  const [values, indices] = tf.tidy(() => {
    const best = tf.topk(make(), k, true);
    return [best.values, best.indices];
  });
  let v: Float32Array;
  try {
    v = await readAndDispose(values);
  } finally {
    if (!values.isDisposed) values.dispose();
  }
  try {
    return [v, (await indices.data()) as Int32Array];
  } finally {
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
