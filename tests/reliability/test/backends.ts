import { createGpujsBackend } from '@cosinekit/backend-gpujs';
import { createTfjsBackend } from '@cosinekit/backend-tfjs';
import { createWasmBackend } from '@cosinekit/backend-wasm';
import type { Backend } from '@cosinekit/core';
import { createReferenceBackend } from '@cosinekit/core/backend';

/** A backend this package exercises, made fresh for each test file. */
export interface BackendUnderTest {
  readonly label: string;
  readonly create: () => Backend;
  /** Why it cannot run here, or null. */
  readonly skip: string | null;
  /** Share of the soak's call count it runs: the interpreted and software-GL modes are slow per call. */
  readonly soakShare: number;
}

/** Why `create()`'s backend cannot start here (gpu.js headlessgl needs an X server and the native `gl`). */
function unavailable(create: () => Backend): string | null {
  const b = create();
  try {
    const r = b.init?.();
    if (r instanceof Promise) r.catch(() => undefined);
    return null;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  } finally {
    void b.dispose?.();
  }
}

const all: Omit<BackendUnderTest, 'skip'>[] = [
  { label: 'reference', create: () => createReferenceBackend(), soakShare: 1 },
  { label: 'wasm (simd)', create: () => createWasmBackend({ variant: 'simd' }), soakShare: 1 },
  { label: 'wasm (relaxed)', create: () => createWasmBackend({ variant: 'relaxed' }), soakShare: 1 },
  { label: 'tfjs-wasm', create: () => createTfjsBackend({ engine: 'wasm' }), soakShare: 1 },
  { label: 'tfjs-cpu', create: () => createTfjsBackend({ engine: 'cpu' }), soakShare: 0.25 },
  { label: 'gpujs webasm', create: () => createGpujsBackend({ mode: 'webasm' }), soakShare: 1 },
  { label: 'gpujs cpu', create: () => createGpujsBackend({ mode: 'cpu' }), soakShare: 1 },
  { label: 'gpujs headlessgl', create: () => createGpujsBackend({ mode: 'headlessgl' }), soakShare: 0.2 },
];

/** Every backend available in Node, each with the reason it is skipped (null: it runs). */
export const BACKENDS: readonly BackendUnderTest[] = all.map((b) => ({
  ...b,
  skip: b.label.startsWith('gpujs') ? unavailable(b.create) : null,
}));

/** `n` rows of dimension `d`, seeded (xorshift), values in [-1, 1). */
export function rows(n: number, d: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n * d);
  for (let i = 0; i < out.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = (s >>> 0) / 2147483648 - 1;
  }
  return out;
}
