import type { BenchReport } from '../types.js';
import { answers } from './answer.js';
import {
  busyWarning,
  COLUMNS,
  contenderLines,
  displayRow,
  FOOTNOTES,
  fmtSize,
  headerLines,
} from './format.js';
import { checkTargets, verdict } from './targets.js';

const esc = (s: string) => s.replace(/\|/g, '\\|');

/** The report as Markdown: environment, contenders, one table per workload. */
export function renderMarkdown(report: BenchReport): string {
  const out: string[] = [
    '# CosineKit benchmark',
    '',
    `Run ${report.startedAt}, ${report.durationSeconds.toFixed(1)} s.`,
    '',
    ...answers(report).map((a) => `- **${esc(a.text)}**`),
    '',
  ];
  for (const l of headerLines(report)) out.push(`- ${l}`);
  const busy = busyWarning(report);
  if (busy) out.push('', `**${busy}**`);
  out.push('', '## What ran', '');
  for (const c of contenderLines(report))
    out.push(`- ${c.available ? '' : '**'}${c.text}${c.available ? '' : '**'}`);
  const cols = COLUMNS.filter((c) => c !== 'Workload');
  for (const w of report.workloads) {
    out.push('', `## ${w.id}: ${w.title} (${fmtSize(w.size)})`, '');
    out.push(`| ${cols.map((c) => (c === 'Speed-up' ? `vs ${report.settings.baseline}` : c)).join(' | ')} |`);
    out.push(`|${cols.map(() => ' --- ').join('|')}|`);
    for (const r of report.results.filter((x) => x.workload === w.id)) {
      const d = displayRow(r, report);
      const cells = cols.map((c) => {
        const v = esc(d.cells[c]);
        return d.tone === 'bad' && (c === 'Status' || c === 'Accuracy') ? `**${v}**` : v;
      });
      out.push(`| ${cells.join(' | ')} |`);
    }
  }
  const targets = checkTargets(report);
  if (targets.length) {
    out.push('', '## Targets (informational)', '', '| target | measured | |', '| --- | --- | --- |');
    for (const t of targets) out.push(`| ${esc(t.target)} | ${esc(t.measured)} | ${verdict(t)} |`);
  }
  out.push('');
  for (const f of FOOTNOTES) out.push(`> ${f}`);
  out.push(
    '',
    report.ok ? 'All results within tolerance.' : '**FAILED: some results are wrong or errored.**',
    '',
  );
  return out.join('\n');
}
