import { Tensor } from '@cosinekit/core';
import { expect, it } from 'vitest';
import { createGpujsBackend } from '../src/index.js';

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
