// Anatomy of a one-query search on the wasm backend, one thread: the kernel alone (the built
// binary's exported `dotsWith`, `pack`, `normalizeRows`, `heapBase`: update this when they change),
// the top-k selection alone (core's TopKSelector), then the backend's corpusSearch and the kit's
// corpus.search. Usage (after pnpm bench or a build):
//   node apps/bench/scripts/one-query-anatomy.mjs [N] [d] [reps]
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { random } from './random.mjs';

const { measureRoofline } = await import('../dist/roofline.js');
const require = createRequire(import.meta.url);
const wasmPkg = await import(require.resolve('@cosinekit/backend-wasm'));
const core = await import(require.resolve('@cosinekit/core'));
const coreBackend = await import(require.resolve('@cosinekit/core/backend'));
const N = Number(process.argv[2] ?? 200000),
  d = Number(process.argv[3] ?? 384),
  k = 10;
const reps = Number(process.argv[4] ?? 9);
const best = (f) => {
  f();
  let b = Infinity;
  for (let i = 0; i < reps; i++) {
    const s = performance.now();
    f();
    b = Math.min(b, performance.now() - s);
  }
  return b;
};
const bytes = N * d * 4;
const gbs = (ms) => (bytes / (ms / 1000) / 1e9).toFixed(1);
const corpus = random(N * d, 7),
  query = random(d, 9);

const roof = await measureRoofline({ threads: 1, reps: 15 });
console.log(
  `roofline 1 thread: ${roof.bandwidth.one.best.toFixed(1)} GB/s read, ${roof.peakMulAdd.one.best.toFixed(1)} GFLOP/s mul+add`,
);

// 1. The engine's kernel alone, on the raw module: dotsWith, 1 query row x N panel rows (tile 4x2 -> row2p2).
const wasmUrl = new URL('./cosinekit-simd.wasm', pathToFileURL(require.resolve('@cosinekit/backend-wasm')));
const { instance } = await WebAssembly.instantiate(readFileSync(wasmUrl));
const ex = instance.exports;
const steps = Math.ceil(d / 4),
  rowBytes = steps * 16,
  P = 2;
const packedBytes = Math.ceil(N / P) * P * rowBytes;
const heap = ex.heapBase();
const al = (x) => Math.ceil(x / 64) * 64;
const src = al(heap),
  dst = al(src + N * d * 4),
  q = al(dst + packedBytes),
  out = al(q + rowBytes),
  end = out + N * 4 + 64;
const mem = ex.memory;
mem.grow(Math.ceil((end - mem.buffer.byteLength) / 65536) + 1);
new Float32Array(mem.buffer, src, N * d).set(corpus);
ex.pack(src, N, d, d, dst, P, 1);
new Float32Array(mem.buffer, src, d).set(query);
ex.normalizeRows(src, 1, d, q, steps * 4);
const nbp = Math.max(1, Math.floor((96 * 1024) / (rowBytes * P)));
const tDots = best(() => ex.dotsWith(0, q, 1, dst, N, steps, out, N * 4, 1, nbp, steps, 0, false));
// The same kernel in tiles of 64K rows, as runtime.search calls it.
const nt = 65536;
const tDotsTiled = best(() => {
  for (let j0 = 0; j0 < N; j0 += nt)
    ex.dotsWith(
      0,
      q,
      1,
      dst + j0 * rowBytes,
      Math.min(nt, N - j0),
      steps,
      out,
      Math.min(nt, N - j0) * 4,
      1,
      nbp,
      steps,
      0,
      false,
    );
});
// 2. Selection of the top-k from N float32 scores in JS (core's TopKSelector, as runtime.search does per tile).
const f32 = new Float32Array(mem.buffer);
const tSelect = best(() => {
  const sel = new coreBackend.TopKSelector(1, k);
  for (let j0 = 0; j0 < N; j0 += nt) sel.pushRow(0, f32, out >>> 2, j0, Math.min(nt, N - j0));
  sel.result();
});
// 3. The backend's corpusSearch kernel (sync), and the kit's corpus.search (async, as the bench times it).
const backend = wasmPkg.createWasmBackend({ threads: 1, variant: 'simd' });
await backend.init();
const c = backend.kernels.createCorpus(new core.Tensor(corpus, N, d));
const qt = new core.Tensor(query, 1, d);
const tKernel = best(() => backend.kernels.corpusSearch(c, qt, k));
const oMat = new Float32Array(N);
const tMatrix = best(() => backend.kernels.corpusMatrix(c, qt, oMat));
c.dispose?.();
const kit = core.createCosineKit({ backend: wasmPkg.createWasmBackend({ threads: 1, variant: 'simd' }) });
await kit.ready();
const kc = await kit.corpus(new core.Tensor(corpus, N, d));
await kc.search(qt, k);
let tKit = Infinity;
for (let i = 0; i < reps; i++) {
  const s = performance.now();
  await kc.search(qt, k);
  tKit = Math.min(tKit, performance.now() - s);
}
kc.dispose();
kit.dispose();
const row = (name, ms) =>
  console.log(
    `${name.padEnd(44)} ${ms.toFixed(3).padStart(8)} ms  ${gbs(ms).padStart(5)} GB/s  ${((100 * bytes) / (ms / 1000) / 1e9 / roof.bandwidth.one.best).toFixed(0).padStart(3)}% of bw`,
  );
console.log(`N=${N} d=${d}: corpus ${(bytes / 2 ** 20).toFixed(1)} MiB, best of ${reps}`);
row('dotsWith 1 x N (raw kernel, one call)', tDots);
row('dotsWith in 64K-row tiles', tDotsTiled);
console.log(
  `${'TopKSelector.pushRow over N scores (JS)'.padEnd(44)} ${tSelect.toFixed(3).padStart(8)} ms  (${((tSelect * 1e6) / N).toFixed(2)} ns/score)`,
);
row('backend.kernels.corpusMatrix (dots + copy)', tMatrix);
row('backend.kernels.corpusSearch (sync)', tKernel);
row('kit corpus.search (async, as benched)', tKit);
