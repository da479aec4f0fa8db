import { createCosineKit, Tensor } from '@cosinekit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebGpuBackend, type WebGpuBackend } from '../src/index.js';
import { webgpuSkipReason } from './available.js';

/**
 * Long rows. Two classes the hostile-input probe found: every score summed in one float32 chain over
 * the whole row (a constant row scored 1 - 9.5e-5 against itself at d = 6494, past the 2e-5
 * promised), and llvmpipe's loop limit (65,535 iterations per invocation, loops left silently
 * after): a row's last components never reached a score (0 where 1 was right, the wrong row
 * returned), and one query merging 16,384 segment lists of ascending scores lost the best row.
 */

const skip = await webgpuSkipReason();

/** float64 cosine of two float32 rows. */
function cos64(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    d += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return d / Math.sqrt(na * nb);
}

describe.skipIf(skip !== null)('webgpu on long rows', () => {
  let backend: WebGpuBackend;
  /** Whether the adapter stops shader loops early (Mesa's llvmpipe), so long rows are refused. */
  let software = false;
  beforeAll(async () => {
    backend = createWebGpuBackend();
    await backend.init?.();
    software = backend.describe?.().loopLimit !== undefined;
  });
  afterAll(() => backend?.dispose?.());
  /**
   * A kit for these tests: they check answers, not times. SwiftShader in headless Chromium, sharing
   * two cores with other test projects, took past the kit's default 60 s on a search of 17 queries
   * over rows of 600,000 (the tiled product: one workgroup walks the whole depth; 33 s alone here),
   * and once on making the 400,000-row corpus (before short rows took one invocation each).
   */
  const slowKit = () => createCosineKit({ backend, timeoutMs: 280_000 });

  it('every scoring path sums in blocks: constant, alternating and random rows within 6e-6 of float64', async () => {
    const kit = slowKit();
    let s = 7;
    const rand = () => {
      s = (s * 48271) % 2147483647;
      return s / 1073741823.5 - 1;
    };
    for (const d of [1025, 3072, 6494, 12_001]) {
      const rows = [
        new Float32Array(d).fill(0.3),
        Float32Array.from({ length: d }, (_, i) => (i % 2 ? 1 : -1)),
        Float32Array.from({ length: d }, rand),
      ];
      for (const [storage, tol] of [
        ['float32', 6e-6],
        ['int8', 6e-6],
      ] as const) {
        const c = await kit.corpus(rows, { storage, ...(storage === 'int8' ? { rerank: 3 } : {}) });
        // 1 and 3 queries: the few-query kernel (and the re-rank kernel for int8); 17: the tiled product.
        for (const Q of [1, 3, 17]) {
          const queries = Array.from({ length: Q }, (_, q) => rows[q % 3]);
          const hits = await c.search(queries, 3);
          for (let q = 0; q < Q; q++) {
            const h = hits.hits(q);
            for (let j = 0; j < 3; j++) {
              const want = cos64(queries[q], rows[h.indices[j]]);
              expect(Math.abs(h.scores[j] - want), `d=${d} ${storage} Q=${Q} q=${q}`).toBeLessThan(tol);
            }
            expect(h.indices[0], `d=${d} ${storage} Q=${Q}`).toBe(q % 3);
          }
        }
        c.dispose();
      }
      const m = await kit.cosineMatrix(rows, rows);
      for (let i = 0; i < 3; i++)
        for (let j = 0; j < 3; j++)
          expect(Math.abs(m.data[i * 3 + j] - cos64(rows[i], rows[j])), `matrix d=${d}`).toBeLessThan(6e-6);
    }
    kit.dispose();
  }, 300_000);

  // Past the blocks, the totals took every block's (or span's, or term's) sum one by one: at d =
  // 1,000,000 rowNorms came out 1.1e-4 relative off, and a query's exact copy tied at 1 with a row
  // of cosine 0.9998 (the lower row first); 2.1e-5 off at 500,000. Sums now join their totals in
  // groups. (On llvmpipe such rows take the tiled product, whose loops stay within its limit.)
  // Within the default 2e-5: a row with one dominant component loses its small terms in the span
  // that starts with it (each under half an ulp of the running sum), about 9e-6 here.
  it('rows of 600,000 dimensions: every path within 2e-5 of float64, the exact copy first', async () => {
    const kit = slowKit();
    const d = 600_000;
    const two = Float32Array.from({ length: d }, (_, j) => (j % 2 ? 1 : 0.5));
    const dom = Float32Array.from({ length: d }, (_, j) => (j === 0 ? 100 : 0.01));
    const near = Float32Array.from({ length: d }, (_, j) => (j === 0 ? 100 : 0.012));
    const rows = [near, dom, two];
    const m = await kit.cosineMatrix(rows, rows);
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 3; j++)
        expect(Math.abs(m.data[i * 3 + j] - cos64(rows[i], rows[j])), `matrix ${i}, ${j}`).toBeLessThan(2e-5);
    let ss = 0;
    for (const v of dom) ss += v * v;
    const norm = (await kit.rowNorms([dom]))[0];
    expect(Math.abs(norm - Math.sqrt(ss)) / Math.sqrt(ss)).toBeLessThan(1e-5);
    const c = await kit.corpus(rows);
    // 1 query: the few-query kernel; 17: the tiled product.
    for (const Q of [1, 17]) {
      const hits = await c.search(Array(Q).fill(dom), 2);
      const h = hits.hits(Q - 1);
      expect(Array.from(h.indices), `Q=${Q}`).toEqual([1, 0]);
      expect(Math.abs(h.scores[1] - cos64(dom, near)), `Q=${Q}`).toBeLessThan(2e-5);
    }
    c.dispose();
    kit.dispose();
  }, 300_000);

  it('a row whose only non-zero is its last component scores 1 up to the few-query limit and past it (the tiled product); re-ranking past its own, and stored rows past that of the query normalisation, refused when made', async () => {
    const kit = slowKit();
    // [d, queries, storage]: the few-query kernel (scalar and vec4 loads), the re-rank kernel.
    const cases: [number, number, 'float32' | 'int8'][] = [
      [21_849, 1, 'float32'], // failed before at 1 query
      [16_385, 2, 'float32'],
      [43_692, 4, 'float32'], // vec4, failed before at 4 queries
      [62_001, 4, 'float32'],
      [62_000, 1, 'int8'],
      [248_000, 2, 'float32'], // vec4
    ];
    for (const [d, Q, storage] of cases) {
      const row = new Float32Array(d);
      row[d - 1] = 1;
      const other = new Float32Array(d);
      other[0] = 1;
      const c = await kit.corpus([other, row], { storage });
      const hits = await c.search(Array(Q).fill(row), 1);
      const h = hits.hits(Q - 1);
      expect([h.indices[0], h.scores[0]], `d=${d} Q=${Q} ${storage}`).toEqual([1, 1]);
      c.dispose();
    }
    // Past the few-query kernel's limit on llvmpipe: scored by the tiled product instead, in every
    // storage (such searches were refused; then such corpora were refused when made, and with them
    // products of many queries that ran).
    for (const [d, Q, storage] of [
      [66_001, 1, 'float32'],
      [70_001, 3, 'float32'],
      [66_001, 1, 'int8'],
    ] as const) {
      const row = new Float32Array(d);
      row[d - 1] = 1;
      const c = await kit.corpus([row, row], { storage, rerank: 0 });
      try {
        expect(c.backend, `d=${d} ${storage}`).toBe('webgpu');
        const hits = await c.search(Array(Q).fill(row), 1);
        expect(hits.hits(Q - 1).scores[0], `d=${d} ${storage}`).toBeCloseTo(1, 6);
      } finally {
        c.dispose();
      }
    }
    // A re-ranked corpus past the re-rank kernel's limit (about 62,000 floats at any d, below the
    // float32 search's 63,000) is refused when it is made, not at its first search (it was built,
    // then every search failed): the kit keeps that corpus on the reference, which answers.
    for (const d of [62_500, 66_000]) {
      const row = new Float32Array(d);
      row[d - 1] = 1;
      const made = backend.kernels.createCorpus!(
        { data: new Float32Array(2 * d).fill(0.5), rows: 2, cols: d },
        {
          storage: 'int8',
          rerank: 3,
        },
      );
      const refused = await Promise.resolve(made).then(
        (h) => {
          h.dispose();
          return null;
        },
        (e) => e,
      );
      if (software)
        expect(refused, `d=${d}`).toMatchObject({
          code: 'UNSUPPORTED',
          message: expect.stringMatching(/re-ranking/),
        });
      else expect(refused, `d=${d}`).toBeNull();
      const c = await kit.corpus([row, row], { storage: 'int8' });
      expect(c.backend, `d=${d}`).toBe(software ? 'reference' : 'webgpu');
      expect((await c.search([row], 1)).hits(0).scores[0], `d=${d}`).toBe(1);
      c.dispose();
    }
    // The row kernels: normalize passes over its share of a row twice.
    const long = new Float32Array(2_200_000);
    long[long.length - 1] = 2;
    const n = await kit.normalize(long).then(
      (t) => t.data[long.length - 1],
      (e) => e,
    );
    if (software) expect(n).toMatchObject({ code: 'UNSUPPORTED' });
    else expect(n).toBe(1);
    // Every search normalises its queries with the row kernel: rows past its loop limit made a
    // float16 or int8 corpus (stored without it) that every search then refused. Now refused when
    // made, so the kit holds it on the reference, which searches. Rows of 1.2M floats passed that
    // check, but every search of them runs the tiled product, past its own limit (a review).
    for (const [d, why] of [
      [1_200_000, /tiled product/],
      [1_400_000, /normalises its queries/],
    ] as const) {
      const wide = new Float32Array(d);
      wide[wide.length - 1] = 3;
      wide[0] = 1;
      for (const storage of ['float32', 'float16', 'int8'] as const) {
        const made = await Promise.resolve(
          backend.kernels.createCorpus!({ data: wide, rows: 1, cols: wide.length }, { storage, rerank: 0 }),
        ).then(
          (h) => {
            h.dispose();
            return null;
          },
          (e: unknown) => e,
        );
        if (software)
          expect(made, `${d} ${storage}`).toMatchObject({
            code: 'UNSUPPORTED',
            message: expect.stringMatching(why),
          });
        else expect(made, `${d} ${storage}`).toBeNull();
        if (storage === 'float32') continue;
        const c = await kit.corpus([wide, long.subarray(0, wide.length)], { storage, rerank: 0 });
        expect(c.backend, `${d} ${storage}`).toBe(software ? 'reference' : 'webgpu');
        expect((await c.search([wide], 1)).hits(0).indices[0], `${d} ${storage}`).toBe(0);
        c.dispose();
      }
    }
    kit.dispose();
  }, 300_000);

  it('one query, k = 1, over 400,000 rows of ascending scores: the last row (one merge took in too many lists)', async () => {
    const kit = slowKit();
    const n = 400_000;
    const data = new Float32Array(n * 2);
    for (let i = 0; i < n; i++) {
      data[2 * i] = 1;
      data[2 * i + 1] = i / n;
    }
    const c = await kit.corpus(new Tensor(data, n, 2));
    for (const k of [1, 2, 5]) {
      const h = (await c.search([[0, 1]], k)).hits(0);
      expect(Array.from(h.indices), `k=${k}`).toEqual(Array.from({ length: k }, (_, j) => n - 1 - j));
    }
    c.dispose();
    kit.dispose();
  }, 300_000);
});
