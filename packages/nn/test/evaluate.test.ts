import { createWasmBackend } from '@cosinekit/backend-wasm';
import { createCosineKit, Tensor, type TensorInput } from '@cosinekit/core';
import { describe, expect, it } from 'vitest';
import {
  classificationAccuracy,
  evaluateRetrieval,
  knnAccuracy,
  pairAccuracy,
  recallAtK,
  rocAuc,
  spearman,
} from '../src/index.js';

/** `values` as an array-like object that is neither an array nor a typed array. */
const arrayLike = (values: readonly number[]): ArrayLike<number> => ({ ...values, length: values.length });

describe('pair metrics', () => {
  it('pair accuracy finds the best threshold', () => {
    const r = pairAccuracy([0.9, 0.8, 0.4, 0.3, 0.6], [1, 1, -1, 0, 1]);
    expect(r.accuracy).toBe(1);
    expect(r.threshold).toBeGreaterThan(0.4);
    expect(r.threshold).toBeLessThan(0.6);
    const s = pairAccuracy([0.1, 0.2, 0.3, 0.4], [1, -1, 1, -1]);
    expect(s.accuracy).toBe(0.5);
  });

  it('pair accuracy: its threshold gives the accuracy it reports, at any magnitude (was absorbed or Infinity)', () => {
    const at = (s: number[], l: number[], t: number) =>
      s.filter((v, i) => v >= t === l[i] > 0).length / s.length;
    const cases: [number[], number[]][] = [
      [
        [1e10, 2e10],
        [0, 0],
      ],
      [
        [-1e20, -2e20],
        [0, 0],
      ],
      [
        [1, 1 + 2 ** -52],
        [0, 1],
      ],
      [
        [1.5e308, 1.7e308],
        [0, 1],
      ],
      [
        [-1.7e308, 1.7e308],
        [0, 1],
      ],
      [
        [Number.MAX_VALUE, 1e300],
        [0, 0],
      ],
      [
        [5e-324, 0],
        [1, 0],
      ],
      [
        [0.5, 0.9, 0.3],
        [1, 1, 0],
      ],
    ];
    for (const [s, l] of cases) {
      const r = pairAccuracy(s, l);
      expect(r.accuracy, `${s} ${l}`).toBe(1);
      expect(at(s, l, r.threshold), `${s} ${l}: threshold ${r.threshold}`).toBe(1);
    }
    // Midway where float64 has room between the neighbours.
    expect(pairAccuracy([0.2, 0.6], [0, 1]).threshold).toBeCloseTo(0.4, 15);
  });

  it('ROC-AUC: perfect, reversed, tied and a hand-counted case', () => {
    expect(rocAuc([0.9, 0.8, 0.1], [1, 1, 0])).toBe(1);
    expect(rocAuc([0.1, 0.2, 0.9], [1, 1, 0])).toBe(0);
    expect(rocAuc([0.5, 0.5], [1, 0])).toBe(0.5);
    // positives 0.8, 0.4; negatives 0.6, 0.2: pairs won 1 + 1 + 0 + 1 = 3 of 4.
    expect(rocAuc([0.8, 0.4, 0.6, 0.2], [1, 1, -1, -1])).toBe(0.75);
    expect(() => rocAuc([1, 2], [1, 1])).toThrow(/positives and negatives/);
  });

  it('Spearman: monotone is 1, reversed is -1, ties use average ranks', () => {
    expect(spearman([1, 2, 3, 4], [10, 20, 30, 400])).toBeCloseTo(1, 12);
    expect(spearman([1, 2, 3], [3, 2, 1])).toBeCloseTo(-1, 12);
    // ranks x: 1, 2.5, 2.5, 4; y: 1, 2, 3, 4 -> Pearson = 4.5 / sqrt(4.5 * 5).
    expect(spearman([1, 2, 2, 3], [1, 2, 3, 4])).toBeCloseTo(4.5 / Math.sqrt(4.5 * 5), 12);
    expect(() => spearman([1], [1, 2])).toThrow(/Argument 'y' passed to 'spearman'/);
  });

  it('Spearman of a constant series is undefined (0 / 0): INVALID_ARGUMENT naming it, not 0', () => {
    for (const [x, y, arg] of [
      [[0.3, 0.3, 0.3, 0.3], [1, 2, 3, 4], 'x'],
      [[1, 2, 3, 4], Float32Array.of(5, 5, 5, 5), 'y'],
      [[2, 2], [7, 7], 'x'],
      [[0, -0, 0], [1, 2, 3], 'x'],
      [[9], [1], 'x'],
    ] as const)
      expect(() => spearman(x, y)).toThrow(
        expect.objectContaining({
          code: 'INVALID_ARGUMENT',
          op: 'spearman',
          arg,
          message: expect.stringContaining(`Argument '${arg}' passed to 'spearman' is constant`),
        }),
      );
    // One value apart from the rest is enough: ranks x 2, 2, 2, 4 and y 1..4 about 2.5 give
    // sxy 3, sxx 3, syy 5 (by hand), so 3 / sqrt(15).
    expect(spearman([1, 1, 1, 2], [1, 2, 3, 4])).toBeCloseTo(3 / Math.sqrt(15), 14);
    // Two values, d = 1 at its smallest: a perfect order either way.
    expect(spearman([0, 1e-300], [5, 6])).toBe(1);
    expect(spearman([0, 1e-300], [6, 5])).toBe(-1);
  });
});

describe('array-like series', () => {
  // The signatures say ArrayLike<number>; an array-like object was refused as "must be an array".
  const scores = [0.9, 0.8, 0.4, 0.3, 0.6];
  const labels = [1, 1, -1, 0, 1];

  it('score array-like objects as the arrays they hold', () => {
    expect(pairAccuracy(arrayLike(scores), arrayLike(labels))).toEqual(pairAccuracy(scores, labels));
    expect(rocAuc(arrayLike(scores), arrayLike(labels))).toBe(rocAuc(scores, labels));
    expect(spearman(arrayLike(scores), arrayLike(labels))).toBe(spearman(scores, labels));
    expect(classificationAccuracy(arrayLike([1, 2, 3]), arrayLike([1, 2, 4]))).toBeCloseTo(2 / 3, 15);
  });

  it('check an array-like as an array: its length a whole number, every entry a finite number', () => {
    const refused = (f: () => unknown, code: string, message: RegExp) => {
      let err: unknown;
      try {
        f();
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({ code, op: 'rocAuc', arg: 'scores' });
      expect((err as Error).message).toMatch(message);
    };
    refused(() => rocAuc({ length: -1 } as never, labels), 'INVALID_ARGUMENT', /length is -1/);
    refused(() => rocAuc({ length: 2.5 } as never, labels), 'INVALID_ARGUMENT', /length is 2\.5/);
    refused(() => rocAuc({ length: '5' } as never, labels), 'INVALID_ARGUMENT', /length is '5'/);
    refused(() => rocAuc({ length: 5 } as never, labels), 'INVALID_TYPE', /got undefined at 0/);
    refused(() => rocAuc({ ...scores, 2: Number.NaN, length: 5 } as never, labels), 'NON_FINITE', /NaN at 2/);
    refused(() => rocAuc({ 0: 1 } as never, labels), 'INVALID_TYPE', /must be an array/);
    refused(() => rocAuc(new Map() as never, labels), 'INVALID_TYPE', /must be an array/);
    refused(() => rocAuc('0.5' as never, labels), 'INVALID_TYPE', /must be an array/);
  });
});

describe('retrieval metrics', () => {
  const kit = createCosineKit({ backend: 'reference' });
  const corpus = [
    [1, 0],
    [0.9, 0.1],
    [0, 1],
    [0.1, 0.9],
  ];
  const corpusLabels = [0, 0, 1, 1];
  const queries = [
    [1, 0.05],
    [0.05, 1],
    [0.6, 0.4],
  ];
  const queryLabels = [0, 1, 1];

  it('recall@k and k-NN accuracy from the kit top-k', async () => {
    const set = { queries, queryLabels, corpus, corpusLabels };
    expect(await recallAtK(kit, set, 1)).toBeCloseTo(2 / 3);
    expect(await recallAtK(kit, set, 3)).toBe(1);
    expect(await knnAccuracy(kit, set, 1)).toBeCloseTo(2 / 3);
    const r = await evaluateRetrieval(kit, set, 2);
    expect(r).toEqual({ k: 2, recall: 2 / 3, knnAccuracy: 2 / 3 });
  });

  it("a Proxy of a resident corpus (a reactive store's wrapper) or an object made from one is refused naming set.corpus (a raw TypeError escaped)", async () => {
    const resident = await kit.corpus(corpus);
    for (const fake of [new Proxy(resident, {}), Object.create(resident)]) {
      const e = await evaluateRetrieval(kit, { queries, queryLabels, corpus: fake, corpusLabels }, 2).catch(
        (x) => x,
      );
      expect(e).toMatchObject({ code: 'INVALID_TYPE', op: 'evaluateRetrieval', arg: 'set.corpus' });
      expect(e.message).toMatch(/Proxy of a corpus/);
    }
    // The corpus itself is searched as before.
    expect(await evaluateRetrieval(kit, { queries, queryLabels, corpus: resident, corpusLabels }, 2)).toEqual(
      {
        k: 2,
        recall: 2 / 3,
        knnAccuracy: 2 / 3,
      },
    );
    resident.dispose();
  });

  it("takes a corpus that lives elsewhere (a worker kit's: search, rows and cols), its answers checked", async () => {
    const set = { queries, queryLabels, corpus, corpusLabels };
    const want = await evaluateRetrieval(kit, set, [1, 2]);
    const inner = await kit.corpus(corpus);
    // The shape of @cosinekit/worker's WorkerCorpus: not a core Corpus (it was refused as no matrix).
    const elsewhere = {
      cols: inner.cols,
      get rows() {
        return inner.rows;
      },
      search: (q: TensorInput, k: number) => inner.search(q, k),
    };
    expect(await evaluateRetrieval(kit, { ...set, corpus: elsewhere }, [1, 2])).toEqual(want);
    // One whose search answers no top-k is named, not read past its end.
    for (const answer of [
      null,
      { queries: 3, k: 1, indices: new Int32Array(3), scores: new Float32Array(3) },
      { queries: 3, k: 2, indices: new Int32Array(5), scores: new Float32Array(6) },
      { queries: 3, k: 2, indices: Int32Array.of(0, 1, 0, 1, -1, 0), scores: new Float32Array(6) },
      { queries: 3, k: 2, indices: new Int32Array(6), scores: new Float32Array(6).fill(Number.NaN) },
      // A row named twice voted twice; scores out of order.
      { queries: 3, k: 2, indices: Int32Array.of(1, 1, 0, 1, 0, 1), scores: new Float32Array(6) },
      {
        queries: 3,
        k: 2,
        indices: Int32Array.of(0, 1, 0, 1, 0, 1),
        scores: Float32Array.of(-1, 1, 0, 0, 0, 0),
      },
    ]) {
      const broken = { cols: 2, rows: 4, search: async () => answer as never };
      await expect(evaluateRetrieval(kit, { ...set, corpus: broken }, 2)).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        op: 'evaluateRetrieval',
        arg: 'set.corpus',
      });
    }
    // Its search failing (a raw error), rows it does not have, a search that never settles.
    const failing = [
      {
        cols: 2,
        rows: 4,
        search: () => {
          throw new TypeError('boom');
        },
      },
      { cols: 2, rows: 4, search: () => Promise.reject(new TypeError('boom')) },
      { cols: 2, rows: 0, search: async () => null as never },
      // NaN rows sized the blocks of queries first: refused as a Tensor's 'rows'.
      { cols: 2, rows: Number.NaN, search: async () => null as never },
      { cols: 2, rows: 2.5, search: async () => null as never },
    ];
    for (const corpus of failing)
      await expect(evaluateRetrieval(kit, { ...set, corpus }, 2)).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        arg: 'set.corpus',
      });
    await expect(
      evaluateRetrieval(kit, { ...set, corpus: { ...elsewhere, rows: 1 } }, 2),
    ).rejects.toMatchObject({ code: 'INVALID_K', arg: 'k' });
    const ctl = new AbortController();
    const stuck = evaluateRetrieval(
      kit,
      { ...set, corpus: { cols: 2, rows: 4, search: () => new Promise<never>(() => undefined) } },
      2,
      { signal: ctl.signal },
    );
    setTimeout(() => ctl.abort(), 5);
    await expect(stuck).rejects.toMatchObject({ code: 'ABORTED' });
    inner.dispose();
  });

  it("a kit whose backend was disposed is named 'kit' (it was 'backend', no argument of these)", async () => {
    const backend = createWasmBackend({ threads: 1 });
    const gone = createCosineKit({ backend });
    await gone.ready();
    backend.dispose();
    const set = { queries, queryLabels, corpus, corpusLabels };
    for (const [op, call] of [
      ['evaluateRetrieval', () => evaluateRetrieval(gone, set, 1)],
      ['recallAtK', () => recallAtK(gone, set, 1)],
    ] as const)
      await expect(call(), op).rejects.toMatchObject({ code: 'DISPOSED', op, arg: 'kit' });
  });

  it('takes array-like label objects', async () => {
    const set = {
      queries,
      queryLabels: arrayLike(queryLabels),
      corpus,
      corpusLabels: arrayLike(corpusLabels),
    };
    expect(await evaluateRetrieval(kit, set, 2)).toEqual({ k: 2, recall: 2 / 3, knnAccuracy: 2 / 3 });
  });

  it('breaks a tied vote by the summed cosine', async () => {
    // One neighbour of each class: class 1's is nearer, so it wins the tie.
    const set = {
      queries: [[0.45, 0.55]],
      queryLabels: [1],
      corpus: [
        [1, 0],
        [0, 1],
      ],
      corpusLabels: [0, 1],
    };
    expect(await knnAccuracy(kit, set, 2)).toBe(1);
    expect(await knnAccuracy(kit, { ...set, queryLabels: [0] }, 2)).toBe(0);
  });

  it('settles a tied vote by the smaller label when asked (numpy bincount().argmax())', async () => {
    const set = {
      queries: [[0.45, 0.55]],
      queryLabels: [0],
      corpus: [
        [1, 0],
        [0, 1],
      ],
      corpusLabels: [0, 1],
    };
    expect(await knnAccuracy(kit, set, 2, { tieBreak: 'smallest-label' })).toBe(1);
    expect(await knnAccuracy(kit, { ...set, queryLabels: [1] }, 2, { tieBreak: 'smallest-label' })).toBe(0);
    await expect(knnAccuracy(kit, set, 2, { tieBreak: 'largest' as 'score' })).rejects.toThrow(
      /'options.tieBreak'/,
    );
  });

  it('several k from one search, over a plain corpus or a resident one, agree with one k at a time', async () => {
    const set = { queries, queryLabels, corpus, corpusLabels };
    const many = await evaluateRetrieval(kit, set, [1, 2, 3]);
    for (const r of many) expect(r).toEqual(await evaluateRetrieval(kit, set, r.k));
    const resident = await kit.corpus(corpus);
    expect(await evaluateRetrieval(kit, { ...set, corpus: resident }, [1, 2, 3])).toEqual(many);
    resident.dispose();
    await expect(evaluateRetrieval(kit, set, [])).rejects.toThrow(/'k'/);
    await expect(evaluateRetrieval(kit, set, [0])).rejects.toThrow(/'k'/);
  });

  it('a long list of k answers for each (200,000 ks overflowed the call stack: a bare RangeError)', async () => {
    const set = { queries, queryLabels, corpus, corpusLabels };
    const ks = Array.from({ length: 200_000 }, (_, i) => (i % 3) + 1);
    const many = await evaluateRetrieval(kit, set, ks);
    expect(many.length).toBe(ks.length);
    const one = await evaluateRetrieval(kit, set, [1, 2, 3]);
    for (const i of [0, 1, 2, 199_999]) expect(many[i]).toEqual(one[ks[i] - 1]);
  });
});

describe('evaluateRetrieval over many queries', () => {
  /** `n` rows of `d` values in four noisy classes. */
  const set = (n: number, d: number, seed: number) => {
    let s = seed;
    const r = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
    const labels = Array.from({ length: n }, (_, i) => i % 4);
    const x = new Float32Array(n * d).map((_, i) => (Math.floor(i / d) % 4 === i % 4 ? 1 : 0) + 0.8 * r());
    return { x: new Tensor(x, n, d), labels };
  };

  it('searches a block of queries at a time, letting the event loop turn, with the answer of one search', async () => {
    const kit = createCosineKit({ backend: 'reference' });
    // 6,000 queries against 3,000 rows of 4: two blocks of 2^24 multiply-adds or less.
    const q = set(6000, 4, 1);
    const c = set(3000, 4, 2);
    const data = { queries: q.x, queryLabels: q.labels, corpus: c.x, corpusLabels: c.labels };
    let turned = false;
    setTimeout(() => {
      turned = true;
    }, 0);
    const got = await evaluateRetrieval(kit, data, [1, 5]);
    // The search once ran in one synchronous call: the timer fired only after it resolved.
    expect(turned).toBe(true);
    // The same as from one search of every query.
    const all = await kit.topK(q.x, c.x, 5);
    const want = [1, 5].map((k) => {
      let hit = 0;
      for (let i = 0; i < 6000; i++)
        for (let j = 0; j < k; j++)
          if (c.labels[all.indices[i * 5 + j]] === q.labels[i]) {
            hit++;
            break;
          }
      return hit / 6000;
    });
    expect(got.map((g) => g.recall)).toEqual(want);
    // Resident: the same.
    const resident = await kit.corpus(c.x);
    expect(
      (await evaluateRetrieval(kit, { ...data, corpus: resident }, [1, 5])).map((g) => g.recall),
    ).toEqual(want);
    resident.dispose();
  });

  it("several blocks against a matrix: a real kit's corpus made once; a look-alike kit's corpus is not trusted (a review)", async () => {
    const kit = createCosineKit({ backend: 'reference' });
    const q = set(6000, 4, 1);
    const c = set(3000, 4, 2);
    const data = { queries: q.x, queryLabels: q.labels, corpus: c.x, corpusLabels: c.labels };
    const want = await evaluateRetrieval(kit, data, [1, 5]);
    // A look-alike kit (topK of a real one) whose corpus answers anything, throws, or makes a real
    // corpus: the same reports, and nothing left resident.
    const lookAlikes = [
      async () => ({}),
      () => {
        throw new Error('nope');
      },
      async () => ({ search: () => ({ nonsense: 1 }), dispose: () => undefined }),
      (rows: Tensor) => kit.corpus(rows),
    ];
    for (const corpus of lookAlikes) {
      const other = { topK: kit.topK.bind(kit), corpus } as unknown as typeof kit;
      const got = await evaluateRetrieval(other, data, [1, 5]);
      expect(got).toEqual(want);
    }
  });

  it('a NaN query past the first block is named by its row in set.queries (a block named it within itself)', async () => {
    const kit = createCosineKit({ backend: 'reference' });
    const q = set(6000, 4, 1);
    const c = set(3000, 4, 2);
    const x = Float32Array.from(q.x.data);
    x[5999 * 4 + 2] = Number.NaN;
    const data = {
      queries: new Tensor(x, 6000, 4),
      queryLabels: q.labels,
      corpus: c.x,
      corpusLabels: c.labels,
    };
    await expect(evaluateRetrieval(kit, data, [1])).rejects.toMatchObject({
      code: 'NON_FINITE',
      arg: 'set.queries',
      message: expect.stringContaining('row 5999, column 2'),
    });
  });

  it('stops between blocks when its signal fires (ABORTED), and refuses a signal that is not one', async () => {
    const kit = createCosineKit({ backend: 'reference' });
    const q = set(6000, 4, 1);
    const c = set(3000, 4, 2);
    const data = { queries: q.x, queryLabels: q.labels, corpus: c.x, corpusLabels: c.labels };
    const stop = new AbortController();
    const run = evaluateRetrieval(kit, data, 5, { signal: stop.signal });
    stop.abort(new Error('enough'));
    await expect(run).rejects.toMatchObject({ code: 'ABORTED', op: 'evaluateRetrieval' });
    await expect(evaluateRetrieval(kit, data, 5, { signal: 'soon' as never })).rejects.toMatchObject({
      code: 'INVALID_TYPE',
      arg: 'options.signal',
    });
  });
});
