import { listBackends } from '@cosinekit/core';
import {
  getBackend,
  isCosineKitError,
  referenceKernels,
  type StoredCorpus,
  unregisterBackend,
} from '@cosinekit/core/backend';
import { describe, expect, it } from 'vitest';
import { createGpujsBackend } from '../src/index.js';
import { inBrowser, initError, unavailable } from './modes.js';

describe('mode selection', () => {
  it("'auto' runs the best mode that works here and says which, and why it passed over better ones", async () => {
    const b = createGpujsBackend();
    await b.init?.();
    const d = b.describe!();
    console.log(`[backend-gpujs] auto mode here: ${JSON.stringify(d)}`);
    expect(d.requested).toBe('auto');
    const order = inBrowser ? ['webgl2', 'webgl', 'webasm', 'cpu'] : ['headlessgl', 'webasm', 'cpu'];
    const ran = order.indexOf(String(d.mode));
    expect(ran).toBeGreaterThanOrEqual(0);
    // Every better mode is named in `skipped` with its reason; a worse one never ran instead.
    for (const better of order.slice(0, ran)) expect(String(d.skipped)).toContain(better);
    if (ran === 0) expect(d.skipped).toBeUndefined();
    await b.dispose?.();
  });

  it('an explicit mode that cannot run here fails init with the reason, not a silent fallback', () => {
    const mode = inBrowser ? 'headlessgl' : 'webgl2';
    const error = initError(mode);
    expect(isCosineKitError(error, 'UNSUPPORTED')).toBe(true);
    expect(String((error as Error).message)).toContain(mode);
    expect(unavailable(mode)).toContain(mode);
  });

  it('rejects an unknown mode and a non-positive tile or texture limit by name', () => {
    for (const bad of [{ mode: 'gpu' }, { maxTextureSize: 0 }, { tileSize: 1.5 }]) {
      let error: unknown;
      try {
        createGpujsBackend(bad as never);
      } catch (e) {
        error = e;
      }
      expect(isCosineKitError(error, 'INVALID_ARGUMENT')).toBe(true);
      expect(String((error as Error).message)).toContain(`options.${Object.keys(bad)[0]}`);
    }
  });

  it('reads its options once, at the call: later changes are not used, a throwing getter is named', async () => {
    const options = { mode: 'cpu' as const, tileSize: 4 };
    const b = createGpujsBackend(options);
    options.tileSize = -1;
    b.init?.();
    expect(b.describe!().tileSize).toBe(4);
    await b.dispose?.();
    const getter = Object.defineProperty({}, 'mode', {
      enumerable: true,
      get() {
        throw new Error('boom');
      },
    });
    expect(() => createGpujsBackend(getter)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', op: 'createGpujsBackend', arg: 'options' }),
    );
  });

  it('rows longer than a shader may loop over are refused by name, never summed short (d = 40,000 gave cosines of 1)', async () => {
    const d = 40_000;
    const rows = new Float32Array(2 * d);
    for (let i = 0; i < d; i++) {
      rows[i] = 1;
      rows[d + i] = i < d / 2 ? 1 : 0;
    }
    const x = { data: rows, rows: 2, cols: d };
    for (const mode of inBrowser ? (['webgl2'] as const) : (['headlessgl', 'webasm'] as const)) {
      const why = unavailable(mode);
      if (why !== null) {
        console.log(`[backend-gpujs] long rows in ${mode} not checked: ${why}`);
        continue;
      }
      const b = createGpujsBackend({ mode });
      b.init?.();
      const cap = b.describe!().loopCap;
      if (mode === 'webasm') expect(cap).toBe('none');
      if (typeof cap === 'number' && cap < 2 * d) {
        expect(() => b.kernels.rowNorms!(x)).toThrow(expect.objectContaining({ code: 'UNSUPPORTED' }));
        expect(() => b.kernels.cosineMatrix!(x, x)).toThrow(expect.objectContaining({ code: 'UNSUPPORTED' }));
        // Stored rows past the scores' cap (a loaded file's) are refused when imported, not on
        // every later search (the corpus was made, and no search could run).
        const long = cap + 1;
        const exact = new Float32Array(long).fill(1 / Math.sqrt(long));
        const stored = {
          storage: 'float32',
          rerank: 0,
          rows: 1,
          cols: long,
          exact,
          half: null,
          codes: null,
          scales: null,
        };
        expect(() => b.kernels.importCorpus!(stored as StoredCorpus)).toThrow(
          expect.objectContaining({ code: 'UNSUPPORTED', op: 'importCorpus', arg: 'stored' }),
        );
        // Past half the cap too: a search normalises its queries in 2 d steps (such rows loaded,
        // and then every search of them failed).
        const half = Math.floor(cap / 2) + 1;
        const wide = { ...stored, cols: half, exact: new Float32Array(half).fill(1 / Math.sqrt(half)) };
        expect(() => b.kernels.importCorpus!(wide as StoredCorpus)).toThrow(
          expect.objectContaining({ code: 'UNSUPPORTED', op: 'importCorpus', arg: 'stored' }),
        );
      } else {
        const norms = (await b.kernels.rowNorms!(x)) as Float32Array;
        expect(Math.abs(norms[0] - Math.sqrt(d))).toBeLessThan(1e-3);
        const m = (await b.kernels.cosineMatrix!(x, x)) as Float32Array;
        expect(Math.abs(m[1] - Math.SQRT1_2)).toBeLessThan(2e-5);
      }
      await b.dispose?.();
    }
  });

  // Past 256-product blocks the blocks' sums joined the total one by one: in webasm mode (no loop
  // cap) cos(dom, near) came out 1.1e-4 off at d = 1,000,000 and rowNorms 2.3e-5 relative at
  // 200,000. They now join it 64 at a time (rows of fewer than 16,384 sum as before, bit for bit).
  if (inBrowser)
    console.log('[backend-gpujs] the very long rows test is Node-only (webasm mode has no loop cap)');
  it.skipIf(inBrowser)(
    'very long rows (webasm, d = 300,000): cosines within 2e-5, norms and products within 1e-5',
    async () => {
      const why = unavailable('webasm');
      if (why !== null) {
        console.log(`[backend-gpujs] very long rows in webasm not checked: ${why}`);
        return;
      }
      const d = 300_000;
      const rows = new Float32Array(3 * d);
      for (let j = 0; j < d; j++) {
        rows[j] = j % 2 ? 1 : 0.5;
        rows[d + j] = j === 0 ? 100 : 0.01;
        rows[2 * d + j] = j === 0 ? 100 : 0.012;
      }
      const x = { data: rows, rows: 3, cols: d };
      const ref = referenceKernels as unknown as Required<typeof referenceKernels>;
      const b = createGpujsBackend({ mode: 'webasm' });
      b.init?.();
      try {
        const m = (await b.kernels.cosineMatrix!(x, x)) as Float32Array;
        const want = ref.cosineMatrix(x, x) as Float32Array;
        for (let i = 0; i < 9; i++) expect(Math.abs(m[i] - want[i]), `matrix ${i}`).toBeLessThan(2e-5);
        const pairs = (await b.kernels.cosineRows!(x, x)) as Float32Array;
        for (let i = 0; i < 3; i++) expect(Math.abs(pairs[i] - 1), `pair ${i}`).toBeLessThan(2e-5);
        const norms = (await b.kernels.rowNorms!(x)) as Float32Array;
        const wantNorms = ref.rowNorms(x) as Float32Array;
        for (let i = 0; i < 3; i++)
          expect(Math.abs(norms[i] / wantNorms[i] - 1), `norm ${i}`).toBeLessThan(1e-5);
        const t = { data: rows.slice(d), rows: 2, cols: d };
        const p = (await b.kernels.matmul!(t, t, false, true)) as Float32Array;
        const wantP = ref.matmul(t, t, false, true) as Float32Array;
        for (let i = 0; i < 4; i++) expect(Math.abs(p[i] / wantP[i] - 1), `product ${i}`).toBeLessThan(1e-5);
      } finally {
        await b.dispose?.();
      }
    },
    120_000,
  );

  if (inBrowser)
    console.log(
      '[backend-gpujs] the headlessgl failure-message test is Node-only (it runs in the node project)',
    );
  it.skipIf(inBrowser)('without an X server, headlessgl names xvfb-run and scripts/build-gl.sh', () => {
    const why = unavailable('headlessgl');
    if (why === null) {
      console.log('[backend-gpujs] headlessgl runs here, so its failure message is not checked');
      return;
    }
    expect(why).toMatch(/build-gl\.sh/);
  });

  it(`register.ts registers 'gpujs' at priority ${inBrowser ? 7 : 3}`, async () => {
    await import('../src/register.js');
    const entry = listBackends().find((s) => s.name === 'gpujs');
    expect(entry?.priority).toBe(inBrowser ? 7 : 3);
    const b = await getBackend('gpujs');
    expect(b.name).toBe('gpujs');
    unregisterBackend('gpujs');
  });
});
