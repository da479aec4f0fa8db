import type { Output, Prepared } from './method.js';
import type { RunSettings } from './types.js';

/** Shortest repetition: calls faster than this are repeated inside one repetition and averaged. */
export const MIN_REP_MS = 10;

export const now = () => performance.now();

/** How long an awaited step may take before the bench calls it hung and moves on. */
export const hangMs = (s: RunSettings) => Math.max(120_000, 60_000 * s.budgetSeconds);

/** Rejects when `p` has not settled within `ms`: a backend whose promise never resolves must not stall the run. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000} s`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Calls per repetition so that one repetition lasts at least {@link MIN_REP_MS}. */
export async function calibrate(timeCalls: Timer, p: Prepared, start: number): Promise<number> {
  let count = start;
  for (;;) {
    const [ms] = await timeCalls(p, count);
    if (ms >= MIN_REP_MS / 4 || count >= 1 << 20) {
      return Math.max(1, Math.ceil((count * MIN_REP_MS) / Math.max(ms, 1e-3)));
    }
    count *= 4;
  }
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
