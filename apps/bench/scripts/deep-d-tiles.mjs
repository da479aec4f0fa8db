// Diagnosis of the few-query dot-product kernel at large d (one thread, no selection): the same
// binary's driver (`dotsWith`) on the same data with different register tiles and corpus blocks,
// calls interleaved round by round, best CPU time per call (process.cpuUsage) and GFLOP/s.
// Every variant's scores are compared with the first's (they must be bit-identical: each dot is
// the same lane-wise sum whatever the tile).
//   node apps/bench/scripts/deep-d-tiles.mjs <dist> ['QxNxd,...'] [reps] ['config:R:P:blockKiB,...']
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packRows } from './pack.mjs';
import { random } from './random.mjs';

const dir = process.argv[2];
const shapes = (process.argv[3] ?? '8x10000x3072').split(',').map((s) => s.split('x').map(Number));
const reps = Number(process.argv[4] ?? 7);
const variants = (process.argv[5] ?? '0:4:2:96,4:2:2:96,0:4:2:48,0:4:2:192')
  .split(',')
  .map((s) => s.split(':').map(Number));
const al = (x) => Math.ceil(x / 64) * 64;
const variant = process.env.VARIANT ?? 'simd';
if (variant === 'relaxed') (await import('node:v8')).setFlagsFromString('--experimental-wasm-relaxed-simd');
const { instance } = await WebAssembly.instantiate(readFileSync(join(dir, `cosinekit-${variant}.wasm`)));
const ex = instance.exports;
for (const [m, n, d] of shapes) {
  const steps = Math.ceil(d / 4);
  const rowBytes = steps * 16;
  const qs = random(m * d, 3);
  const xs = random(n * d, 5);
  // Unpacked rows are staged in a region of their own, then each variant packs into its own.
  const src = al(ex.memory.buffer.byteLength);
  ex.memory.grow(Math.ceil((Math.max(m, n) * d * 4 + 128) / 65536) + 1);
  const runs = variants.map(([config, R, P, kib]) => {
    const base = al(ex.memory.buffer.byteLength);
    const a = base;
    const b = al(a + m * rowBytes);
    const out = al(b + Math.ceil(n / P) * P * rowBytes);
    const end = out + m * n * 4 + 64;
    const need = end - ex.memory.buffer.byteLength;
    if (need > 0) ex.memory.grow(Math.ceil(need / 65536) + 1);
    packRows(ex, src, qs, m, xs, n, d, a, R, b, P);
    const nbp = Math.max(1, Math.floor((kib * 1024) / (rowBytes * P)));
    const run = () => ex.dotsWith(config, a, m, b, n, steps, out, n * 4, 1, nbp, steps, 0, false);
    run();
    return { name: `cfg${config}(${R}x${P}) block ${kib} KiB`, run, out };
  });
  const ref = new Float32Array(ex.memory.buffer, runs[0].out, m * n).slice();
  const cpu = runs.map(() => Infinity);
  for (let r = 0; r < reps; r++) {
    runs.forEach((x, i) => {
      const c0 = process.cpuUsage();
      x.run();
      const c = process.cpuUsage(c0);
      cpu[i] = Math.min(cpu[i], (c.user + c.system) / 1000);
    });
  }
  runs.forEach((x, i) => {
    const s = new Float32Array(ex.memory.buffer, x.out, m * n);
    let same = true;
    for (let t = 0; t < s.length; t++)
      if (s[t] !== ref[t]) {
        same = false;
        break;
      }
    console.log(
      `${m}x${n}x${d} ${x.name}: cpu ${cpu[i].toFixed(2)} ms, ${((2 * m * n * d) / cpu[i] / 1e6).toFixed(1)} GFLOP/s, ` +
        `${(cpu[0] / cpu[i]).toFixed(2)}x first, bit-identical ${same}`,
    );
  });
}
