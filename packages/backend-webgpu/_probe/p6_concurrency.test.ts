// Many calls at once on one webgpu backend: results must equal the same calls run one at a time,
// bit for bit; nothing lost, no error; the pool returns to what it was.
import { createCosineKit } from '@cosinekit/core';
import { expect, it } from 'vitest';
import { createWebGpuBackend } from '../src/index.js';
import { errText, type Rows, rng } from './util.js';

it('concurrency', async () => {
  const backend = createWebGpuBackend();
  const kit = createCosineKit({ backend });
  const r = rng(3);
  const mk = (n: number, d: number): Rows => Array.from({ length: n }, () => Float32Array.from({ length: d }, r));
  const specs = [
    { d: 64, n: 3000, storage: 'float32' },
    { d: 100, n: 2000, storage: 'float16' },
    { d: 33, n: 2500, storage: 'int8' },
    { d: 33, n: 2500, storage: 'int8', rerank: 0 },
    { d: 1025, n: 300, storage: 'float32' },
  ] as const;
  // corpora created concurrently (on a backend not yet opened)
  const data = specs.map((s) => mk(s.n, s.d));
  const corpora = await Promise.all(specs.map((s, i) => kit.corpus(data[i], { storage: s.storage, ...("rerank" in s ? { rerank: s.rerank } : {}) } as any)));
  const jobs: (() => Promise<any>)[] = [];
  for (let j = 0; j < 120; j++) {
    const ci = j % specs.length;
    const Q = [1, 3, 5, 17, 40][j % 5];
    const k = [1, 7, 64, 65, 100][(j >> 1) % 5];
    const q = mk(Q, specs[ci].d);
    const filter = j % 7 === 0 ? { filter: { mask: Uint8Array.from({ length: specs[ci].n }, (_, i) => (i % 3 === 0 ? 1 : 0)) } } : {};
    jobs.push(() => corpora[ci].search(q, k, filter).then((h) => [h.indices, h.scores]));
    if (j % 10 === 0) {
      const a = mk(20, 48), b = mk(70, 48);
      jobs.push(() => kit.cosineMatrix(a, b).then((t) => [t.data]));
      jobs.push(() => kit.topK(a, b, 5).then((h) => [h.indices, h.scores]));
      jobs.push(() => kit.cosineRows(a, a.map((x) => x.map((v) => v + 1))).then((x) => [x]));
      jobs.push(() => kit.normalize(b).then((t) => [t.data]));
      jobs.push(() => corpora[ci].similarity(q).then((t) => [t.data]));
    }
  }
  const seq: any[] = [];
  for (const job of jobs) seq.push(await job().catch((e) => e));
  const statsAfterSeq = backend.stats();
  const t0 = performance.now();
  const par = await Promise.all(jobs.map((job) => job().catch((e) => e)));
  console.log(`${jobs.length} concurrent calls in ${(performance.now() - t0).toFixed(0)} ms`);
  const problems: string[] = [];
  for (let i = 0; i < jobs.length; i++) {
    if (seq[i] instanceof Error || par[i] instanceof Error) {
      problems.push(`job ${i}: seq ${seq[i] instanceof Error ? errText(seq[i]) : 'ok'} par ${par[i] instanceof Error ? errText(par[i]) : 'ok'}`);
      continue;
    }
    for (let a = 0; a < seq[i].length; a++) {
      const x = seq[i][a], y = par[i][a];
      if (x.length !== y.length || x.some((v: number, t: number) => !Object.is(v, y[t]))) {
        const t = x.findIndex((v: number, t: number) => !Object.is(v, y[t]));
        problems.push(`job ${i} array ${a}: differs at ${t}: ${x[t]} vs ${y[t]}`);
        break;
      }
    }
  }
  console.log('STATS seq', JSON.stringify(statsAfterSeq), 'after par', JSON.stringify(backend.stats()), JSON.stringify(backend.memory()));
  console.log('PROBLEMS\n' + problems.slice(0, 30).join('\n'));
  kit.dispose();
  console.log('after kit.dispose', JSON.stringify(backend.stats()), JSON.stringify(backend.memory()));
  await backend.dispose!();
  console.log('after backend.dispose', JSON.stringify(backend.stats()));
  expect(problems).toEqual([]);
}, 600_000);
