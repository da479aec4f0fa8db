import { type Matrix, matmulDims } from '@cosinekit/core/backend';
import { checkFinite, product } from '../engine.js';
import type { WasmRuntime } from '../runtime.js';
import { share } from '../share.js';
import { stageOperand } from '../staging.js';

/**
 * Most rows of op(A) that take the sparse path whatever their density (`sparseDensity` 0 still
 * turns it off): their product reads B as it lies, where the dense engine stages it transposed.
 */
const FEW_ROWS = 4;
/**
 * Longest rows of op(A) the few-rows path takes: the sparse kernel sums a row's terms in one
 * float32 chain, where the dense engine keeps four lanes; past this, its rounding (up to k x 2^-24
 * relative) outgrows the engine's by more than the time it saves (a review: 65,536 same-sign terms,
 * 6e-4 against 1e-5 relative).
 */
const FEW_ROWS_MAX_K = 2048;
/**
 * Longest rows of op(A) the sparse path takes at all: it sums each output's terms in one float32
 * chain, up to k of them, where the dense engine keeps four lanes; 65,536 same-sign terms at 35%
 * non-zero came 54x past the dense engine's error (a review).
 */
const SPARSE_MAX_K = 4096;
/** The most of op(A) non-zero for the sparse path when C has fewer than 16 columns. */
const NARROW_DENSITY = 0.25;
/** Smallest product (m x k x n multiply-adds) worth scanning A for zeros. */
const SPARSE_MIN_WORK = 64 * 1024;
/** Largest output the sparse path writes at once in wasm memory (floats), as the dense path's chunks. */
const SPARSE_MAX_OUT = 4 * 1024 * 1024;

/**
 * `matmul`: `C = op(A) op(B)`. When B is not transposed, A is sparse enough (at most
 * `tuning.sparseDensity` of op(A) non-zero, the same for any thread count) and B is all finite,
 * the product runs over A's non-zero entries only (assembly/sparse.ts), its rows shared with the
 * helper threads: the same sums without their zero terms, which add exactly ±0 when B is finite;
 * a row of op(A) without non-zeros gives +0. A non-finite B takes the dense engine, so Inf and
 * NaN reach C exactly as they would there. Otherwise both operands are staged as rows of the
 * shared dimension (A's rows and B's columns, transposing on the way in where needed), so every
 * case runs the same dot-product engine as the cosine kernels; staging is O(mk + kn) against
 * O(mnk) work.
 */
export function matmul(
  rt: WasmRuntime,
  a: Matrix,
  b: Matrix,
  transA: boolean,
  transB: boolean,
  out?: Float32Array,
): Float32Array {
  // The shape is checked here, before anything is staged.
  const { m, k, n } = matmulDims(a, b, transA, transB);
  const density = rt.tuning.sparseDensity;
  // sparseDensity 1 asks for the sparse path wherever it can run: the bounds below are the
  // default policy's.
  const forced = density >= 1;
  if (!transB && density > 0 && m * n <= SPARSE_MAX_OUT && (forced || k <= SPARSE_MAX_K)) {
    // A few rows of op(A) (an encoder embedding one query): the sparse path whatever A holds, B
    // uploaded as it is; the dense engine would first stage B transposed, costing more than the
    // product (784 x 256 for one row: about 60% of the call).
    const few = m <= FEW_ROWS && k <= FEW_ROWS_MAX_K;
    // With few columns of C the sparse path (an axpy of n per non-zero) gains less: below 16, only
    // A at most a quarter non-zero takes it (a review: 4096 x 256 x 4 at 35% took 1.6-2.4x).
    const limit = forced || n >= 16 ? density : Math.min(density, NARROW_DENSITY);
    const done = few
      ? sparseProduct(rt, a, b, transA, m, n, 1, out)
      : m * k * n >= SPARSE_MIN_WORK && mayBeSparse(a.data, limit)
        ? sparseProduct(rt, a, b, transA, m, n, limit, out)
        : undefined;
    if (done) return done;
  }
  const sb = stageOperand(rt, b, !transB, true, 'matmul');
  try {
    const sa = stageOperand(rt, a, transA, false, 'matmul');
    try {
      // Checked for finite values block by block in wasm: `matmul` is self-checked (backend.ts).
      return product(rt, sa, sb, out, false, 'matmul', true);
    } finally {
      rt.free(sa.ptr);
    }
  } finally {
    rt.free(sb.ptr);
  }
}

/** Entries of A sampled by {@link mayBeSparse}. */
const SAMPLES = 256;

/**
 * False when 256 entries spread over `x` hold more than `density` of non-zeros (more than the
 * expected count, and one), so A is not even copied into wasm to be counted (what a dense A would
 * otherwise pay on every call). A bound of twice `density` let through about half of the calls on
 * rectified activations, each copying and counting A before giving up; the expected count plus
 * three standard deviations, then one, let through A a little over the threshold, which then cost
 * 1.05-1.5x the dense product. An A just under the threshold that the sample puts over it takes
 * the dense engine, where the two paths cost about the same. Only the speed depends on it: the
 * dense engine gives the same product within rounding, and the same data always gets the same answer.
 */
function mayBeSparse(x: Float32Array, density: number): boolean {
  // Positions k x golden ratio (mod 1) of the way through: spread evenly, and never in step with
  // the rows (an even stride of a multiple of the row length would read one column only).
  const seen = Math.min(SAMPLES, x.length);
  let nonzero = 0;
  for (let k = 0; k < seen; k++) {
    const t = k * 0.6180339887498949;
    if (x[Math.floor((t - Math.floor(t)) * x.length)] !== 0) nonzero++;
  }
  return nonzero <= seen * density + 1;
}

/**
 * `op(A) B` over the non-zero entries of op(A), into `out` or a new array, when at most `density`
 * of them are non-zero and B is finite; undefined (nothing written) otherwise.
 */
function sparseProduct(
  rt: WasmRuntime,
  a: Matrix,
  b: Matrix,
  transA: boolean,
  m: number,
  n: number,
  density: number,
  out: Float32Array | undefined,
): Float32Array | undefined {
  const op = 'matmul';
  const ex = rt.exports;
  const len = a.rows * a.cols;
  const blocks: number[] = [];
  const alloc = (bytes: number): number => {
    const p = rt.alloc(Math.max(4, bytes), op);
    blocks.push(p);
    return p;
  };
  try {
    const pa = rt.upload(a.data, op);
    blocks.push(pa);
    const limit = Math.floor(density * len);
    const ptr = alloc((m + 1) * 4);
    let idx: number;
    let val: number;
    let nnz: number;
    if (transA) {
      // Counted per column first; then each column's entries, with one spare entry after them.
      nnz = ex.countColumns(pa, a.rows, a.cols, ptr);
      if (nnz > limit) return undefined;
      idx = alloc((nnz + m) * 4);
      val = alloc((nnz + m) * 4);
    } else {
      // Compressed as it is counted, given up past the limit (see assembly/sparse.ts for the room).
      const room = Math.min(limit, len) + a.cols + 4;
      idx = alloc(room * 4);
      val = alloc(room * 4);
      nnz = ex.compressRows(pa, a.rows, a.cols, limit, ptr, idx, val);
      if (nnz > limit) return undefined;
    }
    const pb = rt.upload(b.data, op);
    blocks.push(pb);
    if (!ex.allFinite(pb, b.rows * b.cols)) return undefined;
    if (transA) ex.compressColumns(pa, a.rows, a.cols, ptr, idx, val);
    const gap = transA ? 1 : 0;
    const po = alloc(m * n * 4);
    // Shared with the helpers by rows of C: each row is the same sum whichever thread makes it.
    share(rt, 'sparseProduct', m, 1, 2 * nnz * n, rt.tuning.threadMinFlops, (i0, w) => [
      ptr + i0 * 4,
      idx,
      val,
      gap,
      w,
      pb,
      n,
      po + i0 * n * 4,
    ]);
    // `matmul` is self-checked (backend.ts): the answer is scanned for Inf and NaN in wasm before
    // it is copied out, so the kit does not read it again.
    checkFinite(rt, po, m * n, op, true);
    return rt.download(po, m * n, out);
  } finally {
    for (let i = blocks.length - 1; i >= 0; i--) rt.free(blocks[i]);
  }
}
