import {
  argError,
  argErrorOf,
  type Backend,
  type BackendMemory,
  disposedBackend,
  errorText,
  isCosineKitError,
  type Kernels,
  ownOptions,
  type ResidentCorpus,
  reading,
  valueText,
} from '@cosinekit/core/backend';
import {
  corpusMatrix,
  corpusSearch,
  corpusSearchAllowed,
  cosineMatrix,
  createCorpus,
  exportCorpus,
  importCorpus,
  readCorpus,
  topK,
  WEBGPU_BACKEND_NAME,
  WebGpuCorpus,
} from './corpus.js';
import { Engine } from './engine.js';
import { USED_LIMITS, type WebGpuEntry, type WebGpuLimits } from './gpu.js';
import {
  activation,
  activationGrad,
  addBias,
  cosineRows,
  matmul,
  normalizeRows,
  rowNorms,
  tileOf,
} from './kernels.js';

export { WEBGPU_BACKEND_NAME };

/** Options of {@link createWebGpuBackend}. */
export interface WebGpuBackendOptions {
  /**
   * The WebGPU entry point to use: `navigator.gpu`, or Dawn's `create([...])` in Node. Defaults to
   * `navigator.gpu`, else (in Node) Dawn from the optional `webgpu` package, started headless on
   * OpenGL ES at compatibility level (flags from `COSINEKIT_DAWN_FLAGS`, comma-separated).
   */
  gpu?: WebGpuEntry;
  /**
   * Limits to tile work to, when lower than the device's: lets tests prove that large inputs work
   * on small devices. A row must still fit one storage binding.
   */
  limits?: WebGpuLimits;
  /** Adapter preference, passed to `requestAdapter`. */
  powerPreference?: 'low-power' | 'high-performance';
}

/** Counts of what the backend holds on the device, beyond {@link Backend.memory}. */
export interface WebGpuStats {
  /** GPU buffers created and not yet destroyed, idle pooled ones included. */
  liveBuffers: number;
  /** Their bytes. */
  liveBytes: number;
  /** Buffers in use (resident corpora, or lent to a running kernel). */
  inUseBuffers: number;
  /** Compiled pipelines in the cache. */
  pipelines: number;
}

/** A webgpu backend: the contract's {@link Backend} plus device statistics. */
export interface WebGpuBackend extends Backend {
  /** What the device holds now; zeros before the device opens and after dispose. */
  stats(): WebGpuStats;
}

const LIMIT_NAMES = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeWorkgroupsPerDimension',
] as const;

/**
 * A CosineKit backend on WebGPU compute shaders: every kernel of the contract in WGSL, float32,
 * with corpora resident in GPU buffers (float32, float16 or int8 storage, exported and imported
 * bit for bit) and top-k selected on the device. Nothing runs until
 * `init()` (or the first kernel call) opens a device; `init()` rejects with the reason when no
 * WebGPU device can be had, so the registry passes over this backend.
 */
export function createWebGpuBackend(options: WebGpuBackendOptions = {}): WebGpuBackend {
  const op = 'createWebGpuBackend';
  // Read once, here: a getter runs once, later changes to the objects change nothing.
  options = ownOptions(op, options, ['gpu', 'limits', 'powerPreference']);
  const limits = options.limits;
  if (limits !== undefined)
    options.limits = ownOptions(op, limits as WebGpuLimits, LIMIT_NAMES, 'options.limits');
  const pp = options.powerPreference;
  if (pp !== undefined && pp !== 'low-power' && pp !== 'high-performance')
    argError(
      'INVALID_ARGUMENT',
      op,
      'options.powerPreference',
      `must be 'low-power' or 'high-performance', got ${valueText(pp)}.`,
    );
  // An entry point that cannot be read (a revoked Proxy, a throwing getter) is named, its error the cause.
  const gpu = options.gpu;
  if (
    gpu !== undefined &&
    reading(
      op,
      'options.gpu',
      () => typeof (gpu as { requestAdapter?: unknown })?.requestAdapter !== 'function',
    )
  ) {
    argError(
      'INVALID_ARGUMENT',
      op,
      'options.gpu',
      'must be a WebGPU entry point (navigator.gpu or Dawn’s create()).',
    );
  }
  for (const name of LIMIT_NAMES) {
    const v = options.limits?.[name];
    if (v !== undefined && !(Number.isInteger(v) && v >= 1)) {
      argError(
        'INVALID_ARGUMENT',
        op,
        `options.limits.${name}`,
        `must be a positive integer; got ${valueText(v)}.`,
      );
    }
  }
  let opening: Promise<Engine> | null = null;
  let engine: Engine | null = null;
  let disposed = false;
  const ready = async (name: string): Promise<Engine> => {
    if (disposed) disposedBackend(name);
    opening ??= Engine.open(options).then((e) => {
      engine = e;
      return e;
    });
    let e: Engine;
    try {
      e = await opening;
    } catch (err) {
      opening = null;
      argError('UNSUPPORTED', name, 'backend', `has no WebGPU device: ${errorText(err)}`, err);
    }
    if (e.lostReason !== null) {
      // Report the loss once (here, or already by the call it cut short); the next call opens a
      // fresh device.
      opening = null;
      engine = null;
      if (e.lossReported) {
        void e.destroy();
        return ready(name);
      }
      try {
        e.check(name);
      } finally {
        void e.destroy();
      }
    }
    return e;
  };
  /**
   * A kernel on a resident corpus: the corpus is claimed at the call (a dispose() right after it
   * leaves the call its answer, as one made while it runs does), then `f` runs on the device.
   */
  const onCorpus = async <T>(name: string, c: ResidentCorpus, f: (e: Engine) => Promise<T>): Promise<T> => {
    const release = c instanceof WebGpuCorpus ? c.claim(name) : undefined;
    try {
      return await f(await ready(name));
    } finally {
      release?.();
    }
  };

  const kernels: Kernels = {
    rowNorms: async (x, out) => rowNorms(await ready('rowNorms'), x, out),
    normalizeRows: async (x, out) => normalizeRows(await ready('normalizeRows'), x, out),
    cosineRows: async (a, b, out) => cosineRows(await ready('cosineRows'), a, b, out),
    cosineMatrix: async (a, b, out) => cosineMatrix(await ready('cosineMatrix'), a, b, out),
    topK: async (q, c, k) => topK(await ready('topK'), q, c, k),
    createCorpus: async (x, o) => createCorpus(await ready('createCorpus'), x, o),
    corpusSearch: (c, q, k) => onCorpus('corpusSearch', c, (e) => corpusSearch(e, c, q, k)),
    corpusMatrix: (c, q, out) => onCorpus('corpusMatrix', c, (e) => corpusMatrix(e, c, q, out)),
    matmul: async (a, b, ta, tb, out) => matmul(await ready('matmul'), a, b, ta, tb, out),
    addBias: async (x, bias, out) => addBias(await ready('addBias'), x, bias, out),
    activation: async (kind, x, out) => activation(await ready('activation'), kind, x, out),
    activationGrad: async (kind, x, dy, out) =>
      activationGrad(await ready('activationGrad'), kind, x, dy, out),
    readCorpus: (c) => onCorpus('readCorpus', c, (e) => readCorpus(e, c)),
    exportCorpus: (c) => onCorpus('exportCorpus', c, (e) => exportCorpus(e, c)),
    importCorpus: async (s) => importCorpus(await ready('importCorpus'), s),
    corpusSearchAllowed: (c, q, k, allow) =>
      onCorpus('corpusSearchAllowed', c, (e) => corpusSearchAllowed(e, c, q, k, allow)),
  };
  // A refusal made deeper in names the kernel called, not the step that made it (a device limit
  // said 'webgpu' and 'input', topK's inner search 'corpusSearch', a lost device 'readback').
  for (const name of Object.keys(kernels) as (keyof Kernels)[]) {
    const run = kernels[name] as (...args: unknown[]) => Promise<unknown>;
    (kernels as unknown as Record<string, unknown>)[name] = (...args: unknown[]) =>
      run(...args).catch((e: unknown) => {
        throw asKernel(name, e);
      });
  }
  return {
    name: WEBGPU_BACKEND_NAME,
    kernels,
    async init() {
      if (disposed) disposedBackend('init');
      // Its error as it is: UNSUPPORTED naming the backend, with the reason, which the registry
      // records for a backend it passes over (it was rewrapped in a plain Error, with no code).
      await ready('init');
      // Disposed while the device opened: it goes (see dispose), and init() says so, as wasm's does.
      if (disposed) disposedBackend('init');
    },
    dispose() {
      disposed = true;
      // An open device goes within the call, with its corpora: a call made right after dispose()
      // on one of them (a remove, an add) is DISPOSED, as on the other backends, where it once ran
      // in the microtasks before the device was destroyed. One still opening goes once it opens.
      const open = engine;
      engine = null;
      if (open) {
        opening = null;
        return open.destroy();
      }
      return (async () => {
        const e = opening ? await opening.catch(() => null) : null;
        opening = null;
        await e?.destroy();
      })();
    },
    memory(): BackendMemory {
      return {
        residentHandles: engine?.resident.size ?? 0,
        objects: engine?.inUseBuffers ?? 0,
        bytes: engine?.inUseBytes ?? 0,
      };
    },
    stats(): WebGpuStats {
      return {
        liveBuffers: engine?.liveBuffers ?? 0,
        liveBytes: engine?.liveBytes ?? 0,
        inUseBuffers: engine?.inUseBuffers ?? 0,
        pipelines: engine?.pipelineCount ?? 0,
      };
    },
    describe() {
      const e = engine;
      if (disposed) return { engine: 'WebGPU', state: 'disposed' };
      if (!e) return { engine: 'WebGPU', device: 'not opened yet (call init())' };
      const t = tileOf(e);
      const d: Record<string, string | number | boolean> = {
        engine: 'WebGPU (WGSL compute)',
        source: e.source,
        vendor: e.adapterInfo.vendor || 'unknown',
        architecture: e.adapterInfo.architecture || 'unknown',
        description: e.adapterInfo.description || e.adapterInfo.device || 'unknown',
        // Dawn on OpenGL ES names the renderer (e.g. llvmpipe) here only.
        ...(e.adapterInfo.device && e.adapterInfo.device !== e.adapterInfo.description
          ? { device: e.adapterInfo.device }
          : {}),
        featureLevel: e.compatibility ? 'compatibility' : 'core',
        features: e.features.join(', ') || 'none',
        precision:
          'float32 (f32 accumulation; row sums reduced in a tree, or in groups of 8 for rows of up to 64)',
        resident:
          'GPU storage buffers: float32; float16 as two halves per 32-bit word (unpack2x16float, no shader-f16 needed); int8 as four codes per word with a float32 scale per row, scored against float32 queries',
        tile: `${t.wg * t.block}x${t.wg * t.block} outputs per workgroup, ${t.block}x${t.block} per invocation, depth ${t.depth}`,
        // Not used: dot4I8Packed would need the queries quantised too, a wider error than the
        // float queries int8 corpora are scored with here.
        packedInt8Dot: e.packedDot ? 'available, not used' : 'not available',
      };
      for (const name of USED_LIMITS) {
        const v =
          name in e.limits ? e.limits[name as keyof typeof e.limits] : (e.device.limits[name] as number);
        d[name] = v;
      }
      if (e.software) d.emulated = 'CPU emulation, correctness only';
      // Mesa's llvmpipe leaves loops after 65,535 iterations: longer rows are refused there.
      if (e.loopLimited) d.loopLimit = 65_535;
      return d;
    },
  };
}

/** Each kernel's first argument: what a refusal of the input as a whole ('input') names. */
const FIRST_ARG: Readonly<Record<string, string>> = {
  rowNorms: 'x',
  normalizeRows: 'x',
  cosineRows: 'a',
  cosineMatrix: 'a',
  topK: 'queries',
  createCorpus: 'x',
  corpusSearch: 'queries',
  corpusMatrix: 'queries',
  matmul: 'a',
  addBias: 'x',
  activation: 'x',
  activationGrad: 'x',
  readCorpus: 'corpus',
  exportCorpus: 'corpus',
  importCorpus: 'stored',
  corpusSearchAllowed: 'queries',
};

/** `e` renamed to kernel `name` when a step inside it made it; its code and problem kept, `e` the cause. */
function asKernel(name: string, e: unknown): unknown {
  if (!isCosineKitError(e) || e.op === name || e.op === undefined) return e;
  const prefix = `Argument '${e.arg}' passed to '${e.op}' `;
  if (!e.message.startsWith(prefix)) return e;
  const arg = e.arg === 'input' || e.arg === undefined ? (FIRST_ARG[name] ?? 'input') : e.arg;
  return argErrorOf(e.code, name, arg, e.message.slice(prefix.length), e);
}
