import type { Tensor } from '@cosinekit/core';
import type { Matrix } from '@cosinekit/core/backend';
import { assertClose, check } from '../assert.js';
import { cos64, cosineMatrix64 } from '../oracle.js';
import { type CaseData, type ConformanceCase, defineCase } from './context.js';
import { checkTopK } from './search.js';

/**
 * Rows in the large cases: past 2^16 (a 16-bit index or a texture row of 65,536 texels wraps there)
 * and no multiple of any tile or block. The other cases stop at a few thousand rows, and a backend
 * that dropped every row past 5,000 from its top-k, or scaled cosines past column 1,200, passed them.
 */
const N = 70_001;

/**
 * A corpus of `N` rows of `d` whose best rows for each query are planted at its start, middle and
 * end, the last the closest: the query plus noise of 0.03, 0.02 and 0.01 of its norm.
 */
function planted(data: CaseData, q: Matrix, d: number): Tensor {
  const c = data.matrix(N, d);
  const at = [0, N >> 1, N - 1];
  for (let i = 0; i < q.rows; i++)
    at.forEach((row, p) => {
      const r = row + (p === 2 ? -i : i);
      const noise = 0.03 - 0.01 * p;
      for (let j = 0; j < d; j++)
        c.data[r * d + j] = q.data[i * d + j] + noise * Math.sin(1 + 7 * i + 3 * j + 11 * p);
    });
  return c;
}

function largeCases(): ConformanceCase[] {
  const group = 'large shapes';
  return [
    defineCase(
      group,
      `cosineRows over ${N} paired rows of d=3`,
      'cosineRows',
      async ({ kernels, tol }, data) => {
        const a = data.matrix(N, 3);
        const b = data.matrix(N, 3);
        const got = await kernels.cosineRows(a, b);
        check(got instanceof Float32Array && got.length === N, `cosineRows: expected ${N} cosines`);
        const want = Float64Array.from({ length: N }, (_, i) => cos64(a, i, b, i));
        assertClose(`cosineRows [${N}x3]`, got, want, () => tol.cosine);
      },
    ),
    defineCase(
      group,
      `cosineMatrix of 2 x ${N} rows of d=5`,
      'cosineMatrix',
      async ({ kernels, tol }, data) => {
        const a = data.matrix(2, 5);
        const b = data.matrix(N, 5);
        const got = await kernels.cosineMatrix(a, b);
        check(got instanceof Float32Array && got.length === 2 * N, `cosineMatrix: expected 2 x ${N} cosines`);
        assertClose(`cosineMatrix [2x5]·[${N}x5]ᵀ`, got, cosineMatrix64(a, b), () => tol.cosine);
      },
    ),
    defineCase(
      group,
      `topK over ${N} rows of d=6, the best rows at the start, middle and end`,
      'topK',
      async ({ kernels, tol }, data) => {
        const q = data.matrix(3, 6);
        const c = planted(data, q, 6);
        checkTopK(`topK [3x6] over ${N} rows`, await kernels.topK(q, c, 5), q, c, 5, tol.cosine);
      },
    ),
    defineCase(
      group,
      `resident search and cosine matrix over ${N} rows of d=6, the best rows at the start, middle and end`,
      'corpusSearch',
      async ({ kernels, tol }, data) => {
        const q = data.matrix(3, 6);
        const c = planted(data, q, 6);
        const h = await kernels.createCorpus(c);
        try {
          checkTopK(
            `corpusSearch [3x6] over ${N} rows`,
            await kernels.corpusSearch(h, q, 5),
            q,
            c,
            5,
            tol.cosine,
          );
          const m = await kernels.corpusMatrix(h, q);
          check(m instanceof Float32Array && m.length === 3 * N, `corpusMatrix: expected 3 x ${N} cosines`);
          assertClose(`corpusMatrix [3x6]·[${N}x6]ᵀ`, m, cosineMatrix64(q, c), () => tol.cosine);
        } finally {
          h.dispose();
        }
      },
    ),
  ];
}

/** Large row counts (past 2^16) for every kernel that takes many rows, checked in full. */
export function scaleCases(): ConformanceCase[] {
  return largeCases();
}
