import { stripVTControlCharacters } from 'node:util';
import { describe, expect, it } from 'vitest';
import { breakEven, type CrossoverReport, type CrossoverRow } from '../src/crossover.js';
import { renderCrossover } from '../src/report/crossover.js';
import { fmtMs } from '../src/report/format.js';
import { summarize } from '../src/stats.js';

const row = (storage: CrossoverRow['storage'], n: number, one: number, many: number): CrossoverRow => ({
  storage,
  m: 1,
  n,
  d: 384,
  ops: 2 * n * 384,
  one: summarize([one], 1),
  many: summarize([many], 1),
  speedup: one / many,
  sharedByDefault: 2 * n * 384 >= 2 * 1024 * 1024,
});

describe('crossover', () => {
  it('finds where sharing starts to pay for good, not at a lucky small size', () => {
    const rows = [
      row('float32', 256, 0.01, 0.009), // a lucky win below the crossover
      row('float32', 1024, 0.037, 0.04),
      row('float32', 2048, 0.111, 0.075),
      row('float32', 8192, 0.4, 0.22),
      row('int8', 1024, 0.03, 0.033),
    ];
    expect(breakEven(rows, 'float32')).toBe(2 * 2048 * 384);
    expect(breakEven(rows, 'int8')).toBeUndefined();
  });

  it('renders every size with both times and the default choice', () => {
    const report: CrossoverReport = {
      schema: 'cosinekit-bench-crossover/1',
      startedAt: '2026-12-02T00:00:00.000Z',
      variant: 'simd',
      threads: 2,
      defaults: { threadMinFlops: 2 * 1024 * 1024, threadMinFlopsI8: 4 * 1024 * 1024 },
      rows: [row('float32', 1024, 0.036, 0.04), row('float32', 8192, 0.4, 0.22)],
      breakEven: { float32: 2 * 8192 * 384 },
    };
    const text = stripVTControlCharacters(renderCrossover(report));
    expect(text).toMatch(/1 x 1024 x 384.*36\.0 us.*40\.0 us.*0\.90x.*alone/);
    expect(text).toMatch(/1 x 8192 x 384.*400 us.*220 us.*1\.82x.*shared/);
    expect(text).toContain('Sharing pays from: float32 6.29 M ops, int8 not within the sizes measured.');
  });

  it('never prints a time as 1.00e+3 of a smaller unit', () => {
    expect(fmtMs(0.9998)).toBe('1.00 ms');
    expect(fmtMs(999.8)).toBe('1.00 s');
    expect(fmtMs(0.0009999)).toBe('1.00 us');
  });
});
