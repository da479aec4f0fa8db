import { createCosineKit } from '@cosinekit/core';
import { describe, expect, it } from 'vitest';
import {
  adam,
  contrastiveLoss,
  cosineEmbeddingLoss,
  createEncoder,
  evaluateRetrieval,
  fixedPairSampler,
  float64Ops,
  inBatchSampler,
  type LossInput,
  labelledSampler,
  loadEncoder,
  mseSimilarityLoss,
  multipleNegativesRankingLoss,
  pairAccuracy,
  readEncoderHeader,
  recallAtK,
  rocAuc,
  saveEncoder,
  spearman,
  train,
} from '../src/index.js';

// A fifth hostile-input probe's findings: revoked or throwing Proxies named, not raw TypeErrors;
// every value read once; detached arrays and overridden lengths described as what they are.

const revoked = <T = never>(target: object = {}): T => {
  const r = Proxy.revocable(target, {});
  r.revoke();
  return r.proxy as T;
};
const trap = () => {
  throw new Error('trap');
};
const throwing = <T = never>(): T =>
  new Proxy(
    {},
    { get: trap, has: trap, ownKeys: trap, getPrototypeOf: trap, getOwnPropertyDescriptor: trap },
  ) as T;
const detached = <T extends ArrayBufferView>(x: T): T => {
  structuredClone(x.buffer, { transfer: [x.buffer as ArrayBuffer] });
  return x;
};
const cke = (code: string | undefined, op: string, arg: string) =>
  expect.objectContaining({ name: 'CosineKitError', ...(code ? { code } : {}), op, arg });

const rows = 8;
const cols = 4;
const x = () => Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i + 1));
const labels = [0, 0, 1, 1, 2, 2, 3, 3];

const losses = [
  ['cosineEmbeddingLoss', cosineEmbeddingLoss()],
  ['mseSimilarityLoss', mseSimilarityLoss()],
  ['contrastiveLoss', contrastiveLoss()],
  ['multipleNegativesRankingLoss', multipleNegativesRankingLoss()],
] as const;

describe('revoked and throwing Proxies are named, never a raw TypeError', () => {
  it('train: each option that is a revoked or throwing Proxy', async () => {
    const base = () => ({
      kernels: createCosineKit({ backend: 'reference' }),
      encoder: createEncoder({ inputs: cols, layers: [{ units: 4 }], normalize: true }),
      loss: multipleNegativesRankingLoss(),
      sampler: inBatchSampler({ x: x(), rows, cols, labels }, { batchSize: 4 }),
      optimizer: adam(),
      epochs: 1,
    });
    for (const [arg, over, at] of [
      ['callbacks', { callbacks: revoked() }, 'callbacks'],
      ['callbacks', { callbacks: throwing() }, 'callbacks'],
      ['callbacks[1]', { callbacks: [{}, revoked()] }, 'callbacks[1]'],
      ['earlyStopping', { earlyStopping: revoked(), validate: () => 1 }, 'earlyStopping'],
      ['optimizer', { optimizer: revoked() }, 'optimizer'],
      ['optimizer', { optimizer: throwing() }, 'optimizer'],
      ['loss', { loss: revoked() }, 'loss'],
      ['sampler', { sampler: revoked() }, 'sampler'],
      ['signal', { signal: revoked() }, 'signal'],
      ['kernels', { kernels: revoked() }, 'kernels'],
      ['ops', { ops: revoked() }, 'ops'],
    ] as const)
      await expect(train({ ...base(), ...over } as never), arg).rejects.toEqual(
        cke('INVALID_ARGUMENT', 'train', at),
      );
  });

  it('train reads each hook once and calls it on its own object', async () => {
    let reads = 0;
    let calls = 0;
    const hooks = {
      get onEpochEnd() {
        reads++;
        // A getter answering a function at the check and a number later failed mid-training.
        return reads === 1
          ? function (this: unknown) {
              if (this === hooks) calls++;
            }
          : 5;
      },
    };
    await train({
      kernels: createCosineKit({ backend: 'reference' }),
      encoder: createEncoder({ inputs: cols, layers: [{ units: 4 }], normalize: true }),
      loss: multipleNegativesRankingLoss(),
      sampler: inBatchSampler({ x: x(), rows, cols, labels }, { batchSize: 4 }),
      optimizer: adam(),
      epochs: 2,
      callbacks: hooks as never,
    });
    expect(reads).toBe(1);
    expect(calls).toBe(2);
  });

  it("train reads each field of a custom sampler's batch once: checked as it is used (rows 2 at the check and 200 after trained on stale rows)", async () => {
    const data = x();
    const reads: Record<string, number> = {};
    /** A batch whose every field answers `later` from its second read on. */
    const batch = (later: Record<string, unknown>) => {
      const first: Record<string, unknown> = {
        a: data.slice(0, 8),
        b: data.slice(8, 16),
        rows: 2,
        cols,
        labels: Int32Array.of(0, 1),
      };
      const o = {};
      for (const [k, v] of Object.entries(first))
        Object.defineProperty(o, k, {
          enumerable: true,
          get: () => ((reads[k] = (reads[k] ?? 0) + 1) > 1 && k in later ? later[k] : v),
        });
      return o;
    };
    const run = (b: object) =>
      train({
        kernels: createCosineKit({ backend: 'reference' }),
        encoder: createEncoder({ inputs: cols, layers: [{ units: 4 }], normalize: true, seed: 1 }),
        loss: multipleNegativesRankingLoss(),
        sampler: {
          sampling: 'in-batch',
          batchesPerEpoch: 1,
          *epoch() {
            yield b as never;
          },
        },
        optimizer: adam({ learningRate: 1e-2 }),
        epochs: 1,
      }).then((r) => r.history[0].loss);
    const truth = await run(batch({}));
    for (const later of [
      { rows: 200 },
      { rows: 1 },
      { cols: 8 },
      { a: new Float32Array(1000) },
      { b: new Float32Array(8).fill(Number.NaN) },
      { labels: new Int32Array(0) },
    ]) {
      for (const k of Object.keys(reads)) delete reads[k];
      expect(await run(batch(later)), JSON.stringify(Object.keys(later))).toBe(truth);
      for (const [k, n] of Object.entries(reads)) expect(n, `${k} read`).toBe(1);
    }
  });

  const input = (o: Partial<Record<keyof LossInput, unknown>> = {}): LossInput =>
    ({
      a: x().subarray(0, 8),
      b: x().subarray(8, 16),
      rows: 2,
      cols: 4,
      targets: [1, -1],
      ...o,
    }) as LossInput;

  it('loss.compute: input, targets, groups, a and ops', async () => {
    for (const [op, loss] of losses) {
      for (const [arg, code, i] of [
        ['input', 'INVALID_ARGUMENT', revoked()],
        ['input', 'INVALID_ARGUMENT', throwing()],
        ['targets', 'INVALID_ARGUMENT', input({ targets: revoked([]) })],
        ['groups', 'INVALID_ARGUMENT', input({ groups: revoked([]) })],
        ['a', 'INVALID_ARGUMENT', input({ a: revoked() })],
        // A Proxy around a Float32Array passes instanceof but every read of it throws.
        ['a', 'INVALID_TYPE', input({ a: new Proxy(new Float32Array(8), {}) })],
      ] as const)
        await expect((async () => loss.compute(float64Ops, i))(), `${op} ${arg}`).rejects.toEqual(
          cke(code, op, arg),
        );
    }
    await expect((async () => multipleNegativesRankingLoss().compute(revoked(), input()))()).rejects.toEqual(
      cke('INVALID_ARGUMENT', 'multipleNegativesRankingLoss', 'ops'),
    );
  });

  it('metrics: revoked scores or labels, k, kit; detached labels', async () => {
    for (const [op, f] of [
      ['rocAuc', (s: unknown, l: unknown) => rocAuc(s as never, l as never)],
      ['pairAccuracy', (s: unknown, l: unknown) => pairAccuracy(s as never, l as never)],
    ] as const) {
      expect(() => f(revoked([]), [1, 0]), op).toThrow(cke('INVALID_ARGUMENT', op, 'scores'));
      expect(() => f([1, 0], revoked([])), op).toThrow(cke('INVALID_ARGUMENT', op, 'labels'));
    }
    expect(() => spearman(revoked(), [1, 2])).toThrow(cke('INVALID_ARGUMENT', 'spearman', 'x'));
    const kit = createCosineKit({ backend: 'reference' });
    const set = {
      queries: [[1, 0]],
      queryLabels: [0],
      corpus: [
        [1, 0],
        [0, 1],
      ],
      corpusLabels: [0, 1],
    };
    await expect(evaluateRetrieval(kit, set, revoked())).rejects.toEqual(
      cke('INVALID_ARGUMENT', 'evaluateRetrieval', 'k'),
    );
    await expect(evaluateRetrieval(revoked(), set, 1)).rejects.toEqual(
      cke('INVALID_ARGUMENT', 'evaluateRetrieval', 'kit'),
    );
    await expect(recallAtK(kit, { ...set, corpusLabels: revoked([]) }, 1)).rejects.toEqual(
      cke('INVALID_ARGUMENT', 'recallAtK', 'set.corpusLabels'),
    );
    await expect(
      evaluateRetrieval(kit, { ...set, queryLabels: detached(new Float64Array([0])) }, 1),
    ).rejects.toEqual(cke('DISPOSED', 'evaluateRetrieval', 'set.queryLabels'));
  });

  it('samplers: labels a Proxy, x a Proxy around a Float32Array', () => {
    for (const l of [revoked([]), throwing()])
      expect(() => inBatchSampler({ x: x(), rows, cols, labels: l })).toThrow(
        cke(undefined, 'inBatchSampler', 'data.labels'),
      );
    expect(() => labelledSampler({ x: new Proxy(x(), {}), rows, cols, labels })).toThrow(
      cke('INVALID_TYPE', 'labelledSampler', 'data.x'),
    );
  });

  it('createEncoder: layers revoked, a revoked or throwing layer', () => {
    for (const [arg, layers] of [
      ['layers', revoked([])],
      ['layers[0]', [revoked()]],
      ['layers[0]', [throwing()]],
    ] as const)
      expect(() => createEncoder({ inputs: 4, layers }), arg).toThrow(
        cke('INVALID_ARGUMENT', 'createEncoder', arg),
      );
  });

  it('loadEncoder, readEncoderHeader and saveEncoder', () => {
    const enc = createEncoder({ inputs: 4, layers: [{ units: 2 }] });
    const bytes = saveEncoder(enc);
    for (const [op, f] of [
      ['loadEncoder', loadEncoder],
      ['readEncoderHeader', readEncoderHeader],
    ] as const) {
      expect(() => f(new Proxy(bytes, {})), op).toThrow(cke('INVALID_TYPE', op, 'bytes'));
      // A subclass whose length lies: INVALID_TYPE saying so, not CORRUPT_DATA "too short".
      class Short extends Uint8Array {
        override get length() {
          return 10;
        }
      }
      const short = new Short(bytes);
      expect(() => f(short), op).toThrow(
        expect.objectContaining({ code: 'INVALID_TYPE', op, message: expect.stringContaining('overridden') }),
      );
    }
    // A plain Buffer loads (Node's Buffer is a Uint8Array subclass that keeps its length).
    expect(loadEncoder(Buffer.from(bytes)).inputs).toBe(4);
    expect(() => saveEncoder(enc, revoked())).toThrow(cke('INVALID_ARGUMENT', 'saveEncoder', 'meta'));
  });
});

describe('what the caller gives is read once', () => {
  it('rocAuc: scores whose length answers 4, then 1', () => {
    let n = 0;
    const scores = new Proxy([0.1, 0.2, 0.8, 0.9], {
      get: (t, k) => (k === 'length' ? (n++ === 0 ? 4 : 1) : Reflect.get(t, k)),
    });
    expect(rocAuc(scores, [0, 0, 1, 1])).toBe(1);
  });

  it('pair losses read input.a and input.targets once', async () => {
    for (const [op, loss] of losses.slice(0, 3)) {
      let reads = 0;
      const a = Float32Array.from([1, 0, 0, 1]);
      const nan = Float32Array.from([Number.NaN, 0, 0, 1]);
      const i = {
        get a() {
          return reads++ === 0 ? a : nan;
        },
        b: Float32Array.from([1, 0, 0, 1]),
        rows: 2,
        cols: 2,
        targets: [1, 1],
      };
      const r = await loss.compute(float64Ops, i as LossInput);
      expect(Number.isFinite(r.loss), op).toBe(true);
      expect(reads, op).toBe(1);
      let t = 0;
      const j = {
        ...i,
        a,
        get targets() {
          if (t++ > 0) throw new Error('second read');
          return [1, 1];
        },
      };
      await expect((async () => loss.compute(float64Ops, j as LossInput))(), op).resolves.toBeDefined();
    }
  });
});

describe('values described as what they are', () => {
  it('detached arrays are DISPOSED naming the argument', async () => {
    expect(() => rocAuc(detached(new Float64Array([1, 2])), [0, 1])).toThrow(
      cke('DISPOSED', 'rocAuc', 'scores'),
    );
    expect(() => spearman(detached(new Float64Array([1, 2])), [0, 1])).toThrow(
      cke('DISPOSED', 'spearman', 'x'),
    );
    const i = (o: object) =>
      ({
        a: new Float32Array(4),
        b: new Float32Array(4),
        rows: 2,
        cols: 2,
        targets: [1, 1],
        ...o,
      }) as LossInput;
    const loss = cosineEmbeddingLoss();
    await expect(
      (async () => loss.compute(float64Ops, i({ a: detached(new Float32Array(4)) })))(),
    ).rejects.toEqual(cke('DISPOSED', 'cosineEmbeddingLoss', 'a'));
    await expect(
      (async () => loss.compute(float64Ops, i({ targets: detached(new Float64Array(2)) })))(),
    ).rejects.toEqual(cke('DISPOSED', 'cosineEmbeddingLoss', 'targets'));
  });

  it('targets that are no numbers are INVALID_TYPE naming the entry, not NON_FINITE', async () => {
    const bad = { [Symbol.toPrimitive]: trap };
    const loss = mseSimilarityLoss();
    for (const t of [bad, new Proxy({}, {})])
      await expect(
        (async () =>
          loss.compute(float64Ops, {
            a: new Float32Array(4).fill(1),
            b: new Float32Array(4).fill(1),
            rows: 2,
            cols: 2,
            targets: [1, t] as never,
          }))(),
      ).rejects.toEqual(
        expect.objectContaining({
          code: 'INVALID_TYPE',
          op: 'mseSimilarityLoss',
          arg: 'targets',
          message: expect.stringContaining('at pair 1'),
        }),
      );
    expect(() =>
      fixedPairSampler({ a: x(), b: x(), rows, cols, targets: [1, bad, 1, 1, 1, 1, 1, 1] as never }),
    ).toThrow(
      expect.objectContaining({
        code: 'INVALID_TYPE',
        op: 'fixedPairSampler',
        arg: 'data.targets',
        message: expect.stringContaining('at row 1'),
      }),
    );
  });
});
