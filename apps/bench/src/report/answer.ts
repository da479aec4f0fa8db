import type { BenchReport, BenchResult, WorkloadSpec } from '../types.js';
import { fmtNs, fmtRatio, fmtSize } from './format.js';
import { perPairSpread } from './svg.js';

/** The run's answer for one workload: what to use on this device for that shape. */
export interface Answer {
  readonly workload: WorkloadSpec;
  /** The fastest exact figure, per pair; undefined when nothing ran correctly. */
  readonly best?: BenchResult;
  /** The fastest figure of any other contender. */
  readonly next?: BenchResult;
  /** next time per pair / best time per pair. */
  readonly ratio?: number;
  /** The run cannot tell the two apart (see {@link level}). */
  readonly tie: boolean;
  /** The whole answer in one line. */
  readonly text: string;
}

/** `wasm corpus.similarity`; a tfjs peer is named by its id (`tfjs-wasm:fast matMul(q, cT)`). */
export const figureName = (r: BenchResult) => `${r.contender} ${r.method}`;

/**
 * Approximate figures (int8 corpora) answer a different question, "how fast with recall >= 0.99":
 * they are left out of the answer, which is about exact cosines. Their rows say "approximate".
 */
const exact = (r: BenchResult) => !r.note?.includes('approximate');

/**
 * True when two figures are level: within 10% per pair, or each median inside the other's
 * fastest-to-slowest range (ranges that merely touch, as one slow repetition makes them, are not
 * enough to call a 4x gap a tie).
 */
export function level(a: BenchResult, b: BenchResult): boolean {
  const sa = perPairSpread(a);
  const sb = perPairSpread(b);
  const ratio = Math.max(sa.median, sb.median) / Math.min(sa.median, sb.median);
  const inside = (x: number, s: typeof sa) => x >= s.min && x <= s.max;
  return ratio < 1.1 || (inside(sa.median, sb) && inside(sb.median, sa));
}

/**
 * One line per workload: "On this device, for <shape>: use X (N x faster than Y)". X is the fastest
 * correct exact figure per pair (so a slice compares with a full run) of a contender none of whose
 * figures of the workload was wrong or failed; Y is the fastest such figure of any other contender. When their spreads overlap the line says they are level instead.
 */
export function answers(report: BenchReport): Answer[] {
  return report.workloads.map((w) => {
    const shape = `${w.id} (${fmtSize(w.size)})`;
    // A contender with any exact figure of this workload wrong, or any figure failed, is not
    // recommended for it, even by another figure that was right (the line once named a backend
    // whose other kernel was WRONG). An approximate figure below its recall answers another question,
    // as it is left out of the answer: wasm's int8 corpus at recall 0.9 on B made the line
    // recommend the naive loop, "the only contender that ran".
    const broken = new Set(
      report.results
        .filter((r) => r.workload === w.id && ((r.status === 'wrong' && exact(r)) || r.status === 'error'))
        .map((r) => r.contender),
    );
    const ok = report.results
      .filter(
        (r) =>
          r.workload === w.id &&
          r.status === 'ok' &&
          r.nsPerPair !== undefined &&
          exact(r) &&
          !broken.has(r.contender),
      )
      .sort((a, b) => a.nsPerPair! - b.nsPerPair!);
    const best = ok[0];
    if (!best)
      return { workload: w, tie: false, text: `For ${shape}: nothing ran correctly on this device.` };
    const next = ok.find((r) => r.contender !== best.contender);
    const lead = `On this device, for ${shape}: use ${figureName(best)}`;
    const at = `${fmtNs(best.nsPerPair!)} per cosine${best.shrunk ? ', on a slice' : ''}`;
    if (!next) {
      const left = [...broken].filter((c) => c !== best.contender);
      const why = left.length ? `; ${left.join(', ')} left out: a figure was wrong or failed` : '';
      return {
        workload: w,
        best,
        tie: false,
        text: `${lead} (${at}; the only contender that ran correctly${why}).`,
      };
    }
    const ratio = next.nsPerPair! / best.nsPerPair!;
    const tie = level(best, next);
    const text = tie
      ? `${lead} or ${figureName(next)}: level within the spread of the repetitions (${fmtRatio(ratio)}; ${at}).`
      : `${lead} (${fmtRatio(ratio)} faster than ${figureName(next)}; ${at}).`;
    return { workload: w, best, next, ratio, tie, text };
  });
}
