import { Tensor, type TensorInput } from '@cosinekit/core';
import { admit, argError, clampCos, toTensor, valueText } from '@cosinekit/core/backend';
import { builtIn } from './built-in.js';
import {
  checkFloat32Scale,
  checkLabels,
  checkLayerSize,
  checkLossInput,
  checkNumber,
  checkObject,
  checkOps,
  checkParameters,
  checkPrecision,
  checkSeed,
  floats,
  given,
  isA,
  under,
} from './check.js';
import { Encoder, type KernelSource, kernelsOf, ownRows, settled } from './encoder.js';
import type { Loss, LossResult } from './losses/loss.js';
import { checkUnitRows, normalizeRowsBackward, normalizeRowsForward } from './normalize.js';
import type { DenseOps, Precision, Vec } from './ops.js';
import { createRng } from './rng.js';

/** Options of {@link createCosineClassifier}. */
export interface CosineClassifierOptions {
  /** Number of classes; labels are `0 .. classes - 1`. */
  classes: number;
  /** Embedding width (the encoder's `outputs`). */
  dim: number;
  /** Seed of the class vectors (standard normal); defaults to 1. */
  seed?: number;
  /** `'float32'` (default) or `'float64'` (gradient checks). */
  precision?: Precision;
}

/**
 * The cosine classifier head: one learned vector `w_c` per class, and logits
 * `s * cos(f(x), w_c)`. It is the other reading of "replace the output layer with a cosine layer":
 * the last dense layer's dot products become cosines, so neither the embedding's nor the class
 * vector's length counts. Train it with {@link normFaceLoss}, {@link cosFaceLoss} or
 * {@link arcFaceLoss}; predict with {@link CosineClassifier.predict}.
 */
export class CosineClassifier {
  readonly classes: number;
  readonly dim: number;
  /** `classes x dim`, row-major: row c is `w_c`. Updated in place by the optimisers. */
  readonly weights: Vec;

  /** Wraps existing class vectors (not copied). */
  constructor(classes: number, dim: number, weights: Vec) {
    if (!Number.isInteger(classes) || classes < 2) {
      argError(
        'INVALID_ARGUMENT',
        'CosineClassifier',
        'classes',
        `must be an integer >= 2, got ${valueText(classes)}.`,
      );
    }
    if (!Number.isInteger(dim) || dim < 1) {
      argError(
        'INVALID_ARGUMENT',
        'CosineClassifier',
        'dim',
        `must be a positive integer, got ${valueText(dim)}.`,
      );
    }
    if (!(weights instanceof Float32Array || weights instanceof Float64Array))
      argError('INVALID_TYPE', 'CosineClassifier', 'weights', 'must be a Float32Array or Float64Array.');
    if (weights.length !== classes * dim) {
      argError('SHAPE_MISMATCH', 'CosineClassifier', 'weights', `must hold ${classes} x ${dim} values.`);
    }
    this.classes = classes;
    this.dim = dim;
    this.weights = weights;
  }

  /** The trainable arrays: `[weights]`. */
  parameters(): Vec[] {
    return [this.weights];
  }

  /** A deep copy in the given precision. */
  clone(
    precision: Precision = this.weights instanceof Float64Array ? 'float64' : 'float32',
  ): CosineClassifier {
    checkPrecision('CosineClassifier.clone', precision);
    const w = precision === 'float64' ? Float64Array.from(this.weights) : Float32Array.from(this.weights);
    return new CosineClassifier(this.classes, this.dim, w);
  }

  /**
   * The `rows x classes` cosines `cos(f(x_i), w_c)` of inputs `x` through `encoder`, on the
   * backend's cosine kernel. Errors name `'CosineClassifier.cosines'` and the argument (`x`,
   * `encoder`, `classifier` for its own class vectors, `source`), including those raised while
   * embedding or by the cosine kernel.
   */
  async cosines(source: KernelSource, encoder: Encoder, x: TensorInput): Promise<Float32Array> {
    return this.#cosines('CosineClassifier.cosines', source, encoder, x);
  }

  /** {@link cosines} with every error naming `op`, the public method called. */
  #cosines(op: string, source: KernelSource, encoder: Encoder, x: TensorInput): Promise<Float32Array> {
    if (!isA(encoder, Encoder))
      argError(
        'INVALID_TYPE',
        op,
        'encoder',
        `must be an Encoder, got ${encoder === null ? 'null' : typeof encoder}.`,
      );
    // The rows, the encoder's weights and the class vectors as they are at the call: a train
    // running on them, or the caller's change, showed through between the awaits below.
    const rows = ownRows(x, op, 'x');
    const model = settled(encoder);
    const w = { data: Float32Array.from(this.weights), rows: this.classes, cols: this.dim };
    // embed names 'embed' and the kit's kernels 'cosineMatrix' ('a' the embeddings of x, 'b' the
    // class vectors): all renamed after the method the caller called.
    return under(
      op,
      async () => {
        if (encoder.outputs !== this.dim) {
          argError(
            'DIMENSION_MISMATCH',
            op,
            'encoder',
            `gives ${encoder.outputs}-wide embeddings but the classifier has ${this.dim}.`,
          );
        }
        // A NaN class vector would give NaN cosines, and predict's comparisons would read them as class 0.
        checkParameters(op, 'classifier', [w.data]);
        const kernels = await kernelsOf(source, op);
        const e = await model.embed(kernels, rows);
        // Through the kit's gate, as its own calls go: rows of extreme magnitude rescaled.
        return kernels.cosineMatrix(
          admit(e, op, 'a').tensor,
          admit(new Tensor(w.data, w.rows, w.cols), op, 'b').tensor,
        );
      },
      { a: 'x', b: 'classifier', backend: 'source' },
    );
  }

  /**
   * The predicted class of each input row: the class vector of largest cosine (the scale and the
   * margins do not change the order). A tie goes to the smaller class. Errors name
   * `'CosineClassifier.predict'` and the argument.
   */
  async predict(source: KernelSource, encoder: Encoder, x: TensorInput): Promise<Int32Array> {
    return this.#predict('CosineClassifier.predict', source, encoder, x);
  }

  async #predict(op: string, source: KernelSource, encoder: Encoder, x: TensorInput): Promise<Int32Array> {
    const cos = await this.#cosines(op, source, encoder, x);
    const rows = cos.length / this.classes;
    const out = new Int32Array(rows);
    for (let i = 0; i < rows; i++) {
      let best = 0;
      for (let c = 1; c < this.classes; c++) {
        if (cos[i * this.classes + c] > cos[i * this.classes + best]) best = c;
      }
      out[i] = best;
    }
    return out;
  }

  /**
   * Share of rows of `x` whose predicted class is their label. Errors name
   * `'CosineClassifier.accuracy'` and the argument; `labels` must be one finite number per row
   * (a NaN or a string label would match no prediction and lower the accuracy silently).
   */
  async accuracy(
    source: KernelSource,
    encoder: Encoder,
    x: TensorInput,
    labels: ArrayLike<number>,
  ): Promise<number> {
    const op = 'CosineClassifier.accuracy';
    const t = toTensor(x, op, 'x');
    const rows = t.rows;
    // Rows of the wrong width are the fault of x, not of labels counted against them (a flat
    // 8 x 8 input was one row of 64, and labels of 8 were "must hold 1 labels").
    if (isA(encoder, Encoder) && t.cols !== encoder.inputs)
      argError(
        'DIMENSION_MISMATCH',
        op,
        'x',
        `has ${t.cols} columns but the encoder takes ${encoder.inputs}.`,
      );
    // Read once, at the call, into the checked copy: labels changed while the model runs change
    // nothing (they were read after it, unchecked), and a getter is never read twice (a second
    // read that threw escaped raw).
    labels = checkLabels(op, 'labels', labels);
    if (labels.length !== rows) {
      argError('SHAPE_MISMATCH', op, 'labels', `must hold ${rows} labels.`);
    }
    // A label no class has can match no prediction: it lowered the accuracy silently.
    for (let i = 0; i < rows; i++) {
      const y = labels[i];
      if (!Number.isInteger(y) || y < 0 || y >= this.classes)
        argError(
          'INVALID_ARGUMENT',
          op,
          'labels',
          `must be classes in [0, ${this.classes}), got ${valueText(y)} at ${i}.`,
        );
    }
    const predicted = await this.#predict(op, source, encoder, x);
    return classificationAccuracy(predicted, labels);
  }
}

/** Creates a {@link CosineClassifier} with seeded standard-normal class vectors. */
export function createCosineClassifier(options: CosineClassifierOptions): CosineClassifier {
  options = checkObject('createCosineClassifier', 'options', options, false, [
    'classes',
    'dim',
    'seed',
    'precision',
  ]);
  const { classes, dim, seed = 1, precision = 'float32' } = options;
  checkSeed('createCosineClassifier', 'seed', seed);
  if (precision !== 'float32' && precision !== 'float64')
    argError(
      'INVALID_ARGUMENT',
      'createCosineClassifier',
      'precision',
      `must be 'float32' or 'float64', got ${valueText(precision)}.`,
    );
  const n = Number.isInteger(classes) && Number.isInteger(dim) && classes > 0 && dim > 0 ? classes * dim : 0;
  checkLayerSize(
    'createCosineClassifier',
    'classes',
    n,
    `class vectors (${valueText(classes)} x ${valueText(dim)})`,
  );
  const w = floats(
    precision,
    n,
    'createCosineClassifier',
    'classes',
    `class vectors (${valueText(classes)} x ${valueText(dim)})`,
  );
  const rng = createRng(seed);
  for (let i = 0; i < n; i++) w[i] = rng.normal();
  return new CosineClassifier(classes, dim, w);
}

/**
 * Share of positions where `predicted` equals `labels`. Both must be arrays of finite numbers
 * (`INVALID_TYPE` / `NON_FINITE` naming `'classificationAccuracy'` and the argument), of one length.
 */
export function classificationAccuracy(predicted: ArrayLike<number>, labels: ArrayLike<number>): number {
  predicted = checkLabels('classificationAccuracy', 'predicted', predicted);
  labels = checkLabels('classificationAccuracy', 'labels', labels);
  if (predicted.length === 0)
    argError('EMPTY_INPUT', 'classificationAccuracy', 'predicted', 'must not be empty.');
  if (predicted.length !== labels.length) {
    argError(
      'SHAPE_MISMATCH',
      'classificationAccuracy',
      'labels',
      `has ${labels.length} values but predicted has ${predicted.length}.`,
    );
  }
  let right = 0;
  for (let i = 0; i < labels.length; i++) if (predicted[i] === labels[i]) right++;
  return right / labels.length;
}

/** Options of {@link normFaceLoss}. */
export interface NormFaceLossOptions {
  /** Multiplies the cosines (inverse temperature); defaults to 20 (temperature 0.05). */
  scale?: number;
}

/** Options of {@link cosFaceLoss} and {@link arcFaceLoss}. */
export interface MarginLossOptions {
  /** Multiplies the cosines; defaults to 30. */
  scale?: number;
  /**
   * CosFace: subtracted from the true class's cosine, `0 <= margin < 2`, default 0.35.
   * ArcFace: added to the true class's angle in radians, `0 <= margin < π/2`, default 0.5.
   */
  margin?: number;
}

/**
 * The true class's logit (over `scale`) from its cosine `cos` and `sin`, the sine of the angle (from
 * the rows themselves, exact where `cos` rounds to ±1): `[value, slope, angular]`. The gradient of
 * the value with respect to the unit embedding is `slope` times the plain cosine's (the part the
 * products carry) plus `angular` times the unit vector from the embedding towards its class vector,
 * in the plane of the two (added per row): ArcFace's `sin(m) cos θ / sin θ` times `w - cos θ a`,
 * whose length is `sin θ`, written without the division, which float32 cosines near 1 made
 * 10-1000 times too large.
 */
type Target = (cos: number, sin: number) => [logitCos: number, dLogitCos: number, angular: number];

/**
 * For each unit row `i` of `a` and its class's unit row `labels[i]` of `w`, in float64: row `i` of
 * `toClass` the unit direction from the row towards the class vector in their plane
 * (`w - (a · w) a`, normalised), of `toRow` the one back (`a - (a · w) w`), zeros where they are
 * parallel. Returns the sines of their angles, `NaN` where either row is zero (it has no angle).
 */
function angles(
  a: Vec,
  w: Vec,
  labels: ArrayLike<number>,
  rows: number,
  cols: number,
  toClass: Float64Array,
  toRow: Float64Array,
): Float64Array {
  const sines = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    const b = labels[i]! * cols;
    let c = 0;
    let aa = 0;
    let ww = 0;
    for (let j = 0; j < cols; j++) {
      c += a[o + j] * w[b + j];
      aa += a[o + j] * a[o + j];
      ww += w[b + j] * w[b + j];
    }
    if (aa === 0 || ww === 0) {
      sines[i] = Number.NaN;
      continue;
    }
    let pp = 0;
    let qq = 0;
    for (let j = 0; j < cols; j++) {
      const p = w[b + j] - c * a[o + j];
      const q = a[o + j] - c * w[b + j];
      toClass[o + j] = p;
      toRow[o + j] = q;
      pp += p * p;
      qq += q * q;
    }
    const sp = Math.sqrt(pp);
    const sq = Math.sqrt(qq);
    sines[i] = sp;
    for (let j = 0; j < cols; j++) {
      toClass[o + j] = sp > 0 ? toClass[o + j] / sp : 0;
      toRow[o + j] = sq > 0 ? toRow[o + j] / sq : 0;
    }
  }
  return sines;
}

function marginLoss(
  op: string,
  name: string,
  classifier: CosineClassifier,
  scale: number,
  target: Target,
  angular = false,
): Loss {
  if (!isA(classifier, CosineClassifier)) {
    argError('INVALID_TYPE', op, 'classifier', 'must be a CosineClassifier (createCosineClassifier).');
  }
  if (!(checkNumber(op, 'scale', scale, 0, Number.MAX_VALUE) > 0))
    argError('INVALID_ARGUMENT', op, 'scale', `must be > 0, got ${valueText(scale)}.`);
  checkFloat32Scale(op, scale);
  const { classes } = classifier;
  return builtIn({
    name,
    sampling: 'labels',
    parameters: () => classifier.parameters(),
    async compute(ops: DenseOps, input): Promise<LossResult> {
      checkOps(op, ops);
      const { a, rows, cols, labels, normalized } = checkLossInput(op, input, false);
      if (cols !== classifier.dim) {
        argError(
          'DIMENSION_MISMATCH',
          op,
          'a',
          `has ${cols}-wide rows but the classifier has ${classifier.dim}.`,
        );
      }
      if (!labels || labels.length !== rows)
        argError('SHAPE_MISMATCH', op, 'labels', `must hold ${rows} labels.`);
      for (let i = 0; i < rows; i++) {
        const y = labels[i];
        if (!Number.isInteger(y) || y < 0 || y >= classes) {
          argError(
            'INVALID_ARGUMENT',
            op,
            'labels',
            `must be integers in [0, ${classes}), got ${valueText(y)} at row ${i}.`,
          );
        }
      }
      // Unit rows (input.normalized: the encoder normalised them) are used as they lie; their
      // gradient goes back unprojected, the encoder's normalisation backward projecting it.
      if (normalized === true) checkUnitRows(op, 'a', a, rows, cols);
      const na = normalized === true ? undefined : normalizeRowsForward(a, rows, cols, ops.alloc, op, 'a');
      const ya = na ? na.y : a;
      const nw = normalizeRowsForward(classifier.weights, classes, cols, ops.alloc, op, 'classifier');
      const cos = await ops.matmul(ya, rows, cols, nw.y, classes, cols, false, true);
      // An angular margin needs each row's angle to its class vector from the rows themselves (a
      // float32 cosine near 1 does not resolve it), and the directions its gradient takes.
      const toClass = angular ? new Float64Array(rows * cols) : undefined;
      const toRow = angular ? new Float64Array(rows * cols) : undefined;
      const sines = angular ? angles(ya, nw.y, labels, rows, cols, toClass!, toRow!) : undefined;
      // The margin applied to the true class's cosine (the matrix is this call's own), then the
      // softmax: the backend's kernel in float32 (the same bits on every backend), float64 here
      // otherwise; the margin's slope scales the true class's gradient after it.
      const targets = new Int32Array(rows);
      const slopes = new Float64Array(rows);
      const bends = new Float64Array(rows);
      for (let i = 0; i < rows; i++) {
        const at = i * classes + labels[i];
        const x = clampCos(cos[at]);
        const sin = sines && !Number.isNaN(sines[i]) ? sines[i] : Math.sqrt(Math.max(1 - x * x, 0));
        targets[i] = labels[i];
        [cos[at], slopes[i], bends[i]] = target(cos[at], sin);
      }
      let dCos: Vec;
      let total = 0;
      if (ops.softmaxCrossEntropy) {
        const r = await ops.softmaxCrossEntropy(cos, rows, classes, targets, scale, 1 / rows);
        dCos = r.grad;
        for (let i = 0; i < rows; i++) total += r.losses[i];
        if (!Number.isFinite(total))
          argError(
            'NON_FINITE',
            op,
            'scale',
            `${scale} makes the loss overflow (${total}); use a smaller scale.`,
          );
      } else {
        dCos = ops.alloc(rows * classes);
        total = softmaxRows(cos, dCos, rows, classes, labels, scale);
      }
      const bent = new Float64Array(rows);
      for (let i = 0; i < rows; i++) {
        const at = i * classes + targets[i];
        bent[i] = dCos[at] * bends[i];
        dCos[at] *= slopes[i];
      }
      const dA = await ops.matmul(dCos, rows, classes, nw.y, classes, cols, false, false);
      const dW = await ops.matmul(dCos, rows, classes, ya, rows, cols, true, false);
      if (angular) {
        // The angular part, along each row's direction to its class vector (and back).
        for (let i = 0; i < rows; i++) {
          if (bent[i] === 0) continue;
          const a = i * cols;
          const w = targets[i] * cols;
          for (let j = 0; j < cols; j++) {
            dA[a + j] += bent[i] * toClass![a + j];
            dW[w + j] += bent[i] * toRow![a + j];
          }
        }
      }
      return {
        loss: total / rows,
        gradA: na ? normalizeRowsBackward(na, dA, rows, cols, ops.alloc, op, 'a') : dA,
        gradB: ops.alloc(0),
        gradParams: [normalizeRowsBackward(nw, dW, classes, cols, ops.alloc, op, 'classifier')],
      };
    },
  });
}

/**
 * The margin losses' softmax in float64 (the gradient-check path): writes dL/dcos into `dCos` and
 * returns the summed cross-entropy.
 */
function softmaxRows(
  cos: Vec,
  dCos: Vec,
  rows: number,
  classes: number,
  labels: ArrayLike<number>,
  scale: number,
): number {
  const z = new Float64Array(classes);
  let total = 0;
  for (let i = 0; i < rows; i++) {
    const o = i * classes;
    const y = labels[i];
    let max = -Infinity;
    for (let c = 0; c < classes; c++) {
      z[c] = scale * cos[o + c];
      if (z[c] > max) max = z[c];
    }
    const trueLogit = z[y];
    let sum = 0;
    for (let c = 0; c < classes; c++) {
      z[c] = Math.exp(z[c] - max);
      sum += z[c];
    }
    // (max - trueLogit) first: added to a max of 1e16 (a large scale), log(sum) < ln(classes) was
    // rounded away, and a float64 loss of ln 2 came out 0.
    total += max - trueLogit + Math.log(sum);
    for (let c = 0; c < classes; c++) dCos[o + c] = (scale * (z[c] / sum - (c === y ? 1 : 0))) / rows;
  }
  return total;
}

/**
 * NormFace (normalised softmax, Wang et al. 2017): cross-entropy of the logits
 * `scale * cos(f(x), w_c)` against the label, averaged over the batch.
 */
export function normFaceLoss(classifier: CosineClassifier, options: NormFaceLossOptions = {}): Loss {
  options = checkObject('normFaceLoss', 'options', options, true, ['scale']);
  return marginLoss('normFaceLoss', 'normface', classifier, given(options.scale, 20), (c) => [c, 1, 0]);
}

/**
 * CosFace (additive cosine margin, Wang et al. 2018): NormFace with the true class's logit
 * `scale * (cos - margin)`, so a row must beat the other classes by `margin` in cosine.
 */
export function cosFaceLoss(classifier: CosineClassifier, options: MarginLossOptions = {}): Loss {
  options = checkObject('cosFaceLoss', 'options', options, true, ['scale', 'margin']);
  const m = checkNumber('cosFaceLoss', 'margin', given(options.margin, 0.35), 0, 2, true);
  // At m >= 2 the true class's cos - m <= -1 never beats another class: the loss cannot fall.
  if (!(m >= 0 && m < 2))
    argError('INVALID_ARGUMENT', 'cosFaceLoss', 'margin', `must be in [0, 2), got ${valueText(m)}.`);
  return marginLoss('cosFaceLoss', 'cosface', classifier, given(options.scale, 30), (c) => [c - m, 1, 0]);
}

/**
 * ArcFace (additive angular margin, Deng et al. 2019): NormFace with the true class's logit
 * `scale * cos(θ + margin)`, θ the angle between the embedding and its class vector. Where
 * `θ + margin` would pass π the logit continues as a straight line of slope 1 in cos θ, so it
 * stays monotonic (the textbook formula turns back up there).
 */
export function arcFaceLoss(classifier: CosineClassifier, options: MarginLossOptions = {}): Loss {
  options = checkObject('arcFaceLoss', 'options', options, true, ['scale', 'margin']);
  const m = checkNumber('arcFaceLoss', 'margin', given(options.margin, 0.5), 0, Math.PI / 2, true);
  // At m >= π/2 a row lying exactly on its class vector scores cos(m) <= 0: no better than a
  // class orthogonal to it, so the margin defeats the loss.
  if (!(m >= 0 && m < Math.PI / 2)) {
    argError('INVALID_ARGUMENT', 'arcFaceLoss', 'margin', `must be in [0, π/2), got ${valueText(m)}.`);
  }
  const cm = Math.cos(m);
  const sm = Math.sin(m);
  const threshold = -cm; // cos(π - m)
  // d cos(θ + m) = cos m d cos θ - sin m d sin θ, and along the unit row d sin θ = -cos θ times the
  // unit direction to w_c: a bounded gradient however small θ is (0 where the row lies on w_c).
  return marginLoss(
    'arcFaceLoss',
    'arcface',
    classifier,
    given(options.scale, 30),
    (c, sin) => {
      const x = clampCos(c);
      if (x <= threshold) return [-1 + (x - threshold), 1, 0];
      return [x * cm - sin * sm, cm, x * sm];
    },
    true,
  );
}
