import { describe, expect, it } from 'vitest';
import { backend, random } from './helpers.js';

// Runs only in the 'browser-isolated' project (COOP/COEP headers): helper threads are module Web
// Workers on a shared memory, and the calling thread (a page's main thread) spins while it waits.
describe('a cross-origin-isolated page', () => {
  it('runs helper threads, by default on every core', async () => {
    expect((globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated).toBe(true);
    const b = await backend({ variant: 'simd' });
    const cores = (globalThis as { navigator: { hardwareConcurrency: number } }).navigator
      .hardwareConcurrency;
    expect(b.describe().threads).toBe(cores);
    expect(b.describe().threadsNote).toBeUndefined();
    b.dispose();
  });

  it('gives the results of one thread, bit for bit', async () => {
    const one = await backend({ variant: 'simd', threads: 1 });
    const two = await backend({ variant: 'simd', threads: 2 });
    expect(two.describe().threads).toBe(2);
    const q = random(9, 128, 1);
    const x = random(20011, 128, 2);
    const a = one.kernels.cosineMatrix(q, x);
    const b = two.kernels.cosineMatrix(q, x);
    expect(new Uint32Array(b.buffer)).toEqual(new Uint32Array(a.buffer));
    const c1 = one.kernels.createCorpus(x, { storage: 'int8', rerank: 4 });
    const c2 = two.kernels.createCorpus(x, { storage: 'int8', rerank: 4 });
    expect([...two.kernels.corpusSearch(c2, q, 10).indices]).toEqual([
      ...one.kernels.corpusSearch(c1, q, 10).indices,
    ]);
    one.dispose();
    two.dispose();
  });
});
