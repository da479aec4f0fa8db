/**
 * The sparse side of `matmul`: when most of A is zero (pixels of a digit, rectified activations),
 * `C = op(A) B` is computed over A's non-zero entries only, from a compressed-row copy of op(A)
 * (`ptr`: rows + 1 offsets; `idx`, `val`: the column and value of each non-zero, in column order).
 * Row i of C is then the sum over the non-zeros (p, x) of row i of x times row p of B, four lanes
 * at a time across B's columns. A zero of A would only add x * B[p][j] = ±0 to a sum, so skipping
 * it changes nothing as long as B is finite (the caller checks with `allFinite`).
 */
import { madd } from './generated/simd';

/**
 * Non-zero floats among `n` at `x` (-0 counts as zero; NaN as non-zero), or, as soon as more than
 * `limit` are found, some count above `limit`: a dense A is given up on after a quarter of it.
 */
export function nonzeros(x: usize, n: i32, limit: i32): i32 {
  const zero = f32x4.splat(0);
  let count = 0;
  let i = 0;
  while (i + 4 <= n) {
    // Blocks of up to 256 floats: ne gives -1 in the lanes that are not zero.
    const end = i + 256 <= n ? i + 256 : n & ~3;
    let acc = i32x4.splat(0);
    for (; i < end; i += 4) acc = i32x4.sub(acc, f32x4.ne(v128.load(x + ((<usize>i) << 2)), zero));
    count += i32x4.extract_lane(acc, 0) + i32x4.extract_lane(acc, 1);
    count += i32x4.extract_lane(acc, 2) + i32x4.extract_lane(acc, 3);
    if (count > limit) return count;
  }
  for (; i < n; i++) if (load<f32>(x + ((<usize>i) << 2)) !== 0) count++;
  return count;
}

/** 1 when all `n` floats at `x` are finite, else 0. */
export function allFinite(x: usize, n: i32): i32 {
  // v - v is 0 for a finite v and NaN for ±Inf and NaN; NaN compares unequal to itself.
  let ok = v128.not(i32x4.splat(0));
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(x + ((<usize>i) << 2));
    const d = f32x4.sub(v, v);
    ok = v128.and(ok, f32x4.eq(d, d));
  }
  if (!v128.all_true<i32>(ok)) return 0;
  for (; i < n; i++) {
    const v = load<f32>(x + ((<usize>i) << 2));
    if (v - v !== 0) return 0;
  }
  return 1;
}

/** 1 when any of the four floats at `p` is non-zero: all-zero groups are skipped in one test. */
function anyNonzero(p: usize): bool {
  return v128.any_true(f32x4.ne(v128.load(p), f32x4.splat(0)));
}

/** Compressed rows of A (`rows x cols`, row-major) into `ptr`, `idx`, `val` (room for non-zeros + 1). */
export function compressRows(a: usize, rows: i32, cols: i32, ptr: usize, idx: usize, val: usize): void {
  let q = 0;
  store<i32>(ptr, 0);
  for (let i = 0; i < rows; i++) {
    const row = a + <usize>i * ((<usize>cols) << 2);
    let j = 0;
    while (j < cols) {
      // Four at a time while four are left, the group skipped when all of it is zero.
      const end = j + 4 <= cols ? j + 4 : cols;
      if (end - j < 4 || anyNonzero(row + ((<usize>j) << 2))) {
        // Without a branch per value (zeros and non-zeros mix unpredictably): each value is
        // written at q, and q moves on past the non-zeros only, so `idx` and `val` need room
        // for one entry more than the non-zeros.
        for (; j < end; j++) {
          const v = load<f32>(row + ((<usize>j) << 2));
          store<i32>(idx + ((<usize>q) << 2), j);
          store<f32>(val + ((<usize>q) << 2), v);
          q += i32(v !== 0);
        }
      } else {
        j = end;
      }
    }
    store<i32>(ptr + ((<usize>(i + 1)) << 2), q);
  }
}

/**
 * Compressed rows of Aᵀ (A `rows x cols`, row-major: so one row per column of A) into `ptr`
 * (`cols + 1` ints), `idx`, `val`. A's own compressed rows go to the scratch `rptr` (`rows + 1`
 * ints), `ridx` and `rval` (room for non-zeros + 1) first, then are counted per column and scattered: O(rows x cols) once
 * and O(non-zeros) twice. Within a row of Aᵀ the entries keep A's row order.
 */
export function compressColumns(
  a: usize,
  rows: i32,
  cols: i32,
  ptr: usize,
  idx: usize,
  val: usize,
  rptr: usize,
  ridx: usize,
  rval: usize,
): void {
  compressRows(a, rows, cols, rptr, ridx, rval);
  const nnz = load<i32>(rptr + ((<usize>rows) << 2));
  // ptr[j + 1] = entries in column j, then prefix sums: ptr[j] = where column j starts.
  memory.fill(ptr, 0, (<usize>(cols + 1)) << 2);
  for (let q = 0; q < nnz; q++) {
    const c = ptr + ((<usize>(load<i32>(ridx + ((<usize>q) << 2)) + 1)) << 2);
    store<i32>(c, load<i32>(c) + 1);
  }
  for (let j = 0; j < cols; j++) {
    const c = ptr + ((<usize>(j + 1)) << 2);
    store<i32>(c, load<i32>(c) + load<i32>(c - 4));
  }
  // ptr[j] serves as column j's cursor; afterwards it holds where column j + 1 starts.
  for (let i = 0; i < rows; i++) {
    const q1 = load<i32>(rptr + ((<usize>(i + 1)) << 2));
    for (let q = load<i32>(rptr + ((<usize>i) << 2)); q < q1; q++) {
      const c = ptr + ((<usize>load<i32>(ridx + ((<usize>q) << 2))) << 2);
      const at = load<i32>(c);
      store<i32>(idx + ((<usize>at) << 2), i);
      store<f32>(val + ((<usize>at) << 2), load<f32>(rval + ((<usize>q) << 2)));
      store<i32>(c, at + 1);
    }
  }
  for (let j = cols; j > 0; j--)
    store<i32>(ptr + ((<usize>j) << 2), load<i32>(ptr + ((<usize>(j - 1)) << 2)));
  store<i32>(ptr, 0);
}

/**
 * `out` (`m x n`, row-major) = S B for the compressed `m`-row matrix S (`ptr`, `idx`, `val`) and
 * B (`n` floats per row, row-major). Row i of the output stays in cache while the rows of B named
 * by row i of S stream past whole (contiguous, so prefetched), four of them per pass over the
 * output row: four loads of B for one load and one store of the output. Each sum adds its terms
 * in the non-zeros' order, starting from +0, so a row without non-zeros gives +0.
 */
export function sparseProduct(
  ptr: usize,
  idx: usize,
  val: usize,
  m: i32,
  b: usize,
  n: i32,
  out: usize,
): void {
  const rowBytes = (<usize>n) << 2;
  const n4 = n & ~3;
  for (let i = 0; i < m; i++) {
    const q1 = load<i32>(ptr + ((<usize>(i + 1)) << 2));
    let q = load<i32>(ptr + ((<usize>i) << 2));
    const o = out + <usize>i * rowBytes;
    memory.fill(o, 0, rowBytes);
    for (; q + 4 <= q1; q += 4) {
      const e = (<usize>q) << 2;
      const x0 = load<f32>(val + e);
      const x1 = load<f32>(val + e, 4);
      const x2 = load<f32>(val + e, 8);
      const x3 = load<f32>(val + e, 12);
      const s0 = f32x4.splat(x0);
      const s1 = f32x4.splat(x1);
      const s2 = f32x4.splat(x2);
      const s3 = f32x4.splat(x3);
      const p0 = b + <usize>load<i32>(idx + e) * rowBytes;
      const p1 = b + <usize>load<i32>(idx + e, 4) * rowBytes;
      const p2 = b + <usize>load<i32>(idx + e, 8) * rowBytes;
      const p3 = b + <usize>load<i32>(idx + e, 12) * rowBytes;
      let j = 0;
      for (; j < n4; j += 4) {
        const c = (<usize>j) << 2;
        let acc = v128.load(o + c);
        acc = madd(s0, v128.load(p0 + c), acc);
        acc = madd(s1, v128.load(p1 + c), acc);
        acc = madd(s2, v128.load(p2 + c), acc);
        acc = madd(s3, v128.load(p3 + c), acc);
        v128.store(o + c, acc);
      }
      for (; j < n; j++) {
        const c = (<usize>j) << 2;
        let acc = load<f32>(o + c);
        acc += x0 * load<f32>(p0 + c);
        acc += x1 * load<f32>(p1 + c);
        acc += x2 * load<f32>(p2 + c);
        acc += x3 * load<f32>(p3 + c);
        store<f32>(o + c, acc);
      }
    }
    for (; q < q1; q++) {
      const e = (<usize>q) << 2;
      const x0 = load<f32>(val + e);
      const s0 = f32x4.splat(x0);
      const p0 = b + <usize>load<i32>(idx + e) * rowBytes;
      let j = 0;
      for (; j < n4; j += 4) {
        const c = (<usize>j) << 2;
        v128.store(o + c, madd(s0, v128.load(p0 + c), v128.load(o + c)));
      }
      for (; j < n; j++) {
        const c = (<usize>j) << 2;
        store<f32>(o + c, load<f32>(o + c) + x0 * load<f32>(p0 + c));
      }
    }
  }
}
