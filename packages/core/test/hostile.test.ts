import { describe, expect, it } from 'vitest';
import type { Backend } from '../src/backend.js';
import {
  type CosineKitError,
  cosine,
  createCosineKit,
  Tensor,
  type TensorInput,
  tensor,
} from '../src/index.js';

/** A Float32Array whose buffer was transferred away (detached): length 0, and `set` from it throws. */
function detached(values: number[]): Float32Array {
  const x = new Float32Array(values);
  structuredClone(x.buffer, { transfer: [x.buffer] });
  return x;
}

/** A backend with no kernels of its own: every call takes the reference through the gate. */
const bare: Backend = { name: 'bare', kernels: {} };

async function rejection(p: Promise<unknown>): Promise<CosineKitError> {
  try {
    await p;
  } catch (e) {
    return e as CosineKitError;
  }
  throw new Error('resolved where a rejection was due');
}

describe('detached (transferred) Float32Arrays are refused by name, as a detached tensor is', () => {
  const kits = [
    ['reference, ungated cosineRows', createCosineKit({ backend: 'reference' })],
    ['a gated backend', createCosineKit({ backend: bare })],
  ] as const;

  for (const [what, kit] of kits) {
    it(`${what}: a detached row, first or later, in an array of rows`, async () => {
      const row = [1, 2, 3, 4];
      for (const [a, arg] of [
        [[detached(row)], 'a[0]'],
        [[new Float32Array(row), detached(row)], 'a[1]'],
        [[row, detached(row), row], 'a[1]'],
      ] as const) {
        // Rows may mix number[] and Float32Array at run time; the declared type asks for one kind.
        const rows = a as unknown as TensorInput;
        const b = a.map(() => row);
        for (const call of [() => kit.cosineRows(rows, b), () => kit.cosineMatrix(rows, b)]) {
          const e = await rejection(call());
          expect(e.name, String(e)).toBe('CosineKitError');
          expect(e.code).toBe('DISPOSED');
          expect(e.arg).toBe(arg);
          expect(e.message).toMatch(/detached/);
        }
      }
    });

    it(`${what}: a detached flat Float32Array as either argument`, async () => {
      for (const [a, b, arg] of [
        [detached([1, 2]), new Float32Array([1, 2]), 'a'],
        [new Float32Array([1, 2]), detached([1, 2]), 'b'],
      ] as const) {
        const e = await rejection(kit.cosineRows(a, b));
        expect(e.code).toBe('DISPOSED');
        expect(e.arg).toBe(arg);
        expect(e.message).toMatch(/detached/);
      }
      // The kit still answers right afterwards.
      expect(Array.from(await kit.cosineRows([[3, 4]], [[4, 3]]))).toEqual([Math.fround(24 / 25)]);
    });
  }

  it('tensor() and the pair functions say so too, and an empty array stays EMPTY_INPUT', () => {
    expect(() => tensor(detached([1, 2]))).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
    expect(() => tensor([detached([1, 2])])).toThrow(
      expect.objectContaining({ code: 'DISPOSED', arg: 'input[0]' }),
    );
    expect(() => cosine(detached([1, 2]), new Float32Array([1, 2]))).toThrow(
      expect.objectContaining({ code: 'DISPOSED', arg: 'a' }),
    );
    expect(() => tensor(new Float32Array(0))).toThrow(expect.objectContaining({ code: 'EMPTY_INPUT' }));
    expect(() => tensor([new Float32Array(0)])).toThrow(expect.objectContaining({ code: 'EMPTY_INPUT' }));
    // A view of a SharedArrayBuffer (never detached) with a byte offset is taken as it is.
    const shared = new Float32Array(new SharedArrayBuffer(64));
    shared.set([9, 1, 2, 3, 4]);
    expect(Array.from(tensor(shared.subarray(1, 5)).data)).toEqual([1, 2, 3, 4]);
    expect(new Tensor(shared.subarray(1, 5), 2, 2).rows).toBe(2);
  });
});
