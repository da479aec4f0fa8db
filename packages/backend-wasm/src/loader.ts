import { argError, CosineKitError, describeType, reading } from '@cosinekit/core/backend';

/** Which binary runs: plain 128-bit SIMD, or relaxed SIMD (fused multiply-add). */
export type WasmVariant = 'simd' | 'relaxed';

/**
 * Where a binary comes from: its bytes, a compiled module, a response, or a URL (string or
 * `URL`). `file:` URLs are read with `fs` in Node; anything else is fetched.
 */
export type WasmSource = ArrayBuffer | ArrayBufferView | WebAssembly.Module | Response | URL | string;

/**
 * The default location of each binary. The build writes them to `dist/`; `../dist/` resolves to
 * that folder both from the compiled `dist/*.js` and from `src/*.ts` (which tests and Vite load),
 * and bundlers that understand `new URL(literal, import.meta.url)` copy the file as an asset.
 */
function defaultUrl(variant: WasmVariant, threads: boolean): URL {
  // Literal URLs, one per binary, so bundlers see and copy each of them.
  if (threads) {
    return variant === 'relaxed'
      ? new URL('../dist/cosinekit-relaxed-threads.wasm', import.meta.url)
      : new URL('../dist/cosinekit-simd-threads.wasm', import.meta.url);
  }
  return variant === 'relaxed'
    ? new URL('../dist/cosinekit-relaxed.wasm', import.meta.url)
    : new URL('../dist/cosinekit-simd.wasm', import.meta.url);
}

/**
 * The smallest module that uses a relaxed SIMD instruction (`f32x4.relaxed_madd` on three zero
 * vectors): validating it answers "can this engine run the relaxed build" without fetching it.
 */
// biome-ignore format: one wasm section per line
const RELAXED_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // type: () -> v128
  0x03, 0x02, 0x01, 0x00, // one function of type 0
  0x0a, 0x3d, 0x01, 0x3b, 0x00, // code: one body of 59 bytes, no locals
  ...vconst0(), ...vconst0(), ...vconst0(),
  0xfd, 0x85, 0x02, // f32x4.relaxed_madd (0xfd 0x105)
  0x0b, // end
]);

/** The same shape with a plain SIMD instruction (`f32x4.add` of two zero vectors). */
// biome-ignore format: one wasm section per line
const SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b,
  0x03, 0x02, 0x01, 0x00,
  0x0a, 0x2b, 0x01, 0x29, 0x00,
  ...vconst0(), ...vconst0(),
  0xfd, 0xe4, 0x01, // f32x4.add (0xfd 0xe4)
  0x0b,
]);

function vconst0(): number[] {
  return [0xfd, 0x0c, ...new Array<number>(16).fill(0)];
}

/** True when this engine accepts wasm SIMD. */
export function simdSupported(): boolean {
  return typeof WebAssembly === 'object' && WebAssembly.validate(SIMD_PROBE);
}

/** True when this engine accepts relaxed SIMD (on Node 20 only behind a V8 flag). */
export function relaxedSupported(): boolean {
  return typeof WebAssembly === 'object' && WebAssembly.validate(RELAXED_PROBE);
}

interface NodeGlobals {
  process?: { versions?: { node?: string } };
}

function isNode(): boolean {
  return typeof (globalThis as NodeGlobals).process?.versions?.node === 'string';
}

/**
 * Turns on relaxed SIMD in Node 20's V8 (`--experimental-wasm-relaxed-simd`); it takes effect for
 * modules compiled afterwards. Only called when the caller asked for the relaxed build by name.
 */
export async function enableRelaxedInNode(): Promise<void> {
  if (!isNode()) return;
  // A computed specifier keeps browser bundlers from trying to resolve a Node built-in.
  const name = 'node:v8';
  const v8 = (await import(/* @vite-ignore */ name)) as { setFlagsFromString(flags: string): void };
  v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
}

/**
 * Refuses, at the factory's call, a binary source that is none of the kinds {@link WasmSource}
 * allows: `INVALID_TYPE` naming `op` and `arg` (the URL of a string is only resolved at load).
 */
export function checkSource(op: string, arg: string, source: unknown): void {
  // A value that cannot be inspected (a revoked Proxy, a throwing trap) is INVALID_ARGUMENT
  // naming `arg`, with the TypeError as cause.
  if (
    reading(
      op,
      arg,
      () =>
        source === undefined ||
        typeof source === 'string' ||
        source instanceof URL ||
        source instanceof ArrayBuffer ||
        ArrayBuffer.isView(source) ||
        source instanceof WebAssembly.Module ||
        (typeof Response !== 'undefined' && source instanceof Response),
    )
  )
    return;
  argError(
    'INVALID_TYPE',
    op,
    arg,
    `must be the binary's bytes, a WebAssembly.Module, a Response or a URL, got ${describeType(source)}.`,
  );
}

/**
 * The shipped binaries once compiled, by variant and threads: each `createWasmPair` and each
 * backend read and compiled its binary again (milliseconds a time, and V8 kept about 1.5 KB of
 * every compile for good: a leak probe's create-and-dispose loop grew without end). A module is
 * only code, so instances share it. A binary the caller gives is compiled each time.
 */
const COMPILED = new Map<string, WebAssembly.Module>();

/**
 * Compiles the binary of `variant` from `source`, or from its default URL (once: see
 * {@link COMPILED}). The threads builds import a shared memory (`env.memory`) instead of defining
 * their own. A source that cannot be read or compiled is `UNSUPPORTED` naming `op` and `arg` (the
 * option the source came from, or `variant` for the default binary), the reason as `cause`.
 */
export async function compileVariant(
  variant: WasmVariant,
  source?: WasmSource,
  threads = false,
  op = 'init',
  arg = 'variant',
): Promise<WebAssembly.Module> {
  if (source !== undefined) return compileFrom(variant, source, threads, op, arg);
  const key = `${variant}${threads ? '+threads' : ''}`;
  let module = COMPILED.get(key);
  if (module === undefined) {
    module = await compileFrom(variant, source, threads, op, arg);
    COMPILED.set(key, module);
  }
  return module;
}

async function compileFrom(
  variant: WasmVariant,
  source: WasmSource | undefined,
  threads: boolean,
  op: string,
  arg: string,
): Promise<WebAssembly.Module> {
  const src = source ?? defaultUrl(variant, threads);
  if (src instanceof WebAssembly.Module) return src;
  const what =
    source === undefined
      ? `is '${variant}', whose${threads ? ' threads' : ''} wasm binary`
      : 'names a binary that';
  let bytes: BufferSource;
  try {
    bytes = await readSource(src);
  } catch (err) {
    if (err instanceof CosineKitError) throw err;
    argError(
      'UNSUPPORTED',
      op,
      arg,
      `${what} could not be read: ${err instanceof Error ? err.message : String(err)}`,
      err,
    );
  }
  try {
    return await WebAssembly.compile(bytes);
  } catch (err) {
    argError(
      'UNSUPPORTED',
      op,
      arg,
      `${what} does not compile here: ${err instanceof Error ? err.message : String(err)}`,
      err,
    );
  }
}

async function readSource(src: WasmSource): Promise<BufferSource> {
  if (src instanceof ArrayBuffer) return src;
  if (ArrayBuffer.isView(src)) return src as ArrayBufferView<ArrayBuffer>;
  if (typeof Response !== 'undefined' && src instanceof Response) return src.arrayBuffer();
  const url = typeof src === 'string' ? new URL(src, baseUrl()) : (src as URL);
  if (url.protocol === 'file:') {
    // Node's fetch cannot read file: URLs.
    const name = 'node:fs/promises';
    const fs = (await import(/* @vite-ignore */ name)) as { readFile(u: URL): Promise<BufferSource> };
    return fs.readFile(url);
  }
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url.href} could not be fetched: HTTP ${res.status}.`);
  return res.arrayBuffer();
}

function baseUrl(): string {
  const loc = (globalThis as { location?: { href?: string } }).location?.href;
  return loc ?? import.meta.url;
}
