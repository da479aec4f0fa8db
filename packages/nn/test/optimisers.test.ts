import { createCosineKit } from '@cosinekit/core';
import { isCosineKitError, type Kernels, referenceKernels } from '@cosinekit/core/backend';
import { describe, expect, it } from 'vitest';
import { adam, cosineSchedule, sgd } from '../src/index.js';

/** Minimises 0.5 ‖p - t‖² and returns the final distance to t. */
function minimise(opt: ReturnType<typeof sgd>, steps: number): number {
  const t = [3, -2, 0.5];
  const p = new Float32Array(3);
  for (let s = 0; s < steps; s++) {
    const g = Float32Array.from(p, (v, i) => v - t[i]);
    opt.step([p], [g]);
  }
  return Math.hypot(...Array.from(p, (v, i) => v - t[i]));
}

describe('optimisers', () => {
  it('SGD with momentum and Adam minimise a quadratic', () => {
    expect(minimise(sgd({ learningRate: 0.1 }), 200)).toBeLessThan(1e-3);
    expect(minimise(sgd({ learningRate: 0.1, momentum: 0 }), 200)).toBeLessThan(1e-3);
    expect(minimise(adam({ learningRate: 0.05 }), 800)).toBeLessThan(1e-2);
  });

  it('SGD follows v = mu v + g, p -= lr v', () => {
    const p = new Float32Array([1]);
    const o = sgd({ learningRate: 0.5, momentum: 0.9 });
    o.step([p], [new Float32Array([1])]);
    expect(p[0]).toBeCloseTo(0.5, 6);
    o.step([p], [new Float32Array([1])]);
    expect(p[0]).toBeCloseTo(0.5 - 0.5 * 1.9, 6);
    expect(o.steps).toBe(2);
  });

  it("Adam's first step has the size of the learning rate", () => {
    const p = new Float64Array([1, 1]);
    adam({ learningRate: 0.01 }).step([p], [new Float64Array([5, -0.001])]);
    expect(p[0]).toBeCloseTo(0.99, 6);
    expect(p[1]).toBeCloseTo(1.01, 4);
  });

  it('AdamW decays weights decoupled from the gradient', () => {
    const p = new Float64Array([2]);
    const o = adam({ learningRate: 0.1, weightDecay: 0.5 });
    expect(o.name).toBe('adamw');
    o.step([p], [new Float64Array([0])]);
    // Zero gradient: only the decay acts, p -= lr * wd * p.
    expect(p[0]).toBeCloseTo(2 - 0.1 * 0.5 * 2, 10);
  });

  it('takes a schedule, and cosineSchedule warms up then decays', () => {
    const f = cosineSchedule(1, 10, 2, 0.1);
    expect(f(0)).toBeCloseTo(0.5);
    expect(f(1)).toBeCloseTo(1);
    expect(f(2)).toBeCloseTo(1);
    expect(f(10)).toBeCloseTo(0.1);
    expect(f(50)).toBeCloseTo(0.1);
    const o = sgd({ learningRate: f });
    expect(o.learningRate()).toBeCloseTo(0.5);
    // A warm-up that is not a whole number of steps never overshoots base (step 2 of 2.5 gave 1.2).
    const g = cosineSchedule(1, 10, 2.5);
    for (let step = 0; step < 12; step++) expect(g(step), `step ${step}`).toBeLessThanOrEqual(1);
    expect(g(2)).toBe(1);
    // A warm-up past the end ran on past `total` (0.006 at step 11 of 10), where `min` is promised.
    expect(() => cosineSchedule(1e-2, 10, 20)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', arg: 'warmup' }),
    );
    const whole = cosineSchedule(1, 10, 10, 0.25);
    expect(whole(9)).toBe(1);
    // `min` at `total`, as with a shorter warm-up (it was still `base` there).
    expect(whole(10)).toBe(0.25);
    expect(whole(11)).toBe(0.25);
    // The function refuses a step no schedule has (a negative or NaN step gave NaN without a word).
    for (const [step, code] of [
      [-1, 'INVALID_ARGUMENT'],
      [Number.NaN, 'INVALID_ARGUMENT'],
      [Number.POSITIVE_INFINITY, 'INVALID_ARGUMENT'],
      ['3', 'INVALID_TYPE'],
    ] as const)
      expect(() => f(step as number), `${String(step)}`).toThrow(
        expect.objectContaining({ code, op: 'cosineSchedule', arg: 'step' }),
      );
  });

  it('rejects a bad learning rate and mismatched gradients', () => {
    expect(() => adam({ learningRate: -1 })).toThrow(/learningRate/);
    expect(() => sgd().step([new Float32Array(2)], [new Float32Array(3)])).toThrow(/grads/);
  });

  it('refuses bad hyperparameters with typed errors naming them', () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return isCosineKitError(e) ? `${e.code} ${e.message}` : String(e);
      }
      return 'none';
    };
    for (const [f, arg] of [
      [() => adam({ beta1: 1 }), 'beta1'],
      [() => adam({ beta1: Number.NaN }), 'beta1'],
      [() => adam({ beta2: -0.1 }), 'beta2'],
      [() => adam({ epsilon: 0 }), 'epsilon'],
      [() => adam({ epsilon: Number.POSITIVE_INFINITY }), 'epsilon'],
      // Infinity in float32: training ran and changed nothing (found by a probe).
      [() => adam({ epsilon: Number.MAX_VALUE }), 'epsilon'],
      [() => adam({ epsilon: 3.5e38 }), 'epsilon'],
      // Below 2^-74 / sqrt(1 - beta2): a gradient of 3e-22 has a float32 second moment of 0, and
      // with epsilon 2^-126 it moved a weight by 2.6e13 (found by a probe).
      [() => adam({ epsilon: 2 ** -126 }), 'epsilon'],
      [() => adam({ epsilon: 1e-21 }), 'epsilon'],
      [() => adam({ epsilon: 1e-19, beta2: 0.99999999 }), 'epsilon'],
      [() => adam({ weightDecay: -1 }), 'weightDecay'],
      [() => sgd({ momentum: 1 }), 'momentum'],
      [() => sgd({ weightDecay: Number.NaN }), 'weightDecay'],
    ] as const) {
      expect(code(f)).toMatch(new RegExp(`^INVALID_ARGUMENT .*${arg}`));
    }
    // From the bound on, the smallest gradients move a weight by less than the learning rate.
    for (const beta2 of [0, 0.999, 0.99999]) {
      const epsilon = 2 ** -74 / Math.sqrt(1 - beta2);
      const p = new Float32Array([1, 1, 1, 1]);
      adam({ epsilon, beta2, learningRate: 1e-3 }).step(
        [p],
        [new Float32Array([1e-23, 3e-22, 1e-21, 1e-20])],
      );
      for (const w of p) expect(Math.abs(w - 1)).toBeLessThanOrEqual(1e-3 * (1 + 1e-6));
    }
    // A schedule that leaves (0, inf) fails the step that would use it, before anything moves.
    const o = adam({ learningRate: (s) => (s < 1 ? 0.1 : Number.NaN) });
    const p = new Float32Array([1, 2]);
    o.step([p], [new Float32Array([1, 1])]);
    const after = p.slice();
    expect(code(() => o.step([p], [new Float32Array([1, 1])]))).toMatch(/^INVALID_ARGUMENT .*learningRate/);
    expect(p).toEqual(after);
    expect(o.steps).toBe(1);
  });

  it("float32 steps are the kernel's bits whichever kernels run them, moments carried over", () => {
    const run = (pick: (step: number) => Kernels | undefined, make: () => ReturnType<typeof adam>) => {
      const o = make();
      const p = [randomF32(1000, 1), randomF32(17, 2)];
      for (let s = 0; s < 6; s++) o.step(p, [randomF32(1000, 10 + s), randomF32(17, 20 + s)], pick(s));
      o.dispose?.();
      return p;
    };
    // A copy of the reference table is other kernels: the optimiser moves its moments across.
    const other = { ...referenceKernels };
    for (const make of [
      () => adam({ learningRate: 0.01, weightDecay: 0.01 }),
      () => sgd({ learningRate: 0.01 }),
    ]) {
      const one = run(() => undefined, make);
      const mixed = run((s) => (s < 3 ? referenceKernels : other), make);
      expect(mixed).toEqual(one);
      // and float64 parameters, stepped in float64, land within float32 rounding of them.
      const o = make();
      const p = [Float64Array.from(randomF32(1000, 1)), Float64Array.from(randomF32(17, 2))];
      for (let s = 0; s < 6; s++)
        o.step(p, [Float64Array.from(randomF32(1000, 10 + s)), Float64Array.from(randomF32(17, 20 + s))]);
      p.forEach((q, k) => {
        for (let i = 0; i < q.length; i++) expect(Math.abs(q[i] - one[k][i])).toBeLessThan(1e-6);
      });
    }
  });
});

describe('an optimiser that starts again', () => {
  for (const make of [
    () => adam({ learningRate: 0.05, weightDecay: 0.01 }),
    () => sgd({ learningRate: 0.05, momentum: 0.9 }),
  ])
    it(`${make().name}: after dispose() or on other parameter arrays it steps as a new one; moments lost with their backend are DISPOSED`, () => {
      const grads = (s: number) => [randomF32(33, 40 + s), randomF32(5, 50 + s)];
      const fresh = () => {
        const o = make();
        const p = [randomF32(33, 3), randomF32(5, 4)];
        for (let s = 0; s < 3; s++) o.step(p, grads(s));
        return p;
      };
      // dispose() mid-run, then three steps on new weights: the bits of a new optimiser's three.
      const o = make();
      const first = [randomF32(33, 7), randomF32(5, 8)];
      for (let s = 0; s < 4; s++) o.step(first, grads(10 + s));
      o.dispose?.();
      expect(o.steps).toBe(0);
      const p = [randomF32(33, 3), randomF32(5, 4)];
      for (let s = 0; s < 3; s++) o.step(p, grads(s));
      expect(p).toEqual(fresh());
      // Other parameter arrays (another model's sizes): a fresh start too.
      const q = make();
      const small = [randomF32(7, 9)];
      for (let s = 0; s < 2; s++) q.step(small, [randomF32(7, 60 + s)]);
      const r = [randomF32(33, 3), randomF32(5, 4)];
      for (let s = 0; s < 3; s++) q.step(r, grads(s));
      expect(r).toEqual(fresh());
      // The same in float64 (the gradient-check path), smaller and larger arrays after others:
      // its moments were once kept (stale momentum applied; NaN weights past the old lengths).
      const f64 = (n: number, seed: number) => Float64Array.from(randomF32(n, seed));
      const fresh64 = (n: number) => {
        const p = [f64(n, 3)];
        const o = make();
        for (let s = 0; s < 3; s++) o.step(p, [f64(n, 70 + s)]);
        return p;
      };
      for (const n of [2, 9]) {
        const o = make();
        o.step([f64(5, 1)], [f64(5, 2)]);
        o.step([f64(5, 1)], [f64(5, 2)]);
        const p = [f64(n, 3)];
        for (let s = 0; s < 3; s++) o.step(p, [f64(n, 70 + s)]);
        expect(o.steps, `float64, ${n} after 5`).toBe(3);
        expect(p, `float64, ${n} after 5`).toEqual(fresh64(n));
      }
      // The moments' backend disposed under them (as backend.dispose() does): the next step says so.
      let held: { dispose(): void } | undefined;
      const kernels = {
        ...referenceKernels,
        createOptimizerState: (...a: Parameters<NonNullable<Kernels['createOptimizerState']>>) => {
          const st = referenceKernels.createOptimizerState!(...a) as Awaited<
            ReturnType<NonNullable<Kernels['createOptimizerState']>>
          >;
          held = st;
          return st;
        },
      } as Kernels;
      const w = make();
      const x = [randomF32(33, 3), randomF32(5, 4)];
      w.step(x, grads(0), kernels);
      held!.dispose();
      const before = x.map((a) => a.slice());
      let e: unknown;
      try {
        w.step(x, grads(1), kernels);
      } catch (err) {
        e = err;
      }
      expect(e).toMatchObject({ code: 'DISPOSED', arg: 'optimizer' });
      expect(x).toEqual(before);
      // dispose() clears it: the optimiser starts again and runs as a new one.
      w.dispose?.();
      const y = [randomF32(33, 3), randomF32(5, 4)];
      for (let s = 0; s < 3; s++) w.step(y, grads(s), kernels);
      expect(y).toEqual(fresh());
    });
});

/** Deterministic float32 values in [-1, 1). */
function randomF32(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = (s >>> 0) / 2 ** 31 - 1;
  }
  return out;
}

describe('a learning rate past the float32 range', () => {
  it('is refused when the optimiser is made, as one that is 0 in float32 is (1e39 made every weight non-finite at the first step)', () => {
    for (const make of [() => adam({ learningRate: 1e39 }), () => sgd({ learningRate: 3.5e38 })])
      expect(make).toThrow(
        expect.objectContaining({
          code: 'INVALID_ARGUMENT',
          arg: 'learningRate',
          message: expect.stringMatching(/Infinity in float32/),
        }),
      );
    expect(() => adam({ learningRate: 1e-320 })).toThrow(expect.objectContaining({ arg: 'learningRate' }));
    expect(adam({ learningRate: 3e38 }).learningRate()).toBe(3e38);
  });
});

describe("a gradient whose square Adam's float32 moments cannot hold", () => {
  it('is refused (NON_FINITE naming grads) before the step, on every kernel path; one just below steps the weight', async () => {
    const kit = createCosineKit({ backend: 'reference' });
    const kernels = await kit.kernels();
    for (const k of [undefined, kernels]) {
      const opt = adam({ learningRate: 0.1 });
      const p = Float32Array.of(1, 1);
      // 1e20 squared is Infinity in float32: that weight's moment stayed Infinity and it never moved again.
      await expect((async () => opt.step([p], [Float32Array.of(1e20, 1)], k))()).rejects.toMatchObject({
        code: 'NON_FINITE',
        arg: 'grads',
        message: expect.stringMatching(/never move again/),
      });
      expect(Array.from(p)).toEqual([1, 1]);
      await opt.step([p], [Float32Array.of(-(2 ** 63), 1)], k);
      const moved = p[0];
      expect(moved).toBeGreaterThan(1);
      await opt.step([p], [Float32Array.of(-1, 1)], k);
      expect(p[0]).toBeGreaterThan(moved);
    }
    // Float64 moments hold it.
    const q = Float64Array.of(1);
    adam({ learningRate: 0.1 }).step([q], [Float64Array.of(1e20)]);
    expect(q[0]).toBeCloseTo(0.9, 6);
    // Not one of 2^512 or more: its square is Infinity in float64, and that weight froze for good
    // while the others went on (found by a probe).
    const opt = adam({ learningRate: 0.1 });
    const r = Float64Array.of(1, 1);
    expect(() => opt.step([r], [Float64Array.of(1e200, 1)])).toThrow(
      expect.objectContaining({
        code: 'NON_FINITE',
        arg: 'grads',
        message: expect.stringMatching(/float64 second moment/),
      }),
    );
    expect(Array.from(r)).toEqual([1, 1]);
    opt.step([r], [Float64Array.of(2 ** 511, 1)]);
    opt.step([r], [Float64Array.of(1, 1)]);
    expect(r[0]).toBeLessThan(0.9);
  });
});
