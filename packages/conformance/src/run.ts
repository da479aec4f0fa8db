import { type Backend, type KernelName, resolveKernels } from '@cosinekit/core/backend';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { ConformanceSkip, checkRunnerOptions, within } from './assert.js';
import {
  type ConformanceCase,
  type ConformanceContext,
  conformanceCases,
  createContext,
  type Tolerance,
} from './cases/index.js';
import { checkDisposal } from './disposal.js';

/** Options of {@link runConformance}. */
export interface ConformanceOptions {
  /** Label of the suite, e.g. `'wasm (relaxed SIMD)'`. */
  name: string;
  /**
   * Makes a fresh backend. It is called once, when the tests are collected (to name the kernels'
   * providers); the suite initialises the backend before the first test and disposes it after the last.
   */
  create: () => Backend | Promise<Backend>;
  /** Tolerances, if the backend needs looser ones than the defaults (state why where you call it). */
  tolerance?: Tolerance;
  /** Per-test timeout in ms for slow engines (default 30 s). */
  timeout?: number;
}

/**
 * The test name of a case: its group, who runs the kernel it proves (the backend itself, or the
 * reference it falls back to), and what it checks.
 */
export function caseTitle(
  c: ConformanceCase,
  backend: string,
  providers: Readonly<Record<KernelName, string>>,
): string {
  if (!c.kernel) return `${c.group}: ${c.name}`;
  const by = providers[c.kernel] === backend ? backend : `${providers[c.kernel]} fallback`;
  return `${c.group} on ${by}: ${c.name}`;
}

/**
 * Registers the whole contract as vitest tests: every kernel against the float64 oracle on awkward
 * shapes, zero vectors, ties, bad input through the public API, resident data and leaks. Kernels the
 * backend does not implement run on the reference fallback and say so in their test names
 * (`topK on reference fallback: ...`). A case that cannot run on the backend (no `memory()` to
 * count leaks with) is reported skipped, with the reason.
 */
export function runConformance(options: ConformanceOptions): void {
  options = checkRunnerOptions('runConformance', options, ['name', 'create', 'tolerance', 'timeout']);
  const cases = conformanceCases();
  describe(`conformance: ${options.name}`, async () => {
    // Awaited while the tests are collected, where no test timeout applies: a create() that never
    // settled hung the run without a word.
    const backend = await within(options.timeout ?? 60_000, `${options.name}: create()`, options.create());
    const { providers } = resolveKernels(backend);
    let ctx: ConformanceContext | undefined;
    const skipped = new Map<string, string[]>();
    beforeAll(async () => {
      ctx = await createContext(backend, options.tolerance);
      const changed = Object.entries(ctx.providers).filter(([k, p]) => providers[k as KernelName] !== p);
      if (changed.length > 0) {
        throw new Error(
          `${options.name}: init() changed which kernels the backend implements ` +
            `(${changed.map(([k]) => k).join(', ')}); the test names would be wrong`,
        );
      }
      const own = Object.entries(ctx.providers)
        .filter(([, p]) => p === backend.name)
        .map(([k]) => k);
      console.log(`[conformance] ${options.name}: implements ${own.length ? own.join(', ') : 'no kernels'}`);
    }, options.timeout ?? 60_000);
    afterAll(async () => {
      // Printed once per reason, so a run says what it did not check and why.
      for (const [reason, names] of skipped) {
        console.log(
          `[conformance] ${options.name}: skipped ${names.length} case(s) (${names.join('; ')}): ${reason}`,
        );
      }
      ctx?.kit.dispose();
      if (ctx) await backend.dispose?.();
    });
    const disposal: ConformanceCase = {
      group: 'disposal',
      name: 'a disposed backend refuses each of its own kernels with DISPOSED (a fresh instance)',
      run: async () => {
        await checkDisposal(options.create, options.timeout ?? 30_000);
      },
    };
    for (const c of [...cases, disposal]) {
      it(
        caseTitle(c, backend.name, providers),
        async (t) => {
          try {
            await c.run(ctx!);
          } catch (e) {
            if (!(e instanceof ConformanceSkip)) throw e;
            const names = skipped.get(e.message) ?? [];
            names.push(c.kernel ? `${c.group}/${c.kernel}` : c.group);
            skipped.set(e.message, names);
            t.skip(e.message);
          }
        },
        options.timeout ?? 30_000,
      );
    }
  });
}

/** How one case ended when run by {@link runCases}: passed, failed (`error`) or skipped (`skipped`). */
export interface CaseOutcome {
  readonly case: ConformanceCase;
  readonly error?: Error;
  /** Why the case could not run on this backend, when it could not. */
  readonly skipped?: string;
}

/**
 * Runs cases outside vitest (for scripts and the suite's own tests) and collects the outcomes. A
 * case that does not settle within `timeoutMs` (default 30 s) fails saying so; the next one runs.
 */
export async function runCases(
  ctx: ConformanceContext,
  cases: ConformanceCase[] = conformanceCases(),
  timeoutMs = 30_000,
): Promise<CaseOutcome[]> {
  const out: CaseOutcome[] = [];
  for (const c of cases) {
    try {
      await within(timeoutMs, `${c.group}: ${c.name}`, c.run(ctx));
      out.push({ case: c });
    } catch (e) {
      if (e instanceof ConformanceSkip) out.push({ case: c, skipped: e.message });
      else out.push({ case: c, error: e as Error });
    }
  }
  return out;
}
