import { checkK, checkSameCols } from './check.js';
import type { CorpusOptions, CorpusStorage, ResidentCorpus, StoredCorpus } from './contract.js';
import { type CorpusFile, encodeCorpusFile } from './corpus-file.js';
import { argError, argErrorOf, isCosineKitError } from './errors.js';
import { admit, Lease } from './gate.js';
import type { CheckedKernels } from './guard.js';
import { TopKSelector } from './kernels/top-k-selector.js';
import { SearchResult } from './search-result.js';
import { gatherStored, MAX_ORDINAL, normalisedF32 } from './stored.js';
import { describeType, Tensor, type TensorInput, toTensor } from './tensor.js';

/** A caller's id for a corpus row. */
export type Id = number | string;

/** Options of {@link CosineKit.corpus}. */
export interface CorpusCreateOptions extends CorpusOptions {
  /** One id per row, returned with search results; unique. Default: the row's ordinal (0, 1, ...). */
  ids?: readonly Id[];
}

/** A block of rows resident on the backend, added together. */
interface Segment {
  handle: ResidentCorpus;
  /** Ordinal of each stored row; ascending, and ascending across segments. */
  ordinals: Int32Array;
  /** 1 where the row was removed. */
  deleted: Uint8Array;
  deletedCount: number;
  /**
   * The rows as given, for float32 corpora on backends without `readCorpus` or `exportCorpus`
   * (needed to save and compact). Quantised corpora live only on backends that export their stored
   * representation, so nothing quantised is ever kept or rebuilt from here.
   */
  host: Float32Array | null;
}

/** Segments beyond this are merged into one on the next `add`. */
const MAX_SEGMENTS = 8;

/**
 * A corpus resident on a backend: search it as often as needed, add and remove rows, save it, and
 * release it with `dispose()`.
 *
 * Rows keep the ordinal they were added with (0, 1, 2, ... across `add` calls); search results
 * report ordinals as `indices`, and the caller's ids as `ids` when ids were given. Removed rows are
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
  /** Ordinal -> the caller's id, for live rows only. */
  #ids: Map<number, Id> | null;
  #byId: Map<Id, number> | null;
  #next = 0;
  #live = 0;
  #queue: Promise<unknown> = Promise.resolve();
  #pending = 0;
  #disposed = false;

  /** @internal Made by {@link CosineKit.corpus} and {@link CosineKit.loadCorpus}. */
  constructor(
    first: ResidentCorpus,
    kernels: CheckedKernels,
    options: CorpusCreateOptions,
    host: Float32Array | null,
    onDispose: (c: Corpus) => void,
  ) {
    this.cols = first.cols;
    this.backend = first.backend;
    this.storage = first.storage ?? 'float32';
    this.#kernels = kernels;
    this.#options = { storage: options.storage, rerank: options.rerank };
    this.#onDispose = onDispose;
    this.#ids = options.ids ? new Map() : null;
    this.#byId = options.ids ? new Map() : null;
    this.#append(first, options.ids, host, null);
  }

  /** Number of live rows. */
  get rows(): number {
    return this.#live;
  }

  /** True once `dispose()` was called. */
  get disposed(): boolean {
    return this.#disposed;
  }

  /** Top-k rows for each query row, best first, ties to the lower ordinal. */
  search(queries: TensorInput, k: number): Promise<SearchResult> {
    return this.#run('search', queries, async (q) => {
      checkK('search', k, this.#live);
      const segs = this.#segments;
      if (segs.length === 1 && segs[0].deletedCount === 0 && isIdentity(segs[0].ordinals)) {
        const r = await this.#kernels.corpusSearch('search', 'queries', segs[0].handle, q, k);
        return new SearchResult(r, this.#idsOf(r.indices));
      }
      const sel = new TopKSelector(q.rows, k);
      for (const s of segs) {
        const live = s.handle.rows - s.deletedCount;
        if (live === 0) continue;
        const kk = Math.min(s.handle.rows, k + s.deletedCount);
        const r = await this.#kernels.corpusSearch('search', 'queries', s.handle, q, kk);
        for (let i = 0; i < q.rows; i++) {
          for (let t = 0; t < kk; t++) {
            const local = r.indices[i * kk + t];
            if (s.deleted[local] === 0) sel.push(i, r.scores[i * kk + t], s.ordinals[local]);
          }
        }
      }
      const res = sel.result();
      return new SearchResult(res, this.#idsOf(res.indices));
    });
  }

  /** The `queries.rows x corpus.rows` matrix of cosines; columns are live rows in ordinal order. */
  similarity(queries: TensorInput): Promise<Tensor> {
    return this.#run('similarity', queries, async (q) => {
      const segs = this.#segments;
      if (segs.length === 1 && segs[0].deletedCount === 0) {
        const d = await this.#kernels.corpusMatrix('similarity', 'queries', segs[0].handle, q);
        return new Tensor(d, q.rows, this.#live);
      }
      const out = new Float32Array(q.rows * this.#live);
      let col = 0;
      for (const s of segs) {
        const n = s.handle.rows;
        const m = await this.#kernels.corpusMatrix('similarity', 'queries', s.handle, q);
        let c = col;
        for (let j = 0; j < n; j++) {
          if (s.deleted[j]) continue;
          for (let i = 0; i < q.rows; i++) out[i * this.#live + c] = m[i * n + j];
          c++;
        }
        col = c;
      }
      return new Tensor(out, q.rows, this.#live);
    });
  }

  /** Adds rows (with ids, if this corpus has ids). Resolves when they are searchable. */
  add(rows: TensorInput, ids?: readonly Id[]): Promise<void> {
    if (this.#disposed) return this.#exclusive('add', async () => undefined);
    let t: Tensor;
    let own: Id[] | undefined;
    try {
      const raw = toTensor(rows, 'add', 'rows');
      checkSameCols('add', 'corpus', this, 'rows', raw);
      t = admit(raw === rows ? rows : raw, 'add', 'rows').tensor;
      own = copyIds('add', ids);
      // Format and repeats within the call now; against the corpus when the add runs (earlier
      // queued adds and removes change which ids exist).
      if (this.#ids && own !== undefined) checkIdList('add', own, t.rows);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#exclusive('add', async () => {
      this.#checkIds('add', own, t.rows);
      this.#checkRoom(t.rows);
      const handle = await this.#kernels.createCorpus('add', 'rows', t, this.#options);
      this.#append(handle, own, this.#keepsHost ? t.data : null, null);
      if (this.#segments.length > MAX_SEGMENTS) await this.#compact('add', [...this.#segments]);
    });
  }

  /**
   * Removes rows by id (by ordinal when the corpus has no ids). Unknown ids are ignored; resolves
   * with the number removed. Removing every row is refused: dispose the corpus instead.
   */
  remove(ids: readonly Id[]): Promise<number> {
    if (!Array.isArray(ids))
      return Promise.reject(
        argErrorOf('INVALID_TYPE', 'remove', 'ids', `must be an array of ids, got ${describeType(ids)}.`),
      );
    const own = Array.from(ids);
    return this.#exclusive('remove', async () => {
      const targets = new Set<number>();
      for (const id of own) {
        const ord = this.#byId ? this.#byId.get(id) : typeof id === 'number' ? id : undefined;
        if (ord !== undefined) targets.add(ord);
      }
      let removed = 0;
      const located: [Segment, number][] = [];
      for (const ord of targets) {
        const at = this.#locate(ord);
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
        s.deletedCount++;
        removed++;
        if (this.#ids) {
          const ord = s.ordinals[j];
          this.#byId!.delete(this.#ids.get(ord)!);
          this.#ids.delete(ord);
        }
      }
      this.#live -= removed;
      const heavy = this.#segments.filter((s) => s.deletedCount > 0 && s.deletedCount * 2 >= s.handle.rows);
      for (const s of heavy) await this.#compact('remove', [s]);
      return removed;
    });
  }

  /**
   * The corpus as bytes in the documented, versioned, checksummed format (see `corpus-file.ts`): the
   * live rows as stored (codes and scales, binary16 bits, and the float32 rows kept for re-ranking),
   * so a loaded copy searches bit for bit as this one.
   */
  save(): Promise<Uint8Array> {
    return this.#exclusive('save', async () => {
      const live = await this.#gather('save', this.#segments);
      return encodeCorpusFile({
        ...live.stored,
        next: this.#next,
        ids: this.#ids ? Array.from(live.ordinals, (o) => this.#ids!.get(o)!) : null,
        ordinals: live.ordinals,
      });
    });
  }

  /** Releases the resident data. Idempotent. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#onDispose(this);
    const release = () => {
      for (const s of this.#segments) s.handle.dispose();
      this.#segments = [];
    };
    if (this.#pending === 0) release();
    else void this.#queue.finally(release);
  }

  /** @internal Restores ordinals and the next ordinal from a file (used by `loadCorpus`). */
  restore(file: CorpusFile): void {
    const s = this.#segments[0];
    s.ordinals = Int32Array.from(file.ordinals);
    this.#next = file.next;
    if (this.#ids) {
      this.#ids.clear();
      this.#byId!.clear();
      for (let j = 0; j < file.rows; j++) {
        this.#ids.set(file.ordinals[j], file.ids![j]);
        this.#byId!.set(file.ids![j], file.ordinals[j]);
      }
    }
  }

  #append(
    handle: ResidentCorpus,
    ids: readonly Id[] | undefined,
    host: Float32Array | null,
    ordinals: Int32Array | null,
  ): void {
    const n = handle.rows;
    const ord = ordinals ?? Int32Array.from({ length: n }, (_, j) => this.#next + j);
    if (this.#ids && ids) {
      for (let j = 0; j < n; j++) {
        this.#ids.set(ord[j], ids[j]);
        this.#byId!.set(ids[j], ord[j]);
      }
    }
    if (!ordinals) this.#next += n;
    this.#segments.push({ handle, ordinals: ord, deleted: new Uint8Array(n), deletedCount: 0, host });
    this.#live += n;
  }

  /**
   * Rebuilds `segs` (adjacent, in order) as one segment of their live rows, releasing the old
   * memory. The new segment is made from the old ones' stored representation (codes, scales, bits
   * and float rows as held), never from dequantised rows.
   */
  async #compact(op: string, segs: Segment[]): Promise<void> {
    const { stored, ordinals } = await this.#gather(op, segs);
    const at = this.#segments.indexOf(segs[0]);
    if (stored.rows === 0) {
      // Nothing left to keep: drop the segments rather than hold an empty handle.
      this.#segments.splice(at, segs.length);
      for (const s of segs) s.handle.dispose();
      return;
    }
    const handle = await this.#rebuild(op, stored);
    const merged: Segment = {
      handle,
      ordinals,
      deleted: new Uint8Array(stored.rows),
      deletedCount: 0,
      host: this.#keepsHost ? stored.exact : null,
    };
    this.#segments.splice(at, segs.length, merged);
    for (const s of segs) s.handle.dispose();
  }

  /** The live rows of `segs`, in order, as one stored representation, with their ordinals. */
  async #gather(
    op: string,
    segs: readonly Segment[],
  ): Promise<{ stored: StoredCorpus; ordinals: Int32Array }> {
    const parts: StoredCorpus[] = [];
    for (const s of segs) parts.push(await this.#storedOf(op, s));
    const ords: number[] = [];
    for (const s of segs) for (let j = 0; j < s.handle.rows; j++) if (!s.deleted[j]) ords.push(s.ordinals[j]);
    const stored =
      parts.length > 0
        ? gatherStored(parts, (p, j) => segs[p].deleted[j] === 0)
        : floatStored(new Float32Array(0), 0, this.cols);
    return { stored, ordinals: Int32Array.from(ords) };
  }

  /** Whether segments keep their rows on the host (float32 on a backend that cannot give them back). */
  get #keepsHost(): boolean {
    return !this.#kernels.canExport && !this.#kernels.canRead;
  }

  /** A segment's stored representation: exported by the backend, else its float32 rows. */
  async #storedOf(op: string, s: Segment): Promise<StoredCorpus> {
    if (this.#kernels.canExport) return this.#kernels.exportCorpus(op, 'corpus', s.handle);
    const n = s.handle.rows;
    const rows = s.host
      ? normalisedF32(s.host, n, this.cols)
      : await this.#kernels.readCorpus(op, 'corpus', s.handle);
    return floatStored(rows, n, this.cols);
  }

  /** A handle holding exactly `stored` (float32 rows are uploaded again where it cannot import). */
  async #rebuild(op: string, stored: StoredCorpus): Promise<ResidentCorpus> {
    if (this.#kernels.canImport) return this.#kernels.importCorpus(op, 'rows', stored);
    return this.#kernels.createCorpus(
      op,
      'rows',
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

  #locate(ord: number): [Segment, number] | undefined {
    for (const s of this.#segments) {
      const o = s.ordinals;
      if (o.length === 0 || ord < o[0] || ord > o[o.length - 1]) continue;
      let lo = 0;
      let hi = o.length - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (o[mid] === ord) return [s, mid];
        if (o[mid] < ord) lo = mid + 1;
        else hi = mid - 1;
      }
    }
    return undefined;
  }

  #checkIds(op: string, ids: readonly Id[] | undefined, n: number): void {
    if (!this.#ids) {
      if (ids !== undefined)
        argError('INVALID_ARGUMENT', op, 'ids', 'given, but this corpus was created without ids.');
      return;
    }
    if (ids === undefined)
      argError('INVALID_ARGUMENT', op, 'ids', 'is required: this corpus was created with ids.');
    checkIdList(op, ids, n, this.#byId!);
  }

  #idsOf(indices: Int32Array): Id[] | undefined {
    if (!this.#ids) return undefined;
    return Array.from(indices, (o) => this.#ids!.get(o)!);
  }

  #exclusive<T>(op: string, body: () => Promise<T>): Promise<T> {
    if (this.#disposed) {
      return Promise.reject(argErrorOf('DISPOSED', op, 'corpus', 'was disposed; create a new corpus.'));
    }
    this.#pending++;
    const run = this.#queue.then(body).finally(() => {
      this.#pending--;
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Admits `queries` now (the snapshot rule), then queues `body` behind earlier work. */
  #run<T>(op: string, queries: TensorInput, body: (q: Tensor) => Promise<T>): Promise<T> {
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
    return this.#exclusive(op, async () => {
      try {
        const r = await body(q);
        lease.release(r instanceof SearchResult ? r.scores : r instanceof Tensor ? r.data : null);
        return r;
      } catch (e) {
        if (!isCosineKitError(e, 'BACKEND_ERROR')) lease.release();
        throw e;
      }
    });
  }
}

/** A private copy of a caller's id list (the snapshot rule), after checking it is an array. */
export function copyIds(op: string, ids: readonly Id[] | undefined): Id[] | undefined {
  if (ids === undefined) return undefined;
  if (!Array.isArray(ids))
    argError('INVALID_TYPE', op, 'ids', `must be an array of numbers or strings, got ${describeType(ids)}.`);
  return Array.from(ids);
}

/** Validates a list of ids: right length, numbers or strings, unique, not already present. */
export function checkIdList(op: string, ids: readonly Id[], n: number, existing?: Map<Id, number>): void {
  if (!Array.isArray(ids)) argError('INVALID_TYPE', op, 'ids', 'must be an array of numbers or strings.');
  if (ids.length !== n) argError('SHAPE_MISMATCH', op, 'ids', `has ${ids.length} ids for ${n} rows.`);
  const seen = new Set<Id>();
  for (let i = 0; i < n; i++) {
    const id = ids[i];
    if (typeof id !== 'string' && !(typeof id === 'number' && Number.isFinite(id))) {
      argError('INVALID_TYPE', op, `ids[${i}]`, 'must be a finite number or a string.');
    }
    if (seen.has(id) || existing?.has(id))
      argError('INVALID_ARGUMENT', op, `ids[${i}]`, `repeats the id ${JSON.stringify(id)}.`);
    seen.add(id);
  }
}

function isIdentity(o: Int32Array): boolean {
  return o.length === 0 || (o[0] === 0 && o[o.length - 1] === o.length - 1);
}

/** float32 rows as a stored representation. */
function floatStored(exact: Float32Array, rows: number, cols: number): StoredCorpus {
  return { rows, cols, storage: 'float32', rerank: 0, exact, half: null, codes: null, scales: null };
}
