/**
 * Where the wasm backend's helper threads start to pay: one call timed on one thread and on
 * `threads` with sharing forced (`threadMinFlops = threadMinFlopsI8 = 0`), over a range of sizes.
 * The backend's default thresholds are set from this: a call is shared only above them.
 *   float: cosines of m queries against a resident corpus of n rows, d = 384 (`corpusMatrix`);
 *   int8:  one query against an int8 corpus without float rows (`corpusMatrix`, the int8 scan).
 * Shared by Node and the browser page: it imports nothing from Node.
 */
import { type Backend, Tensor } from '@cosinekit/core';
import type { ModuleLoader } from './backends.js';
import type { Prepared } from './method.js';
import { summarize } from './stats.js';
import { calibrate, makeTimer, platformSampling } from './timing.js';
import type { Timing } from './types.js';
import { randomMatrix } from './workloads.js';

/** The sizes timed: float products (m x n x 384) and int8 scans (1 x n x 384), smallest first. */
export const CROSSOVER_FLOAT: readonly (readonly [number, number])[] = [
  [1, 256],
  [1, 512],
  [1, 1024],
  [1, 2048],
  [4, 1024],
  [1, 8192],
  [16, 1024],
  [4, 8192],
  [16, 8192],
];
export const CROSSOVER_INT8: readonly number[] = [1024, 2048, 4096, 8192, 16384, 32768, 65536];
const D = 384;

/** One size: the time alone and shared, and whether the backend's default threshold shares it. */
export interface CrossoverRow {
  readonly storage: 'float32' | 'int8';
  readonly m: number;
  readonly n: number;
  readonly d: number;
  /** 2 m n d: the threshold's measure (flops for float32, integer operations for int8). */
  readonly ops: number;
  readonly one: Timing;
  readonly many: Timing;
  /** Median alone / median shared: above 1, sharing pays. */
  readonly speedup: number;
  /** True when the default tuning shares a call this size. */
  readonly sharedByDefault: boolean;
}

/** A whole crossover run. */
export interface CrossoverReport {
  readonly schema: 'cosinekit-bench-crossover/1';
  readonly startedAt: string;
  readonly variant: string;
  /** Threads the shared backend actually runs (the platform may grant fewer than asked). */
  readonly threads: number;
  readonly threadsNote?: string;
  readonly defaults: { readonly threadMinFlops: number; readonly threadMinFlopsI8: number };
  readonly rows: readonly CrossoverRow[];
  /** Smallest ops from which sharing paid at every larger size measured, per storage; undefined if never. */
  readonly breakEven: { readonly float32?: number; readonly int8?: number };
}

/** What the crossover needs of `@cosinekit/backend-wasm` (loaded by name, so the bench does not import it statically). */
interface WasmModule {
  createWasmBackend(options: {
    variant?: string;
    threads?: number;
    tuning?: Record<string, unknown>;
  }): Backend & { describe(): Record<string, unknown> };
  DEFAULT_TUNING: Record<string, { threadMinFlops: number; threadMinFlopsI8: number }>;
}

export interface CrossoverOptions {
  readonly variant: 'simd' | 'relaxed';
  readonly threads: number;
  /** Timed samples per size and thread count (median reported). */
  readonly reps: number;
  readonly seed: number;
  readonly load: ModuleLoader;
  readonly onProgress?: (done: number, total: number, label: string) => void;
}

/** Median time per call of `p`, in samples of at least the platform's minimum duration. */
async function timeCall(p: Prepared, reps: number): Promise<Timing> {
  const timer = makeTimer();
  await timer(p, 1);
  const count = await calibrate(timer, p, platformSampling());
  const perCall: number[] = [];
  for (let r = 0; r < reps; r++) {
    const [ms] = await timer(p, count);
    perCall.push(ms / count);
  }
  return summarize(perCall, count);
}

/** Times every size on one thread and on `threads` with sharing forced. */
export async function runCrossover(o: CrossoverOptions): Promise<CrossoverReport> {
  const mod = (await o.load('@cosinekit/backend-wasm')) as unknown as WasmModule;
  const defaults = mod.DEFAULT_TUNING[o.variant];
  const one = mod.createWasmBackend({ variant: o.variant, threads: 1 });
  const many = mod.createWasmBackend({
    variant: o.variant,
    threads: o.threads,
    tuning: { threadMinFlops: 0, threadMinFlopsI8: 0 },
  });
  const startedAt = new Date().toISOString();
  const rows: CrossoverRow[] = [];
  try {
    await one.init?.();
    await many.init?.();
    const info = many.describe();
    const total = CROSSOVER_FLOAT.length + CROSSOVER_INT8.length;
    const sizes = [
      ...CROSSOVER_FLOAT.map(([m, n]) => ({ storage: 'float32' as const, m, n })),
      ...CROSSOVER_INT8.map((n) => ({ storage: 'int8' as const, m: 1, n })),
    ];
    for (const [i, { storage, m, n }] of sizes.entries()) {
      o.onProgress?.(i, total, `${storage} ${m} x ${n} x ${D}`);
      const corpusRows = new Tensor(randomMatrix(n, D, o.seed + n), n, D);
      const queries = new Tensor(randomMatrix(m, D, o.seed + m), m, D);
      const out = new Float32Array(m * n);
      const time = async (b: Backend) => {
        const options = storage === 'int8' ? { storage: 'int8' as const, rerank: 0 } : undefined;
        const { createCorpus, corpusMatrix } = b.kernels;
        if (!createCorpus || !corpusMatrix) throw new Error('this wasm backend has no resident corpora');
        const corpus = await createCorpus.call(b.kernels, corpusRows, options);
        const matrix = corpusMatrix.bind(b.kernels);
        try {
          return await timeCall(
            { call: () => ({ matrix: matrix(corpus, queries, out) as Float32Array }) },
            o.reps,
          );
        } finally {
          corpus.dispose();
        }
      };
      const alone = await time(one);
      const shared = await time(many);
      const ops = 2 * m * n * D;
      rows.push({
        storage,
        m,
        n,
        d: D,
        ops,
        one: alone,
        many: shared,
        speedup: alone.median / shared.median,
        sharedByDefault: ops >= (storage === 'int8' ? defaults.threadMinFlopsI8 : defaults.threadMinFlops),
      });
    }
    o.onProgress?.(total, total, 'done');
    return {
      schema: 'cosinekit-bench-crossover/1',
      startedAt,
      variant: o.variant,
      threads: Number(info.threads ?? 1),
      ...(info.threadsNote ? { threadsNote: String(info.threadsNote) } : {}),
      defaults: { threadMinFlops: defaults.threadMinFlops, threadMinFlopsI8: defaults.threadMinFlopsI8 },
      rows,
      breakEven: { float32: breakEven(rows, 'float32'), int8: breakEven(rows, 'int8') },
    };
  } finally {
    await one.dispose?.();
    await many.dispose?.();
  }
}

/** The smallest size from which sharing paid at every larger size (by ops), or undefined. */
export function breakEven(
  rows: readonly CrossoverRow[],
  storage: CrossoverRow['storage'],
): number | undefined {
  const mine = rows.filter((r) => r.storage === storage).sort((a, b) => a.ops - b.ops);
  let from: number | undefined;
  for (const r of mine) {
    if (r.speedup > 1) from ??= r.ops;
    else from = undefined;
  }
  return from;
}
