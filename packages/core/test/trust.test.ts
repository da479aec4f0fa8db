import { describe, expect, it, vi } from 'vitest';
import {
  type Backend,
  CosineKitError,
  type ResidentCorpus,
  referenceKernels,
  type TopKResult,
} from '../src/backend.js';
import { scoreTolerance } from '../src/guard.js';
import { createCosineKit, Tensor } from '../src/index.js';
import { failure } from './fixtures/data.js';

/** The reference backend with some kernels replaced. */
function withKernels(kernels: Partial<Backend['kernels']>, name = 'third-party'): Backend {
  return { name, kernels: { ...referenceKernels, ...kernels } };
}

describe('ties: scores reported equal go to the lower index', () => {
  it('d = 1: every positive row scores exactly 1, so the first k rows win (topK and corpus search)', async () => {
    const kit = createCosineKit({ backend: 'reference' });
    const c = [[3], [0.001], [7e5], [2], [1e-20], [-4], [5]];
    const r = await kit.topK([[2]], c, 3);
    expect(Array.from(r.indices)).toEqual([0, 1, 2]);
    expect(Array.from(r.scores)).toEqual([1, 1, 1]);
    const neg = await kit.topK([[-1]], c, 1);
    expect(Array.from(neg.indices)).toEqual([5]);
    const corpus = await kit.corpus(c);
    expect(Array.from((await corpus.search([[9]], 4)).indices)).toEqual([0, 1, 2, 3]);
    expect(Array.from((await corpus.search([[-9]], 2)).indices)).toEqual([5, 0]);
    corpus.dispose();
  });

  it('a backend that returns equal scores out of index order is put back in order', async () => {
    const kit = createCosineKit({
      backend: withKernels({
        topK: () => ({
          queries: 1,
          k: 3,
          indices: Int32Array.of(4, 2, 0),
          scores: Float32Array.of(0.5, 0.5, 0.25),
        }),
      }),
    });
    // The scores are the rows' cosines (the kit recomputes them): 1/4, 0, 1/2, -1, 1/2.
    const r = await kit.topK(
      [[1, 0]],
      [
        [1, Math.sqrt(15)],
        [0, 1],
        [1, Math.sqrt(3)],
        [-1, 0],
        [1, -Math.sqrt(3)],
      ],
      3,
    );
    expect(Array.from(r.indices)).toEqual([2, 4, 0]);
    expect(Array.from(r.scores)).toEqual([0.5, 0.5, 0.25]);
  });
});

describe('what a backend hands back is checked', () => {
  it('a top-k of the wrong rows with their true scores is caught by the sampled rows it left out', async () => {
    // 200 rows of two values; the query is [1, 0]: row r's cosine is cos(r / 40).
    const c = Array.from({ length: 200 }, (_, r) => [Math.cos(r / 40), Math.sin(r / 40)]);
    const cosOf = (r: number) => Math.fround(Math.cos(r / 40));
    // The last k rows (the worst), each with its own true score: every score passes its recompute.
    const worst = withKernels({
      topK: (_q, _c, k) => ({
        queries: 1,
        k,
        indices: Int32Array.from({ length: k }, (_, i) => 199 - i),
        scores: Float32Array.from({ length: k }, (_, i) => cosOf(199 - i)),
      }),
    });
    const e = await failure(createCosineKit({ backend: worst }).topK([[1, 0]], c, 5));
    expect(e).toMatchObject({ code: 'BACKEND_ERROR', op: 'topK', backend: 'third-party', kernel: 'topK' });
    expect(e.message).toMatch(/left out row \d+ of query 0, whose cosine .* beats the lowest score /);
    // The true top k passes, and so does an answer that names every row (nothing left to sample).
    const right = withKernels({
      topK: (_q, _c, k) => ({
        queries: 1,
        k,
        indices: Int32Array.from({ length: k }, (_, i) => i),
        scores: Float32Array.from({ length: k }, (_, i) => cosOf(i)),
      }),
    });
    expect(Array.from((await createCosineKit({ backend: right }).topK([[1, 0]], c, 5)).indices)).toEqual([
      0, 1, 2, 3, 4,
    ]);
    expect((await createCosineKit({ backend: right }).topK([[1, 0]], c, 200)).indices.length).toBe(200);
  });

  it('over few rows and many queries (where the check is cut to a share of the search) a wrong answer is still caught, and a right one passes', async () => {
    // 256 queries over 100 rows, k = 64: named and sampled rows are most of the matrix, so fewer
    // queries are recomputed than the 256 the check takes at most.
    const q = Array.from({ length: 256 }, (_, i) => [Math.cos(i), Math.sin(i), 0.5]);
    const c = Array.from({ length: 100 }, (_, r) => [Math.sin(r), Math.cos(r), (r % 7) - 3]);
    const right = await createCosineKit({ backend: 'reference' }).topK(q, c, 64);
    // Every query's scores shifted down by 0.01: plausible cosines, none of them the row's.
    const shifted = withKernels({
      topK: () => ({
        queries: 256,
        k: 64,
        indices: right.indices.slice(),
        scores: right.scores.map((s) => s - 0.01),
      }),
    });
    const e = await failure(createCosineKit({ backend: shifted }).topK(q, c, 64));
    expect(e).toMatchObject({ code: 'BACKEND_ERROR', op: 'topK', kernel: 'topK' });
    expect(e.message).toMatch(/returned score .* for row \d+ of query \d+, whose cosine is/);
    const same = withKernels({
      topK: () => ({ queries: 256, k: 64, indices: right.indices.slice(), scores: right.scores.slice() }),
    });
    const got = await createCosineKit({ backend: same }).topK(q, c, 64);
    expect(Array.from(got.indices)).toEqual(Array.from(right.indices));
    // The worst k rows with their true scores for every query but the middle one: caught however
    // few rows (a share cut to one query checked only the middle one, and passed this).
    for (const [queries, rows, k] of [
      [8, 100, 5],
      [2, 100, 5],
    ] as const) {
      const qs = q.slice(0, queries);
      const cs = c.slice(0, rows);
      const m = (await createCosineKit({ backend: 'reference' }).cosineMatrix(qs, cs)).data;
      const worst = withKernels({
        topK: () => {
          const indices = new Int32Array(queries * k);
          const scores = new Float32Array(queries * k);
          for (let i = 0; i < queries; i++) {
            const order = Array.from({ length: rows }, (_, j) => j).sort(
              (x, y) => m[i * rows + y] - m[i * rows + x] || x - y,
            );
            const pick = i === queries >> 1 ? order.slice(0, k) : order.slice(-k);
            pick.forEach((j, t) => {
              indices[i * k + t] = j;
              scores[i * k + t] = m[i * rows + j];
            });
          }
          return { queries, k, indices, scores };
        },
      });
      const err = await failure(createCosineKit({ backend: worst }).topK(qs, cs, k));
      expect(err, `${queries} x ${rows}`).toMatchObject({ code: 'BACKEND_ERROR', kernel: 'topK' });
    }
  });

  it('cosines a rounding step past 1 are clamped; a cosine of 7 is a broken backend', async () => {
    const ok = createCosineKit({
      backend: withKernels({ cosineRows: () => Float32Array.of(1.0000001, -1.0000001) }),
    });
    expect(Array.from(await ok.cosineRows([[1], [1]], [[1], [-1]]))).toEqual([1, -1]);
    const bad = createCosineKit({ backend: withKernels({ cosineRows: () => Float32Array.of(7) }) });
    const e = await failure(bad.cosineRows([[1]], [[1]]));
    expect(e).toMatchObject({
      code: 'BACKEND_ERROR',
      op: 'cosineRows',
      backend: 'third-party',
      kernel: 'cosineRows',
    });
    expect(e.message).toContain('returned 7');
  });

  it("a backend's own exception is wrapped, naming backend, kernel and operation, keeping the cause", async () => {
    const boom = new TypeError('cannot read properties of undefined');
    const kit = createCosineKit({
      backend: withKernels({
        normalizeRows() {
          throw boom;
        },
      }),
    });
    const e = await failure(kit.normalize([[1, 2]]));
    expect(e).toMatchObject({ code: 'BACKEND_ERROR', op: 'normalize', arg: 'x', kernel: 'normalizeRows' });
    expect(e.cause).toBe(boom);
    expect(e.message).toMatch(
      /Argument 'x' passed to 'normalize' failed in backend 'third-party' \(kernel 'normalizeRows'\): TypeError/,
    );
  });

  it('a CosineKitError from a kernel keeps its code and is renamed after the public operation', async () => {
    const kit = createCosineKit({
      backend: withKernels({
        corpusSearch() {
          throw new CosineKitError('DISPOSED', "Argument 'corpus' passed to 'corpusSearch' was disposed.", {
            op: 'corpusSearch',
            arg: 'corpus',
          });
        },
      }),
    });
    const corpus = await kit.corpus([
      [1, 2],
      [3, 4],
    ]);
    const e = await failure(corpus.search([[1, 0]], 1));
    expect(e).toMatchObject({ code: 'DISPOSED', op: 'search', arg: 'corpus' });
    expect(e.message).toBe("Argument 'corpus' passed to 'search' was disposed.");
    expect((e.cause as CosineKitError).op).toBe('corpusSearch');
  });

  it('a corpus handle of the wrong shape is refused and released', async () => {
    let disposed = 0;
    const kit = createCosineKit({
      backend: withKernels({
        createCorpus: (x) => ({
          backend: 'third-party',
          rows: x.rows + 5,
          cols: x.cols,
          disposed: false,
          dispose: () => void disposed++,
        }),
      }),
    });
    const e = await failure(
      kit.corpus([
        [1, 2],
        [3, 4],
        [5, 6],
      ]),
    );
    expect(e).toMatchObject({ code: 'BACKEND_ERROR', op: 'corpus', arg: 'rows', kernel: 'createCorpus' });
    expect(e.message).toContain('8 x 2 for 3 x 2');
    expect(disposed).toBe(1);
    // A handle already disposed when handed over was accepted, then blamed on backend.dispose().
    const gone = createCosineKit({
      backend: withKernels({
        createCorpus: (x) => ({
          backend: 'third-party',
          rows: x.rows,
          cols: x.cols,
          disposed: true,
          dispose: () => {},
        }),
      }),
    });
    expect(await failure(gone.corpus([[1, 2]]))).toMatchObject({
      code: 'BACKEND_ERROR',
      kernel: 'createCorpus',
      message: expect.stringMatching(/already disposed/),
    });
    // A lying importCorpus is named as itself (it was reported as createCorpus).
    const ref = createCosineKit({ backend: 'reference' });
    const bytes = await (await ref.corpus([[1, 2, 3]], { storage: 'int8' })).save();
    const liar = createCosineKit({
      backend: withKernels({
        importCorpus: (s) =>
          ({
            backend: 'third-party',
            rows: s.rows + 1,
            cols: s.cols,
            storage: s.storage,
            disposed: false,
            dispose: () => {},
          }) as never,
      }),
    });
    expect(await failure(liar.loadCorpus(bytes))).toMatchObject({
      code: 'BACKEND_ERROR',
      kernel: 'importCorpus',
    });
  });

  it('a kernel that never settles is abandoned after timeoutMs; 0 turns the watch off', async () => {
    const hang = withKernels({ rowNorms: () => new Promise<Float32Array>(() => undefined) });
    const e = await failure(createCosineKit({ backend: hang, timeoutMs: 15 }).rowNorms([[1]]));
    expect(e).toMatchObject({ code: 'BACKEND_ERROR', op: 'rowNorms', kernel: 'rowNorms' });
    expect(e.message).toContain('did not settle within 15 ms');
    const late = withKernels({
      rowNorms: () => new Promise<Float32Array>((r) => setTimeout(() => r(Float32Array.of(2)), 30)),
    });
    expect(Array.from(await createCosineKit({ backend: late, timeoutMs: 0 }).rowNorms([[2]]))).toEqual([2]);
  });

  it("a timeoutMs past a timer's range (2^31 - 1 ms) is no limit: such a timer fired at once and abandoned a 30 ms kernel and init", async () => {
    const { registerBackend, unregisterBackend } = await import('../src/backend.js');
    const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
    const slow = (): Backend => ({
      ...withKernels({
        rowNorms: async (x) => {
          await sleep(30);
          return referenceKernels.rowNorms(x);
        },
      }),
      init: () => sleep(30),
    });
    const warn = vi.spyOn(process, 'emitWarning');
    try {
      for (const timeoutMs of [2 ** 31 - 1, 2 ** 31, 1e300]) {
        const what = `timeoutMs ${timeoutMs}`;
        expect(
          Array.from(await createCosineKit({ backend: slow(), timeoutMs }).rowNorms([[3, 4]])),
          what,
        ).toEqual([5]);
        registerBackend('slow-timer', slow, -5);
        try {
          const kit = createCosineKit({ backend: 'slow-timer', timeoutMs });
          expect((await kit.ready()).backend, what).toBe('third-party');
          expect(Array.from(await kit.rowNorms([[6, 8]])), what).toEqual([10]);
        } finally {
          unregisterBackend('slow-timer');
        }
      }
      // Node warned of each overflowing timer (TimeoutOverflowWarning): none is made now.
      expect(warn).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
    }
  });

  it('an init() that never settles fails the kit by name after the timeout (at least the default), not forever', async () => {
    vi.useFakeTimers();
    try {
      const stuck: Backend = {
        name: 'stuck',
        kernels: { ...referenceKernels },
        init: () => new Promise(() => undefined),
      };
      const call = failure(createCosineKit({ backend: stuck, timeoutMs: 15 }).rowNorms([[1]]));
      // A short timeoutMs is for kernels: init gets the default 60 s at least.
      await vi.advanceTimersByTimeAsync(1000);
      let settled = false;
      void call.then(() => {
        settled = true;
      });
      await vi.advanceTimersByTimeAsync(0);
      expect(settled).toBe(false);
      await vi.advanceTimersByTimeAsync(60_000);
      const e = await call;
      expect(e).toMatchObject({ code: 'BACKEND_INIT_FAILED', op: 'createCosineKit', arg: 'backend' });
      expect(e.message).toMatch(/'stuck', whose initialisation did not settle within 60000 ms/);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a value thrown or answered that cannot even be read is still the backend failing, by name', async () => {
    const unreadable = () =>
      new Proxy(
        {},
        {
          getPrototypeOf: () => {
            throw new Error('trap');
          },
          get: () => {
            throw new Error('trap');
          },
        },
      );
    const cases: [string, Partial<Backend['kernels']>][] = [
      [
        'throws an object without a prototype',
        {
          rowNorms: () => {
            throw Object.create(null);
          },
        },
      ],
      [
        'throws a Proxy whose traps throw',
        {
          rowNorms: () => {
            throw unreadable();
          },
        },
      ],
      [
        'answers with a throwing then',
        {
          rowNorms: () =>
            Object.defineProperty({}, 'then', {
              get() {
                throw new Error('then');
              },
            }) as never,
        },
      ],
      ['answers with a Proxy whose traps throw', { rowNorms: () => unreadable() as never }],
    ];
    for (const [what, kernels] of cases) {
      const e = await failure(createCosineKit({ backend: withKernels(kernels) }).rowNorms([[3, 4]]));
      expect(e, what).toMatchObject({ code: 'BACKEND_ERROR', op: 'rowNorms', kernel: 'rowNorms' });
    }
    const badInit: Backend = {
      name: 'odd-init',
      kernels: { ...referenceKernels },
      init: () => {
        throw Object.create(null);
      },
    };
    const e = await failure(createCosineKit({ backend: badInit }).rowNorms([[3, 4]]));
    expect(e).toMatchObject({ code: 'BACKEND_INIT_FAILED', op: 'createCosineKit', arg: 'backend' });
    // An init that throws or rejects with a Proxy whose traps throw (its instanceof threw raw).
    for (const init of [
      () => {
        throw unreadable();
      },
      () => Promise.reject(unreadable()),
    ]) {
      const k = createCosineKit({ backend: { name: 'odd-init', kernels: { ...referenceKernels }, init } });
      expect(await failure(k.rowNorms([[3, 4]]))).toMatchObject({ code: 'BACKEND_INIT_FAILED' });
    }
    // Disposed before or while it started (its init says DISPOSED): the call is DISPOSED, not a
    // failed start (was BACKEND_INIT_FAILED).
    const gone: Backend = {
      name: 'gone',
      kernels: { ...referenceKernels },
      init: () =>
        Promise.reject(new CosineKitError('DISPOSED', 'was disposed', { op: 'init', arg: 'backend' })),
    };
    expect(await failure(createCosineKit({ backend: gone }).rowNorms([[3, 4]]))).toMatchObject({
      code: 'DISPOSED',
      op: 'createCosineKit',
      arg: 'backend',
    });
  });

  it('an answer that is a Proxy around a correct typed array is the backend failing (a raw TypeError escaped)', async () => {
    const px = <T extends object>(v: T): T => new Proxy(v, {});
    const kit = createCosineKit({
      backend: withKernels({
        cosineRows: (a, b, out) => px(referenceKernels.cosineRows(a, b, out) as Float32Array),
        rowNorms: (x, out) => px(referenceKernels.rowNorms(x, out) as Float32Array),
        topK: (q, c, k) => {
          const r = referenceKernels.topK(q, c, k) as TopKResult;
          return { ...r, indices: px(r.indices) };
        },
        corpusMatrix: (c, q, out) => px(referenceKernels.corpusMatrix(c, q, out) as Float32Array),
      }),
    });
    const calls: [string, () => Promise<unknown>][] = [
      ['cosineRows', () => kit.cosineRows([1, 2, 3], [3, 2, 1])],
      ['rowNorms', () => kit.rowNorms([1, 2, 3])],
      [
        'topK',
        () =>
          kit.topK(
            [1, 2, 3],
            [
              [1, 0, 0],
              [0, 1, 0],
            ],
            1,
          ),
      ],
      ['similarity', async () => (await kit.corpus([[1, 0, 0]])).similarity([1, 2, 3])],
    ];
    for (const [op, call] of calls) {
      const e = await failure(call());
      expect(e, op).toMatchObject({ code: 'BACKEND_ERROR', op });
    }
  });

  it('a backend declaring its matrices self-checked that answers NaN or 1.5 throughout is still refused (a sample is read)', async () => {
    const bad = (v: number) => (a: { rows: number }, b: { rows: number }) =>
      new Float32Array(a.rows * b.rows).fill(v);
    for (const v of [Number.NaN, 1.5, Number.POSITIVE_INFINITY]) {
      const backend: Backend = {
        name: 'self-checked-liar',
        kernels: { ...referenceKernels, cosineMatrix: bad(v) as never },
        selfChecked: ['cosineMatrix'],
      };
      const kit = createCosineKit({ backend });
      const e = await failure(
        kit.cosineMatrix(
          Array.from({ length: 40 }, (_, i) => [i + 1, 2]),
          [
            [1, 0],
            [0, 1],
            [1, 1],
          ],
        ),
      );
      expect(e, String(v)).toMatchObject({ code: 'BACKEND_ERROR', op: 'cosineMatrix' });
    }
  });

  it("a corpus handle's shape is read once, when checked: one whose count changes later changes nothing", async () => {
    for (const later of [0, 2, 6]) {
      let reads = 0;
      const backend = withKernels({
        createCorpus(x, o) {
          const inner = referenceKernels.createCorpus!(x, o) as ResidentCorpus & { rows: number };
          reads = 0;
          return {
            inner,
            backend: 'third-party',
            get rows() {
              return reads++ < 1 ? inner.rows : later;
            },
            cols: inner.cols,
            storage: inner.storage,
            get disposed() {
              return inner.disposed;
            },
            dispose: () => inner.dispose(),
          } as unknown as ResidentCorpus;
        },
        corpusSearch: (c, q, k) =>
          referenceKernels.corpusSearch!((c as never as { inner: ResidentCorpus }).inner, q, k),
        corpusMatrix: (c, q, out) =>
          referenceKernels.corpusMatrix!((c as never as { inner: ResidentCorpus }).inner, q, out),
        readCorpus: (c) => referenceKernels.readCorpus!((c as never as { inner: ResidentCorpus }).inner),
        exportCorpus: undefined,
        importCorpus: undefined,
        corpusSearchAllowed: undefined,
      });
      const kit = createCosineKit({ backend });
      const rows = [
        [1, 0, 0],
        [0, 1, 0],
        [0, 0, 1],
        [1, 1, 1],
      ];
      const c = await kit.corpus(rows);
      expect(c.rows).toBe(4);
      const hits = await c.search([1, 2, 3], 2);
      expect(Array.from(hits.indices), `later ${later}`).toEqual([3, 2]);
      expect((await c.similarity([1, 2, 3])).data.length).toBe(4);
      expect((await c.save()).length).toBeGreaterThan(0);
    }
  });

  it('a corpus handle whose getters throw is the backend failing, by name, at creation or at a later call', async () => {
    const withGetter = (prop: string, when: () => boolean) =>
      withKernels({
        createCorpus: (x, o) => {
          const h = referenceKernels.createCorpus!(x, o) as object;
          const own =
            Object.getOwnPropertyDescriptor(h, prop) ??
            Object.getOwnPropertyDescriptor(Object.getPrototypeOf(h), prop);
          Object.defineProperty(h, prop, {
            get() {
              if (when()) throw new Error(`${prop} broke`);
              return own?.get ? own.get.call(h) : own?.value;
            },
          });
          return h as never;
        },
      });
    for (const prop of ['rows', 'cols', 'storage', 'backend', 'disposed']) {
      const e = await failure(
        createCosineKit({ backend: withGetter(prop, () => true) }).corpus([
          [1, 0],
          [0, 1],
        ]),
      );
      expect(e, prop).toMatchObject({ code: 'BACKEND_ERROR', op: 'corpus', kernel: 'createCorpus' });
    }
    let broken = false;
    const c = await createCosineKit({ backend: withGetter('disposed', () => broken) }).corpus([
      [1, 0],
      [0, 1],
    ]);
    broken = true;
    const e = await failure(c.search([[1, 0]], 1));
    expect(e).toMatchObject({ code: 'BACKEND_ERROR', op: 'search', arg: 'corpus' });
    expect(e.message).toMatch(/disposed broke/);
  });

  it('kit.kernels() (what @cosinekit/nn drives) checks lengths and finiteness too', async () => {
    const kit = createCosineKit({ backend: withKernels({ matmul: () => new Float32Array(3) }) });
    const k = await kit.kernels();
    const m = { data: new Float32Array(4), rows: 2, cols: 2 };
    const e = await failure((async () => k.matmul(m, m, false, false))());
    expect(e).toMatchObject({ code: 'BACKEND_ERROR', op: 'matmul', kernel: 'matmul' });
    const nan = createCosineKit({
      backend: withKernels({ addBias: () => Float32Array.of(1, Number.NaN, 3, 4) }),
    });
    const kn = await nan.kernels();
    await expect((async () => kn.addBias(m, new Float32Array(2)))()).rejects.toMatchObject({
      code: 'BACKEND_ERROR',
    });
    // Every position is scanned, past many clean calls (the scan is compiled by then): the last
    // of an odd length, the first of a multiple of 4, infinities as well as NaN.
    for (const [len, at, bad] of [
      [7, 6, Number.POSITIVE_INFINITY],
      [5, 4, Number.NaN],
      [8, 0, Number.NEGATIVE_INFINITY],
      [1, 0, Number.NaN],
    ]) {
      let calls = 0;
      const kit = createCosineKit({
        backend: withKernels({
          activation: (_, x) => {
            const o = new Float32Array(x.data.length);
            if (++calls > 2000) o[at] = bad;
            return o;
          },
        }),
      });
      const ka = await kit.kernels();
      const x = { data: new Float32Array(len), rows: 1, cols: len };
      for (let i = 0; i < 2000; i++) ka.activation('relu', x);
      expect(() => ka.activation('relu', x)).toThrow(/returned (NaN|-?Infinity) among its values/);
    }
  });
});

describe('normalizeRows answers are checked as unit rows along their input (values within [-1, 1] were all it checked: rows of 0.1 passed)', () => {
  /** `rows x d` values: row i holds sin(i + 1 + j) scaled by 10^(i mod 5 - 2), row `zero` all zeros. */
  const input = (rows: number, d: number, zero = -1) => {
    const data = new Float32Array(rows * d);
    for (let i = 0; i < rows; i++)
      if (i !== zero)
        for (let j = 0; j < d; j++) data[i * d + j] = Math.sin(i + 1 + 0.7 * j) * 10 ** ((i % 5) - 2);
    return { data, rows, cols: d };
  };
  const tensor = (x: { data: Float32Array; rows: number; cols: number }) =>
    new Tensor(x.data.slice(), x.rows, x.cols);
  /** An answer made from the reference's by `edit` (which may change it in place). */
  const lying = (edit: (o: Float32Array, d: number, rows: number) => void) =>
    withKernels({
      normalizeRows: (x) => {
        const o = referenceKernels.normalizeRows(x) as Float32Array;
        edit(o, x.cols, x.rows);
        return o;
      },
    });
  const scale = (o: Float32Array, by: number) => {
    for (let i = 0; i < o.length; i++) o[i] *= by;
  };
  const lies: [string, (o: Float32Array, d: number, rows: number) => void][] = [
    ['every value 0.1', (o) => o.fill(0.1)],
    ['every row scaled by 0.9', (o) => scale(o, 0.9)],
    ['row 4 scaled by 1.01', (o, d) => scale(o.subarray(4 * d, 5 * d), 1.01)],
    ['every row negated', (o) => scale(o, -1)],
    [
      'rows swapped in pairs',
      (o, d, rows) => {
        for (let i = 0; i + 1 < rows; i += 2) {
          const a = o.slice(i * d, (i + 1) * d);
          o.copyWithin(i * d, (i + 1) * d, (i + 2) * d);
          o.set(a, (i + 1) * d);
        }
      },
    ],
    [
      'values rotated within each row',
      (o, d, rows) => {
        for (let i = 0; i < rows; i++) {
          const r = o.slice(i * d, (i + 1) * d);
          for (let j = 0; j < d; j++) o[i * d + j] = r[(j + 1) % d];
        }
      },
    ],
    ['a non-zero row answered as zero', (o, d) => o.fill(0, d, 2 * d)],
    // Caught where the direction sample reads the row (the first and the last at least): only
    // there is the input read.
    [
      'the zero last row answered as a unit row',
      (o, d) => {
        o.fill(0, 5 * d, 6 * d);
        o[5 * d] = 1;
      },
    ],
  ];

  it('a lie is BACKEND_ERROR from kit.normalize, kit.kernels() and an ungated kernel, naming the kernel', async () => {
    for (const d of [2, 3, 16, 17, 384]) {
      // Rows 0-5, the last zero in the input (its answer must be zero).
      const x = input(6, d, 5);
      for (const [what, edit] of lies) {
        // A rotation of a row of 2 is its own direction only by chance: skipped where it is not a lie.
        if (what.startsWith('values rotated') && d === 2) continue;
        const backend = lying(edit);
        const kit = createCosineKit({ backend });
        const e = await failure(kit.normalize(tensor(x)));
        expect(e, `${what}, d = ${d}`).toMatchObject({
          code: 'BACKEND_ERROR',
          op: 'normalize',
          arg: 'x',
          kernel: 'normalizeRows',
        });
        const table = await kit.kernels();
        const t = await failure((async () => table.normalizeRows(x))());
        expect(t, `${what}, d = ${d}, table`).toMatchObject({
          code: 'BACKEND_ERROR',
          kernel: 'normalizeRows',
        });
        // Declared ungated: the answer is refused there and the gate's call is refused by name.
        const ungated = createCosineKit({ backend: { ...backend, ungated: ['normalizeRows'] } as Backend });
        const u = await failure(ungated.normalize(tensor(x)));
        expect(u, `${what}, d = ${d}, ungated`).toMatchObject({
          code: 'BACKEND_ERROR',
          op: 'normalize',
          kernel: 'normalizeRows',
        });
      }
    }
  });

  it('honest answers pass on awkward shapes, zero rows, huge and subnormal rows, and rows past the sample', async () => {
    const honest = withKernels({ normalizeRows: (x) => referenceKernels.normalizeRows(x) });
    const kit = createCosineKit({ backend: honest });
    const table = await kit.kernels();
    for (const [rows, d] of [
      [1, 1],
      [1, 3],
      [7, 1],
      [5, 17],
      [300, 5],
      [2, 4097],
    ]) {
      const x = input(rows, d, rows > 2 ? 1 : -1);
      const want = referenceKernels.normalizeRows(x) as Float32Array;
      expect(Array.from((await kit.normalize(tensor(x))).data), `${rows} x ${d}`).toEqual(Array.from(want));
      expect(Array.from(await table.normalizeRows(x)), `${rows} x ${d} table`).toEqual(Array.from(want));
    }
    const extreme = { data: Float32Array.of(3e38, -3e38, 1e-45, 0, 2e-45, 1e-45), rows: 3, cols: 2 };
    const n = (await kit.normalize(tensor(extreme))).data;
    expect(Array.from(n.subarray(0, 2)).map((v) => Math.abs(v))).toEqual([
      Math.fround(Math.SQRT1_2),
      Math.fround(Math.SQRT1_2),
    ]);
    expect(Array.from(n.subarray(2, 4))).toEqual([1, 0]);
    // The direction is sampled (64 of 300 rows) but every row's norm is checked: a wrong length in
    // row 150 is caught wherever it is.
    const x = input(300, 8);
    const scaled = lying((o) => scale(o.subarray(8 * 150, 8 * 151), 0.5));
    expect(await failure(createCosineKit({ backend: scaled }).normalize(tensor(x)))).toMatchObject({
      code: 'BACKEND_ERROR',
    });
  });
});

describe('snapshot rule on a backend that reads its inputs late', () => {
  /** A backend whose kernels read their inputs only after a timer: the worst case for a caller's buffer. */
  const late = withKernels({
    cosineMatrix: (a, b) => new Promise((r) => setTimeout(() => r(referenceKernels.cosineMatrix(a, b)), 5)),
    createCorpus: (x, o) => new Promise((r) => setTimeout(() => r(referenceKernels.createCorpus(x, o)), 5)),
  });

  it('cosineMatrix answers for the data at call time, even when the caller overwrites it at once', async () => {
    const kit = createCosineKit({ backend: late });
    const a = Float32Array.of(1, 2, 3, 4);
    const want = await kit.cosineMatrix(new Tensor(a.slice(), 2, 2), new Tensor(a.slice(), 2, 2));
    const t = new Tensor(a, 2, 2);
    const p = kit.cosineMatrix(t, t);
    a.fill(Number.NaN);
    expect(Array.from((await p).data)).toEqual(Array.from(want.data));
  });

  it('ids are copied at call time, and checked against the corpus when the add runs', async () => {
    const kit = createCosineKit({ backend: late });
    const corpus = await kit.corpus([[1, 0]], { ids: ['a'] });
    const ids = ['b'];
    const first = corpus.add([[0, 1]], ids);
    ids[0] = 'a';
    await first;
    // Queued behind the first add: its id repeats one that add brings in.
    const second = corpus.add([[1, 1]], ['c']);
    const third = corpus.add([[2, 1]], ['c']);
    await second;
    await expect(third).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', op: 'add', arg: 'ids[0]' });
    expect((await corpus.search([[0, 1]], 1)).ids).toEqual(['b']);
    expect(corpus.rows).toBe(3);
  });

  it("an answer that shares memory with a pooled snapshot stays the caller's", async () => {
    // Kernels that answer with views of their (pooled) inputs: the kit must not lend those buffers
    // to later calls, or these answers would change under the caller.
    const kit = createCosineKit({
      backend: withKernels({
        // Normalised in place, into the (snapshot) buffer it was handed.
        normalizeRows: (x) => referenceKernels.normalizeRows(x, x.data) as Float32Array,
        cosineRows: (a) => a.data.subarray(0, a.rows),
      }),
    });
    for (const d of [3, 16, 17, 300]) {
      const unit = new Float32Array(d);
      unit[0] = 1;
      const n = await kit.normalize(unit);
      const c = await kit.cosineRows(Float32Array.of(0.25, 0.5), Float32Array.of(1, 1));
      for (let i = 0; i < 20; i++) {
        await kit.normalize(new Float32Array(d).fill(-0.5));
        await kit.cosineRows(Float32Array.of(-0.75, 0), Float32Array.of(1, 1));
      }
      expect(Array.from(n.data)).toEqual(Array.from(unit));
      expect(Array.from(c)).toEqual([0.25]);
    }
  });

  it('a tensor transferred before the call is refused by name', async () => {
    const kit = createCosineKit({ backend: 'reference' });
    const t = new Tensor(Float32Array.of(1, 2), 1, 2);
    structuredClone(t.data.buffer, { transfer: [t.data.buffer] });
    await expect(kit.rowNorms(t)).rejects.toMatchObject({ code: 'DISPOSED', op: 'rowNorms', arg: 'x' });
  });
});

describe('the top-k score check allows for float32 rounding of long rows', () => {
  it('scoreTolerance is 5e-4 up to d = 8388, then d x 2^-24', () => {
    expect(scoreTolerance(1)).toBe(5e-4);
    expect(scoreTolerance(8388)).toBe(5e-4);
    expect(scoreTolerance(500000)).toBeCloseTo(500000 * 2 ** -24, 12);
  });
  it('a backend whose score at d = 500,000 is 1.2e-3 off (float32 rounding) is not called broken; one 0.1 off is', async () => {
    const d = 500000;
    const off = (by: number): Backend => ({
      name: `off-${by}`,
      kernels: {
        topK: (q, c, k) => {
          const r = referenceKernels.topK(q, c, k) as TopKResult;
          return { ...r, scores: r.scores.map((s) => s - by) };
        },
      },
    });
    const row = new Float32Array(d).fill(1);
    const t = new Tensor(row, 1, d);
    const ok = await createCosineKit({ backend: off(1.2e-3) }).topK(t, t, 1);
    expect(ok.scores[0]).toBeCloseTo(1 - 1.2e-3, 6);
    await expect(createCosineKit({ backend: off(0.1) }).topK(t, t, 1)).rejects.toMatchObject({
      code: 'BACKEND_ERROR',
    });
  });
});

describe("answers in views over the kit's own buffers", () => {
  it("a corpus search whose indices are a view over the queries' snapshot keeps them: the buffer is not pooled again", async () => {
    // The kit pools the snapshots it takes of queries. It kept a snapshot out of the pool only when
    // the answer's scores lay on it, so indices written over the queries changed under the caller
    // with the next search.
    const backend: Backend = {
      name: 'indices-over-queries',
      kernels: {
        createCorpus: referenceKernels.createCorpus,
        corpusMatrix: referenceKernels.corpusMatrix,
        readCorpus: referenceKernels.readCorpus,
        async corpusSearch(h, q, k) {
          const r = await referenceKernels.corpusSearch(h, q, k);
          const indices = new Int32Array(q.data.buffer, q.data.byteOffset, r.indices.length);
          indices.set(r.indices);
          return { queries: r.queries, k, indices, scores: r.scores };
        },
      },
    };
    const rows = Array.from({ length: 8 }, (_, i) => Array.from({ length: 8 }, (_, j) => (i === j ? 1 : 0)));
    const corpus = await createCosineKit({ backend }).corpus(rows);
    const first = await corpus.search([rows[5]!], 3);
    const seen = Array.from(first.indices);
    expect(seen[0]).toBe(5);
    for (let i = 0; i < 10; i++) await corpus.search([rows[i % 8]!], 3);
    expect(Array.from(first.indices)).toEqual(seen);
    corpus.dispose();
  });
});

describe("kit.topK's recomputation of the answer, bounded", () => {
  it('still catches a wrong first or lowest score at any k, and a wrong score within the first 64 named, over many queries', async () => {
    // Every named score of every query was recomputed in float64 JavaScript: top-2000 of 2000 rows
    // for 100 queries cost 2.6x the reference's whole search. Past 64 named rows per query and 256
    // queries the check takes an even spread that includes the first and the last of each.
    const wrongAt = (pick: (k: number) => number): Backend => ({
      name: 'wrong-at',
      kernels: {
        topK: (q, c, k) => {
          const r = referenceKernels.topK(q, c, k) as TopKResult;
          const scores = r.scores.slice();
          for (let i = 0; i < r.queries; i++) scores[i * k + pick(k)] -= 0.05;
          return { ...r, scores };
        },
      },
    });
    const data = Array.from({ length: 300 }, (_, i) => [Math.sin(i), Math.cos(i * 1.7), (i % 7) - 3, 1]);
    const queries = data.slice(0, 300);
    for (const [k, pick] of [
      [300, () => 0],
      [300, (n: number) => n - 1],
      [40, () => 17],
    ] as const) {
      const e = await failure(createCosineKit({ backend: wrongAt(pick) }).topK(queries, data, k));
      expect(e, `k=${k}`).toMatchObject({
        code: 'BACKEND_ERROR',
        message: expect.stringMatching(/returned score/),
      });
    }
    // A right answer passes at every size.
    const right = await createCosineKit({
      backend: { name: 'right', kernels: { topK: referenceKernels.topK } },
    }).topK(queries, data, 300);
    expect(right.k).toBe(300);
  });

  it('on a search of few rows, where at least 16 queries are checked, still catches a wrong first or last score of each, four named and two sampled a query (the check had cost 8.6x the kernel)', async () => {
    const wrongAt = (pick: (k: number) => number, query: number): Backend => ({
      name: 'wrong-at',
      kernels: {
        topK: (q, c, k) => {
          const r = referenceKernels.topK(q, c, k) as TopKResult;
          const scores = r.scores.slice();
          // Moved away from the rest, so it stays where it is (the kit sorts an answer that is not).
          const at = query * k + pick(k);
          scores[at] = pick(k) === 0 ? Math.min(1, scores[at] + 0.05) : scores[at] - 0.05;
          return { ...r, scores };
        },
      },
    });
    const data = Array.from({ length: 100 }, (_, i) =>
      Array.from({ length: 9 }, (_, j) => Math.sin(i * 9 + j)),
    );
    // Not rows of the corpus: a best score of 1 cannot be raised.
    const queries = Array.from({ length: 16 }, (_, i) =>
      Array.from({ length: 9 }, (_, j) => Math.cos(i * 5 + j * 2)),
    );
    for (const [what, pick] of [
      ['first', () => 0],
      ['last', (k: number) => k - 1],
    ] as const)
      for (const query of [0, 7, 15]) {
        const e = await failure(createCosineKit({ backend: wrongAt(pick, query) }).topK(queries, data, 64));
        expect(e, `${what} of query ${query}`).toMatchObject({
          code: 'BACKEND_ERROR',
          message: expect.stringMatching(new RegExp(`returned score .* of query ${query},`)),
        });
      }
    const right = await createCosineKit({
      backend: { name: 'right', kernels: { topK: referenceKernels.topK } },
    }).topK(queries, data, 64);
    expect(right.k).toBe(64);
    // A small check is whole: 1 query x 10 rows at k = 10 checked 6 of its 10 scores, and a score
    // between its neighbours (the order kept) at 4 of the 8 inner positions passed (a review).
    const rows = Array.from({ length: 10 }, (_, i) =>
      Array.from({ length: 8 }, (_, j) => Math.sin(i * 8 + j)),
    );
    const query = [Array.from({ length: 8 }, (_, j) => Math.cos(j * 3))];
    for (let pos = 1; pos < 9; pos++) {
      const between: Backend = {
        name: 'between',
        kernels: {
          topK: (q, c, k) => {
            const r = referenceKernels.topK(q, c, k) as TopKResult;
            const scores = r.scores.slice();
            scores[pos] = (scores[pos - 1]! + scores[pos + 1]!) / 2;
            return { ...r, scores };
          },
        },
      };
      const e = await failure(createCosineKit({ backend: between }).topK(query, rows, 10));
      expect(e, `position ${pos}`).toMatchObject({
        code: 'BACKEND_ERROR',
        message: expect.stringMatching(/returned score/),
      });
    }
  });
});
