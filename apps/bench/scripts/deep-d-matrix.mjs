// Where a many-query similarity matrix's time goes, one thread: `cosineMatrix` of two builds of
// @cosinekit/backend-wasm (new result each call; and into a caller's `out`, reused), calls
// interleaved round by round, best and median CPU time (process.cpuUsage). Both builds' results
// must be bit-identical.
//   node apps/bench/scripts/deep-d-matrix.mjs Q N d [reps] distA [distB]
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { random } from './random.mjs';

const require = createRequire(import.meta.url);
const [Q, N, d] = process.argv.slice(2, 5).map(Number);
const reps = Number(process.argv[5] ?? 5);
const dirs = process.argv.slice(6);
const core = await import(require.resolve('@cosinekit/core'));
const a = new core.Tensor(random(Q * d, 9), Q, d);
const b = new core.Tensor(random(N * d, 7), N, d);
const calls = [];
const firsts = [];
for (const [n, dir] of dirs.entries()) {
  const pkg = await import(pathToFileURL(resolve(dir, 'index.js')).href);
  const wasm = { simd: readFileSync(resolve(dir, 'cosinekit-simd.wasm')) };
  const backend = pkg.createWasmBackend({ threads: 1, variant: 'simd', wasm });
  await backend.init();
  const out = new Float32Array(Q * N);
  firsts.push(backend.kernels.cosineMatrix(a, b));
  calls.push({ name: `${'AB'[n]} new result`, call: () => backend.kernels.cosineMatrix(a, b) });
  calls.push({ name: `${'AB'[n]} into out`, call: () => backend.kernels.cosineMatrix(a, b, out) });
}
if (firsts.length === 2) {
  for (let t = 0; t < firsts[0].length; t++)
    if (firsts[0][t] !== firsts[1][t]) throw new Error(`A and B differ at ${t}`);
}
const cpu = calls.map(() => []);
for (let r = 0; r < reps; r++) {
  calls.forEach((x, i) => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    x.call();
    const wall = performance.now() - t0;
    const c = process.cpuUsage(c0);
    cpu[i].push({ ms: (c.user + c.system) / 1000, sys: c.system / 1000, wall });
  });
}
const flops = 2 * Q * N * d;
console.log(
  `${Q}x${N}x${d}, 1 thread, ${reps} interleaved rounds (CPU time of all threads, GC included; sys = kernel time, page faults; and wall time)`,
);
calls.forEach((x, i) => {
  const s = cpu[i].map((v) => v.ms).sort((p, q) => p - q);
  const best = s[0];
  const med = s[s.length >> 1];
  const sys = Math.min(...cpu[i].map((v) => v.sys));
  const wall = Math.min(...cpu[i].map((v) => v.wall));
  console.log(
    `  ${x.name}: best ${best.toFixed(1)} ms (${(flops / best / 1e6).toFixed(1)} GFLOP/s), median ${med.toFixed(1)} ms (${(flops / med / 1e6).toFixed(1)}), min sys ${sys.toFixed(1)} ms; best wall ${wall.toFixed(1)} ms (${(flops / wall / 1e6).toFixed(1)})`,
  );
});
