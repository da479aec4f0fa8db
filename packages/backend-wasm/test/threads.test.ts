import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WasmBackend } from '../src/index.js';
import { threadsUnavailable } from '../src/threads.js';
import { backend, expectClose, random, ref } from './helpers.js';

// Where helper threads cannot run (a browser page that is not cross-origin isolated), the backend
// runs on one thread and says why; the results must be the same either way.
const why = threadsUnavailable();

for (const variant of ['simd', 'relaxed'] as const) {
  describe(`threads: 2 (${variant})`, () => {
    let b: WasmBackend;
    beforeAll(async () => {
      b = await backend({ variant, threads: 2 });
    });
    afterAll(() => b.dispose());

    it('reports the threads that run', () => {
      const info = b.describe();
      if (why === undefined) {
        expect(info.threads).toBe(2);
        expect(info.threadsRequested).toBeUndefined();
      } else {
        expect(info.threads).toBe(1);
        expect(info.threadsRequested).toBe(2);
        expect(info.threadsNote).toBe(why);
      }
    });

    it('shares large products and searches without changing results', () => {
      // 5003 corpus rows: the shares end on panel boundaries and the last panel is partial.
      for (const [m, n, d] of [
        [37, 5003, 200],
        [1, 20011, 67],
        [256, 1001, 64],
      ]) {
        const q = random(m, d, m + d);
        const x = random(n, d, n + d);
        const want = ref.cosineMatrix(q, x);
        expectClose(b.kernels.cosineMatrix(q, x), want, 1e-6);
        const c = b.kernels.createCorpus(x);
        expectClose(b.kernels.corpusMatrix(c, q), want, 1e-6);
        const got = b.kernels.corpusSearch(c, q, 7);
        const best = ref.topK(q, x, 7);
        expect([...got.indices]).toEqual([...best.indices]);
        c.dispose();
        const c8 = b.kernels.createCorpus(x, { storage: 'int8', rerank: 8 });
        const g8 = b.kernels.corpusSearch(c8, q.rows > 4 ? random(4, d, 9) : q, 7);
        expect(g8.indices.length).toBe(Math.min(4, m) * 7);
        c8.dispose();
        const q8 = b.kernels.createCorpus(x, { storage: 'int8' });
        expectClose(b.kernels.corpusMatrix(q8, q), want, 2e-2);
        q8.dispose();
      }
      const mm = [random(300, 500, 1), random(500, 400, 2)] as const;
      expectClose(b.kernels.matmul(mm[0], mm[1], false, false), ref.matmul(mm[0], mm[1], false, false), 1e-4);
      expect(b.memory()).toEqual({ residentHandles: 0, bytes: 0 });
    });
  });
}
