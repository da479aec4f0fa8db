import type { BenchReport, BenchResult } from '../types.js';
import { fmtNs, fmtSize } from './format.js';

const PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#59a14f',
  '#76b7b2',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
];
const RED = '#d62728';

const xml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A power of ten of nanoseconds as `10 ns`, `1 us`, `100 ms`. */
function decade(ns: number): string {
  const units: [number, string][] = [
    [1e9, 's'],
    [1e6, 'ms'],
    [1e3, 'us'],
    [1, 'ns'],
  ];
  const [scale, unit] = units.find(([u]) => ns >= u * 0.999) ?? [1, 'ns'];
  return `${Math.round(ns / scale)} ${unit}`;
}

/** Layout of the chart, in px (font 12 px). */
export const CHART = {
  width: 1180,
  /** Widest label column; longer labels wrap onto a second line. */
  maxLabel: 440,
  /** Room right of the plot for the value of the slowest figure. */
  right: 130,
  barH: 13,
  gap: 5,
  /** Width of one character of the 12 px sans-serif labels, generously estimated. */
  charW: 6.8,
} as const;

/** Time per cosine of a figure's median, fastest and slowest repetition, ns. */
export function perPairSpread(r: BenchResult): { median: number; min: number; max: number } {
  const pairs = r.size.q * r.size.n;
  const t = r.timing;
  const median = r.nsPerPair!;
  // A repetition read as 0 ms (a clock coarser than the call) has no place on a log axis.
  if (!t || !(t.min > 0))
    return { median, min: median, max: Math.max(median, t ? (t.max * 1e6) / pairs : 0) };
  return { median, min: (t.min * 1e6) / pairs, max: Math.max(median, (t.max * 1e6) / pairs) };
}

/** Splits a label into lines that fit `width` px, at spaces. */
function wrap(text: string, width: number): string[] {
  const max = Math.max(8, Math.floor(width / CHART.charW));
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && `${line} ${word}`.length > max) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/**
 * A bar chart of the results, written by hand (no charting library is installed): one group of bars
 * per workload, each bar the median time per cosine (time per call / (Q x N)), so figures measured on
 * a slice stay comparable, with a whisker from the fastest to the slowest repetition. The axis is
 * logarithmic (one pair and a 2.5-million-cosine matrix differ by orders of magnitude) and every bar
 * starts at its left end, so bar length is position on that axis. Labels wrap rather than being cut;
 * the label column is as wide as the longest label needs. Wrong results are drawn in red.
 */
export function renderSvg(report: BenchReport): string {
  const groups = report.workloads
    .map((w) => ({
      w,
      bars: report.results
        .filter((r) => r.workload === w.id && r.nsPerPair !== undefined && r.nsPerPair > 0)
        .map((r) => ({
          r,
          spread: perPairSpread(r),
          label: `${r.contender} · ${r.method}${r.shrunk ? ` [slice ${fmtSize(r.size)}]` : ''}${r.emulated ? ' (emulated)' : ''}`,
        })),
    }))
    .filter((g) => g.bars.length > 0);
  const { width, right, barH, gap, charW } = CHART;
  const longest = Math.max(0, ...groups.flatMap((g) => g.bars.map((b) => b.label.length)));
  const left = Math.min(CHART.maxLabel, Math.ceil(longest * charW)) + 16;
  const labelW = left - 16;
  const rows = groups.map((g) => g.bars.map((b) => wrap(b.label, labelW)));
  const titleH = 24;
  // Room for the decade labels above the plot too: a tall chart's bottom axis is off the first screen.
  const top = 64;
  const plotW = width - left - right;
  const rowH = (lines: number) => Math.max(barH, lines * 14) + gap;
  const height =
    top + rows.reduce((h, g) => h + titleH + g.reduce((s, l) => s + rowH(l.length), 0) + 6, 0) + 34;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="8" y="19" font-size="15" font-weight="bold">Time per cosine, log scale (shorter is faster)</text>`,
    `<text x="8" y="37" fill="#555">${xml(`Bars: median of the repetitions; whiskers: fastest to slowest. ${report.environment.runtime}; CPU: ${report.environment.cpu}; ${report.startedAt}`)}</text>`,
  ];
  if (groups.length === 0) {
    out.push(`<text x="${width / 2}" y="${top + 20}" text-anchor="middle">No timed results.</text></svg>`);
    return out.join('\n');
  }
  const lows = groups.flatMap((g) => g.bars.map((b) => Math.min(b.spread.min, b.spread.median)));
  const highs = groups.flatMap((g) => g.bars.map((b) => Math.max(b.spread.max, b.spread.median)));
  // A decade below the fastest figure, so the shortest bar is still a bar.
  const lo = 10 ** Math.floor(Math.log10(Math.min(...lows) / 2));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...highs)) + 1e-9);
  const x = (v: number) =>
    left + ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * plotW;
  const bottom = height - 26;
  for (let v = lo; v <= hi * 1.0001; v *= 10) {
    const px = x(v).toFixed(1);
    out.push(`<line x1="${px}" y1="${top}" x2="${px}" y2="${bottom}" stroke="#ddd"/>`);
    out.push(`<text x="${px}" y="${top - 5}" text-anchor="middle" fill="#555">${decade(v)}</text>`);
    out.push(`<text x="${px}" y="${bottom + 14}" text-anchor="middle" fill="#555">${decade(v)}</text>`);
  }
  const colour = new Map<string, string>();
  const colourOf = (r: BenchResult) => {
    if (!colour.has(r.contender)) colour.set(r.contender, PALETTE[colour.size % PALETTE.length]);
    return colour.get(r.contender)!;
  };
  let y = top;
  groups.forEach((g, gi) => {
    out.push(
      `<text x="8" y="${y + 16}" font-weight="bold">${xml(`${g.w.id}: ${g.w.title} (${fmtSize(g.w.size)})`)}</text>`,
    );
    y += titleH;
    g.bars.forEach(({ r, spread, label }, bi) => {
      const lines = rows[gi][bi];
      const h = rowH(lines.length) - gap;
      const mid = y + h / 2;
      const bad = r.status !== 'ok';
      const w = Math.max(1, x(spread.median) - left);
      const x0 = x(Math.max(lo, spread.min));
      const x1 = x(spread.max);
      const tip = `${label}: ${fmtNs(spread.median)} per cosine (${fmtNs(spread.min)} - ${fmtNs(spread.max)})${bad ? ' WRONG' : ''}`;
      out.push(
        `<text x="${left - 8}" y="${(mid - ((lines.length - 1) * 14) / 2 + 4).toFixed(1)}" text-anchor="end">${lines
          .map((l, i) => `<tspan x="${left - 8}" dy="${i === 0 ? 0 : 14}">${xml(l)}</tspan>`)
          .join('')}</text>`,
        `<rect class="bar" x="${left}" y="${(mid - barH / 2).toFixed(1)}" width="${w.toFixed(1)}" height="${barH}" fill="${bad ? RED : colourOf(r)}"><title>${xml(tip)}</title></rect>`,
        `<g class="spread" stroke="#333" stroke-width="1.2"><line x1="${x0.toFixed(1)}" y1="${mid.toFixed(1)}" x2="${x1.toFixed(1)}" y2="${mid.toFixed(1)}"/>` +
          `<line x1="${x0.toFixed(1)}" y1="${(mid - 4).toFixed(1)}" x2="${x0.toFixed(1)}" y2="${(mid + 4).toFixed(1)}"/>` +
          `<line x1="${x1.toFixed(1)}" y1="${(mid - 4).toFixed(1)}" x2="${x1.toFixed(1)}" y2="${(mid + 4).toFixed(1)}"/></g>`,
        `<text x="${(Math.max(left + w, x1) + 6).toFixed(1)}" y="${(mid + 4).toFixed(1)}" fill="${bad ? RED : '#333'}">${xml(fmtNs(spread.median))}${bad ? ' WRONG' : ''}</text>`,
      );
      y += h + gap;
    });
    y += 6;
  });
  out.push('</svg>');
  return out.join('\n');
}
