import {
  argError,
  type CorpusOptions,
  foreignCorpus,
  type Matrix,
  type ResidentCorpus,
  type StoredCorpus,
  type TopKResult,
} from '@cosinekit/core/backend';
import { type Engine, isTexture, rowsOf } from '../engine.js';
import { type DeviceRows, flatten, releaseRows, toDeviceRows, uploadRows } from '../rows.js';
import { writeMatrix } from './cosine-matrix.js';
import { searchRows } from './top-k.js';

/**
 * A corpus normalised once and kept on the device: GL textures in GL modes (searches read them
 * in place), Float32Arrays in webasm/cpu modes, where gpu.js has no device memory to keep.
 */
export class GpujsCorpus implements ResidentCorpus {
  readonly backend = 'gpujs';
  readonly storage = 'float32';
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
      argError('DISPOSED', 'corpusSearch', 'corpus', 'was disposed and can no longer be searched.');
    }
    return this.#data;
  }

  dispose(): void {
    const data = this.#data;
    if (data === null) return;
    this.#data = null;
    this.engine.resident.delete(this);
    releaseRows(this.engine, data);
  }
}

/** `createCorpus`: upload and normalise once. Float32 storage only (quantised storage is the kit's). */
export function createCorpus(engine: Engine, x: Matrix, options?: CorpusOptions): GpujsCorpus {
  const storage = options?.storage ?? 'float32';
  if (storage !== 'float32') {
    argError(
      'UNSUPPORTED',
      'createCorpus',
      'options.storage',
      `is '${storage}', but the gpujs backend stores corpora as float32 only.`,
    );
  }
  return new GpujsCorpus(engine, toDeviceRows(engine, x));
}

/**
 * `importCorpus`: a corpus holding exactly the stored float32 rows (already normalised), kept as
 * `createCorpus` keeps them but not normalised again, so a loaded or compacted corpus scores bit for
 * bit as the one it came from (through `createCorpus`, some scores moved in the last bit).
 */
export function importCorpus(engine: Engine, stored: StoredCorpus): GpujsCorpus {
  if (stored.storage !== 'float32' || stored.exact === null) {
    argError(
      'UNSUPPORTED',
      'importCorpus',
      'stored',
      `holds '${stored.storage}' rows, but the gpujs backend stores corpora as float32 only.`,
    );
  }
  // Rows its searches could not sum (a loaded file's; createCorpus's own kernels refuse them):
  // refused here, when the file is loaded, not at every search. A search normalises its queries
  // first, 2 d steps (the row-scale kernel's two passes): d steps alone let a file of rows past half
  // the cap load, and then every search of it failed.
  engine.checkSteps('importCorpus', 'stored', 2 * stored.cols);
  return new GpujsCorpus(
    engine,
    uploadRows(engine, { data: stored.exact, rows: stored.rows, cols: stored.cols }),
  );
}

/** `readCorpus`: the resident rows as stored (normalised), read back chunk by chunk. */
export function readCorpus(engine: Engine, corpus: ResidentCorpus): Float32Array {
  const c = own(engine, corpus, 'readCorpus').data;
  const out = new Float32Array(c.rows * c.cols);
  for (const chunk of c.chunks) {
    const at = out.subarray(chunk.start * c.cols, (chunk.start + chunk.rows) * c.cols);
    if (isTexture(chunk.value)) flatten(rowsOf(chunk.value), c.cols, at);
    else at.set(chunk.value);
  }
  return out;
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
  // A corpus released with its engine (backend.dispose()) is disposed, not foreign.
  if (corpus instanceof GpujsCorpus && corpus.disposed) {
    argError('DISPOSED', op, 'corpus', 'was disposed.');
  }
  if (!(corpus instanceof GpujsCorpus) || corpus.engine !== engine) {
    foreignCorpus(op, corpus instanceof GpujsCorpus ? 'gpujs (another instance)' : corpus.backend, 'gpujs');
  }
  return corpus;
}
