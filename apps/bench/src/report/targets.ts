import { fmtBytes, MILLION_EXTRA_LIMIT } from '../million.js';
import type { BenchReport, BenchResult } from '../types.js';
import { PRESETS } from '../workloads.js';
import { fmtNs, fmtRatio } from './format.js';

/** One performance target of DESIGN section 4, judged on a report. */
export interface TargetCheck {
  readonly target: string;
  readonly measured: string;
  /** `undefined` when the run lacks the figures (workload or contender not run, or not available). */
  readonly met?: boolean;
}

/** True when the run's workload `id` has the size DESIGN's targets are stated for (not scaled). */
function realSize(r: BenchReport, id: string): boolean {
  const w = r.workloads.find((x) => x.id === id)?.size;
  const p = PRESETS[id]?.size;
  return !!w && !!p && w.q === p.q && w.n === p.n && w.d === p.d;
}

const find = (
  r: BenchReport,
  workload: string,
  contender: string,
  method?: string,
): BenchResult | undefined =>
  r.results.find(
    (x) =>
      realSize(r, workload) &&
      x.workload === workload &&
      x.contender === contender &&
      (method === undefined || x.method.startsWith(method)) &&
      x.status === 'ok' &&
      x.nsPerPair !== undefined,
  );

/** `a` is `ratio`x faster than `b`, per pair (so slices compare), or undefined. */
const speedup = (a?: BenchResult, b?: BenchResult) =>
  a?.nsPerPair && b?.nsPerPair ? b.nsPerPair / a.nsPerPair : undefined;

function ratioCheck(target: string, x: number | undefined, min: number, what: string): TargetCheck {
  if (x === undefined) return { target, measured: `not measured (${what})` };
  return { target, measured: `${fmtRatio(x)}`, met: x >= min };
}

/**
 * The targets of DESIGN section 4 that one run can judge, on the figures it has for workloads at
 * their real size (a scaled run judges nothing). Informational: the exit code depends on correctness
 * only, since timings on a shared machine are noisy.
 */
export function checkTargets(r: BenchReport): TargetCheck[] {
  const out: TargetCheck[] = [];
  const wasmIds = r.contenders.filter((c) => c.available && /^wasm(-|$)/.test(c.id)).map((c) => c.id);
  for (const id of wasmIds) {
    const details = r.contenders.find((c) => c.id === id)?.details;
    const variant = String(details?.variant ?? id);
    const threads = Number(details?.threads ?? 1);
    // DESIGN: 1.3x with plain SIMD on one thread, 1.6x relaxed, 2.2x with two threads.
    const min = threads >= 2 ? 2.2 : variant === 'relaxed' ? 1.6 : 1.3;
    out.push(
      ratioCheck(
        `C: ${id} (${variant}, ${threads} thread${threads > 1 ? 's' : ''}) corpus.similarity >= ${min}x tfjs-wasm fast path`,
        speedup(find(r, 'C', id, 'corpus.similarity'), find(r, 'C', 'tfjs-wasm:fast')),
        min,
        'needs C with wasm and tfjs-wasm',
      ),
    );
    const b = find(r, 'B', id, 'corpus.search');
    const full = b && !b.shrunk;
    out.push({
      target: `B: ${id} corpus.search <= 15 ms per query`,
      measured: b ? `${fmtNs(b.timing!.median * 1e6)}${full ? '' : ' (on a slice)'}` : 'not measured',
      met: full ? b.timing!.median <= 15 : undefined,
    });
    const q8 = find(r, 'B', id, 'int8 corpus');
    const q8full = q8 && !q8.shrunk;
    out.push({
      target: `B: ${id} int8 corpus <= 5 ms with recall@10 >= 0.99`,
      measured: q8
        ? `${fmtNs(q8.timing!.median * 1e6)}, recall ${q8.accuracy?.recall ?? '?'}${q8full ? '' : ' (on a slice)'}`
        : 'not measured',
      met: q8full ? q8.timing!.median <= 5 && (q8.accuracy?.recall ?? 0) >= 0.99 : undefined,
    });
    if (r.workloads.some((w) => w.id === 'million')) {
      const m = r.results.find((x) => x.workload === 'million' && x.contender === id && x.memory);
      const real = realSize(r, 'million');
      const extra = m?.memory?.searchPeakExtra;
      out.push({
        target: `million: ${id} extra memory during search O(Q x k + tile) (< ${fmtBytes(MILLION_EXTRA_LIMIT)})`,
        measured:
          extra === undefined
            ? 'not measured'
            : `${fmtBytes(extra)} over ${m!.size.n.toLocaleString('en-US')} rows${real ? '' : ' (scaled: not judged)'}`,
        met: extra !== undefined && real ? extra < MILLION_EXTRA_LIMIT : undefined,
      });
    }
    const pair = find(r, 'A', id, 'vectorCosine');
    out.push({
      target: `A: ${id} resident pair < 0.3 us`,
      measured: pair ? fmtNs(pair.nsPerPair!) : 'not measured',
      met: pair ? pair.nsPerPair! < 300 : undefined,
    });
  }
  out.push(
    ratioCheck(
      'A: core cosine() >= 1.5x the naive loop',
      speedup(find(r, 'A', 'core'), find(r, 'A', 'naive', 'textbook')),
      1.5,
      'needs A with core and naive',
    ),
  );
  const tuned = speedup(find(r, 'A', 'core'), find(r, 'A', 'naive', 'tuned'));
  if (tuned !== undefined) {
    // No target: shown so the baseline is never mistaken for the best a plain loop can do.
    out.push({ target: 'A: core cosine() vs the tuned loop (no target)', measured: fmtRatio(tuned) });
  }
  for (const method of ['corpus.similarity', 'cosineMatrix']) {
    out.push(
      ratioCheck(
        `C: reference ${method} >= 3x the naive loop`,
        speedup(find(r, 'C', 'reference', method), find(r, 'C', 'naive', 'textbook')),
        3,
        'needs C with reference and naive',
      ),
    );
  }
  for (const c of r.contenders.filter((x) => x.available && /^tfjs-(wasm|cpu|webgl)$/.test(x.id))) {
    for (const [w, method] of [
      ['B', 'corpus.search'],
      ['C', 'corpus.similarity'],
    ] as const) {
      out.push(
        ratioCheck(
          `${w}: ${c.id} ${method} >= 5x tfjs called the obvious way`,
          speedup(find(r, w, c.id, method), find(r, w, `${c.id}:obvious`)),
          5,
          `needs ${w} with ${c.id} and its obvious peer`,
        ),
      );
    }
  }
  for (const c of r.contenders.filter((x) => /^gpujs/.test(x.id))) {
    const mine = r.results.filter((x) => x.contender === c.id);
    const bad = mine.filter((x) => x.status === 'wrong' || x.status === 'error').length;
    out.push({
      target: `${c.id}: correct on every workload`,
      measured: c.available ? `${mine.length - bad} of ${mine.length} correct` : 'not available',
      met: c.available ? bad === 0 : undefined,
    });
  }
  return out;
}

/** `met`, `MISSED` or `n/a`. */
export const verdict = (t: TargetCheck) => (t.met === undefined ? 'n/a' : t.met ? 'met' : 'MISSED');
