import { Tensor } from '@cosinekit/core';
import type { Matrix, TopKResult } from '@cosinekit/core/backend';
import { check, fail, skip } from '../assert.js';
import { type CaseData, type ConformanceCase, type ConformanceContext, defineCase } from './context.js';

/** A search under test: the kernel, a resident corpus of the backend, or the public API. */
type Search = (ctx: ConformanceContext, q: Matrix, c: Matrix, ks: readonly number[]) => Promise<TopKResult[]>;

const viaTopK: Search = async ({ kernels }, q, c, ks) => {
  const out: TopKResult[] = [];
  for (const k of ks) out.push(await kernels.topK(q, c, k));
  return out;
};

const viaCorpus: Search = async ({ kernels }, q, c, ks) => {
  const h = await kernels.createCorpus(c, { storage: 'float32' });
  try {
    const out: TopKResult[] = [];
    for (const k of ks) out.push(await kernels.corpusSearch(h, q, k));
    return out;
  } finally {
    h.dispose();
  }
};

const viaKit = async (
  { kit }: ConformanceContext,
  q: Tensor,
  c: Tensor,
  ks: readonly number[],
): Promise<TopKResult[]> => {
  const out: TopKResult[] = [];
  for (const k of ks) out.push(await kit.topK(q, c, k));
  const corpus = await kit.corpus(c, { storage: 'float32' });
  try {
    for (const k of ks) out.push(await corpus.search(q, k));
  } finally {
    corpus.dispose();
  }
  return out;
};

/** Every row allowed: the filtered kernel breaks ties as the plain one does (skipped without it). */
const viaAllowed: Search = async ({ kernels }, q, c, ks) => {
  const run = kernels.corpusSearchAllowed;
  if (!run) skip('this backend has no corpusSearchAllowed kernel; the kit filters around corpusSearch');
  const h = await kernels.createCorpus(c, { storage: 'float32' });
  try {
    const allow = new Uint8Array(c.rows).fill(1);
    const out: TopKResult[] = [];
    for (const k of ks) out.push(await run.call(kernels, h, q, k, allow));
    return out;
  } finally {
    h.dispose();
  }
};

const SEARCHES = [
  { kernel: 'topK', via: viaTopK },
  { kernel: 'corpusSearch', via: viaCorpus },
  { kernel: 'corpusSearchAllowed', via: viaAllowed },
] as const;

/** Entries `from` to `to` of `a` as text, at most 16 of them (long answers are cut, marked '...'). */
const list = (a: ArrayLike<number>, from: number, to: number) => {
  const part = Array.from(a).slice(from, Math.min(to, from + 16));
  return part.join(', ') + (to - from > 16 ? ', ...' : '');
};

/**
 * '' when query `i` of `r` is exactly `want` (rows and scores), else the first rank that differs
 * and the answers from a little before it.
 */
function d1Mismatch(r: TopKResult, i: number, want: { indices: number[]; scores: number[] }): string {
  const k = r.k;
  const t = want.indices.findIndex(
    (j, t) => r.indices[i * k + t] !== j || r.scores[i * k + t] !== want.scores[t],
  );
  if (t < 0) return '';
  const from = Math.max(0, t - 2);
  return (
    `at rank ${t} row ${r.indices[i * k + t]} scoring ${r.scores[i * k + t]}, expected row ${want.indices[t]} ` +
    `scoring exactly ${want.scores[t]}; from rank ${from}: rows [${list(r.indices, i * k + from, i * k + k)}] ` +
    `scoring [${list(r.scores, i * k + from, i * k + k)}], expected [${list(want.indices, from, k)}] ` +
    `scoring [${list(want.scores, from, k)}]`
  );
}

/**
 * What "ties go to the lower index" means for the scores a backend reports: with every row
 * returned (k = N), scores run non-increasing and equal scores run by ascending index; a smaller
 * k returns exactly the first k of that answer, scores bit for bit; equal query rows get equal
 * answers. Holds whatever the rounding, so it needs no knowledge of the engine.
 */
function checkConsistent(what: string, q: Matrix, n: number, ks: readonly number[], got: TopKResult[]): void {
  const full = got[ks.indexOf(n)];
  check(full !== undefined, `${what}: the checks need k = N among the ks`);
  for (let i = 0; i < q.rows; i++) {
    const at = i * n;
    for (let r = 0; r < n; r++) {
      const s = full.scores[at + r];
      check(s >= -1 && s <= 1, `${what}: query ${i} rank ${r}: score ${s} is outside [-1, 1]`);
      if (r === 0) continue;
      const prev = full.scores[at + r - 1];
      check(prev >= s, `${what} k=${n}: query ${i}: scores not best first at rank ${r} (${prev} < ${s})`);
      if (prev === s && full.indices[at + r - 1] > full.indices[at + r]) {
        fail(
          `${what} k=${n}: query ${i}: rows ${full.indices[at + r - 1]} and ${full.indices[at + r]} both score ${s} ` +
            'but the higher index comes first (ties go to the lower index)',
        );
      }
    }
  }
  ks.forEach((k, which) => {
    const r = got[which];
    check(
      r.k === k && r.queries === q.rows,
      `${what}: result is ${r.queries}x${r.k}, expected ${q.rows}x${k}`,
    );
    for (let i = 0; i < q.rows; i++) {
      for (let t = 0; t < k; t++) {
        if (
          r.indices[i * k + t] !== full.indices[i * n + t] ||
          !Object.is(r.scores[i * k + t], full.scores[i * n + t])
        ) {
          fail(
            `${what} k=${k}: query ${i} is [${list(r.indices, i * k, i * k + k)}] scoring ` +
              `[${list(r.scores, i * k, i * k + k)}], not the first ${k} of the k=N answer ` +
              `[${list(full.indices, i * n, i * n + k)}] scoring [${list(full.scores, i * n, i * n + k)}]: ` +
              'the selection did not compare the scores it reports',
          );
        }
      }
    }
  });
  // Bit-identical query rows must get bit-identical answers.
  for (let i = 0; i < q.rows; i++) {
    for (let j = i + 1; j < q.rows; j++) {
      if (!sameRow(q, i, j)) continue;
      for (let t = 0; t < n; t++) {
        if (
          full.indices[i * n + t] !== full.indices[j * n + t] ||
          !Object.is(full.scores[i * n + t], full.scores[j * n + t])
        ) {
          fail(`${what}: queries ${i} and ${j} are the same row but their answers differ at rank ${t}`);
        }
      }
    }
  }
}

function sameRow(x: Matrix, i: number, j: number): boolean {
  for (let p = 0; p < x.cols; p++)
    if (!Object.is(x.data[i * x.cols + p], x.data[j * x.cols + p])) return false;
  return true;
}

/** The exact answer at d = 1, where every cosine is -1, 0 or 1: best first, ties by lower index. */
function exactAtD1(q: Matrix, c: Matrix, k: number): { indices: number[]; scores: number[] }[] {
  return Array.from(q.data, (x) => {
    const cos = (j: number) => Math.sign(x) * Math.sign(c.data[j]) + 0; // + 0: no -0
    const order = Array.from({ length: c.rows }, (_, j) => j).sort((a, b) => cos(b) - cos(a) || a - b);
    return { indices: order.slice(0, k), scores: order.slice(0, k).map(cos) };
  });
}

/**
 * Rows of one component: positives of very different sizes, negatives, a zero, then more drawn
 * at random over twenty orders of magnitude. Every cosine is exactly -1, 0 or 1, so every backend
 * must give the same answer; a normalisation that rounds a row to 0.99999994 or 1.0000001 breaks
 * the ties (0.123, 65504.5 and 124.52094 against 23.955673 are such sizes for some engines).
 */
function d1(data: CaseData): { q: Tensor; c: Tensor } {
  const fixed = [0.123, 65504.5, 3, -2, 0.5, 1e-3, 7, -0.1, 1e4, 0, 42, 1 / 3, -7e-5, 124.52094, 0.7];
  const u = data.centred(2, 48).data;
  const rows = [
    ...fixed,
    ...Array.from(u.subarray(0, 48), (v, i) => (i % 5 === 4 ? -1 : 1) * Math.exp(v * 23)),
  ];
  const queries = [
    2,
    -0.25,
    0,
    2,
    1e-3,
    23.955673,
    ...Array.from(u.subarray(48, 54), (v) => Math.exp(v * 11)),
  ];
  return {
    q: new Tensor(Float32Array.from(queries), queries.length, 1),
    c: new Tensor(Float32Array.from(rows), rows.length, 1),
  };
}

/**
 * Rows at d > 1 where many cosines tie or nearly tie: exact copies of the query (some across
 * tile boundaries), positive multiples of it (equal cosines in exact arithmetic, maybe not after
 * rounding), its negation, zero rows, and random rows between.
 */
function crowded(data: CaseData, n: number, d: number): { q: Tensor; c: Tensor } {
  const base = data.matrix(1, d).data;
  const q = new Tensor(new Float32Array(3 * d), 3, d);
  q.data.set(base, 0);
  q.data.set(data.matrix(1, d).data, d);
  q.data.set(base, 2 * d);
  const c = data.matrix(n, d);
  const put = (row: number, f: number) => {
    if (row >= n) return;
    for (let p = 0; p < d; p++) c.data[row * d + p] = base[p] * f;
  };
  for (const row of [3, 11, 20, 37, 1023, 1024, 2047, 2048, 4095, 4096, n - 1]) put(row, 1);
  for (const [row, f] of [
    [5, 2],
    [8, 0.5],
    [13, 3],
    [21, 1e3],
    [34, 1e-3],
    [2049, 7],
  ] as const)
    put(row, f);
  put(9, -1);
  put(30, -4);
  c.data.fill(0, 2 * d, 3 * d);
  c.data.fill(0, 25 * d, 26 * d);
  return { q, c };
}

/** Ties: the order among scores a backend reports as equal, on every backend the same. */
export function tieCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  for (const { kernel, via } of SEARCHES) {
    cases.push(
      defineCase(
        'ties',
        `d=1: rows of any positive size all score exactly 1 and come lowest index first (${kernel})`,
        kernel === 'corpusSearchAllowed' ? undefined : kernel,
        async (ctx, data) => {
          const { q, c } = d1(data);
          const n = c.rows;
          const ks = [1, 2, 3, 5, 7, n];
          const got = await via(ctx, q, c, ks);
          ks.forEach((k, which) => {
            const want = exactAtD1(q, c, k);
            for (let i = 0; i < q.rows; i++) {
              const where = d1Mismatch(got[which], i, want[i]);
              if (where) fail(`${kernel} d=1 k=${k}: query ${i} (x = ${q.data[i]}): ${where}`);
            }
          });
          checkConsistent(`${kernel} d=1`, q, n, ks, got);
        },
      ),
    );
    for (const [n, d] of [
      [40, 24],
      [300, 1536],
      [4100, 9],
    ] as const) {
      cases.push(
        defineCase(
          'ties',
          `${n} rows, d=${d}: copies and multiples of the query, zero rows; equal scores lowest index first, k=3 the top of k=N (${kernel})`,
          kernel === 'corpusSearchAllowed' ? undefined : kernel,
          async (ctx, data) => {
            const { q, c } = crowded(data, n, d);
            const ks = [1, 3, 4, 11, n - 1, n];
            const got = await via(ctx, q, c, ks);
            checkConsistent(`${kernel} ${n}x${d}`, q, n, ks, got);
            // Bit-identical rows score bit-identically.
            const full = got[ks.indexOf(n)];
            const copies = [3, 11, 20, 37, 1023, 1024, 2047, 2048, 4095, 4096, n - 1].filter((r) => r < n);
            const scoreOf = (row: number) => full.scores[full.indices.indexOf(row)];
            for (const r of copies) {
              check(
                Object.is(scoreOf(r), scoreOf(copies[0])),
                `${kernel} ${n}x${d}: rows ${copies[0]} and ${r} are the same vector but score ${scoreOf(copies[0])} and ${scoreOf(r)}`,
              );
            }
            check(
              Math.abs(scoreOf(copies[0]) - 1) <= ctx.tol.cosine,
              `${kernel} ${n}x${d}: a copy of the query scores ${scoreOf(copies[0])}`,
            );
            for (const z of [2, 25]) {
              check(scoreOf(z) === 0, `${kernel} ${n}x${d}: zero row ${z} scores ${scoreOf(z)}, not 0`);
            }
          },
        ),
      );
    }
  }
  cases.push(
    defineCase(
      'ties',
      'through the public API: kit.topK and corpus.search break ties by the lower index at d=1 and d=24',
      undefined,
      async (ctx, data) => {
        const { q: q1, c: c1 } = d1(data);
        const ks1 = [1, 3, c1.rows];
        const got1 = await viaKit(ctx, q1, c1, ks1);
        for (const [which, k] of [...ks1, ...ks1].entries()) {
          const want = exactAtD1(q1, c1, k);
          for (let i = 0; i < q1.rows; i++) {
            const via = which < ks1.length ? 'kit.topK' : 'corpus.search';
            const where = d1Mismatch(got1[which], i, want[i]);
            if (where) fail(`${via} d=1 k=${k}: query ${i} (x = ${q1.data[i]}): ${where}`);
          }
        }
        const { q, c } = crowded(data, 40, 24);
        const ks = [3, 40];
        const got = await viaKit(ctx, q, c, ks);
        checkConsistent('kit.topK 40x24', q, 40, ks, got.slice(0, 2));
        checkConsistent('corpus.search 40x24', q, 40, ks, got.slice(2));
      },
    ),
  );
  return cases;
}
