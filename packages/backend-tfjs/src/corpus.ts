import { argError, type ResidentCorpus } from '@cosinekit/core/backend';
import type * as TF from '@tensorflow/tfjs-core';
import type { TfjsEngine } from './engine.js';

/**
 * One resident block of corpus rows, stored transposed (`d x width`, starting at row `start`) as
 * one or more parts of consecutive dimensions: `parts[i]` holds dimensions `from[i]` to
 * `from[i + 1]` (the last to `d`). One part, except for long rows (see `splitDims`).
 */
export interface CorpusTile {
  readonly start: number;
  readonly width: number;
  readonly parts: readonly TF.Tensor2D[];
  readonly from: readonly number[];
}

/**
 * A corpus kept on a tfjs engine: rows normalised once and stored transposed, in tiles of
 * columns, so scoring queries is `matMul(queries, tile)` with neither operand transposed (the
 * only form tfjs-wasm sends to XNNPACK, which packs each tile once and reuses it) and a tiled
 * search needs no slicing per call.
 */
export class TfjsCorpus implements ResidentCorpus {
  readonly backend: string;
  readonly engine: TfjsEngine;
  readonly rows: number;
  readonly cols: number;
  readonly storage = 'float32' as const;
  #tiles: CorpusTile[] | null;
  #users = 0;
  #disposed = false;
  readonly #onDispose: (c: TfjsCorpus) => void;

  constructor(
    backend: string,
    engine: TfjsEngine,
    rows: number,
    cols: number,
    tiles: CorpusTile[],
    onDispose: (c: TfjsCorpus) => void,
  ) {
    this.backend = backend;
    this.engine = engine;
    this.rows = rows;
    this.cols = cols;
    this.#tiles = tiles;
    this.#onDispose = onDispose;
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  /** Bytes of tensor data held. */
  get bytes(): number {
    return this.#tiles === null ? 0 : this.rows * this.cols * 4;
  }

  /**
   * Releases the tensors. Idempotent. A search already running keeps them until it finishes;
   * later searches are refused.
   */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#onDispose(this);
    if (this.#users === 0) this.#release();
  }

  /**
   * Claims the tiles for one call, holding off a `dispose()` made meanwhile until {@link release}.
   * Synchronous, so a corpus disposed right after a search was started still serves that search.
   */
  acquire(op: string): readonly CorpusTile[] {
    if (this.#disposed || this.#tiles === null) {
      argError('DISPOSED', op, 'corpus', 'was disposed.');
    }
    this.#users++;
    return this.#tiles;
  }

  /** Ends a claim made by {@link acquire}. */
  release(): void {
    this.#users--;
    if (this.#disposed && this.#users === 0) this.#release();
  }

  #release(): void {
    const tiles = this.#tiles;
    this.#tiles = null;
    // A tensor is disposed by the engine that holds it, whichever engine is active now.
    if (tiles) for (const t of tiles) for (const p of t.parts) p.dispose();
  }
}
