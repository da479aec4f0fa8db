// Interleaved A/B of one training epoch of `pnpm mnist:speed`'s MLP (784-256-64, InfoNCE scale 20,
// Adam 1e-3, batch 128, wasm on one thread) between two whole builds: another checkout of this
// repository (its own core, backend-wasm and nn, built) and this one. Epochs alternate old, new,
// old, new... in one process, so both builds see the same machine; prints CPU ms per epoch
// (process.cpuUsage, all threads), their medians and the median of the per-round ratios new/old.
//   node apps/mnist/scripts/epoch-ab.mjs <other checkout> [rounds=9]
// (both checkouts built first: pnpm exec turbo run build --filter=@cosinekit/example-mnist...)
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const other = process.argv[2];
if (!other) throw new Error('usage: node apps/mnist/scripts/epoch-ab.mjs <other checkout> [rounds]');
const rounds = Number(process.argv[3] ?? 9);
const here = new URL('../../../', import.meta.url).pathname;

/** One build's stack: its nn, its wasm backend's kernels (one thread) and its data split. */
async function stack(root) {
  const at = (p) => import(pathToFileURL(resolve(root, p)).href);
  const nn = await at('packages/nn/dist/index.js');
  const { loadBackend } = await at('apps/mnist/dist/backends.js');
  const { splitDigits } = await at('apps/mnist/dist/data.js');
  const { kit } = await loadBackend('wasm', 1, 'auto');
  return { nn, kernels: await kit.kernels(), data: splitDigits(0.8, 1).train };
}

const cpu = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};

async function epoch({ nn, kernels, data }) {
  const encoder = nn.createEncoder({
    inputs: 784,
    layers: [{ units: 256, activation: 'relu' }, { units: 64 }],
    normalize: true,
    seed: 1,
  });
  const sampler = nn.inBatchSampler(data, { batchSize: 128, dropLast: true });
  const loss = nn.multipleNegativesRankingLoss({ scale: 20 });
  const optimizer = nn.adam({ learningRate: 1e-3 });
  const t0 = cpu();
  const r = await nn.train({ kernels, encoder, loss, sampler, optimizer, epochs: 1, seed: 1 });
  return { ms: cpu() - t0, loss: r.history[0].loss };
}

const old = await stack(resolve(other));
const now = await stack(here);
// One warm-up epoch each (compilation, pools).
await epoch(old);
await epoch(now);
const a = [];
const b = [];
const ratio = [];
let losses = [];
for (let i = 0; i < rounds; i++) {
  const x = await epoch(old);
  const y = await epoch(now);
  a.push(x.ms);
  b.push(y.ms);
  ratio.push(y.ms / x.ms);
  losses = [x.loss, y.loss];
  console.log(
    `round ${i + 1}: old ${x.ms.toFixed(1)} ms, new ${y.ms.toFixed(1)} ms, new/old ${(y.ms / x.ms).toFixed(3)}`,
  );
}
const median = (v) => [...v].sort((p, q) => p - q)[v.length >> 1];
console.log(
  `median CPU ms per epoch: old ${median(a).toFixed(1)}, new ${median(b).toFixed(1)}; median of the ratios new/old ${median(ratio).toFixed(3)} (${rounds} rounds); epoch loss old ${losses[0].toFixed(6)}, new ${losses[1].toFixed(6)}`,
);
