import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type Backend,
  CosineKitError,
  createReferenceBackend,
  getBackend,
  referenceKernels,
  registerBackend,
  unregisterBackend,
} from '../src/backend.js';
import { createCosineKit, listBackends } from '../src/index.js';

const registered: string[] = [];
function reg(name: string, factory: () => Backend | Promise<Backend>, priority: number) {
  registered.push(name);
  registerBackend(name, factory, priority);
}
afterEach(() => {
  for (const n of registered.splice(0)) unregisterBackend(n);
});

/** A backend that implements only cosineMatrix (by delegating) and counts its calls. */
function partial(name: string) {
  const calls = { cosineMatrix: 0 };
  const b: Backend = {
    name,
    kernels: {
      cosineMatrix: (a, c, out) => {
        calls.cosineMatrix++;
        return referenceKernels.cosineMatrix(a, c, out);
      },
    },
  };
  return { b, calls };
}

describe('registry', () => {
  it('has the reference backend at priority 0', () => {
    expect(listBackends().find((s) => s.name === 'reference')).toMatchObject({ priority: 0 });
  });

  it('picks the highest priority that initialises, and reports the one that failed', async () => {
    reg(
      'broken',
      () => ({ name: 'broken', kernels: {}, init: () => Promise.reject(new Error('no GPU here')) }),
      100,
    );
    reg('good', () => partial('good').b, 50);
    const skipped: string[] = [];
    const b = await getBackend(undefined, (n, reason) => skipped.push(`${n}: ${reason}`));
    expect(b.name).toBe('good');
    expect(skipped).toEqual(['broken: no GPU here']);
    expect(listBackends().find((s) => s.name === 'broken')).toMatchObject({
      state: 'failed',
      error: 'no GPU here',
    });
  });

  it('disposes an instance whose init() failed (what it acquired stayed for the process life)', async () => {
    let disposed = 0;
    reg(
      'half-started',
      () => ({
        name: 'half-started',
        kernels: {},
        init: () => Promise.reject(new Error('device lost during init')),
        dispose: () => void disposed++,
      }),
      100,
    );
    expect((await createCosineKit({ onFallback: () => undefined }).ready()).backend).not.toBe('half-started');
    expect(disposed).toBe(1);
    await expect(getBackend('half-started')).rejects.toMatchObject({ code: 'BACKEND_INIT_FAILED' });
    expect(disposed).toBe(1);
  });

  it('throws BACKEND_INIT_FAILED with the reason when a named backend fails', async () => {
    reg(
      'broken2',
      () => ({
        name: 'broken2',
        kernels: {},
        init: () => {
          throw new Error('wasm compile failed');
        },
      }),
      1,
    );
    await expect(getBackend('broken2')).rejects.toMatchObject({
      code: 'BACKEND_INIT_FAILED',
      message: expect.stringMatching(/wasm compile failed/),
    });
    await expect(getBackend('nope')).rejects.toMatchObject({ code: 'UNKNOWN_BACKEND' });
    // Through a kit, the error names the kit's own option (was: getBackend's 'name').
    const kit = createCosineKit({ backend: 'nope' });
    await expect(kit.ready()).rejects.toMatchObject({
      code: 'UNKNOWN_BACKEND',
      op: 'createCosineKit',
      arg: 'backend',
      message: expect.stringMatching(
        /^Argument 'backend' passed to 'createCosineKit' is 'nope', but no backend/,
      ),
    });
    await expect(createCosineKit({ backend: 'broken2' }).cosineMatrix([[1]], [[1]])).rejects.toMatchObject({
      code: 'BACKEND_INIT_FAILED',
      op: 'createCosineKit',
      arg: 'backend',
      message: expect.stringMatching(/wasm compile failed/),
    });
  });

  it('initialises once when many callers ask at the same time', async () => {
    let inits = 0;
    reg(
      'slow',
      () => ({
        name: 'slow',
        kernels: {},
        init: async () => {
          inits++;
          await new Promise((r) => setTimeout(r, 20));
        },
      }),
      1,
    );
    const all = await Promise.all(Array.from({ length: 10 }, () => getBackend('slow')));
    expect(inits).toBe(1);
    expect(new Set(all).size).toBe(1);
  });
});

describe('kit', () => {
  it('an onFallback that throws fails the call that fell back by name; an async one is not waited for, its rejection reported (the process died, or the call hung)', async () => {
    reg(
      'broken-start',
      () => ({ name: 'broken-start', kernels: {}, init: () => Promise.reject(new Error('no GPU here')) }),
      100,
    );
    const thrower = createCosineKit({
      onFallback: () => {
        throw new Error('my logger failed');
      },
    });
    await expect(thrower.rowNorms([[3, 4]])).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      op: 'createCosineKit',
      arg: 'onFallback',
      cause: expect.objectContaining({ message: 'my logger failed' }),
    });
    thrower.dispose();
    // Only that call: calls made beside it and after it run on the backend fallen back to (every
    // call failed for good, the hook never called again, where the worker kit failed one: a probe).
    let hiccups = 0;
    const once = createCosineKit({
      onFallback: () => {
        if (++hiccups === 1) throw new Error('one hiccup');
      },
    });
    const first = await Promise.allSettled([once.rowNorms([[3, 4]]), once.rowNorms([[6, 8]]), once.ready()]);
    expect(first.map((r) => (r.status === 'fulfilled' ? 'ok' : (r.reason as { arg?: string }).arg))).toEqual([
      'onFallback',
      'ok',
      'ok',
    ]);
    expect(Array.from(await once.rowNorms([[5, 12]]))).toEqual([13]);
    expect((await once.ready()).backend).toBe('reference');
    expect(hiccups).toBe(1);
    once.dispose();
    // An answer whose `then` getter throws is the hook failing too (it escaped raw: a review).
    const odd = createCosineKit({
      onFallback: () =>
        ({
          // biome-ignore lint/suspicious/noThenProperty: a thenable whose then throws, on purpose
          get then() {
            throw new Error('then getter boom');
          },
        }) as never,
    });
    await expect(odd.rowNorms([[3, 4]])).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      arg: 'onFallback',
    });
    odd.dispose();
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      const seen: string[] = [];
      for (const onFallback of [
        async (name: string) => {
          seen.push(name);
          await Promise.resolve();
          throw new Error('my logger failed');
        },
        // A logger whose promise never settles held every call that fell back.
        (name: string) => {
          seen.push(name);
          return new Promise<void>(() => undefined) as unknown as undefined;
        },
      ]) {
        const kit = createCosineKit({ onFallback });
        expect(Array.from(await kit.rowNorms([[3, 4]]))).toEqual([5]);
        kit.dispose();
      }
      await new Promise((r) => setTimeout(r, 5));
      expect(seen).toEqual(['broken-start', 'broken-start']);
      expect(warn.mock.calls.map((c) => String(c[0]))).toEqual([
        "[cosinekit] onFallback's promise rejected (backend 'broken-start'): my logger failed",
      ]);
    } finally {
      warn.mockRestore();
    }
  });

  it('falls back to the reference kernel by kernel and says who ran what', async () => {
    const { b, calls } = partial('partial');
    const kit = createCosineKit({ backend: b });
    const info = await kit.ready();
    expect(info.backend).toBe('partial');
    expect(info.providers.cosineMatrix).toBe('partial');
    expect(info.providers.topK).toBe('reference');
    expect(kit.ranBy('cosineMatrix')).toBe('partial');
    // What is no kernel's name is refused by type, then by name (a prototype-less object or a
    // revoked Proxy threw a raw TypeError; other junk answered undefined).
    const revoked = Proxy.revocable({}, {});
    revoked.revoke();
    for (const bad of [Object.create(null), revoked.proxy, 5, { toString: () => 'topK' }])
      expect(() => kit.ranBy(bad as never)).toThrow(
        expect.objectContaining({ code: 'INVALID_TYPE', op: 'ranBy', arg: 'kernel' }),
      );
    expect(() => kit.ranBy('nope' as never)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', arg: 'kernel' }),
    );
    const m = await kit.cosineMatrix(
      [[1, 0]],
      [
        [1, 0],
        [0, 1],
      ],
    );
    expect(Array.from(m.data)).toEqual([1, 0]);
    expect(calls.cosineMatrix).toBe(1);
    const r = await kit.topK(
      [[1, 0]],
      [
        [0, 1],
        [1, 0],
      ],
      1,
    );
    expect(Array.from(r.indices)).toEqual([1]);
  });

  it('uses the reference corpus kernels unless a backend brings all three', async () => {
    const b: Backend = { name: 'half', kernels: { createCorpus: referenceKernels.createCorpus } };
    const kit = createCosineKit({ backend: b });
    const info = await kit.ready();
    expect([info.providers.createCorpus, info.providers.corpusSearch]).toEqual(['reference', 'reference']);
  });

  it('warns once, by default, when the best-available choice skips a failed backend', async () => {
    reg(
      'flaky',
      () => ({
        name: 'flaky',
        kernels: {},
        init: () => {
          throw new Error('no wasm SIMD');
        },
      }),
      99,
    );
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const kit = createCosineKit();
    expect((await kit.ready()).backend).not.toBe('flaky');
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/'flaky' is unavailable.*no wasm SIMD/));
    warn.mockRestore();
  });

  it('says, by default, that only the corpus moved when the backend cannot store its storage', async () => {
    const { argError } = await import('../src/backend.js');
    const float32Only: Backend = {
      name: 'f32only',
      kernels: {
        ...referenceKernels,
        exportCorpus: undefined,
        importCorpus: undefined,
        createCorpus: (x, options) => {
          if ((options?.storage ?? 'float32') !== 'float32')
            argError('UNSUPPORTED', 'createCorpus', 'storage', 'is float32 only here.');
          return referenceKernels.createCorpus!(x, options);
        },
      },
    };
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      const kit = createCosineKit({ backend: float32Only });
      const c = await kit.corpus(
        [
          [1, 0],
          [0, 1],
        ],
        { storage: 'float16' },
      );
      expect(c.storage).toBe('float16');
      expect((await kit.ready()).backend).toBe('f32only');
      expect(warn).toHaveBeenCalledTimes(1);
      const text = String(warn.mock.calls[0][0]);
      expect(text).toMatch(
        /backend 'f32only' cannot store a corpus as float16; the reference backend holds it/,
      );
      expect(text).not.toMatch(/unavailable/);
      c.dispose();
    } finally {
      warn.mockRestore();
    }
  });

  it('rejects a backend object whose init fails', async () => {
    const kit = createCosineKit({
      backend: {
        name: 'x',
        kernels: {},
        init: () => {
          throw new Error('boom');
        },
      },
    });
    await expect(kit.ready()).rejects.toBeInstanceOf(CosineKitError);
  });

  it('kit.dispose() releases every corpus it made', async () => {
    const ref = createReferenceBackend();
    const kit = createCosineKit({ backend: ref });
    const before = ref.memory!().residentHandles;
    const a = await kit.corpus([
      [1, 2],
      [3, 4],
    ]);
    await kit.corpus([[1, 2]]);
    expect(ref.memory!().residentHandles).toBe(before + 2);
    a.dispose();
    kit.dispose();
    expect(ref.memory!().residentHandles).toBe(before);
  });
});

describe('disposeBackends', () => {
  it('gives a kit made before its promise settles a fresh instance, not the one being disposed', async () => {
    const { disposeBackends } = await import('../src/index.js');
    let made = 0;
    const disposed: number[] = [];
    reg(
      'counted',
      () => {
        const id = ++made;
        return {
          name: 'counted',
          kernels: { ...referenceKernels },
          // Disposal takes a while, as a real engine's may.
          dispose: () => new Promise<void>((r) => setTimeout(() => r(void disposed.push(id)), 20)),
        };
      },
      1,
    );
    const first = createCosineKit({ backend: 'counted' });
    await first.cosineMatrix([[1, 2]], [[1, 3]]);
    expect(made).toBe(1);
    const going = disposeBackends();
    const next = createCosineKit({ backend: 'counted' });
    const m = await next.cosineMatrix([[1, 2]], [[1, 3]]);
    expect(Math.abs(m.data[0] - 7 / Math.sqrt(50))).toBeLessThan(1e-6);
    expect(made).toBe(2);
    await going;
    expect(disposed).toEqual([1]);
    expect((await next.cosineMatrix([[1, 0]], [[1, 0]])).data[0]).toBe(1);
  });

  it('gives a kit whose backend was still starting when it was called a fresh instance too (a probe: every call of it was DISPOSED)', async () => {
    const { disposeBackends } = await import('../src/index.js');
    let made = 0;
    const disposed: number[] = [];
    reg(
      'slow-start',
      () => {
        const id = ++made;
        return {
          name: 'slow-start',
          kernels: { ...referenceKernels },
          init: () => new Promise<void>((r) => setTimeout(r, 30)),
          dispose: () => void disposed.push(id),
        };
      },
      1,
    );
    const kit = createCosineKit({ backend: 'slow-start' });
    const starting = kit.ready();
    await new Promise((r) => setTimeout(r, 5));
    expect(made).toBe(1);
    const going = disposeBackends();
    await starting;
    await going;
    expect(disposed).toEqual([1]);
    expect(made).toBe(2);
    expect((await kit.cosineMatrix([[1, 0]], [[1, 0]])).data[0]).toBe(1);
    kit.dispose();
  });
});

describe('a backend or handle whose dispose() throws or rejects', () => {
  it('never fails a replacement, an unregistration or a corpus dispose, nor leaves an unhandled rejection', async () => {
    const { disposeBackends } = await import('../src/index.js');
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const throwing = (name: string, how: 'throw' | 'reject'): Backend => ({
        name,
        kernels: {
          ...referenceKernels,
          createCorpus: (x, o) => {
            const h = referenceKernels.createCorpus!(x, o) as { dispose(): unknown };
            h.dispose = () => {
              if (how === 'throw') throw new Error('handle dispose broke');
              return Promise.reject(new Error('handle dispose rejected'));
            };
            return h as never;
          },
        },
        dispose: () => {
          if (how === 'throw') throw new Error('backend dispose broke');
          return Promise.reject(new Error('backend dispose rejected'));
        },
      });
      for (const how of ['throw', 'reject'] as const) {
        reg('leaky', () => throwing('leaky', how), 1);
        const kit = createCosineKit({ backend: 'leaky' });
        const c = await kit.corpus([
          [1, 0],
          [0, 1],
        ]);
        expect(() => c.dispose()).not.toThrow();
        const c2 = await kit.corpus([[1, 1]]);
        const queued = c2.search([[1, 0]], 1);
        c2.dispose();
        await queued;
        // Replacing the registration makes it, whatever the old instance's dispose does.
        expect(() => registerBackend('leaky', () => throwing('leaky', how), 1)).not.toThrow();
        await createCosineKit({ backend: 'leaky' }).rowNorms([[3, 4]]);
        expect(() => unregisterBackend('leaky')).not.toThrow();
        reg('leaky', () => throwing('leaky', how), 1);
        await createCosineKit({ backend: 'leaky' }).rowNorms([[3, 4]]);
        await expect(disposeBackends()).rejects.toMatchObject({
          code: 'BACKEND_ERROR',
          op: 'disposeBackends',
        });
      }
      await new Promise((r) => setTimeout(r, 20));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});

describe('a registered backend whose start never settles, or is replaced while it runs', () => {
  it('is given up on after the bound: the best-available search goes on to the next, later callers fail at once, disposeBackends settles', async () => {
    const { disposeBackends } = await import('../src/index.js');
    vi.useFakeTimers();
    try {
      let late: (() => void) | undefined;
      const disposed: string[] = [];
      reg(
        'hangs',
        () => ({
          name: 'hangs',
          kernels: { ...referenceKernels },
          init: () => new Promise<void>((r) => (late = () => r())),
          dispose: () => void disposed.push('hangs'),
        }),
        100,
      );
      const skipped: string[] = [];
      const kit = createCosineKit({ onFallback: (m) => skipped.push(String(m)) });
      const ready = kit.ready();
      await vi.advanceTimersByTimeAsync(60_000);
      // It waited on the hung start for good, then failed; now it falls back to the reference.
      expect((await ready).backend).toBe('reference');
      expect(skipped.join('\n')).toMatch(/hangs/);
      expect(listBackends().find((s) => s.name === 'hangs')).toMatchObject({
        state: 'failed',
        error: expect.stringMatching(/did not settle within 60000 ms/),
      });
      // A later best-available kit does not wait again.
      expect((await createCosineKit().ready()).backend).toBe('reference');
      // A start that comes up after it was given up on is disposed, not left running.
      late?.();
      await vi.advanceTimersByTimeAsync(0);
      expect(disposed).toEqual(['hangs']);
      await disposeBackends();
    } finally {
      vi.useRealTimers();
    }
  });

  it('disposeBackends settles while a start is still hanging (it disposes the instance if it ever comes up)', async () => {
    const { disposeBackends } = await import('../src/index.js');
    vi.useFakeTimers();
    try {
      reg(
        'stuck',
        () => ({ name: 'stuck', kernels: {}, init: () => new Promise<void>(() => undefined) }),
        -5,
      );
      const waiting = getBackend('stuck').catch((e) => e);
      let settled = false;
      const going = disposeBackends().then(() => (settled = true));
      await vi.advanceTimersByTimeAsync(60_000);
      expect(settled).toBe(true);
      await going;
      expect(await waiting).toMatchObject({ code: 'BACKEND_INIT_FAILED' });
    } finally {
      vi.useRealTimers();
    }
  });

  it('an instance replaced or unregistered while its init() runs is disposed once it is up', async () => {
    for (const end of ['replace', 'unregister'] as const) {
      const made: string[] = [];
      const disposed: string[] = [];
      let n = 0;
      reg(
        'slow',
        () => {
          const id = `slow-${++n}`;
          made.push(id);
          return {
            name: 'slow',
            kernels: { ...referenceKernels },
            init: () => new Promise<void>((r) => setTimeout(r, 10)),
            dispose: () => void disposed.push(id),
          };
        },
        -5,
      );
      const first = getBackend('slow');
      await Promise.resolve();
      if (end === 'replace') reg('slow', () => createReferenceBackend(), -5);
      else unregisterBackend('slow');
      await first;
      await new Promise((r) => setTimeout(r, 0));
      expect(made).toEqual(['slow-1']);
      expect(disposed).toEqual(['slow-1']);
    }
  });
});
