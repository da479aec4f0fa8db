import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkTopK, cosineMatrix64, randomTensor, topK64 } from '@cosinekit/conformance';
import { type Corpus, type CosineKit, createCosineKit, type Id, Tensor } from '@cosinekit/core';
import { createReferenceBackend, isCosineKitError } from '@cosinekit/core/backend';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgvectorBackend, distanceError, type PGliteLike, type PgvectorBackend } from '../src/index.js';
import { openDatabase } from './servers.js';

// One embedded database shared by the tests (PGlite takes seconds to start); each test's backend
// has its own table prefix, so its tables can be counted.
let db: PGlite;
let bare: PGlite;
const dir = mkdtempSync(join(tmpdir(), 'cosinekit-pgvector-'));

beforeAll(async () => {
  // A database without the extension, for the "missing extension" case, started alongside.
  [db, bare] = await Promise.all([openDatabase(), PGlite.create('memory://')]);
}, 240_000);

afterAll(async () => {
  await Promise.all([db?.close(), bare?.close()]);
  rmSync(dir, { recursive: true, force: true });
});

async function tablesLike(prefix: string): Promise<number> {
  const r = await db.query<{ n: number }>(
    "SELECT count(*)::int4 AS n FROM pg_tables WHERE tablename LIKE $1 || '\\_%'",
    [prefix],
  );
  return r.rows[0].n;
}

function expectError(e: unknown, code: string, text?: RegExp): void {
  expect(isCosineKitError(e), String(e)).toBe(true);
  expect((e as { code: string }).code).toBe(code);
  if (text) expect((e as Error).message).toMatch(text);
}

async function failure(p: Promise<unknown> | (() => unknown)): Promise<unknown> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    return e;
  }
  throw new Error('expected a failure');
}

const HOSTILE_IDS: Id[] = [
  "'; DROP TABLE pg_class; --",
  'nul\u0000inside',
  '"double" and \'single\' quotes',
  '$1',
  'x'.repeat(1 << 20),
  '😀 \\ backslash',
  -7.25,
  1e300,
];

describe('the Corpus API on pgvector matches the reference', () => {
  let pg: CosineKit;
  let ref: CosineKit;
  let backend: PgvectorBackend;

  beforeAll(async () => {
    backend = createPgvectorBackend({ pglite: db, tablePrefix: 'api' });
    pg = createCosineKit({ backend });
    ref = createCosineKit({ backend: createReferenceBackend() });
    await pg.ready();
  });

  afterAll(async () => {
    pg.dispose();
    await backend.dispose();
  });

  const same = async (a: Corpus, b: Corpus, q: Tensor, k: number) => {
    const [x, y] = await Promise.all([a.search(q, k), b.search(q, k)]);
    expect(Array.from(x.indices)).toEqual(Array.from(y.indices));
    expect(x.ids).toEqual(y.ids);
    for (let i = 0; i < x.scores.length; i++) expect(Math.abs(x.scores[i] - y.scores[i])).toBeLessThan(1e-6);
  };

  it('ids (hostile strings included) come back exactly through add, remove, search, save and load', async () => {
    const d = 33;
    const rows = randomTensor(600, d, 11, 0.2);
    const ids: Id[] = Array.from({ length: 600 }, (_, i) =>
      i < HOSTILE_IDS.length ? HOSTILE_IDS[i] : `row ${i}`,
    );
    const queries = new Tensor(rows.data.slice(0, 5 * d), 5, d);
    const a = await pg.corpus(rows, { ids });
    const b = await ref.corpus(rows, { ids });
    expect(a.backend).toBe('pgvector');
    expect(await tablesLike('api')).toBe(1);
    await same(a, b, queries, 10);
    // The hostile ids are the best hits of their own rows, returned exactly as given.
    const own = await a.search(queries, 1);
    expect(own.ids).toEqual(HOSTILE_IDS.slice(0, 5));

    const more = randomTensor(40, d, 12);
    const moreIds = Array.from({ length: 40 }, (_, i) => `more ${i}`);
    await Promise.all([a.add(more, moreIds), b.add(more, moreIds)]);
    const gone = [HOSTILE_IDS[1], HOSTILE_IDS[4], 'row 77', 'more 3', 'not there'];
    expect(await a.remove(gone)).toBe(4);
    expect(await b.remove(gone)).toBe(4);
    expect(a.rows).toBe(636);
    await same(a, b, queries, 25);

    const loaded = await pg.loadCorpus(await a.save());
    expect(loaded.backend).toBe('pgvector');
    await same(loaded, b, queries, 25);
    const sims = await loaded.similarity(queries);
    const want = await b.similarity(queries);
    for (let i = 0; i < want.data.length; i++)
      expect(Math.abs(sims.data[i] - want.data[i])).toBeLessThan(2e-6);

    for (const c of [a, b, loaded]) c.dispose();
    await backend.dispose(); // waits for the drops behind dispose()
    expect(backend.memory().residentHandles).toBe(0);
    expect(await tablesLike('api')).toBe(0);
  });

  it('ids that are neither strings nor finite numbers are refused before anything is stored', async () => {
    const rows = randomTensor(3, 4, 13);
    for (const bad of [
      [{}, 'b', 'c'],
      ['a', Number.NaN, 'c'],
      ['a', 'a', 'c'],
    ]) {
      expectError(
        await failure(pg.corpus(rows, { ids: bad as Id[] })),
        bad[1] === 'a' ? 'INVALID_ARGUMENT' : 'INVALID_TYPE',
      );
    }
    expect(await tablesLike('api')).toBe(0);
  });
});

describe('save and load on pgvector', () => {
  let kit: CosineKit;
  let backend: PgvectorBackend;

  beforeAll(async () => {
    backend = createPgvectorBackend({ pglite: db, tablePrefix: 'saved' });
    kit = createCosineKit({ backend });
    await kit.ready();
  });

  afterAll(async () => {
    kit.dispose();
    await backend.dispose();
  });

  it('a loaded copy scores bit for bit as the corpus saved (it was 1 ulp off: stored unit rows were divided again)', async () => {
    for (const d of [3, 17, 64]) {
      // Rows of every norm, a zero row, and rows already unit.
      const rows = randomTensor(200, d, 40 + d, 3);
      for (let j = 0; j < d; j++) rows.data[5 * d + j] = 0;
      const unit = await kit.normalize(new Tensor(rows.data.slice(0, 10 * d), 10, d));
      rows.data.set(unit.data, 10 * d);
      const queries = randomTensor(7, d, 90 + d);
      const a = await kit.corpus(rows);
      const loaded = await kit.loadCorpus(await a.save());
      const again = await kit.loadCorpus(await loaded.save());
      const [x, y, z] = await Promise.all([a, loaded, again].map((c) => c.search(queries, 200)));
      expect(Array.from(y.indices)).toEqual(Array.from(x.indices));
      expect(Array.from(z.indices)).toEqual(Array.from(x.indices));
      for (let i = 0; i < x.scores.length; i++) {
        expect(Object.is(y.scores[i], x.scores[i]), `d ${d}, hit ${i}`).toBe(true);
        expect(Object.is(z.scores[i], x.scores[i]), `d ${d}, hit ${i}`).toBe(true);
      }
      checkTopK(`d ${d} search`, x, queries, rows, 200, 2e-6);
      for (const c of [a, loaded, again]) c.dispose();
    }
  });
});

describe('exact search', () => {
  it('near-ties around the k-th place: every candidate pgvector might misorder is rescored', async () => {
    // Counts the second, wider candidate query, so the test proves that path ran.
    let wider = 0;
    const counted: PGliteLike = {
      query: (text, params, options) => {
        if (text.includes('WHERE d <=')) wider++;
        return db.query(text, params, options);
      },
      transaction: (body) => db.transaction(body),
      close: async () => undefined,
    };
    const backend = createPgvectorBackend({ pglite: counted, tablePrefix: 'ties' });
    const kit = createCosineKit({ backend });
    try {
      const d = 24;
      const base = randomTensor(1, d, 21).data;
      // Positive multiples of the query and the query nudged by ~1e-7: hundreds of cosines within
      // pgvector's float32 error of each other, more than the first candidate pool holds.
      const n = 3000;
      const data = randomTensor(n, d, 22).data;
      for (let i = 0; i < 400; i++) {
        const r = i * 7;
        for (let j = 0; j < d; j++)
          data[r * d + j] = base[j] * (i % 2 ? 1 + i : 1 / (1 + i)) * (1 + (j === i % d ? 1e-7 : 0));
      }
      const rows = new Tensor(data, n, d);
      const q = new Tensor(Float32Array.from(base), 1, d);
      const c = await kit.corpus(rows);
      for (const k of [1, 10, 50, 399, 401]) {
        checkTopK(`corpus.search k=${k}`, await c.search(q, k), q, rows, k, 2e-6);
      }
      expect(wider).toBeGreaterThan(0);
      c.dispose();
    } finally {
      kit.dispose();
      await backend.dispose();
    }
    expect(await tablesLike('ties')).toBe(0);
  });
});

describe('search and similarity', () => {
  it('give the same score for a row and a query, bit for bit (a third of the pairs were an ulp apart)', async () => {
    // The rescore used the decimal pgvector prints for each float32 (a nearby double) and divided
    // by the norms; similarity reads the float32 rows and scales them as the reference does.
    const backend = createPgvectorBackend({ pglite: db, tablePrefix: 'same' });
    const kit = createCosineKit({ backend });
    try {
      for (const [n, d] of [
        [40, 64],
        [25, 7],
        [9, 1],
      ] as const) {
        const rows = randomTensor(n, d, 30 + d);
        const q = randomTensor(10, d, 31 + d);
        const c = await kit.corpus(rows);
        const sim = await c.similarity(q);
        const hits = await c.search(q, n);
        let differ = 0;
        for (let i = 0; i < q.rows; i++) {
          const h = hits.hits(i);
          for (let t = 0; t < n; t++) if (sim.data[i * n + h.indices[t]] !== h.scores[t]) differ++;
        }
        expect(differ, `${n} x ${d}`).toBe(0);
        checkTopK(`search ${n} x ${d}`, hits, q, rows, n, 2e-6);
        c.dispose();
      }
    } finally {
      kit.dispose();
      await backend.dispose();
    }
  });
});

describe('approximate search (HNSW)', () => {
  it('reports itself approximate; recall@10 is high and the scores it returns are exact', async () => {
    const backend = createPgvectorBackend({
      pglite: db,
      tablePrefix: 'hnsw',
      hnsw: { m: 8, efConstruction: 32, efSearch: 40 },
    });
    const kit = createCosineKit({ backend });
    try {
      await kit.ready();
      expect(String(backend.describe().search)).toMatch(
        /^approximate: HNSW m=8 ef_construction=32 ef_search=40/,
      );
      const n = 2000;
      const d = 16;
      const rows = randomTensor(n, d, 31);
      const q = randomTensor(20, d, 32);
      const c = await kit.corpus(rows);
      const got = await c.search(q, 10);
      const want = topK64(q, rows, 10);
      const all = cosineMatrix64(q, rows);
      let hits = 0;
      for (let i = 0; i < q.rows; i++) {
        const truth = new Set(want.indices[i]);
        for (let r = 0; r < 10; r++) {
          const idx = got.indices[i * 10 + r];
          if (truth.has(idx)) hits++;
          expect(Math.abs(got.scores[i * 10 + r] - all[i * n + idx])).toBeLessThan(1e-6);
        }
      }
      expect(hits / (q.rows * 10)).toBeGreaterThanOrEqual(0.9);
      c.dispose();
    } finally {
      kit.dispose();
      await backend.dispose();
    }
    expect(await tablesLike('hnsw')).toBe(0);
  });
});

describe('bad input', () => {
  it('an unreachable server: BACKEND_INIT_FAILED with the driver reason', async () => {
    const kit = createCosineKit({
      backend: createPgvectorBackend({ connectionString: 'postgres://nobody:secret@127.0.0.1:1/none' }),
    });
    expectError(await failure(kit.ready()), 'BACKEND_INIT_FAILED', /ECONNREFUSED/);
  });

  it('a database without pgvector: BACKEND_INIT_FAILED naming the extension', async () => {
    const backend = createPgvectorBackend({ pglite: bare as never });
    expectError(await failure(backend.init()), 'BACKEND_INIT_FAILED', /vector/);
    const kit = createCosineKit({ backend });
    expectError(await failure(kit.ready()), 'BACKEND_INIT_FAILED', /vector/);
  });

  it('options are validated: table prefix, HNSW parameters, pool size', () => {
    for (const tablePrefix of ['x"; DROP TABLE t; --', 'Upper', '1abc', '', 'a'.repeat(41), 'a b']) {
      expectError(
        failureSync(() => createPgvectorBackend({ tablePrefix })),
        'INVALID_ARGUMENT',
        /options\.tablePrefix/,
      );
    }
    expectError(
      failureSync(() => createPgvectorBackend({ hnsw: { m: 1 } })),
      'INVALID_ARGUMENT',
      /hnsw\.m/,
    );
    expectError(
      failureSync(() => createPgvectorBackend({ hnsw: { m: 16, efConstruction: 20 } })),
      'INVALID_ARGUMENT',
      /efConstruction/,
    );
    expectError(
      failureSync(() => createPgvectorBackend({ poolSize: 0 })),
      'INVALID_ARGUMENT',
      /poolSize/,
    );
    expectError(
      failureSync(() => createPgvectorBackend({ poolsize: 2 } as never)),
      'INVALID_ARGUMENT',
      /options\.poolsize/,
    );
  });

  it('durable tables: names validated, a different dimension is DIMENSION_MISMATCH', async () => {
    const backend = createPgvectorBackend({ pglite: db });
    try {
      const rows = randomTensor(5, 8, 41);
      await backend.writeTable('docs', rows);
      expectError(await failure(backend.writeTable('docs', rows)), 'INVALID_ARGUMENT', /already exists/);
      expectError(await failure(backend.readTable('docs', 9)), 'DIMENSION_MISMATCH', /vector\(8\)/);
      expectError(
        await failure(backend.readTable('docs"; DROP TABLE docs; --', 8)),
        'INVALID_ARGUMENT',
        /'name'/,
      );
      expectError(await failure(backend.readTable('missing', 8)), 'INVALID_ARGUMENT', /no table/);
      const back = await backend.readTable('docs', 8);
      const norms = cosineMatrix64(rows, rows);
      const kit = createCosineKit({ backend });
      // What readTable gives, kit.corpus takes as it is (the README's example).
      expect(back).toBeInstanceOf(Tensor);
      const c = await kit.corpus(back);
      const s = await c.similarity(rows);
      for (let i = 0; i < s.data.length; i++) expect(Math.abs(s.data[i] - norms[i])).toBeLessThan(1e-6);
      kit.dispose();
      expect(await backend.dropTable('docs')).toBe(true);
      expect(await backend.dropTable('docs')).toBe(false);
    } finally {
      await backend.dispose();
    }
  });

  it('table rows and names the database would refuse are typed errors, checked before anything is written', async () => {
    const backend = createPgvectorBackend({ pglite: db });
    try {
      const m = (data: Float32Array, rows: number, cols: number) => ({ data, rows, cols });
      // A NaN row was stored as a zero row; Infinity was Postgres's own error.
      for (const bad of [Number.NaN, Number.POSITIVE_INFINITY])
        expectError(
          await failure(backend.writeTable('t_bad', m(Float32Array.from([1, bad, 3, 1, 0, 0]), 2, 3))),
          'NON_FINITE',
        );
      expectError(await failure(backend.writeTable('t_bad', m(new Float32Array(0), 0, 3))), 'EMPTY_INPUT');
      expectError(
        await failure(backend.writeTable('t_bad', m(new Float32Array(0), 2, 0))),
        'INVALID_ARGUMENT',
      );
      expectError(
        await failure(backend.writeTable('t_bad', m(new Float32Array(3), 2, 1.5))),
        'INVALID_ARGUMENT',
      );
      expectError(
        await failure(backend.writeTable('t_bad', m(new Float32Array(16001), 1, 16001))),
        'UNSUPPORTED',
      );
      expectError(await failure(backend.writeTable('t_bad', m(new Float32Array(5), 2, 3))), 'SHAPE_MISMATCH');
      expectError(
        await failure(backend.writeTable('t_bad', { data: [1, 2], rows: 1, cols: 2 } as never)),
        'INVALID_TYPE',
      );
      const detached = new Float32Array(6);
      structuredClone(detached.buffer, { transfer: [detached.buffer] });
      expectError(await failure(backend.writeTable('t_bad', m(detached, 2, 3))), 'DISPOSED');
      expect(await backend.dropTable('t_bad')).toBe(false);
      // Two writes racing for one name: one wins, the other is the typed 'already exists'.
      const rows = randomTensor(3, 4, 5);
      const both = await Promise.allSettled([
        backend.writeTable('race', rows),
        backend.writeTable('race', rows),
      ]);
      expect(both.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expectError(
        (both.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason,
        'INVALID_ARGUMENT',
        /already exists/,
      );
      expect(await backend.dropTable('race')).toBe(true);
      // Not ordinary tables of the caller's: the catalog, a view, an index.
      for (const name of ['pg_class', 'pg_type', 'pg_tables', 'pg_class_oid_index'])
        expectError(
          await failure(backend.dropTable(name)),
          'INVALID_ARGUMENT',
          /not a table this backend drops/,
        );
      // A live corpus's table: dispose the corpus instead.
      const kit = createCosineKit({ backend });
      await kit.corpus(rows);
      const [live] = await db
        .query<{ t: string }>(
          "SELECT tablename AS t FROM pg_tables WHERE tablename LIKE 'cosinekit%' ORDER BY tablename DESC LIMIT 1",
        )
        .then((r) => r.rows);
      expectError(await failure(backend.dropTable(live.t)), 'INVALID_ARGUMENT', /live corpus/);
      // Another backend on the same database: the table is a resident corpus's, refused too.
      const other = createPgvectorBackend({ pglite: db });
      expectError(await failure(other.dropTable(live.t)), 'INVALID_ARGUMENT', /resident corpus's table/);
      await other.dispose();
      // A corpus wider than pgvector stores is UNSUPPORTED (was BACKEND_ERROR, blaming the backend).
      expectError(await failure(kit.corpus([new Float32Array(16001).fill(1)])), 'UNSUPPORTED', /16000/);
      kit.dispose();
    } finally {
      await backend.dispose();
    }
  });

  it('a backend disposed during a search, or before a remove, is DISPOSED (was BACKEND_ERROR, and remove worked)', async () => {
    const backend = createPgvectorBackend({ pglite: db });
    const kit = createCosineKit({ backend });
    const c = await kit.corpus(randomTensor(400, 16, 7), {
      ids: Array.from({ length: 400 }, (_, i) => `r${i}`),
    });
    const search = c.search(randomTensor(40, 16, 8), 5).then(
      () => null,
      (e: unknown) => e,
    );
    await new Promise((r) => setTimeout(r, 5));
    await backend.dispose();
    const e = await search;
    // The search finished before the drop, or failed by name.
    if (e !== null) expectError(e, 'DISPOSED');
    expectError(await failure(c.remove(['r1'])), 'DISPOSED');
    expectError(await failure(c.search(randomTensor(1, 16, 9), 1)), 'DISPOSED');
    kit.dispose();
  });
});

describe('found by a probe (each failed before)', () => {
  it('a long search on embedded PGlite lets the event loop turn: an abort from a timer rejects it (it ran to the end)', async () => {
    // PGlite's queries settle without a turn of the event loop: a search of 50 queries held it to
    // the end, so no timer, abort or kit timeout could run. Aborted by a 1 ms timer here.
    const backend = createPgvectorBackend({ pglite: db, tablePrefix: 'turns' });
    const kit = createCosineKit({ backend });
    const c = await kit.corpus(randomTensor(20_000, 64, 5));
    const q = randomTensor(50, 64, 6);
    const ac = new AbortController();
    let ticks = 0;
    const tick = setInterval(() => ticks++, 1);
    setTimeout(() => ac.abort(), 1);
    const e = await failure(c.search(q, 5, { signal: ac.signal }));
    clearInterval(tick);
    expectError(e, 'ABORTED');
    expect(ticks).toBeGreaterThan(0);
    // The corpus answers the next search, as the reference does.
    const ref = createCosineKit({ backend: createReferenceBackend() });
    const r = await ref.corpus(randomTensor(20_000, 64, 5));
    const [got, want] = [await c.search(q.slice(0, 2), 5), await r.search(q.slice(0, 2), 5)];
    expect(Array.from(got.indices)).toEqual(Array.from(want.indices));
    ref.dispose();
    kit.dispose();
    await backend.dispose();
  }, 120_000);

  it('a call made right after backend.dispose(), not awaited, is DISPOSED and changes nothing (a remove once ran)', async () => {
    const backend = createPgvectorBackend({ pglite: db });
    const kit = createCosineKit({ backend });
    const c = await kit.corpus(randomTensor(20, 4, 3), { ids: Array.from({ length: 20 }, (_, i) => i) });
    const closing = backend.dispose();
    const removed = c.remove([1, 2]);
    const added = c.add(randomTensor(2, 4, 4), [100, 101]);
    expectError(await failure(removed), 'DISPOSED');
    expectError(await failure(added), 'DISPOSED');
    expect(c.rows).toBe(20);
    await closing;
    kit.dispose();
  });

  it("a table already holding the next corpus table's name is passed over, never dropped", async () => {
    const prefix = 'probe_collide';
    const backend = createPgvectorBackend({ pglite: db, tablePrefix: prefix });
    await backend.init();
    // The names this backend will give: <prefix>_<session>_1, _2, ... The session is its own.
    const session = String(backend.describe().tablePrefix) === prefix ? await nextName(backend) : '';
    await db.query(`CREATE TABLE ${session} (keep int4)`);
    await db.query(`INSERT INTO ${session} VALUES (42)`);
    const kit = createCosineKit({ backend });
    const c = await kit.corpus(randomTensor(5, 3, 1));
    expect((await db.query<{ keep: number }>(`SELECT keep FROM ${session}`)).rows).toEqual([{ keep: 42 }]);
    c.dispose();
    await backend.dispose();
    await db.query(`DROP TABLE ${session}`);
  });

  it('a dispose while a corpus is being made, or while the backend opens: DISPOSED, nothing left behind', async () => {
    const prefix = 'probe_race';
    for (const wait of [0, 1, 5, 20]) {
      const backend = createPgvectorBackend({ pglite: db, tablePrefix: prefix });
      const kit = createCosineKit({ backend });
      const made = kit.corpus(randomTensor(300, 8, wait)).then(
        (c) => c,
        (e: unknown) => e,
      );
      await new Promise((r) => setTimeout(r, wait));
      await backend.dispose();
      const got = await made;
      if (isCosineKitError(got)) expect(got.code).toBe('DISPOSED');
      else expect((got as Corpus).disposed || backend.memory().residentHandles === 0).toBe(true);
      expect(backend.memory().residentHandles).toBe(0);
      expect(await tablesLike(prefix)).toBe(0);
      kit.dispose();
    }
    // Its own PGlite, disposed right after init started: init fails by name or the database closes.
    const own = createPgvectorBackend();
    const opening = own.init!().then(
      () => null,
      (e: unknown) => e,
    );
    await own.dispose();
    const e = await opening;
    if (e !== null) expectError(e, 'DISPOSED');
    expect(own.describe().engine).toMatch(/PGlite/);
  }, 120_000);

  it("HNSW: k past ef_search's limit goes exact, zero rows rank as exact search ranks them, long rows UNSUPPORTED", async () => {
    const backend = createPgvectorBackend({ pglite: db, tablePrefix: 'probe_hnsw', hnsw: true });
    const kit = createCosineKit({ backend });
    const x = randomTensor(1100, 4, 3);
    const c = await kit.corpus(x);
    const q = randomTensor(1, 4, 4);
    const got = await c.search(q, 1001);
    checkTopK('hnsw k=1001', got, q, x, 1001, 2e-6);
    c.dispose();
    // Rows all scoring below 0 against the query, and zero rows: the zero rows are the best.
    const rows = [
      [0, 0],
      [-1, -0.1],
      [0, 0],
      [-1, 0.2],
      [-0.9, -0.3],
      [0, 0],
      [-1, 0],
    ];
    const z = await kit.corpus(rows);
    const hits = await z.search([[1, 0]], 3);
    expect(Array.from(hits.indices)).toEqual([0, 2, 5]);
    expect(Array.from(hits.scores)).toEqual([0, 0, 0]);
    // With a filter the zero rows' own query carries it too (its parameter is the second there).
    const kept = await z.search([[1, 0]], 3, { filter: { mask: Uint8Array.of(1, 1, 0, 1, 1, 1, 1) } });
    expect(Array.from(kept.indices)).toEqual([0, 5, 4]);
    expect(kept.scores[2]).toBeCloseTo(-0.9 / Math.hypot(0.9, 0.3), 6);
    z.dispose();
    // The k-th found scoring exactly 0: zero rows tie with it and the lower ordinal wins (the
    // zero rows were left out when none scored below 0).
    const tied = await kit.corpus([
      [0, 0],
      [1, 0],
      [0, 1],
      [-1, -1],
      [0, 0],
      [1, 1],
    ]);
    const t = await tied.search([[1, -1]], 3);
    expect(Array.from(t.indices)).toEqual([1, 0, 3]);
    tied.dispose();
    expectError(await failure(kit.corpus([new Float32Array(2001).fill(1)])), 'UNSUPPORTED', /2000/);
    kit.dispose();
    await backend.dispose();
  }, 120_000);

  it('options: unknown HNSW keys, a dataDir not a string, two databases named, a null prefix, throwing getters', () => {
    const boom = (key: string, inner: object = {}) =>
      Object.defineProperty(inner, key, {
        enumerable: true,
        get() {
          throw new Error(`${key} broke`);
        },
      });
    for (const [options, arg] of [
      [{ hnsw: { efconstruction: 200 } }, 'options.hnsw.efconstruction'],
      [{ hnsw: { M: 8 } }, 'options.hnsw.M'],
      [{ hnsw: [] }, 'options.hnsw'],
      [{ dataDir: 5 }, 'options.dataDir'],
      // An empty one opened a database in memory (an unset environment variable lost its data).
      [{ dataDir: '' }, 'options.dataDir'],
      // Not a database at all: null and false opened a throwaway in-memory one.
      [{ pglite: null }, 'options.pglite'],
      [{ pglite: false }, 'options.pglite'],
      [{ pglite: 5 }, 'options.pglite'],
      [{ pool: 'x' }, 'options.pool'],
      [{ pglite: db, dataDir: 'memory://' }, 'options.dataDir'],
      [{ tablePrefix: null }, 'options.tablePrefix'],
      // Read once: a throwing getter, at either depth, is named (it was the getter's own Error).
      [boom('dataDir'), 'options'],
      [boom('hnsw'), 'options'],
      [{ hnsw: boom('m') }, 'options.hnsw'],
    ] as const) {
      let e: unknown;
      try {
        createPgvectorBackend(options as never);
      } catch (x) {
        e = x;
      }
      expect(isCosineKitError(e), JSON.stringify(arg)).toBe(true);
      expect((e as { arg: string }).arg).toBe(arg);
    }
  });

  it("durable tables: the database's refusals are typed and name the table", async () => {
    const backend = createPgvectorBackend({ pglite: db, tablePrefix: 'probe_durable' });
    await backend.init();
    // 'vector' is a type's name; a table some view depends on; a table without an ord column.
    expectError(await failure(backend.writeTable('vector', randomTensor(2, 3, 1))), 'INVALID_ARGUMENT');
    await backend.writeTable('probe_durable_dep', randomTensor(2, 3, 1));
    await db.query('CREATE VIEW probe_durable_view AS SELECT * FROM probe_durable_dep');
    expectError(await failure(backend.dropTable('probe_durable_dep')), 'INVALID_ARGUMENT', /depend/);
    await db.query('DROP VIEW probe_durable_view');
    expect(await backend.dropTable('probe_durable_dep')).toBe(true);
    await db.query('CREATE TABLE probe_durable_noord (v vector(3))');
    expectError(await failure(backend.readTable('probe_durable_noord', 3)), 'INVALID_ARGUMENT');
    await db.query('DROP TABLE probe_durable_noord');
    await db.query('CREATE TABLE probe_durable_half (ord int4, n float8, v halfvec(3))');
    expectError(await failure(backend.readTable('probe_durable_half', 3)), 'DIMENSION_MISMATCH', /halfvec/);
    await db.query('DROP TABLE probe_durable_half');
    await backend.dispose();
  });
});

describe('a corpus table a process left behind', () => {
  it('dropTable refuses it, and drops it given { staleCorpus: true }', async () => {
    const left = createPgvectorBackend({ pglite: db, tablePrefix: 'probe_stale' });
    const kit = createCosineKit({ backend: left });
    await kit.corpus(randomTensor(4, 3, 1));
    const [{ t }] = (
      await db.query<{ t: string }>(
        "SELECT tablename AS t FROM pg_tables WHERE tablename LIKE 'probe\\_stale\\_%'",
      )
    ).rows;
    // Another process on the same database (the first never disposes: it crashed).
    const other = createPgvectorBackend({ pglite: db, tablePrefix: 'probe_other' });
    expectError(await failure(other.dropTable(t)), 'INVALID_ARGUMENT', /staleCorpus/);
    expectError(await failure(other.dropTable(t, { staleCorpus: 'yes' as never })), 'INVALID_TYPE');
    expect(await other.dropTable(t, { staleCorpus: true })).toBe(true);
    expect(await tablesLike('probe_stale')).toBe(0);
    await other.dispose();
    kit.dispose();
    await left.dispose();
  });
});

/** The name the backend's next corpus table will have (one table made and dropped to learn it). */
async function nextName(backend: PgvectorBackend): Promise<string> {
  const kit = createCosineKit({ backend });
  const probe = await kit.corpus([[1, 0]]);
  const r = await db.query<{ t: string }>(
    "SELECT tablename AS t FROM pg_tables WHERE tablename LIKE 'probe\\_collide\\_%' ORDER BY tablename DESC LIMIT 1",
  );
  probe.dispose();
  await new Promise((res) => setTimeout(res, 50));
  const t = r.rows[0].t;
  const n = Number(t.slice(t.lastIndexOf('_') + 1));
  return `${t.slice(0, t.lastIndexOf('_') + 1)}${n + 1}`;
}

describe('PGlite persisted to a directory', () => {
  it('a durable table outlives the process that wrote it', async () => {
    const rows = randomTensor(7, 5, 51);
    const first = createPgvectorBackend({ dataDir: dir });
    await first.writeTable('kept', rows);
    await first.dispose();
    const second = createPgvectorBackend({ dataDir: dir });
    try {
      const back = await second.readTable('kept', 5);
      expect(back.rows).toBe(7);
      const cos = cosineMatrix64(rows, new Tensor(back.data, back.rows, back.cols));
      for (let i = 0; i < 7; i++) expect(Math.abs(cos[i * 7 + i] - 1)).toBeLessThan(1e-6);
    } finally {
      await second.dispose();
    }
  }, 240_000);

  it('a dispose while writeTable runs lets it finish: the table is whole after reopening, or absent', async () => {
    // It closed the database under the write: writeTable said DISPOSED, yet the table was on disk
    // (empty, or with every row) and a retry was refused as 'already exists'.
    let proto = PGlite.prototype as unknown as Record<string, unknown>;
    while (!Object.hasOwn(proto, 'query')) proto = Object.getPrototypeOf(proto);
    const query = proto.query as (this: unknown, text: string, ...rest: unknown[]) => unknown;
    for (const at of ['CREATE TABLE', 'COPY']) {
      const name = `mid_${at === 'COPY' ? 'copy' : 'create'}`;
      const backend = createPgvectorBackend({ dataDir: dir });
      await backend.init();
      let disposing: Promise<void> | undefined;
      proto.query = function (this: unknown, text: string, ...rest: unknown[]) {
        if (disposing === undefined && text.startsWith(at)) disposing = backend.dispose();
        return query.call(this, text, ...rest);
      };
      let wrote: unknown;
      try {
        wrote = await backend.writeTable(name, randomTensor(300, 8, 61)).then(
          () => 'ok',
          (e: unknown) => e,
        );
      } finally {
        proto.query = query;
      }
      await disposing;
      const again = createPgvectorBackend({ dataDir: dir });
      try {
        const back = await again.readTable(name, 8).catch((e: unknown) => e);
        if (wrote === 'ok') expect((back as Tensor).rows, at).toBe(300);
        else {
          expect(wrote, at).toMatchObject({ code: 'DISPOSED' });
          expect(back, at).toMatchObject({ code: 'INVALID_ARGUMENT', arg: 'name' });
        }
      } finally {
        await again.dispose();
      }
    }
  }, 240_000);

  it('one backend per directory in a process: a second is refused while the first holds it open', async () => {
    // Two PGlite instances on one directory each kept a copy; the last to close overwrote the
    // other's writes (a table written through the first was gone on reopening).
    const first = createPgvectorBackend({ dataDir: dir });
    await first.init();
    try {
      // Other spellings of the same directory (each opened a second database before).
      const base = dir.slice(dir.lastIndexOf('/') + 1);
      for (const other of [`${dir}/`, `${dir}/.`, `${dir}/../${base}`, `file://${dir}`, `${dir}//`])
        await expect(createPgvectorBackend({ dataDir: other }).init(), other).rejects.toMatchObject({
          code: 'BACKEND_INIT_FAILED',
          arg: 'options.dataDir',
          message: expect.stringMatching(/another pgvector backend of this process holds open/),
        });
    } finally {
      await first.dispose();
    }
    // A dispose that gives up on an open still running (timeoutMs) keeps the directory taken
    // until that open has settled and closed what it opened.
    const slow = createPgvectorBackend({ dataDir: dir, timeoutMs: 1 });
    const opening = slow.init().catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 5));
    await slow.dispose().catch(() => undefined);
    await expect(createPgvectorBackend({ dataDir: dir }).init()).rejects.toMatchObject({
      code: 'BACKEND_INIT_FAILED',
      arg: 'options.dataDir',
    });
    await opening;
    // Once the first is disposed the directory is free again.
    const third = createPgvectorBackend({ dataDir: dir });
    try {
      await third.writeTable('after_free', randomTensor(3, 4, 62));
      expect((await third.readTable('after_free', 4)).rows).toBe(3);
      await third.dropTable('after_free');
    } finally {
      await third.dispose();
    }
  }, 240_000);
});

function failureSync(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected a failure');
}

describe('distanceError', () => {
  it('is 4 (d + 2) 2^-24 for a dimension, and refuses what is none by name (it gave NaN, or threw raw)', () => {
    expect(distanceError(768)).toBe(4 * 770 * 2 ** -24);
    for (const d of [0, 2.5, Number.NaN, {}, Symbol('d'), '768'])
      expect(() => distanceError(d as never)).toThrow(
        expect.objectContaining({ name: 'CosineKitError', code: 'INVALID_ARGUMENT', arg: 'd' }),
      );
  });
});

describe('resident corpus tables', () => {
  it('are UNLOGGED (process-owned): made and disposed, they leave next to nothing in the write-ahead log; durable tables stay logged', async () => {
    // Each corpus of 3000 x 64 made and disposed grew embedded PGlite's log by about 1 MiB, which
    // never shrank: 100 MB of memory after 100 corpora (a slow-shape probe).
    const backend = createPgvectorBackend({ pglite: db, tablePrefix: 'unlogged' });
    const kit = createCosineKit({ backend });
    const lsn = async () =>
      (await db.query<{ b: string }>("SELECT (pg_current_wal_lsn() - '0/0')::text AS b")).rows[0]!.b;
    const rows = randomTensor(3000, 64, 77);
    // The first corpus sets the backend up (its schema and functions, logged once).
    (await kit.corpus(randomTensor(2, 64, 76))).dispose();
    await kit.ready();
    const before = Number(await lsn());
    const c = await kit.corpus(rows);
    const persistence = await db.query<{ p: string }>(
      "SELECT relpersistence AS p FROM pg_class WHERE relname LIKE 'unlogged\\_%' AND relkind = 'r'",
    );
    expect(persistence.rows.map((r) => r.p)).toEqual(['u']);
    c.dispose();
    await kit.ready();
    const grew = Number(await lsn()) - before;
    console.log(`[pgvector] write-ahead log grew ${grew} bytes for a corpus of 3000 x 64 made and disposed`);
    expect(grew).toBeLessThan(256 * 1024);
    await backend.writeTable('logged_docs', randomTensor(4, 8, 78));
    const logged = await db.query<{ p: string }>(
      "SELECT relpersistence AS p FROM pg_class WHERE relname = 'logged_docs'",
    );
    expect(logged.rows.map((r) => r.p)).toEqual(['p']);
    await backend.dropTable('logged_docs');
    kit.dispose();
    await backend.dispose?.();
  });
});
