// Top-k searches of two builds of this package side by side, one thread: `corpusSearch` at each k,
// and the product of the same shape into a reused output (`corpusMatrix` with `out`) as the floor a
// search cannot go below. Calls are interleaved round by round (A, B, product) so both builds see
// the same moment of the machine; medians of `reps`. Both builds must give the same rows and
// scores bit for bit (checked on every shape and k before timing). STORAGE=int8 (its default
// re-rank) searches int8 corpora; KEEP=<share> searches with a filter that keeps that share of the
// rows (`corpusSearchAllowed`, a fixed pseudo-random mask).
//   node scripts/select-ab.mjs <distA> <distB> ['QxNxd,...'] ['k,...'] [reps]
// Copy a build aside first: `mkdir -p build && cp -r dist build/a` (inside the package, so its
// imports resolve; build/ is ignored by git), rebuild, then pass build/a and dist.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Tensor } from '@cosinekit/core';
import { random } from './random.mjs';

const [dirA, dirB] = process.argv.slice(2, 4).map((d) => resolve(d));
const shapes = (process.argv[4] ?? '8x10000x384,64x10000x384,1000x10000x96')
  .split(',')
  .map((s) => s.split('x').map(Number));
const ks = (process.argv[5] ?? '10,100,1000').split(',').map(Number);
const reps = Number(process.argv[6] ?? 11);
const median = (x) => [...x].sort((p, q) => p - q)[x.length >> 1];
const storage = process.env.STORAGE ?? 'float32';
const keep = process.env.KEEP === undefined ? undefined : Number(process.env.KEEP);

const backends = [];
for (const dir of [dirA, dirB]) {
  const { createWasmBackend } = await import(pathToFileURL(resolve(dir, 'index.js')).href);
  const simd = readFileSync(resolve(dir, 'cosinekit-simd.wasm'));
  const b = createWasmBackend({ threads: 1, variant: 'simd', wasm: { simd } });
  await b.init();
  backends.push(b);
}
for (const [Q, N, d] of shapes) {
  const corpus = new Tensor(random(N * d, 7), N, d);
  const queries = new Tensor(random(Q * d, 9), Q, d);
  const cs = backends.map((b) => b.kernels.createCorpus(corpus, { storage }));
  const mask = keep === undefined ? undefined : random(N, 11).map((v) => (v + 1 < 2 * keep ? 1 : 0));
  const allow = mask && new Uint8Array(mask);
  const search = (i, k) =>
    allow
      ? backends[i].kernels.corpusSearchAllowed(cs[i], queries, k, allow)
      : backends[i].kernels.corpusSearch(cs[i], queries, k);
  const out = new Float32Array(Q * N);
  const product = () => backends[0].kernels.corpusMatrix(cs[0], queries, out);
  const line = [];
  for (const k of ks.filter((k) => k <= (allow ? allow.reduce((a, b) => a + b, 0) : N))) {
    const [ra, rb] = [search(0, k), search(1, k)];
    for (let t = 0; t < Q * k; t++) {
      if (ra.indices[t] !== rb.indices[t] || !Object.is(ra.scores[t], rb.scores[t])) {
        throw new Error(`${Q}x${N}x${d} top-${k}: the builds differ at ${t}`);
      }
    }
    const ms = [[], [], []];
    const calls = [() => search(0, k), () => search(1, k), product];
    for (let r = 0; r < reps; r++) {
      for (const [i, f] of calls.entries()) {
        const t0 = performance.now();
        f();
        ms[i].push(performance.now() - t0);
      }
    }
    const [a, b, p] = ms.map(median);
    line.push(
      `top-${k} A ${a.toFixed(2)} B ${b.toFixed(2)} ms (B/A ${(b / a).toFixed(2)}x; product ${p.toFixed(2)}: A ${(a / p).toFixed(2)}x, B ${(b / p).toFixed(2)}x)`,
    );
  }
  console.log(`${Q}x${N}x${d}: ${line.join(' | ')}`);
  for (const c of cs) c.dispose?.();
}
for (const b of backends) await b.dispose?.();
