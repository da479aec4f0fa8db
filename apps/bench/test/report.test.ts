import { describe, expect, it } from 'vitest';
import { compareReports } from '../src/report/compare.js';
import { renderMarkdown } from '../src/report/markdown.js';
import { renderSvg } from '../src/report/svg.js';
import { renderTable } from '../src/report/table.js';
import { checkTargets } from '../src/report/targets.js';
import { applySpeedups } from '../src/run.js';
import type { BenchReport, BenchResult } from '../src/types.js';

const size = { q: 2, n: 100, d: 8 };
const result = (contender: string, nsPerPair: number, extra: Partial<BenchResult> = {}): BenchResult => ({
  workload: 'custom',
  contender,
  role: contender === 'naive' ? 'peer' : 'backend',
  method: 'm',
  size,
  shrunk: false,
  status: 'ok',
  nsPerPair,
  gflops: 1,
  timing: {
    median: (nsPerPair * 200) / 1e6,
    min: 0,
    max: 0,
    q1: 0,
    q3: 0,
    reps: 3,
    callsPerRep: 1,
    samples: [],
  },
  ...extra,
});

const report = (results: BenchResult[]): BenchReport => ({
  schema: 'cosinekit-bench/1',
  startedAt: '2026-11-28T00:00:00.000Z',
  durationSeconds: 1,
  environment: { runtime: 'test', platform: 'test', cpu: 'test <cpu>', cores: 1, wasmSimd: 'simd' },
  settings: {
    workloads: ['custom'],
    backends: [],
    peers: [],
    reps: 3,
    warmup: 1,
    budgetSeconds: 1,
    baseline: 'naive',
    tolerance: 1e-4,
    seed: 1,
  },
  workloads: [{ id: 'custom', title: '2 x 100 x 8', kind: 'matrix', size, data: 'random' }],
  contenders: [],
  results: applySpeedups(results, 'naive'),
  ok: results.every((r) => r.status === 'ok'),
});

describe('reports', () => {
  it('computes speed-ups per pair against the baseline', () => {
    const r = report([result('naive', 100), result('fast', 10)]);
    expect(r.results.map((x) => x.speedup)).toEqual([1, 10]);
  });

  it('draws an SVG with one bar per figure, wrong ones in red, text escaped', () => {
    const svg = renderSvg(report([result('naive', 100), result('wrong<b>', 10, { status: 'wrong' })]));
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/<rect x=/g)).toHaveLength(2);
    expect(svg).toContain('#d62728');
    expect(svg).toContain('wrong&lt;b&gt;');
    expect(svg).not.toContain('<cpu>');
  });

  it('fits the terminal table to a narrow terminal and says which columns it left out', () => {
    const r = report([result('naive', 100), result('wasm', 10)]);
    expect(renderTable(r)).not.toContain('Not shown');
    const narrow = renderTable(r, 100);
    expect(narrow).toContain('Not shown at this terminal width: Ran by, Spread (min-max)');
    expect(narrow).toContain('wasm');
  });

  it('writes Markdown that marks a failed run', () => {
    const md = renderMarkdown(
      report([result('naive', 100), result('bad', 10, { status: 'wrong', note: 'WRONG' })]),
    );
    expect(md).toContain('| full | bad |');
    expect(md).toContain('**FAILED');
  });

  it('judges the targets it has figures for, per pair, against the textbook loop', () => {
    const r = report([
      result('naive', 100, { method: 'textbook loop: a[i] * b[i], norms, divide' }),
      result('naive', 60, { method: 'tuned loop: each element read once' }),
      result('core', 50),
    ]);
    const targets = checkTargets({
      ...r,
      workloads: [
        { id: 'A', title: 'one pair', kind: 'pair', size: { q: 1, n: 1, d: 1536 }, data: 'random' },
      ],
      results: r.results.map((x) => ({ ...x, workload: 'A' })),
    });
    expect(targets.find((t) => t.target.startsWith('A: core cosine() >= 1.5x'))).toMatchObject({
      measured: '2.00x',
      met: true,
    });
    // The tuned loop is shown beside it, not judged.
    expect(targets.find((t) => t.target.includes('tuned loop'))).toMatchObject({ measured: '1.20x' });
    expect(targets.find((t) => t.target.includes('tuned loop'))!.met).toBeUndefined();
    // A run without workload A has nothing to say about A's targets.
    expect(checkTargets(r).find((t) => t.target.startsWith('A: core'))).toBeUndefined();
  });

  it('judges the reference cosine matrix against the naive loop, per pair so slices compare', () => {
    const c = { q: 256, n: 10_000, d: 768 };
    const r = report([
      result('naive', 100, { method: 'textbook loop per pair', size: { ...c, q: 13 }, shrunk: true }),
      result('reference', 25, { method: 'corpus.similarity', size: { ...c, q: 60 }, shrunk: true }),
      result('reference', 40, { method: 'cosineMatrix (not resident)', size: { ...c, q: 60 }, shrunk: true }),
    ]);
    const targets = checkTargets({
      ...r,
      workloads: [{ id: 'C', title: 'matrix', kind: 'matrix', size: c, data: 'random' }],
      results: r.results.map((x) => ({ ...x, workload: 'C' })),
    });
    expect(targets.find((t) => t.target.startsWith('C: reference corpus.similarity'))).toMatchObject({
      measured: '4.00x',
      met: true,
    });
    expect(targets.find((t) => t.target.startsWith('C: reference cosineMatrix'))).toMatchObject({
      measured: '2.50x',
      met: false,
    });
  });

  it('says why a target is not judged: a scaled run, a contender not run, a wrong result', () => {
    const scaledC = { q: 13, n: 500, d: 768 };
    const r = report([
      result('naive', 100, { method: 'textbook loop per pair', size: scaledC }),
      result('reference', 25, { method: 'corpus.similarity', size: scaledC }),
    ]);
    const contenders = ['naive', 'reference'].map((id) => ({
      id,
      role: id === 'naive' ? ('peer' as const) : ('backend' as const),
      available: true,
    }));
    const scaled = checkTargets({
      ...r,
      contenders,
      workloads: [{ id: 'C', title: 'matrix, scaled x0.05', kind: 'matrix', size: scaledC, data: 'random' }],
      results: r.results.map((x) => ({ ...x, workload: 'C' })),
    }).find((t) => t.target.startsWith('C: reference corpus.similarity'))!;
    // Both ran: the reason is the scale, not a missing contender.
    expect(scaled.met).toBeUndefined();
    expect(scaled.measured).toBe(
      'not judged: C ran scaled to 13 x 500 x 768: targets are judged at full size only',
    );
    const full = { q: 256, n: 10_000, d: 768 };
    const base = {
      ...r,
      workloads: [{ id: 'C', title: 'matrix', kind: 'matrix' as const, size: full, data: 'random' as const }],
    };
    const withoutNaive = checkTargets({
      ...base,
      contenders: [contenders[1]],
      results: [result('reference', 25, { workload: 'C', method: 'corpus.similarity', size: full })],
    }).find((t) => t.target.startsWith('C: reference corpus.similarity'))!;
    expect(withoutNaive.measured).toBe('not judged: naive not in this run');
    const wrong = checkTargets({
      ...base,
      contenders,
      results: [
        result('naive', 100, { workload: 'C', method: 'textbook loop per pair', size: full }),
        result('reference', 25, { workload: 'C', method: 'corpus.similarity', size: full, status: 'wrong' }),
      ],
    }).find((t) => t.target.startsWith('C: reference corpus.similarity'))!;
    expect(wrong.measured).toBe('not judged: reference corpus.similarity on C: wrong');
    for (const text of [renderTable(base), renderMarkdown(base)]) expect(text).not.toMatch(/DESIGN/);
  });

  it('compares two runs figure by figure', () => {
    const before = report([result('naive', 100), result('wasm', 10)]);
    const after = report([result('naive', 100), result('wasm', 5), result('gpujs', 50)]);
    const changes = compareReports(before, after);
    expect(changes.find((c) => c.key.includes('wasm'))!.speedup).toBe(2);
    expect(changes.find((c) => c.key.includes('gpujs'))!.before).toBeUndefined();
  });
});
