import {
  type Backend,
  type Corpus,
  type CosineKit,
  createCosineKit,
  isCosineKitError,
  type Tensor,
} from '@cosinekit/core';
import type { Kernels, Matrix, TopKResult } from '@cosinekit/core/backend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, rows } from './backends.js';

/**
 * Every kernel a backend plugs in, and every way its answer can break the contract, through the
 * public call that runs it: the kit either refuses the answer with a typed `BACKEND_ERROR` (or the
 * kernel's own `CosineKitError`, renamed after the public operation), or, where the contract lets
 * it repair the answer (top-k rows out of order), answers exactly what the untouched backend
 * answers. Never a wrong answer, an untyped error or a silent NaN.
 *
 * The broken backend is the backend under test spread into a new object (`{ ...backend, kernels:
 * { ...backend.kernels, [kernel]: broken } }`), so it carries the original's `ungated` and
 * `selfChecked` lists: a replaced kernel must not inherit them.
 */

// biome-ignore lint/suspicious/noExplicitAny: a broken backend returns what its types forbid.
type Any = any;
type Corrupt = (out: Any) => Any;

const D = 5;
const C = rows(9, D, 11);
const Q = rows(2, D, 12);
const mat = (data: Float32Array, cols = D): number[][] =>
  Array.from({ length: data.length / cols }, (_, i) => Array.from(data.subarray(i * cols, (i + 1) * cols)));
const c = mat(C);
const q = mat(Q);

/** What a float output can be broken into. */
const FLOATS: [string, Corrupt][] = [
  ['one value short', (o) => o.slice(0, o.length - 1)],
  ['one value long', (o) => Float32Array.of(...o, 0)],
  ['a plain array', (o) => Array.from(o)],
  ['a Float64Array', (o) => Float64Array.from(o)],
  ['NaN first', (o) => Object.assign(new Float32Array(o), { 0: Number.NaN })],
  ['NaN last', (o) => Object.assign(new Float32Array(o), { [o.length - 1]: Number.NaN })],
  ['Infinity', (o) => Object.assign(new Float32Array(o), { 1: Number.POSITIVE_INFINITY })],
  ['-Infinity', (o) => Object.assign(new Float32Array(o), { 1: Number.NEGATIVE_INFINITY })],
  ['undefined', () => undefined],
  ['null', () => null],
  ['an empty Float32Array', () => new Float32Array(0)],
];
/** Breaks only a cosine output can show. */
const COSINES: [string, Corrupt][] = [
  ['a cosine of 2', (o) => Object.assign(new Float32Array(o), { 0: 2 })],
  ['a cosine of -1.5', (o) => Object.assign(new Float32Array(o), { [o.length - 1]: -1.5 })],
];
/** How a call itself can fail. */
const FAILS: [string, () => Any][] = [
  [
    'throws an Error',
    () => {
      throw new Error('boom');
    },
  ],
  [
    'throws a string',
    () => {
      throw 'boom';
    },
  ],
  ['rejects with an Error', () => Promise.reject(new Error('boom'))],
  ['rejects with undefined', () => Promise.reject(undefined)],
  ['resolves to a number', () => Promise.resolve(42)],
];
/** `r` with each query's (index, score) pairs reordered by `f`. */
function perQuery(r: TopKResult, f: (x: [number, number][]) => [number, number][]): TopKResult {
  const indices = new Int32Array(r.indices.length);
  const scores = new Float32Array(r.scores.length);
  for (let i = 0; i < r.queries; i++) {
    const pairs = f(
      Array.from({ length: r.k }, (_, t): [number, number] => [
        r.indices[i * r.k + t],
        r.scores[i * r.k + t],
      ]),
    );
    pairs.forEach(([ix, s], t) => {
      indices[i * r.k + t] = ix;
      scores[i * r.k + t] = s;
    });
  }
  return { ...r, indices, scores };
}

/** What a top-k answer can be broken into (`repairs`: the kit may fix it and must then be exact). */
const TOPKS: [string, Corrupt, boolean][] = [
  ['each query worst first', (r) => perQuery(r, (x) => x.reverse()), true],
  ['each query rotated by one', (r) => perQuery(r, (x) => [...x.slice(1), x[0]]), true],
  [
    'a repeated index',
    (r) => ({ ...r, indices: Object.assign(Int32Array.from(r.indices), { 1: r.indices[0] }) }),
    false,
  ],
  ['index -1', (r) => ({ ...r, indices: Object.assign(Int32Array.from(r.indices), { 0: -1 }) }), false],
  ['index N', (r) => ({ ...r, indices: Object.assign(Int32Array.from(r.indices), { 0: 1e6 }) }), false],
  [
    'one query short',
    (r) => ({ ...r, queries: r.queries - 1, indices: r.indices.slice(r.k), scores: r.scores.slice(r.k) }),
    false,
  ],
  [
    'one more query',
    (r) => ({
      ...r,
      indices: Int32Array.of(...r.indices, ...r.indices.slice(0, r.k)),
      scores: Float32Array.of(...r.scores, ...r.scores.slice(0, r.k)),
    }),
    false,
  ],
  ['Float32Array indices', (r) => ({ ...r, indices: Float32Array.from(r.indices) }), false],
  ['plain array scores', (r) => ({ ...r, scores: Array.from(r.scores) }), false],
  [
    'a NaN score',
    (r) => ({ ...r, scores: Object.assign(Float32Array.from(r.scores), { 0: Number.NaN }) }),
    false,
  ],
  ['a score of 3', (r) => ({ ...r, scores: Object.assign(Float32Array.from(r.scores), { 0: 3 }) }), false],
  ['no scores', (r) => ({ ...r, scores: undefined }), false],
  ['null', () => null, false],
];

/** A public call that runs `kernel`, as a plain value to compare (numbers as their exact bits). */
type Probe = (kit: CosineKit) => Promise<unknown>;

const bits = (x: Float32Array) => Array.from(new Uint32Array(new Float32Array(x).buffer));
const asTensor = (t: Tensor) => ({ shape: t.shape, bits: bits(t.data) });
const hits = (r: { indices: Int32Array; scores: Float32Array; ids?: unknown }) => ({
  indices: Array.from(r.indices),
  bits: bits(r.scores),
});
async function withCorpus<T>(kit: CosineKit, body: (corpus: Corpus) => Promise<T>, options = {}): Promise<T> {
  const corpus = await kit.corpus(c, options);
  try {
    return await body(corpus);
  } finally {
    corpus.dispose();
  }
}
const m = (data: Float32Array, cols: number): Matrix => ({ data, rows: data.length / cols, cols });

const FLOAT_KERNELS: [keyof Kernels, Probe, boolean][] = [
  ['rowNorms', async (kit) => bits(await kit.rowNorms(c)), false],
  ['normalizeRows', async (kit) => asTensor(await kit.normalize(c)), false],
  ['cosineRows', async (kit) => bits(await kit.cosineRows(c, mat(rows(9, D, 13)))), true],
  ['cosineMatrix', async (kit) => asTensor(await kit.cosineMatrix(q, c)), true],
  ['corpusMatrix', (kit) => withCorpus(kit, async (k) => asTensor(await k.similarity(q))), true],
  ['matmul', async (kit) => bits(await (await kit.kernels()).matmul(m(Q, D), m(C, D), false, true)), false],
  [
    'addBias',
    async (kit) => bits(await (await kit.kernels()).addBias(m(C, D), Float32Array.from(Q.subarray(0, D)))),
    false,
  ],
  ['activation', async (kit) => bits(await (await kit.kernels()).activation('tanh', m(C, D))), false],
  [
    'activationGrad',
    async (kit) => bits(await (await kit.kernels()).activationGrad('relu', m(C, D), m(C, D))),
    false,
  ],
];
const TOPK_KERNELS: [keyof Kernels, Probe][] = [
  ['topK', async (kit) => hits(await kit.topK(q, c, 4))],
  ['corpusSearch', (kit) => withCorpus(kit, async (k) => hits(await k.search(q, 4)))],
  [
    'corpusSearchAllowed',
    (kit) => withCorpus(kit, async (k) => hits(await k.search(q, 4, { filter: { deny: [0, 3] } }))),
  ],
];

/** The corpus group's other kernels, each with the ways its answer can break. */
const CORPUS_KERNELS: [keyof Kernels, Probe, [string, Corrupt][]][] = [
  [
    'createCorpus',
    (kit) => withCorpus(kit, async (k) => hits(await k.search(q, 3))),
    [
      ['a handle of one row less', (h) => ({ ...h, rows: h.rows - 1, dispose: () => h.dispose() })],
      ['a handle of another width', (h) => ({ ...h, cols: h.cols + 1, dispose: () => h.dispose() })],
      ['a handle without dispose', (h) => ({ backend: h.backend, rows: h.rows, cols: h.cols })],
      ['null', () => null],
      ['a string', () => 'handle'],
    ],
  ],
  [
    'exportCorpus',
    (kit) => withCorpus(kit, async (k) => Array.from(await k.save())),
    [
      ['one row less', (s) => ({ ...s, rows: s.rows - 1 })],
      [
        'NaN in the rows',
        (s) => ({ ...s, exact: Object.assign(new Float32Array(s.exact), { 0: Number.NaN }) }),
      ],
      ['rows of 3', (s) => ({ ...s, exact: new Float32Array(s.exact.length).fill(3) })],
      ['no rows', (s) => ({ ...s, exact: null })],
      ['another storage', (s) => ({ ...s, storage: 'int8' })],
      ['rerank -1', (s) => ({ ...s, rerank: -1 })],
      ['null', () => null],
    ],
  ],
  [
    'readCorpus',
    // Removing half the rows compacts the corpus, reading its rows back where it cannot export.
    (kit) =>
      withCorpus(kit, async (k) => {
        await k.remove([0, 1, 2, 3, 4]);
        return hits(await k.search(q, 3));
      }),
    [
      ['one value short', (o) => o.slice(1)],
      ['NaN', (o) => Object.assign(new Float32Array(o), { 2: Number.NaN })],
      ['values of 3', (o) => new Float32Array(o.length).fill(3)],
      ['null', () => null],
    ],
  ],
  [
    'mergeCorpora',
    // Adds of a few rows each merge the segments; removing half of one compacts it. A handle the
    // kit refuses is released and the kit gathers the rows itself: the answer of a backend that merges well.
    (kit) =>
      withCorpus(kit, async (k) => {
        for (let a = 0; a < 4; a++) await k.add(mat(rows(3, D, 40 + a)));
        await k.remove([0, 1, 2, 3, 4]);
        return hits(await k.search(q, 3));
      }),
    [
      ['a handle of one row less', (h) => ({ ...h, rows: h.rows - 1, dispose: () => h.dispose() })],
      ['a handle of another width', (h) => ({ ...h, cols: h.cols + 1, dispose: () => h.dispose() })],
      ['null', () => null],
    ],
  ],
];

/** Runs `probe`; its answer, or the error it failed with. */
async function outcome(probe: () => Promise<unknown>): Promise<{ value?: unknown; error?: unknown }> {
  try {
    return { value: await probe() };
  } catch (error) {
    return { error };
  }
}

for (const b of BACKENDS.filter((x) => /^(reference|wasm \(simd\)|tfjs-wasm)$/.test(x.label))) {
  describe.skipIf(b.skip !== null)(`a kernel that breaks its contract: ${b.label}`, () => {
    let backend: Backend;
    let good: CosineKit;
    /** The backend's kernels, known before it starts (a corpus kernel it lacks is not probed). */
    const kernelsHere: Partial<Kernels> = b.skip === null ? b.create().kernels : {};
    /** Calls of the broken kernel: each case must have reached it. */
    let calls = 0;
    beforeAll(async () => {
      backend = b.create();
      await backend.init?.();
      good = createCosineKit({ backend, onFallback: () => undefined });
    });
    afterAll(async () => {
      good.dispose();
      await backend.dispose?.();
    });

    /** A kit whose `kernel` is the backend's, with its answer passed through `corrupt`. */
    const broken = (kernel: keyof Kernels, corrupt: (out: Any) => Any): CosineKit => {
      const real = backend.kernels[kernel] as ((...a: unknown[]) => unknown) | undefined;
      const own = backend.kernels;
      const replaced = (...args: unknown[]) => {
        calls++;
        const out = real ? real.apply(own, args) : undefined;
        return out instanceof Promise ? out.then(corrupt) : corrupt(out);
      };
      const kernels: Record<string, unknown> = { ...own, [kernel]: replaced };
      // Rows are read back only from a backend that can neither export its stored corpus nor merge
      // its corpora itself.
      if (kernel === 'readCorpus') {
        delete kernels.exportCorpus;
        delete kernels.importCorpus;
        delete kernels.mergeCorpora;
      }
      return createCosineKit({
        backend: { ...backend, name: 'broken', kernels } as Backend,
        onFallback: () => undefined,
        timeoutMs: 2000,
      });
    };

    const expectRefused = (kernel: string, got: { value?: unknown; error?: unknown }, want: unknown) => {
      if (got.error === undefined) {
        // The kernel was not used (the backend lacks it and the reference runs it), or the
        // kit repaired what it could: then the answer is exactly the untouched one.
        expect(got.value, `${kernel}: a broken answer passed through`).toEqual(want);
        return;
      }
      expect(isCosineKitError(got.error), `${kernel}: ${String(got.error)}`).toBe(true);
    };

    for (const [kernel, probe, cosine] of FLOAT_KERNELS) {
      const breaks = [...FLOATS, ...(cosine ? COSINES : [])];
      it(`${kernel}: ${breaks.map(([w]) => w).join(', ')}, ${FAILS.map(([w]) => w).join(', ')}`, async () => {
        const want = await probe(good);
        for (const [what, corrupt] of breaks) {
          const kit = broken(kernel, corrupt);
          calls = 0;
          const got = await outcome(() => probe(kit));
          expect(calls, `${kernel} (${what}) was not called`).toBeGreaterThan(0);
          expectRefused(`${kernel} (${what})`, got, want);
          if (got.error !== undefined && backend.kernels[kernel])
            expect((got.error as { code: string }).code, `${kernel} (${what})`).toBe('BACKEND_ERROR');
          kit.dispose();
        }
        for (const [what, fail] of FAILS) {
          const kit = broken(kernel, () => fail());
          expectRefused(`${kernel} (${what})`, await outcome(() => probe(kit)), want);
          kit.dispose();
        }
        // The untouched kit still answers as before.
        expect(await probe(good)).toEqual(want);
      });
    }

    // mergeCorpora is optional: only where the backend has it (the kit gathers rows itself elsewhere).
    for (const [kernel, probe, breaks] of CORPUS_KERNELS.filter(
      ([k]) => k !== 'mergeCorpora' || typeof kernelsHere.mergeCorpora === 'function',
    )) {
      it.skipIf(typeof kernelsHere[kernel] !== 'function')(
        `${kernel}: ${breaks.map(([w]) => w).join(', ')}`,
        async () => {
          const want = await probe(good);
          for (const [what, corrupt] of [
            ...breaks,
            ...FAILS.map(([w, f]): [string, Corrupt] => [w, () => f()]),
          ]) {
            const kit = broken(kernel, corrupt);
            calls = 0;
            const got = await outcome(() => probe(kit));
            expect(calls, `${kernel} (${what}) was not called`).toBeGreaterThan(0);
            expectRefused(`${kernel} (${what})`, got, want);
            kit.dispose();
          }
          const left = backend.memory?.().residentHandles;
          expect(await probe(good)).toEqual(want);
          expect(backend.memory?.().residentHandles).toBe(left);
        },
      );
    }

    for (const [kernel, probe] of TOPK_KERNELS) {
      it(`${kernel}: ${TOPKS.map(([w]) => w).join(', ')}`, async () => {
        const want = await probe(good);
        for (const [what, corrupt, repairs] of TOPKS) {
          const kit = broken(kernel, corrupt as (r: TopKResult) => unknown);
          calls = 0;
          const got = await outcome(() => probe(kit));
          expect(calls, `${kernel} (${what}) was not called`).toBeGreaterThan(0);
          expectRefused(`${kernel} (${what})`, got, want);
          if (repairs && backend.kernels[kernel]) expect(got.value, `${kernel} (${what})`).toEqual(want);
          kit.dispose();
        }
      });
    }
  });
}
