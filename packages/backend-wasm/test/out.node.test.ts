import { createCosineKit, Tensor } from '@cosinekit/core';
import { describe, expect, it } from 'vitest';
import { backend, expectClose, random, ref } from './helpers.js';

// `options.out` on the wasm backend: the matrix goes straight into the caller's array, an ordinary
// one (the calling thread copies each block out) or one over a SharedArrayBuffer (every thread
// copies its own chunks into it), and matches a fresh result bit for bit and float64 within 1e-6.
describe('kit results into a caller output (options.out) on wasm', () => {
  for (const threads of [1, 2]) {
    it(`cosineMatrix and corpus.similarity, ${threads} thread(s), awkward and large shapes`, async () => {
      const b = await backend({ threads });
      const kit = createCosineKit({ backend: b });
      try {
        // One row, d = 1, odd d, rows not a multiple of a tile, and one past the 16 MiB staging block
        // and the threading threshold (several blocks, shared with the helper).
        for (const [m, n, d] of [
          [1, 1, 1],
          [3, 7, 5],
          [37, 67, 17],
          [450, 9_500, 8],
        ] as const) {
          const ra = random(m, d, m + d);
          const rx = random(n, d, n + 2 * d);
          const a = new Tensor(ra.data, m, d);
          const x = new Tensor(rx.data, n, d);
          const want = ref.cosineMatrix(ra, rx);
          const fresh = (await kit.cosineMatrix(a, x)).data;
          const corpus = await kit.corpus(x);
          try {
            for (const shared of [false, true]) {
              const bytes = m * n * 4;
              const buf = shared ? new SharedArrayBuffer(bytes + 8) : new ArrayBuffer(bytes + 8);
              // At an offset, to prove the copies honour a view's byteOffset.
              const out = new Float32Array(buf, 8, m * n).fill(Number.NaN);
              expect((await kit.cosineMatrix(a, x, { out })).data).toBe(out);
              let differ = 0;
              for (let i = 0; i < out.length; i++) if (out[i] !== fresh[i]) differ++;
              expect(differ).toBe(0);
              expectClose(out, want, 1e-6);
              const t = new Tensor(new Float32Array(buf, 8, m * n).fill(Number.NaN), m, n);
              expect((await corpus.similarity(a, { out: t })).data).toBe(t.data);
              expectClose(t.data, want, 1e-6);
              expect(Array.from(new Float32Array(buf, 0, 2))).toEqual([0, 0]);
            }
          } finally {
            corpus.dispose();
          }
        }
      } finally {
        kit.dispose();
        b.dispose();
      }
    }, 120_000);
  }
});
