/**
 * The backend contract: what a compute engine implements to plug into CosineKit.
 *
 * Kernels receive inputs the public API has already validated (finite values, matching shapes,
 * k in range), so a backend only computes; only kernels a backend declares `ungated` may see
 * unchecked values (see {@link Backend.ungated}). Every kernel may answer synchronously or with a
 * promise.
 */

/** A value or a promise of it. */
export type Awaitable<T> = T | Promise<T>;

/** A dense float32 row-major matrix: `data.length === rows * cols`. A vector is one row. */
export interface Matrix {
  readonly data: Float32Array;
  readonly rows: number;
  readonly cols: number;
}

/** Element-wise activations of the dense layers. `gelu` is the tanh approximation. */
export type Activation = 'linear' | 'relu' | 'tanh' | 'gelu' | 'sigmoid';

/** All activations, in a stable order. */
export const ACTIVATIONS: readonly Activation[] = ['linear', 'relu', 'tanh', 'gelu', 'sigmoid'];

/**
 * How a resident corpus stores its rows (each L2-normalised first):
 * - `float32`: exact.
 * - `float16`: binary16, round to nearest even; half the memory. Each component is within 2^-11
 *   of itself relatively (2^-25 absolutely below 2^-14), so a score is within
 *   `2^-11 + sqrt(d) * 2^-25` of the exact cosine (5e-4 at d = 384).
 * - `int8`: one scale per row, `s = max_j |x_j| / 127`, and codes `round(x_j / s)`; a quarter of the
 *   memory. Each stored component is within `s / 2` of the normalised one, so a score against a
 *   float query is within `e(x) = sqrt(d) * max_j |x_j| / 254 <= sqrt(d) / 254` of the exact cosine,
 *   up to float32 rounding (0.077 at d = 384; random rows do far better, about 1e-3). An engine
 *   that quantises the query too (wasm) is within `e(x) + e(q) + e(x) * e(q)`. Rows whose small
 *   components sit just under half a step reach `sqrt((d - 1) / d) * e(x)`.
 * With `rerank > 0` the float32 rows are kept as well and the returned scores are exact; `int8`
 * re-ranks by default (see {@link resolveCorpusOptions}).
 */
export type CorpusStorage = 'float32' | 'float16' | 'int8';

/** Options of {@link Kernels.createCorpus}. */
export interface CorpusOptions {
  /** Storage of the rows (default `float32`). A backend that cannot store it throws `UNSUPPORTED`. */
  storage?: CorpusStorage;
  /**
   * For quantised storage: keep float32 rows too and re-rank the best `rerank x k` candidates
   * exactly (and every row tied with the last of them); 0 returns the quantised scores. Crowded
   * rows (tight clusters, near-duplicates) differ by less than the quantised scores' error, so
   * their neighbours may rank below the pool. On the reference and wasm backends the answer is
   * nonetheless the float32 search's, bit for bit: the search also selects spare rows past the pool
   * (8 x the pool, at most 256 more), and a row left out whose quantised score lies more than the
   * storage's error bound (above; the corpus's largest, with room for float32 rounding) below the
   * k-th exact score cannot enter. The spare rows within the bound are re-ranked too; a query
   * whose spare rows all lie within it (a crowd wider than them), or whose ties at the pool's edge
   * are followed by such a row, has every row within the bound listed and re-ranked, or is
   * answered from its float32 rows, scanned whole, where they are too many (and a wasm corpus
   * whose searches keep crowding scans them first). WebGPU re-ranks at least 63 rows (64
   * with the row after them: one pass of its device selection) and applies the same bound to the
   * row after them; its device sums can order near-ties an ulp apart from its float32 search.
   * Default (see {@link resolveCorpusOptions}):
   * {@link DEFAULT_INT8_RERANK} for `int8`, 0 for `float16`. Checked but ignored for `float32`
   * storage, whose scores are exact already.
   *
   * Memory: re-ranking keeps 4 bytes per value next to the stored ones, so an `int8` corpus with
   * re-ranking holds 5 bytes per value (more than `float32` alone) and a `float16` one 6. `int8`
   * with re-ranking searches a quarter of the bytes and returns exact scores; the memory saving of
   * quantisation needs `rerank: 0`, at the price of approximate scores and missed neighbours.
   */
  rerank?: number;
}

/**
 * The re-rank factor an `int8` corpus gets when `rerank` is not given. Without re-ranking, random
 * rows lose neighbours: recall@10 measured 0.986 at 200,000 x 384 and 0.992 at 100,000 x 1536
 * (wasm, 100 random queries), where re-scoring 3 x k candidates gave 1.000; the re-rank reads
 * 3 x k rows per query, lost in the noise of the scan. Clustered rows crowd more: the pool alone
 * found 0.859 around 100 centres at 200,000 x 384 (0.988 with 10 x k); with the error bound (see
 * {@link CorpusOptions.rerank}) every factor finds them all, so the factor only sizes the first
 * selection. 3 stays the default because WebGPU selects up to 64 candidates a query on the
 * device, and 10 x k would send k = 10 to its host-side selection.
 * (`node apps/bench/scripts/int8-recall.mjs 200000 384 100 10 wasm 0,3,10,30 int8 5 clustered`).
 */
export const DEFAULT_INT8_RERANK = 3;

/**
 * Corpus options with every default decided: the one place where an unset `storage` becomes
 * `float32` and an unset `rerank` becomes {@link DEFAULT_INT8_RERANK} for `int8`, 0 otherwise
 * (`float16` keeps recall@10 at 0.999 on random rows without it, and exists to halve memory;
 * `float32` never re-ranks). The kit passes backends what this returns, so a backend always gets
 * explicit values; a backend called directly resolves its options with it too.
 */
export function resolveCorpusOptions(options?: CorpusOptions): Required<CorpusOptions> {
  const storage = options?.storage ?? 'float32';
  const rerank =
    storage === 'float32' ? 0 : (options?.rerank ?? (storage === 'int8' ? DEFAULT_INT8_RERANK : 0));
  return { storage, rerank };
}

/**
 * A resident corpus's stored representation, exactly as held: what a rebuild or a saved file
 * carries, so that nothing is quantised twice. Arrays are row-major; a section is present exactly
 * when the storage keeps it.
 */
export interface StoredCorpus {
  readonly rows: number;
  readonly cols: number;
  readonly storage: CorpusStorage;
  /** As in {@link CorpusOptions.rerank}; 0 for float32 storage. */
  readonly rerank: number;
  /**
   * The L2-normalised rows as float32 (`rows * cols`): for float32 storage, and for quantised
   * storage with `rerank > 0`. A backend searches these very values (re-ranks with them).
   */
  readonly exact: Float32Array | null;
  /** float16 storage: the binary16 bits of the normalised rows (`rows * cols`). */
  readonly half: Uint16Array | null;
  /** int8 storage: the codes (`rows * cols`, each in [-127, 127]); a component is `code * scale`. */
  readonly codes: Int8Array | null;
  /** int8 storage: one scale per row (0 for a zero row). */
  readonly scales: Float32Array | null;
}

/**
 * Data kept resident on a backend between calls (in wasm memory, on the GPU, as a tfjs tensor).
 * Rows are stored normalised; searching it never re-uploads it. Release it with `dispose()`.
 */
export interface ResidentCorpus {
  /** Name of the backend that owns the data; only that backend's corpus kernels accept it. */
  readonly backend: string;
  /** Number of stored rows (N). */
  readonly rows: number;
  /** Dimension of each row (d). */
  readonly cols: number;
  /** True once `dispose()` has run. */
  readonly disposed: boolean;
  /** How the rows are stored; absent means `float32`. */
  readonly storage?: CorpusStorage;
  /**
   * Releases the resident memory. Idempotent. The corpus kernels then refuse the handle: they
   * throw (or reject with) `DISPOSED` naming `corpus`, never an answer from freed data.
   */
  dispose(): void;
}

/**
 * Top-k answer for Q queries: row q holds its k best corpus rows, best first, ties broken by the
 * lower index. `indices[q * k + j]`, `scores[q * k + j]`.
 */
export interface TopKResult {
  readonly queries: number;
  readonly k: number;
  readonly indices: Int32Array;
  readonly scores: Float32Array;
}

/**
 * The named kernels. Results are written to `out` when it is given (it has the result's length)
 * and returned; otherwise a new array is returned.
 *
 * Semantics shared by all cosine kernels: the cosine of a zero vector with anything is 0, and
 * results are clamped to [-1, 1].
 */
export interface Kernels {
  /** L2 norm of each row: length `x.rows`. */
  rowNorms(x: Matrix, out?: Float32Array): Awaitable<Float32Array>;
  /**
   * Each row divided by its L2 norm; a zero row stays zero. Length `rows * cols`. The kit checks
   * every row's length (unit within 2e-3, or zero for a zero row) and the direction of a sample.
   */
  normalizeRows(x: Matrix, out?: Float32Array): Awaitable<Float32Array>;
  /** `out[i] = cos(a_i, b_i)`; `a` and `b` have the same shape. */
  cosineRows(a: Matrix, b: Matrix, out?: Float32Array): Awaitable<Float32Array>;
  /** `out[i * b.rows + j] = cos(a_i, b_j)`: an `a.rows x b.rows` matrix. */
  cosineMatrix(a: Matrix, b: Matrix, out?: Float32Array): Awaitable<Float32Array>;
  /**
   * Exact top-k by cosine of each query row against the corpus rows, computed in tiles with a
   * running per-query selection (never the full Q x N matrix in memory). `1 <= k <= corpus.rows`.
   * The kit recomputes each returned score in float64 from the row it names (except for the
   * reference's own `topK`): one further than 5e-4 from that row's cosine is a `BACKEND_ERROR`, and
   * so is a sampled row left out whose cosine beats the lowest returned score by more than that
   * (8 rows a query, spread over the corpus).
   */
  topK(queries: Matrix, corpus: Matrix, k: number): Awaitable<TopKResult>;
  /** Uploads and normalises a corpus once, keeping it resident. */
  createCorpus(x: Matrix, options?: CorpusOptions): Awaitable<ResidentCorpus>;
  /** {@link Kernels.topK} against a resident corpus of this backend. */
  corpusSearch(corpus: ResidentCorpus, queries: Matrix, k: number): Awaitable<TopKResult>;
  /**
   * {@link Kernels.cosineMatrix} of the queries against a resident corpus: `queries.rows x
   * corpus.rows`. Where the corpus keeps float32 rows (float32 storage, or quantised storage with
   * `rerank > 0`) the scores come from them, so they are the exact scores a search reports.
   */
  corpusMatrix(corpus: ResidentCorpus, queries: Matrix, out?: Float32Array): Awaitable<Float32Array>;
  /**
   * `C = op(A) op(B)` where `op` transposes when its flag is set. With `A` stored `m x k` (or
   * `k x m` when transposed) and `B` stored `k x n` (or `n x k`), `C` is `m x n`.
   */
  matmul(a: Matrix, b: Matrix, transA: boolean, transB: boolean, out?: Float32Array): Awaitable<Float32Array>;
  /** `x + bias` broadcast over rows; `bias.length === x.cols`. */
  addBias(x: Matrix, bias: Float32Array, out?: Float32Array): Awaitable<Float32Array>;
  /** `f(x)` element-wise. */
  activation(kind: Activation, x: Matrix, out?: Float32Array): Awaitable<Float32Array>;
  /**
   * `dy * f'(x)` element-wise, where `x` is the activation's input. relu's derivative is 1 for
   * `x > 0` and 0 otherwise (at 0 and -0 too).
   */
  activationGrad(kind: Activation, x: Matrix, dy: Matrix, out?: Float32Array): Awaitable<Float32Array>;
  /**
   * Optional: the sum of each column of `x`, `x.cols` values (a dense layer's bias gradient). Each
   * column is summed down the rows in order, from +0, every add one float32 operation:
   * `s_j = (...((+0 + x_0j) + x_1j) + ...) + x_(rows-1)j`, so every backend gives the same bits.
   * The resolved kernels always have it (the reference's when the backend lacks it).
   */
  columnSums?(x: Matrix, out?: Float32Array): Awaitable<Float32Array>;
  /**
   * Optional: the resident corpus's rows as stored (normalised; dequantised for int8/float16),
   * `rows * cols` values. Lets the public API save and compact a corpus without keeping a host copy.
   */
  readCorpus?(corpus: ResidentCorpus): Awaitable<Float32Array>;
  /**
   * Optional: the resident corpus's stored representation, bit for bit (codes and scales, binary16
   * bits, the float32 rows it searches). With {@link Kernels.importCorpus}, lets the public API
   * rebuild, save and load a quantised corpus without quantising anything twice. A backend that
   * stores int8 or float16 without both leaves such corpora to the reference backend.
   */
  exportCorpus?(corpus: ResidentCorpus): Awaitable<StoredCorpus>;
  /**
   * Optional: a resident corpus holding exactly `stored` (nothing normalised or quantised again),
   * which searches exactly as the corpus it was exported from. Inputs are validated by the caller:
   * every section present that the storage needs, finite values, normalised rows.
   */
  importCorpus?(stored: StoredCorpus): Awaitable<ResidentCorpus>;
  /**
   * Optional: one new resident corpus holding, in order, the rows of `corpora` (all this
   * backend's, alive, of one width, storage and `rerank`) whose byte in `drop` is 0
   * (`drop[i].length === corpora[i].rows`), stored exactly as they are held: the result searches
   * as {@link Kernels.exportCorpus} of each, the kept rows gathered and {@link Kernels.importCorpus}
   * would, bit for bit. At least one row is kept. `corpora` stay as they were (the caller
   * disposes them). Lets the public API merge a corpus's segments after many small adds, or drop
   * removed rows, without copying every row out of the backend and back in. Throw `UNSUPPORTED`
   * for corpora it cannot merge (in different memories, say): the kit then gathers their rows
   * itself, as it does after any failure of this kernel but `DISPOSED`.
   */
  mergeCorpora?(corpora: readonly ResidentCorpus[], drop: readonly Uint8Array[]): Awaitable<ResidentCorpus>;
  /**
   * Optional: {@link Kernels.corpusSearch} among the rows whose `allow` byte is 1 only
   * (`allow.length === corpus.rows`); a row whose byte is 0 is never a candidate. At least `k` rows
   * are allowed. Rows that fail should not be scored at all, so that time falls with the share
   * allowed. Without it the public API filters exactly around {@link Kernels.corpusSearch}.
   */
  corpusSearchAllowed?(
    corpus: ResidentCorpus,
    queries: Matrix,
    k: number,
    allow: Uint8Array,
  ): Awaitable<TopKResult>;
  /**
   * Optional, with {@link Kernels.optimizerStep}: zeroed optimiser state (moments) for parameter
   * arrays of lengths `sizes`, kept resident on the backend between steps; or holding `moments`
   * (as {@link OptimizerState.read} gives them) to carry a state over from another backend.
   */
  createOptimizerState?(
    kind: OptimizerKind,
    sizes: readonly number[],
    moments?: readonly Float32Array[],
  ): Awaitable<OptimizerState>;
  /**
   * Optional: one fused optimiser update, in place: `params[k]` moves against `grads[k]` and the
   * state's moments advance, in one pass, in float32, as {@link OptimizerRule} defines it to the
   * operation (every backend gives the same bits). Inputs are validated by the caller.
   */
  optimizerStep?(
    state: OptimizerState,
    params: readonly Float32Array[],
    grads: readonly Float32Array[],
    rule: OptimizerRule,
  ): Awaitable<void>;
  /**
   * Optional: the softmax cross-entropy of each row of scaled logits against its target, and its
   * gradient, in float32, as {@link SoftmaxCrossEntropy} defines it to the operation (every
   * backend gives the same bits; the reference's runs where a backend has none). `logits` is
   * `rows x cols`; `targets[i]` (`0 <= targets[i] < cols`) is row i's target; entry (i, j) takes
   * part when `keep[i * cols + j] !== 0` (the target always does; without `keep` every entry does).
   * `scale > 0` multiplies the logits, `weight > 0` the gradient; `fround(scale)` and
   * `fround(scale * weight)` are finite. Logits holding NaN or ±Infinity throw `NON_FINITE`. The
   * gradient is always finite; a loss is `+Infinity` when the scaled distance of the target below
   * the row's largest kept logit overflows float32 (the caller reports that as an error).
   */
  softmaxCrossEntropy?(
    logits: Matrix,
    targets: Int32Array,
    scale: number,
    weight: number,
    keep?: Uint8Array,
    out?: SoftmaxCrossEntropy,
  ): Awaitable<SoftmaxCrossEntropy>;
}

/**
 * What {@link Kernels.softmaxCrossEntropy} answers (into `out`'s arrays when given):
 * `grad` (`rows x cols`) = dL/dlogits of `weight x sum_i loss_i`, and `losses` (`rows`).
 *
 * The float32 operations, one rounding each (no fused multiply-add), for a row x of `cols` logits
 * with target t and kept set K (t is in K):
 * - `m = max_{j in K} x_j` (exact); `s = fround(scale)`; `c = fround(scale * weight)` (rounded
 *   once from float64).
 * - For j in K: `u_j = s (x_j - m)` (two roundings; `<= 0`, possibly `-Infinity`) and
 *   `e_j = exp32(u_j)`; for j not in K, `e_j = 0`.
 * - `z = (z_0 + z_1) + (z_2 + z_3)`, where `z_l` sums `e_j` over `j = l mod 4` in increasing j
 *   from 0 (the four SIMD lanes; a sum is never reordered further). `z >= 1`, since `e = 1` at the max.
 * - `loss = log32(z) - u_t`; `grad_j = c (e_j / z)` for j != t, `grad_t = c ((e_t / z) - 1)`;
 *   an entry left out has `grad = 0`.
 * `exp32(u)` (Cephes `expf`, within 2 ulp): 0 when `u < -87`; otherwise
 * `k = (u 1.44269504 + 12582912) - 12582912` (round to nearest even, as a float32),
 * `r = (u - k 0.693359375) - k (-2.12194442e-4)`, `p = ((((((1.98756915e-4 r + 1.39819995e-3) r +
 * 8.33345191e-3) r + 4.16657962e-2) r + 1.66666657e-1) r + 5.00000012e-1) (r r) + r) + 1`, and
 * `exp32(u) = p 2^k` (`2^k` exact: `-126 <= k <= 0`).
 * `log32(z)` (Cephes `logf`, within 2 ulp, for `z >= 1`): `z = f 2^e` with `0.5 <= f < 1`
 * (exact); if `f < 0.707106781` then `e = e - 1`, `x = (f + f) - 1`, else `x = f - 1`;
 * `q = x x`; `y = (P(x) x) q` with `P(x) = ((((((((7.0376836292e-2 x - 1.1514610310e-1) x +
 * 1.1676998740e-1) x - 1.2420140846e-1) x + 1.4249322787e-1) x - 1.6668057665e-1) x +
 * 2.0000714765e-1) x - 2.4999993993e-1) x + 3.3333331174e-1)`; `y = y + e (-2.12194442e-4)`;
 * `y = y - 0.5 q`; `log32(z) = (x + y) + e 0.693359375`. Every constant is the float32 nearest
 * the decimal written, and every product, sum and quotient above is one float32 operation, left to
 * right as bracketed.
 */
export interface SoftmaxCrossEntropy {
  readonly grad: Float32Array;
  readonly losses: Float32Array;
}

/**
 * One step of a fused optimiser update ({@link Kernels.optimizerStep}). Every operation is one
 * float32 operation (no fused multiply-add), on float32 coefficients from
 * {@link optimizerCoefficients}, in this order:
 * - `adam`, coefficients `[b1, 1 - b1, b2, 1 - b2, lr / (1 - b1^t), 1 / sqrt(1 - b2^t), eps, lr * wd]`:
 *   `m = b1 m + (1 - b1) g`, `v = b2 v + (1 - b2) (g g)`,
 *   `p = p - ((lr / (1 - b1^t)) m / (sqrt(v) (1 / sqrt(1 - b2^t)) + eps) + (lr wd) p)`; `step` is t, from 1.
 * - `sgd`, coefficients `[mu, wd, lr]`: `v = (mu v + g) + wd p`, `p = p - lr v`.
 */
export type OptimizerRule =
  | {
      readonly kind: 'adam';
      readonly learningRate: number;
      readonly beta1: number;
      readonly beta2: number;
      readonly epsilon: number;
      readonly weightDecay: number;
      readonly step: number;
    }
  | {
      readonly kind: 'sgd';
      readonly learningRate: number;
      readonly momentum: number;
      readonly weightDecay: number;
    };

/** The optimisers with a fused kernel. */
export type OptimizerKind = OptimizerRule['kind'];

/**
 * An optimiser's moments, resident on the backend that made them (Adam: m and v per parameter
 * array; SGD: the velocity). Release it with `dispose()`.
 */
export interface OptimizerState {
  readonly backend: string;
  readonly kind: OptimizerKind;
  readonly sizes: readonly number[];
  readonly disposed: boolean;
  /** Copies of the moments: per parameter array, Adam's m then v, SGD's velocity. */
  read(): Float32Array[];
  /** Releases the resident memory. Idempotent. */
  dispose(): void;
}

/** The float32 coefficients of a step, computed in float64 and rounded once (see {@link OptimizerRule}). */
export function optimizerCoefficients(r: OptimizerRule): Float32Array {
  return r.kind === 'adam'
    ? Float32Array.of(
        r.beta1,
        1 - r.beta1,
        r.beta2,
        1 - r.beta2,
        r.learningRate / (1 - r.beta1 ** r.step),
        1 / Math.sqrt(1 - r.beta2 ** r.step),
        r.epsilon,
        r.learningRate * r.weightDecay,
      )
    : Float32Array.of(r.momentum, r.weightDecay, r.learningRate);
}

/** Kernels a backend may leave out; the optional corpus ones travel with the corpus group. */
export type OptionalKernelName =
  | 'readCorpus'
  | 'exportCorpus'
  | 'importCorpus'
  | 'mergeCorpora'
  | 'corpusSearchAllowed'
  | 'createOptimizerState'
  | 'optimizerStep'
  | 'columnSums'
  | 'softmaxCrossEntropy';

/** Names of the kernels every backend is resolved for. */
export type KernelName = Exclude<keyof Kernels, OptionalKernelName>;

/** All kernel names. */
export const KERNEL_NAMES: readonly KernelName[] = [
  'rowNorms',
  'normalizeRows',
  'cosineRows',
  'cosineMatrix',
  'topK',
  'createCorpus',
  'corpusSearch',
  'corpusMatrix',
  'matmul',
  'addBias',
  'activation',
  'activationGrad',
];

/** The optimiser kernels: a backend implements both or neither (the state belongs to its maker). */
export const OPTIMIZER_KERNELS = ['createOptimizerState', 'optimizerStep'] as const;

/** The kernels that work on resident corpora: a backend implements all three or none. */
export const CORPUS_KERNELS: readonly KernelName[] = ['createCorpus', 'corpusSearch', 'corpusMatrix'];

/** What a backend reports about the memory it holds, for leak checks. */
export interface BackendMemory {
  /** Resident corpora not yet disposed. */
  residentHandles: number;
  /** Bytes held for data (wasm heap in use, GPU textures, tfjs bytes), when the backend knows. */
  bytes?: number;
  /** Engine-level objects alive (tfjs tensors, GPU textures), when the backend has them. */
  objects?: number;
}

/** Kernels a backend may take off the admission gate (see {@link Backend.ungated}). */
export type UngatedKernelName =
  | 'cosineRows'
  | 'cosineMatrix'
  | 'topK'
  | 'rowNorms'
  | 'normalizeRows'
  | 'createCorpus'
  | 'corpusSearch'
  | 'corpusMatrix';

/** Every kernel a backend may declare ungated. */
export const UNGATED_KERNELS: readonly UngatedKernelName[] = [
  'cosineRows',
  'cosineMatrix',
  'topK',
  'rowNorms',
  'normalizeRows',
  'createCorpus',
  'corpusSearch',
  'corpusMatrix',
];

/** Kernels a backend may declare self-checked (see {@link Backend.selfChecked}). */
export type SelfCheckedKernelName = 'cosineMatrix' | 'corpusMatrix' | DenseKernelName;

/** The dense-algebra kernels (the ones `@cosinekit/nn` drives), whose outputs need only be finite. */
export type DenseKernelName = 'matmul' | 'addBias' | 'activation' | 'activationGrad';

/** Every kernel a backend may declare self-checked, cosine kernels first. */
export const SELF_CHECKED_KERNELS: readonly SelfCheckedKernelName[] = [
  'cosineMatrix',
  'corpusMatrix',
  'matmul',
  'addBias',
  'activation',
  'activationGrad',
];

/**
 * A compute engine. It implements the kernels it accelerates; the registry falls back to the
 * reference backend for the others, kernel by kernel.
 */
export interface Backend {
  /** Unique name, e.g. `'wasm'`, `'tfjs-wasm'`. */
  readonly name: string;
  /** The kernels this backend implements. */
  readonly kernels: Partial<Kernels>;
  /**
   * Optional: kernels the kit may hand the caller's rows as they are, without the admission gate's
   * copy, finite check and rescale. A short call then costs little more than its kernel, and a
   * large one (one query against 100,000 rows handed over as an array) does not pay for a pass in
   * JavaScript over rows the kernel copies anyway. Listing a kernel promises, for that kernel:
   * 1. it answers synchronously, reading its inputs only while it runs, never writing them and
   *    keeping none of them (so the answer is for the inputs as they were at call time), in an
   *    array of its own;
   * 2. for finite float32 inputs of any magnitude it is as exact as for rows the gate rescaled:
   *    no square overflows, flushes to zero or loses digits;
   * 3. an input row holding NaN or ±Infinity never gets an answer that looks valid: `cosineRows`
   *    and `normalizeRows` answer NaN for that row, `rowNorms` NaN or +Infinity (or they throw);
   *    `cosineMatrix`, `topK`, `createCorpus`, `corpusSearch` and `corpusMatrix` throw.
   * For `corpusSearch` and `corpusMatrix` these promises are about the queries, at every storage
   * the backend keeps (the corpus's rows were admitted when it was made). The kit holds the kernel
   * to it: it scans a block of fewer than 65,536 query values for NaN and ±Infinity itself (Q x d
   * reads in JavaScript); before it first hands a corpus's kernel a larger block, it hands it three
   * probes of two queries each, all ones (which the kernel must answer), then with NaN in the
   * second query's last place, then -Infinity in its first (which it must refuse by throwing). A
   * kernel that does is handed that corpus's large blocks unread; one that does not has them
   * scanned too, so it is never handed a non-finite query. The kit hands a corpus
   * call the caller's queries only when nothing is queued on that corpus and the call is one
   * kernel call (one segment with no removed rows, no filter, no abort signal); otherwise it
   * snapshots them as the gate does, since a queued call runs after the caller may have changed
   * them.
   * For `createCorpus` the kit uses this only where the backend can give the rows back without a
   * copy of the kit's (float32: `readCorpus` or `exportCorpus`; int8 and float16: `exportCorpus`
   * and `importCorpus`), for every storage: the handle must hold a copy of the rows made within the
   * call, and a quantised one the codes and scales the backend gives rows the gate rescaled (a row
   * whose largest magnitude is outside [2^-40, 2^40] multiplied by the power of two that puts it in
   * [0.5, 1), each value rounded once to float32), so that quantising stays exact at any magnitude.
   * The kit checks each such answer as it checks any other (a kernel declared both ungated and
   * {@link Backend.selfChecked} keeps both promises for the caller's rows, so its values are not
   * read); a non-finite one, or any other failure, sends the call through the gate after all,
   * which refuses bad input with the usual error naming the argument. A backend without this (the
   * default) has every input gated.
   */
  readonly ungated?: readonly UngatedKernelName[];
  /**
   * Optional: kernels whose outputs need no pass of the kit's output check. A full similarity
   * matrix is written once by its kernel; the kit's check reads it all again on the calling thread
   * (3-6% of a large product; for the dense kernels of a training step, about 1 ns a value in
   * JavaScript against a tenth of that in the kernel's own SIMD: for `matmul` a quarter of the
   * product at k = 64). Listing a kernel promises, for inputs the kit admitted (for the dense
   * kernels: any inputs):
   * 1. it answers a `Float32Array` of exactly the contract's length (into `out` when given);
   * 2. every value is finite and, for `cosineMatrix` and `corpusMatrix`, within [-1, 1]: the
   *    kernel clamps where it writes each value; a dense kernel checks its output (an overflow
   *    to ±Infinity, a NaN from an input) where it computed it, before handing it over;
   * 3. a kernel that finds it cannot keep 1 or 2 throws instead of answering (the call then fails
   *    with `BACKEND_ERROR`, as it would in the check). A dense kernel given NaN or ±Infinity, or
   *    whose values overflow float32, throws: it never answers a non-finite value.
   * The kit still checks 1 (no pass over the values), and trusts 2 only from whoever runs the
   * kernel: the backend for its own kernel, the reference for the reference's (known by identity,
   * so a kernel copied in from elsewhere keeps its check). It also reads a sample of 257 values
   * spread over the answer: a backend that broke the promise wholesale (NaN, or cosines of 1.5,
   * throughout) is then checked in full and refused; a single stray value can still pass, which is
   * what the declaration trades for speed. A backend without this (the default) has every output
   * checked. `@cosinekit/conformance` proves the promise on hostile inputs.
   */
  readonly selfChecked?: readonly SelfCheckedKernelName[];
  /** Compiles, connects or allocates. Throwing (or rejecting) means "not available here". */
  init?(): Awaitable<void>;
  /**
   * Releases everything the backend holds. Final: afterwards each of the backend's own kernels
   * throws (or rejects with) `DISPOSED` naming `backend` (see `disposedBackend` in
   * `@cosinekit/core/backend`), so a kit on it fails by name instead of quietly reopening an engine
   * or a device; its resident corpora are disposed with it. `memory()` and `describe()` keep
   * answering. Kernels it leaves to the reference fallback hold nothing and keep working.
   */
  dispose?(): Awaitable<void>;
  /** Memory currently held, for leak checks. */
  memory?(): BackendMemory;
  /** What actually runs: engine, mode, SIMD variant, threads, device. Shown by the benchmark. */
  describe?(): Record<string, string | number | boolean>;
}

/** Creates a backend; called by the registry the first time the backend is needed. */
export type BackendFactory = () => Awaitable<Backend>;
