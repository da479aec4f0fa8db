// Why a product's wall and CPU time depend on what the process did before: the first write to each
// 4 KiB page of a new result is a page fault, and whether a new result gets such pages depends on
// the allocator. `corpus.similarity` (256 x 10,000 x 768 by default, a 10 MB result) is called in a
// loop that either drops each result (`drop`: glibc hands back the memory freed once the garbage
// collector has run, already mapped), keeps the last K alive (`keepK`, default 3: as a caller or a
// benchmark holding earlier answers does, so more results come from new pages), or writes into one
// reused output (`out`). Per call: wall, CPU (process.cpuUsage, all threads) and minor page
// faults, medians and means (faults come in bursts, so the mean tells more than the median).
//   node scripts/result-faults.mjs [threads] [drop,keep8,out ...] ['QxNxd'] [calls]
import { pathToFileURL } from 'node:url';
import { random } from './random.mjs';

const root = new URL('../../', import.meta.url);
const core = await import(pathToFileURL(new URL('core/dist/index.js', root).pathname).href);
const wasm = await import(pathToFileURL(new URL('backend-wasm/dist/index.js', root).pathname).href);
const threads = Number(process.argv[2] ?? 2);
const modes = (process.argv[3] ?? 'drop,keep8,out').split(',');
const [m, n, d] = (process.argv[4] ?? '256x10000x768').split('x').map(Number);
const calls = Number(process.argv[5] ?? 15);
const backend = wasm.createWasmBackend({ threads });
const kit = core.createCosineKit({ backend });
await kit.ready();
const corpus = await kit.corpus(new core.Tensor(random(n * d, 5), n, d));
const q = new core.Tensor(random(m * d, 3), m, d);
const median = (x) => [...x].sort((p, r) => p - r)[x.length >> 1];
console.log(
  `${m} x ${n} x ${d}, ${threads} thread(s), ${calls} calls per mode after 2 warm-up calls; medians`,
);
const mean = (x) => x.reduce((p, r) => p + r, 0) / x.length;
console.log('| mode | wall ms median | CPU ms median | CPU ms mean | minor faults / call, median | mean |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const mode of modes) {
  const kept = [];
  const out = new Float32Array(m * n);
  const wall = [];
  const cpu = [];
  const faults = [];
  for (let r = 0; r < calls + 2; r++) {
    const f0 = process.resourceUsage().minorPageFault;
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const res = await corpus.similarity(q, mode === 'out' ? { out } : {});
    const t = performance.now() - t0;
    const c = process.cpuUsage(c0);
    const f = process.resourceUsage().minorPageFault - f0;
    if (mode.startsWith('keep')) {
      kept.push(res);
      if (kept.length > Number(mode.slice(4) || 3)) kept.shift();
    }
    if (r < 2) continue;
    wall.push(t);
    cpu.push((c.user + c.system) / 1000);
    faults.push(f);
  }
  console.log(
    `| ${mode} | ${median(wall).toFixed(1)} | ${median(cpu).toFixed(1)} | ${mean(cpu).toFixed(1)} | ${median(faults)} | ${mean(faults).toFixed(0)} |`,
  );
}
corpus.dispose();
await backend.dispose();
process.exit(0);
