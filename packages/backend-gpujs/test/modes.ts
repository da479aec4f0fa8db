import type { Backend } from '@cosinekit/core/backend';
import { createGpujsBackend, type GpujsBackendOptions, type RunMode } from '../src/index.js';

/** True in the Chromium project. */
export const inBrowser = typeof document !== 'undefined';

/** What `init()` of a backend in `mode` threw here, or undefined when it started. */
export function initError(mode: RunMode): unknown {
  const b = createGpujsBackend({ mode });
  try {
    b.init?.();
    return undefined;
  } catch (e) {
    return e;
  } finally {
    void b.dispose?.();
  }
}

/** Why `mode` cannot run here, or null when it can. */
export function unavailable(mode: RunMode): string | null {
  const e = initError(mode);
  return e === undefined ? null : e instanceof Error ? e.message : String(e);
}

/** The modes this environment tests, each with the reason it is skipped (null: it runs). */
export function testedModes(): { mode: RunMode; skip: string | null }[] {
  const modes: RunMode[] = inBrowser ? ['webgl2', 'webgl'] : ['webasm', 'cpu', 'headlessgl'];
  return modes.map((mode) => {
    const skip = unavailable(mode);
    if (skip) console.log(`[backend-gpujs] skipping mode ${mode}: ${skip}`);
    return { mode, skip };
  });
}

/** A backend in `mode`, initialised. */
export function backendIn(mode: RunMode, options: GpujsBackendOptions = {}): Backend {
  const b = createGpujsBackend({ ...options, mode });
  b.init?.();
  return b;
}
