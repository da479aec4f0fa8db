/**
 * The benchmark page: the suite of the CLI (shared code, nothing Node-only) run in the browser,
 * where tfjs gets its webgl engine and gpu.js WebGL2. `?autorun=1` plus the form's fields as query
 * parameters run it on load (the Playwright test does); the report is then on `window.benchReport`,
 * and the shape sweep's (workload `sweep`) on `window.sweepReport`.
 */
// tfjs-wasm fetches its binaries from the site root unless told where Vite put them: these URLs go
// to backend-tfjs's engine init (or to setWasmPaths on the peers' own path).
import tfjsWasm from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import tfjsWasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import tfjsWasmThreadedSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import type { ModuleLoader } from '../backends.js';
import { benchmark } from '../bench.js';
import { toJson } from '../report/json.js';
import { renderSvg } from '../report/svg.js';
import { renderRoofline } from '../roofline.js';
import { parseGrid, renderSweep, runSweep, type SweepReport } from '../sweep.js';
import type { BenchReport } from '../types.js';
import { customTooBig, PRESETS, scaleWorkload } from '../workloads.js';
import { browserEnvironment } from './env.js';
import { renderAnswers, renderEnvironment, renderResults } from './render.js';

declare global {
  interface Window {
    /** The last finished run, for tests and the console. */
    benchReport?: BenchReport;
    /** The last finished shape sweep, when `sweep` was ticked (set before `benchReport`). */
    sweepReport?: SweepReport;
    /** Set when a run could not start or crashed. */
    benchError?: string;
  }
}

const wasmPaths = {
  'tfjs-backend-wasm.wasm': tfjsWasm,
  'tfjs-backend-wasm-simd.wasm': tfjsWasmSimd,
  'tfjs-backend-wasm-threaded-simd.wasm': tfjsWasmThreadedSimd,
};

type Module = Record<string, unknown>;
// Literal imports, so Vite bundles each backend as its own chunk, loaded only when selected.
const modules: Record<string, () => Promise<Module>> = {
  '@cosinekit/backend-wasm': () => import('@cosinekit/backend-wasm').then((m) => m as unknown as Module),
  '@cosinekit/backend-tfjs': () => import('@cosinekit/backend-tfjs').then((m) => m as unknown as Module),
  '@cosinekit/backend-gpujs': () => import('@cosinekit/backend-gpujs').then((m) => m as unknown as Module),
  '@cosinekit/backend-webgpu': () => import('@cosinekit/backend-webgpu').then((m) => m as unknown as Module),
  // PGlite (Postgres in wasm) with pgvector, in memory: its wasm, data and extension bundle are
  // assets Vite copies beside the chunk (`new URL(..., import.meta.url)`).
  '@cosinekit/backend-pgvector': () =>
    import('@cosinekit/backend-pgvector').then((m) => m as unknown as Module),
};
const load: ModuleLoader = (spec) =>
  modules[spec]?.() ?? Promise.reject(new Error(`${spec} is not bundled into this page`));

export const BROWSER_BACKENDS = [
  'reference',
  'wasm',
  'tfjs-wasm',
  'tfjs-webgl',
  'gpujs-webgl2',
  'webgpu',
  'tfjs-webgpu',
];
export const BROWSER_PEERS = ['naive', 'core', 'tfjs-obvious', 'tfjs-fast'];

/**
 * The page's default sweep grid: every Q of the full grid, N up to 100,000 and three d, 24 cells
 * (a few minutes on 2 cores). The full grid's 1M rows would hold a corpus of up to 12 GB three times
 * over (wasm@1, wasm@all, tfjs) in one tab; empty the field to run it anyway (cells that do not fit
 * are skipped and say why).
 */
export const PAGE_SWEEP_GRID = 'q=1,8,64,1000;n=10000,100000;d=96,384,1536';
/** Host memory a sweep cell may use in a tab (the CLI allows 8 GiB). */
const PAGE_SWEEP_HOST_BYTES = 2 * 2 ** 30;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const form = $<HTMLFormElement>('form');
const field = (name: string) => form.elements.namedItem(name) as HTMLInputElement;
const list = (v: string) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

// Query parameters prefill the form: ?workloads=A,B&scale=0.05&backends=...&reps=3&budget=0.5&autorun=1
const params = new URLSearchParams(location.search);
/** The settings the page takes from its query. */
const PAGE_KEYS = [
  'workloads',
  'backends',
  'peers',
  'grid',
  'scale',
  'reps',
  'warmup',
  'budget',
  'baseline',
  'seed',
  'autorun',
];
field('backends').value = params.get('backends') ?? BROWSER_BACKENDS.join(',');
field('peers').value = params.get('peers') ?? BROWSER_PEERS.join(',');
field('grid').value = params.get('grid') ?? PAGE_SWEEP_GRID;
for (const name of ['scale', 'reps', 'warmup', 'budget', 'baseline']) {
  const v = params.get(name);
  if (v !== null) field(name).value = v;
}
const wanted = params.get('workloads');
/** Why the query's settings cannot run, checked when the run starts (ids no box stands for, ...). */
const queryProblems: string[] = [];
if (wanted !== null) {
  const ids = list(wanted);
  const boxes = [...form.querySelectorAll<HTMLInputElement>('input[name=workload]')];
  // As the CLI takes them: 'a' is A. An id no box stands for was dropped, and the run "succeeded"
  // having measured nothing; an empty list ran the defaults.
  const known = (id: string) => boxes.find((b) => b.value === id || b.value === id.toUpperCase());
  const unknown = ids.filter((id) => !known(id));
  if (ids.length === 0) queryProblems.push('workloads is empty: name at least one');
  if (unknown.length)
    queryProblems.push(
      `unknown workload ${unknown.map((u) => `'${u}'`).join(', ')} (this page runs ${boxes.map((b) => b.value).join(', ')})`,
    );
  for (const box of boxes) box.checked = ids.some((id) => known(id) === box);
}
for (const key of params.keys())
  if (!PAGE_KEYS.includes(key))
    queryProblems.push(`unknown setting '${key}' (the page takes ${PAGE_KEYS.join(', ')})`);

/** A number setting, checked as the CLI checks its flag: a usage error, never a quiet default. */
function numberSetting(name: string, min: number, max: number, integer: boolean): number {
  const text = field(name).value.trim();
  const v = Number(text);
  // `min` itself is allowed for integers (reps from 1, warmup from 0), not for other numbers.
  const low = integer ? v >= min : v > min;
  if (text === '' || !Number.isFinite(v) || !low || v > max || (integer && !Number.isInteger(v)))
    throw new Error(
      `${name} must be ${integer ? `an integer in [${min}, ${max}]` : `a number in (${min}, ${max}]`}, got '${text}'`,
    );
  return v;
}

let last: BenchReport | undefined;
let lastSweep: SweepReport | undefined;

async function run(): Promise<void> {
  const button = $<HTMLButtonElement>('run');
  const progress = $<HTMLProgressElement>('progress');
  const label = $('label');
  const status = $('status');
  button.disabled = true;
  status.textContent = 'Running…';
  $('answer').replaceChildren();
  status.className = '';
  try {
    if (queryProblems.length) throw new Error(queryProblems.join('; '));
    const ticked = [...form.querySelectorAll<HTMLInputElement>('input[name=workload]:checked')].map(
      (b) => b.value,
    );
    if (ticked.length === 0) throw new Error('no workload is ticked');
    const sweepTicked = ticked.includes('sweep');
    // The sweep measures a roofline of its own unless the suite measured one first.
    const workloads = ticked.filter((w) => w !== 'sweep');
    // Read only for a sweep; an empty field is the full grid (as the field's hint says).
    const gridText = field('grid').value.trim();
    const grid = sweepTicked && gridText !== '' ? parseGrid(gridText) : {};
    // As the CLI checks its flags (bad values became 1, or were taken: reps=3e9 wrapped negative,
    // budget=1e9 overflowed the timers).
    const timing = {
      reps: numberSetting('reps', 1, 1_000_000, true),
      warmup: numberSetting('warmup', 0, 1_000_000, true),
      budgetSeconds: numberSetting('budget', 0, 3600, false),
      tolerance: 1e-4,
      seed: params.has('seed') ? Number(params.get('seed')) : 42,
    };
    // Capped as the CLI caps it: 2^32 ran as seed 0.
    if (!(Number.isInteger(timing.seed) && timing.seed >= 0 && timing.seed <= 0xffffffff))
      throw new Error(`seed must be an integer in [0, 4294967295], got '${params.get('seed')}'`);
    const scale = numberSetting('scale', 0, 1e6, false);
    // A scaled preset checked as the CLI checks it, against what a tab may hold: scale 50 grew the
    // page past 7 GB, and 1e6 failed after starting as a wrong result.
    const tab = Math.min(4, Number((navigator as { deviceMemory?: number }).deviceMemory) || 4) * 2 ** 30;
    for (const id of workloads) {
      const preset = PRESETS[id] ?? PRESETS[id.toUpperCase()];
      if (!preset || scale <= 1) continue;
      const { size } = scaleWorkload(preset, scale);
      const why = customTooBig(size, tab);
      if (why)
        throw new Error(
          `scale ${scale} makes workload ${id} ${size.q} x ${size.n} x ${size.d}, which ${why}`,
        );
    }
    const backends = list(field('backends').value);
    const peers = list(field('peers').value);
    // The baseline names a contender, as the CLI requires (an unknown one gave an empty column).
    const base = (field('baseline').value || 'naive').split('/')[0];
    const contenders = [...BROWSER_BACKENDS, ...BROWSER_PEERS, ...backends, ...peers];
    if (!contenders.some((c) => c === base || base.startsWith(`${c}@`)))
      throw new Error(
        `baseline '${base}' names no contender (known: ${[...new Set(contenders)].join(', ')})`,
      );
    const environment = browserEnvironment();
    const onProgress = (done: number, total: number, what: string) => {
      progress.max = total;
      progress.value = done;
      label.textContent = what;
    };
    const report =
      workloads.length || !sweepTicked
        ? await benchmark({
            command: location.href,
            workloads,
            scale,
            backends,
            peers,
            ...timing,
            baseline: field('baseline').value || 'naive',
            load,
            tfjsWasmPaths: wasmPaths,
            environment,
            onProgress,
          })
        : undefined;
    const sweep = sweepTicked
      ? await runSweep({
          grid,
          scale,
          ...timing,
          hostMemoryLimit: PAGE_SWEEP_HOST_BYTES,
          ...(report?.roofline ? { roofline: report.roofline } : {}),
          load,
          tfjsWasmPaths: wasmPaths,
          environment,
          command: location.href,
          onProgress,
        })
      : undefined;
    last = report;
    lastSweep = sweep;
    if (report) {
      // The picture first: the answer and the chart, then (folded) the environment, then the tables.
      renderAnswers(report, $('answer'));
      $('chart').innerHTML = renderSvg(report);
      renderEnvironment(report, $('env'));
      renderResults(report, $('table'));
      $('roofline').textContent = renderRoofline(report);
    } else {
      $('chart').replaceChildren();
      $('table').replaceChildren();
      $('roofline').textContent = '';
    }
    // A sweep alone: its environment, settings and contenders (wasm@1, wasm@all, tfjs's fast path).
    if (sweep && !report)
      renderEnvironment(
        {
          environment: sweep.environment,
          contenders: sweep.contenders,
          settings: {
            command: location.href,
            workloads: ['sweep'],
            backends: [],
            peers: [],
            ...timing,
            baseline: 'wasm@1',
          },
        },
        $('env'),
      );
    $('sweep').textContent = sweep ? renderSweep(sweep) : '';
    $<HTMLButtonElement>('download').disabled = !report;
    const sweepButton = $<HTMLButtonElement>('download-sweep');
    sweepButton.disabled = !sweep;
    sweepButton.hidden = !sweep;
    const ok = (report?.ok ?? true) && (sweep?.ok ?? true);
    const measured =
      report?.results.some((r) => r.status === 'ok') ||
      report?.roofline !== undefined ||
      sweep?.cells.some((c) => c.figures.some((f) => f.status === 'ok'));
    const seconds = (report?.durationSeconds ?? 0) + (sweep?.durationSeconds ?? 0);
    status.textContent = !ok
      ? `FAILED: some results are wrong or errored (${report && !report.ok ? 'red rows' : 'WRONG in the sweep'}).`
      : measured
        ? `All results within tolerance (${seconds.toFixed(1)} s).`
        : 'Nothing was measured: no contender could run these workloads here (see the environment).';
    status.className = ok ? 'good' : 'bad';
    window.sweepReport = sweep;
    window.benchReport = report;
  } catch (err) {
    window.benchError = err instanceof Error ? (err.stack ?? err.message) : String(err);
    status.textContent = `Could not run: ${err instanceof Error ? err.message : String(err)}`;
    status.className = 'bad';
  } finally {
    button.disabled = false;
  }
}

form.addEventListener('submit', (e) => {
  e.preventDefault();
  void run();
});

function download(json: string, name: string): void {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([json], { type: 'application/json' }));
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

$('download').addEventListener('click', () => {
  if (last) download(toJson(last), `cosinekit-bench-${last.startedAt.replace(/[:.]/g, '-')}.json`);
});
$('download-sweep').addEventListener('click', () => {
  if (lastSweep)
    download(
      `${JSON.stringify(lastSweep, null, 2)}\n`,
      `cosinekit-sweep-${lastSweep.startedAt.replace(/[:.]/g, '-')}.json`,
    );
});

if (params.get('autorun') === '1') void run();
