import { checkK, checkSameCols, ownOptions, refuseExtra } from './check.js';
import type { CorpusOptions, CorpusStorage, ResidentCorpus, StoredCorpus, TopKResult } from './contract.js';
import { type CorpusFile, writeCorpusFile } from './corpus-file.js';
import {
  argError,
  argErrorOf,
  checkSignal,
  disposeQuietly,
  errorText,
  isArrayArg,
  isCosineKitError,
  orAbort,
  reading,
} from './errors.js';
import { type AdmittedFilter, admitFilter, checkSignalArg, idList, type SearchOptions } from './filter.js';
import { admit, Lease } from './gate.js';
import type { CheckedKernels } from './guard.js';
import { pickRows } from './kernels/through-ties.js';
import { TopKSelector } from './kernels/top-k-selector.js';
import { checkOut, checkOutKept, type MatrixOptions, outFailure, outLength } from './out.js';
import { SearchResult } from './search-result.js';
import { gatherStored, MAX_IDS, MAX_ORDINAL, normalisedF32, tooManyIds } from './stored.js';
import { describeType, intact, Tensor, type TensorInput, toTensor, valueText } from './tensor.js';

/** A caller's id for a corpus row. */
export type Id = number | string;

/** Options of {@link CosineKit.corpus}. */
export interface CorpusCreateOptions extends CorpusOptions {
  /**
   * One id per row, returned with search results: unique strings or finite numbers (`-0` is held
   * as `0`, as a saved file writes it). Default: the row's ordinal (0, 1, ...). A corpus with ids
   * holds at most 2^24 of them at once (16,777,216, the most entries a JavaScript Map holds; a
   * removed row's id is free again at once): more is `INVALID_ARGUMENT` naming the ids, before
   * anything is stored. A corpus without ids has no such limit.
   */
  ids?: readonly Id[];
}

/** A block of rows resident on the backend, added together. */
interface Segment {
  handle: ResidentCorpus;
  /**
   * Rows the handle holds, as checked when it was made: read once, never again from the handle (a
   * backend's handle whose count changed later made the kit blame the caller's k).
   */
  rows: number;
  /** Ordinal of each stored row; ascending, and ascending across segments. */
  ordinals: Int32Array;
  /**
   * The caller's id of each stored row (removed rows' included), or null in a corpus without ids:
   * one array a segment rather than a map of every ordinal, which cost a hash entry a row.
   */
  ids: readonly Id[] | null;
  /** 1 where the row was removed. */
  deleted: Uint8Array;
  deletedCount: number;
  /**
   * 1 where the row is live (the complement of `deleted`), made by the first search after a
   * removal and kept up to date by later ones: a search built it anew each call, which cost a
   * one-query search over 200,000 x 96 rows 1.6x a corpus with nothing removed (the loop and a
   * new array's fresh pages).
   */
  alive?: Uint8Array;
  /**
   * The rows as given, for float32 corpora on backends without `readCorpus` or `exportCorpus`
   * (needed to save and compact). Quantised corpora live only on backends that export their stored
   * representation, so nothing quantised is ever kept or rebuilt from here.
   */
  host: Float32Array | null;
}

/** Set by {@link Corpus}'s static block: whether a value carries a corpus's private fields. */
let corpusBrand: (x: unknown) => boolean = () => false;

/**
 * Whether `x` is a corpus a kit made (`kit.corpus`, `corpusFrom`, `loadCorpus`). A Proxy of one (a
 * reactive store's wrapper) or an object made from one (`Object.create(corpus)`) passes
 * `instanceof Corpus` but is not one: its methods and getters refuse it with `INVALID_TYPE`.
 * @internal
 */
export function isCorpus(x: unknown): x is Corpus {
  return corpusBrand(x);
}

/**
 * A corpus resident on a backend: search it as often as needed, add and remove rows, save it, and
 * release it with `dispose()`.
 *
 * Rows keep the ordinal they were added with (0, 1, 2, ... across `add` calls, never reused, and
 * unchanged when other rows are removed); search results report ordinals as `indices`, and the
 * caller's ids as `ids` when ids were given. Positions are another matter: `corpus.rows` counts the
 * live rows, and a `{ mask }` filter's bytes and `similarity`'s columns are the live rows in ordinal
 * order (after `remove([0])` on rows 0, 1, 2, column 0 and `mask[0]` are ordinal 1). Removed rows are
 * skipped at once and their memory is reclaimed by compaction (a segment half removed is rebuilt).
 * Operations on one corpus run one at a time, in call order; a `dispose()` during a search takes
 * effect when the queued work finishes. Each operation takes its inputs (rows, queries, ids) as they
 * are when it is called, even when it runs after earlier queued work: the caller may reuse its
 * arrays as soon as the call returns.
 */
export class Corpus {
  readonly cols: number;
  /** The backend that holds the data. */
  readonly backend: string;
  /** How rows are stored on the backend. */
  readonly storage: CorpusStorage;
  readonly #kernels: CheckedKernels;
  readonly #options: CorpusOptions;
  readonly #onDispose: (c: Corpus) => void;
  #segments: Segment[] = [];
  /** Whether rows have the caller's ids (each segment holds its rows' ids). */
  readonly #withIds: boolean;
  /** The caller's id -> ordinal, for live rows only. */
  #byId: Map<Id, number> | null;
  #next = 0;
  #live = 0;
  #queue: Promise<unknown> = Promise.resolve();
  #pending = 0;
  #disposed = false;
  /** Scratch of {@link Corpus.similarity} over several segments (empty until one needs it). */
  #scratch = new Float32Array(0);
  /**
   * @internal The largest segment a merge builds, in bytes of float32 rows (64 MiB, or `corpusFrom`'s
   * `segmentBytes`): small segments are merged, big ones never, so a merge needs at most this much.
   */
  mergeBytes = 67108864;

  /** @internal Made by {@link CosineKit.corpus} and {@link CosineKit.loadCorpus}. */
  constructor(
    first: ResidentCorpus,
    kernels: CheckedKernels,
    options: CorpusCreateOptions,
    host: Float32Array | null,
    onDispose: (c: Corpus) => void,
    rows: number,
  ) {
    // Exported for instanceof and types; `new Corpus(rows)` threw a raw TypeError.
    if (
      typeof kernels !== 'object' ||
      kernels === null ||
      typeof first !== 'object' ||
      first === null ||
      typeof first.cols !== 'number' ||
      typeof onDispose !== 'function'
    )
      argError(
        'INVALID_TYPE',
        'Corpus',
        'rows',
        'cannot make a corpus: use kit.corpus(rows), kit.corpusFrom(chunks) or kit.loadCorpus(bytes).',
      );
    this.cols = first.cols;
    this.backend = first.backend;
    this.storage = first.storage ?? 'float32';
    this.#kernels = kernels;
    this.#options = { storage: options.storage, rerank: options.rerank };
    this.#onDispose = onDispose;
    this.#withIds = !!options.ids;
    this.#byId = options.ids ? new Map() : null;
    this.#append(first, rows, options.ids, host, null);
  }

  /**
   * Whether `x` is a corpus: a method called without one (`const { search } = corpus`) threw the
   * engine's TypeError synchronously from a call that returns a promise.
   */
  static #is(x: unknown): boolean {
    return typeof x === 'object' && x !== null && #disposed in x;
  }

  static {
    corpusBrand = Corpus.#is;
  }

  /** Number of live rows. */
  get rows(): number {
    if (!Corpus.#is(this)) throw notACorpusError('rows');
    return this.#live;
  }

  /** True once `dispose()` was called. */
  get disposed(): boolean {
    if (!Corpus.#is(this)) throw notACorpusError('disposed');
    return this.#disposed;
  }

  /**
   * Top-k rows for each query row, best first, ties to the lower ordinal. With `options.filter`,
   * the k best among the rows that pass (all of them, and `result.k` their number, when fewer than
   * k pass); with `options.signal`, an abort stops the search with `ABORTED` between steps.
   */
  search(queries: TensorInput, k: number, options?: SearchOptions): Promise<SearchResult>;
  search(
    queries: TensorInput,
    k: number,
    options: SearchOptions = {},
    ...more: unknown[]
  ): Promise<SearchResult> {
    if (!Corpus.#is(this)) return notACorpus('search');
    const extra = refuseExtra('search', more, ['queries', 'k', 'options']);
    if (extra) return extra;
    let filter: AdmittedFilter | null;
    let signal: AbortSignal | undefined;
    try {
      options = ownOptions('search', options, ['filter', 'signal']);
      signal = options.signal;
      checkSignalArg('search', signal);
      checkSignal('search', signal);
      filter = options.filter === undefined ? null : admitFilter('search', options.filter);
      if (filter === null && signal === undefined) {
        const now = this.#searchNow(queries, k);
        if (now instanceof SearchResult) return Promise.resolve(now);
        // Checked as a Tensor: the gated call reads a getter or a Proxy of the caller's no more.
        if (now !== undefined) queries = now;
      }
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#run(
      'search',
      queries,
      async (q) => {
        checkK('search', k, this.#live);
        checkSignal('search', signal);
        let masks = filter ? this.#masks('search', filter) : null;
        // A filter every live row passes leaves the plain search, the same rows faster.
        if (masks && masks.passing === this.#live) masks = null;
        const kk = masks ? Math.min(k, masks.passing) : k;
        if (kk === 0) {
          const none = { queries: q.rows, k: 0, indices: new Int32Array(0), scores: new Float32Array(0) };
          return new SearchResult(none, this.#withIds ? [] : undefined);
        }
        const step = signal ? this.#blockRows(q) : q.rows;
        const parts: TopKResult[] = [];
        for (let i0 = 0; i0 < q.rows; i0 += step) {
          if (i0 > 0) await pause();
          checkSignal('search', signal);
          const block = step >= q.rows ? q : sliceRows(q, i0, Math.min(q.rows, i0 + step));
          parts.push(await this.#searchBlock(block, kk, masks, signal));
        }
        const res = parts.length === 1 ? parts[0] : concatResults(parts, kk);
        return new SearchResult(res, this.#idsOf(res.indices));
      },
      signal,
    );
  }

  /**
   * `search` answered within the call from the caller's queries as they are, with no snapshot,
   * finite check or rescale, where the backend declares `corpusSearch` ungated (see
   * `Backend.ungated`) and one kernel call answers it: nothing queued on this corpus (a queued call
   * runs after the caller may have changed its queries), one segment with no removed rows and
   * ordinals 0, 1, 2, ... The answer, or the queries as a tensor for the gated call: a kernel that
   * threw (as it must for NaN or ±Infinity) or answered what the check refuses, a bad `k`, or no
   * such kernel. The gated call then names the bad argument as always. Throws what the gated call
   * throws first: queries that are no matrix, or of the wrong width.
   */
  #searchNow(queries: TensorInput, k: number): SearchResult | Tensor | undefined {
    if (this.#oneSegment('corpusSearch') === null) return undefined;
    const q = toTensor(queries, 'search', 'queries');
    checkSameCols('search', 'corpus', this, 'queries', q);
    if (!(Number.isInteger(k) && k >= 1 && k <= this.#live)) return q;
    intact(q, 'search', 'queries');
    // The kernel reads a plain view, made now: a subclass's getters ran inside it, and one that
    // disposed this corpus there had it answer from another corpus's rows. The segment is taken
    // after that read, so a dispose it made sends the call the gated way (DISPOSED).
    const plain = plainView(q);
    const s = this.#oneSegment('corpusSearch');
    if (plain === undefined || s === null || !isIdentity(s.ordinals)) return q;
    const r = this.#kernels.corpusSearchUngated('search', s.handle, plain, k);
    return r === undefined ? q : new SearchResult(r, this.#idsOf(r.indices));
  }

  /**
   * The segment a call on the caller's rows may run on (see {@link Corpus.#searchNow}): the only
   * one, with no removed rows, nothing queued, and `kernel` declared ungated; else null.
   */
  #oneSegment(kernel: 'corpusSearch' | 'corpusMatrix'): Segment | null {
    if (this.#disposed || this.#pending !== 0 || !this.#kernels.ungated.has(kernel)) return null;
    const segs = this.#segments;
    return segs.length === 1 && segs[0].deletedCount === 0 ? segs[0] : null;
  }

  /** One block of queries: top-`k` over the live rows (those `masks` allow), as ordinals. */
  async #searchBlock(q: Tensor, k: number, masks: Masks | null, signal?: AbortSignal): Promise<TopKResult> {
    const segs = this.#segments;
    if (!masks && segs.length === 1 && segs[0].deletedCount === 0 && isIdentity(segs[0].ordinals)) {
      return this.#kernels.corpusSearch('search', 'queries', segs[0].handle, q, k);
    }
    /** Each segment's best, as ordinals: best first, ties to the lower ordinal. */
    const runs: TopKResult[] = [];
    for (let si = 0; si < segs.length; si++) {
      checkSignal('search', signal);
      const s = segs[si];
      if (masks) {
        const p = masks.counts[si];
        if (p > 0) runs.push(await this.#searchAllowed(q, s, masks.masks[si], p, Math.min(k, p), signal));
        continue;
      }
      const live = s.rows - s.deletedCount;
      if (live === 0) continue;
      if (s.deletedCount > 0) {
        // Removed rows are filtered out as a filter's are: asking the segment for k plus every
        // removed row cost up to 18x a fresh corpus's search once many were removed (compaction
        // waits for half of a segment).
        runs.push(await this.#searchAllowed(q, s, aliveOf(s), live, Math.min(k, live), signal));
        continue;
      }
      const kk = Math.min(s.rows, k);
      runs.push(asOrdinals(await this.#kernels.corpusSearch('search', 'queries', s.handle, q, kk), s));
    }
    return runs.length === 1 && runs[0].k === k ? runs[0] : mergeRuns(runs, q.rows, k);
  }

  /**
   * The best `k` of segment `s`'s rows that `allow` passes (`passing` of them, at least `k`), for
   * each query, as ordinals: by the backend when it filters, else around its plain search.
   */
  async #searchAllowed(
    q: Tensor,
    s: Segment,
    allow: Uint8Array,
    passing: number,
    k: number,
    signal?: AbortSignal,
  ): Promise<TopKResult> {
    if (!this.#kernels.canFilter) {
      const sel = new TopKSelector(q.rows, k);
      await this.#searchAround(q, s, allow, passing, k, sel, signal);
      return sel.result();
    }
    return asOrdinals(await this.#kernels.corpusSearchAllowed('search', 'queries', s.handle, q, k, allow), s);
  }

  /**
   * Exact filtered search on a backend that cannot filter: search for a wider `kw`, keep the rows
   * that pass, and settle the queries whose prefix held fewer than `k` passing rows in one more
   * pass. The best `kw` rows are the exact sorted prefix, so the passing rows in it are the best
   * passing rows in order. The first width expects the passing share to be spread evenly; a query
   * whose passing rows lie among its worst (a filter that follows the query: "not the ones seen")
   * then takes the width that cannot miss, `k` plus every failing row, or, where that would sort a
   * large share of the rows, its cosines and a selection among the passing columns. Widening 4x a
   * pass up to every row cost 6-11x an unfiltered search on tfjs at 50,000 rows.
   */
  async #searchAround(
    q: Tensor,
    s: Segment,
    allow: Uint8Array,
    passing: number,
    k: number,
    sel: TopKSelector,
    signal?: AbortSignal,
  ): Promise<void> {
    const n = s.rows;
    const failing = n - passing;
    let kw = Math.min(n, k + failing <= 4 * k ? k + failing : Math.ceil((2 * k * n) / passing));
    // Few rows pass: the wider search would sort a large share of the segment for every query
    // (a top-k of every row, 25-67x an unfiltered search on tfjs-wasm with 10 of 50,000 rows
    // passing). Float32 rows score the same in corpusMatrix as in a search: take those cosines
    // and select among the passing columns here.
    if (32 * kw >= n && this.storage === 'float32') return this.#selectAllowed(q, s, allow, sel, signal);
    let pending = Array.from({ length: q.rows }, (_, i) => i);
    while (pending.length > 0) {
      checkSignal('search', signal);
      const sub = pending.length === q.rows ? q : pickTensorRows(q, pending);
      const r = await this.#kernels.corpusSearch('search', 'queries', s.handle, sub, kw);
      const next: number[] = [];
      for (let b = 0; b < pending.length; b++) {
        let found = 0;
        for (let t = 0; t < kw && found < k; t++) if (allow[r.indices[b * kw + t]] === 1) found++;
        if (found < k && kw < n) {
          next.push(pending[b]);
          continue;
        }
        for (let t = 0, got = 0; t < kw && got < k; t++) {
          const local = r.indices[b * kw + t];
          if (allow[local] !== 1) continue;
          sel.push(pending[b], r.scores[b * kw + t], s.ordinals[local]);
          got++;
        }
      }
      pending = next;
      if (pending.length === 0) break;
      kw = Math.min(n, k + failing);
      if (32 * kw >= n && this.storage === 'float32')
        return this.#selectAllowed(q, s, allow, sel, signal, pending);
    }
  }

  /**
   * The passing rows of segment `s` for each query (or the queries `only` lists), into `sel`, from
   * the segment's cosines: a band of queries at a time into the corpus's scratch (as
   * {@link Corpus.similarity} takes them).
   */
  async #selectAllowed(
    q: Tensor,
    s: Segment,
    allow: Uint8Array,
    sel: TopKSelector,
    signal?: AbortSignal,
    only?: number[],
  ): Promise<void> {
    // Only some of the queries (`only`, rows of q): their cosines alone, pushed as those rows.
    const rowOf = only ? (i: number) => only[i] : (i: number) => i;
    if (only) q = pickTensorRows(q, only);
    const n = s.rows;
    let count = 0;
    for (let j = 0; j < n; j++) count += allow[j] === 1 ? 1 : 0;
    const passing = new Int32Array(count);
    for (let j = 0, t = 0; j < n; j++) if (allow[j] === 1) passing[t++] = j;
    await this.#eachBand('search', q, s, bandOf(q, n), signal, (m, i0, i1) => {
      for (let i = i0; i < i1; i++) {
        const row = (i - i0) * n;
        const qi = rowOf(i);
        for (let t = 0; t < count; t++) sel.push(qi, m[row + passing[t]], s.ordinals[passing[t]]);
      }
    });
  }

  /**
   * Segment `s`'s cosines against `q`, `band` queries at a time into the corpus's scratch (kept
   * between calls): `each(m, i0, i1)` reads those of queries [i0, i1), row by row, `s.rows` apart.
   */
  async #eachBand(
    op: string,
    q: Tensor,
    s: Segment,
    band: number,
    signal: AbortSignal | undefined,
    each: (m: Float32Array, i0: number, i1: number) => void,
  ): Promise<void> {
    const n = s.rows;
    if (this.#scratch.length < band * n) this.#scratch = new Float32Array(band * n);
    for (let i0 = 0; i0 < q.rows; i0 += band) {
      checkSignal(op, signal);
      const i1 = Math.min(q.rows, i0 + band);
      each(
        await this.#kernels.corpusMatrix(
          op,
          'queries',
          s.handle,
          band >= q.rows ? q : sliceRows(q, i0, i1),
          this.#scratch.subarray(0, (i1 - i0) * n),
        ),
        i0,
        i1,
      );
    }
  }

  /** Per segment, 1 for each live row the filter passes, and the counts. */
  #masks(op: string, f: AdmittedFilter): Masks {
    // Every row passes: no mask is read (the search drops it).
    if (f.kind === 'all') {
      maskFits(op, f.rows, this.#live);
      return { masks: [], counts: [], passing: f.rows };
    }
    const segs = this.#segments;
    // A mask over one segment with no removed row is that segment's mask as it is: the filter's
    // own admitted copy (a second copy per search made a mask cost 1.8x the same rows as an allow
    // list for one query over 200,000 x 96).
    if (f.kind === 'mask' && segs.length === 1 && segs[0].deletedCount === 0) {
      maskFits(op, f.mask.length, this.#live);
      const m =
        f.mask.byteOffset === 0 && f.mask.length === segs[0].rows ? f.mask : f.mask.slice(0, segs[0].rows);
      const c = countOnes(m);
      return { masks: [m], counts: [c], passing: c };
    }
    const masks = segs.map((s) => new Uint8Array(s.rows));
    if (f.kind === 'allow' || f.kind === 'deny') {
      const allow = f.kind === 'allow';
      if (!allow)
        segs.forEach((s, i) => {
          if (s.deletedCount === 0) masks[i].fill(1);
          else masks[i].set(aliveOf(s));
        });
      // One segment numbered 0, 1, ... (a corpus made at once): an ordinal is its row, found
      // without a search (half of a deny list's time over 200,000 rows).
      const direct = segs.length === 1 && isIdentity(segs[0].ordinals) ? segs[0] : null;
      const byId = this.#byId;
      const list = f.ids;
      for (let t = 0; t < list.length; t++) {
        const id = list[t];
        const ord = byId ? byId.get(id) : typeof id === 'number' ? id : undefined;
        if (ord === undefined) continue;
        if (direct) {
          if (Number.isInteger(ord) && ord >= 0 && ord < direct.rows && (!allow || direct.deleted[ord] === 0))
            masks[0][ord] = allow ? 1 : 0;
          continue;
        }
        // The segment whose first ordinal is the last at or below it (where a search's own rows
        // lie), then the others; no array made an id (after ten adds an allow list cost 2-2.6x).
        let si = segmentOf(segs, ord);
        let j = si >= 0 ? rowOf(segs[si], ord) : -1;
        if (j < 0) {
          // The segment's index from the lookup: a search of it per id made an allow list of
          // 16,000 ids against 16,000 segments cost 76 ms more than the same rows as a mask.
          const at = this.#locate(ord);
          if (!at) continue;
          j = at[1];
          si = at[2];
        }
        if (!allow || segs[si].deleted[j] === 0) masks[si][j] = allow ? 1 : 0;
      }
    } else if (f.kind === 'mask') {
      maskFits(op, f.mask.length, this.#live);
      let r = 0;
      segs.forEach((s, i) => {
        // A segment with no removed row takes its share of the mask as it is.
        if (s.deletedCount === 0) masks[i].set(f.mask.subarray(r, (r += s.rows)));
        else for (let j = 0; j < s.rows; j++) if (s.deleted[j] === 0) masks[i][j] = f.mask[r++];
      });
    } else {
      segs.forEach((s, i) => {
        for (let j = 0; j < s.rows; j++) {
          if (s.deleted[j]) continue;
          const ord = s.ordinals[j];
          let keep: unknown;
          try {
            keep = f.test(s.ids ? s.ids[j] : ord);
          } catch (e) {
            argError('INVALID_ARGUMENT', op, 'options.filter', `threw on row ${ord}: ${errorText(e)}`, e);
          }
          // A promise (an async predicate) would read as true and let every row through.
          if (typeof keep !== 'boolean')
            argError(
              'INVALID_TYPE',
              op,
              'options.filter',
              `must return true or false, got ${describeType(keep)} for row ${ord}.`,
            );
          masks[i][j] = keep ? 1 : 0;
        }
      });
    }
    const counts = masks.map(countOnes);
    return { masks, counts, passing: counts.reduce((a, b) => a + b, 0) };
  }

  /** Query rows per step of an abortable call on this corpus (see {@link stepQueries}). */
  #blockRows(q: Tensor): number {
    return stepQueries(this.#live * this.cols, q.rows);
  }

  /**
   * The `queries.rows x corpus.rows` matrix of cosines; columns are live rows in ordinal order.
   * With `options.signal`, an abort stops it with `ABORTED` between steps. With `options.out`, the
   * result is written into it (see {@link MatrixOptions.out}), its size checked against the live
   * rows when the call runs (after the calls queued before it).
   */
  similarity(queries: TensorInput, options?: { signal?: AbortSignal } & MatrixOptions): Promise<Tensor>;
  similarity(
    queries: TensorInput,
    options: { signal?: AbortSignal } & MatrixOptions = {},
    ...more: unknown[]
  ): Promise<Tensor> {
    if (!Corpus.#is(this)) return notACorpus('similarity');
    const extra = refuseExtra('similarity', more, ['queries', 'options']);
    if (extra) return extra;
    let signal: AbortSignal | undefined;
    try {
      options = ownOptions('similarity', options, ['signal', 'out']);
      signal = options.signal;
      checkSignalArg('similarity', signal);
      checkSignal('similarity', signal);
      if (signal === undefined && options.out === undefined) {
        const now = this.#similarityNow(queries);
        if (now instanceof Tensor) queries = now;
        else if (now !== undefined) return Promise.resolve(now.answer);
      }
    } catch (e) {
      return Promise.reject(e);
    }
    const given = outLength(options.out);
    return this.#run(
      'similarity',
      queries,
      async (q) => {
        checkSignal('similarity', signal);
        const n = this.#live;
        checkOutKept('similarity', options.out, given);
        const mine = checkOut('similarity', options, q.rows, n, [['queries', queries]]);
        try {
          const step = signal ? this.#blockRows(q) : q.rows;
          // Without an output of the caller's, one step leaves the result to the backend, which may
          // make it where its threads can write (see the wasm backend's shared results).
          if (step >= q.rows) return new Tensor(await this.#similarityBlock(q, mine, signal), q.rows, n);
          const out = mine ?? new Float32Array(q.rows * n);
          for (let i0 = 0; i0 < q.rows; i0 += step) {
            if (i0 > 0) await pause();
            checkSignal('similarity', signal);
            const i1 = Math.min(q.rows, i0 + step);
            await this.#similarityBlock(sliceRows(q, i0, i1), out.subarray(i0 * n, i1 * n), signal);
          }
          return new Tensor(out, q.rows, n);
        } catch (e) {
          throw outFailure('similarity', e, mine);
        }
        // With an output of the caller's, the running kernel writes into it: the abort waits for it,
        // so nothing is written there after the call has rejected.
      },
      options.out === undefined ? signal : undefined,
    );
  }

  /**
   * `similarity` answered within the call from the caller's queries, as {@link Corpus.#searchNow}
   * answers a search (`corpusMatrix` declared ungated, one segment with no removed rows, nothing
   * queued), for a call without `out`: the answer, or the queries as a tensor for the gated call.
   */
  #similarityNow(queries: TensorInput): { answer: Tensor } | Tensor | undefined {
    if (this.#oneSegment('corpusMatrix') === null) return undefined;
    const q = toTensor(queries, 'similarity', 'queries');
    checkSameCols('similarity', 'corpus', this, 'queries', q);
    intact(q, 'similarity', 'queries');
    // As in #searchNow: a plain view made before the segment is taken.
    const plain = plainView(q);
    const s = this.#oneSegment('corpusMatrix');
    if (plain === undefined || s === null) return q;
    const r = this.#kernels.corpusMatrixUngated('similarity', s.handle, plain, undefined);
    return r === undefined ? q : { answer: new Tensor(r, q.rows, this.#live) };
  }

  /** The cosines of `q` against the live rows (`q.rows x live`), into `out` when given. */
  async #similarityBlock(
    q: Tensor,
    out: Float32Array | undefined,
    signal?: AbortSignal,
  ): Promise<Float32Array> {
    const segs = this.#segments;
    if (segs.length === 1 && segs[0].deletedCount === 0)
      return this.#kernels.corpusMatrix('similarity', 'queries', segs[0].handle, q, out);
    const live = this.#live;
    const dst = out ?? new Float32Array(q.rows * live);
    // Each segment's cosines for a band of queries go into one scratch of at most 4 MiB, kept by
    // the corpus between calls, and are copied into place a run of live rows at a time, query row
    // by query row. A new matrix per segment (its page faults each call) copied a column at a time
    // (strided by the whole width) made a corpus of two segments cost 5-11x one segment.
    let most = 0;
    for (const s of segs) most = Math.max(most, s.rows);
    const band = bandOf(q, most);
    let col = 0;
    for (const s of segs) {
      const n = s.rows;
      const runs = liveRuns(s);
      // The live columns one by one when their runs average under 32 rows.
      const keep = runs.length > 2 && (n - s.deletedCount) * 2 < 32 * runs.length ? liveColumns(runs) : null;
      await this.#eachBand('similarity', q, s, band, signal, (m, i0, i1) => {
        for (let i = i0; i < i1; i++) {
          let c = i * live + col;
          const row = (i - i0) * n;
          if (keep) {
            // Short runs (rows removed here and there): one value at a time, not a copy a run.
            for (let t = 0; t < keep.length; t++) dst[c + t] = m[row + keep[t]];
            continue;
          }
          for (let r = 0; r < runs.length; r += 2) {
            dst.set(m.subarray(row + runs[r], row + runs[r + 1]), c);
            c += runs[r + 1] - runs[r];
          }
        }
      });
      col += n - s.deletedCount;
    }
    return dst;
  }

  /**
   * @internal Appends admitted rows as a new segment without merging (used by `corpusFrom` and the
   * file helpers, which size their segments themselves so that no copy of the whole corpus is made).
   */
  appendRows(
    op: string,
    t: Tensor | StoredCorpus,
    ids: Id[] | undefined,
    ordinals?: Int32Array,
    made?: ResidentCorpus,
  ): Promise<void> {
    // A corpus disposed meanwhile (its kit disposed while a stream was read) refuses the rows; a
    // segment already made for them goes with it.
    if (this.#disposed) disposeQuietly(made);
    return this.#exclusive(op, async () => {
      let handle = made;
      const tensor = t instanceof Tensor;
      try {
        this.#checkIds(op, ids, t.rows);
        // A loaded file's rows (with `ordinals`) come with their stored form and their own ordinals.
        if (!ordinals) this.#checkRoom(t.rows);
        handle ??= tensor
          ? await this.#kernels.createCorpus(op, 'source', t, this.#options)
          : await this.#rebuild(op, 'source', t);
      } catch (e) {
        disposeQuietly(made);
        throw e;
      }
      this.#append(
        handle,
        t.rows,
        ids,
        made || !this.#keepsHost ? null : tensor ? t.data : t.exact,
        ordinals ?? null,
      );
    });
  }

  /**
   * @internal Merges the last `count` segments into one (the backend's `mergeCorpora` where it has
   * one): `corpusFrom` hands large chunks to the backend one by one as segments of their own, then
   * joins each segment's worth, one copy within the backend instead of a host buffer filled first.
   */
  mergeTail(op: string, count: number): Promise<void> {
    return this.#exclusive(op, async () => {
      const segs = this.#segments;
      if (count > 1 && count <= segs.length) await this.#compact(op, 'source', segs.slice(-count));
    });
  }

  /**
   * @internal The segment for rows `x` made within this call by a `createCorpus` the backend
   * declares ungated (see `Backend.ungated`), where the backend can give its rows back without a
   * copy of the kit's: the backend copies `x` itself, so the caller may reuse or change it at
   * once. `undefined` otherwise, or when the kernel throws (as it must for NaN or ±Infinity) or
   * answers a handle the check refuses. Hand the segment to {@link appendRows}.
   */
  ungatedHandle(op: string, x: Tensor): ResidentCorpus | undefined {
    return this.#kernels.createCorpusUngated(op, x, this.#options);
  }

  /**
   * @internal The live rows for a streamed save (the file helpers): `body` runs while no other
   * operation on this corpus does, and reads one segment's stored rows at a time.
   */
  streamParts<T>(op: string, body: (p: CorpusParts) => Promise<T>): Promise<T> {
    return this.#exclusive(op, () => {
      const segs = this.#segments.filter((s) => s.deletedCount < s.rows);
      const ordinals = new Int32Array(this.#live);
      let r = 0;
      for (const s of segs) for (let j = 0; j < s.rows; j++) if (!s.deleted[j]) ordinals[r++] = s.ordinals[j];
      return body({
        rows: this.#live,
        cols: this.cols,
        storage: this.storage,
        next: this.#next,
        ordinals,
        ids: this.#withIds ? liveIds(segs) : null,
        segments: segs.length,
        read: async (i) => {
          const s = segs[i];
          let st: StoredCorpus;
          try {
            st = await this.#storedOf(op, s);
          } catch (e) {
            // Its backend disposed mid-save: named after the corpus, as every other call of a
            // corpus cut short so is (it named the backend, which saveCorpusFile does not take).
            if (isCosineKitError(e, 'DISPOSED')) this.#checkHandles(op, e);
            throw e;
          }
          return s.deletedCount ? gatherStored([st], (_, j) => s.deleted[j] === 0) : st;
        },
      });
    });
  }

  /**
   * Adds rows (with ids, if this corpus has ids). Resolves when they are searchable. The rows are
   * taken as they are at the call: changing them afterwards changes nothing.
   */
  add(rows: TensorInput, ids?: readonly Id[]): Promise<void>;
  add(rows: TensorInput, ids?: readonly Id[], ...more: unknown[]): Promise<void> {
    if (!Corpus.#is(this)) return notACorpus('add');
    const extra = refuseExtra('add', more, ['rows', 'ids']);
    if (extra) return extra;
    if (this.#disposed) return this.#exclusive('add', async () => undefined);
    let t: Tensor;
    let own: Id[] | undefined;
    let early: ResidentCorpus | undefined;
    try {
      const raw = toTensor(rows, 'add', 'rows');
      checkSameCols('add', 'corpus', this, 'rows', raw);
      // More ids than the corpus has room for: refused before they are copied or hashed.
      const held = this.#byId?.size ?? 0;
      if (held > 0 && ids !== undefined && isArrayArg('add', 'ids', ids)) {
        const n = reading('add', 'ids', () => ids.length);
        if (n > MAX_IDS - held) tooManyIds('add', 'ids', n, held);
      }
      const made = this.#addUngated(raw, ids);
      if (made !== undefined) {
        t = raw;
        [early, own] = made;
      } else {
        t = admit(raw === rows ? rows : raw, 'add', 'rows').tensor;
        own = copyIds('add', ids);
        // Format and repeats within the call now; against the corpus when the add runs (earlier
        // queued adds and removes change which ids exist).
        if (this.#withIds && own !== undefined) checkIdList('add', own, t.rows);
      }
    } catch (e) {
      return Promise.reject(e);
    }
    const n = t.rows;
    const host = early === undefined && this.#keepsHost ? t.data : null;
    // Disposed while its arguments were read (a getter, a Proxy's trap): the segment made for the
    // rows goes too (it stayed resident until the backend was disposed).
    if (this.#disposed) disposeQuietly(early);
    return this.#exclusive('add', async () => {
      let handle = early;
      try {
        this.#checkIds('add', own, n);
        this.#checkRoom(n);
        handle ??= await this.#kernels.createCorpus('add', 'rows', t, this.#options);
      } catch (e) {
        disposeQuietly(early);
        throw e;
      }
      this.#append(handle, n, own, host, null);
      // Size-tiered merging: while the newest segment's predecessor holds at most twice its live
      // rows and both together stay within `mergeBytes`, merge them. Each run of segments below a
      // third of the limit then more than halves from one segment to the next, so many small adds
      // leave O(log rows) segments, each row is rewritten O(log rows) times, and segments past the
      // limit (a large streamed corpus) are never copied.
      await this.#upkeep('add', async () => {
        for (let s: Segment[]; (s = this.#segments).length > 1; ) {
          const [x, y] = s.slice(-2);
          const a = x.rows - x.deletedCount;
          const b = y.rows - y.deletedCount;
          if (a > 2 * b || (a + b) * this.cols * 4 > this.mergeBytes) break;
          await this.#compact('add', 'rows', [x, y]);
        }
      });
    });
  }

  /**
   * The new rows' handle made within the call by a `createCorpus` the backend declares ungated
   * (see {@link ungatedHandle}): the backend copies the caller's rows itself, with no snapshot of
   * the gate's first. `undefined` sends the add through the gate: a backend without it, a kernel
   * that throws (as it must for NaN or ±Infinity) or answers a handle the check refuses, or ids
   * refused here (so the rows are named first, as there).
   */
  #addUngated(x: Tensor, ids: readonly Id[] | undefined): [ResidentCorpus, Id[] | undefined] | undefined {
    if (!this.#kernels.copiesCorpus(this.storage)) return undefined;
    let own: Id[] | undefined;
    try {
      own = copyIds('add', ids);
      if (this.#withIds && own !== undefined) checkIdList('add', own, x.rows);
    } catch {
      return undefined;
    }
    const h = this.ungatedHandle('add', x);
    return h === undefined ? undefined : [h, own];
  }

  /**
   * Removes rows by id (by ordinal when the corpus has no ids). Unknown ids are ignored; an id
   * that is neither a string nor a finite number is `INVALID_TYPE` naming `ids[i]`. Resolves with
   * the number removed. Removing every row is refused: dispose the corpus instead.
   */
  remove(ids: readonly Id[]): Promise<number>;
  remove(ids: readonly Id[], ...more: unknown[]): Promise<number> {
    if (!Corpus.#is(this)) return notACorpus('remove');
    const extra = refuseExtra('remove', more, ['ids']);
    if (extra) return extra;
    let own: unknown[];
    try {
      if (!isArrayArg('remove', 'ids', ids))
        argError('INVALID_TYPE', 'remove', 'ids', `must be an array of ids, got ${describeType(ids)}.`);
      // Of another type, an id could never be held: refused (by idList) as a filter's list
      // refuses it, not ignored as an id the corpus does not hold. Ordinals of a corpus without
      // ids may number more than 2^24, and a list may repeat them: four times that at least.
      own = idList('remove', 'ids', ids, Math.max(4 * MAX_IDS, this.#next));
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#exclusive('remove', async () => {
      // Ordinals the corpus has given, sorted, each taken once: a Set of them threw a raw
      // RangeError past 2^24 entries (a corpus without ids may hold more rows than that).
      const ords: number[] = [];
      for (const id of own) {
        const ord = this.#byId ? this.#byId.get(id as Id) : typeof id === 'number' ? id : undefined;
        if (ord !== undefined && Number.isInteger(ord) && ord >= 0 && ord < this.#next) ords.push(ord);
      }
      const targets = Int32Array.from(ords).sort();
      let removed = 0;
      const located: [Segment, number, number][] = [];
      for (let t = 0; t < targets.length; t++) {
        if (t > 0 && targets[t] === targets[t - 1]) continue;
        const at = this.#locate(targets[t]);
        if (at && at[0].deleted[at[1]] === 0) located.push(at);
      }
      if (located.length >= this.#live) {
        argError(
          'INVALID_ARGUMENT',
          'remove',
          'ids',
          'would remove every row; dispose() the corpus instead.',
        );
      }
      for (const [s, j] of located) {
        s.deleted[j] = 1;
        if (s.alive) s.alive[j] = 0;
        s.deletedCount++;
        removed++;
        if (s.ids) this.#byId!.delete(s.ids[j]);
      }
      this.#live -= removed;
      await this.#upkeep('remove', async () => {
        const heavy = this.#segments.filter((s) => s.deletedCount > 0 && s.deletedCount * 2 >= s.rows);
        for (const s of heavy) await this.#compact('remove', 'ids', [s]);
      });
      return removed;
    });
  }

  /**
   * The corpus as bytes in the documented, versioned, checksummed format (see `corpus-file.ts`): the
   * live rows as stored (codes and scales, binary16 bits, and the float32 rows kept for re-ranking),
   * so a loaded copy searches bit for bit as this one.
   */
  save(): Promise<Uint8Array>;
  save(...more: unknown[]): Promise<Uint8Array> {
    if (!Corpus.#is(this)) return notACorpus('save');
    const extra = refuseExtra('save', more, []);
    if (extra) return extra;
    return this.#exclusive('save', async () => {
      const { stored } = await this.#gather('save', this.#segments);
      const { ids, ordinals } = this.#survivors(this.#segments);
      return writeCorpusFile({ ...stored, next: this.#next, ids, ordinals });
    });
  }

  /** Releases the resident data. Idempotent. */
  dispose(): void {
    if (!Corpus.#is(this)) throw notACorpusError('dispose');
    if (this.#disposed) return;
    this.#disposed = true;
    this.#onDispose(this);
    const release = () => {
      for (const s of this.#segments) disposeQuietly(s.handle);
      this.#segments = [];
      this.#scratch = new Float32Array(0);
    };
    if (this.#pending === 0) release();
    else void this.#queue.finally(release);
  }

  /** @internal Restores ordinals and the next ordinal from a file (used by `loadCorpus`). */
  restore(file: Pick<CorpusFile, 'rows' | 'ordinals' | 'next' | 'ids'>): void {
    const s = this.#segments[0];
    s.ordinals = Int32Array.from(file.ordinals);
    this.#next = file.next;
    if (this.#withIds) {
      s.ids = file.ids!;
      this.#byId!.clear();
      for (let j = 0; j < file.rows; j++) this.#byId!.set(file.ids![j], file.ordinals[j]);
    }
  }

  #append(
    handle: ResidentCorpus,
    n: number,
    ids: readonly Id[] | undefined,
    host: Float32Array | null,
    ordinals: Int32Array | null,
  ): void {
    const ord = ordinals ?? consecutive(this.#next, n);
    const own = this.#withIds && ids ? ids : null;
    if (own) {
      // The first rows' ids (ordinals 0, 1, ...) take the index their check built as it is.
      const index = checkedIndex.get(own);
      checkedIndex.delete(own);
      if (index && !ordinals && this.#next === 0 && this.#byId!.size === 0 && index.size === n)
        this.#byId = index;
      else for (let j = 0; j < n; j++) this.#byId!.set(own[j], ord[j]);
    }
    if (!ordinals) this.#next += n;
    this.#segments.push({
      handle,
      rows: n,
      ordinals: ord,
      ids: own,
      deleted: new Uint8Array(n),
      deletedCount: 0,
      host,
    });
    this.#live += n;
  }

  /**
   * Rebuilds `segs` (adjacent, in order) as one segment of their live rows, releasing the old
   * memory. The new segment is made from the old ones' stored representation (codes, scales, bits
   * and float rows as held), never from dequantised rows.
   */
  /**
   * Merging or compacting segments once an add or a remove has taken effect: upkeep, not the
   * change. A backend that fails at it, whatever it throws (an error of its own, a timeout, running
   * out of memory for the merged copy, a typed refusal such as `UNSUPPORTED` for a merged segment
   * larger than it takes), leaves the segments as they were, since each compaction swaps its
   * segment in only once it is whole: every answer stays the same, the call resolves (its change is
   * made: a retry would add twice or remove nothing) and the next add or remove that merges or
   * compacts tries again. A backend disposed meanwhile still fails the call (`DISPOSED`).
   */
  async #upkeep(op: string, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (e) {
      this.#checkHandles(op, e);
    }
  }

  async #compact(op: string, arg: string, segs: Segment[]): Promise<void> {
    let rows = 0;
    for (const s of segs) rows += s.rows - s.deletedCount;
    const at = this.#segments.indexOf(segs[0]);
    if (rows === 0) {
      // Nothing left to keep: drop the segments rather than hold an empty handle.
      this.#segments.splice(at, segs.length);
      for (const s of segs) disposeQuietly(s.handle);
      return;
    }
    let handle: ResidentCorpus | undefined;
    let host: Float32Array | null = null;
    if (this.#kernels.canMerge && !this.#keepsHost) {
      // The backend merges its own rows: one copy within it rather than each row copied out,
      // gathered and copied back (a quarter of the time of many small adds; see `mergeCorpora`).
      // A merge it refuses (`UNSUPPORTED`: segments in different memories) or fails at (a backend
      // that spread the reference's kernels over corpora of its own, whose merge then refused them
      // as foreign: its segments were never merged again) is gathered here instead; a backend
      // disposed meanwhile fails the call.
      const hs = segs.map((s) => s.handle);
      try {
        handle = await this.#kernels.mergeCorpora(
          op,
          arg,
          hs,
          segs.map((s) => s.deleted),
          rows,
        );
      } catch (e) {
        if (isCosineKitError(e, 'DISPOSED')) throw e;
      }
    }
    if (handle === undefined) {
      const { stored } = await this.#gather(op, segs);
      handle = await this.#rebuild(op, arg, stored);
      host = this.#keepsHost ? stored.exact : null;
    }
    const { ordinals, ids } = this.#survivors(segs);
    const merged: Segment = {
      handle,
      rows,
      ordinals,
      ids,
      deleted: new Uint8Array(rows),
      deletedCount: 0,
      host,
    };
    this.#segments.splice(at, segs.length, merged);
    for (const s of segs) disposeQuietly(s.handle);
  }

  /** The live rows of `segs`, in order, as one stored representation. */
  async #gather(op: string, segs: readonly Segment[]): Promise<{ stored: StoredCorpus }> {
    const parts: StoredCorpus[] = [];
    for (const s of segs) parts.push(await this.#storedOf(op, s));
    const stored =
      parts.length > 0
        ? gatherStored(parts, (p, j) => segs[p].deleted[j] === 0)
        : floatStored(new Float32Array(0), 0, this.cols);
    return { stored };
  }

  /** The ordinals and ids of the live rows of `segs`, in order. */
  #survivors(segs: readonly Segment[]): { ordinals: Int32Array; ids: Id[] | null } {
    // Into an Int32Array of the live count (a push a row, then a copy, was 9% of a save at d = 17).
    let n = 0;
    for (const s of segs) n += s.rows - s.deletedCount;
    const ordinals = new Int32Array(n);
    let at = 0;
    for (const s of segs)
      if (s.deletedCount === 0) {
        ordinals.set(s.ordinals.subarray(0, s.rows), at);
        at += s.rows;
      } else for (let j = 0; j < s.rows; j++) if (!s.deleted[j]) ordinals[at++] = s.ordinals[j];
    return { ordinals, ids: this.#withIds ? liveIds(segs) : null };
  }

  /** Whether segments keep their rows on the host (float32 on a backend that cannot give them back). */
  get #keepsHost(): boolean {
    return !this.#kernels.canExport && !this.#kernels.canRead;
  }

  /** A segment's stored representation: exported by the backend, else its float32 rows. */
  async #storedOf(op: string, s: Segment): Promise<StoredCorpus> {
    if (this.#kernels.canExport) return this.#kernels.exportCorpus(op, 'corpus', s.handle);
    const n = s.rows;
    const rows = s.host
      ? normalisedF32(s.host, n, this.cols)
      : await this.#kernels.readCorpus(op, 'corpus', s.handle);
    return floatStored(rows, n, this.cols);
  }

  /** A handle holding exactly `stored` (float32 rows are uploaded again where it cannot import). */
  async #rebuild(op: string, arg: string, stored: StoredCorpus): Promise<ResidentCorpus> {
    if (this.#kernels.canImport) return this.#kernels.importCorpus(op, arg, stored);
    return this.#kernels.createCorpus(
      op,
      arg,
      new Tensor(stored.exact!, stored.rows, stored.cols),
      this.#options,
    );
  }

  /** Refuses rows that would number past {@link MAX_ORDINAL} (ordinals are int32 and never reused). */
  #checkRoom(n: number): void {
    if (this.#next + n - 1 > MAX_ORDINAL) {
      argError(
        'INVALID_ARGUMENT',
        'add',
        'rows',
        `would number rows up to ${this.#next + n - 1}, past the largest ordinal ${MAX_ORDINAL} (ordinals are never reused); build a new corpus from this one's rows.`,
      );
    }
  }

  /**
   * The segment, row and segment index holding ordinal `ord`. Segments ascend, so the one whose first ordinal is
   * the last at or below `ord` is tried first (every id of a search result is found so); the others
   * are then scanned in case they do not.
   */
  #locate(ord: number): [Segment, number, number] | undefined {
    const segs = this.#segments;
    const at = segmentOf(segs, ord);
    const first = at >= 0 ? rowOf(segs[at], ord) : -1;
    if (first >= 0) return [segs[at], first, at];
    for (let i = 0; i < segs.length; i++) {
      const j = rowOf(segs[i], ord);
      if (j >= 0) return [segs[i], j, i];
    }
    return undefined;
  }

  #checkIds(op: string, ids: readonly Id[] | undefined, n: number): void {
    if (!this.#withIds) {
      if (ids !== undefined)
        argError('INVALID_ARGUMENT', op, 'ids', 'given, but this corpus was created without ids.');
      return;
    }
    if (ids === undefined)
      argError('INVALID_ARGUMENT', op, 'ids', 'is required: this corpus was created with ids.');
    checkIdList(op, ids, n, this.#byId!);
  }

  #idsOf(indices: Int32Array): Id[] | undefined {
    if (!this.#withIds) return undefined;
    const segs = this.#segments;
    const out: Id[] = new Array(indices.length);
    // One segment numbered 0, 1, ... (a corpus made at once): an ordinal is its row, found without
    // a search (a search per hit made the ids of 1000 queries x k = 1000 cost 0.6x the search).
    if (segs.length === 1 && isIdentity(segs[0].ordinals)) {
      const ids = segs[0].ids!;
      for (let i = 0; i < indices.length; i++) out[i] = ids[indices[i]];
      return out;
    }
    for (let i = 0; i < indices.length; i++) {
      const o = indices[i];
      const at = segmentOf(segs, o);
      let s = segs[at];
      let j = rowOf(s, o);
      if (j < 0) [s, j] = this.#locate(o)!;
      out[i] = s.ids![j];
    }
    return out;
  }

  /**
   * Runs `body` after the calls queued before it. With `signal` (a read that writes into nothing
   * of the caller's), an abort rejects the call with `ABORTED` at once, even while a kernel runs:
   * the body goes on until its kernel settles and stops at its next step, and the calls queued
   * after it wait for that (a kernel the kit abandons must not find its corpus changed under it),
   * so a kernel that never settles holds the corpus until the kit's timeout.
   */
  #exclusive<T>(op: string, body: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (this.#disposed) {
      return Promise.reject(argErrorOf('DISPOSED', op, 'corpus', 'was disposed; create a new corpus.'));
    }
    this.#pending++;
    const run = this.#queue
      .then(async () => {
        this.#checkHandles(op);
        try {
          return await body();
        } catch (e) {
          // A backend disposed under a running call fails it as its engine can (a dropped table, a
          // destroyed buffer, its own DISPOSED naming 'backend', an argument no corpus method
          // takes): that is the corpus disposed with it, named so.
          if (isCosineKitError(e, 'BACKEND_ERROR') || isCosineKitError(e, 'DISPOSED'))
            this.#checkHandles(op, e);
          throw e;
        }
      })
      .finally(() => {
        this.#pending--;
      });
    this.#queue = run.catch(() => undefined);
    return signal ? orAbort(op, run, signal) : run;
  }

  /**
   * Refuses the call when a segment's handle was disposed by its backend (`backend.dispose()`
   * disposes the corpora it holds): every method, `remove` and `add` included, is then `DISPOSED`
   * naming the corpus, as its searches are (a remove once succeeded on such a corpus).
   */
  #checkHandles(op: string, cause?: unknown): void {
    for (const s of this.#segments)
      if (handleDisposed(op, s.handle))
        argError(
          'DISPOSED',
          op,
          'corpus',
          `was disposed with its backend '${s.handle.backend}' (backend.dispose(), or a GPU device the backend lost); create a new corpus on a live kit.`,
          cause,
        );
  }

  /** Admits `queries` now (the snapshot rule), then queues `body` behind earlier work. */
  #run<T>(
    op: string,
    queries: TensorInput,
    body: (q: Tensor) => Promise<T>,
    signal?: AbortSignal,
  ): Promise<T> {
    if (this.#disposed) return this.#exclusive(op, () => body(undefined as never));
    let q: Tensor;
    const lease = new Lease();
    try {
      const raw = toTensor(queries, op, 'queries');
      checkSameCols(op, 'corpus', this, 'queries', raw);
      q = admit(raw === queries ? queries : raw, op, 'queries', lease).tensor;
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#exclusive(
      op,
      async () => {
        try {
          const r = await body(q);
          // Any array of the answer on a pooled snapshot buffer stays out of the pool (a backend may
          // answer in a view over the queries it was handed, indices as well as scores).
          if (r instanceof SearchResult) lease.release(r.scores, r.indices);
          else lease.release(r instanceof Tensor ? r.data : null);
          return r;
        } catch (e) {
          if (!isCosineKitError(e, 'BACKEND_ERROR')) lease.release();
          throw e;
        }
      },
      signal,
    );
  }
}

/**
 * `q`'s rows as a plain matrix object, each field read once now: what an ungated kernel is handed,
 * so no getter of a caller's subclass runs inside the kernel.
 */
function plainView(q: Tensor): { data: Float32Array; rows: number; cols: number } | undefined {
  const m = { data: q.data, rows: q.rows, cols: q.cols };
  // What a getter answers this time must still be the rows checked: else the gated way.
  return m.data instanceof Float32Array && m.data.length === m.rows * m.cols ? m : undefined;
}

/**
 * `n` ordinals from `first` on. `Int32Array.from({ length: n }, fn)` cost about 40 ns a row, most of
 * building a corpus of short rows (4M x 1: 77% of `kit.corpus` on wasm; 1M x 96: about a quarter),
 * and of every `add` (a probe); a loop costs a few.
 */
function consecutive(first: number, n: number): Int32Array {
  const ord = new Int32Array(n);
  for (let j = 0; j < n; j++) ord[j] = first + j;
  return ord;
}

/**
 * The segment of `segs` (ascending) that should hold ordinal `ord`: the last whose first ordinal is
 * at or below it (0 when none is; -1 when there are no segments).
 */
function segmentOf(segs: readonly Segment[], ord: number): number {
  let lo = 0;
  let hi = segs.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (segs[mid].rows > 0 && segs[mid].ordinals[0] <= ord) lo = mid;
    else hi = mid - 1;
  }
  return hi < 0 ? -1 : lo;
}

/** The row of `s` holding ordinal `ord` (its ordinals ascend), or -1. */
function rowOf(s: Segment, ord: number): number {
  const o = s.ordinals;
  if (o.length === 0 || ord < o[0] || ord > o[o.length - 1]) return -1;
  // A segment numbered without gaps (rows added at once, none merged away) holds it at its offset.
  const g = ord - o[0];
  if (o[g] === ord) return g;
  let lo = 0;
  let hi = o.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (o[mid] === ord) return mid;
    if (o[mid] < ord) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/**
 * The typed error of a corpus method or getter used without its corpus: detached (`const { search }
 * = corpus`), or on a Proxy of one or an object made from one, which lack its private fields (a raw
 * TypeError escaped from the getters).
 */
function notACorpusError(op: string): Error {
  return argErrorOf(
    'INVALID_TYPE',
    op,
    'this',
    `is not a corpus (a Proxy of one, or an object made from one, is not either): ${
      op === 'rows' || op === 'disposed'
        ? `read it on the corpus itself (corpus.${op}).`
        : `call it on one (corpus.${op}(...)), or bind it (corpus.${op}.bind(corpus)).`
    }`,
  );
}

/** {@link notACorpusError} as the rejected promise a corpus method answers with. */
function notACorpus(op: string): Promise<never> {
  return Promise.reject(notACorpusError(op));
}

/** Segment `s`'s live rows as a mask (1 live, 0 removed), made once and kept (see `Segment.alive`). */
function aliveOf(s: Segment): Uint8Array {
  if (!s.alive) {
    const alive = new Uint8Array(s.rows);
    for (let j = 0; j < s.rows; j++) alive[j] = 1 - s.deleted[j];
    s.alive = alive;
  }
  return s.alive;
}

/** The ids of the live rows of `segs` (segments of a corpus with ids), in order. */
function liveIds(segs: readonly Segment[]): Id[] {
  const out: Id[] = [];
  for (const s of segs) for (let j = 0; j < s.rows; j++) if (!s.deleted[j]) out.push(s.ids![j]);
  return out;
}

/** A private copy of a caller's id list (the snapshot rule), after checking it is an array. */
export function copyIds(op: string, ids: readonly Id[] | undefined, name = 'ids'): Id[] | undefined {
  if (ids === undefined) return undefined;
  if (!isArrayArg(op, name, ids))
    argError('INVALID_TYPE', op, name, `must be an array of numbers or strings, got ${describeType(ids)}.`);
  return idList(op, name, ids);
}

/**
 * Validates a list of ids: right length, numbers or strings, unique, not already present. `name`
 * is the argument's name in errors (`ids`, or a stream chunk's `source[i].ids`).
 */
export function checkIdList(
  op: string,
  ids: readonly Id[],
  n: number,
  existing?: Map<Id, number>,
  name = 'ids',
): void {
  if (!isArrayArg(op, name, ids))
    argError('INVALID_TYPE', op, name, 'must be an array of numbers or strings.');
  if (ids.length !== n) argError('SHAPE_MISMATCH', op, name, `has ${ids.length} ids for ${n} rows.`);
  // Checked before any id is hashed: past the limit, Map.set threw a raw RangeError, after the
  // backend had made the rows' corpus (kept, unreachable) and with some of the ids already taken.
  const held = existing?.size ?? 0;
  if (n > MAX_IDS - held) tooManyIds(op, name, n, held);
  const seen = new Map<Id, number>();
  for (let i = 0; i < n; i++) {
    const id = ids[i];
    if (typeof id !== 'string' && !(typeof id === 'number' && Number.isFinite(id))) {
      argError('INVALID_TYPE', op, `${name}[${i}]`, 'must be a finite number or a string.');
    }
    const held = seen.size;
    if (seen.set(id, i).size === held || existing?.has(id))
      argError('INVALID_ARGUMENT', op, `${name}[${i}]`, `repeats the id ${JSON.stringify(id)}.`);
  }
  if (!existing) checkedIndex.set(ids, seen);
}

/**
 * Each list {@link checkIdList} passed (without existing ids), with its ids' positions: the first
 * rows of a corpus adopt it as their id index rather than hash every id a second time. Taken
 * (and dropped) when the list's rows are appended; a list never appended is dropped with it.
 */
const checkedIndex = new WeakMap<readonly Id[], Map<Id, number>>();

/**
 * Whether a backend's corpus handle says it was disposed; a `disposed` getter that throws (a
 * third-party handle's) is that backend failing, `BACKEND_ERROR`, not a raw error from a search.
 */
function handleDisposed(op: string, h: ResidentCorpus): boolean {
  try {
    return !!h.disposed;
  } catch (e) {
    let backend = 'a backend';
    try {
      backend = `backend ${valueText(h.backend)}`;
    } catch {
      // Its name cannot be read either.
    }
    return argError(
      'BACKEND_ERROR',
      op,
      'corpus',
      `is held by ${backend}, whose corpus handle cannot say whether it was disposed: ${errorText(e)}`,
      e,
    );
  }
}

/** @internal What {@link Corpus.streamParts} hands a streamed save. */
export interface CorpusParts {
  rows: number;
  cols: number;
  storage: CorpusStorage;
  next: number;
  /** Of the live rows, in order. */
  ordinals: Int32Array;
  ids: Id[] | null;
  segments: number;
  /** Segment `i`'s live rows as stored. */
  read(i: number): Promise<StoredCorpus>;
}

/** Per segment: the allowed rows (1) and how many; `passing` is their total. */
/** Refuses a filter's mask of `length` bytes for a corpus of `live` rows. */
function maskFits(op: string, length: number, live: number): void {
  if (length !== live)
    argError(
      'SHAPE_MISMATCH',
      op,
      'options.filter.mask',
      `has ${length} bytes, but the corpus has ${live} live rows (one byte per row).`,
    );
}

/**
 * The ones in `m`, a mask of bytes 0 or 1 that starts its buffer: summed four at a time, the
 * multiply adding a word's bytes into its top byte.
 */
function countOnes(m: Uint8Array): number {
  let c = 0;
  const w = new Uint32Array(m.buffer, 0, m.length >>> 2);
  for (let j = 0; j < w.length; j++) c += Math.imul(w[j], 0x01010101) >>> 24;
  for (let j = m.length & ~3; j < m.length; j++) c += m[j];
  return c;
}

interface Masks {
  masks: Uint8Array[];
  counts: number[];
  passing: number;
}

/** Query rows an abortable call's step takes at least (see {@link stepQueries}). */
const STEP_QUERIES = 16;
/** Query rows a step takes where they stay within {@link STEP_MAX_WORK} (see {@link stepQueries}). */
const STEP_QUERIES_WIDE = 32;
/** Multiply-adds up to which a step takes {@link STEP_QUERIES_WIDE} queries: about 1 s on one thread. */
const STEP_MAX_WORK = 2 ** 34;

/**
 * Query rows per step of an abortable call of `queries` rows against `work` values (live rows x
 * width): about 2^26 multiply-adds per kernel call, and never fewer than {@link STEP_QUERIES}, or
 * {@link STEP_QUERIES_WIDE} where those stay within {@link STEP_MAX_WORK}. Few queries a step read
 * the whole corpus from memory for each few and lose the kernels' blocking of many: one query a
 * step made a search of 64 x 200,000 x 384 2-3.6x slower; a floor of 8 still cost 1.35x (search)
 * and 1.43x (similarity) at 64 x 200,000 x 1536 on wasm, one thread, where 16 cost 1.08x and 1.12x
 * and 32 cost 1.05x and 1.00x; with this rule (32 there) a second run gave 1.01x and 1.05x
 * (2026-12-07, medians of 5 interleaved rounds each). A search, and a
 * similarity without `out`, reject as soon as the signal fires whatever the step; the step bounds
 * the work done after an abort, and how soon a similarity into `out` or a stream sees it.
 * @internal
 */
export function stepQueries(work: number, queries: number): number {
  const w = Math.max(1, work);
  const floor = STEP_QUERIES_WIDE * w <= STEP_MAX_WORK ? STEP_QUERIES_WIDE : STEP_QUERIES;
  const rows = Math.max(Math.floor(2 ** 26 / w), floor);
  return Math.max(1, Math.min(queries, rows));
}

/**
 * Lets timers and events run between the steps of an abortable call: a synchronous kernel resolves
 * in a microtask, so without this an `abort()` from a timer or a click could never be seen. A
 * macrotask as short as the platform has: `setImmediate` (Node; each turn of its loop runs the
 * timers due), else a message to itself (browsers; not `scheduler.yield()`, whose continuation
 * goes before other tasks, so a worker saw its caller's abort message only after the whole call);
 * `setTimeout(0)` waits at least 1 ms in Node and 4 ms once nested in browsers, per step.
 */
export function pause(): Promise<void> {
  const g = globalThis as {
    setImmediate?: (f: () => void) => unknown;
  };
  if (typeof g.setImmediate === 'function') return new Promise((resolve) => g.setImmediate!(resolve));
  if (typeof MessageChannel === 'function') {
    const ch = new MessageChannel();
    return new Promise((resolve) => {
      ch.port1.onmessage = () => {
        ch.port1.close();
        resolve();
      };
      ch.port2.postMessage(null);
    });
  }
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Rows [i0, i1) of `q` as a view (kernels do not keep their inputs). */
function sliceRows(q: Tensor, i0: number, i1: number): Tensor {
  return new Tensor(q.data.subarray(i0 * q.cols, i1 * q.cols), i1 - i0, q.cols);
}

/** The listed rows of `q`, copied into one tensor. */
function pickTensorRows(q: Tensor, rows: number[]): Tensor {
  const m = pickRows(q, rows);
  return new Tensor(m.data, m.rows, m.cols);
}

/** A segment's search result with its rows as the corpus's ordinals (a copy of the indices). */
function asOrdinals(r: TopKResult, s: Segment): TopKResult {
  const indices = new Int32Array(r.indices.length);
  for (let t = 0; t < indices.length; t++) indices[t] = s.ordinals[r.indices[t]];
  return { queries: r.queries, k: r.k, indices, scores: r.scores };
}

/**
 * The best `k` of each query among `runs` (each best first, ties to the lower ordinal, and
 * together at least `k` a query), ties to the lower ordinal: a merge of the runs' heads, `k log
 * runs` steps a query. Pushing every run's rows through one selection cost `runs x k log k`: at
 * k = 100,000 over 5 segments, 5.6x the search of one segment.
 */
function mergeRuns(runs: readonly TopKResult[], queries: number, k: number): TopKResult {
  const indices = new Int32Array(queries * k);
  const scores = new Float32Array(queries * k);
  const m = runs.length;
  const heap = new Int32Array(m);
  const at = new Int32Array(m);
  for (let i = 0; i < queries; i++) {
    /** Whether run a's head ranks before run b's. */
    const before = (a: number, b: number): boolean => {
      const ra = runs[a];
      const rb = runs[b];
      const sa = ra.scores[i * ra.k + at[a]];
      const sb = rb.scores[i * rb.k + at[b]];
      return sa > sb || (sa === sb && ra.indices[i * ra.k + at[a]] < rb.indices[i * rb.k + at[b]]);
    };
    const down = (n: number, p: number): void => {
      for (;;) {
        let c = 2 * p + 1;
        if (c >= n) return;
        if (c + 1 < n && before(heap[c + 1], heap[c])) c++;
        if (!before(heap[c], heap[p])) return;
        const t = heap[c];
        heap[c] = heap[p];
        heap[p] = t;
        p = c;
      }
    };
    let n = 0;
    for (let r = 0; r < m; r++) {
      at[r] = 0;
      if (runs[r].k > 0) heap[n++] = r;
    }
    for (let p = (n >> 1) - 1; p >= 0; p--) down(n, p);
    for (let t = 0; t < k && n > 0; t++) {
      const r = heap[0];
      const run = runs[r];
      indices[i * k + t] = run.indices[i * run.k + at[r]];
      scores[i * k + t] = run.scores[i * run.k + at[r]];
      if (++at[r] === run.k) heap[0] = heap[--n];
      down(n, 0);
    }
  }
  return { queries, k, indices, scores };
}

/** Query blocks' results, one after the other. */
function concatResults(parts: TopKResult[], k: number): TopKResult {
  const queries = parts.reduce((a, p) => a + p.queries, 0);
  const indices = new Int32Array(queries * k);
  const scores = new Float32Array(queries * k);
  let at = 0;
  for (const p of parts) {
    indices.set(p.indices, at);
    scores.set(p.scores, at);
    at += p.indices.length;
  }
  return { queries, k, indices, scores };
}

function isIdentity(o: Int32Array): boolean {
  return o.length === 0 || (o[0] === 0 && o[o.length - 1] === o.length - 1);
}

/** float32 rows as a stored representation. */
function floatStored(exact: Float32Array, rows: number, cols: number): StoredCorpus {
  return { rows, cols, storage: 'float32', rerank: 0, exact, half: null, codes: null, scales: null };
}

/** Floats of a corpus's similarity scratch (4 MiB): a band of queries against its largest segment. */
const SCRATCH_FLOATS = 2 ** 20;

/** The rows of `runs` ([start, end) pairs), one by one. */
function liveColumns(runs: readonly number[]): Int32Array {
  let n = 0;
  for (let r = 0; r < runs.length; r += 2) n += runs[r + 1] - runs[r];
  const out = new Int32Array(n);
  for (let r = 0, t = 0; r < runs.length; r += 2) for (let j = runs[r]; j < runs[r + 1]; j++) out[t++] = j;
  return out;
}

/** Queries per band of a segment of `rows` rows: its cosines fit the scratch, one query at least. */
function bandOf(q: Tensor, rows: number): number {
  return Math.max(1, Math.min(q.rows, Math.floor(SCRATCH_FLOATS / rows)));
}

/** Segment `s`'s runs of consecutive live rows, as [start, end) pairs. */
function liveRuns(s: Segment): number[] {
  if (s.deletedCount === 0) return [0, s.rows];
  const runs: number[] = [];
  for (let j = 0; j < s.rows; ) {
    while (j < s.rows && s.deleted[j]) j++;
    const a = j;
    while (j < s.rows && !s.deleted[j]) j++;
    if (j > a) runs.push(a, j);
  }
  return runs;
}
