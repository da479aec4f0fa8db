import { type Job, WORK_FINISHED, WORK_NEXT } from './control.js';
import type { WasmExports } from './generated/exports.js';
import type { WasmRuntime } from './runtime.js';
import {
  type CopyOut,
  chunkCount,
  chunkStart,
  HELPER_TIMEOUT,
  type HelperPool,
  type Schedule,
  touchAhead,
} from './threads.js';

/**
 * Chunks per thread a shared call is cut into, at most: enough that a thread slowed down (by
 * another process on its core, a slower core, a late wake-up) costs only the chunks it did not
 * take, not a fixed share of the call.
 */
const CHUNKS_PER_THREAD = 8;
/**
 * Least work in one chunk (flops), so taking a chunk (an `Atomics.add` and a call into wasm, well
 * under a microsecond) stays below 1% of computing it (about 30 us at 32 GFLOP/s). Capped at half
 * of the call's threshold, so every call that is shared has at least two chunks (and a threshold
 * of 0, as tests use, shares even the smallest calls).
 */
const MIN_CHUNK_WORK = 1 << 20;
/**
 * The one way a kernel's work is shared with the helper threads. `job` is an export that computes
 * outputs for a run of rows; `args(start, count)` gives its arguments for rows [start, start +
 * count), and must be affine in `start` with `count` as one argument as is (an address moves by a
 * fixed number of bytes per row), so a helper can make the same arguments for any chunk.
 *
 * The `n` rows are cut into chunks of whole `unit`s (a corpus panel, a group of 4 int8 rows), of
 * one length, several per thread, and every thread, the calling one included, takes the next chunk
 * from a counter in shared memory (`Atomics.add`) until none is left: faster threads take more,
 * and the threads run out of work within a chunk of each other. (Shorter chunks at the end, to
 * bound that wait, were tried: split by 4, the threads' run and blocked time in
 * scripts/thread-cpu.mjs showed no gain for products and 3-8% more for searches.) Each
 * output is computed by the same code in the same order whichever thread takes its chunk, so the
 * results are bit for bit those of one thread. The caller returns once every row is computed; a
 * helper that woke too late to find a chunk is waited for at the start of the next shared call
 * (`settle`), before the counter is reused. After a failure (a trap in any thread, a helper that
 * died) no more chunks are taken, the caller waits for every helper, and throws.
 *
 * With `copy`, each chunk is also copied out of wasm memory into `copy.dest` by the thread that
 * computed it, while it is still in cache, before it counts as finished: the copy, and the first
 * touch of the destination's pages (a page fault each, about as costly as the product on some
 * machines), are shared like the compute instead of left to the calling thread. Helpers can do so
 * where the pool {@link HelperPool.copies} and `dest` is over a SharedArrayBuffer; otherwise the
 * calling thread copies everything once the job is done.
 *
 * The call stays on the calling thread when there are no helpers, when `work` (its flops) is below
 * `minWork`, or when there is only one unit.
 */
export function share<J extends Job>(
  rt: WasmRuntime,
  job: J,
  n: number,
  unit: number,
  work: number,
  minWork: number,
  args: (start: number, count: number) => Parameters<WasmExports[J]>,
  copy?: CopyOut,
): void {
  shareBegin(rt, job, n, unit, work, minWork, args, copy).finish();
}

/**
 * How {@link share} cuts `n` rows (`work` flops) into chunks of whole `unit`s for `threads`
 * threads: at most {@link CHUNKS_PER_THREAD} long chunks per thread, each of at least
 * {@link MIN_CHUNK_WORK} flops (or half of `minWork`).
 */
export function scheduleOf(
  n: number,
  unit: number,
  work: number,
  minWork: number,
  threads: number,
): Schedule {
  const units = Math.ceil(n / unit);
  const least = Math.max(1, Math.ceil(Math.min(MIN_CHUNK_WORK, minWork / 2) / (work / units)));
  const chunkUnits = Math.max(least, Math.ceil(units / (threads * CHUNKS_PER_THREAD)));
  return { chunk: chunkUnits * unit };
}

/** A shared call whose helpers are at work; {@link Sharing.finish} joins them. */
export interface Sharing {
  /** Takes chunks on the calling thread until none is left, then waits for the helpers' last ones. */
  finish(): void;
}

/**
 * {@link share} in two steps: the helpers start on the chunks at once, and the calling thread joins
 * them at `finish()` after other work of its own that touches neither the job's memory nor another
 * shared call (copying out the previous block of a product, for one), so that work overlaps theirs.
 * Without helpers the whole job runs in `finish()`. Call `finish()` exactly once, even when the
 * work in between throws: until then the helpers write to the job's memory.
 */
export function shareBegin<J extends Job>(
  rt: WasmRuntime,
  job: J,
  n: number,
  unit: number,
  work: number,
  minWork: number,
  args: (start: number, count: number) => Parameters<WasmExports[J]>,
  copy?: CopyOut,
): Sharing {
  const run = rt.exports[job] as (...a: Parameters<WasmExports[J]>) => void;
  const pool = rt.pool;
  const units = Math.ceil(n / unit);
  const alone = {
    finish: () => {
      run(...args(0, n));
      if (copy) {
        copyOut(rt, copy, 0, n);
        touchAhead(copy, 0, n, n);
      }
    },
  };
  if (pool === undefined || pool.size === 0 || work < minWork || units < 2) return alone;
  const schedule = scheduleOf(n, unit, work, minWork, pool.size + 1);
  const chunks = chunkCount(schedule, n);
  if (!(chunks >= 2)) return alone;
  const w = pool.work;
  pool.settle();
  Atomics.store(w, WORK_NEXT, 0);
  Atomics.store(w, WORK_FINISHED, 0);
  const base = args(0, 0).map(Number);
  const next = args(1, 0).map(Number);
  const counted = args(0, 1).map(Number);
  const countArg = counted.findIndex((v, t) => v !== base[t]);
  const steps = next.map((v, t) => v - base[t]);
  const posted = pool.live.slice(0, chunks - 1);
  // Helpers copy their own chunks only into shared memory they can be handed (see CopyOut).
  const each = copy && pool.copies && copy.dest.buffer instanceof SharedArrayBuffer ? copy : undefined;
  for (const h of posted) pool.postShared(h, job, base, steps, countArg, n, schedule, each);
  return {
    finish: () => {
      join(rt, pool, posted, run, args, n, schedule, job, each);
      if (copy && !each) copyOut(rt, copy, 0, n);
    },
  };
}

/** Copies rows [start, start + count) of every line of a shared job's output (see {@link CopyOut}). */
export function copyOut(rt: WasmRuntime, c: CopyOut, start: number, count: number): void {
  const heap = rt.f32;
  for (let l = 0; l < c.lines; l++) {
    const s = c.src + l * c.srcStride + start;
    c.dest.set(heap.subarray(s, s + count), c.dst + l * c.dstStride + start);
  }
}

/** The calling thread's part of a shared call: chunks until none is left, then the helpers'. */
function join<J extends Job>(
  rt: WasmRuntime,
  pool: HelperPool,
  posted: readonly number[],
  run: (...a: Parameters<WasmExports[J]>) => void,
  args: (start: number, count: number) => Parameters<WasmExports[J]>,
  n: number,
  schedule: Schedule,
  job: J,
  copy: CopyOut | undefined,
): void {
  const w = pool.work;
  let failure: unknown;
  try {
    for (;;) {
      const k = Atomics.add(w, WORK_NEXT, 1);
      const start = chunkStart(schedule, k);
      if (start >= n) break;
      const count = Math.min(chunkStart(schedule, k + 1), n) - start;
      run(...args(start, count));
      if (copy) {
        copyOut(rt, copy, start, count);
        touchAhead(copy, start, count, n);
      }
      Atomics.add(w, WORK_FINISHED, count);
    }
  } catch (err) {
    failure = err;
  }
  if (failure === undefined && finished(pool, posted, n)) {
    pool.leave(posted);
    return;
  }
  // A thread failed: stop handing out chunks, let every helper finish the one it holds (their
  // outputs are in memory the caller may free next), then report the first failure.
  Atomics.store(w, WORK_NEXT, 1 << 30);
  for (const h of posted) {
    try {
      pool.wait(h, job);
    } catch (err) {
      failure ??= err;
    }
  }
  if (failure !== undefined) throw failure;
  if (Atomics.load(w, WORK_FINISHED) < n) throw new Error(`wasm backend: '${job}' lost part of its work`);
}

/**
 * Waits until all `n` rows are computed (true), or a posted helper failed or the wait timed out
 * (false). Blocks in Atomics.wait where the thread may (the helper that computes the last rows
 * notifies), spins where it may not (a browser's main thread).
 */
function finished(pool: HelperPool, posted: readonly number[], n: number): boolean {
  const w = pool.work;
  const start = Date.now();
  for (;;) {
    const done = Atomics.load(w, WORK_FINISHED);
    if (done >= n) return true;
    for (const h of posted) if (pool.failed(h)) return false;
    if (Date.now() - start > HELPER_TIMEOUT) return false;
    // The helpers' last chunks are usually a short wait: watched, not slept through (a wake-up
    // cost about 100 us on a 2-vCPU VM); a longer one sleeps. A helper that dies mid-chunk
    // notifies its control block, not this one: look again every 20 ms.
    if (Date.now() - start < 2) continue;
    if (pool.canBlock) Atomics.wait(w, WORK_FINISHED, done, 20);
  }
}
