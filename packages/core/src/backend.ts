/**
 * @cosinekit/core/backend: what a backend author needs, and nothing a user calls.
 *
 * The contract (types and kernel names), the registry's plumbing, the reference kernels to fall
 * back on or compare with, the argument checks that name the argument and the operation, the
 * running top-k selection, the clamp every cosine kernel applies, shape helpers for `matmul`, the
 * activations, and the corpus file codec.
 *
 * @module @cosinekit/core/backend
 */

export {
  checkK,
  checkKernelName,
  checkOptionsObject,
  checkSameCols,
  checkSameShape,
  extraArgument,
  ownOptions,
  refuseUnknownOptions,
} from './check.js';
export type {
  Activation,
  Awaitable,
  Backend,
  BackendFactory,
  BackendMemory,
  CorpusOptions,
  CorpusStorage,
  DenseKernelName,
  KernelName,
  Kernels,
  Matrix,
  OptimizerKind,
  OptimizerRule,
  OptimizerState,
  OptionalKernelName,
  ResidentCorpus,
  SelfCheckedKernelName,
  SoftmaxCrossEntropy,
  StoredCorpus,
  TopKResult,
  UngatedKernelName,
} from './contract.js';
export {
  ACTIVATIONS,
  CORPUS_KERNELS,
  DEFAULT_INT8_RERANK,
  KERNEL_NAMES,
  OPTIMIZER_KERNELS,
  optimizerCoefficients,
  resolveCorpusOptions,
} from './contract.js';
export type { CorpusFile, EncodeCorpusFileOptions } from './corpus-file.js';
export {
  CORPUS_FORMAT_VERSION,
  CORPUS_MAGIC,
  CORPUS_OLDEST_VERSION,
  decodeCorpusFile,
  encodeCorpusFile,
} from './corpus-file.js';
export { crc32 } from './crc32.js';
export type { ErrorCode } from './errors.js';
export {
  argError,
  argErrorOf,
  backendError,
  CosineKitError,
  checkSignal,
  disposedBackend,
  errorText,
  foreignCorpus,
  isAllocationFailure,
  isArrayArg,
  isCosineKitError,
  orAbort,
  reading,
} from './errors.js';
export type { Admitted } from './gate.js';
export { admit, admitPair, checkFinite, isAdmitted } from './gate.js';
export { isCheckedKernelTable } from './guard.js';
export { activate, activateDerivative } from './kernels/activation.js';
export { checkColumnSums, columnSums } from './kernels/column-sums.js';
export { clampCos, cosineFrom } from './kernels/cosine-rule.js';
export { matmulDims } from './kernels/matmul.js';
export { checkSoftmaxArgs, exp32, log32 } from './kernels/softmax.js';
export { pickRows, throughTies } from './kernels/through-ties.js';
export { TopKSelector } from './kernels/top-k-selector.js';
export { createReferenceBackend, referenceKernels } from './reference.js';
export { getBackend, REFERENCE_PRIORITY, registerBackend, unregisterBackend } from './registry.js';
export type { ResolvedKernels } from './resolve.js';
export { declareKernels, resolveKernels } from './resolve.js';
export { MAX_ORDINAL } from './stored.js';
export {
  attached,
  beyondFloat32,
  describeType,
  matrixArg,
  refuseFakeView,
  toTensor,
  valueText,
  viewArg,
} from './tensor.js';
