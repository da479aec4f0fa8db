import { describe, expect, it } from 'vitest';
import {
  type CorpusStorage,
  createReferenceBackend,
  DEFAULT_INT8_RERANK,
  encodeCorpusFile,
  referenceKernels,
  resolveCorpusOptions,
} from '../src/backend.js';
import { createCosineKit, type SearchResult, Tensor } from '../src/index.js';

/** Seeded rows uniform in [-1, 1): random data, where quantisation loses neighbours most easily. */
function rows(n: number, d: number, seed: number): Tensor {
  let s = seed;
  const data = new Float32Array(n * d);
  for (let i = 0; i < data.length; i++) {
    s = (s * 48271) % 2147483647;
    data[i] = s / 1073741823.5 - 1;
  }
  return new Tensor(data, n, d);
}

const kit = createCosineKit({ backend: createReferenceBackend() });

/**
 * A crowd whose int8 codes are exact hiding a better row: 100 copies of an integer row whose largest
 * component is 127 (quantised with no error), one row moved from it toward the query by under half
 * a code step a component (the same codes, a larger norm: its int8 score falls below the copies'
 * while its exact score is higher), and 1,000 random rows. Row 100 is the query's best.
 */
function hiddenBest(d: number): { data: Float32Array; rows: number; query: Float32Array } {
  let seed = 3;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648 - 0.5;
  };
  const c = Float64Array.from({ length: d }, (_, j) => (j === 0 ? 127 : Math.round(rnd() * 200)));
  const nc = Math.hypot(...c);
  const query = Float32Array.from({ length: d }, (_, j) => c[j] / nc + (0.3 * rnd()) / Math.sqrt(d));
  const qc = query.reduce((s, v, j) => s + v * c[j], 0) / nc;
  const r = Float64Array.from({ length: d }, (_, j) => (j === 0 ? 0 : query[j] - (qc * c[j]) / nc));
  const t = 0.45 / Math.max(...r.map(Math.abs));
  const rows = 1101;
  const data = new Float32Array(rows * d);
  for (let i = 0; i < 100; i++) data.set(c, i * d);
  for (let j = 0; j < d; j++) data[100 * d + j] = c[j] + t * r[j];
  for (let i = 101; i < rows; i++) for (let j = 0; j < d; j++) data[i * d + j] = rnd() * 200;
  return { data, rows, query };
}

/** Share of the exact top-k that `got` found. */
function recall(got: SearchResult, want: SearchResult): number {
  let hit = 0;
  for (let q = 0; q < want.queries; q++) {
    const truth = new Set(want.hits(q).indices);
    for (const i of got.hits(q).indices) if (truth.has(i)) hit++;
  }
  return hit / (want.queries * want.k);
}

describe('one place decides corpus defaults', () => {
  it('int8 re-ranks unless told not to; float16 and float32 do not', () => {
    expect(resolveCorpusOptions()).toEqual({ storage: 'float32', rerank: 0 });
    expect(resolveCorpusOptions({ storage: 'int8' })).toEqual({
      storage: 'int8',
      rerank: DEFAULT_INT8_RERANK,
    });
    expect(resolveCorpusOptions({ storage: 'int8', rerank: 0 })).toEqual({ storage: 'int8', rerank: 0 });
    expect(resolveCorpusOptions({ storage: 'int8', rerank: 7 })).toEqual({ storage: 'int8', rerank: 7 });
    expect(resolveCorpusOptions({ storage: 'float16' })).toEqual({ storage: 'float16', rerank: 0 });
    expect(resolveCorpusOptions({ storage: 'float16', rerank: 2 })).toEqual({
      storage: 'float16',
      rerank: 2,
    });
    expect(resolveCorpusOptions({ storage: 'float32', rerank: 2 })).toEqual({
      storage: 'float32',
      rerank: 0,
    });
    expect(DEFAULT_INT8_RERANK).toBeGreaterThan(1);
  });

  it('a backend receives the decided values, whoever calls it', async () => {
    const seen: unknown[] = [];
    const spy = createCosineKit({
      backend: {
        name: 'spy',
        kernels: {
          ...referenceKernels,
          createCorpus: (x, o) => {
            seen.push(o);
            return referenceKernels.createCorpus(x, o);
          },
        },
      },
    });
    const x = rows(20, 8, 3);
    (await spy.corpus(x, { storage: 'int8' })).dispose();
    (await spy.corpus(x)).dispose();
    (await (await spy.kernels()).createCorpus(x, { storage: 'int8' })).dispose();
    expect(seen).toEqual([
      { storage: 'int8', rerank: DEFAULT_INT8_RERANK },
      { storage: 'float32', rerank: 0 },
      { storage: 'int8', rerank: DEFAULT_INT8_RERANK },
    ]);
  });
});

describe('int8 with default settings finds the neighbours of random data', () => {
  // N is modest to keep the test quick; apps/bench/scripts/int8-recall.mjs measures larger corpora.
  it.each([
    // d, rows, queries
    [384, 20_000, 40],
    [1536, 10_000, 20],
  ])(
    'recall@10 >= 0.99 at d = %i (N = %i, %i queries), with exact scores; rerank: 0 is honoured',
    async (d, n, nq) => {
      const x = rows(n, d, 11 + d);
      const q = rows(nq, d, 5 + d);
      const exact = await kit.corpus(x);
      const want = await exact.search(q, 10);
      exact.dispose();

      const c = await kit.corpus(x, { storage: 'int8' });
      const got = await c.search(q, 10);
      expect(recall(got, want)).toBeGreaterThanOrEqual(0.99);
      // Re-ranked: the hits it found carry the exact float32 corpus's scores, bit for bit.
      for (let i = 0; i < nq * 10; i++) {
        const at = Array.from(want.indices).indexOf(got.indices[i], Math.floor(i / 10) * 10);
        if (at >= 0 && at < (Math.floor(i / 10) + 1) * 10) expect(got.scores[i]).toBe(want.scores[at]);
      }
      c.dispose();

      // Without re-ranking: quantised scores (approximate), and neighbours lost at this size.
      const plain = await kit.corpus(x, { storage: 'int8', rerank: 0 });
      const approx = await plain.search(q, 10);
      plain.dispose();
      expect(recall(approx, want)).toBeLessThan(1);
      let off = 0;
      for (let i = 0; i < approx.scores.length; i++)
        off = Math.max(off, Math.abs(approx.scores[i] - want.scores[i]));
      expect(off).toBeGreaterThan(1e-5);
    },
    60_000,
  );

  it('the default keeps float32 rows; rerank: 0 stores a quarter of them', async () => {
    const x = rows(500, 384, 9);
    const bytes = async (storage: CorpusStorage, rerank?: number) => {
      const c = await kit.corpus(x, rerank === undefined ? { storage } : { storage, rerank });
      const n = (await c.save()).length;
      c.dispose();
      return n;
    };
    const f32 = await bytes('float32');
    const int8 = await bytes('int8');
    const int8Plain = await bytes('int8', 0);
    const f16 = await bytes('float16');
    // 4 bytes per value for float32; int8 adds 1 byte per value (and a scale per row) to them.
    expect(int8).toBeGreaterThan(f32 + 500 * 384);
    expect(int8Plain).toBeLessThan(0.3 * f32);
    expect(f16).toBeLessThan(0.55 * f32);
  });
});

describe('candidates tied at the cut-off', () => {
  it('rows whose int8 codes and float16 bits tie are all re-ranked: the true best is found', async () => {
    const d = 64;
    const n = 50;
    const t = 0.0035;
    const data = new Float32Array(n * d);
    for (let i = 0; i < n; i++) {
      const plus = Math.round(((i + 1) / n) * (d - 1));
      for (let j = 0; j < d; j++) data[i * d + j] = j === 0 ? 1 : j <= plus ? t : -t;
    }
    const x = new Tensor(data, n, d);
    const q = new Tensor(
      new Float32Array(d).map((_, j) => (j === 0 ? 1 : 0.05)),
      1,
      d,
    );
    const exact = await kit.corpus(x);
    for (const storage of ['int8'] as CorpusStorage[]) {
      const c = await kit.corpus(x, { storage });
      for (const k of [1, 5]) {
        const [got, want] = [await c.search(q, k), await exact.search(q, k)];
        expect(Array.from(got.indices), `${storage} k=${k}`).toEqual(Array.from(want.indices));
      }
      // Through a filter too: the best allowed row.
      const allow = new Uint8Array(n).fill(1);
      allow[n - 1] = 0;
      expect(Array.from((await c.search(q, 1, { filter: { mask: allow } })).indices)).toEqual([n - 2]);
      c.dispose();
    }
    exact.dispose();
  });

  it('many duplicate rows tying at the cut-off, for more queries than one pass takes, filtered or not', async () => {
    // 300 copies of one row among 2,000: a query near it ties 300 rows at the cut-off of 3 x k, and
    // every one is a candidate. 19 such queries go over the rows in three groups (8, 8 and 3);
    // query 5 is an ordinary one. Every answer is the exact search's: the lowest copies first.
    const d = 24;
    const n = 2000;
    const x = rows(n, d, 5150);
    for (let c = 1; c <= 300; c++) x.data.copyWithin(((c * 37) % n) * d, 0, d);
    const qd = new Float32Array(20 * d);
    for (let i = 0; i < 20; i++)
      for (let j = 0; j < d; j++)
        qd[i * d + j] = i === 5 ? x.data[777 * d + j] : x.data[j] + 1e-4 * Math.sin(i + j);
    const q = new Tensor(qd, 20, d);
    const exact = await kit.corpus(x);
    const c = await kit.corpus(x, { storage: 'int8' });
    const allow = new Uint8Array(n).map((_, j) => (j % 3 === 0 ? 1 : 0));
    for (const options of [{}, { filter: { mask: allow } }]) {
      for (const k of [1, 10]) {
        const [got, want] = [await c.search(q, k, options), await exact.search(q, k, options)];
        const what = `k=${k}${'filter' in options ? ', filtered' : ''}`;
        expect(Array.from(got.indices), what).toEqual(Array.from(want.indices));
        expect(Array.from(got.scores), what).toEqual(Array.from(want.scores));
      }
    }
    c.dispose();
    exact.dispose();
  });

  it('re-ranked scores are summed as the float32 search sums them: the same bits, and the same order near a cancellation', async () => {
    // Four running sums gave 0.42624133825302124 where the float32 search gives ...0845069885, and
    // row 0 (in order -3.2e-21, with four sums 0) ranked before the zero row 1.
    const d = 5;
    const cases = [
      { x: [0, 0.5, 3, 0.5, 3], q: [0, -1, 0, 0.5, 1] },
      { x: [1, 1e-20, -1, 0, -1e-20, 0, 0, 0, 0, 0], q: [1, 1, 1, 1, 1] },
    ];
    for (const [at, { x, q }] of cases.entries()) {
      const rows = new Tensor(Float32Array.from(x), x.length / d, d);
      const qt = new Tensor(Float32Array.from(q), 1, d);
      const exact = await kit.corpus(rows);
      const want = await exact.search(qt, 1);
      for (const storage of ['int8', 'float16'] as const) {
        const c = await kit.corpus(rows, { storage, rerank: 1 });
        const got = await c.search(qt, 1);
        expect([got.indices[0], got.scores[0]], `case ${at}, ${storage}`).toEqual([
          want.indices[0],
          want.scores[0],
        ]);
        c.dispose();
      }
      exact.dispose();
    }
  });

  it('zero queries among ordinary ones take the first rows they may choose, scored 0: the float32 answer, bit for bit', async () => {
    // A zero query scores 0 with every row, stored and exact (the documented zero result): every
    // row ties at the cut-off, and they were all listed and re-scored. A guard: the answer is the
    // float32 search's (the lowest rows it may choose), int8 and float16, filtered or not.
    const d = 24;
    const n = 3000;
    const x = rows(n, d, 6160);
    const qd = rows(10, d, 6161).data;
    for (const i of [0, 1, 3, 4, 6, 8, 9]) qd.fill(0, i * d, (i + 1) * d);
    const q = new Tensor(qd, 10, d);
    const exact = await kit.corpus(x);
    const allow = new Uint8Array(n).map((_, j) => (j % 5 === 2 ? 1 : 0));
    for (const storage of ['int8', 'float16'] as const) {
      const c = await kit.corpus(x, { storage, rerank: 3 });
      for (const options of [{}, { filter: { mask: allow } }]) {
        for (const k of [1, 10, 50]) {
          const [got, want] = [await c.search(q, k, options), await exact.search(q, k, options)];
          const what = `${storage}, k=${k}${'filter' in options ? ', filtered' : ''}`;
          expect(Array.from(got.indices), what).toEqual(Array.from(want.indices));
          expect(Array.from(got.scores), what).toEqual(Array.from(want.scores));
          expect(got.hits(0).indices[0], what).toBe('filter' in options ? 2 : 0);
          expect(got.hits(0).scores[k - 1], what).toBe(0);
        }
      }
      c.dispose();
    }
    exact.dispose();
  });

  it('crowded rows: the candidates widen the re-rank where the error bound says so, and no neighbour is lost', async () => {
    // 20,000 rows of 64 around 100 centres, a tenth of a centre's spread: neighbours' quantised
    // scores crowd within the int8 error, so a fixed pool of 3 x k left some out (recall 0.972).
    const n = 20_000;
    const d = 64;
    const centres = rows(100, d, 4242).data;
    const noise = rows(n + 50, d, 99).data;
    const data = new Float32Array((n + 50) * d);
    for (let i = 0; i < n + 50; i++) {
      const c = (i * 37) % 100;
      for (let j = 0; j < d; j++) data[i * d + j] = centres[c * d + j] + 0.1 * noise[i * d + j];
    }
    const x = new Tensor(data.subarray(0, n * d), n, d);
    const q = new Tensor(data.subarray(n * d), 50, d);
    const exact = await kit.corpus(x);
    // k = 1 with rerank 1: a pool of one row, whose 32 spare rows and 16 error samples decide.
    for (const [k, rerank] of [
      [10, DEFAULT_INT8_RERANK],
      [10, 10],
      [1, 1],
      [40, 2],
    ]) {
      const want = await exact.search(q, k);
      const int8 = await kit.corpus(x, { storage: 'int8', rerank });
      const got = await int8.search(q, k);
      expect(recall(got, want), `k ${k}, rerank ${rerank}`).toBe(1);
      // Re-ranked scores are the exact ones.
      for (let i = 0; i < got.scores.length; i++) expect(got.scores[i]).toBeCloseTo(want.scores[i], 6);
      // A filter passing every other row: the same among the rows it passes.
      const even = new Uint8Array(n).map((_, j) => (j % 2 === 0 ? 1 : 0));
      const wantEven = await exact.search(q, k, { filter: { mask: even } });
      expect(recall(await int8.search(q, k, { filter: { mask: even } }), wantEven), `filtered, k ${k}`).toBe(
        1,
      );
      int8.dispose();
    }
    exact.dispose();
  }, 60_000);

  it('a crowd of copies whose codes are exact (their measured error 0) no longer hides a better row below them by int8 score', async () => {
    // The candidates estimated the int8 error from their own scores: 0 here, so the better row
    // (int8 score 0.99650 against the copies' 0.99662, exact 0.99693 against 0.99662) was left out.
    for (const d of [64, 33]) {
      const { data, rows: n, query } = hiddenBest(d);
      const x = new Tensor(data, n, d);
      const q = new Tensor(query, 1, d);
      const int8 = await kit.corpus(x, { storage: 'int8' });
      const exact = await kit.corpus(x);
      for (const k of [1, 3]) {
        const [got, want] = [await int8.search(q, k), await exact.search(q, k)];
        expect(got.indices[0], `d=${d}, k=${k}`).toBe(100);
        expect(Array.from(got.indices)).toEqual(Array.from(want.indices));
        expect(Array.from(got.scores)).toEqual(Array.from(want.scores));
      }
      int8.dispose();
      exact.dispose();
    }
  });

  it('a loaded file whose codes lie as far from its float32 rows as the loader allows keeps the bound', async () => {
    // loadCorpus lets an int8 code lie `scale * 0.5001 + 2^-22` from its float32 value; the bound
    // allowed `scale * 0.5001` a value. d = 4096, the query sigma / 64 (sigma a sign a component):
    // row 40's codes are orthogonal to it (int8 score 0) and its float32 row lies that far toward
    // it in every component (exact score 64 x that). 40 copies of a row quantised exactly score
    // between the old bound and row 40's exact score: the old bound left row 40 out.
    const d = 4096;
    const sigma = Float64Array.from({ length: d }, (_, j) => ((j * 7919) % 5 < 2 ? 1 : -1));
    const tau = sigma.map((v, j) => (j < d / 2 ? v : -v));
    let s = 1 / (127 * 64);
    let delta = 0;
    for (let it = 0; it < 5; it++) {
      delta = Math.fround(s) * 0.5001 + 0.9 * 2 ** -22;
      s = Math.sqrt(1 - d * delta * delta) / (127 * 64);
    }
    const sT = Math.fround(s);
    delta = sT * 0.5001 + 0.9 * 2 ** -22;
    // The copies: sigma * 127 on 2056 components, -sigma * 127 on 2040, one of those at -109.
    const c = Float64Array.from({ length: d }, (_, j) => 127 * (j < 2056 ? sigma[j] : -sigma[j]));
    c[d - 1] = -109 * sigma[d - 1];
    const sC = Math.fround(1 / Math.hypot(...c));
    const n = 41;
    const codes = new Int8Array(n * d);
    const scales = new Float32Array(n);
    const exact = new Float32Array(n * d);
    for (let i = 0; i < 40; i++) {
      for (let j = 0; j < d; j++) {
        codes[i * d + j] = c[j];
        exact[i * d + j] = c[j] * sC;
      }
      scales[i] = sC;
    }
    for (let j = 0; j < d; j++) {
      codes[40 * d + j] = 127 * tau[j];
      exact[40 * d + j] = 127 * tau[j] * sT + delta * sigma[j];
    }
    scales[40] = sT;
    const bytes = encodeCorpusFile({
      rows: n,
      cols: d,
      storage: 'int8',
      rerank: 3,
      next: n,
      ids: null,
      ordinals: Int32Array.from({ length: n }, (_, i) => i),
      exact,
      half: null,
      codes,
      scales,
    });
    const q = new Tensor(
      Float32Array.from(sigma, (v) => v / 64),
      1,
      d,
    );
    const loaded = await kit.loadCorpus(bytes);
    const float = await kit.corpus(new Tensor(exact, n, d));
    const [got, want] = [await loaded.search(q, 1), await float.search(q, 1)];
    expect(want.indices[0]).toBe(40);
    expect(got.indices[0]).toBe(40);
    expect(got.scores[0]).toBe(want.scores[0]);
    loaded.dispose();
    float.dispose();
  });

  it('a file whose float32 row is kept as stored (within 1e-5 of unit) has its codes checked against that row', async () => {
    // Codes (127, 0, 0) lie 0.49999 of a step from the unit row, within the loader's slack, but the
    // row is stored 1 + 9.9e-6 long and re-ranking scores it as stored: 0.5013 of a step from it,
    // past the error bound (a crafted file with such a row lost its best row to a worse one).
    const d = 3;
    const up = [127.49999, 0.49999, 0.49999];
    const s = Math.fround(1 / Math.hypot(...up));
    const file = (stretch: number) =>
      encodeCorpusFile(
        {
          rows: 1,
          cols: d,
          storage: 'int8',
          rerank: 1,
          next: 1,
          ids: null,
          ordinals: Int32Array.of(0),
          exact: Float32Array.from(up, (v) => v * s * stretch),
          half: null,
          codes: Int8Array.of(127, 0, 0),
          scales: Float32Array.of(s),
        },
        { verify: false },
      );
    const e = await kit.loadCorpus(file(1 + 9.9e-6)).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'CORRUPT_DATA', op: 'loadCorpus', arg: 'bytes' });
    const ok = await kit.loadCorpus(file(1));
    expect(ok.rows).toBe(1);
    ok.dispose();
  });

  it('an imported corpus with negative scales (the same decoded rows) keeps the bound: the largest |scale|', async () => {
    // Codes and scales both negated decode to the same rows; the bound took the largest scale, 0.
    const d = 64;
    const { data, rows: n, query } = hiddenBest(d);
    const x = { data, rows: n, cols: d };
    const q = { data: query, rows: 1, cols: d };
    const made = await referenceKernels.createCorpus!(x, { storage: 'int8', rerank: 3 });
    const stored = await referenceKernels.exportCorpus!(made);
    made.dispose();
    const flipped = await referenceKernels.importCorpus!({
      ...stored,
      codes: stored.codes!.map((v) => -v),
      scales: stored.scales!.map((v) => -v),
    });
    const got = await referenceKernels.corpusSearch!(flipped, q, 1);
    expect(got.indices[0]).toBe(100);
    flipped.dispose();
  });

  it('rows with one large component: the bound spans past the spare rows, the rows within it are listed and re-scored, the same bits', async () => {
    // The int8 error bound grows with the largest component (sqrt(d) * max / 254 of the unit row):
    // with one dimension 30 times the others it spans more rows than the spare ones below the k-th
    // score, so each query lists the rows within it in a second pass and re-scores them.
    const d = 384;
    const x = rows(3000, d, 61);
    for (let i = 0; i < 3000; i++) x.data[i * d + 5] *= 30;
    const q = rows(6, d, 62);
    const int8 = await kit.corpus(x, { storage: 'int8' });
    const exact = await kit.corpus(x);
    const mask = new Uint8Array(3000).map((_, j) => (j % 4 === 0 ? 0 : 1));
    for (const options of [{}, { filter: { mask } }]) {
      for (const k of [1, 10]) {
        const [got, want] = [await int8.search(q, k, options), await exact.search(q, k, options)];
        const what = `k=${k}${'filter' in options ? ', filtered' : ''}`;
        expect(Array.from(got.indices), what).toEqual(Array.from(want.indices));
        expect(Array.from(got.scores), what).toEqual(Array.from(want.scores));
      }
    }
    int8.dispose();
    exact.dispose();
  }, 60_000);

  it('a crowd wider than the spare rows: its queries are answered from the float32 rows, the same bits as float32 search', async () => {
    // Copies of 7 directions scaled by powers of two (a direction's rows tie past the selection, and
    // a better direction ranked below them by its int8 score was never re-scored), and
    // near-duplicates of 5 and 50 directions (every spare row within the error of the k-th): 27
    // to 36 queries of 40 lost a neighbour, by up to 6e-4. Half the queries lie near a direction.
    const cases = [
      { n: 500, dirs: 7, d: 8, noise: 0 },
      { n: 20_000, dirs: 5, d: 16, noise: 1e-3 },
      { n: 20_000, dirs: 50, d: 32, noise: 1e-4 },
    ];
    for (const [at, { n, dirs, d, noise }] of cases.entries()) {
      const base = rows(dirs, d, 11 + at).data;
      const jitter = rows(n, d, 21 + at).data;
      const data = new Float32Array(n * d);
      for (let i = 0; i < n; i++)
        for (let j = 0; j < d; j++)
          data[i * d + j] =
            (base[(i % dirs) * d + j] + noise * jitter[i * d + j]) * [1, 2, 0.25, 1024][i % 4];
      const qd = rows(40, d, 31 + at).data;
      for (let i = 0; i < 20; i++)
        for (let j = 0; j < d; j++) qd[i * d + j] = base[(i % dirs) * d + j] + 0.05 * qd[i * d + j];
      const x = new Tensor(data, n, d);
      const q = new Tensor(qd, 40, d);
      const exact = await kit.corpus(x);
      const int8 = await kit.corpus(x, { storage: 'int8' });
      const mask = new Uint8Array(n).map((_, j) => (j % 3 === 1 ? 0 : 1));
      for (const options of [{}, { filter: { mask } }]) {
        for (const k of [1, 10]) {
          const [got, want] = [await int8.search(q, k, options), await exact.search(q, k, options)];
          const what = `${n} x ${d}, ${dirs} directions, k=${k}${'filter' in options ? ', filtered' : ''}`;
          expect(Array.from(got.indices), what).toEqual(Array.from(want.indices));
          expect(Array.from(got.scores), what).toEqual(Array.from(want.scores));
        }
      }
      // Held in three segments (each add is one), the answer is the same: each segment answers as
      // its float32 rows would.
      const third = Math.floor(n / 3) * d;
      const parts = await kit.corpus(new Tensor(data.subarray(0, third), third / d, d), { storage: 'int8' });
      await parts.add(new Tensor(data.subarray(third, 2 * third), third / d, d));
      await parts.add(new Tensor(data.subarray(2 * third), n - (2 * third) / d, d));
      for (const k of [1, 10]) {
        const [got, want] = [await parts.search(q, k), await exact.search(q, k)];
        expect(Array.from(got.indices), `segments, k=${k}`).toEqual(Array.from(want.indices));
        expect(Array.from(got.scores), `segments, k=${k}`).toEqual(Array.from(want.scores));
      }
      parts.dispose();
      int8.dispose();
      exact.dispose();
    }
  }, 120_000);
});
