// Where the wall time of `pnpm mnist:speed`'s MLP epoch goes (784-256-64, InfoNCE scale 20, Adam
// 1e-3, batch 128, wasm on one thread): per epoch, the wall time beside the main thread's time on a
// CPU and its time runnable but waiting for one (/proc/self/task/<pid>/schedstat: other processes
// on the machine), the machine's steal share (/proc/stat: a virtual machine's CPUs lent elsewhere,
// counted in neither), garbage-collection pauses (PerformanceObserver 'gc'), the voluntary context
// switches (the main thread blocking: atomics waits, I/O), the process's CPU on all threads
// (V8's compiler and GC helpers included) and the minor page faults. `left` is the wall time
// neither on a CPU nor waiting for one: the step blocked, or the hypervisor stole the CPU it was
// on (compare the steal share). Linux only (elsewhere the /proc columns read n/a).
//   node apps/mnist/scripts/wall.mjs [epochs=6]     (after pnpm mnist:speed's build)
import { readFileSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';
import { adam, createEncoder, inBatchSampler, multipleNegativesRankingLoss, train } from '@cosinekit/nn';
import { loadBackend } from '../dist/backends.js';
import { splitDigits } from '../dist/data.js';

const epochs = Number(process.argv[2] ?? 6);
const { train: data } = splitDigits(0.8, 1);
const { kit } = await loadBackend('wasm', 1, 'auto');
const encoder = createEncoder({
  inputs: 784,
  layers: [{ units: 256, activation: 'relu' }, { units: 64 }],
  normalize: true,
  seed: 1,
});
const sampler = inBatchSampler(data, { batchSize: 128, dropLast: true });
const loss = multipleNegativesRankingLoss({ scale: 20 });
const optimizer = adam({ learningRate: 1e-3 });

let gcMs = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcMs += e.duration;
}).observe({ entryTypes: ['gc'] });

/** The main thread's ms on a CPU and ms runnable but waiting, or undefined off Linux. */
const sched = () => {
  try {
    const [run, wait] = readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8')
      .split(' ')
      .map(Number);
    return { run: run / 1e6, wait: wait / 1e6 };
  } catch {
    return undefined;
  }
};
/** The machine's CPU ticks: all, and stolen by the hypervisor. */
const ticks = () => {
  try {
    const v = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    return { all: v.reduce((a, b) => a + b, 0), steal: v[7] ?? 0 };
  } catch {
    return undefined;
  }
};
const ms = (v) => (v === undefined ? 'n/a' : v.toFixed(0)).padStart(6);

await train({ kernels: kit, encoder, loss, sampler, optimizer, epochs: 1, seed: 0 });
console.log(' epoch   wall    run   wait  steal%  left     gc  vcsw  cpu(all)  minflt');
for (let e = 1; e <= epochs; e++) {
  gcMs = 0;
  const r0 = process.resourceUsage();
  const s0 = sched();
  const k0 = ticks();
  const t0 = performance.now();
  await train({ kernels: kit, encoder, loss, sampler, optimizer, epochs: 1, seed: e });
  const wall = performance.now() - t0;
  const r1 = process.resourceUsage();
  const s1 = sched();
  const k1 = ticks();
  // GC entries arrive on a later turn.
  await new Promise((ok) => setTimeout(ok, 10));
  const run = s0 && s1 ? s1.run - s0.run : undefined;
  const wait = s0 && s1 ? s1.wait - s0.wait : undefined;
  const steal = k0 && k1 && k1.all > k0.all ? (k1.steal - k0.steal) / (k1.all - k0.all) : undefined;
  const left = run === undefined ? undefined : wall - run - wait;
  const cpu = (r1.userCPUTime + r1.systemCPUTime - r0.userCPUTime - r0.systemCPUTime) / 1000;
  console.log(
    `${String(e).padStart(6)} ${ms(wall)} ${ms(run)} ${ms(wait)} ${(steal === undefined ? 'n/a' : (100 * steal).toFixed(1)).padStart(7)} ${ms(left)} ${ms(gcMs)} ${String(r1.voluntaryContextSwitches - r0.voluntaryContextSwitches).padStart(5)} ${ms(cpu).padStart(9)} ${String(r1.minorPageFault - r0.minorPageFault).padStart(7)}`,
  );
}
kit.dispose();
