/**
 * @cosinekit/nn: Deep Learning with Cosine Similarity on any CosineKit backend. Train an encoder
 * with a cosine loss, then score inputs by the cosine of their embeddings.
 */

export type { CosineClassifierOptions, MarginLossOptions, NormFaceLossOptions } from './classifier.js';
export {
  arcFaceLoss,
  CosineClassifier,
  classificationAccuracy,
  cosFaceLoss,
  createCosineClassifier,
  normFaceLoss,
} from './classifier.js';
export type { Conv2dSpec, ConvGeometry, FlattenSpec, Pool2dSpec, Shape3 } from './conv.js';
export { Conv2dLayer, FlattenLayer, Pool2dLayer } from './conv.js';
export type { EncoderCache, EncoderGrads, EncoderOptions, KernelSource, LayerSpec } from './encoder.js';
export { createEncoder, Encoder, kernelsOf } from './encoder.js';
export type {
  PairAccuracy,
  RetrievalOptions,
  RetrievalReport,
  RetrievalSet,
  SearchableCorpus,
} from './evaluate.js';
export { evaluateRetrieval, knnAccuracy, pairAccuracy, recallAtK, rocAuc, spearman } from './evaluate.js';
export { CosineHead, createCosineHead } from './head.js';
export type { EncoderHeader, SavedLayer } from './io.js';
export {
  ENCODER_FORMAT_VERSION,
  ENCODER_MAGIC,
  loadEncoder,
  MAX_SAVED_LAYERS,
  MAX_SAVED_WEIGHT,
  readEncoderHeader,
  saveEncoder,
} from './io.js';
export type { SavedLayerGeometry } from './layer-io.js';
export type {
  DenseCache,
  DenseGrads,
  DenseSpec,
  Init,
  Layer,
  LayerCache,
  LayerGrads,
  LayerKind,
} from './layers.js';
export { DenseLayer } from './layers.js';
export type { ContrastiveLossOptions } from './losses/contrastive.js';
export { contrastiveLoss } from './losses/contrastive.js';
export type { CosineEmbeddingLossOptions } from './losses/cosine-embedding.js';
export { cosineEmbeddingLoss } from './losses/cosine-embedding.js';
export type { Loss, LossInput, LossResult, Sampling } from './losses/loss.js';
export { mseSimilarityLoss } from './losses/mse.js';
export type { MultipleNegativesRankingLossOptions } from './losses/multiple-negatives.js';
export { multipleNegativesRankingLoss } from './losses/multiple-negatives.js';
export { pairCosineLoss } from './losses/pair-cosine.js';
export type { NormalizedRows } from './normalize.js';
export { normalizeRowsBackward, normalizeRowsForward } from './normalize.js';
export type { DenseOps, KernelOpsOptions, Precision, Vec } from './ops.js';
export { float64Ops, kernelOps } from './ops.js';
export type { AdamOptions, LearningRate, Optimizer, SgdOptions } from './optimisers.js';
export { adam, cosineSchedule, sgd } from './optimisers.js';
export type { ProgressOptions, ProgressStream } from './progress.js';
export { progressCallbacks } from './progress.js';
export type { Rng } from './rng.js';
export { createRng } from './rng.js';
export type {
  Augment,
  Batch,
  LabelledData,
  PairData,
  PairSamplerOptions,
  RandomShiftOptions,
  Sampler,
  SamplerOptions,
} from './sampling.js';
export {
  fixedPairSampler,
  inBatchSampler,
  labelledSampler,
  pairSampler,
  randomShift,
  tripletSampler,
} from './sampling.js';
export type {
  BatchInfo,
  EarlyStopping,
  EpochInfo,
  TrainCallbacks,
  TrainOptions,
  TrainResult,
} from './train.js';
export { train } from './train.js';
