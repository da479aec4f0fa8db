/**
 * gpu.js after a WebGPU backend given Dawn by its caller (`createWebGpuBackend({ gpu: create(...) })`,
 * on OpenGL ES) in one Node process (this file runs in a process of its own). Only Dawn the
 * backend loaded itself used to keep gpu.js off headless GL: given Dawn, the process still ended
 * with an X error. Any adapter on OpenGL in Node now does.
 */

import { createWebGpuBackend } from '@cosinekit/backend-webgpu';
import { createCosineKit } from '@cosinekit/core';
import { type Backend, isCosineKitError } from '@cosinekit/core/backend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGpujsBackend } from '../src/index.js';
import { initError } from './modes.js';

let dawn: Backend | undefined;
let noDawn: string | null = null;

beforeAll(async () => {
  process.env.EGL_PLATFORM ??= 'surfaceless';
  try {
    const { create } = (await import('webgpu')) as { create(flags: string[]): unknown };
    const b = createWebGpuBackend({
      gpu: create(['backend=opengles', 'featureLevel=compatibility']) as never,
    });
    await b.init?.();
    dawn = b;
  } catch (e) {
    noDawn = e instanceof Error ? e.message : String(e);
    console.log(`[backend-gpujs] gpu.js beside a given Dawn not checked: no WebGPU device here: ${noDawn}`);
  }
});
afterAll(async () => {
  await dawn?.dispose?.();
});

describe('gpu.js after a WebGPU backend on a Dawn its caller gave it', () => {
  it("'auto' passes over headlessgl and runs; an explicit 'headlessgl' is UNSUPPORTED", async (ctx) => {
    if (noDawn !== null) ctx.skip();
    const b = createGpujsBackend();
    await b.init?.();
    expect(String(b.describe!().skipped)).toMatch(/Dawn has opened a GL context/);
    const kit = createCosineKit({ backend: b });
    const got = await kit.cosineRows([[1, 2, 3]], [[3, 2, 1]]);
    expect(Math.abs(got[0] - 10 / 14)).toBeLessThan(1e-6);
    kit.dispose();
    await b.dispose?.();
    expect(isCosineKitError(initError('headlessgl'), 'UNSUPPORTED')).toBe(true);
  });
});
