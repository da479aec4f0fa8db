import { describe, expect, it } from 'vitest';
import { CosineKitError, createReferenceBackend } from '../src/backend.js';
import { stepQueries } from '../src/corpus.js';
import { createCosineKit, type Tensor } from '../src/index.js';
import { ReferenceCorpus } from '../src/kernels/corpus.js';
import { rows } from './fixtures/data.js';

const kit = createCosineKit({ backend: createReferenceBackend() });

/** `total` rows in chunks of `size`, with ids `id-<ordinal>`, from an async generator. */
async function* chunks(all: Tensor, size: number, ids = true) {
  for (let i = 0; i < all.rows; i += size) {
    const part = all.slice(i, Math.min(all.rows, i + size));
    await Promise.resolve();
    yield ids ? { rows: part, ids: Array.from({ length: part.rows }, (_, j) => `id-${i + j}`) } : part;
  }
}

// An abortable call's steps: about 2^26 multiply-adds, never fewer than 16 queries, or 32 where
// they stay within 2^34 multiply-adds (one query a step read a large corpus from memory once per
// query: a signal made 64 x 200,000 x 1536 and 64 x 700,000 x 384 2.8-3.1x slower; 8 a step still
// cost 1.35-1.43x at 64 x 200,000 x 1536).
describe('the query rows of an abortable step', () => {
  it('are about 2^26 multiply-adds, at least 16 (32 within 2^34), at most the queries', () => {
    expect(stepQueries(1000 * 384, 1000)).toBe(174);
    expect(stepQueries(200_000 * 384, 64)).toBe(32);
    expect(stepQueries(200_000 * 1536, 64)).toBe(32);
    expect(stepQueries(1_000_000 * 1536, 64)).toBe(16);
    expect(stepQueries(700_000 * 384, 64)).toBe(32);
    expect(stepQueries(2 ** 40, 3)).toBe(3);
    expect(stepQueries(2 ** 40, 64)).toBe(16);
    expect(stepQueries(0, 5)).toBe(5);
  });
});

describe('corpusFrom', () => {
  it('builds the same corpus as corpus() from chunks, in segments, with progress', async () => {
    const d = 9;
    const all = rows(1000, d, 1);
    const progress: number[] = [];
    // Segments of ~100 rows: 10 uploads, none holding all rows.
    const c = await kit.corpusFrom(chunks(all, 33), {
      segmentBytes: 100 * d * 4,
      onProgress: (n) => progress.push(n),
    });
    const whole = await kit.corpus(all, { ids: Array.from({ length: 1000 }, (_, i) => `id-${i}`) });
    expect(c.rows).toBe(1000);
    expect(progress.at(-1)).toBe(1000);
    expect(progress.length).toBeGreaterThan(5);
    expect(progress.every((n, i) => i === 0 || n > progress[i - 1])).toBe(true);
    const q = rows(4, d, 2);
    const a = await c.search(q, 12);
    const b = await whole.search(q, 12);
    expect(Array.from(a.indices)).toEqual(Array.from(b.indices));
    expect(a.ids).toEqual(b.ids);
    // A normal corpus: remove, add, save and load.
    expect(await c.remove(['id-0', 'id-999'])).toBe(2);
    await c.add(rows(3, d, 3), ['x', 'y', 'z']);
    const back = await kit.loadCorpus(await c.save());
    expect(back.rows).toBe(1001);
    expect((await back.search(q, 5)).ids).toEqual((await c.search(q, 5)).ids);
    for (const x of [c, whole, back]) x.dispose();
  });

  it('takes a plain iterable of row arrays without ids', async () => {
    const c = await kit.corpusFrom([[[1, 0]], [[0, 1]], [[1, 1]]]);
    expect(c.rows).toBe(3);
    expect(Array.from((await c.search([[1, 0.1]], 1)).indices)).toEqual([0]);
    c.dispose();
  });

  const live = () => ReferenceCorpus.live;
  const bad: [string, () => unknown, string, string][] = [
    ['a non-iterable source', () => 42, 'INVALID_TYPE', 'source'],
    ['an empty stream', () => [], 'EMPTY_INPUT', 'source'],
    [
      'a ragged chunk',
      () => [
        rows(5, 3, 1),
        [
          [1, 2, 3],
          [1, 2],
        ],
      ],
      'SHAPE_MISMATCH',
      'source[1][1]',
    ],
    ['a chunk of another width', () => [rows(5, 3, 1), rows(2, 4, 1)], 'DIMENSION_MISMATCH', 'source[1]'],
    ['a non-finite chunk', () => [rows(5, 3, 1), [[1, Number.NaN, 0]]], 'NON_FINITE', 'source[1]'],
    ['a chunk that is not rows', () => [rows(5, 3, 1), 'rows'], 'INVALID_TYPE', 'source[1]'],
    [
      'ids on some chunks only',
      () => [{ rows: [[1, 2]], ids: ['a'] }, { rows: [[3, 4]] }],
      'INVALID_ARGUMENT',
      'source[1].ids',
    ],
    [
      'an id repeated across chunks',
      () => [
        { rows: [[1, 2]], ids: ['a'] },
        { rows: [[3, 4]], ids: ['a'] },
      ],
      'INVALID_ARGUMENT',
      'source[1].ids[0]',
    ],
  ];
  for (const [what, make, code, arg] of bad) {
    it(`refuses ${what} and leaves nothing resident`, async () => {
      const before = live();
      // segmentBytes of one byte: every chunk is uploaded, so a failure has something to undo.
      const e = await kit.corpusFrom(make() as never, { segmentBytes: 1 }).catch((x) => x);
      expect(e).toBeInstanceOf(CosineKitError);
      expect(e).toMatchObject({ code, op: 'corpusFrom', arg });
      expect(live()).toBe(before);
    });
  }

  it('disposes what it built when the stream throws', async () => {
    const before = live();
    async function* failing() {
      yield rows(4, 3, 1);
      throw new Error('disk gone');
    }
    await expect(kit.corpusFrom(failing(), { segmentBytes: 1 })).rejects.toThrow('disk gone');
    expect(live()).toBe(before);
  });
});

describe('corpusFrom closes a source it stops reading', () => {
  it("reports a bad chunk at once, closing the source, whose clean-up may never end (it waited for ever on the source's return())", async () => {
    const live = () => ReferenceCorpus.live;
    const before = live();
    let closing = 0;
    async function* stuck() {
      try {
        yield [[1, 0, 0]];
        yield [[Number.NaN, 0, 0]];
        yield [[0, 1, 0]];
      } finally {
        closing++;
        // A close() that never finishes.
        await new Promise(() => undefined);
      }
    }
    const e = await Promise.race([
      kit.corpusFrom(stuck(), { segmentBytes: 1 }).catch((x) => x),
      new Promise((r) => setTimeout(() => r('still pending after 2 s'), 2000)),
    ]);
    expect(e).toMatchObject({ code: 'NON_FINITE', op: 'corpusFrom', arg: 'source[1]' });
    expect(closing).toBe(1);
    expect(live()).toBe(before);
    // A return() that throws, or rejects, or cannot be read: the chunk's error is still the one reported.
    for (const close of [
      () => {
        throw new Error('close failed');
      },
      () => Promise.reject(new Error('close failed')),
      undefined,
    ]) {
      const it: Iterator<unknown> = {
        next: () => ({ done: false, value: [[Number.POSITIVE_INFINITY]] }),
        ...(close ? { return: close as unknown as () => IteratorResult<unknown> } : {}),
      };
      const source = { [Symbol.iterator]: () => it };
      await expect(kit.corpusFrom(source as never)).rejects.toMatchObject({
        code: 'NON_FINITE',
        arg: 'source[0]',
      });
    }
  });
});

describe('AbortSignal', () => {
  it('an aborted signal refuses search, similarity and corpusFrom at once', async () => {
    const c = await kit.corpus(rows(20, 3, 1));
    const signal = AbortSignal.abort(new Error('user left'));
    for (const p of [
      c.search(rows(1, 3, 2), 2, { signal }),
      c.similarity(rows(1, 3, 2), { signal }),
      kit.corpusFrom([rows(2, 3, 3)], { signal }),
    ]) {
      const e = await p.catch((x) => x);
      expect(e).toBeInstanceOf(CosineKitError);
      expect(e).toMatchObject({ code: 'ABORTED', arg: 'signal' });
    }
    c.dispose();
  });

  it('a timer aborts corpusFrom over a source that never waits (it hung: the timer never ran)', async () => {
    const chunk = rows(1, 4, 1);
    const endless = {
      sync: function* () {
        for (;;) yield chunk;
      },
      async: async function* () {
        for (;;) yield chunk;
      },
    };
    for (const [kind, make] of Object.entries(endless)) {
      const e = await kit.corpusFrom(make(), { signal: AbortSignal.timeout(100) }).catch((x) => x);
      expect(e, kind).toMatchObject({ code: 'ABORTED', op: 'corpusFrom', arg: 'signal' });
    }
  }, 60_000);

  it('a signal that fires mid-search stops it between steps and leaves the corpus intact', async () => {
    const d = 64;
    const c = await kit.corpus(rows(4000, d, 1));
    await c.add(rows(3000, d, 2));
    // Five steps of 149 queries: between steps the kit yields a macrotask (setImmediate in Node),
    // and the timers due run at the next turn of the loop, so the abort is seen a step or two in.
    const q = rows(600, d, 3);
    const want = await c.search(q, 5);
    const ctl = new AbortController();
    const p = c.search(q, 5, { signal: ctl.signal });
    const s = c.similarity(q, { signal: ctl.signal });
    // Fires after the first step has run: the search is in its loop of query blocks.
    setTimeout(() => ctl.abort(), 0);
    await expect(p).rejects.toMatchObject({ code: 'ABORTED', op: 'search' });
    await expect(s).rejects.toMatchObject({ code: 'ABORTED', op: 'similarity' });
    expect(c.rows).toBe(7000);
    const again = await c.search(q, 5);
    expect(Array.from(again.indices)).toEqual(Array.from(want.indices));
    c.dispose();
  });

  it('a signal that fires mid-build disposes the partial corpus', async () => {
    const before = ReferenceCorpus.live;
    const ctl = new AbortController();
    async function* slow() {
      for (let i = 0; i < 100; i++) {
        if (i === 3) ctl.abort();
        await new Promise((r) => setTimeout(r, 0));
        yield rows(10, 4, i + 1);
      }
    }
    const e = await kit.corpusFrom(slow(), { signal: ctl.signal, segmentBytes: 1 }).catch((x) => x);
    expect(e).toMatchObject({ code: 'ABORTED', op: 'corpusFrom' });
    expect(ReferenceCorpus.live).toBe(before);
  });

  it('an abort ends corpusFrom while its source stalls between chunks (it waited for ever)', async () => {
    const before = ReferenceCorpus.live;
    let finished = false;
    async function* stalled() {
      try {
        yield rows(4, 3, 1);
        // A stream that stops sending: this promise never settles.
        await new Promise(() => {});
      } finally {
        finished = true;
      }
    }
    const e = await kit
      .corpusFrom(stalled(), { signal: AbortSignal.timeout(50), segmentBytes: 1 })
      .catch((x) => x);
    expect(e).toMatchObject({ code: 'ABORTED', op: 'corpusFrom', arg: 'signal' });
    expect(ReferenceCorpus.live).toBe(before);
    // Its clean-up cannot run while it is stalled; the call did not wait for it.
    expect(finished).toBe(false);
  });

  it('kit.dispose() ends corpusFrom while its source stalls or its onProgress never settles: DISPOSED naming the kit (it waited for ever)', async () => {
    const before = ReferenceCorpus.live;
    for (const stall of ['source', 'onProgress'] as const) {
      const mine = createCosineKit({ backend: 'reference' });
      let closed = false;
      async function* source() {
        try {
          for (let i = 0; ; i++) {
            yield rows(4, 3, i + 1);
            // A stream that stops sending: this promise never settles.
            if (stall === 'source' && i === 2) await new Promise(() => {});
          }
        } finally {
          closed = true;
        }
      }
      const call = mine
        .corpusFrom(source(), {
          segmentBytes: 1,
          ...(stall === 'onProgress' ? { onProgress: () => new Promise<void>(() => undefined) } : {}),
        })
        .catch((x: unknown) => x);
      await new Promise((r) => setTimeout(r, 30));
      mine.dispose();
      expect(await call, stall).toMatchObject({ code: 'DISPOSED', op: 'corpusFrom', arg: 'kit' });
      expect(ReferenceCorpus.live).toBe(before);
      // A source waiting on onProgress is closed; a stalled one cannot run its clean-up.
      if (stall === 'onProgress') expect(closed).toBe(true);
    }
  });

  it('refuses a signal that is not an AbortSignal', async () => {
    const c = await kit.corpus(rows(5, 3, 1));
    await expect(c.search(rows(1, 3, 2), 1, { signal: {} as never })).rejects.toMatchObject({
      code: 'INVALID_TYPE',
      arg: 'options.signal',
    });
    c.dispose();
  });
});
