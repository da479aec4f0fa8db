import Table from 'cli-table3';
import pc from 'picocolors';
import type { BenchReport } from '../types.js';
import { COLUMNS, contenderLines, displayRow, FOOTNOTES, fmtSize, headerLines } from './format.js';
import { checkTargets, verdict } from './targets.js';

/** The terminal report: environment, what each contender ran on, and one table of all results. */
export function renderTable(report: BenchReport): string {
  const lines: string[] = [];
  for (const l of headerLines(report)) lines.push(pc.dim(l));
  lines.push('');
  for (const c of contenderLines(report)) {
    lines.push(c.leak ? pc.red(c.text) : c.available ? c.text : pc.yellow(c.text));
  }
  const cols = COLUMNS.filter((c) => c !== 'Workload');
  const table = new Table({
    head: cols.map((c) => pc.bold(c === 'Speed-up' ? `vs ${report.settings.baseline}` : c)),
    style: { head: [], border: [] },
    wordWrap: true,
    colWidths: cols.map((c) => (c === 'Status' ? 44 : c === 'Method' ? 24 : null)) as number[],
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
  for (const f of FOOTNOTES) lines.push(pc.dim(f));
  const targets = checkTargets(report);
  if (targets.length) {
    const t = new Table({
      head: ['DESIGN target', 'Measured', ''].map((h) => pc.bold(h)),
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
  const bad = report.results.filter((r) => r.status === 'wrong' || r.status === 'error');
  lines.push(
    bad.length
      ? pc.red(
          pc.bold(
            `FAILED: ${bad.length} result(s) wrong or errored: ${bad.map((r) => `${r.workload} ${r.contender} ${r.method}`).join('; ')}`,
          ),
        )
      : pc.green(`All results within tolerance (${report.durationSeconds.toFixed(1)} s).`),
  );
  return lines.join('\n');
}
