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
field('backends').value = params.get('backends') ?? BROWSER_BACKENDS.join(',');
field('peers').value = params.get('peers') ?? BROWSER_PEERS.join(',');
field('grid').value = params.get('grid') ?? PAGE_SWEEP_GRID;
for (const name of ['scale', 'reps', 'warmup', 'budget', 'baseline']) {
  const v = params.get(name);
  if (v !== null) field(name).value = v;
}
const wanted = params.get('workloads');
if (wanted) {
  const ids = list(wanted);
  for (const box of form.querySelectorAll<HTMLInputElement>('input[name=workload]')) {
    box.checked = ids.includes(box.value);
  }
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
    const ticked = [...form.querySelectorAll<HTMLInputElement>('input[name=workload]:checked')].map(
      (b) => b.value,
    );
    const sweepTicked = ticked.includes('sweep');
    // The sweep measures a roofline of its own unless the suite measured one first.
    const workloads = ticked.filter((w) => w !== 'sweep');
    const grid = parseGrid(field('grid').value);
    const timing = {
      reps: Math.max(1, Number(field('reps').value) | 0),
      warmup: Math.max(0, Number(field('warmup').value) | 0),
      budgetSeconds: Number(field('budget').value) || 1,
      tolerance: 1e-4,
      seed: 42,
    };
    const scale = Number(field('scale').value) || 1;
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
            backends: list(field('backends').value),
            peers: list(field('peers').value),
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
