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

/** One float64 and its two 32-bit words, to read an exponent from its bits. */
const bits = new Float64Array(1);
const words = new Uint32Array(bits.buffer);
/** The index of the word holding the sign and exponent (1 on little-endian platforms). */
const HIGH = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1 ? 1 : 0;
/** `POW2[15 - e]` is 2^-e for the exponents of binary16's normal range (e in [-14, 15]). */
const POW2 = Float64Array.from({ length: 30 }, (_, i) => 2 ** (i - 15));

/** The binary16 bits nearest to `v` (ties to even; beyond the largest half, infinity). */
export function toHalf(v: number): number {
  const s = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (Number.isNaN(a)) return 0x7e00;
  // 65520 is halfway between 65504 (odd mantissa) and 2^16: the tie goes to the even side, infinity.
  if (a >= 65520) return s | 0x7c00;
  // Subnormal: multiples of 2^-24 (exact scaling); rounding up to 1024 gives 0x400, the smallest normal.
  if (a < 2 ** -14) return s | roundEven(a * 2 ** 24);
  // The exponent from the float64's own bits (a is normal here): Math.log2 per value, and the
  // powers of two beside it, made a float16 corpus 4x slower to build than a float32 one.
  bits[0] = a;
  let e = (words[HIGH] >>> 20) - 1023;
  // a / 2^e is in [1, 2): the scaled fraction is exact in float64 for any float64 a.
  let m = roundEven((a * POW2[15 - e] - 1) * 1024);
  if (m === 1024) {
    m = 0;
    e++;
  }
  if (e > 15) return s | 0x7c00;
  return s | ((e + 15) << 10) | m;
}

/** Every binary16 value by its bits, made on first use (256 KiB). */
let halves: Float32Array | undefined;

/**
 * The value of binary16 bits `h` (0 to 65535), by table: a search of a float16 corpus decodes every
 * stored value, and computing each one (a power of two and a multiply) made it 40x the float32
 * search on the reference backend.
 */
export function fromHalf(h: number): number {
  return (halves ?? halfTable())[h];
}

/** The table of {@link fromHalf}, indexed by bits (NaN and ±Infinity where the exponent is 31), for loops over many values. */
export function halfTable(): Float32Array {
  if (halves === undefined) {
    halves = new Float32Array(65536);
    for (let b = 0; b < 65536; b++) halves[b] = halfValue(b);
  }
  return halves;
}

/** The value of binary16 bits `h`, computed (every binary16 value is a float32 value). */
function halfValue(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}
