import type { Backend } from '@cosinekit/core';
import { createCosineKit, isCosineKitError } from '@cosinekit/core';
import { referenceKernels } from '@cosinekit/core/backend';
import { describe, expect, it } from 'vitest';
import {
  Conv2dLayer,
  createEncoder,
  type DenseOps,
  type Encoder,
  type EncoderOptions,
  float64Ops,
  kernelOps,
  loadEncoder,
  Pool2dLayer,
  readEncoderHeader,
  saveEncoder,
} from '../src/index.js';
import { maxRelativeError, randomVec } from './helpers.js';

const specifier = '@cosinekit/backend-wasm';
const wasm = await import(specifier)
  .then((m: { createWasmBackend?: () => Backend }) => m.createWasmBackend?.())
  .catch(() => undefined);

/** A loss with no symmetry: a fixed random projection of the embeddings. */
function projection(enc: Encoder, rows: number, seed: number) {
  const r = randomVec(rows * enc.outputs, seed);
  return async (ops: DenseOps, x: Float64Array | Float32Array) => {
    const c = await enc.forward(ops, x, rows);
    let v = 0;
    for (let i = 0; i < r.length; i++) v += r[i] * c.out[i];
    const dOut = ops.alloc(r.length);
    dOut.set(r);
    return { value: v, cache: c, dOut };
  };
}

async function gradCheck(options: EncoderOptions, rows: number, seed: number) {
  const enc = createEncoder({ ...options, precision: 'float64', seed });
  for (const l of enc.layers)
    if (l.hasBias) l.bias.set(randomVec(l.bias.length, seed + 5).map((v) => 0.1 * v));
  const x = randomVec(rows * enc.inputs, seed + 1);
  const f = projection(enc, rows, seed + 2);
  const r = await f(float64Ops, x);
  const g = await enc.backward(float64Ops, r.cache, r.dOut, true);
  const value = async () => (await f(float64Ops, x)).value;
  const params = enc.parameters();
  expect(params.length).toBe(g.params.length);
  for (const [i, p] of params.entries()) {
    expect(await maxRelativeError(value, p as Float64Array, g.params[i])).toBeLessThan(1e-4);
  }
  expect(await maxRelativeError(value, x, g.input!)).toBeLessThan(1e-4);
  return { enc, x, f, r, g };
}

const cnn: EncoderOptions = {
  inputs: 7 * 6 * 2,
  inputShape: [7, 6, 2],
  layers: [
    { type: 'conv2d', filters: 3, kernel: 3, padding: 1, activation: 'tanh' },
    { type: 'maxPool2d', size: 2 },
    { type: 'conv2d', filters: 4, kernel: [2, 1], stride: 2, activation: 'gelu', bias: false },
    { type: 'flatten' },
    { units: 5, activation: 'relu' },
    { units: 3 },
  ],
  normalize: true,
};

describe('convolution, pooling and flatten: gradients against float64 finite differences', () => {
  it('conv (padding 1, multi-channel) -> max pool -> conv (stride 2, non-square, no bias) -> flatten -> dense', async () => {
    const { enc } = await gradCheck(cnn, 3, 11);
    expect(enc.layers.map((l) => l.outputShape)).toEqual([
      [7, 6, 3],
      [3, 3, 3],
      [1, 2, 4],
      [1, 1, 8],
      [1, 1, 5],
      [1, 1, 3],
    ]);
  });
  it('average pooling with overlapping windows, stride 1 conv, odd shapes', async () => {
    await gradCheck(
      {
        inputs: 5 * 5,
        inputShape: [5, 5, 1],
        layers: [
          { type: 'conv2d', filters: 2, kernel: 2, activation: 'sigmoid', init: 'lecun' },
          { type: 'avgPool2d', size: 3, stride: 1 },
          { units: 2 },
        ],
      },
      2,
      21,
    );
  });
  it('a 1x1 input with a 1x1 kernel is a dense layer', async () => {
    await gradCheck(
      { inputs: 4, inputShape: [1, 1, 4], layers: [{ type: 'conv2d', filters: 3, kernel: 1 }] },
      1,
      31,
    );
  });
  it('conv forward equals a direct convolution (float64)', async () => {
    const enc = createEncoder({
      inputs: 4 * 5,
      inputShape: [4, 5, 1],
      layers: [{ type: 'conv2d', filters: 1, kernel: 3, padding: 1, stride: 2 }],
      precision: 'float64',
      seed: 3,
    });
    const x = randomVec(20, 4);
    const out = (await enc.forward(float64Ops, x, 1)).out;
    const w = enc.layers[0].weights;
    expect(enc.layers[0].outputShape).toEqual([2, 3, 1]);
    for (let oy = 0; oy < 2; oy++) {
      for (let ox = 0; ox < 3; ox++) {
        let s = 0;
        for (let ky = 0; ky < 3; ky++) {
          for (let kx = 0; kx < 3; kx++) {
            const iy = oy * 2 - 1 + ky;
            const ix = ox * 2 - 1 + kx;
            if (iy >= 0 && iy < 4 && ix >= 0 && ix < 5) s += x[iy * 5 + ix] * w[ky * 3 + kx];
          }
        }
        expect(out[oy * 3 + ox]).toBeCloseTo(s, 12);
      }
    }
  });
});

describe('convolution and pooling equal direct loops on awkward geometries', () => {
  // [height, width, channels, filters, kernel height, kernel width, stride, padding]
  const convs: [number, number, number, number, number, number, number, number][] = [
    [5, 7, 3, 2, 3, 2, 2, 2],
    [1, 9, 2, 3, 1, 4, 3, 0],
    [6, 6, 1, 1, 5, 5, 1, 4],
    [4, 3, 4, 5, 2, 3, 1, 1],
    [9, 2, 1, 2, 3, 1, 4, 1],
    // Padding past the kernel: the outermost windows lie wholly in the padding and read nothing.
    [3, 4, 2, 2, 2, 2, 1, 3],
  ];
  it.each(convs)(
    'conv %ix%ix%i, %i filters, kernel %ix%i, stride %i, padding %i: forward and input gradient',
    async (h, w, c, f, kh, kw, stride, padding) => {
      const rows = 2;
      const layer = new Conv2dLayer(
        { inputShape: [h, w, c], filters: f, kernel: [kh, kw], stride, padding },
        'linear',
        randomVec(kh * kw * c * f, h * 31 + w),
        new Float64Array(0),
      );
      const [oh, ow] = layer.outputShape;
      expect([oh, ow]).toEqual([
        Math.floor((h + 2 * padding - kh) / stride) + 1,
        Math.floor((w + 2 * padding - kw) / stride) + 1,
      ]);
      const x = randomVec(rows * h * w * c, 7);
      const dOut = randomVec(rows * oh * ow * f, 8);
      const cache = await layer.forward(float64Ops, x, rows);
      const { dx } = await layer.backward(float64Ops, cache, dOut, true);
      const want = new Float64Array(rows * oh * ow * f);
      const wantDx = new Float64Array(rows * h * w * c);
      for (let n = 0; n < rows; n++)
        for (let oy = 0; oy < oh; oy++)
          for (let ox = 0; ox < ow; ox++)
            for (let ky = 0; ky < kh; ky++)
              for (let kx = 0; kx < kw; kx++) {
                const iy = oy * stride - padding + ky;
                const ix = ox * stride - padding + kx;
                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                for (let ch = 0; ch < c; ch++)
                  for (let j = 0; j < f; j++) {
                    const wv = layer.weights[((ky * kw + kx) * c + ch) * f + j];
                    const xi = ((n * h + iy) * w + ix) * c + ch;
                    const oi = ((n * oh + oy) * ow + ox) * f + j;
                    want[oi] += x[xi] * wv;
                    wantDx[xi] += dOut[oi] * wv;
                  }
              }
      for (let i = 0; i < want.length; i++) expect(cache.out[i]).toBeCloseTo(want[i], 12);
      for (let i = 0; i < wantDx.length; i++) expect(dx![i]).toBeCloseTo(wantDx[i], 12);
    },
  );

  // [kind, height, width, channels, size, stride]: overlapping windows, gaps between windows, one row.
  const pools: ['maxPool2d' | 'avgPool2d', number, number, number, number, number][] = [
    ['maxPool2d', 5, 6, 3, 3, 1],
    ['maxPool2d', 7, 7, 2, 2, 3],
    ['maxPool2d', 1, 5, 4, 1, 2],
    ['maxPool2d', 6, 5, 1, 3, 2],
    ['avgPool2d', 5, 6, 3, 3, 1],
    ['avgPool2d', 7, 7, 2, 2, 3],
    ['avgPool2d', 6, 5, 1, 3, 2],
  ];
  it.each(pools)(
    '%s over %ix%ix%i, size %i, stride %i: forward and input gradient, ties to the first maximum',
    async (kind, h, w, c, size, stride) => {
      const rows = 2;
      const layer = new Pool2dLayer(kind, [h, w, c], size, stride, 'float64');
      const [oh, ow] = layer.outputShape;
      // Values from {-1, 0, 1}: most windows hold ties.
      const x = randomVec(rows * h * w * c, 11).map((v) => Math.round(v));
      const dOut = randomVec(rows * oh * ow * c, 12);
      const cache = await layer.forward(float64Ops, x, rows);
      const { dx } = await layer.backward(float64Ops, cache, dOut, true);
      const want = new Float64Array(rows * oh * ow * c);
      const wantDx = new Float64Array(rows * h * w * c);
      for (let n = 0; n < rows; n++)
        for (let oy = 0; oy < oh; oy++)
          for (let ox = 0; ox < ow; ox++)
            for (let ch = 0; ch < c; ch++) {
              const o = ((n * oh + oy) * ow + ox) * c + ch;
              let at = -1;
              let sum = 0;
              for (let ky = 0; ky < size; ky++)
                for (let kx = 0; kx < size; kx++) {
                  const i = ((n * h + oy * stride + ky) * w + ox * stride + kx) * c + ch;
                  if (at < 0 || x[i] > x[at]) at = i;
                  sum += x[i];
                }
              if (kind === 'maxPool2d') {
                want[o] = x[at];
                wantDx[at] += dOut[o];
              } else {
                want[o] = sum / (size * size);
                for (let ky = 0; ky < size; ky++)
                  for (let kx = 0; kx < size; kx++)
                    wantDx[((n * h + oy * stride + ky) * w + ox * stride + kx) * c + ch] +=
                      dOut[o] / (size * size);
              }
            }
      for (let i = 0; i < want.length; i++) expect(cache.out[i]).toBeCloseTo(want[i], 12);
      for (let i = 0; i < wantDx.length; i++) expect(dx![i]).toBeCloseTo(wantDx[i], 12);
    },
  );
});

describe('the float32 backend path matches float64', () => {
  const backends: [string, () => Promise<DenseOps>][] = [
    ['reference', async () => kernelOps(referenceKernels)],
  ];
  if (wasm) {
    backends.push(['wasm', async () => kernelOps(await createCosineKit({ backend: wasm }).kernels())]);
  }
  for (const [name, make] of backends) {
    it(name, async () => {
      const rows = 4;
      const enc = createEncoder({ ...cnn, precision: 'float64', seed: 2 });
      const x = randomVec(rows * enc.inputs, 3);
      const f64 = projection(enc, rows, 4);
      const r64 = await f64(float64Ops, x);
      const g64 = await enc.backward(float64Ops, r64.cache, r64.dOut, true);
      const enc32 = enc.clone('float32');
      const ops = await make();
      const f32 = projection(enc32, rows, 4);
      const r32 = await f32(ops, Float32Array.from(x));
      const g32 = await enc32.backward(ops, r32.cache, r32.dOut, true);
      expect(r32.value).toBeCloseTo(r64.value, 4);
      for (const [k, a] of g64.params.entries()) {
        const scale = Math.max(...Array.from(a, Math.abs));
        for (let i = 0; i < a.length; i++)
          expect(Math.abs(g32.params[k][i] - a[i])).toBeLessThan(1e-4 * scale + 1e-6);
      }
    });
  }
});

describe('save and load with convolutions', () => {
  it('round-trips bit for bit', async () => {
    const enc = createEncoder({ ...cnn, seed: 9 });
    const bytes = saveEncoder(enc);
    expect(readEncoderHeader(bytes).layers.map((l) => l.kind)).toEqual([
      'conv2d',
      'maxPool2d',
      'conv2d',
      'flatten',
      undefined,
      undefined,
    ]);
    const back = loadEncoder(bytes);
    expect(back.layers.map((l) => [l.kind, l.outputShape])).toEqual(
      enc.layers.map((l) => [l.kind, l.outputShape]),
    );
    for (const [i, p] of back.parameters().entries()) expect(p).toEqual(enc.parameters()[i]);
    const x = [Array.from(randomVec(enc.inputs, 1))];
    expect((await back.embed(referenceKernels, x)).data).toEqual((await enc.embed(referenceKernels, x)).data);
    expect(saveEncoder(back)).toEqual(bytes);
  });
  it('rejects a saved model whose layer shapes do not chain or do not match their geometry', () => {
    const enc = createEncoder({ ...cnn, seed: 9 });
    const bytes = saveEncoder(enc);
    const len = new DataView(bytes.buffer).getUint32(8, true);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + len)));
    const rewrite = (edit: (h: typeof header) => void): Uint8Array => {
      const h = structuredClone(header);
      edit(h);
      let json = new TextEncoder().encode(JSON.stringify(h));
      const padded = new Uint8Array(Math.max(len, json.length)).fill(0x20);
      padded.set(json);
      json = padded.subarray(0, len);
      const out = bytes.slice();
      out.set(json, 12);
      return out;
    };
    const cases: [string, (h: typeof header) => void][] = [
      ['filters', (h) => (h.layers[0].filters = 4)],
      ['kernel', (h) => (h.layers[0].kernel = [9, 9])],
      ['stride', (h) => (h.layers[1].stride = 0)],
      ['kind', (h) => (h.layers[1].kind = 'upsample')],
      ['chain', (h) => (h.layers[4].inputs = 11)],
    ];
    for (const [name, edit] of cases) {
      try {
        loadEncoder(rewrite(edit));
      } catch (e) {
        expect(isCosineKitError(e, 'CORRUPT_DATA'), name).toBe(true);
        expect((e as Error).message).toMatch(/'bytes'.*'loadEncoder'.*layer/);
        continue;
      }
      throw new Error(`loadEncoder accepted a file with a bad ${name}`);
    }
    // readEncoderHeader refuses the same files in its own name, the layer's message included
    // (a bad stride said 'loadEncoder' inside it).
    for (const [name, edit] of cases)
      expect(() => readEncoderHeader(rewrite(edit)), name).toThrow(
        expect.objectContaining({
          code: 'CORRUPT_DATA',
          op: 'readEncoderHeader',
          message: expect.not.stringMatching(/loadEncoder/),
        }),
      );
  });
});

describe('bad input', () => {
  const expectErr = (f: () => unknown, arg: string, op = 'createEncoder') => {
    try {
      f();
    } catch (e) {
      expect(isCosineKitError(e)).toBe(true);
      expect((e as Error).message).toContain(`'${arg}'`);
      expect((e as Error).message).toContain(`'${op}'`);
      return;
    }
    throw new Error(`accepted a bad ${arg}`);
  };
  const base = { inputs: 16, inputShape: [4, 4, 1] as [number, number, number] };
  it('kernels larger than the input, strides of 0, bad padding, bad input shapes', () => {
    expectErr(
      () => createEncoder({ ...base, layers: [{ type: 'conv2d', filters: 1, kernel: 5 }] }),
      'kernel',
    );
    expectErr(() => createEncoder({ ...base, layers: [{ type: 'maxPool2d', size: 5 }] }), 'size');
    // A kernel of any other arity than two, or no array at all ([3, 3, 99] was taken as 3 x 3).
    for (const kernel of [[3, 3, 3], [3, 3, 99], { 0: 3, 1: 3 }, [3], '3'])
      expectErr(
        () => createEncoder({ ...base, layers: [{ type: 'conv2d', filters: 1, kernel: kernel as never }] }),
        'kernel',
      );
    expectErr(
      () => createEncoder({ ...base, layers: [{ type: 'conv2d', filters: 1, kernel: 2, stride: 0 }] }),
      'stride',
    );
    expectErr(
      () => createEncoder({ ...base, layers: [{ type: 'avgPool2d', size: 2, stride: 0 }] }),
      'stride',
    );
    expectErr(
      () => createEncoder({ ...base, layers: [{ type: 'conv2d', filters: 0, kernel: 2 }] }),
      'filters',
    );
    expectErr(
      () => createEncoder({ ...base, layers: [{ type: 'conv2d', filters: 1, kernel: 2, padding: 'same' }] }),
      'padding',
    );
    expectErr(
      () => createEncoder({ ...base, layers: [{ type: 'conv2d', filters: 1, kernel: 3, padding: -1 }] }),
      'padding',
    );
    expectErr(
      () => createEncoder({ ...base, inputShape: [4, 3, 1], layers: [{ type: 'flatten' }] }),
      'inputShape',
    );
    // A pixel-less image row: a dense input of 16 has shape [1, 1, 16], so a 2x2 kernel does not fit.
    expectErr(
      () => createEncoder({ inputs: 16, layers: [{ type: 'conv2d', filters: 1, kernel: 2 }] }),
      'kernel',
    );
  });
});

describe('Conv2dLayer refuses weights and biases of the wrong type, by name, as DenseLayer does', () => {
  it('missing, a plain Array, null or a revoked Proxy is INVALID_TYPE naming weights or bias (missing was a raw TypeError, an Array accepted)', () => {
    const g = {
      inputShape: [2, 2, 1] as [number, number, number],
      filters: 1,
      kernel: [1, 1] as [number, number],
      stride: 1,
      padding: 0,
    };
    const { proxy, revoke } = Proxy.revocable(new Float32Array(1), {});
    revoke();
    for (const [weights, bias, arg] of [
      [undefined, undefined, 'weights'],
      [new Float32Array(1), undefined, 'bias'],
      [[1], new Float32Array(1), 'weights'],
      [null, new Float32Array(1), 'weights'],
      [new Float32Array(1), [0], 'bias'],
      [proxy, new Float32Array(1), 'weights'],
    ] as const) {
      expect(() => new Conv2dLayer(g, 'linear', weights as never, bias as never), `${arg}`).toThrow(
        expect.objectContaining({ code: 'INVALID_TYPE', op: 'Conv2dLayer', arg }),
      );
    }
    expect(new Conv2dLayer(g, 'linear', new Float32Array(1), new Float32Array(0)).hasBias).toBe(false);
  });
});
