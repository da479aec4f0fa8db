/**
 * CosineKit's WebAssembly kernels: the module's exports, by topic. Every function works on byte
 * addresses in linear memory that the JS side allocates (`--runtime stub`: this module never
 * allocates). Rows handed to the dot-product engine are padded with zeros to a multiple of 4
 * floats so each step is one v128. The JS side's types of these exports are generated from this
 * module by scripts/exports.mjs.
 */

export { cosineRows, pairCosine, vectorCosine, vectorPrepare } from './cosine';
export { countAllowed, gatherI8, gatherRows } from './filtered';

import { blockAreaEnd } from './generated/tiles';

export { allFinite } from './finite';
export { dotsBlockedWith, dotsWith, rowsStreams, streamLongWith } from './generated/tiles';
export { decodeHalves, dotsHalfWith, gatherHalves, packHalves, panelHalves, unpanelHalves } from './half';
export { pack, packTransposed, unpack } from './layout';
export { dotsLongWith } from './long';
export { activation, activationGrad, addBias, columnSums } from './nn';
export { normalizeRows, rowNorms } from './norms';
export { adamStep, sgdStep } from './optimizer';
export { dequantizeRows, dotsI8, dotsI8Batch, quantizeRows, rowDots } from './quantized';
export {
  heapOffer,
  heapsOffer,
  heapsReset,
  heapsSort,
  poolOffer,
  poolsOffer,
  poolsReset,
  poolsSort,
} from './select';
export { softmaxCrossEntropy } from './softmax';
export { addRows, clampRows, spanSteps } from './spans';
export { compressColumns, compressRows, countColumns, sparseProduct } from './sparse';

/** First byte free for the JS allocator: above the static data and the engine's per-thread scratch. */
export function heapBase(): usize {
  return blockAreaEnd();
}

/** 1 when this binary uses relaxed SIMD, else 0. */
export function relaxed(): i32 {
  return ASC_FEATURE_RELAXED_SIMD ? 1 : 0;
}
