import type { Activation } from '@cosinekit/core/backend';
import { ACTIVATIONS, argError } from '@cosinekit/core/backend';
import type { DenseOps, Precision, Vec } from './ops.js';
import type { Rng } from './rng.js';

/**
 * How a layer's weights start. `he`: normal with std sqrt(2 / inputs) (for relu and gelu);
 * `xavier`: uniform in ±sqrt(6 / (inputs + units)) (for tanh, sigmoid, linear); `identity`: the
 * identity matrix (square layers only, e.g. the embedding adapter); `zeros`.
 */
export type Init = 'he' | 'xavier' | 'identity' | 'zeros';

/** One dense layer of an encoder: `y = f(x W + b)`. */
export interface DenseSpec {
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
export class DenseLayer {
  readonly inputs: number;
  readonly units: number;
  readonly activation: Activation;
  readonly hasBias: boolean;
  /** `inputs x units`, row-major. Updated in place by the optimisers. */
  readonly weights: Vec;
  /** `units` values, or an empty array when the layer has no bias. */
  readonly bias: Vec;

  /** Wraps existing parameters (not copied); lengths must match the shape. */
  constructor(inputs: number, units: number, activation: Activation, weights: Vec, bias: Vec) {
    if (!ACTIVATIONS.includes(activation)) {
      argError('INVALID_ARGUMENT', 'DenseLayer', 'activation', `must be one of ${ACTIVATIONS.join(', ')}.`);
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

  /** A freshly initialised layer. */
  static create(inputs: number, spec: DenseSpec, rng: Rng, precision: Precision = 'float32'): DenseLayer {
    const { units } = spec;
    if (!Number.isInteger(units) || units < 1) {
      argError('INVALID_ARGUMENT', 'createEncoder', 'units', `must be a positive integer, got ${units}.`);
    }
    const activation = spec.activation ?? 'linear';
    const init = spec.init ?? (activation === 'relu' || activation === 'gelu' ? 'he' : 'xavier');
    const make = (n: number): Vec => (precision === 'float64' ? new Float64Array(n) : new Float32Array(n));
    const w = make(inputs * units);
    if (init === 'he') {
      const std = Math.sqrt(2 / inputs);
      for (let i = 0; i < w.length; i++) w[i] = rng.normal() * std;
    } else if (init === 'xavier') {
      const lim = Math.sqrt(6 / (inputs + units));
      for (let i = 0; i < w.length; i++) w[i] = (2 * rng.next() - 1) * lim;
    } else if (init === 'identity') {
      if (inputs !== units) {
        argError(
          'INVALID_ARGUMENT',
          'createEncoder',
          'init',
          `'identity' needs a square layer (${inputs} -> ${units}).`,
        );
      }
      for (let i = 0; i < units; i++) w[i * units + i] = 1;
    }
    return new DenseLayer(inputs, units, activation, w, make(spec.bias === false ? 0 : units));
  }

  /** `f(x W + b)` for `rows` input rows. */
  async forward(ops: DenseOps, x: Vec, rows: number): Promise<DenseCache> {
    let pre = await ops.matmul(x, rows, this.inputs, this.weights, this.inputs, this.units, false, false);
    if (this.hasBias) pre = await ops.addBias(pre, rows, this.units, this.bias);
    const out =
      this.activation === 'linear' ? pre : await ops.activation(this.activation, pre, rows, this.units);
    return { x, pre, out, rows };
  }

  /** Gradients from dL/dout; `wantInput` also returns dL/dx (not needed for the first layer). */
  async backward(ops: DenseOps, cache: DenseCache, dOut: Vec, wantInput: boolean): Promise<DenseGrads> {
    const { rows } = cache;
    const dz =
      this.activation === 'linear'
        ? dOut
        : await ops.activationGrad(this.activation, cache.pre, dOut, rows, this.units);
    const dW = await ops.matmul(cache.x, rows, this.inputs, dz, rows, this.units, true, false);
    const db = ops.alloc(this.hasBias ? this.units : 0);
    if (this.hasBias) {
      // Column sums: O(rows x units), not a matrix product.
      for (let i = 0; i < rows; i++) {
        const o = i * this.units;
        for (let j = 0; j < this.units; j++) db[j] += dz[o + j];
      }
    }
    const dx = wantInput
      ? await ops.matmul(dz, rows, this.units, this.weights, this.inputs, this.units, false, true)
      : undefined;
    return { dx, dW, db };
  }
}
