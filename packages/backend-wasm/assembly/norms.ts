/** Row norms and normalisation (the contract's `rowNorms` and `normalizeRows`). */
import { scale4 } from './generated/simd';
import { sumSquares } from './rows';

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
