/** Vite's `?url` imports (browser tests only). */
declare module '*?url' {
  const url: string;
  export default url;
}
