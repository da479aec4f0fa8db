import { createCosineKit } from '@cosinekit/core';
import { expect, it } from 'vitest';
import { createKahanBackend } from '../src/index.js';

it('runs its own kernels and falls back to the reference for the rest', async () => {
  const kit = createCosineKit({ backend: createKahanBackend() });
  const info = await kit.ready();
  expect(info.providers.cosineRows).toBe('kahan');
  expect(info.providers.cosineMatrix).toBe('reference');
  const r = await kit.cosineRows([[1, 2, 3]], [[2, 4, 6]]);
  expect(r[0]).toBe(1);
  const m = await kit.cosineMatrix(
    [[1, 0]],
    [
      [0, 1],
      [1, 1],
    ],
  );
  expect(m.data[0]).toBe(0);
  expect(m.data[1]).toBeCloseTo(Math.SQRT1_2, 6);
});
