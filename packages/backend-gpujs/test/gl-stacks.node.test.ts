/**
 * gpu.js's headless GL and the WebGPU backend's Dawn in one Node process, Dawn first (this file
 * runs in a process of its own). Headless GL's context beside Dawn's ended the process with an X
 * error (BadAccess, X_GLXMakeCurrent) before any error could reach the caller; gpu.js now passes
 * over headlessgl there, saying why.
 */

import { createWebGpuBackend } from '@cosinekit/backend-webgpu';
import { createCosineKit } from '@cosinekit/core';
import { type Backend, isCosineKitError, referenceKernels } from '@cosinekit/core/backend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGpujsBackend } from '../src/index.js';
import { initError } from './modes.js';

let dawn: Backend | undefined;
let noDawn: string | null = null;

beforeAll(async () => {
  const b = createWebGpuBackend();
  try {
    await b.init?.();
    dawn = b;
  } catch (e) {
    noDawn = e instanceof Error ? e.message : String(e);
    console.log(
      `[backend-gpujs] gpu.js beside Dawn not checked: the WebGPU backend has no device here: ${noDawn}`,
    );
  }
});
afterAll(async () => {
  await dawn?.dispose?.();
});

describe('gpu.js after the WebGPU backend (Dawn) in one Node process', () => {
  it("'auto' passes over headlessgl, naming Dawn, and runs (the process used to end)", async (ctx) => {
    if (noDawn !== null) ctx.skip();
    const b = createGpujsBackend();
    await b.init?.();
    const d = b.describe!();
    expect(d.mode === 'webasm' || d.mode === 'cpu').toBe(true);
    expect(String(d.skipped)).toMatch(/headlessgl: the WebGPU backend's Dawn has opened a GL context/);
    const kit = createCosineKit({ backend: b });
    const rows = { data: Float32Array.from([1, 2, 3, 3, 2, 1, 0, 0, 1]), rows: 3, cols: 3 };
    const got = await kit.cosineMatrix(
      [
        [1, 2, 3],
        [3, 2, 1],
        [0, 0, 1],
      ],
      [
        [1, 2, 3],
        [3, 2, 1],
        [0, 0, 1],
      ],
    );
    const want = referenceKernels.cosineMatrix(rows, rows) as Float32Array;
    for (let i = 0; i < want.length; i++) expect(Math.abs(got.data[i] - want[i])).toBeLessThan(1e-6);
    kit.dispose();
    await b.dispose?.();
  });

  it("an explicit 'headlessgl' fails init with UNSUPPORTED and the reason, never touching GL", (ctx) => {
    if (noDawn !== null) ctx.skip();
    const error = initError('headlessgl');
    expect(isCosineKitError(error, 'UNSUPPORTED')).toBe(true);
    expect(String((error as Error).message)).toMatch(
      /Dawn has opened a GL context in this process.*mode 'webasm'/,
    );
  });
});
