// CPU time per phase of `pnpm mnist:speed`'s MLP step on one backend (default wasm, one thread):
// each kernel call by name and shape (through the kit's checked kernel table, so the checks of
// the outputs count with their kernel), the loss (its own matmuls included), the optimiser, and
// the rest (sampling, copies, normalisation, the JS of the layers), in ms of CPU per epoch
// (process.cpuUsage around each call; the median is not taken: run it twice on a busy machine).
// The density column is the share of non-zeros in A at the first call of that shape.
//   node apps/mnist/scripts/phases.mjs [backend] [--dense]     (after pnpm mnist:speed's build)
import { adam, createEncoder, inBatchSampler, multipleNegativesRankingLoss, train } from '@cosinekit/nn';
import { loadBackend } from '../dist/backends.js';
import { splitDigits } from '../dist/data.js';

const { train: data } = splitDigits(0.8, 1);
if (process.argv.includes('--dense')) {
  let s = 7;
  for (let i = 0; i < data.x.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    data.x[i] = (s >>> 0) / 2 ** 32;
  }
}
const { kit } = await loadBackend(process.argv[2] ?? 'wasm', 1, 'auto');
const raw = await kit.kernels();
const acc = new Map();
const cpu = () => {
  const c = process.cpuUsage();
  return c.user + c.system;
};
const add = (k, t) => acc.set(k, (acc.get(k) ?? 0) + t);
const wrap =
  (name, f, key) =>
  (...a) => {
    const t0 = cpu();
    const r = f(...a);
    add(key ? key(...a) : name, cpu() - t0);
    return r;
  };
const nz = (v) => {
  let n = 0;
  for (let i = 0; i < v.length; i++) if (v[i] !== 0) n++;
  return n / v.length;
};
const dens = new Map();
const kernels = {
  ...raw,
  matmul: wrap('matmul', raw.matmul, (a, b, ta, tb) => {
    const k = `matmul ${ta ? a.cols : a.rows}x${ta ? a.rows : a.cols}x${tb ? b.rows : b.cols}${ta ? ' tA' : ''}${tb ? ' tB' : ''}`;
    if (!dens.has(k)) dens.set(k, nz(a.data));
    return k;
  }),
  addBias: wrap('addBias', raw.addBias),
  activation: wrap('activation', raw.activation),
  activationGrad: wrap('activationGrad', raw.activationGrad),
  // The bias gradients' column sums, where the kit has the kernel (otherwise the layers sum in JS: rest).
  ...(raw.columnSums ? { columnSums: wrap('columnSums', raw.columnSums) } : {}),
};
const encoder = createEncoder({
  inputs: 784,
  layers: [{ units: 256, activation: 'relu' }, { units: 64 }],
  normalize: true,
  seed: 1,
});
const sampler = inBatchSampler(data, { batchSize: 128, dropLast: true });
const loss0 = multipleNegativesRankingLoss({ scale: 20 });
const loss = {
  ...loss0,
  compute: async (ops, input) => {
    const t0 = cpu();
    const r = await loss0.compute(ops, input);
    add('loss (incl. its matmuls)', cpu() - t0);
    return r;
  },
};
const opt0 = adam({ learningRate: 1e-3 });
const optimizer = {
  get name() {
    return opt0.name;
  },
  get steps() {
    return opt0.steps;
  },
  learningRate: () => opt0.learningRate(),
  step: wrap('optimizer', (p, g, k) => opt0.step(p, g, k)),
};
await train({ kernels, encoder, loss, sampler, optimizer, epochs: 1, seed: 0 });
acc.clear();
const E = Number(process.env.EPOCHS ?? 4);
const t0 = cpu();
await train({ kernels, encoder, loss, sampler, optimizer, epochs: E, seed: 1 });
const total = (cpu() - t0) / E;
let known = 0;
console.log('phase'.padEnd(34), 'ms/epoch  share  density(A)');
for (const [k, t] of [...acc].sort((a, b) => b[1] - a[1])) {
  if (!k.startsWith('loss')) known += t / E;
  console.log(
    k.padEnd(34),
    (t / E / 1000).toFixed(1).padStart(8),
    `${((100 * t) / E / total).toFixed(1).padStart(5)}%`,
    dens.has(k) ? dens.get(k).toFixed(2) : '',
  );
}
console.log(
  'rest (sampling, copies, normalise, JS)'.padEnd(34),
  ((total - known) / 1000).toFixed(1).padStart(8),
  '(loss row includes its matmuls)',
);
console.log('total'.padEnd(34), (total / 1000).toFixed(1).padStart(8));
kit.dispose();
