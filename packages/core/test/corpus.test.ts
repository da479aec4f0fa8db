import { describe, expect, it } from 'vitest';
import {
  type Backend,
  CORPUS_FORMAT_VERSION,
  CosineKitError,
  createReferenceBackend,
  referenceKernels,
} from '../src/backend.js';
import { crc32 } from '../src/crc32.js';
import { createCosineKit, type SearchResult, type Tensor } from '../src/index.js';
import { fromHalf, toHalf } from '../src/kernels/half.js';
import { rows } from './fixtures/data.js';

const kit = createCosineKit({ backend: createReferenceBackend() });

/** Exact top-k of the live rows, by brute force, as (ordinal, score) pairs. */
async function brute(q: Tensor, live: Map<number, Float32Array>, k: number) {
  const ords = [...live.keys()].sort((a, b) => a - b);
  const m = await kit.cosineMatrix(
    q,
    ords.map((o) => live.get(o)!),
  );
  const out: number[][] = [];
  for (let i = 0; i < q.rows; i++) {
    const s = ords.map((o, j) => [m.data[i * ords.length + j], o]);
    s.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    out.push(s.slice(0, k).map((e) => e[1]));
  }
  return out;
}

const flat = (r: SearchResult) => Array.from({ length: r.queries }, (_, q) => Array.from(r.hits(q).indices));

describe('a corpus that changes', () => {
  it('add and remove keep search exact, with stable ordinals and the caller ids', async () => {
    const d = 24;
    const first = rows(50, d, 1);
    const ids = Array.from({ length: 50 }, (_, i) => `doc-${i}`);
    const c = await kit.corpus(first, { ids });
    const live = new Map<number, Float32Array>();
    for (let i = 0; i < 50; i++) live.set(i, first.row(i));
    const more = rows(30, d, 2);
    await c.add(
      more,
      Array.from({ length: 30 }, (_, i) => `doc-${50 + i}`),
    );
    for (let i = 0; i < 30; i++) live.set(50 + i, more.row(i));
    expect(c.rows).toBe(80);
    const gone = [3, 7, 55, 56, 79];
    expect(await c.remove([...gone.map((g) => `doc-${g}`), 'no-such-id'])).toBe(5);
    for (const g of gone) live.delete(g);
    expect(c.rows).toBe(75);
    const q = rows(4, d, 3);
    const r = await c.search(q, 10);
    expect(flat(r)).toEqual(await brute(q, live, 10));
    expect(r.ids!.slice(0, 10)).toEqual(flat(r)[0].map((o) => `doc-${o}`));
    const sim = await c.similarity(q);
    expect(sim.shape).toEqual([4, 75]);
    c.dispose();
  });

  it('searches between removals answer for the rows live at each (the live rows are kept between searches)', async () => {
    // A search after a removal keeps the segment's live rows for the next one; each removal must
    // reach them, plain and with a deny list (whose mask starts from them).
    const d = 16;
    const base = rows(120, d, 4);
    const c = await kit.corpus(base);
    const live = new Map<number, Float32Array>();
    for (let i = 0; i < 120; i++) live.set(i, base.row(i));
    const q = rows(3, d, 5);
    for (const gone of [[7], [8, 9], [0, 119], [60]]) {
      await c.remove(gone);
      for (const g of gone) live.delete(g);
      const plain = await c.search(q, 12);
      expect(flat(plain)).toEqual(await brute(q, live, 12));
      const denied = await c.search(q, 12, { filter: { deny: [1, 2] } });
      const without = new Map([...live].filter(([o]) => o !== 1 && o !== 2));
      expect(flat(denied)).toEqual(await brute(q, without, 12));
    }
    c.dispose();
  });

  it('compacts a half-removed segment and returns its memory', async () => {
    const ref = createReferenceBackend();
    const k2 = createCosineKit({ backend: ref });
    const c = await k2.corpus(rows(40, 8, 4));
    // 19 rows: under half the first segment, so the add merges nothing.
    await c.add(rows(19, 8, 5));
    expect(ref.memory!().residentHandles).toBe(2);
    await c.remove(Array.from({ length: 25 }, (_, i) => i)); // 25 of the first 40: compacted
    expect(ref.memory!().residentHandles).toBe(2);
    expect(c.rows).toBe(34);
    const r = await c.search(rows(1, 8, 6), 34);
    expect(new Set(r.indices).size).toBe(34);
    expect(Math.min(...r.indices)).toBe(25);
    for (let i = 0; i < 10; i++) await c.add(rows(3, 8, 10 + i));
    expect(ref.memory!().residentHandles).toBeLessThanOrEqual(9);
    c.dispose();
    expect(ref.memory!().residentHandles).toBe(0);
  });

  it('rejects bad ids and bad removals with typed errors', async () => {
    const c = await kit.corpus(rows(3, 4, 7), { ids: ['a', 'b', 'c'] });
    await expect(c.add(rows(1, 4, 8), ['a'])).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      arg: 'ids[0]',
    });
    await expect(c.add(rows(1, 4, 8))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', arg: 'ids' });
    await expect(c.add(rows(1, 5, 8), ['z'])).rejects.toMatchObject({ code: 'DIMENSION_MISMATCH' });
    await expect(c.remove(['a', 'b', 'c'])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', op: 'remove' });
    await expect(kit.corpus(rows(2, 4, 9), { ids: ['x', 'x'] })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    await expect(kit.corpus(rows(2, 4, 9), { ids: ['x'] })).rejects.toMatchObject({ code: 'SHAPE_MISMATCH' });
    await expect(kit.corpus(rows(2, 4, 9), { storage: 'int4' as never })).rejects.toMatchObject({
      arg: 'options.storage',
    });
    c.dispose();
    await expect(c.add(rows(1, 4, 8), ['q'])).rejects.toMatchObject({ code: 'DISPOSED' });
  });
});

describe('saved corpora', () => {
  it('round-trip: same hits, same ids, same ordinals, and byte-identical when saved again', async () => {
    const c = await kit.corpus(rows(60, 17, 11), { ids: Array.from({ length: 60 }, (_, i) => i * 10) });
    await c.add(rows(5, 17, 12), [1, 2, 3, 4, 5]);
    await c.remove([20, 30]);
    const bytes = await c.save();
    const back = await kit.loadCorpus(bytes);
    const q = rows(3, 17, 13);
    const [a, b] = [await c.search(q, 7), await back.search(q, 7)];
    expect(Array.from(b.indices)).toEqual(Array.from(a.indices));
    expect(b.ids).toEqual(a.ids);
    expect(Array.from(b.scores)).toEqual(Array.from(a.scores));
    expect(await back.save()).toEqual(bytes);
    // The loaded corpus keeps growing from where the saved one stopped.
    await back.add(rows(1, 17, 14), [99]);
    expect(back.rows).toBe(64);
    c.dispose();
    back.dispose();
  });

  it('rejects every truncation and single bit flip with CORRUPT_DATA, leaving nothing allocated', async () => {
    const ref = createReferenceBackend();
    const k2 = createCosineKit({ backend: ref });
    const c = await k2.corpus(rows(6, 5, 15), { ids: ['a', 'b', 'c', 'd', 'e', 'f'] });
    const bytes = await c.save();
    c.dispose();
    const before = ref.memory!().residentHandles;
    let s = 12345;
    const rnd = () => (s = (s * 16807) % 2147483647) / 2147483647;
    const bad: Uint8Array[] = [];
    for (let n = 0; n < bytes.length; n += 7) bad.push(bytes.slice(0, n));
    for (let t = 0; t < 300; t++) {
      const b = bytes.slice();
      const at = Math.floor(rnd() * b.length);
      b[at] ^= 1 << Math.floor(rnd() * 8);
      bad.push(b);
    }
    for (const b of bad) {
      const err = await k2.loadCorpus(b).then(
        () => null,
        (e) => e,
      );
      expect(err).toBeInstanceOf(CosineKitError);
      expect(err.code).toBe('CORRUPT_DATA');
    }
    expect(ref.memory!().residentHandles).toBe(before);
  });

  it('names the version it cannot read', async () => {
    const c = await kit.corpus(rows(2, 3, 16));
    const bytes = await c.save();
    const v = new DataView(bytes.buffer);
    v.setUint32(8, CORPUS_FORMAT_VERSION + 1, true);
    v.setUint32(bytes.length - 4, crc32(bytes.subarray(0, bytes.length - 4)), true);
    await expect(kit.loadCorpus(bytes)).rejects.toThrow(`format version ${CORPUS_FORMAT_VERSION + 1}`);
    await expect(kit.loadCorpus('nope' as never)).rejects.toMatchObject({ code: 'INVALID_TYPE' });
  });
});

describe('quantised corpora', () => {
  it('float16 encodes within half an ulp', () => {
    for (const v of [0, 1, -1, 0.5, 1e-5, -3.25, 6e-8, 65504, 1 / 3]) {
      const back = fromHalf(toHalf(v));
      const ulp = Math.abs(v) < 6.1e-5 ? 2 ** -24 : 2 ** (Math.floor(Math.log2(Math.abs(v))) - 10);
      expect(Math.abs(back - v)).toBeLessThanOrEqual(ulp / 2 + 1e-12);
    }
  });

  it.each(['int8', 'float16'] as const)(
    '%s storage: recall@10 >= 0.99 with re-ranking, and honest scores',
    async (storage) => {
      const corpus = rows(2000, 64, 17);
      const q = rows(20, 64, 18);
      const exact = await kit.topK(q, corpus, 10);
      const quant = await kit.corpus(corpus, { storage });
      const rer = await kit.corpus(corpus, { storage, rerank: 4 });
      expect(quant.storage).toBe(storage);
      const recall = (r: SearchResult) => {
        let hit = 0;
        for (let i = 0; i < 20; i++) {
          const want = new Set(exact.hits(i).indices);
          for (const j of r.hits(i).indices) if (want.has(j)) hit++;
        }
        return hit / 200;
      };
      const a = await quant.search(q, 10);
      const b = await rer.search(q, 10);
      expect(recall(b)).toBeGreaterThanOrEqual(0.99);
      expect(recall(a)).toBeGreaterThanOrEqual(storage === 'int8' ? 0.8 : 0.95);
      // Re-ranked scores are exact.
      for (let i = 0; i < b.scores.length; i++) {
        const row = corpus.row(b.indices[i]);
        const qq = q.row(Math.floor(i / 10));
        const m = await kit.cosineMatrix(qq, row);
        expect(Math.abs(b.scores[i] - m.data[0])).toBeLessThan(1e-6);
      }
      quant.dispose();
      rer.dispose();
    },
  );

  it('falls back to the reference, saying so, when a backend cannot store int8', async () => {
    const floatOnly: Backend = {
      name: 'float-only',
      kernels: {
        createCorpus: (x, o) => {
          if (o?.storage && o.storage !== 'float32') {
            throw new CosineKitError('UNSUPPORTED', 'float32 only');
          }
          return referenceKernels.createCorpus(x);
        },
        corpusSearch: referenceKernels.corpusSearch,
        corpusMatrix: referenceKernels.corpusMatrix,
      },
    };
    const said: string[] = [];
    const k2 = createCosineKit({ backend: floatOnly, onFallback: (b, why) => said.push(`${b}: ${why}`) });
    const c = await k2.corpus(rows(10, 4, 19), { storage: 'int8' });
    expect(c.storage).toBe('int8');
    expect(said).toEqual(['float-only: cannot store a corpus as int8; the reference backend holds it']);
    c.dispose();
  });
});

describe('corpus file header checks', () => {
  /** Re-encodes `bytes` with a new header text, keeping the payload and fixing the CRC. */
  function withHeader(bytes: Uint8Array, json: string): Uint8Array {
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const h = v.getUint32(12, true);
    let head = new TextEncoder().encode(json);
    const padded = Math.ceil(head.length / 4) * 4;
    const hp = new Uint8Array(padded).fill(0x20);
    hp.set(head);
    head = hp;
    const rest = bytes.subarray(16 + h, bytes.length - 4);
    const out = new Uint8Array(16 + padded + rest.length + 4);
    out.set(bytes.subarray(0, 16));
    new DataView(out.buffer).setUint32(12, padded, true);
    out.set(head, 16);
    out.set(rest, 16 + padded);
    new DataView(out.buffer).setUint32(out.length - 4, crc32(out.subarray(0, out.length - 4)), true);
    return out;
  }

  it('rejects a checksum-valid header that is not an object, or whose ids repeat', async () => {
    const c = await kit.corpus(rows(2, 3, 20), { ids: ['p', 'q'] });
    const bytes = await c.save();
    c.dispose();
    const v = new DataView(bytes.buffer);
    const head = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + v.getUint32(12, true))));
    for (const text of ['null', '[]', '7', JSON.stringify({ ...head, ids: ['p', 'p'] })]) {
      await expect(kit.loadCorpus(withHeader(bytes, text))).rejects.toMatchObject({ code: 'CORRUPT_DATA' });
    }
    const ok = await kit.loadCorpus(withHeader(bytes, JSON.stringify(head)));
    expect(ok.rows).toBe(2);
    ok.dispose();
  });
});
