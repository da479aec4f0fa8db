import { createCosineKit, Tensor } from '@cosinekit/core';
import type { Activation } from '@cosinekit/core/backend';
import { referenceKernels } from '@cosinekit/core/backend';
import { describe, expect, it } from 'vitest';
import {
  contrastiveLoss,
  createCosineHead,
  createEncoder,
  DenseLayer,
  type DenseOps,
  type Encoder,
  float64Ops,
  kernelOps,
  type Loss,
  multipleNegativesRankingLoss,
  type Vec,
} from '../src/index.js';
import { columnSums } from '../src/layers.js';
import { maxRelativeError, randomVec } from './helpers.js';

const inputs = 7;
const rows = 5;

/** Loss of the encoder on stacked inputs (first half a, second half b), and its gradients. */
async function lossAndGrads(ops: DenseOps, enc: Encoder, loss: Loss, x: Vec, targets: number[]) {
  const cache = await enc.forward(ops, x, 2 * rows);
  const d = enc.outputs;
  const r = await loss.compute(ops, {
    a: cache.out.subarray(0, rows * d),
    b: cache.out.subarray(rows * d),
    rows,
    cols: d,
    targets,
    // As train passes it: a normalising encoder's rows are unit rows, not normalised again.
    normalized: enc.normalize,
  });
  const dOut = ops.alloc(2 * rows * d);
  dOut.set(r.gradA);
  dOut.set(r.gradB, rows * d);
  const grads = await enc.backward(ops, cache, dOut, true);
  return { loss: r.loss, grads };
}

const targets = [1, -1, 1, -1, 1];

/**
 * Biases start at zero; give them random values so the checks cover them, and so no embedding row
 * is exactly zero (the cosine is discontinuous there: it is defined as 0).
 */
function randomizeBiases(enc: Encoder, seed: number): Encoder {
  enc.layers.forEach((l, i) => {
    l.bias.set(randomVec(l.bias.length, seed + i).map((v) => 0.3 * v));
  });
  return enc;
}

describe('encoder gradients (float64 finite differences, relative error < 1e-3)', () => {
  const cases: [Activation, boolean][] = [
    ['relu', false],
    ['tanh', true],
    ['gelu', false],
    ['gelu', true],
    ['sigmoid', false],
    ['linear', true],
  ];
  for (const [activation, normalize] of cases) {
    it(`${activation} hidden layers, normalize=${normalize}`, async () => {
      const enc = createEncoder({
        inputs,
        layers: [{ units: 6, activation }, { units: 5, activation: 'tanh', bias: false }, { units: 4 }],
        normalize,
        seed: 3,
        precision: 'float64',
      });
      randomizeBiases(enc, 31);
      const x = randomVec(2 * rows * inputs, 17) as Float64Array;
      const loss = contrastiveLoss({ margin: 1.5 });
      const { grads } = await lossAndGrads(float64Ops, enc, loss, x, targets);
      const value = async () => (await lossAndGrads(float64Ops, enc, loss, x, targets)).loss;
      const params = enc.parameters();
      expect(params).toHaveLength(5);
      for (let k = 0; k < params.length; k++) {
        expect(await maxRelativeError(value, params[k] as Float64Array, grads.params[k])).toBeLessThan(1e-3);
      }
      expect(await maxRelativeError(value, x, grads.input!)).toBeLessThan(1e-3);
    });
  }

  for (const normalize of [false, true])
    it(`through the in-batch loss, normalize=${normalize}`, async () => {
      const enc = createEncoder({
        inputs,
        layers: [{ units: 8, activation: 'relu' }, { units: 3 }],
        normalize,
        seed: 5,
        precision: 'float64',
      });
      randomizeBiases(enc, 37);
      const x = randomVec(2 * rows * inputs, 19) as Float64Array;
      const loss = multipleNegativesRankingLoss();
      const { grads } = await lossAndGrads(float64Ops, enc, loss, x, targets);
      const value = async () => (await lossAndGrads(float64Ops, enc, loss, x, targets)).loss;
      const params = enc.parameters();
      for (let k = 0; k < params.length; k++) {
        expect(await maxRelativeError(value, params[k] as Float64Array, grads.params[k])).toBeLessThan(1e-3);
      }
    });
});

describe('the backend path matches the float64 path', () => {
  it('reference kernels in float32 agree with float64 to float32 tolerance', async () => {
    const enc64 = createEncoder({
      inputs,
      layers: [{ units: 16, activation: 'gelu' }, { units: 6 }],
      normalize: true,
      seed: 9,
      precision: 'float64',
    });
    randomizeBiases(enc64, 41);
    const enc32 = enc64.clone('float32');
    const x = randomVec(2 * rows * inputs, 23);
    const loss = multipleNegativesRankingLoss();
    const r64 = await lossAndGrads(float64Ops, enc64, loss, x, targets);
    const r32 = await lossAndGrads(kernelOps(referenceKernels), enc32, loss, Float32Array.from(x), targets);
    expect(r32.loss).toBeCloseTo(r64.loss, 4);
    for (let k = 0; k < r64.grads.params.length; k++) {
      const g64 = r64.grads.params[k];
      const g32 = r32.grads.params[k];
      expect(g32).toBeInstanceOf(Float32Array);
      const scale = Math.max(...Array.from(g64, Math.abs));
      for (let i = 0; i < g64.length; i++)
        expect(Math.abs(g32[i] - g64[i])).toBeLessThan(1e-4 * scale + 1e-6);
    }
  });
});

describe('encoder', () => {
  it('is seeded: equal seeds give equal weights, other seeds other weights', () => {
    const make = (seed: number) =>
      createEncoder({ inputs: 4, layers: [{ units: 3, activation: 'relu' }], seed });
    expect(make(1).parameters()[0]).toEqual(make(1).parameters()[0]);
    expect(make(1).parameters()[0]).not.toEqual(make(2).parameters()[0]);
  });

  it('uses He init for relu and Xavier bounds for tanh', () => {
    const he = createEncoder({ inputs: 400, layers: [{ units: 100, activation: 'relu' }], seed: 2 });
    const w = he.parameters()[0];
    const std = Math.sqrt(Array.from(w).reduce((s, v) => s + v * v, 0) / w.length);
    expect(std).toBeGreaterThan(0.95 * Math.sqrt(2 / 400));
    expect(std).toBeLessThan(1.05 * Math.sqrt(2 / 400));
    const xa = createEncoder({ inputs: 40, layers: [{ units: 10, activation: 'tanh' }], seed: 2 });
    const lim = Math.sqrt(6 / 50);
    expect(Math.max(...Array.from(xa.parameters()[0], Math.abs))).toBeLessThanOrEqual(lim);
  });

  it('supports an identity-initialised linear layer without bias (the adapter)', async () => {
    const enc = createEncoder({ inputs: 3, layers: [{ units: 3, bias: false, init: 'identity' }] });
    expect(enc.parameters()).toHaveLength(1);
    const e = await enc.embed(referenceKernels, [[1, 2, 3]]);
    expect(Array.from(e.data)).toEqual([1, 2, 3]);
  });

  it('embeds in batches on a kit, normalising when asked', async () => {
    const kit = createCosineKit({ backend: 'reference' });
    const enc = createEncoder({
      inputs: 4,
      layers: [{ units: 5, activation: 'tanh' }, { units: 3 }],
      normalize: true,
    });
    const x = Float32Array.from(randomVec(10 * 4, 4));
    const whole = await enc.embed(kit, new Tensor(x, 10, 4));
    const parts = await enc.embed(kit, new Tensor(x, 10, 4), 3);
    expect(parts.data).toEqual(whole.data);
    for (let i = 0; i < 10; i++) {
      const r = whole.row(i);
      expect(Math.hypot(...r)).toBeCloseTo(1, 5);
    }
  });

  it('rejects inputs of the wrong width with a named error', async () => {
    const enc = createEncoder({ inputs: 4, layers: [{ units: 2 }] });
    await expect(enc.embed(referenceKernels, [[1, 2, 3]])).rejects.toThrow(/columns but the encoder takes 4/);
    expect(() => createEncoder({ inputs: 3, layers: [{ units: 2, init: 'identity' }] })).toThrow(/square/);
  });
});

describe('cosine head', () => {
  it('scores pairs and batches by the cosine of the embeddings', async () => {
    const kit = createCosineKit({ backend: 'reference' });
    const enc = createEncoder({
      inputs: 4,
      layers: [{ units: 6, activation: 'relu' }, { units: 3 }],
      seed: 4,
    });
    const head = createCosineHead(enc, kit);
    const x1 = [
      [1, 0, 2, 1],
      [0, 1, -1, 3],
    ];
    const x2 = [
      [2, 1, 0, 0],
      [1, 1, 1, 1],
    ];
    const pairs = await head.pairs(x1, x2);
    const m = await head.matrix(x1, x2);
    expect(m.shape).toEqual([2, 2]);
    expect(pairs[0]).toBeCloseTo(m.data[0], 6);
    expect(pairs[1]).toBeCloseTo(m.data[3], 6);
    const e1 = await enc.embed(kit, x1);
    const e2 = await enc.embed(kit, x2);
    expect(pairs[1]).toBeCloseTo(await kit.cosineRows(e1.row(1), e2.row(1)).then((r) => r[0]), 6);
  });
});

describe('columnSums (the bias gradient)', () => {
  it('adds each column down the rows in order from +0, float32 rounding after every add, on awkward shapes', () => {
    for (const [rows, cols] of [
      [0, 3],
      [1, 1],
      [7, 1],
      [1, 5],
      [3, 4],
      [5, 7],
      [9, 17],
      [128, 256],
    ]) {
      // Values over many decades, so the order and the rounding of every add show in the bits.
      const m = Float32Array.from(randomVec(rows * cols, rows + cols), (v, i) => v * 10 ** ((i % 9) - 4));
      const want = new Float32Array(cols);
      for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) want[j] += m[i * cols + j];
      const got = columnSums(m, rows, cols);
      expect(got).toBeInstanceOf(Float32Array);
      expect(new Uint32Array(got.buffer), `${rows} x ${cols}`).toEqual(new Uint32Array(want.buffer));
      // Float64: plain float64 adds, in the same order.
      const m64 = Float64Array.from(m);
      const want64 = new Float64Array(cols);
      for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) want64[j] += m64[i * cols + j];
      const got64 = columnSums(m64, rows, cols);
      expect(got64).toBeInstanceOf(Float64Array);
      expect(got64).toEqual(want64);
    }
  });
});

describe('a layer spec with a key its type does not take', () => {
  it('is refused by name (a misspelt activation built a linear layer in silence)', () => {
    for (const [layers, key] of [
      [[{ units: 3, activaton: 'relu' }], 'layers[0].activaton'],
      [[{ type: 'maxPool2d', size: 2, activation: 'relu' }], 'layers[0].activation'],
      [[{ type: 'flatten', units: 10 }], 'layers[0].units'],
      [[{ units: 4, stride: 2 }], 'layers[0].stride'],
    ] as const)
      expect(() => createEncoder({ inputs: 16, inputShape: [4, 4, 1], layers: layers as never })).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT', op: 'createEncoder', arg: key }),
      );
    expect(
      createEncoder({
        inputs: 16,
        layers: [{ type: 'dense', units: 3, activation: 'relu', bias: false, init: 'he' }],
      }).outputs,
    ).toBe(3);
  });
});

describe('Encoder.forward and backward given what is not theirs', () => {
  it('name the argument (a null ops, x, cache or dOut threw a raw TypeError)', async () => {
    const e = createEncoder({ inputs: 2, layers: [{ units: 2 }] });
    await expect(e.forward(null as never, new Float32Array(2), 1)).rejects.toMatchObject({
      code: 'INVALID_TYPE',
      arg: 'ops',
    });
    const ops = float64Ops;
    await expect(e.forward(ops, null as never, 1)).rejects.toMatchObject({ code: 'INVALID_TYPE', arg: 'x' });
    await expect(e.backward(ops, null as never, new Float64Array(2))).rejects.toMatchObject({
      code: 'INVALID_TYPE',
      arg: 'cache',
    });
    const cache = await e.forward(ops, new Float64Array(2), 1);
    await expect(e.backward(ops, cache, null as never)).rejects.toMatchObject({
      code: 'INVALID_TYPE',
      arg: 'dOut',
    });
  });

  it('refuse float64 rows on float32 ops, as embed and train do (they were rounded without a word); float64Ops take them', async () => {
    const e = createEncoder({ inputs: 2, layers: [{ units: 2 }] });
    const x = Float64Array.of(0.1, 0.2);
    await expect(e.forward(kernelOps(referenceKernels), x, 1)).rejects.toMatchObject({
      code: 'INVALID_TYPE',
      op: 'Encoder.forward',
      arg: 'x',
    });
    expect((await e.forward(kernelOps(referenceKernels), Float32Array.from(x), 1)).out.length).toBe(2);
    expect((await e.forward(float64Ops, x, 1)).out).toBeInstanceOf(Float64Array);
  });

  it("refuse another encoder's cache, or a copy of one (it ran backward through the other's layers: gradients 1.28 off)", async () => {
    const a = createEncoder({ inputs: 2, layers: [{ units: 2 }], normalize: true, seed: 1 });
    const b = createEncoder({ inputs: 2, layers: [{ units: 2 }], normalize: false, seed: 2 });
    const x = Float64Array.of(0.5, -1, 2, 0.25);
    const theirs = await a.forward(float64Ops, x, 2);
    const dOut = Float64Array.of(1, 0, 0, 1);
    for (const cache of [theirs, { ...theirs }])
      await expect(b.backward(float64Ops, cache, dOut)).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        op: 'Encoder.backward',
        arg: 'cache',
      });
    // Its own cache still runs, and a's own does on a.
    const own = await b.forward(float64Ops, x, 2);
    expect((await b.backward(float64Ops, own, dOut)).params.length).toBe(2);
    expect((await a.backward(float64Ops, theirs, dOut)).params.length).toBe(2);
  });
});

describe('a DenseLayer made by hand', () => {
  it('refuses sizes that are not positive integers and parameters that are not float arrays, by name', () => {
    const w = new Float32Array(4);
    for (const [make, arg] of [
      [() => new DenseLayer(-2, -2, 'linear', w, new Float32Array(0)), 'inputs'],
      [() => new DenseLayer(2, 1.5, 'linear', w, new Float32Array(0)), 'units'],
      [() => new DenseLayer(2, 2, 'linear', [0, 0, 0, 0] as never, new Float32Array(0)), 'weights'],
      [() => new DenseLayer(2, 2, 'linear', w, null as never), 'bias'],
    ] as const)
      expect(make, arg).toThrow(expect.objectContaining({ op: 'DenseLayer', arg }));
    expect(new DenseLayer(2, 2, 'relu', w, new Float32Array(2)).units).toBe(2);
  });
});

describe('a 1-wide normalised embedding', () => {
  it('is refused by createEncoder (every cosine would be +-1 and training would change nothing); 1-wide without normalize is fine', () => {
    expect(() =>
      createEncoder({ inputs: 4, layers: [{ units: 8, activation: 'relu' }, { units: 1 }], normalize: true }),
    ).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', op: 'createEncoder', arg: 'normalize' }));
    expect(createEncoder({ inputs: 4, layers: [{ units: 1 }] }).outputs).toBe(1);
  });
});

describe("the ops' alloc", () => {
  it('refuses a size that is no count, and one past memory, by name (a raw RangeError, or an array of another length)', () => {
    for (const ops of [
      float64Ops,
      kernelOps(referenceKernels),
      kernelOps(referenceKernels, { reuse: true }),
    ]) {
      for (const n of [-1, 1.5, Number.NaN])
        expect(() => ops.alloc(n), `${ops.precision} ${n}`).toThrow(
          expect.objectContaining({ code: 'INVALID_ARGUMENT', op: 'alloc', arg: 'n' }),
        );
      expect(() => ops.alloc(2 ** 40), `${ops.precision}`).toThrow(
        expect.objectContaining({ code: 'OUT_OF_MEMORY', op: 'alloc', arg: 'n' }),
      );
      expect(Array.from(ops.alloc(3))).toEqual([0, 0, 0]);
    }
  });
});

describe('embed past memory', () => {
  it("names batchSize when a batch's activations cannot be allocated through the ops' alloc (it said 'n' of 'embed')", async () => {
    // One 32 x 32 filter over a 256 x 256 image: 225 x 225 windows of 1024 values a row, so 170
    // rows need 8.8e9 values, past any typed array: refused without using the memory.
    const enc = createEncoder({
      inputs: 256 * 256,
      inputShape: [256, 256, 1],
      layers: [{ type: 'conv2d', filters: 1, kernel: 32, stride: 1 }],
      seed: 1,
    });
    const rows = 170;
    const x = new Float32Array(rows * enc.inputs).fill(1);
    const kit = createCosineKit({ backend: 'reference' });
    await expect(enc.embed(kit, new Tensor(x, rows, enc.inputs), rows)).rejects.toMatchObject({
      code: 'OUT_OF_MEMORY',
      op: 'embed',
      arg: 'batchSize',
    });
  });
});
