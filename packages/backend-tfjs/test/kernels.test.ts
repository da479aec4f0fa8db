import { ACTIVATIONS, type Matrix, type TopKResult } from '@cosinekit/core/backend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTfjsBackend, type TfjsBackend } from '../src/index.js';
import { gathers } from '../src/tiles.js';
import {
  algebraTolerance,
  cosineTolerance,
  ENGINES,
  matrix,
  maxAbsError,
  maxRelError,
  of,
  ref,
} from './helpers.js';

const DIMS = [1, 3, 5, 17, 1536];

/** Checks a top-k answer against the float64 reference, allowing order swaps only between near-ties. */
function expectTopK(got: TopKResult, queries: Matrix, corpus: Matrix, k: number, tol: number): void {
  const want = ref.topK(queries, corpus, k);
  const exact = ref.cosineMatrix(queries, corpus);
  expect(got.queries).toBe(queries.rows);
  expect(got.k).toBe(k);
  expect(maxAbsError(got.scores, want.scores)).toBeLessThanOrEqual(tol);
  for (let q = 0; q < queries.rows; q++) {
    const seen = new Set<number>();
    for (let j = 0; j < k; j++) {
      const i = got.indices[q * k + j];
      expect(i).toBeGreaterThanOrEqual(0);
      expect(i).toBeLessThan(corpus.rows);
      expect(seen.has(i)).toBe(false);
      seen.add(i);
      // Whatever row it picked, its true cosine matches the score at that rank.
      expect(Math.abs(exact[q * corpus.rows + i] - want.scores[q * k + j])).toBeLessThanOrEqual(2 * tol);
    }
  }
}

describe.each(ENGINES)('tfjs-%s kernels against the float64 reference', (engine) => {
  const tol = cosineTolerance(engine);
  const algTol = algebraTolerance(engine);
  let backend: TfjsBackend;
  let tiled: TfjsBackend;

  beforeAll(async () => {
    backend = createTfjsBackend({ engine });
    // Tiny tiles: every corpus below spans several, with a ragged last one.
    // Score tiles of 30 floats: 4 queries per step against 7-column tiles.
    tiled = createTfjsBackend({ engine, name: `tfjs-${engine}-tiled`, tileColumns: 7, scoreTile: 30 });
    await Promise.all([backend.init(), tiled.init()]);
  });
  afterAll(() => {
    backend.dispose();
    tiled.dispose();
  });

  it('reports the engine tfjs actually runs', () => {
    const info = backend.describe();
    expect(info.engine).toBe(engine);
    expect(backend.name).toBe(`tfjs-${engine}`);
    if (engine === 'wasm') expect(typeof info.simd).toBe('boolean');
  });

  it.each(DIMS)('rowNorms, normalizeRows and cosineRows at d=%i', async (d) => {
    const a = matrix(9, d, d);
    const b = matrix(9, d, d + 100);
    expect(maxRelError(await backend.kernels.rowNorms(a), ref.rowNorms(a))).toBeLessThan(algTol);
    expect(maxAbsError(await backend.kernels.normalizeRows(a), ref.normalizeRows(a))).toBeLessThan(tol);
    expect(maxAbsError(await backend.kernels.cosineRows(a, b), ref.cosineRows(a, b))).toBeLessThan(tol);
  });

  it('norms survive magnitudes whose squares overflow or underflow float32', async () => {
    const big = of([
      [3e30, 4e30],
      [3e-30, 4e-30],
      [1e-40, 0],
    ]);
    const norms = await backend.kernels.rowNorms(big);
    expect(norms[0] / 5e30).toBeCloseTo(1, 5);
    expect(norms[1] / 5e-30).toBeCloseTo(1, 5);
    const unit = await backend.kernels.normalizeRows(big);
    expect(Array.from(unit.subarray(0, 4)).map((v) => Number(v.toFixed(5)))).toEqual([0.6, 0.8, 0.6, 0.8]);
  });

  it.each(DIMS)('cosineMatrix at d=%i, one row against many and many against one', async (d) => {
    for (const [m, n] of [
      [1, 20],
      [13, 1],
      [5, 23],
    ]) {
      const a = matrix(m, d, m * d + 1);
      const b = matrix(n, d, m * d + 2);
      const want = ref.cosineMatrix(a, b);
      expect(maxAbsError(await backend.kernels.cosineMatrix(a, b), want)).toBeLessThan(tol);
      expect(maxAbsError(await tiled.kernels.cosineMatrix(a, b), want)).toBeLessThan(tol);
    }
  });

  it('zero vectors have cosine 0 with everything, never NaN', async () => {
    const a = of([
      [0, 0, 0],
      [1, 2, 3],
    ]);
    const b = of([
      [1, 2, 3],
      [0, 0, 0],
      [-1, -2, -3],
    ]);
    expect(Array.from(await backend.kernels.cosineMatrix(a, b))).toEqual([0, 0, 0, 1, 0, -1]);
    expect(Array.from(await backend.kernels.normalizeRows(b)).slice(3, 6)).toEqual([0, 0, 0]);
    expect(
      Array.from(
        await backend.kernels.cosineRows(
          a,
          of([
            [1, 1, 1],
            [0, 0, 0],
          ]),
        ),
      ),
    ).toEqual([0, 0]);
    const hits = await tiled.kernels.topK(of([[0, 0, 0]]), b, 3);
    expect(Array.from(hits.indices)).toEqual([0, 1, 2]);
    expect(Array.from(hits.scores)).toEqual([0, 0, 0]);
  });

  it('cosines of parallel rows are clamped to exactly 1 and -1', async () => {
    const a = matrix(4, 1536, 7);
    const neg = { ...a, data: a.data.map((v) => -3 * v) };
    const c = await backend.kernels.cosineMatrix(a, a);
    const r = await backend.kernels.cosineRows(a, neg);
    for (const v of c) expect(Math.abs(v)).toBeLessThanOrEqual(1);
    for (const v of r) expect(v).toBeGreaterThanOrEqual(-1);
  });

  it.each([
    [1, 3, 1, 1],
    [3, 5, 20, 4],
    [4, 17, 23, 23],
    [2, 1536, 30, 5],
    [300, 5, 9, 3],
  ])('topK: Q=%i d=%i N=%i k=%i, one tile and many', async (q, d, n, k) => {
    const queries = matrix(q, d, q + d);
    const corpus = matrix(n, d, n + d);
    expectTopK(await backend.kernels.topK(queries, corpus, k), queries, corpus, k, tol);
    expectTopK(await tiled.kernels.topK(queries, corpus, k), queries, corpus, k, tol);
  });

  it('topK breaks ties by the lower index, within a tile and across tiles', async () => {
    // Exact values: every cosine is 1, 0 or 1/sqrt(2) computed the same way for equal rows.
    const rows: number[][] = [];
    for (let i = 0; i < 40; i++) rows.push(i % 3 === 0 ? [1, 0, 0] : i % 3 === 1 ? [0, 2, 0] : [0, 0, 5]);
    const corpus = of(rows);
    const queries = of([
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 0],
      [0, 0, 1],
    ]);
    for (const b of [backend, tiled]) {
      for (const k of [1, 5, 14, 40]) {
        const got = await b.kernels.topK(queries, corpus, k);
        const want = ref.topK(queries, corpus, k);
        expect(Array.from(got.indices)).toEqual(Array.from(want.indices));
        expect(Array.from(got.scores)).toEqual(Array.from(want.scores));
      }
    }
  });

  it('a resident corpus is searched and scored without re-upload, and can be reused', async () => {
    const corpus = matrix(50, 17, 3);
    const queries = matrix(6, 17, 4);
    for (const b of [backend, tiled]) {
      const resident = await b.kernels.createCorpus(corpus);
      expect(resident.backend).toBe(b.name);
      expect([resident.rows, resident.cols, resident.disposed]).toEqual([50, 17, false]);
      expectTopK(await b.kernels.corpusSearch(resident, queries, 7), queries, corpus, 7, tol);
      expectTopK(await b.kernels.corpusSearch(resident, queries, 50), queries, corpus, 50, tol);
      const out = new Float32Array(6 * 50);
      const m = await b.kernels.corpusMatrix(resident, queries, out);
      expect(m).toBe(out);
      expect(maxAbsError(m, ref.cosineMatrix(queries, corpus))).toBeLessThan(tol);
      resident.dispose();
      resident.dispose();
      expect(resident.disposed).toBe(true);
      await expect(async () => b.kernels.corpusSearch(resident, queries, 1)).rejects.toThrow(/disposed/);
    }
  });

  it('long rows of like values: every kernel within tolerance (tfjs-wasm summed a row in one float32 chain: 9.5e-5 off)', async () => {
    for (const d of [1025, 1536, 3072, 4097, 6494]) {
      // Constant rows, rows of two alternating values, and one ordinary row.
      const rows: number[][] = [
        Array.from({ length: d }, () => 0.1),
        Array.from({ length: d }, () => 1.7),
        Array.from({ length: d }, (_, i) => (i % 2 ? 0.3 : 0.7)),
        Array.from(matrix(1, d, d).data),
      ];
      const x = of(rows);
      const exact = ref.cosineMatrix(x, x);
      for (const b of [backend, tiled]) {
        expect(
          maxAbsError(await b.kernels.cosineMatrix(x, x), exact),
          `${b.name} d=${d} matrix`,
        ).toBeLessThan(tol);
        expect(
          maxAbsError(await b.kernels.cosineRows(x, x), ref.cosineRows(x, x)),
          `rows d=${d}`,
        ).toBeLessThan(tol);
        expectTopK(await b.kernels.topK(x, x, 2), x, x, 2, tol);
        const resident = await b.kernels.createCorpus(x);
        expectTopK(await b.kernels.corpusSearch(resident, x, 4), x, x, 4, tol);
        expect(maxAbsError(await b.kernels.corpusMatrix(resident, x), exact), `corpus d=${d}`).toBeLessThan(
          tol,
        );
        expect(
          maxAbsError(await b.kernels.readCorpus(resident), ref.normalizeRows(x)),
          `read d=${d}`,
        ).toBeLessThan(1e-6);
        resident.dispose();
      }
    }
    expect(backend.memory().residentHandles).toBe(0);
  });

  // Past a few thousand dimensions the parts' sums join in float32 too: tfjs-cpu, left whole,
  // scored a row of alternating 0.5 and 1 at 0.99986 against itself at d = 1,000,000, and at d =
  // 200,000 ranked a row's exact copy below a row of cosine 0.99996.
  it('very long rows: within tolerance, and the exact copy of a row ranks first', async () => {
    const d = 200_000;
    const two = Float32Array.from({ length: d }, (_, j) => (j % 2 ? 1 : 0.5));
    const dom = Float32Array.from({ length: d }, (_, j) => (j === 0 ? 100 : 0.01));
    const near = Float32Array.from({ length: d }, (_, j) => (j === 0 ? 100 : 0.012));
    const q = { data: Float32Array.from([...two, ...dom]), rows: 2, cols: d };
    const c = { data: Float32Array.from([...near, ...dom, ...two]), rows: 3, cols: d };
    const m = await backend.kernels.cosineMatrix(q, c);
    expect(maxAbsError(m, ref.cosineMatrix(q, c))).toBeLessThan(tol);
    const resident = await backend.kernels.createCorpus(c);
    const top = await backend.kernels.corpusSearch(resident, q, 1);
    expect(Array.from(top.indices)).toEqual([2, 1]);
    resident.dispose();
  });

  it('a row of 1,000,000 with one dominant value: norms and unit rows within tolerance (the parts summed in one chain were 1.4e-5 off)', async () => {
    const d = 1_000_000;
    const x = { data: Float32Array.from({ length: d }, (_, j) => (j === 0 ? 100 : 0.012)), rows: 1, cols: d };
    let sq = 0;
    for (const v of x.data) sq += v * v;
    const norm = Math.sqrt(sq);
    const n = (await backend.kernels.rowNorms(x))[0];
    expect(Math.abs(n - norm) / norm).toBeLessThanOrEqual(algTol);
    const u = await backend.kernels.normalizeRows(x);
    for (const j of [0, 1, d - 1]) expect(Math.abs(u[j] - x.data[j] / norm)).toBeLessThanOrEqual(algTol);
  });

  it('importCorpus holds the stored rows bit for bit, and searches as the corpus they came from', async () => {
    const x = matrix(40, 1537, 8);
    const queries = matrix(3, 1537, 9);
    for (const b of [backend, tiled]) {
      const first = await b.kernels.createCorpus(x);
      const exact = await b.kernels.readCorpus(first);
      const again = await b.kernels.importCorpus({
        rows: 40,
        cols: 1537,
        storage: 'float32',
        rerank: 0,
        exact,
        half: null,
        codes: null,
        scales: null,
      });
      expect(await b.kernels.readCorpus(again)).toEqual(exact);
      const [s1, s2] = [
        await b.kernels.corpusSearch(first, queries, 40),
        await b.kernels.corpusSearch(again, queries, 40),
      ];
      expect(s2.indices).toEqual(s1.indices);
      expect(s2.scores).toEqual(s1.scores);
      await expect(
        b.kernels.importCorpus({
          rows: 1,
          cols: 2,
          storage: 'int8',
          rerank: 0,
          exact: null,
          half: null,
          codes: Int8Array.of(1, 2),
          scales: Float32Array.of(1),
        }),
      ).rejects.toMatchObject({ code: 'UNSUPPORTED', op: 'importCorpus' });
      first.dispose();
      again.dispose();
    }
    expect(backend.memory().residentHandles).toBe(0);
  });

  it('mergeCorpora with the backend disposed while it reads tiles: DISPOSED, nothing left; a part of no rows first', async () => {
    const d = 16;
    const mk = (rows: number, seed: number) => matrix(rows, d, seed);
    for (let ticks = 0; ticks < 40; ticks += 4) {
      const fresh = createTfjsBackend({ engine, name: `tfjs-${engine}-merge-${ticks}`, tileColumns: 8 });
      await fresh.init();
      const hs = [await fresh.kernels.createCorpus(mk(40, 1)), await fresh.kernels.createCorpus(mk(40, 2))];
      const p = fresh.kernels.mergeCorpora!(hs, [new Uint8Array(40), new Uint8Array(40)]);
      for (let i = 0; i < ticks; i++) await null;
      fresh.dispose();
      const got = await Promise.resolve(p).then(
        (m) => ({ disposed: m.disposed }),
        (e: { code?: string }) => ({ code: e.code }),
      );
      // Resolved before the dispose reached it (the dispose then took it), or refused: never alive.
      expect(got, `dispose after ${ticks} microtasks`).toMatchObject(
        'code' in got ? { code: 'DISPOSED' } : { disposed: true },
      );
      expect(fresh.memory(), `after ${ticks}`).toMatchObject({ residentHandles: 0, bytes: 0 });
    }
    // The first part has no rows (no tiles): the merge takes its dimension cuts from the next one.
    const parts = [
      await tiled.kernels.createCorpus({ data: new Float32Array(0), rows: 0, cols: 3 }),
      await tiled.kernels.createCorpus(matrix(3, 3, 5)),
    ];
    const m = await tiled.kernels.mergeCorpora!(parts, [new Uint8Array(0), new Uint8Array(3)]);
    expect(m.rows).toBe(3);
    for (const h of [...parts, m]) h.dispose();
  });

  it('mergeCorpora holds the kept rows bit for bit, in order, across tiles and split rows', async () => {
    // d = 1100: three parts per tile on tfjs-wasm. Parts of 1, 9 and 23 rows: the tiled backend's
    // 7-column tiles are crossed by runs of kept rows, one of them dropped whole, the last ragged.
    for (const d of [1, 13, 1100]) {
      const parts = [matrix(1, d, 31), matrix(9, d, 32), matrix(23, d, 33)];
      const drop = [
        Uint8Array.of(0),
        Uint8Array.from({ length: 9 }, (_, i) => (i === 0 || i === 5 ? 1 : 0)),
        Uint8Array.from({ length: 23 }, (_, i) => ((i >= 7 && i < 14) || i % 5 === 4 ? 1 : 0)),
      ];
      const queries = matrix(3, d, 34);
      for (const b of [backend, tiled]) {
        const before = b.memory().objects;
        const hs = await Promise.all(parts.map((p) => b.kernels.createCorpus(p)));
        const stored = await Promise.all(hs.map((h) => b.kernels.readCorpus(h)));
        const kept: number[] = [];
        hs.forEach((h, i) => {
          for (let r = 0; r < h.rows; r++)
            if (drop[i][r] === 0) kept.push(...stored[i].subarray(r * d, (r + 1) * d));
        });
        const rows = kept.length / d;
        const merged = await b.kernels.mergeCorpora!(hs, drop);
        expect([merged.rows, merged.cols]).toEqual([rows, d]);
        expect(await b.kernels.readCorpus(merged), `${b.name} d=${d}`).toEqual(Float32Array.from(kept));
        // Searches as the kept rows imported, and as the float64 reference on them.
        const whole = await b.kernels.importCorpus({
          rows,
          cols: d,
          storage: 'float32',
          rerank: 0,
          exact: Float32Array.from(kept),
          half: null,
          codes: null,
          scales: null,
        });
        const [s1, s2] = [
          await b.kernels.corpusSearch(merged, queries, rows),
          await b.kernels.corpusSearch(whole, queries, rows),
        ];
        expect(s1.indices).toEqual(s2.indices);
        expect(s1.scores).toEqual(s2.scores);
        expectTopK(s1, queries, { data: Float32Array.from(kept), rows, cols: d }, rows, tol);
        // The parts are untouched; another backend's corpus or a disposed one is refused.
        expect(await b.kernels.readCorpus(hs[1])).toEqual(stored[1]);
        const other = b === backend ? tiled : backend;
        await expect(other.kernels.mergeCorpora!(hs, drop)).rejects.toMatchObject({ op: 'mergeCorpora' });
        hs[0].dispose();
        await expect(b.kernels.mergeCorpora!(hs, drop)).rejects.toMatchObject({
          code: 'DISPOSED',
          op: 'mergeCorpora',
        });
        for (const h of [...hs, merged, whole]) h.dispose();
        expect(b.memory().objects, `${b.name} d=${d}: tensors left`).toBe(before);
      }
    }
    expect(backend.memory().residentHandles).toBe(0);
  });

  it('search selects on the reported (clamped) scores: near-1 ties go to the lower index', async () => {
    // Copies and positive multiples of each query round to scores a little over or under 1; the
    // search selects on raw scores unless a k-th score reaches 1, then again on clamped ones.
    // Whichever ran, the result must be the selection on the scores corpusMatrix reports.
    const d = 7;
    const q = matrix(3, d, 21);
    const noise = matrix(30, d, 22);
    const rows = new Float32Array(30 * d);
    const scales = [1, 3, 0.7, 1e3, 2.5, 1e-3, 9, 0.31, 1.7, 5];
    for (let r = 0; r < 30; r++) {
      const own = r % 3;
      const src =
        own === 0 ? noise.data.subarray(r * d, (r + 1) * d) : q.data.subarray(own * d, (own + 1) * d);
      const s = own === 0 ? 1 : scales[r % scales.length];
      for (let j = 0; j < d; j++) rows[r * d + j] = Math.fround(src[j] * s);
    }
    const corpus = { data: rows, rows: 30, cols: d };
    for (const b of [backend, tiled]) {
      const resident = await b.kernels.createCorpus(corpus);
      const reported = await b.kernels.corpusMatrix(resident, q, new Float32Array(3 * 30));
      for (const k of [1, 2, 4, 9, 30]) {
        const got = await b.kernels.corpusSearch(resident, q, k);
        for (let i = 0; i < 3; i++) {
          const order = Array.from({ length: 30 }, (_, j) => j).sort(
            (x, y) => reported[i * 30 + y] - reported[i * 30 + x] || x - y,
          );
          expect(Array.from(got.indices.subarray(i * k, (i + 1) * k))).toEqual(order.slice(0, k));
          expect(Array.from(got.scores.subarray(i * k, (i + 1) * k))).toEqual(
            order.slice(0, k).map((j) => reported[i * 30 + j]),
          );
        }
      }
      resident.dispose();
    }
  });

  // A filter's allowed columns are gathered only where that costs less than the tile's product
  // (gathering whenever a quarter or fewer passed made a filter keeping 5-25% of the rows 5-41x an
  // unfiltered search): one allowed row of a 100-column tile is gathered for 3 queries, 20 are
  // scored with the tile and masked; both answer as the reported scores rank the allowed rows. On
  // the GPU engines a product of one gathered column may round a score an ulp apart from the whole
  // tile's (tfjs picks its shader by shape): there a score is held to 1e-6 of the reported one.
  it('corpusSearchAllowed: gathers a few allowed columns, masks more, the same answers either way', async () => {
    expect(gathers(1, 100, 3)).toBe(true);
    expect(gathers(20, 100, 3)).toBe(false);
    expect(gathers(20, 100, 64)).toBe(true);
    expect(gathers(26, 100, 1000)).toBe(false);
    expect(gathers(1, 7, 3)).toBe(false);
    // 0.8% of a tile for one query is masked: a gathered column costs about 256 of its product
    // (gathered at 64, a filter keeping 0.4-12% of the rows took 1.5-3.9x an unfiltered search).
    expect(gathers(8, 1000, 1)).toBe(false);
    expect(gathers(3, 1000, 1)).toBe(true);
    const wide = createTfjsBackend({
      engine,
      name: `tfjs-${engine}-wide`,
      tileColumns: 100,
      scoreTile: 100_000,
    });
    await wide.init();
    try {
      const d = 5;
      const q = matrix(3, d, 41);
      const corpus = matrix(400, d, 42);
      // Rows 0-99: only 42; 100-199: every fifth; 200-299: all; 300-399: none.
      const allow = Uint8Array.from({ length: 400 }, (_, r) =>
        r < 100 ? (r === 42 ? 1 : 0) : r < 200 ? (r % 5 === 0 ? 1 : 0) : r < 300 ? 1 : 0,
      );
      const resident = await wide.kernels.createCorpus(corpus);
      const reported = await wide.kernels.corpusMatrix(resident, q, new Float32Array(3 * 400));
      for (const k of [1, 7, 121]) {
        const got = await wide.kernels.corpusSearchAllowed!(resident, q, k, allow);
        for (let i = 0; i < 3; i++) {
          const order = Array.from({ length: 400 }, (_, j) => j)
            .filter((j) => allow[j] === 1)
            .sort((x, y) => reported[i * 400 + y] - reported[i * 400 + x] || x - y);
          expect(Array.from(got.indices.subarray(i * k, (i + 1) * k)), `k=${k}`).toEqual(order.slice(0, k));
          const want = order.slice(0, k).map((j) => reported[i * 400 + j]);
          const scores = Array.from(got.scores.subarray(i * k, (i + 1) * k));
          if (engine === 'webgl' || engine === 'webgpu')
            expect(maxAbsError(Float32Array.from(scores), Float32Array.from(want)), `k=${k}`).toBeLessThan(
              1e-6,
            );
          else expect(scores, `k=${k}`).toEqual(want);
        }
      }
      resident.dispose();
    } finally {
      wide.dispose();
    }
  });

  it('corpusSearchAllowed: the selection on reported scores among the allowed rows, every tile path', async () => {
    // Tiles of 7 columns (tiled): tiles none passes (skipped), a few allowed columns (masked: too
    // few queries to gather them, see the test above), most (the others masked), all; copies of the queries so near-1 ties re-select on clamped
    // scores in each path. Read against corpusMatrix's reported scores, ties to the lower index.
    const d = 5;
    const q = matrix(3, d, 31);
    const noise = matrix(60, d, 32);
    const rows = new Float32Array(60 * d);
    for (let r = 0; r < 60; r++)
      for (let j = 0; j < d; j++)
        rows[r * d + j] =
          r % 4 === 1 ? Math.fround(q.data[(r % 3) * d + j] * (1 + (r % 5))) : noise.data[r * d + j];
    const corpus = { data: rows, rows: 60, cols: d };
    // Rows 0-13 none, 14-20 one, 21-27 all but one, 28-59 every third (and row 59).
    const allow = Uint8Array.from({ length: 60 }, (_, r) =>
      r < 14
        ? 0
        : r < 21
          ? r === 17
            ? 1
            : 0
          : r < 28
            ? r === 24
              ? 0
              : 1
            : r % 3 === 0 || r === 59
              ? 1
              : 0,
    );
    const passing = allow.reduce((a, b) => a + b, 0);
    for (const b of [backend, tiled]) {
      const resident = await b.kernels.createCorpus(corpus);
      const reported = await b.kernels.corpusMatrix(resident, q, new Float32Array(3 * 60));
      for (const k of [1, 2, 5, 9, passing]) {
        const got = await b.kernels.corpusSearchAllowed!(resident, q, k, allow);
        for (let i = 0; i < 3; i++) {
          const order = Array.from({ length: 60 }, (_, j) => j)
            .filter((j) => allow[j] === 1)
            .sort((x, y) => reported[i * 60 + y] - reported[i * 60 + x] || x - y);
          expect(Array.from(got.indices.subarray(i * k, (i + 1) * k)), `${b.name} k=${k}`).toEqual(
            order.slice(0, k),
          );
          expect(Array.from(got.scores.subarray(i * k, (i + 1) * k)), `${b.name} k=${k}`).toEqual(
            order.slice(0, k).map((j) => reported[i * 60 + j]),
          );
        }
      }
      resident.dispose();
    }
  });

  it("refuses another backend's corpus", async () => {
    const resident = ref.createCorpus(matrix(3, 2, 1));
    await expect(async () => backend.kernels.corpusSearch(resident, matrix(1, 2, 2), 1)).rejects.toThrow(
      /belongs to backend 'reference'/,
    );
    resident.dispose();
  });

  it('reads inputs that are views into a larger buffer', async () => {
    const whole = matrix(10, 5, 11);
    const view = { data: whole.data.subarray(15, 40), rows: 5, cols: 5 };
    const copy = { data: view.data.slice(), rows: 5, cols: 5 };
    expect(Array.from(await backend.kernels.cosineMatrix(view, view))).toEqual(
      Array.from(await backend.kernels.cosineMatrix(copy, copy)),
    );
  });

  it.each([
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ])('matmul transA=%s transB=%s', async (transA, transB) => {
    for (const [m, k, n] of [
      [1, 1, 1],
      [3, 5, 2],
      [17, 33, 9],
      [64, 128, 40],
    ]) {
      const a = transA ? matrix(k, m, m + k) : matrix(m, k, m + k);
      const b = transB ? matrix(n, k, n + k) : matrix(k, n, n + k);
      const want = ref.matmul(a, b, transA, transB);
      const out = new Float32Array(m * n);
      const got = await backend.kernels.matmul(a, b, transA, transB, out);
      expect(got).toBe(out);
      expect(maxRelError(got, want)).toBeLessThan(algTol * Math.sqrt(k));
    }
  });

  it('matmul over a long shared dimension, repeated rows (tfjs-webgpu summed 6 x 4096 by 56 x 4096 wrong)', async () => {
    for (const [m, k, n] of [
      [6, 4096, 56],
      [3, 1025, 5],
    ]) {
      const row = matrix(1, k, k).data;
      const a = { data: new Float32Array(m * k), rows: m, cols: k };
      for (let i = 0; i < m; i++) a.data.set(row, i * k);
      for (const transB of [true, false]) {
        const b = transB ? matrix(n, k, n + 1) : matrix(k, n, n + 1);
        const want = ref.matmul(a, b, false, transB);
        const got = await backend.kernels.matmul(a, b, false, transB);
        // Absolute, against the largest magnitude: the sums of k products of values in [-1, 1).
        const scale = Math.max(...Array.from(want, Math.abs));
        expect(maxAbsError(got, want) / scale, `${m}x${k}x${n} transB=${transB}`).toBeLessThan(
          algTol * Math.sqrt(k),
        );
      }
    }
  });

  it('addBias broadcasts over rows', async () => {
    const x = matrix(7, 5, 1);
    const bias = matrix(1, 5, 2).data;
    expect(maxRelError(await backend.kernels.addBias(x, bias), ref.addBias(x, bias))).toBeLessThan(algTol);
  });

  it.each(ACTIVATIONS)('activation and activationGrad: %s', async (kind) => {
    const x = matrix(8, 33, 5, 6);
    // Exact zeros and large magnitudes (where GELU saturates and x^3 would overflow float32).
    x.data[0] = 0;
    x.data[1] = 1e20;
    x.data[2] = -1e20;
    x.data[3] = 30;
    x.data[4] = -30;
    const dy = matrix(8, 33, 6);
    expect(maxRelError(await backend.kernels.activation(kind, x), ref.activation(kind, x))).toBeLessThan(
      algTol,
    );
    expect(
      maxRelError(await backend.kernels.activationGrad(kind, x, dy), ref.activationGrad(kind, x, dy)),
    ).toBeLessThan(algTol);
  });
});
