import { type Matrix, TopKSelector } from '@cosinekit/core/backend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WasmBackend } from '../src/index.js';
import { compileVariant } from '../src/loader.js';
import { WasmRuntime } from '../src/runtime.js';
import { POOL_MIN_K, usesPools, WasmSelection } from '../src/select.js';
import { DEFAULT_TUNING } from '../src/tuning.js';
import { backend, random } from './helpers.js';

/** Float64 cosines of every query with every row. */
function exact(q: Matrix, x: Matrix): Float64Array {
  const d = q.cols;
  const out = new Float64Array(q.rows * x.rows);
  const norm = (m: Matrix, i: number) => {
    let s = 0;
    for (let t = 0; t < d; t++) s += m.data[i * d + t] ** 2;
    return Math.sqrt(s);
  };
  const xn = Array.from({ length: x.rows }, (_, j) => norm(x, j));
  for (let i = 0; i < q.rows; i++) {
    const qn = norm(q, i);
    for (let j = 0; j < x.rows; j++) {
      let s = 0;
      for (let t = 0; t < d; t++) s += q.data[i * d + t] * x.data[j * d + t];
      const nn = qn * xn[j];
      out[i * x.rows + j] = nn === 0 ? 0 : Math.min(1, Math.max(-1, s / nn));
    }
  }
  return out;
}

/**
 * Checks a top-k against float64 cosines `want` (queries x n): per query min(k, n) distinct rows,
 * each score within `tol` of its row's exact cosine, best first, and no row left out that is better
 * by more than `tol` than the last one taken. Returns the first problem, or '' (one expect per call:
 * expect() per element is slow).
 */
function topKProblem(
  got: { indices: Int32Array; scores: Float32Array; k: number },
  want: Float64Array,
  queries: number,
  n: number,
  k: number,
  tol: number,
): string {
  const kk = Math.min(k, n);
  for (let i = 0; i < queries; i++) {
    const at = i * got.k;
    const taken = new Set<number>();
    for (let r = 0; r < kk; r++) {
      const j = got.indices[at + r];
      if (!(j >= 0 && j < n) || taken.has(j)) return `q${i} rank ${r}: row ${j}`;
      taken.add(j);
      const e = Math.abs(got.scores[at + r] - want[i * n + j]);
      if (!(e <= tol)) return `q${i} rank ${r}: row ${j} error ${e}`;
      if (r > 0 && got.scores[at + r] > got.scores[at + r - 1]) return `q${i} rank ${r}: out of order`;
    }
    const last = want[i * n + got.indices[at + kk - 1]];
    for (let j = 0; j < n; j++) {
      if (!taken.has(j) && want[i * n + j] > last + tol) return `q${i}: row ${j} left out`;
    }
  }
  return '';
}

/** True when both arrays hold the same bits. */
function sameBits(a: Int32Array | Float32Array, b: Int32Array | Float32Array): boolean {
  if (a.length !== b.length) return false;
  const u = new Int32Array(a.buffer, a.byteOffset, a.length);
  const v = new Int32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < u.length; i++) if (u[i] !== v[i]) return false;
  return true;
}

for (const variant of ['simd', 'relaxed'] as const) {
  describe(`search of few and many queries (${variant})`, () => {
    let one: WasmBackend;
    let two: WasmBackend;
    beforeAll(async () => {
      one = await backend({ variant, threads: 1 });
      // Threshold 0: even small searches are shared with the helper.
      two = await backend({ variant, threads: 2, tuning: { threadMinFlops: 0 } });
    });
    afterAll(() => {
      one.dispose();
      two.dispose();
    });

    it('matches float64 on awkward shapes, bit for bit alike on 1 and 2 threads', () => {
      // d = 1, odd d, d not a multiple of 4; N not a multiple of any panel; Q = 1..9; k > N.
      for (const [n, d] of [
        [1, 1],
        [7, 1],
        [1001, 3],
        [5003, 67],
        [2049, 96],
      ] as const) {
        const x = random(n, d, n * 31 + d);
        const c1 = one.kernels.createCorpus(x);
        const c2 = two.kernels.createCorpus(x);
        for (const m of [1, 2, 3, 4, 5, 6, 7, 8, 9]) {
          const q = random(m, d, m * 7 + d);
          const want = exact(q, x);
          for (const k of [1, 10, n + 3]) {
            const what = `${m} x ${n} x ${d}, k ${k}`;
            const s1 = one.kernels.corpusSearch(c1, q, k);
            const s2 = two.kernels.corpusSearch(c2, q, k);
            expect(topKProblem(s1, want, m, n, k, 2e-6), what).toBe('');
            expect(sameBits(s2.indices, s1.indices) && sameBits(s2.scores, s1.scores), what).toBe(true);
          }
          // The same rows tiles serve products: every score of the matrix against float64.
          const all = one.kernels.corpusMatrix(c1, q);
          let worst = 0;
          for (let t = 0; t < all.length; t++) worst = Math.max(worst, Math.abs(all[t] - want[t]));
          expect(worst, `corpusMatrix ${m} x ${n} x ${d}`).toBeLessThanOrEqual(2e-6);
          expect(sameBits(two.kernels.corpusMatrix(c2, q), all), `corpusMatrix ${m} x ${n} x ${d}`).toBe(
            true,
          );
        }
        c1.dispose();
        c2.dispose();
      }
      expect(one.memory()).toEqual({ residentHandles: 0, bytes: 0 });
      expect(two.memory()).toEqual({ residentHandles: 0, bytes: 0 });
    });

    it('ranks ties across score tiles by index', () => {
      // 70,001 rows of d = 2 (more than one tile of scores for one query): three distinct rows
      // repeated, so every score is one of three values and the best k are the first copies.
      const n = 70_001;
      const x = new Float32Array(n * 2);
      const rows = [
        [1, 0],
        [0.6, 0.8],
        [-1, 0.5],
      ];
      for (let j = 0; j < n; j++) x.set(rows[(j * 7) % 3], j * 2);
      const xm: Matrix = { data: x, rows: n, cols: 2 };
      const q: Matrix = { data: new Float32Array([1, 0, 0.6, 0.8, 0, 1]), rows: 3, cols: 2 };
      for (const b of [one, two]) {
        const c = b.kernels.createCorpus(xm);
        const r = b.kernels.corpusSearch(c, q, 40);
        c.dispose();
        for (let i = 0; i < 3; i++) {
          const idx = [...r.indices.subarray(i * 40, i * 40 + 40)];
          const sc = [...r.scores.subarray(i * 40, i * 40 + 40)];
          // Every query's best row has over 23,000 copies: the first 40 of them, in index order.
          const top = (idx[0] * 7) % 3;
          const firsts = Array.from({ length: n }, (_, j) => j)
            .filter((j) => (j * 7) % 3 === top)
            .slice(0, 40);
          expect(sc.every((v) => v === sc[0])).toBe(true);
          expect(idx).toEqual(firsts);
        }
      }
    });
  });
}

describe('the selection held in wasm (WasmSelection)', () => {
  /** Scores on a grid of 1/64, many equal, some beyond [-1, 1] (clamped as reported). */
  function fill(rt: WasmRuntime, at: number, n: number, seed: { s: number }): void {
    const f = rt.f32;
    for (let t = 0; t < n; t++) {
      seed.s = (seed.s * 1103515245 + 12345) >>> 0;
      f[(at >>> 2) + t] = Math.round(((seed.s >>> 8) / 2 ** 24) * 160 - 80) / 64;
    }
  }

  it("gives core's selector's rows and scores, on scores full of ties, heaps filled over several tiles", async () => {
    const module = await compileVariant('simd', undefined);
    const rt = new WasmRuntime(await WebAssembly.instantiate(module, {}), 'simd', DEFAULT_TUNING.simd);
    const w = 4099;
    const scores = rt.alloc(w * 4, 'test');
    const seed = { s: 12345 };
    const used = rt.heap.used;
    for (const k of [1, 2, 5, 64, 100, 5000]) {
      const a = new TopKSelector(2, k);
      const b = new WasmSelection(rt, 2, k, 2, 'test');
      for (let tile = 0; tile < 6; tile++) {
        fill(rt, scores, w, seed);
        for (const q of [0, 1]) {
          a.pushRow(q, rt.f32, scores >>> 2, tile * w, w);
          b.offer(q, scores, w, tile * w);
        }
      }
      b.done(0, 2);
      b.dispose();
      const ra = a.result();
      const rb = b.result();
      expect([...rb.indices]).toEqual([...ra.indices]);
      expect([...rb.scores]).toEqual([...ra.scores]);
    }
    expect(rt.heap.used).toBe(used);
  });

  it("gives core's selector's rows and scores on both sides of POOL_MIN_K: scores on every digit, -0 and +0, past +-1, with a filter", async () => {
    const module = await compileVariant('simd', undefined);
    const rt = new WasmRuntime(await WebAssembly.instantiate(module, {}), 'simd', DEFAULT_TUNING.simd);
    const w = 1003;
    const scores = rt.alloc(w * 4, 'test');
    const allow = rt.alloc(w, 'test');
    const used = rt.heap.used;
    let s = 777;
    const next = () => {
      s = (s * 1103515245 + 12345) >>> 0;
      return s / 2 ** 32;
    };
    // A hint of at most 4k rows a query makes heaps of k below 2 x POOL_MIN_K (a pool's read-out
    // outweighs them there); either way the answer is the same.
    for (const [k, rows] of [
      [POOL_MIN_K - 1, undefined],
      [POOL_MIN_K, undefined],
      [65, undefined],
      [300, undefined],
      [1500, undefined],
      [POOL_MIN_K, 40],
      [2 * POOL_MIN_K - 1, 4 * (2 * POOL_MIN_K - 1)],
      [2 * POOL_MIN_K, 40],
      [300, 40],
    ] as const) {
      const heaps = k < POOL_MIN_K || (rows !== undefined && k < 2 * POOL_MIN_K && rows <= 4 * k);
      expect(usesPools(k, rows), `k ${k}, rows ${rows}`).toBe(!heaps);
      for (const [filtered, zeros] of [
        [false, false],
        [true, false],
        [false, true],
        [true, true],
      ]) {
        const a = new TopKSelector(1, k);
        const b = new WasmSelection(rt, 1, k, 1, 'test', rows);
        for (let tile = 0; tile < 9; tile++) {
          const f = rt.f32;
          const mask = new Uint8Array(f.buffer, allow, w);
          for (let t = 0; t < w; t++) {
            const u = next();
            // Mostly distinct floats near the top (a cut must resolve all three digits of a key),
            // some exact ties at 0 of either sign, at +-1 and beyond it; with `zeros`, every other
            // score below 0, so the k-th falls among the ties at 1 (small k) or at 0 (large k).
            const z = zeros ? 0.15 : 0.05;
            const fixed = [0, -0, 1, 1.5, -2];
            const upTo = [z, 2 * z, 2 * z + 0.02, 2 * z + 0.03, 2 * z + 0.04];
            const at = upTo.findIndex((p) => u < p);
            f[(scores >>> 2) + t] = at >= 0 ? fixed[at] : zeros ? -next() : 2 * next() - 1;
            mask[t] = filtered && next() < 0.3 ? 0 : 1;
          }
          for (let t = 0; t < w; t++) {
            if (mask[t] === 1) a.push(0, f[(scores >>> 2) + t], tile * w + t);
          }
          b.offer(0, scores, w, tile * w, filtered ? allow : 0);
        }
        b.done(0, 1);
        b.dispose();
        const ra = a.result();
        const rb = b.result();
        expect([...rb.indices]).toEqual([...ra.indices]);
        // Bit for bit, so -0 stays -0.
        expect([...new Uint32Array(rb.scores.buffer)]).toEqual([...new Uint32Array(ra.scores.buffer)]);
      }
    }
    expect(rt.heap.used).toBe(used);
  });

  it('reads out windows of queries as they finish, and fewer rows than k as row 0, score 0', async () => {
    const module = await compileVariant('simd', undefined);
    const rt = new WasmRuntime(await WebAssembly.instantiate(module, {}), 'simd', DEFAULT_TUNING.simd);
    const w = 37;
    const queries = 7;
    const window = 3;
    const scores = rt.alloc(queries * w * 4, 'test');
    const seed = { s: 99 };
    for (const [k, tiles] of [
      [4, 3],
      [50, 1],
      [111, 3],
      [200, 3],
    ]) {
      const a = new TopKSelector(queries, k);
      const b = new WasmSelection(rt, queries, k, window, 'test');
      // Windows of 3, 3 and 1 queries, each walking its tiles before the next window starts.
      for (let q0 = 0; q0 < queries; q0 += window) {
        const count = Math.min(window, queries - q0);
        for (let tile = 0; tile < tiles; tile++) {
          fill(rt, scores, count * w, seed);
          for (let i = 0; i < count; i++) {
            a.pushRow(q0 + i, rt.f32, (scores >>> 2) + i * w, tile * w, w);
            b.offer(q0 + i, scores + i * w * 4, w, tile * w);
          }
        }
        b.done(q0, count);
      }
      b.dispose();
      const ra = a.result();
      const rb = b.result();
      expect([...rb.indices]).toEqual([...ra.indices]);
      expect([...rb.scores]).toEqual([...ra.scores]);
      if (k > w * tiles) {
        // Past the rows there were: row 0, score 0, as core's selector leaves them.
        expect(rb.indices[k - 1]).toBe(0);
        expect(rb.scores[k - 1]).toBe(0);
      }
    }
  });
});
