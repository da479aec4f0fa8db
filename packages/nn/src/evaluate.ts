import { Corpus, type CosineKit, type SearchResult, Tensor, type TensorInput } from '@cosinekit/core';
import {
  argError,
  argErrorOf,
  checkFinite,
  checkSignal,
  describeType,
  errorText,
  isArrayArg,
  isCosineKitError,
  orAbort,
  reading,
  type TopKResult,
  toTensor,
  valueText,
} from '@cosinekit/core/backend';
import { checkLabels, checkObject, fields, finiteNumbers, given, isA, nextTurn, under } from './check.js';

/** Best-threshold accuracy of labelled pair scores. */
export interface PairAccuracy {
  /** Share of pairs classified right by `score >= threshold` meaning "similar". */
  readonly accuracy: number;
  /**
   * The threshold that gives it: midway between two neighbouring scores (the higher one where
   * float64 has nothing between them), or just past the lowest or highest score.
   */
  readonly threshold: number;
}

/** Both series copied once and checked (see finiteNumbers), of one non-zero length. */
function checkPaired(
  op: string,
  scores: unknown,
  labels: unknown,
  names: readonly [string, string] = ['scores', 'labels'],
): [Float64Array, Float64Array] {
  // A NaN would sort anywhere and rank as it falls: the answer would be silently wrong.
  const s = finiteNumbers(op, names[0], scores);
  const l = finiteNumbers(op, names[1], labels);
  if (s.length === 0) argError('EMPTY_INPUT', op, names[0], 'must not be empty.');
  if (s.length !== l.length)
    argError('SHAPE_MISMATCH', op, names[1], `has ${l.length} values but ${names[0]} has ${s.length}.`);
  return [s, l];
}

/**
 * Pair accuracy at the best threshold: pairs with label > 0 are similar; the threshold that
 * classifies the most pairs right (score >= threshold means similar) is searched exactly over
 * all cut points of the sorted scores.
 */
export function pairAccuracy(scores: ArrayLike<number>, labels: ArrayLike<number>): PairAccuracy {
  [scores, labels] = checkPaired('pairAccuracy', scores, labels);
  const n = scores.length;
  const idx = Array.from({ length: n }, (_, i) => i).sort((i, j) => scores[i] - scores[j]);
  let positives = 0;
  for (let i = 0; i < n; i++) if (labels[i] > 0) positives++;
  // Cut before position c: everything at or above is "similar". Start with all similar.
  let correct = positives;
  let bestCorrect = correct;
  let bestThreshold = below(scores[idx[0]]);
  for (let c = 0; c < n; c++) {
    correct += labels[idx[c]] > 0 ? -1 : 1;
    // Only cut between distinct scores.
    if (c + 1 < n && scores[idx[c + 1]] === scores[idx[c]]) continue;
    if (correct > bestCorrect) {
      bestCorrect = correct;
      bestThreshold = c + 1 < n ? between(scores[idx[c]], scores[idx[c + 1]]) : above(scores[idx[c]]);
    }
  }
  return { accuracy: bestCorrect / n, threshold: bestThreshold };
}

/** A threshold in (lo, hi]: midway where float64 holds a value there, else hi (neighbouring floats). */
function between(lo: number, hi: number): number {
  // Halved first: lo + hi overflows near the float64 maximum.
  const mid = lo / 2 + hi / 2;
  return mid > lo && mid <= hi ? mid : hi;
}

/** A threshold no score `x` or below reaches: x + 1e-6 where that is above x, else the next float64. */
function above(x: number): number {
  const t = x + 1e-6;
  if (t > x) return t;
  const bits = new Float64Array([x]);
  const i = new BigInt64Array(bits.buffer);
  // Finite x past 2^-1: the next float64 up is one unit in the last place, up in magnitude for x > 0.
  i[0] += x > 0 ? 1n : -1n;
  return bits[0];
}

/** A threshold every score `x` or above reaches: x - 1e-6 where that is below x, else x itself. */
function below(x: number): number {
  const t = x - 1e-6;
  return t < x ? t : x;
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
  [scores, labels] = checkPaired('rocAuc', scores, labels);
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

/**
 * Spearman rank correlation of two series (Pearson of average ranks), for graded pairs.
 *
 * A correlation needs both series to vary: when every value of `x` (or of `y`) is the same,
 * including a series of one value, its ranks are all equal and the correlation is 0 / 0, undefined.
 * That is refused as `INVALID_ARGUMENT` naming `'spearman'` and the constant series (`x` first),
 * not answered as 0: a model whose scores collapsed to one value (an untrained or diverged one)
 * would otherwise read as "uncorrelated" rather than as broken. Callers that want a number for
 * that case catch the error. Empty, unequal-length or non-finite series are `EMPTY_INPUT`,
 * `SHAPE_MISMATCH` and `NON_FINITE`.
 */
export function spearman(x: ArrayLike<number>, y: ArrayLike<number>): number {
  [x, y] = checkPaired('spearman', x, y, ['x', 'y']);
  const n = x.length;
  for (const [name, v] of [
    ['x', x],
    ['y', y],
  ] as const) {
    let varies = false;
    for (let i = 1; i < n && !varies; i++) varies = v[i] !== v[0];
    if (!varies)
      argError(
        'INVALID_ARGUMENT',
        'spearman',
        name,
        `is constant (every one of its ${n} values is ${v[0]}): a rank correlation is undefined for it.`,
      );
  }
  const rx = averageRanks(x);
  const ry = averageRanks(y);
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
  // sxx, syy > 0: each series holds two distinct values, so two distinct ranks.
  return sxy / Math.sqrt(sxx * syy);
}

/**
 * A resident corpus as retrieval evaluation searches it: core's {@link Corpus}, or one with the same
 * `search`, `rows` and `cols` whose rows live elsewhere (a `@cosinekit/worker` kit's corpus, in a
 * worker). Its search answers are checked (queries x k ordinals, cosine scores).
 */
export interface SearchableCorpus {
  readonly rows: number;
  readonly cols: number;
  search(queries: TensorInput, k: number): Promise<SearchResult>;
}

/**
 * Labelled retrieval: queries and corpus rows with a class each. The corpus may be a resident
 * {@link Corpus} (`kit.corpus(rows)`) or another {@link SearchableCorpus}, searched where it lives;
 * its row ordinals index `corpusLabels`.
 */
export interface RetrievalSet {
  readonly queries: TensorInput;
  readonly queryLabels: ArrayLike<number>;
  readonly corpus: TensorInput | Corpus | SearchableCorpus;
  readonly corpusLabels: ArrayLike<number>;
}

/** Both retrieval metrics at one k. */
export interface RetrievalReport {
  readonly k: number;
  /** Share of queries with at least one same-class row among their k nearest (recall@k). */
  readonly recall: number;
  /** Share of queries whose k nearest vote their class (see {@link RetrievalOptions.tieBreak}). */
  readonly knnAccuracy: number;
}

/** Options of {@link evaluateRetrieval}. */
export interface RetrievalOptions {
  /**
   * How a k-NN vote with two classes on the same count is settled. `'score'` (default): the class
   * whose neighbours have the larger summed cosine (distance weighting, used only for ties).
   * `'smallest-label'`: the smaller class label, which is what numpy's
   * `np.bincount(labels).argmax()` and scikit-learn's uniform `KNeighborsClassifier` do.
   */
  tieBreak?: 'score' | 'smallest-label';
  /**
   * Stops the evaluation when it fires: it rejects with `ABORTED` (the signal's reason as `cause`)
   * between blocks of queries. The search runs a block of queries at a time, letting the event
   * loop turn between them (50,000 queries against 4,000 rows once held it for 3 s).
   */
  signal?: AbortSignal;
}

/** Multiply-adds of one block of an evaluation's search (about 10-30 ms on the reference), for 64 queries or more. */
const BLOCK_MACS = 2 ** 24;

/**
 * Recall@k and k-NN accuracy of a labelled retrieval set by cosine, for one k or several from one
 * exact top-k search at the largest (the kit's tiled top-k, or the resident corpus's search), so
 * memory stays O(queries x k). Neighbours tied on cosine come in the order of the search: the
 * lower corpus row first.
 */
export async function evaluateRetrieval(
  kit: CosineKit,
  set: RetrievalSet,
  k: number,
  options?: RetrievalOptions,
): Promise<RetrievalReport>;
export async function evaluateRetrieval(
  kit: CosineKit,
  set: RetrievalSet,
  k: readonly number[],
  options?: RetrievalOptions,
): Promise<RetrievalReport[]>;
export async function evaluateRetrieval(
  kit: CosineKit,
  set: RetrievalSet,
  k: number | readonly number[],
  options: RetrievalOptions = {},
): Promise<RetrievalReport | RetrievalReport[]> {
  if (!(typeof k === 'number' || isArrayArg('evaluateRetrieval', 'k', k)))
    argError(
      'INVALID_K',
      'evaluateRetrieval',
      'k',
      `must be a number or an array of numbers, got ${describeType(k)}.`,
    );
  const reports = await retrieval('evaluateRetrieval', kit, set, typeof k === 'number' ? [k] : k, options);
  return typeof k === 'number' ? reports[0] : reports;
}

/** The answers of consecutive blocks of queries as one (same k). */
function joined(parts: readonly TopKResult[]): TopKResult {
  const k = parts[0].k;
  const queries = parts.reduce((n, p) => n + p.queries, 0);
  const indices = new Int32Array(queries * k);
  const scores = new Float32Array(queries * k);
  let at = 0;
  for (const p of parts) {
    indices.set(p.indices, at);
    scores.set(p.scores, at);
    at += p.queries * k;
  }
  return { queries, k, indices, scores };
}

/**
 * The retrieval reports behind {@link evaluateRetrieval}, {@link recallAtK} and {@link knnAccuracy},
 * every error naming `op`, the public function called (and the search's errors renamed after it).
 */
/**
 * `matrix` made resident on `kit` for the blocks of an evaluation, where `kit` makes a real corpus
 * of it: `undefined` otherwise (a look-alike kit's `corpus`, which may answer anything, or one that
 * throws), and the blocks go through `kit.topK` as before, with its checks and its errors.
 */
async function residentOf(kit: CosineKit, matrix: Tensor): Promise<Corpus | undefined> {
  let made: unknown;
  try {
    const make = Object(kit).corpus;
    if (typeof make !== 'function') return undefined;
    made = await make.call(kit, matrix);
  } catch {
    return undefined;
  }
  if (isA(made, Corpus)) return made;
  try {
    (made as { dispose?: () => void } | null)?.dispose?.();
  } catch {
    // Not ours to clean up further.
  }
  return undefined;
}

async function retrieval(
  op: string,
  kit: CosineKit,
  set: RetrievalSet,
  k: readonly number[],
  options: RetrievalOptions | undefined,
): Promise<RetrievalReport[]> {
  checkObject(op, 'set', set, false);
  const opts = checkObject(op, 'options', options as RetrievalOptions, true, ['tieBreak', 'signal']);
  const tieBreak = given(opts.tieBreak, 'score');
  const signal = opts.signal;
  if (
    signal !== undefined &&
    !(
      typeof signal === 'object' &&
      signal !== null &&
      reading(op, 'options.signal', () => typeof signal.aborted) === 'boolean'
    )
  )
    argError('INVALID_TYPE', op, 'options.signal', `must be an AbortSignal, got ${describeType(signal)}.`);
  checkSignal(op, signal);
  const ks = reading(op, 'k', () => Array.from(k));
  if (ks.length === 0) argError('EMPTY_INPUT', op, 'k', 'must hold at least one k.');
  for (const v of ks) {
    if (!Number.isInteger(v) || v < 1)
      argError('INVALID_K', op, 'k', `must be positive integers, got ${valueText(v)}.`);
  }
  if (tieBreak !== 'score' && tieBreak !== 'smallest-label') {
    argError(
      'INVALID_ARGUMENT',
      op,
      'options.tieBreak',
      `must be 'score' or 'smallest-label', got ${valueText(tieBreak)}.`,
    );
  }
  // Each field read once, the labels copied at the call (see finiteNumbers): labels changed while
  // the search runs change nothing (they were read after it, unchecked: NaN labels scored 0 without
  // a word). Labels are compared with ===: a NaN or a '0' would silently match nothing.
  const { queries, corpus, ...labelsOf } = fields(op, 'set', set, [
    'queries',
    'corpus',
    'queryLabels',
    'corpusLabels',
  ]);
  const queryLabels = checkLabels(op, 'set.queryLabels', labelsOf.queryLabels);
  const corpusLabels = checkLabels(op, 'set.corpusLabels', labelsOf.corpusLabels);
  set = { queries, corpus, queryLabels, corpusLabels };
  const resident = isResident(op, corpus);
  const topK = resident ? undefined : reading(op, 'kit', () => Object(kit).topK);
  if (!resident && typeof topK !== 'function')
    argError('INVALID_TYPE', op, 'kit', `must be a CosineKit, got ${describeType(kit)}.`);
  // A loop, not Math.max(...ks): a list of 200,000 ks overflowed the call stack (a RangeError).
  let kMax = 0;
  for (const k of ks) kMax = Math.max(kMax, k);
  // The search's errors name its own operation ('topK', 'search'): renamed after this one. It runs
  // a block of queries at a time, the event loop turning between blocks.
  // A matrix corpus as a tensor once, for every block's search and its labels' count.
  let matrix: Tensor | undefined;
  const result = await under(
    op,
    async () => {
      const q = toTensor(queries, op, 'set.queries');
      if (!resident) matrix = toTensor(corpus as TensorInput, op, 'set.corpus');
      const n = resident ? corpus.rows : matrix!.rows;
      // Before the blocks are sized by it: a look-alike's NaN rows made blocks of NaN queries,
      // refused as a Tensor's 'rows'.
      if (!(Number.isInteger(n) && n >= 1))
        argError('INVALID_ARGUMENT', op, 'set.corpus', `has ${valueText(n)} rows: no corpus to search.`);
      // At least 64 queries a block: a matrix corpus is checked again by each block's search, and a
      // large resident corpus read once per query was 4x slower than one search of 512.
      const block = Math.max(64, Math.floor(BLOCK_MACS / Math.max(1, n * q.cols)));
      const search = async (x: Tensor): Promise<TopKResult> => {
        if (!resident) return topK!.call(kit, x, matrix!, kMax);
        // Core's own corpus checks its k and answers itself; a look-alike's are checked here, its
        // failures named after it, and a search of its that never settles ends at the signal.
        if (isA(corpus, Corpus)) return corpus.search(x, kMax);
        if (kMax > n) argError('INVALID_K', op, 'k', `must be at most the corpus's ${n} rows, got ${kMax}.`);
        let r: unknown;
        try {
          r = await orAbort(op, corpus.search(x, kMax), signal);
        } catch (e) {
          if (isCosineKitError(e)) throw e;
          throw argErrorOf('INVALID_ARGUMENT', op, 'set.corpus', `failed in its search: ${errorText(e)}`, e);
        }
        checkAnswer(op, r, x.rows, kMax);
        return r;
      };
      if (q.rows <= block) return search(q);
      // Named by its row in set.queries before the blocks are cut: a block's search named its row
      // within the block (row 2999 of 3000 was 'row 117').
      checkFinite(op, 'set.queries', q);
      // Several blocks against a matrix: made resident once, where the kit can, rather than staged
      // and checked again by each block's topK (1.4-1.5x the time, 5000 x 10,000 x 64). Same
      // rows, same order of ties.
      const held = resident ? undefined : await residentOf(kit, matrix!);
      try {
        const parts: TopKResult[] = [];
        for (let r0 = 0; r0 < q.rows; r0 += block) {
          if (r0 > 0) await nextTurn();
          checkSignal(op, signal);
          const r1 = Math.min(q.rows, r0 + block);
          const x = new Tensor(q.data.subarray(r0 * q.cols, r1 * q.cols), r1 - r0, q.cols);
          parts.push(await (held ? held.search(x, kMax) : search(x)));
        }
        return joined(parts);
      } finally {
        held?.dispose();
      }
    },
    // A disposed backend is the kit's (the matrix search) or the resident corpus's: it named
    // 'backend', which evaluateRetrieval has not. The matrix made resident names its rows 'rows'.
    {
      k: 'k',
      corpus: 'set.corpus',
      rows: 'set.corpus',
      queries: 'set.queries',
      backend: resident ? 'set.corpus' : 'kit',
    },
  );
  if (set.queryLabels.length !== result.queries) {
    argError('SHAPE_MISMATCH', op, 'set.queryLabels', `must hold ${result.queries} labels.`);
  }
  if (matrix) {
    // A matrix's rows are its indices, so its labels must be one per row: more would be scored
    // silently, shifted if the rows were cut. (A resident corpus reports ordinals, which outlive
    // removed rows, so its labels are indexed by ordinal and only checked to cover them.)
    const n = matrix.rows;
    if (set.corpusLabels.length !== n)
      argError(
        'SHAPE_MISMATCH',
        op,
        'set.corpusLabels',
        `must hold ${n} labels, one per corpus row, got ${valueText(set.corpusLabels.length)}.`,
      );
  }
  const stride = result.k;
  for (let i = 0; i < result.indices.length; i++) {
    if (result.indices[i] >= set.corpusLabels.length) {
      argError('SHAPE_MISMATCH', op, 'set.corpusLabels', 'has fewer labels than corpus rows.');
    }
  }
  const votes = new Map<number, [count: number, score: number]>();
  return ks.map((kk) => {
    let hit = 0;
    let correct = 0;
    for (let q = 0; q < result.queries; q++) {
      const own = set.queryLabels[q];
      votes.clear();
      let found = false;
      for (let j = 0; j < kk; j++) {
        const c = set.corpusLabels[result.indices[q * stride + j]];
        if (c === own) found = true;
        const v = votes.get(c) ?? [0, 0];
        v[0]++;
        v[1] += result.scores[q * stride + j];
        votes.set(c, v);
      }
      let bestClass = Number.NaN;
      let bestVote: [number, number] = [-1, -Infinity];
      for (const [c, v] of votes) {
        const tie = v[0] === bestVote[0];
        const wins =
          v[0] > bestVote[0] || (tie && (tieBreak === 'score' ? v[1] > bestVote[1] : c < bestClass));
        if (wins) {
          bestVote = v;
          bestClass = c;
        }
      }
      if (found) hit++;
      if (bestClass === own) correct++;
    }
    return { k: kk, recall: hit / result.queries, knnAccuracy: correct / result.queries };
  });
}

/**
 * Whether `x` is a resident corpus: core's `Corpus`, or an object with its `search`, `rows` and
 * `cols` whose rows live elsewhere (`@cosinekit/worker`'s `WorkerCorpus`, in a worker), which was
 * refused as no matrix. Typed arrays, arrays and tensors are matrices. Reading `x` may throw (a
 * getter, a revoked Proxy): then it is no corpus, and the matrix reader names it.
 */
function isResident(op: string, x: unknown): x is SearchableCorpus {
  if (isA(x, Corpus)) {
    // A Proxy of a corpus (a reactive store's wrapper) or an object made from one passes
    // instanceof but lacks the corpus's fields, so its getters and methods refuse it: named here
    // (its rows escaped as a raw TypeError).
    try {
      void (x as Corpus).rows;
    } catch {
      argError(
        'INVALID_TYPE',
        op,
        'set.corpus',
        'is a Proxy of a corpus, or an object made from one, which lacks its fields: pass the corpus itself.',
      );
    }
    return true;
  }
  if (typeof x !== 'object' || x === null) return false;
  try {
    if (Array.isArray(x) || ArrayBuffer.isView(x) || isA(x, Tensor)) return false;
    const c = x as { search?: unknown; rows?: unknown; cols?: unknown };
    return typeof c.search === 'function' && typeof c.rows === 'number' && typeof c.cols === 'number';
  } catch {
    return false;
  }
}

/**
 * Refuses a look-alike corpus's search answer (see {@link isResident}) that is not `queries` x `k`
 * ordinals (>= 0; they outlive removed rows, so `corpusLabels` bounds them) with cosine scores,
 * naming `set.corpus`: the scoring loop would read past it.
 */
function checkAnswer(op: string, r: unknown, queries: number, k: number): asserts r is TopKResult {
  const bad = (problem: string): never =>
    argError('INVALID_ARGUMENT', op, 'set.corpus', `is no working corpus: its search ${problem}`);
  if (typeof r !== 'object' || r === null) bad(`answered ${describeType(r)}, not a search result.`);
  const { queries: q, k: kk, indices, scores } = r as Partial<TopKResult>;
  if (q !== queries || kk !== k)
    bad(`answered ${valueText(q)} x ${valueText(kk)} results for ${queries} x ${k}.`);
  if (!(indices instanceof Int32Array) || indices.length !== queries * k)
    bad(`answered indices that are no Int32Array of ${queries * k}.`);
  if (!(scores instanceof Float32Array) || scores.length !== queries * k)
    bad(`answered scores that are no Float32Array of ${queries * k}.`);
  for (let i = 0; i < indices!.length; i++) {
    const j = indices![i];
    if (!(j >= 0 && scores![i] >= -1 && scores![i] <= 1))
      bad(`answered row ${valueText(j)} with score ${valueText(scores![i])} for query ${Math.floor(i / k)}.`);
    // Best first, each row once: a row named twice voted twice.
    if (i % k > 0 && !(scores![i] <= scores![i - 1]))
      bad(
        `answered query ${Math.floor(i / k)}'s scores out of order (${scores![i - 1]}, then ${scores![i]}).`,
      );
  }
  for (let q = 0; q < queries; q++) {
    const seen = new Set<number>();
    for (let t = q * k; t < (q + 1) * k; t++) {
      if (seen.has(indices![t])) bad(`named row ${indices![t]} twice for query ${q}.`);
      seen.add(indices![t]);
    }
  }
}

/**
 * Recall@k: share of queries with a same-class corpus row among their k nearest by cosine (one
 * `k`; {@link evaluateRetrieval} takes several). Errors are `CosineKitError`s naming `'recallAtK'`
 * and the argument (`k`, `set.queries`, `set.queryLabels`, ...), as {@link evaluateRetrieval}'s name it.
 */
export async function recallAtK(kit: CosineKit, set: RetrievalSet, k: number): Promise<number> {
  return (await retrieval('recallAtK', kit, set, [singleK('recallAtK', k)], undefined))[0].recall;
}

/**
 * k-nearest-neighbour classification accuracy by cosine (majority vote of the k nearest, ties as
 * {@link RetrievalOptions.tieBreak} says), for one `k`. Errors name `'knnAccuracy'` and the argument.
 */
export async function knnAccuracy(
  kit: CosineKit,
  set: RetrievalSet,
  k: number,
  options?: RetrievalOptions,
): Promise<number> {
  return (await retrieval('knnAccuracy', kit, set, [singleK('knnAccuracy', k)], options))[0].knnAccuracy;
}

/** One k, or `INVALID_K` naming `op` (a list once answered `undefined`: the `.recall` of an array). */
function singleK(op: string, k: unknown): number {
  if (typeof k !== 'number')
    argError(
      'INVALID_K',
      op,
      'k',
      `must be one positive integer, got ${describeType(k)}; evaluateRetrieval takes several.`,
    );
  return k;
}
