import { checkK, checkStorageOptions } from './check.js';
import {
  type Awaitable,
  type CorpusOptions,
  type CorpusStorage,
  type DenseKernelName,
  type KernelName,
  type Kernels,
  type Matrix,
  type OptimizerKind,
  type OptimizerState,
  type OptionalKernelName,
  type ResidentCorpus,
  resolveCorpusOptions,
  type SelfCheckedKernelName,
  type StoredCorpus,
  type TopKResult,
  type UngatedKernelName,
} from './contract.js';
import { checkStoredRows } from './corpus-file.js';
import {
  argError,
  argErrorOf,
  backendError,
  type CosineKitError,
  disposeQuietly,
  type ErrorCode,
  errorText,
  isAllocationFailure,
  isCosineKitError,
  reading,
} from './errors.js';
import { allFinite, checkFinite, tameRows } from './gate.js';
import { checkColumnSums } from './kernels/column-sums.js';
import { clampCos } from './kernels/cosine-rule.js';
import { checkSoftmaxArgs } from './kernels/softmax.js';
import { callersResizable, lengthCanChange, mayShare } from './out.js';
import { referenceKernels } from './reference.js';
import {
  tableActivation,
  tableAgree,
  tableCorpus,
  tableIntact,
  tableMatrix,
  tableOptimizerArrays,
  tableOptimizerRule,
  tableOptimizerState,
  tableOut,
  tableVector,
} from './table-args.js';
import { describeType, plainFloat32, plainOf, TYPED_LENGTH, valueText, viewArg } from './tensor.js';
import { bounded } from './timer.js';

/**
 * A real Float32Array: `instanceof` alone passes a Proxy around one, whose `length` then throws a
 * raw TypeError from the checks below (a backend's answer escaped every public call so).
 */
function isF32(v: unknown): v is Float32Array {
  return is(v, Float32Array);
}

/**
 * `v instanceof type`, and a real view: false for a value that cannot be inspected (a revoked
 * Proxy throws from `instanceof`), which the checks then refuse as the backend's answer.
 */
function is(
  v: unknown,
  type: typeof Float32Array | typeof Int32Array | typeof Uint16Array | typeof Int8Array,
): boolean {
  try {
    // A subclass whose `length` getter lies (3 values held, 1 claimed) passed the count checks, and
    // its values went to the caller: the engine's own length must agree.
    return v instanceof type && ArrayBuffer.isView(v) && TYPED_LENGTH.call(v) === (v as Float32Array).length;
  } catch {
    return false;
  }
}

/**
 * A sample of a self-checked answer (see `Backend.selfChecked`): up to 257 values, evenly spread,
 * finite and (with `bound`) within it up to rounding. The declaration spares the answer a full
 * read; the sample costs nothing beside it, and a backend that broke its promise wholesale (NaN
 * or cosines of 1.5 throughout) is then read in full and refused rather than passed on.
 */
function sampled(o: Float32Array, bound = Number.POSITIVE_INFINITY): boolean {
  const n = o.length;
  const step = Math.max(1, Math.floor(n / 256));
  const lim = bound + 1e-3;
  for (let i = 0; i < n; i += step) if (!(Math.abs(o[i]) <= lim)) return false;
  return n === 0 || Math.abs(o[n - 1]) <= lim;
}

/**
 * True for a buffer whose length can change (a resizable ArrayBuffer or a growable
 * SharedArrayBuffer) that is not a caller's own `out`.
 */
function resizes(b: ArrayBufferLike): boolean {
  return lengthCanChange(b) && !callersResizable.has(b);
}

/** A real Int32Array (see {@link isF32}). */
function isI32(v: unknown): v is Int32Array {
  return is(v, Int32Array);
}

/**
 * The kit's side of the contract with a backend it does not control. Backends are a plug-in point,
 * so the kit trusts a backend to compute but checks, cheaply, what it hands back:
 * - its exceptions become `BACKEND_ERROR` (naming the backend, the kernel and the public
 *   operation, with the backend's error as `cause`); a `CosineKitError` it raises keeps its code but
 *   is renamed after the public operation and argument;
 * - a kernel that does not settle within the kit's timeout is abandoned with `BACKEND_ERROR`;
 * - outputs must have the contract's type and length, scores must be finite, cosines within
 *   [-1, 1] up to rounding (then clamped, so the promise of the API holds), top-k indices in range
 *   and distinct, in the documented order (reordered when a backend returns equal scores out of
 *   index order), and a resident corpus must report the shape it was given.
 *
 * Each check is one read-only pass over an output, small next to the work that produced it.
 */

/** Cosines beyond [-1, 1] by at most this are rounding, and clamped; further out is a broken kernel. */
const COS_SLACK = 1e-3;

/** The largest float32. */
const F32_MAX = 3.4028234663852886e38;

/**
 * The largest |v| of `x`, NaN when `x` holds NaN: four chains of maxima, in a function of its own
 * for the reason {@link allFinite} is. The check of a cosine or unit output reads only this when
 * every value is within [-1, 1] (the usual case): inside `floats`, its loop of two comparisons and
 * a flag per value ran at about 5 ns a value (1.6 ns here), more than normalising the rows in wasm.
 */
function largestMagnitude(x: Float32Array): number {
  const n = x.length;
  const n4 = n - (n % 4);
  let a = 0;
  let b = 0;
  let c = 0;
  let e = 0;
  for (let i = 0; i < n4; i += 4) {
    a = Math.max(a, Math.abs(x[i]));
    b = Math.max(b, Math.abs(x[i + 1]));
    c = Math.max(c, Math.abs(x[i + 2]));
    e = Math.max(e, Math.abs(x[i + 3]));
  }
  for (let i = n4; i < n; i++) a = Math.max(a, Math.abs(x[i]));
  return Math.max(Math.max(a, b), Math.max(c, e));
}

/**
 * How far from 1 the norm of a normalised row may be: four times {@link SCORE_TOLERANCE} (as
 * `@cosinekit/conformance` bounds it), or the float32 rounding of a sum over `d` values when larger.
 */
function unitSlack(d: number): number {
  return 4 * SCORE_TOLERANCE + d * 2 ** -24;
}

/** Rows of a `normalizeRows` answer whose direction {@link unitRowsProblem} compares with their input. */
const UNIT_DIRECTION_SAMPLE = 8;

/**
 * What is wrong with `out` as the normalised rows of `x`, or `null`: every row of unit length
 * within {@link unitSlack}, or zero where the row of `x` is zero; and the rows of an even sample
 * (one row in eight, two at least and {@link UNIT_DIRECTION_SAMPLE} at most, the first and the
 * last among them) pointing along their
 * input, their cosine with it within that slack of 1, a zero row staying zero. It reads the output
 * once, as the check of the values' range it replaces did (rows of 0.1, or rows scaled by 0.9,
 * passed that one), and the input's sampled rows: a systematic fault (rows negated, permuted,
 * another row's) shows in any of them.
 */
function unitRowsProblem(out: Float32Array, x: Matrix): string | null {
  const { rows, cols: d, data } = x;
  const slack = unitSlack(d);
  // |norm - 1| <= slack as bounds on the sum of squares: no square root a row.
  const lo = (1 - slack) ** 2;
  const hi = (1 + slack) ** 2;
  // One row in eight, two at least (the first and the last), so that a small call pays little.
  const count = Math.min(rows, UNIT_DIRECTION_SAMPLE, Math.max(2, Math.ceil(rows / 8)));
  const sampled = (u: number) =>
    u >= count ? -1 : count === rows ? u : Math.round((u * (rows - 1)) / (count - 1));
  let u = 0;
  let next = sampled(0);
  for (let i = 0; i < rows; i++) {
    const base = i * d;
    const end = base + d;
    // Two chains of each sum (a single chain is bound by its add latency).
    let a = 0;
    let b = 0;
    if (i !== next) {
      let j = base;
      for (; j + 2 <= end; j += 2) {
        a += out[j] * out[j];
        b += out[j + 1] * out[j + 1];
      }
      if (j < end) a += out[j] * out[j];
      const ss = a + b;
      if (ss >= lo && ss <= hi) continue;
      if (ss === 0) {
        for (let j = base; j < end; j++)
          if (data[j] !== 0) return `returned a zero row ${i} for a row that is not zero.`;
        continue;
      }
      return `returned row ${i} of norm ${Math.sqrt(ss)} (unit length within ${slack} at d = ${d}, or zero, was due).`;
    }
    // A sampled row: its norm, and its cosine with its input (float32 values square within
    // float64's range, subnormals included, so nothing needs rescaling).
    next = sampled(++u);
    let dot = 0;
    let xx = 0;
    let dot1 = 0;
    let xx1 = 0;
    let j = base;
    for (; j + 2 <= end; j += 2) {
      const o0 = out[j];
      const o1 = out[j + 1];
      const x0 = data[j];
      const x1 = data[j + 1];
      a += o0 * o0;
      b += o1 * o1;
      dot += o0 * x0;
      dot1 += o1 * x1;
      xx += x0 * x0;
      xx1 += x1 * x1;
    }
    if (j < end) {
      a += out[j] * out[j];
      dot += out[j] * data[j];
      xx += data[j] * data[j];
    }
    const oo = a + b;
    xx += xx1;
    if (xx === 0 || oo === 0) {
      if (xx !== oo)
        return xx === 0
          ? `returned a non-zero row ${i} for a zero row.`
          : `returned a zero row ${i} for a row that is not zero.`;
      continue;
    }
    if (!(oo >= lo && oo <= hi))
      return `returned row ${i} of norm ${Math.sqrt(oo)} (unit length within ${slack} at d = ${d}, or zero, was due).`;
    const cos = (dot + dot1) / Math.sqrt(xx * oo);
    if (!(cos >= 1 - slack))
      return `returned row ${i} pointing away from its input (cosine ${cos} with it, recomputed in float64).`;
  }
  return null;
}

/**
 * Whether every value of `q` is finite: the queries of an ungated corpus call whose kernel did not
 * refuse the kit's probes (see `CheckedKernels.#refusesNonFinite`) are scanned before the kernel
 * sees them.
 */
function finiteQueries(q: Matrix): boolean {
  return allFinite(q.data, q.data.length);
}

/**
 * The probes of an ungated corpus kernel: two queries of `d` values, all ones (which it must
 * answer), then the second holding NaN in its last place, then -Infinity in its first (which it
 * must refuse).
 */
function queryProbes(d: number): Matrix[] {
  return [
    [0, 1],
    [2 * d - 1, Number.NaN],
    [d, Number.NEGATIVE_INFINITY],
  ].map(([at, v]) => {
    const data = new Float32Array(2 * d).fill(1);
    data[at] = v;
    return { data, rows: 2, cols: d };
  });
}

/**
 * Fewest query values for which a call on an ungated corpus kernel has the kernel probed (see
 * `CheckedKernels.#refusesNonFinite`) rather than its queries scanned: below, the scan (about
 * 1 ns a value) costs less than the probes (tens of microseconds each: a refusal is an error made),
 * and a corpus made, searched once and disposed paid them all (a review: 4-6x its first search).
 */
const PROBE_MIN_VALUES = 65_536;

/** What the guard needs to know about the kernels it watches. */
export interface GuardTarget {
  /** For each kernel, the backend that runs it (the backend itself or `'reference'`). */
  readonly providers: Readonly<Record<KernelName, string>>;
}

/** A kernel the guard checks: the resolved ones and the optional corpus kernels. */
type GuardedKernel = KernelName | OptionalKernelName;

/** Watches one kit's calls into its kernels. */
export class Guard {
  readonly #providers: Readonly<Record<string, string>>;
  readonly #timeoutMs: number;

  constructor(target: GuardTarget, timeoutMs: number) {
    this.#providers = target.providers;
    this.#timeoutMs = timeoutMs;
  }

  /** The backend that runs `kernel`. */
  provider(kernel: KernelName | OptionalKernelName): string {
    const group =
      kernel === 'readCorpus' ||
      kernel === 'exportCorpus' ||
      kernel === 'importCorpus' ||
      kernel === 'mergeCorpora' ||
      kernel === 'corpusSearchAllowed';
    return this.#providers[group ? 'createCorpus' : kernel] ?? 'unknown';
  }

  /**
   * Runs `run` (a call of `kernel` serving public operation `op` on argument `arg`), turning its
   * failures into errors that name `op` and `arg`, and bounding how long it may take.
   */
  call<T>(
    op: string,
    arg: string,
    kernel: KernelName | OptionalKernelName,
    run: () => Awaitable<T>,
  ): Awaitable<T> {
    let pending: Awaitable<T>;
    let thenable: boolean;
    try {
      pending = run();
      // An answer whose `then` cannot be read (a throwing getter, a revoked Proxy) is the backend's fault.
      thenable = isThenable(pending);
    } catch (e) {
      throw this.failed(e, op, arg, kernel);
    }
    // A synchronous kernel stays synchronous: no promise, no timer.
    if (!thenable) return pending;
    return this.watch(pending as Promise<T>, op, arg, kernel);
  }

  /** A kernel's own failure, renamed after the public operation (see `rename`). */
  failed(e: unknown, op: string, arg: string, kernel: GuardedKernel): CosineKitError {
    return rename(e, op, arg, this.provider(kernel), kernel);
  }

  /** A kernel's pending answer, abandoned after the timeout, its failure renamed. */
  watch<T>(pending: Promise<T>, op: string, arg: string, kernel: GuardedKernel): Promise<T> {
    return this.#watch(pending, op, arg, this.provider(kernel), kernel);
  }

  async #watch<T>(pending: Promise<T>, op: string, arg: string, backend: string, kernel: string): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      if (!bounded(this.#timeoutMs)) return await pending;
      const ms = this.#timeoutMs;
      return await Promise.race([
        pending,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            // A corpus handle the abandoned kernel makes later is nobody's: released when it comes.
            if (kernel === 'createCorpus' || kernel === 'importCorpus' || kernel === 'mergeCorpora')
              Promise.resolve(pending).then(
                (h) => disposeQuietly(h as { dispose?: () => unknown }),
                () => undefined,
              );
            reject(
              backendError(
                op,
                arg,
                backend,
                kernel,
                `did not settle within ${ms} ms (raise createCosineKit({ timeoutMs }) for longer work).`,
              ),
            );
          }, ms);
        }),
      ]);
    } catch (e) {
      throw rename(e, op, arg, backend, kernel);
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }

  /**
   * Checks a float output of `length` values. `kind` says what the values are: cosines (finite,
   * within [-1, 1] up to rounding; clamped in place), norms (finite, >= 0), unit rows (finite,
   * |v| <= 1 up to rounding), any finite values, or (`'shape'`) values its caller checks itself.
   */
  floats(
    op: string,
    arg: string,
    kernel: KernelName | OptionalKernelName,
    answer: unknown,
    length: number,
    kind: 'cosine' | 'norm' | 'unit' | 'finite' | 'shape',
  ): Float32Array {
    if (!isF32(answer))
      return this.#fail(
        op,
        arg,
        kernel,
        `returned ${describeType(answer) === 'Float32Array' ? 'an object posing as a Float32Array (a Proxy?)' : describeType(answer)} instead of a Float32Array.`,
      );
    // A subclass whose iterator, slice or map lie showed the caller other values than those
    // checked: the kit hands on a plain view of the same memory.
    const out = plainFloat32(answer);
    if (out.length !== length)
      return this.#fail(op, arg, kernel, `returned ${out.length} values where ${length} were due.`);
    if (resizes(out.buffer))
      return this.#fail(
        op,
        arg,
        kernel,
        'returned values on a resizable buffer, whose length can change under the caller who keeps them.',
      );
    const n = out.length;
    // The values checked by the caller (normalised rows, by their norms).
    if (kind === 'shape') return out;
    if (kind === 'finite') {
      if (!allFinite(out, out.length)) {
        const v = out[firstBad(out)];
        const e = backendError(op, arg, this.provider(kernel), kernel, `returned ${v} among its values.`);
        // ±Infinity answered (not NaN): a float32 sum that may be the caller's values' overflow.
        if (!Number.isNaN(v)) infiniteAnswers.add(e);
        throw e;
      }
      return out;
    }
    // Every value within [-1, 1] (NaN is not): nothing to report or clamp.
    if (kind !== 'norm' && largestMagnitude(out) <= 1) return out;
    const lo = kind === 'norm' ? 0 : -1 - COS_SLACK;
    const hi = kind === 'norm' ? Number.MAX_VALUE : 1 + COS_SLACK;
    let clamp = false;
    for (let i = 0; i < n; i++) {
      const v = out[i];
      if (!(v >= lo && v <= hi))
        this.#fail(op, arg, kernel, `returned ${v} at position ${i}, outside ${describe(kind)}.`);
      if (v > 1 || v < -1) clamp = true;
    }
    if (clamp && kind === 'cosine') for (let i = 0; i < n; i++) out[i] = clampCos(out[i]);
    return out;
  }

  #fail(op: string, arg: string, kernel: GuardedKernel, problem: string): never {
    throw backendError(op, arg, this.provider(kernel), kernel, problem);
  }

  /**
   * Checks a top-k answer for `queries` queries over `rows` corpus rows: shape, indices in range
   * and distinct per query, cosine scores, and best-first order with ties to the lower index
   * (restored when the backend returned equal scores out of index order).
   */
  topK(
    op: string,
    arg: string,
    kernel: GuardedKernel,
    r: unknown,
    queries: number,
    k: number,
    rows: number,
    allow?: Uint8Array,
  ): TopKResult {
    const fail = (problem: string): never => this.#fail(op, arg, kernel, problem);
    if (typeof r !== 'object' || r === null)
      return fail(`returned ${describeType(r)} instead of a top-k result.`);
    // Each field read once: a getter that throws (or a revoked Proxy) is this backend's answer failing.
    let indices: unknown;
    let scores: unknown;
    try {
      ({ indices, scores } = r as Partial<TopKResult>);
    } catch (e) {
      return fail(`returned a top-k result whose fields cannot be read (${errorText(e)}).`);
    }
    if (!isI32(indices) || !isF32(scores))
      return fail('returned a result without Int32Array indices and Float32Array scores.');
    if (indices.length !== queries * k || scores.length !== queries * k)
      return fail(
        `returned ${indices.length} indices and ${scores.length} scores where ${queries} x ${k} were due.`,
      );
    if (resizes(indices.buffer))
      return fail('returned indices on a resizable buffer, whose length can change under the caller.');
    return this.#ranked(
      fail,
      plainOf(indices, Int32Array),
      this.floats(op, arg, kernel, scores, queries * k, 'cosine'),
      queries,
      k,
      rows,
      allow,
    );
  }

  /** The order and distinctness checks of {@link Guard.topK} on plain arrays. */
  #ranked(
    fail: (problem: string) => never,
    indices: Int32Array,
    scores: Float32Array,
    queries: number,
    k: number,
    rows: number,
    allow: Uint8Array | undefined,
  ): TopKResult {
    const seen = k > 32 ? new Uint8Array(rows) : null;
    for (let q = 0; q < queries; q++) {
      const base = q * k;
      let ordered = true;
      for (let t = 0; t < k; t++) {
        const ix = indices[base + t];
        if (!(ix >= 0 && ix < rows)) fail(`returned index ${ix} for query ${q}, outside [0, ${rows}).`);
        if (allow && allow[ix] !== 1) fail(`returned index ${ix} for query ${q}, a row the filter excludes.`);
        if (t > 0) {
          const a = scores[base + t - 1];
          const b = scores[base + t];
          if (a < b || (a === b && indices[base + t - 1] > ix)) ordered = false;
        }
      }
      if (!ordered) reorder(indices, scores, base, k);
      if (hasRepeat(indices, base, k, seen)) fail(`returned the same index twice for query ${q}.`);
    }
    return { queries, k, indices, scores };
  }

  /**
   * Checks a top-k answer against the rows the kernel was given (`q`, `c`; the gate's rescaling
   * keeps cosines), recomputing cosines in float64:
   * - every score is the cosine of the row it names: one further than {@link scoreTolerance} (a
   *   zero row's cosine being 0) is `BACKEND_ERROR` (plausible scores of other rows);
   * - the rows are the top k, by a sample: up to {@link TOPK_SAMPLES} rows the answer does not name,
   *   spread over the corpus (other rows for each query), must not beat its lowest score by more
   *   than the tolerance, or it is `BACKEND_ERROR` (true scores of rows that are not the best).
   *
   * Bounded so that it stays small next to the search: every named score for k up to
   * {@link TOPK_NAMED} and that many spread over the k (the first and the last among them) past it,
   * for every query up to {@link TOPK_QUERIES} and that many spread over them past it (checking
   * every score of top-2000 of 2000 rows for 100 queries cost 2.6x the reference's whole search),
   * and fewer queries (down to {@link TOPK_MIN_QUERIES}) where that would pass one cosine per
   * {@link TOPK_WORK_SHARE} of the search's, and then fewer named scores and samples of each (four
   * and two at least) where even those would, unless the whole check reads under
   * {@link TOPK_CHECK_VALUES} values.
   * A sample cannot prove an answer complete: it catches an answer that misses many better rows,
   * and, over many queries, one that misses a few.
   */
  topKScores(op: string, arg: string, kernel: GuardedKernel, t: TopKResult, q: Matrix, c: Matrix): void {
    const d = q.cols;
    const n = c.rows;
    const { data: qd } = q;
    const { data: cd } = c;
    const samples = Math.min(TOPK_SAMPLES, n - t.k);
    const tol = scoreTolerance(d);
    const named = Math.min(t.k, TOPK_NAMED);
    // Queries checked: at most TOPK_QUERIES, and within a share of the search's own work (its
    // queries x rows cosines), TOPK_MIN_QUERIES at least. The check recomputes each cosine in scalar
    // float64: bounded by queries alone, it cost 30x the wasm kernel at 256 x 100 x 3072, k = 64
    // (named and sampled rows were nearly every row), 3.3x the whole reference search.
    const perQuery = named + samples;
    const checked = Math.min(
      t.queries,
      TOPK_QUERIES,
      Math.max(TOPK_MIN_QUERIES, Math.floor((t.queries * n) / (TOPK_WORK_SHARE * perQuery))),
    );
    // Where the floor of queries binds on a search of few rows and long ones, each checked query
    // recomputes fewer of its scores, four named (its first and last among them) and two sampled
    // rows at least, so the check stays near its share: 16 queries x 72 cosines against 16 x 100
    // rows of 4097 cost 8.6x the kernel (a probe). A check of under TOPK_CHECK_VALUES values is
    // whole whatever its share (cut by the share alone, 1 query x 10 rows at k = 10 checked 6 of
    // its 10 scores; a review).
    const each = Math.max(
      6,
      Math.floor((t.queries * n) / (TOPK_WORK_SHARE * checked)),
      Math.floor(TOPK_CHECK_VALUES / (checked * Math.max(1, d))),
    );
    const namedEach = Math.min(named, Math.max(4, each - samples));
    const samplesEach = Math.min(samples, Math.max(2, each - namedEach));
    for (let v = 0; v < checked; v++) {
      const i = checked === t.queries ? v : Math.round((v * (t.queries - 1)) / (checked - 1));
      let qq = 0;
      for (let j = i * d; j < (i + 1) * d; j++) qq += qd[j] * qd[j];
      const qi = i * d;
      // Four running sums of each (one chain of float64 adds was bound by its latency: the check
      // cost about 70 of the kernel's SIMD cosines per cosine).
      const cosine = (r: number): number => {
        const ri = r * d;
        let d0 = 0;
        let d1 = 0;
        let d2 = 0;
        let d3 = 0;
        let c0 = 0;
        let c1 = 0;
        let c2 = 0;
        let c3 = 0;
        let j = 0;
        for (; j + 4 <= d; j += 4) {
          const x0 = cd[ri + j];
          const x1 = cd[ri + j + 1];
          const x2 = cd[ri + j + 2];
          const x3 = cd[ri + j + 3];
          d0 += qd[qi + j] * x0;
          d1 += qd[qi + j + 1] * x1;
          d2 += qd[qi + j + 2] * x2;
          d3 += qd[qi + j + 3] * x3;
          c0 += x0 * x0;
          c1 += x1 * x1;
          c2 += x2 * x2;
          c3 += x3 * x3;
        }
        for (; j < d; j++) {
          const x = cd[ri + j];
          d0 += qd[qi + j] * x;
          c0 += x * x;
        }
        const dot = d0 + d1 + (d2 + d3);
        const cc = c0 + c1 + (c2 + c3);
        return qq > 0 && cc > 0 ? Math.min(1, Math.max(-1, dot / Math.sqrt(qq * cc))) : 0;
      };
      const first = i * t.k;
      let lowest = Number.POSITIVE_INFINITY;
      for (let s = first; s < first + t.k; s++) if (t.scores[s] < lowest) lowest = t.scores[s];
      for (let u = 0; u < namedEach; u++) {
        const s = first + (namedEach === t.k ? u : Math.round((u * (t.k - 1)) / (namedEach - 1)));
        const r = t.indices[s];
        const cos = cosine(r);
        if (!(Math.abs(t.scores[s] - cos) <= tol))
          this.#fail(
            op,
            arg,
            kernel,
            `returned score ${t.scores[s]} for row ${r} of query ${i}, whose cosine is ${cos} (recomputed in float64; tolerance ${tol} at d = ${d}).`,
          );
      }
      for (let u = 0; u < samplesEach; u++) {
        // Positions (u + 1 + i x samples) x golden ratio (mod 1) of the way through the corpus.
        const f = (u + 1 + i * samplesEach) * 0.6180339887498949;
        const r = Math.floor((f - Math.floor(f)) * n);
        let named = false;
        for (let s = first; s < first + t.k && !named; s++) named = t.indices[s] === r;
        if (named) continue;
        const cos = cosine(r);
        if (cos > lowest + tol)
          this.#fail(
            op,
            arg,
            kernel,
            `left out row ${r} of query ${i}, whose cosine ${cos} beats the lowest score ${lowest}.`,
          );
      }
    }
  }

  /**
   * Checks an exported stored representation against the handle it came from: its shape and
   * storage, every section its storage needs with the right type and length, finite values.
   */
  stored(op: string, arg: string, s: unknown, h: ResidentCorpus): StoredCorpus {
    const fail = (problem: string): never => {
      throw backendError(op, arg, this.provider('exportCorpus'), 'exportCorpus', problem);
    };
    if (typeof s !== 'object' || s === null)
      return fail(`returned ${describeType(s)} instead of a stored corpus.`);
    // Every field read once, into a copy the kit uses from here: a getter that throws (or a revoked
    // Proxy) is this backend's answer failing, and one that answers differently later is not read again.
    let x: StoredCorpus;
    try {
      const { rows, cols, storage, rerank, exact, half, codes, scales } = s as StoredCorpus;
      x = { rows, cols, storage, rerank, exact, half, codes, scales };
    } catch (e) {
      return fail(`returned a stored corpus whose fields cannot be read (${errorText(e)}).`);
    }
    const storage = h.storage ?? 'float32';
    const [rows, cols] = [rowsOf(h), colsOf(h)];
    if (x.rows !== rows || x.cols !== cols || x.storage !== storage)
      return fail(
        `returned ${x.rows} x ${x.cols} ${x.storage} rows for a ${rows} x ${cols} ${storage} corpus.`,
      );
    if (!(Number.isInteger(x.rerank) && x.rerank >= 0)) return fail(`returned rerank ${x.rerank}.`);
    const n = x.rows * x.cols;
    const want = (ok: boolean, what: string) => {
      if (!ok) fail(`returned no ${what}.`);
    };
    // Each section the storage holds: checked, on a buffer of fixed length (floats() refuses
    // others), and handed on as a plain array of its type (a subclass's iterator may lie).
    const fixed = (v: ArrayBufferView) => {
      if (resizes(v.buffer)) fail('returned a section on a resizable buffer, whose length can change.');
    };
    if (storage === 'float32' || x.rerank > 0) {
      want(isF32(x.exact) && x.exact.length === n, 'float32 rows of the right length');
      x = { ...x, exact: this.floats(op, arg, 'exportCorpus', x.exact, n, 'unit') };
    }
    if (storage === 'float16') {
      want(is(x.half, Uint16Array) && (x.half as Uint16Array).length === n, 'binary16 rows');
      fixed(x.half!);
      x = { ...x, half: plainOf(x.half!, Uint16Array) };
    }
    if (storage === 'int8') {
      want(is(x.codes, Int8Array) && (x.codes as Int8Array).length === n, 'int8 codes');
      want(isF32(x.scales) && x.scales.length === x.rows, 'int8 scales');
      fixed(x.codes!);
      x = {
        ...x,
        codes: plainOf(x.codes!, Int8Array),
        scales: this.floats(op, arg, 'exportCorpus', x.scales, x.rows, 'norm'),
      };
    }
    // The rows themselves, as loadCorpus checks a file's: a save must not write what load refuses,
    // and a compaction must not re-store rows scaled to nothing.
    checkStoredRows(x, (problem) => fail(`returned a stored corpus that ${problem}`));
    return x;
  }

  /** Checks that a new resident corpus reports the shape it was given; disposes it if not. */
  corpus(
    op: string,
    arg: string,
    h: unknown,
    rows: number,
    cols: number,
    kernel: 'createCorpus' | 'importCorpus' | 'mergeCorpora' = 'createCorpus',
  ): ResidentCorpus {
    const fail = (problem: string): never => {
      try {
        (h as ResidentCorpus | null)?.dispose?.();
      } catch {
        // The handle is already broken; its own failure to release adds nothing.
      }
      throw backendError(op, arg, this.provider(kernel), kernel, problem);
    };
    if (typeof h !== 'object' || h === null)
      return fail(`returned ${describeType(h)} instead of a corpus handle.`);
    const c = h as ResidentCorpus;
    // Every property the kit reads later, read once now: a getter that throws (or a Proxy's trap)
    // is refused here by name, not thrown raw from a later search or dispose.
    let read: [unknown, unknown, unknown, unknown, unknown, unknown];
    try {
      read = [c.dispose, c.backend, c.rows, c.cols, c.storage, c.disposed];
    } catch (e) {
      return fail(`returned a corpus handle whose properties cannot be read (${errorText(e)}).`);
    }
    const [dispose, backend, r, k, , disposed] = read;
    if (typeof dispose !== 'function') return fail('returned a corpus handle without dispose().');
    if (disposed === true) return fail('returned a corpus handle that is already disposed.');
    if (typeof backend !== 'string') return fail('returned a corpus handle without a backend name.');
    if (r !== rows || k !== cols) return fail(`returned a corpus of ${r} x ${k} for ${rows} x ${cols} rows.`);
    shapes.set(c, { rows, cols });
    return c;
  }
}

/**
 * Each checked corpus handle's shape, as checked: later checks use it rather than read the handle
 * again (a handle whose count changed afterwards made the kit blame the caller's k or answer for
 * rows it never held).
 */
const shapes = new WeakMap<ResidentCorpus, { rows: number; cols: number }>();

/** Rows of corpus handle `h`: as checked when it was made, else as it says. */
function rowsOf(h: ResidentCorpus): number {
  return shapes.get(h)?.rows ?? h.rows;
}

/** Columns of corpus handle `h` (see {@link rowsOf}). */
function colsOf(h: ResidentCorpus): number {
  return shapes.get(h)?.cols ?? h.cols;
}

/** Gives a backend's failure the public operation's name. */
function rename(e: unknown, op: string, arg: string, backend: string, kernel: string): CosineKitError {
  try {
    return renamed(e, op, arg, backend, kernel);
  } catch {
    // A thrown value that cannot even be looked at (an object without a prototype has no
    // toString; a Proxy's traps may throw): still the backend's failure, the value as the cause.
    return backendError(op, arg, backend, kernel, 'threw a value that cannot be read', e);
  }
}

/** Every code of {@link ErrorCode} (the record makes the compiler hold it to the type). */
const STABLE_CODES: ReadonlySet<string> = new Set(
  Object.keys({
    DIMENSION_MISMATCH: true,
    SHAPE_MISMATCH: true,
    EMPTY_INPUT: true,
    NON_FINITE: true,
    INVALID_K: true,
    INVALID_TYPE: true,
    INVALID_ARGUMENT: true,
    DISPOSED: true,
    UNKNOWN_BACKEND: true,
    BACKEND_INIT_FAILED: true,
    UNSUPPORTED: true,
    OUT_OF_MEMORY: true,
    CORRUPT_DATA: true,
    ABORTED: true,
    BACKEND_ERROR: true,
  } satisfies Record<ErrorCode, true>),
);

/**
 * Codes that fault the caller's input. A gated kernel only sees inputs the kit has checked, so one
 * it throws is the backend's failure: it reached the caller as `NON_FINITE` naming their finite
 * rows, with no backend named (a contract probe).
 */
const INPUT_CODES: ReadonlySet<string> = new Set([
  'NON_FINITE',
  'INVALID_K',
  'EMPTY_INPUT',
  'DIMENSION_MISMATCH',
  'SHAPE_MISMATCH',
  'INVALID_TYPE',
]);

function renamed(e: unknown, op: string, arg: string, backend: string, kernel: string): CosineKitError {
  if (isCosineKitError(e)) {
    if (INPUT_CODES.has(e.code))
      return backendError(
        op,
        arg,
        backend,
        kernel,
        `threw ${e.code} for inputs the kit had checked: ${e.message}`,
        e,
      );
    // A corpus the kit hands a kernel is one this backend made (the kit's own calls, whose public
    // name is not the kernel's; a table call passes on the caller's handle): a kernel refusing it
    // as another backend's is its own kernels disagreeing (the reference's exportCorpus spread
    // into a backend with its own createCorpus blamed the caller's corpus; a probe).
    if (e.code === 'INVALID_ARGUMENT' && e.arg === 'corpus' && op !== kernel)
      return backendError(op, arg, backend, kernel, `refused a corpus this backend made: ${e.message}`, e);
    // What the kit knows to be false: a kernel is given no signal, and the kit calling it is not
    // disposed. Passed on, either blamed the caller (an abort they never asked for, a kit they
    // still hold) and named no backend.
    if (e.code === 'ABORTED' || (e.code === 'DISPOSED' && e.arg === 'kit'))
      return backendError(
        op,
        arg,
        backend,
        kernel,
        `threw ${e.code} naming '${e.arg}', which ${e.code === 'ABORTED' ? 'a kernel is given no signal to abort on' : 'is not disposed'}: ${e.message}`,
        e,
      );
    // Codes no kernel can mean of the call it was given: one outside the stable list, no backend
    // to look up, and data found corrupt anywhere but in a stored corpus handed to importCorpus
    // (the backend's own data, not the caller's). Passed on, they blamed the caller's setup or
    // data (a probe).
    const known = STABLE_CODES.has(e.code);
    if (!known || e.code === 'UNKNOWN_BACKEND' || (e.code === 'CORRUPT_DATA' && kernel !== 'importCorpus'))
      return backendError(
        op,
        arg,
        backend,
        kernel,
        `threw ${known ? e.code : `an error with code '${String(e.code)}', which is not one of CosineKit's`}: ${e.message}`,
        e,
      );
    // A kernel names itself and its own parameter; the caller knows the public names. A corpus or
    // the backend itself (disposed, say) is the same thing under either name; a kernel that used
    // the public operation's name used its argument names too. Either way the error names the
    // backend and kernel it came from (one naming the public operation was passed on as it was).
    const at = e.op === op || e.arg === 'corpus' || e.arg === 'backend' ? (e.arg ?? arg) : arg;
    const prefix = `Argument '${e.arg}' passed to '${e.op}' `;
    // Where the public argument is another than the one the kernel named, the kernel's stays in
    // the message: 'k' was reported as "Argument 'queries' passed to 'search' bad." (a probe).
    const problem = !e.message.startsWith(prefix)
      ? `failed in backend '${backend}' (kernel '${kernel}'): ${e.message}`
      : at === e.arg || e.arg === undefined
        ? e.message.slice(prefix.length)
        : `failed in backend '${backend}' (kernel '${kernel}'), which said of its argument '${e.arg}': ${e.message.slice(prefix.length)}`;
    return argErrorOf(e.code, op, at, problem, e, { backend, kernel });
  }
  const why =
    e instanceof Error
      ? `${e.name}: ${e.message}`
      : e === undefined || e === null
        ? `threw ${e}`
        : `threw ${describeType(e)}: ${errorText(e)}`;
  // An allocation the engine refused (a result of 1e10 floats, say) is the size of the request,
  // not a backend that broke: OUT_OF_MEMORY, the engine's error as the cause.
  if (isAllocationFailure(e))
    return argErrorOf(
      'OUT_OF_MEMORY',
      op,
      arg,
      `needs more memory than backend '${backend}' (kernel '${kernel}') could allocate: ${why}. Make the call smaller (fewer rows per call, or a resident corpus's search instead of a full matrix).`,
      e,
      { backend, kernel },
    );
  return backendError(op, arg, backend, kernel, why, e);
}

/** True when `v` is a promise (or any thenable). */
export function isThenable<T>(v: Awaitable<T>): v is Promise<T> {
  return typeof (v as { then?: unknown } | null)?.then === 'function';
}

/** `f(v)`, at once when `v` is a plain value, after it settles when it is a promise. */
export function andThen<T, U>(v: Awaitable<T>, f: (x: T) => U): Awaitable<U> {
  return isThenable(v) ? v.then(f) : f(v);
}

/**
 * A backend's new optimiser state, checked to be what was asked for: its `kind`, `sizes` equal to
 * the requested ones, `read` and `dispose` functions, not disposed. Anything else is
 * `BACKEND_ERROR` (released first where it can be): 42 or null reached nn's step as a raw
 * TypeError, and a state of other sizes blamed the caller's parameters.
 */
function optimizerStateOf(
  backend: string,
  kind: OptimizerKind,
  sizes: readonly number[],
  s: unknown,
): OptimizerState {
  const fail = (problem: string): never => {
    if (typeof s === 'object' && s !== null) disposeQuietly(s as { dispose?: () => unknown });
    throw backendError('createOptimizerState', 'sizes', backend, 'createOptimizerState', problem);
  };
  if (typeof s !== 'object' || s === null)
    return fail(`returned ${describeType(s)} instead of an optimiser state.`);
  let got: { kind: unknown; sizes: unknown; read: unknown; dispose: unknown; disposed: unknown };
  try {
    const { kind: k, sizes: z, read, dispose, disposed } = s as OptimizerState;
    got = { kind: k, sizes: z, read, dispose, disposed };
  } catch (e) {
    return fail(`returned an optimiser state whose fields cannot be read (${errorText(e)}).`);
  }
  if (got.kind !== kind) return fail(`returned a '${String(got.kind)}' state for '${kind}'.`);
  const z = got.sizes;
  let same = false;
  let text = valueText(z);
  try {
    same = Array.isArray(z) && z.length === sizes.length && z.every((v, i) => v === sizes[i]);
    if (Array.isArray(z)) text = z.map((v) => (typeof v === 'number' ? String(v) : valueText(v))).join(',');
  } catch {
    // A Proxy whose traps throw: not the sizes asked for.
  }
  if (!same) return fail(`returned a state of sizes ${text} for sizes ${sizes.join(',')}.`);
  if (typeof got.read !== 'function' || typeof got.dispose !== 'function')
    return fail('returned a state without read() and dispose().');
  if (got.disposed === true) return fail('returned a state that is already disposed.');
  return s as OptimizerState;
}

/** Sorts one query's k entries best first, ties to the lower index (k is small). */
function reorder(indices: Int32Array, scores: Float32Array, base: number, k: number): void {
  const order = Array.from({ length: k }, (_, t) => base + t);
  order.sort((x, y) => scores[y] - scores[x] || indices[x] - indices[y]);
  const ix = order.map((o) => indices[o]);
  const sc = order.map((o) => scores[o]);
  for (let t = 0; t < k; t++) {
    indices[base + t] = ix[t];
    scores[base + t] = sc[t];
  }
}

/** True when one query's k indices repeat; `seen` (all zero, one byte per row) serves large k. */
function hasRepeat(indices: Int32Array, base: number, k: number, seen: Uint8Array | null): boolean {
  if (seen === null) {
    for (let a = base; a < base + k; a++)
      for (let b = a + 1; b < base + k; b++) if (indices[a] === indices[b]) return true;
    return false;
  }
  let repeat = false;
  for (let t = base; t < base + k; t++) {
    if (seen[indices[t]]) repeat = true;
    seen[indices[t]] = 1;
  }
  for (let t = base; t < base + k; t++) seen[indices[t]] = 0;
  return repeat;
}

function firstBad(d: Float32Array): number {
  for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i])) return i;
  return 0;
}

/**
 * Refuses `x` (argument `arg` of `op`) with `INVALID_ARGUMENT` when a row's L2 norm, taken in
 * float64, is past the largest float32: no Float32Array can hold it.
 */
function normsFit(op: string, arg: string, x: Matrix): void {
  const { data, rows, cols } = x;
  for (let i = 0; i < rows; i++) {
    let ss = 0;
    for (let j = i * cols; j < (i + 1) * cols; j++) ss += data[j] * data[j];
    normFits(op, arg, i, Math.sqrt(ss));
  }
}

/** Refuses row `row` of `arg` (of `op`) when its norm `v` is past the largest float32. */
export function normFits(op: string, arg: string, row: number, v: number): void {
  if (Math.fround(v) === Number.POSITIVE_INFINITY)
    argError(
      'INVALID_ARGUMENT',
      op,
      arg,
      `has row ${row} of norm ${v}, past the largest float32 (3.4e38); a Float32Array cannot hold it.`,
    );
}

function describe(kind: 'cosine' | 'norm' | 'unit'): string {
  return kind === 'norm' ? '[0, max float)' : '[-1, 1]';
}

/** Errors of answers refused for holding ±Infinity (see {@link overflowed}). */
const infiniteAnswers = new WeakSet<object>();

/**
 * For a dense sum of the table (`matmul`, `addBias`, `columnSums`) whose answer was refused for
 * holding ±Infinity (not a throw, a NaN or a wrong length: those stay the backend's), among finite
 * inputs: `INVALID_ARGUMENT` naming its first input when their values are
 * large enough for its float32 sums to pass the largest float32 (the largest magnitudes' product
 * times the terms of a sum, their sum for `addBias`, a column's largest times the rows for
 * `columnSums`). Rows of 3.4e38 overflowed there and were blamed on the backend ("returned
 * Infinity"), where the kit's own calls rescale such rows. Otherwise nothing: the backend's error stands.
 */
function overflowed(op: string, inputs: readonly (readonly [string, Matrix])[], terms: number): void {
  if (op !== 'matmul' && op !== 'addBias' && op !== 'columnSums') return;
  const [[first, a], second] = inputs;
  const ma = largestMagnitude(a.data.subarray(0, a.rows * a.cols));
  const mb = second ? largestMagnitude(second[1].data.subarray(0, second[1].rows * second[1].cols)) : 0;
  // The largest any float32 sum of the answer can reach: `terms` products (matmul's inner
  // dimension) or values (columnSums' rows) of the largest magnitudes, or addBias's one sum.
  const reach = op === 'matmul' ? ma * mb * terms : op === 'addBias' ? ma + mb : ma * terms;
  if (!(reach > F32_MAX)) return;
  argError(
    'INVALID_ARGUMENT',
    op,
    first,
    `holds values up to ${ma}${second ? ` (and '${second[0]}' up to ${mb})` : ''}: their float32 ${op === 'addBias' ? 'sums' : op === 'matmul' ? 'products and sums' : 'column sums'} pass the largest float32 (3.4e38). Scale them down.`,
  );
}

/**
 * How far a top-k score may be from the float64 cosine of the row it names before the kit calls it
 * wrong: `@cosinekit/conformance`'s loosest cosine tolerance (`MAX_TOLERANCE`), so a backend that
 * passes the suite at any tolerance it accepts passes this check.
 */
export const SCORE_TOLERANCE = 5e-4;

/**
 * {@link SCORE_TOLERANCE}, or for long rows the bound on float32 rounding of a dot product of two
 * unit rows of `d` values summed in float32, `d x 2^-24`, when that is larger (from d = 8389 on): a
 * score of an exact backend at d = 500,000 can be 1.2e-3 from its float64 cosine, and was reported
 * as the backend's error. The check is there to catch wrong rows and broken kernels, not rounding.
 */
export function scoreTolerance(d: number): number {
  return Math.max(SCORE_TOLERANCE, d * 2 ** -24);
}

/**
 * Rows per query that {@link Guard.topKScores} samples among those a top-k answer leaves out, to
 * check that none beats the answer's lowest score.
 */
export const TOPK_SAMPLES = 8;

/** Named scores per query that {@link Guard.topKScores} recomputes at most (spread over the k). */
export const TOPK_NAMED = 64;

/** Queries whose answers {@link Guard.topKScores} checks at most (spread over them). */
export const TOPK_QUERIES = 256;

/**
 * {@link Guard.topKScores} recomputes at most one cosine per this many the search computed (one
 * query's worth at least): scalar float64 against a kernel's SIMD float32. At 32 the check cost 1-2.5x
 * the wasm search itself at d >= 1536 (`kit.topK` 1.8-3.4x a resident corpus's search of the same
 * rows).
 */
const TOPK_WORK_SHARE = 128;

/**
 * Values {@link Guard.topKScores} reads for its cosines whatever its share (2^18: about a third of a
 * millisecond of scalar float64): a check this small is whole, every named score (up to
 * {@link TOPK_NAMED}) and {@link TOPK_SAMPLES} sampled rows of each checked query.
 */
const TOPK_CHECK_VALUES = 2 ** 18;

/**
 * Queries {@link Guard.topKScores} checks at least (all of them when fewer), spread from the first
 * to the last: a share cut to one query passed answers wrong for every other one.
 */
const TOPK_MIN_QUERIES = 16;

/** The dense kernels, whose self-checked promise covers non-finite inputs (see `CheckedKernels.table`). */
const DENSE_NAMES: readonly string[] = ['matmul', 'addBias', 'activation', 'activationGrad'];

/**
 * A stored corpus a caller hands the kernel table's `importCorpus`, each field read once into the
 * copy that is returned: whole `rows` and `cols` of at least 1, a storage this library knows, a
 * whole `rerank` of at least 0, every section its storage needs of the right type and length, and
 * finite values (int8 codes in [-127, 127]). A backend would otherwise make a corpus of rows it
 * does not hold (WebGPU took `rows + 1`), or of NaN.
 */
function storedArg(op: string, arg: string, s: unknown): StoredCorpus {
  if (typeof s !== 'object' || s === null)
    argError('INVALID_TYPE', op, arg, `must be a stored corpus, got ${describeType(s)}.`);
  let x: StoredCorpus;
  try {
    const { rows, cols, storage, rerank, exact, half, codes, scales } = s as StoredCorpus;
    x = { rows, cols, storage, rerank, exact, half, codes, scales };
  } catch (e) {
    throw argErrorOf('INVALID_ARGUMENT', op, arg, `cannot be read (${errorText(e)}).`, e);
  }
  if (!(Number.isSafeInteger(x.rows) && x.rows >= 1 && Number.isSafeInteger(x.cols) && x.cols >= 1))
    argError('SHAPE_MISMATCH', op, arg, `has ${x.rows} x ${x.cols} rows; needs whole numbers of at least 1.`);
  if (x.storage !== 'float32' && x.storage !== 'float16' && x.storage !== 'int8')
    argError(
      'INVALID_ARGUMENT',
      op,
      `${arg}.storage`,
      `must be 'float32', 'float16' or 'int8', got ${String(x.storage)}.`,
    );
  if (!(Number.isInteger(x.rerank) && x.rerank >= 0))
    argError(
      'INVALID_ARGUMENT',
      op,
      `${arg}.rerank`,
      `must be a whole number of at least 0, got ${x.rerank}.`,
    );
  const n = x.rows * x.cols;
  const section = (name: 'exact' | 'half' | 'codes' | 'scales', type: { name: string }, length: number) => {
    const v = x[name] as unknown;
    if (
      !(ArrayBuffer.isView(v) && (v as object).constructor === type && (v as Float32Array).length === length)
    )
      argError(
        'SHAPE_MISMATCH',
        op,
        `${arg}.${name}`,
        `must be a ${type.name} of ${length} values for ${x.rows} x ${x.cols} ${x.storage} rows.`,
      );
  };
  const finite = (name: 'exact' | 'scales', v: Float32Array) => {
    for (let i = 0; i < v.length; i++)
      if (!Number.isFinite(v[i]))
        argError('NON_FINITE', op, `${arg}.${name}`, `holds ${v[i]} at index ${i}.`);
  };
  if (x.storage === 'float32' || x.rerank > 0) {
    section('exact', Float32Array, n);
    finite('exact', x.exact as Float32Array);
  }
  if (x.storage === 'float16') {
    section('half', Uint16Array, n);
    const h = x.half as Uint16Array;
    for (let i = 0; i < n; i++)
      if ((h[i] & 0x7c00) === 0x7c00)
        argError(
          'NON_FINITE',
          op,
          `${arg}.half`,
          `holds a binary16 ${h[i] & 0x3ff ? 'NaN' : 'Infinity'} at index ${i}.`,
        );
  }
  if (x.storage === 'int8') {
    section('codes', Int8Array, n);
    section('scales', Float32Array, x.rows);
    finite('scales', x.scales as Float32Array);
    const c = x.codes as Int8Array;
    for (let i = 0; i < n; i++)
      if (c[i] === -128)
        argError(
          'INVALID_ARGUMENT',
          op,
          `${arg}.codes`,
          `holds -128 at index ${i}; codes are in [-127, 127].`,
        );
  }
  return x;
}

/**
 * True when the `rows x cols` values a kernel reads of `m` are all finite: one branch-free pass, no
 * allocation (the kernel table scans inputs on every call). False for anything else, including a
 * malformed or unreadable `m`, which `checkFinite` then names.
 */
function finiteValues(m: Matrix): boolean {
  try {
    const d = m.data;
    if (!(d instanceof Float32Array)) return false;
    const n = Math.min(d.length, m.rows * m.cols);
    return n >= 0 && allFinite(d, n);
  } catch {
    return false;
  }
}

/**
 * A backend's kernels seen through a {@link Guard}: each call names the public operation and the
 * argument it serves, and its output is checked before the kit uses it.
 */
/** The kernel tables {@link CheckedKernels.table} made (a kit's `kernels()`). */
const CHECKED_TABLES = new WeakSet<object>();

/**
 * Whether `x` is a kernel table a kit lent (`kit.kernels()`): its kernels check their inputs and
 * answers, so a caller holding one need not wrap it again (`@cosinekit/nn` guards a raw table it
 * is given, not one of these).
 */
export function isCheckedKernelTable(x: unknown): boolean {
  return typeof x === 'object' && x !== null && CHECKED_TABLES.has(x);
}

export class CheckedKernels {
  readonly kernels: Kernels;
  readonly guard: Guard;
  /** Kernels whose values are trusted unread (see `Backend.selfChecked`): their type and length are checked. */
  readonly #trusted: readonly string[];
  /** True when `topK` is the reference's own (known by identity): its scores are not recomputed. */
  readonly #topKTrusted: boolean;
  /** The kernels the backend declares ungated (see `Backend.ungated`). */
  readonly ungated: ReadonlySet<UngatedKernelName>;
  /**
   * For each resident corpus handed to an ungated corpus kernel, that kernel's verdict on the
   * kit's probes (see {@link CheckedKernels.#refusesNonFinite}).
   */
  readonly #refusals = new WeakMap<ResidentCorpus, Map<'corpusSearch' | 'corpusMatrix', boolean>>();

  constructor(
    kernels: Kernels,
    guard: Guard,
    selfChecked: readonly SelfCheckedKernelName[] = [],
    topKTrusted = false,
    ungated: readonly UngatedKernelName[] = [],
  ) {
    this.kernels = kernels;
    this.guard = guard;
    this.#trusted = selfChecked;
    this.#topKTrusted = topKTrusted;
    this.ungated = new Set(ungated);
  }

  /**
   * A matrix kernel's output checked (its values only when the kernel is not self-checked), then
   * copied into `out` when one was given and the kernel answered elsewhere.
   */
  #matrix(
    op: string,
    arg: string,
    kernel: SelfCheckedKernelName,
    length: number,
    r: Awaitable<unknown>,
    out: Float32Array | undefined,
    admitted = true,
  ): Awaitable<Float32Array> {
    return andThen(r, (o) => {
      // A self-checked kernel's answer of the right type and length is not read; anything else is.
      // Its promise holds for admitted inputs only: rows from the kernel table are read back.
      if (
        !(
          admitted &&
          this.#trusted.includes(kernel) &&
          isF32(o) &&
          o.length === length &&
          !resizes(o.buffer) &&
          sampled(o, 1)
        )
      )
        o = this.guard.floats(op, arg, kernel, o, length, 'cosine');
      if (out === undefined || o === out) return plainFloat32(o as Float32Array);
      out.set(o as Float32Array);
      return out;
    });
  }

  /** True when the corpus group can read rows back (else the kit keeps a host copy). */
  get canRead(): boolean {
    return typeof this.kernels.readCorpus === 'function';
  }

  /**
   * Calls `kernel` with up to three arguments, as `call` does but without a closure per call: the
   * kit's short calls are a few microseconds, and every allocation shows.
   */
  #run(
    op: string,
    arg: string,
    kernel: KernelName,
    x: unknown,
    y?: unknown,
    z?: unknown,
  ): Awaitable<unknown> {
    let out: Awaitable<unknown>;
    let pending: boolean;
    try {
      out = (this.kernels[kernel] as (x: unknown, y: unknown, z: unknown) => Awaitable<unknown>).call(
        this.kernels,
        x,
        y,
        z,
      );
      // An answer whose `then` cannot be read (a throwing getter, a Proxy) is the backend's fault.
      pending = isThenable(out);
    } catch (e) {
      throw this.guard.failed(e, op, arg, kernel);
    }
    return pending ? this.guard.watch(out as Promise<unknown>, op, arg, kernel) : out;
  }

  /** Runs a kernel whose output is `length` floats of `kind`, and checks that output. */
  #floats(
    op: string,
    arg: string,
    kernel: KernelName,
    length: number,
    kind: 'cosine' | 'norm' | 'unit' | 'shape',
    x: Matrix,
    y?: unknown,
  ): Awaitable<Float32Array> {
    const out = this.#run(op, arg, kernel, x, y);
    if (isThenable(out)) return out.then((o) => this.guard.floats(op, arg, kernel, o, length, kind));
    return this.guard.floats(op, arg, kernel, out, length, kind);
  }

  rowNorms(op: string, arg: string, x: Matrix): Awaitable<Float32Array> {
    return this.#floats(op, arg, 'rowNorms', x.rows, 'norm', x);
  }

  normalizeRows(op: string, arg: string, x: Matrix): Awaitable<Float32Array> {
    // Type and length here; the values by their rows' norms alone (a NaN or a value past 1 shows
    // in its row's norm): a range pass first read the output twice.
    return andThen(this.#floats(op, arg, 'normalizeRows', x.rows * x.cols, 'shape', x), (o) => {
      const problem = unitRowsProblem(o, x);
      if (problem !== null)
        throw backendError(op, arg, this.guard.provider('normalizeRows'), 'normalizeRows', problem);
      return o;
    });
  }

  cosineRows(op: string, arg: string, a: Matrix, b: Matrix): Awaitable<Float32Array> {
    return this.#floats(op, arg, 'cosineRows', a.rows, 'cosine', a, b);
  }

  /**
   * `cosineRows` straight on the caller's rows, for a kernel its backend declares ungated (see
   * `Backend.ungated`): the checked cosines (clamped as {@link Guard.floats} clamps them), or
   * `undefined` when the kernel threw, answered with a promise (its answer is dropped) or gave
   * anything but `a.rows` cosines, such as the NaN an ungated kernel gives for a non-finite input.
   * Then the call goes through the gate, which refuses bad input by name.
   */
  cosineRowsUngated(a: Matrix, b: Matrix): Float32Array | undefined {
    const answer = this.#ungated('cosineRows', a, b);
    if (!isF32(answer) || answer.length !== a.rows || resizes(answer.buffer)) return undefined;
    const out = plainFloat32(answer);
    let clamp = false;
    for (let i = 0; i < out.length; i++) {
      const v = out[i];
      if (!(v >= -1 - COS_SLACK && v <= 1 + COS_SLACK)) return undefined;
      if (v > 1 || v < -1) clamp = true;
    }
    if (clamp) for (let i = 0; i < out.length; i++) out[i] = clampCos(out[i]);
    return out;
  }

  /**
   * `cosineMatrix` straight on the caller's rows, for a kernel its backend declares ungated: the
   * checked matrix (in `out` when given; not read when the kernel is also self-checked), or
   * `undefined` when the kernel threw (as it must for a non-finite input), answered with a promise
   * or gave an answer the check refuses. Then the call goes through the gate, which refuses bad
   * input by name, and a kernel at fault fails there as on any gated call.
   */
  cosineMatrixUngated(a: Matrix, b: Matrix, out: Float32Array | undefined): Float32Array | undefined {
    const r = this.#ungated('cosineMatrix', a, b, out);
    if (r === undefined) return undefined;
    try {
      return this.#matrix('cosineMatrix', 'a', 'cosineMatrix', a.rows * b.rows, r, out) as Float32Array;
    } catch {
      return undefined;
    }
  }

  /**
   * `topK` straight on the caller's rows, for a kernel its backend declares ungated: the answer,
   * checked as {@link CheckedKernels.topK} checks one, or `undefined` as for
   * {@link CheckedKernels.cosineMatrixUngated}.
   */
  topKUngated(q: Matrix, c: Matrix, k: number): TopKResult | undefined {
    const r = this.#ungated('topK', q, c, k);
    if (r === undefined) return undefined;
    try {
      const t = this.guard.topK('topK', 'queries', 'topK', r, q.rows, k, c.rows);
      if (!this.#topKTrusted) this.guard.topKScores('topK', 'queries', 'topK', t, q, c);
      return t;
    } catch {
      return undefined;
    }
  }

  /**
   * `corpusSearch` straight on the caller's queries, for a kernel its backend declares ungated:
   * the answer, checked as {@link CheckedKernels.corpusSearch} checks one, or `undefined` as for
   * {@link CheckedKernels.cosineMatrixUngated}.
   */
  corpusSearchUngated(op: string, h: ResidentCorpus, q: Matrix, k: number): TopKResult | undefined {
    if (
      !(q.data.length >= PROBE_MIN_VALUES && this.#refusesNonFinite('corpusSearch', h, q.cols)) &&
      !finiteQueries(q)
    )
      return undefined;
    const r = this.#ungated('corpusSearch', h, q, k);
    if (r === undefined) return undefined;
    try {
      return this.guard.topK(op, 'queries', 'corpusSearch', r, q.rows, k, rowsOf(h));
    } catch {
      return undefined;
    }
  }

  /**
   * `corpusMatrix` straight on the caller's queries, for a kernel its backend declares ungated:
   * the checked matrix (in `out` when given), or `undefined` as for
   * {@link CheckedKernels.cosineMatrixUngated}.
   */
  corpusMatrixUngated(
    op: string,
    h: ResidentCorpus,
    q: Matrix,
    out: Float32Array | undefined,
  ): Float32Array | undefined {
    if (
      !(q.data.length >= PROBE_MIN_VALUES && this.#refusesNonFinite('corpusMatrix', h, q.cols)) &&
      !finiteQueries(q)
    )
      return undefined;
    const r = this.#ungated('corpusMatrix', h, q, out);
    if (r === undefined) return undefined;
    try {
      return this.#matrix(op, 'queries', 'corpusMatrix', q.rows * rowsOf(h), r, out) as Float32Array;
    } catch {
      return undefined;
    }
  }

  /**
   * Whether the ungated `kernel` keeps, on corpus `h` (queries `d` wide), the contract's promise to
   * throw for a query holding NaN or ±Infinity: asked once a corpus and kernel, at its first call
   * of {@link PROBE_MIN_VALUES} query values or more, with the {@link queryProbes}: it must answer
   * the finite one and refuse the others by throwing. One that does is handed the caller's large
   * query blocks unread from then on. One that answers a non-finite probe (a third party's that
   * read NaN as 0 answered 0.5 for [NaN, 1], and every check of its answer passed), or refuses
   * the finite one (a kernel that takes one query a call refused every probe), has every later
   * call's queries scanned first. The scan read every query value in JavaScript: 20,000 queries
   * against 8 rows, 40% of the search.
   */
  #refusesNonFinite(kernel: 'corpusSearch' | 'corpusMatrix', h: ResidentCorpus, d: number): boolean {
    let verdicts = this.#refusals.get(h);
    if (verdicts === undefined) {
      verdicts = new Map();
      this.#refusals.set(h, verdicts);
    }
    let refuses = verdicts.get(kernel);
    if (refuses === undefined) {
      refuses = queryProbes(d).every((probe, i) => {
        try {
          const r = (this.kernels[kernel] as (h: ResidentCorpus, q: Matrix, x: unknown) => unknown).call(
            this.kernels,
            h,
            probe,
            kernel === 'corpusSearch' ? 1 : undefined,
          );
          if (isThenable(r)) {
            r.then(undefined, () => undefined);
            return false;
          }
          // The finite probe answered (what its answer holds is checked on real calls).
          return i === 0;
        } catch {
          return i > 0;
        }
      });
      verdicts.set(kernel, refuses);
    }
    return refuses;
  }

  /**
   * An ungated kernel's synchronous answer, or `undefined` when it threw or answered with a
   * promise (dropped, its rejection handled): the ungated contract promises neither for inputs
   * it can answer.
   */
  #ungated(kernel: UngatedKernelName, x: unknown, y: unknown, z?: unknown): unknown {
    let out: unknown;
    try {
      out = (this.kernels[kernel] as (x: unknown, y: unknown, z: unknown) => unknown).call(
        this.kernels,
        x,
        y,
        z,
      );
      if (isThenable(out)) {
        out.then(undefined, () => undefined);
        return undefined;
      }
    } catch {
      return undefined;
    }
    return out ?? undefined;
  }

  /**
   * `rowNorms` or `normalizeRows` straight on the caller's rows, for a kernel declared ungated:
   * the answer when it is one the kit accepts as it is (norms finite and at least 0; unit values
   * within [-1, 1], NaN not), else `undefined`, and the call goes through the gate, which names a
   * bad input (and a norm past float32, or a kernel at fault) as on any gated call.
   */
  rowsUngated(kernel: 'rowNorms' | 'normalizeRows', x: Matrix): Float32Array | undefined {
    const answer = this.#ungated(kernel, x, undefined);
    const n = kernel === 'rowNorms' ? x.rows : x.rows * x.cols;
    if (!isF32(answer) || answer.length !== n || answer.buffer === x.data.buffer || resizes(answer.buffer))
      return undefined;
    const out = plainFloat32(answer);
    // Unit rows pass (each value within [-1, 1] up to rounding); anything else, a NaN included,
    // goes through the gate, which names a bad input or the kernel at fault.
    if (kernel === 'normalizeRows') return unitRowsProblem(out, x) === null ? out : undefined;
    for (let i = 0; i < n; i++) if (!(out[i] >= 0 && out[i] <= F32_MAX)) return undefined;
    return out;
  }

  /**
   * Whether a corpus of `storage` may be made straight from the caller's rows
   * ({@link CheckedKernels.createCorpusUngated}): `createCorpus` declared ungated, and the backend
   * can give the rows back without a copy of the kit's (float32: read back or export; int8 and
   * float16: export and import, where the kit keeps a quantised corpus on the backend at all).
   */
  copiesCorpus(storage: CorpusStorage): boolean {
    if (!this.ungated.has('createCorpus')) return false;
    return storage === 'float32' ? this.canExport || this.canRead : this.canExport && this.canImport;
  }

  /**
   * `createCorpus` straight from the caller's rows, where {@link CheckedKernels.copiesCorpus}: the
   * checked handle, or `undefined` when the kernel threw (as it must for NaN or ±Infinity; or for a
   * storage it does not hold), answered with a promise, or gave a handle the check refuses or of
   * another storage (disposed). Then the call goes through the gate.
   */
  createCorpusUngated(op: string, x: Matrix, options: CorpusOptions): ResidentCorpus | undefined {
    const storage = options.storage ?? 'float32';
    if (!this.copiesCorpus(storage)) return undefined;
    const r = this.#ungated('createCorpus', x, resolveCorpusOptions(options));
    if (r === undefined) return undefined;
    try {
      const h = this.guard.corpus(op, 'rows', r, x.rows, x.cols);
      if ((h.storage ?? 'float32') === storage) return h;
    } catch {
      // Refused below.
    }
    try {
      (r as Partial<ResidentCorpus>).dispose?.();
    } catch {
      // A handle that cannot even be disposed is left to the collector.
    }
    return undefined;
  }

  /** `admitted`: false for rows that did not pass the gate (the kernel table's callers'). */
  cosineMatrix(
    op: string,
    arg: string,
    a: Matrix,
    b: Matrix,
    out?: Float32Array,
    admitted = true,
  ): Awaitable<Float32Array> {
    const r = this.#run(op, arg, 'cosineMatrix', a, b, out);
    return this.#matrix(op, arg, 'cosineMatrix', a.rows * b.rows, r, out, admitted);
  }

  topK(op: string, arg: string, q: Matrix, c: Matrix, k: number): Awaitable<TopKResult> {
    const r = this.#run(op, arg, 'topK', q, c, k);
    return andThen(r, (o) => {
      const t = this.guard.topK(op, arg, 'topK', o, q.rows, k, c.rows);
      // The kit holds the corpus rows here (not for a resident corpus): each score is checked.
      if (!this.#topKTrusted) this.guard.topKScores(op, arg, 'topK', t, q, c);
      return t;
    });
  }

  createCorpus(op: string, arg: string, x: Matrix, options: CorpusOptions): Awaitable<ResidentCorpus> {
    // Backends get every default decided (an explicit storage and rerank), whoever calls.
    const o = resolveCorpusOptions(options);
    const h = this.guard.call(op, arg, 'createCorpus', () => this.kernels.createCorpus(x, o));
    return andThen(h, (o) => this.guard.corpus(op, arg, o, x.rows, x.cols));
  }

  /** True when the corpus group can hand out its stored representation. */
  get canExport(): boolean {
    return typeof this.kernels.exportCorpus === 'function';
  }

  /** True when the corpus group can restore a stored representation. */
  get canImport(): boolean {
    return typeof this.kernels.importCorpus === 'function';
  }

  async exportCorpus(op: string, arg: string, h: ResidentCorpus): Promise<StoredCorpus> {
    const ex = this.kernels.exportCorpus;
    if (!ex)
      throw backendError(op, arg, this.guard.provider('exportCorpus'), 'exportCorpus', 'is not implemented.');
    const s = await this.guard.call(op, arg, 'exportCorpus', () => ex.call(this.kernels, h));
    return this.guard.stored(op, arg, s, h);
  }

  async importCorpus(op: string, arg: string, s: StoredCorpus): Promise<ResidentCorpus> {
    const im = this.kernels.importCorpus;
    if (!im)
      throw backendError(op, arg, this.guard.provider('importCorpus'), 'importCorpus', 'is not implemented.');
    const h = await this.guard.call(op, arg, 'importCorpus', () => im.call(this.kernels, s));
    return this.guard.corpus(op, arg, h, s.rows, s.cols, 'importCorpus');
  }

  /** True when the corpus group merges its own corpora (else the kit gathers their rows and re-imports them). */
  get canMerge(): boolean {
    return typeof this.kernels.mergeCorpora === 'function';
  }

  /** `mergeCorpora` of `hs`, dropping the rows marked in `drop`; `rows` of them are kept. */
  async mergeCorpora(
    op: string,
    arg: string,
    hs: readonly ResidentCorpus[],
    drop: readonly Uint8Array[],
    rows: number,
  ): Promise<ResidentCorpus> {
    const merge = this.kernels.mergeCorpora;
    if (!merge)
      throw backendError(op, arg, this.guard.provider('mergeCorpora'), 'mergeCorpora', 'is not implemented.');
    // Copies: the kit's own marks are never handed to a backend that could write to them.
    const marks = drop.map((m) => m.slice());
    const h = await this.guard.call(op, arg, 'mergeCorpora', () => merge.call(this.kernels, [...hs], marks));
    // One of its own parts handed back: refused without disposing it (the kit's segment), which the
    // shape check did, or, where the shape fitted, the kit did when it released the parts.
    if (hs.includes(h))
      throw backendError(
        op,
        arg,
        this.guard.provider('mergeCorpora'),
        'mergeCorpora',
        'returned one of the corpora it was to merge, not a new corpus.',
      );
    const merged = this.guard.corpus(op, arg, h, rows, hs[0].cols, 'mergeCorpora');
    // Another backend's handle: every later search refused it as the caller's mistake.
    if (merged.backend !== hs[0].backend) {
      disposeQuietly(merged);
      throw backendError(
        op,
        arg,
        this.guard.provider('mergeCorpora'),
        'mergeCorpora',
        `returned a corpus of backend '${merged.backend}', not '${hs[0].backend}'.`,
      );
    }
    return merged;
  }

  corpusSearch(op: string, arg: string, h: ResidentCorpus, q: Matrix, k: number): Awaitable<TopKResult> {
    const r = this.guard.call(op, arg, 'corpusSearch', () => this.kernels.corpusSearch(h, q, k));
    return andThen(r, (o) => this.guard.topK(op, arg, 'corpusSearch', o, q.rows, k, rowsOf(h)));
  }

  corpusMatrix(
    op: string,
    arg: string,
    h: ResidentCorpus,
    q: Matrix,
    out?: Float32Array,
    admitted = true,
  ): Awaitable<Float32Array> {
    const r = this.guard.call(op, arg, 'corpusMatrix', () => this.kernels.corpusMatrix(h, q, out));
    return this.#matrix(op, arg, 'corpusMatrix', q.rows * rowsOf(h), r, out, admitted);
  }

  /** True when the corpus group searches among allowed rows itself (else the kit filters around it). */
  get canFilter(): boolean {
    return typeof this.kernels.corpusSearchAllowed === 'function';
  }

  corpusSearchAllowed(
    op: string,
    arg: string,
    h: ResidentCorpus,
    q: Matrix,
    k: number,
    allow: Uint8Array,
  ): Awaitable<TopKResult> {
    const run = this.kernels.corpusSearchAllowed;
    if (!run)
      throw backendError(
        op,
        arg,
        this.guard.provider('corpusSearchAllowed'),
        'corpusSearchAllowed',
        'is not implemented.',
      );
    const r = this.guard.call(op, arg, 'corpusSearchAllowed', () => run.call(this.kernels, h, q, k, allow));
    return andThen(r, (o) => this.guard.topK(op, arg, 'corpusSearchAllowed', o, q.rows, k, rowsOf(h), allow));
  }

  readCorpus(op: string, arg: string, h: ResidentCorpus): Awaitable<Float32Array> {
    const read = this.kernels.readCorpus;
    if (!read)
      throw backendError(op, arg, this.guard.provider('readCorpus'), 'readCorpus', 'is not implemented.');
    const out = this.guard.call(op, arg, 'readCorpus', () => read.call(this.kernels, h));
    const [rows, cols] = [rowsOf(h), colsOf(h)];
    // A quantised corpus without float32 rows answers them dequantised: unit length only within
    // its quantisation (int8: sqrt(d) / 254 at most, float16 less), not float32 rounding.
    const quantised = (h.storage ?? 'float32') !== 'float32';
    const slack = quantised ? 2 ** -7 + Math.sqrt(cols) / 254 : undefined;
    return andThen(out, (o) => {
      const exact = this.guard.floats(op, arg, 'readCorpus', o, rows * cols, 'unit');
      const x = {
        rows,
        cols,
        storage: 'float32' as const,
        rerank: 0,
        exact,
        half: null,
        codes: null,
        scales: null,
      };
      const fail = (problem: string): never => {
        throw backendError(
          op,
          arg,
          this.guard.provider('readCorpus'),
          'readCorpus',
          `returned a corpus that ${problem}`,
        );
      };
      checkStoredRows(x, fail, slack);
      return exact;
    });
  }

  /**
   * The complete kernel table with the same checks, for libraries that drive kernels directly
   * (such as `@cosinekit/nn`): errors name the kernel as the operation.
   */
  table(): Kernels {
    const k = this.kernels;
    const g = this.guard;
    // A self-checked dense kernel's answer of the right type and length is not read again.
    const trusted = this.#trusted;
    // Errors name the kernel's first argument: `a` for matmul (whose arguments are a and b; 'x'
    // named none of them), `x` for the others.
    const dense = (name: DenseKernelName, length: number, run: () => Awaitable<Float32Array>) => {
      const arg = name === 'matmul' ? 'a' : 'x';
      return andThen(g.call(name, arg, name, run), (o) =>
        isF32(o) && o.length === length && !resizes(o.buffer) && trusted.includes(name) && sampled(o)
          ? plainFloat32(o)
          : g.floats(name, arg, name, o, length, 'finite'),
      );
    };
    // A caller's input holding NaN or ±Infinity is NON_FINITE naming it, never the backend's
    // BACKEND_ERROR nor an answer. Where a non-finite input is known to show in the answer (the
    // dense and cosine kernels run by the reference, whose IEEE arithmetic carries NaN through, but
    // not its activations; or declared self-checked, which throw on one), the inputs are scanned only when the answer's
    // check fails, so @cosinekit/nn's training steps pay nothing for it; elsewhere (a GPU's shader
    // may drop NaN, a third party's kernel may clamp it) and where any answer could hide it (relu(NaN)
    // is 0, a top-k of NaN scores still names k rows, a corpus stores what it is given), they are
    // scanned first.
    const scanned = <T>(
      op: string,
      inputs: readonly (readonly [string, Matrix])[],
      run: () => Awaitable<T>,
    ) => {
      for (const [arg, m] of inputs) if (!finiteValues(m)) checkFinite(op, arg, m);
      return run();
    };
    const carriesNaN = (
      name: DenseKernelName | 'rowNorms' | 'normalizeRows' | 'cosineRows' | 'cosineMatrix' | 'columnSums',
    ) =>
      // The reference's activations answer relu(NaN) = 0 and tanh(Infinity) = 1: not these.
      (k[name] !== undefined &&
        k[name] === referenceKernels[name] &&
        name !== 'activation' &&
        name !== 'activationGrad') ||
      // A self-checked dense kernel promises to throw on a non-finite input; a self-checked cosine
      // kernel only promises cosines for rows the kit admitted, which a table caller's are not.
      (DENSE_NAMES.includes(name) && (trusted as readonly string[]).includes(name));
    const blamed = <T>(
      op: DenseKernelName | 'rowNorms' | 'normalizeRows' | 'cosineRows' | 'cosineMatrix' | 'columnSums',
      inputs: readonly (readonly [string, Matrix])[],
      run: () => Awaitable<T>,
      terms = 0,
    ): Awaitable<T> => {
      const nan = carriesNaN(op);
      const blame = (e: unknown): never => {
        if (isCosineKitError(e) && e.code === 'BACKEND_ERROR') {
          if (nan) for (const [arg, m] of inputs) checkFinite(op, arg, m);
          if (infiniteAnswers.has(e)) overflowed(op, inputs, terms);
        }
        throw e;
      };
      let r: Awaitable<T>;
      try {
        r = nan ? run() : scanned(op, inputs, run);
      } catch (e) {
        return blame(e);
      }
      return isThenable(r) ? r.then(undefined, blame) : r;
    };
    const vector = (v: Float32Array, cols: number): Matrix => ({ data: v, rows: 1, cols });
    // Rows of extreme magnitude (values past 2^40, or all below 2^-40), scaled by a power of two for
    // a kernel not exact at every magnitude, as the kit's own calls scale them: a float32 sum of
    // squares overflowed or underflowed, and a GPU answered -1 for the cosine of two rows of 1e20
    // (Infinity / Infinity, clamped) and a norm 6% off for a row of 1e-23. Cosines and unit rows
    // do not change with a row's scale; a norm is scaled back. The reference (float64) and kernels
    // declared ungated (exact at any magnitude) take the rows as they are.
    const exact = (name: KernelName) =>
      k[name] === referenceKernels[name] || this.ungated.has(name as UngatedKernelName);
    const tamed = (name: KernelName | 'corpusSearchAllowed', arg: string, x: Matrix): Matrix =>
      (name === 'corpusSearchAllowed' ? k[name] === referenceKernels[name] : exact(name))
        ? x
        : (tameRows(x, name, arg)?.tensor ?? x);
    const table: Kernels = {
      rowNorms: (x, out) => {
        x = tableMatrix('rowNorms', 'x', x);
        tableOut('rowNorms', out, x.rows);
        // A norm past the float32 range is the caller's row, not the backend's fault: refused by
        // name, as `kit.rowNorms` refuses it (the answer's check alone blamed the backend).
        const past = (e: unknown): never => {
          if (isCosineKitError(e, 'BACKEND_ERROR')) normsFit('rowNorms', 'x', x);
          throw e;
        };
        let r: Awaitable<Float32Array>;
        try {
          r = blamed('rowNorms', [['x', x]], () => {
            const t = exact('rowNorms') ? null : tameRows(x, 'rowNorms', 'x');
            if (t === null) return this.rowNorms('rowNorms', 'x', x);
            // Each scaled row's norm scaled back in float64, and refused past float32.
            return andThen(this.rowNorms('rowNorms', 'x', t.tensor), (n) => {
              const v = new Float32Array(n.length);
              for (let i = 0; i < n.length; i++) {
                const back = n[i] / t.factor![i];
                normFits('rowNorms', 'x', i, back);
                v[i] = back;
              }
              return v;
            });
          });
        } catch (e) {
          return past(e);
        }
        return into(out, isThenable(r) ? r.then(undefined, past) : r);
      },
      normalizeRows: (x, out) => {
        x = tableMatrix('normalizeRows', 'x', x);
        tableOut('normalizeRows', out, x.rows * x.cols);
        return into(
          out,
          blamed('normalizeRows', [['x', x]], () =>
            this.normalizeRows('normalizeRows', 'x', tamed('normalizeRows', 'x', x)),
          ),
        );
      },
      cosineRows: (a, b, out) => {
        [a, b] = pair('cosineRows', a, b, true);
        tableOut('cosineRows', out, a.rows);
        return into(
          out,
          blamed(
            'cosineRows',
            [
              ['a', a],
              ['b', b],
            ],
            () =>
              this.cosineRows('cosineRows', 'a', tamed('cosineRows', 'a', a), tamed('cosineRows', 'b', b)),
          ),
        );
      },
      // The cosine kernels' self-check promise covers admitted rows; a table caller's rows are
      // not (NaN in, NaN out would pass unread), so their outputs are read.
      cosineMatrix: (a, b, out) => {
        [a, b] = pair('cosineMatrix', a, b, false);
        tableOut('cosineMatrix', out, a.rows * b.rows);
        return blamed(
          'cosineMatrix',
          [
            ['a', a],
            ['b', b],
          ],
          () => {
            const o = ownOut(out, [a.data, b.data]);
            return intoOwn(
              out,
              o,
              this.cosineMatrix(
                'cosineMatrix',
                'a',
                tamed('cosineMatrix', 'a', a),
                tamed('cosineMatrix', 'b', b),
                o,
                false,
              ),
            );
          },
        );
      },
      topK: (q, c, n) => {
        q = tableMatrix('topK', 'queries', q);
        c = tableMatrix('topK', 'corpus', c);
        tableIntact('topK', ['queries', q]);
        tableAgree('topK', 'queries', q.cols, 'corpus', c.cols);
        checkK('topK', n, c.rows);
        return scanned(
          'topK',
          [
            ['queries', q],
            ['corpus', c],
          ],
          () => this.topK('topK', 'queries', tamed('topK', 'queries', q), tamed('topK', 'corpus', c), n),
        );
      },
      createCorpus: (x, o) => {
        x = tableMatrix('createCorpus', 'x', x);
        // Options read once, before the rows are checked again: a getter of theirs that shrank the
        // rows' buffer left the backend reading past them.
        // Checked as kit.corpus checks them: a rerank of -1, 0.5 or NaN was taken by the
        // reference and refused by wasm (a probe).
        const given = reading('createCorpus', 'options', () => ({ storage: o?.storage, rerank: o?.rerank }));
        checkStorageOptions('createCorpus', given.storage, given.rerank);
        const options = resolveCorpusOptions(given);
        tableIntact('createCorpus', ['x', x]);
        return scanned('createCorpus', [['x', x]], () =>
          this.createCorpus('createCorpus', 'x', tamed('createCorpus', 'x', x), options),
        );
      },
      corpusSearch: (h, q, n) => {
        let rows: number;
        [rows, q] = queriesOf('corpusSearch', h, q);
        checkK('corpusSearch', n, rows);
        return scanned('corpusSearch', [['queries', q]], () =>
          this.corpusSearch('corpusSearch', 'queries', h, tamed('corpusSearch', 'queries', q), n),
        );
      },
      corpusMatrix: (h, q, out) => {
        let rows: number;
        [rows, q] = queriesOf('corpusMatrix', h, q);
        tableOut('corpusMatrix', out, q.rows * rows);
        return scanned('corpusMatrix', [['queries', q]], () =>
          this.corpusMatrix('corpusMatrix', 'queries', h, tamed('corpusMatrix', 'queries', q), out, false),
        );
      },
      ...(k.readCorpus
        ? { readCorpus: (h: ResidentCorpus) => this.readCorpus('readCorpus', 'corpus', h) }
        : {}),
      ...(k.exportCorpus
        ? { exportCorpus: (h: ResidentCorpus) => this.exportCorpus('exportCorpus', 'corpus', h) }
        : {}),
      ...(k.importCorpus
        ? {
            importCorpus: (s: StoredCorpus) =>
              this.importCorpus('importCorpus', 'stored', storedArg('importCorpus', 'stored', s)),
          }
        : {}),
      ...(k.mergeCorpora
        ? {
            mergeCorpora: (hs: readonly ResidentCorpus[], drop: readonly Uint8Array[]) =>
              this.mergeCorpora('mergeCorpora', 'corpora', hs, drop, mergedRows(hs, drop)),
          }
        : {}),
      ...(k.corpusSearchAllowed
        ? {
            corpusSearchAllowed: (h: ResidentCorpus, q: Matrix, n: number, allow: Uint8Array) => {
              q = allowedOf(h, q, n, allow);
              return scanned('corpusSearchAllowed', [['queries', q]], () =>
                this.corpusSearchAllowed(
                  'corpusSearchAllowed',
                  'queries',
                  h,
                  tamed('corpusSearchAllowed', 'queries', q),
                  n,
                  allow,
                ),
              );
            },
          }
        : {}),
      // Resolved kernels always have both (the reference's when the backend lacks them). The updated
      // parameters are not scanned here: each is next read by a matmul or addBias, whose output is
      // checked, and a non-finite weight makes every product it enters non-finite (NaN * 0 is NaN).
      // The table is an entry point like any other: the caller's kind, sizes and moments, and each
      // step's rule and arrays, are checked before the backend sees them (they reached it as given:
      // a NaN gradient or rule wrote NaN into the parameters and the resident moments).
      createOptimizerState: (kind, sizes, moments) => {
        const n = tableOptimizerState('createOptimizerState', kind, sizes, moments);
        return andThen(
          g.call('createOptimizerState', 'sizes', 'createOptimizerState', () =>
            k.createOptimizerState!(kind, n, moments),
          ),
          (state) => optimizerStateOf(g.provider('createOptimizerState'), kind, n, state),
        );
      },
      optimizerStep: (state, params, grads, rule) => {
        const op = 'optimizerStep';
        if (typeof state !== 'object' || state === null)
          argError('INVALID_TYPE', op, 'state', `must be an optimiser state, got ${describeType(state)}.`);
        const [kind, n, disposed] = reading(
          op,
          'state',
          () => [state.kind, state.sizes, state.disposed] as const,
        );
        if (disposed) argError('DISPOSED', op, 'state', 'was disposed; create a new optimiser state.');
        if (!Array.isArray(n))
          argError('INVALID_TYPE', op, 'state', 'has no sizes: it is not an optimiser state.');
        const plain = tableOptimizerRule(op, rule, kind);
        // Arrays that do not match the state's sizes would be read past (silent NaN) or written past.
        const [p, d] = tableOptimizerArrays(op, n, params, grads);
        return g.call(op, 'params', op, () => k.optimizerStep!(state, p, d, plain));
      },
      // The shape is checked before the kernel runs (a short `x.data` would be read past); the
      // answer is `cols` values, checked finite here (cheap next to the rows x cols it sums).
      columnSums: (x, out) => {
        checkColumnSums(x, out);
        return blamed(
          'columnSums',
          [['x', x]],
          () => {
            const r = g.call('columnSums', 'x', 'columnSums', () => k.columnSums!(x, out));
            return andThen(r, (o) => {
              const v = g.floats('columnSums', 'x', 'columnSums', o, x.cols, 'finite');
              if (out === undefined || v === out) return v;
              out.set(v);
              return out;
            });
          },
          x.rows,
        );
      },
      // Resolved kernels always have it (the reference's when the backend lacks it).
      softmaxCrossEntropy: (logits, targets, scale, weight, keep, out) => {
        checkSoftmaxArgs(logits, targets, scale, weight, keep, out);
        // Scanned here, not left to the kernel: a kernel's NON_FINITE is the backend's failure (see
        // INPUT_CODES), and a third party's kernel may not look (rows x classes: cheap next to the
        // products that made them).
        if (!finiteValues(logits)) checkFinite('softmaxCrossEntropy', 'logits', logits);
        const n = logits.rows * logits.cols;
        return andThen(
          g.call('softmaxCrossEntropy', 'logits', 'softmaxCrossEntropy', () =>
            k.softmaxCrossEntropy!(logits, targets, scale, weight, keep, out),
          ),
          (r) => {
            const grad = g.floats(
              'softmaxCrossEntropy',
              'logits',
              'softmaxCrossEntropy',
              r?.grad,
              n,
              'finite',
            );
            const answered = r.losses;
            if (!isF32(answered) || answered.length !== logits.rows || resizes(answered.buffer))
              throw backendError(
                'softmaxCrossEntropy',
                'logits',
                g.provider('softmaxCrossEntropy'),
                'softmaxCrossEntropy',
                `returned losses that are not ${logits.rows} float32 values on a buffer of fixed length.`,
              );
            const losses = plainFloat32(answered);
            // A loss is +Infinity when the scaled logits overflow (the caller says so); never NaN.
            for (let i = 0; i < losses.length; i++)
              if (!(losses[i] >= 0))
                throw backendError(
                  'softmaxCrossEntropy',
                  'logits',
                  g.provider('softmaxCrossEntropy'),
                  'softmaxCrossEntropy',
                  `returned the loss ${losses[i]} for row ${i}.`,
                );
            return { grad, losses };
          },
        );
      },
      matmul: (a, b, ta, tb, out) => {
        a = tableMatrix('matmul', 'a', a);
        b = tableMatrix('matmul', 'b', b);
        tableIntact('matmul', ['a', a]);
        for (const [arg, t] of [
          ['transA', ta],
          ['transB', tb],
        ] as const)
          if (typeof t !== 'boolean')
            argError('INVALID_TYPE', 'matmul', arg, `must be a boolean, got ${describeType(t)}.`);
        tableAgree('matmul', 'b', tb ? b.cols : b.rows, 'a', ta ? a.rows : a.cols, 'inner dimension');
        const length = (ta ? a.cols : a.rows) * (tb ? b.rows : b.cols);
        tableOut('matmul', out, length);
        return blamed(
          'matmul',
          [
            ['a', a],
            ['b', b],
          ],
          () => {
            const o = ownOut(out, [a.data, b.data]);
            return intoOwn(
              out,
              o,
              dense('matmul', length, () => k.matmul(a, b, ta, tb, o)),
            );
          },
          ta ? a.rows : a.cols,
        );
      },
      addBias: (x, bias, out) => {
        x = tableMatrix('addBias', 'x', x);
        tableVector('addBias', 'bias', bias, x.cols);
        tableOut('addBias', out, x.rows * x.cols);
        return blamed(
          'addBias',
          [
            ['x', x],
            ['bias', vector(bias, x.cols)],
          ],
          () => {
            const o = ownOut(out, [x.data, bias], x.data);
            return intoOwn(
              out,
              o,
              dense('addBias', x.rows * x.cols, () => k.addBias(x, bias, o)),
            );
          },
        );
      },
      activation: (kind, x, out) => {
        tableActivation('activation', kind);
        x = tableMatrix('activation', 'x', x);
        tableOut('activation', out, x.rows * x.cols);
        return blamed('activation', [['x', x]], () => {
          const o = ownOut(out, [x.data], x.data);
          return intoOwn(
            out,
            o,
            dense('activation', x.rows * x.cols, () => k.activation(kind, x, o)),
          );
        });
      },
      activationGrad: (kind, x, dy, out) => {
        tableActivation('activationGrad', kind);
        [x, dy] = pair('activationGrad', x, dy, true, 'x', 'dy');
        tableOut('activationGrad', out, x.rows * x.cols);
        return blamed(
          'activationGrad',
          [
            ['x', x],
            ['dy', dy],
          ],
          () => {
            const o = ownOut(out, [x.data, dy.data], x.data, dy.data);
            return intoOwn(
              out,
              o,
              dense('activationGrad', x.rows * x.cols, () => k.activationGrad(kind, x, dy, o)),
            );
          },
        );
      },
    };
    CHECKED_TABLES.add(table);
    return table;
  }
}

/** The kernel table's two matrices `a` and `b` of kernel `op`: well formed, and of the same shape (`same`) or the same columns. */
function pair(op: string, a: Matrix, b: Matrix, same: boolean, an = 'a', bn = 'b'): [Matrix, Matrix] {
  a = tableMatrix(op, an, a);
  b = tableMatrix(op, bn, b);
  tableIntact(op, [an, a]);
  tableAgree(op, bn, b.cols, an, a.cols);
  if (same) tableAgree(op, bn, b.rows, an, a.rows, 'rows');
  return [a, b];
}

/**
 * The kernel table's queries `q` against corpus handle `h`: the corpus's rows, as checked when it
 * was made, and the queries as read (see `tableMatrix`).
 */
function queriesOf(op: string, h: ResidentCorpus, q: Matrix): [number, Matrix] {
  const [rows, cols] = tableCorpus(op, h, (c: ResidentCorpus) => [rowsOf(c), colsOf(c)] as const);
  q = tableMatrix(op, 'queries', q);
  tableAgree(op, 'queries', q.cols, 'corpus', cols);
  return [rows, q];
}

/**
 * The rows `mergeCorpora` keeps of `hs`, after checking its arguments: one or more live corpora of
 * one width and storage (a corpus's `rerank` is the backend's to check: handles do not show it), one
 * Uint8Array of 0s and 1s per corpus, as long as its rows, keeping one row or more.
 */
function mergedRows(hs: readonly ResidentCorpus[], drop: readonly Uint8Array[]): number {
  const op = 'mergeCorpora';
  if (!Array.isArray(hs) || hs.length === 0)
    argError(
      'INVALID_ARGUMENT',
      op,
      'corpora',
      `must be a non-empty array of corpora, got ${describeType(hs)}.`,
    );
  if (!Array.isArray(drop) || drop.length !== hs.length)
    argError('SHAPE_MISMATCH', op, 'drop', `must be an array of ${hs.length} Uint8Arrays, one per corpus.`);
  let kept = 0;
  let first = '';
  for (let i = 0; i < hs.length; i++) {
    const arg = `corpora[${i}]`;
    const [rows, form] = tableCorpus(op, hs[i], (h: ResidentCorpus) => {
      if (h.disposed === true) argError('DISPOSED', op, arg, 'was disposed.');
      return [h.rows, `${h.cols} wide, ${h.storage ?? 'float32'}`] as const;
    });
    if (i === 0) first = form;
    else if (form !== first) argError('INVALID_ARGUMENT', op, arg, `is ${form}: corpora[0] is ${first}.`);
    const m = drop[i];
    if (!(m instanceof Uint8Array) || m.length !== rows)
      argError(
        'SHAPE_MISMATCH',
        op,
        `drop[${i}]`,
        `must be a Uint8Array of ${rows} bytes, one per row of ${arg}.`,
      );
    for (let j = 0; j < m.length; j++) {
      if (m[j] > 1) argError('INVALID_ARGUMENT', op, `drop[${i}][${j}]`, `must be 0 or 1, got ${m[j]}.`);
      kept += 1 - m[j];
    }
  }
  if (kept === 0) argError('EMPTY_INPUT', op, 'drop', 'drops every row: at least one must be kept.');
  return kept;
}

/** {@link queriesOf} for `corpusSearchAllowed`: `allow` holds one byte per corpus row and admits at least `k`. */
function allowedOf(h: ResidentCorpus, q: Matrix, k: number, allow: Uint8Array): Matrix {
  const op = 'corpusSearchAllowed';
  const [rows, read] = queriesOf(op, h, q);
  checkK(op, k, rows);
  if (!(allow instanceof Uint8Array && allow.length === rows)) {
    viewArg(op, 'allow', allow, [Uint8Array]);
    argError(
      'SHAPE_MISMATCH',
      op,
      'allow',
      `must hold ${rows} bytes, one per corpus row; got ${allow.length}.`,
    );
  }
  // A byte other than 0 and 1 meant "admitted" to the count and to wasm and "excluded" to the
  // reference and the answer's check, which then blamed the backend (a probe); refused as a
  // filter's mask is.
  let n = 0;
  for (let i = 0; i < rows; i++) {
    const b = allow[i];
    if (b > 1)
      argError(
        'INVALID_ARGUMENT',
        op,
        'allow',
        `must hold 0 (excluded) or 1 (admitted) per row, got ${b} at ${i}.`,
      );
    n += b;
  }
  if (n < k) argError('INVALID_K', op, 'k', `is ${k} but 'allow' admits ${n} rows.`);
  return read;
}

/**
 * `out` for a table kernel to write into, or `undefined` where writing it could overwrite one of
 * `inputs` before the kernel has read it: `out` on an input's memory (see `mayShare`), unless it is
 * exactly one of `exact` (an elementwise kernel reads each value before it writes it). The answer
 * is then made apart and copied into `out` ({@link intoOwn}): the reference's cosineMatrix into
 * `b` past 128 rows, and its addBias and activations into a shifted view, were silently wrong.
 */
function ownOut(
  out: Float32Array | undefined,
  inputs: readonly Float32Array[],
  ...exact: Float32Array[]
): Float32Array | undefined {
  if (out === undefined) return undefined;
  for (const v of inputs)
    if (
      mayShare(out, v) &&
      !exact.some((e) => e === v && e.buffer === out.buffer && e.byteOffset === out.byteOffset)
    )
      return undefined;
  return out;
}

/** The answer `r` of a kernel given `own` in place of `out` (see {@link ownOut}): into `out` when they differ. */
function intoOwn(
  out: Float32Array | undefined,
  own: Float32Array | undefined,
  r: Awaitable<Float32Array>,
): Awaitable<Float32Array> {
  return own === out ? r : into(out, r);
}

/** A table kernel's answer `r` written into the caller's `out` too, when one was given (the contract's promise). */
function into(out: Float32Array | undefined, r: Awaitable<Float32Array>): Awaitable<Float32Array> {
  return out === undefined
    ? r
    : andThen(r, (v) => {
        if (v !== out) out.set(v);
        return out;
      });
}
