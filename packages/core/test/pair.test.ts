import { describe, expect, it } from 'vitest';
import { CosineKitError, cosine, cosineDistance, createCosineKit, normalize, tensor } from '../src/index.js';

function cos64(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let x = 0;
  let y = 0;
  for (let i = 0; i < a.length; i++) {
    d += a[i] * b[i];
    x += a[i] * a[i];
    y += b[i] * b[i];
  }
  return d / Math.sqrt(x * y);
}

function rand(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 1073741824 - 1;
  });
}

describe('cosine (one pair, synchronous)', () => {
  it.each([1, 2, 3, 4, 5, 7, 17, 384, 1536])('matches float64 within 1e-12 at d=%i', (d) => {
    const a = rand(d, d);
    const b = rand(d, d + 1);
    expect(Math.abs(cosine(a, b) - cos64(a, b))).toBeLessThan(1e-12);
    expect(Math.abs(cosineDistance(a, b) - (1 - cos64(a, b)))).toBeLessThan(1e-12);
  });

  it('accepts number[], Float64Array and one-row tensors', () => {
    expect(cosine([1, 0], [0, 1])).toBe(0);
    expect(cosine(new Float64Array([1, 1]), [2, 2])).toBeCloseTo(1, 15);
    expect(cosine(tensor([3, 4]), [3, 4])).toBe(1);
  });

  it('gives 0 for a zero vector, and clamps to [-1, 1]', () => {
    expect(cosine([0, 0, 0], [1, 2, 3])).toBe(0);
    expect(cosine([0, 0], [0, 0])).toBe(0);
    expect(cosineDistance([0, 0], [1, 1])).toBe(1);
    const v = rand(1001, 3);
    expect(cosine(v, v)).toBeLessThanOrEqual(1);
    expect(
      cosine(
        v,
        v.map((x) => -x),
      ),
    ).toBeGreaterThanOrEqual(-1);
  });

  it('handles tiny and huge magnitudes without overflow', () => {
    expect(cosine([1e-30, 2e-30], [2e-30, 4e-30])).toBeCloseTo(1, 12);
    expect(cosine([1e30, -1e30], [1e30, 1e30])).toBeCloseTo(0, 12);
  });

  it.each([
    ['mismatched lengths', () => cosine([1, 2], [1, 2, 3]), 'DIMENSION_MISMATCH', 'b'],
    ['empty', () => cosine([], []), 'EMPTY_INPUT', 'a'],
    ['NaN', () => cosine([1, Number.NaN], [1, 2]), 'NON_FINITE', 'a'],
    ['Infinity', () => cosine([1, 2], [Number.POSITIVE_INFINITY, 2]), 'NON_FINITE', 'b'],
    ['Int32Array', () => cosine(new Int32Array(2) as never, [1, 2]), 'INVALID_TYPE', 'a'],
    ['a string', () => cosine('ab' as never, [1, 2]), 'INVALID_TYPE', 'a'],
    ['two-row tensor', () => cosine(tensor([[1], [2]]), [1]), 'SHAPE_MISMATCH', 'a'],
  ])('rejects %s', (_n, fn, code, arg) => {
    try {
      fn();
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(CosineKitError);
      expect(e).toMatchObject({ code, arg, op: 'cosine' });
    }
  });
});

describe('cosineDistance is 1 - cosine, by the same path', () => {
  it('the same cosine for Float32Arrays, number[], Float64Arrays and tensors, at awkward lengths; errors named after it', () => {
    for (const d of [1, 3, 4, 8, 17, 97, 384, 1025]) {
      const a = Float32Array.from({ length: d }, (_, i) => Math.sin(i + 1) * 10 ** ((i % 7) - 3));
      const b = Float32Array.from({ length: d }, (_, i) => Math.cos(i * 0.7));
      for (const [x, y] of [
        [a, b],
        [Array.from(a), Array.from(b)],
        [new Float64Array(a), new Float64Array(b)],
        [tensor(a, [1, d]), tensor(b, [1, d])],
      ] as const)
        expect(cosineDistance(x, y), `d = ${d}`).toBe(1 - cosine(x, y));
      expect(cosineDistance(a, new Float32Array(d))).toBe(1);
    }
    const bad = Float32Array.of(1, Number.NaN);
    expect(() => cosineDistance(bad, Float32Array.of(1, 2))).toThrow(
      expect.objectContaining({ code: 'NON_FINITE', op: 'cosineDistance', arg: 'a' }),
    );
    expect(() => cosineDistance(Float32Array.of(1, 2), Float32Array.of(1))).toThrow(
      expect.objectContaining({ code: 'DIMENSION_MISMATCH', op: 'cosineDistance', arg: 'b' }),
    );
  });
});

describe('NaN and ±Infinity at any position, beside any other values', () => {
  // A NaN followed by a finite value once read as that value's magnitude in the rescaling pass:
  // cosine([NaN, 0], [1, 2]) answered 0 and normalize([NaN, 1]) [NaN, 0].
  const others = [0, -0, 1, -3, 1e-310, 1e300, 2 ** -1074];
  const bad = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
  const kinds = [
    ['number[]', (v: number[]) => v],
    ['Float64Array', (v: number[]) => Float64Array.from(v)],
    ['Float32Array', (v: number[]) => Float32Array.from(v)],
  ] as const;
  it.each(kinds)('%s: every function refuses it, naming the argument', (_kind, make) => {
    for (const b of bad)
      for (const o of others)
        for (const d of [1, 2, 3, 5])
          for (let at = 0; at < d; at++) {
            const v = Array.from({ length: d }, (_, i) => (i === at ? b : o));
            const w = Array.from({ length: d }, (_, i) => i + 1);
            const calls: [string, string, () => unknown][] = [
              ['cosine', 'a', () => cosine(make(v), make(w))],
              ['cosine', 'b', () => cosine(make(w), make(v))],
              ['cosineDistance', 'a', () => cosineDistance(make(v), make(w))],
              ['normalize', 'v', () => normalize(make(v))],
            ];
            for (const [op, arg, call] of calls) {
              let got: unknown = 'no error';
              try {
                got = call();
              } catch (e) {
                got = e;
              }
              expect(got, `${op}(${v}) as ${_kind}`).toBeInstanceOf(CosineKitError);
              expect(got).toMatchObject({ code: 'NON_FINITE', op, arg });
            }
          }
  });
});

describe('normalize', () => {
  it('scales to unit length, zero stays zero, writes into out', () => {
    const out = new Float32Array(2);
    expect(normalize([3, 4], out)).toBe(out);
    expect(Array.from(out)).toEqual([Math.fround(0.6), Math.fround(0.8)]);
    expect(Array.from(normalize([0, 0]))).toEqual([0, 0]);
    expect(() => normalize([Number.NaN])).toThrow(expect.objectContaining({ code: 'NON_FINITE', arg: 'v' }));
  });

  it('takes numbers as they are, in float64, as the README says: values outside float32 range normalise, unlike the kit', async () => {
    const tiny = normalize([1e-46, 1e-46]);
    expect(Array.from(tiny)).toEqual([Math.fround(Math.SQRT1_2), Math.fround(Math.SQRT1_2)]);
    expect(Array.from(normalize([1e39, 1]))).toEqual([1, Math.fround(1e-39)]);
    // The kit converts to float32 first: the first row is a zero row there, the second refused.
    const kit = createCosineKit({ backend: 'reference' });
    expect(Array.from((await kit.normalize([[1e-46, 1e-46]])).data)).toEqual([0, 0]);
    await expect(kit.normalize([[1e39, 1]])).rejects.toMatchObject({ code: 'NON_FINITE' });
    kit.dispose();
  });

  it('in place when out is v; an out overlapping v otherwise is refused (was silently wrong: [0.6, 0.12])', () => {
    const buf = new Float32Array([3, 4, 0, 0]);
    const v = buf.subarray(0, 2);
    expect(normalize(v, v)).toBe(v);
    expect(Array.from(v)).toEqual([Math.fround(0.6), Math.fround(0.8)]);
    // Same memory, another view object: still in place.
    buf.set([3, 4]);
    expect(Array.from(normalize(v, new Float32Array(buf.buffer, 0, 2)))).toEqual([
      Math.fround(0.6),
      Math.fround(0.8),
    ]);
    buf.set([3, 4]);
    for (const out of [buf.subarray(1, 3), new Float32Array(buf.buffer, 4, 2)])
      expect(() => normalize(v, out)).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT', op: 'normalize', arg: 'out' }),
      );
    const f64 = new Float64Array([3, 4]);
    expect(() => normalize(f64, new Float32Array(f64.buffer, 0, 2))).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', arg: 'out' }),
    );
    // Apart on one buffer is fine.
    expect(Array.from(normalize(v, buf.subarray(2, 4)))).toEqual([Math.fround(0.6), Math.fround(0.8)]);
  });
});

describe('cosine of two number[] (one pass, no copies)', () => {
  it('answers as the Float64Array path does, bit for bit, scales values past the float64 squares, and names what it cannot read', () => {
    const a = Array.from({ length: 385 }, (_, i) => Math.sin(i * 1.3) * 3);
    const b = Array.from({ length: 385 }, (_, i) => Math.cos(i * 0.7) - 0.2);
    expect(cosine(a, b)).toBe(cosine(Float64Array.from(a), Float64Array.from(b)));
    expect(cosineDistance(a, b)).toBe(1 - cosine(Float64Array.from(a), Float64Array.from(b)));
    // Squares past the float64 range: the general path scales, as for Float64Arrays.
    const huge = a.map((v) => v * 1e300);
    expect(cosine(huge, b)).toBeCloseTo(cosine(a, b), 12);
    expect(cosine([0, 0], [1, 2])).toBe(0);
    expect(() => cosine([1, Number.NaN], [1, 2])).toThrow(
      expect.objectContaining({ code: 'NON_FINITE', arg: 'a' }),
    );
    expect(() => cosine([1, 2], [1, '2' as unknown as number])).toThrow(
      expect.objectContaining({ code: 'INVALID_TYPE', arg: 'b' }),
    );
    const trap = new Proxy([1, 2], {
      get: (t, k) => {
        if (k === '1') throw new Error('trap');
        return Reflect.get(t, k);
      },
    });
    expect(() => cosine(trap, [1, 2])).toThrow(expect.objectContaining({ name: 'CosineKitError', arg: 'a' }));
  });
});
