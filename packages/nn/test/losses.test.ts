import { referenceKernels } from '@cosinekit/core/backend';
import { describe, expect, it } from 'vitest';
import {
  arcFaceLoss,
  contrastiveLoss,
  cosFaceLoss,
  cosineEmbeddingLoss,
  createCosineClassifier,
  float64Ops,
  kernelOps,
  type Loss,
  mseSimilarityLoss,
  multipleNegativesRankingLoss,
  normFaceLoss,
  pairCosineLoss,
} from '../src/index.js';
import { maxRelativeError, randomVec } from './helpers.js';

const rows = 6;
const cols = 5;
const labels = [1, -1, 1, -1, -1, 1];
const targets = [0.9, -1, 0.3, 1, -0.2, 0];
const groups = [0, 1, 2, 1, 3, 0];

async function check(loss: Loss, extra: { targets?: number[]; groups?: number[] }, seed: number) {
  const a = randomVec(rows * cols, seed);
  const b = randomVec(rows * cols, seed + 1);
  const value = async () => (await loss.compute(float64Ops, { a, b, rows, cols, ...extra })).loss;
  const r = await loss.compute(float64Ops, { a, b, rows, cols, ...extra });
  expect(r.gradA).toBeInstanceOf(Float64Array);
  expect(await maxRelativeError(value, a, r.gradA)).toBeLessThan(1e-3);
  expect(await maxRelativeError(value, b, r.gradB)).toBeLessThan(1e-3);
  return r;
}

describe('loss gradients (float64 finite differences)', () => {
  it('cosine embedding loss, margin 0 and 0.2', async () => {
    await check(cosineEmbeddingLoss(), { targets: labels }, 1);
    await check(cosineEmbeddingLoss({ margin: 0.2 }), { targets: labels }, 3);
  });
  it('contrastive loss, margin 0.5 and 1.2', async () => {
    await check(contrastiveLoss(), { targets: labels }, 5);
    await check(contrastiveLoss({ margin: 1.2 }), { targets: labels }, 7);
  });
  it('mse to a target similarity', async () => {
    await check(mseSimilarityLoss(), { targets }, 9);
  });
  it('multiple-negatives ranking, scale 20 and 5, with and without groups', async () => {
    await check(multipleNegativesRankingLoss(), {}, 11);
    await check(multipleNegativesRankingLoss({ scale: 5 }), {}, 13);
    await check(multipleNegativesRankingLoss(), { groups }, 15);
    await check(multipleNegativesRankingLoss({ sameClass: 'negative' }), { groups }, 17);
  });
  it('multiple-negatives ranking with hard negatives (triplets), with and without groups', async () => {
    for (const withGroups of [false, true]) {
      const a = randomVec(rows * cols, 21);
      const b = randomVec(rows * cols, 22);
      const negatives = randomVec(rows * cols, 23);
      const extra = withGroups ? { groups, negativeGroups: [1, 0, 0, 2, 0, 3] } : {};
      const loss = multipleNegativesRankingLoss({ scale: 7 });
      const run = () => loss.compute(float64Ops, { a, b, negatives, rows, cols, ...extra });
      const r = await run();
      const value = async () => (await run()).loss;
      expect(await maxRelativeError(value, a, r.gradA)).toBeLessThan(1e-3);
      expect(await maxRelativeError(value, b, r.gradB)).toBeLessThan(1e-3);
      expect(await maxRelativeError(value, negatives, r.gradNegatives!)).toBeLessThan(1e-3);
    }
  });
});

describe('pairCosineLoss and the loss term it is given', () => {
  it("a term giving NaN or no pair of numbers is named 'term', not a finite target (found by a probe)", () => {
    const input = {
      a: Float32Array.of(1, 0),
      b: Float32Array.of(0, 1),
      rows: 1,
      cols: 2,
      targets: Float64Array.of(1),
    };
    for (const bad of [
      () => [Number.NaN, Number.NaN],
      () => [0.5, Number.NaN],
      () => [1],
      () => 3,
      () => ['1', 0],
      // An infinite dL/dcos was blamed on the target ("targets belong near [-1, 1]").
      () => [1, Number.POSITIVE_INFINITY],
      () => [0, Number.NEGATIVE_INFINITY],
    ])
      expect(() => pairCosineLoss('myLoss', input, bad as never), String(bad)).toThrow(
        expect.objectContaining({ code: 'NON_FINITE', op: 'myLoss', arg: 'term' }),
      );
    // A term that throws is named, its error the cause (it escaped raw).
    const boom = new TypeError('bug in my term');
    expect(() =>
      pairCosineLoss('myLoss', input, () => {
        throw boom;
      }),
    ).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', op: 'myLoss', arg: 'term', cause: boom }));
    // An infinite value is the loss's total: mse's square of a target of 1e300 names the targets.
    expect(() =>
      mseSimilarityLoss().compute(float64Ops, { ...input, targets: Float64Array.of(1e300) }),
    ).toThrow(expect.objectContaining({ code: 'NON_FINITE', arg: 'targets' }));
    // With every target near [-1, 1] an infinite value, or values summing past float64, are the
    // term's (they named a target of 0.5 "far from [-1, 1]"; found by a review).
    const two = { ...input, a: Float32Array.of(1, 0, 1, 0), b: Float32Array.of(0, 1, 1, 1), rows: 2 };
    for (const [bad, message] of [
      [() => [Number.NEGATIVE_INFINITY, 0], /gave the value -Infinity for pair 0 \(target 0\.5\)/],
      [
        (_: number, t: number) => [t > 0 ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY, 0],
        /loss is NaN/,
      ],
      [() => [1.5e308, 0], /sum to Infinity over 2 pairs/],
    ] as const)
      expect(() =>
        pairCosineLoss('myLoss', { ...two, targets: Float64Array.of(0.5, -0.5) }, bad as never),
      ).toThrow(
        expect.objectContaining({
          code: 'NON_FINITE',
          op: 'myLoss',
          arg: 'term',
          message: expect.stringMatching(message),
        }),
      );
    // An infinite value for a far target names that target; one for a near target is the term's,
    // though another target is far (it named pair 1's target for pair 0's value; a review).
    const far = Float64Array.of(0.5, 4e6);
    expect(() =>
      pairCosineLoss('myLoss', { ...two, targets: far }, (_, t) => [
        t > 1e6 ? Number.POSITIVE_INFINITY : 0,
        0,
      ]),
    ).toThrow(
      expect.objectContaining({
        code: 'NON_FINITE',
        arg: 'targets',
        message: expect.stringMatching(/pair 1's target 4000000/),
      }),
    );
    expect(() =>
      pairCosineLoss('myLoss', { ...two, targets: far }, (_, t) => [t < 1 ? Number.NEGATIVE_INFINITY : 0, 0]),
    ).toThrow(
      expect.objectContaining({ code: 'NON_FINITE', arg: 'term', message: expect.stringMatching(/pair 0/) }),
    );
    for (const normalized of [false, true]) {
      const r = pairCosineLoss('myLoss', { ...input, normalized }, (c, t) => [(c - t) ** 2, 2 * (c - t)]);
      expect(r.loss).toBe(1);
    }
  });
});

describe('loss values match their definitions', () => {
  it('multiple-negatives ranking at huge scales: every logit tied loses ln 2, on the float64 path too', async () => {
    // ln(z) was added to a max of about the scale first, and rounded away past 1e16 (found by a probe).
    const ops32 = kernelOps(referenceKernels);
    for (const scale of [20, 1e16, 1e30]) {
      const loss = multipleNegativesRankingLoss({ scale, sameClass: 'negative' });
      const pair = [1, 0, 1, 0];
      const r64 = await loss.compute(float64Ops, {
        a: Float64Array.from(pair),
        b: Float64Array.from(pair),
        rows: 2,
        cols: 2,
      });
      const r32 = await loss.compute(ops32, {
        a: Float32Array.from(pair),
        b: Float32Array.from(pair),
        rows: 2,
        cols: 2,
      });
      expect(r64.loss, `scale ${scale}`).toBeCloseTo(Math.LN2, 12);
      expect(r32.loss, `scale ${scale}`).toBeCloseTo(Math.LN2, 5);
    }
  });

  const a = new Float64Array([1, 0, 1, 0, 1, 0]);
  const b = new Float64Array([1, 0, 0, 1, -1, 0]);
  // cosines: 1, 0, -1.
  it('cosine embedding: 1 - cos for similar, max(0, cos - margin) for dissimilar', async () => {
    const r = await cosineEmbeddingLoss().compute(float64Ops, {
      a,
      b,
      rows: 3,
      cols: 2,
      targets: [1, 1, -1],
    });
    expect(r.loss).toBeCloseTo((0 + 1 + 0) / 3, 12);
    const s = await cosineEmbeddingLoss().compute(float64Ops, {
      a,
      b,
      rows: 3,
      cols: 2,
      targets: [-1, -1, 1],
    });
    expect(s.loss).toBeCloseTo((1 + 0 + 2) / 3, 12);
  });
  it('identical rows: cos is 1, never a rounding step past it (the loss went below 0)', async () => {
    const a = Float32Array.of(0.1, 0.2, 0.3, 0.7, 0.3, 0.2);
    const r = await cosineEmbeddingLoss().compute(float64Ops, {
      a,
      b: a.slice(),
      rows: 2,
      cols: 3,
      targets: [1, 1],
    });
    expect(r.loss).toBe(0);
    const u = Float32Array.of(0.6, 0.8, 0, 0.6, 0.8, 0);
    const n = await cosineEmbeddingLoss().compute(float64Ops, {
      a: u,
      b: u.slice(),
      rows: 2,
      cols: 3,
      targets: [1, 1],
      normalized: true,
    });
    expect(n.loss).toBe(0);
    const m = await mseSimilarityLoss().compute(float64Ops, {
      a,
      b: a.slice(),
      rows: 2,
      cols: 3,
      targets: [1, 1],
    });
    expect(m.loss).toBe(0);
  });
  it('contrastive: 0.5 [y d² + (1 - y) relu(m - d)²] on d = 1 - cos, m = 0.5', async () => {
    const r = await contrastiveLoss().compute(float64Ops, { a, b, rows: 3, cols: 2, targets: [-1, 1, 1] });
    // d = 0, 1, 2: dissimilar d=0 -> 0.5 * 0.25; similar d=1 -> 0.5; similar d=2 -> 2.
    expect(r.loss).toBeCloseTo((0.125 + 0.5 + 2) / 3, 12);
  });
  it('mse: (cos - t)²', async () => {
    const r = await mseSimilarityLoss().compute(float64Ops, { a, b, rows: 3, cols: 2, targets: [1, 1, 1] });
    expect(r.loss).toBeCloseTo((0 + 1 + 4) / 3, 12);
  });
  it('multiple negatives: cross-entropy of scale x cos against the diagonal', async () => {
    const x = new Float64Array([1, 0, 0, 1]);
    const r = await multipleNegativesRankingLoss().compute(float64Ops, { a: x, b: x, rows: 2, cols: 2 });
    expect(r.loss).toBeCloseTo(Math.log(1 + Math.exp(-20)), 12);
    // Rows of the anchor's group are not negatives: with groups [4, 4] only the diagonal is left,
    // so the loss is 0 even though the positives are orthogonal to their anchors.
    const g = await multipleNegativesRankingLoss().compute(float64Ops, {
      a: x,
      b: new Float64Array([0, 1, 1, 0]),
      rows: 2,
      cols: 2,
      groups: [4, 4],
    });
    expect(g.loss).toBeCloseTo(0, 12);
    // The textbook form keeps same-class rows as negatives: the same as passing no groups.
    const kept = await multipleNegativesRankingLoss({ sameClass: 'negative' }).compute(float64Ops, {
      a: x,
      b: new Float64Array([0, 1, 1, 0]),
      rows: 2,
      cols: 2,
      groups: [4, 4],
    });
    expect(kept.loss).toBeCloseTo(20 + Math.log(1 + Math.exp(-20)), 10);
    const h = await multipleNegativesRankingLoss().compute(float64Ops, {
      a: x,
      b: new Float64Array([0, 1, 1, 0]),
      rows: 2,
      cols: 2,
    });
    expect(h.loss).toBeCloseTo(20 + Math.log(1 + Math.exp(-20)), 10);
    // A hard negative equal to the anchor competes with the positive: two equal logits, log 2.
    const t = await multipleNegativesRankingLoss().compute(float64Ops, {
      a: new Float64Array([1, 0]),
      b: new Float64Array([2, 0]),
      negatives: new Float64Array([3, 0]),
      rows: 1,
      cols: 2,
    });
    expect(t.loss).toBeCloseTo(Math.log(2), 12);
  });
  it('rejects an unknown sameClass rule', () => {
    expect(() => multipleNegativesRankingLoss({ sameClass: 'drop' as 'mask' })).toThrow(/'sameClass'/);
  });
  it('rejects missing targets with a named error', () => {
    expect(() => mseSimilarityLoss().compute(float64Ops, { a, b, rows: 3, cols: 2 })).toThrow(/targets/);
  });
  it('multiple negatives: a scale beyond float32 is refused; one whose logits overflow fails typed, not NaN', async () => {
    expect(() => multipleNegativesRankingLoss({ scale: 1e39 })).toThrow(/'scale'/);
    // Opposite rows: 3e38 x (cos - max) reaches -6e38, past float32, for the anchors' positives.
    const x = Float32Array.of(1, 0, -1, 0);
    const y = Float32Array.of(-1, 0, 1, 0);
    const loss = multipleNegativesRankingLoss({ scale: 3e38 });
    await expect(
      Promise.resolve(loss.compute(kernelOps(referenceKernels), { a: x, b: y, rows: 2, cols: 2 })),
    ).rejects.toMatchObject({ code: 'NON_FINITE', op: 'multipleNegativesRankingLoss', arg: 'scale' });
    // A large scale that stays finite: finite loss and gradients in float32 as in float64.
    const big = multipleNegativesRankingLoss({ scale: 1e30 });
    const r32 = await big.compute(kernelOps(referenceKernels), { a: x, b: y, rows: 2, cols: 2 });
    const r64 = await big.compute(float64Ops, {
      a: Float64Array.from(x),
      b: Float64Array.from(y),
      rows: 2,
      cols: 2,
    });
    expect(r32.loss / r64.loss).toBeCloseTo(1, 5);
    expect([...r32.gradA, ...r32.gradB].every(Number.isFinite)).toBe(true);
  });
});

/**
 * The ranking loss written out in float64 from its definition, one anchor at a time: the
 * cross-entropy of scale x cos(a_i, c_j) against j = i over the kept candidates (masked: those
 * of another group, and i itself), and its gradients by the chain rule through the normalisation.
 */
function rankingByDefinition(
  a: ArrayLike<number>,
  c: ArrayLike<number>,
  rows: number,
  n: number,
  cols: number,
  scale: number,
  groupOf: readonly number[] | undefined,
) {
  const unit = (x: ArrayLike<number>, r: number) => {
    const v = Array.from({ length: cols }, (_, k) => x[r * cols + k]);
    const norm = Math.hypot(...v);
    return { v: v.map((e) => e / norm), norm };
  };
  const ua = Array.from({ length: rows }, (_, i) => unit(a, i));
  const uc = Array.from({ length: n }, (_, j) => unit(c, j));
  const dot = (p: number[], q: number[]) => p.reduce((s, e, k) => s + e * q[k], 0);
  let loss = 0;
  const dUa = ua.map(() => new Array<number>(cols).fill(0));
  const dUc = uc.map(() => new Array<number>(cols).fill(0));
  for (let i = 0; i < rows; i++) {
    const kept = uc.map((_, j) => j === i || groupOf === undefined || groupOf[j] !== groupOf[i]);
    const logits = uc.map((u) => scale * dot(ua[i].v, u.v));
    const max = Math.max(...logits.filter((_, j) => kept[j]));
    const z = logits.reduce((s, l, j) => s + (kept[j] ? Math.exp(l - max) : 0), 0);
    loss += max + Math.log(z) - logits[i];
    for (let j = 0; j < n; j++) {
      if (!kept[j]) continue;
      const g = (scale * (Math.exp(logits[j] - max) / z - (j === i ? 1 : 0))) / rows;
      for (let k = 0; k < cols; k++) {
        dUa[i][k] += g * uc[j].v[k];
        dUc[j][k] += g * ua[i].v[k];
      }
    }
  }
  // Through y = x / |x|: dx = (dy - y (y . dy)) / |x|.
  const back = (u: { v: number[]; norm: number }, d: number[]) => {
    const p = dot(u.v, d);
    return d.map((e, k) => (e - u.v[k] * p) / u.norm);
  };
  return {
    loss: loss / rows,
    gradA: ua.flatMap((u, i) => back(u, dUa[i])),
    gradC: uc.flatMap((u, j) => back(u, dUc[j])),
  };
}

describe('multiple negatives: the softmax and the gradient layout', () => {
  const close = (got: ArrayLike<number>, want: ArrayLike<number>, tol: number) => {
    expect(got.length).toBe(want.length);
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
    expect(worst).toBeLessThan(tol);
  };
  // Odd shapes: one pair, a width of 1, rows not a multiple of 4, a group holding every row.
  const cases: [string, number, number, number[] | undefined, boolean][] = [
    ['one pair', 1, 3, undefined, false],
    ['width 1', 5, 1, [0, 1, 0, 2, 1], false],
    ['7 x 5, groups', 7, 5, [0, 1, 2, 1, 0, 3, 3], false],
    ['7 x 5, groups and hard negatives', 7, 5, [0, 1, 2, 1, 0, 3, 3], true],
    ['one group for all', 6, 4, [2, 2, 2, 2, 2, 2], false],
    ['33 x 9 without groups, hard negatives', 33, 9, undefined, true],
  ];
  for (const [name, rows, cols, groups, withNegatives] of cases) {
    it(`matches its definition in float64 and float32 (${name})`, async () => {
      const a = randomVec(rows * cols, rows + 40);
      const b = randomVec(rows * cols, rows + 41);
      const negatives = withNegatives ? randomVec(rows * cols, rows + 42) : undefined;
      const negativeGroups = groups && withNegatives ? groups.map((g) => (g + 1) % 4) : undefined;
      const n = withNegatives ? 2 * rows : rows;
      const c = new Float64Array(n * cols);
      c.set(b);
      if (negatives) c.set(negatives, rows * cols);
      const groupOf = groups && [...groups, ...(negativeGroups ?? [])];
      const want = rankingByDefinition(a, c, rows, n, cols, 13, groupOf);
      const loss = multipleNegativesRankingLoss({ scale: 13 });
      const extra = {
        ...(groups ? { groups } : {}),
        ...(negatives ? { negatives } : {}),
        ...(negativeGroups ? { negativeGroups } : {}),
      };
      const r64 = await loss.compute(float64Ops, { a, b, rows, cols, ...extra });
      expect(Math.abs(r64.loss - want.loss)).toBeLessThan(1e-12);
      close(r64.gradA, want.gradA, 1e-12);
      close(r64.gradB, want.gradC.slice(0, rows * cols), 1e-12);
      if (negatives) close(r64.gradNegatives!, want.gradC.slice(rows * cols), 1e-12);
      // float32 on a backend's kernels: within float32 rounding of the float64 values.
      const f = (v: Float64Array | undefined) => (v ? { v: Float32Array.from(v) } : undefined);
      const r32 = await loss.compute(kernelOps(referenceKernels), {
        a: Float32Array.from(a),
        b: Float32Array.from(b),
        rows,
        cols,
        ...extra,
        ...(negatives ? { negatives: f(negatives)!.v } : {}),
      });
      expect(r32.gradA).toBeInstanceOf(Float32Array);
      expect(Math.abs(r32.loss - want.loss)).toBeLessThan(1e-4 * Math.max(1, want.loss));
      close(r32.gradA, want.gradA, 1e-4);
      close(r32.gradB, want.gradC.slice(0, rows * cols), 1e-4);
      if (negatives) close(r32.gradNegatives!, want.gradC.slice(rows * cols), 1e-4);
    });
  }

  it('returns its gradients back to back, and reads hard negatives in place or copied alike', async () => {
    const rows = 5;
    const cols = 3;
    const groups = [0, 1, 0, 2, 1];
    const negativeGroups = [1, 2, 2, 0, 0];
    // One block [a | b | negatives], as train hands it over, and the same rows in separate arrays.
    const block = randomVec(3 * rows * cols, 77);
    const part = (k: number) => block.subarray(k * rows * cols, (k + 1) * rows * cols);
    const loss = multipleNegativesRankingLoss({ scale: 9 });
    const inPlace = await loss.compute(float64Ops, {
      a: part(0),
      b: part(1),
      negatives: part(2),
      rows,
      cols,
      groups,
      negativeGroups,
    });
    const copied = await loss.compute(float64Ops, {
      a: part(0).slice(),
      b: part(1).slice(),
      negatives: part(2).slice(),
      rows,
      cols,
      groups,
      negativeGroups,
    });
    expect(copied.loss).toBe(inPlace.loss);
    for (const k of ['gradA', 'gradB', 'gradNegatives'] as const) {
      expect(Array.from(copied[k]!)).toEqual(Array.from(inPlace[k]!));
    }
    const { gradA, gradB, gradNegatives } = inPlace;
    expect(gradB.buffer).toBe(gradA.buffer);
    expect(gradB.byteOffset).toBe(gradA.byteOffset + gradA.byteLength);
    expect(gradNegatives!.buffer).toBe(gradA.buffer);
    expect(gradNegatives!.byteOffset).toBe(gradB.byteOffset + gradB.byteLength);
  });
});

describe('normalized inputs (unit rows, as a normalising encoder gives them)', () => {
  /** Rows of `x` scaled to unit length (float64). */
  const unitRows = (x: Float64Array, n: number, d: number) => {
    for (let i = 0; i < n; i++) {
      const r = x.subarray(i * d, (i + 1) * d);
      const norm = Math.hypot(...r);
      for (let j = 0; j < d; j++) r[j] /= norm;
    }
    return x;
  };
  /** `g` with its component along each row of `y` removed: what the encoder's normalisation passes on. */
  const tangent = (g: ArrayLike<number>, y: Float64Array, d: number) => {
    const out = Float64Array.from(g);
    for (let o = 0; o < y.length; o += d) {
      let p = 0;
      for (let j = 0; j < d; j++) p += y[o + j] * out[o + j];
      for (let j = 0; j < d; j++) out[o + j] -= y[o + j] * p;
    }
    return out;
  };
  const close = (x: ArrayLike<number>, y: ArrayLike<number>) => {
    expect(x.length).toBe(y.length);
    for (let i = 0; i < x.length; i++) expect(Math.abs(x[i] - y[i])).toBeLessThan(1e-12);
  };
  const d = 7;
  const n = 9;
  const cases: [string, () => Loss, Record<string, unknown>][] = [
    ['multiple negatives', () => multipleNegativesRankingLoss(), {}],
    [
      'multiple negatives, groups',
      () => multipleNegativesRankingLoss({ scale: 5 }),
      { groups: [0, 1, 0, 2, 1, 3, 0, 2, 4] },
    ],
    [
      'cosine embedding',
      () => cosineEmbeddingLoss({ margin: -0.3 }),
      { targets: [1, -1, 1, -1, -1, 1, 1, -1, 1] },
    ],
    ['contrastive', () => contrastiveLoss({ margin: 1.1 }), { targets: [1, -1, 1, -1, -1, 1, 1, -1, 1] }],
    ['mse', () => mseSimilarityLoss(), { targets: [0.5, -0.2, 0.9, 0, 1, -1, 0.3, 0.1, 0.7] }],
  ];
  for (const [name, make, extra] of cases)
    it(`${name}: the same loss, and the same gradients once projected, in float64`, async () => {
      const a = unitRows(randomVec(n * d, 41), n, d);
      const b = unitRows(randomVec(n * d, 42), n, d);
      const loss = make();
      const plain = await loss.compute(float64Ops, { a, b, rows: n, cols: d, ...extra });
      const unit = await loss.compute(float64Ops, { a, b, rows: n, cols: d, normalized: true, ...extra });
      expect(Math.abs(unit.loss - plain.loss)).toBeLessThan(1e-12);
      close(tangent(unit.gradA, a, d), plain.gradA);
      close(tangent(unit.gradB, b, d), plain.gradB);
    });
  it('multiple negatives with hard negatives, and the cosine classifier', async () => {
    const a = unitRows(randomVec(n * d, 43), n, d);
    const b = unitRows(randomVec(n * d, 44), n, d);
    const negatives = unitRows(randomVec(n * d, 45), n, d);
    const loss = multipleNegativesRankingLoss({ scale: 7 });
    const plain = await loss.compute(float64Ops, { a, b, negatives, rows: n, cols: d });
    const unit = await loss.compute(float64Ops, { a, b, negatives, rows: n, cols: d, normalized: true });
    expect(Math.abs(unit.loss - plain.loss)).toBeLessThan(1e-12);
    close(tangent(unit.gradA, a, d), plain.gradA);
    close(tangent(unit.gradB, b, d), plain.gradB);
    close(tangent(unit.gradNegatives!, negatives, d), plain.gradNegatives!);
    for (const make of [normFaceLoss, cosFaceLoss, arcFaceLoss]) {
      const clf = createCosineClassifier({ classes: 4, dim: d, seed: 5, precision: 'float64' });
      const labels = [0, 3, 1, 1, 2, 0, 3, 2, 1];
      const head = make(clf);
      const p = await head.compute(float64Ops, { a, b: new Float64Array(0), rows: n, cols: d, labels });
      const u = await head.compute(float64Ops, {
        a,
        b: new Float64Array(0),
        rows: n,
        cols: d,
        labels,
        normalized: true,
      });
      expect(Math.abs(u.loss - p.loss)).toBeLessThan(1e-12);
      close(tangent(u.gradA, a, d), p.gradA);
      close(u.gradParams![0], p.gradParams![0]);
    }
  });
  it('normalized: true is checked: rows of another norm or non-finite rows are typed errors, zero rows pass', async () => {
    const a = unitRows(randomVec(n * d, 46), n, d);
    const b = unitRows(randomVec(n * d, 47), n, d);
    // Float32 unit rows (rounded) and a zero row are accepted.
    const a32 = Float32Array.from(a);
    const b32 = Float32Array.from(b);
    b32.fill(0, 2 * d, 3 * d);
    const targets = Array.from({ length: n }, (_, i) => (i % 2 ? 1 : -1));
    const mnr = multipleNegativesRankingLoss();
    const pair = cosineEmbeddingLoss();
    const ops = float64Ops;
    await mnr.compute(ops, { a: a32, b: b32, rows: n, cols: d, normalized: true });
    await pair.compute(ops, { a: a32, b: b32, rows: n, cols: d, targets, normalized: true });
    const scaled = Float64Array.from(b).map((v, i) => (i >= 4 * d && i < 5 * d ? v * 1.1 : v));
    const nan = Float64Array.from(a);
    nan[3 * d + 2] = Number.NaN;
    const wrong = [
      ['b', 'INVALID_ARGUMENT', () => mnr.compute(ops, { a, b: scaled, rows: n, cols: d, normalized: true })],
      ['a', 'NON_FINITE', () => mnr.compute(ops, { a: nan, b, rows: n, cols: d, normalized: true })],
      [
        'negatives',
        'INVALID_ARGUMENT',
        () => mnr.compute(ops, { a, b, negatives: scaled, rows: n, cols: d, normalized: true }),
      ],
      [
        'b',
        'INVALID_ARGUMENT',
        () => pair.compute(ops, { a, b: scaled, rows: n, cols: d, targets, normalized: true }),
      ],
      [
        'a',
        'INVALID_ARGUMENT',
        () => {
          const clf = createCosineClassifier({ classes: 4, dim: d, seed: 5, precision: 'float64' });
          const labels = [0, 3, 1, 1, 2, 0, 3, 2, 1];
          return cosFaceLoss(clf).compute(ops, {
            a: scaled,
            b: new Float64Array(0),
            rows: n,
            cols: d,
            labels,
            normalized: true,
          });
        },
      ],
    ] as const;
    for (const [arg, code, call] of wrong) {
      let err: unknown;
      try {
        await call();
      } catch (e) {
        err = e;
      }
      expect(err, `${arg} ${code}`).toMatchObject({ code, arg });
      expect((err as Error).message).toMatch(code === 'NON_FINITE' ? /row 3/ : /row 4 has norm 1\.1/);
    }
  });
});

describe('float64 rows past the range of their squares', () => {
  it('multiple negatives and NormFace give the loss of the rows unscaled, gradients scaled by 1 / s', async () => {
    const a = Float64Array.from([1, 2, 0.5, -1, 3, 1]);
    const b = Float64Array.from([1, 2, 0.4, 1, -3, 1]);
    const mnr = multipleNegativesRankingLoss({ scale: 5 });
    const base = await mnr.compute(float64Ops, { a, b, rows: 2, cols: 3 });
    for (const s of [1e160, 1e-200, 2 ** 600, 5e-300]) {
      const got = await mnr.compute(float64Ops, { a: a.map((v) => v * s), b, rows: 2, cols: 3 });
      expect(Math.abs(got.loss - base.loss), `a x ${s}`).toBeLessThan(1e-12);
      for (let j = 0; j < 6; j++)
        expect(Math.abs(got.gradA[j] * s - base.gradA[j]), `a x ${s} grad ${j}`).toBeLessThan(1e-9);
      const other = await mnr.compute(float64Ops, { a, b: b.map((v) => v * s), rows: 2, cols: 3 });
      expect(Math.abs(other.loss - base.loss), `b x ${s}`).toBeLessThan(1e-12);
    }
    const classifier = createCosineClassifier({ classes: 3, dim: 3, seed: 4, precision: 'float64' });
    const nf = normFaceLoss(classifier);
    const labels = Int32Array.from([0, 2]);
    const plain = await nf.compute(float64Ops, { a, b: new Float64Array(0), rows: 2, cols: 3, labels });
    for (const s of [1e160, 1e-200]) {
      const got = await nf.compute(float64Ops, {
        a: a.map((v) => v * s),
        b: new Float64Array(0),
        rows: 2,
        cols: 3,
        labels,
      });
      expect(Math.abs(got.loss - plain.loss), `normface a x ${s}`).toBeLessThan(1e-12);
    }
  });
});
