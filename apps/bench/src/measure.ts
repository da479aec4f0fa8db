import { checkMatrix, checkSearch, type ExactReference, knnAccuracy } from './accuracy.js';
import type { Method, Output, Prepared } from './method.js';
import { MIN_REPS, type Plan, planSize } from './plan.js';
import { summarize } from './stats.js';
import { calibrate, hangMs, makeTimer, now, platformSampling, withTimeout } from './timing.js';
import type { Accuracy, BenchResult, RunSettings } from './types.js';
import type { Dataset } from './workloads.js';

export type Measured = Pick<
  BenchResult,
  'size' | 'shrunk' | 'status' | 'note' | 'timing' | 'setupMs' | 'gflops' | 'nsPerPair' | 'accuracy'
> & {
  /**
   * With `keep`: the prepared call, still open, and the calls per timed sample it was calibrated
   * to, for timing it again beside other contenders; the caller disposes it. Absent when the call
   * was measured cold (one call over the budget) or `keep` was not asked for.
   */
  readonly held?: { readonly prepared: Prepared; readonly callsPerRep: number };
};

/**
 * Times one method on one dataset within the time budget and checks its answer against float64.
 * Matrix and search workloads are first sized by {@link planSize}; repetitions are time-boxed (at
 * least {@link MIN_REPS} unless twice the budget is spent); the answer of the last call is checked.
 */
export async function measure(
  m: Method,
  full: Dataset,
  exact: ExactReference,
  s: RunSettings,
  keep = false,
): Promise<Measured> {
  const prepare = (d: Dataset) => m.prepare(d);
  const timeCalls = makeTimer();
  const budget = s.budgetSeconds * 1000;
  const plan: Plan = full.spec.kind === 'pair' ? { ds: full } : await planSize(prepare, timeCalls, full, s);
  const { ds } = plan;
  const notes: string[] = plan.note ? [plan.note] : [];
  let perCall: number[];
  let callsPerRep = 1;
  let out: Output;
  let setupMs: number | undefined;
  let prepared: Prepared | undefined;
  if (plan.cold) {
    perCall = [plan.cold.ms];
    out = plan.cold.out;
  } else {
    const t1 = now();
    const p = await withTimeout(Promise.resolve(prepare(ds)), hangMs(s), 'prepare');
    setupMs = now() - t1;
    try {
      let lastWarm = 0;
      // Within the figure's budget too: --warmup 100000000 ran on past any --budget.
      const warmStart = now();
      for (let i = 0; i < s.warmup && now() - warmStart < budget; i++) [lastWarm] = await timeCalls(p, 1);
      const sampling = platformSampling();
      // A warm-up call that already lasts five samples saves probing a slow call again; below that,
      // calibrate (whose growing probes also warm the JIT) and let the median of its probes decide.
      callsPerRep = lastWarm >= 5 * sampling.minSampleMs ? 1 : await calibrate(timeCalls, p, sampling);
      perCall = [];
      // Time-boxed: stop early once the budget is spent and MIN_REPS are in (or at twice the budget).
      const start = now();
      for (let r = 0; r < s.reps; r++) {
        const [ms, o] = await timeCalls(p, callsPerRep);
        perCall.push(ms / callsPerRep);
        out = o;
        const spent = now() - start;
        if (r + 1 < s.reps && ((spent >= budget && r + 1 >= MIN_REPS) || spent >= 2 * budget)) {
          notes.push(`${r + 1} of ${s.reps} reps: ${s.budgetSeconds} s budget spent`);
          break;
        }
      }
      if (keep) prepared = p;
    } finally {
      if (!prepared) await p.dispose?.();
    }
  }
  try {
    return summarizeAndCheck();
  } catch (err) {
    // Checking the answer threw: the call kept open is nobody's to release but ours.
    await prepared?.dispose?.();
    throw err;
  }

  function summarizeAndCheck(): Measured {
    const timing = summarize(perCall, callsPerRep);
    const tolerance = m.approximate?.tolerance ?? s.tolerance;
    const accuracy = checkAnswer(m, out!, ds, exact, s);
    if (m.approximate) {
      notes.push(
        `approximate: held to error <= ${tolerance}, ${m.approximate.minRecall > 0 ? `recall >= ${m.approximate.minRecall}` : 'recall reported, not held'}`,
      );
    }
    const { q, n, d } = ds.size;
    const labels = ds.labels;
    if (labels && 'indices' in out! && ds.size.k) {
      const acc = knnAccuracy(out.indices, q, ds.size.k, labels.queries, labels.corpus);
      notes.push(`k-NN@${ds.size.k} label accuracy ${acc.toFixed(3)}`);
    }
    if (!accuracy.ok) notes.unshift(accuracy.problem ?? wrongNote(accuracy));
    return {
      size: ds.size,
      shrunk: ds !== full,
      status: accuracy.ok ? 'ok' : 'wrong',
      note: notes.length ? notes.join('; ') : undefined,
      timing,
      setupMs: setupMs !== undefined && setupMs > 0.05 ? setupMs : undefined,
      gflops: (2 * q * n * d) / (timing.median * 1e6),
      nsPerPair: (timing.median * 1e6) / (q * n),
      accuracy,
      ...(prepared ? { held: { prepared, callsPerRep } } : {}),
    };
  }
}

/** `out`, one answer of method `m` on `ds`, against float64, with the tolerance and recall `m` is held to. */
export function checkAnswer(
  m: Method,
  out: Output,
  ds: Dataset,
  exact: ExactReference,
  s: RunSettings,
): Accuracy {
  const tolerance = m.approximate?.tolerance ?? s.tolerance;
  // Ties at the k-th score are float32's, within the run's tolerance, never an approximate
  // method's looser score tolerance (that counted near misses as hits).
  const tie = Math.min(tolerance, s.tolerance);
  return check(out, ds, exact, tolerance, m.approximate?.minRecall ?? 1, tie);
}

function wrongNote(a: Accuracy): string {
  const parts = [`max error ${a.maxAbsError.toExponential(2)} (tolerance ${a.tolerance})`];
  if (a.recall !== undefined && a.recall < 1) parts.push(`recall ${a.recall.toFixed(3)}`);
  return `WRONG: ${parts.join(', ')}`;
}

function check(
  out: Output,
  ds: Dataset,
  exact: ExactReference,
  tolerance: number,
  minRecall: number,
  tie: number,
): Accuracy {
  const { q, n, k } = ds.size;
  if (ds.spec.kind === 'pair') {
    if (!('value' in out)) return badShape(tolerance, 'expected one cosine');
    const err = Math.abs(out.value - exact.row(0, 1)[0]);
    const e = Number.isNaN(err) ? Number.POSITIVE_INFINITY : err;
    return { maxAbsError: e, tolerance, checkedRows: 1, ok: e <= tolerance };
  }
  if (ds.spec.kind === 'matrix') {
    if (!('matrix' in out)) return badShape(tolerance, 'expected a cosine matrix');
    return checkMatrix(exact, q, n, out.matrix, tolerance);
  }
  if (!('indices' in out)) return badShape(tolerance, 'expected top-k hits');
  return checkSearch(exact, q, n, k ?? 1, out.indices, out.scores, tolerance, minRecall, tie);
}

function badShape(tolerance: number, problem: string): Accuracy {
  return { maxAbsError: Number.POSITIVE_INFINITY, tolerance, checkedRows: 0, ok: false, problem };
}
