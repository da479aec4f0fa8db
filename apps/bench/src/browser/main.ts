/**
 * The benchmark page: the suite of the CLI (shared code, nothing Node-only) run in the browser,
 * where tfjs gets its webgl engine and gpu.js WebGL2. `?autorun=1` plus the form's fields as query
 * parameters run it on load (the Playwright test does); the report is then on `window.benchReport`.
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
import type { BenchReport } from '../types.js';
import { browserEnvironment } from './env.js';
import { renderAnswers, renderEnvironment, renderResults } from './render.js';

declare global {
  interface Window {
    /** The last finished run, for tests and the console. */
    benchReport?: BenchReport;
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
    const workloads = [...form.querySelectorAll<HTMLInputElement>('input[name=workload]:checked')].map(
      (b) => b.value,
    );
    const report = await benchmark({
      command: location.href,
      workloads,
      scale: Number(field('scale').value) || 1,
      backends: list(field('backends').value),
      peers: list(field('peers').value),
      reps: Math.max(1, Number(field('reps').value) | 0),
      warmup: Math.max(0, Number(field('warmup').value) | 0),
      budgetSeconds: Number(field('budget').value) || 1,
      baseline: field('baseline').value || 'naive',
      tolerance: 1e-4,
      seed: 42,
      load,
      tfjsWasmPaths: wasmPaths,
      environment: browserEnvironment(),
      onProgress: (done, total, what) => {
        progress.max = total;
        progress.value = done;
        label.textContent = what;
      },
    });
    last = report;
    // The picture first: the answer and the chart, then (folded) the environment, then the tables.
    renderAnswers(report, $('answer'));
    $('chart').innerHTML = renderSvg(report);
    renderEnvironment(report, $('env'));
    renderResults(report, $('table'));
    $('roofline').textContent = renderRoofline(report);
    $<HTMLButtonElement>('download').disabled = false;
    const measured = report.results.some((r) => r.status === 'ok') || report.roofline !== undefined;
    status.textContent = !report.ok
      ? 'FAILED: some results are wrong or errored (red rows).'
      : measured
        ? `All results within tolerance (${report.durationSeconds.toFixed(1)} s).`
        : 'Nothing was measured: no contender could run these workloads here (see the environment).';
    status.className = report.ok ? 'good' : 'bad';
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

$('download').addEventListener('click', () => {
  if (!last) return;
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([toJson(last)], { type: 'application/json' }));
  a.download = `cosinekit-bench-${last.startedAt.replace(/[:.]/g, '-')}.json`;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
});

if (params.get('autorun') === '1') void run();
