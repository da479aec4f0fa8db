import {
  type Backend,
  type CosineKit,
  createCosineKit,
  isCosineKitError,
  type SearchResult,
} from '@cosinekit/core';
import {
  createReferenceBackend,
  getBackend,
  registerBackend,
  unregisterBackend,
} from '@cosinekit/core/backend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, rows } from './backends.js';

const D = 32;
const N = 300;
const CORPUS = rows(N, D, 7);
const QUERIES = rows(5, D, 11);

const same = (a: SearchResult, b: SearchResult) => {
  expect(Array.from(a.indices)).toEqual(Array.from(b.indices));
  expect(Array.from(a.scores)).toEqual(Array.from(b.scores));
};

async function rejection(p: unknown): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  return expect.fail('expected a rejection');
}

for (const b of BACKENDS) {
  describe.skipIf(b.skip !== null)(`lifecycle: ${b.label}`, () => {
    let backend: Backend;
    let kit: CosineKit;
    let expected: SearchResult;
    const handles = () => backend.memory?.().residentHandles ?? 0;
    const q = () => Array.from({ length: 5 }, (_, i) => QUERIES.subarray(i * D, (i + 1) * D));
    const corpusRows = () => Array.from({ length: N }, (_, i) => CORPUS.subarray(i * D, (i + 1) * D));
    beforeAll(async () => {
      backend = b.create();
      kit = createCosineKit({ backend });
      // The answer every search below must give, bit for bit: top-k without a resident corpus.
      expected = await kit.topK(q(), corpusRows(), 10);
    });
    afterAll(async () => {
      kit.dispose();
      await backend.dispose?.();
    });

    it('a corpus disposed during a search: the search finishes, later calls get DISPOSED', async () => {
      const base = handles();
      const c = await kit.corpus(corpusRows());
      const pending = c.search(q(), 10);
      c.dispose();
      same(await pending, expected);
      const e = await rejection(c.search(q(), 10));
      expect(isCosineKitError(e, 'DISPOSED'), String(e)).toBe(true);
      expect(handles()).toBe(base);
    });

    it('dispose with 50 searches queued: all 50 finish with the sequential answer, then DISPOSED', async () => {
      const base = handles();
      const c = await kit.corpus(corpusRows());
      const queued = Array.from({ length: 50 }, () => c.search(q(), 10));
      c.dispose();
      for (const r of await Promise.all(queued)) same(r, expected);
      expect(isCosineKitError(await rejection(c.similarity(q())), 'DISPOSED')).toBe(true);
      expect(handles()).toBe(base);
      // kit.dispose() while searches are queued on two corpora: the same.
      const c1 = await kit.corpus(corpusRows());
      const c2 = await kit.corpus(corpusRows());
      const both = [
        ...Array.from({ length: 25 }, () => c1.search(q(), 10)),
        ...Array.from({ length: 25 }, () => c2.search(q(), 10)),
      ];
      kit.dispose();
      for (const r of await Promise.all(both)) same(r, expected);
      expect(isCosineKitError(await rejection(c2.search(q(), 1)), 'DISPOSED')).toBe(true);
      expect(handles()).toBe(base);
    });

    it('abusing corpus A leaves corpus B bit-for-bit unchanged', async () => {
      const a = await kit.corpus(corpusRows(), { ids: Array.from({ length: N }, (_, i) => `a${i}`) });
      const other = await kit.corpus(corpusRows());
      const before = await other.search(q(), 10);
      const abuse = [
        a.search([[Number.NaN, ...new Array(D - 1).fill(0)]], 1),
        a.search(q(), -1),
        a.add([[1, 2, 3]], ['x']),
        a.add(corpusRows().slice(0, 3), ['a0', 'y', 'z']),
        a.remove(Array.from({ length: N }, (_, i) => `a${i}`)),
      ];
      for (const p of abuse) expect(isCosineKitError(await rejection(p))).toBe(true);
      await a.add(corpusRows().slice(0, 7), ['n0', 'n1', 'n2', 'n3', 'n4', 'n5', 'n6']);
      await a.remove(['a1', 'a2', 'n3']);
      const inFlight = a.search(q(), 10);
      a.dispose();
      await inFlight;
      same(await other.search(q(), 10), before);
      same(before, expected);
      other.dispose();
    });

    it('calls before ready() work: the kit initialises on first use, once for concurrent callers', async () => {
      const fresh = b.create();
      let inits = 0;
      const init = fresh.init?.bind(fresh);
      fresh.init = async () => {
        inits++;
        await init?.();
      };
      const k = createCosineKit({ backend: fresh });
      expect(k.ranBy('topK')).toBeUndefined();
      const results = await Promise.all(Array.from({ length: 8 }, () => k.topK(q(), corpusRows(), 10)));
      for (const r of results) same(r, expected);
      expect(inits).toBe(1);
      expect(k.ranBy('topK')).toBe(fresh.kernels.topK ? fresh.name : 'reference');
      k.dispose();
      await fresh.dispose?.();
    });

    it('after backend.dispose(): every call gets a typed error or the right answer, never a crash or garbage', async () => {
      const fresh = b.create();
      const k = createCosineKit({ backend: fresh });
      const stale = await k.corpus(corpusRows());
      await fresh.dispose?.();
      const outcomes: string[] = [];
      const calls: [string, () => Promise<SearchResult>][] = [
        ['kit.topK', () => k.topK(q(), corpusRows(), 10)],
        ['corpus made before the dispose: search', () => stale.search(q(), 10)],
        [
          'new corpus: search',
          async () => {
            const c = await k.corpus(corpusRows());
            try {
              return await c.search(q(), 10);
            } finally {
              c.dispose();
            }
          },
        ],
      ];
      for (const [what, call] of calls) {
        try {
          same(await call(), expected);
          outcomes.push(`${what}: answers correctly`);
        } catch (e) {
          expect(isCosineKitError(e), `${what}: ${String(e)}`).toBe(true);
          outcomes.push(`${what}: ${(e as { code: string }).code}`);
        }
      }
      console.log(`[reliability] ${b.label} after backend.dispose(): ${outcomes.join('; ')}`);
      stale.dispose();
      k.dispose();
      await fresh.dispose?.();
    });
  });
}

describe('backends whose init fails', () => {
  it('a kit on a backend whose init() throws: BACKEND_INIT_FAILED with the reason, every time', async () => {
    const broken: Backend = {
      name: 'broken',
      kernels: {},
      init() {
        throw new Error('no device here');
      },
    };
    const k = createCosineKit({ backend: broken });
    for (const call of [
      () => k.ready(),
      () => k.cosineMatrix([[1, 2]], [[3, 4]]),
      () => k.corpus([[1, 2]]),
    ]) {
      const e = await rejection(call());
      expect(isCosineKitError(e, 'BACKEND_INIT_FAILED'), String(e)).toBe(true);
      expect((e as Error).message).toContain('no device here');
    }
  });

  it('the registry: a named broken backend fails typed; the best-available choice skips it and says why', async () => {
    registerBackend(
      'reliability-broken',
      () => ({
        name: 'reliability-broken',
        kernels: {},
        init: () => Promise.reject(new Error('driver lost')),
      }),
      1000,
    );
    try {
      const e = await rejection(getBackend('reliability-broken'));
      expect(isCosineKitError(e, 'BACKEND_INIT_FAILED'), String(e)).toBe(true);
      const skipped: string[] = [];
      const k = createCosineKit({ onFallback: (name, reason) => skipped.push(`${name}: ${reason}`) });
      const info = await k.ready();
      expect(info.backend).not.toBe('reliability-broken');
      expect(skipped.join()).toContain('driver lost');
      expect((await k.cosineMatrix([[1, 0]], [[1, 0]])).data[0]).toBe(1);
    } finally {
      unregisterBackend('reliability-broken');
    }
  });

  it('a factory that throws synchronously is reported the same way', async () => {
    registerBackend('reliability-throws', () => {
      throw new TypeError('cannot construct');
    });
    try {
      const e = await rejection(getBackend('reliability-throws'));
      expect(isCosineKitError(e, 'BACKEND_INIT_FAILED'), String(e)).toBe(true);
    } finally {
      unregisterBackend('reliability-throws');
    }
    // The reference is untouched by all of this.
    expect((await createCosineKit({ backend: createReferenceBackend() }).rowNorms([[3, 4]]))[0]).toBe(5);
  });
});
