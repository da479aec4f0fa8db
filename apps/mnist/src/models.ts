import type { CosineKit } from '@cosinekit/core';
import { Tensor } from '@cosinekit/core';
import {
  adam,
  type CosineClassifier,
  cosFaceLoss,
  cosineSchedule,
  createCosineClassifier,
  createEncoder,
  type Encoder,
  evaluateRetrieval,
  inBatchSampler,
  type LabelledData,
  type LayerSpec,
  labelledSampler,
  multipleNegativesRankingLoss,
  randomShift,
  type TrainResult,
  train,
} from '@cosinekit/nn';

/** The three models `pnpm mnist` compares. */
export type ModelKind = 'mlp' | 'cnn' | 'classifier';

/** Options shared by the three recipes. */
export interface RecipeOptions {
  epochs: number;
  batchSize: number;
  /** Adam's learning rate: the constant rate, or the cosine schedule's peak. */
  learningRate: number;
  /**
   * `'cosine'`: a linear warm-up over the first epoch to `learningRate`, then a cosine decay to 0
   * by the last step (`cosineSchedule`); `'constant'`: `learningRate` throughout. Defaults to
   * `'constant'`.
   */
  schedule?: 'cosine' | 'constant';
  seed: number;
  /** Largest random shift in pixels for the CNN recipes (0: none). */
  shift: number;
  /** Progress label, or false. */
  progress: string | false;
}

/** What one model reached. */
export interface ModelReport {
  readonly kind: ModelKind;
  readonly description: string;
  /** Cosine 1-NN accuracy of held-out embeddings against the training embeddings. */
  readonly nearestNeighbour: number;
  /** The cosine classifier's accuracy (classifier recipe only). */
  readonly classifierAccuracy?: number;
  /** Mean wall-clock seconds per training epoch. */
  readonly secondsPerEpoch: number;
  readonly finalLoss: number;
  readonly encoder: Encoder;
  readonly classifier?: CosineClassifier;
  readonly result: TrainResult;
}

/** A small CNN: two 3x3 convolutions with 2x2 max pooling, then two dense layers. */
export const cnnLayers: readonly LayerSpec[] = [
  { type: 'conv2d', filters: 16, kernel: 3, padding: 'same', activation: 'relu' },
  { type: 'maxPool2d', size: 2 },
  { type: 'conv2d', filters: 32, kernel: 3, padding: 'same', activation: 'relu' },
  { type: 'maxPool2d', size: 2 },
  { type: 'flatten' },
  { units: 128, activation: 'relu' },
  { units: 64 },
];

const DESCRIPTIONS: Record<ModelKind, string> = {
  mlp: 'MLP 784-256-64, InfoNCE',
  cnn: 'CNN, InfoNCE',
  classifier: 'CNN + cosine classifier (CosFace)',
};

/** Cosine 1-NN accuracy of `test` against `train` through `encoder`. */
export async function nearestNeighbourAccuracy(
  kit: CosineKit,
  encoder: Encoder,
  trainSet: LabelledData,
  test: LabelledData,
): Promise<number> {
  const corpus = await encoder.embed(kit, new Tensor(trainSet.x, trainSet.rows, trainSet.cols));
  const queries = await encoder.embed(kit, new Tensor(test.x, test.rows, test.cols));
  const r = await evaluateRetrieval(
    kit,
    { queries, queryLabels: test.labels, corpus, corpusLabels: trainSet.labels },
    1,
  );
  return r.knnAccuracy;
}

/**
 * Trains one recipe on `trainSet` and measures it on `test`.
 * - mlp: 784 -> 256 (relu) -> 64, normalised; InfoNCE (scale 20, same-digit rows masked), no augmentation.
 * - cnn: {@link cnnLayers}, normalised; the same loss; random shifts of up to `shift` pixels.
 * - classifier: the same CNN with a cosine classifier head over 10 digits, CosFace (scale 30,
 *   margin 0.35), random shifts.
 * All: Adam (constant, or on a cosine schedule: {@link RecipeOptions.schedule}), batches of
 * `batchSize` (pairs or digits), the last partial batch dropped.
 */
export async function trainModel(
  kit: CosineKit,
  kind: ModelKind,
  trainSet: LabelledData,
  test: LabelledData,
  options: RecipeOptions,
): Promise<ModelReport> {
  const cnn = kind !== 'mlp';
  const encoder = createEncoder({
    inputs: 784,
    ...(cnn
      ? { inputShape: [28, 28, 1] as const, layers: cnnLayers }
      : { layers: [{ units: 256, activation: 'relu' }, { units: 64 }] }),
    normalize: true,
    seed: options.seed,
  });
  const augment =
    cnn && options.shift > 0 ? randomShift({ width: 28, height: 28, max: options.shift }) : undefined;
  const samplerOptions = { batchSize: options.batchSize, dropLast: true, ...(augment ? { augment } : {}) };
  const classifier =
    kind === 'classifier' ? createCosineClassifier({ classes: 10, dim: 64, seed: options.seed }) : undefined;
  // Full batches only (dropLast), so an epoch is floor(rows / batch) steps.
  const stepsPerEpoch = Math.floor(trainSet.rows / options.batchSize);
  const rate =
    options.schedule === 'cosine'
      ? cosineSchedule(options.learningRate, stepsPerEpoch * options.epochs, stepsPerEpoch)
      : options.learningRate;
  const result = await train({
    kernels: kit,
    encoder,
    loss: classifier
      ? cosFaceLoss(classifier, { scale: 30, margin: 0.35 })
      : multipleNegativesRankingLoss({ scale: 20 }),
    sampler: classifier
      ? labelledSampler(trainSet, samplerOptions)
      : inBatchSampler(trainSet, samplerOptions),
    optimizer: adam({ learningRate: rate }),
    epochs: options.epochs,
    seed: options.seed,
    progress: options.progress,
  });
  const history = result.history;
  const nearestNeighbour = await nearestNeighbourAccuracy(kit, encoder, trainSet, test);
  const classifierAccuracy = classifier
    ? await classifier.accuracy(kit, encoder, new Tensor(test.x, test.rows, test.cols), test.labels)
    : undefined;
  return {
    kind,
    description: DESCRIPTIONS[kind],
    nearestNeighbour,
    ...(classifierAccuracy === undefined ? {} : { classifierAccuracy }),
    secondsPerEpoch: history.reduce((s, h) => s + h.seconds, 0) / history.length,
    finalLoss: history[history.length - 1].loss,
    encoder,
    ...(classifier ? { classifier } : {}),
    result,
  };
}
