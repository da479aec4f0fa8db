import { type CosineKit, Tensor } from '@cosinekit/core';
import {
  adam,
  createEncoder,
  type Encoder,
  evaluateRetrieval,
  inBatchSampler,
  type LabelledData,
  multipleNegativesRankingLoss,
  type TrainCallbacks,
  type TrainResult,
  train,
} from '@cosinekit/nn';

/** What a run trains and how. */
export interface ExperimentOptions {
  /** Hidden layer width (relu). */
  hidden: number;
  /** Embedding width. */
  dim: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  /** Neighbours of the k-NN vote. */
  k: number;
  /** Early-stopping patience on the validation k-NN accuracy; 0 disables it. */
  patience: number;
  /** Label of the progress line, or false for none. */
  progress: string | false;
}

/** Retrieval quality of held-out digits against the training digits. */
export interface Quality {
  /** Majority vote of the k nearest training digits. */
  readonly knnAccuracy: number;
  /** Share of held-out digits whose nearest training digit has their class. */
  readonly recallAt1: number;
}

const asTensor = (d: LabelledData): Tensor => new Tensor(d.x, d.rows, d.cols);

/** Cosine retrieval quality of `queries` against `corpus`, as given (raw pixels or embeddings). */
export async function retrievalQuality(
  kit: CosineKit,
  queries: Tensor,
  queryLabels: ArrayLike<number>,
  corpus: Tensor,
  corpusLabels: ArrayLike<number>,
  k: number,
): Promise<Quality> {
  const set = { queries, queryLabels, corpus, corpusLabels };
  const knn = await evaluateRetrieval(kit, set, k);
  const one = k === 1 ? knn : await evaluateRetrieval(kit, set, 1);
  return { knnAccuracy: knn.knnAccuracy, recallAt1: one.recall };
}

/** Cosine k-NN on raw pixels: the baseline the learned embedding has to beat. */
export function rawQuality(
  kit: CosineKit,
  train: LabelledData,
  test: LabelledData,
  k: number,
): Promise<Quality> {
  return retrievalQuality(kit, asTensor(test), test.labels, asTensor(train), train.labels, k);
}

/** Cosine k-NN on the encoder's embeddings of the same digits. */
export async function embeddingQuality(
  kit: CosineKit,
  encoder: Encoder,
  train: LabelledData,
  test: LabelledData,
  k: number,
): Promise<Quality> {
  const corpus = await encoder.embed(kit, asTensor(train));
  const queries = await encoder.embed(kit, asTensor(test));
  return retrievalQuality(kit, queries, test.labels, corpus, train.labels, k);
}

/**
 * Trains a `784 -> hidden (relu) -> dim` encoder with normalised output, using the
 * multiple-negatives ranking loss on in-batch negatives (same-digit rows are not negatives), Adam,
 * and early stopping on the k-NN accuracy of the validation digits.
 */
export async function trainDigitEncoder(
  kit: CosineKit,
  data: { train: LabelledData; validation?: LabelledData },
  options: ExperimentOptions,
  callbacks: TrainCallbacks[] = [],
): Promise<{ encoder: Encoder; result: TrainResult }> {
  const encoder = createEncoder({
    inputs: data.train.cols,
    layers: [{ units: options.hidden, activation: 'relu' }, { units: options.dim }],
    normalize: true,
    seed: options.seed,
  });
  const { validation } = data;
  const result = await train({
    kernels: kit,
    encoder,
    loss: multipleNegativesRankingLoss(),
    sampler: inBatchSampler(data.train, { batchSize: options.batchSize }),
    optimizer: adam({ learningRate: options.learningRate }),
    epochs: options.epochs,
    seed: options.seed,
    ...(validation
      ? {
          validate: async (enc: Encoder) =>
            (await embeddingQuality(kit, enc, data.train, validation, options.k)).knnAccuracy,
          ...(options.patience > 0 ? { earlyStopping: { patience: options.patience } } : {}),
        }
      : {}),
    callbacks,
    progress: options.progress,
  });
  return { encoder, result };
}
