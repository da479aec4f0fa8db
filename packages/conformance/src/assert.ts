import { argError, describeType, errorText, ownOptions, valueText } from '@cosinekit/core/backend';
/** Assertions that throw plain Errors, so the checks run under any test runner. */

/** A check found the backend wrong; the message says what, where, and by how much. */
export class ConformanceFailure extends Error {
  override readonly name = 'ConformanceFailure';
}

export function fail(message: string): never {
  throw new ConformanceFailure(message);
}

export function check(cond: boolean, message: string): asserts cond {
  if (!cond) fail(message);
}

/**
 * `p`, or a `ConformanceFailure` saying that `what` did not settle within `ms` milliseconds: a
 * backend whose call never settles fails the check that made it rather than hanging the run (the
 * timer does not keep a Node process alive).
 */
export async function within<T>(ms: number, what: string, p: Promise<T> | T): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      Promise.resolve(p),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new ConformanceFailure(`${what} did not settle within ${ms} ms`)),
          ms,
        );
        (timer as { unref?: () => void }).unref?.();
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Every `got[i]` within `tol(i)` of `want[i]`; reports the worst element. `NaN` never passes.
 */
export function assertClose(
  what: string,
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  tol: (i: number) => number,
): void {
  check(got.length >= want.length, `${what}: result has length ${got.length}, expected ${want.length}`);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    if (!(err <= tol(i))) {
      const excess = Number.isNaN(err) ? Number.POSITIVE_INFINITY : err / tol(i);
      if (worst < 0 || excess > worstExcess) {
        worst = i;
        worstExcess = excess;
      }
    }
  }
  if (worst >= 0) {
    fail(
      `${what}: element ${worst} is ${got[worst]}, expected ${want[worst]} ` +
        `(error ${Math.abs(got[worst] - want[worst]).toExponential(2)} > tolerance ${tol(worst).toExponential(2)})`,
    );
  }
}

/** Awaits `fn` and checks it throws a CosineKitError with `code` whose message names `op` and `arg`. */
export async function assertRejects(
  what: string,
  fn: () => unknown,
  code: string,
  names: { op?: string; arg?: string } = {},
): Promise<void> {
  let err: unknown;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  check(err !== undefined, `${what}: expected a CosineKitError '${code}', but the call succeeded`);
  const e = err as { name?: string; code?: string; message?: string };
  check(e.name === 'CosineKitError', `${what}: expected a CosineKitError, got ${errorText(err)}`);
  check(e.code === code, `${what}: expected code '${code}', got '${e.code}' (${e.message})`);
  if (names.op)
    check(
      e.message!.includes(`'${names.op}'`),
      `${what}: message does not name the operation '${names.op}': ${e.message}`,
    );
  if (names.arg)
    check(
      e.message!.includes(`'${names.arg}'`),
      `${what}: message does not name the argument '${names.arg}': ${e.message}`,
    );
}

/**
 * Thrown by a case that cannot run on this backend (e.g. it has no `memory()` to count leaks
 * with). The runner reports the case as skipped, with the reason, rather than as passed.
 */
export class ConformanceSkip extends Error {
  override readonly name = 'ConformanceSkip';
}

export function skip(reason: string): never {
  throw new ConformanceSkip(reason);
}

/**
 * The options of a suite runner (`runConformance`, `runProperties`) checked when it is called:
 * an object holding only `keys`, a `name` string, a `create` function, and `numRuns` (an integer
 * >= 1), `seed` (an integer >= 0) and `timeout` (a number of ms > 0) where given. A suite that
 * ran no case (`numRuns: 0`), an unreplayable seed or a misspelt option once passed silently.
 * Returns the options' copy, each key read once.
 */
export function checkRunnerOptions<T extends object>(op: string, options: T, keys: readonly string[]): T {
  const o = ownOptions(op, options, keys) as Record<string, unknown>;
  if (typeof o.name !== 'string' || o.name === '')
    argError('INVALID_TYPE', op, 'options.name', `must be a non-empty string, got ${valueText(o.name)}.`);
  if (typeof o.create !== 'function')
    argError('INVALID_TYPE', op, 'options.create', `must be a function, got ${describeType(o.create)}.`);
  const least: Record<string, number> = { numRuns: 1, seed: 0 };
  for (const key of ['numRuns', 'seed'])
    if (o[key] !== undefined && !(Number.isSafeInteger(o[key]) && (o[key] as number) >= least[key]))
      argError(
        'INVALID_ARGUMENT',
        op,
        `options.${key}`,
        `must be an integer of at least ${least[key]}, got ${valueText(o[key])}.`,
      );
  if (o.timeout !== undefined && !(typeof o.timeout === 'number' && o.timeout > 0))
    argError(
      'INVALID_ARGUMENT',
      op,
      'options.timeout',
      `must be a number of ms > 0, got ${valueText(o.timeout)}.`,
    );
  return o as T;
}
