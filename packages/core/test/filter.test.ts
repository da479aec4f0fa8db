import { describe, expect, it } from 'vitest';
import {
  type Backend,
  CosineKitError,
  createReferenceBackend,
  type Matrix,
  type ResidentCorpus,
  referenceKernels,
} from '../src/backend.js';
import { type Corpus, createCosineKit, type SearchResult, Tensor } from '../src/index.js';
import { ReferenceCorpus } from '../src/kernels/corpus.js';
import { rows } from './fixtures/data.js';

/** The reference kernels without the optional filtered search: the kit must filter around them. */
function withoutPushdown(): Backend {
  const { corpusSearchAllowed: _drop, ...kernels } = referenceKernels;
  return { name: 'no-pushdown', kernels, memory: () => ({ residentHandles: ReferenceCorpus.live }) };
}

const kits = {
  pushdown: createCosineKit({ backend: createReferenceBackend() }),
  around: createCosineKit({ backend: withoutPushdown() }),
};

/** Exact top-k over the rows `pass` accepts, by brute force over the full similarity matrix. */
async function oracle(c: Corpus, q: Tensor, k: number, ords: number[], pass: (o: number) => boolean) {
  const m = await c.similarity(q);
  const out: number[][] = [];
  for (let i = 0; i < q.rows; i++) {
    const s = ords.map((o, j) => [m.data[i * ords.length + j], o]).filter((e) => pass(e[1]));
    s.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    out.push(s.slice(0, k).map((e) => e[1]));
  }
  return out;
}

const flat = (r: SearchResult) => Array.from({ length: r.queries }, (_, q) => Array.from(r.hits(q).indices));

for (const [name, kit] of Object.entries(kits)) {
  describe(`filtered search (${name})`, () => {
    it('allow and deny lists on a corpus made at once (an ordinal is its row) answer as masks do', async () => {
      // Removed rows, repeated, unknown, negative and fractional ordinals in the lists.
      const d = 7;
      const c = await kit.corpus(rows(400, d, 41));
      await c.remove([3, 17, 250]);
      const q = rows(5, d, 42);
      const live = Array.from({ length: 400 }, (_, o) => o).filter((o) => ![3, 17, 250].includes(o));
      const list = [3, 5, 5, 17, 99, 250, 399, 400, -1, 2.5, 1e9, ...live.filter((o) => o % 7 === 0)];
      const listed = new Set(list);
      for (const [kind, pass] of [
        ['allow', (o: number) => listed.has(o)],
        ['deny', (o: number) => !listed.has(o)],
      ] as const) {
        const mask = Uint8Array.from(live, (o) => (pass(o) ? 1 : 0));
        const byList = await c.search(q, 9, { filter: kind === 'allow' ? { allow: list } : { deny: list } });
        const byMask = await c.search(q, 9, { filter: { mask } });
        expect(Array.from(byList.indices), kind).toEqual(Array.from(byMask.indices));
        expect(Array.from(byList.scores), kind).toEqual(Array.from(byMask.scores));
      }
      c.dispose();
    });

    it('a corpus in many segments answers as one segment does, bit for bit, for k up to every row', async () => {
      // Rows 0-199 repeated at 200-399 and 400-599 (ties across segments, to the lower ordinal),
      // in segments of 37 rows; removals and a mask too. The segments' results are merged.
      const d = 5;
      const base = rows(200, d, 31).data;
      const data = new Float32Array(600 * d);
      for (let c = 0; c < 3; c++) data.set(base, c * 200 * d);
      const all = new Tensor(data, 600, d);
      const one = await kit.corpus(all);
      const many = await kit.corpusFrom([all], { segmentBytes: 37 * d * 4 });
      const q = rows(6, d, 32);
      const mask = Uint8Array.from({ length: 600 }, (_, o) => (o % 3 === 1 ? 0 : 1));
      for (const removed of [[], [0, 201, 402, 599, 36, 37]]) {
        if (removed.length) {
          await one.remove(removed);
          await many.remove(removed);
        }
        for (const k of [1, 7, 150, 400, 600 - removed.length]) {
          for (const options of [{}, { filter: { mask: mask.filter((_, o) => !removed.includes(o)) } }]) {
            const what = `k=${k}, ${removed.length} removed${'filter' in options ? ', masked' : ''}`;
            const kk = Math.min(k, 'filter' in options ? 400 - 4 : k);
            const [got, want] = [await many.search(q, kk, options), await one.search(q, kk, options)];
            expect(Array.from(got.indices), what).toEqual(Array.from(want.indices));
            expect(Array.from(got.scores), what).toEqual(Array.from(want.scores));
          }
        }
      }
      one.dispose();
      many.dispose();
    });

    it('returns the exact k best among passing rows for every filter form, across segments and removals', async () => {
      const d = 13;
      const c = await kit.corpus(rows(300, d, 3));
      await c.add(rows(211, d, 4));
      await c.add(rows(37, d, 5));
      await c.remove([2, 5, 300, 301, 547]);
      const ords = Array.from({ length: 548 }, (_, i) => i).filter((o) => ![2, 5, 300, 301, 547].includes(o));
      const q = rows(9, d, 6);
      const k = 7;
      // 1%, 10% and 60% of rows, and a set that straddles segments.
      for (const share of [0.01, 0.1, 0.6]) {
        const keep = new Set(ords.filter((o) => (o * 2654435761) % 1000 < share * 1000));
        const want = await oracle(c, q, k, ords, (o) => keep.has(o));
        const kk = Math.min(k, keep.size);
        const allow = await c.search(q, k, { filter: { allow: [...keep, 9999, -1] } });
        expect(allow.k).toBe(kk);
        expect(flat(allow)).toEqual(want);
        const deny = await c.search(q, k, { filter: { deny: ords.filter((o) => !keep.has(o)) } });
        expect(flat(deny)).toEqual(want);
        const mask = Uint8Array.from(ords, (o) => (keep.has(o) ? 1 : 0));
        expect(flat(await c.search(q, k, { filter: { mask } }))).toEqual(want);
        expect(flat(await c.search(q, k, { filter: (id) => keep.has(id as number) }))).toEqual(want);
        // Scores are the true cosines of the rows returned.
        const m = await c.similarity(q);
        for (let i = 0; i < q.rows; i++)
          allow.hits(i).indices.forEach((o, t) => {
            expect(allow.hits(i).scores[t]).toBeCloseTo(m.data[i * ords.length + ords.indexOf(o)], 6);
          });
      }
      c.dispose();
    });

    it('returns every passing row when fewer than k pass, and an empty result when none do', async () => {
      const c = await kit.corpus(rows(40, 5, 7), { ids: Array.from({ length: 40 }, (_, i) => `r${i}`) });
      const q = rows(3, 5, 8);
      const r = await c.search(q, 10, { filter: { allow: ['r3', 'r17', 'nope'] } });
      expect(r.k).toBe(2);
      for (let i = 0; i < 3; i++) expect([...r.hits(i).indices].sort((a, b) => a - b)).toEqual([3, 17]);
      expect(new Set(r.ids)).toEqual(new Set(['r3', 'r17']));
      const none = await c.search(q, 10, { filter: () => false });
      expect(none.k).toBe(0);
      expect(none.indices.length).toBe(0);
      expect(none.ids).toEqual([]);
      c.dispose();
    });

    it('uses the filter as it was when search was called', async () => {
      const c = await kit.corpus(rows(50, 4, 9));
      const q = rows(2, 4, 10);
      const allow = [1, 2, 3];
      const mask = new Uint8Array(50).fill(1);
      const a = c.search(q, 3, { filter: { allow } });
      const b = c.search(q, 50, { filter: { mask } });
      allow.length = 0;
      allow.push(40);
      mask.fill(0);
      expect([...(await a).hits(0).indices].sort((x, y) => x - y)).toEqual([1, 2, 3]);
      expect((await b).k).toBe(50);
      c.dispose();
    });
  });
}

describe('a filter every live row passes', () => {
  // A mask of ones cost 1.1-1.6x the unfiltered search on one query: it was copied, split per
  // segment and run through the filtered search.
  let filtered = 0;
  const kit = createCosineKit({
    backend: {
      name: 'counting',
      kernels: {
        ...referenceKernels,
        corpusSearchAllowed: (...a: Parameters<NonNullable<typeof referenceKernels.corpusSearchAllowed>>) => {
          filtered++;
          return referenceKernels.corpusSearchAllowed!(...a);
        },
      },
      memory: () => ({ residentHandles: ReferenceCorpus.live }),
    },
  });

  it('runs the plain search, with its answers bit for bit, whatever the filter form', async () => {
    const d = 9;
    const ids = Array.from({ length: 303 }, (_, i) => `r${i}`);
    for (const removed of [[], ['r0', 'r150', 'r302']]) {
      const c = await kit.corpus(rows(303, d, 51), { ids });
      await c.remove(removed);
      const live = ids.filter((id) => !removed.includes(id));
      const q = rows(4, d, 52);
      // With rows removed, the plain search itself skips them through the filtered kernel.
      filtered = 0;
      const want = await c.search(q, 11);
      const plain = filtered;
      // Masks at every alignment, with a tail past the last whole word.
      const backing = new Uint8Array(live.length + 3).fill(1);
      const forms = [
        ...[0, 1, 2, 3].map((at) => ({ mask: backing.subarray(at, at + live.length) })),
        { mask: new Uint8Array(new SharedArrayBuffer(live.length)).fill(1) },
        { allow: ids },
        { deny: ['nope', ...removed] },
        () => true,
      ];
      for (const [t, filter] of forms.entries()) {
        filtered = 0;
        const got = await c.search(q, 11, { filter });
        expect(filtered, `form ${t}`).toBe(plain);
        expect(Array.from(got.indices), `form ${t}`).toEqual(Array.from(want.indices));
        expect(Array.from(got.scores), `form ${t}`).toEqual(Array.from(want.scores));
        expect(got.ids, `form ${t}`).toEqual(want.ids);
      }
      // One zero anywhere is a filter again.
      for (const at of [0, live.length - 1, 4]) {
        const mask = new Uint8Array(live.length).fill(1);
        mask[at] = 0;
        filtered = 0;
        const got = await c.search(q, 11, { filter: { mask } });
        if (plain === 0) expect(filtered).toBeGreaterThan(0);
        expect(got.ids).not.toContain(live[at]);
      }
      c.dispose();
    }
  });

  it('is checked as any mask: its length against the live rows, a byte past 1 named', async () => {
    const c = await kit.corpus(rows(10, 3, 53));
    const q = rows(1, 3, 54);
    await expect(c.search(q, 2, { filter: { mask: new Uint8Array(11).fill(1) } })).rejects.toMatchObject({
      code: 'SHAPE_MISMATCH',
      op: 'search',
      arg: 'options.filter.mask',
    });
    const mask = new Uint8Array(10).fill(1);
    mask[9] = 2;
    await expect(c.search(q, 2, { filter: { mask } })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      arg: 'options.filter.mask[9]',
    });
    c.dispose();
  });
});

describe('filters that follow the query, around a plain search', () => {
  it("passing rows among a query's worst, or its best rows denied: exact, settled in a second pass", async () => {
    // Queries 0-3 get filters built from their own scores (the first wide search holds no passing
    // row for them), queries 4-7 random ones (settled by the first pass): the second pass takes
    // only the queries left, by k plus every failing row or by their cosines.
    const d = 11;
    const n = 4000;
    const k = 5;
    const c = await kits.around.corpus(rows(n, d, 91));
    const q = rows(8, d, 92);
    const m = await c.similarity(q);
    const ords = Array.from({ length: n }, (_, j) => j);
    const byScore = (i: number) =>
      ords.slice().sort((a, b) => m.data[i * n + b] - m.data[i * n + a] || a - b);
    const orders = Array.from({ length: 4 }, (_, i) => byScore(i));
    for (const [what, passOf] of [
      // The 10% of rows that score lowest for queries 0-3: the first search, of the best
      // 2kN/passing = 100, holds none of them; k plus every failing row is most of the rows, so
      // their cosines are taken.
      ['the worst 10%', (i: number, o: number) => (i < 4 ? orders[i].indexOf(o) >= n - 400 : o % 10 === 7)],
      // Every query's own best 60 rows denied (k + 60 failing rows: one search of that width).
      ['the best 60 denied', (i: number, o: number) => (i < 4 ? orders[i].indexOf(o) >= 60 : o % 67 !== 3)],
    ] as const) {
      // A filter is one mask for all queries: each query here is searched on its own.
      for (let i = 0; i < 8; i++) {
        const mask = Uint8Array.from(ords, (o) => (passOf(i, o) ? 1 : 0));
        const qi = rows(8, d, 92).data.subarray(i * d, (i + 1) * d);
        const got = await c.search([Array.from(qi)], k, { filter: { mask } });
        const want = ords
          .filter((o) => mask[o] === 1)
          .sort((a, b) => m.data[i * n + b] - m.data[i * n + a] || a - b);
        expect(Array.from(got.indices), `${what}, query ${i}`).toEqual(want.slice(0, k));
      }
      // And all eight in one call with one filter: queries 0-3 need the second pass, 4-7 not.
      const mask = Uint8Array.from(ords, (o) => (passOf(0, o) ? 1 : 0));
      const got = await c.search(q, k, { filter: { mask } });
      for (let i = 0; i < 8; i++) {
        const want = ords
          .filter((o) => mask[o] === 1)
          .sort((a, b) => m.data[i * n + b] - m.data[i * n + a] || a - b);
        expect(Array.from(got.hits(i).indices), `${what}, one call, query ${i}`).toEqual(want.slice(0, k));
      }
    }
    c.dispose();
  });
});

describe('bad filters', () => {
  const kit = kits.pushdown;
  const bad: [unknown, string, string][] = [
    [42, 'INVALID_TYPE', 'options.filter'],
    [[1, 2], 'INVALID_TYPE', 'options.filter'],
    [{}, 'INVALID_ARGUMENT', 'options.filter'],
    [{ allow: [1], deny: [2] }, 'INVALID_ARGUMENT', 'options.filter'],
    [{ allow: 'abc' }, 'INVALID_TYPE', 'options.filter.allow'],
    [{ deny: [1, Number.NaN] }, 'INVALID_TYPE', 'options.filter.deny[1]'],
    [{ mask: [1, 0] }, 'INVALID_TYPE', 'options.filter.mask'],
    [{ mask: Uint8Array.of(1, 2, 0) }, 'INVALID_ARGUMENT', 'options.filter.mask[1]'],
    [{ mask: new Uint8Array(3) }, 'SHAPE_MISMATCH', 'options.filter.mask'],
  ];
  for (const [filter, code, arg] of bad) {
    it(`refuses ${JSON.stringify(filter) ?? String(filter)} with ${code} on ${arg}`, async () => {
      const c = await kit.corpus(rows(10, 3, 11));
      const e = await c.search(rows(1, 3, 12), 2, { filter: filter as never }).catch((x) => x);
      expect(e).toBeInstanceOf(CosineKitError);
      expect(e).toMatchObject({ code, op: 'search', arg });
      // The corpus still answers.
      expect((await c.search(rows(1, 3, 12), 2)).k).toBe(2);
      c.dispose();
    });
  }

  it('names the first byte of a mask that is not 0 or 1, wherever it lies (read four at a time)', async () => {
    const c = await kit.corpus(rows(23, 3, 11));
    for (const at of [0, 3, 4, 5, 19, 20, 22]) {
      const mask = new Uint8Array(23).fill(1);
      mask[at] = 2 + at;
      if (at + 2 < 23) mask[at + 2] = 9;
      await expect(c.search(rows(1, 3, 12), 2, { filter: { mask } })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        arg: `options.filter.mask[${at}]`,
        message: expect.stringContaining(`got ${2 + at}`),
      });
    }
    // A Buffer's view at an odd offset of a shared pool is copied and read the same way.
    const pool = new Uint8Array(40).fill(1);
    const view = pool.subarray(7, 30);
    view[6] = 3;
    await expect(c.search(rows(1, 3, 12), 2, { filter: { mask: view } })).rejects.toMatchObject({
      arg: 'options.filter.mask[6]',
    });
    view[6] = 0;
    const r = await c.search(rows(1, 3, 12), 23, { filter: { mask: view } });
    expect(r.k).toBe(22);
    expect(Array.from(r.indices)).not.toContain(6);
    c.dispose();
  });

  it('refuses a predicate that does not answer true or false (an async one)', async () => {
    const c = await kit.corpus(rows(10, 3, 13));
    const e = await c.search(rows(1, 3, 12), 2, { filter: (async () => false) as never }).catch((x) => x);
    expect(e).toMatchObject({ code: 'INVALID_TYPE', op: 'search', arg: 'options.filter' });
    c.dispose();
  });

  it('names a throwing predicate', async () => {
    const c = await kit.corpus(rows(10, 3, 13));
    const e = await c
      .search(rows(1, 3, 12), 2, {
        filter: () => {
          throw new Error('boom');
        },
      })
      .catch((x) => x);
    expect(e).toMatchObject({ code: 'INVALID_ARGUMENT', op: 'search', arg: 'options.filter' });
    expect(e.message).toContain('boom');
    c.dispose();
  });
});

describe('a narrow filter on a backend that cannot filter', () => {
  it('selects among the passing columns of the cosines rather than asking for a top-k of most rows, with the same answers', async () => {
    // The widened search asked such a backend for a top-k of every row when few passed: on
    // tfjs-wasm 25-67x an unfiltered search (a slow-shape probe).
    const asked: number[] = [];
    let matrices = 0;
    const { corpusSearchAllowed: _, ...plain } = referenceKernels;
    const kernels = {
      ...plain,
      corpusSearch: (h: ResidentCorpus, q: Matrix, k: number) => {
        asked.push(k);
        return referenceKernels.corpusSearch(h, q, k);
      },
      corpusMatrix: (h: ResidentCorpus, q: Matrix, out?: Float32Array) => {
        matrices++;
        return referenceKernels.corpusMatrix(h, q, out);
      },
    };
    const data = Array.from({ length: 2000 }, (_, i) => [Math.sin(i), Math.cos(i * 1.3), (i % 11) - 5, 1]);
    const q = data.slice(0, 6);
    const mask = new Uint8Array(2000);
    for (const i of [3, 400, 401, 999, 1500, 1999, 7, 12]) mask[i] = 1;
    const narrow = await createCosineKit({
      backend: { ...createReferenceBackend(), name: 'plain', kernels },
    }).corpus(data);
    const got = await narrow.search(q, 5, { filter: { mask } });
    expect(matrices).toBeGreaterThan(0);
    expect(Math.max(0, ...asked)).toBeLessThan(100);
    const want = await (await createCosineKit({ backend: 'reference' }).corpus(data)).search(q, 5, {
      filter: { mask },
    });
    expect(Array.from(got.indices)).toEqual(Array.from(want.indices));
    expect(Array.from(got.scores)).toEqual(Array.from(want.scores));
  });
});
