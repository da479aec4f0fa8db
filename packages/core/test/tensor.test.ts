import { describe, expect, it } from 'vitest';
import { createReferenceBackend } from '../src/backend.js';
import { CosineKitError, createCosineKit, Tensor, tensor } from '../src/index.js';

describe('tensor', () => {
  it('wraps a Float32Array with a shape without copying', () => {
    const d = new Float32Array([1, 2, 3, 4, 5, 6]);
    const t = tensor(d, [2, 3]);
    expect(t.shape).toEqual([2, 3]);
    expect(t.data).toBe(d);
    const r = t.row(1);
    r[0] = 40;
    expect(d[3]).toBe(40);
    expect(t.slice(1).data.buffer).toBe(d.buffer);
  });

  it('builds from number[][], Float32Array rows and number[]', () => {
    expect(
      tensor([
        [1, 2],
        [3, 4],
      ]).toArray(),
    ).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(tensor([new Float32Array([1, 2]), new Float32Array([3, 4])]).shape).toEqual([2, 2]);
    expect(tensor([1, 2, 3]).shape).toEqual([1, 3]);
    expect(tensor(new Float32Array(4), [4]).shape).toEqual([1, 4]);
    // With a shape, a flat number[] is read as that shape, as a Float32Array is.
    expect(tensor([1, 2, 3, 4, 5, 6], [2, 3]).toArray()).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(tensor([[1, 2]], [1, 2]).shape).toEqual([1, 2]);
  });

  it.each([
    ['shape/data length mismatch', () => tensor(new Float32Array(5), [2, 3]), 'SHAPE_MISMATCH'],
    ['ragged rows', () => tensor([[1, 2], [3]]), 'SHAPE_MISMATCH'],
    ['empty', () => tensor([]), 'EMPTY_INPUT'],
    ['empty rows', () => tensor([[]]), 'EMPTY_INPUT'],
    ['float64 data', () => tensor(new Float64Array(3) as unknown as Float32Array), 'INVALID_TYPE'],
    ['int rows', () => tensor([new Int8Array(3)] as unknown as Float32Array[]), 'INVALID_TYPE'],
    ['strings', () => tensor([['a']] as unknown as number[][]), 'INVALID_TYPE'],
    ['row out of range', () => tensor([[1]]).row(1), 'INVALID_ARGUMENT'],
    // A shape given with an array input was dropped silently; three dimensions read as [n].
    ['a number[] of another length than the shape', () => tensor([1, 2, 3, 4], [3, 3]), 'SHAPE_MISMATCH'],
    [
      'rows of another shape than the shape',
      () =>
        tensor(
          [
            [1, 2],
            [3, 4],
          ],
          [9, 9],
        ),
      'SHAPE_MISMATCH',
    ],
    [
      'Float32Array rows against [1, 4]',
      () => tensor([new Float32Array(2), new Float32Array(2)], [1, 4]),
      'SHAPE_MISMATCH',
    ],
    ['a tensor against another shape', () => tensor(tensor([[1, 2]]), [2, 1]), 'SHAPE_MISMATCH'],
    [
      'a shape of three dimensions',
      () => tensor(new Float32Array(4), [2, 2, 99] as never),
      'INVALID_ARGUMENT',
    ],
    ['a shape that is a string', () => tensor(new Float32Array(12), '12' as never), 'INVALID_ARGUMENT'],
    ['a shape of a fraction', () => tensor(new Float32Array(4), [2.5, 2] as never), 'INVALID_ARGUMENT'],
  ])('rejects %s with a typed error', (_name, fn, code) => {
    try {
      fn();
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(CosineKitError);
      expect((e as CosineKitError).code).toBe(code);
      expect((e as CosineKitError).message).toMatch(/Argument '.+' passed to '.+'/);
    }
  });

  it('throws DISPOSED after dispose()', () => {
    const t = new Tensor(new Float32Array(2), 1, 2);
    t.dispose();
    expect(t.disposed).toBe(true);
    expect(() => t.data).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
  });

  it('names the method a disposed or detached tensor was used through (was: Tensor.data for all)', () => {
    const t = new Tensor(new Float32Array(6), 2, 3);
    t.dispose();
    for (const [op, use] of [
      ['Tensor.data', () => t.data],
      ['Tensor.row', () => t.row(0)],
      ['Tensor.slice', () => t.slice(0, 1)],
      ['Tensor.toArray', () => t.toArray()],
    ] as const)
      expect(use, op).toThrow(expect.objectContaining({ code: 'DISPOSED', op, arg: 'tensor' }));
    // A transferred buffer: row, slice and toArray refuse it (they returned empty rows); data
    // stays the documented empty view.
    const buffer = new ArrayBuffer(24);
    const d = new Tensor(new Float32Array(buffer), 2, 3);
    structuredClone(buffer, { transfer: [buffer] });
    expect(d.data.length).toBe(0);
    for (const [op, use] of [
      ['Tensor.row', () => d.row(1)],
      ['Tensor.slice', () => d.slice(1)],
      ['Tensor.toArray', () => d.toArray()],
    ] as const)
      expect(use, op).toThrow(expect.objectContaining({ code: 'DISPOSED', op, arg: 'tensor' }));
    // Out-of-range rows name the method too.
    const live = new Tensor(new Float32Array(6), 2, 3);
    expect(() => live.row(2)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', op: 'Tensor.row' }),
    );
    expect(() => live.slice(1, 1)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', op: 'Tensor.slice', arg: 'start' }),
    );
  });
});

describe('numbers beyond float32', () => {
  it('a finite number float32 cannot hold is NON_FINITE naming its place and value; the largest float32 passes', async () => {
    const { createCosineKit, tensor } = await import('../src/index.js');
    const kit = createCosineKit({ backend: 'reference' });
    const cases: [() => unknown, string, string, RegExp][] = [
      [() => tensor([1, 5e38]), 'tensor', 'input', /holds 5e\+38 at row 0, column 1, beyond float32's range/],
      // With a shape, a flat list is that shape's rows: the place is row and column, as for NaN.
      [() => tensor([1, 2, 3, 5e38], [2, 2]), 'tensor', 'input', /holds 5e\+38 at row 1, column 1,/],
      [
        () =>
          tensor([
            [1, 2],
            [3, -1e39],
          ]),
        'tensor',
        'input',
        /holds -1e\+39 at row 1, column 1, beyond/,
      ],
      [
        () => kit.cosineMatrix([[1e39, 2e39]], [[1, 2]]),
        'cosineMatrix',
        'a',
        /1e\+39 at row 0, column 0, beyond/,
      ],
      [
        () =>
          kit.corpus([
            [1, 2],
            [1, 4e38],
          ]),
        'corpus',
        'rows',
        /holds 4e\+38 at row 1, column 1, beyond/,
      ],
    ];
    for (const [call, op, arg, message] of cases) {
      let e: unknown;
      try {
        await call();
      } catch (x) {
        e = x;
      }
      expect(e, String(message)).toMatchObject({ code: 'NON_FINITE', op, arg });
      expect(String((e as Error).message)).toMatch(message);
    }
    const max = 3.4028234663852886e38;
    const got = await kit.cosineMatrix([[max, max]], [[1, 1]]);
    expect(Math.abs(got.data[0] - 1)).toBeLessThan(1e-6);
    // Past the largest float32 but rounding to it stays finite and passes too.
    expect(tensor([3.4028235e38]).data[0]).toBe(max);
  });
});

describe('typed arrays whose length lies', () => {
  it('an overridden length (own property or subclass getter) is refused by name, not read past or copied short', async () => {
    const { createCosineKit } = await import('../src/index.js');
    const kit = createCosineKit({ backend: 'reference' });
    const short = new Float32Array([1, 2, 3, 4]);
    Object.defineProperty(short, 'length', { value: 2 });
    class Longer extends Float32Array {
      override get length(): number {
        return super.length * 2;
      }
    }
    for (const x of [short, new Longer([1, 2, 3, 4])]) {
      await expect(kit.rowNorms(x)).rejects.toMatchObject({ code: 'INVALID_TYPE', op: 'rowNorms', arg: 'x' });
      await expect(kit.cosineMatrix([x], [[1, 0, 0, 0]])).rejects.toMatchObject({ code: 'INVALID_TYPE' });
    }
    // A subclass that tells the truth is taken as it is.
    class Honest extends Float32Array {}
    expect(Array.from(await kit.rowNorms(new Honest([3, 4])))).toEqual([5]);
  });
});

describe('Float32Array subclasses', () => {
  // subarray() and slice() build their result through the subclass's constructor (Symbol.species):
  // one that takes only its values made every slice the whole array, so a backend cutting rows
  // into chunks read the first rows again and overran a block sized for one chunk (wasm).
  class Embeddings extends Float32Array {
    constructor(values: Float32Array) {
      super(values);
    }
  }

  it('a tensor, and out, hold a plain Float32Array over the same memory', async () => {
    const x = new Embeddings(Float32Array.from({ length: 12 }, (_, i) => i + 1));
    expect(x.subarray(0, 3).length).toBe(12);
    const t = new Tensor(x, 4, 3);
    expect(Object.getPrototypeOf(t.data)).toBe(Float32Array.prototype);
    expect(t.data.subarray(3, 6)).toEqual(Float32Array.of(4, 5, 6));
    expect(t.data.buffer).toBe(x.buffer);
    x[0] = 100;
    expect(t.data[0]).toBe(100);
    // An own subarray on a plain array is passed over the same way.
    const own = Float32Array.from({ length: 4 }, (_, i) => i);
    Object.defineProperty(own, 'subarray', { value: () => own });
    expect(new Tensor(own, 2, 2).data.subarray(2, 4)).toEqual(Float32Array.of(2, 3));
    // Through the kit: the answer as for a plain array, and out written in place.
    const kit = createCosineKit({ backend: createReferenceBackend() });
    const out = new Embeddings(new Float32Array(16));
    await kit.cosineMatrix(t, t, { out });
    const m = await kit.cosineMatrix(
      new Tensor(Float32Array.from(x), 4, 3),
      new Tensor(Float32Array.from(x), 4, 3),
    );
    expect(Array.from(out)).toEqual(Array.from(m.data));
    kit.dispose();
  });
});
