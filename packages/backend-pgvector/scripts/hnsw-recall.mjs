// HNSW recall against brute force, on uniform random rows and on clustered rows (a Gaussian
// mixture, the shape real embeddings have), for pgvector on PGlite in memory. Queries come from the
// same distribution as the rows. One index per data kind (m and ef_construction fixed); the truth
// is a float64 top-k over every row. Also prints the query plan, to show the index
// is what answers, and the ef_search the session saw inside the search's transaction.
// Usage (after a build): node packages/backend-pgvector/scripts/hnsw-recall.mjs [N=10000] [d=384] [Q=50] [k=10] [data=uniform,clustered] [ef=10,40,100,200]

import { createCosineKit, Tensor } from '@cosinekit/core';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { createPgvectorBackend } from '../dist/index.js';

const N = Number(process.argv[2] ?? 10_000);
const d = Number(process.argv[3] ?? 384);
const Q = Number(process.argv[4] ?? 50);
const k = Number(process.argv[5] ?? 10);
const kinds = (process.argv[6] ?? 'uniform,clustered').split(',');
const efs = (process.argv[7] ?? '10,40,100,200').split(',').map(Number);
const M = 16;
const EF_CONSTRUCTION = 64;

function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** N + Q rows: uniform in [-1, 1), or around 100 Gaussian centres with spread 0.6 per coordinate. */
function rows(kind, count) {
  const r = rng(7);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  const centres = Array.from({ length: 100 }, () => Float64Array.from({ length: d }, gauss));
  const out = new Float32Array(count * d);
  for (let i = 0; i < count; i++) {
    const c = centres[Math.floor(r() * centres.length)];
    for (let j = 0; j < d; j++) out[i * d + j] = kind === 'uniform' ? r() * 2 - 1 : c[j] + 0.6 * gauss();
  }
  return out;
}

/** The true top-k row sets, float64. */
function truth(x, q) {
  const norms = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += x[i * d + j] ** 2;
    norms[i] = Math.sqrt(s);
  }
  const sets = [];
  const scores = new Float64Array(N);
  for (let a = 0; a < Q; a++) {
    for (let i = 0; i < N; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += q[a * d + j] * x[i * d + j];
      scores[i] = norms[i] > 0 ? s / norms[i] : 0;
    }
    const order = Array.from({ length: N }, (_, i) => i).sort((i, j) => scores[j] - scores[i] || i - j);
    sets.push(new Set(order.slice(0, k)));
  }
  return sets;
}

const raw = await PGlite.create('memory://', { extensions: { vector } });
// Records the ef_search each search's transaction ran with, read back from the session.
const seen = [];
const db = {
  query: (t, p, o) => raw.query(t, p, o),
  transaction: (body) =>
    raw.transaction((tx) =>
      body({
        query: async (t, p) => {
          const r = await tx.query(t, p);
          if (t.includes('ORDER BY v <=>'))
            seen.push((await tx.query('SHOW hnsw.ef_search')).rows[0]['hnsw.ef_search']);
          return r;
        },
      }),
    ),
  close: async () => undefined,
};
console.log(
  `HNSW recall@${k}, pgvector on PGlite, N=${N} d=${d} Q=${Q}, m=${M} ef_construction=${EF_CONSTRUCTION}`,
);
console.log('| data | ef_search | recall@10 | ms per query | index build s |');
console.log('|---|---|---|---|---|');
for (const kind of kinds) {
  const all = rows(kind, N + Q);
  const x = new Tensor(all.subarray(0, N * d), N, d);
  const q = new Tensor(all.subarray(N * d), Q, d);
  const want = truth(x.data, q.data);
  // One index per data kind (building it is most of the time): the backend searches with the
  // first ef_search, and the same statement runs at the others with only the setting changed.
  const backend = createPgvectorBackend({
    pglite: db,
    tablePrefix: `r${kind}`,
    hnsw: { m: M, efConstruction: EF_CONSTRUCTION, efSearch: efs[0] },
  });
  const kit = createCosineKit({ backend, timeoutMs: 0 });
  const t0 = performance.now();
  const c = await kit.corpus(x);
  const build = (performance.now() - t0) / 1000;
  const [{ tablename }] = (
    await raw.query('SELECT tablename FROM pg_tables WHERE tablename LIKE $1', [`r${kind}%`])
  ).rows;
  const vectors = Array.from({ length: Q }, (_, a) => `[${Array.from(q.data.subarray(a * d, (a + 1) * d))}]`);
  for (const ef of efs) {
    seen.length = 0;
    const t1 = performance.now();
    let got;
    if (ef === efs[0]) {
      got = (await c.search(q, k)).indices;
    } else {
      got = new Int32Array(Q * k);
      for (let a = 0; a < Q; a++) {
        const rows = await db.transaction(async (tx) => {
          await tx.query("SELECT set_config('hnsw.ef_search', $1, true)", [String(Math.max(ef, k))]);
          await tx.query("SELECT set_config('enable_seqscan', 'off', true)");
          return tx.query(`SELECT ord FROM "${tablename}" ORDER BY v <=> $1::vector LIMIT $2`, [
            vectors[a],
            k,
          ]);
        });
        rows.rows.forEach((r, i) => {
          got[a * k + i] = r.ord;
        });
      }
    }
    const ms = (performance.now() - t1) / Q;
    if (seen.length !== Q || seen.some((v) => Number(v) !== Math.max(ef, k)))
      throw new Error(`ef_search not applied: the session saw ${[...new Set(seen)]}`);
    let hits = 0;
    for (let a = 0; a < Q; a++) for (let r = 0; r < k; r++) if (want[a].has(got[a * k + r])) hits++;
    if (kind === kinds[0] && ef === efs[0]) {
      const [{ def }] = (
        await raw.query('SELECT indexdef AS def FROM pg_indexes WHERE tablename = $1 AND indexdef LIKE $2', [
          tablename,
          '%hnsw%',
        ])
      ).rows;
      console.error(`index: ${def}`);
      const plan = await raw.transaction(async (tx) => {
        await tx.query("SELECT set_config('enable_seqscan', 'off', true)");
        return tx.query(`EXPLAIN SELECT ord FROM "${tablename}" ORDER BY v <=> $1::vector LIMIT ${k}`, [
          vectors[0],
        ]);
      });
      console.error(`plan: ${plan.rows.map((r) => r['QUERY PLAN'].trim().slice(0, 90)).join(' / ')}`);
    }
    console.log(
      `| ${kind} | ${ef} | ${(hits / (Q * k)).toFixed(3)} | ${ms.toFixed(1)} | ${build.toFixed(1)} |`,
    );
  }
  c.dispose();
  kit.dispose();
  await backend.dispose();
}
await raw.close();
