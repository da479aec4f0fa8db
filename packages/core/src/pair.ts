import { argError, readFailure, reading } from './errors.js';
import { cosineOf, cosineOfAny, safeCosine, unitScale } from './kernels/pair.js';
import { mayShare } from './out.js';
import { attached, describeType, intact, refuseFakeView, Tensor } from './tensor.js';

/** A vector for the synchronous pair functions. */
export type Vector = Float32Array | Float64Array | readonly number[] | Tensor;

/**
 * Cosine similarity of two vectors: `a·b / (‖a‖ ‖b‖)`, in [-1, 1]. Synchronous, allocation-free,
 * float64 accumulation. The cosine of a zero vector with anything is 0 (not NaN).
 *
 * @throws {CosineKitError} `DIMENSION_MISMATCH`, `EMPTY_INPUT`, `NON_FINITE` or `INVALID_TYPE`.
 */
export function cosine(a: Vector, b: Vector): number {
  return pairOf('cosine', a, b);
}

/**
 * `1 - cosine(a, b)`, in [0, 2]. A zero vector gives 1. The same cosine (the same fast path for
 * two Float32Arrays: without it this cost 3-5x `cosine` at d <= 100).
 */
export function cosineDistance(a: Vector, b: Vector): number {
  return 1 - pairOf('cosineDistance', a, b);
}

/** The cosine of `a` and `b` for public function `op`, its errors named after it. */
function pairOf(op: string, a: Vector, b: Vector): number {
  // The everyday call, kept lean: two equal, non-empty Float32Arrays go straight to the kernel.
  // isView first: it never runs a Proxy's trap, where instanceof does (a revoked one throws).
  if (
    ArrayBuffer.isView(a) &&
    ArrayBuffer.isView(b) &&
    a instanceof Float32Array &&
    b instanceof Float32Array &&
    a.length === b.length &&
    a.length > 0
  ) {
    const c = cosineOf(a, 0, b, 0, a.length);
    if (!Number.isNaN(c)) return c;
  }
  // Two number[] (embeddings parsed from JSON): one pass over both, no copies.
  const fast = arraysCosine(a, b);
  if (!Number.isNaN(fast)) return fast;
  const x = vec(op, 'a', a);
  const y = vec(op, 'b', b);
  if (x.length !== y.length) {
    argError('DIMENSION_MISMATCH', op, 'b', `has length ${y.length} but 'a' has length ${x.length}.`);
  }
  const c = pairCosine(x, y);
  if (Number.isNaN(c)) nonFinite(op, ['a', x], ['b', y]);
  return c;
}

/**
 * `v / ‖v‖` as a new Float32Array (or into `out`); a zero vector gives zeros. Numbers are taken as
 * they are and divided in float64, only the result rounded to float32: a row of values below
 * float32's range is normalised, not a zero row as in the kit, and a finite value beyond it is taken
 * (the kit converts every input to float32 first, and refuses it). `out` may be `v`
 * itself (normalised in place); an `out` that overlaps `v`'s memory otherwise is refused
 * (`INVALID_ARGUMENT` naming `out`): values would be overwritten before they were read. On two
 * SharedArrayBuffer objects, whose memory cannot be compared, the result is made apart and copied
 * into `out`.
 */
export function normalize(v: Vector, out?: Float32Array): Float32Array {
  const x = vec('normalize', 'v', v);
  if (out !== undefined) refuseFakeView(out, 'normalize', 'out');
  if (out !== undefined && !(out instanceof Float32Array))
    argError('INVALID_TYPE', 'normalize', 'out', `must be a Float32Array, got ${describeType(out)}.`);
  if (out !== undefined) {
    attached(out, 'normalize', 'out');
    if (ArrayBuffer.isView(x) && x.buffer === out.buffer && x !== out) {
      const same = x instanceof Float32Array && x.byteOffset === out.byteOffset;
      const apart =
        x.byteOffset + x.byteLength <= out.byteOffset || out.byteOffset + out.byteLength <= x.byteOffset;
      if (!same && !apart)
        argError(
          'INVALID_ARGUMENT',
          'normalize',
          'out',
          "overlaps 'v' in memory without being it: pass v itself to normalise in place, or memory apart from it.",
        );
    }
  }
  if (out !== undefined && out.length !== x.length)
    argError('SHAPE_MISMATCH', 'normalize', 'out', `has length ${out.length}, expected ${x.length}.`);
  // `v` and `out` on two SharedArrayBuffer objects may be one memory, which JavaScript cannot
  // compare: the result is made apart and copied (a shifted overlap was silently wrong).
  const apart = out !== undefined && ArrayBuffer.isView(x) && x.buffer !== out.buffer && mayShare(x, out);
  const r = out === undefined || apart ? new Float32Array(x.length) : out;
  let ss = 0;
  for (let i = 0; i < x.length; i++) ss += x[i] * x[i];
  // Float64 values past 2^511 square to Infinity, below 2^-537 to 0: scale by a power of two first
  // (a zero vector passes here too, and stays zero).
  let f = 1;
  if (!(ss >= 2 ** -900 && ss <= 2 ** 900)) {
    f = unitScale(x);
    if (Number.isNaN(f)) nonFinite('normalize', ['v', x]);
    ss = 0;
    for (let i = 0; i < x.length; i++) ss += x[i] * f * (x[i] * f);
  }
  const inv = ss > 0 ? 1 / Math.sqrt(ss) : 0;
  for (let i = 0; i < x.length; i++) r[i] = x[i] * f * inv;
  if (apart) {
    out!.set(r);
    return out!;
  }
  return r;
}

/**
 * The cosine of two plain arrays of numbers of one length, each element read once, in one pass
 * with no copy (the general path below copies each array into a Float64Array first, which cost
 * 20x the sums at d = 384); NaN for anything else, or when an element is not a number, is not
 * finite, cannot be read, or the sums leave the range where they are exact without scaling: the
 * general path then answers, or names the problem.
 */
function arraysCosine(a: unknown, b: unknown): number {
  try {
    // Inside the try: Array.isArray throws on a revoked Proxy.
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length || a.length === 0) return Number.NaN;
    let dot = 0;
    let x = 0;
    let y = 0;
    for (let i = 0; i < a.length; i++) {
      const u: unknown = a[i];
      const v: unknown = b[i];
      if (typeof u !== 'number' || typeof v !== 'number') return Number.NaN;
      dot += u * v;
      x += u * u;
      y += v * v;
    }
    return safeCosine(dot, x, y);
  } catch {
    // A Proxy or a getter that throws: the general path reads it again and names it.
    return Number.NaN;
  }
}

function pairCosine(x: ArrayLike<number>, y: ArrayLike<number>): number {
  return x instanceof Float32Array && y instanceof Float32Array
    ? cosineOf(x, 0, y, 0, x.length)
    : cosineOfAny(x, y);
}

function vec(op: string, arg: string, v: Vector): ArrayLike<number> {
  refuseFakeView(v, op, arg);
  let x: ArrayLike<number>;
  if (v instanceof Float32Array || v instanceof Float64Array || Array.isArray(v)) {
    x = v as ArrayLike<number>;
  } else if (v instanceof Tensor) {
    // An object made from Tensor.prototype (no tensor's fields) threw a raw TypeError here.
    x = reading(op, arg, () => {
      if (v.disposed) argError('DISPOSED', op, arg, 'is a disposed tensor.');
      intact(v, op, arg);
      if (v.rows !== 1)
        argError('SHAPE_MISMATCH', op, arg, `must be a single vector, got a tensor of ${v.rows} rows.`);
      return v.data;
    });
  } else {
    return argError(
      'INVALID_TYPE',
      op,
      arg,
      `must be a Float32Array, Float64Array or number[], got ${describeType(v)}.`,
    );
  }
  if (x.length === 0) {
    if (ArrayBuffer.isView(x)) attached(x, op, arg);
    argError('EMPTY_INPUT', op, arg, 'is empty.');
  }
  if (Array.isArray(x)) {
    // Read once, into a copy: every element checked (JavaScript would read '2' as 2 and null as 0
    // without a word), and an element whose getter throws is the caller's error, named, with it as
    // `cause` (it escaped raw), read once so a getter cannot answer differently on a second pass.
    const src = x;
    let copy: Float64Array;
    try {
      copy = new Float64Array(src.length);
    } catch (e) {
      // A sparse array of 2^32 - 1 holes: a raw RangeError from the allocation. Its first entry
      // that is no number is named, as the kit names it; else it is too long.
      reading(op, arg, () => {
        for (let i = 0; i < src.length; i++)
          if (typeof src[i] !== 'number')
            argError('INVALID_TYPE', op, arg, `must hold numbers, got ${describeType(src[i])} at [${i}].`);
      });
      return argError(
        'OUT_OF_MEMORY',
        op,
        arg,
        `has ${src.length} entries: no float64 copy of them fits in memory.`,
        e,
      );
    }
    try {
      for (let i = 0; i < src.length; i++) {
        const e = src[i];
        if (typeof e !== 'number')
          argError('INVALID_TYPE', op, arg, `must hold numbers, got ${describeType(e)} at [${i}].`);
        copy[i] = e;
      }
    } catch (e) {
      throw readFailure(op, arg, e);
    }
    return copy;
  }
  return x;
}

function nonFinite(op: string, ...args: [string, ArrayLike<number>][]): never {
  for (const [name, x] of args) {
    for (let i = 0; i < x.length; i++) {
      if (!Number.isFinite(x[i])) argError('NON_FINITE', op, name, `holds ${x[i]} at index ${i}.`);
    }
  }
  return argError('INVALID_TYPE', op, args[0][0], 'holds a value that is not a number.');
}
