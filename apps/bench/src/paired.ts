import type { ExactReference } from './accuracy.js';
import { checkAnswer } from './measure.js';
import type { Contender, Method, OpenContender, Prepared } from './method.js';
import { MIN_REPS } from './plan.js';
import { judgedFigure, ratioPairs } from './report/targets.js';
import { hangMs, makeTimer, now, withTimeout } from './timing.js';
import type { Accuracy, BenchReport, BenchResult, PairedRatio, RunSettings } from './types.js';
import type { Dataset } from './workloads.js';

/** A figure whose call answered wrong in the side-by-side rounds, and how. */
export interface WrongSideBySide {
  readonly figure: BenchResult;
  readonly accuracy: Accuracy;
}

/** One side of a pair, made ready: the contender opened, the method's call prepared. */
interface Side {
  readonly figure: BenchResult;
  readonly method: Method;
  readonly open: OpenContender;
  prepared?: Prepared;
}

/**
 * Times the two calls of every ratio target again, side by side (see {@link PairedRatio}): each
 * pair's contenders are opened afresh, both calls prepared on the same dataset, and then timed in
 * alternating rounds until `budgetSeconds` (twice the run's budget per figure) is spent and at
 * least as many rounds as the run's reps (and {@link MIN_REPS}) are in. A pair is left out, and its
 * target judged on the figures measured apart, where either figure is missing, not ok or on a
 * slice, or where a call fails here; an answer here that is not right is also returned in `wrong`,
 * for the run to fail on.
 */
export async function timeSideBySide(
  report: BenchReport,
  contenders: readonly Contender[],
  dataset: (workload: string) => Promise<{ ds: Dataset; exact: ExactReference }> | undefined,
  s: RunSettings,
): Promise<{ paired: PairedRatio[]; wrong: WrongSideBySide[] }> {
  const out: PairedRatio[] = [];
  const wrong: WrongSideBySide[] = [];
  for (const pair of ratioPairs(report)) {
    const a = judgedFigure(report, pair.workload, pair.a);
    const b = judgedFigure(report, pair.workload, pair.b);
    if (!a?.timing || !b?.timing || a.shrunk || b.shrunk) continue;
    const data = dataset(pair.workload);
    if (!data) continue;
    const got = await pairOnce(a, b, contenders, await data, s, wrong).catch(() => undefined);
    if (got) out.push(got);
  }
  return { paired: out, wrong };
}

async function pairOnce(
  a: BenchResult,
  b: BenchResult,
  contenders: readonly Contender[],
  { ds, exact }: { ds: Dataset; exact: ExactReference },
  s: RunSettings,
  wrong: WrongSideBySide[],
): Promise<PairedRatio | undefined> {
  const sides: Side[] = [];
  try {
    for (const figure of [a, b]) {
      const c = contenders.find((x) => x.id === figure.contender);
      if (!c) return undefined;
      const open = await withTimeout(c.open(), hangMs(s), `${c.id}: open`);
      const method = open.methods(ds.spec.kind, ds.spec).find((m) => m.name === figure.method);
      sides.push({ figure, method: method!, open });
      if (!method) return undefined;
    }
    for (const side of sides) {
      side.prepared = await withTimeout(Promise.resolve(side.method.prepare(ds)), hangMs(s), 'prepare');
    }
    // One timer per call, as in the figures' own repetitions.
    const timers = sides.map(() => makeTimer());
    const per = sides.map((x) => x.figure.timing!.callsPerRep);
    const ms: number[][] = [[], []];
    // A warm-up call each, one after the other; its answer is checked as the last one is.
    const last = [await timers[0](sides[0].prepared!, 1), await timers[1](sides[1].prepared!, 1)];
    const budget = 2 * s.budgetSeconds * 1000;
    const start = now();
    let rounds = 0;
    while (rounds < Math.max(MIN_REPS, s.reps) || (now() - start < budget && rounds < 1000)) {
      for (let j = 0; j < 2; j++) {
        const i = (rounds + j) % 2;
        const [t, o] = await timers[i](sides[i].prepared!, per[i]);
        ms[i].push(t / per[i]);
        last[i] = [t, o];
      }
      rounds++;
      if (rounds >= MIN_REPS && now() - start >= 4 * budget) break;
    }
    // A call right in its own figure and wrong here is wrong: the run fails on it (it only left
    // the pair out; a review).
    for (let i = 0; i < 2; i++) {
      const accuracy = checkAnswer(sides[i].method, last[i][1], ds, exact, s);
      if (!accuracy.ok) {
        wrong.push({ figure: sides[i].figure, accuracy });
        return undefined;
      }
    }
    const ratios = ms[1].map((t, i) => t / Math.max(ms[0][i], 1e-9)).sort((x, y) => x - y);
    return {
      workload: a.workload,
      a: { contender: a.contender, method: a.method, median: median(ms[0]) },
      b: { contender: b.contender, method: b.method, median: median(ms[1]) },
      rounds,
      ratio: median(ratios),
    };
  } finally {
    for (const side of sides) {
      await Promise.resolve(side.prepared?.dispose?.()).catch(() => undefined);
      await side.open.close().catch(() => undefined);
    }
  }
}

function median(v: readonly number[]): number {
  const x = [...v].sort((p, q) => p - q);
  const mid = x.length >> 1;
  return x.length % 2 ? x[mid] : (x[mid - 1] + x[mid]) / 2;
}
