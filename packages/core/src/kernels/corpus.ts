import {
  type CorpusOptions,
  type CorpusStorage,
  type Matrix,
  type ResidentCorpus,
  resolveCorpusOptions,
  type StoredCorpus,
  type TopKResult,
} from '../contract.js';
import { argError, foreignCorpus } from '../errors.js';
import { dot64, normalizedF64 } from './blocked-dot.js';
import { clampCos } from './cosine-rule.js';
import { fromHalf, toHalf } from './half.js';
import { pickRows, throughTies } from './through-ties.js';
import { blockRowsFor, CORPUS_TILE, forEachScoreTile } from './top-k.js';
import { TopKSelector } from './top-k-selector.js';

/** Ties to even, as IEEE rounding (and wasm's `nearest`) does. */
function roundEven(x: number): number {
  const r = Math.floor(x);
  const f = x - r;
  if (f > 0.5) return r + 1;
  if (f < 0.5) return r;
  return r % 2 === 0 ? r : r + 1;
}

/**
 * int8 codes and scales of raw float32 rows, normalised on the way: `scale = max|x| / 127` of the
 * normalised row, `code = round(x * q)` with `q` the float32 factor that maps the largest component
 * to 127. The arithmetic is the wasm engine's, step for step (its float64 sum of squares in two
 * lanes, float32 products rounded to nearest even), so both backends store the same codes.
 */
export function quantizeInt8(
  data: Float32Array,
  rows: number,
  d: number,
): { codes: Int8Array; scales: Float32Array } {
  const codes = new Int8Array(rows * d);
  const scales = new Float32Array(rows);
  const f = Math.fround;
  for (let i = 0; i < rows; i++) {
    const o = i * d;
    let l0 = 0;
    let l1 = 0;
    let m = 0;
    let p = 0;
    for (; p + 4 <= d; p += 4) {
      const a = data[o + p];
      const b = data[o + p + 1];
      const c = data[o + p + 2];
      const e = data[o + p + 3];
      l0 += a * a + c * c;
      l1 += b * b + e * e;
    }
    let ss = l0 + l1;
    for (; p < d; p++) ss += data[o + p] * data[o + p];
    for (let j = 0; j < d; j++) m = Math.max(m, Math.abs(data[o + j]));
    const inv = ss > 0 ? 1 / Math.sqrt(ss) : 0;
    const amax = m * inv;
    const q = amax > 0 ? f((127 / amax) * inv) : 0;
    for (let j = 0; j < d; j++) {
      const v = f(data[o + j] * q);
      const r = v < 0 ? -roundEven(-v) : roundEven(v);
      codes[o + j] = r > 127 ? 127 : r < -127 ? -127 : r;
    }
    scales[i] = f(amax / 127);
  }
  return { codes, scales };
}

/**
 * The reference backend's resident corpus: rows normalised once and stored as float32 values
 * (`float32` storage, and the re-ranking rows of quantised storage), as binary16 bits, or as int8
 * with one scale per row. A search stages the rows a tile at a time, decoded to float64, behind the
 * queries in one staging array.
 */
export class ReferenceCorpus implements ResidentCorpus {
  readonly backend = 'reference';
  readonly rows: number;
  readonly cols: number;
  readonly storage: CorpusStorage;
  readonly rerank: number;
  static live = 0;
  /** float32 values (held as float64 for the staging copy). */
  #exact: Float64Array | null = null;
  #half: Uint16Array | null = null;
  #int8: Int8Array | null = null;
  #scale: Float32Array | null = null;
  #bound = -1;
  #disposed = false;

  constructor(x: Matrix | StoredCorpus, options: CorpusOptions = {}, sections?: Sections) {
    this.rows = x.rows;
    this.cols = x.cols;
    if (sections && !('data' in x)) {
      // Made by `merge` from rows already stored so: adopted as they are.
      this.storage = x.storage;
      this.rerank = x.storage === 'float32' ? 0 : x.rerank;
      this.#exact = sections.exact;
      this.#half = sections.half;
      this.#int8 = sections.int8;
      this.#scale = sections.scale;
    } else if ('data' in x) {
      const o = resolveCorpusOptions(options);
      this.storage = o.storage;
      this.rerank = o.rerank;
      if (this.storage !== 'float32' && this.storage !== 'float16' && this.storage !== 'int8') {
        argError(
          'INVALID_ARGUMENT',
          'corpus',
          'options.storage',
          `must be 'float32', 'float16' or 'int8', got '${this.storage}'.`,
        );
      }
      const n = normalizedF64(x.data, x.rows, x.cols);
      if (this.storage === 'float32' || this.rerank > 0) {
        // Rounded to float32 values in place (a plain loop: TypedArray.map with a callback is
        // several times slower on millions of values).
        for (let i = 0; i < n.length; i++) n[i] = Math.fround(n[i]);
        this.#exact = n;
      }
      if (this.storage === 'float16') {
        // From the float64 rows: rounding to float32 first (above, with rerank) would round twice.
        const m = this.#exact ? normalizedF64(x.data, x.rows, x.cols) : n;
        this.#half = new Uint16Array(m.length);
        for (let i = 0; i < m.length; i++) this.#half[i] = toHalf(m[i]);
      } else if (this.storage === 'int8') {
        const q = quantizeInt8(x.data, x.rows, x.cols);
        this.#int8 = q.codes;
        this.#scale = q.scales;
      }
    } else {
      this.storage = x.storage;
      this.rerank = x.storage === 'float32' ? 0 : x.rerank;
      const need = (ok: boolean, what: string) => {
        if (!ok) argError('INVALID_ARGUMENT', 'importCorpus', 'stored', `lacks ${what}.`);
      };
      const n = x.rows * x.cols;
      if (this.storage === 'float32' || this.rerank > 0) {
        need(x.exact?.length === n, 'its float32 rows');
        this.#exact = Float64Array.from(x.exact!);
      }
      if (this.storage === 'float16') {
        need(x.half?.length === n, 'its binary16 rows');
        this.#half = Uint16Array.from(x.half!);
      } else if (this.storage === 'int8') {
        need(x.codes?.length === n && x.scales?.length === x.rows, 'its int8 codes and scales');
        this.#int8 = Int8Array.from(x.codes!);
        this.#scale = Float32Array.from(x.scales!);
      }
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

  /**
   * How far a stored score (a normalised query against a stored row, clamped, rounded to float32)
   * may lie from the exact score: float16 rounds each value to 11 significant bits (2^-11 of the
   * unit row) or, below 2^-14, to 2^-25; int8 rounds each to half its row's scale (`sqrt(d) *
   * scale / 2` at most, Cauchy-Schwarz, with room for the float32 steps of the quantiser). Both as
   * far as `loadCorpus` lets a loaded file's stored values lie from its float32 rows: `|x| (2^-11 +
   * 2^-20) + 2^-24` (float16) and `scale * 0.5001 + 2^-22` (int8) a value, so `2^-11 + 2^-20 +
   * sqrt(d) 2^-24` and `sqrt(d) (scale * 0.5001 + 2^-22)` in all. Both with 2^-20 more: the stored
   * score's rounding, the k-th exact score's (as the selection holds it), and a float32 tie a row
   * left out could make with it. Computed once.
   */
  get errorBound(): number {
    this.#alive();
    if (this.#bound < 0) {
      let most = 0;
      if (this.#scale) for (let r = 0; r < this.rows; r++) most = Math.max(most, Math.abs(this.#scale[r]));
      const root = Math.sqrt(this.cols);
      this.#bound =
        (this.#half
          ? 2 ** -11 + 2 ** -20 + root * 2 ** -24
          : this.#scale
            ? root * (most * 0.5001 + 2 ** -22)
            : 0) +
        2 ** -20;
    }
    return this.#bound;
  }

  /** The exact normalised rows, when kept (float32 storage, or re-ranking). */
  get exact(): Float64Array | null {
    this.#alive();
    return this.#exact;
  }

  /** The stored representation, copied. */
  export(): StoredCorpus {
    this.#alive();
    return {
      rows: this.rows,
      cols: this.cols,
      storage: this.storage,
      rerank: this.rerank,
      exact: this.#exact ? Float32Array.from(this.#exact) : null,
      half: this.#half ? this.#half.slice() : null,
      codes: this.#int8 ? this.#int8.slice() : null,
      scales: this.#scale ? this.#scale.slice() : null,
    };
  }

  /**
   * The rows of `parts` (same width, storage and `rerank`) whose byte in `drop` is 0, in order, as
   * one new corpus: every section copied once, as stored.
   */
  static merge(parts: readonly ReferenceCorpus[], drop: readonly Uint8Array[]): ReferenceCorpus {
    const first = parts[0];
    const d = first.cols;
    let rows = 0;
    for (let p = 0; p < parts.length; p++) {
      const c = parts[p];
      c.#alive('mergeCorpora');
      if (c.cols !== d || c.storage !== first.storage || c.rerank !== first.rerank)
        argError(
          'INVALID_ARGUMENT',
          'mergeCorpora',
          `corpora[${p}]`,
          'differs from corpora[0] in width, storage or rerank.',
        );
      for (let j = 0; j < c.rows; j++) if (drop[p][j] === 0) rows++;
    }
    const n = rows * d;
    const out: Sections = {
      exact: first.#exact ? new Float64Array(n) : null,
      half: first.#half ? new Uint16Array(n) : null,
      int8: first.#int8 ? new Int8Array(n) : null,
      scale: first.#scale ? new Float32Array(rows) : null,
    };
    let r = 0;
    for (let p = 0; p < parts.length; p++) {
      const c = parts[p];
      const m = drop[p];
      // Runs of kept rows, one copy per section.
      for (let j = 0; j < c.rows; ) {
        if (m[j] !== 0) {
          j++;
          continue;
        }
        let e = j + 1;
        while (e < c.rows && m[e] === 0) e++;
        out.exact?.set(c.#exact!.subarray(j * d, e * d), r * d);
        out.half?.set(c.#half!.subarray(j * d, e * d), r * d);
        out.int8?.set(c.#int8!.subarray(j * d, e * d), r * d);
        out.scale?.set(c.#scale!.subarray(j, e), r);
        r += e - j;
        j = e;
      }
    }
    const shape = { rows, cols: d, storage: first.storage, rerank: first.rerank } as StoredCorpus;
    return new ReferenceCorpus(shape, {}, out);
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#exact = this.#half = this.#int8 = this.#scale = null;
    ReferenceCorpus.live--;
  }

  #alive(op = 'corpusSearch'): void {
    if (this.#disposed) {
      argError('DISPOSED', op, 'corpus', 'was disposed and can no longer be searched.');
    }
  }
}

/** A reference corpus's stored sections, as it holds them. */
interface Sections {
  exact: Float64Array | null;
  half: Uint16Array | null;
  int8: Int8Array | null;
  scale: Float32Array | null;
}

/** Reference `createCorpus`. */
export function createCorpus(x: Matrix, options?: CorpusOptions): ReferenceCorpus {
  return new ReferenceCorpus(x, options);
}

/** Reference `exportCorpus`: the stored representation, bit for bit. */
export function exportCorpus(corpus: ResidentCorpus): StoredCorpus {
  return own(corpus, 'exportCorpus').export();
}

/** Reference `importCorpus`: a corpus holding exactly `stored`. */
export function importCorpus(stored: StoredCorpus): ReferenceCorpus {
  return new ReferenceCorpus(stored);
}

/** Reference `mergeCorpora`: the kept rows of its corpora, each section copied once as stored. */
export function mergeCorpora(
  corpora: readonly ResidentCorpus[],
  drop: readonly Uint8Array[],
): ReferenceCorpus {
  return ReferenceCorpus.merge(
    corpora.map((c) => own(c, 'mergeCorpora')),
    drop,
  );
}

/** Reference `corpusSearch`: tiled exact search (or quantised search plus exact re-ranking). */
export function corpusSearch(corpus: ResidentCorpus, queries: Matrix, k: number): TopKResult {
  return searchAmong(own(corpus, 'corpusSearch'), queries, k, null);
}

/**
 * Reference `corpusSearchAllowed`: the allowed rows are gathered into the tiles and only they are
 * scored, so the work is proportional to the number allowed. Selection runs on positions in the
 * (ascending) list of allowed rows, which keeps ties to the lower row, then maps back to rows.
 */
export function corpusSearchAllowed(
  corpus: ResidentCorpus,
  queries: Matrix,
  k: number,
  allow: Uint8Array,
): TopKResult {
  const c = own(corpus, 'corpusSearchAllowed');
  let n = 0;
  for (let j = 0; j < c.rows; j++) n += allow[j] === 1 ? 1 : 0;
  const rows = new Int32Array(n);
  for (let j = 0, t = 0; j < c.rows; j++) if (allow[j] === 1) rows[t++] = j;
  return searchAmong(c, queries, k, rows);
}

/** Exact top-k among `rows` (ascending row numbers), or among all rows when `rows` is null. */
function searchAmong(c: ReferenceCorpus, queries: Matrix, k: number, rows: Int32Array | null): TopKResult {
  const q = queries.rows;
  const n = rows ? rows.length : c.rows;
  const rerank = c.rerank > 0 && c.exact !== null;
  const d = c.cols;
  const fill = rows
    ? (j0: number, j1: number, s: Float64Array, at: number) => {
        for (let t = j0; t < j1; t++) c.stage(rows[t], rows[t] + 1, s, at + (t - j0) * d);
      }
    : (j0: number, j1: number, s: Float64Array, at: number) => c.stage(j0, j1, s, at);
  let qn: Float64Array = new Float64Array(0);
  /**
   * The `w` best of queries `q0 .. q1 - 1` by stored score (ties to the lower row), as rows of the
   * corpus. `qn` keeps the normalised queries of the scan of them all.
   */
  const scan = (w: number, q0 = 0, q1 = q): TopKResult => {
    const some =
      q0 === 0 && q1 === q
        ? queries
        : { data: queries.data.subarray(q0 * d, q1 * d), rows: q1 - q0, cols: d };
    const sel = new TopKSelector(q1 - q0, w);
    const normed = forEachScoreTile(some, n, fill, (i, tile, off, start, width) =>
      sel.pushRow(i, tile, off, start, width),
    );
    if (some === queries) qn = normed;
    const r = sel.result();
    if (rows) for (let t = 0; t < r.indices.length; t++) r.indices[t] = rows[r.indices[t]];
    return r;
  };
  if (!rerank) return scan(k);
  // The rerank x k best by stored score and every row tying the last of them (see throughTies);
  // re-ranked scores are exact even when every candidate is kept (rerank 1, or k near the rows).
  const exact = c.exact!;
  const final = new TopKSelector(q, k);
  /**
   * For each query of `group`, every row it may choose whose stored score ranks >= its edge, and
   * the best stored score below the edge.
   */
  const atLeast = (group: readonly number[], edges: readonly number[]) => {
    const got = group.map((): number[] => []);
    const next = group.map(() => Number.NEGATIVE_INFINITY);
    forEachScoreTile(pickRows(queries, group), n, fill, (t, tile, off, start, w) => {
      for (let u = 0; u < w; u++) {
        const s = Math.fround(clampCos(tile[off + u]));
        if (s >= edges[t]) got[t].push(rows ? rows[start + u] : start + u);
        else if (s > next[t]) next[t] = s;
      }
    });
    return got.map((g, t) => ({ rows: Int32Array.from(g), next: next[t] }));
  };
  const bound = c.errorBound;
  throughTies(
    Math.min(n, c.rerank * k),
    n,
    q,
    scan,
    (i, cand) => {
      const scores = new Float64Array(cand.length);
      for (let t = 0; t < cand.length; t++) {
        scores[t] = dot64(qn, i * d, exact, cand[t] * d, d);
        final.push(i, scores[t], cand[t]);
      }
      return scores;
    },
    atLeast,
    {
      bound: () => bound,
      kth: (i) => final.threshold(i),
      reset: (i) => final.reset(i),
      most: Number.POSITIVE_INFINITY,
      // The normalised query (a zero query stays zero): every exact and stored score is then 0.
      zero: (i) => {
        for (let j = i * d; j < (i + 1) * d; j++) if (qn[j] !== 0) return false;
        return true;
      },
      // A crowded query: every row it may choose, scored exactly as the candidates are.
      whole: (group) => {
        for (const i of group) {
          final.reset(i);
          for (let t = 0; t < n; t++) {
            const row = rows ? rows[t] : t;
            final.push(i, dot64(qn, i * d, exact, row * d, d), row);
          }
        }
      },
    },
  );
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
  const d = c.cols;
  // Scores from the float32 rows when they are kept (re-ranking storage), as search reports them.
  const exact = c.exact;
  forEachScoreTile(
    queries,
    n,
    exact
      ? (j0, j1, s, at) => s.set(exact.subarray(j0 * d, j1 * d), at)
      : (j0, j1, s, at) => c.stage(j0, j1, s, at),
    (i, tile, off, start, w) => {
      for (let t = 0; t < w; t++) out[i * n + start + t] = clampCos(tile[off + t]);
    },
  );
  return out;
}

/** Reference `readCorpus`: the float32 rows it keeps, else the stored rows decoded to float32. */
export function readCorpus(corpus: ResidentCorpus): Float32Array {
  const c = own(corpus, 'readCorpus');
  if (c.exact) return Float32Array.from(c.exact);
  const out = new Float32Array(c.rows * c.cols);
  const tile = blockRowsFor(CORPUS_TILE, c.cols);
  const t = new Float64Array(Math.min(c.rows, tile) * c.cols);
  for (let j0 = 0; j0 < c.rows; j0 += tile) {
    const j1 = Math.min(c.rows, j0 + tile);
    c.stage(j0, j1, t, 0);
    for (let i = 0; i < (j1 - j0) * c.cols; i++) out[j0 * c.cols + i] = t[i];
  }
  return out;
}

function own(corpus: ResidentCorpus, op: string): ReferenceCorpus {
  if (!(corpus instanceof ReferenceCorpus)) {
    foreignCorpus(op, corpus.backend, 'reference');
  }
  return corpus;
}
