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

  it('refuses flags outside their rules, and output paths that cannot be written, before any work (a probe found each)', async () => {
    const { UsageError, unwritable } = await import('../src/args.js');
    const rules = {
      epochs: { int: true, min: 1 },
      split: { above: 0, below: 1 },
      v: { choices: ['a', 'b'] },
    };
    const defaults = { epochs: 6, split: 0.8, v: 'a' };
    for (const [argv, message] of [
      [['--epochs', '0'], /'--epochs' must be at least 1, got '0'/],
      [['--epochs', '1.5'], /'--epochs' must be a whole number/],
      [['--epochs', ''], /'--epochs' needs a number, got ''/],
      [['--epochs', '0x10'], /'--epochs' needs a number, got '0x10'/],
      [['--split', '1'], /'--split' must be less than 1/],
      [['--v', 'c'], /'--v' must be one of a, b, got 'c'/],
    ] as const) {
      expect(() => parseFlags(argv, defaults, rules), argv.join(' ')).toThrow(message);
      expect(() => parseFlags(argv, defaults, rules)).toThrow(UsageError);
    }
    expect(parseFlags(['--epochs', '2e1'], defaults, rules).epochs).toBe(20);
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'mnist-args-'));
    writeFileSync(join(dir, 'afile'), '');
    expect(unwritable(dir)).toBe('is a directory');
    expect(unwritable(join(dir, 'afile', 'x.cknn'))).toMatch(/not a directory/);
    expect(unwritable('/proc/x/y.cknn')).toMatch(/where files cannot be made|cannot be written/);
    expect(unwritable('')).toBe('is empty');
    expect(unwritable(join(dir, 'new', 'deeper', 'x.cknn'))).toBeUndefined();
  });

  it('splits all digits 80/20 per digit, seeded and disjoint', () => {
    const a = splitDigits(0.8, 3);
    const b = splitDigits(0.8, 3);
    expect(a.train.rows + a.test.rows).toBe(10_000);
    // Element-wise compare by hand: a deep equality of 6 million values is slow.
    let same = a.train.x.length === b.train.x.length;
    for (let i = 0; same && i < a.train.x.length; i++) same = a.train.x[i] === b.train.x[i];
    expect(same).toBe(true);
    const count = (labels: ArrayLike<number>, d: number) => {
      let n = 0;
      for (let i = 0; i < labels.length; i++) if (labels[i] === d) n++;
      return n;
    };
    for (let d = 0; d < 10; d++) {
      const tr = count(a.train.labels, d);
      expect(tr).toBe(Math.floor(0.8 * (tr + count(a.test.labels, d))));
    }
    // No held-out image is also a training image (compared through a position-weighted checksum).
    const sum = (x: Float32Array, r: number) => {
      let s = 0;
      for (let p = 0; p < 784; p++) s += x[r * 784 + p] * (p + 1);
      return s;
    };
    const seen = new Set(Array.from({ length: a.train.rows }, (_, r) => sum(a.train.x, r)));
    let shared = 0;
    for (let r = 0; r < a.test.rows; r++) if (seen.has(sum(a.test.x, r))) shared++;
    expect(shared).toBe(0);
  }, 60_000);

  it('the CNN + cosine classifier recipe learns from a small subset, deterministically', async () => {
    const { train, test } = loadDigits(30, 0, 10, 2);
    const options = {
      epochs: 2,
      batchSize: 32,
      learningRate: 0.002,
      // What `pnpm mnist` runs by default: warm-up over the first epoch, then the cosine decay.
      schedule: 'cosine' as const,
      seed: 3,
      shift: 1,
      progress: false as const,
    };
    const a = await trainModel(kit, 'classifier', train, test, options);
    const b = await trainModel(kit, 'classifier', train, test, options);
    expect(a.result.history.map((h) => h.loss)).toEqual(b.result.history.map((h) => h.loss));
    expect(a.classifierAccuracy).toBe(b.classifierAccuracy);
    // 300 digits in batches of 32: 9 steps an epoch. The rate peaks at the end of the warm-up
    // epoch and has decayed to 0 at the last step of the second.
    expect(a.result.history.map((h) => h.learningRate)).toEqual([0.002, 0]);
    // 10 classes: chance is 10%.
    expect(a.classifierAccuracy!).toBeGreaterThan(0.3);
    expect(a.nearestNeighbour).toBeGreaterThan(0.3);
  }, 60_000);
});
