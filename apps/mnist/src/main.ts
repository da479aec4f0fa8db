/**
 * DLCS on MNIST digits, three recipes side by side on one backend: an MLP and a small CNN trained
 * with InfoNCE (cosine 1-NN of held-out digits against the training digits), and the same CNN
 * with a cosine classifier head (CosFace). All 10,000 digits of the `mnist` package, split 80/20
 * per digit. Reports accuracy and seconds per epoch, saves the CNN classifier's encoder and checks
 * it reloads bit for bit. Run: `pnpm mnist` from the repository root (`pnpm mnist --help`).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Tensor } from '@cosinekit/core';
import { loadEncoder, saveEncoder } from '@cosinekit/nn';
import { parseFlags, run, UsageError, unwritable, usage } from './args.js';
import { loadBackend } from './backends.js';
import { splitDigits } from './data.js';
import { type ModelKind, type ModelReport, trainModel } from './models.js';

const defaults = {
  backend: 'wasm',
  models: 'mlp,cnn,classifier',
  epochs: 10,
  batch: 128,
  lr: 0.002,
  schedule: 'cosine',
  shift: 2,
  split: 0.8,
  seed: 1,
  out: 'out/mnist-cnn-classifier.cknn',
};

const pct = (v: number): string => `${(100 * v).toFixed(2)}%`;

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(usage('node dist/main.js', defaults));
    console.log(
      "  --models is a comma list of mlp, cnn, classifier; --shift is the CNN recipes' random shift in pixels;\n" +
        '  --schedule cosine warms Adam up to --lr over the first epoch, then decays it to 0 by the last step; constant keeps --lr.',
    );
    return;
  }
  // Every flag checked before the digits load: the library's own errors named its arguments, not
  // the flags, and --out failed only after training.
  const flags = parseFlags(argv, defaults, {
    epochs: { int: true, min: 1, max: 10_000 },
    batch: { int: true, min: 2, max: 8000 },
    lr: { above: 0, max: 10 },
    schedule: { choices: ['cosine', 'constant'] },
    // The backends this app can make (see loadBackend): another name failed after loading.
    backend: { choices: ['wasm', 'reference'] },
    shift: { int: true, min: 0, max: 14 },
    split: { above: 0, below: 1 },
    seed: { int: true, min: 0, max: 2 ** 32 - 1 },
  });
  const models = flags.models.split(',').map((s) => s.trim()) as ModelKind[];
  for (const m of models) {
    if (!['mlp', 'cnn', 'classifier'].includes(m))
      throw new UsageError(`Flag '--models' names an unknown model '${m}' (mlp, cnn, classifier).`);
  }
  if (new Set(models).size !== models.length)
    throw new UsageError(`Flag '--models' names a model twice: '${flags.models}'.`);
  const where = unwritable(flags.out);
  if (where) throw new UsageError(`Flag '--out' ${where}: '${flags.out}'.`);
  const { train, test } = splitDigits(flags.split, flags.seed);
  if (train.rows < flags.batch || test.rows < 1)
    throw new UsageError(
      `Flag '--split' leaves ${train.rows} training and ${test.rows} held-out digits; --batch ${flags.batch} needs at least that many training digits and one held out.`,
    );
  const loaded = await loadBackend(flags.backend);
  if (!('kit' in loaded))
    throw new Error(`backend '${flags.backend}' (--backend) is not available: ${loaded.reason}`);
  const { kit, info } = loaded;
  console.log(
    `MNIST (the mnist package): ${train.rows} training and ${test.rows} held-out digits (${+(100 * flags.split).toFixed(2)}/${+(100 - 100 * flags.split).toFixed(2)} per digit), ` +
      `seed ${flags.seed}; backend '${info.backend}' (matmul on '${info.providers.matmul}'); ` +
      `${flags.epochs} epochs, batch ${flags.batch}, Adam ${flags.lr} (${flags.schedule === 'cosine' ? 'cosine schedule, one warm-up epoch' : 'constant'})`,
  );
  const reports: ModelReport[] = [];
  for (const kind of models) {
    const r = await trainModel(kit, kind, train, test, {
      epochs: flags.epochs,
      batchSize: flags.batch,
      learningRate: flags.lr,
      schedule: flags.schedule as 'cosine' | 'constant',
      seed: flags.seed,
      shift: flags.shift,
      progress: kind,
    });
    reports.push(r);
    console.log(
      `[${kind}] 1-NN ${pct(r.nearestNeighbour)}` +
        (r.classifierAccuracy === undefined ? '' : `, classifier ${pct(r.classifierAccuracy)}`) +
        `, ${r.secondsPerEpoch.toFixed(2)} s/epoch`,
    );
    if (kind === 'classifier') {
      const bytes = saveEncoder(r.encoder, { dataset: 'mnist', recipe: 'cnn-cosface', seed: flags.seed });
      const path = resolve(flags.out);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, bytes);
      const back = loadEncoder(bytes);
      const probe = new Tensor(test.x.subarray(0, 64 * 784), 64, 784);
      const a = (await r.encoder.embed(kit, probe)).data;
      const b = (await back.embed(kit, probe)).data;
      const same = a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
      console.log(
        `[${kind}] saved ${bytes.length} bytes to ${path}; reloaded embeddings ${same ? 'bit for bit equal' : 'DIFFER'}`,
      );
      if (!same) process.exitCode = 1;
    }
  }
  kit.dispose();

  console.log(`\nHeld-out digits (${test.rows}), backend ${flags.backend}, seed ${flags.seed}:`);
  console.log(`| model | cosine 1-NN | cosine classifier | s/epoch (wall) | final loss |`);
  console.log(`| --- | ---: | ---: | ---: | ---: |`);
  for (const r of reports) {
    const clf = r.classifierAccuracy === undefined ? '-' : pct(r.classifierAccuracy);
    console.log(
      `| ${r.description} | ${pct(r.nearestNeighbour)} | ${clf} | ${r.secondsPerEpoch.toFixed(1)} | ${r.finalLoss.toFixed(4)} |`,
    );
  }
}

run('mnist', main);
