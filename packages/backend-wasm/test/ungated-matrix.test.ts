import { type CosineKitError, createCosineKit, Tensor } from '@cosinekit/core';
import { type Backend, isCosineKitError, type Matrix, resolveKernels } from '@cosinekit/core/backend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WasmBackend } from '../src/index.js';
import { backend, random, VARIANTS } from './helpers.js';

/** The float64 cosine matrix of two float32 matrices (0 for a zero row), row-major a.rows x b.rows. */
function matrix64(a: Matrix, b: Matrix): Float64Array {
  const d = a.cols;
  const norm = (m: Matrix, i: number) => {
    let s = 0;
    for (let p = i * d; p < (i + 1) * d; p++) s += m.data[p] * m.data[p];
    return Math.sqrt(s);
  };
  const na = Array.from({ length: a.rows }, (_, i) => norm(a, i));
  const nb = Array.from({ length: b.rows }, (_, j) => norm(b, j));
  const out = new Float64Array(a.rows * b.rows);
  for (let i = 0; i < a.rows; i++)
    for (let j = 0; j < b.rows; j++) {
      let dot = 0;
      for (let p = 0; p < d; p++) dot += a.data[i * d + p] * b.data[j * d + p];
      out[i * b.rows + j] = na[i] === 0 || nb[j] === 0 ? 0 : dot / (na[i] * nb[j]);
    }
  return out;
}

/**
 * The product's bound against float64: unit rows in float32, partial sums in v128 lanes. 2e-6
 * covers d = 3071 with room (measured worst about 6e-7).
 */
const TOL = 2e-6;

function expectMatrix(got: Float32Array, a: Matrix, b: Matrix, what: string): void {
  const want = matrix64(a, b);
  expect(got.length, what).toBe(want.length);
  let worst = 0;
  let at = 0;
  for (let i = 0; i < got.length; i++) {
    const e = Math.abs(got[i] - want[i]);
    if (!(e <= worst)) {
      worst = e;
      at = i;
    }
  }
  expect(worst, `${what}: worst at ${at}, got ${got[at]}, want ${want[at]}`).toBeLessThanOrEqual(TOL);
}

/** Top k of each query by the float64 matrix, checked against an answer: scores within TOL, and
 * every named row's true cosine at least the k-th true cosine less TOL (ties may swap). */
function expectTopK(
  got: { indices: Int32Array; scores: Float32Array; k: number },
  q: Matrix,
  c: Matrix,
  what: string,
): void {
  const m = matrix64(q, c);
  for (let i = 0; i < q.rows; i++) {
    const row = Array.from(m.subarray(i * c.rows, (i + 1) * c.rows));
    const kth = [...row].sort((x, y) => y - x)[got.k - 1];
    for (let s = i * got.k; s < (i + 1) * got.k; s++) {
      const r = got.indices[s];
      expect(Math.abs(got.scores[s] - row[r]), `${what}: query ${i}, row ${r}`).toBeLessThanOrEqual(TOL);
      expect(row[r], `${what}: query ${i} named row ${r}`).toBeGreaterThanOrEqual(kth - TOL);
    }
  }
}

const scaled = (m: Matrix, s: (row: number) => number): Matrix => ({
  rows: m.rows,
  cols: m.cols,
  data: m.data.map((v, i) => v * s(Math.floor(i / m.cols))),
});

/** What a rejected call threw. */
async function failure(p: Promise<unknown>): Promise<CosineKitError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(isCosineKitError(e), `the call should have failed with a CosineKitError, got ${String(e)}`).toBe(
    true,
  );
  return e as CosineKitError;
}

for (const variant of VARIANTS) {
  for (const threads of [1, 2]) {
    describe(`wasm cosineMatrix and topK, ungated (${variant}, ${threads} thread${threads > 1 ? 's' : ''})`, () => {
      let b: WasmBackend;
      beforeAll(async () => {
        b = await backend({ variant, threads });
      });
      afterAll(() => b.dispose());

      it('are declared ungated, and the kit resolves them so', () => {
        expect(resolveKernels(b).ungated).toEqual([
          'cosineRows',
          'cosineMatrix',
          'topK',
          'rowNorms',
          'normalizeRows',
          'createCorpus',
          'corpusSearch',
          'corpusMatrix',
        ]);
        // A copy of the backend with its own topK keeps the others, not the promise for topK.
        const copy = { ...b, kernels: { ...b.kernels, topK: b.kernels.topK.bind(b.kernels) } };
        expect(resolveKernels(copy).ungated).toEqual([
          'cosineRows',
          'cosineMatrix',
          'rowNorms',
          'normalizeRows',
          'createCorpus',
          'corpusSearch',
          'corpusMatrix',
        ]);
      });

      it('are exact at any finite magnitude, rows of different magnitudes mixed in one call', () => {
        for (const [q, n, d] of [
          [1, 1, 1],
          [3, 7, 5],
          [5, 37, 64],
          [2, 9, 1023],
          // Past the queries a call streams (src/stream.ts): the whole corpus staged first.
          [140, 20, 33],
        ]) {
          const x = random(q, d, q * 31 + d);
          const y = random(n, d, n * 17 + d);
          for (const s of [3e38, 2 ** 100, 2 ** 64, 2 ** -64, 2 ** -100, 2 ** -140]) {
            // Every other query row scaled by s, the corpus by 1/s (or s), some rows left as they were.
            const xs = scaled(x, (i) => (i % 2 === 0 ? s / 2 : 1));
            const ys = scaled(y, (j) => (j % 3 === 2 ? 1 : s >= 1 ? 1 / s : s));
            const what = `${q} x ${n} x ${d}, scale ${s}`;
            expectMatrix(b.kernels.cosineMatrix(xs, ys), xs, ys, what);
            const k = Math.min(3, n);
            expectTopK(b.kernels.topK(xs, ys, k), xs, ys, what);
          }
        }
      });

      it('few queries stream over the rows a chunk at a time: counts of queries, chunk boundaries, d = 1', () => {
        // Chunks of 256 KiB in whole panels: 40-42 rows at d = 1536, 65,535-65,536 at d = 1.
        for (const [n, d] of [
          [100, 1536],
          [70_000, 1],
          [1000, 67],
        ]) {
          const y = random(n, d, n + d);
          // A zero row, a tiny one and a huge one in the second chunk, which take the float64 path.
          const far = Math.min(n - 1, 50);
          y.data.fill(0, far * d, (far + 1) * d);
          if (n > 60) for (let p = 0; p < d; p++) y.data[60 * d + p] *= 2 ** -120;
          if (n > 70) for (let p = 0; p < d; p++) y.data[70 * d + p] *= 2 ** 120;
          for (const q of [1, 2, 3, 4, 5, 8, 9, 33]) {
            const x = random(q, d, q * 7 + d);
            const what = `${q} x ${n} x ${d}`;
            if (n * q <= 100_000) expectMatrix(b.kernels.cosineMatrix(x, y), x, y, what);
            expectTopK(b.kernels.topK(x, y, Math.min(7, n)), x, y, what);
          }
          // NaN in the last row: named by its row in the whole input, not in its chunk.
          const bad = { ...y, data: Float32Array.from(y.data) };
          bad.data[n * d - 1] = Number.NaN;
          let err: unknown;
          try {
            b.kernels.topK(random(1, d, 1), bad, 1);
          } catch (e) {
            err = e;
          }
          expect((err as CosineKitError).message).toContain(`row ${n - 1}.`);
        }
      });

      it('many rows of a against a few of b stream the other way: the bits of the transposed call, into out', () => {
        const bitsOf = (v: Float32Array) => new Int32Array(v.buffer, v.byteOffset, v.length);
        for (const [m, n, d] of [
          [33, 1, 1],
          [300, 5, 7],
          [2000, 8, 97],
          [3000, 1, 128],
          [500, 7, 129],
          [70, 32, 1536],
          [41, 3, 4097],
        ]) {
          const a = random(m, d, m + d);
          const y = random(n, d, 2 * n + d);
          // A zero row, a tiny one and a huge one among the streamed rows.
          a.data.fill(0, 3 * d, 4 * d);
          for (let p = 5 * d; p < 6 * d; p++) a.data[p] *= 2 ** -120;
          for (let p = 7 * d; p < 8 * d; p++) a.data[p] *= 2 ** 120;
          const what = `${m} x ${n} x ${d}`;
          const got = b.kernels.cosineMatrix(a, y);
          expectMatrix(got, a, y, what);
          const t = bitsOf(b.kernels.cosineMatrix(y, a));
          const g = bitsOf(got);
          for (let i = 0; i < m; i++)
            for (let j = 0; j < n; j++)
              if (g[i * n + j] !== t[j * m + i]) expect(`${what}: ${i}, ${j}`).toBe('');
          const out = new Float32Array(m * n).fill(Number.NaN);
          expect(b.kernels.cosineMatrix(a, y, out), what).toBe(out);
          expect(bitsOf(out), what).toEqual(g);
        }
      });

      it('a stream gives the bits of the whole-corpus path: a query alone scores as among 140', () => {
        for (const [n, d] of [
          [300, 97],
          [130, 1536],
          // Few queries at large d take the d-blocked driver (tiles 4x2, 2x2).
          [70, 3072],
        ]) {
          const y = random(n, d, n * 3 + d);
          const many = random(140, d, d);
          const all = b.kernels.cosineMatrix(many, y);
          const best = b.kernels.topK(many, y, 5);
          for (const q of [1, 3, 4, 8, 32, 33, 128]) {
            const few = { data: many.data.slice(0, q * d), rows: q, cols: d };
            const bitsOf = (v: Float32Array) => Array.from(new Int32Array(v.buffer, v.byteOffset, v.length));
            expect(bitsOf(b.kernels.cosineMatrix(few, y)), `${q} x ${n} x ${d}`).toEqual(
              bitsOf(all.subarray(0, q * n)),
            );
            const t = b.kernels.topK(few, y, 5);
            expect(Array.from(t.indices)).toEqual(Array.from(best.indices.subarray(0, q * 5)));
            expect(bitsOf(t.scores)).toEqual(bitsOf(best.scores.subarray(0, q * 5)));
          }
        }
      });

      it('throw NON_FINITE naming the argument and row for NaN or ±Infinity anywhere, and leak nothing', () => {
        const before = b.memory();
        for (const [q, n, d] of [
          [1, 1, 1],
          [3, 5, 7],
          [4, 9, 8],
          [2, 40, 1024],
          // Many rows of a against few of b: a streams over b. Over 256 queries: staged a chunk at
          // a time, each named by its row in the whole input.
          [300, 5, 7],
          [600, 40, 9],
        ]) {
          for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
            for (const which of ['queries', 'corpus'] as const) {
              const rows = which === 'queries' ? q : n;
              for (const at of new Set([0, (rows * d) >> 1, rows * d - 1])) {
                const x = random(q, d, 3);
                const y = random(n, d, 4);
                (which === 'queries' ? x : y).data[at] = bad;
                const row = Math.floor(at / d);
                const what = `${bad} at ${at} of ${which} (${q} x ${n} x ${d})`;
                for (const [op, arg, call] of [
                  ['cosineMatrix', which === 'queries' ? 'a' : 'b', () => b.kernels.cosineMatrix(x, y)],
                  ['topK', which, () => b.kernels.topK(x, y, 1)],
                ] as const) {
                  let err: unknown;
                  try {
                    call();
                  } catch (e) {
                    err = e;
                  }
                  expect(isCosineKitError(err, 'NON_FINITE'), `${op}: ${what}`).toBe(true);
                  const e = err as CosineKitError;
                  expect([e.op, e.arg], what).toEqual([op, arg]);
                  expect(e.message, what).toContain(`row ${row}.`);
                }
              }
            }
          }
        }
        expect(b.memory()).toEqual(before);
      });

      it('through the kit: the same answers, bit for bit, and the same typed errors as a gated kit', async () => {
        const kit = createCosineKit({ backend: b });
        const gatedBackend: Backend = {
          name: 'gated',
          kernels: { cosineMatrix: b.kernels.cosineMatrix, topK: b.kernels.topK },
        };
        const gated = createCosineKit({ backend: gatedBackend });
        await Promise.all([kit.ready(), gated.ready()]);
        expect(resolveKernels(gatedBackend).ungated).toEqual(['cosineRows']);
        for (const [q, n, d] of [
          [1, 1, 1],
          [1, 300, 3],
          [6, 50, 97],
          [9, 130, 384],
        ]) {
          const x = random(q, d, q + d);
          const y = random(n, d, n + d);
          const k = Math.min(5, n);
          // One query as a plain Float32Array, several as a tensor.
          const m = await kit.cosineMatrix(
            q === 1 ? x.data : new Tensor(x.data, q, d),
            new Tensor(y.data, n, d),
          );
          const g = await gated.cosineMatrix(new Tensor(x.data, q, d), new Tensor(y.data, n, d));
          expect(m.shape).toEqual([q, n]);
          expect(m.data).toEqual(g.data);
          const t = await kit.topK(new Tensor(x.data, q, d), new Tensor(y.data, n, d), k);
          const u = await gated.topK(new Tensor(x.data, q, d), new Tensor(y.data, n, d), k);
          expect([t.indices, t.scores]).toEqual([u.indices, u.scores]);
          // Into a caller's buffer.
          const out = new Float32Array(q * n).fill(Number.NaN);
          const into = await kit.cosineMatrix(new Tensor(x.data, q, d), new Tensor(y.data, n, d), { out });
          expect(into.data).toBe(out);
          expect(out).toEqual(g.data);
          // Arrays of numbers, as a user hands them.
          const rowsOf = (mx: Matrix) =>
            Array.from({ length: mx.rows }, (_, i) => Array.from(mx.data.subarray(i * d, (i + 1) * d)));
          expect((await kit.cosineMatrix(rowsOf(x), rowsOf(y))).data).toEqual(g.data);
          // Bad input: through the gate after all, which names it as for any backend.
          for (const bad of [Number.NaN, Number.NEGATIVE_INFINITY]) {
            for (const which of [0, 1] as const) {
              const make = () => {
                const pair = [Float32Array.from(x.data), Float32Array.from(y.data)];
                pair[which][pair[which].length - 1] = bad;
                return [new Tensor(pair[0], q, d), new Tensor(pair[1], n, d)];
              };
              const [p1, p2] = make();
              const [g1, g2] = make();
              const e = await failure(kit.cosineMatrix(p1, p2));
              const f = await failure(gated.cosineMatrix(g1, g2));
              expect([e.code, e.op, e.arg, e.message]).toEqual([f.code, f.op, f.arg, f.message]);
              expect([e.code, e.arg]).toEqual(['NON_FINITE', which === 0 ? 'a' : 'b']);
              const [p3, p4] = make();
              const [g3, g4] = make();
              const s = await failure(kit.topK(p3, p4, k));
              const r = await failure(gated.topK(g3, g4, k));
              expect([s.code, s.op, s.arg, s.message]).toEqual([r.code, r.op, r.arg, r.message]);
              expect([s.code, s.arg]).toEqual(['NON_FINITE', which === 0 ? 'queries' : 'corpus']);
            }
          }
        }
        // Shapes and k are refused by name before any kernel runs, as on the gated path.
        const e = await failure(kit.cosineMatrix(new Float32Array(3), new Tensor(new Float32Array(8), 2, 4)));
        expect([e.code, e.op, e.arg]).toEqual(['DIMENSION_MISMATCH', 'cosineMatrix', 'b']);
        const f = await failure(kit.topK(new Float32Array(4), new Tensor(new Float32Array(8), 2, 4), 3));
        expect([f.code, f.op, f.arg]).toEqual(['INVALID_K', 'topK', 'k']);
        kit.dispose();
        gated.dispose();
      });

      it('rowNorms and normalize through the kit: the gated bits at any magnitude, and the gate errors', async () => {
        const kit = createCosineKit({ backend: b });
        const gated = createCosineKit({
          backend: {
            name: 'gated',
            kernels: { rowNorms: b.kernels.rowNorms, normalizeRows: b.kernels.normalizeRows },
          },
        });
        await Promise.all([kit.ready(), gated.ready()]);
        for (const [r, d] of [
          [1, 1],
          [3, 5],
          [37, 64],
          [5, 1023],
        ]) {
          for (const s of [1, 2 ** 100, 2 ** -100, 2 ** -140]) {
            const x = scaled(random(r, d, r + d), (i) => (i % 2 === 0 ? s : 1));
            const t = new Tensor(x.data, r, d);
            const what = `${r} x ${d}, scale ${s}`;
            const n = await kit.rowNorms(t);
            const gn = await gated.rowNorms(t);
            for (let i = 0; i < r; i++) {
              let ss = 0;
              for (let p = 0; p < d; p++) ss += x.data[i * d + p] ** 2;
              // Relative, plus half the gap between subnormal float32 values.
              expect(Math.abs(n[i] - Math.sqrt(ss)), `${what}, row ${i}`).toBeLessThanOrEqual(
                1e-7 * Math.sqrt(ss) + 2 ** -150,
              );
            }
            // Rows the gate rescaled by a power of two give the same norms, but for float32
            // rounding where they are subnormal.
            if (s >= 2 ** -100) expect(n).toEqual(gn);
            const u = await kit.normalize(t);
            const gu = await gated.normalize(t);
            expect(u.shape).toEqual([r, d]);
            expect(u.data).toEqual(gu.data);
          }
        }
        for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
          const x = random(3, 7, 1).data;
          x[10] = bad;
          for (const op of ['rowNorms', 'normalize'] as const) {
            const e = await failure(kit[op](new Tensor(Float32Array.from(x), 3, 7)));
            const g = await failure(gated[op](new Tensor(Float32Array.from(x), 3, 7)));
            expect([e.code, e.op, e.arg, e.message]).toEqual([g.code, g.op, g.arg, g.message]);
            expect(e.code).toBe('NON_FINITE');
          }
        }
        // A norm past the largest float32: the gate's error, as before.
        const huge = new Tensor(new Float32Array(8).fill(3e38), 2, 4);
        const e = await failure(kit.rowNorms(huge));
        const g = await failure(gated.rowNorms(new Tensor(new Float32Array(8).fill(3e38), 2, 4)));
        expect([e.code, e.message]).toEqual([g.code, g.message]);
        expect(e.code).toBe('INVALID_ARGUMENT');
        expect(Array.from((await kit.normalize(huge)).data)).toEqual(new Array(8).fill(0.5));
        kit.dispose();
        gated.dispose();
      });

      it('kit.corpus of float32 and int8 rows: the backend copies them within the call; same corpus and errors as gated', async () => {
        const kit = createCosineKit({ backend: b });
        const gatedBackend: Backend = { ...b, name: 'gated', ungated: [] };
        const gated = createCosineKit({ backend: gatedBackend });
        await Promise.all([kit.ready(), gated.ready()]);
        const before = b.memory();
        for (const [n, d] of [
          [1, 1],
          [37, 5],
          [300, 384],
        ]) {
          for (const s of [1, 2 ** 100, 2 ** -140]) {
            const y = scaled(random(n, d, n + d), (j) => (j % 2 === 0 ? s : 1));
            const q = new Tensor(random(3, d, d).data, 3, d);
            const data = Float32Array.from(y.data);
            const c = await kit.corpus(new Tensor(data, n, d), {
              ids: Array.from({ length: n }, (_, j) => `r${j}`),
            });
            // Poisoned after the call: the corpus holds its own copy.
            data.fill(Number.NaN);
            const g = await gated.corpus(new Tensor(y.data, n, d), {
              ids: Array.from({ length: n }, (_, j) => `r${j}`),
            });
            const k = Math.min(5, n);
            const [r, w] = [await c.search(q, k), await g.search(q, k)];
            expect([r.indices, r.scores, r.ids]).toEqual([w.indices, w.scores, w.ids]);
            expect((await c.similarity(q)).data).toEqual((await g.similarity(q)).data);
            c.dispose();
            g.dispose();
          }
        }
        for (const bad of [Number.NaN, Number.NEGATIVE_INFINITY]) {
          const y = random(40, 9, 2).data;
          y[9 * 33 + 4] = bad;
          const e = await failure(kit.corpus(new Tensor(Float32Array.from(y), 40, 9)));
          const g = await failure(gated.corpus(new Tensor(Float32Array.from(y), 40, 9)));
          expect([e.code, e.op, e.arg, e.message]).toEqual([g.code, g.op, g.arg, g.message]);
          expect(e.code).toBe('NON_FINITE');
          // With bad ids as well: the rows are named first, as by the gate.
          const f = await failure(kit.corpus(new Tensor(Float32Array.from(y), 40, 9), { ids: ['x', 'x'] }));
          expect(f.code).toBe('NON_FINITE');
        }
        // int8 too: quantised in wasm from the caller's rows, an extreme row rescaled there as the
        // gate would, so the very codes, scales and float rows of the gated corpus, at any magnitude
        // (rows at and past both bounds of the gate's rescale, zero rows, d not a multiple of 16).
        for (const [n, d] of [
          [1, 1],
          [37, 21],
          [200, 64],
        ]) {
          const edges = [
            1,
            2 ** 100,
            2 ** -140,
            2 ** 40,
            2 ** 40 * (1 + 2 ** -20),
            2 ** -40,
            2 ** -41,
            3e38 / 4,
            0,
          ];
          const y = scaled(random(n, d, 5 + d), (j) => edges[j % edges.length]);
          for (const rerank of [undefined, 0]) {
            const data = Float32Array.from(y.data);
            const i8 = await kit.corpus(new Tensor(data, n, d), { storage: 'int8', rerank });
            data.fill(Number.NaN);
            const g8 = await gated.corpus(new Tensor(y.data, n, d), { storage: 'int8', rerank });
            const [si, sg] = [await i8.save(), await g8.save()];
            expect(si).toEqual(sg);
            const q = new Tensor(random(2, d, 6).data, 2, d);
            const k = Math.min(4, n);
            const [r, w] = [await i8.search(q, k), await g8.search(q, k)];
            expect([r.indices, r.scores]).toEqual([w.indices, w.scores]);
            i8.dispose();
            g8.dispose();
          }
        }
        for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
          const y = random(40, 9, 2).data;
          y[9 * 17 + 8] = bad;
          for (const rerank of [undefined, 0]) {
            const e = await failure(
              kit.corpus(new Tensor(Float32Array.from(y), 40, 9), { storage: 'int8', rerank }),
            );
            const g = await failure(
              gated.corpus(new Tensor(Float32Array.from(y), 40, 9), { storage: 'int8', rerank }),
            );
            expect([e.code, e.op, e.arg, e.message]).toEqual([g.code, g.op, g.arg, g.message]);
            expect(e.code).toBe('NON_FINITE');
          }
        }
        expect(b.memory()).toEqual(before);
        kit.dispose();
        gated.dispose();
      });

      it('corpus.add of float32 rows: copied within the call; the gated answers, errors and merges; no memory left', async () => {
        const kit = createCosineKit({ backend: b });
        const gatedBackend: Backend = { ...b, name: 'gated', ungated: [] };
        const gated = createCosineKit({ backend: gatedBackend });
        await Promise.all([kit.ready(), gated.ready()]);
        const before = b.memory();
        for (const d of [1, 7, 384]) {
          const first = random(5, d, d);
          const [c, g] = [
            await kit.corpus(new Tensor(Float32Array.from(first.data), 5, d)),
            await gated.corpus(new Tensor(Float32Array.from(first.data), 5, d)),
          ];
          // Rows of mixed magnitudes, several adds queued at once (so merged as they land), each
          // poisoned as soon as its call returns.
          const adds: Promise<void>[] = [];
          for (const [n, s] of [
            [1, 1],
            [9, 2 ** 100],
            [4, 2 ** -140],
            [30, 1],
          ] as const) {
            const y = scaled(random(n, d, n + d), (j) => (j % 2 === 0 ? s : 1));
            const data = Float32Array.from(y.data);
            adds.push(c.add(new Tensor(data, n, d)));
            data.fill(Number.NaN);
            adds.push(g.add(new Tensor(y.data, n, d)));
          }
          await Promise.all(adds);
          expect(c.rows).toBe(g.rows);
          const q = new Tensor(random(3, d, 3).data, 3, d);
          const [r, w] = [await c.search(q, 6), await g.search(q, 6)];
          expect([r.indices, r.scores]).toEqual([w.indices, w.scores]);
          expect((await c.similarity(q)).data).toEqual((await g.similarity(q)).data);
          // NaN or ±Infinity: the gate's error, naming the row; the corpus unchanged.
          for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
            const y = random(6, d, 4).data;
            y[d * 4] = bad;
            const e = await failure(c.add(new Tensor(Float32Array.from(y), 6, d)));
            const f = await failure(g.add(new Tensor(Float32Array.from(y), 6, d)));
            expect([e.code, e.op, e.arg, e.message]).toEqual([f.code, f.op, f.arg, f.message]);
            expect(e.code).toBe('NON_FINITE');
          }
          expect(c.rows).toBe(g.rows);
          c.dispose();
          g.dispose();
        }
        expect(b.memory()).toEqual(before);
        kit.dispose();
        gated.dispose();
      });

      it('corpusFrom, corpus.add and kit.corpus store the same bits at any magnitude (float32 and int8)', async () => {
        const kit = createCosineKit({ backend: b });
        await kit.ready();
        const before = b.memory();
        // Rows past both bounds of the gate's rescale, with components that come out subnormal once
        // normalised: rescaling first would round those twice.
        const d = 5;
        const n = 40;
        const y = random(n, d, 7).data.map((v, i) => {
          const r = Math.floor(i / d);
          const big = r % 3 === 0 ? 3e38 : r % 3 === 1 ? 2 ** -140 : 1;
          return i % d === 0 ? v * big : v * (r % 3 === 0 ? 1e-3 : big);
        });
        for (const storage of ['float32', 'int8'] as const) {
          const whole = await kit.corpus(new Tensor(Float32Array.from(y), n, d), { storage });
          const streamed = await kit.corpusFrom(
            (function* () {
              for (let i = 0; i < n; i += 7) {
                const e = Math.min(n, i + 7);
                yield new Tensor(y.slice(i * d, e * d), e - i, d);
              }
            })(),
            { storage, segmentBytes: 1 << 20 },
          );
          const added = await kit.corpus(new Tensor(y.slice(0, d), 1, d), { storage });
          await added.add(new Tensor(y.slice(d), n - 1, d));
          const bytes = await whole.save();
          expect(await streamed.save()).toEqual(bytes);
          const merged = await kit.loadCorpus(await added.save());
          const q = new Tensor(random(2, d, 8).data, 2, d);
          expect((await merged.search(q, 5)).scores).toEqual((await whole.search(q, 5)).scores);
          for (const c of [whole, streamed, added, merged]) c.dispose();
        }
        expect(b.memory()).toEqual(before);
        kit.dispose();
      });

      it('corpus.search and similarity hand the kernel the caller queries: the gated bits at every storage and magnitude, the gated errors, no memory left', async () => {
        const kit = createCosineKit({ backend: b });
        // The same backend with its corpus kernels gated: what the kit did before they were ungated.
        const gated = createCosineKit({
          backend: { ...b, ungated: b.ungated.filter((k) => k !== 'corpusSearch' && k !== 'corpusMatrix') },
        });
        await Promise.all([kit.ready(), gated.ready()]);
        const before = b.memory();
        for (const [q, n, d] of [
          [1, 1, 1],
          [3, 37, 5],
          [9, 130, 97],
          [40, 20, 384],
        ]) {
          const rows = random(n, d, n + 2 * d);
          for (const storage of ['float32', 'int8', 'float16'] as const) {
            for (const rerank of storage === 'float32' ? [0] : [0, 4]) {
              const c = await kit.corpus(new Tensor(rows.data, n, d), { storage, rerank });
              const g = await gated.corpus(new Tensor(rows.data, n, d), { storage, rerank });
              const k = Math.min(4, n);
              for (const s of [1, 3e38, 2 ** -100, 2 ** -140]) {
                const x = scaled(random(q, d, q + d), (i) => (i % 2 === 0 ? s : 1));
                const what = `${q}x${n}x${d}, ${storage}, rerank ${rerank}, queries at ${s}`;
                const t = await c.search(new Tensor(x.data, q, d), k);
                const u = await g.search(new Tensor(x.data, q, d), k);
                expect([t.indices, t.scores], what).toEqual([u.indices, u.scores]);
                const m = await c.similarity(new Tensor(x.data, q, d));
                const h = await g.similarity(new Tensor(x.data, q, d));
                expect(m.data, what).toEqual(h.data);
                if (storage === 'float32') {
                  expectMatrix(m.data, x, rows, what);
                  expectTopK(t, x, rows, what);
                }
              }
              const bad = Float32Array.from(random(q, d, 5).data);
              bad[bad.length - 1] = Number.NaN;
              for (const [e, f] of [
                [
                  await failure(c.search(new Tensor(bad, q, d), k)),
                  await failure(g.search(new Tensor(bad, q, d), k)),
                ],
                [
                  await failure(c.similarity(new Tensor(bad, q, d))),
                  await failure(g.similarity(new Tensor(bad, q, d))),
                ],
              ]) {
                expect([e.code, e.op, e.arg, e.message]).toEqual([f.code, f.op, f.arg, f.message]);
                expect([e.code, e.arg]).toEqual(['NON_FINITE', 'queries']);
              }
              c.dispose();
              g.dispose();
            }
          }
        }
        expect(b.memory()).toEqual(before);
        kit.dispose();
        gated.dispose();
      });

      it('through the kit: answers for the inputs at call time, and leaves wasm memory as it found it', async () => {
        const kit = createCosineKit({ backend: b });
        await kit.ready();
        const before = b.memory();
        const q = random(3, 33, 1);
        const c = random(40, 33, 2);
        const want = await kit.cosineMatrix(
          new Tensor(Float32Array.from(q.data), 3, 33),
          new Tensor(c.data, 40, 33),
        );
        const x = new Tensor(Float32Array.from(q.data), 3, 33);
        const y = new Tensor(Float32Array.from(c.data), 40, 33);
        const pm = kit.cosineMatrix(x, y);
        const pt = kit.topK(x, y, 4);
        x.data.fill(Number.NaN);
        y.data.fill(1);
        expect((await pm).data).toEqual(want.data);
        expectTopK(await pt, q, c, 'poisoned after the call');
        for (let i = 0; i < 50; i++) {
          await kit.cosineMatrix(new Tensor(q.data, 3, 33), new Tensor(c.data, 40, 33));
          await kit.topK(new Tensor(q.data, 3, 33), new Tensor(c.data, 40, 33), 3);
        }
        expect(b.memory()).toEqual(before);
        kit.dispose();
      });
    });
  }
}
