/**
 * The two rules every cosine in CosineKit obeys, in one place: the cosine of a zero vector with
 * anything is 0 (not NaN), and a cosine is clamped to [-1, 1] (rounding can push a dot product of
 * unit vectors just past either end). Kernels that run outside JavaScript (WebAssembly, GPU shaders)
 * restate the clamp in their own language and are held to it by the conformance suite.
 */

/** Clamps a cosine to [-1, 1]. */
export function clampCos(c: number): number {
  return c > 1 ? 1 : c < -1 ? -1 : c;
}

/**
 * The cosine from a dot product and the product of the two squared norms: 0 when either vector is
 * zero, clamped otherwise. NaN in stays NaN out, for the caller to report.
 */
export function cosineFrom(dot: number, squaredNorms: number): number {
  if (squaredNorms === 0) return Number.isNaN(dot) ? Number.NaN : 0;
  return clampCos(dot / Math.sqrt(squaredNorms));
}
