import {
  type OptimizerKind,
  type OptimizerRule,
  type OptimizerState,
  optimizerCoefficients,
} from '../contract.js';
import { argError } from '../errors.js';

/** Optimiser moments in host memory: the reference's {@link OptimizerState}. */
class ReferenceOptimizerState implements OptimizerState {
  readonly backend = 'reference';
  #moments: Float32Array[] | null;

  constructor(
    readonly kind: OptimizerKind,
    readonly sizes: readonly number[],
    moments?: readonly Float32Array[],
  ) {
    const slots = kind === 'adam' ? 2 : 1;
    this.#moments = sizes.flatMap((n, k) =>
      Array.from({ length: slots }, (_, s) => {
        const m = new Float32Array(n);
        if (moments) m.set(moments[k * slots + s]);
        return m;
      }),
    );
  }

  get disposed(): boolean {
    return this.#moments === null;
  }

  /** The moments themselves (not copies), for the step. */
  live(): Float32Array[] {
    if (!this.#moments) argError('DISPOSED', 'optimizerStep', 'state', 'was disposed.');
    return this.#moments;
  }

  read(): Float32Array[] {
    return this.live().map((m) => m.slice());
  }

  dispose(): void {
    this.#moments = null;
  }
}

/** {@link Kernels.createOptimizerState} in host memory. */
export function createOptimizerState(
  kind: OptimizerKind,
  sizes: readonly number[],
  moments?: readonly Float32Array[],
): OptimizerState {
  return new ReferenceOptimizerState(kind, sizes, moments);
}

/** {@link Kernels.optimizerStep}: the float32 operations of {@link OptimizerRule}, rounded one by one. */
export function optimizerStep(
  state: OptimizerState,
  params: readonly Float32Array[],
  grads: readonly Float32Array[],
  rule: OptimizerRule,
): void {
  if (!(state instanceof ReferenceOptimizerState) || state.kind !== rule.kind)
    argError('INVALID_ARGUMENT', 'optimizerStep', 'state', `is not a reference '${rule.kind}' state.`);
  const mom = state.live();
  const c = optimizerCoefficients(rule);
  const f = Math.fround;
  for (let k = 0; k < params.length; k++) {
    const p = params[k];
    const g = grads[k];
    if (rule.kind === 'adam') {
      const [b1, o1, b2, o2, step, root, eps, decay] = c;
      const m = mom[2 * k];
      const v = mom[2 * k + 1];
      for (let i = 0; i < p.length; i++) {
        const gi = g[i];
        const mi = f(f(b1 * m[i]) + f(o1 * gi));
        const vi = f(f(b2 * v[i]) + f(o2 * f(gi * gi)));
        m[i] = mi;
        v[i] = vi;
        const den = f(f(f(Math.sqrt(vi)) * root) + eps);
        p[i] = f(p[i] - f(f(f(step * mi) / den) + f(decay * p[i])));
      }
    } else {
      const [mu, wd, lr] = c;
      const v = mom[k];
      for (let i = 0; i < p.length; i++) {
        const vi = f(f(f(mu * v[i]) + g[i]) + f(wd * p[i]));
        v[i] = vi;
        p[i] = f(p[i] - f(lr * vi));
      }
    }
  }
}
