import type { BenchReport, BenchResult, ContenderInfo, Environment, Size } from '../types.js';

/** Milliseconds in the unit that reads best. */
export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  // The bounds are where three significant digits round up into the next unit (999.7 us is 1.00 ms).
  if (ms < 0.9995e-3) return `${(ms * 1e6).toFixed(0)} ns`;
  if (ms < 0.9995) return `${(ms * 1e3).toPrecision(3)} us`;
  if (ms < 999.5) return `${ms.toPrecision(3)} ms`;
  return `${(ms / 1000).toPrecision(3)} s`;
}

/** `Q x N x d` (and `top-k`). */
export function fmtSize(s: Size): string {
  const k = s.k !== undefined ? `, k=${s.k}` : '';
  return `${s.q.toLocaleString('en-US')} x ${s.n.toLocaleString('en-US')} x ${s.d}${k}`;
}

/** The columns every report shows, in order. */
export const COLUMNS = [
  'Workload',
  'Size',
  'Contender',
  'Method',
  'Ran by',
  'Median',
  'Spread (min-max)',
  'Setup',
  'Reps',
  'Rate',
  'Speed-up',
  'Accuracy',
  'Status',
] as const;

export type Column = (typeof COLUMNS)[number];

/** A result as plain strings, one per column; `tone` tells colouring reports what deserves attention. */
export interface DisplayRow {
  readonly cells: Record<Column, string>;
  readonly tone: 'ok' | 'bad' | 'warn' | 'muted';
  /** The "Ran by" cell shows a fallback to another backend. */
  readonly fellBack: boolean;
}

/** Names of software GPUs: shaders run on the CPU. */
const SOFTWARE_GPU = /swiftshader|llvmpipe|lavapipe|softpipe|software rasterizer|microsoft basic render/i;

/**
 * What emulates a contender's GPU, or undefined when it runs on hardware or on no GPU at all: the
 * backend's own word (`describe().emulated`, as webgpu reports), a software renderer named in its
 * details (gpu.js's GL renderer, tfjs-webgpu's adapter), or, for WebGL contenders, the page's
 * WebGL renderer.
 */
export function emulationOf(info: ContenderInfo | undefined, environment: Environment): string | undefined {
  if (!info?.available) return undefined;
  const details = info.details ?? {};
  const named = (s: unknown) => SOFTWARE_GPU.exec(String(s ?? ''))?.[0];
  const software = Object.values(details)
    .map(named)
    .find((n) => n !== undefined);
  if (details.emulated !== undefined) return software ?? 'a software adapter';
  if (software) return software;
  const webgl = /webgl/i.test(`${info.id} ${details.engine ?? ''}`) ? named(environment.webgl) : undefined;
  return webgl;
}

/** Each measured figure of a contender on a software GPU, marked with what emulated it. */
export function markEmulated(
  results: readonly BenchResult[],
  contenders: readonly ContenderInfo[],
  environment: Environment,
): BenchResult[] {
  return results.map((r) => {
    const by = r.timing
      ? emulationOf(
          contenders.find((c) => c.id === r.contender),
          environment,
        )
      : undefined;
    return by ? { ...r, emulated: by } : r;
  });
}

/** Formats one result. `report` supplies the backends' names, to tell a fallback from the backend itself. */
export function displayRow(r: BenchResult, report: Pick<BenchReport, 'contenders' | 'settings'>): DisplayRow {
  const info = report.contenders.find((c) => c.id === r.contender);
  const own = info?.backend ?? r.contender;
  const fellBack = r.role === 'backend' && r.ranBy !== undefined && r.ranBy !== own;
  const t = r.timing;
  const pair = r.size.q * r.size.n === 1;
  const cells: Record<Column, string> = {
    Workload: r.workload,
    Size: r.shrunk ? `slice ${fmtSize(r.size)}` : 'full',
    Contender: r.contender,
    Method: r.method,
    'Ran by': r.ranBy ? (fellBack ? `${r.ranBy} (fallback)` : r.ranBy) : '',
    Median: t ? `${fmtMs(t.median)}${r.emulated ? ' (emulated)' : ''}` : '',
    'Spread (min-max)': t ? `${fmtMs(t.min)} - ${fmtMs(t.max)}` : '',
    Setup: r.setupMs !== undefined && r.setupMs >= 1 ? fmtMs(r.setupMs) : '',
    Reps: t ? (t.callsPerRep > 1 ? `${t.reps} (x${t.callsPerRep})` : String(t.reps)) : '',
    Rate:
      r.gflops === undefined ? '' : pair ? `${fmtNs(r.nsPerPair!)}/pair` : `${r.gflops.toFixed(2)} GFLOP/s`,
    'Speed-up': r.speedup !== undefined ? `${fmtRatio(r.speedup)}${r.shrunk ? '*' : ''}` : '',
    Accuracy: fmtAccuracy(r),
    Status: r.status === 'ok' ? (r.note ? `ok; ${r.note}` : 'ok') : (r.note ?? r.status),
  };
  if (r.emulated) cells.Status += `; emulated on ${r.emulated}: CPU, not GPU, speed`;
  const tone =
    r.status === 'wrong' || r.status === 'error'
      ? 'bad'
      : r.status === 'unavailable' || r.status === 'skipped'
        ? 'muted'
        : fellBack || r.shrunk || r.emulated
          ? 'warn'
          : 'ok';
  return { cells, tone, fellBack };
}

/** `2.31x`, with more digits for small ratios. */
export function fmtRatio(x: number): string {
  return x >= 100
    ? `${x.toFixed(0)}x`
    : x >= 10
      ? `${x.toFixed(1)}x`
      : x >= 0.1
        ? `${x.toFixed(2)}x`
        : `${x.toPrecision(2)}x`;
}

/** Nanoseconds in the unit that reads best. */
export function fmtNs(ns: number): string {
  return fmtMs(ns / 1e6);
}

function fmtAccuracy(r: BenchResult): string {
  const a = r.accuracy;
  if (!a) return '';
  const err = Number.isFinite(a.maxAbsError) ? a.maxAbsError.toExponential(1) : 'invalid';
  const recall = a.recall !== undefined ? `, recall ${a.recall === 1 ? '1' : a.recall.toFixed(3)}` : '';
  return `err ${err}${recall}`;
}

/** The run's settings and environment as `label: value` lines. */
export function headerLines(report: Pick<BenchReport, 'environment' | 'settings'>): string[] {
  const e = report.environment;
  const s = report.settings;
  return [
    `Runtime: ${e.runtime}, ${e.platform}`,
    `CPU: ${e.cpu}, ${e.cores} cores${e.usableCores !== undefined ? ` (${e.usableCores} usable by this process)` : ''}; wasm SIMD: ${e.wasmSimd}`,
    ...Object.entries(e)
      .filter(([k]) => !['runtime', 'platform', 'cpu', 'cores', 'usableCores', 'wasmSimd'].includes(k))
      .map(([k, v]) => `${k}: ${v}`),
    ...(s.command ? [`Command: ${s.command}`] : []),
    `Settings: reps ${s.reps}, warm-up ${s.warmup}, budget ${s.budgetSeconds} s per figure, baseline '${s.baseline}', tolerance ${s.tolerance}, seed ${s.seed}`,
  ];
}

/** A warning when the machine was busy at the start (1-minute load above the core count), else undefined. */
export function busyWarning(report: BenchReport): string | undefined {
  const load = Number.parseFloat(String(report.environment.loadAverage ?? ''));
  const cores = report.environment.cores;
  if (!(load > 0) || !(cores > 0) || load <= cores) return undefined;
  return `The machine was busy (load ${load.toFixed(1)} on ${cores} cores): timings are noisy; compare the spreads, not just medians.`;
}

/** One line per contender: what actually ran, or why it could not. */
export function contenderLines(
  report: Pick<BenchReport, 'contenders'>,
): { text: string; available: boolean; leak?: boolean }[] {
  return report.contenders.map((c) => {
    if (!c.available) return { text: `${c.id}: not available: ${c.reason}`, available: false };
    const details = Object.entries(c.details ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(', ');
    const fallbacks = Object.entries(c.providers ?? {})
      .filter(([, p]) => p !== c.backend)
      .map(([k]) => k);
    const fb = fallbacks.length ? `; reference runs: ${fallbacks.join(', ')}` : '';
    const name = c.backend && c.backend !== c.id ? ` (backend '${c.backend}')` : '';
    const leak = c.leak ? `; LEAK: ${c.leak}` : '';
    return {
      text: `${c.id}${name}: ${details || 'no description'}${fb}${leak}`,
      available: true,
      leak: !!c.leak,
    };
  });
}

/**
 * Workloads with figures but no speed-up: the baseline has no correct figure there (it did not run
 * that workload, was not available, or its `contender/method` matched no method). The column was
 * left blank without a word.
 */
export function baselineNotes(report: BenchReport): string[] {
  const out: string[] = [];
  for (const w of report.workloads) {
    const rs = report.results.filter((r) => r.workload === w.id && r.status === 'ok');
    if (rs.length > 0 && rs.every((r) => r.speedup === undefined))
      out.push(
        `No speed-up on ${w.id}: the baseline '${report.settings.baseline}' has no correct figure there (set another with --baseline contender or contender/method).`,
      );
  }
  return out;
}

/** Explains the marks the tables use. */
export const FOOTNOTES = [
  'Times are per call (median of the repetitions; "5 (x24)": 5 repetitions of 24 calls each). Size "full" is the workload\'s size; a "slice" ran on the size shown because the full size would not fit the time budget.',
  'Setup: one-off upload of the resident corpus (kit.corpus, or the tfjs tensor), not in the median.',
  'Speed-up is the baseline time per pair divided by this time per pair (* measured on a slice, compared per pair). Rate is 2*Q*N*d / median time, or time per pair for one pair.',
  'Accuracy: largest |cosine - float64 cosine| over sampled query rows (every row of a matrix is also checked by its projection on random signs; every hit of a search for its score and order); recall of the exact float64 top-k on the sampled queries (ties within --tolerance count, approximate figures included).',
  '(emulated): measured on a software GPU (SwiftShader, llvmpipe), which runs the shaders on the CPU: it shows the results are right, not how fast a GPU is.',
];
