// The d-blocked driver (`dotsBlockedWith`) against the undivided one (`dotsWith`) in the same
// binary, one thread, on the same packed data: calls interleaved round by round, median and best
// CPU time (process.cpuUsage), GFLOP/s. Every variant's scores must be bit-identical to the
// undivided driver's, and those are checked against float64 (max abs error).
//   node apps/bench/scripts/deep-d-blocks.mjs <dist> ['QxNxd,...'] [reps] ['kb:window,...' (0: undivided)]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packRows } from './pack.mjs';
import { random } from './random.mjs';

const dir = process.argv[2];
const shapes = (process.argv[3] ?? '8x10000x3072').split(',').map((s) => s.split('x').map(Number));
const reps = Number(process.argv[4] ?? 7);
/** Calls per timed sample (small shapes). */
const inner = Number(process.env.INNER ?? 1);
const kbs = (process.argv[5] ?? '0,64:4,128:4,256:2').split(',').map((s) => s.split(':').map(Number));
const al = (x) => Math.ceil(x / 64) * 64;
const { instance } = await WebAssembly.instantiate(readFileSync(join(dir, 'cosinekit-simd.wasm')));
const ex = instance.exports;
const [R, P, config] = (process.env.CFG ?? '4,2,0').split(',').map(Number);
const nbp = (rowBytes) => Math.max(1, Math.floor((96 * 1024) / (rowBytes * P)));
const med = (v) => [...v].sort((x, y) => x - y)[v.length >> 1];
for (const [m, n, d] of shapes) {
  const steps = Math.ceil(d / 4);
  const rowBytes = steps * 16;
  const qs = random(m * d, 3);
  const xs = random(n * d, 5);
  const base = al(Math.max(ex.heapBase(), 0));
  const src = base;
  const a = al(src + Math.max(m, n) * d * 4);
  const b = al(a + m * rowBytes);
  const outs = kbs.map((_, i) => al(b + Math.ceil(n / P) * P * rowBytes) + i * al(m * n * 4 + 64));
  const end = outs[outs.length - 1] + m * n * 4 + 64;
  if (end > ex.memory.buffer.byteLength)
    ex.memory.grow(Math.ceil((end - ex.memory.buffer.byteLength) / 65536));
  packRows(ex, src, qs, m, xs, n, d, a, R, b, P);
  const runs = kbs.map((kb, i) => ({
    name: kb[0] === 0 ? 'undivided' : `kb ${kb[0]} steps, window ${kb[1]} panels`,
    run:
      kb[0] === 0
        ? () => ex.dotsWith(config, a, m, b, n, steps, outs[i], n * 4, 1, nbp(rowBytes), steps, 0, false)
        : () => ex.dotsBlockedWith(config, a, m, b, n, steps, outs[i], n * 4, 1, nbp(rowBytes), kb[0], kb[1]),
  }));
  for (const x of runs) x.run();
  const ref = new Float32Array(ex.memory.buffer, outs[0], m * n).slice();
  // float64 reference on a sample of outputs (normalised rows).
  const norm = (v, o) => {
    let s = 0;
    for (let t = 0; t < d; t++) s += v[o + t] * v[o + t];
    return Math.sqrt(s);
  };
  let maxErr = 0;
  for (let i = 0; i < m; i++) {
    const nq = norm(qs, i * d);
    for (let j = 0; j < n; j += Math.max(1, Math.floor(n / 97))) {
      let s = 0;
      for (let t = 0; t < d; t++) s += qs[i * d + t] * xs[j * d + t];
      const c = Math.max(-1, Math.min(1, s / nq / norm(xs, j * d)));
      maxErr = Math.max(maxErr, Math.abs(c - ref[i * n + j]));
    }
  }
  const cpu = runs.map(() => []);
  for (let r = 0; r < reps; r++) {
    runs.forEach((x, i) => {
      const c0 = process.cpuUsage();
      for (let t = 0; t < inner; t++) x.run();
      const c = process.cpuUsage(c0);
      cpu[i].push((c.user + c.system) / 1000 / inner);
    });
  }
  const flops = 2 * m * n * d;
  runs.forEach((x, i) => {
    const s = new Float32Array(ex.memory.buffer, outs[i], m * n);
    let same = true;
    for (let t = 0; t < s.length; t++)
      if (!Object.is(s[t], ref[t])) {
        same = false;
        break;
      }
    const md = med(cpu[i]);
    console.log(
      `${m}x${n}x${d} ${x.name}: median ${md.toFixed(2)} ms ${(flops / md / 1e6).toFixed(1)} GFLOP/s, best ${(flops / Math.min(...cpu[i]) / 1e6).toFixed(1)}; ` +
        `${(med(cpu[0]) / md).toFixed(2)}x undivided; bit-identical ${same}; max |err| vs float64 ${maxErr.toExponential(1)}`,
    );
  });
}
