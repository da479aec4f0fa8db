import { type Backend, Tensor } from '@cosinekit/core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { assertClose, check } from './assert.js';
import { type ConformanceContext, checkTopK, createContext, type Tolerance } from './cases.js';
import { cosineMatrix64, matmul64, norms64 } from './oracle.js';

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

function envNumber(name: string): number | undefined {
  const v = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[name];
  return v ? Number(v) : undefined;
}

/**
 * Property-based tests of one backend against the float64 oracle, through the public API (so the
 * kit's validation and magnitude guard are part of what is tested). Every failure reports the
 * seed and path that replay it: `COSINEKIT_SEED=<seed>`.
 */
export function runProperties(options: PropertyOptions): void {
  const numRuns = options.numRuns ?? envNumber('COSINEKIT_PROPERTY_RUNS') ?? 25;
  const seed = options.seed ?? envNumber('COSINEKIT_SEED') ?? (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;
  const params = { numRuns, seed, endOnFailure: true };
  describe(`properties: ${options.name} (seed ${seed}, ${numRuns} runs each)`, () => {
    let ctx: ConformanceContext | undefined;
    beforeAll(async () => {
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
        () =>
          fc.assert(
            fc.asyncProperty(generatedCase, (g) => body(g, ctx!)),
            params,
          ),
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
      assertClose(`[${g.regime}] rowNorms`, norms, orig, (i) => c.tol.algebra * orig[i] + Number.MIN_VALUE);
    });
    prop('matmul equals the float64 product (ordinary magnitudes)', async (g, c) => {
      if (g.regime !== 'uniform' && g.regime !== 'repeated-rows') return;
      const got = await c.kernels.matmul(g.a, g.b, false, true);
      const { c: want, scale } = matmul64(g.a, g.b, false, true);
      assertClose('matmul', got, want, (i) => c.tol.algebra * scale[i] + 1e-30);
    });
  });
}
