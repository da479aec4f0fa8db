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
  const [scale, unit] = units.find(([u]) => ns >= u) ?? [1, 'ns'];
  return `${Math.round(ns / scale)} ${unit}`;
}

/**
 * A bar chart of the results, written by hand (no charting library is installed): one group of bars
 * per workload, each bar the median time per cosine (time per call / (Q x N)), so figures measured on
 * a slice stay comparable. The axis is logarithmic because one pair and a 2.5-million-cosine matrix
 * differ by orders of magnitude. Wrong results are drawn in red.
 */
export function renderSvg(report: BenchReport): string {
  const groups = report.workloads
    .map((w) => ({
      w,
      bars: report.results.filter((r) => r.workload === w.id && r.nsPerPair !== undefined && r.nsPerPair > 0),
    }))
    .filter((g) => g.bars.length > 0);
  const values = groups.flatMap((g) => g.bars.map((b) => b.nsPerPair!));
  const width = 960;
  const left = 330;
  const right = 110;
  const barH = 16;
  const gap = 4;
  const titleH = 26;
  const top = 50;
  const plotW = width - left - right;
  const height = top + groups.reduce((h, g) => h + titleH + g.bars.length * (barH + gap) + 10, 0) + 40;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">CosineKit benchmark: time per cosine (log scale, lower is better)</text>`,
    `<text x="${width / 2}" y="37" text-anchor="middle" fill="#555">${xml(`${report.environment.runtime}; ${report.environment.cpu}; ${report.startedAt}`)}</text>`,
  ];
  if (values.length === 0) {
    out.push(`<text x="${width / 2}" y="${top + 20}" text-anchor="middle">No timed results.</text></svg>`);
    return out.join('\n');
  }
  const lo = 10 ** Math.floor(Math.log10(Math.min(...values)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...values)) + 1e-9);
  const x = (v: number) =>
    left + ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * plotW;
  const bottom = height - 30;
  for (let v = lo; v <= hi * 1.0001; v *= 10) {
    const px = x(v).toFixed(1);
    out.push(`<line x1="${px}" y1="${top}" x2="${px}" y2="${bottom}" stroke="#ddd"/>`);
    out.push(`<text x="${px}" y="${bottom + 14}" text-anchor="middle" fill="#555">${decade(v)}</text>`);
  }
  const colour = new Map<string, string>();
  const colourOf = (r: BenchResult) => {
    if (!colour.has(r.contender)) colour.set(r.contender, PALETTE[colour.size % PALETTE.length]);
    return colour.get(r.contender)!;
  };
  let y = top;
  for (const g of groups) {
    out.push(
      `<text x="8" y="${y + 17}" font-weight="bold">${xml(`${g.w.id}: ${g.w.title} (${fmtSize(g.w.size)})`)}</text>`,
    );
    y += titleH;
    for (const r of g.bars) {
      const bad = r.status !== 'ok';
      const label = `${r.contender} · ${r.method}${r.shrunk ? ` [${fmtSize(r.size)}]` : ''}`;
      const w = Math.max(1, x(r.nsPerPair!) - left);
      out.push(
        `<text x="${left - 6}" y="${y + barH - 4}" text-anchor="end">${xml(label.length > 52 ? `${label.slice(0, 51)}…` : label)}</text>`,
        `<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${bad ? RED : colourOf(r)}"><title>${xml(`${label}: ${fmtNs(r.nsPerPair!)} per cosine${bad ? ' (WRONG)' : ''}`)}</title></rect>`,
        `<text x="${(left + w + 4).toFixed(1)}" y="${y + barH - 4}" fill="${bad ? RED : '#333'}">${xml(fmtNs(r.nsPerPair!))}${bad ? ' WRONG' : ''}</text>`,
      );
      y += barH + gap;
    }
    y += 10;
  }
  out.push('</svg>');
  return out.join('\n');
}
