// Where a many-query similarity matrix's time goes on the wasm backend (one thread unless told): the kit's
// `corpus.similarity(q)` with a new result each call, the same into a reused `options.out`, and the
// first touch of a new buffer of the result's size (a Float32Array filled once), in interleaved
// rounds (wall time, best and median: with helper threads CPU time would add theirs). The first minus the second is what the new result costs;
// the third says how much of that is faulting in its pages. Both results are checked to be equal.
//   node apps/bench/scripts/product-anatomy.mjs [Q] [N] [d] [reps] [threads]
import { createRequire } from 'node:module';
import { random } from './random.mjs';

const require = createRequire(import.meta.url);
const core = await import(require.resolve('@cosinekit/core'));
const { createWasmBackend } = await import(require.resolve('@cosinekit/backend-wasm'));
const [Q, N, d] = [1000, 10000, 384].map((x, i) => Number(process.argv[2 + i] ?? x));
const reps = Number(process.argv[5] ?? 7);
const threads = Number(process.argv[6] ?? 1);
const kit = core.createCosineKit({ backend: createWasmBackend({ threads, variant: 'simd' }) });
const c = await kit.corpus(new core.Tensor(random(N * d, 7), N, d));
const q = new core.Tensor(random(Q * d, 9), Q, d);
const out = new Float32Array(Q * N);
const a = (await c.similarity(q)).data;
const b = (await c.similarity(q, { out })).data;
for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) throw new Error(`results differ at ${i}`);
const wall = async (f) => {
  const t = performance.now();
  await f();
  return performance.now() - t;
};
const calls = {
  'similarity, new result': () => c.similarity(q),
  'similarity into out': () => c.similarity(q, { out }),
  'first touch of a new result-sized buffer': () => new Float32Array(Q * N).fill(1),
};
const ms = Object.fromEntries(Object.keys(calls).map((k) => [k, []]));
for (let r = 0; r < reps; r++) for (const [k, f] of Object.entries(calls)) ms[k].push(await wall(f));
const med = (x) => [...x].sort((p, s) => p - s)[x.length >> 1];
const flops = 2 * Q * N * d;
console.log(
  `${Q} x ${N} x ${d}, wasm ${threads} thread${threads > 1 ? 's' : ''}, ${reps} interleaved rounds; result ${((Q * N * 4) / 1e6).toFixed(1)} MB`,
);
for (const [k, x] of Object.entries(ms)) {
  const rate = k.startsWith('first') ? '' : `  ${(flops / Math.min(...x) / 1e6).toFixed(1)} GFLOP/s best`;
  console.log(
    `${k.padEnd(42)} best ${Math.min(...x)
      .toFixed(1)
      .padStart(7)} ms  median ${med(x).toFixed(1).padStart(7)} ms${rate}`,
  );
}
await c.dispose();
process.exit(0);
