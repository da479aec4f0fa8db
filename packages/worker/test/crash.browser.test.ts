/** In headless Chromium: a worker that fails rejects the kit's calls with BACKEND_ERROR. */
import { isCosineKitError } from '@cosinekit/core';
import { describe, expect, it } from 'vitest';
import { createWorkerKit } from '../src/index.js';

describe('a failing worker in the browser', () => {
  it('an uncaught error in the worker rejects the pending call and later ones', async () => {
    const kit = await createWorkerKit({
      worker: new Worker(new URL('./fixtures/crash-worker.ts', import.meta.url), { type: 'module' }),
      backend: 'crashy',
    });
    const e = await kit.cosineRows([[1, 2]], [[2, 1]]).catch((x) => x);
    expect(isCosineKitError(e, 'BACKEND_ERROR')).toBe(true);
    expect(e.message).toContain('the crashy backend fell over');
    await expect(kit.rowNorms([[1]])).rejects.toMatchObject({ code: 'BACKEND_ERROR', op: 'rowNorms' });
    kit.dispose();
  });

  it('a worker script that does not load rejects createWorkerKit', async () => {
    const e = await createWorkerKit({
      worker: new URL('./fixtures/no-such-worker.js', import.meta.url),
    }).catch((x) => x);
    expect(isCosineKitError(e, 'BACKEND_ERROR')).toBe(true);
    expect(e.op).toBe('createWorkerKit');
    // Says why and which script (it said "an error outside any call").
    expect(e.message).toMatch(/its script \(.*no-such-worker\.js\) did not load/);
  });
});
