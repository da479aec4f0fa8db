import { listBackends } from '@cosinekit/core';
import { getBackend, referenceKernels, unregisterBackend } from '@cosinekit/core/backend';
import { describe, expect, it } from 'vitest';
import { createTfjsBackend, initTfjsEngine } from '../src/index.js';
import { matrix, maxAbsError } from './helpers.js';

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
