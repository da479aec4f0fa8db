import { CosineKitError } from '@cosinekit/core';
import {
  CONTROL_SLOTS,
  type ControlInit,
  DONE,
  FAILED,
  JOB_ARGS,
  JOB_KIND,
  KIND_DOTS,
  KIND_DOTS_I8,
  KIND_STOP,
  SEQ,
} from './control.js';

/** Longest a caller waits for a helper's share of one call before giving up (ms). */
const HELPER_TIMEOUT = 120_000;

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
  if (typeof SharedArrayBuffer !== 'function' || typeof Atomics !== 'object') {
    return 'SharedArrayBuffer is not available (browsers need a cross-origin-isolated page)';
  }
  if (!isNode() && (globalThis as NodeGlobals).crossOriginIsolated !== true) {
    return 'the page is not cross-origin isolated, so wasm memory cannot be shared with workers';
  }
  return undefined;
}

interface HelperWorker {
  postMessage(data: unknown): void;
  terminate(): unknown;
}

/** The default location of the helper script, resolved like the binaries (see loader.ts). */
function workerUrl(): URL {
  return new URL('../dist/worker.js', import.meta.url);
}

/**
 * Helper threads that compute shares of the dot-product engine's calls on the shared memory. The
 * calling thread posts a share to each helper through its control block, computes its own share,
 * then waits for theirs (Atomics.wait in Node; a spin in a browser's main thread, which may not
 * block). So kernels stay synchronous.
 */
export class HelperPool {
  readonly size: number;
  readonly #workers: HelperWorker[];
  readonly #ctl: Int32Array[];
  readonly #seq: number[];
  readonly #canBlock: boolean;
  #stopped = false;

  private constructor(workers: HelperWorker[], controls: SharedArrayBuffer[]) {
    this.size = workers.length;
    this.#workers = workers;
    this.#ctl = controls.map((c) => new Int32Array(c));
    this.#seq = controls.map(() => 0);
    this.#canBlock = canBlock();
  }

  /** Starts `count` helpers on `module` (the threads build) and `memory` (shared). */
  static async start(
    count: number,
    module: WebAssembly.Module,
    memory: WebAssembly.Memory,
  ): Promise<HelperPool> {
    const workers: HelperWorker[] = [];
    const controls: SharedArrayBuffer[] = [];
    try {
      for (let i = 0; i < count; i++) {
        const control = new SharedArrayBuffer(CONTROL_SLOTS * 4);
        const init: ControlInit = { module, memory, control };
        workers.push(await spawn(init));
        controls.push(control);
      }
    } catch (err) {
      for (const w of workers) void w.terminate();
      throw err;
    }
    return new HelperPool(workers, controls);
  }

  /** Posts `dotsWith(...args)` to helper `i`. */
  dots(i: number, args: number[]): void {
    this.#write(i, KIND_DOTS, args);
    this.#publish(i);
  }

  /** Posts `dotsI8(q, qscale, c, n, stride, scales, out)` to helper `i` (`qscale` is a float). */
  dotsI8(
    i: number,
    q: number,
    qscale: number,
    c: number,
    n: number,
    stride: number,
    scales: number,
    out: number,
  ): void {
    this.#write(i, KIND_DOTS_I8, [q, 0, c, n, stride, scales, out]);
    new Float32Array(this.#ctl[i].buffer)[JOB_ARGS + 1] = qscale;
    this.#publish(i);
  }

  #write(i: number, kind: number, args: number[]): void {
    const ctl = this.#ctl[i];
    ctl[JOB_KIND] = kind;
    for (let t = 0; t < args.length; t++) ctl[JOB_ARGS + t] = args[t];
  }

  /** Makes the written job visible and wakes the helper. */
  #publish(i: number): void {
    const ctl = this.#ctl[i];
    const seq = (this.#seq[i] + 1) | 0;
    this.#seq[i] = seq;
    Atomics.store(ctl, SEQ, seq);
    Atomics.notify(ctl, SEQ);
  }

  /** Waits until helper `i` finished its latest job. */
  wait(i: number): void {
    const ctl = this.#ctl[i];
    const seq = this.#seq[i];
    const start = Date.now();
    let done = Atomics.load(ctl, DONE);
    while (done !== seq) {
      if (this.#canBlock) Atomics.wait(ctl, DONE, done, 1000);
      if (Date.now() - start > HELPER_TIMEOUT) {
        throw new CosineKitError('UNSUPPORTED', 'A helper thread of the wasm backend stopped answering.');
      }
      done = Atomics.load(ctl, DONE);
    }
    if (ctl[FAILED] === 1)
      throw new CosineKitError('UNSUPPORTED', 'A helper thread of the wasm backend failed.');
  }

  /** Stops the helpers. */
  dispose(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    for (let i = 0; i < this.size; i++) {
      this.#write(i, KIND_STOP, []);
      this.#publish(i);
      void this.#workers[i].terminate();
    }
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

/** Starts one helper and resolves once it has instantiated the module. */
async function spawn(init: ControlInit): Promise<HelperWorker> {
  if (isNode()) {
    const name = 'node:worker_threads';
    const { Worker } = (await import(/* @vite-ignore */ name)) as { Worker: new (url: URL) => NodeWorker };
    const w = new Worker(workerUrl());
    // A helper blocks in Atomics.wait between calls: it must not keep the process alive.
    w.unref();
    await new Promise<void>((resolve, reject) => {
      w.once('message', () => resolve());
      w.once('error', (e) => reject(e));
      w.once('exit', () => reject(new Error('the helper thread exited during start-up')));
      w.postMessage(init);
    });
    return w;
  }
  const W = (globalThis as unknown as { Worker: new (url: URL, o: { type: 'module' }) => BrowserWorker })
    .Worker;
  const w = new W(workerUrl(), { type: 'module' });
  await new Promise<void>((resolve, reject) => {
    w.onmessage = () => resolve();
    w.onerror = (e) => reject(new Error(`the helper thread failed to start: ${String(e)}`));
    w.postMessage(init);
  });
  w.onmessage = null;
  return w;
}
