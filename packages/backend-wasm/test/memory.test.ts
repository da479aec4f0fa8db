import { isCosineKitError, type ResidentCorpus, referenceKernels } from '@cosinekit/core/backend';
import { describe, expect, it } from 'vitest';
import { Heap } from '../src/heap.js';
import type { WasmCorpus } from '../src/index.js';
import { backend, bits, expectClose, random, ref } from './helpers.js';

describe('wasm memory', () => {
  it('10,000 create/search/dispose cycles leave memory flat', async () => {
    const b = await backend({ variant: 'simd' });
    const corpus = random(40, 24, 1);
    const q = random(2, 24, 2);
    b.kernels.corpusSearch(b.kernels.createCorpus(corpus) as WasmCorpus, q, 3);
    const start = b.memory();
    const capacity = b.describe().wasmMemoryBytes;
    for (let i = 0; i < 10_000; i++) {
      const c = b.kernels.createCorpus(corpus) as WasmCorpus;
      b.kernels.corpusSearch(c, q, 3);
      c.dispose();
    }
    expect(b.memory()).toEqual({ residentHandles: 1, bytes: start.bytes });
    expect(b.describe().wasmMemoryBytes).toBe(capacity);
    b.dispose();
    expect(b.memory()).toEqual({ residentHandles: 0, bytes: 0 });
  });

  it('reuses freed blocks and coalesces neighbours', () => {
    const heap = new Heap(new WebAssembly.Memory({ initial: 1 }), 0);
    const a = heap.alloc(100, 't');
    const b = heap.alloc(100, 't');
    const c = heap.alloc(100, 't');
    heap.free(a);
    heap.free(b);
    // a and b merged: a block of 256 bytes fits where they were.
    expect(heap.alloc(200, 't')).toBe(a);
    heap.free(c);
    expect(heap.used).toBe(256);
    expect(heap.blocks).toBe(1);
  });

  it('keeps count through churn past its sweep of freed entries, and refuses a double free', () => {
    // Freed addresses stay in the block table (as 0) until they outnumber the live ones and 4,096:
    // deleting and re-adding the same scratch address each call cost time in proportion to the
    // blocks held (a search of a corpus of 8,000 segments ran 3x slower than linear).
    const heap = new Heap(new WebAssembly.Memory({ initial: 1 }), 0);
    const held = Array.from({ length: 300 }, () => heap.alloc(64, 't'));
    for (let i = 0; i < 10_000; i++) {
      const a = heap.alloc(100 + (i % 3) * 64, 't');
      const b = heap.alloc(64, 't');
      heap.free(a);
      expect(() => heap.free(a)).toThrow(/unknown block/);
      heap.free(b);
    }
    expect(heap.blocks).toBe(300);
    expect(heap.used).toBe(300 * 64);
    for (let i = 0; i < held.length; i += 2) heap.free(held[i]);
    expect(heap.blocks).toBe(150);
    expect(heap.alloc(64, 't')).toBe(held[0]);
    for (let i = 1; i < held.length; i += 2) heap.free(held[i]);
    heap.free(held[0]);
    expect([heap.blocks, heap.used]).toEqual([0, 0]);
  });

  it('grows memory and keeps resident data valid across growth', async () => {
    const b = await backend({ variant: 'simd' });
    const c = random(30, 20, 3);
    const q = random(4, 20, 4);
    const small = b.kernels.createCorpus(c) as WasmCorpus;
    const before = b.describe().wasmMemoryBytes;
    // 12 MiB forces the memory to grow, which detaches the old views.
    const big = b.kernels.createCorpus(random(3000, 1000, 5)) as WasmCorpus;
    expect(b.describe().wasmMemoryBytes).toBeGreaterThan(before);
    expectClose(b.kernels.corpusMatrix(small, q), ref.cosineMatrix(q, c), 1e-6);
    big.dispose();
    small.dispose();
    expect(b.memory()).toEqual({ residentHandles: 0, bytes: 0 });
    b.dispose();
  });

  it('a request beyond 4 GiB is OUT_OF_MEMORY, and the backend stays usable', async () => {
    const b = await backend({ variant: 'simd' });
    // The shape alone asks for 8 GiB; the allocator refuses before any data is read.
    const huge = { data: new Float32Array(4), rows: 1 << 20, cols: 1 << 11 };
    let err: unknown;
    try {
      b.kernels.createCorpus(huge);
    } catch (e) {
      err = e;
    }
    expect(isCosineKitError(err, 'OUT_OF_MEMORY')).toBe(true);
    expect((err as Error).message).toMatch(/createCorpus/);
    expect(b.memory()).toEqual({ residentHandles: 0, bytes: 0 });
    const x = random(3, 4, 1);
    expectClose(b.kernels.rowNorms(x), ref.rowNorms(x), 1e-6);
    const heap = new Heap(new WebAssembly.Memory({ initial: 1 }), 0);
    expect(() => heap.alloc(5 * 2 ** 30, 'op')).toThrow(/4 GiB/);
    b.dispose();
  });

  it('disposing the backend releases every corpus, and kernels then throw DISPOSED', async () => {
    const b = await backend({ variant: 'simd' });
    const c = b.kernels.createCorpus(random(5, 8, 1)) as WasmCorpus;
    const v = b.createVector([1, 2, 3]);
    expect(b.memory().residentHandles).toBe(2);
    b.dispose();
    expect(c.disposed).toBe(true);
    expect(v.disposed).toBe(true);
    c.dispose();
    expect(() => b.kernels.rowNorms(random(1, 2, 1))).toThrow(/disposed/);
    await expect(b.init()).rejects.toThrow(/disposed/);
  });

  it('rejects a disposed corpus and a corpus of another backend', async () => {
    const b1 = await backend({ variant: 'simd' });
    const b2 = await backend({ variant: 'simd' });
    const c = b1.kernels.createCorpus(random(5, 8, 1)) as WasmCorpus;
    const q = random(1, 8, 2);
    expect(() => b2.kernels.corpusSearch(c, q, 1)).toThrow(/wasm \(another instance\)/);
    const ref = referenceKernels.createCorpus(random(5, 8, 1)) as never;
    expect(() => b1.kernels.corpusMatrix(ref, q)).toThrow(/'reference'/);
    c.dispose();
    expect(() => b1.kernels.corpusSearch(c, q, 1)).toThrow(/disposed/);
    b1.dispose();
    b2.dispose();
  });
});

describe('wasm mergeCorpora', () => {
  it.each(['float32', 'int8'] as const)(
    'merges in place: bit for bit one corpus of the kept rows, and no memory left behind (%s)',
    async (storage) => {
      const b = await backend({ variant: 'simd' });
      const k = b.kernels;
      const start = b.memory();
      // Widths around the 4-float chunk and the 16-byte int8 stride, parts around a panel.
      for (const d of [1, 5, 16, 33]) {
        const parts = [random(1, d, 1), random(9, d, 2), random(30, d, 3)];
        const drop = parts.map((p, i) =>
          Uint8Array.from({ length: p.rows }, (_, j) => ((j + i) % 4 === 1 ? 1 : 0)),
        );
        const live: number[] = [];
        parts.forEach((p, i) => {
          for (let j = 0; j < p.rows; j++)
            if (drop[i][j] === 0) live.push(...p.data.subarray(j * d, (j + 1) * d));
        });
        const hs = parts.map((p) => k.createCorpus(p, { storage, rerank: storage === 'int8' ? 2 : 0 }));
        const merged = k.mergeCorpora(hs, drop);
        const whole = k.createCorpus(
          { data: Float32Array.from(live), rows: live.length / d, cols: d },
          { storage, rerank: storage === 'int8' ? 2 : 0 },
        );
        const q = random(3, d, 9);
        const a = k.corpusSearch(merged, q, merged.rows);
        const w = k.corpusSearch(whole, q, whole.rows);
        expect(Array.from(a.indices), `d = ${d}`).toEqual(Array.from(w.indices));
        expect(bits(a.scores)).toEqual(bits(w.scores));
        expect(bits(k.corpusMatrix(merged, q))).toEqual(bits(k.corpusMatrix(whole, q)));
        for (const h of [...hs, merged, whole]) h.dispose();
      }
      expect(b.memory()).toEqual(start);
      // A part of another backend, or one disposed, is refused by name.
      const mine = k.createCorpus(random(3, 4, 1));
      const gone = k.createCorpus(random(3, 4, 2));
      gone.dispose();
      const theirs = referenceKernels.createCorpus(random(3, 4, 3)) as ResidentCorpus;
      const three = [new Uint8Array(3), new Uint8Array(3)];
      for (const hs of [
        [mine, gone],
        [mine, theirs],
      ]) {
        try {
          k.mergeCorpora(hs, three);
          expect.fail('merged');
        } catch (e) {
          expect(isCosineKitError(e)).toBe(true);
        }
      }
      expect(() => k.mergeCorpora([mine], [Uint8Array.of(1, 1, 1)])).toThrow(/EMPTY_INPUT|at least one/);
      mine.dispose();
      theirs.dispose();
      expect(b.memory()).toEqual(start);
      b.dispose();
    },
  );
});
