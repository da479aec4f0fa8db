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

/** Empties `count` heaps of capacity `k` from `heaps` on: counts 0, sentinels set. */
export function heapsReset(heaps: usize, count: i32, k: i32): void {
  const bytes = (<usize>(k + 2)) << 3;
  for (let q = 0; q < count; q++) {
    const h = heaps + <usize>q * bytes;
    store<i32>(h, 0);
    const last = h + ((<usize>(k + 1)) << 3);
    store<f32>(last, Infinity);
    store<i32>(last, 0, 4);
  }
}

/** Puts (s, j) into the full heap of `k` entries at `h` in place of its root (which it beats). */
function replaceRoot(h: usize, k: i32, s: f32, j: i32): void {
  let c = 1;
  for (;;) {
    const l = c << 1;
    if (l > k) break;
    // Children l and l + 1 side by side (l + 1 may be the sentinel, which is never the worse).
    const at = h + ((<usize>l) << 3);
    const sl = load<f32>(at);
    const il = load<i32>(at, 4);
    const sr = load<f32>(at, 8);
    const ir = load<i32>(at, 12);
    // Without branches: which child is the worse is a coin toss on random scores.
    const right = i32(sr < sl) | (i32(sr === sl) & i32(ir > il));
    const m = l + right;
    const sm = select<f32>(sr, sl, right !== 0);
    const im = select<i32>(ir, il, right !== 0);
    if (!worse(sm, im, s, j)) break;
    const to = h + ((<usize>c) << 3);
    store<f32>(to, sm);
    store<i32>(to, im, 4);
    c = m;
  }
  const to = h + ((<usize>c) << 3);
  store<f32>(to, s);
  store<i32>(to, j, 4);
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
      const from = h + ((<usize>p) << 3);
      const sp = load<f32>(from);
      const ip = load<i32>(from, 4);
      if (!worse(s, j, sp, ip)) break;
      const to = h + ((<usize>c) << 3);
      store<f32>(to, sp);
      store<i32>(to, ip, 4);
      c = p;
    }
    const to = h + ((<usize>c) << 3);
    store<f32>(to, s);
    store<i32>(to, j, 4);
  }
  store<i32>(h, size);
  if (size < k) return;
  let th = load<f32>(h, 8);
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
        replaceRoot(h, k, v, j0 + t + u);
        th = load<f32>(h, 8);
      }
    }
  }
  for (; t < n; t++) {
    if (allow !== 0 && load<u8>(allow + <usize>t) !== 1) continue;
    const v = clampScore(load<f32>(scores + ((<usize>t) << 2)));
    if (v > th) {
      replaceRoot(h, k, v, j0 + t);
      th = load<f32>(h, 8);
    }
  }
}

/**
 * Reads out `count` heaps of capacity `k` from `heaps` on, best first: query q's rows to
 * `rows + q * k * 4` (i32) and scores to `out + q * k * 4` (f32); slots past a heap's count (fewer
 * rows offered than k) get row 0, score 0. Each heap is emptied by popping its root to the back (a
 * heap sort), which leaves it empty and ready for new scores (the sentinel stays).
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
      const root = h + 8;
      store<f32>(so + ((<usize>(n - 1)) << 2), load<f32>(root));
      store<i32>(ro + ((<usize>(n - 1)) << 2), load<i32>(root, 4));
      // The last entry sinks from the root of the n - 1 left.
      const last = h + ((<usize>n) << 3);
      const s = load<f32>(last);
      const j = load<i32>(last, 4);
      n--;
      let c = 1;
      for (;;) {
        const l = c << 1;
        if (l > n) break;
        const at = h + ((<usize>l) << 3);
        let m = l;
        let sm = load<f32>(at);
        let im = load<i32>(at, 4);
        if (l < n) {
          const sr = load<f32>(at, 8);
          const ir = load<i32>(at, 12);
          if (worse(sr, ir, sm, im)) {
            m = l + 1;
            sm = sr;
            im = ir;
          }
        }
        if (!worse(sm, im, s, j)) break;
        const to = h + ((<usize>c) << 3);
        store<f32>(to, sm);
        store<i32>(to, im, 4);
        c = m;
      }
      const to = h + ((<usize>c) << 3);
      store<f32>(to, s);
      store<i32>(to, j, 4);
    }
    store<i32>(h, 0);
  }
}
