import { afterEach, describe, expect, it, vi } from 'vitest';
import { ExactReference } from '../src/accuracy.js';
import { measure } from '../src/measure.js';
import type { Method } from '../src/method.js';
import { naiveMatrix, naiveSearch } from '../src/peers/naive.js';
import type { RunSettings } from '../src/types.js';
import { customWorkload, type Dataset, makeDataset } from '../src/workloads.js';

// A fake clock: each call of the fake method advances it by a cost model, so the planner's decisions
// are tested deterministically (no real timing involved).
let clock = 0;
afterEach(() => {
  vi.restoreAllMocks();
});

const settings: RunSettings = {
  workloads: [],
  backends: [],
  peers: [],
  reps: 5,
  warmup: 1,
  budgetSeconds: 1,
  baseline: 'naive',
  tolerance: 1e-4,
  seed: 1,
};

/** A method whose calls cost `fixedMs + perPairMs * Q * N` on the fake clock and whose setup costs `setupPerRowMs * N`. */
function fake(cost: {
  fixedMs?: number;
  perPairMs: number;
  setupPerRowMs?: number;
  firstCallMs?: number;
}): Method {
  return {
    name: 'fake',
    prepare(ds: Dataset) {
      const { q, n, d, k } = ds.size;
      clock += (cost.setupPerRowMs ?? 0) * n;
      // The answer is computed once: only the fake clock says how long a call takes.
      const answer = k
        ? naiveSearch(ds.queries, ds.corpus, q, n, d, k)
        : { matrix: naiveMatrix(ds.queries, ds.corpus, q, n, d) };
      let first = true;
      return {
        call() {
          clock += (cost.fixedMs ?? 0) + cost.perPairMs * q * n + (first ? (cost.firstCallMs ?? 0) : 0);
          first = false;
          return answer;
        },
      };
    },
  };
}

async function run(method: Method, shape: { q: number; n: number; d: number; k?: number }) {
  clock = 0;
  vi.spyOn(performance, 'now').mockImplementation(() => clock);
  const ds = await makeDataset(customWorkload(shape), 5);
  return measure(method, ds, new ExactReference(ds), settings);
}

describe('sizing a figure to the time budget', () => {
  it('runs the full size with every repetition when it fits', async () => {
    const r = await run(fake({ perPairMs: 1e-4 }), { q: 64, n: 500, d: 8 });
    expect(r).toMatchObject({ shrunk: false, status: 'ok' });
    expect(r.timing!.reps).toBe(5);
    expect(r.timing!.median).toBeCloseTo(64 * 500 * 1e-4, 6);
  });

  it('runs a slice of the queries when three full calls would not fit, and says so', async () => {
    // A full call costs 64 * 500 * 0.05 ms = 1.6 s; three calls of a slice must fit in 1 s: 13 rows.
    const r = await run(fake({ perPairMs: 0.05 }), { q: 64, n: 500, d: 8 });
    expect(r.shrunk).toBe(true);
    expect(r.size.n).toBe(500);
    expect(r.size.q).toBe(13);
    expect(r.timing!.median * 3).toBeLessThanOrEqual(1000 * 1.01);
    expect(r.note).toMatch(/full size est\. 1\.60 s per call: over budget, ran on a slice/);
    expect(r.nsPerPair).toBeCloseTo(0.05e6, 3);
  });

  it('sees through a fixed cost per call with a second probe', async () => {
    // 200 ms per call whatever the size, plus a small per-pair cost: the full size fits three calls.
    const r = await run(fake({ fixedMs: 200, perPairMs: 1e-6 }), { q: 64, n: 500, d: 8 });
    expect(r.shrunk).toBe(false);
  });

  it('slices the corpus of a single-query search when its upload would take too long', async () => {
    const r = await run(fake({ perPairMs: 1e-6, setupPerRowMs: 2 }), { q: 1, n: 20_000, d: 4, k: 3 });
    expect(r.shrunk).toBe(true);
    expect(r.size.n).toBeLessThan(20_000);
    expect(r.note).toMatch(/resident corpus upload est\. 40\.0 s/);
    expect(r.size.n).toBe(5000);
    expect(r.status).toBe('ok');
  });

  it('reports a monstrous first call once instead of repeating it', async () => {
    const r = await run(fake({ perPairMs: 1e-6, firstCallMs: 10_000 }), { q: 64, n: 500, d: 8 });
    expect(r.timing!.reps).toBe(1);
    expect(r.note).toMatch(/not repeated/);
    expect(r.status).toBe('ok');
  });

  it('stops repeating once the budget is spent, after at least three', async () => {
    // 0.4 s per call at full size: the plan keeps the full size, the time box stops at three.
    const r = await run(fake({ perPairMs: 400 / (64 * 500) }), { q: 64, n: 500, d: 8 });
    expect(r.shrunk).toBe(false);
    expect(r.timing!.reps).toBe(3);
    expect(r.note).toMatch(/3 of 5 reps/);
  });
});

describe('keeping a prepared call for side-by-side rounds', () => {
  it('disposes the call after its repetitions unless asked to keep it, then hands it over open', async () => {
    let disposed = 0;
    let prepared = 0;
    const base = fake({ perPairMs: 1e-4 });
    const method: Method = {
      name: 'fake',
      async prepare(ds: Dataset) {
        prepared++;
        const p = await base.prepare(ds);
        return { call: () => p.call(), dispose: () => void disposed++ };
      },
    };
    clock = 0;
    vi.spyOn(performance, 'now').mockImplementation(() => clock);
    const ds = await makeDataset(customWorkload({ q: 4, n: 200, d: 8 }), 5);
    const exact = new ExactReference(ds);
    const plain = await measure(method, ds, exact, settings);
    expect(plain.held).toBeUndefined();
    // The planner's probes and the timed call: every one disposed.
    expect(disposed).toBe(prepared);
    const kept = await measure(method, ds, exact, settings, true);
    expect(kept.status).toBe('ok');
    expect(disposed).toBe(prepared - 1);
    expect(kept.held!.callsPerRep).toBeGreaterThanOrEqual(1);
    // Still open: it answers, and the caller's dispose is the one that releases it.
    expect(kept.held!.prepared.call()).toHaveProperty('matrix');
    await kept.held!.prepared.dispose?.();
    expect(disposed).toBe(prepared);
  });
});
