/**
 * The tiled products behind every cosine-matrix and search kernel. All run inside
 * `KernelContext.run`; each tile's tensors live inside one `tf.tidy`, so at most one score tile
 * (about `scoreTile` floats) exists at a time.
 */
import type { Matrix, TopKResult } from '@cosinekit/core';
import type * as TF from '@tensorflow/tfjs-core';
import type { KernelContext } from './context.js';
import type { CorpusTile } from './corpus.js';
import type { Tfjs } from './engine.js';
import { clampCosines, normalizedOf, readAndDispose, upload } from './graph.js';
import { RunningTopK } from './running-top-k.js';

/** Normalises the rows of `x` once and lays them out as transposed tiles of `tileColumns` rows. */
export function buildTiles(ctx: KernelContext, tf: Tfjs, x: Matrix): CorpusTile[] {
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
 * Exact top-k of each query over the tiles: per (query tile, corpus tile) one product and one
 * `tf.topk`, merged into a running selection. Never holds the Q x N scores.
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
        const [values, indices] = tf.tidy(() => {
          const part = rows === q ? qn : tf.slice(qn, [q0, 0], [rows, d]);
          const best = tf.topk(tf.matMul(part, tile.columns), kt, true);
          return [best.values, best.indices];
        });
        const v = await readAndDispose(values);
        let ix: Int32Array;
        try {
          ix = (await indices.data()) as Int32Array;
        } finally {
          indices.dispose();
        }
        for (let r = 0; r < rows; r++) selection.merge(q0 + r, v, ix, r * kt, kt, tile.start);
      }
    }
  } finally {
    qn.dispose();
  }
  return selection.result();
}

/** Query rows per step so that one score tile stays within `budget` floats (a multiple of 8 when it can). */
function queryStep(budget: number, tiles: readonly CorpusTile[], q: number): number {
  let widest = 1;
  for (const t of tiles) widest = Math.max(widest, t.width);
  const fit = Math.floor(budget / widest);
  const rows = fit >= 8 ? fit - (fit % 8) : Math.max(1, fit);
  return Math.min(q, rows);
}
