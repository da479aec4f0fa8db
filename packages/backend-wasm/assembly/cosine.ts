/**
 * Cosines computed row by row rather than by the dot-product engine: of row pairs (`cosineRows`)
 * and of resident vectors (`vectorCosine`).
 */
import { madd } from './generated/simd';
import { sumSquares } from './rows';

/**
 * `out[i] = cos(a_i, b_i)` for `rows` packed rows of `d` floats each, row by row as
 * {@link pairCosine} computes one pair: within 1.5e-6 of float64 for finite values of any
 * magnitude, NaN for a row holding NaN or ±Infinity (the kit relies on both, see `ungated` in
 * src/backend.ts).
 */
export function cosineRows(a: usize, b: usize, rows: i32, d: i32, out: usize): void {
  const rowBytes = (<usize>d) << 2;
  for (let i = 0; i < rows; i++) {
    const o = <usize>i * rowBytes;
    store<f32>(out + ((<usize>i) << 2), <f32>pairCosine(a + o, b + o, d));
  }
}

/** Stores the norm of the resident vector at `v` (`d` floats, zero-padded to a multiple of 4) in its header. */
export function vectorPrepare(v: usize, d: i32): void {
  store<f64>(v - 8, Math.sqrt(sumSquares(v, d)));
}

/**
 * Cosine of two resident vectors prepared by {@link vectorPrepare}: one pass of dot products, the
 * norms read from the headers. Both hold `d` floats zero-padded to a multiple of 4, 16-aligned.
 * Products and sums in float32 over blocks of 64 floats, each block's sum added into float64, as
 * {@link pairCosine} does (one float32 chain over the whole vector lost 1e-4 at d = 100,000). Where
 * float32 products could overflow or lose digits (the product of the norms beyond 1e37, a squared
 * norm below 2^-100) the pair is computed by {@link pairCosineExact}, exact for any float32 values.
 */
export function vectorCosine(a: usize, b: usize, d: i32): f32 {
  const na = load<f64>(a - 8);
  const nb = load<f64>(b - 8);
  if (na === 0 || nb === 0) return 0;
  const bytes = (<usize>((d + 3) & ~3)) << 2;
  // Where float32 products could overflow or lose digits: every product in float64 (rare).
  if (!(na * nb < 1e37 && na * na >= PAIR_TINY && nb * nb >= PAIR_TINY)) return <f32>pairCosineExact(a, b, d);
  // By Cauchy-Schwarz no product nor partial sum exceeds na * nb: float32 cannot overflow.
  const whole = bytes & ~(<usize>63);
  let dot: f64 = 0;
  let p: usize = 0;
  while (p < whole) {
    const end = min(whole, p + (PAIR_BLOCK << 2));
    let s0 = f32x4.splat(0);
    let s1 = f32x4.splat(0);
    let s2 = f32x4.splat(0);
    let s3 = f32x4.splat(0);
    for (; p < end; p += 64) {
      s0 = madd(v128.load(a + p), v128.load(b + p), s0);
      s1 = madd(v128.load(a + p, 16), v128.load(b + p, 16), s1);
      s2 = madd(v128.load(a + p, 32), v128.load(b + p, 32), s2);
      s3 = madd(v128.load(a + p, 48), v128.load(b + p, 48), s3);
    }
    dot += wide(f32x4.add(f32x4.add(s0, s1), f32x4.add(s2, s3)));
  }
  let s = f32x4.splat(0);
  for (; p < bytes; p += 16) s = madd(v128.load(a + p), v128.load(b + p), s);
  dot += wide(s);
  const c = dot / na / nb;
  return <f32>(c > 1 ? 1 : c < -1 ? -1 : c);
}

/** Floats per block of {@link pairCosine}'s float32 sums before they are added into float64. */
const PAIR_BLOCK = 64;
/** Below this sum of squares (2^-100), float32 products of the smallest values lose digits. */
const PAIR_TINY: f64 = 7.888609052210118e-31;

/**
 * Cosine of two runs of `d` floats at `a` and `b` (16-byte aligned is fastest), for one pair handed
 * over from JS or one row pair of {@link cosineRows}. Products and sums in float32 over blocks of 64 floats (two accumulators per sum), each
 * block's three sums added into float64 together (see {@link blockSums}): the error is at most
 * 1.5e-6 (each block sum of 64 products takes at most 11 float32 roundings, within 12 * 2^-24 of
 * exact relative to the magnitudes summed) and in practice about 1e-8, at the speed of float32. Where float32 could overflow or lose digits
 * (a sum of squares not finite or below 2^-100: values beyond about 1e19 or below 1e-19, zero
 * vectors, NaN, ±Infinity) the pair is computed again by {@link pairCosineExact}.
 */
export function pairCosine(a: usize, b: usize, d: i32): f64 {
  // Lanes: [dot, aa] and [bb, 0], each block's sums added in float64.
  let lo = f64x2.splat(0);
  let hi = f64x2.splat(0);
  const full = (<usize>(d >> 3)) << 5;
  let p: usize = 0;
  while (p < full) {
    const end = min(full, p + (PAIR_BLOCK << 2));
    let d0 = f32x4.splat(0);
    let d1 = f32x4.splat(0);
    let x0 = f32x4.splat(0);
    let x1 = f32x4.splat(0);
    let y0 = f32x4.splat(0);
    let y1 = f32x4.splat(0);
    for (; p < end; p += 32) {
      const u0 = v128.load(a + p);
      const u1 = v128.load(a + p, 16);
      const v0 = v128.load(b + p);
      const v1 = v128.load(b + p, 16);
      d0 = f32x4.add(d0, f32x4.mul(u0, v0));
      d1 = f32x4.add(d1, f32x4.mul(u1, v1));
      x0 = f32x4.add(x0, f32x4.mul(u0, u0));
      x1 = f32x4.add(x1, f32x4.mul(u1, u1));
      y0 = f32x4.add(y0, f32x4.mul(v0, v0));
      y1 = f32x4.add(y1, f32x4.mul(v1, v1));
    }
    const sums = blockSums(f32x4.add(d0, d1), f32x4.add(x0, x1), f32x4.add(y0, y1));
    lo = f64x2.add(lo, f64x2.promote_low_f32x4(sums));
    hi = f64x2.add(hi, f64x2.promote_low_f32x4(v128.shuffle<f32>(sums, sums, 2, 3, 2, 3)));
  }
  let dot = f64x2.extract_lane(lo, 0);
  let aa = f64x2.extract_lane(lo, 1);
  let bb = f64x2.extract_lane(hi, 0);
  for (let i = d & ~7; i < d; i++) {
    const x = <f64>load<f32>(a + ((<usize>i) << 2));
    const y = <f64>load<f32>(b + ((<usize>i) << 2));
    dot += x * y;
    aa += x * x;
    bb += y * y;
  }
  // Also false for NaN: comparisons with NaN fail.
  if (!(aa >= PAIR_TINY && bb >= PAIR_TINY && aa < Infinity && bb < Infinity))
    return pairCosineExact(a, b, d);
  const c = dot / Math.sqrt(aa * bb);
  return c > 1 ? 1 : c < -1 ? -1 : c;
}

/**
 * `[Σs, Σt, Σr, Σr]`: the lanes of three float32 sums added in float32 by one transposing tree
 * (two roundings per sum), so a block of {@link pairCosine} ends in six shuffles and four adds
 * rather than three horizontal sums in float64 (6-8% of the time of a pair at d = 768-3072).
 */
function blockSums(s: v128, t: v128, r: v128): v128 {
  // [s0 + s2, s1 + s3, t0 + t2, t1 + t3] and [r0 + r2, r1 + r3, ...]
  const st = f32x4.add(v128.shuffle<f32>(s, t, 0, 1, 4, 5), v128.shuffle<f32>(s, t, 2, 3, 6, 7));
  const rr = f32x4.add(r, v128.shuffle<f32>(r, r, 2, 3, 2, 3));
  return f32x4.add(v128.shuffle<f32>(st, rr, 0, 2, 4, 4), v128.shuffle<f32>(st, rr, 1, 3, 5, 5));
}

/** The four lanes of `v` summed in float64. */
function wide(v: v128): f64 {
  const lo = f64x2.promote_low_f32x4(v);
  const hi = f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 2, 3));
  const s = f64x2.add(lo, hi);
  return f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1);
}

/**
 * {@link pairCosine} with every product and sum in float64, where the product of two float32
 * values is exact, so no float32 input can overflow or underflow it. 0 when either is a zero
 * vector; clamped to [-1, 1]; NaN when either holds NaN or ±Infinity (the caller reports it).
 */
function pairCosineExact(a: usize, b: usize, d: i32): f64 {
  let d0 = f64x2.splat(0);
  let d1 = f64x2.splat(0);
  let x0 = f64x2.splat(0);
  let x1 = f64x2.splat(0);
  let y0 = f64x2.splat(0);
  let y1 = f64x2.splat(0);
  const full = (<usize>(d >> 2)) << 4;
  for (let p: usize = 0; p < full; p += 16) {
    const va = v128.load(a + p);
    const vb = v128.load(b + p);
    const al = f64x2.promote_low_f32x4(va);
    const ah = f64x2.promote_low_f32x4(v128.shuffle<f32>(va, va, 2, 3, 2, 3));
    const bl = f64x2.promote_low_f32x4(vb);
    const bh = f64x2.promote_low_f32x4(v128.shuffle<f32>(vb, vb, 2, 3, 2, 3));
    d0 = f64x2.add(d0, f64x2.mul(al, bl));
    d1 = f64x2.add(d1, f64x2.mul(ah, bh));
    x0 = f64x2.add(x0, f64x2.mul(al, al));
    x1 = f64x2.add(x1, f64x2.mul(ah, ah));
    y0 = f64x2.add(y0, f64x2.mul(bl, bl));
    y1 = f64x2.add(y1, f64x2.mul(bh, bh));
  }
  const sd = f64x2.add(d0, d1);
  const sx = f64x2.add(x0, x1);
  const sy = f64x2.add(y0, y1);
  let dot = f64x2.extract_lane(sd, 0) + f64x2.extract_lane(sd, 1);
  let aa = f64x2.extract_lane(sx, 0) + f64x2.extract_lane(sx, 1);
  let bb = f64x2.extract_lane(sy, 0) + f64x2.extract_lane(sy, 1);
  for (let i = d & ~3; i < d; i++) {
    const x = <f64>load<f32>(a + ((<usize>i) << 2));
    const y = <f64>load<f32>(b + ((<usize>i) << 2));
    dot += x * y;
    aa += x * x;
    bb += y * y;
  }
  const nn = aa * bb;
  // biome-ignore lint/suspicious/noGlobalIsNan: AssemblyScript's isNaN<f64> is typed, there is no Number.isNaN
  if (nn === 0) return isNaN<f64>(dot) ? NaN : 0;
  const c = dot / Math.sqrt(nn);
  return c > 1 ? 1 : c < -1 ? -1 : c;
}
