import {
  type CorpusOptions,
  CosineKitError,
  type Matrix,
  type ResidentCorpus,
  type TopKResult,
} from '@cosinekit/core';
import type { Resident, Staged, WasmRuntime } from '../runtime.js';

/**
 * A corpus resident in wasm memory: rows normalised once at upload and stored in the dot-product
 * engine's panel layout (see `Staged`), so searching reads it in place and never copies it again.
 */
export class WasmCorpus implements ResidentCorpus, Resident {
  readonly backend = 'wasm';
  readonly storage = 'float32';
  readonly rows: number;
  readonly cols: number;
  /** Bytes per stored row (`cols` rounded up to a multiple of 4 floats). */
  readonly rowBytes: number;
  readonly #rt: WasmRuntime;
  #ptr: number;

  constructor(rt: WasmRuntime, x: Matrix) {
    this.rows = x.rows;
    this.cols = x.cols;
    this.#rt = rt;
    const s = rt.stageCorpus(x, true, 'createCorpus');
    this.#ptr = s.ptr;
    this.rowBytes = s.rowBytes;
    rt.track(this);
  }

  /** The rows as the engine reads them; throws `DISPOSED` once released. */
  staged(rt: WasmRuntime, op: string): Staged {
    return { ptr: this.address(rt, op), rows: this.rows, rowBytes: this.rowBytes };
  }

  get disposed(): boolean {
    return this.#ptr < 0;
  }

  /** Address of the first row; throws `DISPOSED` once released. */
  address(rt: WasmRuntime, op: string): number {
    if (rt !== this.#rt) {
      throw new CosineKitError(
        'INVALID_ARGUMENT',
        `Argument 'corpus' passed to '${op}' belongs to another wasm backend.`,
        {
          op,
          arg: 'corpus',
        },
      );
    }
    if (this.#ptr < 0) {
      throw new CosineKitError('DISPOSED', `Argument 'corpus' passed to '${op}' was disposed.`, {
        op,
        arg: 'corpus',
      });
    }
    return this.#ptr;
  }

  dispose(): void {
    if (this.#ptr < 0) return;
    if (!this.#rt.disposed) this.#rt.free(this.#ptr);
    this.#rt.untrack(this);
    this.#ptr = -1;
  }

  /** Called when the backend is disposed: its memory is gone with it. */
  release(): void {
    this.#ptr = -1;
  }
}

/** `createCorpus`: uploads and normalises the rows once. Stores float32 only. */
export function createCorpus(rt: WasmRuntime, x: Matrix, options?: CorpusOptions): WasmCorpus {
  const storage = options?.storage ?? 'float32';
  if (storage !== 'float32') {
    throw new CosineKitError(
      'UNSUPPORTED',
      `The wasm backend stores corpora as float32 only; storage '${storage}' was asked of 'createCorpus'.`,
      { op: 'createCorpus', arg: 'options' },
    );
  }
  return new WasmCorpus(rt, x);
}

/** `readCorpus`: the resident rows as stored (normalised), without the padding. */
export function readCorpus(rt: WasmRuntime, corpus: ResidentCorpus): Float32Array {
  const c = own(rt, corpus, 'readCorpus');
  const ptr = c.address(rt, 'readCorpus');
  const rows = rt.alloc(c.rows * c.cols * 4, 'readCorpus');
  try {
    rt.exports.unpack(ptr, c.rows, c.cols, rt.tileCols, rows);
    return rt.download(rows, c.rows * c.cols);
  } finally {
    rt.free(rows);
  }
}

function own(rt: WasmRuntime, corpus: ResidentCorpus, op: string): WasmCorpus {
  if (!(corpus instanceof WasmCorpus)) {
    throw new CosineKitError(
      'INVALID_ARGUMENT',
      `Argument 'corpus' passed to '${op}' belongs to backend '${corpus.backend}', not 'wasm'.`,
      { op, arg: 'corpus' },
    );
  }
  corpus.address(rt, op);
  return corpus;
}

/** `corpusSearch`: top-k against the resident rows; only the queries are copied in. */
export function corpusSearch(
  rt: WasmRuntime,
  corpus: ResidentCorpus,
  queries: Matrix,
  k: number,
): TopKResult {
  const c = own(rt, corpus, 'corpusSearch');
  const sq = rt.stageQueries(queries, true, 'corpusSearch');
  try {
    return rt.search(sq, c.staged(rt, 'corpusSearch'), k, 'corpusSearch');
  } finally {
    rt.free(sq.ptr);
  }
}

/** `corpusMatrix`: cosines of the queries against the resident rows, `queries.rows x corpus.rows`. */
export function corpusMatrix(
  rt: WasmRuntime,
  corpus: ResidentCorpus,
  queries: Matrix,
  out?: Float32Array,
): Float32Array {
  const c = own(rt, corpus, 'corpusMatrix');
  const o = out ?? new Float32Array(queries.rows * c.rows);
  const sq = rt.stageQueries(queries, true, 'corpusMatrix');
  try {
    return rt.product(sq, c.staged(rt, 'corpusMatrix'), o, true, 'corpusMatrix');
  } finally {
    rt.free(sq.ptr);
  }
}
