import type { Backend } from '@cosinekit/core/backend';
import { afterAll, beforeAll, describe, it } from 'vitest';
import {
  type ConformanceCase,
  type ConformanceContext,
  conformanceCases,
  createContext,
  type Tolerance,
} from './cases.js';

/** Options of {@link runConformance}. */
export interface ConformanceOptions {
  /** Label of the suite, e.g. `'wasm (relaxed SIMD)'`. */
  name: string;
  /** Makes a fresh backend; the suite initialises it and disposes it at the end. */
  create: () => Backend | Promise<Backend>;
  /** Tolerances, if the backend needs looser ones than the defaults (state why where you call it). */
  tolerance?: Tolerance;
  /** Per-test timeout in ms for slow engines (default 30 s). */
  timeout?: number;
}

/**
 * Registers the whole contract as vitest tests: every kernel against the float64 oracle on awkward
 * shapes, zero vectors, ties, bad input through the public API, resident data and leaks. Kernels the
 * backend does not implement run on the reference fallback and say so in their test names.
 */
export function runConformance(options: ConformanceOptions): void {
  const cases = conformanceCases();
  describe(`conformance: ${options.name}`, () => {
    let ctx: ConformanceContext | undefined;
    beforeAll(async () => {
      ctx = await createContext(await options.create(), options.tolerance);
      const own = Object.entries(ctx.providers)
        .filter(([, p]) => p === ctx!.backend.name)
        .map(([k]) => k);
      console.log(`[conformance] ${options.name}: implements ${own.length ? own.join(', ') : 'no kernels'}`);
    }, options.timeout ?? 60_000);
    afterAll(async () => {
      ctx?.kit.dispose();
      await ctx?.backend.dispose?.();
    });
    for (const c of cases) {
      it(`${c.group}: ${c.name}`, () => c.run(ctx!), options.timeout ?? 30_000);
    }
  });
}

/** How one case ended when run by {@link runCases}. */
export interface CaseOutcome {
  readonly case: ConformanceCase;
  readonly error?: Error;
}

/** Runs cases outside vitest (for scripts and the suite's own tests) and collects the outcomes. */
export async function runCases(
  ctx: ConformanceContext,
  cases: ConformanceCase[] = conformanceCases(),
): Promise<CaseOutcome[]> {
  const out: CaseOutcome[] = [];
  for (const c of cases) {
    try {
      await c.run(ctx);
      out.push({ case: c });
    } catch (e) {
      out.push({ case: c, error: e as Error });
    }
  }
  return out;
}
