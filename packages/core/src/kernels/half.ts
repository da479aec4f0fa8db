/** IEEE 754 binary16 encode/decode for float16 corpus storage (round to nearest). */

/** The binary16 bits nearest to `v`. */
export function toHalf(v: number): number {
  const s = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (Number.isNaN(a)) return 0x7e00;
  if (a >= 65520) return s | 0x7c00;
  if (a < 2 ** -25) return s;
  if (a < 2 ** -14) return s | Math.round(a * 2 ** 24); // subnormal; 0x400 is the smallest normal
  let e = Math.floor(Math.log2(a));
  if (a / 2 ** e >= 2) e++;
  else if (a / 2 ** e < 1) e--;
  let m = Math.round((a / 2 ** e - 1) * 1024);
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
