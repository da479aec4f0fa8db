import type { BenchReport } from '../types.js';

/** The report as JSON. Infinite errors (unreadable answers) become `null`, as JSON has no Infinity. */
export function toJson(report: BenchReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

/** Reads a report written by {@link toJson}, checking it is one. */
export function parseReport(text: string, source = 'input'): BenchReport {
  const r = JSON.parse(text) as BenchReport;
  if (r?.schema !== 'cosinekit-bench/1' || !Array.isArray(r.results)) {
    throw new Error(`${source} is not a cosinekit-bench report (schema cosinekit-bench/1)`);
  }
  return r;
}
