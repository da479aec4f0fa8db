import { describe, expect, it } from 'vitest';
import { checkMatrix, checkSearch, ExactReference, knnAccuracy, sampleRows } from '../src/accuracy.js';
import { naiveMatrix, naiveSearch } from '../src/peers/naive.js';
import { customWorkload, makeDataset, PRESETS, scaleWorkload } from '../src/workloads.js';

describe('float64 checks', () => {
  it('accepts the naive loop and rejects an answer off by more than the tolerance', async () => {
    const ds = await makeDataset(customWorkload({ q: 5, n: 40, d: 12 }), 7);
    const exact = new ExactReference(ds);
    const out = naiveMatrix(ds.queries, ds.corpus, 5, 40, 12);
    expect(checkMatrix(exact, 5, 40, out, 1e-4).ok).toBe(true);
    out[3 * 40 + 7] += 2e-4;
    const bad = checkMatrix(exact, 5, 40, out, 1e-4);
    expect(bad.ok).toBe(false);
    expect(bad.maxAbsError).toBeCloseTo(2e-4, 6);
    out[0] = Number.NaN;
    expect(checkMatrix(exact, 5, 40, out, 1e-4).maxAbsError).toBe(Number.POSITIVE_INFINITY);
    expect(checkMatrix(exact, 5, 40, out.subarray(1), 1e-4).problem).toMatch(/expected 200/);
  });

  it('measures recall against the exact top-k and catches a swapped hit', async () => {
    const ds = await makeDataset(customWorkload({ q: 3, n: 500, d: 16, k: 5 }), 3);
    const exact = new ExactReference(ds);
    const r = naiveSearch(ds.queries, ds.corpus, 3, 500, 16, 5);
    const good = checkSearch(exact, 3, 500, 5, r.indices, r.scores, 1e-4);
    expect(good).toMatchObject({ ok: true, recall: 1, checkedRows: 3 });
    // Replace one hit by the worst row, with its true score: right score, wrong answer.
    const e = exact.row(1, 500);
    const worst = e.indexOf(Math.min(...e));
    r.indices[1 * 5 + 4] = worst;
    r.scores[1 * 5 + 4] = e[worst];
    const bad = checkSearch(exact, 3, 500, 5, r.indices, r.scores, 1e-4);
    expect(bad.ok).toBe(false);
    expect(bad.recall).toBeCloseTo(14 / 15, 10);
    // An approximate search is held to its own recall.
    expect(checkSearch(exact, 3, 500, 5, r.indices, r.scores, 1e-4, 0.9).ok).toBe(true);
    expect(checkSearch(exact, 3, 500, 5, r.indices, r.scores, 1e-4, 0.99).ok).toBe(false);
  });

  it('samples both ends of a batch', () => {
    expect(sampleRows(3)).toEqual([0, 1, 2]);
    const rows = sampleRows(256);
    expect(rows).toHaveLength(16);
    expect(rows[0]).toBe(0);
    expect(rows.at(-1)).toBe(255);
  });

  it('scores k-NN label accuracy', () => {
    const labels = new Int32Array([0, 1]);
    const corpus = new Int32Array([0, 0, 1, 1]);
    expect(knnAccuracy([0, 1, 2, 2, 3, 0], 2, 3, labels, corpus)).toBe(1);
  });

  it('scales random presets but not the single pair', () => {
    expect(scaleWorkload(PRESETS.C, 0.01).size).toEqual({ q: 3, n: 100, d: 768 });
    expect(scaleWorkload(PRESETS.B, 0.01).size).toEqual({ q: 1, n: 1000, d: 384, k: 10 });
    expect(scaleWorkload(PRESETS.A, 0.01)).toBe(PRESETS.A);
  });
});
