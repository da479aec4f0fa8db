import { isCosineKitError } from '@cosinekit/core/backend';
import { describe, expect, it, vi } from 'vitest';
import { createWasmBackend, relaxedSupported, simdSupported } from '../src/index.js';
import { backend, random } from './helpers.js';

const simdUrl = new URL('../dist/cosinekit-simd.wasm', import.meta.url);

describe('loading the binaries', () => {
  it('this engine has wasm SIMD', () => {
    expect(simdSupported()).toBe(true);
  });

  it("'auto' picks relaxed SIMD exactly where the engine validates it", async () => {
    const expected = relaxedSupported() ? 'relaxed' : 'simd';
    const b = await backend();
    expect(b.describe().variant).toBe(expected);
    b.dispose();
  });

  it('accepts the bytes or a compiled module, for bundlers', async () => {
    const bytes = await fetchBytes(simdUrl);
    const b1 = await backend({ variant: 'simd', wasm: { simd: bytes } });
    expect(b1.kernels.rowNorms(random(2, 3, 1))).toHaveLength(2);
    b1.dispose();
    const module = await WebAssembly.compile(bytes);
    const b2 = await backend({ variant: 'simd', wasm: { simd: module } });
    expect(b2.describe().variant).toBe('simd');
    b2.dispose();
  });

  it('compiles a shipped binary once, for every pair and backend after (V8 kept part of each compile: a leak probe)', async () => {
    const { createWasmPair } = await import('../src/index.js');
    const compile = vi.spyOn(WebAssembly, 'compile');
    try {
      for (let i = 0; i < 3; i++) {
        const pair = await createWasmPair();
        expect(pair.cosine(Float32Array.of(1, 2, 3), Float32Array.of(2, 4, 6))).toBeCloseTo(1, 6);
        pair.dispose();
        const b = createWasmBackend({ variant: 'simd', threads: 1 });
        await b.init();
        expect(
          Array.from(b.kernels.rowNorms({ data: Float32Array.of(3, 4), rows: 1, cols: 2 }) as Float32Array),
        ).toEqual([5]);
        b.dispose();
      }
      // The simd binary (pairs and one-thread backends share it): at most the first call compiled it.
      expect(compile.mock.calls.length).toBeLessThanOrEqual(1);
    } finally {
      compile.mockRestore();
    }
  });

  it('accepts a URL', async () => {
    const b = await backend({ variant: 'simd', wasm: { simd: simdUrl } });
    expect(b.variant).toBe('simd');
    b.dispose();
  });

  it('kernels before init() throw UNSUPPORTED; a bad variant is INVALID_ARGUMENT', async () => {
    const b = createWasmBackend({ variant: 'simd' });
    expect(() => b.kernels.rowNorms(random(1, 1, 1))).toThrow(/init\(\)/);
    expect(() => createWasmBackend({ variant: 'avx' as never })).toThrow(/variant/);
    await expect(backend({ variant: 'simd', tuning: { blockBytes: 0 } })).rejects.toThrow(/blockBytes/);
    // Past any cache: 1e300 looped for ever in the engine and 1e12 read out of bounds; now refused.
    for (const blockBytes of [1e12, 1e300, Number.POSITIVE_INFINITY])
      await expect(backend({ variant: 'simd', tuning: { blockBytes } })).rejects.toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT', arg: 'tuning.blockBytes' }),
      );
    await expect(backend({ variant: 'simd', tuning: { blockSteps: 2 ** 40 } })).rejects.toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', arg: 'tuning.blockSteps' }),
    );
    await expect(backend({ variant: 'simd', tuning: { tile: '9x9' as never } })).rejects.toThrow(/tile/);
    const bad = createWasmBackend({
      variant: 'simd',
      wasm: { simd: new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 9]) },
    });
    let err: unknown;
    try {
      await bad.init();
    } catch (e) {
      err = e;
    }
    expect(isCosineKitError(err, 'UNSUPPORTED')).toBe(true);
  });
});

/** The binary's bytes: read with fs in Node (fetch cannot read file: URLs there), fetched in browsers. */
async function fetchBytes(url: URL): Promise<Uint8Array<ArrayBuffer>> {
  if (url.protocol === 'file:') {
    const fs = 'node:fs/promises';
    const { readFile } = (await import(/* @vite-ignore */ fs)) as {
      readFile(u: URL): Promise<Uint8Array<ArrayBuffer>>;
    };
    return readFile(url);
  }
  return new Uint8Array(await (await fetch(url)).arrayBuffer());
}
