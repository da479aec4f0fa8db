/**
 * @cosinekit/core: exact, fast cosine similarity for TypeScript.
 *
 * The everyday call is {@link cosine}; batched work goes through a kit bound to a backend
 * ({@link createCosineKit}, or the default {@link cosinekit}). This entry holds what users call;
 * backend authors import the contract and its helpers from `@cosinekit/core/backend`.
 *
 * @module @cosinekit/core
 */

export type {
  Backend,
  CorpusOptions,
  CorpusStorage,
  KernelName,
  Kernels,
  Matrix,
  OptimizerKind,
  OptimizerRule,
  OptimizerState,
  TopKResult,
} from './contract.js';
export type { CorpusCreateOptions, Id } from './corpus.js';
export { Corpus } from './corpus.js';
export type { ErrorCode } from './errors.js';
export { CosineKitError, isCosineKitError } from './errors.js';
export type { SearchFilter, SearchOptions } from './filter.js';
export type { CorpusChunk, CorpusFromOptions, CosineKit, CosineKitOptions, KitInfo } from './kit.js';
export { createCosineKit } from './kit.js';
export type { MatrixOptions } from './out.js';
export type { Vector } from './pair.js';
export { cosine, cosineDistance, normalize } from './pair.js';
export type { BackendState, BackendStatus } from './registry.js';
export { disposeBackends, listBackends } from './registry.js';
export type { Hits } from './search-result.js';
export { SearchResult } from './search-result.js';
export type { TensorInput } from './tensor.js';
export { Tensor, tensor } from './tensor.js';

import { createCosineKit } from './kit.js';

/** The default kit: the best available registered backend, initialised on first use. */
export const cosinekit = createCosineKit();
