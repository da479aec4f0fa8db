import { referenceKernels } from '@cosinekit/core/backend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WasmBackend } from '../src/index.js';
import { backend, random } from './helpers.js';

function bitsEqual(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

describe('large corpora', () => {
  let b: WasmBackend;
  beforeAll(async () => {
    b = await backend({ variant: 'simd' });
  });
  afterAll(() => b.dispose());

  it('createCorpusFrom builds, chunk by chunk, the corpus createCorpus builds from one array', () => {
    const x = random(20011, 67, 5);
    const q = random(3, 67, 6);
    let reads = 0;
    const source = {
      rows: x.rows,
      cols: x.cols,
      read: (start: number, count: number) => {
        reads++;
        return x.data.slice(start * x.cols, (start + count) * x.cols);
      },
    };
    for (const options of [
      undefined,
      { storage: 'int8' as const, rerank: 0 },
      { storage: 'int8' as const, rerank: 4 },
    ]) {
      const whole = b.kernels.createCorpus(x, options);
      const chunked = b.createCorpusFrom(source, options);
      expect(bitsEqual(b.kernels.readCorpus(chunked), b.kernels.readCorpus(whole))).toBe(true);
      const s1 = b.kernels.corpusSearch(whole, q, 10);
      const s2 = b.kernels.corpusSearch(chunked, q, 10);
      expect([...s2.indices]).toEqual([...s1.indices]);
      whole.dispose();
      chunked.dispose();
    }
    expect(reads).toBeGreaterThan(4);
    expect(b.memory()).toEqual({ residentHandles: 0, bytes: 0 });
  });

  it('readCorpus, through many staging blocks, gives the reference corpus rows bit for bit', async () => {
    // 20,011 x 67 floats are 2.6 staging blocks of rows (the read once staged the whole corpus).
    const x = random(20011, 67, 7);
    for (const options of [undefined, { storage: 'int8' as const, rerank: 0 }]) {
      const mine = b.kernels.createCorpus(x, options);
      const theirs = await referenceKernels.createCorpus(x, { storage: 'float32', rerank: 0, ...options });
      expect(bitsEqual(b.kernels.readCorpus(mine), await referenceKernels.readCorpus!(theirs))).toBe(true);
      mine.dispose();
      theirs.dispose();
    }
    expect(b.memory()).toEqual({ residentHandles: 0, bytes: 0 });
  });

  it('createCorpusFrom checks each chunk', () => {
    const bad = (read: (s: number, c: number) => Float32Array) => () =>
      b.createCorpusFrom({ rows: 10, cols: 4, read });
    expect(bad((_, c) => new Float32Array(c * 4 + 1))).toThrow(
      expect.objectContaining({ code: 'SHAPE_MISMATCH' }),
    );
    expect(bad((_, c) => new Float32Array(c * 4).fill(Number.NaN))).toThrow(
      expect.objectContaining({ code: 'NON_FINITE' }),
    );
    expect(() => b.createCorpusFrom({ rows: 0, cols: 4, read: () => new Float32Array(0) })).toThrow(
      expect.objectContaining({ code: 'EMPTY_INPUT' }),
    );
    expect(b.memory()).toEqual({ residentHandles: 0, bytes: 0 });
  });

  it('a search needs memory for its queries and one tile, whatever the corpus size', () => {
    const extra: number[] = [];
    for (const n of [70_000, 140_000]) {
      const x = random(n, 64, n);
      for (const options of [undefined, { storage: 'int8' as const, rerank: 4 }]) {
        const c = b.kernels.createCorpus(x, options);
        const resident = b.memory().bytes ?? 0;
        b.memoryPeak();
        b.kernels.corpusSearch(c, random(16, 64, 3), 10);
        extra.push(b.memoryPeak() - resident);
        c.dispose();
      }
    }
    // float32 and int8 at 70,000 rows, then at 140,000: the same extra memory (a tile holds at most
    // 65,536 scores), and under 1 MB.
    expect(extra[2]).toBe(extra[0]);
    expect(extra[3]).toBe(extra[1]);
    for (const e of extra) expect(e).toBeLessThan(1 << 20);
  });
});
