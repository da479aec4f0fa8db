import {
  type CorpusOptions,
  CosineKitError,
  type Matrix,
  type ResidentCorpus,
  type TopKResult,
} from '@cosinekit/core';
import { padded, type Resident, type WasmRuntime } from '../runtime.js';

/**
 * A corpus resident in wasm memory: rows normalised once at upload and padded to a multiple of 4
 * floats, the layout the dot-product engine reads directly, so searching never copies it again.
 */
export class WasmCorpus implements ResidentCorpus, Resident {
  readonly backend = 'wasm';
  readonly storage = 'float32';
  readonly rows: number;
  readonly cols: number;
  /** Floats per stored row (`cols` rounded up to a multiple of 4). */
  readonly stride: number;
  readonly #rt: WasmRuntime;
  #ptr: number;

  constructor(rt: WasmRuntime, x: Matrix) {
    this.rows = x.rows;
    this.cols = x.cols;
    this.stride = padded(x.cols);
    this.#rt = rt;
    this.#ptr = rt.stageNormalized(x, 'createCorpus');
    rt.track(this);
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
  const out = new Float32Array(c.rows * c.cols);
  if (c.stride === c.cols) return rt.download(ptr, out.length, out);
  const f = rt.f32;
  for (let i = 0; i < c.rows; i++) {
    const at = (ptr >>> 2) + i * c.stride;
    out.set(f.subarray(at, at + c.cols), i * c.cols);
  }
  return out;
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
  const pq = rt.stageNormalized(queries, 'corpusSearch');
  try {
    return rt.search(pq, queries.rows, c.address(rt, 'corpusSearch'), c.rows, c.stride, k, 'corpusSearch');
  } finally {
    rt.free(pq);
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
  const pq = rt.stageNormalized(queries, 'corpusMatrix');
  try {
    return rt.product(
      pq,
      queries.rows,
      c.address(rt, 'corpusMatrix'),
      c.rows,
      c.stride,
      o,
      true,
      'corpusMatrix',
    );
  } finally {
    rt.free(pq);
  }
}
