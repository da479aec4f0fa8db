import { describe, expect, it } from 'vitest';
import {
  type Backend,
  exp32,
  isCosineKitError,
  log32,
  type Matrix,
  referenceKernels,
  resolveKernels,
} from '../src/backend.js';
import { createCosineKit } from '../src/index.js';

/** Distance in float32 steps between two float32 values of one sign. */
function ulps(a: number, b: number): number {
  const f = new Float32Array([a, b]);
  const u = new Int32Array(f.buffer);
  return Math.abs(u[0] - u[1]);
}

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

/** The softmax cross-entropy in float64 (Math.exp, Math.log). */
function softmax64(x: Matrix, t: Int32Array, scale: number, weight: number, keep?: Uint8Array) {
  const { rows, cols } = x;
  const grad = new Float64Array(rows * cols);
  const losses = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    const kept = (j: number) => j === t[i] || !keep || keep[o + j] !== 0;
    let m = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < cols; j++) if (kept(j)) m = Math.max(m, x.data[o + j]);
    let z = 0;
    for (let j = 0; j < cols; j++) if (kept(j)) z += Math.exp(scale * (x.data[o + j] - m));
    losses[i] = Math.log(z) - scale * (x.data[o + t[i]] - m);
    for (let j = 0; j < cols; j++)
      if (kept(j))
        grad[o + j] = scale * weight * (Math.exp(scale * (x.data[o + j] - m)) / z - (j === t[i] ? 1 : 0));
  }
  return { grad, losses };
}

describe('exp32 and log32 (the contract softmaxCrossEntropy uses)', () => {
  it('exp32 is within 2 ulp of exp over [-87, 0], 1 at 0, and 0 below -87 and at -Infinity', () => {
    let worst = 0;
    for (let i = 0; i <= 200_000; i++) {
      const u = Math.fround((-87 * i) / 200_000);
      worst = Math.max(worst, ulps(exp32(u), Math.fround(Math.exp(u))));
    }
    expect(worst).toBeLessThanOrEqual(2);
    expect(exp32(0)).toBe(1);
    expect(exp32(-0)).toBe(1);
    expect(exp32(Math.fround(-87.01))).toBe(0);
    expect(exp32(-1e30)).toBe(0);
    expect(exp32(Number.NEGATIVE_INFINITY)).toBe(0);
  });

  it('log32 is within 2 ulp of log for z >= 1 (the sums a softmax row can have), and 0 at 1', () => {
    let worst = 0;
    for (let i = 0; i <= 200_000; i++) {
      const z = Math.fround(1 + i * i * 1e-4);
      worst = Math.max(worst, ulps(log32(z), Math.fround(Math.log(z))));
    }
    expect(worst).toBeLessThanOrEqual(2);
    expect(log32(1)).toBe(0);
    expect(ulps(log32(Math.fround(3e38)), Math.fround(Math.log(3e38)))).toBeLessThanOrEqual(2);
  });
});

describe('reference softmaxCrossEntropy', () => {
  const sce = referenceKernels.softmaxCrossEntropy!;

  for (const [rows, cols, scale, drop] of [
    [1, 1, 20, 0],
    [1, 5, 20, 0],
    [4, 1, 2, 0.5],
    [3, 7, 20, 0.3],
    [13, 33, 64, 0.2],
    [64, 64, 20, 0.1],
  ] as const) {
    it(`${rows} x ${cols}, scale ${scale}${drop ? ', masked' : ''}: float32 rounding of float64`, async () => {
      const x = { data: values(rows * cols, rows + cols, 1), rows, cols };
      const t = Int32Array.from({ length: rows }, (_, i) => (i * 5) % cols);
      const keep = drop
        ? Uint8Array.from(values(rows * cols, 99, 1), (v) => (v * 0.5 + 0.5 >= drop ? 1 : 0))
        : undefined;
      const got = await sce(x, t, scale, 1 / rows, keep);
      const want = softmax64(x, t, scale, 1 / rows, keep);
      const c = scale / rows;
      // |u| <= 2 scale: the rounded logit carries 2 scale 2^-23 relative into each exponential.
      const rel = 2 * scale * 2 ** -22 + (cols + 10) * 2 ** -23;
      for (let k = 0; k < rows * cols; k++) {
        expect(Math.abs(got.grad[k] - want.grad[k])).toBeLessThanOrEqual(c * (rel + 2 ** -23));
        if (keep && keep[k] === 0 && k % cols !== t[Math.floor(k / cols)]) expect(got.grad[k]).toBe(0);
      }
      for (let i = 0; i < rows; i++)
        expect(Math.abs(got.losses[i] - want.losses[i])).toBeLessThanOrEqual(
          (want.losses[i] + 2 * scale + 1) * 2 ** -21 + cols * 2 ** -23,
        );
      // Into `out`: the same bits.
      const out = { grad: new Float32Array(rows * cols), losses: new Float32Array(rows) };
      const again = await sce(x, t, scale, 1 / rows, keep, out);
      expect(again.grad).toBe(out.grad);
      expect(out.grad).toEqual(got.grad);
      expect(out.losses).toEqual(got.losses);
    });
  }

  it('a row keeping only its target has loss 0 and gradient 0', async () => {
    const x = { data: Float32Array.of(0.1, 0.9, -0.3), rows: 1, cols: 3 };
    const r = await sce(x, Int32Array.of(0), 20, 1, new Uint8Array(3));
    expect([...r.losses]).toEqual([0]);
    expect([...r.grad]).toEqual([0, 0, 0]);
  });

  it('refuses bad arguments with typed errors naming them', () => {
    const x = { data: Float32Array.of(0.1, 0.2, 0.3, 0.4), rows: 2, cols: 2 };
    const t = Int32Array.of(0, 1);
    const bad: [() => unknown, string, string][] = [
      [() => sce(x, Int32Array.of(0, 2), 20, 1), 'INVALID_ARGUMENT', 'targets'],
      [() => sce(x, Int32Array.of(0, -1), 20, 1), 'INVALID_ARGUMENT', 'targets'],
      [() => sce(x, Int32Array.of(0), 20, 1), 'SHAPE_MISMATCH', 'targets'],
      [() => sce(x, t, 0, 1), 'INVALID_ARGUMENT', 'scale'],
      [() => sce(x, t, Number.NaN, 1), 'INVALID_ARGUMENT', 'scale'],
      [() => sce(x, t, 1e39, 1), 'INVALID_ARGUMENT', 'scale'],
      [() => sce(x, t, 20, -1), 'INVALID_ARGUMENT', 'weight'],
      [() => sce(x, t, 1e38, 1e10), 'INVALID_ARGUMENT', 'weight'],
      [() => sce(x, t, 20, 1, new Uint8Array(3)), 'SHAPE_MISMATCH', 'keep'],
      [() => sce({ ...x, rows: 3 }, t, 20, 1), 'SHAPE_MISMATCH', 'logits'],
      [
        () => sce(x, t, 20, 1, undefined, { grad: new Float32Array(4), losses: new Float32Array(1) }),
        'SHAPE_MISMATCH',
        'out',
      ],
      [() => sce({ ...x, data: Float32Array.of(0.1, Number.NaN, 0, 0) }, t, 20, 1), 'NON_FINITE', 'logits'],
      [
        () => sce({ ...x, data: Float32Array.of(0.1, 0, Number.NEGATIVE_INFINITY, 0) }, t, 20, 1),
        'NON_FINITE',
        'logits',
      ],
    ];
    for (const [f, code, arg] of bad) {
      let e: unknown;
      try {
        f();
      } catch (x) {
        e = x;
      }
      expect(isCosineKitError(e, code as never), `${arg}: ${String(e)}`).toBe(true);
      expect(e).toMatchObject({ op: 'softmaxCrossEntropy', arg });
    }
  });

  it("resolves to the backend's own kernel, else the reference's", () => {
    const own = () => ({ grad: new Float32Array(0), losses: new Float32Array(0) });
    const mine: Backend = { name: 'mine', kernels: { softmaxCrossEntropy: own } };
    expect((resolveKernels(mine).providers as Record<string, string>).softmaxCrossEntropy).toBe('mine');
    const none: Backend = { name: 'none', kernels: {} };
    const r = resolveKernels(none);
    expect(r.kernels.softmaxCrossEntropy).toBe(referenceKernels.softmaxCrossEntropy);
    expect((r.providers as Record<string, string>).softmaxCrossEntropy).toBe('reference');
  });

  it("through a kit's kernel table: checked arguments, and a backend's NaN answer refused", async () => {
    const kit = await createCosineKit({ backend: 'reference' });
    const k = await kit.kernels();
    const x = { data: Float32Array.of(0.1, 0.2, 0.3, 0.4), rows: 2, cols: 2 };
    const e = await Promise.resolve()
      .then(() => k.softmaxCrossEntropy!(x, Int32Array.of(0, 5), 20, 1))
      .catch((y: unknown) => y);
    expect(isCosineKitError(e, 'INVALID_ARGUMENT'), String(e)).toBe(true);
    const r = await k.softmaxCrossEntropy!(x, Int32Array.of(0, 1), 20, 0.5);
    expect(r.grad.every(Number.isFinite)).toBe(true);
    kit.dispose();
    const broken: Backend = {
      name: 'broken',
      kernels: {
        softmaxCrossEntropy: (m) => ({
          grad: new Float32Array(m.data.length).fill(Number.NaN),
          losses: new Float32Array(m.rows),
        }),
      },
    };
    const bk = await (await createCosineKit({ backend: broken })).kernels();
    const f = await Promise.resolve()
      .then(() => bk.softmaxCrossEntropy!(x, Int32Array.of(0, 1), 20, 1))
      .catch((y: unknown) => y);
    expect(isCosineKitError(f, 'BACKEND_ERROR'), String(f)).toBe(true);
  });
});
