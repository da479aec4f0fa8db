/**
 * Running top-k selections in wasm: one bounded heap per query, offered a row of scores at a time
 * (`heapOffer`), read out best first at the end (`heapsSort`). The JS side sees no single score.
 *
 * A heap of capacity k takes (k + 2) entries of 8 bytes (f32 score, i32 corpus row): entry 0
 * holds the count at byte 0, entries 1..k the heap (1-based, so the children of c are 2c and
 * 2c + 1, one 16-byte pair), entry k + 1 a sentinel (+Infinity, 0) that ranks above everything, so
 * a full heap's sift-down needs no bounds test for a missing right child. It is a min-heap on the
 * ranking (higher score first, then lower row): the root, entry 1, is the worst entry kept.
 * Scores are clamped to [-1, 1] on entry, as they are reported.
 */

/** True when entry (sa, ia) ranks below (sb, ib). */
function worse(sa: f32, ia: i32, sb: f32, ib: i32): bool {
  return sa < sb || (sa === sb && ia > ib);
}

function clampScore(v: f32): f32 {
  return min<f32>(max<f32>(v, -1), 1);
}

/** Stores entry (s, j) in slot `c` of the heap at `h`. */
function put(h: usize, c: i32, s: f32, j: i32): void {
  const to = h + ((<usize>c) << 3);
  store<f32>(to, s);
  store<i32>(to, j, 4);
}

function scoreAt(h: usize, c: i32): f32 {
  return load<f32>(h + ((<usize>c) << 3));
}

function rowAt(h: usize, c: i32): i32 {
  return load<i32>(h + ((<usize>c) << 3), 4);
}

/** Empties `count` heaps of capacity `k` from `heaps` on: counts 0, sentinels set. */
export function heapsReset(heaps: usize, count: i32, k: i32): void {
  const bytes = (<usize>(k + 2)) << 3;
  for (let q = 0; q < count; q++) {
    const h = heaps + <usize>q * bytes;
    store<i32>(h, 0);
    put(h, k + 1, Infinity, 0);
  }
}

/**
 * Puts (s, j) into the heap of `n` entries at `h` whose root slot is free, sinking it from there
 * past every child that ranks below it. Slot n + 1 must hold a sentinel, so a missing right child
 * is never picked and the loop needs no bounds test for it.
 */
function siftDown(h: usize, n: i32, s: f32, j: i32): void {
  let c = 1;
  for (;;) {
    const l = c << 1;
    if (l > n) break;
    const sl = scoreAt(h, l);
    const il = rowAt(h, l);
    const sr = scoreAt(h, l + 1);
    const ir = rowAt(h, l + 1);
    // Without branches: which child is the worse is a coin toss on random scores.
    const right = i32(sr < sl) | (i32(sr === sl) & i32(ir > il));
    const sm = select<f32>(sr, sl, right !== 0);
    const im = select<i32>(ir, il, right !== 0);
    if (!worse(sm, im, s, j)) break;
    put(h, c, sm, im);
    c = l + right;
  }
  put(h, c, s, j);
}

/**
 * Offers the heap of capacity `k` at `h` the `n` scores at `scores`, for corpus rows `j0`,
 * `j0 + 1`, ..., which must come after every row it was offered before (callers walk the corpus
 * in order). With `allow` (not 0), only rows whose byte `allow[t]` is 1 are offered (a filter's
 * mask, from row `j0`'s byte on). Until the heap is full every score enters; after that only a
 * score strictly above the root's once clamped: one equal to it ranks below it (a higher row).
 * Sixteen scores per step are tested against the root at once, unclamped (above it whenever
 * their clamped values are), into a mask of candidates, and only those are visited; a block with
 * none, by far the most common once the heap is full, costs four compares and a test.
 */
export function heapOffer(h: usize, k: i32, scores: usize, n: i32, j0: i32, allow: usize): void {
  let size = load<i32>(h);
  let t = 0;
  // Filling: sift each new entry up from its leaf.
  for (; size < k && t < n; t++) {
    if (allow !== 0 && load<u8>(allow + <usize>t) !== 1) continue;
    const s = clampScore(load<f32>(scores + ((<usize>t) << 2)));
    const j = j0 + t;
    let c = ++size;
    while (c > 1) {
      const p = c >> 1;
      const sp = scoreAt(h, p);
      const ip = rowAt(h, p);
      if (!worse(s, j, sp, ip)) break;
      put(h, c, sp, ip);
      c = p;
    }
    put(h, c, s, j);
  }
  store<i32>(h, size);
  if (size < k) return;
  let th = scoreAt(h, 1);
  const one = i8x16.splat(1);
  for (; t + 16 <= n; t += 16) {
    const p = scores + ((<usize>t) << 2);
    const f = f32x4.splat(th);
    // One bit per score above the root's at the block's start, visited lowest first; each is
    // tested again, since every entry raises the root.
    let hits =
      i32x4.bitmask(f32x4.gt(v128.load(p), f)) |
      (i32x4.bitmask(f32x4.gt(v128.load(p, 16), f)) << 4) |
      (i32x4.bitmask(f32x4.gt(v128.load(p, 32), f)) << 8) |
      (i32x4.bitmask(f32x4.gt(v128.load(p, 48), f)) << 12);
    if (allow !== 0) hits &= i8x16.bitmask(i8x16.eq(v128.load(allow + <usize>t), one));
    while (hits !== 0) {
      const u = ctz(hits);
      hits &= hits - 1;
      const v = clampScore(load<f32>(p + ((<usize>u) << 2)));
      if (v > th) {
        siftDown(h, k, v, j0 + t + u);
        th = scoreAt(h, 1);
      }
    }
  }
  for (; t < n; t++) {
    if (allow !== 0 && load<u8>(allow + <usize>t) !== 1) continue;
    const v = clampScore(load<f32>(scores + ((<usize>t) << 2)));
    if (v > th) {
      siftDown(h, k, v, j0 + t);
      th = scoreAt(h, 1);
    }
  }
}

/**
 * Reads out `count` heaps of capacity `k` from `heaps` on, best first: query q's rows to
 * `rows + q * k * 4` (i32) and scores to `out + q * k * 4` (f32); slots past a heap's count (fewer
 * rows offered than k) get row 0, score 0. Each heap is emptied by popping its root to the back (a
 * heap sort), which leaves it empty and ready for new scores (slot k + 1 keeps its sentinel).
 */
export function heapsSort(heaps: usize, count: i32, k: i32, rows: usize, out: usize): void {
  const bytes = (<usize>(k + 2)) << 3;
  for (let q = 0; q < count; q++) {
    const h = heaps + <usize>q * bytes;
    const ro = rows + ((<usize>q * <usize>k) << 2);
    const so = out + ((<usize>q * <usize>k) << 2);
    let n = load<i32>(h);
    for (let t = n; t < k; t++) {
      store<i32>(ro + ((<usize>t) << 2), 0);
      store<f32>(so + ((<usize>t) << 2), 0);
    }
    while (n > 0) {
      store<f32>(so + ((<usize>(n - 1)) << 2), scoreAt(h, 1));
      store<i32>(ro + ((<usize>(n - 1)) << 2), rowAt(h, 1));
      // The last entry sinks from the root of the n - 1 left; its slot becomes their sentinel.
      const s = scoreAt(h, n);
      const j = rowAt(h, n);
      put(h, n, Infinity, 0);
      n--;
      siftDown(h, n, s, j);
    }
    store<i32>(h, 0);
  }
}
