import { Tensor } from '@cosinekit/core';
import { check, skip } from '../assert.js';
import { type ConformanceCase, defineCase } from './context.js';
import { checkTopK } from './search.js';

/** The listed rows of `m`, in order. */
function pick(m: Tensor, rows: number[]): Tensor {
  const out = new Float32Array(rows.length * m.cols);
  rows.forEach((r, i) => {
    out.set(m.data.subarray(r * m.cols, (r + 1) * m.cols), i * m.cols);
  });
  return new Tensor(out, rows.length, m.cols);
}

/**
 * Filtered search through the kit: the k best rows among those that pass, checked against the
 * float64 oracle run on the passing rows alone. It holds for every backend, whether it filters in
 * its own kernel (`corpusSearchAllowed`) or the kit filters around its `corpusSearch`.
 */
export function filterCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  const shapes = [
    { q: 1, n: 1, d: 1, k: 1, share: 1 },
    { q: 3, n: 517, d: 17, k: 10, share: 0.01 },
    { q: 5, n: 1000, d: 64, k: 7, share: 0.1 },
    { q: 4, n: 300, d: 5, k: 25, share: 0.5 },
    { q: 2, n: 257, d: 1536, k: 3, share: 0.3 },
  ];
  for (const s of shapes) {
    const label = `${s.q} queries x ${s.n} rows x d=${s.d}, k=${s.k}, ${s.share * 100}% of rows pass`;
    cases.push(
      defineCase('filters', label, undefined, async ({ kit, tol }, data) => {
        const q = data.matrix(s.q, s.d);
        const c = data.matrix(s.n, s.d);
        // A spread of passing rows: every row whose hashed ordinal falls under the share, at least one.
        const pass = Array.from({ length: s.n }, (_, i) => i).filter(
          (i) => ((Math.imul(i + 1, 2654435761) >>> 0) % 1000) / 1000 < s.share,
        );
        if (pass.length === 0) pass.push(s.n >> 1);
        const corpus = await kit.corpus(c);
        try {
          const sub = pick(c, pass);
          const kk = Math.min(s.k, pass.length);
          const mask = new Uint8Array(s.n);
          for (const i of pass) mask[i] = 1;
          const passing = new Set(pass);
          const forms = {
            allow: { allow: pass },
            deny: { deny: Array.from({ length: s.n }, (_, i) => i).filter((i) => !passing.has(i)) },
            mask: { mask },
            predicate: (id: number | string) => passing.has(id as number),
          };
          for (const [form, filter] of Object.entries(forms)) {
            const r = await corpus.search(q, s.k, { filter });
            check(r.k === kk, `filtered search (${form}): k is ${r.k}, expected ${kk}`);
            // Ordinals back to positions among the passing rows, where the oracle runs.
            const at = new Map(pass.map((o, i) => [o, i]));
            const local = Int32Array.from(r.indices, (o) => {
              check(at.has(o), `filtered search (${form}): returned row ${o}, which the filter excludes`);
              return at.get(o)!;
            });
            checkTopK(
              `filtered search (${form}) ${label}`,
              { queries: r.queries, k: r.k, indices: local, scores: r.scores },
              q,
              sub,
              kk,
              tol.cosine,
            );
          }
        } finally {
          corpus.dispose();
        }
      }),
    );
  }
  cases.push(
    defineCase(
      'filters',
      'fewer rows pass than k: all of them, none: an empty result',
      undefined,
      async ({ kit }, data) => {
        const c = data.matrix(40, 6);
        const corpus = await kit.corpus(c, { ids: Array.from({ length: 40 }, (_, i) => `r${i}`) });
        try {
          const r = await corpus.search(data.matrix(3, 6), 10, {
            filter: { allow: ['r3', 'r31', 'absent'] },
          });
          check(r.k === 2, `allow of 2 known ids: k is ${r.k}, expected 2`);
          for (let i = 0; i < 3; i++) {
            const got = [...r.hits(i).indices].sort((a, b) => a - b).join(',');
            check(got === '3,31', `allow of 2 known ids: query ${i} got rows ${got}, expected 3,31`);
          }
          const none = await corpus.search(data.matrix(1, 6), 5, { filter: () => false });
          check(
            none.k === 0 && none.indices.length === 0,
            'a filter nothing passes: expected an empty result',
          );
        } finally {
          corpus.dispose();
        }
      },
    ),
  );
  cases.push(
    defineCase(
      'filters',
      'corpusSearchAllowed, where a backend has it: only allowed rows, exact, best first, for each call on one corpus',
      undefined,
      async ({ kernels, tol }, data) => {
        const run = kernels.corpusSearchAllowed;
        if (!run) skip('this backend has no corpusSearchAllowed kernel; the kit filters around corpusSearch');
        const n = 700;
        const d = 19;
        const k = 9;
        const q = data.matrix(4, d);
        const other = data.matrix(3, d);
        const c = data.matrix(n, d);
        // Allowed rows in runs and singletons, across tile boundaries.
        const pass = Array.from({ length: n }, (_, i) => i).filter((i) => i % 97 < 5 || i % 13 === 0);
        // Exactly k rows, the contract's least: all of them, best first (not in row order).
        const few = Array.from({ length: k }, (_, i) => 40 + i * 71);
        const h = await kernels.createCorpus(c);
        try {
          // The same corpus with another mask, other queries, then the first mask again: a
          // backend that kept a corpus's first mask, or its answer per shape, passed one call.
          for (const [label, rows, queries] of [
            ['runs and singletons', pass, q],
            [`exactly k = ${k} rows`, few, other],
            ['runs and singletons, the other queries', pass, other],
          ] as const) {
            const allow = new Uint8Array(n);
            for (const i of rows) allow[i] = 1;
            const r = await run.call(kernels, h, queries, k, allow);
            const at = new Map(rows.map((o, i) => [o, i]));
            const local = Int32Array.from(r.indices, (o) => {
              check(at.has(o), `corpusSearchAllowed (${label}): returned row ${o}, which is not allowed`);
              return at.get(o)!;
            });
            checkTopK(
              `corpusSearchAllowed (${label})`,
              { ...r, indices: local },
              queries,
              pick(c, [...rows]),
              k,
              tol.cosine,
            );
          }
        } finally {
          h.dispose();
        }
      },
    ),
  );
  return cases;
}
