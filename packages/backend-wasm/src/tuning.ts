import { argError, valueText } from '@cosinekit/core/backend';
import type { WasmVariant } from './loader.js';

/**
 * The register tiles of the dot-product engine, by driver index (the order of CONFIGS in
 * scripts/gen.mjs): query rows x corpus rows per micro-kernel call.
 */
export const TILES = ['4x2', '3x3', '2x4', '2x3', '2x2'] as const;

/** A register tile of the dot-product engine: query rows x corpus rows per micro-kernel call. */
export type Tile = (typeof TILES)[number];

/** Tuning of the dot-product engine. */
export interface EngineTuning {
  /** Main register tile. */
  tile: Tile;
  /** Bytes of corpus rows kept in cache while every query panel passes over them. */
  blockBytes: number;
  /**
   * Steps (4 floats each) per block of the reduction in the d-blocked dot-product drivers, which
   * run over two far-apart parts of the corpus side by side, block of steps by block, carrying
   * each output's four partial sums between blocks, so one block of every query row stays in L1
   * while both corpus streams pass: the same bits as the undivided drivers (every output summed
   * in one chain in step order). `'auto'` (the default) and 0 never block: since the undivided
   * drivers touch a large corpus's blocks before computing on them ({@link EngineTuning.touchBytes}),
   * they beat the d-blocked ones on every shape measured, in cache or not (4-8 queries x 10,000 x
   * 3072-4096: 0.71-0.76 of the peak against 0.65-0.68 blocked; 300-600 rows: 0.94-1.0 against
   * 0.80-0.85). A positive number blocks every product with that many steps per block. Tiles 3x3,
   * 2x4 and 2x3 have no d-blocked driver and run undivided whatever this is.
   */
  blockSteps: number | 'auto';
  /**
   * Smallest float product (flops: 2 x rows x cols x d) shared with helper threads; smaller calls
   * run on the calling thread alone, where waking a helper would cost more than it saves.
   */
  threadMinFlops: number;
  /** The same for int8 scans (2 x rows x d). */
  threadMinFlopsI8: number;
  /**
   * Smallest corpus, in bytes, whose products of a few queries with long rows (4 to 64 query rows,
   * a query panel of at least 20 KiB: d >= 1280 with tile 4x2) first read each cache block of
   * corpus rows in a loop of their own (one load per cache line, many in flight) and only then
   * pass the query panels over it, which now compute from cache (default 8 MiB: a corpus that no
   * longer stays in this core's caches from one call to the next). Otherwise the first query
   * panel reads the block from memory as it computes, and on a 2-vCPU EPYC that left it waiting:
   * 8 x 10,000 x 1536 ran at 0.65 of the mul+add peak undivided, 0.76 touched; 8 x 3072 0.52 and
   * 0.75; 16 x 3072 0.68-0.72 and 0.83-0.89 (`node scripts/kernel-vs-peak.mjs dist <shapes> 9
   * plain,touch`). With fewer rows (d = 768-1152) or a corpus in cache it cost 3-15%. The same
   * bits either way; `Infinity` never touches.
   */
  touchBytes: number;
  /**
   * Smallest product result, in bytes, that a threaded call in Node returns over a
   * `SharedArrayBuffer` written by every thread (default 32 MiB). Such a result cannot be in a
   * `postMessage` transfer list and is shared, not copied, by `structuredClone`; `Infinity` keeps
   * every result an ordinary `ArrayBuffer`, at the price of the calling thread copying it out.
   */
  sharedResultBytes: number;
  /**
   * Largest share of non-zero entries in op(A) at which `matmul` (B not transposed) skips A's
   * zeros. The same with or without helper threads (they share the sparse path's rows), so the
   * choice, and the result, do not depend on the thread count. 0 turns the sparse path off; 1
   * takes it wherever it can run. Below 1, rows of op(A) longer than 4096 stay dense (the sparse
   * sum runs in one float32 chain a row), and where C has fewer than 16 columns the share is at
   * most a quarter.
   */
  sparseDensity: number;
  /**
   * Weight of the cost of re-scoring candidates in the choice a re-ranking int8 search makes
   * between scanning its int8 codes and re-scoring a pool, or scanning the float32 rows it keeps
   * (exact, and cheaper once the pool is a large share of the rows: see the README). The choice
   * is made for one query, whatever the batch. 1 (the default) weighs it as measured; 0 never
   * scans the float32 rows (always re-ranks); `Infinity` always does.
   */
  rescoreWeight: number;
  /**
   * How long, in milliseconds, one helper thread may take to start (load its script and
   * instantiate the module) before the backend gives up on its helpers and runs on one thread,
   * saying why in `describe().threadsNote` (default 20,000; `Infinity` waits for ever). A helper
   * script that never arrived held `init()` until the kit gave up on the whole backend.
   */
  helperStartMs: number;
}

/**
 * Default {@link EngineTuning.threadMinFlops}. `pnpm bench crossover` put the break-even of two
 * threads near 0.8 MFLOP (1 x 1024 x 384: 37 us alone, 35 us shared; 1 x 2048: 111 against 75);
 * the threshold sits at about 2.5 times that, so slower wake-ups on a busy machine do not turn
 * sharing into a loss.
 */
const THREAD_MIN_FLOPS = 2 * 1024 * 1024;
/**
 * Default {@link EngineTuning.threadMinFlopsI8}: break-even near 1.6 M operations (1 x 2048 x 384:
 * 61 us alone, 45 us shared; 1 x 1024: 31 against 33), threshold 2.5 times that.
 */
const THREAD_MIN_FLOPS_I8 = 4 * 1024 * 1024;

/**
 * Default {@link EngineTuning.sharedResultBytes}. From 32 MiB an ordinary array is always new pages
 * (glibc maps every block that large afresh), so splitting their faults over the threads is a sure
 * gain. Below it the allocator may serve memory freed before, already mapped, and then the caller's
 * copy is cheap, where a new SharedArrayBuffer's pages fault every time: at 256 x 10,000 (10 MB) the
 * caller's copy took 0.3 ms a call in one run (the shared result cost 18 ms more CPU) and 40 ms in
 * another.
 */
const SHARED_RESULT_BYTES = 32 * 1024 * 1024;

/** Default {@link EngineTuning.touchBytes}. */
const TOUCH_BYTES = 8 * 1024 * 1024;

/**
 * Default {@link EngineTuning.sparseDensity}: see scripts/sparse-ab.mjs. 0.25 until 2026-12-08,
 * when a slow-shape probe found A at 26-60% non-zero up to 3x slower on the dense path (non-zeros
 * placed at random; in strokes, as the script places them, the sparse path 1.11-1.58x faster at
 * 40%, 0.98-1.32x at 50%, 0.84-1.10x at 60%): the step at the threshold is smallest where the two
 * paths cost about the same.
 */
const SPARSE_DENSITY = 0.5;

/** Default {@link EngineTuning.helperStartMs}: well within the kit's 60 s bound on a backend's start. */
const HELPER_START_MS = 20_000;

/**
 * Default tiles. Plain SIMD: 4x2 is 8 accumulators + 6 loads + 1 temporary for the separate
 * multiply = 15 registers. Relaxed: 3x3 is 9 accumulators + 6 loads, enough independent chains to
 * cover the fused multiply-add's latency on two ports.
 */
export const DEFAULT_TUNING: Record<WasmVariant, EngineTuning> = {
  simd: {
    tile: '4x2',
    blockBytes: 96 * 1024,
    blockSteps: 'auto',
    threadMinFlops: THREAD_MIN_FLOPS,
    threadMinFlopsI8: THREAD_MIN_FLOPS_I8,
    touchBytes: TOUCH_BYTES,
    sharedResultBytes: SHARED_RESULT_BYTES,
    sparseDensity: SPARSE_DENSITY,
    rescoreWeight: 1,
    helperStartMs: HELPER_START_MS,
  },
  relaxed: {
    tile: '3x3',
    blockBytes: 96 * 1024,
    blockSteps: 'auto',
    threadMinFlops: THREAD_MIN_FLOPS,
    threadMinFlopsI8: THREAD_MIN_FLOPS_I8,
    touchBytes: TOUCH_BYTES,
    sharedResultBytes: SHARED_RESULT_BYTES,
    sparseDensity: SPARSE_DENSITY,
    rescoreWeight: 1,
    helperStartMs: HELPER_START_MS,
  },
};

/** The largest `blockBytes`: 1 GiB, past any cache the block is sized for. */
const MAX_BLOCK_BYTES = 2 ** 30;
/** The largest positive `blockSteps`: 2^24 steps of 4 floats, past any row the engine blocks. */
const MAX_BLOCK_STEPS = 2 ** 24;

/** The driver index of `tuning.tile`, after checking every field (`INVALID_ARGUMENT` otherwise). */
export function checkTuning(tuning: EngineTuning): number {
  const op = 'createWasmBackend';
  const config = TILES.indexOf(tuning.tile);
  if (config < 0) {
    argError(
      'INVALID_ARGUMENT',
      op,
      'tuning.tile',
      `is ${valueText(tuning.tile)}; expected one of ${TILES.join(', ')}.`,
    );
  }
  // Bounded: the engine passes counts derived from these to wasm as 32-bit integers (1e300 bytes
  // looped for ever; 1e12 read out of bounds).
  if (
    !(typeof tuning.blockBytes === 'number' && tuning.blockBytes >= 1 && tuning.blockBytes <= MAX_BLOCK_BYTES)
  ) {
    argError(
      'INVALID_ARGUMENT',
      op,
      'tuning.blockBytes',
      `must be a number of bytes in [1, ${MAX_BLOCK_BYTES}] (a cache's size); got ${valueText(tuning.blockBytes)}.`,
    );
  }
  if (
    tuning.blockSteps !== 'auto' &&
    !(Number.isInteger(tuning.blockSteps) && tuning.blockSteps >= 0 && tuning.blockSteps <= MAX_BLOCK_STEPS)
  ) {
    argError(
      'INVALID_ARGUMENT',
      op,
      'tuning.blockSteps',
      `must be 'auto' or an integer in [0, ${MAX_BLOCK_STEPS}]; got ${valueText(tuning.blockSteps)}.`,
    );
  }
  if (!(typeof tuning.sparseDensity === 'number' && tuning.sparseDensity >= 0 && tuning.sparseDensity <= 1)) {
    argError(
      'INVALID_ARGUMENT',
      op,
      'tuning.sparseDensity',
      `must be a number in [0, 1]; got ${valueText(tuning.sparseDensity)}.`,
    );
  }
  for (const key of [
    'threadMinFlops',
    'threadMinFlopsI8',
    'sharedResultBytes',
    'touchBytes',
    'rescoreWeight',
    'helperStartMs',
  ] as const) {
    if (!(typeof tuning[key] === 'number' && tuning[key] >= 0)) {
      argError(
        'INVALID_ARGUMENT',
        op,
        `tuning.${key}`,
        `must be a non-negative number; got ${valueText(tuning[key])}.`,
      );
    }
  }
  return config;
}
