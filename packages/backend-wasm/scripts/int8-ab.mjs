// One-query searches of an int8 corpus (no re-ranking, so the int8 scan is the whole search) in two
// builds of this package, A and B, at 1 and 2 threads, calls interleaved (A@1, B@1, A@2, B@2) so
// all see the same machine; CPU time per call (process.cpuUsage) and wall time, medians and bests,
// and B / A. The answers are compared bit for bit (integer sums: any grouping gives the same).
//   cp -r dist build/a/dist   (inside the package, so imports resolve) ; change ; pnpm run build
//   node scripts/int8-ab.mjs <distA> <distB> [reps=41] ['NxD,...' = 100000x384,1000000x384,20000x1536]
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { random } from './random.mjs';

const [dirA, dirB] = process.argv.slice(2, 4).map((d) => resolve(d));
const reps = Number(process.argv[4] ?? 41);
const shapes = (process.argv[5] ?? '100000x384,1000000x384,20000x1536')
  .split(',')
  .map((s) => s.split('x').map(Number));
const core = await import(pathToFileURL(resolve(import.meta.dirname, '../../core/dist/index.js')).href);
const load = async (dir, threads) => {
  const wasm = await import(pathToFileURL(`${dir}/index.js`).href);
  const kit = core.createCosineKit({ backend: wasm.createWasmBackend({ threads, variant: 'simd' }) });
  await kit.ready();
  return { kit, kernels: await kit.kernels() };
};
const runs = [
  ['A@1', await load(dirA, 1)],
  ['B@1', await load(dirB, 1)],
  ['A@2', await load(dirA, 2)],
  ['B@2', await load(dirB, 2)],
];
const median = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];
for (const [n, d] of shapes) {
  const x = new core.Tensor(random(n * d, 5), n, d);
  const q = new core.Tensor(random(d, 3), 1, d);
  const handles = [];
  for (const [, r] of runs) handles.push(await r.kernels.createCorpus(x, { storage: 'int8', rerank: 0 }));
  const first = [];
  for (let i = 0; i < runs.length; i++) first.push(await runs[i][1].kernels.corpusSearch(handles[i], q, 10));
  for (let i = 1; i < runs.length; i++) {
    const same =
      first[i].indices.every((v, j) => v === first[0].indices[j]) &&
      new Uint32Array(first[i].scores.buffer).every(
        (v, j) => v === new Uint32Array(first[0].scores.buffer)[j],
      );
    if (!same) throw new Error(`${runs[i][0]} answers differently from ${runs[0][0]} at ${n} x ${d}`);
  }
  const cpu = runs.map(() => []);
  const wall = runs.map(() => []);
  for (let r = 0; r < reps; r++) {
    for (let i = 0; i < runs.length; i++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await runs[i][1].kernels.corpusSearch(handles[i], q, 10);
      wall[i].push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      cpu[i].push((c.user + c.system) / 1000);
    }
  }
  console.log(`int8 ${n} x ${d}, one query, top-10, ${reps} rounds (same answers, bit for bit):`);
  for (let i = 0; i < runs.length; i++) {
    const w = [...wall[i]].sort((a, b) => a - b);
    console.log(
      `  ${runs[i][0]}: wall median ${median(wall[i]).toFixed(2)} ms, best ${w[0].toFixed(2)} ms (${((n * d) / w[0] / 1e6).toFixed(1)} GB/s); CPU median ${median(cpu[i]).toFixed(2)} ms`,
    );
  }
  for (const t of [0, 2]) {
    console.log(
      `  B / A at ${t ? 2 : 1} thread(s): wall median ${(median(wall[t + 1]) / median(wall[t])).toFixed(2)}, best ${(Math.min(...wall[t + 1]) / Math.min(...wall[t])).toFixed(2)}`,
    );
  }
  for (const h of handles) h.dispose();
}
for (const [, r] of runs) r.kit.dispose();
