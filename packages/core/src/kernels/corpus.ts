import type { Matrix, ResidentCorpus, TopKResult } from '../contract.js';
import { CosineKitError } from '../errors.js';
import { normalizedF64 } from './blocked-dot.js';
import { normalizedProduct } from './cosine-matrix.js';
import { searchNormalized } from './top-k.js';

/** The reference backend's resident corpus: rows normalised once, kept in float64. */
export class ReferenceCorpus implements ResidentCorpus {
  readonly backend = 'reference';
  readonly rows: number;
  readonly cols: number;
  #data: Float64Array | null;
  static live = 0;

  constructor(x: Matrix) {
    this.rows = x.rows;
    this.cols = x.cols;
    this.#data = normalizedF64(x.data, x.rows, x.cols);
    ReferenceCorpus.live++;
  }

  get disposed(): boolean {
    return this.#data === null;
  }

  /** The normalised rows; throws once disposed. */
  get normalized(): Float64Array {
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
      this.#data = null;
      ReferenceCorpus.live--;
    }
  }
}

/** Reference `createCorpus`. */
export function createCorpus(x: Matrix): ReferenceCorpus {
  return new ReferenceCorpus(x);
}

/** Reference `corpusSearch`. */
export function corpusSearch(corpus: ResidentCorpus, queries: Matrix, k: number): TopKResult {
  const c = own(corpus);
  const qn = normalizedF64(queries.data, queries.rows, queries.cols);
  return searchNormalized(qn, queries.rows, c.normalized, c.rows, c.cols, k);
}

/** Reference `corpusMatrix`. */
export function corpusMatrix(
  corpus: ResidentCorpus,
  queries: Matrix,
  out: Float32Array = new Float32Array(queries.rows * corpus.rows),
): Float32Array {
  const c = own(corpus);
  const qn = normalizedF64(queries.data, queries.rows, queries.cols);
  return normalizedProduct(qn, queries.rows, c.normalized, c.rows, c.cols, out);
}

function own(corpus: ResidentCorpus): ReferenceCorpus {
  if (!(corpus instanceof ReferenceCorpus)) {
    throw new CosineKitError(
      'INVALID_ARGUMENT',
      `Argument 'corpus' belongs to backend '${corpus.backend}', not 'reference'.`,
      {
        op: 'corpusSearch',
        arg: 'corpus',
      },
    );
  }
  return corpus;
}
