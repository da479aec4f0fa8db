import Table from 'cli-table3';
import type { BenchReport, BenchResult } from '../types.js';
import { pc } from './colour.js';
import { fmtNs, fmtRatio, fmtSize } from './format.js';

/** One matched figure of two runs. */
export interface Change {
  readonly key: string;
  readonly before?: BenchResult;
  readonly after?: BenchResult;
  /** before time per pair / after time per pair: above 1 means faster now; only when both are ok. */
  readonly speedup?: number;
}

const keyOf = (r: BenchResult) => `${r.workload} · ${r.contender} · ${r.method}`;

/** Matches the results of two runs by workload, contender and method. */
export function compareReports(a: BenchReport, b: BenchReport): Change[] {
  const before = new Map(a.results.map((r) => [keyOf(r), r]));
  const after = new Map(b.results.map((r) => [keyOf(r), r]));
  const keys = [...new Set([...before.keys(), ...after.keys()])];
  return keys.map((key) => {
    const x = before.get(key);
    const y = after.get(key);
    // Only two right answers compare: a figure that turned wrong (or was wrong) times another
    // computation, and counted as "10x faster" in the summary.
    const speedup =
      x?.status === 'ok' && y?.status === 'ok' && x.nsPerPair && y.nsPerPair
        ? x.nsPerPair / y.nsPerPair
        : undefined;
    return { key, before: x, after: y, speedup };
  });
}

/** True when the min-max ranges per pair of two figures overlap: the difference is within the noise. */
export function spreadsOverlap(a: BenchResult, b: BenchResult): boolean {
  if (!a.timing || !b.timing) return false;
  const perPair = (r: BenchResult, ms: number) => (ms * 1e6) / (r.size.q * r.size.n);
  return (
    perPair(a, a.timing.min) <= perPair(b, b.timing.max) &&
    perPair(b, b.timing.min) <= perPair(a, a.timing.max)
  );
}

/**
 * The comparison as a terminal table. A change counts only when it exceeds `threshold` (0.05 = 5%)
 * and the two figures' min-max ranges do not overlap.
 */
export function renderCompare(a: BenchReport, b: BenchReport, threshold = 0.05): string {
  const table = new Table({
    head: ['Figure', 'Before (per pair)', 'After (per pair)', 'Change', 'Note'].map((h) => pc.bold(h)),
    style: { head: [], border: [] },
  });
  let faster = 0;
  let slower = 0;
  for (const c of compareReports(a, b)) {
    const note: string[] = [];
    if (c.before && c.after && fmtSize(c.before.size) !== fmtSize(c.after.size)) {
      note.push(`sizes differ: ${fmtSize(c.before.size)} vs ${fmtSize(c.after.size)}`);
    }
    if (c.before && c.after && c.before.status !== c.after.status)
      note.push(`${c.before.status} -> ${c.after.status}`);
    if (!c.before) note.push('new');
    if (!c.after) note.push('gone');
    let change = '';
    if (c.speedup !== undefined && spreadsOverlap(c.before!, c.after!)) {
      change = pc.dim('same (spreads overlap)');
    } else if (c.speedup !== undefined) {
      if (c.speedup > 1 + threshold) {
        faster++;
        change = pc.green(`${fmtRatio(c.speedup)} faster`);
      } else if (c.speedup < 1 / (1 + threshold)) {
        slower++;
        change = pc.red(`${fmtRatio(1 / c.speedup)} slower`);
      } else change = pc.dim('same');
    }
    const wrong = c.after && (c.after.status === 'wrong' || c.after.status === 'error');
    table.push([
      c.key,
      c.before?.nsPerPair ? fmtNs(c.before.nsPerPair) : (c.before?.status ?? ''),
      c.after?.nsPerPair ? fmtNs(c.after.nsPerPair) : (c.after?.status ?? ''),
      change,
      wrong ? pc.red(note.join('; ') || 'wrong') : note.join('; '),
    ]);
  }
  const env = (r: BenchReport) => `${r.startedAt} on ${r.environment.cpu} (${r.environment.runtime})`;
  return [
    `Before: ${env(a)}`,
    `After:  ${env(b)}`,
    table.toString(),
    `${faster} faster, ${slower} slower (threshold ${(threshold * 100).toFixed(0)}%).`,
  ].join('\n');
}
