import { createCosineKit, isCosineKitError, Tensor } from '@cosinekit/core';
import { referenceKernels } from '@cosinekit/core/backend';
import { describe, expect, it } from 'vitest';
import {
  adam,
  arcFaceLoss,
  type CosineClassifier,
  classificationAccuracy,
  cosFaceLoss,
  createCosineClassifier,
  createEncoder,
  createRng,
  float64Ops,
  kernelOps,
  type LabelledData,
  type Loss,
  labelledSampler,
  normFaceLoss,
  train,
} from '../src/index.js';
import { maxRelativeError, randomVec } from './helpers.js';

const rows = 7;
const cols = 5;
const classes = 4;
const labels = [0, 3, 1, 1, 2, 0, 3];

function expectArgError(f: () => unknown, op: string, arg: string): void {
  try {
    f();
  } catch (e) {
    expect(isCosineKitError(e)).toBe(true);
    expect((e as Error).message).toContain(`'${arg}'`);
    expect((e as Error).message).toContain(`'${op}'`);
    return;
  }
  throw new Error(`${op} accepted bad '${arg}'`);
}

describe('cosine classifier losses: gradients against float64 finite differences', () => {
  const makers: [string, (c: ReturnType<typeof createCosineClassifier>) => Loss][] = [
    ['normface scale 20', (c) => normFaceLoss(c)],
    ['normface scale 3', (c) => normFaceLoss(c, { scale: 3 })],
    ['cosface 0.35, scale 10', (c) => cosFaceLoss(c, { scale: 10 })],
    ['arcface 0.5, scale 8', (c) => arcFaceLoss(c, { scale: 8 })],
    ['arcface 1.2 (the linear tail), scale 4', (c) => arcFaceLoss(c, { scale: 4, margin: 1.2 })],
  ];
  for (const [name, make] of makers) {
    it(name, async () => {
      const clf = createCosineClassifier({ classes, dim: cols, seed: 3, precision: 'float64' });
      const loss = make(clf);
      const a = randomVec(rows * cols, 31);
      const run = () => loss.compute(float64Ops, { a, b: new Float64Array(0), rows, cols, labels });
      const r = await run();
      expect(r.gradParams).toHaveLength(1);
      const value = async () => (await run()).loss;
      expect(await maxRelativeError(value, a, r.gradA)).toBeLessThan(1e-3);
      expect(await maxRelativeError(value, clf.weights as Float64Array, r.gradParams![0])).toBeLessThan(1e-3);
    });
  }

  for (const [name, head] of [
    ['arcface', (c: CosineClassifier) => arcFaceLoss(c, { scale: 8 })],
    ['cosface', (c: CosineClassifier) => cosFaceLoss(c, { scale: 8 })],
    ['normface', (c: CosineClassifier) => normFaceLoss(c, { scale: 8 })],
  ] as const)
    it(`the float32 backend path (its softmax kernel) matches the float64 path (${name})`, async () => {
      const clf = createCosineClassifier({ classes, dim: cols, seed: 4, precision: 'float64' });
      const a = randomVec(rows * cols, 5);
      const r64 = await head(clf).compute(float64Ops, { a, b: a, rows, cols, labels });
      const clf32 = clf.clone('float32');
      const r32 = await head(clf32).compute(kernelOps(referenceKernels), {
        a: Float32Array.from(a),
        b: new Float32Array(0),
        rows,
        cols,
        labels,
      });
      expect(r32.gradA).toBeInstanceOf(Float32Array);
      expect(r32.loss).toBeCloseTo(r64.loss, 4);
      for (const [g32, g64] of [
        [r32.gradA, r64.gradA],
        [r32.gradParams![0], r64.gradParams![0]],
      ]) {
        for (let i = 0; i < g64.length; i++) expect(Math.abs(g32[i] - g64[i])).toBeLessThan(2e-5);
      }
    });
});

describe('cosine classifier losses: values', () => {
  // Class vectors e0, e1; the row lies on e0, so cos = [1, 0].
  const clf = () => createCosineClassifier({ classes: 2, dim: 2, precision: 'float64' });
  const at = (c: ReturnType<typeof clf>) => {
    c.weights.set([2, 0, 0, 3]);
    return { a: new Float64Array([5, 0]), b: new Float64Array(0), rows: 1, cols: 2, labels: [0] };
  };
  it('normface: softmax cross-entropy of s cos', async () => {
    const c = clf();
    const r = await normFaceLoss(c, { scale: 4 }).compute(float64Ops, at(c));
    expect(r.loss).toBeCloseTo(Math.log(1 + Math.exp(-4)), 12);
  });
  it('normface at huge scales: a row tied between classes loses ln(ties), on the float64 path too', async () => {
    // The float64 sum added ln(ties) to a max of about the scale first: at 1e16 it was rounded
    // away (0.75, then 0 at 1e30, for ln 2); the float32 kernel path was right (found by a probe).
    const ops32 = kernelOps(referenceKernels);
    for (const scale of [20, 1e15, 1e16, 1e30, 3e38]) {
      // [1, 1, 0]: cosines 1/√2, 1/√2 and 0, so ln(2 + e^(-scale/√2)); [-1, -1, -1]: three alike.
      for (const [row, want] of [
        [[1, 1, 0], Math.log(2 + Math.exp(-scale / Math.SQRT2))],
        [[-1, -1, -1], Math.log(3)],
      ] as const) {
        const make = (precision: 'float32' | 'float64') => {
          const c = createCosineClassifier({ classes: 3, dim: 3, precision });
          c.weights.set([1, 0, 0, 0, 1, 0, 0, 0, 1]);
          return c;
        };
        const input = { b: new Float64Array(0), rows: 1, cols: 3, labels: [0] };
        const r64 = await normFaceLoss(make('float64'), { scale }).compute(float64Ops, {
          ...input,
          a: Float64Array.from(row),
        });
        const r32 = await normFaceLoss(make('float32'), { scale }).compute(ops32, {
          ...input,
          a: Float32Array.from(row),
          b: new Float32Array(0),
        });
        expect(r64.loss, `scale ${scale}`).toBeCloseTo(want, 12);
        expect(r32.loss, `scale ${scale}`).toBeCloseTo(want, 5);
      }
    }
  });
  it('cosface: s (cos - m) for the true class', async () => {
    const c = clf();
    const r = await cosFaceLoss(c, { scale: 4, margin: 0.3 }).compute(float64Ops, at(c));
    expect(r.loss).toBeCloseTo(Math.log(1 + Math.exp(-4 * 0.7)), 12);
  });
  it('arcface: s cos(θ + m) for the true class', async () => {
    const c = clf();
    const r = await arcFaceLoss(c, { scale: 4, margin: 0.3 }).compute(float64Ops, at(c));
    expect(r.loss).toBeCloseTo(Math.log(1 + Math.exp(-4 * Math.cos(0.3))), 10);
  });
});

describe('bad input', () => {
  const c = createCosineClassifier({ classes: 3, dim: 2 });
  it('margins that make the loss degenerate, and bad scales', () => {
    expectArgError(() => cosFaceLoss(c, { margin: 2 }), 'cosFaceLoss', 'margin');
    expectArgError(() => cosFaceLoss(c, { margin: -0.1 }), 'cosFaceLoss', 'margin');
    expectArgError(() => arcFaceLoss(c, { margin: Math.PI / 2 }), 'arcFaceLoss', 'margin');
    expectArgError(() => arcFaceLoss(c, { margin: Number.NaN }), 'arcFaceLoss', 'margin');
    expectArgError(() => normFaceLoss(c, { scale: 0 }), 'normFaceLoss', 'scale');
    expectArgError(() => normFaceLoss(c, { scale: 1e39 }), 'normFaceLoss', 'scale');
  });
  it('class labels out of range or not integers', async () => {
    const loss = normFaceLoss(c);
    const input = { a: new Float32Array(4), b: new Float32Array(0), rows: 2, cols: 2 };
    const ops = kernelOps(referenceKernels);
    for (const bad of [
      [0, 3],
      [-1, 0],
      [0.5, 1],
    ]) {
      await expect(async () => loss.compute(ops, { ...input, labels: bad })).rejects.toThrow(
        /'labels'.*'normFaceLoss'/,
      );
    }
    await expect(async () => loss.compute(ops, input)).rejects.toThrow(/labels/);
  });
  it('shapes', () => {
    expectArgError(() => createCosineClassifier({ classes: 1, dim: 2 }), 'CosineClassifier', 'classes');
    expectArgError(() => classificationAccuracy([1], [1, 2]), 'classificationAccuracy', 'labels');
  });
});

function clusters(n: number, seed: number): LabelledData {
  const dim = 10;
  const centres = createRng(1);
  const c = Array.from({ length: 3 }, () => Array.from({ length: dim }, () => centres.normal()));
  const rng = createRng(seed);
  const x = new Float32Array(n * dim);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 3;
    for (let j = 0; j < dim; j++) x[i * dim + j] = 3 + c[i % 3][j] + 0.5 * rng.normal();
  }
  return { x, rows: n, cols: dim, labels };
}

describe('training the encoder and the class vectors together', () => {
  it('learns held-out classes, deterministically for a seed', async () => {
    const kit = createCosineKit({ backend: 'reference' });
    const data = clusters(120, 2);
    const held = clusters(60, 3);
    const run = async () => {
      const encoder = createEncoder({
        inputs: 10,
        layers: [{ units: 16, activation: 'relu' }, { units: 6 }],
        seed: 5,
      });
      const clf = createCosineClassifier({ classes: 3, dim: 6, seed: 6 });
      const before = await clf.accuracy(kit, encoder, new Tensor(held.x, held.rows, held.cols), held.labels);
      const r = await train({
        kernels: kit,
        encoder,
        loss: cosFaceLoss(clf, { scale: 10, margin: 0.2 }),
        sampler: labelledSampler(data, { batchSize: 32, dropLast: true }),
        optimizer: adam({ learningRate: 0.01 }),
        epochs: 12,
        seed: 9,
      });
      const after = await clf.accuracy(kit, encoder, new Tensor(held.x, held.rows, held.cols), held.labels);
      return { before, after, losses: r.history.map((h) => h.loss), w: Array.from(clf.weights) };
    };
    const a = await run();
    const b = await run();
    expect(a.losses).toEqual(b.losses);
    expect(a.w).toEqual(b.w);
    expect(a.losses[a.losses.length - 1]).toBeLessThan(a.losses[0]);
    expect(a.after).toBeGreaterThan(0.9);
    expect(a.after).toBeGreaterThan(a.before);
    kit.dispose();
  });

  it('a scale at which the scaled cosines overflow fails in train naming the loss and its scale', async () => {
    const kit = createCosineKit({ backend: 'reference' });
    // Four classes, each near its own axis: a fresh encoder leaves some rows' own class far below
    // their best one, and 3e38 times that gap is past float32.
    const rng = createRng(7);
    const x = new Float32Array(40 * 6);
    const labels = Int32Array.from({ length: 40 }, (_, i) => i % 4);
    for (let i = 0; i < x.length; i++)
      x[i] = (i % 6 === labels[Math.floor(i / 6)] ? 2 : 0) + rng.next() - 0.5;
    const data = { x, rows: 40, cols: 6, labels };
    for (const [name, make] of [
      ['cosFaceLoss', cosFaceLoss],
      ['arcFaceLoss', arcFaceLoss],
    ] as const) {
      const clf = createCosineClassifier({ classes: 4, dim: 4, seed: 1 });
      const e = await train({
        kernels: kit,
        encoder: createEncoder({
          inputs: 6,
          layers: [{ units: 8, activation: 'relu' }, { units: 4 }],
          normalize: true,
          seed: 1,
        }),
        loss: make(clf, { scale: 3e38 }),
        sampler: labelledSampler(data, { batchSize: 8 }),
        optimizer: adam(),
        epochs: 1,
      }).catch((x: unknown) => x);
      expect(e, name).toMatchObject({ code: 'NON_FINITE', op: name, arg: 'scale' });
      expect((e as Error).message).toMatch(/3e\+38 makes the loss overflow/);
    }
    kit.dispose();
  });

  it('early stopping puts back the class vectors of the best epoch with the encoder', async () => {
    const data = clusters(120, 2);
    const encoder = createEncoder({ inputs: 10, layers: [{ units: 6 }], seed: 5 });
    const clf = createCosineClassifier({ classes: 3, dim: 6, seed: 6 });
    const metrics = [0.5, 0.8, 0.6, 0.7];
    let calls = 0;
    let best: { w: Float32Array; enc: Float32Array } | undefined;
    let last: Float32Array | undefined;
    const r = await train({
      kernels: referenceKernels,
      encoder,
      loss: cosFaceLoss(clf, { scale: 10, margin: 0.2 }),
      sampler: labelledSampler(data, { batchSize: 32, dropLast: true }),
      optimizer: adam({ learningRate: 0.05 }),
      epochs: 4,
      validate: (e) => {
        if (calls === 1)
          best = { w: Float32Array.from(clf.weights), enc: Float32Array.from(e.parameters()[0]) };
        last = Float32Array.from(clf.weights);
        return metrics[calls++];
      },
      earlyStopping: { patience: 2 },
    });
    expect(r.bestEpoch).toBe(1);
    expect(r.history).toHaveLength(4);
    // The class vectors moved after the best epoch, and were put back.
    expect(last).not.toEqual(best!.w);
    expect(clf.weights).toEqual(best!.w);
    expect(encoder.parameters()[0]).toEqual(best!.enc);
  });
});

describe('CosineClassifier.accuracy', () => {
  it('names x when its rows are of the wrong width, before counting labels against them', async () => {
    const kit = createCosineKit({ backend: 'reference' });
    const encoder = createEncoder({ inputs: 8, layers: [{ units: 4 }], seed: 1 });
    const clf = createCosineClassifier({ classes: 3, dim: 4, seed: 2 });
    // Eight rows of 8 passed flat: one row of 64 ("labels must hold 1 labels" named the wrong argument).
    const flat = new Float32Array(64).map((_, i) => Math.sin(i));
    const labels = [0, 1, 2, 0, 1, 2, 0, 1];
    await expect(clf.accuracy(kit, encoder, flat, labels)).rejects.toMatchObject({
      code: 'DIMENSION_MISMATCH',
      op: 'CosineClassifier.accuracy',
      arg: 'x',
    });
    const right = await clf.accuracy(kit, encoder, new Tensor(flat, 8, 8), labels);
    expect(right).toBeGreaterThanOrEqual(0);
    expect(right).toBeLessThanOrEqual(1);
    await expect(clf.accuracy(kit, encoder, new Tensor(flat, 8, 8), labels.slice(1))).rejects.toMatchObject({
      code: 'SHAPE_MISMATCH',
      arg: 'labels',
    });
  });
});
