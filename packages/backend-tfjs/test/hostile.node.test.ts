/**
 * Hostile values through the kit on tfjs's Node engines (cpu and wasm): subnormal and near-overflow
 * magnitudes, -0 and zero vectors, norms past float32, and a backend disposed under a corpus. Every
 * cosine is checked against float64 and must lie in [-1, 1].
 */
import { type CosineKitError, createCosineKit, Tensor } from '@cosinekit/core';
import { describe, expect, it } from 'vitest';
import { createTfjsBackend } from '../src/index.js';

/** Float64 cosine of float32 rows; 0 when either is a zero vector (the documented result). */
function cos64(a: readonly number[], b: readonly number[]): number {
  const x = a.map(Math.fround);
  const y = b.map(Math.fround);
  let dot = 0;
  let xx = 0;
  let yy = 0;
  for (let i = 0; i < x.length; i++) {
    dot += x[i] * y[i];
    xx += x[i] * x[i];
    yy += y[i] * y[i];
  }
  return xx === 0 || yy === 0 ? 0 : Math.max(-1, Math.min(1, dot / Math.sqrt(xx * yy)));
}

const A = [
  [1e-40, 2e-40, 0, 1e-45],
  [3e38, -3e38, 3e38, 1],
  [0, 0, 0, 0],
  [-0, -0, -0, -0],
  [1, 2, 3, 4],
  [3e-39, -1e-38, 2e-39, 0],
];
const B = [
  [1e-40, 2e-40, 1e-45, 0],
  [3e38, 3e38, 3e38, -3e38],
  [1, 2, 3, 4],
  [1, 2, 3, 4],
  [-0, 0, -0, 0],
  [1e38, -3e38, 1, 0],
];

describe.each(['cpu', 'wasm'] as const)('tfjs-%s: hostile magnitudes through the kit', (engine) => {
  it('cosineRows, cosineMatrix, topK and a corpus search stay within 1e-5 of float64, in [-1, 1]', async () => {
    const kit = createCosineKit({ backend: createTfjsBackend({ engine }) });
    const rows = await kit.cosineRows(A, B);
    const m = await kit.cosineMatrix(A, B);
    for (let i = 0; i < A.length; i++) {
      expect(Math.abs(rows[i] - cos64(A[i], B[i])), `row ${i}`).toBeLessThanOrEqual(1e-5);
      for (let j = 0; j < B.length; j++) {
        const c = m.data[i * B.length + j];
        expect(Math.abs(c - cos64(A[i], B[j])), `${i}, ${j}`).toBeLessThanOrEqual(1e-5);
        expect(c >= -1 && c <= 1).toBe(true);
      }
    }
    // Zero vectors answer +0 or -0, never NaN.
    expect(rows[2]).toBe(0);
    expect(rows[3]).toBe(0);
    const c = await kit.corpus(B);
    const r = await c.search(A, B.length);
    const t = await kit.topK(A, B, B.length);
    for (const res of [r, t]) {
      for (let i = 0; i < A.length; i++) {
        for (let s = 0; s < B.length; s++) {
          const j = res.indices[i * B.length + s];
          expect(Math.abs(res.scores[i * B.length + s] - cos64(A[i], B[j]))).toBeLessThanOrEqual(1e-5);
        }
      }
    }
    kit.dispose();
  });

  it('rowNorms refuses a norm past float32 by row, and a corpus of a disposed backend says so', async () => {
    const backend = createTfjsBackend({ engine });
    const kit = createCosineKit({ backend });
    const e = (await kit.rowNorms(A).catch((x) => x)) as CosineKitError;
    expect(e).toMatchObject({ code: 'INVALID_ARGUMENT', op: 'rowNorms', arg: 'x' });
    expect(e.message).toContain('row 1');
    const ok = await kit.rowNorms([A[0], A[4], A[5]]);
    for (const [i, row] of [A[0], A[4], A[5]].entries()) {
      const want = Math.hypot(...row.map(Math.fround));
      expect(Math.abs(ok[i] - want), `row ${i}`).toBeLessThanOrEqual(Math.max(want * 1e-6, 2 ** -149));
    }
    const c = await kit.corpus(B);
    backend.dispose();
    const gone = (await c.search([A[4]], 1).catch((x) => x)) as CosineKitError;
    expect(gone).toMatchObject({ code: 'DISPOSED', op: 'search', arg: 'corpus' });
  });
});

// tfjs's wasm heap holds 4 GiB at most; past it the engine aborted (RuntimeError: Aborted()) and
// every later call of every tfjs-wasm backend failed (a limits probe grew a corpus by 1 GiB adds).
// A corpus that cannot fit is refused before anything reaches the engine; the shape alone decides,
// so the matrix here declares rows its data does not hold (the kit never passes such a one).
describe.each(['cpu', 'wasm'] as const)(
  'tfjs-%s: the kernel table answers for its inputs as they were at the call',
  (engine) => {
    it('arrays reused right after the call change nothing; a NaN written after it is not the backend failing', async () => {
      // The kernels ran after init and the engines' lock, reading the caller's arrays then (a probe).
      const kit = createCosineKit({ backend: createTfjsBackend({ engine }) });
      const k = await kit.kernels();
      const eye = () => ({ data: Float32Array.of(1, 0, 0, 1), rows: 2, cols: 2 });
      const a = eye();
      const b = eye();
      const m = k.cosineMatrix(a, b);
      a.data.set([0, 1, 1, 0]);
      const p = k.matmul(b, b, false, false);
      b.data.set([2, 2, 2, 2]);
      const x = eye();
      const bias = Float32Array.of(1, 2);
      const q = k.addBias(x, bias);
      bias.fill(Number.NaN);
      x.data.fill(Number.NaN);
      const c = eye();
      const corpus = k.createCorpus(c);
      c.data.set([0, 1, 1, 0]);
      expect(Array.from(await m)).toEqual([1, 0, 0, 1]);
      expect(Array.from(await p)).toEqual([1, 0, 0, 1]);
      expect(Array.from(await q)).toEqual([2, 2, 1, 3]);
      const h = await corpus;
      expect(Array.from((await k.corpusSearch(h, eye(), 1)).indices)).toEqual([0, 1]);
      h.dispose();
      kit.dispose();
    });
  },
);

// The kit's own copies of a call's rows are not copied again (isAdmitted): a copy the kit reuses
// for a later call only after the kernel settled. Calls queued at once, on inputs the kit pools
// (small) and on large ones it keeps a spare for, the caller's arrays rewritten after each call,
// still answer each for its own rows as they were.
describe.each(['cpu', 'wasm'] as const)('tfjs-%s: calls queued at once on the kit’s own copies', (engine) => {
  it('each answers for its own rows, within 1e-6 of the reference', async () => {
    const kit = createCosineKit({ backend: createTfjsBackend({ engine }) });
    const ref = createCosineKit({ backend: 'reference' });
    const seeded = (n: number, d: number, seed: number) => {
      const out = new Float32Array(n * d);
      let s = seed;
      for (let i = 0; i < out.length; i++) {
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
        out[i] = s / 2 ** 31 - 1;
      }
      return out;
    };
    const calls: [Promise<Float32Array>, Float32Array][] = [];
    const x = seeded(7, 33, 99);
    const corpus = await kit.corpus(new Tensor(x, 7, 33));
    for (let i = 0; i < 12; i++) {
      // Every third call has 40,000 rows (past the pooled sizes), the others 3.
      const n = i % 3 === 0 ? 40_000 : 3;
      const q = seeded(n, 33, i + 1);
      const want = (await ref.cosineMatrix(new Tensor(q, n, 33), new Tensor(x, 7, 33))).data;
      const got =
        i % 2 === 0
          ? kit.cosineMatrix(new Tensor(q, n, 33), new Tensor(x, 7, 33)).then((t) => t.data)
          : corpus.similarity(new Tensor(q, n, 33)).then((t) => t.data);
      q.fill(Number.NaN);
      calls.push([got, want]);
    }
    for (const [got, want] of calls) {
      const g = await got;
      expect(g.length).toBe(want.length);
      let worst = 0;
      for (let j = 0; j < g.length; j++) worst = Math.max(worst, Math.abs(g[j] - want[j]));
      expect(worst).toBeLessThanOrEqual(1e-6);
    }
    corpus.dispose();
    kit.dispose();
  });
});

describe.each(['cpu', 'wasm'] as const)('tfjs-%s: disposed while it starts', (engine) => {
  it('init() and kit.ready() reject DISPOSED naming the backend (they resolved)', async () => {
    const backend = createTfjsBackend({ engine });
    const started = backend.init().then(
      () => undefined,
      (e: unknown) => e,
    );
    backend.dispose();
    expect(await started).toMatchObject({ code: 'DISPOSED', op: 'init', arg: 'backend' });
    const other = createTfjsBackend({ engine });
    const kit = createCosineKit({ backend: other });
    const ready = kit.ready().then(
      () => undefined,
      (e: unknown) => e,
    );
    other.dispose();
    expect(await ready).toMatchObject({ code: 'DISPOSED' });
  });
});

describe('tfjs-wasm: a corpus past the 4 GiB heap', () => {
  it('is OUT_OF_MEMORY naming its rows, before the engine sees it, and the engine still runs', async () => {
    const b = createTfjsBackend({ engine: 'wasm' });
    await b.init();
    const huge = { data: new Float32Array(4), rows: 2 ** 20, cols: 2 ** 10 };
    for (const make of [
      () => b.kernels.createCorpus(huge),
      () =>
        b.kernels.importCorpus!({
          ...huge,
          storage: 'float32',
          rerank: 0,
          exact: huge.data,
          half: null,
          codes: null,
          scales: null,
        }),
    ]) {
      const e = (await Promise.resolve()
        .then(make)
        .then(
          () => undefined,
          (x: unknown) => x,
        )) as CosineKitError;
      expect(e).toMatchObject({ name: 'CosineKitError', code: 'OUT_OF_MEMORY' });
      expect(e.message).toMatch(/4 GiB/);
    }
    const kit = createCosineKit({ backend: b });
    const c = await kit.corpus([
      [1, 0],
      [0, 1],
    ]);
    expect((await c.search([1, 0.1], 1)).indices[0]).toBe(0);
    kit.dispose();
    b.dispose();
  });
});
