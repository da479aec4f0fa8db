import { describe, expect, it } from 'vitest';
import { TopKSelector } from '../src/kernels/top-k-selector.js';

describe('TopKSelector', () => {
  it('keeps the k best, best first, ties to the lower index, in any arrival order', () => {
    const scores = [0.5, 0.9, 0.5, 0.1, 0.9, 0.7, 0.5];
    for (const order of [
      [0, 1, 2, 3, 4, 5, 6],
      [6, 5, 4, 3, 2, 1, 0],
      [3, 0, 6, 2, 5, 1, 4],
    ]) {
      const s = new TopKSelector(1, 5);
      for (const i of order) s.push(0, scores[i], i);
      const r = s.result();
      expect(Array.from(r.indices)).toEqual([1, 4, 5, 0, 2]);
      expect(Array.from(r.scores)).toEqual([0.9, 0.9, 0.7, 0.5, 0.5].map(Math.fround));
    }
  });

  it('matches a full sort on random data for many queries', () => {
    let seed = 7;
    const rnd = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const q = 4;
    const n = 1000;
    const k = 13;
    const all = Array.from({ length: q }, () => Array.from({ length: n }, () => Math.round(rnd() * 50) / 50));
    const s = new TopKSelector(q, k);
    for (let i = 0; i < q; i++) s.pushRow(i, all[i], 0, 0, n);
    const r = s.result();
    for (let i = 0; i < q; i++) {
      const want = all[i]
        .map((v, j) => [v, j])
        .sort((a, b) => b[0] - a[0] || a[1] - b[1])
        .slice(0, k);
      expect(Array.from(r.indices.subarray(i * k, (i + 1) * k))).toEqual(want.map((w) => w[1]));
    }
  });

  it('reads out large selections in order, ties to the lower index, and leaves slots past the rows offered empty', () => {
    let seed = 11;
    const rnd = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    for (const [n, k] of [
      [3000, 1000],
      [700, 1000],
      [1, 4],
    ]) {
      // Scores on a grid of 1/40: hundreds of ties at every score.
      const all = Array.from({ length: n }, () => Math.round(rnd() * 80 - 40) / 40);
      const s = new TopKSelector(1, k);
      s.pushRow(0, all, 0, 0, n);
      const r = s.result();
      const want = all
        .map((v, j) => [v, j])
        .sort((a, b) => b[0] - a[0] || a[1] - b[1])
        .slice(0, k);
      const got = Math.min(n, k);
      expect(Array.from(r.indices.subarray(0, got))).toEqual(want.map((w) => w[1]));
      expect(Array.from(r.scores.subarray(0, got))).toEqual(want.map((w) => Math.fround(w[0])));
      expect(Array.from(r.indices.subarray(got)).every((v) => v === 0)).toBe(true);
      expect(Array.from(r.scores.subarray(got)).every((v) => v === 0)).toBe(true);
    }
  });

  it('a NaN score pushed stays in the answer (where the kit refuses it), never a quiet row 0', () => {
    const s = new TopKSelector(1, 2);
    s.push(0, Number.NaN, 0);
    s.push(0, 0.5, 1);
    const r = s.result();
    expect(Array.from(r.scores).some(Number.isNaN)).toBe(true);
    expect(Array.from(r.indices).sort()).toEqual([0, 1]);
  });

  it('pushRow offers a NaN too, full or not: a row of scores with a NaN never answers as if it had none', () => {
    for (const k of [1, 2, 4]) {
      const s = new TopKSelector(1, k);
      s.pushRow(0, [0.9, 0.8, 0.7, Number.NaN, 0.1], 0, 0, 5);
      expect(Array.from(s.result().scores).some(Number.isNaN)).toBe(true);
    }
  });

  it('refuses a count of queries or a k that is no whole number by name (a RangeError, or NaN slots)', () => {
    for (const [q, k, arg, code] of [
      [-1, 2, 'queries', 'INVALID_ARGUMENT'],
      [1.5, 2, 'queries', 'INVALID_ARGUMENT'],
      [1, Number.NaN, 'k', 'INVALID_K'],
      [1, 0, 'k', 'INVALID_K'],
      [1, '2', 'k', 'INVALID_K'],
    ] as const)
      expect(() => new TopKSelector(q as number, k as number), `${q} ${k}`).toThrow(
        expect.objectContaining({ code, op: 'TopKSelector', arg }),
      );
  });
});
