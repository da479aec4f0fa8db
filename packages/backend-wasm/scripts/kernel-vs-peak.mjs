// The dot-product driver (`dotsWith`; with its touch pass for a mode `touch[:<blockKiB>]`; or
// `dotsBlockedWith` for a mode `b:<steps|all>:<streams>`) of
// one or more builds of this package's plain-SIMD binary, as a share of the wasm mul+add peak
// measured in the same process between its calls (the roofline's peak kernel, apps/bench), so that
// a machine shared with other work (other processes on the cores, a clock that drops with load)
// slows the peak and the kernel alike and the share stays comparable; the roofline measures the
// peak once, at another moment. CPU time per call (process.cpuUsage), medians of `reps`; a run
// whose CPU time exceeds its wall time (another thread of the process busy) is marked. Every
// build and mode must give the same bits (checked); the first is checked against float64.
//   node scripts/kernel-vs-peak.mjs <dist>[,<dist>...] ['QxNxd,...'] [reps] [plain,plain:<blockKiB>,touch,b:all:2,...]
// VARIANT=relaxed (with node --experimental-wasm-relaxed-simd) runs the relaxed binary's default
// 3x3 tile against the relaxed-FMA peak instead. Needs apps/bench built (its peak module).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { random } from './random.mjs';

if (!process.argv[2]) {
  console.error(
    "usage: node scripts/kernel-vs-peak.mjs <dist>[,<dist>...] ['QxNxd,...'] [reps] [plain,plain:<blockKiB>,touch,b:all:2,...]\n" +
      '  build directories such as dist (taken from this package when they are not ones from here)',
  );
  process.exit(2);
}
const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
const dirs = process.argv[2].split(',').map((d) => (existsSync(d) ? d : join(pkg, d)));
const shapes = (process.argv[3] ?? '8x20000x384,64x10000x384')
  .split(',')
  .map((s) => s.split('x').map(Number));
const reps = Number(process.argv[4] ?? 9);
const modes = (process.argv[5] ?? 'plain').split(',');
const { peakModuleBytes, FMA_FLOPS_PER_ITER, MULADD_FLOPS_PER_ITER, TILE_FLOPS_PER_ITER } = await import(
  new URL('../../../apps/bench/dist/roofline.js', import.meta.url).href
);
const relaxed = process.env.VARIANT === 'relaxed';
const peak = (await WebAssembly.instantiate(peakModuleBytes(relaxed), {})).instance.exports;
const PEAK_ITERS = 200000;
const [config, R, P] = relaxed ? [1, 3, 3] : [0, 4, 2];
const al = (x) => Math.ceil(x / 64) * 64;
/** CPU time of all this process's threads while `f` runs, in ms; `busy` gets its ratio to wall time. */
const cpu = (f, busy) => {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  f();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  busy?.push((c.user + c.system) / 1000 / wall);
  return (c.user + c.system) / 1000;
};
const median = (x) => [...x].sort((p, q) => p - q)[x.length >> 1];
const builds = [];
for (const dir of dirs) {
  const { instance } = await WebAssembly.instantiate(
    readFileSync(join(dir, relaxed ? 'cosinekit-relaxed.wasm' : 'cosinekit-simd.wasm')),
  );
  builds.push(instance.exports);
}
for (const [m, n, d] of shapes) {
  const steps = Math.ceil(d / 4);
  const rowBytes = steps * 16;
  const qs = random(m * d, 3);
  const xs = random(n * d, 5);
  const runs = [];
  for (const [bi, ex] of builds.entries()) {
    const src = al(ex.heapBase());
    const a = al(src + Math.max(m, n) * d * 4);
    const b = al(a + m * rowBytes);
    const out = al(b + Math.ceil(n / P) * P * rowBytes);
    const need = out + m * n * 4 + 64 - ex.memory.buffer.byteLength;
    if (need > 0) ex.memory.grow(Math.ceil(need / 65536) + 1);
    new Float32Array(ex.memory.buffer, src, m * d).set(qs);
    const split = m - (m % R);
    ex.pack(src, split, d, d, a, R, 1);
    ex.pack(src + split * d * 4, m - split, d, d, a + split * rowBytes, 1, 1);
    new Float32Array(ex.memory.buffer, src, n * d).set(xs);
    ex.pack(src, n, d, d, b, P, 1);
    for (const mode of modes) {
      const [kind, arg, streams] = mode.split(':');
      const kib = (kind === 'plain' || kind === 'touch') && arg !== undefined ? Number(arg) : 96;
      const nbp = Math.max(1, Math.floor((kib * 1024) / (rowBytes * P)));
      const run =
        kind === 'plain' || kind === 'touch'
          ? () => ex.dotsWith(config, a, m, b, n, steps, out, n * 4, 1, nbp, steps, 0, kind === 'touch')
          : () =>
              ex.dotsBlockedWith(
                config,
                a,
                m,
                b,
                n,
                steps,
                out,
                n * 4,
                1,
                nbp,
                arg === 'all' ? steps : Number(arg),
                Number(streams),
              );
      runs.push({
        name: `${bi}/${mode}`,
        run,
        scores: () => new Float32Array(ex.memory.buffer, out, m * n).slice(),
      });
    }
  }
  // Bits: every run the same; the first within 1e-6 of float64 cosines (the rows are normalised).
  let first;
  for (const r of runs) {
    r.run();
    const s = r.scores();
    if (first === undefined) {
      first = s;
      let worst = 0;
      const norm = (x, i) => Math.hypot(...x.subarray(i * d, (i + 1) * d));
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j += Math.max(1, n >> 8)) {
          let dot = 0;
          for (let t = 0; t < d; t++) dot += qs[i * d + t] * xs[j * d + t];
          const want = Math.max(-1, Math.min(1, dot / (norm(qs, i) * norm(xs, j))));
          worst = Math.max(worst, Math.abs(s[i * n + j] - want));
        }
      }
      if (!(worst <= 1e-6)) throw new Error(`${m}x${n}x${d}: ${r.name} is ${worst} from float64`);
    } else {
      for (let t = 0; t < s.length; t++) {
        if (s[t] !== first[t]) throw new Error(`${m}x${n}x${d}: ${r.name} differs at ${t}`);
      }
    }
  }
  const peaks = [];
  const rates = runs.map(() => []);
  // The kernels run on this thread alone, so CPU time above wall time is another thread of this
  // process at work at the same moment (V8's compiler or collector): its time counts as the
  // kernel's. Such a run is marked. (A shape measured right after the memory grew for it can also
  // run at half its rate on this thread alone, for some seconds; measure a shape twice, or first.)
  const busy = runs.map(() => []);
  for (let k = 0; k < reps; k++) {
    // The roofline's mul+add peak: the better of its register-chain and outer-product kernels.
    const chains = (PEAK_ITERS * MULADD_FLOPS_PER_ITER) / cpu(() => peak.muladd(PEAK_ITERS, 1, 0)) / 1e6;
    const tile = (PEAK_ITERS * 2 * TILE_FLOPS_PER_ITER) / cpu(() => peak.tile(PEAK_ITERS * 2, 1, 0)) / 1e6;
    const fma = relaxed ? (PEAK_ITERS * FMA_FLOPS_PER_ITER) / cpu(() => peak.fma(PEAK_ITERS, 1, 0)) / 1e6 : 0;
    peaks.push(relaxed ? fma : Math.max(chains, tile));
    for (const [i, r] of runs.entries()) rates[i].push((2 * m * n * d) / cpu(r.run, busy[i]) / 1e6);
  }
  const pk = median(peaks);
  console.log(
    `${m}x${n}x${d}: peak ${pk.toFixed(1)} GFLOP/s | ` +
      runs
        .map(
          (r, i) =>
            `${r.name} ${median(rates[i]).toFixed(1)} (${((100 * median(rates[i])) / pk).toFixed(0)}%)` +
            (median(busy[i]) > 1.1 ? ` [other threads busy: CPU ${median(busy[i]).toFixed(2)}x wall]` : ''),
        )
        .join(' | '),
  );
}
