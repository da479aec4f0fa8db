import { createWebGpuBackend } from '../src/index.js';

/**
 * Whether a WebGPU device opens here (Dawn in Node, navigator.gpu in Chromium); when not, the reason,
 * printed by the suites that skip.
 */
export async function webgpuSkipReason(): Promise<string | null> {
  const b = createWebGpuBackend();
  try {
    await b.init?.();
    return null;
  } catch (e) {
    return (e as Error).message;
  } finally {
    await b.dispose?.();
  }
}
