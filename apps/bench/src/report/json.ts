import type { BenchReport } from '../types.js';

/** The report as JSON. Infinite errors (unreadable answers) become `null`, as JSON has no Infinity. */
export function toJson(report: BenchReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

/** Reads a report written by {@link toJson}, checking it is one. */
export function parseReport(text: string, source = 'input'): BenchReport {
  let r: BenchReport;
  try {
    r = JSON.parse(text) as BenchReport;
  } catch (err) {
    throw new Error(`${source} is not JSON: ${(err as Error).message}`);
  }
  if (r?.schema !== 'cosinekit-bench/1' || !Array.isArray(r.results)) {
    throw new Error(`${source} is not a cosinekit-bench report (schema cosinekit-bench/1)`);
  }
  // The fields a comparison reads, checked: a hand-edited or truncated report printed NaN, a
  // negative time or "undefined" as if they were figures.
  if (typeof r.environment !== 'object' || r.environment === null)
    throw new Error(`${source} has no environment object`);
  r.results.forEach((x, i) => {
    const at = `${source}: results[${i}]`;
    if (typeof x !== 'object' || x === null) throw new Error(`${at} is not a result object`);
    for (const k of ['workload', 'contender', 'method', 'status'] as const)
      if (typeof x[k] !== 'string') throw new Error(`${at}.${k} is missing or not a string`);
    const size = x.size as unknown as Record<string, unknown> | undefined;
    if (typeof size !== 'object' || size === null || !['q', 'n', 'd'].every((k) => isCount(size[k])))
      throw new Error(`${at}.size must hold whole numbers q, n and d`);
    const numbers: [string, unknown][] = [
      ['nsPerPair', x.nsPerPair],
      ['gflops', x.gflops],
      ['speedup', x.speedup],
      ['msPerQuery', x.msPerQuery],
      ['setupMs', x.setupMs],
      ...(x.timing
        ? (['median', 'min', 'max', 'q1', 'q3'] as const).map(
            (k) => [`timing.${k}`, x.timing?.[k]] as [string, unknown],
          )
        : []),
    ];
    for (const [k, v] of numbers)
      if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v) && v >= 0))
        throw new Error(`${at}.${k} is ${JSON.stringify(v) ?? String(v)}, not a number >= 0`);
  });
  return r;
}

const isCount = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 1;
