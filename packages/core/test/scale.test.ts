import { describe, expect, it } from 'vitest';
import { admit } from '../src/gate.js';
import { type Backend, cosine, createCosineKit, type Matrix, tensor } from '../src/index.js';
import { float32Sums } from './fixtures/float32.js';

/** A backend whose cosine kernels do every operation in float32, like a GPU shader or wasm f32x4. */
const float32Engine: Backend = {
  name: 'f32-engine',
  kernels: {
    cosineMatrix(a: Matrix, b: Matrix) {
      const f = Math.fround;
      const out = new Float32Array(a.rows * b.rows);
      for (let i = 0; i < a.rows; i++) {
        for (let j = 0; j < b.rows; j++) {
          const { dot: d, xx: x, yy: y } = float32Sums(a, i, b, j);
          out[i * b.rows + j] = x === 0 || y === 0 ? 0 : f(d / f(Math.sqrt(f(x * y))));
        }
      }
      return out;
    },
  },
};

describe('magnitude guard', () => {
  const cases: [string, number][] = [
    ['huge (1e30)', 1e30],
    ['tiny (1e-30)', 1e-30],
    ['subnormal (1e-42)', 1e-42],
    ['ordinary', 1],
  ];
  it.each(cases)('a float32 engine gets the right cosine for %s rows', async (_name, s) => {
    const kit = createCosineKit({ backend: float32Engine });
    const a = [[3 * s, 4 * s]];
    const b = [
      [4 * s, 3 * s],
      [-3 * s, -4 * s],
    ];
    const m = await kit.cosineMatrix(a, b);
    // Without the guard the squares overflow to Infinity (1e30) or flush to 0 (1e-30): NaN or 0.
    // Expected: the float64 cosine of the values as stored in float32 (subnormals lose bits).
    const [ta, tb] = [tensor(a), tensor(b)];
    expect(m.data[0]).toBeCloseTo(cosine(ta.row(0), tb.row(0)), 6);
    expect(m.data[1]).toBeCloseTo(cosine(ta.row(0), tb.row(1)), 6);
    expect(m.data[1]).toBeCloseTo(-1, 6);
  });

  it('snapshots the rows, scales only extreme ones by exact powers of two, and leaves the caller data alone', () => {
    const t = tensor([
      [1, 2],
      [1e-30, 0],
    ]);
    const before = Float32Array.from(t.data);
    const plain = admit(tensor([[1, 2]]), 'op', 'x');
    expect(plain.factor).toBeNull();
    const p = admit(t, 'op', 'x');
    expect(p.tensor.data).not.toBe(t.data);
    expect(t.data).toEqual(before);
    expect(p.factor![0]).toBe(1);
    expect(Math.log2(p.factor![1]) % 1).toBe(0);
    expect(p.tensor.data[0]).toBe(1);
    expect(p.tensor.data[2]).toBeGreaterThanOrEqual(0.5);
    expect(p.tensor.data[2]).toBeLessThan(1);
    expect(p.tensor.data[2]).toBe(Math.fround(1e-30) * p.factor![1]);
  });

  it('rescales exactly the rows whose largest magnitude is past 2^40 or below 2^-40 (not zero), at and around both bounds', () => {
    // Magnitudes from everywhere in float32, clustered at the bounds, mixed in rows of 1 to 9 values:
    // rows whose bit patterns combine past a bound without any value being past it included.
    const at = [
      2 ** 40,
      Math.fround(2 ** 40 * (1 + 2 ** -23)),
      Math.fround(2 ** 40 * (1 - 2 ** -24)),
      2 ** -40,
      Math.fround(2 ** -40 * (1 + 2 ** -23)),
      Math.fround(2 ** -40 * (1 - 2 ** -24)),
      2 ** 39,
      2 ** -126,
      2 ** -149,
      2 ** -41,
      2 ** 38 * 1.5,
      3e38,
      1,
      0.75,
      0,
    ];
    let s = 12345;
    const next = () => {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      return (s >>> 0) / 2 ** 32;
    };
    for (let trial = 0; trial < 4000; trial++) {
      const cols = 1 + Math.floor(next() * 9);
      const row = Array.from({ length: cols }, () => {
        const v = next() < 0.7 ? at[Math.floor(next() * at.length)] : 2 ** (Math.floor(next() * 276) - 149);
        return next() < 0.5 ? -v : v;
      });
      const x = Float32Array.from(row);
      let m = 0;
      for (const v of x) m = Math.max(m, Math.abs(v));
      const p = admit(tensor([Array.from(x)]), 'op', 'x');
      const scaled = m > 2 ** 40 || (m > 0 && m < 2 ** -40);
      expect(p.factor !== null, `row ${Array.from(x)} (largest ${m})`).toBe(scaled);
      if (scaled) {
        let q = 0;
        for (const v of p.tensor.data) q = Math.max(q, Math.abs(v));
        expect(q).toBeGreaterThanOrEqual(0.5);
        expect(q).toBeLessThan(1);
      } else expect(p.tensor.data).toEqual(x);
    }
  });

  it('rowNorms scales back: the norm of a huge row is exact', async () => {
    const kit = createCosineKit({ backend: 'reference' });
    const n = await kit.rowNorms([
      [3e30, 4e30],
      [3e-30, 4e-30],
    ]);
    expect(n[0] / 5e30).toBeCloseTo(1, 6);
    expect(n[1] / 5e-30).toBeCloseTo(1, 6);
  });

  it('still reports NaN and Infinity with their position', () => {
    expect(() =>
      admit(
        tensor([
          [1, 2],
          [3, Number.NEGATIVE_INFINITY],
        ]),
        'cosineMatrix',
        'b',
      ),
    ).toThrow(/Argument 'b' passed to 'cosineMatrix' holds -Infinity at row 1, column 1/);
    expect(() => admit(tensor([[Number.NaN, 1]]), 'topK', 'queries')).toThrow(/holds NaN at row 0, column 0/);
  });
});
