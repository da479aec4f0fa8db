import { type OptimizerRule, referenceKernels } from '@cosinekit/core/backend';
import { assertClose, check } from '../assert.js';
import { optimizerSteps64 } from '../oracle.js';
import { type ConformanceCase, defineCase } from './context.js';

/**
 * Parameter arrays of one state: one value, fewer than a lane, odd, multiples of 16 and 64 (an
 * unrolled loop with no tail), not a multiple of 4, large, and one past 8192 values.
 */
const SIZES = [1, 3, 5, 16, 17, 64, 1000, 4099, 8195];

const adam = (weightDecay: number, beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8) =>
  [1, 2, 3].map(
    (step): OptimizerRule => ({
      kind: 'adam',
      learningRate: 0.01,
      beta1,
      beta2,
      epsilon,
      weightDecay,
      step,
    }),
  );
const sgd = (momentum: number): OptimizerRule[] =>
  Array.from({ length: 3 }, () => ({ kind: 'sgd', learningRate: 0.05, momentum, weightDecay: 1e-3 }));

/**
 * The fused optimiser update (`createOptimizerState` + `optimizerStep`, the reference's where a
 * backend has none): the reference kernel's bits (the contract fixes every float32 operation), the
 * same moments, and float32 rounding of the float64 recurrences.
 */
export function optimizerCases(): ConformanceCase[] {
  return (
    [
      ['adam', adam(0)],
      ['adamw', adam(0.1)],
      // Not the defaults: a kernel that kept them passed every other case.
      ['adam, beta1 0.8, beta2 0.99, epsilon 1e-4', adam(0.01, 0.8, 0.99, 1e-4)],
      ['sgd with momentum', sgd(0.9)],
      ['plain sgd', sgd(0)],
    ] as const
  ).map(([name, rules]) =>
    defineCase(
      'optimizer',
      `${name}: three steps over lengths ${SIZES.join(', ')}, the last on a state carried over from the moments`,
      undefined,
      async ({ kernels }, data) => {
        const kind = rules[0].kind;
        const p0 = SIZES.map((n) => data.centred(1, n).data);
        // Gradients of three magnitudes, 1e-4 to 10, one per step.
        const grads = rules.map((_, s) =>
          SIZES.map((n) => data.centred(1, n).data.map((x) => x * 10 ** (3 * s - 4))),
        );
        const got = p0.map((p) => p.slice());
        const want = p0.map((p) => p.slice());
        let state = await kernels.createOptimizerState!(kind, SIZES);
        const ref = await referenceKernels.createOptimizerState!(kind, SIZES);
        for (let s = 0; s < rules.length; s++) {
          if (s === rules.length - 1) {
            // The last step on a new state holding the moments so far (as a model moved to
            // another backend carries them): a kernel that ignored them started from zero.
            const carried = await kernels.createOptimizerState!(kind, SIZES, state.read());
            state.dispose();
            state = carried;
          }
          await kernels.optimizerStep!(state, got, grads[s], rules[s]);
          referenceKernels.optimizerStep!(ref, want, grads[s], rules[s]);
        }
        const moments = state.read();
        const refMoments = ref.read();
        state.dispose();
        check(state.disposed, `${name}: state.disposed must be true after dispose()`);
        SIZES.forEach((n, k) => {
          // The float32 operations are the contract's, so the bits are the reference's.
          assertClose(`${name} params (length ${n}) vs the reference kernel`, got[k], want[k], () => 0);
          const exact = optimizerSteps64(
            p0[k],
            grads.map((g) => g[k]),
            rules,
          );
          let size = 1;
          for (const x of exact) size = Math.max(size, Math.abs(x));
          // A few roundings of 2^-24 per operation, each step: well under 1e-6 of the magnitude.
          assertClose(
            `${name} params (length ${n}) vs float64`,
            got[k],
            exact,
            () => 1e-6 * rules.length * size,
          );
        });
        check(moments.length === refMoments.length, `${name}: read() gave ${moments.length} moment arrays`);
        for (let j = 0; j < moments.length; j++)
          assertClose(`${name} moments ${j} vs the reference kernel`, moments[j], refMoments[j], () => 0);
      },
    ),
  );
}
