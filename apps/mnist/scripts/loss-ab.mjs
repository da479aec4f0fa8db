// Interleaved A/B of the InfoNCE loss of `pnpm mnist:speed`'s step alone (128 pairs of unit 64-d
// rows, 10 classes masked, scale 20; its three matmuls and its softmax, on wasm with one thread)
// between two whole builds: another checkout of this repository (built) and this one. Rounds of
// 500 calls alternate old, new, old, new... in one process; prints CPU microseconds per call
// (process.cpuUsage), their medians and the median of the per-round ratios new/old.
//   node apps/mnist/scripts/loss-ab.mjs <other checkout> [rounds=9]
// (both checkouts built first: pnpm exec turbo run build --filter=@cosinekit/example-mnist...)
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const other = process.argv[2];
if (!other) throw new Error('usage: node apps/mnist/scripts/loss-ab.mjs <other checkout> [rounds]');
const rounds = Number(process.argv[3] ?? 9);
const here = new URL('../../../', import.meta.url).pathname;

/** One build's nn, with float32 ops over its wasm backend's kernels (one thread, arrays reused). */
async function stack(root) {
  const at = (p) => import(pathToFileURL(resolve(root, p)).href);
  const nn = await at('packages/nn/dist/index.js');
  const { loadBackend } = await at('apps/mnist/dist/backends.js');
  const { kit } = await loadBackend('wasm', 1, 'auto');
  const ops = nn.kernelOps(await kit.kernels(), { reuse: true });
  return { ops, loss: nn.multipleNegativesRankingLoss({ scale: 20 }) };
}

const rows = 128;
const cols = 64;
let seed = 7;
const rnd = () => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 2 ** 32 - 0.5;
};
// Unit rows, as an encoder with `normalize: true` gives them.
const emb = new Float32Array(2 * rows * cols);
for (let i = 0; i < 2 * rows; i++) {
  let n = 0;
  for (let j = 0; j < cols; j++) {
    const v = rnd();
    emb[i * cols + j] = v;
    n += v * v;
  }
  for (let j = 0; j < cols; j++) emb[i * cols + j] /= Math.sqrt(n);
}
const groups = Float64Array.from({ length: rows }, (_, i) => (i * 7) % 10);
const input = {
  a: emb.subarray(0, rows * cols),
  b: emb.subarray(rows * cols),
  rows,
  cols,
  groups,
  normalized: true,
};

const cpu = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};
async function run({ ops, loss }, calls) {
  const t0 = cpu();
  let value = 0;
  for (let i = 0; i < calls; i++) {
    value = (await loss.compute(ops, input)).loss;
    ops.release();
  }
  return { us: ((cpu() - t0) / calls) * 1000, value };
}

const old = await stack(resolve(other));
const now = await stack(here);
// Warm-up (compilation, pools).
await run(old, 300);
await run(now, 300);
const a = [];
const b = [];
const ratio = [];
let values = [];
for (let i = 0; i < rounds; i++) {
  const x = await run(old, 500);
  const y = await run(now, 500);
  a.push(x.us);
  b.push(y.us);
  ratio.push(y.us / x.us);
  values = [x.value, y.value];
  console.log(
    `round ${i + 1}: old ${x.us.toFixed(0)} us, new ${y.us.toFixed(0)} us, new/old ${(y.us / x.us).toFixed(3)}`,
  );
}
const median = (v) => [...v].sort((p, q) => p - q)[v.length >> 1];
console.log(
  `median CPU us per loss call: old ${median(a).toFixed(0)}, new ${median(b).toFixed(0)}; median of the ratios new/old ${median(ratio).toFixed(3)} (${rounds} rounds); loss old ${values[0].toFixed(6)}, new ${values[1].toFixed(6)}`,
);
process.exit(0);
