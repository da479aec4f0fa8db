import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWasmPair, type WasmPair } from '../src/index.js';
import { random } from './helpers.js';

/** Float64 cosine of the float32 values, with the product of squared norms as the reference does. */
function oracle(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  if (aa === 0 || bb === 0) return 0;
  return Math.max(-1, Math.min(1, dot / Math.sqrt(aa) / Math.sqrt(bb)));
}

/** The stated bound of `WasmPair.cosine` against float64. */
const TOL = 1.5e-6;

function vec(d: number, seed: number): Float32Array {
  return random(1, d, seed).data;
}

describe('createWasmPair', () => {
  let pair: WasmPair;
  beforeAll(async () => {
    pair = await createWasmPair();
  });
  afterAll(() => pair.dispose());

  it('matches a float64 cosine within 1.5e-6 on awkward lengths', () => {
    for (const d of [
      1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 63, 64, 65, 71, 127, 129, 767, 768, 1024, 3072, 4099,
    ]) {
      for (let s = 0; s < 3; s++) {
        const a = vec(d, d * 7 + s);
        const b = vec(d, d * 13 + s + 1);
        const got = pair.cosine(a, b);
        expect(Math.abs(got - oracle(a, b)), `d = ${d}`).toBeLessThanOrEqual(TOL);
        // Correlated vectors, where the score is near 1 and the norms dominate the error.
        const near = b.map((v, i) => a[i] + 0.01 * v);
        expect(Math.abs(pair.cosine(a, near) - oracle(a, near)), `d = ${d}, near`).toBeLessThanOrEqual(TOL);
      }
    }
  });

  it('positive data with no cancellation, the worst case for float32 partial sums', () => {
    for (const d of [768, 3072]) {
      const a = vec(d, 1).map(Math.abs);
      const b = vec(d, 2).map((v) => Math.abs(v) + 0.5);
      expect(Math.abs(pair.cosine(a, b) - oracle(a, b))).toBeLessThanOrEqual(TOL);
    }
  });

  it('a vector with itself or its negation gives 1 or -1 within the bound, never past them', () => {
    for (const d of [1, 5, 768, 3072]) {
      const a = vec(d, d);
      const same = pair.cosine(a, a);
      const opposite = pair.cosine(
        a,
        a.map((v) => -v),
      );
      expect(same).toBeLessThanOrEqual(1);
      expect(same).toBeGreaterThanOrEqual(1 - TOL);
      expect(opposite).toBeGreaterThanOrEqual(-1);
      expect(opposite).toBeLessThanOrEqual(-1 + TOL);
    }
    // d = 1: exact in float64.
    expect(pair.cosine(new Float32Array([3]), new Float32Array([0.25]))).toBe(1);
    expect(pair.cosine(new Float32Array([3]), new Float32Array([-1e-20]))).toBe(-1);
  });

  it('a zero vector gives 0', () => {
    for (const d of [1, 9, 768]) {
      const z = new Float32Array(d);
      expect(pair.cosine(z, vec(d, 3))).toBe(0);
      expect(pair.cosine(vec(d, 4), z)).toBe(0);
      expect(pair.cosine(z, z)).toBe(0);
    }
  });

  it('values float32 sums would overflow or lose digits with are computed in float64', () => {
    for (const scale of [1e30, 3e38, 1e-25, 1e-40]) {
      for (const d of [3, 64, 768]) {
        const a = vec(d, 5).map((v) => v * scale);
        const b = vec(d, 6).map((v) => v * scale);
        expect(a.every(Number.isFinite)).toBe(true);
        const want = oracle(a, b);
        expect(Math.abs(pair.cosine(a, b) - want), `scale ${scale}, d = ${d}`).toBeLessThanOrEqual(1e-12);
      }
    }
    // One huge value among ordinary ones.
    const a = vec(768, 7);
    a[100] = 2e38;
    const b = vec(768, 8);
    expect(Math.abs(pair.cosine(a, b) - oracle(a, b))).toBeLessThanOrEqual(1e-12);
  });

  it('grows its scratch memory for long vectors and keeps working for short ones', () => {
    const d = 300_000;
    const a = vec(d, 9);
    const b = vec(d, 10);
    expect(Math.abs(pair.cosine(a, b) - oracle(a, b))).toBeLessThanOrEqual(TOL);
    const s = vec(5, 11);
    expect(
      Math.abs(
        pair.cosine(
          s,
          s.map((v) => v * 2),
        ) - 1,
      ),
    ).toBeLessThanOrEqual(TOL);
  });

  it('works destructured, as a plain function', () => {
    const { cosine } = pair;
    const a = vec(33, 12);
    const b = vec(33, 13);
    expect(Math.abs(cosine(a, b) - oracle(a, b))).toBeLessThanOrEqual(TOL);
  });

  it('refuses bad arguments with typed errors naming the argument and the function', () => {
    const ok = vec(4, 14);
    const cases: [unknown, unknown, string, string][] = [
      [new Float64Array(4), ok, 'INVALID_TYPE', 'a'],
      [ok, [1, 2, 3, 4], 'INVALID_TYPE', 'b'],
      [null, ok, 'INVALID_TYPE', 'a'],
      [ok, undefined, 'INVALID_TYPE', 'b'],
      [new Float32Array(0), ok, 'EMPTY_INPUT', 'a'],
      [ok, new Float32Array(0), 'EMPTY_INPUT', 'b'],
      [ok, vec(5, 15), 'DIMENSION_MISMATCH', 'b'],
      [ok, new Float32Array([1, Number.NaN, 0, 0]), 'NON_FINITE', 'b'],
      [new Float32Array([0, 0, Number.POSITIVE_INFINITY, 0]), ok, 'NON_FINITE', 'a'],
      [new Float32Array(4), new Float32Array([0, Number.NEGATIVE_INFINITY, 0, 0]), 'NON_FINITE', 'b'],
      [new Float32Array(9).fill(Number.NaN), new Float32Array(9), 'NON_FINITE', 'a'],
    ];
    for (const [a, b, code, arg] of cases) {
      let err: unknown;
      try {
        pair.cosine(a as Float32Array, b as Float32Array);
      } catch (e) {
        err = e;
      }
      expect(err, `${code} ${arg}`).toMatchObject({ code, arg, op: 'WasmPair.cosine' });
      expect((err as Error).message).toContain(`Argument '${arg}' passed to 'WasmPair.cosine'`);
    }
    expect(pair.cosine(ok, ok)).toBeGreaterThan(1 - TOL);
  });

  it('a detached array is DISPOSED (was EMPTY_INPUT) and a Proxy around one INVALID_TYPE (was a TypeError), by name', () => {
    const ok = vec(4, 17);
    const gone = vec(4, 18);
    structuredClone(gone.buffer, { transfer: [gone.buffer] });
    const fake = new Proxy(vec(4, 19), {});
    const cases: [unknown, unknown, string, string][] = [
      [gone, ok, 'DISPOSED', 'a'],
      [ok, gone, 'DISPOSED', 'b'],
      [fake, ok, 'INVALID_TYPE', 'a'],
      [ok, fake, 'INVALID_TYPE', 'b'],
    ];
    for (const [a, b, code, arg] of cases) {
      expect(() => pair.cosine(a as Float32Array, b as Float32Array), `${code} ${arg}`).toThrow(
        expect.objectContaining({ name: 'CosineKitError', code, arg, op: 'WasmPair.cosine' }),
      );
    }
    // Still answering, within the bound.
    const c = vec(4, 20);
    expect(Math.abs(pair.cosine(ok, c) - oracle(ok, c))).toBeLessThan(TOL);
  });

  it('refuses bad options by name (a TypeError, a misspelt option ignored, before)', async () => {
    const cases: [unknown, string, string][] = [
      [null, 'INVALID_TYPE', 'options'],
      [5, 'INVALID_TYPE', 'options'],
      [{ variant: 'relaxed' }, 'INVALID_ARGUMENT', 'options.variant'],
      [{ wasm: 123 }, 'INVALID_TYPE', 'options.wasm'],
      [{ wasm: new Uint8Array(8) }, 'UNSUPPORTED', 'options.wasm'],
      [{ wasm: 'file:///no/such/binary.wasm' }, 'UNSUPPORTED', 'options.wasm'],
    ];
    for (const [options, code, arg] of cases)
      await expect(createWasmPair(options as never), JSON.stringify(options)).rejects.toMatchObject({
        name: 'CosineKitError',
        code,
        op: 'createWasmPair',
        arg,
      });
  });

  it('refuses calls after dispose', async () => {
    const p = await createWasmPair();
    const a = vec(8, 16);
    expect(p.cosine(a, a)).toBeGreaterThan(1 - TOL);
    p.dispose();
    p.dispose();
    expect(() => p.cosine(a, a)).toThrow(
      expect.objectContaining({ code: 'DISPOSED', op: 'WasmPair.cosine' }),
    );
  });
});
