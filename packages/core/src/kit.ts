import {
  checkK,
  checkKernelName,
  checkSameCols,
  checkSameShape,
  checkStorageOptions,
  ownOptions,
  refuseExtra,
} from './check.js';
import {
  type Awaitable,
  type Backend,
  type CorpusStorage,
  KERNEL_NAMES,
  type KernelName,
  type Kernels,
  type ResidentCorpus,
  resolveCorpusOptions,
  type StoredCorpus,
  type TopKResult,
} from './contract.js';
import { Corpus, type CorpusCreateOptions, checkIdList, copyIds, type Id, pause } from './corpus.js';
import { type CorpusFile, readCorpusFile } from './corpus-file.js';
import {
  argError,
  argErrorOf,
  backendError,
  checkSignal,
  disposeQuietly,
  eitherSignal,
  errorText,
  isArrayArg,
  isCosineKitError,
  orAbort,
  readFailure,
  reading,
  reportProgress,
  signalFired,
} from './errors.js';
import { checkSignalArg } from './filter.js';
import { type Admitted, admit, admitInto, admitPair, guardRows, Lease } from './gate.js';
import { CheckedKernels, Guard, isThenable, normFits } from './guard.js';
import { checkOut, type MatrixOptions, mayShare, outFailure } from './out.js';
import { REFERENCE_SELF_CHECKED, referenceKernels } from './reference.js';
import { getBackend } from './registry.js';
import { checkedBackendName, type ResolvedKernels, resolveKernels } from './resolve.js';
import { SearchResult } from './search-result.js';
import { quantised } from './stored.js';
import {
  attached,
  describeType,
  intact,
  refuseFakeView,
  Tensor,
  type TensorInput,
  toTensor,
  valueText,
} from './tensor.js';
import { bounded } from './timer.js';

/** Options of {@link createCosineKit}. */
export interface CosineKitOptions {
  /**
   * A registered backend's name, a backend object, or omitted for the best available one
   * (highest priority whose `init()` succeeds).
   */
  backend?: string | Backend;
  /**
   * Called when the best-available search skips a backend whose init failed, and when a corpus
   * goes to the reference backend because the kit's backend cannot store it (`storage: 'float16'`
   * where a backend lacks it): the rest of the kit stays on its backend. Defaults to one
   * `console.warn` per backend and reason, because a silent fallback hides why things are slow.
   * One that throws fails the call that fell back with `INVALID_ARGUMENT` naming `onFallback`, its
   * error as `cause`; that call alone: the kit has fallen back, and calls beside it and after it
   * run there. A promise it returns (an async logger's) is not waited for; its rejection is
   * reported with `console.warn`, never thrown at you or left unhandled.
   */
  onFallback?: (backend: string, reason: string) => void;
  /**
   * How long one kernel call may stay unsettled before the kit gives up on it with
   * `BACKEND_ERROR`, and the backend's `init()` (never less than the default) before the kit gives
   * up on it with `BACKEND_INIT_FAILED`, in milliseconds (default 60,000; `0`, `Infinity` or
   * anything past a timer's range, 2^31 - 1 ms or about 24.8 days: no limit). A guard
   * against a backend that hangs, not a deadline for your own work: raise it for very large calls.
   */
  timeoutMs?: number;
}

/** One chunk of a {@link CosineKit.corpusFrom} stream: rows, or rows with one id each. */
export type CorpusChunk = TensorInput | { readonly rows: TensorInput; readonly ids?: readonly Id[] };

/** Options of {@link CosineKit.corpusFrom}. */
export interface CorpusFromOptions extends Omit<CorpusCreateOptions, 'ids'> {
  /** Called with the number of rows resident so far, after each segment (or large chunk) is uploaded. */
  onProgress?: (rowsDone: number) => void;
  /** Stops the build with `ABORTED` between chunks; what was built is disposed. */
  signal?: AbortSignal;
  /** Host bytes gathered before a segment is uploaded (default 64 MiB; one chunk at least). */
  segmentBytes?: number;
}

const DEFAULT_SEGMENT_BYTES = 64 * 2 ** 20;
/**
 * Smallest chunk `corpusFrom` hands straight to a backend that copies rows and merges segments
 * itself, and the size of the buffer smaller chunks are gathered in for it: each is a segment
 * until a segment's worth is merged. Small enough to stay in cache and be reused; large enough
 * that a segment's worth is a merge of at most 64.
 */
const DIRECT_CHUNK_BYTES = 1024 * 1024;
/** Milliseconds `corpusFrom` reads a source that never waits before letting timers and events run. */
const PAUSE_MS = 10;

/**
 * `init` (a backend's initialisation), unless it takes longer than `timeoutMs` (0 or Infinity: no
 * limit): then `BACKEND_INIT_FAILED` naming createCosineKit's `backend`, rather than every call of
 * the kit waiting forever on an `init()` that never settles.
 */
async function initWithin<T>(init: T | Promise<T>, timeoutMs: number, what: string): Promise<T> {
  const ms = initBound(timeoutMs);
  if (!Number.isFinite(ms)) return await init;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      Promise.resolve(init),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              argErrorOf(
                'BACKEND_INIT_FAILED',
                'createCosineKit',
                'backend',
                `is ${what}, whose initialisation did not settle within ${ms} ms (createCosineKit({ timeoutMs }), at least ${DEFAULT_TIMEOUT_MS} for init).`,
              ),
            ),
          ms,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The default of {@link CosineKitOptions.timeoutMs}. */
const DEFAULT_TIMEOUT_MS = 60_000;

/**
 * How long a backend's start may take under `timeoutMs` (0 or Infinity: no bound). Compiling wasm
 * or starting an engine takes longer than a kernel call: never less than the default, so a short
 * timeoutMs for kernels does not fail a slow but healthy start.
 */
function initBound(timeoutMs: number): number {
  return bounded(timeoutMs) ? Math.max(timeoutMs, DEFAULT_TIMEOUT_MS) : Infinity;
}

/** What a kit runs on, as reported by {@link CosineKit.ready}. */
export interface KitInfo {
  /** The backend's name. */
  readonly backend: string;
  /** For each kernel, the backend that runs it (the backend itself or `'reference'`). */
  readonly providers: Readonly<Record<KernelName, string>>;
  /** The backend's own description: engine, mode, SIMD variant, threads. */
  readonly details: Readonly<Record<string, string | number | boolean>>;
}

/**
 * The public API bound to one backend. Every method is async and validates its inputs when it is
 * called. **What a call uses is its inputs as they were when it was called**: rows, queries and ids
 * are copied (arrays of numbers are converted, which copies them anyway), or read by a kernel that
 * answers at once, before the method returns its promise, so the caller may reuse, overwrite or
 * transfer its arrays at once.
 */
export interface CosineKit {
  /** Initialises the backend (once) and says what runs. */
  ready(): Promise<KitInfo>;
  /** The backend that runs `kernel`; `undefined` before {@link CosineKit.ready} resolves. */
  ranBy(kernel: KernelName): string | undefined;
  /**
   * The complete kernel table for libraries built on the kit (such as `@cosinekit/nn`): outputs are
   * checked as for every other call, and a matrix argument (and `addBias`'s bias) holding NaN or
   * ±Infinity is `NON_FINITE` naming the kernel and the argument (not the optimiser's step, whose
   * arrays are the caller's to keep finite). Inputs are scanned before the kernel runs, except for
   * the dense and cosine kernels run by the reference (not its activations) and the dense kernels
   * declared self-checked (see `Backend.selfChecked`), whose answers carry a NaN through or throw:
   * there they are scanned only once an answer fails its check (so training steps pay nothing for
   * it). Shapes are checked before any kernel runs, as at every other entry point: each matrix a
   * Float32Array of exactly `rows x cols` values (at least one of each), shapes that agree (paired
   * rows, equal dimensions, matmul's inner dimension, addBias's bias), `k` in [1, corpus rows],
   * `out` of the result's length (written and returned, as the contract says), a known activation,
   * and for `corpusSearchAllowed` one allow byte per corpus row admitting at least `k`: each failure
   * is the public code (`SHAPE_MISMATCH`, `DIMENSION_MISMATCH`, `EMPTY_INPUT`, `INVALID_K`, ...)
   * naming the kernel and the argument. Rows of extreme magnitude (values past 2^40, or all below
   * 2^-40) reach a cosine kernel (`rowNorms`, `normalizeRows`, `cosineRows`, `cosineMatrix`, `topK`,
   * `createCorpus` and a corpus's queries) scaled by a power of two, as every other call of the kit
   * scales them, unless the kernel is the reference's or declared ungated (exact at any magnitude):
   * a GPU's float32 sum of squares overflows at 1e20. Cosines and unit rows do not change; norms
   * are scaled back (one past the float32 range is `INVALID_ARGUMENT` naming the row).
   */
  kernels(): Promise<Kernels>;
  /**
   * The L2 norm of each row. A row whose norm is past the float32 range (its values near 3.4e38)
   * is refused with `INVALID_ARGUMENT`, never answered as Infinity.
   */
  rowNorms(x: TensorInput): Promise<Float32Array>;
  /** Each row scaled to unit length; zero rows stay zero. */
  normalize(x: TensorInput): Promise<Tensor>;
  /** Cosine of paired rows: `out[i] = cos(a_i, b_i)`. */
  cosineRows(a: TensorInput, b: TensorInput): Promise<Float32Array>;
  /**
   * The `a.rows x b.rows` matrix of cosines. With `options.out`, written into it (see
   * {@link MatrixOptions.out}): repeated calls then skip the page faults of a fresh result.
   */
  cosineMatrix(a: TensorInput, b: TensorInput, options?: MatrixOptions): Promise<Tensor>;
  /** Top-k rows of `corpus` for each query, best first; the corpus is not kept. */
  topK(queries: TensorInput, corpus: TensorInput, k: number): Promise<SearchResult>;
  /**
   * Uploads `rows` once (normalised) and returns a resident corpus to search many times. With
   * `storage: 'int8' | 'float16'` the rows are quantised (on this backend if it supports it, else on
   * the reference backend, reported through `onFallback`); `ids` are returned with search results.
   * An `int8` corpus re-ranks by default (`rerank` 3: the float32 rows are kept too, 5 bytes per
   * value in all, and search scores are exact); `rerank: 0` keeps only the codes, a quarter of the
   * memory, with approximate scores and some neighbours missed (see `CorpusOptions.rerank`).
   */
  corpus(rows: TensorInput, options?: CorpusCreateOptions): Promise<Corpus>;
  /**
   * Builds a corpus from a stream of row chunks (an iterable or async iterable of
   * {@link CorpusChunk}), without ever holding all rows in one host array: chunks are gathered into
   * segments of about `options.segmentBytes` and each segment is uploaded as it fills (where the
   * backend copies rows and merges segments itself, as the wasm backend does, chunks go to it a
   * MiB or a chunk at a time, and each segment's worth of them, 64 MiB at most, is merged there).
   * Ids come
   * with the chunks (all chunks or none). An error in the stream, a bad chunk or an abort disposes
   * what was built, closes the source (its `return()`, not waited for) and rejects. Whole segments
   * are not merged while building, nor later: a later `add` merges only segments smaller than
   * `segmentBytes`, so it never copies the corpus.
   */
  corpusFrom(
    source: Iterable<CorpusChunk> | AsyncIterable<CorpusChunk>,
    options?: CorpusFromOptions,
  ): Promise<Corpus>;
  /** Loads a corpus saved by {@link Corpus.save} onto this kit's backend. */
  loadCorpus(bytes: Uint8Array): Promise<Corpus>;
  /**
   * Disposes every corpus this kit created that is still alive, and those still being made by
   * calls begun before it (`corpus`, `corpusFrom`, `loadCorpus`, the file loads), which reject with
   * `DISPOSED` naming `kit`. The kit itself stays usable for later calls.
   */
  dispose(): void;
}

/** @internal Each kit's corpus maker, for the file helpers (`@cosinekit/core/fs`, `/opfs`). */
export const placeOf = new WeakMap<CosineKit, CorpusMaker>();

/**
 * @internal A kit's corpus maker: `place` makes a corpus, disposed and refused as `DISPOSED` when
 * `kit.dispose()` ran after `since` (from `disposals()`, read where the public call began).
 */
export interface CorpusMaker {
  place(
    op: string,
    from: Tensor | StoredCorpus,
    options: CorpusCreateOptions,
    since?: number,
  ): Promise<Corpus>;
  disposals(): number;
  /** Fires at the next `kit.dispose()` (see `eitherSignal`). */
  halt(): AbortSignal;
}

/** Creates the public API bound to a backend (by name, by object, or the best available). */
export function createCosineKit(options: CosineKitOptions = {}): CosineKit {
  options = ownOptions('createCosineKit', options, ['backend', 'onFallback', 'timeoutMs']);
  checkKitOptions(options);
  const warned = new Set<string>();
  const warnOnce = (key: string, text: string) => {
    if (warned.has(key)) return;
    warned.add(key);
    console.warn(text);
  };
  // The caller's callback, run inside a call: its throw fails that call by name, the error as cause
  // (it escaped raw). Its promise (an async logger's) is not waited for (one that never settled
  // held every call that fell back), and a rejection is reported, not thrown: dropped, it ended the
  // process.
  const given = options.onFallback;
  const callers =
    given &&
    ((name: string, reason: string): void => {
      let r: unknown;
      let promise: boolean;
      try {
        r = given(name, reason);
        // Read inside: a `then` getter that throws is the hook's failure (it escaped raw).
        promise = isThenable(r as Awaitable<unknown>);
      } catch (e) {
        throw argErrorOf('INVALID_ARGUMENT', 'createCosineKit', 'onFallback', `threw: ${errorText(e)}`, e);
      }
      if (promise)
        Promise.resolve(r).then(undefined, (e: unknown) =>
          console.warn(`[cosinekit] onFallback's promise rejected (backend '${name}'): ${errorText(e)}`),
        );
    });
  const onFallback =
    callers ??
    ((name: string, reason: string) =>
      warnOnce(
        `${name}\n${reason}`,
        `[cosinekit] backend '${name}' is unavailable, falling back: ${reason}`,
      ));
  // A corpus the backend cannot store: that corpus alone goes to the reference backend.
  const onStorageFallback =
    callers ??
    ((name: string, reason: string) =>
      warnOnce(
        `${name}\n${reason}`,
        `[cosinekit] backend '${name}' ${reason}; the kit's other calls stay on it`,
      ));
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let resolved: ResolvedKernels | undefined;
  let backendObj: Backend | undefined;
  let backendName = '';
  /** The name of a backend object given, read once, here, as it is checked. */
  const chosen = options.backend;
  const named: unknown =
    typeof chosen === 'object' ? checkedBackendName(chosen, 'createCosineKit', 'backend') : undefined;
  let starting: Promise<CheckedKernels> | undefined;
  let checked: CheckedKernels | undefined;
  const live = new Set<Corpus>();
  /** How many times `kit.dispose()` has run: a corpus made by a call begun before the last is disposed. */
  let disposals = 0;
  /** Aborted by `dispose()` (then replaced): ends the waits of calls begun before it. */
  let halting = new AbortController();
  /** The reference's kernels, checked, for corpora this backend cannot store. */
  const referenceOnly = new CheckedKernels(
    referenceKernels,
    new Guard(
      {
        providers: Object.fromEntries(KERNEL_NAMES.map((k) => [k, 'reference'])) as Record<
          KernelName,
          string
        >,
      },
      timeoutMs,
    ),
    REFERENCE_SELF_CHECKED,
    true,
  );

  const start = (): Promise<CheckedKernels> => {
    if (starting) return starting;
    /** What `onFallback` threw while the registry fell back: the call that started the kit fails with it. */
    let hookFailed: { error: unknown } | undefined;
    starting = (async () => {
      const b = options.backend;
      if (b !== undefined && typeof b !== 'string') {
        // Its name as checked when the kit was made: a getter is not read again for messages.
        const label = `backend ${valueText(named)}`;
        try {
          await initWithin(b.init?.(), timeoutMs, label);
        } catch (err) {
          if (isCosineKitError(err, 'BACKEND_INIT_FAILED') && err.op === 'createCosineKit') throw err;
          // Disposed before or while it started: the call is DISPOSED, as every call after is.
          if (isCosineKitError(err, 'DISPOSED'))
            throw argErrorOf(
              'DISPOSED',
              'createCosineKit',
              'backend',
              `is ${label}, which was disposed before it started: ${errorText(err)}`,
              err,
            );
          throw argErrorOf(
            'BACKEND_INIT_FAILED',
            'createCosineKit',
            'backend',
            `is ${label}, which failed to initialise: ${errorText(err)}`,
            err,
          );
        }
        backendObj = b;
      } else {
        try {
          // Bounded per backend by the registry (a start that hangs is skipped for the next best),
          // with the same bound as a backend object's init.
          // The hook's throw fails the call that started the kit, not the start: kept, it failed
          // every later call too, the hook never called again (the worker kit fails one call).
          backendObj = await getBackend(
            b,
            (name, reason) => {
              try {
                onFallback(name, reason);
              } catch (e) {
                hookFailed ??= { error: e };
              }
            },
            initBound(timeoutMs),
          );
        } catch (err) {
          // The registry's errors name its own argument; the caller passed this kit's `backend`.
          if (isCosineKitError(err) && err.op === 'getBackend')
            throw argErrorOf(
              err.code,
              'createCosineKit',
              'backend',
              err.message.replace(/^Argument 'name' passed to 'getBackend' /, ''),
              err,
            );
          throw err;
        }
      }
      try {
        // Read once: its name, and its kernels and declarations (bound here, never read again).
        resolved = resolveKernels(backendObj);
        backendName = resolved.name;
      } catch (err) {
        throw argErrorOf(
          'BACKEND_INIT_FAILED',
          'createCosineKit',
          'backend',
          `is ${typeof b === 'string' ? `backend '${b}'` : b === undefined ? 'the best backend' : `backend ${valueText(named)}`}, whose kernels cannot be read: ${errorText(err)}`,
          err,
        );
      }
      checked = new CheckedKernels(
        resolved.kernels,
        new Guard(resolved, timeoutMs),
        resolved.selfChecked,
        resolved.topKTrusted,
        resolved.ungated,
      );
      return checked;
    })();
    return starting.then((k) => {
      if (hookFailed) throw hookFailed.error;
      return k;
    });
  };

  /**
   * Creates the backend handle from admitted rows, or from a stored representation (a loaded file),
   * on the backend, or on the reference when the backend cannot hold that storage. A quantised
   * corpus lives only where its stored representation can be read back and restored
   * (`exportCorpus` and `importCorpus`), so rebuilding or saving it never quantises twice.
   */
  const place = async (
    op: string,
    from: Tensor | StoredCorpus,
    options: CorpusCreateOptions,
    since = disposals,
  ): Promise<Corpus> => {
    const own = await start();
    const want: CorpusStorage = options.storage ?? 'float32';
    const opts = { storage: options.storage, rerank: options.rerank };
    const make = async (k: CheckedKernels): Promise<ResidentCorpus> => {
      if (from instanceof Tensor) return k.createCorpus(op, 'rows', from, opts);
      if (k.canImport) return k.importCorpus(op, 'bytes', from);
      return k.createCorpus(op, 'bytes', new Tensor(from.exact!, from.rows, from.cols), opts);
    };
    let kernels = own;
    let handle: ResidentCorpus | undefined;
    if (!quantised(want) || (own.canExport && own.canImport)) {
      try {
        handle = await make(kernels);
      } catch (e) {
        if (want === 'float32' || (e as { code?: string }).code !== 'UNSUPPORTED') throw e;
      }
    }
    if (handle && (handle.storage ?? 'float32') !== want) {
      disposeQuietly(handle);
      handle = undefined;
    }
    if (!handle) {
      await onStorageFallback(
        backendName,
        `cannot store a corpus as ${want}; the reference backend holds it`,
      );
      kernels = referenceOnly;
      handle = await make(kernels);
    }
    // Without readCorpus or exportCorpus the kit keeps the rows to save and compact; its own copy.
    const keepsHost = !kernels.canExport && !kernels.canRead;
    const host = !keepsHost ? null : from instanceof Tensor ? from.data : from.exact!.slice();
    const c = new Corpus(handle, kernels, options, host, (x) => live.delete(x), from.rows);
    live.add(c);
    return kept(op, c, since);
  };

  /**
   * `c`, made by a call that began when `kit.dispose()` had run `since` times: a dispose since
   * then was meant for it too (it was being made), so it is disposed and the call refused.
   */
  const kept = (op: string, c: Corpus, since: number): Corpus => {
    if (since === disposals) return c;
    c.dispose();
    return madeDisposed(op);
  };
  const madeDisposed = (op: string, cause?: unknown): never =>
    argError(
      'DISPOSED',
      op,
      'kit',
      'was disposed (kit.dispose()) while this corpus was being made; the corpus was disposed with it.',
      cause,
    );

  /**
   * A loaded file's corpus: version 2 restores the stored representation as it was; version 1 rows
   * are admitted as `corpus()` admits rows, then stored again.
   */
  const load = async (file: CorpusFile, since: number): Promise<Corpus> => {
    const options: CorpusCreateOptions = {
      storage: file.storage,
      rerank: file.rerank,
      ...(file.ids ? { ids: file.ids } : {}),
    };
    const from =
      file.version >= 2 ? file : guardRows(file.exact!, file.rows, file.cols, 'loadCorpus', 'bytes').tensor;
    const c = await place('loadCorpus', from, options, since);
    c.restore(file);
    return c;
  };

  /**
   * A corpus of `rows` made by a `createCorpus` declared ungated (see `Backend.ungated`), where the
   * backend can give its rows back without a copy of the kit's (`CheckedKernels.copiesCorpus`):
   * the backend copies the rows into its own storage within the call (normalising, and quantising
   * for int8, there), with no snapshot of the gate's first (whose copy of a large corpus, page
   * faults and all, cost several times the backend's). `undefined` sends the call through the
   * gate: a backend without it, a kernel that throws (as it must for NaN or ±Infinity) or answers
   * a handle the check refuses, or bad ids (named after the rows, as there).
   */
  const ungatedCorpus = (op: string, rows: TensorInput, options: CorpusCreateOptions): Corpus | undefined => {
    const k = checked;
    if (k === undefined || !k.copiesCorpus(options.storage ?? 'float32')) return undefined;
    const t = toTensor(rows, op, 'rows');
    let ids: Id[] | undefined;
    try {
      ids = copyIds(op, options.ids);
      if (ids !== undefined) checkIdList(op, ids, t.rows);
    } catch {
      return undefined;
    }
    const h = k.createCorpusUngated(op, t, { storage: options.storage, rerank: options.rerank });
    return h === undefined ? undefined : corpusOf(h, options, ids, t.rows);
  };

  /** A corpus of one segment, `h` (`rows` rows, with `ids` when given), the backend made. */
  const corpusOf = (h: ResidentCorpus, options: CorpusCreateOptions, ids: Id[] | undefined, rows: number) => {
    const c = new Corpus(
      h,
      checked!,
      { ...resolveCorpusOptions(options), ...(ids ? { ids } : {}) },
      null,
      (x) => live.delete(x),
      rows,
    );
    live.add(c);
    return c;
  };

  /**
   * Runs a short call's kernel `work` on its admitted inputs `x` (pooled buffers held by `lease`),
   * then makes the answer with `done` and returns the buffers to the pool (see `Lease`); after a
   * `BACKEND_ERROR` (a kernel abandoned, perhaps still running) they are left to the garbage
   * collector instead. A synchronous kernel on a started kit runs within the call, with no promise
   * in between. `work` and `done` are module functions: a call allocates no closures.
   */
  const run = <X, T, R>(
    lease: Lease,
    x: X,
    work: (k: CheckedKernels, x: X) => Awaitable<T>,
    done: (r: T, x: X, lease: Lease) => R,
  ): Promise<R> => {
    if (checked === undefined) return start().then((k) => settle(lease, work(k, x), x, done));
    return settle(lease, work(checked, x), x, done);
  };

  const kit: CosineKit = {
    async ready() {
      await start();
      return {
        backend: backendName,
        providers: resolved!.providers,
        details: detailsOf(backendObj!, backendName),
      };
    },
    ranBy(kernel) {
      checkKernelName(kernel);
      return resolved?.providers[kernel];
    },
    async kernels() {
      return (await start()).table();
    },
    rowNorms(x, ...more: unknown[]) {
      const extra = refuseExtra('rowNorms', more, ['x']);
      if (extra) return extra;
      if (checked?.ungated.has('rowNorms')) {
        try {
          const out = elementwiseUngated(checked, 'rowNorms', x);
          if (out !== undefined) return Promise.resolve(out.data);
        } catch (e) {
          return Promise.reject(e);
        }
      }
      const lease = new Lease();
      try {
        return run(lease, admit(x, 'rowNorms', 'x', lease), rowNormsWork, rowNormsDone);
      } catch (e) {
        return Promise.reject(lease.fail(e));
      }
    },
    normalize(x, ...more: unknown[]) {
      const extra = refuseExtra('normalize', more, ['x']);
      if (extra) return extra;
      if (checked?.ungated.has('normalizeRows')) {
        try {
          const out = elementwiseUngated(checked, 'normalizeRows', x);
          if (out !== undefined) return Promise.resolve(out);
        } catch (e) {
          return Promise.reject(e);
        }
      }
      const lease = new Lease();
      try {
        return run(lease, admit(x, 'normalize', 'x', lease), normalizeWork, normalizeDone);
      } catch (e) {
        return Promise.reject(lease.fail(e));
      }
    },
    cosineRows(a, b, ...more: unknown[]) {
      const extra = refuseExtra('cosineRows', more, ['a', 'b']);
      if (extra) return extra;
      if (checked?.ungated.has('cosineRows')) {
        try {
          const out = cosineRowsUngated(checked, a, b);
          if (out !== undefined) return Promise.resolve(out);
        } catch (e) {
          return Promise.reject(e);
        }
      }
      const lease = new Lease();
      try {
        return run(lease, admitPair(a, b, 'cosineRows', 'shape', AB, lease), cosineRowsWork, keepOutput);
      } catch (e) {
        return Promise.reject(lease.fail(e));
      }
    },
    cosineMatrix(a, b, options, ...more: unknown[]) {
      const extra = refuseExtra('cosineMatrix', more, ['a', 'b', 'options']);
      if (extra) return extra;
      if (checked?.ungated.has('cosineMatrix')) {
        try {
          const out = cosineMatrixUngated(checked, a, b, options);
          // Into the caller's out: checked again as the promise settles, so an out detached or
          // shrunk meanwhile rejects as the queued path's does (it resolved an empty tensor).
          if (out !== undefined) return options === undefined ? Promise.resolve(out) : settledInto(out);
        } catch (e) {
          return Promise.reject(e);
        }
      }
      const lease = new Lease();
      try {
        const pair = admitPair(a, b, 'cosineMatrix', 'cols', AB, lease);
        if (options !== undefined) options = ownOptions('cosineMatrix', options, ['out']);
        const out = checkOut('cosineMatrix', options, pair[0].tensor.rows, pair[1].tensor.rows, [
          ['a', a],
          ['b', b],
        ]);
        const p = run(lease, { pair, out }, cosineMatrixWork, matrixDone);
        return out === undefined
          ? p
          : p.then(intactOut).catch((e: unknown) => Promise.reject(outFailure('cosineMatrix', e, out)));
      } catch (e) {
        return Promise.reject(lease.fail(e));
      }
    },
    topK(queries, corpus, k, ...more: unknown[]) {
      const extra = refuseExtra('topK', more, ['queries', 'corpus', 'k']);
      if (extra) return extra;
      if (checked?.ungated.has('topK')) {
        try {
          const out = topKUngatedCall(checked, queries, corpus, k);
          if (out !== undefined) return Promise.resolve(out);
        } catch (e) {
          return Promise.reject(e);
        }
      }
      const lease = new Lease();
      try {
        const pair = admitPair(corpus, queries, 'topK', 'cols', CORPUS_QUERIES, lease);
        checkK('topK', k, pair[0].tensor.rows);
        return run(lease, { pair, k }, topKWork, topKDone);
      } catch (e) {
        return Promise.reject(lease.fail(e));
      }
    },
    async corpus(rows, options = {}, ...more: unknown[]) {
      const extra = refuseExtra('corpus', more, ['rows', 'options']);
      if (extra) return extra;
      const since = disposals;
      options = checkCorpusOptions(options);
      // Before any await: the backend's copy is made within the call, as the gate's snapshot is.
      const c = ungatedCorpus('corpus', rows, options);
      if (c !== undefined) {
        // A kit.dispose() right after this call is meant for this corpus as well.
        await undefined;
        return kept('corpus', c, since);
      }
      const t = admit(rows, 'corpus', 'rows').tensor;
      const ids = copyIds('corpus', options.ids);
      if (ids !== undefined) checkIdList('corpus', ids, t.rows);
      return place('corpus', t, { ...resolveCorpusOptions(options), ...(ids ? { ids } : {}) }, since);
    },
    async corpusFrom(source, options = {}, ...more: unknown[]) {
      const extra = refuseExtra('corpusFrom', more, ['source', 'options']);
      if (extra) return extra;
      const op = 'corpusFrom';
      const since = disposals;
      options = checkCorpusOptions(options, op);
      const { onProgress, signal, segmentBytes = DEFAULT_SEGMENT_BYTES } = options;
      if ((options as CorpusCreateOptions).ids !== undefined)
        argError('INVALID_ARGUMENT', op, 'options.ids', 'is not taken here: give ids with each chunk.');
      if (onProgress !== undefined && typeof onProgress !== 'function')
        argError(
          'INVALID_TYPE',
          op,
          'options.onProgress',
          `must be a function, got ${describeType(onProgress)}.`,
        );
      if (!(typeof segmentBytes === 'number' && segmentBytes > 0))
        argError(
          'INVALID_ARGUMENT',
          op,
          'options.segmentBytes',
          `must be a number > 0, got ${valueText(segmentBytes)}.`,
        );
      checkSignalArg(op, signal);
      checkSignal(op, signal);
      // Where the backend builds segments from the rows as they are (exact at any magnitude),
      // chunks are admitted without the rescale, so the corpus holds what `corpus(rows)` would.
      const kernels = await start();
      const raw = kernels.copiesCorpus(options.storage ?? 'float32');
      // Where the backend also merges its own segments, a large chunk goes to it as it comes (it
      // copies the rows itself), and each segment's worth of such chunks is merged within it: no
      // host segment is filled first (a fresh 64 MiB buffer, every row copied and checked into it,
      // then copied again by the backend: 200,000 x 96 in chunks of 10,000 took 6x `corpus(rows)`).
      // Smaller chunks are gathered into a buffer of that size, reused, each filling a segment of
      // its own likewise (100-row chunks of 200,000 x 96 took 9x `corpus(rows)` through 64 MiB ones).
      const merges = raw && kernels.canMerge;
      const gather = merges ? Math.min(DIRECT_CHUNK_BYTES, segmentBytes) : segmentBytes;
      // A run of chunk segments is merged once it holds this much: while it merges, the run and
      // its merged copy are both in the backend's memory, so the run is held to 64 MiB whatever
      // `segmentBytes` is (a review: with segmentBytes past the corpus, the wasm heap peaked at
      // twice the corpus, where one host buffer of it had been).
      const run = merges ? Math.min(segmentBytes, DEFAULT_SEGMENT_BYTES) : segmentBytes;
      const it = iterate(source, op);
      // Waits on the caller's code (the source, onProgress) end at an abort or at kit.dispose().
      // Taken here, where the try that lets go of it follows with nothing that can throw between
      // (taken before, a source that is no iterable left its listeners on the kit: 1 KB a call).
      const [stop, release] = eitherSignal(signal, halting.signal);
      let c: Corpus | undefined;
      let cols = 0;
      let withIds: boolean | undefined;
      // The next segment's rows, admitted chunk by chunk straight into one buffer (no snapshot per
      // chunk, no copy to join them); reused for the next segment when the backend copied them.
      let seg = new Float32Array(0);
      let segRows = 0;
      let pendingIds: Id[] = [];
      const streamed = new Map<Id, number>();
      let done = 0;
      /** Segments appended since the last whole segment, and their bytes: merged into one when they reach a segment's worth. */
      let tail = 0;
      let tailBytes = 0;
      const closeTail = async () => {
        if (tail > 1) await c!.mergeTail(op, tail);
        tail = 0;
        tailBytes = 0;
      };
      /** A segment's rows have come (`bytes` of them): the tail is closed once it holds a segment's worth. */
      const appended = async (rows: number, bytes: number) => {
        tail++;
        tailBytes += bytes;
        if (tailBytes >= run) await closeTail();
        done += rows;
        await reportProgress(op, onProgress, [done], stop);
      };
      const flush = async () => {
        if (segRows === 0) return;
        const rows = segRows;
        const t = new Tensor(seg.subarray(0, rows * cols), rows, cols);
        const ids = withIds ? pendingIds : undefined;
        pendingIds = [];
        segRows = 0;
        // A gated backend may keep the rows it is given: its own trimmed copy when the buffer is
        // much larger than them (so the buffer is kept for the next segment), else the buffer;
        // rows admitted without the rescale get it now.
        const give = (): Tensor => {
          if (raw) guardRows(t.data, rows, cols, op, 'source');
          if (seg.length * 4 > t.data.length * 5) return new Tensor(t.data.slice(), rows, cols);
          seg = new Float32Array(0);
          return t;
        };
        if (c === undefined) {
          if (ids) checkIdList(op, ids, rows);
          const opts = { ...resolveCorpusOptions(options), ...(ids ? { ids } : {}) };
          const made = ungatedCorpus(op, t, opts);
          c = made ? kept(op, made, since) : await place(op, give(), opts, since);
          c.mergeBytes = segmentBytes;
        } else {
          const h = c.ungatedHandle(op, t);
          await c.appendRows(op, h ? t : give(), ids, undefined, h);
        }
        await appended(rows, rows * cols * 4);
      };
      try {
        let i = 0;
        let turned = performance.now();
        for (;;) {
          // A source that never waits (a generator, an async one on no I/O) left timers and events
          // no turn: its signal's abort never fired, and a source without end ran for ever.
          if (performance.now() - turned >= PAUSE_MS) {
            await pause();
            turned = performance.now();
          }
          checkSignal(op, signal);
          let step: IteratorResult<unknown>;
          try {
            // Not past an abort or a dispose: a source that stalls (a stream that stops sending)
            // held the call.
            step = await orAbort(op, it.next(), stop);
          } catch (e) {
            if (stop.aborted && isCosineKitError(e, 'ABORTED')) throw e;
            // The caller's iterator failed: its error, named, as the cause (it escaped raw).
            throw readFailure(op, 'source', e);
          }
          // What next() gave is read once, here: a result that is no object, or whose `done` or
          // `value` throws as it is read, is the source's fault, named (it escaped raw, or was
          // named as chunk 'undefined').
          let chunk: unknown;
          try {
            if (typeof step !== 'object' || step === null)
              argError(
                'INVALID_TYPE',
                op,
                'source',
                `must be an iterator whose next() gives { done, value }; it gave ${describeType(step)}.`,
              );
            if (step.done) break;
            chunk = step.value;
          } catch (e) {
            if (isCosineKitError(e)) throw e;
            throw readFailure(op, 'source', e);
          }
          const arg = `source[${i}]`;
          // A chunk whose reading throws (a getter, a Proxy trap, a revoked Proxy) is the caller's
          // error, named after the chunk, its error as cause (it escaped raw).
          const [plain, rows, ids] = reading(op, arg, () => {
            refuseFakeView(chunk, op, arg);
            const p = chunk instanceof Tensor || Array.isArray(chunk) || ArrayBuffer.isView(chunk);
            if (!p && (typeof chunk !== 'object' || chunk === null || !('rows' in chunk)))
              argError('INVALID_TYPE', op, arg, `must be rows or { rows, ids }, got ${describeType(chunk)}.`);
            if (p) return [p, chunk as TensorInput, undefined] as const;
            const c = chunk as { rows: TensorInput; ids?: readonly Id[] };
            return [p, c.rows, c.ids] as const;
          });
          const rowsArg = plain ? arg : `${arg}.rows`;
          const t = toTensor(rows, op, rowsArg);
          if (i === 0) cols = t.cols;
          else if (t.cols !== cols) {
            // The gate's own errors (non-finite values) first, as for any input.
            admit(rows, op, rowsArg);
            argError('DIMENSION_MISMATCH', op, arg, `has ${t.cols} columns, the first chunk had ${cols}.`);
          }
          /** The chunk's ids, checked against the stream's (once its rows passed: rows are named first). */
          const takeIds = (): Id[] | undefined => {
            const own = copyIds(op, ids as Id[] | undefined, `${arg}.ids`);
            const has = own !== undefined;
            if (withIds === undefined) withIds = has;
            else if (withIds !== has)
              argError(
                'INVALID_ARGUMENT',
                op,
                `${arg}.ids`,
                withIds ? 'is missing: earlier chunks had ids.' : 'given, but earlier chunks had none.',
              );
            if (own) {
              // Against every id of the stream so far, naming the chunk that repeats one.
              checkIdList(op, own, t.rows, streamed, `${arg}.ids`);
              for (const id of own) streamed.set(id, 0);
            }
            return own;
          };
          i++;
          if (merges && t.rows * cols * 4 >= gather) {
            // The rows gathered so far first, as a segment of their own: rows keep stream order.
            await flush();
            // The backend's copy is the rows' check: a chunk it refuses (NaN) is gathered below,
            // where the gate names it.
            const h =
              c === undefined
                ? kernels.createCorpusUngated(op, t, { storage: options.storage, rerank: options.rerank })
                : c.ungatedHandle(op, t);
            if (h !== undefined) {
              let own: Id[] | undefined;
              try {
                own = takeIds();
              } catch (e) {
                disposeQuietly(h);
                throw e;
              }
              if (c === undefined) {
                c = kept(op, corpusOf(h, options, own, t.rows), since);
                c.mergeBytes = segmentBytes;
              } else await c.appendRows(op, t, own, undefined, h);
              await appended(t.rows, t.rows * cols * 4);
              continue;
            }
          }
          const need = (segRows + t.rows) * cols;
          if (need > seg.length) {
            // Doubled, or once it holds an eighth of a segment, room for the whole segment (so a
            // long stream copies its first rows a few times, not once per doubling; a short one
            // never asks for a segment's worth of memory).
            const full = Math.ceil(gather / 4 / cols) * cols;
            const grown = new Float32Array(Math.max(need, 8 * need >= full ? full : 2 * seg.length));
            grown.set(seg.subarray(0, segRows * cols));
            seg = grown;
          }
          admitInto(t, op, rowsArg, seg, segRows * cols, !raw);
          const own = takeIds();
          if (own) for (const id of own) pendingIds.push(id);
          segRows += t.rows;
          if (segRows * cols * 4 >= gather) await flush();
        }
        checkSignal(op, signal);
        await flush();
        if (c !== undefined) await closeTail();
        if (c === undefined) argError('EMPTY_INPUT', op, 'source', 'yielded no rows.');
        return kept(op, c, since);
      } catch (e) {
        disposeQuietly(c);
        // The source is closed (its return()), and the error reported without waiting for that:
        // a return() that never settles (a generator whose finally awaits a stuck close(), or one
        // stalled mid-chunk, which answers return() only once that chunk comes) held the call for
        // ever, its error never reported. A failure of the source's own clean-up adds nothing.
        try {
          Promise.resolve(it.return?.()).catch(() => undefined);
        } catch {
          // return() itself threw (or could not be read): the first error is reported.
        }
        // The corpus being made refused a later segment because the kit was disposed meanwhile:
        // the caller never held that corpus, so the kit is named, as for a dispose between segments.
        if (since !== disposals && isCosineKitError(e, 'DISPOSED') && e.arg === 'corpus') madeDisposed(op, e);
        // A wait on the source or onProgress ended by kit.dispose() (not by the caller's signal).
        if (since !== disposals && isCosineKitError(e, 'ABORTED') && !signalFired(signal))
          madeDisposed(op, e);
        throw e;
      } finally {
        release();
      }
    },
    async loadCorpus(bytes, ...more: unknown[]) {
      const extra = refuseExtra('loadCorpus', more, ['bytes']);
      if (extra) return extra;
      refuseFakeView(bytes, 'loadCorpus', 'bytes');
      if (!(bytes instanceof Uint8Array))
        argError('INVALID_TYPE', 'loadCorpus', 'bytes', `must be a Uint8Array, got ${describeType(bytes)}.`);
      attached(bytes, 'loadCorpus', 'bytes');
      // The snapshot: new Uint8Array copies, where a Node Buffer's slice() is a view of the caller's
      // memory. It is the kit's alone, so the file's sections are read as views of it.
      return load(readCorpusFile(new Uint8Array(bytes), true), disposals);
    },
    dispose() {
      disposals++;
      const halted = halting;
      halting = new AbortController();
      for (const c of [...live]) c.dispose();
      halted.abort();
    },
  };
  placeOf.set(kit, { place, disposals: () => disposals, halt: () => halting.signal });
  return kit;
}

/**
 * `cosineRows` on an ungated kernel (see `Backend.ungated`): the caller's rows go to the kernel as
 * they are, with no copy, finite check or rescale, because the kernel answers within the call (so
 * for the rows as they are now), is exact for finite float32 rows of any magnitude and answers NaN
 * for a row that is not finite. `undefined` when the call must go through the gate instead: an
 * answer that is not all cosines (bad input, which the gate names). A detached or shrunk input
 * never gets this far: `toTensor` refuses it with the gate's own error.
 */
function cosineRowsUngated(k: CheckedKernels, a: TensorInput, b: TensorInput): Float32Array | undefined {
  const ta = toTensor(a, 'cosineRows', 'a');
  const tb = toTensor(b, 'cosineRows', 'b');
  // Reading `b` (a getter, a Proxy) may have shrunk `a`'s resizable buffer: the kernel then copied
  // what was left and answered the missing rows from stale memory.
  intact(ta, 'cosineRows', 'a');
  checkSameShape('cosineRows', 'a', ta, 'b', tb);
  return k.cosineRowsUngated(ta, tb);
}

/**
 * `cosineMatrix` on an ungated kernel, as {@link cosineRowsUngated} is: the caller's rows go to
 * the kernel as they are. Arguments are checked here as the gated call checks them; `undefined`
 * sends the call through the gate.
 */
function cosineMatrixUngated(
  k: CheckedKernels,
  a: TensorInput,
  b: TensorInput,
  options: MatrixOptions | undefined,
): Tensor | undefined {
  const ta = toTensor(a, 'cosineMatrix', 'a');
  const tb = toTensor(b, 'cosineMatrix', 'b');
  checkSameCols('cosineMatrix', 'a', ta, 'b', tb);
  // Bad options go through the gate, which checks the rows first: the same error either way.
  let out: Float32Array | undefined;
  try {
    if (options !== undefined) options = ownOptions('cosineMatrix', options, ['out']);
    out = checkOut('cosineMatrix', options, ta.rows, tb.rows, [
      ['a', a],
      ['b', b],
    ]);
  } catch {
    return undefined;
  }
  // Reading `b` and the options may have shrunk an earlier argument's buffer (see cosineRowsUngated).
  intact(ta, 'cosineMatrix', 'a');
  intact(tb, 'cosineMatrix', 'b');
  // An `out` that may be an input's memory (two SharedArrayBuffer objects over one memory): through
  // the gate, which copies the inputs first (wasm streamed `b` while it wrote `out`: wrong cosines).
  if (out !== undefined && (mayShare(out, ta.data) || mayShare(out, tb.data))) return undefined;
  const r = k.cosineMatrixUngated(ta, tb, out);
  return r === undefined ? undefined : new Tensor(r, ta.rows, tb.rows);
}

/** `topK` on an ungated kernel, as {@link cosineMatrixUngated} is. */
function topKUngatedCall(
  k: CheckedKernels,
  queries: TensorInput,
  corpus: TensorInput,
  n: number,
): SearchResult | undefined {
  const tc = toTensor(corpus, 'topK', 'corpus');
  const tq = toTensor(queries, 'topK', 'queries');
  checkSameCols('topK', 'corpus', tc, 'queries', tq);
  // A bad k goes through the gate, which checks the rows first: the same error either way.
  try {
    checkK('topK', n, tc.rows);
  } catch {
    return undefined;
  }
  intact(tc, 'topK', 'corpus');
  const r = k.topKUngated(tq, tc, n);
  return r === undefined ? undefined : new SearchResult(r);
}

/**
 * `rowNorms` or `normalizeRows` on an ungated kernel, as {@link cosineRowsUngated} is: the answer as
 * a tensor (the norms as one column), or `undefined` to go through the gate.
 */
function elementwiseUngated(
  k: CheckedKernels,
  kernel: 'rowNorms' | 'normalizeRows',
  x: TensorInput,
): Tensor | undefined {
  const t = toTensor(x, kernel === 'rowNorms' ? kernel : 'normalize', 'x');
  const out = k.rowsUngated(kernel, t);
  return out && new Tensor(out, t.rows, kernel === 'rowNorms' ? 1 : t.cols);
}

const AB = ['a', 'b'] as const;
const CORPUS_QUERIES = ['corpus', 'queries'] as const;
type Pair = [Admitted, Admitted];

/** Ends a short call: its answer from the kernel's checked output, then its buffers back. */
function settle<X, T, R>(
  lease: Lease,
  r: Awaitable<T>,
  x: X,
  done: (r: T, x: X, lease: Lease) => R,
): Promise<R> {
  if (!isThenable(r)) {
    const out = done(r, x, lease);
    lease.release();
    return Promise.resolve(out);
  }
  return r.then(
    (v) => {
      const out = done(v, x, lease);
      lease.release();
      return out;
    },
    (e) => {
      if (!isCosineKitError(e, 'BACKEND_ERROR')) lease.release();
      throw e;
    },
  );
}

// Each short call's kernel work and answer, as plain functions (see `run` in createCosineKit).
const rowNormsWork = (k: CheckedKernels, a: Admitted) => k.rowNorms('rowNorms', 'x', a.tensor);
const rowNormsDone = (n: Float32Array, a: Admitted, lease: Lease): Float32Array => {
  const out = lease.keep(n);
  if (a.factor)
    for (let i = 0; i < out.length; i++) {
      // Only a rescaled row can: its norm, back at the caller's scale, may pass the float32 range.
      const v = out[i] / a.factor[i];
      normFits('rowNorms', 'x', i, v);
      out[i] = v;
    }
  return out;
};
const normalizeWork = (k: CheckedKernels, a: Admitted) => k.normalizeRows('normalize', 'x', a.tensor);
const normalizeDone = (d: Float32Array, a: Admitted, lease: Lease) =>
  new Tensor(lease.keep(d), a.tensor.rows, a.tensor.cols);
const cosineRowsWork = (k: CheckedKernels, [a, b]: Pair) =>
  k.cosineRows('cosineRows', 'a', a.tensor, b.tensor);
const keepOutput = (r: Float32Array, _: unknown, lease: Lease) => lease.keep(r);
type MatrixCall = { pair: Pair; out: Float32Array | undefined };
const cosineMatrixWork = (k: CheckedKernels, { pair: [a, b], out }: MatrixCall) => {
  // Transferred while the call waited for the backend to start: the caller's, by name (the
  // kernel's write failed as the backend's error naming 'a').
  if (out !== undefined && out.buffer.byteLength === 0)
    argError('DISPOSED', 'cosineMatrix', 'options.out', 'was transferred (detached) while the call waited.');
  return k.cosineMatrix('cosineMatrix', 'a', a.tensor, b.tensor, out);
};
const matrixDone = (d: Float32Array, { pair: [a, b], out }: MatrixCall, lease: Lease) =>
  new Tensor(out ?? lease.keep(d), a.tensor.rows, b.tensor.rows);

/** `t` (a cosine matrix over the caller's `options.out`), unless that buffer lost its values. */
function intactOut(t: Tensor): Tensor {
  if (t.data.length !== t.rows * t.cols)
    argError(
      'DISPOSED',
      'cosineMatrix',
      'options.out',
      'was transferred (detached) or shrunk before the call settled: its answer is gone.',
    );
  return t;
}

/** {@link intactOut} once the caller's synchronous code after the call has run. */
const settledInto = (t: Tensor): Promise<Tensor> => Promise.resolve(t).then(intactOut);
const topKWork = (k: CheckedKernels, { pair: [c, q], k: n }: { pair: Pair; k: number }) =>
  k.topK('topK', 'queries', q.tensor, c.tensor, n);
const topKDone = (r: TopKResult, _: unknown, lease: Lease) =>
  new SearchResult({ ...r, indices: lease.keep(r.indices), scores: lease.keep(r.scores) });

/**
 * What a backend's `describe()` says, copied: string, number and boolean values as they are, any
 * other value by its type. One that throws, or returns what cannot be read, is `BACKEND_ERROR`
 * naming the backend (it escaped raw from `ready()`, a revoked Proxy included).
 */
function detailsOf(b: Backend, name: string): Readonly<Record<string, string | number | boolean>> {
  let said: unknown;
  try {
    said = b.describe?.();
    if (said === undefined) return {};
    if (typeof said !== 'object' || said === null) throw new TypeError(`it returned ${describeType(said)}`);
    const out: Record<string, string | number | boolean> = {};
    for (const [k, v] of Object.entries(said)) {
      out[k] = typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : valueText(v);
    }
    return out;
  } catch (e) {
    throw backendError('ready', 'backend', name, 'describe', `could not be described: ${errorText(e)}`, e);
  }
}

/** Refuses options that are not what {@link CosineKitOptions} says, before anything starts. */
function checkKitOptions(o: unknown): asserts o is CosineKitOptions {
  if (typeof o !== 'object' || o === null || isArrayArg('createCosineKit', 'options', o))
    argError('INVALID_TYPE', 'createCosineKit', 'options', `must be an object, got ${describeType(o)}.`);
  const { backend, onFallback, timeoutMs } = o as Record<string, unknown>;
  if (typeof backend === 'string') {
    if (backend === '')
      argError('INVALID_ARGUMENT', 'createCosineKit', 'backend', 'must be a non-empty name.');
  } else if (backend !== undefined && (typeof backend !== 'object' || backend === null)) {
    // Not a backend object (a backend object is checked where its name is read, once).
    checkedBackendName(backend, 'createCosineKit', 'backend');
  }
  if (onFallback !== undefined && typeof onFallback !== 'function')
    argError(
      'INVALID_TYPE',
      'createCosineKit',
      'onFallback',
      `must be a function, got ${describeType(onFallback)}.`,
    );
  if (timeoutMs !== undefined && !(typeof timeoutMs === 'number' && timeoutMs >= 0))
    argError(
      'INVALID_ARGUMENT',
      'createCosineKit',
      'timeoutMs',
      `must be a number >= 0, got ${valueText(timeoutMs)}.`,
    );
}

const CORPUS_KEYS = ['storage', 'rerank', 'ids'];

/** Checks a corpus's options and returns the copy every later step reads (see `ownOptions`). */
function checkCorpusOptions<T extends CorpusCreateOptions>(options: T, op = 'corpus'): T {
  // A stream's options are corpusFrom's alone: kit.corpus took a signal, onProgress and segmentBytes
  // without a look, so an aborted signal made the corpus all the same.
  const keys = op === 'corpus' ? CORPUS_KEYS : [...CORPUS_KEYS, 'onProgress', 'signal', 'segmentBytes'];
  const o = ownOptions(op, options, keys);
  checkStorageOptions(op, o.storage, o.rerank);
  return o;
}

/** An async iterator over `source`, refusing what is not iterable. */
function iterate<T>(source: Iterable<T> | AsyncIterable<T>, op: string): AsyncIterator<T> | Iterator<T> {
  const s = source as Partial<Iterable<T> & AsyncIterable<T>> | null;
  try {
    if (s !== null && typeof s === 'object' && typeof s[Symbol.asyncIterator] === 'function')
      return s[Symbol.asyncIterator]!();
    if (
      s !== null &&
      (typeof s === 'object' || typeof s === 'function') &&
      typeof s[Symbol.iterator] === 'function'
    )
      return s[Symbol.iterator]!();
  } catch (e) {
    throw readFailure(op, 'source', e);
  }
  return argError(
    'INVALID_TYPE',
    op,
    'source',
    `must be an iterable or async iterable of row chunks, got ${describeType(source)}.`,
  );
}
