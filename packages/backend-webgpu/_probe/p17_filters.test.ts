// Filtered search accuracy on webgpu (corpusSearchAllowed), every storage, vs float64 over the
// allowed rows only.
import { createCosineKit } from '@cosinekit/core';
import { expect, it } from 'vitest';
import { createWebGpuBackend } from '../src/index.js';
import { checkTopK, errText, type Rows, rng } from './util.js';

it('filters', async () => {
  const backend = createWebGpuBackend();
  const kit = createCosineKit({ backend });
  const problems: string[] = [];
  const r = rng(12);
  for (const d of [37, 64]) {
    const N = 3000;
    const rows: Rows = Array.from({ length: N }, (_, i) => (i % 500 === 7 ? new Float32Array(d) : Float32Array.from({ length: d }, r)));
    for (let i = 100; i < 110; i++) rows[i] = rows[99].slice(); // ties
    const qs: Rows = Array.from({ length: 17 }, (_, i) => (i === 0 ? rows[99].slice() : Float32Array.from({ length: d }, r)));
    const masks: [string, (i: number) => boolean][] = [
      ['every 5th', (i) => i % 5 === 0],
      ['block 1000-1400', (i) => i >= 1000 && i < 1400],
      ['three rows', (i) => i === 5 || i === 2999 || i === 104],
      ['ties 102-108 + 7', (i) => (i >= 102 && i <= 108) || i === 7],
      ['all but 99-105', (i) => i < 99 || i > 105],
    ];
    const mOf = rows.map((row) => { let ss = 0, mx = 0; for (const v of row) { ss += v * v; mx = Math.max(mx, Math.abs(v)); } return ss > 0 ? mx / Math.sqrt(ss) : 0; });
    for (const [name, opts] of [
      ['float32', { storage: 'float32' }],
      ['float16', { storage: 'float16' }],
      ['int8/r0', { storage: 'int8', rerank: 0 }],
      ['int8', { storage: 'int8' }],
    ] as const) {
      const c = await kit.corpus(rows, opts as any);
      for (const [mname, f] of masks) {
        const allowed = rows.map((_, i) => i).filter(f);
        const sub = allowed.map((i) => rows[i]);
        const mask = Uint8Array.from(rows, (_, i) => (f(i) ? 1 : 0));
        for (const Q of [1, 17]) for (const k of [1, 10, 64, 65, 200]) {
          const h = await c.search(qs.slice(0, Q), k, { filter: { mask } }).catch((e) => e);
          if (h instanceof Error) { problems.push(`d=${d} ${name} ${mname} Q=${Q} k=${k}: ${errText(h)}`); continue; }
          const kk = Math.min(k, allowed.length);
          if (h.k !== kk) { problems.push(`d=${d} ${name} ${mname} Q=${Q} k=${k}: result k ${h.k}, want ${kk}`); continue; }
          const pos = new Map(allowed.map((i, t) => [i, t]));
          const local = Int32Array.from(h.indices, (i: number) => (pos.has(i) ? pos.get(i)! : -1));
          const tol = name === 'float16' ? () => 2 ** -11 + Math.sqrt(d) * 2 ** -25 + 2e-6 : name === 'int8/r0' ? (t: number) => Math.sqrt(d) * mOf[allowed[t]] / 254 + 2e-6 : () => 2e-5;
          problems.push(...checkTopK(`d=${d} ${name} ${mname} Q=${Q} k=${k}`, qs.slice(0, Q), sub, kk, local, h.scores, tol, name !== 'int8').slice(0, 2));
        }
      }
      c.dispose();
    }
  }
  console.log('PROBLEMS\n' + problems.join('\n'));
  kit.dispose();
  await backend.dispose!();
  expect(problems).toEqual([]);
}, 300_000);
