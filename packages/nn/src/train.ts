import type { Awaitable, Kernels } from '@cosinekit/core/backend';
import {
  argError,
  argErrorOf,
  checkSignal,
  describeType,
  errorText,
  isArrayArg,
  isCosineKitError,
  orAbort,
  reading,
  valueText,
} from '@cosinekit/core/backend';
import { isBuiltIn } from './built-in.js';
import {
  allocationFailure,
  checkBoolean,
  checkNumber,
  checkObject,
  checkOps,
  checkSeed,
  firstNonFinite,
  given,
  HUGE,
  isA,
  memoryError,
  nextTurn,
  promised,
  renamedError,
  rowMagnitudes,
  TINY,
  tableOverflow,
} from './check.js';
import { Encoder, type KernelSource, kernelsOf, peak64, SETTLING, TRAINING, takenBy } from './encoder.js';
import { MAX_SAVED_WEIGHT } from './io.js';
import type { Loss, Sampling } from './losses/loss.js';
import { type DenseOps, joined, kernelOps, type Vec } from './ops.js';
import { CHECKED_GRADIENTS, type Optimizer, type TrustedStep } from './optimisers.js';
import { progressCallbacks } from './progress.js';
import { createRng } from './rng.js';
import type { Batch, Sampler } from './sampling.js';

/** Progress of one batch, for {@link TrainCallbacks.onBatchEnd}. */
export interface BatchInfo {
  readonly epoch: number;
  readonly epochs: number;
  /** 0-based index of the batch in its epoch. */
  readonly batch: number;
  /** Batches per epoch, as the sampler declares them (`Sampler.batchesPerEpoch`: at most that many). */
  readonly batches: number;
  readonly loss: number;
  /** Mean loss of the epoch so far. */
  readonly meanLoss: number;
}

/** Summary of one epoch. */
export interface EpochInfo {
  /** 0-based. */
  readonly epoch: number;
  readonly epochs: number;
  /** Mean training loss over the epoch's batches. */
  readonly loss: number;
  readonly batches: number;
  /** Wall-clock seconds of the epoch's training (validation excluded). */
  readonly seconds: number;
  /**
   * Learning rate at the end of the epoch: the optimiser's `learningRate()`, the rate its next
   * step would use (a schedule must give a finite number >= 0 there too, even after the last epoch).
   */
  readonly learningRate: number;
  /** The validation metric, when `validate` is set. */
  readonly metric?: number;
}

/**
 * Hooks into training. `onEpochEnd` may return `false` (or a promise of it) to stop training; any
 * other value is ignored.
 */
export interface TrainCallbacks {
  onEpochStart?(epoch: number): Awaitable<void>;
  onBatchEnd?(info: BatchInfo): Awaitable<void>;
  onEpochEnd?(info: EpochInfo): Awaitable<unknown>;
  onTrainEnd?(result: TrainResult): Awaitable<void>;
}

/** Early stopping on the validation metric. */
export interface EarlyStopping {
  /** Epochs without improvement before stopping; defaults to 3. */
  patience?: number;
  /** `'max'` (default: accuracy, AUC) or `'min'` (a loss). */
  mode?: 'max' | 'min';
  /** Smallest change that counts as an improvement; defaults to 0. */
  minDelta?: number;
  /**
   * Put back the weights of the best epoch at the end: the encoder's and those of a loss that
   * trains its own (a cosine classifier's class vectors). Defaults to true.
   */
  restoreBest?: boolean;
}

/** Options of {@link train}. */
export interface TrainOptions {
  /** Where the matrix products run: a kit (`createCosineKit({ backend })`) or its kernels. */
  kernels: KernelSource;
  encoder: Encoder;
  loss: Loss;
  sampler: Sampler;
  optimizer: Optimizer;
  /** Defaults to 10. */
  epochs?: number;
  /** Seed of the batch order and pair sampling; defaults to 1. */
  seed?: number;
  /** A validation metric computed after every epoch (e.g. k-NN accuracy on held-out rows). */
  validate?: (encoder: Encoder, epoch: number) => Awaitable<number>;
  /** Stops when `validate`'s metric stops improving. Needs `validate`. */
  earlyStopping?: EarlyStopping;
  callbacks?: TrainCallbacks | readonly TrainCallbacks[];
  /** Show a terminal progress line (see {@link progressCallbacks}); defaults to false. */
  progress?: boolean | string;
  /** Overrides the dense algebra, e.g. `float64Ops` with a float64 encoder. */
  ops?: DenseOps;
  /**
   * Stops training when it fires: `train` rejects with `ABORTED` (the signal's reason as `cause`)
   * before the next step. The step running when it fires finishes, so the encoder (and a
   * classifier loss's class vectors) keep the weights of the last completed step; no best-epoch
   * weights are restored and `onTrainEnd` is not called. While `validate` or a callback of yours
   * is pending (a promise it returned), `train` rejects as soon as the signal fires and leaves that
   * promise to settle on its own, unread: a validation waiting on the network once held an aborted
   * `train` for good. So too with a step of your own loss's `compute` or optimiser's `step` still
   * pending: `train` rejects at once (a step that never settled held it for good); that step, when
   * it ends, may still change the weights, and until it ends the encoder and the optimiser stay
   * taken (another `train` on them is refused). During `onTrainEnd` training has ended: the encoder then holds the trained
   * weights (the best epoch's, where early stopping restores them).
   */
  signal?: AbortSignal;
}

/** What {@link train} returns. */
export interface TrainResult {
  readonly history: readonly EpochInfo[];
  /** Epoch of the best validation metric (or the last epoch without validation). */
  readonly bestEpoch: number;
  readonly bestMetric: number | undefined;
  /** True when early stopping ended training before the last epoch. */
  readonly stoppedEarly: boolean;
}

/**
 * Trains `encoder` in place. Each step encodes both sides of a batch in one forward pass (the two
 * blocks stacked, so each layer is one matrix product), evaluates the loss, back-propagates and
 * updates. Deterministic for a seed: the same seed, data and backend give the same losses.
 *
 * Float32 training holds rows whose largest |value| lies in about [2^-64, 2^64]. A step that
 * overflows is refused with `INVALID_ARGUMENT` naming its cause: `sampler` when the batch's rows
 * are past that range (scale them, for example to unit norm), `optimizer` when the weights became
 * non-finite or huge (lower the learning rate). Adam's float32 moments hold gradients below 2^64;
 * a larger one (rows near 2^-60 with `normalize` give them) is `NON_FINITE` naming `sampler` when
 * the rows are below 2^-32, else `optimizer`, rather than a weight that silently stops moving. A batch row holding NaN or ±Infinity (written by an
 * `augment`, or `x` changed after its sampler was made) is `NON_FINITE` naming `sampler`. A
 * non-finite loss is `NON_FINITE` naming `loss`,
 * and a sampler that yields no batch in an epoch is refused naming `sampler`.
 */
export async function train(options: TrainOptions): Promise<TrainResult> {
  const at: StepState = { epoch: 0, batch: 0, input: undefined, cols: 0, params: [], phase: 'kernels' };
  const held: Held = {};
  try {
    return await trainLoop(options, at, held);
  } catch (e) {
    throw await blame(e, at, held.encoder);
  } finally {
    const release = () => {
      if (held.encoder) TRAINING.delete(held.encoder);
      for (const o of held.busy ?? []) BUSY.delete(o);
    };
    // A step of the caller's own still running after an abort keeps the encoder, the optimiser and
    // the loss's arrays taken until it ends: a second train accepted at once had it land on the
    // weights halfway through, two trains stepping one model in turns.
    if (held.pending) {
      for (const o of [held.encoder, ...(held.busy ?? [])]) if (o) SETTLING.add(o);
      const settled = () => {
        for (const o of [held.encoder, ...(held.busy ?? [])]) if (o) SETTLING.delete(o);
        release();
      };
      held.pending.then(settled, settled);
    } else release();
  }
}

/** What a running train holds for itself: its encoder, its optimiser and its loss's parameter arrays. */
interface Held {
  encoder?: Encoder;
  busy?: object[];
  /** A step of the caller's own loss or optimiser not yet settled (see `TrainOptions.signal`). */
  pending?: Promise<unknown>;
}

/**
 * Optimisers and loss parameter arrays (a classifier's class vectors) a running train steps: a
 * second train sharing one took turns with the first on its moments or its weights, silently, with
 * other answers every run (an optimiser restarted at each switch of model, its schedule garbled).
 */
const BUSY = new WeakSet<object>();

/** Longest run of steps between two turns of the event loop, in milliseconds. */
const YIELD_MS = 20;

/** Where training is, for {@link blame}: the step's input and the trained arrays. */
interface StepState {
  epoch: number;
  batch: number;
  input: Vec | undefined;
  cols: number;
  params: Vec[];
  /** What runs: drawing a batch, the model's kernels, the loss, the optimiser's step, or the caller's callbacks or validation. */
  phase: 'sampler' | 'kernels' | 'loss' | 'optimizer' | 'callbacks' | 'validate';
  /** True once an optimiser step has changed the weights. */
  stepped?: boolean;
  /** True when the dense algebra is the caller's (`options.ops`): its raw errors are named `ops`. */
  ownOps?: boolean;
}

/**
 * A step that failed on a non-finite value (a kernel's output checked as `BACKEND_ERROR`, or a
 * `NON_FINITE`) is the caller's when the trained weights are non-finite or huge (the optimiser
 * diverged) or the batch's rows are of extreme magnitude (float32 products overflow, or a tiny
 * embedding's normalisation gradient does): then the error names that argument of `train`.
 * Otherwise the backend's error stands. Runs only on failure.
 */
/** Rows whose largest |value| is below this (2^-32) are far from the unit scale training expects. */
const SMALL_ROWS = 2 ** -32;

async function blame(e: unknown, s: StepState, encoder: Encoder | undefined): Promise<unknown> {
  // An allocation this process refused (a raw RangeError): a batch's activations and gradients
  // grow with the sampler's batch size, the optimiser's moments with the model.
  const refused = allocationFailure(e);
  if (refused)
    return memoryError(
      refused,
      'train',
      s.phase === 'kernels' || s.phase === 'loss' ? 'sampler' : s.phase,
      `at batch ${s.batch} of epoch ${s.epoch} (${s.phase}); draw smaller batches (the sampler's batchSize) or train a smaller model`,
    );
  // The caller's own code threw (a custom sampler, loss or optimiser, a callback, validate): named
  // as that argument of train, its error as the cause (it escaped raw).
  // The same for the caller's own dense algebra (`options.ops`), which the kernels phase runs.
  if (!isCosineKitError(e) && (s.phase !== 'kernels' || s.ownOps))
    return argErrorOf(
      'INVALID_ARGUMENT',
      'train',
      s.phase === 'kernels' ? 'ops' : s.phase,
      `threw at batch ${s.batch} of epoch ${s.epoch}: ${errorText(e)}`,
      e,
    );
  // Something disposed under training, named as the argument of train it belongs to: the
  // optimiser's moments, the sampler's rows (transferred), else the backend of the kernels.
  if (isCosineKitError(e, 'DISPOSED') && e.op !== 'train') {
    const arg = s.phase === 'optimizer' || s.phase === 'sampler' ? s.phase : 'kernels';
    const what = arg === 'kernels' ? 'lost its backend' : 'lost what it holds';
    return argErrorOf(
      'DISPOSED',
      'train',
      arg,
      `${what} at batch ${s.batch} of epoch ${s.epoch} (${e.op} found it disposed): ${e.message}`,
      e,
    );
  }
  // A learning-rate schedule that threw or gave no number, found by the optimiser's step: named as
  // train names the caller's code, with the batch and epoch (it said `adam.step` and a step count).
  if (isCosineKitError(e) && s.phase === 'optimizer' && e.arg === 'learningRate' && e.op !== 'train')
    return argErrorOf(
      e.code,
      'train',
      'learningRate',
      `failed at batch ${s.batch} of epoch ${s.epoch} (${e.op}): ${e.message}`,
      e.cause ?? e,
    );
  // A loss's scale at which a scaled cosine overflows: the loss names its own option (renamed
  // 'kernels' below, it read "Argument 'kernels' passed to 'train' 3e+38 makes the loss overflow").
  if (isCosineKitError(e, 'NON_FINITE') && e.arg === 'scale' && e.op !== 'train') return e;
  // A loss's targets come from the sampler's batch.
  if (isCosineKitError(e) && s.phase === 'loss' && e.arg === 'targets')
    return renamedError(e, 'train', { targets: 'sampler' });
  // A step rule the kernel table refuses (a weight decay of 1e300, whose float32 coefficient
  // overflows) comes from the optimiser's options or schedule.
  if (isCosineKitError(e) && s.phase === 'optimizer' && e.op === 'optimizerStep' && e.arg?.startsWith('rule'))
    return argErrorOf(
      e.code,
      'train',
      'optimizer',
      `gave a step the kernels refuse at batch ${s.batch} of epoch ${s.epoch}: ${e.message}`,
      e,
    );
  // A gradient whose square Adam's float32 moments cannot hold: from rows far below unit scale
  // (the normalisation's gradient grows as they shrink), else from the loss.
  // (`grads`, or `grads[i]` as the kernel table names one array of them.)
  if (
    isCosineKitError(e, 'NON_FINITE') &&
    s.phase === 'optimizer' &&
    (e.arg === 'grads' || e.arg?.startsWith('grads[')) &&
    e.op !== 'train'
  ) {
    const lo = s.input && s.cols > 0 ? rowMagnitudes(s.input, s.cols)[0] : 1;
    const where = `at batch ${s.batch} of epoch ${s.epoch}`;
    return lo < SMALL_ROWS
      ? argErrorOf(
          'NON_FINITE',
          'train',
          'sampler',
          `gave rows of magnitude down to ${lo} ${where}, whose gradients reach ±2^64: Adam's float32 moments cannot hold their squares. Scale the rows (for example to unit norm), or train with sgd. (${e.message})`,
          e,
        )
      : argErrorOf(
          'NON_FINITE',
          'train',
          'optimizer',
          `was handed a gradient it cannot hold ${where}: ${e.message}`,
          e,
        );
  }
  // The caller's own dense algebra answered with the wrong shape or type (without throwing): it was
  // named after the layer or loss that tripped on it ('addBias', 'DenseLayer.forward', 'matmul').
  if (
    isCosineKitError(e) &&
    e.op !== 'train' &&
    s.ownOps &&
    (s.phase === 'kernels' ||
      (s.phase === 'loss' && (OPS_NAMES.has(e.op ?? '') || EMBEDDINGS.has(e.arg ?? '')))) &&
    (e.code === 'SHAPE_MISMATCH' || e.code === 'INVALID_TYPE')
  )
    return argErrorOf(
      'INVALID_ARGUMENT',
      'train',
      'ops',
      `gave an answer of the wrong shape or type at batch ${s.batch} of epoch ${s.epoch} (${e.op} found it): ${e.message}`,
      e,
    );
  // A backend not ready (not initialised) under a kernel: named after train and its kernels (it
  // was 'matmul' naming 'backend').
  if (isCosineKitError(e, 'UNSUPPORTED') && e.op !== 'train' && s.phase === 'kernels')
    return renamedError(e, 'train', e.arg !== undefined ? { [e.arg]: 'kernels' } : {});
  if (!isCosineKitError(e) || (e.code !== 'BACKEND_ERROR' && e.code !== 'NON_FINITE' && !tableOverflow(e)))
    return e;
  // Already named after the callbacks or validate that left the weights so: not the optimiser's doing.
  if (e.op === 'train' && (e.arg === 'callbacks' || e.arg === 'validate')) return e;
  const where = `at batch ${s.batch} of epoch ${s.epoch}`;
  let w = 0;
  let finite = true;
  for (const p of s.params)
    for (let i = 0; i < p.length; i++) {
      const v = Math.abs(p[i]);
      if (v > w) w = v;
      else if (!(v <= w)) finite = false; // NaN
    }
  if (!finite || !Number.isFinite(w))
    // From finite gradients (every kernel output is checked) only a step can make them so: a
    // learning rate far too high, or a backend's optimizerStep kernel that broke.
    return argErrorOf(
      'NON_FINITE',
      'train',
      'optimizer',
      `left non-finite weights before batch ${s.batch} of epoch ${s.epoch}: its learning rate is far too high, or the backend's optimizerStep kernel broke. (${e.message})`,
      e,
    );
  const diverged = (what: string) =>
    argErrorOf(
      'INVALID_ARGUMENT',
      'train',
      'optimizer',
      `diverged ${where}: the weights ${what}; lower the learning rate. (${e.message})`,
      e,
    );
  const x = s.input;
  if (x && s.cols > 0) {
    const [lo, hi] = rowMagnitudes(x, s.cols);
    // The samplers check their rows when made; NaN or ±Infinity in a batch came later: from an
    // augment, or from x changed after the sampler was made (it holds x, not a copy).
    if (!Number.isFinite(hi))
      return argErrorOf(
        'NON_FINITE',
        'train',
        'sampler',
        `gave a batch row holding ${Number.isNaN(hi) ? 'NaN' : 'Infinity'} ${where}: its augment wrote it, or its rows changed after it was made. (${e.message})`,
        e,
      );
    if (hi > HUGE || lo < TINY)
      return argErrorOf(
        'INVALID_ARGUMENT',
        'train',
        'sampler',
        `gave rows of magnitude ${hi > HUGE ? `up to ${hi}` : `down to ${lo}`} ${where}, past what float32 training holds (2^-64 to 2^64 per row): a product or the normalisation gradient overflowed. Scale the rows (for example to unit norm). (${e.message})`,
        e,
      );
  }
  // Past ±2^40 a float32 product overflows within a layer or two (5e15 across three layers did),
  // and no converging training gets there: the optimizer's step, not the backend.
  if (w > MAX_SAVED_WEIGHT) return diverged(`reached ${w}`);
  // Smaller weights whose products still grow past float32 layer after layer (as float64 says):
  // the encoder's as it was handed over (a loaded file may hold 2^40), else the steps' doing.
  if (x && s.cols > 0 && s.phase === 'kernels' && encoder?.precision === 'float32') {
    const peak = await peak64(encoder, x as Float32Array, x.length / s.cols);
    if (peak > 2 ** 127)
      return s.stepped
        ? diverged(`grew until a layer reached ${peak} on this batch (in float64)`)
        : argErrorOf(
            'NON_FINITE',
            'train',
            'encoder',
            `holds weights up to ${w}, whose layers reach ${peak} on the first batch in float64, past what float32 layers hold: a layer's product overflowed. (${e.message})`,
            e,
          );
  }
  // The backend failing under a kernel: named after train, the kernels as its argument.
  return renamedError(e, 'train', e.arg !== undefined ? { [e.arg]: 'kernels' } : {});
}

/**
 * The dense ops' own functions: in the loss's phase, a shape or type error under one of these names,
 * or about the embeddings train handed the loss, is the answer of the caller's ops (the loss's own
 * errors, and those about the batch it checks, stay its own).
 */
const OPS_NAMES = new Set([
  'matmul',
  'addBias',
  'activation',
  'activationGrad',
  'softmaxCrossEntropy',
  'columnSums',
]);
/** The loss's inputs that train makes with the ops (the embeddings): their shape or type is the ops' doing. */
const EMBEDDINGS = new Set(['a', 'b', 'negatives']);

/** Refuses options of the wrong type by name, before anything runs (each would fail as a TypeError). */
/** The options {@link train} takes ({@link TrainOptions}). */
const TRAIN_OPTIONS = [
  'kernels',
  'encoder',
  'loss',
  'sampler',
  'optimizer',
  'epochs',
  'seed',
  'validate',
  'earlyStopping',
  'callbacks',
  'progress',
  'ops',
  'signal',
];

/**
 * Checks `train`'s options and returns them read once (see `checkObject`): every hook object's hooks
 * (`callbacks`, always an array in the copy) and `earlyStopping` copied too, so a getter or a Proxy
 * cannot pass a check with one value and run with another, and one that throws (a revoked Proxy)
 * is named, not a raw TypeError.
 */
function checkTrainOptions(o: TrainOptions): TrainOptions {
  if (typeof o !== 'object' || o === null)
    argError('INVALID_TYPE', 'train', 'options', `must be an object, got ${o === null ? 'null' : typeof o}.`);
  o = checkObject('train', 'options', o, false, TRAIN_OPTIONS) as Mutable<TrainOptions>;
  const need = (name: string, v: unknown, ok: boolean, what: string) => {
    if (!ok)
      argError('INVALID_TYPE', 'train', name, `must be ${what}, got ${v === null ? 'null' : typeof v}.`);
  };
  const has = (name: string, v: unknown, f: string) =>
    typeof v === 'object' &&
    v !== null &&
    reading('train', name, () => typeof (v as Record<string, unknown>)[f]) === 'function';
  // The kernels run the optimiser's step even when `ops` runs the algebra.
  need(
    'kernels',
    o.kernels,
    has('kernels', o.kernels, 'kernels') || has('kernels', o.kernels, 'matmul'),
    'a kit or a kernel table',
  );
  need('encoder', o.encoder, isA(o.encoder, Encoder), 'an Encoder (createEncoder)');
  need('loss', o.loss, has('loss', o.loss, 'compute'), 'a Loss');
  need('sampler', o.sampler, has('sampler', o.sampler, 'epoch'), 'a Sampler');
  need('optimizer', o.optimizer, has('optimizer', o.optimizer, 'step'), 'an Optimizer (adam, sgd)');
  for (const f of ['validate'] as const)
    need(f, o[f], o[f] === undefined || typeof o[f] === 'function', 'a function');
  const cb = o.callbacks;
  need('callbacks', cb, cb === undefined || (typeof cb === 'object' && cb !== null), 'an object or an array');
  // Each hook object, and each hook in it, is checked here: a number where a function belongs
  // once failed as a TypeError after the first step had changed the weights.
  const list = isArrayArg('train', 'callbacks', cb);
  const objs: unknown[] =
    cb === undefined ? [] : list ? reading('train', 'callbacks', () => Array.from(cb)) : [cb];
  (o as Mutable<TrainOptions>).callbacks = objs.map((h: unknown, i) => {
    const name = list ? `callbacks[${i}]` : 'callbacks';
    need(name, h, typeof h === 'object' && h !== null, 'an object of hooks');
    const known = ['onEpochStart', 'onBatchEnd', 'onEpochEnd', 'onTrainEnd'] as const;
    const own: Record<string, (x: unknown) => unknown> = {};
    for (const f of known) {
      const v = reading('train', name, () => (h as Record<string, unknown>)[f]);
      need(`${name}.${f}`, v, v === undefined || typeof v === 'function', 'a function');
      // Called as it was read, on its own object.
      if (v) own[f] = (x) => Reflect.apply(v as (x: unknown) => unknown, h, [x]);
    }
    // A misspelt hook (`onBatchEnds`) never ran, without a word; other keys (a hook object's own
    // state) are left alone.
    for (const k of reading('train', name, () => Object.keys(h as object)))
      if (/^on[A-Z]/.test(k) && !(known as readonly string[]).includes(k))
        argError(
          'INVALID_ARGUMENT',
          'train',
          `${name}.${k}`,
          `is not a hook; the hooks are ${known.join(', ')}.`,
        );
    return own as TrainCallbacks;
  });
  if (o.seed !== undefined) checkSeed('train', 'seed', o.seed);
  const signal = o.signal;
  need(
    'signal',
    signal,
    signal === undefined ||
      (typeof signal === 'object' &&
        signal !== null &&
        reading('train', 'signal', () => typeof signal.aborted) === 'boolean'),
    'an AbortSignal',
  );
  checkSignal('train', o.signal);
  if (o.progress !== undefined && typeof o.progress !== 'string')
    checkBoolean('train', 'progress', o.progress);
  let es = o.earlyStopping;
  if (es !== undefined) {
    need('earlyStopping', es, typeof es === 'object' && es !== null, 'an object');
    // A misspelt key ({ patiance: 0 }) once trained every epoch without a word.
    es = (o as Mutable<TrainOptions>).earlyStopping = checkObject('train', 'earlyStopping', es, false, [
      'patience',
      'mode',
      'minDelta',
      'restoreBest',
    ]);
    checkBoolean('train', 'earlyStopping.restoreBest', es.restoreBest);
    if (es.patience !== undefined) {
      checkNumber('train', 'earlyStopping.patience', es.patience, 0, 2 ** 31);
      if (!Number.isInteger(es.patience))
        argError(
          'INVALID_ARGUMENT',
          'train',
          'earlyStopping.patience',
          `must be a whole number of epochs, got ${valueText(es.patience)}.`,
        );
    }
    if (es.minDelta !== undefined)
      checkNumber('train', 'earlyStopping.minDelta', es.minDelta, 0, Number.MAX_VALUE);
    if (es.mode !== undefined && es.mode !== 'max' && es.mode !== 'min')
      argError(
        'INVALID_ARGUMENT',
        'train',
        'earlyStopping.mode',
        `must be 'max' or 'min', got ${valueText(es.mode)}.`,
      );
  }
  return o;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

async function trainLoop(options: TrainOptions, at: StepState, held: Held): Promise<TrainResult> {
  options = checkTrainOptions(options);
  const { encoder, loss, sampler, optimizer, validate, earlyStopping } = options;
  // Two trains stepping one encoder took turns on its weights: each applied gradients of weights
  // the other had moved, and the same seeds gave different models on every run.
  if (TRAINING.has(encoder))
    argError(
      'INVALID_ARGUMENT',
      'train',
      'encoder',
      takenBy(
        encoder,
        'is being trained by another train call: await that one first (two would step the same weights in turns, a different model each run).',
      ),
    );
  if (BUSY.has(optimizer))
    argError(
      'INVALID_ARGUMENT',
      'train',
      'optimizer',
      takenBy(
        optimizer,
        'is stepping another train call: await that one first, or give each its own optimiser (one serves one model at a time).',
      ),
    );
  // A classifier loss brings its own trainable arrays (the class vectors); they step with the encoder's.
  const lossParams = lossParameters(loss);
  const stepped = lossParams.find((p) => BUSY.has(p));
  if (stepped)
    argError(
      'INVALID_ARGUMENT',
      'train',
      'loss',
      takenBy(
        stepped,
        'trains parameters (class vectors) another train call is stepping: await that one first, or give each its own.',
      ),
    );
  TRAINING.add(encoder);
  held.encoder = encoder;
  held.busy = [optimizer, ...lossParams];
  for (const o of held.busy) BUSY.add(o);
  const epochs = given(options.epochs, 10);
  if (!Number.isInteger(epochs) || epochs < 1) {
    argError('INVALID_ARGUMENT', 'train', 'epochs', `must be a positive integer, got ${valueText(epochs)}.`);
  }
  if (sampler.sampling !== loss.sampling) {
    argError(
      'INVALID_ARGUMENT',
      'train',
      'sampler',
      `gives ${valueText(sampler.sampling)} batches but the loss ${valueText(loss.name)} needs ${valueText(loss.sampling)} batches.`,
    );
  }
  // Read once: only the hooks are told it, and a custom sampler's NaN or undefined reached them.
  const perEpoch: unknown = reading('train', 'sampler', () => sampler.batchesPerEpoch);
  if (!(typeof perEpoch === 'number' && Number.isSafeInteger(perEpoch) && perEpoch >= 1))
    argError(
      'INVALID_ARGUMENT',
      'train',
      'sampler',
      `declares ${valueText(perEpoch)} batchesPerEpoch: it must be a whole number >= 1 (the most batches an epoch yields).`,
    );
  if (earlyStopping && !validate) argError('INVALID_ARGUMENT', 'train', 'earlyStopping', 'needs validate.');
  // A step's arrays are dead once the optimiser has used its gradients: the ops recycle them.
  // The kernels also step the optimiser (its fused update, moments resident on the backend).
  const kernels = await kernelsOf(options.kernels, 'train', 'kernels');
  const ops = options.ops !== undefined ? options.ops : kernelOps(kernels, { reuse: true });
  at.ownOps = options.ops !== undefined;
  // `{}` was "the ops are undefined" naming the encoder, `null` a TypeError.
  checkOps('train', ops);
  if (ops.precision !== encoder.precision) {
    argError('INVALID_TYPE', 'train', 'encoder', `is ${encoder.precision} but the ops are ${ops.precision}.`);
  }
  const hooks: TrainCallbacks[] = [];
  if (options.callbacks)
    hooks.push(
      ...(Array.isArray(options.callbacks) ? options.callbacks : [options.callbacks as TrainCallbacks]),
    );
  if (options.progress)
    hooks.push(progressCallbacks(typeof options.progress === 'string' ? { label: options.progress } : {}));

  const rng = createRng(given(options.seed, 1));
  const params = [...encoder.parameters(), ...lossParams];
  // Weights that are not finite, or past the ±2^40 that training ends at, before the first step
  // are the caller's (see `blame` for later): a weight set by hand to 2^41 was blamed on the
  // optimizer ("diverged ... lower the learning rate") at the end of the first epoch.
  const own = encoder.parameters().length;
  params.forEach((p, k) => {
    for (let i = 0; i < p.length; i++)
      if (!(Math.abs(p[i]) <= MAX_SAVED_WEIGHT))
        argError(
          Number.isFinite(p[i]) ? 'INVALID_ARGUMENT' : 'NON_FINITE',
          'train',
          k < own ? 'encoder' : 'loss',
          `holds ${p[i]} in its parameter array ${k < own ? k : k - own}, at ${i}, before training${Number.isFinite(p[i]) ? ', beyond ±2^40 (a model no file holds)' : ''}.`,
        );
  });
  at.params = params;
  const mode = earlyStopping?.mode ?? 'max';
  const patience = earlyStopping?.patience ?? 3;
  const minDelta = earlyStopping?.minDelta ?? 0;
  const history: EpochInfo[] = [];
  let best: number | undefined;
  let bestEpoch = 0;
  // Copies of every trained array at the best epoch: the encoder's and the loss's own (a cosine
  // classifier's class vectors), which must come back together.
  let bestWeights: Vec[] | undefined;
  let stoppedEarly = false;

  const step: StepContext = {
    encoder,
    loss,
    ops,
    kernels,
    optimizer,
    params,
    lossParams,
    at,
    input: undefined,
    signal: options.signal,
    held,
  };
  /** When training last let the event loop turn (see `nextTurn`). */
  let yielded = performance.now();
  const hasBatchEnd = hooks.some((h) => typeof h.onBatchEnd === 'function');
  for (let epoch = 0; epoch < epochs; epoch++) {
    at.phase = 'callbacks';
    let started = false;
    for (const h of hooks) {
      if (!h.onEpochStart) continue;
      started = true;
      await orAbort('train', h.onEpochStart(epoch), options.signal);
    }
    // A NaN written here was blamed on the optimiser before any step had run.
    if (started) afterHook(params, own, 'callbacks', `before epoch ${epoch} (onEpochStart changed them)`);
    const t0 = performance.now();
    let sum = 0;
    let batches = 0;
    // Each batch is copied into the step's input before the next is drawn: its arrays may be reused.
    Object.assign(at, { epoch, batch: 0, phase: 'sampler' });
    const drawn: unknown = sampler.epoch(rng, true);
    if (typeof (drawn as Iterable<Batch> | null)?.[Symbol.iterator] !== 'function')
      argError(
        'INVALID_TYPE',
        'train',
        'sampler',
        `.epoch() must return an iterable of batches, got ${drawn === null ? 'null' : promised(drawn) ? 'a promise' : typeof drawn}.`,
      );
    for (const batch of drawn as Iterable<Batch>) {
      // Steps await only what settles at once: without a turn of the event loop now and then, a
      // timer (AbortSignal.timeout, a controller's setTimeout) never fired before training ended.
      if (performance.now() - yielded > YIELD_MS) {
        await nextTurn();
        yielded = performance.now();
      }
      checkSignal('train', options.signal);
      // An endless epoch (a generator that never returns) trained until the process was killed.
      if (batches === perEpoch)
        argError(
          'INVALID_ARGUMENT',
          'train',
          'sampler',
          `yielded more than its ${perEpoch} batchesPerEpoch in epoch ${epoch}: an epoch yields at most that many.`,
        );
      const stepLoss = await trainStep(step, batch, epoch, batches);
      sum += stepLoss;
      batches++;
      at.phase = 'callbacks';
      // What the step left, before the hooks may change it: weights it made NaN or past ±2^40 were
      // otherwise blamed on the hooks below.
      if (hasBatchEnd) checkStepped(params, own, epoch, batches, false);
      let called = false;
      for (const h of hooks) {
        if (!h.onBatchEnd) continue;
        called = true;
        await orAbort(
          'train',
          h.onBatchEnd({
            epoch,
            epochs,
            batch: batches - 1,
            batches: perEpoch,
            loss: stepLoss,
            meanLoss: sum / batches,
          }),
          options.signal,
        );
      }
      // A callback that wrote NaN or Infinity into the weights was blamed on the optimiser at the
      // next step ("its learning rate is far too high"): one pass over them after the callbacks.
      if (called)
        afterHook(
          params,
          own,
          'callbacks',
          `after batch ${batches - 1} of epoch ${epoch} (onBatchEnd changed them)`,
        );
      Object.assign(at, { batch: batches, phase: 'sampler' });
    }
    // The built-in samplers refuse to give no batch; a custom one that does would report NaN.
    if (batches === 0)
      argError('INVALID_ARGUMENT', 'train', 'sampler', `yielded no batch in epoch ${epoch}.`);
    // A step that made the weights non-finite is caught by the next forward pass (see `blame`);
    // the epoch's last step has none before validation or the end, so it is checked here: one
    // pass over the weights per epoch. Training once resolved with NaN weights after a last step
    // with a learning rate far too high.
    checkStepped(params, own, epoch, batches);
    checkSignal('train', options.signal);
    const seconds = (performance.now() - t0) / 1000;
    at.phase = 'validate';
    const metric = validate ? await orAbort('train', validate(encoder, epoch), options.signal) : undefined;
    // A NaN metric is never better nor worse: early stopping would act on nothing.
    if (metric !== undefined && typeof metric !== 'number')
      argError(
        'INVALID_TYPE',
        'train',
        'validate',
        `returned ${typeof metric === 'string' ? `the string '${metric}'` : typeof metric} after epoch ${epoch}; it must return a number.`,
      );
    if (metric !== undefined && !Number.isFinite(metric))
      argError('NON_FINITE', 'train', 'validate', `returned ${valueText(metric)} after epoch ${epoch}.`);
    if (validate) afterHook(params, own, 'validate', `after epoch ${epoch} (validate changed them)`);
    // The optimiser's own call: a custom one whose learningRate fails is named, not `validate`.
    at.phase = 'optimizer';
    const learningRate = optimizer.learningRate();
    // A custom optimiser's rate goes into the history as it is: never NaN nor a non-number.
    if (typeof learningRate !== 'number' || !(learningRate >= 0 && learningRate < Number.POSITIVE_INFINITY))
      argError(
        typeof learningRate !== 'number'
          ? 'INVALID_TYPE'
          : Number.isFinite(learningRate)
            ? 'INVALID_ARGUMENT'
            : 'NON_FINITE',
        'train',
        'optimizer',
        `.learningRate() returned ${valueText(learningRate)} after epoch ${epoch}; it must return a number >= 0.`,
      );
    const info: EpochInfo = {
      epoch,
      epochs,
      loss: batches > 0 ? sum / batches : Number.NaN,
      batches,
      seconds,
      learningRate,
      ...(metric === undefined ? {} : { metric }),
    };
    history.push(info);
    let stop = false;
    at.phase = 'callbacks';
    let ended = false;
    for (const h of hooks) {
      if (!h.onEpochEnd) continue;
      ended = true;
      if ((await orAbort('train', h.onEpochEnd(info), options.signal)) === false) stop = true;
    }
    // After the last epoch's callbacks no step reads the weights again: a NaN written there once
    // came back from train as a NaN weight.
    if (ended) afterHook(params, own, 'callbacks', `after epoch ${epoch} (onEpochEnd changed them)`);
    // An abort during validate or the callbacks of the last epoch, or of one early stopping ends,
    // is an abort too: no best weights restored, no onTrainEnd (it resolved as if none came).
    checkSignal('train', options.signal);
    if (metric !== undefined) {
      const better =
        best === undefined || (mode === 'max' ? metric > best + minDelta : metric < best - minDelta);
      if (better) {
        best = metric;
        bestEpoch = epoch;
        if (earlyStopping && earlyStopping.restoreBest !== false) bestWeights = params.map((p) => p.slice());
      } else if (earlyStopping && epoch - bestEpoch >= patience && epoch < epochs - 1) {
        stoppedEarly = true;
        stop = true;
      }
    } else {
      bestEpoch = epoch;
    }
    if (stop) break;
  }
  if (bestWeights) for (let i = 0; i < params.length; i++) params[i].set(bestWeights[i]);
  const result: TrainResult = { history, bestEpoch, bestMetric: best, stoppedEarly };
  let ended = false;
  for (const h of hooks) {
    if (!h.onTrainEnd) continue;
    ended = true;
    await orAbort('train', h.onTrainEnd(result), options.signal);
  }
  // The last hook of all: a NaN it writes would come back from train as a trained weight.
  if (ended) afterHook(params, own, 'callbacks', '(onTrainEnd changed them)');
  return result;
}

/** What every step of one {@link train} call shares; `input` is the step's own input array, kept. */
interface StepContext {
  readonly encoder: Encoder;
  readonly loss: Loss;
  readonly ops: DenseOps;
  readonly kernels: Kernels;
  readonly optimizer: Optimizer;
  readonly params: Vec[];
  readonly lossParams: Vec[];
  readonly at: StepState;
  input: Vec | undefined;
  readonly signal: AbortSignal | undefined;
  /** What the train call holds, where a step of the caller's still running is recorded. */
  readonly held: Held;
}

/**
 * One training step on `drawn` (batch `batches` of `epoch`, 0-based): forward, loss, backward,
 * update; returns the batch's loss. A function of its own rather than the body of
 * {@link trainLoop}'s loop, so that what V8 optimises is this step, not the whole loop: with the
 * body inline, node --trace-opt showed the loop (a large async function) optimised after several
 * epochs in one 200-265 ms background compile and deoptimised at its next call; this function
 * compiles in 70-110 ms. The work and its order are unchanged.
 */
async function trainStep(s: StepContext, drawn: Batch, epoch: number, batches: number): Promise<number> {
  const { encoder, loss, ops, kernels, optimizer, params, lossParams, at } = s;
  // The caller's own loss or optimiser may return a promise that never settles: the signal ends
  // train then (it hung for good), leaving that step to settle on its own. This package's steps
  // always end, and are waited for, so that the weights are those of a whole step.
  const own = <T>(made: unknown, p: T | PromiseLike<T>) => {
    if (isBuiltIn(made)) return p;
    const pending = Promise.resolve(p);
    const done = () => {
      if (s.held.pending === pending) s.held.pending = undefined;
    };
    s.held.pending = pending;
    pending.then(done, done);
    return orAbort('train', pending, s.signal);
  };
  // Anchors, positives and (for triplets) negatives go through the encoder as one block;
  // labelled batches have only the anchors.
  // Every field read once, checked and used as read (a getter could pass the check with one
  // value and be used with another: rows 2, then 200).
  const [blocks, batch] = checkBatch(drawn, loss.sampling, encoder, epoch, batches);
  const { rows, cols, negatives } = batch;
  // The step's input, kept from step to step (not from the ops' pool, which zeroes what it
  // hands out): the blocks below overwrite all of it.
  const n = blocks * rows * cols;
  const parts = blocks === 1 ? [batch.a] : blocks === 2 ? [batch.a, batch.b] : [batch.a, batch.b, negatives!];
  // The built-in samplers put a batch's blocks back to back: then they go in as they lie.
  let x = encoder.precision === 'float32' ? joined(parts, n) : undefined;
  if (!x) {
    if (s.input?.length !== n)
      s.input = encoder.precision === 'float64' ? new Float64Array(n) : new Float32Array(n);
    x = s.input;
    for (let i = 0; i < blocks; i++) x.set(parts[i], i * rows * cols);
  }
  Object.assign(at, { epoch, batch: batches, input: x, cols, phase: 'kernels' });
  const cache = await encoder.forward(ops, x, blocks * rows);
  const d = encoder.outputs;
  at.phase = 'loss';
  const r = await own(
    loss,
    loss.compute(ops, {
      a: cache.out.subarray(0, rows * d),
      b: cache.out.subarray(rows * d, Math.min(blocks, 2) * rows * d),
      rows,
      cols: d,
      targets: batch.targets,
      groups: batch.groups,
      labels: batch.labels,
      // The encoder's output rows are unit rows already: the loss need not normalise them again.
      normalized: encoder.normalize,
      ...(blocks > 2
        ? { negatives: cache.out.subarray(2 * rows * d), negativeGroups: batch.negativeGroups }
        : {}),
    }),
  );
  if (!Number.isFinite(r.loss))
    argError(
      typeof r.loss === 'number' ? 'NON_FINITE' : 'INVALID_TYPE',
      'train',
      'loss',
      `${typeof r.loss === 'number' ? 'was' : 'gave a loss of'} ${valueText(r.loss)} at batch ${batches} of epoch ${epoch}.`,
    );
  // A custom loss's gradients, one value per output it was given: short ones moved the weights as
  // if the rest were 0 (a 4 x 3 batch stepped on 2 values), long ones were cut without a word.
  // Not finite ones were blamed further on: on the backend ("failed in backend 'reference' (kernel
  // 'matmul')") or on the optimizer's learning rate.
  const due = (name: string, g: unknown, n: number) => {
    if (!(isA(g, Float32Array) || isA(g, Float64Array)) || g.length !== n)
      argError(
        'SHAPE_MISMATCH',
        'train',
        'loss',
        `returned ${name} of ${isA(g, Float32Array) || isA(g, Float64Array) ? `${g.length} values` : describeType(g)} where ${n} were due (rows x outputs) at batch ${batches} of epoch ${epoch}.`,
      );
    // Finite (and, for a float32 encoder, within float32): large ones are legitimate (rows far
    // below unit norm without normalize, a classifier's large scale), and the optimisers bound
    // what they can hold themselves. A float64 gradient of 1e60 into a float32 encoder was blamed
    // on the kernels.
    const f32 = encoder.precision === 'float32';
    for (let i = 0; i < n; i++)
      if (!Number.isFinite(f32 ? Math.fround(g[i]) : g[i]))
        argError(
          'NON_FINITE',
          'train',
          'loss',
          `returned ${name} holding ${g[i]} at ${i}, at batch ${batches} of epoch ${epoch}${Number.isFinite(g[i]) ? ', past float32 (the encoder is float32)' : ''}.`,
        );
  };
  due('gradA', r.gradA, rows * d);
  if (blocks > 1) due('gradB', r.gradB, rows * d);
  if (blocks > 2 && r.gradNegatives !== undefined) due('gradNegatives', r.gradNegatives, rows * d);
  if (lossParams.length > 0 && r.gradParams?.length === lossParams.length)
    for (let i = 0; i < lossParams.length; i++)
      due(`gradParams[${i}]`, r.gradParams[i], lossParams[i].length);
  let dOut: Vec = r.gradA;
  if (blocks > 1) {
    const grads = [r.gradA, r.gradB];
    if (blocks > 2 && r.gradNegatives) grads.push(r.gradNegatives);
    // A loss that returns its gradients back to back (the built-in ones do) is not copied.
    const whole = grads.length === blocks ? joined(grads, blocks * rows * d) : undefined;
    if (whole) dOut = whole;
    else {
      dOut = ops.alloc(blocks * rows * d);
      for (let i = 0; i < grads.length; i++) dOut.set(grads[i], i * rows * d);
    }
  }
  at.phase = 'kernels';
  const grads = await encoder.backward(ops, cache, dOut);
  if (lossParams.length > 0 && r.gradParams?.length !== lossParams.length) {
    argError(
      'SHAPE_MISMATCH',
      'train',
      'loss',
      `returned no gradient for its ${lossParams.length} parameter arrays.`,
    );
  }
  // The gradients come from checked kernels: the built-in optimisers skip their own scan of them.
  at.phase = 'optimizer';
  await own(
    optimizer,
    (optimizer.step as TrustedStep)(
      params,
      lossParams.length > 0 ? [...grads.params, ...r.gradParams!] : grads.params,
      kernels,
      CHECKED_GRADIENTS,
    ),
  );
  at.stepped = true;
  ops.release?.();
  return r.loss;
}

/**
 * Refuses a batch whose arrays do not hold what it says (a custom {@link Sampler}'s, as the
 * built-in ones always do): a short block once trained on the previous batch's rows left in the
 * step's input, a long one failed as a RangeError. Returns the blocks that go through the encoder
 * (anchors, positives, negatives; the anchors alone for `'labels'` batches) and the batch's
 * fields as read once, which the step uses (not the batch, whose getters may answer otherwise).
 */
function checkBatch(
  given: Batch,
  sampling: Sampling,
  encoder: Encoder,
  epoch: number,
  index: number,
): [number, Batch] {
  const where = `at batch ${index} of epoch ${epoch}`;
  if (promised(given))
    argError(
      'INVALID_TYPE',
      'train',
      'sampler',
      `yielded a promise ${where}; a batch is an object (see Batch).`,
    );
  if (typeof given !== 'object' || given === null)
    argError(
      'INVALID_TYPE',
      'train',
      'sampler',
      `yielded ${given === null ? 'null' : typeof given} ${where}; a batch is an object (see Batch).`,
    );
  const { a, b, rows, cols, targets, groups, negatives, negativeGroups, labels } = given;
  const batch: Batch = { a, b, rows, cols, targets, groups, negatives, negativeGroups, labels };
  // Every field that is a promise gets its rejection handled, not only the first one refused.
  for (const v of [rows, cols, batch.a, batch.b, batch.negatives]) promised(v);
  if (!(Number.isInteger(rows) && rows >= 1))
    argError('INVALID_ARGUMENT', 'train', 'sampler', `gave a batch of ${valueText(rows)} rows ${where}.`);
  if (!(Number.isInteger(cols) && cols >= 1))
    argError('INVALID_ARGUMENT', 'train', 'sampler', `gave a batch of ${valueText(cols)} columns ${where}.`);
  const blocks = sampling === 'labels' ? 1 : batch.negatives ? 3 : 2;
  const values = (name: string, v: unknown) => {
    // A float32 encoder's step rounds a Float64Array to float32 without a word (a row of 1e-50 became
    // a zero row): Float64Array batches are for float64 encoders (the gradient-check path).
    if (!(isA(v, Float32Array) || (isA(v, Float64Array) && encoder.precision === 'float64')))
      argError(
        'INVALID_TYPE',
        'train',
        'sampler',
        `gave a batch whose '${name}' is ${promised(v) ? 'a promise, ' : ''}not a Float32Array${isA(v, Float64Array) ? ' (a Float64Array, for float64 encoders only)' : ''} ${where}.`,
      );
    if (v.length !== rows * cols)
      argError(
        'SHAPE_MISMATCH',
        'train',
        'sampler',
        `gave a batch whose '${name}' holds ${v.length} values, not ${rows} x ${cols} ${where}.`,
      );
  };
  values('a', batch.a);
  if (blocks > 1) values('b', batch.b);
  if (blocks > 2) values('negatives', batch.negatives);
  const perRow = (name: string, v: ArrayLike<number> | undefined) => {
    if (v !== undefined && v.length !== rows)
      argError(
        'SHAPE_MISMATCH',
        'train',
        'sampler',
        `gave a batch whose '${name}' holds ${v.length} entries, not one per row (${rows}) ${where}.`,
      );
  };
  perRow('targets', batch.targets);
  perRow('groups', batch.groups);
  perRow('labels', batch.labels);
  if (blocks > 2) perRow('negativeGroups', batch.negativeGroups);
  // Groups of negatives no loss reads: a sampler that meant to give negatives and did not.
  else if (batch.negativeGroups !== undefined)
    argError(
      'INVALID_ARGUMENT',
      'train',
      'sampler',
      `gave a batch with 'negativeGroups' but no 'negatives' ${where}.`,
    );
  if (cols !== encoder.inputs)
    argError(
      'DIMENSION_MISMATCH',
      'train',
      'sampler',
      `gives rows of ${cols} values; the encoder takes ${encoder.inputs}.`,
    );
  return [blocks, batch];
}

/**
 * Refuses weights that a hook (`validate`, `onEpochStart`, `onBatchEnd`, `onEpochEnd`, `onTrainEnd`) left
 * non-finite (`NON_FINITE`) or past ±2^40 ({@link MAX_SAVED_WEIGHT}: `INVALID_ARGUMENT`), naming
 * it as `arg` of `train`, `when` saying where: such weights were blamed on the optimiser at the next
 * step ("its learning rate is far too high"), or, after the last epoch, came back from `train` for
 * `saveEncoder` to refuse. One pass over the weights.
 */
function afterHook(params: readonly Vec[], own: number, arg: 'validate' | 'callbacks', when: string): void {
  for (let k = 0; k < params.length; k++) {
    const p = params[k];
    for (let i = 0; i < p.length; i++) {
      const v = p[i];
      if (Number.isFinite(v) && Math.abs(v) <= MAX_SAVED_WEIGHT) continue;
      argError(
        Number.isFinite(v) ? 'INVALID_ARGUMENT' : 'NON_FINITE',
        'train',
        arg,
        `left ${v} in the ${k < own ? 'encoder' : 'loss'}'s weights ${when}${Number.isFinite(v) ? ', past the ±2^40 no training reaches (saveEncoder refuses it)' : ''}.`,
      );
    }
  }
}

/**
 * After an epoch's last step: `NON_FINITE` naming `optimizer` when it left a trained array holding
 * NaN or ±Infinity (the encoder's first `own` arrays, then the loss's), `INVALID_ARGUMENT` naming it
 * when a weight passed ±2^40 ({@link MAX_SAVED_WEIGHT}): no training that converges gets there, and
 * `train` once resolved with weights of 4.5e30 that `saveEncoder` then refused.
 */
function checkStepped(
  params: readonly Vec[],
  own: number,
  epoch: number,
  batches: number,
  last = true,
): void {
  const at = firstNonFinite(params);
  if (!at) {
    for (let k = 0; k < params.length; k++) {
      const p = params[k];
      for (let i = 0; i < p.length; i++)
        if (Math.abs(p[i]) > MAX_SAVED_WEIGHT)
          argError(
            'INVALID_ARGUMENT',
            'train',
            'optimizer',
            `diverged ${last ? 'by the end of' : `at batch ${batches - 1} of`} epoch ${epoch}: ${k < own ? 'the encoder' : "the loss's"} parameter array ${k < own ? k : k - own} holds ${p[i]} at ${i}, beyond ±2^40 (a model no file holds); lower the learning rate.`,
          );
    }
    return;
  }
  const [k, i] = at;
  argError(
    'NON_FINITE',
    'train',
    'optimizer',
    `left ${params[k][i]} in ${k < own ? 'the encoder' : "the loss's"} parameter array ${k < own ? k : k - own} at ${i} after ${last ? 'the last step' : 'step'} (${batches - 1}) of epoch ${epoch}: its learning rate (or weight decay) is far too high.`,
  );
}

/**
 * A loss's own trainable arrays (`loss.parameters()`, none without it), checked: an array of
 * Float32Array or Float64Array, each once. What a custom loss hands back otherwise (5, [null], a
 * parameters that is no function) escaped as a raw TypeError; its throw is its error, named.
 */
function lossParameters(loss: Loss): Vec[] {
  let got: unknown;
  try {
    const f = (loss as { parameters?: unknown }).parameters;
    if (f === undefined) return [];
    if (typeof f !== 'function')
      argError(
        'INVALID_TYPE',
        'train',
        'loss',
        `has a parameters that is ${describeType(f)}, not a function.`,
      );
    got = f.call(loss);
  } catch (e) {
    if (isCosineKitError(e)) throw e;
    throw argErrorOf('INVALID_ARGUMENT', 'train', 'loss', `threw in parameters(): ${errorText(e)}`, e);
  }
  if (!Array.isArray(got))
    argError(
      'INVALID_TYPE',
      'train',
      'loss',
      `parameters() returned ${describeType(got)}, not an array of Float32Arrays.`,
    );
  const seen = new Set<unknown>();
  for (let i = 0; i < got.length; i++) {
    const p: unknown = got[i];
    if (!(isA(p, Float32Array) || isA(p, Float64Array)))
      argError(
        'INVALID_TYPE',
        'train',
        'loss',
        `parameters() returned ${describeType(p)} at ${i}, not a Float32Array.`,
      );
    if (seen.has(p))
      argError('INVALID_ARGUMENT', 'train', 'loss', `parameters() returned one array twice (at ${i}).`);
    seen.add(p);
  }
  return got as Vec[];
}
