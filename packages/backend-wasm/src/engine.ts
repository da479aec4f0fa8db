/**
 * The drivers of the dot-product engine and of the int8 scans: the calls the kernels make once
 * their rows are staged (staging.ts). Each threaded export goes through {@link share}.
 */
import type { Matrix, TopKResult } from '@cosinekit/core/backend';
import type { WasmRuntime } from './runtime.js';
import { WasmSelection } from './select.js';
import { copyOut, type Sharing, share, shareBegin } from './share.js';
import { rowsOf, type Staged, stageQueries } from './staging.js';
import type { CopyOut } from './threads.js';

/** Largest output staged in wasm memory at once by a matrix product (floats): 16 MiB. */
const OUT_CHUNK = 4 * 1024 * 1024;
/**
 * With helpers, a product whose result the calling thread copies out (see {@link product}) is cut
 * into at least this many blocks of query rows: the caller copies each block while the helpers
 * compute the next, so only the last block's copy (and first touch of the result's pages, which
 * can cost as much as the product) is left to it alone, not the whole result's.
 */
const STAGED_BLOCKS = 4;
/**
 * Fewest query rows in such a block (rounded up to whole panels): each block reads the whole
 * corpus again, so a block keeps 32 flops per byte of corpus read (2 x 64 / 4).
 */
const STAGED_BLOCK_ROWS = 64;
/**
 * Corpus streams of the d-blocked drivers (`tuning.blockSteps`): the corpus cut into this many
 * parts read side by side, one panel of each at a time (apps/bench/scripts/deep-d-blocks.mjs:
 * 2 read faster than 4 or 8 at 8 x 10,000 x 3072 on this machine kind).
 */
const BLOCK_STREAMS = 2;

/** Steps per block of the reduction (see `EngineTuning.blockSteps`); 0: undivided. */
function blockSteps(rt: WasmRuntime): number {
  const t = rt.tuning.blockSteps;
  return t === 'auto' ? 0 : t;
}

/** Most query rows whose products touch the corpus first (see {@link touchFirst}). */
const TOUCH_MAX_ROWS = 64;
/** Fewest bytes of a query panel (R rows) for which they do. */
const TOUCH_MIN_PANEL_BYTES = 20 * 1024;
/** Fewest bytes of the query rows of a one-stream rows tile (fewer rows than a panel) for which they do. */
const TOUCH_MIN_ROWS_BYTES = 32 * 1024;

/**
 * Whether the undivided driver first reads each cache block of corpus panels in a loop of its own
 * (one load per cache line, many in flight), so the query rows then compute from cache (see
 * `EngineTuning.touchBytes`), against `n` corpus rows of `steps` steps of at least
 * `tuning.touchBytes`: for `m` query rows (at least one full panel, at most
 * {@link TOUCH_MAX_ROWS}), a query panel of at least {@link TOUCH_MIN_PANEL_BYTES}; and for fewer
 * rows than a panel whose rows tile reads the corpus as one stream (3 rows with tile 4x2), rows of
 * at least {@link TOUCH_MIN_ROWS_BYTES} together (past L1). On this machine kind (2026-12-04,
 * `node scripts/kernel-vs-peak.mjs <before>,<after> <shapes> 5 plain,touch`) that took 3 x 20,000
 * x 3072 from 31% of the mul+add peak to 49%, and 3 x 10,000 x 8192 from 30% to 50%; where the
 * three rows fit in L1 (3 x 50,000 x 1536), or for two rows, which read two streams, it cost
 * 15-35%.
 */
function touchFirst(rt: WasmRuntime, m: number, n: number, steps: number): boolean {
  const R = rt.tileRows;
  if (n * steps * 16 < rt.tuning.touchBytes) return false;
  if (m < R) {
    return m >= 2 && rt.exports.rowsStreams(rt.config, m) === 1 && m * steps * 16 >= TOUCH_MIN_ROWS_BYTES;
  }
  return m <= TOUCH_MAX_ROWS && R * steps * 16 >= TOUCH_MIN_PANEL_BYTES;
}

/** Scores per search tile (floats): 256 KiB, so a tile stays in L2 while it is selected from. */
const SEARCH_TILE = 64 * 1024;

/**
 * `out[i * ldo + j] = A_i . B_j` for staged queries `a` (`m` rows) and corpus `b` (`n` rows),
 * clamped to [-1, 1] when asked. Shared with the helpers by whole corpus panels.
 */
export function dots(
  rt: WasmRuntime,
  a: number,
  m: number,
  b: number,
  n: number,
  rowBytes: number,
  out: number,
  ldo: number,
  clamp: boolean,
): void {
  dotsBegin(rt, a, m, b, n, rowBytes, out, ldo, clamp).finish();
}

/** {@link dots} started on the helpers, to be joined by the caller (see `shareBegin`). */
function dotsBegin(
  rt: WasmRuntime,
  a: number,
  m: number,
  b: number,
  n: number,
  rowBytes: number,
  out: number,
  ldo: number,
  clamp: boolean,
  copy?: CopyOut,
): Sharing {
  const C = rt.tileCols;
  const steps = rowBytes >>> 4;
  if (steps > rt.spanSteps) {
    if (m === 1) return longStreamBegin(rt, a, b, n, rowBytes, out, clamp, copy);
    return longDotsBegin(rt, a, m, b, n, rowBytes, out, ldo, clamp, copy);
  }
  const nbp = Math.max(1, Math.floor(rt.tuning.blockBytes / (rowBytes * C)));
  // 8 flops per step: 4 lanes of multiply and add.
  const work = m * n * steps * 8;
  const kb = blockSteps(rt);
  if (kb > 0) {
    return shareBegin(
      rt,
      'dotsBlockedWith',
      n,
      C,
      work,
      rt.tuning.threadMinFlops,
      (j0, w) => [
        rt.config,
        a,
        m,
        b + j0 * rowBytes,
        w,
        steps,
        out + j0 * 4,
        ldo * 4,
        clamp,
        nbp,
        kb,
        BLOCK_STREAMS,
      ],
      copy,
    );
  }
  return undividedBegin(rt, a, m, b, n, rowBytes, steps, 0, out, ldo, clamp, nbp, copy);
}

/**
 * {@link dotsBegin} against corpus rows [j0, j0 + w) of staged corpus `c` (`j0` a multiple of its
 * panel): float32 panels read in place, binary16 panels decoded a block at a time
 * ({@link dotsHalfBegin}). `a` is the first query row, `m` of them, as staged for `c`'s width.
 */
export function corpusBegin(
  rt: WasmRuntime,
  a: number,
  m: number,
  c: Staged,
  j0: number,
  w: number,
  out: number,
  ldo: number,
  clamp: boolean,
  op: string,
  copy?: CopyOut,
): Sharing {
  if (c.half)
    return dotsHalfBegin(rt, a, m, c.ptr + j0 * (c.rowBytes >>> 1), w, c.rowBytes, out, ldo, clamp, op, copy);
  return dotsBegin(rt, a, m, c.ptr + j0 * c.rowBytes, w, c.rowBytes, out, ldo, clamp, copy);
}

/** Most bytes of float32 rows a thread decodes at a time for {@link dotsHalfBegin} (2 MiB). */
const HALF_BLOCK_MAX = 2 * 1024 * 1024;

/** A number new for every {@link dotsHalfBegin} call, by which each thread knows to claim a new slot. */
let halfCalls = 0;

/**
 * {@link dotsBegin} against `n` binary16 corpus rows at `h` (`dotsHalfWith`, shared with the helpers
 * by corpus panels): each thread decodes a cache block of panels (`tuning.blockBytes` of float32
 * rows, at most {@link HALF_BLOCK_MAX}; one panel for rows longer than a span) into a slot of a scratch area of its own, then runs
 * the float32 driver there, so every score is the float32 engine's for the decoded rows, the same
 * bits on any thread. The scratch (one slot a thread) and, for several query rows longer than a
 * span, their spans' partial sums, are allocated for the call and freed when it finishes.
 */
function dotsHalfBegin(
  rt: WasmRuntime,
  a: number,
  m: number,
  h: number,
  n: number,
  rowBytes: number,
  out: number,
  ldo: number,
  clamp: boolean,
  op: string,
  copy?: CopyOut,
): Sharing {
  const C = rt.tileCols;
  const steps = rowBytes >>> 4;
  const panelBytes = rowBytes * C;
  const long = steps > rt.spanSteps;
  // Panels decoded at a time: a cache block (at most HALF_BLOCK_MAX, whatever the tuning), no more
  // than the rows hold; one panel for rows longer than a span. One query row decodes in registers,
  // span by span past a span, and takes no scratch (rows past a span were decoded into it a panel
  // at a time: 1.4-1.7x a float32 search of one query at d = 4097-16384). (Sized by the tuning alone, a tuning's blockBytes
  // of 2^30 made a search of 10 rows take 2 GiB a thread.)
  const nbp = long
    ? 1
    : Math.max(
        1,
        Math.min(Math.ceil(n / C), Math.floor(Math.min(rt.tuning.blockBytes, HALF_BLOCK_MAX) / panelBytes)),
      );
  const slotBytes = nbp * panelBytes;
  const slots = (rt.pool?.size ?? 0) + 1;
  const scratch = m === 1 ? 0 : rt.alloc(64 + slots * slotBytes, op);
  let part = 0;
  let job: Sharing;
  try {
    if (long && m > 1) part = rt.alloc(Math.max(4, m * n * 4), op);
    if (scratch !== 0) {
      const head = rt.i32;
      const at = scratch >>> 2;
      head[at] = 0;
      head[at + 1] = halfCalls = (halfCalls + 1) | 0;
      head[at + 2] = slotBytes;
      head[at + 3] = n;
    }
    job = shareBegin(
      rt,
      'dotsHalfWith',
      n,
      C,
      m * n * steps * 8,
      rt.tuning.threadMinFlops,
      (j0, w) => [
        rt.config,
        a,
        m,
        h + j0 * (rowBytes >>> 1),
        w,
        steps,
        out + j0 * 4,
        ldo * 4,
        clamp,
        nbp,
        scratch,
        part + j0 * 4,
      ],
      copy,
    );
  } catch (err) {
    if (scratch) rt.free(scratch);
    if (part) rt.free(part);
    throw err;
  }
  return {
    finish: () => {
      try {
        job.finish();
      } finally {
        if (scratch) rt.free(scratch);
        if (part) rt.free(part);
      }
    },
  };
}

/**
 * The undivided driver (`dotsWith`) over steps [from, from + steps) of rows `rowBytes` long, shared
 * with the helpers by corpus panels.
 */
function undividedBegin(
  rt: WasmRuntime,
  a: number,
  m: number,
  b: number,
  n: number,
  rowBytes: number,
  steps: number,
  from: number,
  out: number,
  ldo: number,
  clamp: boolean,
  nbp: number,
  copy?: CopyOut,
): Sharing {
  const stride = rowBytes >>> 4;
  const touch = touchFirst(rt, m, n, steps);
  return shareBegin(
    rt,
    'dotsWith',
    n,
    rt.tileCols,
    m * n * steps * 8,
    rt.tuning.threadMinFlops,
    (j0, w) => [
      rt.config,
      a,
      m,
      b + j0 * rowBytes,
      w,
      steps,
      out + j0 * 4,
      ldo * 4,
      clamp,
      nbp,
      stride,
      from,
      touch,
    ],
    copy,
  );
}

/**
 * {@link dotsBegin} of one query row longer than one span (`streamLongWith`): each corpus panel
 * read from its start to its end, its spans summed as {@link longDotsBegin} sums them (the same
 * bits), shared with the helpers by corpus panels. Span by span over the whole corpus, a lone
 * row's stream read each panel a span at a time, jumping from panel to panel, at about half a
 * streaming read's rate.
 */
function longStreamBegin(
  rt: WasmRuntime,
  a: number,
  b: number,
  n: number,
  rowBytes: number,
  out: number,
  clamp: boolean,
  copy?: CopyOut,
): Sharing {
  const steps = rowBytes >>> 4;
  return shareBegin(
    rt,
    'streamLongWith',
    n,
    rt.tileCols,
    n * steps * 8,
    rt.tuning.threadMinFlops,
    (j0, w) => [rt.config, a, b + j0 * rowBytes, w, steps, out + j0 * 4, clamp],
    copy,
  );
}

/**
 * {@link dotsBegin} for rows longer than one span (`rt.spanSteps` steps, 4096 floats; see
 * assembly/spans.ts): the sums of each span, one after the other, added in order into `out` in
 * float32, then clamped and copied; a cache block of corpus panels at a time, every span of it
 * before the next block (`dotsLongWith`, shared with the helpers by corpus panels). Span after span
 * over the whole corpus, each pass read half of every panel and jumped: 4 x 20,000 x 8192 took
 * 1.1x the time. Summed in one
 * chain over the whole row, the error grew with the row's length (1.2e-3 at d = 500,000 for a row
 * of equal values); span by span it stays that of one span. Runs when the caller joins it.
 */
function longDotsBegin(
  rt: WasmRuntime,
  a: number,
  m: number,
  b: number,
  n: number,
  rowBytes: number,
  out: number,
  ldo: number,
  clamp: boolean,
  copy?: CopyOut,
): Sharing {
  return {
    finish: () => {
      const steps = rowBytes >>> 4;
      const span = rt.spanSteps;
      const C = rt.tileCols;
      const nbp = Math.max(1, Math.floor(rt.tuning.blockBytes / (span * 16 * C)));
      const touch = touchFirst(rt, m, n, span);
      const part = rt.alloc(Math.max(4, m * n * 4), 'dots');
      try {
        // A cache block of corpus panels at a time, all its spans (see `dotsLongWith`).
        shareBegin(rt, 'dotsLongWith', n, C, m * n * steps * 8, rt.tuning.threadMinFlops, (j0, w) => [
          rt.config,
          a,
          m,
          b + j0 * rowBytes,
          w,
          steps,
          out + j0 * 4,
          ldo,
          part + j0 * 4,
          n,
          nbp,
          touch,
          nbp * C,
        ]).finish();
        if (clamp) rt.exports.clampRows(out, ldo, m, n);
      } finally {
        rt.free(part);
      }
      if (copy) copyOut(rt, copy, 0, n);
    },
  };
}

/**
 * A new result of `length` floats for a call whose chunks helper threads can copy out themselves
 * (`shared`: the call is above its threading threshold): over a SharedArrayBuffer where they can
 * (Node) and the result is large (`tuning.sharedResultBytes`), so each thread writes its own
 * chunks into it (see `CopyOut`); an ordinary array otherwise.
 */
export function newResult(rt: WasmRuntime, length: number, shared: boolean): Float32Array {
  const pool = rt.pool;
  if (shared && length * 4 >= rt.tuning.sharedResultBytes && pool?.copies && pool.size > 0) {
    return new Float32Array(new SharedArrayBuffer(length * 4));
  }
  return new Float32Array(length);
}

/**
 * Approximate cosines of one int8 query against `n` int8 rows (see assembly/quantized.ts), shared
 * with the helpers by groups of 4 rows.
 */
export function dotsI8(
  rt: WasmRuntime,
  q: number,
  qscale: number,
  c: number,
  n: number,
  stride: number,
  scales: number,
  out: number,
  copy?: CopyOut,
): void {
  // 2 "flops" (an integer multiply and add) per byte of corpus.
  share(
    rt,
    'dotsI8',
    n,
    4,
    n * stride * 2,
    rt.tuning.threadMinFlopsI8,
    (j0, w) => [q, qscale, c + j0 * stride, w, stride, scales + j0 * 4, out + j0 * 4],
    copy,
  );
}

/** {@link dotsI8} for `nq` queries against the same rows (`out[i * ldo + j]`). */
export function dotsI8Batch(
  rt: WasmRuntime,
  q: number,
  nq: number,
  qscales: number,
  c: number,
  n: number,
  stride: number,
  scales: number,
  out: number,
  ldo: number,
): void {
  share(rt, 'dotsI8Batch', n, 4, nq * n * stride * 2, rt.tuning.threadMinFlopsI8, (j0, w) => [
    q,
    nq,
    qscales,
    c + j0 * stride,
    w,
    stride,
    scales + j0 * 4,
    out + j0 * 4,
    ldo,
  ]);
}

/**
 * `out = A B^T` for staged queries `a` and corpus `b` (into a new array when `out` is not given),
 * computed in blocks of query rows so the output staged in wasm stays bounded.
 *
 * Where helper threads can write the result (a new result in Node, see {@link newResult}), every
 * thread copies each chunk it computed straight into it (see share.ts): one pass over the result,
 * its first touch shared by all threads. Otherwise two staging blocks take turns: while the
 * helpers compute a block into one, the calling thread copies the previous block out of the other
 * (first writes to a new JS array fault its pages in, which can cost as much as the product), then
 * joins them.
 */
export function product(
  rt: WasmRuntime,
  a: Staged,
  b: Staged,
  out: Float32Array | undefined,
  clamp: boolean,
  op: string,
  finite = false,
): Float32Array {
  const m = a.rows;
  const n = b.rows;
  const [rows, cols] = blockShape(rt, m, n);
  const o = out ?? newResult(rt, m * n, m * n * (a.rowBytes >>> 4) * 8 >= rt.tuning.threadMinFlops);
  if (rt.pool?.copies && rt.pool.size > 0 && o.buffer instanceof SharedArrayBuffer) {
    return productShared(rt, a, b, o, clamp, op, rows, cols, finite);
  }
  return productStaged(rt, a, b, o, clamp, op, rows, cols, finite);
}

/**
 * Query rows and corpus rows of a product's blocks: all the corpus rows (`n`) and as many query rows
 * as {@link OUT_CHUNK} floats hold (whole panels, at least one), unless that is fewer than
 * {@link STAGED_BLOCK_ROWS} (a corpus of more than 65,536 rows): then that many query rows against
 * an even share of the corpus rows, so each block still holds at most about OUT_CHUNK floats, but
 * the corpus is read once per 64 query rows instead of once per few (1000 x 200,000: every 20).
 */
function blockShape(rt: WasmRuntime, m: number, n: number): [number, number] {
  const R = rt.tileRows;
  const C = rt.tileCols;
  const rows = Math.min(m, Math.max(R, Math.floor(OUT_CHUNK / n / R) * R));
  const band = Math.min(m, Math.ceil(STAGED_BLOCK_ROWS / R) * R);
  if (rows >= band) return [rows, n];
  const most = Math.max(C, Math.floor(OUT_CHUNK / band / C) * C);
  const parts = Math.ceil(n / most);
  return [band, Math.min(n, Math.ceil(n / parts / C) * C)];
}

/**
 * Throws when any of the `length` floats at `ptr` is not finite, naming the first: how a product
 * that is not clamped (`matmul`) keeps the promise of `Backend.selfChecked` (every value it hands
 * over is finite), with one SIMD pass in wasm over each block before it is copied out, instead of
 * the kit's pass in JS over the whole result. `whole`: the floats are the whole answer, so the
 * position named is the answer's.
 */
export function checkFinite(rt: WasmRuntime, ptr: number, length: number, op: string, whole = false): void {
  if (rt.exports.allFinite(ptr, length)) return;
  const i = firstNonFinite(rt, ptr, length);
  throw new Error(
    `${op} returned ${rt.f32[(ptr >>> 2) + i]} among its values (position ${i}${whole ? '' : ' of a block'}).`,
  );
}

/** Where the first of the `length` floats at `ptr` that is not finite lies (`length` when none). */
export function firstNonFinite(rt: WasmRuntime, ptr: number, length: number): number {
  const f = rt.f32;
  const at = ptr >>> 2;
  let i = 0;
  while (i < length && Number.isFinite(f[at + i])) i++;
  return i;
}

/** {@link product} with every thread copying its own chunks into `out` (shared memory). */
function productShared(
  rt: WasmRuntime,
  a: Staged,
  b: Staged,
  out: Float32Array,
  clamp: boolean,
  op: string,
  rows: number,
  cols: number,
  finite: boolean,
): Float32Array {
  const m = a.rows;
  const n = b.rows;
  const R = rt.tileRows;
  const parts = Math.ceil(n / cols);
  const stage = rt.alloc(rows * cols * 4, op);
  try {
    for (let i0 = 0, r = 0; i0 < m; i0 += r) {
      // Each band's rows of the result are faulted in while the band before is computed, a run
      // of pages per chunk (see CopyOut.ahead; each of a band's blocks of columns an even share of
      // them). The first band has none before it: it is one query panel, so the pages its own
      // chunks fault, columns of every line, are few.
      r = i0 === 0 && m > R ? R : Math.min(rows, m - i0);
      const next = Math.max(0, Math.min(rows, m - i0 - r)) * n;
      for (let p = 0; p < parts; p++) {
        const j0 = p * cols;
        const w = Math.min(cols, n - j0);
        const from = Math.floor((p * next) / parts);
        const to = Math.floor(((p + 1) * next) / parts);
        const copy = {
          dest: out,
          lines: r,
          src: stage >>> 2,
          srcStride: w,
          dst: i0 * n + j0,
          dstStride: n,
          ahead: (i0 + r) * n + from,
          aheadLength: to - from,
        };
        const at = a.ptr + i0 * a.rowBytes;
        corpusBegin(rt, at, r, b, j0, w, stage, w, clamp, op, copy).finish();
        // The block is still in the stage after the threads copied it out.
        if (finite) checkFinite(rt, stage, r * w, op);
      }
    }
  } finally {
    rt.free(stage);
  }
  return out;
}

/**
 * {@link product} with the calling thread copying each block out while the helpers compute the next.
 * Blocks are of query rows (of corpus rows too for a large corpus, see {@link blockShape}); a
 * product of too few rows for {@link STAGED_BLOCKS} blocks of them (64 queries, say) is cut into
 * blocks of corpus columns instead, each still large enough to share, so
 * that only the last block's copy (and first touch of the result's pages) is left to the calling
 * thread alone, not the whole result's. Column blocks read no row of the corpus more often than
 * one block does. Every output is computed by the same code in the same order whatever the block.
 */
function productStaged(
  rt: WasmRuntime,
  a: Staged,
  b: Staged,
  out: Float32Array,
  clamp: boolean,
  op: string,
  rows: number,
  cols: number,
  finite: boolean,
): Float32Array {
  const m = a.rows;
  const n = b.rows;
  const helped = rt.pool !== undefined && rt.pool.size > 0;
  if (helped) {
    const R = rt.tileRows;
    const least = Math.ceil(STAGED_BLOCK_ROWS / R) * R;
    rows = Math.min(rows, Math.max(least, Math.ceil(m / STAGED_BLOCKS / R) * R));
    if (rows >= m && cols === n) cols = stagedColumns(rt, m, n, a.rowBytes);
  }
  /** The blocks in order: [first query row, rows, first corpus row, corpus rows]. */
  const blocks: [number, number, number, number][] = [];
  for (let i0 = 0; i0 < m; i0 += rows) {
    for (let j0 = 0; j0 < n; j0 += cols)
      blocks.push([i0, Math.min(rows, m - i0), j0, Math.min(cols, n - j0)]);
  }
  const twice = blocks.length > 1 && helped;
  const o = [rt.alloc(rows * cols * 4, op)];
  /** Block `k`, computed into `o[k % 2]`, checked and copied into `out` (a line at a time when it is columns). */
  const copy = (k: number) => {
    const [i0, r, j0, w] = blocks[k];
    const at = o[k % o.length];
    if (finite) checkFinite(rt, at, r * w, op);
    if (w === n) rt.download(at, r * n, out, i0 * n);
    else {
      const f = rt.f32;
      for (let i = 0; i < r; i++) {
        const s = (at >>> 2) + i * w;
        out.set(f.subarray(s, s + w), (i0 + i) * n + j0);
      }
    }
  };
  try {
    if (twice) o.push(rt.alloc(rows * cols * 4, op));
    for (let k = 0; k < blocks.length; k++) {
      const [i0, r, j0, w] = blocks[k];
      const job = corpusBegin(rt, a.ptr + i0 * a.rowBytes, r, b, j0, w, o[k % o.length], w, clamp, op);
      try {
        if (twice && k > 0) copy(k - 1);
      } finally {
        job.finish();
      }
      if (!twice) copy(k);
    }
    if (twice) copy(blocks.length - 1);
  } finally {
    for (const p of o) rt.free(p);
  }
  return out;
}

/**
 * Corpus rows per column block of a staged product of `m` query rows (see {@link productStaged}):
 * {@link STAGED_BLOCKS} blocks of whole corpus panels, fewer where a block would fall below the
 * threading threshold (`n`: one block).
 */
function stagedColumns(rt: WasmRuntime, m: number, n: number, rowBytes: number): number {
  const C = rt.tileCols;
  const perCol = m * (rowBytes >>> 4) * 8;
  const shareable = Math.ceil(rt.tuning.threadMinFlops / perCol / C) * C;
  const cols = Math.max(shareable, Math.ceil(n / STAGED_BLOCKS / C) * C);
  return cols >= n ? n : cols;
}

/**
 * Exact top-k of normalised queries against a staged normalised corpus: tiles of scores computed
 * in wasm (clamped there, so selection compares the scores reported) and streamed into a running
 * per-query selection, O(q k + tile) memory. Queries given as rows (`Matrix`) are staged a chunk
 * at a time, each chunk just before its first tile (refused rows named as `queries` of `op`):
 * staging them all first wrote every query to memory and read it back, which with a small corpus
 * (20,000 queries against 8 rows) cost more than the dot products.
 */
export function search(rt: WasmRuntime, q: Staged | Matrix, c: Staged, k: number, op: string): TopKResult {
  const R = rt.tileRows;
  const C = rt.tileCols;
  // Query chunks of whole panels, corpus tiles of whole panels.
  const qt = Math.min(q.rows, Math.floor(256 / R) * R);
  const whole = 'data' in q ? undefined : q;
  /** The chunk of queries staged last (rows given), freed when the next is staged. */
  let chunk: Staged | undefined;
  const nt = Math.min(c.rows, Math.max(C, Math.floor(Math.max(64, SEARCH_TILE / qt) / C) * C));
  // With helpers, two score tiles take turns: the caller selects from one while the helpers
  // compute the next into the other, then joins them.
  const twice = rt.pool !== undefined && rt.pool.size > 0 && (q.rows > qt || c.rows > nt);
  const sel = new WasmSelection(rt, q.rows, k, qt, op, c.rows);
  const tiles: number[] = [];
  /** The tile computed last and not selected from yet: [buffer, first query, queries, first row, rows]. */
  let last: [number, number, number, number, number] | undefined;
  const select = ([tile, i0, rq, j0, w]: [number, number, number, number, number]) => {
    sel.offerTile(i0, rq, tile, w, j0);
    // A chunk's last tile: its queries have seen every row.
    if (j0 + w === c.rows) sel.done(i0, rq);
  };
  try {
    tiles.push(rt.alloc(qt * nt * 4, op));
    if (twice) tiles.push(rt.alloc(qt * nt * 4, op));
    let t = 0;
    for (let i0 = 0; i0 < q.rows; i0 += qt) {
      const rq = Math.min(qt, q.rows - i0);
      let a: number;
      if (whole) a = whole.ptr + i0 * whole.rowBytes;
      else {
        if (chunk) rt.free(chunk.ptr);
        chunk = undefined;
        // Unset first: a staging that throws must not leave the freed block to be freed again.
        chunk = stageQueries(rt, rowsOf(q as Matrix, i0, rq), true, op, 'queries', i0);
        a = chunk.ptr;
      }
      for (let j0 = 0; j0 < c.rows; j0 += nt) {
        const w = Math.min(nt, c.rows - j0);
        const job = corpusBegin(rt, a, rq, c, j0, w, tiles[t], w, true, op);
        try {
          if (last) select(last);
        } finally {
          job.finish();
        }
        last = [tiles[t], i0, rq, j0, w];
        if (!twice) {
          select(last);
          last = undefined;
        }
        t ^= tiles.length - 1;
      }
    }
    if (last) select(last);
  } finally {
    if (chunk) rt.free(chunk.ptr);
    for (const p of tiles) rt.free(p);
    sel.dispose();
  }
  return sel.result();
}
