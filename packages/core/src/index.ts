/**
 * @cosinekit/core: exact, fast cosine similarity for TypeScript.
 *
 * The everyday call is {@link cosine}; batched work goes through a kit bound to a backend
 * ({@link createCosineKit}, or the default {@link cosinekit}).
 */

export { checkFinite, checkK, checkOut, checkSameCols, checkSameShape } from './check.js';
export type {
  Activation,
  Awaitable,
  Backend,
  BackendFactory,
  BackendMemory,
  CorpusOptions,
  CorpusStorage,
  KernelName,
  Kernels,
  Matrix,
  ResidentCorpus,
  TopKResult,
} from './contract.js';
export { ACTIVATIONS, CORPUS_KERNELS, KERNEL_NAMES } from './contract.js';
export type { CorpusCreateOptions, Id } from './corpus.js';
export { Corpus } from './corpus.js';
export type { CorpusFile } from './corpus-file.js';
export { CORPUS_FORMAT_VERSION, CORPUS_MAGIC, decodeCorpusFile, encodeCorpusFile } from './corpus-file.js';
export { crc32 } from './crc32.js';
export type { ErrorCode } from './errors.js';
export { argError, CosineKitError, isCosineKitError } from './errors.js';
export { activate, activateDerivative } from './kernels/activation.js';
export { clampCos, dot64, dotTiles, normalizedF64, stageRows } from './kernels/blocked-dot.js';
export { fromHalf, toHalf } from './kernels/half.js';
export { matmulDims } from './kernels/matmul.js';
export { cosineOf } from './kernels/pair.js';
export { TopKSelector } from './kernels/top-k-selector.js';
export type { CosineKit, CosineKitOptions, KitInfo } from './kit.js';
export { createCosineKit } from './kit.js';
export type { Vector } from './pair.js';
export { cosine, cosineDistance, normalize } from './pair.js';
export { createReferenceBackend, referenceKernels } from './reference.js';
export type { BackendState, BackendStatus } from './registry.js';
export {
  disposeBackends,
  getBackend,
  listBackends,
  REFERENCE_PRIORITY,
  registerBackend,
  unregisterBackend,
} from './registry.js';
export type { ResolvedKernels } from './resolve.js';
export { resolveKernels } from './resolve.js';
export type { Prepared } from './scale.js';
export { prepareRows } from './scale.js';
export type { Hits } from './search-result.js';
export { SearchResult } from './search-result.js';
export type { TensorInput } from './tensor.js';
export { describeType, Tensor, tensor, toTensor } from './tensor.js';

import { createCosineKit } from './kit.js';

/** The default kit: the best available registered backend, initialised on first use. */
export const cosinekit = createCosineKit();
