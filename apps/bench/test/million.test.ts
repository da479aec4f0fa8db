import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { describe, expect, it } from 'vitest';
import { type Io, main } from '../src/cli.js';
import { generateRows, MILLION_EXTRA_LIMIT, MILLION_NOT_RUN } from '../src/million.js';
import { parseReport } from '../src/report/json.js';
import { renderMarkdown } from '../src/report/markdown.js';

const dir = mkdtempSync(join(tmpdir(), 'cosinekit-bench-million-'));

describe('million preset', () => {
  it('generates the same rows whatever the chunking', () => {
    const d = 16;
    const all = generateRows(7, d, 0, 10, new Float32Array(10 * d));
    const part = generateRows(7, d, 4, 3, new Float32Array(3 * d));
    expect([...part]).toEqual([...all.subarray(4 * d, 7 * d)]);
    expect([...generateRows(8, d, 4, 3, new Float32Array(3 * d))]).not.toEqual([...part]);
    for (const v of all) expect(v >= -1 && v < 1).toBe(true);
  });

  it('runs at 20,000 rows through the CLI: memory figures, recall, and "not run" for the others', async () => {
    const lines: string[] = [];
    const io: Io = { out: (t) => lines.push(t), err: (t) => lines.push(t), progress: false };
    const json = join(dir, 'million.json');
    const code = await main(
      [
        '-w',
        'million',
        '-b',
        'wasm,reference',
        '--peers',
        'naive',
        '--scale',
        '0.02',
        '--reps',
        '3',
        '--budget',
        '0.5',
        '--json',
        json,
        '--no-svg',
      ],
      io,
    );
    const text = stripVTControlCharacters(lines.join('\n'));
    expect(code, text).toBe(0);
    const report = parseReport(readFileSync(json, 'utf8'));
    expect(report.ok).toBe(true);
    expect(report.workloads[0]).toMatchObject({ id: 'million', size: { q: 16, n: 20_000, d: 384, k: 10 } });

    const wasm = report.results.filter((r) => r.contender === 'wasm');
    expect(wasm.map((r) => r.size.q)).toEqual([1, 16]);
    for (const r of wasm) {
      expect(r.status, r.note).toBe('ok');
      expect(r.ranBy).toBe('wasm');
      expect(r.timing!.median).toBeGreaterThan(0);
      expect(r.msPerQuery).toBeCloseTo(r.timing!.median / r.size.q, 9);
      expect(r.setupMs).toBeGreaterThan(0);
      expect(r.accuracy!.ok).toBe(true);
      expect(r.accuracy!.recall).toBeGreaterThanOrEqual(0.99);
      expect(r.accuracy!.maxAbsError).toBeLessThanOrEqual(1e-4);
      const m = r.memory!;
      // int8 rows (384 B each) plus the float32 rows kept for re-ranking (1,536 B each).
      expect(m.corpusBytes).toBeGreaterThanOrEqual(20_000 * 384);
      expect(m.wasmAfter).toBeGreaterThanOrEqual(m.wasmBefore);
      expect(m.wasmAfter).toBeGreaterThanOrEqual(m.corpusBytes);
      expect(m.searchPeakExtra).toBeGreaterThanOrEqual(0);
      expect(m.searchPeakExtra).toBeLessThan(MILLION_EXTRA_LIMIT);
      expect(m.wasmGrowthDuringSearch).toBe(0);
      expect(m.buildMs).toBeGreaterThan(0);
      expect(m.rssBefore).toBeGreaterThan(0);
      expect(m.rssAfter).toBeGreaterThan(0);
    }
    expect(wasm[0].accuracy!.checkedRows).toBe(1);
    expect(wasm[1].accuracy!.checkedRows).toBe(2);

    for (const id of ['reference', 'naive']) {
      const r = report.results.filter((x) => x.contender === id);
      expect(r).toHaveLength(1);
      expect(r[0]).toMatchObject({ status: 'skipped', note: MILLION_NOT_RUN });
    }
    expect(report.contenders.find((c) => c.id === 'wasm')?.leak).toBeUndefined();

    expect(text).toContain('extra memory during search');
    expect(text).toContain('not run: million-row preset is wasm-only');
    expect(text).toMatch(
      /million: wasm extra memory during search O\(Q x k \+ tile\).*not judged: million ran scaled/,
    );
    const md = renderMarkdown(report);
    expect(md).toContain('## million:');
    expect(md).toContain('extra memory during search');
  });
});
