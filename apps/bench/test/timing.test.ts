import { describe, expect, it } from 'vitest';
import type { Prepared } from '../src/method.js';
import {
  CALIBRATION_PROBES,
  calibrate,
  MIN_SAMPLE_MS,
  measureResolution,
  minSampleMs,
  type Timer,
  withTimeout,
} from '../src/timing.js';

/**
 * A fake clock that reads true time rounded down to `stepMs`, as a browser's coarsened
 * performance.now() does. True time advances by `readCostMs` per read and by the cost of each call.
 */
function coarseClock(stepMs: number, readCostMs = 0.0003) {
  let t = 0.0137; // not on a tick: the first step seen is partial
  return {
    advance: (ms: number) => {
      t += ms;
    },
    read: () => {
      t += readCostMs;
      return Math.floor(t / stepMs) * stepMs;
    },
  };
}

/**
 * A timer over the fake clock: `count` calls cost `count * costMs(probe)`, where `probe` numbers the
 * timings so a test can make one of them an outlier (a garbage collection, a recompilation).
 */
function fakeTimer(clock: ReturnType<typeof coarseClock>, costMs: (probe: number, count: number) => number) {
  const probes: number[] = [];
  const timer: Timer = async (_p, count) => {
    const start = clock.read();
    clock.advance(count * costMs(probes.length, count));
    const end = clock.read();
    probes.push(count);
    return [end - start, { value: 0 }];
  };
  return { timer, probes };
}

const prepared: Prepared = { call: () => ({ value: 0 }) };

describe('timer resolution', () => {
  it('measures a 100 us and a 1 ms clock, and a fine one', () => {
    expect(measureResolution(coarseClock(0.1).read)).toBeCloseTo(0.1, 9);
    expect(measureResolution(coarseClock(1).read)).toBeCloseTo(1, 9);
    expect(measureResolution(coarseClock(1e-6, 2e-6).read)).toBeLessThanOrEqual(3e-6);
  });

  it('says so when the clock never moves, without spinning forever', () => {
    expect(measureResolution(() => 5, 16, 10_000)).toBeUndefined();
  });

  it('makes a sample at least 20 ms, and 100 ticks of a coarse clock', () => {
    expect(minSampleMs(1e-6)).toBe(MIN_SAMPLE_MS);
    expect(minSampleMs(0.1)).toBe(20);
    expect(minSampleMs(1)).toBe(100);
  });
});

describe('calibration', () => {
  for (const stepMs of [0.1, 1]) {
    it(`sizes samples of a 2 us call to the minimum duration on a ${stepMs} ms clock`, async () => {
      const clock = coarseClock(stepMs);
      const sampling = { minSampleMs: minSampleMs(stepMs), resolutionMs: stepMs };
      const { timer } = fakeTimer(clock, () => 0.002);
      const count = await calibrate(timer, prepared, sampling);
      // A sample of `count` calls lasts the minimum, give or take the clock's rounding.
      const sampleMs = count * 0.002;
      expect(sampleMs).toBeGreaterThanOrEqual(sampling.minSampleMs * 0.95);
      expect(sampleMs).toBeLessThanOrEqual(sampling.minSampleMs * 1.1);
    });
  }

  it('is not fooled by one slow probe (the page measured a tuned loop 5x too slow)', async () => {
    const clock = coarseClock(0.1);
    const sampling = { minSampleMs: 20, resolutionMs: 0.1 };
    // Every probe costs 2 us a call, except the first and the third at the calibrated count, 5x slower.
    let big = 0;
    let slowDone = false;
    const { timer, probes } = fakeTimer(clock, (_probe, count) => {
      if (count > 1000 && (big++ === 0 || big === 3)) {
        slowDone = true;
        return 0.01;
      }
      return 0.002;
    });
    const count = await calibrate(timer, prepared, sampling);
    expect(slowDone).toBe(true);
    expect(count * 0.002).toBeGreaterThanOrEqual(19);
    expect(count * 0.002).toBeLessThanOrEqual(22);
    // The decision took several probes at the final count, not one.
    expect(probes.filter((c) => c === probes[probes.length - 1]).length).toBeGreaterThanOrEqual(
      CALIBRATION_PROBES,
    );
  });

  it('runs a slow call once per sample after two probes agree', async () => {
    const clock = coarseClock(0.1);
    const { timer, probes } = fakeTimer(clock, () => 50);
    expect(await calibrate(timer, prepared, { minSampleMs: 20, resolutionMs: 0.1 })).toBe(1);
    expect(probes).toEqual([1, 1]);
  });

  it('does not take a first slow call (compiling) for the call time', async () => {
    const clock = coarseClock(0.1);
    // The first call takes 30 ms (JIT), then 1 ms: samples need 20 calls, not 1.
    const { timer } = fakeTimer(clock, (probe) => (probe === 0 ? 30 : 1));
    const count = await calibrate(timer, prepared, { minSampleMs: 20, resolutionMs: 0.1 });
    expect(count).toBe(20);
  });
});

describe('withTimeout', () => {
  it('a limit past setTimeout’s 2^31 - 1 ms waits for the call (it fired at once: a budget of 1e9 s made every contender "not available")', async () => {
    const late = new Promise<string>((r) => setTimeout(() => r('done'), 20));
    expect(await withTimeout(late, 60_000 * 1e9, 'open')).toBe('done');
    await expect(withTimeout(new Promise(() => undefined), 10, 'open')).rejects.toThrow(/did not finish/);
  });
});
