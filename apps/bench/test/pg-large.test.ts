import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULTS } from '../src/bench.js';
import { type Io, main } from '../src/cli.js';
import { parseReport } from '../src/report/json.js';
import { PRESETS, scaleWorkload } from '../src/workloads.js';

describe('the opt-in pg-large preset', () => {
  it('is B at a million rows, not run by default, and scales its N', () => {
    expect(PRESETS['pg-large'].size).toEqual({ q: 1, n: 1_000_000, d: 384, k: 10 });
    expect(DEFAULTS.workloads).not.toContain('pg-large');
    expect(scaleWorkload(PRESETS['pg-large'], 0.002).size).toEqual({ q: 1, n: 2000, d: 384, k: 10 });
  });

  it('runs pgvector against wasm from the command line, every result correct', {
    timeout: 240_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cosinekit-pg-large-'));
    const json = join(dir, 'pg-large.json');
    const lines: string[] = [];
    const io: Io = { out: (t) => lines.push(t), err: (t) => lines.push(t), progress: false };
    const code = await main(
      ['-w', 'pg-large', '--scale', '0.002', '-b', 'pgvector,wasm', '-p', 'naive', '--reps', '2'].concat([
        '--budget',
        '0.5',
        '--json',
        json,
        '--no-svg',
      ]),
      io,
    );
    expect(code, lines.join('\n')).toBe(0);
    const report = parseReport(readFileSync(json, 'utf8'));
    expect(report.workloads.map((w) => w.id)).toEqual(['pg-large']);
    expect(report.workloads[0].size.n).toBe(2000);
    for (const id of ['pgvector', 'wasm']) {
      const mine = report.results.filter((r) => r.contender === id);
      expect(mine.length, id).toBeGreaterThan(0);
      for (const r of mine) {
        expect(r.status, `${id} ${r.method}: ${r.note}`).toBe('ok');
        expect(r.accuracy?.ok, `${id} ${r.method}`).toBe(true);
        if (r.accuracy?.recall !== undefined) expect(r.accuracy.recall).toBe(1);
      }
    }
  });
});
