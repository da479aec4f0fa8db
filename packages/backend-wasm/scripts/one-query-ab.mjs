// One query row (`dotsWith` with m = 1: the driver's row kernel) of two builds of this package's
// binary, A and B, and a streaming read of the same bytes, samples interleaved (A, B, stream) so all
// three see the same machine; best of `reps`. Each build's scores are checked against float64 dot
// products first. Use it to compare a change to the row kernels with the build before it:
//   cp dist/*.wasm /tmp/a/ ; (change, pnpm run build) ; cp dist/*.wasm /tmp/b/
//   node scripts/one-query-ab.mjs /tmp/a /tmp/b [N] [d] [reps] [simd|relaxed]
// Needs apps/bench built (its streaming-read module).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { random } from './random.mjs';

const [dirA, dirB] = process.argv.slice(2, 4);
const N = Number(process.argv[4] ?? 200000),
  d = Number(process.argv[5] ?? 384),
  reps = Number(process.argv[6] ?? 9);
const variant = process.argv[7] ?? 'simd';
const { streamModuleBytes } = await import(
  new URL('../../../apps/bench/dist/roofline.js', import.meta.url).href
);
if (variant === 'relaxed') (await import('node:v8')).setFlagsFromString('--experimental-wasm-relaxed-simd');
// The default tile of each binary (src/tuning.ts): driver index and corpus rows per panel.
const [config, P] = variant === 'relaxed' ? [1, 3] : [0, 2];
const corpus = random(N * d, 7);
const query = random(d, 9);
const steps = Math.ceil(d / 4),
  rowBytes = steps * 16;
const al = (x) => Math.ceil(x / 64) * 64;
async function load(dir) {
  const { instance } = await WebAssembly.instantiate(readFileSync(join(dir, `cosinekit-${variant}.wasm`)));
  const ex = instance.exports;
  const heap = ex.heapBase();
  const src = al(heap),
    dst = al(src + N * d * 4),
    q = al(dst + Math.ceil(N / P) * P * rowBytes),
    out = al(q + rowBytes),
    end = out + N * 4 + 64;
  ex.memory.grow(Math.ceil((end - ex.memory.buffer.byteLength) / 65536) + 1);
  new Float32Array(ex.memory.buffer, src, N * d).set(corpus);
  new Float32Array(ex.memory.buffer, q, steps * 4).set(query);
  ex.pack(src, N, d, d, dst, P, 0);
  const nbp = Math.max(1, Math.floor((96 * 1024) / (rowBytes * P)));
  const run = () => ex.dotsWith(config, q, 1, dst, N, steps, out, N * 4, 0, nbp, steps, 0, false);
  run();
  const got = new Float32Array(ex.memory.buffer, out, N);
  let worst = 0;
  for (let j = 0; j < N; j += 97) {
    let s = 0,
      a = 0;
    for (let t = 0; t < d; t++) {
      s += query[t] * corpus[j * d + t];
      a += Math.abs(query[t] * corpus[j * d + t]);
    }
    worst = Math.max(worst, Math.abs(got[j] - s) / a);
  }
  return { run, worst };
}
const A = await load(dirA);
const B = await load(dirB);
const bytes = N * d * 4;
const pages = Math.ceil(bytes / 65536) + 2;
const smem = new WebAssembly.Memory({ initial: pages, maximum: pages });
new Uint32Array(smem.buffer).fill(0x3f800000);
const sm = (await WebAssembly.instantiate(streamModuleBytes(pages, false), { env: { memory: smem } }))
  .instance.exports;
const streamBytes = Math.floor(bytes / 128) * 128;
const stream = () => sm.sum(65536, streamBytes, 1);
stream();
const best = [Infinity, Infinity, Infinity];
for (let i = 0; i < reps; i++) {
  [A.run, B.run, stream].forEach((f, k) => {
    const t = performance.now();
    f();
    best[k] = Math.min(best[k], performance.now() - t);
  });
}
const g = (ms) => (bytes / (ms / 1000) / 1e9).toFixed(1);
const pct = (ms) => `${((100 * best[2]) / ms).toFixed(0)}%`;
console.log(
  `${variant} N=${N} d=${d} best of ${reps}: A ${best[0].toFixed(2)} ms ${g(best[0])} GB/s ${pct(best[0])} of stream (err ${A.worst.toExponential(1)}); ` +
    `B ${best[1].toFixed(2)} ms ${g(best[1])} GB/s ${pct(best[1])} (err ${B.worst.toExponential(1)}); stream ${g(best[2])} GB/s`,
);
