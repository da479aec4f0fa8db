import type { Matrix } from '@cosinekit/core/backend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWasmBackend, type WasmBackend } from '../src/index.js';
import { threadsUnavailable } from '../src/threads.js';
import { backend, expectClose, random, ref } from './helpers.js';

// Where helper threads cannot run (a browser page that is not cross-origin isolated), the backend
// runs on one thread and says why; the results must be the same either way.
const why = threadsUnavailable();
// Helpers copy their chunks into a shared result only where they can read a port synchronously.
const helpersCopy =
  typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === 'string';

for (const variant of ['simd', 'relaxed'] as const) {
  describe(`threads: 2 (${variant})`, () => {
    let b: WasmBackend;
    beforeAll(async () => {
      b = await backend({ variant, threads: 2 });
    });
    afterAll(() => b.dispose());

    it('reports the threads that run', () => {
      const info = b.describe();
      if (why === undefined) {
        expect(info.threads).toBe(2);
        expect(info.threadsRequested).toBeUndefined();
      } else {
        expect(info.threads).toBe(1);
        expect(info.threadsRequested).toBe(2);
        expect(info.threadsNote).toBe(why);
      }
    });

    it('shares large products and searches without changing results', () => {
      // 5003 corpus rows: the shares end on panel boundaries and the last panel is partial.
      for (const [m, n, d] of [
        [37, 5003, 200],
        [1, 20011, 67],
        [256, 1001, 64],
        // More query rows than one staged block of output holds (4 Mi floats / 20011 = 208 rows):
        // blocks computed and copied out in turns, the last one partial.
        [450, 20011, 9],
      ]) {
        const q = random(m, d, m + d);
        const x = random(n, d, n + d);
        const want = ref.cosineMatrix(q, x);
        expectClose(b.kernels.cosineMatrix(q, x), want, 1e-6);
        const c = b.kernels.createCorpus(x);
        expectClose(b.kernels.corpusMatrix(c, q), want, 1e-6);
        const got = b.kernels.corpusSearch(c, q, 7);
        const best = ref.topK(q, x, 7);
        expect([...got.indices]).toEqual([...best.indices]);
        c.dispose();
        const c8 = b.kernels.createCorpus(x, { storage: 'int8', rerank: 8 });
        const g8 = b.kernels.corpusSearch(c8, q.rows > 4 ? random(4, d, 9) : q, 7);
        expect(g8.indices.length).toBe(Math.min(4, m) * 7);
        c8.dispose();
        const q8 = b.kernels.createCorpus(x, { storage: 'int8', rerank: 0 });
        expectClose(b.kernels.corpusMatrix(q8, q), want, 2e-2);
        q8.dispose();
      }
      const mm = [random(300, 500, 1), random(500, 400, 2)] as const;
      expectClose(b.kernels.matmul(mm[0], mm[1], false, false), ref.matmul(mm[0], mm[1], false, false), 1e-4);
      expect(b.memory()).toEqual({ residentHandles: 0, bytes: 0 });
    });
  });
}

/** The raw bits of a float array, so NaN, -0 and the last ulp all count. */
function bits(x: Float32Array): Uint32Array {
  return new Uint32Array(x.buffer, x.byteOffset, x.length);
}

function expectSame(got: Float32Array, want: Float32Array, what = ''): void {
  expect(got.length, what).toBe(want.length);
  const g = bits(got);
  const w = bits(want);
  let diff = -1;
  for (let i = 0; i < g.length && diff < 0; i++) if (g[i] !== w[i]) diff = i;
  expect(diff, diff < 0 ? '' : `${what}: first difference at ${diff}: ${got[diff]} vs ${want[diff]}`).toBe(
    -1,
  );
}

describe('helpers that do not start within tuning.helperStartMs', () => {
  it('leave the backend on one thread, saying why, with the same answers (a probe: a stalled helper script held init() for good)', async () => {
    const b = await backend({ variant: 'simd', threads: 2, tuning: { helperStartMs: 0 } });
    const info = b.describe();
    expect(info.threads).toBe(1);
    expect(info.threadsRequested).toBe(2);
    expect(info.threadsNote).toEqual(
      why ?? expect.stringMatching(/did not start within 0 ms \(tuning.helperStartMs\)/),
    );
    const q = random(3, 67, 1);
    const x = random(2001, 67, 2);
    expectClose(b.kernels.cosineMatrix(q, x), ref.cosineMatrix(q, x), 1e-5);
    b.dispose();
    await expect(createWasmBackend({ tuning: { helperStartMs: -1 } }).init()).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      arg: 'tuning.helperStartMs',
    });
  });
});

describe('default threads', () => {
  it('uses every core where helpers can run, else one thread with the reason', async () => {
    const b = await backend({ variant: 'simd' });
    const info = b.describe();
    if (why === undefined) {
      const cores = await coreCount();
      expect(info.threads).toBe(cores);
      expect(info.threadsNote).toBeUndefined();
    } else {
      expect(info.threads).toBe(1);
      expect(info.threadsNote).toBe(why);
    }
    expect(info.threadsRequested).toBeUndefined();
    b.dispose();
  });
});

async function coreCount(): Promise<number> {
  const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
  if (typeof (globalThis as { process?: unknown }).process === 'object') {
    const name = 'node:os';
    const os = (await import(/* @vite-ignore */ name)) as { availableParallelism(): number };
    return os.availableParallelism();
  }
  return nav?.hardwareConcurrency ?? 1;
}

// Shares are whole corpus panels (and, for int8, groups of whole rows): every output is the same
// micro-kernel call over the same chunks in the same order whichever thread runs it.
for (const variant of ['simd', 'relaxed'] as const) {
  describe(`threads: 2 gives bit for bit the results of threads: 1 (${variant})`, () => {
    let one: WasmBackend;
    let two: WasmBackend;
    beforeAll(async () => {
      one = await backend({ variant, threads: 1 });
      two = await backend({ variant, threads: 2 });
    });
    afterAll(() => {
      one.dispose();
      two.dispose();
    });

    // All above the threshold (tuning.threadMinFlops): 2 x m x n x d >= 2 MFLOP.
    const shapes: [number, number, number][] = [
      [37, 5003, 200],
      [1, 30011, 384],
      [5, 20011, 67],
      [450, 20011, 9],
      // Long rows (no multiple of the tile anywhere), and odd sizes over several staged blocks
      // (4 Mi floats / 4099 = 1023 rows a block), each copied out by the threads that computed it.
      [13, 4099, 3072],
      [2051, 4099, 3],
    ];

    it('cosineMatrix and corpusMatrix: each float64-exact, into a new result or a given one', () => {
      for (const [m, n, d] of [
        [211, 9001, 131],
        [2051, 4099, 3],
        [1, 40009, 1],
      ]) {
        const q = random(m, d, m + 5 * d);
        const x = random(n, d, n + 3 * d);
        const what = `${m} x ${n} x ${d}`;
        const want = ref.cosineMatrix(q, x);
        const got = two.kernels.cosineMatrix(q, x);
        expectClose(got, want, 1e-6);
        expectSame(got, one.kernels.cosineMatrix(q, x), `cosineMatrix ${what}`);
        // A given array, ordinary or shared, gets the same bits.
        const given: Float32Array[] = [new Float32Array(m * n)];
        if (typeof SharedArrayBuffer === 'function') {
          given.push(new Float32Array(new SharedArrayBuffer(m * n * 4)) as unknown as Float32Array);
        }
        for (const out of given) {
          // Whatever it held is overwritten, every value (NaN would show through).
          out.fill(Number.NaN);
          expect(two.kernels.cosineMatrix(q, x, out)).toBe(out);
          expectSame(out, got, `cosineMatrix into ${out.buffer.constructor.name} ${what}`);
        }
        const c = two.kernels.createCorpus(x);
        expectSame(two.kernels.corpusMatrix(c, q), got, `corpusMatrix ${what}`);
        c.dispose();
      }
      expect(two.memory()).toEqual({ residentHandles: 0, bytes: 0 });
    });

    it('cosineMatrix, topK, corpusMatrix and corpusSearch (float32)', () => {
      for (const [m, n, d] of shapes) {
        const q = random(m, d, m + 7 * d);
        const x = random(n, d, n + d);
        const what = `${m} x ${n} x ${d}`;
        expectSame(two.kernels.cosineMatrix(q, x), one.kernels.cosineMatrix(q, x), `cosineMatrix ${what}`);
        const t1 = one.kernels.topK(q, x, 9);
        const t2 = two.kernels.topK(q, x, 9);
        expect([...t2.indices]).toEqual([...t1.indices]);
        expectSame(t2.scores, t1.scores, `topK ${what}`);
        const c1 = one.kernels.createCorpus(x);
        const c2 = two.kernels.createCorpus(x);
        expectSame(two.kernels.corpusMatrix(c2, q), one.kernels.corpusMatrix(c1, q), `corpusMatrix ${what}`);
        const s1 = one.kernels.corpusSearch(c1, q, 9);
        const s2 = two.kernels.corpusSearch(c2, q, 9);
        expect([...s2.indices]).toEqual([...s1.indices]);
        expectSame(s2.scores, s1.scores, `corpusSearch ${what}`);
        c1.dispose();
        c2.dispose();
      }
    });

    it('corpusSearch and corpusMatrix on int8 corpora, with and without re-ranking', () => {
      for (const [m, n, d] of shapes) {
        const q = random(Math.min(m, 4), d, m + 3 * d);
        const x = random(n, d, n + 2 * d);
        for (const rerank of [0, 4]) {
          const c1 = one.kernels.createCorpus(x, { storage: 'int8', rerank });
          const c2 = two.kernels.createCorpus(x, { storage: 'int8', rerank });
          const s1 = one.kernels.corpusSearch(c1, q, 10);
          const s2 = two.kernels.corpusSearch(c2, q, 10);
          expect([...s2.indices]).toEqual([...s1.indices]);
          expectSame(s2.scores, s1.scores);
          expectSame(two.kernels.corpusMatrix(c2, q), one.kernels.corpusMatrix(c1, q));
          c1.dispose();
          c2.dispose();
        }
      }
    });

    it('matmul, either operand transposed', () => {
      const a: Matrix = random(300, 500, 1);
      const b: Matrix = random(500, 400, 2);
      const at: Matrix = random(500, 300, 3);
      const bt: Matrix = random(400, 500, 4);
      expectSame(two.kernels.matmul(a, b, false, false), one.kernels.matmul(a, b, false, false));
      expectSame(two.kernels.matmul(a, bt, false, true), one.kernels.matmul(a, bt, false, true));
      expectSame(two.kernels.matmul(at, b, true, false), one.kernels.matmul(at, b, true, false));
      expectSame(two.kernels.matmul(at, bt, true, true), one.kernels.matmul(at, bt, true, true));
      expect(two.memory()).toEqual({ residentHandles: 0, bytes: 0 });
    });

    it("matmul's sparse path (A 90% zeros, either transposed): its rows shared, the same bits", () => {
      for (const [x, ta] of [
        [random(300, 500, 5), false],
        [random(500, 300, 6), true],
      ] as const) {
        for (let i = 0; i < x.data.length; i++) if (i % 10 !== 0) x.data[i] = 0;
        const b = random(500, 401, 7);
        expectSame(two.kernels.matmul(x, b, ta, false), one.kernels.matmul(x, b, ta, false));
      }
      expect(two.memory()).toEqual({ residentHandles: 0, bytes: 0 });
    });
  });
}

// A product of fewer query rows than four blocks of 64 is cut into blocks of corpus columns, the
// calling thread copying out one block while the helpers compute the next (src/engine.ts,
// productStaged). With no threshold every product is shared and cut, down to blocks of one panel;
// results kept ordinary so that path runs in Node too.
for (const variant of ['simd', 'relaxed'] as const) {
  describe(`threads: 2, products of few query rows in blocks of corpus columns (${variant})`, () => {
    let one: WasmBackend;
    let two: WasmBackend;
    beforeAll(async () => {
      one = await backend({ variant, threads: 1 });
      two = await backend({
        variant,
        threads: 2,
        tuning: { threadMinFlops: 0, sharedResultBytes: Infinity },
      });
    });
    afterAll(() => {
      one.dispose();
      two.dispose();
    });

    it('cosineMatrix, corpusMatrix and matmul: float64-exact and the bits of one thread, Q = 1..9', () => {
      for (const d of [1, 3, 5, 97]) {
        for (const n of [1, 2, 7, 13, 1001]) {
          const x = random(n, d, n + 11 * d);
          const c1 = one.kernels.createCorpus(x);
          const c2 = two.kernels.createCorpus(x);
          for (let m = 1; m <= 9; m++) {
            const q = random(m, d, m + 13 * d + n);
            const what = `${m} x ${n} x ${d}`;
            const want = ref.cosineMatrix(q, x);
            const got = two.kernels.cosineMatrix(q, x);
            expectClose(got, want, 1e-6);
            expectSame(got, one.kernels.cosineMatrix(q, x), `cosineMatrix ${what}`);
            const out = new Float32Array(m * n).fill(Number.NaN);
            expect(two.kernels.corpusMatrix(c2, q, out)).toBe(out);
            expectSame(out, one.kernels.corpusMatrix(c1, q), `corpusMatrix ${what}`);
            const xt: Matrix = { data: x.data, rows: d, cols: n };
            const mm = two.kernels.matmul(q, xt, false, false);
            expectClose(mm, ref.matmul(q, xt, false, false), 1e-4 * Math.sqrt(d));
            expectSame(mm, one.kernels.matmul(q, xt, false, false), `matmul ${what}`);
          }
          c1.dispose();
          c2.dispose();
        }
      }
      expect(two.memory()).toEqual({ residentHandles: 0, bytes: 0 });
    });
  });
}

// A product whose corpus has more rows than 64 query rows' block of output holds (4 Mi floats) is
// cut into bands of query rows x blocks of corpus rows (src/engine.ts, blockShape), in a result
// written by every thread (SharedArrayBuffer) or copied out by the calling thread.
for (const variant of ['simd', 'relaxed'] as const) {
  describe(`threads: 2, products in blocks of query rows x corpus rows (${variant})`, () => {
    let one: WasmBackend;
    let shared: WasmBackend;
    let staged: WasmBackend;
    beforeAll(async () => {
      one = await backend({ variant, threads: 1 });
      shared = await backend({ variant, threads: 2, tuning: { threadMinFlops: 0, sharedResultBytes: 0 } });
      staged = await backend({
        variant,
        threads: 2,
        tuning: { threadMinFlops: 0, sharedResultBytes: Infinity },
      });
    });
    afterAll(() => {
      one.dispose();
      shared.dispose();
      staged.dispose();
    });

    it('cosineMatrix and corpusMatrix: float64-exact and the bits of one thread', () => {
      for (const [m, n, d] of [
        [9, 350003, 1],
        [70, 70001, 5],
      ]) {
        const q = random(m, d, m + 17 * d);
        const x = random(n, d, n + 19 * d);
        const what = `${m} x ${n} x ${d}`;
        const want = ref.cosineMatrix(q, x);
        const base = one.kernels.cosineMatrix(q, x);
        expectClose(base, want, 1e-6);
        for (const b of [shared, staged]) {
          const got = b.kernels.cosineMatrix(q, x);
          expectSame(got, base, `cosineMatrix ${what}`);
          const c = b.kernels.createCorpus(x);
          expectSame(b.kernels.corpusMatrix(c, q), base, `corpusMatrix ${what}`);
          c.dispose();
        }
        if (why === undefined) {
          // Every thread writes the result where helpers can copy into it (Node); in a browser
          // the helpers cannot read a destination from their port, so the caller copies out.
          const buffer = shared.kernels.cosineMatrix(q, x).buffer;
          expect(buffer instanceof SharedArrayBuffer).toBe(helpersCopy);
        }
      }
      expect(shared.memory()).toEqual({ residentHandles: 0, bytes: 0 });
      expect(staged.memory()).toEqual({ residentHandles: 0, bytes: 0 });
    });
  });
}
