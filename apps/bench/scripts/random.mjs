/**
 * Seeded rows for the scripts: `n` floats in [-1, 1) from a 32-bit xorshift, the same stream the
 * bench and the tests use, so a script's data is reproducible from its seed.
 */
export function random(n, seed) {
  const a = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    a[i] = (s >>> 0) / 2 ** 31 - 1;
  }
  return a;
}
