import { describe, expect, it } from 'vitest';
import { halfBits } from '../src/half.js';

/** The value of finite binary16 bits. */
function value(h: number): number {
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  const v = e === 0 ? m * 2 ** -24 : (1 + m / 1024) * 2 ** (e - 15);
  return h & 0x8000 ? -v : v;
}

/** The nearest binary16 by search over all finite positive halves (ties to the even one). */
function nearest(v: number): number {
  const a = Math.abs(v);
  let lo = 0;
  let hi = 0x7bff;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (value(mid) <= a) lo = mid;
    else hi = mid;
  }
  const dl = a - value(lo);
  const dh = value(hi) - a;
  const h = dl < dh ? lo : dh < dl ? hi : lo % 2 === 0 ? lo : hi;
  return (v < 0 || Object.is(v, -0) ? 0x8000 : 0) | h;
}

describe('float16 encoding on the host', () => {
  it('rounds to nearest, ties to even, at the edges of every range', () => {
    const cases: [number, number][] = [
      [0, 0],
      [-0, 0x8000],
      [1, 0x3c00],
      [-1, 0xbc00],
      [1 + 2 ** -11, 0x3c00], // tie between 0x3c00 and 0x3c01: even
      [1 + 3 * 2 ** -11, 0x3c02], // tie between 0x3c01 and 0x3c02: even
      [1 + 2 ** -11 + 2 ** -40, 0x3c01], // just past the tie, by a bit in the low word
      [0.5 + 2 ** -12, 0x3800],
      [0.1, 0x2e66],
      [1 / 3, 0x3555],
      [2 - 2 ** -12, 0x4000], // the mantissa carries into the exponent
      [65504, 0x7bff],
      [65519.99, 0x7bff],
      [65520, 0x7c00], // tie between the largest half and 2^16: even, infinity
      [-1e6, 0xfc00],
      [2 ** -14, 0x0400],
      [2 ** -14 - 2 ** -25, 0x0400], // 1023.5 subnormal steps: even, the smallest normal
      [2 ** -24, 0x0001],
      [2 ** -25, 0x0000], // half a step: even, zero
      [3 * 2 ** -25, 0x0002],
      [Number.POSITIVE_INFINITY, 0x7c00],
      [Number.NaN, 0x7e00],
    ];
    for (const [v, bits] of cases) expect(halfBits(v), String(v)).toBe(bits);
  });

  it('equals the nearest half for 20,000 values spread over the normal and subnormal ranges', () => {
    let seed = 12345;
    const rand = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    for (let i = 0; i < 20_000; i++) {
      const v = (rand() - 0.5) * 2 ** (Math.floor(rand() * 44) - 28);
      expect(halfBits(v), String(v)).toBe(nearest(v));
    }
  });
});
