// save/load round trip on webgpu in the browser: bytes stable across save -> load -> save, hits and
// scores equal bit for bit, the stored form equal to the reference's (quantised), cross-loads.
import { createCosineKit } from '@cosinekit/core';
import { createReferenceBackend } from '@cosinekit/core/backend';
import { expect, it } from 'vitest';
import { createWebGpuBackend } from '../src/index.js';
import { errText, type Rows, rng, settle } from './util.js';

function eqBytes(a: Uint8Array, b: Uint8Array): string {
  if (a.length !== b.length) return `length ${a.length} vs ${b.length}`;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return `differ at byte ${i} of ${a.length}`;
  return 'same';
}
function sameHits(a: any, b: any): string {
  const ai = a.indices, bi = b.indices, as = a.scores, bs = b.scores;
  if (ai.length !== bi.length) return `lengths ${ai.length}/${bi.length}`;
  for (let i = 0; i < ai.length; i++) {
    if (ai[i] !== bi[i]) return `index ${i}: ${ai[i]} vs ${bi[i]} (scores ${as[i]} vs ${bs[i]})`;
    if (!Object.is(as[i], bs[i])) return `score ${i}: ${as[i]} vs ${bs[i]}`;
  }
  return 'same';
}

it('save/load', async () => {
  const backend = createWebGpuBackend();
  const kit = createCosineKit({ backend });
  const ref = createCosineKit({ backend: createReferenceBackend() });
  const out: string[] = [];
  const problems: string[] = [];
  const r = rng(5);
  for (const d of [1, 3, 7, 384, 1025]) {
    const rows: Rows = Array.from({ length: 300 }, (_, i) => (i === 5 ? new Float32Array(d) : Float32Array.from({ length: d }, () => r() * (i % 3 === 0 ? 1e-3 : 1))));
    rows[7] = rows[6].slice(); // a duplicate
    const more: Rows = Array.from({ length: 50 }, () => Float32Array.from({ length: d }, r));
    const queries: Rows = Array.from({ length: 20 }, (_, i) => (i < 3 ? rows[i * 6].slice() : Float32Array.from({ length: d }, r)));
    for (const [name, opts] of [
      ['float32', { storage: 'float32' }],
      ['float16', { storage: 'float16' }],
      ['float16/r2', { storage: 'float16', rerank: 2 }],
      ['int8/r0', { storage: 'int8', rerank: 0 }],
      ['int8', { storage: 'int8' }],
    ] as const) {
      for (const segmented of [false, true]) {
        const label = `d=${d} ${name}${segmented ? ' +add/remove' : ''}`;
        const res = await settle(async () => {
          const c = await kit.corpus(rows, { ...opts, ids: rows.map((_, i) => `r${i}`) } as any);
          if (segmented) {
            await c.add(more, more.map((_, i) => `m${i}`));
            await c.remove(['r1', 'r100', 'm3']);
          }
          const b1 = await c.save();
          const c2 = await kit.loadCorpus(b1);
          const b2 = await c2.save();
          const k = Math.min(10, c.rows);
          const h1 = await c.search(queries, k);
          const h2 = await c2.search(queries, k);
          const h1b = await c.search(queries, 70);
          const h2b = await c2.search(queries, 70);
          // cross: the reference loads webgpu's bytes; webgpu loads the reference's
          const cr = await ref.loadCorpus(b1);
          const hr = await cr.search(queries, k);
          const br = await cr.save();
          const rc = await ref.corpus(rows, opts as any);
          const rs = await rc.save();
          const wc = await kit.corpus(rows, opts as any);
          const ws = await wc.save();
          const c3 = await kit.loadCorpus(rs);
          const h3 = await c3.search(queries, k);
          const hr3 = await rc.search(queries, k);
          const line = [
            `${label}: backend ${c.backend}/${c2.backend}`,
            `resave ${eqBytes(b1, b2)}`,
            `hits k=${k} ${sameHits(h1, h2)}`,
            `hits k=70 ${sameHits(h1b, h2b)}`,
            `reference-loaded ids ${h1.ids && hr.ids ? (String(h1.ids) === String(hr.ids) ? 'same' : 'DIFFER') : '?'}`,
            `reference resave of webgpu bytes ${eqBytes(b1, br)}`,
            `fresh webgpu vs fresh reference bytes ${eqBytes(ws, rs)}`,
            `webgpu-loaded reference bytes hits vs reference ${sameHits(h3, hr3)}`,
          ].join('; ');
          for (const cc of [c, c2, cr, rc, wc, c3]) cc.dispose();
          return line;
        });
        const s = 'ok' in res ? res.ok : `${label}: threw ${errText(res.err)}`;
        out.push(s);
        if (!('ok' in res) || /resave (length|differ)|hits k=\d+ (index|score|lengths)|DIFFER/.test(s)) problems.push(s);
      }
    }
  }
  console.log('SAVELOAD\n' + out.join('\n'));
  console.log('PROBLEMS\n' + problems.join('\n'));
  kit.dispose();
  await backend.dispose!();
  expect(problems).toEqual([]);
}, 600_000);
