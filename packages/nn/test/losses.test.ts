import { describe, expect, it } from 'vitest';
import {
  contrastiveLoss,
  cosineEmbeddingLoss,
  float64Ops,
  type Loss,
  mseSimilarityLoss,
  multipleNegativesRankingLoss,
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

describe('loss values match their definitions', () => {
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
});
