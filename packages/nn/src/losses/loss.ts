import type { Awaitable } from '@cosinekit/core/backend';
import type { DenseOps, Vec } from '../ops.js';

/**
 * What a loss sees: two `rows x cols` blocks of embeddings, row i of `a` paired with row i of `b`,
 * plus per-pair targets (labels or target similarities) and, for in-batch losses, group ids and
 * optionally a third block of hard negatives (triplets).
 */
export interface LossInput {
  readonly a: Vec;
  readonly b: Vec;
  readonly rows: number;
  readonly cols: number;
  /** Per pair: a label (> 0 similar, <= 0 dissimilar) or a target similarity, depending on the loss. */
  readonly targets?: ArrayLike<number>;
  /** Per row: a group (class) id; in-batch losses drop other rows of the same group as negatives. */
  readonly groups?: ArrayLike<number>;
  /** Triplets: a hard negative for each anchor, `rows x cols` (in-batch losses only). */
  readonly negatives?: Vec;
  /** The group of each hard negative; needed with `negatives` when `groups` are given. */
  readonly negativeGroups?: ArrayLike<number>;
  /** Per row of `a`: its class, `0 <= label < classes` (classifier losses; `b` is then empty). */
  readonly labels?: ArrayLike<number>;
  /**
   * True when the rows of `a`, `b` and `negatives` are already unit vectors (or zero), as the
   * output of an encoder created with `normalize: true` is: the cosine losses then take their dot
   * products as the cosines instead of normalising the rows again, and return gradients whose
   * component along each row is not meaningful (the caller projects it out, as the encoder's
   * normalisation backward does). `train` sets it from the encoder. Defaults to false: rows of any
   * norm, and exact gradients with respect to them.
   */
  readonly normalized?: boolean;
}

/** The loss value (mean over the batch) and its gradients with respect to `a` and `b`. */
export interface LossResult {
  readonly loss: number;
  readonly gradA: Vec;
  readonly gradB: Vec;
  /** Gradient with respect to `negatives`, when they were given. */
  readonly gradNegatives?: Vec;
  /** Gradients of the loss's own parameters ({@link Loss.parameters}), in their order. */
  readonly gradParams?: readonly Vec[];
}

/**
 * What batches a loss needs: `'pairs'` (labelled or scored pairs), `'in-batch'` (anchor-positive
 * pairs; the other positives are the negatives) or `'labels'` (rows with their class, for the
 * cosine classifier losses).
 */
export type Sampling = 'pairs' | 'in-batch' | 'labels';

/**
 * A training objective. `sampling` says what batches it needs. A loss with trainable parameters of
 * its own (the class vectors of a cosine classifier) lists them in `parameters`; `train` updates
 * them with the encoder's, from `gradParams`.
 */
export interface Loss {
  readonly name: string;
  readonly sampling: Sampling;
  /** The loss's own trainable arrays, updated in place by the optimiser. */
  parameters?(): Vec[];
  /** Value and gradients; `ops` runs any matrix product on the backend. */
  compute(ops: DenseOps, input: LossInput): Awaitable<LossResult>;
}
