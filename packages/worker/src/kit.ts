import {
  type CorpusChunk,
  type CorpusCreateOptions,
  type CorpusFromOptions,
  type CorpusStorage,
  CosineKitError,
  type CosineKitOptions,
  type Id,
  type KernelName,
  type KitInfo,
  type MatrixOptions,
  type SearchOptions,
  SearchResult,
  Tensor,
  type TensorInput,
} from '@cosinekit/core';
import {
  admit,
  attached,
  checkKernelName,
  describeType,
  errorText,
  extraArgument,
  isArrayArg,
  isCosineKitError,
  ownOptions,
  reading,
  refuseFakeView,
  toTensor,
  valueText,
} from '@cosinekit/core/backend';
import {
  type FromWorker,
  floatsIn,
  floatsOut,
  fromWire,
  HANDLES_OP,
  oddId,
  type SharedFloats,
  TAG,
  type ToWorker,
  tagOf,
  uninspectable,
  type WireError,
} from './protocol.js';

/** Lets one call move its inputs to the worker instead of copying them. */
export interface TransferOption {
  /**
   * Move this call's typed arrays to the worker (`postMessage` transfer) instead of copying them:
   * faster for large inputs, but the caller's arrays are detached at once (length 0), and with them
   * every other view on the same `ArrayBuffer`. Overrides {@link WorkerKitOptions.transfer}.
   */
  transfer?: boolean;
}

/** Options of {@link createWorkerKit}. */
export interface WorkerKitOptions extends Omit<CosineKitOptions, 'backend'>, TransferOption {
  /**
   * A registered backend's name, or omitted for the best one the worker has. A backend object
   * cannot cross threads: register it in a module named in {@link WorkerKitOptions.backends}.
   */
  backend?: string;
  /**
   * Modules the worker imports before it makes the kit, to register backends there: `'wasm'`,
   * `'tfjs'`, `'gpujs'` and `'webgpu'` stand for `@cosinekit/backend-<name>/register`; anything
   * else is a module specifier or URL the worker can import (resolved from the worker script).
   * Ignored with your own `worker`, which imports what it needs itself.
   */
  backends?: readonly (string | URL)[];
  /**
   * The worker to serve the kit from: omitted for this package's worker script (a Node worker
   * thread, or a module Web Worker in browsers), a script URL, or a started worker whose script calls
   * `serveKit()` from `@cosinekit/worker/serve` (what bundlers need to see the worker's imports).
   */
  worker?: string | URL | WorkerLike;
}

/** A Web Worker or a Node `worker_threads` Worker, as the kit uses it. */
export interface WorkerLike {
  postMessage(message: unknown, transfer: ArrayBuffer[]): void;
  terminate(): unknown;
}

/** Options of {@link WorkerCorpus.search}: core's, plus the transfer choice. */
export interface WorkerSearchOptions extends SearchOptions, TransferOption {}

/** Options of {@link WorkerKit.corpus}: core's, plus the transfer choice. */
export interface WorkerCorpusOptions extends CorpusCreateOptions, TransferOption {}

/** Options of {@link WorkerKit.corpusFrom}: core's, plus the transfer choice (for each chunk). */
export interface WorkerCorpusFromOptions extends CorpusFromOptions, TransferOption {}

/**
 * `CosineKit` from `@cosinekit/core`, served from a worker: the same methods, inputs, results and
 * errors (`CosineKitError`s with the same code, operation, argument and message), with corpora that
 * stay in the worker ({@link WorkerCorpus}). Inputs are copied when a call is made (core's snapshot
 * rule), or moved with `transfer`. Differences, all for things that cannot cross a thread: a
 * predicate filter and `kernels()` are refused; `dispose()` also ends the worker.
 */
export interface WorkerKit {
  /** Initialises the backend in the worker (once) and says what runs. */
  ready(): Promise<KitInfo>;
  /** The backend that runs `kernel`; `undefined` before {@link WorkerKit.ready} resolves. */
  ranBy(kernel: KernelName): string | undefined;
  /** Refused with `UNSUPPORTED`: kernel functions cannot cross threads. */
  kernels(): Promise<never>;
  /** The L2 norm of each row. */
  rowNorms(x: TensorInput): Promise<Float32Array>;
  /** Each row scaled to unit length; zero rows stay zero. */
  normalize(x: TensorInput): Promise<Tensor>;
  /** Cosine of paired rows: `out[i] = cos(a_i, b_i)`. */
  cosineRows(a: TensorInput, b: TensorInput): Promise<Float32Array>;
  /** The `a.rows x b.rows` matrix of cosines; `options.out` as for {@link WorkerCorpus.similarity}. */
  cosineMatrix(a: TensorInput, b: TensorInput, options?: MatrixOptions): Promise<Tensor>;
  /** Top-k rows of `corpus` for each query, best first; the corpus is not kept. */
  topK(queries: TensorInput, corpus: TensorInput, k: number): Promise<SearchResult>;
  /** Uploads `rows` into the worker's backend and returns a handle to search many times. */
  corpus(rows: TensorInput, options?: WorkerCorpusOptions): Promise<WorkerCorpus>;
  /**
   * Builds a corpus in the worker from a stream of chunks, as core's `corpusFrom` does. The worker
   * pulls the chunks one ahead of what it has taken in, so the calling thread makes the next chunk
   * while the worker stores the last, and neither thread ever holds the whole stream. With
   * `transfer`, each chunk's arrays move to the worker.
   */
  corpusFrom(
    source: Iterable<CorpusChunk> | AsyncIterable<CorpusChunk>,
    options?: WorkerCorpusFromOptions,
  ): Promise<WorkerCorpus>;
  /** Loads a corpus saved by `save()` (here or by any kit) into the worker. */
  loadCorpus(bytes: Uint8Array): Promise<WorkerCorpus>;
  /**
   * Ends the worker at once: every corpus is released, calls still running reject with `DISPOSED`,
   * and later calls reject with `DISPOSED`. Idempotent.
   */
  dispose(): void;
}

interface Pending {
  op: string;
  resolve(v: unknown): void;
  reject(e: unknown): void;
  corpus?: WorkerCorpus;
  progress?: (rows: number) => void;
  source?: AsyncIterator<CorpusChunk> | Iterator<CorpusChunk>;
  /** The chunk number of the stream's next chunk (for error messages). */
  chunk?: number;
  /** An error of the caller's own stream or callback, rejected as it was thrown. */
  own?: unknown;
  moves?: boolean;
  /** Undoes what the call set up (the abort listener). */
  cleanup?: () => void;
  /**
   * The abort of a call that writes into the caller's shared memory (an `out` on a
   * SharedArrayBuffer): rejected once the worker answers, so nothing is written after it.
   */
  stopping?: unknown;
  /** The call writes into the caller's shared memory (an `out` on a SharedArrayBuffer). */
  shared?: boolean;
}

/** Per call: names of its arguments, for errors about them; which are rows (Tensor inputs). */
const ARGS: Record<string, readonly string[]> = {
  rowNorms: ['x'],
  normalize: ['x'],
  cosineRows: ['a', 'b'],
  cosineMatrix: ['a', 'b', 'options'],
  topK: ['queries', 'corpus', 'k'],
  corpus: ['rows', 'options'],
  corpusFrom: ['source', 'options'],
  loadCorpus: ['bytes'],
  search: ['queries', 'k', 'options'],
  similarity: ['queries', 'options'],
  add: ['rows', 'ids'],
  remove: ['ids'],
  save: [],
};
const ROWS = new Set(['x', 'a', 'b', 'queries', 'corpus', 'rows']);

/** The side of a worker kit in the calling thread: what {@link WorkerCorpus} calls through. */
interface Link {
  call(target: number, op: string, args: unknown[], how?: CallHow): Promise<unknown>;
  release(target: number): void;
  readonly transfer: boolean;
}

interface CallHow {
  corpus?: WorkerCorpus;
  transfer?: boolean;
  signal?: AbortSignal;
  progress?: (rows: number) => void;
  source?: Iterable<CorpusChunk> | AsyncIterable<CorpusChunk>;
}

/** Core's error for a corpus method called without its corpus (detached: `const { search } = corpus`). */
function notACorpus(op: string): CosineKitError {
  return new CosineKitError(
    'INVALID_TYPE',
    `Argument 'this' passed to '${op}' is not a corpus: call it on one (corpus.${op}(...)), or bind it (corpus.${op}.bind(corpus)).`,
    { op, arg: 'this' },
  );
}

/**
 * A corpus resident in a worker kit's worker: the methods of core's `Corpus`, each a message to the
 * worker, where they run one at a time in call order as core runs them.
 */
export class WorkerCorpus {
  /** Row width. */
  readonly cols: number;
  /** The backend that holds the data (in the worker). */
  readonly backend: string;
  /** How rows are stored on the backend. */
  readonly storage: CorpusStorage;
  readonly #handle: number;
  readonly #link: Link;
  #rows: number;
  #disposed = false;
  #failed: ((op: string) => CosineKitError) | undefined;

  /** @internal Made by the worker kit from the worker's answer. */
  constructor(
    link: Link,
    d: { handle: number; cols: number; backend: string; storage: string; rows: number },
  ) {
    this.#link = link;
    this.#handle = d.handle;
    this.cols = d.cols;
    this.backend = d.backend;
    this.storage = d.storage as CorpusStorage;
    this.#rows = d.rows;
  }

  /** Number of live rows, as of the last call on this corpus that settled. */
  get rows(): number {
    return this.#rows;
  }

  /** True once `dispose()` was called (or the kit was disposed). */
  get disposed(): boolean {
    return this.#disposed;
  }

  /**
   * Top-k rows for each query, as core's `Corpus.search`. A predicate filter cannot run in the
   * worker: pass `{ allow }`, `{ deny }` or `{ mask }` instead. With `options.signal`, an abort
   * rejects at once with `ABORTED`; the worker stops at its next check and the corpus is unchanged.
   */
  search(queries: TensorInput, k: number, options?: WorkerSearchOptions): Promise<SearchResult>;
  search(
    queries: TensorInput,
    k: number,
    options: WorkerSearchOptions = {},
    ...more: unknown[]
  ): Promise<SearchResult> {
    if (!WorkerCorpus.#is(this)) return Promise.reject(notACorpus('search'));
    return this.#call('search', [queries, k, options, ...more], options) as Promise<SearchResult>;
  }

  /**
   * The `queries.rows x corpus.rows` matrix of cosines, as core's `Corpus.similarity`. With
   * `options.out` the worker checks it as core does (same errors) and the answer, which comes back
   * as a message, is copied into it.
   */
  similarity(
    queries: TensorInput,
    options?: { signal?: AbortSignal } & TransferOption & MatrixOptions,
  ): Promise<Tensor>;
  similarity(
    queries: TensorInput,
    options: { signal?: AbortSignal } & TransferOption & MatrixOptions = {},
    ...more: unknown[]
  ): Promise<Tensor> {
    if (!WorkerCorpus.#is(this)) return Promise.reject(notACorpus('similarity'));
    return intoOut(
      this.#call('similarity', [queries, options, ...more], options) as Promise<Tensor>,
      options,
      'similarity',
    );
  }

  /** Adds rows (with ids, if this corpus has ids). Resolves when they are searchable. */
  add(rows: TensorInput, ids?: readonly Id[]): Promise<void>;
  add(rows: TensorInput, ids?: readonly Id[], ...more: unknown[]): Promise<void> {
    if (!WorkerCorpus.#is(this)) return Promise.reject(notACorpus('add'));
    const args = ids === undefined && more.length === 0 ? [rows] : [rows, ids, ...more];
    return this.#call('add', args, undefined) as Promise<void>;
  }

  /** Removes rows by id (by ordinal without ids); resolves with the number removed. */
  remove(ids: readonly Id[]): Promise<number>;
  remove(ids: readonly Id[], ...more: unknown[]): Promise<number> {
    if (!WorkerCorpus.#is(this)) return Promise.reject(notACorpus('remove'));
    return this.#call('remove', [ids, ...more], undefined) as Promise<number>;
  }

  /** The corpus in the saved-corpus format of `@cosinekit/core`. */
  save(): Promise<Uint8Array>;
  save(...more: unknown[]): Promise<Uint8Array> {
    if (!WorkerCorpus.#is(this)) return Promise.reject(notACorpus('save'));
    return this.#call('save', more, undefined) as Promise<Uint8Array>;
  }

  /** Releases the corpus in the worker (after the calls already queued on it). Idempotent. */
  dispose(): void {
    if (!WorkerCorpus.#is(this)) throw notACorpus('dispose');
    if (this.#disposed) return;
    this.#disposed = true;
    this.#link.release(this.#handle);
  }

  /** Whether `x` is a worker corpus (a method called without one is refused as core refuses it). */
  static #is(x: unknown): boolean {
    return typeof x === 'object' && x !== null && #disposed in x;
  }

  /**
   * @internal The kit was disposed, or its worker died: then `failed` gives the kit's error for a
   * call (`BACKEND_ERROR` naming the cause), which every later call of this corpus rejects with.
   */
  gone(failed?: (op: string) => CosineKitError): void {
    this.#disposed = true;
    this.#failed = failed;
  }

  /** @internal The row count the worker reported with an answer. */
  seen(rows: number): void {
    this.#rows = rows;
  }

  #call(op: string, args: unknown[], options: unknown): Promise<unknown> {
    const signal = signalOf(peek(options, 'signal'));
    if (this.#failed) return Promise.reject(this.#failed(op));
    if (this.#disposed) {
      // Core refuses bad options and an aborted signal first, then the disposed corpus.
      const stop = abortedNow(op, signal);
      if (stop) return Promise.reject(stop);
      return Promise.reject(
        new CosineKitError(
          'DISPOSED',
          `Argument 'corpus' passed to '${op}' was disposed; create a new corpus.`,
          {
            op,
            arg: 'corpus',
          },
        ),
      );
    }
    return this.#link.call(this.#handle, op, args, {
      corpus: this,
      transfer: peek(options, 'transfer') as boolean | undefined,
      signal,
    });
  }
}

/** The least time a worker gets to start its kit, as core gives a backend's init (ms). */
const START_MS = 60_000;
/** The longest delay a timer takes (2^31 - 1 ms); a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The options {@link createWorkerKit} takes: any other is refused, as `createCosineKit` refuses its. */
const WORKER_KIT_OPTIONS = ['backend', 'backends', 'onFallback', 'timeoutMs', 'transfer', 'worker'];

/**
 * Starts a worker (a Node worker thread, or a module Web Worker in browsers), makes a kit there
 * with `options`, and resolves with its proxy once the worker is up and its backends registered.
 * Rejects with the worker's error (`BACKEND_INIT_FAILED` for a backend module it could not import,
 * or core's own for bad options).
 */
export async function createWorkerKit(options: WorkerKitOptions = {}): Promise<WorkerKit> {
  const op = 'createWorkerKit';
  // Read once, as core reads a kit's options: an unknown key refused by name, a getter or a Proxy
  // trap that throws INVALID_ARGUMENT naming options (a raw TypeError or the trap's error escaped).
  const {
    backend,
    backends = [],
    onFallback,
    timeoutMs,
    transfer = false,
    worker,
  } = ownOptions(op, options, WORKER_KIT_OPTIONS);
  if (typeof transfer !== 'boolean')
    throw new CosineKitError('INVALID_TYPE', `Argument 'transfer' passed to '${op}' must be a boolean.`, {
      op,
      arg: 'transfer',
    });
  if (backend !== undefined && typeof backend !== 'string')
    throw new CosineKitError(
      'INVALID_TYPE',
      `Argument 'backend' passed to '${op}' must be a backend's name: a backend object cannot cross to a worker; register it in a module named in 'backends'.`,
      { op, arg: 'backend' },
    );
  // The list is read once, each entry turned into the string that crosses.
  const modules = reading(op, 'backends', () =>
    isArrayArg(op, 'backends', backends)
      ? Array.from(backends, (b) => (typeof b === 'string' ? b : b instanceof URL ? b.href : undefined))
      : undefined,
  );
  if (modules === undefined || modules.some((m) => typeof m !== 'string'))
    throw new CosineKitError(
      'INVALID_TYPE',
      `Argument 'backends' passed to '${op}' must be an array of backend names or module URLs.`,
      { op, arg: 'backends' },
    );
  // Dawn (the webgpu backend in Node) reads EGL_PLATFORM from the process's environment, and a
  // worker thread's process.env is a copy of its own: the backend's own setting there never reached
  // Dawn, and the worker fell back to the reference. Set here, on the calling thread, as the backend
  // sets it where it runs on the calling thread.
  if (modules.some((m) => m === 'webgpu' || m?.includes('backend-webgpu'))) surfacelessEgl();
  // Checked here, so the error names createWorkerKit (the worker's createCosineKit named itself).
  if (timeoutMs !== undefined && !(typeof timeoutMs === 'number' && timeoutMs >= 0))
    throw new CosineKitError(
      'INVALID_ARGUMENT',
      `Argument 'timeoutMs' passed to '${op}' must be a number >= 0, got ${valueText(timeoutMs)}.`,
      { op, arg: 'timeoutMs' },
    );
  if (onFallback !== undefined && typeof onFallback !== 'function')
    throw new CosineKitError('INVALID_TYPE', `Argument 'onFallback' passed to '${op}' must be a function.`, {
      op,
      arg: 'onFallback',
    });
  const thread = await spawn(worker);
  // Start-up within core's bound for a backend's initialisation (at least 60 s): a worker that
  // never answers (a script without serveKit, a backend module whose import never settles) left
  // this pending forever, and the process alive.
  const limit = Math.max(timeoutMs ?? START_MS, START_MS);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    // Past a timer's range (2^31 - 1 ms, about 24.8 days; Infinity) there is no bound: a timer
    // given more fires at once, and start-up failed in about 20 ms.
    if (limit > MAX_TIMER_MS) return;
    timer = setTimeout(
      () =>
        reject(
          new CosineKitError(
            'BACKEND_INIT_FAILED',
            `Argument 'worker' passed to '${op}' did not start a kit within ${limit} ms (a script that never calls serveKit, or a backend module that never finishes loading?).`,
            { op, arg: 'worker' },
          ),
        ),
      limit,
    );
  });
  try {
    // A worker handed over after it started has said hello already: ask again.
    reading(op, 'worker', () => thread.post({ t: 'ping' }));
    await Promise.race([thread.started, late]);
    reading(op, 'worker', () =>
      thread.post({
        t: 'init',
        modules: modules as string[],
        ...(backend === undefined ? {} : { backend }),
        ...(timeoutMs === undefined ? {} : { timeoutMs }),
        fallback: onFallback !== undefined,
        key: thread.key,
      }),
    );
    await Promise.race([thread.ready, late]);
  } catch (e) {
    // A worker that already serves a kit is that kit's: only this call's listeners go (ending it
    // ended the first kit, whose calls then all failed).
    if (isCosineKitError(e) && e.code === 'INVALID_ARGUMENT' && e.arg === 'worker' && thread.given)
      thread.detach();
    else thread.end();
    throw e;
  } finally {
    clearTimeout(timer);
    late.catch(() => undefined);
  }
  return new Kit(thread, transfer === true, onFallback).api;
}

const KITS = new WeakMap<WorkerKit, Kit>();

/**
 * Workers a kit ended (terminated): a browser's says nothing once terminated, so one handed to
 * createWorkerKit again (after its kit failed) waited out the whole start-up bound, 60 s.
 */
const ENDED = new WeakSet<object>();

/** In Node without a display setting: `EGL_PLATFORM=surfaceless`, in the process's environment. */
function surfacelessEgl(): void {
  const proc = (
    globalThis as { process?: { versions?: { node?: string }; env: Record<string, string | undefined> } }
  ).process;
  if (proc?.versions?.node !== undefined && proc.env.EGL_PLATFORM === undefined)
    proc.env.EGL_PLATFORM = 'surfaceless';
}

/**
 * @internal How many corpora `kit`'s worker still holds (a leak check for tests: a disposed corpus,
 * or one made by a call the caller gave up on, must not stay resident).
 */
export function handlesOf(kit: WorkerKit): Promise<number> {
  return KITS.get(kit)!.call(0, HANDLES_OP, []) as Promise<number>;
}

/** The calling thread's side of one worker. */
class Kit implements Link {
  readonly transfer: boolean;
  readonly api: WorkerKit;
  readonly #thread: Thread;
  readonly #pending = new Map<number, Pending>();
  readonly #corpora = new Map<number, WorkerCorpus>();
  #next = 1;
  #providers: Readonly<Record<KernelName, string>> | undefined;
  /** The error of an onFallback that threw, for the call whose answer comes next. */
  #fallbackThrew: CosineKitError | undefined;
  /** Why calls are refused: the kit was disposed, or its worker died. */
  #dead: { code: 'DISPOSED' | 'BACKEND_ERROR'; why: string; cause?: unknown } | undefined;

  constructor(thread: Thread, transfer: boolean, onFallback: WorkerKitOptions['onFallback']) {
    this.#thread = thread;
    this.transfer = transfer;
    thread.onMessage = (m) => {
      if (m.t === 'fallback') {
        // The caller's callback, run from a worker's message: a throw there escaped every call
        // and ended the process. It is reported, as an unhandled rejection, not thrown here.
        const threw = (e: unknown) =>
          new CosineKitError(
            'INVALID_ARGUMENT',
            `Argument 'onFallback' passed to 'createCosineKit' threw: ${errorText(e)}`,
            { op: 'createCosineKit', arg: 'onFallback', cause: e },
          );
        try {
          const r: unknown = onFallback?.(m.backend, m.reason);
          // An async hook's promise is not waited for; its rejection (dropped, it ended the
          // process) is reported, as core reports it.
          if (typeof (r as { then?: unknown } | null)?.then === 'function')
            Promise.resolve(r).then(undefined, (e: unknown) =>
              console.warn(
                `[cosinekit] onFallback's promise rejected (backend '${m.backend}'): ${errorText(e)}`,
              ),
            );
        } catch (e) {
          // The call that fell back answers next: it fails by name, as in core.
          this.#fallbackThrew = threw(e);
        }
      } else this.#answer(m);
    };
    thread.onCrash = (why, cause) => this.#die('BACKEND_ERROR', why, cause);
    thread.idle();
    if (thread.crashed) this.#die('BACKEND_ERROR', thread.crashed.why, thread.crashed.cause);
    const call = (op: string, args: unknown[], how: CallHow = {}) => this.call(0, op, args, how);
    this.api = {
      ready: async () => {
        const info = (await call('ready', [])) as KitInfo;
        this.#providers = info.providers;
        return info;
      },
      ranBy: (kernel) => {
        // As core checks it: a prototype-less object or a revoked Proxy as a key threw raw.
        checkKernelName(kernel);
        return this.#providers?.[kernel];
      },
      kernels: () =>
        Promise.reject(
          new CosineKitError(
            'UNSUPPORTED',
            "'kernels' cannot be served from a worker: kernel functions cannot cross threads. Use createCosineKit in the worker for that.",
            { op: 'kernels' },
          ),
        ),
      // Arguments past those a call takes go along, to be refused by name (see `extraArgument`).
      rowNorms: (x, ...more: unknown[]) => call('rowNorms', [x, ...more]) as Promise<Float32Array>,
      normalize: (x, ...more: unknown[]) => call('normalize', [x, ...more]) as Promise<Tensor>,
      cosineRows: (a, b, ...more: unknown[]) => call('cosineRows', [a, b, ...more]) as Promise<Float32Array>,
      cosineMatrix: (a, b, options, ...more: unknown[]) =>
        intoOut(
          call(
            'cosineMatrix',
            options === undefined && more.length === 0 ? [a, b] : [a, b, options, ...more],
          ) as Promise<Tensor>,
          options,
          'cosineMatrix',
        ),
      topK: (q, c, k, ...more: unknown[]) => call('topK', [q, c, k, ...more]) as Promise<SearchResult>,
      corpus: (rows, options = {}, ...more: unknown[]) =>
        call('corpus', [rows, options, ...more], {
          transfer: peek(options, 'transfer') as boolean | undefined,
        }) as Promise<WorkerCorpus>,
      corpusFrom: (source, options = {}, ...more: unknown[]) => {
        const progress = peek(options, 'onProgress');
        let iterable: boolean;
        try {
          iterable = isIterable(source);
        } catch (e) {
          // A source that cannot be inspected (a revoked Proxy): named, as core names it (it threw).
          return Promise.reject(readError('corpusFrom', 'source', e));
        }
        return call('corpusFrom', [source, options, ...more], {
          transfer: peek(options, 'transfer') as boolean | undefined,
          signal: signalOf(peek(options, 'signal')),
          progress: typeof progress === 'function' ? (progress as (rows: number) => void) : undefined,
          source: iterable ? source : undefined,
        }) as Promise<WorkerCorpus>;
      },
      loadCorpus: (bytes, ...more: unknown[]) =>
        call('loadCorpus', [bytes, ...more]) as Promise<WorkerCorpus>,
      dispose: () => this.#die('DISPOSED', 'was disposed'),
    };
    KITS.set(this.api, this);
  }

  call(target: number, op: string, args: unknown[], how: CallHow = {}): Promise<unknown> {
    if (this.#dead) return Promise.reject(this.#deadError(op));
    const { signal } = how;
    // Any truthy value moved the caller's buffers ('no' included); the kit's own option is checked.
    if (how.transfer !== undefined && typeof how.transfer !== 'boolean')
      return Promise.reject(
        new CosineKitError(
          'INVALID_TYPE',
          `Argument 'options.transfer' passed to '${op}' must be true or false, got ${valueText(how.transfer)}.`,
          { op, arg: 'options.transfer' },
        ),
      );
    const stop = abortedNow(op, signal);
    if (stop) return Promise.reject(stop);
    const moves = how.transfer ?? this.transfer;
    const names = ARGS[op] ?? [];
    const extra = extraArgument(op, args, names);
    if (extra) return Promise.reject(extra);
    // What is left past them (undefineds, a map's index and array) does not cross to the worker.
    if (args.length > names.length) args = args.slice(0, names.length);
    const transfer = new Set<ArrayBuffer>();
    let packed: unknown[];
    try {
      packed = args.map((a, i) => {
        const arg = names[i] ?? 'options';
        try {
          return pack(a, op, arg, moves ? transfer : null, how, transfer);
        } catch (e) {
          // As core names them: a getter or a Proxy trap of the caller's that throws while its
          // argument is read is INVALID_ARGUMENT naming that argument, the error as cause.
          throw readError(op, arg, e);
        }
      });
      checkOutAlias(op, args, names);
      // A tensor whose buffer a later argument's getter shrank or transferred: named as core names
      // it (the worker met its short values as SHAPE_MISMATCH naming tensor's 'data').
      args.forEach((a, i) => {
        if (isTensor(a) && !a.disposed && a.data.length !== a.rows * a.cols) {
          const arg = names[i] ?? 'options';
          throw new CosineKitError(
            'DISPOSED',
            `Argument '${arg}' passed to '${op}' is a tensor whose buffer was transferred (detached) or shrunk below its shape [${a.rows}, ${a.cols}].`,
            { op, arg },
          );
        }
      });
    } catch (e) {
      return Promise.reject(e);
    }
    // Disposed while its arguments were read (a getter, a Proxy's trap): the call was posted to
    // the ended worker and never settled.
    if (this.#dead) return Promise.reject(this.#deadError(op));
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      const p: Pending = {
        op,
        resolve,
        reject,
        corpus: how.corpus,
        progress: how.progress,
        moves,
        shared: writesShared(args),
      };
      if (how.source !== undefined) {
        try {
          p.source = iterate(how.source);
        } catch (e) {
          reject(readError(op, 'source', e));
          return;
        }
        p.chunk = 0;
      }
      let flag: SharedArrayBuffer | undefined;
      if (signal) {
        flag =
          typeof SharedArrayBuffer === 'function' && crossOriginIsolatedOrNode()
            ? new SharedArrayBuffer(4)
            : undefined;
        const shared = p.shared;
        const onAbort = () => {
          // Seen by the worker at its next check even while it computes; the message covers the
          // rest (a worker waiting for a stream chunk, or no SharedArrayBuffer).
          if (flag) Atomics.store(new Int32Array(flag), 0, 1);
          this.#thread.post({ t: 'abort', id });
          // The worker writes a shared out in place until that check: the call rejects when it
          // answers, so the caller's next use of the buffer is not overwritten (a query block at
          // most, 2^26 multiply-adds). Every other call rejects now.
          if (shared && this.#pending.has(id)) p.stopping ??= abortedError(op, signal);
          else this.#settle(id, undefined, abortedError(op, signal));
        };
        // One listener per signal, whatever the number of calls sharing it (Node warns past ten
        // listeners on one signal). A signal whose addEventListener throws cannot be listened
        // to; core only reads `aborted`, and takes it (the call failed here, raw).
        p.cleanup = onAbortOf(signal, onAbort);
      }
      this.#pending.set(id, p);
      this.#refresh();
      const post = (sent: unknown[]) =>
        this.#thread.post({ t: 'call', id, target, op, args: sent, ...(flag ? { flag } : {}) }, [
          ...transfer,
        ]);
      try {
        post(packed);
      } catch {
        // Something the clone cannot copy (a Proxy around an array, an array carrying a function):
        // copied through its elements, as core reads it here, and sent again. Only then refused.
        let copied: unknown[];
        try {
          copied = args.map((a, i) =>
            clones(packed[i]) ? packed[i] : sendable(a, packed[i], op, names[i] ?? 'options', transfer),
          );
        } catch (e) {
          // Reading them threw (a getter, a Proxy trap): core's error naming the argument, or, for
          // the caller's own throw from a getter the clone ran first, INVALID_ARGUMENT naming it.
          const i = args.findIndex((a, j) => !clones(packed[j]) && a !== undefined);
          const arg = names[i] ?? 'options';
          this.#settle(id, undefined, readError(op, arg, e));
          return;
        }
        try {
          post(copied);
        } catch (again) {
          this.#settle(
            id,
            undefined,
            cloneError(op, names, args, copied, again, this.#corpora.get(target)?.rows),
          );
        }
      }
    });
  }

  release(target: number): void {
    this.#corpora.delete(target);
    if (this.#dead) return;
    this.#thread.post({ t: 'release', target });
  }

  /**
   * Calls waiting on the caller's own stream for their next chunk, not on the worker. By id, and
   * dropped when the call settles: a stream whose `next()` never settles after the call was aborted
   * kept a count of one for good, and every later lone call ran on an unref'd worker (Node exited
   * with it pending).
   */
  readonly #onCaller = new Set<number>();

  /**
   * Node: the worker keeps the process alive while a call waits on it, and not while every
   * pending call waits on the caller's own stream (as core's would not: a stream that never
   * yields kept the process alive for good).
   */
  #refresh(): void {
    if (this.#pending.size > this.#onCaller.size) this.#thread.busy();
    else this.#thread.idle();
  }

  /** Settles call `id` once (a later answer for it is dropped). */
  #settle(id: number, value: unknown, error?: unknown): void {
    const p = this.#pending.get(id);
    if (!p) return;
    this.#pending.delete(id);
    this.#onCaller.delete(id);
    this.#refresh();
    p.cleanup?.();
    if (p.source) void closeQuietly(p.source);
    if (error !== undefined) p.reject(error);
    else p.resolve(value);
  }

  #answer(m: FromWorker): void {
    // After the kit ended, a call still waiting (one writing shared memory) rejects once the
    // worker has stopped, whatever it answered meanwhile.
    if (this.#dead || m.t === 'hello' || m.t === 'closing' || m.t === 'ready' || m.t === 'fallback') return;
    const p = this.#pending.get(m.id);
    if (m.t === 'done' || m.t === 'fail') {
      if (m.rows !== undefined) p?.corpus?.seen(m.rows);
      const value = m.t === 'done' ? this.#unpack(m.value) : undefined;
      if (!p) {
        // An answer after the caller stopped waiting (an abort): what it made is not wanted.
        if (value instanceof WorkerCorpus) value.dispose();
        return;
      }
      const threw = this.#fallbackThrew;
      if (p.stopping !== undefined) {
        if (value instanceof WorkerCorpus) value.dispose();
        this.#settle(m.id, undefined, p.stopping);
      } else if (threw) {
        this.#fallbackThrew = undefined;
        if (value instanceof WorkerCorpus) value.dispose();
        this.#settle(m.id, undefined, threw);
      } else if (m.t === 'done') this.#settle(m.id, value);
      else this.#settle(m.id, undefined, p.own ?? fromWire(withTransfer(m.error)));
      return;
    }
    if (!p) return;
    if (m.t === 'progress') {
      // As in core, a callback that throws or rejects ends the build with INVALID_ARGUMENT naming
      // it (its error the cause); the worker disposes what it built.
      const fail = (e: unknown) => {
        if (!this.#pending.has(m.id)) return;
        const op = p.op;
        p.own = new CosineKitError(
          'INVALID_ARGUMENT',
          `Argument 'options.onProgress' passed to '${op}' threw: ${errorText(e)}`,
          { op, arg: 'options.onProgress', cause: e },
        );
        this.#thread.post({ t: 'abort', id: m.id });
        this.#settle(m.id, undefined, p.own);
      };
      try {
        const r = p.progress?.(m.rows) as unknown;
        if (typeof (r as PromiseLike<unknown> | null)?.then === 'function')
          (r as PromiseLike<unknown>).then(undefined, fail);
      } catch (e) {
        fail(e);
      }
    } else if (m.t === 'pull') {
      void this.#feed(m.id, p);
    } else if (m.t === 'stop') {
      const src = p.source;
      p.source = undefined;
      if (src) void closeQuietly(src);
    }
  }

  /** Answers the worker's request for the next chunk of call `id`'s stream. */
  async #feed(id: number, p: Pending): Promise<void> {
    const src = p.source;
    if (!src) return this.#thread.post({ t: 'chunk', id, done: true });
    const i = p.chunk!;
    // What next() gave, read once inside the try: a result that is no object, or whose `done` or
    // `value` getter throws, is the source's fault as in core (a throwing getter was an unhandled
    // rejection, and the call waited for good).
    let step: { done: boolean; value?: unknown };
    if (this.#pending.has(id)) this.#onCaller.add(id);
    this.#refresh();
    try {
      const r: unknown = await src.next();
      if (typeof r !== 'object' || r === null)
        throw new CosineKitError(
          'INVALID_TYPE',
          `Argument 'source' passed to '${p.op}' must be an iterator whose next() gives { done, value }; it gave ${describeType(r)}.`,
          { op: p.op, arg: 'source' },
        );
      const done = Boolean((r as IteratorResult<unknown>).done);
      step = done ? { done } : { done, value: (r as IteratorResult<unknown>).value };
    } catch (e) {
      // The caller's own stream failed: the worker unwinds (disposing what it built) and the call
      // rejects as core's does, INVALID_ARGUMENT naming the source with its error as cause (it
      // rejected with the stream's error itself).
      p.own = readError(p.op, 'source', e);
      return this.#thread.post({ t: 'chunk', id, done: false, error: { message: errorText(e) } });
    } finally {
      this.#onCaller.delete(id);
      this.#refresh();
    }
    if (!this.#pending.has(id)) {
      // Settled while next() ran (an abort fired from inside it): the close #settle tried then
      // failed (a generator cannot be returned while it runs), so the source is closed now, as
      // core's for...of closes it; its finally (a file handle, a cursor) never ran.
      if (!step.done) void closeQuietly(src);
      return;
    }
    if (step.done) return this.#thread.post({ t: 'chunk', id, done: true });
    p.chunk = i + 1;
    const arg = `source[${i}]`;
    const transfer = new Set<ArrayBuffer>();
    try {
      const c = step.value as unknown;
      const rows = typeof c === 'object' && c !== null && !isRows(c) && 'rows' in c;
      // A chunk's rows and ids only, the keys core reads: others need not cross (a method).
      const value = rows
        ? {
            ...('ids' in (c as object)
              ? { ids: idList((c as unknown as { ids: unknown }).ids, 'corpusFrom', `${arg}.ids`) }
              : {}),
            rows: pack(
              (c as { rows: unknown }).rows,
              'corpusFrom',
              `${arg}.rows`,
              p.moves ? transfer : null,
              {},
              transfer,
            ),
          }
        : pack(c, 'corpusFrom', arg, p.moves ? transfer : null, {}, transfer);
      try {
        this.#thread.post({ t: 'chunk', id, done: false, value }, [...transfer]);
      } catch {
        // As for a call's arguments: what the clone cannot copy, copied through its elements.
        const again = rows
          ? {
              rows: sendable(
                (c as { rows: unknown }).rows,
                (value as { rows: unknown }).rows,
                'corpusFrom',
                `${arg}.rows`,
                transfer,
              ),
              ...('ids' in (c as object) ? { ids: plainCopy((c as unknown as { ids: unknown }).ids) } : {}),
            }
          : sendable(c, value, 'corpusFrom', arg, transfer);
        this.#thread.post({ t: 'chunk', id, done: false, value: again }, [...transfer]);
      }
    } catch (e) {
      // A chunk whose getter or Proxy trap threw is the caller's error, named as core names it,
      // its error the cause (kept here: the worker's copy of the error has none). Only what the
      // structured clone refused cannot be sent.
      const clone = !isCosineKitError(e) && e instanceof Error && e.name === 'DataCloneError';
      if (!isCosineKitError(e) && !clone) p.own = readError('corpusFrom', arg, e);
      const error: WireError = isCosineKitError(e)
        ? { code: e.code, message: e.message, op: e.op, arg: e.arg }
        : clone
          ? {
              code: 'INVALID_TYPE',
              message: `Argument '${arg}' passed to 'corpusFrom' cannot be sent to the worker: ${cloneRefusal(e)}`,
              op: 'corpusFrom',
              arg,
            }
          : { code: 'INVALID_ARGUMENT', message: (p.own as Error).message, op: 'corpusFrom', arg };
      this.#thread.post({ t: 'chunk', id, done: false, error });
    }
  }

  #unpack(v: unknown): unknown {
    const tag = tagOf(v);
    if (tag === 'tensor') {
      const t = v as { data: Float32Array | SharedFloats; rows: number; cols: number };
      return new Tensor(floatsIn(t.data), t.rows, t.cols);
    }
    if (tag === 'result') {
      const r = v as { queries: number; k: number; indices: Int32Array; scores: Float32Array; ids?: Id[] };
      return new SearchResult({ queries: r.queries, k: r.k, indices: r.indices, scores: r.scores }, r.ids);
    }
    if (tag === 'corpus') {
      const d = v as { handle: number; cols: number; backend: string; storage: string; rows: number };
      const c = new WorkerCorpus(this, d);
      if (this.#dead) c.gone(this.#goneError());
      else this.#corpora.set(d.handle, c);
      return c;
    }
    return v;
  }

  /** For a dead kit's corpora: its error when its worker failed, none when it was disposed. */
  #goneError(): ((op: string) => CosineKitError) | undefined {
    return this.#dead?.code === 'BACKEND_ERROR' ? (op) => this.#deadError(op) : undefined;
  }

  #deadError(op: string): CosineKitError {
    const d = this.#dead!;
    if (d.code === 'DISPOSED')
      return new CosineKitError(
        'DISPOSED',
        `Argument 'kit' passed to '${op}' was disposed; create a new worker kit.`,
        {
          op,
          arg: 'kit',
        },
      );
    return new CosineKitError(
      'BACKEND_ERROR',
      `Argument 'kit' passed to '${op}' failed: its worker ${d.why}; create a new worker kit.`,
      { op, arg: 'kit', backend: 'worker', cause: d.cause },
    );
  }

  /** Ends the kit: every call still waiting rejects (DISPOSED or BACKEND_ERROR), the worker stops. */
  #die(code: 'DISPOSED' | 'BACKEND_ERROR', why: string, cause?: unknown): void {
    if (this.#dead) return;
    this.#dead = { code, why, cause };
    for (const c of this.#corpora.values()) c.gone(this.#goneError());
    this.#corpora.clear();
    const stopped = this.#thread.end();
    // A call writing into the caller's shared memory rejects once the worker has stopped (its
    // writes with it), as an aborted one does: the caller's next use of the buffer is not
    // overwritten. Every other call rejects now.
    for (const [id, p] of [...this.#pending]) {
      const e = p.stopping ?? this.#deadError(p.op);
      if (p.shared) void stopped.then(() => this.#settle(id, undefined, e));
      else this.#settle(id, undefined, e);
    }
  }
}

/** A started worker, wrapped for the kit. */
interface Thread {
  /** Resolves when the worker listens. */
  started: Promise<void>;
  /** Resolves when the worker's kit is made (after `init`). */
  ready: Promise<void>;
  post(m: ToWorker, transfer?: ArrayBuffer[]): void;
  onMessage: (m: FromWorker) => void;
  onCrash: (why: string, cause?: unknown) => void;
  /** Set when the worker died (before the kit listened, too). */
  crashed?: { why: string; cause?: unknown };
  /** Node: a busy worker keeps the process alive, an idle one does not. */
  busy(): void;
  idle(): void;
  /** Stops the worker; resolves once it has stopped (as far as the platform says). */
  end(): Promise<void>;
  /** Whether the worker was handed over started (`worker` option), rather than started here. */
  readonly given: boolean;
  /** Removes this thread's listeners from the worker and leaves it running (it serves another kit). */
  detach(): void;
  /** This start's key: only the `ready` or refusal carrying it is this start's. */
  readonly key: string;
}

interface NodeWorker extends WorkerLike {
  on(event: string, fn: (v: unknown) => void): void;
  off?(event: string, fn: (v: unknown) => void): void;
  readonly threadId?: number;
  ref(): void;
  unref(): void;
}

interface BrowserWorker extends WorkerLike {
  addEventListener(
    event: string,
    fn: (e: { data?: unknown; message?: string; error?: unknown; preventDefault?(): void }) => void,
  ): void;
  removeEventListener?(
    event: string,
    fn: (e: { data?: unknown; message?: string; error?: unknown; preventDefault?(): void }) => void,
  ): void;
}

/** The default worker script, next to this module once built (`dist/worker.js`). */
function defaultScript(): URL {
  return new URL('../dist/worker.js', import.meta.url);
}

function isNode(): boolean {
  return !!(globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node;
}

function crossOriginIsolatedOrNode(): boolean {
  return isNode() || (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
}

async function spawn(given: WorkerKitOptions['worker']): Promise<Thread> {
  let w: WorkerLike;
  /** The script it runs, for an error that has nothing else to say (a script that did not load). */
  let script = 'given';
  // What `given` is, read once: a value whose reading throws (a revoked Proxy, a throwing getter
  // or trap) is INVALID_ARGUMENT naming worker, its error the cause.
  const kind = reading('createWorkerKit', 'worker', () => {
    if (given === undefined || typeof given === 'string' || given instanceof URL) return 'script';
    if (typeof given !== 'object' || given === null) return 'bad';
    const g = given as Partial<NodeWorker & BrowserWorker>;
    return typeof g.postMessage === 'function' &&
      typeof g.terminate === 'function' &&
      (typeof g.on === 'function' || typeof g.addEventListener === 'function')
      ? 'worker'
      : 'bad';
  });
  if (kind === 'bad') badWorker(given);
  if (kind === 'worker') {
    w = given as WorkerLike;
    // A Node worker that has exited says so (its threadId is -1): it would never answer, and the
    // call waited out the whole start-up bound (60 s) to say it did not start.
    if (reading('createWorkerKit', 'worker', () => (w as NodeWorker).threadId === -1) || ENDED.has(w))
      throw new CosineKitError(
        'BACKEND_INIT_FAILED',
        "Argument 'worker' passed to 'createWorkerKit' has exited (or was ended by a kit, as a kit ends a worker that failed): hand over a running worker, or a script URL.",
        { op: 'createWorkerKit', arg: 'worker' },
      );
  } else {
    const url = given === undefined ? defaultScript() : (given as string | URL);
    script = String(url);
    try {
      if (isNode() && typeof (globalThis as { Worker?: unknown }).Worker !== 'function') {
        const name = 'node:worker_threads';
        const wt = (await import(/* @vite-ignore */ name)) as { Worker: new (u: string | URL) => NodeWorker };
        w = new wt.Worker(url);
      } else {
        const W = (
          globalThis as unknown as { Worker: new (u: string | URL, o: { type: 'module' }) => WorkerLike }
        ).Worker;
        w = new W(url, { type: 'module' });
      }
    } catch (e) {
      // A string that names no script (Node wants a path or a file URL): refused by name.
      throw new CosineKitError(
        'INVALID_TYPE',
        `Argument 'worker' passed to 'createWorkerKit' names no worker script that can start (${errorText(e)}): pass an absolute path, a file: or http(s): URL, or a started Worker.`,
        { op: 'createWorkerKit', arg: 'worker', cause: e },
      );
    }
  }
  let ended = false;
  let stopped: Promise<void> | undefined;
  let hello: () => void;
  let readyOk: () => void;
  let readyFail: (e: unknown) => void;
  const started = new Promise<void>((r) => {
    hello = r;
  });
  const ready = new Promise<void>((ok, fail) => {
    readyOk = ok;
    readyFail = fail;
  });
  const key = `${Date.now().toString(36)}.${Math.random().toString(36).slice(2)}`;
  const thread: Thread = {
    key,
    started,
    ready,
    post: (m, transfer) => w.postMessage(m, transfer ?? []),
    onMessage: () => undefined,
    onCrash: () => undefined,
    busy: () => (w as Partial<NodeWorker>).ref?.(),
    idle: () => (w as Partial<NodeWorker>).unref?.(),
    given: kind === 'worker',
    detach: () => undefined,
    end: () => {
      if (!stopped) {
        ended = true;
        ENDED.add(w);
        // Node's terminate() resolves once the thread has exited; a browser's stops it at once.
        let t: unknown;
        try {
          t = w.terminate();
        } catch {
          // Already gone.
        }
        stopped = Promise.resolve(t).then(
          () => undefined,
          () => undefined,
        );
      }
      return stopped;
    },
  };
  const crash = (why: string, cause?: unknown) => {
    if (ended) return;
    thread.crashed = { why, cause };
    const e = new CosineKitError('BACKEND_ERROR', `The worker of 'createWorkerKit' ${why}.`, {
      op: 'createWorkerKit',
      arg: 'worker',
      backend: 'worker',
      cause,
    });
    readyFail(e);
    hello();
    thread.onCrash(why, cause);
    thread.end();
  };
  const receive = (m: FromWorker) => {
    // Only this package's messages are read: a script of your own may post others (null once
    // threw in this thread's listener and ended the process).
    if (typeof m !== 'object' || m === null || typeof (m as { t?: unknown }).t !== 'string') return;
    // Another start's answer on a shared worker (its `ready`, or its refusal) is not this one's.
    const mine = (m as { key?: unknown }).key === undefined || (m as { key?: unknown }).key === key;
    if (m.t === 'hello') hello();
    else if (m.t === 'closing') crash('closed itself (self.close())');
    else if (m.t === 'ready') {
      if (mine) readyOk();
    } else if (m.t === 'fail' && m.id === 0) {
      if (mine) readyFail(fromWire(m.error));
    } else {
      try {
        thread.onMessage(m);
      } catch {
        // A message shaped like an answer that is not one (posted by a script of your own): dropped.
      }
    }
  };
  // A started worker given whose listeners cannot be added is named, as one that cannot be read.
  const unlisten = reading('createWorkerKit', 'worker', () => listen(w, receive, crash, script));
  thread.detach = () => {
    ended = true;
    unlisten();
  };
  return thread;
}

/**
 * Adds `w`'s listeners: messages to `receive`, failures and exits to `crash`. Answers the function
 * that removes them again.
 */
function listen(
  w: WorkerLike,
  receive: (m: FromWorker) => void,
  crash: (why: string, cause?: unknown) => void,
  script: string,
): () => void {
  const added: [string, (v: never) => void][] = [];
  if (typeof (w as NodeWorker).on === 'function') {
    const n = w as NodeWorker;
    const on = (event: string, fn: (v: unknown) => void) => {
      n.on(event, fn);
      added.push([event, fn]);
    };
    const off = () => {
      for (const [event, fn] of added) n.off?.(event, fn as (v: unknown) => void);
    };
    try {
      on('message', (m) => receive(m as FromWorker));
      on('error', (e) => crash(`failed: ${errorText(e)}`, e));
      on('messageerror', (e) => crash('sent a message that could not be read', e));
      on('exit', (code) => crash(`exited (code ${valueText(code)})`));
    } catch (err) {
      // A refused start leaves nothing of the kit's on the worker, as in a browser.
      off();
      throw err;
    }
    return off;
  }
  const b = w as BrowserWorker;
  const off = () => {
    for (const [event, fn] of added)
      b.removeEventListener?.(event, fn as Parameters<BrowserWorker['addEventListener']>[1]);
  };
  const on: BrowserWorker['addEventListener'] = (event, fn) => {
    b.addEventListener(event, fn);
    added.push([event, fn]);
  };
  try {
    on('message', (e) => receive(e.data as FromWorker));
    on('error', (e) => {
      // Handled: it reaches the caller as the cause of every pending call's BACKEND_ERROR.
      e.preventDefault?.();
      // A script that did not load (a bundled page without the default one) says nothing more.
      crash(
        e.message !== undefined
          ? `failed: ${e.message}`
          : `failed before serving: its script (${script}) did not load or threw as it started; in a bundled page pass a worker script of your own (see "Your own worker script" in @cosinekit/worker's README)`,
        e.error,
      );
    });
    on('messageerror', () => crash('sent a message that could not be read'));
  } catch (err) {
    // A refused start leaves nothing of the kit's on the worker.
    off();
    throw err;
  }
  // A browser gives no event when a worker is terminated: the kit's calls waited for good (a
  // timeout included, which the worker keeps). Its terminate() now tells the kit first; the kit's
  // own end() stops listening before it calls it. A worker whose terminate cannot be replaced (a
  // frozen one) goes without: its terminate() is then not seen, as a close some other way is not.
  let terminate: unknown;
  let wrapped: ((this: unknown, ...a: unknown[]) => unknown) | undefined;
  try {
    terminate = b.terminate;
    if (typeof terminate === 'function') {
      const original = terminate as (...a: unknown[]) => unknown;
      wrapped = function (this: unknown, ...a: unknown[]) {
        crash('was terminated (worker.terminate())');
        return original.apply(this, a);
      };
      (b as { terminate: unknown }).terminate = wrapped;
    }
  } catch {
    wrapped = undefined;
  }
  return () => {
    off();
    try {
      if (wrapped !== undefined && b.terminate === wrapped)
        (b as { terminate: unknown }).terminate = terminate;
    } catch {
      // Not ours to restore any more.
    }
  };
}

/** A `worker` option that is neither a script URL nor a started worker: `INVALID_TYPE`. */
function badWorker(v: unknown): never {
  throw new CosineKitError(
    'INVALID_TYPE',
    `Argument 'worker' passed to 'createWorkerKit' must be a script URL (a string or URL) or a started Worker (postMessage, terminate, and on or addEventListener), got ${v === null ? 'null' : typeof v}.`,
    { op: 'createWorkerKit', arg: 'worker' },
  );
}

/** The calls waiting on a signal, behind the one listener the signal is given. */
interface Waiting {
  readonly calls: Set<() => void>;
  readonly fire: () => void;
}

const WAITING = new WeakMap<AbortSignal, Waiting>();

/** The stand-in for a value that cannot be inspected (see `uninspectable`). */
const REVOKED = { [TAG]: 'revoked' } as const;

/**
 * Calls `fn` once when `signal` aborts, through a single listener shared by every call waiting on
 * that signal; answers the function that stops waiting (the listener goes with the last call). A
 * signal that cannot be listened to answers undefined: the call runs to its end.
 */
function onAbortOf(signal: AbortSignal, fn: () => void): (() => void) | undefined {
  let w = WAITING.get(signal);
  if (w === undefined) {
    const calls = new Set<() => void>();
    const entry: Waiting = {
      calls,
      fire: () => {
        if (WAITING.get(signal) === entry) WAITING.delete(signal);
        for (const call of [...calls]) call();
      },
    };
    try {
      signal.addEventListener('abort', entry.fire, { once: true });
    } catch {
      return undefined;
    }
    WAITING.set(signal, entry);
    w = entry;
  }
  const entry = w;
  entry.calls.add(fn);
  return () => {
    entry.calls.delete(fn);
    if (entry.calls.size > 0 || WAITING.get(signal) !== entry) return;
    WAITING.delete(signal);
    try {
      signal.removeEventListener('abort', entry.fire);
    } catch {
      // Left on the signal: it finds no call waiting.
    }
  };
}

/** Whether a call's options (its last argument) hold an `out` on a SharedArrayBuffer, written in place. */
function writesShared(args: readonly unknown[]): boolean {
  try {
    return sharedOut(args[args.length - 1]);
  } catch {
    // Options that cannot be inspected: core in the worker refuses them, writing nothing.
    return false;
  }
}

function sharedOut(o: unknown): boolean {
  if (typeof o !== 'object' || o === null || ArrayBuffer.isView(o) || o instanceof Tensor) return false;
  const out = peek(o, 'out');
  const d = out instanceof Tensor ? (out.disposed ? null : out.data) : out;
  return (
    d instanceof Float32Array &&
    typeof SharedArrayBuffer === 'function' &&
    d.buffer instanceof SharedArrayBuffer
  );
}

/**
 * The error a call with `signal` fails with before it starts: `ABORTED` when it has fired,
 * `INVALID_ARGUMENT` naming `options.signal` when reading it throws (a getter: it threw at the
 * caller, synchronously), else undefined.
 */
/** Whether `v` is a Tensor; a value that cannot be inspected (a revoked Proxy) is not one. */
function isTensor(v: unknown): v is Tensor {
  try {
    return v instanceof Tensor;
  } catch {
    return false;
  }
}

function abortedNow(op: string, signal: AbortSignal | undefined): CosineKitError | undefined {
  try {
    return signal?.aborted ? abortedError(op, signal) : undefined;
  } catch (e) {
    return readError(op, 'options.signal', e) as CosineKitError;
  }
}

function abortedError(op: string, signal: AbortSignal): CosineKitError {
  return new CosineKitError('ABORTED', `Argument 'signal' passed to '${op}' was aborted; the call stopped.`, {
    op,
    arg: 'signal',
    cause: signal.reason,
  });
}

function isSignal(s: unknown): s is AbortSignal {
  return (
    typeof s === 'object' &&
    s !== null &&
    typeof (s as AbortSignal).aborted === 'boolean' &&
    typeof (s as AbortSignal).addEventListener === 'function'
  );
}

function isRows(v: unknown): boolean {
  return v instanceof Tensor || Array.isArray(v) || ArrayBuffer.isView(v);
}

function isIterable(s: unknown): s is Iterable<CorpusChunk> | AsyncIterable<CorpusChunk> {
  return (
    s !== null &&
    (typeof s === 'object' || typeof s === 'function') &&
    (typeof (s as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function' ||
      typeof (s as Iterable<unknown>)[Symbol.iterator] === 'function')
  );
}

function iterate(
  s: Iterable<CorpusChunk> | AsyncIterable<CorpusChunk>,
): AsyncIterator<CorpusChunk> | Iterator<CorpusChunk> {
  const a = s as AsyncIterable<CorpusChunk>;
  return typeof a[Symbol.asyncIterator] === 'function'
    ? a[Symbol.asyncIterator]()
    : (s as Iterable<CorpusChunk>)[Symbol.iterator]();
}

/**
 * What the caller's code that threw while an argument was read fails with, as core's `readFailure`:
 * its own CosineKitError, else INVALID_ARGUMENT naming `arg` with the error as cause (a getter, a
 * Proxy trap, a `corpusFrom` source).
 */
function readError(op: string, arg: string, e: unknown): unknown {
  if (isCosineKitError(e)) return e;
  return new CosineKitError(
    'INVALID_ARGUMENT',
    `Argument '${arg}' passed to '${op}' threw while it was read: ${errorText(e)}`,
    {
      op,
      arg,
      cause: e,
    },
  );
}

async function closeQuietly(it: AsyncIterator<unknown> | Iterator<unknown>): Promise<void> {
  try {
    await it.return?.();
  } catch {
    // The build already failed or finished; a stream that fails to close has nothing to add.
  }
}

/**
 * `options[key]`, or `undefined` where reading it throws (a getter, a Proxy trap): read before the
 * call is made, such a throw escaped synchronously and raw; the call's own reading of the options
 * refuses them by name instead.
 */
function peek(options: unknown, key: string): unknown {
  try {
    return plainOptions(options)?.[key];
  } catch {
    return undefined;
  }
}

/** `s` when it is an AbortSignal, else `undefined`; a signal whose reading throws is none. */
function signalOf(s: unknown): AbortSignal | undefined {
  try {
    return isSignal(s) ? s : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The options each operation takes (core's lists): those read through the prototype chain, or
 * from a getter or a non-enumerable property, cross as own values (the clone keeps own enumerable
 * properties only, so a filter from a prototype was dropped and the search ran unfiltered).
 */
const OPTION_KEYS: Record<string, readonly string[]> = {
  search: ['filter', 'signal'],
  similarity: ['signal', 'out'],
  cosineMatrix: ['out'],
  corpus: ['storage', 'rerank', 'ids', 'onProgress', 'signal', 'segmentBytes'],
  corpusFrom: ['storage', 'rerank', 'ids', 'onProgress', 'signal', 'segmentBytes'],
};

/** The operations whose options take `transfer` here besides core's own. */
const TAKES_TRANSFER = new Set(['search', 'similarity', 'corpus', 'corpusFrom']);

/**
 * Core's refusal of an unknown option, made in the worker, lists the options core takes: `transfer`,
 * which this kit takes and never sends, is added to that list where the operation takes it.
 */
function withTransfer(w: WireError): WireError {
  const m = /^(.* is not an option of (\w+); it takes )(.*)\.$/s.exec(w.message);
  if (w.code !== 'INVALID_ARGUMENT' || m === null || !TAKES_TRANSFER.has(m[2]) || /\btransfer\b/.test(m[3]))
    return w;
  return { ...w, message: `${m[1]}${m[3]}, transfer.` };
}

/** `options` when it is an object core would take as options, else `undefined` (core refuses it). */
function plainOptions(options: unknown): (Record<string, unknown> & TransferOption) | undefined {
  return typeof options === 'object' && options !== null && !Array.isArray(options)
    ? (options as Record<string, unknown>)
    : undefined;
}

/**
 * What crosses for `options.out`. Its values are never read, so a Float32Array on an ArrayBuffer
 * crosses as its length only (the worker writes into an array of that length, which comes back by
 * transfer), and one on a SharedArrayBuffer crosses as that buffer with its place in it (see
 * `floatsOut`): the worker writes straight into the caller's memory. Anything else crosses as it is, for core in the worker to refuse as it would here.
 */
function outStandIn(out: unknown): unknown {
  const data = out instanceof Tensor ? out.data : out;
  if (!(data instanceof Float32Array)) return data;
  if (!(data.buffer instanceof ArrayBuffer)) {
    // A Tensor's shape goes too, so core in the worker checks it (a 1 x 6 tensor for a 2 x 3
    // result was accepted over shared memory, and refused over an ArrayBuffer).
    const shared = floatsOut(data);
    return out instanceof Tensor && !(shared instanceof Float32Array)
      ? { ...shared, rows: out.rows, cols: out.cols }
      : shared;
  }
  // A Tensor's shape goes too, so core in the worker checks it as it would here (a 1 x 5 tensor
  // for a 5 x 1 result was accepted when only the length went).
  return out instanceof Tensor
    ? { [TAG]: 'out', length: data.length, rows: out.rows, cols: out.cols }
    : { [TAG]: 'out', length: data.length };
}

/**
 * Refuses an `options.out` on the buffer of one of the call's inputs, as core does (the inputs
 * cross as copies, so the worker cannot see it): the same `INVALID_ARGUMENT` naming `options.out`.
 */
function checkOutAlias(op: string, args: readonly unknown[], names: readonly string[]): void {
  const o = args[args.length - 1] as { out?: unknown } | null | undefined;
  // What cannot be inspected crosses as a stand-in, for core in the worker to name.
  if (uninspectable(o)) return;
  const out = typeof o === 'object' && o !== null ? peek(o, 'out') : undefined;
  if (uninspectable(out)) return;
  const data = out instanceof Tensor ? (out.disposed ? null : out.data) : out;
  if (!ArrayBuffer.isView(data)) return;
  args.forEach((x, i) => {
    if (uninspectable(x)) return;
    const v = x instanceof Tensor ? (x.disposed ? null : x.data) : ArrayBuffer.isView(x) ? x : null;
    if (i < args.length - 1 && v !== null && v.buffer === data.buffer)
      throw new CosineKitError(
        'INVALID_ARGUMENT',
        `Argument 'options.out' passed to '${op}' shares a buffer with '${names[i]}'.`,
        { op, arg: 'options.out' },
      );
  });
}

/** A matrix answer copied into the caller's `options.out` (checked in the worker), when one was given. */
function intoOut(r: Promise<Tensor>, options: unknown, op: string): Promise<Tensor> {
  let out: MatrixOptions['out'];
  try {
    out = (options as MatrixOptions | null | undefined)?.out;
  } catch {
    // A getter that throws: the call itself refuses the options by name (INVALID_ARGUMENT naming
    // `options`); returned as it is, so that rejection is the caller's, not an unhandled one.
    return r;
  }
  if (out === undefined) return r;
  return r.then((t) => {
    // Disposed or detached while the call ran: refused as core refuses it (a raw TypeError).
    if (out instanceof Tensor && out.disposed)
      throw new CosineKitError(
        'DISPOSED',
        `Argument 'options.out' passed to '${op}' was disposed while the call ran.`,
        {
          op,
          arg: 'options.out',
        },
      );
    const d = out instanceof Tensor ? out.data : out;
    if (!(d instanceof Float32Array) || detached(d.buffer) || d.length !== t.data.length)
      throw new CosineKitError(
        'DISPOSED',
        `Argument 'options.out' passed to '${op}' was transferred (detached) or shrunk while the call ran.`,
        { op, arg: 'options.out' },
      );
    // A shared out was written in place by the worker: nothing to copy.
    if (t.data.buffer !== d.buffer || t.data.byteOffset !== d.byteOffset) d.set(t.data);
    return new Tensor(d, t.rows, t.cols);
  });
}

/**
 * One argument as it crosses: a `Tensor` as a tagged record, views on a SharedArrayBuffer copied
 * (the worker must see them as they are now), buffers listed in `moves` when the caller transfers,
 * and in options, the caller's signal and progress callback replaced by stand-ins. Anything else
 * crosses as it is, so core in the worker judges it exactly as in this thread.
 */
function pack(
  v: unknown,
  op: string,
  arg: string,
  moves: Set<ArrayBuffer> | null,
  how: CallHow,
  fresh: Set<ArrayBuffer>,
): unknown {
  if (arg === 'source' && how.source !== undefined) return { [TAG]: 'stream' };
  if (uninspectable(v)) return REVOKED;
  // Rows given as a list, where the caller's buffers are not to move: converted here by core's
  // own converter into one fresh buffer, which moves (nobody else holds it). Cloned as a list,
  // row by row, 100,000 x 96 as number[][] built in 15-22x the in-process kit's time.
  if (moves === null && Array.isArray(v) && (ROWS.has(arg) || CHUNK_ROWS.test(arg))) {
    const t = listed(v, op, arg);
    if (t) {
      fresh.add(t.data.buffer as ArrayBuffer);
      return { [TAG]: 'tensor', data: t.data, rows: t.rows, cols: t.cols };
    }
  }
  // Bytes that are no typed array: core refuses them by their type, which a stand-in carries (the
  // clone named a function property of theirs, `bytes.toString`).
  if (op === 'loadCorpus' && typeof v === 'object' && v !== null && !ArrayBuffer.isView(v) && !clones(v)) {
    // A Proxy around a Uint8Array first, with core's words for it (the stand-in's type read
    // "must be a Uint8Array, got Uint8Array").
    refuseFakeView(v, op, arg);
    return oddId(v, describeType);
  }
  if (v instanceof Tensor) {
    if (v.disposed)
      throw new CosineKitError('DISPOSED', `Argument '${arg}' passed to '${op}' is a disposed tensor.`, {
        op,
        arg,
      });
    if (v.data.length !== v.rows * v.cols)
      throw new CosineKitError(
        'DISPOSED',
        `Argument '${arg}' passed to '${op}' is a tensor whose buffer was transferred (detached) or shrunk below its shape [${v.rows}, ${v.cols}].`,
        { op, arg },
      );
    return { [TAG]: 'tensor', data: view(v.data, moves, op, arg), rows: v.rows, cols: v.cols };
  }
  if (ArrayBuffer.isView(v)) {
    // A view whose length getter lies crossed as what it holds (rowNorms answered for 2 values
    // where core refuses it): refused here as core refuses it.
    refuseFakeView(v, op, arg);
    return view(v, moves, op, arg);
  }
  // An id list (add's, remove's) read as core reads it: element by element, through the prototype
  // and getters (the clone dropped an inherited element, and named a throwing getter 'options').
  if (arg === 'ids') return idList(v, op, arg);
  if (Array.isArray(v)) {
    // Rows read as core reads them, element by element (an element inherited from the prototype
    // was dropped by the clone, and refused in the worker where core took it). Any row that is a
    // view: one on a SharedArrayBuffer must be copied now, and moved ones listed (a shared row
    // after a plain one was read later, as changed since).
    return Array.from(v as unknown[], (x, i) =>
      ArrayBuffer.isView(x) ? view(x, moves, op, `${arg}[${i}]`) : plainCopy(x),
    );
  }
  if (arg === 'options') {
    const o = plainOptions(v);
    if (!o) return v;
    const out: Record<string, unknown> = { ...o };
    for (const key of OPTION_KEYS[op] ?? [])
      if (!Object.prototype.propertyIsEnumerable.call(o, key) && o[key] !== undefined) out[key] = o[key];
    // `transfer` is this kit's option where the call takes it (see TAKES_TRANSFER); elsewhere it
    // crosses for core in the worker to refuse by name, as the in-process kit does.
    if (TAKES_TRANSFER.has(op)) delete out.transfer;
    // An option that cannot be inspected (a revoked Proxy) crosses as a stand-in, for core in the
    // worker to name as core names it (`options.out`, `options.signal`; it was 'options').
    for (const key of Object.keys(out)) if (uninspectable(out[key])) out[key] = REVOKED;
    // A Tensor does not survive structured cloning: its array goes (as outStandIn sends it),
    // checked against the result's length in the worker; the answer is copied into the caller's
    // tensor on this side.
    if (out.out instanceof Tensor) {
      if (out.out.disposed)
        throw new CosineKitError(
          'DISPOSED',
          `Argument 'options.out' passed to '${op}' is a disposed tensor.`,
          {
            op,
            arg: 'options.out',
          },
        );
    }
    // A Proxy around a Float32Array passes instanceof, then fails every read of its buffer: refused
    // by name as core refuses it (it failed as options that "threw while read").
    if (out.out instanceof Float32Array && !ArrayBuffer.isView(out.out))
      throw new CosineKitError(
        'INVALID_TYPE',
        `Argument 'options.out' passed to '${op}' claims to be a Float32Array but is not one (a Proxy around one?): its values cannot be read. Pass the typed array itself.`,
        { op, arg: 'options.out' },
      );
    if (out.out !== undefined) out.out = outStandIn(out.out);
    // Its reading throwing is named as core names it (it was named 'options').
    let signal: boolean;
    try {
      signal = isSignal(out.signal);
    } catch (e) {
      throw readError(op, 'options.signal', e);
    }
    if (signal) out.signal = { [TAG]: 'signal' };
    if (op === 'corpusFrom' && typeof out.onProgress === 'function') out.onProgress = { [TAG]: 'progress' };
    // kit.corpus's ids, read as core reads them (named `ids`, as core names them).
    if (out.ids !== undefined) out.ids = idList(out.ids, op, 'ids');
    const f = out.filter;
    // A filter's lists read as core reads them (through its prototype, getters included).
    if (typeof f === 'object' && f !== null && !Array.isArray(f) && !ArrayBuffer.isView(f)) {
      // Only the keys core reads: it ignores others, which need not cross (a method of your own).
      const g: Record<string, unknown> = {};
      try {
        for (const key of ['allow', 'deny', 'mask']) {
          const v = (f as Record<string, unknown>)[key];
          if (v !== undefined) g[key] = v;
        }
      } catch (e) {
        // As core names a filter whose lists cannot be read.
        throw readError(op, 'options.filter', e);
      }
      for (const key of ['allow', 'deny'])
        if (g[key] !== undefined) g[key] = idList(g[key], op, `options.filter.${key}`);
      // A Proxy around a mask cannot cross: refused with core's words, before the clone's.
      if (typeof g.mask === 'object' && g.mask !== null && !uninspectable(g.mask))
        refuseFakeView(g.mask, op, 'options.filter.mask');
      for (const key of ['allow', 'deny', 'mask']) if (uninspectable(g[key])) g[key] = REVOKED;
      out.filter = g;
    }
    if (typeof f === 'function')
      throw new CosineKitError(
        'INVALID_TYPE',
        `Argument 'options.filter' passed to '${op}' is a function, which cannot run in a worker kit's worker: pass { allow: ids }, { deny: ids } or { mask: Uint8Array }.`,
        { op, arg: 'options.filter' },
      );
    const g = out.filter as { mask?: unknown } | undefined;
    if (typeof g === 'object' && g !== null && ArrayBuffer.isView(g.mask))
      out.filter = { ...g, mask: view(g.mask, moves, op, 'options.filter.mask') };
    return out;
  }
  return v;
}

/**
 * A typed array as it crosses: moved (its buffer listed), copied by the clone, or copied here. A
 * detached one is refused as core refuses it (`DISPOSED` naming `arg`): it cannot be cloned, and
 * listed for transfer, postMessage drops the whole message without an error, so the call would
 * never settle.
 */
function view<T extends ArrayBufferView>(v: T, moves: Set<ArrayBuffer> | null, op: string, arg: string): T {
  // Detached, or a fixed-length view over a resizable buffer shrunk below it: core's error, with its
  // words (the clone sent the latter as empty, so it failed as truncated or empty input instead).
  if (v.byteLength === 0) attached(v, op, arg);
  // Node's structured clone writes a view's byte offset and length as 32-bit values: a view 4 GiB
  // into its buffer crossed as the view at its offset modulo 2^32, and the worker answered for other
  // rows (transferred or not). Such a view crosses as a copy of itself; one of 4 GiB or more cannot.
  if (v.byteLength > 0xffffffff)
    throw new CosineKitError(
      'INVALID_ARGUMENT',
      `Argument '${arg}' passed to '${op}' is a view of ${v.byteLength} bytes: a worker kit takes views under 4 GiB (the structured clone writes their length as 32 bits); pass it in parts.`,
      { op, arg },
    );
  // Shared memory is not copied by postMessage: copy it now, as core's snapshot would (a DataView
  // has no slice(); it failed as 'v.slice is not a function'). A buffer past 4 GiB cannot be
  // cloned or moved at all (DataCloneError, after a minute), nor a view past 4 GiB into one placed.
  if (!(v.buffer instanceof ArrayBuffer) || v.byteOffset > 0xffffffff || v.buffer.byteLength > 0xffffffff)
    return copyOf(v);
  if (moves) {
    moves.add(v.buffer);
    return v;
  }
  // The clone copies a view's whole buffer: one row viewing a 144 MiB buffer sent 144 MiB and held
  // the calling thread for seconds. A view on less than half its buffer crosses as a copy of itself.
  if (2 * v.byteLength < v.buffer.byteLength) return copyOf(v);
  return v;
}

/** The typed arrays' own `Symbol.toStringTag` getter: a view's kind, whatever its prototype says. */
const typedArrayTag = Object.getOwnPropertyDescriptor(
  Object.getPrototypeOf(Uint8Array.prototype) as object,
  Symbol.toStringTag,
)!.get!;

/** A copy of just the bytes `v` views, as the same kind of view (the clone would send that kind). */
function copyOf<T extends ArrayBufferView>(v: T): T {
  const bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength).slice();
  const tag = typedArrayTag.call(v) as string | undefined;
  const Kind = tag === undefined ? DataView : (globalThis as unknown as Record<string, unknown>)[tag];
  return new (Kind as new (b: ArrayBuffer) => T)(bytes.buffer);
}

/** Whether `buffer` was transferred: only a detached buffer refuses a new view. */
function detached(buffer: ArrayBufferLike): boolean {
  try {
    new Uint8Array(buffer, 0, 0);
    return false;
  } catch {
    return true;
  }
}

/** True when `v` survives the structured clone `postMessage` makes. */
function clones(v: unknown): boolean {
  try {
    structuredClone(v);
    return true;
  } catch {
    return false;
  }
}

/**
 * `v` (an argument that failed to clone) as a value that clones, where the in-process kit would
 * accept it: rows that core converts (a Proxy around an array of numbers or of rows, rows that are
 * Proxies, an array carrying a function property) are converted here by core's own `toTensor` into
 * a fresh Float32Array, which moves to the worker (nobody else holds it); other arrays (ids) and an
 * options object's arrays (`ids`, a filter's `allow` / `deny`) are copied element by element. Rows core would refuse are copied element
 * by element too, so that core in the worker refuses them exactly as it would here.
 */
/** A stream chunk's rows (`source[3]`, `source[3].rows`). */
const CHUNK_ROWS = /^source\[\d+\](\.rows)?$/;

/**
 * Rows given as a list, as core converts them (a fresh buffer), or `undefined` where core would
 * refuse them for what they hold: they then cross as they are, for core in the worker to refuse
 * by its own words. A read that throws (a getter, a Proxy trap) is refused here, as core names it.
 */
function listed(v: unknown[], op: string, arg: string): Tensor | undefined {
  try {
    return toTensor(v as TensorInput, op, arg);
  } catch (e) {
    if ((e as CosineKitError).cause !== undefined) throw e;
    return undefined;
  }
}

function sendable(v: unknown, packed: unknown, op: string, arg: string, transfer: Set<ArrayBuffer>): unknown {
  if (ROWS.has(arg) || arg.startsWith('source[')) {
    if (!Array.isArray(v)) return packed;
    // Rows core refuses for what they hold are copied for core in the worker to refuse.
    const t = listed(v, op, arg);
    if (t === undefined) return plainCopy(v);
    // toTensor converts an array (of numbers or of rows) into a fresh buffer nobody else holds.
    transfer.add(t.data.buffer as ArrayBuffer);
    return { [TAG]: 'tensor', data: t.data, rows: t.rows, cols: t.cols };
  }
  if (arg === 'options') {
    if (typeof packed !== 'object' || packed === null || Array.isArray(packed)) return packed;
    const out: Record<string, unknown> = { ...packed };
    // Arrays among the options (ids) copied through their elements; a filter's lists likewise.
    for (const key of Object.keys(out)) if (Array.isArray(out[key])) out[key] = plainCopy(out[key]);
    const f = out.filter;
    if (typeof f === 'object' && f !== null && !ArrayBuffer.isView((f as { mask?: unknown }).mask)) {
      const g: Record<string, unknown> = { ...f };
      for (const key of ['allow', 'deny']) if (key in g) g[key] = plainCopy(g[key]);
      out.filter = g;
    }
    return out;
  }
  return plainCopy(v);
}

/** Core's most ids in a list (2^24, the most a corpus holds); core's remove takes four times that. */
const MAX_IDS = 2 ** 24;

/**
 * An id list as core reads it: a plain copy made through its elements (an element inherited from
 * the prototype, or from a getter, is read; structured cloning dropped it), a read that throws
 * named `arg` as core names it. Anything but an array crosses as it is, for core to refuse.
 */
function idList(v: unknown, op: string, arg: string): unknown {
  let list: unknown[];
  try {
    if (!Array.isArray(v)) return v;
    // Its length first, as core reads it: copied whole, a list claiming 2^32 - 1 ids (a sparse
    // array, a Proxy) exhausted the heap and ended the calling process.
    const n = (v as unknown[]).length;
    const most = op === 'remove' ? 4 * MAX_IDS : MAX_IDS;
    if (!(n <= most))
      throw new CosineKitError(
        'INVALID_ARGUMENT',
        arg.startsWith('options.filter')
          ? `Argument '${arg}' passed to '${op}' holds ${n} ids: a filter's list holds at most ${MAX_IDS} (2^24, the most ids a corpus holds); pass { mask } instead.`
          : `Argument '${arg}' passed to '${op}' holds ${n} ids: a list of ids holds at most ${most}${most === MAX_IDS ? ' (2^24, the most ids a corpus holds)' : ' here'}.`,
        { op, arg },
      );
    list = Array.from(v as unknown[]);
  } catch (e) {
    throw readError(op, arg, e);
  }
  // Ids that are none and cannot cross (a symbol, a function, an object) go as stand-ins, so core
  // in the worker refuses them with its own message ("cannot be sent to the worker" before).
  return list.some((x) => typeof x !== 'string' && typeof x !== 'number' && x != null)
    ? { [TAG]: 'ids', list: list.map((x) => oddId(x, describeType)) }
    : list;
}

/** Arrays (and arrays in arrays) copied through their elements into plain arrays; anything else as it is. */
function plainCopy(v: unknown): unknown {
  return Array.isArray(v) ? Array.from(v as unknown[], plainCopy) : v;
}

/**
 * The error for an argument that cannot be sent (a function, a symbol, a class instance): core's
 * own where core refuses such rows, else `INVALID_TYPE` naming the argument.
 */
function cloneError(
  op: string,
  names: readonly string[],
  args: unknown[],
  packed: unknown[],
  e: unknown,
  corpusRows?: number,
): unknown {
  // Core checks the rows first: bad rows are refused as core refuses them, before anything that
  // cannot cross (a symbol id beside NaN rows was INVALID_TYPE ids[0]; core says NON_FINITE rows).
  // The rows k is checked against: a topK's corpus argument, or the corpus searched.
  let n = corpusRows;
  for (let i = 0; i < args.length; i++) {
    const arg = names[i] ?? 'options';
    if (!ROWS.has(arg)) continue;
    try {
      const rows = admit(args[i] as TensorInput, op, arg).tensor.rows;
      if (arg === 'corpus') n = rows;
    } catch (coreError) {
      return coreError;
    }
  }
  for (let i = 0; i < args.length; i++) {
    const arg = names[i] ?? 'options';
    try {
      structuredClone(packed[i]);
      continue;
    } catch {
      // This one cannot cross.
    }
    // A k that cannot cross (a symbol, a function, an object with valueOf) is no k: core's code.
    if (arg === 'k')
      return new CosineKitError(
        'INVALID_K',
        `Argument 'k' passed to '${op}' must be ${n === undefined ? 'a positive integer' : `an integer in [1, ${n}]`}, got ${valueText(args[i])}.`,
        { op, arg: 'k', cause: e },
      );
    // Named down to the part that cannot cross (`ids[1]`, `options.filter.allow[0]`), as core
    // names the element it refuses.
    const part = uncloned(packed[i], arg);
    return new CosineKitError(
      'INVALID_TYPE',
      `Argument '${part}' passed to '${op}' cannot be sent to the worker: ${cloneRefusal(e)}`,
      { op, arg: part, cause: e },
    );
  }
  return e;
}

/**
 * Why the structured clone refused a value, by the error's name only (its error stays the
 * `cause`): V8's `DataCloneError` message quotes a function's source text, which put a caller's
 * code (and whatever it held) into messages that end up in logs.
 */
function cloneRefusal(e: unknown): string {
  let name = 'an error';
  try {
    if (e instanceof Error && typeof e.name === 'string') name = e.name;
  } catch {
    // A name that cannot be read: the generic words.
  }
  return `the structured clone cannot copy it (${name}; functions, symbols and class instances with private state cannot cross).`;
}

/**
 * The path below `name` of the first part of `v` that the structured clone cannot copy, named as
 * core names what it refuses: an array's element (`ids[1]`, `options.filter.allow[0]`; arrays in
 * arrays walked), an option (`options.filter`), the corpus's own `ids` option as `ids[i]`. `name`
 * itself where that part is `v` or `v` cannot be walked.
 */
function uncloned(v: unknown, name: string, inArray = false): string {
  try {
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) if (!clones(v[i])) return uncloned(v[i], `${name}[${i}]`, true);
    } else if (
      !inArray &&
      typeof v === 'object' &&
      v !== null &&
      Object.getPrototypeOf(v) === Object.prototype
    ) {
      for (const key of Object.keys(v)) {
        const part = (v as Record<string, unknown>)[key];
        // kit.corpus names its ids after the rows they label: `ids[i]`, not `options.ids[i]`.
        if (!clones(part))
          return uncloned(part, name === 'options' && key === 'ids' ? 'ids' : `${name}.${key}`);
      }
    }
  } catch {
    // A Proxy or getter that throws: the whole argument is named.
  }
  return name;
}
