import { Tensor } from '@cosinekit/core';
import { valueText } from '@cosinekit/core/backend';
import { assertClose, assertRejects, check, fail } from '../assert.js';
import { cos64, cosineMatrix64 } from '../oracle.js';
import { type CaseData, type ConformanceCase, type ConformanceContext, defineCase } from './context.js';
import { checkTopK } from './search.js';

/** The kit and a corpus bound to the backend: results, and bad input rejected by name. */
export function apiCases(): ConformanceCase[] {
  const api = (name: string, run: (ctx: ConformanceContext, data: CaseData) => Promise<void>) =>
    defineCase('public API on this backend', name, undefined, run);
  return [
    api('results through the kit match the kernels', async ({ kit, tol }, data) => {
      const a = data.matrix(6, 33);
      const b = data.matrix(11, 33);
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
    api('mismatched dimensions are rejected naming the argument and the operation', async ({ kit }, data) => {
      const a = data.matrix(2, 4);
      const b = data.matrix(2, 5);
      await assertRejects('cosineMatrix', () => kit.cosineMatrix(a, b), 'DIMENSION_MISMATCH', {
        op: 'cosineMatrix',
        arg: 'b',
      });
      await assertRejects('cosineRows', () => kit.cosineRows(a, data.matrix(3, 4)), 'DIMENSION_MISMATCH', {
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
    api(
      'cosineRows: NaN or ±Infinity anywhere in either argument is refused by name and place; finite rows of any magnitude give the float64 cosine',
      async ({ kit, tol }, data) => {
        for (const [rows, cols] of [
          [1, 1],
          [1, 5],
          [3, 6],
          [37, 17],
          [1, 1536],
        ] as const) {
          const a = data.matrix(rows, cols);
          const b = data.matrix(rows, cols);
          const n = rows * cols;
          for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
            for (const arg of ['a', 'b'] as const) {
              for (const at of new Set([0, n >> 1, n - 1])) {
                const x = Float32Array.from(arg === 'a' ? a.data : b.data);
                x[at] = bad;
                const t = new Tensor(x, rows, cols);
                const what = `${bad} at ${at} of '${arg}' (${rows} x ${cols})`;
                const e = await kit.cosineRows(arg === 'a' ? t : a, arg === 'b' ? t : b).then(
                  () => fail(`${what}: the call succeeded`),
                  (err: unknown) => err as { code?: string; op?: string; arg?: string; message?: string },
                );
                const where = `row ${Math.floor(at / cols)}, column ${at % cols}`;
                check(
                  e.code === 'NON_FINITE' && e.op === 'cosineRows' && e.arg === arg,
                  `${what}: expected NON_FINITE on '${arg}' of 'cosineRows', got ${valueText(e.code)} on '${e.arg}' of '${e.op}' (${e.message})`,
                );
                check(e.message!.includes(where), `${what}: the message does not say ${where}: ${e.message}`);
              }
            }
          }
          // Rows scaled by powers of two past float32's squares (2^100: they overflow; 2^-100 and
          // 2^-140, subnormal: they flush to zero), alone and beside ordinary rows.
          for (const [sa, sb] of [
            [2 ** 100, 1],
            [1, 2 ** -100],
            [2 ** -140, 2 ** 100],
          ]) {
            const x = a.data.map((v, i) => v * (Math.floor(i / cols) % 2 === 0 ? sa : 1));
            const y = b.data.map((v) => v * sb);
            const tx = new Tensor(x, rows, cols);
            const ty = new Tensor(y, rows, cols);
            const want = Float64Array.from({ length: rows }, (_, i) => cos64(tx, i, ty, i));
            assertClose(
              `cosineRows at scales ${sa} / ${sb} (${rows} x ${cols})`,
              await kit.cosineRows(tx, ty),
              want,
              () => tol.cosine,
            );
          }
        }
      },
    ),
    api('k out of range, non-integer or not a number is rejected', async ({ kit }, data) => {
      const q = data.matrix(1, 8);
      const c = data.matrix(10, 8);
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
      async ({ kit }, data) => {
        const c = await kit.corpus(data.matrix(20, 8));
        const q = data.matrix(2, 8);
        const pending = c.search(q, 3);
        c.dispose();
        const r = await pending;
        check(r.indices.length === 6, 'a search started before dispose() must complete');
        await assertRejects('search after dispose', () => c.search(q, 3), 'DISPOSED', { op: 'search' });
        await assertRejects('similarity after dispose', () => c.similarity(q), 'DISPOSED', {
          op: 'similarity',
        });
        const t = data.matrix(2, 8);
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
