import { describe, expect, it } from 'vitest';
import {
  argError,
  type Backend,
  createReferenceBackend,
  type Kernels,
  type ResidentCorpus,
  referenceKernels,
  type StoredCorpus,
} from '../src/backend.js';
import { createCosineKit, type SearchResult, Tensor } from '../src/index.js';
import { failure, rows } from './fixtures/data.js';

/**
 * The reference backend, counting the rows each merge rebuilds: by its own `mergeCorpora`, or
 * (`merges` false) without it, by `importCorpus` of the gathered rows. The engine is the real one.
 */
function watched(merges: boolean): { backend: Backend; rebuilt: number[] } {
  const ref = createReferenceBackend();
  const rebuilt: number[] = [];
  const backend: Backend = {
    ...ref,
    name: 'reference',
    kernels: {
      ...referenceKernels,
      importCorpus: (s: StoredCorpus) => {
        rebuilt.push(s.rows);
        return referenceKernels.importCorpus!(s);
      },
      mergeCorpora: merges
        ? (hs: readonly ResidentCorpus[], drop: readonly Uint8Array[]) => {
            const h = referenceKernels.mergeCorpora!(hs, drop) as ResidentCorpus;
            rebuilt.push(h.rows);
            return h;
          }
        : undefined,
    },
  };
  return { backend, rebuilt };
}

/** Exact float64 top-k by ordinal over `live` (ordinal -> row), ties to the lower ordinal. */
function brute(q: Tensor, live: Map<number, Float32Array>, k: number): number[][] {
  return Array.from({ length: q.rows }, (_, i) => {
    const qi = q.data.subarray(i * q.cols, (i + 1) * q.cols);
    const scored = [...live].map(([o, r]) => {
      let dot = 0;
      let nq = 0;
      let nr = 0;
      for (let c = 0; c < q.cols; c++) {
        dot += qi[c] * r[c];
        nq += qi[c] * qi[c];
        nr += r[c] * r[c];
      }
      return [Math.fround(dot / Math.sqrt(nq * nr)), o];
    });
    scored.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    return scored.slice(0, k).map((e) => e[1]);
  });
}

describe.each([
  ['its own mergeCorpora', true],
  ['gathering and importCorpus', false],
] as const)('size-tiered segment merging, by %s', (_, merges) => {
  it('keeps O(log rows) segments over many small adds, rewrites each row O(log rows) times, and stays exact', async () => {
    const { backend, rebuilt } = watched(merges);
    const ref = backend.memory!;
    const kit = createCosineKit({ backend });
    const d = 7;
    const live = new Map<number, Float32Array>();
    const first = rows(5, d, 1);
    const c = await kit.corpus(first, { ids: Array.from({ length: 5 }, (_, i) => `r${i}`) });
    for (let j = 0; j < 5; j++) live.set(j, first.data.slice(j * d, (j + 1) * d));
    let next = 5;
    let seed = 2;
    let most = 0;
    // 300 adds of 1 to 37 rows (sizes from a fixed sequence): 5,000-odd rows.
    for (let a = 0; a < 300; a++) {
      const n = 1 + ((a * 17) % 37);
      const t = rows(n, d, seed++);
      await c.add(
        t,
        Array.from({ length: n }, (_, j) => `r${next + j}`),
      );
      for (let j = 0; j < n; j++) live.set(next + j, t.data.slice(j * d, (j + 1) * d));
      next += n;
      const segments = ref().residentHandles;
      most = Math.max(most, segments);
      // A run of segments that halves each time: at most log2(rows) + 1 of them.
      expect(segments, `after add ${a} (${c.rows} rows)`).toBeLessThanOrEqual(
        Math.floor(Math.log2(c.rows)) + 1,
      );
    }
    expect(most).toBeGreaterThan(3);
    // Rows rewritten by merges, per row: logarithmic (a merge of everything at each add would be ~150).
    const rewritten = rebuilt.reduce((x, y) => x + y, 0);
    expect(rewritten).toBeGreaterThan(c.rows);
    expect(rewritten / c.rows).toBeLessThanOrEqual(Math.log2(c.rows) + 1);

    // Remove rows spread over every segment, then search: exact against float64, with and without a filter.
    const gone = Array.from({ length: 400 }, (_, i) => `r${(i * 13) % next}`);
    const removed = await c.remove(gone);
    for (const id of new Set(gone)) live.delete(Number(id.slice(1)));
    expect(c.rows).toBe(live.size);
    expect(removed).toBe(new Set(gone).size);
    const q = rows(3, d, 999);
    for (const k of [1, 9, 64]) {
      const r = await c.search(q, k);
      const want = brute(q, live, k);
      expect(Array.from({ length: 3 }, (_, i) => Array.from(r.indices.subarray(i * k, (i + 1) * k)))).toEqual(
        want,
      );
      expect(r.ids!.slice(0, k)).toEqual(want[0].map((o) => `r${o}`));
    }
    const even = (id: string | number) => Number(String(id).slice(1)) % 2 === 0;
    const f = await c.search(q, 12, { filter: even });
    const evenLive = new Map([...live].filter(([o]) => o % 2 === 0));
    expect(Array.from(f.indices.subarray(0, 12))).toEqual(brute(q, evenLive, 12)[0]);
    // One corpus built from the same rows at once gives the same scores, bit for bit.
    const all = [...live.values()];
    const whole = await kit.corpus(new Tensor(Float32Array.from(all.flatMap((r) => [...r])), all.length, d));
    const a = await c.search(q, 20);
    const b = await whole.search(q, 20);
    expect(Array.from(a.scores)).toEqual(Array.from(b.scores));
    whole.dispose();
    c.dispose();
    expect(ref().residentHandles).toBe(0);
  });

  it('never merges segments at or past the limit (corpusFrom segments), only the small ones after them', async () => {
    const { backend, rebuilt } = watched(merges);
    const kit = createCosineKit({ backend });
    const d = 5;
    const all = rows(1000, d, 3);
    const chunks = function* () {
      for (let i = 0; i < 1000; i += 50) yield all.slice(i, i + 50);
    };
    // Segments of 100 rows: ten, each at the limit.
    const c = await kit.corpusFrom(chunks(), { segmentBytes: 100 * d * 4 });
    expect(backend.memory!().residentHandles).toBe(10);
    const extra: Float32Array[] = [];
    for (let a = 0; a < 60; a++) {
      const t = rows(1 + (a % 6), d, 100 + a);
      extra.push(t.data);
      await c.add(t);
      // A merge builds at most 100 rows: the big segments are never copied.
      expect(Math.max(0, ...rebuilt)).toBeLessThanOrEqual(100);
    }
    const segments = backend.memory!().residentHandles;
    expect(segments).toBeGreaterThan(10);
    expect(segments).toBeLessThanOrEqual(10 + 2 * Math.ceil(Math.log2(100)));
    // Exact against the same rows searched as one corpus.
    const joined = new Float32Array(all.data.length + extra.reduce((x, e) => x + e.length, 0));
    joined.set(all.data);
    let at = all.data.length;
    for (const e of extra) {
      joined.set(e, at);
      at += e.length;
    }
    const whole = await kit.corpus(new Tensor(joined, joined.length / d, d));
    const q = rows(4, d, 77);
    const r1 = await c.search(q, 33);
    const r2 = await whole.search(q, 33);
    expect(Array.from(r1.indices)).toEqual(Array.from(r2.indices));
    expect(Array.from(r1.scores)).toEqual(Array.from(r2.scores));
    c.dispose();
    whole.dispose();
    expect(backend.memory!().residentHandles).toBe(0);
  });
});

describe('a segment with removed rows (below the half that compacts it)', () => {
  it('is searched for k rows among its live ones, not for k plus every removed row (up to 18x the work), with the same answers', async () => {
    for (const filters of [true, false]) {
      const asked: number[] = [];
      const kernels = { ...referenceKernels };
      kernels.corpusSearch = (h, q, k) => {
        asked.push(k);
        return referenceKernels.corpusSearch(h, q, k);
      };
      if (filters)
        kernels.corpusSearchAllowed = (h, q, k, allow) => {
          asked.push(k);
          return referenceKernels.corpusSearchAllowed!(h, q, k, allow);
        };
      else delete kernels.corpusSearchAllowed;
      const kit = createCosineKit({ backend: { ...createReferenceBackend(), name: 'asked', kernels } });
      const data = rows(100, 8, 3);
      const corpus = await kit.corpus(data);
      const gone = Array.from({ length: 40 }, (_, i) => i * 2);
      expect(await corpus.remove(gone)).toBe(40);
      const q = rows(5, 8, 4);
      asked.length = 0;
      const got = await corpus.search(q, 3);
      // Without a filter kernel the kit widens around the plain search as for a filter, from
      // 2k x rows / live (10 here; it asked for k + 40 = 43), or, on a segment this small, selects
      // among the live columns of its cosines.
      expect(Math.max(0, ...asked), `filters: ${filters}`).toBeLessThanOrEqual(filters ? 3 : 10);
      if (filters) expect(asked).toEqual([3]);
      // The answers of a corpus holding only the live rows, bit for bit.
      const live = new Tensor(
        data.data.filter((_, i) => !gone.includes(Math.floor(i / 8))),
        60,
        8,
      );
      const fresh = await createCosineKit({ backend: 'reference' }).corpus(live);
      const want = await fresh.search(q, 3);
      const ord = Array.from({ length: 100 }, (_, i) => i).filter((i) => !gone.includes(i));
      expect(Array.from(got.indices)).toEqual(Array.from(want.indices, (i) => ord[i]));
      expect(Array.from(got.scores)).toEqual(Array.from(want.scores));
    }
  });
});

describe('similarity over several segments', () => {
  it('answers bit for bit as one segment of the live rows, in bands of queries, with removed rows and into out', async () => {
    const kit = createCosineKit({ backend: 'reference' });
    const data = rows(30_000, 4, 5);
    const corpus = await kit.corpus(new Tensor(data.data.slice(0, 20_000 * 4), 20_000, 4));
    corpus.mergeBytes = 0; // keep the added rows a segment of their own
    await corpus.add(new Tensor(data.data.slice(20_000 * 4), 10_000, 4));
    const gone = Array.from({ length: 3000 }, (_, i) => i * 7 + 3);
    await corpus.remove(gone);
    // 60 queries x 20,000 rows is past the 2^20-float scratch: two bands.
    const q = rows(60, 4, 6);
    const dead = new Set(gone);
    const keep = data.data.filter((_, i) => !dead.has(Math.floor(i / 4)));
    const fresh = await kit.corpus(new Tensor(keep, keep.length / 4, 4));
    const want = await fresh.similarity(q);
    const got = await corpus.similarity(q);
    const differ = (x: Float32Array) => x.filter((v, i) => !Object.is(v, want.data[i])).length;
    expect(got.shape).toEqual(want.shape);
    expect(differ(got.data)).toBe(0);
    const out = new Float32Array(got.data.length);
    await corpus.similarity(q, { out });
    expect(differ(out)).toBe(0);
    kit.dispose();
  });
});

describe('ids', () => {
  it('follow their rows through merges, compaction, save and load; a removed id can be added again', async () => {
    const kit = createCosineKit({ backend: createReferenceBackend() });
    const d = 5;
    const idOf = (o: number) => (o % 3 === 0 ? o * 10 : `id-${o}`);
    const first = rows(40, d, 7);
    const c = await kit.corpus(first, { ids: Array.from({ length: 40 }, (_, o) => idOf(o)) });
    const live = new Map<number, Float32Array>();
    for (let o = 0; o < 40; o++) live.set(o, first.data.slice(o * d, (o + 1) * d));
    let next = 40;
    for (let a = 0; a < 12; a++) {
      const t = rows(3 + a, d, 100 + a);
      await c.add(
        t,
        Array.from({ length: t.rows }, (_, j) => idOf(next + j)),
      );
      for (let j = 0; j < t.rows; j++) live.set(next + j, t.data.slice(j * d, (j + 1) * d));
      next += t.rows;
    }
    // Most of the first segment goes (it is compacted), and rows of later ones.
    const gone = [...Array.from({ length: 30 }, (_, o) => o), 41, 45, 60, 77, 90];
    expect(await c.remove(gone.map(idOf))).toBe(gone.length);
    for (const o of gone) live.delete(o);
    // A removed id is free again: it names the new row.
    const again = rows(1, d, 555);
    await c.add(again, [idOf(0)]);
    live.set(next, again.data.slice());
    const expectIds = (r: SearchResult, k: number) => {
      const want = brute(q, live, k);
      for (let i = 0; i < q.rows; i++)
        expect(r.ids!.slice(i * k, (i + 1) * k)).toEqual(
          want[i].map((o) => (o === next ? idOf(0) : idOf(o))),
        );
    };
    const q = rows(4, d, 999);
    const k = live.size;
    expectIds(await c.search(q, k), k);
    const back = await kit.loadCorpus(await c.save());
    expectIds(await back.search(q, k), k);
    // Ids keep working on the loaded copy: removing by id, filtering by id.
    expect(await back.remove([idOf(0), 'id-31'])).toBe(2);
    live.delete(next);
    live.delete(31);
    expectIds(await back.search(q, 7), 7);
    const f = await back.search(q, 3, { filter: { allow: [idOf(32), idOf(33)] } });
    expect(f.ids!.slice(0, 2).sort()).toEqual([idOf(32), idOf(33)].sort());
    kit.dispose();
  });
});

describe('mergeCorpora', () => {
  const storages = [
    ['float32', {}],
    ['float16', { storage: 'float16' }],
    ['int8', { storage: 'int8' }],
    ['int8 without re-ranking', { storage: 'int8', rerank: 0 }],
  ] as const;

  it.each(storages)(
    'the reference keeps the rows not dropped, in order, stored bit for bit as gathering them would (%s)',
    async (_, options) => {
      const table = await createCosineKit({ backend: 'reference' }).kernels();
      const parts = [rows(7, 5, 1), rows(1, 5, 2), rows(13, 5, 3)];
      const hs = await Promise.all(parts.map((p) => table.createCorpus(p, options)));
      const drop = [
        Uint8Array.of(1, 0, 0, 1, 0, 1, 0),
        Uint8Array.of(0),
        new Uint8Array(13).map((_, i) => (i % 3 === 0 ? 1 : 0)),
      ];
      drop[2][4] = 1;
      const merged = await table.mergeCorpora!(hs, drop);
      const got = await table.exportCorpus!(merged);
      const kept: number[][] = [];
      const wanted = await Promise.all(hs.map((h) => table.exportCorpus!(h)));
      wanted.forEach((s, p) => {
        for (let j = 0; j < s.rows; j++) if (drop[p][j] === 0) kept.push([p, j]);
      });
      expect(got.rows).toBe(kept.length);
      const d = 5;
      for (const key of ['exact', 'half', 'codes'] as const) {
        expect(got[key] === null).toBe(wanted[0][key] === null);
        if (!got[key]) continue;
        const want = kept.flatMap(([p, j]) => Array.from(wanted[p][key]!.subarray(j * d, (j + 1) * d)));
        expect(Array.from(got[key]!)).toEqual(want);
      }
      if (got.scales) expect(Array.from(got.scales)).toEqual(kept.map(([p, j]) => wanted[p].scales![j]));
      // The parts are untouched and still the caller's to dispose.
      expect(hs.every((h) => !h.disposed)).toBe(true);
      for (const h of [...hs, merged]) h.dispose();
    },
  );

  it('refuses bad arguments by name, through the kit’s kernel table', async () => {
    const table = await createCosineKit({ backend: 'reference' }).kernels();
    const a = await table.createCorpus(rows(3, 4, 1));
    const b = await table.createCorpus(rows(2, 5, 2));
    const i8 = await table.createCorpus(rows(2, 4, 3), { storage: 'int8' });
    const gone = await table.createCorpus(rows(2, 4, 4));
    gone.dispose();
    const run = (hs: unknown, drop: unknown) =>
      failure((async () => table.mergeCorpora!(hs as ResidentCorpus[], drop as Uint8Array[]))());
    expect(await run([], [])).toMatchObject({ code: 'INVALID_ARGUMENT', op: 'mergeCorpora', arg: 'corpora' });
    expect(await run([a], [])).toMatchObject({ code: 'SHAPE_MISMATCH', arg: 'drop' });
    expect(await run([a], [new Uint8Array(2)])).toMatchObject({ code: 'SHAPE_MISMATCH', arg: 'drop[0]' });
    expect(await run([a], [[0, 0, 0]])).toMatchObject({ code: 'SHAPE_MISMATCH', arg: 'drop[0]' });
    expect(await run([a], [Uint8Array.of(0, 2, 0)])).toMatchObject({
      code: 'INVALID_ARGUMENT',
      arg: 'drop[0][1]',
    });
    expect(await run([a], [Uint8Array.of(1, 1, 1)])).toMatchObject({ code: 'EMPTY_INPUT', arg: 'drop' });
    expect(await run([a, b], [new Uint8Array(3), new Uint8Array(2)])).toMatchObject({
      code: 'INVALID_ARGUMENT',
      arg: 'corpora[1]',
      message: expect.stringMatching(/5 wide, float32: corpora\[0\] is 4 wide, float32/),
    });
    expect(await run([a, i8], [new Uint8Array(3), new Uint8Array(2)])).toMatchObject({
      code: 'INVALID_ARGUMENT',
      arg: 'corpora[1]',
    });
    expect(await run([a, gone], [new Uint8Array(3), new Uint8Array(2)])).toMatchObject({
      code: 'DISPOSED',
      arg: 'corpora[1]',
    });
    expect(await run([a, null], [new Uint8Array(3), new Uint8Array(2)])).toMatchObject({
      code: 'INVALID_TYPE',
      arg: 'corpus',
    });
    for (const h of [a, b, i8]) h.dispose();
  });

  /** A corpus after adds that merge and removes that compact, on a backend with `merge` as its mergeCorpora. */
  async function churned(merge: Kernels['mergeCorpora']) {
    const kernels: Kernels = { ...referenceKernels, mergeCorpora: merge };
    const imported: number[] = [];
    kernels.importCorpus = (s) => {
      imported.push(s.rows);
      return referenceKernels.importCorpus!(s);
    };
    const backend: Backend = { ...createReferenceBackend(), name: 'merging', kernels };
    // Reference corpora are counted across instances: this corpus's segments are the difference.
    const before = backend.memory!().residentHandles;
    const kit = createCosineKit({ backend });
    const c = await kit.corpus(rows(4, 6, 1), { ids: ['a0', 'a1', 'a2', 'a3'] });
    for (let a = 1; a < 12; a++) await c.add(rows(3, 6, 10 + a), [`b${a}`, `c${a}`, `d${a}`]);
    await c.remove(['a1', 'c3', 'b7', 'd7', 'c7', 'b2']);
    return { kit, c, imported, live: backend.memory!().residentHandles - before };
  }

  it.each([
    ['UNSUPPORTED', () => argError('UNSUPPORTED', 'mergeCorpora', 'corpora[1]', 'is in another memory.')],
    // A backend that spread the reference's kernels over corpora of its own: the reference's merge
    // refused its handles as foreign, and its segments were never merged again.
    [
      'a refusal of its own',
      () => argError('INVALID_ARGUMENT', 'mergeCorpora', 'corpora[0]', 'belongs to another backend.'),
    ],
  ] as const)(
    'a merge that fails (%s) is gathered and imported by the kit instead, with the same answers',
    async (_, fail) => {
      const want = await churned(referenceKernels.mergeCorpora);
      const got = await churned(fail);
      expect(want.imported).toEqual([]);
      expect(got.imported.length).toBeGreaterThan(3);
      expect(got.live).toBe(want.live);
      const q = rows(4, 6, 99);
      expect(await got.c.save()).toEqual(await want.c.save());
      const [x, y] = [await got.c.search(q, 9), await want.c.search(q, 9)];
      expect(x.ids).toEqual(y.ids);
      expect(Array.from(x.scores)).toEqual(Array.from(y.scores));
      got.c.dispose();
      want.c.dispose();
    },
  );

  it('a merge answered with the wrong handle is released and the rows gathered by the kit instead: the same answers', async () => {
    const want = await churned(undefined);
    let bad = 0;
    const got = await churned((hs, drop) => {
      bad++;
      // One row short: refused by the kit (BACKEND_ERROR), which the upkeep absorbs.
      const h = referenceKernels.mergeCorpora!(hs, drop) as ResidentCorpus;
      const short = referenceKernels.mergeCorpora!(
        [h],
        [Uint8Array.from({ length: h.rows }, (_, i) => (i === 0 ? 1 : 0))],
      );
      h.dispose();
      return short;
    });
    expect(bad).toBeGreaterThan(3);
    // Merged as without the kernel, the bad handles released.
    expect(got.imported.length).toBeGreaterThan(3);
    expect(got.live).toBe(want.live);
    const q = rows(4, 6, 99);
    const [x, y] = [await got.c.search(q, 9), await want.c.search(q, 9)];
    expect(x.ids).toEqual(y.ids);
    expect(Array.from(x.scores)).toEqual(Array.from(y.scores));
    got.c.dispose();
    want.c.dispose();
  });

  it.each([
    [
      'one of its parts (never disposed by the kit: the corpus failed with DISPOSED)',
      (hs: readonly ResidentCorpus[]) => hs[0],
    ],
    ['its last part', (hs: readonly ResidentCorpus[]) => hs[hs.length - 1]],
    [
      "another backend's corpus",
      (hs: readonly ResidentCorpus[]) => {
        const h = referenceKernels.mergeCorpora!(
          hs,
          hs.map((x) => new Uint8Array(x.rows)),
        ) as ResidentCorpus;
        return {
          backend: 'elsewhere',
          rows: h.rows,
          cols: h.cols,
          storage: h.storage,
          disposed: false,
          dispose: () => h.dispose(),
        };
      },
    ],
  ] as const)(
    'a merge answered with %s is refused, and the rows gathered by the kit: the same answers',
    async (_, answer) => {
      const want = await churned(undefined);
      const got = await churned((hs) => answer(hs));
      expect(got.live).toBe(want.live);
      const q = rows(4, 6, 97);
      const [x, y] = [await got.c.search(q, 9), await want.c.search(q, 9)];
      expect(x.ids).toEqual(y.ids);
      expect(Array.from(x.scores)).toEqual(Array.from(y.scores));
      expect(await got.c.save()).toEqual(await want.c.save());
      got.c.dispose();
      want.c.dispose();
    },
  );

  it('hands the backend copies of its marks: a backend writing to them changes nothing', async () => {
    const want = await churned(referenceKernels.mergeCorpora);
    const got = await churned((hs, drop) => {
      const h = referenceKernels.mergeCorpora!(hs, drop);
      for (const m of drop) m.fill(1);
      return h;
    });
    const q = rows(4, 6, 98);
    expect(await got.c.save()).toEqual(await want.c.save());
    expect((await got.c.search(q, 30)).ids).toEqual((await want.c.search(q, 30)).ids);
    got.c.dispose();
    want.c.dispose();
  });
});
