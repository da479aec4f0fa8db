// The dot-product driver (`dotsWith`) of two builds of this package's single-thread binary, A and
// B, on the same data, calls interleaved (A, B, A, B, ...) so both see the same machine: best wall
// time and best CPU time per call (process.cpuUsage, less sensitive to other processes on a busy
// machine), and B's speed-up. Scores of A and B are compared (max difference).
//   node scripts/kernel-ab.mjs <distA> <distB> [simd|relaxed] ['QxNxd,...'] [reps]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { random } from './random.mjs';

const [dirA, dirB] = process.argv.slice(2, 4);
const variant = process.argv[4] ?? 'simd';
const shapes = (process.argv[5] ?? '2x200000x384,3x200000x384')
  .split(',')
  .map((s) => s.split('x').map(Number));
const reps = Number(process.argv[6] ?? 15);
if (variant === 'relaxed') (await import('node:v8')).setFlagsFromString('--experimental-wasm-relaxed-simd');
// The default tile of each binary (src/tuning.ts): driver index, query rows and corpus rows per panel.
const [config, R, P] = variant === 'relaxed' ? [1, 3, 3] : [0, 4, 2];

const al = (x) => Math.ceil(x / 64) * 64;
async function load(dir) {
  const { instance } = await WebAssembly.instantiate(readFileSync(join(dir, `cosinekit-${variant}.wasm`)));
  return instance.exports;
}
const builds = [await load(dirA), await load(dirB)];
for (const [m, n, d] of shapes) {
  const steps = Math.ceil(d / 4);
  const rowBytes = steps * 16;
  const qs = random(m * d, 3);
  const xs = random(n * d, 5);
  const runs = builds.map((ex) => {
    const src = al(ex.heapBase());
    const a = al(src + Math.max(m, n) * d * 4);
    const b = al(a + m * rowBytes);
    const out = al(b + Math.ceil(n / P) * P * rowBytes);
    const end = out + m * n * 4 + 64;
    const need = end - ex.memory.buffer.byteLength;
    if (need > 0) ex.memory.grow(Math.ceil(need / 65536) + 1);
    new Float32Array(ex.memory.buffer, src, m * d).set(qs);
    const split = m - (m % R);
    ex.pack(src, split, d, d, a, R, 1);
    ex.pack(src + split * d * 4, m - split, d, d, a + split * rowBytes, 1, 1);
    new Float32Array(ex.memory.buffer, src, n * d).set(xs);
    ex.pack(src, n, d, d, b, P, 1);
    const nbp = Math.max(1, Math.floor((96 * 1024) / (rowBytes * P)));
    const run = () => ex.dotsWith(config, a, m, b, n, steps, out, n * 4, 1, nbp, steps, 0, false);
    run();
    return { run, scores: () => new Float32Array(ex.memory.buffer, out, m * n) };
  });
  const [sa, sb] = runs.map((r) => r.scores());
  let diff = 0;
  for (let t = 0; t < sa.length; t++) diff = Math.max(diff, Math.abs(sa[t] - sb[t]));
  const wall = [Infinity, Infinity];
  const cpu = [Infinity, Infinity];
  for (let r = 0; r < reps; r++) {
    runs.forEach((x, i) => {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      x.run();
      wall[i] = Math.min(wall[i], performance.now() - t0);
      const c = process.cpuUsage(c0);
      cpu[i] = Math.min(cpu[i], (c.user + c.system) / 1000);
    });
  }
  const gf = (ms) => ((2 * m * n * d) / ms / 1e6).toFixed(1);
  console.log(
    `${variant} ${m}x${n}x${d}: A wall ${wall[0].toFixed(2)} ms, cpu ${cpu[0].toFixed(2)} ms (${gf(cpu[0])} GFLOP/s); ` +
      `B wall ${wall[1].toFixed(2)} ms, cpu ${cpu[1].toFixed(2)} ms (${gf(cpu[1])} GFLOP/s); ` +
      `B/A speed-up: wall ${(wall[0] / wall[1]).toFixed(2)}x, cpu ${(cpu[0] / cpu[1]).toFixed(2)}x; max |A-B| ${diff.toExponential(1)}`,
  );
}
