/**
 * int8 corpus storage: rows normalised, then quantised symmetrically with one scale per row, so a
 * search reads a quarter of the bytes of float32 rows. Scores are approximate (about 1e-2) unless
 * the best candidates are re-ranked against float32 rows.
 */
import { madd } from './generated/simd';
import { sumSquares } from './rows';
import { SPAN_STEPS } from './spans';

/**
 * Largest |x| of `n` floats at `p`: NaN when one is NaN, +Infinity when one is infinite. The
 * largest of the bit patterns with the sign cleared (which order as the magnitudes do, NaN above
 * Infinity), four chains of one integer max each: `f32x4.max` with its NaN and -0 rules is a long
 * sequence on x64, and one chain of it waited on itself.
 */
function absMax(p: usize, n: i32): f32 {
  const mask = i32x4.splat(0x7fffffff);
  let m0 = i32x4.splat(0);
  let m1 = i32x4.splat(0);
  let m2 = i32x4.splat(0);
  let m3 = i32x4.splat(0);
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const a = p + ((<usize>i) << 2);
    m0 = i32x4.max_u(m0, v128.and(v128.load(a), mask));
    m1 = i32x4.max_u(m1, v128.and(v128.load(a, 16), mask));
    m2 = i32x4.max_u(m2, v128.and(v128.load(a, 32), mask));
    m3 = i32x4.max_u(m3, v128.and(v128.load(a, 48), mask));
  }
  for (; i + 4 <= n; i += 4) m0 = i32x4.max_u(m0, v128.and(v128.load(p + ((<usize>i) << 2)), mask));
  const m = i32x4.max_u(i32x4.max_u(m0, m1), i32x4.max_u(m2, m3));
  let r = max(
    max(<u32>i32x4.extract_lane(m, 0), <u32>i32x4.extract_lane(m, 1)),
    max(<u32>i32x4.extract_lane(m, 2), <u32>i32x4.extract_lane(m, 3)),
  );
  for (; i < n; i++) r = max(r, load<u32>(p + ((<usize>i) << 2)) & 0x7fffffff);
  return reinterpret<f32>(r);
}

/** Four floats at `p` times `q`, rounded to nearest and saturated to int32 lanes. */
function quant4(p: usize, q: v128): v128 {
  return i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(p), q)));
}

/**
 * Normalises and quantises `rows` packed rows of `d` floats into int8 rows of `stride` bytes (a
 * multiple of 16, zero padded), writing each row's scale (`max |x| / 127` of the normalised row)
 * to `scales`. A zero row becomes zeros with scale 0. Sixteen values per step: scaled, rounded,
 * then narrowed with saturation (values stay within [-127, 127] by construction).
 *
 * Rows of any finite magnitude: a row whose largest |x| is past 2^40, or below 2^-40 and not zero,
 * is first multiplied in place (at `src`) by the power of two that puts that largest value in
 * [0.5, 1), each value rounded once to float32: what the kit's gate does to such a row, so rows
 * handed over unchecked get the codes and scales the gated ones get (and 127 / max stays a normal
 * float32). Returns the first row holding NaN or ±Infinity (nothing after it written), or -1.
 */
export function quantizeRows(src: usize, rows: i32, d: i32, dst: usize, stride: i32, scales: usize): i32 {
  for (let i = 0; i < rows; i++) {
    const s = src + ((<usize>i * <usize>d) << 2);
    const t = dst + <usize>i * <usize>stride;
    let m = absMax(s, d);
    if (!(m <= F32.MAX_VALUE)) return i;
    if (m > TWO_40 || (m > 0 && m < TWO_M40)) {
      // m as float64 is normal: its exponent E gives m in [2^E, 2^(E+1)), so 2^-(E+1).
      const e = <i32>((reinterpret<u64>(<f64>m) >> 52) & 0x7ff) - 1023;
      const f = reinterpret<f64>((<u64>(1022 - e)) << 52);
      for (let p = 0; p < d; p++) {
        const a = s + ((<usize>p) << 2);
        store<f32>(a, <f32>(<f64>load<f32>(a) * f));
      }
      // Exact (m f is in [0.5, 1)), and still the largest: rounding keeps the order.
      m = <f32>(<f64>m * f);
    }
    const ss = sumSquares(s, d);
    const inv = ss > 0 ? 1 / Math.sqrt(ss) : 0;
    const amax = <f64>m * inv;
    const qs = amax > 0 ? <f32>((127 / amax) * inv) : <f32>0;
    const q = f32x4.splat(qs);
    let p = 0;
    for (; p + 16 <= d; p += 16) {
      const a = s + ((<usize>p) << 2);
      const lo = i16x8.narrow_i32x4_s(quant4(a, q), quant4(a + 16, q));
      const hi = i16x8.narrow_i32x4_s(quant4(a + 32, q), quant4(a + 48, q));
      v128.store(t + <usize>p, i8x16.narrow_i16x8_s(lo, hi));
    }
    for (; p < d; p++) {
      const v = <i32>nearest<f32>(load<f32>(s + ((<usize>p) << 2)) * qs);
      store<i8>(t + <usize>p, <i8>max(-127, min(127, v)));
    }
    memory.fill(t + <usize>d, 0, <usize>(stride - d));
    store<f32>(scales + ((<usize>i) << 2), <f32>(amax / 127));
  }
  return -1;
}

/** 2^40 and 2^-40: the kit's gate rescales rows whose largest magnitude is outside [2^-40, 2^40]. */
const TWO_40: f32 = 1099511627776.0;
const TWO_M40: f32 = 9.094947017729282e-13;

/** Integer dot product of two int8 runs of `bytes` bytes (a multiple of 16), as four i32 partial sums. */
function dot16(x: usize, y: usize, bytes: usize, acc: v128): v128 {
  for (let p: usize = 0; p < bytes; p += 16) {
    const a = v128.load(x + p);
    const b = v128.load(y + p);
    acc = i32x4.add(acc, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(a), i16x8.extend_low_i8x16_s(b)));
    acc = i32x4.add(acc, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(a), i16x8.extend_high_i8x16_s(b)));
  }
  return acc;
}

/**
 * A score clamped to [-1, 1] where it is computed, so a search selects by the very values it
 * reports: two rows that both come out above 1 are reported as 1 and must tie (lower index first),
 * not be ranked by an excess nobody sees.
 */
function clamp1(s: f32): f32 {
  return min<f32>(max<f32>(s, -1), 1);
}

/** Sum of the four i32 lanes. */
function isum(v: v128): i32 {
  return (
    i32x4.extract_lane(v, 0) + i32x4.extract_lane(v, 1) + i32x4.extract_lane(v, 2) + i32x4.extract_lane(v, 3)
  );
}

/** `acc` plus the integer dot products of 16 int8 values (`xl`, `xh`: the query's, widened) with `y`'s. */
function dotStep(xl: v128, xh: v128, y: v128, acc: v128): v128 {
  return dotWide(xl, xh, i16x8.extend_low_i8x16_s(y), i16x8.extend_high_i8x16_s(y), acc);
}

/** {@link dotStep} with `y` already widened to `yl`, `yh` (one row chunk shared by two queries). */
function dotWide(xl: v128, xh: v128, yl: v128, yh: v128, acc: v128): v128 {
  return i32x4.add(acc, i32x4.add(i32x4.dot_i16x8_s(xl, yl), i32x4.dot_i16x8_s(xh, yh)));
}

/** Stores the scores of four rows from their sums (`out` and `scales` at the first row's). */
function store4(a0: v128, a1: v128, a2: v128, a3: v128, qscale: f32, scales: usize, out: usize): void {
  store<f32>(out, clamp1(<f32>isum(a0) * qscale * load<f32>(scales)));
  store<f32>(out + 4, clamp1(<f32>isum(a1) * qscale * load<f32>(scales + 4)));
  store<f32>(out + 8, clamp1(<f32>isum(a2) * qscale * load<f32>(scales + 8)));
  store<f32>(out + 12, clamp1(<f32>isum(a3) * qscale * load<f32>(scales + 12)));
}

/**
 * Approximate cosines of one quantised query against `n` quantised rows (`stride` bytes apart):
 * `out[j] = qscale * scales[j] * (q . c_j)`, clamped to [-1, 1]; each loaded query chunk serves
 * four rows. The first `2h` rows (`h` = half of `n`, even) go two and two far apart,
 * rows `j, j+1` with rows `h+j, h+j+1`: two streams from memory keep more reads in flight than one
 * (`scripts/int8-ab.mjs`: a one-query search 1.2-1.5x as fast at d = 96 to 1536, 1.1x at 3072,
 * on 1 and 2 threads; four and four rows was as fast at d <= 384 and slower above, with eight sums
 * live); the rest go four at a time. The sums are integers, so the scores are the same whatever
 * the grouping.
 */
export function dotsI8(
  q: usize,
  qscale: f32,
  c: usize,
  n: i32,
  stride: i32,
  scales: usize,
  out: usize,
): void {
  const bytes = <usize>stride;
  const h = (n >> 1) & ~1;
  const far = <usize>h * bytes;
  for (let j = 0; j < h; j += 2) {
    const r0 = c + <usize>j * bytes;
    const r1 = r0 + bytes;
    let a0 = i32x4.splat(0);
    let a1 = i32x4.splat(0);
    let b0 = i32x4.splat(0);
    let b1 = i32x4.splat(0);
    for (let p: usize = 0; p < bytes; p += 16) {
      const x = v128.load(q + p);
      const xl = i16x8.extend_low_i8x16_s(x);
      const xh = i16x8.extend_high_i8x16_s(x);
      a0 = dotStep(xl, xh, v128.load(r0 + p), a0);
      b0 = dotStep(xl, xh, v128.load(r0 + far + p), b0);
      a1 = dotStep(xl, xh, v128.load(r1 + p), a1);
      b1 = dotStep(xl, xh, v128.load(r1 + far + p), b1);
    }
    const sc = scales + ((<usize>j) << 2);
    const o = out + ((<usize>j) << 2);
    const hb = (<usize>h) << 2;
    store<f32>(o, clamp1(<f32>isum(a0) * qscale * load<f32>(sc)));
    store<f32>(o + 4, clamp1(<f32>isum(a1) * qscale * load<f32>(sc + 4)));
    store<f32>(o + hb, clamp1(<f32>isum(b0) * qscale * load<f32>(sc + hb)));
    store<f32>(o + hb + 4, clamp1(<f32>isum(b1) * qscale * load<f32>(sc + hb + 4)));
  }
  let j = 2 * h;
  for (; j + 4 <= n; j += 4) {
    const r0 = c + <usize>j * bytes;
    const r1 = r0 + bytes;
    const r2 = r1 + bytes;
    const r3 = r2 + bytes;
    let a0 = i32x4.splat(0);
    let a1 = i32x4.splat(0);
    let a2 = i32x4.splat(0);
    let a3 = i32x4.splat(0);
    for (let p: usize = 0; p < bytes; p += 16) {
      const x = v128.load(q + p);
      const xl = i16x8.extend_low_i8x16_s(x);
      const xh = i16x8.extend_high_i8x16_s(x);
      a0 = dotStep(xl, xh, v128.load(r0 + p), a0);
      a1 = dotStep(xl, xh, v128.load(r1 + p), a1);
      a2 = dotStep(xl, xh, v128.load(r2 + p), a2);
      a3 = dotStep(xl, xh, v128.load(r3 + p), a3);
    }
    store4(a0, a1, a2, a3, qscale, scales + ((<usize>j) << 2), out + ((<usize>j) << 2));
  }
  for (; j < n; j++) {
    const acc = dot16(q, c + <usize>j * bytes, bytes, i32x4.splat(0));
    store<f32>(
      out + ((<usize>j) << 2),
      clamp1(<f32>isum(acc) * qscale * load<f32>(scales + ((<usize>j) << 2))),
    );
  }
}

/** `out[i * d + p] = q_ip * scale_i`: the quantised rows back as floats (normalised, approximately). */
export function dequantizeRows(src: usize, rows: i32, d: i32, stride: i32, scales: usize, out: usize): void {
  for (let i = 0; i < rows; i++) {
    const s = src + <usize>i * <usize>stride;
    const t = out + ((<usize>i * <usize>d) << 2);
    const sc = load<f32>(scales + ((<usize>i) << 2));
    for (let p = 0; p < d; p++) store<f32>(t + ((<usize>p) << 2), <f32>load<i8>(s + <usize>p) * sc);
  }
}

/**
 * Exact dot products of one plain row `q` (`steps` chunks of 4 floats) with chosen rows of a corpus
 * in the engine's panel layout (panels of `P` rows): `out[t] = q . row(idx[t])`, clamped to
 * [-1, 1], for re-ranking. Summed as the float32 search sums a row, with its `madd` (fused in the
 * relaxed build: a multiply then an add here gave scores an ulp off the search's, and other rows).
 */
export function rowDots(q: usize, c: usize, P: i32, steps: i32, idx: usize, count: i32, out: usize): void {
  const chunk = (<usize>P) << 4;
  const panelBytes = <usize>steps * chunk;
  // Four rows at a time: four independent chains (one alone waits on each add, and on each row's
  // scattered loads), each summed in the order of the one-row loop below, so the bits are the same.
  let t = 0;
  for (; t + 4 <= count; t += 4) {
    const j0 = load<i32>(idx + ((<usize>t) << 2));
    const j1 = load<i32>(idx + ((<usize>t) << 2), 4);
    const j2 = load<i32>(idx + ((<usize>t) << 2), 8);
    const j3 = load<i32>(idx + ((<usize>t) << 2), 12);
    let r0 = c + <usize>(j0 / P) * panelBytes + ((<usize>(j0 % P)) << 4);
    let r1 = c + <usize>(j1 / P) * panelBytes + ((<usize>(j1 % P)) << 4);
    let r2 = c + <usize>(j2 / P) * panelBytes + ((<usize>(j2 % P)) << 4);
    let r3 = c + <usize>(j3 / P) * panelBytes + ((<usize>(j3 % P)) << 4);
    let t0: f32 = 0;
    let t1: f32 = 0;
    let t2: f32 = 0;
    let t3: f32 = 0;
    for (let s0: usize = 0; s0 < <usize>steps; s0 += <usize>SPAN_STEPS) {
      const s1 = min<usize>(<usize>steps, s0 + <usize>SPAN_STEPS);
      let a0 = f32x4.splat(0);
      let a1 = f32x4.splat(0);
      let a2 = f32x4.splat(0);
      let a3 = f32x4.splat(0);
      for (let s = s0; s < s1; s++) {
        const x = v128.load(q + (s << 4));
        a0 = madd(x, v128.load(r0), a0);
        a1 = madd(x, v128.load(r1), a1);
        a2 = madd(x, v128.load(r2), a2);
        a3 = madd(x, v128.load(r3), a3);
        r0 += chunk;
        r1 += chunk;
        r2 += chunk;
        r3 += chunk;
      }
      const u0 = laneSum(a0);
      const u1 = laneSum(a1);
      const u2 = laneSum(a2);
      const u3 = laneSum(a3);
      t0 = s0 === 0 ? u0 : t0 + u0;
      t1 = s0 === 0 ? u1 : t1 + u1;
      t2 = s0 === 0 ? u2 : t2 + u2;
      t3 = s0 === 0 ? u3 : t3 + u3;
    }
    store<f32>(out + ((<usize>t) << 2), clamp1(t0));
    store<f32>(out + ((<usize>t) << 2), clamp1(t1), 4);
    store<f32>(out + ((<usize>t) << 2), clamp1(t2), 8);
    store<f32>(out + ((<usize>t) << 2), clamp1(t3), 12);
  }
  for (; t < count; t++) {
    const j = load<i32>(idx + ((<usize>t) << 2));
    let r = c + <usize>(j / P) * panelBytes + ((<usize>(j % P)) << 4);
    // Span by span, as the search sums long rows (see spans.ts): the same bits as its scores.
    let total: f32 = 0;
    for (let s0: usize = 0; s0 < <usize>steps; s0 += <usize>SPAN_STEPS) {
      const s1 = min<usize>(<usize>steps, s0 + <usize>SPAN_STEPS);
      let acc = f32x4.splat(0);
      for (let s = s0; s < s1; s++) {
        acc = madd(v128.load(q + (s << 4)), v128.load(r), acc);
        r += chunk;
      }
      const sum = laneSum(acc);
      total = s0 === 0 ? sum : total + sum;
    }
    store<f32>(out + ((<usize>t) << 2), clamp1(total));
  }
}

/** `(v0 + v1) + (v2 + v3)` in float32: a span's sum, as the search's spans add their lanes. */
function laneSum(v: v128): f32 {
  return (
    f32x4.extract_lane(v, 0) +
    f32x4.extract_lane(v, 1) +
    (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3))
  );
}

/**
 * `dotsI8` for `nq` quantised queries (`qstride` bytes apart, scales at `qscales`) against the same
 * `n` rows: `out[i * ldo + j]`. Called on a tile of rows small enough to stay in cache, it reads the
 * rows from memory once for all the queries. Queries go two at a time (`dotsI8Pair`), so each row
 * chunk is widened to 16 bits once for both; an odd last query goes alone.
 */
export function dotsI8Batch(
  q: usize,
  nq: i32,
  qscales: usize,
  c: usize,
  n: i32,
  stride: i32,
  scales: usize,
  out: usize,
  ldo: i32,
): void {
  let i = 0;
  for (; i + 2 <= nq; i += 2) {
    dotsI8Pair(
      q + <usize>i * <usize>stride,
      load<f32>(qscales + ((<usize>i) << 2)),
      load<f32>(qscales + ((<usize>(i + 1)) << 2)),
      c,
      n,
      stride,
      scales,
      out + ((<usize>i * <usize>ldo) << 2),
      (<usize>ldo) << 2,
    );
  }
  if (i < nq) {
    dotsI8(
      q + <usize>i * <usize>stride,
      load<f32>(qscales + ((<usize>i) << 2)),
      c,
      n,
      stride,
      scales,
      out + ((<usize>i * <usize>ldo) << 2),
    );
  }
}

/**
 * Two quantised queries (`q` and `q + stride`) against `n` rows, four rows at a time: eight sums,
 * the two queries' widened halves, and each row chunk widened once for both. Outputs of the second
 * query `ldoBytes` after the first's. The sums are integers, so the scores are `dotsI8`'s.
 */
function dotsI8Pair(
  q: usize,
  qscale0: f32,
  qscale1: f32,
  c: usize,
  n: i32,
  stride: i32,
  scales: usize,
  out: usize,
  ldoBytes: usize,
): void {
  const bytes = <usize>stride;
  const q1 = q + bytes;
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const r0 = c + <usize>j * bytes;
    let a0 = i32x4.splat(0);
    let a1 = i32x4.splat(0);
    let a2 = i32x4.splat(0);
    let a3 = i32x4.splat(0);
    let b0 = i32x4.splat(0);
    let b1 = i32x4.splat(0);
    let b2 = i32x4.splat(0);
    let b3 = i32x4.splat(0);
    for (let p: usize = 0; p < bytes; p += 16) {
      const x = v128.load(q + p);
      const xl = i16x8.extend_low_i8x16_s(x);
      const xh = i16x8.extend_high_i8x16_s(x);
      const z = v128.load(q1 + p);
      const zl = i16x8.extend_low_i8x16_s(z);
      const zh = i16x8.extend_high_i8x16_s(z);
      let y = v128.load(r0 + p);
      let yl = i16x8.extend_low_i8x16_s(y);
      let yh = i16x8.extend_high_i8x16_s(y);
      a0 = dotWide(xl, xh, yl, yh, a0);
      b0 = dotWide(zl, zh, yl, yh, b0);
      y = v128.load(r0 + bytes + p);
      yl = i16x8.extend_low_i8x16_s(y);
      yh = i16x8.extend_high_i8x16_s(y);
      a1 = dotWide(xl, xh, yl, yh, a1);
      b1 = dotWide(zl, zh, yl, yh, b1);
      y = v128.load(r0 + 2 * bytes + p);
      yl = i16x8.extend_low_i8x16_s(y);
      yh = i16x8.extend_high_i8x16_s(y);
      a2 = dotWide(xl, xh, yl, yh, a2);
      b2 = dotWide(zl, zh, yl, yh, b2);
      y = v128.load(r0 + 3 * bytes + p);
      yl = i16x8.extend_low_i8x16_s(y);
      yh = i16x8.extend_high_i8x16_s(y);
      a3 = dotWide(xl, xh, yl, yh, a3);
      b3 = dotWide(zl, zh, yl, yh, b3);
    }
    const sc = scales + ((<usize>j) << 2);
    const o = out + ((<usize>j) << 2);
    store4(a0, a1, a2, a3, qscale0, sc, o);
    store4(b0, b1, b2, b3, qscale1, sc, o + ldoBytes);
  }
  for (; j < n; j++) {
    const r = c + <usize>j * bytes;
    const sc = load<f32>(scales + ((<usize>j) << 2));
    const o = out + ((<usize>j) << 2);
    store<f32>(o, clamp1(<f32>isum(dot16(q, r, bytes, i32x4.splat(0))) * qscale0 * sc));
    store<f32>(o + ldoBytes, clamp1(<f32>isum(dot16(q1, r, bytes, i32x4.splat(0))) * qscale1 * sc));
  }
}
