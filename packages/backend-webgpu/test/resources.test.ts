import { checkTopK, randomTensor } from '@cosinekit/conformance';
import { createCosineKit } from '@cosinekit/core';
import { describe, expect, it } from 'vitest';
import { createWebGpuBackend } from '../src/index.js';
import { webgpuSkipReason } from './available.js';

const skip = await webgpuSkipReason();
if (skip) console.log(`[webgpu] resource tests skipped: ${skip}`);

describe.skipIf(skip !== null)('webgpu device resources', () => {
  it('1,000 create/search/dispose cycles leave live GPU buffers and pipelines where the first left them', async () => {
    const b = createWebGpuBackend();
    try {
      await b.init?.();
      const c = randomTensor(200, 24, 11);
      const q = randomTensor(3, 24, 12);
      const cycle = async () => {
        const h = await b.kernels.createCorpus!(c);
        const r = await b.kernels.corpusSearch!(h, q, 5);
        h.dispose();
        return r;
      };
      checkTopK('first cycle', await cycle(), q, c, 5, 2e-5);
      const first = b.stats();
      expect(first.inUseBuffers).toBe(0);
      for (let i = 1; i < 1000; i++) await cycle();
      const last = b.stats();
      expect(last).toEqual(first);
      expect(b.memory!()).toEqual({ residentHandles: 0, objects: 0, bytes: 0 });
    } finally {
      await b.dispose?.();
    }
    expect(b.stats()).toEqual({ liveBuffers: 0, liveBytes: 0, inUseBuffers: 0, pipelines: 0 });
  }, 300_000);

  it('dispose() destroys every buffer, resident corpora included, and is final: later calls are DISPOSED', async () => {
    const c = randomTensor(50, 8, 13);
    for (let i = 0; i < 5; i++) {
      const b = createWebGpuBackend();
      const h = await b.kernels.createCorpus!(c);
      await b.kernels.topK!(c, c, 3);
      expect(b.stats().liveBuffers).toBeGreaterThan(0);
      await b.dispose?.();
      expect(h.disposed).toBe(true);
      expect(b.stats().liveBuffers).toBe(0);
      await expect(Promise.resolve().then(() => b.kernels.corpusSearch!(h, c, 1))).rejects.toMatchObject({
        code: 'DISPOSED',
      });
      // No device reopens behind the caller: a new call is refused, and nothing is allocated.
      await expect(b.kernels.createCorpus!(c)).rejects.toMatchObject({
        code: 'DISPOSED',
        op: 'createCorpus',
        arg: 'backend',
      });
      await expect(b.init!()).rejects.toMatchObject({ code: 'DISPOSED', arg: 'backend' });
      expect(b.stats().liveBuffers).toBe(0);
      expect(b.describe!()).toMatchObject({ state: 'disposed' });
    }
  }, 120_000);

  it('dispose() of an open device disposes its corpora within the call: a remove made right after is DISPOSED (it once ran)', async () => {
    const b = createWebGpuBackend();
    const kit = createCosineKit({ backend: b });
    const c = await kit.corpus(randomTensor(20, 8, 14), { ids: Array.from({ length: 20 }, (_, i) => i) });
    const h = await b.kernels.createCorpus!(randomTensor(4, 8, 15));
    const closing = b.dispose?.();
    expect(h.disposed).toBe(true);
    const removed = c.remove([1, 2]);
    await expect(removed).rejects.toMatchObject({ code: 'DISPOSED', arg: 'corpus' });
    expect(c.rows).toBe(20);
    await closing;
    expect(b.stats().liveBuffers).toBe(0);
    kit.dispose();
  });

  it('a call the disposal cuts short is DISPOSED, not a broken backend (was an AbortError)', async () => {
    const b = createWebGpuBackend();
    await b.init?.();
    const q = randomTensor(64, 256, 1);
    const x = randomTensor(4000, 256, 2);
    const calls = [
      b.kernels.cosineMatrix!(q, x),
      b.kernels.topK!(q, x, 5),
      b.kernels.cosineRows!(x, x),
      b.kernels.normalizeRows!(x),
    ].map((p) =>
      Promise.resolve(p).then(
        () => 'finished',
        (e: unknown) => e,
      ),
    );
    await b.dispose?.();
    for (const r of await Promise.all(calls)) {
      // Each either finished before the disposal reached it or is DISPOSED.
      if (r !== 'finished') expect(r).toMatchObject({ name: 'CosineKitError', code: 'DISPOSED' });
    }
  }, 120_000);

  it('a corpus disposed while calls run on it keeps its buffers until they end: each answers as if undisposed (was a WebGPU validation error as a plain Error)', async () => {
    // Small buffer limits make every call below several submissions, so dispose() lands between them.
    const b = createWebGpuBackend({
      limits: { maxStorageBufferBindingSize: 1 << 18, maxBufferSize: 1 << 18 },
    });
    try {
      const c = randomTensor(6000, 40, 21);
      const q = randomTensor(24, 40, 22);
      const k = b.kernels;
      const calls: [string, (h: Awaited<ReturnType<NonNullable<typeof k.createCorpus>>>) => unknown][] = [
        ['corpusSearch', (h) => k.corpusSearch!(h, q, 10)],
        ['corpusSearchAllowed', (h) => k.corpusSearchAllowed!(h, q, 10, new Uint8Array(c.rows).fill(1))],
        ['corpusMatrix', (h) => k.corpusMatrix!(h, q)],
        ['exportCorpus', (h) => k.exportCorpus!(h)],
        ['readCorpus', (h) => k.readCorpus!(h)],
      ];
      for (const storage of ['float32', 'int8'] as const) {
        const kept = await k.createCorpus!(c, { storage, rerank: storage === 'int8' ? 4 : 0 });
        for (const [op, call] of calls) {
          const want = await call(kept);
          // 0: disposed in the tick of the call, before the device was known ready (was DISPOSED).
          for (const delay of [0, 2]) {
            const h = await k.createCorpus!(c, { storage, rerank: storage === 'int8' ? 4 : 0 });
            const running = Promise.resolve(call(h));
            if (delay > 0) await new Promise((r) => setTimeout(r, delay));
            h.dispose();
            expect(h.disposed, `${storage} ${op}`).toBe(true);
            expect(await running, `${storage} ${op} disposed after ${delay} ms`).toEqual(want);
            // Released once the call ended; a new call is refused.
            await expect(Promise.resolve().then(() => call(h))).rejects.toMatchObject({
              code: 'DISPOSED',
              arg: 'corpus',
            });
          }
        }
        kept.dispose();
      }
      // Buffers destroyed under a running call anyway (release() is what the engine's own
      // destruction calls): the device's validation error comes back typed, not as a plain Error.
      const h = await k.createCorpus!(c);
      const running = Promise.resolve(k.corpusMatrix!(h, q)).catch((e: unknown) => e);
      await new Promise((r) => setTimeout(r, 2));
      (h as unknown as { release(): void }).release();
      const got = await running;
      expect(got).toMatchObject({ name: 'CosineKitError', code: 'BACKEND_ERROR', arg: 'backend' });
      expect(b.memory!()).toEqual({ residentHandles: 0, objects: 0, bytes: 0 });
    } finally {
      await b.dispose?.();
    }
  }, 300_000);

  it('pipelines compile once per shape family: new sizes reuse them', async () => {
    const b = createWebGpuBackend();
    try {
      // Few queries go 4 at a time, the count fixed in the source: 7 = 4 + 3, 11 = 4 + 4 + 3. Rows
      // of up to 64 floats and longer rows are two families of the row kernels: one of each first.
      await b.kernels.topK!(randomTensor(7, 10, 1), randomTensor(40, 10, 2), 2);
      await b.kernels.topK!(randomTensor(7, 77, 1), randomTensor(40, 77, 2), 2);
      const n = b.stats().pipelines;
      await b.kernels.topK!(randomTensor(11, 33, 3), randomTensor(300, 33, 4), 9);
      await b.kernels.topK!(randomTensor(11, 90, 3), randomTensor(300, 90, 4), 9);
      expect(b.stats().pipelines).toBe(n);
    } finally {
      await b.dispose?.();
    }
  }, 120_000);

  it('describe() names the adapter and its limits, and says when it is emulated', async () => {
    const b = createWebGpuBackend();
    try {
      await b.init?.();
      const d = b.describe!();
      for (const key of [
        'vendor',
        'architecture',
        'description',
        'features',
        'maxStorageBufferBindingSize',
        'maxComputeWorkgroupStorageSize',
      ]) {
        expect(d, key).toHaveProperty(key);
      }
      const text = `${d.vendor} ${d.architecture} ${d.description}`.toLowerCase();
      if (/swiftshader|llvmpipe|lavapipe/.test(text))
        expect(d.emulated).toBe('CPU emulation, correctness only');
    } finally {
      await b.dispose?.();
    }
  });

  it('rejects malformed options by name', () => {
    expect(() => createWebGpuBackend({ limits: { maxStorageBufferBindingSize: 0 } })).toThrow(
      expect.objectContaining({
        code: 'INVALID_ARGUMENT',
        arg: 'options.limits.maxStorageBufferBindingSize',
      }),
    );
    expect(() => createWebGpuBackend({ gpu: {} as never })).toThrow(
      expect.objectContaining({ arg: 'options.gpu' }),
    );
    for (const bad of [null, 'gpu', [], 1])
      expect(() => createWebGpuBackend(bad as never)).toThrow(
        expect.objectContaining({ code: 'INVALID_TYPE', op: 'createWebGpuBackend', arg: 'options' }),
      );
    // limits: an object of the limits it lowers; powerPreference one of two (both were accepted, the
    // latter failing only when the device opened, as BACKEND_INIT_FAILED).
    for (const [options, code, arg] of [
      [{ limits: null }, 'INVALID_TYPE', 'options.limits'],
      [{ limits: [] }, 'INVALID_TYPE', 'options.limits'],
      [{ limits: 'small' }, 'INVALID_TYPE', 'options.limits'],
      [
        { limits: { maxStorageBufferBindingSizee: 4096 } },
        'INVALID_ARGUMENT',
        'options.limits.maxStorageBufferBindingSizee',
      ],
      [{ powerPreference: 'fastest' }, 'INVALID_ARGUMENT', 'options.powerPreference'],
      [{ powerPreference: 42 }, 'INVALID_ARGUMENT', 'options.powerPreference'],
    ] as const)
      expect(() => createWebGpuBackend(options as never), JSON.stringify(options)).toThrow(
        expect.objectContaining({ code, op: 'createWebGpuBackend', arg }),
      );
    expect(() => createWebGpuBackend({ limit: {} } as never)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', op: 'createWebGpuBackend', arg: 'options.limit' }),
    );
    // Read once: a throwing getter, at either depth, is named (it was the getter's own Error).
    const boom = (key: string, inner: object = {}) =>
      Object.defineProperty(inner, key, {
        enumerable: true,
        get() {
          throw new Error(`${key} broke`);
        },
      });
    for (const [options, arg] of [
      [boom('limits'), 'options'],
      [boom('gpu'), 'options'],
      [{ limits: boom('maxBufferSize') }, 'options.limits'],
    ] as const)
      expect(() => createWebGpuBackend(options as never), arg).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT', op: 'createWebGpuBackend', arg }),
      );
    // Values that cannot be inspected, named by option (the TypeError or the trap's error escaped).
    const revoked = Proxy.revocable({}, {});
    revoked.revoke();
    const trap = new Proxy(
      {},
      {
        get() {
          throw new Error('trap');
        },
      },
    );
    const prim = {
      [Symbol.toPrimitive]() {
        throw new Error('prim');
      },
    };
    for (const [options, arg] of [
      [{ gpu: revoked.proxy }, 'options.gpu'],
      [{ gpu: trap }, 'options.gpu'],
      [{ powerPreference: revoked.proxy }, 'options.powerPreference'],
      [{ powerPreference: trap }, 'options.powerPreference'],
      [{ powerPreference: prim }, 'options.powerPreference'],
    ] as const)
      expect(() => createWebGpuBackend(options as never), arg).toThrow(
        expect.objectContaining({ code: expect.stringMatching(/^INVALID_/), op: 'createWebGpuBackend', arg }),
      );
  });
});
