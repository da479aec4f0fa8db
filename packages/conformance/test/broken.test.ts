import { createCosineKit, Tensor } from '@cosinekit/core';
import {
  type Backend,
  createReferenceBackend,
  disposedBackend,
  KERNEL_NAMES,
  type KernelName,
  type Kernels,
  type Matrix,
  type ResidentCorpus,
  referenceKernels,
  type SoftmaxCrossEntropy,
  type TopKResult,
} from '@cosinekit/core/backend';
import { describe, expect, it } from 'vitest';
import {
  type ConformanceCase,
  checkDisposal,
  conformanceCases,
  createContext,
  runCases,
  softmaxCrossEntropy64,
} from '../src/index.js';

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

/**
 * The reference with engine objects it counts: `leaky` keeps one per call (never released), and
 * `createCorpus` can forget to count its handles.
 */
function leakyIn(leaky: KernelName | 'handles'): Backend {
  const base = createReferenceBackend();
  let objects = 0;
  let bytes = 0;
  const k: Record<string, unknown> = { ...referenceKernels };
  if (leaky !== 'handles') {
    const fn = referenceKernels[leaky] as (...a: unknown[]) => unknown;
    k[leaky] = (...args: unknown[]) => {
      objects++;
      bytes += 64;
      return fn(...args);
    };
  }
  let disposedUncounted = 0;
  if (leaky === 'handles') {
    k.createCorpus = (x: Matrix) => {
      const h = referenceKernels.createCorpus(x) as ResidentCorpus;
      // dispose() releases the rows but a stale entry stays in the count.
      return {
        get backend() {
          return h.backend;
        },
        rows: h.rows,
        cols: h.cols,
        get disposed() {
          return h.disposed;
        },
        dispose() {
          if (!h.disposed) disposedUncounted++;
          h.dispose();
        },
      } satisfies ResidentCorpus;
    };
  }
  return {
    ...base,
    name: 'reference',
    kernels: k as unknown as Kernels,
    memory: () => ({ residentHandles: base.memory!().residentHandles + disposedUncounted, objects, bytes }),
  };
}

describe('the suite catches a backend that leaks', () => {
  for (const kernel of KERNEL_NAMES) {
    it(`one engine object per call of ${kernel}`, async () => {
      const ctx = await createContext(leakyIn(kernel));
      const outcomes = await runCases(
        ctx,
        conformanceCases().filter((c) => c.group === 'resources'),
      );
      const failed = outcomes.filter((o) => o.error);
      expect(failed.length).toBeGreaterThan(0);
      expect(failed.map((o) => o.case.kernel)).toContain(kernel);
      expect(failed.find((o) => o.case.kernel === kernel)!.error!.message).toMatch(
        /engine objects \d+ -> \d+/,
      );
      // Only the leaking kernel's own case (and the corpus lifecycles that call it) fail.
      for (const o of outcomes) expect(o.skipped).toBeUndefined();
    });
  }

  it('resident corpora that are still counted after dispose()', async () => {
    const ctx = await createContext(leakyIn('handles'));
    const outcomes = await runCases(
      ctx,
      conformanceCases().filter((c) => c.group === 'resources'),
    );
    const failed = outcomes.filter((o) => o.error).map((o) => o.error!.message);
    expect(failed.length).toBeGreaterThanOrEqual(2);
    expect(failed.join('\n')).toMatch(/resident handles \d+ -> \d+/);
  });

  it('and passes it when nothing leaks', async () => {
    const clean = leakyIn('handles');
    const ctx = await createContext({ ...clean, kernels: referenceKernels });
    const outcomes = await runCases(
      ctx,
      conformanceCases().filter((c) => c.group === 'resources'),
    );
    expect(outcomes.filter((o) => o.error || o.skipped)).toEqual([]);
  });
});

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

  it("in the optimiser kernel: off by 1e-3, or without Adam's bias correction", async () => {
    const r = referenceKernels;
    const broken: Kernels['optimizerStep'][] = [
      (state, params, grads, rule) => {
        r.optimizerStep!(state, params, grads, rule);
        for (const p of params) nudge(p);
      },
      (state, params, grads, rule) =>
        r.optimizerStep!(state, params, grads, rule.kind === 'adam' ? { ...rule, step: 1e9 } : rule),
    ];
    for (const optimizerStep of broken) {
      const backend: Backend = { name: 'broken-optimizer', kernels: { ...r, optimizerStep } };
      const outcomes = await runCases(
        await createContext(backend),
        conformanceCases().filter((c) => c.group === 'optimizer' && c.name.startsWith('adam')),
      );
      expect(outcomes.length).toBe(3);
      for (const o of outcomes) expect(o.error?.message).toMatch(/expected/);
    }
  });

  it("in the softmax kernel: off by 1e-3, or right to float32 but not with the contract's operations", async () => {
    const r = referenceKernels;
    const broken: Kernels['softmaxCrossEntropy'][] = [
      async (x, t, scale, weight, keep) => {
        const o = await r.softmaxCrossEntropy!(x, t, scale, weight, keep);
        return { grad: nudge(o.grad), losses: o.losses };
      },
      // The float64 softmax rounded once: a good answer, but not the bits every backend must give.
      (x, t, scale, weight, keep) => {
        const e = softmaxCrossEntropy64(x.data, x.rows, x.cols, t, scale, weight, keep);
        return { grad: Float32Array.from(e.grad), losses: Float32Array.from(e.losses) };
      },
    ];
    for (const softmaxCrossEntropy of broken) {
      const backend: Backend = { name: 'broken-softmax', kernels: { ...r, softmaxCrossEntropy } };
      const outcomes = await runCases(
        await createContext(backend),
        conformanceCases().filter((c) => c.group === 'softmax' && c.name.includes('128 x 128')),
      );
      expect(outcomes.length).toBe(1);
      expect(outcomes[0].error?.message).toMatch(/vs the reference kernel/);
    }
  });

  it('and passes the same backend when nothing is off', async () => {
    const ctx = await createContext(createReferenceBackend());
    const outcomes = await runCases(ctx);
    expect(outcomes.filter((o) => o.error).map((o) => `${o.case.name}: ${o.error!.message}`)).toEqual([]);
  });

  it('in how it breaks ties: by the higher index', async () => {
    // Top-k straight from the float32 cosine matrix: what it selects on is what it reports.
    const byMatrix =
      (order: 1 | -1) =>
      (q: Matrix, c: Matrix, k: number): TopKResult => {
        const m = referenceKernels.cosineMatrix(q, c) as Float32Array;
        const indices = new Int32Array(q.rows * k);
        const scores = new Float32Array(q.rows * k);
        for (let i = 0; i < q.rows; i++) {
          const rows = Array.from({ length: c.rows }, (_, j) => j);
          rows.sort((a, b) => m[i * c.rows + b] - m[i * c.rows + a] || order * (a - b));
          for (let r = 0; r < k; r++) {
            indices[i * k + r] = rows[r];
            scores[i * k + r] = m[i * c.rows + rows[r]];
          }
        }
        return { queries: q.rows, k, indices, scores };
      };
    const ties = conformanceCases().filter((c) => c.group === 'ties' && c.kernel === 'topK');
    expect(ties.length).toBeGreaterThan(1);

    const good = await createContext({
      ...createReferenceBackend(),
      kernels: { ...referenceKernels, topK: byMatrix(1) },
    });
    expect((await runCases(good, ties)).filter((o) => o.error).map((o) => o.error!.message)).toEqual([]);

    const bad = await createContext({
      ...createReferenceBackend(),
      kernels: { ...referenceKernels, topK: byMatrix(-1) },
    });
    for (const o of await runCases(bad, ties)) {
      expect(o.error?.message, `${o.case.name} did not notice`).toMatch(
        /higher index comes first|expected row \d+ scoring exactly/,
      );
    }
  });

  it('in an ungated cosineRows that does not keep its promise: float32 squares, or 0 for a NaN row', async () => {
    // Every sum in float32, as a GPU shader or plain f32x4 code does: squares past 2^64 overflow.
    const f32Rows = (zeroForNaN: boolean) => (a: Matrix, b: Matrix) => {
      const f = Math.fround;
      const out = new Float32Array(a.rows);
      for (let i = 0; i < a.rows; i++) {
        let d = 0;
        let x = 0;
        let y = 0;
        for (let p = i * a.cols; p < (i + 1) * a.cols; p++) {
          d = f(d + f(a.data[p] * b.data[p]));
          x = f(x + f(a.data[p] * a.data[p]));
          y = f(y + f(b.data[p] * b.data[p]));
        }
        const c = x === 0 || y === 0 ? 0 : f(d / f(Math.sqrt(f(x * y))));
        out[i] = zeroForNaN && Number.isNaN(c) ? 0 : c;
      }
      return out;
    };
    const cases = conformanceCases().filter((c) => c.name.startsWith('cosineRows: NaN or'));
    expect(cases.length).toBe(1);
    for (const zeroForNaN of [false, true]) {
      const backend: Backend = {
        name: 'f32-ungated',
        kernels: { cosineRows: f32Rows(zeroForNaN) },
        ungated: ['cosineRows'],
      };
      const [o] = await runCases(await createContext(backend), cases);
      expect(o.error?.message).toMatch(zeroForNaN ? /expected NON_FINITE|succeeded/ : /scales/);
      // Without the declaration the gate rescales and refuses NaN: the same kernel passes.
      const { ungated: _, ...gated } = backend;
      const [g] = await runCases(await createContext(gated), cases);
      expect(g.error).toBeUndefined();
    }
  });

  it('in a self-checked cosineMatrix or corpusMatrix that does not keep its promise: NaN for a zero row', async () => {
    // The float64 quotient without the zero-vector rule: 0 / 0 is NaN for a zero row.
    const noZeroRule = (a: Matrix, b: Matrix, out: Float32Array = new Float32Array(a.rows * b.rows)) => {
      const d = a.cols;
      for (let i = 0; i < a.rows; i++)
        for (let j = 0; j < b.rows; j++) {
          let ab = 0;
          let aa = 0;
          let bb = 0;
          for (let t = 0; t < d; t++) {
            const x = a.data[i * d + t];
            const y = b.data[j * d + t];
            ab += x * y;
            aa += x * x;
            bb += y * y;
          }
          out[i * b.rows + j] = Math.min(1, Math.max(-1, ab / Math.sqrt(aa * bb)));
        }
      return out;
    };
    const cases = conformanceCases().filter((c) => c.group === 'self-checked outputs');
    expect(cases.map((c) => c.kernel)).toEqual([
      'cosineMatrix',
      'corpusMatrix',
      'matmul',
      'matmul',
      'addBias',
      'activation',
      'activationGrad',
    ]);
    const liar: Backend = {
      name: 'nan-self-checked',
      kernels: { cosineMatrix: noZeroRule },
      selfChecked: ['cosineMatrix'],
    };
    const [o] = await runCases(await createContext(liar), cases);
    expect(o.error?.message).toMatch(/declared self-checked, but value NaN/);
    // Without the declaration the case is skipped and the kit's check refuses the NaN by name.
    const { selfChecked: _, ...checked } = liar;
    const [g] = await runCases(await createContext(checked), cases);
    expect(g.error).toBeUndefined();
    expect(g.skipped).toMatch(/not declared self-checked/);
    const kit = createCosineKit({ backend: checked });
    await expect(kit.cosineMatrix([[0, 0]], [[1, 2]])).rejects.toMatchObject({
      code: 'BACKEND_ERROR',
      kernel: 'cosineMatrix',
    });
    // The same lie in corpusMatrix, through a corpus group of the reference's with it swapped in.
    const corpusLiar: Backend = {
      name: 'nan-corpus',
      kernels: {
        createCorpus: referenceKernels.createCorpus,
        corpusSearch: referenceKernels.corpusSearch,
        corpusMatrix: (h, q, out) =>
          noZeroRule(q, new Tensor(referenceKernels.readCorpus!(h) as Float32Array, h.rows, h.cols), out),
      },
      selfChecked: ['corpusMatrix'],
    };
    const [, c] = await runCases(await createContext(corpusLiar), cases);
    expect(c.error?.message).toMatch(/declared self-checked, but value NaN/);
    // A matmul declared self-checked that answers an overflow (the reference's product, unchecked).
    const matmulLiar: Backend = {
      name: 'inf-matmul',
      kernels: { matmul: (a, b, ta, tb, out) => referenceKernels.matmul(a, b, ta, tb, out) },
      selfChecked: ['matmul'],
    };
    const [, , mm] = await runCases(await createContext(matmulLiar), cases);
    expect(mm.error?.message).toMatch(
      /with an overflow in row 0: must fail with BACKEND_ERROR or INVALID_ARGUMENT, got an answer/,
    );
  });

  it('fails a dense kernel declared self-checked that answers NaN or Infinity instead of throwing', async () => {
    const cases = conformanceCases().filter(
      (c) => c.group === 'self-checked outputs' && c.kernel === 'addBias',
    );
    // The reference's addBias (which passes NaN on, as a kernel whose output the kit checks may),
    // declared self-checked by a backend of its own: a lie the case must catch.
    const liar: Backend = {
      name: 'nan-dense',
      kernels: { addBias: (x, b, out) => referenceKernels.addBias(x, b, out) },
      selfChecked: ['addBias'],
    };
    const [o] = await runCases(await createContext(liar), cases);
    expect(o.error?.message).toMatch(/addBias \[1x1\]: declared self-checked, but answered NaN/);
    // The kit trusts the declaration but reads a sample of the answer: a NaN in a small one (every
    // value sampled) is still refused; a stray one in a large answer would pass (what the case
    // guards against).
    // (A NaN answer for a NaN input is then named as the caller's input.)
    const k = await createCosineKit({ backend: liar }).kernels();
    const x = { data: Float32Array.of(Number.NaN), rows: 1, cols: 1 };
    await expect((async () => k.addBias(x, Float32Array.of(1)))()).rejects.toMatchObject({
      code: 'NON_FINITE',
      op: 'addBias',
      arg: 'x',
    });
    const finite = { data: Float32Array.of(1), rows: 1, cols: 1 };
    const nanBias = { ...liar, kernels: { addBias: () => Float32Array.of(Number.NaN) } };
    await expect(
      (async () =>
        (await createCosineKit({ backend: nanBias }).kernels()).addBias(finite, Float32Array.of(1)))(),
    ).rejects.toMatchObject({ code: 'BACKEND_ERROR', kernel: 'addBias' });
    // Undeclared, the case is skipped and the kit's check refuses the NaN by name.
    const { selfChecked: _, ...checked } = liar;
    const [g] = await runCases(await createContext(checked), cases);
    expect(g.skipped).toMatch(/not declared self-checked/);
    const kc = await createCosineKit({ backend: checked }).kernels();
    await expect((async () => kc.addBias(x, Float32Array.of(1)))()).rejects.toMatchObject({
      code: 'NON_FINITE',
      op: 'addBias',
      arg: 'x',
    });
  });

  it('fails an activation declared self-checked that hides a non-finite input in a finite answer (relu(NaN) = 0)', async () => {
    const cases = conformanceCases().filter(
      (c) => c.group === 'self-checked outputs' && c.kernel === 'activation',
    );
    // Every kind computed as relu: finite answers for NaN and -Infinity, which the old case passed.
    const hiding: Backend = {
      name: 'hiding-relu',
      kernels: { activation: (_kind, x, out) => referenceKernels.activation('relu', x, out) },
      selfChecked: ['activation'],
    };
    const [o] = await runCases(await createContext(hiding), cases);
    expect(o.error?.message).toEqual(
      expect.stringMatching(/answered for a non-finite input instead of throwing/),
    );
  });

  it('reports the resources cases skipped, not passed, when the backend has no memory()', async () => {
    const { memory: _, ...noMemory } = createReferenceBackend();
    const ctx = await createContext({ ...noMemory, name: 'no-memory' });
    const outcomes = await runCases(
      ctx,
      conformanceCases().filter((c) => c.group === 'resources'),
    );
    expect(outcomes.length).toBeGreaterThan(10);
    for (const o of outcomes) {
      expect(o.error).toBeUndefined();
      expect(o.skipped).toMatch(/no memory\(\)/);
    }
  });

  it('refuses tolerances loose enough to hide a 1e-3 error', async () => {
    await expect(createContext(createReferenceBackend(), { cosine: 2e-3 })).rejects.toThrow(
      /tolerance.cosine/,
    );
    // By name, as every other refusal (it was a RangeError), and a misspelt key is refused too.
    await expect(createContext(createReferenceBackend(), { cosine: 2e-3 })).rejects.toMatchObject({
      name: 'CosineKitError',
      code: 'INVALID_ARGUMENT',
      arg: 'tolerance.cosine',
    });
    await expect(createContext(createReferenceBackend(), { cosin: 1e-5 } as never)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      arg: 'tolerance.cosin',
    });
  });
});

describe('the suite catches a backend that keeps working after dispose()', () => {
  /**
   * The reference's kernels under another name; `final` makes dispose() final, as the contract
   * asks: every kernel refused and the corpora it made disposed with it.
   */
  const backend = (final: boolean): Backend => {
    let disposed = false;
    const made: ResidentCorpus[] = [];
    const kernels = Object.fromEntries(
      Object.entries(referenceKernels).map(([name, f]) => [
        name,
        (...args: unknown[]) => {
          if (final && disposed) disposedBackend(name);
          const out = (f as (...a: unknown[]) => unknown)(...args);
          if (name === 'createCorpus' || name === 'importCorpus' || name === 'mergeCorpora')
            made.push(out as ResidentCorpus);
          return out;
        },
      ]),
    ) as unknown as Kernels;
    return {
      name: 'finality',
      kernels,
      dispose() {
        disposed = true;
        if (final) for (const h of made) h.dispose();
      },
    };
  };
  it('reopening quietly is a failure naming the first kernel that still answered', async () => {
    await expect(checkDisposal(() => backend(false))).rejects.toThrow(
      /finality\.kernels\.rowNorms after backend\.dispose\(\) must throw DISPOSED/,
    );
  });
  it('a final dispose() passes, with every kernel the backend has called once', async () => {
    const called = await checkDisposal(() => backend(true));
    expect(called.sort()).toEqual(Object.keys(referenceKernels).sort());
  });
});

describe('found by a probe of the suite (each passed, or hung, before)', () => {
  /** The reference with `kernel` writing into its matrix inputs after computing. */
  const writer = (kernel: 'cosineMatrix' | 'cosineRows' | 'topK', how: 'wipe' | 'normalize'): Backend => {
    const k: Record<string, unknown> = { ...referenceKernels };
    const f = referenceKernels[kernel] as (...a: unknown[]) => unknown;
    k[kernel] = (...args: unknown[]) => {
      const r = f(...args);
      for (const a of args.slice(0, 2) as Matrix[]) {
        if (how === 'wipe') a.data.fill(0.25);
        else a.data.set(referenceKernels.normalizeRows(a) as Float32Array);
      }
      return r;
    };
    return { ...createReferenceBackend(), name: 'writer', kernels: k as unknown as Kernels };
  };
  for (const kernel of ['cosineMatrix', 'cosineRows', 'topK'] as const)
    for (const how of ['wipe', 'normalize'] as const)
      it(`a ${kernel} that writes its inputs (${how})`, async () => {
        const ctx = await createContext(writer(kernel, how));
        const outcomes = await runCases(
          ctx,
          conformanceCases().filter((c) => c.kernel === kernel),
        );
        const failures = outcomes.filter((o) => o.error);
        expect(failures.length).toBeGreaterThan(0);
        expect(failures.some((o) => /wrote into its input/.test(o.error!.message))).toBe(true);
      });

  it("a kernel answering in a buffer it reuses (its caller's earlier answer changes), or in its input", async () => {
    // A concurrency probe found nothing in the contract's checks that asked for a new array; the
    // kit handed such answers straight to its callers.
    const reusing = (kernel: 'cosineMatrix' | 'rowNorms' | 'topK'): Backend => {
      const k: Record<string, unknown> = { ...referenceKernels };
      const f = referenceKernels[kernel] as (...a: unknown[]) => unknown;
      let pool: Float32Array | undefined;
      const keep = (v: Float32Array) => {
        if (pool?.length !== v.length) pool = new Float32Array(v.length);
        pool.set(v);
        return pool;
      };
      k[kernel] = (...args: unknown[]) => {
        const r = f(...args) as Float32Array | TopKResult;
        return r instanceof Float32Array ? keep(r) : { ...r, scores: keep(r.scores) };
      };
      return { ...createReferenceBackend(), name: 'reusing', kernels: k as unknown as Kernels };
    };
    for (const kernel of ['cosineMatrix', 'rowNorms', 'topK'] as const) {
      const outcomes = await runCases(
        await createContext(reusing(kernel)),
        conformanceCases().filter((c) => c.group === 'answers' && c.kernel === kernel),
      );
      expect(outcomes).toHaveLength(1);
      expect(outcomes[0]!.error?.message, kernel).toMatch(/two calls answered on one buffer/);
    }
    const k = { ...referenceKernels, rowNorms: (x: Matrix) => x.data.subarray(0, x.rows) };
    const [inInput] = await runCases(
      await createContext({ ...createReferenceBackend(), name: 'in-input', kernels: k as Kernels }),
      conformanceCases().filter((c) => c.group === 'answers' && c.kernel === 'rowNorms'),
    );
    expect(inInput!.error?.message).toMatch(/lies on the buffer of an input/);
    const [ok] = await runCases(
      await createContext(createReferenceBackend()),
      conformanceCases().filter((c) => c.group === 'answers' && c.kernel === 'topK'),
    );
    expect(ok!.error).toBeUndefined();
  });

  it('a NaN for a zero row is reported as NaN, not as an out never written', async () => {
    const k: Kernels = { ...referenceKernels };
    k.cosineMatrix = (a, b, out) => {
      const r = referenceKernels.cosineMatrix(a, b, out) as Float32Array;
      r[r.length - 1] = Number.NaN;
      return r;
    };
    const ctx = await createContext({ ...createReferenceBackend(), name: 'nan', kernels: k });
    const outcomes = await runCases(
      ctx,
      conformanceCases().filter((c) => c.kernel === 'cosineMatrix'),
    );
    const messages = outcomes.filter((o) => o.error).map((o) => o.error!.message);
    expect(messages.length).toBeGreaterThan(0);
    expect(messages.some((m) => /NaN/.test(m))).toBe(true);
    expect(messages.some((m) => /not written to 'out'/.test(m))).toBe(false);
  });

  it('a kernel that never settles fails its case (runCases, checkDisposal) instead of hanging', async () => {
    const k: Kernels = { ...referenceKernels, topK: () => new Promise<TopKResult>(() => undefined) };
    const ctx = await createContext({ ...createReferenceBackend(), name: 'stuck', kernels: k });
    const q = new Tensor(Float32Array.of(1, 0), 1, 2);
    const one = [{ group: 'stuck', name: 'topK', run: async () => void (await ctx.kernels.topK(q, q, 1)) }];
    const [outcome] = await runCases(ctx, one, 200);
    expect(outcome.error?.message).toMatch(/did not settle within 200 ms/);
    const stuckDispose: Backend = {
      name: 'stuck',
      kernels: { ...referenceKernels },
      dispose: () => new Promise(() => undefined),
    };
    await expect(checkDisposal(() => stuckDispose, 200)).rejects.toThrow(/stuck\.dispose\(\) did not settle/);
  });
});

describe('found by a probe of shape-dependent bugs (each passed before)', () => {
  /** Where each kernel that returns one float array takes its `out`. */
  const OUT_AT = {
    rowNorms: 1,
    normalizeRows: 1,
    cosineRows: 2,
    cosineMatrix: 2,
    corpusMatrix: 2,
    matmul: 4,
    addBias: 2,
    activation: 2,
    activationGrad: 3,
    columnSums: 1,
  } as const;
  type ArrayKernel = keyof typeof OUT_AT;
  // biome-ignore lint/suspicious/noExplicitAny: a mutant reads whichever arguments its kernel has
  type Args = any[];

  /** The reference with `kernels` swapped in. */
  const withKernels = (kernels: Partial<Kernels>): Backend => ({
    ...createReferenceBackend(),
    kernels: { ...referenceKernels, ...kernels },
  });

  /** The reference with `kernel`'s answer off by 1e-3 at `at(args, out, length)`, when that is >= 0. */
  const offAt = (kernel: ArrayKernel, at: (args: Args, out: unknown, length: number) => number): Backend => {
    const f = referenceKernels[kernel] as (...a: Args) => Float32Array;
    return withKernels({
      [kernel]: (...args: Args) => {
        const r = f(...args);
        const i = at(args, args[OUT_AT[kernel]], r.length);
        if (i >= 0) r[i] += OFF;
        return r;
      },
    });
  };

  /** The reference with `kernel`'s top-k answer edited by `edit`. */
  const topKEdited = (
    kernel: 'topK' | 'corpusSearch',
    edit: (t: TopKResult, args: Args) => void,
  ): Backend => {
    const f = referenceKernels[kernel] as (...a: Args) => TopKResult;
    return withKernels({
      [kernel]: (...args: Args) => {
        const t = f(...args);
        const copy = { ...t, indices: t.indices.slice(), scores: t.scores.slice() };
        edit(copy, args);
        return copy;
      },
    });
  };

  /** Messages of the cases `which` selects that fail on `backend`. */
  async function failures(backend: Backend, which: (c: ConformanceCase) => boolean): Promise<string[]> {
    const cases = conformanceCases().filter(which);
    expect(cases.length).toBeGreaterThan(0);
    const outcomes = await runCases(await createContext(backend), cases);
    return outcomes.filter((o) => o.error).map((o) => o.error!.message);
  }
  const of = (kernel: string) => (c: ConformanceCase) => c.kernel === kernel;

  const stored = (h: ResidentCorpus) => h.storage ?? 'float32';
  const rerankOf = (h: ResidentCorpus) => (h as { rerank?: number }).rerank ?? 0;

  for (const kernel of Object.keys(OUT_AT).filter((k) => k !== 'columnSums') as ArrayKernel[]) {
    it(`${kernel} off by 1e-3 only in what it writes into out`, async () => {
      const messages = await failures(
        offAt(kernel, (_, out, n) => (out ? n - 1 : -1)),
        of(kernel),
      );
      expect(messages).toContainEqual(
        expect.stringMatching(new RegExp(`^(sparse )?${kernel}\\b.* into 'out': element \\d+ is`)),
      );
    });
  }

  it('softmaxCrossEntropy off by 1e-3 only in what it writes into out', async () => {
    const backend = withKernels({
      softmaxCrossEntropy: (x, t, scale, weight, keep, out) => {
        const r = referenceKernels.softmaxCrossEntropy!(
          x,
          t,
          scale,
          weight,
          keep,
          out,
        ) as SoftmaxCrossEntropy;
        if (out) nudge(out.grad);
        return r;
      },
    });
    const messages = await failures(backend, (c) => c.group === 'softmax');
    expect(messages).toContainEqual(
      expect.stringMatching(/grad into 'out' vs the reference kernel: element \d+ is/),
    );
  });

  // A tile of 64 rows (of queries, of a's rows) is where the reference and most engines split the work.
  const pastRowTile: [string, Backend, RegExp][] = [
    ['rowNorms', offAt('rowNorms', ([x]) => (x.rows > 64 ? 64 : -1)), /^rowNorms \[67x\d+\]: element 64 is/],
    [
      'normalizeRows',
      offAt('normalizeRows', ([x]) => (x.rows > 64 ? 64 * x.cols : -1)),
      /^normalizeRows \[67x\d+\]: element \d+ is/,
    ],
    [
      'cosineRows',
      offAt('cosineRows', ([a]) => (a.rows > 64 ? 64 : -1)),
      /^cosineRows \[67x\d+\]: element 64 is/,
    ],
    [
      'cosineMatrix',
      offAt('cosineMatrix', ([a, b]) => (a.rows > 64 ? 64 * b.rows : -1)),
      /^cosineMatrix \[67x\d+\]·\[37x\d+\]ᵀ: element 2368 is/,
    ],
    [
      'topK',
      topKEdited('topK', (t) => {
        if (t.queries > 64) t.scores[64 * t.k] += OFF;
      }),
      /^topK 67 queries .*: query 64 rank 0: score/,
    ],
    [
      'corpusSearch',
      topKEdited('corpusSearch', (t) => {
        if (t.queries > 64) t.scores[64 * t.k] += OFF;
      }),
      /^corpusSearch 67 queries .*: query 64 rank 0: score/,
    ],
    [
      'corpusMatrix',
      offAt('corpusMatrix', ([h, q]) => (q.rows > 64 ? 64 * h.rows : -1)),
      /^corpusMatrix \[67x\d+\]·\[\d+x\d+\]ᵀ: element \d+ is/,
    ],
    [
      'addBias',
      offAt('addBias', ([x]) => (x.rows > 64 ? 64 * x.cols : -1)),
      /^addBias \[67x129\]: element 8256 is/,
    ],
    [
      'matmul',
      offAt('matmul', ([a, b, ta, tb]) => ((ta ? a.cols : a.rows) > 64 ? 64 * (tb ? b.rows : b.cols) : -1)),
      /^matmul 67x16x68 \(\w+,\w+\): element 4352 is/,
    ],
  ];
  for (const [kernel, backend, message] of pastRowTile) {
    it(`${kernel} off by 1e-3 only past a tile of 64 rows`, async () => {
      expect(await failures(backend, of(kernel))).toContainEqual(expect.stringMatching(message));
    });
  }

  it('cosineMatrix and corpusMatrix off by 1e-3 only past a tile of 256 corpus rows (float32 storage)', async () => {
    const b = offAt('cosineMatrix', ([, b]) => (b.rows > 256 ? 256 : -1));
    expect(await failures(b, of('cosineMatrix'))).toContainEqual(
      expect.stringMatching(/^cosineMatrix \[3x\d+\]·\[259x\d+\]ᵀ: element 256 is/),
    );
    const h = offAt('corpusMatrix', ([h]) => (h.rows > 256 && stored(h) === 'float32' ? 256 : -1));
    expect(await failures(h, of('corpusMatrix'))).toContainEqual(
      expect.stringMatching(/^corpusMatrix \[67x\d+\]·\[259x\d+\]ᵀ: element 256 is/),
    );
  });

  it('dense kernels off by 1e-3 only on their aligned or long path (a multiple of 4, past 1024 values)', async () => {
    const cases: [ArrayKernel, Backend, RegExp][] = [
      [
        'matmul',
        offAt('matmul', ([, b, , tb], _, n) => ((tb ? b.rows : b.cols) % 4 === 0 ? n - 1 : -1)),
        /^matmul 67x16x68 \(\w+,\w+\): element 4555 is/,
      ],
      [
        'matmul',
        offAt('matmul', ([a, , ta], _, n) => ((ta ? a.rows : a.cols) % 4 === 0 ? n - 1 : -1)),
        /^matmul 67x16x68 \(\w+,\w+\): element 4555 is/,
      ],
      [
        'addBias',
        offAt('addBias', ([x], _, n) => (x.cols % 4 === 0 ? n - 1 : -1)),
        /^addBias \[5x64\]: element 319 is/,
      ],
      [
        'activation',
        offAt('activation', (_, __, n) => (n > 1024 ? 1024 : -1)),
        /^activation\(\w+\) \[37x40\]: element 1024 is/,
      ],
      [
        'activationGrad',
        offAt('activationGrad', ([, x], _, n) => (x.cols % 4 === 0 ? n - 1 : -1)),
        /^activationGrad\(\w+\) \[37x40\]: element 1479 is/,
      ],
    ];
    for (const [kernel, backend, message] of cases)
      expect(await failures(backend, of(kernel))).toContainEqual(expect.stringMatching(message));
  });

  it("activationGrad(relu) that passes dy through at exactly 0 (relu's f'(0) is 0)", async () => {
    const backend = withKernels({
      activationGrad: (kind, x, dy, out) => {
        const r = referenceKernels.activationGrad(kind, x, dy, out) as Float32Array;
        if (kind === 'relu') for (let i = 0; i < r.length; i++) if (x.data[i] === 0) r[i] = dy.data[i];
        return r;
      },
    });
    expect(await failures(backend, of('activationGrad'))).toContainEqual(
      expect.stringMatching(/^activationGrad\(relu\) \[5x17\]: element \d+ is .*, expected 0 /),
    );
  });

  it('quantised storage without re-ranking: scores off by 1e-3 in corpusSearch or corpusMatrix', async () => {
    const quantised = (h: ResidentCorpus) => stored(h) === 'float16' && rerankOf(h) === 0;
    const search = topKEdited('corpusSearch', (t, [h]) => {
      if (quantised(h)) for (let i = 0; i < t.scores.length; i++) t.scores[i] += OFF;
    });
    const corpus = (c: ConformanceCase) => c.group === 'corpus';
    expect(await failures(search, corpus)).toContainEqual(
      expect.stringMatching(
        /^corpusSearch \(float16, rerank 0\): query 0 rank 0: score .* for row \d+, true cosine/,
      ),
    );
    const matrix = offAt('corpusMatrix', ([h], _, n) => (quantised(h) ? n - 1 : -1));
    expect(await failures(matrix, corpus)).toContainEqual(
      expect.stringMatching(/^corpusMatrix \(float16, rerank 0\) \[67x37\]·\[300x37\]ᵀ: element 20099 is/),
    );
  });

  it('quantised storage with re-ranking: search scores that are not the exact ones', async () => {
    const backend = topKEdited('corpusSearch', (t, [h]) => {
      if (stored(h) !== 'float32' && rerankOf(h) > 0) t.scores[t.scores.length - 1] += OFF;
    });
    expect(await failures(backend, (c) => c.group === 'corpus')).toContainEqual(
      expect.stringMatching(/^corpusSearch \((int8|float16), rerank 4\): query 7 rank 9: score/),
    );
  });

  it('importCorpus that alters the float32 rows of a re-ranked float16 corpus (a merge after add or remove)', async () => {
    const backend = withKernels({
      importCorpus: (s) => {
        const exact = s.storage === 'float16' && s.exact ? s.exact.slice() : s.exact;
        if (exact && exact !== s.exact) exact[0] += OFF;
        return referenceKernels.importCorpus!({ ...s, exact });
      },
    });
    expect(await failures(backend, (c) => c.group === 'stored corpora')).toContainEqual(
      expect.stringMatching(/^float16, rerank 2: a re-imported corpus exports a different stored form/),
    );
  });

  it('softmax, optimizer and columnSums off only past 256 rows, 1024 columns or 8192 values', async () => {
    const softmax = (at: (x: Matrix) => number) =>
      withKernels({
        softmaxCrossEntropy: (x, t, scale, weight, keep, out) => {
          const r = referenceKernels.softmaxCrossEntropy!(
            x,
            t,
            scale,
            weight,
            keep,
            out,
          ) as SoftmaxCrossEntropy;
          const i = at(x);
          if (i >= 0) r.grad[i] += OFF;
          return r;
        },
      });
    const group = (g: string) => (c: ConformanceCase) => c.group === g;
    expect(
      await failures(
        softmax((x) => (x.rows > 256 ? 256 * x.cols : -1)),
        group('softmax'),
      ),
    ).toContainEqual(
      expect.stringMatching(/^259 x 6, masked: grad vs the reference kernel: element 1536 is/),
    );
    expect(
      await failures(
        softmax((x) => (x.cols > 1024 ? 1024 : -1)),
        group('softmax'),
      ),
    ).toContainEqual(
      expect.stringMatching(/^2 x 1031, masked: grad vs the reference kernel: element 1024 is/),
    );
    const optimizer = withKernels({
      optimizerStep: (state, params, grads, rule) => {
        referenceKernels.optimizerStep!(state, params, grads, rule);
        for (const p of params) if (p.length > 8192) p[8192] += OFF;
      },
    });
    expect(await failures(optimizer, group('optimizer'))).toContainEqual(
      expect.stringMatching(/params \(length 8195\) vs the reference kernel: element 8192 is/),
    );
    const sums = offAt('columnSums', ([x], _, n) => (x.rows > 256 ? n - 1 : -1));
    expect(await failures(sums, group('columnSums'))).toContainEqual(
      expect.stringMatching(/^columnSums \[259x12\] vs the reference: element 11 is/),
    );
  });
});

describe('found by a mutation probe of the suite (each passed before)', () => {
  /** The reference backend with some kernels replaced. */
  const mutant = (name: string, replace: (r: Kernels) => Partial<Kernels>): Backend => ({
    ...createReferenceBackend(),
    name,
    kernels: { ...referenceKernels, ...replace(referenceKernels) } as Kernels,
  });
  /** The failures of the cases of `group` (all groups when omitted) on `backend`. */
  const failuresOf = async (backend: Backend, group?: string) => {
    const outcomes = await runCases(
      await createContext(backend),
      conformanceCases().filter((c) => group === undefined || c.group === group),
    );
    return outcomes.filter((o) => o.error).map((o) => `${o.case.name}: ${o.error!.message}`);
  };

  it('corpusMatrix without the clamp (1.0000001 is within the tolerance of 1)', async () => {
    const b = mutant('no-clamp', (r) => ({
      corpusMatrix: (h, q, out) => {
        const m = r.corpusMatrix!(h, q, out) as Float32Array;
        for (let i = 0; i < m.length; i++) if (m[i]! >= 1 - 6e-8) m[i] = 1.0000001;
        return m;
      },
    }));
    expect((await failuresOf(b, 'corpus')).join('\n')).toMatch(/corpusMatrix.*outside \[-1, 1\]/);
  });

  it('a corpus search that answers for the last corpus made, or for the first queries of a shape, or after dispose', async () => {
    let last: ResidentCorpus | undefined;
    const leaky = mutant('leaky', (r) => ({
      createCorpus: (x, o) => {
        const h = r.createCorpus(x, o) as ResidentCorpus;
        last = h;
        return h;
      },
      corpusSearch: (h, q, k) =>
        r.corpusSearch(last && !last.disposed && last.cols === h.cols ? last : h, q, k),
    }));
    expect((await failuresOf(leaky, 'state')).join('\n')).toMatch(/first corpus/);
    const seen = new Map<string, TopKResult>();
    const stale = mutant('stale', (r) => ({
      corpusSearch: (h, q, k) => {
        const key = `${h.rows}x${h.cols}:${q.rows}:${k}`;
        if (!seen.has(key)) seen.set(key, r.corpusSearch(h, q, k) as TopKResult);
        const t = seen.get(key)!;
        return { ...t, indices: t.indices.slice(), scores: t.scores.slice() };
      },
    }));
    expect((await failuresOf(stale, 'state')).join('\n')).toMatch(/other queries/);
    // Disposing only marks the handle: the kernels keep answering from the rows.
    type Zombie = ResidentCorpus & { inner: ResidentCorpus };
    const inner = (h: ResidentCorpus) => (h as Zombie).inner ?? h;
    const zombie = mutant('zombie', (r) => ({
      createCorpus: (x, o) => {
        const live = r.createCorpus(x, o) as ResidentCorpus;
        let gone = false;
        return {
          backend: live.backend,
          rows: live.rows,
          cols: live.cols,
          storage: live.storage,
          get disposed() {
            return gone;
          },
          dispose() {
            gone = true;
          },
          inner: live,
        } as Zombie;
      },
      corpusSearch: (h, q, k) => r.corpusSearch(inner(h), q, k),
      corpusMatrix: (h, q, out) => r.corpusMatrix!(inner(h), q, out),
      corpusSearchAllowed: (h, q, k, allow) => r.corpusSearchAllowed!(inner(h), q, k, allow),
    }));
    expect((await failuresOf(zombie, 'state')).join('\n')).toMatch(/answered for a disposed corpus/);
  });

  it('rowNorms and cosineRows cached by shape or by array identity', async () => {
    const byShape = new Map<string, Float32Array>();
    const cached = mutant('cached', (r) => ({
      rowNorms: (x) => {
        const key = `${x.rows}x${x.cols}`;
        if (!byShape.has(key)) byShape.set(key, r.rowNorms(x) as Float32Array);
        return byShape.get(key)!.slice();
      },
    }));
    expect((await failuresOf(cached, 'state')).join('\n')).toMatch(/rowNorms \(other values\)/);
    const byArray = new WeakMap<Float32Array, Float32Array>();
    const identity = mutant('identity', (r) => ({
      cosineRows: (a, b) => {
        if (!byArray.has(a.data)) byArray.set(a.data, r.cosineRows(a, b) as Float32Array);
        return byArray.get(a.data)!.slice();
      },
    }));
    expect((await failuresOf(identity, 'state')).join('\n')).toMatch(
      /cosineRows \(its first arrays rewritten\)/,
    );
  });

  it('corpusSearchAllowed breaking ties by the higher index', async () => {
    const b = mutant('allowed-ties', (r) => ({
      corpusSearchAllowed: (h, q, k, allow) => {
        const all = r.corpusMatrix!(h, q) as Float32Array;
        const n = h.rows;
        const indices = new Int32Array(q.rows * k);
        const scores = new Float32Array(q.rows * k);
        for (let i = 0; i < q.rows; i++) {
          const rows = Array.from({ length: n }, (_, j) => j).filter((j) => allow[j] === 1);
          rows.sort((x, y) => all[i * n + y]! - all[i * n + x]! || y - x);
          for (let t = 0; t < k; t++) {
            indices[i * k + t] = rows[t]!;
            scores[i * k + t] = all[i * n + rows[t]!]!;
          }
        }
        return { queries: q.rows, k, indices, scores };
      },
    }));
    expect((await failuresOf(b, 'ties')).join('\n')).toMatch(/corpusSearchAllowed/);
  });

  it('createCorpus writing into its input after the call returned', async () => {
    const b = mutant('late-writer', (r) => ({
      createCorpus: (x, o) => {
        setTimeout(() => {
          x.data[0] = 42;
        }, 0);
        return r.createCorpus(x, o);
      },
    }));
    expect((await failuresOf(b, 'state')).join('\n')).toMatch(/wrote into its input after the call returned/);
  });

  it('the reference passes every new case', async () => {
    expect(await failuresOf(createReferenceBackend(), 'state')).toEqual([]);
  });
});

describe('found by a contract probe: wrong only at sizes past the other cases (each passed before)', () => {
  const R = referenceKernels;
  const failures = async (kernels: Partial<Kernels>) => {
    const outcomes = await runCases(
      await createContext({ ...createReferenceBackend(), name: 'big-n', kernels: { ...R, ...kernels } }),
      conformanceCases().filter((c) => c.group === 'large shapes'),
    );
    return outcomes.filter((o) => o.error).map((o) => o.case.name);
  };
  const scaled = (a: Float32Array, from: number, every = 1) => {
    for (let i = from; i < a.length; i++) if (i % every === 0) a[i] *= 0.99;
    return a;
  };

  it('cosineRows scaled by 0.99 past row 2,000', async () => {
    const got = await failures({
      cosineRows: (a, b, out) => scaled(R.cosineRows(a, b, out) as Float32Array, 2000),
    });
    expect(got).toEqual([expect.stringMatching(/^cosineRows over/)]);
  });

  it('cosineMatrix and corpusMatrix scaled by 0.99 past column 1,200', async () => {
    const cols = (m: Float32Array, n: number) => {
      for (let i = 0; i < m.length; i++) if (i % n >= 1200) m[i] *= 0.99;
      return m;
    };
    const got = await failures({
      cosineMatrix: (a, b, out) => cols(R.cosineMatrix(a, b, out) as Float32Array, b.rows),
      corpusMatrix: (h, q, out) => cols(R.corpusMatrix(h, q, out) as Float32Array, h.rows),
    });
    expect(got).toEqual([
      expect.stringMatching(/^cosineMatrix of/),
      expect.stringMatching(/^resident search/),
    ]);
  });

  it('topK and corpusSearch blind to rows past 5,000', async () => {
    const first = (c: Matrix) =>
      new Tensor(c.data.subarray(0, 5000 * c.cols), Math.min(c.rows, 5000), c.cols);
    const got = await failures({
      topK: (q, c, k) => R.topK(q, first(c), k),
      createCorpus: (x, o) => R.createCorpus(first(x), o),
    });
    // A corpus that says it holds 5,000 rows fails there too; both searches miss the rows planted late.
    expect(got).toEqual([expect.stringMatching(/^topK over/), expect.stringMatching(/^resident search/)]);
  });

  it('the reference passes them', async () => {
    expect(await failures({})).toEqual([]);
  });
});
