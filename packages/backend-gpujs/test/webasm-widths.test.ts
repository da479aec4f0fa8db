import { cosineMatrix64 } from '@cosinekit/conformance';
import { createCosineKit, Tensor } from '@cosinekit/core';
import { describe, expect, it } from 'vitest';
import { createEngine, MAX_WASM_KERNELS } from '../src/engine.js';
import { createGpujsBackend } from '../src/index.js';

/**
 * gpu.js's webasm mode gives each compiled kernel WebAssembly memories, and Chromium refuses more
 * after a hundred or so: a kit asked for cosine matrices of one row width after another failed at
 * the 25th width with OUT_OF_MEMORY, and every call after it, a 1 x 3 one included (found by a
 * browser probe; Node allowed more). The engine keeps at most MAX_WASM_KERNELS kernels, the least
 * recently used destroyed.
 */
describe('gpu.js webasm mode over many row widths', () => {
  it('answers cosine matrices for 120 widths in a row, each within 2e-6 of float64, and a small call after them', async () => {
    const kit = createCosineKit({ backend: createGpujsBackend({ mode: 'webasm' }) });
    try {
      for (let d = 1; d <= 120; d++) {
        const a = Float32Array.from({ length: 3 * d }, (_, i) => Math.sin(i + d));
        const b = Float32Array.from({ length: 5 * d }, (_, i) => Math.cos(2 * i + d));
        const m = await kit.cosineMatrix(new Tensor(a, 3, d), new Tensor(b, 5, d));
        const want = cosineMatrix64({ data: a, rows: 3, cols: d }, { data: b, rows: 5, cols: d });
        for (let i = 0; i < 15; i++)
          expect(Math.abs(m.data[i] - want[i]), `d=${d} (${Math.floor(i / 5)}, ${i % 5})`).toBeLessThan(2e-6);
      }
      const tiny = new Tensor(Float32Array.of(1, 2, 3), 1, 3);
      expect((await kit.cosineMatrix(tiny, tiny)).data[0]).toBeCloseTo(1, 6);
    } finally {
      kit.dispose();
    }
  }, 120_000);

  it('keeps at most MAX_WASM_KERNELS compiled kernels, recompiling one evicted when it is needed again', async () => {
    const e = createEngine({ mode: 'webasm' });
    try {
      const run = (d: number) =>
        e.run(
          `probe:${d}`,
          e.kernel(`probe:${d}`, () => ({ source: 'function (x) { return x[this.thread.x] * 2.0; }' })),
          [d],
          Float32Array.from({ length: d }, (_, i) => i),
        );
      for (let d = 1; d <= MAX_WASM_KERNELS + 10; d++) run(d);
      expect(e.kernelCount).toBe(MAX_WASM_KERNELS);
      // The first one was evicted, and answers again once compiled anew.
      expect(Array.from(run(1) as Float32Array)).toEqual([0]);
      expect(Array.from(run(3) as Float32Array)).toEqual([0, 2, 4]);
      expect(e.kernelCount).toBe(MAX_WASM_KERNELS);
    } finally {
      await e.destroy();
    }
  });
});
