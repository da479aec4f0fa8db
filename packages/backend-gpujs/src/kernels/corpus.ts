import { CosineKitError, type Matrix, type ResidentCorpus, type TopKResult } from '@cosinekit/core';
import type { Engine } from '../engine.js';
import { type DeviceRows, releaseRows, toDeviceRows } from '../rows.js';
import { writeMatrix } from './cosine-matrix.js';
import { searchRows } from './top-k.js';

/**
 * A corpus normalised once and kept on the device: GL textures in GL modes (searches read them
 * in place), Float32Arrays in webasm/cpu modes, where gpu.js has no device memory to keep.
 */
export class GpujsCorpus implements ResidentCorpus {
  readonly backend = 'gpujs';
  readonly rows: number;
  readonly cols: number;
  readonly engine: Engine;
  #data: DeviceRows | null;

  constructor(engine: Engine, data: DeviceRows) {
    this.engine = engine;
    this.rows = data.rows;
    this.cols = data.cols;
    this.#data = data;
    engine.resident.add(this);
  }

  get disposed(): boolean {
    return this.#data === null;
  }

  /** The normalised rows; throws `DISPOSED` once disposed. */
  get data(): DeviceRows {
    if (this.#data === null) {
      throw new CosineKitError('DISPOSED', 'This corpus was disposed and can no longer be searched.', {
        op: 'corpus',
        arg: 'corpus',
      });
    }
    return this.#data;
  }

  dispose(): void {
    if (this.#data !== null) {
      releaseRows(this.engine, this.#data);
      this.#data = null;
      this.engine.resident.delete(this);
    }
  }
}

/** `createCorpus`: upload and normalise once. */
export function createCorpus(engine: Engine, x: Matrix): GpujsCorpus {
  return new GpujsCorpus(engine, toDeviceRows(engine, x));
}

/** `corpusSearch`: only the queries are uploaded. */
export function corpusSearch(engine: Engine, corpus: ResidentCorpus, queries: Matrix, k: number): TopKResult {
  return searchRows(engine, queries, own(engine, corpus, 'corpusSearch').data, k);
}

/** `corpusMatrix`: only the queries are uploaded. */
export function corpusMatrix(
  engine: Engine,
  corpus: ResidentCorpus,
  queries: Matrix,
  out: Float32Array = new Float32Array(queries.rows * corpus.rows),
): Float32Array {
  const c = own(engine, corpus, 'corpusMatrix').data;
  const qn = toDeviceRows(engine, queries);
  try {
    return writeMatrix(engine, qn, c, out);
  } finally {
    releaseRows(engine, qn);
  }
}

function own(engine: Engine, corpus: ResidentCorpus, op: string): GpujsCorpus {
  if (!(corpus instanceof GpujsCorpus) || corpus.engine !== engine) {
    const whose =
      corpus instanceof GpujsCorpus ? 'another gpujs backend instance' : `backend '${corpus.backend}'`;
    throw new CosineKitError('INVALID_ARGUMENT', `Argument 'corpus' passed to '${op}' belongs to ${whose}.`, {
      op,
      arg: 'corpus',
    });
  }
  return corpus;
}
