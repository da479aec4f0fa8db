import type { Tfjs, TfjsEngine } from './engine.js';

/** What every kernel of one tfjs backend instance shares. */
export interface KernelContext {
  /** The backend's name; corpora it creates carry it. */
  readonly name: string;
  readonly engine: TfjsEngine;
  /** Corpus rows per resident tile (columns of each `d x tile` tensor). */
  readonly tileColumns: number;
  /** Most floats of scores a tiled search holds at once (query rows x tile columns). */
  readonly scoreTile: number;
  /**
   * Runs `fn` with the backend initialised, its engine active, and every other tfjs kernel of
   * this package waiting. tfjs tensors must not outlive `fn` unless kept on purpose. Once the
   * backend is disposed it rejects with `DISPOSED` naming `backend` and `kernel`, running nothing.
   */
  run<T>(kernel: string, fn: (tf: Tfjs) => Promise<T> | T): Promise<T>;
  /** Makes the engine active again; call it after an `await` inside `run`, before more tfjs ops. */
  reactivate(tf: Tfjs): Promise<void>;
  /**
   * Whether the backend was disposed: a kernel that awaits inside `run` checks it before handing
   * out what it made (`run` checks only before the kernel starts).
   */
  readonly disposed: boolean;
}
