import type { Matrix } from '@cosinekit/core/backend';
import type * as TF from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import type { KernelContext } from '../src/context.js';
import { initTfjsEngine } from '../src/index.js';
import { buildTiles, cosineTiles, disposeTiles, searchTiles } from '../src/tiles.js';
import { matrix } from './helpers.js';

/** Just what buildTiles reads of a backend's context. */
const ctx = (engine: KernelContext['engine'], tileColumns: number) =>
  ({ engine, tileColumns }) as KernelContext;

describe('corpus tiles built on the host (wasm, cpu) match the ones tfjs builds (webgl path)', () => {
  // Rows and widths across the 64 x 64 transpose blocks and the tile edges; a zero row.
  for (const engine of ['wasm', 'cpu'] as const) {
    it(`${engine}: same tiles, value for value, for awkward shapes`, async () => {
      const tf = await initTfjsEngine(engine);
      const start = tf.memory().numTensors;
      for (const [rows, cols, width] of [
        [1, 1, 5],
        [130, 67, 70],
        [65, 129, 64],
        [200, 3, 33],
        [70, 1537, 64],
      ]) {
        const x = matrix(rows, cols, rows + cols);
        x.data.fill(0, cols * (rows >> 1), cols * ((rows >> 1) + 1));
        const host = buildTiles(ctx(engine, width), tf, x);
        const viaTf = buildTiles(ctx('webgl', width), tf, x);
        expect(host.map((t) => [t.start, t.width])).toEqual(viaTf.map((t) => [t.start, t.width]));
        for (let t = 0; t < host.length; t++) {
          // Cut into the same parts of dimensions (on every engine, past 1024), in order.
          expect(host[t].from).toEqual(viaTf[t].from);
          if (cols > 1024) expect(host[t].from.length).toBeGreaterThan(1);
          expect(host[t].parts.map((p) => p.shape[0]).reduce((a, b) => a + b, 0)).toBe(cols);
          const whole = (parts: readonly TF.Tensor2D[]) => {
            const c = tf.concat([...parts], 0);
            return c.data().finally(() => c.dispose());
          };
          const a = await whole(host[t].parts);
          const b = await whole(viaTf[t].parts);
          let worst = 0;
          for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
          // Both are float32 unit rows; the host's norms are float64, tfjs's float32.
          expect(worst).toBeLessThan(1e-6);
          expect(Array.from(a).every(Number.isFinite)).toBe(true);
        }
        disposeTiles(host);
        disposeTiles(viaTf);
      }
      expect(tf.memory().numTensors).toBe(start);
    });
  }
});

describe('query rows cut into the parts of long rows once a call, not once a tile', () => {
  // tfjs-wasm's slice reads its whole input out of the engine's heap: a slice of the queries per
  // part and per tile made 1 x 1 x 1,000,000 cost 5.3 s (O(d^2)). On wasm no slice runs now; on
  // cpu (whose slices are views) the answers are the same.
  for (const engine of ['wasm', 'cpu'] as const) {
    it(`${engine}: products and searches over long rows in several tiles and query steps, against float64, ${engine === 'wasm' ? 'with no slice kernel' : 'sliced'}`, async () => {
      const tf = await initTfjsEngine(engine);
      const start = tf.memory().numTensors;
      // 5 queries in steps of 2 (scoreTile 2 x 7 columns), 20 corpus rows in tiles of 7, d = 2051
      // (five parts of 411 dimensions or fewer); a zero query row.
      const c: KernelContext = {
        engine,
        tileColumns: 7,
        scoreTile: 14,
        name: 'test',
        disposed: false,
        run: async (_, fn) => fn(tf),
        reactivate: async () => undefined,
      };
      const d = 2051;
      const q = matrix(5, d, 3);
      q.data.fill(0, 2 * d, 3 * d);
      const x = matrix(20, d, 4);
      const tiles = buildTiles(c, tf, x);
      expect(tiles.length).toBe(3);
      expect(tiles[0].from.length).toBeGreaterThan(1);
      const want = cosine64(q, x);
      let m: Float32Array = new Float32Array(0);
      let top: Awaited<ReturnType<typeof searchTiles>> | undefined;
      const profile = await tf.profile(async () => {
        // A full matrix runs in eight score tiles a step: a smaller budget for it cuts steps too.
        m = await cosineTiles({ ...c, scoreTile: 2 }, tf, tiles, x.rows, q);
        top = await searchTiles(c, tf, tiles, q, 3);
      });
      if (engine === 'wasm') expect(profile.kernelNames).not.toContain('Slice');
      for (let i = 0; i < m.length; i++) expect(Math.abs(m[i] - want[i]), `score ${i}`).toBeLessThan(1e-5);
      for (let i = 0; i < q.rows; i++) {
        const row = Array.from(want.subarray(i * x.rows, (i + 1) * x.rows));
        const best = row
          .map((v, j) => [v, j])
          .sort((a, b) => b[0] - a[0] || a[1] - b[1])
          .slice(0, 3);
        for (let t = 0; t < 3; t++)
          expect(Math.abs(top!.scores[i * 3 + t] - best[t][0]), `query ${i}, rank ${t}`).toBeLessThan(1e-5);
      }
      disposeTiles(tiles);
      expect(tf.memory().numTensors).toBe(start);
    });
  }
});

/** Cosines of every row of `a` with every row of `b`, in float64 (0 for a zero row). */
function cosine64(a: Matrix, b: Matrix): Float64Array {
  const out = new Float64Array(a.rows * b.rows);
  const d = a.cols;
  for (let i = 0; i < a.rows; i++)
    for (let j = 0; j < b.rows; j++) {
      let dot = 0;
      let aa = 0;
      let bb = 0;
      for (let p = 0; p < d; p++) {
        const u = a.data[i * d + p];
        const v = b.data[j * d + p];
        dot += u * v;
        aa += u * u;
        bb += v * v;
      }
      out[i * b.rows + j] = aa > 0 && bb > 0 ? dot / Math.sqrt(aa * bb) : 0;
    }
  return out;
}
