/**
 * The WebGPU backend (Dawn) after gpu.js's headless GL in one Node process (this file runs in a
 * process of its own): Dawn finds no adapter beside headless GL's context, and its error used to
 * say only "offers no WebGPU adapter on this machine". It now says what took the GL stack.
 */
import { createWebGpuBackend } from '@cosinekit/backend-webgpu';
import { describe, expect, it } from 'vitest';
import { createGpujsBackend } from '../src/index.js';
import { unavailable } from './modes.js';

const noHeadless = unavailable('headlessgl');
if (noHeadless !== null) console.log(`[backend-gpujs] Dawn after headless GL not checked: ${noHeadless}`);

describe('the WebGPU backend after gpu.js headlessgl in one Node process', () => {
  it('fails init naming headless GL as the cause, or runs where both can share the process', async (ctx) => {
    if (noHeadless !== null) ctx.skip();
    const gl = createGpujsBackend({ mode: 'headlessgl' });
    gl.init?.();
    const b = createWebGpuBackend();
    let error: unknown;
    try {
      await b.init?.();
    } catch (e) {
      error = e;
    }
    if (error === undefined) {
      console.log('[backend-gpujs] Dawn started beside headless GL here: nothing to explain');
      expect(b.describe?.().state).not.toBe('disposed');
    } else {
      expect(String((error as Error).message)).toMatch(
        /gpu\.js's headless GL opened a GL context on this thread first.*another process/,
      );
    }
    await b.dispose?.();
    await gl.dispose?.();
  });
});
