#!/usr/bin/env node
// The real-GPU benchmark of the webgpu backend, in Node on Dawn: a similarity matrix and a resident
// one-query search, each on webgpu, tfjs-webgpu (tfjs's own WebGPU engine on the same Dawn) and
// gpu.js, with every result checked against the others' top-k. Needs `pnpm build` first.
//
//   node packages/backend-webgpu/bench/gpu.mjs                       # full size, a few minutes on a GPU
//   node packages/backend-webgpu/bench/gpu.mjs --scale 0.002         # tiny: proves it runs (llvmpipe)
//   ... --peak-gflops 19500 --peak-gbps 936                          # the GPU's float32 peak and bandwidth
//   ... --only webgpu,tfjs-webgpu --reps 5
//
// Full size: matrix 4,096 x 100,000 x 768 (as topK, k=10: webgpu selects on the device; and the full matrix
// read back), and one query against a resident 1,000,000 x 768 corpus, top-10. Figures are medians.
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({
  options: {
    scale: { type: 'string', default: '1' },
    reps: { type: 'string', default: '3' },
    only: { type: 'string', default: 'webgpu,tfjs-webgpu,gpujs' },
    'peak-gflops': { type: 'string' },
    'peak-gbps': { type: 'string' },
    dawn: { type: 'string', default: '' },
  },
});
const scale = Number(opt.scale);
const reps = Math.max(1, Number(opt.reps));
const only = new Set(opt.only.split(','));
const peakGflops = opt['peak-gflops'] ? Number(opt['peak-gflops']) : undefined;
const peakGbps = opt['peak-gbps'] ? Number(opt['peak-gbps']) : undefined;

const here = new URL('.', import.meta.url);
const load = async (rel, what) => {
  try {
    return await import(new URL(rel, here).href);
  } catch (e) {
    console.error(`${what} did not load (${e.message.split('\n')[0]}); run pnpm build first`);
    process.exit(2);
  }
};
const { createWebGpuBackend } = await load('../dist/index.js', '@cosinekit/backend-webgpu');
const { createGpujsBackend } = await load('../../backend-gpujs/dist/index.js', '@cosinekit/backend-gpujs');
const { createTfjsBackend, initTfjsEngine } = await load(
  '../../backend-tfjs/dist/index.js',
  '@cosinekit/backend-tfjs',
);

// Dawn: its native backend first (Vulkan, Metal or D3D12 on a real GPU), else OpenGL ES at
// compatibility level (Mesa llvmpipe on machines without one).
process.env.EGL_PLATFORM ??= 'surfaceless';
const dawn = await import('webgpu');
Object.assign(globalThis, dawn.globals);
async function entry() {
  const flags = opt.dawn ? opt.dawn.split(',') : [];
  const native = dawn.create(flags);
  if (await native.requestAdapter({ powerPreference: 'high-performance' })) return { gpu: native, flags };
  const gles = ['backend=opengles', 'featureLevel=compatibility'];
  return { gpu: dawn.create(gles), flags: gles };
}
const { gpu, flags } = await entry();
// tfjs-webgpu looks for navigator.gpu; Node 20 has no navigator.
Object.defineProperty(globalThis, 'navigator', { value: { gpu, userAgent: 'node' }, configurable: true });

function rows(n, d, seed) {
  let s = seed >>> 0;
  const out = new Float32Array(n * d);
  for (let i = 0; i < out.length; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}
const m = (data, r, c) => ({ data, rows: r, cols: c });
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
async function time(fn) {
  await fn(); // warm-up: compiles pipelines, fills pools
  const t = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    t.push(performance.now() - t0);
  }
  return median(t);
}
const d = 768;
const mq = Math.max(1, Math.round(4096 * scale));
const mn = Math.max(16, Math.round(100_000 * scale));
const sn = Math.max(16, Math.round(1_000_000 * scale));
const K = 10;
const Qm = m(rows(mq, d, 1), mq, d);
const Nm = m(rows(mn, d, 2), mn, d);
const Ns = m(rows(sn, d, 3), sn, d);
const q1 = m(rows(1, d, 4), 1, d);

const contenders = {
  webgpu: () => createWebGpuBackend({ gpu }),
  'tfjs-webgpu': async () => {
    await initTfjsEngine('webgpu');
    return createTfjsBackend({ engine: 'webgpu' });
  },
  gpujs: () => createGpujsBackend(),
};

console.log(
  `Dawn flags: [${flags.join(', ')}]; sizes: matrix ${mq} x ${mn} x ${d}, search 1 x ${sn} x ${d}, k=${K}, ${reps} reps`,
);
const table = [];
const answers = {};
for (const [name, make] of Object.entries(contenders)) {
  if (!only.has(name)) continue;
  let b;
  try {
    b = await make();
    await b.init?.();
  } catch (e) {
    console.log(`${name}: unavailable: ${e.message.split('\n')[0]}`);
    continue;
  }
  const info = b.describe?.() ?? {};
  console.log(`${name}: ${JSON.stringify(info)}`);
  const k = b.kernels;
  const flop = 2 * mq * mn * d;
  try {
    let top;
    const tSearch = await time(async () => {
      top = await k.topK(Qm, Nm, K);
    });
    answers[`${name}:matrix`] = top;
    table.push({
      name,
      what: `topK ${mq} x ${mn} x ${d}, k=${K}`,
      ms: tSearch,
      gflops: flop / tSearch / 1e6,
    });
    if (scale <= 0.05 || name === 'webgpu') {
      const tMatrix = await time(() => k.cosineMatrix(Qm, Nm));
      table.push({
        name,
        what: `cosineMatrix ${mq} x ${mn} x ${d} (read back)`,
        ms: tMatrix,
        gflops: flop / tMatrix / 1e6,
      });
    }
    const c = await k.createCorpus(Ns);
    try {
      let hit;
      const tOne = await time(async () => {
        hit = await k.corpusSearch(c, q1, K);
      });
      answers[`${name}:search`] = hit;
      table.push({
        name,
        what: `1 query vs resident ${sn} x ${d}, top-${K}`,
        ms: tOne,
        gbps: (sn * d * 4) / tOne / 1e6,
      });
    } finally {
      c.dispose();
    }
  } catch (e) {
    console.log(`${name}: failed: ${e.message.split('\n')[0]}`);
  } finally {
    await b.dispose?.();
  }
}

for (const r of table) {
  const rate =
    r.gflops !== undefined
      ? `${r.gflops.toFixed(1)} GFLOP/s${peakGflops ? ` (${((100 * r.gflops) / peakGflops).toFixed(1)}% of peak)` : ''}`
      : `${r.gbps.toFixed(1)} GB/s${peakGbps ? ` (${((100 * r.gbps) / peakGbps).toFixed(1)}% of bandwidth)` : ''}`;
  console.log(`${r.name.padEnd(12)} ${r.what.padEnd(48)} ${r.ms.toFixed(2).padStart(10)} ms  ${rate}`);
}
// Every contender must find the same rows (scores within float32 rounding of each other).
let bad = 0;
for (const what of ['matrix', 'search']) {
  const ref = answers[`webgpu:${what}`];
  for (const [key, got] of Object.entries(answers)) {
    if (!key.endsWith(what) || !ref || got === ref) continue;
    for (let i = 0; i < ref.scores.length; i++) {
      if (Math.abs(ref.scores[i] - got.scores[i]) > 1e-4) {
        console.log(`MISMATCH ${key} vs webgpu at ${i}: ${got.scores[i]} vs ${ref.scores[i]}`);
        bad++;
        break;
      }
    }
  }
}
console.log(bad ? `${bad} mismatch(es)` : 'all contenders agree on the top-k scores');
process.exit(bad ? 1 : 0);
