import { ACTIVATIONS, type Matrix } from '@cosinekit/core/backend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TILES, type WasmBackend } from '../src/index.js';
import { backend, expectClose, random, ref, tolFor, VARIANTS } from './helpers.js';

/** Awkward shapes: dimensions off the 4-float step, single rows, rows that do not divide the tiles. */
const DIMS = [1, 3, 5, 17, 1536];
const SHAPES: [number, number][] = [
  [1, 1],
  [1, 7],
  [2, 13],
  [5, 3],
  [7, 29],
  [13, 40],
];

for (const variant of VARIANTS) {
  describe(`wasm kernels (${variant})`, () => {
    let b: WasmBackend;
    beforeAll(async () => {
      b = await backend({ variant });
    });
    afterAll(() => b.dispose());

    it('reports the variant it runs', () => {
      expect(b.variant).toBe(variant);
      expect(b.describe().variant).toBe(variant);
      expect(b.name).toBe('wasm');
    });

    for (const d of DIMS) {
      it(`rowNorms, normalizeRows, cosineRows at d=${d}`, () => {
        const x = random(7, d, d);
        const y = random(7, d, d + 1);
        expectClose(b.kernels.rowNorms(x), ref.rowNorms(x), 1e-6 * 8);
        expectClose(b.kernels.normalizeRows(x), ref.normalizeRows(x), 1e-6);
        expectClose(b.kernels.cosineRows(x, y), ref.cosineRows(x, y), tolFor(d));
      });

      // The answers of up to 64 rows are read one by one, of more as a block: both sides, with an
      // out the caller gave.
      it(`cosineRows of 64, 65 and 5,000 rows at d=${d}`, () => {
        for (const rows of [64, 65, 5000]) {
          const x = random(rows, d, d + rows);
          const y = random(rows, d, d + rows + 1);
          const out = new Float32Array(rows);
          expect(b.kernels.cosineRows(x, y, out)).toBe(out);
          expectClose(out, ref.cosineRows(x, y), tolFor(d));
        }
      });

      it(`cosineMatrix, topK and resident corpora at d=${d}`, () => {
        for (const [m, n] of SHAPES) {
          const q = random(m, d, m * 31 + d);
          const c = random(n, d, n * 17 + d);
          const want = ref.cosineMatrix(q, c);
          expectClose(b.kernels.cosineMatrix(q, c), want, tolFor(d));
          const k = Math.min(3, n);
          const top = b.kernels.topK(q, c, k);
          const best = ref.topK(q, c, k);
          expectClose(top.scores, best.scores, tolFor(d));
          const corpus = b.kernels.createCorpus(c);
          expect(corpus.backend).toBe('wasm');
          expectClose(b.kernels.corpusMatrix(corpus, q), want, tolFor(d));
          const s = b.kernels.corpusSearch(corpus, q, k);
          expectClose(s.scores, best.scores, tolFor(d));
          corpus.dispose();
        }
        expect(b.memory()).toEqual({ residentHandles: 0, bytes: 0 });
      });

      it(`matmul in all four transpose cases at k=${d}`, () => {
        for (const [m, n] of SHAPES) {
          for (const ta of [false, true]) {
            for (const tb of [false, true]) {
              const a = ta ? random(d, m, m + d) : random(m, d, m + d);
              const bm = tb ? random(n, d, n * 3 + d) : random(d, n, n * 3 + d);
              const got = b.kernels.matmul(a, bm, ta, tb);
              const want = ref.matmul(a, bm, ta, tb);
              // Products of values in [-1, 1): error relative to d.
              expectClose(got, want, 1e-6 * d + 1e-6);
            }
          }
        }
      });
    }

    it('single query rows never write past the end of a row', () => {
      // Rows left over below the query tile run a row kernel over pairs of corpus panels; for 3-row
      // panels a pair is 6 columns stored as two vectors (8 floats): with exactly 7 columns left,
      // the spare lane fell on the next row's first output (5 x 20011: row 4, column 0).
      for (const [m, n] of [
        [5, 20011],
        [2, 13],
        [1, 7],
        [3, 23],
      ]) {
        const q = random(m, 67, m + 7 * 67);
        const x = random(n, 67, n + 67);
        expectClose(b.kernels.cosineMatrix(q, x), ref.cosineMatrix(q, x), tolFor(67));
      }
    });

    it('top-k ties go to the lower index', () => {
      const row = random(1, 9, 5).data;
      const c: Matrix = { data: new Float32Array(9 * 6), rows: 6, cols: 9 };
      for (const r of [1, 3, 4]) c.data.set(row, r * 9);
      const top = b.kernels.topK({ data: row, rows: 1, cols: 9 }, c, 3);
      expect([...top.indices]).toEqual([1, 3, 4]);
    });

    it('zero vectors give cosine 0', () => {
      const z: Matrix = { data: new Float32Array(10), rows: 2, cols: 5 };
      const x = random(2, 5, 9);
      expect([...b.kernels.cosineMatrix(z, x)]).toEqual([0, 0, 0, 0]);
      expect([...b.kernels.cosineRows(z, x)]).toEqual([0, 0]);
      expect([...b.kernels.normalizeRows(z)]).toEqual(new Array(10).fill(0));
    });

    it('addBias, activation and activationGrad match the reference', () => {
      for (const [r, c] of [
        [1, 1],
        [3, 5],
        [4, 17],
      ]) {
        const x = random(r, c, r + c);
        const dy = random(r, c, r * c);
        const bias = random(1, c, 7).data;
        expectClose(b.kernels.addBias(x, bias), ref.addBias(x, bias), 1e-7);
        for (const kind of ACTIVATIONS) {
          expectClose(b.kernels.activation(kind, x), ref.activation(kind, x), 1e-7);
          expectClose(b.kernels.activationGrad(kind, x, dy), ref.activationGrad(kind, x, dy), 1e-7);
        }
      }
    });

    it('addBias, activation and activationGrad are self-checked: a non-finite value is refused, not answered', () => {
      expect(b.selfChecked).toEqual(expect.arrayContaining(['addBias', 'activation', 'activationGrad']));
      // Odd lengths, the bad value first, in the SIMD body and in the scalar tail.
      for (const [r, c, at] of [
        [1, 1, 0],
        [3, 5, 7],
        [2, 7, 13],
      ]) {
        for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
          const x = random(r, c, 3);
          x.data[at] = bad;
          const out = new Float32Array(r * c).fill(7);
          const refused = { code: 'BACKEND_ERROR', kernel: 'addBias', backend: 'wasm' };
          expect(() => b.kernels.addBias(x, new Float32Array(c), out)).toThrow(
            expect.objectContaining(refused),
          );
          // Nothing was written into out.
          expect(out.every((v) => v === 7)).toBe(true);
          expect(() => b.kernels.activation('linear', x)).toThrow(
            /kernel 'activation'\): returned (NaN|-?Infinity) among its values/,
          );
          expect(() => b.kernels.activationGrad('linear', random(r, c, 4), x)).toThrow(
            expect.objectContaining({ code: 'BACKEND_ERROR', kernel: 'activationGrad' }),
          );
        }
        // Finite inputs whose sum overflows float32.
        const big = { data: new Float32Array(r * c).fill(3e38), rows: r, cols: c };
        expect(() => b.kernels.addBias(big, new Float32Array(c).fill(3e38))).toThrow(/returned Infinity/);
      }
      // An answer that would hide a non-finite input (relu(NaN) is 0, tanh(Infinity) is 1, relu's
      // derivative at NaN is 0) is refused too, in the SIMD body and the scalar tail: the kit
      // then names the caller's input (it answered 0 before).
      for (const n of [2, 5]) {
        for (const bad of [Number.NaN, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY]) {
          const x = { data: new Float32Array(n).fill(2), rows: 1, cols: n };
          x.data[n - 1] = bad;
          const given =
            /kernel 'activation(Grad)?'\): (was given NaN or ±Infinity|returned (NaN|-?Infinity) among its values)/;
          for (const kind of ['relu', 'tanh', 'sigmoid', 'gelu'] as const) {
            expect(() => b.kernels.activation(kind, x), `${kind}(${bad})`).toThrow(given);
            expect(() => b.kernels.activationGrad(kind, x, random(1, n, 5)), `${kind}'(${bad})`).toThrow(
              given,
            );
          }
        }
      }
      // Finite inputs answer as before.
      expect([...b.kernels.activation('relu', { data: Float32Array.of(-1, 2), rows: 1, cols: 2 })]).toEqual([
        0, 2,
      ]);
    });

    it("columnSums: the reference's bits (the contract's order), within float32 of float64, on awkward shapes", () => {
      for (const [r, c] of [
        [0, 3],
        [1, 1],
        [7, 1],
        [1, 5],
        [3, 4],
        [5, 7],
        [9, 17],
        [256, 64],
        [128, 257],
      ]) {
        // Values over many decades, so the order and the rounding of every add show in the bits;
        // a -0 column start checks the +0 the sums start from.
        const x = random(r, c, r + c);
        for (let i = 0; i < x.data.length; i++) x.data[i] *= 10 ** ((i % 9) - 4);
        if (r > 0) x.data[0] = -0;
        const got = b.kernels.columnSums(x);
        const want = ref.columnSums(x);
        expect(new Uint32Array(got.buffer), `${r} x ${c}`).toEqual(new Uint32Array(want.buffer));
        // Against float64 sums: float32 rounding of each of r adds, relative to the absolute sum.
        for (let j = 0; j < c; j++) {
          let s = 0;
          let a = 0;
          for (let i = 0; i < r; i++) {
            s += x.data[i * c + j];
            a += Math.abs(x.data[i * c + j]);
          }
          expect(Math.abs(got[j] - s)).toBeLessThanOrEqual(r * 6e-8 * a + 1e-45);
        }
        const out = new Float32Array(c).fill(7);
        expect(b.kernels.columnSums(x, out)).toBe(out);
        expect(new Uint32Array(out.buffer)).toEqual(new Uint32Array(want.buffer));
      }
    });

    it('columnSums refuses bad shapes by name and non-finite sums, and returns its memory', () => {
      const used = b.memory().bytes;
      const shape = { code: 'SHAPE_MISMATCH', op: 'columnSums' };
      expect(() => b.kernels.columnSums({ data: new Float32Array(5), rows: 2, cols: 3 })).toThrow(
        expect.objectContaining({ ...shape, arg: 'x' }),
      );
      expect(() => b.kernels.columnSums({ data: new Float32Array(0), rows: 0, cols: 0 })).toThrow(
        expect.objectContaining({ ...shape, arg: 'x' }),
      );
      expect(() => b.kernels.columnSums(random(2, 3, 1), new Float32Array(2))).toThrow(
        expect.objectContaining({ ...shape, arg: 'out' }),
      );
      expect(() =>
        b.kernels.columnSums({ data: [1, 2] as unknown as Float32Array, rows: 1, cols: 2 }),
      ).toThrow(expect.objectContaining({ code: 'INVALID_TYPE', arg: 'x.data' }));
      for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
        const x = random(3, 5, 2);
        x.data[12] = bad;
        const out = new Float32Array(5).fill(7);
        expect(() => b.kernels.columnSums(x, out)).toThrow(
          expect.objectContaining({ code: 'BACKEND_ERROR', kernel: 'columnSums', backend: 'wasm' }),
        );
        expect(out.every((v) => v === 7)).toBe(true);
      }
      // Finite values whose sum overflows float32, in the SIMD lanes and in the scalar tail.
      const big = { data: new Float32Array(2 * 5).fill(3e38), rows: 2, cols: 5 };
      expect(() => b.kernels.columnSums(big)).toThrow(/returned Infinity/);
      expect(b.memory().bytes).toBe(used);
    });

    it('writes into the given out array', () => {
      const q = random(3, 6, 1);
      const c = random(5, 6, 2);
      const out = new Float32Array(15);
      expect(b.kernels.cosineMatrix(q, c, out)).toBe(out);
      expectClose(out, ref.cosineMatrix(q, c), 1e-6);
    });
  });
}

function transpose(x: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = x[i * cols + j];
  return t;
}

describe('every register tile of the dot-product engine', () => {
  for (const tile of TILES) {
    it(`tile ${tile} on ragged shapes`, async () => {
      const b = await backend({ variant: 'simd', tuning: { tile, blockBytes: 256 } });
      try {
        for (const [m, n, d] of [
          [1, 1, 3],
          [5, 27, 9],
          [13, 50, 64],
          [8, 12, 16],
        ]) {
          const q = random(m, d, m + n);
          const c = random(n, d, n + d);
          expectClose(b.kernels.cosineMatrix(q, c), ref.cosineMatrix(q, c), tolFor(d));
          expectClose(b.kernels.matmul(q, c, false, true), ref.matmul(q, c, false, true), 1e-6 * d);
          // Both operands transposed on the way in: the transposing packer at this tile's panel sizes.
          const at = { data: transpose(q.data, m, d), rows: d, cols: m };
          const bt = { data: transpose(c.data, n, d), rows: d, cols: n };
          expectClose(b.kernels.matmul(at, bt, true, false), ref.matmul(at, bt, true, false), 1e-6 * d);
        }
      } finally {
        b.dispose();
      }
    });
  }
});

describe('a lone query row (the stream tiles)', () => {
  // Rows per query panel of each tile (its R); corpus panels hold C rows.
  const R = (tile: string) => Number(tile.split('x')[0]);
  for (const variant of VARIANTS) {
    for (const tile of TILES) {
      it(`scores the same bits alone, in a query panel, in a rows tile and left over: ${variant}, tile ${tile}`, async () => {
        // blockBytes 256: one corpus panel per block, so a row left over after full query panels
        // streams blocks of one panel; 4096: blocks of several panels, streamed in parts.
        for (const blockBytes of [256, 4096]) {
          const b = await backend({ variant, threads: 1, tuning: { tile, blockBytes } });
          try {
            // N: fewer panels than streams, a multiple of them, and not; d = 1, odd, off the
            // 4-float step, one long row.
            for (const [n, d] of [
              [1, 1],
              [3, 5],
              [7, 17],
              [8, 16],
              [9, 3],
              [33, 97],
              [1001, 67],
              [37, 1536],
            ] as const) {
              const what = `${n} x ${d}, blockBytes ${blockBytes}`;
              const x = random(n, d, n * 13 + d);
              // One row copied to the first row, a quarter, the middle and the last row: in
              // different streams, or in the panels left over after them.
              for (const j of [n >> 2, n >> 1, n - 1]) x.data.copyWithin(j * d, 0, d);
              const q1 = random(1, d, d + 5);
              const m = 2 * R(tile) + 1;
              const q = random(m, d, m + d);
              q.data.set(q1.data, 0);
              q.data.set(q1.data, (m - 1) * d);
              const c = b.kernels.createCorpus(x);
              const alone = b.kernels.corpusMatrix(c, q1);
              expectClose(alone, ref.cosineMatrix(q1, x), tolFor(d));
              for (const j of [n >> 2, n >> 1, n - 1]) {
                expect(Object.is(alone[j], alone[0]), `${what}: row ${j} vs row 0`).toBe(true);
              }
              const batch = b.kernels.corpusMatrix(c, q);
              expectClose(batch, ref.cosineMatrix(q, x), tolFor(d));
              const first = new Uint32Array(batch.buffer, 0, n);
              const last = new Uint32Array(batch.buffer, (m - 1) * n * 4, n);
              const lone = new Uint32Array(alone.buffer);
              expect([...first], `${what}: in a query panel`).toEqual([...lone]);
              expect([...last], `${what}: left over`).toEqual([...lone]);
              // Two query rows, fewer than a panel: a rows tile (streamed where it fits).
              const pair = b.kernels.corpusMatrix(c, { data: q.data.slice(0, 2 * d), rows: 2, cols: d });
              expectClose(
                pair.subarray(n),
                ref.cosineMatrix({ data: q.data.slice(d, 2 * d), rows: 1, cols: d }, x),
                tolFor(d),
              );
              expect([...new Uint32Array(pair.buffer, 0, n)], `${what}: in a rows tile`).toEqual([...lone]);
              // The search reads the same scores, and ties (the copies) go to the lower index.
              const s = b.kernels.corpusSearch(c, q1, n + 2);
              const order = Array.from(alone.keys()).sort((u, v) => alone[v] - alone[u] || u - v);
              expect([...s.indices.subarray(0, n)], what).toEqual(order);
              c.dispose();
            }
          } finally {
            b.dispose();
          }
        }
      });
    }
  }
});
