import { Tensor } from '@cosinekit/core';
import { expect, it } from 'vitest';
import { createGpujsBackend } from '../src/index.js';
import { inBrowser, unavailable } from './modes.js';

it('a corpus released with its engine by backend.dispose() is DISPOSED, not foreign', async () => {
  const b = createGpujsBackend({ mode: 'cpu' });
  await b.init?.();
  const c = await b.kernels.createCorpus!(new Tensor(new Float32Array([1, 0, 0, 1]), 2, 2));
  await b.dispose?.();
  expect(c.disposed).toBe(true);
  // The backend is disposed too, and says so first (no engine reopens behind the caller).
  expect(() => b.kernels.corpusSearch!(c, new Tensor(new Float32Array([1, 0]), 1, 2), 1)).toThrow(
    expect.objectContaining({ code: 'DISPOSED', op: 'corpusSearch', arg: 'backend' }),
  );
  expect(b.describe?.()).toMatchObject({ state: 'disposed' });
  expect(b.memory?.()).toEqual({ residentHandles: 0, objects: 0 });
});

it('refuses options that are not an object by name', () => {
  for (const bad of [null, 'cpu', ['cpu'], 1])
    expect(() => createGpujsBackend(bad as never)).toThrow(
      expect.objectContaining({ code: 'INVALID_TYPE', op: 'createGpujsBackend', arg: 'options' }),
    );
  expect(() => createGpujsBackend({ mdoe: 'cpu' } as never)).toThrow(
    expect.objectContaining({ code: 'INVALID_ARGUMENT', op: 'createGpujsBackend', arg: 'options.mdoe' }),
  );
});

// Headless GL can destroy its context from outside (STACKGL_destroy_context); a browser's
// WEBGL_lose_context is not offered there.
const noGl = inBrowser ? 'it is a Node-only headless GL check' : unavailable('headlessgl');
if (noGl) console.log(`[backend-gpujs] dispose after a destroyed GL context not checked: ${noGl}`);
it.skipIf(noGl !== null)(
  'dispose() resolves after the GL context was destroyed from outside, and counts nothing left (it rejected, corpora still counted)',
  async () => {
    const b = createGpujsBackend({ mode: 'headlessgl' });
    await b.init?.();
    const c = await b.kernels.createCorpus!(new Tensor(new Float32Array([1, 0, 0, 1, 1, 1]), 3, 2));
    const gl = (c as unknown as { engine: { gpu: { context: WebGLRenderingContext } } }).engine.gpu.context;
    (gl.getExtension('STACKGL_destroy_context') as { destroy(): void } | null)?.destroy();
    await expect(b.dispose?.()).resolves.toBeUndefined();
    expect(c.disposed).toBe(true);
    expect(b.memory?.()).toEqual({ residentHandles: 0, objects: 0 });
  },
);
