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

/** Stores entry (s, j) in slot `c` of the entries at `h` (a heap's, or a pool's from its first). */
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
 * {@link heapOffer} for `count` queries at once: heap q at `heaps + q * slotBytes` offered the `n`
 * scores at `scores + q * n * 4` (a tile of scores, one row a query), for the same corpus rows and
 * `allow`. One call for a tile's queries rather than one each: many queries against few rows (a
 * nearest-centroid search) spent more in the calls than in their scores.
 */
export function heapsOffer(
  heaps: usize,
  slotBytes: i32,
  count: i32,
  k: i32,
  scores: usize,
  n: i32,
  j0: i32,
  allow: usize,
): void {
  for (let q = 0; q < count; q++)
    heapOffer(heaps + <usize>q * <usize>slotBytes, k, scores + <usize>q * ((<usize>n) << 2), n, j0, allow);
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

/*
 * Buffered selections, for large k: where a heap pays a chain of log2 k dependent steps for every
 * row that enters it, a pool appends each such row to a buffer (a few stores) and, whenever the
 * buffer holds 2k rows, cuts it to about its best k at once (`cut`: a histogram of the keys and a
 * pass that keeps the rows from the k-th's bucket up). The threshold after a cut is the bottom of
 * that bucket, a little below the k-th best row so far; between cuts it lags.
 *
 * A pool of capacity k takes POOL_HEAD + 16k bytes: the count (i32) at byte 0, the threshold key
 * (u32, see `keyOf`) at byte 4, the lowest and highest key it may hold (u32) at bytes 8 and 12,
 * then room for 2k entries of 8 bytes (f32 score, i32 row), kept in the order offered, which is
 * increasing rows, so that of equal scores the first kept are the lower rows. Rows enter while
 * their key is at least the threshold key (0, before the first cut, admits all).
 *
 * Scratch (POOL_SCRATCH_HEAD + 16k bytes, one per selection): the counts of a histogram (2048 for a
 * cut, four of 256 for the read-out's sort), then room for two arrays of 2k keys (an exact cut) or
 * 2k entries (the sort).
 */

const POOL_HEAD: usize = 16;
const BINS: i32 = 2048;
/** Bytes of the histograms at the start of a scratch area. */
const POOL_SCRATCH_HEAD: usize = <usize>BINS * 4 + 16;

/**
 * A key that orders clamped scores as numbers do: higher score, higher key, -0 the same as +0
 * (so that equal scores, which rank by row, have equal keys). Always above 0 for a score in
 * [-1, 1], so the threshold key 0 admits every score.
 */
function keyOf(s: f32): u32 {
  let b = reinterpret<u32>(s);
  b = select<u32>(0, b, b === 0x80000000);
  return select<u32>(~b, b | 0x80000000, b >= 0x80000000);
}

/** The score whose key is `key` (the inverse of `keyOf`). */
function scoreOfKey(key: u32): f32 {
  return reinterpret<f32>(select<u32>(key ^ 0x80000000, ~key, key >= 0x80000000));
}

/**
 * A raw score that a row must at least have to enter a pool whose threshold key is `key`: below
 * it, its clamped score's key is below `key` too. -Infinity where the threshold admits -1 (a raw
 * score below -1 clamps to -1).
 */
function rawFloor(key: u32): f32 {
  const s = scoreOfKey(key);
  return key === 0 || s <= -1 ? -Infinity : s;
}

/** Empties `count` pools of capacity `k` from `pools` on. */
export function poolsReset(pools: usize, count: i32, k: i32): void {
  const bytes = POOL_HEAD + ((<usize>k) << 4);
  for (let q = 0; q < count; q++) emptyPool(pools + <usize>q * bytes);
}

function emptyPool(p: usize): void {
  store<i32>(p, 0);
  store<u32>(p, 0, 4);
  store<u32>(p, 0xffffffff, 8);
  store<u32>(p, 0, 12);
}

/** Adds one to count `i` of the histogram at `hist`. */
function count(hist: usize, i: u32): void {
  const at = hist + ((<usize>i) << 2);
  store<i32>(at, load<i32>(at) + 1);
}

/**
 * From bucket `top` down, the one of the histogram at `hist` that holds the `need`-th highest key;
 * the count of the keys in the buckets above it is stored at `above`.
 */
function pick(hist: usize, top: i32, need: i32, above: usize): u32 {
  let b = top;
  let acc = 0;
  for (;;) {
    const h = load<i32>(hist + ((<usize>b) << 2));
    if (acc + h >= need || b === 0) break;
    acc += h;
    b--;
  }
  store<i32>(above, acc);
  return <u32>b;
}

/**
 * Cuts the `size` entries (more than k) of the pool at `p`, in the order they were, and raises its
 * threshold. The keys between the pool's lowest and highest are counted into buckets of equal
 * width, about as many as entries (2^bits, bits = 7..11, so that a small pool's cut does not pay
 * for 2048 counts); then, unless `exact`, every entry from the k-th best's bucket up is kept (k or
 * more), and the threshold becomes that bucket's bottom. Where that bucket is too full for the cut
 * to leave room (more than k / 2 entries past k: many equal or close scores), and for `exact`, the
 * k-th key is found exactly instead, by buckets of the keys of that bucket, gathered into scratch,
 * `bits` of the key at a time; then exactly k entries are kept, those above the k-th key and the
 * first (lowest rows) of those equal to it, and the threshold admits only keys above it.
 */
function cut(p: usize, size: i32, k: i32, scratch: usize, exact: bool): void {
  const e = p + POOL_HEAD;
  const hist = scratch;
  const above = scratch + ((<usize>BINS) << 2);
  const lo = load<u32>(p, 8);
  const hi = load<u32>(p, 12);
  const bits: u32 = min<u32>(11, 32 - clz<u32>(<u32>size));
  let shift: u32 = 0;
  const span = hi - lo;
  if (span >> bits !== 0) shift = 32 - clz(span) - bits;
  const top = <i32>(span >> shift);
  memory.fill(hist, 0, (<usize>(top + 1)) << 2);
  for (let i = 0; i < size; i++) count(hist, (keyOf(scoreAt(e, i)) - lo) >> shift);
  let need = k;
  const b1 = pick(hist, top, need, above);
  const kept = load<i32>(above) + load<i32>(hist + ((<usize>b1) << 2));
  let base = lo + (b1 << shift);
  if (!exact && kept <= k + (k >> 1)) {
    let w = 0;
    for (let i = 0; i < size; i++) {
      const from = e + ((<usize>i) << 3);
      const entry = load<u64>(from);
      store<u64>(e + ((<usize>w) << 3), entry);
      w += i32(keyOf(load<f32>(from)) >= base);
    }
    store<i32>(p, w);
    store<u32>(p, base, 4);
    store<u32>(p, base, 8);
    return;
  }
  need -= load<i32>(above);
  // The keys of bucket b1, then of the bucket of theirs that holds the k-th, and so on.
  let keys = scratch + POOL_SCRATCH_HEAD;
  let other = keys + ((<usize>size) << 2);
  let n = 0;
  for (let i = 0; i < size; i++) {
    const key = keyOf(scoreAt(e, i));
    store<u32>(keys + ((<usize>n) << 2), key);
    n += i32((key - lo) >> shift === b1);
  }
  while (shift > 0) {
    const next: u32 = shift > bits ? shift - bits : 0;
    const last = <i32>((1 << (shift - next)) - 1);
    memory.fill(hist, 0, (<usize>(last + 1)) << 2);
    for (let i = 0; i < n; i++) count(hist, (load<u32>(keys + ((<usize>i) << 2)) - base) >> next);
    const b = pick(hist, last, need, above);
    need -= load<i32>(above);
    let m = 0;
    for (let i = 0; i < n; i++) {
      const key = load<u32>(keys + ((<usize>i) << 2));
      store<u32>(other + ((<usize>m) << 2), key);
      m += i32((key - base) >> next === b);
    }
    base += b << next;
    shift = next;
    n = m;
    const t = keys;
    keys = other;
    other = t;
  }
  const kth = base;
  // Keep every key above the k-th's and the first `need` equal to it (`need` >= 1), in order.
  let w = 0;
  for (let i = 0; i < size; i++) {
    const from = e + ((<usize>i) << 3);
    const entry = load<u64>(from);
    const key = keyOf(load<f32>(from));
    const eq = i32(key === kth);
    const keep = i32(key > kth) | (eq & i32(need > 0));
    need -= eq & keep;
    store<u64>(e + ((<usize>w) << 3), entry);
    w += keep;
  }
  store<i32>(p, w);
  store<u32>(p, kth + 1, 4);
  store<u32>(p, kth, 8);
}

/**
 * Offers the pool of capacity `k` at `p` the `n` scores at `scores`, for corpus rows `j0`, `j0 + 1`,
 * ..., which must come after every row it was offered before; `allow` as for `heapOffer`. Sixteen
 * scores per step are tested against the threshold at once (raw, with `rawFloor`; the last few
 * one by one), and only the candidates found are clamped, tested by key and appended; a full
 * buffer is cut (`cut`, with `scratch` of POOL_SCRATCH_HEAD + 16k bytes) and the threshold rises.
 */
export function poolOffer(
  p: usize,
  k: i32,
  scores: usize,
  n: i32,
  j0: i32,
  allow: usize,
  scratch: usize,
): void {
  const e = p + POOL_HEAD;
  const room = k << 1;
  let size = load<i32>(p);
  let th = load<u32>(p, 4);
  let lo = load<u32>(p, 8);
  let hi = load<u32>(p, 12);
  let floor = rawFloor(th);
  const one = i8x16.splat(1);
  for (let t = 0; t < n; t += 16) {
    const at = scores + ((<usize>t) << 2);
    let hits = 0;
    if (t + 16 <= n) {
      const f = f32x4.splat(floor);
      hits =
        i32x4.bitmask(f32x4.ge(v128.load(at), f)) |
        (i32x4.bitmask(f32x4.ge(v128.load(at, 16), f)) << 4) |
        (i32x4.bitmask(f32x4.ge(v128.load(at, 32), f)) << 8) |
        (i32x4.bitmask(f32x4.ge(v128.load(at, 48), f)) << 12);
      if (allow !== 0) hits &= i8x16.bitmask(i8x16.eq(v128.load(allow + <usize>t), one));
    } else {
      for (let u = 0; u < n - t; u++) {
        const ok = allow === 0 || load<u8>(allow + <usize>(t + u)) === 1;
        hits |= i32(ok && load<f32>(at + ((<usize>u) << 2)) >= floor) << u;
      }
    }
    while (hits !== 0) {
      const u = ctz(hits);
      hits &= hits - 1;
      const v = clampScore(load<f32>(at + ((<usize>u) << 2)));
      const key = keyOf(v);
      if (key < th) continue;
      put(e, size, v, j0 + t + u);
      lo = min(lo, key);
      hi = max(hi, key);
      if (++size === room) {
        store<u32>(p, lo, 8);
        store<u32>(p, hi, 12);
        cut(p, size, k, scratch, false);
        size = load<i32>(p);
        th = load<u32>(p, 4);
        lo = load<u32>(p, 8);
        floor = rawFloor(th);
      }
    }
  }
  store<i32>(p, size);
  store<u32>(p, lo, 8);
  store<u32>(p, hi, 12);
}

/** {@link poolOffer} for `count` queries at once, as {@link heapsOffer} offers heaps. */
export function poolsOffer(
  pools: usize,
  slotBytes: i32,
  count: i32,
  k: i32,
  scores: usize,
  n: i32,
  j0: i32,
  allow: usize,
  scratch: usize,
): void {
  for (let q = 0; q < count; q++)
    poolOffer(
      pools + <usize>q * <usize>slotBytes,
      k,
      scores + <usize>q * ((<usize>n) << 2),
      n,
      j0,
      allow,
      scratch,
    );
}

/**
 * Reads out `count` pools of capacity `k` from `pools` on, best first, like `heapsSort` (rows to
 * `rows + q * k * 4`, scores to `out + q * k * 4`, row 0 and score 0 past a pool's count), and
 * empties them. Each pool is cut to its best k, then sorted by key from the highest, stably (a
 * radix sort on the bytes of the key from the lowest, a pass for each byte that is not the same
 * in every key), so equal scores stay in row order.
 */
export function poolsSort(pools: usize, count: i32, k: i32, rows: usize, out: usize, scratch: usize): void {
  const bytes = POOL_HEAD + ((<usize>k) << 4);
  const hist = scratch;
  const tmp = scratch + POOL_SCRATCH_HEAD;
  for (let q = 0; q < count; q++) {
    const p = pools + <usize>q * bytes;
    const e = p + POOL_HEAD;
    const ro = rows + ((<usize>q * <usize>k) << 2);
    const so = out + ((<usize>q * <usize>k) << 2);
    if (load<i32>(p) > k) cut(p, load<i32>(p), k, scratch, true);
    const n = load<i32>(p);
    for (let t = n; t < k; t++) {
      store<i32>(ro + ((<usize>t) << 2), 0);
      store<f32>(so + ((<usize>t) << 2), 0);
    }
    // Counts of the four bytes of ~key (ascending ~key: descending score) at once.
    memory.fill(hist, 0, 4 * 256 * 4);
    for (let i = 0; i < n; i++) {
      const r = ~keyOf(scoreAt(e, i));
      for (let d: u32 = 0; d < 4; d++) {
        const at = hist + ((<usize>(d * 256 + ((r >> (d * 8)) & 255))) << 2);
        store<i32>(at, load<i32>(at) + 1);
      }
    }
    // Each byte that differs between keys takes a pass, from `src` to `dst`, the two areas taking
    // turns; the last pass writes rows and scores out instead.
    let passes: u32 = 0;
    for (let d: u32 = 0; d < 4; d++) {
      const h = hist + ((<usize>d) << 10);
      let sum = 0;
      let most = 0;
      for (let b: usize = 0; b < 256; b++) {
        const c = load<i32>(h + (b << 2));
        store<i32>(h + (b << 2), sum);
        sum += c;
        most = max(most, c);
      }
      // A byte the same in every key leaves the order as it is: its pass is skipped.
      if (most < n) passes |= 1 << d;
    }
    let src = e;
    let dst = tmp;
    for (let d: u32 = 0; d < 4; d++) {
      if ((passes & (1 << d)) === 0) continue;
      const h = hist + ((<usize>d) << 10);
      const last = passes >> (d + 1) === 0;
      for (let i = 0; i < n; i++) {
        const from = src + ((<usize>i) << 3);
        const s = load<f32>(from);
        const at = h + ((<usize>((~keyOf(s) >> (d * 8)) & 255)) << 2);
        const pos = load<i32>(at);
        store<i32>(at, pos + 1);
        if (last) {
          store<f32>(so + ((<usize>pos) << 2), s);
          store<i32>(ro + ((<usize>pos) << 2), load<i32>(from, 4));
        } else {
          store<u64>(dst + ((<usize>pos) << 3), load<u64>(from));
        }
      }
      if (!last) {
        const t = src;
        src = dst;
        dst = t;
      }
    }
    // No byte differs (every key the same, or one entry): the order is the order offered.
    if (passes === 0) {
      for (let i = 0; i < n; i++) {
        const from = e + ((<usize>i) << 3);
        store<f32>(so + ((<usize>i) << 2), load<f32>(from));
        store<i32>(ro + ((<usize>i) << 2), load<i32>(from, 4));
      }
    }
    emptyPool(p);
  }
}
