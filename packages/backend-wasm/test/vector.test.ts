import { cosine } from '@cosinekit/core';
import { type CosineKitError, isCosineKitError } from '@cosinekit/core/backend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WasmBackend } from '../src/index.js';
import { backend, random, VARIANTS } from './helpers.js';

for (const variant of VARIANTS) {
  describe(`resident vectors (${variant})`, () => {
    let b: WasmBackend;
    beforeAll(async () => {
      b = await backend({ variant });
    });
    afterAll(() => b.dispose());

    it('computes the cosine of two resident vectors in one call', () => {
      for (const d of [1, 3, 5, 17, 64, 1536]) {
        const x = random(1, d, d).data;
        const y = random(1, d, d + 1).data;
        const a = b.createVector(x);
        const c = b.createVector(y);
        expect(b.vectorCosine(a, c)).toBeCloseTo(cosine(x, y), 5);
        expect(b.vectorCosine(a, a)).toBeCloseTo(1, 6);
        a.dispose();
        c.dispose();
      }
      expect(b.memory()).toEqual({ residentHandles: 0, bytes: 0 });
    });

    it('set() overwrites the values and their norm', () => {
      const a = b.createVector([1, 0, 0]);
      const c = b.createVector([0, 1, 0]);
      expect(b.vectorCosine(a, c)).toBe(0);
      c.set([2, 2, 0]);
      expect(b.vectorCosine(a, c)).toBeCloseTo(Math.SQRT1_2, 6);
      expect([...c.toArray()]).toEqual([2, 2, 0]);
      a.set(new Float32Array(3));
      expect(b.vectorCosine(a, c)).toBe(0);
      a.dispose();
      c.dispose();
    });

    it('clamps to [-1, 1] and checks its arguments', () => {
      const a = b.createVector([1e-3, 2e-3, 3e-3]);
      const n = b.createVector([-1e-3, -2e-3, -3e-3]);
      expect(b.vectorCosine(a, n)).toBeGreaterThanOrEqual(-1);
      expect(b.vectorCosine(a, a)).toBeLessThanOrEqual(1);
      const short = b.createVector([1, 2]);
      expect(() => b.vectorCosine(a, short)).toThrow(/has length 2 but 'a' has length 3/);
      expect(() => b.createVector([])).toThrow(/empty/);
      let err: unknown;
      try {
        b.createVector([1, Number.NaN]);
      } catch (e) {
        err = e;
      }
      expect(isCosineKitError(err, 'NON_FINITE')).toBe(true);
      short.dispose();
      expect(() => b.vectorCosine(a, short)).toThrow(/disposed/);
      // The error names the argument that held the disposed vector.
      for (const [x, y, arg] of [
        [a, short, 'b'],
        [short, a, 'a'],
      ] as const) {
        let gone: unknown;
        try {
          b.vectorCosine(x, y);
        } catch (e) {
          gone = e;
        }
        expect(isCosineKitError(gone, 'DISPOSED')).toBe(true);
        expect((gone as CosineKitError).arg).toBe(arg);
        expect((gone as CosineKitError).op).toBe('vectorCosine');
      }
      expect(() => short.set([1, 2])).toThrow(/disposed/);
      a.dispose();
      n.dispose();
      expect(b.memory()).toEqual({ residentHandles: 0, bytes: 0 });
    });

    it('refuses what is not numbers by name: detached, a Proxy, strings, null, objects, BigInt64Array, throwing getters', () => {
      const v = b.createVector([1, 2]);
      const gone = new Float32Array([1, 2]);
      structuredClone(gone.buffer, { transfer: [gone.buffer] });
      const getter = [1, 2];
      Object.defineProperty(getter, 1, {
        get() {
          throw new Error('getter broke');
        },
      });
      const cases: [unknown, string, string][] = [
        [gone, 'DISPOSED', 'data'],
        [new Proxy(Float32Array.of(1, 2), {}), 'INVALID_TYPE', 'data'],
        [['1', 2], 'INVALID_TYPE', 'data[0]'],
        [[1, true], 'INVALID_TYPE', 'data[1]'],
        [null, 'INVALID_TYPE', 'data'],
        [{ length: 2 }, 'INVALID_TYPE', 'data'],
        [BigInt64Array.of(1n), 'INVALID_TYPE', 'data'],
        [getter, 'INVALID_ARGUMENT', 'data'],
      ];
      for (const [data, code, arg] of cases) {
        for (const [op, call] of [
          ['createVector', () => b.createVector(data as never)],
          ['WasmVector.set', () => v.set(data as never)],
        ] as const)
          expect(call, `${op} ${code} ${arg}`).toThrow(
            expect.objectContaining({ name: 'CosineKitError', code, op, arg }),
          );
      }
      // Typed arrays of numbers are taken as values, and the vector still answers.
      const w = b.createVector(Float64Array.of(2, 4));
      expect(Math.abs(b.vectorCosine(v, w) - 1)).toBeLessThan(1e-6);
      w.dispose();
      v.dispose();
    });

    /** Float64 cosine of the float32 values of `x` and `y`, 0 for a zero vector. */
    const exact = (x: Float32Array, y: Float32Array): number => {
      let dot = 0;
      let xx = 0;
      let yy = 0;
      for (let i = 0; i < x.length; i++) {
        dot += x[i] * y[i];
        xx += x[i] * x[i];
        yy += y[i] * y[i];
      }
      return xx === 0 || yy === 0 ? 0 : dot / Math.sqrt(xx) / Math.sqrt(yy);
    };

    it('any finite magnitude, within 1.5e-6 of float64 (float32 products overflowed to 1 or NaN, or flushed to 0)', () => {
      const cases: [number[], number[]][] = [
        [
          [1e20, 1e20],
          [1e20, 1e19],
        ],
        [
          [1e20, 1e20],
          [1e20, -1e19],
        ],
        [
          [1e30, -1e30, 1e30],
          [1e30, 1e30, -1e30],
        ],
        [
          [3e38, 1, -3e38],
          [3e38, 2, 3e38],
        ],
        [
          [1e-40, 2e-40, 3e-40],
          [3e-40, 2e-40, 1e-40],
        ],
        [[1e-42], [1e-42]],
        [
          [1e-20, 3e-20, -2e-20, 1e-20, 5e-20],
          [2e-20, 1e-20, 1e-20, -4e-20, 1e-20],
        ],
        [
          [1e-25, 1e15],
          [1e15, 1e-25],
        ],
      ];
      for (const [xs, ys] of cases) {
        const x = Float32Array.from(xs);
        const y = Float32Array.from(ys);
        const a = b.createVector(x);
        const c = b.createVector(y);
        const got = b.vectorCosine(a, c);
        expect(Number.isNaN(got), `${xs} . ${ys}`).toBe(false);
        expect(Math.abs(got - exact(x, y)), `${xs} . ${ys}: ${got}`).toBeLessThan(1.5e-6);
        a.dispose();
        c.dispose();
      }
    });

    it('long vectors stay within 1.5e-6 (one float32 chain lost 1e-4 at d = 100,000)', () => {
      for (const d of [64, 65, 1000, 4099, 100_003]) {
        const x = new Float32Array(d).fill(1 / 3);
        const y = Float32Array.from({ length: d }, (_, i) => 1 / 3 + (i % 7) * 1e-3);
        const a = b.createVector(x);
        const c = b.createVector(y);
        expect(Math.abs(b.vectorCosine(a, a) - 1), `d = ${d}`).toBeLessThan(1.5e-6);
        expect(Math.abs(b.vectorCosine(a, c) - exact(x, y)), `d = ${d}`).toBeLessThan(1.5e-6);
        a.dispose();
        c.dispose();
      }
    });

    it('refuses what is not a vector by name, and a finite value beyond float32 by its value and place', () => {
      const v = b.createVector([1, 2, 3]);
      for (const [a, c, arg] of [
        [v, null, 'b'],
        [v, undefined, 'b'],
        [[1, 2, 3], v, 'a'],
      ] as const)
        expect(() => b.vectorCosine(a as never, c as never)).toThrow(
          expect.objectContaining({ code: 'INVALID_TYPE', op: 'vectorCosine', arg }),
        );
      for (const data of [[1, 1e39, 3], Float64Array.of(1, 1e39, 3)])
        for (const [op, call] of [
          ['createVector', () => b.createVector(data)],
          ['WasmVector.set', () => v.set(data)],
        ] as const)
          expect(call, op).toThrow(
            expect.objectContaining({
              code: 'NON_FINITE',
              op,
              arg: 'data',
              message: expect.stringMatching(/holds 1e\+39 at index 1, beyond float32/),
            }),
          );
      v.dispose();
    });
  });
}
