/**
 * Resident corpora and the fused search: normalised rows live in GPU buffers (split into blocks that
 * each fit one binding), as float32, as binary16 pairs or as int8 codes with per-row scales; a
 * search scores tiles of the corpus and keeps a running top-k per query on the device, so only Q x k
 * indices and scores come back (for k up to DEVICE_K; larger k selects on the host from score
 * tiles). Quantised corpora with re-ranking keep float32 rows beside the codes and rescore the
 * candidates on the device.
 */
import {
  argError,
  type CorpusOptions,
  type CorpusStorage,
  foreignCorpus,
  type Matrix,
  type ResidentCorpus,
  referenceKernels,
  resolveCorpusOptions,
  type StoredCorpus,
  type TopKResult,
  TopKSelector,
} from '@cosinekit/core/backend';
import { beyondLimits, type Engine, type Lease } from './engine.js';
import { halfRows } from './half.js';
import {
  encodeScores,
  rowLoops,
  rowPipeline,
  rowsPerBinding,
  SKINNY_MAX_ROWS,
  type StoredRows,
  tileOf,
} from './kernels.js';
import {
  BLOCK,
  clearSelectShader,
  mergeSelectShader,
  type RowFormat,
  rerankShader,
  rowGroups,
  rowStride,
  segmentSelectShader,
  storedBytes,
} from './wgsl.js';

/** The backend's name, on its corpora. */
export const WEBGPU_BACKEND_NAME = 'webgpu';

/** One binding's worth of rows: the stored rows, and the float32 rows a re-ranking corpus keeps. */
interface Block extends StoredRows {
  /** float32 rows kept for re-ranking (quantised storage with rerank > 0); else null. */
  readonly exact: Lease | null;
  readonly row0: number;
  readonly rows: number;
}

const FORMAT: Record<CorpusStorage, RowFormat> = { float32: 'f32', float16: 'f16', int8: 'i8' };

/** Score tiles hold at most this many cosines (64 MiB), whatever the binding limit. */
const TILE_FLOATS = 16 * 1024 * 1024;
/** Invocations the first selection pass aims for, splitting few queries' tiles into segments. */
const SELECT_PARALLELISM = 16384;
/**
 * Largest k selected on the device. Each insertion into a sorted list of k shifts up to k entries,
 * so the device's work grows as k^2; beyond this k, score tiles are read back and selected on the
 * host with core's TopKSelector (memory O(Q x k) plus one tile).
 */
export const DEVICE_K = 64;
/**
 * Stored components quantised on the host at a time: the reference's encoder works in float64,
 * so this bounds the host memory a quantised corpus costs while it is built (8 MiB).
 */
const ENCODE_COMPONENTS = 1 << 20;
/**
 * Loop iterations one selection invocation may spend, all loops together: llvmpipe counts every loop
 * iteration of an invocation against one limit (65,535) and silently leaves loops once it is spent,
 * which would drop candidates. On software adapters segments and tile widths are sized so that even
 * adversarial (ascending) scores stay under it; hardware gets a budget that only bounds one
 * invocation's run time.
 */
function loopBudget(engine: Engine): number {
  return engine.software ? 60_000 : 4_000_000;
}

export class WebGpuCorpus implements ResidentCorpus {
  readonly backend = WEBGPU_BACKEND_NAME;
  readonly storage: CorpusStorage;
  /** Candidates per hit re-ranked with the float32 rows (quantised storage); 0 for none. */
  readonly rerank: number;
  readonly rows: number;
  readonly cols: number;
  readonly engine: Engine;
  #blocks: Block[] | null;

  constructor(
    engine: Engine,
    blocks: Block[],
    rows: number,
    cols: number,
    storage: CorpusStorage,
    rerank: number,
    largestScale = 0,
  ) {
    this.engine = engine;
    this.#blocks = blocks;
    this.rows = rows;
    this.cols = cols;
    this.storage = storage;
    this.rerank = rerank;
    this.largestScale = largestScale;
    engine.resident.add(this);
  }

  /** int8 storage: the largest |row scale| (an imported corpus may hold negative ones) (its rows' stored scores are the least exact); else 0. */
  readonly largestScale: number;

  /** Calls running on the buffers now (see {@link use}). */
  #uses = 0;
  /** Set by dispose(): no new call starts; the buffers go when the last running one ends. */
  #disposed = false;

  get disposed(): boolean {
    return this.#disposed || this.#blocks === null;
  }

  /**
   * Runs `f` on the corpus's buffers, which stay alive until it settles even when dispose() is
   * called meanwhile: a call that started before dispose() finishes with its answer rather than
   * submitting work on destroyed buffers (a WebGPU validation error). `DISPOSED` naming `op` when
   * the corpus was disposed before the call.
   */
  async use<T>(op: string, f: (blocks: Block[]) => Promise<T>): Promise<T> {
    if (!this.usable) argError('DISPOSED', op, 'corpus', 'was disposed.');
    this.#uses++;
    try {
      return await f(this.#blocks!);
    } finally {
      if (--this.#uses === 0 && this.#disposed) this.release();
    }
  }

  /** Whether a call may run on it: not disposed, or disposed after a call claimed it (see {@link claim}). */
  get usable(): boolean {
    return this.#blocks !== null && (!this.#disposed || this.#claims > 0);
  }

  /** Claims made by {@link claim} and not yet released. */
  #claims = 0;

  /**
   * Claims the buffers from the moment a kernel is called, before the device is known to be ready,
   * so a dispose() made in the same tick leaves that call its answer as one made while it runs
   * does (it used to be refused with `DISPOSED`). Returns the release (idempotent). `DISPOSED`
   * naming `op` when the corpus was disposed before the call.
   */
  claim(op: string): () => void {
    if (this.disposed) argError('DISPOSED', op, 'corpus', 'was disposed.');
    this.#uses++;
    this.#claims++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#claims--;
      if (--this.#uses === 0 && this.#disposed) this.release();
    };
  }

  /** Destroys its buffers now (called once no call uses them, and by the engine's destruction). */
  release(): void {
    if (!this.#blocks) return;
    discardBlocks(this.engine, this.#blocks);
    this.#blocks = null;
    this.engine.resident.delete(this);
  }

  dispose(): void {
    this.#disposed = true;
    if (this.#uses === 0) this.release();
  }
}

function discardBlocks(engine: Engine, blocks: Block[]): void {
  for (const b of blocks) {
    engine.discard(b.lease);
    engine.discard(b.scales);
    engine.discard(b.exact);
  }
}

function own(engine: Engine, corpus: ResidentCorpus, op: string): WebGpuCorpus {
  if (corpus instanceof WebGpuCorpus && !corpus.usable) {
    argError('DISPOSED', op, 'corpus', 'was disposed.');
  }
  if (!(corpus instanceof WebGpuCorpus) || corpus.engine !== engine) {
    foreignCorpus(
      op,
      corpus instanceof WebGpuCorpus ? 'webgpu (another instance)' : corpus.backend,
      'webgpu',
    );
  }
  return corpus;
}

/** Rows per resident block: one binding, one buffer, for the stored rows and any float32 rows. */
function blockRows(engine: Engine, fmt: RowFormat, cols: number, exact: boolean): number {
  const bytes = Math.max(storedBytes(fmt, rowStride(fmt, cols)), exact ? 4 * cols : 0);
  const limit = Math.min(engine.limits.maxStorageBufferBindingSize, engine.limits.maxBufferSize);
  if (bytes > limit) {
    const which =
      engine.limits.maxBufferSize < engine.limits.maxStorageBufferBindingSize
        ? 'buffer size limit (maxBufferSize'
        : 'storage binding limit (maxStorageBufferBindingSize';
    beyondLimits(`a row of ${cols} values does not fit the ${which}, ${limit} bytes)`);
  }
  return Math.max(1, Math.min(Math.floor(limit / bytes), engine.maxGroups));
}

function checkStorage(storage: string, op: string, arg: string): CorpusStorage {
  if (storage !== 'float32' && storage !== 'float16' && storage !== 'int8') {
    argError('INVALID_ARGUMENT', op, arg, `must be 'float32', 'float16' or 'int8', got '${storage}'.`);
  }
  return storage;
}

export async function createCorpus(
  engine: Engine,
  x: Matrix,
  options?: CorpusOptions,
): Promise<WebGpuCorpus> {
  checkStorage(options?.storage ?? 'float32', 'createCorpus', 'options.storage');
  // Unset options mean what they mean everywhere (int8 re-ranks by default).
  const { storage, rerank } = resolveCorpusOptions(options);
  if (storage !== 'float32' && rerank > 0) rerankLoops(engine, 'createCorpus', 'options.rerank', x.cols);
  // Float32 rows are normalised by the row kernel, and every search's queries, whatever the
  // storage: past the loop limit a float16 or int8 corpus was made and then every search refused.
  queryLoops(engine, 'createCorpus', 'x', x.cols);
  if (storage === 'float16') {
    // Encoded on the host as the reference encodes (float64 normalisation, nearest binary16), a
    // slice of rows at a time.
    return fromStored(engine, x.rows, x.cols, storage, rerank, (r0, rows) => {
      const { half, exact } = halfRows(x.data, r0, rows, x.cols, rerank > 0);
      return { rows, cols: x.cols, storage, rerank, exact, half, codes: null, scales: null };
    });
  }
  if (storage === 'int8') {
    // Quantised on the host by the reference's own encoder, a slice of rows at a time, so that the
    // codes and scales are the reference's (and the wasm backend's) exactly.
    return fromStored(engine, x.rows, x.cols, storage, rerank, async (r0, rows) => {
      const part = { data: x.data.subarray(r0 * x.cols, (r0 + rows) * x.cols), rows, cols: x.cols };
      const ref = await referenceKernels.createCorpus(part, { storage, rerank });
      try {
        return await referenceKernels.exportCorpus!(ref);
      } finally {
        ref.dispose();
      }
    });
  }
  const per = blockRows(engine, 'f32', x.cols, true);
  const blocks: Block[] = [];
  try {
    const pipe = rowPipeline(engine, 'normalize', x.cols);
    for (let r0 = 0; r0 < x.rows; r0 += per) {
      const rows = Math.min(per, x.rows - r0);
      const raw = engine.upload(x.data.subarray(r0 * x.cols, (r0 + rows) * x.cols));
      const keep: Lease[] = [raw];
      try {
        const lease = engine.lease(rows * x.cols * 4);
        blocks.push({ lease, scales: null, exact: null, fmt: 'f32', ld: x.cols, row0: r0, rows });
        const [nx, ny] = engine.grid(rowGroups(rows, x.cols));
        const p = engine.params([rows, x.cols, nx, 0]);
        keep.push(p);
        const enc = engine.device.createCommandEncoder();
        engine.dispatch(enc, pipe, [raw, lease, p], nx, ny);
        // Waiting here lets the upload buffer go back to the pool before the next block.
        await engine.submitAndRead(enc, []);
      } finally {
        for (const l of keep) engine.release(l);
      }
    }
  } catch (e) {
    discardBlocks(engine, blocks);
    throw e;
  }
  return new WebGpuCorpus(engine, blocks, x.rows, x.cols, 'float32', 0);
}

/**
 * A corpus holding a stored representation as it is: `part(r0, rows)` hands the stored form of rows
 * [r0, r0 + rows), a slice at a time, and each slice is written into its block (rows padded to
 * whole 32-bit words for binary16 and int8).
 */
async function fromStored(
  engine: Engine,
  rows: number,
  cols: number,
  storage: CorpusStorage,
  rerankOption: number,
  part: (r0: number, rows: number) => Promise<StoredCorpus> | StoredCorpus,
): Promise<WebGpuCorpus> {
  const fmt = FORMAT[storage];
  const rerank = fmt === 'f32' ? 0 : rerankOption;
  const ld = rowStride(fmt, cols);
  // Every search takes its queries as float32 rows of `cols`, each within one binding: binary16 or
  // int8 rows (2 or 4 times smaller) past that made a corpus no search could use.
  const limit = Math.min(engine.limits.maxStorageBufferBindingSize, engine.limits.maxBufferSize);
  if (4 * cols > limit)
    beyondLimits(
      `a query row of ${cols} floats, as every search of this ${storage} corpus takes, does not fit one binding (${limit} bytes)`,
    );
  const per = blockRows(engine, fmt, cols, fmt === 'f32' || rerank > 0);
  const slice = Math.max(1, Math.floor(ENCODE_COMPONENTS / cols));
  const blocks: Block[] = [];
  let largest = 0;
  try {
    for (let b0 = 0; b0 < rows; b0 += per) {
      const n = Math.min(per, rows - b0);
      const block: Block = {
        lease: engine.lease(storedBytes(fmt, n * ld)),
        scales: fmt === 'i8' ? engine.lease(n * 4) : null,
        exact: fmt !== 'f32' && rerank > 0 ? engine.lease(n * cols * 4) : null,
        fmt,
        ld,
        row0: b0,
        rows: n,
      };
      blocks.push(block);
      for (let s0 = 0; s0 < n; s0 += slice) {
        const m = Math.min(slice, n - s0);
        const st = await part(b0 + s0, m);
        if (fmt === 'f32') engine.write(block.lease, s0 * cols * 4, st.exact!);
        else if (fmt === 'f16') engine.write(block.lease, s0 * ld * 2, padRows(st.half!, m, cols, ld));
        else {
          engine.write(block.lease, s0 * ld, padRows(st.codes!, m, cols, ld));
          engine.write(block.scales!, s0 * 4, st.scales!);
          for (let r = 0; r < m; r++) largest = Math.max(largest, Math.abs(st.scales![r]));
        }
        if (block.exact) engine.write(block.exact, s0 * cols * 4, st.exact!);
      }
    }
    // Surfaces any device error from the writes before the corpus is handed out.
    await engine.submitAndRead(engine.device.createCommandEncoder(), []);
  } catch (e) {
    discardBlocks(engine, blocks);
    throw e;
  }
  return new WebGpuCorpus(engine, blocks, rows, cols, storage, rerank, largest);
}

/** Rows of `cols` values laid out `ld` apart (zero padding), or `a` itself when they already are. */
function padRows<T extends Uint16Array | Int8Array>(a: T, rows: number, cols: number, ld: number): T {
  if (ld === cols) return a;
  const out = new (a.constructor as new (n: number) => T)(rows * ld);
  for (let r = 0; r < rows; r++) out.set(a.subarray(r * cols, (r + 1) * cols), r * ld);
  return out;
}

/** Rows `ld` apart back to rows of `cols`. */
function unpadRows<T extends Uint16Array | Int8Array>(a: T, rows: number, cols: number, ld: number): T {
  if (ld === cols) return a;
  const out = new (a.constructor as new (n: number) => T)(rows * cols);
  for (let r = 0; r < rows; r++) out.set(a.subarray(r * ld, r * ld + cols), r * cols);
  return out;
}

/** The stored representation, read back from the device bit for bit. */
export function exportCorpus(
  engine: Engine,
  corpus: ResidentCorpus,
  op = 'exportCorpus',
): Promise<StoredCorpus> {
  const c = own(engine, corpus, op);
  return c.use(op, (blocks) => exportBlocks(engine, c, blocks));
}

async function exportBlocks(engine: Engine, c: WebGpuCorpus, blocks: Block[]): Promise<StoredCorpus> {
  const fmt = FORMAT[c.storage];
  const d = c.cols;
  const n = c.rows * d;
  const ld = rowStride(fmt, d);
  const keepsExact = fmt === 'f32' || c.rerank > 0;
  const exact = keepsExact ? new Float32Array(n) : null;
  const half = fmt === 'f16' ? new Uint16Array(n) : null;
  const codes = fmt === 'i8' ? new Int8Array(n) : null;
  const scales = fmt === 'i8' ? new Float32Array(c.rows) : null;
  for (const b of blocks) {
    const reads = [{ buffer: b.lease.buffer, bytes: storedBytes(fmt, b.rows * ld) }];
    if (b.scales) reads.push({ buffer: b.scales.buffer, bytes: b.rows * 4 });
    if (b.exact) reads.push({ buffer: b.exact.buffer, bytes: b.rows * d * 4 });
    const got = await engine.submitAndRead(engine.device.createCommandEncoder(), reads);
    const at = b.row0 * d;
    if (fmt === 'f32') exact!.set(new Float32Array(got[0]), at);
    if (half) half.set(unpadRows(new Uint16Array(got[0]), b.rows, d, ld), at);
    if (codes) {
      codes.set(unpadRows(new Int8Array(got[0]), b.rows, d, ld), at);
      scales!.set(new Float32Array(got[1]), b.row0);
    }
    if (b.exact) exact!.set(new Float32Array(got[got.length - 1]), at);
  }
  return { rows: c.rows, cols: d, storage: c.storage, rerank: c.rerank, exact, half, codes, scales };
}

/** A corpus holding `stored` exactly: nothing normalised or quantised again. */
export function importCorpus(engine: Engine, stored: StoredCorpus): Promise<WebGpuCorpus> {
  const storage = checkStorage(stored.storage, 'importCorpus', 'stored.storage');
  const d = stored.cols;
  if (storage !== 'float32' && stored.rerank > 0) rerankLoops(engine, 'importCorpus', 'stored.rerank', d);
  queryLoops(engine, 'importCorpus', 'stored', d);
  const view = <T extends Float32Array | Uint16Array | Int8Array>(
    a: T | null,
    r0: number,
    rows: number,
    w: number,
  ) => (a ? (a.subarray(r0 * w, (r0 + rows) * w) as T) : null);
  return fromStored(engine, stored.rows, d, storage, stored.rerank, (r0, rows) => ({
    rows,
    cols: d,
    storage,
    rerank: stored.rerank,
    exact: view(stored.exact, r0, rows, d),
    half: view(stored.half, r0, rows, d),
    codes: view(stored.codes, r0, rows, d),
    scales: view(stored.scales, r0, rows, 1),
  }));
}

/**
 * Refuses, on a loop-limited adapter (llvmpipe), re-ranking rows of `d` floats: the re-rank kernel
 * counts one loop iteration per product and two per block of them (about 62,000 floats at any d,
 * where a search of float32 rows goes to about 63,000, or 254,000 when d is a multiple of 4). Run
 * when a re-ranked corpus is made or imported, so it is refused then, not at its first search.
 */
function rerankLoops(engine: Engine, op: string, arg: string, d: number): void {
  engine.loops(
    op,
    arg,
    d + 2 * Math.ceil(d / BLOCK) + 4,
    `re-ranking rows of ${d} floats (rerank: 0 searches them without)`,
  );
}

/**
 * Refuses, when a corpus is made, rows too long for the loop limit (llvmpipe only) of the row
 * kernel that normalises every search's queries, or of the tiled product a search of rows past the
 * few-query kernel's limit runs: such a corpus could never be searched. Rows of 1,023,937 to about
 * 1,364,928 floats passed the first and were made, then every search was refused.
 */
function queryLoops(engine: Engine, op: string, arg: string, d: number): void {
  engine.loops(op, arg, rowLoops('normalize', d), `rows of ${d} floats (each search normalises its queries)`);
  engine.loops(
    op,
    arg,
    Math.ceil(d / tileOf(engine).depth) + 4,
    `rows of ${d} floats (each search multiplies its queries by them in a tiled product)`,
  );
}

/** The value of binary16 bits (finite: stored rows are normalised). */
function halfValue(h: number): number {
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  const v = e === 0 ? m * 2 ** -24 : (1 + m / 1024) * 2 ** (e - 15);
  return h & 0x8000 ? -v : v;
}

/**
 * Query rows per chunk and corpus columns per score tile, within every limit. No query rows plan
 * chunks of one (none run, and the answer is empty, as on the reference): they were refused as
 * "k = 1 does not fit the storage binding limit".
 */
function plan(engine: Engine, queries: number, cols: number, k: number, maxTileCols: number) {
  const L = engine.limits;
  const bindFloats = Math.floor(L.maxStorageBufferBindingSize / 4);
  const side = tileOf(engine).wg * tileOf(engine).block;
  const maxSpan = L.maxComputeWorkgroupsPerDimension * side;
  const qc = Math.min(
    Math.max(1, queries),
    rowsPerBinding(engine, cols),
    Math.floor(bindFloats / Math.max(1, k)),
    engine.maxGroups,
    Math.floor((engine.maxGroups * 64) / Math.max(1, k)),
    maxSpan,
  );
  if (qc < 1) beyondLimits(`k = ${k} does not fit the storage binding limit`);
  const nc = Math.max(1, Math.min(maxTileCols, maxSpan, Math.floor(Math.min(bindFloats, TILE_FLOATS) / qc)));
  return { qc, nc };
}

async function normalizedQueries(
  engine: Engine,
  q: Matrix,
  r0: number,
  rows: number,
  keep: Lease[],
  enc: GPUCommandEncoder,
): Promise<Lease> {
  engine.loops('corpusSearch', 'queries', rowLoops('normalize', q.cols), `rows of ${q.cols} floats`);
  const raw = engine.upload(q.data.subarray(r0 * q.cols, (r0 + rows) * q.cols));
  keep.push(raw);
  const qn = engine.lease(rows * q.cols * 4);
  keep.push(qn);
  const [nx, ny] = engine.grid(rowGroups(rows, q.cols));
  const p = engine.params([rows, q.cols, nx, 0]);
  keep.push(p);
  engine.dispatch(enc, rowPipeline(engine, 'normalize', q.cols), [raw, qn, p], nx, ny);
  return qn;
}

export async function corpusSearch(
  engine: Engine,
  corpus: ResidentCorpus,
  queries: Matrix,
  k: number,
): Promise<TopKResult> {
  const c = own(engine, corpus, 'corpusSearch');
  return c.use('corpusSearch', (blocks) => search(engine, c, blocks, queries, k, null));
}

/**
 * corpusSearch among the rows whose `allow` byte is 1: the allow bits go to the device, where the
 * selection never takes a refused row, the one-pass scoring kernel never reads one, and score
 * tiles without an allowed row are not computed at all.
 */
export async function corpusSearchAllowed(
  engine: Engine,
  corpus: ResidentCorpus,
  queries: Matrix,
  k: number,
  allow: Uint8Array,
): Promise<TopKResult> {
  const c = own(engine, corpus, 'corpusSearchAllowed');
  const bits = new Uint32Array(Math.max(1, Math.ceil(c.rows / 32)));
  const prefix = new Int32Array(c.rows + 1);
  for (let j = 0; j < c.rows; j++) {
    const yes = allow[j] === 1;
    if (yes) bits[j >> 5] |= 1 << (j & 31);
    prefix[j + 1] = prefix[j] + (yes ? 1 : 0);
  }
  const mask = engine.upload(bits);
  try {
    return await c.use('corpusSearchAllowed', (blocks) =>
      search(engine, c, blocks, queries, k, { mask, allow, prefix }),
    );
  } finally {
    engine.release(mask);
  }
}

/** A filtered search's allowed rows: one bit per row on the device, the bytes and their running count on the host. */
interface Filter {
  readonly mask: Lease;
  readonly allow: Uint8Array;
  /** `prefix[j]`: allowed rows before row j. */
  readonly prefix: Int32Array;
}

/** Whether any row of [r0, r1) may be a candidate. */
function anyAllowed(filter: Filter | null, r0: number, r1: number): boolean {
  return filter === null || filter.prefix[r1] > filter.prefix[r0];
}

async function search(
  engine: Engine,
  c: WebGpuCorpus,
  blocks: Block[],
  queries: Matrix,
  k: number,
  filter: Filter | null,
): Promise<TopKResult> {
  if (c.rerank === 0) return select(engine, blocks, queries, k, filter);
  // Quantised scores pick the candidates; their float32 rows decide the order and the scores. The
  // pool is rerank x k rows, and at least all but one of what the device selects in one pass
  // (DEVICE_K): crowded rows' neighbours may rank below rerank x k by their quantised scores, and
  // re-scoring a few more rows costs little. One more row than the pool shows whether rows past it
  // tie its last: rows whose codes tie while their exact scores differ are all re-scored (the
  // lowest of them were taken, and the true best left out).
  const limit = filter ? filter.prefix[c.rows] : c.rows;
  const pool = Math.max(Math.min(limit, c.rerank * k), Math.min(limit, DEVICE_K - 1));
  const w0 = Math.min(limit, pool + 1);
  const d = queries.cols;
  const first = await select(engine, blocks, queries, w0, filter);
  const exact = await rescore(engine, blocks, queries, first.indices, w0);
  const bound = errorBound(c, d);
  const sel = new TopKSelector(queries.rows, k);
  const crowded: number[] = [];
  for (let q = 0; q < queries.rows; q++) {
    const at = q * w0;
    if (w0 >= limit) {
      // Every row (every allowed row) was selected and re-scored: all of them are candidates. The
      // pool's rows alone left the last out, unchecked, when the corpus was one row past the pool.
      for (let t = at; t < at + w0; t++) if (first.indices[t] >= 0) sel.push(q, exact[t], first.indices[t]);
      continue;
    }
    const m = throughTie(first.scores, at, pool, w0);
    if (m < w0) {
      if (crowds(first.scores[at + m], exact, at, m, k, bound)) crowded.push(q);
      else for (let t = at; t < at + m; t++) sel.push(q, exact[t], first.indices[t]);
      continue;
    }
    // The tie fills the selection: 32 times as many rows for this query, then every row.
    const one: Matrix = { data: queries.data.subarray(q * d, (q + 1) * d), rows: 1, cols: d };
    for (let w = Math.min(limit, 32 * w0); ; w = limit) {
      const more = await select(engine, blocks, one, w, filter);
      const n = throughTie(more.scores, 0, pool, w);
      if (n < w || w >= limit) {
        const ex = await rescore(engine, blocks, one, more.indices.subarray(0, n), n);
        if (n < w && crowds(more.scores[n], ex, 0, n, k, bound)) crowded.push(q);
        else for (let t = 0; t < n; t++) sel.push(q, ex[t], more.indices[t]);
        break;
      }
    }
  }
  const exactRows = crowded.length > 0 ? exactBlocks(blocks, d) : [];
  // Their neighbours may lie past the pool: the float32 rows the corpus keeps, scanned whole, in
  // groups the few-query kernel scores (as it scores one query alone: a group of more went to the
  // tiled product, whose sums round apart by an ulp, and near-ties flipped with the batch).
  for (let g0 = 0; g0 < crowded.length; g0 += SKINNY_MAX_ROWS) {
    const group = crowded.slice(g0, g0 + SKINNY_MAX_ROWS);
    const some: Matrix = {
      data: new Float32Array(group.length * d),
      rows: group.length,
      cols: d,
    };
    for (let i = 0; i < group.length; i++)
      some.data.set(queries.data.subarray(group[i] * d, (group[i] + 1) * d), i * d);
    const whole = await select(engine, exactRows, some, k, filter);
    group.forEach((q, i) => {
      for (let t = i * k; t < (i + 1) * k; t++)
        if (whole.indices[t] >= 0) sel.push(q, whole.scores[t], whole.indices[t]);
    });
  }
  return sel.result();
}

/** The float32 rows a re-ranking corpus keeps beside its stored ones, as blocks to score (rows of `cols`). */
function exactBlocks(blocks: readonly Block[], cols: number): Block[] {
  return blocks.map((b) => ({ ...b, lease: b.exact!, scales: null, fmt: 'f32', ld: cols }));
}

/**
 * Whether a query's neighbours may lie past its re-ranked candidates (crowded rows: tight clusters,
 * near-duplicates, whose scores differ by less than the stored ones' error): a row left out scores
 * at most `next` by its stored score, so its exact score is at most `next + bound`; where that
 * reaches the k-th best exact score among the `m` candidates at `at`, it could belong to the top k,
 * and the query is answered from the float32 rows, scanned whole. 500 rows in 7 directions, d = 8,
 * k = 5 took a direction whose 71 copies filled the pool and left the better one out. (An estimate
 * of the error from the candidates' own stored and exact scores, tried first, is too small where a
 * crowd's rows share their codes and so their errors.)
 */
function crowds(next: number, exact: Float32Array, at: number, m: number, k: number, bound: number): boolean {
  const best = Array.from(exact.subarray(at, at + m)).sort((a, b) => b - a);
  return next >= best[Math.min(k, m) - 1] - bound;
}

/**
 * How far a query's stored score of any row of `c` may lie from its float32 search score: int8
 * rounds each value to half its row's scale (`sqrt(d) * scale / 2` of a unit query at most,
 * Cauchy-Schwarz, the corpus's largest scale, with room for the quantiser's float32 steps, and
 * 2^-22 a value more: as far as a loaded file's codes may lie from its float32 rows), float16
 * to 11 significant bits (2^-11 of the unit row, 2^-25 below 2^-14; a loaded file's values may lie
 * `|x| (2^-11 + 2^-20) + 2^-24` from its float32 rows); both scores are float32 sums
 * on the device (d 2^-24 each, of at most 1.1), and 2^-20 more covers their rounding and a float32
 * tie.
 */
function errorBound(c: WebGpuCorpus, d: number): number {
  const stored =
    c.storage === 'float16'
      ? 2 ** -11 + 2 ** -20 + Math.sqrt(d) * 2 ** -24
      : Math.sqrt(d) * (c.largestScale * 0.5001 + 2 ** -22);
  return stored + 2.2 * d * 2 ** -24 + 2 ** -20;
}

/** How many of the `w` selected rows at `at` to re-score: the first `base`, and every row tying the last of them. */
function throughTie(scores: Float32Array, at: number, base: number, w: number): number {
  const edge = scores[at + base - 1];
  let m = base;
  while (m < w && scores[at + m] === edge) m++;
  return m;
}

/** The top k of every query among all stored rows (or the allowed ones), by the stored rows' scores. */
async function select(
  engine: Engine,
  blocks: Block[],
  queries: Matrix,
  k: number,
  filter: Filter | null,
): Promise<TopKResult> {
  const Q = queries.rows;
  const d = queries.cols;
  const indices = new Int32Array(Q * k);
  const scores = new Float32Array(Q * k);
  const maxBlock = Math.max(...blocks.map((b) => b.rows));
  if (k > DEVICE_K) return hostSelect(engine, blocks, queries, k, filter);
  const { qc, nc } = plan(engine, Q, d, k, maxBlock);
  const bindFloats = Math.floor(engine.limits.maxStorageBufferBindingSize / 4);
  const segPipe = filter
    ? engine.pipeline('select:segment:mask', () => segmentSelectShader(true))
    : engine.pipeline('select:segment', () => segmentSelectShader());
  const mergePipe = engine.pipeline('select:merge', mergeSelectShader);
  const clearPipe = engine.pipeline('select:clear', clearSelectShader);
  for (let q0 = 0; q0 < Q; q0 += qc) {
    const rows = Math.min(qc, Q - q0);
    // Segments per query: enough invocations to fill the device, few enough to fit one binding
    // and to keep a merge's worst case (segs x k insertions: a binary search, up to k shifts)
    // within the loop budget.
    const budget = loopBudget(engine) - k;
    const perInsert = k + Math.ceil(Math.log2(k + 1)) + 2;
    // A merge also spends, per segment list, the loops' own steps and exits: a few iterations per
    // candidate beyond the insertion, and two per list (counted short, one query merging 16,384
    // lists of ascending scores ran out of llvmpipe's loop limit and dropped the best rows).
    const perMerged = perInsert + 4;
    let segs = Math.max(
      1,
      Math.min(
        Math.ceil(nc / 32),
        Math.ceil(SELECT_PARALLELISM / rows),
        Math.floor(bindFloats / (rows * k)),
        Math.floor((engine.maxGroups * 64) / rows),
        Math.floor(budget / (k * perMerged + 2)),
      ),
    );
    // A segment's scan inserts up to segLen scores the same way.
    const width = Math.min(nc, segs * Math.max(32, Math.floor(budget / perInsert)));
    const segLen = Math.ceil(width / segs);
    segs = Math.ceil(width / segLen);
    const keep: Lease[] = [];
    try {
      const enc = engine.device.createCommandEncoder();
      const qn = await normalizedQueries(engine, queries, q0, rows, keep, enc);
      const rs = engine.lease(rows * k * 4);
      keep.push(rs);
      const ri = engine.lease(rows * k * 4);
      keep.push(ri);
      const cs = engine.lease(rows * segs * k * 4);
      keep.push(cs);
      const ci = engine.lease(rows * segs * k * 4);
      keep.push(ci);
      const tile = engine.lease(rows * width * 4);
      keep.push(tile);
      {
        const [nx, ny] = engine.grid(Math.ceil((rows * k) / 64));
        const p = engine.params([rows * k, nx, 0, 0]);
        keep.push(p);
        engine.dispatch(enc, clearPipe, [rs, ri, p], nx, ny);
      }
      for (const b of blocks) {
        for (let n0 = 0; n0 < b.rows; n0 += width) {
          const cols = Math.min(width, b.rows - n0);
          if (!anyAllowed(filter, b.row0 + n0, b.row0 + n0 + cols)) continue;
          const mask = filter ? { lease: filter.mask, row0: b.row0 } : undefined;
          encodeScores(engine, enc, qn, b, tile, rows, cols, d, n0, keep, mask);
          const tileSegs = Math.ceil(cols / segLen);
          const [sx, sy] = engine.grid(Math.ceil((rows * tileSegs) / 64));
          const sp = engine.params([rows, cols, k, tileSegs, segLen, b.row0 + n0, sx, 0]);
          keep.push(sp);
          const bound = [tile, cs, ci, sp];
          if (filter) bound.push(filter.mask);
          engine.dispatch(enc, segPipe, bound, sx, sy);
          const [mx, my] = engine.grid(Math.ceil(rows / 64));
          const mp = engine.params([rows, k, tileSegs, mx]);
          keep.push(mp);
          engine.dispatch(enc, mergePipe, [cs, ci, rs, ri, mp], mx, my);
        }
      }
      const [sb, ib] = await engine.submitAndRead(enc, [
        { buffer: rs.buffer, bytes: rows * k * 4 },
        { buffer: ri.buffer, bytes: rows * k * 4 },
      ]);
      scores.set(new Float32Array(sb), q0 * k);
      indices.set(new Int32Array(ib), q0 * k);
    } finally {
      for (const l of keep) engine.release(l);
    }
  }
  return { queries: Q, k, indices, scores };
}

/**
 * Exact scores of the candidates `indices` (`wide` per query) against the float32 rows a
 * re-ranking corpus keeps, computed on the device: Q x wide scores come back.
 */
async function rescore(
  engine: Engine,
  blocks: Block[],
  queries: Matrix,
  indices: Int32Array,
  wide: number,
): Promise<Float32Array> {
  const Q = queries.rows;
  const d = queries.cols;
  const out = new Float32Array(Q * wide);
  if (Q === 0) return out;
  const bindFloats = Math.floor(engine.limits.maxStorageBufferBindingSize / 4);
  const qc = Math.min(
    Q,
    rowsPerBinding(engine, d),
    engine.maxGroups,
    Math.floor(bindFloats / wide),
    Math.floor((engine.maxGroups * 64) / wide),
  );
  if (qc < 1) {
    // Named by the limit that binds (it blamed the storage binding for a workgroup limit too).
    const binding = Math.floor(bindFloats / wide) < 1;
    beyondLimits(
      `${wide} re-ranking candidates a query do not fit ${
        binding
          ? `the storage binding limit (${engine.limits.maxStorageBufferBindingSize} bytes)`
          : `one dispatch (${engine.maxGroups} workgroups of 64 a dimension: maxComputeWorkgroupsPerDimension)`
      }`,
    );
  }
  rerankLoops(engine, 'corpusSearch', 'queries', d);
  const pipe = engine.pipeline('rerank', rerankShader);
  for (let q0 = 0; q0 < Q; q0 += qc) {
    const rows = Math.min(qc, Q - q0);
    const keep: Lease[] = [];
    try {
      const enc = engine.device.createCommandEncoder();
      const qn = await normalizedQueries(engine, queries, q0, rows, keep, enc);
      const idx = engine.upload(indices.subarray(q0 * wide, (q0 + rows) * wide));
      keep.push(idx);
      const res = engine.lease(rows * wide * 4);
      keep.push(res);
      const [nx, ny] = engine.grid(Math.ceil((rows * wide) / 64));
      for (const b of blocks) {
        const p = engine.params([rows * wide, wide, d, b.row0, b.rows, nx]);
        keep.push(p);
        engine.dispatch(enc, pipe, [qn, b.exact!, idx, res, p], nx, ny);
      }
      const [buf] = await engine.submitAndRead(enc, [{ buffer: res.buffer, bytes: rows * wide * 4 }]);
      out.set(new Float32Array(buf), q0 * wide);
    } finally {
      for (const l of keep) engine.release(l);
    }
  }
  return out;
}

/**
 * Walks the score tiles of `queries` against every stored row: per chunk of queries, one tile of
 * corpus columns at a time is scored on the device and read back into `each(q0, rows, col0, cols,
 * tile)` (row-major `rows x cols`, query q0 + r against corpus row col0 + c). Serves the host-side
 * selection and the full score matrix. With a filter, tiles without an allowed row are skipped and
 * refused rows' scores may be left unwritten.
 */
async function forEachScoreTile(
  engine: Engine,
  blocks: Block[],
  queries: Matrix,
  each: (q0: number, rows: number, col0: number, cols: number, tile: Float32Array) => void,
  filter: Filter | null = null,
): Promise<void> {
  const Q = queries.rows;
  const d = queries.cols;
  const { qc, nc } = plan(engine, Q, d, 1, Math.max(...blocks.map((b) => b.rows)));
  for (let q0 = 0; q0 < Q; q0 += qc) {
    const rows = Math.min(qc, Q - q0);
    const keep: Lease[] = [];
    try {
      const enc0 = engine.device.createCommandEncoder();
      const qn = await normalizedQueries(engine, queries, q0, rows, keep, enc0);
      engine.device.queue.submit([enc0.finish()]);
      const tile = engine.lease(rows * nc * 4);
      keep.push(tile);
      for (const b of blocks) {
        for (let n0 = 0; n0 < b.rows; n0 += nc) {
          const cols = Math.min(nc, b.rows - n0);
          if (!anyAllowed(filter, b.row0 + n0, b.row0 + n0 + cols)) continue;
          const enc = engine.device.createCommandEncoder();
          const pk: Lease[] = [];
          try {
            const mask = filter ? { lease: filter.mask, row0: b.row0 } : undefined;
            encodeScores(engine, enc, qn, b, tile, rows, cols, d, n0, pk, mask);
            const [buf] = await engine.submitAndRead(enc, [{ buffer: tile.buffer, bytes: rows * cols * 4 }]);
            each(q0, rows, b.row0 + n0, cols, new Float32Array(buf));
          } finally {
            for (const l of pk) engine.release(l);
          }
        }
      }
    } finally {
      for (const l of keep) engine.release(l);
    }
  }
}

/** Top-k for k above {@link DEVICE_K}: score tiles on the device, selection on the host. */
async function hostSelect(
  engine: Engine,
  blocks: Block[],
  queries: Matrix,
  k: number,
  filter: Filter | null,
): Promise<TopKResult> {
  const selector = new TopKSelector(queries.rows, k);
  const allow = filter?.allow;
  await forEachScoreTile(
    engine,
    blocks,
    queries,
    (q0, rows, col0, cols, t) => {
      for (let q = 0; q < rows; q++) {
        if (!allow) selector.pushRow(q0 + q, t, q * cols, col0, cols);
        else
          for (let j = 0; j < cols; j++)
            if (allow[col0 + j] === 1) selector.push(q0 + q, t[q * cols + j], col0 + j);
      }
    },
    filter,
  );
  return selector.result();
}

export async function corpusMatrix(
  engine: Engine,
  corpus: ResidentCorpus,
  queries: Matrix,
  out?: Float32Array,
): Promise<Float32Array> {
  const c = own(engine, corpus, 'corpusMatrix');
  const N = c.rows;
  const res = out ?? new Float32Array(queries.rows * N);
  await c.use('corpusMatrix', async (stored) => {
    // A re-ranking corpus keeps float32 rows: its full scores come from them, exact like a search's.
    const blocks = c.rerank > 0 ? exactBlocks(stored, c.cols) : stored;
    await forEachScoreTile(engine, blocks, queries, (q0, rows, col0, cols, t) => {
      for (let r = 0; r < rows; r++) res.set(t.subarray(r * cols, (r + 1) * cols), (q0 + r) * N + col0);
    });
  });
  return res;
}

/** The float32 rows the corpus keeps, else its stored rows decoded (binary16 values, codes x scale). */
export async function readCorpus(engine: Engine, corpus: ResidentCorpus): Promise<Float32Array> {
  const st = await exportCorpus(engine, corpus, 'readCorpus');
  if (st.exact) return st.exact;
  const out = new Float32Array(st.rows * st.cols);
  if (st.half) for (let i = 0; i < out.length; i++) out[i] = halfValue(st.half[i]);
  if (st.codes) {
    const d = st.cols;
    for (let i = 0; i < out.length; i++) out[i] = st.codes[i] * st.scales![Math.floor(i / d)];
  }
  return out;
}

/** topK against a corpus uploaded for this call only. */
export async function topK(engine: Engine, queries: Matrix, corpus: Matrix, k: number): Promise<TopKResult> {
  const c = await createCorpus(engine, corpus);
  try {
    return await corpusSearch(engine, c, queries, k);
  } finally {
    c.dispose();
  }
}

/** cosineMatrix against `b` uploaded (and normalised) for this call only. */
export async function cosineMatrix(
  engine: Engine,
  a: Matrix,
  b: Matrix,
  out?: Float32Array,
): Promise<Float32Array> {
  const c = await createCorpus(engine, b);
  try {
    return await corpusMatrix(engine, c, a, out);
  } finally {
    c.dispose();
  }
}
