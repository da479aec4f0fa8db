import type { CorpusOptions, CorpusStorage, Matrix, ResidentCorpus, TopKResult } from '../contract.js';
import { argError, CosineKitError } from '../errors.js';
import { clampCos, dot64, dotBlock, normalizedF64 } from './blocked-dot.js';
import { fromHalf, toHalf } from './half.js';
import { TopKSelector } from './top-k-selector.js';

const QUERY_TILE = 64;
const CORPUS_TILE = 256;

/**
 * The reference backend's resident corpus: rows normalised once and stored as float64
 * (`float32` storage: exact), as binary16 bits, or as int8 with one scale per row. Quantised rows
 * are decoded a tile at a time into a float64 scratch buffer for the blocked product.
 */
export class ReferenceCorpus implements ResidentCorpus {
  readonly backend = 'reference';
  readonly rows: number;
  readonly cols: number;
  readonly storage: CorpusStorage;
  readonly rerank: number;
  static live = 0;
  #exact: Float64Array | null = null;
  #half: Uint16Array | null = null;
  #int8: Int8Array | null = null;
  #scale: Float64Array | null = null;
  #disposed = false;
  readonly #scratch: Float64Array;

  constructor(x: Matrix, options: CorpusOptions = {}) {
    this.rows = x.rows;
    this.cols = x.cols;
    this.storage = options.storage ?? 'float32';
    this.rerank = options.rerank ?? 0;
    const n = normalizedF64(x.data, x.rows, x.cols);
    if (this.storage === 'float32' || this.rerank > 0) this.#exact = n;
    if (this.storage === 'float16') {
      this.#half = new Uint16Array(n.length);
      for (let i = 0; i < n.length; i++) this.#half[i] = toHalf(n[i]);
    } else if (this.storage === 'int8') {
      this.#int8 = new Int8Array(n.length);
      this.#scale = new Float64Array(x.rows);
      for (let r = 0; r < x.rows; r++) {
        const o = r * x.cols;
        let m = 0;
        for (let j = 0; j < x.cols; j++) m = Math.max(m, Math.abs(n[o + j]));
        const s = m > 0 ? m / 127 : 0;
        this.#scale[r] = s;
        if (s > 0) for (let j = 0; j < x.cols; j++) this.#int8[o + j] = Math.round(n[o + j] / s);
      }
    } else if (this.storage !== 'float32') {
      argError(
        'INVALID_ARGUMENT',
        'corpus',
        'options.storage',
        `must be 'float32', 'float16' or 'int8', got '${this.storage}'.`,
      );
    }
    this.#scratch = new Float64Array(this.storage === 'float32' ? 0 : CORPUS_TILE * x.cols);
    ReferenceCorpus.live++;
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  /** Rows [j0, j1) as stored, decoded to float64 (a view for float32 storage). */
  tile(j0: number, j1: number): Float64Array {
    this.#alive();
    const d = this.cols;
    if (this.storage === 'float32') return this.#exact!.subarray(j0 * d, j1 * d);
    const out = this.#scratch;
    if (this.#half) {
      const h = this.#half;
      for (let i = j0 * d, o = 0; i < j1 * d; i++, o++) out[o] = fromHalf(h[i]);
    } else {
      const q = this.#int8!;
      for (let r = j0; r < j1; r++) {
        const s = this.#scale![r];
        for (let j = 0, i = r * d, o = (r - j0) * d; j < d; j++) out[o + j] = q[i + j] * s;
      }
    }
    return out;
  }

  /** The exact normalised rows, when kept (float32 storage, or re-ranking). */
  get exact(): Float64Array | null {
    this.#alive();
    return this.#exact;
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#exact = this.#half = this.#int8 = this.#scale = null;
    ReferenceCorpus.live--;
  }

  #alive(): void {
    if (this.#disposed) {
      throw new CosineKitError('DISPOSED', 'This corpus was disposed and can no longer be searched.', {
        op: 'corpus',
        arg: 'corpus',
      });
    }
  }
}

/** Reference `createCorpus`. */
export function createCorpus(x: Matrix, options?: CorpusOptions): ReferenceCorpus {
  return new ReferenceCorpus(x, options);
}

/** Streams the corpus in tiles through the blocked product into `each(query, tile, offset, start, width)`. */
function forEachTile(
  c: ReferenceCorpus,
  qn: Float64Array,
  q: number,
  each: (i: number, tile: Float64Array, off: number, start: number, width: number) => void,
): void {
  const d = c.cols;
  const scores = new Float64Array(QUERY_TILE * CORPUS_TILE);
  for (let j0 = 0; j0 < c.rows; j0 += CORPUS_TILE) {
    const j1 = Math.min(c.rows, j0 + CORPUS_TILE);
    const w = j1 - j0;
    const rows = c.tile(j0, j1);
    for (let i0 = 0; i0 < q; i0 += QUERY_TILE) {
      const i1 = Math.min(q, i0 + QUERY_TILE);
      dotBlock(qn, i0, i1, rows, 0, w, d, scores, w);
      for (let i = i0; i < i1; i++) each(i, scores, (i - i0) * w, j0, w);
    }
  }
}

/** Reference `corpusSearch`: tiled exact search (or quantised search plus exact re-ranking). */
export function corpusSearch(corpus: ResidentCorpus, queries: Matrix, k: number): TopKResult {
  const c = own(corpus, 'corpusSearch');
  const q = queries.rows;
  const qn = normalizedF64(queries.data, q, queries.cols);
  const wide = c.rerank > 0 && c.exact ? Math.min(c.rows, c.rerank * k) : k;
  const sel = new TopKSelector(q, wide);
  forEachTile(c, qn, q, (i, tile, off, start, w) => sel.pushRow(i, tile, off, start, w));
  const first = sel.result();
  if (wide === k) return first;
  const exact = c.exact!;
  const final = new TopKSelector(q, k);
  for (let i = 0; i < q; i++) {
    for (let t = 0; t < wide; t++) {
      const j = first.indices[i * wide + t];
      final.push(i, dot64(qn, i * c.cols, exact, j * c.cols, c.cols), j);
    }
  }
  return final.result();
}

/** Reference `corpusMatrix`. */
export function corpusMatrix(
  corpus: ResidentCorpus,
  queries: Matrix,
  out: Float32Array = new Float32Array(queries.rows * corpus.rows),
): Float32Array {
  const c = own(corpus, 'corpusMatrix');
  const n = c.rows;
  const qn = normalizedF64(queries.data, queries.rows, queries.cols);
  forEachTile(c, qn, queries.rows, (i, tile, off, start, w) => {
    for (let t = 0; t < w; t++) out[i * n + start + t] = clampCos(tile[off + t]);
  });
  return out;
}

/** Reference `readCorpus`: the stored rows, decoded to float32. */
export function readCorpus(corpus: ResidentCorpus): Float32Array {
  const c = own(corpus, 'readCorpus');
  const out = new Float32Array(c.rows * c.cols);
  for (let j0 = 0; j0 < c.rows; j0 += CORPUS_TILE) {
    const j1 = Math.min(c.rows, j0 + CORPUS_TILE);
    const t = c.tile(j0, j1);
    for (let i = 0; i < (j1 - j0) * c.cols; i++) out[j0 * c.cols + i] = t[i];
  }
  return out;
}

function own(corpus: ResidentCorpus, op: string): ReferenceCorpus {
  if (!(corpus instanceof ReferenceCorpus)) {
    throw new CosineKitError(
      'INVALID_ARGUMENT',
      `Argument 'corpus' passed to '${op}' belongs to backend '${corpus.backend}', not 'reference'.`,
      {
        op,
        arg: 'corpus',
      },
    );
  }
  return corpus;
}
