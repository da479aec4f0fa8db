import type { Output, Prepared } from './method.js';
import type { RunSettings } from './types.js';

export const now = () => performance.now();

/** How long an awaited step may take before the bench calls it hung and moves on. */
export const hangMs = (s: RunSettings) => Math.max(120_000, 60_000 * s.budgetSeconds);

/** Rejects when `p` has not settled within `ms`: a backend whose promise never resolves must not stall the run. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    // setTimeout takes at most 2^31 - 1 ms; past it the timer fired at once (a budget of 1e9 s
    // made every contender "not available").
    timer = setTimeout(
      () => reject(new Error(`${what} did not finish within ${ms / 1000} s`)),
      Math.min(ms, 2 ** 31 - 1),
    );
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * The shortest a timed sample (one repetition) may last, whatever the clock: calls faster than this
 * are repeated inside one sample and averaged.
 */
export const MIN_SAMPLE_MS = 20;
/** A sample spans at least this many ticks of the clock, so rounding to a tick moves it by 1% at most. */
export const TICKS_PER_SAMPLE = 100;
/** Probes taken at the calibrated count; their median, not any one of them, sets the calls per sample. */
export const CALIBRATION_PROBES = 5;

/** The sample length for a clock of `resolutionMs`: {@link MIN_SAMPLE_MS}, or 100 ticks of a coarse clock. */
export const minSampleMs = (resolutionMs: number) => Math.max(MIN_SAMPLE_MS, TICKS_PER_SAMPLE * resolutionMs);

/**
 * The smallest step `clock` is seen to take, in ms: browsers coarsen `performance.now()` (100 us, or
 * 5 us on a cross-origin isolated page; Firefox 1 ms), Node's is sub-microsecond. Reads the clock
 * until it has seen `ticks` steps; undefined when it never moved within `maxReads` reads (a frozen or
 * fake clock).
 */
export function measureResolution(clock: () => number, ticks = 16, maxReads = 2_000_000): number | undefined {
  let smallest = Number.POSITIVE_INFINITY;
  let seen = 0;
  let last = clock();
  for (let i = 0; i < maxReads && seen < ticks; i++) {
    const t = clock();
    if (t > last) {
      // The first step may be partial (the clock was read mid-tick); later ones are whole ticks.
      if (seen > 0) smallest = Math.min(smallest, t - last);
      seen++;
      last = t;
    }
  }
  return Number.isFinite(smallest) ? smallest : undefined;
}

/** What a clock that never moved is taken to be: as coarse as the coarsest browser's. */
const UNKNOWN_RESOLUTION_MS = 1;
// Bound before any test replaces performance.now: this is the platform's timer, measured once.
const platformNow = performance.now.bind(performance);
let resolution: number | undefined;

/** The platform timer's resolution (ms), measured on first use. */
export function timerResolution(): number {
  resolution ??= measureResolution(platformNow) ?? UNKNOWN_RESOLUTION_MS;
  return resolution;
}

/** How a method is sampled: the sample length and the clock's resolution, both ms. */
export interface Sampling {
  readonly minSampleMs: number;
  readonly resolutionMs: number;
}

/** Sampling for this platform's timer. */
export function platformSampling(): Sampling {
  const r = timerResolution();
  return { minSampleMs: minSampleMs(r), resolutionMs: r };
}

/** The timer and the sample length it implies, for the report's environment. */
export function timerDescription(): string {
  const { minSampleMs, resolutionMs } = platformSampling();
  const r =
    resolutionMs >= 1e-3
      ? `${+(resolutionMs * 1e3).toPrecision(3)} us`
      : `${+(resolutionMs * 1e6).toPrecision(3)} ns`;
  return `performance.now() resolution ${r}; samples of at least ${minSampleMs} ms, calls per sample from the median of ${CALIBRATION_PROBES} probes`;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/**
 * Calls per sample so that one sample lasts at least `minSampleMs`. The count grows until a probe
 * lasts a quarter of a sample (and ten clock ticks, so a coarse clock's rounding cannot pass for the
 * call's time); then {@link CALIBRATION_PROBES} more probes are taken at that count and their median
 * time per call decides. One probe is never trusted: a probe that caught a garbage collection, the
 * JIT recompiling, or another process would set every sample of the figure too short or too long.
 * A call that alone lasts a whole sample in two probes runs once per sample.
 */
export async function calibrate(
  timeCalls: Timer,
  p: Prepared,
  { minSampleMs, resolutionMs }: Sampling,
  maxCount = 1 << 24,
): Promise<number> {
  const enough = Math.max(minSampleMs / 4, 10 * resolutionMs);
  let count = 1;
  for (;;) {
    const [ms] = await timeCalls(p, count);
    if (count === 1 && ms >= minSampleMs) {
      const [again] = await timeCalls(p, 1);
      if (again >= minSampleMs) return 1;
    }
    if (ms >= enough || count >= maxCount) break;
    // A readable time (many ticks) says how far to jump; a time of a tick or two says only "more".
    const jump = ms >= 10 * resolutionMs ? Math.ceil((count * enough * 1.25) / ms) : count * 4;
    count = Math.min(maxCount, Math.max(count * 2, Math.min(jump, count * 64)));
  }
  const perCall: number[] = [];
  for (let i = 0; i < CALIBRATION_PROBES; i++) {
    const [ms] = await timeCalls(p, count);
    perCall.push(ms / count);
  }
  const typical = Math.max(median(perCall), resolutionMs / count, 1e-9);
  return Math.max(1, Math.ceil(minSampleMs / typical));
}

/** Times `count` calls of a prepared method; returns the elapsed ms and the last answer. */
export type Timer = (p: Prepared, count: number) => Promise<[number, Output]>;

let timerSerial = 0;
const AsyncFunction = (async () => {}).constructor as new (
  ...args: string[]
) => (...a: unknown[]) => Promise<unknown>;

/**
 * A timing loop of its own for one method. One shared loop would have one call site for every
 * contender: the first to run gets it monomorphic (its call inlined), later ones polymorphic, and for
 * calls of a few microseconds that order bias measured 1.4x here. Compiling the loop per method
 * (a distinct source, so V8 shares neither code nor type feedback) gives each the same start.
 * Synchronous answers are not awaited, so a microtask is not in their timing.
 */
export function makeTimer(): Timer {
  const loop = new AsyncFunction(
    'p',
    'count',
    'now',
    `/* timer ${timerSerial++} */
    let out;
    const start = now();
    for (let i = 0; i < count; i++) {
      const r = p.call();
      out = r instanceof Promise ? await r : r;
    }
    return [now() - start, out];`,
  );
  return (p, count) => loop(p, count, now) as Promise<[number, Output]>;
}
