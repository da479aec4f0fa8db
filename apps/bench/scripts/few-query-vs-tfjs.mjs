// A few queries against a resident corpus, one thread: the wasm backend's corpusSearch (top-k) from
// one or two builds of @cosinekit/backend-wasm beside tfjs-wasm's fast path (the corpus normalised
// and stored transposed, `matMul(q, cT)` + `topk`, as the sweep runs it), and a streaming read of
// the corpus's bytes. Calls are interleaved round by round (A, B, tfjs, stream) so all see the same
// machine; each is timed in CPU time (process.cpuUsage) and wall time; medians and bests. Every
// wasm result is checked against a float64 top-k first (same indices, scores within 1e-6).
//
//   node apps/bench/scripts/few-query-vs-tfjs.mjs Q N d [reps] [distA] [distB]
//
// distA / distB: directories holding a copy of packages/backend-wasm/dist (default: the package's
// own dist as A, no B). Copy a build aside with `mkdir -p packages/backend-wasm/build && cp -r
// packages/backend-wasm/dist packages/backend-wasm/build/a` (inside the package, so its imports
// resolve; build/ is ignored by git), rebuild, then pass packages/backend-wasm/build/a and
// packages/backend-wasm/dist. Bandwidth share: bytes of the corpus
// (N x d x 4) over the time, against the in-process streaming read (of the same bytes, at most
// 512 MiB) and against GB_S (env, default the quiet roofline's 29.9 GB/s on one thread). For large
// corpora run A and B in separate processes: each keeps its own copy, as tfjs does.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { random } from './random.mjs';

const require = createRequire(import.meta.url);
const [Q, N, d] = process.argv.slice(2, 5).map(Number);
const reps = Number(process.argv[5] ?? 11);
const dirs = process.argv.slice(6);
if (!(Q > 0 && N > 0 && d > 0)) {
  console.error('usage: few-query-vs-tfjs.mjs Q N d [reps] [distA] [distB]');
  process.exit(2);
}
const k = 10;
const GB_S = Number(process.env.GB_S ?? 29.9);
const core = await import(require.resolve('@cosinekit/core'));
const { streamModuleBytes } = await import('../dist/roofline.js');

const corpus = random(N * d, 7);
const queries = random(Q * d, 9);

// float64 exact top-k per query, for the checks.
const exact = [];
{
  const norms = new Float64Array(N);
  for (let j = 0; j < N; j++) {
    let s = 0;
    for (let t = 0; t < d; t++) s += corpus[j * d + t] * corpus[j * d + t];
    norms[j] = Math.sqrt(s);
  }
  for (let i = 0; i < Q; i++) {
    let qn = 0;
    for (let t = 0; t < d; t++) qn += queries[i * d + t] ** 2;
    qn = Math.sqrt(qn);
    const s = new Float64Array(N);
    for (let j = 0; j < N; j++) {
      let x = 0;
      for (let t = 0; t < d; t++) x += queries[i * d + t] * corpus[j * d + t];
      s[j] = x / (qn * norms[j]);
    }
    const idx = Array.from(s.keys())
      .sort((a, b) => s[b] - s[a] || a - b)
      .slice(0, k);
    exact.push({ top: idx.map((j) => [j, s[j]]), all: s });
  }
}

const contenders = [];
const wasmDirs = dirs.length ? dirs : [null];
for (const [n, dir] of wasmDirs.entries()) {
  const entry = dir
    ? pathToFileURL(resolve(dir, 'index.js')).href
    : pathToFileURL(require.resolve('@cosinekit/backend-wasm')).href;
  const pkg = await import(entry);
  const wasm = dir ? { simd: readFileSync(resolve(dir, 'cosinekit-simd.wasm')) } : undefined;
  const backend = pkg.createWasmBackend({ threads: 1, variant: 'simd', ...(wasm ? { wasm } : {}) });
  await backend.init();
  const c = backend.kernels.createCorpus(new core.Tensor(corpus, N, d));
  const qt = new core.Tensor(queries, Q, d);
  const call = () => backend.kernels.corpusSearch(c, qt, k);
  const r = call();
  let worst = 0;
  for (let i = 0; i < Q; i++) {
    for (let t = 0; t < k; t++) {
      const [j, s] = exact[i].top[t];
      const got = r.indices[i * k + t];
      const v = r.scores[i * k + t];
      worst = Math.max(worst, Math.abs(v - s));
      // Another row only where it ties the exact one's score (in float64, within 1e-6).
      if (got !== j && !(Math.abs(exact[i].all[got] - s) <= 1e-6)) {
        throw new Error(`wasm ${n}: query ${i} rank ${t}: row ${got}, exact ${j}`);
      }
    }
  }
  if (worst > 1e-6) throw new Error(`wasm ${n}: score error ${worst}`);
  contenders.push({ name: dirs.length ? `wasm ${'AB'[n]}` : 'wasm', call, err: worst });
}

{
  const { initTfjsEngine } = await import(require.resolve('@cosinekit/backend-tfjs'));
  const tf = await initTfjsEngine('wasm', {});
  const normalize = (x) => tf.mul(x, tf.rsqrt(tf.sum(tf.square(x), 1, true)));
  const rowsPer = 16384;
  const cT = new Float32Array(N * d);
  for (let r0 = 0; r0 < N; r0 += rowsPer) {
    const rows = Math.min(rowsPer, N - r0);
    const b = tf.tidy(() =>
      tf.transpose(normalize(tf.tensor2d(corpus.subarray(r0 * d, (r0 + rows) * d), [rows, d]))),
    );
    const v = b.dataSync();
    b.dispose();
    for (let j = 0; j < d; j++) cT.set(v.subarray(j * rows, (j + 1) * rows), j * N + r0);
  }
  const ct = tf.tensor2d(cT, [d, N]);
  const call = () => {
    const s = tf.tidy(() => tf.matMul(normalize(tf.tensor2d(queries, [Q, d])), ct));
    const top = tf.topk(s, k);
    const out = { indices: top.indices.dataSync(), scores: top.values.dataSync() };
    top.indices.dispose();
    top.values.dispose();
    s.dispose();
    return out;
  };
  // Its top-k against the exact one (indices, or a tie within 1e-6): a wrong answer is reported,
  // not timed as if it were right.
  const r = call();
  let wrong = 0;
  for (let i = 0; i < Q; i++) {
    for (let t = 0; t < k; t++) {
      const [j, s] = exact[i].top[t];
      const got = r.indices[i * k + t];
      if (got !== j && !(Math.abs(exact[i].all[got] - s) <= 1e-6)) wrong++;
    }
  }
  if (wrong > 0) console.log(`tfjs fast: ${wrong} of ${Q * k} top-k entries WRONG (not the exact rows)`);
  contenders.push({ name: wrong > 0 ? 'tfjs WRONG' : 'tfjs fast', call });
}

const bytes = N * d * 4;
// The streaming read covers the corpus's bytes, at most 512 MiB (its rate is what counts).
const streamBytes = Math.max(128, Math.floor(Math.min(bytes, 2 ** 29) / 128) * 128);
{
  const pages = Math.ceil(streamBytes / 65536) + 2;
  const smem = new WebAssembly.Memory({ initial: pages, maximum: pages });
  new Uint32Array(smem.buffer).fill(0x3f800000);
  const sm = (await WebAssembly.instantiate(streamModuleBytes(pages, false), { env: { memory: smem } }))
    .instance.exports;
  contenders.push({ name: 'stream', call: () => sm.sum(65536, streamBytes, 1), bytes: streamBytes });
}

const cpu = contenders.map(() => []);
const wall = contenders.map(() => []);
for (let r = 0; r < reps; r++) {
  contenders.forEach((c, i) => {
    const u = process.cpuUsage();
    const t = performance.now();
    c.call();
    const w = performance.now() - t;
    const du = process.cpuUsage(u);
    cpu[i].push((du.user + du.system) / 1000);
    wall[i].push(w);
  });
}
const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
const min = (a) => Math.min(...a);
const tf = contenders.findIndex((c) => c.name.startsWith('tfjs'));
const st = contenders.length - 1;
console.log(
  `Q=${Q} N=${N} d=${d} k=${k}: corpus ${(bytes / 1e6).toFixed(1)} MB, ${reps} interleaved rounds, 1 thread; load ${(await import('node:os')).loadavg()[0].toFixed(1)}`,
);
console.log(
  'contender    cpu med   cpu best  wall best  vs tfjs (cpu med / best)  bw (cpu best) vs stream / vs GB_S',
);
const rate = (i) => (contenders[i].bytes ?? bytes) / (min(cpu[i]) / 1000) / 1e9;
contenders.forEach((c, i) => {
  const cm = med(cpu[i]);
  const cb = min(cpu[i]);
  const gbs = rate(i);
  console.log(
    `${c.name.padEnd(11)} ${cm.toFixed(3).padStart(8)} ${cb.toFixed(3).padStart(9)} ${min(wall[i]).toFixed(3).padStart(9)}   ${c.bytes ? '  -   /   -  ' : `${(med(cpu[tf]) / cm).toFixed(2)}x / ${(min(cpu[tf]) / cb).toFixed(2)}x`}        ${gbs.toFixed(1)} GB/s  ${((100 * gbs) / rate(st)).toFixed(0)}% / ${((100 * gbs) / GB_S).toFixed(0)}%${c.err !== undefined ? `  (err ${c.err.toExponential(1)})` : ''}`,
  );
});
process.exit(0);
