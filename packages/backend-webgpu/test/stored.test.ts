import { checkTopK, cosineMatrix64, randomTensor } from '@cosinekit/conformance';
import {
  type CorpusStorage,
  type Matrix,
  referenceKernels as ref,
  resolveCorpusOptions,
  type StoredCorpus,
  type TopKResult,
} from '@cosinekit/core/backend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebGpuBackend, type WebGpuBackend } from '../src/index.js';
import { webgpuSkipReason } from './available.js';

const skip = await webgpuSkipReason();
if (skip) console.log(`[webgpu] stored-corpus tests skipped: ${skip}`);

/** float32 accumulation against the reference's float64 (default cosine tolerance). */
const TOL = 2e-5;

/** The rows a quantised corpus searches, decoded as the reference decodes them. */
function decodedRows(stored: StoredCorpus): Matrix {
  const r = ref.importCorpus!({ ...stored, exact: null, rerank: 0 }) as Awaited<
    ReturnType<NonNullable<typeof ref.importCorpus>>
  >;
  try {
    return { data: ref.readCorpus!(r) as Float32Array, rows: stored.rows, cols: stored.cols };
  } finally {
    r.dispose();
  }
}

/**
 * Scores as the reference defines them for stored rows: the normalised query (float64) dotted with
 * each decoded row as it is, not normalised again.
 */
function storedScores(q: Matrix, rows: Matrix): Float64Array {
  const d = q.cols;
  const out = new Float64Array(q.rows * rows.rows);
  for (let i = 0; i < q.rows; i++) {
    let ss = 0;
    for (let t = 0; t < d; t++) ss += q.data[i * d + t] ** 2;
    const inv = ss > 0 ? 1 / Math.sqrt(ss) : 0;
    for (let j = 0; j < rows.rows; j++) {
      let dot = 0;
      for (let t = 0; t < d; t++) dot += q.data[i * d + t] * inv * rows.data[j * d + t];
      out[i * rows.rows + j] = Math.max(-1, Math.min(1, dot));
    }
  }
  return out;
}

/** A top-k answer against stored scores: each score true to its row, each rank as good as the truth's. */
function checkStoredTopK(what: string, got: TopKResult, all: Float64Array, n: number, k: number): void {
  expect([got.queries * k, got.k]).toEqual([(all.length / n) * k, k]);
  for (let i = 0; i < got.queries; i++) {
    const best = Array.from(all.subarray(i * n, (i + 1) * n)).sort((x, y) => y - x);
    expect(new Set(got.indices.subarray(i * k, (i + 1) * k)).size, what).toBe(k);
    for (let r = 0; r < k; r++) {
      const truth = all[i * n + got.indices[i * k + r]];
      expect(Math.abs(got.scores[i * k + r] - truth), `${what} q${i} r${r}`).toBeLessThanOrEqual(TOL);
      expect(Math.abs(truth - best[r]), `${what} q${i} r${r}`).toBeLessThanOrEqual(2 * TOL);
      if (r > 0) expect(got.scores[i * k + r - 1]).toBeGreaterThanOrEqual(got.scores[i * k + r]);
    }
  }
}

/** The bytes of an array, to compare bit for bit (in Node and in a browser). */
function bits(a: ArrayBufferView | null): string {
  return a ? new Uint8Array(a.buffer, a.byteOffset, a.byteLength).join(',') : 'none';
}

function sameStored(got: StoredCorpus, want: StoredCorpus): void {
  expect([got.rows, got.cols, got.storage, got.rerank]).toEqual([
    want.rows,
    want.cols,
    want.storage,
    want.rerank,
  ]);
  expect(bits(got.half)).toBe(bits(want.half));
  expect(bits(got.codes)).toBe(bits(want.codes));
  expect(bits(got.scales)).toBe(bits(want.scales));
  expect(bits(got.exact)).toBe(bits(want.exact));
}

// Widths: d = 1, odd (padding inside a word), even but not a multiple of 4 (scalar loads), and
// multiples of 4 (vector loads). Queries: 1 and 5 use the one-pass kernel, 21 the tiled product.
const SHAPES = [
  { n: 1, d: 1, q: 1, k: 1 },
  { n: 37, d: 5, q: 5, k: 7 },
  { n: 300, d: 6, q: 21, k: 10 },
  { n: 513, d: 48, q: 5, k: 64 },
  { n: 257, d: 33, q: 21, k: 70 },
  { n: 200, d: 384, q: 1, k: 3 },
];

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

describe.skipIf(skip !== null)('webgpu float16 and int8 corpora', () => {
  let b: WebGpuBackend;
  beforeAll(async () => {
    b = createWebGpuBackend();
    await b.init?.();
  });
  afterAll(() => b?.dispose?.());

  for (const storage of ['float16', 'int8'] as CorpusStorage[]) {
    it(`${storage}: the reference's stored bits, and its scores within ${TOL} on every shape`, async () => {
      for (const [i, s] of SHAPES.entries()) {
        const label = `${storage} ${s.q}x${s.n}x${s.d} k=${s.k}`;
        const c = randomTensor(s.n, s.d, 10 + i);
        const q = randomTensor(s.q, s.d, 50 + i);
        // rerank 0: the stored rows' own scores (int8 re-ranks by default).
        const h = await b.kernels.createCorpus!(c, { storage, rerank: 0 });
        try {
          expect(h.storage).toBe(storage);
          const r = await ref.createCorpus(c, { storage, rerank: 0 });
          const want = await ref.exportCorpus!(r);
          r.dispose();
          const got = await b.kernels.exportCorpus!(h);
          sameStored(got, want);
          // The scores are those of the stored rows (the reference's semantics), not of the raw rows.
          const rows = decodedRows(want);
          const m64 = storedScores(q, rows);
          checkStoredTopK(label, await b.kernels.corpusSearch!(h, q, s.k), m64, s.n, s.k);
          const m = await b.kernels.corpusMatrix!(h, q);
          for (let j = 0; j < m64.length; j++)
            expect(Math.abs(m[j] - m64[j]), label).toBeLessThanOrEqual(TOL);
          const read = await b.kernels.readCorpus!(h);
          expect(bits(read)).toBe(bits(rows.data));
        } finally {
          h.dispose();
        }
      }
    }, 120_000);

    it(`${storage} with rerank 3: candidates by stored scores, hits and scores by the float32 rows`, async () => {
      for (const [i, s] of SHAPES.entries()) {
        const label = `${storage} rerank ${s.q}x${s.n}x${s.d} k=${s.k}`;
        const c = randomTensor(s.n, s.d, 20 + i);
        const q = randomTensor(s.q, s.d, 60 + i);
        const h = await b.kernels.createCorpus!(c, { storage, rerank: 3 });
        const r = await ref.createCorpus(c, { storage, rerank: 3 });
        try {
          sameStored(await b.kernels.exportCorpus!(h), await ref.exportCorpus!(r));
          const got = await b.kernels.corpusSearch!(h, q, s.k);
          const want = await ref.corpusSearch(r, q, s.k);
          // Scores against the raw rows, exact to float32 accumulation.
          const all = cosineMatrix64(q, c);
          for (let j = 0; j < got.indices.length; j++) {
            const qi = Math.floor(j / s.k);
            expect(Math.abs(got.scores[j] - all[qi * s.n + got.indices[j]]), label).toBeLessThanOrEqual(TOL);
            expect(Math.abs(got.scores[j] - want.scores[j]), label).toBeLessThanOrEqual(2 * TOL);
          }
          // And the same rows as the reference (both re-rank past the pool where crowded rows need it).
          expect(Array.from(got.indices), label).toEqual(Array.from(want.indices));
        } finally {
          h.dispose();
          r.dispose();
        }
      }
    }, 120_000);
  }

  it('int8 re-ranks as many candidates as the device selects: crowded rows keep their neighbours', async () => {
    // 20,000 rows of 48 around 100 centres, a tenth of their spread apart: neighbours' int8 scores
    // crowd within the int8 error, so the pool of 3 x k alone found 0.97 of the true top 10.
    const n = 20_000;
    const d = 48;
    const centres = randomTensor(100, d, 4242).data;
    const noise = randomTensor(n + 30, d, 99).data;
    const data = new Float32Array((n + 30) * d);
    for (let i = 0; i < n + 30; i++)
      for (let j = 0; j < d; j++)
        data[i * d + j] = centres[((i * 37) % 100) * d + j] + 0.1 * noise[i * d + j];
    const x = { data: data.subarray(0, n * d), rows: n, cols: d };
    const q = { data: data.subarray(n * d), rows: 30, cols: d };
    const h = await b.kernels.createCorpus!(x, { storage: 'int8' });
    try {
      const got = await b.kernels.corpusSearch!(h, q, 10);
      const want = await ref.topK(q, x, 10);
      let hit = 0;
      for (let i = 0; i < q.rows; i++) {
        const truth = new Set(want.indices.subarray(i * 10, (i + 1) * 10));
        for (let t = i * 10; t < (i + 1) * 10; t++) if (truth.has(got.indices[t])) hit++;
      }
      expect(hit / (q.rows * 10)).toBe(1);
      const all = cosineMatrix64(q, x);
      for (let j = 0; j < got.indices.length; j++)
        expect(Math.abs(got.scores[j] - all[Math.floor(j / 10) * n + got.indices[j]])).toBeLessThanOrEqual(
          TOL,
        );
    } finally {
      h.dispose();
    }
  }, 120_000);

  it('int8: a corpus, or the rows a filter passes, one row past the pool keeps that last row among its candidates', async () => {
    // Rows around one direction, 1e-3 apart: their int8 scores crowd far within the int8 error. The
    // pool is at least 63 rows (64 with the row after them): a corpus of 64 rows had all 64
    // selected and re-scored, and the last dropped unchecked (6 of 50 queries missed a row).
    const d = 16;
    const base = randomTensor(1, d, 77).data;
    const crowd = (n: number, seed: number) => {
      const noise = randomTensor(n, d, seed).data;
      return { data: Float32Array.from(noise, (v, i) => base[i % d] + 5e-4 * v), rows: n, cols: d };
    };
    const qn = randomTensor(50, d, 78).data;
    const q = { data: Float32Array.from(qn, (v, i) => base[i % d] + 0.025 * v), rows: 50, cols: d };
    const cases: { n: number; rerank?: number; k: number; allow?: (j: number) => boolean }[] = [
      { n: 64, k: 5 },
      { n: 64, k: 21 },
      { n: 65, rerank: 1, k: 64 },
      // A filter passing 64 of 1,000 rows.
      { n: 1000, k: 21, allow: (j) => j % 15 === 0 && j < 64 * 15 },
    ];
    for (const [i, t] of cases.entries()) {
      const x = crowd(t.n, 300 + i);
      const allow = t.allow ? Uint8Array.from({ length: t.n }, (_, j) => (t.allow!(j) ? 1 : 0)) : null;
      const h = await b.kernels.createCorpus!(x, { storage: 'int8', rerank: t.rerank ?? 3 });
      try {
        const got = allow
          ? await b.kernels.corpusSearchAllowed!(h, q, t.k, allow)
          : await b.kernels.corpusSearch!(h, q, t.k);
        const want = allow
          ? await ref.corpusSearchAllowed!(ref.createCorpus(x) as never, q, t.k, allow)
          : await ref.topK(q, x, t.k);
        // Slot by slot the float32 search's scores (near-ties may swap rows an ulp apart).
        for (let j = 0; j < got.scores.length; j++)
          expect(
            Math.abs(got.scores[j] - want.scores[j]),
            `${t.n} rows${allow ? ' (64 allowed)' : ''}, k = ${t.k}: query ${Math.floor(j / t.k)} rank ${j % t.k}`,
          ).toBeLessThanOrEqual(1e-6);
      } finally {
        h.dispose();
      }
    }
  }, 120_000);

  it('int8: a crowd wider than the pool (copies of one direction tying past it) answers from the float32 rows, filtered or not', async () => {
    // 500 rows in 7 directions scaled by powers of two: a direction's 71 copies share their codes
    // and fill the pool, and a better direction ranked below them by its int8 score was never
    // re-scored (rows 6, 13, ... scoring 0.26347 where rows 1, 8, ... score 0.26434).
    const d = 8;
    const n = 500;
    const base = randomTensor(7, d, d).data;
    const data = new Float32Array(n * d);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < d; j++) data[i * d + j] = base[(i % 7) * d + j] * [1, 2, 0.25, 1024][i % 4];
    const x = { data, rows: n, cols: d };
    const q = randomTensor(300, d, d + 99);
    const h = await b.kernels.createCorpus!(x, { storage: 'int8', rerank: 3 });
    try {
      for (const k of [1, 5]) {
        const got = await b.kernels.corpusSearch!(h, q, k);
        const want = await ref.topK(q, x, k);
        expect([...got.indices], `k=${k}`).toEqual([...want.indices]);
        const allow = new Uint8Array(n).map((_, j) => (j % 5 === 2 ? 0 : 1));
        const f = await b.kernels.corpusSearchAllowed!(h, q, k, allow);
        const pass = Array.from({ length: n }, (_, j) => j).filter((j) => allow[j] === 1);
        const picked = new Float32Array(pass.length * d);
        for (let t = 0; t < pass.length; t++)
          picked.set(data.subarray(pass[t] * d, (pass[t] + 1) * d), t * d);
        const fw = await ref.topK(q, { data: picked, rows: pass.length, cols: d }, k);
        expect([...f.indices], `k=${k} filtered`).toEqual(Array.from(fw.indices, (t) => pass[t]));
      }
    } finally {
      h.dispose();
    }
  }, 120_000);

  it('int8: a crowd of copies whose codes are exact (their measured error 0) no longer hides a better row below them', async () => {
    // The candidates estimated the int8 error from their own scores: 0 here, so the query was not
    // judged crowded and the better row (int8 score below the copies', exact above) was left out.
    for (const d of [64, 33]) {
      const { data, rows, query } = hiddenBest(d);
      const x = { data, rows, cols: d };
      const q = { data: query, rows: 1, cols: d };
      const h = await b.kernels.createCorpus!(x, { storage: 'int8', rerank: 3 });
      try {
        for (const k of [1, 3]) {
          const got = await b.kernels.corpusSearch!(h, q, k);
          const want = await ref.topK(q, x, k);
          expect(got.indices[0], `d=${d}, k=${k}`).toBe(100);
          for (let t = 0; t < k; t++) expect(Math.abs(got.scores[t] - want.scores[t])).toBeLessThan(TOL);
        }
      } finally {
        h.dispose();
      }
    }
  }, 120_000);

  it('int8: near-duplicates past the pool: every query keeps its exact k-th score, plain and filtered', async () => {
    // Near-duplicates of 5 and 50 directions: a crowd's rows share their codes and so their int8
    // errors, so the pool's own errors (the estimate this replaced) were smaller than those of rows
    // left out, and 1 to 38 queries of 40 lost a neighbour (the reference and wasm, before their
    // bound). Half the queries lie near a direction.
    const cases = [
      { n: 20_000, dirs: 5, d: 16, noise: 1e-3 },
      { n: 20_000, dirs: 50, d: 32, noise: 1e-4 },
    ];
    for (const [at, { n, dirs, d, noise }] of cases.entries()) {
      const base = randomTensor(dirs, d, 11 + at).data;
      const jitter = randomTensor(n, d, 21 + at).data;
      const data = new Float32Array(n * d);
      for (let i = 0; i < n; i++)
        for (let j = 0; j < d; j++)
          data[i * d + j] =
            (base[(i % dirs) * d + j] + noise * jitter[i * d + j]) * [1, 2, 0.25, 1024][i % 4];
      const qd = randomTensor(40, d, 31 + at).data;
      for (let i = 0; i < 20; i++)
        for (let j = 0; j < d; j++) qd[i * d + j] = base[(i % dirs) * d + j] + 0.05 * qd[i * d + j];
      const x = { data, rows: n, cols: d };
      const q = { data: qd, rows: 40, cols: d };
      const mask = new Uint8Array(n).map((_, j) => (j % 3 === 1 ? 0 : 1));
      const pass = Array.from({ length: n }, (_, j) => j).filter((j) => mask[j] === 1);
      const picked = new Float32Array(pass.length * d);
      for (let t = 0; t < pass.length; t++) picked.set(data.subarray(pass[t] * d, (pass[t] + 1) * d), t * d);
      const h = await b.kernels.createCorpus!(x, { storage: 'int8', rerank: 3 });
      try {
        for (const k of [1, 10]) {
          const what = `${n} x ${d}, ${dirs} directions, k=${k}`;
          const got = await b.kernels.corpusSearch!(h, q, k);
          const want = await ref.topK(q, x, k);
          const f = await b.kernels.corpusSearchAllowed!(h, q, k, mask);
          const fw = await ref.topK(q, { data: picked, rows: pass.length, cols: d }, k);
          for (let i = 0; i < 40; i++) {
            // The k-th score, not the rows: the device's float32 sums may order near-ties apart.
            expect(
              Math.abs(got.scores[i * k + k - 1] - want.scores[i * k + k - 1]),
              `${what}, query ${i}`,
            ).toBeLessThan(2e-6);
            expect(
              Math.abs(f.scores[i * k + k - 1] - fw.scores[i * k + k - 1]),
              `${what}, filtered, query ${i}`,
            ).toBeLessThan(2e-6);
          }
        }
      } finally {
        h.dispose();
      }
    }
  }, 170_000);

  it('int8: a crowded query answers alone as in a batch of 40, bit for bit (crowded ones past 16 went to the tiled product)', async () => {
    // 2,000 rows in 10 tight clusters at d = 16: most queries crowd. Scanned 16 at a time by the
    // few-query kernel, as one query alone is; in one group of more, the tiled product rounded an
    // ulp apart and near-ties flipped.
    const d = 16;
    const n = 2000;
    const base = randomTensor(10, d, 7).data;
    const noise = randomTensor(n, d, 99).data;
    const data = new Float32Array(n * d);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < d; j++) data[i * d + j] = base[(i % 10) * d + j] + 2e-3 * noise[i * d + j];
    const x = { data, rows: n, cols: d };
    const q = randomTensor(40, d, 1234);
    const h = await b.kernels.createCorpus!(x, { storage: 'int8', rerank: 3 });
    try {
      const k = 10;
      const all = await b.kernels.corpusSearch!(h, q, k);
      for (let i = 0; i < q.rows; i++) {
        const one = { data: q.data.subarray(i * d, (i + 1) * d), rows: 1, cols: d };
        const a = await b.kernels.corpusSearch!(h, one, k);
        expect([...a.indices], `query ${i}`).toEqual([...all.indices.subarray(i * k, (i + 1) * k)]);
        expect([...a.scores], `query ${i}`).toEqual([...all.scores.subarray(i * k, (i + 1) * k)]);
      }
    } finally {
      h.dispose();
    }
  }, 120_000);

  it('int8 rows whose codes tie at the cut-off are all re-scored: the true best is found, filtered or not', async () => {
    // Rows (1, e_j), e_j = 1e-4 j / n, share their codes and scale, so every row ties on its stored
    // score, while the exact score against (0, 1), e_j, rises with j: the lowest rows were
    // re-scored and the best left out. 100 rows tie past one selection; 5,000 past 32 of them too.
    for (const n of [100, 5000]) {
      const d = 2;
      const data = new Float32Array(n * d);
      for (let j = 0; j < n; j++) {
        data[j * d] = 1;
        data[j * d + 1] = (1e-4 * j) / n;
      }
      const x = { data, rows: n, cols: d };
      const q = { data: new Float32Array([0, 1, 0, 2]), rows: 2, cols: d };
      const h = await b.kernels.createCorpus!(x, { storage: 'int8', rerank: 3 });
      try {
        for (const k of [1, 3]) {
          const got = await b.kernels.corpusSearch!(h, q, k);
          const want = await ref.topK(q, x, k);
          expect(Array.from(got.indices), `n=${n}, k=${k}`).toEqual(Array.from(want.indices));
          const allow = new Uint8Array(n).map((_, j) => (j % 3 === 0 ? 1 : 0));
          const f = await b.kernels.corpusSearchAllowed!(h, q, k, allow);
          const best = n - 1 - ((n - 1) % 3);
          expect(f.indices[0], `n=${n}, k=${k}, filtered`).toBe(best);
        }
      } finally {
        h.dispose();
      }
    }
  }, 120_000);

  it('export then import holds every storage bit for bit, and the imported corpus searches the same', async () => {
    const c = randomTensor(130, 13, 7);
    const q = randomTensor(4, 13, 8);
    for (const opts of [
      { storage: 'float32' as const },
      { storage: 'float16' as const },
      { storage: 'int8' as const, rerank: 0 },
      { storage: 'int8' as const },
      { storage: 'int8' as const, rerank: 2 },
      { storage: 'float16' as const, rerank: 2 },
    ]) {
      const a = await b.kernels.createCorpus!(c, opts);
      const stored = await b.kernels.exportCorpus!(a);
      const back = await b.kernels.importCorpus!(stored);
      try {
        expect(back.storage).toBe(opts.storage);
        sameStored(await b.kernels.exportCorpus!(back), stored);
        const x = await b.kernels.corpusSearch!(a, q, 6);
        const y = await b.kernels.corpusSearch!(back, q, 6);
        expect(bits(y.indices)).toBe(bits(x.indices));
        expect(bits(y.scores)).toBe(bits(x.scores));
      } finally {
        a.dispose();
        back.dispose();
      }
    }
  }, 120_000);

  it("imports the reference's stored corpora and finds the reference's rows", async () => {
    const c = randomTensor(90, 20, 3);
    const q = randomTensor(3, 20, 4);
    for (const storage of ['float32', 'float16', 'int8'] as CorpusStorage[]) {
      const r = await ref.createCorpus(c, { storage, rerank: 0 });
      const stored = await ref.exportCorpus!(r);
      const h = await b.kernels.importCorpus!(stored);
      try {
        const got = await b.kernels.corpusSearch!(h, q, 5);
        if (storage === 'float32') checkTopK(storage, got, q, c, 5, TOL);
        else checkStoredTopK(storage, got, storedScores(q, decodedRows(stored)), 90, 5);
      } finally {
        h.dispose();
        r.dispose();
      }
    }
  }, 120_000);

  it("unset options mean core's defaults: int8 re-ranks, float16 does not", async () => {
    const c = randomTensor(40, 9, 5);
    for (const storage of ['int8', 'float16'] as CorpusStorage[]) {
      const h = await b.kernels.createCorpus!(c, { storage });
      try {
        const st = await b.kernels.exportCorpus!(h);
        expect(st.rerank, storage).toBe(resolveCorpusOptions({ storage }).rerank);
        expect(st.exact !== null, storage).toBe(st.rerank > 0);
      } finally {
        h.dispose();
      }
    }
  });

  it('quantised corpora and their exports leave no buffers behind', async () => {
    // A backend of its own: the pool's idle buffers then depend on these cycles alone.
    const own = createWebGpuBackend();
    const c = randomTensor(64, 10, 9);
    const q = randomTensor(2, 10, 10);
    const cycle = async () => {
      const h = await own.kernels.createCorpus!(c, { storage: 'int8', rerank: 2 });
      const g = await own.kernels.importCorpus!(await own.kernels.exportCorpus!(h));
      await own.kernels.corpusSearch!(g, q, 3);
      const f = await own.kernels.createCorpus!(c, { storage: 'float16' });
      await own.kernels.corpusSearch!(f, q, 3);
      h.dispose();
      g.dispose();
      f.dispose();
    };
    try {
      // Two cycles to settle the pool: resident blocks take idle buffers of their size and destroy them.
      await cycle();
      await cycle();
      const first = own.stats();
      expect(first.inUseBuffers).toBe(0);
      for (let i = 0; i < 50; i++) await cycle();
      expect(own.stats()).toEqual(first);
      expect(own.memory!()).toEqual({ residentHandles: 0, objects: 0, bytes: 0 });
    } finally {
      await own.dispose?.();
    }
    expect(own.stats()).toEqual({ liveBuffers: 0, liveBytes: 0, inUseBuffers: 0, pipelines: 0 });
  }, 120_000);
});
