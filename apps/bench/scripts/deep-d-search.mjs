// Where a few-query search's time goes, one thread: `corpusSearch` (top-k) against the dot
// products alone (`dotsWith` on the corpus as the backend stores it, no selection), for two builds
// of @cosinekit/backend-wasm, calls interleaved round by round, best CPU time (process.cpuUsage).
// The two builds' top-k must agree exactly (indices and scores).
//   node apps/bench/scripts/deep-d-search.mjs Q N d [reps] distA [distB]
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { random } from './random.mjs';

const require = createRequire(import.meta.url);
const [Q, N, d] = process.argv.slice(2, 5).map(Number);
const reps = Number(process.argv[5] ?? 7);
const dirs = process.argv.slice(6);
const core = await import(require.resolve('@cosinekit/core'));
const corpus = random(N * d, 7);
const queries = random(Q * d, 9);
const k = 10;
const calls = [];
const results = [];
for (const [n, dir] of dirs.entries()) {
  const pkg = await import(pathToFileURL(resolve(dir, 'index.js')).href);
  const wasm = { simd: readFileSync(resolve(dir, 'cosinekit-simd.wasm')) };
  const backend = pkg.createWasmBackend({ threads: 1, variant: 'simd', wasm });
  await backend.init();
  const c = backend.kernels.createCorpus(new core.Tensor(corpus, N, d));
  const qt = new core.Tensor(queries, Q, d);
  calls.push({ name: `${'AB'[n]} search`, call: () => backend.kernels.corpusSearch(c, qt, k) });
  results.push(backend.kernels.corpusSearch(c, qt, k));
}
// The product alone on a separately instantiated binary of the first build (same layout: 4x2 tile,
// panels of 2 corpus rows, 96 KiB corpus blocks, tiles of 8192 rows as the search makes them).
{
  const { instance } = await WebAssembly.instantiate(readFileSync(resolve(dirs[0], 'cosinekit-simd.wasm')));
  const ex = instance.exports;
  const al = (x) => Math.ceil(x / 64) * 64;
  const steps = Math.ceil(d / 4);
  const rowBytes = steps * 16;
  const nt = Math.min(N, Math.floor(Math.max(64, 65536 / Q) / 2) * 2);
  const src = al(ex.heapBase());
  const a = al(src + Math.max(Q, Math.min(N, 65536)) * d * 4);
  const b = al(a + Q * rowBytes);
  const out = al(b + Math.ceil(N / 2) * 2 * rowBytes);
  const need = out + Q * nt * 4 + 64 - ex.memory.buffer.byteLength;
  if (need > 0) ex.memory.grow(Math.ceil(need / 65536) + 1);
  const split = Q - (Q % 4);
  new Float32Array(ex.memory.buffer, src, Q * d).set(queries);
  ex.pack(src, split, d, d, a, 4, 1);
  ex.pack(src + split * d * 4, Q - split, d, d, a + split * rowBytes, 1, 1);
  for (let r0 = 0; r0 < N; r0 += 65536) {
    const r = Math.min(65536, N - r0);
    new Float32Array(ex.memory.buffer, src, r * d).set(corpus.subarray(r0 * d, (r0 + r) * d));
    ex.pack(src, r, d, d, b + r0 * rowBytes, 2, 1);
  }
  const nbp = Math.max(1, Math.floor((96 * 1024) / (rowBytes * 2)));
  calls.push({
    name: 'A dots only',
    call: () => {
      for (let j0 = 0; j0 < N; j0 += nt) {
        const w = Math.min(nt, N - j0);
        ex.dotsWith(0, a, Q, b + j0 * rowBytes, w, steps, out, w * 4, 1, nbp, steps, 0, false);
      }
    },
  });
}
if (results.length === 2) {
  const [x, y] = results;
  for (let t = 0; t < x.indices.length; t++) {
    if (x.indices[t] !== y.indices[t] || x.scores[t] !== y.scores[t])
      throw new Error(`A and B differ at ${t}`);
  }
}
const cpu = calls.map(() => Infinity);
for (let r = 0; r < reps; r++) {
  calls.forEach((x, i) => {
    const c0 = process.cpuUsage();
    x.call();
    const c = process.cpuUsage(c0);
    cpu[i] = Math.min(cpu[i], (c.user + c.system) / 1000);
  });
}
const flops = 2 * Q * N * d;
console.log(`Q=${Q} N=${N} d=${d} k=${k}, 1 thread, best of ${reps} interleaved rounds (CPU time)`);
for (const [i, x] of calls.entries()) {
  console.log(
    `  ${x.name}: ${cpu[i].toFixed(2)} ms, ${(flops / cpu[i] / 1e6).toFixed(1)} GFLOP/s, ${(cpu[i] / cpu[0]).toFixed(2)}x A search`,
  );
}
