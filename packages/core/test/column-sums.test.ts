import { describe, expect, it } from 'vitest';
import { type Backend, referenceKernels, resolveKernels } from '../src/backend.js';
import { createCosineKit } from '../src/index.js';

/** Deterministic values over many decades, so the order and rounding of every add show in the bits. */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 2 ** 31 - 1) * 10 ** ((i % 9) - 4);
  }
  return out;
}

/** The contract's order spelled out: each column from +0 down the rows, a float32 store per add. */
function spec(x: Float32Array, rows: number, cols: number): Float32Array {
  const s = new Float32Array(cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) s[j] = s[j] + x[i * cols + j];
  return s;
}

const bits = (v: Float32Array) => [...new Uint32Array(v.buffer, v.byteOffset, v.length)];

const SHAPES: [number, number][] = [
  [0, 2],
  [1, 1],
  [7, 1],
  [1, 5],
  [3, 4],
  [5, 7],
  [9, 17],
  [128, 257],
];

describe('columnSums (reference)', () => {
  it("follows the contract's order to the bit and float64 sums to float32 rounding, on awkward shapes", () => {
    for (const [rows, cols] of SHAPES) {
      const x = values(rows * cols, rows + 3 * cols);
      if (rows > 0) x[0] = -0;
      const got = referenceKernels.columnSums!({ data: x, rows, cols }) as Float32Array;
      expect(bits(got), `${rows} x ${cols}`).toEqual(bits(spec(x, rows, cols)));
      for (let j = 0; j < cols; j++) {
        let s = 0;
        let a = 0;
        for (let i = 0; i < rows; i++) {
          s += x[i * cols + j];
          a += Math.abs(x[i * cols + j]);
        }
        // Each of `rows` float32 adds rounds by at most half an ulp of the running sum (<= a).
        expect(Math.abs(got[j] - s)).toBeLessThanOrEqual(rows * 6e-8 * a);
      }
      // +0, never -0, for an empty column or one of -0 alone.
      if (rows === 1) expect(Object.is(got[0], 0)).toBe(true);
    }
  });

  it('refuses bad shapes by name', () => {
    const k = referenceKernels.columnSums!;
    const shape = { code: 'SHAPE_MISMATCH', op: 'columnSums' };
    expect(() => k({ data: new Float32Array(5), rows: 2, cols: 3 })).toThrow(
      expect.objectContaining({ ...shape, arg: 'x' }),
    );
    expect(() => k({ data: new Float32Array(0), rows: 1, cols: 0 })).toThrow(
      expect.objectContaining({ ...shape, arg: 'x' }),
    );
    expect(() => k({ data: new Float32Array(4), rows: 2.5, cols: 2 })).toThrow(
      expect.objectContaining({ ...shape, arg: 'x' }),
    );
    expect(() => k({ data: new Float32Array(6), rows: 2, cols: 3 }, new Float32Array(2))).toThrow(
      expect.objectContaining({ ...shape, arg: 'out' }),
    );
    expect(() => k({ data: new Float64Array(6) as unknown as Float32Array, rows: 2, cols: 3 })).toThrow(
      expect.objectContaining({ code: 'INVALID_TYPE', op: 'columnSums', arg: 'x.data' }),
    );
  });
});

describe("columnSums through the kit's kernel table", () => {
  it("is the backend's when it has one, the reference's otherwise", () => {
    const bare: Backend = { name: 'bare', kernels: { ...referenceKernels, columnSums: undefined } };
    expect(resolveKernels(bare).kernels.columnSums).toBe(referenceKernels.columnSums);
    expect(resolveKernels(bare).providers).toMatchObject({ columnSums: 'reference' });
    const own = (x: { cols: number }) => new Float32Array(x.cols);
    const mine: Backend = { name: 'mine', kernels: { ...referenceKernels, columnSums: own } };
    expect(resolveKernels(mine).providers).toMatchObject({ columnSums: 'mine' });
  });

  it('checks the shape first and the answer after: finite, of cols values, into out', async () => {
    const kit = createCosineKit({ backend: 'reference' });
    const k = await kit.kernels();
    const x = values(6 * 5, 2);
    const out = new Float32Array(5);
    expect(await k.columnSums!({ data: x, rows: 6, cols: 5 }, out)).toBe(out);
    expect(bits(out)).toEqual(bits(spec(x, 6, 5)));
    await expect(async () => k.columnSums!({ data: x, rows: 5, cols: 5 })).rejects.toMatchObject({
      code: 'SHAPE_MISMATCH',
      op: 'columnSums',
      arg: 'x',
    });
    // Finite rows whose column sum overflows float32: the caller's values, named (the backend was
    // blamed for them).
    const big = new Float32Array(4).fill(3e38);
    await expect(async () => k.columnSums!({ data: big, rows: 2, cols: 2 })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      op: 'columnSums',
      arg: 'x',
    });
    // A backend whose kernel answers elsewhere, or the wrong length, is caught too.
    const liar: Backend = {
      name: 'liar',
      kernels: { ...referenceKernels, columnSums: () => new Float32Array(3) },
    };
    const k2 = await createCosineKit({ backend: liar }).kernels();
    await expect(async () => k2.columnSums!({ data: x, rows: 6, cols: 5 })).rejects.toMatchObject({
      code: 'BACKEND_ERROR',
      kernel: 'columnSums',
      backend: 'liar',
    });
    const elsewhere: Backend = {
      name: 'elsewhere',
      kernels: { ...referenceKernels, columnSums: (m) => referenceKernels.columnSums!(m) },
    };
    const k3 = await createCosineKit({ backend: elsewhere }).kernels();
    const into = new Float32Array(5);
    expect(await k3.columnSums!({ data: x, rows: 6, cols: 5 }, into)).toBe(into);
    expect(bits(into)).toEqual(bits(spec(x, 6, 5)));
  });
});
