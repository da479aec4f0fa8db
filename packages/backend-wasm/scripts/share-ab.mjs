// Many-query products (corpusMatrix) and searches of two builds of this package, A and B, at 1 and 2
// threads, samples interleaved (A@1, B@1, A@2, B@2) so all see the same machine. Prints, per shape,
// best and median wall time, GFLOP/s, each build's 2-thread speed-up, and CPU time per call.
// Each build's answers are checked against the other's (the same bits are expected).
//   cp -r dist /some/where/old/dist   (inside the package, so imports resolve) ; change ; pnpm run build
//   node scripts/share-ab.mjs <dirA> <dirB> [reps] [simd|relaxed] ['QxNxd,...'] [search]
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { random } from './random.mjs';

const [dirA, dirB] = process.argv.slice(2, 4).map((d) => resolve(d));
const reps = Number(process.argv[4] ?? 7);
const variant = process.argv[5] ?? 'simd';
const shapes = (process.argv[6] ?? '1000x20000x384,256x10000x768,64x20000x384')
  .split(',')
  .map((s) => s.split('x').map(Number));
const mode = process.argv[7] ?? 'matrix';
const k = 10;

async function backends(dir) {
  const { createWasmBackend } = await import(pathToFileURL(join(dir, 'index.js')).href);
  const out = [];
  for (const threads of [1, 2]) {
    const b = createWasmBackend({ variant, threads });
    await b.init();
    out.push(b);
  }
  return out;
}
const [a1, a2] = await backends(dirA);
const [b1, b2] = await backends(dirB);
const names = ['A@1', 'B@1', 'A@2', 'B@2'];
for (const [Q, N, d] of shapes) {
  const q = { data: random(Q * d, 3), rows: Q, cols: d };
  const x = { data: random(N * d, 5), rows: N, cols: d };
  const all = [a1, b1, a2, b2];
  const corpora = all.map((b) => b.kernels.createCorpus(x));
  const calls = all.map((b, i) =>
    mode === 'search'
      ? () => b.kernels.corpusSearch(corpora[i], q, k).scores
      : () => b.kernels.corpusMatrix(corpora[i], q),
  );
  const first = calls.map((f) => f());
  for (let i = 1; i < 4; i++) {
    const w = first[0];
    const g = first[i];
    let same = w.length === g.length;
    for (let t = 0; same && t < w.length; t++) same = Object.is(w[t], g[t]);
    if (!same)
      console.log(
        `  ${Q}x${N}x${d} ${names[i]} differs from A@1`,
        [...w.slice(0, 10)].join(),
        [...g.slice(0, 10)].join(),
      );
  }
  const times = calls.map(() => []);
  const cpu = calls.map(() => 0);
  const cpuBest = calls.map(() => Infinity);
  for (let r = 0; r < reps; r++) {
    calls.forEach((f, i) => {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      f();
      times[i].push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      cpu[i] += (c.user + c.system) / 1000;
      cpuBest[i] = Math.min(cpuBest[i], (c.user + c.system) / 1000);
    });
  }
  const flops = 2 * Q * N * d;
  const best = times.map((t) => Math.min(...t));
  const med = times.map((t) => [...t].sort((u, v) => u - v)[t.length >> 1]);
  console.log(`${variant} ${mode} ${Q}x${N}x${d} (${reps} reps):`);
  names.forEach((n, i) => {
    console.log(
      `  ${n}: best ${best[i].toFixed(2)} ms (${(flops / best[i] / 1e6).toFixed(1)} GFLOP/s), median ${med[i].toFixed(2)} ms, CPU ${(cpu[i] / reps).toFixed(2)} ms/call (best ${cpuBest[i].toFixed(2)})`,
    );
  });
  console.log(
    `  2-thread speed-up (best): A ${(best[0] / best[2]).toFixed(2)}x, B ${(best[1] / best[3]).toFixed(2)}x; (median) A ${(med[0] / med[2]).toFixed(2)}x, B ${(med[1] / med[3]).toFixed(2)}x`,
  );
  for (const c of corpora) c.dispose();
}
for (const b of [a1, a2, b1, b2]) b.dispose();
