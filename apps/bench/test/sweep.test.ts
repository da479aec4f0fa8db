import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Io, main } from '../src/cli.js';
import { nodeEnvironment } from '../src/env.js';
import {
  cached,
  limitShare,
  limitsFor,
  measureRoofline,
  mergeRooflines,
  type Roofline,
  shareCell,
} from '../src/roofline.js';
import {
  cellBytes,
  judgeCell,
  measureResultTouch,
  parseGrid,
  rejudge,
  renderSweep,
  runSweep,
  type SweepCell,
  type SweepFigure,
  type SweepReport,
  sweepContenderIds,
  sweepGrid,
} from '../src/sweep.js';

const load = (spec: string) => import(spec) as Promise<Record<string, unknown>>;
const settings = { reps: 3, warmup: 1, budgetSeconds: 0.2, tolerance: 1e-4, seed: 7 };

describe('the sweep grid', () => {
  it('is the issue grid, N scaled, axes overridable', () => {
    expect(sweepGrid()).toEqual({
      q: [1, 8, 64, 1000],
      n: [10_000, 200_000, 1_000_000],
      d: [96, 384, 768, 1536, 3072],
    });
    expect(sweepGrid({}, 0.01).n).toEqual([100, 2_000, 10_000]);
    expect(sweepGrid({ q: [1], d: [7] }, 1e-6)).toEqual({ q: [1], n: [10], d: [7] });
    expect(parseGrid('q=1,64;n=10_000 d=96')).toEqual({ q: [1, 64], n: [10_000], d: [96] });
    expect(() => parseGrid('x=1')).toThrow(/not like/);
    expect(() => parseGrid('q=0')).toThrow(/positive integers/);
    // An empty grid once ran the whole one.
    for (const empty of ['', ' ', ';;']) expect(() => parseGrid(empty)).toThrow(/grid is empty/);
  });

  it('runs wasm on 1, 2 and all threads beside tfjs-wasm fast path', () => {
    expect(sweepContenderIds(1)).toEqual(['wasm@1', 'tfjs-wasm:fast']);
    expect(sweepContenderIds(2)).toEqual(['wasm@1', 'wasm@2', 'tfjs-wasm:fast']);
    expect(sweepContenderIds(8)).toEqual(['wasm@1', 'wasm@2', 'wasm@8', 'tfjs-wasm:fast']);
  });

  it('sizes each cell: 1M x 3072 needs far more than 4 GiB of wasm memory', () => {
    const big = cellBytes(1, 1_000_000, 3072);
    expect(big.wasm).toBeGreaterThan(12e9);
    // d = 97 is stored padded to 100 floats; a matrix cell holds its Q x N scores on the host.
    const small = cellBytes(64, 1000, 97);
    expect(small.wasm).toBeGreaterThanOrEqual(1000 * 100 * 4);
    expect(small.host).toBeGreaterThanOrEqual(1000 * 97 * 4 + 2 * 64 * 1000 * 4);
  });
});

/** A cell as runSweep makes it (a search for Q <= 8, a product otherwise), before it is judged. */
function cellOf(q: number, n: number, d: number, figures: SweepFigure[], extra: Partial<SweepCell> = {}) {
  return { q, n, d, op: q <= 8 ? ('search' as const) : ('matrix' as const), seconds: 0, figures, ...extra };
}

/** A figure as runSweep makes it, from a median in ms, against `roof`. */
function figure(
  contender: string,
  threads: number,
  q: number,
  n: number,
  d: number,
  ms: number,
  roof: Roofline,
) {
  return {
    contender,
    threads,
    method: 'm',
    status: 'ok',
    size: { q, n, d },
    shrunk: false,
    nsPerPair: (ms * 1e6) / (q * n),
    limit: limitShare({ q, n, d }, ms / 1000, limitsFor(roof, threads), threads),
  } satisfies SweepFigure;
}

describe('judging a cell', () => {
  const fig = (best: number) => ({ best, median: best, samples: [best] });
  const roof: Roofline = {
    threads: 2,
    peakMulAdd: { one: fig(10), all: fig(20) },
    bandwidth: { one: fig(10), all: fig(16) },
    bufferBytes: 1,
    durationSeconds: 0,
    notes: [],
  };

  it('few queries: share of 1-thread bandwidth and tfjs fast path, with how much they missed or met by', () => {
    // 1 x 100,000 x 100: 40 MB of corpus, 4 ms at 10 GB/s; measured 5 ms = 80%.
    const cell = cellOf(1, 100_000, 100, [
      figure('wasm@1', 1, 1, 100_000, 100, 5, roof),
      figure('tfjs-wasm:fast', 1, 1, 100_000, 100, 4, roof),
    ]);
    const v = judgeCell(cell);
    expect(v.map((x) => x.target)).toEqual(['fewBandwidth', 'beatsTfjs']);
    expect(v[0].value).toBeCloseTo(0.8, 12);
    expect(v[0].met).toBe(true);
    expect(v[1].value).toBeCloseTo(0.8, 12);
    expect(v[1].met).toBe(false);
    expect(v[1].margin).toBe('missed by 0.20x');
    const slower = judgeCell({ ...cell, figures: [figure('wasm@1', 1, 1, 100_000, 100, 8, roof)] });
    expect(slower).toHaveLength(1);
    expect(slower[0]).toMatchObject({ met: false, margin: 'missed by 30 pts', text: 'bw 50%' });
    // 79.6% of bandwidth read "bw 80%", "missed by 0 pts"; tfjs 0.996x wasm's time read "missed
    // by 0.00x"; tfjs exactly as fast read "met by 0.00x" beside "missed".
    const close = judgeCell({
      ...cell,
      figures: [figure('wasm@1', 1, 1, 100_000, 100, 4 / 0.796, roof)],
      paired: { rounds: 3, vsTfjs: 0.996 },
    });
    expect(close[0]).toMatchObject({ met: false, text: 'bw 79.6%', margin: 'missed by 0.4 pts' });
    expect(close[1]).toMatchObject({ met: false, text: 'vs tfjs 1.00x', margin: 'missed by 0.004x' });
    const level = judgeCell({ ...cell, figures: [], paired: { rounds: 3, vsTfjs: 1 } });
    expect(level[0]).toMatchObject({ met: false, margin: 'missed by 0.00x' });
    // A corpus of 4 MB stays in cache between calls and read faster than memory (shares of 105-226%
    // "bw" were counted as met): shown with "(cache)", judged on tfjs only.
    const small = cellOf(1, 10_000, 100, [
      figure('wasm@1', 1, 1, 10_000, 100, 0.2, roof),
      figure('tfjs-wasm:fast', 1, 1, 10_000, 100, 0.4, roof),
    ]);
    expect(judgeCell(small).map((x) => x.target)).toEqual(['beatsTfjs']);
    expect(shareCell(small.figures[0].limit!)).toBe('200% bw (cache)');
  });

  it('against a second roofline: every sample of both, each best the better one, shares and verdicts again', () => {
    const figs = (...samples: number[]) => ({
      best: Math.max(...samples),
      median: samples[0],
      samples,
    });
    // Measured in a slow spell: the 1-thread peak reads 8 where the machine does 10.
    const slow: Roofline = {
      ...roof,
      peakMulAdd: { one: figs(8, 7, 6), all: figs(20) },
      firstTouch: figs(0.3),
      notes: ['first'],
    };
    const later: Roofline = {
      ...roof,
      peakMulAdd: { one: figs(10, 9) },
      bandwidth: { one: figs(12), all: figs(10) },
      // After a run a new buffer may get memory already mapped: not what a fresh result pays.
      firstTouch: figs(7.5),
      durationSeconds: 2,
      notes: ['second'],
    };
    const m = mergeRooflines(slow, later);
    expect(m.peakMulAdd.one).toEqual({ best: 10, median: 8, samples: [8, 7, 6, 10, 9] });
    expect(m.peakMulAdd.all?.best).toBe(20);
    expect(m.bandwidth.one.best).toBe(12);
    expect(m.bandwidth.all?.best).toBe(16);
    expect(m.firstTouch?.best).toBe(0.3);
    expect(m.notes[0]).toBe('first');
    expect(m.notes[1]).toMatch(/measured twice, before the cells and after them \(2\.0 s\)/);
    // 8 x 10,000 x 100 in 2 ms: 100% of the slow peak (8 GFLOP/s), 80% of the merged one (10).
    const cell = cellOf(8, 10_000, 100, [figure('wasm@1', 1, 8, 10_000, 100, 2, slow)]);
    const first = { ...cell, verdicts: judgeCell(cell) };
    expect(first.verdicts[0]).toMatchObject({ text: 'peak 100% (compute-bound)', met: true });
    const again = rejudge(first, m, 0, () => false);
    expect(again.figures[0].limit?.share).toBeCloseTo(0.8, 12);
    expect(again.verdicts[0]).toMatchObject({ text: 'peak 80% (compute-bound)', met: true });
    expect(again.figures[0].nsPerPair).toBe(first.figures[0].nsPerPair);
    // At 2.5 ms it met the slow peak (80%) and misses the merged one (64%).
    const slower = cellOf(8, 10_000, 100, [figure('wasm@1', 1, 8, 10_000, 100, 2.5, slow)]);
    expect(judgeCell(slower)[0].met).toBe(true);
    expect(rejudge({ ...slower, verdicts: judgeCell(slower) }, m, 0, () => false).verdicts[0]).toMatchObject({
      met: false,
      text: 'peak 64% (compute-bound)',
    });
  });

  it('few queries that are compute-bound are held to the peak, not to a bandwidth no kernel reaches', () => {
    // 8 x 10,000 x 100: 16 MFLOP, 1.6 ms at 10 GFLOP/s; 4 MB, 0.4 ms at 10 GB/s: the peak binds.
    const at = (ms: number) =>
      judgeCell(cellOf(8, 10_000, 100, [figure('wasm@1', 1, 8, 10_000, 100, ms, roof)]));
    expect(at(2)[0]).toMatchObject({ target: 'fewBandwidth', met: true, text: 'peak 80% (compute-bound)' });
    expect(at(2)[0].value).toBeCloseTo(0.8, 12);
    expect(at(3.2)[0]).toMatchObject({
      met: false,
      margin: 'missed by 30 pts',
      text: 'peak 50% (compute-bound)',
    });
  });

  it('many queries, d >= 128: share of 1-thread peak and the second thread, above the threading threshold', () => {
    // 64 x 1000 x 128: 16.4 Mflop, 1.64 ms at 10 GFLOP/s; measured 2 ms = 82%; 2 threads in 1.25 ms = 1.6x.
    const cell = cellOf(64, 1000, 128, [
      figure('wasm@1', 1, 64, 1000, 128, 2, roof),
      figure('wasm@2', 2, 64, 1000, 128, 1.25, roof),
    ]);
    const v = judgeCell(cell, 2 ** 21);
    expect(v.map((x) => x.target)).toEqual(['manyPeak', 'secondThread']);
    expect(v[0].value).toBeCloseTo(0.8192, 12);
    expect(v[0]).toMatchObject({ met: true, margin: 'met by 17 pts' });
    expect(v[1].value).toBeCloseTo(1.6, 12);
    expect(v[1]).toMatchObject({ met: false, margin: 'missed by 0.20x' });
    // Below the threading threshold the second thread is not judged; d < 128 is judged on nothing.
    expect(judgeCell(cell, 1e9).map((x) => x.target)).toEqual(['manyPeak']);
    expect(judgeCell({ ...cell, d: 96 })).toEqual([]);
  });

  it('says how much of a missed product the first touch of its new result takes', () => {
    // 1000 x 10,000 x 128 in 625 ms: 41% of peak, 62.5 ns a pair. At 0.16 GB/s of first touch a
    // pair's 4 bytes take 25 ns: 40% of the call; the other 60% runs at 41% / 0.6 = 68% of peak.
    const cell = cellOf(1000, 10_000, 128, [figure('wasm@1', 1, 1000, 10_000, 128, 625, roof)]);
    const [v] = judgeCell(cell, 0, 0.16);
    expect(v).toMatchObject({ met: false, text: 'peak 41%' });
    expect(v.why).toBe(
      "the new 38.1 MB result's first touch is 40% of the call here, the rest runs at 68% of peak",
    );
    // No first-touch figure (an older report), or a met target: nothing to explain.
    expect(judgeCell(cell)[0].why).toBeUndefined();
    expect(
      judgeCell({ ...cell, figures: [figure('wasm@1', 1, 1000, 10_000, 128, 312.5, roof)] }, 0, 0.16)[0].why,
    ).toBeUndefined();
    // A result under 32 MiB may reuse memory the previous call freed: its cost is not known.
    const small = { ...cell, q: 64, n: 1000, figures: [figure('wasm@1', 1, 64, 1000, 128, 4, roof)] };
    expect(judgeCell(small, 0, 0.16)[0]).toMatchObject({ met: false, text: 'peak 41%' });
    expect(judgeCell(small, 0, 0.16)[0].why).toBeUndefined();
  });

  it('quotes the first touch the cell measured, whatever the size, in place of the estimate', () => {
    // 64 x 1000 x 128 in 4 ms (62.5 ns a pair); a new 64,000-float array faulted in in 1.6 ms:
    // 25 ns a float, 40% of the call.
    const small = cellOf(64, 1000, 128, [figure('wasm@1', 1, 64, 1000, 128, 4, roof)], {
      resultTouch: { floats: 64_000, ms: 1.6 },
    });
    expect(judgeCell(small, 0, 0.16)[0].why).toBe(
      "a new result's first touch (fresh pages, measured after the calls: 1.60 ms for 250.0 KB) is 40% of the call here, the rest runs at 68% of peak",
    );
    // Memory handed back by the allocator costs nothing to touch: then no reason is given, even
    // for a result the roofline's rate would have blamed.
    const big = cellOf(1000, 10_000, 128, [figure('wasm@1', 1, 1000, 10_000, 128, 625, roof)], {
      resultTouch: { floats: 1e7, ms: 0.5 },
    });
    expect(judgeCell(big, 0, 0.16)[0]).toMatchObject({ met: false, text: 'peak 41%' });
    expect(judgeCell(big, 0, 0.16)[0].why).toBeUndefined();
    // Fresh pages can cost more than the call paid (it got memory back from the allocator): at 82%
    // of peak (2 ms) a call cannot have spent 80% of its time faulting, so a missed second thread
    // (1.6 ms on two: 1.25x) is not put down to it.
    const fast = {
      ...small,
      figures: [figure('wasm@1', 1, 64, 1000, 128, 2, roof), figure('wasm@2', 2, 64, 1000, 128, 1.6, roof)],
    };
    const second = judgeCell(fast, 0, 0.16)[1];
    expect(second).toMatchObject({ target: 'secondThread', met: false, text: '2nd thread 1.25x' });
    expect(second.why).toBeUndefined();
  });

  it('measures what a new result costs beyond writing it', () => {
    const ms = measureResultTouch(1 << 20, 2);
    expect(Number.isFinite(ms)).toBe(true);
    expect(ms).toBeGreaterThanOrEqual(0);
  });

  it('says what speed-up a missed second thread would have if faulting in its result did not split', () => {
    // wasm@1 as above (the first touch 40% of its call), wasm@2 in 500 ms: 1.25x. With 40% that
    // does not split, two threads take 0.4 + 0.6 / 2 = 0.7 of the time: 1.43x at most.
    const cell = cellOf(1000, 10_000, 128, [
      figure('wasm@1', 1, 1000, 10_000, 128, 625, roof),
      figure('wasm@2', 2, 1000, 10_000, 128, 500, roof),
    ]);
    const second = judgeCell(cell, 0, 0.16)[1];
    expect(second).toMatchObject({ target: 'secondThread', met: false, text: '2nd thread 1.25x' });
    expect(second.why).toBe(
      "the new 38.1 MB result's first touch is 40% of the 1-thread call; if page faults did not split over threads, that alone would hold 2 threads to 1.43x",
    );
    expect(judgeCell(cell)[1].why).toBeUndefined();
  });

  it('says how much of a missed compute-bound search reading its corpus once takes', () => {
    // 8 x 100,000 x 100 in 32 ms: 50% of the 10 GFLOP/s peak; its 40 MB corpus read at 10 GB/s
    // takes 4 ms, 12.5% of the call; the rest runs at 50% / 0.875 = 57% of peak.
    const cell = cellOf(8, 100_000, 100, [figure('wasm@1', 1, 8, 100_000, 100, 32, roof)]);
    const [v] = judgeCell(cell);
    expect(v).toMatchObject({ target: 'fewBandwidth', met: false, text: 'peak 50% (compute-bound)' });
    expect(v.why).toBe(
      'reading its 38.1 MB corpus once at the 1-thread bandwidth takes 13% of the call, the rest runs at 57% of peak',
    );
    // A corpus of 4 MB may stay in cache from one call to the next: not put down to memory.
    const small = judgeCell({
      ...cell,
      n: 10_000,
      figures: [figure('wasm@1', 1, 8, 10_000, 100, 3.2, roof)],
    });
    expect(small[0]).toMatchObject({ met: false, text: 'peak 50% (compute-bound)' });
    expect(small[0].why).toBeUndefined();
    // Bandwidth-bound, the share is the figure itself: nothing more to say.
    const [bw] = judgeCell(cellOf(1, 100_000, 100, [figure('wasm@1', 1, 1, 100_000, 100, 8, roof)]));
    expect(bw).toMatchObject({ met: false, text: 'bw 50%' });
    expect(bw.why).toBeUndefined();
  });

  it('judges the head-to-head targets on the side-by-side ratios when the cell has them', () => {
    // Best-of times say wasm@1 is 0.8x tfjs and the second thread 1.6x; the rounds say otherwise.
    const few = cellOf(
      1,
      10_000,
      100,
      [
        figure('wasm@1', 1, 1, 10_000, 100, 0.5, roof),
        figure('tfjs-wasm:fast', 1, 1, 10_000, 100, 0.4, roof),
      ],
      { paired: { rounds: 7, vsTfjs: 1.3 } },
    );
    const beats = judgeCell(few).find((v) => v.target === 'beatsTfjs')!;
    expect(beats).toMatchObject({ value: 1.3, met: true, text: 'vs tfjs 1.30x' });
    const many = cellOf(
      64,
      1000,
      128,
      [figure('wasm@1', 1, 64, 1000, 128, 2, roof), figure('wasm@2', 2, 64, 1000, 128, 1.25, roof)],
      { paired: { rounds: 5, secondThread: 1.9 } },
    );
    expect(judgeCell(many, 2 ** 21).find((v) => v.target === 'secondThread')).toMatchObject({
      value: 1.9,
      met: true,
    });
    // The table shows the side-by-side ratio, and marks one of best-of times with a dagger.
    const report = (cell: typeof few | typeof many) =>
      renderSweep({
        schema: 'cosinekit-sweep/1',
        startedAt: '',
        durationSeconds: 0,
        environment: nodeEnvironment(),
        settings: {
          grid: { q: [cell.q], n: [cell.n], d: [cell.d] },
          scale: 1,
          tolerance: 1e-4,
          seed: 1,
          reps: 3,
          warmup: 1,
          budgetSeconds: 1,
        },
        roofline: roof,
        contenders: [
          { id: 'wasm@1', role: 'backend', available: true },
          { id: 'wasm@2', role: 'backend', available: true },
          { id: 'tfjs-wasm:fast', role: 'peer', available: true },
        ],
        cells: [{ ...cell, verdicts: judgeCell(cell) }],
        ok: true,
      } as SweepReport);
    expect(report(few)).toContain('1.30x');
    const { paired: _, ...unpaired } = few;
    expect(report(unpaired as typeof few)).toContain('0.80x†');
  });
});

describe('runSweep', () => {
  it('runs a tiny grid: every cell checked against float64 and given its share of the binding limit', async () => {
    const roofline = await measureRoofline({ bytes: 2 ** 20, threads: 2, reps: 1, minMs: 1 });
    const environment = nodeEnvironment();
    // Under a CPU affinity of one core the second thread is not judged (it contends for that core).
    const twoCores = Number(environment.usableCores ?? environment.cores) >= 2;
    const r: SweepReport = await runSweep({
      grid: { q: [1, 64], n: [300], d: [96, 130] },
      threads: 2,
      roofline,
      load,
      environment,
      ...settings,
    });
    expect(r.schema).toBe('cosinekit-sweep/1');
    expect(r.ok).toBe(true);
    expect(r.contenders.map((c) => c.id)).toEqual(['wasm@1', 'wasm@2', 'tfjs-wasm:fast']);
    expect(r.cells).toHaveLength(4);
    for (const c of r.cells) {
      expect(c.skipped).toBeUndefined();
      expect(c.op).toBe(c.q === 1 ? 'search' : 'matrix');
      expect(c.figures.map((f) => f.contender)).toEqual(['wasm@1', 'wasm@2', 'tfjs-wasm:fast']);
      for (const f of c.figures) {
        const what = `${c.q}x${c.n}x${c.d} ${f.contender}`;
        expect(f.status, `${what}: ${f.note}`).toBe('ok');
        expect(f.method).toBe(
          f.contender.startsWith('tfjs')
            ? c.q === 1
              ? 'matMul(q, cT) + topk'
              : 'matMul(q, cT)'
            : c.q === 1
              ? 'corpus.search'
              : 'corpus.similarity',
        );
        expect(f.accuracy?.ok, what).toBe(true);
        expect(f.accuracy!.checkedRows).toBeGreaterThan(0);
        expect(f.accuracy!.maxAbsError).toBeLessThanOrEqual(1e-4);
        if (c.q === 1) expect(f.accuracy!.recall).toBe(1);
        // The share comes from the fastest repetition per pair at the cell's size: 2QNd flops, N d 4 bytes.
        const { q, n, d } = c;
        expect(f.nsPerPair).toBeCloseTo((f.timing!.min * 1e6) / (f.size.q * f.size.n), 9);
        const seconds = (f.nsPerPair! * q * n) / 1e9;
        const limits = limitsFor(roofline, f.threads);
        expect(f.limit!.flops).toBe(2 * q * n * d);
        expect(f.limit!.bytes).toBe(n * d * 4);
        const want =
          Math.max(f.limit!.flops / (limits.gflops * 1e9), f.limit!.bytes / (limits.gbs * 1e9)) / seconds;
        expect(f.limit!.share).toBeCloseTo(want, 9);
      }
      // Every contender held at once here, so the head-to-head ratios come from side-by-side rounds.
      expect(c.paired?.rounds).toBeGreaterThanOrEqual(3);
      // Every ratio recomputed from the rounds' times the report keeps.
      const median = (v: number[]) => {
        const s = [...v].sort((x, y) => x - y);
        const m = s.length >> 1;
        return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
      };
      const ms = c.paired!.ms!;
      expect(ms['wasm@1']).toHaveLength(c.paired!.rounds);
      if (c.paired!.vsTfjs !== undefined)
        expect(c.paired!.vsTfjs).toBe(
          median(ms['tfjs-wasm:fast'].map((x, i) => x / Math.max(ms['wasm@1'][i], 1e-6))),
        );
      const judged = Object.fromEntries(c.verdicts.map((v) => [v.target, v.value]));
      if (c.q === 1) expect(judged.beatsTfjs).toBe(c.paired!.vsTfjs);
      else expect(c.paired!.secondThread).toBeGreaterThan(0);
      if (c.q > 1 && c.d >= 128 && twoCores) expect(judged.secondThread).toBe(c.paired!.secondThread);
      const targets = c.verdicts.map((v) => v.target);
      // 300 rows: a corpus in cache, not judged on bandwidth; judged on the peak only where the
      // roofline measured under load made it compute-bound (a peak below half the bandwidth in GB/s).
      const lim = c.figures[0].limit!;
      if (c.q === 1) expect(targets).toEqual(cached(lim) ? ['beatsTfjs'] : ['fewBandwidth', 'beatsTfjs']);
      else if (c.d >= 128) expect(targets).toEqual(twoCores ? ['manyPeak', 'secondThread'] : ['manyPeak']);
      else expect(targets).toEqual([]);
    }
    const text = renderSweep(r);
    expect(text).toContain('Roofline of this machine');
    // The summary follows the cells' own limits, as above: both one-query cells in cache are not
    // judged; a roofline measured under load can make them compute-bound, judged on the peak (a CI
    // run measured 51.6 GB/s beside a 22.8 GFLOP/s peak).
    const fewTarget =
      'Q <= 8: wasm@1 >= 80% of the 1-thread limit that binds \\(read bandwidth; the peak where Q makes it compute-bound\\)';
    const judgedFew = r.cells.filter((c) => c.q === 1 && !cached(c.figures[0].limit!)).length;
    expect(text).toMatch(
      new RegExp(
        judgedFew === 0
          ? `Targets:\\n {2}n\\/a +${fewTarget}: no cell measured it; 2 with a corpus under 32 MiB \\(in cache\\) not judged`
          : `Targets:\\n {2}(met|MISSED) +${fewTarget}: met in \\d+ of ${judgedFew} cells`,
      ),
    );
  });

  it('skips the cells that do not fit wasm memory or the time budget, saying so', async () => {
    const roofline = await measureRoofline({ bytes: 2 ** 20, threads: 1, reps: 1, minMs: 1 });
    const r = await runSweep({
      grid: { q: [1], n: [1_000_000], d: [3072] },
      threads: 1,
      roofline,
      load,
      environment: nodeEnvironment(),
      ...settings,
    });
    expect(r.cells).toHaveLength(1);
    expect(r.cells[0].skipped).toMatch(/of wasm memory \(4 GiB at most\)/);
    expect(r.cells[0].figures).toEqual([]);
    const slow = await runSweep({
      grid: { q: [1], n: [20_000], d: [3000] },
      threads: 1,
      roofline,
      load,
      environment: nodeEnvironment(),
      ...settings,
      budgetSeconds: 0.001,
    });
    expect(slow.cells[0].skipped).toMatch(/setup est\. .* over 30 budgets/);
    expect(renderSweep(slow)).toContain('skipped: setup est.');
    const host = await runSweep({
      grid: { q: [64], n: [1000], d: [96] },
      threads: 1,
      roofline,
      load,
      environment: nodeEnvironment(),
      ...settings,
      hostMemoryLimit: 1000,
    });
    expect(host.cells[0].skipped).toMatch(/of host memory/);
  });
});

describe('cosinekit-bench -w sweep', () => {
  it('prints the table and the targets and writes the JSON', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cosinekit-sweep-'));
    const json = join(dir, 's.json');
    const lines: string[] = [];
    const io: Io = { out: (t) => lines.push(t), err: () => {}, progress: false };
    const code = await main(
      [
        '-w',
        'sweep',
        '--grid',
        'q=8;n=500;d=40',
        '--threads',
        '1',
        '--reps',
        '3',
        '--budget',
        '0.2',
        '--json',
        json,
      ],
      io,
    );
    expect(code).toBe(0);
    const r = JSON.parse(readFileSync(json, 'utf8')) as SweepReport;
    expect(r.schema).toBe('cosinekit-sweep/1');
    const cell: SweepCell = r.cells[0];
    expect(cell).toMatchObject({ q: 8, n: 500, d: 40, op: 'search', k: 10 });
    expect(cell.figures.every((f) => f.status === 'ok' && f.accuracy?.ok)).toBe(true);
    const text = lines.join('\n');
    expect(text).toMatch(/Shape sweep \(1 cells/);
    expect(text).toMatch(/^8 +500 +40 +search/m);
    // The roofline was measured again after the cells, and the shares are of the merged one.
    expect(
      r.roofline.notes.some((n) => n.startsWith('measured twice, before the cells and after them')),
    ).toBe(true);
    expect(r.roofline.peakMulAdd.one.samples.length).toBeGreaterThan(15);
    const l = cell.figures.find((f) => f.contender === 'wasm@1')!.limit!;
    expect(l.limit).toBe(
      l.bound === 'compute' ? r.roofline.peakMulAdd.one.best : r.roofline.bandwidth.one.best,
    );
    expect(text).toMatch(/measured twice/);
  });
});
