import type { Backend, BackendFactory } from './contract.js';
import { argError, argErrorOf, type CosineKitError, disposeQuietly, errorText } from './errors.js';
import { createReferenceBackend } from './reference.js';
import { checkBackend } from './resolve.js';
import { describeType, valueText } from './tensor.js';
import { bounded } from './timer.js';

/** Where a registered backend stands. */
export type BackendState = 'registered' | 'initialising' | 'ready' | 'failed';

/** One row of {@link listBackends}. */
export interface BackendStatus {
  readonly name: string;
  readonly priority: number;
  readonly state: BackendState;
  /** Why `init()` failed, when `state === 'failed'`. */
  readonly error?: string;
}

interface Entry {
  name: string;
  factory: BackendFactory;
  priority: number;
  state: BackendState;
  error?: string;
  promise?: Promise<Backend>;
  backend?: Backend;
  /** Rejects every caller still waiting once one of them gave up on a start that never settled. */
  abandon?: Promise<never>;
  giveUp?: (e: CosineKitError) => void;
}

/** How long a registered backend's factory and `init()` may take before it counts as failed. */
const INIT_TIMEOUT_MS = 60_000;

const entries = new Map<string, Entry>();

/** Priority of the built-in reference backend; anything registered with a higher one is preferred. */
export const REFERENCE_PRIORITY = 0;

/**
 * Registers a backend under `name`. The factory runs, and `init()` is awaited, the first time the
 * backend is asked for. Higher `priority` wins when the best available backend is chosen.
 * Registering a name again replaces the earlier registration (and disposes its instance).
 */
export function registerBackend(name: string, factory: BackendFactory, priority = 1): void {
  if (typeof name !== 'string' || name.length === 0)
    argError('INVALID_ARGUMENT', 'registerBackend', 'name', 'must be a non-empty string.');
  if (typeof factory !== 'function')
    argError('INVALID_TYPE', 'registerBackend', 'factory', 'must be a function.');
  if (typeof priority !== 'number' || !Number.isFinite(priority))
    argError(
      'INVALID_ARGUMENT',
      'registerBackend',
      'priority',
      `must be a finite number, got ${valueText(priority)}.`,
    );
  const old = entries.get(name);
  entries.set(name, { name, factory, priority, state: 'registered' });
  if (old) release(old);
}

/**
 * Disposes entry `e`'s instance: now when it is up, or once it is when its `init()` is still
 * running (an instance replaced or unregistered mid-start was left running for good).
 */
function release(e: Entry): void {
  if (e.backend) disposeQuietly(e.backend);
  else e.promise?.then(disposeQuietly, () => undefined);
}

/** Removes a registration and disposes its instance, if any. */
export function unregisterBackend(name: string): boolean {
  const e = entries.get(name);
  if (!e) return false;
  entries.delete(name);
  release(e);
  return true;
}

/** Every registered backend, best priority first, with its state and any init failure. */
export function listBackends(): BackendStatus[] {
  return [...entries.values()]
    .sort((a, b) => b.priority - a.priority)
    .map((e) => ({
      name: e.name,
      priority: e.priority,
      state: e.state,
      ...(e.error ? { error: e.error } : {}),
    }));
}

/**
 * The initialised backend called `name`, or the best available one when `name` is omitted.
 * Initialisation runs once; concurrent callers share it. A named backend that fails to
 * initialise throws `BACKEND_INIT_FAILED` with its reason; the best-available search skips it
 * (its reason stays in {@link listBackends}) and reports it to `onSkip`. A factory and `init()`
 * that have not settled after `timeoutMs` (default 60 s; 0, Infinity or past 2^31 - 1 ms, a
 * timer's range: no bound) count as failed, so one start that hangs neither holds up the best-available search
 * (the next backend is tried) nor any later caller; an instance that comes up after that is
 * disposed.
 */
export async function getBackend(
  name?: string,
  onSkip?: (name: string, reason: string) => void,
  timeoutMs: number = INIT_TIMEOUT_MS,
): Promise<Backend> {
  if (onSkip !== undefined && typeof onSkip !== 'function')
    argError('INVALID_TYPE', 'getBackend', 'onSkip', `must be a function, got ${describeType(onSkip)}.`);
  if (name !== undefined) {
    if (typeof name !== 'string')
      argError('INVALID_TYPE', 'getBackend', 'name', `must be a backend's name, got ${describeType(name)}.`);
    const e = entries.get(name);
    if (!e) {
      const known = [...entries.keys()].join(', ');
      argError(
        'UNKNOWN_BACKEND',
        'getBackend',
        'name',
        `is '${name}', but no backend by that name is registered (registered: ${known}).`,
      );
    }
    return currentInstance(e, timeoutMs);
  }
  for (const s of listBackends()) {
    const e = entries.get(s.name);
    if (!e) continue;
    try {
      return await currentInstance(e, timeoutMs);
    } catch (err) {
      onSkip?.(e.name, e.error ?? errorText(err));
    }
  }
  // Unreachable while the reference is registered, but keep the failure explicit.
  return argError(
    'BACKEND_INIT_FAILED',
    'getBackend',
    'name',
    'was omitted, and no registered backend could be initialised.',
  );
}

/**
 * `e`'s instance once it is up, or, when {@link disposeBackends} reset the entry while it started
 * (that instance is then disposed once it is up), the instance of the entry that replaced it: a
 * kit starting then got the instance on its way out, and every call of it was `DISPOSED`.
 */
async function currentInstance(e: Entry, timeoutMs: number): Promise<Backend> {
  for (;;) {
    const b = await initEntry(e, timeoutMs);
    const now = entries.get(e.name);
    if (now === undefined || now === e) return b;
    e = now;
  }
}

function initEntry(e: Entry, timeoutMs: number): Promise<Backend> {
  if (e.state === 'failed') {
    return Promise.reject(initFailed(e.name, e.error));
  }
  if (!e.promise) {
    e.state = 'initialising';
    e.abandon = new Promise<never>((_, reject) => {
      e.giveUp = reject;
    });
    // Nobody may be waiting on it when it fires: never an unhandled rejection.
    e.abandon.catch(() => undefined);
    e.promise = (async () => {
      let b: Backend | undefined;
      try {
        const made: unknown = await e.factory();
        checkBackend(made, 'getBackend', `factory of '${e.name}'`);
        b = made;
        await b.init?.();
      } catch (err) {
        if (e.state === 'initialising') {
          e.state = 'failed';
          e.error = errorText(err);
        }
        // An instance whose init() failed is nobody's either: what it acquired before failing (a
        // wasm instance's helper threads, a GPU device) stayed for the process's life.
        if (b) disposeQuietly(b);
        throw initFailed(e.name, e.error, err);
      }
      // Given up on meanwhile: the late instance is nobody's, so it goes.
      if (e.state === 'failed') {
        disposeQuietly(b);
        throw initFailed(e.name, e.error);
      }
      e.backend = b;
      e.state = 'ready';
      return b;
    })();
    e.promise.catch(() => undefined);
  }
  if (e.state === 'ready' || !bounded(timeoutMs)) return e.promise;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      if (e.state === 'initialising') {
        e.state = 'failed';
        e.error = `its factory and init() did not settle within ${timeoutMs} ms.`;
        e.giveUp?.(initFailed(e.name, e.error));
      }
      reject(initFailed(e.name, e.error));
    }, timeoutMs);
  });
  return Promise.race([e.promise, e.abandon!, late]).finally(() => clearTimeout(timer));
}

function initFailed(name: string, why: string | undefined, cause?: unknown): CosineKitError {
  return argErrorOf(
    'BACKEND_INIT_FAILED',
    'getBackend',
    'name',
    `is '${name}', whose backend failed to initialise: ${why}`,
    cause,
  );
}

/**
 * Disposes every initialised backend and resets them to `registered`: the next `getBackend` (or
 * a new kit), from the moment of the call on, makes a fresh instance from its factory, whether or
 * not the returned promise was awaited. Disposal is final for the instances disposed, so a kit that
 * got its backend before this call rejects its backend's kernels with `DISPOSED`; one whose backend
 * was still starting gets the fresh instance. A backend without
 * a `dispose()` holds nothing to release and is left as it is: the reference backend, and a kit on
 * it, keep answering.
 */
export async function disposeBackends(): Promise<void> {
  // Every entry starts afresh at the call, before anything is awaited: a kit made while the old
  // instances are still being disposed gets a new one, never one on its way out (it once kept the
  // disposed instance for good). An instance still initialising is disposed once it is up.
  const old = [...entries.values()];
  for (const e of old)
    entries.set(e.name, { name: e.name, factory: e.factory, priority: e.priority, state: 'registered' });
  // Every instance is disposed, whatever one of them throws; the first failure is then reported.
  // One still starting is awaited and disposed once it is up, unless its start was given up on
  // (it never settled within the registry's bound): then it is disposed if it ever comes up.
  let failed: { name: string; e: unknown } | undefined;
  for (const e of old) {
    const b =
      e.backend ??
      (e.promise && e.abandon
        ? await Promise.race([e.promise, e.abandon]).catch(() => {
            release(e);
            return undefined;
          })
        : undefined);
    try {
      await b?.dispose?.();
    } catch (err) {
      failed ??= { name: e.name, e: err };
    }
  }
  if (failed)
    throw argErrorOf(
      'BACKEND_ERROR',
      'disposeBackends',
      'backend',
      `'${failed.name}' failed to dispose: ${errorText(failed.e)}`,
      failed.e,
    );
}

registerBackend('reference', createReferenceBackend, REFERENCE_PRIORITY);
