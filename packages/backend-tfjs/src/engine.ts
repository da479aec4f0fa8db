/**
 * The tfjs engine as a shared, global resource. tfjs keeps one active backend per tfjs instance,
 * so every CosineKit backend built on it (tfjs-wasm and tfjs-cpu side by side, say) goes through
 * this module: engines are initialised once and one at a time, and each kernel runs under a lock
 * with its engine made active first.
 */
import { argError, argErrorOf, checkOptionsObject, errorText, valueText } from '@cosinekit/core/backend';
import type * as TF from '@tensorflow/tfjs-core';

/** The tfjs engines this package drives. */
export type TfjsEngine = 'wasm' | 'cpu' | 'webgl' | 'webgpu';

/** The tfjs-core namespace. */
export type Tfjs = typeof TF;

/** Options for {@link initTfjsEngine}. */
export interface TfjsEngineOptions {
  /**
   * Where tfjs-backend-wasm finds its `.wasm` binaries: a URL or directory prefix ending in `/`, or
   * a map from file name (`tfjs-backend-wasm.wasm`, `tfjs-backend-wasm-simd.wasm`,
   * `tfjs-backend-wasm-threaded-simd.wasm`) to URL, as `setWasmPaths` takes them. In Node it
   * defaults to the package's own `dist/` directory; in browsers a bundler must provide it (with
   * Vite: `?url` imports of the `dist/*.wasm` files). tfjs reads it once, at the first wasm init.
   */
  wasmPaths?: string | Record<string, string>;
}

/** Refuses what is not one of the engines, naming `op`'s argument `engine`. @internal */
export function checkEngine(op: string, engine: unknown): asserts engine is TfjsEngine {
  if (engine !== 'wasm' && engine !== 'cpu' && engine !== 'webgl' && engine !== 'webgpu')
    argError(
      'INVALID_ARGUMENT',
      op,
      'engine',
      `must be 'wasm', 'cpu', 'webgl' or 'webgpu', got ${valueText(engine)}.`,
    );
}

/**
 * `options` of {@link initTfjsEngine} (or the backend's `wasmPaths`) read once into a copy:
 * `INVALID_TYPE` for options that are not an object or `wasmPaths` that is neither a string nor an
 * object of strings, `INVALID_ARGUMENT` for an option it does not take or a getter that throws.
 * @internal
 */
export function engineOptions(op: string, options: unknown, arg = 'options'): TfjsEngineOptions {
  checkOptionsObject(op, options, ['wasmPaths']);
  let paths: unknown;
  try {
    paths = (options as TfjsEngineOptions | undefined)?.wasmPaths;
    if (paths !== null && typeof paths === 'object' && !Array.isArray(paths)) paths = { ...paths };
  } catch (e) {
    throw argErrorOf('INVALID_ARGUMENT', op, arg, `threw while it was read: ${errorText(e)}`, e);
  }
  if (paths === undefined) return {};
  const strings =
    typeof paths === 'string' ||
    (paths !== null &&
      typeof paths === 'object' &&
      !Array.isArray(paths) &&
      Object.values(paths).every((v) => typeof v === 'string'));
  if (!strings)
    argError(
      'INVALID_TYPE',
      op,
      `${arg === 'options' ? 'options.' : ''}wasmPaths`,
      `must be a URL prefix or an object of file names to URLs (strings), got ${
        paths === null ? 'null' : Array.isArray(paths) ? 'an array' : typeof paths
      }.`,
    );
  return { wasmPaths: paths as string | Record<string, string> };
}

/** True in Node (the package's source is typed for browsers too, so no Node typings here). */
const isNode =
  typeof (globalThis as { process?: { versions?: { node?: unknown } } }).process?.versions?.node === 'string';

let tfPromise: Promise<Tfjs> | undefined;
let loaded: Tfjs | undefined;
const engineReady = new Map<TfjsEngine, Promise<Tfjs>>();

/** Loads tfjs-core once (dynamically, so a missing peer dependency fails init, not import). */
export function loadTfjs(): Promise<Tfjs> {
  tfPromise ??= import('@tensorflow/tfjs-core').then(
    (m) => m,
    (err) => {
      tfPromise = undefined;
      throw new Error(`@tensorflow/tfjs-core could not be loaded; install it (${reason(err)}).`);
    },
  );
  return tfPromise;
}

/** The loaded tfjs-core, or undefined before any engine was initialised. */
export function loadedTfjs(): Tfjs | undefined {
  return loaded;
}

let tail: Promise<unknown> = Promise.resolve();

/**
 * Runs `fn` when every earlier exclusive section has finished. Kernels and engine inits of all
 * tfjs-based backends share this one lock, so an `await` inside a kernel never lets another
 * backend switch the engine under it (tfjs would then move resident tensors between engines).
 */
export function exclusive<T>(fn: () => Promise<T>): Promise<T> {
  const run = tail.then(fn, fn);
  tail = run.then(
    () => undefined,
    () => undefined,
  );
  return run;
}

/**
 * Makes `engine` tfjs's active backend if something else changed it. Cheap when it is already
 * active (one string comparison). Call inside {@link exclusive}, after initialisation.
 */
export async function activate(tf: Tfjs, engine: TfjsEngine): Promise<void> {
  if (tf.getBackend() === engine) return;
  const ok = await tf.setBackend(engine);
  if (!ok || tf.getBackend() !== engine) {
    throw new Error(`tfjs could not switch back to its '${engine}' engine (now '${tf.getBackend()}').`);
  }
}

/**
 * Initialises a tfjs engine once and makes it the active backend; returns the tfjs-core namespace.
 *
 * The first call imports tfjs-core and the engine's package (`@tensorflow/tfjs-backend-<engine>`),
 * points tfjs-wasm at its binaries, then `setBackend(engine)` and `ready()`. A `false` from
 * `setBackend` (tfjs's way of saying init failed, after which it would silently run on another
 * engine) is turned into an error carrying tfjs's own reason. Concurrent calls share one init, and
 * inits of different engines never overlap (tfjs drops a pending init when another starts).
 *
 * Later calls are cheap and only switch the engine back if another one was made active since, so
 * a benchmark can call `await initTfjsEngine('wasm')` before timing tfjs used directly and be sure
 * it measures the engine it names, on the same tfjs instance the CosineKit backend uses.
 */
export async function initTfjsEngine(engine: TfjsEngine, options: TfjsEngineOptions = {}): Promise<Tfjs> {
  checkEngine('initTfjsEngine', engine);
  options = engineOptions('initTfjsEngine', options);
  let ready = engineReady.get(engine);
  if (!ready) {
    ready = exclusive(() => initOnce(engine, options));
    engineReady.set(engine, ready);
    // A failed init may be retried later (for example with other wasm paths).
    ready.catch(() => engineReady.delete(engine));
  }
  const tf = await ready;
  await exclusive(() => activate(tf, engine));
  return tf;
}

async function initOnce(engine: TfjsEngine, options: TfjsEngineOptions): Promise<Tfjs> {
  return engine === 'wasm'
    ? keepingProcessHandlers(() => initEngine(engine, options))
    : initEngine(engine, options);
}

/** The process-wide error events whose listeners tfjs-backend-wasm's Emscripten glue adds in Node. */
const PROCESS_EVENTS = ['uncaughtException', 'unhandledRejection'] as const;

/**
 * Runs `init`, then removes the `uncaughtException` and `unhandledRejection` listeners it added to
 * Node's process that rethrow: tfjs-backend-wasm's Emscripten glue adds two (`throw ex` unless it
 * is its own exit, `throw reason`), so after the engine started, any unrelated error or rejection
 * the application handled itself still ended the process (exit code 7). Only those two are removed
 * (see {@link emscriptenRethrow}): the application's own, added meanwhile, are left. Elsewhere
 * (browsers) `init` alone.
 */
async function keepingProcessHandlers<T>(init: () => Promise<T>): Promise<T> {
  const proc = (globalThis as { process?: NodeLikeProcess }).process;
  if (!isNode || typeof proc?.listeners !== 'function') return init();
  const before = PROCESS_EVENTS.map((e) => proc.listeners(e));
  try {
    return await init();
  } finally {
    PROCESS_EVENTS.forEach((e, i) => {
      for (const l of proc.listeners(e))
        if (!before[i].includes(l) && emscriptenRethrow(l)) proc.removeListener(e, l);
    });
  }
}

/**
 * Whether `l` is one of the Emscripten glue's rethrowing listeners: `function (ex) { if (!(ex
 * instanceof ExitStatus)) { throw ex; } }` or `function (reason) { throw reason; }` (one that does
 * nothing but rethrow its argument). An application's own listener added while the engine started
 * (one that logs, then throws, say) is left: removing every new listener that threw took those.
 */
function emscriptenRethrow(l: (...args: unknown[]) => unknown): boolean {
  const src = Function.prototype.toString.call(l).replace(/\s+/g, ' ');
  return (
    /^function \((\w+)\) \{ if \(!\(\1 instanceof ExitStatus\)\) \{ throw \1; \} \}$/.test(src) ||
    /^function \((\w+)\) \{ throw \1; \}$/.test(src)
  );
}

/** What {@link keepingProcessHandlers} uses of Node's `process`. */
interface NodeLikeProcess {
  listeners(event: string): ((...args: unknown[]) => unknown)[];
  removeListener(event: string, listener: (...args: unknown[]) => unknown): unknown;
}

async function initEngine(engine: TfjsEngine, options: TfjsEngineOptions): Promise<Tfjs> {
  const tf = await loadTfjs();
  loaded = tf;
  await importEngine(engine, options);
  if (!tf.findBackendFactory(engine)) {
    throw new Error(`tfjs has no '${engine}' engine registered after importing its package.`);
  }
  if (engine === 'wasm') {
    // tfjs-wasm's threaded build (picked on cross-origin-isolated pages) hangs at init once a
    // bundler minifies it (its worker references a renamed global); Node never uses it. One
    // thread everywhere keeps init reliable and figures comparable.
    try {
      tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    } catch {
      // A tfjs without the flag has no threaded build to avoid.
    }
  }
  const warnings: string[] = [];
  const ok = await captureWarnings(warnings, () => tf.setBackend(engine));
  if (!ok) {
    const why = summarise(warnings, engine);
    throw new Error(`tfjs could not initialise its '${engine}' engine: ${why}`);
  }
  await tf.ready();
  if (tf.getBackend() !== engine) {
    throw new Error(`tfjs runs '${tf.getBackend()}' although '${engine}' was asked for.`);
  }
  return tf;
}

async function importEngine(engine: TfjsEngine, options: TfjsEngineOptions): Promise<void> {
  try {
    if (engine === 'cpu') {
      await import('@tensorflow/tfjs-backend-cpu');
    } else if (engine === 'webgl') {
      await import('@tensorflow/tfjs-backend-webgl');
    } else if (engine === 'webgpu') {
      // Needs navigator.gpu: a browser with WebGPU, or in Node a global navigator whose gpu is Dawn's.
      await import('@tensorflow/tfjs-backend-webgpu');
    } else {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      const paths = options.wasmPaths ?? (isNode ? await nodeWasmDir() : undefined);
      if (paths !== undefined) setPathsUnlessInitialised(wasm.setWasmPaths, paths);
    }
  } catch (err) {
    throw new Error(`@tensorflow/tfjs-backend-${engine} could not be loaded; install it (${reason(err)}).`);
  }
}

/** tfjs-wasm throws from setWasmPaths once it is initialised (by its own user, say); keep that engine. */
function setPathsUnlessInitialised(
  set: (paths: string | Record<string, string>) => void,
  paths: string | Record<string, string>,
): void {
  try {
    set(paths);
  } catch (err) {
    if (!/already initialized/i.test(reason(err))) throw err;
  }
}

/**
 * The `dist/` directory of tfjs-backend-wasm. Its Node build would find the binaries next to
 * itself anyway (emscripten reads them with `fs` from `__dirname`), but naming the directory
 * keeps that working when the JavaScript is bundled away from node_modules.
 */
async function nodeWasmDir(): Promise<string> {
  // Kept out of sight of bundlers: this branch only runs in Node.
  const moduleId = 'node:module';
  const pathId = 'node:path';
  const { createRequire } = (await import(/* @vite-ignore */ moduleId)) as {
    createRequire(from: string): { resolve(id: string): string };
  };
  const { dirname, sep } = (await import(/* @vite-ignore */ pathId)) as {
    dirname(p: string): string;
    sep: string;
  };
  const main = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm');
  return dirname(main) + sep;
}

/** Runs `fn` while collecting what tfjs logs with console.warn (where it reports init failures). */
async function captureWarnings<T>(into: string[], fn: () => Promise<T>): Promise<T> {
  const original = console.warn;
  console.warn = (...args: unknown[]) => {
    into.push(args.map((a) => errorText(a)).join(' '));
    original.apply(console, args);
  };
  try {
    return await fn();
  } finally {
    console.warn = original;
  }
}

/** tfjs's warnings as one line: first line of each (no stacks), duplicates and its preamble dropped. */
function summarise(warnings: readonly string[], engine: TfjsEngine): string {
  const lines = new Set<string>();
  for (const w of warnings) {
    const first = w.split('\n')[0].trim();
    if (first !== '' && first !== `Initialization of backend ${engine} failed`) lines.add(first);
  }
  const text = [...lines].join('; ');
  if (text === '') return 'tfjs gave no reason';
  return text.length > 400 ? `${text.slice(0, 400)}...` : text;
}

function reason(err: unknown): string {
  return errorText(err);
}
