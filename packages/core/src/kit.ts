import { checkK, checkSameCols, checkSameShape } from './check.js';
import type { Backend, CorpusStorage, KernelName, Kernels, ResidentCorpus } from './contract.js';
import { Corpus, type CorpusCreateOptions, checkIdList } from './corpus.js';
import { decodeCorpusFile } from './corpus-file.js';
import { argError, CosineKitError } from './errors.js';
import { referenceKernels } from './reference.js';
import { getBackend } from './registry.js';
import { type ResolvedKernels, resolveKernels } from './resolve.js';
import { prepareRows } from './scale.js';
import { SearchResult } from './search-result.js';
import { Tensor, type TensorInput, toTensor } from './tensor.js';

/** Options of {@link createCosineKit}. */
export interface CosineKitOptions {
  /**
   * A registered backend's name, a backend object, or omitted for the best available one
   * (highest priority whose `init()` succeeds).
   */
  backend?: string | Backend;
  /**
   * Called when the best-available search skips a backend whose init failed. Defaults to one
   * `console.warn` per skipped backend, because a silent fallback hides why things are slow.
   */
  onFallback?: (backend: string, reason: string) => void;
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

/** The public API bound to one backend. Every method validates its inputs and is async. */
export interface CosineKit {
  /** Initialises the backend (once) and says what runs. */
  ready(): Promise<KitInfo>;
  /** The backend that runs `kernel`; `undefined` before {@link CosineKit.ready} resolves. */
  ranBy(kernel: KernelName): string | undefined;
  /** The complete kernel table, without validation, for libraries built on the kit (such as `@cosinekit/nn`). */
  kernels(): Promise<Kernels>;
  /** The L2 norm of each row. */
  rowNorms(x: TensorInput): Promise<Float32Array>;
  /** Each row scaled to unit length; zero rows stay zero. */
  normalize(x: TensorInput): Promise<Tensor>;
  /** Cosine of paired rows: `out[i] = cos(a_i, b_i)`. */
  cosineRows(a: TensorInput, b: TensorInput): Promise<Float32Array>;
  /** The `a.rows x b.rows` matrix of cosines. */
  cosineMatrix(a: TensorInput, b: TensorInput): Promise<Tensor>;
  /** Top-k rows of `corpus` for each query, best first; the corpus is not kept. */
  topK(queries: TensorInput, corpus: TensorInput, k: number): Promise<SearchResult>;
  /**
   * Uploads `rows` once (normalised) and returns a resident corpus to search many times. With
   * `storage: 'int8' | 'float16'` the rows are quantised (on this backend if it supports it, else on
   * the reference backend, reported through `onFallback`); `ids` are returned with search results.
   */
  corpus(rows: TensorInput, options?: CorpusCreateOptions): Promise<Corpus>;
  /** Loads a corpus saved by {@link Corpus.save} onto this kit's backend. */
  loadCorpus(bytes: Uint8Array): Promise<Corpus>;
  /** Disposes every corpus this kit created that is still alive. */
  dispose(): void;
}

/** Creates the public API bound to a backend (by name, by object, or the best available). */
export function createCosineKit(options: CosineKitOptions = {}): CosineKit {
  const warned = new Set<string>();
  const onFallback =
    options.onFallback ??
    ((name: string, reason: string) => {
      if (warned.has(name)) return;
      warned.add(name);
      console.warn(`[cosinekit] backend '${name}' is unavailable, falling back: ${reason}`);
    });
  let resolved: ResolvedKernels | undefined;
  let backendObj: Backend | undefined;
  let starting: Promise<ResolvedKernels> | undefined;
  const live = new Set<Corpus>();

  const start = (): Promise<ResolvedKernels> => {
    starting ??= (async () => {
      const b = options.backend;
      if (b !== undefined && typeof b !== 'string') {
        try {
          await b.init?.();
        } catch (err) {
          throw new CosineKitError(
            'BACKEND_INIT_FAILED',
            `Argument 'backend' passed to 'createCosineKit': backend '${b.name}' failed to initialise: ${String(err)}`,
            {
              op: 'createCosineKit',
              arg: 'backend',
              cause: err,
            },
          );
        }
        backendObj = b;
      } else {
        backendObj = await getBackend(b, onFallback);
      }
      resolved = resolveKernels(backendObj);
      return resolved;
    })();
    return starting;
  };

  const two = (op: string, a: TensorInput, b: TensorInput): [Tensor, Tensor] => {
    const ta = toTensor(a, op, 'a');
    const tb = toTensor(b, op, 'b');
    checkSameCols(op, 'a', ta, 'b', tb);
    return [prepareRows(op, 'a', ta).tensor, prepareRows(op, 'b', tb).tensor];
  };

  /** Creates the backend handle (or the reference's, when the backend cannot store it that way). */
  const place = async (t: Tensor, options: CorpusCreateOptions): Promise<Corpus> => {
    const r = await start();
    const want: CorpusStorage = options.storage ?? 'float32';
    const opts = { storage: options.storage, rerank: options.rerank };
    let kernels: Kernels = r.kernels;
    let handle: ResidentCorpus | undefined;
    try {
      handle = await kernels.createCorpus(t, opts);
    } catch (e) {
      if (want === 'float32' || (e as { code?: string }).code !== 'UNSUPPORTED') throw e;
    }
    if (handle && (handle.storage ?? 'float32') !== want) {
      handle.dispose();
      handle = undefined;
    }
    if (!handle) {
      onFallback(backendObj!.name, `cannot store a corpus as ${want}; the reference backend holds it`);
      kernels = referenceKernels;
      handle = await kernels.createCorpus(t, opts);
    }
    const host = kernels.readCorpus ? null : Float32Array.from(t.data);
    const c = new Corpus(handle, kernels, options, host, (x) => live.delete(x));
    live.add(c);
    return c;
  };

  return {
    async ready() {
      const r = await start();
      return { backend: backendObj!.name, providers: r.providers, details: backendObj!.describe?.() ?? {} };
    },
    ranBy(kernel) {
      return resolved?.providers[kernel];
    },
    async kernels() {
      return (await start()).kernels;
    },
    async rowNorms(x) {
      const { tensor, factor } = prepareRows('rowNorms', 'x', toTensor(x, 'rowNorms', 'x'));
      const n = await (await start()).kernels.rowNorms(tensor);
      if (factor) for (let i = 0; i < n.length; i++) n[i] /= factor[i];
      return n;
    },
    async normalize(x) {
      const t = prepareRows('normalize', 'x', toTensor(x, 'normalize', 'x')).tensor;
      const d = await (await start()).kernels.normalizeRows(t);
      return new Tensor(d, t.rows, t.cols);
    },
    async cosineRows(a, b) {
      const ta = toTensor(a, 'cosineRows', 'a');
      const tb = toTensor(b, 'cosineRows', 'b');
      checkSameShape('cosineRows', 'a', ta, 'b', tb);
      return (await start()).kernels.cosineRows(
        prepareRows('cosineRows', 'a', ta).tensor,
        prepareRows('cosineRows', 'b', tb).tensor,
      );
    },
    async cosineMatrix(a, b) {
      const [ta, tb] = two('cosineMatrix', a, b);
      const d = await (await start()).kernels.cosineMatrix(ta, tb);
      return new Tensor(d, ta.rows, tb.rows);
    },
    async topK(queries, corpus, k) {
      const tq = toTensor(queries, 'topK', 'queries');
      const tc = toTensor(corpus, 'topK', 'corpus');
      checkSameCols('topK', 'corpus', tc, 'queries', tq);
      checkK('topK', k, tc.rows);
      const q = prepareRows('topK', 'queries', tq).tensor;
      const c = prepareRows('topK', 'corpus', tc).tensor;
      return new SearchResult(await (await start()).kernels.topK(q, c, k));
    },
    async corpus(rows, options = {}) {
      const t = prepareRows('corpus', 'rows', toTensor(rows, 'corpus', 'rows')).tensor;
      checkCorpusOptions(options);
      if (options.ids !== undefined) checkIdList('corpus', options.ids, t.rows);
      return place(t, options);
    },
    async loadCorpus(bytes) {
      const file = decodeCorpusFile(bytes);
      const c = await place(new Tensor(file.data, file.rows, file.cols), {
        storage: file.storage,
        rerank: file.rerank,
        ...(file.ids ? { ids: file.ids } : {}),
      });
      c.restore(file);
      return c;
    },
    dispose() {
      for (const c of [...live]) c.dispose();
    },
  };
}

function checkCorpusOptions(o: CorpusCreateOptions): void {
  if (typeof o !== 'object' || o === null)
    argError('INVALID_TYPE', 'corpus', 'options', 'must be an object.');
  if (o.storage !== undefined && o.storage !== 'float32' && o.storage !== 'float16' && o.storage !== 'int8') {
    argError(
      'INVALID_ARGUMENT',
      'corpus',
      'options.storage',
      `must be 'float32', 'float16' or 'int8', got ${String(o.storage)}.`,
    );
  }
  if (o.rerank !== undefined && !(Number.isInteger(o.rerank) && o.rerank >= 0)) {
    argError(
      'INVALID_ARGUMENT',
      'corpus',
      'options.rerank',
      `must be a non-negative integer, got ${String(o.rerank)}.`,
    );
  }
}
