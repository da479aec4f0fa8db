/**
 * Resident corpora and the fused search: normalised rows live in GPU buffers (split into blocks that
 * each fit one binding); a search scores tiles of the corpus and keeps a running top-k per query on
 * the device, so only Q x k indices and scores come back (for k up to DEVICE_K; larger k selects on
 * the host from score tiles).
 */
import {
  argError,
  type CorpusOptions,
  foreignCorpus,
  type Matrix,
  type ResidentCorpus,
  type TopKResult,
  TopKSelector,
} from '@cosinekit/core/backend';
import type { Engine, Lease } from './engine.js';
import { encodeScores, rowsPerBinding, tileOf } from './kernels.js';
import { clearSelectShader, mergeSelectShader, rowShader, segmentSelectShader } from './wgsl.js';

/** The backend's name, on its corpora. */
export const WEBGPU_BACKEND_NAME = 'webgpu';

interface Block {
  lease: Lease;
  row0: number;
  rows: number;
}

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
  readonly storage = 'float32' as const;
  readonly rows: number;
  readonly cols: number;
  readonly engine: Engine;
  #blocks: Block[] | null;

  constructor(engine: Engine, blocks: Block[], rows: number, cols: number) {
    this.engine = engine;
    this.#blocks = blocks;
    this.rows = rows;
    this.cols = cols;
    engine.resident.add(this);
  }

  get disposed(): boolean {
    return this.#blocks === null;
  }

  get blocks(): Block[] {
    if (!this.#blocks) {
      argError('DISPOSED', 'corpusSearch', 'corpus', 'was disposed and can no longer be searched.');
    }
    return this.#blocks;
  }

  /** Destroys its buffers (called by dispose() and by the engine's destruction). */
  release(): void {
    if (!this.#blocks) return;
    for (const b of this.#blocks) this.engine.discard(b.lease);
    this.#blocks = null;
    this.engine.resident.delete(this);
  }

  dispose(): void {
    this.release();
  }
}

function own(engine: Engine, corpus: ResidentCorpus, op: string): WebGpuCorpus {
  if (corpus instanceof WebGpuCorpus && corpus.disposed) {
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

/** Rows per resident block: one binding, one buffer. */
function blockRows(engine: Engine, cols: number): number {
  return Math.max(
    1,
    Math.min(
      rowsPerBinding(engine, cols),
      Math.floor(engine.limits.maxBufferSize / (4 * cols)),
      engine.maxGroups,
    ),
  );
}

export async function createCorpus(
  engine: Engine,
  x: Matrix,
  options?: CorpusOptions,
): Promise<WebGpuCorpus> {
  const storage = options?.storage ?? 'float32';
  if (storage !== 'float32') {
    argError(
      'UNSUPPORTED',
      'createCorpus',
      'options.storage',
      `is '${storage}', but the webgpu backend stores corpora as float32 only (the kit keeps quantised corpora on the reference).`,
    );
  }
  const per = blockRows(engine, x.cols);
  const blocks: Block[] = [];
  try {
    const pipe = engine.pipeline('row:normalize', () => rowShader('normalize'));
    for (let r0 = 0; r0 < x.rows; r0 += per) {
      const rows = Math.min(per, x.rows - r0);
      const raw = engine.upload(x.data.subarray(r0 * x.cols, (r0 + rows) * x.cols));
      const keep: Lease[] = [raw];
      try {
        const lease = engine.lease(rows * x.cols * 4);
        blocks.push({ lease, row0: r0, rows });
        const [nx, ny] = engine.grid(rows);
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
    for (const b of blocks) engine.discard(b.lease);
    throw e;
  }
  return new WebGpuCorpus(engine, blocks, x.rows, x.cols);
}

/** Query rows per chunk and corpus columns per score tile, within every limit. */
function plan(engine: Engine, queries: number, cols: number, k: number, maxTileCols: number) {
  const L = engine.limits;
  const bindFloats = Math.floor(L.maxStorageBufferBindingSize / 4);
  const side = tileOf(engine).wg * tileOf(engine).block;
  const maxSpan = L.maxComputeWorkgroupsPerDimension * side;
  const qc = Math.min(
    queries,
    rowsPerBinding(engine, cols),
    Math.floor(bindFloats / Math.max(1, k)),
    engine.maxGroups,
    Math.floor((engine.maxGroups * 64) / Math.max(1, k)),
    maxSpan,
  );
  if (qc < 1) throw new RangeError(`k = ${k} does not fit the storage binding limit`);
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
  const raw = engine.upload(q.data.subarray(r0 * q.cols, (r0 + rows) * q.cols));
  keep.push(raw);
  const qn = engine.lease(rows * q.cols * 4);
  keep.push(qn);
  const [nx, ny] = engine.grid(rows);
  const p = engine.params([rows, q.cols, nx, 0]);
  keep.push(p);
  engine.dispatch(
    enc,
    engine.pipeline('row:normalize', () => rowShader('normalize')),
    [raw, qn, p],
    nx,
    ny,
  );
  return qn;
}

export async function corpusSearch(
  engine: Engine,
  corpus: ResidentCorpus,
  queries: Matrix,
  k: number,
): Promise<TopKResult> {
  const c = own(engine, corpus, 'corpusSearch');
  const blocks = c.blocks;
  const Q = queries.rows;
  const d = queries.cols;
  const indices = new Int32Array(Q * k);
  const scores = new Float32Array(Q * k);
  const maxBlock = Math.max(...blocks.map((b) => b.rows));
  if (k > DEVICE_K) return hostSelect(engine, blocks, queries, k, maxBlock);
  const { qc, nc } = plan(engine, Q, d, k, maxBlock);
  const bindFloats = Math.floor(engine.limits.maxStorageBufferBindingSize / 4);
  const segPipe = engine.pipeline('select:segment', segmentSelectShader);
  const mergePipe = engine.pipeline('select:merge', mergeSelectShader);
  const clearPipe = engine.pipeline('select:clear', clearSelectShader);
  for (let q0 = 0; q0 < Q; q0 += qc) {
    const rows = Math.min(qc, Q - q0);
    // Segments per query: enough invocations to fill the device, few enough to fit one binding
    // and to keep a merge's worst case (segs x k insertions: a binary search, up to k shifts)
    // within the loop budget.
    const budget = loopBudget(engine) - k;
    const perInsert = k + Math.ceil(Math.log2(k + 1)) + 2;
    let segs = Math.max(
      1,
      Math.min(
        Math.ceil(nc / 32),
        Math.ceil(SELECT_PARALLELISM / rows),
        Math.floor(bindFloats / (rows * k)),
        Math.floor((engine.maxGroups * 64) / rows),
        Math.floor(budget / (k * perInsert)),
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
          encodeScores(engine, enc, qn, b.lease, tile, rows, cols, d, n0, keep);
          const tileSegs = Math.ceil(cols / segLen);
          const [sx, sy] = engine.grid(Math.ceil((rows * tileSegs) / 64));
          const sp = engine.params([rows, cols, k, tileSegs, segLen, b.row0 + n0, sx, 0]);
          keep.push(sp);
          engine.dispatch(enc, segPipe, [tile, cs, ci, sp], sx, sy);
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

/** Top-k for k above {@link DEVICE_K}: score tiles on the device, selection on the host. */
async function hostSelect(
  engine: Engine,
  blocks: Block[],
  queries: Matrix,
  k: number,
  maxBlock: number,
): Promise<TopKResult> {
  const Q = queries.rows;
  const d = queries.cols;
  const indices = new Int32Array(Q * k);
  const scores = new Float32Array(Q * k);
  const { qc, nc } = plan(engine, Q, d, 1, maxBlock);
  for (let q0 = 0; q0 < Q; q0 += qc) {
    const rows = Math.min(qc, Q - q0);
    const selector = new TopKSelector(rows, k);
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
          const enc = engine.device.createCommandEncoder();
          const pk: Lease[] = [];
          try {
            encodeScores(engine, enc, qn, b.lease, tile, rows, cols, d, n0, pk);
            const [buf] = await engine.submitAndRead(enc, [{ buffer: tile.buffer, bytes: rows * cols * 4 }]);
            const t = new Float32Array(buf);
            for (let q = 0; q < rows; q++) selector.pushRow(q, t, q * cols, b.row0 + n0, cols);
          } finally {
            for (const l of pk) engine.release(l);
          }
        }
      }
      const r = selector.result();
      scores.set(r.scores, q0 * k);
      indices.set(r.indices, q0 * k);
    } finally {
      for (const l of keep) engine.release(l);
    }
  }
  return { queries: Q, k, indices, scores };
}

export async function corpusMatrix(
  engine: Engine,
  corpus: ResidentCorpus,
  queries: Matrix,
  out?: Float32Array,
): Promise<Float32Array> {
  const c = own(engine, corpus, 'corpusMatrix');
  const blocks = c.blocks;
  const Q = queries.rows;
  const d = queries.cols;
  const N = c.rows;
  const res = out ?? new Float32Array(Q * N);
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
          const enc = engine.device.createCommandEncoder();
          const pk: Lease[] = [];
          try {
            encodeScores(engine, enc, qn, b.lease, tile, rows, cols, d, n0, pk);
            const [buf] = await engine.submitAndRead(enc, [{ buffer: tile.buffer, bytes: rows * cols * 4 }]);
            const t = new Float32Array(buf);
            const col0 = b.row0 + n0;
            for (let r = 0; r < rows; r++) res.set(t.subarray(r * cols, (r + 1) * cols), (q0 + r) * N + col0);
          } finally {
            for (const l of pk) engine.release(l);
          }
        }
      }
    } finally {
      for (const l of keep) engine.release(l);
    }
  }
  return res;
}

export async function readCorpus(engine: Engine, corpus: ResidentCorpus): Promise<Float32Array> {
  const c = own(engine, corpus, 'readCorpus');
  const out = new Float32Array(c.rows * c.cols);
  for (const b of c.blocks) {
    const enc = engine.device.createCommandEncoder();
    const [buf] = await engine.submitAndRead(enc, [{ buffer: b.lease.buffer, bytes: b.rows * c.cols * 4 }]);
    out.set(new Float32Array(buf), b.row0 * c.cols);
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
