// Smallest modules that use one SIMD op: `v128.const` alone, and the same plus a relaxed-SIMD op
// (i32x4.relaxed_trunc_f32x4_s). `WebAssembly.validate` says what this engine would compile.
const header = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b];
const funcs = [0x03, 0x02, 0x01, 0x00];
const v128Zero = [0xfd, 0x0c, ...new Array<number>(16).fill(0)];
const simd = [...header, ...funcs, 0x0a, 0x16, 0x01, 0x14, 0x00, ...v128Zero, 0x0b];
const relaxed = [...header, ...funcs, 0x0a, 0x19, 0x01, 0x17, 0x00, ...v128Zero, 0xfd, 0x81, 0x02, 0x0b];

/** `relaxed`, `simd` or `none`: the best WebAssembly SIMD level this engine accepts. */
export function wasmSimdLevel(): string {
  if (typeof WebAssembly === 'undefined') return 'no WebAssembly';
  if (WebAssembly.validate(new Uint8Array(relaxed))) return 'relaxed';
  return WebAssembly.validate(new Uint8Array(simd)) ? 'simd' : 'none';
}
