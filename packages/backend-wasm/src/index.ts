/**
 * @cosinekit/backend-wasm: CosineKit's kernels as WebAssembly SIMD (AssemblyScript), in Node and
 * browsers. Side-effect free; import `@cosinekit/backend-wasm/register` to register it as `'wasm'`.
 *
 * ```ts
 * import { createWasmBackend } from '@cosinekit/backend-wasm';
 * const backend = createWasmBackend();
 * await backend.init();
 * ```
 */

export type { WasmBackend, WasmBackendInfo, WasmBackendOptions } from './backend.js';
export { createWasmBackend } from './backend.js';
export type { WasmCorpusStorage } from './kernels/corpus.js';
export { WasmCorpus } from './kernels/corpus.js';
export type { WasmKernels } from './kernels/index.js';
export { WasmOptimizerState } from './kernels/optimizer.js';
export type { WasmSource, WasmVariant } from './loader.js';
export { relaxedSupported, simdSupported } from './loader.js';
export type { WasmPair, WasmPairOptions } from './pair.js';
export { createWasmPair } from './pair.js';
export type { WasmShardInfo } from './shards.js';
export type { RowSource } from './staging.js';
export type { EngineTuning, Tile } from './tuning.js';
export { DEFAULT_TUNING, TILES } from './tuning.js';
export { WasmVector } from './vector.js';
