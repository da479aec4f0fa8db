import { argError } from '@cosinekit/core/backend';
import type { Rng } from './rng.js';

/** Rows of inputs with a class label each: `x` is `rows x cols`, row-major. */
export interface LabelledData {
  readonly x: Float32Array;
  readonly rows: number;
  readonly cols: number;
  readonly labels: ArrayLike<number>;
}

/** Explicit pairs: row i of `a` with row i of `b`, and a target per pair (label or similarity). */
export interface PairData {
  readonly a: Float32Array;
  readonly b: Float32Array;
  readonly rows: number;
  readonly cols: number;
  readonly targets: ArrayLike<number>;
}

/** One training batch: `rows` pairs of inputs (`a`, `b`, each `rows x cols`). */
export interface Batch {
  readonly a: Float32Array;
  readonly b: Float32Array;
  readonly rows: number;
  readonly cols: number;
  /** Per pair: label (> 0 similar) or target similarity. */
  readonly targets?: Float64Array;
  /** Per anchor: its class, for in-batch losses. */
  readonly groups?: Int32Array;
  /** Triplets: a hard negative per anchor (`rows x cols`), and its class. */
  readonly negatives?: Float32Array;
  readonly negativeGroups?: Int32Array;
}

/** Yields one epoch of batches, shuffled with the given generator. */
export interface Sampler {
  readonly sampling: 'pairs' | 'in-batch';
  /** Batches per epoch. */
  readonly batchesPerEpoch: number;
  epoch(rng: Rng): Iterable<Batch>;
}

/** Options shared by the samplers. */
export interface SamplerOptions {
  /** Pairs per batch; defaults to 64. */
  batchSize?: number;
}

function classIndex(data: LabelledData, op: string): Map<number, number[]> {
  if (data.x.length !== data.rows * data.cols || data.labels.length !== data.rows) {
    argError('SHAPE_MISMATCH', op, 'data', `needs x of ${data.rows} x ${data.cols} and ${data.rows} labels.`);
  }
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < data.rows; i++) {
    const c = data.labels[i];
    const list = byClass.get(c);
    if (list) list.push(i);
    else byClass.set(c, [i]);
  }
  return byClass;
}

function copyRow(src: Float32Array, row: number, cols: number, dst: Float32Array, at: number): void {
  dst.set(src.subarray(row * cols, (row + 1) * cols), at * cols);
}

function order(n: number, rng: Rng): Int32Array {
  const idx = new Int32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  return rng.shuffle(idx);
}

/**
 * In-batch sampling for {@link multipleNegativesRankingLoss}: every row is an anchor once per
 * epoch (shuffled), paired with a random other row of its class; the anchor's class goes in
 * `groups` so same-class rows are not used as negatives. A trailing batch of one pair is dropped.
 */
export function inBatchSampler(data: LabelledData, options: SamplerOptions = {}): Sampler {
  const batchSize = options.batchSize ?? 64;
  const byClass = classIndex(data, 'inBatchSampler');
  const { cols } = data;
  return {
    sampling: 'in-batch',
    batchesPerEpoch: Math.floor(data.rows / batchSize) + (data.rows % batchSize > 1 ? 1 : 0),
    *epoch(rng) {
      const idx = order(data.rows, rng);
      for (let s = 0; s + 1 < idx.length; s += batchSize) {
        const rows = Math.min(batchSize, idx.length - s);
        if (rows < 2) break;
        const a = new Float32Array(rows * cols);
        const b = new Float32Array(rows * cols);
        const groups = new Int32Array(rows);
        for (let r = 0; r < rows; r++) {
          const i = idx[s + r];
          const mates = byClass.get(data.labels[i])!;
          // Uniform over the other rows of the class (the anchor itself only when it is alone).
          let j = mates.length > 1 ? mates[rng.int(mates.length - 1)] : i;
          if (j === i && mates.length > 1) j = mates[mates.length - 1];
          copyRow(data.x, i, cols, a, r);
          copyRow(data.x, j, cols, b, r);
          groups[r] = data.labels[i];
        }
        yield { a, b, rows, cols, groups };
      }
    },
  };
}

/**
 * Triplet sampling for {@link multipleNegativesRankingLoss}: every row is an anchor once per epoch
 * (shuffled), with a random other row of its class as positive and a random row of another class
 * as its hard negative; the other anchors' positives and negatives are negatives too.
 */
export function tripletSampler(data: LabelledData, options: SamplerOptions = {}): Sampler {
  const inner = inBatchSampler(data, options);
  if (classIndex(data, 'tripletSampler').size < 2) {
    argError('INVALID_ARGUMENT', 'tripletSampler', 'data', 'needs at least two classes.');
  }
  const { cols } = data;
  return {
    sampling: 'in-batch',
    batchesPerEpoch: inner.batchesPerEpoch,
    *epoch(rng) {
      for (const batch of inner.epoch(rng)) {
        const { rows, groups } = batch;
        const negatives = new Float32Array(rows * cols);
        const negativeGroups = new Int32Array(rows);
        for (let r = 0; r < rows; r++) {
          let j: number;
          do j = rng.int(data.rows);
          while (data.labels[j] === groups![r]);
          copyRow(data.x, j, cols, negatives, r);
          negativeGroups[r] = data.labels[j];
        }
        yield { ...batch, negatives, negativeGroups };
      }
    },
  };
}

/** Options of {@link pairSampler}. */
export interface PairSamplerOptions extends SamplerOptions {
  /** Share of similar pairs; defaults to 0.5. */
  positiveFraction?: number;
}

/**
 * Labelled-pair sampling for the pair losses: every row is an anchor once per epoch (shuffled),
 * paired with a random row of its class (target +1) or of another class (target -1).
 */
export function pairSampler(data: LabelledData, options: PairSamplerOptions = {}): Sampler {
  const batchSize = options.batchSize ?? 64;
  const positiveFraction = options.positiveFraction ?? 0.5;
  const byClass = classIndex(data, 'pairSampler');
  if (byClass.size < 2) argError('INVALID_ARGUMENT', 'pairSampler', 'data', 'needs at least two classes.');
  const { cols } = data;
  return {
    sampling: 'pairs',
    batchesPerEpoch: Math.ceil(data.rows / batchSize),
    *epoch(rng) {
      const idx = order(data.rows, rng);
      for (let s = 0; s < idx.length; s += batchSize) {
        const rows = Math.min(batchSize, idx.length - s);
        const a = new Float32Array(rows * cols);
        const b = new Float32Array(rows * cols);
        const targets = new Float64Array(rows);
        for (let r = 0; r < rows; r++) {
          const i = idx[s + r];
          const positive = rng.next() < positiveFraction;
          let j: number;
          if (positive) {
            const mates = byClass.get(data.labels[i])!;
            j = mates[rng.int(mates.length)];
          } else {
            do j = rng.int(data.rows);
            while (data.labels[j] === data.labels[i]);
          }
          copyRow(data.x, i, cols, a, r);
          copyRow(data.x, j, cols, b, r);
          targets[r] = positive ? 1 : -1;
        }
        yield { a, b, rows, cols, targets };
      }
    },
  };
}

/** Batches of explicit pairs (shuffled each epoch), e.g. for the embedding adapter. */
export function fixedPairSampler(data: PairData, options: SamplerOptions = {}): Sampler {
  const batchSize = options.batchSize ?? 64;
  const { rows: n, cols } = data;
  if (data.a.length !== n * cols || data.b.length !== n * cols || data.targets.length !== n) {
    argError('SHAPE_MISMATCH', 'fixedPairSampler', 'data', `needs a, b of ${n} x ${cols} and ${n} targets.`);
  }
  return {
    sampling: 'pairs',
    batchesPerEpoch: Math.ceil(n / batchSize),
    *epoch(rng) {
      const idx = order(n, rng);
      for (let s = 0; s < n; s += batchSize) {
        const rows = Math.min(batchSize, n - s);
        const a = new Float32Array(rows * cols);
        const b = new Float32Array(rows * cols);
        const targets = new Float64Array(rows);
        for (let r = 0; r < rows; r++) {
          const i = idx[s + r];
          copyRow(data.a, i, cols, a, r);
          copyRow(data.b, i, cols, b, r);
          targets[r] = data.targets[i];
        }
        yield { a, b, rows, cols, targets };
      }
    },
  };
}
