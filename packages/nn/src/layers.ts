import type { Activation } from '@cosinekit/core/backend';
import { ACTIVATIONS, argError, columnSums as columnSums32, valueText } from '@cosinekit/core/backend';
import {
  cacheRows,
  checkBoolean,
  checkLayerSize,
  checkPrecision,
  checkRowsOf,
  floats,
  given,
  isA,
} from './check.js';
import type { DenseOps, Precision, Vec } from './ops.js';
import type { Rng } from './rng.js';

/**
 * How a layer's weights start. `he`: normal with std sqrt(2 / fanIn) (for relu and gelu);
 * `lecun`: LeCun normal, std sqrt(1 / fanIn) (for selu-style and linear layers; PyTorch metric
 * learning recipes often ask for it); `xavier`: uniform in ±sqrt(6 / (fanIn + fanOut)) (for
 * tanh, sigmoid, linear); `identity`: the identity matrix (square dense layers only, e.g. the
 * embedding adapter); `zeros`. fanIn is `inputs` for a dense layer and `kernel² x channels` for a
 * convolution.
 */
export type Init = 'he' | 'lecun' | 'xavier' | 'identity' | 'zeros';

/** What every layer's forward pass keeps: its input, its output and the row count. */
export interface LayerCache {
  readonly x: Vec;
  readonly out: Vec;
  readonly rows: number;
}

/** Gradients of one layer: dL/dinput (when asked for), then its weights and bias (empty when it has none). */
export interface LayerGrads {
  readonly dx: Vec | undefined;
  readonly dW: Vec;
  readonly db: Vec;
}

/** The kinds of layer an encoder stacks. */
export type LayerKind = 'dense' | 'conv2d' | 'maxPool2d' | 'avgPool2d' | 'flatten';

/**
 * One layer of an encoder. Rows are flat: an image is stored height x width x channels
 * (channels last), so a convolution's output rows feed the next layer as they are and `flatten`
 * costs nothing. `inputs` and `units` are the values per row in and out.
 */
export interface Layer {
  readonly kind: LayerKind;
  readonly inputs: number;
  readonly units: number;
  /** Output as height x width x channels (`[1, 1, units]` for a dense layer). */
  readonly outputShape: readonly [number, number, number];
  readonly activation: Activation;
  readonly hasBias: boolean;
  /** The weights (empty for pooling and flatten). Updated in place by the optimisers. */
  readonly weights: Vec;
  /** The bias, or an empty array. */
  readonly bias: Vec;
  /** The trainable arrays: `[weights, bias]`, without the empty ones. */
  parameters(): Vec[];
  forward(ops: DenseOps, x: Vec, rows: number): Promise<LayerCache>;
  backward(ops: DenseOps, cache: LayerCache, dOut: Vec, wantInput: boolean): Promise<LayerGrads>;
  /** A deep copy in the given precision. */
  clone(precision: Precision): Layer;
}

/** Fills `w` from `init` for a layer of the given fan-in and fan-out. */
export function initWeights(w: Vec, init: Init, fanIn: number, fanOut: number, rng: Rng, op: string): void {
  if (init === 'he' || init === 'lecun') {
    const std = Math.sqrt((init === 'he' ? 2 : 1) / fanIn);
    for (let i = 0; i < w.length; i++) w[i] = rng.normal() * std;
  } else if (init === 'xavier') {
    const lim = Math.sqrt(6 / (fanIn + fanOut));
    for (let i = 0; i < w.length; i++) w[i] = (2 * rng.next() - 1) * lim;
  } else if (init === 'identity') {
    if (fanIn !== fanOut || w.length !== fanIn * fanOut) {
      argError(
        'INVALID_ARGUMENT',
        op,
        'init',
        `'identity' needs a square dense layer (${fanIn} -> ${fanOut}).`,
      );
    }
    for (let i = 0; i < fanOut; i++) w[i * fanOut + i] = 1;
  } else if (init !== 'zeros') {
    argError(
      'INVALID_ARGUMENT',
      op,
      'init',
      `must be 'he', 'lecun', 'xavier', 'identity' or 'zeros', got ${valueText(init)}.`,
    );
  }
}

/**
 * Column sums of a `rows x cols` matrix (the bias gradient), each column summed down the rows in
 * order from +0, in the precision of `m`: float32 through core's reference `columnSums` (rounding
 * after every add, the contract's order, so the same bits as every backend's kernel), float64 with
 * plain adds.
 */
export function columnSums(m: Vec, rows: number, cols: number): Vec {
  if (m instanceof Float32Array) return columnSums32({ data: m, rows, cols });
  const out = new Float64Array(cols);
  for (let i = 0; i < rows; i++) for (let j = 0, o = i * cols; j < cols; j++) out[j] += m[o + j];
  return out;
}

/**
 * The bias gradient of a layer: the column sums of `dz` (`rows x cols`), from `ops.columnSums`
 * (one pass in the backend's kernel) when the ops have it, else {@link columnSums}; both in the
 * same order, so the same bits.
 */
export async function biasGradient(ops: DenseOps, dz: Vec, rows: number, cols: number): Promise<Vec> {
  return ops.columnSums ? ops.columnSums(dz, rows, cols) : columnSums(dz, rows, cols);
}

/** One dense layer of an encoder: `y = f(x W + b)`. */
export interface DenseSpec {
  /** `'dense'`, the default when omitted. */
  type?: 'dense';
  /** Output width. */
  units: number;
  /** Activation `f`; defaults to `'linear'`. */
  activation?: Activation;
  /** Whether the layer adds a bias; defaults to true. Biases start at zero. */
  bias?: boolean;
  /** Initialisation; defaults to `he` for relu and gelu, `xavier` otherwise. */
  init?: Init;
}

/** What a forward pass keeps for the backward pass. */
export interface DenseCache {
  /** The layer input, `rows x inputs`. */
  readonly x: Vec;
  /** The pre-activation `x W + b`. */
  readonly pre: Vec;
  /** The output `f(pre)`. */
  readonly out: Vec;
  readonly rows: number;
}

/** Gradients of one layer. */
export interface DenseGrads {
  /** dL/dx, `rows x inputs`, when asked for. */
  readonly dx: Vec | undefined;
  /** dL/dW, `inputs x units`. */
  readonly dW: Vec;
  /** dL/db, `units` (empty without bias). */
  readonly db: Vec;
}

/**
 * A dense layer. Weights are `inputs x units`, row-major, so a batch `X` (`rows x inputs`) maps to
 * `X W`, one matrix product on the backend; the backward pass is two more (`X^T dZ`, `dZ W^T`).
 */
export class DenseLayer implements Layer {
  readonly kind = 'dense' as const;
  readonly inputs: number;
  readonly units: number;
  readonly activation: Activation;
  readonly hasBias: boolean;
  /** `inputs x units`, row-major. Updated in place by the optimisers. */
  readonly weights: Vec;
  /** `units` values, or an empty array when the layer has no bias. */
  readonly bias: Vec;

  /**
   * Wraps existing parameters (not copied); lengths must match the shape. `op` names the public
   * function in an activation error (`createEncoder` when it builds the layer).
   */
  constructor(
    inputs: number,
    units: number,
    activation: Activation,
    weights: Vec,
    bias: Vec,
    op = 'DenseLayer',
  ) {
    // Negative, fractional or huge sizes were taken as they came (a layer of -2 units).
    for (const [arg, n] of [
      ['inputs', inputs],
      ['units', units],
    ] as const)
      if (!(Number.isSafeInteger(n) && n >= 1))
        argError('INVALID_ARGUMENT', 'DenseLayer', arg, `must be a positive integer, got ${valueText(n)}.`);
    for (const [arg, v] of [
      ['weights', weights],
      ['bias', bias],
    ] as const)
      if (!(isA(v, Float32Array) || isA(v, Float64Array)))
        argError(
          'INVALID_TYPE',
          'DenseLayer',
          arg,
          `must be a Float32Array or Float64Array, got ${valueText(v)}.`,
        );
    if (!ACTIVATIONS.includes(activation)) {
      argError(
        'INVALID_ARGUMENT',
        op,
        'activation',
        `must be one of ${ACTIVATIONS.join(', ')}, got ${valueText(activation)}.`,
      );
    }
    if (weights.length !== inputs * units) {
      argError('SHAPE_MISMATCH', 'DenseLayer', 'weights', `must hold ${inputs * units} values.`);
    }
    if (bias.length !== 0 && bias.length !== units) {
      argError('SHAPE_MISMATCH', 'DenseLayer', 'bias', `must hold ${units} values or none.`);
    }
    this.inputs = inputs;
    this.units = units;
    this.activation = activation;
    this.hasBias = bias.length > 0;
    this.weights = weights;
    this.bias = bias;
  }

  get outputShape(): readonly [number, number, number] {
    return [1, 1, this.units];
  }

  parameters(): Vec[] {
    return this.hasBias ? [this.weights, this.bias] : [this.weights];
  }

  clone(precision: Precision): DenseLayer {
    checkPrecision('DenseLayer.clone', precision);
    const conv = (v: Vec): Vec => (precision === 'float64' ? Float64Array.from(v) : Float32Array.from(v));
    return new DenseLayer(this.inputs, this.units, this.activation, conv(this.weights), conv(this.bias));
  }

  /** A freshly initialised layer. */
  static create(inputs: number, spec: DenseSpec, rng: Rng, precision: Precision = 'float32'): DenseLayer {
    checkPrecision('DenseLayer.create', precision);
    const { units } = spec;
    checkBoolean('createEncoder', 'bias', spec.bias);
    if (!Number.isInteger(units) || units < 1) {
      argError(
        'INVALID_ARGUMENT',
        'createEncoder',
        'units',
        `must be a positive integer, got ${valueText(units)}.`,
      );
    }
    const activation = given(spec.activation, 'linear');
    const init = given(spec.init, activation === 'relu' || activation === 'gelu' ? 'he' : 'xavier');
    checkLayerSize('createEncoder', 'units', inputs * units, `weights (${inputs} x ${units})`);
    const w = floats(precision, inputs * units, 'createEncoder', 'units', `weights (${inputs} x ${units})`);
    initWeights(w, init, inputs, units, rng, 'createEncoder');
    return new DenseLayer(
      inputs,
      units,
      activation,
      w,
      floats(precision, spec.bias === false ? 0 : units, 'createEncoder', 'units', 'a bias'),
      'createEncoder',
    );
  }

  /** `f(x W + b)` for `rows` input rows. */
  async forward(ops: DenseOps, x: Vec, rows: number): Promise<DenseCache> {
    checkRowsOf('DenseLayer.forward', 'x', x, rows, this.inputs);
    let pre = await ops.matmul(x, rows, this.inputs, this.weights, this.inputs, this.units, false, false);
    if (this.hasBias) pre = await ops.addBias(pre, rows, this.units, this.bias);
    const out =
      this.activation === 'linear' ? pre : await ops.activation(this.activation, pre, rows, this.units);
    return { x, pre, out, rows };
  }

  /** Gradients from dL/dout; `wantInput` also returns dL/dx (not needed for the first layer). */
  async backward(ops: DenseOps, cache: DenseCache, dOut: Vec, wantInput: boolean): Promise<DenseGrads> {
    const rows = cacheRows('DenseLayer.backward', cache);
    checkRowsOf('DenseLayer.backward', 'dOut', dOut, rows, this.units);
    const dz =
      this.activation === 'linear'
        ? dOut
        : await ops.activationGrad(this.activation, cache.pre, dOut, rows, this.units);
    const dW = await ops.matmul(cache.x, rows, this.inputs, dz, rows, this.units, true, false);
    // Column sums: O(rows x units), not a matrix product.
    const db = this.hasBias ? await biasGradient(ops, dz, rows, this.units) : ops.alloc(0);
    const dx = wantInput
      ? await ops.matmul(dz, rows, this.units, this.weights, this.inputs, this.units, false, true)
      : undefined;
    return { dx, dW, db };
  }
}
