import { checkTopK, cos64, norms64 } from '@cosinekit/conformance';
import type { Matrix } from '@cosinekit/core/backend';
import { describe, expect, it } from 'vitest';
import { createWebGpuBackend } from '../src/index.js';
import { LANE_ROW_MAX } from '../src/wgsl.js';
import { webgpuSkipReason } from './available.js';

/**
 * Short rows. Rows of up to LANE_ROW_MAX floats are reduced one row per invocation, 64 rows a
 * workgroup; longer rows one row per workgroup. Both sides of that line, and row counts either side
 * of a whole workgroup of rows (the last workgroup's idle invocations must write nothing), held to
 * float64.
 */

const skip = await webgpuSkipReason();
if (skip) console.log(`[webgpu] short-row tests skipped: ${skip}`);

/**
 * `n` random rows of `d`, every seventh row zero (a zero row's result is documented: norm 0, zeros,
 * cosine 0). Scales from 0.01 to 100 go by element (`mixed`: sums of very different terms) or by
 * row (random directions: mixed elements make rows near-parallel to their largest axis).
 */
function rows(n: number, d: number, seed: number, mixed = true): Matrix {
  let s = seed;
  const data = new Float32Array(n * d);
  for (let i = 0; i < data.length; i++) {
    s = (s * 48271) % 2147483647;
    const r = Math.floor(i / d);
    data[i] = r % 7 === 3 ? 0 : (s / 1073741823.5 - 1) * 10 ** (((mixed ? i : r) % 5) - 2);
  }
  return { data, rows: n, cols: d };
}

describe.skipIf(skip !== null)('webgpu on short rows', () => {
  it('rowNorms, normalizeRows and cosineRows either side of one row per invocation, for row counts either side of a workgroup, within 2e-6 of float64', async () => {
    const b = createWebGpuBackend();
    try {
      const k = b.kernels;
      for (const d of [1, 2, 3, 17, LANE_ROW_MAX - 1, LANE_ROW_MAX, LANE_ROW_MAX + 1, 2 * LANE_ROW_MAX + 3]) {
        for (const n of [1, 63, 64, 65, 1000]) {
          const x = rows(n, d, 7 + d + n);
          const y = rows(n, d, 11 + d + n);
          const at = `d=${d} n=${n}`;
          const norms = await k.rowNorms!(x);
          const unit = await k.normalizeRows!(x);
          const cos = await k.cosineRows!(x, y);
          expect(norms.length, at).toBe(n);
          expect(unit.length, at).toBe(n * d);
          expect(cos.length, at).toBe(n);
          const n64 = norms64(x);
          for (let r = 0; r < n; r++) {
            const nx = n64[r];
            expect(Math.abs(norms[r] - nx), `${at} norm of row ${r}`).toBeLessThanOrEqual(2e-6 * nx);
            for (let j = 0; j < d; j++) {
              const want = nx > 0 ? x.data[r * d + j] / nx : 0;
              expect(Math.abs(unit[r * d + j] - want), `${at} row ${r}[${j}]`).toBeLessThan(2e-6);
            }
            expect(Math.abs(cos[r] - cos64(x, r, y, r)), `${at} cosine of row ${r}`).toBeLessThan(2e-6);
          }
        }
      }
    } finally {
      await b.dispose?.();
    }
  }, 300_000);

  it('a resident corpus of short rows: the exact top 3 of float64, each row found by its own copy at score 1, on both sides of the line', async () => {
    const b = createWebGpuBackend();
    try {
      const k = b.kernels;
      for (const d of [2, 5, LANE_ROW_MAX, LANE_ROW_MAX + 1]) {
        const c = rows(130, d, 3 + d, false);
        const h = await k.createCorpus!(c, { storage: 'float32', rerank: 0 });
        try {
          // 1 query (the few-query kernel) and 20 (the tiled product): the queries are normalised by
          // the same kernel as the rows, so an exact copy ties nothing above it.
          for (const picks of [[128], Array.from({ length: 20 }, (_, i) => 1 + i * 6)]) {
            const live = picks.filter((r) => r % 7 !== 3);
            const q: Matrix = {
              data: Float32Array.from(live.flatMap((r) => Array.from(c.data.subarray(r * d, (r + 1) * d)))),
              rows: live.length,
              cols: d,
            };
            const got = await k.corpusSearch!(h, q, 3);
            checkTopK(`d=${d}`, got, q, c, 3, 2e-6);
            for (let i = 0; i < live.length; i++) {
              expect(Math.abs(got.scores[3 * i] - 1), `d=${d} row ${live[i]}`).toBeLessThan(2e-6);
              // Its own row, or a lower one at the same angle to float32 (in 2 dimensions, 130
              // random rows hold such a pair): ties go to the lower index.
              expect(got.indices[3 * i], `d=${d} row ${live[i]}`).toBeLessThanOrEqual(live[i]);
              expect(Array.from(got.indices.subarray(3 * i, 3 * i + 3)), `d=${d} row ${live[i]}`).toContain(
                live[i],
              );
            }
          }
        } finally {
          h.dispose();
        }
      }
    } finally {
      await b.dispose?.();
    }
  }, 300_000);
});
