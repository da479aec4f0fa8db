import {
  type Backend,
  createReferenceBackend,
  disposedBackend,
  type Kernels,
  type Matrix,
  type OptimizerState,
  type ResidentCorpus,
  referenceKernels,
  type SoftmaxCrossEntropy,
  type StoredCorpus,
  type TopKResult,
} from '@cosinekit/core/backend';
import { describe, expect, it } from 'vitest';
import { defineCase } from '../src/cases/context.js';
import { checkDisposal, conformanceCases, createContext, runCases } from '../src/index.js';

/**
 * Backends wrong in ways a mutation probe of the suite found it passing: each is the reference
 * with one kernel changed the way a hand-written engine plausibly gets it wrong, and each must
 * fail at least one case of the groups named (run alone, to keep this file quick).
 */
const r = referenceKernels;
const topK = (t: unknown) => t as TopKResult;
const f32 = (t: unknown) => t as Float32Array;
const isZeroRow = (x: Matrix, i: number) => {
  for (let p = 0; p < x.cols; p++) if (x.data[i * x.cols + p] !== 0) return false;
  return true;
};

/** Answers of one length handed out from two buffers in turn (a double-buffered staging area). */
function twoBuffers(): (a: Float32Array) => Float32Array {
  const pool = new Map<number, Float32Array[]>();
  let turn = 0;
  return (a) => {
    let bufs = pool.get(a.length);
    if (!bufs) pool.set(a.length, (bufs = [new Float32Array(a.length), new Float32Array(a.length)]));
    const b = bufs[turn++ & 1]!;
    b.set(a);
    return b;
  };
}

/** The first answer per key, given again for every later call with that key. */
function keptPer<T>(): (key: string, f: () => T) => T {
  const kept = new Map<string, T>();
  return (key, f) => {
    if (!kept.has(key)) kept.set(key, f());
    return kept.get(key)!;
  };
}

const shape = (m: Matrix) => `${m.rows}x${m.cols}`;

const MUTANTS: { name: string; groups: string[]; kernels: () => Partial<Kernels> }[] = [
  {
    name: 'cosineMatrix answers in two buffers taken in turn (the third call overwrites the first answer)',
    groups: ['answers'],
    kernels: () => {
      const take = twoBuffers();
      return {
        cosineMatrix: (a, b, out) => (out ? r.cosineMatrix(a, b, out) : take(f32(r.cosineMatrix(a, b)))),
      };
    },
  },
  {
    name: 'columnSums answers in one buffer per length (an optional kernel)',
    groups: ['answers'],
    kernels: () => {
      const take = twoBuffers();
      return { columnSums: (x, out) => (out ? r.columnSums!(x, out) : take(take(f32(r.columnSums!(x))))) };
    },
  },
  {
    name: 'matmul keeps its first answer per shape',
    groups: ['state', 'answers'],
    kernels: () => {
      const kept = keptPer<Float32Array>();
      return {
        matmul: (a, b, ta, tb, out) => {
          const v = kept(`${shape(a)} ${shape(b)} ${ta} ${tb}`, () => f32(r.matmul(a, b, ta, tb)).slice());
          if (!out) return v.slice();
          out.set(v);
          return out;
        },
      };
    },
  },
  {
    name: 'corpusSearchAllowed gives exactly-k allowed rows in row order, not best first',
    groups: ['filters'],
    kernels: () => ({
      corpusSearchAllowed: (h, q, k, allow) => {
        const rows: number[] = [];
        for (let j = 0; j < allow.length; j++) if (allow[j]) rows.push(j);
        if (rows.length !== k || k < 2) return r.corpusSearchAllowed!(h, q, k, allow);
        const m = f32(r.corpusMatrix(h, q));
        const indices = new Int32Array(q.rows * k);
        const scores = new Float32Array(q.rows * k);
        for (let i = 0; i < q.rows; i++)
          rows.forEach((j, t) => {
            indices[i * k + t] = j;
            scores[i * k + t] = m[i * h.rows + j]!;
          });
        return { queries: q.rows, k, indices, scores };
      },
    }),
  },
  {
    name: "corpusSearchAllowed keeps a corpus's first mask",
    groups: ['filters'],
    kernels: () => {
      const masks = new WeakMap<ResidentCorpus, Uint8Array>();
      return {
        corpusSearchAllowed: (h, q, k, allow) => {
          if (!masks.has(h)) masks.set(h, allow.slice());
          return r.corpusSearchAllowed!(h, q, k, masks.get(h)!);
        },
      };
    },
  },
  {
    name: 'topK leaves a cosine of 1 unclamped (1.0000001)',
    groups: ['topK'],
    kernels: () => ({
      topK: (q, c, k) => {
        const t = topK(r.topK(q, c, k));
        return { ...t, scores: t.scores.map((s) => (s >= 1 - 6e-8 ? 1.0000001 : s)) };
      },
    }),
  },
  {
    name: 'cosineMatrix off by 1e-3 where d % 16 is 15 (a tail of the unrolled loop)',
    groups: ['cosineMatrix'],
    kernels: () => ({
      cosineMatrix: (a, b, out) => {
        const v = f32(r.cosineMatrix(a, b, out));
        if (a.cols % 16 === 15) v[v.length - 1]! += 1e-3;
        return v;
      },
    }),
  },
  {
    name: 'normalizeRows gives NaN for a zero row past the first tile of 64 rows',
    groups: ['normalizeRows'],
    kernels: () => ({
      normalizeRows: (x, out) => {
        const v = f32(r.normalizeRows(x, out));
        for (let i = 64; i < x.rows; i++)
          if (isZeroRow(x, i)) v.fill(Number.NaN, i * x.cols, (i + 1) * x.cols);
        return v;
      },
    }),
  },
  {
    name: 'topK scores a zero corpus row past 64 rows as -1',
    groups: ['topK'],
    kernels: () => ({
      topK: (q, c, k) => {
        const m = f32(r.cosineMatrix(q, c));
        for (let j = 64; j < c.rows; j++)
          if (isZeroRow(c, j)) for (let i = 0; i < q.rows; i++) m[i * c.rows + j] = -1;
        const indices = new Int32Array(q.rows * k);
        const scores = new Float32Array(q.rows * k);
        for (let i = 0; i < q.rows; i++) {
          const s = (j: number) => m[i * c.rows + j]!;
          const order = Array.from({ length: c.rows }, (_, j) => j).sort((a, b) => s(b) - s(a) || a - b);
          for (let t = 0; t < k; t++) {
            indices[i * k + t] = order[t]!;
            scores[i * k + t] = s(order[t]!);
          }
        }
        return { queries: q.rows, k, indices, scores };
      },
    }),
  },
  {
    name: 'a quantised corpusSearch ignores rows past 2,048',
    groups: ['stored corpora'],
    kernels: () => ({
      corpusSearch: (h, q, k) => {
        if ((h.storage ?? 'float32') === 'float32' || h.rows <= 2048) return r.corpusSearch(h, q, k);
        const allow = new Uint8Array(h.rows).fill(1, 0, 2048);
        return r.corpusSearchAllowed!(h, q, k, allow);
      },
    }),
  },
  {
    name: 'a re-ranked corpusSearch skips the re-rank when the pool passes 64 rows',
    groups: ['stored corpora'],
    kernels: () => ({
      corpusSearch: (h, q, k) => {
        if (
          (h.storage ?? 'float32') === 'float32' ||
          !((h as { rerank?: number }).rerank! > 0) ||
          3 * k <= 64
        )
          return r.corpusSearch(h, q, k);
        const bare = r.importCorpus!({
          ...(r.exportCorpus!(h) as StoredCorpus),
          rerank: 0,
          exact: null,
        }) as ResidentCorpus;
        try {
          return r.corpusSearch(bare, q, k);
        } finally {
          bare.dispose();
        }
      },
    }),
  },
  {
    name: "mergeCorpora keeps the first part's dropped rows",
    groups: ['stored corpora'],
    kernels: () => ({
      mergeCorpora: (parts, drop) =>
        r.mergeCorpora!(parts, [new Uint8Array(drop[0]!.length), ...drop.slice(1)]),
    }),
  },
  {
    name: 'softmaxCrossEntropy keeps only the entries whose byte is 1',
    groups: ['softmax'],
    kernels: () => ({
      softmaxCrossEntropy: (x, t, scale, weight, keep, out) =>
        r.softmaxCrossEntropy!(
          x,
          t,
          scale,
          weight,
          keep?.map((v) => (v === 1 ? 1 : 0)),
          out,
        ) as SoftmaxCrossEntropy,
    }),
  },
  {
    name: 'optimizerStep off by 1e-3 on arrays of a multiple of 16 values',
    groups: ['optimizer'],
    kernels: () => ({
      optimizerStep: (state, params, grads, rule) => {
        r.optimizerStep!(state, params, grads, rule);
        for (const p of params) if (p.length % 16 === 0) p[p.length - 1]! += 1e-3;
      },
    }),
  },
  {
    name: "Adam's betas and epsilon fixed at their defaults",
    groups: ['optimizer'],
    kernels: () => ({
      optimizerStep: (state, params, grads, rule) =>
        r.optimizerStep!(
          state,
          params,
          grads,
          rule.kind === 'adam' ? { ...rule, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 } : rule,
        ),
    }),
  },
  {
    name: 'createOptimizerState ignores the moments it is given',
    groups: ['optimizer'],
    kernels: () => ({
      createOptimizerState: (kind, sizes) => r.createOptimizerState!(kind, sizes) as OptimizerState,
    }),
  },
  {
    name: 'every kernel reads its inputs from the start of their buffers (a view’s offset ignored)',
    groups: ['views'],
    kernels: () => {
      const out: Record<string, unknown> = {};
      for (const [name, f] of Object.entries(r))
        out[name] = (...args: unknown[]) =>
          (f as (...a: unknown[]) => unknown)(
            ...args.map((a) =>
              a instanceof Object && (a as Matrix).data instanceof Float32Array && 'rows' in a
                ? {
                    ...(a as Matrix),
                    data: new Float32Array((a as Matrix).data.buffer, 0, (a as Matrix).data.length),
                  }
                : a,
            ),
          );
      return out as Partial<Kernels>;
    },
  },
  {
    name: 'cosineMatrix of a matrix with itself writes 1 on the diagonal, zero rows too',
    groups: ['cosineMatrix'],
    kernels: () => ({
      cosineMatrix: (a, b, out) => {
        const v = f32(r.cosineMatrix(a, b, out));
        if (a === b) for (let i = 0; i < a.rows; i++) v[i * a.rows + i] = 1;
        return v;
      },
    }),
  },
];

/** The reference with a `memory()` counting one engine object per call, which `leaky` never frees. */
function counting(leaky: string): Backend {
  let objects = 0;
  const base = createReferenceBackend();
  const kernels: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(r))
    kernels[name] = (...args: unknown[]) => {
      objects++;
      const out = (f as (...a: unknown[]) => unknown)(...args);
      if (name !== leaky) objects--;
      return out;
    };
  return {
    ...base,
    name: 'mutant',
    kernels: kernels as Partial<Kernels>,
    memory: () => ({ ...base.memory!(), objects }),
  };
}

const withKernels = (kernels: Partial<Kernels>) => (): Backend => ({
  name: 'mutant',
  kernels: { ...r, ...kernels },
});

/** Found by a second mutation probe: leaks and releases, one-query paths, stored forms, broadcasts. */
const MORE: { name: string; groups: string[]; backend: () => Backend }[] = [
  {
    name: 'columnSums (an optional kernel) leaks an engine object each call',
    groups: ['resources'],
    backend: () => counting('columnSums'),
  },
  {
    name: 'a corpus importCorpus makes is never released (its dispose() does nothing)',
    groups: ['resources'],
    backend: () => ({
      ...createReferenceBackend(),
      name: 'mutant',
      kernels: {
        ...r,
        importCorpus: (st) => {
          const h = r.importCorpus!(st) as ResidentCorpus;
          h.dispose = () => undefined;
          return h;
        },
      },
    }),
  },
  {
    name: 'corpusMatrix answers zeros for one query alone',
    groups: ['corpus'],
    backend: withKernels({
      corpusMatrix: (h, q, out) => {
        const v = f32(r.corpusMatrix(h, q, out));
        if (q.rows === 1) v.fill(0);
        return v;
      },
    }),
  },
  {
    name: 'corpusSearch scores one query alone 0.01 low',
    groups: ['corpus'],
    backend: withKernels({
      corpusSearch: (h, q, k) => {
        const t = topK(r.corpusSearch(h, q, k));
        return q.rows === 1 ? { ...t, scores: t.scores.map((v) => Math.max(-1, v - 0.01)) } : t;
      },
    }),
  },
  {
    name: 'addBias broadcasts down the columns of a square matrix',
    groups: ['addBias'],
    backend: withKernels({
      addBias: (x, bias, out) => {
        if (x.rows !== x.cols || x.rows < 2) return r.addBias(x, bias, out);
        const v = out ?? new Float32Array(x.rows * x.cols);
        for (let i = 0; i < x.rows; i++)
          for (let j = 0; j < x.cols; j++) v[i * x.cols + j] = x.data[i * x.cols + j]! + bias[i]!;
        return v;
      },
    }),
  },
  {
    name: 'exportCorpus says rerank 3 for a float32 corpus',
    groups: ['stored corpora'],
    backend: withKernels({
      exportCorpus: (h) => {
        const st = r.exportCorpus!(h) as StoredCorpus;
        return st.storage === 'float32' ? { ...st, rerank: 3 } : st;
      },
    }),
  },
  {
    name: 'normalizeRows scales a row of one value by 0.999',
    groups: ['normalizeRows'],
    backend: withKernels({
      normalizeRows: (x, out) => {
        const v = f32(r.normalizeRows(x, out));
        for (let i = 0; i < x.rows; i++) {
          let nonzero = 0;
          for (let j = 0; j < x.cols; j++) if (x.data[i * x.cols + j] !== 0) nonzero++;
          if (nonzero === 1) for (let j = 0; j < x.cols; j++) v[i * x.cols + j]! *= 0.999;
        }
        return v;
      },
    }),
  },
];

describe('the suite catches backends a second mutation probe found passing', () => {
  for (const m of MORE) {
    it(m.name, async () => {
      const outcomes = await runCases(
        await createContext(m.backend()),
        conformanceCases().filter((c) => m.groups.includes(c.group)),
      );
      expect(outcomes.filter((o) => o.error !== undefined).length, m.groups.join(', ')).toBeGreaterThan(0);
    });
  }

  it('checkDisposal: a backend whose dispose() refuses every kernel but leaves its corpora undisposed', async () => {
    const create = (): Backend => {
      let disposed = false;
      const kernels: Record<string, unknown> = {};
      for (const [name, f] of Object.entries(r))
        kernels[name] = (...args: unknown[]) => {
          if (disposed) disposedBackend(name as never);
          return (f as (...a: unknown[]) => unknown)(...args);
        };
      return {
        name: 'mutant',
        kernels: kernels as Partial<Kernels>,
        memory: () => ({ residentHandles: 0 }),
        dispose: () => {
          disposed = true;
        },
      };
    };
    await expect(checkDisposal(create)).rejects.toThrow(/disposed with it/);
  });
});

describe('the suite catches backends a mutation probe found it passing', () => {
  for (const m of MUTANTS) {
    it(m.name, async () => {
      const backend: Backend = { name: 'mutant', kernels: { ...r, ...m.kernels() } };
      const outcomes = await runCases(
        await createContext(backend),
        conformanceCases().filter((c) => m.groups.includes(c.group)),
      );
      const failed = outcomes.filter((o) => o.error !== undefined);
      expect(failed.length, `no case of ${m.groups.join(', ')} failed`).toBeGreaterThan(0);
    });
  }
});

/** A resizable buffer (ES2024; this project's lib predates it) of `bytes`, able to grow to twice that. */
function resizable(bytes: number): ArrayBuffer & { resize(n: number): void } {
  return new (
    ArrayBuffer as unknown as new (
      n: number,
      o: { maxByteLength: number },
    ) => ArrayBuffer & { resize(n: number): void }
  )(bytes, { maxByteLength: 2 * bytes });
}

/** `a` copied onto a resizable buffer that grows a tick after it is handed over. */
function onResizable(a: Float32Array): Float32Array {
  const b = resizable(a.byteLength);
  const v = new Float32Array(b);
  v.set(a);
  setTimeout(() => b.resize(2 * a.byteLength), 0);
  return v;
}

describe('the suite catches backends that change an answer after handing it over (a third-party probe found each passing)', () => {
  const later = (f: () => void) => setTimeout(f, 1);
  const LATE: { name: string; groups: string[]; kernels: Partial<Kernels>; message: RegExp }[] = [
    {
      name: 'cosineMatrix overwrites its answer a tick later (a recycled read-back buffer)',
      groups: ['cosineMatrix'],
      kernels: {
        cosineMatrix: (a, b, out) => {
          const v = f32(r.cosineMatrix(a, b, out));
          later(() => v.fill(0.125));
          return v;
        },
      },
      message: /cosineMatrix: wrote its answer after handing it over/,
    },
    {
      name: 'topK rewrites its scores a tick later',
      groups: ['topK'],
      kernels: {
        topK: (q, x, k) => {
          const t = topK(r.topK(q, x, k));
          later(() => t.scores.fill(0.5));
          return t;
        },
      },
      message: /topK: wrote its answer after handing it over \(scores\[/,
    },
    {
      name: 'exportCorpus overwrites the rows it exported (a file saved from them was wrong for good)',
      groups: ['stored corpora'],
      kernels: {
        exportCorpus: (h) => {
          const st = r.exportCorpus!(h) as StoredCorpus;
          const exact = st.exact ? Float32Array.from(st.exact) : null;
          later(() => exact?.fill(0.5));
          return { ...st, exact };
        },
      },
      message: /exportCorpus: wrote its answer after handing it over \(exact\[/,
    },
    {
      name: 'cosineRows answers on a resizable buffer that grows (the caller saw its result change length)',
      groups: ['cosineRows'],
      kernels: {
        cosineRows: (a, b, out) => (out ? r.cosineRows(a, b, out) : onResizable(f32(r.cosineRows(a, b)))),
      },
      message: /cosineRows: answered result on a resizable buffer/,
    },
  ];
  for (const m of LATE) {
    it(m.name, async () => {
      const backend: Backend = { name: 'mutant', kernels: { ...r, ...m.kernels } };
      const outcomes = await runCases(
        await createContext(backend),
        conformanceCases().filter((c) => m.groups.includes(c.group)),
      );
      const failed = outcomes.filter((o) => o.error !== undefined);
      expect(failed.length, `no case of ${m.groups.join(', ')} failed`).toBeGreaterThan(0);
      expect(failed.map((o) => o.error!.message)).toContainEqual(expect.stringMatching(m.message));
    });
  }
});

describe('the suite catches ungated kernels that are right only in their first 64 rows (a third-party probe found each passing)', () => {
  /** `x` with the values of rows from 64 on that are not finite replaced by 0 (checked in its first tile alone). */
  const firstTile = (x: Matrix): Matrix => ({
    data: x.data.map((v, i) => (i >= 64 * x.cols && !Number.isFinite(v) ? 0 : v)),
    rows: x.rows,
    cols: x.cols,
  });
  /** Row i's float32 sum of squares, overflowing as a naive kernel's does. */
  const naiveSquares = (x: Matrix, i: number) => {
    let s = Math.fround(0);
    for (let j = 0; j < x.cols; j++) s = Math.fround(s + Math.fround(x.data[i * x.cols + j]! ** 2));
    return s;
  };
  const UNGATED: { name: string; kernels: Partial<Kernels>; ungated: ('cosineRows' | 'createCorpus')[] }[] = [
    {
      name: 'cosineRows: NaN past row 64 answered as a finite cosine',
      ungated: ['cosineRows'],
      kernels: { cosineRows: (a, b, out) => r.cosineRows(firstTile(a), firstTile(b), out) },
    },
    {
      name: 'cosineRows: rows past 64 whose squares overflow float32 answered 0',
      ungated: ['cosineRows'],
      kernels: {
        cosineRows: (a, b, out) => {
          const v = f32(r.cosineRows(a, b, out));
          for (let i = 64; i < a.rows; i++) if (!Number.isFinite(naiveSquares(a, i))) v[i] = 0;
          return v;
        },
      },
    },
    {
      name: 'createCorpus: NaN past row 64 stored as 0',
      ungated: ['createCorpus'],
      kernels: { createCorpus: (x, o) => r.createCorpus!(firstTile(x), o) },
    },
  ];
  for (const m of UNGATED) {
    it(m.name, async () => {
      const backend: Backend = { name: 'mutant', kernels: { ...r, ...m.kernels }, ungated: m.ungated };
      const outcomes = await runCases(
        await createContext(backend),
        conformanceCases().filter((c) => c.group === 'ungated kernels'),
      );
      expect(outcomes.filter((o) => o.error !== undefined).length).toBeGreaterThan(0);
    });
  }
});

describe('the suite catches leaks on paths its leak cases once left out (a third-party probe found each passing)', () => {
  /** The reference whose `cosineMatrix` leaks an engine object on calls `leaks` picks. */
  const leaking = (leaks: (a: Matrix, out: Float32Array | undefined) => boolean): Backend => {
    let objects = 0;
    const base = createReferenceBackend();
    return {
      ...base,
      name: 'mutant',
      kernels: {
        ...r,
        cosineMatrix: (a, b, out) => {
          if (leaks(a, out)) objects++;
          return r.cosineMatrix(a, b, out);
        },
      },
      memory: () => ({ ...base.memory!(), objects }),
    };
  };
  for (const [name, leaks] of [
    ['only when given out', (_a: Matrix, out: Float32Array | undefined) => out !== undefined],
    ['only for rows of 256 values or more', (a: Matrix) => a.cols >= 256],
  ] as const) {
    it(`cosineMatrix leaks ${name}`, async () => {
      const outcomes = await runCases(
        await createContext(leaking(leaks)),
        conformanceCases().filter((c) => c.group === 'resources'),
      );
      const failed = outcomes.filter((o) => o.error !== undefined);
      expect(failed.length).toBeGreaterThan(0);
      expect(failed.map((o) => o.error!.message)).toContainEqual(expect.stringMatching(/cosineMatrix/));
    });
  }
});

describe("the suite's own bookkeeping", () => {
  it("a case handing a kernel the caller's own out on a resizable buffer does not blame the backend", async () => {
    const ctx = await createContext(createReferenceBackend());
    const x = { data: Float32Array.of(3, 4, 6, 8), rows: 2, cols: 2 };
    const out = new Float32Array(
      new (ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer)(8, {
        maxByteLength: 64,
      }),
    );
    const c = defineCase('bookkeeping', 'resizable out', 'rowNorms', async (context) => {
      await context.kernels.rowNorms(x, out);
    });
    await expect(c.run(ctx)).resolves.toBeUndefined();
    expect(Array.from(out)).toEqual([5, 10]);
  });
});
