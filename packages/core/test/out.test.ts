import { describe, expect, it } from 'vitest';
import {
  type Backend,
  declareKernels,
  type Matrix,
  referenceKernels,
  resolveKernels,
} from '../src/backend.js';
import { createCosineKit, Tensor } from '../src/index.js';
import { failure } from './fixtures/data.js';

/** Seeded values in [-1, 1), a few rows shifted so cosines spread over [-1, 1]. */
function rows(r: number, c: number, seed: number): Tensor {
  let s = seed >>> 0 || 1;
  const d = new Float32Array(r * c);
  for (let i = 0; i < d.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    d[i] = s / 2 ** 31 - 1 + (i % 3 === 0 ? 0.3 : 0);
  }
  return new Tensor(d, r, c);
}

function cos64(a: Matrix, b: Matrix): Float64Array {
  const d = a.cols;
  const out = new Float64Array(a.rows * b.rows);
  for (let i = 0; i < a.rows; i++)
    for (let j = 0; j < b.rows; j++) {
      let ab = 0;
      let aa = 0;
      let bb = 0;
      for (let t = 0; t < d; t++) {
        const x = a.data[i * d + t];
        const y = b.data[j * d + t];
        ab += x * y;
        aa += x * x;
        bb += y * y;
      }
      out[i * b.rows + j] = aa === 0 || bb === 0 ? 0 : ab / Math.sqrt(aa * bb);
    }
  return out;
}

function close(got: Float32Array, want: Float64Array, tol = 1e-6): void {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  expect(worst).toBeLessThanOrEqual(tol);
}

/** Awkward shapes: d = 1, odd d, d not a multiple of 4, one row, rows not a multiple of a tile. */
const SHAPES = [
  [1, 1, 1],
  [3, 7, 1],
  [1, 9, 5],
  [5, 1, 17],
  [37, 13, 33],
  [4, 64, 384],
] as const;

describe('options.out: the result written into the caller array', () => {
  it('kit.cosineMatrix: into a Float32Array or a Tensor (the result is over its values), checked against float64, every call', async () => {
    const kit = createCosineKit({ backend: 'reference' });
    for (const [m, n, d] of SHAPES) {
      const a = rows(m, d, m * 31 + d);
      const b = rows(n, d, n * 17 + d + 1);
      const want = cos64(a, b);
      const out = new Float32Array(m * n).fill(Number.NaN);
      const r = await kit.cosineMatrix(a, b, { out });
      expect(r.data).toBe(out);
      expect(r.shape).toEqual([m, n]);
      close(out, want);
      const t = new Tensor(new Float32Array(m * n).fill(7), m, n);
      expect((await kit.cosineMatrix(a, b, { out: t })).data).toBe(t.data);
      close(t.data, want);
      // Reused: a second call overwrites every value.
      out.fill(Number.NaN);
      await kit.cosineMatrix(a, b, { out });
      close(out, want);
    }
  });

  it('corpus.similarity: one segment, several segments with removed rows, and abortable steps', async () => {
    const kit = createCosineKit({ backend: 'reference' });
    for (const [m, n, d] of SHAPES) {
      const c = rows(n, d, n + d);
      const q = rows(m, d, m + 2 * d);
      const corpus = await kit.corpus(c);
      const out = new Float32Array(m * n).fill(Number.NaN);
      const r = await corpus.similarity(q, { out });
      expect(r.data).toBe(out);
      close(out, cos64(q, c));
      corpus.dispose();
    }
    // Segments and removed rows: the live rows in ordinal order.
    const d = 9;
    const first = rows(6, d, 1);
    const more = rows(5, d, 2);
    const corpus = await kit.corpus(first);
    await corpus.add(more);
    await corpus.remove([1, 7]);
    const live = [0, 2, 3, 4, 5, 6, 8, 9, 10];
    const all = new Float32Array(11 * d);
    all.set(first.data);
    all.set(more.data, 6 * d);
    const kept = new Float32Array(live.length * d);
    live.forEach((r, i) => {
      kept.set(all.subarray(r * d, (r + 1) * d), i * d);
    });
    const q = rows(3, d, 3);
    const t = new Tensor(new Float32Array(3 * live.length), 3, live.length);
    expect((await corpus.similarity(q, { out: t })).data).toBe(t.data);
    close(t.data, cos64(q, new Tensor(kept, live.length, d)));
    corpus.dispose();
    // With a signal the call runs in steps of about 2^26 products, each written in place.
    const big = rows(1100, 1000, 5);
    const bq = rows(70, 1000, 6);
    const bc = await kit.corpus(big);
    const bout = new Float32Array(70 * 1100).fill(Number.NaN);
    const r = await bc.similarity(bq, { out: bout, signal: new AbortController().signal });
    expect(r.data).toBe(bout);
    close(bout, cos64(bq, big));
    bc.dispose();
  });

  it('bad outputs are refused by name: wrong length or shape, wrong type, detached, disposed, sharing an input', async () => {
    const kit = createCosineKit({ backend: 'reference' });
    const a = rows(2, 3, 1);
    const b = rows(4, 3, 2);
    const corpus = await kit.corpus(b);
    const both = async (out: unknown, code: string, message: RegExp) => {
      for (const [op, call] of [
        ['cosineMatrix', () => kit.cosineMatrix(a, b, { out: out as Float32Array })],
        ['similarity', () => corpus.similarity(a, { out: out as Float32Array })],
      ] as const) {
        const e = await failure(call());
        expect(e).toMatchObject({ code, op, arg: 'options.out' });
        expect(e.message).toMatch(message);
      }
    };
    await both(new Float32Array(7), 'SHAPE_MISMATCH', /must hold the 2 x 4 result, got 7/);
    await both(new Tensor(new Float32Array(8), 4, 2), 'SHAPE_MISMATCH', /got 4,2/);
    await both(new Float64Array(8), 'INVALID_TYPE', /Float32Array or a Tensor/);
    await both(
      Array.from({ length: 8 }, () => 0),
      'INVALID_TYPE',
      /Float32Array or a Tensor/,
    );
    const detached = new Float32Array(8);
    structuredClone(detached.buffer, { transfer: [detached.buffer] });
    await both(detached, 'DISPOSED', /buffer was transferred \(detached\)/);
    // An empty array is the wrong shape, not detached (a buffer of no bytes was taken for one).
    await both(new Float32Array(0), 'SHAPE_MISMATCH', /must hold the 2 x 4 result, got 0/);
    const gone = new Tensor(new Float32Array(8), 2, 4);
    gone.dispose();
    await both(gone, 'DISPOSED', /disposed tensor/);
    // On the buffer of an input, overlapping it or not.
    const buf = new Float32Array(6 + 8);
    buf.set(a.data);
    const a2 = new Tensor(buf.subarray(0, 6), 2, 3);
    let e = await failure(kit.cosineMatrix(a2, b, { out: buf.subarray(5, 13) }));
    expect(e).toMatchObject({ code: 'INVALID_ARGUMENT', op: 'cosineMatrix', arg: 'options.out' });
    expect(e.message).toMatch(/shares a buffer with 'a'/);
    e = await failure(corpus.similarity(a2, { out: buf.subarray(4, 12) }));
    expect(e.message).toMatch(/shares a buffer with 'queries'/);
    e = await failure(kit.cosineMatrix(b, a2, { out: buf.subarray(6, 14) }));
    expect(e).toMatchObject({ code: 'INVALID_ARGUMENT', arg: 'options.out' });
    expect(e.message).toMatch(/shares a buffer with 'b'/);
    e = await failure(kit.cosineMatrix(a, b, 'out' as never));
    expect(e).toMatchObject({ code: 'INVALID_TYPE', op: 'cosineMatrix', arg: 'options' });
    corpus.dispose();
  });

  it('a backend that answers in an array of its own has its answer copied into out; one that writes into out is checked there', async () => {
    const own: Backend = {
      name: 'own-array',
      kernels: {
        cosineMatrix: (a, b) => referenceKernels.cosineMatrix(a, b),
        corpusMatrix: (h, q) => referenceKernels.corpusMatrix(h, q),
        createCorpus: referenceKernels.createCorpus,
        corpusSearch: referenceKernels.corpusSearch,
      },
    };
    const into: Backend = {
      name: 'into-out',
      kernels: {
        // A rounding step past 1 in place: the kit's check clamps it where it is.
        cosineMatrix: (a, b, out) => {
          const o = referenceKernels.cosineMatrix(a, b, out) as Float32Array;
          o[0] = 1.0000001;
          return o;
        },
      },
    };
    const a = rows(3, 5, 8);
    const b = rows(4, 5, 9);
    const kit = createCosineKit({ backend: own });
    const out = new Float32Array(12).fill(Number.NaN);
    expect((await kit.cosineMatrix(a, b, { out })).data).toBe(out);
    close(out, cos64(a, b));
    const c = await kit.corpus(b);
    const s = new Float32Array(12).fill(Number.NaN);
    expect((await c.similarity(a, { out: s })).data).toBe(s);
    close(s, cos64(a, b));
    c.dispose();
    const inPlace = createCosineKit({ backend: into });
    const o = new Float32Array(16).fill(Number.NaN);
    expect((await inPlace.cosineMatrix(b, b, { out: o })).data).toBe(o);
    expect(o[0]).toBe(1);
    close(o, cos64(b, b));
  });
});

describe('an out detached or shrunk right after the call (found by a probe: it resolved an empty tensor)', () => {
  it('kit.cosineMatrix rejects DISPOSED naming options.out, as corpus.similarity does, on a warm kit and a cold one', async () => {
    const q = [[1, 0, 0, 0]];
    const c = [
      [1, 0, 0, 0],
      [0, 1, 0, 0],
      [0, 0, 1, 0],
      [1, 1, 0, 0],
    ];
    for (const warm of [true, false]) {
      const kit = createCosineKit({ backend: 'reference' });
      if (warm) await kit.cosineMatrix(q, c);
      const detached = new Float32Array(4);
      const p1 = kit.cosineMatrix(q, c, { out: detached });
      structuredClone(detached.buffer, { transfer: [detached.buffer] });
      await expect(p1, `detached, warm ${warm}`).rejects.toMatchObject({
        code: 'DISPOSED',
        op: 'cosineMatrix',
        arg: 'options.out',
      });
      type Resizable = ArrayBuffer & { resize(n: number): void };
      const buffer = new (
        ArrayBuffer as unknown as new (
          n: number,
          o: { maxByteLength: number },
        ) => Resizable
      )(16, { maxByteLength: 64 });
      const p2 = kit.cosineMatrix(q, c, { out: new Float32Array(buffer) });
      buffer.resize(0);
      await expect(p2, `shrunk, warm ${warm}`).rejects.toMatchObject({
        code: 'DISPOSED',
        op: 'cosineMatrix',
        arg: 'options.out',
      });
      // Left alone, the answer is in out.
      const kept = new Float32Array(4);
      expect((await kit.cosineMatrix(q, c, { out: kept })).data).toBe(kept);
      expect(kept[0]).toBe(1);
      kit.dispose();
    }
  });

  it('corpus.similarity: DISPOSED too, not the wrong-shape SHAPE_MISMATCH it said for a shrunk out (a probe)', async () => {
    type Resizable = ArrayBuffer & { resize(n: number): void };
    const [Q, N, d] = [64, 3000, 8];
    const values = (n: number, seed: number) =>
      Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + seed));
    const kit = createCosineKit({ backend: 'reference' });
    const corpus = await kit.corpus(new Tensor(Float32Array.from(values(N * d, 1)), N, d));
    const q = new Tensor(Float32Array.from(values(Q * d, 2)), Q, d);
    // A view of the result's length over a buffer that can shrink, shrunk right after the call.
    const resizable = () => {
      const buffer = new (
        ArrayBuffer as unknown as new (
          n: number,
          o: { maxByteLength: number },
        ) => Resizable
      )(Q * N * 4, { maxByteLength: Q * N * 4 });
      return [new Float32Array(buffer, 0, Q * N), buffer] as const;
    };
    const [view, buffer] = resizable();
    const p1 = corpus.similarity(q, { out: view });
    buffer.resize(16);
    const detached = new Float32Array(Q * N);
    const p2 = corpus.similarity(q, { out: detached });
    structuredClone(detached.buffer, { transfer: [detached.buffer] });
    for (const [what, p] of [
      ['shrunk', p1],
      ['transferred', p2],
    ] as const)
      await expect(p, what).rejects.toMatchObject({ code: 'DISPOSED', op: 'similarity', arg: 'options.out' });
    // One of the wrong size when called is still the caller's shape; one left alone holds the answer.
    await expect(corpus.similarity(q, { out: new Float32Array(Q * N - 1) })).rejects.toMatchObject({
      code: 'SHAPE_MISMATCH',
      arg: 'options.out',
    });
    const kept = new Float32Array(Q * N);
    expect((await corpus.similarity(q, { out: kept })).data).toBe(kept);
    expect(Array.from(kept)).toEqual(Array.from((await corpus.similarity(q)).data));
    kit.dispose();
  });
});

describe("a backend's answer whose length getter lies (found by a probe)", () => {
  it('a Float32Array subclass claiming the due count while holding more is BACKEND_ERROR, not handed on', async () => {
    const lying = (due: number, held: number) => {
      class Liar extends Float32Array {
        override get length() {
          return due;
        }
      }
      return new Liar(held).fill(0.5);
    };
    const q = [[1, 0, 0, 0]];
    const c = [
      [1, 0, 0, 0],
      [0, 1, 0, 0],
      [0, 0, 1, 0],
    ];
    const kit = (kernels: Partial<Backend['kernels']>) =>
      createCosineKit({ backend: { name: 'liar', kernels } as Backend });
    for (const [op, arg, call] of [
      ['cosineRows', 'a', () => kit({ cosineRows: (a: Matrix) => lying(a.rows, 3) }).cosineRows(q, q)],
      ['rowNorms', 'x', () => kit({ rowNorms: (x: Matrix) => lying(x.rows, 5) }).rowNorms(q)],
      [
        'cosineMatrix',
        'a',
        () => kit({ cosineMatrix: (a: Matrix, b: Matrix) => lying(a.rows * b.rows, 7) }).cosineMatrix(q, c),
      ],
      ['normalize', 'x', () => kit({ normalizeRows: (x: Matrix) => lying(x.rows * x.cols, 6) }).normalize(q)],
    ] as const)
      await expect((call as () => Promise<unknown>)(), op).rejects.toMatchObject({
        code: 'BACKEND_ERROR',
        op,
        arg,
      });
  });
});

describe('Backend.selfChecked: outputs the kit does not read again', () => {
  it('is trusted from the reference by identity and from a backend only for its own kernels', () => {
    expect(resolveKernels({ name: 'none', kernels: {} }).selfChecked).toEqual([
      'cosineMatrix',
      'corpusMatrix',
    ]);
    const copy = {
      name: 'reference',
      kernels: {
        ...referenceKernels,
        cosineMatrix: (a: Matrix, b: Matrix) => referenceKernels.cosineMatrix(a, b),
      },
    };
    expect(resolveKernels(copy).selfChecked).toEqual(['corpusMatrix']);
    expect(resolveKernels({ ...copy, selfChecked: ['cosineMatrix'] }).selfChecked).toEqual([
      'cosineMatrix',
      'corpusMatrix',
    ]);
    // A corpus group left incomplete runs on the reference: its corpusMatrix is the reference's.
    const partial = {
      name: 'p',
      kernels: { corpusMatrix: copy.kernels.cosineMatrix as never },
      selfChecked: [],
    };
    expect(resolveKernels(partial).selfChecked).toEqual(['cosineMatrix', 'corpusMatrix']);
    expect(() =>
      createCosineKit({ backend: { name: 'x', kernels: {}, selfChecked: ['topK' as never] } }),
    ).toThrow(/selfChecked/);
  });

  it('a self-checked kernel still has its type and length checked; an undeclared one has its values checked too', async () => {
    const wrong = (n: number) => () => new Float32Array(n).fill(0.5);
    const a = [[1, 2]];
    const b = [
      [1, 0],
      [0, 1],
    ];
    const short = createCosineKit({
      backend: { name: 'short', kernels: { cosineMatrix: wrong(1) }, selfChecked: ['cosineMatrix'] },
    });
    const e = await failure(short.cosineMatrix(a, b));
    expect(e).toMatchObject({ code: 'BACKEND_ERROR', op: 'cosineMatrix', backend: 'short' });
    expect(e.message).toContain('returned 1 values where 2 were due');
    const loose = createCosineKit({
      backend: { name: 'loose', kernels: { cosineMatrix: () => Float32Array.of(0.5, 1.5) } },
    });
    expect((await failure(loose.cosineMatrix(a, b))).message).toContain('returned 1.5 at position 1');
  });

  it('the dense kernels may be declared too: kit.kernels() then checks their type and length and a sample of their values', async () => {
    const n = 1000;
    const x = { data: new Float32Array(n).fill(1), rows: 1, cols: n };
    // One stray NaN off the sampled positions (every third value of 1,000) passes, as declared.
    const stray = () => {
      const o = new Float32Array(n).fill(0.5);
      o[1] = Number.NaN;
      return o;
    };
    const kernels = { addBias: stray, activation: stray, activationGrad: stray, matmul: stray };
    const dense = ['matmul', 'addBias', 'activation', 'activationGrad'] as const;
    expect(resolveKernels({ name: 'd', kernels, selfChecked: [...dense] }).selfChecked).toEqual([
      'cosineMatrix',
      'corpusMatrix',
      ...dense,
    ]);
    // Not trusted from a backend that does not run them itself (the reference's are not declared).
    expect(resolveKernels({ name: 'd', kernels: {}, selfChecked: [...dense] }).selfChecked).toEqual([
      'cosineMatrix',
      'corpusMatrix',
    ]);
    const trusting = await createCosineKit({
      backend: { name: 'd', kernels, selfChecked: [...dense] },
    }).kernels();
    const w = { data: new Float32Array(n), rows: 1, cols: n };
    for (const out of [
      await trusting.addBias(x, new Float32Array(n)),
      await trusting.activation('relu', x),
      await trusting.activationGrad('relu', x, x),
      await trusting.matmul({ data: Float32Array.of(1), rows: 1, cols: 1 }, w, false, false),
    ])
      expect(Number.isNaN(out[1])).toBe(true);
    // NaN throughout breaks the promise wholesale: the sample sees it and the answer is read and refused.
    const allNaN = () => new Float32Array(n).fill(Number.NaN);
    const liar = await createCosineKit({
      backend: { name: 'd', kernels: { activation: allNaN }, selfChecked: ['activation'] },
    }).kernels();
    await expect((async () => liar.activation('relu', x))()).rejects.toMatchObject({
      code: 'BACKEND_ERROR',
      kernel: 'activation',
    });
    const checking = await createCosineKit({ backend: { name: 'd', kernels } }).kernels();
    await expect((async () => checking.activation('relu', x))()).rejects.toMatchObject({
      code: 'BACKEND_ERROR',
      kernel: 'activation',
    });
    // A wrong length is refused either way.
    const short = await createCosineKit({
      backend: { name: 's', kernels: { addBias: () => Float32Array.of(1) }, selfChecked: ['addBias'] },
    }).kernels();
    await expect((async () => short.addBias(x, new Float32Array(n)))()).rejects.toThrow(
      /returned 1 values where 1000 were due/,
    );
  });

  it('the kernel table reads self-checked cosine outputs: its callers rows did not pass the gate', async () => {
    // NaN rows handed to kit.kernels().cosineMatrix came back as NaN cosines, unread, because the
    // reference's (and wasm's) cosineMatrix is self-checked for admitted rows. They are refused,
    // naming the caller's argument.
    const table = await createCosineKit({ backend: 'reference' }).kernels();
    const nan = { data: Float32Array.of(Number.NaN, 1), rows: 1, cols: 2 };
    const ok = { data: Float32Array.of(1, 1), rows: 1, cols: 2 };
    await expect((async () => table.cosineMatrix(nan, ok))()).rejects.toMatchObject({
      code: 'NON_FINITE',
      op: 'cosineMatrix',
      arg: 'a',
    });
    const corpus = await table.createCorpus(ok);
    await expect((async () => table.corpusMatrix(corpus, nan))()).rejects.toMatchObject({
      code: 'NON_FINITE',
      op: 'corpusMatrix',
      arg: 'queries',
    });
    corpus.dispose();
    // Finite rows still answer exactly.
    expect(Array.from((await table.cosineMatrix(ok, ok)) as Float32Array)).toEqual([1]);
  });

  it('a list made by declareKernels vouches for the functions it was made for, not for replacements in a spread copy', async () => {
    const good = (a: Matrix, b: Matrix) => referenceKernels.cosineMatrix(a, b);
    const kernels = { cosineMatrix: good, cosineRows: referenceKernels.cosineRows };
    const backend = {
      name: 'own',
      kernels,
      ungated: declareKernels(kernels, ['cosineRows']),
      selfChecked: declareKernels(kernels, ['cosineMatrix']),
    };
    expect(resolveKernels(backend).selfChecked).toContain('cosineMatrix');
    expect(resolveKernels(backend).ungated).toEqual(['cosineRows']);
    // The spread copy keeps the lists; the kernels put in place of the declared ones lose them.
    const nan = () => new Float32Array(2).fill(Number.NaN);
    const copy = { ...backend, name: 'copy', kernels: { ...kernels, cosineMatrix: nan, cosineRows: nan } };
    expect(resolveKernels(copy).selfChecked).not.toContain('cosineMatrix');
    expect(resolveKernels(copy).ungated).toEqual([]);
    // A copy that keeps the functions keeps the promise.
    expect(resolveKernels({ ...backend, kernels: { ...kernels } }).selfChecked).toContain('cosineMatrix');
    const e = await failure(
      createCosineKit({ backend: copy }).cosineMatrix(
        [[1, 2]],
        [
          [1, 0],
          [0, 1],
        ],
      ),
    );
    expect(e).toMatchObject({ code: 'BACKEND_ERROR', op: 'cosineMatrix', backend: 'copy' });
    expect(e.message).toContain('returned NaN at position 0');
  });
});

describe('the kernel table (kit.kernels()): out and shapes', () => {
  const x = { data: Float32Array.of(3, 4, 0, 0, 1, 0), rows: 3, cols: 2 };
  const y = { data: Float32Array.of(4, 3, 1, 1, 0, 2), rows: 3, cols: 2 };

  it('rowNorms, normalizeRows and cosineRows write into out when it is given, as the contract says', async () => {
    // The table took `out` in its signature and dropped it: the caller's array stayed zero.
    const table = await createCosineKit({ backend: 'reference' }).kernels();
    const norms = new Float32Array(3);
    expect(await table.rowNorms(x, norms)).toBe(norms);
    expect(Array.from(norms)).toEqual([5, 0, 1]);
    const unit = new Float32Array(6);
    expect(await table.normalizeRows(x, unit)).toBe(unit);
    expect(Array.from(unit)).toEqual([0.6000000238418579, 0.800000011920929, 0, 0, 1, 0]);
    const cos = new Float32Array(3);
    expect(await table.cosineRows(x, y, cos)).toBe(cos);
    expect(Array.from(cos)).toEqual([Math.fround(24 / 25), 0, 0]);
    await expect((async () => table.rowNorms(x, new Float32Array(2)))()).rejects.toMatchObject({
      code: 'SHAPE_MISMATCH',
      op: 'rowNorms',
      arg: 'out',
    });
  });

  it("createCorpus's options are checked as kit.corpus checks them (the reference took a rerank of -1, 0.5 or NaN; a probe)", async () => {
    const table = await createCosineKit({ backend: 'reference' }).kernels();
    for (const [options, arg] of [
      [{ storage: 'int8', rerank: -1 }, 'options.rerank'],
      [{ storage: 'int8', rerank: 0.5 }, 'options.rerank'],
      [{ storage: 'int8', rerank: Number.NaN }, 'options.rerank'],
      [{ storage: 'float16', rerank: '3' }, 'options.rerank'],
      [{ storage: 'int8', rerank: 2 ** 31 }, 'options.rerank'],
      [{ storage: 'float64' }, 'options.storage'],
    ] as const)
      await expect(
        (async () => table.createCorpus(x, options as never))(),
        JSON.stringify(options),
      ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', op: 'createCorpus', arg });
    const broke = new Error('getter');
    const hostile = Object.defineProperty({}, 'rerank', {
      get() {
        throw broke;
      },
    });
    await expect((async () => table.createCorpus(x, hostile))()).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      arg: 'options',
      cause: broke,
    });
    const h = await table.createCorpus(x, { storage: 'int8', rerank: 2 });
    expect(h.storage).toBe('int8');
    h.dispose();
  });

  it('corpusSearchAllowed needs one allow byte per corpus row and at least k allowed', async () => {
    const table = await createCosineKit({ backend: 'reference' }).kernels();
    const corpus = await table.createCorpus(x);
    const q = { data: Float32Array.of(1, 0), rows: 1, cols: 2 };
    try {
      await expect(
        (async () => table.corpusSearchAllowed!(corpus, q, 1, new Uint8Array(2)))(),
      ).rejects.toMatchObject({
        code: 'SHAPE_MISMATCH',
        op: 'corpusSearchAllowed',
        arg: 'allow',
      });
      await expect(
        (async () => table.corpusSearchAllowed!(corpus, q, 2, Uint8Array.of(0, 1, 0)))(),
      ).rejects.toMatchObject({
        code: 'INVALID_K',
        op: 'corpusSearchAllowed',
        arg: 'k',
        message: expect.stringMatching(/admits 1 rows/),
      });
      // A byte other than 0 and 1 is refused naming 'allow', as a filter's mask is: it counted as
      // admitted, the reference read it as excluded, and the backend was blamed (a probe).
      for (const [k, allow] of [
        [3, Uint8Array.of(255, 1, 1)],
        [1, Uint8Array.of(2, 0, 1)],
      ] as const)
        await expect((async () => table.corpusSearchAllowed!(corpus, q, k, allow))()).rejects.toMatchObject({
          code: 'INVALID_ARGUMENT',
          op: 'corpusSearchAllowed',
          arg: 'allow',
          message: expect.stringMatching(/0 \(excluded\) or 1 \(admitted\)/),
        });
      const r = await table.corpusSearchAllowed!(corpus, q, 1, Uint8Array.of(0, 0, 1));
      expect(Array.from(r.indices)).toEqual([2]);
    } finally {
      corpus.dispose();
    }
  });

  it('a matrix whose data does not hold exactly rows x cols values is refused, not read past or answered in part', async () => {
    const table = await createCosineKit({ backend: 'reference' }).kernels();
    const long = { data: new Float32Array(7).fill(1), rows: 3, cols: 2 };
    for (const run of [
      () => table.rowNorms(long),
      () => table.normalizeRows(long),
      () => table.cosineRows(long, y),
      () => table.cosineMatrix(long, y),
      () => table.activation('relu', long),
      () => table.addBias(long, new Float32Array(2)),
    ])
      await expect((async () => run())()).rejects.toMatchObject({
        code: 'SHAPE_MISMATCH',
        arg: expect.stringMatching(/^(x|a)$/),
        message: expect.stringMatching(/holds 7 values, not 3 x 2/),
      });
  });
});
