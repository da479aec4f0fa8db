import {
  type CorpusOptions,
  type Matrix,
  type ResidentCorpus,
  referenceKernels,
  type TopKResult,
} from '@cosinekit/core/backend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatherBelow } from '../src/filtered.js';
import type { WasmBackend } from '../src/index.js';
import { backend, expectClose, random } from './helpers.js';

/** The listed rows of `m`, in order. */
function pick(m: Matrix, rows: number[]): Matrix {
  const out = new Float32Array(rows.length * m.cols);
  rows.forEach((r, i) => {
    out.set(m.data.subarray(r * m.cols, (r + 1) * m.cols), i * m.cols);
  });
  return { data: out, rows: rows.length, cols: m.cols };
}

/** Rows whose hashed number falls under `share` (at least one), spread over the corpus. */
function passing(n: number, share: number, seed: number): number[] {
  const pass = Array.from({ length: n }, (_, i) => i).filter(
    (i) => ((Math.imul(i + seed, 2654435761) >>> 0) % 10007) / 10007 < share,
  );
  return pass.length > 0 ? pass : [n - 1];
}

const STORAGES: CorpusOptions[] = [
  {},
  { storage: 'float16' },
  { storage: 'int8' },
  { storage: 'int8', rerank: 3 },
];

/**
 * corpusSearchAllowed on wasm: on each shape, storage and share (both sides of the gather
 * crossover), the result is exactly an unfiltered search of a corpus holding only the passing rows
 * (same scores, bit for bit, same order), mapped back to the rows' numbers; float32 scores are
 * within float32 rounding of the float64 reference.
 */
describe.each([1, 2])('corpusSearchAllowed (%i thread(s))', (threads) => {
  let b: WasmBackend;
  beforeAll(async () => {
    b = await backend({ variant: 'simd', threads });
  });
  afterAll(() => b.dispose());

  const shapes = [
    { n: 1, d: 1, q: 1 },
    { n: 7, d: 3, q: 2 },
    { n: 33, d: 5, q: 5 },
    { n: 517, d: 17, q: 3 },
    { n: 4099, d: 64, q: 9 },
    { n: 1500, d: 384, q: 4 },
  ];
  for (const s of shapes) {
    it(`${s.q} queries x ${s.n} x d=${s.d}`, () => {
      const x = random(s.n, s.d, s.n + s.d);
      const q = random(s.q, s.d, 7);
      for (const options of STORAGES) {
        // Both sides of the crossover between gathering the passing rows and streaming them all,
        // with and without helper threads sharing the stream.
        const shares = [0.001, 0.05, 0.6, 1];
        for (const threaded of [false, true]) {
          const at = gatherBelow(s.q, s.d, options.storage !== undefined, threaded);
          shares.push(Math.max(0.001, at - 0.01), Math.min(1, at + 0.01));
        }
        const c = b.kernels.createCorpus(x, options);
        for (const share of shares) {
          const pass = passing(s.n, share, s.d);
          const allow = new Uint8Array(s.n);
          for (const i of pass) allow[i] = 1;
          for (const k of [1, Math.min(10, pass.length), Math.min(pass.length, 257)]) {
            const what = `${JSON.stringify(options)} share ${share} (${pass.length} pass) k ${k}`;
            const r = b.kernels.corpusSearchAllowed(c, q, k, allow);
            expect(r.k, what).toBe(k);
            for (const i of r.indices) expect(allow[i], `${what}: row ${i} does not pass`).toBe(1);
            const sub = b.kernels.createCorpus(pick(x, pass), options);
            const want = b.kernels.corpusSearch(sub, q, k);
            sub.dispose();
            expect(Array.from(r.indices), what).toEqual(Array.from(want.indices, (j) => pass[j]));
            expect(Array.from(r.scores), what).toEqual(Array.from(want.scores));
            if (!options.storage) {
              const rc = referenceKernels.createCorpus(x) as ResidentCorpus;
              const exact = referenceKernels.corpusSearchAllowed!(rc, q, k, allow) as TopKResult;
              rc.dispose();
              expectClose(r.scores, exact.scores, 1e-5);
            }
          }
        }
        c.dispose();
      }
    });
  }

  it('tiles that all pass, none or some, over two chunks of queries, k past a tile', () => {
    // 300 queries: chunks of 256 and 44, tiles of 256 rows; the mask passes whole tiles, skips
    // whole tiles, and passes every third row of others.
    const n = 3000;
    const d = 8;
    const x = random(n, d, 41);
    const q = random(300, d, 43);
    const allow = new Uint8Array(n);
    for (let j = 0; j < n; j++) {
      const tile = Math.floor(j / 256) % 3;
      allow[j] = tile === 0 ? 1 : tile === 1 ? 0 : j % 3 === 0 ? 1 : 0;
    }
    const pass = Array.from({ length: n }, (_, j) => j).filter((j) => allow[j] === 1);
    for (const options of STORAGES) {
      const c = b.kernels.createCorpus(x, options);
      const sub = b.kernels.createCorpus(pick(x, pass), options);
      for (const k of [1, 10, 300]) {
        const what = `${JSON.stringify(options)} k ${k}`;
        const r = b.kernels.corpusSearchAllowed(c, q, k, allow);
        const want = b.kernels.corpusSearch(sub, q, k);
        expect(Array.from(r.indices), what).toEqual(Array.from(want.indices, (j) => pass[j]));
        expect(Array.from(r.scores), what).toEqual(Array.from(want.scores));
      }
      sub.dispose();
      c.dispose();
    }
  });

  it('a corpus of another backend or a disposed one is refused with a typed error', () => {
    const c = b.kernels.createCorpus(random(5, 3, 1));
    c.dispose();
    expect(() => b.kernels.corpusSearchAllowed(c, random(1, 3, 2), 1, new Uint8Array(5).fill(1))).toThrow(
      /disposed/,
    );
    const rc = referenceKernels.createCorpus(random(5, 3, 1)) as ResidentCorpus;
    expect(() => b.kernels.corpusSearchAllowed(rc, random(1, 3, 2), 1, new Uint8Array(5).fill(1))).toThrow(
      /belongs to backend 'reference'/,
    );
    rc.dispose();
    expect(b.memory().residentHandles).toBe(0);
  });
});
