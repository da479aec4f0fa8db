/**
 * Cosines computed row by row rather than by the dot-product engine: of row pairs (`cosineRows`)
 * and of resident vectors (`vectorCosine`).
 */
import { hsum, madd } from './generated/simd';
import { sumSquares } from './rows';

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
