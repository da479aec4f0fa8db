/**
 * A helper thread of the wasm backend (`threads > 1`). It instantiates the threads build of the
 * module on the backend's shared memory, then waits on a small shared control block for jobs: the
 * calling thread writes a job's arguments, bumps the sequence number and computes its own share;
 * this thread computes the rest and publishes the same number as done. It has no runtime imports,
 * so the compiled file runs as is in Node's worker_threads and in browser module workers.
 */
import type { ControlInit, DestinationMessage } from './control.js';

// The control block's layout (control.ts), repeated here so this file has no runtime imports and
// a bundler can ship it as one asset; test/threads.node.test.ts checks that the two agree. Which
// export a job runs comes with the start-up message (`init.jobs`), so nothing here is per kernel.
/** How long a helper keeps looking for its next job before it sleeps (milliseconds). */
const SPIN_MS = 0.5;
const SEQ = 0;
const DONE = 1;
const FAILED = 2;
const JOB_KIND = 3;
const JOB_ARGC = 4;
const JOB_COUNT_ARG = 5;
const JOB_ARGS = 3;
const JOB_STEPS = 16;
const JOB_ROWS = 29;
const JOB_CHUNK = 30;
const COPY_LINES = 31;
const COPY_SRC = 32;
const COPY_SRC_STRIDE = 33;
const COPY_DST = 34;
const COPY_DST_STRIDE = 35;
const COPY_DEST = 36;
const COPY_AHEAD = 37;
const COPY_AHEAD_LENGTH = 38;
const WORK_NEXT = 0;
const WORK_FINISHED = 16;
const KIND_STOP = 0;
const JOB_THREW = 1;
const HELPER_GONE = 2;

type Export = (...args: number[]) => unknown;

/** Reads the next message on a port synchronously (Node's `receiveMessageOnPort`), if any. */
type Receive = (port: unknown) => { message: unknown } | undefined;

/** Where a shared job that copies out its chunks finds its destination (see share.ts, `CopyOut`). */
interface Out {
  memory: WebAssembly.Memory;
  port: unknown;
  receive: Receive;
}

async function run(init: ControlInit, ready: () => void, receive?: Receive): Promise<void> {
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
  const out =
    init.port !== undefined && receive ? { memory: init.memory, port: init.port, receive } : undefined;
  ready();
  try {
    serve(jobs, ctl, args, work, out);
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
function serve(
  jobs: Export[],
  ctl: Int32Array,
  args: Float64Array,
  work: Int32Array,
  out: Out | undefined,
): void {
  let seen = 0;
  for (;;) {
    // Awake a little longer before sleeping: the next call of a loop finds this thread running,
    // where waking a sleeping one cost about 100 us on a 2-vCPU VM (a search of 4 queries over
    // 2,048 rows then ran slower on two threads than on one).
    const until = performance.now() + SPIN_MS;
    while (Atomics.load(ctl, SEQ) === seen && performance.now() < until);
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
      else chunks(jobs[kind - 1], list, args, countArg, work, out);
      Atomics.store(ctl, FAILED, 0);
    } catch {
      Atomics.store(ctl, FAILED, JOB_THREW);
    }
    Atomics.store(ctl, DONE, seq);
    Atomics.notify(ctl, DONE);
  }
}

/**
 * Takes chunks of a shared job until none is left (share.ts does the same on the calling thread).
 * A job that copies out (slot COPY_LINES) copies each chunk it computed into the destination before
 * counting it finished, so the caller returns only once every output is in place.
 */
function chunks(
  job: Export,
  base: number[],
  args: Float64Array,
  countArg: number,
  work: Int32Array,
  out: Out | undefined,
): void {
  const rows = args[JOB_ROWS];
  // Chunk k's first row, as share.ts cuts them (threads.ts, chunkStart).
  const chunk = args[JOB_CHUNK];
  const first = (k: number) => k * chunk;
  const steps = base.map((_, t) => args[JOB_STEPS + t]);
  const list = base.slice();
  const lines = args[COPY_LINES];
  // Held for this job only, so a result the caller's user drops is not kept alive here.
  const dest = lines > 0 ? destination(out, args[COPY_DEST]) : undefined;
  const heap = dest ? new Float32Array(out!.memory.buffer) : undefined;
  const src = args[COPY_SRC];
  const srcStride = args[COPY_SRC_STRIDE];
  const dst = args[COPY_DST];
  const dstStride = args[COPY_DST_STRIDE];
  const ahead = args[COPY_AHEAD];
  const aheadLength = dest ? args[COPY_AHEAD_LENGTH] : 0;
  for (;;) {
    const k = Atomics.add(work, WORK_NEXT, 1);
    const start = first(k);
    if (start >= rows) return;
    const count = Math.min(first(k + 1), rows) - start;
    for (let t = 0; t < list.length; t++) list[t] = base[t] + start * steps[t];
    list[countArg] = count;
    job(...list);
    if (dest) {
      for (let l = 0; l < lines; l++) {
        const s = src + l * srcStride + start;
        dest.set(heap!.subarray(s, s + count), dst + l * dstStride + start);
      }
      // The first touch of this chunk's piece of the pages the next job copies into (as in
      // threads.ts, touchAhead): whole runs of pages per thread.
      if (aheadLength > 0) {
        const s = ahead + Math.floor((start * aheadLength) / rows);
        const e = ahead + Math.floor(((start + count) * aheadLength) / rows);
        for (let i = s; i < e; i += 1024) dest[i] = 0;
        if (e > s) dest[e - 1] = 0;
      }
    }
    if (Atomics.add(work, WORK_FINISHED, count) + count === rows) Atomics.notify(work, WORK_FINISHED);
  }
}

/**
 * The destination posted for job `seq`: the caller posts it on this helper's port before it
 * publishes the job, so it is there to read. Older ones (jobs this helper found no chunk in, or
 * failed) are passed over.
 */
function destination(out: Out | undefined, seq: number): Float32Array {
  if (out === undefined) throw new Error('a copying job was posted to a helper without a port');
  for (;;) {
    const m = out.receive(out.port)?.message as DestinationMessage | undefined;
    if (m === undefined) throw new Error(`the destination of job ${seq} was not posted`);
    if (m.seq === seq) return new Float32Array(m.buffer, m.offset, m.length);
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
  const { parentPort, receiveMessageOnPort } = (await import(/* @vite-ignore */ name)) as {
    parentPort: Port;
    receiveMessageOnPort: Receive;
  };
  parentPort.once(
    'message',
    (init) => void run(init, () => parentPort.postMessage('ready'), receiveMessageOnPort),
  );
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
