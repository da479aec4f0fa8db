import { describe, expect, it } from 'vitest';
import {
  argError,
  type Backend,
  createReferenceBackend,
  type ResidentCorpus,
  referenceKernels,
  type StoredCorpus,
} from '../src/backend.js';
import { type Corpus, createCosineKit, type Tensor } from '../src/index.js';
import { failure, rows } from './fixtures/data.js';

// Calls cut short or failing part-way: a kit disposed while corpora are being made, a kernel
// abandoned after the timeout, an output transferred while the kernel runs, and the segment
// upkeep that follows an add or a remove failing on the backend.

const later = <T>(ms: number, v: () => T): Promise<T> =>
  new Promise((resolve, reject) =>
    setTimeout(() => {
      try {
        resolve(v());
      } catch (e) {
        reject(e);
      }
    }, ms),
  );

/**
 * The reference backend, every corpus it makes listed, with `kernels` (given that list) in place of
 * its own: a backend that can dispose its corpora under a call, as `backend.dispose()` does.
 */
function disposing(kernels: (made: ResidentCorpus[]) => Partial<Backend['kernels']>): Backend {
  const made: ResidentCorpus[] = [];
  return {
    ...createReferenceBackend(),
    name: 'disposing',
    kernels: {
      ...referenceKernels,
      createCorpus: (x, o) => {
        const h = referenceKernels.createCorpus(x, o) as ResidentCorpus;
        made.push(h);
        return h;
      },
      ...kernels(made),
    },
  };
}

/** The reference backend with each kernel answering `ms` later (an engine that reads back from a device). */
function slow(ms: number): { backend: Backend; handles: ResidentCorpus[] } {
  const ref = createReferenceBackend();
  const handles: ResidentCorpus[] = [];
  const kernels = { ...referenceKernels } as Record<string, unknown>;
  for (const [name, f] of Object.entries(referenceKernels))
    kernels[name] = (...args: unknown[]) =>
      later(ms, () => {
        const r = (f as (...a: unknown[]) => unknown)(...args);
        if (name === 'createCorpus' || name === 'importCorpus') handles.push(r as ResidentCorpus);
        return r;
      });
  return { backend: { ...ref, name: 'slow', kernels: kernels as Backend['kernels'] }, handles };
}

describe('kit.dispose() while corpora are being made', () => {
  it('disposes them too: corpus, loadCorpus and corpusFrom reject DISPOSED naming kit, and nothing stays resident', async () => {
    for (const ms of [0, 5]) {
      const { backend, handles } = slow(ms);
      const kit = createCosineKit({ backend });
      const saved = await (await kit.corpus(rows(20, 6, 1))).save();
      kit.dispose();
      handles.length = 0;
      const made = [
        kit.corpus(rows(20, 6, 2)),
        kit.loadCorpus(saved),
        kit.corpusFrom([rows(5, 6, 3), rows(5, 6, 4)]),
      ].map(failure);
      kit.dispose();
      for (const p of made) {
        const e = await p;
        expect(e).toMatchObject({ code: 'DISPOSED', arg: 'kit' });
        expect(e.message).toContain('kit.dispose()');
      }
      // corpus and loadCorpus made theirs; corpusFrom stops at its next chunk (it may make none).
      expect(handles.length).toBeGreaterThanOrEqual(2);
      for (const h of handles) expect(h.disposed).toBe(true);
      // The kit itself goes on: a corpus asked for after the dispose is made and searched.
      const c = await kit.corpus(rows(20, 6, 2));
      expect((await c.search(rows(1, 6, 2), 1)).indices[0]).toBe(0);
      c.dispose();
    }
  });

  it('corpusFrom disposed after its first segment, while a later one is added: DISPOSED naming kit, not a corpus the caller never held', async () => {
    const { backend } = slow(0);
    const kit = createCosineKit({ backend });
    async function* source() {
      for (let i = 0; i < 6; i++) {
        if (i === 3) kit.dispose();
        yield rows(2, 4, i);
      }
    }
    const e = await failure(kit.corpusFrom(source(), { segmentBytes: 32 }));
    expect(e).toMatchObject({ code: 'DISPOSED', op: 'corpusFrom', arg: 'kit' });
    expect(e.message).toContain('kit.dispose()');
  });

  it('the same on a backend that makes its corpus within the call (ungated createCorpus)', async () => {
    const kit = createCosineKit({ backend: 'reference' });
    const ref = await kit.ready();
    expect(ref.backend).toBe('reference');
    const p = kit.corpus(rows(8, 3, 5));
    kit.dispose();
    expect(await failure(p)).toMatchObject({ code: 'DISPOSED', op: 'corpus', arg: 'kit' });
  });
});

describe('a kernel abandoned after timeoutMs', () => {
  it('a corpus handle it makes later is disposed when it comes (nothing stays resident)', async () => {
    const { backend, handles } = slow(40);
    const kit = createCosineKit({ backend, timeoutMs: 10 });
    const e = await failure(kit.corpus(rows(30, 4, 6)));
    expect(e).toMatchObject({ code: 'BACKEND_ERROR', kernel: 'createCorpus' });
    await new Promise((r) => setTimeout(r, 80));
    expect(handles).toHaveLength(1);
    expect(handles[0].disposed).toBe(true);
  });
});

describe('an output transferred while its kernel runs', () => {
  const transfer = (out: Float32Array) =>
    structuredClone(out.buffer, { transfer: [out.buffer as ArrayBuffer] });

  it('cosineMatrix and corpus.similarity are DISPOSED naming options.out (not the backend failing)', async () => {
    const { backend } = slow(10);
    const kit = createCosineKit({ backend });
    const a = rows(3, 5, 7);
    const b = rows(4, 5, 8);
    const out = new Float32Array(12);
    const call = kit.cosineMatrix(a, b, { out });
    await new Promise((r) => setTimeout(r, 2));
    transfer(out);
    const e = await failure(call);
    expect(e).toMatchObject({ code: 'DISPOSED', op: 'cosineMatrix', arg: 'options.out' });

    const c = await kit.corpus(b);
    const out2 = new Float32Array(12);
    const sim = c.similarity(a, { out: out2 });
    await new Promise((r) => setTimeout(r, 2));
    transfer(out2);
    expect(await failure(sim)).toMatchObject({ code: 'DISPOSED', op: 'similarity', arg: 'options.out' });
    // The corpus is unharmed, and an output left alone is written.
    const out3 = new Float32Array(12);
    const t = await c.similarity(a, { out: out3 });
    expect(t.data).toBe(out3);
    const want = (await kit.cosineMatrix(a, b)).data;
    for (let i = 0; i < 12; i++) expect(out3[i]).toBeCloseTo(want[i], 6);
    c.dispose();
  });
});

describe('upkeep after an add or a remove that the backend fails', () => {
  /** The reference backend whose merges fail while `broken` is set (a device lost, a timeout). */
  function flaky(fail: () => never): { backend: Backend; set(v: boolean): void; rebuilt: () => number } {
    const ref = createReferenceBackend();
    let broken = false;
    let rebuilt = 0;
    const backend: Backend = {
      ...ref,
      name: 'flaky',
      kernels: {
        ...referenceKernels,
        importCorpus: (s: StoredCorpus) => {
          if (broken) fail();
          rebuilt++;
          return referenceKernels.importCorpus!(s);
        },
        // Merges fail the same way (an UNSUPPORTED merge is then gathered and imported, which fails too).
        mergeCorpora: (hs: readonly ResidentCorpus[], drop: readonly Uint8Array[]) => {
          if (broken) fail();
          rebuilt++;
          return referenceKernels.mergeCorpora!(hs, drop);
        },
      },
    };
    return { backend, set: (v) => (broken = v), rebuilt: () => rebuilt };
  }

  const ids = (p: string, n: number) => Array.from({ length: n }, (_, i) => `${p}${i}`);
  const top = async (c: Corpus, q: Tensor) => (await c.search(q, 1)).ids?.[0];

  // Whatever the failure: a backend's own error, or a typed refusal (a merged segment larger than it
  // takes) that the upkeep once let through, rejecting a change already made.
  it.each([
    [
      'an error of its own',
      () => {
        throw new Error('device lost (simulated)');
      },
    ],
    ['UNSUPPORTED', () => argError('UNSUPPORTED', 'importCorpus', 'stored', 'takes at most 8 rows.')],
    ['INVALID_ARGUMENT', () => argError('INVALID_ARGUMENT', 'importCorpus', 'stored', 'is refused.')],
  ] as const)(
    'the change stands and the call resolves (the merge fails with %s): a retry is refused as a repeat, or removes nothing',
    async (_, fail) => {
      const f = flaky(fail);
      const kit = createCosineKit({ backend: f.backend });
      const c = await kit.corpus(rows(10, 4, 0), { ids: ids('a', 10) });
      const more = rows(10, 4, 1);
      f.set(true);
      await c.add(more, ids('b', 10));
      expect(c.rows).toBe(20);
      expect(await top(c, rows(1, 4, 1))).toBe('b0');
      expect(await failure(c.add(more, ids('b', 10)))).toMatchObject({
        code: 'INVALID_ARGUMENT',
        arg: 'ids[0]',
      });
      expect(await c.remove(ids('a', 6))).toBe(6);
      expect(c.rows).toBe(14);
      expect(await c.remove(ids('a', 6))).toBe(0);
      expect(await top(c, rows(1, 4, 0))).not.toBe('a0');
      // Once the backend works again, the next change does the upkeep left undone.
      f.set(false);
      const before = f.rebuilt();
      expect(await c.remove(['b9'])).toBe(1);
      expect(f.rebuilt()).toBeGreaterThan(before);
      await c.add(rows(2, 4, 9), ['c0', 'c1']);
      expect(c.rows).toBe(15);
      const again = await kit.loadCorpus(await c.save());
      const q = rows(3, 4, 11);
      expect((await again.search(q, 5)).ids).toEqual((await c.search(q, 5)).ids);
      c.dispose();
      again.dispose();
    },
  );

  it("a search cut short by its backend's own DISPOSED names the corpus (it named 'backend', which search does not take)", async () => {
    let dispose = false;
    const backend = disposing((made) => ({
      corpusSearch: (h, q, k) => {
        if (!dispose) return referenceKernels.corpusSearch(h, q, k);
        // What a backend disposed mid-call does: its corpora go, and its runtime refuses the call.
        for (const m of made) m.dispose();
        return argError('DISPOSED', 'corpusSearch', 'backend', 'was disposed (backend.dispose()).');
      },
    }));
    const kit = createCosineKit({ backend });
    const corpus = await kit.corpus(rows(10, 4, 0));
    await corpus.search(rows(2, 4, 1), 3);
    dispose = true;
    expect(await failure(corpus.search(rows(2, 4, 1), 3))).toMatchObject({
      code: 'DISPOSED',
      op: 'search',
      arg: 'corpus',
    });
  });

  it('a backend disposed during the upkeep still fails the call (DISPOSED naming the corpus)', async () => {
    const backend = disposing((made) => ({
      importCorpus: () => {
        // What backend.dispose() does to its corpora, then the engine's own failure.
        for (const h of made) h.dispose();
        throw new Error('the device was destroyed');
      },
      mergeCorpora: () => {
        for (const h of made) h.dispose();
        throw new Error('the device was destroyed');
      },
    }));
    const kit = createCosineKit({ backend });
    const corpus = await kit.corpus(rows(10, 4, 0));
    expect(await failure(corpus.add(rows(10, 4, 1)))).toMatchObject({ code: 'DISPOSED', arg: 'corpus' });
  });
});
