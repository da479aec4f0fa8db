/**
 * Row-wise softmax cross-entropy of scaled logits and its gradient (`softmaxCrossEntropy` in the
 * contract, packages/core/src/contract.ts): four lanes at a time, with exactly the float32
 * operations the contract lists (no fused multiply-add, the same constants, the same four lane
 * sums), so the bits are the reference's (core's kernels/softmax.ts).
 */

// The float32s nearest log2(e) and sqrt(1/2) (1.44269504 and 0.707106781, as the contract writes).
const LOG2E: f32 = Mathf.LOG2E;
const ROUND: f32 = 12582912.0;
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.12194442e-4;
const E0: f32 = 1.98756915e-4;
const E1: f32 = 1.39819995e-3;
const E2: f32 = 8.33345191e-3;
const E3: f32 = 4.16657962e-2;
const E4: f32 = 1.66666657e-1;
const E5: f32 = 5.00000012e-1;
const EXP_FLOOR: f32 = -87.0;

/**
 * The contract's exp32 on four lanes of `u <= 0` (`-Infinity` included): lanes below -87 give 0.
 * `k` is rounded by adding 1.5 x 2^23, whose sum holds k in its low mantissa bits: 2^k's bits are
 * made from those, without a conversion to integers. Called once, so the optimiser inlines it (no
 * decorator: biome does not parse them here).
 */
function exp4(u: v128): v128 {
  const floor = f32x4.splat(EXP_FLOOR);
  const ok = f32x4.ge(u, floor);
  const uc = f32x4.pmax(u, floor);
  const round = f32x4.splat(ROUND);
  const big = f32x4.add(f32x4.mul(uc, f32x4.splat(LOG2E)), round);
  const k = f32x4.sub(big, round);
  const r = f32x4.sub(f32x4.sub(uc, f32x4.mul(k, f32x4.splat(LN2_HI))), f32x4.mul(k, f32x4.splat(LN2_LO)));
  let p = f32x4.add(f32x4.mul(f32x4.splat(E0), r), f32x4.splat(E1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(E2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(E3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(E4));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(E5));
  p = f32x4.add(f32x4.add(f32x4.mul(p, f32x4.mul(r, r)), r), f32x4.splat(1.0));
  // big's bits are those of 1.5 x 2^23 plus k (-126 <= k <= 0 on the lanes kept), so 2^k's biased
  // exponent k + 127 is 1..127.
  const bias = i32x4.splat(reinterpret<i32>(ROUND) - 127);
  const pow = i32x4.shl(i32x4.sub(big, bias), 23);
  return v128.and(f32x4.mul(p, pow), ok);
}

/** The contract's log32 for a normal `z >= 1` (Cephes logf), one float32 operation at a time. */
function log32(z: f32): f32 {
  const bits = reinterpret<i32>(z);
  let e = <f32>(((bits >>> 23) & 0xff) - 126);
  const m = reinterpret<f32>((bits & 0x807fffff) | 0x3f000000);
  let x: f32;
  if (m < Mathf.SQRT1_2) {
    e = e - 1;
    x = m + m - 1;
  } else x = m - 1;
  const q = x * x;
  let p: f32 = 7.0376836292e-2;
  p = p * x + <f32>-1.151461031e-1;
  p = p * x + <f32>1.167699874e-1;
  p = p * x + <f32>-1.2420140846e-1;
  p = p * x + <f32>1.4249322787e-1;
  p = p * x + <f32>-1.6668057665e-1;
  p = p * x + <f32>2.0000714765e-1;
  p = p * x + <f32>-2.4999993993e-1;
  p = p * x + <f32>3.3333331174e-1;
  let y = p * x * q;
  y = y + e * LN2_LO;
  y = y - <f32>0.5 * q;
  return x + y + e * LN2_HI;
}

/**
 * `rows` rows of logits at `x`, `stride` floats apart (a multiple of 4; the padding holds finite
 * values), with keep bytes at `keep` (`stride` apart; 0 on the padding), or every entry but the
 * padding kept when `keep` is 0, and an int32 target per row at `targets`: overwrites the logits
 * with the gradient (scale `s`, gradient factor `c`) and writes a loss per row at `losses`. The
 * target's keep byte is set. Returns 0, having written nothing meaningful, when a logit (or a
 * padding value) is NaN or ±Infinity; else 1.
 */
export function softmaxCrossEntropy(
  x: usize,
  keep: usize,
  targets: usize,
  losses: usize,
  rows: i32,
  n: i32,
  stride: i32,
  s: f32,
  c: f32,
): i32 {
  const rowBytes = (<usize>stride) << 2;
  const vs = f32x4.splat(s);
  const vc = f32x4.splat(c);
  const ninf = f32x4.splat(-Infinity);
  const lane = i32x4(0, 1, 2, 3);
  for (let i = 0; i < rows; i++) {
    const xo = x + <usize>i * rowBytes;
    const ko = keep + <usize>i * <usize>stride;
    const t = load<i32>(targets + ((<usize>i) << 2));
    if (keep) store<u8>(ko + <usize>t, 1);
    // Every value finite, and the largest kept logit (max is exact: the order does not matter).
    // Entries left out become -Infinity in place, so the exponentials need no mask.
    let ok = v128.not(i32x4.splat(0));
    let vm = ninf;
    for (let j = 0; j < stride; j += 4) {
      const at = xo + ((<usize>j) << 2);
      const v = v128.load(at);
      const d = f32x4.sub(v, v);
      ok = v128.and(ok, f32x4.eq(d, d));
      const kept = keep
        ? i32x4.ne(
            i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(v128.load32_zero(ko + <usize>j))),
            i32x4.splat(0),
          )
        : i32x4.lt_s(i32x4.add(lane, i32x4.splat(j)), i32x4.splat(n));
      const w = v128.bitselect(v, ninf, kept);
      v128.store(at, w);
      vm = f32x4.pmax(vm, w);
    }
    if (!v128.all_true<i32>(ok)) return 0;
    const m = Mathf.max(
      Mathf.max(f32x4.extract_lane(vm, 0), f32x4.extract_lane(vm, 1)),
      Mathf.max(f32x4.extract_lane(vm, 2), f32x4.extract_lane(vm, 3)),
    );
    const ut = s * (load<f32>(xo + ((<usize>t) << 2)) - m);
    // The exponentials, in place, and their four lane sums.
    const vmm = f32x4.splat(m);
    let vz = f32x4.splat(0);
    for (let j = 0; j < stride; j += 4) {
      const at = xo + ((<usize>j) << 2);
      const e = exp4(f32x4.mul(vs, f32x4.sub(v128.load(at), vmm)));
      v128.store(at, e);
      vz = f32x4.add(vz, e);
    }
    const z =
      f32x4.extract_lane(vz, 0) +
      f32x4.extract_lane(vz, 1) +
      (f32x4.extract_lane(vz, 2) + f32x4.extract_lane(vz, 3));
    const et = load<f32>(xo + ((<usize>t) << 2));
    store<f32>(losses + ((<usize>i) << 2), log32(z) - ut);
    const vzz = f32x4.splat(z);
    for (let j = 0; j < stride; j += 4) {
      const at = xo + ((<usize>j) << 2);
      v128.store(at, f32x4.mul(vc, f32x4.div(v128.load(at), vzz)));
    }
    store<f32>(xo + ((<usize>t) << 2), c * (et / z - 1));
  }
  return 1;
}
