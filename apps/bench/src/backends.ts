import type { Backend } from '@cosinekit/core';
import { createReferenceBackend } from '@cosinekit/core/backend';

/** Loads a package by name. Node passes `(s) => import(s)`; the browser passes a table of literal imports. */
export type ModuleLoader = (specifier: string) => Promise<Record<string, unknown>>;

/** A backend the bench can try to construct. */
export interface BackendSource {
  readonly id: string;
  /** Where it comes from, for messages: a package and its factory. */
  readonly origin: string;
  /** Constructs the backend (not yet initialised); throws when its package or factory is missing. */
  create(): Promise<Backend>;
}

/** Options that shape how backends are constructed. */
export interface BackendOptions {
  /** Threads for the wasm backend (passed through; the backend decides what it supports). */
  readonly threads?: number;
  /** Where tfjs-backend-wasm finds its binaries (browsers; Node finds them itself). */
  readonly tfjsWasmPaths?: string | Record<string, string>;
  /** The wasm backend's engine tuning (tile, blockBytes, threadMinFlops, threadMinFlopsI8), for tuning runs. */
  readonly wasmTuning?: Readonly<Record<string, string | number>>;
  /** The wasm backend's limit per wasm instance (`shardBytes`): small values force many instances. */
  readonly wasmShardBytes?: number;
}

/**
 * Backend ids the bench knows, with the engine or mode each selects. Any wasm id takes a thread
 * count after `@` (`wasm@1`, `wasm-relaxed@2`); without one the backend picks (one per core).
 * `pgvector` is PGlite in memory, exact; `pgvector-hnsw` searches an HNSW index (m=16,
 * ef_construction=64), with ef_search after `@` (`pgvector-hnsw@100`; default 40).
 */
export const KNOWN_BACKENDS = [
  'reference',
  'wasm',
  'wasm@1',
  'wasm-simd',
  'wasm-relaxed',
  'tfjs-wasm',
  'tfjs-cpu',
  'tfjs-webgl',
  'tfjs-webgpu',
  'webgpu',
  'gpujs',
  'gpujs-webgl2',
  'gpujs-webgl',
  'gpujs-headlessgl',
  'gpujs-webasm',
  'gpujs-cpu',
  'pgvector',
  'pgvector-hnsw',
] as const;

/** The gpu.js modes an id may name (`gpujs-<mode>`); plain `gpujs` lets the backend pick. */
const GPUJS_MODES = ['webgl2', 'webgl', 'headlessgl', 'webasm', 'cpu'];

/** True when the bench knows how to construct backend `id` (a known id, a wasm one with `@<threads>`). */
export function isKnownBackend(id: string): boolean {
  const gpu = /^gpujs(?:-(\w+))?$/.exec(id);
  return (
    id === 'reference' ||
    id === 'webgpu' ||
    /^wasm(?:-(simd|relaxed))?(?:@[1-9]\d*)?$/.test(id) ||
    tfjsEngineOf(id) !== undefined ||
    (gpu !== null && (gpu[1] === undefined || GPUJS_MODES.includes(gpu[1]))) ||
    /^pgvector(?:-hnsw(?:@[1-9]\d*)?)?$/.test(id)
  );
}

/** The known backend ids, as a usage message lists them. */
export const KNOWN_BACKENDS_TEXT = `${KNOWN_BACKENDS.join(', ')} (any wasm id takes @<threads>, pgvector-hnsw @<ef_search>)`;

/** The tfjs engine a backend id selects, if it is a tfjs one. */
export function tfjsEngineOf(id: string): 'wasm' | 'cpu' | 'webgl' | 'webgpu' | undefined {
  const m = /^tfjs-(wasm|cpu|webgl|webgpu)$/.exec(id);
  return m ? (m[1] as 'wasm' | 'cpu' | 'webgl' | 'webgpu') : undefined;
}

/**
 * How to construct backend `id`: the package to load, the factory it exports and its options.
 * Packages are loaded lazily, so a package that is missing, unbuilt or broken only makes its own
 * backend "not available".
 */
export function backendSource(id: string, load: ModuleLoader, options: BackendOptions = {}): BackendSource {
  if (id === 'reference') {
    return {
      id,
      origin: '@cosinekit/core createReferenceBackend()',
      create: async () => createReferenceBackend(),
    };
  }
  let pkg: string;
  let factory: string;
  let args: Record<string, unknown>;
  const engine = tfjsEngineOf(id);
  const gpu = /^gpujs(?:-(\w+))?$/.exec(id);
  const wasm = /^wasm(?:-(simd|relaxed))?(?:@(\d+))?$/.exec(id);
  const pgv = /^pgvector(-hnsw(?:@(\d+))?)?$/.exec(id);
  if (!isKnownBackend(id)) {
    return {
      id,
      origin: 'unknown',
      create: () => Promise.reject(new Error(`unknown backend id (known: ${KNOWN_BACKENDS_TEXT})`)),
    };
  }
  if (wasm) {
    pkg = '@cosinekit/backend-wasm';
    factory = 'createWasmBackend';
    // `wasm@1`, `wasm-relaxed@2`: threads in the id win over --threads.
    const threads = wasm[2] !== undefined ? Number(wasm[2]) : options.threads;
    args = {
      ...(wasm[1] ? { variant: wasm[1] } : {}),
      ...(threads !== undefined ? { threads } : {}),
      ...(options.wasmTuning ? { tuning: { ...options.wasmTuning } } : {}),
      ...(options.wasmShardBytes !== undefined ? { shardBytes: options.wasmShardBytes } : {}),
    };
  } else if (engine) {
    pkg = '@cosinekit/backend-tfjs';
    factory = 'createTfjsBackend';
    args = options.tfjsWasmPaths !== undefined ? { engine, wasmPaths: options.tfjsWasmPaths } : { engine };
  } else if (id === 'webgpu') {
    pkg = '@cosinekit/backend-webgpu';
    factory = 'createWebGpuBackend';
    args = {};
  } else if (gpu) {
    pkg = '@cosinekit/backend-gpujs';
    factory = 'createGpujsBackend';
    args = gpu[1] ? { mode: gpu[1] } : {};
  } else if (pgv) {
    pkg = '@cosinekit/backend-pgvector';
    factory = 'createPgvectorBackend';
    args = pgv[1] ? { hnsw: { m: 16, efConstruction: 64, efSearch: Number(pgv[2] ?? 40) } } : {};
  } else {
    return {
      id,
      origin: 'unknown',
      create: () => Promise.reject(new Error(`unknown backend id (known: ${KNOWN_BACKENDS_TEXT})`)),
    };
  }
  const shown = { ...args, ...(args.wasmPaths ? { wasmPaths: '...' } : {}) };
  const origin = `${pkg} ${factory}(${JSON.stringify(shown)})`;
  return {
    id,
    origin,
    async create() {
      let mod: Record<string, unknown>;
      try {
        mod = await load(pkg);
      } catch (err) {
        throw new Error(`package ${pkg} did not load: ${firstLine(err)}`);
      }
      const make = mod[factory];
      if (typeof make !== 'function') throw new Error(`${pkg} does not export ${factory}() yet`);
      const backend = (await make(args)) as Backend;
      if (!backend || typeof backend.name !== 'string' || typeof backend.kernels !== 'object') {
        throw new Error(`${pkg} ${factory}() did not return a Backend`);
      }
      return backend;
    },
  };
}

/** The first line of an error's message, with the common "not built yet" case said plainly. */
export function firstLine(err: unknown): string {
  const msg = (err instanceof Error ? err.message : String(err)).split('\n')[0];
  const missing = /Cannot find module '([^']+)'/.exec(msg);
  if (missing && /[\\/]dist[\\/]/.test(missing[1])) {
    return msg
      .replace(missing[0], `not built (${missing[1].replace(/^.*[\\/](dist[\\/].*)$/, '$1')} missing)`)
      .replace(/ imported from .*$/, '');
  }
  return msg;
}
