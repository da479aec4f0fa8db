import type { Activation } from '@cosinekit/core/backend';
import { ACTIVATIONS, argError, reading, valueText } from '@cosinekit/core/backend';
import {
  cacheRows,
  checkBoolean,
  checkLayerSize,
  checkPrecision,
  checkRowsOf,
  floats,
  given,
  isA,
  isShape3,
} from './check.js';
import {
  biasGradient,
  type Init,
  initWeights,
  type Layer,
  type LayerCache,
  type LayerGrads,
} from './layers.js';
import type { DenseOps, Precision, Vec } from './ops.js';
import type { Rng } from './rng.js';

/** An image shape: height x width x channels (channels last). */
export type Shape3 = readonly [height: number, width: number, channels: number];

/** A 2-D convolution layer. */
export interface Conv2dSpec {
  type: 'conv2d';
  /** Output channels. */
  filters: number;
  /** Kernel size: one number for a square kernel, or `[height, width]`. */
  kernel: number | readonly [number, number];
  /** Step between windows; defaults to 1. */
  stride?: number;
  /** Zero padding on every side: a number, or `'same'` (stride 1 and odd kernels: output size = input size). Defaults to 0. */
  padding?: number | 'same';
  /** Defaults to `'linear'`. */
  activation?: Activation;
  /** Defaults to true. */
  bias?: boolean;
  /** Defaults to `he` for relu and gelu, `xavier` otherwise. */
  init?: Init;
}

/** Max or average pooling over windows of each channel. */
export interface Pool2dSpec {
  type: 'maxPool2d' | 'avgPool2d';
  /** Window size (square). */
  size: number;
  /** Step between windows; defaults to `size`. */
  stride?: number;
}

/** Reshapes an image row to a flat row; rows are stored flat already, so this only names the step. */
export interface FlattenSpec {
  type: 'flatten';
}

function positiveInt(op: string, arg: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    argError('INVALID_ARGUMENT', op, arg, `must be a positive integer, got ${valueText(v)}.`);
  }
  return v;
}

function outputSize(
  op: string,
  arg: string,
  input: number,
  kernel: number,
  stride: number,
  padding: number,
): number {
  if (kernel > input + 2 * padding) {
    argError(
      'INVALID_ARGUMENT',
      op,
      arg,
      `is ${kernel}, larger than the input (${input}${padding ? ` plus padding ${2 * padding}` : ''}).`,
    );
  }
  return Math.floor((input + 2 * padding - kernel) / stride) + 1;
}

/** Everything that fixes a convolution's geometry. */
export interface ConvGeometry {
  readonly inputShape: Shape3;
  readonly filters: number;
  readonly kernel: readonly [number, number];
  readonly stride: number;
  readonly padding: number;
}

interface ConvCache extends LayerCache {
  readonly cols: Vec;
  readonly pre: Vec;
}

/**
 * A 2-D convolution over channels-last images, computed as one matrix product: im2col lays every
 * receptive field out as a row (`kh x kw x channels` values), so the layer is
 * `cols W` with `W` stored `(kh kw channels) x filters`, on the backend's `matmul`. The backward
 * pass is two more products (`colsᵀ dZ` and `dZ Wᵀ`) and a scatter of the second back to pixels.
 */
export class Conv2dLayer implements Layer {
  readonly kind = 'conv2d' as const;
  readonly inputShape: Shape3;
  readonly outputShape: Shape3;
  readonly filters: number;
  readonly kernel: readonly [number, number];
  readonly stride: number;
  readonly padding: number;
  readonly activation: Activation;
  readonly hasBias: boolean;
  /** `(kh kw channels) x filters`, row-major, rows ordered (ky, kx, channel). */
  readonly weights: Vec;
  readonly bias: Vec;

  /** Wraps existing parameters (not copied). */
  constructor(geometry: ConvGeometry, activation: Activation, weights: Vec, bias: Vec, op = 'Conv2dLayer') {
    if (typeof geometry !== 'object' || geometry === null)
      argError(
        'INVALID_TYPE',
        op,
        'geometry',
        `must be { inputShape, filters, kernel, stride, padding }, got ${valueText(geometry)}.`,
      );
    // Read where a revoked Proxy or a throwing getter is named (it escaped raw).
    const { inputShape, filters, kernel, stride, padding } = reading(op, 'geometry', () => {
      const { inputShape, filters, kernel, stride, padding } = geometry;
      return { inputShape, filters, kernel, stride, padding };
    });
    if (!Array.isArray(kernel) || kernel.length !== 2)
      argError('INVALID_ARGUMENT', op, 'kernel', 'must be [height, width].');
    if (!Array.isArray(inputShape) || inputShape.length !== 3) {
      argError('INVALID_ARGUMENT', op, 'inputShape', 'must be [height, width, channels].');
    }
    const [h, w, c] = inputShape.map((v, i) => positiveInt(op, `inputShape[${i}]`, v));
    positiveInt(op, 'filters', filters);
    const [kh, kw] = [positiveInt(op, 'kernel', kernel[0]), positiveInt(op, 'kernel', kernel[1])];
    positiveInt(op, 'stride', stride);
    if (!Number.isInteger(padding) || padding < 0) {
      argError(
        'INVALID_ARGUMENT',
        op,
        'padding',
        `must be an integer >= 0 or 'same', got ${valueText(padding)}.`,
      );
    }
    if (!ACTIVATIONS.includes(activation)) {
      argError('INVALID_ARGUMENT', op, 'activation', `must be one of ${ACTIVATIONS.join(', ')}.`);
    }
    const oh = outputSize(op, 'kernel', h, kh, stride, padding);
    const ow = outputSize(op, 'kernel', w, kw, stride, padding);
    // A padding of 10^6 makes a legal geometry of 2 x 10^6 squared windows: refused here, by name.
    const why = padding > 0 ? 'padding' : 'kernel';
    checkLayerSize(op, why, oh * ow * kh * kw * c, `${oh} x ${ow} windows of ${kh} x ${kw} x ${c}`);
    checkLayerSize(op, why, oh * ow * filters, `an output of ${oh} x ${ow} x ${filters}`);
    checkLayerSize(op, 'filters', kh * kw * c * filters, `weights (${kh * kw * c} x ${filters})`);
    // As DenseLayer: a missing array was a raw TypeError, a plain Array accepted (and refused by
    // the optimiser as 'params[0]' once training started).
    for (const [arg, v] of [
      ['weights', weights],
      ['bias', bias],
    ] as const)
      if (!(isA(v, Float32Array) || isA(v, Float64Array)))
        argError('INVALID_TYPE', op, arg, `must be a Float32Array or Float64Array, got ${valueText(v)}.`);
    if (weights.length !== kh * kw * c * filters) {
      argError('SHAPE_MISMATCH', op, 'weights', `must hold ${kh * kw * c * filters} values.`);
    }
    if (bias.length !== 0 && bias.length !== filters) {
      argError('SHAPE_MISMATCH', op, 'bias', `must hold ${filters} values or none.`);
    }
    this.inputShape = [h, w, c];
    this.outputShape = [oh, ow, filters];
    this.filters = filters;
    this.kernel = [kh, kw];
    this.stride = stride;
    this.padding = padding;
    this.activation = activation;
    this.hasBias = bias.length > 0;
    this.weights = weights;
    this.bias = bias;
  }

  /** A freshly initialised layer taking images of `inputShape`. */
  static create(
    inputShape: Shape3,
    spec: Conv2dSpec,
    rng: Rng,
    precision: Precision = 'float32',
  ): Conv2dLayer {
    checkPrecision('Conv2dLayer.create', precision);
    if (!isShape3(inputShape))
      argError(
        'SHAPE_MISMATCH',
        'Conv2dLayer.create',
        'inputShape',
        'must be [height, width, channels], positive integers.',
      );
    const op = 'createEncoder';
    // Two entries exactly, as the file reader takes it: [3, 3, 99] and { 0: 3, 1: 3 } were taken.
    if (typeof spec.kernel !== 'number' && !(Array.isArray(spec.kernel) && spec.kernel.length === 2))
      argError(
        'INVALID_ARGUMENT',
        op,
        'kernel',
        `must be a positive integer or [height, width], got ${Array.isArray(spec.kernel) ? `an array of ${spec.kernel.length}` : valueText(spec.kernel)}.`,
      );
    const kernel: [number, number] =
      typeof spec.kernel === 'number' ? [spec.kernel, spec.kernel] : [spec.kernel[0], spec.kernel[1]];
    if (spec.stride === 0) argError('INVALID_ARGUMENT', op, 'stride', 'must be a positive integer, got 0.');
    const stride = given(spec.stride, 1);
    let padding: number;
    if (spec.padding === 'same') {
      if (stride !== 1 || kernel[0] % 2 === 0 || kernel[1] % 2 === 0) {
        argError('INVALID_ARGUMENT', op, 'padding', "'same' needs stride 1 and an odd kernel.");
      }
      padding = (kernel[0] - 1) / 2;
      if (kernel[0] !== kernel[1])
        argError('INVALID_ARGUMENT', op, 'padding', "'same' needs a square kernel.");
    } else {
      padding = given(spec.padding, 0);
    }
    const activation = given(spec.activation, 'linear');
    checkBoolean(op, 'bias', spec.bias);
    const geometry = { inputShape, filters: spec.filters, kernel, stride, padding };
    positiveInt(op, 'kernel', kernel[0]);
    positiveInt(op, 'kernel', kernel[1]);
    positiveInt(op, 'filters', spec.filters);
    positiveInt(op, 'inputShape[2]', inputShape[2]);
    const fanIn = kernel[0] * kernel[1] * inputShape[2];
    checkLayerSize(op, 'filters', fanIn * spec.filters, `weights (${fanIn} x ${spec.filters})`);
    const layer = new Conv2dLayer(
      geometry,
      activation,
      floats(precision, fanIn * spec.filters, op, 'filters', `weights (${fanIn} x ${spec.filters})`),
      floats(precision, spec.bias === false ? 0 : spec.filters, op, 'filters', 'a bias'),
      op,
    );
    const init = given(spec.init, activation === 'relu' || activation === 'gelu' ? 'he' : 'xavier');
    if (init === 'identity')
      argError('INVALID_ARGUMENT', op, 'init', "'identity' is for square dense layers.");
    initWeights(layer.weights, init, fanIn, kernel[0] * kernel[1] * spec.filters, rng, op);
    return layer;
  }

  get inputs(): number {
    return this.inputShape[0] * this.inputShape[1] * this.inputShape[2];
  }

  get units(): number {
    return this.outputShape[0] * this.outputShape[1] * this.outputShape[2];
  }

  parameters(): Vec[] {
    return this.hasBias ? [this.weights, this.bias] : [this.weights];
  }

  clone(precision: Precision): Conv2dLayer {
    checkPrecision('Conv2dLayer.clone', precision);
    const conv = (v: Vec): Vec => (precision === 'float64' ? Float64Array.from(v) : Float32Array.from(v));
    return new Conv2dLayer(this, this.activation, conv(this.weights), conv(this.bias));
  }

  /** Rows of the im2col matrix per input row, and its width. */
  get #patches(): [perRow: number, width: number] {
    return [this.outputShape[0] * this.outputShape[1], this.kernel[0] * this.kernel[1] * this.inputShape[2]];
  }

  /**
   * The copies im2col makes for one image, the same for every image: run `t` copies
   * `runs[3t + 2]` values from offset `runs[3t]` of the image to offset `runs[3t + 1]` of its
   * block of the im2col matrix. A run is one kernel row's span of in-bounds pixels (all their
   * channels, contiguous on both sides); padding positions are in no run and stay zero. col2im
   * accumulates back along the same runs. Built on first use.
   */
  #runTable: Int32Array | undefined;

  get #runs(): Int32Array {
    if (this.#runTable) return this.#runTable;
    const [h, w, c] = this.inputShape;
    const [oh, ow] = this.outputShape;
    const [kh, kw] = this.kernel;
    const { stride, padding } = this;
    const width = kh * kw * c;
    const runs: number[] = [];
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        const o = (oy * ow + ox) * width;
        // The kernel columns whose pixels lie inside the image: kx in [kx0, kx1).
        const x0 = ox * stride - padding;
        const kx0 = Math.max(0, -x0);
        const kx1 = Math.min(kw, w - x0);
        if (kx1 <= kx0) continue;
        for (let ky = 0; ky < kh; ky++) {
          const iy = oy * stride - padding + ky;
          if (iy < 0 || iy >= h) continue;
          runs.push((iy * w + x0 + kx0) * c, o + (ky * kw + kx0) * c, (kx1 - kx0) * c);
        }
      }
    }
    this.#runTable = Int32Array.from(runs);
    return this.#runTable;
  }

  #im2col(ops: DenseOps, x: Vec, rows: number): Vec {
    const [perRow, width] = this.#patches;
    const block = perRow * width;
    const size = this.inputs;
    const runs = this.#runs;
    const cols = ops.alloc(rows * block);
    for (let n = 0; n < rows; n++) {
      const src = n * size;
      const dst = n * block;
      for (let t = 0; t < runs.length; t += 3) {
        const from = src + runs[t];
        const to = dst + runs[t + 1];
        for (let i = 0, len = runs[t + 2]; i < len; i++) cols[to + i] = x[from + i];
      }
    }
    return cols;
  }

  #col2im(ops: DenseOps, dCols: Vec, rows: number): Vec {
    const [perRow, width] = this.#patches;
    const block = perRow * width;
    const size = this.inputs;
    const runs = this.#runs;
    const dx = ops.alloc(rows * size);
    for (let n = 0; n < rows; n++) {
      const to0 = n * size;
      const from0 = n * block;
      for (let t = 0; t < runs.length; t += 3) {
        const to = to0 + runs[t];
        const from = from0 + runs[t + 1];
        for (let i = 0, len = runs[t + 2]; i < len; i++) dx[to + i] += dCols[from + i];
      }
    }
    return dx;
  }

  async forward(ops: DenseOps, x: Vec, rows: number): Promise<LayerCache> {
    checkRowsOf('Conv2dLayer.forward', 'x', x, rows, this.inputs);
    const [perRow, width] = this.#patches;
    const cols = this.#im2col(ops, x, rows);
    const m = rows * perRow;
    let pre = await ops.matmul(cols, m, width, this.weights, width, this.filters, false, false);
    if (this.hasBias) pre = await ops.addBias(pre, m, this.filters, this.bias);
    const out =
      this.activation === 'linear' ? pre : await ops.activation(this.activation, pre, m, this.filters);
    const cache: ConvCache = { x, out, rows, cols, pre };
    return cache;
  }

  async backward(ops: DenseOps, cache: LayerCache, dOut: Vec, wantInput: boolean): Promise<LayerGrads> {
    checkRowsOf('Conv2dLayer.backward', 'dOut', dOut, cacheRows('Conv2dLayer.backward', cache), this.units);
    const { cols, pre, rows } = cache as ConvCache;
    const [perRow, width] = this.#patches;
    const m = rows * perRow;
    const f = this.filters;
    const dz =
      this.activation === 'linear' ? dOut : await ops.activationGrad(this.activation, pre, dOut, m, f);
    const dW = await ops.matmul(cols, m, width, dz, m, f, true, false);
    const db = this.hasBias ? await biasGradient(ops, dz, m, f) : ops.alloc(0);
    const dx = wantInput
      ? this.#col2im(ops, await ops.matmul(dz, m, f, this.weights, width, f, false, true), rows)
      : undefined;
    return { dx, dW, db };
  }
}

interface PoolCache extends LayerCache {
  /** Max pooling: the input index each output came from. */
  readonly from: Int32Array | undefined;
}

/**
 * Max or average pooling over `size x size` windows of each channel (no padding). Not a matrix
 * product, and small next to the convolutions around it, so it runs in TypeScript.
 */
export class Pool2dLayer implements Layer {
  readonly kind: 'maxPool2d' | 'avgPool2d';
  readonly inputShape: Shape3;
  readonly outputShape: Shape3;
  readonly size: number;
  readonly stride: number;
  readonly activation: Activation = 'linear';
  readonly hasBias = false;
  readonly weights: Vec;
  readonly bias: Vec;

  constructor(
    kind: 'maxPool2d' | 'avgPool2d',
    inputShape: Shape3,
    size: number,
    stride: number,
    precision: Precision = 'float32',
    op = 'Pool2dLayer',
  ) {
    if (kind !== 'maxPool2d' && kind !== 'avgPool2d') {
      argError('INVALID_ARGUMENT', op, 'type', `must be 'maxPool2d' or 'avgPool2d', got ${valueText(kind)}.`);
    }
    if (!Array.isArray(inputShape) || inputShape.length !== 3)
      argError('INVALID_ARGUMENT', op, 'inputShape', 'must be [height, width, channels].');
    const [h, w, c] = inputShape.map((v, i) => positiveInt(op, `inputShape[${i}]`, v));
    positiveInt(op, 'size', size);
    positiveInt(op, 'stride', stride);
    this.kind = kind;
    this.inputShape = [h, w, c];
    this.outputShape = [
      outputSize(op, 'size', h, size, stride, 0),
      outputSize(op, 'size', w, size, stride, 0),
      c,
    ];
    this.size = size;
    this.stride = stride;
    this.weights = precision === 'float64' ? new Float64Array(0) : new Float32Array(0);
    this.bias = this.weights;
  }

  static create(inputShape: Shape3, spec: Pool2dSpec, precision: Precision = 'float32'): Pool2dLayer {
    checkPrecision('Pool2dLayer.create', precision);
    if (!isShape3(inputShape))
      argError(
        'SHAPE_MISMATCH',
        'Pool2dLayer.create',
        'inputShape',
        'must be [height, width, channels], positive integers.',
      );
    if (spec.stride === 0)
      argError('INVALID_ARGUMENT', 'createEncoder', 'stride', 'must be a positive integer, got 0.');
    return new Pool2dLayer(
      spec.type,
      inputShape,
      spec.size,
      given(spec.stride, spec.size),
      precision,
      'createEncoder',
    );
  }

  get inputs(): number {
    return this.inputShape[0] * this.inputShape[1] * this.inputShape[2];
  }

  get units(): number {
    return this.outputShape[0] * this.outputShape[1] * this.outputShape[2];
  }

  parameters(): Vec[] {
    return [];
  }

  clone(precision: Precision): Pool2dLayer {
    checkPrecision('Pool2dLayer.clone', precision);
    return new Pool2dLayer(this.kind, this.inputShape, this.size, this.stride, precision);
  }

  async forward(ops: DenseOps, x: Vec, rows: number): Promise<LayerCache> {
    checkRowsOf('Pool2dLayer.forward', 'x', x, rows, this.inputs);
    const [h, w, c] = this.inputShape;
    const [oh, ow] = this.outputShape;
    const { size, stride } = this;
    const out = ops.alloc(rows * this.units);
    // Windows are walked (ky, kx) in order with the channels innermost, so every read is
    // contiguous; each output keeps its running maximum (or sum) per channel.
    if (this.kind === 'maxPool2d') {
      const from = new Int32Array(out.length);
      let o = 0;
      for (let n = 0; n < rows; n++) {
        const base = n * h * w * c;
        for (let oy = 0; oy < oh; oy++) {
          for (let ox = 0; ox < ow; ox++, o += c) {
            const corner = base + (oy * stride * w + ox * stride) * c;
            for (let ch = 0; ch < c; ch++) from[o + ch] = corner + ch;
            for (let ky = 0; ky < size; ky++) {
              for (let kx = ky === 0 ? 1 : 0; kx < size; kx++) {
                const i = corner + (ky * w + kx) * c;
                // Strictly greater: the first maximum wins a tie, so the gradient has one home.
                for (let ch = 0; ch < c; ch++) if (x[i + ch] > x[from[o + ch]]) from[o + ch] = i + ch;
              }
            }
            for (let ch = 0; ch < c; ch++) out[o + ch] = x[from[o + ch]];
          }
        }
      }
      const cache: PoolCache = { x, out, rows, from };
      return cache;
    }
    const inv = 1 / (size * size);
    // Each channel's window sum, in float64 and in window order.
    const sum = new Float64Array(c);
    let o = 0;
    for (let n = 0; n < rows; n++) {
      const base = n * h * w * c;
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++, o += c) {
          const corner = base + (oy * stride * w + ox * stride) * c;
          sum.fill(0);
          for (let ky = 0; ky < size; ky++) {
            for (let kx = 0; kx < size; kx++) {
              const i = corner + (ky * w + kx) * c;
              for (let ch = 0; ch < c; ch++) sum[ch] += x[i + ch];
            }
          }
          for (let ch = 0; ch < c; ch++) out[o + ch] = sum[ch] * inv;
        }
      }
    }
    const cache: PoolCache = { x, out, rows, from: undefined };
    return cache;
  }

  async backward(ops: DenseOps, cache: LayerCache, dOut: Vec, wantInput: boolean): Promise<LayerGrads> {
    checkRowsOf('Pool2dLayer.backward', 'dOut', dOut, cacheRows('Pool2dLayer.backward', cache), this.units);
    const empty = ops.alloc(0);
    if (!wantInput) return { dx: undefined, dW: empty, db: empty };
    const { rows, from } = cache as PoolCache;
    const [h, w, c] = this.inputShape;
    const dx = ops.alloc(rows * h * w * c);
    if (from) {
      for (let o = 0; o < from.length; o++) dx[from[o]] += dOut[o];
      return { dx, dW: empty, db: empty };
    }
    const [oh, ow] = this.outputShape;
    const { size, stride } = this;
    const inv = 1 / (size * size);
    let o = 0;
    for (let n = 0; n < rows; n++) {
      const base = n * h * w * c;
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++, o += c) {
          const corner = base + (oy * stride * w + ox * stride) * c;
          for (let ky = 0; ky < size; ky++) {
            for (let kx = 0; kx < size; kx++) {
              const i = corner + (ky * w + kx) * c;
              for (let ch = 0; ch < c; ch++) dx[i + ch] += dOut[o + ch] * inv;
            }
          }
        }
      }
    }
    return { dx, dW: empty, db: empty };
  }
}

/**
 * Flattens images to plain rows. Rows are already stored flat (height x width x channels), so
 * this changes only the shape the next layer sees; it is there so encoders read like the usual
 * `conv -> pool -> flatten -> dense` stacks.
 */
export class FlattenLayer implements Layer {
  readonly kind = 'flatten' as const;
  readonly inputs: number;
  readonly units: number;
  readonly outputShape: Shape3;
  readonly activation: Activation = 'linear';
  readonly hasBias = false;
  readonly weights: Vec;
  readonly bias: Vec;

  constructor(inputs: number, precision: Precision = 'float32') {
    checkPrecision('FlattenLayer', precision);
    positiveInt('FlattenLayer', 'inputs', inputs);
    this.inputs = inputs;
    this.units = inputs;
    this.outputShape = [1, 1, inputs];
    this.weights = precision === 'float64' ? new Float64Array(0) : new Float32Array(0);
    this.bias = this.weights;
  }

  parameters(): Vec[] {
    return [];
  }

  clone(precision: Precision): FlattenLayer {
    checkPrecision('FlattenLayer.clone', precision);
    return new FlattenLayer(this.inputs, precision);
  }

  async forward(_ops: DenseOps, x: Vec, rows: number): Promise<LayerCache> {
    checkRowsOf('FlattenLayer.forward', 'x', x, rows, this.inputs);
    return { x, out: x, rows };
  }

  async backward(ops: DenseOps, cache: LayerCache, dOut: Vec, wantInput: boolean): Promise<LayerGrads> {
    checkRowsOf('FlattenLayer.backward', 'dOut', dOut, cacheRows('FlattenLayer.backward', cache), this.units);
    const empty = ops.alloc(0);
    return { dx: wantInput ? dOut : undefined, dW: empty, db: empty };
  }
}
