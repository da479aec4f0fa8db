import { argError, describeType, ownOptions, reading } from '@cosinekit/core/backend';
import type { WasmExports } from './generated/exports.js';
import { checkSource, compileVariant, simdSupported, type WasmSource } from './loader.js';

/** Options of {@link createWasmPair}. */
export interface WasmPairOptions {
  /**
   * Where to load the plain SIMD binary from (bytes, a compiled `WebAssembly.Module`, a
   * `Response`, or a URL); by default `dist/cosinekit-simd.wasm` next to this package, as for
   * `createWasmBackend`'s `wasm.simd`.
   */
  wasm?: WasmSource;
}

/** The synchronous pair function {@link createWasmPair} resolves to. */
export interface WasmPair {
  /**
   * Cosine of two `Float32Array`s of the same length: both are copied into wasm memory and one
   * SIMD pass takes the dot product and both squared norms, float32 within blocks of 64 values
   * and float64 across them: within 1.5e-6 of the float64 result (in practice about 1e-8). Values
   * float32 sums could overflow or lose digits with (beyond about 1e19 or below 1e-19) are
   * computed again entirely in float64. 0 when either is a zero vector; clamped to [-1, 1].
   *
   * Throws `INVALID_TYPE` when an argument is not a Float32Array (a Proxy around one included),
   * `EMPTY_INPUT` when it is empty, `DISPOSED` when its buffer was transferred (detached),
   * `DIMENSION_MISMATCH` when the lengths differ, `NON_FINITE` when it holds NaN or ±Infinity (each
   * naming the argument and `'WasmPair.cosine'`), and `DISPOSED` after {@link WasmPair.dispose}.
   * Destructuring is fine: `const { cosine } = await createWasmPair()`.
   */
  cosine(a: Float32Array, b: Float32Array): number;
  /** Releases the instance and its memory; later calls throw `DISPOSED`. Idempotent. */
  dispose(): void;
}

const OP = 'WasmPair.cosine';
/** Bytes in one wasm page. */
const PAGE = 65536;

/**
 * A synchronous cosine for one pair of `Float32Array`s at a time, with nothing made resident:
 * compiles and instantiates the plain SIMD module once (await this once, at start-up), then each
 * `cosine(a, b)` call is synchronous. From a few hundred floats on it is several times faster than
 * `cosine()` from `@cosinekit/core` (the package README gives figures and says which call to use
 * for one pair, many pairs and repeated queries).
 *
 * ```ts
 * const { cosine } = await createWasmPair();
 * cosine(embeddingA, embeddingB); // synchronous from here on
 * ```
 *
 * Rejects with `INVALID_TYPE` when `options` is not an object or `options.wasm` is not a binary
 * source, `INVALID_ARGUMENT` naming an option it does not take, and `UNSUPPORTED` when the binary
 * cannot be read or compiled or the engine lacks WebAssembly SIMD.
 */
export async function createWasmPair(options: WasmPairOptions = {}): Promise<WasmPair> {
  options = ownOptions('createWasmPair', options, ['wasm']);
  checkSource('createWasmPair', 'options.wasm', options.wasm);
  if (!simdSupported()) {
    argError(
      'UNSUPPORTED',
      'createWasmPair',
      'options',
      'cannot be met: this JavaScript engine lacks WebAssembly SIMD.',
    );
  }
  const module = await compileVariant(
    'simd',
    options.wasm,
    false,
    'createWasmPair',
    options.wasm === undefined ? 'variant' : 'options.wasm',
  );
  const instance = await WebAssembly.instantiate(module, {});
  const exports = instance.exports as unknown as WasmExports;
  const memory = exports.memory!;
  // The scratch region: `a` at `base`, `b` right after it; both 16-byte aligned.
  const base = (exports.heapBase() + 15) & ~15;
  let f32 = new Float32Array(memory.buffer);
  /** Floats each of the two slots holds (a multiple of 4). */
  let slot = Math.floor((memory.buffer.byteLength - base) / 8 / 4) * 4;
  let disposed = false;

  /** Grows the memory so each slot holds `d` floats. */
  const reserve = (d: number): void => {
    const need = base + 2 * ((d + 3) & ~3) * 4;
    const have = memory.buffer.byteLength;
    if (need > have) {
      try {
        memory.grow(Math.ceil((need - have) / PAGE));
      } catch (err) {
        argError(
          'OUT_OF_MEMORY',
          OP,
          'a',
          `has ${d} floats: two such vectors do not fit in wasm memory.`,
          err,
        );
      }
    }
    f32 = new Float32Array(memory.buffer);
    slot = Math.floor((memory.buffer.byteLength - base) / 8 / 4) * 4;
  };

  const cosine = (a: Float32Array, b: Float32Array): number => {
    // The everyday call, kept to a few checks: two equal, non-empty Float32Arrays that fit. A
    // Proxy around a Float32Array passes instanceof and throws on .length: refused by name below.
    let fits: boolean;
    try {
      fits =
        a instanceof Float32Array &&
        b instanceof Float32Array &&
        a.length === b.length &&
        a.length !== 0 &&
        a.length <= slot &&
        !disposed;
    } catch {
      fits = false;
    }
    if (!fits) {
      refuse(a, b, disposed);
      reserve(a.length);
    }
    const d = a.length;
    const at = base >>> 2;
    const bt = at + ((d + 3) & ~3);
    f32.set(a, at);
    f32.set(b, bt);
    const c = exports.pairCosine(base, bt << 2, d);
    if (Number.isNaN(c)) nonFinite(a, b);
    return c;
  };

  return {
    cosine,
    dispose() {
      if (disposed) return;
      disposed = true;
      slot = 0;
      f32 = new Float32Array(0);
    },
  };
}

/** Throws the reason `a` and `b` cannot be compared, if there is one (a length past the slots is not one). */
function refuse(a: unknown, b: unknown, disposed: boolean): void {
  if (disposed) argError('DISPOSED', OP, 'pair', 'was disposed; create a new one with createWasmPair().');
  for (const [arg, v] of [
    ['a', a],
    ['b', b],
  ] as const) {
    // A value that cannot be inspected (a revoked Proxy, a throwing trap) is INVALID_ARGUMENT
    // naming it, with the TypeError as cause.
    if (!reading(OP, arg, () => v instanceof Float32Array)) {
      argError('INVALID_TYPE', OP, arg, `must be a Float32Array, got ${describeType(v)}.`);
    }
    // Only a real view is one: a Proxy (or an object made from the prototype) cannot be read.
    if (!ArrayBuffer.isView(v))
      argError(
        'INVALID_TYPE',
        OP,
        arg,
        'must be a Float32Array, got an object that only inherits from one (a Proxy?).',
      );
    if ((v as Float32Array).length === 0) {
      try {
        // Only a detached buffer refuses a new view.
        new Uint8Array((v as Float32Array).buffer, 0, 0);
      } catch {
        argError('DISPOSED', OP, arg, 'is a Float32Array whose buffer was transferred (detached).');
      }
      argError('EMPTY_INPUT', OP, arg, 'is empty.');
    }
  }
  const n = (a as Float32Array).length;
  const m = (b as Float32Array).length;
  if (n !== m) argError('DIMENSION_MISMATCH', OP, 'b', `has length ${m} but 'a' has length ${n}.`);
}

/** Throws `NON_FINITE` naming the first argument that holds NaN or ±Infinity, and where. */
function nonFinite(a: Float32Array, b: Float32Array): never {
  for (const [arg, v] of [
    ['a', a],
    ['b', b],
  ] as const) {
    for (let i = 0; i < v.length; i++) {
      if (!Number.isFinite(v[i])) argError('NON_FINITE', OP, arg, `holds ${v[i]} at index ${i}.`);
    }
  }
  return argError('UNSUPPORTED', OP, 'a', 'and b are finite, yet the kernel produced NaN.');
}
