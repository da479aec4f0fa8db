import { ExactReference } from './accuracy.js';
import { firstLine } from './backends.js';
import { UsageError } from './bench.js';
import { measure } from './measure.js';
import type { Contender } from './method.js';
import { MILLION_NOT_RUN } from './million.js';
import { timeSideBySide } from './paired.js';
import { markEmulated } from './report/format.js';
import { hangMs, now, withTimeout } from './timing.js';
import type {
  BenchReport,
  BenchResult,
  ContenderInfo,
  Environment,
  PairedRatio,
  RunSettings,
  Size,
  WorkloadSpec,
} from './types.js';
import { type Dataset, makeDataset } from './workloads.js';

/** Everything a run needs; environment-agnostic (the CLI and the browser page both build one). */
export interface SuiteOptions {
  readonly workloads: readonly WorkloadSpec[];
  readonly contenders: readonly Contender[];
  readonly settings: RunSettings;
  readonly environment: Environment;
  /** Called before each (contender, workload) and once at the end with `done === total`. */
  readonly onProgress?: (done: number, total: number, label: string) => void;
}

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
      // The backend refused the configuration asked of it (pgvector-hnsw@1001, --wasm-tuning
      // tile=abc): the caller's mistake, not an engine missing here. It was one "not available"
      // row, "nothing was measured" and exit 0.
      if (refusedConfiguration(err)) throw new UsageError(`${c.id}: ${firstLine(err)}`);
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
        if (w.data === 'million') {
          specs.set(w.id, w);
          try {
            if (open.million) results.push(...(await open.million(w, o.settings)));
            else
              results.push({
                workload: w.id,
                contender: c.id,
                role: c.role,
                method: '-',
                size: w.size,
                shrunk: false,
                status: 'skipped',
                note: MILLION_NOT_RUN,
              });
          } catch (err) {
            results.push(errorResult(w.id, c, 'int8 corpus from chunks', w.size, err));
          }
          done++;
          continue;
        }
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
  const withRatios = markEmulated(applySpeedups(results, o.settings.baseline), infos, o.environment);
  const report: BenchReport = {
    schema: 'cosinekit-bench/1',
    startedAt: started.toISOString(),
    durationSeconds: 0,
    environment: o.environment,
    settings: o.settings,
    workloads: o.workloads.map((w) => specs.get(w.id) ?? w),
    contenders: infos,
    results: withRatios,
    ok: withRatios.every((r) => r.status !== 'wrong' && r.status !== 'error'),
  };
  let paired: PairedRatio[] = [];
  let checked = report.results;
  if (o.settings.sideBySide !== false) {
    o.onProgress?.(total, total, 'ratio targets side by side');
    await breathe();
    const byId = new Map(o.workloads.map((w) => [w.id, w]));
    const side = await timeSideBySide(
      report,
      o.contenders,
      (id) => {
        const w = byId.get(id);
        return w && w.data !== 'million' ? dataset(w) : undefined;
      },
      o.settings,
    );
    paired = side.paired;
    // A call right in its own figure and wrong in the rounds beside another: that figure is wrong.
    checked = checked.map((r) => {
      const bad = side.wrong.find((w) => w.figure === r);
      if (!bad) return r;
      const note = `WRONG in the side-by-side rounds: max error ${bad.accuracy.maxAbsError.toExponential(2)} (tolerance ${bad.accuracy.tolerance})${bad.accuracy.recall !== undefined ? `, recall ${bad.accuracy.recall.toFixed(3)}` : ''}`;
      return { ...r, status: 'wrong', note: r.note ? `${note}; ${r.note}` : note };
    });
  }
  o.onProgress?.(total, total, 'done');
  return {
    ...report,
    results: checked,
    ok: checked.every((r) => r.status !== 'wrong' && r.status !== 'error'),
    durationSeconds: (now() - t0) / 1000,
    ...(paired.length ? { paired } : {}),
  };
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

/**
 * Speed relative to the baseline of each workload (a contender id, or `contender/method`): time
 * per pair, so a figure measured on a slice still compares with one measured at full size.
 */
export function applySpeedups(results: readonly BenchResult[], baseline: string): BenchResult[] {
  const base = new Map<string, number>();
  for (const r of results) {
    if (r.status !== 'ok' || r.nsPerPair === undefined || base.has(r.workload)) continue;
    // `contender/method` may give the method's start (`wasm/vectorCosine` for its resident pair).
    if (
      r.contender === baseline ||
      `${r.contender}/${r.method}`.startsWith(baseline.includes('/') ? baseline : '\0')
    )
      base.set(r.workload, r.nsPerPair);
  }
  return results.map((r) => {
    const b = base.get(r.workload);
    return b !== undefined && r.nsPerPair !== undefined && r.nsPerPair > 0
      ? { ...r, speedup: b / r.nsPerPair }
      : r;
  });
}

/** True for a CosineKitError (or one it wraps) refusing an argument: INVALID_ARGUMENT or INVALID_TYPE. */
export function refusedConfiguration(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (code === 'INVALID_ARGUMENT' || code === 'INVALID_TYPE') return true;
  }
  return false;
}
