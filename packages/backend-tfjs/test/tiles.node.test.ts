import type * as TF from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import type { KernelContext } from '../src/context.js';
import { initTfjsEngine } from '../src/index.js';
import { buildTiles, disposeTiles } from '../src/tiles.js';
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
