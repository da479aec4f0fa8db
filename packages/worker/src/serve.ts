/**
 * The worker's side of a worker kit: one `createCosineKit` in this thread, driven by messages from
 * the calling thread. Corpora stay here, named by handles; results go back by transfer (they are
 * fresh arrays nobody else holds).
 *
 * @module @cosinekit/worker/serve
 */
import {
  type Corpus,
  type CosineKit,
  CosineKitError,
  createCosineKit,
  SearchResult,
  Tensor,
} from '@cosinekit/core';
import { errorText } from '@cosinekit/core/backend';
import {
  evenOut,
  type FromWorker,
  floatsIn,
  floatsOut,
  fromWire,
  HANDLES_OP,
  ownBuffer,
  revokedHere,
  type SharedFloats,
  TAG,
  type ToWorker,
  tagOf,
  toWire,
  workerSignal,
} from './protocol.js';

/** Where this thread's messages come from and go to (a browser worker's scope, or Node's `parentPort`). */
interface Port {
  post(m: FromWorker, transfer?: ArrayBuffer[]): void;
  listen(fn: (m: ToWorker) => void): void;
}

/** Short names of the backends this package knows how to register in a worker. */
const KNOWN: Record<string, string> = {
  wasm: '@cosinekit/backend-wasm/register',
  tfjs: '@cosinekit/backend-tfjs/register',
  gpujs: '@cosinekit/backend-gpujs/register',
  webgpu: '@cosinekit/backend-webgpu/register',
};

/** What the kit side of a call may name: the kit's methods, and a corpus's. */
const KIT_OPS = new Set([
  'ready',
  'rowNorms',
  'normalize',
  'cosineRows',
  'cosineMatrix',
  'topK',
  'corpus',
  'corpusFrom',
  'loadCorpus',
]);
const CORPUS_OPS = new Set(['search', 'similarity', 'add', 'remove', 'save']);

/** The in-flight calls that can be aborted or fed from a stream. */
interface Live {
  abort(): void;
  /** The pending `next()` of a stream, answered by a `chunk` message. */
  waiter?: { resolve(v: IteratorResult<unknown>): void; reject(e: unknown): void };
}

/**
 * Serves a worker kit from this thread. The default worker script (`@cosinekit/worker/worker`) is
 * just this call; write your own script when a bundler must see what the worker imports:
 *
 * ```ts
 * // my-worker.ts
 * import '@cosinekit/backend-wasm/register';
 * import { serveKit } from '@cosinekit/worker/serve';
 * serveKit();
 * ```
 *
 * and pass `new Worker(new URL('./my-worker.ts', import.meta.url), { type: 'module' })` as
 * `createWorkerKit({ worker })`. Call it once per thread.
 */
export async function serveKit(): Promise<void> {
  const port = await connect();
  let kit: CosineKit | undefined;
  /** An init message arrived (the kit is being made, or was). */
  let starting = false;
  const corpora = new Map<number, Corpus>();
  let nextHandle = 1;
  const live = new Map<number, Live>();

  /** A result as plain data, and the buffers that can move instead of being copied. */
  const encode = (v: unknown): [unknown, ArrayBuffer[]] => {
    const moves: ArrayBuffer[] = [];
    const give = (a: ArrayBufferView) => {
      const b = ownBuffer(a);
      if (b && !moves.includes(b)) moves.push(b);
    };
    if (v instanceof SearchResult) {
      give(v.indices);
      give(v.scores);
      const r = { [TAG]: 'result', queries: v.queries, k: v.k, indices: v.indices, scores: v.scores };
      return [v.ids === undefined ? r : { ...r, ids: v.ids }, moves];
    }
    if (v instanceof Tensor) {
      give(v.data);
      return [{ [TAG]: 'tensor', data: floatsOut(v.data), rows: v.rows, cols: v.cols }, moves];
    }
    if (isCorpus(v)) {
      const handle = nextHandle++;
      corpora.set(handle, v);
      return [
        { [TAG]: 'corpus', handle, cols: v.cols, backend: v.backend, storage: v.storage, rows: v.rows },
        moves,
      ];
    }
    if (ArrayBuffer.isView(v)) give(v);
    return [v, moves];
  };

  const oddBack = (x: unknown): unknown => (tagOf(x) === 'odd' ? evenOut((x as { type: string }).type) : x);

  /** An argument with its stand-ins replaced by this thread's own objects (two levels deep). */
  const decode = (v: unknown, id: number, signal: AbortSignal | undefined): unknown => {
    const tag = tagOf(v);
    if (tag === 'tensor') {
      const t = v as { data: Float32Array; rows: number; cols: number };
      return new Tensor(t.data, t.rows, t.cols);
    }
    if (tag === 'ids') return (v as { list: unknown[] }).list.map(oddBack);
    if (tag === 'odd') return oddBack(v);
    if (tag === 'revoked') return revokedHere();
    if (tag === 'signal') return signal;
    if (tag === 'progress') return (rows: number) => port.post({ t: 'progress', id, rows });
    if (tag === 'stream') return stream(id);
    // The caller's out stays on its side: core here writes into an array of its length, which
    // goes back by transfer and is copied into the caller's.
    if (tag === 'shared') {
      const data = floatsIn(v as SharedFloats);
      // A Tensor out keeps its shape, which core checks against the result's.
      const o = v as { rows?: number; cols?: number };
      return o.rows === undefined ? data : new Tensor(data, o.rows, o.cols as number);
    }
    if (tag === 'out') {
      const o = v as { length: number; rows?: number; cols?: number };
      const data = new Float32Array(o.length);
      // A Tensor out keeps its shape, which core checks against the result's.
      return o.rows === undefined ? data : new Tensor(data, o.rows, o.cols as number);
    }
    if (typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v)) {
      const o = v as Record<string, unknown>;
      // Options hold stand-ins one level down, a filter's id lists two.
      const tagged = (x: unknown): boolean =>
        tagOf(x) !== undefined ||
        (typeof x === 'object' &&
          x !== null &&
          !ArrayBuffer.isView(x) &&
          Object.values(x).some((y) => tagOf(y) !== undefined));
      if (Object.values(o).some(tagged)) {
        const out: Record<string, unknown> = {};
        for (const [key, x] of Object.entries(o)) out[key] = decode(x, id, signal);
        return out;
      }
    }
    return v;
  };

  /**
   * The caller's stream, pulled one chunk ahead: while core takes in one chunk, the calling thread
   * makes and sends the next, so the two threads overlap, and at most one chunk waits in between.
   */
  const stream = (id: number): AsyncIterable<unknown> => {
    const pull = () =>
      new Promise<IteratorResult<unknown>>((resolve, reject) => {
        const l = live.get(id);
        if (!l) return resolve({ done: true, value: undefined });
        l.waiter = { resolve, reject };
        port.post({ t: 'pull', id });
      });
    let ahead: Promise<IteratorResult<unknown>> | undefined;
    return {
      [Symbol.asyncIterator]: () => ({
        next: () => {
          const step = ahead ?? pull();
          ahead = undefined;
          return step.then((r) => {
            if (!r.done) {
              ahead = pull();
              // Nobody may ever read it (an abort, or an error in this chunk): not an unhandled rejection.
              ahead.catch(() => undefined);
            }
            return r;
          });
        },
        return: async () => {
          port.post({ t: 'stop', id });
          return { done: true, value: undefined };
        },
      }),
    };
  };

  const run = async (m: Extract<ToWorker, { t: 'call' }>): Promise<void> => {
    const { id, target, op } = m;
    const { signal, abort } = workerSignal(m.flag);
    live.set(id, {
      abort() {
        abort();
        const w = live.get(id)?.waiter;
        if (w) w.reject(aborted(op));
      },
    });
    const corpus = target === 0 ? undefined : corpora.get(target);
    const rows = () => (corpus && !corpus.disposed ? corpus.rows : undefined);
    try {
      if (kit === undefined) throw new CosineKitError('UNSUPPORTED', 'The worker kit is not initialised.');
      const args = m.args.map((a) => decode(a, id, signal));
      let value: unknown;
      if (target === 0 && op === HANDLES_OP) {
        // For leak checks: the corpora this worker still holds for the calling thread.
        value = corpora.size;
      } else if (target === 0) {
        if (!KIT_OPS.has(op)) throw new CosineKitError('UNSUPPORTED', `'${op}' is not a kit operation.`);
        value = await (kit as unknown as Record<string, (...a: unknown[]) => unknown>)[op](...args);
      } else {
        if (!CORPUS_OPS.has(op))
          throw new CosineKitError('UNSUPPORTED', `'${op}' is not a corpus operation.`);
        if (!corpus)
          throw new CosineKitError(
            'DISPOSED',
            `Argument 'corpus' passed to '${op}' was disposed; create a new corpus.`,
            {
              op,
              arg: 'corpus',
            },
          );
        value = await (corpus as unknown as Record<string, (...a: unknown[]) => unknown>)[op](...args);
      }
      const [out, moves] = encode(value);
      port.post({ t: 'done', id, value: out, rows: rows() }, moves);
    } catch (e) {
      port.post({ t: 'fail', id, error: toWire(e), rows: rows() });
    } finally {
      live.delete(id);
    }
  };

  port.listen((m) => {
    switch (m.t) {
      case 'ping':
        port.post({ t: 'hello' });
        return;
      case 'init':
        // One kit per worker: a second createWorkerKit on a worker already serving one would
        // take over its calls' ids.
        if (kit !== undefined || starting) {
          port.post({
            t: 'fail',
            id: 0,
            key: m.key,
            error: toWire(
              new CosineKitError(
                'INVALID_ARGUMENT',
                "Argument 'worker' passed to 'createWorkerKit' already serves a kit: start another worker for another kit.",
                { op: 'createWorkerKit', arg: 'worker' },
              ),
            ),
          });
          return;
        }
        starting = true;
        void init(m).then(
          (k) => {
            kit = k;
            port.post({ t: 'ready', key: m.key });
          },
          (e) => port.post({ t: 'fail', id: 0, key: m.key, error: toWire(e) }),
        );
        return;
      case 'call':
        void run(m);
        return;
      case 'abort':
        live.get(m.id)?.abort();
        return;
      case 'chunk': {
        const l = live.get(m.id);
        const w = l?.waiter;
        if (!l || !w) return;
        l.waiter = undefined;
        if (m.error) w.reject(fromWire(m.error));
        else
          w.resolve(
            m.done
              ? { done: true, value: undefined }
              : { done: false, value: decode(m.value, m.id, undefined) },
          );
        return;
      }
      case 'release': {
        corpora.get(m.target)?.dispose();
        corpora.delete(m.target);
        return;
      }
    }
  });
  closingSaysSo(() => port.post({ t: 'closing' }));
  port.post({ t: 'hello' });

  /** Registers the named backends (by importing their modules), then makes the kit. */
  async function init(m: Extract<ToWorker, { t: 'init' }>): Promise<CosineKit> {
    for (const spec of m.modules) {
      try {
        await import(/* @vite-ignore */ Object.hasOwn(KNOWN, spec) ? KNOWN[spec] : spec);
      } catch (e) {
        throw new CosineKitError(
          'BACKEND_INIT_FAILED',
          `Argument 'backends' passed to 'createWorkerKit' names '${spec}', which the worker could not import: ${errorText(e)}`,
          { op: 'createWorkerKit', arg: 'backends', cause: e },
        );
      }
    }
    const k = createCosineKit({
      ...(m.backend === undefined ? {} : { backend: m.backend }),
      ...(m.timeoutMs === undefined ? {} : { timeoutMs: m.timeoutMs }),
      ...(m.fallback
        ? { onFallback: (backend, reason) => port.post({ t: 'fallback', backend, reason }) }
        : {}),
    });
    return k;
  }
}

function isCorpus(v: unknown): v is Corpus {
  // Duck-typed: core's Corpus may come from another copy of core than this file's.
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as Corpus).search === 'function' &&
    typeof (v as Corpus).similarity === 'function' &&
    typeof (v as Corpus).save === 'function'
  );
}

/** The error core's own check raises for an aborted call. */
function aborted(op: string): CosineKitError {
  return new CosineKitError('ABORTED', `Argument 'signal' passed to '${op}' was aborted; the call stopped.`, {
    op,
    arg: 'signal',
  });
}

interface NodeParentPort {
  postMessage(m: unknown, transfer?: ArrayBuffer[]): void;
  on(event: 'message', fn: (m: unknown) => void): void;
}

interface WorkerScope {
  postMessage(m: unknown, transfer?: ArrayBuffer[]): void;
  addEventListener(event: 'message', fn: (e: { data: unknown }) => void): void;
}

/** This thread's port: Node's `parentPort` in a worker thread, else the worker's global scope. */
async function connect(): Promise<Port> {
  const g = globalThis as { process?: { versions?: { node?: string } } };
  if (g.process?.versions?.node) {
    const name = 'node:worker_threads';
    const wt = (await import(/* @vite-ignore */ name)) as { parentPort: NodeParentPort | null };
    const p = wt.parentPort;
    if (p) {
      return {
        post: (m, transfer) => p.postMessage(m, transfer),
        listen: (fn) => p.on('message', (m) => fn(m as ToWorker)),
      };
    }
  }
  const scope = globalThis as unknown as WorkerScope;
  if (typeof scope.postMessage !== 'function' || typeof scope.addEventListener !== 'function')
    throw new CosineKitError(
      'UNSUPPORTED',
      "'serveKit' must run in a worker (a Web Worker or a Node worker thread).",
      {
        op: 'serveKit',
      },
    );
  return {
    post: (m, transfer) => scope.postMessage(m, transfer ?? []),
    listen: (fn) => scope.addEventListener('message', (e) => fn(e.data as ToWorker)),
  };
}

/**
 * In a browser's dedicated worker, makes `self.close()` tell the kit first: a browser gives the page
 * no event for it, and the kit's calls waited for good (a timeout included, which the worker
 * keeps). Once per worker; elsewhere nothing.
 */
function closingSaysSo(tell: () => void): void {
  const g = globalThis as { WorkerGlobalScope?: unknown; close?: (...a: unknown[]) => unknown };
  const Scope = g.WorkerGlobalScope as (abstract new () => unknown) | undefined;
  if (typeof Scope !== 'function' || !(globalThis instanceof Scope) || typeof g.close !== 'function') return;
  const close = g.close;
  if ((close as { tells?: boolean }).tells) return;
  const wrapped = function (this: unknown, ...a: unknown[]) {
    try {
      tell();
    } catch {
      // The port is gone: nobody to tell.
    }
    return close.apply(this, a);
  };
  (wrapped as { tells?: boolean }).tells = true;
  g.close = wrapped;
}
