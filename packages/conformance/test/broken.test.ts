import { Tensor } from '@cosinekit/core';
import {
  type Backend,
  createReferenceBackend,
  KERNEL_NAMES,
  type KernelName,
  type Kernels,
  type Matrix,
  type ResidentCorpus,
  referenceKernels,
  type TopKResult,
} from '@cosinekit/core/backend';
import { describe, expect, it } from 'vitest';
import { conformanceCases, createContext, runCases } from '../src/index.js';

const OFF = 1e-3;

/** The last element moved by 1e-3: the smallest error the suite promises to catch. */
function nudge(a: Float32Array): Float32Array {
  a[a.length - 1] += OFF;
  return a;
}

/** The reference backend with one kernel off by 1e-3. */
function brokenIn(kernel: KernelName): Backend {
  const k: Kernels = { ...referenceKernels };
  const r = referenceKernels;
  const nudgeTopK = (t: TopKResult): TopKResult => ({ ...t, scores: nudge(Float32Array.from(t.scores)) });
  switch (kernel) {
    case 'rowNorms':
      k.rowNorms = (x, out) => nudge(r.rowNorms(x, out) as Float32Array);
      break;
    case 'normalizeRows':
      k.normalizeRows = (x, out) => nudge(r.normalizeRows(x, out) as Float32Array);
      break;
    case 'cosineRows':
      k.cosineRows = (a, b, out) => nudge(r.cosineRows(a, b, out) as Float32Array);
      break;
    case 'cosineMatrix':
      k.cosineMatrix = (a, b, out) => nudge(r.cosineMatrix(a, b, out) as Float32Array);
      break;
    case 'topK':
      k.topK = (q, c, kk) => nudgeTopK(r.topK(q, c, kk) as TopKResult);
      break;
    case 'createCorpus':
      // The stored corpus is off: its first component moved by 1e-3 before normalising.
      k.createCorpus = (x: Matrix) => {
        const d = Float32Array.from(x.data);
        d[0] += OFF;
        return r.createCorpus(new Tensor(d, x.rows, x.cols)) as ResidentCorpus;
      };
      break;
    case 'corpusSearch':
      k.corpusSearch = (h, q, kk) => nudgeTopK(r.corpusSearch(h, q, kk) as TopKResult);
      break;
    case 'corpusMatrix':
      k.corpusMatrix = (h, q, out) => nudge(r.corpusMatrix(h, q, out) as Float32Array);
      break;
    case 'matmul':
      k.matmul = (a, b, ta, tb, out) => nudge(r.matmul(a, b, ta, tb, out) as Float32Array);
      break;
    case 'addBias':
      k.addBias = (x, bias, out) => nudge(r.addBias(x, bias, out) as Float32Array);
      break;
    case 'activation':
      k.activation = (kind, x, out) => nudge(r.activation(kind, x, out) as Float32Array);
      break;
    case 'activationGrad':
      k.activationGrad = (kind, x, dy, out) => nudge(r.activationGrad(kind, x, dy, out) as Float32Array);
      break;
  }
  return { ...createReferenceBackend(), name: 'reference', kernels: k };
}

describe('the suite catches a backend that is off by 1e-3', () => {
  for (const kernel of KERNEL_NAMES) {
    it(`in ${kernel}`, async () => {
      const ctx = await createContext(brokenIn(kernel));
      const relevant = conformanceCases().filter(
        (c) => c.kernel === kernel || (kernel === 'createCorpus' && c.kernel === 'corpusMatrix'),
      );
      expect(relevant.length).toBeGreaterThan(0);
      const outcomes = await runCases(ctx, relevant);
      const failures = outcomes.filter((o) => o.error);
      expect(failures.length, `no check of ${kernel} noticed the error`).toBeGreaterThan(0);
      // The failure explains itself: which kernel and which element.
      expect(failures[0].error!.message).toMatch(/expected|should|score|outside/);
    });
  }

  it('and passes the same backend when nothing is off', async () => {
    const ctx = await createContext(createReferenceBackend());
    const outcomes = await runCases(ctx);
    expect(outcomes.filter((o) => o.error).map((o) => `${o.case.name}: ${o.error!.message}`)).toEqual([]);
  });

  it('refuses tolerances loose enough to hide a 1e-3 error', async () => {
    await expect(createContext(createReferenceBackend(), { cosine: 2e-3 })).rejects.toThrow(
      /tolerance.cosine/,
    );
  });
});
