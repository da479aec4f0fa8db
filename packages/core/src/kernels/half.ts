/**
 * IEEE 754 binary16 encode/decode for float16 corpus storage: round to nearest, ties to even, as
 * the standard's default rounding (and every hardware conversion) does, so stored bits are the
 * same whoever encodes them.
 */

/** `x` (>= 0) rounded to an integer, halves to the even neighbour. */
function roundEven(x: number): number {
  const r = Math.floor(x);
  const f = x - r;
  if (f > 0.5) return r + 1;
  if (f < 0.5) return r;
  return r % 2 === 0 ? r : r + 1;
}

/** The binary16 bits nearest to `v` (ties to even; beyond the largest half, infinity). */
export function toHalf(v: number): number {
  const s = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (Number.isNaN(a)) return 0x7e00;
  // 65520 is halfway between 65504 (odd mantissa) and 2^16: the tie goes to the even side, infinity.
  if (a >= 65520) return s | 0x7c00;
  // Subnormal: multiples of 2^-24 (exact scaling); rounding up to 1024 gives 0x400, the smallest normal.
  if (a < 2 ** -14) return s | roundEven(a * 2 ** 24);
  let e = Math.floor(Math.log2(a));
  if (a / 2 ** e >= 2) e++;
  else if (a / 2 ** e < 1) e--;
  // a / 2^e is in [1, 2): the scaled fraction is exact in float64 for any float64 a.
  let m = roundEven((a / 2 ** e - 1) * 1024);
  if (m === 1024) {
    m = 0;
    e++;
  }
  if (e > 15) return s | 0x7c00;
  return s | ((e + 15) << 10) | m;
}

/** The value of binary16 bits `h`. */
export function fromHalf(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}
