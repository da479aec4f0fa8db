import plainUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import simdUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import threadedUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { describe, expect, it } from 'vitest';
import { createTfjsBackend } from '../src/index.js';
import { matrix, maxAbsError, ref } from './helpers.js';

// The bundler recipe from the README: Vite `?url` imports of the binaries passed as `wasmPaths`.
describe('tfjs-wasm in the browser, binaries located by the bundler', () => {
  it('starts with wasmPaths, reports SIMD, and agrees with the reference', async () => {
    const backend = createTfjsBackend({
      engine: 'wasm',
      wasmPaths: {
        'tfjs-backend-wasm.wasm': plainUrl,
        'tfjs-backend-wasm-simd.wasm': simdUrl,
        'tfjs-backend-wasm-threaded-simd.wasm': threadedUrl,
      },
      tileColumns: 16,
    });
    await backend.init();
    const info = backend.describe();
    expect(info.engine).toBe('wasm');
    expect(info.simd).toBe(true);
    const queries = matrix(5, 33, 1);
    const corpusRows = matrix(70, 33, 2);
    const corpus = await backend.kernels.createCorpus(corpusRows);
    expect(
      maxAbsError(await backend.kernels.corpusMatrix(corpus, queries), ref.cosineMatrix(queries, corpusRows)),
    ).toBeLessThan(1e-5);
    const hits = await backend.kernels.corpusSearch(corpus, queries, 5);
    expect(Array.from(hits.indices)).toEqual(Array.from(ref.topK(queries, corpusRows, 5).indices));
    corpus.dispose();
    expect(backend.memory().residentHandles).toBe(0);
  });
});
