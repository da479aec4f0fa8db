/**
 * float16 corpora. Rows are stored as IEEE binary16 bits in the engine's corpus layout (panels of
 * P rows, each row cut into steps of 4 values, interleaved step by step: layout.ts), at 8 bytes a
 * step instead of 16, so a corpus takes half the memory and a search reads half the bytes. A
 * search decodes a cache block of panels at a time into float32 (exactly: every binary16 value is
 * a float32 value) in its thread's scratch and runs the float32 engine (`dotsWith`) over it, so
 * scores are those the float32 engine gives for the decoded rows, bit for bit, whichever thread
 * computes them.
 */
import { clamp4, hsum4, madd } from './generated/simd';
import { dotsWith, panelRows, streamLongWith } from './generated/tiles';
import { dotsLongWith } from './long';
import { clampRows, SPAN_STEPS } from './spans';

/** `x` (finite, >= 0, below 1024) rounded to an integer, halves to the even neighbour. */
function roundEven(x: f64): f64 {
  return nearest<f64>(x);
}

/** The binary16 bits nearest to finite `v` (ties to even; past the largest half, infinity). */
function halfBits(v: f64): u32 {
  const b = reinterpret<u64>(v);
  const hi = <u32>(b >>> 32);
  const lo = <u32>b;
  const sign = (hi >>> 16) & 0x8000;
  const e = <i32>((hi >>> 20) & 0x7ff) - 1023;
  // Below the smallest normal half: multiples of 2^-24, by exact scaling (1024 is 0x400, the
  // smallest normal, as the bits add up).
  if (e < -14) return sign | <u32>roundEven(abs<f64>(v) * 16777216.0);
  if (e > 15) return sign | 0x7c00;
  // The top 10 of the 52 mantissa bits, rounded on the 11th with the rest as sticky bits; a carry
  // out of the mantissa steps the exponent (to infinity past 65504).
  const m = hi & 0xfffff;
  let h = ((<u32>(e + 15)) << 10) | (m >>> 10);
  const round = (m >>> 9) & 1;
  const sticky = (m & 0x1ff) !== 0 || lo !== 0;
  if (round && (sticky || (h & 1) !== 0)) h++;
  return sign | h;
}

/**
 * `rows` float32 rows of `d` values at `src` (packed), each scaled to unit norm in float64 (the
 * sum of squares in row order, then times 1 / sqrt; a zero row stays zero) and rounded to binary16,
 * into panels of `P` at `dst` (which starts a panel): the padding lanes past `d` and the rows after
 * the last up to the end of its panel are zero. These are the bits the reference backend stores for
 * the same rows. Returns the first row holding NaN or ±Infinity (its sum of squares is not finite;
 * rows after it are not written), or -1.
 */
export function packHalves(src: usize, rows: i32, d: i32, dst: usize, P: i32): i32 {
  const steps = (d + 3) >> 2;
  const panelBytes = <usize>steps * <usize>P * 8;
  const total = ((rows + P - 1) / P) * P;
  for (let r = 0; r < total; r++) {
    const base = dst + <usize>(r / P) * panelBytes + ((<usize>(r % P)) << 3);
    if (r >= rows) {
      for (let s = 0; s < steps; s++) store<u64>(base + <usize>s * <usize>P * 8, 0);
      continue;
    }
    const row = src + ((<usize>r * <usize>d) << 2);
    let ss: f64 = 0;
    for (let j = 0; j < d; j++) {
      const v = <f64>load<f32>(row + ((<usize>j) << 2));
      ss += v * v;
    }
    // NaN or ±Infinity in the row: its sum of squares is not below Infinity.
    if (!(ss < Infinity)) return r;
    const inv: f64 = ss > 0 ? 1 / Math.sqrt(ss) : 1;
    for (let s = 0; s < steps; s++) {
      const at = base + <usize>s * <usize>P * 8;
      for (let l = 0; l < 4; l++) {
        const j = (s << 2) + l;
        let h: u32 = 0;
        if (j < d) {
          const v = <f64>load<f32>(row + ((<usize>j) << 2));
          h = halfBits(ss > 0 ? v * inv : v);
        }
        store<u16>(at + ((<usize>l) << 1), h);
      }
    }
  }
  return -1;
}

/**
 * Stored binary16 rows (`rows` x `d`, packed, as a saved corpus holds them) into panels of `P` at
 * `dst` as {@link packHalves} lays them out, with the same zero padding.
 */
export function panelHalves(src: usize, rows: i32, d: i32, dst: usize, P: i32): void {
  const steps = (d + 3) >> 2;
  const panelBytes = <usize>steps * <usize>P * 8;
  const total = ((rows + P - 1) / P) * P;
  for (let r = 0; r < total; r++) {
    const base = dst + <usize>(r / P) * panelBytes + ((<usize>(r % P)) << 3);
    const row = src + ((<usize>r * <usize>d) << 1);
    for (let s = 0; s < steps; s++) {
      const at = base + <usize>s * <usize>P * 8;
      for (let l = 0; l < 4; l++) {
        const j = (s << 2) + l;
        store<u16>(at + ((<usize>l) << 1), r < rows && j < d ? load<u16>(row + ((<usize>j) << 1)) : 0);
      }
    }
  }
}

/** The inverse of {@link panelHalves}: `rows` rows of `d` binary16 values from panels of `P` at `src`, packed into `dst`. */
export function unpanelHalves(src: usize, rows: i32, d: i32, P: i32, dst: usize): void {
  const steps = (d + 3) >> 2;
  const panelBytes = <usize>steps * <usize>P * 8;
  for (let r = 0; r < rows; r++) {
    const base = src + <usize>(r / P) * panelBytes + ((<usize>(r % P)) << 3);
    const row = dst + ((<usize>r * <usize>d) << 1);
    for (let j = 0; j < d; j++) {
      const at = base + <usize>(j >> 2) * <usize>P * 8 + ((<usize>(j & 3)) << 1);
      store<u16>(row + ((<usize>j) << 1), load<u16>(at));
    }
  }
}

/** 2^112: a binary16 value's bits shifted into float32's places read as 2^-112 times the value. */
const HALF_SCALE: f32 = reinterpret<f32>(0x77800000);

/** Four sign-extended binary16 values as float32 bits of 2^-112 times their values (see {@link decode4}). */
function raw4(w: v128): v128 {
  return v128.and(i32x4.shl(w, 13), i32x4.splat(0x8fffffff));
}

/**
 * Four binary16 values, each sign-extended to its 32-bit lane, as float32, exactly: shifted left by
 * 13 the exponent and mantissa land in float32's places (the value times 2^-112) with the sign
 * at the top; the three copies of the sign under it cleared, then times 2^112 (subnormal halves
 * land on float32 subnormals and come back exact).
 */
function decode4(w: v128): v128 {
  return f32x4.mul(raw4(w), f32x4.splat(HALF_SCALE));
}

/** `n` binary16 values at `src` (a multiple of 4) as float32 at `dst`: layout kept, values exact. */
export function decodeHalves(src: usize, n: i32, dst: usize): void {
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const h = v128.load(src + ((<usize>i) << 1));
    const o = dst + ((<usize>i) << 2);
    v128.store(o, decode4(i32x4.extend_low_i16x8_s(h)));
    v128.store(o, decode4(i32x4.extend_high_i16x8_s(h)), 16);
  }
  if (i < n) v128.store(dst + ((<usize>i) << 2), decode4(v128.load16x4_s(src + ((<usize>i) << 1))));
}

/**
 * Copies the listed rows (`count` i32 row numbers at `idx`) of a binary16 block in panels of `P`
 * rows of `steps` steps into `dst` in the same layout, in list order from its row `first`, and
 * zeroes the rows after them up to the end of their panel: `gatherRows` (filtered.ts) at 8 bytes a
 * step.
 */
export function gatherHalves(
  src: usize,
  P: i32,
  steps: i32,
  idx: usize,
  count: i32,
  dst: usize,
  first: i32,
): void {
  const chunk = (<usize>P) << 3;
  const panelBytes = <usize>steps * chunk;
  const end = first + count;
  const total = ((end + P - 1) / P) * P;
  for (let t = first; t < total; t++) {
    let d = dst + <usize>(t / P) * panelBytes + ((<usize>(t % P)) << 3);
    if (t >= end) {
      for (let s = 0; s < steps; s++) {
        store<u64>(d, 0);
        d += chunk;
      }
      continue;
    }
    const j = load<i32>(idx + ((<usize>(t - first)) << 2));
    let r = src + <usize>(j / P) * panelBytes + ((<usize>(j % P)) << 3);
    for (let s = 0; s < steps; s++) {
      store<u64>(d, load<u64>(r));
      d += chunk;
      r += chunk;
    }
  }
}

/** Stores the lane sums of up to four chains (`cols` valid corpus rows), clamped when asked. */
function storeSums(out: usize, v: v128, clamp: bool, cols: i32): void {
  const w = clamp4(v, clamp);
  if (cols >= 4) {
    v128.store(out, w);
    return;
  }
  if (cols > 0) store<f32>(out, f32x4.extract_lane(w, 0));
  if (cols > 1) store<f32>(out, f32x4.extract_lane(w, 1), 4);
  if (cols > 2) store<f32>(out, f32x4.extract_lane(w, 2), 8);
}

/**
 * One query row `a` (`steps` steps; past a span, summed span by span) x `panels` binary16 corpus
 * panels of `C` rows at `h`, decoded in registers: the query taken times 2^112 (exact) against each value's bits moved to
 * float32's places (2^-112 times it, exact), so each product is the product of the query and the
 * decoded value, and each row's sum one chain of multiply-adds step by step then the lane sum, as
 * the float32 engine sums a lone row: the same bits, without the decoded block written and read
 * back. (Two panels at a time, twice the independent chains, ran at half the speed: 6.6 against
 * 3.0 ms at 20,000 x 384.) `cols` valid corpus rows.
 */
function streamHalves(
  C: i32,
  a: usize,
  h: usize,
  panels: i32,
  steps: i32,
  out: usize,
  clamp: bool,
  cols: i32,
): void {
  const scale = f32x4.splat(HALF_SCALE);
  const m = i32x4.splat(0x8fffffff);
  let p = h;
  for (let g = 0; g < panels; g++) {
    // Span by span, each span's sums reduced and added as `streamLongWith` adds them, so rows
    // longer than a span score the bits the float32 engine gives their decoded rows too (they were
    // decoded a panel at a time into scratch and run through it: 1.4-1.7x a float32 search).
    let t = f32x4.splat(0);
    let x = a;
    for (let from = 0; from < steps; from += SPAN_STEPS) {
      const end = x + ((<usize>min(SPAN_STEPS, steps - from)) << 4);
      let s0 = f32x4.splat(0);
      let s1 = f32x4.splat(0);
      let s2 = f32x4.splat(0);
      let s3 = f32x4.splat(0);
      let v: v128;
      if (C === 2) {
        for (; x < end; x += 16) {
          const q = f32x4.mul(v128.load(x), scale);
          const u = v128.load(p);
          s0 = madd(q, v128.and(i32x4.shl(i32x4.extend_low_i16x8_s(u), 13), m), s0);
          s1 = madd(q, v128.and(i32x4.shl(i32x4.extend_high_i16x8_s(u), 13), m), s1);
          p += 16;
        }
        v = hsum4(s0, s1, s1, s1);
      } else if (C === 3) {
        for (; x < end; x += 16) {
          const q = f32x4.mul(v128.load(x), scale);
          const u = v128.load(p);
          s0 = madd(q, v128.and(i32x4.shl(i32x4.extend_low_i16x8_s(u), 13), m), s0);
          s1 = madd(q, v128.and(i32x4.shl(i32x4.extend_high_i16x8_s(u), 13), m), s1);
          s2 = madd(q, v128.and(i32x4.shl(v128.load16x4_s(p + 16), 13), m), s2);
          p += 24;
        }
        v = hsum4(s0, s1, s2, s2);
      } else {
        for (; x < end; x += 16) {
          const q = f32x4.mul(v128.load(x), scale);
          const u = v128.load(p);
          const w = v128.load(p, 16);
          s0 = madd(q, v128.and(i32x4.shl(i32x4.extend_low_i16x8_s(u), 13), m), s0);
          s1 = madd(q, v128.and(i32x4.shl(i32x4.extend_high_i16x8_s(u), 13), m), s1);
          s2 = madd(q, v128.and(i32x4.shl(i32x4.extend_low_i16x8_s(w), 13), m), s2);
          s3 = madd(q, v128.and(i32x4.shl(i32x4.extend_high_i16x8_s(w), 13), m), s3);
          p += 32;
        }
        v = hsum4(s0, s1, s2, s3);
      }
      t = from === 0 ? v : f32x4.add(t, v);
    }
    storeSums(out + <usize>g * <usize>C * 4, t, clamp, min(C, cols - g * C));
  }
}

/** The scratch area this instance claimed, and the call it claimed it in (see {@link claimSlot}). */
let scratchAt: usize = 0;
let scratchCall: i32 = -1;
let scratchSlot: i32 = 0;

/**
 * This thread's slot of the scratch area at `scratch` for the current call. The area starts with a
 * header of 64 bytes that the JS side writes before each call: the slots claimed so far (0), a
 * number new for each call, the bytes of a slot, and `ldp` for {@link dotsHalfWith}. A thread
 * claims one slot the first time it works on a call; the slots follow the header.
 */
function claimSlot(scratch: usize): usize {
  const call = load<i32>(scratch, 4);
  if (scratch !== scratchAt || call !== scratchCall) {
    scratchAt = scratch;
    scratchCall = call;
    if (ASC_FEATURE_THREADS) {
      scratchSlot = atomic.add<i32>(scratch, 1);
    } else {
      scratchSlot = load<i32>(scratch);
      store<i32>(scratch, scratchSlot + 1);
    }
  }
  return scratch + 64 + <usize>scratchSlot * <usize>load<i32>(scratch, 8);
}

/**
 * `out[i * ldo + j] = a_i . b_j` for `m` staged query rows at `a` (`steps` steps) and `n` binary16
 * corpus rows at `h` in driver `config`'s panels, clamped to [-1, 1] when asked: a block of
 * `nbp` panels at a time decoded into this thread's slot of `scratch` (see {@link claimSlot}; a slot
 * holds at least `nbp` float32 panels), then multiplied there by the float32 engine, as `dotsWith`
 * (rows of at most a span) or, for longer rows, `streamLongWith` (one query row) and `dotsLongWith`
 * (its spans' sums in `part`, rows `ldp` floats apart, `ldp` from the header) would multiply the
 * decoded rows in place. `ldo` in bytes.
 */
export function dotsHalfWith(
  config: i32,
  a: usize,
  m: i32,
  h: usize,
  n: i32,
  steps: i32,
  out: usize,
  ldo: usize,
  clamp: bool,
  nbp: i32,
  scratch: usize,
  part: usize,
): void {
  const C = panelRows(config);
  if (m === 1) {
    // One query row: decoded in registers as streamed (no block to decode into), span by span.
    streamHalves(C, a, h, (n + C - 1) / C, steps, out, clamp, n);
    return;
  }
  const slot = claimSlot(scratch);
  const panelValues = steps * 4 * C;
  const np = (n + C - 1) / C;
  for (let g0 = 0; g0 < np; g0 += nbp) {
    const g1 = min(np, g0 + nbp);
    const j0 = g0 * C;
    const w = min(n - j0, (g1 - g0) * C);
    decodeHalves(h + ((<usize>g0 * <usize>panelValues) << 1), (g1 - g0) * panelValues, slot);
    const o = out + ((<usize>j0) << 2);
    if (steps <= SPAN_STEPS) {
      dotsWith(config, a, m, slot, w, steps, o, ldo, clamp, nbp, steps, 0, false);
    } else if (m === 1) {
      streamLongWith(config, a, slot, w, steps, o, clamp);
    } else {
      const ldoF = <i32>(ldo >> 2);
      dotsLongWith(
        config,
        a,
        m,
        slot,
        w,
        steps,
        o,
        ldoF,
        part + ((<usize>j0) << 2),
        load<i32>(scratch, 12),
        nbp,
        false,
        w,
      );
      if (clamp) clampRows(o, ldoF, m, w);
    }
  }
}
