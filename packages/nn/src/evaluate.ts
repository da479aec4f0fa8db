import type { CosineKit, TensorInput } from '@cosinekit/core';
import { argError } from '@cosinekit/core/backend';

/** Best-threshold accuracy of labelled pair scores. */
export interface PairAccuracy {
  /** Share of pairs classified right by `score >= threshold` meaning "similar". */
  readonly accuracy: number;
  /** The threshold that gives it (midway between two neighbouring scores). */
  readonly threshold: number;
}

function checkPaired(op: string, scores: ArrayLike<number>, labels: ArrayLike<number>): void {
  if (scores.length === 0) argError('EMPTY_INPUT', op, 'scores', 'must not be empty.');
  if (scores.length !== labels.length) {
    argError('SHAPE_MISMATCH', op, 'labels', `has ${labels.length} values but scores has ${scores.length}.`);
  }
}

/**
 * Pair accuracy at the best threshold: pairs with label > 0 are similar; the threshold that
 * classifies the most pairs right (score >= threshold means similar) is searched exactly over
 * all cut points of the sorted scores.
 */
export function pairAccuracy(scores: ArrayLike<number>, labels: ArrayLike<number>): PairAccuracy {
  checkPaired('pairAccuracy', scores, labels);
  const n = scores.length;
  const idx = Array.from({ length: n }, (_, i) => i).sort((i, j) => scores[i] - scores[j]);
  let positives = 0;
  for (let i = 0; i < n; i++) if (labels[i] > 0) positives++;
  // Cut before position c: everything at or above is "similar". Start with all similar.
  let correct = positives;
  let bestCorrect = correct;
  let bestThreshold = scores[idx[0]] - 1e-6;
  for (let c = 0; c < n; c++) {
    correct += labels[idx[c]] > 0 ? -1 : 1;
    // Only cut between distinct scores.
    if (c + 1 < n && scores[idx[c + 1]] === scores[idx[c]]) continue;
    if (correct > bestCorrect) {
      bestCorrect = correct;
      bestThreshold = c + 1 < n ? (scores[idx[c]] + scores[idx[c + 1]]) / 2 : scores[idx[c]] + 1e-6;
    }
  }
  return { accuracy: bestCorrect / n, threshold: bestThreshold };
}

/** Ranks 1..n with ties given their average rank. */
function averageRanks(x: ArrayLike<number>): Float64Array {
  const n = x.length;
  const idx = Array.from({ length: n }, (_, i) => i).sort((i, j) => x[i] - x[j]);
  const ranks = new Float64Array(n);
  for (let s = 0; s < n; ) {
    let e = s + 1;
    while (e < n && x[idx[e]] === x[idx[s]]) e++;
    const r = (s + e + 1) / 2;
    for (let k = s; k < e; k++) ranks[idx[k]] = r;
    s = e;
  }
  return ranks;
}

/**
 * ROC-AUC of scores for labelled pairs (label > 0 positive): the probability that a random
 * positive scores above a random negative, ties counting one half (Mann-Whitney U).
 */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  checkPaired('rocAuc', scores, labels);
  const ranks = averageRanks(scores);
  let pos = 0;
  let rankSum = 0;
  for (let i = 0; i < scores.length; i++) {
    if (labels[i] > 0) {
      pos++;
      rankSum += ranks[i];
    }
  }
  const neg = scores.length - pos;
  if (pos === 0 || neg === 0)
    argError('INVALID_ARGUMENT', 'rocAuc', 'labels', 'need both positives and negatives.');
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

/** Spearman rank correlation of two series (Pearson of average ranks), for graded pairs. */
export function spearman(x: ArrayLike<number>, y: ArrayLike<number>): number {
  checkPaired('spearman', x, y);
  const rx = averageRanks(x);
  const ry = averageRanks(y);
  const n = x.length;
  const mean = (n + 1) / 2;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const a = rx[i] - mean;
    const b = ry[i] - mean;
    sxy += a * b;
    sxx += a * a;
    syy += b * b;
  }
  return sxx === 0 || syy === 0 ? 0 : sxy / Math.sqrt(sxx * syy);
}

/** Labelled retrieval: queries and corpus rows with a class each. */
export interface RetrievalSet {
  readonly queries: TensorInput;
  readonly queryLabels: ArrayLike<number>;
  readonly corpus: TensorInput;
  readonly corpusLabels: ArrayLike<number>;
}

/** Both retrieval metrics from one top-k search. */
export interface RetrievalReport {
  readonly k: number;
  /** Share of queries with at least one same-class row among their k nearest (recall@k). */
  readonly recall: number;
  /** Share of queries whose k nearest vote their class (ties to the larger summed cosine). */
  readonly knnAccuracy: number;
}

/**
 * Recall@k and k-NN accuracy of a labelled retrieval set by cosine, with the kit's exact top-k
 * (tiled, so memory stays O(queries x k)).
 */
export async function evaluateRetrieval(
  kit: CosineKit,
  set: RetrievalSet,
  k: number,
): Promise<RetrievalReport> {
  const result = await kit.topK(set.queries, set.corpus, k);
  if (set.queryLabels.length !== result.queries) {
    argError('SHAPE_MISMATCH', 'evaluateRetrieval', 'queryLabels', `must hold ${result.queries} labels.`);
  }
  let hit = 0;
  let correct = 0;
  const votes = new Map<number, [count: number, score: number]>();
  for (let q = 0; q < result.queries; q++) {
    const own = set.queryLabels[q];
    votes.clear();
    let found = false;
    for (let j = 0; j < k; j++) {
      const idx = result.indices[q * k + j];
      if (idx >= set.corpusLabels.length) {
        argError('SHAPE_MISMATCH', 'evaluateRetrieval', 'corpusLabels', 'has fewer labels than corpus rows.');
      }
      const c = set.corpusLabels[idx];
      if (c === own) found = true;
      const v = votes.get(c) ?? [0, 0];
      v[0]++;
      v[1] += result.scores[q * k + j];
      votes.set(c, v);
    }
    let bestClass = Number.NaN;
    let bestVote: [number, number] = [-1, -Infinity];
    for (const [c, v] of votes) {
      if (v[0] > bestVote[0] || (v[0] === bestVote[0] && v[1] > bestVote[1])) {
        bestVote = v;
        bestClass = c;
      }
    }
    if (found) hit++;
    if (bestClass === own) correct++;
  }
  return { k, recall: hit / result.queries, knnAccuracy: correct / result.queries };
}

/** Recall@k: share of queries with a same-class corpus row among their k nearest by cosine. */
export async function recallAtK(kit: CosineKit, set: RetrievalSet, k: number): Promise<number> {
  return (await evaluateRetrieval(kit, set, k)).recall;
}

/** k-nearest-neighbour classification accuracy by cosine (majority vote of the k nearest). */
export async function knnAccuracy(kit: CosineKit, set: RetrievalSet, k: number): Promise<number> {
  return (await evaluateRetrieval(kit, set, k)).knnAccuracy;
}
