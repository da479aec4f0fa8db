// Full similarity matrices through the kit on two builds of the repository, A and B (each a
// checkout with core and backend-wasm built): `kit.cosineMatrix` and `corpus.similarity` into a
// fresh result, and on B also into one reused output (`options.out`). Calls are interleaved
// (A, B, B+out, A, ...) so all see the same machine; per mode the median wall time, median CPU time
// (process.cpuUsage: every thread of the process, less sensitive to other processes) and the minor
// page faults of a call (process.resourceUsage). Every result is compared with A's bit for bit, and
// sampled rows with float64.
//   node scripts/out-ab.mjs <rootA> <rootB> ['QxNxd,...'] [threads] [rounds]
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { random } from './random.mjs';

const [rootA, rootB] = process.argv.slice(2, 4);
const shapes = (process.argv[4] ?? '1000x10000x384').split(',').map((s) => s.split('x').map(Number));
const threads = Number(process.argv[5] ?? 1);
const rounds = Number(process.argv[6] ?? 7);

async function build(root) {
  const at = (p) => pathToFileURL(join(root, 'packages', p)).href;
  const core = await import(at('core/dist/index.js'));
  const wasm = await import(at('backend-wasm/dist/index.js'));
  const backend = wasm.createWasmBackend({ threads });
  const kit = core.createCosineKit({ backend });
  await kit.ready();
  return { kit, backend, Tensor: core.Tensor };
}

function cos64Rows(a, b, d, rows, n) {
  let worst = 0;
  return (got) => {
    for (const i of rows) {
      let aa = 0;
      for (let t = 0; t < d; t++) aa += a[i * d + t] ** 2;
      for (let j = 0; j < n; j++) {
        let ab = 0;
        let bb = 0;
        for (let t = 0; t < d; t++) {
          ab += a[i * d + t] * b[j * d + t];
          bb += b[j * d + t] ** 2;
        }
        worst = Math.max(worst, Math.abs(got[i * n + j] - ab / Math.sqrt(aa * bb)));
      }
    }
    return worst;
  };
}

const median = (x) => [...x].sort((p, q) => p - q)[x.length >> 1];
const A = await build(rootA);
const B = await build(rootB);
console.log(`threads ${threads}; A ${rootA}; B ${rootB}; ${rounds} rounds, interleaved`);
for (const [m, n, d] of shapes) {
  const a = random(m * d, 3);
  const b = random(n * d, 5);
  const ca = await A.kit.corpus(new A.Tensor(b, n, d));
  const cb = await B.kit.corpus(new B.Tensor(b, n, d));
  const out = new Float32Array(m * n);
  // Each build takes only its own Tensor class.
  const [qa, xa, qb, xb] = [A, A, B, B].map((k, i) => new k.Tensor(i % 2 ? b : a, i % 2 ? n : m, d));
  const modes = [
    ['A cosineMatrix', () => A.kit.cosineMatrix(qa, xa)],
    ['B cosineMatrix', () => B.kit.cosineMatrix(qb, xb)],
    ['B cosineMatrix out', () => B.kit.cosineMatrix(qb, xb, { out })],
    ['A similarity', () => ca.similarity(qa)],
    ['B similarity', () => cb.similarity(qb)],
    ['B similarity out', () => cb.similarity(qb, { out })],
  ];
  const check = cos64Rows(a, b, d, [0, m >> 1, m - 1], n);
  const ref = (await modes[0][1]()).data.slice();
  const stats = modes.map(() => ({ wall: [], cpu: [], faults: [] }));
  let err = 0;
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < modes.length; k++) {
      const c0 = process.cpuUsage();
      const f0 = process.resourceUsage().minorPageFault;
      const t0 = performance.now();
      const res = await modes[k][1]();
      const t1 = performance.now();
      const c1 = process.cpuUsage(c0);
      stats[k].faults.push(process.resourceUsage().minorPageFault - f0);
      stats[k].wall.push(t1 - t0);
      stats[k].cpu.push((c1.user + c1.system) / 1000);
      const got = res.data;
      if (r === 0) {
        for (let i = 0; i < got.length; i++)
          if (got[i] !== ref[i]) throw new Error(`${modes[k][0]}: differs from A at ${i}`);
        err = Math.max(err, check(got));
      }
    }
  }
  const flops = 2 * m * n * d;
  console.log(
    `\n${m} x ${n} x ${d}: every mode equal to A bit for bit; sampled rows within ${err.toExponential(1)} of float64`,
  );
  console.log(
    '| mode | wall ms (median) | CPU ms (median) | GFLOP/s (wall) | minor faults / call | CPU vs A |',
  );
  console.log('|---|---:|---:|---:|---:|---:|');
  stats.forEach((s, k) => {
    const base = stats[k < 3 ? 0 : 3];
    const w = median(s.wall);
    const c = median(s.cpu);
    console.log(
      `| ${modes[k][0]} | ${w.toFixed(1)} | ${c.toFixed(1)} | ${(flops / w / 1e6).toFixed(1)} | ${median(s.faults)} | ${(median(base.cpu) / c).toFixed(2)}x |`,
    );
  });
  ca.dispose();
  cb.dispose();
}
process.exit(0);
