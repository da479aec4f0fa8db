import {
  isCosineKitError,
  type Matrix,
  type ResidentCorpus,
  referenceKernels,
  type StoredCorpus,
} from '@cosinekit/core/backend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WasmBackend } from '../src/index.js';
import { threadsUnavailable } from '../src/threads.js';
import { backend, bits, random, VARIANTS } from './helpers.js';

/** The value of binary16 bits `h`, computed from the standard's definition. */
function halfValue(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

/** The float32 rows a float16 corpus's bits stand for (exact: every binary16 value is a float32 value). */
function decoded(half: Uint16Array): Float32Array {
  return Float32Array.from(half, halfValue);
}

/** The reference backend's stored form of `x` with `storage`/`rerank` (the bits every backend must store). */
function referenceStored(x: Matrix, options: { storage: 'float16'; rerank?: number }): StoredCorpus {
  const r = referenceKernels.createCorpus(x, options) as ResidentCorpus;
  const s = referenceKernels.exportCorpus!(r) as StoredCorpus;
  r.dispose();
  return s;
}

/** The first index where `a` and `b` differ (or their lengths do), -1 where they are the same. */
function firstDifference(a: ArrayLike<number> | null, b: ArrayLike<number> | null): number {
  if (a === null || b === null) return a === b ? -1 : 0;
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

/** Float64 cosine of row i of `a` against row j of `b`, both `d` wide. */
function cos64(a: Float32Array, i: number, b: Float32Array, j: number, d: number): number {
  let dot = 0;
  let x = 0;
  let y = 0;
  for (let t = 0; t < d; t++) {
    dot += a[i * d + t] * b[j * d + t];
    x += a[i * d + t] ** 2;
    y += b[j * d + t] ** 2;
  }
  return x === 0 || y === 0 ? 0 : dot / Math.sqrt(x * y);
}

/**
 * Rows that stress the encoder: random rows, a zero row, a row of -0, a row with one component far
 * above the rest (its small components become binary16 subnormals or zero), a row of huge values
 * and one of float32 subnormals (both normalised in float64, as the reference does).
 */
function awkward(rows: number, d: number, seed: number): Matrix {
  const x = random(rows, d, seed);
  const row = (r: number, f: (j: number) => number) => {
    if (r < rows) for (let j = 0; j < d; j++) x.data[r * d + j] = f(j);
  };
  row(1, () => 0);
  row(2, () => -0);
  row(3, (j) => (j === 0 ? 1e4 : x.data[3 * d + j] * 1e-3));
  row(4, (j) => x.data[4 * d + j] * 1e30);
  row(5, (j) => x.data[5 * d + j] * 1e-40);
  return x;
}

describe('float16 corpora on wasm', () => {
  let b: WasmBackend;
  beforeAll(async () => {
    b = await backend({ variant: 'simd' });
  });
  afterAll(() => b.dispose());

  it("store the reference backend's binary16 bits, and export and import them as they are", () => {
    for (const d of [1, 3, 4, 5, 17, 97, 384, 4097])
      for (const rows of [1, 2, 3, 7, 70]) {
        const x = awkward(rows, d, rows * 31 + d);
        for (const rerank of [0, 2]) {
          const want = referenceStored(x, { storage: 'float16', rerank });
          const c = b.kernels.createCorpus(x, { storage: 'float16', rerank });
          expect(c.storage).toBe('float16');
          expect(c.rerank).toBe(rerank);
          const got = b.kernels.exportCorpus(c);
          expect(got.storage).toBe('float16');
          expect(firstDifference(got.half, want.half), `${rows} x ${d}, rerank ${rerank}`).toBe(-1);
          expect(got.exact === null).toBe(rerank === 0);
          const back = b.kernels.importCorpus(got);
          const again = b.kernels.exportCorpus(back);
          expect(firstDifference(again.half, got.half)).toBe(-1);
          expect(firstDifference(again.exact, got.exact)).toBe(-1);
          c.dispose();
          back.dispose();
        }
      }
  });

  it('refuse a row holding NaN or ±Infinity by its number, and a stored form without its bits', () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const x = random(9, 6, 5);
      x.data[7 * 6 + 4] = bad;
      let err: unknown;
      try {
        b.kernels.createCorpus(x, { storage: 'float16' });
      } catch (e) {
        err = e;
      }
      expect(isCosineKitError(err, 'NON_FINITE')).toBe(true);
      expect(String((err as Error).message)).toMatch(/row 7\b/);
    }
    let err: unknown;
    try {
      b.kernels.importCorpus({
        rows: 2,
        cols: 3,
        storage: 'float16',
        rerank: 0,
        exact: null,
        half: new Uint16Array(5),
        codes: null,
        scales: null,
      });
    } catch (e) {
      err = e;
    }
    expect(isCosineKitError(err, 'INVALID_ARGUMENT')).toBe(true);
    expect(b.memory().bytes).toBe(0);
  });

  it('read back their rows decoded, and merge by copying the bits of the rows kept', () => {
    const d = 37;
    const x = awkward(50, d, 3);
    const c = b.kernels.createCorpus(x, { storage: 'float16' });
    const stored = b.kernels.exportCorpus(c);
    expect(bits(b.kernels.readCorpus(c))).toEqual(bits(decoded(stored.half!)));
    const y = random(23, d, 4);
    const c2 = b.kernels.createCorpus(y, { storage: 'float16' });
    const drop = [
      new Uint8Array(50).map((_, i) => i % 3),
      new Uint8Array(23).map((_, i) => (i === 5 ? 1 : 0)),
    ];
    const m = b.kernels.mergeCorpora([c, c2], drop);
    const want: number[] = [];
    const h2 = b.kernels.exportCorpus(c2).half!;
    for (let i = 0; i < 50; i++)
      if (drop[0][i] === 0) want.push(...stored.half!.subarray(i * d, (i + 1) * d));
    for (let i = 0; i < 23; i++) if (drop[1][i] === 0) want.push(...h2.subarray(i * d, (i + 1) * d));
    expect(Array.from(b.kernels.exportCorpus(m).half!)).toEqual(want);
    for (const k of [c, c2, m]) k.dispose();
    expect(b.memory().bytes).toBe(0);
  });
});

// A float16 search decodes a block of panels at a time and runs the float32 engine over it: every
// score must be, bit for bit, what the float32 engine gives for the decoded rows (a float32 corpus
// imported with those rows), through every driver (query tiles, the few-row tiles, one query's
// stream, rows longer than a span), at 1 and 2 threads (each helper decoding into its own slot),
// for search, filtered search (rows gathered, and streamed) and the full matrix; and within the
// documented bound of the float64 cosine of the original rows.
describe('float16 search: the float32 engine over the decoded rows, bit for bit', () => {
  for (const variant of VARIANTS)
    for (const threads of [1, 2])
      it(`${variant}, ${threads} thread(s)`, async () => {
        if (threads > 1) {
          const why = threadsUnavailable();
          if (why !== undefined) console.log(`[half] 2 threads run as one here: ${why}`);
        }
        const b = await backend({ variant, threads, tuning: { threadMinFlops: 0 } });
        try {
          for (const [n, d] of [
            [1, 1],
            [5, 3],
            [70, 17],
            [301, 97],
            [130, 384],
            [9, 4097],
            // Two spans and a part, one query streamed span by span (it was decoded into scratch).
            [7, 8200],
          ])
            for (const m of [1, 2, 3, 5, 8, 13]) {
              const x = awkward(n, d, n * 7 + d);
              const q = random(m, d, m * 5 + d);
              const k = Math.min(n, 7);
              const c = b.kernels.createCorpus(x, { storage: 'float16' });
              const half = b.kernels.exportCorpus(c).half!;
              const f = b.kernels.importCorpus({
                rows: n,
                cols: d,
                storage: 'float32',
                rerank: 0,
                exact: decoded(half),
                half: null,
                codes: null,
                scales: null,
              });
              const at = `${m} x ${n} x ${d}`;
              const got = b.kernels.corpusSearch(c, q, k);
              const want = b.kernels.corpusSearch(f, q, k);
              expect(Array.from(got.indices), at).toEqual(Array.from(want.indices));
              expect(bits(got.scores), at).toEqual(bits(want.scores));
              expect(bits(b.kernels.corpusMatrix(c, q)), at).toEqual(bits(b.kernels.corpusMatrix(f, q)));
              for (const share of [0.05, 0.6]) {
                const allow = new Uint8Array(n).map((_, i) => ((i * 7919) % 100 < share * 100 ? 1 : 0));
                allow[n - 1] = 1;
                const kk = Math.min(
                  k,
                  allow.reduce((s, v) => s + v, 0),
                );
                const g = b.kernels.corpusSearchAllowed(c, q, kk, allow);
                const w = b.kernels.corpusSearchAllowed(f, q, kk, allow);
                expect(Array.from(g.indices), `${at}, ${share} pass`).toEqual(Array.from(w.indices));
                expect(bits(g.scores), `${at}, ${share} pass`).toEqual(bits(w.scores));
              }
              // The documented bound against the float64 cosine of the rows as given.
              const tol = 2 ** -11 + 2 ** -20 + Math.sqrt(d) * 2 ** -24 + 1e-6;
              for (let i = 0; i < m; i++)
                for (let t = 0; t < k; t++) {
                  const j = got.indices[i * k + t];
                  expect(
                    Math.abs(got.scores[i * k + t] - cos64(q.data, i, x.data, j, d)),
                    at,
                  ).toBeLessThanOrEqual(tol);
                }
              c.dispose();
              f.dispose();
            }
          expect(b.memory().bytes).toBe(0);
        } finally {
          b.dispose();
        }
      });
});

// The scratch a float16 search decodes into is a cache block a thread, no more than the rows hold
// (sized by the tuning alone, blockBytes of 2^30 made a search of 10 rows take 2 GiB a thread, and
// 4 threads ran out of memory), and none for one query row, which decodes in registers.
describe('float16 search scratch', () => {
  it('is sized by the rows searched, not the tuning alone', async () => {
    const b = await backend({
      variant: 'simd',
      threads: 2,
      tuning: { blockBytes: 2 ** 30, threadMinFlops: 0 },
    });
    try {
      const x = random(10, 8, 1);
      const c = b.kernels.createCorpus(x, { storage: 'float16' });
      const f = b.kernels.createCorpus(x);
      b.memoryPeak();
      for (const m of [1, 2, 7]) {
        const q = random(m, 8, m);
        const got = b.kernels.corpusSearch(c, q, 3);
        const want = b.kernels.corpusSearch(f, q, 3);
        expect(Array.from(got.indices)).toEqual(Array.from(want.indices));
        expect(b.memoryPeak(), `${m} queries`).toBeLessThan(1 << 20);
      }
      c.dispose();
      f.dispose();
      expect(b.memory().bytes).toBe(0);
    } finally {
      b.dispose();
    }
  });
});

describe('float16 with re-ranking', () => {
  it('returns the float32 search, bit for bit, and a zero query scores 0 with the first rows', async () => {
    const b = await backend({ variant: 'simd' });
    try {
      const x = awkward(90, 48, 11);
      const q = random(6, 48, 12);
      q.data.fill(0, 2 * 48, 3 * 48);
      const c = b.kernels.createCorpus(x, { storage: 'float16', rerank: 3 });
      const f = b.kernels.createCorpus(x);
      const got = b.kernels.corpusSearch(c, q, 5);
      const want = b.kernels.corpusSearch(f, q, 5);
      expect(Array.from(got.indices)).toEqual(Array.from(want.indices));
      expect(bits(got.scores)).toEqual(bits(want.scores));
      const plain = b.kernels.createCorpus(x, { storage: 'float16' });
      const z = b.kernels.corpusSearch(plain, q, 5);
      expect(Array.from(z.indices.subarray(10, 15))).toEqual([0, 1, 2, 3, 4]);
      expect(Array.from(z.scores.subarray(10, 15))).toEqual([0, 0, 0, 0, 0]);
      for (const k of [c, f, plain]) k.dispose();
      expect(b.memory().bytes).toBe(0);
    } finally {
      b.dispose();
    }
  });
});
