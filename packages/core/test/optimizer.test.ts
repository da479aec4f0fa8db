import { describe, expect, it } from 'vitest';
import {
  type Backend,
  isCosineKitError,
  type OptimizerRule,
  type OptimizerState,
  optimizerCoefficients,
  referenceKernels,
  resolveKernels,
} from '../src/backend.js';
import { createCosineKit } from '../src/index.js';

/** Deterministic values in [-scale, scale). */
function values(n: number, seed: number, scale: number): Float32Array {
  const out = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 2 ** 31 - 1) * scale;
  }
  return out;
}

const adamRule = (step: number, weightDecay = 0): OptimizerRule => ({
  kind: 'adam',
  learningRate: 0.01,
  beta1: 0.9,
  beta2: 0.999,
  epsilon: 1e-8,
  weightDecay,
  step,
});
const sgdRule: OptimizerRule = { kind: 'sgd', learningRate: 0.05, momentum: 0.9, weightDecay: 1e-3 };

/** The rule's recurrences in float64, from the same float32 inputs. */
function float64Steps(p0: Float32Array, grads: Float32Array[], rules: OptimizerRule[]): Float64Array {
  const p = Float64Array.from(p0);
  const m = new Float64Array(p.length);
  const v = new Float64Array(p.length);
  rules.forEach((r, s) => {
    const g = grads[s];
    for (let i = 0; i < p.length; i++) {
      if (r.kind === 'adam') {
        m[i] = r.beta1 * m[i] + (1 - r.beta1) * g[i];
        v[i] = r.beta2 * v[i] + (1 - r.beta2) * g[i] * g[i];
        const mh = m[i] / (1 - r.beta1 ** r.step);
        const vh = v[i] / (1 - r.beta2 ** r.step);
        p[i] -= (r.learningRate * mh) / (Math.sqrt(vh) + r.epsilon) + r.learningRate * r.weightDecay * p[i];
      } else {
        m[i] = r.momentum * m[i] + g[i] + r.weightDecay * p[i];
        p[i] -= r.learningRate * m[i];
      }
    }
  });
  return p;
}

// Awkward lengths: one value, fewer than a SIMD lane, odd, not a multiple of 4, and large.
const LENGTHS = [1, 3, 5, 17, 1000, 100_003];

describe('reference optimiser kernel', () => {
  for (const [name, rules] of [
    ['adam', [1, 2, 3, 4, 5].map((t) => adamRule(t))],
    ['adamw', [1, 2, 3, 4, 5].map((t) => adamRule(t, 0.1))],
    ['sgd', [sgdRule, sgdRule, sgdRule, sgdRule, sgdRule]],
  ] as const) {
    it(`${name}: five float32 steps stay within float32 rounding of float64`, () => {
      for (const n of LENGTHS) {
        const p0 = values(n, n, 1);
        // Gradients over six decades, so the moments and sqrt(v) see small and large values.
        const grads = rules.map((_, s) => values(n, 100 + s, 10 ** ((s % 3) * 3 - 4)));
        const want = float64Steps(p0, grads, [...rules]);
        const p = p0.slice();
        const state = referenceKernels.createOptimizerState!(rules[0].kind, [n]) as OptimizerState;
        for (let s = 0; s < rules.length; s++)
          referenceKernels.optimizerStep!(state, [p], [grads[s]], rules[s]);
        // A step rounds each of its few float32 operations once (2^-24 relative): 5 steps stay
        // within 1e-6 per step of the largest magnitude involved (|p| <= 1 at the start; SGD's
        // large gradients carry p further). A formula off by a term is off by 1e-3 or more.
        let worst = 0;
        let size = 1;
        for (let i = 0; i < n; i++) {
          worst = Math.max(worst, Math.abs(p[i] - want[i]));
          size = Math.max(size, Math.abs(want[i]));
        }
        expect(worst).toBeLessThan(1e-6 * rules.length * size);
        // The moved parameters did move: the check is not of p against itself.
        let moved = 0;
        for (let i = 0; i < n; i++) moved = Math.max(moved, Math.abs(want[i] - p0[i]));
        expect(moved).toBeGreaterThan(1e-3);
      }
    });
  }

  it('rounds the coefficients once, from float64', () => {
    const c = optimizerCoefficients(adamRule(3, 0.5));
    expect(Array.from(c)).toEqual(
      [0.9, 0.1, 0.999, 1 - 0.999, 0.01 / (1 - 0.9 ** 3), 1 / Math.sqrt(1 - 0.999 ** 3), 1e-8, 0.005].map(
        Math.fround,
      ),
    );
  });

  it('carries moments over, and refuses a disposed or foreign state', () => {
    const s = referenceKernels.createOptimizerState!('adam', [3, 2]) as OptimizerState;
    const p = [values(3, 1, 1), values(2, 2, 1)];
    referenceKernels.optimizerStep!(s, p, [values(3, 3, 1), values(2, 4, 1)], adamRule(1));
    const moments = s.read();
    expect(moments.map((m) => m.length)).toEqual([3, 3, 2, 2]);
    const copy = referenceKernels.createOptimizerState!('adam', [3, 2], moments) as OptimizerState;
    expect(copy.read()).toEqual(moments);
    s.dispose();
    expect(s.disposed).toBe(true);
    const fail = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return isCosineKitError(e) ? e.code : 'other';
      }
      return 'none';
    };
    expect(fail(() => s.read())).toBe('DISPOSED');
    expect(fail(() => referenceKernels.optimizerStep!(copy, p, p, sgdRule))).toBe('INVALID_ARGUMENT');
    const foreign = { ...copy, backend: 'reference' };
    expect(fail(() => referenceKernels.optimizerStep!(foreign, p, p, adamRule(2)))).toBe('INVALID_ARGUMENT');
  });

  it('resolves the two kernels together', () => {
    const half: Backend = { name: 'half', kernels: { optimizerStep: () => undefined } };
    const r = resolveKernels(half);
    expect(r.kernels.optimizerStep).toBe(referenceKernels.optimizerStep);
    expect(r.kernels.createOptimizerState).toBe(referenceKernels.createOptimizerState);
    expect((r.providers as Record<string, string>).optimizerStep).toBe('reference');
  });

  it("through a kit's kernel table, arrays that do not match the state are refused and nothing moves", async () => {
    const kit = await createCosineKit({ backend: 'reference' });
    const k = await kit.kernels();
    const s = (await k.createOptimizerState!('adam', [3, 5])) as OptimizerState;
    const p = [values(3, 1, 1), values(5, 2, 1)];
    const before = p.map((x) => x.slice());
    const g = [values(3, 3, 1), values(5, 4, 1)];
    const cases: [Float32Array[], Float32Array[], string][] = [
      [p, [g[0], g[1].subarray(0, 4)], 'grads'], // short: the reference would read undefined (NaN)
      [p, [g[0]], 'grads'],
      [p, [g[0], values(9, 5, 1)], 'grads'],
      [[p[0]], g, 'params'],
      [[p[0], values(4, 6, 1)], g, 'params'],
    ];
    for (const [pp, gg, arg] of cases) {
      const e = await Promise.resolve()
        .then(() => k.optimizerStep!(s, pp, gg, adamRule(1)))
        .catch((x: unknown) => x);
      expect(isCosineKitError(e, 'SHAPE_MISMATCH'), String(e)).toBe(true);
      // Named to the array where one is at fault (grads[1]), else the list.
      expect(e).toMatchObject({
        op: 'optimizerStep',
        arg: expect.stringMatching(new RegExp(`^${arg}(\\[\\d\\])?$`)),
      });
    }
    expect(p).toEqual(before);
    expect(s.read().every((m) => m.every((v) => v === 0))).toBe(true);
    await k.optimizerStep!(s, p, g, adamRule(1));
    expect(p.every((x) => x.every(Number.isFinite))).toBe(true);
    kit.dispose();
  });
});

describe("the kernel table's optimiser kernels check the caller's arguments (an entry point like any other)", () => {
  /** The reference's optimiser kernels as a third party's, counting the calls that reach them. */
  const counting = () => {
    const calls = { create: 0, step: 0 };
    const backend: Backend = {
      name: 'counting',
      kernels: {
        ...referenceKernels,
        createOptimizerState: (kind, sizes, moments) => {
          calls.create++;
          return referenceKernels.createOptimizerState!(kind, sizes, moments);
        },
        optimizerStep: (state, params, grads, rule) => {
          calls.step++;
          return referenceKernels.optimizerStep!(state, params, grads, rule);
        },
      },
    };
    return { backend, calls };
  };
  const sgdRule: OptimizerRule = { kind: 'sgd', learningRate: 0.1, momentum: 0.9, weightDecay: 0 };
  const nan = Number.NaN;
  const inf = Number.POSITIVE_INFINITY;

  it('a step rule out of range, arrays of another type, a NaN gradient or a bad state: refused by name, nothing moves (NaN was written into the parameters and the moments)', async () => {
    const { backend, calls } = counting();
    const kit = createCosineKit({ backend });
    const k = await kit.kernels();
    const s = (await k.createOptimizerState!('adam', [3, 5])) as OptimizerState;
    const p = [values(3, 1, 1), values(5, 2, 1)];
    const before = p.map((x) => x.slice());
    const g = [values(3, 3, 1), values(5, 4, 1)];
    const withNaN = values(5, 4, 1);
    withNaN[4] = nan;
    const rule = adamRule(1) as Extract<OptimizerRule, { kind: 'adam' }>;
    const cases: [string, string, string, () => unknown][] = [
      [
        'INVALID_ARGUMENT',
        'rule.learningRate',
        'NaN',
        () => k.optimizerStep!(s, p, g, { ...rule, learningRate: nan }),
      ],
      [
        'INVALID_ARGUMENT',
        'rule.learningRate',
        '-1',
        () => k.optimizerStep!(s, p, g, { ...rule, learningRate: -1 }),
      ],
      [
        'INVALID_ARGUMENT',
        'rule.learningRate',
        'Infinity',
        () => k.optimizerStep!(s, p, g, { ...rule, learningRate: inf }),
      ],
      ['INVALID_ARGUMENT', 'rule.step', '0', () => k.optimizerStep!(s, p, g, { ...rule, step: 0 })],
      ['INVALID_ARGUMENT', 'rule.step', '1.5', () => k.optimizerStep!(s, p, g, { ...rule, step: 1.5 })],
      ['INVALID_ARGUMENT', 'rule.beta1', '1', () => k.optimizerStep!(s, p, g, { ...rule, beta1: 1 })],
      ['INVALID_ARGUMENT', 'rule.beta2', '2', () => k.optimizerStep!(s, p, g, { ...rule, beta2: 2 })],
      ['INVALID_ARGUMENT', 'rule.epsilon', '0', () => k.optimizerStep!(s, p, g, { ...rule, epsilon: 0 })],
      [
        'INVALID_ARGUMENT',
        'rule.weightDecay',
        '1e300',
        () => k.optimizerStep!(s, p, g, { ...rule, weightDecay: 1e300 }),
      ],
      ['INVALID_ARGUMENT', 'rule.kind', 'sgd on adam', () => k.optimizerStep!(s, p, g, sgdRule)],
      ['INVALID_TYPE', 'rule', 'null', () => k.optimizerStep!(s, p, g, null as never)],
      ['NON_FINITE', 'grads[1]', 'NaN gradient', () => k.optimizerStep!(s, p, [g[0], withNaN], rule)],
      [
        'INVALID_TYPE',
        'params[0]',
        'Float64Array',
        () => k.optimizerStep!(s, [new Float64Array(3) as never, p[1]], g, rule),
      ],
      [
        'INVALID_TYPE',
        'grads[0]',
        'plain array',
        () => k.optimizerStep!(s, p, [[0, 0, 0] as never, g[1]], rule),
      ],
      ['INVALID_TYPE', 'state', 'null', () => k.optimizerStep!(null as never, p, g, rule)],
    ];
    for (const [code, arg, what, call] of cases) {
      const e = await Promise.resolve()
        .then(call)
        .catch((x: unknown) => x);
      expect(e, what).toMatchObject({ code, op: 'optimizerStep', arg });
    }
    expect(calls.step).toBe(0);
    expect(p).toEqual(before);
    expect(s.read().every((m) => m.every((v) => v === 0))).toBe(true);
    s.dispose();
    await expect(Promise.resolve().then(() => k.optimizerStep!(s, p, g, rule))).rejects.toMatchObject({
      code: 'DISPOSED',
      arg: 'state',
    });
    // Good arguments step as before: the largest float32 epsilon (3.4028235e38, as nn's adam
    // takes it) too, and a non-finite parameter (not scanned: the next product refuses it).
    const t = (await k.createOptimizerState!('adam', [3, 5])) as OptimizerState;
    await k.optimizerStep!(t, p, g, rule);
    expect(calls.step).toBe(1);
    const u = (await k.createOptimizerState!('adam', [3, 5])) as OptimizerState;
    await k.optimizerStep!(u, [p[0].slice(), withNaN], g, { ...rule, epsilon: 3.4028235e38 });
    expect(calls.step).toBe(2);
    expect(p.every((x, i) => x.every(Number.isFinite) && x.some((v, j) => v !== before[i][j]))).toBe(true);
    kit.dispose();
  });

  it('createOptimizerState: an unknown kind, sizes that are not whole lengths, moments of the wrong count, length or values are refused by name before the backend sees them', async () => {
    const { backend, calls } = counting();
    const k = await createCosineKit({ backend }).kernels();
    const m4 = new Float32Array(4);
    const cases: [string, string, unknown, unknown, unknown][] = [
      ['INVALID_ARGUMENT', 'kind', 'nope', [4], undefined],
      ['INVALID_ARGUMENT', 'sizes[0]', 'sgd', [-1], undefined],
      ['INVALID_ARGUMENT', 'sizes[1]', 'sgd', [2, 1.5], undefined],
      ['INVALID_TYPE', 'sizes', 'sgd', 4, undefined],
      ['SHAPE_MISMATCH', 'moments[0]', 'sgd', [4], [Float32Array.of(0, 0, 0)]],
      ['NON_FINITE', 'moments[0]', 'sgd', [4], [Float32Array.of(nan, 0, 0, 0)]],
      ['SHAPE_MISMATCH', 'moments', 'adam', [4], [m4]],
      ['INVALID_ARGUMENT', 'moments[1]', 'adam', [4], [m4, Float32Array.of(0, -1, 0, 0)]],
      ['INVALID_TYPE', 'moments[1]', 'adam', [4], [m4, [0, 0, 0, 0]]],
    ];
    for (const [code, arg, kind, sizes, moments] of cases) {
      const e = await Promise.resolve()
        .then(() => k.createOptimizerState!(kind as never, sizes as never, moments as never))
        .catch((x: unknown) => x);
      expect(e, `${kind} ${String(sizes)} ${arg}`).toMatchObject({ code, op: 'createOptimizerState', arg });
    }
    expect(calls.create).toBe(0);
    const ok = (await k.createOptimizerState!(
      'adam',
      [4],
      [m4, Float32Array.of(0, 1, 2, 3)],
    )) as OptimizerState;
    expect(calls.create).toBe(1);
    expect(Array.from(ok.read()[1])).toEqual([0, 1, 2, 3]);
  });
});
