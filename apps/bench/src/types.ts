/**
 * Shapes of the benchmark's inputs and results. Everything here is plain data, so a run can be
 * written to JSON in Node or in a browser and compared later.
 */
import type { LimitShare, Roofline } from './roofline.js';

/** What a workload computes. */
export type WorkloadKind = 'pair' | 'search' | 'matrix';

/** The size of one measurement: Q queries against N corpus rows of dimension d (top-k for search). */
export interface Size {
  readonly q: number;
  readonly n: number;
  readonly d: number;
  readonly k?: number;
}

/** A workload preset or a custom shape. */
export interface WorkloadSpec {
  /** Short id used on the command line and in tables: `A`, `B`, `C`, `mnist`, `custom`. */
  readonly id: string;
  readonly title: string;
  readonly kind: WorkloadKind;
  readonly size: Size;
  /** Where the data comes from: `million` rows are generated a chunk at a time, never held by the host. */
  readonly data: 'random' | 'mnist' | 'million';
}

/** Timing summary of the repetitions of one measurement, in milliseconds per call. */
export interface Timing {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly q1: number;
  readonly q3: number;
  /** Repetitions measured (after warm-up). */
  readonly reps: number;
  /** Calls averaged inside each repetition (more than 1 for calls of a few microseconds). */
  readonly callsPerRep: number;
  /** Time per call of each repetition, in the order measured. */
  readonly samples: readonly number[];
}

/** How close a result is to the float64 reference. */
export interface Accuracy {
  /** Largest |result - exact cosine| over the checked values. */
  readonly maxAbsError: number;
  /** For searches: the share of the exact top-k found (ties within the run's tolerance count as found). */
  readonly recall?: number;
  /** The tolerance the error was judged against. */
  readonly tolerance: number;
  /** Query rows checked against the reference (a sample for big workloads). */
  readonly checkedRows: number;
  readonly ok: boolean;
  /** What was wrong with the shape of the answer, when it could not be compared. */
  readonly problem?: string;
}

/** Outcome of one (workload, contender, method). */
export type ResultStatus = 'ok' | 'wrong' | 'error' | 'unavailable' | 'skipped';

/** One line of the results table. */
export interface BenchResult {
  readonly workload: string;
  /** Who ran: `naive`, `core`, a backend id such as `wasm`, or a peer such as `tfjs-wasm fast path`. */
  readonly contender: string;
  /** `peer` (what a user would write instead) or `backend` (CosineKit through a kit). */
  readonly role: 'peer' | 'backend';
  /** The call that was timed, e.g. `corpus.search`, `cosineMatrix`. */
  readonly method: string;
  /** The size this figure is for (smaller than the workload's when the contender was too slow). */
  readonly size: Size;
  /** True when `size` is smaller than the workload's size. */
  readonly shrunk: boolean;
  readonly status: ResultStatus;
  /** Why a result is missing or wrong, or a note about how it was measured. */
  readonly note?: string;
  readonly timing?: Timing;
  /** One-off setup not in the timing (resident corpus upload), ms. */
  readonly setupMs?: number;
  /** 2 Q N d / t. */
  readonly gflops?: number;
  /** Median time divided by Q x N, in nanoseconds. */
  readonly nsPerPair?: number;
  /** Baseline time per pair / this time per pair: above 1 is faster than the baseline. */
  readonly speedup?: number;
  readonly accuracy?: Accuracy;
  /** For backends: which backend ran the timed kernel (`reference` when it fell back). */
  readonly ranBy?: string;
  /** Median time divided by the query rows (the `million` preset). */
  readonly msPerQuery?: number;
  /** Memory figures of the `million` preset. */
  readonly memory?: MillionMemory;
  /** Share of the machine's limit that binds this figure (runs with `-w roofline`). */
  readonly limit?: LimitShare;
  /**
   * Set when the contender ran on a software GPU (SwiftShader, llvmpipe): what emulated it. Such a
   * figure times the CPU standing in for a GPU and says nothing about GPU speed.
   */
  readonly emulated?: string;
}

/** What the `million` preset measures about memory, in bytes (RSS only where there is a process). */
export interface MillionMemory {
  /** Wasm memory (`describe().wasmMemoryBytes`) before and after building the corpus. */
  readonly wasmBefore: number;
  readonly wasmAfter: number;
  /** Bytes the allocator holds for the corpus (`memory().bytes` after minus before). */
  readonly corpusBytes: number;
  /** Allocator peak over the timed searches minus what is resident: O(Q x k + tile), whatever N is. */
  readonly searchPeakExtra: number;
  /** Growth of wasm memory during the searches (0 when the search fits the headroom). */
  readonly wasmGrowthDuringSearch: number;
  /** Time to build the corpus from chunks, ms. */
  readonly buildMs: number;
  /** Process resident set size before the build and after the searches. */
  readonly rssBefore?: number;
  readonly rssAfter?: number;
  /** Most resident set size the process reached so far (after the searches), where there is a process. */
  readonly rssPeak?: number;
  /** V8's `external` and `arrayBuffers` after the searches (wasm memories and typed arrays), where there is a process. */
  readonly external?: number;
  readonly arrayBuffers?: number;
  /** Wasm memory of each instance holding the corpus (after the build), first the primary. */
  readonly shards?: readonly { readonly memoryBytes: number; readonly usedBytes: number }[];
}

/** What a contender said about itself: the backend's `describe()` and kernel providers. */
export interface ContenderInfo {
  readonly id: string;
  readonly role: 'peer' | 'backend';
  readonly available: boolean;
  /** Why it is not available. */
  readonly reason?: string;
  /** Backend name reported by the kit. */
  readonly backend?: string;
  readonly details?: Readonly<Record<string, string | number | boolean>>;
  readonly providers?: Readonly<Record<string, string>>;
  /** Memory still held after every corpus was disposed (resident handles, engine objects), if any. */
  readonly leak?: string;
}

/** Where the run happened. */
export interface Environment {
  readonly runtime: string;
  readonly platform: string;
  readonly cpu: string;
  /**
   * Also `usableCores` where the process may run on fewer (`os.availableParallelism()`: a CPU
   * affinity mask, a container's CPU quota), which is what the backends size their threads by.
   */
  readonly cores: number;
  /** WebAssembly SIMD support: `relaxed`, `simd`, or `none`. */
  readonly wasmSimd: string;
  readonly [key: string]: string | number | boolean;
}

/** The settings a run used. */
export interface RunSettings {
  /** The command line (or page URL) that made the run, to repeat it. */
  readonly command?: string;
  readonly workloads: readonly string[];
  readonly backends: readonly string[];
  readonly peers: readonly string[];
  readonly reps: number;
  readonly warmup: number;
  /** Seconds of measuring allowed per (workload, contender, method). */
  readonly budgetSeconds: number;
  readonly baseline: string;
  readonly tolerance: number;
  readonly seed: number;
  /**
   * Whether the ratio targets' figures are timed again side by side after the run (`paired` in the
   * report); on unless `false` (`--no-side-by-side`).
   */
  readonly sideBySide?: boolean;
}

/** One side of a {@link PairedRatio}: the contender and the method its figure timed. */
export interface PairedFigure {
  readonly contender: string;
  readonly method: string;
  /** Median time per call over the rounds, ms. */
  readonly median: number;
}

/**
 * Two figures a ratio target compares, timed again side by side: one call of each in turn every
 * round (the order alternating), at the figures' own sizes and calls per sample, answers checked
 * again. `ratio` is the median over the rounds of `b`'s time per pair over `a`'s: above 1, `a` is
 * faster. Load that comes and goes then weighs on both alike.
 */
export interface PairedRatio {
  readonly workload: string;
  readonly a: PairedFigure;
  readonly b: PairedFigure;
  readonly rounds: number;
  readonly ratio: number;
}

/** A whole run, as written to JSON. */
export interface BenchReport {
  readonly schema: 'cosinekit-bench/1';
  readonly startedAt: string;
  readonly durationSeconds: number;
  readonly environment: Environment;
  readonly settings: RunSettings;
  readonly workloads: readonly WorkloadSpec[];
  readonly contenders: readonly ContenderInfo[];
  readonly results: readonly BenchResult[];
  /** False when any result is wrong: the run exits non-zero. */
  readonly ok: boolean;
  /** This machine's measured limits (runs with `-w roofline`). */
  readonly roofline?: Roofline;
  /** The ratio targets' figures timed again side by side, which the targets are judged on. */
  readonly paired?: readonly PairedRatio[];
}
