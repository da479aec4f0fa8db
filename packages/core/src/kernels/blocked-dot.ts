// biome-ignore-all format: hand-laid register tiles read best one tile row per line
/**
 * The reference backend's one inner engine: dot products between row blocks staged in ONE
 * Float64Array. V8 does not vectorise, so speed comes from
 * - register blocking: a 2x4 tile (8 accumulators, 6 loads per step) measured fastest. V8 has 15
 *   usable xmm registers and schedules every product of a step before its adds, so even 2x4 keeps
 *   two accumulators on the stack; a 4x4 tile spills ten products and accumulators every step;
 * - float64 staging: no float32-to-float64 conversion in the inner loop (1.45x measured here);
 * - one array for both operands: V8 re-checks a typed array's map and reloads its length and base
 *   every loop iteration, once per array read, so reading one array halves that work;
 * - int32 index arithmetic (`| 0`), which drops an overflow check from every load.
 * Together about 15-20% over a 4x4 tile on two arrays (2x4 on one array: 3.9-4.1 GFLOP/s against
 * 3.4-3.6 in the same process on this machine).
 */

import { argError } from '../errors.js';

/** The largest staging array the int32 index arithmetic of {@link dotTiles} can address. */
export const MAX_STAGE = 0x7fffffff;

/**
 * `out[oo + i * ldo + j] = dot(s[ao + i*d ..], s[bo + j*d ..])` for `i < m`, `j < n`: all rows of
 * both operands live in the one staging array `s` (row-major, row length `d`). Each output is one
 * float64 sum taken in order of `p`, so a value does not depend on the tile it fell in.
 */
export function dotTiles(
  s: Float64Array,
  ao: number,
  m: number,
  bo: number,
  n: number,
  d: number,
  out: Float64Array | Float32Array,
  oo: number,
  ldo: number,
): void {
  if (s.length > MAX_STAGE) {
    argError('OUT_OF_MEMORY', 'dotTiles', 's', `is a staging array of ${s.length} values, over 2^31 - 1.`);
  }
  let i = 0;
  for (; i + 2 <= m; i += 2) {
    const a0 = (ao + i * d) | 0;
    const a1 = (a0 + d) | 0;
    const r0 = oo + i * ldo;
    const r1 = r0 + ldo;
    let j = 0;
    for (; j + 4 <= n; j += 4) {
      const b0 = (bo + j * d) | 0;
      const b1 = (b0 + d) | 0, b2 = (b1 + d) | 0, b3 = (b2 + d) | 0;
      let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
      for (let p = 0; p < d; p++) {
        const y0 = s[(b0 + p) | 0], y1 = s[(b1 + p) | 0], y2 = s[(b2 + p) | 0], y3 = s[(b3 + p) | 0];
        const x0 = s[(a0 + p) | 0];
        s00 += x0 * y0; s01 += x0 * y1; s02 += x0 * y2; s03 += x0 * y3;
        const x1 = s[(a1 + p) | 0];
        s10 += x1 * y0; s11 += x1 * y1; s12 += x1 * y2; s13 += x1 * y3;
      }
      out[r0 + j] = s00; out[r0 + j + 1] = s01; out[r0 + j + 2] = s02; out[r0 + j + 3] = s03;
      out[r1 + j] = s10; out[r1 + j + 1] = s11; out[r1 + j + 2] = s12; out[r1 + j + 3] = s13;
    }
    for (; j < n; j++) {
      const b0 = (bo + j * d) | 0;
      let t0 = 0, t1 = 0;
      for (let p = 0; p < d; p++) {
        const y = s[(b0 + p) | 0];
        t0 += s[(a0 + p) | 0] * y; t1 += s[(a1 + p) | 0] * y;
      }
      out[r0 + j] = t0; out[r1 + j] = t1;
    }
  }
  if (i < m) {
    const a0 = (ao + i * d) | 0;
    const r0 = oo + i * ldo;
    let j = 0;
    for (; j + 4 <= n; j += 4) {
      const b0 = (bo + j * d) | 0;
      const b1 = (b0 + d) | 0, b2 = (b1 + d) | 0, b3 = (b2 + d) | 0;
      let t0 = 0, t1 = 0, t2 = 0, t3 = 0;
      for (let p = 0; p < d; p++) {
        const x = s[(a0 + p) | 0];
        t0 += x * s[(b0 + p) | 0]; t1 += x * s[(b1 + p) | 0]; t2 += x * s[(b2 + p) | 0]; t3 += x * s[(b3 + p) | 0];
      }
      out[r0 + j] = t0; out[r0 + j + 1] = t1; out[r0 + j + 2] = t2; out[r0 + j + 3] = t3;
    }
    for (; j < n; j++) {
      const b0 = (bo + j * d) | 0;
      let t = 0;
      for (let p = 0; p < d; p++) t += s[(a0 + p) | 0] * s[(b0 + p) | 0];
      out[r0 + j] = t;
    }
  }
}

/**
 * Copies rows `[r0, r1)` of the float32 matrix `data` (row length `d`) into `s` from offset `at`, as
 * float64 and, when `normalize`, scaled to unit L2 norm (a zero row stays zero).
 */
export function stageRows(
  data: Float32Array,
  r0: number,
  r1: number,
  d: number,
  s: Float64Array,
  at: number,
  normalize: boolean,
): void {
  for (let r = r0; r < r1; r++) {
    const src = r * d;
    const dst = at + (r - r0) * d;
    let ss = 0;
    for (let p = 0; p < d; p++) {
      const v = data[src + p];
      s[dst + p] = v;
      ss += v * v;
    }
    if (normalize && ss > 0) {
      const inv = 1 / Math.sqrt(ss);
      for (let p = 0; p < d; p++) s[dst + p] *= inv;
    }
  }
}

/**
 * The dot product of `d` float64 values at `a[ao..]` and `b[bo..]`, summed in order as
 * {@link dotTiles} sums each of its products: a re-ranked search's exact scores are then the float32
 * search's, bit for bit (with four running sums they differed in the last bit, and near a
 * cancellation ordered rows apart).
 */
export function dot64(a: Float64Array, ao: number, b: Float64Array, bo: number, d: number): number {
  let s = 0;
  for (let p = 0; p < d; p++) s += a[ao + p] * b[bo + p];
  return s;
}

/** Rows of `data` scaled to unit L2 norm, in float64; zero rows stay zero. */
export function normalizedF64(data: Float32Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  stageRows(data, 0, rows, cols, out, 0, true);
  return out;
}
