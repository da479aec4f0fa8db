import { Tensor } from '@cosinekit/core';
import { assertClose, check } from '../assert.js';
import { withZeroRow } from '../data.js';
import { cos64, cosineMatrix64, norms64 } from '../oracle.js';
import { type ConformanceCase, DIMS, defineCase, ROWS, withOut } from './context.js';

/** rowNorms, normalizeRows, cosineRows and cosineMatrix on every awkward width. */
export function cosineCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  for (const d of DIMS) {
    cases.push(
      defineCase(
        'rowNorms',
        `rows of dimension ${d} (one row, odd counts, a zero row)`,
        'rowNorms',
        async ({ kernels, tol }, data) => {
          for (const r of ROWS) {
            const x = r > 1 ? withZeroRow(data.matrix(r, d), r - 1) : data.matrix(r, d);
            const want = norms64(x);
            await withOut(
              'rowNorms',
              r,
              (o) => kernels.rowNorms(x, o),
              (got, how) =>
                assertClose(`rowNorms [${r}x${d}]${how}`, got, want, (i) => tol.algebra * want[i] + 1e-30),
            );
          }
        },
      ),
    );
    cases.push(
      defineCase(
        'normalizeRows',
        `rows of dimension ${d}, zero rows (first and last) stay zero, a row of one value`,
        'normalizeRows',
        async ({ kernels, tol }, data) => {
          for (const r of ROWS) {
            // Zero rows first and last (past a tile of 64 rows at 67), and a row with one value
            // (-3 where the others are 0: a norm that is that value's magnitude).
            const x = r > 1 ? withZeroRow(withZeroRow(data.matrix(r, d), 0), r - 1) : data.matrix(r, d);
            if (r > 2) {
              x.data.fill(0, d, 2 * d);
              x.data[d + (d >> 1)] = -3;
            }
            const n = norms64(x);
            const want = new Float64Array(r * d);
            for (let i = 0; i < r * d; i++) {
              const nr = n[Math.floor(i / d)];
              want[i] = nr > 0 ? x.data[i] / nr : 0;
            }
            await withOut(
              'normalizeRows',
              r * d,
              (o) => kernels.normalizeRows(x, o),
              (got, how) => assertClose(`normalizeRows [${r}x${d}]${how}`, got, want, () => tol.cosine),
            );
          }
        },
      ),
    );
    cases.push(
      defineCase(
        'cosineRows',
        `paired rows of dimension ${d}, with zero rows (early and last) and a parallel pair`,
        'cosineRows',
        async ({ kernels, tol }, data) => {
          for (const r of ROWS) {
            let a = data.matrix(r, d);
            let b = data.matrix(r, d);
            if (r > 1) {
              // A zero row early in b and one last in a (past a tile of 64 rows at 67).
              b = withZeroRow(b, 1);
              a = withZeroRow(a, r - 1);
              // Row 0 of b is a positive multiple of row 0 of a: cosine exactly 1 before rounding.
              for (let j = 0; j < d; j++) b.data[j] = a.data[j] * 3;
            }
            const want = Float64Array.from({ length: r }, (_, i) => cos64(a, i, b, i));
            await withOut(
              'cosineRows',
              r,
              (o) => kernels.cosineRows(a, b, o),
              (got, how) => {
                assertClose(`cosineRows [${r}x${d}]${how}`, got, want, () => tol.cosine);
                for (const v of got) check(v >= -1 && v <= 1, `cosineRows${how}: ${v} is outside [-1, 1]`);
              },
            );
          }
        },
      ),
    );
    cases.push(
      defineCase(
        'cosineMatrix',
        `1/5/67/3 x 1/19/37/259 rows of dimension ${d}`,
        'cosineMatrix',
        async ({ kernels, tol }, data) => {
          // Past a tile of 64 rows of a (67), and of 256 rows of b (259).
          for (const [m, n] of [
            [1, 1],
            [5, 19],
            [67, 37],
            [3, 259],
          ] as const) {
            // Zero rows of a early and last (past a tile of 64 rows at 67), of b last.
            const a = m > 1 ? withZeroRow(withZeroRow(data.matrix(m, d), 2), m - 1) : data.matrix(m, d);
            const b = n > 1 ? withZeroRow(data.matrix(n, d), n - 1) : data.matrix(n, d);
            const want = cosineMatrix64(a, b);
            await withOut(
              'cosineMatrix',
              m * n,
              (o) => kernels.cosineMatrix(a, b, o),
              (got, how) => {
                assertClose(`cosineMatrix [${m}x${d}]·[${n}x${d}]ᵀ${how}`, got, want, () => tol.cosine);
                for (const v of got) check(v >= -1 && v <= 1, `cosineMatrix${how}: ${v} is outside [-1, 1]`);
              },
            );
          }
        },
      ),
    );
  }
  cases.push(
    defineCase(
      'cosineMatrix',
      'a matrix against itself (one object for both arguments), with a zero row: 0 on its diagonal too',
      'cosineMatrix',
      async ({ kernels, tol }, data) => {
        // Self-similarity (deduplication) passes one matrix twice: a kernel that took that as a
        // cue to write 1 on the diagonal gave a zero row a cosine of 1 with itself.
        const a = withZeroRow(data.matrix(70, 33), 66);
        const want = cosineMatrix64(a, a);
        await withOut(
          'cosineMatrix',
          70 * 70,
          (o) => kernels.cosineMatrix(a, a, o),
          (got, how) => assertClose(`cosineMatrix [70x33] with itself${how}`, got, want, () => tol.cosine),
        );
      },
    ),
  );
  cases.push(
    defineCase(
      'cosineMatrix',
      'identical rows give 1 and opposite rows give -1, within the tolerance and never beyond',
      'cosineMatrix',
      async ({ kernels, tol }, data) => {
        const a = data.matrix(3, 129);
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
    ),
  );
  return cases;
}
