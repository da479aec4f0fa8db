import { type CosineKit, createCosineKit, Tensor } from '@cosinekit/core';
import {
  ACTIVATIONS,
  type Backend,
  type KernelName,
  type Kernels,
  type Matrix,
  resolveKernels,
} from '@cosinekit/core/backend';
import { assertClose, assertRejects, check, fail } from './assert.js';
import { randomTensor, withZeroRow } from './data.js';
import { act64, actGrad64, cosineMatrix64, matmul64, norms64, topK64 } from './oracle.js';

/** Tolerances a backend is held to. Both are capped so that a result off by 1e-3 always fails. */
export interface Tolerance {
  /** Absolute error allowed on cosines and normalised components. Default 2e-5. */
  cosine?: number;
  /** Relative error allowed on norms, products (relative to Σ|a·b|) and activations. Default 1e-5. */
  algebra?: number;
}

/** Largest tolerance accepted: anything looser could hide a 1e-3 error. */
export const MAX_TOLERANCE = 5e-4;

/** Everything a check needs: the backend under test, its resolved kernels, and a kit bound to it. */
export interface ConformanceContext {
  readonly backend: Backend;
  /** The backend's kernels completed with the reference (see `providers`). */
  readonly kernels: Kernels;
  readonly providers: Readonly<Record<KernelName, string>>;
  readonly kit: CosineKit;
  readonly tol: Required<Tolerance>;
}

/** One conformance check. `kernel` names the kernel it proves, when it proves one. */
export interface ConformanceCase {
  readonly group: string;
  readonly name: string;
  readonly kernel?: KernelName;
  run(ctx: ConformanceContext): Promise<void>;
}

/** Initialises `backend` and builds the context the checks run in. */
export async function createContext(
  backend: Backend,
  tolerance: Tolerance = {},
): Promise<ConformanceContext> {
  const tol = { cosine: tolerance.cosine ?? 2e-5, algebra: tolerance.algebra ?? 1e-5 };
  for (const [k, v] of Object.entries(tol)) {
    if (!(v > 0 && v <= MAX_TOLERANCE)) {
      throw new RangeError(`tolerance.${k} must be in (0, ${MAX_TOLERANCE}]; got ${v}`);
    }
  }
  const kit = createCosineKit({ backend });
  await kit.ready();
  const { kernels, providers } = resolveKernels(backend);
  return { backend, kernels, providers, kit, tol };
}

/** The awkward widths every cosine kernel is checked on. */
export const DIMS = [1, 3, 5, 17, 64, 1536] as const;
/** Row counts: one row, small odd counts, and counts that are not a multiple of any tile. */
const ROWS = [1, 5, 37] as const;

let seed = 1;
const nextSeed = () => seed++;

/** Seeded random inputs, half of them shifted so that cosines spread over [-1, 1]. */
function data(rows: number, cols: number, shift = 0.3): Tensor {
  return randomTensor(rows, cols, nextSeed(), seed % 2 === 0 ? shift : 0);
}

const f32 = (n: number) => new Float32Array(n);

/** Awaits a kernel and checks it honoured `out` when one was given. */
async function withOut(
  what: string,
  length: number,
  call: (out: Float32Array | undefined) => Float32Array | Promise<Float32Array>,
): Promise<Float32Array> {
  const plain = await call(undefined);
  check(plain instanceof Float32Array, `${what}: must return a Float32Array`);
  check(plain.length === length, `${what}: returned length ${plain.length}, expected ${length}`);
  const out = f32(length).fill(Number.NaN);
  const got = await call(out);
  for (let i = 0; i < length; i++) {
    if (!(out[i] === got[i])) fail(`${what}: the result was not written to 'out' (index ${i})`);
  }
  return plain;
}

function cosineCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  for (const d of DIMS) {
    cases.push({
      group: 'rowNorms',
      kernel: 'rowNorms',
      name: `rows of dimension ${d} (one row, odd counts, a zero row)`,
      async run({ kernels, tol }) {
        for (const r of ROWS) {
          const x = r > 1 ? withZeroRow(data(r, d), r - 1) : data(r, d);
          const want = norms64(x);
          const got = await withOut('rowNorms', r, (o) => kernels.rowNorms(x, o));
          assertClose(`rowNorms [${r}x${d}]`, got, want, (i) => tol.algebra * want[i] + 1e-30);
        }
      },
    });
    cases.push({
      group: 'normalizeRows',
      kernel: 'normalizeRows',
      name: `rows of dimension ${d}, zero rows stay zero`,
      async run({ kernels, tol }) {
        for (const r of ROWS) {
          const x = r > 1 ? withZeroRow(data(r, d), 0) : data(r, d);
          const n = norms64(x);
          const want = new Float64Array(r * d);
          for (let i = 0; i < r * d; i++) {
            const nr = n[Math.floor(i / d)];
            want[i] = nr > 0 ? x.data[i] / nr : 0;
          }
          const got = await withOut('normalizeRows', r * d, (o) => kernels.normalizeRows(x, o));
          assertClose(`normalizeRows [${r}x${d}]`, got, want, () => tol.cosine);
        }
      },
    });
    cases.push({
      group: 'cosineRows',
      kernel: 'cosineRows',
      name: `paired rows of dimension ${d}, with a zero row and a parallel pair`,
      async run({ kernels, tol }) {
        for (const r of ROWS) {
          const a = data(r, d);
          let b = data(r, d);
          if (r > 1) {
            b = withZeroRow(b, 1);
            // Row 0 of b is a positive multiple of row 0 of a: cosine exactly 1 before rounding.
            for (let j = 0; j < d; j++) b.data[j] = a.data[j] * 3;
          }
          const want = new Float64Array(r);
          const wantM = cosineMatrix64(a, b);
          for (let i = 0; i < r; i++) want[i] = wantM[i * r + i];
          const got = await withOut('cosineRows', r, (o) => kernels.cosineRows(a, b, o));
          assertClose(`cosineRows [${r}x${d}]`, got, want, () => tol.cosine);
          for (const v of got) check(v >= -1 && v <= 1, `cosineRows: ${v} is outside [-1, 1]`);
        }
      },
    });
    cases.push({
      group: 'cosineMatrix',
      kernel: 'cosineMatrix',
      name: `${ROWS.join('/')} x 1/19/67 rows of dimension ${d}`,
      async run({ kernels, tol }) {
        for (const [m, n] of [
          [1, 1],
          [5, 19],
          [37, 67],
        ] as const) {
          const a = m > 1 ? withZeroRow(data(m, d), 2) : data(m, d);
          const b = n > 1 ? withZeroRow(data(n, d), n - 1) : data(n, d);
          const want = cosineMatrix64(a, b);
          const got = await withOut('cosineMatrix', m * n, (o) => kernels.cosineMatrix(a, b, o));
          assertClose(`cosineMatrix [${m}x${d}]·[${n}x${d}]ᵀ`, got, want, () => tol.cosine);
          for (const v of got) check(v >= -1 && v <= 1, `cosineMatrix: ${v} is outside [-1, 1]`);
        }
      },
    });
  }
  cases.push({
    group: 'cosineMatrix',
    kernel: 'cosineMatrix',
    name: 'identical rows give 1 and opposite rows give -1, within the tolerance and never beyond',
    async run({ kernels, tol }) {
      const a = data(3, 129);
      const b = new Tensor(new Float32Array(3 * 129), 3, 129);
      for (let j = 0; j < 129; j++) {
        b.data[j] = a.data[j];
        b.data[129 + j] = -a.data[129 + j];
        b.data[258 + j] = a.data[258 + j] * 1e3;
      }
      const got = await kernels.cosineMatrix(a, b);
      assertClose('cosineMatrix diagonal', [got[0], got[4], got[8]], [1, -1, 1], () => tol.cosine);
      for (const v of got) check(v >= -1 && v <= 1, `cosineMatrix: ${v} is outside [-1, 1]`);
    },
  });
  return cases;
}

/** Checks a top-k answer against the float64 oracle, allowing swaps only between near-equal scores. */
export function checkTopK(
  what: string,
  got: { queries: number; k: number; indices: Int32Array; scores: Float32Array },
  q: Matrix,
  c: Matrix,
  k: number,
  tol: number,
): void {
  check(
    got.queries === q.rows && got.k === k,
    `${what}: result is ${got.queries}x${got.k}, expected ${q.rows}x${k}`,
  );
  check(got.indices.length === q.rows * k, `${what}: indices has length ${got.indices.length}`);
  check(got.scores.length === q.rows * k, `${what}: scores has length ${got.scores.length}`);
  const want = topK64(q, c, k);
  const all = cosineMatrix64(q, c);
  for (let i = 0; i < q.rows; i++) {
    const seen = new Set<number>();
    for (let r = 0; r < k; r++) {
      const idx = got.indices[i * k + r];
      const s = got.scores[i * k + r];
      check(
        Number.isInteger(idx) && idx >= 0 && idx < c.rows,
        `${what}: query ${i} rank ${r}: index ${idx} out of range`,
      );
      check(!seen.has(idx), `${what}: query ${i}: index ${idx} returned twice`);
      seen.add(idx);
      const truth = all[i * c.rows + idx];
      check(
        Math.abs(s - truth) <= tol,
        `${what}: query ${i} rank ${r}: score ${s} for row ${idx}, true cosine ${truth}`,
      );
      check(
        Math.abs(truth - want.scores[i][r]) <= 2 * tol,
        `${what}: query ${i} rank ${r}: row ${idx} (cosine ${truth}) but rank ${r} should hold row ${want.indices[i][r]} (cosine ${want.scores[i][r]})`,
      );
      if (r > 0) {
        const prev = got.scores[i * k + r - 1];
        check(prev >= s, `${what}: query ${i}: scores not best first at rank ${r} (${prev} < ${s})`);
      }
    }
  }
}

function searchCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  const shapes = [
    { q: 1, n: 1, d: 1, k: 1 },
    { q: 3, n: 17, d: 3, k: 17 },
    { q: 5, n: 300, d: 5, k: 1 },
    { q: 7, n: 517, d: 17, k: 10 },
    { q: 2, n: 1000, d: 1536, k: 25 },
    { q: 33, n: 257, d: 64, k: 257 },
  ];
  for (const s of shapes) {
    const label = `${s.q} queries x ${s.n} rows x d=${s.d}, k=${s.k}`;
    cases.push({
      group: 'topK',
      kernel: 'topK',
      name: label,
      async run({ kernels, tol }) {
        const q = data(s.q, s.d);
        const c = data(s.n, s.d);
        checkTopK(`topK ${label}`, await kernels.topK(q, c, s.k), q, c, s.k, tol.cosine);
      },
    });
    cases.push({
      group: 'corpus',
      kernel: 'corpusSearch',
      name: `resident search: ${label}`,
      async run({ kernels, backend, tol }) {
        const q = data(s.q, s.d);
        const c = data(s.n, s.d);
        const h = await kernels.createCorpus(c);
        try {
          check(
            h.rows === s.n && h.cols === s.d,
            `createCorpus: handle is ${h.rows}x${h.cols}, expected ${s.n}x${s.d}`,
          );
          check(!h.disposed, 'createCorpus: a new handle says it is disposed');
          const owner = resolveKernels(backend).providers.createCorpus;
          check(h.backend === owner, `createCorpus: handle.backend is '${h.backend}', expected '${owner}'`);
          checkTopK(`corpusSearch ${label}`, await kernels.corpusSearch(h, q, s.k), q, c, s.k, tol.cosine);
          // The same corpus answers again, without being re-uploaded.
          checkTopK(
            `corpusSearch (second call) ${label}`,
            await kernels.corpusSearch(h, q, s.k),
            q,
            c,
            s.k,
            tol.cosine,
          );
        } finally {
          h.dispose();
        }
        check(h.disposed, 'corpus.dispose(): handle does not say it is disposed');
      },
    });
  }
  for (const d of [1, 5, 17, 1536]) {
    cases.push({
      group: 'corpus',
      kernel: 'corpusMatrix',
      name: `resident cosine matrix, d=${d}, with zero rows on both sides`,
      async run({ kernels, tol }) {
        const q = withZeroRow(data(9, d), 4);
        const c = withZeroRow(data(70, d), 69);
        const h = await kernels.createCorpus(c);
        try {
          const want = cosineMatrix64(q, c);
          const got = await withOut('corpusMatrix', 9 * 70, (o) => kernels.corpusMatrix(h, q, o));
          assertClose(`corpusMatrix [9x${d}]·[70x${d}]ᵀ`, got, want, () => tol.cosine);
        } finally {
          h.dispose();
        }
      },
    });
  }
  cases.push({
    group: 'corpus',
    kernel: 'createCorpus',
    name: 'readCorpus (when implemented) returns the normalised rows',
    async run({ kernels, tol }) {
      if (!kernels.readCorpus) return;
      const c = withZeroRow(data(13, 17), 5);
      const h = await kernels.createCorpus(c);
      try {
        const n = norms64(c);
        const want = Array.from(c.data, (v, i) =>
          n[Math.floor(i / 17)] > 0 ? v / n[Math.floor(i / 17)] : 0,
        );
        assertClose('readCorpus', await kernels.readCorpus(h), want, () => tol.cosine);
      } finally {
        h.dispose();
      }
    },
  });
  for (const storage of ['int8', 'float16'] as const) {
    cases.push({
      group: 'corpus',
      kernel: 'createCorpus',
      name: `${storage} storage, when accepted: reported honestly, recall@10 >= 0.99 with re-ranking`,
      async run({ kernels }) {
        const c = data(1500, 48);
        const q = data(8, 48);
        let h: Awaited<ReturnType<Kernels['createCorpus']>>;
        try {
          h = await kernels.createCorpus(c, { storage, rerank: 4 });
        } catch (e) {
          check(
            (e as { code?: string }).code === 'UNSUPPORTED',
            `createCorpus(${storage}): must accept it or throw UNSUPPORTED, threw ${String(e)}`,
          );
          return;
        }
        try {
          check(
            (h.storage ?? 'float32') === storage,
            `createCorpus(${storage}): handle says '${h.storage ?? 'float32'}'`,
          );
          const got = await kernels.corpusSearch(h, q, 10);
          const want = topK64(q, c, 10);
          let hit = 0;
          for (let i = 0; i < 8; i++) {
            const w = new Set(want.indices[i]);
            for (let r = 0; r < 10; r++) if (w.has(got.indices[i * 10 + r])) hit++;
          }
          check(hit / 80 >= 0.99, `${storage} corpus: recall@10 ${hit / 80} < 0.99 with rerank 4`);
        } finally {
          h.dispose();
        }
      },
    });
  }
  cases.push({
    group: 'topK',
    kernel: 'topK',
    name: 'ties are broken by the lower index (duplicate rows, a zero query)',
    async run({ kernels }) {
      const base = data(1, 24);
      const c = new Tensor(new Float32Array(40 * 24), 40, 24);
      // Rows 3, 11, 20 and 37 are the same vector; everything else is random.
      const other = data(40, 24);
      c.data.set(other.data);
      for (const r of [3, 11, 20, 37]) c.data.set(base.data, r * 24);
      const got = await kernels.topK(base, c, 4);
      check(
        [...got.indices].join() === '3,11,20,37',
        `topK ties: expected rows 3,11,20,37 in that order, got ${[...got.indices].join()}`,
      );
      const zero = new Tensor(new Float32Array(24), 1, 24);
      const z = await kernels.topK(zero, c, 5);
      check(
        [...z.indices].join() === '0,1,2,3,4',
        `topK zero query: expected rows 0..4 (all cosines 0), got ${[...z.indices].join()}`,
      );
      check(
        [...z.scores].every((v) => v === 0),
        `topK zero query: scores must be 0, got ${[...z.scores].join()}`,
      );
      const h = await kernels.createCorpus(c);
      try {
        const r = await kernels.corpusSearch(h, base, 4);
        check([...r.indices].join() === '3,11,20,37', `corpusSearch ties: got ${[...r.indices].join()}`);
      } finally {
        h.dispose();
      }
    },
  });
  return cases;
}

function algebraCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  const shapes = [
    [1, 1, 1],
    [3, 5, 7],
    [17, 33, 9],
    [64, 129, 31],
    [2, 1536, 3],
  ] as const;
  for (const [m, k, n] of shapes) {
    for (const ta of [false, true]) {
      for (const tb of [false, true]) {
        cases.push({
          group: 'matmul',
          kernel: 'matmul',
          name: `${m}x${k} · ${k}x${n}, transA=${ta}, transB=${tb}`,
          async run({ kernels, tol }) {
            const a = ta ? data(k, m) : data(m, k);
            const b = tb ? data(n, k) : data(k, n);
            const { c, scale } = matmul64(a, b, ta, tb);
            const got = await withOut('matmul', m * n, (o) => kernels.matmul(a, b, ta, tb, o));
            assertClose(`matmul ${m}x${k}x${n} (${ta},${tb})`, got, c, (i) => tol.algebra * scale[i] + 1e-30);
          },
        });
      }
    }
  }
  cases.push({
    group: 'addBias',
    kernel: 'addBias',
    name: 'bias broadcast over 1, 7 and 33 rows of odd widths',
    async run({ kernels, tol }) {
      for (const [r, c] of [
        [1, 1],
        [7, 5],
        [33, 129],
      ] as const) {
        const x = data(r, c);
        const bias = data(1, c).data;
        const want = new Float64Array(r * c);
        for (let i = 0; i < r * c; i++) want[i] = x.data[i] + bias[i % c];
        const got = await withOut('addBias', r * c, (o) => kernels.addBias(x, bias, o));
        assertClose(
          `addBias [${r}x${c}]`,
          got,
          want,
          (i) => tol.algebra * (Math.abs(x.data[i]) + Math.abs(bias[i % c])) + 1e-30,
        );
      }
    },
  });
  for (const kind of ACTIVATIONS) {
    cases.push({
      group: 'activation',
      kernel: 'activation',
      name: `${kind}: f(x) on [-6, 6] and on 0`,
      async run({ kernels, tol }) {
        const x = randomTensor(7, 33, nextSeed());
        for (let i = 0; i < x.data.length; i++) x.data[i] *= 6;
        x.data[0] = 0;
        const want = Array.from(x.data, (v) => act64(kind, v));
        const got = await withOut(`activation(${kind})`, x.data.length, (o) =>
          kernels.activation(kind, x, o),
        );
        assertClose(`activation(${kind})`, got, want, (i) => tol.algebra * Math.max(1, Math.abs(want[i])));
      },
    });
    cases.push({
      group: 'activation',
      kernel: 'activationGrad',
      name: `${kind}: dy · f'(x) against a float64 central difference`,
      async run({ kernels, tol }) {
        const x = randomTensor(5, 17, nextSeed());
        for (let i = 0; i < x.data.length; i++) x.data[i] *= 4;
        const dy = randomTensor(5, 17, nextSeed());
        const want = Array.from(x.data, (v, i) => dy.data[i] * actGrad64(kind, v));
        const got = await withOut(`activationGrad(${kind})`, x.data.length, (o) =>
          kernels.activationGrad(kind, x, dy, o),
        );
        // The central difference itself is good to about 1e-9; the float32 result dominates.
        assertClose(
          `activationGrad(${kind})`,
          got,
          want,
          (i) => tol.algebra * Math.max(1, Math.abs(want[i])) + 1e-7,
        );
      },
    });
  }
  return cases;
}

function apiCases(): ConformanceCase[] {
  const api = (name: string, run: (ctx: ConformanceContext) => Promise<void>): ConformanceCase => ({
    group: 'public API on this backend',
    name,
    run,
  });
  return [
    api('results through the kit match the kernels', async ({ kit, tol }) => {
      const a = data(6, 33);
      const b = data(11, 33);
      const m = await kit.cosineMatrix(a, b);
      check(m.rows === 6 && m.cols === 11, `cosineMatrix: shape ${m.shape}`);
      assertClose('kit.cosineMatrix', m.data, cosineMatrix64(a, b), () => tol.cosine);
      const corpus = await kit.corpus(b);
      try {
        const s = await corpus.similarity(a);
        assertClose('corpus.similarity', s.data, cosineMatrix64(a, b), () => tol.cosine);
        const r = await corpus.search(a, 3);
        checkTopK('corpus.search', r, a, b, 3, tol.cosine);
        check(r.hits(5).indices.length === 3, 'SearchResult.hits(q) must give k hits');
      } finally {
        corpus.dispose();
      }
    }),
    api('mismatched dimensions are rejected naming the argument and the operation', async ({ kit }) => {
      const a = data(2, 4);
      const b = data(2, 5);
      await assertRejects('cosineMatrix', () => kit.cosineMatrix(a, b), 'DIMENSION_MISMATCH', {
        op: 'cosineMatrix',
        arg: 'b',
      });
      await assertRejects('cosineRows', () => kit.cosineRows(a, data(3, 4)), 'DIMENSION_MISMATCH', {
        op: 'cosineRows',
        arg: 'b',
      });
      await assertRejects('topK', () => kit.topK(a, b, 1), 'DIMENSION_MISMATCH', {
        op: 'topK',
        arg: 'queries',
      });
      const c = await kit.corpus(b);
      try {
        await assertRejects('search', () => c.search(a, 1), 'DIMENSION_MISMATCH', {
          op: 'search',
          arg: 'queries',
        });
      } finally {
        c.dispose();
      }
    }),
    api('empty inputs, NaN and Infinity are rejected', async ({ kit }) => {
      await assertRejects('empty', () => kit.cosineMatrix([], [[1]]), 'EMPTY_INPUT', {
        op: 'cosineMatrix',
        arg: 'a',
      });
      await assertRejects('empty row', () => kit.normalize([[]]), 'EMPTY_INPUT', { op: 'normalize' });
      await assertRejects('NaN', () => kit.cosineMatrix([[1, Number.NaN]], [[1, 2]]), 'NON_FINITE', {
        op: 'cosineMatrix',
        arg: 'a',
      });
      await assertRejects(
        'Infinity',
        () => kit.cosineRows([[1, 2]], [[Number.POSITIVE_INFINITY, 2]]),
        'NON_FINITE',
        {
          op: 'cosineRows',
          arg: 'b',
        },
      );
      await assertRejects('corpus NaN', () => kit.corpus([[0, Number.NaN]]), 'NON_FINITE', {
        op: 'corpus',
        arg: 'rows',
      });
    }),
    api('k out of range, non-integer or not a number is rejected', async ({ kit }) => {
      const q = data(1, 8);
      const c = data(10, 8);
      for (const k of [0, -1, 11, 2.5, Number.NaN]) {
        await assertRejects(`topK k=${k}`, () => kit.topK(q, c, k), 'INVALID_K', { op: 'topK', arg: 'k' });
      }
      await assertRejects('topK k="3"', () => kit.topK(q, c, '3' as unknown as number), 'INVALID_K', {
        op: 'topK',
        arg: 'k',
      });
      const corpus = await kit.corpus(c);
      try {
        await assertRejects('search k=11', () => corpus.search(q, 11), 'INVALID_K', {
          op: 'search',
          arg: 'k',
        });
        const all = await corpus.search(q, 10);
        check(new Set(all.indices).size === 10, 'search k=N must return every row once');
      } finally {
        corpus.dispose();
      }
    }),
    api('wrong dtypes and shapes are rejected', async ({ kit }) => {
      const f64 = new Float64Array(4) as unknown as Float32Array;
      await assertRejects('Float64Array', () => kit.cosineMatrix(f64, [[1, 2, 3, 4]]), 'INVALID_TYPE', {
        op: 'cosineMatrix',
        arg: 'a',
      });
      await assertRejects('ragged', () => kit.cosineMatrix([[1, 2], [3]], [[1, 2]]), 'SHAPE_MISMATCH', {
        op: 'cosineMatrix',
      });
      await assertRejects('string', () => kit.normalize('abc' as never), 'INVALID_TYPE', {
        op: 'normalize',
        arg: 'x',
      });
    }),
    api(
      'a disposed corpus or tensor is rejected; a corpus disposed mid-search finishes that search',
      async ({ kit }) => {
        const c = await kit.corpus(data(20, 8));
        const q = data(2, 8);
        const pending = c.search(q, 3);
        c.dispose();
        const r = await pending;
        check(r.indices.length === 6, 'a search started before dispose() must complete');
        await assertRejects('search after dispose', () => c.search(q, 3), 'DISPOSED', { op: 'search' });
        await assertRejects('similarity after dispose', () => c.similarity(q), 'DISPOSED', {
          op: 'similarity',
        });
        const t = data(2, 8);
        t.dispose();
        await assertRejects('disposed tensor', () => kit.cosineMatrix(t, q), 'DISPOSED', {
          op: 'cosineMatrix',
          arg: 'a',
        });
      },
    ),
    api('the cosine of a zero vector is 0 everywhere', async ({ kit }) => {
      const z = [[0, 0, 0]];
      const v = [[1, 2, 3]];
      check((await kit.cosineRows(z, v))[0] === 0, 'cosineRows(zero, v) must be 0');
      check((await kit.cosineMatrix(v, z)).data[0] === 0, 'cosineMatrix(v, zero) must be 0');
      check((await kit.cosineMatrix(z, z)).data[0] === 0, 'cosineMatrix(zero, zero) must be 0');
      check(
        [...(await kit.normalize(z)).data].every((x) => x === 0),
        'normalize(zero) must be zeros',
      );
    }),
  ];
}

function memoryCases(): ConformanceCase[] {
  return [
    {
      group: 'resources',
      name: 'corpora created and disposed 50 times leave backend memory where it started',
      async run({ backend, kernels }) {
        const before = backend.memory?.();
        const c = data(64, 33);
        const q = data(3, 33);
        for (let i = 0; i < 50; i++) {
          const h = await kernels.createCorpus(c);
          await kernels.corpusSearch(h, q, 5);
          await kernels.corpusMatrix(h, q);
          h.dispose();
          h.dispose(); // idempotent
        }
        const after = backend.memory?.();
        if (before && after) {
          check(
            after.residentHandles === before.residentHandles,
            `resident handles ${before.residentHandles} -> ${after.residentHandles}`,
          );
          check(
            after.objects === before.objects,
            `engine objects ${before.objects} -> ${after.objects}: a kernel leaks`,
          );
          check(after.bytes === before.bytes, `bytes held ${before.bytes} -> ${after.bytes}: a kernel leaks`);
        }
      },
    },
    {
      group: 'resources',
      name: 'every kernel, run once, leaves engine objects and bytes where they started',
      async run({ backend, kernels }) {
        const a = data(5, 17);
        const b = data(9, 17);
        const runAll = async () => {
          await kernels.rowNorms(a);
          await kernels.normalizeRows(a);
          await kernels.cosineRows(a, a);
          await kernels.cosineMatrix(a, b);
          await kernels.topK(a, b, 3);
          await kernels.matmul(a, b, false, true);
          await kernels.addBias(a, b.data.subarray(0, 17));
          for (const kind of ACTIVATIONS) {
            await kernels.activation(kind, a);
            await kernels.activationGrad(kind, a, a);
          }
        };
        await runAll(); // first call may compile and cache programs
        const before = backend.memory?.();
        await runAll();
        const after = backend.memory?.();
        if (before && after) {
          check(
            after.objects === before.objects,
            `engine objects ${before.objects} -> ${after.objects}: a kernel leaks`,
          );
          check(after.bytes === before.bytes, `bytes held ${before.bytes} -> ${after.bytes}: a kernel leaks`);
        }
      },
    },
  ];
}

/** Every conformance check, in a stable order. */
export function conformanceCases(): ConformanceCase[] {
  seed = 1;
  return [...cosineCases(), ...searchCases(), ...algebraCases(), ...apiCases(), ...memoryCases()];
}
