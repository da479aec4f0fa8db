import { createWasmBackend } from '@cosinekit/backend-wasm';
import { type Backend, type CosineKitError, createCosineKit, Tensor } from '@cosinekit/core';
import { argError, crc32, referenceKernels } from '@cosinekit/core/backend';
import { describe, expect, it, vi } from 'vitest';
import {
  adam,
  arcFaceLoss,
  type Batch,
  Conv2dLayer,
  CosineClassifier,
  classificationAccuracy,
  contrastiveLoss,
  cosFaceLoss,
  cosineEmbeddingLoss,
  cosineSchedule,
  createCosineClassifier,
  createCosineHead,
  createEncoder,
  createRng,
  type DenseOps,
  Encoder,
  evaluateRetrieval,
  fixedPairSampler,
  float64Ops,
  inBatchSampler,
  kernelOps,
  kernelsOf,
  knnAccuracy,
  type Loss,
  type LossInput,
  labelledSampler,
  loadEncoder,
  mseSimilarityLoss,
  multipleNegativesRankingLoss,
  normalizeRowsBackward,
  normalizeRowsForward,
  normFaceLoss,
  Pool2dLayer,
  pairAccuracy,
  pairSampler,
  progressCallbacks,
  randomShift,
  recallAtK,
  rocAuc,
  type Sampler,
  saveEncoder,
  sgd,
  spearman,
  train,
  tripletSampler,
} from '../src/index.js';
import { randomVec } from './helpers.js';

// Sparse, pixel-like training rows (15% non-zero), as the wasm matmul's sparse path sees them.
const rows = 32;
const cols = 50;
const sparseX = () => Float32Array.from(randomVec(rows * cols, 5), (v, i) => (i % 7 === 0 ? v : 0));
const labels = Array.from({ length: rows }, (_, i) => i % 4);

type Over = Partial<{ x: unknown; rows: unknown; cols: unknown; labels: readonly unknown[] }>;
const data = (x: Float32Array, o: Over) =>
  ({ x, rows, cols, labels, ...o }) as Parameters<typeof inBatchSampler>[0];
const samplers = {
  inBatchSampler: (x: Float32Array, o: Over = {}, so = {}) =>
    inBatchSampler(data(x, o), { batchSize: 8, ...so }),
  tripletSampler: (x: Float32Array, o: Over = {}, so = {}) =>
    tripletSampler(data(x, o), { batchSize: 8, ...so }),
  pairSampler: (x: Float32Array, o: Over = {}, so = {}) => pairSampler(data(x, o), { batchSize: 8, ...so }),
  labelledSampler: (x: Float32Array, o: Over = {}, so = {}) =>
    labelledSampler(data(x, o), { batchSize: 8, ...so }),
};

describe('training data holding NaN or ±Infinity is refused by name, not blamed on a backend', () => {
  for (const [op, make] of Object.entries(samplers)) {
    it(`${op}: NaN/±Infinity at the first, a middle and the last value of x`, () => {
      for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
        for (const at of [0, 17 * cols + 3, rows * cols - 1]) {
          const x = sparseX();
          x[at] = bad;
          expect(() => make(x), `${bad} at ${at}`).toThrow(
            expect.objectContaining({
              name: 'CosineKitError',
              code: 'NON_FINITE',
              op,
              arg: 'data.x',
              message: expect.stringContaining(`row ${Math.floor(at / cols)}, column ${at % cols}`),
            }),
          );
        }
      }
      // Finite extremes are data, not errors: zeros, -0, subnormals and 3e38 are taken.
      const x = sparseX().map((v, i) => (i % 11 === 0 ? -0 : i % 13 === 0 ? 1e-45 : v));
      x[5] = 3e38;
      expect(() => make(x)).not.toThrow();
    });
  }

  it('fixedPairSampler: in a or b', () => {
    const a = sparseX();
    const b = sparseX();
    b[cols + 2] = Number.NaN;
    const targets = Array.from({ length: rows }, () => 1);
    expect(() => fixedPairSampler({ a, b, rows, cols, targets })).toThrow(
      expect.objectContaining({ code: 'NON_FINITE', op: 'fixedPairSampler', arg: 'data.b' }),
    );
  });

  it('a sparse batch with all-zero and -0 rows trains to finite losses on the reference kit', async () => {
    const x = sparseX();
    x.fill(0, 0, 3 * cols);
    x.fill(-0, 5 * cols, 7 * cols);
    const encoder = createEncoder({
      inputs: cols,
      layers: [{ units: 16, activation: 'relu' }, { units: 8 }],
      normalize: true,
      seed: 3,
    });
    const r = await train({
      kernels: createCosineKit({ backend: 'reference' }),
      encoder,
      loss: multipleNegativesRankingLoss(),
      sampler: inBatchSampler({ x, rows, cols, labels }, { batchSize: 8 }),
      optimizer: adam(),
      epochs: 2,
      seed: 7,
    });
    for (const h of r.history) expect(Number.isFinite(h.loss)).toBe(true);
    for (const p of encoder.parameters()) for (const v of p) expect(Number.isFinite(v)).toBe(true);
  });
});

describe('labels, shapes and batch sizes that samplers cannot use are refused by name', () => {
  for (const [op, make] of Object.entries(samplers)) {
    it(`${op}: a label that is not an integer class (fraction, NaN, string, null)`, () => {
      for (const bad of [1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31, '1', null]) {
        const l: unknown[] = labels.slice();
        l[5] = bad;
        expect(() => make(sparseX(), { labels: l as number[] }), String(bad)).toThrow(
          expect.objectContaining({
            code: typeof bad === 'number' ? 'INVALID_ARGUMENT' : 'INVALID_TYPE',
            op,
            arg: 'data.labels',
            message: expect.stringContaining('row 5'),
          }),
        );
      }
      // Negative integers are classes like any other.
      expect(() => make(sparseX(), { labels: labels.map((c) => -c) })).not.toThrow();
    });

    it(`${op}: x of another type, rows or cols not positive integers`, () => {
      for (const [data, arg, code] of [
        [{ x: Array.from(sparseX()) }, 'data.x', 'INVALID_TYPE'],
        [{ x: Float64Array.from(sparseX()) }, 'data.x', 'INVALID_TYPE'],
        // Described without reading it: its constructor getter threw out of the message.
        [
          {
            x: {
              get constructor() {
                throw new Error('ctor');
              },
            },
          },
          'data.x',
          'INVALID_TYPE',
        ],
        [{ rows: 0 }, 'data.rows', 'INVALID_ARGUMENT'],
        [{ rows: 31.5 }, 'data.rows', 'INVALID_ARGUMENT'],
        [{ cols: '50' }, 'data.cols', 'INVALID_ARGUMENT'],
      ] as const) {
        expect(() => make(sparseX(), data as never), arg).toThrow(expect.objectContaining({ code, op, arg }));
      }
    });

    it(`${op}: a batch size that gives no batch (larger than the data with dropLast)`, () => {
      for (const o of [
        { batchSize: rows + 1, dropLast: true },
        { batchSize: 1000, dropLast: true },
      ]) {
        expect(() => make(sparseX(), {}, o)).toThrow(
          expect.objectContaining({ code: 'INVALID_ARGUMENT', op, arg: 'batchSize' }),
        );
      }
      // Larger than the data without dropLast: one batch of every row.
      expect(make(sparseX(), {}, { batchSize: 1000 }).batchesPerEpoch).toBe(1);
    });
  }

  it('inBatchSampler: batches of one pair have no negatives, so batchSize 1 gives no batch', () => {
    expect(() => samplers.inBatchSampler(sparseX(), {}, { batchSize: 1 })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', op: 'inBatchSampler', arg: 'batchSize' }),
    );
  });

  it('one class only: every in-batch negative is masked (loss 0 every batch), so the pair samplers refuse it', () => {
    // inBatchSampler once took it and trained at loss exactly 0 every batch without a word.
    for (const one of [labels.map(() => 3), labels.map(() => -1)])
      for (const op of ['inBatchSampler', 'tripletSampler', 'pairSampler'] as const)
        for (const so of [{}, { augment: (r: Float32Array) => r.reverse() }, { batchSize: 1000 }])
          expect(() => samplers[op](sparseX(), { labels: one }, so), op).toThrow(
            expect.objectContaining({
              name: 'CosineKitError',
              code: 'INVALID_ARGUMENT',
              op,
              arg: 'data.labels',
              message: expect.stringContaining(`every row in class ${one[0]}`),
            }),
          );
    // labelledSampler has no pairs: a classifier's loss trains on one class against the others' vectors.
    expect(() => samplers.labelledSampler(sparseX(), { labels: labels.map(() => 3) })).not.toThrow();
  });

  it('every class a single row: every positive is the anchor itself (cosine 1), refused unless an augment makes the copies differ', () => {
    const distinct = labels.map((_, i) => i);
    for (const op of ['inBatchSampler', 'tripletSampler', 'pairSampler'] as const)
      expect(() => samplers[op](sparseX(), { labels: distinct }), op).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT', op, arg: 'data.labels' }),
      );
    // pairSampler without positives needs none.
    expect(() =>
      samplers.pairSampler(sparseX(), { labels: distinct }, { positiveFraction: 0 }),
    ).not.toThrow();
    // One class of two rows is enough; so is an augment (the SimCSE recipe).
    const oneMate = distinct.map((c) => (c === 1 ? 0 : c));
    const shift = randomShift({ width: 10, height: 5, max: 1 });
    for (const op of ['inBatchSampler', 'tripletSampler', 'pairSampler'] as const) {
      expect(() => samplers[op](sparseX(), { labels: oneMate }), op).not.toThrow();
      const s = samplers[op](sparseX(), { labels: distinct }, { augment: shift });
      expect([...s.epoch(createRng(5))].map((b) => b.rows)).toEqual([8, 8, 8, 8]);
    }
  });

  it('two classes, however unbalanced, still give batches with negatives: a finite, non-zero first-epoch loss', async () => {
    const two = labels.map((_, i) => (i === 7 ? 1 : 0));
    const x = sparseX();
    const report = await train({
      kernels: createCosineKit({ backend: 'reference' }),
      encoder: createEncoder({ inputs: cols, layers: [{ units: 8 }], normalize: true, seed: 3 }),
      loss: multipleNegativesRankingLoss(),
      sampler: inBatchSampler({ x, rows, cols, labels: two }, { batchSize: rows }),
      optimizer: adam(),
      epochs: 1,
    });
    expect(report.history[0].loss).toBeGreaterThan(0);
    expect(Number.isFinite(report.history[0].loss)).toBe(true);
  });

  it('fixedPairSampler: non-finite targets, a and b of another type', () => {
    const base = { a: sparseX(), b: sparseX(), rows, cols, targets: Array.from({ length: rows }, () => 1) };
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, '1']) {
      const targets: unknown[] = base.targets.slice();
      targets[7] = bad;
      // A string is no number (INVALID_TYPE), not a non-finite one.
      expect(() => fixedPairSampler({ ...base, targets: targets as number[] })).toThrow(
        expect.objectContaining({
          code: typeof bad === 'number' ? 'NON_FINITE' : 'INVALID_TYPE',
          op: 'fixedPairSampler',
          arg: 'data.targets',
        }),
      );
    }
    expect(() => fixedPairSampler({ ...base, b: Array.from(base.b) as never })).toThrow(
      expect.objectContaining({ code: 'INVALID_TYPE', arg: 'data.b' }),
    );
  });

  it('train: a custom sampler must declare its batches per epoch as a whole number >= 1 (NaN reached the hooks)', async () => {
    const real = inBatchSampler({ x: sparseX(), rows, cols, labels }, { batchSize: 8 });
    const told: number[] = [];
    const run = (batchesPerEpoch: unknown) =>
      train({
        kernels: createCosineKit({ backend: 'reference' }),
        encoder: createEncoder({ inputs: cols, layers: [{ units: 8 }], normalize: true, seed: 3 }),
        loss: multipleNegativesRankingLoss(),
        sampler: {
          sampling: real.sampling,
          batchesPerEpoch,
          epoch: (rng, reuse) => real.epoch(rng, reuse),
        } as Sampler,
        optimizer: adam(),
        epochs: 1,
        callbacks: { onBatchEnd: (b) => void told.push(b.batches) },
      }).catch((x: unknown) => x);
    for (const bad of [Number.NaN, undefined, 2.5, 0, -1, '4', Number.POSITIVE_INFINITY]) {
      const e = await run(bad);
      expect(e, String(bad)).toMatchObject({ code: 'INVALID_ARGUMENT', op: 'train', arg: 'sampler' });
      expect((e as Error).message).toMatch(/batchesPerEpoch/);
    }
    expect(told).toEqual([]);
    await run(real.batchesPerEpoch);
    expect(told).toEqual(Array(real.batchesPerEpoch).fill(real.batchesPerEpoch));
  });

  it('train: an epoch that yields more batches than its sampler declares is refused (an endless one trained forever)', async () => {
    const real = inBatchSampler({ x: sparseX(), rows, cols, labels }, { batchSize: 8 });
    let drawn = 0;
    const e = await train({
      kernels: createCosineKit({ backend: 'reference' }),
      encoder: createEncoder({ inputs: cols, layers: [{ units: 8 }], normalize: true, seed: 3 }),
      loss: multipleNegativesRankingLoss(),
      sampler: {
        sampling: real.sampling,
        batchesPerEpoch: 3,
        *epoch(rng) {
          for (;;)
            for (const b of real.epoch(rng)) {
              drawn++;
              yield b;
            }
        },
      },
      optimizer: adam(),
      epochs: 1,
    }).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'INVALID_ARGUMENT', op: 'train', arg: 'sampler' });
    expect((e as Error).message).toMatch(/more than its 3 batchesPerEpoch in epoch 0/);
    expect(drawn).toBe(4);
  });

  it('train: a custom sampler that yields no batch is refused, not reported as a NaN loss', async () => {
    const empty: Sampler = { sampling: 'in-batch', batchesPerEpoch: 0, epoch: () => [] };
    const e = await train({
      kernels: createCosineKit({ backend: 'reference' }),
      encoder: createEncoder({ inputs: cols, layers: [{ units: 8 }], normalize: true, seed: 3 }),
      loss: multipleNegativesRankingLoss(),
      sampler: empty,
      optimizer: adam(),
      epochs: 1,
    }).catch((x) => x);
    expect(e).toMatchObject({ code: 'INVALID_ARGUMENT', op: 'train', arg: 'sampler' });
  });
});

describe('numeric options of the wrong type or range are refused, not coerced', () => {
  const c = createCosineClassifier({ classes: 4, dim: 8 });
  const twoClasses = {
    x: Float32Array.of(1, 0, 0, 1, 1, 1, -1, 0),
    rows: 4,
    cols: 2,
    labels: Int32Array.of(0, 0, 1, 1),
  };
  const cases: [string, string, () => unknown][] = [
    ['adam', 'beta1', () => adam({ beta1: 1 })],
    ['adam', 'beta1', () => adam({ beta1: '0.9' as never })],
    ['adam', 'beta2', () => adam({ beta2: -0.1 })],
    ['adam', 'epsilon', () => adam({ epsilon: Number.NaN })],
    ['adam', 'weightDecay', () => adam({ weightDecay: -1 })],
    ['sgd', 'momentum', () => sgd({ momentum: Number.POSITIVE_INFINITY })],
    ['sgd', 'momentum', () => sgd({ momentum: '0.9' as never })],
    ['sgd', 'weightDecay', () => sgd({ weightDecay: null as never })],
    ['multipleNegativesRankingLoss', 'scale', () => multipleNegativesRankingLoss({ scale: '20' as never })],
    ['multipleNegativesRankingLoss', 'scale', () => multipleNegativesRankingLoss({ scale: Infinity })],
    ['multipleNegativesRankingLoss', 'scale', () => multipleNegativesRankingLoss({ scale: 0 })],
    ['contrastiveLoss', 'margin', () => contrastiveLoss({ margin: '0.5' as never })],
    ['contrastiveLoss', 'margin', () => contrastiveLoss({ margin: 3 })],
    ['cosineEmbeddingLoss', 'margin', () => cosineEmbeddingLoss({ margin: Number.NaN })],
    ['cosFaceLoss', 'margin', () => cosFaceLoss(c, { margin: '0.3' as never })],
    ['arcFaceLoss', 'margin', () => arcFaceLoss(c, { margin: '0.3' as never })],
    ['normFaceLoss', 'scale', () => normFaceLoss(c, { scale: '30' as never })],
    ['createEncoder', 'seed', () => createEncoder({ inputs: 4, layers: [{ units: 2 }], seed: Number.NaN })],
    // Named 'units' (the first layer's weights) before (found by a probe).
    ['createEncoder', 'inputs', () => createEncoder({ inputs: 1e12, layers: [{ units: 4 }] })],
    // Named 'kernel', "larger than the input (1)", before.
    [
      'createEncoder',
      'inputShape',
      () => createEncoder({ inputs: 16, layers: [{ type: 'conv2d', filters: 2, kernel: 3 }] }),
    ],
    ['createEncoder', 'seed', () => createEncoder({ inputs: 4, layers: [{ units: 2 }], seed: '1' as never })],
    [
      'createEncoder',
      'normalize',
      () => createEncoder({ inputs: 4, layers: [{ units: 2 }], normalize: 'yes' as never }),
    ],
    [
      'createCosineClassifier',
      'seed',
      () => createCosineClassifier({ classes: 3, dim: 2, seed: Number.NaN }),
    ],
    ['randomShift', 'probability', () => randomShift({ width: 2, height: 2, probability: Number.NaN })],
    ['pairSampler', 'positiveFraction', () => pairSampler(twoClasses, { positiveFraction: Number.NaN })],
    ['pairSampler', 'positiveFraction', () => pairSampler(twoClasses, { positiveFraction: 2 })],
    ['pairSampler', 'positiveFraction', () => pairSampler(twoClasses, { positiveFraction: '0.5' as never })],
    ['cosineSchedule', 'base', () => cosineSchedule(Number.NaN, 10)],
    ['cosineSchedule', 'min', () => cosineSchedule(0.1, 10, 0, 0.2)],
    ['pairAccuracy', 'scores', () => pairAccuracy([0.5, Number.NaN], [1, 0])],
    ['rocAuc', 'scores', () => rocAuc([0.5, Number.NaN, 0.1], [1, 0, 0])],
    ['rocAuc', 'labels', () => rocAuc([0.5, 0.2, 0.1], [1, Number.NaN, 0])],
    ['spearman', 'x', () => spearman([1, Number.NaN, 3], [1, 2, 3])],
    ['spearman', 'y', () => spearman([1, 2, 3], [1, 2, Number.POSITIVE_INFINITY])],
    // A constant series has no rank correlation (0 / 0): it once answered 0, "uncorrelated".
    ['spearman', 'x', () => spearman([0.5, 0.5, 0.5], [1, 2, 3])],
    ['spearman', 'y', () => spearman([1, 2, 3], [0.7, 0.7, 0.7])],
    ['spearman', 'x', () => spearman([0, -0], [1, 2])],
    ['spearman', 'x', () => spearman([4], [4])],
    // null, undefined, strings and throwing getters escaped as raw TypeErrors and Errors.
    ['pairAccuracy', 'scores', () => pairAccuracy(null as never, [1, 0])],
    ['pairAccuracy', 'labels', () => pairAccuracy([0.1, 0.9], undefined as never)],
    ['rocAuc', 'scores', () => rocAuc(['0.1', '0.9'] as never, [1, 0])],
    [
      'spearman',
      'x',
      () =>
        spearman(
          Object.defineProperty([0, 1], 0, {
            get: () => {
              throw new Error('getter');
            },
          }),
          [1, 2],
        ),
    ],
    [
      'classificationAccuracy',
      'predicted',
      () =>
        classificationAccuracy(
          Object.defineProperty([0, 1], 1, {
            get: () => {
              throw new Error('getter');
            },
          }),
          [1, 2],
        ),
    ],
  ];
  for (const [op, arg, make] of cases) {
    it(`${op}: ${arg} (${make.toString().match(/\{.*\}/)?.[0]})`, () => {
      expect(make).toThrow(expect.objectContaining({ name: 'CosineKitError', op, arg }));
    });
  }
});

describe('layers too large to run a single row, and precisions the layers do not store', () => {
  // Each was accepted: a padding of 10^6 built a 2000003 x 2000003 layer that failed on its first
  // row with an engine RangeError; 10^6 x 10^6 weights threw one while being made; 'float16' made
  // float32 weights without a word.
  const img = { inputs: 16, inputShape: [4, 4, 1] as const };
  const cases: [string, string, () => unknown][] = [
    [
      'createEncoder',
      'padding',
      () => createEncoder({ ...img, layers: [{ type: 'conv2d', filters: 1, kernel: 2, padding: 1e6 }] }),
    ],
    [
      'createEncoder',
      'padding',
      () => createEncoder({ ...img, layers: [{ type: 'conv2d', filters: 64, kernel: 3, padding: 3000 }] }),
    ],
    [
      'createEncoder',
      'filters',
      () => createEncoder({ ...img, layers: [{ type: 'conv2d', filters: 2 ** 29, kernel: 3 }] }),
    ],
    ['createEncoder', 'units', () => createEncoder({ inputs: 1e6, layers: [{ units: 1e6 }] })],
    [
      'createEncoder',
      'units',
      () => createEncoder({ inputs: 4, layers: [{ units: 4 }, { units: 2 ** 29 }] }),
    ],
    [
      'Conv2dLayer',
      'padding',
      () =>
        new Conv2dLayer(
          { inputShape: [4, 4, 1], filters: 1, kernel: [2, 2], stride: 1, padding: 1e6 },
          'linear',
          new Float32Array(4),
          new Float32Array(0),
        ),
    ],
    [
      'createEncoder',
      'precision',
      () => createEncoder({ inputs: 4, layers: [{ units: 2 }], precision: 'float16' as never }),
    ],
    ['clone', 'precision', () => createEncoder({ inputs: 4, layers: [{ units: 2 }] }).clone('half' as never)],
  ];
  for (const [op, arg, make] of cases) {
    it(`${op}: ${arg} (${make.toString().match(/\{.*\}/)?.[0]})`, () => {
      expect(make).toThrow(
        expect.objectContaining({ name: 'CosineKitError', code: 'INVALID_ARGUMENT', op, arg }),
      );
    });
  }

  it('the largest layers allowed are made, and a large padding within the limit still embeds exactly', async () => {
    // padding 3 on a 2 x 2 image: windows past the image read zeros; the output is the bias-free
    // sum of the window's pixels with the weights, checked against a float64 convolution.
    const enc = createEncoder({
      inputs: 4,
      inputShape: [2, 2, 1],
      layers: [{ type: 'conv2d', filters: 1, kernel: 2, padding: 3, bias: false }],
      seed: 5,
    });
    const w = Array.from(enc.parameters()[0]);
    const x = [1, -2, 3, 0.5];
    const out = await enc.embed(createCosineKit({ backend: 'reference' }), [x]);
    const side = 2 + 6 - 2 + 1;
    expect(out.cols).toBe(side * side);
    for (let oy = 0; oy < side; oy++)
      for (let ox = 0; ox < side; ox++) {
        let want = 0;
        for (let ky = 0; ky < 2; ky++)
          for (let kx = 0; kx < 2; kx++) {
            const iy = oy + ky - 3;
            const ix = ox + kx - 3;
            if (iy >= 0 && iy < 2 && ix >= 0 && ix < 2) want += x[iy * 2 + ix] * w[ky * 2 + kx];
          }
        expect(Math.abs(out.data[oy * side + ox] - want)).toBeLessThanOrEqual(1e-6);
      }
  });
});

describe('a loss called outside train (a custom loop) refuses what would give NaN gradients or a NaN loss', () => {
  // Each answered: NaN gradients beside a finite loss for a NaN or ±Infinity row (the row's
  // normalisation read it as zero), a NaN loss for rows: 0, a NaN target read as "dissimilar"
  // (contrastive, cosine-embedding) or a NaN loss (mse), and a short `a` read past its end.
  const c = createCosineClassifier({ classes: 3, dim: 2, precision: 'float64' });
  const losses: [string, Loss, boolean][] = [
    ['contrastiveLoss', contrastiveLoss(), true],
    ['cosineEmbeddingLoss', cosineEmbeddingLoss(), true],
    ['mseSimilarityLoss', mseSimilarityLoss(), true],
    ['multipleNegativesRankingLoss', multipleNegativesRankingLoss(), true],
    ['normFaceLoss', normFaceLoss(c), false],
    ['cosFaceLoss', cosFaceLoss(c), false],
    ['arcFaceLoss', arcFaceLoss(c), false],
  ];
  const good = () => ({
    a: Float64Array.of(1, 0, 0.5, -2),
    b: Float64Array.of(0.3, 1, -1, 0),
    rows: 2,
    cols: 2,
    targets: [1, 0],
    labels: [0, 2],
  });
  for (const [op, loss, paired] of losses) {
    const bad: [string, string, string, LossInput][] = [
      ['NaN in a', 'NON_FINITE', 'a', { ...good(), a: Float64Array.of(1, Number.NaN, 0, 1) }],
      [
        '-Infinity in a',
        'NON_FINITE',
        'a',
        { ...good(), a: Float64Array.of(1, 0, Number.NEGATIVE_INFINITY, 1) },
      ],
      ['a too short', 'SHAPE_MISMATCH', 'a', { ...good(), a: Float64Array.of(1) }],
      ['rows 0', 'EMPTY_INPUT', 'rows', { ...good(), rows: 0 }],
      ['rows 1.5', 'INVALID_ARGUMENT', 'rows', { ...good(), rows: 1.5 }],
      ['cols NaN', 'INVALID_ARGUMENT', 'cols', { ...good(), cols: Number.NaN }],
      ['a number[]', 'INVALID_TYPE', 'a', { ...good(), a: [1, 0, 0, 1] as never }],
    ];
    if (paired) {
      bad.push([
        'Infinity in b',
        'NON_FINITE',
        'b',
        { ...good(), b: Float64Array.of(0, 0, 0, Number.POSITIVE_INFINITY) },
      ]);
      bad.push(['a NaN target', 'NON_FINITE', 'targets', { ...good(), targets: [Number.NaN, 1] }]);
      bad.push([
        'NaN in negatives',
        'NON_FINITE',
        'negatives',
        { ...good(), negatives: Float64Array.of(Number.NaN, 0, 0, 1) },
      ]);
    }
    for (const [what, code, arg, input] of bad)
      it(`${op}: ${what}`, async () => {
        await expect((async () => loss.compute(float64Ops, input))()).rejects.toMatchObject({
          name: 'CosineKitError',
          code,
          op,
          arg,
        });
      });
    it(`${op}: good input still gives a finite loss and finite gradients`, async () => {
      const r = await loss.compute(float64Ops, good());
      expect(Number.isFinite(r.loss)).toBe(true);
      for (const g of [r.gradA, r.gradB, ...(r.gradParams ?? [])])
        expect(g.every(Number.isFinite)).toBe(true);
    });
  }

  it('createCosineClassifier: a precision it does not store, and class vectors too large to hold', () => {
    expect(() => createCosineClassifier({ classes: 2, dim: 2, precision: 'float16' as never })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', op: 'createCosineClassifier', arg: 'precision' }),
    );
    expect(() => createCosineClassifier({ classes: 1e6, dim: 1e6 })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', op: 'createCosineClassifier', arg: 'classes' }),
    );
  });
});

describe('evaluateRetrieval: labels it cannot compare, and errors named after it', () => {
  // NaN and '0' labels once matched nothing and lowered recall and accuracy without a word; a
  // missing label array or set was a TypeError; k past the rows was named as 'topK'.
  const kit = createCosineKit({ backend: 'reference' });
  const corpus = [
    [1, 0],
    [0, 1],
    [1, 1],
    [-1, 0],
  ];
  const set = {
    queries: [
      [1, 0.1],
      [0, 1],
    ],
    queryLabels: [0, 1],
    corpus,
    corpusLabels: [0, 1, 0, 1],
  };
  const cases: [string, string, string, () => Promise<unknown>][] = [
    [
      'a NaN query label',
      'NON_FINITE',
      'set.queryLabels',
      () => evaluateRetrieval(kit, { ...set, queryLabels: [Number.NaN, 1] }, 2),
    ],
    [
      "a '0' query label",
      'INVALID_TYPE',
      'set.queryLabels',
      () => evaluateRetrieval(kit, { ...set, queryLabels: ['0', 1] as never }, 2),
    ],
    [
      'an Infinity corpus label',
      'NON_FINITE',
      'set.corpusLabels',
      () => evaluateRetrieval(kit, { ...set, corpusLabels: [0, 1, Number.POSITIVE_INFINITY, 1] }, 2),
    ],
    [
      'no query labels',
      'INVALID_TYPE',
      'set.queryLabels',
      () => evaluateRetrieval(kit, { ...set, queryLabels: undefined as never }, 1),
    ],
    ['a null set', 'INVALID_TYPE', 'set', () => evaluateRetrieval(kit, null as never, 1)],
    ['k past the corpus rows', 'INVALID_K', 'k', () => evaluateRetrieval(kit, set, [1, 5])],
    [
      'no queries',
      'EMPTY_INPUT',
      'set.queries',
      () => evaluateRetrieval(kit, { ...set, queries: [], queryLabels: [] }, 1),
    ],
    [
      'one query label short',
      'SHAPE_MISMATCH',
      'set.queryLabels',
      () => evaluateRetrieval(kit, { ...set, queryLabels: [0] }, 1),
    ],
  ];
  for (const [what, code, arg, call] of cases)
    it(what, async () => {
      await expect(call()).rejects.toMatchObject({
        name: 'CosineKitError',
        code,
        op: 'evaluateRetrieval',
        arg,
      });
    });

  // recallAtK and knnAccuracy once delegated to evaluateRetrieval and threw errors naming it.
  // The same refusals through each of them: the same code and argument, their own name.
  for (const [op, fn] of [
    ['recallAtK', recallAtK],
    ['knnAccuracy', knnAccuracy],
  ] as const) {
    it(`${op}: the same refusals name '${op}', not 'evaluateRetrieval'`, async () => {
      const sets: [string, string, Parameters<typeof recallAtK>[1], number][] = [
        ['NON_FINITE', 'set.queryLabels', { ...set, queryLabels: [Number.NaN, 1] }, 2],
        ['INVALID_TYPE', 'set.queryLabels', { ...set, queryLabels: ['0', 1] as never }, 2],
        ['NON_FINITE', 'set.corpusLabels', { ...set, corpusLabels: [0, 1, Number.POSITIVE_INFINITY, 1] }, 2],
        ['INVALID_TYPE', 'set.queryLabels', { ...set, queryLabels: undefined as never }, 1],
        ['INVALID_TYPE', 'set', null as never, 1],
        ['INVALID_K', 'k', set, 5],
        ['INVALID_K', 'k', set, 0],
        ['INVALID_K', 'k', set, 1.5],
        ['INVALID_K', 'k', set, [1, 2] as never],
        ['EMPTY_INPUT', 'set.queries', { ...set, queries: [], queryLabels: [] }, 1],
        ['SHAPE_MISMATCH', 'set.queryLabels', { ...set, queryLabels: [0] }, 1],
        ['SHAPE_MISMATCH', 'set.corpusLabels', { ...set, corpusLabels: [0, 1] }, 4],
        ['DIMENSION_MISMATCH', 'set.queries', { ...set, queries: [[1, 0, 0]], queryLabels: [0] }, 1],
        ['NON_FINITE', 'set.corpus', { ...set, corpus: [[1, Number.NaN], ...corpus.slice(1)] }, 1],
      ];
      for (const [code, arg, s, k] of sets) {
        const e = await fn(kit, s, k).catch((x: unknown) => x);
        expect(e, `${code} ${arg}`).toMatchObject({ name: 'CosineKitError', code, op, arg });
        expect((e as Error).message).toContain(`Argument '${arg}' passed to '${op}'`);
      }
      // A resident corpus disposed before the call: the search's DISPOSED, renamed.
      const resident = await kit.corpus(corpus);
      resident.dispose();
      await expect(fn(kit, { ...set, corpus: resident }, 1)).rejects.toMatchObject({
        code: 'DISPOSED',
        op,
        arg: 'set.corpus',
      });
      // And the answers are evaluateRetrieval's (checked by hand above).
      expect(await fn(kit, set, 2)).toBe(1);
    });
  }
  it("knnAccuracy: a tie-break it does not know, or options that are not an object, name 'knnAccuracy'", async () => {
    await expect(knnAccuracy(kit, set, 2, { tieBreak: 'largest' as 'score' })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      op: 'knnAccuracy',
      arg: 'options.tieBreak',
    });
    await expect(knnAccuracy(kit, set, 2, null as never)).rejects.toMatchObject({
      code: 'INVALID_TYPE',
      op: 'knnAccuracy',
      arg: 'options',
    });
  });

  it('good labels still give the exact report (checked by hand)', async () => {
    // Query 0 [1, 0.1]: rows 0 (0.995), 2 (0.7746): both class 0. Query 1 [0, 1]: rows 1 (1), 2 (0.7071): classes 1, 0.
    expect(await evaluateRetrieval(kit, set, [1, 2])).toEqual([
      { k: 1, recall: 1, knnAccuracy: 1 },
      { k: 2, recall: 1, knnAccuracy: 1 },
    ]);
  });
});

describe('the classifier and the cosine head name the method called, not the one it delegates to', () => {
  // predict and accuracy named 'CosineClassifier.cosines' (or 'embed'), the head's methods 'embed'
  // with its argument 'x' for either of their two inputs.
  const kit = createCosineKit({ backend: 'reference' });
  const enc = createEncoder({ inputs: 3, layers: [{ units: 4 }], seed: 2 });
  const cls = createCosineClassifier({ classes: 3, dim: 4, seed: 4 });
  const x = [
    [1, 2, 3],
    [-1, 0.5, 2],
  ];
  const narrow = [
    [1, 2],
    [3, 4],
  ];
  const nan = [
    [1, 2, 3],
    [Number.NaN, 0, 0],
  ];
  const broken = createCosineKit({
    backend: {
      name: 'broken-matmul',
      kernels: {
        ...referenceKernels,
        matmul: (...a: Parameters<typeof referenceKernels.matmul>) => {
          const r = referenceKernels.matmul(...a) as Float32Array;
          r[0] = Number.NaN;
          return r;
        },
      },
    },
  });
  const cases: [string, string, () => Promise<unknown>][] = [
    ['CosineClassifier.cosines', 'x', () => cls.cosines(kit, enc, narrow)],
    ['CosineClassifier.predict', 'x', () => cls.predict(kit, enc, narrow)],
    ['CosineClassifier.predict', 'x', () => cls.predict(kit, enc, nan)],
    ['CosineClassifier.accuracy', 'x', () => cls.accuracy(kit, enc, nan, [0, 1])],
    ['CosineClassifier.predict', 'source', () => cls.predict(42 as never, enc, x)],
    [
      'CosineClassifier.predict',
      'encoder',
      () => cls.predict(kit, createEncoder({ inputs: 3, layers: [{ units: 5 }] }), x),
    ],
    ['CosineClassifier.accuracy', 'labels', () => cls.accuracy(kit, enc, x, [0, Number.NaN])],
    ['CosineClassifier.accuracy', 'labels', () => cls.accuracy(kit, enc, x, [0, '1'] as never)],
    ['CosineClassifier.accuracy', 'labels', () => cls.accuracy(kit, enc, x, null as never)],
    ['CosineClassifier.accuracy', 'labels', () => cls.accuracy(kit, enc, x, [0])],
    ['classificationAccuracy', 'labels', async () => classificationAccuracy([0, 1], [0, Number.NaN])],
    ['classificationAccuracy', 'labels', async () => classificationAccuracy([0, 1], [0, '1'] as never)],
    ['classificationAccuracy', 'predicted', async () => classificationAccuracy(null as never, [0, 1])],
    ['CosineHead.pairs', 'x1', () => createCosineHead(enc, kit).pairs(narrow, x)],
    ['CosineHead.pairs', 'x2', () => createCosineHead(enc, kit).pairs(x, nan)],
    ['CosineHead.pairs', 'x2', () => createCosineHead(enc, kit).pairs(x, [x[0]])],
    ['CosineHead.matrix', 'x1', () => createCosineHead(enc, kit).matrix(nan, x)],
    ['CosineHead.matrix', 'x2', () => createCosineHead(enc, kit).matrix(x, [])],
    // A part of an argument was named after embed's own 'x' whichever input was at fault.
    [
      'CosineHead.pairs',
      'x2[1]',
      () =>
        createCosineHead(enc, kit).pairs(x, [
          [1, 2, 3],
          [1, 2],
        ]),
    ],
    [
      'CosineHead.pairs',
      'x1[1]',
      () =>
        createCosineHead(enc, kit).pairs(
          [
            [1, 2, 3],
            [1, 2],
          ],
          x,
        ),
    ],
    // A backend failing under embed and train was named after its kernel ('matmul', 'x').
    ['embed', 'x', () => enc.embed(broken, x)],
    [
      'train',
      'kernels',
      () =>
        train({
          kernels: broken,
          encoder: enc.clone(),
          loss: cosineEmbeddingLoss(),
          optimizer: sgd(),
          epochs: 1,
          sampler: pairSampler(
            {
              x: Float32Array.from({ length: 24 }, (_, i) => ((i * 7) % 5) + 1),
              rows: 8,
              cols: 3,
              labels: [0, 0, 1, 1, 0, 0, 1, 1],
            },
            { batchSize: 4 },
          ),
        }),
    ],
  ];
  for (const [op, arg, call] of cases)
    it(`${op}: ${arg} (${call.toString().match(/\.\w+\(.*\)/)?.[0]})`, async () => {
      const e = await call().catch((x: unknown) => x);
      expect(e).toMatchObject({ name: 'CosineKitError', op, arg });
      expect((e as Error).message).toContain(`Argument '${arg}' passed to '${op}'`);
    });

  it('good input still gives the float64 answers', async () => {
    const e = { data: (await enc.clone('float64').forward(float64Ops, Float64Array.from(x.flat()), 2)).out };
    const w = cls.weights;
    const cos = (i: number, c: number) => {
      let d = 0;
      let na = 0;
      let nb = 0;
      for (let j = 0; j < 4; j++) {
        const a = e.data[i * 4 + j];
        const b = w[c * 4 + j];
        d += a * b;
        na += a * a;
        nb += b * b;
      }
      return d / Math.sqrt(na * nb);
    };
    const got = await cls.cosines(kit, enc, x);
    for (let i = 0; i < 2; i++) for (let c = 0; c < 3; c++) expect(got[i * 3 + c]).toBeCloseTo(cos(i, c), 5);
    const best = [0, 1].map((i) => [0, 1, 2].reduce((b, c) => (cos(i, c) > cos(i, b) ? c : b), 0));
    expect(Array.from(await cls.predict(kit, enc, x))).toEqual(best);
    expect(await cls.accuracy(kit, enc, x, best)).toBe(1);
    expect(classificationAccuracy(Int32Array.of(0, 2, 1), [0, 2, 2])).toBe(2 / 3);
  });
});

describe("NaN or Infinity in a model outside train is the model's, not a silent class 0 or a backend failure", () => {
  // predict with a NaN class vector answered class 0 for every row (NaN cosines lose every
  // comparison, and the self-checked cosine kernel handed them on unread); embed and the cosine
  // head with a NaN weight blamed the backend's matmul (BACKEND_ERROR).
  const x = [
    [1, 2, 3],
    [-1, 0.5, 2],
  ];
  for (const [name, backend] of [
    ['reference', () => 'reference'],
    ['wasm', () => createWasmBackend()],
  ] as const) {
    it(`${name}: predict, cosines and accuracy with a NaN or Infinity class vector`, async () => {
      const kit = createCosineKit({ backend: backend() });
      const enc = createEncoder({ inputs: 3, layers: [{ units: 4 }], seed: 2 });
      for (const v of [Number.NaN, Number.POSITIVE_INFINITY]) {
        const cls = createCosineClassifier({ classes: 3, dim: 4, seed: 4 });
        cls.weights[5] = v;
        // predict and accuracy once named 'CosineClassifier.cosines', the method they call.
        for (const [op, call] of [
          ['CosineClassifier.predict', () => cls.predict(kit, enc, x)],
          ['CosineClassifier.cosines', () => cls.cosines(kit, enc, x)],
          ['CosineClassifier.accuracy', () => cls.accuracy(kit, enc, x, [0, 1])],
        ] as const)
          await expect(call()).rejects.toMatchObject({ code: 'NON_FINITE', op, arg: 'classifier' });
      }
      kit.dispose();
    });
    it(`${name}: embed and the cosine head with a NaN or -Infinity weight`, async () => {
      const kit = createCosineKit({ backend: backend() });
      for (const v of [Number.NaN, Number.NEGATIVE_INFINITY]) {
        const enc = createEncoder({ inputs: 3, layers: [{ units: 4 }, { units: 2 }], seed: 2 });
        enc.parameters()[2][1] = v;
        // The head's methods once named 'embed', the method they call.
        for (const [op, call] of [
          ['embed', () => enc.embed(kit, x)],
          ['CosineHead.pairs', () => createCosineHead(enc, kit).pairs(x, x)],
          ['CosineHead.matrix', () => createCosineHead(enc, kit).matrix(x, x)],
        ] as const)
          await expect(call()).rejects.toMatchObject({ code: 'NON_FINITE', op, arg: 'encoder' });
      }
      kit.dispose();
    });
  }
});

describe('embed batch sizes, saved encoders and schedules that end at 0', () => {
  const enc = () => createEncoder({ inputs: 3, layers: [{ units: 2 }], seed: 3 });
  const kit = createCosineKit({ backend: 'reference' });
  // batchSize 0 looped forever (s += 0); NaN returned a tensor of zeros; 1.5 sliced rows apart.
  for (const b of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])
    it(`embed with batchSize ${b}`, async () => {
      await expect(enc().embed(kit, [[1, 2, 3]], b)).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        op: 'embed',
        arg: 'batchSize',
      });
    });

  it('saveEncoder refuses what loadEncoder would refuse, and what is not an encoder or JSON', () => {
    const cases: [string, string, () => unknown][] = [
      ['INVALID_TYPE', 'encoder', () => saveEncoder({} as never)],
      ['INVALID_TYPE', 'encoder', () => saveEncoder(null as never)],
      ['INVALID_TYPE', 'meta', () => saveEncoder(enc(), 'v1' as never)],
      [
        'INVALID_ARGUMENT',
        'meta',
        () => {
          const m: Record<string, unknown> = {};
          m.self = m;
          return saveEncoder(enc(), m);
        },
      ],
      ['INVALID_ARGUMENT', 'meta', () => saveEncoder(enc(), { n: 1n })],
    ];
    for (const [v, code] of [
      [Number.NaN, 'NON_FINITE'],
      [Number.NEGATIVE_INFINITY, 'NON_FINITE'],
      [2 ** 41, 'INVALID_ARGUMENT'],
    ] as const) {
      const e = enc();
      e.parameters()[0][1] = v;
      cases.push([code, 'encoder', () => saveEncoder(e)]);
    }
    // A float64 weight past the float32 range would be stored as Infinity.
    const wide = createEncoder({ inputs: 3, layers: [{ units: 2 }], precision: 'float64' });
    wide.parameters()[0][0] = 1e39;
    cases.push(['NON_FINITE', 'encoder', () => saveEncoder(wide)]);
    for (const [code, arg, call] of cases)
      expect(call).toThrow(expect.objectContaining({ name: 'CosineKitError', code, op: 'saveEncoder', arg }));
    // What it does write loads back.
    const e = enc();
    expect(Array.from(loadEncoder(saveEncoder(e, { note: 'ok' })).parameters()[0])).toEqual(
      Array.from(e.parameters()[0]),
    );
  });

  it('a cosineSchedule that reaches its default min of 0 trains on past total steps (a step of 0 changes nothing)', async () => {
    const data = {
      x: Float32Array.from({ length: 32 }, (_, i) => Math.sin(i)),
      rows: 8,
      cols: 4,
      labels: Int32Array.of(0, 0, 1, 1, 2, 2, 3, 3),
    };
    for (const optimizer of [
      adam({ learningRate: cosineSchedule(0.01, 2) }),
      sgd({ learningRate: cosineSchedule(0.01, 2) }),
    ]) {
      const encoder = createEncoder({ inputs: 4, layers: [{ units: 3 }], seed: 1 });
      const r = await train({
        kernels: kit,
        encoder,
        loss: multipleNegativesRankingLoss(),
        sampler: inBatchSampler(data, { batchSize: 4 }),
        optimizer,
        epochs: 3,
      });
      expect(r.history).toHaveLength(3);
      // Steps 2 to 5 have learning rate 0.
      expect(optimizer.learningRate()).toBe(0);
      expect(encoder.parameters().every((p) => p.every(Number.isFinite))).toBe(true);
    }
  });
});

describe('train: options of the wrong type are refused by name, not left to a TypeError', () => {
  const x = sparseX();
  const base = () => ({
    kernels: createCosineKit({ backend: 'reference' }),
    encoder: createEncoder({ inputs: cols, layers: [{ units: 4 }], normalize: true, seed: 3 }),
    loss: multipleNegativesRankingLoss(),
    sampler: inBatchSampler({ x, rows, cols, labels }, { batchSize: 8 }),
    optimizer: adam(),
    epochs: 1,
  });
  const cases: [string, string, string, Record<string, unknown>][] = [
    ['kernels null', 'INVALID_TYPE', 'kernels', { kernels: null }],
    ['kernels a name', 'INVALID_TYPE', 'kernels', { kernels: 'reference' }],
    ['encoder {}', 'INVALID_TYPE', 'encoder', { encoder: {} }],
    ['loss {}', 'INVALID_TYPE', 'loss', { loss: {} }],
    ['sampler null', 'INVALID_TYPE', 'sampler', { sampler: null }],
    ['optimizer null', 'INVALID_TYPE', 'optimizer', { optimizer: null }],
    ['seed a string', 'INVALID_TYPE', 'seed', { seed: 'x' }],
    ['seed NaN', 'INVALID_ARGUMENT', 'seed', { seed: Number.NaN }],
    ['callbacks null', 'INVALID_TYPE', 'callbacks', { callbacks: null }],
    ['callbacks 5', 'INVALID_TYPE', 'callbacks', { callbacks: 5 }],
    [
      'patience -1',
      'INVALID_ARGUMENT',
      'earlyStopping.patience',
      { validate: () => 1, earlyStopping: { patience: -1 } },
    ],
    ['a NaN metric', 'NON_FINITE', 'validate', { validate: () => Number.NaN }],
    [
      'an encoder of another width',
      'DIMENSION_MISMATCH',
      'sampler',
      { encoder: createEncoder({ inputs: cols + 1, layers: [{ units: 4 }], seed: 3 }) },
    ],
  ];
  for (const [what, code, arg, o] of cases) {
    it(what, async () => {
      const e = await train({ ...base(), ...o } as never).catch((x) => x);
      expect(e).toMatchObject({ name: 'CosineKitError', code, op: 'train', arg });
    });
  }
  it('options null', async () => {
    await expect(train(null as never)).rejects.toMatchObject({
      code: 'INVALID_TYPE',
      op: 'train',
      arg: 'options',
    });
  });
});

/** Trains a small encoder on `x` and returns the error it fails with (or undefined). */
async function trainError(
  backend: Backend | 'reference',
  x: Float32Array,
  optimizer = adam(),
): Promise<{ code?: string; op?: string; arg?: string; message?: string } | undefined> {
  const encoder = createEncoder({
    inputs: cols,
    layers: [{ units: 16, activation: 'relu' }, { units: 8 }],
    normalize: true,
    seed: 3,
  });
  try {
    await train({
      kernels: createCosineKit({ backend }),
      encoder,
      loss: multipleNegativesRankingLoss(),
      sampler: inBatchSampler({ x, rows, cols, labels }, { batchSize: 8 }),
      optimizer,
      epochs: 2,
      seed: 7,
    });
  } catch (e) {
    return e as { code: string };
  }
  // Training that finishes must leave finite weights.
  for (const p of encoder.parameters()) for (const v of p) expect(Number.isFinite(v)).toBe(true);
  return undefined;
}

/** Dense rows (every value non-zero) scaled as a whole, or one row of them. */
function scaled(s: number, row?: number): Float32Array {
  const x = Float32Array.from(randomVec(rows * cols, 5));
  const [a, b] = row === undefined ? [0, x.length] : [row * cols, (row + 1) * cols];
  for (let i = a; i < b; i++) x[i] *= s;
  return x;
}

export function numericBlameCases(backend: () => Backend | 'reference') {
  it('rows scaled to 1e-40 or 3e38 (all, or one row) fail as the sampler rows, not as the backend', async () => {
    for (const [x, what] of [
      [scaled(1e-40), 'down to'],
      [scaled(1e-40, 9), 'down to'],
      [scaled(3e38), 'up to'],
    ] as const) {
      const e = await trainError(backend(), x);
      expect(e, what).toMatchObject({ code: 'INVALID_ARGUMENT', op: 'train', arg: 'sampler' });
      expect(e!.message).toContain(what);
    }
  });

  it("rows of 1e30 train to finite weights; rows of 1e-30 are refused naming the sampler (Adam's moments cannot hold their gradients' squares)", async () => {
    expect(await trainError(backend(), scaled(1e30))).toBeUndefined();
    // They trained to finite weights once, with every weight whose gradient passed 2^64 stuck for good.
    expect(await trainError(backend(), scaled(1e-30))).toMatchObject({
      code: 'NON_FINITE',
      op: 'train',
      arg: 'sampler',
      message: expect.stringMatching(/Adam's float32 moments cannot hold/),
    });
  });

  it("embed: NaN rows are refused as NON_FINITE, rows of 3e38 as the caller's x, not the backend", async () => {
    const encoder = createEncoder({
      inputs: cols,
      layers: [{ units: 16, activation: 'relu' }, { units: 8 }],
      seed: 3,
    });
    const kit = createCosineKit({ backend: backend() });
    const nan = scaled(1);
    nan[3 * cols + 2] = Number.NaN;
    await expect(encoder.embed(kit, new Tensor(nan, rows, cols))).rejects.toMatchObject({
      code: 'NON_FINITE',
      op: 'embed',
      arg: 'x',
    });
    await expect(encoder.embed(kit, new Tensor(scaled(3e38), rows, cols))).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      op: 'embed',
      arg: 'x',
    });
    const ok = await encoder.embed(kit, new Tensor(scaled(1), rows, cols));
    for (const v of ok.data) expect(Number.isFinite(v)).toBe(true);
  });

  it('embed: a row of subnormal magnitude (1e-44, 1e-38) is refused naming x and the row, not a wrong unit vector; 1e-30 and zero rows embed', async () => {
    const encoder = createEncoder({
      inputs: cols,
      layers: [
        { units: 6, activation: 'tanh', bias: false },
        { units: 3, bias: false },
      ],
      normalize: true,
      seed: 4,
    });
    const kit = createCosineKit({ backend: backend() });
    for (const s of [1e-44, 1e-38]) {
      const x = scaled(1);
      for (let j = 0; j < cols; j++) x[5 * cols + j] *= s;
      await expect(encoder.embed(kit, new Tensor(x, rows, cols)), String(s)).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        op: 'embed',
        arg: 'x',
        message: expect.stringContaining('row 5'),
      });
    }
    const x = scaled(1e-30);
    x.fill(0, 0, cols);
    const got = await encoder.embed(kit, new Tensor(x, rows, cols));
    // Scale-free near 0 (no biases, tanh linear there): the same embeddings as the rows at 1e-6.
    const want = await encoder.embed(
      kit,
      new Tensor(
        Float32Array.from(x, (v) => v * 1e24),
        rows,
        cols,
      ),
    );
    for (let i = 0; i < got.data.length; i++) expect(Math.abs(got.data[i] - want.data[i])).toBeLessThan(1e-5);
    expect(Array.from(got.data.subarray(0, 3))).toEqual([0, 0, 0]);
  });

  it('a learning rate that blows the weights up is named as the optimiser', async () => {
    for (const o of [adam({ learningRate: 1e30 }), sgd({ learningRate: 1e30 })]) {
      const e = await trainError(backend(), sparseX(), o);
      expect(e).toMatchObject({ code: 'INVALID_ARGUMENT', op: 'train', arg: 'optimizer' });
    }
  });
}

describe('a third-party optimizerStep that writes NaN into the weights is named, not the matmul after it', () => {
  it('NON_FINITE naming the optimiser, saying its kernel may have broken', async () => {
    const k = referenceKernels;
    const broken: Backend = {
      name: 'broken-optimizer',
      kernels: {
        ...k,
        optimizerStep: (state, params, grads, rule) => {
          const r = k.optimizerStep!(state, params, grads, rule);
          params[params.length - 1][0] = Number.NaN;
          return r;
        },
      },
    };
    const e = await trainError(broken, sparseX());
    expect(e).toMatchObject({ code: 'NON_FINITE', op: 'train', arg: 'optimizer' });
    expect(e!.message).toContain('optimizerStep');
  });
});

describe("weights that are not finite before training are the caller's", () => {
  it('a NaN or Infinity in the encoder or the classifier is NON_FINITE naming it, before any kernel runs', async () => {
    for (const bad of [Number.NaN, Number.NEGATIVE_INFINITY]) {
      const encoder = createEncoder({ inputs: cols, layers: [{ units: 8 }], normalize: true, seed: 3 });
      encoder.parameters()[0][5] = bad;
      const e = await train({
        kernels: createCosineKit({ backend: 'reference' }),
        encoder,
        loss: multipleNegativesRankingLoss(),
        sampler: inBatchSampler({ x: sparseX(), rows, cols, labels }, { batchSize: 8 }),
        optimizer: adam(),
        epochs: 1,
      }).catch((x) => x);
      expect(e).toMatchObject({ code: 'NON_FINITE', op: 'train', arg: 'encoder' });
      const c = createCosineClassifier({ classes: 4, dim: 8 });
      c.weights[3] = bad;
      const f = await train({
        kernels: createCosineKit({ backend: 'reference' }),
        encoder: createEncoder({ inputs: cols, layers: [{ units: 8 }], normalize: true, seed: 3 }),
        loss: normFaceLoss(c),
        sampler: labelledSampler({ x: sparseX(), rows, cols, labels }, { batchSize: 8 }),
        optimizer: adam(),
        epochs: 1,
      }).catch((x) => x);
      expect(f).toMatchObject({ code: 'NON_FINITE', op: 'train', arg: 'loss' });
    }
  });

  it('a weight past ±2^40 in the encoder is INVALID_ARGUMENT naming it (it was blamed on the optimizer: "lower the learning rate")', async () => {
    for (const big of [2 ** 41, -1e30, 3e38]) {
      const encoder = createEncoder({ inputs: cols, layers: [{ units: 8 }], normalize: true, seed: 3 });
      encoder.parameters()[0][5] = big;
      const e = await train({
        kernels: createCosineKit({ backend: 'reference' }),
        encoder,
        loss: multipleNegativesRankingLoss(),
        sampler: inBatchSampler({ x: sparseX(), rows, cols, labels }, { batchSize: 8 }),
        optimizer: sgd(),
        epochs: 1,
      }).catch((x) => x);
      expect(e, `${big}`).toMatchObject({ code: 'INVALID_ARGUMENT', op: 'train', arg: 'encoder' });
      expect(e.message, `${big}`).toMatch(/before training, beyond ±2\^40/);
    }
  });
});

describe("a loss's gradients that are not finite are the loss's", () => {
  // A custom loss giving back what `gradA`/`gradParams` hold: they were blamed on the backend
  // ("failed in backend 'reference' (kernel 'matmul')") or on the optimizer's learning rate.
  const lossGiving = (gradA: (n: number) => Float32Array, gradParam?: number) => {
    const param = new Float32Array(3);
    return {
      name: 'custom',
      sampling: 'in-batch' as const,
      parameters: () => [param],
      compute: (_ops: unknown, input: { rows: number; cols: number }) => ({
        loss: 1,
        gradA: gradA(input.rows * input.cols),
        gradB: new Float32Array(input.rows * input.cols),
        gradParams: [new Float32Array(3).fill(gradParam ?? 0)],
      }),
    };
  };
  const run = (loss: ReturnType<typeof lossGiving>, normalize: boolean) =>
    train({
      kernels: createCosineKit({ backend: 'reference' }),
      encoder: createEncoder({ inputs: cols, layers: [{ units: 8 }], normalize, seed: 3 }),
      loss,
      sampler: inBatchSampler({ x: sparseX(), rows, cols, labels }, { batchSize: 8 }),
      optimizer: adam(),
      epochs: 1,
    }).catch((x) => x);

  it('gradA holding NaN or Infinity is NON_FINITE naming the loss, with the encoder normalising or not', async () => {
    for (const normalize of [true, false])
      for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
        const e = await run(
          lossGiving((n) => new Float32Array(n).fill(0.1).fill(bad, 3, 4)),
          normalize,
        );
        expect(e, `${bad} ${normalize}`).toMatchObject({ code: 'NON_FINITE', op: 'train', arg: 'loss' });
        expect(e.message).toMatch(/returned gradA holding (NaN|Infinity) at 3/);
      }
  });

  it('gradParams holding NaN or Infinity is NON_FINITE naming the loss; large finite gradients are not refused (rows far below unit norm give them)', async () => {
    for (const bad of [Number.NaN, Number.NEGATIVE_INFINITY]) {
      const f = await run(
        lossGiving((n) => new Float32Array(n), bad),
        true,
      );
      expect(f, `${bad}`).toMatchObject({ code: 'NON_FINITE', op: 'train', arg: 'loss' });
      expect(f.message).toMatch(/gradParams\[0\] holding/);
    }
    // 1e15, past ±2^40, as built-in losses give on rows far below unit norm without normalize or
    // at large scales: trained before, and still (a bound of ±2^40 refused them for a while,
    // blaming the loss). Adam's own bound (2^64, its float32 moments) stays its own.
    const big = await run(
      lossGiving((n) => new Float32Array(n).fill(1e-3), 1e15),
      true,
    );
    expect(big).toMatchObject({ history: [{}] });
  });

  it('a float64 gradA past float32, for a float32 encoder, is NON_FINITE naming the loss (it was blamed on the kernels)', async () => {
    const loss = {
      name: 'custom',
      sampling: 'in-batch' as const,
      compute: (_ops: unknown, input: { rows: number; cols: number }) => ({
        loss: 1,
        gradA: new Float64Array(input.rows * input.cols).fill(-1e60),
        gradB: new Float64Array(input.rows * input.cols),
      }),
    };
    const e = await train({
      kernels: createCosineKit({ backend: 'reference' }),
      encoder: createEncoder({ inputs: cols, layers: [{ units: 8 }], seed: 3 }),
      loss,
      sampler: inBatchSampler({ x: sparseX(), rows, cols, labels }, { batchSize: 8 }),
      optimizer: sgd(),
      epochs: 1,
    }).catch((x) => x);
    expect(e).toMatchObject({ code: 'NON_FINITE', op: 'train', arg: 'loss' });
    expect(e.message).toMatch(/past float32/);
  });
});

describe('training that overflows float32 names its cause (reference)', () => {
  numericBlameCases(() => 'reference');
});

// The wasm backend is optional here (as in backend-wasm.test.ts): skipped when it is not built.
const wasmModule = (await import('@cosinekit/backend-wasm' as string).catch(() => undefined)) as
  | { createWasmBackend(o?: object): Backend }
  | undefined;
if (!wasmModule) console.log('[nn] hostile wasm tests skipped: @cosinekit/backend-wasm is not built');

describe.skipIf(!wasmModule)('training that overflows float32 names its cause (wasm)', () => {
  numericBlameCases(() => wasmModule!.createWasmBackend({ threads: 1 }));
});

describe.skipIf(!wasmModule)('sparse training on wasm: hostile rows, one thread against two', () => {
  it('zero and -0 rows, a 3e38 and subnormals: the same bits on 1 and 2 threads, within float32 of the reference', async () => {
    // 64 rows of 300 (X W: 32 x 300 x 64 multiply-adds a batch, past the sparse path's minimum).
    const [n, d] = [64, 300];
    const x = Float32Array.from(randomVec(n * d, 8), (v, i) => (i % 7 === 0 ? v : 0));
    x.fill(0, 0, 3 * d);
    x.fill(-0, 5 * d, 7 * d);
    x[9 * d + 7] = 3e38;
    x[11 * d + 14] = 1e-45;
    const classes = Array.from({ length: n }, (_, i) => i % 4);
    const run = async (backend: Backend | 'reference') => {
      const encoder = createEncoder({
        inputs: d,
        layers: [{ units: 64, activation: 'relu' }, { units: 8 }],
        normalize: true,
        seed: 3,
      });
      const r = await train({
        kernels: createCosineKit({ backend }),
        encoder,
        loss: multipleNegativesRankingLoss(),
        sampler: inBatchSampler({ x, rows: n, cols: d, labels: classes }, { batchSize: 16 }),
        optimizer: adam(),
        epochs: 2,
        seed: 7,
      });
      if (backend !== 'reference') backend.dispose?.();
      return { losses: r.history.map((h) => h.loss), weights: encoder.parameters() };
    };
    // threadMinFlops 0 shares even these small products with the helper.
    const one = await run(wasmModule!.createWasmBackend({ threads: 1, tuning: { sparseDensity: 1 } }));
    const two = await run(
      wasmModule!.createWasmBackend({ threads: 2, tuning: { sparseDensity: 1, threadMinFlops: 0 } }),
    );
    const ref = await run('reference');
    expect(two.losses).toEqual(one.losses);
    for (let k = 0; k < one.weights.length; k++)
      expect(Array.from(two.weights[k])).toEqual(Array.from(one.weights[k]));
    for (let i = 0; i < ref.losses.length; i++) {
      expect(Number.isFinite(one.losses[i])).toBe(true);
      expect(Math.abs(one.losses[i] - ref.losses[i])).toBeLessThan(1e-4);
    }
  });
});

describe('a promise where train wants a value is refused by name, its rejection handled (a probe: the process ended)', () => {
  const x = Float32Array.from({ length: 30 }, (_, i) => Math.sin(i));
  const labels = [0, 0, 1, 1, 2, 2, 0, 1, 2, 0];
  const rejected = () => Promise.reject(new Error('nobody handles this'));
  const cases: [string, Record<string, unknown>, string][] = [
    [
      'an async learning-rate schedule (sgd)',
      { optimizer: sgd({ learningRate: (async () => rejected()) as never }) },
      'learningRate',
    ],
    [
      'a learning-rate schedule answering a promise (adam)',
      { optimizer: adam({ learningRate: () => rejected() as never }) },
      'learningRate',
    ],
    [
      'a sampler yielding a promise',
      {
        sampler: {
          sampling: 'in-batch',
          batchesPerEpoch: 1,
          *epoch() {
            yield rejected();
          },
        },
      },
      'sampler',
    ],
    [
      'an epoch() answering a promise',
      { sampler: { sampling: 'in-batch', batchesPerEpoch: 1, epoch: () => rejected() } },
      'sampler',
    ],
    [
      'batch fields that are promises',
      {
        sampler: {
          sampling: 'in-batch',
          batchesPerEpoch: 1,
          *epoch() {
            yield { a: rejected(), b: rejected(), rows: 2, cols: 3 };
          },
        },
      },
      'sampler',
    ],
    [
      'an option read as a promise',
      {
        validate: () => 0.5,
        earlyStopping: {
          get patience() {
            return rejected();
          },
        },
      },
      'earlyStopping.patience',
    ],
  ];
  for (const [what, over, arg] of cases)
    it(what, async () => {
      const e = await train({
        kernels: createCosineKit({ backend: 'reference' }),
        encoder: createEncoder({ inputs: 3, layers: [{ units: 3 }], normalize: true, seed: 1 }),
        loss: multipleNegativesRankingLoss(),
        sampler: inBatchSampler({ x, rows: 10, cols: 3, labels }, { batchSize: 4 }),
        optimizer: adam(),
        epochs: 2,
        ...over,
      } as never).catch((err: unknown) => err);
      expect(e).toMatchObject({ name: 'CosineKitError', code: 'INVALID_TYPE', arg });
      expect((e as Error).message).toMatch(/promise/);
      // A turn of the event loop: an unhandled rejection fails the run here.
      await new Promise((r) => setTimeout(r, 5));
    });
});

describe('a revoked Proxy or a value without a prototype is named, never a raw TypeError (a probe)', () => {
  const revoked = () => {
    const r = Proxy.revocable({}, {});
    r.revoke();
    return r.proxy as never;
  };
  const kit = createCosineKit({ backend: 'reference' });
  const encoder = createEncoder({ inputs: 3, layers: [{ units: 2 }], seed: 1 });
  const set = { queries: [[1, 0, 0]], queryLabels: [0], corpus: [[1, 0, 0]], corpusLabels: [0] };
  const calls: [string, () => unknown][] = [
    ['embed', () => encoder.embed(revoked(), [[1, 2, 3]])],
    [
      'CosineClassifier.predict',
      () => createCosineClassifier({ classes: 2, dim: 2 }).predict(revoked(), encoder, [[1, 2, 3]]),
    ],
    ['CosineHead.pairs', () => createCosineHead(encoder, revoked()).pairs([[1, 2, 3]], [[1, 2, 3]])],
    ['kernelsOf', () => kernelsOf(revoked())],
    ['kernelOps', () => kernelOps(revoked())],
    ['recallAtK', () => recallAtK(kit, set, revoked())],
    ['knnAccuracy', () => knnAccuracy(kit, set, revoked())],
    ['normalizeRowsForward', () => normalizeRowsForward(revoked(), 1, 3)],
    ['Encoder', () => new Encoder(revoked(), false)],
    ['Conv2dLayer', () => new Conv2dLayer(revoked(), 'relu', new Float32Array(1), new Float32Array(1))],
    // A schedule answering an object without a prototype (its message once called toString).
    [
      'sgd.step',
      () =>
        sgd({ learningRate: (() => Object.create(null)) as never }).step(
          [new Float32Array(2)],
          [new Float32Array(2)],
        ),
    ],
  ];
  for (const [op, call] of calls)
    it(op, async () => {
      let e: unknown;
      try {
        await call();
      } catch (x) {
        e = x;
      }
      expect(e).toMatchObject({ name: 'CosineKitError', op });
    });
});

describe("a custom loss's parameters and gradients are checked (a probe: short gradients trained, a bad parameters() escaped raw)", () => {
  const x = Float32Array.from({ length: 24 }, (_, i) => Math.sin(i + 1));
  const labels = [0, 0, 1, 1, 2, 2, 3, 3];
  const inner = multipleNegativesRankingLoss();
  const run = (loss: unknown) =>
    train({
      kernels: createCosineKit({ backend: 'reference' }),
      encoder: createEncoder({ inputs: 3, layers: [{ units: 3 }], normalize: true, seed: 1 }),
      loss: loss as never,
      sampler: inBatchSampler({ x, rows: 8, cols: 3, labels }, { batchSize: 4 }),
      optimizer: adam(),
      epochs: 1,
    }).catch((e: unknown) => e);
  const cases: [string, unknown, string][] = [
    ['parameters() answering 5', { ...inner, parameters: () => 5 }, 'INVALID_TYPE'],
    ['parameters() answering [null]', { ...inner, parameters: () => [null] }, 'INVALID_TYPE'],
    ['a parameters that is no function', { ...inner, parameters: 5 }, 'INVALID_TYPE'],
    [
      'parameters() throwing',
      {
        ...inner,
        parameters: () => {
          throw new TypeError('boom');
        },
      },
      'INVALID_ARGUMENT',
    ],
    [
      'gradients of 2 values for a 4 x 3 batch',
      {
        ...inner,
        compute: async (ops: never, input: never) => ({
          ...(await inner.compute(ops, input)),
          gradA: new Float32Array(2),
          gradB: new Float32Array(2),
        }),
      },
      'SHAPE_MISMATCH',
    ],
  ];
  for (const [what, loss, code] of cases)
    it(what, async () => {
      expect(await run(loss)).toMatchObject({ name: 'CosineKitError', code, op: 'train', arg: 'loss' });
    });
});

describe('a raw kernel table runs behind the checks of a kit (a probe: its faults escaped raw or blamed the embeddings)', () => {
  const encoder = createEncoder({
    inputs: 3,
    layers: [{ units: 4, activation: 'relu' }, { units: 2 }],
    normalize: true,
    seed: 1,
  });
  const x = Float32Array.from({ length: 24 }, (_, i) => Math.sin(i));
  const matmuls: [string, () => unknown][] = [
    [
      'throws a TypeError',
      () => {
        throw new TypeError('boom');
      },
    ],
    ['answers one value', () => new Float32Array(1)],
  ];
  for (const [what, matmul] of matmuls) {
    it(`a matmul that ${what}: BACKEND_ERROR naming the kernel, from embed, train and predict`, async () => {
      const table = { ...referenceKernels, matmul } as never;
      const calls: [string, () => Promise<unknown>][] = [
        ['embed', () => encoder.embed(table, [[1, 2, 3]])],
        [
          'train',
          () =>
            train({
              kernels: table,
              encoder: encoder.clone(),
              loss: multipleNegativesRankingLoss(),
              sampler: inBatchSampler(
                { x, rows: 8, cols: 3, labels: [0, 0, 1, 1, 2, 2, 3, 3] },
                { batchSize: 4 },
              ),
              optimizer: adam(),
              epochs: 1,
            }),
        ],
        [
          'CosineClassifier.predict',
          () => createCosineClassifier({ classes: 2, dim: 2 }).predict(table, encoder, [[1, 2, 3]]),
        ],
      ];
      for (const [op, call] of calls) {
        const e = await call().catch((err: unknown) => err);
        expect(e, op).toMatchObject({ name: 'CosineKitError', code: 'BACKEND_ERROR', op });
        expect((e as Error).message, op).toMatch(/kernel 'matmul'/);
      }
    });
  }
  it("a table no kit can take is named as the caller's argument; the caller's own ops that throw are named 'ops'", async () => {
    const bad = { ...referenceKernels, addBias: 5 } as never;
    const e = await encoder.embed(bad, [[1, 2, 3]]).catch((x: unknown) => x);
    expect(e).toMatchObject({ name: 'CosineKitError', op: 'embed', arg: 'source' });
    const ops = {
      ...kernelOps(referenceKernels),
      matmul: () => {
        throw new TypeError('ops boom');
      },
    };
    const t = await train({
      kernels: createCosineKit({ backend: 'reference' }),
      encoder: encoder.clone(),
      ops,
      loss: multipleNegativesRankingLoss(),
      sampler: inBatchSampler({ x, rows: 8, cols: 3, labels: [0, 0, 1, 1, 2, 2, 3, 3] }, { batchSize: 4 }),
      optimizer: adam(),
      epochs: 1,
    }).catch((err: unknown) => err);
    expect(t).toMatchObject({ name: 'CosineKitError', code: 'INVALID_ARGUMENT', op: 'train', arg: 'ops' });
  });

  it("the caller's own ops that answer with the wrong shape or type (without throwing) are named 'ops' (they were named 'addBias', 'DenseLayer.forward', 'matmul')", async () => {
    const base = kernelOps(referenceKernels);
    const short =
      (f: (...a: never[]) => unknown) =>
      (...a: never[]) => {
        const out = f(...a) as Float32Array | Promise<Float32Array>;
        return Promise.resolve(out).then((v) => v.subarray(0, v.length - 1));
      };
    for (const [name, ops] of [
      ['matmul short', { ...base, matmul: short(base.matmul as never) }],
      [
        'matmul as an Array',
        {
          ...base,
          matmul: async (...a: never[]) =>
            Array.from(await (base.matmul as (...b: never[]) => Promise<Float32Array>)(...a)),
        },
      ],
      ['activation short', { ...base, activation: short(base.activation as never) }],
      ['activationGrad null', { ...base, activationGrad: () => null }],
    ] as const) {
      const t = await train({
        kernels: createCosineKit({ backend: 'reference' }),
        encoder: createEncoder({
          inputs: 3,
          layers: [{ units: 4, activation: 'tanh' }, { units: 2 }],
          seed: 2,
        }),
        ops: ops as never,
        loss: multipleNegativesRankingLoss(),
        sampler: inBatchSampler({ x, rows: 8, cols: 3, labels: [0, 0, 1, 1, 2, 2, 3, 3] }, { batchSize: 4 }),
        optimizer: adam(),
        epochs: 1,
      }).catch((err: unknown) => err);
      expect(t, name).toMatchObject({
        name: 'CosineKitError',
        code: 'INVALID_ARGUMENT',
        op: 'train',
        arg: 'ops',
      });
    }
    // The ops given, a loss's own shape error is still the loss's (it was renamed 'ops' for a while).
    const loss = {
      name: 'picky',
      sampling: 'in-batch' as const,
      compute: () => argError('SHAPE_MISMATCH', 'picky', 'groups', 'must hold 4 values.'),
    };
    const own = await train({
      kernels: createCosineKit({ backend: 'reference' }),
      encoder: createEncoder({ inputs: 3, layers: [{ units: 2 }], seed: 2 }),
      ops: base,
      loss: loss as never,
      sampler: inBatchSampler({ x, rows: 8, cols: 3, labels: [0, 0, 1, 1, 2, 2, 3, 3] }, { batchSize: 4 }),
      optimizer: adam(),
      epochs: 1,
    }).catch((err: unknown) => err);
    expect(own).toMatchObject({ code: 'SHAPE_MISMATCH', op: 'picky', arg: 'groups' });
  });

  it('train, embed and predict on a backend not initialised name its kernels or source (they named "backend", train as "matmul")', async () => {
    const backend = createWasmBackend({ threads: 1 });
    const t = await train({
      kernels: backend.kernels as never,
      encoder: encoder.clone(),
      loss: multipleNegativesRankingLoss(),
      sampler: inBatchSampler({ x, rows: 8, cols: 3, labels: [0, 0, 1, 1, 2, 2, 3, 3] }, { batchSize: 4 }),
      optimizer: adam(),
      epochs: 1,
    }).catch((err: unknown) => err);
    expect(t).toMatchObject({ name: 'CosineKitError', code: 'UNSUPPORTED', op: 'train', arg: 'kernels' });
    // embed and a classifier's predict name their source (they named 'backend').
    await expect(encoder.embed(backend.kernels as never, [[1, 2, 3]])).rejects.toMatchObject({
      code: 'UNSUPPORTED',
      op: 'embed',
      arg: 'source',
    });
    const c = createCosineClassifier({ classes: 2, dim: encoder.outputs });
    await expect(c.predict(backend.kernels as never, encoder, [[1, 2, 3]])).rejects.toMatchObject({
      code: 'UNSUPPORTED',
      op: 'CosineClassifier.predict',
      arg: 'source',
    });
  });

  it("a kit's own table is used as it is; a raw one gets one checked table, the same answers", async () => {
    const kit = createCosineKit({ backend: 'reference' });
    const lent = await kit.kernels();
    expect(await kernelsOf(lent)).toBe(lent);
    const once = await kernelsOf(referenceKernels);
    expect(once).not.toBe(referenceKernels);
    expect(await kernelsOf(referenceKernels)).toBe(once);
    const rows = [
      [1, 2, 3],
      [-3, 0.5, 2],
    ];
    expect((await encoder.embed(referenceKernels, rows)).data).toEqual((await encoder.embed(kit, rows)).data);
    // A kernel replaced on the table after its first use runs from then on (the first checked
    // table kept the old one: a review).
    const table = { ...referenceKernels };
    await encoder.embed(table as never, rows);
    let calls = 0;
    table.matmul = (...args: Parameters<typeof referenceKernels.matmul>) => {
      calls++;
      return referenceKernels.matmul(...args);
    };
    await encoder.embed(table as never, rows);
    expect(calls).toBeGreaterThan(0);
  });
});

describe("a kernel source that is neither a kit nor a kernel table is refused by the caller's name", () => {
  const encoder = createEncoder({ inputs: 3, layers: [{ units: 2 }], seed: 3 });
  const x = [[1, 2, 3]];
  const cases: [string, string, (bad: never) => Promise<unknown>][] = [
    ['kernelsOf', 'source', (bad) => kernelsOf(bad)],
    ['embed', 'source', (bad) => encoder.embed(bad, x)],
    ['CosineHead.pairs', 'source', (bad) => createCosineHead(encoder, bad).pairs(x, x)],
    ['CosineHead.matrix', 'source', (bad) => createCosineHead(encoder, bad).matrix(x, x)],
    [
      'CosineClassifier.cosines',
      'source',
      (bad) => createCosineClassifier({ classes: 2, dim: 2 }).cosines(bad, encoder, x),
    ],
  ];
  for (const [op, arg, call] of cases) {
    it(op, async () => {
      for (const bad of [null, 'reference', {}]) {
        const e = await call(bad as never).catch((err) => err);
        expect(e, String(bad)).toMatchObject({ name: 'CosineKitError', code: 'INVALID_TYPE', op, arg });
      }
    });
  }
});

describe('rows that turn NaN or vanish after the sampler was made are the sampler rows', () => {
  const encoder = () =>
    createEncoder({
      inputs: cols,
      layers: [{ units: 8, activation: 'relu' }, { units: 4 }],
      normalize: true,
      seed: 3,
    });
  const run = async (sampler: Sampler) => {
    try {
      await train({
        kernels: createCosineKit({ backend: 'reference' }),
        encoder: encoder(),
        loss: multipleNegativesRankingLoss(),
        sampler,
        optimizer: adam({ learningRate: 1e-3 }),
        epochs: 1,
        seed: 7,
      });
    } catch (e) {
      return e as { code?: string; op?: string; arg?: string; message?: string };
    }
    return undefined;
  };

  it('an augment that writes NaN, or x set to NaN after the sampler copied its checks, is NON_FINITE naming the sampler (was a BACKEND_ERROR of matmul)', async () => {
    const nanAugment = inBatchSampler(
      { x: Float32Array.from(randomVec(rows * cols, 5)), rows, cols, labels },
      {
        batchSize: 8,
        augment: (row) => {
          row[3] = Number.NaN;
        },
      },
    );
    const e1 = await run(nanAugment);
    expect(e1).toMatchObject({ code: 'NON_FINITE', op: 'train', arg: 'sampler' });
    expect(e1!.message).toMatch(/NaN/);
    const x = Float32Array.from(randomVec(rows * cols, 5));
    const s = inBatchSampler({ x, rows, cols, labels }, { batchSize: 8 });
    x[5 * cols + 2] = Number.NaN;
    expect(await run(s)).toMatchObject({ code: 'NON_FINITE', op: 'train', arg: 'sampler' });
  });

  it('x transferred (detached) before or after the sampler was made is DISPOSED naming data.x (was SHAPE_MISMATCH, then a TypeError)', async () => {
    const gone = () => {
      const x = Float32Array.from(randomVec(rows * cols, 5));
      structuredClone(x.buffer, { transfer: [x.buffer] });
      return x;
    };
    for (const [op, make] of Object.entries(samplers))
      expect(() => make(gone()), op).toThrow(
        expect.objectContaining({ code: 'DISPOSED', op, arg: 'data.x' }),
      );
    for (const [op, make] of Object.entries(samplers)) {
      if (op === 'labelledSampler') continue; // its loss is the classifier's; the draw is the same
      const x = Float32Array.from(randomVec(rows * cols, 5));
      const s = make(x);
      structuredClone(x.buffer, { transfer: [x.buffer] });
      expect(() => [...s.epoch(createRng(1))], op).toThrow(
        expect.objectContaining({ code: 'DISPOSED', op, arg: 'data.x' }),
      );
    }
    const a = Float32Array.from(randomVec(rows * cols, 5));
    const fixed = fixedPairSampler({
      a,
      b: Float32Array.from(a),
      rows,
      cols,
      targets: new Array(rows).fill(1),
    });
    structuredClone(a.buffer, { transfer: [a.buffer] });
    expect(() => [...fixed.epoch(createRng(1))]).toThrow(
      expect.objectContaining({ code: 'DISPOSED', op: 'fixedPairSampler', arg: 'data.a' }),
    );
  });

  it('x shrunk or transferred during an epoch is DISPOSED at the next batch, not rows left over from the last batch', () => {
    for (const [op, make] of Object.entries(samplers)) {
      for (const how of ['shrunk', 'transferred'] as const) {
        // A resizable buffer (ES2024): a length-tracking view shrinks with it.
        const Resizable = ArrayBuffer as unknown as new (
          n: number,
          o: { maxByteLength: number },
        ) => ArrayBuffer & { resize(n: number): void };
        const buf = new Resizable(rows * cols * 4, { maxByteLength: rows * cols * 4 });
        const x = new Float32Array(buf);
        x.set(randomVec(rows * cols, 5));
        const batches = make(x).epoch(createRng(1))[Symbol.iterator]();
        expect(batches.next().done, op).toBe(false);
        if (how === 'shrunk') buf.resize(rows * cols * 2);
        else structuredClone(buf, { transfer: [buf] });
        // Rows past the new end copied nothing: the epoch's later batches held the last batch's rows.
        expect(() => {
          for (let b = batches.next(); !b.done; b = batches.next());
        }, `${op}, ${how}`).toThrow(expect.objectContaining({ code: 'DISPOSED', op, arg: 'data.x' }));
      }
    }
  });
});

describe('evaluateRetrieval: corpus labels that do not line up with the rows', () => {
  const kit = createCosineKit({ backend: 'reference' });
  const rows = [
    [1, 0],
    [0, 1],
    [1, 1],
  ];
  const set = { queries: [[1, 0.2]], queryLabels: [7], corpus: rows, corpusLabels: [7, 8, 9] };
  it('more labels than rows of a matrix corpus is SHAPE_MISMATCH (was scored with labels that may be shifted)', async () => {
    for (const op of ['evaluateRetrieval', 'recallAtK', 'knnAccuracy'] as const) {
      const f = { evaluateRetrieval, recallAtK, knnAccuracy }[op];
      await expect(f(kit, { ...set, corpusLabels: [9, 7, 8, 9] }, 1), op).rejects.toMatchObject({
        code: 'SHAPE_MISMATCH',
        op,
        arg: 'set.corpusLabels',
      });
    }
    // Lined up, the answer is the float64 one: the nearest row to (1, 0.2) is row 0, label 7.
    expect(await evaluateRetrieval(kit, set, 1)).toEqual({ k: 1, recall: 1, knnAccuracy: 1 });
  });
  it('a resident corpus is indexed by ordinal, so labels of its removed rows may stay', async () => {
    const c = await kit.corpus(rows);
    await c.remove([0]);
    // Row 0 gone: the nearest is row 2 (ordinal 2, label 9).
    expect(await evaluateRetrieval(kit, { ...set, corpus: c }, 1)).toEqual({
      k: 1,
      recall: 0,
      knnAccuracy: 0,
    });
    c.dispose();
  });
});

describe('an augment that is not a function, or that throws, is named by its sampler', () => {
  const x = () => Float32Array.from(randomVec(rows * cols, 5));
  it('not a function: INVALID_TYPE naming augment when the sampler is made (was taken, then a TypeError in train)', () => {
    for (const [op, make] of Object.entries(samplers))
      for (const augment of [42, 'shift', {}, null])
        expect(() => make(x(), {}, { augment }), `${op} ${String(augment)}`).toThrow(
          expect.objectContaining({ code: 'INVALID_TYPE', op, arg: 'augment' }),
        );
  });
  it('throws: INVALID_ARGUMENT naming augment and the sampler, its error as cause (was the raw error)', () => {
    const broke = new Error('augment broke');
    for (const [op, make] of Object.entries(samplers)) {
      const s = make(
        x(),
        {},
        {
          augment: () => {
            throw broke;
          },
        },
      );
      let e: { code?: string; op?: string; arg?: string; cause?: unknown } | undefined;
      try {
        for (const _ of s.epoch(createRng(1))) break;
      } catch (err) {
        e = err as typeof e;
      }
      expect(e, op).toMatchObject({ code: 'INVALID_ARGUMENT', op, arg: 'augment' });
      expect(e!.cause, op).toBe(broke);
    }
  });
  it('a generator function (whose body never runs): INVALID_TYPE naming augment (was taken, and the rows went unchanged)', () => {
    for (const [op, make] of Object.entries(samplers)) {
      let ran = 0;
      const s = make(
        x(),
        {},
        {
          augment: function* (row: Float32Array) {
            ran++;
            row[0] += 1;
            yield row;
          },
        },
      );
      let e: unknown;
      try {
        for (const _ of s.epoch(createRng(1))) break;
      } catch (err) {
        e = err;
      }
      expect(e, op).toMatchObject({ code: 'INVALID_TYPE', op, arg: 'augment' });
      expect(ran, op).toBe(0);
    }
  });
});

describe('copyFrom and loadEncoder hold the architecture createEncoder and train hold (found by a probe)', () => {
  const conv = (kernel: [number, number], activation: 'relu' | 'tanh' = 'relu', normalize = true) =>
    createEncoder({
      inputs: 16,
      inputShape: [4, 4, 1],
      layers: [{ type: 'conv2d', filters: 2, kernel, activation }, { type: 'flatten' }, { units: 3 }],
      normalize,
      seed: 5,
    });
  it('copyFrom: a 3 x 1 convolution into a 1 x 3 one, another activation or normalize, is SHAPE_MISMATCH (was copied)', () => {
    const from = conv([3, 1]);
    for (const [what, to] of [
      ['kernel', conv([1, 3])],
      ['activation', conv([3, 1], 'tanh')],
      ['normalize', conv([3, 1], 'relu', false)],
    ] as const) {
      const before = to.parameters().map((p) => Array.from(p));
      expect(() => to.copyFrom(from), what).toThrow(
        expect.objectContaining({ code: 'SHAPE_MISMATCH', op: 'copyFrom', arg: 'other' }),
      );
      expect(
        to.parameters().map((p) => Array.from(p)),
        what,
      ).toEqual(before);
    }
    const same = conv([3, 1]);
    same.copyFrom(from);
    expect(same.parameters().map((p) => Array.from(p))).toEqual(from.parameters().map((p) => Array.from(p)));
  });
  it('copyFrom into an encoder a train call steps is INVALID_ARGUMENT (was copied between its steps)', async () => {
    const kit = createCosineKit({ backend: 'reference' });
    const enc = createEncoder({
      inputs: cols,
      layers: [{ units: 8, activation: 'tanh' }, { units: 4 }],
      seed: 2,
    });
    const other = enc.clone();
    let tried: unknown = 'not tried';
    await train({
      kernels: kit,
      encoder: enc,
      loss: multipleNegativesRankingLoss(),
      sampler: inBatchSampler(data(Float32Array.from(randomVec(rows * cols, 6)), {}), { batchSize: 8 }),
      optimizer: adam(),
      epochs: 1,
      callbacks: {
        onEpochEnd: () => {
          try {
            enc.copyFrom(other);
            tried = undefined;
          } catch (e) {
            tried = e;
          }
        },
      },
    });
    expect(tried).toMatchObject({ code: 'INVALID_ARGUMENT', op: 'copyFrom' });
    enc.copyFrom(other);
  });
  it('loadEncoder: a file normalising a 1-wide output is CORRUPT_DATA, as createEncoder refuses it (was loaded: every embedding +-1)', () => {
    const enc = createEncoder({ inputs: 3, layers: [{ units: 1 }], normalize: false, seed: 1 });
    const bytes = saveEncoder(enc);
    // The header's JSON: flip its normalize flag to true (the same length).
    const text = new TextDecoder().decode(bytes);
    const at = text.indexOf('"normalize":false');
    expect(at).toBeGreaterThan(0);
    const edited = new Uint8Array(bytes);
    edited.set(new TextEncoder().encode('"normalize":true '), at);
    expect(() => loadEncoder(edited)).toThrow(
      expect.objectContaining({ code: 'CORRUPT_DATA', arg: 'bytes' }),
    );
    expect(loadEncoder(bytes).outputs).toBe(1);
  });
  /** How `train` fails on one epoch of the one batch `batch` (of 2 rows of 4), or undefined. */
  const trainOn = (batch: Record<string, unknown>) =>
    train({
      kernels: createCosineKit({ backend: 'reference' }),
      encoder: createEncoder({
        inputs: 4,
        layers: [{ units: 8, activation: 'tanh' }, { units: 3 }],
        seed: 1,
      }),
      loss: cosineEmbeddingLoss(),
      // Not a Batch's type: a sampler in plain JavaScript.
      sampler: {
        sampling: 'pairs',
        batchesPerEpoch: 1,
        *epoch() {
          yield { rows: 2, cols: 4, targets: Float64Array.from([1, -1]), ...batch } as unknown as Batch;
        },
      },
      optimizer: adam(),
      epochs: 1,
    }).then(
      () => undefined,
      (x: unknown) => x,
    );
  const b = Float32Array.from({ length: 8 }, (_, i) => Math.sin(i + 1));
  it('train: a Float64Array batch for a float32 encoder is INVALID_TYPE naming the sampler (was rounded: a row of 1e-50 became zero)', async () => {
    const a = new Float64Array(8).fill(1e-50, 0, 4).fill(0.5, 4);
    expect(await trainOn({ a, b })).toMatchObject({ code: 'INVALID_TYPE', op: 'train', arg: 'sampler' });
  });
  it("train: a batch with 'negativeGroups' but no 'negatives' is INVALID_ARGUMENT naming the sampler (was taken, the groups unread)", async () => {
    const a = Float32Array.from({ length: 8 }, (_, i) => Math.cos(i + 1));
    expect(await trainOn({ a, b, negativeGroups: Int32Array.from([0, 1]) })).toMatchObject({
      code: 'INVALID_ARGUMENT',
      op: 'train',
      arg: 'sampler',
    });
  });
});

describe('a last step that leaves NaN weights, and epsilons or gradients the optimisers cannot use', () => {
  const encoder = () =>
    createEncoder({ inputs: cols, layers: [{ units: 16, activation: 'relu' }, { units: 8 }], seed: 3 });
  const sampler = () =>
    inBatchSampler(data(Float32Array.from(randomVec(rows * cols, 5)), {}), { batchSize: 8 });
  const kit = createCosineKit({ backend: 'reference' });
  it("train: a step that leaves non-finite weights is NON_FINITE naming the optimiser, even the epoch's last (was: resolved with NaN weights)", async () => {
    // One epoch of four batches whose last step alone has a learning rate far too high.
    const o = sgd({ learningRate: (step) => (step === 3 ? 1e38 : 1e-3) });
    const e = await train({
      kernels: kit,
      encoder: encoder(),
      loss: multipleNegativesRankingLoss(),
      sampler: sampler(),
      optimizer: o,
      epochs: 1,
    }).catch((err: unknown) => err);
    expect(e).toMatchObject({ code: 'NON_FINITE', op: 'train', arg: 'optimizer' });
    const w = await train({
      kernels: kit,
      encoder: encoder(),
      loss: multipleNegativesRankingLoss(),
      sampler: sampler(),
      optimizer: adam({ weightDecay: 1e300 }),
      epochs: 1,
    }).catch((err: unknown) => err);
    expect(w).toMatchObject({ op: 'train', arg: 'optimizer' });
  });
  it('adam: an epsilon below the smallest normal float32 is refused (it rounded to 0 and 0 / 0 made NaN weights)', () => {
    for (const epsilon of [1e-50, 1e-40, 0])
      expect(() => adam({ epsilon }), String(epsilon)).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT', op: 'adam', arg: 'epsilon' }),
      );
    // The smallest epsilon taken (2^-74 / sqrt(1 - beta2), see optimisers.test.ts): zero gradients
    // leave the weights as they were.
    for (const beta2 of [0, 0.999]) {
      const p = [Float32Array.of(1, 2)];
      adam({ epsilon: 2 ** -74 / Math.sqrt(1 - beta2), beta2 }).step(
        p,
        [Float32Array.of(0, 0)],
        referenceKernels,
      );
      expect(Array.from(p[0])).toEqual([1, 2]);
    }
  });
  it('optimizer.step outside train: a NaN or Infinity gradient is NON_FINITE naming grads, before any weight moves', () => {
    for (const make of [() => adam(), () => sgd()])
      for (const bad of [Number.NaN, Number.POSITIVE_INFINITY])
        for (const f of [Float32Array, Float64Array]) {
          const p = [f.of(1, 2), f.of(3)];
          const o = make();
          expect(() => o.step(p, [f.of(0.5, 0.5), f.of(bad)], referenceKernels)).toThrow(
            expect.objectContaining({ code: 'NON_FINITE', op: `${o.name}.step`, arg: 'grads' }),
          );
          expect(Array.from(p[0])).toEqual([1, 2]);
          expect(o.steps).toBe(0);
        }
  });
  it('optimizer.step outside train: a learning rate that overflows the weights is NON_FINITE naming it', () => {
    const p = [Float32Array.of(1, 2)];
    expect(() =>
      sgd({ learningRate: 1e38, momentum: 0 }).step(p, [Float32Array.of(1e10, 0)], referenceKernels),
    ).toThrow(expect.objectContaining({ code: 'NON_FINITE', op: 'sgd.step', arg: 'learningRate' }));
  });
});

describe("a custom sampler's batches are checked against what they say they hold", () => {
  const kit = createCosineKit({ backend: 'reference' });
  const good = Float32Array.from(randomVec(6 * cols, 7));
  const custom = (make: (i: number) => unknown, iterable = true): Sampler => ({
    sampling: 'in-batch',
    batchesPerEpoch: 2,
    epoch() {
      if (!iterable) return 42 as unknown as Iterable<never>;
      return [make(0), make(1)] as Iterable<never>;
    },
  });
  const run = (s: Sampler) =>
    train({
      kernels: kit,
      encoder: createEncoder({ inputs: cols, layers: [{ units: 8 }], seed: 1 }),
      loss: multipleNegativesRankingLoss(),
      sampler: s,
      optimizer: adam(),
      epochs: 1,
    }).catch((e: unknown) => e);
  const batch = (o: Record<string, unknown> = {}) => ({
    a: good.slice(0, 3 * cols),
    b: good.slice(3 * cols),
    rows: 3,
    cols,
    ...o,
  });
  it('blocks of the wrong length (was: stale rows of the previous batch trained on, or a RangeError)', async () => {
    for (const [name, o] of [
      ['a short', { a: good.slice(0, 3 * cols - 2) }],
      ['a long', { a: good.slice(0, 3 * cols + 1) }],
      ['b short', { b: good.slice(0, 2 * cols) }],
      ['negatives', { negatives: good.slice(0, cols) }],
      ['groups', { groups: Int32Array.of(1, 2) }],
    ] as const) {
      const e = await run(custom((i) => (i === 1 ? batch(o) : batch())));
      expect(e, name).toMatchObject({ code: 'SHAPE_MISMATCH', op: 'train', arg: 'sampler' });
    }
  });
  it('a batch that is not an object, rows or cols that are not counts, arrays of another type, a non-iterable epoch', async () => {
    expect(await run(custom(() => null))).toMatchObject({ code: 'INVALID_TYPE', arg: 'sampler' });
    expect(await run(custom(() => batch({ rows: Number.NaN })))).toMatchObject({
      code: 'INVALID_ARGUMENT',
      arg: 'sampler',
    });
    expect(await run(custom(() => batch({ cols: undefined })))).toMatchObject({
      code: 'INVALID_ARGUMENT',
      arg: 'sampler',
    });
    expect(await run(custom(() => batch({ b: undefined })))).toMatchObject({
      code: 'INVALID_TYPE',
      arg: 'sampler',
    });
    expect(await run(custom(() => batch(), false))).toMatchObject({ code: 'INVALID_TYPE', arg: 'sampler' });
    expect(await run(custom(() => batch()))).toMatchObject({ history: [{ batches: 2 }] });
  });
  it('callbacks that are not functions are refused before the first step changes a weight', async () => {
    const encoder = createEncoder({ inputs: cols, layers: [{ units: 8 }], seed: 1 });
    const before = encoder.parameters().map((p) => p.slice());
    for (const callbacks of [{ onBatchEnd: 5 }, [null], [{}, { onEpochEnd: 'x' }]]) {
      const e = await train({
        kernels: kit,
        encoder,
        loss: multipleNegativesRankingLoss(),
        sampler: custom(() => batch()),
        optimizer: adam(),
        epochs: 1,
        callbacks: callbacks as never,
      }).catch((err: unknown) => err);
      expect(e, JSON.stringify(callbacks)).toMatchObject({ code: 'INVALID_TYPE', op: 'train' });
    }
    expect(encoder.parameters()).toEqual(before);
  });
  it('an async augment is refused naming it, and its rejection does not end the process', () => {
    const s = inBatchSampler(data(Float32Array.from(randomVec(rows * cols, 5)), {}), {
      batchSize: 8,
      augment: (async () => {
        throw new Error('async augment boom');
      }) as never,
    });
    expect(() => {
      for (const _ of s.epoch(createRng(1))) break;
    }).toThrow(expect.objectContaining({ code: 'INVALID_TYPE', op: 'inBatchSampler', arg: 'augment' }));
  });
  it('an augment throwing an object without a prototype is still named (its description made a TypeError)', () => {
    const s = inBatchSampler(data(Float32Array.from(randomVec(rows * cols, 5)), {}), {
      batchSize: 8,
      augment: () => {
        throw Object.create(null);
      },
    });
    expect(() => {
      for (const _ of s.epoch(createRng(1))) break;
    }).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', op: 'inBatchSampler', arg: 'augment' }));
  });
});

describe('rows collapsed towards zero: gradients past float32 are NON_FINITE by name, never Infinity handed on', () => {
  it('normalizeRowsBackward, cosineEmbeddingLoss and the encoder name the rows', () => {
    const x = Float32Array.from(randomVec(4 * 8, 3), (v) => v * 1e-40);
    const fwd = normalizeRowsForward(x, 4, 8);
    expect(() =>
      normalizeRowsBackward(
        fwd,
        Float32Array.from(randomVec(32, 4)),
        4,
        8,
        undefined,
        'Encoder.backward',
        'embeddings',
      ),
    ).toThrow(expect.objectContaining({ code: 'NON_FINITE', op: 'Encoder.backward', arg: 'embeddings' }));
    const loss = cosineEmbeddingLoss();
    const input: LossInput = {
      a: x,
      b: Float32Array.from(randomVec(32, 5)),
      rows: 4,
      cols: 8,
      targets: new Float64Array([1, -1, 1, -1]),
    };
    expect(() => loss.compute(float64OpsLike32(), input)).toThrow(
      expect.objectContaining({ code: 'NON_FINITE', arg: 'a' }),
    );
  });
  it('rows of ordinary norm and a dOut whose quotient overflows: Encoder.backward names dOut, not the rows (found by a probe)', async () => {
    const e = createEncoder({
      inputs: 4,
      layers: [{ units: 3, activation: 'relu' }, { units: 2 }],
      normalize: true,
      seed: 1,
    });
    const ops = kernelOps(referenceKernels);
    const cache = await e.forward(ops, Float32Array.of(1, 2, 3, 4, 0.5, 1, 0, 2), 2);
    const err = await Promise.resolve()
      .then(() => e.backward(ops, cache, new Float32Array(4).fill(3e38)))
      .then(
        () => undefined,
        (x: unknown) => x,
      );
    expect(err).toMatchObject({ code: 'NON_FINITE', op: 'Encoder.backward', arg: 'dOut' });
    expect((err as Error).message).toMatch(/reaches 3\.\d+e\+38/);
  });

  it('float64 rows past 1e154: the cosine loss is that of the rows scaled down (was NaN)', async () => {
    const a = Float64Array.from(randomVec(24, 6));
    const b = Float64Array.from(randomVec(24, 7));
    const targets = new Float64Array([1, -1, 1]);
    const loss = cosineEmbeddingLoss();
    const plain = await loss.compute(float64Ops, { a, b, rows: 3, cols: 8, targets });
    const big = await loss.compute(float64Ops, {
      a: a.map((v) => v * 2 ** 700),
      b: b.map((v) => v * 2 ** -700),
      rows: 3,
      cols: 8,
      targets,
    });
    expect(big.loss).toBe(plain.loss);
    for (let i = 0; i < 24; i++) {
      expect(big.gradA[i]).toBe(plain.gradA[i] * 2 ** -700);
      expect(big.gradB[i]).toBe(plain.gradB[i] * 2 ** 700);
    }
  });
});

/** The float32 kernel ops of the reference backend (a loss's float32 path). */
function float64OpsLike32() {
  return kernelOps(referenceKernels);
}

describe('layers whose images do not chain, and metadata JSON does not keep as an object', () => {
  it('new Encoder and loadEncoder refuse a pool reading a conv output as another image (was: loaded and ran)', () => {
    const conv = Conv2dLayer.create(
      [8, 8, 1],
      { type: 'conv2d', filters: 3, kernel: 3, padding: 'same' },
      createRng(1),
    );
    const pool = new Pool2dLayer('maxPool2d', [4, 16, 3], 2, 2);
    expect(conv.units).toBe(pool.inputs);
    expect(() => new Encoder([conv, pool], false)).toThrow(
      expect.objectContaining({ code: 'SHAPE_MISMATCH', op: 'Encoder', arg: 'layers' }),
    );
    const fine = new Encoder([conv, new Pool2dLayer('maxPool2d', [8, 8, 3], 2, 2)], false);
    // The saved file with the pool's image rewritten: 'CKNN', version, header length, the JSON
    // header padded with spaces to 4 bytes, then the weights.
    const bytes = saveEncoder(fine);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const length = view.getUint32(8, true);
    const header = new TextDecoder().decode(bytes.subarray(12, 12 + length)).replace('[8,8,3]', '[4,16,3]');
    let json = new TextEncoder().encode(header.trimEnd());
    json = Uint8Array.from([...json, ...new Array((4 - ((12 + json.length) % 4)) % 4).fill(0x20)]);
    const forged = new Uint8Array(12 + json.length + bytes.length - 12 - length);
    forged.set(bytes.subarray(0, 12));
    new DataView(forged.buffer).setUint32(8, json.length, true);
    forged.set(json, 12);
    forged.set(bytes.subarray(12 + length), 12 + json.length);
    // Its checksum made anew, as a forger would.
    new DataView(forged.buffer).setUint32(
      forged.length - 4,
      crc32(forged.subarray(0, forged.length - 4)),
      true,
    );
    expect(header).toContain('[4,16,3]');
    expect(() => loadEncoder(forged)).toThrow(
      expect.objectContaining({ code: 'CORRUPT_DATA', message: expect.stringContaining('do not chain') }),
    );
    expect(loadEncoder(bytes).layers.length).toBe(2);
    expect(() => new Encoder([conv], 'x' as never)).toThrow(
      expect.objectContaining({ code: 'INVALID_TYPE', arg: 'normalize' }),
    );
  });
  it('saveEncoder: meta whose JSON is not an object is refused (was saved, then refused by loadEncoder)', () => {
    const enc = createEncoder({ inputs: 4, layers: [{ units: 2 }] });
    for (const meta of [new Date(0), { toJSON: () => [1, 2] }])
      expect(() => saveEncoder(enc, meta as never)).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT', op: 'saveEncoder', arg: 'meta' }),
      );
    expect(loadEncoder(saveEncoder(enc, { note: 'ok' })).layers.length).toBe(1);
  });
});

describe('null where an options object or data belongs is INVALID_TYPE by name, not a TypeError', () => {
  it('optimisers, samplers, losses, augment, classifier, head and evaluation', async () => {
    const kit = createCosineKit({ backend: 'reference' });
    const clf = createCosineClassifier({ classes: 3, dim: 4 });
    const cases: [string, () => unknown][] = [
      ['adam', () => adam(null as never)],
      ['sgd', () => sgd(null as never)],
      ['randomShift', () => randomShift(null as never)],
      ['inBatchSampler', () => inBatchSampler(null as never)],
      ['tripletSampler', () => tripletSampler(data(sparseX(), {}), null as never)],
      ['pairSampler', () => pairSampler(null as never)],
      ['labelledSampler', () => labelledSampler(null as never)],
      ['fixedPairSampler', () => fixedPairSampler(null as never)],
      ['contrastiveLoss', () => contrastiveLoss(null as never)],
      ['cosineEmbeddingLoss', () => cosineEmbeddingLoss(null as never)],
      ['multipleNegativesRankingLoss', () => multipleNegativesRankingLoss(null as never)],
      ['normFaceLoss', () => normFaceLoss(clf, null as never)],
      ['cosFaceLoss', () => cosFaceLoss(clf, null as never)],
      ['arcFaceLoss', () => arcFaceLoss(clf, null as never)],
      ['createCosineClassifier', () => createCosineClassifier(null as never)],
      ['createCosineHead', () => createCosineHead(null as never, kit)],
    ];
    for (const [op, f] of cases) expect(f, op).toThrow(expect.objectContaining({ code: 'INVALID_TYPE', op }));
    await expect(evaluateRetrieval(kit, null as never, 1)).rejects.toMatchObject({
      code: 'INVALID_TYPE',
      op: 'evaluateRetrieval',
      arg: 'set',
    });
    await expect(
      clf.predict(kit, null as never, new Tensor(new Float32Array(4), 1, 4)),
    ).rejects.toMatchObject({
      code: 'INVALID_TYPE',
      op: 'CosineClassifier.predict',
      arg: 'encoder',
    });
  });
});

describe('flags that are not booleans and null options are refused by name, never read as a default or a truthy value', () => {
  const x = () => Float32Array.from(randomVec(rows * cols, 5));
  const dense = (spec: Record<string, unknown>) => () =>
    createEncoder({ inputs: cols, layers: [{ units: 4, ...spec } as never] });
  const conv = (spec: Record<string, unknown>) => () =>
    createEncoder({
      inputs: 36,
      inputShape: [6, 6, 1],
      layers: [{ type: 'conv2d', filters: 2, kernel: 3, ...spec } as never],
    });
  it("bias: 'no', dropLast: 'yes', restoreBest: 0, progress: 5, normalized: 'yes' (was: read as true or false)", async () => {
    const invalid = (f: () => unknown, op: string, arg: string) =>
      expect(f, `${op} ${arg}`).toThrow(expect.objectContaining({ code: 'INVALID_TYPE', op, arg }));
    invalid(dense({ bias: 'no' }), 'createEncoder', 'bias');
    invalid(conv({ bias: 0 }), 'createEncoder', 'bias');
    for (const [op, make] of Object.entries(samplers)) {
      invalid(() => make(x(), {}, { dropLast: 'yes' }), op, 'dropLast');
      invalid(() => make(x(), {}, { dropLast: null }), op, 'dropLast');
    }
    invalid(
      () =>
        fixedPairSampler(
          { a: x(), b: x(), rows, cols, targets: new Float64Array(rows) },
          { dropLast: 1 as never },
        ),
      'fixedPairSampler',
      'dropLast',
    );
    const kit = createCosineKit({ backend: 'reference' });
    const base = {
      kernels: kit,
      encoder: createEncoder({ inputs: cols, layers: [{ units: 4 }] }),
      loss: multipleNegativesRankingLoss(),
      sampler: samplers.inBatchSampler(x()),
      optimizer: adam(),
      epochs: 1,
    };
    await expect(
      train({ ...base, validate: () => 1, earlyStopping: { restoreBest: 0 as never } }),
    ).rejects.toMatchObject({ code: 'INVALID_TYPE', op: 'train', arg: 'earlyStopping.restoreBest' });
    await expect(train({ ...base, progress: 5 as never })).rejects.toMatchObject({
      code: 'INVALID_TYPE',
      op: 'train',
      arg: 'progress',
    });
    const a = Float32Array.from(randomVec(8, 2));
    for (const loss of [multipleNegativesRankingLoss(), cosineEmbeddingLoss()])
      await expect(
        (async () =>
          loss.compute(float64Ops, {
            a,
            b: a,
            rows: 2,
            cols: 4,
            targets: [1, 1],
            normalized: 'yes',
          } as unknown as LossInput))(),
      ).rejects.toMatchObject({ code: 'INVALID_TYPE', arg: 'normalized' });
  });
  it('null for an option with a default is refused (was: the default, as for undefined)', () => {
    const clf = createCosineClassifier({ classes: 3, dim: 4 });
    const refused: [string, string, () => unknown][] = [
      ['createEncoder', 'activation', dense({ activation: null })],
      ['createEncoder', 'init', dense({ init: null })],
      ['createEncoder', 'stride', conv({ stride: null })],
      ['createEncoder', 'padding', conv({ padding: null })],
      ['createEncoder', 'layers', dense({ type: null })],
      ['multipleNegativesRankingLoss', 'scale', () => multipleNegativesRankingLoss({ scale: null as never })],
      [
        'multipleNegativesRankingLoss',
        'sameClass',
        () => multipleNegativesRankingLoss({ sameClass: null as never }),
      ],
      ['contrastiveLoss', 'margin', () => contrastiveLoss({ margin: null as never })],
      ['cosineEmbeddingLoss', 'margin', () => cosineEmbeddingLoss({ margin: null as never })],
      ['normFaceLoss', 'scale', () => normFaceLoss(clf, { scale: null as never })],
      ['cosFaceLoss', 'margin', () => cosFaceLoss(clf, { margin: null as never })],
      ['arcFaceLoss', 'margin', () => arcFaceLoss(clf, { margin: null as never })],
      ['inBatchSampler', 'batchSize', () => samplers.inBatchSampler(sparseX(), {}, { batchSize: null })],
      [
        'pairSampler',
        'positiveFraction',
        () => samplers.pairSampler(sparseX(), {}, { positiveFraction: null }),
      ],
    ];
    for (const [op, arg, f] of refused)
      expect(f, `${op} ${arg}`).toThrow(expect.objectContaining({ name: 'CosineKitError', op, arg }));
  });
  it('an option value whose String() throws (no prototype) is refused by name (was a raw TypeError from the message)', () => {
    const bare = Object.create(null) as never;
    const refused: [string, string, () => unknown][] = [
      ['createEncoder', 'activation', dense({ activation: bare })],
      ['createEncoder', 'init', dense({ init: bare })],
      ['multipleNegativesRankingLoss', 'sameClass', () => multipleNegativesRankingLoss({ sameClass: bare })],
    ];
    for (const [op, arg, f] of refused)
      expect(f, `${op} ${arg}`).toThrow(expect.objectContaining({ name: 'CosineKitError', op, arg }));
  });
});

describe('seeds: every integer its own run, fractions refused (was: taken mod 2^32 and truncated)', () => {
  const weights = (seed: number) =>
    createEncoder({ inputs: 6, layers: [{ units: 3 }], seed })
      .parameters()[0]
      .slice();
  it('seeds 2^32 apart, and -1 against 2^32 - 1, give different weights; seeds below 2^32 are unchanged', () => {
    for (const [s, t] of [
      [1, 2 ** 32 + 1],
      [-1, 2 ** 32 - 1],
      [0, 2 ** 32],
      [7, 7 + 2 ** 52],
      [-(2 ** 53), 0],
    ])
      expect(weights(s), `${s} vs ${t}`).not.toEqual(weights(t));
    expect(weights(2 ** 32 + 1)).toEqual(weights(2 ** 32 + 1));
    // The low word alone, as it always was: seed 5 starts as it did before the high word was read
    // (the figures are the earlier implementation's).
    const r = createRng(5);
    expect([r.next(), r.next()]).toEqual([0.842144260648638, 0.8309697399381548]);
  });
  it('a fractional seed is INVALID_ARGUMENT at createEncoder, createCosineClassifier and train', async () => {
    expect(() => weights(1.5)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', arg: 'seed' }));
    expect(() => createCosineClassifier({ classes: 2, dim: 3, seed: 0.25 })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', op: 'createCosineClassifier', arg: 'seed' }),
    );
    await expect(
      train({
        kernels: createCosineKit({ backend: 'reference' }),
        encoder: createEncoder({ inputs: cols, layers: [{ units: 4 }] }),
        loss: multipleNegativesRankingLoss(),
        sampler: samplers.inBatchSampler(sparseX()),
        optimizer: adam(),
        seed: 2.5,
      }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', op: 'train', arg: 'seed' });
  });
});

describe('train stops on an AbortSignal between steps', () => {
  const kit = createCosineKit({ backend: 'reference' });
  const options = (encoder: Encoder) => ({
    kernels: kit,
    encoder,
    loss: multipleNegativesRankingLoss(),
    sampler: samplers.inBatchSampler(Float32Array.from(randomVec(rows * cols, 5))),
    optimizer: adam(),
    epochs: 3,
  });
  const fresh = () => createEncoder({ inputs: cols, layers: [{ units: 4 }], seed: 9 });
  it('aborted before the call: ABORTED, no weight moved', async () => {
    const encoder = fresh();
    const before = encoder.parameters().map((p) => p.slice());
    const c = new AbortController();
    c.abort(new Error('stop'));
    await expect(train({ ...options(encoder), signal: c.signal })).rejects.toMatchObject({
      code: 'ABORTED',
      op: 'train',
      arg: 'signal',
    });
    expect(encoder.parameters()).toEqual(before);
  });
  it('aborted after the third step: ABORTED with the reason, the weights of exactly three steps', async () => {
    const c = new AbortController();
    const encoder = fresh();
    let steps = 0;
    const e = await train({
      ...options(encoder),
      signal: c.signal,
      callbacks: {
        onBatchEnd: () => {
          if (++steps === 3) c.abort('enough');
        },
      },
    }).catch((err: unknown) => err);
    expect(e).toMatchObject({ code: 'ABORTED', op: 'train', cause: 'enough' });
    expect(steps).toBe(3);
    // The same run, not aborted, copied after its third step: the aborted encoder holds exactly that.
    const other = fresh();
    let after3: Float32Array[] = [];
    let seen = 0;
    await train({
      ...options(other),
      callbacks: {
        onBatchEnd: () => {
          if (++seen === 3) after3 = other.parameters().map((p) => Float32Array.from(p));
        },
      },
    });
    expect(after3.length).toBeGreaterThan(0);
    expect(encoder.parameters().map((p) => Float32Array.from(p))).toEqual(after3);
    expect(other.parameters()[0]).not.toEqual(after3[0]);
  });
  it('a signal that is not an AbortSignal is INVALID_TYPE', async () => {
    await expect(train({ ...options(fresh()), signal: 'now' as never })).rejects.toMatchObject({
      code: 'INVALID_TYPE',
      op: 'train',
      arg: 'signal',
    });
  });
});

describe('a crafted encoder header is refused before its layers are built', () => {
  it('many large convolutions declared in a small file: CORRUPT_DATA for the length (was: seconds building each)', () => {
    const layer = {
      kind: 'conv2d',
      inputShape: [16, 16, 64],
      filters: 64,
      kernel: [3, 3],
      stride: 1,
      padding: 1,
      inputs: 16 * 16 * 64,
      units: 16 * 16 * 64,
      activation: 'linear',
      bias: false,
    };
    const header = {
      format: 'cosinekit-nn',
      layers: Array.from({ length: 1000 }, () => layer),
      normalize: false,
      parameters: 1000 * 9 * 64 * 64,
    };
    const json = new TextEncoder().encode(JSON.stringify(header));
    const bytes = new Uint8Array(12 + json.length);
    bytes.set(new TextEncoder().encode('CKNN'));
    new DataView(bytes.buffer).setUint32(4, 1, true);
    new DataView(bytes.buffer).setUint32(8, json.length, true);
    bytes.set(json, 12);
    expect(() => loadEncoder(bytes)).toThrow(
      expect.objectContaining({ code: 'CORRUPT_DATA', message: expect.stringMatching(/truncated/) }),
    );
  });
});

describe("the probe's smaller findings", () => {
  it('a schedule giving a string, accuracy on a label no class has, and group ids that are not integers are refused by name', async () => {
    const { adam, createCosineClassifier, multipleNegativesRankingLoss, float64Ops } = await import(
      '../src/index.js'
    );
    const o = adam({ learningRate: (() => '0.1') as never });
    expect(() => o.step([new Float32Array([1])], [new Float32Array([1])])).toThrow(
      expect.objectContaining({
        code: 'INVALID_TYPE',
        arg: 'learningRate',
        message: expect.stringMatching(/the string '0.1'/),
      }),
    );
    const loss = multipleNegativesRankingLoss();
    const a = Float64Array.from([1, 0, 0, 1, 1, 1]);
    for (const groups of [
      [0, Number.NaN, 1],
      [0, 1.5, 1],
    ])
      await expect(loss.compute(float64Ops, { a, b: a, rows: 3, cols: 2, groups })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        arg: 'groups',
      });
    const c = createCosineClassifier({ classes: 3, dim: 2 });
    const { createEncoder } = await import('../src/index.js');
    const enc = createEncoder({ inputs: 2, layers: [{ units: 2 }] } as never);
    const { createCosineKit } = await import('@cosinekit/core');
    const kit = createCosineKit({ backend: 'reference' });
    await expect(
      c.accuracy(
        kit,
        enc,
        [
          [1, 0],
          [0, 1],
        ],
        [0, 7],
      ),
    ).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      op: 'CosineClassifier.accuracy',
      arg: 'labels',
    });
  });
});

describe('finite weights too large for float32 layers', () => {
  it('embed names the encoder (NON_FINITE), not the backend', async () => {
    const { createEncoder } = await import('../src/index.js');
    const { createCosineKit } = await import('@cosinekit/core');
    const enc = createEncoder({ inputs: 3, layers: [{ units: 4 }, { units: 2 }], seed: 2 });
    enc.parameters()[0].fill(3e38);
    const kit = createCosineKit({ backend: 'reference' });
    await expect(enc.embed(kit, [[1, 2, 3]])).rejects.toMatchObject({
      code: 'NON_FINITE',
      op: 'embed',
      arg: 'encoder',
      message: expect.stringMatching(/holds weights up to 3[.0-9]*e\+38, past what float32 layers hold/),
    });
  });

  it('and weights a saved file may hold (2^40) whose products grow past float32 layer after layer', async () => {
    // Each weight is allowed; three layers of them take a row of 0.5s to about 2^130.
    const { createEncoder, loadEncoder, saveEncoder, MAX_SAVED_WEIGHT } = await import('../src/index.js');
    const { createCosineKit } = await import('@cosinekit/core');
    const enc = createEncoder({
      inputs: 8,
      layers: [{ units: 16, activation: 'relu' }, { units: 16 }, { units: 4 }],
      seed: 1,
    });
    for (const p of enc.parameters()) p.fill(MAX_SAVED_WEIGHT);
    const loaded = loadEncoder(saveEncoder(enc));
    const kit = createCosineKit({ backend: 'reference' });
    await expect(loaded.embed(kit, [new Array(8).fill(0.5)])).rejects.toMatchObject({
      code: 'NON_FINITE',
      op: 'embed',
      arg: 'encoder',
      message: expect.stringMatching(
        /holds weights up to 1099511627776, whose layers reach 1\.7[0-9]*e\+39 on these rows in float64/,
      ),
    });
    // So deep that float64 overflows too (its own layers then refuse their input): still the encoder.
    const deep = createEncoder({
      inputs: 8,
      layers: Array.from({ length: 30 }, () => ({ units: 16 })),
      seed: 1,
    });
    for (const p of deep.parameters()) p.fill(MAX_SAVED_WEIGHT);
    await expect(deep.embed(kit, [new Array(8).fill(0.5)])).rejects.toMatchObject({
      code: 'NON_FINITE',
      op: 'embed',
      arg: 'encoder',
      message: expect.stringMatching(/whose layers reach Infinity on these rows in float64/),
    });
    // train's first batch names the encoder too, not the backend's matmul.
    const { train, inBatchSampler, adam, multipleNegativesRankingLoss } = await import('../src/index.js');
    const x = new Float32Array(64).map((_, i) => Math.sin(i));
    await expect(
      train({
        kernels: kit,
        encoder: loaded,
        loss: multipleNegativesRankingLoss(),
        sampler: inBatchSampler({ x, rows: 8, cols: 8, labels: [0, 0, 1, 1, 2, 2, 3, 3] }, { batchSize: 4 }),
        optimizer: adam(),
        epochs: 1,
      }),
    ).rejects.toMatchObject({
      code: 'NON_FINITE',
      op: 'train',
      arg: 'encoder',
      message: expect.stringMatching(/whose layers reach .* on the first batch in float64/),
    });
  });
});

describe('a misspelt option', () => {
  it('is INVALID_ARGUMENT naming it at every nn entry that takes options, not its default in silence', async () => {
    const nn = await import('../src/index.js');
    const data = { x: new Float32Array(8), rows: 4, cols: 2, labels: [0, 0, 1, 1] };
    const calls: [string, string, () => unknown][] = [
      ['adam', 'options.lr', () => nn.adam({ lr: 0.1 } as never)],
      ['sgd', 'options.momentm', () => nn.sgd({ momentm: 0.5 } as never)],
      [
        'createEncoder',
        'options.layer',
        () => nn.createEncoder({ inputs: 2, layers: [{ units: 2 }], layer: 1 } as never),
      ],
      [
        'createCosineClassifier',
        'options.class',
        () => nn.createCosineClassifier({ classes: 2, dim: 2, class: 3 } as never),
      ],
      [
        'multipleNegativesRankingLoss',
        'options.scal',
        () => nn.multipleNegativesRankingLoss({ scal: 5 } as never),
      ],
      ['inBatchSampler', 'options.batchsize', () => nn.inBatchSampler(data, { batchsize: 2 } as never)],
    ];
    for (const [op, arg, call] of calls) {
      let e: unknown;
      try {
        call();
      } catch (x) {
        e = x;
      }
      expect(e, arg).toMatchObject({ code: 'INVALID_ARGUMENT', op, arg });
    }
    const encoder = nn.createEncoder({ inputs: 2, layers: [{ units: 2 }] });
    await expect(
      nn.train({
        encoder,
        loss: nn.multipleNegativesRankingLoss(),
        sampler: nn.inBatchSampler(data),
        optimizer: nn.adam(),
        epoch: 3,
      } as never),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', op: 'train', arg: 'options.epoch' });
  });
});

describe('found by a probe on other backends (each failed before)', () => {
  const kit = createCosineKit({ backend: 'reference' });
  const x = () => Float32Array.from(randomVec(rows * cols, 5));
  it('an abort from a timer stops train: steps settle at once, so training now lets the event loop turn', async () => {
    const encoder = createEncoder({ inputs: cols, layers: [{ units: 8 }], seed: 3 });
    let steps = 0;
    const started = performance.now();
    const e = await train({
      kernels: kit,
      encoder,
      loss: multipleNegativesRankingLoss(),
      sampler: samplers.inBatchSampler(x()),
      optimizer: adam(),
      epochs: 100_000,
      signal: AbortSignal.timeout(50),
      callbacks: { onBatchEnd: () => void steps++ },
    }).catch((err: unknown) => err);
    expect(e).toMatchObject({ code: 'ABORTED', op: 'train' });
    expect(steps).toBeGreaterThan(0);
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('weights past ±2^40 end training by naming the optimizer (train resolved with 4.5e30 weights saveEncoder refused)', async () => {
    const encoder = createEncoder({ inputs: cols, layers: [{ units: 4, activation: 'tanh' }], seed: 3 });
    await expect(
      train({
        kernels: kit,
        encoder,
        loss: multipleNegativesRankingLoss(),
        sampler: samplers.inBatchSampler(x()),
        optimizer: adam({ learningRate: 1e30 }),
        epochs: 1,
      }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', op: 'train', arg: 'optimizer' });
  });

  it('saveEncoder refuses more layers than loadEncoder reads; a layer kind of null is CORRUPT_DATA', () => {
    const deep = createEncoder({
      inputs: 2,
      layers: Array.from({ length: 1025 }, () => ({ units: 2 })),
      seed: 1,
    });
    expect(() => saveEncoder(deep)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', op: 'saveEncoder', arg: 'encoder' }),
    );
    const bytes = saveEncoder(createEncoder({ inputs: 2, layers: [{ units: 2 }], seed: 1 }));
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    const length = view.getUint32(8, true);
    const json = new TextDecoder().decode(bytes.subarray(12, 12 + length));
    const weights = bytes.subarray(12 + length);
    for (const kind of ['null', '""', '0', 'false']) {
      // The same file with the layer's kind forged, its header padded to keep the weights aligned.
      let forged = json.trimEnd().replace('"inputs":2', `"kind":${kind},"inputs":2`);
      forged = forged.padEnd(Math.ceil(forged.length / 4) * 4);
      const head = new TextEncoder().encode(forged);
      const b = new Uint8Array(12 + head.length + weights.length);
      b.set(bytes.subarray(0, 8));
      new DataView(b.buffer).setUint32(8, head.length, true);
      b.set(head, 12);
      b.set(weights, 12 + head.length);
      expect(() => loadEncoder(b), kind).toThrow(expect.objectContaining({ code: 'CORRUPT_DATA' }));
    }
    // The file as saved still loads: only the forged kinds are refused.
    expect(loadEncoder(bytes).layers.length).toBe(1);
  });

  it('a scale that float32 rounds to 0 is refused by the loss, not by a kernel later', () => {
    const classifier = createCosineClassifier({ classes: 3, dim: 4 });
    for (const make of [
      () => multipleNegativesRankingLoss({ scale: 1e-46 }),
      () => normFaceLoss(classifier, { scale: 1e-46 }),
      () => cosFaceLoss(classifier, { scale: 1e-46 }),
      () => arcFaceLoss(classifier, { scale: 1e-46 }),
    ])
      expect(make).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', arg: 'scale' }));
  });

  it('a backend disposed under train or embed: DISPOSED naming train or embed, not the kernel', async () => {
    const wasm = createWasmBackend({ threads: 1 });
    await wasm.init();
    const k = createCosineKit({ backend: wasm as Backend });
    const encoder = createEncoder({ inputs: cols, layers: [{ units: 8 }], seed: 3 });
    const e = await train({
      kernels: k,
      encoder,
      loss: multipleNegativesRankingLoss(),
      sampler: samplers.inBatchSampler(x()),
      optimizer: adam(),
      epochs: 2,
      callbacks: { onBatchEnd: () => void wasm.dispose() },
    }).catch((err: unknown) => err);
    expect(e).toMatchObject({ code: 'DISPOSED', op: 'train', arg: 'kernels' });
    await expect(encoder.embed(k, new Tensor(x(), rows, cols))).rejects.toMatchObject({
      code: 'DISPOSED',
      op: 'embed',
    });
  });

  it("what else is disposed under train is named as its argument, at the batch it failed (was 'kernels', and the previous batch)", async () => {
    const ref = createCosineKit({ backend: 'reference' });
    const run = (o: Partial<Parameters<typeof train>[0]>) =>
      train({
        kernels: ref,
        encoder: createEncoder({ inputs: cols, layers: [{ units: 8 }], seed: 3 }),
        loss: multipleNegativesRankingLoss(),
        sampler: samplers.inBatchSampler(x()),
        optimizer: adam(),
        epochs: 3,
        ...o,
      }).catch((err: unknown) => err);
    // An optimiser whose moments lived on a backend disposed since.
    const wasm = createWasmBackend({ threads: 1 });
    await wasm.init();
    const optimizer = adam();
    await run({ kernels: createCosineKit({ backend: wasm as Backend }), optimizer, epochs: 1 });
    await wasm.dispose();
    expect(await run({ optimizer })).toMatchObject({ code: 'DISPOSED', op: 'train', arg: 'optimizer' });
    // The sampler's rows transferred after epoch 0: the draw of epoch 1 fails.
    const rowsGone = x();
    const e = await run({
      sampler: samplers.inBatchSampler(rowsGone),
      callbacks: {
        onEpochEnd: ({ epoch }) => {
          if (epoch === 0) structuredClone(rowsGone.buffer, { transfer: [rowsGone.buffer] });
        },
      },
    });
    expect(e).toMatchObject({ code: 'DISPOSED', op: 'train', arg: 'sampler' });
    expect((e as Error).message).toContain('epoch 1');
    expect((e as Error).message).toContain('data.x');
  });

  it('a target whose gradient is past float32 is NON_FINITE naming targets, or the sampler in train (was Infinity gradients, or the rows blamed)', async () => {
    const kit = createCosineKit({ backend: 'reference' });
    const ops = kernelOps(await kit.kernels());
    const a = new Float32Array([1, 0, 0, 1]);
    const b = new Float32Array([0.6, 0.8, 0.8, 0.6]);
    for (const normalized of [false, true])
      expect(() =>
        mseSimilarityLoss().compute(ops, { a, b, rows: 2, cols: 2, targets: [1, 1e150], normalized }),
      ).toThrow(expect.objectContaining({ code: 'NON_FINITE', op: 'mseSimilarityLoss', arg: 'targets' }));
    const e = await train({
      kernels: kit,
      encoder: createEncoder({ inputs: 2, layers: [{ units: 2 }], normalize: true, seed: 1 }),
      loss: mseSimilarityLoss(),
      optimizer: sgd(),
      epochs: 1,
      sampler: fixedPairSampler({ a, b, rows: 2, cols: 2, targets: [1, 1e150] }, { batchSize: 2 }),
    }).catch((err: unknown) => err);
    expect(e).toMatchObject({ code: 'NON_FINITE', op: 'train', arg: 'sampler' });
  });
});

describe("the head and the classifier hand a backend's cosine kernels rows as the kit's gate does", () => {
  // A backend's cosine kernels may assume rows of ordinary magnitude (the kit rescales extreme
  // ones before every call of its own); the head and the classifier handed raw embeddings, so a
  // plain float32 kernel gave 1, 0 or NaN for embeddings near 1e-20 or 1e20.
  const f = Math.fround;
  const cos32 = (a: Float32Array, ao: number, b: Float32Array, bo: number, d: number) => {
    let dot = 0;
    let x = 0;
    let y = 0;
    for (let j = 0; j < d; j++) {
      dot = f(dot + f(a[ao + j] * b[bo + j]));
      x = f(x + f(a[ao + j] * a[ao + j]));
      y = f(y + f(b[bo + j] * b[bo + j]));
    }
    return x === 0 || y === 0 ? 0 : Math.max(-1, Math.min(1, f(dot / f(Math.sqrt(f(x * y))))));
  };
  const plain: Backend = {
    name: 'plain-float32',
    kernels: {
      ...referenceKernels,
      cosineRows(a, b, out = new Float32Array(a.rows)) {
        for (let i = 0; i < a.rows; i++) out[i] = cos32(a.data, i * a.cols, b.data, i * b.cols, a.cols);
        return out;
      },
      cosineMatrix(a, b, out = new Float32Array(a.rows * b.rows)) {
        for (let i = 0; i < a.rows; i++)
          for (let j = 0; j < b.rows; j++)
            out[i * b.rows + j] = cos32(a.data, i * a.cols, b.data, j * b.cols, a.cols);
        return out;
      },
    },
  };

  it('cosines of embeddings from 1e-30 to 1e25 are the true ones', async () => {
    const kit = createCosineKit({ backend: plain });
    const enc = createEncoder({
      inputs: 3,
      layers: [{ units: 3, init: 'identity', bias: false }],
      normalize: false,
    });
    const head = createCosineHead(enc, kit);
    const cls = new CosineClassifier(2, 3, Float32Array.of(1, 0, 0, 0, 0, 1));
    for (const s of [1, 1e-20, 1e-25, 1e-30, 1e20, 1e25]) {
      const a = [s, s, 0];
      const b = [s, 0, 0];
      expect((await head.pairs([a], [b]))[0], `pairs ${s}`).toBeCloseTo(Math.SQRT1_2, 6);
      expect((await head.matrix([a], [b])).data[0], `matrix ${s}`).toBeCloseTo(Math.SQRT1_2, 6);
      expect((await cls.cosines(kit, enc, [a]))[0], `classifier ${s}`).toBeCloseTo(Math.SQRT1_2, 6);
    }
    kit.dispose();
  });
});

describe('what the caller hands over is refused by name, and what the caller’s own code throws is named (a probe found each raw)', () => {
  const x = () => Float32Array.from(randomVec(rows * cols, 5));
  const kit = createCosineKit({ backend: 'reference' });

  it('encoders, ops, optimisers and losses: TypeErrors became INVALID_TYPE naming the argument', async () => {
    const enc = createEncoder({ inputs: 3, layers: [{ units: 2 }], seed: 1 });
    const two = new Float32Array([1, 0, 0, 1]);
    const cases: [string, string, () => unknown][] = [
      ['createEncoder', 'layers[0]', () => createEncoder({ inputs: 3, layers: [null as never] })],
      ['createEncoder', 'layers', () => createEncoder({ inputs: 3, layers: { length: 1 } as never })],
      ['createEncoder', 'layers', () => createEncoder({ inputs: 3, layers: 5 as never })],
      ['kernelOps', 'kernels', () => kernelOps(null as never)],
      ['kernelOps', 'kernels', () => kernelOps(kit as never)],
      ['copyFrom', 'other', () => enc.copyFrom(null as never)],
      ['adam.step', 'params', () => adam().step(null as never, null as never)],
      ['sgd.step', 'grads[0]', () => sgd().step([new Float32Array(2)], [[1, 2] as never])],
      [
        'multipleNegativesRankingLoss',
        'ops',
        () => multipleNegativesRankingLoss().compute(null as never, { a: two, b: two, rows: 2, cols: 2 }),
      ],
      ['progressCallbacks', 'options', () => progressCallbacks(null as never)],
      ['progressCallbacks', 'options.stream', () => progressCallbacks({ stream: 5 as never })],
    ];
    for (const [op, arg, call] of cases) {
      let e: unknown;
      try {
        await call();
      } catch (err) {
        e = err;
      }
      expect(e, `${op} ${arg}`).toMatchObject({ name: 'CosineKitError', code: 'INVALID_TYPE', op, arg });
    }
  });

  it('train: earlyStopping keys and patience, ops, and raw throws from a schedule, sampler, loss, callback or validate', async () => {
    const base = () => ({
      kernels: kit,
      encoder: createEncoder({ inputs: cols, layers: [{ units: 8 }], seed: 3 }),
      loss: multipleNegativesRankingLoss(),
      sampler: samplers.inBatchSampler(x()),
      optimizer: adam(),
      epochs: 2,
    });
    const fail = (o: Record<string, unknown>) =>
      train({ ...base(), ...o } as Parameters<typeof train>[0]).catch((e: unknown) => e);
    const validate = async () => 0.5;
    expect(await fail({ validate, earlyStopping: { patiance: 0 } })).toMatchObject({
      code: 'INVALID_ARGUMENT',
      arg: 'earlyStopping.patiance',
    });
    expect(await fail({ validate, earlyStopping: { patience: 1.5 } })).toMatchObject({
      code: 'INVALID_ARGUMENT',
      arg: 'earlyStopping.patience',
    });
    for (const ops of [{}, null])
      expect(await fail({ ops })).toMatchObject({ code: 'INVALID_TYPE', arg: 'ops' });
    const boom = () => {
      throw new Error('boom');
    };
    const s = samplers.inBatchSampler(x());
    const thrown: [string, Record<string, unknown>][] = [
      ['learningRate', { optimizer: adam({ learningRate: boom }) }],
      [
        'sampler',
        {
          sampler: {
            ...s,
            sampling: s.sampling,
            batchesPerEpoch: 1,
            *epoch() {
              yield* [];
              boom();
            },
          },
        },
      ],
      ['loss', { loss: { ...multipleNegativesRankingLoss(), compute: boom } }],
      ['callbacks', { callbacks: { onBatchEnd: boom } }],
      ['callbacks', { callbacks: { onEpochStart: boom } }],
      ['validate', { validate: boom }],
    ];
    for (const [arg, o] of thrown) {
      const e = await fail(o);
      expect(e, arg).toMatchObject({ name: 'CosineKitError', code: 'INVALID_ARGUMENT', op: 'train', arg });
      expect((e as Error).message, arg).toContain('boom');
      expect((e as Error).message, arg).toMatch(/at batch \d+ of epoch \d+/);
      expect((e as { cause?: Error }).cause?.message, arg).toBe('boom');
    }
  });
});

describe('a callback that writes NaN into the weights is named, not the optimiser (found by a probe)', () => {
  it('NON_FINITE naming callbacks at its batch (it said the learning rate was far too high)', async () => {
    const x = sparseX();
    const encoder = createEncoder({ inputs: cols, layers: [{ units: 8 }], normalize: true });
    const e = await train({
      kernels: createCosineKit({ backend: 'reference' }),
      encoder,
      loss: multipleNegativesRankingLoss(),
      sampler: inBatchSampler({ x, rows, cols, labels }, { batchSize: 8 }),
      optimizer: adam(),
      epochs: 1,
      callbacks: {
        onBatchEnd: ({ batch }) => {
          if (batch === 0) encoder.parameters()[0][3] = Number.NaN;
        },
      },
    }).catch((x: unknown) => x);
    expect(e).toMatchObject({ name: 'CosineKitError', code: 'NON_FINITE', op: 'train', arg: 'callbacks' });
    expect((e as Error).message).toContain('after batch 0 of epoch 0');
  });

  /** train with one hook writing `v` into the first weight (and how it fails, or undefined). */
  const withHook = (
    hook: 'onEpochStart' | 'onBatchEnd' | 'onEpochEnd' | 'onTrainEnd',
    v: number,
    optimizer = adam(),
  ) => {
    const encoder = createEncoder({ inputs: cols, layers: [{ units: 8 }], normalize: true });
    const write = () => {
      encoder.parameters()[0][3] = v;
    };
    return train({
      kernels: createCosineKit({ backend: 'reference' }),
      encoder,
      loss: multipleNegativesRankingLoss(),
      sampler: inBatchSampler({ x: sparseX(), rows, cols, labels }, { batchSize: 8 }),
      optimizer,
      epochs: 2,
      callbacks: {
        [hook]: (i: number | { epoch: number } | { history: unknown }) => {
          if (hook === 'onTrainEnd') write();
          else if (
            (typeof i === 'number' ? i : (i as { epoch: number }).epoch) === (hook === 'onEpochEnd' ? 1 : 0)
          )
            write();
        },
      },
    }).then(
      () => undefined,
      (x: unknown) => x as CosineKitError,
    );
  };

  it('onEpochStart too, and a finite weight past ±2^40 from any hook (blamed on the learning rate, or saved by none)', async () => {
    // NaN before any step: "the optimiser left non-finite weights ... its learning rate".
    expect(await withHook('onEpochStart', Number.NaN)).toMatchObject({
      code: 'NON_FINITE',
      arg: 'callbacks',
      message: expect.stringContaining('before epoch 0 (onEpochStart changed them)'),
    });
    for (const hook of ['onEpochStart', 'onBatchEnd', 'onEpochEnd'] as const)
      for (const v of [1e30, 2e12])
        expect(await withHook(hook, v), `${hook} ${v}`).toMatchObject({
          code: 'INVALID_ARGUMENT',
          op: 'train',
          arg: 'callbacks',
          message: expect.stringContaining('past the ±2^40'),
        });
    // onTrainEnd, the last hook of all: its NaN came back from train as a trained weight.
    expect(await withHook('onTrainEnd', Number.NaN)).toMatchObject({
      code: 'NON_FINITE',
      arg: 'callbacks',
      message: expect.stringContaining('(onTrainEnd changed them)'),
    });
    // A hook that leaves the weights alone is not blamed for a step that diverges before it runs.
    const e = await withHook('onBatchEnd', 0.5, sgd({ learningRate: 1e30 }));
    expect(e).toMatchObject({ op: 'train', arg: 'optimizer' });
  });
});

describe('options once taken silently: a precision, a shape with a hole, a seed, a misspelt key (found by a probe)', () => {
  it('are refused by name where each was taken', async () => {
    const hole = [2, 2, 1];
    delete hole[1];
    const enc = createEncoder({ inputs: 4, layers: [{ units: 3 }] });
    const clf = createCosineClassifier({ classes: 2, dim: 3 });
    const refused: [string, string, () => unknown][] = [
      [
        'Pool2dLayer.create',
        'precision',
        () => Pool2dLayer.create([2, 2, 1], { type: 'maxPool2d', size: 2 }, 'float16' as never),
      ],
      [
        'Pool2dLayer.create',
        'inputShape',
        () => Pool2dLayer.create(hole as never, { type: 'maxPool2d', size: 2 }),
      ],
      [
        'createEncoder',
        'inputShape',
        () => createEncoder({ inputs: 4, inputShape: hole as never, layers: [{ units: 3 }] }),
      ],
      ['DenseLayer.clone', 'precision', () => enc.layers[0].clone('float16' as never)],
      ['CosineClassifier.clone', 'precision', () => clf.clone('float16' as never)],
      ['createRng', 'seed', () => createRng({} as never)],
      ['kernelOps', 'options.resue', () => kernelOps(referenceKernels, { resue: true } as never)],
      ['kernelOps', 'options.reuse', () => kernelOps(referenceKernels, { reuse: 'yes' } as never)],
    ];
    // Numbers compared or printed before their type was known: a symbol, an object without a prototype.
    const odd = [Symbol('s'), Object.create(null)] as never[];
    for (const v of odd) {
      refused.push(
        ['adam', 'learningRate', () => adam({ learningRate: v })],
        ['sgd', 'learningRate', () => sgd({ learningRate: v })],
        ['adam', 'epsilon', () => adam({ epsilon: v })],
        ['CosineClassifier', 'classes', () => createCosineClassifier({ classes: v, dim: 2 })],
      );
    }
    for (const [op, arg, f] of refused)
      expect(f, `${op} ${arg}`).toThrow(expect.objectContaining({ name: 'CosineKitError', op, arg }));
    // Options objects that cannot be inspected at all (a revoked Proxy): named, not a raw TypeError.
    const revoked = () => {
      const r = Proxy.revocable({}, {});
      r.revoke();
      return r.proxy as never;
    };
    for (const [op, f] of [
      ['createEncoder', () => createEncoder(revoked())],
      ['adam', () => adam(revoked())],
      ['createCosineClassifier', () => createCosineClassifier(revoked())],
    ] as const)
      expect(f, op).toThrow(expect.objectContaining({ name: 'CosineKitError', op, arg: 'options' }));
    await expect(train(revoked())).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      op: 'train',
      arg: 'options',
    });
    // A model or bytes that cannot be inspected: the typed error for a value of the wrong type
    // (bytes, checked as core checks a typed array: INVALID_ARGUMENT, reading it threw).
    const kit = createCosineKit({ backend: 'reference' });
    for (const [op, arg, f, code] of [
      ['saveEncoder', 'encoder', () => saveEncoder(revoked()), 'INVALID_TYPE'],
      ['loadEncoder', 'bytes', () => loadEncoder(revoked()), 'INVALID_ARGUMENT'],
      ['createCosineHead', 'encoder', () => createCosineHead(revoked(), kit), 'INVALID_TYPE'],
      ['arcFaceLoss', 'classifier', () => arcFaceLoss(revoked()), 'INVALID_TYPE'],
    ] as const)
      expect(f, op).toThrow(expect.objectContaining({ name: 'CosineKitError', code, op, arg }));
    const x = sparseX();
    await expect(
      train({
        kernels: createCosineKit({ backend: 'reference' }),
        encoder: createEncoder({ inputs: cols, layers: [{ units: 8 }], normalize: true }),
        loss: multipleNegativesRankingLoss(),
        sampler: inBatchSampler({ x, rows, cols, labels }, { batchSize: 8 }),
        optimizer: adam(),
        epochs: 1,
        callbacks: { onBatchEnds: () => undefined } as never,
      }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', op: 'train', arg: 'callbacks.onBatchEnds' });
  });
});

describe('no silent NaN from the normalisation helpers or a schedule past its end (found by a probe)', () => {
  it('normalizeRowsForward refuses a row holding NaN or Infinity (it came out as a zero row) and a wrong length', () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY])
      for (const x of [Float32Array.of(1, 2, 3, bad, 5, 6), Float64Array.of(1, 2, 3, bad, 5, 6)])
        expect(() => normalizeRowsForward(x, 2, 3)).toThrow(
          expect.objectContaining({
            code: 'NON_FINITE',
            op: 'normalizeRowsForward',
            arg: 'x',
            message: expect.stringMatching(/row 1 holds NaN or Infinity/),
          }),
        );
    // Large finite float64 rows are still scaled, not refused.
    const big = normalizeRowsForward(Float64Array.of(3e200, 4e200), 1, 2);
    expect(big.y[0]).toBeCloseTo(0.6, 12);
    expect(big.y[1]).toBeCloseTo(0.8, 12);
    expect(big.norms[0] / 5e200).toBeCloseTo(1, 12);
    for (const [rows, cols] of [
      [2, 2],
      [3, 3],
      [1, 7],
    ])
      expect(() => normalizeRowsForward(new Float32Array(6), rows, cols)).toThrow(
        expect.objectContaining({ code: 'SHAPE_MISMATCH', op: 'normalizeRowsForward', arg: 'x' }),
      );
    const fwd = normalizeRowsForward(Float32Array.of(1, 2, 3, 4, 5, 6), 2, 3);
    expect(() => normalizeRowsBackward(fwd, new Float32Array(4), 2, 3)).toThrow(
      expect.objectContaining({ code: 'SHAPE_MISMATCH', op: 'normalizeRowsBackward', arg: 'dy' }),
    );
    expect(() => normalizeRowsBackward(fwd, new Float32Array(9), 3, 3)).toThrow(
      expect.objectContaining({ code: 'SHAPE_MISMATCH', op: 'normalizeRowsBackward', arg: 'fwd' }),
    );
  });

  it('a schedule that gives NaN past its end: learningRate() and train name it (the history held NaN)', async () => {
    const data = {
      x: Float32Array.from({ length: 32 }, (_, i) => Math.sin(i)),
      rows: 8,
      cols: 4,
      labels: Int32Array.of(0, 0, 1, 1, 2, 2, 3, 3),
    };
    const kit = createCosineKit({ backend: 'reference' });
    // Two batches an epoch, two epochs: four steps, then the rate of step 4 is asked for.
    const ended = (step: number) => (step < 4 ? 0.01 : Number.NaN);
    for (const optimizer of [adam({ learningRate: ended }), sgd({ learningRate: ended })]) {
      const encoder = createEncoder({ inputs: 4, layers: [{ units: 3 }], seed: 1 });
      await expect(
        train({
          kernels: kit,
          encoder,
          loss: multipleNegativesRankingLoss(),
          sampler: inBatchSampler(data, { batchSize: 4 }),
          optimizer,
          epochs: 2,
        }),
      ).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        op: 'train',
        arg: 'learningRate',
        message: expect.stringMatching(/gave NaN at step 4/),
      });
      expect(() => optimizer.learningRate()).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT', arg: 'learningRate' }),
      );
    }
    // A custom optimiser whose learningRate() is not a number >= 0 is named.
    for (const [rate, code] of [
      [Number.NaN, 'NON_FINITE'],
      [-1, 'INVALID_ARGUMENT'],
      ['0.1', 'INVALID_TYPE'],
    ] as const) {
      const inner = sgd({ learningRate: 0.01 });
      await expect(
        train({
          kernels: kit,
          encoder: createEncoder({ inputs: 4, layers: [{ units: 3 }], seed: 1 }),
          loss: multipleNegativesRankingLoss(),
          sampler: inBatchSampler(data, { batchSize: 4 }),
          optimizer: {
            name: 'custom',
            get steps() {
              return inner.steps;
            },
            learningRate: () => rate as number,
            step: (p, g, k) => inner.step(p, g, k),
          },
          epochs: 1,
        }),
      ).rejects.toMatchObject({ code, op: 'train', arg: 'optimizer' });
    }
  });
});

describe("a layer's or encoder's own forward and backward check their rows (found by a probe)", () => {
  it('a gradient or input of another length is SHAPE_MISMATCH naming it (it answered NaN or zeros)', async () => {
    const enc = createEncoder({
      inputs: 16,
      inputShape: [4, 4, 1],
      layers: [
        { type: 'conv2d', filters: 2, kernel: 3 },
        { type: 'maxPool2d', size: 2 },
        { type: 'flatten' },
        { units: 3 },
      ],
      seed: 1,
    });
    const x = Float64Array.from({ length: 32 }, (_, i) => Math.sin(i));
    const cache = await enc.forward(float64Ops, x, 2);
    for (const n of [0, 5, 7]) {
      await expect(enc.backward(float64Ops, cache, new Float64Array(n))).rejects.toMatchObject({
        code: 'SHAPE_MISMATCH',
        op: 'Encoder.backward',
        arg: 'dOut',
      });
    }
    await expect(enc.forward(float64Ops, x, 1.5 as number)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      op: 'Encoder.forward',
      arg: 'rows',
    });
    let h: Float64Array | Float32Array = x;
    for (const [i, layer] of enc.layers.entries()) {
      const name = layer.constructor.name;
      for (const n of [h.length - 1, h.length + 2])
        await expect(layer.forward(float64Ops, new Float64Array(n), 2)).rejects.toMatchObject({
          code: 'SHAPE_MISMATCH',
          op: `${name}.forward`,
          arg: 'x',
        });
      for (const n of [layer.units * 2 - 1, layer.units * 2 + 1])
        await expect(
          layer.backward(float64Ops, cache.layers[i], new Float64Array(n), true),
        ).rejects.toMatchObject({
          code: 'SHAPE_MISMATCH',
          op: `${name}.backward`,
          arg: 'dOut',
        });
      await expect(
        layer.backward(float64Ops, {} as never, new Float64Array(layer.units * 2), true),
      ).rejects.toMatchObject({
        code: 'INVALID_TYPE',
        op: `${name}.backward`,
        arg: 'cache',
      });
      // The right lengths still answer, and finite.
      const g = await layer.backward(
        float64Ops,
        cache.layers[i],
        new Float64Array(layer.units * 2).fill(0.1),
        true,
      );
      expect(g.dx!.length).toBe(h.length);
      expect(g.dx!.every(Number.isFinite)).toBe(true);
      h = cache.layers[i].out;
    }
  });
});

describe('public plumbing refuses what it once answered with NaN, or named after another call (found by a probe)', () => {
  it('forward passes name a NaN input; float64Ops checks shapes and activations; Rng and constructors check their arguments', async () => {
    const enc = createEncoder({ inputs: 4, layers: [{ units: 2 }], seed: 1 });
    const bad = Float32Array.of(Number.NaN, 0, 0, 0);
    const ops = kernelOps(referenceKernels);
    await expect(enc.forward(ops, bad, 1)).rejects.toMatchObject({
      code: 'NON_FINITE',
      op: 'Encoder.forward',
      arg: 'x',
    });
    await expect(enc.layers[0].forward(ops, bad, 1)).rejects.toMatchObject({
      code: 'NON_FINITE',
      op: 'DenseLayer.forward',
      arg: 'x',
    });
    const enc64 = createEncoder({
      inputs: 4,
      layers: [{ units: 2 }],
      seed: 1,
      precision: 'float64',
      normalize: false,
    });
    await expect(
      enc64.forward(float64Ops, Float64Array.of(1, Number.POSITIVE_INFINITY, 0, 0), 1),
    ).rejects.toMatchObject({ code: 'NON_FINITE', op: 'Encoder.forward', arg: 'x' });
    const two = new Float64Array(4).fill(1);
    const refused: [string, string, string, () => unknown][] = [
      [
        'matmul',
        'b',
        'SHAPE_MISMATCH',
        () => float64Ops.matmul(two, 2, 2, new Float64Array(3), 2, 2, false, false),
      ],
      [
        'matmul',
        'b',
        'SHAPE_MISMATCH',
        () => float64Ops.matmul(two, 2, 2, new Float64Array(6), 3, 2, false, false),
      ],
      ['addBias', 'bias', 'SHAPE_MISMATCH', () => float64Ops.addBias(two, 2, 2, new Float64Array(1))],
      ['activation', 'kind', 'INVALID_ARGUMENT', () => float64Ops.activation('softplus' as never, two, 2, 2)],
      [
        'activationGrad',
        'dy',
        'SHAPE_MISMATCH',
        () => float64Ops.activationGrad('relu', two, new Float64Array(3), 2, 2),
      ],
      ['Rng.int', 'n', 'INVALID_ARGUMENT', () => createRng(1).int(Number.NaN)],
      ['Rng.int', 'n', 'INVALID_ARGUMENT', () => createRng(1).int(0)],
      ['Rng.int', 'n', 'INVALID_ARGUMENT', () => createRng(1).int(-5)],
      ['Rng.shuffle', 'items', 'INVALID_TYPE', () => createRng(1).shuffle(null as never)],
      ['Conv2dLayer', 'geometry', 'INVALID_TYPE', () => new (Conv2dLayer as unknown as new () => unknown)()],
      ['CosineClassifier', 'weights', 'INVALID_TYPE', () => new CosineClassifier(2, 2, null as never)],
    ];
    for (const [op, arg, code, call] of refused)
      expect(call, `${op} ${arg}`).toThrow(
        expect.objectContaining({ name: 'CosineKitError', code, op, arg }),
      );
    // A layer type named after an Object.prototype member is an unknown type, said as one.
    for (const type of ['constructor', 'toString', '__proto__'])
      expect(() => createEncoder({ inputs: 4, layers: [{ type: type as never, units: 2 }] }), type).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT', op: 'createEncoder', arg: 'layers' }),
      );
    // A kit that cannot lend its kernels (a worker kit's) is named as the call's source.
    const { CosineKitError } = await import('@cosinekit/core');
    const lender = {
      ready: async () => ({}),
      kernels: () =>
        Promise.reject(
          new CosineKitError('UNSUPPORTED', "'kernels' cannot be served here.", { op: 'kernels' }),
        ),
    };
    await expect(enc.embed(lender as never, [[1, 0, 0, 0]])).rejects.toMatchObject({
      code: 'UNSUPPORTED',
      op: 'embed',
      arg: 'source',
    });
  });
});

describe('ArcFace near its class vector (found by a probe: the float32 gradient was up to 96x too large)', () => {
  it('float32 gradients agree with float64 and with finite differences at θ from 1e-2 to 3e-5, and on the vector itself', async () => {
    const W = [0.6, 0.8, 0, 0, 0.6, 0.8, 1, 0, 0];
    const run = async (ops: DenseOps, a: number[], f64: boolean) => {
      const A = f64 ? Float64Array : Float32Array;
      const loss = arcFaceLoss(new CosineClassifier(3, 3, A.from(W)), { scale: 30, margin: 0.5 });
      return loss.compute(ops, { a: A.from(a), b: new A(0), rows: 1, cols: 3, labels: Int32Array.of(0) });
    };
    const f32 = kernelOps(referenceKernels);
    for (const t of [1e-2, 1e-3, 1e-4, 3e-5]) {
      const a = [0.6, 0.8, t];
      const want = await run(float64Ops, a, true);
      const got = await run(f32, a, false);
      const big = Math.max(...Array.from(want.gradA, Math.abs));
      for (let j = 0; j < 3; j++)
        expect(Math.abs(got.gradA[j]! - want.gradA[j]!), `θ ${t}, component ${j}`).toBeLessThanOrEqual(
          1e-4 * big + 1e-6,
        );
      // float64 against central differences of the loss.
      const h = t / 100;
      for (let j = 0; j < 3; j++) {
        const p = a.slice();
        const m = a.slice();
        p[j]! += h;
        m[j]! -= h;
        const fd = ((await run(float64Ops, p, true)).loss - (await run(float64Ops, m, true)).loss) / (2 * h);
        expect(Math.abs(fd - want.gradA[j]!), `θ ${t}, finite difference ${j}`).toBeLessThanOrEqual(
          1e-4 * big,
        );
      }
    }
    // On the class vector: finite, and the class vector's gradient too.
    for (const ops of [float64Ops, f32]) {
      const r = await run(ops, [0.6, 0.8, 0], ops === float64Ops);
      expect([...r.gradA, ...r.gradParams![0]!].every(Number.isFinite)).toBe(true);
    }
  });
});

describe('a model whose layers shrink a row below float32 embeds it as float64 does (a probe: zero or another direction, without a word)', () => {
  const kits = {
    reference: () => createCosineKit({ backend: 'reference' }),
    wasm: () => createCosineKit({ backend: createWasmBackend() }),
  };
  // Three dense layers, every weight scaled by `w`: the exact output of a row scaled by `s` is about
  // w^3 s, below float32's normal range (1.2e-38) at every pair here, and 0 in float32 at the last.
  const shrunk = (w: number) => {
    const e = createEncoder({
      inputs: 4,
      layers: [{ units: 4 }, { units: 4 }, { units: 3 }],
      normalize: true,
      seed: 7,
    });
    for (const p of e.parameters())
      p.forEach((v, i, a) => {
        a[i] = v * w;
      });
    return e;
  };
  const exact = async (e: Encoder, row: number[]) => {
    const y = (await e.clone('float64').forward(float64Ops, Float64Array.from(row), 1)).out;
    return Array.from(y);
  };
  for (const [name, make] of Object.entries(kits)) {
    it(`${name}: weights x1e-15 on a unit-scale row, x1e-8 on a row at 1e-30, x1e-12 on 2e-19, each a unit vector within 1e-6`, async () => {
      const kit = make();
      for (const [w, s] of [
        [1e-15, 1],
        [1e-8, 1e-30],
        [1e-12, 2e-19],
        [1e-3, 1],
      ] as const) {
        const e = shrunk(w);
        const row = [1, -2, 0.5, 3].map((v) => v * s);
        // Two ordinary rows around the faint one: only it is taken again, in its place.
        const got = await e.embed(kit, [[0, 0, 0, 0], row, row.map((v) => -v)], 2);
        const want = await exact(e, row);
        expect(Math.hypot(...want)).toBeCloseTo(1, 12);
        for (let j = 0; j < 3; j++) {
          expect(Math.abs(got.data[3 + j]! - want[j]!)).toBeLessThan(1e-6);
          expect(Math.abs(got.data[6 + j]! + want[j]!)).toBeLessThan(1e-6);
        }
        expect(Array.from(got.data.subarray(0, 3))).toEqual([0, 0, 0]);
      }
      await kit.dispose();
    });
  }

  it('a row a ReLU layer zeroes, and a zero row, stay zero: an ordinary model is not taken again (a review: both were)', async () => {
    const kit = kits.reference();
    const e = createEncoder({
      inputs: 2,
      layers: [{ units: 2, activation: 'relu', bias: false }, { units: 3 }],
      seed: 1,
    });
    e.parameters()[0]!.set([1, 1, 1, 1]);
    // The float64 pass starts with a float64 copy of the model: none is made.
    const clone = vi.spyOn(e, 'clone');
    const got = await e.embed(kit, [
      [-1, -2],
      [1, 2],
      [0, 0],
    ]);
    expect(clone).not.toHaveBeenCalled();
    expect(Array.from(got.data.subarray(0, 3))).toEqual([0, 0, 0]);
    expect(Array.from(got.data.subarray(6, 9))).toEqual([0, 0, 0]);
    const want = await exact(e, [1, 2]);
    for (let j = 0; j < 3; j++) expect(Math.abs(got.data[3 + j]! - want[j]!)).toBeLessThan(1e-6);
    await kit.dispose();
  });
});

describe('an allocation the process refuses is OUT_OF_MEMORY naming what to make smaller (a probe: a raw RangeError)', () => {
  // A 1 x 1 image padded by 1000 through 256 filters: 1,025,024,256 values per row, within the
  // 2^30 a layer may hold, with 256 weights. Five rows of it exceed the longest typed array (2^32),
  // so the refusal comes at once, with nothing large allocated.
  const wide = (pool: boolean) =>
    createEncoder({
      inputs: 1,
      inputShape: [1, 1, 1],
      layers: [
        { type: 'conv2d', filters: 256, kernel: 1, padding: 1000 },
        ...(pool ? [{ type: 'maxPool2d' as const, size: 2001 }] : []),
      ],
      seed: 1,
    });
  const five = [[1], [2], [3], [4], [5]];

  it("embed: the embeddings themselves name 'x', a batch's activations name 'batchSize'", async () => {
    const kit = createCosineKit({ backend: 'reference' });
    await expect(wide(false).embed(kit, five)).rejects.toMatchObject({
      code: 'OUT_OF_MEMORY',
      op: 'embed',
      arg: 'x',
      cause: expect.any(RangeError),
    });
    const e = wide(true);
    expect(e.outputs).toBe(256);
    await expect(e.embed(kit, five)).rejects.toMatchObject({
      code: 'OUT_OF_MEMORY',
      op: 'embed',
      arg: 'batchSize',
    });
    await kit.dispose();
  });

  it("train: a batch's activations name the sampler", async () => {
    const kit = createCosineKit({ backend: 'reference' });
    const x = Float32Array.from({ length: 10 }, (_, i) => i + 1);
    const run = train({
      kernels: kit,
      encoder: wide(true),
      loss: multipleNegativesRankingLoss(),
      sampler: inBatchSampler(
        { x, rows: 10, cols: 1, labels: [0, 1, 2, 3, 4, 0, 1, 2, 3, 4] },
        { batchSize: 5 },
      ),
      optimizer: sgd(),
      epochs: 1,
    });
    await expect(run).rejects.toMatchObject({ code: 'OUT_OF_MEMORY', op: 'train', arg: 'sampler' });
    await kit.dispose();
  });
});
