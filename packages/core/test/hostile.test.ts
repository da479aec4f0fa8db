import { getEventListeners } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  argError,
  type Backend,
  createReferenceBackend,
  getBackend,
  type Matrix,
  referenceKernels,
  type TopKResult,
} from '../src/backend.js';
import { saveCorpusFile } from '../src/fs.js';
import {
  Corpus,
  type CosineKitError,
  cosine,
  cosineDistance,
  createCosineKit,
  normalize,
  Tensor,
  type TensorInput,
  tensor,
} from '../src/index.js';
import { float32Sums } from './fixtures/float32.js';

/** A Float32Array whose buffer was transferred away (detached): length 0, and `set` from it throws. */
function detached(values: number[]): Float32Array {
  const x = new Float32Array(values);
  structuredClone(x.buffer, { transfer: [x.buffer] });
  return x;
}

/** A backend with no kernels of its own: every call takes the reference through the gate. */
const bare: Backend = { name: 'bare', kernels: {} };

async function rejection(p: Promise<unknown>): Promise<CosineKitError> {
  try {
    await p;
  } catch (e) {
    return e as CosineKitError;
  }
  throw new Error('resolved where a rejection was due');
}

describe('detached (transferred) Float32Arrays are refused by name, as a detached tensor is', () => {
  const kits = [
    ['reference, ungated cosineRows', createCosineKit({ backend: 'reference' })],
    ['a gated backend', createCosineKit({ backend: bare })],
  ] as const;

  for (const [what, kit] of kits) {
    it(`${what}: a detached row, first or later, in an array of rows`, async () => {
      const row = [1, 2, 3, 4];
      for (const [a, arg] of [
        [[detached(row)], 'a[0]'],
        [[new Float32Array(row), detached(row)], 'a[1]'],
        [[row, detached(row), row], 'a[1]'],
      ] as const) {
        // Rows may mix number[] and Float32Array at run time; the declared type asks for one kind.
        const rows = a as unknown as TensorInput;
        const b = a.map(() => row);
        for (const call of [() => kit.cosineRows(rows, b), () => kit.cosineMatrix(rows, b)]) {
          const e = await rejection(call());
          expect(e.name, String(e)).toBe('CosineKitError');
          expect(e.code).toBe('DISPOSED');
          expect(e.arg).toBe(arg);
          expect(e.message).toMatch(/detached/);
        }
      }
    });

    it(`${what}: a detached flat Float32Array as either argument`, async () => {
      for (const [a, b, arg] of [
        [detached([1, 2]), new Float32Array([1, 2]), 'a'],
        [new Float32Array([1, 2]), detached([1, 2]), 'b'],
      ] as const) {
        const e = await rejection(kit.cosineRows(a, b));
        expect(e.code).toBe('DISPOSED');
        expect(e.arg).toBe(arg);
        expect(e.message).toMatch(/detached/);
      }
      // The kit still answers right afterwards.
      expect(Array.from(await kit.cosineRows([[3, 4]], [[4, 3]]))).toEqual([Math.fround(24 / 25)]);
    });
  }

  it('tensor() and the pair functions say so too, and an empty array stays EMPTY_INPUT', () => {
    expect(() => tensor(detached([1, 2]))).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
    expect(() => tensor([detached([1, 2])])).toThrow(
      expect.objectContaining({ code: 'DISPOSED', arg: 'input[0]' }),
    );
    expect(() => cosine(detached([1, 2]), new Float32Array([1, 2]))).toThrow(
      expect.objectContaining({ code: 'DISPOSED', arg: 'a' }),
    );
    expect(() => tensor(new Float32Array(0))).toThrow(expect.objectContaining({ code: 'EMPTY_INPUT' }));
    expect(() => tensor([new Float32Array(0)])).toThrow(expect.objectContaining({ code: 'EMPTY_INPUT' }));
    // A view of a SharedArrayBuffer (never detached) with a byte offset is taken as it is.
    const shared = new Float32Array(new SharedArrayBuffer(64));
    shared.set([9, 1, 2, 3, 4]);
    expect(Array.from(tensor(shared.subarray(1, 5)).data)).toEqual([1, 2, 3, 4]);
    expect(new Tensor(shared.subarray(1, 5), 2, 2).rows).toBe(2);
  });
});

/** Float64 cosine of vectors of ordinary magnitude (the reference the scaled calls must meet). */
function cos64(a: readonly number[], b: readonly number[]): number {
  let dot = 0;
  let x = 0;
  let y = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    x += a[i] * a[i];
    y += b[i] * b[i];
  }
  return x === 0 || y === 0 ? 0 : dot / Math.sqrt(x * y);
}

describe('the sync pair functions hold over the whole float64 range', () => {
  // Magnitudes whose squares overflow float64 (past 2^511), vanish (below 2^-537), or are subnormal.
  const scales = [1, 1e307, 2 ** 1020, 1e300, 2 ** 600, 1e200, 1e-200, 2 ** -600, 1e-310, 1e-320, 2 ** -1070];
  const pairs: [number[], number[]][] = [
    [
      [3, 4],
      [4, 3],
    ],
    [
      [1, -2, 3, 0.5, 7],
      [-1, 2, 0.25, 4, 1],
    ],
    [
      [1, 1, 1],
      [1, 1, 1],
    ],
    [
      [1, 0],
      [0, -1],
    ],
  ];

  it('cosine, cosineDistance: scaled rows give the unscaled cosine (number[] and Float64Array)', () => {
    for (const [a, b] of pairs) {
      const want = cos64(a, b);
      for (const s of scales) {
        for (const t of [1, s, 1 / s]) {
          if (!Number.isFinite(1 / s) && t !== s && t !== 1) continue;
          const x = a.map((v) => v * s);
          const y = b.map((v) => v * t);
          // Rows that a scale rounds to zero are zero vectors: their cosine is 0 by rule.
          const zero = x.every((v) => v === 0) || y.every((v) => v === 0);
          const e = zero ? 0 : want;
          const what = `${a} x ${s} against ${b} x ${t}`;
          for (const [p, q] of [
            [x, y],
            [Float64Array.from(x), Float64Array.from(y)],
          ] as const) {
            const c = cosine(p, q);
            expect(Math.abs(c - e), `${what}: ${c}`).toBeLessThanOrEqual(1e-9);
            expect(c >= -1 && c <= 1).toBe(true);
            expect(Math.abs(cosineDistance(p, q) - (1 - e)), what).toBeLessThanOrEqual(1e-9);
          }
        }
      }
    }
    // Subnormal multiples of 2^-1074 are exact: 3:4 against 4:3 is 24/25.
    expect(cosine([3 * 5e-324, 4 * 5e-324], [4 * 5e-324, 3 * 5e-324])).toBeCloseTo(24 / 25, 12);
    expect(cosine([Number.MAX_VALUE, -Number.MAX_VALUE], [Number.MAX_VALUE, Number.MAX_VALUE])).toBe(0);
    expect(cosine([Number.MAX_VALUE, Number.MAX_VALUE], [5e-324, 5e-324])).toBeCloseTo(1, 12);
  });

  it('normalize: a unit float32 vector at any finite magnitude; a zero vector stays zero', () => {
    for (const s of scales) {
      const got = normalize([3 * s, -4 * s]);
      expect(Array.from(got), String(s)).toEqual([Math.fround(0.6), Math.fround(-0.8)]);
      expect(Array.from(normalize(Float64Array.of(0, 5 * s, 0)))).toEqual([0, 1, 0]);
    }
    expect(Array.from(normalize([0, 0, 0]))).toEqual([0, 0, 0]);
    expect(() => normalize([1, Number.NaN])).toThrow(
      expect.objectContaining({ code: 'NON_FINITE', arg: 'v' }),
    );
    expect(() => normalize([1e308, Number.POSITIVE_INFINITY])).toThrow(
      expect.objectContaining({ code: 'NON_FINITE', arg: 'v' }),
    );
    // `out` must be what the result is: a Float32Array.
    for (const out of [[0, 0], new Float64Array(2), new Int32Array(2)]) {
      expect(() => normalize([1, 2], out as unknown as Float32Array)).toThrow(
        expect.objectContaining({ code: 'INVALID_TYPE', op: 'normalize', arg: 'out' }),
      );
    }
  });

  it('a number[] holding anything but numbers is refused by position, not coerced', () => {
    for (const bad of ['2', null, undefined, true, {}, 2n]) {
      for (const at of [0, 1, 2]) {
        const v: unknown[] = [1, 2, 3];
        v[at] = bad;
        for (const [f, op, arg] of [
          [() => cosine(v as number[], [1, 2, 3]), 'cosine', 'a'],
          [() => cosine([1, 2, 3], v as number[]), 'cosine', 'b'],
          [() => cosineDistance(v as number[], [1, 2, 3]), 'cosineDistance', 'a'],
          [() => normalize(v as number[]), 'normalize', 'v'],
        ] as const) {
          expect(f, `${String(bad)} at ${at}`).toThrow(
            expect.objectContaining({
              code: 'INVALID_TYPE',
              op,
              arg,
              message: expect.stringContaining(`at [${at}]`),
            }),
          );
        }
      }
    }
    // A hole in a sparse array is not a number either.
    const holey = [1, 2, 3];
    delete holey[1];
    expect(() => cosine(holey, [1, 2, 3])).toThrow(expect.objectContaining({ code: 'INVALID_TYPE' }));
  });
});

describe('kit.rowNorms never answers Infinity for finite rows', () => {
  for (const [what, backend] of [
    ['reference', 'reference'],
    ['a gated backend', bare],
  ] as const) {
    it(`${what}: norms past the float32 range are refused by row; just below it, exact`, async () => {
      const kit = createCosineKit({ backend });
      for (const rows of [
        [[3e38, 3e38]],
        [[1, 2], [-3e38, 3e38, 0].slice(0, 2)],
        [Array.from({ length: 17 }, () => 1e38)],
      ]) {
        const e = await rejection(kit.rowNorms(rows));
        expect(e.code).toBe('INVALID_ARGUMENT');
        expect(e.op).toBe('rowNorms');
        expect(e.arg).toBe('x');
        expect(e.message).toContain(`row ${rows.length - 1}`);
      }
      const ok = [[2e38, 2e38], [1e-45, 0], [0, -0], Array.from({ length: 2 }, () => 3e-39)];
      const got = await kit.rowNorms(ok);
      for (let i = 0; i < ok.length; i++) {
        const f = ok[i].map(Math.fround);
        const want = Math.hypot(...f);
        expect(Math.abs(got[i] - want), `row ${i}`).toBeLessThanOrEqual(Math.max(want * 2 ** -23, 2 ** -149));
        expect(Number.isFinite(got[i])).toBe(true);
      }
    });
  }
});

describe('the kernel table on rows of extreme magnitude (found by a probe)', () => {
  for (const [what, backend] of [
    ['reference', 'reference'],
    ['a gated backend', bare],
  ] as const) {
    it(`${what}: rowNorms past the float32 range is the caller's row by name, not a backend error`, async () => {
      const k = await createCosineKit({ backend }).kernels();
      for (const data of [[1, 2, 3e38, 3e38], Array.from({ length: 34 }, (_, j) => (j < 17 ? 1 : 1e38))]) {
        let e: CosineKitError | undefined;
        try {
          await k.rowNorms({ data: new Float32Array(data), rows: 2, cols: data.length / 2 });
        } catch (x) {
          e = x as CosineKitError;
        }
        expect(e?.code).toBe('INVALID_ARGUMENT');
        expect(e?.op).toBe('rowNorms');
        expect(e?.arg).toBe('x');
        expect(e?.message).toContain('row 1');
      }
      const ok = await k.rowNorms({ data: new Float32Array([2e38, 2e38, 1e-45, 0]), rows: 2, cols: 2 });
      expect(Math.abs(ok[0] - Math.hypot(2e38, 2e38)) / ok[0]).toBeLessThan(2 ** -23);
      expect(ok[1]).toBe(Math.fround(1e-45));
    });

    it(`${what}: normalizeRows gives unit rows for huge and subnormal rows (a row of 3e38 came back zero)`, async () => {
      const k = await createCosineKit({ backend }).kernels();
      const rows = [
        [3e38, 3e38, -3e38],
        [1e-44, 1e-44, 0],
        [3e-39, -1e-45, 2e-40],
        [3, 4, 0],
        [0, -0, 0],
      ];
      const x = { data: new Float32Array(rows.flat()), rows: rows.length, cols: 3 };
      const got = await k.normalizeRows(x);
      for (let i = 0; i < rows.length; i++) {
        const f = rows[i].map(Math.fround);
        const n = Math.hypot(...f);
        for (let j = 0; j < 3; j++) {
          const want = n > 0 ? f[j] / n : 0;
          expect(Math.abs(got[i * 3 + j] - want), `row ${i}, column ${j}`).toBeLessThanOrEqual(2 ** -23);
        }
      }
    });
  }
});

describe("the kernel table scales rows of extreme magnitude for a backend's float32 kernels (found by a probe)", () => {
  // Sums of squares in float32, as a GPU's shader sums them: 1e20 squared overflows, 1e-23 squared
  // underflows. The WebGPU backend answered -1 for the cosine of two rows of 1e20 (Infinity over
  // Infinity, clamped) and a norm 6% off for a row of 1e-23 through the table @cosinekit/nn uses.
  const f = Math.fround;
  const sums = float32Sums;
  const cos = (x: Matrix, i: number, y: Matrix, j: number) => {
    const { dot, xx, yy } = sums(x, i, y, j);
    const c = f(dot / f(f(Math.sqrt(xx)) * f(Math.sqrt(yy))));
    return Number.isNaN(c) ? -1 : Math.min(1, Math.max(-1, c));
  };
  const naive: Backend = {
    name: 'float32-sums',
    kernels: {
      rowNorms: (x) => Float32Array.from({ length: x.rows }, (_, i) => Math.sqrt(sums(x, i, x, i).xx)),
      normalizeRows: (x) =>
        Float32Array.from(x.data, (v, t) => {
          const n = f(Math.sqrt(sums(x, Math.floor(t / x.cols), x, 0).xx));
          return n > 0 ? f(v / n) : 0;
        }),
      cosineRows: (a, b) => Float32Array.from({ length: a.rows }, (_, i) => cos(a, i, b, i)),
      cosineMatrix: (a, b) =>
        Float32Array.from({ length: a.rows * b.rows }, (_, t) =>
          cos(a, Math.floor(t / b.rows), b, t % b.rows),
        ),
    },
  };
  const m = (rows: number[][]): Matrix => ({
    data: new Float32Array(rows.flat()),
    rows: rows.length,
    cols: rows[0].length,
  });
  const cos64 = (a: number[], b: number[]) => {
    const [x, y] = [a.map(f), b.map(f)];
    let dot = 0;
    for (let p = 0; p < x.length; p++) dot += x[p] * y[p];
    return dot / (Math.hypot(...x) * Math.hypot(...y));
  };
  const pairs: [number[], number[]][] = [
    [
      [3e20, 4e20],
      [4e20, 3e20],
    ],
    [
      [3e38, 1e38],
      [3e38, 2e38],
    ],
    [
      [3e-23, 4e-23],
      [4e-23, 3e-23],
    ],
    [
      [1e-40, 3e-41],
      [2, 1],
    ],
    [
      [3, 4],
      [4, 3],
    ],
  ];

  it('cosineRows and cosineMatrix: the cosines of the rows as given, at any magnitude', async () => {
    const k = await createCosineKit({ backend: naive }).kernels();
    const a = m(pairs.map((p) => p[0]));
    const b = m(pairs.map((p) => p[1]));
    const rows = await k.cosineRows(a, b);
    const all = await k.cosineMatrix(a, b);
    pairs.forEach(([x, y], i) => {
      expect(Math.abs(rows[i] - cos64(x, y)), `cosineRows, pair ${i}`).toBeLessThan(1e-6);
      expect(Math.abs(all[i * pairs.length + i] - cos64(x, y)), `cosineMatrix, pair ${i}`).toBeLessThan(1e-6);
    });
  });

  it('rowNorms and normalizeRows: norms scaled back, unit rows; a norm past float32 still refused by row', async () => {
    const k = await createCosineKit({ backend: naive }).kernels();
    const rows = [
      [3e20, 4e20],
      [3e-23, 4e-23],
      [1e-40, 3e-41],
      [3, 4],
      [0, 0],
    ];
    const norms = await k.rowNorms(m(rows));
    const unit = await k.normalizeRows(m(rows));
    rows.forEach((r, i) => {
      const n = Math.hypot(...r.map(f));
      // A subnormal norm is rounded to float32 subnormal steps (2^-149).
      expect(Math.abs(norms[i] - n), `row ${i}`).toBeLessThanOrEqual(Math.max(n * 2 ** -22, 2 ** -149));
      for (let j = 0; j < 2; j++)
        expect(Math.abs(unit[i * 2 + j] - (n > 0 ? f(r[j]) / n : 0)), `row ${i}`).toBeLessThan(1e-6);
    });
    const e = await Promise.resolve()
      .then(() =>
        k.rowNorms(
          m([
            [1, 2],
            [3e38, 3e38],
          ]),
        ),
      )
      .catch((x: CosineKitError) => x);
    expect(e).toMatchObject({ code: 'INVALID_ARGUMENT', op: 'rowNorms', arg: 'x' });
    expect((e as CosineKitError).message).toContain('row 1');
  });
});

describe('an out on the memory of an input is never written before the input is read (found by a probe)', () => {
  /** Row-major `rows x cols` values on a SharedArrayBuffer, and the same memory through a second SharedArrayBuffer object. */
  const twoObjects = (rows: number, cols: number, extra: number): [Float32Array, Float32Array] => {
    const sab = new SharedArrayBuffer((rows * cols + extra) * 4);
    const x = new Float32Array(sab, 0, rows * cols);
    for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.37) + (i % 3) * 0.1;
    return [x, new Float32Array(structuredClone(sab))];
  };
  const cos64 = (a: Float32Array, i: number, b: Float32Array, j: number, d: number) => {
    let ab = 0;
    let aa = 0;
    let bb = 0;
    for (let t = 0; t < d; t++) {
      ab += a[i * d + t] * b[j * d + t];
      aa += a[i * d + t] ** 2;
      bb += b[j * d + t] ** 2;
    }
    return ab / Math.sqrt(aa * bb);
  };

  it('kit.cosineMatrix: an out on a second SharedArrayBuffer object over b goes through the copying path', async () => {
    // An ungated cosineMatrix that reads b a row at a time and writes that row's column at once,
    // as wasm's stream did: b's later rows, overwritten through out first, gave wrong cosines.
    const streaming = (a: Matrix, b: Matrix, out?: Float32Array) => {
      const r = out ?? new Float32Array(a.rows * b.rows);
      for (let j = 0; j < b.rows; j++)
        for (let i = 0; i < a.rows; i++) r[i * b.rows + j] = cos64(a.data, i, b.data, j, a.cols);
      return r;
    };
    const kit = createCosineKit({
      backend: { name: 'streams-b', ungated: ['cosineMatrix'], kernels: { cosineMatrix: streaming } },
    });
    await kit.ready();
    const d = 8;
    const n = 300;
    const [b, view] = twoObjects(n, d, 0);
    const bCopy = Float32Array.from(b);
    const a = Float32Array.from({ length: 2 * d }, (_, i) => Math.cos(i));
    const out = view.subarray(view.length - 2 * n);
    const m = await kit.cosineMatrix(new Tensor(a, 2, d), new Tensor(b, n, d), { out });
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < n; j++)
        expect(Math.abs(m.data[i * n + j] - cos64(a, i, bCopy, j, d))).toBeLessThan(1e-6);
  });

  it('sync normalize: v and out on two SharedArrayBuffer objects, shifted, give the right values', () => {
    const [v, view] = twoObjects(1, 4, 1);
    v.set([3, 4, 0, 12]);
    const out = view.subarray(1, 5);
    normalize(v, out);
    expect(Array.from(out).map((x) => +x.toFixed(6))).toEqual([0.230769, 0.307692, 0, 0.923077]);
  });

  it('the kernel table: cosineMatrix into b, addBias, activation and activationGrad into shifted views', async () => {
    const k = await createCosineKit({ backend: createReferenceBackend() }).kernels();
    const d = 4;
    const n = 200;
    const a = Float32Array.from({ length: 3 * d }, (_, i) => Math.cos(i));
    const b = Float32Array.from({ length: n * d }, (_, i) => Math.sin(i * 0.37) + 0.1);
    const bCopy = Float32Array.from(b);
    // out over the first 3 x n of b's n x d values: the reference reads b in blocks of 128 rows.
    const big = new Float32Array(Math.max(3 * n, n * d));
    big.set(b);
    const bOn = big.subarray(0, n * d);
    const out = big.subarray(0, 3 * n);
    await k.cosineMatrix({ data: a, rows: 3, cols: d }, { data: bOn, rows: n, cols: d }, out);
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < n; j++)
        expect(Math.abs(out[i * n + j] - cos64(a, i, bCopy, j, d))).toBeLessThan(1e-6);
    // Elementwise kernels into a view one value on: x = [1, 2, 3, 4] as 2 x 2.
    const shifted = async (run: (x: Float32Array, out: Float32Array) => unknown) => {
      const buf = new Float32Array(5);
      buf.set([1, 2, 3, 4]);
      await run(buf.subarray(0, 4), buf.subarray(1, 5));
      return Array.from(buf.subarray(1, 5));
    };
    expect(await shifted((x, o) => k.activation('linear', { data: x, rows: 2, cols: 2 }, o))).toEqual([
      1, 2, 3, 4,
    ]);
    expect(await shifted((x, o) => k.activation('relu', { data: x, rows: 2, cols: 2 }, o))).toEqual([
      1, 2, 3, 4,
    ]);
    expect(await shifted((x, o) => k.addBias({ data: x, rows: 2, cols: 2 }, x.subarray(0, 2), o))).toEqual([
      2, 4, 4, 6,
    ]);
    const dy = Float32Array.of(1, -2, 3, -4);
    expect(
      await shifted((x, o) =>
        k.activationGrad('relu', { data: dy, rows: 2, cols: 2 }, { data: x, rows: 2, cols: 2 }, o),
      ),
    ).toEqual([1, 0, 3, 0]);
    // Exactly in place stays in place.
    const x = Float32Array.of(-1, 2, -3, 4);
    const r = await k.activation('relu', { data: x, rows: 2, cols: 2 }, x);
    expect(Array.from(x)).toEqual([0, 2, 0, 4]);
    expect(r).toBe(x);
  });
});

describe("the kernel table reads a caller's matrix once (found by a probe)", () => {
  it('each field of each matrix is read once per call, the kernel given what was read', async () => {
    // A getter on `data` that called back into the kit ran again while the wasm kernel held the
    // other operand in its scratch; the inner call overwrote it and the outer answered wrong.
    const k = await createCosineKit({ backend: createReferenceBackend() }).kernels();
    const reads: Record<string, number> = {};
    const counted = (name: string, data: Float32Array, rows: number, cols: number) => ({
      get data() {
        reads[`${name}.data`] = (reads[`${name}.data`] ?? 0) + 1;
        return data;
      },
      get rows() {
        reads[`${name}.rows`] = (reads[`${name}.rows`] ?? 0) + 1;
        return rows;
      },
      get cols() {
        reads[`${name}.cols`] = (reads[`${name}.cols`] ?? 0) + 1;
        return cols;
      },
    });
    const x = Float32Array.of(1, 2, 3, 4, 4, 3, 2, 1);
    const calls: [string, () => unknown][] = [
      ['cosineRows', () => k.cosineRows(counted('a', x, 2, 4), counted('b', x, 2, 4))],
      ['cosineMatrix', () => k.cosineMatrix(counted('a', x, 2, 4), counted('b', x, 2, 4))],
      ['topK', () => k.topK(counted('a', x, 2, 4), counted('b', x, 2, 4), 1)],
      ['normalizeRows', () => k.normalizeRows(counted('a', x, 2, 4))],
      ['rowNorms', () => k.rowNorms(counted('a', x, 2, 4))],
      ['matmul', () => k.matmul(counted('a', x, 2, 4), counted('b', x, 2, 4), false, true)],
      [
        'corpusSearch',
        () => k.corpusSearch(k.createCorpus(counted('b', x, 2, 4)) as never, counted('a', x, 2, 4), 1),
      ],
      [
        'corpusMatrix',
        () => k.corpusMatrix(k.createCorpus(counted('b', x, 2, 4)) as never, counted('a', x, 2, 4)),
      ],
    ];
    for (const [op, call] of calls) {
      for (const key of Object.keys(reads)) delete reads[key];
      await call();
      for (const [field, n] of Object.entries(reads)) expect(n, `${op}: ${field}`).toBe(1);
    }
  });
});

describe("the kernel table's dense kernels name their own arguments", () => {
  it("a matmul whose float32 product overflows names 'a' (matmul has no 'x'), addBias and columnSums 'x': the caller's values, not the backend (it was BACKEND_ERROR)", async () => {
    const one = (v: number): Matrix => ({ data: Float32Array.of(v), rows: 1, cols: 1 });
    const calls = (
      k: Awaited<ReturnType<ReturnType<typeof createCosineKit>['kernels']>>,
      v: number,
      w: number,
    ) =>
      [
        ['matmul', 'a', () => k.matmul(one(v), one(w), false, false)],
        ['addBias', 'x', () => k.addBias(one(v), Float32Array.of(w))],
        ['columnSums', 'x', () => k.columnSums!({ data: Float32Array.of(v, w), rows: 2, cols: 1 })],
      ] as const;
    // The reference and a third party's copy of it (whose answers are read, not known by identity).
    for (const backend of ['reference', { name: 'copy', kernels: { ...referenceKernels } }] as const) {
      const k = await createCosineKit({ backend }).kernels();
      for (const [op, arg, call] of [...calls(k, 1e20, 1e20).slice(0, 1), ...calls(k, 3e38, 3e38).slice(1)]) {
        const e = await Promise.resolve()
          .then(call)
          .catch((x: CosineKitError) => x);
        expect(e, op).toMatchObject({ code: 'INVALID_ARGUMENT', op, arg });
        expect((e as CosineKitError).message, op).toMatch(/pass the largest float32/);
      }
    }
    // A row of two (fewer rows than its inner dimension), and a transposed 'a': the inner
    // dimension is the product's, not the smaller side of 'a' (those were missed).
    const k = await createCosineKit({ backend: 'reference' }).kernels();
    const row = { data: Float32Array.of(3e38, 3e38), rows: 1, cols: 2 };
    const col = { data: Float32Array.of(1, 1), rows: 2, cols: 1 };
    for (const [what, call] of [
      ['1 x 2 by 2 x 1', () => k.matmul(row, col, false, false)],
      ['transposed a', () => k.matmul({ ...row, rows: 2, cols: 1 }, col, true, false)],
    ] as const) {
      const e = await Promise.resolve()
        .then(call)
        .catch((x: CosineKitError) => x);
      expect(e, what).toMatchObject({ code: 'INVALID_ARGUMENT', op: 'matmul', arg: 'a' });
    }
    // A kernel that throws, or answers the wrong length, over the same large values: the backend's.
    for (const [what, matmul] of [
      [
        'a throw',
        () => {
          throw new Error('device lost');
        },
      ],
      ['a short answer', () => new Float32Array(0)],
    ] as const) {
      const kt = await createCosineKit({
        backend: { name: 'faulty', kernels: { ...referenceKernels, matmul } },
      }).kernels();
      const e = await Promise.resolve()
        .then(() => kt.matmul(row, col, false, false))
        .catch((x: CosineKitError) => x);
      expect(e, what).toMatchObject({ code: 'BACKEND_ERROR', op: 'matmul', backend: 'faulty' });
    }
    // A kernel answering Infinity for small values is still the backend failing.
    const broken: Backend = {
      name: 'broken',
      kernels: {
        ...referenceKernels,
        matmul: () => Float32Array.of(Number.POSITIVE_INFINITY),
        addBias: () => Float32Array.of(Number.POSITIVE_INFINITY),
        columnSums: () => Float32Array.of(Number.POSITIVE_INFINITY),
      },
    };
    const kb = await createCosineKit({ backend: broken }).kernels();
    for (const [op, , call] of calls(kb, 2, 3)) {
      const e = await Promise.resolve()
        .then(call)
        .catch((x: CosineKitError) => x);
      expect(e, op).toMatchObject({ code: 'BACKEND_ERROR', op, backend: 'broken' });
    }
  });
});

describe('a backend disposed under a kit is named as the backend', () => {
  it("a kernel's DISPOSED about 'backend' keeps that name through every operation", async () => {
    let disposed = false;
    const check = (op: string) => {
      if (disposed)
        argError('DISPOSED', op, 'backend', 'was disposed (backend.dispose()); create a new one.');
    };
    const k = referenceKernels;
    const backend: Backend = {
      name: 'third-party',
      kernels: {
        ...k,
        cosineRows: (a, b) => {
          check('cosineRows');
          return k.cosineRows(a, b);
        },
        topK: (q, c, n) => {
          check('topK');
          return k.topK(q, c, n);
        },
        createCorpus: (x, o) => {
          check('createCorpus');
          return k.createCorpus(x, o);
        },
        corpusSearch: (h, q, n) => {
          check('corpusSearch');
          return k.corpusSearch(h, q, n);
        },
        corpusMatrix: (h, q) => {
          check('corpusMatrix');
          return k.corpusMatrix(h, q);
        },
      },
      dispose: () => {
        disposed = true;
      },
    };
    const kit = createCosineKit({ backend });
    const c = await kit.corpus([
      [1, 0],
      [0, 1],
    ]);
    backend.dispose!();
    for (const [op, call] of [
      ['search', () => c.search([[1, 0]], 1)],
      ['similarity', () => c.similarity([[1, 0]])],
      ['corpus', () => kit.corpus([[1, 0]])],
      ['topK', () => kit.topK([[1, 0]], [[1, 0]], 1)],
      ['cosineRows', () => kit.cosineRows([[1, 0]], [[1, 0]])],
    ] as const) {
      const e = await rejection(call());
      expect(e.code, op).toBe('DISPOSED');
      expect(e.op).toBe(op);
      expect(e.arg, op).toBe('backend');
      expect(e.message).toMatch(/^Argument 'backend' passed to '\w+' was disposed/);
    }
  });
});

describe('corpusFrom names the chunk that holds a bad id', () => {
  it('an id repeated across chunks, or of the wrong type, is named as source[i].ids[j]', async () => {
    const kit = createCosineKit({ backend: 'reference' });
    const chunks = (second: unknown[]) => [
      { rows: [[1, 2]], ids: ['a'] },
      { rows: [[1, 3]], ids: ['b'] },
      {
        rows: [
          [2, 3],
          [3, 1],
        ],
        ids: second as string[],
      },
    ];
    // A small segment size makes every chunk its own segment, as in a large stream.
    for (const segmentBytes of [8, 1 << 20]) {
      for (const [second, code, arg] of [
        [['c', 'a'], 'INVALID_ARGUMENT', 'source[2].ids[1]'],
        [['b', 'c'], 'INVALID_ARGUMENT', 'source[2].ids[0]'],
        [['c', 'c'], 'INVALID_ARGUMENT', 'source[2].ids[1]'],
        [['c', {}], 'INVALID_TYPE', 'source[2].ids[1]'],
        [['c'], 'SHAPE_MISMATCH', 'source[2].ids'],
      ] as const) {
        const e = await rejection(kit.corpusFrom(chunks([...second]), { segmentBytes }));
        expect(e.code, `${second}`).toBe(code);
        expect(e.op).toBe('corpusFrom');
        expect(e.arg, `${second}`).toBe(arg);
      }
      const c = await kit.corpusFrom(chunks(['c', 'd']), { segmentBytes });
      expect((await c.search([[1, 2]], 1)).ids).toEqual(['a']);
    }
  });
});

describe('a Tensor of 0 rows or 0 columns is empty input everywhere', () => {
  for (const [what, backend] of [
    ['reference', 'reference'],
    ['a gated backend', bare],
  ] as const) {
    it(`${what}: every kit operation and corpus method refuses it as EMPTY_INPUT by name`, async () => {
      const kit = createCosineKit({ backend });
      const one = [[1, 2, 3]];
      const c = await kit.corpus(one);
      for (const empty of [new Tensor(new Float32Array(0), 0, 3), new Tensor(new Float32Array(0), 2, 0)]) {
        for (const [op, arg, call] of [
          ['cosineRows', 'a', () => kit.cosineRows(empty, empty)],
          ['cosineMatrix', 'a', () => kit.cosineMatrix(empty, one)],
          ['cosineMatrix', 'b', () => kit.cosineMatrix(one, empty)],
          ['topK', 'corpus', () => kit.topK(one, empty, 1)],
          ['topK', 'queries', () => kit.topK(empty, one, 1)],
          ['rowNorms', 'x', () => kit.rowNorms(empty)],
          ['normalize', 'x', () => kit.normalize(empty)],
          ['corpus', 'rows', () => kit.corpus(empty)],
          ['search', 'queries', () => c.search(empty, 1)],
          ['similarity', 'queries', () => c.similarity(empty)],
          ['add', 'rows', () => c.add(empty)],
        ] as const) {
          const e = await rejection(call());
          expect(e.code, `${op} ${empty.shape}`).toBe('EMPTY_INPUT');
          expect(e.op).toBe(op);
          expect(e.arg, op).toBe(arg);
        }
      }
      expect(c.rows).toBe(1);
    });
  }
});

/** A length-tracking Float32Array over a resizable ArrayBuffer, and the buffer to resize. */
function resizable(values: number[]): [Float32Array, ArrayBuffer & { resize(n: number): void }] {
  const buf = new (ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer)(
    values.length * 4,
    { maxByteLength: 1024 },
  ) as ArrayBuffer & { resize(n: number): void };
  const x = new Float32Array(buf);
  x.set(values);
  return [x, buf];
}

describe('buffers that detach, shrink or grow after they were handed over', () => {
  it('a tensor over a resizable buffer keeps its shape: growing changes nothing, shrinking is DISPOSED by name', async () => {
    const kit = createCosineKit({ backend: 'reference' });
    const [x, buf] = resizable([1, 2, 3, 4]);
    const t = tensor(x, [1, 4]);
    buf.resize(32);
    // The tensor still holds its 4 values: before, it saw 8 and was refused as "shrunk".
    expect(t.data.length).toBe(4);
    const [c] = await kit.cosineRows(t, [[1, 2, 3, 5]]);
    const exact = 34 / Math.sqrt(30 * 39);
    expect(Math.abs(c - exact)).toBeLessThan(1e-6);
    buf.resize(8);
    // Its view is now empty (out of bounds), and every operation refuses it by name.
    expect(t.data.length).toBe(0);
    expect(await rejection(kit.cosineRows(t, [[1, 2, 3, 5]]))).toMatchObject({ code: 'DISPOSED', arg: 'a' });
    expect(() => cosine(t, [1, 2, 3, 4])).toThrow(expect.objectContaining({ code: 'DISPOSED', arg: 'a' }));
  });

  it('a result written into a resizable `out` keeps its 1 x 1 shape when the buffer grows, and is refused once it shrinks', async () => {
    const kit = createCosineKit({ backend: 'reference' });
    const [out, buf] = resizable([0]);
    const m = await kit.cosineMatrix([[1, 2]], [[2, 1]], { out });
    expect(Math.abs(m.data[0] - 0.8)).toBeLessThan(1e-6);
    buf.resize(64);
    // Before: the result's view tracked the buffer, 16 values for a 1 x 1 matrix.
    expect(m.data.length).toBe(1);
    buf.resize(0);
    expect(await rejection(kit.normalize(m))).toMatchObject({ code: 'DISPOSED', op: 'normalize', arg: 'x' });
    expect(await rejection(kit.cosineMatrix([[1]], [[1]], { out: m }))).toMatchObject({
      code: 'DISPOSED',
      arg: 'options.out',
    });
  });

  it('an argument shrunk while a later one is read is DISPOSED on ungated kernels too (a copying kernel answered its lost rows from stale memory)', async () => {
    // Ungated kernels that copy their operands into scratch of the tensors' shapes, as the wasm
    // backend's do: a shrunk view copies fewer values, and the rest is what the scratch held.
    const stale = (m: { data: Float32Array; rows: number; cols: number }) => {
      const x = new Float32Array(m.rows * m.cols).fill(-1);
      x.set(m.data.subarray(0, Math.min(m.data.length, x.length)));
      return { data: x, rows: m.rows, cols: m.cols };
    };
    const kit = createCosineKit({
      backend: {
        name: 'scratch',
        ungated: ['cosineRows', 'cosineMatrix', 'topK'],
        kernels: {
          cosineRows: (a, b, out) => referenceKernels.cosineRows(stale(a), stale(b), out),
          cosineMatrix: (a, b, out) => referenceKernels.cosineMatrix(stale(a), stale(b), out),
          topK: (q, c, k) => referenceKernels.topK(stale(q), stale(c), k),
        },
      },
    });
    await kit.ready();
    const row = [1, 2, 3, 4];
    /** 8 rows whose last one, read, shrinks `buf` to 2 rows. */
    const shrinking = (buf: { resize(n: number): void }) =>
      Array.from({ length: 8 }, (_, i) =>
        i < 7
          ? row
          : new Proxy(row, {
              get(t, p) {
                if (p === '0') buf.resize(2 * 4 * 4);
                return Reflect.get(t, p);
              },
            }),
      );
    const calls: [string, string, (a: Tensor, b: number[][]) => Promise<unknown>][] = [
      ['cosineRows', 'a', (a, b) => kit.cosineRows(a, b)],
      ['cosineMatrix', 'a', (a, b) => kit.cosineMatrix(a, b)],
      ['topK', 'corpus', (a, b) => kit.topK(b, a, 3)],
    ];
    for (const [op, arg, call] of calls) {
      const [x, buf] = resizable(Array(32).fill(1));
      const e = await rejection(call(tensor(x, [8, 4]), shrinking(buf)));
      expect(e, op).toMatchObject({ code: 'DISPOSED', op, arg });
    }
  });

  it("an out tracking a resizable buffer, resized while an async backend runs: DISPOSED when shrunk, the answer when grown (was the backend's fault)", async () => {
    // A backend that answers later and writes into out then, as tfjs does.
    const kit = createCosineKit({
      backend: {
        name: 'later',
        kernels: {
          cosineMatrix: async (a, b, out) => {
            await new Promise((r) => setTimeout(r, 5));
            const r = referenceKernels.cosineMatrix(a, b) as Float32Array;
            if (out === undefined) return r;
            out.set(r);
            return out;
          },
        },
      },
    });
    await kit.ready();
    const a = new Tensor(Float32Array.of(1, 0, 0, 1), 2, 2);
    for (const [what, bytes] of [
      ['shrunk', 4],
      ['grown', 32],
    ] as const) {
      const [out, buf] = resizable([0, 0, 0, 0]);
      const p = kit.cosineMatrix(a, a, { out });
      buf.resize(bytes);
      const r = await p.then(
        (t) => Array.from(t.data),
        (e: unknown) => e,
      );
      if (what === 'shrunk') expect(r, what).toMatchObject({ code: 'DISPOSED', arg: 'options.out' });
      else expect(r, what).toEqual([1, 0, 0, 1]);
    }
  });

  it('the kernel table: an argument shrunk while a later one is read is DISPOSED naming it (a backend read past it)', async () => {
    const k = await createCosineKit({ backend: createReferenceBackend() }).kernels();
    const calls: [string, string, (a: Matrix, b: Matrix) => unknown][] = [
      ['cosineRows', 'a', (a, b) => k.cosineRows(a, b)],
      ['cosineMatrix', 'a', (a, b) => k.cosineMatrix(a, b)],
      ['matmul', 'a', (a, b) => k.matmul(a, b, false, true)],
      ['topK', 'queries', (a, b) => k.topK(a, b, 1)],
      ['activationGrad', 'x', (a, b) => k.activationGrad('relu', a, b)],
    ];
    for (const [op, arg, call] of calls) {
      const [x, buf] = resizable([1, 2, 3, 4, 5, 6, 7, 8]);
      const later = {
        get data() {
          buf.resize(8);
          return Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8);
        },
        rows: 2,
        cols: 4,
      };
      const e = await Promise.resolve()
        .then(() => call({ data: x, rows: 2, cols: 4 }, later))
        .then(
          () => undefined,
          (err: unknown) => err,
        );
      expect(e, op).toMatchObject({ code: 'DISPOSED', op, arg });
    }
    // createCorpus's rows, shrunk by a getter of its options.
    const [x, buf] = resizable([1, 2, 3, 4, 5, 6, 7, 8]);
    const options = {
      get storage() {
        buf.resize(4);
        return 'float32' as const;
      },
    };
    expect(() => k.createCorpus({ data: x, rows: 2, cols: 4 }, options)).toThrow(
      expect.objectContaining({ code: 'DISPOSED', op: 'createCorpus', arg: 'x' }),
    );
  });

  it('new Tensor over a detached buffer is DISPOSED, not a shape mismatch', () => {
    expect(() => new Tensor(detached([1, 2, 3, 4]), 2, 2)).toThrow(
      expect.objectContaining({ code: 'DISPOSED', op: 'tensor', arg: 'data' }),
    );
  });

  it('a detached filter mask, loadCorpus bytes or normalize out is DISPOSED by name (was a TypeError or "length 0")', async () => {
    const kit = createCosineKit({ backend: 'reference' });
    const corpus = await kit.corpus([
      [1, 0],
      [0, 1],
    ]);
    const mask = Uint8Array.of(1, 1);
    structuredClone(mask.buffer, { transfer: [mask.buffer] });
    const e = await rejection(corpus.search([[1, 0]], 1, { filter: { mask } }));
    expect(e).toMatchObject({ code: 'DISPOSED', op: 'search', arg: 'options.filter.mask' });
    expect(e.message).toMatch(/Uint8Array whose buffer was transferred/);
    const bytes = await corpus.save();
    structuredClone(bytes.buffer, { transfer: [bytes.buffer] });
    expect(await rejection(kit.loadCorpus(bytes))).toMatchObject({
      code: 'DISPOSED',
      op: 'loadCorpus',
      arg: 'bytes',
    });
    expect(() => normalize([1, 2], detached([0, 0]))).toThrow(
      expect.objectContaining({ code: 'DISPOSED', op: 'normalize', arg: 'out' }),
    );
    // The corpus carries on.
    expect(Array.from((await corpus.search([[0, 1]], 1)).indices)).toEqual([1]);
  });
});

describe('an onProgress callback that throws or rejects fails its call by name, and never the process', () => {
  const boom = () => {
    throw new Error('progress broke');
  };
  const later = async () => {
    throw new Error('progress broke later');
  };
  it('corpusFrom, saveCorpusFile and loadCorpusFile: INVALID_ARGUMENT naming options.onProgress, its error as cause', async () => {
    const { mkdtemp, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { saveCorpusFile, loadCorpusFile } = await import('../src/fs.js');
    const dir = await mkdtemp(join(tmpdir(), 'ck-progress-'));
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const kit = createCosineKit({ backend: 'reference' });
      const rows = [
        [1, 2],
        [3, -4],
        [0, 1],
      ];
      const corpus = await kit.corpus(rows);
      const path = join(dir, 'c.ckc');
      await saveCorpusFile(corpus, path);
      for (const onProgress of [boom, later]) {
        const calls: [string, () => Promise<unknown>][] = [
          ['corpusFrom', () => kit.corpusFrom([[rows[0]], [rows[1]]], { onProgress })],
          ['saveCorpusFile', () => saveCorpusFile(corpus, join(dir, 'd.ckc'), { onProgress })],
          ['loadCorpusFile', () => loadCorpusFile(kit, path, { onProgress })],
        ];
        for (const [op, call] of calls) {
          const e = await rejection(call());
          expect(e, op).toMatchObject({ code: 'INVALID_ARGUMENT', op, arg: 'options.onProgress' });
          expect((e.cause as Error).message, op).toMatch(/progress broke/);
        }
      }
      await new Promise((r) => setTimeout(r, 20));
      expect(unhandled).toEqual([]);
      // An async callback that resolves is awaited and the calls answer as before.
      const seen: number[] = [];
      const again = await loadCorpusFile(kit, path, { onProgress: async (n) => void seen.push(n) });
      expect(seen).toEqual([3]);
      const [got, want] = [await again.similarity([[1, 1]]), await corpus.similarity([[1, 1]])];
      for (let j = 0; j < 3; j++) {
        const r = rows[j];
        expect(Math.abs(got.data[j] - (r[0] + r[1]) / Math.sqrt(2 * (r[0] ** 2 + r[1] ** 2)))).toBeLessThan(
          1e-6,
        );
        expect(got.data[j]).toBe(want.data[j]);
      }
    } finally {
      process.off('unhandledRejection', onUnhandled);
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('corpus.remove checks the type of each id, as a filter list does', () => {
  it('undefined (a hole), NaN, an object or null among the ids is INVALID_TYPE naming ids[i] (was ignored, as an unknown id)', async () => {
    const kit = createCosineKit({ backend: 'reference' });
    const rows = [
      [1, 0],
      [0, 1],
      [1, 1],
    ];
    for (const ids of [['a', 'b', 'c'], undefined]) {
      const c = await kit.corpus(rows, ids ? { ids } : {});
      const first = ids ? 'a' : 0;
      const holey: unknown[] = [first];
      holey[2] = 2;
      for (const [bad, at] of [
        [holey, 1],
        [[Number.NaN], 0],
        [[first, {}], 1],
        [[null], 0],
      ] as const) {
        const e = await rejection(c.remove(bad as never));
        expect(e, String(bad)).toMatchObject({ code: 'INVALID_TYPE', op: 'remove', arg: `ids[${at}]` });
      }
      // Nothing was removed; unknown ids of the right type are still ignored.
      expect(c.rows).toBe(3);
      expect(await c.remove([ids ? 'zz' : 99, ids ? 'b' : 1])).toBe(1);
      const h = await c.search([[0, 1]], 2);
      expect(Array.from(h.indices)).toEqual([2, 0]);
      expect(Math.abs(h.scores[0] - Math.SQRT1_2)).toBeLessThan(1e-6);
    }
  });
});

describe("rows and ids whose reading throws are the caller's argument, named, not an error from nowhere", () => {
  // Typed as rows for the calls: what the caller hands over looks like any other array.
  const throwingAt = (values: unknown[], at: number): never => {
    const a = [...values];
    Object.defineProperty(a, at, {
      get() {
        throw new Error('getter broke');
      },
    });
    return a as never;
  };
  const badLength = () =>
    new Proxy([1, 2], {
      get(o, k) {
        if (k === 'length') throw new Error('length broke');
        return (o as unknown as Record<string | symbol, unknown>)[k];
      },
    });
  it('kit rows, tensor(), corpus ids, filter lists and remove: INVALID_ARGUMENT naming the argument, the error as cause', async () => {
    const kit = createCosineKit({ backend: 'reference' });
    const corpus = await kit.corpus(
      [
        [1, 0],
        [0, 1],
      ],
      { ids: ['a', 'b'] },
    );
    const cases: [string, string, () => unknown][] = [
      ['cosineMatrix', 'a', () => kit.cosineMatrix([throwingAt([1, 2], 1)], [[1, 2]])],
      ['cosineMatrix', 'a', () => kit.cosineMatrix(throwingAt([1, 2], 0), [1, 2])],
      ['cosineRows', 'b', () => kit.cosineRows([[1, 2]], throwingAt([[1, 2]], 0))],
      ['cosineRows', 'a', () => kit.cosineRows(badLength() as never, [1, 2])],
      ['search', 'queries', () => corpus.search([throwingAt([1, 2], 1)], 1)],
      ['tensor', 'input', () => tensor([throwingAt([1, 2], 1)])],
      ['corpus', 'ids', () => kit.corpus([[1, 2]], { ids: throwingAt(['x'], 0) as never })],
      [
        'search',
        'options.filter.allow',
        () => corpus.search([[1, 0]], 1, { filter: { allow: throwingAt(['a'], 0) as never } }),
      ],
      ['remove', 'ids', () => corpus.remove(throwingAt(['a'], 0) as never)],
    ];
    for (const [op, arg, call] of cases) {
      let e: CosineKitError | undefined;
      try {
        await call();
      } catch (x) {
        e = x as CosineKitError;
      }
      expect(e, `${op} ${arg}`).toMatchObject({ name: 'CosineKitError', code: 'INVALID_ARGUMENT', op, arg });
      expect(String((e!.cause as Error).message), `${op} ${arg}`).toMatch(/broke/);
    }
    // The corpus is as it was.
    expect(corpus.rows).toBe(2);
    expect(Array.from((await corpus.search([[0, 1]], 1)).indices)).toEqual([1]);
  });
});

describe("the caller's own objects failing while read are named at every entry point", () => {
  const throwing = () => {
    const a = [1, 2, 3];
    Object.defineProperty(a, 1, {
      get() {
        throw new Error('getter broke');
      },
    });
    return a;
  };
  it('sync cosine, cosineDistance and normalize: INVALID_ARGUMENT naming the argument, the error as cause (was raw)', () => {
    for (const [op, f, arg] of [
      ['cosine', () => cosine(throwing(), [1, 2, 3]), 'a'],
      ['cosine', () => cosine([1, 2, 3], throwing()), 'b'],
      ['cosineDistance', () => cosineDistance(throwing(), [1, 2, 3]), 'a'],
      ['normalize', () => normalize(throwing()), 'v'],
    ] as const) {
      let e: CosineKitError | undefined;
      try {
        f();
      } catch (err) {
        e = err as CosineKitError;
      }
      expect(e, `${op} ${arg}`).toMatchObject({ code: 'INVALID_ARGUMENT', op, arg });
      expect((e!.cause as Error).message).toBe('getter broke');
    }
    // Arrays are read once: the answer is that of the values read.
    expect(cosine([1, 0], [0, 1])).toBe(0);
    expect(Array.from(normalize([3, 4]))).toEqual([Math.fround(0.6), Math.fround(0.8)]);
  });
  it('corpusFrom: a source whose iterator throws (sync, async, or when asked for one) is INVALID_ARGUMENT naming source', async () => {
    const kit = createCosineKit({ backend: 'reference' });
    const broke = new Error('source broke');
    const row = () => [[1, 2, 3]];
    const sources: [string, unknown][] = [
      [
        'sync',
        (function* () {
          yield row();
          throw broke;
        })(),
      ],
      [
        'async',
        (async function* () {
          yield row();
          throw broke;
        })(),
      ],
      [
        'iterator',
        {
          [Symbol.iterator]() {
            throw broke;
          },
        },
      ],
    ];
    // A result whose `done` or `value` getter throws, sync or async (it escaped raw; a probe).
    const results = (make: () => object): [string, unknown][] => [
      ['sync result', { [Symbol.iterator]: () => ({ next: make }) }],
      ['async result', { [Symbol.asyncIterator]: () => ({ next: async () => make() }) }],
    ];
    sources.push(
      ...results(() => ({
        done: false,
        get value() {
          throw broke;
        },
      })),
      ...results(() => ({
        get done() {
          throw broke;
        },
        value: row(),
      })),
    );
    for (const [name, source] of sources) {
      const e = await rejection(kit.corpusFrom(source as Iterable<number[][]>, { segmentBytes: 8 }));
      expect(e, name).toMatchObject({ code: 'INVALID_ARGUMENT', op: 'corpusFrom', arg: 'source' });
      expect(e.cause, name).toBe(broke);
    }
    // A result that is no object broke the protocol: it was named as chunk 'undefined'.
    for (const [name, source] of results(() => 5 as unknown as object)) {
      const e = await rejection(kit.corpusFrom(source as Iterable<number[][]>));
      expect(e, name).toMatchObject({
        code: 'INVALID_TYPE',
        op: 'corpusFrom',
        arg: 'source',
        message: expect.stringMatching(/next\(\) gives \{ done, value \}; it gave number/),
      });
    }
  });
});

describe('a result too large to allocate is OUT_OF_MEMORY, not a backend that broke', () => {
  it('cosineMatrix of 1e5 x 1e5 from 1e5 x 1 inputs (reference)', async () => {
    const kit = createCosineKit({ backend: 'reference' });
    const x = new Tensor(new Float32Array(100000).fill(1), 100000, 1);
    const e = await rejection(kit.cosineMatrix(x, x));
    expect(e).toMatchObject({ code: 'OUT_OF_MEMORY', op: 'cosineMatrix' });
    // The kit still answers afterwards.
    expect(Array.from((await kit.cosineMatrix([[1, 0]], [[1, 0]])).data)).toEqual([1]);
  });
});

describe('options objects are read once, and their getters failing are named', () => {
  const broke = new Error('option getter broke');
  /** An options object whose `key` getter throws. */
  const throwingAt = (key: string, base: Record<string, unknown> = {}) =>
    Object.defineProperty({ ...base }, key, {
      enumerable: true,
      get() {
        throw broke;
      },
    });
  it('search, similarity, corpus, corpusFrom, cosineMatrix and createCosineKit: INVALID_ARGUMENT naming options (was raw)', async () => {
    const kit = createCosineKit({ backend: 'reference' });
    const c = await kit.corpus([
      [1, 2, 3],
      [3, 2, 1],
    ]);
    const q = [[1, 2, 3]];
    const cases: [string, () => unknown][] = [
      ['search', () => c.search(q, 1, throwingAt('signal') as never)],
      ['search', () => c.search(q, 1, throwingAt('filter') as never)],
      ['similarity', () => c.similarity(q, throwingAt('out') as never)],
      ['corpus', () => kit.corpus(q, throwingAt('storage') as never)],
      ['corpus', () => kit.corpus(q, throwingAt('ids') as never)],
      ['corpusFrom', () => kit.corpusFrom([q], throwingAt('segmentBytes') as never)],
      ['cosineMatrix', () => kit.cosineMatrix(q, q, throwingAt('out') as never)],
      ['createCosineKit', () => createCosineKit(throwingAt('backend') as never)],
    ];
    for (const [op, f] of cases) {
      let e: CosineKitError | undefined;
      try {
        await f();
      } catch (err) {
        e = err as CosineKitError;
      }
      expect(e, op).toMatchObject({ code: 'INVALID_ARGUMENT', op, arg: 'options' });
      expect(e!.cause, op).toBe(broke);
    }
    // Inside a filter: its list's getter names the list, as before.
    const allow = ['a'];
    Object.defineProperty(allow, 0, {
      get() {
        throw broke;
      },
    });
    expect(await rejection(c.search(q, 1, { filter: { allow } }))).toMatchObject({
      code: 'INVALID_ARGUMENT',
      arg: 'options.filter.allow',
    });
  });
  it('a getter answering differently on each read is read once: the value checked is the value used', async () => {
    const kit = createCosineKit({ backend: 'reference' });
    let reads = 0;
    const fickle = Object.defineProperty({}, 'storage', {
      enumerable: true,
      get() {
        reads++;
        return reads === 1 ? 'int8' : 'bogus';
      },
    });
    const c = await kit.corpus([[1, 2, 3]], fickle as never);
    expect(reads).toBe(1);
    expect(c.storage).toBe('int8');
  });
  it('options inherited or on a prototype getter are read as a plain read reads them', async () => {
    const kit = createCosineKit({ backend: 'reference' });
    class Storage {
      get storage() {
        return 'int8' as const;
      }
    }
    expect((await kit.corpus([[1, 2, 3]], new Storage())).storage).toBe('int8');
    const c = await kit.corpus([
      [1, 2, 3],
      [3, 2, 1],
    ]);
    const r = await c.search([[1, 2, 3]], 2, Object.create({ filter: { deny: [0] } }));
    expect(Array.from(r.indices)).toEqual([1]);
  });
  it('a Proxy around a filter mask is INVALID_TYPE naming it (was a TypeError from the engine)', async () => {
    const kit = createCosineKit({ backend: 'reference' });
    const c = await kit.corpus([
      [1, 2, 3],
      [3, 2, 1],
    ]);
    expect(
      await rejection(
        c.search([[1, 2, 3]], 1, { filter: { mask: new Proxy(new Uint8Array(2).fill(1), {}) } }),
      ),
    ).toMatchObject({ code: 'INVALID_TYPE', op: 'search', arg: 'options.filter.mask' });
  });
});

describe('a corpus whose backend was disposed refuses every method by name', () => {
  it('remove, add, search and save are DISPOSED naming the corpus (remove once succeeded)', async () => {
    // The reference's kernels, with a dispose() that disposes its corpora as real backends do.
    const made: { dispose(): void }[] = [];
    const backend: Backend = {
      name: 'disposable',
      kernels: {
        ...referenceKernels,
        async createCorpus(x, o) {
          const h = await referenceKernels.createCorpus(x, o);
          made.push(h);
          return h;
        },
      },
      dispose() {
        for (const h of made) h.dispose();
      },
    };
    const kit = createCosineKit({ backend });
    const c = await kit.corpus(
      [
        [1, 2, 3],
        [3, 2, 1],
        [1, 1, 1],
      ],
      { ids: ['a', 'b', 'c'] },
    );
    await backend.dispose!();
    for (const [op, call] of [
      ['remove', () => c.remove(['a'])],
      ['add', () => c.add([[1, 0, 0]], ['d'])],
      ['search', () => c.search([[1, 2, 3]], 1)],
      ['save', () => c.save()],
    ] as const)
      expect(await rejection(call() as Promise<unknown>), op).toMatchObject({
        code: 'DISPOSED',
        op,
        arg: 'corpus',
      });
  });
});

describe('new SearchResult checks what it is given (it is exported)', () => {
  it('null, counts that are not counts, arrays of the wrong type or length: typed errors naming the field', async () => {
    const { SearchResult } = await import('../src/index.js');
    const ok = { queries: 2, k: 1, indices: new Int32Array(2), scores: new Float32Array(2) };
    expect(new SearchResult(ok, ['a', 'b']).toArray()).toHaveLength(2);
    for (const [r, ids, code, arg] of [
      [null, undefined, 'INVALID_TYPE', 'r'],
      [{ ...ok, queries: -1 }, undefined, 'INVALID_ARGUMENT', 'r.queries'],
      [{ ...ok, k: 1.5 }, undefined, 'INVALID_ARGUMENT', 'r.k'],
      [{ ...ok, indices: [0, 1] }, undefined, 'INVALID_TYPE', 'r.indices'],
      [{ ...ok, scores: new Float64Array(2) }, undefined, 'INVALID_TYPE', 'r.scores'],
      [{ ...ok, indices: new Int32Array(1) }, undefined, 'SHAPE_MISMATCH', 'r.indices'],
      [{ ...ok, scores: new Float32Array(3) }, undefined, 'SHAPE_MISMATCH', 'r.scores'],
      [ok, ['a'], 'SHAPE_MISMATCH', 'ids'],
      [ok, 'ab', 'INVALID_TYPE', 'ids'],
    ] as const)
      expect(() => new SearchResult(r as never, ids as never), `${arg}`).toThrow(
        expect.objectContaining({ name: 'CosineKitError', code, op: 'SearchResult', arg }),
      );
  });
});

describe('the sync functions on an object made from Tensor.prototype or a huge sparse array (found by a probe: raw errors)', () => {
  it('INVALID_ARGUMENT / INVALID_TYPE naming the function and the argument, as the kit names them', async () => {
    const { cosine, cosineDistance, normalize, Tensor } = await import('../src/index.js');
    const fake = Object.create(Tensor.prototype);
    const sparse: number[] = [];
    sparse.length = 2 ** 32 - 1;
    sparse[0] = 1;
    for (const [op, arg, call, code] of [
      ['cosine', 'a', () => cosine(fake, [1, 2]), 'INVALID_ARGUMENT'],
      ['normalize', 'v', () => normalize(fake), 'INVALID_ARGUMENT'],
      ['cosine', 'a', () => cosine(sparse, sparse), 'INVALID_TYPE'],
      ['cosineDistance', 'a', () => cosineDistance(sparse, sparse), 'INVALID_TYPE'],
      ['normalize', 'v', () => normalize(sparse), 'INVALID_TYPE'],
    ] as const)
      expect(call, `${op} ${code}`).toThrow(
        expect.objectContaining({ name: 'CosineKitError', code, op, arg }),
      );
  });
});

describe('new Corpus() is refused by name (it is exported for instanceof; it threw a raw TypeError)', () => {
  it('INVALID_TYPE naming Corpus and saying how to make one', async () => {
    const { Corpus } = await import('../src/index.js');
    for (const args of [[], [[[1, 2]]], [new Float32Array(4), {}]] as unknown[][])
      expect(() => new (Corpus as unknown as new (...a: unknown[]) => unknown)(...args)).toThrow(
        expect.objectContaining({
          name: 'CosineKitError',
          code: 'INVALID_TYPE',
          op: 'Corpus',
          message: expect.stringMatching(/kit\.corpus\(rows\)/),
        }),
      );
  });
});

describe('a save whose onProgress calls the corpus it saves', () => {
  it('saveCorpusFile: an async callback awaiting a search or an add on the same corpus ends, and the file is whole', async () => {
    const { mkdtemp, rm, readFile, readdir } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { saveCorpusFile, loadCorpusFile } = await import('../src/fs.js');
    const dir = await mkdtemp(join(tmpdir(), 'ck-reentrant-'));
    const kit = createCosineKit({ backend: 'reference' });
    try {
      const rows = Array.from({ length: 40 }, (_, i) => [Math.sin(i), Math.cos(i), i % 3]);
      const corpus = await kit.corpus(rows);
      const path = join(dir, 'c.ckc');
      const hits: number[] = [];
      const within = <T>(p: Promise<T>) =>
        Promise.race([
          p,
          new Promise<never>((_, no) => setTimeout(() => no(new Error('the save never ended')), 5000)),
        ]);
      const n = await within(
        saveCorpusFile(corpus, path, {
          onProgress: async () => {
            const r = await corpus.search([[1, 0, 0]], 1);
            hits.push(r.indices[0]);
          },
        }),
      );
      expect(hits.length).toBeGreaterThan(0);
      expect(hits.every((h) => h === hits[0])).toBe(true);
      // The file holds the corpus as it was when the save took its turn: the bytes `save()` gives.
      expect(new Uint8Array(await readFile(path))).toEqual(await corpus.save());
      expect(n).toBe((await readFile(path)).length);
      // A callback that changes the corpus: the save still ends, with the rows it started with.
      let added = 0;
      const path2 = join(dir, 'd.ckc');
      await within(
        saveCorpusFile(corpus, path2, {
          onProgress: async () => {
            if (added++ === 0) await corpus.add([[0, 0, 1]]);
          },
        }),
      );
      expect(corpus.rows).toBe(41);
      const back = await loadCorpusFile(kit, path2);
      expect(back.rows).toBe(40);
      expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
      // A callback that rejects after the corpus call it awaited: the save fails by name, the old file stays.
      const before = await readFile(path);
      const e = await rejection(
        within(
          saveCorpusFile(corpus, path, {
            onProgress: async () => {
              await corpus.search([[1, 0, 0]], 1);
              throw new Error('progress broke after a search');
            },
          }),
        ),
      );
      expect(e).toMatchObject({ code: 'INVALID_ARGUMENT', op: 'saveCorpusFile', arg: 'options.onProgress' });
      expect(new Uint8Array(await readFile(path))).toEqual(new Uint8Array(before));
      expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('an option a call does not take', () => {
  it('is INVALID_ARGUMENT naming it, so a misspelt filter or signal cannot pass unnoticed', async () => {
    const kit = createCosineKit({ backend: 'reference' });
    const corpus = await kit.corpus([
      [1, 0],
      [0, 1],
    ]);
    const calls: [string, string, () => Promise<unknown>][] = [
      ['search', 'options.fliter', () => corpus.search([[1, 0]], 1, { fliter: { allow: [1] } } as never)],
      ['similarity', 'options.sigal', () => corpus.similarity([[1, 0]], { sigal: undefined } as never)],
      [
        'cosineMatrix',
        'options.output',
        () => kit.cosineMatrix([[1, 0]], [[0, 1]], { output: null } as never),
      ],
      ['corpus', 'options.store', () => kit.corpus([[1, 0]], { store: 'int8' } as never)],
    ];
    for (const [op, arg, call] of calls) {
      const e = await rejection(call());
      expect(e, arg).toMatchObject({ code: 'INVALID_ARGUMENT', op, arg });
      expect(e.message).toMatch(/is not an option of/);
    }
    expect(() => createCosineKit({ backend: 'reference', timeout: 5 } as never)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', arg: 'options.timeout' }),
    );
    // Known options still pass, with or without undefined values.
    expect((await corpus.search([[1, 0]], 1, { filter: undefined, signal: undefined })).indices[0]).toBe(0);
    corpus.dispose();
  });
});

describe('an argument past those a call takes (found by a docs review)', () => {
  it('is INVALID_ARGUMENT naming arguments[i]: options handed to a call that takes none were ignored', async () => {
    const kit = createCosineKit({ backend: 'reference' });
    const rows = [
      [1, 0],
      [0, 1],
      [1, 1],
    ];
    const corpus = await kit.corpus(rows, { ids: ['a', 'b', 'c'] });
    const saved = await corpus.save();
    const out = new Float32Array(1);
    // Each was answered as if the extra argument were not there: topK searched every row (row 0
    // first, not row 2), cosineRows left out as it was.
    const more = { filter: { allow: [2] }, signal: AbortSignal.abort(), out };
    const calls: [string, number, () => Promise<unknown>][] = [
      ['topK', 3, () => (kit.topK as Function)([[1, 0]], rows, 2, more)],
      ['cosineRows', 2, () => (kit.cosineRows as Function)([[1, 0]], [[1, 0]], more)],
      ['rowNorms', 1, () => (kit.rowNorms as Function)(rows, more)],
      ['normalize', 1, () => (kit.normalize as Function)(rows, more)],
      ['cosineMatrix', 3, () => (kit.cosineMatrix as Function)(rows, rows, {}, more)],
      ['corpus', 2, () => (kit.corpus as Function)(rows, {}, more)],
      ['corpusFrom', 2, () => (kit.corpusFrom as Function)([rows], {}, more)],
      ['loadCorpus', 1, () => (kit.loadCorpus as Function)(saved, more)],
      ['search', 3, () => (corpus.search as Function)([[1, 0]], 2, {}, more)],
      ['similarity', 2, () => (corpus.similarity as Function)([[1, 0]], {}, more)],
      ['add', 2, () => (corpus.add as Function)([[2, 2]], ['d'], more)],
      ['remove', 1, () => (corpus.remove as Function)(['a'], more)],
      ['save', 0, () => (corpus.save as Function)(more)],
    ];
    for (const [op, i, call] of calls) {
      const e = await rejection(call());
      expect(e, op).toMatchObject({ code: 'INVALID_ARGUMENT', op, arg: `arguments[${i}]` });
      expect(e.message).toMatch(/it would be ignored/);
    }
    // Nothing was changed by the refused calls; trailing undefineds (a wrapper forwarding optional
    // arguments) still pass.
    expect(corpus.rows).toBe(3);
    expect(out[0]).toBe(0);
    const t = await (kit.topK as Function)([[1, 0]], rows, 2, undefined, undefined);
    expect(Array.from(t.indices)).toEqual([0, 2]);
    // So do the index and array a map hands on (list.map(kit.rowNorms) worked before the check).
    const norms = await Promise.all([rows, rows].map(kit.rowNorms));
    expect(Array.from(norms[1])).toEqual(Array.from(await kit.rowNorms(rows)));
    expect(await Promise.all([rows].map(kit.normalize))).toHaveLength(1);
    // A function (a callback the call would never call) is refused as an options object is.
    expect(await rejection((kit.topK as Function)([[1, 0]], rows, 2, () => undefined))).toMatchObject({
      code: 'INVALID_ARGUMENT',
      arg: 'arguments[3]',
    });
    expect((await (corpus.search as Function)([[1, 0]], 1, undefined, undefined)).ids).toEqual(['a']);
    corpus.dispose();
  });
});

describe('a loop of kit calls that never yields to the event loop', () => {
  it('keeps memory bounded: the gate holds two spare buffers, not every one (WeakRefs lived until the loop ended)', async () => {
    const { setFlagsFromString } = await import('node:v8');
    const { runInNewContext } = await import('node:vm');
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const kit = createCosineKit({ backend: 'reference' });
    const d = 2048;
    const big = new Float32Array(201 * d).map((_, i) => Math.sin(i));
    // Collected, then a turn of the event loop for V8's concurrent array-buffer sweeper (on a loaded
    // machine its frees lagged behind gc(), and 35 MB still counted once), then collected again.
    const settle = async () => {
      gc();
      await new Promise((r) => setTimeout(r, 20));
      gc();
      return process.memoryUsage().arrayBuffers;
    };
    const before = await settle();
    // 200 calls, 1 to 200 rows: 160 MB of snapshots in all, every call settling at once.
    for (let i = 1; i <= 200; i++) await kit.normalize(new Tensor(big.subarray(0, i * d), i, d));
    const grown = (await settle()) - before;
    expect(grown).toBeLessThan(32 * 2 ** 20);
  });
});

describe("a signal-like object whose 'aborted' getter throws at any read is named (found by a probe)", () => {
  it('search, similarity and corpusFrom: INVALID_ARGUMENT naming options.signal, never the raw error', async () => {
    // Its first reads were named; a throw at the read that waits on the signal escaped raw (or was
    // blamed on corpusFrom's source).
    const kit = createCosineKit({ backend: 'reference' });
    const c = await kit.corpus(
      new Tensor(
        Float32Array.from({ length: 40 }, (_, i) => Math.sin(i)),
        10,
        4,
      ),
    );
    const q = new Tensor(
      Float32Array.from({ length: 8 }, (_, i) => Math.cos(i)),
      2,
      4,
    );
    const throwingAt = (nth: number) => {
      let n = 0;
      return {
        get aborted() {
          if (++n === nth) throw new Error(`read ${nth}`);
          return false;
        },
        addEventListener() {},
        removeEventListener() {},
      } as unknown as AbortSignal;
    };
    const calls: [string, (signal: AbortSignal) => Promise<unknown>][] = [
      ['search', (signal) => c.search(q, 2, { signal })],
      ['similarity', (signal) => c.similarity(q, { signal })],
      ['corpusFrom', (signal) => kit.corpusFrom([q, q], { signal })],
    ];
    for (const [op, call] of calls)
      for (let nth = 1; nth <= 6; nth++) {
        const e = await call(throwingAt(nth)).then(
          () => undefined,
          (x: unknown) => x,
        );
        if (e !== undefined)
          expect(e, `${op} at read ${nth}`).toMatchObject({
            code: 'INVALID_ARGUMENT',
            arg: 'options.signal',
          });
      }
  });
});

describe('values that cannot be inspected are named, at every entry point', () => {
  /** A revoked Proxy: instanceof, Array.isArray and every read of it throw a TypeError. */
  const revoked = <T extends object>(target: T): T => {
    const r = Proxy.revocable(target, {});
    r.revoke();
    return r.proxy;
  };
  /** What a call did: its typed error's code and argument, or what escaped instead. */
  async function outcome(f: () => unknown): Promise<string> {
    let r: unknown;
    try {
      r = f();
    } catch (e) {
      return `threw ${(e as CosineKitError).code ?? `raw ${String(e)}`} ${(e as CosineKitError).arg}`;
    }
    if (!(r instanceof Promise)) return 'returned';
    return r.then(
      () => 'resolved',
      (e: CosineKitError) => `${e.code ?? `raw ${String(e)}`} ${e.arg}`,
    );
  }

  it('a revoked Proxy as any argument is INVALID_ARGUMENT naming it (a raw TypeError escaped, remove threw synchronously)', async () => {
    const kit = createCosineKit({ backend: 'reference' });
    const rows = [
      [1, 2, 3],
      [3, 2, 1],
    ];
    const c = await kit.corpus(rows, { ids: ['a', 'b'] });
    const arr = () => revoked<number[]>([]);
    const obj = () => revoked<Record<string, never>>({});
    const cases: [() => unknown, string][] = [
      [() => cosine(arr(), [1, 2]), 'threw INVALID_ARGUMENT a'],
      [() => normalize([1, 2], obj() as never), 'threw INVALID_ARGUMENT out'],
      [() => new Tensor(obj() as never, 1, 1), 'threw INVALID_ARGUMENT data'],
      [() => kit.cosineMatrix(rows, rows, obj()), 'INVALID_ARGUMENT options'],
      [() => kit.cosineMatrix(rows, rows, { out: obj() as never }), 'INVALID_ARGUMENT options.out'],
      [() => kit.topK(rows, rows, obj() as never), 'INVALID_K k'],
      [() => kit.corpus(rows, obj()), 'INVALID_ARGUMENT options'],
      [() => kit.corpus(rows, { ids: arr() }), 'INVALID_ARGUMENT ids'],
      [() => kit.corpusFrom([obj() as never]), 'INVALID_ARGUMENT source[0]'],
      [() => kit.corpusFrom([{ rows, ids: arr() }]), 'INVALID_ARGUMENT source[0].ids'],
      [() => kit.loadCorpus(obj() as never), 'INVALID_ARGUMENT bytes'],
      [() => c.search(rows, 1, obj()), 'INVALID_ARGUMENT options'],
      [() => c.search(rows, 1, { signal: obj() as never }), 'INVALID_ARGUMENT options.signal'],
      [() => c.search(rows, 1, { filter: { allow: arr() } }), 'INVALID_ARGUMENT options.filter.allow'],
      [() => c.add([[1, 1, 1]], arr()), 'INVALID_ARGUMENT ids'],
      [() => c.remove(arr()), 'INVALID_ARGUMENT ids'],
      [() => createCosineKit(obj()), 'threw INVALID_ARGUMENT options'],
    ];
    for (const [f, want] of cases) expect(await outcome(f), want).toBe(want);
    expect(c.rows).toBe(2);
    c.dispose();
  });

  it('a value whose String() throws (no prototype) is described, not converted, in the message', async () => {
    const bare = () => Object.create(null) as never;
    const kit = createCosineKit({ backend: 'reference' });
    expect(await outcome(() => createCosineKit({ timeoutMs: bare() }))).toBe(
      'threw INVALID_ARGUMENT timeoutMs',
    );
    expect(await outcome(() => kit.corpus([[1, 2]], { rerank: bare() }))).toBe(
      'INVALID_ARGUMENT options.rerank',
    );
    expect(await outcome(() => kit.topK([[1, 2]], [[1, 2]], bare()))).toBe('INVALID_K k');
    expect(await outcome(() => new Tensor(new Float32Array(2), bare(), 2))).toBe(
      'threw INVALID_ARGUMENT rows',
    );
    // A getter that throws such a value: its text cannot be read, the error still names the argument.
    const rows = Object.defineProperty([[1, 2]], 0, {
      get() {
        throw Object.create(null);
      },
    });
    expect(await outcome(() => kit.corpus(rows))).toBe('INVALID_ARGUMENT rows');
  });

  it('a corpusFrom chunk whose getter throws is named after the chunk, with the error as cause', async () => {
    const kit = createCosineKit({ backend: 'reference' });
    const boom = new Error('boom');
    const chunk = {
      rows: [[1, 2]],
      get ids(): string[] {
        throw boom;
      },
    };
    const e = await rejection(kit.corpusFrom([chunk]));
    expect(e).toMatchObject({ code: 'INVALID_ARGUMENT', arg: 'source[0]' });
    expect(e.cause).toBe(boom);
    // A chunk's id list that is no list is named after its chunk, as its other faults are.
    expect(
      await rejection(
        kit.corpusFrom([
          { rows: [[1, 2]], ids: ['a'] },
          { rows: [[3, 4]], ids: 'b' as never },
        ]),
      ),
    ).toMatchObject({
      code: 'INVALID_TYPE',
      arg: 'source[1].ids',
    });
  });

  it('kit.corpus refuses the stream options it would ignore; names hold no toString calls; getBackend checks its arguments', async () => {
    const kit = createCosineKit({ backend: 'reference' });
    for (const key of ['signal', 'onProgress', 'segmentBytes'])
      expect(await outcome(() => kit.corpus([[1, 2]], { [key]: AbortSignal.abort() } as never))).toBe(
        `INVALID_ARGUMENT options.${key}`,
      );
    // An own constructor whose name is no string: described as an object, the symbol never printed.
    const odd = { constructor: { name: Symbol('s') } };
    expect(await outcome(() => kit.topK([[1, 2]], [[1, 2]], odd as never))).toBe('INVALID_K k');
    expect(await outcome(() => getBackend(Symbol('b') as never))).toBe('INVALID_TYPE name');
    expect(await outcome(() => getBackend(undefined, 42 as never))).toBe('INVALID_TYPE onSkip');
  });

  it('a save whose onProgress throws a value without a prototype names onProgress, not the path', async () => {
    const kit = createCosineKit({ backend: 'reference' });
    const c = await kit.corpus([[1, 2]]);
    const dir = mkdtempSync(join(tmpdir(), 'ck-hostile-'));
    try {
      const e = await rejection(
        saveCorpusFile(c, join(dir, 'c.ckc'), {
          onProgress: () => {
            throw Object.create(null);
          },
        }),
      );
      expect(e).toMatchObject({ code: 'INVALID_ARGUMENT', arg: 'options.onProgress' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a signal whose getter throws on a later read fails the call by name (a raw Error escaped)', async () => {
    const kit = createCosineKit({ backend: 'reference' });
    const c = await kit.corpus([[1, 2]]);
    let reads = 0;
    const signal = {
      get aborted() {
        if (reads++ > 0) throw new Error('later');
        return false;
      },
      addEventListener: () => undefined,
      removeEventListener: () => undefined,
    };
    expect(await outcome(() => c.search([[1, 2]], 1, { signal: signal as never }))).toBe(
      'INVALID_ARGUMENT options.signal',
    );
  });

  it('an id of -0 is held as 0, so a saved and loaded corpus answers the same id', async () => {
    const kit = createCosineKit({ backend: 'reference' });
    const c = await kit.corpus(
      [
        [1, 0],
        [0, 1],
      ],
      { ids: [-0, 1] },
    );
    const before = (await c.search([[1, 0]], 1)).ids![0];
    const after = (await (await kit.loadCorpus(await c.save())).search([[1, 0]], 1)).ids![0];
    expect(Object.is(before, 0)).toBe(true);
    expect(Object.is(after, 0)).toBe(true);
  });
});

describe('values are described as they are, whatever they say of themselves', () => {
  it('a string is quoted, and an own constructor or a subclass does not rename an object', async () => {
    const { describeType, valueText } = await import('../src/backend.js');
    expect(valueText('1')).toBe("'1'");
    expect(valueText(1)).toBe('1');
    expect(valueText('a\nb')).toBe("'a\\nb'");
    expect(valueText('x'.repeat(100))).toBe(`'${'x'.repeat(57)}...'`);
    expect(describeType({ constructor: { name: 'undefined' } })).toBe('Object');
    expect(describeType(Object.create(null))).toBe('object');
    const Anonymous = class extends Float32Array {};
    expect(describeType(new Anonymous(2))).toBe('Float32Array');
    expect(describeType(new (class Mine {})())).toBe('Mine');
    // Through the kit: the message said "got undefined." (an object's own constructor.name).
    const kit = createCosineKit({ backend: bare });
    const e = await rejection(kit.cosineMatrix({ constructor: { name: 'undefined' } } as never, [[1, 2]]));
    expect(e).toMatchObject({
      code: 'INVALID_TYPE',
      arg: 'a',
      message: expect.stringContaining('got Object.'),
    });
    // A subclass without a name that overrides length: "pass a plain ." had no type.
    const Liar = class extends Float32Array {
      override get length() {
        return 1;
      }
    };
    const f = await rejection(kit.cosineMatrix(new Liar(2), [[1, 2]]));
    expect(f.message).toContain('pass a plain Float32Array.');
    // A string where a number is wanted is shown as a string.
    const g = await rejection(kit.corpus([[1, 2]]).then((c) => c.search([[1, 2]], '1' as never)));
    expect(g.message).toContain("'1'");
    kit.dispose();
  });
});

describe("a third-party backend's answers that cannot be read are that backend failing, by name", () => {
  const revoked = () => {
    const r = Proxy.revocable({}, {});
    r.revoke();
    return r.proxy;
  };
  const rows = [
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
  ];
  const R = referenceKernels;
  const corpusGroup = {
    createCorpus: R.createCorpus,
    corpusSearch: R.corpusSearch,
    corpusMatrix: R.corpusMatrix,
  };
  const m = () => ({ data: new Float32Array(4), rows: 2, cols: 2 });
  it('revoked results and throwing fields from every kind of kernel are BACKEND_ERROR naming backend and kernel (a raw TypeError escaped)', async () => {
    const cases: [string, Backend['kernels'], (k: ReturnType<typeof createCosineKit>) => Promise<unknown>][] =
      [
        [
          'topK',
          { topK: () => ({ queries: 1, k: 1, indices: revoked(), scores: Float32Array.of(1) }) as never },
          (k) => k.topK([1, 0, 0], rows, 1),
        ],
        [
          'topK',
          {
            topK: () =>
              ({
                queries: 1,
                k: 1,
                get indices() {
                  throw new Error('indices');
                },
                scores: Float32Array.of(1),
              }) as never,
          },
          (k) => k.topK([1, 0, 0], rows, 1),
        ],
        [
          'corpusSearch',
          { ...corpusGroup, corpusSearch: () => revoked() as never },
          async (k) => (await k.corpus(rows)).search([1, 0, 0], 1),
        ],
        ['createCorpus', { ...corpusGroup, createCorpus: () => revoked() as never }, (k) => k.corpus(rows)],
        [
          'exportCorpus',
          { ...corpusGroup, exportCorpus: () => revoked() as never },
          async (k) => (await k.corpus(rows)).save(),
        ],
        [
          'matmul',
          { matmul: () => revoked() as never },
          async (k) => (await k.kernels()).matmul(m(), m(), false, false),
        ],
      ];
    for (const [kernel, kernels, call] of cases) {
      const kit = createCosineKit({ backend: { name: 'evil', kernels } });
      const e = await rejection(call(kit));
      expect(e, kernel).toMatchObject({
        name: 'CosineKitError',
        code: 'BACKEND_ERROR',
        backend: 'evil',
        kernel,
      });
      kit.dispose();
    }
  });

  it('a describe() that throws or answers what cannot be read fails ready() by name; other values are copied', async () => {
    for (const describe of [
      () => {
        throw revoked();
      },
      () => revoked(),
      () => 5,
    ]) {
      const kit = createCosineKit({ backend: { name: 'evil', kernels: {}, describe: describe as never } });
      expect(await rejection(kit.ready())).toMatchObject({
        code: 'BACKEND_ERROR',
        backend: 'evil',
        kernel: 'describe',
      });
      kit.dispose();
    }
    const kit = createCosineKit({
      backend: { name: 'odd', kernels: {}, describe: () => ({ a: 1, b: { c: 2 } }) as never },
    });
    expect((await kit.ready()).details).toEqual({ a: 1, b: 'Object' });
    kit.dispose();
  });

  it('a backend object that cannot be read, or whose kernels change after the check, is named', async () => {
    expect(() => createCosineKit({ backend: revoked() as never })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', op: 'createCosineKit', arg: 'backend' }),
    );
    let reads = 0;
    const flips = {
      name: 'flips',
      get kernels() {
        return reads++ === 0 ? {} : revoked();
      },
    };
    const kit = createCosineKit({ backend: flips as never });
    expect(await rejection(kit.ready())).toMatchObject({ code: 'BACKEND_INIT_FAILED', arg: 'backend' });
    kit.dispose();
  });
});

describe('the helpers for backend authors check what they are given, by name', () => {
  it('a null, a revoked Proxy, a detached or short matrix, an unknown kernel name: typed errors (raw TypeErrors, silent NaN shapes and files that cannot be read back before)', async () => {
    const b = await import('../src/backend.js');
    const revoked = Proxy.revocable({}, {});
    revoked.revoke();
    const m = (rows: number, cols: number, data: Float32Array = new Float32Array(4)) => ({
      data,
      rows,
      cols,
    });
    const gone = detached([1, 2, 3, 4]);
    const file = {
      rows: 2,
      cols: 2,
      storage: 'float32' as const,
      rerank: 0,
      next: 2,
      ids: null,
      ordinals: Int32Array.of(0, 1),
      exact: Float32Array.of(1, 0, 0, 1),
      half: null,
      codes: null,
      scales: null,
    };
    const cases: [string, () => unknown, string, string, string][] = [
      [
        'resolveKernels(null)',
        () => b.resolveKernels(null as never),
        'resolveKernels',
        'backend',
        'INVALID_TYPE',
      ],
      [
        'resolveKernels, kernels revoked',
        () => b.resolveKernels({ name: 'x', kernels: revoked.proxy } as never),
        'resolveKernels',
        'backend',
        'INVALID_ARGUMENT',
      ],
      [
        'declareKernels(null)',
        () => b.declareKernels(null as never, ['cosineRows']),
        'declareKernels',
        'kernels',
        'INVALID_TYPE',
      ],
      [
        'declareKernels unknown',
        () => b.declareKernels({}, ['nope' as never]),
        'declareKernels',
        'names[0]',
        'INVALID_ARGUMENT',
      ],
      ['checkFinite(null)', () => b.checkFinite('op', 'arg', null as never), 'op', 'arg', 'INVALID_TYPE'],
      ['checkFinite detached', () => b.checkFinite('op', 'arg', m(2, 2, gone)), 'op', 'arg.data', 'DISPOSED'],
      [
        'matmulDims NaN rows',
        () => b.matmulDims(m(Number.NaN, 2), m(2, 2), false, false),
        'matmul',
        'a',
        'SHAPE_MISMATCH',
      ],
      [
        'matmulDims short data',
        () => b.matmulDims(m(2, 2), m(2, 2, new Float32Array(1)), false, false),
        'matmul',
        'b',
        'SHAPE_MISMATCH',
      ],
      [
        'checkSoftmaxArgs undefined logits',
        () => b.checkSoftmaxArgs(undefined as never, new Int32Array(2), 1, 1, undefined, undefined),
        'softmaxCrossEntropy',
        'logits',
        'INVALID_TYPE',
      ],
      [
        'checkSoftmaxArgs bigint scale',
        () => b.checkSoftmaxArgs(m(2, 2), new Int32Array(2), 1n as never, 1, undefined, undefined),
        'softmaxCrossEntropy',
        'scale',
        'INVALID_ARGUMENT',
      ],
      [
        'checkSoftmaxArgs detached targets',
        () => b.checkSoftmaxArgs(m(1, 2, new Float32Array(2)), detachedI32(), 1, 1, undefined, undefined),
        'softmaxCrossEntropy',
        'targets',
        'DISPOSED',
      ],
      [
        'checkColumnSums detached out',
        () => b.checkColumnSums(m(2, 2), gone),
        'columnSums',
        'out',
        'DISPOSED',
      ],
      [
        'encodeCorpusFile(undefined)',
        () => b.encodeCorpusFile(undefined as never),
        'encodeCorpusFile',
        'file',
        'INVALID_TYPE',
      ],
      [
        'encodeCorpusFile rows NaN',
        () => b.encodeCorpusFile({ ...file, rows: Number.NaN }),
        'encodeCorpusFile',
        'file',
        'INVALID_ARGUMENT',
      ],
      [
        'encodeCorpusFile bigint id',
        () => b.encodeCorpusFile({ ...file, ids: [1n, 2n] as never }),
        'encodeCorpusFile',
        'file',
        'INVALID_ARGUMENT',
      ],
      [
        'encodeCorpusFile descending ordinals',
        () => b.encodeCorpusFile({ ...file, ordinals: Int32Array.of(1, 0) }),
        'encodeCorpusFile',
        'file',
        'INVALID_ARGUMENT',
      ],
      [
        'decodeCorpusFile revoked',
        () => b.decodeCorpusFile(revoked.proxy as never),
        'decodeCorpusFile',
        'bytes',
        'INVALID_ARGUMENT',
      ],
      [
        'decodeCorpusFile detached',
        () => b.decodeCorpusFile(detachedU8()),
        'decodeCorpusFile',
        'bytes',
        'DISPOSED',
      ],
      [
        'decodeCorpusFile garbage',
        () => b.decodeCorpusFile(new Uint8Array(64)),
        'decodeCorpusFile',
        'bytes',
        'CORRUPT_DATA',
      ],
    ];
    for (const [what, call, op, arg, code] of cases)
      expect(call, what).toThrow(expect.objectContaining({ name: 'CosineKitError', op, arg, code }));
    // What they accept still works: a valid file round-trips, and unverified writes what it is given.
    expect(b.decodeCorpusFile(b.encodeCorpusFile(file)).ordinals).toEqual(file.ordinals);
    expect(() =>
      b.encodeCorpusFile({ ...file, ordinals: Int32Array.of(1, 0) }, { verify: false }),
    ).not.toThrow();
    expect(b.matmulDims(m(2, 2), m(2, 2), true, false)).toEqual({ m: 2, k: 2, n: 2 });
  });
});

function detachedI32(): Int32Array {
  const x = new Int32Array(2);
  structuredClone(x.buffer, { transfer: [x.buffer] });
  return x;
}

function detachedU8(): Uint8Array {
  const x = new Uint8Array(64);
  structuredClone(x.buffer, { transfer: [x.buffer] });
  return x;
}

describe('a backend whose kernel fields answer differently on each read', () => {
  /** Kernels whose `name` getter answers `first` on read number `at` (from 0) and `other` on every other read. */
  const flipping = (name: string, at: number, first: unknown, other: unknown) => {
    let reads = 0;
    return Object.defineProperty({}, name, {
      enumerable: true,
      get: () => (reads++ === at ? first : other),
    }) as Backend['kernels'];
  };
  it('is resolved from one read of each field: what is checked is what runs (a second read let a raw TypeError escape)', async () => {
    const { resolveKernels } = await import('../src/backend.js');
    const step = () => {};
    for (const name of ['createOptimizerState', 'columnSums', 'softmaxCrossEntropy']) {
      for (let at = 0; at < 6; at++) {
        for (const [first, other] of [
          [step, undefined],
          [undefined, step],
        ]) {
          const kernels = flipping(name, at, first, other);
          let resolved: ReturnType<typeof resolveKernels> | undefined;
          try {
            resolved = resolveKernels({ name: 'flip', kernels });
          } catch (e) {
            // Refusing the backend is fine, by name; a raw TypeError is not.
            expect(e, `${name}, read ${at}`).toMatchObject({ name: 'CosineKitError', op: 'resolveKernels' });
            continue;
          }
          const k = resolved.kernels as unknown as Record<string, unknown>;
          expect(typeof k[name] === 'function' || k[name] === undefined, `${name}, read ${at}`).toBe(true);
        }
      }
    }
  });

  it('cannot have a kernel declared ungated while another function runs in its place', async () => {
    const { declareKernels, resolveKernels } = await import('../src/backend.js');
    const honest = referenceKernels.cosineRows;
    const liar: typeof honest = (a) => new Float32Array(a.rows).fill(0.5);
    const ungated = declareKernels({ cosineRows: honest }, ['cosineRows']);
    for (let at = 0; at < 8; at++) {
      // Every read answers the declared function but one, which answers the liar.
      const kernels = flipping('cosineRows', at, liar, honest);
      const resolved = resolveKernels({ name: 'flip', kernels, ungated });
      const a = { data: Float32Array.of(1, 0), rows: 1, cols: 2 };
      const runsLiar = (resolved.kernels.cosineRows(a, a) as Float32Array)[0] === 0.5;
      expect(runsLiar && resolved.ungated.includes('cosineRows'), `read ${at}`).toBe(false);
    }
  });
});

describe("the kernel table (kit.kernels()) names a caller's non-finite input, on every backend", () => {
  const finite = () => ({ data: Float32Array.of(1, 0, 0, 1), rows: 2, cols: 2 });
  const holding = (v: number) => ({ data: Float32Array.of(1, 0, v, 1), rows: 2, cols: 2 });
  // The reference as a third party would ship it (not known by identity: its answers are read).
  const copy: Backend = { name: 'copy', kernels: { ...referenceKernels } };
  type Table = Awaited<ReturnType<ReturnType<typeof createCosineKit>['kernels']>>;
  const calls: [string, string, (k: Table, bad: ReturnType<typeof holding>) => unknown][] = [
    ['matmul', 'a', (k, x) => k.matmul(x, finite(), false, false)],
    ['matmul', 'b', (k, x) => k.matmul(finite(), x, false, true)],
    ['addBias', 'x', (k, x) => k.addBias(x, Float32Array.of(0, 0))],
    ['addBias', 'bias', (k, x) => k.addBias(finite(), x.data.subarray(2, 4))],
    ['activation', 'x', (k, x) => k.activation('relu', x)],
    ['activationGrad', 'x', (k, x) => k.activationGrad('relu', x, finite())],
    ['activationGrad', 'dy', (k, x) => k.activationGrad('relu', finite(), x)],
    ['columnSums', 'x', (k, x) => k.columnSums!(x)],
    ['rowNorms', 'x', (k, x) => k.rowNorms(x)],
    ['normalizeRows', 'x', (k, x) => k.normalizeRows(x)],
    ['cosineRows', 'b', (k, x) => k.cosineRows(finite(), x)],
    ['cosineMatrix', 'a', (k, x) => k.cosineMatrix(x, finite())],
    ['topK', 'queries', (k, x) => k.topK(x, finite(), 1)],
    ['topK', 'corpus', (k, x) => k.topK(finite(), x, 1)],
    ['createCorpus', 'x', (k, x) => k.createCorpus(x)],
    ['corpusSearch', 'queries', async (k, x) => k.corpusSearch(await k.createCorpus(finite()), x, 1)],
    ['corpusMatrix', 'queries', async (k, x) => k.corpusMatrix(await k.createCorpus(finite()), x)],
  ];
  it('as NON_FINITE naming the kernel and the argument (it was BACKEND_ERROR blaming the backend, or an answer: relu(NaN) = 0, a top-k for a NaN query, a corpus of NaN rows)', async () => {
    for (const backend of ['reference', copy] as const) {
      const k = await createCosineKit({ backend }).kernels();
      for (const [op, arg, call] of calls) {
        for (const v of [Number.NaN, Number.POSITIVE_INFINITY]) {
          const what = `${typeof backend === 'string' ? backend : backend.name}: ${op}(${arg} holding ${v})`;
          let outcome: unknown;
          try {
            outcome = await call(k, holding(v));
          } catch (e) {
            outcome = e;
          }
          expect(outcome, what).toMatchObject({ code: 'NON_FINITE', op, arg });
        }
      }
    }
  });

  it("even where the backend's answer hides the NaN (a GPU shader may drop it; tfjs and webgpu answered finite cosines)", async () => {
    const masking: Backend = {
      name: 'masking',
      kernels: {
        cosineMatrix: (a, b) => new Float32Array(a.rows * b.rows).fill(0.5),
        cosineRows: (a) => new Float32Array(a.rows).fill(0.5),
        rowNorms: (x) => new Float32Array(x.rows).fill(1),
        normalizeRows: (x) => new Float32Array(x.rows * x.cols).fill(0.5),
        matmul: (a, b, ta, tb) => new Float32Array((ta ? a.cols : a.rows) * (tb ? b.rows : b.cols)),
        addBias: (x) => new Float32Array(x.rows * x.cols),
        columnSums: (x) => new Float32Array(x.cols),
      },
    };
    // Declaring the cosine kernels self-checked promises cosines for admitted rows, not a refusal
    // of a NaN handed to the table: the table still scans them.
    for (const backend of [masking, { ...masking, selfChecked: ['cosineMatrix'] } as Backend]) {
      const k = await createCosineKit({ backend }).kernels();
      for (const [op, arg, call] of calls.filter(([op]) => op in masking.kernels)) {
        let outcome: unknown;
        try {
          outcome = await call(k, holding(Number.NaN));
        } catch (e) {
          outcome = e;
        }
        expect(outcome, `${op}(${arg})`).toMatchObject({ code: 'NON_FINITE', op, arg });
      }
    }
  });

  it('and answers finite inputs as before', async () => {
    const k = await createCosineKit({ backend: copy }).kernels();
    for (const [op, , call] of calls) {
      const r = (await call(k, finite())) as unknown;
      expect(r, op).toBeDefined();
    }
    expect(Array.from(await k.matmul(finite(), holding(2), false, false))).toEqual([1, 0, 2, 1]);
  });
});

describe("a backend's name is read when the kit is made and with its kernels, not later", () => {
  it('whatever its getter answers after (a third read, on a corpus the backend could not store as asked, threw raw)', async () => {
    let reads = 0;
    const backend = {
      get name() {
        if (++reads > 2) throw new Error('name read again');
        return 'once';
      },
      // Stores float32 only: an int8 corpus falls back to the reference, naming the backend.
      kernels: {
        createCorpus: (x: Parameters<typeof referenceKernels.createCorpus>[0]) =>
          referenceKernels.createCorpus(x),
        corpusSearch: referenceKernels.corpusSearch,
        corpusMatrix: referenceKernels.corpusMatrix,
      },
    } as Backend;
    const fellBack: string[] = [];
    const kit = createCosineKit({ backend, onFallback: (name) => fellBack.push(name) });
    expect((await kit.ready()).backend).toBe('once');
    const c = await kit.corpus(
      [
        [1, 0],
        [0, 1],
      ],
      { storage: 'int8' },
    );
    expect((await c.search([1, 0], 1)).indices[0]).toBe(0);
    expect(fellBack).toEqual(['once']);
    expect(reads).toBe(2);
  });
});

describe("the kernel table's importCorpus checks the stored corpus it is handed", () => {
  it('a shape, storage or section that does not match, or a non-finite value, is refused by name (WebGPU took rows + 1 and made a corpus of rows it did not have)', async () => {
    // A backend that takes whatever it is given, as WebGPU's importCorpus did.
    let imported = 0;
    const trusting: Backend = {
      name: 'trusting',
      kernels: {
        createCorpus: referenceKernels.createCorpus,
        corpusSearch: referenceKernels.corpusSearch,
        corpusMatrix: referenceKernels.corpusMatrix,
        exportCorpus: referenceKernels.exportCorpus,
        importCorpus: (s) => {
          imported++;
          return referenceKernels.importCorpus!(s);
        },
      },
    };
    const k = await createCosineKit({ backend: trusting }).kernels();
    const good = {
      rows: 2,
      cols: 2,
      storage: 'float32' as const,
      rerank: 0,
      exact: Float32Array.of(1, 0, 0, 1),
      half: null,
      codes: null,
      scales: null,
    };
    const int8 = {
      rows: 2,
      cols: 2,
      storage: 'int8' as const,
      rerank: 0,
      exact: null,
      half: null,
      codes: Int8Array.of(127, 0, 0, 127),
      scales: Float32Array.of(1 / 127, 1 / 127),
    };
    const cases: [string, unknown, string][] = [
      ['rows + 1', { ...good, rows: 3 }, 'SHAPE_MISMATCH'],
      ['cols 0', { ...good, cols: 0 }, 'SHAPE_MISMATCH'],
      ['rows 1.5', { ...good, rows: 1.5 }, 'SHAPE_MISMATCH'],
      ['storage', { ...good, storage: 'int4' }, 'INVALID_ARGUMENT'],
      ['rerank', { ...good, rerank: -1 }, 'INVALID_ARGUMENT'],
      ['no rows', { ...good, exact: null }, 'SHAPE_MISMATCH'],
      ['short rows', { ...good, exact: Float32Array.of(1, 0, 0) }, 'SHAPE_MISMATCH'],
      ['NaN row', { ...good, exact: Float32Array.of(Number.NaN, 0, 0, 1) }, 'NON_FINITE'],
      ['int8 short scales', { ...int8, scales: Float32Array.of(1) }, 'SHAPE_MISMATCH'],
      ['int8 NaN scale', { ...int8, scales: Float32Array.of(Number.NaN, 1) }, 'NON_FINITE'],
      ['int8 codes of another type', { ...int8, codes: Uint8Array.of(1, 0, 0, 1) }, 'SHAPE_MISMATCH'],
      ['int8 code -128', { ...int8, codes: Int8Array.of(-128, 0, 0, 127) }, 'INVALID_ARGUMENT'],
      [
        'float16 rows of another type',
        { ...good, storage: 'float16', exact: null, half: Float32Array.of(0, 0, 0, 0) },
        'SHAPE_MISMATCH',
      ],
      [
        'float16 Infinity',
        { ...good, storage: 'float16', exact: null, half: Uint16Array.of(0x7c00, 0, 0, 0x3c00) },
        'NON_FINITE',
      ],
      ['null', null, 'INVALID_TYPE'],
    ];
    for (const [what, stored, code] of cases) {
      let outcome: unknown;
      try {
        outcome = await k.importCorpus!(stored as never);
      } catch (e) {
        outcome = e;
      }
      expect(outcome, what).toMatchObject({
        code,
        op: 'importCorpus',
        arg: expect.stringMatching(/^stored/),
      });
    }
    expect(imported).toBe(0);
    // What is right still imports, and searches as it should.
    for (const s of [good, int8]) {
      const h = await k.importCorpus!(s);
      expect((await k.corpusSearch(h, { data: Float32Array.of(0, 1), rows: 1, cols: 2 }, 1)).indices[0]).toBe(
        1,
      );
      h.dispose();
    }
    expect(imported).toBe(2);
  });
});

describe('a corpus method called without its corpus', () => {
  it('rejects with INVALID_TYPE naming this and the operation (it threw a TypeError synchronously)', async () => {
    const kit = createCosineKit({ backend: createReferenceBackend() });
    const c = await kit.corpus([
      [1, 2],
      [3, 4],
    ]);
    const { search, similarity, add, remove, save, dispose } = c;
    const calls: [string, () => unknown][] = [
      ['search', () => search([[1, 2]], 1)],
      ['similarity', () => similarity([[1, 2]])],
      ['add', () => add([[1, 2]])],
      ['remove', () => remove([0])],
      ['save', () => save()],
      ['search', () => Corpus.prototype.search.call({}, [[1, 2]], 1)],
    ];
    for (const [op, call] of calls) {
      let out: unknown;
      expect(() => {
        out = call();
      }, op).not.toThrow();
      await expect(out, op).rejects.toMatchObject({ code: 'INVALID_TYPE', op, arg: 'this' });
    }
    expect(() => dispose()).toThrow(
      expect.objectContaining({ code: 'INVALID_TYPE', op: 'dispose', arg: 'this' }),
    );
    // The corpus itself is untouched.
    expect(c.rows).toBe(2);
    expect(Array.from((await c.search([[1, 2]], 1)).indices)).toEqual([0]);
    kit.dispose();
  });

  it("a Proxy of a corpus (a reactive store's wrapper) or an object made from one: its getters and the file helpers refuse it by name (a raw TypeError escaped)", async () => {
    const kit = createCosineKit({ backend: createReferenceBackend() });
    const c = await kit.corpus([
      [1, 2],
      [3, 4],
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'ck-proxy-'));
    try {
      for (const [what, fake] of [
        ['a Proxy', new Proxy(c, {})],
        ['Object.create', Object.create(c) as Corpus],
      ] as const) {
        for (const getter of ['rows', 'disposed'] as const)
          expect(() => fake[getter], `${what}.${getter}`).toThrow(
            expect.objectContaining({ code: 'INVALID_TYPE', op: getter, arg: 'this' }),
          );
        await expect(fake.search([[1, 2]], 1), what).rejects.toMatchObject({
          code: 'INVALID_TYPE',
          arg: 'this',
        });
        const e = await saveCorpusFile(fake, join(dir, 'x.ckc')).catch((x) => x);
        expect(e, what).toMatchObject({ code: 'INVALID_TYPE', op: 'saveCorpusFile', arg: 'corpus' });
        expect(e.message).toMatch(/a Proxy of one, or an object made from one/);
      }
      expect(c.rows).toBe(2);
      expect(c.disposed).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      kit.dispose();
    }
  });
});

/** The reference's resident kernels, with import: quantised corpora stay on a backend that can both export and import them. */
const residentGroup = {
  createCorpus: referenceKernels.createCorpus,
  corpusSearch: referenceKernels.corpusSearch,
  corpusMatrix: referenceKernels.corpusMatrix,
  importCorpus: referenceKernels.importCorpus,
};

describe('rows a backend hands back are checked as loadCorpus checks a file', () => {
  const R = referenceKernels;
  const group = residentGroup;
  const rows = [
    [3, 4, 0],
    [0, 0, 0],
    [0, 1, 1],
    [1, 1, 1],
  ];
  // What the backend broke, the storage, and the kernels it answers with.
  const cases: [string, 'float32' | 'float16' | 'int8', Backend['kernels']][] = [
    [
      'float32 rows halved',
      'float32',
      {
        ...group,
        exportCorpus: async (h) => {
          const s = await R.exportCorpus!(h);
          return { ...s, exact: s.exact!.map((v) => v / 2) };
        },
      },
    ],
    [
      "int8 scales zeroed (the saved file was then refused by loadCorpus as the caller's bytes)",
      'int8',
      {
        ...group,
        exportCorpus: async (h) => {
          const s = await R.exportCorpus!(h);
          return { ...s, scales: new Float32Array(s.scales!.length) };
        },
      },
    ],
    [
      'float16 values that disagree with the float32 rows kept to re-rank',
      'float16',
      {
        ...group,
        exportCorpus: async (h) => {
          const s = await R.exportCorpus!(h);
          return { ...s, half: s.half!.map((v, i) => (i === 0 ? 0x3c00 : v)) };
        },
      },
    ],
    [
      'rows read back scaled',
      'float32',
      { ...group, readCorpus: async (h) => (await R.readCorpus!(h)).map((v) => v * 1.01) },
    ],
  ];

  for (const [what, storage, kernels] of cases)
    it(`${what}: save() rejects BACKEND_ERROR naming the kernel, and the corpus still answers`, async () => {
      const kit = createCosineKit({ backend: { name: 'lossy', kernels } });
      const c = await kit.corpus(rows, { storage, ...(storage === 'float32' ? {} : { rerank: 3 }) });
      const kernel = kernels.exportCorpus ? 'exportCorpus' : 'readCorpus';
      const e = await rejection(c.save());
      expect(e).toMatchObject({ code: 'BACKEND_ERROR', backend: 'lossy', kernel, op: 'save' });
      expect(e.message).toMatch(/row \d+/);
      expect((await c.search([3, 4, 0], 1)).indices[0]).toBe(0);
      kit.dispose();
    });

  it('unit and zero rows pass: the reference exports, saves and loads them on every storage', async () => {
    for (const storage of ['float32', 'float16', 'int8'] as const) {
      const kit = createCosineKit({
        backend: { name: 'honest', kernels: { ...group, exportCorpus: R.exportCorpus } },
      });
      const c = await kit.corpus(rows, { storage });
      const back = await kit.loadCorpus(await c.save());
      const hit = await back.search([0, 1, 1], 2);
      expect(hit.indices[0], storage).toBe(2);
      // The zero row scores 0 (cosine with a zero vector is 0), below the three others' positive scores.
      expect(hit.scores[0], storage).toBeCloseTo(1, 2);
      kit.dispose();
    }
  });
});

describe('an abort rejects a corpus read at once, even while its kernel runs', () => {
  const R = referenceKernels;
  /** A backend whose resident kernels wait for `release()` (never, unless called). */
  function held() {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let started = 0;
    const backend: Backend = {
      name: 'held',
      kernels: {
        createCorpus: R.createCorpus,
        corpusSearch: async (h, q, k) => {
          started++;
          await gate;
          return R.corpusSearch(h, q, k);
        },
        corpusMatrix: async (h, q, out) => {
          started++;
          await gate;
          return R.corpusMatrix(h, q, out);
        },
      },
    };
    return { backend, release, started: () => started };
  }
  const rows = [
    [1, 0],
    [0, 1],
    [1, 1],
  ];
  const settled = async (p: Promise<unknown>) => {
    let done = false;
    p.then(
      () => {
        done = true;
      },
      () => {
        done = true;
      },
    );
    for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
    return done;
  };

  for (const timeoutMs of [0, 60_000])
    it(`search and similarity without out: ABORTED before the kernel settles (timeoutMs ${timeoutMs}: it waited for the kernel, or for ever)`, async () => {
      const h = held();
      const kit = createCosineKit({ backend: h.backend, timeoutMs });
      const c = await kit.corpus(rows);
      for (const call of [
        (signal: AbortSignal) => c.search([1, 0], 1, { signal }),
        (signal: AbortSignal) => c.similarity([1, 0], { signal }),
      ]) {
        const ac = new AbortController();
        const p = call(ac.signal);
        await settled(Promise.resolve());
        ac.abort();
        expect(await rejection(p)).toMatchObject({ code: 'ABORTED' });
      }
      // The abandoned kernels hold the corpus: a later call runs once they settle, on the same rows.
      const later = c.search([0, 1], 1);
      expect(await settled(later)).toBe(false);
      h.release();
      expect((await later).indices[0]).toBe(1);
      kit.dispose();
    });

  it("similarity into the caller's out waits for its running kernel, so nothing is written there after the call settles", async () => {
    const h = held();
    const kit = createCosineKit({ backend: h.backend });
    const c = await kit.corpus(rows);
    const out = new Float32Array(3).fill(-7);
    const ac = new AbortController();
    const p = c.similarity([1, 0], { signal: ac.signal, out });
    await settled(Promise.resolve());
    ac.abort();
    expect(await settled(p)).toBe(false);
    h.release();
    // Its one step ran to the end: the answer stands (an abort is seen between steps).
    const t = await p;
    expect(t.data).toBe(out);
    expect(Array.from(out).map((v) => Math.round(v * 1e4) / 1e4)).toEqual([1, 0, 0.7071]);
    expect(h.started()).toBe(1);
    kit.dispose();
  });
});

describe('a corpus with ids holds at most 2^24 of them (the most a JavaScript Map holds)', () => {
  // Rows of d = 1 (64 MiB) and id lists of that length with no elements: the limit is checked
  // before any id is read. Past it, Map.set threw a raw RangeError after the backend had made the
  // rows' corpus, and an add left some of its ids taken with no rows behind them (a limits probe).
  const n = 2 ** 24 + 1;
  const rows = () => new Tensor(new Float32Array(n).fill(1), n, 1);

  it('corpus, corpusFrom and add refuse more with INVALID_ARGUMENT naming the ids, and the corpus stays as it was', async () => {
    const kit = createCosineKit({ backend: 'reference' });
    for (const make of [
      () => kit.corpus(rows(), { ids: new Array(n) }),
      () => kit.corpusFrom([{ rows: rows(), ids: new Array(n) }]),
    ]) {
      const e = await rejection(make());
      expect(e).toMatchObject({ code: 'INVALID_ARGUMENT', arg: expect.stringMatching(/ids$/) });
      expect(e.message).toMatch(/at most 16777216/);
    }
    const c = await kit.corpus([[1], [-1]], { ids: ['a', 'b'] });
    const e = await rejection(
      c.add(new Tensor(new Float32Array(2 ** 24 - 1).fill(1), 2 ** 24 - 1, 1), new Array(2 ** 24 - 1)),
    );
    expect(e).toMatchObject({ code: 'INVALID_ARGUMENT', op: 'add', arg: 'ids' });
    expect(e.message).toMatch(/the corpus holds 2/);
    expect(c.rows).toBe(2);
    await c.add([[0.5]], ['c']);
    expect((await c.search([1], 3)).ids).toEqual(['a', 'c', 'b']);
    kit.dispose();
  }, 60_000);
});

describe("a backend's own input errors on inputs the kit checked are the backend's", () => {
  it('NON_FINITE or DIMENSION_MISMATCH thrown by a kernel is BACKEND_ERROR naming it (it read as the caller holding NaN)', async () => {
    const kernels: Backend['kernels'] = {
      cosineRows: () => argError('NON_FINITE', 'cosineRows', 'a', 'holds NaN or Infinity at index 0.'),
      cosineMatrix: () => argError('DIMENSION_MISMATCH', 'cosineMatrix', 'b', 'has 3 columns; a has 2.'),
    };
    const kit = createCosineKit({ backend: { name: 'picky', kernels } });
    for (const [call, kernel, code] of [
      [() => kit.cosineRows([[1, 2]], [[3, 4]]), 'cosineRows', 'NON_FINITE'],
      [() => kit.cosineMatrix([[1, 2]], [[3, 4]]), 'cosineMatrix', 'DIMENSION_MISMATCH'],
    ] as const) {
      const e = await rejection(call());
      expect(e).toMatchObject({ code: 'BACKEND_ERROR', backend: 'picky', kernel, cause: { code } });
      expect(e.message).toMatch(/for inputs the kit had checked/);
    }
    kit.dispose();
  });

  it('ABORTED (a kernel has no signal) or DISPOSED naming the kit (not disposed) is BACKEND_ERROR naming it; other codes it names itself by the public name carry its name (were passed on as they were)', async () => {
    const kernels: Backend['kernels'] = {
      cosineRows: () => argError('ABORTED', 'cosineRows', 'options.signal', 'was aborted.'),
      cosineMatrix: () => argError('DISPOSED', 'cosineMatrix', 'kit', 'was disposed.'),
      rowNorms: () => argError('INVALID_ARGUMENT', 'rowNorms', 'x', 'has more rows than this device holds.'),
    };
    const kit = createCosineKit({ backend: { name: 'fibber', kernels } });
    for (const [call, kernel, code] of [
      [() => kit.cosineRows([[1, 2]], [[3, 4]]), 'cosineRows', 'ABORTED'],
      [() => kit.cosineMatrix([[1, 2]], [[3, 4]]), 'cosineMatrix', 'DISPOSED'],
    ] as const) {
      const e = await rejection(call());
      expect(e).toMatchObject({ code: 'BACKEND_ERROR', backend: 'fibber', kernel, cause: { code } });
      expect(e.message).toMatch(
        code === 'ABORTED' ? /given no signal/ : /naming 'kit', which is not disposed/,
      );
    }
    // A device limit is the backend's to state, by the public names it used, now with its name.
    const e = await rejection(kit.rowNorms([[1, 2]]));
    expect(e).toMatchObject({
      code: 'INVALID_ARGUMENT',
      op: 'rowNorms',
      arg: 'x',
      backend: 'fibber',
      kernel: 'rowNorms',
    });
    expect(e.message).toBe("Argument 'x' passed to 'rowNorms' has more rows than this device holds.");
    // The kit is fine.
    expect(Array.from(await kit.normalize([[3, 4]]).then((t) => t.data))).toEqual([
      Math.fround(0.6),
      Math.fround(0.8),
    ]);
    kit.dispose();
  });

  it('a code outside the stable list, UNKNOWN_BACKEND, or CORRUPT_DATA outside importCorpus is BACKEND_ERROR; a kernel argument the public one replaces stays in the message; a negative length is no OUT_OF_MEMORY (a probe)', async () => {
    const { CosineKitError: KitError } = await import('../src/errors.js');
    const kernels: Backend['kernels'] = {
      cosineRows: () => {
        throw new KitError('NOT_A_CODE' as never, 'forged', { op: 'cosineRows', arg: 'a' });
      },
      cosineMatrix: () => argError('UNKNOWN_BACKEND', 'cosineMatrix', 'backend', 'is not registered.'),
      rowNorms: () => argError('CORRUPT_DATA', 'rowNorms', 'x', 'is corrupt.'),
      normalizeRows: () =>
        argError('INVALID_ARGUMENT', 'normalizeRows', 'mode', 'is not one this device knows.'),
      topK: () => new Float32Array(-1) as never,
    };
    const kit = createCosineKit({ backend: { name: 'mixed', kernels } });
    for (const [call, kernel, code] of [
      [() => kit.cosineRows([[1, 2]], [[3, 4]]), 'cosineRows', 'NOT_A_CODE'],
      [() => kit.cosineMatrix([[1, 2]], [[3, 4]]), 'cosineMatrix', 'UNKNOWN_BACKEND'],
      [() => kit.rowNorms([[1, 2]]), 'rowNorms', 'CORRUPT_DATA'],
    ] as const) {
      const e = await rejection(call());
      expect(e, code).toMatchObject({ code: 'BACKEND_ERROR', backend: 'mixed', kernel, cause: { code } });
    }
    // Named by the public argument, the kernel's own still said ('x' was all the caller saw).
    const e = await rejection(kit.normalize([[1, 2]]));
    expect(e).toMatchObject({ code: 'INVALID_ARGUMENT', op: 'normalize', backend: 'mixed' });
    expect(e.message).toMatch(/which said of its argument 'mode': is not one this device knows\./);
    // A bug, not a size: it said "needs more memory ... make the call smaller".
    const t = await rejection(kit.topK([[1, 2]], [[3, 4]], 1));
    expect(t).toMatchObject({ code: 'BACKEND_ERROR', backend: 'mixed', kernel: 'topK' });
    kit.dispose();
  });

  it("a kernel refusing a corpus its own backend made is BACKEND_ERROR, not the caller's corpus; a handle naming the backend but not its own is said to be so (a probe)", async () => {
    // The reference's exportCorpus spread into a backend whose createCorpus wraps its handles.
    type Wrapped = ResidentCorpusLike & { inner: ResidentCorpusLike };
    type ResidentCorpusLike = { rows: number; cols: number; disposed: boolean; dispose(): void };
    const wrap = (inner: ResidentCorpusLike): Wrapped =>
      ({
        backend: 'mixed',
        rows: inner.rows,
        cols: inner.cols,
        inner,
        get disposed() {
          return inner.disposed;
        },
        dispose: () => inner.dispose(),
      }) as Wrapped;
    const kernels = {
      ...referenceKernels,
      createCorpus: async (x: Matrix) => wrap((await referenceKernels.createCorpus(x)) as never),
      corpusSearch: (h: Wrapped, q: Matrix, k: number) =>
        referenceKernels.corpusSearch(h.inner as never, q, k),
      corpusMatrix: (h: Wrapped, q: Matrix, out?: Float32Array) =>
        referenceKernels.corpusMatrix(h.inner as never, q, out),
      readCorpus: (h: Wrapped) => referenceKernels.readCorpus!(h.inner as never),
    } as unknown as Backend['kernels'];
    const kit = createCosineKit({ backend: { name: 'mixed', kernels } });
    const c = await kit.corpus([
      [1, 2],
      [3, 4],
    ]);
    expect((await c.search([1, 2], 1)).indices[0]).toBe(0);
    const e = await rejection(c.save());
    expect(e).toMatchObject({ code: 'BACKEND_ERROR', op: 'save', backend: 'mixed', kernel: 'exportCorpus' });
    expect(e.message).toMatch(/refused a corpus this backend made/);
    kit.dispose();
    // On the kernel table, the caller's handle: still the caller's to answer for, and said plainly.
    const table = await createCosineKit({ backend: 'reference' }).kernels();
    const forged = { backend: 'reference', rows: 1, cols: 2, disposed: false, dispose() {} };
    const f = await rejection(
      (async () =>
        table.corpusSearch(forged as never, { data: Float32Array.of(1, 0), rows: 1, cols: 2 }, 1))(),
    );
    expect(f).toMatchObject({ code: 'INVALID_ARGUMENT', op: 'corpusSearch', arg: 'corpus' });
    expect(f.message).toMatch(/is not a corpus this instance of backend 'reference' made/);
  });

  it("a caller's own out on a growable SharedArrayBuffer is written, not refused as a backend's resizable answer", async () => {
    const growable = () =>
      new Float32Array(
        new (
          SharedArrayBuffer as unknown as new (
            n: number,
            o: { maxByteLength: number },
          ) => SharedArrayBuffer
        )(16, {
          maxByteLength: 64,
        }),
        0,
        4,
      );
    const kit = createCosineKit({ backend: 'reference' });
    const a = [
      [1, 2, 3],
      [3, 1, 0],
    ];
    const b = [
      [1, 2, 2.5],
      [1, 1, 1],
    ];
    const want = Array.from((await kit.cosineMatrix(a, b)).data);
    const out = growable();
    await kit.cosineMatrix(a, b, { out });
    expect(Array.from(out)).toEqual(want);
    const c = await kit.corpus(b);
    const out2 = growable();
    await c.similarity(a, { out: out2 });
    expect(Array.from(out2)).toEqual(want);
    kit.dispose();
  });

  it('answers on resizable buffers from ungated kernels, softmaxCrossEntropy and exportCorpus sections are BACKEND_ERROR too; a self-checked dense answer of a subclass is handed on plain', async () => {
    const onResizable = <T extends Float32Array | Int8Array>(a: T): T => {
      const b = new (ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer)(
        a.byteLength,
        { maxByteLength: 2 * a.byteLength + 8 },
      );
      const v = new (a.constructor as new (b: ArrayBuffer) => T)(b);
      v.set(a as never);
      return v;
    };
    const r = referenceKernels;
    for (const kernel of ['cosineRows', 'rowNorms', 'normalizeRows'] as const) {
      const kit = createCosineKit({
        backend: {
          name: 'stretchy',
          ungated: [kernel],
          kernels: {
            [kernel]: (...args: unknown[]) =>
              onResizable((r[kernel] as (...a: unknown[]) => Float32Array)(...args)),
          },
        },
      });
      const call =
        kernel === 'cosineRows'
          ? kit.cosineRows([[1, 2]], [[3, 4]])
          : kernel === 'rowNorms'
            ? kit.rowNorms([[1, 2]])
            : kit.normalize([[1, 2]]);
      expect(await rejection(call), kernel).toMatchObject({ code: 'BACKEND_ERROR', kernel });
      kit.dispose();
    }
    const soft = createCosineKit({
      backend: {
        name: 'stretchy',
        kernels: {
          softmaxCrossEntropy: (...args: Parameters<NonNullable<typeof r.softmaxCrossEntropy>>) => {
            const o = r.softmaxCrossEntropy!(...args) as { grad: Float32Array; losses: Float32Array };
            return { grad: o.grad, losses: onResizable(o.losses) };
          },
        },
      },
    });
    const table = await soft.kernels();
    const logits = { data: Float32Array.of(1, 2, 3, 4), rows: 2, cols: 2 };
    const e = await rejection(
      Promise.resolve().then(() => table.softmaxCrossEntropy!(logits, Int32Array.of(0, 1), 1, 1)),
    );
    expect(e).toMatchObject({ code: 'BACKEND_ERROR', kernel: 'softmaxCrossEntropy' });
    soft.dispose();
    // exportCorpus of an int8 corpus whose codes lie on a resizable buffer: save() refuses it.
    const exp = createCosineKit({
      backend: {
        name: 'stretchy',
        kernels: {
          ...r,
          exportCorpus: (h) => {
            const st = r.exportCorpus!(h) as { codes: Int8Array | null };
            return { ...st, codes: st.codes && onResizable(st.codes) } as never;
          },
        },
      },
    });
    const c8 = await exp.corpus(
      [
        [1, 2],
        [3, 1],
      ],
      { storage: 'int8' },
    );
    expect(await rejection(c8.save())).toMatchObject({ code: 'BACKEND_ERROR', kernel: 'exportCorpus' });
    exp.dispose();
    // A self-checked matmul answering a subclass whose iterator lies.
    class Lying extends Float32Array {
      override *[Symbol.iterator](): ArrayIterator<number> {
        for (let i = 0; i < this.length; i++) yield 42;
      }
    }
    const mm = createCosineKit({
      backend: {
        name: 'liar',
        selfChecked: ['matmul'],
        kernels: {
          matmul: (...args: Parameters<typeof r.matmul>) => {
            const v = r.matmul(...args) as Float32Array;
            const x = new Lying(v.length);
            x.set(v);
            return x;
          },
        },
      },
    });
    const got = await (await mm.kernels()).matmul(
      { data: Float32Array.of(1, 2, 3, 4), rows: 2, cols: 2 },
      { data: Float32Array.of(1, 0, 0, 1), rows: 2, cols: 2 },
      false,
      false,
    );
    expect(Object.getPrototypeOf(got)).toBe(Float32Array.prototype);
    expect([...got]).toEqual([1, 2, 3, 4]);
    mm.dispose();
  });

  it('an answer on a resizable buffer (its length can change under the caller) is BACKEND_ERROR, self-checked or not', async () => {
    const onResizable = (a: Float32Array): Float32Array => {
      const b = new (ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer)(
        a.byteLength,
        { maxByteLength: 2 * a.byteLength },
      );
      const v = new Float32Array(b);
      v.set(a);
      return v;
    };
    const r = referenceKernels;
    const kernels: Backend['kernels'] = {
      cosineRows: (a, b, out) =>
        out ? r.cosineRows(a, b, out) : onResizable(r.cosineRows(a, b) as Float32Array),
      cosineMatrix: (a, b, out) =>
        out ? r.cosineMatrix(a, b, out) : onResizable(r.cosineMatrix(a, b) as Float32Array),
      topK: (q, x, k) => {
        const t = r.topK(q, x, k) as TopKResult;
        return { ...t, scores: onResizable(t.scores) };
      },
    };
    for (const selfChecked of [[], ['cosineMatrix']] as const) {
      const kit = createCosineKit({ backend: { name: 'stretchy', kernels, selfChecked } });
      for (const [call, kernel] of [
        [() => kit.cosineRows([[1, 2]], [[3, 4]]), 'cosineRows'],
        [() => kit.cosineMatrix([[1, 2]], [[3, 4]]), 'cosineMatrix'],
        [() => kit.topK([[1, 2]], [[3, 4]], 1), 'topK'],
      ] as const) {
        const e = await rejection(call());
        expect(e, `${kernel}, self-checked ${selfChecked.join()}`).toMatchObject({
          code: 'BACKEND_ERROR',
          backend: 'stretchy',
          kernel,
        });
        expect(e.message).toMatch(/resizable buffer/);
      }
      kit.dispose();
    }
  });

  it('an optimiser state that is not what was asked for (42, null, other sizes, another kind, no read) is BACKEND_ERROR from the kernel table, and is released', async () => {
    const r = referenceKernels;
    let released = 0;
    const counted = <T extends object>(st: T): T =>
      Object.assign(st, {
        dispose: () => {
          released++;
        },
      });
    for (const [what, make] of [
      ['42', () => 42],
      ['null', () => null],
      ['other sizes', () => counted(r.createOptimizerState!('adam', [1, 1]) as object)],
      ['another kind', () => counted(r.createOptimizerState!('sgd', [4, 3]) as object)],
      ['no read', () => ({ backend: 'x', kind: 'adam', sizes: [4, 3], disposed: false, dispose() {} })],
    ] as const) {
      const kit = createCosineKit({
        backend: {
          name: 'odd-state',
          kernels: { createOptimizerState: make as never, optimizerStep: r.optimizerStep },
        },
      });
      const table = await kit.kernels();
      const e = await rejection(Promise.resolve().then(() => table.createOptimizerState!('adam', [4, 3])));
      expect(e, what).toMatchObject({
        code: 'BACKEND_ERROR',
        backend: 'odd-state',
        kernel: 'createOptimizerState',
      });
      kit.dispose();
    }
    expect(released).toBe(2);
    // What the reference makes passes.
    const kit = createCosineKit({ backend: { name: 'fine', kernels: {} } });
    const st = await (await kit.kernels()).createOptimizerState!('adam', [4, 3]);
    expect(st.sizes).toEqual([4, 3]);
    st.dispose();
  });

  it('an answer of a Float32Array subclass whose iterator and slice lie reaches the caller as a plain array of the checked values', async () => {
    class Lying extends Float32Array {
      override *[Symbol.iterator](): ArrayIterator<number> {
        for (let i = 0; i < this.length; i++) yield 0.42;
      }
      override slice(): Float32Array<ArrayBuffer> {
        return new Float32Array(this.length).fill(0.42);
      }
    }
    const lying = (v: Float32Array): Float32Array => {
      const x = new Lying(v.length);
      Float32Array.prototype.set.call(x, v);
      return x;
    };
    const r = referenceKernels;
    const kit = createCosineKit({
      backend: {
        name: 'liar',
        kernels: {
          cosineRows: (a, b) => lying(r.cosineRows(a, b) as Float32Array),
          topK: (q, x, k) => {
            const t = r.topK(q, x, k) as TopKResult;
            return { ...t, scores: lying(t.scores) };
          },
        },
      },
    });
    const a = tensor(
      Float32Array.from({ length: 100 * 4 }, (_, i) => Math.sin(i)),
      [100, 4],
    );
    const b = tensor(
      Float32Array.from({ length: 100 * 4 }, (_, i) => Math.cos(7 * i)),
      [100, 4],
    );
    const rows = await kit.cosineRows(a, b);
    expect(Object.getPrototypeOf(rows)).toBe(Float32Array.prototype);
    expect([...rows]).toEqual(Array.from(await createCosineKit({ backend: 'reference' }).cosineRows(a, b)));
    const top = await kit.topK(a, b, 5);
    expect(Object.getPrototypeOf(top.scores)).toBe(Float32Array.prototype);
    expect([...top.scores].includes(Math.fround(0.42))).toBe(false);
    kit.dispose();
  });

  it('a rejection with undefined, null or a string reads as what it was', async () => {
    for (const [value, text] of [
      [undefined, 'threw undefined'],
      [null, 'threw null'],
      ['nope', 'threw string: nope'],
    ] as const) {
      const kit = createCosineKit({
        backend: { name: 'odd', kernels: { cosineRows: () => Promise.reject(value) } },
      });
      const e = await rejection(kit.cosineRows([[1, 2]], [[3, 4]]));
      expect(e).toMatchObject({ code: 'BACKEND_ERROR', backend: 'odd' });
      expect(e.message).toContain(text);
      expect(e.message).not.toMatch(/undefined undefined|null null/);
      kit.dispose();
    }
  });
});

describe("found by a review of this round's changes (each failed before its fix)", () => {
  it('a signal-like object without removeEventListener lets a corpus search settle (it hung, a TypeError unhandled)', async () => {
    const kit = createCosineKit({ backend: 'reference' });
    const c = await kit.corpus([
      [1, 0],
      [0, 1],
    ]);
    const signal = { aborted: false, addEventListener() {} } as unknown as AbortSignal;
    expect((await c.search([1, 0], 1, { signal })).indices[0]).toBe(0);
    expect((await c.similarity([1, 0], { signal })).data.length).toBe(2);
    kit.dispose();
  });

  it("the kernel table's softmaxCrossEntropy names NaN logits NON_FINITE (not the backend's failure)", async () => {
    const k = await createCosineKit({ backend: 'reference' }).kernels();
    const logits = { data: Float32Array.of(1, Number.NaN), rows: 1, cols: 2 };
    const e = await rejection(
      Promise.resolve().then(() => k.softmaxCrossEntropy!(logits, Int32Array.of(0), 1, 1)),
    );
    expect(e).toMatchObject({ code: 'NON_FINITE', arg: 'logits' });
  });

  it("the kernel table's readCorpus answers a quantised corpus's dequantised rows (refused as not unit length)", async () => {
    const k = await createCosineKit({ backend: 'reference' }).kernels();
    const x = { data: Float32Array.from({ length: 40 }, (_, i) => Math.sin(i + 1)), rows: 5, cols: 8 };
    for (const storage of ['int8', 'float16'] as const) {
      const h = await k.createCorpus(x, { storage, rerank: 0 });
      const rows = await k.readCorpus!(h);
      expect(rows.length, storage).toBe(40);
      h.dispose();
    }
  });

  it('exported sections the storage does not hold are ignored, as before (a raw TypeError or a false BACKEND_ERROR)', async () => {
    const R = referenceKernels;
    const group = residentGroup;
    for (const [storage, extra] of [
      ['float32', { half: [] }],
      ['float32', { codes: new Int8Array(0), scales: new Float32Array(0) }],
      ['int8', { exact: new Float32Array(0) }],
    ] as const) {
      const kit = createCosineKit({
        backend: {
          name: 'stale',
          kernels: {
            ...group,
            exportCorpus: async (h) => ({ ...(await R.exportCorpus!(h)), ...extra }) as never,
          },
        },
      });
      const c = await kit.corpus(
        [
          [1, 2],
          [3, 4],
        ],
        { storage, rerank: 0 },
      );
      expect((await (await kit.loadCorpus(await c.save())).search([1, 2], 1)).indices[0], storage).toBe(0);
      kit.dispose();
    }
  });

  it('remove of more than 2^24 unknown ordinals removes none (a raw RangeError), and a filter list that long is refused by name', async () => {
    const kit = createCosineKit({ backend: 'reference' });
    const c = await kit.corpus([
      [1, 0],
      [0, 1],
      [1, 1],
    ]);
    expect(await c.remove(Array.from({ length: 2 ** 24 + 1 }, (_, i) => i + 3))).toBe(0);
    expect(await c.remove([1, 1, 1])).toBe(1);
    expect(c.rows).toBe(2);
    const e = await rejection(c.search([1, 0], 1, { filter: { deny: new Array(2 ** 24 + 1) } }));
    expect(e).toMatchObject({ code: 'INVALID_ARGUMENT', arg: 'options.filter.deny' });
    expect(e.message).toMatch(/mask/);
    kit.dispose();
  }, 60_000);
});

describe('an id list claiming a huge length', () => {
  it('is refused by name before it is copied (copied whole, a sparse array or a Proxy of 2^32 - 1 ids exhausted the heap and ended the process)', async () => {
    const kit = createCosineKit({ backend: 'reference' });
    const c = await kit.corpus(
      [
        [1, 0, 0],
        [0, 1, 0],
        [0, 0, 1],
      ],
      { ids: ['a', 'b', 'c'] },
    );
    const huge = 2 ** 32 - 1;
    const lists: [string, () => unknown[]][] = [
      ['a sparse array', () => new Array(huge)],
      ['a Proxy of ids', () => new Proxy([], { get: (_, k) => (k === 'length' ? huge : 'x') })],
    ];
    for (const [what, list] of lists) {
      const calls: [string, string, () => Promise<unknown>][] = [
        ['corpus', 'ids', () => kit.corpus([[1, 1, 1]], { ids: list() as string[] })],
        ['add', 'ids', () => c.add([[1, 1, 1]], list() as string[])],
        ['remove', 'ids', () => c.remove(list() as string[])],
        [
          'corpusFrom',
          'source[0].ids',
          () => kit.corpusFrom([{ rows: [[1, 1, 1]], ids: list() as string[] }]),
        ],
      ];
      for (const [op, arg, call] of calls) {
        const e = await rejection(call());
        expect(e, `${what}: ${op}`).toMatchObject({ code: 'INVALID_ARGUMENT', op, arg });
        expect(e.message, `${what}: ${op}`).toMatch(/holds 4294967295 ids/);
      }
    }
    // A long list's first bad id is named at once, before the rest is read.
    const holey = new Array(2 ** 20);
    holey[0] = 'a';
    expect(await rejection(c.remove(holey))).toMatchObject({ code: 'INVALID_TYPE', arg: 'ids[1]' });
    expect(c.rows).toBe(3);
    kit.dispose();
  });
});

describe('many corpus reads waiting on one signal', () => {
  it('share one abort listener (eleven made Node warn of a leak), all reject ABORTED at its abort, and it is removed after', async () => {
    const kit = createCosineKit({ backend: 'reference' });
    const c = await kit.corpus([
      [1, 0],
      [0, 1],
    ]);
    const warned: string[] = [];
    const onWarning = (w: Error) => warned.push(w.name);
    process.on('warning', onWarning);
    const ac = new AbortController();
    const done = await Promise.all(
      Array.from({ length: 16 }, () => c.search([1, 0], 1, { signal: ac.signal })),
    );
    expect(done.every((r) => r.indices[0] === 0)).toBe(true);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    const pending = Array.from({ length: 16 }, () => c.search([1, 0], 1, { signal: ac.signal }));
    expect(getEventListeners(ac.signal, 'abort').length).toBeLessThanOrEqual(1);
    ac.abort();
    const codes = await Promise.all(pending.map((p) => rejection(p).then((e) => e.code)));
    expect(new Set(codes)).toEqual(new Set(['ABORTED']));
    await new Promise((r) => setTimeout(r, 10));
    process.off('warning', onWarning);
    expect(warned).not.toContain('MaxListenersExceededWarning');
    kit.dispose();
  });
});

describe('found by a review of the later commits (each failed before its fix)', () => {
  it('encodeCorpusFile writes sections given as plain arrays or other typed arrays (it wrote zeros, and verified them)', async () => {
    const { encodeCorpusFile, decodeCorpusFile } = await import('../src/backend.js');
    const file = {
      rows: 2,
      cols: 2,
      storage: 'float32' as const,
      rerank: 0,
      next: 6,
      ids: null,
      ordinals: [3, 5] as unknown as Int32Array,
      exact: [1, 0, 0, 1] as unknown as Float32Array,
      half: null,
      codes: null,
      scales: null,
    };
    for (const f of [file, { ...file, exact: Float64Array.of(1, 0, 0, 1) as unknown as Float32Array }]) {
      const back = decodeCorpusFile(encodeCorpusFile(f));
      expect(Array.from(back.exact!)).toEqual([1, 0, 0, 1]);
      expect(Array.from(back.ordinals)).toEqual([3, 5]);
    }
  });

  it('a wait given a signal that has already fired leaves no listener on it, even while its work is pending', async () => {
    const { orAbort } = await import('../src/errors.js');
    const ac = new AbortController();
    ac.abort();
    const e = await rejection(orAbort('search', new Promise<never>(() => undefined), ac.signal));
    expect(e).toMatchObject({ code: 'ABORTED', op: 'search' });
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    // Its work rejecting later is handled (no unhandled rejection).
    await rejection(orAbort('search', Promise.reject(new Error('late')), ac.signal));
  });
});
