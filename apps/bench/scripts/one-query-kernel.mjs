// The wasm backend's one-query kernel (its exported `dotsWith` with one query row, so each register
// tile's row kernel) against a streaming read of the same number of bytes, samples interleaved so
// both see the same machine. Reads the built binary of @cosinekit/backend-wasm directly (exports
// heapBase, pack, dotsWith and the order of its tile configs): update it when those change.
// Usage (after pnpm bench or a build): node apps/bench/scripts/one-query-kernel.mjs [N] [d] [reps] [simd|relaxed]
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { random } from './random.mjs';

const { streamModuleBytes } = await import('../dist/roofline.js');
const require = createRequire(import.meta.url);
const N = Number(process.argv[2] ?? 32768),
  d = Number(process.argv[3] ?? 384),
  reps = Number(process.argv[4] ?? 25);
const variant = process.argv[5] ?? 'simd';
const wasmUrl = new URL(
  `./cosinekit-${variant}.wasm`,
  pathToFileURL(require.resolve('@cosinekit/backend-wasm')),
);
if (variant === 'relaxed') (await import('node:v8')).setFlagsFromString('--experimental-wasm-relaxed-simd');
const { instance } = await WebAssembly.instantiate(readFileSync(wasmUrl));
const ex = instance.exports;
const steps = Math.ceil(d / 4),
  rowBytes = steps * 16;
const al = (x) => Math.ceil(x / 64) * 64;
const configs = [
  [0, 2, '4x2 -> row2p2'],
  [1, 3, '3x3 -> row3p2'],
  [2, 4, '2x4 -> row4p1'],
  [4, 2, '2x2 -> row2p2'],
];
const maxP = 4;
const packedBytes = Math.ceil(N / maxP) * maxP * rowBytes;
const heap = ex.heapBase();
const src = al(heap),
  dst = al(src + N * d * 4),
  q = al(dst + packedBytes),
  out = al(q + rowBytes),
  end = out + N * 4 + 64;
const mem = ex.memory;
mem.grow(Math.ceil((end - mem.buffer.byteLength) / 65536) + 1);
new Float32Array(mem.buffer, src, N * d).set(random(N * d, 7));
new Float32Array(mem.buffer, q, steps * 4).set(random(d, 9));
const bytes = N * d * 4;
// A streaming read of the same number of bytes, on its own memory.
const pages = Math.ceil(bytes / 65536) + 2;
const smem = new WebAssembly.Memory({ initial: pages, maximum: pages });
new Uint32Array(smem.buffer).fill(0x3f800000);
const sm = (await WebAssembly.instantiate(streamModuleBytes(pages, false), { env: { memory: smem } }))
  .instance.exports;
const streamBytes = Math.floor(bytes / 128) * 128;
for (const [cfg, P, label] of configs) {
  ex.pack(src, N, d, d, dst, P, 1);
  const nbp = Math.max(1, Math.floor((96 * 1024) / (rowBytes * P)));
  const run = () => ex.dotsWith(cfg, q, 1, dst, N, steps, out, N * 4, 1, nbp, steps, 0, false);
  const stream = () => sm.sum(65536, streamBytes, 1);
  run();
  stream();
  let bd = Infinity,
    bs = Infinity;
  for (let i = 0; i < reps; i++) {
    let t = performance.now();
    run();
    bd = Math.min(bd, performance.now() - t);
    t = performance.now();
    stream();
    bs = Math.min(bs, performance.now() - t);
  }
  const g = (ms) => bytes / (ms / 1000) / 1e9;
  console.log(
    `${variant} ${label.padEnd(16)} N=${N} d=${d}: kernel ${bd.toFixed(3)} ms = ${g(bd).toFixed(1)} GB/s; stream same bytes ${bs.toFixed(3)} ms = ${g(bs).toFixed(1)} GB/s; kernel/stream ${((100 * bs) / bd).toFixed(0)}%`,
  );
}
