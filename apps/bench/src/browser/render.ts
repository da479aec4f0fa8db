import { answers } from '../report/answer.js';
import {
  COLUMNS,
  type Column,
  contenderLines,
  displayRow,
  FOOTNOTES,
  fmtSize,
  headerLines,
} from '../report/format.js';
import { checkTargets, verdict } from '../report/targets.js';
import { shareCell, shareDetail } from '../roofline.js';
import type { BenchReport } from '../types.js';

/** The page's extra column on a run with a roofline: the share of the limit that binds each figure. */
const OF_LIMIT = 'Of limit';

const el = <K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, cls?: string) => {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
};

/** The environment and the contenders, as list items. */
export function renderEnvironment(
  report: Pick<BenchReport, 'environment' | 'settings' | 'contenders'>,
  into: HTMLElement,
): void {
  into.replaceChildren(
    ...headerLines(report).map((l) => el('li', l)),
    ...contenderLines(report).map((c) => el('li', c.text, c.available ? undefined : 'unavailable')),
  );
}

/** The run's answer, one line per workload: what to use on this device for that shape. */
export function renderAnswers(report: BenchReport, into: HTMLElement): void {
  into.replaceChildren(
    ...answers(report).map((a) => el('li', a.text, a.tie ? 'tie' : a.best ? 'best' : 'none')),
  );
}

/** The results as an HTML table with the same columns and marks as the terminal table. */
export function renderResults(report: BenchReport, into: HTMLElement): void {
  const cols: (Column | typeof OF_LIMIT)[] = COLUMNS.filter((c) => c !== 'Workload');
  // With a roofline, each search and matrix figure's share of the limit that binds it, after its rate.
  if (report.roofline) cols.splice(cols.indexOf('Rate') + 1, 0, OF_LIMIT);
  const table = el('table');
  table.id = 'results';
  const head = el('tr');
  for (const c of cols) head.append(el('th', c === 'Speed-up' ? `vs ${report.settings.baseline}` : c));
  table.append(head);
  for (const w of report.workloads) {
    const g = el('tr', undefined, 'group');
    const td = el('td', `${w.id}: ${w.title} (${fmtSize(w.size)})`);
    td.colSpan = cols.length;
    g.append(td);
    table.append(g);
    for (const r of report.results.filter((x) => x.workload === w.id)) {
      const d = displayRow(r, report);
      const tr = el('tr', undefined, d.tone);
      tr.dataset.contender = r.contender;
      tr.dataset.status = r.status;
      for (const c of cols) {
        if (c === OF_LIMIT) {
          const cell = el('td', r.limit ? shareCell(r.limit, r.shrunk) : '', 'limit');
          if (r.limit) cell.title = shareDetail(r.limit);
          tr.append(cell);
          continue;
        }
        const cell = el('td', d.cells[c]);
        if (c === 'Size') cell.className = 'size';
        if (c === 'Ran by' && d.fellBack) cell.className = 'fallback';
        tr.append(cell);
      }
      table.append(tr);
    }
  }
  const notes = el('div');
  for (const f of FOOTNOTES) notes.append(el('p', f));
  const targets = el('table');
  targets.id = 'targets';
  const th = el('tr');
  for (const h of ['Target (informational)', 'Measured', '']) th.append(el('th', h));
  targets.append(th);
  for (const t of checkTargets(report)) {
    const tr = el('tr');
    tr.append(el('td', t.target), el('td', t.measured), el('td', verdict(t)));
    targets.append(tr);
  }
  into.replaceChildren(table, notes, targets);
}
