import { argError } from '@cosinekit/core/backend';
import { GPU, Input, utils } from 'gpu.js';

/** The gpu.js modes this backend can run in; `'auto'` picks the best that works here. */
export type GpujsMode = 'auto' | 'headlessgl' | 'webgl2' | 'webgl' | 'webasm' | 'cpu';

/** A mode that actually runs (never `'auto'`). */
export type RunMode = Exclude<GpujsMode, 'auto'>;

/** The modes that keep data in GL textures; webasm and cpu hand back typed arrays instead. */
const GL_MODES: readonly RunMode[] = ['headlessgl', 'webgl2', 'webgl'];

/** A compiled gpu.js kernel, as the run shortcut `gpu.createKernel` returns. */
export interface KernelRun {
  (...args: unknown[]): unknown;
  setOutput(output: number[]): unknown;
  readonly kernel: { readonly constructor: { readonly name: string } };
}

/** A gpu.js texture (pipeline output): the only device-resident value in GL modes. */
export interface GpuTexture {
  toArray(): unknown;
  delete(): void;
}

/** What a kernel produced: a texture (GL pipeline kernels) or rows of floats (everything else). */
export type DeviceValue = GpuTexture | Float32Array | Float32Array[];

/** How one kernel is compiled. `constants` are baked in, so they are part of the cache key. */
export interface KernelSpec {
  readonly source: string;
  readonly constants?: Record<string, number>;
  /** Keep the output on the device (a texture in GL modes). */
  readonly pipeline?: boolean;
  /** Four floats per texel for large device-resident outputs (GL only). */
  readonly packed?: boolean;
  /**
   * Loop steps one invocation takes, all its loops together (`d` per loop over a row): checked
   * against {@link Engine.loopCap} before the kernel runs.
   */
  readonly steps?: number;
}

/** Options that shape the engine; see {@link GpujsBackendOptions}. */
export interface EngineOptions {
  mode?: GpujsMode;
  maxTextureSize?: number;
  tileSize?: number;
}

/**
 * WebAssembly memories kept at once in webasm mode, over all kernels of every gpu.js backend in the
 * page (or process). gpu.js gives a webasm kernel a module and a memory for each output size it
 * runs at (up to 8 a kernel, each reserving up to 256 MiB of address space), and Chromium refuses
 * more memories after a hundred or so in a page:
 * kernels for about 25 row widths, or 5 widths at 8 batch sizes, made every later call fail with
 * OUT_OF_MEMORY, a 1 x 3 call included. Past this many, the memories least recently run are
 * released (the kernel stays compiled and makes one again, with its module, when it next runs at
 * that size, a few milliseconds). About half of what Chromium allows leaves room for the page's
 * other WebAssembly (tfjs-wasm, this library's wasm backend); a kit's calls hold 4-5 memories a
 * row width (norms and products at each batch size), so a workload cycling over a dozen widths
 * runs from memories kept, and one cycling over more makes them again on each call (about 4.5 ms
 * a 4 x 6 matrix in Node, against 0.2 ms).
 */
export const MAX_WASM_MEMORIES = 64;

/**
 * The memories gpu.js holds for the webasm kernels of every engine in this page (or process),
 * least recently run first: the limit is the page's, and two backends each keeping 64 ran out
 * after 39 calls (a review).
 */
const MEMORIES = new Map<WasmEntry, WasmKernel>();

/**
 * Compiled kernels kept at once in webasm mode: their memories are bounded by
 * {@link MAX_WASM_MEMORIES}, so what this bounds is the JavaScript each holds (its traced source
 * and builders). The least recently used past this are destroyed and compiled again when needed;
 * a workload cycling over more row widths than this covers (3 kernels a width) compiles each time.
 */
export const MAX_WASM_KERNELS = 192;

/** Default score tile: at most 2048 x 2048 floats (16 MiB) read back at a time. */
export const DEFAULT_TILE = 2048;

/**
 * One gpu.js instance in one mode, with its compiled kernels (one per shape family, keyed by the
 * baked constants), the texture limits tiles obey, and a count of the textures it hands out.
 */
export class Engine {
  readonly gpu: GPU;
  readonly mode: RunMode;
  readonly requested: GpujsMode;
  /** Side limit every output obeys: the device's maximum texture size, or a smaller forced one. */
  readonly maxTextureSize: number;
  /** The device's own limit (`Infinity` in webasm/cpu). */
  readonly deviceMaxTextureSize: number;
  /** Score tiles hold at most `tileSize^2` cosines (and no side beyond the texture limit). */
  readonly tileSize: number;
  /** True when intermediate and resident data live in GL textures. */
  readonly textures: boolean;
  /** Modes tried before this one, with why each was passed over. */
  readonly skipped: readonly string[];
  /** Textures handed out and not yet deleted (resident corpora plus anything in flight). */
  liveTextures = 0;
  /** Resident data not yet disposed, each with its `dispose()`. */
  readonly resident = new Set<{ dispose(): void }>();
  /** Kernels gpu.js moved to another kernel class (its own per-kernel fallback), by cache key. */
  readonly fallbacks = new Map<string, string>();
  /** Largest texture side any output has needed so far (what tiling keeps under the limit). */
  largestTextureSide = 0;
  /**
   * Loop steps one shader invocation may take, all loops together: measured when the mode opens
   * (Mesa's GL under Xvfb stops after 65535, so a row of 40,000 floats was summed short and its
   * cosines came out 1); unlimited in webasm and cpu modes.
   */
  loopCap = Number.POSITIVE_INFINITY;
  readonly #kernels = new Map<string, KernelRun>();
  readonly #packed = new Set<string>();
  readonly #expectedClass: string;

  constructor(gpu: GPU, mode: RunMode, requested: GpujsMode, options: EngineOptions, skipped: string[]) {
    this.gpu = gpu;
    this.mode = mode;
    this.requested = requested;
    this.skipped = skipped;
    this.textures = GL_MODES.includes(mode);
    const features = (gpu.Kernel as unknown as { features?: { maxTextureSize?: number } }).features;
    this.deviceMaxTextureSize = features?.maxTextureSize ?? Number.POSITIVE_INFINITY;
    this.maxTextureSize = Math.min(
      this.deviceMaxTextureSize,
      options.maxTextureSize ?? Number.POSITIVE_INFINITY,
    );
    this.tileSize = Math.min(this.maxTextureSize, options.tileSize ?? DEFAULT_TILE);
    this.#expectedClass = (gpu.Kernel as unknown as { name: string }).name;
    this.loopCap = loopCaps.get(gpu) ?? Number.POSITIVE_INFINITY;
  }

  /** The gpu.js kernel class this engine runs (e.g. `WebGL2Kernel`). */
  get kernelClass(): string {
    return this.#expectedClass;
  }

  /**
   * What computes, in words: the GL renderer (unmasked where the browser allows, e.g.
   * SwiftShader or Mesa llvmpipe, which are software) or the CPU path of webasm/cpu modes.
   */
  get device(): string {
    if (this.mode === 'cpu') return 'CPU (JavaScript)';
    if (this.mode === 'webasm') {
      const simd = (this.gpu.Kernel as unknown as { isSIMDSupported?: boolean }).isSIMDSupported;
      return `CPU (WebAssembly${simd ? ' SIMD' : ''})`;
    }
    try {
      const gl = (this.gpu as unknown as { context: WebGLRenderingContext | null }).context;
      if (!gl) return 'unknown';
      const info = gl.getExtension('WEBGL_debug_renderer_info');
      const renderer = info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER);
      // headless-gl names only its ANGLE layer; the GL underneath is the X server's (Mesa under Xvfb).
      return this.mode === 'headlessgl'
        ? `${renderer} (headless-gl on the X server's OpenGL)`
        : String(renderer);
    } catch {
      return 'unknown';
    }
  }

  /**
   * The kernel for `key`, compiled on first use from `spec()`. One whose loops take more steps
   * than this GL implementation runs in a shader ({@link Engine.loopCap}) is refused with
   * `UNSUPPORTED` (the kit names the call and argument): its sums would stop short, silently.
   */
  kernel(key: string, spec: () => KernelSpec): KernelRun {
    let k = this.#kernels.get(key);
    if (k !== undefined && this.mode === 'webasm') {
      // Most recently used last: the order eviction goes by.
      this.#kernels.delete(key);
      this.#kernels.set(key, k);
    }
    if (k === undefined) {
      if (this.mode === 'webasm') this.#evict(MAX_WASM_KERNELS - 1);
      const s = spec();
      this.checkSteps(key.split(':')[0], 'x', s.steps ?? 0);
      const gl = this.textures;
      k = this.gpu.createKernel(s.source, {
        output: [1],
        constants: s.constants ?? {},
        precision: 'single',
        // gpu.js otherwise picks lowp/mediump for small outputs on GL: 10-bit floats.
        tactic: 'precision',
        dynamicOutput: true,
        dynamicArguments: true,
        pipeline: gl && s.pipeline === true,
        // A pipeline kernel hands out its own texture, reused by the next run, unless immutable.
        immutable: gl && s.pipeline === true,
        optimizeFloatMemory: gl && s.packed === true,
      } as never) as unknown as KernelRun;
      this.#kernels.set(key, k);
      // Measured as packed in every mode, so tiling is checked the same way without textures.
      if (s.packed === true) this.#packed.add(key);
    }
    return k;
  }

  /**
   * Refuses, with `UNSUPPORTED` naming `arg` of `op`, work whose shaders would take more loop
   * steps than this GL implementation runs ({@link Engine.loopCap}): their sums would stop short.
   */
  checkSteps(op: string, arg: string, steps: number): void {
    if (steps > this.loopCap)
      argError(
        'UNSUPPORTED',
        op,
        arg,
        `needs ${steps} loop steps in one shader, but this GL implementation (${this.device}) stops a shader's loops after ${this.loopCap}: rows this long would be summed short. Use gpu.js mode 'webasm' or another backend for them.`,
      );
  }

  /**
   * Refuses (`UNSUPPORTED` naming `backend`) a call once this engine's GL context is lost: the
   * browser takes a context back on a GPU reset or driver crash, or when a page holds too many
   * (Chromium drops the oldest past 16), and a lost context reads back zeros, which passed every
   * check as cosines of 0 ranked by index. Nothing here can restore the textures it held.
   */
  checkContext(kernel: string): void {
    if (!this.textures) return;
    let lost: boolean;
    try {
      const gl = (this.gpu as unknown as { context: WebGLRenderingContext | null }).context;
      lost = gl?.isContextLost?.() === true;
    } catch {
      lost = true;
    }
    if (lost)
      argError(
        'UNSUPPORTED',
        kernel,
        'backend',
        'is gpu.js on a WebGL context the browser has taken back (a GPU reset, or too many WebGL contexts on the page): its answers would be zeros, and its resident corpora went with it. Dispose this backend and its kit, and make another.',
      );
  }

  /**
   * Destroys the least recently used kernels until at most `keep` remain (webasm mode: each holds
   * WebAssembly memories; runs are synchronous, so none is running). Their outputs are arrays of
   * their own, and a kernel needed again is compiled again.
   */
  #evict(keep: number): void {
    for (const [key, k] of this.#kernels) {
      if (this.#kernels.size <= keep) break;
      this.#kernels.delete(key);
      this.#packed.delete(key);
      (k as unknown as { destroy?(removeCanvas?: boolean): void }).destroy?.(false);
    }
  }

  /**
   * Notes the memory (gpu.js module entry) kernel `k` just ran in as the most recently used, and
   * releases the least recently used past {@link MAX_WASM_MEMORIES}, never that one. Runs are
   * synchronous and gpu.js defers releasing a memory its worker pool shares until its runs settle.
   */
  #ranAt(k: KernelRun): void {
    const kernel = (k as unknown as { kernel?: Partial<WasmKernel> }).kernel;
    const entry = kernel?._active;
    if (!entry || !(kernel._moduleCache instanceof Map) || typeof kernel._releaseEntry !== 'function') return;
    MEMORIES.delete(entry);
    MEMORIES.set(entry, kernel as WasmKernel);
    if (MEMORIES.size <= MAX_WASM_MEMORIES) return;
    // Entries gpu.js let go itself (its own 8 a kernel) or with a destroyed kernel.
    for (const [e, owner] of MEMORIES)
      if (!e.memory || owner._moduleCache.get(e.sizeSignature) !== e) MEMORIES.delete(e);
    for (const [e, owner] of MEMORIES) {
      if (MEMORIES.size <= MAX_WASM_MEMORIES || e === entry) break;
      MEMORIES.delete(e);
      owner._moduleCache.delete(e.sizeSignature);
      if (owner._active === e) owner._active = null;
      owner._releaseEntry(e);
    }
  }

  /** webasm mode: the WebAssembly memories gpu.js holds for this engine's kernels (0 in other modes). */
  get wasmMemoryCount(): number {
    let n = 0;
    for (const k of this.#kernels.values()) {
      const cache = (k as unknown as { kernel?: { _moduleCache?: unknown } }).kernel?._moduleCache;
      if (cache instanceof Map) n += cache.size;
    }
    return n;
  }

  /** Number of compiled kernels: one per kernel and shape family (the baked constants). */
  get kernelCount(): number {
    return this.#kernels.size;
  }

  /** Runs kernel `key` over `output` (gpu.js order: [x, y]) and notes any gpu.js fallback. */
  run(key: string, k: KernelRun, output: number[], ...args: unknown[]): DeviceValue {
    const [w, h] = (
      utils as unknown as { getKernelTextureSize(s: object, d: number[]): Int32Array }
    ).getKernelTextureSize({ optimizeFloatMemory: this.#packed.has(key), precision: 'single' }, [
      output[0],
      output[1] ?? 1,
      1,
    ]);
    this.largestTextureSide = Math.max(this.largestTextureSide, w, h);
    pruneReadBuffers(k);
    k.setOutput(output);
    const value = k(...args) as DeviceValue;
    if (this.mode === 'webasm') this.#ranAt(k);
    const cls = k.kernel.constructor.name;
    if (cls !== this.#expectedClass) this.fallbacks.set(key.split(':')[0], cls);
    if (isTexture(value)) this.liveTextures++;
    return value;
  }

  /** Deletes a texture this engine handed out; arrays need nothing. */
  release(value: DeviceValue | undefined): void {
    if (value !== undefined && isTexture(value)) {
      this.liveTextures--;
      try {
        value.delete();
      } catch {
        // Its GL context is gone (destroyed or lost), and the texture with it: nothing to free.
      }
    }
  }

  /** Disposes resident data, then destroys every kernel and the GL context. */
  async destroy(): Promise<void> {
    for (const r of [...this.resident]) r.dispose();
    // This engine's memories leave the shared count (gpu.js releases them as it destroys).
    const mine = new Set(
      [...this.#kernels.values()].map((k) => (k as unknown as { kernel?: unknown }).kernel),
    );
    for (const [e, owner] of MEMORIES) if (mine.has(owner)) MEMORIES.delete(e);
    this.#kernels.clear();
    try {
      await this.gpu.destroy();
    } catch {
      // A context already gone (lost or destroyed from outside) has nothing left to destroy; the
      // backend's dispose() resolves all the same (it rejected, with its corpora still counted).
    }
  }
}

/** What {@link Engine} reads of a gpu.js webasm module entry: one output size's module and memory. */
interface WasmEntry {
  readonly sizeSignature: string;
  readonly memory: unknown;
}

/** What {@link Engine} uses of a gpu.js webasm kernel to release its memories (gpu.js 2.24 internals). */
interface WasmKernel {
  _moduleCache: Map<string, WasmEntry>;
  _active: WasmEntry | null;
  _releaseEntry(entry: WasmEntry): void;
}

/** Framebuffers gpu.js's WebGL kernel keeps for reading its textures back, one per output size. */
const MAX_READ_BUFFERS = 8;

/**
 * Frees the framebuffers a GL kernel keeps to read its textures back once it holds more than
 * {@link MAX_READ_BUFFERS}: gpu.js keeps one per output size for the kernel's life, so kernels run
 * at many row counts (the norms of batches of every size) grew GL objects without bound until
 * `dispose()`. gpu.js makes one again when a read needs it.
 */
function pruneReadBuffers(k: KernelRun): void {
  const kernel = (k as unknown as { kernel?: unknown }).kernel as
    | { rawValueFramebuffers?: Record<string, Record<string, unknown>>; context?: unknown }
    | undefined;
  const cache = kernel?.rawValueFramebuffers;
  const gl = kernel?.context as { deleteFramebuffer?: (f: unknown) => void } | undefined;
  if (!cache || typeof gl?.deleteFramebuffer !== 'function') return;
  let n = 0;
  for (const w in cache) n += Object.keys(cache[w]).length;
  if (n <= MAX_READ_BUFFERS) return;
  for (const w in cache) {
    for (const h in cache[w]) {
      try {
        gl.deleteFramebuffer(cache[w][h]);
      } catch {
        // A context that is gone took it along.
      }
    }
    delete cache[w];
  }
}

/** True for a gpu.js texture. */
export function isTexture(v: unknown): v is GpuTexture {
  return (
    typeof v === 'object' &&
    v !== null &&
    !ArrayBuffer.isView(v) &&
    !Array.isArray(v) &&
    typeof (v as GpuTexture).delete === 'function'
  );
}

/**
 * A `rows x cols` row-major view gpu.js reads as `x[row][col]`, without copying: an `Input`, or
 * in cpu mode an array of row views, because gpu.js 2.24.1's cpu kernels index an `Input` by
 * the kernel's output width instead of the input's.
 */
export function matrixArg(engine: Engine, data: Float32Array, rows: number, cols: number): unknown {
  if (engine.mode !== 'cpu') return new Input(data as unknown as number[], [cols, rows]);
  const views = new Array<Float32Array>(rows);
  for (let i = 0; i < rows; i++) views[i] = data.subarray(i * cols, (i + 1) * cols);
  return views;
}

/** The rows of a 2D kernel result (reading a texture back when it is one). */
export function rowsOf(value: DeviceValue): Float32Array[] {
  const v = isTexture(value) ? value.toArray() : value;
  return v as Float32Array[];
}

/** A 1D kernel result (reading a texture back when it is one). */
export function vectorOf(value: DeviceValue): Float32Array {
  const v = isTexture(value) ? value.toArray() : value;
  return v as Float32Array;
}

/**
 * A browser's page or worker: a DOM, or no Node. A Web Worker has no `document` (it draws on an
 * OffscreenCanvas), and was taken for Node: its 'auto' never tried WebGL2, which works there, and
 * told the user to start an X server.
 */
const hasDom = (): boolean =>
  (typeof document !== 'undefined' && typeof window !== 'undefined') ||
  typeof (globalThis as { process?: { versions?: { node?: unknown } } }).process?.versions?.node !== 'string';

/** The order `'auto'` tries modes in: GL first, then gpu.js's webasm, then its cpu mode. */
export function autoOrder(): RunMode[] {
  return hasDom() ? ['webgl2', 'webgl', 'webasm', 'cpu'] : ['headlessgl', 'webasm', 'cpu'];
}

/** Why gpu.js cannot give `mode` here, in words a user can act on. */
function unavailableReason(mode: RunMode): string {
  if (mode === 'headlessgl') {
    if (hasDom()) return 'headlessgl runs only in Node';
    const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
    return env?.DISPLAY
      ? `no headless GL context on display ${env.DISPLAY}: no X server answers there (run under 'xvfb-run -a'), or the optional native 'gl' module is not built (run scripts/build-gl.sh)`
      : "no headless GL context: no X server (DISPLAY is unset; run under 'xvfb-run -a'), or the optional native 'gl' module is not built (run scripts/build-gl.sh)";
  }
  if (mode === 'webgl2' || mode === 'webgl') {
    return hasDom() ? `${mode} is not available in this browser` : `${mode} runs only in browsers`;
  }
  return `${mode} is not supported here`;
}

/**
 * The key on `globalThis` where a CosineKit backend in Node records which GL stack it opened in this
 * process: `'dawn'` (the WebGPU backend's Dawn, on Mesa's EGL) or `'headless-gl'` (gpu.js's GLX
 * context). The two cannot share a process: headless GL's context after Dawn's fails with an X
 * `BadAccess` (X_GLXMakeCurrent), and Xlib's default handler for it ends the process; Dawn after
 * headless GL finds no adapter. The WebGPU backend reads and writes the same key.
 */
const GL_STACK = Symbol.for('@cosinekit/node-gl-stack');

/** The GL stack a CosineKit backend opened in this Node process, if any (see {@link GL_STACK}). */
function glStack(): unknown {
  return (globalThis as Record<symbol, unknown>)[GL_STACK];
}

/** A GPU in `mode`, checked by compiling and running a tiny kernel; throws with the reason. */
function openMode(mode: RunMode): GPU {
  if (mode === 'headlessgl' && glStack() === 'dawn') {
    throw new Error(
      "headlessgl: the WebGPU backend's Dawn has opened a GL context in this process, and headless GL beside it would end the process with an X error (BadAccess); run gpu.js in another process, or in mode 'webasm'",
    );
  }
  let gpu: GPU;
  try {
    gpu = new GPU({ mode });
  } catch {
    throw new Error(unavailableReason(mode));
  }
  const kernel = gpu.Kernel as unknown as {
    name: string;
    isSupported?: boolean;
    features?: { isTextureFloat?: boolean; isFloatRead?: boolean };
  };
  if (GL_MODES.includes(mode)) {
    if (kernel.isSupported === false) throw new Error(unavailableReason(mode));
    if (kernel.features?.isTextureFloat === false || kernel.features?.isFloatRead === false) {
      void gpu.destroy();
      throw new Error(`${mode} has no float textures, so single precision cannot run`);
    }
  }
  try {
    const probe = gpu.createKernel(
      `function (a) { return a[this.thread.y][0] * a[this.thread.x][1] + 0.25; }`,
      { output: [2, 2], precision: 'single', tactic: 'precision' } as never,
    ) as unknown as KernelRun;
    const out = probe([
      [1.5, -2],
      [3, 0.5],
    ]) as Float32Array[];
    // a[y][0] * a[x][1] + 0.25 for x, y in {0, 1}: [[-2.75, 1], [-5.75, 1.75]].
    const want = [-2.75, 1, -5.75, 1.75];
    const got = [out[0][0], out[0][1], out[1][0], out[1][1]];
    if (got.some((v, i) => Math.abs(v - want[i]) > 1e-6)) {
      throw new Error(`a test kernel returned [${got.join(', ')}] instead of [${want.join(', ')}]`);
    }
    const cls = probe.kernel.constructor.name;
    if (cls !== kernel.name) throw new Error(`gpu.js ran the test kernel as ${cls}, not ${kernel.name}`);
    if (mode === 'headlessgl') (globalThis as Record<symbol, unknown>)[GL_STACK] ??= 'headless-gl';
    if (GL_MODES.includes(mode)) loopCaps.set(gpu, measureLoopCap(gpu));
  } catch (e) {
    void gpu.destroy();
    throw new Error(`${mode}: ${e instanceof Error ? e.message : String(e)}`);
  }
  return gpu;
}

/** Loop caps measured by {@link openMode}, read by the engine made on that GPU. */
const loopCaps = new WeakMap<GPU, number>();

/** Steps the cap probe asks for: beyond any row the texture limit allows (4 (16384 - 2)^2 is 2^30). */
const PROBE_STEPS = 2 ** 22;

/**
 * The loop steps one shader invocation runs here: a kernel adds 1 a step for {@link PROBE_STEPS}
 * steps (exact in float32 up to 2^24) and reports how far it got. Infinity when it ran them all.
 */
function measureLoopCap(gpu: GPU): number {
  const k = gpu.createKernel(
    `function () { let s = 0.0; for (let p = 0; p < this.constants.n; p++) { s += 1.0; } return s; }`,
    { output: [1], constants: { n: PROBE_STEPS }, precision: 'single', tactic: 'precision' } as never,
  ) as unknown as KernelRun;
  try {
    const got = (k() as Float32Array)[0];
    return got >= PROBE_STEPS ? Number.POSITIVE_INFINITY : got;
  } finally {
    (k as unknown as { destroy?(removeCanvas?: boolean): void }).destroy?.(false);
  }
}

/**
 * Opens gpu.js in the requested mode, or in the first mode of {@link autoOrder} that works.
 * An explicit mode that cannot run throws `UNSUPPORTED` with the reason; `'auto'` records why it
 * passed over each better mode, so the fallback is never silent.
 */
export function createEngine(options: EngineOptions = {}): Engine {
  const requested = options.mode ?? 'auto';
  const order = requested === 'auto' ? autoOrder() : [requested];
  const skipped: string[] = [];
  for (const mode of order) {
    try {
      return new Engine(openMode(mode), mode, requested, options, skipped);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      skipped.push(why.startsWith(`${mode}`) ? why : `${mode}: ${why}`);
    }
  }
  return argError(
    'UNSUPPORTED',
    'init',
    'mode',
    `is '${requested}', which gpu.js cannot run here: ${skipped.join('; ')}`,
  );
}
