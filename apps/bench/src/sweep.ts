/**
 * The shape sweep: the wasm backend on one thread and on all threads, with tfjs-wasm's fast path
 * beside it, over a grid of Q queries x N corpus rows x d dimensions, each figure checked against
 * float64 and judged against this machine's roofline. It is there to find slow shapes before users
 * do. Shared by Node and the browser: it imports nothing from Node.
 *
 * One or a few queries (Q <= 8) search a resident corpus (top-k): they are bound by reading the
 * corpus, so they are judged on bandwidth. More queries compute the similarity matrix against it
 * (`corpus.similarity`): a product bound by compute, judged on peak FLOP/s and on what the second
 * thread adds.
 */
import { ExactReference } from './accuracy.js';
import { backendContender } from './backend-contender.js';
import { backendSource, firstLine, type ModuleLoader } from './backends.js';
import { tfjsPeerContender } from './contenders.js';
import { type Measured, measure } from './measure.js';
import type { Method, OpenContender, Prepared } from './method.js';
import { fmtBytes } from './million.js';
import { MIN_REPS } from './plan.js';
import { fmtMs, fmtRatio } from './report/format.js';
import { onItsSide } from './report/targets.js';
import {
  cached,
  columns,
  describeRoofline,
  type LimitShare,
  limitShare,
  limitsFor,
  MEMORY_CORPUS_BYTES,
  measureRoofline,
  mergeRooflines,
  pct,
  type Roofline,
  type RooflineOptions,
  shareCell,
} from './roofline.js';
import { makeTimer, now } from './timing.js';
import type { Accuracy, ContenderInfo, Environment, RunSettings, Size, Timing } from './types.js';
import { customWorkload, makeDataset, randomMatrix } from './workloads.js';

/** The grid of shapes. */
export interface SweepGrid {
  readonly q: readonly number[];
  readonly n: readonly number[];
  readonly d: readonly number[];
}

/** The full grid: Q in {1, 8, 64, 1000}, N in {10k, 200k, 1M}, d in {96 ... 3072}. */
export const SWEEP_GRID: SweepGrid = {
  q: [1, 8, 64, 1000],
  n: [10_000, 200_000, 1_000_000],
  d: [96, 384, 768, 1536, 3072],
};

/** Up to this many queries a cell is a top-k search (judged on bandwidth); above, a similarity matrix. */
export const FEW_QUERIES = 8;
/** Top-k of the search cells. */
export const SWEEP_K = 10;
/** Largest wasm memory (32-bit addresses: 4 GiB), less what the kernels stage beside the corpus. */
export const WASM_MEMORY_LIMIT = 4 * 2 ** 30 - 256 * 2 ** 20;
/** A cell whose data, exact reference and uploads are estimated to take longer than this many budgets is skipped. */
const SETUP_BUDGETS = 30;

/** The targets of the issue "Fast on every shape". */
export const SWEEP_TARGETS = {
  /** One or a few queries against a resident corpus: share of single-thread bandwidth. */
  fewBandwidth: 0.8,
  /** Many-query products (Q >= 64, d >= 128): share of the single-thread peak. */
  manyPeak: 0.65,
  /** Speed-up of the second thread on those products (above the threading threshold). */
  secondThread: 1.8,
  /** Smallest d of a product judged on peak and threads. */
  minD: 128,
  minQ: 64,
} as const;

export interface SweepOptions {
  /** Overrides of the grid's axes. */
  readonly grid?: Partial<SweepGrid>;
  /** Scales N (Q and d stay, so every cell is still judged by the same targets). */
  readonly scale?: number;
  /** Threads of the all-threads wasm contender (default: every core, as the backend picks). */
  readonly threads?: number;
  readonly reps: number;
  readonly warmup: number;
  /** Seconds per figure, as in the bench; cells estimated to need more than 30 budgets of setup are skipped. */
  readonly budgetSeconds: number;
  readonly tolerance: number;
  readonly seed: number;
  /** Bytes of host memory a cell may use (default 8 GiB, or less where the machine says so). */
  readonly hostMemoryLimit?: number;
  /** A roofline already measured, or how to measure one (tests make it small). */
  readonly roofline?: Roofline | RooflineOptions;
  readonly load: ModuleLoader;
  readonly environment: Environment;
  readonly command?: string;
  /** Where tfjs-backend-wasm finds its binaries (browsers). */
  readonly tfjsWasmPaths?: string | Record<string, string>;
  readonly onProgress?: (done: number, total: number, label: string) => void;
}

/** One contender's figure on one cell. */
export interface SweepFigure {
  readonly contender: string;
  readonly threads: number;
  readonly method: string;
  readonly status: 'ok' | 'wrong' | 'error' | 'unavailable' | 'skipped';
  readonly note?: string;
  /** The size measured (smaller than the cell's when it ran on a slice). */
  readonly size: Size;
  readonly shrunk: boolean;
  readonly timing?: Timing;
  /** The fastest repetition per query-row pair, ns (what the sweep judges on). */
  readonly nsPerPair?: number;
  readonly accuracy?: Accuracy;
  readonly limit?: LimitShare;
}

/** One target judged on one cell. */
export interface SweepVerdict {
  readonly target: 'fewBandwidth' | 'beatsTfjs' | 'manyPeak' | 'secondThread';
  readonly text: string;
  readonly value: number;
  readonly want: number;
  readonly met: boolean;
  /** How far from the target, in words (`missed by 12 pts`, `met by 0.3x`). */
  readonly margin: string;
  /**
   * What the measured limits say about a miss, when they say something: for a product, the share
   * of the one-thread call that faulting in its new result's pages takes (measured in the cell after
   * its calls, {@link SweepCell.resultTouch}; in a report without that, estimated at the roofline's
   * first-touch rate where the result is new pages for sure), and the share of the peak the rest
   * reaches (or, for the second thread, the speed-up that share alone allows if faults did not
   * split over threads); for a compute-bound few-query search, the share of the call that reading
   * its corpus once at the roofline's one-thread bandwidth takes, and the share of the peak the
   * rest reaches.
   */
  readonly why?: string;
}

export interface SweepCell {
  readonly q: number;
  readonly n: number;
  readonly d: number;
  readonly op: 'search' | 'matrix';
  readonly k?: number;
  /** Why the cell did not run (memory or time), when it did not. */
  readonly skipped?: string;
  readonly figures: readonly SweepFigure[];
  /** The contenders timed side by side, round by round, after their own repetitions. */
  readonly paired?: SweepPaired;
  /**
   * For a product that missed a target: what fresh pages for a new result of the size wasm@1 ran
   * (`floats`) cost to fault in right after the cell's calls (`ms`, see
   * {@link measureResultTouch}); what the product targets' reasons quote.
   */
  readonly resultTouch?: { readonly floats: number; readonly ms: number };
  readonly verdicts: readonly SweepVerdict[];
  readonly seconds: number;
}

/**
 * Head-to-head ratios from rounds in which every contender of a cell is called once in turn (the
 * order rotating each round), so both sides of a ratio see the same moment of a shared machine:
 * each ratio is the median over the rounds of that round's ratio. The best-of times of the figures,
 * each contender timed in its own block, drift apart with the machine's load; these do not.
 */
export interface SweepPaired {
  readonly rounds: number;
  /** tfjs-wasm's fast path's time over wasm@1's (above 1: wasm@1 is faster). */
  readonly vsTfjs?: number;
  /** wasm@1's time over wasm@2's (what the second thread adds). */
  readonly secondThread?: number;
  /**
   * Each contender's time per call in each round (ms), in round order, so every ratio above can be
   * recomputed from the report (the best-of times in the table are not what it is taken of).
   */
  readonly ms?: Readonly<Record<string, readonly number[]>>;
}

export interface SweepReport {
  readonly schema: 'cosinekit-sweep/1';
  readonly startedAt: string;
  readonly durationSeconds: number;
  readonly environment: Environment;
  readonly command?: string;
  readonly settings: {
    readonly grid: SweepGrid;
    readonly scale: number;
    readonly reps: number;
    readonly warmup: number;
    readonly budgetSeconds: number;
    readonly tolerance: number;
    readonly seed: number;
  };
  readonly roofline: Roofline;
  readonly contenders: readonly ContenderInfo[];
  readonly cells: readonly SweepCell[];
  /** False when any figure is wrong or threw. */
  readonly ok: boolean;
}

/** The grid to run: the full one with overrides, N scaled (at least k rows). */
export function sweepGrid(grid: Partial<SweepGrid> = {}, scale = 1): SweepGrid {
  const n = (grid.n ?? SWEEP_GRID.n).map((x) => Math.max(SWEEP_K, Math.round(x * scale)));
  return { q: grid.q ?? SWEEP_GRID.q, n: [...new Set(n)], d: grid.d ?? SWEEP_GRID.d };
}

/**
 * Bytes a cell needs: in our wasm memory (the corpus in rows padded to 4 floats, the queries, a
 * score tile or output chunk), in tfjs's (the corpus, its normalised and transposed copies while
 * they are made, the scores) and on the host (the corpus and queries, the answers of one call, the
 * exact float64 rows of the check).
 */
export function cellBytes(q: number, n: number, d: number): { wasm: number; tfjs: number; host: number } {
  const corpus = n * d * 4;
  const padded = n * Math.ceil(d / 4) * 16;
  const out = q <= FEW_QUERIES ? q * SWEEP_K * 8 : q * n * 4;
  return {
    wasm: padded + q * Math.ceil(d / 4) * 16 + Math.min(out, 16 * 2 ** 20) + 4 * 2 ** 20,
    tfjs: 3 * corpus + 2 * q * n * 4 + q * d * 8,
    host: corpus + q * d * 4 + 2 * out + Math.min(q, 16) * n * 8 + n * 8,
  };
}

/** Nanoseconds per generated value here (the fastest of 3 tries), to estimate a cell's setup (data, exact check, uploads). */
function elementNs(): number {
  const n = 1 << 18;
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < 3; r++) {
    const s = now();
    randomMatrix(1, n, r);
    best = Math.min(best, ((now() - s) * 1e6) / n);
  }
  return Math.max(0.5, best);
}

function hostLimit(o: SweepOptions): number {
  if (o.hostMemoryLimit !== undefined) return o.hostMemoryLimit;
  const mem = (globalThis as { process?: { constrainedMemory?: () => number } }).process;
  const c = mem?.constrainedMemory?.();
  return c && c > 0 && c < 2 ** 50 ? Math.min(8 * 2 ** 30, c / 2) : 8 * 2 ** 30;
}

interface Runner {
  readonly id: string;
  readonly threads: number;
  readonly open: OpenContender | undefined;
  readonly reason?: string;
  readonly tfjs: boolean;
}

/**
 * Smallest result whose pages are new memory on every call in Node: glibc's malloc maps blocks this
 * large afresh (its mmap threshold never rises above 32 MiB), and frees them back to the system.
 * A smaller result may reuse memory the previous call freed, at no first-touch cost.
 */
const NEW_PAGES_BYTES = 32 * 2 ** 20;

/**
 * The share of wasm@1's call on cell `c` that a new result's first touch takes: the cell's own
 * measurement when it has one (`resultTouch`), else 4 bytes a pair at the roofline's first-touch
 * rate `gbs` for a result that is new pages for sure ({@link NEW_PAGES_BYTES}); 0 when unknown.
 */
function firstTouchShare(c: Omit<SweepCell, 'verdicts'>, one: SweepFigure | undefined, gbs?: number): number {
  if (!one?.nsPerPair) return 0;
  if (c.resultTouch) return (c.resultTouch.ms * 1e6) / c.resultTouch.floats / one.nsPerPair;
  if (!gbs || 4 * c.q * c.n < NEW_PAGES_BYTES) return 0;
  return 4 / gbs / one.nsPerPair;
}

/**
 * What faulting in fresh pages for a new result of `floats` floats costs beyond writing it, ms: a
 * new `Float32Array` of that length (as a product's result is made) filled once, less the same
 * array filled again; the best of `reps`, every array kept until the end so that none reuses
 * another's memory. An upper bound of what a call's new result costs: the allocator may hand a
 * call back memory an earlier one freed, already faulted in (then it costs little).
 */
export function measureResultTouch(floats: number, reps = 3): number {
  const kept: Float32Array[] = [];
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < reps; r++) {
    const t0 = now();
    const a = new Float32Array(floats);
    a.fill(1);
    const t1 = now();
    a.fill(2);
    const t2 = now();
    kept.push(a);
    best = Math.min(best, Math.max(0, t1 - t0 - (t2 - t1)));
  }
  return Number.isFinite(best) ? best : 0;
}

/**
 * The first touch a reason quotes: measured in the cell (fresh pages for a result of the size
 * wasm@1 ran, which may be a slice), or estimated from the roofline for the whole result.
 */
const touchPhrase = (c: Omit<SweepCell, 'verdicts'>) =>
  c.resultTouch
    ? `a new result's first touch (fresh pages, measured after the calls: ${fmtMs(c.resultTouch.ms)} for ${fmtBytes(4 * c.resultTouch.floats)})`
    : `the new ${fmtBytes(4 * c.q * c.n)} result's first touch`;

/**
 * Whether a first-touch share `touch` fits a call that ran at `peakShare` of the peak: the call
 * cannot have spent more than the rest of its time (1 - peakShare) faulting pages in (10% of room
 * for the measurement's noise); fresh pages measured in the cell cost more than a call that got
 * memory back from the allocator paid, and then they explain nothing.
 */
const fits = (touch: number, peakShare: number) => touch <= 1.1 * (1 - peakShare);

/** Whether a share is large enough to explain a miss, and below the whole call. */
const explains = (share: number) => share >= 0.1 && share < 1;

/** The figure of a cell, by contender id. */
const figureOf = (c: Pick<SweepCell, 'figures'>, id: string) =>
  c.figures.find((f) => f.contender === id && f.status === 'ok');

/**
 * `missed by 12 pts` / `met by 3 pts` for shares; `missed by 0.2x` for ratios. A difference that
 * rounds to nothing keeps one significant digit: 79.6% against 80% read "missed by 0 pts".
 */
function margin(value: number, want: number, share: boolean, met: boolean): string {
  const diff = Math.abs(share ? (value - want) * 100 : value - want);
  const digits = share ? 0 : 2;
  const shown = diff.toFixed(digits);
  const amount = Number(shown) === 0 && diff > 0 ? diff.toPrecision(1) : shown;
  return `${met ? 'met by' : 'missed by'} ${amount}${share ? ' pts' : 'x'}`;
}

/** A share as `pct` shows it, with more digits where rounding carries it across `want` (79.6% read "80%", missed). */
function sharePct(v: number, want: number): string {
  const shown = pct(v);
  if (Number.parseFloat(shown) / 100 >= want === v >= want) return shown;
  for (let p = 3; p <= 15; p++) {
    const s = (v * 100).toPrecision(p);
    if (Number(s) / 100 >= want === v >= want) return `${s}%`;
  }
  return `${v * 100}%`;
}

/**
 * Judges one cell on the targets that apply to it: few queries on wasm@1's share of the
 * single-thread limit that binds (bandwidth, or the peak once Q makes the call compute-bound) and on beating tfjs-wasm's fast path (one thread); many-query products with d >= 128
 * on wasm@1's share of the single-thread peak and on wasm@2's speed-up over wasm@1, when the product
 * is above the backend's threading threshold.
 */
export function judgeCell(
  c: Omit<SweepCell, 'verdicts'>,
  threadMinFlops = 0,
  firstTouchGBs?: number,
): SweepVerdict[] {
  const out: SweepVerdict[] = [];
  const one = figureOf(c, 'wasm@1');
  const two = figureOf(c, 'wasm@2');
  const tfjs = figureOf(c, 'tfjs-wasm:fast');
  const t = SWEEP_TARGETS;
  if (c.q <= FEW_QUERIES) {
    // A corpus that fits in cache is not read from memory: the bandwidth does not bind it, and
    // the cell is not judged on it (shown with `(cache)`).
    if (one?.limit && !cached(one.limit)) {
      // A stream while the corpus read binds; once enough queries share each row (about 2 flops
      // per byte here) the peak binds instead, and no kernel can stream at 80% of bandwidth: the
      // call is then held to 80% of the peak.
      const bw = one.limit.bound === 'bandwidth';
      const v = bw ? one.limit.bandwidthShare : one.limit.peakShare;
      const met = v >= t.fewBandwidth;
      // Compute-bound: the corpus is still read once, from memory where it outgrows the caches,
      // and one thread computes little while it waits on memory.
      const read = one.limit.bandwidthShare;
      const why =
        !met && !bw && one.limit.bytes >= MEMORY_CORPUS_BYTES && explains(read)
          ? `reading its ${fmtBytes(one.limit.bytes)} corpus once at the 1-thread bandwidth takes ${pct(read)} of the call, the rest runs at ${pct(Math.min(1, v / (1 - read)))} of peak`
          : undefined;
      out.push({
        target: 'fewBandwidth',
        text: bw
          ? `bw ${sharePct(v, t.fewBandwidth)}`
          : `peak ${sharePct(v, t.fewBandwidth)} (compute-bound)`,
        value: v,
        want: t.fewBandwidth,
        met,
        margin: margin(v, t.fewBandwidth, true, met),
        ...(why ? { why } : {}),
      });
    }
    const paired = c.paired?.vsTfjs;
    if (paired !== undefined || (one?.nsPerPair && tfjs?.nsPerPair)) {
      const v = paired ?? tfjs!.nsPerPair! / one!.nsPerPair!;
      const faster = (x: number) => x > 1;
      out.push({
        target: 'beatsTfjs',
        text: `vs tfjs ${onItsSide(fmtRatio(v), v, faster)}`,
        value: v,
        want: 1,
        met: faster(v),
        margin: margin(v, 1, false, faster(v)),
      });
    }
  } else if (c.q >= t.minQ && c.d >= t.minD) {
    if (one?.limit) {
      const v = one.limit.peakShare;
      const met = v >= t.manyPeak;
      const touch = firstTouchShare(c, one, firstTouchGBs);
      const why =
        !met && explains(touch) && fits(touch, v)
          ? `${touchPhrase(c)} is ${pct(touch)} of the call here, the rest runs at ${pct(Math.min(1, v / (1 - touch)))} of peak`
          : undefined;
      out.push({
        target: 'manyPeak',
        text: `peak ${sharePct(v, t.manyPeak)}`,
        value: v,
        want: t.manyPeak,
        met,
        margin: margin(v, t.manyPeak, true, met),
        ...(why ? { why } : {}),
      });
    }
    const paired = c.paired?.secondThread;
    if (
      (paired !== undefined || (one?.nsPerPair && two?.nsPerPair)) &&
      2 * c.q * c.n * c.d >= threadMinFlops
    ) {
      const v = paired ?? one!.nsPerPair! / two!.nsPerPair!;
      const met = v >= t.secondThread;
      const touch = firstTouchShare(c, one, firstTouchGBs);
      const why =
        !met && one?.limit && explains(touch) && fits(touch, one.limit.peakShare)
          ? `${touchPhrase(c)} is ${pct(touch)} of the 1-thread call; if page faults did not split over threads, that alone would hold 2 threads to ${fmtRatio(1 / (touch + (1 - touch) / 2))}`
          : undefined;
      out.push({
        target: 'secondThread',
        text: `2nd thread ${onItsSide(fmtRatio(v), v, (x) => x >= t.secondThread)}`,
        value: v,
        want: t.secondThread,
        met,
        margin: margin(v, t.secondThread, false, met),
        ...(why ? { why } : {}),
      });
    }
  }
  return out;
}

/** The contenders a side-by-side ratio is taken of: vsTfjs and secondThread. */
const PAIRED_IDS: readonly string[] = ['wasm@1', 'wasm@2', 'tfjs-wasm:fast'];

/**
 * Times the held calls side by side: `rounds` rounds (at least {@link MIN_REPS}, fewer once
 * `budgetMs` is spent), each calling every contender once in turn, the order rotating by one each
 * round. Ratios are taken between contenders that ran the same size (a slice only against the
 * same slice). Undefined when there is nothing to compare.
 */
async function pairedRatios(
  held: readonly { id: string; size: Size; call: { prepared: Prepared; callsPerRep: number } }[],
  rounds: number,
  budgetMs: number,
): Promise<SweepPaired | undefined> {
  const one = held.find((h) => h.id === 'wasm@1');
  // Only the contenders a ratio is taken of (not a wasm@<cores> beyond two), at wasm@1's size.
  const same = held.filter(
    (h) => one && PAIRED_IDS.includes(h.id) && h.size.q === one.size.q && h.size.n === one.size.n,
  );
  if (!one || same.length < 2) return undefined;
  // One timer per call, as in its own repetitions: a shared loop would see several call sites'
  // shapes and slow the cheapest calls most.
  const timers = new Map(same.map((h) => [h.id, makeTimer()]));
  const ms = new Map(same.map((h) => [h.id, [] as number[]]));
  const start = now();
  let done = 0;
  try {
    for (let r = 0; r < Math.max(rounds, MIN_REPS); r++) {
      for (let j = 0; j < same.length; j++) {
        const h = same[(r + j) % same.length];
        const [t] = await timers.get(h.id)!(h.call.prepared, h.call.callsPerRep);
        ms.get(h.id)!.push(t / h.call.callsPerRep);
      }
      done++;
      if (done >= MIN_REPS && now() - start >= budgetMs) break;
    }
  } catch {
    // A call that answered in its own repetitions failed here: the cell keeps its best-of ratios.
    return undefined;
  }
  const ratio = (slow: string, fast: string): number | undefined => {
    const a = ms.get(slow);
    const b = ms.get(fast);
    if (!a || !b) return undefined;
    const v = a.map((x, i) => x / Math.max(b[i], 1e-6)).sort((x, y) => x - y);
    const mid = v.length >> 1;
    return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
  };
  const vsTfjs = ratio('tfjs-wasm:fast', 'wasm@1');
  const secondThread = ratio('wasm@1', 'wasm@2');
  return {
    rounds: done,
    ...(vsTfjs !== undefined ? { vsTfjs } : {}),
    ...(secondThread !== undefined ? { secondThread } : {}),
    ms: Object.fromEntries(ms),
  };
}

/** The contenders of the sweep: wasm on 1, 2 and (when more) all threads, and tfjs-wasm's fast path. */
export function sweepContenderIds(threads: number): string[] {
  const ids = ['wasm@1'];
  if (threads >= 2) ids.push('wasm@2');
  if (threads > 2) ids.push(`wasm@${threads}`);
  ids.push('tfjs-wasm:fast');
  return ids;
}

/** The one method of each contender that a cell times: the resident corpus call, or tfjs's `matMul(q, cT)`. */
function pick(
  open: OpenContender,
  op: 'search' | 'matrix',
  spec: ReturnType<typeof customWorkload>,
): Method | undefined {
  const methods = open.methods(op, spec);
  if (open.info.role === 'peer') return methods[0];
  return methods.find((m) => m.name === (op === 'search' ? 'corpus.search' : 'corpus.similarity'));
}

/** Whether a contender runs the relaxed-SIMD build (judged against the FMA peak). */
function relaxed(r: Runner): boolean {
  return r.open?.info.details?.variant === 'relaxed';
}

/** A figure's share of the limit that binds it, from its time per pair (ms) at the cell's shape. */
function figureLimit(
  shape: { q: number; n: number; d: number },
  perPairMs: number,
  roofline: Roofline,
  threads: number,
  fma: boolean,
): LimitShare {
  const seconds = (perPairMs * shape.q * shape.n) / 1000;
  return limitShare(shape, seconds, limitsFor(roofline, threads, fma), threads);
}

/**
 * A judged cell's shares and verdicts again, against another roofline (`fma(contender)`: whether
 * that contender is judged against the FMA peak).
 */
export function rejudge(
  c: SweepCell,
  roofline: Roofline,
  threadMinFlops: number,
  fma: (contender: string) => boolean,
): SweepCell {
  const { verdicts: _, ...cell } = c;
  const figures = cell.figures.map((f) =>
    f.limit && f.nsPerPair !== undefined
      ? { ...f, limit: figureLimit(cell, f.nsPerPair / 1e6, roofline, f.threads, fma(f.contender)) }
      : f,
  );
  const again = { ...cell, figures };
  return { ...again, verdicts: judgeCell(again, threadMinFlops, roofline.firstTouch?.best) };
}

/** Runs the sweep: the roofline first, then every cell that fits, each contender on it in turn. */
export async function runSweep(o: SweepOptions): Promise<SweepReport> {
  const started = new Date();
  const t0 = now();
  const grid = sweepGrid(o.grid, o.scale ?? 1);
  const cellsToRun = grid.q.flatMap((q) => grid.n.flatMap((n) => grid.d.map((d) => ({ q, n, d }))));
  const total = cellsToRun.length;
  const given = o.roofline && 'peakMulAdd' in o.roofline ? o.roofline : undefined;
  o.onProgress?.(
    0,
    total + 1,
    given ? 'sweep: starting its contenders' : 'roofline: measuring peak and bandwidth',
  );
  const rooflineOptions = { threads: o.threads, ...(o.roofline as RooflineOptions | undefined) };
  let roofline = given ?? (await measureRoofline(rooflineOptions));
  const threads = o.threads ?? roofline.threads;
  const settings: RunSettings = {
    workloads: ['sweep'],
    backends: [],
    peers: [],
    reps: o.reps,
    warmup: o.warmup,
    budgetSeconds: o.budgetSeconds,
    baseline: 'wasm@1',
    tolerance: o.tolerance,
    seed: o.seed,
  };
  const runners: Runner[] = [];
  for (const id of sweepContenderIds(threads)) {
    const tfjs = id.startsWith('tfjs-');
    const c = tfjs
      ? tfjsPeerContender('wasm', 'fast', o.load, o.tfjsWasmPaths)
      : backendContender(id, () => backendSource(id, o.load).create());
    try {
      const open = await c.open();
      const t = Number(open.info.details?.threads ?? (tfjs ? 1 : Number.NaN));
      runners.push({ id, threads: Number.isFinite(t) ? t : 1, open, tfjs });
    } catch (err) {
      runners.push({ id, threads: 1, open: undefined, reason: firstLine(err), tfjs });
    }
  }
  // tfjs-wasm runs on one thread in Node (its threaded build needs a cross-origin-isolated page).
  // One usable core (a CPU affinity mask): the second thread contends for it, and is not judged.
  const oneCore = Number(o.environment.usableCores ?? o.environment.cores) < 2;
  const threadMinFlops = oneCore
    ? Number.POSITIVE_INFINITY
    : Number(runners.find((r) => r.id === 'wasm@2')?.open?.info.details?.threadMinFlops ?? 0);
  const nsPerElement = elementNs();
  const host = hostLimit(o);
  const cells: SweepCell[] = [];
  try {
    for (const [i, shape] of cellsToRun.entries()) {
      // A macrotask between cells, as the suite has between figures: a tab ran a whole sweep (minutes)
      // without painting its progress or answering anything.
      await new Promise<void>((r) => setTimeout(r, 0));
      const { q, n, d } = shape;
      const op = q <= FEW_QUERIES ? 'search' : 'matrix';
      const k = op === 'search' ? Math.min(SWEEP_K, n) : undefined;
      o.onProgress?.(i + 1, total + 1, `sweep ${q} x ${n} x ${d}`);
      const c0 = now();
      const bytes = cellBytes(q, n, d);
      const setupSeconds = (n * d * (4 + Math.min(q, 16)) * nsPerElement) / 1e9;
      let skipped: string | undefined;
      if (bytes.wasm > WASM_MEMORY_LIMIT)
        skipped = `needs ${fmtBytes(bytes.wasm)} of wasm memory (4 GiB at most)`;
      else if (bytes.host > host)
        skipped = `needs ${fmtBytes(bytes.host)} of host memory (limit ${fmtBytes(host)})`;
      else if (setupSeconds > SETUP_BUDGETS * o.budgetSeconds)
        skipped = `setup est. ${setupSeconds.toFixed(0)} s, over ${SETUP_BUDGETS} budgets of ${o.budgetSeconds} s`;
      const base = { q, n, d, op, ...(k !== undefined ? { k } : {}) } as const;
      if (skipped) {
        cells.push({ ...base, skipped, figures: [], verdicts: [], seconds: 0 });
        continue;
      }
      const spec = customWorkload({ q, n, d, ...(k !== undefined ? { k } : {}) });
      const ds = await makeDataset(spec, o.seed);
      const exact = new ExactReference(ds);
      const figures: SweepFigure[] = [];
      // Every contender's prepared call stays open for the side-by-side rounds when the host can
      // hold all their copies of the corpus at once; otherwise the ratios are of best-of times.
      const wasmCopies = runners.filter((r) => !r.tfjs).length;
      const keep = wasmCopies * bytes.wasm + bytes.tfjs + bytes.host <= host;
      const held: { id: string; size: Size; call: NonNullable<Measured['held']> }[] = [];
      let paired: SweepPaired | undefined;
      try {
        for (const r of runners) {
          const fig = { contender: r.id, threads: r.threads, size: ds.size, shrunk: false };
          if (!r.open) {
            figures.push({ ...fig, method: '-', status: 'unavailable', note: `not available: ${r.reason}` });
            continue;
          }
          if (r.tfjs && bytes.tfjs > WASM_MEMORY_LIMIT) {
            figures.push({
              ...fig,
              method: '-',
              status: 'skipped',
              note: `needs ${fmtBytes(bytes.tfjs)} of tfjs-wasm memory (4 GiB at most)`,
            });
            continue;
          }
          const m = pick(r.open, op, spec);
          if (!m) {
            figures.push({ ...fig, method: '-', status: 'unavailable', note: `no ${op} method` });
            continue;
          }
          try {
            // Only the contenders a side-by-side ratio is taken of keep their call open.
            const got = await measure(m, ds, exact, settings, keep && PAIRED_IDS.includes(r.id));
            if (got.held) held.push({ id: r.id, size: got.size, call: got.held });
            // Judged on the fastest repetition, like the roofline's best-of figures: on a shared
            // machine interference only ever adds time. A slice is scaled to the cell per pair.
            const perPair = got.timing ? got.timing.min / (got.size.q * got.size.n) : undefined;
            const limit =
              got.status === 'ok' && perPair !== undefined
                ? figureLimit({ q, n, d }, perPair, roofline, r.threads, relaxed(r))
                : undefined;
            figures.push({
              ...fig,
              method: m.name,
              status: got.status === 'ok' ? 'ok' : 'wrong',
              size: got.size,
              shrunk: got.shrunk,
              ...(got.note ? { note: got.note } : {}),
              ...(got.timing ? { timing: got.timing } : {}),
              ...(perPair !== undefined ? { nsPerPair: perPair * 1e6 } : {}),
              ...(got.accuracy ? { accuracy: got.accuracy } : {}),
              ...(limit ? { limit } : {}),
            });
          } catch (err) {
            figures.push({ ...fig, method: m.name, status: 'error', note: `threw: ${firstLine(err)}` });
          }
        }
        paired = await pairedRatios(
          held.filter((h) => figures.find((f) => f.contender === h.id)?.status === 'ok'),
          settings.reps,
          settings.budgetSeconds * 1000 * held.length,
        );
      } finally {
        // Each on its own: one failing release must not keep the others' memory.
        for (const h of held) {
          try {
            await h.call.prepared.dispose?.();
          } catch {
            // already reported by the call's own figure, if it matters
          }
        }
      }
      let cell: Omit<SweepCell, 'verdicts'> = {
        ...base,
        figures,
        ...(paired ? { paired } : {}),
        seconds: (now() - c0) / 1000,
      };
      let verdicts = judgeCell(cell, threadMinFlops, roofline.firstTouch?.best);
      // A missed product: measure what its new result costs now, and judge again with it.
      const ran = figureOf(cell, 'wasm@1')?.size;
      if (op === 'matrix' && ran && verdicts.some((v) => !v.met)) {
        const floats = ran.q * ran.n;
        // Three fresh copies while they fit in a quarter of the host limit, else one.
        const reps = 3 * 4 * floats <= host / 4 ? 3 : 1;
        cell = { ...cell, resultTouch: { floats, ms: measureResultTouch(floats, reps) } };
        verdicts = judgeCell(cell, threadMinFlops, roofline.firstTouch?.best);
      }
      cells.push({ ...cell, verdicts });
    }
  } finally {
    for (const r of runners) await r.open?.close().catch(() => {});
  }
  if (!given && cells.some((c) => c.figures.some((f) => f.limit))) {
    // The roofline again, now that the cells have run, and every share and verdict against the
    // best of both measurements (see mergeRooflines).
    o.onProgress?.(total + 1, total + 1, 'roofline: measuring again after the cells');
    roofline = mergeRooflines(roofline, await measureRoofline(rooflineOptions));
    const fma = (id: string) => runners.some((r) => r.id === id && relaxed(r));
    for (const [i, c] of cells.entries()) cells[i] = rejudge(c, roofline, threadMinFlops, fma);
  }
  o.onProgress?.(total + 1, total + 1, 'done');
  const contenders: ContenderInfo[] = runners.map((r) =>
    r.open
      ? r.open.info
      : { id: r.id, role: r.tfjs ? 'peer' : 'backend', available: false, reason: r.reason },
  );
  return {
    schema: 'cosinekit-sweep/1',
    startedAt: started.toISOString(),
    durationSeconds: (now() - t0) / 1000,
    environment: o.environment,
    ...(o.command ? { command: o.command } : {}),
    settings: {
      grid,
      scale: o.scale ?? 1,
      reps: o.reps,
      warmup: o.warmup,
      budgetSeconds: o.budgetSeconds,
      tolerance: o.tolerance,
      seed: o.seed,
    },
    roofline,
    contenders,
    cells,
    ok: cells.every((c) => c.figures.every((f) => f.status !== 'wrong' && f.status !== 'error')),
  };
}

// ---------------------------------------------------------------------------------------------
// Text.

const share = (f: SweepFigure | undefined) => (f?.limit ? shareCell(f.limit, f.shrunk) : '');

/** A figure's median, or why it has none. */
function timeOf(f: SweepFigure | undefined): string {
  if (!f) return '-';
  if (f.status === 'ok' && f.timing) return `${fmtMs(f.timing.min)}${f.shrunk ? '*' : ''}`;
  return f.status.toUpperCase();
}

/** Per target: cells met out of cells judged, and the worst miss. */
export function summarizeTargets(r: SweepReport): string[] {
  const names: Record<SweepVerdict['target'], string> = {
    fewBandwidth: `Q <= ${FEW_QUERIES}: wasm@1 >= ${pct(SWEEP_TARGETS.fewBandwidth)} of the 1-thread limit that binds (read bandwidth; the peak where Q makes it compute-bound)`,
    beatsTfjs: `Q <= ${FEW_QUERIES}: wasm@1 faster than tfjs-wasm's fast path (1 thread), at every N`,
    manyPeak: `Q >= ${SWEEP_TARGETS.minQ}, d >= ${SWEEP_TARGETS.minD}: wasm@1 >= ${pct(SWEEP_TARGETS.manyPeak)} of 1-thread peak`,
    secondThread: `Q >= ${SWEEP_TARGETS.minQ}, d >= ${SWEEP_TARGETS.minD}: wasm@2 >= ${SWEEP_TARGETS.secondThread}x wasm@1`,
  };
  const out: string[] = [];
  for (const target of Object.keys(names) as SweepVerdict['target'][]) {
    const judged = r.cells.flatMap((c) =>
      c.verdicts.filter((v) => v.target === target).map((v) => ({ c, v })),
    );
    // Few-query cells whose corpus stays in cache are shown, not judged on bandwidth.
    const inCache =
      target === 'fewBandwidth'
        ? r.cells.filter((c) => {
            const l = figureOf(c, 'wasm@1')?.limit;
            return c.q <= FEW_QUERIES && l !== undefined && cached(l);
          }).length
        : 0;
    const aside = inCache ? `; ${inCache} with a corpus under 32 MiB (in cache) not judged` : '';
    if (!judged.length) {
      out.push(`n/a     ${names[target]}: no cell measured it${aside}`);
      continue;
    }
    const missed = judged.filter((x) => !x.v.met);
    const worst = [...judged].sort((a, b) => a.v.value / a.v.want - b.v.value / b.v.want)[0];
    const verdict = missed.length ? 'MISSED' : 'met';
    const where = `${worst.c.q} x ${worst.c.n.toLocaleString('en-US')} x ${worst.c.d}`;
    out.push(
      `${verdict.padEnd(7)} ${names[target]}: met in ${judged.length - missed.length} of ${judged.length} cells${aside}; worst ${worst.v.text} at ${where} (${worst.v.margin}${worst.v.why ? `; ${worst.v.why}` : ''})`,
    );
  }
  return out;
}

/**
 * The sweep as a compact text table: per cell the wasm@1 time and its share of the binding limit,
 * the all-threads share, what the second thread adds, tfjs's fast path and wasm@1's ratio to it,
 * whether every figure matched float64, and the targets met or missed (by how much).
 */
export function renderSweep(r: SweepReport): string {
  const threads = r.contenders.filter((c) => c.id.startsWith('wasm@')).map((c) => c.id);
  const all = threads[threads.length - 1];
  const header = [
    'Q',
    'N',
    'd',
    'op',
    'wasm@1 best',
    'of limit',
    ...(all && all !== 'wasm@1' ? [`${all} of limit`] : []),
    ...(threads.includes('wasm@2') ? ['wasm@2 vs @1'] : []),
    'tfjs fast best',
    'wasm@1 vs tfjs',
    'float64 check',
    'targets',
  ];
  const rows = r.cells.map((c) => {
    const lead = [String(c.q), c.n.toLocaleString('en-US'), String(c.d), c.op];
    if (c.skipped) return [...lead, `skipped: ${c.skipped}`];
    const one = c.figures.find((f) => f.contender === 'wasm@1');
    const two = c.figures.find((f) => f.contender === 'wasm@2');
    const top = c.figures.find((f) => f.contender === all);
    const tfjs = c.figures.find((f) => f.contender === 'tfjs-wasm:fast');
    // Side by side where the cell held every contender (`paired`), else of the best-of times.
    const ratio = (a?: SweepFigure, b?: SweepFigure, side?: number) =>
      side !== undefined
        ? fmtRatio(side)
        : a?.nsPerPair && b?.nsPerPair && a.status === 'ok' && b.status === 'ok'
          ? `${fmtRatio(b.nsPerPair / a.nsPerPair)}†`
          : '';
    const wrong = c.figures.filter((f) => f.status === 'wrong' || f.status === 'error');
    const checked = c.figures.filter((f) => f.accuracy).length;
    const check = wrong.length ? `WRONG: ${wrong.map((f) => f.contender).join(', ')}` : `${checked} ok`;
    const verdicts = c.verdicts.map(
      (v) =>
        `${v.text} ${v.met ? 'met' : `MISSED (${v.margin.replace('missed ', '')}${v.why ? `; ${v.why}` : ''})`}`,
    );
    const skippedTfjs = tfjs?.status === 'skipped' ? 'skipped' : timeOf(tfjs);
    return [
      ...lead,
      timeOf(one),
      share(one),
      ...(all && all !== 'wasm@1' ? [share(top)] : []),
      ...(threads.includes('wasm@2') ? [ratio(two, one, c.paired?.secondThread)] : []),
      skippedTfjs,
      ratio(one, tfjs, c.paired?.vsTfjs),
      check,
      verdicts.join('; '),
    ];
  });
  const lines = [
    'Roofline of this machine',
    ...describeRoofline(r.roofline).map((l) => `  ${l}`),
    '',
    `Shape sweep (${r.cells.length} cells, ${r.durationSeconds.toFixed(0)} s; Q <= ${FEW_QUERIES}: corpus.search top-${SWEEP_K}; more: corpus.similarity):`,
    ...columns([header, ...rows]),
    '',
    "Times are the fastest repetition per call (the roofline is best-of too; medians are in the JSON); * ran on a slice (the full size did not fit the time budget), judged per pair at the cell's size. 'of limit': share of the limit that binds (peak: 2QNd at the threads' peak; bw: the corpus bytes at their read bandwidth; (cache): a corpus under 32 MiB, which stays in cache and may read faster than memory, so it is not judged on bandwidth). Ratios (wasm@2 vs @1, wasm@1 vs tfjs) and the targets judged on them are medians of per-round ratios, every contender called once per round in turn after its own repetitions, so both sides see the same moment of the machine; a ratio marked † is of best-of times (the cell could not hold every contender at once, or they ran different sizes).",
    '',
    'Targets:',
    ...summarizeTargets(r).map((l) => `  ${l}`),
  ];
  const notes = r.cells.flatMap((c) =>
    c.figures
      .filter((f) => f.status !== 'ok' && f.note)
      .map((f) => `  ${c.q} x ${c.n} x ${c.d} ${f.contender}: ${f.note}`),
  );
  if (notes.length) lines.push('', 'Notes:', ...notes);
  return lines.join('\n');
}

/** Reads `q=1,8;n=10000;d=96,384` (any subset of the axes). */
export function parseGrid(text: string): Partial<SweepGrid> {
  const out: Record<string, number[]> = {};
  const parts = text.split(/[;\s]+/).filter(Boolean);
  // An empty --grid once ran the whole grid (minutes): it is a typo, not "everything".
  if (parts.length === 0) throw new Error("grid is empty: give parts like 'q=1,8;n=10000;d=96,384'");
  for (const part of parts) {
    const m = /^([qnd])=([\d,_]+)$/i.exec(part.trim());
    if (!m) throw new Error(`grid part '${part}' is not like q=1,8 or n=10000 or d=96,384`);
    const items = m[2].split(',');
    // 'q=1,,2' once ran a cell twice; an empty item or a repeated value is a typo.
    if (items.some((v) => v === '')) throw new Error(`grid part '${part}' has an empty value`);
    const values = items.map((v) => Number(v.replace(/_/g, '')));
    if (!values.length || values.some((v) => !Number.isInteger(v) || v < 1))
      throw new Error(`grid part '${part}' needs positive integers`);
    if (new Set(values).size !== values.length) throw new Error(`grid part '${part}' repeats a value`);
    // n=5 ran 10 rows without a word: a top-k cell needs k rows.
    if (m[1].toLowerCase() === 'n' && values.some((v) => v < SWEEP_K))
      throw new Error(
        `grid part '${part}' has fewer rows than the sweep's top-${SWEEP_K} needs (n >= ${SWEEP_K})`,
      );
    if (m[1].toLowerCase() in out) throw new Error(`grid axis '${m[1]}' is given twice`);
    out[m[1].toLowerCase()] = values;
  }
  return out as Partial<SweepGrid>;
}
