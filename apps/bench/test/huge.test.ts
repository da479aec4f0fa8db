import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { describe, expect, it } from 'vitest';
import { type Io, main } from '../src/cli.js';
import { parseReport } from '../src/report/json.js';

const dir = mkdtempSync(join(tmpdir(), 'cosinekit-bench-huge-'));

describe('huge preset', () => {
  it('runs scaled to 20,000 rows over forced small wasm instances: int8 bounds, recall, memory per instance', async () => {
    const lines: string[] = [];
    const io: Io = { out: (t) => lines.push(t), err: (t) => lines.push(t), progress: false };
    const json = join(dir, 'huge.json');
    // 20,000 x 384 int8 rows (388 B each with the scale) in ~115 segments, 2 MB per wasm instance: 4 instances.
    const code = await main(
      [
        '-w',
        'huge',
        '-b',
        'wasm@1',
        '--peers',
        'naive',
        '--scale',
        '0.001',
        '--shard-bytes',
        '2000000',
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
    expect(report.workloads[0]).toMatchObject({ id: 'huge', size: { q: 8, n: 20_000, d: 384, k: 10 } });
    const wasm = report.results.filter((r) => r.contender === 'wasm@1');
    expect(wasm.map((r) => r.size.q)).toEqual([1, 8]);
    for (const r of wasm) {
      expect(r.status, r.note).toBe('ok');
      expect(r.method).toMatch(/int8 scores over [4-9] wasm instances/);
      // Every score within its row's int8 bound of float64, and the top-10 right up to twice the bound.
      expect(r.accuracy!.ok).toBe(true);
      expect(r.accuracy!.recall).toBeGreaterThanOrEqual(0.99);
      expect(r.accuracy!.maxAbsError).toBeLessThanOrEqual(r.accuracy!.tolerance);
      expect(r.accuracy!.tolerance).toBeLessThan(0.05);
      const m = r.memory!;
      expect(m.shards!.length).toBeGreaterThanOrEqual(4);
      for (const s of m.shards!) expect(s.usedBytes).toBeLessThanOrEqual(2_000_000);
      // The int8 codes and scales: 388 B a row, spread over the instances.
      const used = m.shards!.reduce((a, s) => a + s.usedBytes, 0);
      expect(used).toBeGreaterThanOrEqual(20_000 * 388);
      expect(m.corpusBytes).toBe(used);
      expect(m.wasmAfter).toBe(m.shards!.reduce((a, s) => a + s.memoryBytes, 0));
      expect(m.rssPeak).toBeGreaterThanOrEqual(m.rssAfter!);
      expect(m.external).toBeGreaterThan(0);
      expect(m.arrayBuffers).toBeGreaterThan(0);
    }
    expect(wasm[0].note).toMatch(
      /peak .*; external .*, arrayBuffers .*; wasm memory per instance (\S+ MB, ){3}/,
    );
    expect(report.results.find((x) => x.contender === 'naive')).toMatchObject({ status: 'skipped' });
    expect(report.contenders.find((c) => c.id === 'wasm@1')?.leak).toBeUndefined();
  }, 120_000);
});
