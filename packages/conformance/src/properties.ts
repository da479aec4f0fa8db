import { Tensor } from '@cosinekit/core';
import { ACTIVATIONS, type Backend, errorText, type Matrix } from '@cosinekit/core/backend';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { assertClose, check, checkRunnerOptions } from './assert.js';
import { type ConformanceContext, checkTopK, createContext, type Tolerance } from './cases/index.js';
import { act64, actGrad64, cosineMatrix64, matmul64, norms64 } from './oracle.js';

/**
 * How a generated matrix's values are drawn. Each regime is a way real data (or a hostile caller)
 * stresses a float32 engine.
 */
export const REGIMES = [
  'uniform',
  'tiny',
  'huge',
  'subnormal',
  'mixed-rows',
  'near-parallel',
  'near-orthogonal',
  'repeated-rows',
  'with-zero-rows',
] as const;
/** How a generated case draws its values (one of {@link REGIMES}). */
export type Regime = (typeof REGIMES)[number];

/** A generated case: queries `a`, corpus `b` of the same width, values drawn by `regime`. */
export interface Generated {
  readonly regime: Regime;
  readonly a: Tensor;
  readonly b: Tensor;
}

const dims = fc.oneof(
  { weight: 5, arbitrary: fc.integer({ min: 1, max: 24 }) },
  { weight: 3, arbitrary: fc.integer({ min: 25, max: 400 }) },
  { weight: 1, arbitrary: fc.constantFrom(768, 1536, 4096) },
);

function values(n: number, r: () => number): Float32Array {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = r() * 2 - 1;
  return v;
}

/** Builds rows for a regime from a seeded stream of uniforms. */
function build(regime: Regime, m: number, n: number, d: number, seed: number): Generated {
  let s = seed >>> 0 || 1;
  const r = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
  const a = values(m * d, r);
  const b = values(n * d, r);
  const scaleAll = (x: Float32Array, f: number) => {
    for (let i = 0; i < x.length; i++) x[i] *= f;
  };
  switch (regime) {
    case 'tiny':
      scaleAll(a, 1e-30);
      scaleAll(b, 1e-30);
      break;
    case 'huge':
      scaleAll(a, 1e30);
      scaleAll(b, 1e30);
      break;
    case 'subnormal':
      scaleAll(a, 1e-39);
      scaleAll(b, 1e-39);
      break;
    case 'mixed-rows':
      for (let j = 0; j < n; j++) {
        const f = [1e-30, 1, 1e30, 1e-20, 1e20][j % 5];
        for (let p = 0; p < d; p++) b[j * d + p] *= f;
      }
      break;
    case 'near-parallel':
      // Corpus rows are a query plus noise of relative size 1e-3: cosines just under 1.
      for (let j = 0; j < n; j++) {
        for (let p = 0; p < d; p++) b[j * d + p] = a[(j % m) * d + p] * (1 + j) + 1e-3 * b[j * d + p];
      }
      break;
    case 'near-orthogonal':
      // Corpus rows have their component along query 0 removed: cosines near 0.
      for (let j = 0; j < n; j++) {
        let dot = 0;
        let nn = 0;
        for (let p = 0; p < d; p++) {
          dot += a[p] * b[j * d + p];
          nn += a[p] * a[p];
        }
        if (nn > 0) for (let p = 0; p < d; p++) b[j * d + p] -= (dot / nn) * a[p];
      }
      break;
    case 'repeated-rows':
      for (let j = 1; j < n; j++) if (r() < 0.5) b.copyWithin(j * d, 0, d);
      break;
    case 'with-zero-rows':
      for (let j = 0; j < n; j++) if (r() < 0.3) b.fill(0, j * d, (j + 1) * d);
      a.fill(0, 0, d);
      break;
    case 'uniform':
      break;
  }
  return { regime, a: new Tensor(a, m, d), b: new Tensor(b, n, d) };
}

/** fast-check arbitrary of generated cases: 1-6 queries, 1-60 corpus rows, d from 1 to 4096. */
export const generatedCase: fc.Arbitrary<Generated> = fc
  .record({
    regime: fc.constantFrom(...REGIMES),
    m: fc.integer({ min: 1, max: 6 }),
    n: fc.integer({ min: 1, max: 60 }),
    d: dims,
    seed: fc.integer({ min: 1, max: 0x7fffffff }),
  })
  .map(({ regime, m, n, d, seed }) => build(regime, m, n, d, seed));

/** Options of {@link runProperties}. */
export interface PropertyOptions {
  name: string;
  create: () => Backend | Promise<Backend>;
  tolerance?: Tolerance;
  /** Generated cases per property (default 25, or `COSINEKIT_PROPERTY_RUNS`). */
  numRuns?: number;
  /** Fixed seed (default: `COSINEKIT_SEED` or random; a failure prints the seed to replay). */
  seed?: number;
  timeout?: number;
}

/** Set by the browser projects' vite `define` (vitest.shared.ts): pages have no `process.env`. */
declare const __COSINEKIT_ENV__: Record<string, string | undefined> | undefined;

function envNumber(name: string): number | undefined {
  const fromPage = typeof __COSINEKIT_ENV__ === 'undefined' ? undefined : __COSINEKIT_ENV__?.[name];
  const v =
    fromPage ??
    (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[name];
  if (!v) return undefined;
  // 0 or 'abc' ran no case at all (a wrong backend passed), 2.5 made fast-check loop forever.
  const n = Number(v);
  const least = name === 'COSINEKIT_PROPERTY_RUNS' ? 1 : 0;
  if (!(Number.isSafeInteger(n) && n >= least))
    throw new RangeError(`${name} must be an integer of at least ${least}, got '${v}'`);
  return n;
}

/** A `cols x rows` copy of `x` (the transposed operand the dense kernels read when a flag is set). */
function transposed(x: Matrix): Tensor {
  const t = new Float32Array(x.data.length);
  for (let i = 0; i < x.rows; i++)
    for (let j = 0; j < x.cols; j++) t[j * x.rows + i] = x.data[i * x.cols + j];
  return new Tensor(t, x.cols, x.rows);
}

/**
 * Regimes the dense algebra is held to. The model's kernels see activations and weights of ordinary
 * size and get no magnitude guard: 1e30 x 1e30 overflows float32 by design, so `huge` and
 * `mixed-rows` are left to the cosine kernels (which the kit rescales). `tiny` and `subnormal`
 * stay in: their products underflow to 0, within the absolute floor.
 */
const ALGEBRA_REGIMES: ReadonlySet<Regime> = new Set(
  REGIMES.filter((r) => r !== 'huge' && r !== 'mixed-rows'),
);

/**
 * Property-based tests of one backend against the float64 oracle, through the public API (so the
 * kit's validation and magnitude guard are part of what is tested) and, for the dense algebra the
 * model uses, through the resolved kernels. Every failure names the seed that replays it:
 * `COSINEKIT_SEED=<seed>` (in the describe name and in the error).
 */
export function runProperties(options: PropertyOptions): void {
  options = checkRunnerOptions('runProperties', options, [
    'name',
    'create',
    'tolerance',
    'numRuns',
    'seed',
    'timeout',
  ]);
  const params = {
    numRuns: options.numRuns ?? 25,
    seed: options.seed ?? (Date.now() ^ (Math.random() * 0x7fffffff)) | 0,
    endOnFailure: true,
  };
  // Read when the tests run, so a setup file has had its chance to publish them.
  const settle = () => {
    if (options.numRuns === undefined)
      params.numRuns = envNumber('COSINEKIT_PROPERTY_RUNS') ?? params.numRuns;
    if (options.seed === undefined) params.seed = envNumber('COSINEKIT_SEED') ?? params.seed;
  };
  describe(`properties: ${options.name}`, () => {
    let ctx: ConformanceContext | undefined;
    beforeAll(async () => {
      settle();
      console.log(`[properties] ${options.name}: COSINEKIT_SEED=${params.seed}, ${params.numRuns} runs each`);
      ctx = await createContext(await options.create(), options.tolerance);
    }, options.timeout ?? 60_000);
    afterAll(async () => {
      ctx?.kit.dispose();
      await ctx?.backend.dispose?.();
    });
    const t = options.timeout ?? 120_000;
    const prop = (name: string, body: (g: Generated, c: ConformanceContext) => Promise<void>) =>
      it(
        name,
        async () => {
          try {
            await fc.assert(
              fc.asyncProperty(generatedCase, (g) => body(g, ctx!)),
              params,
            );
          } catch (e) {
            const message = errorText(e);
            throw new Error(`${options.name}: replay with COSINEKIT_SEED=${params.seed}\n${message}`, {
              cause: e,
            });
          }
        },
        t,
      );

    prop('cosineMatrix equals the float64 cosine on every regime', async (g, c) => {
      const m = await c.kit.cosineMatrix(g.a, g.b);
      assertClose(`[${g.regime}] cosineMatrix`, m.data, cosineMatrix64(g.a, g.b), () => c.tol.cosine);
    });
    prop('cosineRows equals the float64 cosine of paired rows', async (g, c) => {
      const rows = Math.min(g.a.rows, g.b.rows);
      const a = g.a.slice(0, rows);
      const b = g.b.slice(0, rows);
      const got = await c.kit.cosineRows(a, b);
      const all = cosineMatrix64(a, b);
      assertClose(
        `[${g.regime}] cosineRows`,
        got,
        Array.from({ length: rows }, (_, i) => all[i * rows + i]),
        () => c.tol.cosine,
      );
    });
    prop('topK and a resident corpus give the exact top-k, ties to the lower index', async (g, c) => {
      const k = 1 + (g.a.cols % g.b.rows);
      checkTopK(`[${g.regime}] topK`, await c.kit.topK(g.a, g.b, k), g.a, g.b, k, c.tol.cosine);
      const corpus = await c.kit.corpus(g.b);
      try {
        checkTopK(`[${g.regime}] corpus.search`, await corpus.search(g.a, k), g.a, g.b, k, c.tol.cosine);
        const s = await corpus.similarity(g.a);
        assertClose(`[${g.regime}] corpus.similarity`, s.data, cosineMatrix64(g.a, g.b), () => c.tol.cosine);
      } finally {
        corpus.dispose();
      }
    });
    prop('normalize gives unit rows (zero rows stay zero) and rowNorms the float64 norm', async (g, c) => {
      const n = await c.kit.normalize(g.b);
      const unit = norms64(n);
      const orig = norms64(g.b);
      for (let i = 0; i < g.b.rows; i++) {
        const want = orig[i] > 0 ? 1 : 0;
        check(
          Math.abs(unit[i] - want) <= 4 * c.tol.cosine,
          `[${g.regime}] normalize: row ${i} has norm ${unit[i]}`,
        );
      }
      const norms = await c.kit.rowNorms(g.b);
      // Norms come back as float32: a subnormal norm (rows of 1e-39) is only good to the float32
      // subnormal spacing, 2^-149, whatever the engine (the reference included).
      assertClose(`[${g.regime}] rowNorms`, norms, orig, (i) => c.tol.algebra * orig[i] + 2 ** -149);
    });
    prop('matmul equals the float64 product, each operand plain or transposed', async (g, c) => {
      if (!ALGEBRA_REGIMES.has(g.regime)) return;
      // The same product a·bᵀ four ways: each operand stored as given or transposed.
      const at = transposed(g.a);
      const bt = transposed(g.b);
      for (const [A, B, ta, tb] of [
        [g.a, g.b, false, true],
        [g.a, bt, false, false],
        [at, bt, true, false],
        [at, g.b, true, true],
      ] as const) {
        const got = await c.kernels.matmul(A, B, ta, tb);
        const { c: want, scale } = matmul64(A, B, ta, tb);
        assertClose(
          `[${g.regime}] matmul(transA=${ta}, transB=${tb}) [${g.a.rows}x${g.a.cols}]·[${g.b.cols}x${g.b.rows}]`,
          got,
          want,
          (i) => c.tol.algebra * scale[i] + 1e-30,
        );
      }
    });
    prop('addBias, activation and activationGrad equal the float64 formulas', async (g, c) => {
      if (!ALGEBRA_REGIMES.has(g.regime)) return;
      // Model-sized values: the regime's pattern (zero rows, repeats, tiny, subnormal) scaled to [-6, 6].
      const x = new Tensor(
        g.b.data.map((v) => v * 6),
        g.b.rows,
        g.b.cols,
      );
      const bias = g.a.data.subarray(0, g.a.cols);
      const biased = await c.kernels.addBias(x, bias);
      const d = x.cols;
      assertClose(
        `[${g.regime}] addBias [${x.rows}x${d}]`,
        biased,
        Array.from(x.data, (v, i) => v + bias[i % d]),
        (i) => c.tol.algebra * (Math.abs(x.data[i]) + Math.abs(bias[i % d])) + 1e-30,
      );
      // Upstream gradients in [-1, 1] (the regime's values, rescaled when larger): the error of a float32
      // derivative is relative to |dy|, and the conformance suite's tolerance assumes |dy| <= 1.
      let big = 1;
      for (const v of g.b.data) big = Math.max(big, Math.abs(v));
      const dy = new Tensor(
        x.data.map((_, i) => g.b.data[(i * 7919) % x.data.length] / big),
        x.rows,
        x.cols,
      );
      for (const kind of ACTIVATIONS) {
        const f = await c.kernels.activation(kind, x);
        assertClose(
          `[${g.regime}] activation(${kind}) [${x.rows}x${d}]`,
          f,
          Array.from(x.data, (v) => act64(kind, v)),
          (i) => c.tol.algebra * Math.max(1, Math.abs(act64(kind, x.data[i]))),
        );
        const grad = await c.kernels.activationGrad(kind, x, dy);
        // relu's derivative steps at 0: an engine that flushes subnormals to zero sees x = 0 there.
        assertClose(
          `[${g.regime}] activationGrad(${kind}) [${x.rows}x${d}]`,
          grad,
          Array.from(x.data, (v, i) => dy.data[i] * actGrad64(kind, v)),
          (i) =>
            kind === 'relu' && Math.abs(x.data[i]) < 1.2e-38
              ? Math.abs(dy.data[i]) + 1e-30
              : c.tol.algebra * Math.max(1, Math.abs(dy.data[i] * actGrad64(kind, x.data[i]))) + 1e-7,
        );
      }
    });
  });
}
