// Wrong answers vs float64: corpus search over float32/float16/int8 (with and without rerank),
// Q = 1, 3, 16, 17, 64; k = 1, 64, 65, N; structured rows (constant, alternating, zero, duplicate,
// negated, scaled copy) and random rows; d from 1 to 20000.
import { expect, it } from 'vitest';
import { checkTopK, cosTable, errText, fallbacks, type Rows, rng, webgpuKit } from './util.js';

const DIMS = (globalThis as any).__DIMS__ ?? [1, 2, 3, 5, 7, 1025, 3072, 6494, 20000];

function makeRows(d: number, N: number, seed: number): Rows {
  const r = rng(seed);
  const rows: Rows = [];
  rows.push(new Float32Array(d).fill(0.3));
  rows.push(Float32Array.from({ length: d }, (_, i) => (i % 2 ? 1 : -1)));
  rows.push(Float32Array.from({ length: d }, r));
  rows.push(new Float32Array(d)); // zero row
  rows.push(rows[2].slice()); // exact duplicate of row 2: a tie, lower index first
  rows.push(rows[2].map((v) => -v)); // negated
  rows.push(rows[2].map((v) => v * 4)); // scaled by a power of two: same float32 normalised row
  rows.push(Float32Array.from({ length: d }, (_, i) => (i === d - 1 ? 1 : 0))); // last component only
  while (rows.length < N) rows.push(Float32Array.from({ length: d }, r));
  return rows;
}

function makeQueries(rows: Rows, d: number, seed: number): Rows {
  const r = rng(seed);
  const q: Rows = [];
  for (let i = 0; i < 64; i++) {
    if (i < 8) q.push(rows[i].slice());
    else if (i % 3 === 0) q.push(rows[i % rows.length].map((v) => v + 0.01 * r()));
    else q.push(Float32Array.from({ length: d }, r));
  }
  return q;
}

it('search accuracy vs float64 across storages, Q, k, d', async () => {
  const { kit, backend } = webgpuKit();
  const problems: string[] = [];
  const N = 70;
  for (const d of DIMS) {
    const t0 = performance.now();
    const rows = makeRows(d, N, 11 + d);
    const queries = makeQueries(rows, d, 99 + d);
    const tab = cosTable(queries, rows);
    const cosf = (q: number, i: number) => tab[q * N + i];
    // int8 bound per row: sqrt(d) * m / 254 with m the row's largest normalised component
    const mOf = rows.map((row) => {
      let ss = 0, mx = 0;
      for (const v of row) { ss += v * v; mx = Math.max(mx, Math.abs(v)); }
      return ss > 0 ? mx / Math.sqrt(ss) : 0;
    });
    const configs: [string, any, (i: number) => number, boolean][] = [
      ['float32', { storage: 'float32' }, () => 2e-5, true],
      ['float16/r0', { storage: 'float16' }, () => 2 ** -11 + Math.sqrt(d) * 2 ** -25 + 2e-6, true],
      ['float16/r3', { storage: 'float16', rerank: 3 }, () => 2e-5, false],
      ['int8/r0', { storage: 'int8', rerank: 0 }, (i) => (Math.sqrt(d) * mOf[i]) / 254 + 2e-6, true],
      ['int8/r3', { storage: 'int8' }, () => 2e-5, false],
    ];
    for (const [name, opts, tol, complete] of configs) {
      const c = await kit.corpus(rows, opts);
      if (c.backend !== 'webgpu') problems.push(`${name} d=${d}: corpus on ${c.backend}`);
      for (const Q of [1, 3, 16, 17, 64]) {
        for (const k of [1, 64, 65, N]) {
          const got = await c.search(queries.slice(0, Q), k).then(
            (r) => r,
            (e) => e,
          );
          if (got instanceof Error) {
            problems.push(`${name} d=${d} Q=${Q} k=${k}: threw ${errText(got)}`);
            continue;
          }
          const p = checkTopK(`${name} d=${d} Q=${Q} k=${k}`, queries.slice(0, Q), rows, k, got.indices, got.scores, tol, complete, cosf);
          problems.push(...p.slice(0, 4));
          // exact ties: row 2 and row 4 are identical, row 6 is row 2 * 4: query 2 ranks 2, 4, 6 (or 2,6,4 if scores differ)
          if (Q >= 3 && k >= 3) {
            const h = got.hits(2);
            const first = [...h.indices.slice(0, 3)];
            const sc = [...h.scores.slice(0, 3)];
            if ((d > 1 && first[0] !== 2) || (sc[0] === sc[1] && first[1] < first[0]))
              problems.push(`${name} d=${d} Q=${Q} k=${k}: tie order for duplicate rows: ${first} ${sc}`);
          }
        }
      }
      c.dispose();
    }
    console.log(`d=${d} done in ${(performance.now() - t0).toFixed(0)} ms; problems so far ${problems.length}`);
  }
  console.log('FALLBACKS', fallbacks.join('\n'));
  console.log('PROBLEMS\n' + problems.slice(0, 200).join('\n'));
  console.log('STATS', JSON.stringify(backend.stats()), JSON.stringify(backend.memory()));
  kit.dispose();
  await backend.dispose!();
  expect(problems).toEqual([]);
}, 900_000);
