import {
  argError,
  argErrorOf,
  type Backend,
  type BackendMemory,
  CosineKitError,
  disposedBackend,
  errorText,
  isAdmitted,
  type Kernels,
  ownOptions,
  valueText,
} from '@cosinekit/core/backend';
import type { KernelContext } from './context.js';
import type { TfjsCorpus } from './corpus.js';
import {
  activate,
  checkEngine,
  engineOptions,
  exclusive,
  initTfjsEngine,
  loadedTfjs,
  type Tfjs,
  type TfjsEngine,
  type TfjsEngineOptions,
} from './engine.js';
import { activation, activationGrad } from './kernels/activation.js';
import { addBias } from './kernels/add-bias.js';
import {
  corpusMatrix,
  corpusSearch,
  corpusSearchAllowed,
  createCorpus,
  importCorpus,
  mergeCorpora,
  readCorpus,
} from './kernels/corpus.js';
import { cosineMatrix } from './kernels/cosine-matrix.js';
import { cosineRows } from './kernels/cosine-rows.js';
import { matmul } from './kernels/matmul.js';
import { normalizeRows } from './kernels/normalize-rows.js';
import { rowNorms } from './kernels/row-norms.js';
import { topK } from './kernels/top-k.js';

/** Options for {@link createTfjsBackend}. */
export interface TfjsBackendOptions extends TfjsEngineOptions {
  /**
   * The tfjs engine: `wasm` or `cpu` in Node, `webgl` (or `wasm`, given `wasmPaths`) in browsers,
   * `webgpu` where `navigator.gpu` exists (a browser with WebGPU; Node with Dawn's GPU set as
   * `globalThis.navigator.gpu`).
   */
  engine: TfjsEngine;
  /** The backend's name; defaults to `tfjs-<engine>`. */
  name?: string;
  /**
   * Corpus rows per resident tile (default 131072 on the wasm and cpu engines, 32768 on the GPU
   * engines, whose textures and buffers have size limits). Fewer, wider tiles mean fewer tfjs calls
   * per search: one query against 100,000 x 384 rows on tfjs-wasm took 7.7 ms in tiles of 32768
   * and 6.3 ms in one tile of 131072 (tfjs's own `matMul` + `topk` on one tensor: 6.0 ms). A search
   * holds one score tile of at most 2^21 floats (8 MiB), taking fewer queries at a time from wider
   * tiles.
   */
  tileColumns?: number;
  /** Most floats of scores one search step holds (default 2^21, 8 MiB): bounds a search's memory. */
  scoreTile?: number;
}

/** A CosineKit backend running on tfjs. */
export interface TfjsBackend extends Backend {
  /** The tfjs engine it runs on. */
  readonly engine: TfjsEngine;
  readonly kernels: Kernels & Required<Pick<Kernels, 'readCorpus' | 'importCorpus'>>;
  init(): Promise<void>;
  dispose(): void;
  memory(): BackendMemory;
  describe(): Record<string, string | number | boolean>;
}

/** Corpus rows per tile: host engines take wide tiles; GPU engines stay within texture limits. */
const DEFAULT_TILE_COLUMNS = { wasm: 131_072, cpu: 131_072, webgl: 32_768, webgpu: 32_768 } as const;
/** Floats in one score tile of a search (8 MiB). */
const SCORE_TILE = 2 ** 21;

/**
 * The abort of tfjs's wasm engine, once it has aborted (an Emscripten `abort()`, most often its
 * heap refusing to grow past 4 GiB): the module is then dead for the whole process, every backend
 * on it included, and every later call threw `RuntimeError: Aborted()` as a backend failure.
 */
let wasmAbort: unknown;

/** Whether `e` is an Emscripten abort (`RuntimeError: Aborted(...)`). */
function isAbort(e: unknown): boolean {
  return e instanceof Error && e.name === 'RuntimeError' && /^Aborted\(/.test(e.message);
}

/** `UNSUPPORTED` naming the backend, for every call once tfjs's wasm engine has aborted. */
function wasmAborted(kernel: string, cause: unknown): never {
  throw argErrorOf(
    'UNSUPPORTED',
    kernel,
    'backend',
    `runs on tfjs's wasm engine, which aborted (${errorText(cause)}; most often out of memory: its heap holds at most 4 GiB) and cannot run again in this process. Use another backend, or smaller corpora.`,
    cause,
  );
}

/**
 * Creates a CosineKit backend on a tfjs engine. Nothing is loaded until `init()` (or the first
 * kernel call, which awaits the same one-time init): then tfjs-core and the engine's package are
 * imported and the engine is made ready, or `init()` rejects with tfjs's reason.
 *
 * tfjs has one active engine per process; every kernel makes its own engine active first (a
 * string comparison when it already is) and runs under a lock shared by all tfjs backends of this
 * package, so `tfjs-wasm` and `tfjs-cpu` can serve calls side by side.
 */
export function createTfjsBackend(options: TfjsBackendOptions): TfjsBackend {
  if (options === undefined)
    argError(
      'INVALID_ARGUMENT',
      'createTfjsBackend',
      'options',
      "is required: { engine: 'wasm' | 'cpu' | 'webgl' | 'webgpu' }.",
    );
  const op = 'createTfjsBackend';
  // Read once, here: a getter runs once, and later changes to the object change nothing.
  const o = ownOptions(op, options, ['engine', 'name', 'tileColumns', 'scoreTile', 'wasmPaths']);
  const { engine } = o;
  checkEngine(op, engine);
  const { wasmPaths } = engineOptions(op, { wasmPaths: o.wasmPaths });
  const name = o.name ?? `tfjs-${engine}`;
  if (typeof name !== 'string' || name === '')
    argError('INVALID_ARGUMENT', op, 'name', `must be a non-empty string, got ${describe(name)}.`);
  const tileColumns = o.tileColumns ?? DEFAULT_TILE_COLUMNS[engine];
  if (!Number.isInteger(tileColumns) || tileColumns < 1) {
    argError(
      'INVALID_ARGUMENT',
      op,
      'tileColumns',
      `must be a positive integer, got ${describe(tileColumns)}.`,
    );
  }
  const scoreTile = o.scoreTile ?? SCORE_TILE;
  if (!Number.isInteger(scoreTile) || scoreTile < 1) {
    argError('INVALID_ARGUMENT', op, 'scoreTile', `must be a positive integer, got ${describe(scoreTile)}.`);
  }
  const live = new Set<TfjsCorpus>();
  let disposed = false;
  let ready: Promise<Tfjs> | undefined;
  let info: Record<string, string | number | boolean> = { engine, state: 'not initialised' };

  const init = (): Promise<Tfjs> => {
    ready ??= (async () => {
      const tf = await initTfjsEngine(engine, wasmPaths === undefined ? {} : { wasmPaths });
      info = await exclusive(async () => {
        await activate(tf, engine);
        return describeEngine(tf, engine);
      });
      return tf;
    })().catch((err: unknown) => {
      // Not cached: a later call tries again (and reports tfjs's reason again if it fails again).
      ready = undefined;
      if (err instanceof CosineKitError) throw err;
      throw argErrorOf(
        'UNSUPPORTED',
        'init',
        'engine',
        `is '${engine}', which tfjs could not initialise here: ${errorText(err)}`,
        err,
      );
    });
    return ready;
  };

  const ctx: KernelContext = {
    name,
    engine,
    tileColumns,
    scoreTile,
    async run(kernel, fn) {
      if (disposed) disposedBackend(kernel);
      const tf = await init();
      return exclusive(async () => {
        // Checked again at the kernel's turn: a dispose() made while it waited for init or for the
        // kernels before it ran nothing of it (a queued createCorpus used to build a corpus after
        // the dispose, resident and unreachable).
        if (disposed) disposedBackend(kernel);
        if (engine === 'wasm' && wasmAbort !== undefined) wasmAborted(kernel, wasmAbort);
        await activate(tf, engine);
        try {
          if (engine !== 'webgl') return await fn(tf);
          // A WebGL context the browser took back reads back zeros, and tfjs's fences on it never
          // complete: refused before the kernel, while it runs, and before its answer is given.
          lostContext(tf, kernel);
          const lost = whenLost(tf);
          try {
            const r = await Promise.race([
              fn(tf),
              lost.promise.then(() => {
                throw lostError(kernel);
              }),
            ]);
            lostContext(tf, kernel);
            return r;
          } finally {
            lost.off();
          }
        } catch (e) {
          if (engine === 'wasm' && isAbort(e)) {
            wasmAbort = e;
            wasmAborted(kernel, e);
          }
          throw e;
        }
      });
    },
    reactivate: (tf) => activate(tf, engine),
    get disposed() {
      return disposed;
    },
  };

  // Every kernel runs after init and the kernels queued before it (the engines' one lock): its
  // inputs are copied at the call, so the answer is for them as they were then (the kit's kernel
  // table hands the caller's own arrays, and one reused right after the call changed the answer).
  const kernels: TfjsBackend['kernels'] = {
    rowNorms: atCall(rowNorms(ctx), 1, READS),
    normalizeRows: atCall(normalizeRows(ctx), 1, READS),
    cosineRows: atCall(cosineRows(ctx), 2, READS),
    cosineMatrix: atCall(cosineMatrix(ctx), 2, READS),
    topK: atCall(topK(ctx), -1, READS),
    createCorpus: atCall(createCorpus(ctx, live), -1, READS),
    corpusSearch: atCall(corpusSearch(ctx), -1, READS),
    corpusSearchAllowed: atCall(corpusSearchAllowed(ctx), -1, READS),
    corpusMatrix: atCall(corpusMatrix(ctx), 2, READS),
    readCorpus: readCorpus(ctx),
    importCorpus: importCorpus(ctx, live),
    mergeCorpora: atCall(mergeCorpora(ctx, live)),
    matmul: atCall(matmul(ctx), 4),
    addBias: atCall(addBias(ctx), 2),
    activation: atCall(activation(ctx), 2),
    activationGrad: atCall(activationGrad(ctx), 3),
  };

  return {
    name,
    engine,
    kernels,
    async init() {
      if (disposed) disposedBackend('init');
      await init();
      // Disposed while the engine started: init() says so, as wasm's does (it resolved).
      if (disposed) disposedBackend('init');
    },
    dispose() {
      disposed = true;
      for (const c of [...live]) c.dispose();
    },
    memory() {
      const tf = loadedTfjs();
      if (tf === undefined || ready === undefined) return { residentHandles: live.size };
      const m = tf.memory();
      return { residentHandles: live.size, objects: m.numTensors, bytes: m.numBytes };
    },
    describe: () => ({ ...info }),
  };
}

/** What tfjs actually runs, read back from tfjs after init (not what was asked for). */
async function describeEngine(
  tf: Tfjs,
  engine: TfjsEngine,
): Promise<Record<string, string | number | boolean>> {
  const out: Record<string, string | number | boolean> = {
    engine: tf.getBackend(),
    tfjs: tf.version_core,
  };
  const flag = async (name: string): Promise<boolean | number | undefined> => {
    try {
      return (await tf.env().getAsync(name)) as boolean | number;
    } catch {
      return undefined;
    }
  };
  if (engine === 'wasm') {
    const simd = await flag('WASM_HAS_SIMD_SUPPORT');
    const threaded = await flag('WASM_HAS_MULTITHREAD_SUPPORT');
    if (simd !== undefined) out.simd = Boolean(simd);
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    out.threads = threaded ? wasm.getThreadsCount() : 1;
  } else if (engine === 'webgl') {
    const version = await flag('WEBGL_VERSION');
    if (version !== undefined) out.webglVersion = Number(version);
    const float32 = await flag('WEBGL_RENDER_FLOAT32_ENABLED');
    if (float32 !== undefined) out.float32 = Boolean(float32);
    const packed = await flag('WEBGL_PACK');
    if (packed !== undefined) out.packed = Boolean(packed);
    const renderer = webglRenderer(tf);
    if (renderer) out.renderer = renderer;
  } else if (engine === 'webgpu') {
    // tfjs keeps what the adapter said of itself on its WebGPU backend object.
    const info = (tf.backend() as { adapterInfo?: { vendor?: string; architecture?: string } }).adapterInfo;
    if (info?.vendor) out.vendor = info.vendor;
    if (info?.architecture) out.architecture = info.architecture;
  } else {
    out.threads = 1;
  }
  return out;
}

/**
 * The GL renderer tfjs's webgl engine draws with (unmasked where the browser allows it), so a
 * reader can tell a real GPU from a software rasteriser such as SwiftShader; undefined when the
 * engine keeps no context we can read.
 */
function webglRenderer(tf: Tfjs): string | undefined {
  try {
    const gl = (tf.backend() as { gpgpu?: { gl?: WebGLRenderingContext } }).gpgpu?.gl;
    if (!gl) return undefined;
    const ext = gl.getExtension('WEBGL_debug_renderer_info');
    const name = ext ? gl.getParameter(ext.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER);
    return typeof name === 'string' && name.length > 0 ? name : undefined;
  } catch {
    return undefined;
  }
}

/** The WebGL context tfjs-webgl draws on, where it has one. */
function glOf(tf: Tfjs): WebGLRenderingContext | undefined {
  return (tf.backend() as { gpgpu?: { gl?: WebGLRenderingContext } }).gpgpu?.gl;
}

/** The error for a kernel on a lost WebGL context: `UNSUPPORTED` naming `backend`. */
function lostError(kernel: string): CosineKitError {
  return argErrorOf(
    'UNSUPPORTED',
    kernel,
    'backend',
    'is tfjs-webgl on a WebGL context the browser has taken back (a GPU reset, or too many WebGL contexts on the page): its answers would be zeros, and its resident corpora went with it. Dispose this backend and its kit, and make another.',
  );
}

/** Throws {@link lostError} when tfjs's WebGL context is lost. */
function lostContext(tf: Tfjs, kernel: string): void {
  let lost: boolean;
  try {
    lost = glOf(tf)?.isContextLost() === true;
  } catch {
    lost = true;
  }
  if (lost) throw lostError(kernel);
}

/**
 * Settles when tfjs's WebGL context is lost (a kernel running then never settled); `off()` removes
 * its listener once the kernel is done. One per call: a promise shared by every call kept each
 * call's handler, and with it about 470 bytes, for the page's life (a review).
 */
function whenLost(tf: Tfjs): { promise: Promise<void>; off(): void } {
  const canvas = glOf(tf)?.canvas as EventTarget | undefined;
  if (!canvas || typeof canvas.addEventListener !== 'function')
    return { promise: new Promise<void>(() => undefined), off: () => undefined };
  let fire = () => {};
  const promise = new Promise<void>((resolve) => {
    fire = () => resolve();
  });
  canvas.addEventListener('webglcontextlost', fire, { once: true });
  return { promise, off: () => canvas.removeEventListener('webglcontextlost', fire) };
}

/** A value as an error message shows it: strings quoted, so '4' is not read as 4. */
function describe(v: unknown): string {
  return typeof v === 'string' ? `the string '${v}'` : valueText(v);
}

/**
 * Passed to {@link atCall} for a kernel that only reads its input rows and keeps none of them once
 * it has settled (its results and resident tiles are arrays and tensors of its own): rows the kit
 * admitted (`isAdmitted`) are not copied again. Every call through the kit came with such rows,
 * and the copy cost a fresh array, page faults included, per call: in a profile of
 * `kit.cosineMatrix` of 100,000 queries x 64 against 10 rows on tfjs-wasm, 11% of the time went
 * to copying the kit's own copy.
 */
const READS = true;

/**
 * `kernel` with its inputs copied when it is called (see the kernel table above): every matrix
 * (`{ data, rows, cols }`), Float32Array and Uint8Array argument, and those in an array argument,
 * except the output at index `outAt`, which the kernel writes, and, with `reads` ({@link READS}),
 * matrices of rows the kit admitted.
 */
function atCall<A extends unknown[], R>(
  kernel: (...args: A) => R,
  outAt = -1,
  reads = false,
): (...args: A) => R {
  return (...args: A) => kernel(...(args.map((v, i) => (i === outAt ? v : held(v, reads))) as A));
}

/** A copy of a kernel input `v` made now (see {@link atCall}); anything else as it is. */
function held(v: unknown, reads: boolean): unknown {
  if (v instanceof Float32Array || v instanceof Uint8Array) return v.slice();
  if (Array.isArray(v)) return v.map((x) => held(x, reads));
  if (typeof v === 'object' && v !== null) {
    const m = v as { data?: unknown; rows?: unknown; cols?: unknown };
    const data = m.data;
    if (data instanceof Float32Array)
      return reads && isAdmitted(data) ? v : { data: data.slice(), rows: m.rows, cols: m.cols };
  }
  return v;
}
