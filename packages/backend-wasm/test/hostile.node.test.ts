/**
 * Hostile inputs on this round's new paths, through the public API where there is one: the
 * ungated `cosineRows` (kit and kernel), results written over a SharedArrayBuffer by every thread,
 * the stream tiles of one and two query rows, and the sparse matmul. Every answer is checked
 * against float64, and against the gated path or the one-thread run where one exists.
 * Node only: SharedArrayBuffer views and helper threads that copy out.
 */
import { type CosineKitError, createCosineKit, Tensor, type TensorInput } from '@cosinekit/core';
import type { Matrix } from '@cosinekit/core/backend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WasmBackend } from '../src/index.js';
import { backend, random } from './helpers.js';

/** Float64 cosine of two runs of `d` floats; 0 when either is a zero vector (the documented result). */
function cos64(a: ArrayLike<number>, ai: number, b: ArrayLike<number>, bi: number, d: number): number {
  let dot = 0;
  let x = 0;
  let y = 0;
  for (let p = 0; p < d; p++) {
    dot += a[ai + p] * b[bi + p];
    x += a[ai + p] * a[ai + p];
    y += b[bi + p] * b[bi + p];
  }
  return x === 0 || y === 0 ? 0 : Math.max(-1, Math.min(1, dot / Math.sqrt(x * y)));
}

/** pairCosine's bound against float64 (1.5e-6) plus the float32 rounding of the answer. */
const TOL = 1.6e-6;

function rows(m: Matrix): number[][] {
  return Array.from({ length: m.rows }, (_, i) => Array.from(m.data.subarray(i * m.cols, (i + 1) * m.cols)));
}

function sameBits(a: Int32Array | Float32Array, b: Int32Array | Float32Array): boolean {
  if (a.length !== b.length) return false;
  const u = new Int32Array(a.buffer, a.byteOffset, a.length);
  const v = new Int32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < u.length; i++) if (u[i] !== v[i]) return false;
  return true;
}

describe('ungated cosineRows through the kit, on hostile values and views', () => {
  let b: WasmBackend;
  beforeAll(async () => {
    b = await backend({ threads: 1 });
  });
  afterAll(() => b.dispose());

  it('matches float64 and the gated path (zero vectors +0, -0, subnormal, 3e38 at first/middle/last)', async () => {
    const kit = createCosineKit({ backend: b });
    const gated = createCosineKit({ backend: { name: 'gated', kernels: {} } });
    const specials = [0, -0, 1e-45, -1e-45, 1.17e-38, 3e38, -3e38];
    for (const d of [1, 2, 3, 5, 7, 9]) {
      const x = random(4, d, d * 3 + 1);
      const y = random(4, d, d * 5 + 2);
      for (const v of specials) {
        for (const at of new Set([0, d >> 1, d - 1])) {
          const a = { ...x, data: x.data.slice() };
          const c = { ...y, data: y.data.slice() };
          a.data[at] = v; // row 0
          c.data[d + at] = v; // row 1
          a.data.fill(v, 2 * d, 3 * d); // row 2: all v (a zero vector for ±0)
          c.data.fill(0, 3 * d, 4 * d); // row 3 of b: a zero vector
          for (const [p, q] of [
            [new Tensor(a.data, 4, d), new Tensor(c.data, 4, d)],
            [rows(a), rows(c)],
          ] as [TensorInput, TensorInput][]) {
            const got = await kit.cosineRows(p, q);
            const want = await gated.cosineRows(p, q);
            for (let i = 0; i < 4; i++) {
              const e = cos64(a.data, i * d, c.data, i * d, d);
              const what = `d=${d}, ${v} at ${at}, row ${i}: ${got[i]} vs ${e}`;
              expect(Math.abs(got[i] - e), what).toBeLessThanOrEqual(TOL);
              expect(Math.abs(got[i] - want[i]), what).toBeLessThanOrEqual(TOL);
              // A zero vector gives +0 on both paths, never -0 or NaN.
              if (e === 0 && (i === 3 || (i === 2 && v === 0))) expect(Object.is(got[i], 0), what).toBe(true);
            }
          }
        }
      }
    }
  });

  it('reads views at a byte offset, SharedArrayBuffer-backed views, and aliased or overlapping inputs', async () => {
    const kit = createCosineKit({ backend: b });
    for (const d of [1, 3, 5, 8, 1023]) {
      const r = 3;
      const src = random(1, (r + 2) * d + 8, d).data;
      for (const shared of [false, true]) {
        const buf = shared
          ? new Float32Array(new SharedArrayBuffer(src.byteLength))
          : new Float32Array(src.length);
        buf.set(src);
        // Overlapping: b starts one float (and one row plus one float) after a.
        for (const shift of [0, 1, d + 1]) {
          const a = buf.subarray(1, 1 + r * d);
          const c = buf.subarray(1 + shift, 1 + shift + r * d);
          const got = await kit.cosineRows(new Tensor(a, r, d), new Tensor(c, r, d));
          for (let i = 0; i < r; i++) {
            const e = cos64(buf, 1 + i * d, buf, 1 + shift + i * d, d);
            expect(Math.abs(got[i] - e), `d=${d}, shared ${shared}, shift ${shift}`).toBeLessThanOrEqual(TOL);
          }
          // Nothing written into the caller's memory.
          expect(sameBits(buf.subarray(0, src.length), src)).toBe(true);
        }
        const t = new Tensor(buf.subarray(2, 2 + d), 1, d);
        expect(Array.from(await kit.cosineRows(t, t))).toEqual([1]);
      }
    }
  });

  it('refuses detached rows and disposed tensors by name, and keeps answering', async () => {
    const kit = createCosineKit({ backend: b });
    const gone = new Float32Array([1, 2, 3]);
    structuredClone(gone.buffer, { transfer: [gone.buffer] });
    for (const [a, arg] of [
      [[gone], 'a[0]'],
      [[[1, 2, 3], gone], 'a[1]'],
      [gone, 'a'],
    ] as const) {
      const e = (await kit
        .cosineRows(a as TensorInput, [[1, 2, 3]])
        .catch((x: unknown) => x)) as CosineKitError;
      expect([e.name, e.code, e.arg]).toEqual(['CosineKitError', 'DISPOSED', arg]);
    }
    const t = new Tensor(new Float32Array([1, 2, 3]), 1, 3);
    t.dispose();
    const e = (await kit.cosineRows([[1, 2, 3]], t).catch((x: unknown) => x)) as CosineKitError;
    expect([e.code, e.arg]).toEqual(['DISPOSED', 'b']);
    expect(Array.from(await kit.cosineRows([[3, 4]], [[4, 3]]))).toEqual([Math.fround(24 / 25)]);
  });
});

describe('threaded results over a SharedArrayBuffer, with calls in flight', () => {
  let two: WasmBackend;
  beforeAll(async () => {
    two = await backend({ threads: 2, tuning: { sharedResultBytes: 0, threadMinFlops: 0 } });
  });
  afterAll(() => two.dispose());

  it('many cosineRows promises while a threaded cosineMatrix runs: every answer against float64', async () => {
    const kit = createCosineKit({ backend: two });
    const m = 90;
    const n = 1037;
    const d = 67;
    const A = random(m, d, 1);
    const B = random(n, d, 2);
    const product = kit.cosineMatrix(new Tensor(A.data, m, d), new Tensor(B.data, n, d));
    const calls: [Promise<Float32Array>, Matrix, Matrix][] = [];
    for (let t = 0; t < 120; t++) {
      const dd = [1, 2, 3, 5, 67, 4099][t % 6];
      const r = [1, 2, 17][t % 3];
      const a = random(r, dd, 3 * t + 1);
      const c = t % 5 === 0 ? a : random(r, dd, 3 * t + 2);
      if (t % 7 === 0) a.data[0] = 3e38;
      if (t % 11 === 0) a.data.fill(0, 0, dd);
      calls.push([kit.cosineRows(new Tensor(a.data, r, dd), new Tensor(c.data, r, dd)), a, c]);
    }
    const M = (await product).data;
    expect(M.length).toBe(m * n);
    let worst = 0;
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++)
        worst = Math.max(worst, Math.abs(M[i * n + j] - cos64(A.data, i * d, B.data, j * d, d)));
    expect(worst).toBeLessThanOrEqual(2e-6);
    for (const [p, a, c] of calls) {
      const got = await p;
      for (let i = 0; i < a.rows; i++) {
        const e = cos64(a.data, i * a.cols, c.data, i * a.cols, a.cols);
        expect(Math.abs(got[i] - e), `${a.rows} x ${a.cols}, row ${i}`).toBeLessThanOrEqual(TOL);
      }
    }
    expect(two.memory()).toEqual({ residentHandles: 0, bytes: 0 });
  });

  it("a caller's SharedArrayBuffer out at a byte offset: filled right, nothing written around it", () => {
    for (const [m, k, n] of [
      [1, 1, 1],
      [3, 5, 7],
      [70, 33, 1025],
    ]) {
      const a = random(m, k, m);
      const bm = random(n, k, n);
      const whole = new Float32Array(new SharedArrayBuffer((m * n + 8) * 4)).fill(777);
      const out = whole.subarray(3, 3 + m * n);
      expect(two.kernels.matmul(a, bm, false, true, out)).toBe(out);
      let worst = 0;
      for (let i = 0; i < m; i++)
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let p = 0; p < k; p++) s += a.data[i * k + p] * bm.data[j * k + p];
          worst = Math.max(worst, Math.abs(out[i * n + j] - s));
        }
      expect(worst, `${m} x ${k} x ${n}`).toBeLessThanOrEqual(1e-5 * Math.sqrt(k));
      expect([whole[0], whole[1], whole[2], ...whole.subarray(3 + m * n)]).toEqual(new Array(8).fill(777));
    }
  });
});

/**
 * For the describe block that calls it: a one-thread backend, and a two-thread one that shares
 * every call (no work threshold), both started before its tests and disposed after them.
 */
function oneAndTwoThreads(): { one: WasmBackend; two: WasmBackend } {
  const t = {} as { one: WasmBackend; two: WasmBackend };
  beforeAll(async () => {
    t.one = await backend({ threads: 1 });
    t.two = await backend({ threads: 2, tuning: { threadMinFlops: 0 } });
  });
  afterAll(() => {
    t.one.dispose();
    t.two.dispose();
  });
  return t;
}

describe('stream tiles: duplicate rows (ties) around tile and block sizes, 1 vs 2 threads', () => {
  const t = oneAndTwoThreads();

  it('ranks equal scores by index, within 2e-6 of float64, with the same bits on two threads', () => {
    for (const d of [1, 3, 5, 33]) {
      for (const n of [1, 63, 64, 65, 257, 1023, 1025, 4095, 4097, 9001]) {
        // Three distinct rows repeated: every score is one of three values.
        const base = random(3, d, d * 7 + n).data;
        const x = new Float32Array(n * d);
        for (let i = 0; i < n; i++) x.set(base.subarray((i % 3) * d, ((i % 3) + 1) * d), i * d);
        const X = { data: x, rows: n, cols: d };
        const c1 = t.one.kernels.createCorpus(X);
        const c2 = t.two.kernels.createCorpus(X);
        for (const m of [1, 2]) {
          const q = random(m, d, n + m);
          for (const k of new Set([1, 5, 64, n].filter((k) => k <= n))) {
            const what = `d=${d}, n=${n}, ${m} queries, k=${k}`;
            const s1 = t.one.kernels.corpusSearch(c1, q, k);
            const s2 = t.two.kernels.corpusSearch(c2, q, k);
            expect(sameBits(s1.indices, s2.indices) && sameBits(s1.scores, s2.scores), what).toBe(true);
            for (let r = 0; r < m; r++) {
              const want = Array.from({ length: n }, (_, j) => [cos64(q.data, r * d, x, j * d, d), j]);
              want.sort((u, v) => v[0] - u[0] || u[1] - v[1]);
              for (let j = 0; j < k; j++) {
                const e = Math.abs(s1.scores[r * k + j] - want[j][0]);
                if (!(e <= 2e-6)) expect(e, `${what}, query ${r}, rank ${j}`).toBeLessThanOrEqual(2e-6);
                // The three values are far apart, so equal float32 scores are exact ties: by index.
                if (s1.indices[r * k + j] !== want[j][1])
                  expect(s1.indices[r * k + j], `${what}, query ${r}, rank ${j}`).toBe(want[j][1]);
              }
            }
          }
        }
        c1.dispose();
        c2.dispose();
      }
    }
    expect(t.one.memory()).toEqual({ residentHandles: 0, bytes: 0 });
    expect(t.two.memory()).toEqual({ residentHandles: 0, bytes: 0 });
  });
});

describe('sparse matmul: densities around the threshold, rows of -0, 1 vs 2 threads', () => {
  const t = oneAndTwoThreads();

  it('the same bits on both, within float32 of float64, and +0 for a row of only ±0', () => {
    for (const density of [0, 0.01, 0.3, 0.49, 0.5, 0.51, 0.6]) {
      for (const [m, k, n, transA] of [
        [64, 300, 9, false],
        [257, 784, 33, false],
        [100, 129, 17, true],
      ] as const) {
        const a = random(transA ? k : m, transA ? m : k, m + k + Math.round(density * 100));
        const keep = random(1, a.data.length, 7).data;
        for (let i = 0; i < a.data.length; i++) if ((keep[i] + 1) / 2 >= density) a.data[i] = i % 2 ? -0 : 0;
        // Row 0 of op(A): only -0.
        for (let p = 0; p < k; p++) a.data[transA ? p * m : p] = -0;
        const bm = random(k, n, 99);
        for (let i = 0; i < bm.data.length; i++) bm.data[i] = -1 - Math.abs(bm.data[i]);
        const g1 = t.one.kernels.matmul(a, bm, transA, false);
        const g2 = t.two.kernels.matmul(a, bm, transA, false);
        const what = `density ${density}, ${m} x ${k} x ${n}, transA ${transA}`;
        expect(sameBits(g1, g2), what).toBe(true);
        let worst = 0;
        for (let i = 0; i < m; i++)
          for (let j = 0; j < n; j++) {
            let s = 0;
            for (let p = 0; p < k; p++) s += a.data[transA ? p * m + i : i * k + p] * bm.data[p * n + j];
            worst = Math.max(worst, Math.abs(g1[i * n + j] - s));
          }
        expect(worst, what).toBeLessThanOrEqual(1e-5 * Math.sqrt(k));
        for (let j = 0; j < n; j++) expect(Object.is(g1[j], 0), `${what}, column ${j}`).toBe(true);
      }
    }
  });
});

describe('a disposed backend, and norms past float32, through the kit', () => {
  it('every operation after backend.dispose() is DISPOSED naming the backend (a corpus it held: the corpus), not its argument', async () => {
    const w = await backend({ threads: 1 });
    const kit = createCosineKit({ backend: w });
    const c = await kit.corpus([
      [1, 0, 2],
      [0, 1, 2],
    ]);
    w.dispose();
    const q = [[1, 0, 2]];
    for (const [op, call] of [
      ['search', () => c.search(q, 1)],
      ['similarity', () => c.similarity(q)],
      ['corpus', () => kit.corpus(q)],
      ['topK', () => kit.topK(q, q, 1)],
      ['cosineMatrix', () => kit.cosineMatrix(q, q)],
      ['cosineRows', () => kit.cosineRows(q, q)],
      ['rowNorms', () => kit.rowNorms(q)],
    ] as const) {
      let e: CosineKitError | undefined;
      try {
        await call();
      } catch (x) {
        e = x as CosineKitError;
      }
      expect(e?.code, op).toBe('DISPOSED');
      expect(e?.op, op).toBe(op);
      // A corpus's methods check its handles first: disposed with the backend, named in the message.
      if (op === 'search' || op === 'similarity') {
        expect(e?.arg, op).toBe('corpus');
        expect(e?.message, op).toMatch(/disposed with its backend 'wasm'/);
      } else expect(e?.arg, op).toBe('backend');
    }
  });

  it('rowNorms: a row whose norm is past 3.4e38 is refused by row; just below, within float32 of float64', async () => {
    const b = await backend({ threads: 1 });
    const kit = createCosineKit({ backend: b });
    for (const d of [1, 2, 5, 17]) {
      // Norm sqrt(d) * 3e38 overflows for d >= 2; 3e38 alone (d = 1) is a float32.
      const big = Array.from({ length: d }, () => 3e38);
      if (d === 1) {
        expect(Array.from(await kit.rowNorms([big]))).toEqual([Math.fround(3e38)]);
        continue;
      }
      const ones = Array.from({ length: d }, () => 1);
      const e = await kit.rowNorms([ones, big]).catch((x: CosineKitError) => x);
      expect(e).toMatchObject({ code: 'INVALID_ARGUMENT', op: 'rowNorms', arg: 'x' });
      expect((e as CosineKitError).message).toContain('row 1');
      const ok = Array.from({ length: d }, (_, j) => (j === 0 ? 3e38 : 1e-45));
      const rows = [ok, ok.map((v) => v * 1e-80)];
      const got = await kit.rowNorms(rows);
      for (let i = 0; i < rows.length; i++) {
        const want = Math.hypot(...rows[i].map(Math.fround));
        expect(Math.abs(got[i] - want), `d=${d}, row ${i}`).toBeLessThanOrEqual(
          Math.max(want * 2 ** -23, 2 ** -149),
        );
      }
    }
    b.dispose();
  });
});

describe('an input disposed by a later argument, through the ungated kernels', () => {
  it("is DISPOSED naming the call and the argument (it was named 'Tensor.data' and 'tensor')", async () => {
    const b = await backend({ threads: 1 });
    const kit = createCosineKit({ backend: b });
    await kit.ready();
    const a = new Tensor(Float32Array.of(1, 0, 0, 1), 2, 2);
    const e = await kit
      .cosineMatrix(a, [[1, 0]], {
        get out() {
          a.dispose();
          return undefined;
        },
      })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(e).toMatchObject({ code: 'DISPOSED', op: 'cosineMatrix', arg: 'a' });
    b.dispose();
  });
});

describe('createWasmBackend on options that are not an object', () => {
  it('refuses them by name, as it does a bad variant', async () => {
    const { createWasmBackend } = await import('../src/index.js');
    for (const bad of [null, 'simd', ['simd'], 2])
      expect(() => createWasmBackend(bad as never)).toThrow(
        expect.objectContaining({ code: 'INVALID_TYPE', op: 'createWasmBackend', arg: 'options' }),
      );
    expect(() => createWasmBackend({ thread: 2 } as never)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', op: 'createWasmBackend', arg: 'options.thread' }),
    );
    expect(() => createWasmBackend({ wasm: { simdx: new Uint8Array(8) } } as never)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', arg: 'options.wasm.simdx' }),
    );
  });

  it('reads its options once: a throwing getter, at any depth, is named; later changes are not used', async () => {
    const { createWasmBackend, createWasmPair } = await import('../src/index.js');
    const boom = (key: string, inner: object = {}) =>
      Object.defineProperty(inner, key, {
        enumerable: true,
        get() {
          throw new Error(`${key} broke`);
        },
      });
    for (const [options, arg] of [
      [boom('threads'), 'options'],
      [boom('variant'), 'options'],
      [boom('tuning'), 'options'],
      [{ tuning: boom('tile') }, 'options.tuning'],
      [{ wasm: boom('simd') }, 'options.wasm'],
    ] as const) {
      let e: unknown;
      try {
        createWasmBackend(options as never);
      } catch (x) {
        e = x;
      }
      expect(e, arg).toMatchObject({ code: 'INVALID_ARGUMENT', op: 'createWasmBackend', arg });
      expect(String((e as Error).message)).toMatch(/broke/);
    }
    await expect(createWasmPair(boom('wasm') as never)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      op: 'createWasmPair',
      arg: 'options',
    });
    // Checked and used as read: a variant changed after the call does not reach init().
    const options: { variant: string } = { variant: 'simd' };
    const b = createWasmBackend(options as never);
    options.variant = 'bogus';
    await b.init();
    expect(b.describe().variant).toBe('simd');
    b.dispose();
  });
});

describe('a Float32Array subclass whose constructor takes only its values', () => {
  // Its subarray() builds the slice through that constructor (Symbol.species), which ignored the
  // offset and length: every chunk of the rows was the whole array. Chunks after the first read
  // row 0 again, and the copy sized for one chunk overran into a resident corpus's memory.
  class Embeddings extends Float32Array {
    constructor(values: Float32Array) {
      super(values);
    }
  }

  it('rows staged a chunk at a time must come back the length asked for (else they would overrun)', async () => {
    const { readRows } = await import('../src/staging.js');
    const data = new Embeddings(new Float32Array(40));
    expect(() => readRows({ data, rows: 10, cols: 4 }, 2, 3, 'op', 'x')).toThrow(
      expect.objectContaining({ code: 'SHAPE_MISMATCH', op: 'op', arg: 'x' }),
    );
    expect(() => readRows({ data, rows: 10, cols: 4 }, 2, 3, 'op', 'x')).toThrow(/as 40 floats, not 12/);
    expect(readRows({ data: new Float32Array(40), rows: 10, cols: 4 }, 2, 3, 'op', 'x').length).toBe(12);
  });

  it('a matrix holding fewer values than its shape claims, handed to a kernel directly: SHAPE_MISMATCH naming it, nothing left', async () => {
    const b = await backend({ variant: 'simd', threads: 1 });
    const short = { data: new Float32Array(16), rows: 2 ** 20, cols: 2 ** 12 };
    const fine = { data: new Float32Array(4 * 2 ** 12).fill(1), rows: 4, cols: 2 ** 12 };
    // Streamed either way round: the rows are read a chunk at a time, the lie found at the first.
    for (const [call, arg] of [
      [() => b.kernels.cosineMatrix(short, fine), 'a'],
      [() => b.kernels.cosineMatrix(fine, short), 'b'],
      [() => b.kernels.topK(fine, short, 1), 'corpus'],
    ] as const)
      expect(call, arg).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH', arg }));
    expect(b.memory()).toEqual({ residentHandles: 0, bytes: 0 });
    await b.dispose();
  });

  it.each([1, 2])(
    'gives the answers a plain Float32Array gives and leaves other corpora alone (%i threads)',
    async (threads) => {
      const b = await backend({ variant: 'simd', threads });
      const kit = createCosineKit({ backend: b });
      try {
        // Memory grown first, as in any long-lived process (else the overrun threw and the kit copied).
        (await kit.corpus(new Tensor(new Float32Array(10_000_000).fill(1), 100_000, 100))).dispose();
        // A block freed just before, so that the scratch lands right before the bystander's rows.
        const hole = await kit.corpus(new Tensor(random(65_536, 8, 5).data, 65_536, 8));
        const bystander = await kit.corpus(new Tensor(random(1000, 8, 1).data, 1000, 8));
        const q8 = new Tensor(random(2, 8, 2).data, 2, 8);
        const before = await bystander.search(q8, 3);
        hole.dispose();
        const N = 100_000;
        const plain8 = random(N, 8, 3).data;
        await kit.cosineMatrix(q8, new Tensor(new Embeddings(plain8), N, 8));
        const after = await bystander.search(q8, 3);
        expect(Array.from(after.indices)).toEqual(Array.from(before.indices));
        expect(Array.from(after.scores)).toEqual(Array.from(before.scores));
        // The scores themselves, at d = 64 (the streamed path of a few queries).
        const d = 64;
        const n = 20_000;
        const plain = random(n, d, 6).data;
        const q = new Tensor(random(2, d, 7).data, 2, d);
        const m = await kit.cosineMatrix(q, new Tensor(new Embeddings(plain), n, d));
        for (const j of [0, 9_000, n - 1])
          expect(Math.abs(m.data[j] - cos64(q.data, 0, plain, j * d, d)), `column ${j}`).toBeLessThan(2e-6);
        // An int8 corpus of such rows (staged a chunk at a time) finds a row as itself.
        const x = new Embeddings(plain);
        const c = await kit.corpus(new Tensor(x, n, d), { storage: 'int8', rerank: 0 });
        const self = new Tensor(plain.slice((n - 1) * d), 1, d);
        expect((await c.search(self, 1)).indices[0]).toBe(n - 1);
        // And out as such an array is written where it should be.
        const out = new Embeddings(new Float32Array(2 * n));
        await kit.cosineMatrix(q, new Tensor(plain, n, d), { out });
        expect(Math.abs(out[2 * n - 1] - cos64(q.data, d, plain, (n - 1) * d, d))).toBeLessThan(2e-6);
        c.dispose();
        bystander.dispose();
      } finally {
        kit.dispose();
        b.dispose();
      }
    },
    120_000,
  );
});

describe('values that cannot be inspected, at the entry points outside the kit', () => {
  /** A revoked Proxy, a Proxy whose prototype trap throws, and an object whose `constructor` getter throws. */
  const uninspectable = (): [string, unknown][] => {
    const revoked = Proxy.revocable({}, {});
    revoked.revoke();
    return [
      ['a revoked Proxy', revoked.proxy],
      [
        'a throwing prototype trap',
        new Proxy(
          {},
          {
            getPrototypeOf() {
              throw new Error('trap');
            },
          },
        ),
      ],
      [
        'a throwing constructor getter',
        {
          get constructor() {
            throw new Error('ctor');
          },
        },
      ],
    ];
  };
  /** The typed error naming `arg` and `op`: INVALID_ARGUMENT where reading threw, INVALID_TYPE where it did not. */
  const named = (op: string, arg: string) =>
    expect.objectContaining({
      name: 'CosineKitError',
      op,
      arg,
      code: expect.stringMatching(/^INVALID_(ARGUMENT|TYPE)$/),
    });

  let b: WasmBackend;
  beforeAll(async () => {
    b = await backend({ threads: 1 });
  });
  afterAll(() => b.dispose());

  it('the pair function, createVector and vectorCosine name the argument (a TypeError or the trap escaped)', async () => {
    const { createWasmPair } = await import('../src/index.js');
    const pair = await createWasmPair();
    const ok = Float32Array.of(1, 2, 3);
    const v = b.createVector(ok);
    // A Proxy around a real vector whose reads throw: it passes instanceof.
    const wrapped = new Proxy(v, {
      get() {
        throw new Error('read');
      },
    });
    for (const [what, h] of [
      ...uninspectable(),
      ['a Proxy around a vector whose reads throw', wrapped] as const,
    ]) {
      expect(() => pair.cosine(ok, h as Float32Array), `pair ${what}`).toThrow(named('WasmPair.cosine', 'b'));
      expect(() => pair.cosine(h as Float32Array, ok), `pair ${what}`).toThrow(named('WasmPair.cosine', 'a'));
      expect(() => b.vectorCosine(v, h as typeof v), `vector ${what}`).toThrow(named('vectorCosine', 'b'));
      expect(() => b.vectorCosine(h as typeof v, v), `vector ${what}`).toThrow(named('vectorCosine', 'a'));
      expect(() => b.createVector(h as number[]), `createVector ${what}`).toThrow(
        named('createVector', 'data'),
      );
    }
    // Still answering.
    expect(b.vectorCosine(v, v)).toBeCloseTo(1, 6);
    expect(pair.cosine(ok, ok)).toBeCloseTo(1, 6);
    v.dispose();
    pair.dispose();
  });

  it('a binary source that cannot be inspected is named by its option', async () => {
    const { createWasmBackend, createWasmPair } = await import('../src/index.js');
    for (const [what, h] of uninspectable()) {
      await expect(createWasmPair({ wasm: h as never }), what).rejects.toThrow(
        named('createWasmPair', 'options.wasm'),
      );
      expect(() => createWasmBackend({ wasm: { simd: h as never } }), what).toThrow(
        named('createWasmBackend', 'options.wasm.simd'),
      );
    }
    const revoked = Proxy.revocable({}, {});
    revoked.revoke();
    expect(() => createWasmBackend({ wasm: revoked.proxy as never })).toThrow(
      named('createWasmBackend', 'options.wasm'),
    );
  });
});
