/**
 * The dot-product engine's layout (see scripts/gen.mjs): rows into and out of panels of P rows
 * interleaved chunk by chunk, and matrices transposed into it.
 */
import { scale4 } from './generated/simd';
import { sumSquares } from './rows';

/**
 * Rows of `src` (`rows` rows of `d` floats, `srcStride` floats apart) into panels of `P` rows
 * interleaved chunk by chunk, the layout of the dot-product engine (see scripts/gen.mjs): chunk q
 * of row r of panel g at `dst + (g * steps + q) * P * 16 + r * 16`, with `steps = ceil(d / 4)`.
 * Rows are scaled to unit norm when `normalize` (a zero row stays zero; see {@link scale4}). Padding lanes and the
 * missing rows of the last panel are zero.
 *
 * Returns, when normalising, the first row holding NaN or ±Infinity (its float64 sum of squares is
 * not finite: float32 squares cannot overflow it), else -1; such a row is stored as NaN or zeros,
 * so the caller must refuse it. The norms are float64 sums and the scaling is done in float64, so
 * finite rows of any magnitude come out exact: no square overflows or flushes to zero.
 */
export function pack(
  src: usize,
  rows: i32,
  d: i32,
  srcStride: i32,
  dst: usize,
  P: i32,
  normalize: bool,
): i32 {
  let bad = -1;
  const steps = (d + 3) >> 2;
  const full = d >> 2;
  const rem = d & 3;
  const chunk = (<usize>P) << 4;
  const panelBytes = <usize>steps * chunk;
  const total = ((rows + P - 1) / P) * P;
  const zero = f32x4.splat(0);
  // Whole panels of plain rows: the P rows' chunk q side by side, so the panel is written in
  // order (one pass of contiguous stores) rather than a 16-byte store every P * 16 bytes per row.
  const whole = normalize || P === 1 ? 0 : rows / P;
  const rowBytes = (<usize>srcStride) << 2;
  for (let g = 0; g < whole; g++) {
    let t = dst + <usize>g * panelBytes;
    const s0 = src + <usize>g * <usize>P * rowBytes;
    // P = 2, 3, 4 (the engine's tiles) unrolled: a loop over P rows per chunk costs 2x the copy.
    let q = 0;
    if (P === 4) {
      for (; q < full; q++) {
        const s = s0 + ((<usize>q) << 4);
        const v0 = v128.load(s);
        const v1 = v128.load(s + rowBytes);
        const v2 = v128.load(s + 2 * rowBytes);
        const v3 = v128.load(s + 3 * rowBytes);
        v128.store(t, v0);
        v128.store(t, v1, 16);
        v128.store(t, v2, 32);
        v128.store(t, v3, 48);
        t += 64;
      }
    } else if (P === 3) {
      for (; q < full; q++) {
        const s = s0 + ((<usize>q) << 4);
        const v0 = v128.load(s);
        const v1 = v128.load(s + rowBytes);
        const v2 = v128.load(s + 2 * rowBytes);
        v128.store(t, v0);
        v128.store(t, v1, 16);
        v128.store(t, v2, 32);
        t += 48;
      }
    } else if (P === 2) {
      for (; q < full; q++) {
        const s = s0 + ((<usize>q) << 4);
        const v0 = v128.load(s);
        const v1 = v128.load(s + rowBytes);
        v128.store(t, v0);
        v128.store(t, v1, 16);
        t += 32;
      }
    }
    for (; q < full; q++) {
      let s = s0 + ((<usize>q) << 4);
      for (let r = 0; r < P; r++) {
        v128.store(t, v128.load(s));
        t += 16;
        s += rowBytes;
      }
    }
    if (rem > 0) {
      let s = s0 + ((<usize>full) << 4);
      for (let r = 0; r < P; r++) {
        store<f32>(t, load<f32>(s));
        store<f32>(t + 4, rem > 1 ? load<f32>(s + 4) : 0);
        store<f32>(t + 8, rem > 2 ? load<f32>(s + 8) : 0);
        store<f32>(t + 12, 0);
        t += 16;
        s += rowBytes;
      }
    }
  }
  for (let i = whole * P; i < total; i++) {
    let t = dst + <usize>(i / P) * panelBytes + ((<usize>(i % P)) << 4);
    if (i >= rows) {
      for (let q = 0; q < steps; q++) {
        v128.store(t, zero);
        t += chunk;
      }
      continue;
    }
    const s = src + ((<usize>i * <usize>srcStride) << 2);
    let scale: f64 = 1;
    if (normalize) {
      const ss = sumSquares(s, d);
      if (!(ss < Infinity) && bad < 0) bad = i;
      scale = ss > 0 ? 1 / Math.sqrt(ss) : 0;
    }
    const vs = f64x2.splat(scale);
    for (let q = 0; q < full; q++) {
      const v = v128.load(s + ((<usize>q) << 4));
      v128.store(t, normalize ? scale4(v, vs) : v);
      t += chunk;
    }
    if (rem > 0) {
      const tail = s + ((<usize>full) << 4);
      store<f32>(t, <f32>(<f64>load<f32>(tail) * scale));
      store<f32>(t + 4, rem > 1 ? <f32>(<f64>load<f32>(tail + 4) * scale) : 0);
      store<f32>(t + 8, rem > 2 ? <f32>(<f64>load<f32>(tail + 8) * scale) : 0);
      store<f32>(t + 12, 0);
    }
  }
  return bad;
}

/** The inverse of {@link pack}: `rows` rows of `d` floats from panels of `P` into packed rows at `dst`. */
export function unpack(src: usize, rows: i32, d: i32, P: i32, dst: usize): void {
  const steps = (d + 3) >> 2;
  const full = d >> 2;
  const chunk = (<usize>P) << 4;
  const panelBytes = <usize>steps * chunk;
  for (let i = 0; i < rows; i++) {
    let s = src + <usize>(i / P) * panelBytes + ((<usize>(i % P)) << 4);
    const t = dst + ((<usize>i * <usize>d) << 2);
    for (let q = 0; q < full; q++) {
      v128.store(t + ((<usize>q) << 4), v128.load(s));
      s += chunk;
    }
    for (let p = full << 2; p < d; p++)
      store<f32>(t + ((<usize>p) << 2), load<f32>(s + ((<usize>(p & 3)) << 2)));
  }
}

/**
 * Byte address of chunk 0 of row `j` in a block whose rows [0, split) form panels of `P` rows and
 * whose rows from `split` on are single (the layout `pack` writes in two calls); chunk q is
 * `q * chunkStride(j)` further on.
 */
function rowStart(dst: usize, j: i32, P: i32, split: i32, steps: i32): usize {
  const rowBytes = (<usize>steps) << 4;
  if (j < split) return dst + <usize>(j / P) * rowBytes * <usize>P + ((<usize>(j % P)) << 4);
  const splitBytes = <usize>((split + P - 1) / P) * rowBytes * <usize>P;
  return dst + splitBytes + <usize>(j - split) * rowBytes;
}

/** Steps (4 source rows each) per block of {@link packTransposed}: 32 rows, at most 8 lines per L1 set. */
const TRANSPOSE_STEPS = 8;

function chunkStride(j: i32, P: i32, split: i32): usize {
  return j < split ? (<usize>P) << 4 : 16;
}

/**
 * The transpose of `src` (`rows` x `cols`, packed) written straight into the engine's layout: its
 * `cols` rows of `rows` floats, rows [0, split) in panels of `P` (the missing rows of a partial
 * last panel zeroed), the rest single. Four source rows x four columns per step, transposed in
 * registers.
 */
export function packTransposed(src: usize, rows: i32, cols: i32, dst: usize, P: i32, split: i32): void {
  const steps = (rows + 3) >> 2;
  const rowBytes = (<usize>cols) << 2;
  const zero = f32x4.splat(0);
  const chunk = (<usize>P) << 4;
  // Rows of the last panel that no column fills: zero them (panel layout, rows past `split`).
  for (let j = split; j < ((split + P - 1) / P) * P; j++) {
    let t = dst + <usize>(j / P) * ((<usize>steps) << 4) * <usize>P + ((<usize>(j % P)) << 4);
    for (let q = 0; q < steps; q++) {
      v128.store(t, zero);
      t += chunk;
    }
  }
  // Source rows in blocks of TRANSPOSE_STEPS steps (4 rows each), every group of 4 columns
  // passing over a block before the next: a block's lines stay in L1 until all their columns are
  // read, where walking one group of columns down every row (rows 1 KiB apart map to 4 of L1's
  // sets) had each line fetched again for each group of 4 columns in it.
  const cols4 = cols & ~3;
  for (let q0 = 0; q0 < steps; q0 += TRANSPOSE_STEPS) {
    const q1 = min(steps, q0 + TRANSPOSE_STEPS);
    for (let j0 = 0; j0 < cols4; j0 += 4) {
      const c0 = chunkStride(j0, P, split);
      const c1 = chunkStride(j0 + 1, P, split);
      const c2 = chunkStride(j0 + 2, P, split);
      const c3 = chunkStride(j0 + 3, P, split);
      let t0 = rowStart(dst, j0, P, split, steps) + <usize>q0 * c0;
      let t1 = rowStart(dst, j0 + 1, P, split, steps) + <usize>q0 * c1;
      let t2 = rowStart(dst, j0 + 2, P, split, steps) + <usize>q0 * c2;
      let t3 = rowStart(dst, j0 + 3, P, split, steps) + <usize>q0 * c3;
      let s = src + ((<usize>j0) << 2) + <usize>q0 * (rowBytes << 2);
      for (let q = q0; q < q1; q++) {
        const r = q << 2;
        const v0 = v128.load(s);
        let v1 = zero;
        let v2 = zero;
        let v3 = zero;
        if (r + 3 < rows) {
          v1 = v128.load(s + rowBytes);
          v2 = v128.load(s + 2 * rowBytes);
          v3 = v128.load(s + 3 * rowBytes);
        } else {
          // The last step of a row count not a multiple of 4: the missing rows are zero.
          if (r + 1 < rows) v1 = v128.load(s + rowBytes);
          if (r + 2 < rows) v2 = v128.load(s + 2 * rowBytes);
        }
        // 4 x 4 transpose: column t of (v0..v3) is the chunk of transposed row j0 + t.
        const a = v128.shuffle<f32>(v0, v1, 0, 4, 1, 5);
        const b = v128.shuffle<f32>(v2, v3, 0, 4, 1, 5);
        const c = v128.shuffle<f32>(v0, v1, 2, 6, 3, 7);
        const d = v128.shuffle<f32>(v2, v3, 2, 6, 3, 7);
        v128.store(t0, v128.shuffle<f32>(a, b, 0, 1, 4, 5));
        v128.store(t1, v128.shuffle<f32>(a, b, 2, 3, 6, 7));
        v128.store(t2, v128.shuffle<f32>(c, d, 0, 1, 4, 5));
        v128.store(t3, v128.shuffle<f32>(c, d, 2, 3, 6, 7));
        t0 += c0;
        t1 += c1;
        t2 += c2;
        t3 += c3;
        s += rowBytes << 2;
      }
    }
  }
  const j0 = cols4;
  for (let j = j0; j < cols; j++) {
    let t = rowStart(dst, j, P, split, steps);
    const cs = chunkStride(j, P, split);
    for (let q = 0; q < steps; q++) {
      for (let l = 0; l < 4; l++) {
        const p = (q << 2) + l;
        store<f32>(
          t + ((<usize>l) << 2),
          p < rows ? load<f32>(src + ((<usize>p * <usize>cols + <usize>j) << 2)) : 0,
        );
      }
      t += cs;
    }
  }
}
