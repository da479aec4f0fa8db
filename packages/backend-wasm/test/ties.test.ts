import type { Matrix, TopKResult } from '@cosinekit/core/backend';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { WasmBackend } from '../src/index.js';
import { threadsUnavailable } from '../src/threads.js';
import { backend } from './helpers.js';

// At d = 1 every positive row points the same way: the exact cosine of a positive query with each
// is 1 and with a negative row -1. The backend must report those as exactly 1 and -1 and, since
// they are equal, rank them by index. Magnitudes spread over many binades so that rounding in a
// normalisation done in float32 would give some rows 1 - 2^-24 and others 1 + 2^-23.
const ROWS = 37;
const MAGNITUDES = Array.from({ length: ROWS }, (_, i) => 10 ** ((i % 13) - 6) * (1 + i * 0.173));

/** `ROWS` rows of d = 1 with the given signs. */
function column(sign: (i: number) => number): Matrix {
  return { data: Float32Array.from(MAGNITUDES, (m, i) => sign(i) * m), rows: ROWS, cols: 1 };
}

/** Queries of d = 1: positive ones of many magnitudes, then one negative. */
const QUERIES: Matrix = { data: new Float32Array([0.3, 7, 1e-3, 2.5e4, 123.456, -0.9]), rows: 6, cols: 1 };

/** Each query's top 3, as [indices, scores] per query. */
function perQuery(r: TopKResult): [number[], number[]][] {
  const out: [number[], number[]][] = [];
  for (let i = 0; i < r.indices.length / r.k; i++) {
    const at = i * r.k;
    out.push([[...r.indices.subarray(at, at + r.k)], [...r.scores.subarray(at, at + r.k)]]);
  }
  return out;
}

const why = threadsUnavailable();

for (const threads of [1, 2]) {
  for (const variant of ['simd', 'relaxed'] as const) {
    describe(`ties at d = 1 (${variant}, threads: ${threads})`, () => {
      let b: WasmBackend;
      // Thresholds 0 so that even these small calls are shared with the helper thread.
      beforeAll(async () => {
        b = await backend({ variant, threads, tuning: { threadMinFlops: 0, threadMinFlopsI8: 0 } });
      });
      afterAll(() => b.dispose());

      it('runs the threads asked for where they can run', () => {
        expect(b.describe().threads).toBe(why === undefined ? threads : 1);
      });

      /** Every way to search: topK, and resident float32, int8 and re-ranked int8 corpora. */
      function searches(corpus: Matrix, queries: Matrix): [string, TopKResult][] {
        const out: [string, TopKResult][] = [['topK', b.kernels.topK(queries, corpus, 3)]];
        for (const options of [{}, { storage: 'int8' as const }, { storage: 'int8' as const, rerank: 2 }]) {
          const c = b.kernels.createCorpus(corpus, options);
          // One query at a time too: an int8 search takes another path below 4 queries.
          const one = { data: queries.data.subarray(0, 1), rows: 1, cols: 1 };
          out.push([`corpusSearch ${JSON.stringify(options)}`, b.kernels.corpusSearch(c, queries, 3)]);
          out.push([`corpusSearch ${JSON.stringify(options)}, 1 query`, b.kernels.corpusSearch(c, one, 3)]);
          c.dispose();
        }
        return out;
      }

      it('equal scores of 1 and -1 go to the lower index', () => {
        const positive = column(() => 1);
        for (const [how, r] of searches(positive, QUERIES)) {
          const rows = perQuery(r);
          for (let i = 0; i < rows.length; i++) {
            const sign = QUERIES.data[i] > 0 ? 1 : -1;
            expect(rows[i], `${how}, query ${i}`).toEqual([
              [0, 1, 2],
              [sign, sign, sign],
            ]);
          }
        }
        const negative = column(() => -1);
        for (const [how, r] of searches(negative, QUERIES)) {
          const rows = perQuery(r);
          for (let i = 0; i < rows.length; i++) {
            const sign = QUERIES.data[i] > 0 ? -1 : 1;
            expect(rows[i], `${how}, query ${i}`).toEqual([
              [0, 1, 2],
              [sign, sign, sign],
            ]);
          }
        }
      });

      it('mixed signs: the first three rows of the query sign, each scoring exactly 1', () => {
        // Negative rows at 0, 1, 3, 4, 6, 7, ...: the positive ones are 2, 5, 8, ...
        const mixed = column((i) => (i % 3 === 2 ? 1 : -1));
        for (const [how, r] of searches(mixed, QUERIES)) {
          const rows = perQuery(r);
          for (let i = 0; i < rows.length; i++) {
            const want = QUERIES.data[i] > 0 ? [2, 5, 8] : [0, 1, 3];
            expect(rows[i], `${how}, query ${i}`).toEqual([want, [1, 1, 1]]);
          }
        }
      });

      it('the matrices hold exactly 1 and -1', () => {
        const mixed = column((i) => (i % 3 === 2 ? 1 : -1));
        const want = Array.from({ length: QUERIES.rows * ROWS }, (_, t) => {
          const i = Math.floor(t / ROWS);
          return Math.sign(QUERIES.data[i]) * Math.sign(mixed.data[t % ROWS]);
        });
        expect([...b.kernels.cosineMatrix(QUERIES, mixed)]).toEqual(want);
        for (const options of [{}, { storage: 'int8' as const }]) {
          const c = b.kernels.createCorpus(mixed, options);
          expect([...b.kernels.corpusMatrix(c, QUERIES)], JSON.stringify(options)).toEqual(want);
          c.dispose();
        }
        expect([...b.kernels.normalizeRows(mixed)]).toEqual([...mixed.data].map(Math.sign));
        expect(b.memory()).toEqual({ residentHandles: 0, bytes: 0 });
      });
    });
  }
}

describe('ties are settled in wasm: a corpus of equal scores sends JS no candidates', () => {
  let b: WasmBackend;
  beforeAll(async () => {
    b = await backend({ variant: 'simd', threads: 1 });
  });
  afterAll(() => b.dispose());

  // Rows offered in order: once a query's selection is full, a score equal to its threshold ties
  // with a kept row of lower index and can never enter, so only scores above it reach JS.
  // Two score values at most: the first k rows fill a query's selection and at most k rows of the
  // better value replace its worse ones; no push for the tens of thousands of ties after them.
  it('20,000 copies of one row (d = 16) and 20,000 rows of d = 1: the first k rows, at most 2k pushes a query', async () => {
    const { TopKSelector } = await import('@cosinekit/core/backend');
    const n = 20_000;
    const d = 16;
    const row = Float32Array.from({ length: d }, (_, j) => Math.sin(j + 1));
    const copies = new Float32Array(n * d);
    for (let i = 0; i < n; i++) copies.set(row, i * d);
    const signs = Float32Array.from({ length: n }, (_, i) => (i % 3 === 1 ? -1 : 1) * (1 + (i % 7)));
    const cases: [Matrix, Matrix, number[]][] = [
      [
        { data: Float32Array.from({ length: 2 * d }, (_, j) => Math.cos(j)), rows: 2, cols: d },
        { data: copies, rows: n, cols: d },
        [0, 1, 2, 3, 4],
      ],
      [
        { data: Float32Array.of(2, 0.5), rows: 2, cols: 1 },
        { data: signs, rows: n, cols: 1 },
        [0, 2, 3, 5, 6],
      ],
    ];
    const push = vi.spyOn(TopKSelector.prototype, 'push');
    try {
      for (const [q, c, want] of cases) {
        push.mockClear();
        const r = await b.kernels.topK(q, c, 5);
        for (let i = 0; i < q.rows; i++) expect([...r.indices.subarray(i * 5, i * 5 + 5)]).toEqual(want);
        expect(push.mock.calls.length).toBeLessThanOrEqual(2 * 5 * q.rows);
      }
    } finally {
      push.mockRestore();
    }
  });
});
