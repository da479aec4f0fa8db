import { randomTensor } from '@cosinekit/conformance';
import { createCosineKit } from '@cosinekit/core';
import { isCosineKitError, toTensor } from '@cosinekit/core/backend';
import type { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgvectorBackend, type PGliteLike, type PgvectorBackend } from '../src/index.js';
import { openDatabase } from './servers.js';

// Found by a hostile-input probe: each case below failed before the fix.

let db: PGlite;

beforeAll(async () => {
  db = await openDatabase();
}, 240_000);

afterAll(async () => {
  await db?.close();
});

async function failure(p: Promise<unknown>): Promise<{ code: string; arg: string; message: string } & Error> {
  try {
    await p;
  } catch (e) {
    expect(isCosineKitError(e), `not a CosineKitError: ${typeof e}`).toBe(true);
    return e as never;
  }
  throw new Error('expected a failure');
}

const revoked = (): object => {
  const r = Proxy.revocable({}, {});
  r.revoke();
  return r.proxy;
};

/**
 * `db` behind a client that does what `mode` says for every statement but the three `init()` runs
 * (the extension and the versions), or passes through when `mode` is null.
 */
function hostile(): { client: PGliteLike; set(mode: (() => unknown) | null): void } {
  let mode: (() => unknown) | null = null;
  const init = /^(CREATE EXTENSION|SELECT extversion|SHOW)/;
  const client = {
    query: (text: string, params?: unknown[], options?: { blob?: Blob }) =>
      mode && !init.test(text) ? mode() : db.query(text, params, options),
    transaction: (body: never) => db.transaction(body),
    close: async () => undefined,
  };
  return { client: client as unknown as PGliteLike, set: (m) => (mode = m) };
}

const TABLE_CALLS: [string, (b: PgvectorBackend) => Promise<unknown>][] = [
  ['writeTable', (b) => b.writeTable('faults_w', randomTensor(2, 3, 1))],
  ['readTable', (b) => b.readTable('faults_keep', 3)],
  ['dropTable', (b) => b.dropTable('faults_keep')],
];

describe('durable tables: names and rows are checked as core checks them', () => {
  it('a name that is no string is INVALID_TYPE described by its type: its toString is never called', async () => {
    const backend = createPgvectorBackend({ pglite: db, tablePrefix: 'faults_names' });
    await backend.init();
    try {
      let called = 0;
      const lies = {
        toString: () => {
          called++;
          return 'undefined';
        },
      };
      const throwingProxy = new Proxy(
        {},
        {
          get() {
            throw new Error('trap get');
          },
          getPrototypeOf() {
            throw new Error('trap proto');
          },
        },
      );
      const throwingToString = {
        toString() {
          throw new Error('toString');
        },
        [Symbol.toPrimitive]() {
          throw new Error('toPrimitive');
        },
      };
      const fn = () => 'docs_secret_source';
      const names: unknown[] = [
        lies,
        revoked(),
        throwingProxy,
        Object.create(null),
        throwingToString,
        fn,
        12,
      ];
      for (const name of names) {
        for (const e of [
          await failure(backend.writeTable(name as string, randomTensor(2, 3, 1))),
          await failure(backend.readTable(name as string, 3)),
          await failure(backend.dropTable(name as string)),
        ]) {
          expect(e.code).toBe('INVALID_TYPE');
          expect(e.arg).toBe('name');
          expect(e.message).toMatch(/must be a string/);
          // It was "cannot read a row" (a throw), "undefined" (the lie) or the function's source.
          expect(e.message).not.toMatch(/undefined|docs_secret_source|cannot read/);
        }
      }
      expect(called).toBe(0);
      // A table of the caller's holding a NULL vector is still theirs to fix: INVALID_ARGUMENT.
      await db.query('CREATE TABLE faults_names_null (ord int4, n float8, v vector(3))');
      await db.query("INSERT INTO faults_names_null VALUES (0, 1, '[1,0,0]'), (1, 1, NULL)");
      const nul = await failure(backend.readTable('faults_names_null', 3));
      expect([nul.code, nul.arg]).toEqual(['INVALID_ARGUMENT', 'name']);
      expect(nul.message).toMatch(/NULL/);
      await db.query('DROP TABLE faults_names_null');
      // A string is checked as before, shown quoted.
      const e = await failure(backend.readTable('Docs', 3));
      expect(e.code).toBe('INVALID_ARGUMENT');
      expect(e.message).toMatch(/got 'Docs'/);
    } finally {
      await backend.dispose();
    }
  });

  it("writeTable's rows get the error core gives for the same data, naming rows (not name)", async () => {
    const backend = createPgvectorBackend({ pglite: db, tablePrefix: 'faults_rows' });
    try {
      class Longer extends Float32Array {
        override get length(): number {
          return 4;
        }
      }
      // A resizable ArrayBuffer (ES2024; the lib this package builds with is ES2022).
      const Resizable = ArrayBuffer as unknown as new (
        n: number,
        o: object,
      ) => ArrayBuffer & {
        resize(n: number): void;
      };
      const resizable = new Resizable(64, { maxByteLength: 64 });
      const shrunk = new Float32Array(resizable, 0, 4).fill(1);
      resizable.resize(8);
      const cases: [string, Float32Array, string][] = [
        ['a Proxy around a Float32Array', new Proxy(new Float32Array(4), {}), 'INVALID_TYPE'],
        ['a subclass whose length is overridden', new Longer(1), 'INVALID_TYPE'],
        ['a view over a shrunk resizable buffer', shrunk, 'DISPOSED'],
      ];
      for (const [what, data, code] of cases) {
        let core: unknown;
        try {
          toTensor(data, 'op', 'arg', [2, 2]);
        } catch (e) {
          core = e;
        }
        expect((core as { code?: string }).code, what).toBe(code);
        const e = await failure(backend.writeTable('faults_rows_t', { data, rows: 2, cols: 2 }));
        expect(e.code, what).toBe(code);
        expect(e.arg, what).toBe('rows.data');
      }
      // Values are checked after the shape, as the kit checks them: NaN is NON_FINITE naming rows.
      const nan = await failure(
        backend.writeTable('faults_rows_t', { data: Float32Array.of(1, Number.NaN), rows: 1, cols: 2 }),
      );
      expect(nan.code).toBe('NON_FINITE');
      expect(nan.arg).toBe('rows');
      expect(await backend.dropTable('faults_rows_t')).toBe(false);
      // Rows of extreme magnitude are stored as any others (the gate's rescaling is undone).
      await backend.writeTable('faults_rows_big', {
        data: Float32Array.of(1.5e38, 2e38, 3e-30, 4e-30),
        rows: 2,
        cols: 2,
      });
      const back = await backend.readTable('faults_rows_big', 2);
      expect(Array.from(back.data).map((v) => Math.round(v * 1e6) / 1e6)).toEqual([0.6, 0.8, 0.6, 0.8]);
      const norms = await db.query<{ n: number }>('SELECT n FROM faults_rows_big ORDER BY ord');
      expect(norms.rows[0].n / 2.5e38).toBeCloseTo(1, 6);
      expect(norms.rows[1].n / 5e-30).toBeCloseTo(1, 6);
      expect(await backend.dropTable('faults_rows_big')).toBe(true);
    } finally {
      await backend.dispose();
    }
  });
});

describe('durable tables: a faulty driver is BACKEND_ERROR naming the backend, never the caller', () => {
  it('a client that throws what is no database error, or answers with no rows', async () => {
    const h = hostile();
    const backend = createPgvectorBackend({ pglite: h.client, tablePrefix: 'faults_client' });
    await backend.writeTable('faults_keep', randomTensor(2, 3, 2));
    const thrown: [string, () => unknown][] = [
      ['a string', () => 'connection reset'],
      ['a number', () => 42],
      ['undefined', () => undefined],
      ['a revoked Proxy', revoked],
    ];
    try {
      for (const [what, value] of thrown) {
        const v = value();
        for (const how of ['throws', 'rejects', 'a thenable whose then throws'] as const) {
          h.set(() => {
            if (how === 'throws') throw v;
            if (how === 'rejects') return Promise.reject(v);
            return {
              // biome-ignore lint/suspicious/noThenProperty: a thenable whose then throws, on purpose
              get then() {
                throw v;
              },
            };
          });
          for (const [op, call] of TABLE_CALLS) {
            const e = await failure(call(backend));
            const about = `${op}: the client ${how} ${what}`;
            expect(e.code, about).toBe('BACKEND_ERROR');
            expect((e as { backend?: string }).backend, about).toBe('pgvector');
            expect((e as { op?: string }).op, about).toBe(op);
            expect(e.message, about).toMatch(/failed in backend 'pgvector'/);
            expect(e.cause, about).toBe(v);
          }
        }
      }
      for (const [what, answer] of [
        ['rows: null', async () => ({ rows: null })],
        ['revoked rows', async () => ({ rows: revoked() })],
        ['a revoked result', async () => revoked()],
        ['rows that are not objects', async () => ({ rows: [1, 2] })],
      ] as const) {
        h.set(answer);
        for (const [op, call] of TABLE_CALLS) {
          const e = await failure(call(backend));
          expect(e.code, `${op}: ${what}`).toBe('BACKEND_ERROR');
          expect((e as { backend?: string }).backend).toBe('pgvector');
        }
      }
      h.set(null);
      // Nothing was written or dropped by the calls that failed.
      expect(Array.from((await backend.readTable('faults_keep', 3)).data)).toHaveLength(6);
      expect(await backend.dropTable('faults_w')).toBe(false);
    } finally {
      h.set(null);
      await backend.dropTable('faults_keep');
      await backend.dispose();
    }
  });

  it('a client answering every statement with garbage rows: writeTable and kit.corpus fail (they reported success with nothing written)', async () => {
    const h = hostile();
    const backend = createPgvectorBackend({ pglite: h.client, tablePrefix: 'faults_garbage' });
    const kit = createCosineKit({ backend });
    await kit.ready();
    await backend.writeTable('faults_keep', randomTensor(2, 3, 2));
    try {
      const garbage = { ord: 'x', n: 'y', v: '[NaN,1]', dim: 'x', type: revoked(), count: -5, found: 'no' };
      for (const rows of [[garbage], []]) {
        h.set(async () => ({ rows }));
        for (const [op, call] of TABLE_CALLS) {
          // An empty answer is what a database says of a table that is not there: readTable and
          // dropTable then answer so; a write is counted, and nothing was written.
          if (rows.length === 0 && op !== 'writeTable') continue;
          const e = await failure(call(backend));
          expect(e.code, `${op} with ${rows.length} rows`).toBe('BACKEND_ERROR');
          expect((e as { backend?: string }).backend).toBe('pgvector');
        }
        const e = await failure(kit.corpus(randomTensor(3, 3, 4)));
        expect(e.code).toBe('BACKEND_ERROR');
      }
      h.set(null);
      expect(await backend.dropTable('faults_w')).toBe(false);
    } finally {
      h.set(null);
      await backend.dropTable('faults_keep');
      kit.dispose();
      await backend.dispose();
    }
    const left = await db.query<{ n: number }>(
      "SELECT count(*)::int4 AS n FROM pg_tables WHERE tablename LIKE 'faults\\_garbage\\_%'",
    );
    expect(left.rows[0].n).toBe(0);
  });

  it('a client that never answers: the table calls fail after timeoutMs, and dispose() does not wait for ever', async () => {
    const h = hostile();
    const backend = createPgvectorBackend({ pglite: h.client, tablePrefix: 'faults_never', timeoutMs: 300 });
    const kit = createCosineKit({ backend, timeoutMs: 300 });
    await kit.ready();
    await backend.writeTable('faults_keep', randomTensor(2, 3, 2));
    try {
      h.set(() => new Promise(() => undefined));
      for (const [op, call] of TABLE_CALLS) {
        const started = Date.now();
        const e = await failure(call(backend));
        expect(e.code, op).toBe('BACKEND_ERROR');
        expect(e.message, op).toMatch(/within 300 ms/);
        expect(Date.now() - started).toBeLessThan(5000);
      }
      // The kit abandons a stuck createCorpus; the backend's dispose then waited for it for ever.
      expect((await failure(kit.corpus(randomTensor(3, 3, 4)))).code).toBe('BACKEND_ERROR');
      h.set(null);
      const started = Date.now();
      await backend.dispose();
      expect(Date.now() - started).toBeLessThan(5000);
      // A durable write abandoned before its table was made left nothing.
      expect((await db.query("SELECT to_regclass('faults_w') AS t")).rows).toEqual([{ t: null }]);
    } finally {
      h.set(null);
      kit.dispose();
      await backend.dispose();
      await db.query('DROP TABLE IF EXISTS faults_keep');
    }
  });

  it('a slow database that keeps answering: timeoutMs bounds each statement, not a large write as a whole', async () => {
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const init = /^(CREATE EXTENSION|SELECT extversion|SHOW)/;
    const slow = {
      query: async (text: string, params?: unknown[], options?: { blob?: Blob }) => {
        if (!init.test(text)) await sleep(120);
        return db.query(text, params, options);
      },
      transaction: (body: (tx: unknown) => Promise<unknown>) =>
        db.transaction((tx) =>
          body({
            query: async (text: string, params?: unknown[], options?: { blob?: Blob }) => {
              await sleep(120);
              return tx.query(text, params, options);
            },
          }),
        ),
      close: async () => undefined,
    };
    const backend = createPgvectorBackend({
      pglite: slow as never,
      tablePrefix: 'faults_slow',
      timeoutMs: 300,
    });
    await backend.init();
    try {
      const started = Date.now();
      await backend.writeTable('faults_slow_w', randomTensor(40, 3, 5));
      // Several statements, each well within the limit, more than the limit in all: it once failed.
      expect(Date.now() - started).toBeGreaterThan(300);
      expect((await backend.readTable('faults_slow_w', 3)).rows).toBe(40);
      await backend.dropTable('faults_slow_w');
    } finally {
      await backend.dispose();
    }
  });

  it('drops that never settle: dispose() closes the database anyway and says what it could not do', async () => {
    const h = hostile();
    const backend = createPgvectorBackend({ pglite: h.client, tablePrefix: 'faults_drops', timeoutMs: 300 });
    const kit = createCosineKit({ backend });
    const c = await kit.corpus(randomTensor(3, 3, 6));
    h.set(() => new Promise(() => undefined));
    try {
      c.dispose();
      const started = Date.now();
      const e = await failure(backend.dispose());
      expect(Date.now() - started).toBeLessThan(5000);
      expect(e).toMatchObject({
        code: 'BACKEND_ERROR',
        message: expect.stringMatching(/did not drop its corpus tables within 300 ms.*closed/),
      });
    } finally {
      h.set(null);
      kit.dispose();
      await db.query(
        "DO $$ DECLARE t text; BEGIN FOR t IN SELECT tablename FROM pg_tables WHERE tablename LIKE 'faults\\_drops\\_%' LOOP EXECUTE 'DROP TABLE ' || quote_ident(t); END LOOP; END $$",
      );
    }
  });

  it('timeoutMs is a number of ms >= 0 (0 and Infinity: no limit)', () => {
    for (const timeoutMs of [-1, Number.NaN, '100', null, {}])
      expect(() => createPgvectorBackend({ timeoutMs: timeoutMs as never })).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT', arg: 'options.timeoutMs' }),
      );
    for (const timeoutMs of [0, Number.POSITIVE_INFINITY, 1])
      expect(createPgvectorBackend({ timeoutMs }).name).toBe('pgvector');
  });
});

/**
 * `db` behind a client that answers the statements `which` matches as `answer` says (the others
 * pass through), for the probe's findings below.
 */
function selective(
  which: RegExp,
  answer: (text: string, pass: () => Promise<unknown>) => unknown,
): PGliteLike {
  return {
    query: (text: string, params?: unknown[], options?: { blob?: Blob }) => {
      const pass = () => db.query(text, params, options);
      return which.test(text) ? answer(text, pass) : pass();
    },
    transaction: (body: never) => db.transaction(body),
    close: async () => undefined,
  } as unknown as PGliteLike;
}

const tablesLike = async (prefix: string): Promise<number> =>
  (
    await db.query<{ n: number }>('SELECT count(*)::int4 AS n FROM pg_tables WHERE tablename LIKE $1', [
      `${prefix.replaceAll('_', '\\_')}\\_%`,
    ])
  ).rows[0].n;

describe('nothing left behind when a statement fails (a lifecycle probe)', () => {
  it('a corpus whose table comment fails: BACKEND_ERROR, and its table goes (dispose() never saw it)', async () => {
    const client = selective(/^COMMENT ON TABLE/, () => Promise.reject(new Error('canceling statement')));
    const backend = createPgvectorBackend({ pglite: client, tablePrefix: 'faults_comment' });
    const kit = createCosineKit({ backend });
    expect(await failure(kit.corpus(randomTensor(3, 3, 1)))).toMatchObject({ code: 'BACKEND_ERROR' });
    expect(await tablesLike('faults_comment')).toBe(0);
    kit.dispose();
    await backend.dispose();
  });

  it("a drop the database refuses: the backend's dispose() says so (it resolved, the table left)", async () => {
    const client = selective(/^DROP TABLE/, () => Promise.reject(new Error('lock timeout')));
    const backend = createPgvectorBackend({ pglite: client, tablePrefix: 'faults_refused' });
    const kit = createCosineKit({ backend });
    await kit.corpus(randomTensor(3, 3, 2));
    try {
      expect(await failure(backend.dispose())).toMatchObject({
        code: 'BACKEND_ERROR',
        message: expect.stringMatching(/could not drop a corpus table: .*lock timeout/),
      });
    } finally {
      kit.dispose();
      await db.query(
        "DO $$ DECLARE t text; BEGIN FOR t IN SELECT tablename FROM pg_tables WHERE tablename LIKE 'faults\\_refused\\_%' LOOP EXECUTE 'DROP TABLE ' || quote_ident(t); END LOOP; END $$",
      );
    }
  });

  it('writeTable whose CREATE answers after timeoutMs: BACKEND_ERROR, and the table it made goes', async () => {
    const client = selective(/^CREATE TABLE/, (_, pass) => new Promise((r) => setTimeout(r, 300)).then(pass));
    const backend = createPgvectorBackend({ pglite: client, timeoutMs: 50 });
    await backend.init();
    expect(await failure(backend.writeTable('faults_late_create', randomTensor(2, 3, 3)))).toMatchObject({
      code: 'BACKEND_ERROR',
      message: expect.stringMatching(/within 50 ms/),
    });
    // The late CREATE lands; the drop queued behind it removes the table (a retry said 'exists').
    await new Promise((r) => setTimeout(r, 600));
    expect(await tablesLike('faults_late_create')).toBe(0);
    expect((await db.query("SELECT to_regclass('faults_late_create') AS t")).rows[0]).toEqual({ t: null });
    await backend.dispose();
  });

  it('init() on a database that never answers fails within timeoutMs (it waited for ever)', async () => {
    const never = { query: () => new Promise(() => undefined), close: async () => undefined };
    const backend = createPgvectorBackend({ pglite: never as unknown as PGliteLike, timeoutMs: 100 });
    const started = Date.now();
    expect(await failure(backend.init())).toMatchObject({
      code: 'BACKEND_INIT_FAILED',
      message: expect.stringMatching(/no answer to 'CREATE EXTENSION IF NOT EXISTS vector' within 100 ms/),
    });
    expect(Date.now() - started).toBeLessThan(5000);
    await backend.dispose();
  });

  it("a search answered with no rows is the driver's fault, said so (a raw TypeError was the cause)", async () => {
    let empty = false;
    const client = selective(/<=>/, (_, pass) => (empty ? Promise.resolve({ rows: [] }) : pass()));
    const backend = createPgvectorBackend({ pglite: client, tablePrefix: 'faults_empty' });
    const kit = createCosineKit({ backend });
    const c = await kit.corpus(randomTensor(5, 3, 4));
    empty = true;
    const e = await failure(c.search(randomTensor(1, 3, 5), 2));
    expect(e).toMatchObject({
      code: 'BACKEND_ERROR',
      message: expect.stringMatching(/with 0, fewer than k = 2/),
    });
    kit.dispose();
    await backend.dispose();
  });

  it('readTable of a vector(n)[] column is DIMENSION_MISMATCH, not a driver fault', async () => {
    await db.query('CREATE TABLE faults_arrays (ord int4, v vector(3)[])');
    const backend = createPgvectorBackend({ pglite: db });
    try {
      expect(await failure(backend.readTable('faults_arrays', 3))).toMatchObject({
        code: 'DIMENSION_MISMATCH',
        arg: 'name',
      });
    } finally {
      await db.query('DROP TABLE faults_arrays');
      await backend.dispose();
    }
  });
});
