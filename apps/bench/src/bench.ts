import type { Backend } from '@cosinekit/core';
import { backendContender } from './backend-contender.js';
import {
  backendSource,
  firstLine,
  isKnownBackend,
  KNOWN_BACKENDS_TEXT,
  type ModuleLoader,
} from './backends.js';
import { PEERS, planContenders } from './contenders.js';
import { measureRoofline, type RooflineOptions, withRoofline } from './roofline.js';
import { refusedConfiguration, runSuite } from './run.js';
import type { BenchReport, Environment, RunSettings, Size, WorkloadSpec } from './types.js';
import { customWorkload, PRESETS, scaleWorkload } from './workloads.js';

/** A backend not known by id: a third party's, or a test's. */
export interface ExtraBackend {
  readonly id: string;
  create(): Promise<Backend>;
}

/** A run described by names, as the CLI flags and the browser form give it. */
export interface BenchOptions extends Omit<RunSettings, 'workloads' | 'backends'> {
  readonly backends: readonly string[];
  /** Preset ids (`A`, `B`, `C`, `S`, `mnist`, `million`), `custom`, and `roofline` (this machine's limits, measured first). */
  readonly workloads: readonly string[];
  /** How `roofline` measures (tests make it small). */
  readonly roofline?: RooflineOptions;
  /** The shape of the `custom` workload. */
  readonly custom?: Size;
  /** Scales the random presets (B, C) for quick runs; 1 for the real sizes. */
  readonly scale?: number;
  readonly extraBackends?: readonly ExtraBackend[];
  readonly threads?: number;
  /** Engine tuning for the wasm backends (`--wasm-tuning`). */
  readonly wasmTuning?: Readonly<Record<string, string | number>>;
  /** Bytes per wasm instance (`--shard-bytes`): the wasm backends' `shardBytes`. */
  readonly shardBytes?: number;
  readonly load: ModuleLoader;
  readonly environment: Environment;
  /** Where tfjs-backend-wasm finds its binaries (browsers). */
  readonly tfjsWasmPaths?: string | Record<string, string>;
  readonly onProgress?: (done: number, total: number, label: string) => void;
}

/** Resolves workload ids to specs; throws on an unknown id or a custom workload without a shape. */
export function resolveWorkloads(ids: readonly string[], custom?: Size, scale = 1): WorkloadSpec[] {
  return ids.map((id) => {
    if (id === 'custom') {
      if (!custom) throw new Error("workload 'custom' needs --q, --n and --d");
      return customWorkload(custom);
    }
    const preset = PRESETS[id] ?? PRESETS[id.toUpperCase()];
    if (!preset)
      throw new Error(
        `unknown workload '${id}' (known: ${Object.keys(PRESETS).join(', ')}, custom, roofline, sweep)`,
      );
    return scaleWorkload(preset, scale);
  });
}

/** Most wasm threads a run may ask for (`wasm@N`, `--threads`). */
export const MAX_THREADS = 256;

/** A run asked for something the bench does not know: the caller's mistake, not a backend's failure. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * Throws a {@link UsageError} naming every unknown backend and peer id and listing the known ones.
 * A known backend whose package is missing or fails to start is not a usage error: it runs as
 * "not available" and the run goes on.
 */
export function checkNames(
  backends: readonly string[],
  peers: readonly string[],
  workloads: readonly string[] = [],
  modules: readonly string[] = [],
): void {
  const problems: string[] = [];
  // Every workload id before anything runs: '-w roofline,foo' once measured the roofline first.
  for (const id of workloads)
    if (!['custom', 'roofline', 'sweep'].includes(id) && !(PRESETS[id] ?? PRESETS[id.toUpperCase()]))
      problems.push(
        `unknown workload '${id}' (known: ${Object.keys(PRESETS).join(', ')}, custom, roofline, sweep)`,
      );
  // Helper threads are OS threads started one by one: 'wasm@1000' spent its minute of start-up
  // and was reported "not available".
  for (const id of backends) {
    const t = /^wasm(?:-\w+)?@(\d+)$/.exec(id);
    if (t && Number(t[1]) > MAX_THREADS)
      problems.push(`backend '${id}' asks for ${t[1]} threads; at most ${MAX_THREADS}`);
  }
  // A name twice ran twice ('-w A,A'), and a module named like a peer made two columns of one name.
  for (const [what, ids] of [
    ['workload', workloads.map((w) => (PRESETS[w.toUpperCase()] ? w.toUpperCase() : w))],
    ['backend', backends],
    ['peer', peers],
    ['contender', [...backends, ...peers, ...modules]],
  ] as const) {
    const twice = ids.filter((id, i) => ids.indexOf(id) !== i);
    if (twice.length && !problems.some((p) => p.includes(`'${twice[0]}'`)))
      problems.push(
        what === 'contender'
          ? `'${twice[0]}' names two contenders (a --backend-module takes its file's name: rename the file)`
          : `${what} '${twice[0]}' is named twice (each runs once)`,
      );
  }
  // A module named like one of ours ran, was reported and was judged as ours ('wasm.mjs' read as the
  // wasm backend), whether or not that one ran too.
  for (const id of modules)
    if (isKnownBackend(id) || (PEERS as readonly string[]).includes(id))
      problems.push(
        `--backend-module '${id}' takes the name of our ${isKnownBackend(id) ? 'backend' : 'peer'} '${id}' (a module takes its file's name: rename the file)`,
      );
  const badBackends = backends.filter((id) => !isKnownBackend(id));
  const badPeers = peers.filter((id) => !(PEERS as readonly string[]).includes(id));
  if (badBackends.length)
    problems.push(
      `unknown backend ${badBackends.map((b) => `'${b}'`).join(', ')} (known: ${KNOWN_BACKENDS_TEXT})`,
    );
  if (badPeers.length)
    problems.push(`unknown peer ${badPeers.map((b) => `'${b}'`).join(', ')} (known: ${PEERS.join(', ')})`);
  if (problems.length) throw new UsageError(problems.join('; '));
}

/** Runs the benchmark suite described by names. */
export async function benchmark(options: BenchOptions): Promise<BenchReport> {
  // 'none' asks for the backends alone, from the CLI and the page alike.
  const o = { ...options, peers: options.peers.filter((p) => p !== 'none') };
  checkNames(o.backends, o.peers);
  // The roofline is measured before anything else runs, on a quiet process; every figure of the
  // suite is then given its share of the limit that binds it.
  if (o.workloads.includes('roofline')) {
    o.onProgress?.(0, 1, 'roofline: measuring peak and bandwidth');
    const roofline = await measureRoofline({ threads: o.threads, ...o.roofline });
    const rest = o.workloads.filter((w) => w !== 'roofline');
    const report: BenchReport = rest.length
      ? await benchmark({ ...o, workloads: rest })
      : {
          schema: 'cosinekit-bench/1',
          startedAt: new Date().toISOString(),
          durationSeconds: roofline.durationSeconds,
          environment: o.environment,
          settings: { ...settingsOf(o), workloads: [] },
          workloads: [],
          contenders: [],
          results: [],
          ok: true,
        };
    return withRoofline({ ...report, settings: { ...report.settings, workloads: o.workloads } }, roofline);
  }
  const workloads = resolveWorkloads(o.workloads, o.custom, o.scale);
  const contenders = planContenders({
    backends: o.backends,
    peers: o.peers,
    load: o.load,
    backendOptions: {
      threads: o.threads,
      tfjsWasmPaths: o.tfjsWasmPaths,
      wasmTuning: o.wasmTuning,
      wasmShardBytes: o.shardBytes,
    },
  });
  for (const x of o.extraBackends ?? []) contenders.push(backendContender(x.id, () => x.create()));
  await preflight(o);
  const settings: RunSettings = { ...settingsOf(o), workloads: workloads.map((w) => w.id) };
  return runSuite({
    workloads,
    contenders,
    settings,
    environment: o.environment,
    onProgress: o.onProgress,
  });
}

/**
 * The configuration asked of a backend (`--wasm-tuning`, `--shard-bytes`, `pgvector-hnsw@N`),
 * tried before anything is measured: the run once refused `tile=abc` after 20 s of other
 * contenders' figures, and threw them away. Each such backend is made (and a wasm one started,
 * which is where it checks its tuning; a few milliseconds) and released; a refusal is the
 * caller's mistake (`UsageError`); any other failure is left for the run to report as "not available".
 */
async function preflight(o: BenchOptions): Promise<void> {
  const configured = o.backends.filter(
    (id) =>
      (/^wasm/.test(id) && (o.wasmTuning !== undefined || o.shardBytes !== undefined)) ||
      /^pgvector-hnsw@/.test(id),
  );
  for (const id of configured) {
    let b: Backend | undefined;
    try {
      b = await backendSource(id, o.load, {
        threads: 1,
        wasmTuning: o.wasmTuning,
        wasmShardBytes: o.shardBytes,
      }).create();
      if (/^wasm/.test(id)) await b.init?.();
    } catch (err) {
      if (refusedConfiguration(err)) throw new UsageError(`${id}: ${firstLine(err)}`);
    } finally {
      await Promise.resolve(b?.dispose?.()).catch(() => undefined);
    }
  }
}

function settingsOf(o: BenchOptions): RunSettings {
  return {
    command: o.command,
    workloads: o.workloads,
    backends: [...o.backends, ...(o.extraBackends ?? []).map((x) => x.id)],
    peers: o.peers,
    reps: o.reps,
    warmup: o.warmup,
    budgetSeconds: o.budgetSeconds,
    baseline: o.baseline,
    tolerance: o.tolerance,
    seed: o.seed,
    ...(o.sideBySide === false ? { sideBySide: false } : {}),
  };
}

/**
 * Defaults chosen so the Node run of A, B and C takes about a minute on 2 idle cores. tfjs-cpu is
 * left out: in Node it is 10-50x slower than tfjs-wasm and alone adds two minutes (add it with
 * `-b reference,wasm,tfjs-wasm,tfjs-cpu,gpujs`).
 */
export const DEFAULTS = {
  workloads: ['A', 'B', 'C'],
  backends: ['reference', 'wasm', 'tfjs-wasm', 'gpujs'],
  peers: ['naive', 'core', 'tfjs-obvious', 'tfjs-fast'],
  reps: 5,
  warmup: 1,
  budgetSeconds: 1,
  baseline: 'naive',
  tolerance: 1e-4,
  seed: 42,
} as const;
