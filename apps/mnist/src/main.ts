/**
 * DLCS end to end on MNIST digits: train a cosine encoder (784 -> 256 relu -> 64, normalised) on
 * each backend, then compare cosine k-NN accuracy and recall@1 of held-out digits on raw pixels
 * with those on the learned embedding, report training time per epoch per backend, and save the
 * model. Run: `pnpm mnist` from the repository root (flags: `pnpm mnist --help`).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { loadEncoder, saveEncoder } from '@cosinekit/nn';
import { parseFlags, usage } from './args.js';
import { loadBackend } from './backends.js';
import { loadDigits } from './data.js';
import { embeddingQuality, type Quality, rawQuality, trainDigitEncoder } from './experiment.js';

const defaults = {
  backends: 'reference,wasm',
  epochs: 6,
  train: 500,
  validation: 30,
  test: 100,
  hidden: 256,
  dim: 64,
  batch: 64,
  lr: 0.001,
  k: 5,
  patience: 2,
  seed: 1,
  out: 'out/mnist-encoder.cknn',
};

const pct = (v: number): string => `${(100 * v).toFixed(1)}%`;

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(usage('node dist/main.js', defaults));
    console.log('  --train/--validation/--test are digits per class (the package has ~860-1130 per class).');
    return;
  }
  const flags = parseFlags(argv, defaults);
  const options = {
    hidden: flags.hidden,
    dim: flags.dim,
    epochs: flags.epochs,
    batchSize: flags.batch,
    learningRate: flags.lr,
    seed: flags.seed,
    k: flags.k,
    patience: flags.patience,
  };

  const {
    train: trainSet,
    validation,
    test,
  } = loadDigits(flags.train, flags.validation, flags.test, flags.seed);
  console.log(
    `MNIST: ${trainSet.rows} training, ${validation.rows} validation, ${test.rows} test digits; ` +
      `encoder 784 -> ${flags.hidden} (relu) -> ${flags.dim}, normalised; seed ${flags.seed}`,
  );

  const rows: { backend: string; perEpoch: number; epochs: number; loss: number; quality: Quality }[] = [];
  let raw: Quality | undefined;
  let saved = false;
  for (const name of flags.backends.split(',').map((s) => s.trim())) {
    const loaded = await loadBackend(name);
    if (!('kit' in loaded)) {
      console.log(`\n[${name}] not available, skipped: ${loaded.reason}`);
      continue;
    }
    const { kit, info } = loaded;
    const matmulBy = info.providers.matmul;
    const details = Object.entries(info.details)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    console.log(
      `\n[${name}] backend '${info.backend}', matmul on '${matmulBy}'${details ? ` (${details})` : ''}`,
    );
    raw ??= await rawQuality(kit, trainSet, test, flags.k);
    const { encoder, result } = await trainDigitEncoder(
      kit,
      { train: trainSet, validation },
      { ...options, progress: name },
    );
    const trained = result.history;
    const perEpoch = trained.reduce((s, h) => s + h.seconds, 0) / trained.length;
    const quality = await embeddingQuality(kit, encoder, trainSet, test, flags.k);
    rows.push({
      backend: name,
      perEpoch,
      epochs: trained.length,
      loss: trained[trained.length - 1].loss,
      quality,
    });
    console.log(
      `[${name}] losses ${trained.map((h) => h.loss.toFixed(4)).join(' ')}; best epoch ${result.bestEpoch + 1}` +
        `${result.stoppedEarly ? ' (stopped early)' : ''}`,
    );
    if (!saved) {
      const bytes = saveEncoder(encoder, { dataset: 'mnist', backend: name, seed: flags.seed });
      const path = resolve(flags.out);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, bytes);
      const back = loadEncoder(bytes);
      const same =
        (await embeddingQuality(kit, back, trainSet, test, flags.k)).knnAccuracy === quality.knnAccuracy;
      console.log(
        `[${name}] saved ${bytes.length} bytes to ${path} (reloaded: ${same ? 'same' : 'DIFFERENT'} accuracy)`,
      );
      saved = true;
    }
    kit.dispose();
  }
  if (!raw || rows.length === 0) {
    console.log('\nNo backend was available.');
    process.exitCode = 1;
    return;
  }

  console.log(`\nHeld-out digits (${test.rows}) against the training digits, cosine similarity:`);
  console.log(`  ${'features'.padEnd(28)} ${`${flags.k}-NN acc`.padStart(9)} ${'recall@1'.padStart(9)}`);
  console.log(
    `  ${'raw pixels (784)'.padEnd(28)} ${pct(raw.knnAccuracy).padStart(9)} ${pct(raw.recallAt1).padStart(9)}`,
  );
  for (const r of rows) {
    const label = `learned (${flags.dim}), ${r.backend}`;
    console.log(
      `  ${label.padEnd(28)} ${pct(r.quality.knnAccuracy).padStart(9)} ${pct(r.quality.recallAt1).padStart(9)}`,
    );
  }
  console.log('\nTraining time per epoch:');
  const base = rows.find((r) => r.backend === 'reference');
  for (const r of rows) {
    const ratio = base && r !== base ? `  (${(base.perEpoch / r.perEpoch).toFixed(2)}x reference)` : '';
    console.log(
      `  ${r.backend.padEnd(10)} ${r.perEpoch.toFixed(2).padStart(7)} s/epoch over ${r.epochs} epochs, final loss ${r.loss.toFixed(4)}${ratio}`,
    );
  }
  const best = rows[0].quality;
  const beats = best.knnAccuracy > raw.knnAccuracy;
  console.log(`\nLearned embedding ${beats ? 'beats' : 'does NOT beat'} raw pixels on held-out digits.`);
  if (!beats) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
