import type { Output, Prepared } from './method.js';
import { fmtMs } from './report/format.js';
import { hangMs, now, type Timer, withTimeout } from './timing.js';
import type { RunSettings, Size } from './types.js';
import { type Dataset, shrink } from './workloads.js';

/** Fewest timed repetitions worth a median; a slower contender runs on a smaller size instead. */
export const MIN_REPS = 3;
/** Budgets a resident corpus upload (setup, not timed) may take before the corpus is sliced. */
const SETUP_BUDGETS = 10;

/** Q x N x d: the work of one call, for scaling a probe's time to another size. */
const work = (s: Size) => s.q * s.n * s.d;

/** The size to measure at; `cold` when even the smallest slice's first call blew the budget. */
export interface Plan {
  readonly ds: Dataset;
  readonly note?: string;
  readonly cold?: { readonly ms: number; readonly out: Output };
}

/**
 * Chooses the size that fits `MIN_REPS` timed calls in the budget. Probes a slice (1/32 of the
 * queries, or of the corpus for one query) and models a call as fixed cost plus cost per pair. When
 * the full size does not fit, a second probe at least twice as large pins down both terms (one tiny
 * probe alone scales its fixed cost up with it and overestimates). A slice of more than half the
 * workload is not worth it: the full size runs with fewer repetitions instead (time-boxed).
 */
export async function planSize(
  prepare: (ds: Dataset) => Prepared | Promise<Prepared>,
  timeCalls: Timer,
  full: Dataset,
  s: RunSettings,
): Promise<Plan> {
  const budget = s.budgetSeconds * 1000;
  let fraction = 1 / 32;
  let probe = sliceBy(full, fraction);
  if (work(probe.size) >= work(full.size)) return { ds: full };
  const points: [number, number][] = [];
  for (;;) {
    const t0 = now();
    const p = await withTimeout(Promise.resolve(prepare(probe)), hangMs(s), 'prepare');
    const setup = now() - t0;
    try {
      const [cold, out] = await withTimeout(timeCalls(p, 1), hangMs(s), 'first call');
      if (points.length === 0 && cold > Math.max(4 * budget, 2000)) {
        // A first call includes compiling (shaders, JIT), so a slow one is normally repeated; but
        // one this slow makes another cost more than the figure may: report it, marked cold.
        return {
          ds: probe,
          cold: { ms: cold, out },
          note: `over budget: one cold call on the smallest slice took ${fmtMs(cold)}; not repeated`,
        };
      }
      // The faster of two calls: interference from other processes only ever adds time.
      const [a] = await timeCalls(p, 1);
      const [b] = a < budget / MIN_REPS ? await timeCalls(p, 1) : [a];
      points.push([work(probe.size), Math.min(a, b)]);
    } finally {
      await p.dispose?.();
    }
    const model = fitCost(points);
    const est = model(work(full.size));
    // When the corpus is what gets sliced, its upload (setup, untimed) shrinks with it: bound it too.
    const setupFull = full.size.q === 1 ? (setup * full.size.n) / probe.size.n : 0;
    const setupWant = setupFull > 0 ? (SETUP_BUDGETS * budget) / setupFull : 1;
    const fixed = model(0);
    const perWork = (est - fixed) / work(full.size);
    // The largest slice whose MIN_REPS calls fit, from the model's fixed and per-pair cost.
    const computeWant =
      MIN_REPS * est <= budget ? 1 : Math.max(0, (budget / MIN_REPS - fixed) / perWork) / work(full.size);
    const want = Math.min(setupWant, computeWant);
    if (want >= 0.5) return { ds: full };
    if (computeWant < setupWant && points.length < 2) {
      // Compute decides: refine the model with a second, larger probe before trusting it.
      const again = sliceBy(full, Math.min(0.5, Math.max(want, 2 * fraction)));
      if (work(again.size) > work(probe.size)) {
        fraction = Math.min(0.5, Math.max(want, 2 * fraction));
        probe = again;
        continue;
      }
    }
    const why =
      setupWant <= computeWant
        ? `resident corpus upload est. ${fmtMs(setupFull)} at full size`
        : `full size est. ${fmtMs(est)} per call`;
    return { ds: sliceBy(full, want), note: `${why}: over budget, ran on a slice` };
  }
}

/** Time per call as a function of work: proportional from one probe, affine (fixed + per pair) from two. */
function fitCost(points: readonly [number, number][]): (w: number) => number {
  const [w1, t1] = points[points.length - 1];
  if (points.length < 2) return (w) => (t1 * w) / w1;
  const [w0, t0] = points[points.length - 2];
  const slope = (t1 - t0) / (w1 - w0);
  // Noise can make the slope negative or the intercept so; fall back to proportional then.
  if (!(slope > 0) || t1 - slope * w1 < 0) return (w) => (t1 * w) / w1;
  const fixed = t1 - slope * w1;
  return (w) => fixed + slope * w;
}

/** The first `fraction` of the queries (or of the corpus, for a single query), at least one row. */
function sliceBy(ds: Dataset, fraction: number): Dataset {
  const { q, n, k } = ds.size;
  if (fraction >= 1) return ds;
  if (q > 1) return shrink(ds, Math.max(1, Math.floor(q * fraction)), n);
  return shrink(ds, q, Math.max(k ?? 1, Math.min(n, Math.floor(n * fraction))));
}
