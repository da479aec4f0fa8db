import { listBackends } from '@cosinekit/core';
import { getBackend, referenceKernels, unregisterBackend } from '@cosinekit/core/backend';
import { describe, expect, it } from 'vitest';
import { createTfjsBackend, initTfjsEngine } from '../src/index.js';
import { matrix, maxAbsError } from './helpers.js';

describe('tfjs-wasm leaves the process error handlers to the application', () => {
  it('its start adds no uncaughtException or unhandledRejection listener that rethrows (they ended the process, exit code 7, after any error the application handled)', async () => {
    const rethrowing = () =>
      [...process.listeners('uncaughtException'), ...process.listeners('unhandledRejection')].filter((l) =>
        /\bthrow\b/.test(Function.prototype.toString.call(l)),
      );
    const before = rethrowing().length;
    // The application's own handler, added before: kept.
    const own = () => undefined;
    process.on('unhandledRejection', own);
    // And one that rethrows, added while the engine starts: the application's, kept too (removing
    // every new listener that threw took those).
    const fatal = (reason: unknown) => {
      throw reason;
    };
    try {
      const starting = initTfjsEngine('wasm');
      // Once the start is under way (it compiles wasm for a while).
      await new Promise((r) => setTimeout(r, 5));
      process.on('unhandledRejection', fatal);
      const tf = await starting;
      expect(tf.getBackend()).toBe('wasm');
      expect(rethrowing().length).toBe(before + 1);
      expect(process.listeners('unhandledRejection')).toContain(own);
      expect(process.listeners('unhandledRejection')).toContain(fatal);
      // The engine still works.
      const backend = createTfjsBackend({ engine: 'wasm' });
      await backend.init?.();
      const a = matrix(3, 5, 1);
      expect(
        maxAbsError(
          await backend.kernels.cosineMatrix(a, a),
          referenceKernels.cosineMatrix(a, a) as Float32Array,
        ),
      ).toBeLessThan(1e-5);
      backend.dispose?.();
    } finally {
      process.removeListener('unhandledRejection', own);
      process.removeListener('unhandledRejection', fatal);
    }
  });
});

describe('tfjs engines in Node', () => {
  it('a failed engine init rejects with the reason instead of running another engine', async () => {
    // Node has no WebGL: tfjs would warn and fall back to cpu; the backend must refuse instead.
    const webgl = createTfjsBackend({ engine: 'webgl' });
    await expect(webgl.init()).rejects.toThrow(/'webgl' engine/);
    await expect(async () => webgl.kernels.rowNorms(matrix(1, 2, 1))).rejects.toThrow(/webgl/);
    expect(webgl.memory().residentHandles).toBe(0);
  });

  it('tfjs-webgpu without navigator.gpu rejects init with the reason', async () => {
    const webgpu = createTfjsBackend({ engine: 'webgpu' });
    await expect(webgpu.init()).rejects.toThrow(/'webgpu' engine/);
  });

  it('init failures are typed: UNSUPPORTED naming the engine, tfjs reason kept (was a plain Error)', async () => {
    const webgl = createTfjsBackend({ engine: 'webgl' });
    await expect(webgl.init()).rejects.toMatchObject({
      name: 'CosineKitError',
      code: 'UNSUPPORTED',
      arg: 'engine',
    });
  });

  it('reads its options once, at the call, and refuses bad ones by name', async () => {
    const bad: [unknown, string, string][] = [
      [{ engine: 'cpu', name: 42 }, 'INVALID_ARGUMENT', 'name'],
      [{ engine: 'cpu', name: '' }, 'INVALID_ARGUMENT', 'name'],
      [{ engine: 'wasm', wasmPaths: 5 }, 'INVALID_TYPE', 'options.wasmPaths'],
      [{ engine: 'wasm', wasmPaths: { 'tfjs-backend-wasm.wasm': 3 } }, 'INVALID_TYPE', 'options.wasmPaths'],
      [
        Object.defineProperty({ engine: 'cpu' }, 'tileColumns', {
          enumerable: true,
          get() {
            throw new Error('boom');
          },
        }),
        'INVALID_ARGUMENT',
        'options',
      ],
    ];
    for (const [options, code, arg] of bad)
      expect(() => createTfjsBackend(options as never)).toThrow(
        expect.objectContaining({ name: 'CosineKitError', code, op: 'createTfjsBackend', arg }),
      );
    expect(() => createTfjsBackend({ engine: 'cpu', tileColumns: '4' as never })).toThrow(
      /got the string '4'/,
    );
    await expect(initTfjsEngine('bogus' as never)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      op: 'initTfjsEngine',
      arg: 'engine',
    });
    // Changing the options object after the call changes nothing.
    const options = { engine: 'cpu' as const, scoreTile: 64 };
    const cpu = createTfjsBackend(options);
    options.scoreTile = -1;
    await cpu.init();
    expect(
      maxAbsError(
        await cpu.kernels.cosineMatrix(matrix(3, 4, 1), matrix(5, 4, 2)),
        referenceKernels.cosineMatrix(matrix(3, 4, 1), matrix(5, 4, 2)) as Float32Array,
      ),
    ).toBeLessThan(1e-6);
    cpu.dispose();
  });

  it('a createCorpus queued behind init when the backend is disposed builds nothing (was resident and unreachable)', async () => {
    const b = createTfjsBackend({ engine: 'cpu', name: 'tfjs-cpu-dispose-race' });
    const queued = b.kernels.createCorpus(matrix(5, 3, 1));
    const matrixCall = b.kernels.cosineMatrix(matrix(2, 3, 1), matrix(2, 3, 2));
    b.dispose();
    await expect(queued).rejects.toMatchObject({ code: 'DISPOSED' });
    await expect(matrixCall).rejects.toMatchObject({ code: 'DISPOSED' });
    expect(b.memory().residentHandles).toBe(0);
  });

  it('rejects an unknown engine at creation', () => {
    expect(() => createTfjsBackend({ engine: 'webgl2' as 'wasm' })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', arg: 'engine' }),
    );
  });

  it('refuses options that are not an object, or missing, by name', () => {
    for (const bad of [null, 'wasm', ['wasm'], 3])
      expect(() => createTfjsBackend(bad as never)).toThrow(
        expect.objectContaining({ code: 'INVALID_TYPE', op: 'createTfjsBackend', arg: 'options' }),
      );
    expect(() => createTfjsBackend({ engine: 'cpu', tileColumn: 4 } as never)).toThrow(
      expect.objectContaining({
        code: 'INVALID_ARGUMENT',
        op: 'createTfjsBackend',
        arg: 'options.tileColumn',
      }),
    );
    expect(() => createTfjsBackend(undefined as never)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', op: 'createTfjsBackend', arg: 'options' }),
    );
  });

  it('concurrent first calls share one init; wasm and cpu interleave without mixing engines', async () => {
    const wasm = createTfjsBackend({ engine: 'wasm', name: 'w', tileColumns: 3 });
    const cpu = createTfjsBackend({ engine: 'cpu', name: 'c', tileColumns: 4 });
    const corpusRows = matrix(40, 9, 1);
    const queries = matrix(5, 9, 2);
    const [cw, cc] = await Promise.all([
      wasm.kernels.createCorpus(corpusRows),
      cpu.kernels.createCorpus(corpusRows),
    ]);
    const want = referenceKernels.cosineMatrix(queries, corpusRows) as Float32Array;
    const calls: Promise<Float32Array>[] = [];
    for (let i = 0; i < 6; i++) {
      calls.push(Promise.resolve(wasm.kernels.corpusMatrix(cw, queries)));
      calls.push(Promise.resolve(cpu.kernels.corpusMatrix(cc, queries)));
      calls.push(Promise.resolve(wasm.kernels.cosineRows(queries, queries)));
    }
    for (const [i, r] of (await Promise.all(calls)).entries()) {
      if (i % 3 === 2) for (const v of r) expect(v).toBeCloseTo(1, 5);
      else expect(maxAbsError(r, want)).toBeLessThan(1e-5);
    }
    // Each resident tensor still lives on the engine that made it.
    const tf = await initTfjsEngine('cpu');
    expect(tf.getBackend()).toBe('cpu');
    const engines = new Set([cw, cc].map((c) => (c as unknown as { engine: string }).engine));
    expect(engines).toEqual(new Set(['wasm', 'cpu']));
    expect(wasm.describe().engine).toBe('wasm');
    expect(cpu.describe().engine).toBe('cpu');
    cw.dispose();
    cc.dispose();
  });

  it('initTfjsEngine switches back after a backend changed the engine', async () => {
    const tf = await initTfjsEngine('wasm');
    await createTfjsBackend({ engine: 'cpu' }).kernels.rowNorms(matrix(1, 3, 1));
    expect(tf.getBackend()).toBe('cpu');
    expect((await initTfjsEngine('wasm')).getBackend()).toBe('wasm');
  });

  it('register adds tfjs-wasm (5) and tfjs-cpu (-1) but no webgl in Node, and the registry initialises them', async () => {
    await import('../src/register.js');
    const rows = listBackends().filter((b) => b.name.startsWith('tfjs-'));
    expect(rows.map((b) => [b.name, b.priority])).toEqual([
      ['tfjs-wasm', 5],
      ['tfjs-cpu', -1],
    ]);
    const b = await getBackend('tfjs-wasm');
    expect(b.describe?.().engine).toBe('wasm');
    unregisterBackend('tfjs-wasm');
    unregisterBackend('tfjs-cpu');
  });
});

describe('an engine named by a value that is none', () => {
  it('is refused by name, described by its type (an object without a prototype threw a raw TypeError from String())', () => {
    for (const engine of [Object.create(null), Symbol('e'), { toString: () => 'wasm' }])
      expect(() => createTfjsBackend({ engine } as never)).toThrow(
        expect.objectContaining({ name: 'CosineKitError', code: 'INVALID_ARGUMENT', arg: 'engine' }),
      );
  });
});
