import { createWasmBackend } from '@cosinekit/backend-wasm';
import {
  type CosineKit,
  cosine,
  cosineDistance,
  createCosineKit,
  isCosineKitError,
  normalize,
} from '@cosinekit/core';
import { createReferenceBackend } from '@cosinekit/core/backend';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Extreme numbers through every entry point, against a float64 oracle: huge and tiny magnitudes
 * (3.4e38, 1e38, 1e-38, float32 and float64 subnormals, 1e±300 for float64 inputs), mixed in one
 * vector, -0, zero vectors, d = 1, one row, duplicated rows; NaN and ±Infinity at any position.
 * Every cosine must lie in [-1, 1] and match the oracle; every non-finite input must be a typed
 * `NON_FINITE` naming the argument; a zero vector gives cosine 0, distance 1, a zero normal.
 *
 * `COSINEKIT_FUZZ_RUNS` sets the runs per property (default 200); `COSINEKIT_SEED` replays one.
 */

const RUNS = Number(process.env.COSINEKIT_FUZZ_RUNS ?? 200);
const SEED = process.env.COSINEKIT_SEED === undefined ? undefined : Number(process.env.COSINEKIT_SEED);
const params = { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED }) };

/** Values a float32 holds exactly, biased to the extremes. */
const f32Value = fc.oneof(
  fc.constantFrom(
    0,
    -0,
    1,
    -1,
    3.4e38,
    -3.4e38,
    1e38,
    -1e-38,
    1e-38,
    2 ** -149,
    -(2 ** -149),
    2 ** -126,
    1e-45,
  ),
  fc.float({ noNaN: true, noDefaultInfinity: true }),
  fc.integer({ min: -4, max: 4 }),
);
/** Values of float64 inputs: the float32 ones and those only float64 holds. */
const f64Value = fc.oneof(
  f32Value,
  fc.constantFrom(1e300, -1e300, 1e-300, 5e-324, -5e-324, Number.MAX_VALUE, 2 ** 600),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

/** A float64 oracle for the cosine: both vectors scaled by powers of two first (exact), then summed. */
function scaled(v: ArrayLike<number>): number[] {
  let m = 0;
  for (let i = 0; i < v.length; i++) m = Math.max(m, Math.abs(v[i]));
  if (m === 0) return Array.from(v, () => 0);
  const e = Math.floor(Math.log2(m));
  // Two steps: 2^-e alone can overflow for subnormal m.
  return Array.from(v, (x) => x * 2 ** Math.floor(-e / 2) * 2 ** Math.ceil(-e / 2));
}
function oracleCos(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const x = scaled(a);
  const y = scaled(b);
  let d = 0;
  let xx = 0;
  let yy = 0;
  for (let i = 0; i < x.length; i++) {
    d += x[i] * y[i];
    xx += x[i] * x[i];
    yy += y[i] * y[i];
  }
  return xx === 0 || yy === 0 ? 0 : Math.max(-1, Math.min(1, d / Math.sqrt(xx) / Math.sqrt(yy)));
}
function oracleNorm(v: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < v.length; i++) m = Math.max(m, Math.abs(v[i]));
  if (m === 0) return 0;
  let s = 0;
  for (let i = 0; i < v.length; i++) s += (v[i] / m) ** 2;
  return m * Math.sqrt(s);
}

/** What a call threw, or 'no error'. */
function thrown(call: () => unknown): unknown {
  try {
    call();
  } catch (e) {
    return e;
  }
  return 'no error';
}
async function rejected(call: () => Promise<unknown>): Promise<unknown> {
  try {
    await call();
  } catch (e) {
    return e;
  }
  return 'no error';
}

const forms = [
  ['number[]', (v: number[]) => v, f64Value],
  ['Float64Array', (v: number[]) => Float64Array.from(v), f64Value],
  ['Float32Array', (v: number[]) => Float32Array.from(v), f32Value],
] as const;

describe('core pair functions on extreme values', () => {
  for (const [form, make, value] of forms) {
    it(`${form}: cosine, cosineDistance and normalize match float64; zero vectors are 0, 1 and zeros`, () => {
      fc.assert(
        fc.property(
          fc
            .integer({ min: 1, max: 9 })
            .chain((d) =>
              fc.tuple(
                fc.array(value, { minLength: d, maxLength: d }),
                fc.array(value, { minLength: d, maxLength: d }),
              ),
            ),
          ([a, b]) => {
            const x = Array.from(make(a));
            const y = Array.from(make(b));
            const want = oracleCos(x, y);
            const c = cosine(make(a), make(b));
            expect(c).toBeGreaterThanOrEqual(-1);
            expect(c).toBeLessThanOrEqual(1);
            expect(Math.abs(c - want), `cosine(${x}, ${y})`).toBeLessThanOrEqual(1e-9);
            expect(Math.abs(cosineDistance(make(a), make(b)) - (1 - want))).toBeLessThanOrEqual(1e-9);
            const n = normalize(make(a));
            const s = scaled(x);
            const len = Math.hypot(...s);
            for (let i = 0; i < n.length; i++) {
              const w = len === 0 ? 0 : s[i] / len;
              expect(Math.abs(n[i] - w), `normalize(${x})[${i}]`).toBeLessThanOrEqual(1e-6);
            }
          },
        ),
        params,
      );
    });

    it(`${form}: NaN or ±Infinity at any position is NON_FINITE naming the argument`, () => {
      fc.assert(
        fc.property(
          fc.array(value, { minLength: 1, maxLength: 9 }),
          fc.nat(),
          fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY),
          fc.boolean(),
          (v, at, bad, second) => {
            const w = v.slice();
            w[at % w.length] = bad;
            const good = v.map((_, i) => i + 1);
            const [a, b] = second ? [good, w] : [w, good];
            const arg = second ? 'b' : 'a';
            for (const [op, call] of [
              ['cosine', () => cosine(make(a), make(b))],
              ['cosineDistance', () => cosineDistance(make(a), make(b))],
            ] as const)
              expect(thrown(call)).toMatchObject({ name: 'CosineKitError', code: 'NON_FINITE', op, arg });
            expect(thrown(() => normalize(make(w)))).toMatchObject({
              code: 'NON_FINITE',
              op: 'normalize',
              arg: 'v',
            });
          },
        ),
        params,
      );
    });
  }
});

const KITS = [
  ['reference', () => createReferenceBackend()],
  ['wasm (simd)', () => createWasmBackend({ variant: 'simd' })],
  ['wasm (relaxed)', () => createWasmBackend({ variant: 'relaxed' })],
] as const;

/** A matrix of float32 extremes: rows 1..6 of dimension 1..9, some rows repeated or zero. */
const matrixOf = (d: number, maxRows = 6) =>
  fc
    .array(fc.oneof(fc.array(f32Value, { minLength: d, maxLength: d }), fc.constant(Array(d).fill(0))), {
      minLength: 1,
      maxLength: maxRows,
    })
    .chain((rows) =>
      fc
        .array(fc.nat({ max: rows.length - 1 }), { maxLength: 2 })
        .map((dups) => [...rows, ...dups.map((i) => rows[i])]),
    )
    .map((rows) => rows.map((r) => Array.from(Float32Array.from(r))));

for (const [label, create] of KITS) {
  describe(`kit on extreme values: ${label}`, () => {
    let kit: CosineKit;
    beforeAll(async () => {
      kit = createCosineKit({ backend: create() });
      await kit.ready();
    });
    afterAll(() => kit.dispose());

    it('cosineMatrix, cosineRows, topK and a corpus search match float64, ties to the lower row', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 9 }).chain((d) => fc.tuple(matrixOf(d, 3), matrixOf(d))),
          fc.nat(),
          async ([q, c], kSeed) => {
            const m = await kit.cosineMatrix(q, c);
            for (let i = 0; i < q.length; i++)
              for (let j = 0; j < c.length; j++) {
                const v = m.data[i * c.length + j];
                expect(v).toBeGreaterThanOrEqual(-1);
                expect(v).toBeLessThanOrEqual(1);
                expect(Math.abs(v - oracleCos(q[i], c[j])), `cos(q${i}, c${j})`).toBeLessThanOrEqual(2e-6);
              }
            const pairs = c.map((_, j) => q[j % q.length]);
            const r = await kit.cosineRows(pairs, c);
            for (let j = 0; j < c.length; j++)
              expect(Math.abs(r[j] - oracleCos(pairs[j], c[j]))).toBeLessThanOrEqual(2e-6);
            const k = 1 + (kSeed % c.length);
            const corpus = await kit.corpus(c);
            for (const res of [await kit.topK(q, c, k), await corpus.search(q, k)]) {
              for (let i = 0; i < q.length; i++) {
                const idx = Array.from(res.indices.subarray(i * k, (i + 1) * k));
                const sc = Array.from(res.scores.subarray(i * k, (i + 1) * k));
                expect(new Set(idx).size).toBe(k);
                for (let t = 0; t < k; t++) {
                  expect(Math.abs(sc[t] - oracleCos(q[i], c[idx[t]]))).toBeLessThanOrEqual(2e-6);
                  if (t > 0) {
                    expect(sc[t - 1]).toBeGreaterThanOrEqual(sc[t]);
                    if (sc[t - 1] === sc[t]) expect(idx[t - 1]).toBeLessThan(idx[t]);
                  }
                }
                // Nothing left out scores above the last one kept (beyond rounding).
                for (let j = 0; j < c.length; j++)
                  if (!idx.includes(j)) expect(oracleCos(q[i], c[j])).toBeLessThanOrEqual(sc[k - 1] + 4e-6);
                // Identical rows score identically, so they come lower index first.
                for (let t = 1; t < k; t++)
                  if (c[idx[t - 1]].join() === c[idx[t]].join()) expect(idx[t - 1]).toBeLessThan(idx[t]);
              }
            }
            corpus.dispose();
          },
        ),
        { ...params, numRuns: Math.max(20, RUNS / 4) },
      );
    });

    it('rowNorms and normalize match float64 (a norm past the float32 range is refused by name)', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 9 }).chain((d) => matrixOf(d)),
          async (x) => {
            const want = x.map(oracleNorm);
            if (want.some((w) => Math.fround(w) === Number.POSITIVE_INFINITY)) {
              expect(await rejected(() => kit.rowNorms(x))).toMatchObject({
                code: 'INVALID_ARGUMENT',
                op: 'rowNorms',
                arg: 'x',
              });
            } else {
              const n = await kit.rowNorms(x);
              // Relative 1e-6, or the spacing of float32 subnormals.
              for (let i = 0; i < x.length; i++)
                expect(Math.abs(n[i] - want[i])).toBeLessThanOrEqual(1e-6 * want[i] + 2 ** -149);
            }
            const u = await kit.normalize(x);
            for (let i = 0; i < x.length; i++) {
              const s = scaled(x[i]);
              const len = Math.hypot(...s);
              for (let j = 0; j < s.length; j++)
                expect(Math.abs(u.data[i * s.length + j] - (len === 0 ? 0 : s[j] / len))).toBeLessThanOrEqual(
                  1e-6,
                );
            }
          },
        ),
        { ...params, numRuns: Math.max(20, RUNS / 4) },
      );
    });

    it('k that is not an integer in [1, N] is INVALID_K, for topK and a corpus search alike', async () => {
      const c = [
        [1, 0],
        [0, 1],
        [1, 1],
      ];
      const corpus = await kit.corpus(c);
      for (const k of [
        0,
        -0,
        -1,
        4,
        1.5,
        Number.NaN,
        Number.POSITIVE_INFINITY,
        '2',
        null,
        2n,
        [2],
        { valueOf: () => 2 },
      ]) {
        expect(await rejected(() => kit.topK([[1, 0]], c, k as number))).toMatchObject({
          code: 'INVALID_K',
          op: 'topK',
          arg: 'k',
        });
        expect(await rejected(() => corpus.search([[1, 0]], k as number))).toMatchObject({
          code: 'INVALID_K',
          op: 'search',
          arg: 'k',
        });
      }
      corpus.dispose();
    });

    it('NaN or ±Infinity anywhere in a kit call is NON_FINITE naming the argument', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 6 }).chain((d) => fc.tuple(matrixOf(d, 3), matrixOf(d, 3))),
          fc.nat(),
          fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e39),
          async ([a, b], at, bad) => {
            const flat = a.flat();
            const d = a[0].length;
            const pos = at % flat.length;
            const poisoned = a.map((r, i) => r.map((v, j) => (i * d + j === pos ? bad : v)));
            const calls: [string, string, () => Promise<unknown>][] = [
              ['cosineMatrix', 'a', () => kit.cosineMatrix(poisoned, b)],
              ['cosineMatrix', 'b', () => kit.cosineMatrix(b, poisoned)],
              ['topK', 'queries', () => kit.topK(poisoned, b, 1)],
              ['topK', 'corpus', () => kit.topK(b, poisoned, 1)],
              ['rowNorms', 'x', () => kit.rowNorms(poisoned)],
              ['normalize', 'x', () => kit.normalize(poisoned)],
              ['corpus', 'rows', () => kit.corpus(poisoned)],
            ];
            if (a.length === b.length) calls.push(['cosineRows', 'a', () => kit.cosineRows(poisoned, b)]);
            for (const [op, arg, call] of calls) {
              const e = await rejected(call);
              expect(isCosineKitError(e), `${op}: ${String(e)}`).toBe(true);
              expect(e).toMatchObject({ code: 'NON_FINITE', op, arg });
            }
          },
        ),
        { ...params, numRuns: Math.max(20, RUNS / 4) },
      );
    });
  });
}
