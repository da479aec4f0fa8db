import type { Backend, BackendFactory } from './contract.js';
import { argError, argErrorOf, type CosineKitError, disposeQuietly, errorText } from './errors.js';
import { createReferenceBackend } from './reference.js';
import { checkBackend } from './resolve.js';
import { describeType, valueText } from './tensor.js';

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
}

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
  disposeQuietly(old?.backend);
}

/** Removes a registration and disposes its instance, if any. */
export function unregisterBackend(name: string): boolean {
  const e = entries.get(name);
  if (!e) return false;
  entries.delete(name);
  disposeQuietly(e.backend);
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
 * (its reason stays in {@link listBackends}) and reports it to `onSkip`.
 */
export async function getBackend(
  name?: string,
  onSkip?: (name: string, reason: string) => void,
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
    return initEntry(e);
  }
  for (const s of listBackends()) {
    const e = entries.get(s.name);
    if (!e) continue;
    try {
      return await initEntry(e);
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

function initEntry(e: Entry): Promise<Backend> {
  if (e.state === 'failed') {
    return Promise.reject(initFailed(e.name, e.error));
  }
  if (!e.promise) {
    e.state = 'initialising';
    e.promise = (async () => {
      try {
        const b: unknown = await e.factory();
        checkBackend(b, 'getBackend', `factory of '${e.name}'`);
        await b.init?.();
        e.backend = b;
        e.state = 'ready';
        return b;
      } catch (err) {
        e.state = 'failed';
        e.error = errorText(err);
        throw initFailed(e.name, e.error, err);
      }
    })();
  }
  return e.promise;
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
 * got its backend before this call rejects its backend's kernels with `DISPOSED`.
 */
export async function disposeBackends(): Promise<void> {
  // Every entry starts afresh at the call, before anything is awaited: a kit made while the old
  // instances are still being disposed gets a new one, never one on its way out (it once kept the
  // disposed instance for good). An instance still initialising is disposed once it is up.
  const old = [...entries.values()];
  for (const e of old)
    entries.set(e.name, { name: e.name, factory: e.factory, priority: e.priority, state: 'registered' });
  // Every instance is disposed, whatever one of them throws; the first failure is then reported.
  let failed: { name: string; e: unknown } | undefined;
  for (const e of old) {
    const b = e.backend ?? (e.promise ? await e.promise.catch(() => undefined) : undefined);
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
