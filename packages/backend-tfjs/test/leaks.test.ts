import { ACTIVATIONS } from '@cosinekit/core/backend';
import { describe, expect, it } from 'vitest';
import { createTfjsBackend, initTfjsEngine } from '../src/index.js';
import { ENGINES, matrix } from './helpers.js';

describe.each(ENGINES)('tfjs-%s leaves no tensors behind', (engine) => {
  it('after every kernel, and after a corpus is disposed', async () => {
    const backend = createTfjsBackend({ engine, tileColumns: 5 });
    await backend.init();
    const tf = await initTfjsEngine(engine);
    const start = tf.memory().numTensors;
    const startBytes = tf.memory().numBytes;
    const a = matrix(6, 8, 1);
    const b = matrix(17, 8, 2);
    const k = backend.kernels;

    await k.rowNorms(a);
    await k.normalizeRows(a);
    await k.cosineRows(a, a);
    await k.cosineMatrix(a, b);
    await k.topK(a, b, 4);
    await k.matmul(a, b, false, true);
    await k.addBias(a, new Float32Array(8));
    for (const kind of ACTIVATIONS) {
      await k.activation(kind, a);
      await k.activationGrad(kind, a, a);
    }
    expect(tf.memory().numTensors).toBe(start);

    const corpus = await k.createCorpus(b);
    expect(backend.memory().residentHandles).toBe(1);
    expect(tf.memory().numTensors).toBeGreaterThan(start);
    await k.corpusSearch(corpus, a, 3);
    await k.corpusMatrix(corpus, a);
    corpus.dispose();
    expect(backend.memory()).toEqual({ residentHandles: 0, objects: start, bytes: startBytes });
  });

  it('after a failing kernel', async () => {
    const backend = createTfjsBackend({ engine });
    const tf = await initTfjsEngine(engine);
    await backend.init();
    const start = tf.memory().numTensors;
    // Shapes that tfjs itself rejects (the public API would have caught them first).
    await expect(async () =>
      backend.kernels.matmul(matrix(2, 3, 1), matrix(2, 3, 2), false, false),
    ).rejects.toThrow();
    expect(tf.memory().numTensors).toBe(start);
  });

  it('dispose() releases every resident corpus, and one disposed mid-search is released after it', async () => {
    const backend = createTfjsBackend({ engine, tileColumns: 3 });
    await backend.init();
    const tf = await initTfjsEngine(engine);
    const start = tf.memory().numTensors;
    const first = await backend.kernels.createCorpus(matrix(10, 4, 1));
    const second = await backend.kernels.createCorpus(matrix(10, 4, 2));
    const search = backend.kernels.corpusSearch(second, matrix(2, 4, 3), 2);
    second.dispose();
    await search;
    expect(backend.memory().residentHandles).toBe(1);
    backend.dispose();
    expect(first.disposed).toBe(true);
    expect(backend.memory().residentHandles).toBe(0);
    expect(tf.memory().numTensors).toBe(start);
  });
});
