import { checkSameCols, checkSameShape } from './check.js';
import type { Matrix } from './contract.js';
import { argError } from './errors.js';
import { matrixArg, Tensor, type TensorInput, toTensor } from './tensor.js';

/**
 * The admission gate: every public entry point that takes rows passes them through {@link admit}
 * (or {@link admitPair}) before anything else, in the same synchronous step as the call.
 *
 * It does three things in one pass over the data, so that everything after it can trust what it
 * holds:
 * 1. **Snapshot.** The rows are copied into a buffer that only CosineKit holds (arrays of numbers
 *    are converted into one anyway). What a call uses is its inputs as they were when it was
 *    called: the caller may reuse, poison or transfer its arrays as soon as the call returns.
 * 2. **Finite check.** NaN and ±Infinity are refused with `NON_FINITE`, naming the position.
 * 3. **Magnitude guard.** Float32 engines square their inputs: above about 2^63 the squares
 *    overflow, below about 2^-63 they flush to zero, and a cosine silently becomes NaN or 0. Cosine
 *    is invariant to scaling a row, so rows whose largest |x| lies outside [2^-40, 2^40] are
 *    multiplied by a power of two (exact in binary floating point) into [0.5, 1).
 *
 * Kernels receive only admitted rows and do not check them again. The one exception is a kernel
 * its backend declares ungated (`Backend.ungated`): it answers within the call, is exact at any
 * finite magnitude and never answers a non-finite row as a value (NaN, or a throw), so the kit
 * hands it the caller's rows and goes through the gate only when the kernel throws or its answer
 * is refused (to name the bad argument, in the gate's order of checks).
 */

/**
 * Snapshots of short calls go into reused buffers: allocating a fresh typed array costs a few
 * microseconds, as much as the work of a one-row call. Larger inputs get their own buffer (the
 * allocation is small next to their work), and so does anything a backend may keep (a corpus).
 */
const POOLED_MAX = 1 << 16;
const POOL_SIZE = 8;
/** Pooled buffers, kept as int32 views: the gate scans a snapshot's bits through them. */
const pool: Int32Array[] = [];
/**
 * The last two large snapshot buffers calls gave back (a pair's two inputs): a later large call
 * reuses one that fits (at most twice the size needed). A fresh buffer of many megabytes faults in
 * every page on first write, which can cost more than the product it feeds (a browser page pays it
 * on every call). They are dropped after {@link SPARE_IDLE_MS} without a call giving one back, so
 * an idle kit holds nothing. They were held by `WeakRef`s, but a weak target stays alive until the
 * current job ends, and a loop awaiting kit calls that settle at once never ends its job: every
 * buffer of such a loop stayed alive (350 MB a pass of 300 calls at d = 2048) until it yielded.
 */
const spares: Int32Array[] = [];
const SPARE_IDLE_MS = 2000;
let spareTimer: ReturnType<typeof setTimeout> | undefined;

/**
 * Outputs of at most this many bytes are copied before they reach the caller: a copy cannot share
 * memory with the pool, and asking a small typed array for its `.buffer` costs V8 about half a
 * microsecond (it moves the array off the heap), as much as a whole one-row call.
 */
const SMALL_OUT = 64;

/**
 * The pooled buffers one call holds. The call returns them with {@link Lease.release} once its
 * kernel has settled; a call whose kernel was abandoned never returns them (the kernel may still
 * read them), and an output that shares a buffer with them keeps that buffer out of the pool.
 */
export class Lease {
  // One call holds at most two buffers (a pair of inputs): plain fields, no array per call.
  #a: Int32Array | null = null;
  #b: Int32Array | null = null;
  /** The bits of the buffer {@link Lease.take} last handed out, from offset 0; null if not pooled. */
  bits: Int32Array | null = null;

  /** A buffer of `n` values: pooled when small, the spare or fresh when large. */
  take(n: number): Float32Array {
    this.bits = null;
    if (this.#b !== null) return new Float32Array(n);
    if (n > POOLED_MAX) {
      let buf: Int32Array | undefined;
      for (let i = 0; i < spares.length && buf === undefined; i++) {
        const old = spares[i];
        if (old.length >= n && old.length <= 2 * n) {
          buf = old;
          spares.splice(i, 1);
        }
      }
      buf ??= new Int32Array(n);
      if (this.#a === null) this.#a = buf;
      else this.#b = buf;
      this.bits = buf;
      return new Float32Array(buf.buffer, 0, n);
    }
    let at = -1;
    for (let i = 0; i < pool.length; i++)
      if (pool[i].length >= n && (at < 0 || pool[i].length < pool[at].length)) at = i;
    let buf: Int32Array;
    if (at < 0) buf = new Int32Array(Math.max(n, 1024));
    else {
      buf = pool[at];
      pool[at] = pool[pool.length - 1];
      pool.pop();
    }
    if (this.#a === null) this.#a = buf;
    else this.#b = buf;
    this.bits = buf;
    return new Float32Array(buf.buffer, 0, n);
  }

  /** Releases the buffers (an admission failed, nothing ran) and hands back `e` to throw. */
  fail(e: unknown): unknown {
    this.release();
    return e;
  }

  /**
   * `out` as the caller may keep it: a small output is copied (see `SMALL_OUT`); a larger one that
   * shares memory with a held buffer keeps that buffer out of the pool.
   */
  keep<T extends Float32Array | Int32Array>(out: T): T {
    if (out.byteLength <= SMALL_OUT)
      return (out instanceof Float32Array ? new Float32Array(out) : new Int32Array(out)) as T;
    this.#drop(out.buffer);
    return out;
  }

  /** Returns the buffers to the pool, except any that `outputs` share memory with. */
  release(...outputs: unknown[]): void {
    for (const o of outputs) if (ArrayBuffer.isView(o)) this.#drop(o.buffer);
    give(this.#a);
    give(this.#b);
    this.#a = this.#b = null;
  }

  #drop(buffer: ArrayBufferLike): void {
    if (this.#a !== null && this.#a.buffer === buffer) this.#a = null;
    if (this.#b !== null && this.#b.buffer === buffer) this.#b = null;
  }
}

/** Hands a buffer a call held back: a large one becomes the spare, a small one goes to the pool. */
function give(b: Int32Array | null): void {
  if (b === null) return;
  if (b.length > POOLED_MAX) {
    if (spares.push(b) > 2) spares.shift();
    clearTimeout(spareTimer);
    spareTimer = setTimeout(() => {
      spares.length = 0;
    }, SPARE_IDLE_MS);
    // Node: the timer must not keep a process alive that has nothing else to do.
    (spareTimer as { unref?: () => void }).unref?.();
  } else if (pool.length < POOL_SIZE) pool.push(b);
}

/** Rows that passed the gate: a private, finite, float32-safe copy. */
export interface Admitted {
  /** The snapshot, owned by CosineKit. */
  readonly tensor: Tensor;
  /** `tensor row i = original row i * factor[i]`; null when no row was rescaled. */
  readonly factor: Float64Array | null;
}

/**
 * Admits one input of operation `op` as argument `arg`: converts it to a tensor, snapshots it,
 * checks it is finite and rescales rows of extreme magnitude. Throws a `CosineKitError` naming
 * `arg` and `op` on any failure. With a `lease`, a small snapshot goes into a pooled buffer that
 * the caller releases when its kernel has settled; without one, into a buffer of its own.
 */
export function admit(
  input: TensorInput,
  op: string,
  arg: string,
  lease?: Lease,
  shape?: readonly [number, number] | readonly [number],
): Admitted {
  return snapshot(toTensor(input, op, arg, shape), input, op, arg, lease);
}

function snapshot(
  t: Tensor,
  input: TensorInput,
  op: string,
  arg: string,
  lease: Lease | undefined,
): Admitted {
  const src = t.data;
  intact(t, op, arg);
  // A Tensor or Float32Array is the caller's memory: copy it. Arrays of numbers were just
  // converted into a fresh buffer nobody else holds; a small one still goes into a pooled buffer,
  // whose bits the scan reads without making a view.
  const n = src.length;
  const theirs = input instanceof Tensor || input instanceof Float32Array;
  const dst = lease && (theirs || n <= POOLED_MAX) ? lease.take(n) : theirs ? new Float32Array(n) : src;
  return admitRows(src, dst, t.rows, t.cols, op, arg, dst === src ? null : (lease?.bits ?? null));
}

/**
 * Admits two inputs that must agree in width (`'cols'`, as for a cosine matrix) or in shape
 * (`'shape'`, as for paired rows). Shapes are compared before anything is copied.
 */
export function admitPair(
  a: TensorInput,
  b: TensorInput,
  op: string,
  agree: 'cols' | 'shape',
  names: readonly [string, string] = ['a', 'b'],
  lease?: Lease,
): [Admitted, Admitted] {
  const ta = toTensor(a, op, names[0]);
  const tb = toTensor(b, op, names[1]);
  if (agree === 'shape') checkSameShape(op, names[0], ta, names[1], tb);
  else checkSameCols(op, names[0], ta, names[1], tb);
  return [snapshot(ta, a, op, names[0], lease), snapshot(tb, b, op, names[1], lease)];
}

/**
 * Admits the tensor `t` (the caller's `input`, already converted) into `dst` from float `at` on:
 * the gate's copy, finite check and rescale, written straight where the caller collects rows
 * (a streamed corpus's segment), with no snapshot buffer of its own. `dst` must have room. With
 * `rescale` false, rows of extreme magnitude are left as they are (for a kernel exact at any
 * magnitude, `Backend.ungated`; {@link guardRows} rescales them later if they go elsewhere).
 */
export function admitInto(
  t: Tensor,
  op: string,
  arg: string,
  dst: Float32Array,
  at: number,
  rescale = true,
): Admitted {
  intact(t, op, arg);
  return admitRows(t.data, dst.subarray(at, at + t.data.length), t.rows, t.cols, op, arg, null, rescale);
}

/** `DISPOSED` when `t`'s buffer no longer holds its values (transferred or shrunk). */
function intact(t: Tensor, op: string, arg: string): void {
  if (t.data.length !== t.rows * t.cols) {
    argError(
      'DISPOSED',
      op,
      arg,
      `holds ${t.data.length} values for shape [${t.rows}, ${t.cols}]: its buffer was transferred (detached) or shrunk.`,
    );
  }
}

/**
 * Checks and rescales rows CosineKit already owns (such as a decoded file) in place, as the gate
 * does for a caller's rows.
 */
export function guardRows(data: Float32Array, rows: number, cols: number, op: string, arg: string): Admitted {
  return admitRows(data, data, rows, cols, op, arg, null);
}

/**
 * `x` as a kernel that is not exact at every magnitude can take it (the kernel table's cosine
 * kernels, see `CosineKit.kernels`): `null` when no row needs it (each row's largest magnitude
 * within [2^-40, 2^40], or a zero row), else a copy whose extreme rows are scaled by a power of two
 * into [0.5, 1) as the gate scales them (`factor`). Its values must be finite (scanned before).
 * One pass of the gate's scan over `x`; a copy only when some row needs it.
 */
export function tameRows(x: Matrix, op: string, arg: string): Admitted | null {
  const { data, rows, cols } = x;
  const b = new Int32Array(data.buffer, data.byteOffset, data.length);
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    if (ordinary(b, o, o + cols)) continue;
    const mb = maxBits(b, o, o + cols);
    if (mb > HI_BITS || (mb > 0 && mb < LO_BITS))
      return admitRows(data, new Float32Array(data.length), rows, cols, op, arg, null);
  }
  return null;
}

/** Float32 bit patterns (sign cleared) of Infinity and of the bounds 2^40 and 2^-40 (see above). */
const INF_BITS = 0x7f800000;
const HI_BITS = 0x53800000;
const LO_BITS = 0x2b800000;
const bitScratch = new Int32Array(1);
const floatScratch = new Float32Array(bitScratch.buffer);

/**
 * The gate's one pass: copies `src` into `dst` (which may be `src`; a memcpy), then scans the
 * copy's bits (`bits`, the buffer's int32 view from offset 0, or made here) for each row's largest
 * magnitude. With the sign cleared, float32 bit patterns order as their magnitudes do, and NaN
 * and ±Infinity order above every finite value: one integer max per value finds both, about twice
 * as fast in V8 as a float max. Then the rare extreme row is rescaled in `dst`.
 */
function admitRows(
  src: Float32Array,
  dst: Float32Array,
  rows: number,
  cols: number,
  op: string,
  arg: string,
  bits: Int32Array | null,
  rescale = true,
): Admitted {
  if (dst !== src) dst.set(src);
  const b = bits ?? new Int32Array(dst.buffer, dst.byteOffset, dst.length);
  let factor: Float64Array | null = null;
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    if (ordinary(b, o, o + cols)) continue;
    const mb = maxBits(b, o, o + cols);
    if (mb >= INF_BITS) nonFinite(op, arg, dst, cols, o + firstNonFinite(dst, o, cols));
    if (rescale && (mb > HI_BITS || (mb > 0 && mb < LO_BITS))) {
      bitScratch[0] = mb;
      const m = floatScratch[0];
      factor ??= new Float64Array(rows).fill(1);
      // 2^-e with m * 2^-e in [0.5, 1): exact, and never overflows for float32 input.
      let f = 2 ** -Math.ceil(Math.log2(m) + 1e-12);
      if (m * f >= 1) f /= 2;
      factor[i] = f;
      for (let j = o; j < o + cols; j++) dst[j] *= f;
    }
  }
  admitted.add(dst);
  return { tensor: new Tensor(dst, rows, cols), factor };
}

/** The arrays {@link admitRows} wrote: the kit's own copies (see {@link isAdmitted}). */
const admitted = new WeakSet<Float32Array>();

/**
 * Whether `data` is rows the kit admitted: a copy the kit made (or rows it already owned, checked
 * in place), which neither the caller nor the kit writes while a kernel it was handed to runs. A
 * backend that copies its inputs when called, to compute on them later (a queued engine), may skip
 * that copy for such rows, provided the kernel only reads them and keeps no reference to them once
 * it has settled: the kit may reuse their memory for a later call then.
 */
export function isAdmitted(data: Float32Array): boolean {
  return admitted.has(data);
}

/**
 * True when `b[o..e)` surely needs nothing: every magnitude at most 2^40 (so finite) and one at
 * least 2^-40. With the sign cleared, the OR of the bit patterns is at least their largest, and
 * `t - LO_BITS` is negative exactly for a pattern below 2^-40, so the AND of those has its sign
 * bit set only when every one is. An OR and an AND per value, about 1.4x as fast in V8 as the
 * max of {@link maxBits}, which then settles the rows this cannot (zero rows, extreme ones, and
 * the rare ordinary row whose patterns OR past 2^40).
 */
function ordinary(b: Int32Array, o: number, e: number): boolean {
  let or0 = 0;
  let or1 = 0;
  let or2 = 0;
  let or3 = 0;
  let and0 = -1;
  let and1 = -1;
  let and2 = -1;
  let and3 = -1;
  let j = o;
  for (; j + 4 <= e; j += 4) {
    const t0 = b[j] & 0x7fffffff;
    const t1 = b[j + 1] & 0x7fffffff;
    const t2 = b[j + 2] & 0x7fffffff;
    const t3 = b[j + 3] & 0x7fffffff;
    or0 |= t0;
    or1 |= t1;
    or2 |= t2;
    or3 |= t3;
    and0 &= t0 - LO_BITS;
    and1 &= t1 - LO_BITS;
    and2 &= t2 - LO_BITS;
    and3 &= t3 - LO_BITS;
  }
  for (; j < e; j++) {
    const t = b[j] & 0x7fffffff;
    or0 |= t;
    and0 &= t - LO_BITS;
  }
  return (or0 | or1 | or2 | or3) <= HI_BITS && (and0 & and1 & and2 & and3) >= 0;
}

/** The largest of `b[o..e)` with the sign bit cleared; four chains, so no wait on one max. */
function maxBits(b: Int32Array, o: number, e: number): number {
  let m0 = 0;
  let m1 = 0;
  let m2 = 0;
  let m3 = 0;
  let j = o;
  for (; j + 4 <= e; j += 4) {
    m0 = Math.max(m0, b[j] & 0x7fffffff);
    m1 = Math.max(m1, b[j + 1] & 0x7fffffff);
    m2 = Math.max(m2, b[j + 2] & 0x7fffffff);
    m3 = Math.max(m3, b[j + 3] & 0x7fffffff);
  }
  for (; j < e; j++) m0 = Math.max(m0, b[j] & 0x7fffffff);
  return Math.max(Math.max(m0, m1), Math.max(m2, m3));
}

/**
 * True when the first `n` values of `d` are all finite: x * 0 is 0 for finite x and NaN for
 * NaN/±Infinity, so one branch-free pass of sums, four of them to keep the adds independent. A
 * function of its own, so it is optimised whole: inlined in a caller's loop, V8 compiled the scan
 * on its own (on-stack replacement) before the code after it had ever run, and then left that code
 * for the interpreter at every call (7 ns a value, not 0.5).
 */
export function allFinite(d: Float32Array, n: number): boolean {
  let a = 0;
  let b = 0;
  let c = 0;
  let e = 0;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    a += d[i] * 0;
    b += d[i + 1] * 0;
    c += d[i + 2] * 0;
    e += d[i + 3] * 0;
  }
  for (; i < n; i++) a += d[i] * 0;
  return a + b + c + e === 0;
}

/** Throws `NON_FINITE` when `x` holds NaN or ±Infinity, naming the first offending position. */
export function checkFinite(op: string, arg: string, x: Matrix): void {
  const d = matrixArg(op, arg, x).data;
  if (!allFinite(d, d.length)) nonFinite(op, arg, d, x.cols, firstNonFinite(d, 0, d.length));
}

function firstNonFinite(d: Float32Array, o: number, n: number): number {
  for (let j = 0; j < n; j++) if (!Number.isFinite(d[o + j])) return j;
  return 0;
}

function nonFinite(op: string, arg: string, d: Float32Array, cols: number, at: number): never {
  const r = Math.floor(at / cols);
  return argError('NON_FINITE', op, arg, `holds ${d[at]} at row ${r}, column ${at - r * cols}.`);
}
