import Table from 'cli-table3';
import type { BenchReport } from '../types.js';
import { answers } from './answer.js';
import { pc } from './colour.js';
import {
  baselineNotes,
  busyWarning,
  COLUMNS,
  type Column,
  contenderLines,
  displayRow,
  FOOTNOTES,
  fmtSize,
  headerLines,
} from './format.js';
import { checkTargets, verdict } from './targets.js';

/** Columns given up, in this order, when the terminal is too narrow for all (JSON and Markdown keep them). */
const DROPPABLE: readonly Column[] = ['Spread (min-max)', 'Setup', 'Reps', 'Ran by', 'Rate'];
const METHOD_WIDTH = 24;
const STATUS_WIDTH = { min: 30, max: 60, wide: 44 };

/** The columns that fit `width` characters, and the width left for Status. */
function fitColumns(report: BenchReport, width: number): { cols: Column[]; status: number } {
  let cols = COLUMNS.filter((c) => c !== 'Workload');
  if (!Number.isFinite(width)) return { cols, status: STATUS_WIDTH.wide };
  const rows = report.results.map((r) => displayRow(r, report).cells);
  // Content plus one space of padding each side and one border.
  const natural = (c: Column) =>
    c === 'Method' ? METHOD_WIDTH + 1 : Math.max(c.length, ...rows.map((r) => r[c].length)) + 3;
  const used = () => cols.filter((c) => c !== 'Status').reduce((n, c) => n + natural(c), 1);
  for (const c of DROPPABLE) {
    if (used() + STATUS_WIDTH.min + 1 <= width) break;
    cols = cols.filter((x) => x !== c);
  }
  return { cols, status: Math.max(STATUS_WIDTH.min, Math.min(STATUS_WIDTH.max, width - used() - 1)) };
}

/**
 * The terminal report: environment, what each contender ran on, and one table of all results,
 * fitted to `width` columns (a terminal's width; unlimited when writing to a file or pipe).
 */
export function renderTable(report: BenchReport, width = Number.POSITIVE_INFINITY): string {
  const lines: string[] = [];
  for (const l of headerLines(report)) lines.push(pc.dim(l));
  const busy = busyWarning(report);
  if (busy) lines.push(pc.yellow(busy));
  lines.push('');
  for (const c of contenderLines(report)) {
    lines.push(c.leak ? pc.red(c.text) : c.available ? c.text : pc.yellow(c.text));
  }
  const { cols, status } = fitColumns(report, width);
  const dropped = COLUMNS.filter((c) => c !== 'Workload' && !cols.includes(c));
  const table = new Table({
    head: cols.map((c) => pc.bold(c === 'Speed-up' ? `vs ${report.settings.baseline}` : c)),
    style: { head: [], border: [] },
    wordWrap: true,
    colWidths: cols.map((c) => (c === 'Status' ? status : c === 'Method' ? METHOD_WIDTH : null)) as number[],
  });
  for (const w of report.workloads) {
    table.push([
      {
        colSpan: cols.length,
        content: pc.bold(`${w.id}: ${w.title} (${fmtSize(w.size)})`),
      },
    ]);
    for (const r of report.results.filter((x) => x.workload === w.id)) {
      const d = displayRow(r, report);
      const paint =
        d.tone === 'bad'
          ? pc.red
          : d.tone === 'muted'
            ? pc.dim
            : d.tone === 'warn'
              ? pc.yellow
              : (s: string) => s;
      table.push(
        cols.map((c) => {
          const v = d.cells[c];
          if (c === 'Status' || c === 'Accuracy') return d.tone === 'bad' ? pc.red(pc.bold(v)) : paint(v);
          if (c === 'Ran by' && d.fellBack) return pc.yellow(v);
          if (c === 'Size' && r.shrunk) return pc.yellow(v);
          return d.tone === 'muted' || d.tone === 'bad' ? paint(v) : v;
        }),
      );
    }
  }
  lines.push(table.toString());
  if (dropped.length)
    lines.push(
      pc.dim(`Not shown at this terminal width: ${dropped.join(', ')} (see the JSON or --markdown).`),
    );
  for (const f of FOOTNOTES) lines.push(pc.dim(f));
  for (const n of baselineNotes(report)) lines.push(pc.yellow(n));
  const targets = checkTargets(report);
  if (targets.length) {
    const t = new Table({
      head: ['Target', 'Measured', ''].map((h) => pc.bold(h)),
      style: { head: [], border: [] },
    });
    for (const x of targets) {
      const v = verdict(x);
      t.push([x.target, x.measured, x.met === undefined ? pc.dim(v) : x.met ? pc.green(v) : pc.yellow(v)]);
    }
    lines.push(
      t.toString(),
      pc.dim('Targets are informational (timings here are noisy); only wrong results fail the run.'),
    );
  }
  for (const a of answers(report)) lines.push(pc.bold(a.text));
  const bad = report.results.filter((r) => r.status === 'wrong' || r.status === 'error');
  lines.push(
    bad.length
      ? pc.red(
          pc.bold(
            `FAILED: ${bad.length} result(s) wrong or errored: ${bad.map((r) => `${r.workload} ${r.contender} ${r.method}`).join('; ')}`,
          ),
        )
      : report.results.some((r) => r.status === 'ok')
        ? pc.green(`All results within tolerance (${report.durationSeconds.toFixed(1)} s).`)
        : pc.yellow('Nothing was measured: no contender could run these workloads here (see above).'),
  );
  return lines.join('\n');
}
