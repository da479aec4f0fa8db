/**
 * The linear embedding adapter: one square matrix W, started at the identity and trained with MSE
 * between cos(aW, bW) and +1 / -1 targets, so that cosine separates labelled pairs better. The
 * "frozen model" embeddings are generated here: a class signal in a few directions, buried under
 * a shared offset and strong nuisance variation that plain cosine cannot ignore.
 * Run: `pnpm --filter @cosinekit/example-mnist adapter` (flags: `-- --help`).
 */
import { type CosineKit, Tensor } from '@cosinekit/core';
import {
  adam,
  createEncoder,
  createRng,
  type Encoder,
  fixedPairSampler,
  mseSimilarityLoss,
  type PairData,
  pairAccuracy,
  type Rng,
  rocAuc,
  train,
} from '@cosinekit/nn';
import { parseFlags, run, usage } from './args.js';
import { loadBackend } from './backends.js';

const defaults = { dim: 32, classes: 8, pairs: 2000, epochs: 15, lr: 0.005, seed: 1, backend: 'wasm' };

/** Embeddings of a frozen model: class signal (weak) + shared offset + nuisance (strong). */
function makeWorld(rng: Rng, dim: number, classes: number) {
  const centres = Array.from({ length: classes }, () => Array.from({ length: dim }, () => 0));
  // The class signal lives in the first half of the dimensions.
  for (const c of centres) for (let j = 0; j < dim / 2; j++) c[j] = rng.normal();
  const offset = Array.from({ length: dim }, () => 1.5);
  return (cls: number, out: Float32Array, at: number) => {
    for (let j = 0; j < dim; j++) {
      const nuisance = j >= dim / 2 ? 2.5 * rng.normal() : 0;
      out[at + j] = centres[cls][j] + offset[j] + nuisance + 0.6 * rng.normal();
    }
  };
}

/** Balanced labelled pairs: half share a class (target +1), half do not (target -1). */
function makePairs(
  rng: Rng,
  sample: ReturnType<typeof makeWorld>,
  n: number,
  dim: number,
  classes: number,
): PairData {
  const a = new Float32Array(n * dim);
  const b = new Float32Array(n * dim);
  const targets = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const c = rng.int(classes);
    const same = i % 2 === 0;
    const d = same ? c : (c + 1 + rng.int(classes - 1)) % classes;
    sample(c, a, i * dim);
    sample(d, b, i * dim);
    targets[i] = same ? 1 : -1;
  }
  return { a, b, rows: n, cols: dim, targets };
}

async function scores(kit: CosineKit, enc: Encoder, p: PairData): Promise<Float32Array> {
  const ea = await enc.embed(kit, new Tensor(p.a, p.rows, p.cols));
  const eb = await enc.embed(kit, new Tensor(p.b, p.rows, p.cols));
  return kit.cosineRows(ea, eb);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(usage('node dist/adapter.js', defaults));
    return;
  }
  const flags = parseFlags(argv, defaults, {
    dim: { int: true, min: 2, max: 4096 },
    // Two classes at least: with one, every "different-class" pair is the same class labelled -1.
    classes: { int: true, min: 2, max: 1000 },
    pairs: { int: true, min: 10, max: 1_000_000 },
    epochs: { int: true, min: 1, max: 10_000 },
    lr: { above: 0, max: 10 },
    seed: { int: true, min: 0, max: 2 ** 32 - 1 },
  });
  let loaded = await loadBackend(flags.backend);
  if (!('kit' in loaded)) {
    console.log(`[${flags.backend}] not available, using 'reference': ${loaded.reason}`);
    loaded = await loadBackend('reference');
    if (!('kit' in loaded)) throw new Error(loaded.reason);
  }
  const { kit, info } = loaded;
  const rng = createRng(flags.seed);
  const sample = makeWorld(rng, flags.dim, flags.classes);
  const trainPairs = makePairs(rng, sample, flags.pairs, flags.dim, flags.classes);
  const testPairs = makePairs(rng, sample, flags.pairs, flags.dim, flags.classes);

  const adapter = createEncoder({
    inputs: flags.dim,
    layers: [{ units: flags.dim, bias: false, init: 'identity' }],
    seed: flags.seed,
  });
  const report = async (when: string) => {
    const s = await scores(kit, adapter, testPairs);
    const acc = pairAccuracy(s, testPairs.targets);
    const auc = rocAuc(s, testPairs.targets);
    console.log(
      `  ${when.padEnd(22)} pair accuracy ${(100 * acc.accuracy).toFixed(1)}% (threshold ${acc.threshold.toFixed(3)}), ROC-AUC ${auc.toFixed(3)}`,
    );
    return acc.accuracy;
  };
  console.log(
    `Linear adapter on ${flags.dim}-d embeddings, ${flags.classes} classes, ${flags.pairs} training pairs; ` +
      `backend '${info.backend}' (matmul on '${info.providers.matmul}'); held-out pairs:`,
  );
  const before = await report('before (identity W)');
  const result = await train({
    kernels: kit,
    encoder: adapter,
    loss: mseSimilarityLoss(),
    sampler: fixedPairSampler(trainPairs, { batchSize: 100 }),
    optimizer: adam({ learningRate: flags.lr }),
    epochs: flags.epochs,
    seed: flags.seed,
  });
  const h = result.history;
  console.log(
    `  MSE loss ${h[0].loss.toFixed(4)} (epoch 1) -> ${h[h.length - 1].loss.toFixed(4)} (epoch ${h.length})`,
  );
  const after = await report('after (trained W)');
  console.log(`Adapter ${after > before ? 'improves' : 'does NOT improve'} pair accuracy.`);
  if (after <= before) process.exitCode = 1;
  kit.dispose();
}

run('adapter', main);
