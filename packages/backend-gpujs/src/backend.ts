import {
  argError,
  type Backend,
  type BackendMemory,
  disposedBackend,
  type Kernels,
  type Matrix,
  ownOptions,
  valueText,
} from '@cosinekit/core/backend';
import { createEngine, type Engine, type GpujsMode } from './engine.js';
import { activation, activationGrad } from './kernels/activation.js';
import { addBias } from './kernels/add-bias.js';
import { corpusMatrix, corpusSearch, createCorpus, importCorpus, readCorpus } from './kernels/corpus.js';
import { cosineMatrix } from './kernels/cosine-matrix.js';
import { cosineRows } from './kernels/cosine-rows.js';
import { matmul } from './kernels/matmul.js';
import { normalizeRows } from './kernels/normalize-rows.js';
import { rowNorms } from './kernels/row-norms.js';
import { topK } from './kernels/top-k.js';
import { lifted } from './rows.js';

/** Options of {@link createGpujsBackend}. */
export interface GpujsBackendOptions {
  /**
   * The gpu.js mode to run in. `'auto'` (the default) tries `headlessgl`, `webasm`, `cpu` in Node
   * and `webgl2`, `webgl`, `webasm`, `cpu` in browsers, and reports in `describe()` which one
   * runs and why it passed over the others. An explicit mode that cannot run here makes `init()`
   * throw with the reason.
   */
  mode?: GpujsMode;
  /**
   * Largest texture side any output may have. Defaults to the device's maximum (gpu.js does not
   * tile bigger outputs; this backend does); set it lower to force tiling, e.g. in tests.
   */
  maxTextureSize?: number;
  /**
   * Score tiles (topK, cosineMatrix, corpus search) hold at most `tileSize^2` cosines, read back
   * one at a time (default 2048: 16 MiB); few queries get wide tiles. Capped by `maxTextureSize`.
   */
  tileSize?: number;
}

const MODES: readonly GpujsMode[] = ['auto', 'headlessgl', 'webgl2', 'webgl', 'webasm', 'cpu'];

/** The backend's name in the registry and on its resident corpora. */
export const GPUJS_BACKEND_NAME = 'gpujs';

/**
 * A CosineKit backend on gpu.js: every kernel of the contract, in single precision, with corpora
 * kept resident (GL textures; Float32Arrays in webasm/cpu modes, which have no device memory).
 * Nothing runs until `init()` (or the first kernel call) opens gpu.js.
 */
export function createGpujsBackend(options: GpujsBackendOptions = {}): Backend {
  const op = 'createGpujsBackend';
  // Read once, here, and used as read: a getter runs once, later changes to the object change nothing.
  options = ownOptions(op, options, ['mode', 'maxTextureSize', 'tileSize']);
  if (options.mode !== undefined && !MODES.includes(options.mode)) {
    argError(
      'INVALID_ARGUMENT',
      op,
      'options.mode',
      `must be one of ${MODES.join(', ')}; got ${valueText(options.mode)}.`,
    );
  }
  for (const name of ['maxTextureSize', 'tileSize'] as const) {
    const v = options[name];
    if (v !== undefined && !(Number.isInteger(v) && v >= 1)) {
      argError('INVALID_ARGUMENT', op, `options.${name}`, `must be a positive integer; got ${valueText(v)}.`);
    }
  }
  let engine: Engine | null = null;
  let disposed = false;
  const open = (kernel: string): Engine => {
    if (disposed) disposedBackend(kernel);
    engine ??= createEngine(options);
    return engine;
  };
  /** Rows as the GPU can read them: tiny rows scaled up by powers of two (see `lifted`). */
  const up = (e: Engine, x: Matrix): Matrix => lifted(e, x).x;
  const table: Kernels = {
    rowNorms: (x, out) => {
      const e = open('rowNorms');
      const { x: y, scale } = lifted(e, x);
      const norms = rowNorms(e, y, out);
      if (scale) for (let i = 0; i < norms.length; i++) norms[i] /= scale[i];
      return norms;
    },
    normalizeRows: (x, out) => {
      const e = open('normalizeRows');
      return normalizeRows(e, up(e, x), out);
    },
    cosineRows: (a, b, out) => {
      const e = open('cosineRows');
      return cosineRows(e, up(e, a), up(e, b), out);
    },
    cosineMatrix: (a, b, out) => {
      const e = open('cosineMatrix');
      return cosineMatrix(e, up(e, a), up(e, b), out);
    },
    topK: (q, c, k) => {
      const e = open('topK');
      return topK(e, up(e, q), up(e, c), k);
    },
    createCorpus: (x, o) => {
      const e = open('createCorpus');
      return createCorpus(e, up(e, x), o);
    },
    corpusSearch: (c, q, k) => {
      const e = open('corpusSearch');
      return corpusSearch(e, c, up(e, q), k);
    },
    corpusMatrix: (c, q, out) => {
      const e = open('corpusMatrix');
      return corpusMatrix(e, c, up(e, q), out);
    },
    matmul: (a, b, ta, tb, out) => matmul(open('matmul'), a, b, ta, tb, out),
    addBias: (x, bias, out) => addBias(open('addBias'), x, bias, out),
    activation: (kind, x, out) => activation(open('activation'), kind, x, out),
    activationGrad: (kind, x, dy, out) => activationGrad(open('activationGrad'), kind, x, dy, out),
    readCorpus: (c) => readCorpus(open('readCorpus'), c),
    importCorpus: (s) => importCorpus(open('importCorpus'), s),
  };
  // Every kernel refuses to run on, and to answer from, a lost GL context (see checkContext).
  const kernels = Object.fromEntries(
    Object.entries(table).map(([name, f]) => [
      name,
      (...args: unknown[]) => {
        engine?.checkContext(name);
        const r = (f as (...a: unknown[]) => unknown)(...args);
        engine?.checkContext(name);
        return r;
      },
    ]),
  ) as unknown as Kernels;
  return {
    name: GPUJS_BACKEND_NAME,
    kernels,
    init() {
      open('init');
    },
    async dispose() {
      const e = engine;
      engine = null;
      disposed = true;
      // Its corpora are disposed with it; later kernel calls are DISPOSED (no engine reopens).
      if (e) await e.destroy();
    },
    memory(): BackendMemory {
      return { residentHandles: engine?.resident.size ?? 0, objects: engine?.liveTextures ?? 0 };
    },
    describe() {
      if (disposed) return { engine: 'gpu.js', state: 'disposed' };
      const e = open('describe');
      const d: Record<string, string | number | boolean> = {
        engine: 'gpu.js',
        mode: e.mode,
        kernel: e.kernelClass,
        device: e.device,
        requested: e.requested,
        precision: 'single',
        resident: e.textures ? 'GL textures' : 'Float32Array (no device memory in this mode)',
        maxTextureSize: Number.isFinite(e.maxTextureSize) ? e.maxTextureSize : 'none (no textures)',
        tileSize: e.tileSize,
        loopCap: Number.isFinite(e.loopCap) ? e.loopCap : 'none',
      };
      if (e.deviceMaxTextureSize !== e.maxTextureSize) d.deviceMaxTextureSize = e.deviceMaxTextureSize;
      if (e.skipped.length > 0) d.skipped = e.skipped.join('; ');
      if (e.fallbacks.size > 0) {
        d.kernelFallbacks = [...e.fallbacks].map(([k, cls]) => `${k}: ${cls}`).join(', ');
      }
      return d;
    },
  };
}
