/**
 * CosineKit's WebAssembly kernels. Every function works on byte addresses in linear memory that
 * the JS side allocates (`--runtime stub`: this module never allocates). Rows handed to the
 * dot-product engine are padded with zeros to a multiple of 4 floats so each step is one v128.
 */
import { hsum, madd } from './generated/simd';

export { dotsWith } from './generated/tiles';

/** First byte free for the JS allocator. */
export function heapBase(): usize {
  return __heap_base;
}

/** 1 when this binary uses relaxed SIMD, else 0. */
export function relaxed(): i32 {
  return ASC_FEATURE_RELAXED_SIMD ? 1 : 0;
}

/** Sum of squares of `n` floats at `p`, accumulated in float64. */
function sumSquares(p: usize, n: i32): f64 {
  let acc0 = f64x2.splat(0);
  let acc1 = f64x2.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(p + ((<usize>i) << 2));
    const lo = f64x2.promote_low_f32x4(v);
    const hi = f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 2, 3));
    acc0 = f64x2.add(acc0, f64x2.mul(lo, lo));
    acc1 = f64x2.add(acc1, f64x2.mul(hi, hi));
  }
  const acc = f64x2.add(acc0, acc1);
  let s = f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
  for (; i < n; i++) {
    const x = <f64>load<f32>(p + ((<usize>i) << 2));
    s += x * x;
  }
  return s;
}

/**
 * Four floats times a float64 scale, rounded once to float32. Scaling in float32 would round the
 * scale and then the product: a row of one positive value would come out as 1 - 2^-24 or 1 + 2^-23
 * depending on its magnitude, so rows pointing the same way would score differently and ties at
 * the top of a search would be broken by rounding, not by index. In float64 the product is within
 * 2^-52 of the exact quotient, so it rounds to the float32 nearest the exact one (1 for those rows).
 */
function scale4(v: v128, s: v128): v128 {
  const lo = f64x2.mul(f64x2.promote_low_f32x4(v), s);
  const hi = f64x2.mul(f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 2, 3)), s);
  return v128.shuffle<f32>(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 1, 4, 5);
}

/** `out[i] = ||x_i||` for `rows` rows of `d` floats. */
export function rowNorms(x: usize, rows: i32, d: i32, out: usize): void {
  const rowBytes = (<usize>d) << 2;
  for (let i = 0; i < rows; i++) {
    store<f32>(out + ((<usize>i) << 2), <f32>Math.sqrt(sumSquares(x + <usize>i * rowBytes, d)));
  }
}

/**
 * Each row of `src` (`rows` x `d`, packed) divided by its norm into `dst` rows of `stride` floats,
 * the padding zeroed. A zero row stays zero. `src` may equal `dst` when `stride === d`.
 */
export function normalizeRows(src: usize, rows: i32, d: i32, dst: usize, stride: i32): void {
  const srcBytes = (<usize>d) << 2;
  const dstBytes = (<usize>stride) << 2;
  for (let i = 0; i < rows; i++) {
    const s = src + <usize>i * srcBytes;
    const t = dst + <usize>i * dstBytes;
    const ss = sumSquares(s, d);
    const inv: f64 = ss > 0 ? 1 / Math.sqrt(ss) : 0;
    const vinv = f64x2.splat(inv);
    let p = 0;
    for (; p + 4 <= d; p += 4) {
      const o = (<usize>p) << 2;
      v128.store(t + o, scale4(v128.load(s + o), vinv));
    }
    for (; p < d; p++) store<f32>(t + ((<usize>p) << 2), <f32>(<f64>load<f32>(s + ((<usize>p) << 2)) * inv));
    for (; p < stride; p++) store<f32>(t + ((<usize>p) << 2), 0);
  }
}

/** Cosine from a dot product and the product of squared norms: 0 for a zero vector, clamped. */
function cosineOf(dot: f64, nn: f64): f32 {
  if (nn === 0) return 0;
  const c = dot / Math.sqrt(nn);
  return <f32>(c > 1 ? 1 : c < -1 ? -1 : c);
}

/** `out[i] = cos(a_i, b_i)` for `rows` packed rows of `d` floats each. */
export function cosineRows(a: usize, b: usize, rows: i32, d: i32, out: usize): void {
  const rowBytes = (<usize>d) << 2;
  for (let i = 0; i < rows; i++) {
    const pa = a + <usize>i * rowBytes;
    const pb = b + <usize>i * rowBytes;
    let sd = f32x4.splat(0);
    let sa = f32x4.splat(0);
    let sb = f32x4.splat(0);
    let p = 0;
    for (; p + 4 <= d; p += 4) {
      const o = (<usize>p) << 2;
      const x = v128.load(pa + o);
      const y = v128.load(pb + o);
      sd = madd(x, y, sd);
      sa = madd(x, x, sa);
      sb = madd(y, y, sb);
    }
    let dot = <f64>hsum(sd);
    let aa = <f64>hsum(sa);
    let bb = <f64>hsum(sb);
    for (; p < d; p++) {
      const o = (<usize>p) << 2;
      const x = <f64>load<f32>(pa + o);
      const y = <f64>load<f32>(pb + o);
      dot += x * y;
      aa += x * x;
      bb += y * y;
    }
    store<f32>(out + ((<usize>i) << 2), cosineOf(dot, aa * bb));
  }
}

/** Stores the norm of the resident vector at `v` (`d` floats, zero-padded to a multiple of 4) in its header. */
export function vectorPrepare(v: usize, d: i32): void {
  store<f64>(v - 8, Math.sqrt(sumSquares(v, d)));
}

/**
 * Cosine of two resident vectors prepared by {@link vectorPrepare}: one pass of dot products, the
 * norms read from the headers. Both hold `d` floats zero-padded to a multiple of 4, 16-aligned.
 */
export function vectorCosine(a: usize, b: usize, d: i32): f32 {
  const nn = load<f64>(a - 8) * load<f64>(b - 8);
  const bytes = (<usize>((d + 3) & ~3)) << 2;
  let s0 = f32x4.splat(0);
  let s1 = f32x4.splat(0);
  let s2 = f32x4.splat(0);
  let s3 = f32x4.splat(0);
  let p: usize = 0;
  for (; p + 64 <= bytes; p += 64) {
    s0 = madd(v128.load(a + p), v128.load(b + p), s0);
    s1 = madd(v128.load(a + p, 16), v128.load(b + p, 16), s1);
    s2 = madd(v128.load(a + p, 32), v128.load(b + p, 32), s2);
    s3 = madd(v128.load(a + p, 48), v128.load(b + p, 48), s3);
  }
  for (; p < bytes; p += 16) s0 = madd(v128.load(a + p), v128.load(b + p), s0);
  const s = f32x4.add(f32x4.add(s0, s1), f32x4.add(s2, s3));
  return cosineOf(<f64>hsum(s), nn * nn);
}

/**
 * Rows of `src` (`rows` rows of `d` floats, `srcStride` floats apart) into panels of `P` rows
 * interleaved chunk by chunk, the layout of the dot-product engine (see scripts/gen.mjs): chunk q
 * of row r of panel g at `dst + (g * steps + q) * P * 16 + r * 16`, with `steps = ceil(d / 4)`.
 * Rows are scaled to unit norm when `normalize` (a zero row stays zero; see {@link scale4}). Padding lanes and the
 * missing rows of the last panel are zero.
 */
export function pack(
  src: usize,
  rows: i32,
  d: i32,
  srcStride: i32,
  dst: usize,
  P: i32,
  normalize: bool,
): void {
  const steps = (d + 3) >> 2;
  const full = d >> 2;
  const rem = d & 3;
  const chunk = (<usize>P) << 4;
  const panelBytes = <usize>steps * chunk;
  const total = ((rows + P - 1) / P) * P;
  const zero = f32x4.splat(0);
  for (let i = 0; i < total; i++) {
    let t = dst + <usize>(i / P) * panelBytes + ((<usize>(i % P)) << 4);
    if (i >= rows) {
      for (let q = 0; q < steps; q++) {
        v128.store(t, zero);
        t += chunk;
      }
      continue;
    }
    const s = src + ((<usize>i * <usize>srcStride) << 2);
    let scale: f64 = 1;
    if (normalize) {
      const ss = sumSquares(s, d);
      scale = ss > 0 ? 1 / Math.sqrt(ss) : 0;
    }
    const vs = f64x2.splat(scale);
    for (let q = 0; q < full; q++) {
      const v = v128.load(s + ((<usize>q) << 4));
      v128.store(t, normalize ? scale4(v, vs) : v);
      t += chunk;
    }
    if (rem > 0) {
      const tail = s + ((<usize>full) << 4);
      store<f32>(t, <f32>(<f64>load<f32>(tail) * scale));
      store<f32>(t + 4, rem > 1 ? <f32>(<f64>load<f32>(tail + 4) * scale) : 0);
      store<f32>(t + 8, rem > 2 ? <f32>(<f64>load<f32>(tail + 8) * scale) : 0);
      store<f32>(t + 12, 0);
    }
  }
}

/** The inverse of {@link pack}: `rows` rows of `d` floats from panels of `P` into packed rows at `dst`. */
export function unpack(src: usize, rows: i32, d: i32, P: i32, dst: usize): void {
  const steps = (d + 3) >> 2;
  const full = d >> 2;
  const chunk = (<usize>P) << 4;
  const panelBytes = <usize>steps * chunk;
  for (let i = 0; i < rows; i++) {
    let s = src + <usize>(i / P) * panelBytes + ((<usize>(i % P)) << 4);
    const t = dst + ((<usize>i * <usize>d) << 2);
    for (let q = 0; q < full; q++) {
      v128.store(t + ((<usize>q) << 4), v128.load(s));
      s += chunk;
    }
    for (let p = full << 2; p < d; p++)
      store<f32>(t + ((<usize>p) << 2), load<f32>(s + ((<usize>(p & 3)) << 2)));
  }
}

/**
 * Byte address of chunk 0 of row `j` in a block whose rows [0, split) form panels of `P` rows and
 * whose rows from `split` on are single (the layout `pack` writes in two calls); chunk q is
 * `q * chunkStride(j)` further on.
 */
function rowStart(dst: usize, j: i32, P: i32, split: i32, steps: i32): usize {
  const rowBytes = (<usize>steps) << 4;
  if (j < split) return dst + <usize>(j / P) * rowBytes * <usize>P + ((<usize>(j % P)) << 4);
  const splitBytes = <usize>((split + P - 1) / P) * rowBytes * <usize>P;
  return dst + splitBytes + <usize>(j - split) * rowBytes;
}

function chunkStride(j: i32, P: i32, split: i32): usize {
  return j < split ? (<usize>P) << 4 : 16;
}

/**
 * The transpose of `src` (`rows` x `cols`, packed) written straight into the engine's layout: its
 * `cols` rows of `rows` floats, rows [0, split) in panels of `P` (the missing rows of a partial
 * last panel zeroed), the rest single. Four source rows x four columns per step, transposed in
 * registers.
 */
export function packTransposed(src: usize, rows: i32, cols: i32, dst: usize, P: i32, split: i32): void {
  const steps = (rows + 3) >> 2;
  const rowBytes = (<usize>cols) << 2;
  const zero = f32x4.splat(0);
  const chunk = (<usize>P) << 4;
  // Rows of the last panel that no column fills: zero them (panel layout, rows past `split`).
  for (let j = split; j < ((split + P - 1) / P) * P; j++) {
    let t = dst + <usize>(j / P) * ((<usize>steps) << 4) * <usize>P + ((<usize>(j % P)) << 4);
    for (let q = 0; q < steps; q++) {
      v128.store(t, zero);
      t += chunk;
    }
  }
  let j0 = 0;
  for (; j0 + 4 <= cols; j0 += 4) {
    let t0 = rowStart(dst, j0, P, split, steps);
    let t1 = rowStart(dst, j0 + 1, P, split, steps);
    let t2 = rowStart(dst, j0 + 2, P, split, steps);
    let t3 = rowStart(dst, j0 + 3, P, split, steps);
    const c0 = chunkStride(j0, P, split);
    const c1 = chunkStride(j0 + 1, P, split);
    const c2 = chunkStride(j0 + 2, P, split);
    const c3 = chunkStride(j0 + 3, P, split);
    let s = src + ((<usize>j0) << 2);
    for (let q = 0; q < steps; q++) {
      const r = q << 2;
      const v0 = v128.load(s);
      const v1 = r + 1 < rows ? v128.load(s + rowBytes) : zero;
      const v2 = r + 2 < rows ? v128.load(s + 2 * rowBytes) : zero;
      const v3 = r + 3 < rows ? v128.load(s + 3 * rowBytes) : zero;
      // 4 x 4 transpose: column t of (v0..v3) is the chunk of transposed row j0 + t.
      const a = v128.shuffle<f32>(v0, v1, 0, 4, 1, 5);
      const b = v128.shuffle<f32>(v2, v3, 0, 4, 1, 5);
      const c = v128.shuffle<f32>(v0, v1, 2, 6, 3, 7);
      const d = v128.shuffle<f32>(v2, v3, 2, 6, 3, 7);
      v128.store(t0, v128.shuffle<f32>(a, b, 0, 1, 4, 5));
      v128.store(t1, v128.shuffle<f32>(a, b, 2, 3, 6, 7));
      v128.store(t2, v128.shuffle<f32>(c, d, 0, 1, 4, 5));
      v128.store(t3, v128.shuffle<f32>(c, d, 2, 3, 6, 7));
      t0 += c0;
      t1 += c1;
      t2 += c2;
      t3 += c3;
      s += rowBytes << 2;
    }
  }
  for (let j = j0; j < cols; j++) {
    let t = rowStart(dst, j, P, split, steps);
    const cs = chunkStride(j, P, split);
    for (let q = 0; q < steps; q++) {
      for (let l = 0; l < 4; l++) {
        const p = (q << 2) + l;
        store<f32>(
          t + ((<usize>l) << 2),
          p < rows ? load<f32>(src + ((<usize>p * <usize>cols + <usize>j) << 2)) : 0,
        );
      }
      t += cs;
    }
  }
}

/** `out = x + bias` with `bias` (`cols` floats) broadcast over `rows` rows. */
export function addBias(x: usize, rows: i32, cols: i32, bias: usize, out: usize): void {
  const rowBytes = (<usize>cols) << 2;
  for (let i = 0; i < rows; i++) {
    const px = x + <usize>i * rowBytes;
    const po = out + <usize>i * rowBytes;
    let p = 0;
    for (; p + 4 <= cols; p += 4) {
      const o = (<usize>p) << 2;
      v128.store(po + o, f32x4.add(v128.load(px + o), v128.load(bias + o)));
    }
    for (; p < cols; p++) {
      const o = (<usize>p) << 2;
      store<f32>(po + o, load<f32>(px + o) + load<f32>(bias + o));
    }
  }
}

/** Activation codes, in the order of core's ACTIVATIONS. */
const LINEAR = 0;
const RELU = 1;
const TANH = 2;
const GELU = 3;
const SIGMOID = 4;

/** sqrt(2 / pi) and the cubic coefficient of the tanh approximation of GELU. */
const GELU_C: f64 = 0.7978845608028654;
const GELU_A: f64 = 0.044715;

function activate(kind: i32, x: f64): f64 {
  switch (kind) {
    case TANH:
      return Math.tanh(x);
    case SIGMOID:
      return 1 / (1 + Math.exp(-x));
    case GELU:
      return 0.5 * x * (1 + Math.tanh(GELU_C * (x + GELU_A * x * x * x)));
    default:
      return x;
  }
}

function derivative(kind: i32, x: f64): f64 {
  switch (kind) {
    case TANH: {
      const t = Math.tanh(x);
      return 1 - t * t;
    }
    case SIGMOID: {
      const s = 1 / (1 + Math.exp(-x));
      return s * (1 - s);
    }
    case GELU: {
      const t = Math.tanh(GELU_C * (x + GELU_A * x * x * x));
      return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * GELU_C * (1 + 3 * GELU_A * x * x);
    }
    default:
      return 1;
  }
}

/** `out = f(x)` for `n` floats; the smooth activations are evaluated in float64. */
export function activation(kind: i32, x: usize, n: i32, out: usize): void {
  let i = 0;
  if (kind === LINEAR) {
    memory.copy(out, x, (<usize>n) << 2);
    return;
  }
  if (kind === RELU) {
    const zero = f32x4.splat(0);
    for (; i + 4 <= n; i += 4) {
      const o = (<usize>i) << 2;
      const v = v128.load(x + o);
      // x > 0 ? x : 0, which also maps -0 to +0 like the reference.
      v128.store(out + o, v128.and(v, f32x4.gt(v, zero)));
    }
    for (; i < n; i++) {
      const o = (<usize>i) << 2;
      const v = load<f32>(x + o);
      store<f32>(out + o, v > 0 ? v : 0);
    }
    return;
  }
  for (; i < n; i++) {
    const o = (<usize>i) << 2;
    store<f32>(out + o, <f32>activate(kind, <f64>load<f32>(x + o)));
  }
}

/** `out = dy * f'(x)` for `n` floats. */
export function activationGrad(kind: i32, x: usize, dy: usize, n: i32, out: usize): void {
  let i = 0;
  if (kind === LINEAR) {
    memory.copy(out, dy, (<usize>n) << 2);
    return;
  }
  if (kind === RELU) {
    const zero = f32x4.splat(0);
    const one = f32x4.splat(1);
    for (; i + 4 <= n; i += 4) {
      const o = (<usize>i) << 2;
      const mask = f32x4.gt(v128.load(x + o), zero);
      v128.store(out + o, f32x4.mul(v128.load(dy + o), v128.and(one, mask)));
    }
    for (; i < n; i++) {
      const o = (<usize>i) << 2;
      store<f32>(out + o, load<f32>(dy + o) * (load<f32>(x + o) > 0 ? <f32>1 : <f32>0));
    }
    return;
  }
  for (; i < n; i++) {
    const o = (<usize>i) << 2;
    store<f32>(out + o, <f32>(<f64>load<f32>(dy + o) * derivative(kind, <f64>load<f32>(x + o))));
  }
}

export { dequantizeRows, dotsI8, dotsI8Batch, quantizeRows, rowDots } from './quantized';
