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
    // Figures that contradict each other (a hand-edited report: 1e308 ns a pair beside a median of
    // 8 us compared as "same", 0 ns printed as "ok").
    const t = x.timing;
    if (t && !(t.min <= t.q1 && t.q1 <= t.median && t.median <= t.q3 && t.q3 <= t.max))
      throw new Error(`${at}.timing is not ordered min <= q1 <= median <= q3 <= max`);
    if (x.nsPerPair !== undefined && t) {
      const want = (t.median * 1e6) / (size.q as number) / (size.n as number);
      if (!(Math.abs(x.nsPerPair - want) <= 1e-6 * want))
        throw new Error(`${at}.nsPerPair is ${x.nsPerPair}, but its timing's median gives ${want} ns a pair`);
    }
    if (x.status === 'ok' && x.nsPerPair === 0) throw new Error(`${at}.nsPerPair is 0 for a result that ran`);
  });
  // One figure per workload, contender and method: a second row of one was compared as either.
  const seen = new Set<string>();
  r.results.forEach((x, i) => {
    const key = JSON.stringify([x.workload, x.contender, x.method]);
    if (seen.has(key))
      throw new Error(`${source}: results[${i}] repeats ${x.workload} / ${x.contender} / ${x.method}`);
    seen.add(key);
  });
  return r;
}

const isCount = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 1;
