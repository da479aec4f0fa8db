import { optimizerSteps64 } from '@cosinekit/conformance';
import {
  isCosineKitError,
  type OptimizerRule,
  type OptimizerState,
  referenceKernels,
} from '@cosinekit/core/backend';
import { describe, expect, it } from 'vitest';
import { backend, random, VARIANTS } from './helpers.js';

const adamRule = (step: number, weightDecay = 0): OptimizerRule => ({
  kind: 'adam',
  learningRate: 0.01,
  beta1: 0.9,
  beta2: 0.999,
  epsilon: 1e-8,
  weightDecay,
  step,
});
const sgdRule = (momentum: number): OptimizerRule => ({
  kind: 'sgd',
  learningRate: 0.05,
  momentum,
  weightDecay: 1e-3,
});

/** Whether two float32 arrays hold the same bits. */
function sameBits(a: Float32Array, b: Float32Array): boolean {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  return x.length === y.length && x.every((w, i) => w === y[i]);
}

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return isCosineKitError(e) ? e.code : String(e);
  }
  return 'none';
}

// Several arrays per state, as a model has (weights and biases): lengths of one value, fewer than
// a lane, odd, not a multiple of 4, and large; exactly one and just over two of the 4096-float
// slices the wasm state steps at a time.
const SIZES = [1, 3, 5, 17, 1000, 4096, 8193, 100_003];

describe.each(VARIANTS)('wasm optimiser kernel (%s)', (variant) => {
  for (const [name, rules] of [
    ['adam', [1, 2, 3, 4, 5].map((t) => adamRule(t))],
    ['adamw', [1, 2, 3, 4, 5].map((t) => adamRule(t, 0.1))],
    ['sgd', Array.from({ length: 5 }, () => sgdRule(0.9))],
    ['plain sgd', Array.from({ length: 5 }, () => sgdRule(0))],
  ] as const) {
    it(`${name}: the reference's bits, and float32 rounding of float64`, async () => {
      const b = await backend({ variant });
      const kind = rules[0].kind;
      const p0 = SIZES.map((n, k) => random(1, n, 10 + k).data);
      // Gradients over six decades, changing every step.
      const grads = rules.map((_, s) =>
        SIZES.map((n, k) => random(1, n, 100 * s + k).data.map((x) => x * 10 ** ((s % 3) * 3 - 4))),
      );
      const mine = p0.map((p) => p.slice());
      const ref = p0.map((p) => p.slice());
      const sw = b.kernels.createOptimizerState(kind, SIZES);
      const sr = referenceKernels.createOptimizerState!(kind, SIZES) as OptimizerState;
      rules.forEach((r, s) => {
        b.kernels.optimizerStep(sw, mine, grads[s], r);
        referenceKernels.optimizerStep!(sr, ref, grads[s], r);
      });
      SIZES.forEach((n, k) => {
        expect(sameBits(mine[k], ref[k]), `params of length ${n}`).toBe(true);
        const want = optimizerSteps64(
          p0[k],
          grads.map((g) => g[k]),
          [...rules],
        );
        let worst = 0;
        let size = 1;
        for (let i = 0; i < n; i++) {
          worst = Math.max(worst, Math.abs(mine[k][i] - want[i]));
          size = Math.max(size, Math.abs(want[i]));
        }
        expect(worst, `length ${n}`).toBeLessThan(1e-6 * rules.length * size);
      });
      // The moments held in wasm memory are the reference's, bit for bit.
      const mw = sw.read();
      const mr = sr.read();
      expect(mw.length).toBe(mr.length);
      for (let j = 0; j < mw.length; j++) expect(sameBits(mw[j], mr[j])).toBe(true);
      sw.dispose();
      b.dispose();
    });
  }
});

describe('wasm optimiser state', () => {
  it('lives in wasm memory until disposed, and goes with the backend', async () => {
    const b = await backend({ variant: 'simd' });
    const before = b.memory();
    const p = [random(1, 33, 1).data];
    const g = [random(1, 33, 2).data];
    for (let i = 0; i < 200; i++) {
      const s = b.kernels.createOptimizerState('adam', [33]);
      b.kernels.optimizerStep(s, p, g, adamRule(1));
      s.dispose();
      expect(s.disposed).toBe(true);
    }
    expect(b.memory()).toEqual(before);
    const kept = b.kernels.createOptimizerState('sgd', [33], [random(1, 33, 3).data]);
    expect(b.memory().residentHandles).toBe(before.residentHandles + 1);
    expect(kept.read()[0]).toEqual(random(1, 33, 3).data);
    b.dispose();
    expect(kept.disposed).toBe(true);
    expect(code(() => kept.read())).toBe('DISPOSED');
    kept.dispose();
    expect(b.memory()).toEqual({ residentHandles: 0, bytes: 0 });
  });

  it('refuses a state of another backend, another kind or other sizes', async () => {
    const a = await backend({ variant: 'simd' });
    const b = await backend({ variant: 'simd' });
    const p = [random(1, 8, 1).data];
    const s = a.kernels.createOptimizerState('adam', [8]);
    expect(code(() => b.kernels.optimizerStep(s, p, p, adamRule(1)))).toBe('INVALID_ARGUMENT');
    expect(code(() => a.kernels.optimizerStep(s, p, p, sgdRule(0.9)))).toBe('INVALID_ARGUMENT');
    const r = referenceKernels.createOptimizerState!('adam', [8]) as OptimizerState;
    expect(code(() => a.kernels.optimizerStep(r, p, p, adamRule(1)))).toBe('INVALID_ARGUMENT');
    expect(code(() => a.kernels.optimizerStep(s, [random(1, 9, 1).data], p, adamRule(1)))).toBe(
      'SHAPE_MISMATCH',
    );
    s.dispose();
    expect(code(() => a.kernels.optimizerStep(s, p, p, adamRule(1)))).toBe('DISPOSED');
    a.dispose();
    b.dispose();
  });

  it('refuses gradients of another count or length, and leaves the parameters and moments as they were', async () => {
    const a = await backend({ variant: 'simd' });
    const sizes = [8, 3];
    const p = sizes.map((n, k) => random(1, n, 20 + k).data);
    const s = a.kernels.createOptimizerState('adam', sizes);
    a.kernels.optimizerStep(s, p, [random(1, 8, 30).data, random(1, 3, 31).data], adamRule(1));
    const before = p.map((x) => x.slice());
    const moments = s.read();
    for (const grads of [
      [random(1, 8, 32).data],
      [random(1, 8, 32).data, random(1, 4, 33).data],
      [random(1, 100_000, 34).data, random(1, 3, 33).data],
    ]) {
      let e: unknown;
      try {
        a.kernels.optimizerStep(s, p, grads, adamRule(2));
      } catch (x) {
        e = x;
      }
      expect(e).toMatchObject({ code: 'SHAPE_MISMATCH', op: 'optimizerStep', arg: 'grads' });
      for (let k = 0; k < p.length; k++) expect(sameBits(p[k], before[k]), `params ${k}`).toBe(true);
      const now = s.read();
      for (let j = 0; j < now.length; j++) expect(sameBits(now[j], moments[j]), `moments ${j}`).toBe(true);
    }
    s.dispose();
    a.dispose();
  });
});
