/**
 * Finding a WebGPU device: an injected `GPU` object, the browser's `navigator.gpu`, or Dawn through
 * the optional `webgpu` package in Node. Every way it can fail ends in one sentence saying why, so
 * the registry can skip this backend and report the reason.
 */

/**
 * The entry point of a WebGPU implementation: `navigator.gpu` in a browser, or the object Dawn's
 * `create([...])` returns in Node. Typed structurally so this package's types need no WebGPU
 * typings.
 */
export interface WebGpuEntry {
  requestAdapter(options?: Record<string, unknown>): Promise<unknown>;
  readonly wgslLanguageFeatures?: ReadonlySet<string>;
}

/** Limits this backend tiles its work to; lower values than the adapter's force smaller tiles. */
export interface WebGpuLimits {
  /** Largest storage binding, bytes (spec minimum 128 MiB). */
  maxStorageBufferBindingSize?: number;
  /** Largest buffer, bytes. */
  maxBufferSize?: number;
  /** Workgroup shared memory, bytes. */
  maxComputeWorkgroupStorageSize?: number;
  /** Workgroups per dispatch dimension. */
  maxComputeWorkgroupsPerDimension?: number;
}

/** The limits this backend reads, and what it requests of the device. */
export const USED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeWorkgroupsPerDimension',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxStorageBuffersPerShaderStage',
] as const;

/**
 * The key on `globalThis` where a CosineKit backend in Node records the GL stack it opened in this
 * process: `'dawn'` (this backend's Dawn, on Mesa's EGL) or `'headless-gl'` (gpu.js's GLX context).
 * They cannot share a process: gpu.js's headless GL after Dawn ends the process with an X error
 * (BadAccess), which gpu.js's backend avoids by reading this key; Dawn after headless GL finds no
 * adapter, which the error then explains.
 */
const GL_STACK = Symbol.for('@cosinekit/node-gl-stack');

/** Why a device could not be had; thrown from `init()`. */
export class WebGpuUnavailable extends Error {
  override readonly name = 'WebGpuUnavailable';
}

type DawnModule = { create(flags: string[]): WebGpuEntry; globals: Record<string, unknown> };

let dawn: Promise<WebGpuEntry> | null = null;

/** Said with "no adapter" where Dawn was loaded on a Node worker thread without `EGL_PLATFORM`. */
let eglHint = '';

/** Whether this runs on a Node worker thread (whose `process.env` is a copy of its own). */
async function onWorkerThread(): Promise<boolean> {
  try {
    const name = 'node:worker_threads';
    return !((await import(/* @vite-ignore */ name)) as { isMainThread: boolean }).isMainThread;
  } catch {
    return false;
  }
}

/** Dawn in Node: headless OpenGL ES on Mesa (llvmpipe when there is no GPU), compatibility level. */
async function dawnEntry(): Promise<WebGpuEntry> {
  const proc = (globalThis as { process?: { env: Record<string, string | undefined> } }).process;
  // Without a display, Mesa's EGL needs the surfaceless platform; set before Dawn loads EGL. On a
  // worker thread this sets the thread's copy, which Dawn (native code) never reads.
  if (proc && proc.env.EGL_PLATFORM === undefined) {
    proc.env.EGL_PLATFORM = 'surfaceless';
    if (await onWorkerThread())
      eglHint =
        " (on a Node worker thread Dawn reads the process's environment, not the thread's copy: set EGL_PLATFORM=surfaceless on the main thread before the worker starts, or export it; @cosinekit/worker does so for 'webgpu')";
  }
  let mod: DawnModule;
  try {
    // A variable specifier keeps bundlers from pulling Dawn (a native addon) into browser builds.
    const name = 'webgpu';
    mod = (await import(/* @vite-ignore */ name)) as DawnModule;
  } catch (e) {
    throw new WebGpuUnavailable(
      `no navigator.gpu here, and the optional 'webgpu' package (Dawn for Node) could not be loaded: ${
        (e as Error).message
      }`,
    );
  }
  // Dawn's GPUBufferUsage, GPUMapMode, ... constants; harmless where they already exist.
  for (const [k, v] of Object.entries(mod.globals)) {
    if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  }
  const flags = (proc?.env.COSINEKIT_DAWN_FLAGS ?? 'backend=opengles,featureLevel=compatibility')
    .split(',')
    .filter(Boolean);
  return mod.create(flags);
}

/** The GPU entry to use: the injected one, `navigator.gpu`, or Dawn. */
export async function findEntry(injected?: WebGpuEntry): Promise<{ entry: WebGpuEntry; source: string }> {
  if (injected) return { entry: injected, source: 'injected' };
  const nav = (globalThis as { navigator?: { gpu?: WebGpuEntry } }).navigator;
  if (nav?.gpu) return { entry: nav.gpu, source: 'navigator.gpu' };
  const isNode =
    typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node ===
    'string';
  if (!isNode) {
    throw new WebGpuUnavailable(
      'navigator.gpu is absent: this browser has no WebGPU (Chromium needs a GPU or --enable-unsafe-webgpu)',
    );
  }
  dawn ??= dawnEntry();
  try {
    return { entry: await dawn, source: "Dawn (npm 'webgpu')" };
  } catch (e) {
    dawn = null;
    throw e;
  }
}

/** Opens an adapter and a device with the limits and features this backend uses. */
export async function openDevice(
  entry: WebGpuEntry,
  source: string,
  powerPreference?: 'low-power' | 'high-performance',
): Promise<{ adapter: GPUAdapter; device: GPUDevice; compatibility: boolean }> {
  const gpu = entry as unknown as GPU;
  let adapter = (await gpu.requestAdapter({ powerPreference })) as GPUAdapter | null;
  let compatibility = false;
  if (!adapter) {
    // Dawn on OpenGL ES only offers compatibility-level adapters.
    adapter = (await gpu.requestAdapter({
      featureLevel: 'compatibility',
      powerPreference,
    } as GPURequestAdapterOptions)) as GPUAdapter | null;
    compatibility = adapter !== null;
  } else {
    compatibility = (adapter as unknown as { featureLevel?: string }).featureLevel === 'compatibility';
  }
  const stacks = globalThis as Record<symbol, unknown>;
  const node = inNode();
  if (!adapter) {
    const glHint =
      node && stacks[GL_STACK] === 'headless-gl'
        ? " (gpu.js's headless GL opened a GL context on this thread first, and Dawn cannot open its own beside it: run the WebGPU backend on another thread (a worker kit) or in another process, or gpu.js in mode 'webasm')"
        : '';
    throw new WebGpuUnavailable(`${source} offers no WebGPU adapter on this machine${eglHint}${glHint}`);
  }
  // In Node an adapter on OpenGL (Dawn's GL backend, however it was given: loaded here, passed as
  // `gpu`, or set as navigator.gpu) holds a GL context on this thread: gpu.js's headless GL must not
  // open one (see GL_STACK). Dawn on Vulkan opens none.
  if (node && onOpenGl(adapter)) stacks[GL_STACK] ??= 'dawn';
  const requiredLimits: Record<string, number> = {};
  for (const name of USED_LIMITS) requiredLimits[name] = adapter.limits[name] as number;
  const requiredFeatures: GPUFeatureName[] = [];
  for (const f of ['shader-f16', 'timestamp-query'] as GPUFeatureName[]) {
    if (adapter.features.has(f)) requiredFeatures.push(f);
  }
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  } catch (e) {
    throw new WebGpuUnavailable(`${source}: the adapter refused a device: ${(e as Error).message}`);
  }
  return { adapter, device, compatibility };
}

/** Whether this runs in Node (not a browser page or worker). */
function inNode(): boolean {
  const g = globalThis as { process?: { versions?: { node?: unknown } }; document?: unknown };
  return typeof g.process?.versions?.node === 'string' && g.document === undefined;
}

/** Whether `adapter` says it runs on OpenGL (Dawn's GL backend: "OpenGL version OpenGL ES 3.2 Mesa ..."). */
function onOpenGl(adapter: GPUAdapter): boolean {
  try {
    const info = (adapter as unknown as { info?: AdapterText }).info;
    return info !== undefined && /opengl/.test(adapterText(info));
  } catch {
    return false;
  }
}

/** What an adapter says of itself, in one lower-case line. */
interface AdapterText {
  vendor?: string;
  architecture?: string;
  description?: string;
  device?: string;
}

function adapterText(info: AdapterText): string {
  return `${info.vendor ?? ''} ${info.architecture ?? ''} ${info.description ?? ''} ${info.device ?? ''}`.toLowerCase();
}

/** Mesa's CPU rasterisers, whose shader loops stop after 65,535 iterations per invocation. */
export function isLoopLimited(info: AdapterText): boolean {
  return /llvmpipe|lavapipe|softpipe/.test(adapterText(info));
}

/** True for adapters that run shaders on the CPU: figures from them measure emulation. */
export function isSoftwareAdapter(info: AdapterText): boolean {
  return /swiftshader|llvmpipe|lavapipe|softpipe|software|microsoft basic render/.test(adapterText(info));
}
