import { checkTopK, randomTensor, rng, topK64 } from '@cosinekit/conformance';
import { type CosineKit, createCosineKit, type Id, type SearchFilter, Tensor } from '@cosinekit/core';
import { createReferenceBackend } from '@cosinekit/core/backend';
import type { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowFilter } from '../src/backend.js';
import { createPgvectorBackend, type PGliteLike, type PgvectorBackend, type PoolLike } from '../src/index.js';
import { openDatabase, serveOnWire, type WireServer } from './servers.js';

/** One statement as the database received it. */
interface Sent {
  text: string;
  params: readonly unknown[];
}

/** The embedded database, with every statement it runs recorded on the way through. */
function recordingPGlite(db: PGlite, log: Sent[]): PGliteLike {
  return {
    query: (text, params, options) => {
      log.push({ text, params: params ?? [] });
      return db.query(text, params, options);
    },
    transaction: (body) =>
      db.transaction((tx) =>
        body({
          query: (text, params) => {
            log.push({ text, params: params ?? [] });
            return tx.query(text, params);
          },
        }),
      ),
    close: async () => undefined,
  };
}

/** A real `pg` pool to a server, with every statement recorded on the way out. */
function recordingPool(pool: pg.Pool, log: Sent[]): PoolLike {
  return {
    query: (text, params) => {
      log.push({ text, params: params ?? [] });
      return pool.query(text, params);
    },
    connect: async () => {
      const c = await pool.connect();
      return {
        query: (text: string, params?: unknown[]) => {
          log.push({ text, params: params ?? [] });
          return c.query(text, params);
        },
        release: (err?: Error | boolean) => c.release(err),
      };
    },
    end: async () => undefined,
  };
}

/** Rows around `clusters` random centres (a Gaussian mixture), the shape of real embeddings. */
function clustered(n: number, d: number, clusters: number, spread: number, seed: number): Tensor {
  const r = rng(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  const centres = Array.from({ length: clusters }, () => Float64Array.from({ length: d }, gauss));
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const c = centres[Math.floor(r() * clusters)];
    for (let j = 0; j < d; j++) out[i * d + j] = c[j] + spread * gauss();
  }
  return new Tensor(out, n, d);
}

/** Rows of `m` at `rows`, in order. */
function pick(m: Tensor, rows: number[]): Tensor {
  const out = new Float32Array(rows.length * m.cols);
  rows.forEach((r, i) => {
    out.set(m.data.subarray(r * m.cols, (r + 1) * m.cols), i * m.cols);
  });
  return new Tensor(out, rows.length, m.cols);
}

describe('rowFilter: the smallest form of a row mask as one SQL parameter', () => {
  it('a few passing rows: a list for = ANY; a few failing: a list for <> ALL; else a bitmap; all: none', () => {
    const n = 1000;
    const mask = (pass: (j: number) => boolean) =>
      Uint8Array.from({ length: n }, (_, j) => (pass(j) ? 1 : 0));
    expect(
      rowFilter(
        mask(() => true),
        n,
      ),
    ).toBeNull();
    const few = rowFilter(
      mask((j) => j % 100 === 3),
      n,
    );
    expect(few?.where(3)).toBe('ord = ANY($3::int4[])');
    expect(few?.where(2)).toBe('ord = ANY($2::int4[])');
    expect(few?.param).toBe('{3,103,203,303,403,503,603,703,803,903}');
    expect(few?.passing).toBe(10);
    const most = rowFilter(
      mask((j) => j !== 0 && j !== 999),
      n,
    );
    expect(most?.where(3)).toBe('ord <> ALL($3::int4[])');
    expect(most?.param).toBe('{0,999}');
    expect(most?.passing).toBe(998);
    const half = rowFilter(
      mask((j) => j % 2 === 1 || j === 8),
      n,
    );
    expect(half?.where(3)).toBe('get_bit($3::bytea, ord) = 1');
    expect(half?.passing).toBe(501);
    const bits = half?.param as Uint8Array;
    expect(bits.length).toBe(125);
    // Postgres's get_bit reads bit j of byte j >> 3 from the least significant end.
    for (let j = 0; j < n; j++) expect((bits[j >> 3] >> (j & 7)) & 1).toBe(j % 2 === 1 || j === 8 ? 1 : 0);
    // Rows past the corpus (a longer mask) do not count.
    expect(rowFilter(Uint8Array.of(1, 1, 0, 1), 2)).toBeNull();
  });
});

describe.each(['embedded PGlite', 'over the wire (pg)'])('filters pushed into SQL, %s', (mode) => {
  let db: PGlite;
  let server: WireServer | null = null;
  let pool: pg.Pool | null = null;
  const log: Sent[] = [];
  let backend: PgvectorBackend;
  let hnswBackend: PgvectorBackend;
  let kit: CosineKit;
  let hnswKit: CosineKit;
  let ref: CosineKit;

  beforeAll(async () => {
    if (mode === 'embedded PGlite') {
      db = await openDatabase();
      backend = createPgvectorBackend({ pglite: recordingPGlite(db, log), tablePrefix: 'filt' });
      hnswBackend = createPgvectorBackend({
        pglite: recordingPGlite(db, log),
        tablePrefix: 'filth',
        hnsw: { m: 16, efConstruction: 64, efSearch: 40 },
      });
    } else {
      server = await serveOnWire();
      db = server.db;
      pool = new pg.Pool({ connectionString: server.url, max: 2 });
      backend = createPgvectorBackend({ pool: recordingPool(pool, log), tablePrefix: 'filt' });
      hnswBackend = createPgvectorBackend({
        pool: recordingPool(pool, log),
        tablePrefix: 'filth',
        hnsw: { m: 16, efConstruction: 64, efSearch: 40 },
      });
    }
    kit = createCosineKit({ backend });
    hnswKit = createCosineKit({ backend: hnswBackend });
    ref = createCosineKit({ backend: createReferenceBackend() });
    await Promise.all([kit.ready(), hnswKit.ready()]);
  }, 240_000);

  afterAll(async () => {
    kit?.dispose();
    hnswKit?.dispose();
    await backend?.dispose();
    await hnswBackend?.dispose();
    const left = await db.query<{ n: number }>(
      "SELECT count(*)::int4 AS n FROM pg_tables WHERE tablename LIKE 'filt%'",
    );
    expect(left.rows[0].n).toBe(0);
    await pool?.end();
    if (server) await server.stop();
    else await db?.close();
  });

  it('allow, deny, mask and predicate: the same rows and scores as the reference, the filter in the WHERE', async () => {
    const n = 3000;
    const d = 24;
    const rows = randomTensor(n, d, 41, 0.1);
    const ids: Id[] = Array.from({ length: n }, (_, i) => (i % 3 ? `doc ${i}` : i * 10));
    const q = randomTensor(4, d, 42, 0.1);
    const [a, b] = await Promise.all([kit.corpus(rows, { ids }), ref.corpus(rows, { ids })]);
    try {
      // Removed rows must stay out whatever the filter says.
      await Promise.all([a.remove([ids[5], ids[6]]), b.remove([ids[5], ids[6]])]);
      const allow = ids.filter((_, i) => i % 150 === 5 || i % 150 === 7);
      const deny = ids.filter((_, i) => i % 200 === 1);
      const mask = Uint8Array.from({ length: n - 2 }, (_, j) => (j % 2 ? 1 : 0));
      const cases: [string, SearchFilter, RegExp][] = [
        ['allow', { allow }, /WHERE ord = ANY\(\$3::int4\[\]\)/],
        ['deny', { deny }, /WHERE ord <> ALL\(\$3::int4\[\]\)/],
        ['mask', { mask }, /WHERE get_bit\(\$3::bytea, ord\) = 1/],
        [
          'predicate',
          (id) => typeof id === 'number' || id.endsWith('7'),
          /WHERE get_bit\(\$3::bytea, ord\) = 1/,
        ],
      ];
      for (const [form, filter, where] of cases) {
        log.length = 0;
        const [x, y] = await Promise.all([a.search(q, 10, { filter }), b.search(q, 10, { filter })]);
        expect(x.k, form).toBe(y.k);
        expect(Array.from(x.indices), form).toEqual(Array.from(y.indices));
        expect(x.ids, form).toEqual(y.ids);
        for (let i = 0; i < x.scores.length; i++)
          expect(Math.abs(x.scores[i] - y.scores[i]), form).toBeLessThan(1e-6);
        const filtered = log.filter((s) => where.test(s.text));
        // The candidate query of each of the 4 queries carries the filter.
        expect(filtered.length, form).toBeGreaterThanOrEqual(q.rows);
        for (const s of log) {
          // No statement text holds a value: only the three fixed clauses name the filter's parameter.
          expect(s.text).not.toMatch(/doc \d|\{\d/);
          if (s.text.includes('$3')) expect(s.text, form).toMatch(where);
        }
      }
      // The allow list went as the ordinals of the rows that pass and are still there.
      log.length = 0;
      await a.search(q, 3, { filter: { allow: [ids[5], ids[7], ids[157], 'absent'] } });
      const sent = log.find((s) => s.text.includes('= ANY'));
      expect(sent?.params[2]).toBe('{7,157}');
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  it('HNSW with a filter: iterative scan through the index, recall@10 >= 0.9; a narrow filter: exact', async () => {
    const n = 4000;
    const d = 32;
    // Queries from the same mixture as the rows, as real queries are.
    const all = clustered(n + 20, d, 20, 0.5, 51);
    const rows = new Tensor(all.data.subarray(0, n * d), n, d);
    const q = new Tensor(all.data.subarray(n * d), 20, d);
    const c = await hnswKit.corpus(rows);
    try {
      for (const share of [0.5, 0.2, 0.02]) {
        const pass = Array.from({ length: n }, (_, i) => i).filter(
          (i) => ((Math.imul(i + 1, 2654435761) >>> 0) % 1000) / 1000 < share,
        );
        const passing = new Set(pass);
        log.length = 0;
        const got = await c.search(q, 10, { filter: (id) => passing.has(id as number) });
        expect(got.k).toBe(10);
        const sub = pick(rows, pass);
        const at = new Map(pass.map((o, i) => [o, i]));
        const local = Int32Array.from(got.indices, (o) => {
          expect(passing.has(o)).toBe(true);
          return at.get(o)!;
        });
        const iterative = log.some((s) => s.text.includes('relaxed_order'));
        if (share >= 0.05) {
          // Through the index: approximate, the filter applied while walking the graph.
          expect(iterative, `share ${share}`).toBe(true);
          const want = topK64(q, sub, 10);
          let hits = 0;
          for (let i = 0; i < q.rows; i++) {
            const truth = new Set(want.indices[i]);
            for (let r = 0; r < 10; r++) if (truth.has(local[i * 10 + r])) hits++;
          }
          expect(hits / (q.rows * 10), `share ${share}`).toBeGreaterThanOrEqual(0.9);
        } else {
          // Too few pass for the graph to be worth it: an exact scan of the passing rows.
          expect(iterative).toBe(false);
          checkTopK(`hnsw, ${share} passing`, { ...got, indices: local }, q, sub, 10, 2e-6);
        }
      }
    } finally {
      c.dispose();
    }
  });
});
