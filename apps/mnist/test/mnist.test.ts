import { createCosineKit } from '@cosinekit/core';
import { describe, expect, it } from 'vitest';
import { parseFlags } from '../src/args.js';
import { loadDigits, splitDigits } from '../src/data.js';
import { embeddingQuality, rawQuality, trainDigitEncoder } from '../src/experiment.js';
import { trainModel } from '../src/models.js';

const kit = createCosineKit({ backend: 'reference' });
const options = {
  hidden: 128,
  dim: 32,
  epochs: 6,
  batchSize: 64,
  learningRate: 0.002,
  seed: 1,
  k: 5,
  patience: 0,
  progress: false as const,
};

describe('MNIST example', () => {
  it('loads a seeded, disjoint split of labelled digits', () => {
    const a = loadDigits(5, 2, 3, 7);
    const b = loadDigits(5, 2, 3, 7);
    expect(a.train.rows).toBe(50);
    expect(a.validation.rows).toBe(20);
    expect(a.test.rows).toBe(30);
    expect(a.train.cols).toBe(784);
    expect(Array.from(a.train.labels)).toEqual(Array.from(b.train.labels));
    expect(a.train.x).toEqual(b.train.x);
    expect(new Set(Array.from(a.test.labels)).size).toBe(10);
  }, 30_000);

  it('the learned embedding beats raw pixels on held-out digits (cosine k-NN)', async () => {
    const { train, test } = loadDigits(200, 0, 100, 1);
    const raw = await rawQuality(kit, train, test, options.k);
    const { encoder } = await trainDigitEncoder(kit, { train }, options);
    const learned = await embeddingQuality(kit, encoder, train, test, options.k);
    expect(learned.knnAccuracy).toBeGreaterThan(raw.knnAccuracy);
    expect(learned.recallAt1).toBeGreaterThan(raw.recallAt1);
  }, 60_000);

  it('reproduces identical losses and weights for the same seed', async () => {
    const { train } = loadDigits(30, 0, 1, 1);
    const run = () => trainDigitEncoder(kit, { train }, { ...options, hidden: 32, epochs: 2 });
    const a = await run();
    const b = await run();
    expect(a.result.history.map((h) => h.loss)).toEqual(b.result.history.map((h) => h.loss));
    expect(a.encoder.parameters()).toEqual(b.encoder.parameters());
    const c = await trainDigitEncoder(kit, { train }, { ...options, hidden: 32, epochs: 2, seed: 2 });
    expect(c.result.history[0].loss).not.toBe(a.result.history[0].loss);
  }, 30_000);

  it('parses flags against their defaults', () => {
    expect(parseFlags(['--epochs', '3', '--backends=wasm'], { epochs: 6, backends: 'reference' })).toEqual({
      epochs: 3,
      backends: 'wasm',
    });
    expect(() => parseFlags(['--epoch', '3'], { epochs: 6 })).toThrow(/Unknown flag '--epoch'/);
    expect(() => parseFlags(['--epochs', 'x'], { epochs: 6 })).toThrow(/needs a number/);
  });

  it('splits all digits 80/20 per digit, seeded and disjoint', () => {
    const a = splitDigits(0.8, 3);
    const b = splitDigits(0.8, 3);
    expect(a.train.rows + a.test.rows).toBe(10_000);
    expect(a.train.x).toEqual(b.train.x);
    for (let d = 0; d < 10; d++) {
      const tr = Array.from(a.train.labels).filter((l) => l === d).length;
      const te = Array.from(a.test.labels).filter((l) => l === d).length;
      expect(tr).toBe(Math.floor(0.8 * (tr + te)));
    }
    // No test image is also a training image.
    const key = (x: Float32Array, r: number) => x.subarray(r * 784, (r + 1) * 784).join(',');
    const seen = new Set(Array.from({ length: a.train.rows }, (_, r) => key(a.train.x, r)));
    let shared = 0;
    for (let r = 0; r < 50; r++) if (seen.has(key(a.test.x, r))) shared++;
    expect(shared).toBe(0);
  }, 60_000);

  it('the CNN + cosine classifier recipe learns from a small subset, deterministically', async () => {
    const { train, test } = loadDigits(30, 0, 10, 2);
    const options = {
      epochs: 2,
      batchSize: 32,
      learningRate: 0.002,
      seed: 3,
      shift: 1,
      progress: false as const,
    };
    const a = await trainModel(kit, 'classifier', train, test, options);
    const b = await trainModel(kit, 'classifier', train, test, options);
    expect(a.result.history.map((h) => h.loss)).toEqual(b.result.history.map((h) => h.loss));
    expect(a.classifierAccuracy).toBe(b.classifierAccuracy);
    // 10 classes: chance is 10%.
    expect(a.classifierAccuracy!).toBeGreaterThan(0.3);
    expect(a.nearestNeighbour).toBeGreaterThan(0.3);
  }, 60_000);
});
