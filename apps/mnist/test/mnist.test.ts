import { createCosineKit } from '@cosinekit/core';
import { describe, expect, it } from 'vitest';
import { parseFlags } from '../src/args.js';
import { loadDigits } from '../src/data.js';
import { embeddingQuality, rawQuality, trainDigitEncoder } from '../src/experiment.js';

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
  });

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
});
