import { describe, expect, it } from 'vitest';
import { createRng } from '../src/index.js';

describe('createRng', () => {
  it('repeats for a seed and differs between seeds', () => {
    const a = createRng(42);
    const b = createRng(42);
    const c = createRng(43);
    const sa = Array.from({ length: 8 }, () => a.next());
    expect(Array.from({ length: 8 }, () => b.next())).toEqual(sa);
    expect(Array.from({ length: 8 }, () => c.next())).not.toEqual(sa);
  });

  it('gives uniforms in [0, 1), integers in [0, n) and standard normals', () => {
    const r = createRng(0);
    let sum = 0;
    let sq = 0;
    // Counted, then asserted once: an expect per draw took 2.9 s of the 5 s timeout in CI.
    let badUniform = 0;
    let badInt = 0;
    for (let i = 0; i < 20000; i++) {
      const u = r.next();
      if (!(u >= 0 && u < 1)) badUniform++;
      const k = r.int(7);
      if (!(Number.isInteger(k) && k >= 0 && k < 7)) badInt++;
      const z = r.normal();
      sum += z;
      sq += z * z;
    }
    expect(badUniform).toBe(0);
    expect(badInt).toBe(0);
    expect(Math.abs(sum / 20000)).toBeLessThan(0.03);
    expect(Math.abs(sq / 20000 - 1)).toBeLessThan(0.05);
  });

  it('shuffles in place to a permutation', () => {
    const x = Int32Array.from({ length: 50 }, (_, i) => i);
    createRng(5).shuffle(x);
    expect(Array.from(x).sort((p, q) => p - q)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(Array.from(x)).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
  });
});

describe('seeds that differ only above the low 32 bits', () => {
  it('give sequences that differ from their first number (0 and 2^32 shared their first and third)', () => {
    for (const [a, b] of [
      [0, 2 ** 32],
      [1, 2 ** 32 + 1],
      [-1, 2 ** 32 - 1],
      [7, 7 + 5 * 2 ** 32],
    ]) {
      const x = createRng(a);
      const y = createRng(b);
      const xs = Array.from({ length: 4 }, () => x.next());
      const ys = Array.from({ length: 4 }, () => y.next());
      for (let i = 0; i < 4; i++) expect(xs[i], `seeds ${a} and ${b}, draw ${i}`).not.toBe(ys[i]);
    }
    // Seeds in [0, 2^32) are as they were.
    expect(createRng(12345).next()).toBe(createRng(12345).next());
  });
});
