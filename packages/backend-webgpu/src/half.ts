/**
 * float16 corpus rows on the host: rows normalised in float64 and rounded to binary16 (nearest,
 * ties to even), exactly as the reference backend stores them, by bit manipulation rather than
 * logarithms, since a GPU corpus of millions of rows is encoded here before it is uploaded.
 */

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
/** Index of the high word of a float64 in `u32` (1 on little-endian hosts). */
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;

/** `x` (>= 0) rounded to an integer, halves to the even neighbour. */
function roundEven(x: number): number {
  const r = Math.floor(x);
  const f = x - r;
  if (f > 0.5) return r + 1;
  if (f < 0.5) return r;
  return r % 2 === 0 ? r : r + 1;
}

/** The binary16 bits nearest to `v` (ties to even; beyond the largest half, infinity; NaN stays NaN). */
export function halfBits(v: number): number {
  f64[0] = v;
  const hi = u32[HI];
  const lo = u32[1 - HI];
  const sign = (hi >>> 16) & 0x8000;
  const exp = (hi >>> 20) & 0x7ff;
  if (exp === 0x7ff) return hi & 0xfffff || lo ? 0x7e00 : sign | 0x7c00;
  const e = exp - 1023;
  // Below the smallest normal half: multiples of 2^-24, found by exact scaling.
  if (e < -14) return sign | roundEven(Math.abs(v) * 2 ** 24);
  if (e > 15) return sign | 0x7c00;
  // The top 10 of the 52 mantissa bits, then round on the 11th with the rest as sticky bits.
  const m = hi & 0xfffff;
  let h = ((e + 15) << 10) | (m >>> 10);
  const round = (m >>> 9) & 1;
  const sticky = (m & 0x1ff) !== 0 || lo !== 0;
  // A carry out of the mantissa steps the exponent, up to infinity (0x7c00): the bits add up so.
  if (round && (sticky || h & 1)) h++;
  return sign | h;
}

/**
 * Rows `[r0, r0 + rows)` of `data` (`d` wide) normalised in float64 (sum of squares in row order,
 * then times 1 / sqrt; zero rows stay zero), as binary16 and, when `exact` is asked for, as
 * float32 too.
 */
export function halfRows(
  data: Float32Array,
  r0: number,
  rows: number,
  d: number,
  exact: boolean,
): { half: Uint16Array; exact: Float32Array | null } {
  const half = new Uint16Array(rows * d);
  const f32 = exact ? new Float32Array(rows * d) : null;
  const row = new Float64Array(d);
  for (let r = 0; r < rows; r++) {
    const src = (r0 + r) * d;
    let ss = 0;
    for (let p = 0; p < d; p++) {
      const v = data[src + p];
      row[p] = v;
      ss += v * v;
    }
    if (ss > 0) {
      const inv = 1 / Math.sqrt(ss);
      for (let p = 0; p < d; p++) row[p] *= inv;
    }
    for (let p = 0; p < d; p++) half[r * d + p] = halfBits(row[p]);
    if (f32) f32.set(row, r * d);
  }
  return { half, exact: f32 };
}
