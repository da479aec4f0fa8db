// Resources across many create/dispose cycles: a fresh backend (device) per cycle, and one backend
// with many corpora of varied shapes. stats() must return to zero / plateau; no slowdown; device
// creation must keep working.
import { createCosineKit } from '@cosinekit/core';
import { expect, it } from 'vitest';
import { createWebGpuBackend } from '../src/index.js';
import { errText, rng } from './util.js';

const heap = () => ((performance as any).memory?.usedJSHeapSize ?? 0) / 1e6;

it('backend create/dispose cycles', async () => {
  const r = rng(9);
  const rows = Array.from({ length: 200 }, () => Float32Array.from({ length: 32 }, r));
  const problems: string[] = [];
  const times: number[] = [];
  for (let i = 0; i < 300; i++) {
    const t0 = performance.now();
    const backend = createWebGpuBackend();
    const kit = createCosineKit({ backend });
    try {
      const c = await kit.corpus(rows, { storage: (['float32', 'float16', 'int8'] as const)[i % 3] });
      await c.search(rows.slice(0, 1 + (i % 20)), 1 + (i % 70));
      await kit.cosineMatrix(rows.slice(0, 3), rows);
      c.dispose();
    } catch (e) {
      problems.push(`cycle ${i}: ${errText(e)}`);
      if (problems.length > 5) break;
    }
    await backend.dispose!();
    const s = backend.stats();
    if (s.liveBuffers || s.liveBytes || s.inUseBuffers || s.pipelines) problems.push(`cycle ${i}: stats after dispose ${JSON.stringify(s)}`);
    times.push(performance.now() - t0);
    if (i % 50 === 0) console.log(`cycle ${i}: ${times[i].toFixed(0)} ms heap ${heap().toFixed(1)} MB`);
  }
  const med = (a: number[]) => a.slice().sort((x, y) => x - y)[a.length >> 1];
  console.log(`cycle time median first 50 ${med(times.slice(0, 50)).toFixed(1)} ms, last 50 ${med(times.slice(-50)).toFixed(1)} ms`);
  console.log('PROBLEMS\n' + problems.join('\n'));
  expect(problems).toEqual([]);
}, 600_000);

it('one backend, many corpora and shapes', async () => {
  const backend = createWebGpuBackend();
  const kit = createCosineKit({ backend });
  const r = rng(10);
  const log: string[] = [];
  let first: any = null;
  for (let round = 0; round < 6; round++) {
    for (const d of [3, 17, 64, 129, 700]) {
      for (const storage of ['float32', 'float16', 'int8'] as const) {
        const rows = Array.from({ length: 150 + round * 37 }, () => Float32Array.from({ length: d }, r));
        const c = await kit.corpus(rows, { storage });
        for (const Q of [1, 2, 5, 17]) await c.search(rows.slice(0, Q), [1, 10, 64, 65][Q % 4]);
        await c.search(rows.slice(0, 3), 5, { filter: { mask: Uint8Array.from(rows, (_, i) => i & 1) } });
        await c.similarity(rows.slice(0, 4));
        await c.add(rows.slice(0, 10));
        await c.remove([0, 1, 2]);
        await c.save();
        c.dispose();
      }
    }
    await Promise.all(Array.from({ length: 30 }, (_, i) => kit.cosineMatrix([Float32Array.from({ length: 40 }, r)], Array.from({ length: 20 + i }, () => Float32Array.from({ length: 40 }, r)))));
    const s = backend.stats();
    first ??= s;
    log.push(`round ${round}: ${JSON.stringify(s)} ${JSON.stringify(backend.memory())} heap ${heap().toFixed(1)} MB`);
  }
  console.log('ROUNDS\n' + log.join('\n'));
  const last = backend.stats();
  await backend.dispose!();
  expect(last.inUseBuffers).toBe(0);
  expect(last.liveBuffers).toBeLessThanOrEqual(first.liveBuffers * 2 + 20);
}, 600_000);
