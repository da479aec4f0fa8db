import { type Backend, type Corpus, type CosineKit, createCosineKit } from '@cosinekit/core';
import { type CorpusStorage, decodeCorpusFile, encodeCorpusFile } from '@cosinekit/core/backend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, rows } from './backends.js';

/**
 * Quantised corpora lose nothing, on every backend in Node: compaction, merges and save/load keep
 * each row's score bit for bit; a saved file carries the stored representation, which every other
 * backend loads unchanged; the int8 quantiser makes the same codes on the reference and on wasm;
 * file rows of extreme magnitude search as `corpus()` of the same rows; the stated int8 bound holds
 * for rows built to reach it.
 */

const TESTED = new Set([
  'reference',
  'wasm (simd)',
  'wasm (relaxed)',
  'tfjs-wasm',
  'tfjs-cpu',
  'gpujs webasm',
  'gpujs cpu',
]);
const UNDER_TEST = BACKENDS.filter((b) => TESTED.has(b.label) && b.skip === null);

const STORAGES: [CorpusStorage, number][] = [
  ['float32', 0],
  ['float16', 0],
  ['float16', 3],
  ['int8', 0],
  ['int8', 3],
];

const D = 21;

/** Each (query, ordinal)'s score: a search of every live row. */
async function scoresByOrdinal(c: Corpus, q: Float32Array[]): Promise<Map<string, number>> {
  const r = await c.search(q, c.rows);
  const m = new Map<string, number>();
  for (let i = 0; i < q.length; i++) {
    for (let t = 0; t < c.rows; t++) m.set(`${i}:${r.indices[i * c.rows + t]}`, r.scores[i * c.rows + t]);
  }
  return m;
}

/**
 * Scores equal bit for bit, or within `tol` where the backend cannot restore its rows exactly (a
 * float32 corpus on a backend without `importCorpus` is uploaded, and so normalised, again).
 */
function expectSame(got: Map<string, number>, want: Map<string, number>, what: string, tol = 0): void {
  let n = 0;
  for (const [key, v] of got) {
    if (!want.has(key)) continue;
    n++;
    const w = want.get(key)!;
    if (tol === 0 ? !Object.is(v, w) : !(Math.abs(v - w) <= tol))
      throw new Error(`${what}: score ${key} is ${v}, was ${w}`);
  }
  expect(n, `${what}: no row in common`).toBeGreaterThan(0);
}

const split = (data: Float32Array, d: number) =>
  Array.from({ length: data.length / d }, (_, i) => data.subarray(i * d, (i + 1) * d));

const kits: { label: string; backend: Backend; kit: CosineKit }[] = [];

/**
 * Whether `backend` restores a corpus of `storage` bit for bit: quantised corpora always are (they
 * live where `exportCorpus`/`importCorpus` exist, else on the reference); float32 ones where the
 * backend implements `importCorpus`.
 */
function exact(backend: Backend, storage: CorpusStorage): boolean {
  return storage !== 'float32' || typeof backend.kernels.importCorpus === 'function';
}

beforeAll(async () => {
  for (const b of UNDER_TEST) {
    const backend = b.create();
    const kit = createCosineKit({ backend, onFallback: () => undefined });
    await kit.ready();
    kits.push({ label: b.label, backend, kit });
  }
});

afterAll(async () => {
  for (const k of kits) {
    k.kit.dispose();
    await k.backend.dispose?.();
  }
});

describe('quantised corpora lose nothing', () => {
  for (const b of UNDER_TEST) {
    it.each(STORAGES)(
      `${b.label}: %s (rerank %i) keeps every score through merges, compaction and save/load`,
      async (storage, rerank) => {
        const { kit, backend } = kits.find((k) => k.label === b.label)!;
        const tol = exact(backend, storage) ? 0 : 2e-7;
        const handles = () => backend.memory?.().residentHandles ?? 0;
        const base = handles();
        const q = split(rows(3, D, 7), D);
        const c = await kit.corpus(split(rows(30, D, 1), D), { storage, rerank });
        for (let s = 0; s < 7; s++) await c.add(split(rows(3, D, 10 + s), D)); // eight segments
        const before = await scoresByOrdinal(c, q);
        await c.add(split(rows(3, D, 20), D)); // the ninth merges them
        const merged = await scoresByOrdinal(c, q);
        expectSame(merged, before, 'after the merge', tol);
        await c.remove(Array.from({ length: 25 }, (_, i) => i)); // compacts the merged segment
        const compacted = await scoresByOrdinal(c, q);
        expectSame(compacted, merged, 'after compaction', tol);
        const bytes = await c.save();
        const back = await kit.loadCorpus(bytes);
        expect(back.storage).toBe(storage);
        const loaded = await scoresByOrdinal(back, q);
        expect(loaded.size).toBe(compacted.size);
        expectSame(loaded, compacted, 'after save/load', tol);
        const [h1, h2] = [await c.search(q, 4), await back.search(q, 4)];
        expect(Array.from(h2.indices)).toEqual(Array.from(h1.indices));
        if (tol === 0) {
          expect(Array.from(h2.scores)).toEqual(Array.from(h1.scores));
          expect(await back.save()).toEqual(bytes);
        }
        c.dispose();
        back.dispose();
        expect(handles()).toBe(base);
      },
    );
  }
});

describe('a saved file loads unchanged on every other backend', () => {
  it.each(STORAGES)('%s (rerank %i)', async (storage, rerank) => {
    const data = split(rows(40, D, 30), D);
    const q = split(rows(2, D, 31), D);
    for (const from of kits) {
      const c = await from.kit.corpus(data, { storage, rerank, ids: data.map((_, i) => `d${i}`) });
      await c.remove(['d3', 'd17']);
      const bytes = await c.save();
      c.dispose();
      for (const to of kits) {
        const back = await to.kit.loadCorpus(bytes);
        // The stored representation came through untouched...
        if (exact(to.backend, storage))
          expect(await back.save(), `${from.label} -> ${to.label}`).toEqual(bytes);
        else {
          const a = decodeCorpusFile(bytes).exact!;
          const b = decodeCorpusFile(await back.save()).exact!;
          for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThan(2e-7);
        }
        // ...and searches as it does after another round trip on the loading backend.
        const again = await to.kit.loadCorpus(await back.save());
        const [a, b] = [await back.search(q, 5), await again.search(q, 5)];
        expect(Array.from(b.indices)).toEqual(Array.from(a.indices));
        if (exact(to.backend, storage)) expect(Array.from(b.scores)).toEqual(Array.from(a.scores));
        expect(b.ids).toEqual(a.ids);
        back.dispose();
        again.dispose();
      }
    }
  });

  it('int8 codes and scales are the same whichever backend quantises', async () => {
    const x = new Float32Array([...rows(64, 37, 40), ...rows(3, 37, 41).map((v) => v * 1e-3)]);
    const saved: { label: string; file: ReturnType<typeof decodeCorpusFile> }[] = [];
    for (const { label, kit } of kits) {
      const c = await kit.corpus(split(x, 37), { storage: 'int8' });
      saved.push({ label, file: decodeCorpusFile(await c.save()) });
      c.dispose();
    }
    const [first, ...rest] = saved;
    for (const s of rest) {
      expect(Array.from(s.file.codes!), `${s.label} codes vs ${first.label}`).toEqual(
        Array.from(first.file.codes!),
      );
      expect(Array.from(s.file.scales!), `${s.label} scales vs ${first.label}`).toEqual(
        Array.from(first.file.scales!),
      );
    }
  });
});

describe('file rows are admitted as corpus() admits rows', () => {
  it('rows of subnormals and of 1e30 search as corpus() of those rows, on every backend', async () => {
    const d = 7;
    const tiny = Float32Array.from({ length: d }, (_, j) => (j + 1) * 1.4e-45 * (j % 2 ? -1 : 1));
    const huge = Float32Array.from({ length: d }, (_, j) => (j % 3 ? 1e30 : -3e30));
    const data = new Float32Array([...tiny, ...huge, ...rows(2, d, 50)]);
    const bytes = encodeCorpusFile({
      rows: 4,
      cols: d,
      storage: 'float32',
      rerank: 0,
      next: 4,
      ids: null,
      ordinals: Int32Array.from([0, 1, 2, 3]),
      exact: data,
      half: null,
      codes: null,
      scales: null,
    });
    const q = [tiny, huge, ...split(rows(2, d, 51), d)];
    for (const { label, kit } of kits) {
      const loaded = await kit.loadCorpus(bytes);
      const direct = await kit.corpus(split(data, d));
      const [a, b] = [await loaded.search(q, 4), await direct.search(q, 4)];
      expect(Array.from(a.indices), label).toEqual(Array.from(b.indices));
      for (let i = 0; i < a.scores.length; i++) {
        expect(Number.isFinite(a.scores[i]), label).toBe(true);
        expect(Math.abs(a.scores[i] - b.scores[i]), label).toBeLessThan(1e-6);
      }
      // A row's cosine with itself.
      expect(a.scores[0], label).toBeCloseTo(1, 6);
      loaded.dispose();
      direct.dispose();
    }
  });
});

describe('the int8 error bound', () => {
  /** sqrt(d) * max|x_j| / 254 of the unit row. */
  const bound = (x: Float32Array) => {
    let ss = 0;
    let m = 0;
    for (const v of x) {
      ss += v * v;
      m = Math.max(m, Math.abs(v));
    }
    return (Math.sqrt(x.length) * m) / Math.sqrt(ss) / 254;
  };
  const cos = (a: Float32Array, b: Float32Array) => {
    let s = 0;
    let na = 0;
    let nb = 0;
    for (let i = 0; i < a.length; i++) {
      s += a[i] * b[i];
      na += a[i] * a[i];
      nb += b[i] * b[i];
    }
    return s / Math.sqrt(na * nb);
  };

  it.each([5, 64, 384])('holds, and is reached, for rows built to reach it (d = %i)', async (d) => {
    // Small components just under half a step round to 0; the query sees only them.
    const row = new Float32Array(d).fill((1 / 254) * (1 - 2 ** -12));
    row[0] = 1;
    const query = new Float32Array(d).fill(1);
    query[0] = 0;
    // The query is quantised too where the engine does so (wasm): its own bound adds.
    const limit = bound(row) + bound(query) + bound(row) * bound(query) + 1e-6;
    for (const { label, kit } of kits) {
      const c = await kit.corpus([row, ...split(rows(3, d, 60), d)], { storage: 'int8', rerank: 0 });
      const got = (await c.similarity([query])).data[0];
      const err = Math.abs(got - cos(query, row));
      expect(err, label).toBeLessThanOrEqual(limit);
      expect(err, label).toBeGreaterThanOrEqual(0.95 * Math.sqrt((d - 1) / d) * bound(row));
      c.dispose();
    }
  });
});
