// SwiftShader has no per-invocation loop limit (p1: 5,000,000 iterations run exactly), yet every
// software adapter gets llvmpipe's refusals. Here the same shapes: refused as UNSUPPORTED on the
// real SwiftShader adapter, answered correctly when the adapter only *claims* to be hardware.
import { createCosineKit } from '@cosinekit/core';
import { expect, it } from 'vitest';
import { createWebGpuBackend } from '../src/index.js';
import { errText, gpuEntry, settle } from './util.js';

async function shapes(label: string, kit: ReturnType<typeof createCosineKit>) {
  const out: string[] = [];
  // search, few-query kernel, long row whose only non-zero is the last component
  for (const [d, Q, storage] of [
    [66_001, 1, 'float32'],
    [66_000, 1, 'int8'],
    [100_000, 3, 'float16'],
    [270_000, 3, 'float32'],
    [70_001, 20, 'float32'], // tiled product path: 4,400 staged depths, under its limit
  ] as const) {
    const row = new Float32Array(d);
    row[d - 1] = 1;
    const other = new Float32Array(d);
    other[0] = 1;
    const r = await settle(async () => {
      const c = await kit.corpus([other, row], { storage });
      try {
        const h = await c.search(Array(Q).fill(row), 1);
        return `[${h.hits(Q - 1).indices[0]}, ${h.hits(Q - 1).scores[0]}]`;
      } finally {
        c.dispose();
      }
    });
    out.push(`${label} search d=${d} Q=${Q} ${storage}: ${'ok' in r ? r.ok + ' (want [1, 1])' : errText(r.err)}`);
  }
  // normalize / rowNorms / cosineRows on a 2.2M-float row
  const long = new Float32Array(2_200_000);
  long[long.length - 1] = 2;
  const n = await settle(kit.normalize(long));
  out.push(`${label} normalize 2.2M: ${'ok' in n ? n.ok.data[long.length - 1] + ' (want 1)' : errText(n.err)}`);
  const rn = await settle(kit.rowNorms(long));
  out.push(`${label} rowNorms 2.2M: ${'ok' in rn ? rn.ok[0] + ' (want 2)' : errText(rn.err)}`);
  const cr = await settle(kit.cosineRows(long, long));
  out.push(`${label} cosineRows 2.2M: ${'ok' in cr ? cr.ok[0] + ' (want 1)' : errText(cr.err)}`);
  // cosineMatrix with 17 x 2 rows of 1,100,000: the tiled product, > 1,000,000 values deep
  const d = 1_100_000;
  const a = new Float32Array(d);
  a[d - 1] = 1;
  const b = new Float32Array(d);
  b[0] = 1;
  const m = await settle(kit.cosineMatrix(Array(17).fill(a), [b, a]));
  out.push(`${label} cosineMatrix 17x2x1.1M: ${'ok' in m ? `[${m.ok.data[0]}, ${m.ok.data[1]}] (want [0, 1])` : errText(m.err)}`);
  return out;
}

it('refused on SwiftShader, correct when not refused', async () => {
  const real = createWebGpuBackend();
  const fake = createWebGpuBackend({ gpu: gpuEntry(true) });
  const lines = [
    ...(await shapes('swiftshader', createCosineKit({ backend: real }))),
    ...(await shapes('claims-hardware', createCosineKit({ backend: fake }))),
  ];
  console.log('REFUSALS\n' + lines.join('\n'));
  console.log('fake describe emulated:', fake.describe!().emulated, 'real:', real.describe!().emulated);
  await real.dispose!();
  await fake.dispose!();
  expect(lines.filter((l) => l.startsWith('swiftshader') && l.includes('UNSUPPORTED'))).toEqual([]);
}, 170_000);
