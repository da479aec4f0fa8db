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

// Node's structured clone writes a view's byte offset and length as 32-bit values: an out 4 GiB
// into its SharedArrayBuffer reached the helper thread as a view at offset 0, and 2.1 million of
// ten million cosines went there, outside the out, while the out kept zeros (a limits probe). The
// buffer is reserved, not touched: only the out's pages and the first ones become resident.
describe('an out at 4 GiB or more into its SharedArrayBuffer, 2 threads', () => {
  it('cosineMatrix and corpus.similarity write every cosine into the out and nothing before it', async (ctx) => {
    const [m, n, d] = [300, 9_000, 8];
    let buf: SharedArrayBuffer;
    try {
      buf = new SharedArrayBuffer(2 ** 32 + m * n * 4);
    } catch (e) {
      console.warn(`[backend-wasm] 4 GiB SharedArrayBuffer cannot be reserved here: ${String(e)}`);
      ctx.skip();
      return;
    }
    const b = await backend({ threads: 2 });
    const kit = createCosineKit({ backend: b });
    try {
      const ra = random(m, d, 11);
      const rx = random(n, d, 12);
      const a = new Tensor(ra.data, m, d);
      const x = new Tensor(rx.data, n, d);
      const want = ref.cosineMatrix(ra, rx);
      const head = new Float32Array(buf, 0, m * n);
      const out = new Float32Array(buf, 2 ** 32, m * n);
      expect((await kit.cosineMatrix(a, x, { out })).data).toBe(out);
      expectClose(out, want, 1e-6);
      const corpus = await kit.corpus(x);
      out.fill(Number.NaN);
      expect((await corpus.similarity(a, { out })).data).toBe(out);
      expectClose(out, want, 1e-6);
      corpus.dispose();
      let written = 0;
      for (let i = 0; i < head.length; i++) if (head[i] !== 0) written++;
      expect(written).toBe(0);
    } finally {
      kit.dispose();
      b.dispose();
    }
  }, 120_000);
});
