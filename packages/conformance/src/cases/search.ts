import { Tensor } from '@cosinekit/core';
import { errorText, type Kernels, type Matrix, resolveKernels } from '@cosinekit/core/backend';
import { assertClose, check } from '../assert.js';
import { withZeroRow } from '../data.js';
import { cosineMatrix64, norms64, topK64 } from '../oracle.js';
import { type CaseData, type ConformanceCase, defineCase, withOut } from './context.js';

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
      // Within the tolerance of ±1 is not enough: the contract clamps every cosine (1.0000001
      // for a row parallel to the query passed).
      check(s >= -1 && s <= 1, `${what}: query ${i} rank ${r}: score ${s} is outside [-1, 1]`);
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

/**
 * The error the contract allows a quantised score of query `i` against row `j` (see
 * `CorpusStorage`): `2^-11 + sqrt(d) 2^-25` for float16; for int8 `e(x) + e(q) + e(x) e(q)` with
 * `e(v) = sqrt(d) max_p |v_p| / 254` of the normalised row (an engine may quantise the query too).
 * Float32 rounding comes on top (the caller adds its tolerance). A zero row scores exactly 0.
 */
function quantisedBound(storage: 'int8' | 'float16', q: Matrix, c: Matrix): (i: number, j: number) => number {
  const d = q.cols;
  if (storage === 'float16') {
    const e = 2 ** -11 + Math.sqrt(d) * 2 ** -25;
    return () => e;
  }
  const err = (x: Matrix) => {
    const n = norms64(x);
    return Float64Array.from({ length: x.rows }, (_, i) => {
      let m = 0;
      for (let p = 0; p < d; p++) m = Math.max(m, Math.abs(x.data[i * d + p]));
      return n[i] > 0 ? (Math.sqrt(d) * (m / n[i])) / 254 : 0;
    });
  };
  const eq = err(q);
  const ec = err(c);
  return (i, j) => ec[j] + eq[i] + ec[j] * eq[i];
}

/** Top-k on plain matrices, and the resident-corpus kernels. */
export function searchCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  const shapes = [
    { q: 1, n: 1, d: 1, k: 1 },
    { q: 3, n: 17, d: 3, k: 17 },
    { q: 5, n: 300, d: 5, k: 1 },
    { q: 7, n: 517, d: 17, k: 10 },
    // One query alone (a path of its own in many engines), past a tile of 256 rows.
    { q: 1, n: 300, d: 17, k: 10 },
    { q: 2, n: 1000, d: 1536, k: 25 },
    // Queries past a tile of 64.
    { q: 67, n: 257, d: 64, k: 257 },
  ];
  /**
   * A shape's queries and rows: a zero query last (past a tile of 64 at 67 queries) and a zero row
   * last (past 64 and 256 rows where there are more), and the first query parallel to the last
   * row but one, whose cosine rounds to 1 and must come back clamped.
   */
  const inputs = (s: (typeof shapes)[number], data: CaseData) => {
    let q = data.matrix(s.q, s.d);
    let c = data.matrix(s.n, s.d);
    if (s.n > 2) {
      c = withZeroRow(c, s.n - 1);
      for (let j = 0; j < s.d; j++) c.data[(s.n - 2) * s.d + j] = q.data[j] * 7;
    }
    if (s.q > 2) q = withZeroRow(q, s.q - 1);
    return { q, c };
  };
  for (const s of shapes) {
    const label = `${s.q} queries x ${s.n} rows x d=${s.d}, k=${s.k}`;
    cases.push(
      defineCase('topK', label, 'topK', async ({ kernels, tol }, data) => {
        const { q, c } = inputs(s, data);
        checkTopK(`topK ${label}`, await kernels.topK(q, c, s.k), q, c, s.k, tol.cosine);
      }),
    );
    cases.push(
      defineCase(
        'corpus',
        `resident search: ${label}`,
        'corpusSearch',
        async ({ kernels, backend, tol }, data) => {
          const { q, c } = inputs(s, data);
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
      ),
    );
  }
  for (const d of [1, 5, 17, 1536]) {
    cases.push(
      defineCase(
        'corpus',
        `resident cosine matrix, d=${d}, with zero rows on both sides, and one query alone`,
        'corpusMatrix',
        async ({ kernels, tol }, data) => {
          // Queries past a tile of 64; corpus rows past a tile of 256 (70 at the widest, for time).
          const m = 67;
          const n = d === 1536 ? 70 : 259;
          const q = withZeroRow(withZeroRow(data.matrix(m, d), 4), m - 1);
          const c = withZeroRow(data.matrix(n, d), n - 1);
          const h = await kernels.createCorpus(c);
          try {
            const want = cosineMatrix64(q, c);
            await withOut(
              'corpusMatrix',
              m * n,
              (o) => kernels.corpusMatrix(h, q, o),
              (got, how) => {
                assertClose(`corpusMatrix [${m}x${d}]·[${n}x${d}]ᵀ${how}`, got, want, () => tol.cosine);
                // Clamped, as cosineMatrix's are: 1.0000001 is within the tolerance of 1 (a probe).
                for (const v of got) check(v >= -1 && v <= 1, `corpusMatrix${how}: ${v} is outside [-1, 1]`);
              },
            );
            // One query alone, as a single search's scores are taken (a path of its own).
            const one = { data: q.data.slice(0, d), rows: 1, cols: d };
            assertClose(
              `corpusMatrix [1x${d}]·[${n}x${d}]ᵀ`,
              await kernels.corpusMatrix(h, one),
              cosineMatrix64(one, c),
              () => tol.cosine,
            );
          } finally {
            h.dispose();
          }
        },
      ),
    );
  }
  cases.push(
    defineCase(
      'corpus',
      'readCorpus (when implemented) returns the normalised rows',
      'createCorpus',
      async ({ kernels, tol }, data) => {
        if (!kernels.readCorpus) return;
        const c = withZeroRow(data.matrix(13, 17), 5);
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
    ),
  );
  for (const storage of ['int8', 'float16'] as const) {
    cases.push(
      defineCase(
        'corpus',
        `${storage} storage, when accepted: reported honestly, recall@10 >= 0.99 with re-ranking, similarity from the kept float32 rows`,
        'createCorpus',
        async ({ kernels, tol }, data) => {
          const c = data.matrix(1500, 48);
          const q = data.matrix(8, 48);
          let h: Awaited<ReturnType<Kernels['createCorpus']>>;
          try {
            h = await kernels.createCorpus(c, { storage, rerank: 4 });
          } catch (e) {
            check(
              (e as { code?: string }).code === 'UNSUPPORTED',
              `createCorpus(${storage}): must accept it or throw UNSUPPORTED, threw ${errorText(e)}`,
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
            // Re-ranked scores are exact: each within the tolerance of its row's cosine.
            const all = cosineMatrix64(q, c);
            for (let t = 0; t < got.scores.length; t++) {
              const i = Math.floor(t / 10);
              const truth = all[i * c.rows + got.indices[t]];
              check(
                Math.abs(got.scores[t] - truth) <= tol.cosine,
                `corpusSearch (${storage}, rerank 4): query ${i} rank ${t % 10}: score ${got.scores[t]} for row ${got.indices[t]}, true cosine ${truth}`,
              );
            }
            // Re-ranking keeps the float32 rows, so the corpus's full scores are exact like a search's.
            assertClose(
              `corpusMatrix (${storage}, rerank 4)`,
              await kernels.corpusMatrix(h, q),
              cosineMatrix64(q, c),
              () => tol.cosine,
            );
          } finally {
            h.dispose();
          }
        },
      ),
    );
  }
  for (const storage of ['int8', 'float16'] as const) {
    cases.push(
      defineCase(
        'corpus',
        `${storage} storage without re-ranking, when accepted: search and similarity scores within the documented error of the exact cosine, 67 queries x 300 rows x d=37, a zero row`,
        'createCorpus',
        async ({ kernels, tol }, data) => {
          const d = 37;
          const q = data.centred(67, d);
          const c = withZeroRow(data.matrix(300, d), 2);
          let h: Awaited<ReturnType<Kernels['createCorpus']>>;
          try {
            h = await kernels.createCorpus(c, { storage, rerank: 0 });
          } catch (e) {
            check(
              (e as { code?: string }).code === 'UNSUPPORTED',
              `createCorpus(${storage}, rerank 0): must accept it or throw UNSUPPORTED, threw ${errorText(e)}`,
            );
            return;
          }
          try {
            check(
              (h.storage ?? 'float32') === storage,
              `createCorpus(${storage}, rerank 0): handle says '${h.storage ?? 'float32'}'`,
            );
            const bound = quantisedBound(storage, q, c);
            const all = cosineMatrix64(q, c);
            const k = 10;
            const r = await kernels.corpusSearch(h, q, k);
            check(
              r.queries === q.rows && r.k === k && r.indices.length === q.rows * k,
              `corpusSearch (${storage}, rerank 0): result is ${r.queries}x${r.k}, expected ${q.rows}x${k}`,
            );
            for (let i = 0; i < q.rows; i++) {
              const seen = new Set<number>();
              let lowest = Number.POSITIVE_INFINITY;
              for (let t = 0; t < k; t++) {
                const j = r.indices[i * k + t];
                const s = r.scores[i * k + t];
                const what = `corpusSearch (${storage}, rerank 0): query ${i} rank ${t}`;
                check(
                  Number.isInteger(j) && j >= 0 && j < c.rows && !seen.has(j),
                  `${what}: row ${j} out of range or returned twice`,
                );
                seen.add(j);
                const truth = all[i * c.rows + j];
                const e = bound(i, j) + tol.cosine;
                check(
                  Math.abs(s - truth) <= e,
                  `${what}: score ${s} for row ${j}, true cosine ${truth} (allowed error ${e.toExponential(2)})`,
                );
                check(
                  t === 0 || r.scores[i * k + t - 1] >= s,
                  `${what}: scores not best first (${r.scores[i * k + t - 1]} < ${s})`,
                );
                lowest = Math.min(lowest, s);
              }
              // A row left out scores (quantised) no better than the lowest returned one.
              for (let j = 0; j < c.rows; j++) {
                if (seen.has(j)) continue;
                const truth = all[i * c.rows + j];
                const e = bound(i, j) + tol.cosine;
                check(
                  truth - e <= lowest,
                  `corpusSearch (${storage}, rerank 0): query ${i}: row ${j} (true cosine ${truth}, allowed error ${e.toExponential(2)}) left out, but the lowest score returned is ${lowest}`,
                );
              }
            }
            await withOut(
              'corpusMatrix',
              q.rows * c.rows,
              (o) => kernels.corpusMatrix(h, q, o),
              (got, how) =>
                assertClose(
                  `corpusMatrix (${storage}, rerank 0) [67x${d}]·[300x${d}]ᵀ${how}`,
                  got,
                  all,
                  (t) => bound(Math.floor(t / c.rows), t % c.rows) + tol.cosine,
                ),
            );
          } finally {
            h.dispose();
          }
        },
      ),
    );
  }
  cases.push(
    defineCase(
      'topK',
      'ties are broken by the lower index (duplicate rows, a zero query)',
      'topK',
      async ({ kernels }, data) => {
        const base = data.matrix(1, 24);
        const c = new Tensor(new Float32Array(40 * 24), 40, 24);
        // Rows 3, 11, 20 and 37 are the same vector; everything else is random.
        const other = data.matrix(40, 24);
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
    ),
  );
  return cases;
}
