import type { Backend } from '@cosinekit/core/backend';
import { createGpujsBackend, type GpujsBackendOptions, type RunMode } from '../src/index.js';

/** True in the Chromium project. */
export const inBrowser = typeof document !== 'undefined';

/** Why `mode` cannot run here, or null when it can. */
export function unavailable(mode: RunMode): string | null {
  const b = createGpujsBackend({ mode });
  try {
    b.init?.();
    return null;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  } finally {
    void b.dispose?.();
  }
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
