/**
 * The sparse side of `matmul`: when most of A is zero (pixels of a digit, rectified activations),
 * `C = op(A) B` is computed over A's non-zero entries only, from a compressed-row copy of op(A)
 * (`ptr`: rows + 1 offsets; `idx`, `val`: the column and value of each non-zero, in column order).
 * Row i of C is then the sum over the non-zeros (p, x) of row i of x times row p of B, four lanes
 * at a time across B's columns. A zero of A would only add x * B[p][j] = ±0 to a sum, so skipping
 * it changes nothing as long as B is finite (the caller checks with `allFinite`). op(A) = Aᵀ is
 * compressed straight from A (counted per column, then scattered), with one spare entry after
 * each row of Aᵀ, which the product skips (its `gap`).
 */

/**
 * For each 4-bit mask (bit t set: lane t kept), the `i8x16.swizzle` that moves the kept lanes of
 * a vector of four 32-bit values to its front, in lane order (the lanes after them are don't-care).
 */
// biome-ignore format: one mask per line
const PACK = memory.data<u8>([
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  4, 5, 6, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 1, 2, 3, 4, 5, 6, 7, 0, 0, 0, 0, 0, 0, 0, 0,
  8, 9, 10, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 1, 2, 3, 8, 9, 10, 11, 0, 0, 0, 0, 0, 0, 0, 0,
  4, 5, 6, 7, 8, 9, 10, 11, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0, 0, 0, 0,
  12, 13, 14, 15, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 1, 2, 3, 12, 13, 14, 15, 0, 0, 0, 0, 0, 0, 0, 0,
  4, 5, 6, 7, 12, 13, 14, 15, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 1, 2, 3, 4, 5, 6, 7, 12, 13, 14, 15, 0, 0, 0, 0,
  8, 9, 10, 11, 12, 13, 14, 15, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, 0, 0, 0, 0,
  4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0, 0, 0, 0,
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
], 16);

/**
 * Compressed rows of A (`rows x cols`, row-major) into `ptr` (`rows + 1` ints), `idx` and `val`,
 * giving up once more than `limit` non-zeros are found (-0 counts as zero; NaN as non-zero).
 * Returns the non-zeros, or, when given up, some count above `limit` (at the end of the first row
 * that passed it). Sixteen values at a time: a run of sixteen zeros (a digit's margins, a
 * rectified row's dead units) is passed over in one test. Otherwise without a branch per value
 * (zeros and non-zeros mix unpredictably): four values at a time, the non-zero ones moved to the
 * front of a vector by a shuffle picked by their mask, and the whole vector stored at the cursor,
 * which moves on past the non-zeros only. So `idx` and `val` need room for
 * `min(limit, rows x cols) + cols + 4` entries.
 */
export function compressRows(
  a: usize,
  rows: i32,
  cols: i32,
  limit: i32,
  ptr: usize,
  idx: usize,
  val: usize,
): i32 {
  const zero = f32x4.splat(0);
  const four = i32x4.splat(4);
  const sixteen = i32x4.splat(16);
  const cols16 = cols & ~15;
  const cols4 = cols & ~3;
  let q = 0;
  store<i32>(ptr, 0);
  for (let i = 0; i < rows; i++) {
    const row = a + <usize>i * ((<usize>cols) << 2);
    let at = i32x4(0, 1, 2, 3);
    let j = 0;
    for (; j < cols16; j += 16) {
      const p = row + ((<usize>j) << 2);
      const v0 = v128.load(p, 0);
      const v1 = v128.load(p, 16);
      const v2 = v128.load(p, 32);
      const v3 = v128.load(p, 48);
      const n0 = f32x4.ne(v0, zero);
      const n1 = f32x4.ne(v1, zero);
      const n2 = f32x4.ne(v2, zero);
      const n3 = f32x4.ne(v3, zero);
      if (!v128.any_true(v128.or(v128.or(n0, n1), v128.or(n2, n3)))) {
        at = i32x4.add(at, sixteen);
        continue;
      }
      q = pack(v0, n0, at, q, idx, val);
      at = i32x4.add(at, four);
      q = pack(v1, n1, at, q, idx, val);
      at = i32x4.add(at, four);
      q = pack(v2, n2, at, q, idx, val);
      at = i32x4.add(at, four);
      q = pack(v3, n3, at, q, idx, val);
      at = i32x4.add(at, four);
    }
    for (; j < cols4; j += 4) {
      const v = v128.load(row + ((<usize>j) << 2));
      q = pack(v, f32x4.ne(v, zero), at, q, idx, val);
      at = i32x4.add(at, four);
    }
    for (; j < cols; j++) {
      const v = load<f32>(row + ((<usize>j) << 2));
      store<i32>(idx + ((<usize>q) << 2), j);
      store<f32>(val + ((<usize>q) << 2), v);
      q += i32(v !== 0);
    }
    store<i32>(ptr + ((<usize>(i + 1)) << 2), q);
    if (q > limit) return q;
  }
  return q;
}

/**
 * Stores the lanes of `v` where `nz` is set (and their columns, from `at`) at entry `q` of `idx`
 * and `val`, moved to the front by the shuffle for their mask; returns `q` moved past them.
 * Small enough for the optimiser to inline at every use.
 */
function pack(v: v128, nz: v128, at: v128, q: i32, idx: usize, val: usize): i32 {
  const mask = v128.bitmask<i32>(nz);
  const pick = v128.load(PACK + ((<usize>mask) << 4));
  const e = (<usize>q) << 2;
  v128.store(val + e, i8x16.swizzle(v, pick));
  v128.store(idx + e, i8x16.swizzle(at, pick));
  return q + popcnt<i32>(mask);
}

/**
 * The first pass of compressing Aᵀ (A `rows x cols`, row-major: one row of Aᵀ per column of A):
 * the non-zeros of each column of A, counted four columns at a time, laid out as where each
 * column's entries will start in `idx` and `val` with one spare entry after each column's
 * (see {@link compressColumns}): `ptr[j]` (`cols + 1` ints) = the entries of the columns before j,
 * plus j. Returns the non-zeros (-0 counts as zero; NaN as non-zero).
 */
export function countColumns(a: usize, rows: i32, cols: i32, ptr: usize): i32 {
  const zero = f32x4.splat(0);
  const cols4 = cols & ~3;
  memory.fill(ptr, 0, (<usize>(cols + 1)) << 2);
  for (let i = 0; i < rows; i++) {
    const row = a + <usize>i * ((<usize>cols) << 2);
    let j = 0;
    for (; j < cols4; j += 4) {
      // ne gives -1 in the lanes that are not zero.
      const c = ptr + ((<usize>j) << 2);
      v128.store(c, i32x4.sub(v128.load(c), f32x4.ne(v128.load(row + ((<usize>j) << 2)), zero)));
    }
    for (; j < cols; j++) {
      const c = ptr + ((<usize>j) << 2);
      store<i32>(c, load<i32>(c) + i32(load<f32>(row + ((<usize>j) << 2)) !== 0));
    }
  }
  let start = 0;
  for (let j = 0; j < cols; j++) {
    const c = ptr + ((<usize>j) << 2);
    const count = load<i32>(c);
    store<i32>(c, start);
    start += count + 1;
  }
  store<i32>(ptr + ((<usize>cols) << 2), start);
  return start - cols;
}

/**
 * Columns {@link compressColumns} takes at a time (a multiple of 4): the lines their cursors write
 * next (2 x 128 x 64 bytes) stay in the first-level cache.
 */
const SCATTER_COLUMNS = 128;

/**
 * Compressed rows of Aᵀ (A `rows x cols`, row-major) into `idx` and `val` (room for non-zeros +
 * `cols` entries), after {@link countColumns} filled `ptr`: column j of A goes to entries
 * [ptr[j], ptr[j + 1] - 1), in A's row order, and the entry after them is spare. Groups of four
 * columns that are all zero in a row are skipped in one test; in the others, each value is
 * written at its column's cursor (four cursors in one vector), which moves on past the non-zeros
 * only (no branch per value): a zero is written to the spare entry at worst. `ptr` serves as the
 * cursors, and is put back afterwards.
 */
export function compressColumns(a: usize, rows: i32, cols: i32, ptr: usize, idx: usize, val: usize): void {
  const zero = f32x4.splat(0);
  for (let j0 = 0; j0 < cols; j0 += SCATTER_COLUMNS) {
    const j1 = j0 + SCATTER_COLUMNS <= cols ? j0 + SCATTER_COLUMNS : cols;
    for (let i = 0; i < rows; i++) {
      const row = a + <usize>i * ((<usize>cols) << 2);
      let j = j0;
      for (; j + 4 <= j1; j += 4) {
        const v = v128.load(row + ((<usize>j) << 2));
        const nz = f32x4.ne(v, zero);
        if (v128.any_true(nz)) {
          const c = ptr + ((<usize>j) << 2);
          const at = v128.load(c);
          const e0 = (<usize>i32x4.extract_lane(at, 0)) << 2;
          const e1 = (<usize>i32x4.extract_lane(at, 1)) << 2;
          const e2 = (<usize>i32x4.extract_lane(at, 2)) << 2;
          const e3 = (<usize>i32x4.extract_lane(at, 3)) << 2;
          store<i32>(idx + e0, i);
          store<f32>(val + e0, f32x4.extract_lane(v, 0));
          store<i32>(idx + e1, i);
          store<f32>(val + e1, f32x4.extract_lane(v, 1));
          store<i32>(idx + e2, i);
          store<f32>(val + e2, f32x4.extract_lane(v, 2));
          store<i32>(idx + e3, i);
          store<f32>(val + e3, f32x4.extract_lane(v, 3));
          v128.store(c, i32x4.sub(at, nz));
        }
      }
      for (; j < j1; j++) {
        const v = load<f32>(row + ((<usize>j) << 2));
        const c = ptr + ((<usize>j) << 2);
        const at = load<i32>(c);
        store<i32>(idx + ((<usize>at) << 2), i);
        store<f32>(val + ((<usize>at) << 2), v);
        store<i32>(c, at + i32(v !== 0));
      }
    }
  }
  // ptr[j] is now where column j's entries end: column j + 1's start is one past that.
  for (let j = cols; j > 0; j--) {
    store<i32>(ptr + ((<usize>j) << 2), load<i32>(ptr + ((<usize>(j - 1)) << 2)) + 1);
  }
  store<i32>(ptr, 0);
}

/**
 * `out` (`m x n`, row-major) = S B for the compressed `m`-row matrix S (`ptr`, `idx`, `val`: row i's
 * entries are [ptr[i], ptr[i + 1] - gap), `gap` 1 after {@link compressColumns}, 0 after
 * {@link compressRows}) and B (`n` floats per row, row-major), unrolled by scripts/gen.mjs into
 * generated/sparse.ts. Row i of the output stays in cache while the rows of B named by row i of S
 * stream past whole (contiguous, so prefetched), eight of them per pass over the output row (then
 * four, then one for the last few): eight loads of B for one load and one store of the output,
 * 64 columns per loop step, then 16, 4 and 1. Each sum adds its terms in the non-zeros' order,
 * starting from +0, so a row without non-zeros gives +0 and the grouping never changes a bit.
 */
export { sparseProduct } from './generated/sparse';
