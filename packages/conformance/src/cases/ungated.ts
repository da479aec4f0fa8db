import { Tensor } from '@cosinekit/core';
import {
  type ResidentCorpus,
  resolveKernels,
  type TopKResult,
  type UngatedKernelName,
} from '@cosinekit/core/backend';
import { assertClose, assertRejects, check, fail, skip } from '../assert.js';
import { cos64, cosineMatrix64, norms64 } from '../oracle.js';
import { type CaseData, type ConformanceCase, type ConformanceContext, defineCase } from './context.js';
import { checkTopK } from './search.js';

/**
 * Shapes (queries or rows of `a`, corpus rows, width): one value, odd widths, a wide row, and rows
 * past 64 and 128 (a kernel that checked or rescaled only its first tile of 64 rows passed when
 * every shape was smaller: NaN in row 100 got finite answers through the kit).
 */
const SHAPES = [
  [1, 1, 1],
  [3, 7, 5],
  [5, 37, 17],
  [2, 9, 1536],
  [70, 131, 33],
] as const;

/**
 * Row scales that break a float32 cosine computed naively: squares that overflow (3e38, 2^100),
 * flush to zero (2^-100) or start subnormal (2^-140), next to rows left as they are.
 */
const SCALES = [3e38, 2 ** 100, 2 ** -100, 2 ** -140] as const;

/** `m` with row i multiplied by `scale(i)`. */
function scaled(m: Tensor, scale: (row: number) => number): Tensor {
  const data = m.data.map((v, i) => v * scale(Math.floor(i / m.cols)));
  return new Tensor(data, m.rows, m.cols);
}

function declared(ctx: ConformanceContext, kernel: UngatedKernelName): void {
  if (!resolveKernels(ctx.backend).ungated.includes(kernel))
    skip(`${kernel} is not declared ungated (Backend.ungated); the kit gates its inputs`);
}

/** Calls an ungated kernel, which must answer synchronously (`Backend.ungated`, promise 1). */
function now<T>(what: string, call: () => unknown): T {
  const out = call();
  if (typeof (out as { then?: unknown } | null)?.then === 'function') {
    (out as Promise<unknown>).then(undefined, () => undefined);
    fail(`${what}: declared ungated, but answered with a promise`);
  }
  return out as T;
}

/** Pairs of rows of mixed extreme magnitudes for one shape, as (a, b) with `a.rows` x `b.rows`. */
function extremes(data: CaseData, q: number, n: number, d: number): [string, Tensor, Tensor][] {
  const a = data.centred(q, d);
  const b = data.matrix(n, d);
  return SCALES.map((s) => [
    `scale ${s}`,
    // Every other row of a scaled by s, two rows in three of b by the other extreme.
    scaled(a, (i) => (i % 2 === 0 ? s : 1)),
    scaled(b, (j) => (j % 3 === 2 ? 1 : s >= 1 ? 1 / s : 1 / (s * 2 ** 60))),
  ]);
}

/** `x` with `bad` at position `at`. */
function poisoned(x: Tensor, at: number, bad: number): Tensor {
  const data = Float32Array.from(x.data);
  data[at] = bad;
  return new Tensor(data, x.rows, x.cols);
}

const BAD = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY] as const;

/** The largest float32. */
const F32_MAX = 3.4028234663852886e38;

/** Calls `call` and checks it throws (the promise for `cosineMatrix` and `topK` on NaN or ±Infinity). */
function throws(what: string, call: () => unknown): void {
  let out: unknown;
  try {
    out = call();
  } catch {
    return;
  }
  if (typeof (out as { then?: unknown } | null)?.then === 'function')
    (out as Promise<unknown>).then(undefined, () => undefined);
  fail(`${what}: declared ungated, but answered instead of throwing`);
}

/**
 * Kernels a backend declares ungated (`Backend.ungated`) keep the promise the kit relies on when
 * it hands them the caller's rows with no copy, finite check or rescale: a synchronous answer,
 * exact for finite rows of any magnitude, and never an answer that looks valid for NaN or
 * ±Infinity. Through the kit, such input still gets the gate's typed error.
 */
export function ungatedCases(): ConformanceCase[] {
  const group = 'ungated kernels';
  const exact = (kernel: UngatedKernelName) =>
    defineCase(
      group,
      `${kernel}: synchronous, and exact at any finite magnitude (rows at 3e38, 2^100, 2^-100, 2^-140 beside ordinary ones)`,
      kernel,
      async (ctx, data) => {
        declared(ctx, kernel);
        const k = ctx.kernels;
        for (const [q, n, d] of SHAPES) {
          const rows = kernel === 'cosineRows' ? q : n;
          for (const [how, a, b0] of extremes(data, q, rows, d)) {
            const what = `${kernel} [${q}x${rows}x${d}], ${how}`;
            if (kernel === 'rowNorms' || kernel === 'normalizeRows') {
              const n64 = norms64(a);
              if (kernel === 'rowNorms') {
                // Relative, plus half the gap between subnormal float32 values (2^-150). A norm
                // past the largest float32 is +Infinity (the kit then refuses the call by name).
                const got = now<Float32Array>(what, () => k.rowNorms(a));
                const big = Array.from(n64, (v) => v > F32_MAX);
                for (let i = 0; i < a.rows; i++)
                  if (big[i] && got[i] !== Number.POSITIVE_INFINITY)
                    fail(`${what}: row ${i}'s norm ${n64[i]} passes float32, but it answered ${got[i]}`);
                const fits = (v: ArrayLike<number>) => Array.from(v).filter((_, i) => !big[i]);
                const want = fits(n64);
                assertClose(what, fits(got), want, (i) => ctx.tol.algebra * want[i] + 2 ** -149);
                if (!big.includes(true)) {
                  const kit = await ctx.kit.rowNorms(a);
                  assertClose(`kit.${what}`, kit, n64, (i) => ctx.tol.algebra * n64[i] + 2 ** -149);
                }
              } else {
                const want = Array.from(a.data, (v, i) => {
                  const m = n64[Math.floor(i / d)];
                  return m === 0 ? 0 : v / m;
                });
                assertClose(
                  what,
                  now<Float32Array>(what, () => k.normalizeRows(a)),
                  want,
                  () => ctx.tol.cosine,
                );
                const kit = await ctx.kit.normalize(a);
                assertClose(`kit.${what}`, kit.data, want, () => ctx.tol.cosine);
              }
            } else if (kernel === 'cosineRows') {
              const got = now<Float32Array>(what, () => k.cosineRows(a, b0));
              const want = Array.from({ length: q }, (_, i) => cos64(a, i, b0, i));
              assertClose(what, got, want, () => ctx.tol.cosine);
            } else if (kernel === 'cosineMatrix') {
              const got = now<Float32Array>(what, () => k.cosineMatrix(a, b0));
              assertClose(what, got, cosineMatrix64(a, b0), () => ctx.tol.cosine);
              const kit = await ctx.kit.cosineMatrix(a, b0);
              assertClose(`kit.${what}`, kit.data, cosineMatrix64(a, b0), () => ctx.tol.cosine);
            } else {
              const top = Math.min(3, rows);
              checkTopK(
                what,
                now(what, () => k.topK(a, b0, top)),
                a,
                b0,
                top,
                ctx.tol.cosine,
              );
              checkTopK(`kit.${what}`, await ctx.kit.topK(a, b0, top), a, b0, top, ctx.tol.cosine);
            }
          }
        }
      },
    );
  const refuses = (kernel: UngatedKernelName) =>
    defineCase(
      group,
      kernel === 'cosineRows' || kernel === 'rowNorms' || kernel === 'normalizeRows'
        ? `${kernel}: NaN (a norm: NaN or Infinity) for a row holding NaN or ±Infinity, or a throw; through the kit, the typed error`
        : `${kernel}: throws on NaN or ±Infinity anywhere in either input; through the kit, the typed error`,
      kernel,
      async (ctx, data) => {
        declared(ctx, kernel);
        const k = ctx.kernels;
        for (const [q, n, d] of SHAPES.filter(([, , d]) => d < 1536)) {
          const rows = kernel === 'cosineRows' ? q : n;
          const a = data.centred(q, d);
          const b = data.matrix(rows, d);
          for (const bad of BAD)
            for (const which of [0, 1] as const) {
              const x = which === 0 ? a : b;
              for (const at of new Set([0, (x.rows * d) >> 1, x.rows * d - 1])) {
                const pa = which === 0 ? poisoned(a, at, bad) : a;
                const pb = which === 1 ? poisoned(b, at, bad) : b;
                const what = `${kernel} [${q}x${rows}x${d}], ${bad} at ${at} of ${which === 0 ? 'the first' : 'the second'} input`;
                if (kernel === 'rowNorms' || kernel === 'normalizeRows') {
                  if (which === 1) continue;
                  const per = kernel === 'rowNorms' ? 1 : d;
                  let got: unknown;
                  try {
                    got = now(what, () => (kernel === 'rowNorms' ? k.rowNorms(pa) : k.normalizeRows(pa)));
                  } catch {
                    got = undefined;
                  }
                  if (got !== undefined) {
                    check(
                      got instanceof Float32Array && got.length === q * per,
                      `${what}: not ${q * per} values`,
                    );
                    const row = Math.floor(at / d);
                    const vals = Array.from(got.subarray(row * per, (row + 1) * per));
                    if (vals.every((v) => Number.isFinite(v)))
                      fail(
                        `${what}: answered only finite values for the bad row ${row}: ${vals.slice(0, 4).join(', ')}`,
                      );
                  }
                  const op = kernel === 'rowNorms' ? 'rowNorms' : 'normalize';
                  await assertRejects(`kit.${what}`, () => ctx.kit[op](pa), 'NON_FINITE', { op, arg: 'x' });
                } else if (kernel === 'cosineRows') {
                  let got: unknown;
                  try {
                    got = now(what, () => k.cosineRows(pa, pb));
                  } catch {
                    got = undefined;
                  }
                  if (got !== undefined) {
                    check(got instanceof Float32Array && got.length === q, `${what}: not ${q} cosines`);
                    const row = Math.floor(at / d);
                    if (!Number.isNaN(got[row])) fail(`${what}: answered ${got[row]} for the bad row ${row}`);
                  }
                  const arg = which === 0 ? 'a' : 'b';
                  await assertRejects(`kit.${what}`, () => ctx.kit.cosineRows(pa, pb), 'NON_FINITE', {
                    op: 'cosineRows',
                    arg,
                  });
                } else if (kernel === 'cosineMatrix') {
                  throws(what, () => k.cosineMatrix(pa, pb));
                  await assertRejects(`kit.${what}`, () => ctx.kit.cosineMatrix(pa, pb), 'NON_FINITE', {
                    op: 'cosineMatrix',
                    arg: which === 0 ? 'a' : 'b',
                  });
                } else {
                  throws(what, () => k.topK(pa, pb, 1));
                  await assertRejects(`kit.${what}`, () => ctx.kit.topK(pa, pb, 1), 'NON_FINITE', {
                    op: 'topK',
                    arg: which === 0 ? 'queries' : 'corpus',
                  });
                }
              }
            }
        }
      },
    );
  const kernels: UngatedKernelName[] = ['cosineRows', 'cosineMatrix', 'topK', 'rowNorms', 'normalizeRows'];
  const corpus = defineCase(
    group,
    'createCorpus: synchronous, exact at any finite magnitude, throws on NaN or ±Infinity; through kit.corpus (float32 and int8) and corpus.add, the typed error',
    'createCorpus',
    async (ctx, data) => {
      declared(ctx, 'createCorpus');
      const k = ctx.kernels;
      for (const [q, n, d] of SHAPES) {
        for (const [how, a, b] of extremes(data, q, n, d)) {
          const what = `createCorpus [${n}x${d}], ${how}`;
          const h = now<{ dispose(): void }>(what, () =>
            k.createCorpus(b, { storage: 'float32', rerank: 0 }),
          );
          try {
            const top = Math.min(3, n);
            checkTopK(what, await k.corpusSearch(h as never, a, top), a, b, top, ctx.tol.cosine);
          } finally {
            h.dispose();
          }
          const c = await ctx.kit.corpus(b);
          try {
            const top = Math.min(3, n);
            checkTopK(`kit.${what}`, await c.search(a, top), a, b, top, ctx.tol.cosine);
            // The same rows again through corpus.add: each scores as before, twice (ties in order).
            await c.add(b);
            const both = { data: new Float32Array(2 * n * d), rows: 2 * n, cols: d };
            both.data.set(b.data);
            both.data.set(b.data, n * d);
            const top2 = Math.min(6, 2 * n);
            checkTopK(`corpus.add of ${what}`, await c.search(a, top2), a, both, top2, ctx.tol.cosine);
          } finally {
            c.dispose();
          }
          // int8 (re-ranked by default, so exact scores), wherever the kit keeps it.
          const c8 = await ctx.kit.corpus(b, { storage: 'int8' });
          try {
            const top = Math.min(3, n);
            checkTopK(`kit.${what}, int8`, await c8.search(a, top), a, b, top, ctx.tol.cosine);
          } finally {
            c8.dispose();
          }
        }
        const b = data.matrix(n, d);
        for (const bad of BAD)
          for (const at of new Set([0, (n * d) >> 1, n * d - 1])) {
            const pb = poisoned(b, at, bad);
            const what = `createCorpus [${n}x${d}], ${bad} at ${at}`;
            throws(what, () => k.createCorpus(pb, { storage: 'float32', rerank: 0 }));
            for (const storage of ['float32', 'int8'] as const)
              await assertRejects(
                `kit.${what}, ${storage}`,
                () => ctx.kit.corpus(pb, { storage }),
                'NON_FINITE',
                {
                  op: 'corpus',
                  arg: 'rows',
                },
              );
            const c = await ctx.kit.corpus(b);
            try {
              await assertRejects(`corpus.add of ${what}`, () => c.add(pb), 'NON_FINITE', {
                op: 'add',
                arg: 'rows',
              });
              if (c.rows !== n)
                throw new Error(`corpus.add of ${what}: the corpus holds ${c.rows} rows, not ${n}`);
            } finally {
              c.dispose();
            }
          }
      }
    },
  );
  const search = (kernel: 'corpusSearch' | 'corpusMatrix') =>
    defineCase(
      group,
      `${kernel}: synchronous, exact at any finite magnitude of the queries and throws on NaN or ±Infinity in them, at every storage; through corpus.${kernel === 'corpusSearch' ? 'search' : 'similarity'}, the typed error`,
      kernel,
      async (ctx, data) => {
        declared(ctx, kernel);
        await corpusQueries(ctx, data, kernel);
      },
    );
  return [
    ...kernels.map(exact),
    ...kernels.map(refuses),
    corpus,
    search('corpusSearch'),
    search('corpusMatrix'),
  ];
}

/** The kernel's answer for `q` against handle `h`: top-3 (or fewer rows), or the whole matrix. */
function queryCorpus(
  ctx: ConformanceContext,
  kernel: 'corpusSearch' | 'corpusMatrix',
  what: string,
  h: ResidentCorpus,
  q: Tensor,
  top: number,
): TopKResult | Float32Array {
  return now(what, () =>
    kernel === 'corpusSearch' ? ctx.kernels.corpusSearch(h, q, top) : ctx.kernels.corpusMatrix(h, q),
  );
}

/**
 * The queries' promises of an ungated `corpusSearch` or `corpusMatrix`, for corpora made through
 * the kernel table at every storage: float32 rows give the float64 cosines for queries at 3e38,
 * 2^100, 2^-100 and 2^-140 beside ordinary ones; int8 and float16 rows (no float32 rows kept) give
 * the answer of the same queries unscaled, for scales by a power of two that float32 holds exactly
 * (what the gate's rescale would have handed the kernel, up to that power), within the cosine
 * tolerance; NaN or ±Infinity in any
 * query throws, and the kit's corpus names it.
 */
async function corpusQueries(
  ctx: ConformanceContext,
  data: CaseData,
  kernel: 'corpusSearch' | 'corpusMatrix',
): Promise<void> {
  const k = ctx.kernels;
  const op = kernel === 'corpusSearch' ? 'search' : 'similarity';
  for (const storage of ['float32', 'int8', 'float16'] as const)
    for (const [q, n, d] of SHAPES) {
      const b = data.matrix(n, d);
      const top = Math.min(3, n);
      const h = (await k.createCorpus(b, { storage, rerank: 0 })) as ResidentCorpus;
      try {
        if (storage === 'float32') {
          for (const [how, a] of extremes(data, q, n, d)) {
            const what = `${kernel} [${q}x${n}x${d}], float32, queries at ${how}`;
            const got = queryCorpus(ctx, kernel, what, h, a, top);
            if (kernel === 'corpusSearch') checkTopK(what, got as TopKResult, a, b, top, ctx.tol.cosine);
            else assertClose(what, got as Float32Array, cosineMatrix64(a, b), () => ctx.tol.cosine);
          }
        } else {
          const a = data.centred(q, d);
          const plain = queryCorpus(ctx, kernel, `${kernel}, ${storage}, plain queries`, h, a, top);
          for (const s of [2 ** 100, 2 ** -100]) {
            const what = `${kernel} [${q}x${n}x${d}], ${storage}, every other query times ${s}`;
            const got = queryCorpus(
              ctx,
              kernel,
              what,
              h,
              scaled(a, (i) => (i % 2 === 0 ? s : 1)),
              top,
            );
            if (kernel === 'corpusMatrix')
              assertClose(what, got as Float32Array, plain as Float32Array, () => ctx.tol.cosine);
            else
              assertClose(
                what,
                (got as TopKResult).scores,
                (plain as TopKResult).scores,
                () => ctx.tol.cosine,
              );
          }
        }
        if (d >= 1536) continue;
        for (const bad of BAD)
          for (const at of new Set([0, (q * d) >> 1, q * d - 1])) {
            const what = `${kernel} [${q}x${n}x${d}], ${storage}, ${bad} at ${at} of the queries`;
            throws(what, () => queryCorpus(ctx, kernel, what, h, poisoned(data.centred(q, d), at, bad), top));
          }
      } finally {
        h.dispose();
      }
    }
  // Through the kit: a corpus whose only segment the kit may hand the caller's queries.
  const [q, n, d] = SHAPES[2];
  const c = await ctx.kit.corpus(data.matrix(n, d));
  try {
    for (const bad of BAD) {
      const pq = poisoned(data.centred(q, d), q * d - 1, bad);
      await assertRejects(
        `corpus.${op}, ${bad} in the last query`,
        () => (op === 'search' ? c.search(pq, 2) : c.similarity(pq)),
        'NON_FINITE',
        { op, arg: 'queries' },
      );
    }
  } finally {
    c.dispose();
  }
}
