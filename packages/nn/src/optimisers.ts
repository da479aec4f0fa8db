import { argError } from '@cosinekit/core/backend';
import type { Vec } from './ops.js';

/** A learning rate: a constant, or a schedule of the step number (0-based). */
export type LearningRate = number | ((step: number) => number);

/** Updates parameters in place from their gradients. */
export interface Optimizer {
  readonly name: string;
  /** Steps taken so far. */
  readonly steps: number;
  /** The learning rate the next step will use. */
  learningRate(): number;
  /** One update: `params[i]` moves against `grads[i]` (same lengths, same order every call). */
  step(params: readonly Vec[], grads: readonly Vec[]): void;
}

/** Options of {@link sgd}. */
export interface SgdOptions {
  /** Defaults to 0.01. */
  learningRate?: LearningRate;
  /** Heavy-ball momentum; defaults to 0.9 (0 gives plain SGD). */
  momentum?: number;
  /** L2 penalty added to the gradient (`g + weightDecay * p`); defaults to 0. */
  weightDecay?: number;
}

/** SGD with momentum: `v = momentum v + g; p -= lr v` (PyTorch's form). */
export function sgd(options: SgdOptions = {}): Optimizer {
  const { learningRate = 0.01, momentum = 0.9, weightDecay = 0 } = options;
  let velocity: Float64Array[] = [];
  let steps = 0;
  const lrAt = schedule(learningRate, 'sgd');
  return {
    name: 'sgd',
    get steps() {
      return steps;
    },
    learningRate: () => lrAt(steps),
    step(params, grads) {
      checkPairs('sgd', params, grads);
      if (velocity.length !== params.length) velocity = params.map((p) => new Float64Array(p.length));
      const lr = lrAt(steps);
      for (let k = 0; k < params.length; k++) {
        const p = params[k];
        const g = grads[k];
        const v = velocity[k];
        for (let i = 0; i < p.length; i++) {
          v[i] = momentum * v[i] + g[i] + weightDecay * p[i];
          p[i] -= lr * v[i];
        }
      }
      steps++;
    },
  };
}

/** Options of {@link adam}. */
export interface AdamOptions {
  /** Defaults to 0.001. */
  learningRate?: LearningRate;
  /** Defaults to 0.9. */
  beta1?: number;
  /** Defaults to 0.999. */
  beta2?: number;
  /** Defaults to 1e-8. */
  epsilon?: number;
  /**
   * Decoupled weight decay (AdamW, Loshchilov and Hutter 2019): `p -= lr * weightDecay * p`
   * beside the Adam step, not folded into the gradient. Defaults to 0 (plain Adam).
   */
  weightDecay?: number;
}

/** Adam with bias correction, and decoupled (AdamW-style) weight decay when `weightDecay > 0`. */
export function adam(options: AdamOptions = {}): Optimizer {
  const { learningRate = 0.001, beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8, weightDecay = 0 } = options;
  let m: Float64Array[] = [];
  let v: Float64Array[] = [];
  let steps = 0;
  const lrAt = schedule(learningRate, 'adam');
  return {
    name: weightDecay > 0 ? 'adamw' : 'adam',
    get steps() {
      return steps;
    },
    learningRate: () => lrAt(steps),
    step(params, grads) {
      checkPairs('adam', params, grads);
      if (m.length !== params.length) {
        m = params.map((p) => new Float64Array(p.length));
        v = params.map((p) => new Float64Array(p.length));
      }
      const lr = lrAt(steps);
      const t = steps + 1;
      const c1 = 1 - beta1 ** t;
      const c2 = 1 - beta2 ** t;
      // The same update with the bias corrections hoisted out of the loop:
      // lr m/c1 / (sqrt(v/c2) + eps) = (lr/c1) m / (sqrt(v) / sqrt(c2) + eps).
      const step = lr / c1;
      const root = 1 / Math.sqrt(c2);
      const b1 = 1 - beta1;
      const b2 = 1 - beta2;
      const decay = lr * weightDecay;
      for (let k = 0; k < params.length; k++) {
        const p = params[k];
        const g = grads[k];
        const mk = m[k];
        const vk = v[k];
        const n = p.length;
        for (let i = 0; i < n; i++) {
          const gi = g[i];
          const mi = beta1 * mk[i] + b1 * gi;
          const vi = beta2 * vk[i] + b2 * gi * gi;
          mk[i] = mi;
          vk[i] = vi;
          p[i] -= (step * mi) / (Math.sqrt(vi) * root + epsilon) + decay * p[i];
        }
      }
      steps = t;
    },
  };
}

/**
 * A cosine learning-rate schedule with linear warm-up: rises from 0 to `base` over `warmup` steps,
 * then follows half a cosine down to `min` at `total` steps, and stays there.
 */
export function cosineSchedule(base: number, total: number, warmup = 0, min = 0): (step: number) => number {
  return (step) => {
    if (step < warmup) return (base * (step + 1)) / warmup;
    const t = Math.min(1, (step - warmup) / Math.max(1, total - warmup));
    return min + 0.5 * (base - min) * (1 + Math.cos(Math.PI * t));
  };
}

function schedule(lr: LearningRate, op: string): (step: number) => number {
  if (typeof lr === 'function') return lr;
  if (!(lr > 0) || !Number.isFinite(lr))
    argError('INVALID_ARGUMENT', op, 'learningRate', `must be > 0, got ${lr}.`);
  return () => lr;
}

function checkPairs(op: string, params: readonly Vec[], grads: readonly Vec[]): void {
  if (params.length !== grads.length || params.some((p, i) => p.length !== grads[i].length)) {
    argError('SHAPE_MISMATCH', `${op}.step`, 'grads', 'must match params in count and lengths.');
  }
}
