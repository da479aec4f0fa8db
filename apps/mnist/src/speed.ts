/**
 * CPU seconds per epoch of the same MLP training step in `@cosinekit/nn` (on a backend, wasm by
 * default) and in numpy (`scripts/numpy_step.py`, OpenBLAS pinned to one thread), interleaved
 * epoch by epoch in one run so both see the same machine load. The step: 784 -> 256 (relu) -> 64,
 * normalised; InfoNCE scale 20, same-digit rows masked; Adam 1e-3; batches of 128 pairs, the last
 * partial batch dropped; the 7,996 training digits of the 80/20 split. The wasm backend runs on one
 * thread (`--threads`), as OpenBLAS does here. `--inputs dense` replaces the digits' pixels (81%
 * zeros) by seeded uniform values in (0, 1], none zero, for the same step on dense inputs: what
 * is left once the first layer's products cannot skip zeros.
 * Run: `pnpm mnist:speed` from the repository root (`--help` for flags). Needs python3 with numpy.
 */
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { adam, createEncoder, inBatchSampler, multipleNegativesRankingLoss, train } from '@cosinekit/nn';
import { parseFlags, run, usage } from './args.js';
import { loadBackend } from './backends.js';
import { splitDigits } from './data.js';

const defaults = {
  backend: 'wasm',
  threads: 1,
  // 'relaxed' asks for the fused multiply-add build by name, which turns it on in Node 20's V8.
  variant: 'auto',
  rounds: 5,
  // Epochs each side runs before the counted rounds: V8 keeps compiling and re-optimising the
  // step's JavaScript on background threads through the first four or so epochs (60-130 ms of CPU
  // an epoch, about 10 ms once settled), so fewer warm-up epochs count start-up, not the step.
  warmup: 3,
  batch: 128,
  seed: 1,
  python: 'python3',
  inputs: 'mnist',
};

const median = (v: number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(usage('node dist/speed.js', defaults));
    return;
  }
  // Every flag checked before the numpy process starts: one refused after it kept Node alive.
  const flags = parseFlags(argv, defaults, {
    threads: { int: true, min: 1, max: 256 },
    variant: { choices: ['auto', 'simd', 'relaxed'] },
    rounds: { int: true, min: 1, max: 1000 },
    warmup: { int: true, min: 0, max: 100 },
    batch: { int: true, min: 2, max: 8000 },
    seed: { int: true, min: 0, max: 2 ** 32 - 1 },
    inputs: { choices: ['mnist', 'dense'] },
  });
  const { train: data } = splitDigits(0.8, flags.seed);
  if (flags.inputs === 'dense') {
    // xorshift32 from the seed: every pixel in (0, 1], so no product can skip a zero.
    let r = (flags.seed * 2654435761) >>> 0 || 1;
    for (let i = 0; i < data.x.length; i++) {
      r ^= r << 13;
      r ^= r >>> 17;
      r ^= r << 5;
      data.x[i] = ((r >>> 0) + 1) / 2 ** 32;
    }
  }
  let nonzero = 0;
  for (let i = 0; i < data.x.length; i++) if (data.x[i] !== 0) nonzero++;
  const dir = mkdtempSync(join(tmpdir(), 'cosinekit-speed-'));
  const xPath = join(dir, 'x.f32');
  const labelsPath = join(dir, 'labels.i32');
  writeFileSync(xPath, new Uint8Array(data.x.buffer, data.x.byteOffset, data.x.byteLength));
  const labels = Int32Array.from(data.labels);
  writeFileSync(labelsPath, new Uint8Array(labels.buffer));

  const script = join(dirname(fileURLToPath(import.meta.url)), '..', 'scripts', 'numpy_step.py');
  const py = spawn(flags.python, [script], {
    env: { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1' },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const spawned = new Promise<void>((ok, fail) => {
    py.once('spawn', ok);
    py.once('error', fail);
  });
  // A child that exits early (`--python /bin/false`) fails its pipe: the epoch's read says so.
  py.stdin.on('error', () => undefined);
  try {
    await spawned;
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`the numpy side (--python ${flags.python}) could not start: ${(err as Error).message}`);
  }
  try {
    await compare(py, xPath, labelsPath, data, nonzero, flags);
  } finally {
    // Whatever happened, the child goes and the temporary files with it (either kept the process
    // alive, or 25 MB in the temporary directory, after a failure).
    py.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The timed comparison, once the numpy process is up. */
async function compare(
  py: ChildProcessByStdio<Writable, Readable, null>,
  xPath: string,
  labelsPath: string,
  data: ReturnType<typeof splitDigits>['train'],
  nonzero: number,
  flags: typeof defaults,
): Promise<void> {
  const lines = createInterface({ input: py.stdout })[Symbol.asyncIterator]();
  const numpyEpoch = async (): Promise<{ cpu: number; loss: number }> => {
    py.stdin.write('epoch\n');
    const next = await lines.next();
    if (next.done) throw new Error('the numpy script stopped early (is numpy installed?)');
    return JSON.parse(next.value);
  };
  py.stdin.write(
    `${JSON.stringify({ x: xPath, labels: labelsPath, rows: data.rows, batch: flags.batch, seed: flags.seed })}\n`,
  );

  // One thread on both sides: the comparison is of single-thread CPU time.
  const loaded = await loadBackend(
    flags.backend,
    flags.threads,
    flags.variant as 'auto' | 'simd' | 'relaxed',
  );
  if (!('kit' in loaded)) throw new Error(`backend '${flags.backend}' not available: ${loaded.reason}`);
  const { kit } = loaded;
  const variantNote = loaded.info.details.variant ? ` (${loaded.info.details.variant})` : '';
  const encoder = createEncoder({
    inputs: 784,
    layers: [{ units: 256, activation: 'relu' }, { units: 64 }],
    normalize: true,
    seed: flags.seed,
  });
  const sampler = inBatchSampler(data, { batchSize: flags.batch, dropLast: true });
  const loss = multipleNegativesRankingLoss({ scale: 20 });
  const optimizer = adam({ learningRate: 1e-3 });
  const nnEpoch = async (seed: number): Promise<{ cpu: number; wall: number; loss: number }> => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const r = await train({ kernels: kit, encoder, loss, sampler, optimizer, epochs: 1, seed });
    const c = process.cpuUsage(c0);
    return { cpu: (c.user + c.system) / 1e6, wall: (performance.now() - t0) / 1000, loss: r.history[0].loss };
  };

  // Warm-up epochs each (JIT, BLAS and wasm start-up), not counted.
  for (let w = 0; w < flags.warmup; w++) {
    await numpyEpoch();
    await nnEpoch(-w);
  }
  const npCpu: number[] = [];
  const nnCpu: number[] = [];
  const nnWall: number[] = [];
  console.log(`round  numpy CPU s  ${flags.backend} CPU s  ${flags.backend} wall s  ratio`);
  for (let round = 1; round <= flags.rounds; round++) {
    const a = await numpyEpoch();
    const b = await nnEpoch(round);
    npCpu.push(a.cpu);
    nnCpu.push(b.cpu);
    nnWall.push(b.wall);
    console.log(
      `${String(round).padStart(5)}  ${a.cpu.toFixed(3).padStart(11)}  ${b.cpu.toFixed(3).padStart(10)}  ${b.wall.toFixed(3).padStart(11)}  ${(b.cpu / a.cpu).toFixed(2).padStart(5)}`,
    );
  }
  py.stdin.end();
  kit.dispose();
  const np = median(npCpu);
  const ours = median(nnCpu);
  console.log(
    `\nMedian CPU seconds per epoch (${data.rows} ${flags.inputs === 'dense' ? 'dense random rows' : 'digits'}, ${((100 * nonzero) / data.x.length).toFixed(0)}% of inputs non-zero, batch ${flags.batch}, ${Math.floor(data.rows / flags.batch)} steps, after ${flags.warmup} warm-up epochs each): ` +
      `numpy/OpenBLAS 1 thread ${np.toFixed(3)}, @cosinekit/nn on ${flags.backend}${variantNote} ${ours.toFixed(3)} ` +
      `(${(ours / np).toFixed(2)}x numpy; wall ${median(nnWall).toFixed(3)} s)`,
  );
}

run('speed', main);
