import { type Backend, type CosineKit, createCosineKit } from '@cosinekit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from './backends.js';
import { bits, SNAP_C, SNAP_IDS, SNAPSHOT_CASES, TAMPERS, tamper } from './snapshot-cases.js';

for (const b of BACKENDS) {
  describe.skipIf(b.skip !== null)(`snapshot rule: ${b.label}`, () => {
    let backend: Backend;
    let kit: CosineKit;
    beforeAll(async () => {
      backend = b.create();
      kit = createCosineKit({ backend });
      await kit.ready();
    });
    afterAll(async () => {
      kit.dispose();
      await backend.dispose?.();
    });

    for (const c of SNAPSHOT_CASES) {
      for (const how of TAMPERS) {
        it(`${c.input}, caller's arrays then ${how === 'transfer' ? 'transferred' : `overwritten with ${how === 'NaN' ? 'NaN' : '0.5'}`}: same answer as untouched`, async () => {
          const control = await kit.corpus(SNAP_C, { ids: SNAP_IDS });
          const corpus = await kit.corpus(SNAP_C, { ids: SNAP_IDS });
          try {
            const want = bits(await c.call(kit, control).pending);
            const called = c.call(kit, corpus);
            tamper(called, how);
            expect(bits(await called.pending)).toBe(want);
          } finally {
            control.dispose();
            corpus.dispose();
          }
        });
      }
    }

    it('no resident handle is left behind', () => {
      expect(backend.memory?.().residentHandles ?? 0).toBe(0);
    });
  });
}
