import { describe, expect, it } from 'vitest';
import { threadsUnavailable } from '../src/threads.js';
import { backend, bits, random, VARIANTS } from './helpers.js';

/** The float64 cosine of row i of `a` and row j of `b` (both d wide). */
function cos64(a: Float32Array, i: number, b: Float32Array, j: number, d: number): number {
  let dot = 0;
  let x = 0;
  let y = 0;
  for (let t = 0; t < d; t++) {
    const p = a[i * d + t];
    const q = b[j * d + t];
    dot += p * q;
    x += p * p;
    y += q * q;
  }
  return dot / Math.sqrt(x * y);
}

// One query row longer than a span (4096 floats) streams each corpus panel from start to end,
// summing its spans in order (`streamLongWith`); several query rows run every span of a block of
// corpus panels before the next block (`dotsLongWith`). Both must give the same bits: two streams of panels, the panels left
// over, a last panel cut short, every tile's panel width, 1 and 2 threads (each helper's share of
// panels ending where it does).
describe('one long query row: the bits of the span-by-span drivers', () => {
  for (const variant of VARIANTS)
    for (const threads of [1, 2])
      it(`${variant}, ${threads} thread(s): d = 4097 to 12,288, 1 to 101 corpus rows`, async () => {
        if (threads > 1) {
          const why = threadsUnavailable();
          if (why !== undefined) console.log(`[long-stream] 2 threads run as one here: ${why}`);
        }
        const b = await backend({ variant, threads, tuning: { threadMinFlops: 0 } });
        try {
          for (const d of [4097, 8195, 12288])
            for (const n of [1, 2, 3, 5, 8, 37, 101]) {
              const c = random(n, d, n + d);
              const q = random(4, d, 3 * d);
              const all = b.kernels.cosineMatrix(q, c);
              const corpus = b.kernels.createCorpus(c);
              for (let i = 0; i < 4; i++) {
                const one = { data: q.data.subarray(i * d, (i + 1) * d), rows: 1, cols: d };
                const row = b.kernels.cosineMatrix(one, c);
                expect(bits(row), `${d} ${n} query ${i}`).toEqual(bits(all.subarray(i * n, (i + 1) * n)));
                const resident = b.kernels.corpusMatrix(corpus, one);
                expect(bits(resident), `${d} ${n} query ${i}, resident`).toEqual(bits(row));
                for (let j = 0; j < n; j += 7)
                  expect(Math.abs(row[j] - cos64(q.data, i, c.data, j, d))).toBeLessThanOrEqual(2e-5);
                const k = Math.min(n, 5);
                const top = b.kernels.corpusSearch(corpus, one, k);
                for (let t = 0; t < k; t++) expect(top.scores[t]).toBe(row[top.indices[t]]);
              }
              corpus.dispose();
            }
        } finally {
          await b.dispose();
        }
      }, 60_000);
});

// Three query rows (tile 4x2: a rows tile of one corpus stream) whose rows together pass L1 touch
// each block of the corpus before computing on it (`touchFirst`); touched or not, the same bits,
// span by span too, and the float64 cosines.
describe('three long query rows touching the corpus first: the bits of the untouched product', () => {
  it('d = 3072 to 8195, 1 to 101 corpus rows, tile 4x2', async () => {
    const touched = await backend({ variant: 'simd', threads: 1, tuning: { touchBytes: 0 } });
    const plain = await backend({
      variant: 'simd',
      threads: 1,
      tuning: { touchBytes: Number.POSITIVE_INFINITY },
    });
    try {
      for (const d of [3072, 4097, 8195])
        for (const n of [1, 5, 37, 101]) {
          const c = random(n, d, 2 * n + d);
          const q = random(3, d, d + 5);
          const got = touched.kernels.cosineMatrix(q, c);
          expect(bits(got), `${d} ${n}`).toEqual(bits(plain.kernels.cosineMatrix(q, c)));
          for (let i = 0; i < 3; i++)
            for (let j = 0; j < n; j += 5)
              expect(Math.abs(got[i * n + j] - cos64(q.data, i, c.data, j, d))).toBeLessThanOrEqual(2e-5);
        }
    } finally {
      await touched.dispose();
      await plain.dispose();
    }
  }, 60_000);
});

// Several query rows longer than a span run a cache block of corpus panels at a time, every span
// of the block before the next (`dotsLongWith`): each row's sums must be the bits of that row
// alone (its own stream, spans summed in order), whatever the number of rows (rows tiles of 2 and
// 3, a panel and a row left over, two panels and one), the block (one panel, or the default's
// several) and the threads (each helper's share of panels ending inside a block).
describe('several long query rows, block by block: the bits of each row alone', () => {
  for (const threads of [1, 2])
    for (const blockBytes of [1, 96 * 1024])
      it(`${threads} thread(s), blocks of ${blockBytes} bytes: 2 to 9 rows, d = 4097 and 8195`, async () => {
        const b = await backend({ variant: 'simd', threads, tuning: { threadMinFlops: 0, blockBytes } });
        try {
          for (const d of [4097, 8195])
            for (const n of [1, 7, 37, 101]) {
              const c = random(n, d, 3 * n + d);
              const corpus = b.kernels.createCorpus(c);
              for (const m of [2, 3, 5, 9]) {
                const q = random(m, d, m * d + n);
                const all = b.kernels.cosineMatrix(q, c);
                expect(bits(b.kernels.corpusMatrix(corpus, q)), `${d} ${n} ${m} resident`).toEqual(bits(all));
                for (let i = 0; i < m; i++) {
                  const one = { data: q.data.subarray(i * d, (i + 1) * d), rows: 1, cols: d };
                  const row = b.kernels.cosineMatrix(one, c);
                  expect(bits(all.subarray(i * n, (i + 1) * n)), `${d} ${n} ${m} row ${i}`).toEqual(
                    bits(row),
                  );
                  for (let j = 0; j < n; j += 9)
                    expect(Math.abs(row[j] - cos64(q.data, i, c.data, j, d))).toBeLessThanOrEqual(2e-5);
                }
              }
              corpus.dispose();
            }
        } finally {
          await b.dispose();
        }
      }, 60_000);
});
