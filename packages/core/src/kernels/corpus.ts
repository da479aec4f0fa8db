import type { CorpusOptions, CorpusStorage, Matrix, ResidentCorpus, TopKResult } from '../contract.js';
import { argError, CosineKitError } from '../errors.js';
import { dot64, normalizedF64 } from './blocked-dot.js';
import { clampCos } from './cosine-rule.js';
import { fromHalf, toHalf } from './half.js';
import { CORPUS_TILE, forEachScoreTile } from './top-k.js';
import { TopKSelector } from './top-k-selector.js';

/**
 * The reference backend's resident corpus: rows normalised once and stored as float64
 * (`float32` storage: exact), as binary16 bits, or as int8 with one scale per row. A search stages
 * the rows a tile at a time, decoded to float64, behind the queries in one staging array.
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
    ReferenceCorpus.live++;
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  /** Writes rows [j0, j1) as stored, decoded to float64, into `s` from offset `at`. */
  stage(j0: number, j1: number, s: Float64Array, at: number): void {
    this.#alive();
    const d = this.cols;
    if (this.storage === 'float32') {
      s.set(this.#exact!.subarray(j0 * d, j1 * d), at);
    } else if (this.#half) {
      const h = this.#half;
      for (let i = j0 * d, o = at; i < j1 * d; i++, o++) s[o] = fromHalf(h[i]);
    } else {
      const q = this.#int8!;
      for (let r = j0; r < j1; r++) {
        const sc = this.#scale![r];
        for (let j = 0, i = r * d, o = at + (r - j0) * d; j < d; j++) s[o + j] = q[i + j] * sc;
      }
    }
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

/** Reference `corpusSearch`: tiled exact search (or quantised search plus exact re-ranking). */
export function corpusSearch(corpus: ResidentCorpus, queries: Matrix, k: number): TopKResult {
  const c = own(corpus, 'corpusSearch');
  const q = queries.rows;
  const wide = c.rerank > 0 && c.exact ? Math.min(c.rows, c.rerank * k) : k;
  const sel = new TopKSelector(q, wide);
  const qn = forEachScoreTile(
    queries,
    c.rows,
    (j0, j1, s, at) => c.stage(j0, j1, s, at),
    (i, tile, off, start, w) => sel.pushRow(i, tile, off, start, w),
  );
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
  forEachScoreTile(
    queries,
    n,
    (j0, j1, s, at) => c.stage(j0, j1, s, at),
    (i, tile, off, start, w) => {
      for (let t = 0; t < w; t++) out[i * n + start + t] = clampCos(tile[off + t]);
    },
  );
  return out;
}

/** Reference `readCorpus`: the stored rows, decoded to float32. */
export function readCorpus(corpus: ResidentCorpus): Float32Array {
  const c = own(corpus, 'readCorpus');
  const out = new Float32Array(c.rows * c.cols);
  const t = new Float64Array(Math.min(c.rows, CORPUS_TILE) * c.cols);
  for (let j0 = 0; j0 < c.rows; j0 += CORPUS_TILE) {
    const j1 = Math.min(c.rows, j0 + CORPUS_TILE);
    c.stage(j0, j1, t, 0);
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
