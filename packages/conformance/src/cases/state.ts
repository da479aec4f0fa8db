import type { KernelName, Kernels, Matrix } from '@cosinekit/core/backend';
import { assertClose, check, fail } from '../assert.js';
import { act64, actGrad64, cos64, cosineMatrix64, matmul64, norms64 } from '../oracle.js';
import { type ConformanceCase, defineCase } from './context.js';
import { checkTopK } from './search.js';

/** `x` with its values replaced by `other`'s, in place (the same array, other data). */
function rewrite(x: Matrix, other: Matrix): Matrix {
  x.data.set(other.data);
  return x;
}

/** Rows over their float64 norms (zero rows zero), flat. */
function unit64(x: Matrix): number[] {
  const n = norms64(x);
  return Array.from(x.data, (v, i) => {
    const r = n[Math.floor(i / x.cols)];
    return r > 0 ? v / r : 0;
  });
}

/**
 * State: an answer depends on the call's own inputs, not on earlier calls. A backend that caches by
 * shape, by array identity or by the last corpus made, or that keeps answering for a corpus it
 * disposed, passed every case that calls each kernel once (a probe of the suite found each).
 */
export function stateCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  cases.push(
    defineCase(
      'state',
      'two corpora of one width each answer for their own rows, before and after the other is disposed',
      'corpusSearch',
      async ({ kernels, tol }, data) => {
        const d = 24;
        const a = data.matrix(300, d);
        const b = data.matrix(300, d);
        const q = data.matrix(5, d);
        const ha = await kernels.createCorpus(a);
        const hb = await kernels.createCorpus(b);
        try {
          checkTopK('corpusSearch (first corpus)', await kernels.corpusSearch(ha, q, 7), q, a, 7, tol.cosine);
          checkTopK(
            'corpusSearch (second corpus)',
            await kernels.corpusSearch(hb, q, 7),
            q,
            b,
            7,
            tol.cosine,
          );
          if (kernels.corpusMatrix) {
            assertClose(
              'corpusMatrix (first corpus)',
              await kernels.corpusMatrix(ha, q),
              cosineMatrix64(q, a),
              () => tol.cosine,
            );
            assertClose(
              'corpusMatrix (second corpus)',
              await kernels.corpusMatrix(hb, q),
              cosineMatrix64(q, b),
              () => tol.cosine,
            );
          }
          hb.dispose();
          checkTopK(
            'corpusSearch (first corpus, the second disposed)',
            await kernels.corpusSearch(ha, q, 7),
            q,
            a,
            7,
            tol.cosine,
          );
        } finally {
          ha.dispose();
          hb.dispose();
        }
      },
    ),
  );
  cases.push(
    defineCase(
      'state',
      'one corpus searched again with other queries of the same shape answers for them',
      'corpusSearch',
      async ({ kernels, tol }, data) => {
        const d = 17;
        const c = data.matrix(400, d);
        const h = await kernels.createCorpus(c);
        try {
          const q1 = data.matrix(6, d);
          const q2 = data.matrix(6, d);
          checkTopK(
            'corpusSearch (first queries)',
            await kernels.corpusSearch(h, q1, 9),
            q1,
            c,
            9,
            tol.cosine,
          );
          checkTopK(
            'corpusSearch (other queries)',
            await kernels.corpusSearch(h, q2, 9),
            q2,
            c,
            9,
            tol.cosine,
          );
          const q3 = rewrite(q1, data.matrix(6, d));
          checkTopK(
            'corpusSearch (the first queries rewritten)',
            await kernels.corpusSearch(h, q3, 9),
            q3,
            c,
            9,
            tol.cosine,
          );
          if (kernels.corpusMatrix) {
            for (const [what, q] of [
              ['first', q2],
              ['other', rewrite(q2, data.matrix(6, d))],
            ] as const) {
              const got = await kernels.corpusMatrix(h, q);
              assertClose(`corpusMatrix (${what} queries)`, got, cosineMatrix64(q, c), () => tol.cosine);
            }
          }
        } finally {
          h.dispose();
        }
      },
    ),
  );
  // The same shapes again with other values, then the first arrays rewritten with a third set:
  // each answer against its own oracle.
  const calls: {
    kernel: KernelName;
    shape: string;
    make: (m: (r: number, c: number) => Matrix) => Matrix[];
    call: (k: Kernels, x: Matrix[]) => Promise<unknown>;
    verify: (got: unknown, x: Matrix[], tol: number, what: string) => void;
    /** Judged on the algebra tolerance (relative) rather than the cosine one. */
    algebra?: true;
  }[] = [
    {
      kernel: 'rowNorms',
      shape: '9 x 13',
      make: (m) => [m(9, 13)],
      call: async (k, [x]) => k.rowNorms(x!),
      verify: (got, [x], tol, what) =>
        assertClose(
          what,
          got as Float32Array,
          Array.from(norms64(x!)),
          (w) => tol * Math.max(1, Math.abs(w)),
        ),
    },
    {
      kernel: 'normalizeRows',
      shape: '9 x 13',
      make: (m) => [m(9, 13)],
      call: async (k, [x]) => k.normalizeRows(x!),
      verify: (got, [x], tol, what) => assertClose(what, got as Float32Array, unit64(x!), () => tol),
    },
    {
      kernel: 'cosineRows',
      shape: '1100 rows of 7 (past a tile of 1024)',
      make: (m) => [m(1100, 7), m(1100, 7)],
      call: async (k, [a, b]) => k.cosineRows(a!, b!),
      verify: (got, [a, b], tol, what) =>
        assertClose(
          what,
          got as Float32Array,
          Array.from({ length: a!.rows }, (_, i) => cos64(a!, i, b!, i)),
          () => tol,
        ),
    },
    {
      kernel: 'cosineMatrix',
      shape: '1100 x 5 by 3 x 5 (past a tile of 1024)',
      make: (m) => [m(1100, 5), m(3, 5)],
      call: async (k, [a, b]) => k.cosineMatrix(a!, b!),
      verify: (got, [a, b], tol, what) =>
        assertClose(what, got as Float32Array, cosineMatrix64(a!, b!), () => tol),
    },
    {
      kernel: 'cosineMatrix',
      shape: 'square, 40 x 9 by another 40 x 9',
      make: (m) => [m(40, 9), m(40, 9)],
      call: async (k, [a, b]) => k.cosineMatrix(a!, b!),
      verify: (got, [a, b], tol, what) =>
        assertClose(what, got as Float32Array, cosineMatrix64(a!, b!), () => tol),
    },
    {
      kernel: 'topK',
      shape: '130 queries (past two tiles of 64) x 90 rows x 6, k = 4',
      make: (m) => [m(130, 6), m(90, 6)],
      call: async (k, [q, c]) => k.topK(q!, c!, 4),
      verify: (got, [q, c], tol, what) => checkTopK(what, got as never, q!, c!, 4, tol),
    },
    // The dense kernels a model's layers run, called once per step on the same shapes: a result
    // kept per shape answered every later step with the first one's values.
    {
      kernel: 'matmul',
      shape: '7 x 33 by 33 x 66, B transposed',
      make: (m) => [m(7, 33), m(66, 33)],
      call: async (k, [a, b]) => k.matmul(a!, b!, false, true),
      verify: (got, [a, b], tol, what) => {
        const { c, scale } = matmul64(a!, b!, false, true);
        assertClose(what, got as Float32Array, c, (i) => tol * scale[i] + 1e-30);
      },
      algebra: true,
    },
    {
      kernel: 'addBias',
      shape: '9 x 17',
      make: (m) => [m(9, 17), m(1, 17)],
      call: async (k, [x, b]) => k.addBias(x!, b!.data),
      verify: (got, [x, b], tol, what) =>
        assertClose(
          what,
          got as Float32Array,
          Array.from(x!.data, (v, i) => v + b!.data[i % 17]),
          () => tol,
        ),
      algebra: true,
    },
    {
      kernel: 'activation',
      shape: 'tanh, 9 x 17',
      make: (m) => [m(9, 17)],
      call: async (k, [x]) => k.activation('tanh', x!),
      verify: (got, [x], tol, what) =>
        assertClose(
          what,
          got as Float32Array,
          Array.from(x!.data, (v) => act64('tanh', v)),
          () => tol,
        ),
      algebra: true,
    },
    {
      kernel: 'activationGrad',
      shape: 'sigmoid, 9 x 17',
      make: (m) => [m(9, 17), m(9, 17)],
      call: async (k, [x, dy]) => k.activationGrad('sigmoid', x!, dy!),
      verify: (got, [x, dy], tol, what) =>
        assertClose(
          what,
          got as Float32Array,
          Array.from(x!.data, (v, i) => actGrad64('sigmoid', v) * dy!.data[i]),
          () => tol,
        ),
      algebra: true,
    },
  ];
  for (const c of calls) {
    cases.push(
      defineCase(
        'state',
        `${c.kernel}: called again on the same shapes with other values, and on its first arrays rewritten, answers for them (${c.shape})`,
        c.kernel,
        async ({ kernels, tol: tolerances }, data) => {
          const tol = c.algebra ? tolerances.algebra : tolerances.cosine;
          const m = (r: number, cols: number) => data.matrix(r, cols);
          const first = c.make(m);
          const second = c.make(m);
          c.verify(await c.call(kernels, first), first, tol, `${c.kernel} (first call)`);
          c.verify(await c.call(kernels, second), second, tol, `${c.kernel} (other values)`);
          // The first call's own arrays, their values replaced: a cache keyed by identity answered
          // for the old values.
          const third = c.make(m);
          for (const [i, x] of first.entries()) rewrite(x, third[i]!);
          c.verify(await c.call(kernels, first), first, tol, `${c.kernel} (its first arrays rewritten)`);
        },
      ),
    );
  }
  cases.push(
    defineCase(
      'state',
      'a disposed corpus is refused by every corpus kernel: DISPOSED naming corpus, no answer from freed data',
      'corpusSearch',
      async ({ kernels }, data) => {
        const c = data.matrix(20, 6);
        const q = data.matrix(2, 6);
        const h = await kernels.createCorpus(c);
        h.dispose();
        const tries: [string, () => unknown][] = [['corpusSearch', () => kernels.corpusSearch(h, q, 3)]];
        if (kernels.corpusMatrix) tries.push(['corpusMatrix', () => kernels.corpusMatrix!(h, q)]);
        if (kernels.corpusSearchAllowed)
          tries.push([
            'corpusSearchAllowed',
            () => kernels.corpusSearchAllowed!(h, q, 3, new Uint8Array(20).fill(1)),
          ]);
        for (const [name, call] of tries) {
          let answered = false;
          try {
            await call();
            answered = true;
          } catch (e) {
            const err = e as { code?: unknown; arg?: unknown };
            check(
              err.code === 'DISPOSED' && err.arg === 'corpus',
              `${name} on a disposed corpus: expected DISPOSED naming 'corpus', got ${String(err.code)} naming '${String(err.arg)}'`,
            );
          }
          if (answered) fail(`${name} answered for a disposed corpus (throw DISPOSED naming 'corpus')`);
        }
      },
    ),
  );
  cases.push(
    defineCase(
      'state',
      'createCorpus leaves its input as it was, after the call and after the next turn of the event loop',
      'createCorpus',
      async ({ kernels }, data) => {
        const c = data.matrix(30, 11);
        const kept = c.data.slice();
        const h = await kernels.createCorpus(c);
        try {
          await new Promise((r) => setTimeout(r, 0));
          check(
            c.data.every((v, i) => Object.is(v, kept[i])),
            'createCorpus wrote into its input after the call returned',
          );
        } finally {
          h.dispose();
        }
      },
    ),
  );
  return cases;
}
