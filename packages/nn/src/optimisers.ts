import {
  type Awaitable,
  argError,
  argErrorOf,
  describeType,
  errorText,
  isCosineKitError,
  type Kernels,
  type OptimizerRule,
  type OptimizerState,
  referenceKernels,
  valueText,
} from '@cosinekit/core/backend';
import { builtIn } from './built-in.js';
import { checkNumber, checkObject, firstNonFinite, isA, promised } from './check.js';
import type { Vec } from './ops.js';

/** A learning rate: a constant, or a schedule of the step number (0-based). */
export type LearningRate = number | ((step: number) => number);

/** Updates parameters in place from their gradients. */
export interface Optimizer {
  readonly name: string;
  /** Steps taken so far. */
  readonly steps: number;
  /**
   * The learning rate the next step will use: a finite number >= 0 (the built-in optimisers throw
   * `INVALID_ARGUMENT` naming `learningRate` when their schedule gives anything else there).
   */
  learningRate(): number;
  /**
   * One update: `params[i]` moves against `grads[i]` (same lengths, same order every call). Float32
   * parameters are updated by the fused `optimizerStep` kernel of `kernels` (the reference
   * kernels when omitted or when they lack it), whose moments stay resident there between steps;
   * float64 parameters (the gradient-check path) in plain float64. Settles synchronously on a
   * synchronous backend; `train` awaits it.
   */
  step(params: readonly Vec[], grads: readonly Vec[], kernels?: Kernels): Awaitable<void>;
  /**
   * Releases the moments held on a backend; the next step starts afresh, as a new optimiser's
   * first: zero moments, step 0 (the schedule from its start, Adam's bias correction from step 1).
   */
  dispose?(): void;
}

/** Options of {@link sgd}. */
export interface SgdOptions {
  /** Defaults to 0.01. */
  learningRate?: LearningRate;
  /** Heavy-ball momentum in [0, 1); defaults to 0.9 (0 gives plain SGD). */
  momentum?: number;
  /** L2 penalty added to the gradient (`g + weightDecay * p`), >= 0; defaults to 0. */
  weightDecay?: number;
}

/**
 * SGD with momentum: `v = momentum v + g; p -= lr v` (PyTorch's form). Float32 parameters step
 * through the backend's fused kernel (see {@link Optimizer.step}).
 */
export function sgd(options: SgdOptions = {}): Optimizer {
  options = checkObject('sgd', 'options', options, true, ['learningRate', 'momentum', 'weightDecay']);
  const { learningRate = 0.01, momentum = 0.9, weightDecay = 0 } = options;
  inRange('sgd', 'momentum', momentum, 0, 1);
  inRange('sgd', 'weightDecay', weightDecay, 0, Number.POSITIVE_INFINITY);
  let velocity: Float64Array[] = [];
  return fused('sgd', 'sgd', schedule(learningRate, 'sgd'), {
    rule: (lr) => ({ kind: 'sgd', learningRate: lr, momentum, weightDecay }),
    reset: () => {
      velocity = [];
    },
    float64(params, grads, lr) {
      if (velocity.length !== params.length) velocity = params.map((p) => new Float64Array(p.length));
      for (let k = 0; k < params.length; k++) {
        const p = params[k];
        const g = grads[k];
        const v = velocity[k];
        for (let i = 0; i < p.length; i++) {
          v[i] = momentum * v[i] + g[i] + weightDecay * p[i];
          p[i] -= lr * v[i];
        }
      }
    },
  });
}

/** 2^-126: the smallest normal float32. */
const FLOAT32_MIN_NORMAL = 1.1754943508222875e-38;

/** Options of {@link adam}. */
export interface AdamOptions {
  /** Defaults to 0.001. */
  learningRate?: LearningRate;
  /** In [0, 1); defaults to 0.9. */
  beta1?: number;
  /** In [0, 1); defaults to 0.999. */
  beta2?: number;
  /**
   * At least 2^-126 (about 1.18e-38, the smallest normal float32) and at least
   * 2^-74 / sqrt(1 - beta2) (1.68e-21 for the default beta2); defaults to 1e-8.
   */
  epsilon?: number;
  /**
   * Decoupled weight decay (AdamW, Loshchilov and Hutter 2019): `p -= lr * weightDecay * p`
   * beside the Adam step, not folded into the gradient. >= 0; defaults to 0 (plain Adam).
   */
  weightDecay?: number;
}

/**
 * Adam with bias correction, and decoupled (AdamW-style) weight decay when `weightDecay > 0`.
 * Float32 parameters step through the backend's fused kernel, in float32 with float32 moments (see
 * {@link Optimizer.step} and core's `OptimizerRule` for the exact operations); float64 ones in
 * float64 with the same formula.
 */
export function adam(options: AdamOptions = {}): Optimizer {
  options = checkObject('adam', 'options', options, true, [
    'learningRate',
    'beta1',
    'beta2',
    'epsilon',
    'weightDecay',
  ]);
  const { learningRate = 0.001, beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8, weightDecay = 0 } = options;
  inRange('adam', 'beta1', beta1, 0, 1);
  inRange('adam', 'beta2', beta2, 0, 1);
  // Float32 steps add epsilon in float32: below the smallest normal float32 it rounds to zero
  // or loses its precision, and a zero gradient's update became 0 / 0 = NaN.
  // Past the float32 range it is Infinity in a float32 step: every update x / Infinity = 0, and
  // training ran, changing nothing.
  if (
    typeof epsilon !== 'number' ||
    !(epsilon >= FLOAT32_MIN_NORMAL) ||
    !Number.isFinite(Math.fround(epsilon))
  )
    argError(
      'INVALID_ARGUMENT',
      'adam',
      'epsilon',
      `must be a number from ${FLOAT32_MIN_NORMAL} (the smallest normal float32) to 3.4e38 (finite in float32), got ${valueText(epsilon)}.`,
    );
  // A gradient g with (1 - beta2) g^2 below float32's subnormals has a float32 second moment of 0,
  // and its update is lr g / epsilon rather than about lr: with epsilon 2^-126 a gradient of 3e-22
  // moved a weight by 2.6e13. Such g are below 2^-75 / sqrt(1 - beta2); from epsilon at least
  // twice that, their update stays below lr / 2.
  const least = 2 ** -74 / Math.sqrt(1 - beta2);
  if (epsilon < least)
    argError(
      'INVALID_ARGUMENT',
      'adam',
      'epsilon',
      `must be at least ${least.toPrecision(3)} for beta2 = ${beta2} (2^-74 / sqrt(1 - beta2)), got ${valueText(epsilon)}: a gradient below half that has a float32 second moment of 0, and its update would be learningRate x gradient / epsilon, far more than learningRate.`,
    );
  inRange('adam', 'weightDecay', weightDecay, 0, Number.POSITIVE_INFINITY);
  let m: Float64Array[] = [];
  let v: Float64Array[] = [];
  return fused(weightDecay > 0 ? 'adamw' : 'adam', 'adam', schedule(learningRate, 'adam'), {
    rule: (lr, step) => ({ kind: 'adam', learningRate: lr, beta1, beta2, epsilon, weightDecay, step }),
    // A float32 second moment holds squares below 2^128: one gradient of 2^64 or more made it
    // Infinity, and that weight never moved again (every later update m / sqrt(v) was 0). A
    // float64 one holds squares below 2^1024: from 2^512 on, the same.
    maxGrad: 2 ** 64,
    maxGrad64: 2 ** 512,
    reset: () => {
      m = [];
      v = [];
    },
    float64(params, grads, lr, step) {
      if (m.length !== params.length) {
        m = params.map((p) => new Float64Array(p.length));
        v = params.map((p) => new Float64Array(p.length));
      }
      const c1 = 1 - beta1 ** step;
      const c2 = 1 - beta2 ** step;
      // The bias corrections hoisted out of the loop:
      // lr m/c1 / (sqrt(v/c2) + eps) = (lr/c1) m / (sqrt(v) / sqrt(c2) + eps).
      const size = lr / c1;
      const root = 1 / Math.sqrt(c2);
      const decay = lr * weightDecay;
      for (let k = 0; k < params.length; k++) {
        const p = params[k];
        const g = grads[k];
        const mk = m[k];
        const vk = v[k];
        for (let i = 0; i < p.length; i++) {
          const gi = g[i];
          const mi = beta1 * mk[i] + (1 - beta1) * gi;
          const vi = beta2 * vk[i] + (1 - beta2) * (gi * gi);
          mk[i] = mi;
          vk[i] = vi;
          p[i] -= (size * mi) / (Math.sqrt(vi) * root + epsilon) + decay * p[i];
        }
      }
    },
  });
}

/**
 * Passed by `train` as a fourth argument of {@link Optimizer.step}: the gradients come from checked
 * kernels, so the built-in optimisers skip their own scan of them (and of the weights after the
 * step, which `train` checks once per epoch). Not exported from the package.
 */
export const CHECKED_GRADIENTS: unique symbol = Symbol('cosinekit.nn.checkedGradients');

/** {@link Optimizer.step} as `train` calls it (a custom optimiser ignores the fourth argument). */
export type TrustedStep = (
  params: readonly Vec[],
  grads: readonly Vec[],
  kernels: Kernels | undefined,
  checked: typeof CHECKED_GRADIENTS,
) => Awaitable<void>;

/** `NON_FINITE` naming `arg` of `op` at the first NaN or ±Infinity of `arrays`. */
function refuseNonFinite(op: string, arg: string, arrays: readonly Vec[], what: string): void {
  const at = firstNonFinite(arrays);
  if (at) argError('NON_FINITE', op, arg, `${what} ${arrays[at[0]][at[1]]} in array ${at[0]}, at ${at[1]}.`);
}

/**
 * `NON_FINITE` naming `grads` of `op` at the first gradient past ±`limit`, whose square the float32
 * moments cannot hold: the step would leave that weight stuck for good rather than fail.
 */
function refuseHuge(op: string, grads: readonly Vec[], limit: number, bits: 32 | 64 = 32): void {
  for (let a = 0; a < grads.length; a++) {
    const g = grads[a];
    const i = g instanceof Float32Array ? hugeAt32(g, limit) : hugeAt64(g, limit);
    if (i >= 0)
      argError(
        'NON_FINITE',
        op,
        'grads',
        `holds ${g[i]} in array ${a}, at ${i}: its square, the float${bits} second moment, would be Infinity (from ±2^${Math.log2(limit)}), and that weight would never move again. Scale the loss or the inputs.`,
      );
  }
}

/**
 * Where the first value of `g` at or past ±`limit` lies, -1 for none: one loop a type, so each
 * reads one kind of array (one loop over both kinds, a gradient at about 7 ns, was a quarter of a
 * small batch's training step).
 */
function hugeAt32(g: Float32Array, limit: number): number {
  for (let i = 0; i < g.length; i++) if (Math.abs(g[i]) >= limit) return i;
  return -1;
}

/** {@link hugeAt32} for float64 gradients. */
function hugeAt64(g: Float64Array, limit: number): number {
  for (let i = 0; i < g.length; i++) if (Math.abs(g[i]) >= limit) return i;
  return -1;
}

/** Disposes the moments of an optimiser collected without `dispose()` (where the engine has it). */
const unreleased =
  typeof FinalizationRegistry === 'function'
    ? new FinalizationRegistry<{ state: OptimizerState | undefined }>((cell) => {
        try {
          cell.state?.dispose();
        } catch {
          // A backend already gone: nothing left to release.
        }
      })
    : undefined;

/** How {@link fused} steps one kind of optimiser. */
interface FusedSpec {
  /** The kernel's rule for learning rate `lr` at step `step` (1-based). */
  rule(lr: number, step: number): OptimizerRule;
  /** The largest |gradient| the float32 kernel's moments hold (none: any finite one). */
  maxGrad?: number;
  /** {@link FusedSpec.maxGrad} for float64 parameters, which step in float64. */
  maxGrad64?: number;
  /** The same update in float64, for float64 parameters. */
  float64(params: readonly Vec[], grads: readonly Vec[], lr: number, step: number): void;
  /** Forgets the float64 moments. */
  reset(): void;
}

/**
 * An optimiser whose float32 steps run on a backend's `optimizerStep` kernel. The moments live in
 * an {@link OptimizerState} of the kernels last used; given other kernels (another `train` call,
 * another kit), the moments are read back and carried over, so a run is the same whichever
 * kernels step it.
 */
function fused(name: string, op: 'adam' | 'sgd', lrAt: (step: number) => number, spec: FusedSpec): Optimizer {
  let steps = 0;
  /** The moments on the backend, in a cell the finalizer below shares (it must not hold the optimiser). */
  const cell: { state: OptimizerState | undefined } = { state: undefined };
  let owner: Kernels | undefined;
  /** The lengths of the parameter arrays of the last step (`undefined` before the first). */
  let sizes: number[] | undefined;
  /** The parameter arrays of the last step: another model's, even of the same shape, start afresh. */
  let last: readonly Vec[] | undefined;
  const learningRate = (caller = `${op}.step`): number => {
    const lr = lrAt(steps);
    if (typeof lr !== 'number')
      argError(
        'INVALID_TYPE',
        caller,
        'learningRate',
        `gave ${typeof lr === 'string' ? `the string '${lr}'` : typeof lr === 'object' && lr !== null ? describeType(lr) : valueText(lr)} at step ${steps}; a schedule must return a number.`,
      );
    // A schedule may end at 0 (cosineSchedule's default min): a step of size 0 is no update, not
    // an error; training past `total` steps once failed here.
    if (!(lr >= 0) || !Number.isFinite(lr))
      argError('INVALID_ARGUMENT', caller, 'learningRate', `gave ${lr} at step ${steps}; must be >= 0.`);
    return lr;
  };
  const optimizer: Optimizer = {
    name,
    get steps() {
      return steps;
    },
    // Checked as a step checks it: a schedule's NaN past its end was handed on (train's history).
    learningRate: () => learningRate(`${op}.learningRate`),
    step(params, grads, kernels, ...rest: unknown[]) {
      checkPairs(op, params, grads);
      if (cell.state) {
        // Moments gone with the backend that held them: restarting from zero moments at step
        // `steps` would be neither this run continued nor a fresh one (Adam's bias correction
        // assumes moments of `steps` steps), so say so instead.
        if (cell.state.disposed)
          argError(
            'DISPOSED',
            `${op}.step`,
            'optimizer',
            `lost its moments: the backend holding them was disposed (backend.dispose() or disposeBackends()). Call the optimiser's dispose() to start again from step 0, or make a new one.`,
          );
      }
      // Other parameter arrays (another model): a fresh start, as a new optimiser would make, on
      // either path (the float64 moments were once kept: stale momentum applied, or NaN weights).
      // Compared as arrays, not lengths: a second model of the same shape took the first one's
      // moments and step count.
      if (last !== undefined && (params.length !== last.length || params.some((q, i) => q !== last![i])))
        restart();
      last = [...params];
      sizes = params.map((p) => p.length);
      const lr = learningRate();
      const t = steps + 1;
      // Outside `train` nothing checked the gradients: a NaN one became a NaN weight silently.
      // The weights are checked after the step too (a learning rate far too high overflows them).
      const checked = rest[0] === CHECKED_GRADIENTS;
      if (!checked) refuseNonFinite(`${op}.step`, 'grads', grads, 'holds');
      const after = (): void => {
        if (!checked)
          refuseNonFinite(
            `${op}.step`,
            'learningRate',
            params,
            `made the weights non-finite (far too high for these gradients; lower it): the step left`,
          );
      };
      if (!params.every((p, i) => p instanceof Float32Array && grads[i] instanceof Float32Array)) {
        if (spec.maxGrad64 !== undefined) refuseHuge(`${op}.step`, grads, spec.maxGrad64, 64);
        spec.float64(params, grads, lr, t);
        steps = t;
        after();
        return;
      }
      if (spec.maxGrad !== undefined) refuseHuge(`${op}.step`, grads, spec.maxGrad);
      const k = kernels?.createOptimizerState && kernels.optimizerStep ? kernels : referenceKernels;
      const same = cell.state !== undefined;
      const run = (s: OptimizerState): Awaitable<void> =>
        then(k.optimizerStep!(s, params as Float32Array[], grads as Float32Array[], spec.rule(lr, t)), () => {
          steps = t;
          after();
        });
      if (same && owner === k) return run(cell.state!);
      // Other kernels take the moments over.
      const moments = same ? cell.state!.read() : undefined;
      cell.state?.dispose();
      return then(k.createOptimizerState!(op, sizes, moments), (s) => {
        cell.state = s;
        owner = k;
        return run(s);
      });
    },
    dispose: () => restart(),
  };
  // An optimiser dropped without dispose() (as a one-off adam() handed to train is) releases its
  // moments when it is collected: they are backend memory (wasm, GPU) the collector cannot see.
  unreleased?.register(optimizer, cell);
  return builtIn(optimizer);
  /** Back to a new optimiser's state: no moments, step 0 (the schedule from its start). */
  function restart(): void {
    cell.state?.dispose();
    cell.state = undefined;
    owner = undefined;
    sizes = undefined;
    last = undefined;
    steps = 0;
    spec.reset();
  }
}

/** `f(v)` now when `v` is a value, after it settles when it is a promise. */
function then<T, U>(v: Awaitable<T>, f: (x: T) => Awaitable<U>): Awaitable<U> {
  return v instanceof Promise ? v.then(f) : f(v);
}

function inRange(op: string, arg: string, x: number, lo: number, hi: number): void {
  if (!(typeof x === 'number' && x >= lo && x < hi))
    argError('INVALID_ARGUMENT', op, arg, `must be a number in [${lo}, ${hi}), got ${valueText(x)}.`);
}

/**
 * A cosine learning-rate schedule with linear warm-up: `base * (step + 1) / warmup`, at most `base`,
 * while `step < warmup` (`base / warmup` at step 0, never 0; `base` from step `warmup - 1`), then
 * half a cosine from `base` at step `warmup` down to `min` at `total` steps, and `min` after.
 * `warmup` past `total` is `INVALID_ARGUMENT`; so is a step that is negative or NaN, given to the
 * function it returns.
 */
export function cosineSchedule(base: number, total: number, warmup = 0, min = 0): (step: number) => number {
  checkNumber('cosineSchedule', 'base', base, 0, Number.MAX_VALUE);
  checkNumber('cosineSchedule', 'total', total, 0, Number.MAX_VALUE);
  checkNumber('cosineSchedule', 'warmup', warmup, 0, Number.MAX_VALUE);
  checkNumber('cosineSchedule', 'min', min, 0, base);
  // A warm-up past the end ran on after `total` (0.006 at step 11 of 10, warm-up 20), where the
  // schedule promises `min`.
  if (warmup > total)
    argError(
      'INVALID_ARGUMENT',
      'cosineSchedule',
      'warmup',
      `is ${warmup} steps, past the schedule's ${total}: it must be at most total.`,
    );
  return (step) => {
    // The function is the caller's too (to plot, for another optimiser): a negative or NaN step
    // gave NaN without a word.
    checkNumber('cosineSchedule', 'step', step, 0, Number.MAX_VALUE);
    if (step < warmup) return Math.min(base, (base * (step + 1)) / warmup);
    // A warm-up as long as the schedule has no decay: `min` from `total` on (it was `base` at
    // `total` and `min` one step later).
    const span = total - warmup;
    const t = span > 0 ? Math.min(1, (step - warmup) / span) : 1;
    return min + 0.5 * (base - min) * (1 + Math.cos(Math.PI * t));
  };
}

function schedule(lr: LearningRate, op: string): (step: number) => number {
  if (typeof lr === 'function')
    return (step) => {
      try {
        const v = lr(step);
        // An async schedule: refused by name, its rejection handled (it ended the process).
        if (promised(v))
          argError(
            'INVALID_TYPE',
            `${op}.step`,
            'learningRate',
            `returned a promise at step ${step}: a schedule must answer a number synchronously.`,
          );
        return v;
      } catch (e) {
        if (isCosineKitError(e)) throw e;
        // The caller's schedule threw: named, its error as the cause (it escaped raw).
        throw argErrorOf(
          'INVALID_ARGUMENT',
          `${op}.step`,
          'learningRate',
          `threw at step ${step}: ${errorText(e)}`,
          e,
        );
      }
    };
  // Compared before its type was known, a symbol or an object without a prototype threw raw.
  if (typeof lr !== 'number' || !(lr > 0) || !Number.isFinite(lr))
    argError('INVALID_ARGUMENT', op, 'learningRate', `must be > 0, got ${valueText(lr)}.`);
  // Float32 steps take it as float32: 1e-320 became 0, and every step nothing; 1e39 became
  // Infinity, and the first step made every weight non-finite.
  if (Math.fround(lr) === 0 || !Number.isFinite(Math.fround(lr)))
    argError(
      'INVALID_ARGUMENT',
      op,
      'learningRate',
      `is ${lr}, which is ${Math.fround(lr) === 0 ? '0' : 'Infinity'} in float32 (steps would ${Math.fround(lr) === 0 ? 'change nothing' : 'make every weight non-finite'}).`,
    );
  return () => lr;
}

function checkPairs(op: string, params: readonly Vec[], grads: readonly Vec[]): void {
  for (const [arg, list] of [
    ['params', params],
    ['grads', grads],
  ] as const) {
    if (!Array.isArray(list))
      argError(
        'INVALID_TYPE',
        `${op}.step`,
        arg,
        `must be an array of Float32Array or Float64Array, got ${list === null ? 'null' : typeof list}.`,
      );
    for (let i = 0; i < list.length; i++)
      if (!(isA(list[i], Float32Array) || isA(list[i], Float64Array)))
        argError('INVALID_TYPE', `${op}.step`, `${arg}[${i}]`, 'must be a Float32Array or Float64Array.');
  }
  if (params.length !== grads.length || params.some((p, i) => p.length !== grads[i].length)) {
    argError('SHAPE_MISMATCH', `${op}.step`, 'grads', 'must match params in count and lengths.');
  }
}
