// Where the time of a threaded product goes, per thread (Linux: /proc/self/task/*/schedstat).
// For builds A (and B), at 1 and 2 threads, calls interleaved (A@1, B@1, A@2, B@2); per call and
// thread: time on a core (run), time runnable but waiting for a core (queue: the machine's load),
// and the rest of the call's wall time, blocked (waiting for the other thread or for a job). On a
// loaded machine wall time is noisy, but run and blocked time are not: the 2-thread call is
// parallel as far as the threads' blocked time is small and their run time adds up to that of one
// thread. Prints medians per shape.
//   node scripts/thread-cpu.mjs <dirA> [dirB|-] [reps] [simd|relaxed] ['QxNxd,...'] [matrix|search|cosine]
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { random } from './random.mjs';

if (!process.argv[2]) {
  console.error(
    "usage: node scripts/thread-cpu.mjs <dirA> [dirB|-] [reps] [simd|relaxed] ['QxNxd,...'] [matrix|search|cosine]\n" +
      '  a build directory such as dist (taken from this package when it is not one from here)',
  );
  process.exit(2);
}
const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
const dirs = process.argv
  .slice(2, 4)
  .filter((d) => d && d !== '-')
  .map((d) => (existsSync(d) ? resolve(d) : resolve(pkg, d)));
const reps = Number(process.argv[4] ?? 7);
const variant = process.argv[5] ?? 'simd';
const shapes = (process.argv[6] ?? '1000x20000x384').split(',').map((s) => s.split('x').map(Number));
const mode = process.argv[7] ?? 'matrix';

/** [run ns, queue ns] per thread id. */
function sched() {
  const m = new Map();
  for (const t of readdirSync('/proc/self/task')) {
    try {
      const [run, wait] = readFileSync(`/proc/self/task/${t}/schedstat`, 'utf8').split(' ').map(Number);
      m.set(Number(t), [run, wait]);
    } catch {}
  }
  return m;
}

const builds = [];
for (const dir of dirs) {
  const { createWasmBackend } = await import(pathToFileURL(join(dir, 'index.js')).href);
  for (const threads of [1, 2]) {
    const before = new Set(sched().keys());
    const b = createWasmBackend({ variant, threads });
    await b.init();
    const helpers = [...sched().keys()].filter((t) => !before.has(t));
    builds.push({ name: `${String.fromCharCode(65 + builds.length / 2)}@${threads}`, b, helpers, threads });
  }
}
// Interleave: A@1, B@1, A@2, B@2.
builds.sort((x, y) => x.threads - y.threads);
const med = (a) => [...a].sort((u, v) => u - v)[a.length >> 1];
const ms = (ns) => (ns / 1e6).toFixed(1);

for (const [Q, N, d] of shapes) {
  const q = { data: random(Q * d, 3), rows: Q, cols: d };
  const x = { data: random(N * d, 5), rows: N, cols: d };
  const corpora = builds.map(({ b }) => (mode === 'cosine' ? undefined : b.kernels.createCorpus(x)));
  const calls = builds.map(({ b }, i) =>
    mode === 'search'
      ? () => b.kernels.corpusSearch(corpora[i], q, 10).scores
      : mode === 'cosine'
        ? () => b.kernels.cosineMatrix(q, x)
        : () => b.kernels.corpusMatrix(corpora[i], q),
  );
  const first = calls.map((f) => f());
  for (let i = 1; i < first.length; i++) {
    const w = first[0];
    const g = first[i];
    let same = w.length === g.length;
    for (let t = 0; same && t < w.length; t++) same = Object.is(w[t], g[t]);
    if (!same) console.log(`  ${Q}x${N}x${d} ${builds[i].name} differs from ${builds[0].name}`);
  }
  const rec = builds.map(() => ({
    wall: [],
    main: [],
    mainQ: [],
    mainB: [],
    help: [],
    helpQ: [],
    helpB: [],
    other: [],
  }));
  for (let r = 0; r < reps; r++) {
    builds.forEach((bd, i) => {
      const s0 = sched();
      const t0 = process.hrtime.bigint();
      calls[i]();
      const wall = Number(process.hrtime.bigint() - t0);
      const s1 = sched();
      const delta = (t) => {
        const a = s0.get(t) ?? [0, 0];
        const b = s1.get(t) ?? a;
        return [b[0] - a[0], b[1] - a[1]];
      };
      const [mr, mq] = delta(process.pid);
      let hr = 0;
      let hq = 0;
      for (const h of bd.helpers) {
        const [a, b] = delta(h);
        hr += a;
        hq += b;
      }
      let other = 0;
      for (const t of s1.keys()) if (t !== process.pid && !bd.helpers.includes(t)) other += delta(t)[0];
      const o = rec[i];
      o.wall.push(wall);
      o.main.push(mr);
      o.mainQ.push(mq);
      o.mainB.push(wall - mr - mq);
      if (bd.helpers.length) {
        o.help.push(hr);
        o.helpQ.push(hq);
        o.helpB.push(bd.helpers.length * wall - hr - hq);
      }
      o.other.push(other);
    });
  }
  const flops = 2 * Q * N * d;
  console.log(
    `${variant} ${mode} ${Q}x${N}x${d}, medians of ${reps} (ms): run / queued / blocked per thread`,
  );
  builds.forEach((bd, i) => {
    const o = rec[i];
    const h = o.help.length ? `  helper ${ms(med(o.help))} / ${ms(med(o.helpQ))} / ${ms(med(o.helpB))}` : '';
    const total = med(o.main.map((v, t) => v + (o.help[t] ?? 0) + o.other[t]));
    console.log(
      `  ${bd.name}: wall ${ms(med(o.wall))} (${(flops / med(o.wall)).toFixed(1)} GFLOP/s; less main's queue ${ms(med(o.wall.map((w, t) => w - o.mainQ[t])))})  main ${ms(med(o.main))} / ${ms(med(o.mainQ))} / ${ms(med(o.mainB))}${h}  other threads ${ms(med(o.other))}  all run ${ms(total)}`,
    );
  });
  for (const c of corpora) c?.dispose();
}
for (const { b } of builds) b.dispose();
