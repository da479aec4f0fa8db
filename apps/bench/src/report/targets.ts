import { fmtBytes, MILLION_EXTRA_LIMIT } from '../million.js';
import type { BenchReport, BenchResult } from '../types.js';
import { PRESETS } from '../workloads.js';
import { fmtNs, fmtRatio, fmtSize } from './format.js';

/**
 * One of the product's performance targets (their basis is stated in the bench README, "Targets"),
 * judged on a report.
 */
export interface TargetCheck {
  readonly target: string;
  readonly measured: string;
  /** `undefined` when the run cannot judge it; `measured` then says why. */
  readonly met?: boolean;
}

/** The run's scale of workload `id` against the preset the targets are stated for, or why there is none. */
function sizeProblem(r: BenchReport, id: string): string | undefined {
  const w = r.workloads.find((x) => x.id === id)?.size;
  const p = PRESETS[id]?.size;
  if (!w || !p) return `workload ${id} not in this run`;
  if (w.q === p.q && w.n === p.n && w.d === p.d) return undefined;
  return `${id} ran scaled to ${fmtSize(w)}: targets are judged at full size only`;
}

/** A figure the run has, or the reason it does not have one to judge. */
type Found =
  | { readonly result: BenchResult; readonly why?: undefined; readonly instead?: string }
  | { readonly result?: undefined; readonly why: string };

function find(r: BenchReport, workload: string, contender: string, method?: string): Found {
  const scaled = sizeProblem(r, workload);
  if (scaled) return { why: scaled };
  const mine = r.results.filter(
    (x) =>
      x.workload === workload &&
      x.contender === contender &&
      (method === undefined || x.method.startsWith(method)),
  );
  const info = r.contenders.find((c) => c.id === contender);
  if (info && !info.available) return { why: `${contender} not available` };
  if (!info && !r.results.some((x) => x.contender === contender))
    return { why: `${contender} not in this run` };
  const ok = mine.find((x) => x.status === 'ok' && x.nsPerPair !== undefined);
  // Judged on a later figure of the prefix, where the first is not ok: say which, and why not the
  // first.
  if (ok && ok !== mine[0])
    return { result: ok, instead: `${ok.method}; ${mine[0].method}: ${mine[0].status}` };
  if (ok) return { result: ok };
  const bad = mine.find((x) => x.status !== 'ok');
  if (bad) return { why: `${contender}${method ? ` ${method}` : ''} on ${workload}: ${bad.status}` };
  return { why: `${contender} has no ${method ?? 'figure'} on ${workload}` };
}

/** One side of a ratio target: a contender's figure on a workload (the first ok method with that prefix). */
export interface FigureRef {
  readonly contender: string;
  readonly method?: string;
}

/** Two figures a ratio target compares on one workload: how many times `a` is faster than `b`, per pair. */
export interface RatioPair {
  readonly workload: string;
  readonly a: FigureRef;
  readonly b: FigureRef;
}

/**
 * The figure a target is judged on for `ref`, or why there is none: {@link find} of the exported
 * kind, for the side-by-side pass that times a ratio target's two calls again, in turn.
 */
export function judgedFigure(r: BenchReport, workload: string, ref: FigureRef): BenchResult | undefined {
  return find(r, workload, ref.contender, ref.method).result;
}

/**
 * `a` is `ratio`x faster than `b`, per pair (so slices compare), or the reason there is no ratio.
 * Taken from the side-by-side rounds (`r.paired`) where the run has them for these two calls, else
 * from the two figures' own medians, measured apart (and `apart` is then absent).
 */
function ratio(
  r: BenchReport,
  pair: RatioPair,
): { x: number; apart?: number; why?: undefined } | { x?: undefined; why: string } {
  const a = find(r, pair.workload, pair.a.contender, pair.a.method);
  const b = find(r, pair.workload, pair.b.contender, pair.b.method);
  if (a.why !== undefined) return { why: a.why };
  if (b.why !== undefined) return { why: b.why };
  const apart = b.result.nsPerPair! / a.result.nsPerPair!;
  const side = (Array.isArray(r.paired) ? r.paired : []).find(
    (p) =>
      Number.isFinite(p?.ratio) &&
      p.ratio > 0 &&
      p.workload === pair.workload &&
      p.a.contender === a.result.contender &&
      p.a.method === a.result.method &&
      p.b.contender === b.result.contender &&
      p.b.method === b.result.method,
  );
  return side ? { x: side.ratio, apart } : { x: apart };
}

const UNITS: Readonly<Record<string, number>> = { x: 1, ns: 1, us: 1e3, ms: 1e6, s: 1e9 };

/**
 * `text` (`1.30x`, `15.0 ms`), the figure `value` (a ratio, or ns) as a report shows it, with more
 * digits where rounding carried it across the target: `side` tells which side of the target a
 * value is on. A C ratio of 1.2951 read "1.30x" and "missed" for ">= 1.3x", 15.04 ms read
 * "15.0 ms" and "missed" for "<= 15 ms"; they read "1.295x" and "15.04 ms".
 */
export function onItsSide(text: string, value: number, side: (v: number) => boolean): string {
  const m = /^(\d+(?:\.\d*)?) ?(x|ns|us|ms|s)$/.exec(text);
  if (!m || !Number.isFinite(value)) return text;
  const scale = UNITS[m[2]];
  const want = side(value);
  if (side(Number(m[1]) * scale) === want) return text;
  const unit = m[2] === 'x' ? 'x' : ` ${m[2]}`;
  for (let p = m[1].replace('.', '').length + 1; p <= 15; p++) {
    const shown = (value / scale).toPrecision(p);
    if (side(Number(shown) * scale) === want) return `${shown}${unit}`;
  }
  return `${value / scale}${unit}`;
}

/** A side-by-side ratio as shown, with the ratio of the two figures' own medians beside it. */
const sideBySide = (shown: string, apart: number) => `${shown} side by side (${fmtRatio(apart)} apart)`;

function ratioCheck(target: string, found: ReturnType<typeof ratio>, min: number): TargetCheck {
  if (found.x === undefined) return { target, measured: `not judged: ${found.why}` };
  const met = (x: number) => x >= min;
  const shown = onItsSide(fmtRatio(found.x), found.x, met);
  return {
    target,
    measured: found.apart === undefined ? shown : sideBySide(shown, found.apart),
    met: met(found.x),
  };
}

/**
 * A figure with a time target (`within`, on ns; `also`, anything else it must meet, shown after
 * the time): judged only when it ran at full size.
 */
function timeCheck(
  target: string,
  f: Found,
  ns: (r: BenchResult) => number,
  within: (ns: number) => boolean,
  also?: { readonly show: (r: BenchResult) => string; readonly met: (r: BenchResult) => boolean },
): TargetCheck {
  if (f.why !== undefined) return { target, measured: `not judged: ${f.why}` };
  const r = f.result;
  const t = ns(r);
  const shown = `${onItsSide(fmtNs(t), t, within)}${also ? `, ${also.show(r)}` : ''}${f.instead ? ` (${f.instead})` : ''}`;
  if (r.shrunk) return { target, measured: `${shown} (on a slice: not judged)` };
  return { target, measured: shown, met: within(t) && (also?.met(r) ?? true) };
}

/** The ratio targets' pairs, so the targets and the side-by-side pass name the same two figures. */
const PAIR = {
  /** A wasm backend's layout against tfjs-wasm's fastest call on C. */
  wasmVsTfjs: (id: string): RatioPair => ({
    workload: 'C',
    a: { contender: id, method: 'corpus.similarity' },
    b: { contender: 'tfjs-wasm:fast' },
  }),
  coreVsLoop: (loop: 'textbook' | 'tuned'): RatioPair => ({
    workload: 'A',
    a: { contender: 'core' },
    b: { contender: 'naive', method: loop },
  }),
  referenceVsLoop: (method: string): RatioPair => ({
    workload: 'C',
    a: { contender: 'reference', method },
    b: { contender: 'naive', method: 'textbook' },
  }),
  tfjsSearch: (id: string): RatioPair => ({
    workload: 'B',
    a: { contender: id, method: 'corpus.search' },
    b: { contender: `${id}:fast` },
  }),
  tfjsLayout: (id: string): RatioPair => ({
    workload: 'C',
    a: { contender: id, method: 'corpus.similarity' },
    b: { contender: `${id}:obvious` },
  }),
} as const;

const REFERENCE_METHODS = ['corpus.similarity', 'cosineMatrix'] as const;

/** The wasm contenders that ran, with the thread count and the C ratio they are held to. */
function wasmRuns(r: BenchReport) {
  const usable = Number(r.environment.usableCores ?? r.environment.cores);
  return r.contenders
    .filter((c) => c.available && /^wasm(-|@|$)/.test(c.id))
    .map((c) => {
      const variant = String(c.details?.variant ?? c.id);
      const threads = Number(c.details?.threads ?? 1);
      // Plain SIMD on one thread 1.3x, relaxed SIMD 1.6x, two threads 2.2x (basis: the bench README).
      const min = threads >= 2 ? 2.2 : variant === 'relaxed' ? 1.6 : 1.3;
      // Threads past the cores this process may use measure contention, not the backend.
      return { id: c.id, variant, threads, min, usable, judged: threads <= usable };
    });
}

const tfjsRuns = (r: BenchReport) =>
  r.contenders.filter((x) => x.available && /^tfjs-(wasm|cpu|webgl)$/.test(x.id));

/**
 * Every pair of figures a ratio target of {@link checkTargets} compares in this run: the calls
 * the side-by-side pass times again in alternation, so that a ratio is not two medians taken
 * seconds apart on a machine whose load changed in between.
 */
export function ratioPairs(r: BenchReport): RatioPair[] {
  return [
    ...wasmRuns(r)
      .filter((w) => w.judged)
      .map((w) => PAIR.wasmVsTfjs(w.id)),
    PAIR.coreVsLoop('textbook'),
    PAIR.coreVsLoop('tuned'),
    ...REFERENCE_METHODS.map(PAIR.referenceVsLoop),
    ...tfjsRuns(r).flatMap((c) => [PAIR.tfjsSearch(c.id), PAIR.tfjsLayout(c.id)]),
  ];
}

/**
 * The product's targets that one run can judge, on the figures it has for workloads at their full
 * size (a scaled run judges nothing, and says so). Informational: the exit code depends on
 * correctness only, since timings on a shared machine are noisy.
 */
export function checkTargets(r: BenchReport): TargetCheck[] {
  const out: TargetCheck[] = [];
  for (const { id, variant, threads, min, usable, judged } of wasmRuns(r)) {
    const target = `C: ${id} (${variant}, ${threads} thread${threads > 1 ? 's' : ''}) corpus.similarity >= ${min}x tfjs-wasm fast path`;
    out.push(
      judged
        ? ratioCheck(target, ratio(r, PAIR.wasmVsTfjs(id)), min)
        : {
            target,
            measured: `not judged: ${threads} threads on ${usable} usable core${usable > 1 ? 's' : ''}`,
          },
    );
    out.push(
      timeCheck(
        `B: ${id} corpus.search <= 15 ms per query`,
        find(r, 'B', id, 'corpus.search'),
        (b) => b.timing!.median * 1e6,
        (ns) => ns <= 15e6,
      ),
    );
    out.push(
      timeCheck(
        `B: ${id} int8 corpus (default re-rank) <= 5 ms with recall@10 >= 0.99`,
        find(r, 'B', id, 'int8 corpus, re-rank'),
        (q8) => q8.timing!.median * 1e6,
        (ns) => ns <= 5e6,
        {
          show: (q8) => `recall ${q8.accuracy?.recall ?? '?'}`,
          met: (q8) => (q8.accuracy?.recall ?? 0) >= 0.99,
        },
      ),
    );
    if (r.workloads.some((w) => w.id === 'million')) {
      const m = r.results.find((x) => x.workload === 'million' && x.contender === id && x.memory);
      const scaled = sizeProblem(r, 'million');
      const extra = m?.memory?.searchPeakExtra;
      out.push({
        target: `million: ${id} extra memory during search O(Q x k + tile) (< ${fmtBytes(MILLION_EXTRA_LIMIT)})`,
        measured:
          extra === undefined
            ? `not judged: ${id} has no memory figures on million`
            : `${fmtBytes(extra)} over ${m!.size.n.toLocaleString('en-US')} rows${scaled ? ` (not judged: ${scaled})` : ''}`,
        met: extra !== undefined && !scaled ? extra < MILLION_EXTRA_LIMIT : undefined,
      });
    }
    out.push(
      timeCheck(
        `A: ${id} resident pair < 0.3 us`,
        find(r, 'A', id, 'vectorCosine'),
        (p) => p.nsPerPair!,
        (ns) => ns < 300,
      ),
    );
  }
  out.push(ratioCheck('A: core cosine() >= 1.5x the naive loop', ratio(r, PAIR.coreVsLoop('textbook')), 1.5));
  const tuned = ratio(r, PAIR.coreVsLoop('tuned'));
  if (tuned.x !== undefined) {
    // No target: shown so the baseline is never mistaken for the best a plain loop can do.
    out.push({
      target: 'A: core cosine() vs the tuned loop (no target)',
      measured: tuned.apart === undefined ? fmtRatio(tuned.x) : sideBySide(fmtRatio(tuned.x), tuned.apart),
    });
  }
  for (const method of REFERENCE_METHODS) {
    out.push(
      ratioCheck(`C: reference ${method} >= 3x the naive loop`, ratio(r, PAIR.referenceVsLoop(method)), 3),
    );
  }
  for (const c of tfjsRuns(r)) {
    // One query is a stream: the best any tfjs call does is about 3x its obvious way there, so on B
    // backend-tfjs must match tfjs's own fast path; on C its layout must be worth 5x.
    out.push(
      ratioCheck(`B: ${c.id} corpus.search >= 1x tfjs's own fast path`, ratio(r, PAIR.tfjsSearch(c.id)), 1),
      ratioCheck(
        `C: ${c.id} corpus.similarity >= 5x tfjs called the obvious way`,
        ratio(r, PAIR.tfjsLayout(c.id)),
        5,
      ),
    );
  }
  for (const c of r.contenders.filter((x) => /^gpujs/.test(x.id))) {
    const mine = r.results.filter((x) => x.contender === c.id);
    const bad = mine.filter((x) => x.status === 'wrong' || x.status === 'error').length;
    out.push({
      target: `${c.id}: correct on every workload`,
      measured: c.available ? `${mine.length - bad} of ${mine.length} correct` : 'not judged: not available',
      met: c.available ? bad === 0 : undefined,
    });
  }
  // A target on a workload the run did not include is not news: leave it out.
  const ran = new Set(r.workloads.map((w) => w.id));
  return out.filter((t) => {
    const w = /^(\w+): /.exec(t.target)?.[1];
    return !(w && w in PRESETS && !ran.has(w));
  });
}

/** `met`, `missed` or `n/a`. */
export const verdict = (t: TargetCheck) => (t.met === undefined ? 'n/a' : t.met ? 'met' : 'missed');
