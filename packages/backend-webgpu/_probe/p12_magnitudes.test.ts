// Magnitudes through the kit on webgpu: huge (1e30, 3e38), tiny (1e-30), float32-subnormal
// (1e-40), mixed within a row; float16 storage of values beyond 65504 and of rows whose normalised
// components are binary16 subnormals; int8 of rows with one dominant component. Scores vs float64
// within the documented bounds, for the few-query (Q=1, 3) and tiled (Q=17) paths.
import { createCosineKit } from '@cosinekit/core';
import { createReferenceBackend } from '@cosinekit/core/backend';
import { expect, it } from 'vitest';
import { createWebGpuBackend } from '../src/index.js';
import { checkTopK, cos64, errText, type Rows, rng } from './util.js';

it('magnitudes', async () => {
  const backend = createWebGpuBackend();
  const kit = createCosineKit({ backend });
  const ref = createCosineKit({ backend: createReferenceBackend() });
  const problems: string[] = [];
  const r = rng(8);
  for (const d of [3, 8, 255, 1024]) {
    const base = Array.from({ length: 12 }, () => Float32Array.from({ length: d }, r));
    const rows: Rows = [
      ...base.slice(0, 4),
      base[4].map((v) => v * 1e30),
      base[5].map((v) => v * 3e38 / 2),
      base[6].map((v) => v * 1e-30),
      base[7].map((v) => v * 1e-40), // float32 subnormals
      Float32Array.from({ length: d }, (_, i) => (i === 0 ? 1e30 : base[8][i])),
      Float32Array.from({ length: d }, (_, i) => (i === 0 ? 1 : 3e-5 * Math.sign(base[9][i]))), // float16-subnormal after normalising
      Float32Array.from({ length: d }, (_, i) => (i === 0 ? 7e4 : -8e4 + i)), // beyond 65504
      Float32Array.from({ length: d }, (_, i) => (i === d - 1 ? 1e-20 : 0)),
    ];
    const queries: Rows = [
      ...rows.map((x) => x.slice()),
      Float32Array.from({ length: d }, (_, i) => (i === 0 ? 0 : Math.sign(base[9][i]))), // orthogonal to the dominant component
      new Float32Array(d).fill(1e-35),
      new Float32Array(d).fill(-2e35),
    ];
    const N = rows.length;
    const mOf = rows.map((row) => { let ss = 0, mx = 0; for (const v of row) { ss += v * v; mx = Math.max(mx, Math.abs(v)); } return ss > 0 ? mx / Math.sqrt(ss) : 0; });
    for (const [name, opts, tol] of [
      ['float32', { storage: 'float32' }, () => 2e-5],
      ['float16', { storage: 'float16' }, () => 2 ** -11 + Math.sqrt(d) * 2 ** -25 + 2e-6],
      ['int8/r0', { storage: 'int8', rerank: 0 }, (i: number) => Math.sqrt(d) * mOf[i] / 254 + 2e-6],
      ['int8', { storage: 'int8' }, () => 2e-5],
    ] as const) {
      const c = await kit.corpus(rows, opts as any).catch((e) => e);
      if (!c?.search) { problems.push(`d=${d} ${name}: corpus ${errText(c)}`); continue; }
      const rc = await ref.corpus(rows, opts as any);
      for (const Q of [1, 3, 17]) {
        const qs = queries.slice(-Q);
        const h = await c.search(qs, N).catch((e: any) => e);
        if (h instanceof Error) { problems.push(`d=${d} ${name} Q=${Q}: ${errText(h)}`); continue; }
        problems.push(...checkTopK(`d=${d} ${name} Q=${Q}`, qs, rows, N, h.indices, h.scores, tol as any, name !== 'int8').slice(0, 3));
        const hr = await rc.search(qs, N);
        // same stored bits as the reference: scores within float32 rounding of the reference's
        for (let t = 0; t < hr.scores.length; t++) {
          const qi = Math.floor(t / N);
          const j = [...hr.indices.slice(qi * N, (qi + 1) * N)].indexOf(h.indices[t]);
          const rs = hr.scores[qi * N + j];
          if (Math.abs(rs - h.scores[t]) > 2e-5) { problems.push(`d=${d} ${name} Q=${Q} q=${qi}: row ${h.indices[t]} webgpu ${h.scores[t]} reference ${rs}`); break; }
        }
      }
      c.dispose();
      rc.dispose();
    }
    const m = await kit.cosineMatrix(queries, rows);
    for (let i = 0; i < queries.length; i++) for (let j = 0; j < N; j++) {
      const w = cos64(queries[i], rows[j]);
      if (!(Math.abs(m.data[i * N + j] - w) <= 2e-5)) { problems.push(`d=${d} cosineMatrix [${i},${j}] ${m.data[i * N + j]} vs ${w}`); i = 1e9; break; }
    }
    const cr = await kit.cosineRows(queries.slice(0, N), rows);
    for (let i = 0; i < N; i++) if (!(Math.abs(cr[i] - cos64(queries[i], rows[i])) <= 2e-5)) { problems.push(`d=${d} cosineRows ${i}: ${cr[i]}`); break; }
    const nr = await kit.rowNorms(rows).catch((e) => e);
    if (nr instanceof Error) { if (!/past the largest float32/.test(nr.message)) problems.push(`d=${d} rowNorms ${errText(nr)}`); } // documented: a norm past float32 is refused
    else for (let i = 0; i < N; i++) { let ss = 0; for (const v of rows[i]) ss += v * v; const w = Math.sqrt(ss); if (!(Math.abs(nr[i] - w) <= 1e-5 * w + 1e-45)) { problems.push(`d=${d} rowNorms ${i}: ${nr[i]} vs ${w}`); } }
    const nz = await kit.normalize(rows);
    for (let i = 0; i < N; i++) { let ss = 0; for (const v of rows[i]) ss += v * v; const n = Math.sqrt(ss); for (let j = 0; j < d; j++) { const w = n ? rows[i][j] / n : 0; if (!(Math.abs(nz.data[i * d + j] - w) <= 1e-6)) { problems.push(`d=${d} normalize row ${i} col ${j}: ${nz.data[i * d + j]} vs ${w}`); break; } } }
  }
  console.log('PROBLEMS\n' + problems.join('\n'));
  kit.dispose();
  await backend.dispose!();
  expect(problems).toEqual([]);
}, 300_000);
