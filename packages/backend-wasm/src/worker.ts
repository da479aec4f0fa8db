/**
 * A helper thread of the wasm backend (`threads > 1`). It instantiates the threads build of the
 * module on the backend's shared memory, then waits on a small shared control block for jobs: the
 * calling thread writes a job's arguments, bumps the sequence number and computes its own share;
 * this thread computes the rest and publishes the same number as done. It has no runtime imports,
 * so the compiled file runs as is in Node's worker_threads and in browser module workers.
 */
import type { ControlInit } from './control.js';

// The control block's layout (control.ts), repeated here so this file has no runtime imports and
// a bundler can ship it as one asset; test/threads.node.test.ts checks that the two agree. Which
// export a job runs comes with the start-up message (`init.jobs`), so nothing here is per kernel.
const SEQ = 0;
const DONE = 1;
const FAILED = 2;
const JOB_KIND = 3;
const JOB_ARGC = 4;
const JOB_COUNT_ARG = 5;
const JOB_ARGS = 3;
const JOB_STEPS = 15;
const JOB_ROWS = 27;
const JOB_CHUNK = 28;
const WORK_NEXT = 0;
const WORK_FINISHED = 16;
const KIND_STOP = 0;
const JOB_THREW = 1;
const HELPER_GONE = 2;

type Export = (...args: number[]) => unknown;

async function run(init: ControlInit, ready: () => void): Promise<void> {
  const instance = await WebAssembly.instantiate(init.module, { env: { memory: init.memory } });
  const exports = instance.exports as unknown as Record<string, Export>;
  const jobs = init.jobs.map((name) => exports[name]);
  const ctl = new Int32Array(init.control);
  const args = new Float64Array(init.control);
  const work = new Int32Array(init.work);
  // Node: a helper that exits abruptly (process.exit, an uncaught error) still releases a caller
  // blocked on it; `finally` below covers the rest.
  (globalThis as NodeGlobals).process?.on?.('exit', () => {
    Atomics.store(ctl, FAILED, HELPER_GONE);
    Atomics.notify(ctl, DONE);
  });
  ready();
  try {
    serve(jobs, ctl, args, work);
  } finally {
    // Stopped, or failed outside a job: a caller waiting on this helper must not hang.
    Atomics.store(ctl, FAILED, HELPER_GONE);
    Atomics.notify(ctl, DONE);
  }
}

/**
 * Runs jobs until told to stop: job kind `k` is `jobs[k - 1]`, on the arguments posted with it, or
 * for a shared job on chunk after chunk taken from the work block until none is left.
 */
function serve(jobs: Export[], ctl: Int32Array, args: Float64Array, work: Int32Array): void {
  let seen = 0;
  for (;;) {
    Atomics.wait(ctl, SEQ, seen);
    const seq = Atomics.load(ctl, SEQ);
    if (seq === seen) continue;
    seen = seq;
    const kind = ctl[JOB_KIND];
    if (kind === KIND_STOP) return;
    try {
      const argc = ctl[JOB_ARGC];
      const list: number[] = [];
      for (let t = 0; t < argc; t++) list.push(args[JOB_ARGS + t]);
      const countArg = ctl[JOB_COUNT_ARG];
      if (countArg < 0) jobs[kind - 1](...list);
      else chunks(jobs[kind - 1], list, args, countArg, work);
      Atomics.store(ctl, FAILED, 0);
    } catch {
      Atomics.store(ctl, FAILED, JOB_THREW);
    }
    Atomics.store(ctl, DONE, seq);
    Atomics.notify(ctl, DONE);
  }
}

/** Takes chunks of a shared job until none is left (share.ts does the same on the calling thread). */
function chunks(job: Export, base: number[], args: Float64Array, countArg: number, work: Int32Array): void {
  const rows = args[JOB_ROWS];
  const chunk = args[JOB_CHUNK];
  const steps = base.map((_, t) => args[JOB_STEPS + t]);
  const list = base.slice();
  for (;;) {
    const start = Atomics.add(work, WORK_NEXT, 1) * chunk;
    if (start >= rows) return;
    const count = Math.min(chunk, rows - start);
    for (let t = 0; t < list.length; t++) list[t] = base[t] + start * steps[t];
    list[countArg] = count;
    job(...list);
    if (Atomics.add(work, WORK_FINISHED, count) + count === rows) Atomics.notify(work, WORK_FINISHED);
  }
}

interface NodeGlobals {
  process?: { versions?: { node?: string }; on?(event: 'exit', fn: () => void): void };
}

interface Port {
  once(event: 'message', fn: (data: ControlInit) => void): void;
  postMessage(data: unknown): void;
}

if (typeof (globalThis as NodeGlobals).process?.versions?.node === 'string') {
  const name = 'node:worker_threads';
  const { parentPort } = (await import(/* @vite-ignore */ name)) as { parentPort: Port };
  parentPort.once('message', (init) => void run(init, () => parentPort.postMessage('ready')));
} else {
  const self = globalThis as unknown as {
    onmessage: ((e: { data: ControlInit }) => void) | null;
    postMessage(data: unknown): void;
  };
  self.onmessage = (e) => {
    self.onmessage = null;
    void run(e.data, () => self.postMessage('ready'));
  };
}
