import { Tensor } from '@cosinekit/core';
import {
  ACTIVATIONS,
  type DenseKernelName,
  type Kernels,
  type Matrix,
  resolveKernels,
  type SelfCheckedKernelName,
} from '@cosinekit/core/backend';
import { assertClose, check, fail, skip } from '../assert.js';
import { cosineMatrix64 } from '../oracle.js';
import {
  type CaseData,
  type ConformanceCase,
  type ConformanceContext,
  defineCase,
  withOut,
} from './context.js';

/**
 * Rows as the kit admits them, chosen to push a product past [-1, 1] or to NaN: each row's largest
 * |x| at the gate's bounds (2^-40, 2^40) or 1, rows pointing the same or the opposite way (their
 * cosines round past ±1), zero rows, one-hot rows, and tiny components beside large ones.
 */
function hostile(data: CaseData, rows: number, d: number): [Tensor, Tensor] {
  const base = data.matrix(rows, d);
  const a = Float32Array.from(base.data);
  const b = new Float32Array(rows * d);
  const scales = [2 ** 40, 2 ** -40, 1, 3, 2 ** -20];
  for (let i = 0; i < rows; i++) {
    const row = a.subarray(i * d, (i + 1) * d);
    let m = 0;
    for (const v of row) m = Math.max(m, Math.abs(v));
    const s = scales[i % scales.length] / (m || 1);
    for (let j = 0; j < d; j++) row[j] *= s;
    const kind = i % 6;
    const sign = kind === 1 ? -1 : 1;
    for (let j = 0; j < d; j++)
      b[i * d + j] =
        kind === 4 ? 0 : (sign * row[j] * scales[(i + 2) % scales.length]) / scales[i % scales.length];
    if (kind === 5) {
      row.fill(0);
      row[d >> 1] = scales[i % scales.length];
      b.fill(0, i * d, (i + 1) * d);
      b[i * d + (d >> 1)] = 2 ** 40;
      if (d > 1) b[i * d] = 2 ** -40;
    }
  }
  if (rows > 2) a.fill(0, 2 * d, 3 * d);
  return [new Tensor(a, rows, d), new Tensor(b, rows, d)];
}

/** Every value of `out` finite and within [-1, 1], close to float64. */
function proven(what: string, out: unknown, a: Matrix, b: Matrix, tol: number): void {
  check(out instanceof Float32Array, `${what}: must return a Float32Array`);
  check(
    out.length === a.rows * b.rows,
    `${what}: returned ${out.length} values, expected ${a.rows * b.rows}`,
  );
  for (let i = 0; i < out.length; i++)
    if (!(out[i] >= -1 && out[i] <= 1))
      fail(`${what}: declared self-checked, but value ${out[i]} at ${i} is not finite within [-1, 1]`);
  assertClose(what, out, cosineMatrix64(a, b), () => tol);
}

const SHAPES = [
  [1, 1],
  [6, 3],
  [37, 17],
  [12, 1536],
] as const;

function declared(ctx: ConformanceContext, kernel: SelfCheckedKernelName): void {
  if (!resolveKernels(ctx.backend).selfChecked.includes(kernel))
    skip(`${kernel} is not declared self-checked (Backend.selfChecked); the kit checks its outputs`);
}

/**
 * Inputs that make a dense kernel's output non-finite unless it refuses: NaN and ±Infinity at the
 * start, in the middle and at the end of odd-length rows, and finite values whose sums or products
 * overflow float32 (3e38 + 3e38, 3e38 x 3e38).
 */
function denseHostile(): { x: Matrix; y: Matrix; bias: Float32Array }[] {
  const shapes = [
    [1, 1],
    [3, 5],
    [7, 9],
  ] as const;
  const out: { x: Matrix; y: Matrix; bias: Float32Array }[] = [];
  for (const [r, c] of shapes)
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 3e38])
      for (const at of [0, (r * c) >> 1, r * c - 1]) {
        const x = new Float32Array(r * c).map((_, i) => ((i % 7) - 3) / 4);
        x[at] = bad;
        const y = new Float32Array(c * c).map((_, i) => (i % 3) - 1 || 0.5);
        if (bad === 3e38) y.fill(3e38);
        out.push({ x: { data: x, rows: r, cols: c }, y: { data: y, rows: c, cols: c }, bias: y.slice(0, c) });
      }
  return out;
}

/**
 * One call of a dense kernel on hostile inputs: it throws or answers finite values only; with
 * `mustThrow` (an activation given NaN or ±Infinity, which its answer can hide: relu(NaN) is 0,
 * tanh(Infinity) is 1), it throws.
 */
async function refusesOrFinite(
  what: string,
  length: number,
  call: () => unknown,
  mustThrow = false,
): Promise<void> {
  let out: unknown;
  try {
    out = await call();
  } catch {
    return;
  }
  if (mustThrow)
    fail(`${what}: declared self-checked, but answered for a non-finite input instead of throwing`);
  check(out instanceof Float32Array, `${what}: must return a Float32Array`);
  check(out.length === length, `${what}: returned ${out.length} values, expected ${length}`);
  for (let i = 0; i < out.length; i++)
    if (!Number.isFinite(out[i]))
      fail(`${what}: declared self-checked, but answered ${out[i]} at ${i} instead of throwing`);
}

/** The calls of `kernel` on one hostile case, each with the length its answer must have. */
function denseCalls(
  k: Kernels,
  kernel: DenseKernelName,
  h: { x: Matrix; y: Matrix; bias: Float32Array },
): [string, number, () => unknown][] {
  const { x, y, bias } = h;
  const n = x.rows * x.cols;
  if (kernel === 'matmul') return [['', x.rows * y.cols, () => k.matmul(x, y, false, false)]];
  if (kernel === 'addBias') return [['', n, () => k.addBias(x, bias)]];
  const dy = { data: new Float32Array(n).fill(3e38), rows: x.rows, cols: x.cols };
  return ACTIVATIONS.map((kind): [string, number, () => unknown] =>
    kernel === 'activation'
      ? [kind, n, () => k.activation(kind, x)]
      : [kind, n, () => k.activationGrad(kind, x, kind === 'linear' ? x : dy)],
  );
}

/**
 * Kernels a backend declares self-checked (`Backend.selfChecked`) keep the promise the kit relies
 * on when it skips its pass over their outputs: every value finite and, for the cosine kernels,
 * within [-1, 1]; a dense kernel that cannot keep it throws.
 */
export function selfCheckedCases(): ConformanceCase[] {
  const group = 'self-checked outputs';
  const dense = (['matmul', 'addBias', 'activation', 'activationGrad'] as const).map((kernel) =>
    defineCase(
      group,
      `${kernel}: throws rather than answers a non-finite value, on NaN, ±Infinity and overflowing inputs${kernel.startsWith('activation') ? ' (and on any non-finite input)' : ''}`,
      kernel,
      async (ctx) => {
        declared(ctx, kernel);
        const table = await ctx.kit.kernels();
        for (const h of denseHostile())
          for (const k of [ctx.kernels, table])
            for (const [kind, length, call] of denseCalls(k, kernel, h))
              await refusesOrFinite(
                `${k === table ? 'kit.kernels().' : ''}${kernel}${kind ? `(${kind})` : ''} [${h.x.rows}x${h.x.cols}]`,
                length,
                call,
                kernel.startsWith('activation') && h.x.data.some((v) => !Number.isFinite(v)),
              );
      },
    ),
  );
  return [
    defineCase(
      group,
      'cosineMatrix: finite and within [-1, 1] on parallel, opposite, zero and extreme rows',
      'cosineMatrix',
      async (ctx, data) => {
        declared(ctx, 'cosineMatrix');
        for (const [m, d] of SHAPES) {
          const [a, b] = hostile(data, m, d);
          proven(`cosineMatrix [${m}x${d}]`, await ctx.kernels.cosineMatrix(a, b), a, b, ctx.tol.cosine);
          await withOut(
            'cosineMatrix',
            m * m,
            (o) => ctx.kernels.cosineMatrix(a, b, o),
            (got, how) => proven(`cosineMatrix [${m}x${d}]${how}`, got, a, b, ctx.tol.cosine),
          );
          // Through the kit, which reads none of it again.
          const out = new Float32Array(m * m).fill(Number.NaN);
          await ctx.kit.cosineMatrix(a, b, { out });
          proven(`kit.cosineMatrix [${m}x${d}]`, out, a, b, ctx.tol.cosine);
        }
      },
    ),
    defineCase(
      group,
      'corpusMatrix: finite and within [-1, 1] on parallel, opposite, zero and extreme rows',
      'corpusMatrix',
      async (ctx, data) => {
        declared(ctx, 'corpusMatrix');
        for (const [m, d] of SHAPES) {
          const [a, b] = hostile(data, m, d);
          const h = await ctx.kernels.createCorpus(b, { storage: 'float32', rerank: 0 });
          try {
            proven(`corpusMatrix [${m}x${d}]`, await ctx.kernels.corpusMatrix(h, a), a, b, ctx.tol.cosine);
            await withOut(
              'corpusMatrix',
              m * m,
              (o) => ctx.kernels.corpusMatrix(h, a, o),
              (got, how) => proven(`corpusMatrix [${m}x${d}]${how}`, got, a, b, ctx.tol.cosine),
            );
          } finally {
            h.dispose();
          }
          const c = await ctx.kit.corpus(b);
          try {
            const out = new Float32Array(m * m).fill(Number.NaN);
            await c.similarity(a, { out });
            proven(`corpus.similarity [${m}x${d}]`, out, a, b, ctx.tol.cosine);
          } finally {
            c.dispose();
          }
        }
      },
    ),
    defineCase(
      group,
      'matmul: a finite product comes back whole; an overflow or a NaN fails the call',
      'matmul',
      async (ctx, data) => {
        declared(ctx, 'matmul');
        // The table libraries such as @cosinekit/nn drive: it reads none of a self-checked answer.
        const kernels = await ctx.kit.kernels();
        for (const [m, k, n] of [
          [1, 1, 1],
          [5, 7, 3],
          [37, 17, 12],
          [64, 64, 256],
        ] as const) {
          const a = data.matrix(m, k);
          const b = data.matrix(k, n);
          const got = await kernels.matmul(a, b, false, false);
          check(
            got instanceof Float32Array && got.length === m * n,
            `matmul [${m}x${k}x${n}]: ${m * n} values`,
          );
          for (let i = 0; i < got.length; i++)
            if (!Number.isFinite(got[i]))
              fail(`matmul [${m}x${k}x${n}]: value ${got[i]} at ${i} is not finite`);
          // One output past float32's range (3e38 x 10), then one NaN input: the call must fail.
          const last = m - 1;
          const big = Float32Array.from(a.data);
          big[last * k] = 3e38;
          const ten = Float32Array.from(b.data);
          ten[n - 1] = 10;
          const nan = Float32Array.from(a.data);
          nan[last * k] = Number.NaN;
          for (const [what, x, y] of [
            ['an overflow', big, ten],
            ['a NaN', nan, b.data],
          ] as const) {
            let threw: unknown;
            try {
              await kernels.matmul(
                { data: x, rows: m, cols: k },
                { data: y, rows: k, cols: n },
                false,
                false,
              );
            } catch (e) {
              threw = e;
            }
            // The kit names a NaN input as the caller's (NON_FINITE). An overflow fails either as
            // the kernel's throw (BACKEND_ERROR) or, where it answered Infinity, as the caller's
            // values (INVALID_ARGUMENT naming 'a'); never as an answer.
            const want = what === 'a NaN' ? ['NON_FINITE'] : ['BACKEND_ERROR', 'INVALID_ARGUMENT'];
            check(
              want.includes((threw as { code?: string } | undefined)?.code ?? ''),
              `matmul [${m}x${k}x${n}] with ${what} in row ${last}: must fail with ${want.join(' or ')}, got ${threw === undefined ? 'an answer' : String(threw)}`,
            );
          }
        }
      },
    ),
    ...dense,
  ];
}
