// biome-ignore-all format: hand-laid register tiles read best one tile row per line
/**
 * The reference backend's one inner engine: dot products of row blocks held in Float64Arrays.
 * V8 does not vectorise, so speed comes from register blocking (a 4x4 tile reuses each loaded
 * value four times) and from float64 staging (measured 1.45x faster than Float32Array loads here).
 */

/**
 * `out[(i - i0) * ldo + (j - j0)] = dot(A_i, B_j)` for rows `i` in [i0, i1) of `a` and `j` in
 * [j0, j1) of `b`, both row-major with row length `d`.
 */
export function dotBlock(
  a: Float64Array,
  i0: number,
  i1: number,
  b: Float64Array,
  j0: number,
  j1: number,
  d: number,
  out: Float64Array | Float32Array,
  ldo: number,
): void {
  let i = i0;
  for (; i + 4 <= i1; i += 4) {
    const a0 = i * d;
    const a1 = a0 + d;
    const a2 = a1 + d;
    const a3 = a2 + d;
    const o = (i - i0) * ldo - j0;
    let j = j0;
    for (; j + 4 <= j1; j += 4) {
      const b0 = j * d;
      const b1 = b0 + d;
      const b2 = b1 + d;
      const b3 = b2 + d;
      let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
      let s20 = 0, s21 = 0, s22 = 0, s23 = 0, s30 = 0, s31 = 0, s32 = 0, s33 = 0;
      for (let p = 0; p < d; p++) {
        const y0 = b[b0 + p], y1 = b[b1 + p], y2 = b[b2 + p], y3 = b[b3 + p];
        let x = a[a0 + p];
        s00 += x * y0; s01 += x * y1; s02 += x * y2; s03 += x * y3;
        x = a[a1 + p];
        s10 += x * y0; s11 += x * y1; s12 += x * y2; s13 += x * y3;
        x = a[a2 + p];
        s20 += x * y0; s21 += x * y1; s22 += x * y2; s23 += x * y3;
        x = a[a3 + p];
        s30 += x * y0; s31 += x * y1; s32 += x * y2; s33 += x * y3;
      }
      const r0 = o + j, r1 = r0 + ldo, r2 = r1 + ldo, r3 = r2 + ldo;
      out[r0] = s00; out[r0 + 1] = s01; out[r0 + 2] = s02; out[r0 + 3] = s03;
      out[r1] = s10; out[r1 + 1] = s11; out[r1 + 2] = s12; out[r1 + 3] = s13;
      out[r2] = s20; out[r2 + 1] = s21; out[r2 + 2] = s22; out[r2 + 3] = s23;
      out[r3] = s30; out[r3 + 1] = s31; out[r3 + 2] = s32; out[r3 + 3] = s33;
    }
    for (; j < j1; j++) {
      const b0 = j * d;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let p = 0; p < d; p++) {
        const y = b[b0 + p];
        s0 += a[a0 + p] * y; s1 += a[a1 + p] * y; s2 += a[a2 + p] * y; s3 += a[a3 + p] * y;
      }
      out[o + j] = s0; out[o + j + ldo] = s1; out[o + j + 2 * ldo] = s2; out[o + j + 3 * ldo] = s3;
    }
  }
  for (; i < i1; i++) {
    const a0 = i * d;
    const o = (i - i0) * ldo - j0;
    let j = j0;
    for (; j + 4 <= j1; j += 4) {
      const b0 = j * d, b1 = b0 + d, b2 = b1 + d, b3 = b2 + d;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let p = 0; p < d; p++) {
        const x = a[a0 + p];
        s0 += x * b[b0 + p]; s1 += x * b[b1 + p]; s2 += x * b[b2 + p]; s3 += x * b[b3 + p];
      }
      out[o + j] = s0; out[o + j + 1] = s1; out[o + j + 2] = s2; out[o + j + 3] = s3;
    }
    for (; j < j1; j++) out[o + j] = dot64(a, a0, b, j * d, d);
  }
}

/** Dot product of two float64 runs of length `d`, four accumulators. */
export function dot64(a: Float64Array, ao: number, b: Float64Array, bo: number, d: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let p = 0;
  for (; p + 4 <= d; p += 4) {
    s0 += a[ao + p] * b[bo + p];
    s1 += a[ao + p + 1] * b[bo + p + 1];
    s2 += a[ao + p + 2] * b[bo + p + 2];
    s3 += a[ao + p + 3] * b[bo + p + 3];
  }
  for (; p < d; p++) s0 += a[ao + p] * b[bo + p];
  return s0 + s1 + s2 + s3;
}

/** Rows of `x` scaled to unit L2 norm, in float64; zero rows stay zero. */
export function normalizedF64(data: Float32Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    let ss = 0;
    for (let p = 0; p < cols; p++) {
      const v = data[o + p];
      out[o + p] = v;
      ss += v * v;
    }
    if (ss > 0) {
      const inv = 1 / Math.sqrt(ss);
      for (let p = 0; p < cols; p++) out[o + p] *= inv;
    }
  }
  return out;
}

/** Clamps a cosine to [-1, 1]; rounding can push a unit-vector dot product just past either end. */
export function clampCos(c: number): number {
  return c > 1 ? 1 : c < -1 ? -1 : c;
}
