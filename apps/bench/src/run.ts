import { checkMatrix, checkSearch, ExactReference, knnAccuracy } from './accuracy.js';
import { firstLine } from './backends.js';
import type { Contender, Method, Output, Prepared } from './method.js';
import { summarize } from './stats.js';
import type {
  Accuracy,
  BenchReport,
  BenchResult,
  ContenderInfo,
  Environment,
  RunSettings,
  Size,
  WorkloadSpec,
} from './types.js';
import { type Dataset, makeDataset, shrink } from './workloads.js';

/** Everything a run needs; environment-agnostic (the CLI and the browser page both build one). */
export interface SuiteOptions {
  readonly workloads: readonly WorkloadSpec[];
  readonly contenders: readonly Contender[];
  readonly settings: RunSettings;
  readonly environment: Environment;
  /** Called before each (contender, workload) and once at the end with `done === total`. */
  readonly onProgress?: (done: number, total: number, label: string) => void;
}

/** Fewest timed repetitions worth a median; a slower contender runs on a smaller size instead. */
export const MIN_REPS = 3;
/** Budgets a resident corpus upload (setup, not timed) may take before the corpus is sliced. */
const SETUP_BUDGETS = 10;
/** Shortest repetition: calls faster than this are repeated inside one repetition and averaged. */
const MIN_REP_MS = 10;

const now = () => performance.now();
/** Lets a browser paint the progress between measurements. */
const breathe = () => new Promise<void>((r) => setTimeout(r, 0));

/** Runs every contender on every workload and reports timings, accuracy and what actually ran. */
export async function runSuite(o: SuiteOptions): Promise<BenchReport> {
  const started = new Date();
  const t0 = now();
  const data = new Map<string, Promise<{ ds: Dataset; exact: ExactReference }>>();
  const dataset = (w: WorkloadSpec) => {
    const key = `${w.id}:${w.size.q}x${w.size.n}x${w.size.d}`;
    let p = data.get(key);
    if (!p) {
      p = makeDataset(w, o.settings.seed).then((ds) => ({ ds, exact: new ExactReference(ds) }));
      data.set(key, p);
    }
    return p;
  };
  const results: BenchResult[] = [];
  const infos: ContenderInfo[] = [];
  const specs = new Map<string, WorkloadSpec>();
  const total = o.contenders.length * o.workloads.length;
  let done = 0;
  for (const c of o.contenders) {
    o.onProgress?.(done, total, `${c.id}: starting`);
    await breathe();
    let open: Awaited<ReturnType<Contender['open']>>;
    try {
      open = await withTimeout(c.open(), hangMs(o.settings), `${c.id}: open`);
    } catch (err) {
      const reason = firstLine(err);
      infos.push({ id: c.id, role: c.role, available: false, reason });
      for (const w of o.workloads) {
        results.push({
          workload: w.id,
          contender: c.id,
          role: c.role,
          method: '-',
          size: w.size,
          shrunk: false,
          status: 'unavailable',
          note: `not available: ${reason}`,
        });
      }
      done += o.workloads.length;
      continue;
    }
    let info = open.info;
    try {
      for (const w of o.workloads) {
        o.onProgress?.(done, total, `${w.id} · ${c.id}`);
        await breathe();
        let data: { ds: Dataset; exact: ExactReference };
        try {
          data = await dataset(w);
        } catch (err) {
          results.push({ ...errorResult(w.id, c, '-', w.size, err), note: `data: ${firstLine(err)}` });
          done++;
          continue;
        }
        const { ds, exact } = data;
        specs.set(w.id, ds.spec);
        let methods: ReturnType<typeof open.methods> = [];
        try {
          methods = open.methods(w.kind, ds.spec);
        } catch (err) {
          results.push(errorResult(w.id, c, '-', ds.size, err));
        }
        for (const m of methods) {
          const base = { workload: w.id, contender: c.id, role: c.role, method: m.name, ranBy: m.ranBy };
          try {
            results.push({ ...base, ...(await measure(m, ds, exact, o.settings)) });
          } catch (err) {
            results.push({ ...errorResult(w.id, c, m.name, ds.size, err), ranBy: m.ranBy });
          }
        }
        done++;
      }
      const leak = open.leaks?.();
      if (leak) info = { ...info, leak };
    } finally {
      infos.push(info);
      await open.close().catch(() => {});
    }
  }
  o.onProgress?.(total, total, 'done');
  const withRatios = applySpeedups(results, o.settings.baseline);
  return {
    schema: 'cosinekit-bench/1',
    startedAt: started.toISOString(),
    durationSeconds: (now() - t0) / 1000,
    environment: o.environment,
    settings: o.settings,
    workloads: o.workloads.map((w) => specs.get(w.id) ?? w),
    contenders: infos,
    results: withRatios,
    ok: withRatios.every((r) => r.status !== 'wrong' && r.status !== 'error'),
  };
}

/** How long an awaited step may take before the bench calls it hung and moves on. */
const hangMs = (s: RunSettings) => Math.max(120_000, 60_000 * s.budgetSeconds);

/** Rejects when `p` has not settled within `ms`: a backend whose promise never resolves must not stall the run. */
function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000} s`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function errorResult(workload: string, c: Contender, method: string, size: Size, err: unknown): BenchResult {
  return {
    workload,
    contender: c.id,
    role: c.role,
    method,
    size,
    shrunk: false,
    status: 'error',
    note: `threw: ${firstLine(err)}`,
  };
}

type Measured = Pick<
  BenchResult,
  'size' | 'shrunk' | 'status' | 'note' | 'timing' | 'setupMs' | 'gflops' | 'nsPerPair' | 'accuracy'
>;

/** Q x N x d: the work of one call, for scaling a probe's time to another size. */
const work = (s: Size) => s.q * s.n * s.d;

/**
 * Times one method on one dataset within the time budget. Matrix and search workloads are first
 * probed on a small slice (Q/32 rows, or N/16 corpus rows for a single query) to estimate the full
 * call; a contender too slow for `warmup + MIN_REPS` full calls in the budget runs on the largest
 * slice that fits, and the result says so.
 */
async function measure(m: Method, full: Dataset, exact: ExactReference, s: RunSettings): Promise<Measured> {
  const prepare = (d: Dataset) => m.prepare(d);
  const timeCalls = makeTimer();
  const budget = s.budgetSeconds * 1000;
  const plan: Plan = full.spec.kind === 'pair' ? { ds: full } : await planSize(prepare, timeCalls, full, s);
  const { ds } = plan;
  const notes: string[] = plan.note ? [plan.note] : [];
  let perCall: number[];
  let callsPerRep = 1;
  let out: Output;
  let setupMs: number | undefined;
  if (plan.cold) {
    perCall = [plan.cold.ms];
    out = plan.cold.out;
  } else {
    const t1 = now();
    const p = await withTimeout(Promise.resolve(prepare(ds)), hangMs(s), 'prepare');
    setupMs = now() - t1;
    try {
      let lastWarm = 0;
      for (let i = 0; i < s.warmup; i++) [lastWarm] = await timeCalls(p, 1);
      // A warm-up call that already lasts ten repetitions saves calibrating a slow call with one more.
      // Calibrated twice: the first pass also warms the JIT, which makes short calls much faster.
      callsPerRep =
        lastWarm >= 10 * MIN_REP_MS ? 1 : await calibrate(timeCalls, p, await calibrate(timeCalls, p, 1));
      perCall = [];
      // Time-boxed: stop early once the budget is spent and MIN_REPS are in (or at twice the budget).
      const start = now();
      for (let r = 0; r < s.reps; r++) {
        const [ms, o] = await timeCalls(p, callsPerRep);
        perCall.push(ms / callsPerRep);
        out = o;
        const spent = now() - start;
        if (r + 1 < s.reps && ((spent >= budget && r + 1 >= MIN_REPS) || spent >= 2 * budget)) {
          notes.push(`${r + 1} of ${s.reps} reps: ${s.budgetSeconds} s budget spent`);
          break;
        }
      }
    } finally {
      await p.dispose?.();
    }
  }
  const timing = summarize(perCall, callsPerRep);
  const tolerance = m.approximate?.tolerance ?? s.tolerance;
  const accuracy = check(out!, ds, exact, tolerance, m.approximate?.minRecall ?? 1);
  if (m.approximate) {
    notes.push(`approximate: held to error <= ${tolerance}, recall >= ${m.approximate.minRecall}`);
  }
  const { q, n, d } = ds.size;
  const labels = ds.labels;
  if (labels && 'indices' in out! && ds.size.k) {
    const acc = knnAccuracy(out.indices, q, ds.size.k, labels.queries, labels.corpus);
    notes.push(`k-NN@${ds.size.k} label accuracy ${acc.toFixed(3)}`);
  }
  if (!accuracy.ok) notes.unshift(accuracy.problem ?? wrongNote(accuracy));
  return {
    size: ds.size,
    shrunk: ds !== full,
    status: accuracy.ok ? 'ok' : 'wrong',
    note: notes.length ? notes.join('; ') : undefined,
    timing,
    setupMs: setupMs !== undefined && setupMs > 0.05 ? setupMs : undefined,
    gflops: (2 * q * n * d) / (timing.median * 1e6),
    nsPerPair: (timing.median * 1e6) / (q * n),
    accuracy,
  };
}

function wrongNote(a: Accuracy): string {
  const parts = [`max error ${a.maxAbsError.toExponential(2)} (tolerance ${a.tolerance})`];
  if (a.recall !== undefined && a.recall < 1) parts.push(`recall ${a.recall.toFixed(3)}`);
  return `WRONG: ${parts.join(', ')}`;
}

/** The size to measure at; `cold` when even the smallest slice's first call blew the budget. */
interface Plan {
  readonly ds: Dataset;
  readonly note?: string;
  readonly cold?: { readonly ms: number; readonly out: Output };
}

/**
 * Chooses the size that fits `MIN_REPS` timed calls in the budget. Probes a slice (1/32 of the
 * queries, or of the corpus for one query) and models a call as fixed cost plus cost per pair; a
 * second probe at the size the first suggests pins down both terms (a tiny probe alone
 * overestimates: its fixed cost is scaled up with it). At most three probes. A slice of more than
 * half the workload is not worth it: the full size runs with fewer repetitions instead.
 */
async function planSize(
  prepare: (ds: Dataset) => Prepared | Promise<Prepared>,
  timeCalls: Timer,
  full: Dataset,
  s: RunSettings,
): Promise<Plan> {
  const budget = s.budgetSeconds * 1000;
  let probe = sliceBy(full, 1 / 32);
  if (work(probe.size) >= work(full.size)) return { ds: full };
  const points: [number, number][] = [];
  for (let round = 0; ; round++) {
    const t0 = now();
    const p = await withTimeout(Promise.resolve(prepare(probe)), hangMs(s), 'prepare');
    const setup = now() - t0;
    try {
      const [cold, out] = await withTimeout(timeCalls(p, 1), hangMs(s), 'first call');
      if (round === 0 && cold > Math.max(4 * budget, 2000)) {
        // A first call includes compiling (shaders, JIT), so a slow one is normally repeated; but
        // one this slow makes another cost more than the figure may: report it, marked cold.
        return {
          ds: probe,
          cold: { ms: cold, out },
          note: `over budget: one cold call on the smallest slice took ${fmtMs(cold)}; not repeated`,
        };
      }
      points.push([work(probe.size), (await timeCalls(p, 1))[0]]);
    } finally {
      await p.dispose?.();
    }
    const model = fitCost(points);
    const est = model(work(full.size));
    // When the corpus is what gets sliced, its upload (setup, untimed) shrinks with it: bound it too.
    const setupFull = full.size.q === 1 ? (setup * full.size.n) / probe.size.n : 0;
    const setupWant = setupFull > 0 ? (SETUP_BUDGETS * budget) / setupFull : 1;
    const fixed = model(0);
    const perWork = (est - fixed) / work(full.size);
    // The largest slice whose MIN_REPS calls fit, from the model's fixed and per-pair cost.
    const computeWant =
      MIN_REPS * est <= budget ? 1 : Math.max(0, (budget / MIN_REPS - fixed) / perWork) / work(full.size);
    const want = Math.min(setupWant, computeWant);
    if (want >= 0.5) return { ds: full };
    const next = sliceBy(full, want);
    if (round < 2 && work(next.size) > 1.5 * work(probe.size)) {
      probe = next;
      continue;
    }
    const ds = work(next.size) > work(probe.size) ? next : probe;
    const why =
      setupWant < computeWant
        ? `resident corpus upload est. ${fmtMs(setupFull)} at full size`
        : `full size est. ${fmtMs(est)} per call`;
    return { ds, note: `${why}: over budget, ran on a slice` };
  }
}

/** Time per call as a function of work: proportional from one probe, affine (fixed + per pair) from two. */
function fitCost(points: readonly [number, number][]): (w: number) => number {
  const [w1, t1] = points[points.length - 1];
  if (points.length < 2) return (w) => (t1 * w) / w1;
  const [w0, t0] = points[points.length - 2];
  const slope = (t1 - t0) / (w1 - w0);
  // Noise can make the slope negative or the intercept so; fall back to proportional then.
  if (!(slope > 0) || t1 - slope * w1 < 0) return (w) => (t1 * w) / w1;
  const fixed = t1 - slope * w1;
  return (w) => fixed + slope * w;
}

/** The first `fraction` of the queries (or of the corpus, for a single query), at least one row. */
function sliceBy(ds: Dataset, fraction: number): Dataset {
  const { q, n, k } = ds.size;
  if (fraction >= 1) return ds;
  if (q > 1) return shrink(ds, Math.max(1, Math.floor(q * fraction)), n);
  return shrink(ds, q, Math.max(k ?? 1, Math.min(n, Math.floor(n * fraction))));
}

/** Calls per repetition so that one repetition lasts at least {@link MIN_REP_MS}. */
async function calibrate(timeCalls: Timer, p: Prepared, start: number): Promise<number> {
  let count = start;
  for (;;) {
    const [ms] = await timeCalls(p, count);
    if (ms >= MIN_REP_MS / 4 || count >= 1 << 20) {
      return Math.max(1, Math.ceil((count * MIN_REP_MS) / Math.max(ms, 1e-3)));
    }
    count *= 4;
  }
}

/** Times `count` calls of a prepared method; returns the elapsed ms and the last answer. */
type Timer = (p: Prepared, count: number) => Promise<[number, Output]>;

let timerSerial = 0;
const AsyncFunction = (async () => {}).constructor as new (
  ...args: string[]
) => (...a: unknown[]) => Promise<unknown>;

/**
 * A timing loop of its own for one method. One shared loop would have one call site for every
 * contender: the first to run gets it monomorphic (its call inlined), later ones polymorphic, and for
 * calls of a few microseconds that order bias measured 1.4x here. Compiling the loop per method
 * (a distinct source, so V8 shares neither code nor type feedback) gives each the same start.
 * Synchronous answers are not awaited, so a microtask is not in their timing.
 */
function makeTimer(): Timer {
  const loop = new AsyncFunction(
    'p',
    'count',
    'now',
    `/* timer ${timerSerial++} */
    let out;
    const start = now();
    for (let i = 0; i < count; i++) {
      const r = p.call();
      out = r instanceof Promise ? await r : r;
    }
    return [now() - start, out];`,
  );
  return (p, count) => loop(p, count, now) as Promise<[number, Output]>;
}

function check(
  out: Output,
  ds: Dataset,
  exact: ExactReference,
  tolerance: number,
  minRecall: number,
): Accuracy {
  const { q, n, k } = ds.size;
  if (ds.spec.kind === 'pair') {
    if (!('value' in out)) return badShape(tolerance, 'expected one cosine');
    const err = Math.abs(out.value - exact.row(0, 1)[0]);
    const e = Number.isNaN(err) ? Number.POSITIVE_INFINITY : err;
    return { maxAbsError: e, tolerance, checkedRows: 1, ok: e <= tolerance };
  }
  if (ds.spec.kind === 'matrix') {
    if (!('matrix' in out)) return badShape(tolerance, 'expected a cosine matrix');
    return checkMatrix(exact, q, n, out.matrix, tolerance);
  }
  if (!('indices' in out)) return badShape(tolerance, 'expected top-k hits');
  return checkSearch(exact, q, n, k ?? 1, out.indices, out.scores, tolerance, minRecall);
}

function badShape(tolerance: number, problem: string): Accuracy {
  return { maxAbsError: Number.POSITIVE_INFINITY, tolerance, checkedRows: 0, ok: false, problem };
}

/**
 * Speed relative to the baseline of each workload (a contender id, or `contender/method`): time
 * per pair, so a figure measured on a slice still compares with one measured at full size.
 */
export function applySpeedups(results: readonly BenchResult[], baseline: string): BenchResult[] {
  const base = new Map<string, number>();
  for (const r of results) {
    if (r.status !== 'ok' || r.nsPerPair === undefined || base.has(r.workload)) continue;
    if (r.contender === baseline || `${r.contender}/${r.method}` === baseline)
      base.set(r.workload, r.nsPerPair);
  }
  return results.map((r) => {
    const b = base.get(r.workload);
    return b !== undefined && r.nsPerPair !== undefined && r.nsPerPair > 0
      ? { ...r, speedup: b / r.nsPerPair }
      : r;
  });
}

/** Milliseconds in the unit that reads best. */
export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms < 1e-3) return `${(ms * 1e6).toFixed(0)} ns`;
  if (ms < 1) return `${(ms * 1e3).toPrecision(3)} us`;
  if (ms < 1000) return `${ms.toPrecision(3)} ms`;
  return `${(ms / 1000).toPrecision(3)} s`;
}
