import { argError } from '@cosinekit/core/backend';
import {
  CONTROL_BYTES,
  COPY_AHEAD,
  COPY_AHEAD_LENGTH,
  COPY_DEST,
  COPY_DST,
  COPY_DST_STRIDE,
  COPY_LINES,
  COPY_SRC,
  COPY_SRC_STRIDE,
  type ControlInit,
  type DestinationMessage,
  DONE,
  FAILED,
  HELPER_GONE,
  JOB_ARGC,
  JOB_ARGS,
  JOB_CHUNK,
  JOB_COUNT_ARG,
  JOB_KIND,
  JOB_ROWS,
  JOB_STEPS,
  JOB_THREW,
  JOBS,
  type Job,
  KIND_STOP,
  MAX_ARGS,
  SEQ,
  WORK_BYTES,
} from './control.js';

/** Longest a caller waits for a helper's share of one call before giving up on it (ms). */
export const HELPER_TIMEOUT = 120_000;

interface NodeGlobals {
  process?: { versions?: { node?: string } };
  crossOriginIsolated?: boolean;
}

function isNode(): boolean {
  return typeof (globalThis as NodeGlobals).process?.versions?.node === 'string';
}

/**
 * Why helper threads cannot run here, or undefined when they can: they need SharedArrayBuffer,
 * which browsers give only to cross-origin-isolated pages.
 */
export function threadsUnavailable(): string | undefined {
  if (!isNode() && (globalThis as NodeGlobals).crossOriginIsolated !== true) {
    return 'the page is not cross-origin isolated (COOP/COEP headers), so wasm memory cannot be shared with workers';
  }
  if (typeof SharedArrayBuffer !== 'function' || typeof Atomics !== 'object') {
    return 'SharedArrayBuffer is not available (browsers need a cross-origin-isolated page)';
  }
  return undefined;
}

/**
 * The threads to use when the caller does not say: every core (Node: `os.availableParallelism()`;
 * browsers: `navigator.hardwareConcurrency`), or 1 with the reason where helpers cannot run.
 */
export async function defaultThreads(): Promise<{ threads: number; note?: string }> {
  const why = threadsUnavailable();
  if (why !== undefined) return { threads: 1, note: why };
  return { threads: await coreCount() };
}

/**
 * The most threads a backend runs, whatever it is asked: four per core of this machine, 16 at
 * least. Each helper is a worker of its own (a stack, an instance, about 9 MB here): `threads: 300`
 * took 13.7 s and 2.6 GB to start on 2 cores, and `threads: 1e9` held `init()` until the kit gave
 * up on it.
 */
export async function threadLimit(): Promise<number> {
  return Math.max(16, 4 * (await coreCount()));
}

/** This machine's cores: `os.availableParallelism()` in Node, `navigator.hardwareConcurrency` elsewhere, 1 at least. */
async function coreCount(): Promise<number> {
  let cores = 1;
  if (isNode()) {
    const name = 'node:os';
    const os = (await import(/* @vite-ignore */ name)) as {
      availableParallelism?: () => number;
      cpus(): unknown[];
    };
    cores = os.availableParallelism?.() ?? os.cpus().length;
  } else {
    cores =
      (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 1;
  }
  return Math.max(1, Math.floor(cores) || 1);
}

interface HelperWorker {
  postMessage(data: unknown, transfer?: unknown[]): void;
  terminate(): unknown;
}

/** The calling thread's end of a helper's message channel (Node's `MessagePort`). */
interface Port {
  postMessage(data: unknown): void;
  close(): void;
  unref?(): void;
}

/**
 * Where a shared job's outputs go besides wasm memory: after computing a chunk of rows [start,
 * start + count), the thread that computed it copies, for each of `lines` lines, the floats at
 * `src + l * srcStride + start` in wasm memory to `dst + l * dstStride + start` in `dest`. So the
 * copy out of wasm memory, and the first touch of the result's pages, are shared like the compute
 * (helpers need `dest` over a SharedArrayBuffer; see {@link HelperPool.copies}).
 */
export interface CopyOut {
  dest: Float32Array;
  lines: number;
  /** Float index in wasm memory. */
  src: number;
  srcStride: number;
  /** Float index in `dest`. */
  dst: number;
  dstStride: number;
  /**
   * Floats of `dest` from `ahead` on that the next job will copy into (0 or absent: none). The
   * chunk of rows [start, start + count) of n touches the same share of them, [start / n, (start +
   * count) / n) of the range (one write of 0, which they hold, per page), so a short chunk touches
   * as little as it computes: contiguous pieces, so the threads fault those pages in by whole runs, where the next job's
   * chunks, columns of every line, would have both threads faulting the same pages (measured about
   * 13% more CPU for the faults of 40 MB written that way).
   */
  ahead?: number;
  aheadLength?: number;
}

/**
 * How a shared job's rows are cut into chunks: `chunk` rows each (the last one shorter), so the
 * threads run out of work within a chunk of each other. Chunk `k` starts at {@link chunkStart};
 * the helper (worker.ts) computes the same.
 */
export interface Schedule {
  chunk: number;
}

/** The first row of chunk `k` (see {@link Schedule}). */
export function chunkStart(s: Schedule, k: number): number {
  return k * s.chunk;
}

/** How many chunks `schedule` cuts `rows` into. */
export function chunkCount(s: Schedule, rows: number): number {
  return Math.ceil(rows / s.chunk);
}

/** The first-touch share of the chunk of rows [start, start + count) of `n` (see {@link CopyOut.ahead}). */
export function touchAhead(c: CopyOut, start: number, count: number, n: number): void {
  const length = c.aheadLength ?? 0;
  if (!(length > 0)) return;
  const from = c.ahead!;
  const s = from + Math.floor((start * length) / n);
  const e = from + Math.floor(((start + count) * length) / n);
  const d = c.dest;
  // 1024 floats are one 4 KiB page: a write every 1024 (and at the end) reaches every page.
  for (let i = s; i < e; i += 1024) d[i] = 0;
  if (e > s) d[e - 1] = 0;
}

/** The default location of the helper script, resolved like the binaries (see loader.ts). */
function workerUrl(): URL {
  return new URL('../dist/worker.js', import.meta.url);
}

/**
 * Helper threads that compute shares of the threaded kernels' calls on the shared memory (see
 * share.ts). The calling thread posts a share to each helper through its control block, computes
 * its own share, then waits for theirs (Atomics.wait in Node; a spin in a browser's main thread,
 * which may not block). So kernels stay synchronous.
 */
export class HelperPool {
  readonly #workers: HelperWorker[];
  readonly #ctl: Int32Array[];
  /** The same control blocks as float64 slots, for the jobs' arguments. */
  readonly #args: Float64Array[];
  readonly #seq: number[];
  /** Each helper's port, to post a copying job's destination on (Node); undefined in browsers. */
  readonly #ports: Port[] | undefined;
  /** Number of the latest destination posted to each helper. */
  readonly #dests: number[];
  readonly #canBlock: boolean;
  /** Helpers posted a job the caller did not wait for (a shared call that ended without them). */
  #pending: number[] = [];
  #stopped = false;
  /** The work block shared by every thread (control.ts, WORK_NEXT). */
  readonly work: Int32Array;

  private constructor(
    workers: HelperWorker[],
    controls: SharedArrayBuffer[],
    work: SharedArrayBuffer,
    ports: Port[] | undefined,
  ) {
    this.#workers = workers;
    this.#ports = ports;
    this.#dests = workers.map(() => 0);
    this.work = new Int32Array(work);
    this.#ctl = controls.map((c) => new Int32Array(c));
    this.#args = controls.map((c) => new Float64Array(c));
    this.#seq = controls.map(() => 0);
    this.#canBlock = canBlock();
    this.#live = workers.map((_, i) => i);
    // A helper that exits between calls (crash, terminate) is seen here, on the event loop; one
    // that fails during a call marks its control block itself (worker.ts).
    this.exited = Promise.all(
      workers.map(
        (w, i) =>
          new Promise<void>((resolve) =>
            onGone(w, () => {
              this.#gone(i);
              resolve();
            }),
          ),
      ),
    ).then(() => undefined);
  }

  /** Helpers alive: indices into the control blocks, in order. */
  #live: number[];

  /** Live helpers (threads computing besides the caller). */
  get size(): number {
    return this.#live.length;
  }

  /** The live helpers' indices, to post shares to. */
  get live(): readonly number[] {
    return this.#live;
  }

  /** Marks helper `i` gone: later calls leave it out. */
  #gone(i: number): void {
    const ctl = this.#ctl[i];
    Atomics.store(ctl, FAILED, HELPER_GONE);
    Atomics.notify(ctl, DONE);
    this.#live = this.#live.filter((t) => t !== i);
  }

  /** Resolves once every helper has exited (after `dispose()`, or as they die). @internal */
  readonly exited: Promise<void>;

  /** Tells helper `i` to leave its loop without terminating it, as a helper failing mid-call would. @internal */
  stopOne(i: number): void {
    this.#ctl[i][JOB_KIND] = KIND_STOP;
    this.#publish(i);
  }

  /** Stops helper `i` as if it had crashed, and resolves once it is gone. For tests. @internal */
  async crash(i: number): Promise<void> {
    const w = this.#workers[i];
    await new Promise<void>((resolve) => {
      onGone(w, resolve);
      void w.terminate();
    });
    this.#gone(i);
  }

  /**
   * Starts `count` helpers on `module` (the threads build) and `memory` (shared). Stops starting
   * them, and ends those started, once `cancelled()` says so (checked before each): a backend
   * disposed while it started 1,000 helpers once went on starting them for minutes.
   */
  static async start(
    count: number,
    module: WebAssembly.Module,
    memory: WebAssembly.Memory,
    cancelled: () => boolean = () => false,
    limitMs = Number.POSITIVE_INFINITY,
  ): Promise<HelperPool> {
    const workers: HelperWorker[] = [];
    const controls: SharedArrayBuffer[] = [];
    const work = new SharedArrayBuffer(WORK_BYTES);
    const channel = await messageChannel();
    const ports: Port[] | undefined = channel ? [] : undefined;
    try {
      for (let i = 0; i < count; i++) {
        if (cancelled()) throw new Error('cancelled: the backend was disposed while its helpers started');
        const control = new SharedArrayBuffer(CONTROL_BYTES);
        const init: ControlInit = { module, memory, control, work, jobs: JOBS };
        const pair = channel?.();
        if (pair) {
          init.port = pair.port2;
          pair.port1.unref?.();
          ports!.push(pair.port1);
        }
        workers.push(await spawn(init, limitMs));
        controls.push(control);
      }
      // Cancelled while the last one started: none is handed back running.
      if (cancelled()) throw new Error('cancelled: the backend was disposed while its helpers started');
    } catch (err) {
      for (const w of workers) void w.terminate();
      for (const p of ports ?? []) p.close();
      throw err;
    }
    return new HelperPool(workers, controls, work, ports);
  }

  /**
   * True when shared jobs may copy their chunks into a destination (`CopyOut`): the helpers read
   * it from their port synchronously, which Node can do and browsers cannot.
   */
  get copies(): boolean {
    return this.#ports !== undefined;
  }

  /** Posts the export `job` with `args` (booleans as 0 / 1) to helper `i`. */
  post(i: number, job: Job, args: readonly (number | boolean)[]): void {
    this.settle();
    this.#write(i, job, args, -1);
    this.#publish(i);
  }

  /**
   * Posts a shared job to helper `i`: it takes chunks of `rows` (cut as `schedule` says) from the
   * work block until none is left, running `job` on `args[t] + start * steps[t]` with argument
   * `countArg` set to the chunk's rows (see share.ts).
   */
  postShared(
    i: number,
    job: Job,
    args: readonly number[],
    steps: readonly number[],
    countArg: number,
    rows: number,
    schedule: Schedule,
    copy?: CopyOut,
  ): void {
    this.#write(i, job, args, countArg);
    const slots = this.#args[i];
    for (let t = 0; t < steps.length; t++) slots[JOB_STEPS + t] = steps[t];
    slots[JOB_ROWS] = rows;
    slots[JOB_CHUNK] = schedule.chunk;
    slots[COPY_LINES] = 0;
    if (copy !== undefined) {
      const port = this.#ports?.[i];
      if (port === undefined)
        throw new Error(`wasm backend: '${job}' cannot copy out on a helper without a port`);
      const seq = ++this.#dests[i];
      // On the port before the job is published, so the helper finds it there (worker.ts).
      const { buffer, byteOffset: offset, length } = copy.dest;
      port.postMessage({
        seq,
        buffer: buffer as SharedArrayBuffer,
        offset,
        length,
      } satisfies DestinationMessage);
      slots[COPY_LINES] = copy.lines;
      slots[COPY_SRC] = copy.src;
      slots[COPY_SRC_STRIDE] = copy.srcStride;
      slots[COPY_DST] = copy.dst;
      slots[COPY_DST_STRIDE] = copy.dstStride;
      slots[COPY_DEST] = seq;
      slots[COPY_AHEAD] = copy.ahead ?? 0;
      slots[COPY_AHEAD_LENGTH] = copy.aheadLength ?? 0;
    }
    this.#publish(i);
  }

  #write(i: number, job: Job, args: readonly (number | boolean)[], countArg: number): void {
    if (args.length > MAX_ARGS) throw new Error(`wasm backend: '${job}' has more than ${MAX_ARGS} arguments`);
    const ctl = this.#ctl[i];
    const slots = this.#args[i];
    ctl[JOB_KIND] = JOBS.indexOf(job) + 1;
    ctl[JOB_ARGC] = args.length;
    ctl[JOB_COUNT_ARG] = countArg;
    for (let t = 0; t < args.length; t++) slots[JOB_ARGS + t] = +args[t];
  }

  /** True when helper `i`'s latest job threw, or the helper is gone. */
  failed(i: number): boolean {
    const ctl = this.#ctl[i];
    const f = Atomics.load(ctl, FAILED);
    return f === HELPER_GONE || (f === JOB_THREW && Atomics.load(ctl, DONE) === this.#seq[i]);
  }

  /** May block the calling thread in Atomics.wait (Node: yes; a browser's main thread: no). */
  get canBlock(): boolean {
    return this.#canBlock;
  }

  /** Remembers helpers whose latest job the caller left unfinished (see {@link settle}). */
  leave(helpers: readonly number[]): void {
    this.#pending = [...helpers];
  }

  /**
   * Waits for the helpers a shared call left behind: they found no chunk left, but must have
   * read their job before the work block is reused. One that died meanwhile is left out of later
   * calls, with no error: no result depended on it.
   */
  settle(): void {
    const pending = this.#pending;
    this.#pending = [];
    for (const h of pending) {
      try {
        this.wait(h);
      } catch {
        // Nothing of the finished call was lost; the helper is out of `live` now.
      }
    }
  }

  /** Makes the written job visible and wakes the helper. */
  #publish(i: number): void {
    const ctl = this.#ctl[i];
    const seq = (this.#seq[i] + 1) | 0;
    this.#seq[i] = seq;
    Atomics.store(ctl, SEQ, seq);
    Atomics.notify(ctl, SEQ);
  }

  /**
   * Waits until helper `i` finished its latest job. Throws `UNSUPPORTED` when its share failed, or
   * when the helper died or stopped answering (it is then left out of later calls, which run on
   * the threads that remain).
   */
  wait(i: number, op?: string): void {
    const ctl = this.#ctl[i];
    const seq = this.#seq[i];
    const start = Date.now();
    let done = Atomics.load(ctl, DONE);
    while (done !== seq && Atomics.load(ctl, FAILED) !== HELPER_GONE) {
      if (this.#canBlock) Atomics.wait(ctl, DONE, done, 100);
      if (Date.now() - start > HELPER_TIMEOUT) {
        void this.#workers[i].terminate();
        this.#gone(i);
        break;
      }
      done = Atomics.load(ctl, DONE);
    }
    const failed = Atomics.load(ctl, FAILED);
    if (failed === HELPER_GONE) {
      this.#live = this.#live.filter((t) => t !== i);
      argError(
        'UNSUPPORTED',
        op || 'wasm',
        'backend',
        'lost a helper thread, which died; later calls run on the threads left.',
      );
    }
    if (failed === JOB_THREW) {
      argError('UNSUPPORTED', op || 'wasm', 'backend', 'had a helper thread fail.');
    }
  }

  /** Stops the helpers. */
  dispose(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#pending = [];
    for (let i = 0; i < this.#workers.length; i++) {
      this.#ctl[i][JOB_KIND] = KIND_STOP;
      this.#publish(i);
      void this.#workers[i].terminate();
    }
    for (const p of this.#ports ?? []) p.close();
    this.#live = [];
  }
}

/** True when this thread may block in Atomics.wait (Node's main thread may; a browser's may not). */
function canBlock(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

interface NodeWorker extends HelperWorker {
  once(event: 'message' | 'error' | 'exit', fn: (v: unknown) => void): void;
  unref(): void;
}

interface BrowserWorker extends HelperWorker {
  onmessage: ((e: { data: unknown }) => void) | null;
  onerror: ((e: unknown) => void) | null;
}

/** Calls `fn` once when the helper exits or fails outside a job (a Node 'exit' or a browser 'error'). */
function onGone(w: HelperWorker, fn: () => void): void {
  if ('once' in w) {
    (w as NodeWorker).once('exit', () => fn());
  } else {
    const b = w as BrowserWorker;
    const before = b.onerror;
    b.onerror = (e) => {
      before?.(e);
      fn();
    };
  }
}

/**
 * Node: makes the message channels that carry copying jobs' destinations to the helpers.
 * Browsers: undefined (a worker there cannot read a message while it computes).
 */
async function messageChannel(): Promise<(() => { port1: Port; port2: unknown }) | undefined> {
  if (!isNode()) return undefined;
  const name = 'node:worker_threads';
  const { MessageChannel } = (await import(/* @vite-ignore */ name)) as {
    MessageChannel: new () => { port1: Port; port2: unknown };
  };
  return () => new MessageChannel();
}

/**
 * Starts one helper and resolves once it has instantiated the module; past `limitMs` (a script
 * that never arrives) it is stopped and the start fails, so the backend runs on one thread.
 */
async function spawn(init: ControlInit, limitMs: number): Promise<HelperWorker> {
  if (isNode()) {
    const name = 'node:worker_threads';
    const { Worker } = (await import(/* @vite-ignore */ name)) as { Worker: new (url: URL) => NodeWorker };
    const w = new Worker(workerUrl());
    // A helper blocks in Atomics.wait between calls: it must not keep the process alive.
    w.unref();
    const up = new Promise<void>((resolve, reject) => {
      w.once('message', () => resolve());
      w.once('error', (e) => reject(e));
      w.once('exit', () => reject(new Error('the helper thread exited during start-up')));
      w.postMessage(init, init.port === undefined ? [] : [init.port]);
    });
    await withinLimit(up, limitMs, () => void w.terminate());
    return w;
  }
  const W = (globalThis as unknown as { Worker: new (url: URL, o: { type: 'module' }) => BrowserWorker })
    .Worker;
  const w = new W(workerUrl(), { type: 'module' });
  const up = new Promise<void>((resolve, reject) => {
    w.onmessage = () => resolve();
    w.onerror = (e) => reject(new Error(`the helper thread failed to start: ${startFailure(e)}`));
    w.postMessage(init);
  });
  await withinLimit(up, limitMs, () => void w.terminate());
  w.onmessage = null;
  return w;
}

/** `p`, or a failure once `limitMs` has passed (`stop` then runs). */
async function withinLimit(p: Promise<void>, limitMs: number, stop: () => void): Promise<void> {
  if (!(limitMs < MAX_TIMER_MS)) return p;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(new Error(`the helper thread did not start within ${limitMs} ms (tuning.helperStartMs)`)),
          limitMs,
        );
      }),
    ]);
  } catch (e) {
    stop();
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/** Longest delay a timer takes (2^31 - 1 ms); past it there is no bound. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * What a browser says of a worker that failed to start, in words: an `ErrorEvent`'s message and
 * place, or for a script that could not be loaded (a plain `Event`, no message: it read "[object
 * Event]") which script and what to check.
 */
function startFailure(e: unknown): string {
  const ev = e as { message?: unknown; filename?: unknown; lineno?: unknown };
  if (typeof ev?.message === 'string' && ev.message.length > 0)
    return typeof ev.filename === 'string' && ev.filename.length > 0
      ? `${ev.message} (${ev.filename}:${String(ev.lineno)})`
      : ev.message;
  return `its script (${workerUrl().href}) could not be loaded: check that it is served, and with the Cross-Origin-Embedder-Policy the page has`;
}
