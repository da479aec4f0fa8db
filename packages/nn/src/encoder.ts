import type { CosineKit, TensorInput } from '@cosinekit/core';
import { createCosineKit, Tensor } from '@cosinekit/core';
import type { Kernels, Matrix } from '@cosinekit/core/backend';
import {
  argError,
  argErrorOf,
  checkFinite,
  errorText,
  isArrayArg,
  isCheckedKernelTable,
  isCosineKitError,
  KERNEL_NAMES,
  reading,
  refuseUnknownOptions,
  toTensor,
  valueText,
} from '@cosinekit/core/backend';
import {
  allocationFailure,
  cacheRows,
  checkLayerSize,
  checkObject,
  checkOps,
  checkParameters,
  checkPrecision,
  checkRowsOf,
  checkSeed,
  fields,
  floats,
  given,
  HUGE,
  isA,
  isShape3,
  memoryError,
  ROW_FLOOR,
  refuseTinyRows,
  renamedError,
  rowMagnitudes,
  rowPeak,
  TINY,
  tableOverflow,
} from './check.js';
import {
  Conv2dLayer,
  type Conv2dSpec,
  FlattenLayer,
  type FlattenSpec,
  Pool2dLayer,
  type Pool2dSpec,
  type Shape3,
} from './conv.js';
import { savedGeometry } from './layer-io.js';
import { DenseLayer, type DenseSpec, type Layer, type LayerCache } from './layers.js';
import { type NormalizedRows, normalizeRowsBackward, normalizeRowsForward } from './normalize.js';
import { type DenseOps, float64Ops, kernelOps, type Precision, type Vec } from './ops.js';
import { createRng } from './rng.js';

/** One layer of {@link createEncoder}: dense (the default `type`), convolution, pooling or flatten. */
export type LayerSpec = DenseSpec | Conv2dSpec | Pool2dSpec | FlattenSpec;

/** Options of {@link createEncoder}. */
export interface EncoderOptions {
  /** Input width (e.g. 784 for 28x28 pixels). */
  inputs: number;
  /**
   * The input as an image, `[height, width, channels]` (channels last, so a row is stored
   * pixel by pixel); its product must be `inputs`. Needed by a first convolution or pooling
   * layer; without it the input is `[1, 1, inputs]`.
   */
  inputShape?: readonly [number, number, number];
  /** The layers, first to last; the last one's output is the embedding. */
  layers: readonly LayerSpec[];
  /**
   * L2-normalise the output rows, so embeddings lie on the unit sphere. Defaults to false. Refused
   * (`INVALID_ARGUMENT`) for a 1-wide output, whose normalised rows are +-1: nothing to learn.
   */
  normalize?: boolean;
  /** Seed of the initialisation; defaults to 1. Equal seeds give equal weights. */
  seed?: number;
  /** `'float32'` (default, for backends) or `'float64'` (for gradient checks). */
  precision?: Precision;
}

/**
 * Where kernels come from: a kit (`createCosineKit(...)`) or a kernel table. A table a kit lent
 * (`kit.kernels()`) is used as it is; any other (a backend's own `kernels`, `referenceKernels`)
 * runs behind the checks a kit's table has, as a kit on a backend of those kernels would: a kernel
 * that throws or answers the wrong length is `BACKEND_ERROR` naming it, a bad input is named as
 * the kit names it (a raw `TypeError` escaped, and a short answer was blamed on the embeddings).
 */
export type KernelSource = CosineKit | Kernels;

/**
 * The checked table of each raw kernel table given (see {@link KernelSource}), with the kernel
 * functions it was made from: a table whose kernels were replaced since gets a new one (the first
 * was made from the table as it was then, and went on running the old kernels).
 */
const GUARDED = new WeakMap<object, { fns: unknown[]; table: Promise<Kernels> }>();

/**
 * Resolves a {@link KernelSource} to its kernel table. Anything else is refused with
 * `INVALID_TYPE` naming `op` and `arg`: the operation and argument the caller was given it as.
 */
export async function kernelsOf(source: KernelSource, op = 'kernelsOf', arg = 'source'): Promise<Kernels> {
  const kit = source as CosineKit | null;
  // What it is, read once where a revoked Proxy or a throwing getter is named (it escaped raw).
  const [isKit, isTable] =
    typeof kit === 'object' && kit !== null
      ? reading(op, arg, () => {
          const lends = typeof kit.kernels === 'function' && typeof kit.ready === 'function';
          return [lends, !lends && typeof (source as Kernels).matmul === 'function'];
        })
      : [false, false];
  if (typeof kit === 'object' && kit !== null) {
    if (isKit) {
      try {
        return await kit.kernels();
      } catch (e) {
        // A kit that cannot lend its kernels (a worker kit's are UNSUPPORTED) named 'kernels' and
        // no argument: named after the call and the kit handed to it.
        if (isCosineKitError(e) && e.op === 'kernels')
          throw argErrorOf(e.code, op, arg, `cannot lend its kernels: ${e.message}`, e);
        throw e;
      }
    }
    if (isTable) {
      if (isCheckedKernelTable(source)) return source as Kernels;
      const fns = reading(op, arg, () => KERNEL_NAMES.map((k) => (source as Partial<Kernels>)[k]));
      const held = GUARDED.get(source);
      let table = held?.table;
      if (table === undefined || held!.fns.some((f, i) => f !== fns[i])) {
        try {
          table = createCosineKit({
            backend: { name: 'kernel table', kernels: source as Kernels },
          }).kernels();
        } catch (e) {
          table = Promise.reject(e);
        }
        table.catch(() => undefined);
        GUARDED.set(source, { fns, table });
      }
      // A table a kit cannot take (a kernel that is no function) is named as the caller gave it,
      // not as the kit made for it ('backend.kernels.addBias' passed to 'createCosineKit').
      return table.catch((e: unknown) => {
        throw argErrorOf(
          isCosineKitError(e) ? e.code : 'INVALID_TYPE',
          op,
          arg,
          `is a kernel table no kit can use: ${isCosineKitError(e) ? e.message : errorText(e)}`,
          e,
        );
      });
    }
  }
  return argError(
    'INVALID_TYPE',
    op,
    arg,
    `must be a kit (createCosineKit) or a kernel table, got ${kit === null ? 'null' : typeof kit === 'object' ? 'an object without kernels' : typeof kit}.`,
  );
}

/** What {@link Encoder.forward} keeps for {@link Encoder.backward}. */
export interface EncoderCache {
  readonly rows: number;
  readonly layers: readonly LayerCache[];
  readonly normalized: NormalizedRows | undefined;
  /** The embeddings: `rows x outputs`. */
  readonly out: Vec;
}

/**
 * The encoder whose {@link Encoder.forward} made each cache: `backward` takes only its own. Another
 * encoder's cache of the same layer shapes ran backward through that encoder's layers (its
 * normalisation included) without a word, gradients up to 1.28 off.
 */
const CACHE_OWNER = new WeakMap<object, Encoder>();

/** Gradients of an encoder, in the order of {@link Encoder.parameters}. */
export interface EncoderGrads {
  readonly params: Vec[];
  /** dL/dinput, when asked for. */
  readonly input: Vec | undefined;
}

/**
 * The DLCS encoder f: a stack of layers (dense, convolution, pooling, flatten) with an optional
 * L2-normalised output. Train it with a cosine loss, then score inputs by the cosine of their
 * embeddings ({@link CosineHead}).
 */
export class Encoder {
  readonly layers: readonly Layer[];
  readonly normalize: boolean;

  /** Wraps existing layers; each layer's input width must be the previous layer's units. */
  constructor(layers: readonly Layer[], normalize: boolean) {
    // isArrayArg: a revoked Proxy is named, not a raw TypeError from Array.isArray.
    if (!isArrayArg('Encoder', 'layers', layers))
      argError('INVALID_TYPE', 'Encoder', 'layers', `must be an array of layers, got ${typeof layers}.`);
    if (layers.length === 0) argError('EMPTY_INPUT', 'Encoder', 'layers', 'must hold at least one layer.');
    if (typeof normalize !== 'boolean')
      argError('INVALID_TYPE', 'Encoder', 'normalize', `must be true or false, got ${typeof normalize}.`);
    for (let i = 0; i < layers.length; i++) {
      const l = layers[i] as Partial<Layer> | null;
      if (typeof l !== 'object' || l === null || typeof l.forward !== 'function')
        argError(
          'INVALID_TYPE',
          'Encoder',
          'layers',
          `holds ${l === null ? 'null' : typeof l} at ${i}, not a layer.`,
        );
    }
    for (let i = 1; i < layers.length; i++) {
      if (layers[i].inputs !== layers[i - 1].units) {
        argError(
          'DIMENSION_MISMATCH',
          'Encoder',
          'layers',
          `layer ${i} takes ${layers[i].inputs} inputs but layer ${i - 1} gives ${layers[i - 1].units}.`,
        );
      }
      // A convolution or a pooling layer reads its input as an image: the previous layer's output
      // must be that image, not only as many values (a pool reading an 8 x 8 x 3 output as
      // 4 x 16 x 3 once loaded and ran on pixels in the wrong places).
      const image = (layers[i] as Partial<{ inputShape: readonly number[] }>).inputShape;
      const prev = layers[i - 1].outputShape;
      if (image && !(image[0] === prev[0] && image[1] === prev[1] && image[2] === prev[2])) {
        argError(
          'SHAPE_MISMATCH',
          'Encoder',
          'layers',
          `layer ${i} (${layers[i].kind}) reads images of ${image.join(' x ')} but layer ${i - 1} (${layers[i - 1].kind}) gives ${prev.join(' x ')}.`,
        );
      }
    }
    this.layers = layers;
    this.normalize = normalize;
  }

  /** Input width. */
  get inputs(): number {
    return this.layers[0].inputs;
  }

  /** Embedding width. */
  get outputs(): number {
    return this.layers[this.layers.length - 1].units;
  }

  /** The precision the weights are stored in. */
  get precision(): Precision {
    return this.layers[0].weights instanceof Float64Array ? 'float64' : 'float32';
  }

  /**
   * The trainable arrays, `[W0, b0, W1, b1, ...]` (layers without bias contribute only W,
   * pooling and flatten nothing).
   */
  parameters(): Vec[] {
    return this.layers.flatMap((l) => l.parameters());
  }

  /** Number of trainable values. */
  get parameterCount(): number {
    return this.parameters().reduce((s, p) => s + p.length, 0);
  }

  /** A deep copy in the given precision (float64 copies are what the gradient checks use). */
  clone(precision: Precision = this.precision): Encoder {
    checkPrecision('clone', precision);
    return new Encoder(
      this.layers.map((l) => l.clone(precision)),
      this.normalize,
    );
  }

  /**
   * Copies the weights of `other` into this encoder: the same architecture (every layer's kind,
   * widths, geometry, activation and bias, and `normalize`), else `SHAPE_MISMATCH`. Not while a
   * `train` call steps this encoder (`INVALID_ARGUMENT`: the copy would land between its steps).
   */
  copyFrom(other: Encoder): void {
    if (!isA(other, Encoder))
      argError(
        'INVALID_TYPE',
        'copyFrom',
        'other',
        `must be an Encoder, got ${other === null ? 'null' : typeof other}.`,
      );
    if (TRAINING.has(this))
      argError(
        'INVALID_ARGUMENT',
        'copyFrom',
        'this',
        takenBy(
          this,
          'is being trained by a train call: await it first (the copied weights would land between its steps).',
        ),
      );
    const a = this.parameters();
    const b = other.parameters();
    // Lengths alone let a 2 -> 3 layer's weights into a 3 -> 2 one, and widths alone a 3 x 1
    // convolution's into a 1 x 3 one (the same weights, another model).
    const mine = architecture(this);
    const theirs = architecture(other);
    const at = mine.findIndex((l, i) => l !== theirs[i]);
    if (at >= 0 || mine.length !== theirs.length || a.some((p, i) => p.length !== b[i].length)) {
      const where =
        at >= 0
          ? `${at === 0 ? 'normalize' : `layer ${at - 1}`}: ${theirs[at] ?? 'none'}, not ${mine[at]}`
          : 'its layers';
      argError('SHAPE_MISMATCH', 'copyFrom', 'other', `has a different architecture (${where}).`);
    }
    for (let i = 0; i < a.length; i++) a[i].set(b[i]);
  }

  /** The forward pass of `rows` input rows through `ops` (the training path). */
  async forward(ops: DenseOps, x: Vec, rows: number): Promise<EncoderCache> {
    // A null ops or x threw a raw TypeError.
    checkOps('Encoder.forward', ops);
    checkRowsOf('Encoder.forward', 'x', x, rows, this.inputs);
    // As embed and train refuse them: float64 rows on float32 ops were rounded without a word.
    if (isA(x, Float64Array) && reading('Encoder.forward', 'ops', () => ops.precision) === 'float32')
      argError(
        'INVALID_TYPE',
        'Encoder.forward',
        'x',
        'holds float64 values, which float32 ops would round without a word: pass a Float32Array, or use float64Ops.',
      );
    const caches: LayerCache[] = [];
    let h = x;
    for (const layer of this.layers) {
      const c = await layer.forward(ops, h, rows);
      caches.push(c);
      h = c.out;
    }
    const normalized = this.normalize
      ? normalizeRowsForward(h, rows, this.outputs, ops.alloc, 'Encoder.forward', 'embeddings')
      : undefined;
    const cache: EncoderCache = { rows, layers: caches, normalized, out: normalized ? normalized.y : h };
    CACHE_OWNER.set(cache, this);
    return cache;
  }

  /**
   * Gradients of all parameters from dL/d(embeddings); `wantInput` adds dL/dx. `cache` is what this
   * encoder's own {@link Encoder.forward} returned: another encoder's, or a copy, is
   * `INVALID_ARGUMENT` naming `cache`.
   */
  async backward(ops: DenseOps, cache: EncoderCache, dOut: Vec, wantInput = false): Promise<EncoderGrads> {
    checkOps('Encoder.backward', ops);
    if (typeof cache !== 'object' || cache === null)
      argError(
        'INVALID_TYPE',
        'Encoder.backward',
        'cache',
        `must be what forward() returned, got ${valueText(cache)}.`,
      );
    if (CACHE_OWNER.get(cache) !== this)
      argError(
        'INVALID_ARGUMENT',
        'Encoder.backward',
        'cache',
        CACHE_OWNER.has(cache)
          ? "is another encoder's (what its forward() returned): its gradients are that model's, not this one's."
          : 'must be what forward() returned (this object was not).',
      );
    // One gradient per embedding value: a short or long one was read past or short (no error).
    checkRowsOf('Encoder.backward', 'dOut', dOut, cacheRows('Encoder.backward', cache), this.outputs);
    let g = cache.normalized
      ? normalizeRowsBackward(
          cache.normalized,
          dOut,
          cache.rows,
          this.outputs,
          ops.alloc,
          'Encoder.backward',
          'embeddings',
          'dOut',
        )
      : dOut;
    const perLayer: Vec[][] = [];
    for (let i = this.layers.length - 1; i >= 0; i--) {
      const layer = this.layers[i];
      const r = await layer.backward(ops, cache.layers[i], g, i > 0 || wantInput);
      perLayer[i] = [r.dW, r.db].slice(0, layer.parameters().length);
      if (r.dx) g = r.dx;
    }
    return { params: perLayer.flat(), input: wantInput ? g : undefined };
  }

  /**
   * Embeds rows of inputs on a backend, in batches of `batchSize` rows (default 1024), and returns
   * a float32 tensor `rows x outputs`.
   */
  async embed(source: KernelSource, x: TensorInput, batchSize = 1024): Promise<Tensor> {
    if (this.precision !== 'float32') {
      argError('INVALID_TYPE', 'embed', 'encoder', "is float64; embed a float32 clone (clone('float32')).");
    }
    // 0 looped forever (s += 0), NaN returned zeros, a fraction sliced rows apart.
    if (!(Number.isInteger(batchSize) && batchSize >= 1))
      argError(
        'INVALID_ARGUMENT',
        'embed',
        'batchSize',
        `must be a positive integer, got ${valueText(batchSize)}.`,
      );
    // The rows and the weights as they are at the call (see `ownRows`, `settled`): the batches are
    // read later, between awaits, where a caller's change or a running train used to show through.
    const t: Matrix = ownRows(x, 'embed', 'x');
    const model = settled(this);
    if (t.cols !== this.inputs) {
      argError(
        'DIMENSION_MISMATCH',
        'embed',
        'x',
        `has ${t.cols} columns but the encoder takes ${this.inputs}.`,
      );
    }
    checkFinite('embed', 'x', t);
    refuseTinyRows('embed', 'x', t.data, t.cols);
    // Each batch's arrays are copied out and then recycled for the next batch.
    const ops = kernelOps(await kernelsOf(source, 'embed', 'source'), { reuse: true });
    let wide: Encoder | undefined;
    const out = floats(
      'float32',
      t.rows * this.outputs,
      'embed',
      'x',
      `embeddings (${t.rows} x ${this.outputs})`,
    ) as Float32Array;
    for (let s = 0; s < t.rows; s += batchSize) {
      const e = Math.min(t.rows, s + batchSize);
      const rows = t.data.subarray(s * this.inputs, e * this.inputs);
      const c = await model.forward(ops, rows, e - s).catch(async (err: unknown) => {
        // A batch's activations this process cannot allocate (they escaped as a raw RangeError).
        const refused = allocationFailure(err);
        if (refused)
          throw memoryError(
            refused,
            'embed',
            'batchSize',
            `embed with a smaller batchSize than ${batchSize}`,
          );
        // A backend disposed under the call: named as embed's, not the kernel's that found it.
        if (isCosineKitError(err, 'DISPOSED') && err.op !== 'embed')
          throw argErrorOf('DISPOSED', 'embed', 'source', `lost its backend: ${err.message}`, err);
        // A kernel that met a non-finite value: its answer checked (BACKEND_ERROR), or its input
        // named by the kernel table (NON_FINITE naming the kernel, not embed).
        const kernelFault =
          isCosineKitError(err, 'BACKEND_ERROR') ||
          (isCosineKitError(err) && (err.code === 'NON_FINITE' || tableOverflow(err)) && err.op !== 'embed');
        // Weights that are not finite (set by the caller, or a diverged run) are the encoder's.
        if (kernelFault) checkParameters('embed', 'encoder', model.parameters());
        // A product that overflowed on rows of extreme magnitude is the caller's, not the backend's.
        const [lo, hi] = rowMagnitudes(rows, this.inputs);
        if (kernelFault && (hi > HUGE || lo < TINY))
          argError(
            'INVALID_ARGUMENT',
            'embed',
            'x',
            `holds rows of magnitude ${hi > HUGE ? `up to ${hi}` : `down to ${lo}`}, past what float32 layers hold (2^-64 to 2^64 per row): a product overflowed. Scale the rows as the training rows were. (${(err as Error).message})`,
            err,
          );
        // So are finite weights so large that a layer's product overflows float32: beyond 2^64,
        // or smaller ones whose products grow past float32 layer after layer (as float64 says).
        const w = largestParameter(model.parameters());
        const peak = kernelFault && w <= HUGE ? await peak64(model, rows, e - s) : 0;
        if (kernelFault && (w > HUGE || peak > 2 ** 127))
          argError(
            'NON_FINITE',
            'embed',
            'encoder',
            `holds weights up to ${w}${peak > 0 ? `, whose layers reach ${peak} on these rows in float64` : ''}, past what float32 layers hold: a layer's product overflowed. (${(err as Error).message})`,
            err,
          );
        // Anything else a kernel raised is named after embed, as the head and classifier name theirs
        // (a layer's product, matmul's 'a', is embed's rows).
        // A backend not initialised is the source's (it named 'backend', no argument of embed).
        throw renamedError(err, 'embed', { a: 'x', backend: 'source' });
      });
      out.set(c.out, s * this.outputs);
      const faint = faintRows(model, c, e - s);
      ops.release?.();
      // Taken again in float64 (see faintRows): the same model, the exact direction.
      if (faint.length > 0) {
        const [n, m] = [this.inputs, this.outputs];
        wide ??= model.clone('float64');
        const x64 = new Float64Array(faint.length * n);
        for (let i = 0; i < faint.length; i++)
          x64.set(rows.subarray(faint[i] * n, (faint[i] + 1) * n), i * n);
        const y = (await wide.forward(float64Ops, x64, faint.length)).out;
        for (let i = 0; i < faint.length; i++) out.set(y.subarray(i * m, (i + 1) * m), (s + faint[i]) * m);
      }
    }
    return new Tensor(out, t.rows, this.outputs);
  }
}

/**
 * The rows of a float32 forward pass (`c`, `n` rows of `model`) whose activations fell below
 * float32's normal range at some layer ({@link ROW_FLOOR}): a model whose layers shrink what they
 * are given (weights of 1e-8 or 1e-15, say) left them among the subnormals, which keep few bits or
 * none, and a non-zero row embedded as another direction, or as zero, without a word. An exact
 * zero counts when the layer's input row was not zero and its largest product was below the floor
 * too (every product underflowed), not when a ReLU, a zero input row or a cancellation gave it.
 */
function faintRows(model: Encoder, c: EncoderCache, n: number): number[] {
  const faint: number[] = [];
  // Only layers with weights: products are where values underflow (pooling and flattening pass
  // on what they are given, and a weighted layer after them is checked).
  const weights = model.layers.map((l) => l.parameters()[0]);
  const weightPeak: number[] = [];
  for (let r = 0; r < n; r++) {
    for (let l = 0; l < c.layers.length; l++) {
      const w = weights[l];
      if (w === undefined) continue;
      const { x, out } = c.layers[l];
      const cols = out.length / n;
      // Most rows have a value past the floor among their first few: the scan stops there.
      if (reaches(out, r, cols)) continue;
      if (rowPeak(out, r, cols) === 0) {
        // A zero input row (a ReLU's, a padding row's) gives a zero output by right.
        const xp = rowPeak(x, r, x.length / n);
        weightPeak[l] ??= rowPeak(w, 0, w.length);
        if (xp === 0 || !(xp * weightPeak[l] < ROW_FLOOR)) continue;
      }
      faint.push(r);
      break;
    }
  }
  return faint;
}

/** Whether row `r` of `v` (rows `cols` wide) holds a value of at least {@link ROW_FLOOR} in magnitude. */
function reaches(v: Vec, r: number, cols: number): boolean {
  for (let j = r * cols, end = j + cols; j < end; j++) if (Math.abs(v[j]) >= ROW_FLOOR) return true;
  return false;
}

/** What a saved file records of `e`'s architecture: `normalize`, then each layer, as text. */
function architecture(e: Encoder): string[] {
  return [
    `normalize ${e.normalize}`,
    ...e.layers.map((l) =>
      JSON.stringify({
        type: l.constructor.name,
        inputs: l.inputs,
        units: l.units,
        activation: l.activation,
        bias: l.hasBias,
        ...savedGeometry(l),
      }),
    ),
  ];
}

/** Encoders a {@link train} call is stepping now: one at a time, and others read them as they were. */
export const TRAINING = new WeakSet<Encoder>();

/**
 * The encoders, optimisers and loss arrays of a train call that was aborted while a step of the
 * caller's own was still running: taken until it settles. A second train was told to "await that
 * one first", which had already settled.
 */
export const SETTLING = new WeakSet<object>();

/** Why `x`, taken by a train call, is: a running train (`running`), or an aborted one's step still running. */
export function takenBy(x: object, running: string): string {
  return SETTLING.has(x)
    ? "is still taken by an aborted train call: a step of the caller's own loss or optimizer it started has not settled, and may still change the weights. Try again once it has."
    : running;
}

/**
 * `encoder` as it is now: itself, or a copy of its weights while a `train` call steps it, so a
 * call that awaits between batches (embed, a classifier's or a head's) sees one version of the
 * model throughout (it mixed layers of different steps).
 */
export function settled(encoder: Encoder): Encoder {
  return TRAINING.has(encoder) ? encoder.clone() : encoder;
}

/** `x` as a tensor of the caller's rows copied now: changes made after the call change nothing. */
export function ownRows(x: TensorInput, op: string, arg: string): Tensor {
  const t = toTensor(x, op, arg);
  // An array of rows was converted into a new buffer already; a Tensor or a typed array is the caller's.
  return ArrayBuffer.isView(x) || isA(x, Tensor) ? new Tensor(t.data.slice(), t.rows, t.cols) : t;
}

/** The largest |value| among `params`. */
/**
 * The largest |value| a layer of `model` outputs for the `n` rows of `x`, computed in float64;
 * Infinity when even float64 overflows (a layer then refuses its non-finite input).
 */
export async function peak64(model: Encoder, x: Float32Array, n: number): Promise<number> {
  let c: EncoderCache;
  try {
    c = await model.clone('float64').forward(float64Ops, Float64Array.from(x), n);
  } catch {
    return Number.POSITIVE_INFINITY;
  }
  let m = 0;
  for (const l of c.layers) for (let i = 0; i < l.out.length; i++) m = Math.max(m, Math.abs(l.out[i]));
  return m;
}

function largestParameter(params: readonly ArrayLike<number>[]): number {
  let m = 0;
  for (const p of params) for (let i = 0; i < p.length; i++) m = Math.max(m, Math.abs(p[i]));
  return m;
}

/** Every field of a layer spec, of any type. */
const SPEC_KEYS = [
  'type',
  'units',
  'activation',
  'init',
  'bias',
  'filters',
  'kernel',
  'stride',
  'padding',
  'size',
];

/** The keys each layer type takes (besides `type`). */
const TYPE_KEYS: Readonly<Record<string, readonly string[]>> = {
  dense: ['type', 'units', 'activation', 'bias', 'init'],
  conv2d: ['type', 'filters', 'kernel', 'stride', 'padding', 'activation', 'bias', 'init'],
  maxPool2d: ['type', 'size', 'stride'],
  avgPool2d: ['type', 'size', 'stride'],
  flatten: ['type'],
};

/**
 * Creates a seeded encoder. He initialisation for relu/gelu layers, Xavier for the others, unless
 * a layer's `init` says otherwise.
 */
export function createEncoder(options: EncoderOptions): Encoder {
  options = checkObject('createEncoder', 'options', options, false, [
    'inputs',
    'inputShape',
    'layers',
    'normalize',
    'seed',
    'precision',
  ]);
  const { inputs, layers, normalize = false, seed = 1, precision = 'float32' } = options;
  checkSeed('createEncoder', 'seed', seed);
  checkPrecision('createEncoder', precision);
  if (typeof normalize !== 'boolean')
    argError('INVALID_TYPE', 'createEncoder', 'normalize', `must be true or false, got ${typeof normalize}.`);
  if (!Number.isInteger(inputs) || inputs < 1) {
    argError(
      'INVALID_ARGUMENT',
      'createEncoder',
      'inputs',
      `must be a positive integer, got ${valueText(inputs)}.`,
    );
  }
  // Past what one layer holds per row, named here: the first layer's weights named its 'units'.
  checkLayerSize('createEncoder', 'inputs', inputs, `inputs of ${inputs} values per row`);
  if (!isArrayArg('createEncoder', 'layers', layers))
    argError(
      'INVALID_TYPE',
      'createEncoder',
      'layers',
      `must be an array of layer specs, got ${layers === null ? 'null' : typeof layers}.`,
    );
  // The list and each spec read once (see `fields`): a Proxy that threw escaped raw.
  const specs = reading('createEncoder', 'layers', () => Array.from(layers));
  if (specs.length === 0) argError('EMPTY_INPUT', 'createEncoder', 'layers', 'must not be empty.');
  let shape: Shape3 = [1, 1, inputs];
  if (options.inputShape !== undefined) {
    const s = options.inputShape;
    if (!isShape3(s) || s[0] * s[1] * s[2] !== inputs) {
      argError(
        'SHAPE_MISMATCH',
        'createEncoder',
        'inputShape',
        `must be [height, width, channels], positive integers with product ${inputs}.`,
      );
    }
    shape = [s[0], s[1], s[2]];
  }
  const rng = createRng(seed);
  const built: Layer[] = [];
  for (const [i, raw] of specs.entries()) {
    if (typeof raw !== 'object' || raw === null || isArrayArg('createEncoder', `layers[${i}]`, raw))
      argError(
        'INVALID_TYPE',
        'createEncoder',
        `layers[${i}]`,
        `must be a layer spec object, got ${raw === null ? 'null' : typeof raw}.`,
      );
    const spec = fields('createEncoder', `layers[${i}]`, raw as EncoderOptions['layers'][number], SPEC_KEYS);
    const type = given(spec.type, 'dense');
    // A key the layer's type does not take (a misspelt `activaton`, a pool's `activation`) once
    // built a layer without it, in silence: refused by name, as the top-level options are.
    reading('createEncoder', `layers[${i}]`, () =>
      refuseUnknownOptions(
        'createEncoder',
        raw as object,
        // Own keys only: a type named 'constructor' or 'toString' found Object.prototype's.
        (Object.hasOwn(TYPE_KEYS, type as string) ? TYPE_KEYS[type as string] : undefined) ?? SPEC_KEYS,
        `layers[${i}]`,
      ),
    );
    let l: Layer;
    if (type === 'dense')
      l = DenseLayer.create(shape[0] * shape[1] * shape[2], spec as DenseSpec, rng, precision);
    else if (type === 'conv2d' || type === 'maxPool2d' || type === 'avgPool2d') {
      try {
        l =
          type === 'conv2d'
            ? Conv2dLayer.create(shape, spec as Conv2dSpec, rng, precision)
            : Pool2dLayer.create(shape, spec as Pool2dSpec, precision);
      } catch (e) {
        // Without inputShape the inputs are one pixel of `inputs` channels: "kernel 3 is larger
        // than the input (1)" did not say what was missing.
        if (options.inputShape === undefined && shape[0] === 1 && shape[1] === 1 && isCosineKitError(e))
          argError(
            'INVALID_ARGUMENT',
            'createEncoder',
            'inputShape',
            `is not given, so layers[${i}] (${type}) sees the ${inputs} inputs as one pixel of ${inputs} channels (${e.message}). Give inputShape: [height, width, channels].`,
            e,
          );
        throw e;
      }
    } else if (type === 'flatten') l = new FlattenLayer(shape[0] * shape[1] * shape[2], precision);
    else {
      argError(
        'INVALID_ARGUMENT',
        'createEncoder',
        'layers',
        `has a layer of unknown type ${valueText(type)} (dense, conv2d, maxPool2d, avgPool2d, flatten).`,
      );
    }
    built.push(l);
    shape = l.outputShape;
  }
  // A 1-wide embedding normalised is +-1 (or 0): every cosine is +-1 and its gradient is 0, so
  // training ran, reported losses and never changed a weight.
  if (normalize && shape[0] * shape[1] * shape[2] === 1)
    argError(
      'INVALID_ARGUMENT',
      'createEncoder',
      'normalize',
      'is true for a 1-wide output: its embeddings would be +-1, every cosine +-1, and nothing could be learned (give the last layer 2 or more units).',
    );
  return new Encoder(built, normalize);
}

/** Refuses a precision other than the two the layers store ('float16' once made float32 silently). */
