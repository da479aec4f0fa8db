import { type CosineKitError, createCosineKit, Tensor } from '@cosinekit/core';
import { type Matrix, resolveKernels } from '@cosinekit/core/backend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WasmBackend } from '../src/index.js';
import { SCRATCH_BYTES } from '../src/runtime.js';
import { backend, random, VARIANTS } from './helpers.js';

/** Float64 cosine of row i of two float32 matrices; 0 for a zero row. */
function cos64(a: Matrix, b: Matrix, i: number): number {
  const d = a.cols;
  let dot = 0;
  let x = 0;
  let y = 0;
  for (let p = i * d; p < (i + 1) * d; p++) {
    dot += a.data[p] * b.data[p];
    x += a.data[p] * a.data[p];
    y += b.data[p] * b.data[p];
  }
  return x === 0 || y === 0 ? 0 : Math.max(-1, Math.min(1, dot / Math.sqrt(x * y)));
}

/** pairCosine's bound against float64 (1.5e-6) plus the float32 rounding of the answer. */
const TOL = 1.6e-6;

function expectRows(got: Float32Array, a: Matrix, b: Matrix, what: string): void {
  expect(got.length).toBe(a.rows);
  for (let i = 0; i < a.rows; i++)
    expect(Math.abs(got[i] - cos64(a, b, i)), `${what}, row ${i}: ${got[i]}`).toBeLessThanOrEqual(TOL);
}

const scaled = (m: Matrix, s: (row: number) => number): Matrix => ({
  rows: m.rows,
  cols: m.cols,
  data: m.data.map((v, i) => v * s(Math.floor(i / m.cols))),
});

for (const variant of VARIANTS) {
  for (const threads of [1, 2]) {
    describe(`wasm cosineRows, the ungated kernel (${variant}, ${threads} thread${threads > 1 ? 's' : ''})`, () => {
      let b: WasmBackend;
      beforeAll(async () => {
        b = await backend({ variant, threads });
      });
      afterAll(() => b.dispose());

      it('is declared ungated, and the kit resolves it so', () => {
        expect(b.ungated).toEqual([
          'cosineRows',
          'cosineMatrix',
          'topK',
          'rowNorms',
          'normalizeRows',
          'createCorpus',
          'corpusSearch',
          'corpusMatrix',
        ]);
        expect(resolveKernels(b).ungated).toEqual([
          'cosineRows',
          'cosineMatrix',
          'topK',
          'rowNorms',
          'normalizeRows',
          'createCorpus',
          'corpusSearch',
          'corpusMatrix',
        ]);
      });

      it('matches float64 within 1.6e-6 on awkward shapes, in the scratch block and past it', () => {
        // 37 x 1024 and 3 x 3071 do not fit the scratch block: those go through the heap.
        expect(2 * 37 * 1024 * 4).toBeGreaterThan(SCRATCH_BYTES);
        for (const d of [1, 2, 3, 5, 6, 7, 8, 9, 17, 63, 65, 1023, 1024, 3071]) {
          for (const r of [1, 2, 3, 37]) {
            const x = random(r, d, d * 7 + r);
            const y = random(r, d, d * 13 + r + 1);
            expectRows(b.kernels.cosineRows(x, y), x, y, `d=${d}, ${r} rows`);
            // Correlated rows, where the answer is near 1 and the norms dominate the error.
            const near = { ...y, data: y.data.map((v, i) => x.data[i] + 0.01 * v) };
            expectRows(b.kernels.cosineRows(x, near), x, near, `d=${d}, ${r} rows, near`);
          }
        }
      });

      it('is exact at any finite magnitude: squares that overflow, flush to zero or are subnormal', () => {
        for (const d of [1, 5, 64, 1024]) {
          const x = random(4, d, d);
          const y = random(4, d, d + 1);
          for (const s of [3e38, 2 ** 100, 2 ** 64, 2 ** -64, 2 ** -100, 2 ** -140]) {
            // Scale every other row of x, and all of y by the inverse, so rows mix magnitudes.
            const xs = scaled(x, (i) => (i % 2 === 0 ? s / 2 : 1));
            const ys = scaled(y, () => (s >= 1 ? 1 / s : s));
            expectRows(b.kernels.cosineRows(xs, ys), xs, ys, `d=${d}, scale ${s}`);
          }
        }
      });

      it('gives NaN for a row holding NaN or ±Infinity at any position, and the right cosine for the others', () => {
        for (const [r, d] of [
          [1, 1],
          [3, 5],
          [2, 8],
          [3, 1024],
        ]) {
          for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
            for (const which of ['a', 'b']) {
              for (const at of new Set([0, d >> 1, d - 1, d + 1 < r * d ? d + 1 : 0])) {
                const x = random(r, d, 3);
                const y = random(r, d, 4);
                (which === 'a' ? x : y).data[at] = bad;
                const out = b.kernels.cosineRows(x, y);
                const row = Math.floor(at / d);
                for (let i = 0; i < r; i++) {
                  if (i === row) expect(out[i], `${bad} at ${at} of ${which}`).toBeNaN();
                  else expect(Math.abs(out[i] - cos64(x, y, i))).toBeLessThanOrEqual(TOL);
                }
              }
            }
          }
        }
      });

      it('leaves wasm memory as it found it (the scratch block is not the heap)', () => {
        const before = b.memory();
        const capacity = b.describe().wasmMemoryBytes;
        for (const [r, d] of [
          [1, 1024],
          [37, 1024],
          [1, 3],
        ])
          for (let i = 0; i < 200; i++) b.kernels.cosineRows(random(r, d, i), random(r, d, i + 1));
        expect(b.memory()).toEqual(before);
        expect(b.describe().wasmMemoryBytes).toBe(capacity);
      });

      it('through the kit: the same typed errors as the gate, and answers for the inputs at call time', async () => {
        const kit = createCosineKit({ backend: b });
        const gated = createCosineKit({
          backend: { name: 'gated', kernels: { cosineRows: b.kernels.cosineRows } },
        });
        await Promise.all([kit.ready(), gated.ready()]);
        for (const d of [1, 7, 1024]) {
          for (const arg of ['a', 'b'] as const) {
            for (const bad of [Number.NaN, Number.NEGATIVE_INFINITY]) {
              const make = () => {
                const x = [random(1, d, 1).data, random(1, d, 2).data];
                x[arg === 'a' ? 0 : 1][d - 1] = bad;
                return x;
              };
              const [p, q] = make();
              const e = (await kit.cosineRows(p, q).catch((x: unknown) => x)) as CosineKitError;
              const [gp, gq] = make();
              const g = (await gated.cosineRows(gp, gq).catch((x: unknown) => x)) as CosineKitError;
              expect([e.code, e.op, e.arg, e.message]).toEqual([g.code, g.op, g.arg, g.message]);
              expect([e.code, e.op, e.arg]).toEqual(['NON_FINITE', 'cosineRows', arg]);
            }
          }
          const a = random(1, d, 5).data;
          const c = random(1, d, 6).data;
          const want = await kit.cosineRows(Float32Array.from(a), Float32Array.from(c));
          expect(Math.abs(want[0] - cos64(random(1, d, 5), random(1, d, 6), 0))).toBeLessThanOrEqual(TOL);
          const x = Float32Array.from(a);
          const y = new Tensor(Float32Array.from(c), 1, d);
          const pending = kit.cosineRows(x, y);
          x.fill(Number.NaN);
          y.data.fill(3);
          expect(await pending).toEqual(want);
        }
      });
    });
  }
}
