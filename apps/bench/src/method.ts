import type { BenchResult, ContenderInfo, RunSettings, WorkloadKind, WorkloadSpec } from './types.js';
import type { Dataset } from './workloads.js';

/** What one timed call returns, kept only to check it against the float64 reference. */
export type Output =
  | { readonly value: number }
  | { readonly matrix: ArrayLike<number> }
  | { readonly indices: ArrayLike<number>; readonly scores: ArrayLike<number> };

/** A method made ready for one dataset: resident data uploaded, the timed call bound. */
export interface Prepared {
  /** The call that is timed. Synchronous calls are timed without an `await` per call. */
  call(): Output | Promise<Output>;
  /** Releases what `prepare` uploaded. */
  dispose?(): unknown;
}

/** One way a contender does a workload, e.g. `corpus.search` on the wasm backend. */
export interface Method {
  /** The call being timed, as a user would write it. */
  readonly name: string;
  /** Which backend ran the timed kernel, when it is a kit call. */
  readonly ranBy?: string;
  /**
   * For approximate methods (a quantised corpus): the score tolerance and the recall they are held
   * to instead of the run's tolerance and recall 1. Stated in the report.
   */
  readonly approximate?: { readonly tolerance: number; readonly minRecall: number };
  /** Uploads what stays resident; the time it takes is reported as setup, not in the timing. */
  prepare(ds: Dataset): Prepared | Promise<Prepared>;
}

/** An opened contender: what it reports about itself and the methods it offers per workload kind. */
export interface OpenContender {
  readonly info: ContenderInfo;
  methods(kind: WorkloadKind, spec: WorkloadSpec): Method[];
  /** The `million` preset (wasm only): builds, searches and disposes its corpus; absent when it cannot run it. */
  million?(spec: WorkloadSpec, settings: RunSettings): Promise<BenchResult[]>;
  /** After every method disposed what it made: what is still held that should not be, if anything. */
  leaks?(): string | undefined;
  close(): Promise<void>;
}

/** A peer or a backend. `open` throws (or rejects) when it cannot run here; the reason is reported. */
export interface Contender {
  readonly id: string;
  readonly role: 'peer' | 'backend';
  open(): Promise<OpenContender>;
}
