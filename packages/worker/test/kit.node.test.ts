import { getEventListeners } from 'node:events';
import { Worker } from 'node:worker_threads';
import {
  type CosineKit,
  CosineKitError,
  createCosineKit,
  isCosineKitError,
  SearchResult,
  Tensor,
  tensor,
} from '@cosinekit/core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createWorkerKit, WorkerCorpus, type WorkerKit } from '../src/index.js';
import { handlesOf } from '../src/kit.js';
import { copy, mat } from './fixtures/data.js';

/** The same calls on both kits give the same numbers: the worker runs core's code on its own copy. */
let local: CosineKit;
let remote: WorkerKit;

beforeAll(async () => {
  local = createCosineKit({ backend: 'reference' });
  remote = await createWorkerKit({ backend: 'reference' });
});
afterAll(() => {
  local.dispose();
  remote.dispose();
});

/** What a caller sees of an error, for comparing the two kits'. */
async function failure(p: Promise<unknown>): Promise<Record<string, unknown>> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(CosineKitError);
    const k = e as CosineKitError;
    return { name: k.name, code: k.code, op: k.op, arg: k.arg, message: k.message };
  }
  throw new Error('expected the call to reject');
}

/** Float64 cosine of two rows. */
function cos64(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return aa === 0 || bb === 0 ? 0 : ab / Math.sqrt(aa * bb);
}

/** A resizable ArrayBuffer (ES2024; this project's lib predates it). */
function resizable(bytes: number, max: number): ArrayBuffer & { resize(n: number): void } {
  return new (
    ArrayBuffer as unknown as new (
      n: number,
      o: { maxByteLength: number },
    ) => ArrayBuffer & { resize(n: number): void }
  )(bytes, { maxByteLength: max });
}

describe('every public operation gives what the in-process kit gives', () => {
  // Awkward widths: 1, odd, not a multiple of 4; one row, and a few.
  for (const d of [1, 17, 67]) {
    it(`the dense operations, d = ${d}`, async () => {
      const a = mat(7, d, 3);
      const b = mat(7, d, 4);
      const one = mat(1, d, 5);
      expect(await remote.rowNorms(a)).toEqual(await local.rowNorms(a));
      expect((await remote.normalize(a)).data).toEqual((await local.normalize(a)).data);
      expect(await remote.cosineRows(a, b)).toEqual(await local.cosineRows(a, b));
      const m = await remote.cosineMatrix(a, b);
      expect(m).toBeInstanceOf(Tensor);
      expect(m.shape).toEqual([7, 7]);
      expect(m.data).toEqual((await local.cosineMatrix(a, b)).data);
      for (let i = 0; i < 7; i++)
        for (let j = 0; j < 7; j++)
          expect(Math.abs(m.data[i * 7 + j] - cos64(a.row(i), b.row(j)))).toBeLessThan(1e-6);
      const t = await remote.topK(one, b, 3);
      expect(t).toBeInstanceOf(SearchResult);
      expect(t.toArray()).toEqual((await local.topK(one, b, 3)).toArray());
      // Arrays of numbers and of Float32Array rows cross as they are.
      expect(await remote.rowNorms([Array.from(one.data)])).toEqual(await local.rowNorms(one));
      expect(await remote.rowNorms([one.data])).toEqual(await local.rowNorms(one));
    });
  }

  it('corpora: search (plain, filtered), similarity, add, remove, save and load', async () => {
    const d = 33;
    const n = 101;
    const data = mat(n, d, 7);
    const ids = Array.from({ length: n }, (_, i) => `r${i}`);
    const q = mat(5, d, 8);
    const L = await local.corpus(data, { ids });
    const R = await remote.corpus(data, { ids });
    expect(R).toBeInstanceOf(WorkerCorpus);
    expect([R.rows, R.cols, R.backend, R.storage]).toEqual([L.rows, L.cols, L.backend, L.storage]);
    const same = async (k: number, o: object = {}) =>
      expect((await R.search(q, k, o)).toArray()).toEqual((await L.search(q, k, o)).toArray());
    await same(10);
    await same(4, { filter: { allow: ['r3', 'r50', 'r99', 'nope'] } });
    await same(6, { filter: { deny: ids.slice(0, 60) } });
    const mask = new Uint8Array(n).map((_, i) => (i % 3 === 0 ? 1 : 0));
    await same(5, { filter: { mask } });
    expect((await R.similarity(q)).data).toEqual((await L.similarity(q)).data);
    // options.out: checked in the worker as core checks it, the answer copied into it.
    const out = new Float32Array(5 * n).fill(Number.NaN);
    const into = await R.similarity(q, { out });
    expect(into.data).toBe(out);
    expect(out).toEqual((await L.similarity(q)).data);
    const t = new Tensor(new Float32Array(5 * n), 5, n);
    expect((await R.similarity(q, { out: t })).data).toBe(t.data);
    expect(t.data).toEqual(out);
    const m = new Float32Array(5 * n);
    expect((await remote.cosineMatrix(q, data, { out: m })).data).toBe(m);
    expect(m).toEqual((await local.cosineMatrix(q, data)).data);
    // Only out's length crosses; a view into a larger buffer gets the answer and nothing around it.
    const host = new Float32Array(5 * n + 8).fill(7);
    const part = host.subarray(3, 3 + 5 * n);
    expect((await R.similarity(q, { out: part })).data).toBe(part);
    expect(part).toEqual(out);
    expect([...host.subarray(0, 3), ...host.subarray(3 + 5 * n)]).toEqual([7, 7, 7, 7, 7, 7, 7, 7]);
    // A shared out is written by the worker in place, at its offset.
    const shared = new Float32Array(new SharedArrayBuffer((5 * n + 2) * 4)).fill(Number.NaN);
    const sharedPart = shared.subarray(1, 1 + 5 * n);
    expect((await R.similarity(q, { out: sharedPart })).data).toBe(sharedPart);
    expect(Float32Array.from(sharedPart)).toEqual(out);
    expect([shared[0], shared[5 * n + 1]]).toEqual([Number.NaN, Number.NaN]);
    const sharedM = new Float32Array(new SharedArrayBuffer(5 * n * 4));
    expect((await remote.cosineMatrix(q, data, { out: new Tensor(sharedM, 5, n) })).data).toBe(sharedM);
    expect(Float32Array.from(sharedM)).toEqual(m);

    const more = mat(9, d, 9);
    const moreIds = Array.from({ length: 9 }, (_, i) => `m${i}`);
    await Promise.all([L.add(more, moreIds), R.add(more, moreIds)]);
    expect(R.rows).toBe(110);
    const gone = ids.filter((_, i) => i % 2 === 1);
    expect(await R.remove(gone)).toBe(await L.remove(gone));
    expect(R.rows).toBe(L.rows);
    await same(7);
    expect((await R.similarity(q)).data).toEqual((await L.similarity(q)).data);

    // Saved bytes are the same file, and each kit loads the other's.
    const bytes = await R.save();
    expect(bytes).toEqual(await L.save());
    const back = await remote.loadCorpus(bytes);
    expect(back.rows).toBe(L.rows);
    expect((await back.search(q, 7)).toArray()).toEqual((await L.search(q, 7)).toArray());
    const there = await local.loadCorpus(await back.save());
    expect((await there.search(q, 7)).toArray()).toEqual((await L.search(q, 7)).toArray());

    for (const c of [L, R, back, there]) c.dispose();
    expect(R.disposed).toBe(true);
    expect((await failure(R.search(q, 1))).code).toBe('DISPOSED');
  });

  it('quantised storage gives the same stored rows and scores', async () => {
    const data = mat(64, 24, 11);
    const q = mat(3, 24, 12);
    for (const storage of ['int8', 'float16'] as const) {
      const L = await local.corpus(data, { storage, rerank: 8 });
      const R = await remote.corpus(data, { storage, rerank: 8 });
      expect(R.storage).toBe(storage);
      expect((await R.search(q, 5)).toArray()).toEqual((await L.search(q, 5)).toArray());
      expect(await R.save()).toEqual(await L.save());
      L.dispose();
      R.dispose();
    }
  });

  it('corpusFrom: sync and async streams, with ids and progress, pulled one chunk ahead', async () => {
    const d = 19;
    const chunks = [0, 1, 2, 3].map((s) => mat(10 + s, d, 20 + s));
    const withIds = chunks.map((c, s) => ({
      rows: c,
      ids: Array.from({ length: c.rows }, (_, i) => s * 100 + i),
    }));
    const seen: number[] = [];
    const pulled: number[] = [];
    async function* slow() {
      for (let s = 0; s < withIds.length; s++) {
        pulled.push(s);
        yield withIds[s];
      }
    }
    const R = await remote.corpusFrom(slow(), { segmentBytes: 1, onProgress: (r) => seen.push(r) });
    const L = await local.corpusFrom(withIds, { segmentBytes: 1 });
    expect(R.rows).toBe(L.rows);
    expect(seen).toEqual([10, 21, 33, 46]);
    expect(pulled).toEqual([0, 1, 2, 3]);
    const q = mat(4, d, 30);
    expect((await R.search(q, 6)).toArray()).toEqual((await L.search(q, 6)).toArray());
    expect(await R.save()).toEqual(await L.save());
    // A plain array of chunks, Tensors among them.
    const T = await remote.corpusFrom([chunks[0], Array.from({ length: 11 }, (_, i) => chunks[1].row(i))]);
    expect(T.rows).toBe(21);
    for (const c of [R, L, T]) c.dispose();
  });

  it('ready, ranBy and kernels', async () => {
    const info = await remote.ready();
    expect(info.backend).toBe('reference');
    expect(remote.ranBy('corpusSearch')).toBe('reference');
    // What is no kernel's name: refused as core refuses it (a revoked Proxy threw a raw TypeError).
    const revoked = Proxy.revocable({}, {});
    revoked.revoke();
    for (const bad of [Object.create(null), revoked.proxy, 'nope']) {
      let w: unknown;
      let l: unknown;
      try {
        remote.ranBy(bad as never);
      } catch (e) {
        w = e;
      }
      try {
        local.ranBy(bad as never);
      } catch (e) {
        l = e;
      }
      expect(w).toBeInstanceOf(CosineKitError);
      const [a, b] = [w as CosineKitError, l as CosineKitError];
      expect([a.code, a.op, a.arg, a.message]).toEqual([b.code, b.op, b.arg, b.message]);
    }
    const e = await failure(remote.kernels());
    expect(e.code).toBe('UNSUPPORTED');
  });

  it('the wasm backend in the worker scores as it does in this thread', async () => {
    await import('@cosinekit/backend-wasm/register');
    const lw = createCosineKit({ backend: 'wasm' });
    const rw = await createWorkerKit({ backends: ['wasm'], backend: 'wasm' });
    try {
      expect((await rw.ready()).backend).toBe('wasm');
      const data = mat(257, 45, 40);
      const q = mat(6, 45, 41);
      const L = await lw.corpus(data);
      const R = await rw.corpus(data);
      const a = await L.search(q, 9);
      const b = await R.search(q, 9);
      expect(b.indices).toEqual(a.indices);
      for (let i = 0; i < a.scores.length; i++)
        expect(Math.abs(a.scores[i] - b.scores[i])).toBeLessThan(1e-6);
      expect(await rw.cosineRows(q, q)).toEqual(await lw.cosineRows(q, q));
    } finally {
      lw.dispose();
      rw.dispose();
    }
  });
});

describe('errors come back as the in-process kit raises them', () => {
  const d = 5;
  const good = mat(4, d, 50);
  const cases: [string, (k: CosineKit | WorkerKit) => Promise<unknown>][] = [
    ['empty rows', (k) => k.rowNorms([])],
    ['NaN', (k) => k.normalize([[1, Number.NaN]])],
    ['float64 rows', (k) => k.rowNorms(new Float64Array(4) as unknown as Float32Array)],
    ['ragged rows', (k) => k.normalize([[1, 2], [3]])],
    ['paired rows of different shapes', (k) => k.cosineRows([[1, 2]], [[1, 2, 3]])],
    ['k = 0', (k) => k.topK([[1, 2]], [[1, 2]], 0)],
    ['bad storage', (k) => k.corpus(good, { storage: 'int4' as 'int8' })],
    ['repeated ids', (k) => k.corpus(good, { ids: [1, 2, 2, 3] })],
    ['garbage bytes', (k) => k.loadCorpus(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]))],
    ['bytes not a Uint8Array', (k) => k.loadCorpus([1, 2] as unknown as Uint8Array)],
    ['a source that is not iterable', (k) => k.corpusFrom(5 as unknown as Iterable<Float32Array>)],
    ['a ragged stream', (k) => k.corpusFrom([[[1, 2]], [[1, 2, 3]]])],
    ['a stream of nothing', (k) => k.corpusFrom([])],
    ['a function as rows', (k) => k.rowNorms((() => 1) as unknown as Float32Array)],
    ['a disposed tensor', (k) => k.rowNorms(disposedTensor())],
  ];
  for (const [what, call] of cases) {
    it(what, async () => {
      const want = await failure(call(local));
      expect(await failure(call(remote))).toEqual(want);
    });
  }

  const corpusCases: [string, (c: LooseCorpus) => Promise<unknown>][] = [
    ['queries of another width', (c) => c.search([[1, 2]], 1)],
    ['k past the rows', (c) => c.search(good.slice(0, 1), 9)],
    ['a filter of the wrong type', (c) => c.search(good.slice(0, 1), 1, { filter: 7 })],
    [
      'a mask of the wrong length',
      (c) => c.search(good.slice(0, 1), 1, { filter: { mask: new Uint8Array(2) } }),
    ],
    ['two filter kinds', (c) => c.search(good.slice(0, 1), 1, { filter: { allow: [1], deny: [2] } })],
    ['a signal that is not one', (c) => c.search(good.slice(0, 1), 1, { signal: 5 })],
    ['options that are not an object', (c) => c.similarity(good.slice(0, 1), 3)],
    ['an out of the wrong length', (c) => c.similarity(good.slice(0, 1), { out: new Float32Array(3) })],
    ['an out that is not a Float32Array', (c) => c.similarity(good.slice(0, 1), { out: [0, 0, 0, 0] })],
    [
      'a shared out of the wrong length',
      (c) => c.similarity(good.slice(0, 1), { out: new Float32Array(new SharedArrayBuffer(12)) }),
    ],
    ['an out of another float type', (c) => c.similarity(good.slice(0, 1), { out: new Float64Array(4) })],
    ['ids that are not an array', (c) => c.remove(3)],
    ['removing every row', (c) => c.remove([0, 1, 2, 3])],
    ['adding rows of another width', (c) => c.add([[1, 2]])],
  ];
  for (const [what, call] of corpusCases) {
    it(`corpus: ${what}`, async () => {
      const L = await local.corpus(good);
      const R = await remote.corpus(good);
      const want = await failure(call(L as never));
      expect(await failure(call(R as never))).toEqual(want);
      expect(R.rows).toBe(L.rows);
      L.dispose();
      R.dispose();
    });
  }

  it('a predicate filter is refused with INVALID_TYPE: it cannot run in the worker', async () => {
    const R = await remote.corpus(good);
    const e = await failure(R.search(good.slice(0, 1), 1, { filter: () => true }));
    expect([e.code, e.op, e.arg]).toEqual(['INVALID_TYPE', 'search', 'options.filter']);
    R.dispose();
  });

  it('an id or filter id that cannot be sent is INVALID_TYPE naming that element, as core names it (was the whole argument)', async () => {
    const rows = mat(4, 3, 50);
    const ids = ['r0', 'r1', 'r2', 'r3'];
    const R = await remote.corpus(rows, { ids });
    const L = await local.corpus(rows, { ids });
    const q = mat(1, 3, 9);
    const more = mat(2, 3, 8);
    const fn = () => 1;
    type Searchable = Pick<typeof L, 'search' | 'add' | 'remove'>;
    const cases: [string, (c: Searchable) => Promise<unknown>][] = [
      ['options.filter.allow[1]', (c) => c.search(q, 1, { filter: { allow: ['r0', fn as never] } })],
      ['options.filter.deny[0]', (c) => c.search(q, 1, { filter: { deny: [Symbol('s') as never] } })],
      ['ids[1]', (c) => c.add(more, ['x', fn as never])],
      ['ids[1]', (c) => c.remove(['r0', fn as never])],
    ];
    for (const [arg, call] of cases) {
      const [r, l] = [await failure(call(R)), await failure(call(L))];
      expect([r.code, r.arg], arg).toEqual(['INVALID_TYPE', arg]);
      expect([l.code, l.arg], arg).toEqual(['INVALID_TYPE', arg]);
    }
    // kit.corpus names its ids option after the rows, `ids[i]`, in both kits.
    const bad = ['a', { toString: () => 'b' } as never];
    expect([
      (await failure(remote.corpus(more, { ids: bad }))).arg,
      (await failure(local.corpus(more, { ids: bad }))).arg,
    ]).toEqual(['ids[1]', 'ids[1]']);
    R.dispose();
    L.dispose();
  });

  it('an id or filter list claiming 2^32 - 1 ids is refused as core refuses it, before it is copied (copied whole, it ended the calling process)', async () => {
    const rows = mat(4, 3, 53);
    const ids = ['r0', 'r1', 'r2', 'r3'];
    const R = await remote.corpus(rows, { ids });
    const L = await local.corpus(rows, { ids });
    const q = rows.slice(0, 1);
    const huge = () => new Proxy([], { get: (_, k) => (k === 'length' ? 2 ** 32 - 1 : 'r0') }) as string[];
    type Searchable = Pick<typeof L, 'search' | 'add' | 'remove'>;
    const cases: [string, (c: Searchable) => Promise<unknown>][] = [
      ['options.filter.allow', (c) => c.search(q, 1, { filter: { allow: huge() } })],
      ['ids', (c) => c.add(mat(1, 3, 54), huge())],
      ['ids', (c) => c.remove(huge())],
    ];
    for (const [arg, call] of cases) {
      const [r, l] = [await failure(call(R)), await failure(call(L))];
      expect([r.code, r.arg], arg).toEqual(['INVALID_ARGUMENT', arg]);
      expect([l.code, l.arg], arg).toEqual(['INVALID_ARGUMENT', arg]);
      // add's words in core count the corpus's ids too; the others are the same words.
      if (r.op !== 'add') expect(r.message, arg).toBe(l.message);
    }
    const [r, l] = [
      await failure(remote.corpus(mat(1, 3, 55), { ids: huge() })),
      await failure(local.corpus(mat(1, 3, 55), { ids: huge() })),
    ];
    expect([r.code, r.arg, r.message]).toEqual([l.code, l.arg, l.message]);
    expect(r.code).toBe('INVALID_ARGUMENT');
    R.dispose();
    L.dispose();
  });

  it('id lists cross as core reads them: the same message for ids that are none, inherited elements read, throwing ones named', async () => {
    const rows = mat(4, 3, 51);
    const ids = ['r0', 'r1', 'r2', 'r3'];
    const R = await remote.corpus(rows, { ids });
    const L = await local.corpus(rows, { ids });
    const q = rows.slice(0, 1);
    const more = mat(1, 3, 52);
    class Foo {
      m() {
        return 1;
      }
    }
    type Searchable = Pick<typeof L, 'search' | 'add' | 'remove'>;
    const said = (p: Promise<unknown>) =>
      p.then(
        (v) =>
          v instanceof SearchResult
            ? JSON.stringify(v.ids)
            : typeof v === 'object' && v !== null && 'rows' in v
              ? `a corpus of ${String(v.rows)} rows`
              : JSON.stringify(v),
        (e: CosineKitError) => `${e.code} ${e.arg} ${e.message}`,
      );
    // A list whose element 0 comes from its prototype (a hole filled by it), and one whose getter throws.
    const inherited = () => {
      const a = ['', 'r2'];
      delete a[0];
      return Object.setPrototypeOf(a, Object.assign(Object.create(Array.prototype), { 0: 'r0' }));
    };
    const throwing = () =>
      Object.defineProperty(['r0', 'r1'], 1, {
        get() {
          throw new Error('boom');
        },
      });
    const lists: (() => unknown[])[] = [
      () => [Symbol('s')],
      () => [() => 1],
      () => [new Foo()],
      () => [new String('r0')],
      () => [['r0']],
      () => [{ f: () => 1 }],
      () => [10n],
      inherited,
      throwing,
    ];
    for (const list of lists) {
      const calls: [string, (c: Searchable) => Promise<unknown>][] = [
        ['add', (c) => c.add(more, list().slice(0, 1) as never)],
        ['remove', (c) => c.remove(list() as never)],
        ['allow', (c) => c.search(q, 1, { filter: { allow: list() as never } })],
        ['deny', (c) => c.search(q, 1, { filter: { deny: list() as never } })],
      ];
      for (const [name, call] of calls)
        expect(await said(call(R)), `${name} ${String(list()[0]?.toString?.() ?? typeof list()[0])}`).toBe(
          await said(call(L)),
        );
      expect(await said(remote.corpus(more, { ids: list().slice(0, 1) as never }))).toBe(
        await said(local.corpus(more, { ids: list().slice(0, 1) as never })),
      );
    }
    R.dispose();
    L.dispose();
  });

  it('rows and a stream chunk’s ids with an element inherited from the prototype are read as core reads them (the worker refused them)', async () => {
    const inherited = <T>(own: T[], from: T): T[] => {
      const a = [...own];
      delete a[0];
      return Object.setPrototypeOf(a, Object.assign(Object.create(Array.prototype), { 0: from }));
    };
    const said = async (kit: typeof local | typeof remote) => {
      const c = await kit.corpusFrom([{ rows: [inherited([0, 2], 1)], ids: inherited(['x'], 'inh') }]);
      const r = [
        Array.from(await kit.rowNorms([inherited([0, 2], 1)])),
        Array.from((await kit.cosineMatrix([inherited([0, 2], 1)], [[1, 2]])).data),
        (await c.search([[1, 2]], 1)).ids,
      ];
      c.dispose();
      return r;
    };
    expect(await said(remote)).toEqual(await said(local));
    expect((await said(local))[2]).toEqual(['inh']);
  });

  it('a source that cannot be inspected and a signal whose getter throws later reject by name, never synchronously', async () => {
    const r = Proxy.revocable([[1, 2]], {});
    r.revoke();
    let call: Promise<unknown> | undefined;
    expect(() => {
      call = remote.corpusFrom(r.proxy as never);
    }).not.toThrow();
    expect(await failure(call!)).toMatchObject({ code: 'INVALID_ARGUMENT', arg: 'source' });
    const R = await remote.corpus(mat(4, 2, 53));
    let reads = 0;
    const signal = {
      get aborted() {
        if (reads++ > 0) throw new Error('later');
        return false;
      },
      addEventListener: () => undefined,
      removeEventListener: () => undefined,
    };
    let search: Promise<unknown> | undefined;
    expect(() => {
      search = R.search(mat(1, 2, 54), 1, { signal: signal as never });
    }).not.toThrow();
    await expect(search!).rejects.toMatchObject({ name: 'CosineKitError' });
    R.dispose();
  });

  it('a value that cannot be inspected (a revoked Proxy) in any position gives the error core gives, message and all', async () => {
    const revoked = () => {
      const r = Proxy.revocable({}, {});
      r.revoke();
      return r.proxy as never;
    };
    const noText = {
      toString: () => {
        throw new Error('no');
      },
    } as never;
    const said = async (kit: typeof local | typeof remote) => {
      const c = await kit.corpus([
        [1, 2],
        [2, 1],
      ]);
      const out: string[] = [];
      for (const f of [
        () => kit.topK([[1, 2]], [[1, 2]], revoked()),
        () => c.search([[1, 2]], revoked()),
        () => kit.cosineMatrix([[1, 2]], [[1, 2]], { out: revoked() }),
        () => kit.loadCorpus(noText),
        () => c.search([[1, 2]], 1, { filter: { mask: revoked() } }),
        () => c.similarity([[1, 2]], { signal: revoked() }),
        () => kit.rowNorms(revoked()),
      ])
        out.push(
          await f().then(
            () => 'resolved',
            (e: CosineKitError) => `${e.code} ${e.arg} ${e.message}`,
          ),
        );
      c.dispose();
      return out;
    };
    expect(await said(remote)).toEqual(await said(local));
  });

  it('options of the kit: a backend object, a module that cannot load, an unknown backend', async () => {
    await expect(createWorkerKit({ backend: {} as unknown as string })).rejects.toMatchObject({
      code: 'INVALID_TYPE',
      arg: 'backend',
    });
    await expect(createWorkerKit({ backends: ['./no-such-module.js'] })).rejects.toMatchObject({
      code: 'BACKEND_INIT_FAILED',
      op: 'createWorkerKit',
      arg: 'backends',
    });
    const k = await createWorkerKit({ backend: 'no-such-backend' });
    await expect(k.rowNorms([[1]])).rejects.toMatchObject({ code: 'UNKNOWN_BACKEND' });
    k.dispose();
    // A worker option that is neither a script URL nor a started worker (was a TypeError).
    for (const worker of [5, {}, null])
      await expect(createWorkerKit({ worker: worker as never })).rejects.toMatchObject({
        code: 'INVALID_TYPE',
        op: 'createWorkerKit',
        arg: 'worker',
      });
  });

  it('options that cannot be inspected, and a started worker that throws, are named (a TypeError or the error escaped)', async () => {
    const revoked = () => {
      const r = Proxy.revocable({}, {});
      r.revoke();
      return r.proxy;
    };
    const trap = new Proxy(
      {},
      {
        get() {
          throw new Error('trap');
        },
      },
    );
    const started = (over: object) => ({ postMessage() {}, terminate() {}, on() {}, ...over });
    const thrower = (what: string) => () => {
      throw new Error(what);
    };
    for (const [options, arg] of [
      [revoked(), 'options'],
      [trap, 'options'],
      [{ worker: revoked() }, 'worker'],
      [{ worker: trap }, 'worker'],
      [{ worker: started({ on: thrower('on') }) }, 'worker'],
      [{ worker: started({ postMessage: thrower('post') }) }, 'worker'],
      [{ backends: revoked() }, 'backends'],
      [{ backends: new Proxy(['wasm'], { get: thrower('list') }) }, 'backends'],
      [{ backends: [revoked()] }, 'backends'],
    ] as const)
      await expect(createWorkerKit(options as never), arg).rejects.toMatchObject({
        name: 'CosineKitError',
        code: expect.stringMatching(/^INVALID_/),
        op: 'createWorkerKit',
        arg,
      });
  });

  it('an out of the wrong shape, or on the buffer of an input, is refused as the in-process kit refuses it (was accepted)', async () => {
    const rows = mat(5, 3, 1);
    const q = mat(1, 3, 2);
    // A 1 x 5 tensor for a 5 x 1 result: SHAPE_MISMATCH, not a [5, 1] answer over the caller's data.
    const wrong = () => ({ out: new Tensor(new Float32Array(5), 1, 5) });
    expect(await failure(remote.cosineMatrix(rows, q, wrong()))).toEqual(
      await failure(local.cosineMatrix(rows, q, wrong())),
    );
    const [L, R] = [await local.corpus(rows), await remote.corpus(rows)];
    const wide = () => ({ out: new Tensor(new Float32Array(10), 5, 2) });
    expect(await failure(R.similarity(mat(2, 3, 3), wide()))).toEqual(
      await failure(L.similarity(mat(2, 3, 3), wide())),
    );
    // An out on the very buffer of an input.
    const a = new Float32Array(6).fill(1);
    const shared = () => ({ out: a.subarray(0, 1) });
    const a2 = new Tensor(a.subarray(0, 3), 1, 3);
    expect(await failure(remote.cosineMatrix(a2, mat(1, 3, 4), shared()))).toEqual(
      await failure(local.cosineMatrix(a2, mat(1, 3, 4), shared())),
    );
    L.dispose();
    R.dispose();
  });

  it("a getter or Proxy trap of the caller's that throws is INVALID_ARGUMENT naming the argument, as in this thread (was raw)", async () => {
    const throwing = () => {
      const r = [[1, 2, 3]];
      Object.defineProperty(r, 0, {
        get() {
          throw new Error('boom');
        },
      });
      return r;
    };
    for (const [name, call] of [
      ['cosineRows a', (k: CosineKit | WorkerKit) => k.cosineRows(throwing(), [[1, 2, 3]])],
      ['topK corpus', (k: CosineKit | WorkerKit) => k.topK([[1, 2, 3]], throwing(), 1)],
    ] as const) {
      const [r, l] = [await failure(call(remote)), await failure(call(local))];
      expect([r.code, r.op, r.arg], name).toEqual([l.code, l.op, l.arg]);
    }
  });
});

/** A corpus as these cases call it: with arguments of the wrong type on purpose. */
type Loose = (...args: unknown[]) => Promise<unknown>;
interface LooseCorpus {
  search: Loose;
  add: Loose;
  remove: Loose;
  similarity: Loose;
}

function disposedTensor(): Tensor {
  const t = tensor([[1, 2]]);
  t.dispose();
  return t;
}

describe('inputs the structured clone cannot copy: the worker takes what the in-process kit takes', () => {
  // A Proxy around an array (or rows that are Proxies), or an array carrying a function property,
  // is read by core like any array, but postMessage cannot clone it: the worker kit refused them
  // with INVALID_TYPE ("cannot be sent to the worker"). It now copies them into a Float32Array.
  const d = 7;
  const rows = (t: Tensor) => Array.from({ length: t.rows }, (_, i) => Array.from(t.row(i)));
  const a = mat(3, d, 70);
  const b = mat(5, d, 71);
  const withFn = <T extends object>(x: T): T => Object.assign(x, { describe: () => 'rows' });
  const forms: [string, (t: Tensor) => unknown][] = [
    ['a Proxy around number[][]', (t) => new Proxy(rows(t), {})],
    ['number[][] of Proxy rows', (t) => rows(t).map((r) => new Proxy(r, {}))],
    [
      'a Proxy around Float32Array rows',
      (t) =>
        new Proxy(
          [...Array(t.rows).keys()].map((i) => t.row(i).slice()),
          {},
        ),
    ],
    [
      'a Proxy whose get trap logs (a reactive store)',
      (t) => new Proxy(rows(t), { get: (o, k, r) => Reflect.get(o, k, r) }),
    ],
    ['number[][] carrying a function property', (t) => withFn(rows(t))],
  ];
  const one = (t: Tensor) => Array.from(t.row(0));
  for (const [what, form] of forms) {
    it(`${what}: every dense operation, the same bits as in-process and float64 within 1e-6`, async () => {
      const calls: [string, (k: CosineKit | WorkerKit) => Promise<unknown>][] = [
        ['rowNorms', (k) => k.rowNorms(form(a) as number[][])],
        ['normalize', (k) => k.normalize(form(a) as number[][])],
        ['cosineRows', (k) => k.cosineRows(form(a) as number[][], form(a.slice(0, 3)) as number[][])],
        ['cosineMatrix', (k) => k.cosineMatrix(form(a) as number[][], form(b) as number[][])],
        ['topK', (k) => k.topK(form(a) as number[][], form(b) as number[][], 2)],
      ];
      for (const [op, call] of calls) {
        const want = await call(local);
        const got = await call(remote);
        expect(got, op).toEqual(want);
      }
      const m = (await remote.cosineMatrix(form(a) as number[][], form(b) as number[][])).data;
      for (let i = 0; i < a.rows; i++)
        for (let j = 0; j < b.rows; j++)
          expect(Math.abs(m[i * b.rows + j] - cos64(a.row(i), b.row(j)))).toBeLessThan(1e-6);
      // One row as a Proxy around number[].
      expect(await remote.rowNorms(new Proxy(one(a), {}))).toEqual(
        await local.rowNorms(new Proxy(one(a), {})),
      );
    });
  }

  it('corpora: rows, ids, added rows and an allow list as Proxies; a stream of Proxy chunks', async () => {
    const ids = new Proxy(['p', 'q', 'r', 's', 't'], {});
    const [L, R] = [
      await local.corpus(new Proxy(rows(b), {}), { ids }),
      await remote.corpus(new Proxy(rows(b), {}), { ids }),
    ];
    const q = new Proxy(rows(a), {});
    expect(await R.search(q, 3)).toEqual(await L.search(q, 3));
    expect(await R.similarity(q)).toEqual(await L.similarity(q));
    const allow = new Proxy(['q', 's', 't'], {});
    expect(await R.search(q, 2, { filter: { allow } })).toEqual(await L.search(q, 2, { filter: { allow } }));
    await L.add(new Proxy(rows(a).slice(0, 2), {}), new Proxy(['u', 'v'], {}));
    await R.add(new Proxy(rows(a).slice(0, 2), {}), new Proxy(['u', 'v'], {}));
    expect(R.rows).toBe(7);
    expect(await R.search(q, 7)).toEqual(await L.search(q, 7));
    expect(await R.remove(new Proxy(['p', 'u'], {}))).toBe(2);
    L.dispose();
    R.dispose();
    const stream = () => [
      { rows: new Proxy(rows(b).slice(0, 2), {}), ids: new Proxy([5, 6], {}) },
      { rows: new Proxy(rows(b).slice(2), {}), ids: new Proxy([7, 8, 9], {}) },
    ];
    const Ls = await local.corpusFrom(stream() as never);
    const Rs = await remote.corpusFrom(stream() as never);
    expect(Rs.rows).toBe(5);
    expect(await Rs.search(q, 5)).toEqual(await Ls.search(q, 5));
    // A chunk that is itself a Proxy array, without ids.
    const bare = () => [new Proxy(rows(b).slice(0, 2), {}), new Proxy(rows(b).slice(2), {})];
    const Lb = await local.corpusFrom(bare());
    const Rb = await remote.corpusFrom(bare());
    expect(await Rb.search(q, 5)).toEqual(await Lb.search(q, 5));
    Lb.dispose();
    Rb.dispose();
    Ls.dispose();
    Rs.dispose();
  });

  it('what core refuses, inside a Proxy or not, is refused with the same error by both kits', async () => {
    const fake = new Proxy(Float32Array.of(1, 2, 3), {});
    class Lying extends Float32Array {
      override get length() {
        return 4;
      }
    }
    const cases: [string, (k: CosineKit | WorkerKit) => Promise<unknown>][] = [
      ['a Proxy around a Float32Array (its length cannot be read)', (k) => k.rowNorms(fake)],
      ['a row that is a Proxy around a Float32Array', (k) => k.normalize([fake])],
      ['a Proxy array holding a string', (k) => k.rowNorms(new Proxy([[1, '2', 3]], {}) as never)],
      ['a ragged Proxy array', (k) => k.normalize(new Proxy([[1, 2], [3]], {}))],
      ['NaN in a Proxy row', (k) => k.cosineMatrix([new Proxy([1, Number.NaN], {})], [[1, 2]])],
      ['an empty Proxy array', (k) => k.topK(new Proxy([], {}), [[1, 2]], 1)],
      ['repeated ids in a Proxy', (k) => k.corpus(mat(2, 3), { ids: new Proxy(['x', 'x'], {}) })],
      ['a Proxy chunk of another width', (k) => k.corpusFrom([[[1, 2]], new Proxy([[1, 2, 3]], {})])],
      // A probe: the worker took what it held (rowNorms answered for 2 values) where core refuses it.
      ['a Float32Array subclass whose length getter lies', (k) => k.rowNorms(new Lying(2))],
      ['the same as a row of a matrix', (k) => k.cosineMatrix(new Lying(2), [[1, 2, 3, 4]])],
    ];
    for (const [what, call] of cases) {
      const want = await failure(call(local));
      expect(await failure(call(remote)), what).toEqual(want);
    }
    expect(await failure(local.rowNorms(fake))).toMatchObject({
      code: 'INVALID_TYPE',
      op: 'rowNorms',
      arg: 'x',
    });
  });

  it('with transfer: true a Proxy input is copied all the same, and the caller keeps it', async () => {
    const p = new Proxy(rows(a), {});
    const far = await remote.corpus(rows(b));
    const near = await local.corpus(rows(b));
    const got = await far.similarity(p, { transfer: true });
    expect(got).toEqual(await near.similarity(rows(a)));
    expect(p.length).toBe(3);
    expect(p[0]).toEqual(rows(a)[0]);
    far.dispose();
    near.dispose();
  });

  it('a call that takes no transfer option refuses one, as the in-process kit refuses it (it was ignored)', async () => {
    const want = await failure(local.cosineMatrix(rows(a), rows(b), { transfer: true } as never));
    expect(want).toMatchObject({ code: 'INVALID_ARGUMENT', arg: 'options.transfer' });
    expect(await failure(remote.cosineMatrix(rows(a), rows(b), { transfer: 'junk' } as never))).toMatchObject(
      {
        ...want,
        message: want.message,
      },
    );
  });
});

describe('inputs are copied, or moved when the caller says so', () => {
  it('by default the caller keeps its arrays, and what the call uses is the input as it was', async () => {
    const data = mat(20, 8, 60);
    const before = copy(data);
    const pending = remote.corpus(data);
    data.data.fill(0); // after the call returned: must not reach the worker
    const R = await pending;
    expect(data.data.byteLength).toBe(20 * 8 * 4);
    const L = await local.corpus(before);
    const q = before.slice(0, 1);
    expect((await R.search(q, 3)).toArray()).toEqual((await L.search(q, 3)).toArray());
    R.dispose();
    L.dispose();
  });

  it('rows given as a list cross as one converted buffer: the caller keeps every row, the answers are the in-process kit’s', async () => {
    const base = mat(300, 12, 61);
    const asNumbers = Array.from({ length: 300 }, (_, i) =>
      Array.from(base.data.subarray(i * 12, (i + 1) * 12)),
    );
    const asViews = Array.from({ length: 300 }, (_, i) => base.data.slice(i * 12, (i + 1) * 12));
    const q = [asNumbers[3], asNumbers[7]];
    const want = await (await local.corpus(base)).search(q, 5);
    for (const rows of [asNumbers, asViews]) {
      const R = await remote.corpus(rows);
      expect((await R.search(q, 5)).toArray()).toEqual(want.toArray());
      expect((await remote.topK(q, rows, 5)).toArray()).toEqual(want.toArray());
      // A stream of list chunks too.
      const S = await remote.corpusFrom([rows.slice(0, 100), rows.slice(100)]);
      expect((await S.search(q, 5)).toArray()).toEqual(want.toArray());
      R.dispose();
      S.dispose();
    }
    expect(asViews.every((r) => r.byteLength === 48)).toBe(true);
    // What core refuses in a list is refused with core's words, as in this thread.
    const ragged = [asNumbers[0], asNumbers[1].slice(0, 5)];
    const e = await failure(remote.corpus(ragged));
    const f = await failure(local.corpus(ragged));
    expect([e.code, e.arg, e.message]).toEqual([f.code, f.arg, f.message]);
  });

  it('views on shared memory are copied when the call is made', async () => {
    const shared = new Float32Array(new SharedArrayBuffer(16 * 4));
    shared.set(mat(4, 4, 61).data);
    const want = await local.rowNorms(new Tensor(shared.slice(), 4, 4));
    const pending = remote.rowNorms(new Tensor(shared, 4, 4));
    shared.fill(0);
    expect(await pending).toEqual(want);
  });

  it('with { transfer: true } the buffers move: the caller is detached, the results are right', async () => {
    const data = mat(30, 6, 62);
    const kept = copy(data);
    const R = await remote.corpus(data, { transfer: true });
    expect(data.data.byteLength).toBe(0);
    const L = await local.corpus(kept);
    const q = mat(2, 6, 63);
    const qCopy = copy(q);
    const r = await R.search(q, 4, { transfer: true });
    expect(q.data.byteLength).toBe(0);
    expect(r.toArray()).toEqual((await L.search(qCopy, 4)).toArray());
    // Without the option, the same call copies.
    const q2 = copy(qCopy);
    await R.search(q2, 4);
    expect(q2.data.byteLength).toBe(qCopy.data.byteLength);
    R.dispose();
    L.dispose();
  });

  it('a kit made with transfer: true moves every call’s inputs, unless the call says otherwise', async () => {
    const k = await createWorkerKit({ transfer: true, backend: 'reference' });
    try {
      const x = mat(3, 5, 64);
      const want = await local.rowNorms(copy(x));
      expect(await k.rowNorms(x)).toEqual(want);
      expect(x.data.byteLength).toBe(0);
      const y = mat(3, 5, 64);
      const c = await k.corpus(y, { transfer: false });
      expect(y.data.byteLength).toBe(60);
      // Rows given as an array of Float32Array rows move too.
      const r1 = mat(1, 5, 65).data;
      const r2 = mat(1, 5, 66).data;
      await k.rowNorms([r1, r2]);
      expect([r1.byteLength, r2.byteLength]).toEqual([0, 0]);
      c.dispose();
    } finally {
      k.dispose();
    }
  });
});

describe('abort', () => {
  /** A search long enough to abort: about 1.3 G multiply-adds on the reference backend. */
  const N = 40_000;
  const D = 256;
  const Q = 128;

  it('an already aborted signal rejects at once, without the worker', async () => {
    const R = await remote.corpus(mat(8, 4, 70));
    const c = new AbortController();
    c.abort(new Error('stop'));
    const e = await R.search(mat(1, 4, 71), 2, { signal: c.signal }).catch((x) => x);
    expect(isCosineKitError(e, 'ABORTED')).toBe(true);
    expect(e.message).toBe(
      (
        await (
          await local.corpus(mat(8, 4, 70))
        )
          .search(mat(1, 4, 71), 2, { signal: c.signal })
          .catch((x) => x)
      ).message,
    );
    expect((e as Error).cause).toBe(c.signal.reason);
    await expect(R.similarity(mat(1, 4, 71), { signal: c.signal })).rejects.toMatchObject({
      code: 'ABORTED',
    });
    await expect(remote.corpusFrom([mat(1, 4, 72)], { signal: c.signal })).rejects.toMatchObject({
      code: 'ABORTED',
      op: 'corpusFrom',
    });
    R.dispose();
  });

  it('mid-search: rejects promptly with ABORTED, and the corpus is intact', async () => {
    const data = mat(N, D, 80);
    const R = await remote.corpus(data, { transfer: true });
    const q = mat(Q, D, 81);
    const small = q.slice(0, 2);
    const want = (await R.search(small, 5)).toArray();
    const c = new AbortController();
    const started = performance.now();
    const search = R.search(q, 10, { signal: c.signal });
    await new Promise((r) => setTimeout(r, 100));
    const abortedAt = performance.now();
    c.abort();
    const e = await search.catch((x) => x);
    const latency = performance.now() - abortedAt;
    expect(isCosineKitError(e, 'ABORTED')).toBe(true);
    expect(e.op).toBe('search');
    // The worker stops at its next check; the next call runs after that.
    const after = (await R.search(small, 5)).toArray();
    const freed = performance.now() - abortedAt;
    console.log(
      `[worker abort, node] search ${N} x ${D}, ${Q} queries: rejected ${latency.toFixed(2)} ms after abort(); the worker took the next call ${freed.toFixed(1)} ms after abort() (the search had run ${(abortedAt - started).toFixed(0)} ms)`,
    );
    expect(latency).toBeLessThan(500);
    expect(after).toEqual(want);
    expect(R.rows).toBe(N);
    R.dispose();
  });

  it('mid-similarity and mid-stream', async () => {
    const R = await remote.corpus(mat(N, D, 82), { transfer: true });
    const c = new AbortController();
    const sim = R.similarity(mat(64, D, 83), { signal: c.signal });
    setTimeout(() => c.abort(), 50);
    await expect(sim).rejects.toMatchObject({ code: 'ABORTED', op: 'similarity' });
    R.dispose();

    let closed = false;
    let yielded = 0;
    async function* endless() {
      try {
        for (;;) {
          yielded++;
          if (yielded === 4) setTimeout(() => s.abort(), 0);
          await new Promise((r) => setTimeout(r, 2));
          yield mat(10, 8, yielded);
        }
      } finally {
        closed = true;
      }
    }
    const s = new AbortController();
    const build = remote.corpusFrom(endless(), { signal: s.signal, segmentBytes: 1 });
    await expect(build).rejects.toMatchObject({ code: 'ABORTED', op: 'corpusFrom' });
    await new Promise((r) => setTimeout(r, 50));
    expect(yielded).toBeGreaterThanOrEqual(4);
    expect(closed).toBe(true);
  });

  it('a sync source whose own next() fires the abort is closed all the same (its finally never ran: a leak probe)', async () => {
    const s = new AbortController();
    let closed = false;
    let pulled = 0;
    function* source() {
      try {
        for (let i = 0; i < 1e6; i++) {
          pulled++;
          if (i === 3) s.abort();
          yield mat(10, 8, i + 1);
        }
      } finally {
        closed = true;
      }
    }
    await expect(remote.corpusFrom(source(), { signal: s.signal, segmentBytes: 1 })).rejects.toMatchObject({
      code: 'ABORTED',
      op: 'corpusFrom',
    });
    await new Promise((r) => setTimeout(r, 50));
    expect(pulled).toBe(4);
    expect(closed).toBe(true);
  });

  it('an out on a SharedArrayBuffer is not written after the abort rejects (the worker writes it in place)', async () => {
    const n = 60_000;
    const d = 64;
    const nq = 64;
    const R = await remote.corpus(mat(n, d, 86), { transfer: true });
    const out = new Float32Array(new SharedArrayBuffer(nq * n * 4));
    let aborted = 0;
    for (let trial = 0; trial < 6 && aborted < 3; trial++) {
      const c = new AbortController();
      const p = R.similarity(mat(nq, d, 87 + trial), { out, signal: c.signal });
      await new Promise((r) => setTimeout(r, 5 + trial * 3));
      c.abort();
      const e = await p.then(
        () => null,
        (x: unknown) => x,
      );
      if (e === null) continue;
      expect(isCosineKitError(e, 'ABORTED')).toBe(true);
      aborted++;
      // The caller takes its buffer back at once; the worker has stopped writing into it.
      out.fill(42);
      await R.search(mat(1, d, 1), 1);
      let changed = 0;
      for (let i = 0; i < out.length; i++) if (out[i] !== 42) changed++;
      expect(changed, `trial ${trial}`).toBe(0);
    }
    expect(aborted).toBeGreaterThan(0);
    R.dispose();
  });

  it('an out on a SharedArrayBuffer is not written after dispose() rejects the call either (it rejected at once, the worker still writing)', async () => {
    const n = 40_000;
    const d = 64;
    const nq = 100;
    const rows = mat(n, d, 88);
    const out = new Float32Array(new SharedArrayBuffer(nq * n * 4));
    let disposed = 0;
    for (let trial = 0; trial < 6 && disposed < 2; trial++) {
      const k = await createWorkerKit({ backends: ['wasm'], backend: 'wasm' });
      const R = await k.corpus(rows);
      const p = R.similarity(mat(nq, d, 89 + trial), { out });
      await new Promise((r) => setTimeout(r, 5 + trial * 3));
      k.dispose();
      const e = await p.then(
        () => null,
        (x: unknown) => x,
      );
      if (e === null) continue;
      expect(isCosineKitError(e, 'DISPOSED')).toBe(true);
      disposed++;
      out.fill(42);
      await new Promise((r) => setTimeout(r, 300));
      let changed = 0;
      for (let i = 0; i < out.length; i++) if (out[i] !== 42) changed++;
      expect(changed, `trial ${trial}`).toBe(0);
    }
    expect(disposed).toBeGreaterThan(0);
  });

  it('calls sharing one signal share one listener on it: no leak warning, each still aborts', async () => {
    const R = await remote.corpus(mat(2000, 32, 84));
    const q = mat(1, 32, 85);
    const want = (await R.search(q, 3)).toArray();
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      const c = new AbortController();
      const done = await Promise.all(Array.from({ length: 30 }, () => R.search(q, 3, { signal: c.signal })));
      for (const r of done) expect(r.toArray()).toEqual(want);
      // Settled calls leave nothing on the signal.
      expect(getEventListeners(c.signal, 'abort')).toHaveLength(0);
      const pending = Array.from({ length: 30 }, () =>
        R.search(q, 3, { signal: c.signal }).then(
          () => 'answered',
          (e: unknown) => (isCosineKitError(e, 'ABORTED') ? 'aborted' : e),
        ),
      );
      expect(getEventListeners(c.signal, 'abort')).toHaveLength(1);
      c.abort();
      for (const r of await Promise.all(pending)) expect(r).toBe('aborted');
      await new Promise((r) => setImmediate(r));
      expect(warnings).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
    // The corpus is intact and a new signal works as before.
    expect((await R.search(q, 3, { signal: new AbortController().signal })).toArray()).toEqual(want);
    R.dispose();
  });

  it('a stream that throws fails by name with its error as cause (as core), and a throwing progress callback ends the build', async () => {
    const boom = new Error('the source broke');
    async function* broken() {
      yield mat(2, 3, 90);
      throw boom;
    }
    await expect(remote.corpusFrom(broken())).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      arg: 'source',
      cause: boom,
    });
    // A result whose `done` or `value` getter throws, or that is no object: as core names them (a
    // throwing getter was an unhandled rejection, and the call waited for good; a probe).
    const results = (make: () => unknown) => ({
      [Symbol.asyncIterator]: () => ({ next: async () => make() }),
    });
    for (const source of [
      results(() => ({
        done: false,
        get value() {
          throw boom;
        },
      })),
      results(() => ({
        get done() {
          throw boom;
        },
      })),
      results(() => 5),
    ]) {
      const e = await failure(remote.corpusFrom(source as never));
      expect(e).toEqual(await failure(local.corpusFrom(source as never)));
      expect(e).toMatchObject({ op: 'corpusFrom', arg: 'source' });
    }
    const oops = new Error('progress broke');
    for (const onProgress of [
      () => {
        throw oops;
      },
      async () => {
        throw oops;
      },
    ]) {
      const build = (k: CosineKit | WorkerKit) =>
        k.corpusFrom([mat(2, 3, 91), mat(2, 3, 92)], { segmentBytes: 1, onProgress });
      const e = await failure(build(remote));
      // The same error as the in-process kit's: INVALID_ARGUMENT naming the callback.
      expect(e).toEqual(await failure(build(local)));
      expect(e).toMatchObject({ code: 'INVALID_ARGUMENT', op: 'corpusFrom', arg: 'options.onProgress' });
      await build(remote).catch((x) => expect(x.cause).toBe(oops));
    }
    // The kit still works afterwards.
    expect((await remote.rowNorms([[3, 4]]))[0]).toBe(5);
  });
});

describe('resources', () => {
  it('the worker holds only the corpora still alive', async () => {
    const k = await createWorkerKit({ backend: 'reference' });
    try {
      const cs = await Promise.all([1, 2, 3, 4, 5].map((s) => k.corpus(mat(10, 4, s))));
      expect(await handlesOf(k)).toBe(5);
      cs[0].dispose();
      cs[1].dispose();
      cs[1].dispose();
      expect(await handlesOf(k)).toBe(3);
      // Builds that fail or are given up on leave nothing behind.
      const ctl = new AbortController();
      const build = k.corpusFrom([mat(10, 4, 9), mat(10, 4, 10)], {
        signal: ctl.signal,
        segmentBytes: 1,
        onProgress: () => ctl.abort(),
      });
      await expect(build).rejects.toMatchObject({ code: 'ABORTED' });
      await expect(k.corpus(mat(3, 4, 1), { ids: [1, 1, 2] })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
      await expect(k.corpusFrom([mat(2, 4, 1), mat(2, 5, 1)], { segmentBytes: 1 })).rejects.toMatchObject({
        code: 'DIMENSION_MISMATCH',
      });
      expect(await handlesOf(k)).toBe(3);
      const loaded = await k.loadCorpus(await cs[2].save());
      expect(await handlesOf(k)).toBe(4);
      loaded.dispose();
      for (const c of cs) c.dispose();
      expect(await handlesOf(k)).toBe(0);
    } finally {
      k.dispose();
    }
  });
});

describe('a corpus method called without its corpus', () => {
  it('rejects with INVALID_TYPE naming this, as core does (it threw a TypeError synchronously)', async () => {
    const c = await remote.corpus([
      [1, 2],
      [3, 4],
    ]);
    const { search, similarity, add, remove, save, dispose } = c;
    const calls: [string, () => unknown][] = [
      ['search', () => search([[1, 2]], 1)],
      ['similarity', () => similarity([[1, 2]])],
      ['add', () => add([[1, 2]])],
      ['remove', () => remove([0])],
      ['save', () => save()],
    ];
    for (const [op, call] of calls) {
      let out: unknown;
      expect(() => {
        out = call();
      }, op).not.toThrow();
      await expect(out, op).rejects.toMatchObject({ code: 'INVALID_TYPE', op, arg: 'this' });
    }
    expect(() => dispose()).toThrow(
      expect.objectContaining({ code: 'INVALID_TYPE', op: 'dispose', arg: 'this' }),
    );
    expect(Array.from((await c.search([[1, 2]], 1)).indices)).toEqual([0]);
    c.dispose();
  });
});

describe('views on larger buffers', () => {
  it('a view on less than half its buffer crosses as a copy of itself, not the whole buffer', async () => {
    const w = new Worker(new URL('../dist/worker.js', import.meta.url));
    // Every buffer the kit posts, found anywhere in its messages.
    const sent: ArrayBufferLike[] = [];
    const walk = (x: unknown, depth: number): void => {
      if (depth > 6 || x === null || typeof x !== 'object') return;
      if (ArrayBuffer.isView(x)) sent.push(x.buffer);
      else for (const v of Object.values(x as object)) walk(v, depth + 1);
    };
    const post = w.postMessage.bind(w);
    w.postMessage = (m: unknown, t?: readonly ArrayBuffer[]) => {
      walk(m, 0);
      post(m, t as ArrayBuffer[]);
    };
    const k = await createWorkerKit({ worker: w });
    const d = 64;
    const big = new Float32Array(1 << 22); // 16 MiB
    for (let i = 0; i < big.length; i += 97) big[i] = (i % 13) - 6;
    big.fill(0.25, 0, 40 * d);
    for (let i = 0; i < 40 * d; i += 3) big[i] = (i % 7) - 3;
    const rows = big.subarray(0, 40 * d);
    const query = big.subarray(d, 2 * d);
    const mask = new Uint8Array(1 << 20).fill(1).subarray(10, 51);
    mask.fill(0, 5, 12);
    const c = await k.corpus(tensor(rows, [40, d]));
    await c.add(tensor(big.subarray(3 * d, 4 * d), [1, d]));
    const mine = createCosineKit();
    const want = await mine.corpus(tensor(rows, [40, d]));
    await want.add(tensor(big.subarray(3 * d, 4 * d), [1, d]));
    const got = await c.search(tensor(query, [1, d]), 5, { filter: { mask } });
    const exp = await want.search(tensor(query, [1, d]), 5, { filter: { mask } });
    // (The two kits may run different backends: scores agree to float32 rounding.)
    expect([...got.indices]).toEqual([...exp.indices]);
    for (let i = 0; i < got.scores.length; i++) expect(got.scores[i]).toBeCloseTo(exp.scores[i], 6);
    const norm = (await k.rowNorms(tensor(query, [1, d])))[0];
    expect(norm).toBeCloseTo((await mine.rowNorms(tensor(query, [1, d])))[0], 4);
    const largest = Math.max(...sent.map((b) => b.byteLength));
    expect(largest).toBeLessThanOrEqual(40 * d * 4);
    // The caller's arrays are untouched, and a view on most of its buffer still crosses as it is.
    expect(big.byteLength).toBe(1 << 24);
    const most = new Float32Array(41 * d).subarray(0, 40 * d).fill(1);
    sent.length = 0;
    await k.rowNorms(tensor(most, [40, d]));
    expect(sent.some((b) => b === most.buffer)).toBe(true);
    k.dispose();
    mine.dispose();
  });
});

describe('dispose and crashes', () => {
  /** A Node worker behind the browser's interface (no `on`), as a page's Worker is driven. */
  const browserStyle = (nw: Worker, failOn?: string) => {
    const wrapped = new Map<unknown, (v: unknown) => void>();
    return {
      postMessage: (m: unknown, t?: Transferable[]) => nw.postMessage(m, t as never),
      addEventListener(event: string, fn: (e: unknown) => void) {
        if (event === failOn) throw new Error(`no ${event} events here`);
        const g = (v: unknown) =>
          fn(event === 'message' ? { data: v } : { message: String((v as Error)?.message ?? v), error: v });
        wrapped.set(fn, g);
        nw.on(event, g);
      },
      removeEventListener(event: string, fn: (e: unknown) => void) {
        const g = wrapped.get(fn);
        if (g) nw.off(event, g);
        wrapped.delete(fn);
      },
      terminate: () => nw.terminate(),
    };
  };

  it('a browser-style worker whose terminate cannot be replaced (frozen) serves a kit; one refused leaves no listener on it', async () => {
    const nw = new Worker(new URL('../dist/worker.js', import.meta.url));
    try {
      // It was refused (INVALID_ARGUMENT: 'Cannot add property terminate, object is not extensible').
      const k = await createWorkerKit({
        worker: Object.freeze(browserStyle(nw)) as never,
        backend: 'reference',
      });
      const [c] = await k.cosineRows([[1, 2]], [[2, 1]]);
      expect(c).toBeCloseTo(0.8, 6);
      k.dispose();
    } finally {
      await nw.terminate();
    }
    const other = new Worker(new URL('../dist/worker.js', import.meta.url));
    try {
      await expect(
        createWorkerKit({ worker: browserStyle(other, 'messageerror') as never, backend: 'reference' }),
      ).rejects.toMatchObject({ op: 'createWorkerKit', arg: 'worker' });
      // The message and error listeners it added before the refusal were left on the worker.
      expect([other.listenerCount('message'), other.listenerCount('error')]).toEqual([0, 0]);
    } finally {
      await other.terminate();
    }
    // The same of a Node-style worker whose on() throws part-way (a review).
    const third = new Worker(new URL('../dist/worker.js', import.meta.url));
    try {
      const nodeStyle = {
        postMessage: (m: unknown, t?: Transferable[]) => third.postMessage(m, t as never),
        on(event: string, fn: (v: unknown) => void) {
          if (event === 'exit') throw new Error('no exit events here');
          third.on(event, fn);
        },
        off: (event: string, fn: (v: unknown) => void) => third.off(event, fn),
        terminate: () => third.terminate(),
      };
      await expect(
        createWorkerKit({ worker: nodeStyle as never, backend: 'reference' }),
      ).rejects.toMatchObject({
        op: 'createWorkerKit',
        arg: 'worker',
      });
      expect([third.listenerCount('message'), third.listenerCount('error')]).toEqual([0, 0]);
    } finally {
      await third.terminate();
    }
  });

  it('dispose ends the worker; a call still running and later calls reject with DISPOSED', async () => {
    const w = new Worker(new URL('../dist/worker.js', import.meta.url));
    const exited = new Promise<number>((r) => w.once('exit', r));
    const k = await createWorkerKit({ worker: w });
    const c = await k.corpus(mat(N2, 64, 100));
    const running = c.search(mat(64, 64, 101), 5);
    k.dispose();
    await expect(running).rejects.toMatchObject({ code: 'DISPOSED', op: 'search' });
    expect(c.disposed).toBe(true);
    await expect(k.rowNorms([[1]])).rejects.toMatchObject({ code: 'DISPOSED', op: 'rowNorms' });
    await expect(c.search(mat(1, 64, 102), 1)).rejects.toMatchObject({ code: 'DISPOSED' });
    await exited;
    k.dispose();
  });

  it('a dispose() from a getter or trap the call reads rejects that call with DISPOSED (it was posted to the ended worker and hung)', async () => {
    type Case = (k: WorkerKit, c: WorkerCorpus) => Promise<unknown>;
    /** Options whose `key`, read, disposes the kit. */
    const disposing = (k: WorkerKit, key: string) =>
      Object.defineProperty({}, key, {
        enumerable: true,
        get() {
          k.dispose();
          return undefined;
        },
      });
    const cases: [string, Case][] = [
      ['search filter getter', (k, c) => c.search(mat(1, 4, 1), 1, disposing(k, 'filter'))],
      ['similarity out getter', (k, c) => c.similarity(mat(1, 4, 2), disposing(k, 'out'))],
      ['corpus ids getter', (k) => k.corpus(mat(2, 4, 3), disposing(k, 'ids'))],
      ['cosineMatrix out getter', (k) => k.cosineMatrix(mat(1, 4, 4), mat(2, 4, 5), disposing(k, 'out'))],
      [
        'add ids Proxy',
        (k, c) =>
          c.add(
            mat(1, 4, 6),
            new Proxy(['z'], { get: (t, p, r) => (p === '0' && k.dispose(), Reflect.get(t, p, r)) }),
          ),
      ],
    ];
    for (const [name, call] of cases) {
      const k = await createWorkerKit({ backend: 'reference' });
      const c = await k.corpus(mat(8, 4, 7));
      const settled = await Promise.race([
        call(k, c).then(
          () => 'resolved',
          (e: { code?: string }) => e.code,
        ),
        new Promise((r) => setTimeout(() => r('hung'), 5000)),
      ]);
      expect(settled, name).toBe('DISPOSED');
      k.dispose();
    }
  });

  it('a signal whose reading throws, and a tensor shrunk by a later getter, are named as core names them', async () => {
    const k = await createWorkerKit({ backend: 'reference' });
    const c = await k.corpus(mat(8, 4, 8));
    const signal = {
      get aborted(): boolean {
        throw new Error('boom');
      },
      addEventListener() {},
      removeEventListener() {},
    } as unknown as AbortSignal;
    await expect(c.search(mat(1, 4, 9), 1, { signal })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      op: 'search',
      arg: 'options.signal',
    });
    const ab = resizable(32, 64);
    const q = new Tensor(new Float32Array(ab).fill(1), 2, 4);
    const shrink = {
      get filter() {
        ab.resize(4);
        return undefined;
      },
    };
    await expect(c.search(q, 1, shrink)).rejects.toMatchObject({
      code: 'DISPOSED',
      op: 'search',
      arg: 'queries',
      message:
        "Argument 'queries' passed to 'search' is a tensor whose buffer was transferred (detached) or shrunk below its shape [2, 4].",
    });
    k.dispose();
  });

  const crashy = new URL('./fixtures/crash-backend.mjs', import.meta.url);
  it('an uncaught error in the worker rejects every pending call with BACKEND_ERROR', async () => {
    const k = await createWorkerKit({ backends: [crashy], backend: 'crashy' });
    const other = k.corpus(mat(4, 4, 103));
    const started = performance.now();
    const crash = k.cosineRows([[1, 2]], [[2, 1]]);
    const [a, b] = await Promise.allSettled([crash, other]);
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(a.status === 'rejected' && isCosineKitError(a.reason, 'BACKEND_ERROR')).toBe(true);
    expect(a.status === 'rejected' && a.reason.cause?.message).toBe('the crashy backend fell over');
    // The corpus call may have finished before the crash; if not, it failed the same way.
    if (b.status === 'rejected') expect(isCosineKitError(b.reason, 'BACKEND_ERROR')).toBe(true);
    await expect(k.rowNorms([[1]])).rejects.toMatchObject({ code: 'BACKEND_ERROR', op: 'rowNorms' });
    k.dispose();
  });

  it('a worker that exits rejects the call with BACKEND_ERROR', async () => {
    const k = await createWorkerKit({ backends: [crashy], backend: 'crashy' });
    const e = await k.rowNorms([[1, 2]]).catch((x) => x);
    expect(isCosineKitError(e, 'BACKEND_ERROR')).toBe(true);
    expect(e.message).toContain('exited (code 7)');
  });

  it('a corpus whose worker died rejects with the kit BACKEND_ERROR, as the kit does', async () => {
    const w = new Worker(new URL('./fixtures/serve-worker.mjs', import.meta.url));
    const k = await createWorkerKit({ worker: w, backend: 'reference' });
    const c = await k.corpus(mat(4, 4, 104));
    await w.terminate();
    await expect(k.rowNorms([[1, 2]])).rejects.toMatchObject({ code: 'BACKEND_ERROR', op: 'rowNorms' });
    for (const [op, call] of [
      ['search', () => c.search(mat(1, 4, 105), 1)],
      ['similarity', () => c.similarity(mat(1, 4, 105))],
      ['add', () => c.add(mat(1, 4, 106))],
    ] as const) {
      const e = await call().catch((x) => x);
      expect(e, op).toMatchObject({ code: 'BACKEND_ERROR', op, arg: 'kit' });
      expect(e.message, op).toMatch(/exited/);
    }
    k.dispose();
  });

  it('createWorkerKit refuses an option it does not take, and a transfer that is not a boolean', async () => {
    for (const [options, code, arg] of [
      [{ backned: 'reference' }, 'INVALID_ARGUMENT', 'options.backned'],
      [{ bogus: 1 }, 'INVALID_ARGUMENT', 'options.bogus'],
      [{ transfer: 'yes' }, 'INVALID_TYPE', 'transfer'],
      // Checked on this side (the worker's createCosineKit named itself).
      [{ timeoutMs: -1 }, 'INVALID_ARGUMENT', 'timeoutMs'],
      [{ timeoutMs: '5' }, 'INVALID_ARGUMENT', 'timeoutMs'],
    ] as const)
      await expect(createWorkerKit(options as never)).rejects.toMatchObject({
        code,
        op: 'createWorkerKit',
        arg,
      });
  });

  it('an option no call takes is refused naming every option the call takes here, transfer too', async () => {
    const c = await remote.corpus(mat(6, 4, 1));
    const want = (op: string, takes: string) => ({
      code: 'INVALID_ARGUMENT',
      op,
      arg: 'options.zz',
      message: expect.stringMatching(new RegExp(`it takes ${takes}\\.$`)),
    });
    await expect(c.search(mat(2, 4, 2), 1, { zz: 1 } as never)).rejects.toMatchObject(
      want('search', 'filter, signal, transfer'),
    );
    await expect(c.similarity(mat(2, 4, 2), { zz: 1 } as never)).rejects.toMatchObject(
      want('similarity', '.*, transfer'),
    );
    await expect(remote.corpus(mat(6, 4, 1), { zz: 1 } as never)).rejects.toMatchObject(
      want('corpus', '.*, transfer'),
    );
    c.dispose();
  });

  it('an argument past those a call takes is refused naming arguments[i], as the in-thread kit refuses it', async () => {
    const c = await remote.corpus(mat(3, 4, 1));
    const saved = await c.save();
    const more = { filter: { allow: [2] } };
    const calls: [string, number, () => Promise<unknown>][] = [
      ['topK', 3, () => (remote.topK as Function)(mat(1, 4, 2), mat(3, 4, 1), 2, more)],
      ['cosineRows', 2, () => (remote.cosineRows as Function)(mat(1, 4, 2), mat(1, 4, 3), more)],
      ['rowNorms', 1, () => (remote.rowNorms as Function)(mat(1, 4, 2), more)],
      ['normalize', 1, () => (remote.normalize as Function)(mat(1, 4, 2), more)],
      [
        'cosineMatrix',
        3,
        () => (remote.cosineMatrix as Function)(mat(1, 4, 2), mat(1, 4, 3), undefined, more),
      ],
      ['corpus', 2, () => (remote.corpus as Function)(mat(1, 4, 2), {}, more)],
      ['corpusFrom', 2, () => (remote.corpusFrom as Function)([mat(1, 4, 2)], {}, more)],
      ['loadCorpus', 1, () => (remote.loadCorpus as Function)(saved, more)],
      ['search', 3, () => (c.search as Function)(mat(1, 4, 2), 1, {}, more)],
      ['similarity', 2, () => (c.similarity as Function)(mat(1, 4, 2), {}, more)],
      ['add', 2, () => (c.add as Function)(mat(1, 4, 2), undefined, more)],
      ['remove', 1, () => (c.remove as Function)([0], more)],
      ['save', 0, () => (c.save as Function)(more)],
    ];
    for (const [op, i, call] of calls)
      expect(await failure(call()), op).toMatchObject({
        code: 'INVALID_ARGUMENT',
        op,
        arg: `arguments[${i}]`,
      });
    expect(c.rows).toBe(3);
    // Trailing undefineds pass, and so do the index and array a map hands on.
    expect(Array.from((await (remote.rowNorms as Function)([[3, 4]], undefined)) as Float32Array)).toEqual([
      5,
    ]);
    const norms = await Promise.all([[[3, 4]], [[6, 8]]].map(remote.rowNorms));
    expect(norms.map((x) => Array.from(x))).toEqual([[5], [10]]);
    c.dispose();
  });

  it('a worker of ones own that imports its backends and calls serveKit', async () => {
    const w = new Worker(new URL('./fixtures/serve-worker.mjs', import.meta.url));
    const k = await createWorkerKit({ worker: w, backend: 'wasm' });
    expect((await k.ready()).backend).toBe('wasm');
    expect(Array.from(await k.rowNorms([[3, 4]]))).toEqual([5]);
    k.dispose();
  });
});

const N2 = 20_000;

describe('detached inputs are refused as the in-thread kit refuses them, with or without transfer', () => {
  const gone = <T extends ArrayBufferView>(x: T): T => {
    structuredClone(x.buffer, { transfer: [x.buffer as ArrayBuffer] });
    return x;
  };
  it('rows, queries, a filter mask and loadCorpus bytes: DISPOSED by name (with transfer the call once never settled)', async () => {
    const rows = mat(6, 4, 91);
    const L = await local.corpus(copy(rows));
    const R = await remote.corpus(copy(rows));
    for (const transfer of [false, true]) {
      // `transfer` is the worker kit's option: core's own kit refuses options it does not take.
      const tr = (x: unknown) => (x === local || x === L ? {} : { transfer });
      const cases: [string, (k: CosineKit | WorkerKit, c: typeof L | typeof R) => Promise<unknown>][] = [
        ['search queries', (_, c) => c.search(gone(new Float32Array(4)), 1, tr(c) as never)],
        [
          'search tensor',
          (_, c) => {
            const t = new Tensor(new Float32Array(4), 1, 4);
            gone(t.data);
            return c.search(t, 1, tr(c) as never);
          },
        ],
        [
          'search mask',
          (_, c) =>
            c.search(mat(1, 4, 92), 1, { filter: { mask: gone(new Uint8Array(6)) }, ...tr(c) } as never),
        ],
        ['corpus rows', (k) => k.corpus(gone(new Float32Array(8)), tr(k) as never)],
        [
          'corpus row list',
          (k) => k.corpus([new Float32Array(4), gone(new Float32Array(4))], tr(k) as never),
        ],
        ['cosineRows', (k) => k.cosineRows(gone(new Float32Array(4)), new Float32Array(4))],
        [
          // Described without reading its own `constructor` (the getter threw out of the message).
          'cosineRows, a throwing constructor getter',
          (k) =>
            k.cosineRows(
              gone(
                Object.defineProperty(new Float32Array(4), 'constructor', {
                  get() {
                    throw new Error('ctor');
                  },
                }),
              ),
              new Float32Array(4),
            ),
        ],
        ['loadCorpus', (k) => k.loadCorpus(gone(new Uint8Array(64)))],
      ];
      for (const [what, call] of cases) {
        const want = await failure(call(local, L));
        expect(want.code, what).toBe('DISPOSED');
        expect(await failure(call(remote, R)), `${what}, transfer ${transfer}`).toEqual(want);
      }
    }
    // Both carry on.
    expect((await R.search(mat(1, 4, 93), 2)).toArray()).toEqual(
      (await L.search(mat(1, 4, 93), 2)).toArray(),
    );
    L.dispose();
    R.dispose();
  });

  it('a view over a resizable buffer shrunk below it: DISPOSED with core words (it crossed as empty: CORRUPT_DATA, EMPTY_INPUT, or an uncloneable object with transfer)', async () => {
    /** A fixed-length view of `n` values over a resizable buffer, then shrunk to nothing. */
    const shrunk = <T extends Float32Array | Uint8Array>(
      make: (b: ArrayBuffer, n: number) => T,
      n: number,
    ): T => {
      const b = resizable(4 * n, 8 * n);
      const v = make(b, n);
      b.resize(0);
      return v;
    };
    const f32 = (n: number) => shrunk((b, m) => new Float32Array(b, 0, m), n);
    const u8 = (n: number) => shrunk((b, m) => new Uint8Array(b, 0, m), n);
    const rows = mat(6, 4, 94);
    const L = await local.corpus(copy(rows));
    const R = await remote.corpus(copy(rows));
    for (const transfer of [false, true]) {
      const tr = (x: unknown) => (x === local || x === L ? {} : { transfer });
      const cases: [string, (k: CosineKit | WorkerKit, c: typeof L | typeof R) => Promise<unknown>][] = [
        ['search queries', (_, c) => c.search(f32(4), 1, tr(c) as never)],
        ['search mask', (_, c) => c.search(mat(1, 4, 95), 1, { filter: { mask: u8(6) }, ...tr(c) } as never)],
        ['corpus rows', (k) => k.corpus(f32(8), tr(k) as never)],
        ['corpus row list', (k) => k.corpus([new Float32Array(4), f32(4)], tr(k) as never)],
        ['cosineRows', (k) => k.cosineRows(f32(4), new Float32Array(4))],
        ['loadCorpus', (k) => k.loadCorpus(u8(64))],
      ];
      for (const [what, call] of cases) {
        const want = await failure(call(local, L));
        expect(want.code, what).toBe('DISPOSED');
        expect(want.message, what).toMatch(/resizable buffer was shrunk below it/);
        expect(await failure(call(remote, R)), `${what}, transfer ${transfer}`).toEqual(want);
      }
    }
    expect((await R.search(mat(1, 4, 96), 2)).toArray()).toEqual(
      (await L.search(mat(1, 4, 96), 2)).toArray(),
    );
    L.dispose();
    R.dispose();
  });
});

describe('rows whose reading throws', () => {
  it('are refused as the in-process kit refuses them (INVALID_ARGUMENT naming the argument), and the kit carries on', async () => {
    const row = () => {
      const a = [1, 2];
      Object.defineProperty(a, 1, {
        get() {
          throw new Error('getter broke');
        },
      });
      return a;
    };
    for (const call of [
      (k: CosineKit | WorkerKit) => k.cosineMatrix([row()], [[1, 2]]),
      (k: CosineKit | WorkerKit) => k.rowNorms([[3, 4], row()]),
    ]) {
      const want = await failure(call(local));
      expect(want).toMatchObject({ code: 'INVALID_ARGUMENT' });
      expect(await failure(call(remote))).toEqual(want);
    }
    expect((await remote.rowNorms([[3, 4]]))[0]).toBe(5);
  });
});

describe('found by a probe (each escaped raw, or unhandled, before)', () => {
  it('an options.out that is a Proxy around a Float32Array is INVALID_TYPE naming options.out, as in core', async () => {
    const out = new Proxy(new Float32Array(1), {});
    await expect(remote.cosineMatrix([[1, 0]], [[1, 1]], { out })).rejects.toMatchObject({
      code: 'INVALID_TYPE',
      op: 'cosineMatrix',
      arg: 'options.out',
    });
  });

  it('an options.out getter that throws rejects by name, with no unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const options = {
        get out(): Float32Array {
          throw new Error('getter boom');
        },
      };
      let p: Promise<unknown> | undefined;
      expect(() => {
        p = remote.cosineMatrix([[1, 0]], [[1, 1]], options);
      }).not.toThrow();
      expect(await failure(p!)).toMatchObject({
        code: 'INVALID_ARGUMENT',
        op: 'cosineMatrix',
        arg: 'options',
      });
      const c = await remote.corpus([
        [1, 0],
        [0, 1],
      ]);
      expect(await failure(c.similarity([[1, 0]], options))).toMatchObject({
        code: 'INVALID_ARGUMENT',
        arg: 'options',
      });
      c.dispose();
      await new Promise((r) => setTimeout(r, 50));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('a filter whose getter throws is INVALID_ARGUMENT, as in the in-thread kit, not a raw Error', async () => {
    const c = await remote.corpus([
      [1, 0],
      [0, 1],
    ]);
    const filter = {
      get allow(): string[] {
        throw new Error('ga');
      },
    };
    expect(await failure(c.search([[1, 0]], 1, { filter }))).toMatchObject({ code: 'INVALID_ARGUMENT' });
    c.dispose();
  });

  it("a worker string that names no script is INVALID_TYPE naming 'worker'", async () => {
    expect(await failure(createWorkerKit({ worker: 'not-a-url' }))).toMatchObject({
      code: 'INVALID_TYPE',
      op: 'createWorkerKit',
      arg: 'worker',
    });
  });
});

describe('found by a second probe (a filter dropped, a crash, hangs, raw throws)', () => {
  it('options and filters read through prototypes, getters and non-enumerable properties cross as core reads them (the filter was dropped: unfiltered results)', async () => {
    const rows = [
      [1, 0],
      [0.9, 0.1],
      [0, 1],
    ];
    const ids = ['a', 'b', 'c'];
    const R = await remote.corpus(rows, Object.create({ ids }));
    const L = await local.corpus(rows, Object.create({ ids }));
    class WithGetter {
      get filter() {
        return { allow: ['c'] };
      }
    }
    const hidden = {};
    Object.defineProperty(hidden, 'filter', { value: { allow: ['c'] }, enumerable: false });
    const cases: [string, () => object][] = [
      ['inherited filter', () => Object.create({ filter: { allow: ['c'] } })],
      ['non-enumerable filter', () => hidden],
      ['filter from a class getter', () => new WithGetter()],
      ['inherited allow', () => ({ filter: Object.create({ allow: ['c'] }) })],
    ];
    for (const [what, options] of cases) {
      const [r, l] = [await R.search([[1, 0]], 1, options()), await L.search([[1, 0]], 1, options())];
      expect(r.ids, what).toEqual(['c']);
      expect(l.ids, what).toEqual(['c']);
    }
    R.dispose();
    L.dispose();
  });

  it('a per-call transfer that is not a boolean is INVALID_TYPE (any truthy value moved the buffers), and option getters reject rather than throw', async () => {
    const c = await remote.corpus(mat(3, 2, 1));
    const q = mat(1, 2, 2).data;
    const e = await failure(c.search(q, 1, { transfer: 'no' } as never));
    expect(e).toMatchObject({ code: 'INVALID_TYPE', op: 'search', arg: 'options.transfer' });
    expect(q.length).toBe(2);
    const throwing = (key: string) =>
      Object.defineProperty({}, key, {
        enumerable: true,
        get() {
          throw new Error(`${key} broke`);
        },
      });
    for (const key of ['transfer', 'signal']) {
      let p: Promise<unknown> | undefined;
      expect(() => {
        p = c.search(q, 1, throwing(key) as never);
      }, key).not.toThrow();
      expect(await failure(p!), key).toMatchObject({ code: 'INVALID_ARGUMENT', op: 'search' });
    }
    // A signal whose addEventListener throws is taken, as core takes it (it failed raw).
    const odd = {
      aborted: false,
      addEventListener: () => {
        throw new Error('no listeners');
      },
      removeEventListener: () => undefined,
    };
    expect((await c.search(q, 1, { signal: odd as never })).indices.length).toBe(1);
    c.dispose();
  });

  it('a worker handed over after it started, and one already serving a kit: the first starts, the second is refused (both hung)', async () => {
    const w = new Worker(new URL('./fixtures/serve-worker.mjs', import.meta.url));
    await new Promise((r) => setTimeout(r, 300));
    const k = await createWorkerKit({ worker: w, backend: 'reference' });
    expect(Array.from(await k.rowNorms([[3, 4]]))).toEqual([5]);
    expect(await failure(createWorkerKit({ worker: w, backend: 'reference' }))).toMatchObject({
      code: 'INVALID_ARGUMENT',
      op: 'createWorkerKit',
      arg: 'worker',
    });
    // The refusal leaves the first kit its worker (it was terminated, and every call then failed),
    // and takes its listeners back.
    expect(Array.from(await k.rowNorms([[6, 8]]))).toEqual([10]);
    expect(w.listenerCount('message')).toBe(1);
    k.dispose();
  });

  it("three kits started at once on one worker: one starts, two are refused (a probe: all started and took each other's answers)", async () => {
    for (const wait of [0, 300]) {
      const w = new Worker(new URL('./fixtures/serve-worker.mjs', import.meta.url));
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const tries = await Promise.allSettled(
        [0, 1, 2].map(() => createWorkerKit({ worker: w, backend: 'reference' })),
      );
      const kits = tries.flatMap((t) => (t.status === 'fulfilled' ? [t.value] : []));
      expect(kits.length, `after ${wait} ms`).toBe(1);
      for (const t of tries)
        if (t.status === 'rejected')
          expect(t.reason).toMatchObject({ code: 'INVALID_ARGUMENT', op: 'createWorkerKit', arg: 'worker' });
      // Its answers are its own, called many at a time.
      const norms = await Promise.all(
        Array.from({ length: 20 }, (_, i) => kits[0]!.rowNorms([[3 * (i + 1), 4 * (i + 1)]])),
      );
      expect(norms.map((n) => n[0])).toEqual(Array.from({ length: 20 }, (_, i) => 5 * (i + 1)));
      expect(w.listenerCount('message')).toBe(1);
      kits[0]!.dispose();
    }
  });

  it('errors as core gives them: rows before what cannot cross, an uncloneable k is INVALID_K, an out detached or disposed while the call runs is DISPOSED', async () => {
    const R = [
      [1, 2, 3],
      [3, 2, 1],
    ];
    const nan = [[Number.NaN, 1, 1]];
    const cases: [string, (k: typeof local) => Promise<unknown>][] = [
      ['NaN queries beside a symbol k', (k) => k.topK(nan, R, Symbol() as never)],
      ['a function k', (k) => k.topK(R, R, (() => 1) as never)],
      ['NaN rows beside a symbol id', (k) => k.corpus(nan, { ids: [Symbol() as never] })],
      [
        'out detached while the call runs',
        (k) => {
          const out = new Float32Array(4);
          const p = k.cosineMatrix(R, R, { out });
          structuredClone(out.buffer, { transfer: [out.buffer] });
          return p;
        },
      ],
    ];
    // A kit that has not started yet: its call waits, and the out detached meanwhile was the
    // backend's failure naming 'a' (core, found beside the worker's).
    const fresh = createCosineKit({ backend: 'reference' });
    const detachedLater = () => {
      const out = new Float32Array(4);
      queueMicrotask(() => structuredClone(out.buffer, { transfer: [out.buffer] }));
      return out;
    };
    for (const [what, call] of cases) {
      // A started in-process kit on the reference backend answers at once (nothing to detach
      // during): the worker kit is compared with one whose calls wait for it to start.
      const pending = what.startsWith('out');
      const want = await failure(call(pending ? createCosineKit({ backend: 'reference' }) : local));
      const got = await failure(call(remote as never));
      expect([got.code, got.op, got.arg], what).toEqual([want.code, want.op, want.arg]);
    }
    expect((await failure(fresh.cosineMatrix(R, R, { out: detachedLater() }))).arg).toBe('options.out');
    fresh.dispose();
  });

  it("a function that cannot cross is named by its place, never quoted: V8's clone error held its source text", async () => {
    const R = [
      [1, 2, 3],
      [3, 2, 1],
    ];
    function myHook() {
      const apiKey = 'sk-live-SECRET-IN-SOURCE';
      return apiKey;
    }
    for (const [arg, call] of [
      ['options.out', () => remote.cosineMatrix(R, R, { out: myHook as never })],
      ['options.myHook', () => remote.corpus(R, { myHook } as never)],
    ] as const) {
      const e = await failure(call());
      expect([e.code, e.arg]).toEqual(['INVALID_TYPE', arg]);
      expect(e.message).toMatch(
        /cannot be sent to the worker: the structured clone cannot copy it \(DataCloneError/,
      );
      expect(e.message).not.toMatch(/SECRET|apiKey/);
    }
    async function* chunks() {
      yield myHook as never;
    }
    const f = await failure(remote.corpusFrom(chunks()));
    expect(f.message).not.toMatch(/SECRET|apiKey/);
    // A chunk whose getter or trap throws is no clone failure: named as core names it, its error the cause.
    const broken = new RangeError('my getter failed');
    const odd = [
      {
        get rows() {
          throw broken;
        },
      },
      {
        rows: [[1, 2]],
        get ids() {
          throw broken;
        },
      },
    ];
    for (const chunk of odd) {
      const [w, l] = [
        await failure(remote.corpusFrom([chunk as never])),
        await failure(local.corpusFrom([chunk as never])),
      ];
      expect([w.code, w.arg, w.message]).toEqual([l.code, l.arg, l.message]);
      expect([w.code, w.arg]).toEqual(['INVALID_ARGUMENT', 'source[0]']);
      const e = await remote.corpusFrom([chunk as never]).catch((x: unknown) => x);
      expect((e as Error).cause).toBe(broken);
    }
  });

  it('a corpusFrom source that throws is INVALID_ARGUMENT naming source, its error the cause, as in core (it was the raw error)', async () => {
    const boom = new Error('stream broke');
    const sources: [string, () => unknown][] = [
      [
        'an async generator that throws',
        () =>
          (async function* () {
            yield [[1, 2]];
            throw boom;
          })(),
      ],
      [
        'a generator that throws first',
        () =>
          (function* () {
            yield* [];
            throw boom;
          })(),
      ],
      [
        'an iterator that cannot be made',
        () => ({
          [Symbol.iterator]() {
            throw boom;
          },
        }),
      ],
    ];
    for (const [what, source] of sources) {
      const [r, l] = [
        await failure(remote.corpusFrom(source() as never)),
        await failure(local.corpusFrom(source() as never)),
      ];
      expect([r.code, r.op, r.arg], what).toEqual(['INVALID_ARGUMENT', 'corpusFrom', 'source']);
      expect([l.code, l.op, l.arg], what).toEqual([r.code, r.op, r.arg]);
      const e = await remote.corpusFrom(source() as never).catch((x: unknown) => x);
      expect((e as { cause?: unknown }).cause, what).toBe(boom);
    }
  });

  it('a row on a SharedArrayBuffer after a plain row is read when the call is made (it was read later, as changed since)', async () => {
    const shared = new Float32Array(new SharedArrayBuffer(12));
    shared.set([0, 1, 0]);
    const rows = [[1, 0, 0], shared] as never;
    const p = remote.cosineMatrix(rows, [[0, 1, 0]]);
    shared.set([1, 0, 0]);
    expect(Array.from((await p).data)).toEqual([0, 1]);
  });

  // float16 corpora fall back from tfjs (which holds no float16 tensors) to the reference backend.
  it('an onFallback that throws fails the call that fell back by name, as in core; an async one that rejects is reported (the process died)', async () => {
    const { createTfjsBackend } = await import('@cosinekit/backend-tfjs');
    const thrower = () => {
      throw new Error('my onFallback failed');
    };
    const k = await createWorkerKit({ backend: 'tfjs-cpu', backends: ['tfjs'], onFallback: thrower });
    const l = createCosineKit({ backend: createTfjsBackend({ engine: 'cpu' }), onFallback: thrower });
    for (const x of [
      await failure(k.corpus(mat(4, 4, 3), { storage: 'float16' })),
      await failure(l.corpus(mat(4, 4, 3), { storage: 'float16' })),
    ])
      expect(x).toMatchObject({ code: 'INVALID_ARGUMENT', op: 'createCosineKit', arg: 'onFallback' });
    expect(Array.from(await k.rowNorms([[3, 4]]))).toEqual([5]);
    k.dispose();
    l.dispose();
    // An async logger: its rejected promise was dropped, and Node ended the process. Now the call
    // goes on and the rejection is reported, in both kits.
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      const rejecting = async () => {
        await Promise.resolve();
        throw new Error('my onFallback failed');
      };
      const ak = await createWorkerKit({ backend: 'tfjs-cpu', backends: ['tfjs'], onFallback: rejecting });
      const al = createCosineKit({ backend: createTfjsBackend({ engine: 'cpu' }), onFallback: rejecting });
      for (const kit of [ak, al]) {
        const c = await kit.corpus(mat(4, 4, 3), { storage: 'float16' });
        expect(c.rows).toBe(4);
      }
      await new Promise((r) => setTimeout(r, 20));
      expect(warn.mock.calls.filter((c) => /onFallback's promise rejected/.test(String(c[0])))).toHaveLength(
        2,
      );
      ak.dispose();
      al.dispose();
    } finally {
      warn.mockRestore();
    }
  });

  it('a value that cannot be turned into text, thrown by onFallback or a stream, fails the call by name (the process died)', async () => {
    const odd = Object.create(null) as unknown;
    const k = await createWorkerKit({
      backend: 'tfjs-cpu',
      backends: ['tfjs'],
      onFallback: () => {
        throw odd;
      },
    });
    expect(await failure(k.corpus(mat(4, 4, 3), { storage: 'float16' }))).toMatchObject({
      code: 'INVALID_ARGUMENT',
      arg: 'onFallback',
    });
    const source = {
      [Symbol.iterator]: () => ({
        next: () => {
          throw odd;
        },
      }),
    };
    expect(await failure(k.corpusFrom(source as never))).toMatchObject({
      code: 'INVALID_ARGUMENT',
      arg: 'source',
    });
    expect(Array.from(await k.rowNorms([[3, 4]]))).toEqual([5]);
    k.dispose();
  });
});

// Node's structured clone writes a view's byte offset and length as 32-bit values: an out 4 GiB
// into its SharedArrayBuffer reached the worker as a view at offset 0, which it filled there, outside
// the out (a limits probe). The buffer is reserved, not touched.
describe('an out at 4 GiB or more into its SharedArrayBuffer', () => {
  it('is written in place, and nothing before it', async (ctx) => {
    const [m, n, d] = [4, 300, 7];
    let buf: SharedArrayBuffer;
    try {
      buf = new SharedArrayBuffer(2 ** 32 + m * n * 4);
    } catch (e) {
      console.warn(`[worker] 4 GiB SharedArrayBuffer cannot be reserved here: ${String(e)}`);
      ctx.skip();
      return;
    }
    const q = mat(m, d, 3);
    const rows = mat(n, d, 4);
    const want = (await local.cosineMatrix(q, rows)).data;
    const head = new Float32Array(buf, 0, m * n);
    const out = new Float32Array(buf, 2 ** 32, m * n);
    expect((await remote.cosineMatrix(q, rows, { out })).data).toBe(out);
    expect(Float32Array.from(out)).toEqual(want);
    // A corpus's cosines come from its normalised rows: compared with the same call in this thread.
    const [c, lc] = [await remote.corpus(rows), await local.corpus(rows)];
    out.fill(Number.NaN);
    expect((await c.similarity(q, { out: new Tensor(out, m, n) })).data).toBe(out);
    expect(Float32Array.from(out)).toEqual((await lc.similarity(q)).data);
    c.dispose();
    lc.dispose();
    expect(head.some((v) => v !== 0)).toBe(false);
  });
});

describe('found by a review of the 4 GiB fix (each failed before)', () => {
  it('a view 4 GiB into a transferred ArrayBuffer is answered for its own rows (the worker read offset 0)', async (ctx) => {
    let ab: ArrayBuffer;
    try {
      ab = new ArrayBuffer(2 ** 32 + 64);
    } catch (e) {
      console.warn(`[worker] 4 GiB ArrayBuffer cannot be reserved here: ${String(e)}`);
      ctx.skip();
      return;
    }
    const moving = await createWorkerKit({ backend: 'reference', transfer: true });
    try {
      new Float32Array(ab, 0, 4).set([1, 1, 1, 1]);
      const x = new Float32Array(ab, 2 ** 32, 4);
      x.set([3, 4, 0, 5]);
      expect(Array.from(await moving.rowNorms(new Tensor(x, 2, 2)))).toEqual([5, 5]);
      expect(Array.from(await remote.rowNorms(new Tensor(x, 2, 2)))).toEqual([5, 5]);
    } finally {
      moving.dispose();
    }
  });

  it('a Tensor out over a SharedArrayBuffer keeps its shape: a 1 x 6 out for a 2 x 3 result is SHAPE_MISMATCH', async () => {
    const q = mat(2, 4, 5);
    const rows = mat(3, 4, 6);
    const out = new Tensor(new Float32Array(new SharedArrayBuffer(24)), 1, 6);
    await expect(remote.cosineMatrix(q, rows, { out })).rejects.toMatchObject({
      code: 'SHAPE_MISMATCH',
      arg: 'options.out',
    });
    const c = await remote.corpus(rows);
    await expect(c.similarity(q, { out })).rejects.toMatchObject({
      code: 'SHAPE_MISMATCH',
      arg: 'options.out',
    });
    c.dispose();
  });
});

describe('found by a review of the later commits (failed before its fix)', () => {
  it('a DataView over shared memory is refused as core refuses it (it read "v.slice is not a function")', async () => {
    const dv = new DataView(new SharedArrayBuffer(16));
    const want = await local.rowNorms(dv as never).then(
      () => undefined,
      (e: CosineKitError) => ({ code: e.code, arg: e.arg }),
    );
    expect(want).toEqual({ code: 'INVALID_TYPE', arg: 'x' });
    await expect(remote.rowNorms(dv as never)).rejects.toMatchObject(want as object);
    const c = await remote.corpus(mat(3, 4, 2));
    await expect(c.search(mat(1, 4, 3), 1, { filter: { mask: dv as never } })).rejects.toMatchObject({
      code: 'INVALID_TYPE',
      arg: 'options.filter.mask',
    });
    c.dispose();
  });
});

describe('found by a probe of the worker package (each failed before its fix)', () => {
  it("a timeoutMs past a timer's range starts the kit (Infinity and 2^31 ms failed it at once)", async () => {
    for (const timeoutMs of [Number.POSITIVE_INFINITY, 2 ** 31, 3e9]) {
      const k = await createWorkerKit({ backend: 'reference', timeoutMs });
      expect(Array.from(await k.rowNorms([[3, 4]])), `${timeoutMs}`).toEqual([5]);
      k.dispose();
    }
  });

  it('a started worker that has exited is refused at once, not after the 60 s start-up bound', async () => {
    const w = new Worker(new URL('./fixtures/serve-worker.mjs', import.meta.url));
    await w.terminate();
    const t0 = Date.now();
    expect(await failure(createWorkerKit({ worker: w }))).toMatchObject({
      code: 'BACKEND_INIT_FAILED',
      arg: 'worker',
      message: expect.stringMatching(/has exited/),
    });
    expect(Date.now() - t0).toBeLessThan(30_000);
  });

  it('messages a script of your own posts (null, forged answers) are ignored, not thrown in this thread', async () => {
    const w = new Worker(new URL('./fixtures/serve-worker.mjs', import.meta.url));
    const k = await createWorkerKit({ worker: w, backend: 'reference' });
    const thrown: unknown[] = [];
    const seen = (e: unknown) => thrown.push(e);
    process.on('uncaughtException', seen);
    try {
      // What the worker posts reaches this thread's listeners as posted from there.
      for (const m of [
        null,
        undefined,
        42,
        'text',
        { t: 'done' },
        { t: 'done', id: 999, value: { buffer: 1 } },
      ])
        w.emit('message', m);
      await new Promise((r) => setTimeout(r, 50));
      expect(thrown).toEqual([]);
      expect(Array.from(await k.rowNorms([[3, 4]]))).toEqual([5]);
    } finally {
      process.off('uncaughtException', seen);
      k.dispose();
    }
  });

  it('keys core does not read (a method) in a filter or a stream chunk do not stop a call (INVALID_TYPE before)', async () => {
    const rows = mat(4, 3, 5);
    const ids = ['a', 'b', 'c', 'd'];
    const q = mat(1, 3, 6);
    const filter = { allow: ['b', 'd'], describe: () => 'mine' };
    const chunks = () => [{ rows, ids, note: () => 'mine' }];
    const got: unknown[] = [];
    for (const kit of [local, remote] as const) {
      const c = await kit.corpus(rows, { ids });
      const r = await c.search(q, 2, { filter });
      const f = await kit.corpusFrom(chunks() as never);
      got.push([Array.from(r.ids ?? []), Array.from(r.scores), f.rows]);
      c.dispose();
      f.dispose();
    }
    expect(got[1]).toEqual(got[0]);
  });

  it("a call waiting only on the caller's own stream does not keep Node alive (a stream that never yields kept it for good)", async () => {
    const { spawnSync } = await import('node:child_process');
    const script = `
      import { createWorkerKit } from ${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)};
      const kit = await createWorkerKit({ backend: 'reference' });
      const never = { [Symbol.asyncIterator]: () => ({ next: () => new Promise(() => {}) }) };
      kit.corpusFrom(never).catch(() => {});
      // A call the worker answers still keeps the process alive until it does.
      kit.rowNorms([[3, 4]]).then((v) => console.log('answered', v[0]));
      // An aborted stream whose next() never settles: a later call still keeps the process alive
      // (its count stayed for good, and a lone call then ran on an unref'd worker).
      const ctl = new AbortController();
      const stuck = kit.corpusFrom(never, { signal: ctl.signal });
      setTimeout(() => ctl.abort(), 200);
      await stuck.catch(() => {});
      const n = 1500, d = 512;
      const a = Array.from({ length: n }, (_, i) => Float32Array.from({ length: d }, (_, j) => Math.sin(i + j)));
      kit.cosineMatrix(a, a).then((m) => console.log('matrix', m.rows));
    `;
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    // A file, not --eval: a worker inherits the process's flags, and --input-type refuses its script.
    const dir = mkdtempSync(join(tmpdir(), 'cosinekit-worker-'));
    const file = join(dir, 'never.mjs');
    writeFileSync(file, script);
    const r = spawnSync(process.execPath, [file], { timeout: 20_000, encoding: 'utf8' });
    rmSync(dir, { recursive: true, force: true });
    expect(r.error).toBeUndefined();
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('answered 5');
    expect(r.stdout).toContain('matrix 1500');
  });

  it("errors with core's words: an uncloneable k names its range, a Proxy around bytes or a mask says so, a RangeError cause stays one", async () => {
    const rows = mat(3, 2, 7);
    const cases: [string, (k: CosineKit | WorkerKit) => Promise<unknown>][] = [
      ['search k = Symbol()', async (k) => (await k.corpus(rows)).search(mat(1, 2, 8), Symbol() as never)],
      ['topK k = { valueOf }', (k) => k.topK(mat(1, 2, 8), rows, { valueOf: () => 1 } as never)],
      ['loadCorpus(Proxy)', (k) => k.loadCorpus(new Proxy(new Uint8Array(64), {}))],
      [
        'filter.mask Proxy',
        async (k) =>
          (await k.corpus(rows)).search(mat(1, 2, 8), 1, {
            filter: { mask: new Proxy(new Uint8Array([1, 1, 1]), {}) },
          }),
      ],
    ];
    for (const [name, f] of cases) expect(await failure(f(remote)), name).toEqual(await failure(f(local)));
    // 1e10 results: OUT_OF_MEMORY, the engine's RangeError as the cause on both sides.
    const t = new Tensor(new Float32Array(100_000).fill(1), 100_000, 1);
    const [a, b] = await Promise.all(
      [local, remote].map((k) => k.cosineMatrix(t, t).catch((e: unknown) => e)),
    );
    expect(b).toMatchObject({ code: 'OUT_OF_MEMORY' });
    expect((a as Error).cause).toBeInstanceOf(RangeError);
    expect((b as Error).cause).toBeInstanceOf(RangeError);
  });
});

describe("'webgpu' in a worker, in a process started without EGL_PLATFORM", () => {
  // Each case runs in a child process whose environment lacks EGL_PLATFORM, as a fresh shell's:
  // Dawn reads the process's environment, which the webgpu backend cannot set from a worker thread.
  // A script file, not `-e`: a worker inherits the process's flags, and `--input-type` ended it.
  const run = async (code: string): Promise<string> => {
    const { execFile } = await import('node:child_process');
    const { mkdtemp, rm, writeFile } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = await mkdtemp(join(tmpdir(), 'cosinekit-egl-'));
    const file = join(dir, 'case.mjs');
    await writeFile(file, code);
    const env = { ...process.env };
    delete env.EGL_PLATFORM;
    try {
      return await new Promise((resolve, reject) =>
        execFile(process.execPath, [file], { env, timeout: 50_000 }, (e, stdout) =>
          e ? reject(e) : resolve(stdout.trim().split('\n').at(-1) ?? ''),
        ),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };
  const dist = (p: string) => JSON.stringify(new URL(p, import.meta.url).href);

  it('runs on WebGPU where the calling thread could (a probe: it fell back to the reference)', async () => {
    const here = await run(`
      const { createWebGpuBackend } = await import(${dist('../../backend-webgpu/dist/index.js')});
      const b = createWebGpuBackend();
      console.log(await b.init().then(() => 'webgpu', (e) => 'none: ' + e.message));
      await b.dispose();
      process.exit(0);`);
    if (here !== 'webgpu') {
      console.log(`[worker] webgpu-in-a-worker case skipped: no WebGPU device on this machine (${here})`);
      return;
    }
    const there = await run(`
      const { createWorkerKit } = await import(${dist('../dist/index.js')});
      const k = await createWorkerKit({ backends: ['webgpu'], backend: 'webgpu' });
      const info = await k.ready();
      const r = await k.cosineMatrix([[1, 0, 0]], [[3, 4, 0], [0, 0, 2]]);
      console.log(info.backend + ' ' + Array.from(r.data).join(','));
      k.dispose();
      process.exit(0);`);
    expect(there).toBe('webgpu 0.6000000238418579,0');
  });
});
