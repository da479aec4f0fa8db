import type { Job } from './control.js';
import type { WasmExports } from './generated/exports.js';
import type { WasmRuntime } from './runtime.js';

/**
 * The one way a kernel's work is shared with the helper threads. `job` is an export that computes
 * outputs for a run of rows; `args(start, count)` gives its arguments for rows [start, start +
 * count). The `n` rows are cut into one share per thread, each a whole number of `unit`s (a corpus
 * panel, a group of 4 int8 rows), so every output is computed by the same code in the same order
 * whichever thread runs it and the results are bit for bit those of one thread. Helpers get
 * shares 2, 3, ... through their control blocks; the calling thread computes the first, then
 * waits for all the others (even after a failure, which it then rethrows).
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
): void {
  const run = rt.exports[job] as (...a: Parameters<WasmExports[J]>) => void;
  const pool = rt.pool;
  const units = Math.ceil(n / unit);
  if (pool === undefined || pool.size === 0 || work < minWork || units < 2) {
    run(...args(0, n));
    return;
  }
  const helpers = pool.live.slice(0, units - 1);
  const per = Math.ceil(units / (helpers.length + 1)) * unit;
  const posted: number[] = [];
  for (let t = 1; t <= helpers.length && t * per < n; t++) {
    const start = t * per;
    const h = helpers[t - 1];
    pool.post(h, job, args(start, Math.min(n, start + per) - start));
    posted.push(h);
  }
  let failure: unknown;
  try {
    run(...args(0, Math.min(n, per)));
  } catch (err) {
    failure = err;
  }
  for (const h of posted) {
    try {
      pool.wait(h);
    } catch (err) {
      failure ??= err;
    }
  }
  if (failure !== undefined) throw failure;
}
