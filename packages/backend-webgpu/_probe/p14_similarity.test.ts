// corpus.similarity (corpusMatrix) and kit.topK on webgpu vs float64, every storage.
import { createCosineKit } from '@cosinekit/core';
import { expect, it } from 'vitest';
import { createWebGpuBackend } from '../src/index.js';
import { checkTopK, cos64, errText, type Rows, rng } from './util.js';

it('similarity and topK', async () => {
  const backend = createWebGpuBackend();
  const kit = createCosineKit({ backend });
  const problems: string[] = [];
  const r = rng(31);
  for (const d of [5, 64, 1025, 6494]) {
    const rows: Rows = Array.from({ length: 90 }, (_, i) => (i === 3 ? new Float32Array(d) : Float32Array.from({ length: d }, r)));
    const qs: Rows = Array.from({ length: 20 }, (_, i) => (i === 0 ? new Float32Array(d) : Float32Array.from({ length: d }, r)));
    const mOf = rows.map((row) => { let ss = 0, mx = 0; for (const v of row) { ss += v * v; mx = Math.max(mx, Math.abs(v)); } return ss > 0 ? mx / Math.sqrt(ss) : 0; });
    for (const [name, opts, tol] of [
      ['float32', { storage: 'float32' }, () => 2e-5],
      ['float16', { storage: 'float16' }, () => 2 ** -11 + Math.sqrt(d) * 2 ** -25 + 2e-6],
      ['float16/r1', { storage: 'float16', rerank: 1 }, () => 2e-5],
      ['int8/r0', { storage: 'int8', rerank: 0 }, (j: number) => Math.sqrt(d) * mOf[j] / 254 + 2e-6],
      ['int8', { storage: 'int8' }, () => 2e-5],
    ] as const) {
      const c = await kit.corpus(rows, opts as any);
      for (const Q of [1, 5, 20]) {
        const m = await c.similarity(qs.slice(0, Q)).catch((e) => e);
        if (m instanceof Error) { problems.push(`d=${d} ${name} Q=${Q}: ${errText(m)}`); continue; }
        let bad = 0;
        for (let i = 0; i < Q; i++) for (let j = 0; j < 90; j++) {
          const w = cos64(qs[i], rows[j]);
          if (!(Math.abs(m.data[i * 90 + j] - w) <= (tol as any)(j)) && bad++ < 2) problems.push(`d=${d} ${name} Q=${Q} [${i},${j}]: ${m.data[i * 90 + j]} vs ${w}`);
        }
      }
      c.dispose();
    }
    for (const k of [1, 64, 65, 90]) {
      const h = await kit.topK(qs, rows, k).catch((e) => e);
      if (h instanceof Error) { problems.push(`d=${d} topK k=${k}: ${errText(h)}`); continue; }
      problems.push(...checkTopK(`d=${d} topK k=${k}`, qs, rows, k, h.indices, h.scores, 2e-5).slice(0, 2));
    }
  }
  console.log('PROBLEMS\n' + problems.join('\n'));
  kit.dispose();
  await backend.dispose!();
  expect(problems).toEqual([]);
}, 300_000);
