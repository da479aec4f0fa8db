import { cosineMatrix64 } from '@cosinekit/conformance';
import { createCosineKit, Tensor } from '@cosinekit/core';
import { describe, expect, it } from 'vitest';
import { createEngine, MAX_WASM_KERNELS, MAX_WASM_MEMORIES } from '../src/engine.js';
import { createGpujsBackend } from '../src/index.js';

/**
 * gpu.js's webasm mode gives each compiled kernel a WebAssembly memory per output size it runs at,
 * and Chromium refuses more after a hundred or so: a kit asked for cosine matrices of one row width
 * after another failed at the 25th width with OUT_OF_MEMORY, and every call after it, a 1 x 3 one
 * included; capping the kernels at 24 still failed at 5 widths of 8 batch sizes each (121
 * memories in 15 kernels), and made 9 widths in turn recompile every kernel on every call (found
 * by a browser probe and a review; Node allowed more). The engine keeps at most MAX_WASM_MEMORIES
 * memories, the least recently run released, and at most MAX_WASM_KERNELS kernels.
 */
type Engine = ReturnType<typeof createEngine>;

/**
 * Kernel `probe:<key>` of engine `e`, returning `body` for each value `x[this.thread.x]` of `input`
 * (compiled on first use, when `compiled` is called), run over `input`: its answer as numbers.
 */
function probe(e: Engine, key: number, body: string, input: Float32Array, compiled?: () => void): number[] {
  const k = e.kernel(`probe:${key}`, () => {
    compiled?.();
    return { source: `function (x) { return ${body}; }` };
  });
  return Array.from(e.run(`probe:${key}`, k, [input.length], input) as Float32Array);
}

/** The values 0, 1, ..., n - 1. */
const upTo = (n: number) => Float32Array.from({ length: n }, (_, i) => i);

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

  it('answers 5 x 6 cosine matrices at 30 widths and 8 batch sizes each, each within 2e-6 of float64, and a small call after them', async () => {
    const kit = createCosineKit({ backend: createGpujsBackend({ mode: 'webasm' }) });
    try {
      for (let d = 1; d <= 30; d++) {
        for (let n = 1; n <= 8; n++) {
          const a = Float32Array.from({ length: n * d }, (_, i) => Math.sin(i + d + n));
          const b = Float32Array.from({ length: (n + 1) * d }, (_, i) => Math.cos(2 * i + d));
          const m = await kit.cosineMatrix(new Tensor(a, n, d), new Tensor(b, n + 1, d));
          const want = cosineMatrix64({ data: a, rows: n, cols: d }, { data: b, rows: n + 1, cols: d });
          for (let i = 0; i < want.length; i++)
            expect(Math.abs(m.data[i] - want[i]), `d=${d} n=${n} at ${i}`).toBeLessThan(2e-6);
        }
      }
      const tiny = new Tensor(Float32Array.of(1, 2, 3), 1, 3);
      expect((await kit.cosineMatrix(tiny, tiny)).data[0]).toBeCloseTo(1, 6);
    } finally {
      kit.dispose();
    }
  }, 180_000);

  it('holds at most MAX_WASM_MEMORIES memories over kernels and sizes, and runs a kernel whose memory went at that size again', async () => {
    const e = createEngine({ mode: 'webasm' });
    let compiled = 0;
    const run = (d: number, size: number) =>
      probe(e, d, `x[this.thread.x] * ${d}.0`, upTo(size), () => compiled++);
    try {
      for (let d = 1; d <= 12; d++) for (let size = 1; size <= 6; size++) run(d, size);
      expect(compiled).toBe(12);
      expect(e.wasmMemoryCount).toBe(MAX_WASM_MEMORIES);
      // The first kernel's memories went first; it runs at those sizes again without compiling.
      expect(run(1, 3)).toEqual([0, 1, 2]);
      expect(run(2, 6)).toEqual([0, 2, 4, 6, 8, 10]);
      expect(compiled).toBe(12);
      expect(e.wasmMemoryCount).toBe(MAX_WASM_MEMORIES);
    } finally {
      await e.destroy();
    }
  });

  it('holds MAX_WASM_MEMORIES over every engine of the page, not each (two backends each keeping 64 ran out; a review)', async () => {
    const engines = [createEngine({ mode: 'webasm' }), createEngine({ mode: 'webasm' })];
    const run = (e: Engine, d: number, size: number) => probe(e, d, `x[this.thread.x] + ${d}.0`, upTo(size));
    try {
      for (let d = 1; d <= 8; d++)
        for (let size = 1; size <= 6; size++) for (const e of engines) expect(run(e, d, size)[0]).toBe(d);
      expect(engines[0]!.wasmMemoryCount + engines[1]!.wasmMemoryCount).toBe(MAX_WASM_MEMORIES);
      await engines[0]!.destroy();
      // The other runs on, its released memories made again as they are needed.
      expect(run(engines[1]!, 1, 3)).toEqual([1, 2, 3]);
      expect(engines[1]!.wasmMemoryCount).toBeLessThanOrEqual(MAX_WASM_MEMORIES);
    } finally {
      for (const e of engines) await e.destroy();
    }
  });

  it('keeps the kernels of more widths than MAX_WASM_MEMORIES compiled, so cycling over them compiles nothing', async () => {
    const e = createEngine({ mode: 'webasm' });
    let compiled = 0;
    const widths = MAX_WASM_MEMORIES + 8;
    const run = (d: number) =>
      probe(e, d, 'x[this.thread.x] + 1.0', Float32Array.of(d, d, d), () => compiled++);
    try {
      for (let d = 1; d <= widths; d++) run(d);
      for (let d = 1; d <= widths; d++) expect(run(d)).toEqual([d + 1, d + 1, d + 1]);
      expect(compiled).toBe(widths);
      expect(e.kernelCount).toBe(widths);
      expect(e.wasmMemoryCount).toBe(MAX_WASM_MEMORIES);
    } finally {
      await e.destroy();
    }
  });

  it('keeps at most MAX_WASM_KERNELS compiled kernels, recompiling one evicted when it is needed again', async () => {
    const e = createEngine({ mode: 'webasm' });
    try {
      const run = (d: number) => probe(e, d, 'x[this.thread.x] * 2.0', upTo(d));
      for (let d = 1; d <= MAX_WASM_KERNELS + 10; d++) run(d);
      expect(e.kernelCount).toBe(MAX_WASM_KERNELS);
      // The first one was evicted, and answers again once compiled anew.
      expect(run(1)).toEqual([0]);
      expect(run(3)).toEqual([0, 2, 4]);
      expect(e.kernelCount).toBe(MAX_WASM_KERNELS);
    } finally {
      await e.destroy();
    }
  });
});
