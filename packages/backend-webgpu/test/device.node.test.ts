import { randomTensor } from '@cosinekit/conformance';
import { createCosineKit } from '@cosinekit/core';
import { getBackend, registerBackend, unregisterBackend } from '@cosinekit/core/backend';
import { describe, expect, it } from 'vitest';
import { createWebGpuBackend, type WebGpuEntry } from '../src/index.js';
import { webgpuSkipReason } from './available.js';

const skip = await webgpuSkipReason();
if (skip) console.log(`[webgpu] device tests skipped: ${skip}`);

/**
 * Dawn's entry, wrapped so the test can reach the device the backend opens (to lose it), and
 * `onDevice` see it before the backend does.
 */
async function dawnWithHandle(
  onDevice?: (device: GPUDevice) => void,
): Promise<{ gpu: WebGpuEntry; devices: GPUDevice[] }> {
  const { create } = (await import('webgpu')) as unknown as { create(flags: string[]): GPU };
  const real = create(['backend=opengles', 'featureLevel=compatibility']);
  const devices: GPUDevice[] = [];
  const gpu: WebGpuEntry = {
    async requestAdapter(options) {
      const a = (await real.requestAdapter(options as GPURequestAdapterOptions)) as GPUAdapter | null;
      if (!a) return null;
      return new Proxy(a, {
        get(target, prop) {
          if (prop === 'requestDevice') {
            return async (d: GPUDeviceDescriptor) => {
              const dev = await target.requestDevice(d);
              devices.push(dev);
              onDevice?.(dev);
              return dev;
            };
          }
          const v = Reflect.get(target, prop, target);
          return typeof v === 'function' ? v.bind(target) : v;
        },
      });
    },
  };
  return { gpu, devices };
}

/** Dawn's entry whose devices record the size of every buffer made for reading back. */
async function dawnRecordingReads(): Promise<{ gpu: WebGpuEntry; reads: number[] }> {
  const { gpu, devices } = await dawnWithHandle();
  const reads: number[] = [];
  const wrapped: WebGpuEntry = {
    async requestAdapter(options) {
      const a = await gpu.requestAdapter(options);
      if (!a) return null;
      return new Proxy(a, {
        get(target, prop) {
          if (prop === 'requestDevice') {
            return async (d: GPUDeviceDescriptor) => {
              const dev = await (target as GPUAdapter).requestDevice(d);
              void devices;
              const create = dev.createBuffer.bind(dev);
              dev.createBuffer = (desc: GPUBufferDescriptor) => {
                if (desc.usage & GPUBufferUsage.MAP_READ) reads.push(desc.size);
                return create(desc);
              };
              return dev;
            };
          }
          const v = Reflect.get(target, prop, target);
          return typeof v === 'function' ? v.bind(target) : v;
        },
      });
    },
  };
  return { gpu: wrapped, reads };
}

describe.skipIf(skip !== null)('webgpu device in Node (Dawn)', () => {
  it('disposed while its device opens: init() rejects DISPOSED naming the backend (it resolved), nothing left open', async () => {
    const backend = createWebGpuBackend();
    const started = Promise.resolve(backend.init!()).then(
      () => undefined,
      (e: unknown) => e,
    );
    backend.dispose!();
    expect(await started).toMatchObject({ code: 'DISPOSED', op: 'init', arg: 'backend' });
    expect(backend.memory?.()).toMatchObject({ residentHandles: 0 });
  });

  it('a read-back never asks for a buffer past maxBufferSize (an export of codes, scales and rows together did)', async () => {
    const { gpu, reads } = await dawnRecordingReads();
    const limits = { maxStorageBufferBindingSize: 4096, maxBufferSize: 4096 };
    const b = createWebGpuBackend({ gpu, limits });
    try {
      const x = randomTensor(300, 16, 3);
      const c = await b.kernels.createCorpus!(x, { storage: 'int8', rerank: 3 });
      const stored = await b.kernels.exportCorpus!(c);
      expect(stored.exact?.length).toBe(300 * 16);
      expect(reads.length).toBeGreaterThan(0);
      expect(Math.max(...reads)).toBeLessThanOrEqual(4096);
      c.dispose();
    } finally {
      await b.dispose?.();
    }
  });

  it('a corpus still being built when the backend is disposed is DISPOSED, not a dead corpus', async () => {
    const b = createWebGpuBackend({ limits: { maxStorageBufferBindingSize: 65536 } });
    await b.init?.();
    const pending = Promise.resolve(b.kernels.createCorpus!(randomTensor(20_000, 64, 4))).then(
      (h) => h,
      (e: unknown) => e,
    );
    await b.dispose?.();
    const got = await pending;
    // Either the build finished before the disposal reached it (and the disposal released it) or
    // it is DISPOSED; never a corpus that looks alive on a destroyed device.
    if (got instanceof Error) expect(got).toMatchObject({ code: 'DISPOSED' });
    else expect((got as { disposed: boolean }).disposed).toBe(true);
  });

  it('dispose() removes the listener it added to the device and destroys the device once its queue is done', async () => {
    // Either left out kept every destroyed Dawn device's native memory alive: 2.6-3.4 MB per backend
    // made and disposed, for good.
    const events: string[] = [];
    const listeners = new Set<unknown>();
    let added = 0;
    const { gpu } = await dawnWithHandle((dev) => watch(dev));
    const backend = createWebGpuBackend({ gpu });
    /** Records what the engine does with its device. */
    const watch = (dev: GPUDevice) => {
      const add = dev.addEventListener.bind(dev);
      const remove = dev.removeEventListener.bind(dev);
      const destroy = dev.destroy.bind(dev);
      const done = dev.queue.onSubmittedWorkDone.bind(dev.queue);
      dev.addEventListener = ((type: string, f: EventListener) => {
        if (type === 'uncapturederror') {
          listeners.add(f);
          added++;
        }
        add(type, f);
      }) as typeof dev.addEventListener;
      dev.removeEventListener = ((type: string, f: EventListener) => {
        if (type === 'uncapturederror') listeners.delete(f);
        remove(type, f);
      }) as typeof dev.removeEventListener;
      dev.queue.onSubmittedWorkDone = (() =>
        done().then(() => {
          events.push('queue done');
        })) as typeof dev.queue.onSubmittedWorkDone;
      dev.destroy = () => {
        events.push('destroy');
        destroy();
      };
    };
    await backend.init!();
    const kit = createCosineKit({ backend });
    await kit.cosineMatrix(randomTensor(3, 8, 1), randomTensor(5, 8, 2));
    await backend.dispose!();
    expect(added).toBeGreaterThan(0);
    expect(listeners.size).toBe(0);
    expect(events.slice(-2)).toEqual(['queue done', 'destroy']);
  });

  it('runs on an injected GPU entry (Dawn create())', async () => {
    const { gpu, devices } = await dawnWithHandle();
    const b = createWebGpuBackend({ gpu });
    try {
      const n = await b.kernels.rowNorms!(randomTensor(3, 5, 1));
      expect(n.length).toBe(3);
      expect(devices.length).toBe(1);
      expect(b.describe!().source).toBe('injected');
    } finally {
      await b.dispose?.();
    }
  });

  it('a lost device becomes a typed error once, and the next call opens a new device', async () => {
    const { gpu, devices } = await dawnWithHandle();
    const b = createWebGpuBackend({ gpu });
    try {
      const x = randomTensor(4, 6, 2);
      await b.kernels.rowNorms!(x);
      devices[0].destroy();
      await devices[0].lost;
      await expect(b.kernels.rowNorms!(x)).rejects.toMatchObject({
        name: 'CosineKitError',
        code: 'UNSUPPORTED',
        op: 'rowNorms',
        message: expect.stringMatching(/WebGPU device was lost/),
      });
      const again = await b.kernels.rowNorms!(x);
      expect(again.length).toBe(4);
      expect(devices.length).toBe(2);
    } finally {
      await b.dispose?.();
    }
  });

  it('a corpus of a kit on a lost device is DISPOSED, saying the device may be why; the kit goes on', async () => {
    const { gpu, devices } = await dawnWithHandle();
    const b = createWebGpuBackend({ gpu });
    const kit = createCosineKit({ backend: b });
    try {
      const rows = randomTensor(20, 6, 3);
      const c = await kit.corpus(rows);
      devices[0].destroy();
      await devices[0].lost;
      // The call that meets the loss reports it; the corpus, whose buffers went with the device,
      // is DISPOSED from then on, and the message says a lost device is one way.
      const first = await c.search(rows, 1).catch((e: unknown) => e);
      expect(first).toMatchObject({ name: 'CosineKitError' });
      await expect(c.search(rows, 1)).rejects.toMatchObject({
        code: 'DISPOSED',
        message: expect.stringMatching(/device the backend lost/),
      });
      const fresh = await kit.corpus(rows);
      expect((await fresh.search(rows, 1)).hits(3).indices[0]).toBe(3);
    } finally {
      kit.dispose();
      await b.dispose?.();
    }
  });

  it('with no adapter, init() fails UNSUPPORTED with the reason and the registry falls back', async () => {
    const none: WebGpuEntry = { requestAdapter: async () => null };
    const alone = createWebGpuBackend({ gpu: none });
    await expect(alone.init?.()).rejects.toMatchObject({
      code: 'UNSUPPORTED',
      arg: 'backend',
      message: expect.stringMatching(/offers no WebGPU adapter/),
    });
    await alone.dispose?.();
    registerBackend('webgpu-none', () => createWebGpuBackend({ gpu: none }), 1000);
    try {
      const skipped: string[] = [];
      const chosen = await getBackend(undefined, (name, reason) => skipped.push(`${name}: ${reason}`));
      expect(chosen.name).not.toBe('webgpu-none');
      expect(skipped.join('\n')).toMatch(/webgpu-none: .*has no WebGPU device: .*offers no WebGPU adapter/);
    } finally {
      unregisterBackend('webgpu-none');
    }
  });
});
