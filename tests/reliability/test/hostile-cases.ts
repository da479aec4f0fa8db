import { createGpujsBackend } from '@cosinekit/backend-gpujs';
import { createWasmBackend } from '@cosinekit/backend-wasm';
import {
  type Backend,
  type Corpus,
  type CosineKit,
  CosineKitError,
  cosine,
  cosineDistance,
  createCosineKit,
  type ErrorCode,
  type Kernels,
  type Matrix,
  normalize,
  Tensor,
  tensor,
} from '@cosinekit/core';
import {
  type CorpusFile,
  encodeCorpusFile,
  type ResidentCorpus,
  registerBackend,
} from '@cosinekit/core/backend';

/** What a hostile call may use: a kit on the backend under test and a few prepared objects. */
export interface Harness {
  readonly kit: CosineKit;
  readonly backend: Backend;
  /** One query row of dimension 4. */
  readonly q: number[][];
  /** Eight corpus rows of dimension 4. */
  readonly c: number[][];
  /** A resident corpus of `c`, ids 'a'..'h' (abused by the cases; kept alive). */
  readonly corpus: Corpus;
  /** A corpus already disposed. */
  readonly disposedCorpus: Corpus;
  /** A tensor already disposed. */
  readonly disposedTensor: Tensor;
}

/** One hostile input: the call as a caller writes it, and the typed error it must get. */
export interface HostileCase {
  readonly group: string;
  /** The call, as source (shown in HOSTILE.md). */
  readonly input: string;
  readonly code: ErrorCode;
  /** The operation the message must name. */
  readonly op: string;
  /** The argument the message must name (absent where the failure is not one argument's). */
  readonly arg?: string;
  readonly call: (h: Harness) => unknown;
}

// biome-ignore lint/suspicious/noExplicitAny: hostile callers ignore the types on purpose.
type Any = any;
const x = (v: unknown): Any => v;

const K = 'k: the number of neighbours';
const TYPES = 'Wrong types';
const SHAPES = 'Wrong shapes and sizes';
const VALUES = 'NaN and Infinity';
const DISPOSED = 'Disposed objects';
const OPTIONS = 'Corpus options, ids and files';
const SETUP = 'Backends and the registry';
const PAIR = 'Synchronous pair functions';
const FILES = 'Crafted corpus files (valid checksum, hostile content)';
const FILTERS = 'Search filters, abort signals and streamed corpora';

/**
 * A checksum-valid corpus file of two unit rows of dimension 4 (ordinals 0 and 1, next 2), with
 * `over` replacing fields: unverified (`verify: false`), so any content can be crafted.
 */
function crafted(over: Partial<Omit<CorpusFile, 'version'>>): Uint8Array {
  return encodeCorpusFile(
    {
      rows: 2,
      cols: 4,
      storage: 'float32',
      rerank: 0,
      next: 2,
      ids: null,
      ordinals: Int32Array.from([0, 1]),
      exact: Float32Array.from([1, 0, 0, 0, 0, 1, 0, 0]),
      half: null,
      codes: null,
      scales: null,
      ...over,
    },
    { verify: false },
  );
}
const CODES = Int8Array.from([127, 0, 0, 0, 0, 127, 0, 0]);
const KIT = 'Kit options';

const TABLE =
  'The kernel table (`K = await kit.kernels()`, for libraries such as nn; `m(rows)` is `{ data, rows, cols }`)';

/** `rows` as a kernel's matrix argument. */
const m = (rows: number[][]): Matrix => ({
  data: Float32Array.from(rows.flat()),
  rows: rows.length,
  cols: rows[0]!.length,
});

/** Runs `f` on the harness kit's kernel table and a resident corpus of `c` made by it (disposed after). */
async function onTable(
  h: Harness,
  f: (k: Kernels, corpus: ResidentCorpus, h: Harness) => unknown,
): Promise<unknown> {
  const k = await h.kit.kernels();
  const corpus = await k.createCorpus(m(h.c));
  try {
    return await f(k, corpus, h);
  } finally {
    corpus.dispose();
  }
}
const BROKEN = 'Backends that break the contract';

/**
 * The backend under test with one kernel replaced: what a buggy third-party backend hands back.
 * Everything else is the real backend, so the kit's checks are exercised on every engine.
 */
function breaking(h: Harness, kernels: Record<string, unknown>, name = 'broken'): Backend {
  return { name, kernels: { ...h.backend.kernels, ...kernels } as Backend['kernels'] };
}

/**
 * The backend under test spread into a new object with some kernels replaced: the copy carries the
 * original's `ungated` and `selfChecked` lists, which must not vouch for the replacements.
 */
function spreading(h: Harness, kernels: Record<string, unknown>): Backend {
  return {
    ...h.backend,
    name: 'spread',
    kernels: { ...h.backend.kernels, ...kernels } as Backend['kernels'],
  };
}

/** A top-k answer for one query with the given indices and scores. */
function answer(indices: number[], scores: number[]) {
  return {
    queries: 1,
    k: indices.length,
    indices: Int32Array.from(indices),
    scores: Float32Array.from(scores),
  };
}

/**
 * The catalogue. Every case runs against every backend (validation happens in core, before a
 * backend sees the data, so every backend must give the same code); HOSTILE.md is generated from it.
 */
export const HOSTILE_CASES: readonly HostileCase[] = [
  {
    group: K,
    input: 'kit.topK(q, c, -1)',
    code: 'INVALID_K',
    op: 'topK',
    arg: 'k',
    call: (h) => h.kit.topK(h.q, h.c, -1),
  },
  {
    group: K,
    input: 'kit.topK(q, c, 0)',
    code: 'INVALID_K',
    op: 'topK',
    arg: 'k',
    call: (h) => h.kit.topK(h.q, h.c, 0),
  },
  {
    group: K,
    input: 'kit.topK(q, c, 2.5)',
    code: 'INVALID_K',
    op: 'topK',
    arg: 'k',
    call: (h) => h.kit.topK(h.q, h.c, 2.5),
  },
  {
    group: K,
    input: 'kit.topK(q, c, NaN)',
    code: 'INVALID_K',
    op: 'topK',
    arg: 'k',
    call: (h) => h.kit.topK(h.q, h.c, Number.NaN),
  },
  {
    group: K,
    input: 'kit.topK(q, c, Infinity)',
    code: 'INVALID_K',
    op: 'topK',
    arg: 'k',
    call: (h) => h.kit.topK(h.q, h.c, Number.POSITIVE_INFINITY),
  },
  {
    group: K,
    input: "kit.topK(q, c, '3')",
    code: 'INVALID_K',
    op: 'topK',
    arg: 'k',
    call: (h) => h.kit.topK(h.q, h.c, x('3')),
  },
  {
    group: K,
    input: 'kit.topK(q, c, 3n)',
    code: 'INVALID_K',
    op: 'topK',
    arg: 'k',
    call: (h) => h.kit.topK(h.q, h.c, x(3n)),
  },
  {
    group: K,
    input: 'kit.topK(q, c, undefined)',
    code: 'INVALID_K',
    op: 'topK',
    arg: 'k',
    call: (h) => h.kit.topK(h.q, h.c, x(undefined)),
  },
  {
    group: K,
    input: 'kit.topK(q, c, 9) // c has 8 rows',
    code: 'INVALID_K',
    op: 'topK',
    arg: 'k',
    call: (h) => h.kit.topK(h.q, h.c, 9),
  },
  {
    group: K,
    input: 'corpus.search(q, -1)',
    code: 'INVALID_K',
    op: 'search',
    arg: 'k',
    call: (h) => h.corpus.search(h.q, -1),
  },
  {
    group: K,
    input: 'corpus.search(q, 1.5)',
    code: 'INVALID_K',
    op: 'search',
    arg: 'k',
    call: (h) => h.corpus.search(h.q, 1.5),
  },
  {
    group: K,
    input: 'corpus.search(q, 100) // 8 rows',
    code: 'INVALID_K',
    op: 'search',
    arg: 'k',
    call: (h) => h.corpus.search(h.q, 100),
  },

  {
    group: TYPES,
    input: 'kit.cosineMatrix(new Float64Array(4), c)',
    code: 'INVALID_TYPE',
    op: 'cosineMatrix',
    arg: 'a',
    call: (h) => h.kit.cosineMatrix(x(new Float64Array(4)), h.c),
  },
  {
    group: TYPES,
    input: 'kit.cosineMatrix(new Int32Array(4), c)',
    code: 'INVALID_TYPE',
    op: 'cosineMatrix',
    arg: 'a',
    call: (h) => h.kit.cosineMatrix(x(new Int32Array(4)), h.c),
  },
  {
    group: TYPES,
    input: 'kit.cosineMatrix({}, c)',
    code: 'INVALID_TYPE',
    op: 'cosineMatrix',
    arg: 'a',
    call: (h) => h.kit.cosineMatrix(x({}), h.c),
  },
  {
    group: TYPES,
    input: 'kit.cosineMatrix(null, c)',
    code: 'INVALID_TYPE',
    op: 'cosineMatrix',
    arg: 'a',
    call: (h) => h.kit.cosineMatrix(x(null), h.c),
  },
  {
    group: TYPES,
    input: 'kit.cosineMatrix(undefined, c)',
    code: 'INVALID_TYPE',
    op: 'cosineMatrix',
    arg: 'a',
    call: (h) => h.kit.cosineMatrix(x(undefined), h.c),
  },
  {
    group: TYPES,
    input: "kit.cosineMatrix(q, '1,2,3,4')",
    code: 'INVALID_TYPE',
    op: 'cosineMatrix',
    arg: 'b',
    call: (h) => h.kit.cosineMatrix(h.q, x('1,2,3,4')),
  },
  {
    group: TYPES,
    input: 'kit.cosineMatrix(42, c)',
    code: 'INVALID_TYPE',
    op: 'cosineMatrix',
    arg: 'a',
    call: (h) => h.kit.cosineMatrix(x(42), h.c),
  },
  {
    group: TYPES,
    input: 'kit.cosineMatrix({ data: new Float32Array(4), rows: 1, cols: 4 }, c) // a Matrix, not a Tensor',
    code: 'INVALID_TYPE',
    op: 'cosineMatrix',
    arg: 'a',
    call: (h) => h.kit.cosineMatrix(x({ data: new Float32Array(4), rows: 1, cols: 4 }), h.c),
  },
  {
    group: TYPES,
    input: "kit.cosineMatrix([[1, 2, 'x', 4]], c)",
    code: 'INVALID_TYPE',
    op: 'cosineMatrix',
    arg: 'a[0][2]',
    call: (h) => h.kit.cosineMatrix(x([[1, 2, 'x', 4]]), h.c),
  },
  {
    group: TYPES,
    input: "kit.cosineMatrix([1, 2, '3', 4], c)",
    code: 'INVALID_TYPE',
    op: 'cosineMatrix',
    arg: 'a',
    call: (h) => h.kit.cosineMatrix(x([1, 2, '3', 4]), h.c),
  },
  {
    group: TYPES,
    input: "kit.cosineMatrix([[1, 2, 3, 4], 'abcd'], c)",
    code: 'INVALID_TYPE',
    op: 'cosineMatrix',
    arg: 'a[1]',
    call: (h) => h.kit.cosineMatrix(x([[1, 2, 3, 4], 'abcd']), h.c),
  },
  {
    group: TYPES,
    input: 'kit.cosineMatrix([[1, 2, 3, 4], new Float64Array(4)], c)',
    code: 'INVALID_TYPE',
    op: 'cosineMatrix',
    arg: 'a[1]',
    call: (h) => h.kit.cosineMatrix(x([[1, 2, 3, 4], new Float64Array(4)]), h.c),
  },
  {
    group: TYPES,
    input: 'kit.cosineMatrix([[[1, 2, 3, 4]]], c) // nested one level too deep',
    code: 'INVALID_TYPE',
    op: 'cosineMatrix',
    arg: 'a[0][0]',
    call: (h) => h.kit.cosineMatrix(x([[[1, 2, 3, 4]]]), h.c),
  },
  {
    group: TYPES,
    input: 'kit.cosineMatrix([[1, null, 3, 4]], c)',
    code: 'INVALID_TYPE',
    op: 'cosineMatrix',
    arg: 'a[0][1]',
    call: (h) => h.kit.cosineMatrix(x([[1, null, 3, 4]]), h.c),
  },
  {
    group: TYPES,
    input: 'kit.rowNorms(new Proxy(Float32Array.of(1, 2, 3, 4), {})) // was a TypeError',
    code: 'INVALID_TYPE',
    op: 'rowNorms',
    arg: 'x',
    call: (h) => h.kit.rowNorms(new Proxy(Float32Array.of(1, 2, 3, 4), {})),
  },
  {
    group: TYPES,
    input: 'kit.cosineMatrix(q, [c[0], new Proxy(Float32Array.of(1, 2, 3, 4), {})])',
    code: 'INVALID_TYPE',
    op: 'cosineMatrix',
    arg: 'b[1]',
    call: (h) =>
      h.kit.cosineMatrix(h.q, [Float32Array.of(1, 0, 0, 0), new Proxy(Float32Array.of(1, 2, 3, 4), {})]),
  },
  {
    group: TYPES,
    input: 'new Tensor(new Proxy(new Float32Array(6), {}), 2, 3)',
    code: 'INVALID_TYPE',
    op: 'tensor',
    arg: 'data',
    call: () => new Tensor(new Proxy(new Float32Array(6), {}), 2, 3),
  },
  {
    group: TYPES,
    input: 'kit.rowNorms([[1, 2], undefined, [3, 4]])',
    code: 'INVALID_TYPE',
    op: 'rowNorms',
    arg: 'x[1]',
    call: (h) => h.kit.rowNorms(x([[1, 2], undefined, [3, 4]])),
  },
  {
    group: TYPES,
    input: "kit.loadCorpus('bytes')",
    code: 'INVALID_TYPE',
    op: 'loadCorpus',
    arg: 'bytes',
    call: (h) => h.kit.loadCorpus(x('bytes')),
  },
  {
    group: TYPES,
    input: 'kit.loadCorpus([67, 75, 67, 79]) // a plain array',
    code: 'INVALID_TYPE',
    op: 'loadCorpus',
    arg: 'bytes',
    call: (h) => h.kit.loadCorpus(x([67, 75, 67, 79])),
  },

  {
    group: SHAPES,
    input: 'kit.cosineMatrix(q, [[1, 2, 3, 4], [1, 2]]) // ragged',
    code: 'SHAPE_MISMATCH',
    op: 'cosineMatrix',
    arg: 'b[1]',
    call: (h) =>
      h.kit.cosineMatrix(h.q, [
        [1, 2, 3, 4],
        [1, 2],
      ]),
  },
  {
    group: SHAPES,
    input: 'kit.rowNorms([[1, 2], [3, 4, 5]])',
    code: 'SHAPE_MISMATCH',
    op: 'rowNorms',
    arg: 'x[1]',
    call: (h) =>
      h.kit.rowNorms([
        [1, 2],
        [3, 4, 5],
      ]),
  },
  {
    group: SHAPES,
    input: 'kit.cosineMatrix([], c)',
    code: 'EMPTY_INPUT',
    op: 'cosineMatrix',
    arg: 'a',
    call: (h) => h.kit.cosineMatrix([], h.c),
  },
  {
    group: SHAPES,
    input: 'kit.cosineMatrix([[]], c)',
    code: 'EMPTY_INPUT',
    op: 'cosineMatrix',
    arg: 'a',
    call: (h) => h.kit.cosineMatrix([[]], h.c),
  },
  {
    group: SHAPES,
    input: 'kit.normalize(new Float32Array(0))',
    code: 'EMPTY_INPUT',
    op: 'normalize',
    arg: 'x',
    call: (h) => h.kit.normalize(new Float32Array(0)),
  },
  {
    group: SHAPES,
    input: 'kit.cosineMatrix([[1, 2, 3]], c) // dimension 3 against 4',
    code: 'DIMENSION_MISMATCH',
    op: 'cosineMatrix',
    arg: 'b',
    call: (h) => h.kit.cosineMatrix([[1, 2, 3]], h.c),
  },
  {
    group: SHAPES,
    input: 'kit.cosineRows(c, q) // 8 rows paired with 1',
    code: 'DIMENSION_MISMATCH',
    op: 'cosineRows',
    arg: 'b',
    call: (h) => h.kit.cosineRows(h.c, h.q),
  },
  {
    group: SHAPES,
    input: 'kit.topK([[1, 2, 3]], c, 1)',
    code: 'DIMENSION_MISMATCH',
    op: 'topK',
    arg: 'queries',
    call: (h) => h.kit.topK([[1, 2, 3]], h.c, 1),
  },
  {
    group: SHAPES,
    input: 'corpus.search([[1, 2, 3]], 1)',
    code: 'DIMENSION_MISMATCH',
    op: 'search',
    arg: 'queries',
    call: (h) => h.corpus.search([[1, 2, 3]], 1),
  },
  {
    group: SHAPES,
    input: 'corpus.similarity([1, 2, 3, 4, 5])',
    code: 'DIMENSION_MISMATCH',
    op: 'similarity',
    arg: 'queries',
    call: (h) => h.corpus.similarity([1, 2, 3, 4, 5]),
  },
  {
    group: SHAPES,
    input: "corpus.add([[1, 2, 3]], ['z'])",
    code: 'DIMENSION_MISMATCH',
    op: 'add',
    arg: 'rows',
    call: (h) => h.corpus.add([[1, 2, 3]], ['z']),
  },
  {
    group: SHAPES,
    input: 'tensor(new Float32Array(0), [1e6, 1e6]) // 4 TB claimed',
    code: 'SHAPE_MISMATCH',
    op: 'tensor',
    arg: 'input',
    call: () => tensor(new Float32Array(0), [1e6, 1e6]),
  },
  {
    group: SHAPES,
    input: 'kit.corpus(tensor(new Float32Array(16), [2e9, 768])) // 2e9 x 768 rows',
    code: 'SHAPE_MISMATCH',
    op: 'tensor',
    arg: 'input',
    call: (h) => h.kit.corpus(tensor(new Float32Array(16), [2e9, 768])),
  },
  {
    group: SHAPES,
    input: 'kit.corpus({ data: new Float32Array(16), rows: 2e9, cols: 768 })',
    code: 'INVALID_TYPE',
    op: 'corpus',
    arg: 'rows',
    call: (h) => h.kit.corpus(x({ data: new Float32Array(16), rows: 2e9, cols: 768 })),
  },
  {
    group: SHAPES,
    input: 'tensor(new Float32Array(4), [-2, -2])',
    code: 'INVALID_ARGUMENT',
    op: 'tensor',
    arg: 'input.shape',
    call: () => tensor(new Float32Array(4), [-2, -2]),
  },
  {
    group: SHAPES,
    input: 'tensor(new Float32Array(4), [NaN, 4])',
    code: 'INVALID_ARGUMENT',
    op: 'tensor',
    arg: 'input.shape',
    call: () => tensor(new Float32Array(4), [Number.NaN, 4]),
  },
  {
    group: SHAPES,
    input: 'tensor(new Float32Array(4), [0.5, 8])',
    code: 'INVALID_ARGUMENT',
    op: 'tensor',
    arg: 'input.shape',
    call: () => tensor(new Float32Array(4), [0.5, 8]),
  },
  {
    group: SHAPES,
    input: 'new Tensor(new Float32Array(5), 2, 3)',
    code: 'SHAPE_MISMATCH',
    op: 'tensor',
    arg: 'data',
    call: () => new Tensor(new Float32Array(5), 2, 3),
  },
  {
    group: SHAPES,
    input: 'new Tensor(new Float64Array(6), 2, 3)',
    code: 'INVALID_TYPE',
    op: 'tensor',
    arg: 'data',
    call: () => new Tensor(x(new Float64Array(6)), 2, 3),
  },
  {
    group: SHAPES,
    input: 'new Tensor(new Float32Array(0), 2 ** 53, 2 ** 53)',
    code: 'SHAPE_MISMATCH',
    op: 'tensor',
    arg: 'data',
    call: () => new Tensor(new Float32Array(0), 2 ** 53, 2 ** 53),
  },
  {
    group: SHAPES,
    input: 'tensor(new Float32Array(16), [4, 4]).row(4)',
    code: 'INVALID_ARGUMENT',
    op: 'Tensor.row',
    arg: 'i',
    call: () => tensor(new Float32Array(16), [4, 4]).row(4),
  },
  {
    group: SHAPES,
    input: 'tensor(new Float32Array(16), [4, 4]).slice(3, 2)',
    code: 'INVALID_ARGUMENT',
    op: 'Tensor.slice',
    arg: 'start',
    call: () => tensor(new Float32Array(16), [4, 4]).slice(3, 2),
  },

  {
    group: VALUES,
    input: 'kit.cosineMatrix([[1, NaN, 3, 4]], c)',
    code: 'NON_FINITE',
    op: 'cosineMatrix',
    arg: 'a',
    call: (h) => h.kit.cosineMatrix([[1, Number.NaN, 3, 4]], h.c),
  },
  {
    group: VALUES,
    input: 'kit.cosineMatrix(q, [[1, 2, 3, Infinity]])',
    code: 'NON_FINITE',
    op: 'cosineMatrix',
    arg: 'b',
    call: (h) => h.kit.cosineMatrix(h.q, [[1, 2, 3, Number.POSITIVE_INFINITY]]),
  },
  {
    group: VALUES,
    input: 'kit.cosineMatrix([[1e39, 0, 0, 0]], c) // beyond float32: Infinity once stored',
    code: 'NON_FINITE',
    op: 'cosineMatrix',
    arg: 'a',
    call: (h) => h.kit.cosineMatrix([[1e39, 0, 0, 0]], h.c),
  },
  {
    group: VALUES,
    input: 'kit.cosineRows([[-Infinity, 0, 0, 0]], q)',
    code: 'NON_FINITE',
    op: 'cosineRows',
    arg: 'a',
    call: (h) => h.kit.cosineRows([[Number.NEGATIVE_INFINITY, 0, 0, 0]], h.q),
  },
  {
    group: VALUES,
    input: 'kit.topK(q, [[0, 0, NaN, 0]], 1)',
    code: 'NON_FINITE',
    op: 'topK',
    arg: 'corpus',
    call: (h) => h.kit.topK(h.q, [[0, 0, Number.NaN, 0]], 1),
  },
  {
    group: VALUES,
    input: 'kit.rowNorms(new Float32Array([1, NaN]))',
    code: 'NON_FINITE',
    op: 'rowNorms',
    arg: 'x',
    call: (h) => h.kit.rowNorms(new Float32Array([1, Number.NaN])),
  },
  {
    group: VALUES,
    input: 'kit.normalize([Infinity, 1])',
    code: 'NON_FINITE',
    op: 'normalize',
    arg: 'x',
    call: (h) => h.kit.normalize([Number.POSITIVE_INFINITY, 1]),
  },
  {
    group: VALUES,
    input: 'kit.corpus([[1, 2, NaN, 4]])',
    code: 'NON_FINITE',
    op: 'corpus',
    arg: 'rows',
    call: (h) => h.kit.corpus([[1, 2, Number.NaN, 4]]),
  },
  {
    group: VALUES,
    input: 'corpus.search([[NaN, 0, 0, 0]], 1)',
    code: 'NON_FINITE',
    op: 'search',
    arg: 'queries',
    call: (h) => h.corpus.search([[Number.NaN, 0, 0, 0]], 1),
  },
  {
    group: VALUES,
    input: "corpus.add([[0, 0, 0, Infinity]], ['z'])",
    code: 'NON_FINITE',
    op: 'add',
    arg: 'rows',
    call: (h) => h.corpus.add([[0, 0, 0, Number.POSITIVE_INFINITY]], ['z']),
  },
  {
    group: VALUES,
    input: 'cosine([1, NaN], [1, 2])',
    code: 'NON_FINITE',
    op: 'cosine',
    arg: 'a',
    call: () => cosine([1, Number.NaN], [1, 2]),
  },

  {
    group: DISPOSED,
    input: 'kit.cosineMatrix(t, c) // t.dispose() ran',
    code: 'DISPOSED',
    op: 'cosineMatrix',
    arg: 'a',
    call: (h) => h.kit.cosineMatrix(h.disposedTensor, h.c),
  },
  {
    group: DISPOSED,
    input: 't.data // t.dispose() ran',
    code: 'DISPOSED',
    op: 'Tensor.data',
    arg: 'tensor',
    call: (h) => h.disposedTensor.data,
  },
  {
    group: DISPOSED,
    input: 't.row(0) // t.dispose() ran',
    code: 'DISPOSED',
    op: 'Tensor.row',
    arg: 'tensor',
    call: (h) => h.disposedTensor.row(0),
  },
  {
    group: DISPOSED,
    input: 'corpus.search(q, 1) // corpus.dispose() ran',
    code: 'DISPOSED',
    op: 'search',
    arg: 'corpus',
    call: (h) => h.disposedCorpus.search(h.q, 1),
  },
  {
    group: DISPOSED,
    input: 'corpus.similarity(q) // corpus.dispose() ran',
    code: 'DISPOSED',
    op: 'similarity',
    arg: 'corpus',
    call: (h) => h.disposedCorpus.similarity(h.q),
  },
  {
    group: DISPOSED,
    input: 'corpus.add(q) // corpus.dispose() ran',
    code: 'DISPOSED',
    op: 'add',
    arg: 'corpus',
    call: (h) => h.disposedCorpus.add(h.q),
  },
  {
    group: DISPOSED,
    input: 'corpus.remove([0]) // corpus.dispose() ran',
    code: 'DISPOSED',
    op: 'remove',
    arg: 'corpus',
    call: (h) => h.disposedCorpus.remove([0]),
  },
  {
    group: DISPOSED,
    input: 'corpus.save() // corpus.dispose() ran',
    code: 'DISPOSED',
    op: 'save',
    arg: 'corpus',
    call: (h) => h.disposedCorpus.save(),
  },
  {
    group: DISPOSED,
    input: 'cosine(t, [1, 2, 3, 4]) // t.dispose() ran',
    code: 'DISPOSED',
    op: 'cosine',
    arg: 'a',
    call: (h) => cosine(h.disposedTensor, [1, 2, 3, 4]),
  },

  {
    group: OPTIONS,
    input: "kit.corpus(c, { storage: 'int4' })",
    code: 'INVALID_ARGUMENT',
    op: 'corpus',
    arg: 'options.storage',
    call: (h) => h.kit.corpus(h.c, { storage: x('int4') }),
  },
  {
    group: OPTIONS,
    input: 'kit.corpus(c, { rerank: -1 })',
    code: 'INVALID_ARGUMENT',
    op: 'corpus',
    arg: 'options.rerank',
    call: (h) => h.kit.corpus(h.c, { rerank: -1 }),
  },
  {
    group: OPTIONS,
    input: 'kit.corpus(c, { rerank: 1.5 })',
    code: 'INVALID_ARGUMENT',
    op: 'corpus',
    arg: 'options.rerank',
    call: (h) => h.kit.corpus(h.c, { rerank: 1.5 }),
  },
  {
    group: OPTIONS,
    input: "kit.corpus(c, { storage: 'int8', rerank: 2 ** 31 }) // saved, no load took it",
    code: 'INVALID_ARGUMENT',
    op: 'corpus',
    arg: 'options.rerank',
    call: (h) => h.kit.corpus(h.c, { storage: 'int8', rerank: 2 ** 31 }),
  },
  {
    group: OPTIONS,
    input: "kit.corpusFrom([c], { storage: 'float16', rerank: 1e21 })",
    code: 'INVALID_ARGUMENT',
    op: 'corpusFrom',
    arg: 'options.rerank',
    call: (h) => h.kit.corpusFrom([h.c], { storage: 'float16', rerank: 1e21 }),
  },
  {
    group: OPTIONS,
    input: 'kit.corpus(c, null)',
    code: 'INVALID_TYPE',
    op: 'corpus',
    arg: 'options',
    call: (h) => h.kit.corpus(h.c, x(null)),
  },
  {
    group: OPTIONS,
    input: "kit.corpus(c, { ids: ['a'] }) // 8 rows",
    code: 'SHAPE_MISMATCH',
    op: 'corpus',
    arg: 'ids',
    call: (h) => h.kit.corpus(h.c, { ids: ['a'] }),
  },
  {
    group: OPTIONS,
    input: "kit.corpus(c, { ids: 'abcdefgh' })",
    code: 'INVALID_TYPE',
    op: 'corpus',
    arg: 'ids',
    call: (h) => h.kit.corpus(h.c, { ids: x('abcdefgh') }),
  },
  {
    group: OPTIONS,
    input: 'kit.corpus(c, { ids: [0, 0, 1, 2, 3, 4, 5, 6] })',
    code: 'INVALID_ARGUMENT',
    op: 'corpus',
    arg: 'ids[1]',
    call: (h) => h.kit.corpus(h.c, { ids: [0, 0, 1, 2, 3, 4, 5, 6] }),
  },
  {
    group: OPTIONS,
    input: 'kit.corpus(c, { ids: [NaN, 1, 2, 3, 4, 5, 6, 7] })',
    code: 'INVALID_TYPE',
    op: 'corpus',
    arg: 'ids[0]',
    call: (h) => h.kit.corpus(h.c, { ids: [Number.NaN, 1, 2, 3, 4, 5, 6, 7] }),
  },
  {
    group: OPTIONS,
    input: 'kit.corpus(c, { ids: [{}, 1, 2, 3, 4, 5, 6, 7] })',
    code: 'INVALID_TYPE',
    op: 'corpus',
    arg: 'ids[0]',
    call: (h) => h.kit.corpus(h.c, { ids: x([{}, 1, 2, 3, 4, 5, 6, 7]) }),
  },
  {
    group: OPTIONS,
    input: 'corpus.add(q) // the corpus has ids',
    code: 'INVALID_ARGUMENT',
    op: 'add',
    arg: 'ids',
    call: (h) => h.corpus.add(h.q),
  },
  {
    group: OPTIONS,
    input: "corpus.add(q, ['a']) // 'a' is taken",
    code: 'INVALID_ARGUMENT',
    op: 'add',
    arg: 'ids[0]',
    call: (h) => h.corpus.add(h.q, ['a']),
  },
  {
    group: OPTIONS,
    input: "corpus.remove('a')",
    code: 'INVALID_TYPE',
    op: 'remove',
    arg: 'ids',
    call: (h) => h.corpus.remove(x('a')),
  },
  {
    group: OPTIONS,
    input: "corpus.remove(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']) // every row",
    code: 'INVALID_ARGUMENT',
    op: 'remove',
    arg: 'ids',
    call: (h) => h.corpus.remove(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']),
  },
  {
    group: OPTIONS,
    input: 'kit.loadCorpus(new Uint8Array(10))',
    code: 'CORRUPT_DATA',
    op: 'loadCorpus',
    arg: 'bytes',
    call: (h) => h.kit.loadCorpus(new Uint8Array(10)),
  },
  {
    group: OPTIONS,
    input: 'kit.loadCorpus(new Uint8Array(64)) // zeros: bad magic',
    code: 'CORRUPT_DATA',
    op: 'loadCorpus',
    arg: 'bytes',
    call: (h) => h.kit.loadCorpus(new Uint8Array(64)),
  },

  {
    group: SETUP,
    input: "createCosineKit({ backend: 'no-such-backend' }).topK(q, c, 1)",
    code: 'UNKNOWN_BACKEND',
    op: 'createCosineKit',
    arg: 'backend',
    call: (h) => createCosineKit({ backend: 'no-such-backend' }).topK(h.q, h.c, 1),
  },
  {
    group: SETUP,
    input:
      "createCosineKit({ backend: { name: 'broken', kernels: {}, init() { throw new Error('no device') } } }).cosineMatrix(q, c)",
    code: 'BACKEND_INIT_FAILED',
    op: 'createCosineKit',
    arg: 'backend',
    call: (h) =>
      createCosineKit({
        backend: {
          name: 'broken',
          kernels: {},
          init() {
            throw new Error('no device');
          },
        },
      }).cosineMatrix(h.q, h.c),
  },
  {
    group: SETUP,
    input: "registerBackend('', () => backend)",
    code: 'INVALID_ARGUMENT',
    op: 'registerBackend',
    arg: 'name',
    call: (h) => registerBackend('', () => h.backend),
  },
  {
    group: SETUP,
    input: "registerBackend('x', 42)",
    code: 'INVALID_TYPE',
    op: 'registerBackend',
    arg: 'factory',
    call: () => registerBackend('x', x(42)),
  },
  {
    group: SETUP,
    input: "createWasmBackend({ variant: 'avx512' })",
    code: 'INVALID_ARGUMENT',
    op: 'createWasmBackend',
    arg: 'variant',
    call: () => createWasmBackend({ variant: x('avx512') }),
  },
  {
    group: SETUP,
    input: 'createWasmBackend({ threads: 0 })',
    code: 'INVALID_ARGUMENT',
    op: 'createWasmBackend',
    arg: 'threads',
    call: () => createWasmBackend({ threads: 0 }),
  },
  {
    group: SETUP,
    input: "createGpujsBackend({ mode: 'cuda' })",
    code: 'INVALID_ARGUMENT',
    op: 'createGpujsBackend',
    arg: 'options.mode',
    call: () => createGpujsBackend({ mode: x('cuda') }),
  },
  {
    group: SETUP,
    input: 'createGpujsBackend({ tileSize: 0 })',
    code: 'INVALID_ARGUMENT',
    op: 'createGpujsBackend',
    arg: 'options.tileSize',
    call: () => createGpujsBackend({ tileSize: 0 }),
  },

  {
    group: PAIR,
    input: 'cosine(new Proxy(Float32Array.of(1, 2), {}), Float32Array.of(1, 2)) // was a TypeError',
    code: 'INVALID_TYPE',
    op: 'cosine',
    arg: 'a',
    call: () => cosine(new Proxy(Float32Array.of(1, 2), {}), Float32Array.of(1, 2)),
  },
  {
    group: PAIR,
    input: 'cosine([1, 2], [1, 2, 3])',
    code: 'DIMENSION_MISMATCH',
    op: 'cosine',
    arg: 'b',
    call: () => cosine([1, 2], [1, 2, 3]),
  },
  {
    group: PAIR,
    input: 'cosine([], [])',
    code: 'EMPTY_INPUT',
    op: 'cosine',
    arg: 'a',
    call: () => cosine([], []),
  },
  {
    group: PAIR,
    input: "cosine('ab', 'cd')",
    code: 'INVALID_TYPE',
    op: 'cosine',
    arg: 'a',
    call: () => cosine(x('ab'), x('cd')),
  },
  {
    group: PAIR,
    input: 'cosine([NaN, 0], [1, 2]) // NaN, then a finite value',
    code: 'NON_FINITE',
    op: 'cosine',
    arg: 'a',
    call: () => cosine([Number.NaN, 0], [1, 2]),
  },
  {
    group: PAIR,
    input: 'cosineDistance(new Float64Array([1, 2]), new Float64Array([NaN, 0]))',
    code: 'NON_FINITE',
    op: 'cosineDistance',
    arg: 'b',
    call: () => cosineDistance(new Float64Array([1, 2]), new Float64Array([Number.NaN, 0])),
  },
  {
    group: PAIR,
    input: 'normalize(Float32Array.of(NaN, 1))',
    code: 'NON_FINITE',
    op: 'normalize',
    arg: 'v',
    call: () => normalize(Float32Array.of(Number.NaN, 1)),
  },
  {
    group: PAIR,
    input: 'normalize([1, 2], new Float32Array(3))',
    code: 'SHAPE_MISMATCH',
    op: 'normalize',
    arg: 'out',
    call: () => normalize([1, 2], new Float32Array(3)),
  },

  {
    group: KIT,
    input: 'createCosineKit({ backend: null })',
    code: 'INVALID_TYPE',
    op: 'createCosineKit',
    arg: 'backend',
    call: () => createCosineKit({ backend: x(null) }),
  },
  {
    group: KIT,
    input: 'createCosineKit({ backend: 42 })',
    code: 'INVALID_TYPE',
    op: 'createCosineKit',
    arg: 'backend',
    call: () => createCosineKit({ backend: x(42) }),
  },
  {
    group: KIT,
    input: 'createCosineKit({ backend: {} })',
    code: 'INVALID_ARGUMENT',
    op: 'createCosineKit',
    arg: 'backend.name',
    call: () => createCosineKit({ backend: x({}) }),
  },
  {
    group: KIT,
    input: "createCosineKit({ backend: { name: 'x' } }) // no kernels",
    code: 'INVALID_TYPE',
    op: 'createCosineKit',
    arg: 'backend.kernels',
    call: () => createCosineKit({ backend: x({ name: 'x' }) }),
  },
  {
    group: KIT,
    input: "createCosineKit({ backend: { name: 'x', kernels: null } })",
    code: 'INVALID_TYPE',
    op: 'createCosineKit',
    arg: 'backend.kernels',
    call: () => createCosineKit({ backend: x({ name: 'x', kernels: null }) }),
  },
  {
    group: KIT,
    input: "createCosineKit({ backend: { name: 'x', kernels: { topK: 5 } } })",
    code: 'INVALID_TYPE',
    op: 'createCosineKit',
    arg: 'backend.kernels.topK',
    call: () => createCosineKit({ backend: x({ name: 'x', kernels: { topK: 5 } }) }),
  },
  {
    group: KIT,
    input: "createCosineKit('wasm') // a name, not options",
    code: 'INVALID_TYPE',
    op: 'createCosineKit',
    arg: 'options',
    call: () => createCosineKit(x('wasm')),
  },
  {
    group: KIT,
    input: "createCosineKit({ onFallback: 'log' })",
    code: 'INVALID_TYPE',
    op: 'createCosineKit',
    arg: 'onFallback',
    call: () => createCosineKit({ onFallback: x('log') }),
  },
  {
    group: KIT,
    input: 'createCosineKit({ timeoutMs: -1 })',
    code: 'INVALID_ARGUMENT',
    op: 'createCosineKit',
    arg: 'timeoutMs',
    call: () => createCosineKit({ timeoutMs: -1 }),
  },
  {
    group: KIT,
    input:
      "registerBackend('hostile-factory', () => 42); createCosineKit({ backend: 'hostile-factory' }).rowNorms(q)",
    code: 'BACKEND_INIT_FAILED',
    op: 'createCosineKit',
    arg: 'backend',
    call: (h) => {
      registerBackend('hostile-factory', () => x(42));
      return createCosineKit({ backend: 'hostile-factory' }).rowNorms(h.q);
    },
  },

  {
    group: BROKEN,
    input: "cosineMatrix throws new Error('boom')",
    code: 'BACKEND_ERROR',
    op: 'cosineMatrix',
    arg: 'a',
    call: (h) =>
      createCosineKit({
        backend: breaking(h, {
          cosineMatrix() {
            throw new Error('boom');
          },
        }),
      }).cosineMatrix(h.q, h.c),
  },
  {
    group: BROKEN,
    input: "cosineRows rejects with 'boom' (not an Error)",
    code: 'BACKEND_ERROR',
    op: 'cosineRows',
    arg: 'a',
    call: (h) =>
      createCosineKit({ backend: breaking(h, { cosineRows: () => Promise.reject('boom') }) }).cosineRows(
        h.q,
        h.q,
      ),
  },
  {
    group: BROKEN,
    input: 'cosineRows returns 3 values for 1 row',
    code: 'BACKEND_ERROR',
    op: 'cosineRows',
    arg: 'a',
    call: (h) =>
      createCosineKit({ backend: breaking(h, { cosineRows: () => new Float32Array(3) }) }).cosineRows(
        h.q,
        h.q,
      ),
  },
  {
    group: BROKEN,
    input: 'rowNorms returns a plain array',
    code: 'BACKEND_ERROR',
    op: 'rowNorms',
    arg: 'x',
    call: (h) => createCosineKit({ backend: breaking(h, { rowNorms: () => [1] }) }).rowNorms(h.q),
  },
  {
    group: BROKEN,
    input: 'rowNorms returns -1',
    code: 'BACKEND_ERROR',
    op: 'rowNorms',
    arg: 'x',
    call: (h) =>
      createCosineKit({ backend: breaking(h, { rowNorms: () => Float32Array.of(-1) }) }).rowNorms(h.q),
  },
  {
    group: BROKEN,
    input: 'cosineRows returns NaN',
    code: 'BACKEND_ERROR',
    op: 'cosineRows',
    arg: 'a',
    call: (h) =>
      createCosineKit({ backend: breaking(h, { cosineRows: () => Float32Array.of(Number.NaN) }) }).cosineRows(
        h.q,
        h.q,
      ),
  },
  {
    group: BROKEN,
    input: 'cosineMatrix returns 7 for a cosine',
    code: 'BACKEND_ERROR',
    op: 'cosineMatrix',
    arg: 'a',
    call: (h) =>
      createCosineKit({
        backend: breaking(h, { cosineMatrix: () => new Float32Array(8).fill(7) }),
      }).cosineMatrix(h.q, h.c),
  },
  {
    group: BROKEN,
    input:
      '{ ...backend, kernels: { ...backend.kernels, cosineMatrix: () => NaNs } } // a spread keeps selfChecked',
    code: 'BACKEND_ERROR',
    op: 'cosineMatrix',
    arg: 'a',
    call: (h) =>
      createCosineKit({
        backend: spreading(h, { cosineMatrix: () => new Float32Array(8).fill(Number.NaN) }),
      }).cosineMatrix(h.q, h.c),
  },
  {
    group: BROKEN,
    input: '{ ...backend, kernels: { ...backend.kernels, corpusMatrix: () => 7s } }',
    code: 'BACKEND_ERROR',
    op: 'similarity',
    arg: 'queries',
    call: async (h) => {
      const kit = createCosineKit({
        backend: spreading(h, {
          corpusMatrix: (_: unknown, q: { rows: number }) => new Float32Array(q.rows * 8).fill(7),
        }),
      });
      const corpus = await kit.corpus(h.c);
      try {
        return await corpus.similarity(h.q);
      } finally {
        corpus.dispose();
      }
    },
  },
  {
    group: BROKEN,
    input: '{ ...backend, kernels: { ...backend.kernels, matmul: () => NaNs } } then kit.kernels().matmul',
    code: 'BACKEND_ERROR',
    op: 'matmul',
    // matmul's arguments are a and b ('x' named none of them).
    arg: 'a',
    call: async (h) => {
      const k = await createCosineKit({
        backend: spreading(h, { matmul: () => new Float32Array(4).fill(Number.NaN) }),
      }).kernels();
      const m = { data: Float32Array.of(1, 2, 3, 4), rows: 2, cols: 2 };
      return k.matmul(m, m, false, false);
    },
  },
  {
    group: BROKEN,
    input: 'topK returns index 99 of 8 rows',
    code: 'BACKEND_ERROR',
    op: 'topK',
    arg: 'queries',
    call: (h) =>
      createCosineKit({ backend: breaking(h, { topK: () => answer([99, 0], [0.9, 0.5]) }) }).topK(
        h.q,
        h.c,
        2,
      ),
  },
  {
    group: BROKEN,
    input: 'topK returns index -5',
    code: 'BACKEND_ERROR',
    op: 'topK',
    arg: 'queries',
    call: (h) =>
      createCosineKit({ backend: breaking(h, { topK: () => answer([-5, 0], [0.9, 0.5]) }) }).topK(
        h.q,
        h.c,
        2,
      ),
  },
  {
    group: BROKEN,
    input: 'topK returns the same index twice',
    code: 'BACKEND_ERROR',
    op: 'topK',
    arg: 'queries',
    call: (h) =>
      createCosineKit({ backend: breaking(h, { topK: () => answer([3, 3], [0.9, 0.9]) }) }).topK(h.q, h.c, 2),
  },
  {
    group: BROKEN,
    input:
      'topK returns its real scores, sorted, for the neighbouring rows (indices + 1 mod 8): each in range, distinct, in [-1, 1]',
    code: 'BACKEND_ERROR',
    op: 'topK',
    arg: 'queries',
    call: (h) =>
      createCosineKit({
        backend: breaking(h, {
          async topK(q: never, c: { rows: number }, k: number) {
            const r = await h.backend.kernels.topK!(q, c as never, k);
            return { ...r, indices: r.indices.map((i) => (i + 1) % c.rows) };
          },
        }),
      }).topK(h.q, h.c, 3),
  },
  {
    group: BROKEN,
    input: 'topK returns 1 index for k = 2',
    code: 'BACKEND_ERROR',
    op: 'topK',
    arg: 'queries',
    call: (h) =>
      createCosineKit({ backend: breaking(h, { topK: () => answer([3], [0.9]) }) }).topK(h.q, h.c, 2),
  },
  {
    group: BROKEN,
    input: 'createCorpus returns a handle claiming 8 rows for 3',
    code: 'BACKEND_ERROR',
    op: 'corpus',
    arg: 'rows',
    call: (h) =>
      createCosineKit({
        backend: breaking(h, {
          createCorpus: () => ({ backend: 'broken', rows: 8, cols: 4, disposed: false, dispose() {} }),
          corpusSearch: () => answer([0], [1]),
          corpusMatrix: () => new Float32Array(8),
        }),
      }).corpus(h.c.slice(0, 3)),
  },
  {
    group: BROKEN,
    input: "createCorpus throws OUT_OF_MEMORY naming its own 'createCorpus' and 'x'",
    code: 'OUT_OF_MEMORY',
    op: 'corpus',
    arg: 'rows',
    call: (h) =>
      createCosineKit({
        backend: breaking(h, {
          createCorpus() {
            throw new CosineKitError(
              'OUT_OF_MEMORY',
              "Argument 'x' passed to 'createCorpus' needs 4.5 GiB.",
              {
                op: 'createCorpus',
                arg: 'x',
              },
            );
          },
          corpusSearch: () => answer([0], [1]),
          corpusMatrix: () => new Float32Array(8),
        }),
      }).corpus(h.c),
  },
  {
    group: BROKEN,
    input: 'cosineMatrix never settles (kit timeoutMs: 20)',
    code: 'BACKEND_ERROR',
    op: 'cosineMatrix',
    arg: 'a',
    call: (h) =>
      createCosineKit({
        backend: breaking(h, { cosineMatrix: () => new Promise(() => undefined) }),
        timeoutMs: 20,
      }).cosineMatrix(h.q, h.c),
  },

  {
    group: FILES,
    input: 'kit.loadCorpus(crafted({ next: 2 ** 31 })) // new ordinals would overflow int32',
    code: 'CORRUPT_DATA',
    op: 'loadCorpus',
    arg: 'bytes',
    call: (h) => h.kit.loadCorpus(crafted({ next: 2 ** 31 })),
  },
  {
    group: FILES,
    input: 'kit.loadCorpus(crafted({ next: 1 })) // fewer than the rows',
    code: 'CORRUPT_DATA',
    op: 'loadCorpus',
    arg: 'bytes',
    call: (h) => h.kit.loadCorpus(crafted({ next: 1 })),
  },
  {
    group: FILES,
    input: 'kit.loadCorpus(crafted({ ordinals: [1, 0] }))',
    code: 'CORRUPT_DATA',
    op: 'loadCorpus',
    arg: 'bytes',
    call: (h) => h.kit.loadCorpus(crafted({ ordinals: Int32Array.from([1, 0]) })),
  },
  {
    group: FILES,
    input:
      "kit.loadCorpus(crafted({ storage: 'int8', codes: [-128, ...], scales })) // a code the quantiser never makes",
    code: 'CORRUPT_DATA',
    op: 'loadCorpus',
    arg: 'bytes',
    call: (h) =>
      h.kit.loadCorpus(
        crafted({
          storage: 'int8',
          exact: null,
          codes: Int8Array.from([-128, 0, 0, 0, 0, 127, 0, 0]),
          scales: Float32Array.from([1 / 127, 1 / 127]),
        }),
      ),
  },
  {
    group: FILES,
    input: "kit.loadCorpus(crafted({ storage: 'int8', codes, scales: [NaN, 1 / 127] }))",
    code: 'CORRUPT_DATA',
    op: 'loadCorpus',
    arg: 'bytes',
    call: (h) =>
      h.kit.loadCorpus(
        crafted({
          storage: 'int8',
          exact: null,
          codes: CODES,
          scales: Float32Array.from([Number.NaN, 1 / 127]),
        }),
      ),
  },
  {
    group: FILES,
    input:
      "kit.loadCorpus(crafted({ storage: 'int8', codes, scales: [1e-40, 1 / 127] })) // rows not unit length",
    code: 'CORRUPT_DATA',
    op: 'loadCorpus',
    arg: 'bytes',
    call: (h) =>
      h.kit.loadCorpus(
        crafted({ storage: 'int8', exact: null, codes: CODES, scales: Float32Array.from([1e-40, 1 / 127]) }),
      ),
  },
  {
    group: FILES,
    input: "kit.loadCorpus(crafted({ storage: 'float16', half: [0x7c00, ...] })) // infinity",
    code: 'CORRUPT_DATA',
    op: 'loadCorpus',
    arg: 'bytes',
    call: (h) =>
      h.kit.loadCorpus(
        crafted({
          storage: 'float16',
          exact: null,
          half: Uint16Array.from([0x7c00, 0, 0, 0, 0, 0x3c00, 0, 0]),
        }),
      ),
  },
  {
    group: FILES,
    input: 'kit.loadCorpus(crafted({ exact: [NaN, 0, 0, 0, ...] }))',
    code: 'CORRUPT_DATA',
    op: 'loadCorpus',
    arg: 'bytes',
    call: (h) => h.kit.loadCorpus(crafted({ exact: Float32Array.from([Number.NaN, 0, 0, 0, 0, 1, 0, 0]) })),
  },
  {
    group: FILES,
    input:
      '(await kit.loadCorpus(crafted({ next: 2 ** 31 - 1 }))).add(c) // past the largest ordinal, 2^31 - 2',
    code: 'INVALID_ARGUMENT',
    op: 'add',
    arg: 'rows',
    call: async (h) => {
      const loaded = await h.kit.loadCorpus(crafted({ next: 2 ** 31 - 1 }));
      try {
        return await loaded.add(h.c);
      } finally {
        loaded.dispose();
      }
    },
  },
  {
    group: FILTERS,
    input: "corpus.search(q, 2, { filter: 'a' })",
    code: 'INVALID_TYPE',
    op: 'search',
    arg: 'options.filter',
    call: (h) => h.corpus.search(h.q, 2, { filter: x('a') }),
  },
  {
    group: FILTERS,
    input: "corpus.search(q, 2, { filter: { allow: ['a'], deny: ['b'] } })",
    code: 'INVALID_ARGUMENT',
    op: 'search',
    arg: 'options.filter',
    call: (h) => h.corpus.search(h.q, 2, { filter: x({ allow: ['a'], deny: ['b'] }) }),
  },
  {
    group: FILTERS,
    input: "corpus.search(q, 2, { filter: { allow: ['a', { id: 'b' }] } })",
    code: 'INVALID_TYPE',
    op: 'search',
    arg: 'options.filter.allow[1]',
    call: (h) => h.corpus.search(h.q, 2, { filter: { allow: x(['a', { id: 'b' }]) } }),
  },
  {
    group: FILTERS,
    input: 'corpus.search(q, 2, { filter: { mask: [1, 1, 0, 0, 1, 1, 0, 0] } }) // not a Uint8Array',
    code: 'INVALID_TYPE',
    op: 'search',
    arg: 'options.filter.mask',
    call: (h) => h.corpus.search(h.q, 2, { filter: { mask: x([1, 1, 0, 0, 1, 1, 0, 0]) } }),
  },
  {
    group: FILTERS,
    input: 'corpus.search(q, 2, { filter: { mask: new Uint8Array(7) } }) // the corpus has 8 rows',
    code: 'SHAPE_MISMATCH',
    op: 'search',
    arg: 'options.filter.mask',
    call: (h) => h.corpus.search(h.q, 2, { filter: { mask: new Uint8Array(7) } }),
  },
  {
    group: FILTERS,
    input: 'corpus.search(q, 2, { filter: { mask: Uint8Array.of(1, 1, 1, 255, 1, 1, 1, 1) } })',
    code: 'INVALID_ARGUMENT',
    op: 'search',
    arg: 'options.filter.mask[3]',
    call: (h) => h.corpus.search(h.q, 2, { filter: { mask: Uint8Array.of(1, 1, 1, 255, 1, 1, 1, 1) } }),
  },
  {
    group: FILTERS,
    input: "corpus.search(q, 2, { filter: () => { throw new Error('no') } })",
    code: 'INVALID_ARGUMENT',
    op: 'search',
    arg: 'options.filter',
    call: (h) =>
      h.corpus.search(h.q, 2, {
        filter: () => {
          throw new Error('no');
        },
      }),
  },
  {
    group: FILTERS,
    input: 'corpus.search(q, 2, { signal: AbortSignal.abort() })',
    code: 'ABORTED',
    op: 'search',
    arg: 'signal',
    call: (h) => h.corpus.search(h.q, 2, { signal: AbortSignal.abort() }),
  },
  {
    group: FILTERS,
    input: 'corpus.similarity(q, { signal: AbortSignal.abort() })',
    code: 'ABORTED',
    op: 'similarity',
    arg: 'signal',
    call: (h) => h.corpus.similarity(h.q, { signal: AbortSignal.abort() }),
  },
  {
    group: FILTERS,
    input: 'corpus.search(q, 2, { signal: { aborted: false } })',
    code: 'INVALID_TYPE',
    op: 'search',
    arg: 'options.signal',
    call: (h) => h.corpus.search(h.q, 2, { signal: x({ aborted: false }) }),
  },
  {
    group: FILTERS,
    input: 'kit.corpusFrom([c], { signal: AbortSignal.abort() })',
    code: 'ABORTED',
    op: 'corpusFrom',
    arg: 'signal',
    call: (h) => h.kit.corpusFrom([h.c], { signal: AbortSignal.abort() }),
  },
  {
    group: FILTERS,
    input: 'kit.corpusFrom(c[0])',
    code: 'INVALID_TYPE',
    op: 'corpusFrom',
    arg: 'source',
    call: (h) => h.kit.corpusFrom(x(h.c[0][0])),
  },
  {
    group: FILTERS,
    input: 'kit.corpusFrom([c, [[1, 2, 3, 4], [1, 2, 3]]], { segmentBytes: 1 }) // ragged second chunk',
    code: 'SHAPE_MISMATCH',
    op: 'corpusFrom',
    arg: 'source[1][1]',
    call: (h) =>
      h.kit.corpusFrom(
        [
          h.c,
          [
            [1, 2, 3, 4],
            [1, 2, 3],
          ],
        ],
        { segmentBytes: 1 },
      ),
  },
  {
    group: FILTERS,
    input:
      'kit.corpusFrom((async function* () { yield c; yield [[1, Infinity, 0, 0]]; })(), { segmentBytes: 1 })',
    code: 'NON_FINITE',
    op: 'corpusFrom',
    arg: 'source[1]',
    call: (h) =>
      h.kit.corpusFrom(
        (async function* () {
          yield h.c;
          yield [[1, Number.POSITIVE_INFINITY, 0, 0]];
        })(),
        { segmentBytes: 1 },
      ),
  },
  {
    group: FILTERS,
    input: "kit.corpusFrom([{ rows: c, ids: ['a'] }]) // 8 rows, 1 id",
    code: 'SHAPE_MISMATCH',
    op: 'corpusFrom',
    arg: 'source[0].ids',
    call: (h) => h.kit.corpusFrom([{ rows: h.c, ids: ['a'] }]),
  },
  {
    group: TABLE,
    input: 'K.corpusSearch(K.createCorpus(m(c)), m([[1, 2, 3]]), 1) // dimension 3 against 4',
    code: 'DIMENSION_MISMATCH',
    op: 'corpusSearch',
    arg: 'queries',
    call: (h) => onTable(h, (K, r) => K.corpusSearch(r, m([[1, 2, 3]]), 1)),
  },
  {
    group: TABLE,
    input: 'K.corpusSearch(K.createCorpus(m(c)), m([[1, 2, 3, 4, 5]]), 1) // dimension 5 against 4',
    code: 'DIMENSION_MISMATCH',
    op: 'corpusSearch',
    arg: 'queries',
    call: (h) => onTable(h, (K, r) => K.corpusSearch(r, m([[1, 2, 3, 4, 5]]), 1)),
  },
  {
    group: TABLE,
    input: 'K.corpusSearch(K.createCorpus(m(c)), m(q), 9) // 8 rows',
    code: 'INVALID_K',
    op: 'corpusSearch',
    arg: 'k',
    call: (h) => onTable(h, (K, r, h) => K.corpusSearch(r, m(h.q), 9)),
  },
  {
    group: TABLE,
    input: 'K.corpusSearch(null, m(q), 1)',
    code: 'INVALID_TYPE',
    op: 'corpusSearch',
    arg: 'corpus',
    call: (h) => onTable(h, (K, _r, h) => K.corpusSearch(x(null), m(h.q), 1)),
  },
  {
    group: TABLE,
    input: 'K.corpusMatrix(K.createCorpus(m(c)), m([[1, 2, 3]]))',
    code: 'DIMENSION_MISMATCH',
    op: 'corpusMatrix',
    arg: 'queries',
    call: (h) => onTable(h, (K, r) => K.corpusMatrix(r, m([[1, 2, 3]]))),
  },
  {
    group: TABLE,
    input: 'K.corpusMatrix(K.createCorpus(m(c)), m(q), new Float32Array(7)) // 1 x 8 result',
    code: 'SHAPE_MISMATCH',
    op: 'corpusMatrix',
    arg: 'out',
    call: (h) => onTable(h, (K, r, h) => K.corpusMatrix(r, m(h.q), new Float32Array(7))),
  },
  {
    group: TABLE,
    input: 'K.createCorpus({ data: new Float32Array(0), rows: 4, cols: 0 })',
    code: 'EMPTY_INPUT',
    op: 'createCorpus',
    arg: 'x',
    call: (h) => onTable(h, (K) => K.createCorpus({ data: new Float32Array(0), rows: 4, cols: 0 })),
  },
  {
    group: TABLE,
    input: 'K.cosineRows(m(c), m(c.slice(1))) // 8 rows and 7',
    code: 'DIMENSION_MISMATCH',
    op: 'cosineRows',
    arg: 'b',
    call: (h) => onTable(h, (K, _r, h) => K.cosineRows(m(h.c), m(h.c.slice(1)))),
  },
  {
    group: TABLE,
    input: 'K.cosineRows({ data: new Float32Array(7), rows: 2, cols: 4 }, m(c.slice(0, 2)))',
    code: 'SHAPE_MISMATCH',
    op: 'cosineRows',
    arg: 'a',
    call: (h) =>
      onTable(h, (K, _r, h) =>
        K.cosineRows({ data: new Float32Array(7), rows: 2, cols: 4 }, m(h.c.slice(0, 2))),
      ),
  },
  {
    group: TABLE,
    input: 'K.cosineMatrix(m(q), m([[1, 2, 3]]))',
    code: 'DIMENSION_MISMATCH',
    op: 'cosineMatrix',
    arg: 'b',
    call: (h) => onTable(h, (K, _r, h) => K.cosineMatrix(m(h.q), m([[1, 2, 3]]))),
  },
  {
    group: TABLE,
    input: 'K.topK(m(q), m([[1, 2, 3]]), 1)',
    code: 'DIMENSION_MISMATCH',
    op: 'topK',
    arg: 'queries',
    call: (h) => onTable(h, (K, _r, h) => K.topK(m(h.q), m([[1, 2, 3]]), 1)),
  },
  {
    group: TABLE,
    input: 'K.topK(m(q), m(c), 0)',
    code: 'INVALID_K',
    op: 'topK',
    arg: 'k',
    call: (h) => onTable(h, (K, _r, h) => K.topK(m(h.q), m(h.c), 0)),
  },
  {
    group: TABLE,
    input: 'K.rowNorms({ data: new Float32Array(0), rows: 0, cols: 4 })',
    code: 'EMPTY_INPUT',
    op: 'rowNorms',
    arg: 'x',
    call: (h) => onTable(h, (K) => K.rowNorms({ data: new Float32Array(0), rows: 0, cols: 4 })),
  },
  {
    group: TABLE,
    input: 'K.rowNorms({ data: new Float32Array(6), rows: 1.5, cols: 4 })',
    code: 'SHAPE_MISMATCH',
    op: 'rowNorms',
    arg: 'x',
    call: (h) => onTable(h, (K) => K.rowNorms({ data: new Float32Array(6), rows: 1.5, cols: 4 })),
  },
  {
    group: TABLE,
    input: 'K.normalizeRows({ data: new Float32Array(9), rows: 2, cols: 4 }) // one value too many',
    code: 'SHAPE_MISMATCH',
    op: 'normalizeRows',
    arg: 'x',
    call: (h) => onTable(h, (K) => K.normalizeRows({ data: new Float32Array(9).fill(1), rows: 2, cols: 4 })),
  },
  {
    group: TABLE,
    input: 'K.matmul(m(c), m(c), false, false) // 8 x 4 times 8 x 4',
    code: 'DIMENSION_MISMATCH',
    op: 'matmul',
    arg: 'b',
    call: (h) => onTable(h, (K, _r, h) => K.matmul(m(h.c), m(h.c), false, false)),
  },
  {
    group: TABLE,
    input: 'K.matmul(m(c), m(c), undefined, true)',
    code: 'INVALID_TYPE',
    op: 'matmul',
    arg: 'transA',
    call: (h) => onTable(h, (K, _r, h) => K.matmul(m(h.c), m(h.c), x(undefined), true)),
  },
  {
    group: TABLE,
    input: 'K.addBias(m(c), new Float32Array(3))',
    code: 'SHAPE_MISMATCH',
    op: 'addBias',
    arg: 'bias',
    call: (h) => onTable(h, (K, _r, h) => K.addBias(m(h.c), new Float32Array(3))),
  },
  {
    group: TABLE,
    input: "K.activation('softplus', m(c))",
    code: 'INVALID_ARGUMENT',
    op: 'activation',
    arg: 'kind',
    call: (h) => onTable(h, (K, _r, h) => K.activation(x('softplus'), m(h.c))),
  },
  {
    group: TABLE,
    input: "K.activationGrad('relu', m(c), m(c.slice(1)))",
    code: 'DIMENSION_MISMATCH',
    op: 'activationGrad',
    arg: 'dy',
    call: (h) => onTable(h, (K, _r, h) => K.activationGrad('relu', m(h.c), m(h.c.slice(1)))),
  },
];

/** A hostile call below the public API: a kernel given what validation would have refused. */
export interface KernelCase {
  /** Labels (see backends.ts) of the backends it applies to. */
  readonly backends: RegExp;
  readonly input: string;
  readonly code: ErrorCode;
  readonly op: string;
  readonly call: (b: Backend) => unknown;
}

/** A Matrix claiming 2^20 x 2^12 floats (16 GiB): more than a wasm32 memory can address. */
const HUGE = { data: new Float32Array(16), rows: 2 ** 20, cols: 2 ** 12 };

export const KERNEL_CASES: readonly KernelCase[] = [
  {
    backends: /^wasm/,
    input: 'backend.kernels.createCorpus({ data: new Float32Array(16), rows: 2 ** 20, cols: 2 ** 12 })',
    code: 'OUT_OF_MEMORY',
    op: 'createCorpus',
    call: (b) => b.kernels.createCorpus!(HUGE),
  },
  {
    backends: /^wasm/,
    input:
      'backend.kernels.cosineMatrix(that matrix, { data: new Float32Array(40 * 2 ** 12), rows: 40, cols: 2 ** 12 }) // staged whole',
    code: 'OUT_OF_MEMORY',
    op: 'cosineMatrix',
    call: (b) =>
      b.kernels.cosineMatrix!(HUGE, { data: new Float32Array(40 * 2 ** 12), rows: 40, cols: 2 ** 12 }),
  },
  {
    backends: /^wasm/,
    input:
      'backend.kernels.cosineMatrix(that matrix, { data: new Float32Array(4 * 2 ** 12), rows: 4, cols: 2 ** 12 }) // streamed',
    code: 'SHAPE_MISMATCH',
    op: 'cosineMatrix',
    call: (b) =>
      b.kernels.cosineMatrix!(HUGE, { data: new Float32Array(4 * 2 ** 12), rows: 4, cols: 2 ** 12 }),
  },
  {
    backends: /^wasm/,
    input:
      'createWasmBackend().kernels.rowNorms(m) // before init(): the kit awaits init, a direct caller must',
    code: 'UNSUPPORTED',
    op: 'rowNorms',
    call: () =>
      createWasmBackend({ variant: 'simd' }).kernels.rowNorms({
        data: new Float32Array(4),
        rows: 1,
        cols: 4,
      }),
  },
];
