import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { type Io, main } from '../src/cli.js';
import { parseReport } from '../src/report/json.js';
import {
  contenderThreads,
  describeRoofline,
  FIRST_TOUCH_BYTES,
  FMA_FLOPS_PER_ITER,
  limitShare,
  limitsFor,
  MULADD_FLOPS_PER_ITER,
  measureFirstTouch,
  measureRoofline,
  PEAK_ACCUMULATORS,
  peakModuleBytes,
  type Roofline,
  renderRoofline,
  shareCell,
  shareDetail,
  streamModuleBytes,
  TILE_FLOPS_PER_ITER,
  TILE_WINDOW,
  withRoofline,
} from '../src/roofline.js';
import type { BenchReport, BenchResult, ContenderInfo } from '../src/types.js';

type Peak = Record<'muladd' | 'fma', (iters: number, m: number, c: number) => number>;

const fig = (best: number) => ({ best, median: best, samples: [best] });
/** A roofline with round numbers: 10 GFLOP/s and 10 GB/s per thread, 16 and 15 on 2 threads. */
const ROOF: Roofline = {
  threads: 2,
  peakMulAdd: { one: fig(10), all: fig(16) },
  peakFma: { one: fig(20), all: fig(36) },
  bandwidth: { one: fig(10), all: fig(15) },
  bufferBytes: 2 ** 20,
  durationSeconds: 0.1,
  notes: [],
};

describe('roofline microkernels', () => {
  it('are valid wasm, shared memory or not', () => {
    expect(WebAssembly.validate(peakModuleBytes(false))).toBe(true);
    expect(WebAssembly.validate(streamModuleBytes(4, false))).toBe(true);
    expect(WebAssembly.validate(streamModuleBytes(4, true))).toBe(true);
  });

  it('the mul+add kernel does the operations it is counted for', async () => {
    const { instance } = await WebAssembly.instantiate(peakModuleBytes(false));
    const peak = instance.exports as unknown as Peak;
    // m = 2, c = 1, one iteration (two copies of the body): 6 chains doubled twice (2 -> 8) and 6
    // chains incremented twice (2 -> 4); lane 0 of the sum of the 12 accumulators.
    expect(peak.muladd(1, 2, 1)).toBe(6 * 8 + 6 * 4);
    // m = 1, c = 0 (what is timed): every value stays put whatever the iterations.
    expect(peak.muladd(1000, 1, 0)).toBe(PEAK_ACCUMULATORS);
    // Flops per iteration: 12 vector operations of 4 lanes, twice.
    expect(MULADD_FLOPS_PER_ITER).toBe(PEAK_ACCUMULATORS * 4 * 2);
  });

  it('the outer-product kernel does the operations it is counted for, on the vectors it says', async () => {
    const { instance } = await WebAssembly.instantiate(peakModuleBytes(false));
    const { tile, tileMemory } = instance.exports as unknown as {
      tile(iters: number, m: number, c: number): number;
      tileMemory: WebAssembly.Memory;
    };
    // Small integers by lane, different at every address, so any other vector, order or window
    // gives another sum; float32 holds every partial sum exactly.
    const mem = new Float32Array(tileMemory.buffer);
    for (let i = 0; i < mem.length; i++) mem[i] = ((i * 7) % 5) - 2;
    const iters = 300; // more tiles than the window holds: it wraps
    // Lane 0 of the sum of the 8 accumulators, each c + sum over steps of x[i] * y[j], where step t
    // reads 6 vectors at (96 t mod window): x[i] at + 16 i, y[j] at + 64 + 16 j.
    const c = 0.5;
    let want = 8 * c;
    for (let t = 0, p = 0; t < iters; t++, p = (p + 96) % TILE_WINDOW) {
      const at = (bytes: number) => mem[(p + bytes) / 4];
      for (let i = 0; i < 4; i++) for (let j = 0; j < 2; j++) want += at(16 * i) * at(64 + 16 * j);
    }
    expect(tile(iters, 1, c)).toBe(want);
    // 8 multiplies and 8 adds of 4 lanes an iteration.
    expect(TILE_FLOPS_PER_ITER).toBe(64);
  });

  it('the relaxed-FMA kernel does the operations it is counted for', async () => {
    // Node 20 has relaxed SIMD behind a flag; where it ships, the flag is left alone.
    const flagged = !WebAssembly.validate(peakModuleBytes(true));
    if (flagged) setFlagsFromString('--experimental-wasm-relaxed-simd');
    try {
      const { instance } = await WebAssembly.instantiate(peakModuleBytes(true));
      const peak = instance.exports as unknown as Peak;
      // s = m * c + s twice from s = m = 2, c = 3: 2 + 6 + 6 = 14 in each of 12 accumulators.
      expect(peak.fma(1, 2, 3)).toBe(12 * 14);
      expect(FMA_FLOPS_PER_ITER).toBe(PEAK_ACCUMULATORS * 8 * 2);
    } finally {
      if (flagged) setFlagsFromString('--no-experimental-wasm-relaxed-simd');
    }
  });

  it('the streaming kernel reads every byte it is counted for', async () => {
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 2 });
    new Float32Array(memory.buffer).fill(1);
    const { instance } = await WebAssembly.instantiate(streamModuleBytes(2, false), { env: { memory } });
    const { sum } = instance.exports as unknown as { sum(p: number, b: number, passes: number): number };
    // 1024 bytes = 8 steps of 8 vectors; lane 0 of the 8 accumulators gets one 1.0 per step, per pass.
    expect(sum(65536, 1024, 1)).toBe(64);
    expect(sum(65536, 1024, 3)).toBe(192);
    expect(sum(128, 65536 - 128, 1)).toBe(8 * ((65536 - 128) / 128));
  });

  it('the two-stream kernel reads each vector of both halves once', async () => {
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 2 });
    // Lane 0 of vector v holds v + 1 (exact in float32 at these sizes), the other lanes 0.
    const f = new Float32Array(memory.buffer);
    for (let v = 0; v < f.length / 4; v++) f[4 * v] = v + 1;
    const { instance } = await WebAssembly.instantiate(streamModuleBytes(2, false), { env: { memory } });
    const { sum, sum2 } = instance.exports as unknown as Record<
      'sum' | 'sum2',
      (p: number, b: number, passes: number) => number
    >;
    // Vectors first..first+count-1, each counted once: their lane-0 values summed.
    const expected = (ptr: number, bytes: number) => {
      const first = ptr / 16;
      const count = bytes / 16;
      return count * (first + 1) + (count * (count - 1)) / 2;
    };
    for (const [ptr, half] of [
      [0, 64],
      [64, 192],
      [65536, 4096],
      [1024, 30016],
    ]) {
      expect(sum2(ptr, half, 1), `${ptr} + 2 x ${half}`).toBe(expected(ptr, 2 * half));
      expect(sum2(ptr, half, 2)).toBe(2 * expected(ptr, 2 * half));
      if ((2 * half) % 128 === 0) expect(sum(ptr, 2 * half, 1)).toBe(expected(ptr, 2 * half));
    }
  });
});

describe('measureRoofline', () => {
  it('measures positive, finite peaks and bandwidths on one and on two threads', async () => {
    const relaxedBefore = WebAssembly.validate(peakModuleBytes(true));
    const r = await measureRoofline({ bytes: 4 * 2 ** 20, threads: 2, reps: 2, minMs: 1 });
    expect(r.threads).toBe(2);
    expect(r.bufferBytes).toBe(4 * 2 ** 20);
    for (const f of [r.peakMulAdd, r.bandwidth, ...(r.peakFma ? [r.peakFma] : [])]) {
      for (const x of [f.one, f.all!]) {
        expect(x.samples).toHaveLength(2);
        expect(x.best).toBeGreaterThan(0);
        expect(Number.isFinite(x.best)).toBe(true);
        expect(x.best).toBe(Math.max(...x.samples));
        expect(x.median).toBeLessThanOrEqual(x.best);
      }
    }
    // Node 20 runs relaxed SIMD behind a flag the roofline turns on for its compile only: the
    // engine accepts afterwards exactly what it accepted before.
    expect(r.peakFma).toBeDefined();
    expect(WebAssembly.validate(peakModuleBytes(true))).toBe(relaxedBefore);
    // The mul+add peak is the better of its two kernels, both named in the notes.
    expect(r.notes.join(' ')).toMatch(
      /register chains, no memory access \([\d.]+ GFLOP\/s\), and a 4 x 2 outer product/,
    );
    // First touch of new memory: one thread, 5 samples; a rate (no timing is asserted).
    expect(r.firstTouch?.samples).toHaveLength(5);
    expect(r.firstTouch!.best).toBeGreaterThan(0);
    expect(Number.isFinite(r.firstTouch!.best)).toBe(true);
    expect(describeRoofline(r).join('\n')).toMatch(/first touch of memory: +[\d.]+ GB\/s on 1 thread/);
  });

  it('measures first touch on new buffers, written in full', () => {
    const f = measureFirstTouch(3, 2 ** 20);
    expect(f.samples).toHaveLength(3);
    expect(f.best).toBe(Math.max(...f.samples));
    expect(FIRST_TOUCH_BYTES).toBeGreaterThan(32 * 2 ** 20);
  });

  it('measures one thread only when asked', async () => {
    const r = await measureRoofline({ bytes: 2 ** 20, threads: 1, reps: 1, minMs: 1 });
    expect(r.threads).toBe(1);
    expect(r.bandwidth.all).toBeUndefined();
    expect(r.peakMulAdd.one.best).toBeGreaterThan(0);
  });
});

describe('share of the limit that binds', () => {
  it('one query is bound by reading the corpus: its bytes at the bandwidth', () => {
    // 1 x 1000 x 100 float32: 400,000 bytes (40 us at 10 GB/s), 200,000 flops (20 us at 10 GFLOP/s).
    const s = limitShare({ q: 1, n: 1000, d: 100 }, 80e-6, { gflops: 10, gbs: 10, label: 'x' });
    expect(s.bound).toBe('bandwidth');
    expect(s.bytes).toBe(400_000);
    expect(s.flops).toBe(200_000);
    expect(s.achieved).toBeCloseTo(5, 10); // GB/s
    expect(s.limit).toBe(10);
    expect(s.share).toBeCloseTo(0.5, 12);
    expect(s.bandwidthShare).toBeCloseTo(0.5, 12);
    expect(s.peakShare).toBeCloseTo(0.25, 12);
  });

  it('many queries are bound by compute: 2 Q N d flops at the peak', () => {
    // 64 x 1000 x 100: 12.8 Mflop, 1.28 ms at 10 GFLOP/s; the corpus alone takes 40 us.
    const s = limitShare({ q: 64, n: 1000, d: 100 }, 2.56e-3, { gflops: 10, gbs: 10, label: 'x' });
    expect(s.bound).toBe('compute');
    expect(s.flops).toBe(12_800_000);
    expect(s.achieved).toBeCloseTo(5, 10); // GFLOP/s
    expect(s.share).toBeCloseTo(0.5, 12);
  });

  it('an int8 corpus reads one byte per value plus a scale per row', () => {
    // 104,000 bytes: 10.4 us at 10 GB/s; 200,000 operations: 2 us at 100 G/s.
    const s = limitShare({ q: 1, n: 1000, d: 100, bytesPerValue: 1, rowExtraBytes: 4 }, 1e-5, {
      gflops: 100,
      gbs: 10,
      label: 'x',
    });
    expect(s.bound).toBe('bandwidth');
    expect(s.bytes).toBe(104_000);
    expect(s.share).toBeCloseTo(1.04, 12);
  });

  it('picks the figures of the threads a contender runs on', () => {
    expect(limitsFor(ROOF, 1)).toMatchObject({ gflops: 10, gbs: 10 });
    expect(limitsFor(ROOF, 2)).toMatchObject({ gflops: 16, gbs: 15 });
    expect(limitsFor(ROOF, 8)).toMatchObject({ gflops: 16, gbs: 15 });
    expect(limitsFor(ROOF, 1, true)).toMatchObject({ gflops: 20, gbs: 10 });
    expect(limitsFor({ ...ROOF, threads: 4 }, 2)).toMatchObject({ gflops: 16, gbs: 15 });
    expect(limitsFor({ ...ROOF, threads: 4, peakMulAdd: { one: fig(10), all: fig(40) } }, 2).gflops).toBe(20);
  });

  it('knows the threads of backends and of tfjs peers', () => {
    const infos: ContenderInfo[] = [
      { id: 'wasm', role: 'backend', available: true, details: { threads: 4 } },
      { id: 'tfjs-wasm', role: 'backend', available: true, details: { threads: 1 } },
      { id: 'tfjs-wasm:fast', role: 'peer', available: true, details: { style: 'fast' } },
      { id: 'naive', role: 'peer', available: true },
    ];
    expect(contenderThreads('wasm', infos)).toBe(4);
    expect(contenderThreads('tfjs-wasm:fast', infos)).toBe(1);
    expect(contenderThreads('naive', infos)).toBe(1);
  });

  it('gives every timed search and matrix figure a share, from its own size and median', () => {
    const timing = (ms: number) => ({
      median: ms,
      min: ms,
      max: ms,
      q1: ms,
      q3: ms,
      reps: 3,
      callsPerRep: 1,
      samples: [],
    });
    const result = (p: Partial<BenchResult>): BenchResult => ({
      workload: 'B',
      contender: 'wasm',
      role: 'backend',
      method: 'corpus.search',
      size: { q: 1, n: 1000, d: 100, k: 10 },
      shrunk: false,
      status: 'ok',
      timing: timing(0.08),
      ...p,
    });
    const report = {
      workloads: [
        { id: 'B', size: { q: 1, n: 1000, d: 100, k: 10 } },
        { id: 'C', size: { q: 256, n: 1000, d: 100 } },
      ],
      contenders: [{ id: 'wasm', role: 'backend', available: true, details: { threads: 1 } }],
      results: [
        result({}),
        result({ method: 'int8 corpus' }),
        result({ workload: 'A', size: { q: 1, n: 1, d: 100 } }),
        result({ status: 'wrong' }),
        // C on a slice of 8 of its 256 queries: 1.6 Mflop in 0.32 ms, so the whole C would take
        // 10.24 ms for 51.2 Mflop; at 10 GFLOP/s that is 5.12 ms: 50%, bound by compute.
        result({
          workload: 'C',
          method: 'corpus.similarity',
          size: { q: 8, n: 1000, d: 100 },
          shrunk: true,
          timing: timing(0.32),
        }),
        result({ contender: 'webgpu', method: 'float16 corpus' }),
      ],
    } as unknown as BenchReport;
    const out = withRoofline(report, ROOF);
    expect(out.roofline).toBe(ROOF);
    expect(out.results[0].limit).toMatchObject({ bound: 'bandwidth', bytes: 400_000, threads: 1 });
    expect(out.results[0].limit!.share).toBeCloseTo(0.5, 12);
    // int8 scans are integer work: judged on the bytes they read only.
    expect(out.results[1].limit).toMatchObject({ bound: 'bandwidth', bytes: 104_000 });
    expect(out.results[1].limit!.share).toBeCloseTo(104_000 / 10e9 / 80e-6, 12);
    expect(out.results[2].limit).toBeUndefined();
    expect(out.results[3].limit).toBeUndefined();
    expect(out.results[4].limit).toMatchObject({ bound: 'compute', flops: 2 * 256 * 1000 * 100 });
    expect(out.results[4].limit!.share).toBeCloseTo(0.5, 12);
    // float16 reads 2 bytes per value: 200 kB at 10 GB/s and 200 kflop at 10 GFLOP/s both take 20 us of 80.
    expect(out.results[5].limit).toMatchObject({ bytes: 200_000, flops: 200_000, threads: 1 });
    expect(out.results[5].limit!.share).toBeCloseTo(0.25, 12);
    // One formatter for the sweep's cells, the page's column and its tooltip.
    // A 400 kB corpus stays in cache: its bandwidth share is marked so.
    expect(shareCell(out.results[0].limit!)).toBe('50% bw (cache)');
    expect(shareCell(out.results[4].limit!, true)).toBe('50% peak*');
    expect(shareDetail(out.results[4].limit!)).toBe(
      '5.0 GFLOP/s of 10.0 GFLOP/s (mul+add peak and read bandwidth, 1 thread)',
    );
    const text = renderRoofline(out);
    expect(text).toContain('wasm SIMD mul+add peak: 10.0 GFLOP/s per thread');
    expect(text).toMatch(/B\s+wasm\s+corpus\.search\s+1\s+bandwidth\s+5\.0 GB\/s\s+10\.0 GB\/s\s+50%/);
  });

  it("judges a figure that is not a slice at its own size, not the workload's", () => {
    // The million preset's 1-query search, beside its 16-query one (the workload's size): 1,000,000
    // int8 rows of 384 (388 MB with the scales) read in 77.6 ms is 5 GB/s, half the bandwidth. Judged
    // at 16 queries it read 16 x 77.6 ms for the corpus: 0.31 GB/s, 3%.
    const size = { q: 16, n: 1_000_000, d: 384, k: 10 };
    const ms = 77.6;
    const one: BenchResult = {
      workload: 'million',
      contender: 'wasm',
      role: 'backend',
      method: 'int8 corpus from chunks (kit.corpusFrom), re-rank 4k, 1 query',
      size: { ...size, q: 1 },
      shrunk: false,
      status: 'ok',
      timing: { median: ms, min: ms, max: ms, q1: ms, q3: ms, reps: 3, callsPerRep: 1, samples: [] },
    };
    const out = withRoofline(
      {
        workloads: [{ id: 'million', size }],
        contenders: [{ id: 'wasm', role: 'backend', available: true, details: { threads: 1 } }],
        results: [one],
      } as unknown as BenchReport,
      ROOF,
    );
    expect(out.results[0].limit).toMatchObject({ bound: 'bandwidth', bytes: 388_000_000, flops: 2 * 384e6 });
    expect(out.results[0].limit!.share).toBeCloseTo(0.5, 12);
  });
});

describe('cosinekit-bench -w roofline', () => {
  it('alone prints the environment and the limits, no empty results table', async () => {
    const lines: string[] = [];
    const io: Io = { out: (t) => lines.push(t), err: () => {}, progress: false };
    expect(await main(['-w', 'roofline', '--no-json', '--no-svg'], io)).toBe(0);
    const text = lines.join('\n');
    expect(text).toMatch(/^Runtime: /);
    expect(text).toMatch(/wasm SIMD mul\+add peak: [\d.]+ GFLOP\/s per thread/);
    expect(text).toMatch(/streaming read: +[\d.]+ GB\/s on 1 thread/);
    expect(text).not.toContain('DESIGN target');
  });

  it('measures the roofline before B and gives each B figure its share of the limit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cosinekit-roofline-'));
    const json = join(dir, 'r.json');
    const lines: string[] = [];
    const io: Io = { out: (t) => lines.push(t), err: () => {}, progress: false };
    const code = await main(
      [
        ...['-w', 'roofline,B', '--scale', '0.01', '-b', 'wasm@1', '-p', 'naive'],
        ...['--reps', '3', '--budget', '0.3', '--json', json, '--no-svg'],
      ],
      io,
    );
    expect(code).toBe(0);
    const report = parseReport(readFileSync(json, 'utf8'));
    expect(report.settings.workloads).toEqual(['roofline', 'B']);
    expect(report.roofline?.peakMulAdd.one.best).toBeGreaterThan(0);
    expect(report.roofline?.bandwidth.one.best).toBeGreaterThan(0);
    const timed = report.results.filter((r) => r.status === 'ok');
    expect(timed.length).toBeGreaterThan(1);
    for (const r of timed) {
      expect(r.limit, `${r.contender} ${r.method}`).toBeDefined();
      const w = report.workloads.find((x) => x.id === r.workload)!.size;
      expect(r.limit!.flops).toBe(2 * w.q * w.n * w.d);
      expect(r.limit!.share).toBeGreaterThan(0);
    }
    const text = lines.join('\n');
    expect(text).toContain('Roofline of this machine');
    expect(text).toContain('Share of the limit that binds each figure');
  });
});
