import { argError, type Backend, type BackendMemory, type Kernels } from '@cosinekit/core/backend';
import { createEngine, type Engine, type GpujsMode } from './engine.js';
import { activation, activationGrad } from './kernels/activation.js';
import { addBias } from './kernels/add-bias.js';
import { corpusMatrix, corpusSearch, createCorpus, readCorpus } from './kernels/corpus.js';
import { cosineMatrix } from './kernels/cosine-matrix.js';
import { cosineRows } from './kernels/cosine-rows.js';
import { matmul } from './kernels/matmul.js';
import { normalizeRows } from './kernels/normalize-rows.js';
import { rowNorms } from './kernels/row-norms.js';
import { topK } from './kernels/top-k.js';

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
  if (options.mode !== undefined && !MODES.includes(options.mode)) {
    argError(
      'INVALID_ARGUMENT',
      op,
      'options.mode',
      `must be one of ${MODES.join(', ')}; got ${String(options.mode)}.`,
    );
  }
  for (const name of ['maxTextureSize', 'tileSize'] as const) {
    const v = options[name];
    if (v !== undefined && !(Number.isInteger(v) && v >= 1)) {
      argError('INVALID_ARGUMENT', op, `options.${name}`, `must be a positive integer; got ${String(v)}.`);
    }
  }
  let engine: Engine | null = null;
  const open = (): Engine => {
    engine ??= createEngine(options);
    return engine;
  };
  const kernels: Kernels = {
    rowNorms: (x, out) => rowNorms(open(), x, out),
    normalizeRows: (x, out) => normalizeRows(open(), x, out),
    cosineRows: (a, b, out) => cosineRows(open(), a, b, out),
    cosineMatrix: (a, b, out) => cosineMatrix(open(), a, b, out),
    topK: (q, c, k) => topK(open(), q, c, k),
    createCorpus: (x, o) => createCorpus(open(), x, o),
    corpusSearch: (c, q, k) => corpusSearch(open(), c, q, k),
    corpusMatrix: (c, q, out) => corpusMatrix(open(), c, q, out),
    matmul: (a, b, ta, tb, out) => matmul(open(), a, b, ta, tb, out),
    addBias: (x, bias, out) => addBias(open(), x, bias, out),
    activation: (kind, x, out) => activation(open(), kind, x, out),
    activationGrad: (kind, x, dy, out) => activationGrad(open(), kind, x, dy, out),
    readCorpus: (c) => readCorpus(open(), c),
  };
  return {
    name: GPUJS_BACKEND_NAME,
    kernels,
    init() {
      open();
    },
    async dispose() {
      const e = engine;
      engine = null;
      // Its corpora are disposed with it; a later kernel call opens a fresh engine.
      if (e) await e.destroy();
    },
    memory(): BackendMemory {
      return { residentHandles: engine?.resident.size ?? 0, objects: engine?.liveTextures ?? 0 };
    },
    describe() {
      const e = open();
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
