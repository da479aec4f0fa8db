import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createWasmBackend } from '@cosinekit/backend-wasm';
import { type Corpus, type CorpusStorage, createCosineKit, Tensor } from '@cosinekit/core';
import { createReferenceBackend } from '@cosinekit/core/backend';
import { loadCorpusFile, saveCorpusFile } from '@cosinekit/core/fs';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * The Node file helpers on the reference and on wasm: a file saved by streaming is `save()`'s bytes,
 * loads bit for bit on the same and on the other backend (ids, ordinals, removed rows, every
 * storage), and neither direction holds a second copy of a large corpus.
 */

const dir = mkdtempSync(join(tmpdir(), 'cosinekit-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function rows(n: number, d: number, seed: number): Tensor {
  let s = seed;
  const data = new Float32Array(n * d);
  for (let i = 0; i < data.length; i++) {
    s = (s * 48271) % 2147483647;
    data[i] = s / 1073741823.5 - 1;
  }
  return new Tensor(data, n, d);
}

const KITS = {
  reference: () => createCosineKit({ backend: createReferenceBackend(), onFallback: () => undefined }),
  wasm: () =>
    createCosineKit({ backend: createWasmBackend({ variant: 'simd' }), onFallback: () => undefined }),
};

const STORAGES: [CorpusStorage, number][] = [
  ['float32', 0],
  ['float16', 0],
  ['int8', 0],
  ['int8', 2],
];

describe('saveCorpusFile / loadCorpusFile across backends', () => {
  for (const [from, make] of Object.entries(KITS)) {
    for (const [storage, rerank] of STORAGES) {
      it(`${from}, ${storage} rerank ${rerank}: bit for bit on reference and wasm`, async () => {
        const kit = make();
        const d = 37;
        const t = rows(500, d, 11);
        const chunks = [0, 1, 2, 3, 4].map((i) => ({
          rows: new Tensor(t.data.slice(i * 100 * d, (i + 1) * 100 * d), 100, d),
          ids: Array.from({ length: 100 }, (_, j) => (j % 2 ? `s${i * 100 + j}` : i * 100 + j)),
        }));
        const c = await kit.corpusFrom(chunks, { storage, rerank, segmentBytes: 100 * d * 4 });
        await c.remove([0, 's101', 250, 's499', 498]);
        const path = join(dir, `${from}-${storage}-${rerank}.ckc`);
        await saveCorpusFile(c, path);
        const bytes = await c.save();
        expect(new Uint8Array(readFileSync(path))).toEqual(bytes);
        const q = rows(6, d, 3);
        const want = await c.search(q, 20);
        for (const [to, other] of Object.entries(KITS)) {
          const k2 = to === from ? kit : other();
          const back = await loadCorpusFile(k2, path, { segmentBytes: 7000 });
          expect(await back.save(), `${from} -> ${to}`).toEqual(bytes);
          // int8 without re-ranking ranks differently on wasm, which quantises the query too; the
          // file's bytes (above) are the same all the same.
          if (to === from || storage !== 'int8' || rerank > 0) {
            const got = await back.search(q, 20);
            expect(got.ids).toEqual(want.ids);
            expect(Array.from(got.indices)).toEqual(Array.from(want.indices));
            if (to === from) expect(Array.from(got.scores)).toEqual(Array.from(want.scores));
          }
          back.dispose();
          if (k2 !== kit) k2.dispose();
        }
        kit.dispose();
      });
    }
  }
});

/** Largest of the samples taken after each piece, less the baseline, in MB. */
function peak(samples: number[], base: number): number {
  return (Math.max(...samples) - base) / 1e6;
}

describe('memory: streaming holds no second copy', () => {
  it('wasm, 130k x 384 float32 (200 MB): save and load stay well below twice the corpus', async () => {
    const g = globalThis as { gc?: () => void };
    const kit = KITS.wasm();
    const n = 130_000;
    const d = 384;
    const mb = (n * d * 4) / 1e6;
    // Built from a stream of small chunks so the host never holds the whole corpus either.
    function* source() {
      for (let i = 0; i < n; i += 5000) yield rows(Math.min(5000, n - i), d, i + 1);
    }
    // Segments of 16 MiB: what a save or a load holds beyond the corpus is a few segments (an export
    // or a read, the next one before the collector takes the last, wasm's staging for the export),
    // whatever the corpus's size; with the default 64 MiB that is about this whole 200 MB corpus.
    const segmentBytes = 16 * 2 ** 20;
    let c: Corpus | undefined = await kit.corpusFrom(source(), { segmentBytes });
    const path = join(dir, 'big.ckc');
    g.gc?.();
    const mem = () => process.memoryUsage();
    const base = mem();
    const rss: number[] = [];
    const ab: number[] = [];
    const sample = () => {
      const m = mem();
      rss.push(m.rss);
      ab.push(m.arrayBuffers);
    };
    await saveCorpusFile(c, path, { onProgress: sample });
    const saveRss = peak(rss, base.rss);
    const saveAb = peak(ab, base.arrayBuffers);
    expect(statSync(path).size).toBeGreaterThan(n * d * 4);
    c.dispose();
    c = undefined;
    g.gc?.();
    const base2 = mem();
    rss.length = 0;
    ab.length = 0;
    const back = await loadCorpusFile(kit, path, { onProgress: sample, segmentBytes });
    sample();
    const loadRss = peak(rss, base2.rss);
    const loadAb = peak(ab, base2.arrayBuffers);
    console.log(
      `[files] ${mb.toFixed(0)} MB corpus: save peak +${saveRss.toFixed(0)} MB rss, +${saveAb.toFixed(0)} MB arrayBuffers; load peak +${loadRss.toFixed(0)} MB rss, +${loadAb.toFixed(0)} MB arrayBuffers`,
    );
    // Saving: beyond the resident corpus, a few segments; never the corpus again.
    expect(saveRss).toBeLessThan(0.6 * mb);
    expect(saveAb).toBeLessThan(0.6 * mb);
    // Loading: wasm memory keeps its pages after the dispose above, so this is what the load holds
    // beyond the corpus: about a segment; a second copy would be the corpus again.
    expect(loadRss).toBeLessThan(0.6 * mb);
    expect(loadAb).toBeLessThan(0.6 * mb);
    expect(back.rows).toBe(n);
    back.dispose();
    kit.dispose();
  });
});
