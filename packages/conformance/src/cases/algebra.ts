import { ACTIVATIONS, referenceKernels } from '@cosinekit/core/backend';
import { assertClose } from '../assert.js';
import { act64, actGrad64, matmul64 } from '../oracle.js';
import { type ConformanceCase, defineCase, withOut } from './context.js';

/** The dense algebra the model's layers run: matmul, addBias, activations and their gradients. */
export function algebraCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  const shapes = [
    [1, 1, 1],
    [3, 5, 7],
    [17, 33, 9],
    [64, 129, 31],
    [2, 1536, 3],
    // Past a tile of 64 rows and of 64 columns, every dimension a multiple of 4 (the aligned path).
    [67, 16, 68],
  ] as const;
  for (const [m, k, n] of shapes) {
    for (const ta of [false, true]) {
      for (const tb of [false, true]) {
        cases.push(
          defineCase(
            'matmul',
            `${m}x${k} · ${k}x${n}, transA=${ta}, transB=${tb}`,
            'matmul',
            async ({ kernels, tol }, data) => {
              const a = ta ? data.matrix(k, m) : data.matrix(m, k);
              const b = tb ? data.matrix(n, k) : data.matrix(k, n);
              const { c, scale } = matmul64(a, b, ta, tb);
              await withOut(
                'matmul',
                m * n,
                (o) => kernels.matmul(a, b, ta, tb, o),
                (got, how) =>
                  assertClose(
                    `matmul ${m}x${k}x${n} (${ta},${tb})${how}`,
                    got,
                    c,
                    (i) => tol.algebra * scale[i] + 1e-30,
                  ),
              );
            },
          ),
        );
      }
    }
  }
  // Mostly-zero A, as a network's inputs and rectified activations are: a backend may skip the
  // zeros (backend-wasm does), and must still give the dense product. One row of op(A) is all
  // zero, some zeros are -0.
  for (const [m, k, n] of [
    [37, 203, 37],
    [129, 257, 5],
  ] as const) {
    for (const ta of [false, true]) {
      cases.push(
        defineCase(
          'matmul',
          `${m}x${k} · ${k}x${n}, A 90% zeros, transA=${ta}`,
          'matmul',
          async ({ kernels, tol }, data) => {
            const a = ta ? data.matrix(k, m) : data.matrix(m, k);
            for (let i = 0; i < a.data.length; i++) {
              const row = ta ? i % m : Math.floor(i / k);
              if (i % 10 !== 3 || row === 1) a.data[i] = i % 4 === 0 ? -0 : 0;
            }
            const b = data.matrix(k, n);
            const { c, scale } = matmul64(a, b, ta, false);
            await withOut(
              'matmul',
              m * n,
              (o) => kernels.matmul(a, b, ta, false, o),
              (got, how) =>
                assertClose(
                  `sparse matmul ${m}x${k}x${n} (${ta})${how}`,
                  got,
                  c,
                  (i) => tol.algebra * scale[i] + 1e-30,
                ),
            );
          },
        ),
      );
    }
  }
  cases.push(
    defineCase(
      'addBias',
      'bias broadcast over 1, 7 and 67 rows of odd widths, 5 rows of 64, and square 9 x 9',
      'addBias',
      async ({ kernels, tol }, data) => {
        for (const [r, c] of [
          [1, 1],
          [7, 5],
          [67, 129],
          [5, 64],
          // Square: a bias broadcast down the columns instead had the right shape only here.
          [9, 9],
        ] as const) {
          const x = data.matrix(r, c);
          const bias = data.matrix(1, c).data;
          const want = new Float64Array(r * c);
          for (let i = 0; i < r * c; i++) want[i] = x.data[i] + bias[i % c];
          await withOut(
            'addBias',
            r * c,
            (o) => kernels.addBias(x, bias, o),
            (got, how) =>
              assertClose(
                `addBias [${r}x${c}]${how}`,
                got,
                want,
                (i) => tol.algebra * (Math.abs(x.data[i]) + Math.abs(bias[i % c])) + 1e-30,
              ),
          );
        }
      },
    ),
  );
  cases.push(
    defineCase(
      'columnSums',
      "column sums of 1, 7, 33, 256 and 259 rows of odd widths and of 12: the reference's bits, float32 of float64",
      undefined,
      async ({ kernels }, data) => {
        // Optional in the contract: a table without it (a bare backend's) has nothing to check.
        if (!kernels.columnSums) return;
        for (const [r, c] of [
          [1, 1],
          [7, 5],
          [33, 129],
          [256, 64],
          [259, 12],
        ] as const) {
          const x = data.matrix(r, c);
          const bits = await referenceKernels.columnSums!(x);
          // The contract fixes every float32 add and its order, so the bits are the reference's.
          const got = await withOut(
            'columnSums',
            c,
            (o) => kernels.columnSums!(x, o),
            (v, how) => assertClose(`columnSums [${r}x${c}] vs the reference${how}`, v, bits, () => 0),
          );
          const want = new Float64Array(c);
          const size = new Float64Array(c);
          for (let i = 0; i < r * c; i++) {
            want[i % c] += x.data[i];
            size[i % c] += Math.abs(x.data[i]);
          }
          // One rounding of 2^-24 of the running sum (at most the sum of |x|) per add.
          assertClose(`columnSums [${r}x${c}] vs float64`, got, want, (j) => r * 6e-8 * size[j] + 1e-30);
        }
      },
    ),
  );
  for (const kind of ACTIVATIONS) {
    cases.push(
      defineCase(
        'activation',
        `${kind}: f(x) on [-6, 6] and on 0, 7 x 33 and 37 x 40 values`,
        'activation',
        async ({ kernels, tol }, data) => {
          // Odd widths, and rows of a multiple of 4 past 1024 values (a vector path, a split of the work).
          for (const [r, c] of [
            [7, 33],
            [37, 40],
          ] as const) {
            const x = data.centred(r, c);
            for (let i = 0; i < x.data.length; i++) x.data[i] *= 6;
            x.data[0] = 0;
            const want = Array.from(x.data, (v) => act64(kind, v));
            await withOut(
              `activation(${kind})`,
              x.data.length,
              (o) => kernels.activation(kind, x, o),
              (got, how) =>
                assertClose(
                  `activation(${kind}) [${r}x${c}]${how}`,
                  got,
                  want,
                  (i) => tol.algebra * Math.max(1, Math.abs(want[i])),
                ),
            );
          }
        },
      ),
    );
    cases.push(
      defineCase(
        'activation',
        `${kind}: dy · f'(x) against a float64 central difference, at 0 too, 5 x 17 and 37 x 40 values`,
        'activationGrad',
        async ({ kernels, tol }, data) => {
          for (const [r, c] of [
            [5, 17],
            [37, 40],
          ] as const) {
            const x = data.centred(r, c);
            for (let i = 0; i < x.data.length; i++) x.data[i] *= 4;
            // At 0 (and -0), where relu's derivative is 0, as its f(0) is.
            x.data[0] = 0;
            x.data[c + 1] = -0;
            const dy = data.centred(r, c);
            const want = Array.from(x.data, (v, i) => dy.data[i] * actGrad64(kind, v));
            // The central difference itself is good to about 1e-9; the float32 result dominates.
            await withOut(
              `activationGrad(${kind})`,
              x.data.length,
              (o) => kernels.activationGrad(kind, x, dy, o),
              (got, how) =>
                assertClose(
                  `activationGrad(${kind}) [${r}x${c}]${how}`,
                  got,
                  want,
                  (i) => tol.algebra * Math.max(1, Math.abs(want[i])) + 1e-7,
                ),
            );
          }
        },
      ),
    );
  }
  return cases;
}
