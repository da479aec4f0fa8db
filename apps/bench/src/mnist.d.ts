// The `mnist` package ships no types; the bench only reads each digit's raw pixels.
declare module 'mnist' {
  const digits: { readonly raw: readonly number[]; readonly length: number }[];
  export default digits;
}
