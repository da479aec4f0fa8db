/** In headless Chromium: a worker that fails rejects the kit's calls with BACKEND_ERROR. */
import { isCosineKitError } from '@cosinekit/core';
import { describe, expect, it } from 'vitest';
import { createWorkerKit } from '../src/index.js';

describe('a failing worker in the browser', () => {
  it('an uncaught error in the worker rejects the pending call and later ones; the worker, ended, is refused at once when handed over again', async () => {
    const worker = new Worker(new URL('./fixtures/crash-worker.ts', import.meta.url), { type: 'module' });
    const kit = await createWorkerKit({ worker, backend: 'crashy' });
    const e = await kit.cosineRows([[1, 2]], [[2, 1]]).catch((x) => x);
    expect(isCosineKitError(e, 'BACKEND_ERROR')).toBe(true);
    expect(e.message).toContain('the crashy backend fell over');
    await expect(kit.rowNorms([[1]])).rejects.toMatchObject({ code: 'BACKEND_ERROR', op: 'rowNorms' });
    kit.dispose();
    // It waited out the whole start-up bound (60 s): the kit had terminated it, and a terminated
    // worker says nothing.
    await expect(createWorkerKit({ worker, backend: 'crashy' })).rejects.toMatchObject({
      code: 'BACKEND_INIT_FAILED',
      op: 'createWorkerKit',
      arg: 'worker',
      message: expect.stringMatching(/ended by a kit/),
    });
  });

  it('a worker terminated from outside, or closing itself, rejects the pending call and later ones (they waited for good: a browser gives no event for either)', async () => {
    const rows = Array.from({ length: 10 }, (_, i) =>
      Array.from({ length: 16 }, (_, j) => Math.sin(i * 16 + j)),
    );
    for (const how of ['terminate', 'close'] as const) {
      const w = new Worker(new URL('./fixtures/close-worker.ts', import.meta.url), { type: 'module' });
      const kit = await createWorkerKit({ worker: w, backend: 'reference' });
      const c = await kit.corpus(rows);
      expect((await c.search([rows[3]], 1)).hits(0).indices[0]).toBe(3);
      if (how === 'terminate') {
        // A call in flight when it went.
        const inflight = c.search([rows[1]], 2).catch((x: unknown) => x);
        w.terminate();
        const e = await inflight;
        expect(isCosineKitError(e, 'BACKEND_ERROR'), 'in flight').toBe(true);
      } else {
        w.postMessage('CLOSE');
        await new Promise((r) => setTimeout(r, 200));
      }
      const e = await c.search([rows[0]], 2).catch((x: unknown) => x);
      expect(isCosineKitError(e, 'BACKEND_ERROR'), how).toBe(true);
      expect((e as Error).message, how).toMatch(how === 'terminate' ? /was terminated/ : /closed itself/);
      await expect(kit.rowNorms([[1]]), how).rejects.toMatchObject({ code: 'BACKEND_ERROR', op: 'rowNorms' });
      kit.dispose();
    }
  });

  it('a frozen Worker serves a kit (it was refused: its terminate could not be replaced)', async () => {
    const w = Object.freeze(
      new Worker(new URL('./fixtures/close-worker.ts', import.meta.url), { type: 'module' }),
    );
    const kit = await createWorkerKit({ worker: w, backend: 'reference' });
    const [c] = await kit.cosineRows([[1, 2]], [[2, 1]]);
    expect(c).toBeCloseTo(0.8, 6);
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
