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
  });

  it('rejects a bad learning rate and mismatched gradients', () => {
    expect(() => adam({ learningRate: -1 })).toThrow(/learningRate/);
    expect(() => sgd().step([new Float32Array(2)], [new Float32Array(3)])).toThrow(/grads/);
  });
});
