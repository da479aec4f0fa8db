import {
  argError,
  type Backend,
  type BackendMemory,
  type CorpusOptions,
  checkFinite,
  declareKernels,
  describeType,
  disposedBackend,
  isArrayArg,
  ownOptions,
  reading,
  type SelfCheckedKernelName,
  type UngatedKernelName,
  valueText,
} from '@cosinekit/core/backend';
import { createCorpus, type WasmCorpus } from './kernels/corpus.js';
import { kernelsOf, type WasmKernels } from './kernels/index.js';
import {
  checkSource,
  compileVariant,
  enableRelaxedInNode,
  relaxedSupported,
  simdSupported,
  type WasmSource,
  type WasmVariant,
} from './loader.js';
import { WasmRuntime } from './runtime.js';
import { DEFAULT_SHARD_BYTES, residentBytes, Shards, type WasmShardInfo } from './shards.js';
import type { RowSource } from './staging.js';
import { defaultThreads, HelperPool, threadLimit, threadsUnavailable } from './threads.js';
import { DEFAULT_TUNING, type EngineTuning } from './tuning.js';
import { disposedError, toFloat32, WasmVector } from './vector.js';
import { warmUp } from './warm-up.js';

/** Options of {@link createWasmBackend}. */
export interface WasmBackendOptions {
  /**
   * Which binary to run. `'auto'` (default) picks relaxed SIMD where `WebAssembly.validate`
   * accepts it, plain SIMD otherwise. `'simd'` forces plain SIMD. `'relaxed'` insists on relaxed
   * SIMD: on Node 20 it turns on V8's `--experimental-wasm-relaxed-simd` first, and `init()`
   * fails with `UNSUPPORTED` where the engine still refuses it.
   */
  variant?: 'auto' | WasmVariant;
  /**
   * Where to load the binaries from, for bundlers and custom hosting: bytes, a compiled
   * `WebAssembly.Module`, a `Response`, or a URL. By default each is resolved next to this package's
   * `dist/` with `new URL(..., import.meta.url)` (read with `fs` in Node, fetched in browsers).
   */
  wasm?: { simd?: WasmSource; relaxed?: WasmSource; simdThreads?: WasmSource; relaxedThreads?: WasmSource };
  /** Register tile and cache block of the dot-product engine; the defaults suit each variant. */
  tuning?: Partial<EngineTuning>;
  /**
   * Threads to compute with. Default: every core (Node: `os.availableParallelism()`; browsers:
   * `navigator.hardwareConcurrency` on a cross-origin-isolated page, else 1). Above 1, the threads
   * build runs on a shared memory and `threads - 1` helper workers, started by `init()`, take shares
   * of every large product, search and int8 scan (calls below `tuning.threadMinFlops` stay on the
   * calling thread); kernels stay synchronous and results are bit for bit those of one thread.
   * Needs SharedArrayBuffer (in browsers: a cross-origin-isolated page); where it is missing the
   * backend runs on one thread and `describe()` gives the reason in `threadsNote` (and
   * `threadsRequested` when a number was asked for). At most four threads per core run (16 at
   * least); more asked run that many, said in `threadsNote` and `threadsRequested`.
   */
  threads?: number;
  /**
   * Most bytes of wasm memory one instance fills with resident corpora before the next corpus goes
   * to a new instance (a shard with its own memory, and its own helper threads on the threads
   * build). Default 3.5 GiB: a wasm32 memory addresses 4 GiB at most, so corpora beyond that are
   * spread over instances, each piece searched where it lives and the results merged exactly by
   * the kit's `Corpus`. One corpus (one `createCorpus` call, one `add`, one `corpusFrom` segment)
   * is never split, so it must fit one instance. Lower it to keep each memory small.
   */
  shardBytes?: number;
}

/** What {@link WasmBackend.describe} reports. */
export interface WasmBackendInfo extends Record<string, string | number | boolean> {
  engine: string;
  variant: WasmVariant;
  tile: string;
  threads: number;
  /** Wasm memory of every instance together. */
  wasmMemoryBytes: number;
  /** Wasm instances holding corpora (see {@link WasmBackendOptions.shardBytes}). */
  shards: number;
}

/**
 * The wasm backend: every kernel of the contract in AssemblyScript SIMD, plus resident vectors for
 * the single-pair fast path.
 */
export interface WasmBackend extends Backend {
  readonly name: 'wasm';
  readonly kernels: WasmKernels;
  /**
   * `cosineRows`, `cosineMatrix`, `topK`, `rowNorms`, `normalizeRows`, `createCorpus` (every
   * storage), `corpusSearch` and `corpusMatrix` (their queries, every storage) take the caller's
   * rows without the kit's gate (see `Backend.ungated`): they copy them into wasm memory anyway,
   * and check them there.
   */
  readonly ungated: readonly UngatedKernelName[];
  /**
   * `cosineMatrix` and `corpusMatrix` clamp where they write; `matmul` checks its product for
   * non-finite values in wasm before handing it over; `addBias`, `activation` and
   * `activationGrad` check their outputs finite in wasm (see `Backend.selfChecked`).
   */
  readonly selfChecked: readonly SelfCheckedKernelName[];
  /** Compiles and instantiates the chosen binary and warms every kernel once. Idempotent. */
  init(): Promise<void>;
  /** Releases the instance and every resident corpus and vector. */
  dispose(): void;
  /** Resident corpora, vectors and optimiser states alive, and bytes held by the allocator in wasm memory (all instances). */
  memory(): BackendMemory;
  /** Each wasm instance (shard) in use: its memory, what it holds, its threads; the first runs every other kernel. */
  shards(): WasmShardInfo[];
  describe(): WasmBackendInfo;
  /**
   * Most bytes the allocator held in wasm memory at once since the previous call (or `init()`),
   * then starts a new measurement: what a call needed beyond the resident data, for example.
   */
  memoryPeak(): number;
  /** The binary running (after `init()`). */
  readonly variant: WasmVariant | undefined;
  /**
   * A resident corpus built from rows produced a chunk at a time (`source.read(start, count)`), so
   * the whole corpus never has to exist as one host array: a million 384-d rows as int8 take 0.4 GB
   * of wasm memory and a few MB of host memory while being built. Same options and result as
   * `kernels.createCorpus`; each chunk is checked (length, finite values) as it arrives.
   *
   * ```ts
   * const corpus = backend.createCorpusFrom(
   *   { rows: 1_000_000, cols: 384, read: (start, count) => embeddings(start, count) },
   *   { storage: 'int8', rerank: 4 },
   * );
   * ```
   *
   * @deprecated Use the kit's `corpusFrom(chunks, options)`, which builds a full `Corpus` (ids,
   * `add`, `remove`, `save`, filters, abort, progress) from an (async) iterable of chunks on any
   * backend, without holding the whole host array. This returns a bare kernel handle and stays
   * for existing callers.
   */
  createCorpusFrom(source: RowSource, options?: CorpusOptions): WasmCorpus;
  /**
   * Copies `data` (finite, non-empty) into wasm memory and computes its norm once. The vector stays
   * resident until `dispose()`; {@link WasmBackend.vectorCosine} compares two of them in one call.
   * `data` is a Float32Array, an array of numbers (strings and other values are refused by
   * position, not coerced) or another typed array of numbers; a detached one is `DISPOSED`.
   *
   * ```ts
   * const a = backend.createVector(embeddingA);
   * const b = backend.createVector(embeddingB);
   * backend.vectorCosine(a, b); // one wasm call, no copying
   * ```
   */
  createVector(data: ArrayLike<number>): WasmVector;
  /**
   * Cosine of two resident vectors of the same length: a single wasm call (one SIMD pass of dot
   * products; the norms were stored when the vectors were written). 0 when either is a zero vector;
   * clamped to [-1, 1].
   */
  vectorCosine(a: WasmVector, b: WasmVector): number;
}

/** The binaries `options.wasm` may hold. */
const WASM_KEYS = ['simd', 'relaxed', 'simdThreads', 'relaxedThreads'] as const;

/**
 * Creates the wasm backend. Nothing is loaded until `init()` (the registry awaits it); kernels
 * called before it throw `UNSUPPORTED`.
 *
 * ```ts
 * const backend = createWasmBackend({ variant: 'simd' });
 * await backend.init();
 * const kit = createCosineKit({ backend });
 * ```
 */
export function createWasmBackend(options: WasmBackendOptions = {}): WasmBackend {
  // Read once, here: a getter runs once, later changes to the objects change nothing.
  options = ownOptions('createWasmBackend', options, ['variant', 'wasm', 'tuning', 'threads', 'shardBytes']);
  const binaries = options.wasm;
  if (binaries !== undefined) {
    if (
      typeof binaries !== 'object' ||
      binaries === null ||
      isArrayArg('createWasmBackend', 'options.wasm', binaries)
    )
      argError(
        'INVALID_TYPE',
        'createWasmBackend',
        'options.wasm',
        `must be an object of binaries ({ simd, relaxed, simdThreads, relaxedThreads }), got ${
          binaries === null ? 'null' : typeof binaries === 'object' ? describeType(binaries) : typeof binaries
        }.`,
      );
    const own = ownOptions('createWasmBackend', binaries, WASM_KEYS, 'options.wasm');
    options.wasm = own;
    for (const k of WASM_KEYS) checkSource('createWasmBackend', `options.wasm.${k}`, own[k]);
  }
  if (options.tuning !== undefined) {
    // Read as every options object is, its keys checked: a misspelt one (`tille`) was ignored.
    options.tuning = ownOptions(
      'createWasmBackend',
      options.tuning,
      Object.keys(DEFAULT_TUNING.simd),
      'options.tuning',
    );
  }
  const wanted = options.variant ?? 'auto';
  if (wanted !== 'auto' && wanted !== 'simd' && wanted !== 'relaxed') {
    argError(
      'INVALID_ARGUMENT',
      'createWasmBackend',
      'variant',
      `must be 'auto', 'simd' or 'relaxed'; got ${valueText(wanted)}.`,
    );
  }
  const asked = options.threads;
  if (asked !== undefined && !(Number.isInteger(asked) && asked >= 1)) {
    argError(
      'INVALID_ARGUMENT',
      'createWasmBackend',
      'threads',
      `must be a positive integer; got ${valueText(asked)}.`,
    );
  }
  let threadsNote: string | undefined;
  /** Threads wanted: as asked, or (after `init()` starts) the default. */
  let threads = asked ?? 1;
  const shardBytes = options.shardBytes ?? DEFAULT_SHARD_BYTES;
  if (!(typeof shardBytes === 'number' && shardBytes > 0)) {
    argError(
      'INVALID_ARGUMENT',
      'createWasmBackend',
      'shardBytes',
      `must be a number of bytes > 0; got ${valueText(shardBytes)}.`,
    );
  }
  let rt: WasmRuntime | undefined;
  let shards: Shards | undefined;
  let starting: Promise<void> | undefined;
  let disposed = false;

  const need = (op: string): WasmRuntime => {
    if (rt) {
      rt.check(op);
      return rt;
    }
    if (disposed) disposedBackend(op);
    argError('UNSUPPORTED', op, 'backend', 'is not initialised: await backend.init() first.');
  };

  const start = async (): Promise<void> => {
    if (!simdSupported()) {
      argError(
        'UNSUPPORTED',
        'init',
        'backend',
        'needs WebAssembly SIMD, which this JavaScript engine lacks.',
      );
    }
    let variant: WasmVariant = wanted === 'auto' ? (relaxedSupported() ? 'relaxed' : 'simd') : wanted;
    if (variant === 'relaxed' && !relaxedSupported()) {
      await enableRelaxedInNode();
      if (!relaxedSupported()) {
        argError(
          'UNSUPPORTED',
          'init',
          'variant',
          "is 'relaxed', but this JavaScript engine lacks relaxed WebAssembly SIMD.",
        );
      }
    }
    // 'auto' with only a plain binary supplied: use it rather than fetch the relaxed one.
    if (wanted === 'auto' && variant === 'relaxed' && options.wasm?.simd && !options.wasm.relaxed) {
      variant = 'simd';
    }
    const tuning = { ...DEFAULT_TUNING[variant], ...options.tuning };
    let r: WasmRuntime | undefined;
    let spawn: ((op: string) => WasmRuntime) | undefined;
    if (asked === undefined) {
      const d = await defaultThreads();
      threads = d.threads;
      threadsNote = d.note;
      // Only a single-thread binary supplied: use it rather than fetch the threads build.
      if (threads > 1 && options.wasm?.[variant] && !options.wasm[`${variant}Threads`]) {
        threads = 1;
        threadsNote = `only a single-thread binary was supplied (options.wasm.${variant}Threads is missing)`;
      }
    }
    let capped: string | undefined;
    if (asked !== undefined && asked > 1) {
      const limit = await threadLimit();
      if (asked > limit) {
        threads = limit;
        capped = `${asked} threads asked, ${limit} at most here (four per core of this machine, 16 at least): each helper is a worker of its own`;
      }
    }
    if (threads > 1) {
      threadsNote = threadsUnavailable() ?? capped;
      if (threadsNote === undefined || threadsNote === capped) {
        try {
          r = await startThreaded(
            variant,
            tuning,
            threads,
            options.wasm?.[`${variant}Threads`],
            () => disposed,
          );
          const module = r.module!;
          const n = threads;
          spawn = () => threadedShard(module, variant, tuning, n);
        } catch (err) {
          threadsNote = `helper threads did not start: ${err instanceof Error ? err.message : String(err)}`;
        }
      }
    }
    // Disposed while the helpers started: the pool that came up anyway is stopped (it was left
    // running, a thread and its memory per init).
    if (disposed) {
      r?.dispose();
      disposedBackend('init');
    }
    if (r === undefined) {
      const module = await compileVariant(
        variant,
        options.wasm?.[variant],
        false,
        'init',
        options.wasm?.[variant] === undefined ? 'variant' : `options.wasm.${variant}`,
      );
      const instance = await WebAssembly.instantiate(module, {});
      r = new WasmRuntime(instance, variant, tuning);
      // Synchronous: kernels are, and the module is compiled already.
      spawn = () => new WasmRuntime(new WebAssembly.Instance(module, {}), variant, tuning);
    }
    const ready = r;
    warmUp(
      ready,
      kernelsOf(() => ready),
    );
    r.heap.resetPeak();
    // Disposed while it started: what started is let go, and init() says so.
    if (disposed) {
      r.dispose();
      disposedBackend('init');
    } else {
      rt = r;
      shards = new Shards(r, shardBytes, spawn!);
    }
  };

  const kernels = kernelsOf(need, () => shards!);
  const all = (): readonly WasmRuntime[] => shards?.list ?? [];

  return {
    name: 'wasm',
    kernels,
    // cosineRows copies its rows into wasm memory within the call, sums each block of 64 products
    // in float32 and redoes a row in float64 when its sums leave float32's safe range, and gives
    // NaN for a row holding NaN or ±Infinity: what `ungated` promises (assembly/cosine.ts).
    // cosineMatrix and topK copy both inputs into wasm memory within the call, normalising each
    // row there with a float64 norm (exact at any finite magnitude), and throw NON_FINITE for a
    // row holding NaN or ±Infinity (assembly/layout.ts, src/staging.ts). Off the gate, a large
    // call no longer pays for the gate's copy and scan in JavaScript on top of that copy.
    // rowNorms and normalizeRows sum squares and scale in float64 (assembly/norms.ts): exact at any
    // magnitude, and NaN for a row holding NaN or ±Infinity (a norm that passes float32 comes out
    // Infinity, which the kit sends through the gate to be named).
    // createCorpus copies the rows into wasm memory within the call, normalising them there in
    // float64, and throws NON_FINITE for a NaN row; int8 quantising rescales an extreme row first
    // as the gate would (assembly/quantized.ts), so its codes and scales are the gated ones; float16
    // rounds the rows normalised in float64 (assembly/half.ts), which a rescaling by a power of two
    // leaves as they were, so its bits are the gated ones too.
    // corpusSearch and corpusMatrix copy their queries in as topK does (float32 and float16 rows),
    // or quantise them as createCorpus does (int8 without float32 rows): the same checks and the
    // same exactness. Off the gate, a corpus of few rows no longer answers many queries at up to
    // 2x the kernel's time (the gate's copy and scan).
    ungated: declareKernels(kernels, [
      'cosineRows',
      'cosineMatrix',
      'topK',
      'rowNorms',
      'normalizeRows',
      'createCorpus',
      'corpusSearch',
      'corpusMatrix',
    ]),
    // Both write each cosine once, clamped to [-1, 1] where it is stored (assembly/generated/simd.ts,
    // quantized.ts), from rows normalised in wasm: finite admitted rows give finite cosines, so the
    // kit need not read the matrix again (`selfChecked`; proven by the conformance suite).
    // `matmul` cannot clamp (an overflow is an error, not a value to bound): it checks each block
    // of its product in wasm (one SIMD pass, src/engine.ts) and throws on a non-finite value,
    // where the kit's JS pass cost about 1 ns a value (a quarter of a 256 x 64 x 256 product).
    // The other dense kernels of a training step check their outputs finite in wasm memory before
    // copying them out, and throw rather than answer a non-finite value (kernels/finite.ts).
    // Both lists hold for these kernel functions only (`declareKernels`): a backend spread from this
    // one with a kernel of its own in place gets that kernel's outputs checked.
    selfChecked: declareKernels(kernels, [
      'cosineMatrix',
      'corpusMatrix',
      'matmul',
      'addBias',
      'activation',
      'activationGrad',
    ]),
    get variant() {
      return rt?.variant;
    },
    init() {
      if (disposed) return Promise.resolve().then(() => disposedBackend('init'));
      starting ??= start();
      return starting;
    },
    dispose() {
      disposed = true;
      shards?.dispose();
      shards = undefined;
      rt = undefined;
    },
    memory() {
      let residentHandles = 0;
      let bytes = 0;
      for (const r of all()) {
        residentHandles += r.residentHandles;
        bytes += r.heap.used;
      }
      return { residentHandles, bytes };
    },
    shards() {
      return shards?.info() ?? [];
    },
    memoryPeak() {
      // Per instance, summed: an upper bound when instances peaked at different times.
      let peak = 0;
      for (const r of all()) {
        peak += r.heap.peak;
        r.heap.resetPeak();
      }
      return peak;
    },
    describe() {
      const running = rt ? (rt.pool?.size ?? 0) + 1 : 1;
      return {
        engine: 'WebAssembly 128-bit SIMD (AssemblyScript)',
        variant: rt?.variant ?? (wanted === 'auto' ? 'simd' : wanted),
        tile: rt?.tuning.tile ?? '',
        threads: running,
        ...(asked !== undefined && running !== asked ? { threadsRequested: asked } : {}),
        ...(threadsNote !== undefined ? { threadsNote } : {}),
        ...(running > 1 && rt ? { threadMinFlops: rt.tuning.threadMinFlops } : {}),
        wasmMemoryBytes: all().reduce((a, r) => a + r.heap.capacity, 0),
        shards: all().length,
      };
    },
    createCorpusFrom(source, options) {
      const op = 'createCorpusFrom';
      const r = need(op);
      const { rows, cols } = source;
      for (const [arg, v] of [
        ['rows', rows],
        ['cols', cols],
      ] as const) {
        if (!(Number.isInteger(v) && v >= 1)) {
          argError('EMPTY_INPUT', op, `source.${arg}`, `must be a positive integer; got ${valueText(v)}.`);
        }
      }
      const read = (start: number, count: number): Float32Array => {
        const data = source.read(start, count);
        if (!(data instanceof Float32Array) || data.length !== count * cols) {
          argError(
            'SHAPE_MISMATCH',
            op,
            'source',
            `must return a Float32Array of ${count * cols} floats from read(${start}, ${count}); got ${data instanceof Float32Array ? data.length : typeof data}.`,
          );
        }
        checkFinite(op, 'source', { data, rows: count, cols });
        return data;
      };
      const bytes = residentBytes(rows, cols, options?.storage, options?.rerank, r.tileCols);
      return shards!.place(bytes, (at) => createCorpus(at, { rows, cols, read }, options), op);
    },
    createVector(data) {
      const r = need('createVector');
      const f = toFloat32(data);
      checkFinite('createVector', 'data', { data: f, rows: 1, cols: f.length });
      return new WasmVector(r, f);
    },
    vectorCosine(a, b) {
      const r = rt;
      // One combined test keeps the hot path to a few property loads before the wasm call; a
      // value whose reading throws (a Proxy) takes the slow path, which names it.
      let fits: boolean;
      try {
        fits =
          r !== undefined &&
          a?.owner === r &&
          b?.owner === r &&
          a.address >= 0 &&
          b.address >= 0 &&
          a.length === b.length;
      } catch {
        fits = false;
      }
      if (!fits || r === undefined) {
        pairError(need('vectorCosine'), a, b);
      }
      return r.exports.vectorCosine(a.address, b.address, a.length);
    },
  };
}

/** The threads build on a new shared memory, with `threads - 1` helper workers started. @internal */
export async function startThreaded(
  variant: WasmVariant,
  tuning: EngineTuning,
  threads: number,
  source: WasmSource | undefined,
  cancelled?: () => boolean,
): Promise<WasmRuntime> {
  const module = await compileVariant(
    variant,
    source,
    true,
    'init',
    source === undefined ? 'variant' : `options.wasm.${variant}Threads`,
  );
  // The maximum matches the binary's import (4 GiB, all wasm32 can address).
  const memory = new WebAssembly.Memory({ initial: 2, maximum: 65536, shared: true });
  const instance = await WebAssembly.instantiate(module, { env: { memory } });
  const rt = new WasmRuntime(instance, variant, tuning, memory, module);
  rt.pool = await HelperPool.start(threads - 1, module, memory, cancelled, tuning.helperStartMs);
  return rt;
}

/**
 * Another instance of the threads build, on a new shared memory, made synchronously (kernels are
 * synchronous). Its helpers start in the background; until they are up its calls run on the calling
 * thread alone, with the same results bit for bit (see share.ts).
 */
function threadedShard(
  module: WebAssembly.Module,
  variant: WasmVariant,
  tuning: EngineTuning,
  threads: number,
): WasmRuntime {
  const memory = new WebAssembly.Memory({ initial: 2, maximum: 65536, shared: true });
  const rt = new WasmRuntime(new WebAssembly.Instance(module, { env: { memory } }), variant, tuning, memory);
  // Started on the next turn of the event loop, and only if the shard is still in use: a loop of
  // awaits that made and dropped shards started a helper (an OS thread, ~8 MB) for each, and none
  // could finish starting, nor be stopped, before the loop let go (400 cycles: 411 threads, 3.4 GB).
  setTimeout(() => {
    if (rt.disposed) return;
    HelperPool.start(threads - 1, module, memory, () => rt.disposed, tuning.helperStartMs).then(
      (pool) => {
        if (rt.disposed) pool.dispose();
        else rt.pool = pool;
      },
      () => undefined, // the shard computes on the calling thread alone
    );
  }, 0);
  return rt;
}

/** Throws the reason two vectors cannot be compared by `vectorCosine`. */
function pairError(rt: WasmRuntime, a: WasmVector, b: WasmVector): never {
  const op = 'vectorCosine';
  const seen: { owner: WasmRuntime; address: number; length: number }[] = [];
  for (const [arg, v] of [
    ['a', a],
    ['b', b],
  ] as const) {
    // A value that cannot be inspected (a revoked Proxy, a throwing trap) is INVALID_ARGUMENT
    // naming it, with the TypeError as cause; so is a Proxy around a vector whose reads throw.
    // Each field is read once, here.
    const read = reading(op, arg, () =>
      v instanceof WasmVector ? { owner: v.owner, address: v.address, length: v.length } : undefined,
    );
    if (read === undefined)
      argError(
        'INVALID_TYPE',
        op,
        arg,
        `must be a WasmVector made by this backend's createVector(), got ${describeType(v)}.`,
      );
    seen.push(read);
  }
  const [x, y] = seen as [(typeof seen)[0], (typeof seen)[0]];
  if (x.owner !== rt || y.owner !== rt) {
    argError('INVALID_ARGUMENT', op, x.owner !== rt ? 'a' : 'b', 'belongs to another wasm backend.');
  }
  if (x.address < 0 || y.address < 0) throw disposedError(op, x.address < 0 ? 'a' : 'b');
  return argError('DIMENSION_MISMATCH', op, 'b', `has length ${y.length} but 'a' has length ${x.length}.`);
}
