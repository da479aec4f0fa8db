// Interleaved A/B of builds of @cosinekit/backend-wasm through the public API, one thread (THREADS=n):
// a resident corpus's `corpusMatrix` (with SEARCH=k its top-k; with MATRIX=1 `cosineMatrix`,
// staging both operands per call) per shape, each variant a
// (dist, tuning) pair, calls interleaved round by round, median CPU time (process.cpuUsage).
// All variants must give bit-identical results; the first is checked against float64 on a
// sample of outputs (max abs error printed).
//   node apps/bench/scripts/deep-d-ab.mjs 'QxNxd,...' reps name=dist[:blockSteps] ...
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { random } from './random.mjs';

const require = createRequire(import.meta.url);
const shapes = process.argv[2].split(',').map((s) => s.split('x').map(Number));
const reps = Number(process.argv[3] ?? 7);
const specs = process.argv.slice(4).map((s) => {
  const [name, rest] = s.split('=');
  const [dir, kb] = rest.split(':');
  return { name, dir, blockSteps: kb === undefined ? undefined : Number(kb) };
});
const k = Number(process.env.SEARCH ?? 0);
const matrix = process.env.MATRIX === '1';
const core = await import(require.resolve('@cosinekit/core'));
const backends = [];
for (const s of specs) {
  const pkg = await import(pathToFileURL(resolve(s.dir, 'index.js')).href);
  const tuning = s.blockSteps === undefined ? {} : { blockSteps: s.blockSteps };
  const b = pkg.createWasmBackend({ threads: Number(process.env.THREADS ?? 1), variant: 'simd', tuning });
  await b.init();
  backends.push({ ...s, b });
}
const med = (v) => [...v].sort((x, y) => x - y)[v.length >> 1];
for (const [Q, N, d] of shapes) {
  const qs = random(Q * d, 9);
  const xs = random(N * d, 7);
  const a = new core.Tensor(qs, Q, d);
  const x = new core.Tensor(xs, N, d);
  const corpora = matrix ? [] : backends.map(({ b }) => b.kernels.createCorpus(x));
  const calls = backends.map(({ b }, i) =>
    k > 0
      ? () => b.kernels.corpusSearch(corpora[i], a, k)
      : matrix
        ? () => b.kernels.cosineMatrix(a, x)
        : () => b.kernels.corpusMatrix(corpora[i], a),
  );
  const firsts = calls.map((c) => c());
  const flat = (r) => (k > 0 ? new Float32Array([...r.scores, ...Array.from(r.indices, Number)]) : r);
  const ref = flat(firsts[0]);
  firsts.forEach((r, i) => {
    const f = flat(r);
    for (let t = 0; t < f.length; t++)
      if (!Object.is(f[t], ref[t])) throw new Error(`${specs[i].name} differs from ${specs[0].name} at ${t}`);
  });
  // float64 check of the first variant on a sample (cosines; for a search, the scores it reports).
  const norm = (v, o) => Math.sqrt(v.subarray(o, o + d).reduce((s, y) => s + y * y, 0));
  const cos = (i, j) => {
    let s = 0;
    for (let t = 0; t < d; t++) s += qs[i * d + t] * xs[j * d + t];
    return Math.max(-1, Math.min(1, s / norm(qs, i * d) / norm(xs, j * d)));
  };
  let err = 0;
  for (let i = 0; i < Q; i += Math.max(1, Q >> 3)) {
    if (k > 0) {
      const r = firsts[0];
      for (let t = 0; t < k; t++)
        err = Math.max(err, Math.abs(r.scores[i * k + t] - cos(i, r.indices[i * k + t])));
    } else {
      for (let j = 0; j < N; j += Math.max(1, Math.floor(N / 61)))
        err = Math.max(err, Math.abs(firsts[0][i * N + j] - cos(i, j)));
    }
  }
  const cpu = calls.map(() => []);
  for (let r = 0; r < reps; r++) {
    calls.forEach((c, i) => {
      const c0 = process.cpuUsage();
      c();
      const u = process.cpuUsage(c0);
      cpu[i].push((u.user + u.system) / 1000);
    });
  }
  const flops = 2 * Q * N * d;
  const base = med(cpu[0]);
  console.log(
    `${Q}x${N}x${d}${k > 0 ? ` top-${k}` : ''} (max |err| vs float64 ${err.toExponential(1)}, all bit-identical): ` +
      calls
        .map((_, i) => {
          const m = med(cpu[i]);
          return `${specs[i].name} ${m.toFixed(2)} ms ${(flops / m / 1e6).toFixed(1)} GFLOP/s ${(base / m).toFixed(2)}x`;
        })
        .join('; '),
  );
  for (const c of corpora) c.dispose();
}
for (const { b } of backends) b.dispose();
