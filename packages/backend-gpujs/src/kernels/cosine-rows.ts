import type { Matrix } from '@cosinekit/core/backend';
import { type Engine, matrixArg, vectorOf } from '../engine.js';

/**
 * `cos(a_r, b_r)` in one kernel: each row scaled by its max |value| first (so float32 neither
 * overflows nor underflows), then dot and both squared norms, each summed in blocks of 256. Zero row gives 0; clamped. Both rules
 * restate core's `cosineFrom`: this source compiles to a shader, which cannot import it.
 */
const COSINE_ROWS = `function (a, b) {
  const r = this.thread.x;
  let ma = 0.0;
  let mb = 0.0;
  for (let p = 0; p < this.constants.d; p++) {
    ma = Math.max(ma, Math.abs(a[r][p]));
    mb = Math.max(mb, Math.abs(b[r][p]));
  }
  if (ma == 0.0 || mb == 0.0) {
    return 0.0;
  }
  let ab = 0.0;
  let aa = 0.0;
  let bb = 0.0;
  let tab = 0.0;
  let taa = 0.0;
  let tbb = 0.0;
  let gab = 0.0;
  let gaa = 0.0;
  let gbb = 0.0;
  for (let p = 0; p < this.constants.d; p++) {
    const u = a[r][p] / ma;
    const v = b[r][p] / mb;
    tab += u * v;
    taa += u * u;
    tbb += v * v;
    if (p % 256 == 255) {
      ab += tab;
      aa += taa;
      bb += tbb;
      tab = 0.0;
      taa = 0.0;
      tbb = 0.0;
      if (p % 16384 == 16383) {
        gab += ab;
        gaa += aa;
        gbb += bb;
        ab = 0.0;
        aa = 0.0;
        bb = 0.0;
      }
    }
  }
  ab += tab;
  aa += taa;
  bb += tbb;
  ab += gab;
  aa += gaa;
  bb += gbb;
  return Math.min(1.0, Math.max(-1.0, ab / (Math.sqrt(aa) * Math.sqrt(bb))));
}`;

/** `cosineRows`: one thread per row pair, in row chunks that fit the texture limit. */
export function cosineRows(
  engine: Engine,
  a: Matrix,
  b: Matrix,
  out: Float32Array = new Float32Array(a.rows),
): Float32Array {
  const d = a.cols;
  const key = `cosineRows:${d}`;
  const k = engine.kernel(key, () => ({ source: COSINE_ROWS, constants: { d }, steps: 2 * d }));
  // A 1D output is laid out near-square, so max^2 rows fit one texture; inputs are packed 4 a texel.
  const max = engine.maxTextureSize;
  const step = Math.max(
    1,
    Math.min(a.rows, (max - 2) * (max - 2), Math.floor((4 * (max - 2) * (max - 2)) / d)),
  );
  for (let r0 = 0; r0 < a.rows; r0 += step) {
    const n = Math.min(step, a.rows - r0);
    const v = engine.run(
      key,
      k,
      [n],
      matrixArg(engine, a.data.subarray(r0 * d, (r0 + n) * d), n, d),
      matrixArg(engine, b.data.subarray(r0 * d, (r0 + n) * d), n, d),
    );
    out.set(vectorOf(v).subarray(0, n), r0);
  }
  return out;
}
