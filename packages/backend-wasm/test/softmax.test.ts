import { softmaxCrossEntropy64 } from '@cosinekit/conformance';
import { isCosineKitError, referenceKernels } from '@cosinekit/core/backend';
import { describe, expect, it } from 'vitest';
import { backend, random, VARIANTS } from './helpers.js';

/** Whether two float32 arrays hold the same bits. */
function sameBits(a: Float32Array, b: Float32Array): boolean {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  return x.length === y.length && x.every((w, i) => w === y[i]);
}

// Widths around the 4-float lanes (1, 3, 5, 7, 13 leave a padded tail), the InfoNCE batch
// (128 x 128) and a wide row; scales from 0.5 to 64, and one that overflows.
const SHAPES: [rows: number, cols: number, scale: number][] = [
  [1, 1, 20],
  [1, 3, 20],
  [2, 4, 20],
  [5, 5, 0.5],
  [3, 7, 64],
  [9, 13, 20],
  [17, 10, 30],
  [128, 128, 20],
  [2, 1000, 20],
  [3, 9, 1e37],
];

describe.each(VARIANTS)('wasm softmaxCrossEntropy (%s)', (variant) => {
  it("gives the reference's bits, with and without a keep mask, into out or not", async () => {
    const b = await backend({ variant });
    const before = b.memory();
    for (const [rows, cols, scale] of SHAPES) {
      const x = random(rows, cols, rows * 31 + cols);
      const t = Int32Array.from({ length: rows }, (_, i) => (i * 11) % cols);
      const flip = random(rows, cols, 7).data;
      // Row 0 keeps only its target; the others lose about a third of their entries.
      const keep = Uint8Array.from(flip, (v, k) => (k >= cols && v > -0.33 ? 1 : 0));
      for (const mask of [undefined, keep]) {
        const what = `${rows} x ${cols}, scale ${scale}, ${mask ? 'masked' : 'no mask'}`;
        const mine = b.kernels.softmaxCrossEntropy(x, t, scale, 1 / rows, mask);
        const ref = referenceKernels.softmaxCrossEntropy!(x, t, scale, 1 / rows, mask) as typeof mine;
        expect(sameBits(mine.grad, ref.grad), `${what}: grad`).toBe(true);
        expect(sameBits(mine.losses, ref.losses), `${what}: losses`).toBe(true);
        expect(mine.grad.every(Number.isFinite), what).toBe(true);
        if (scale < 100) {
          const exact = softmaxCrossEntropy64(x.data, rows, cols, t, scale, 1 / rows, mask);
          let worst = 0;
          for (let k = 0; k < rows * cols; k++)
            worst = Math.max(worst, Math.abs(mine.grad[k] - exact.grad[k]));
          // |u| <= 2 scale: 2 scale 2^-22 relative from the rounded logits, plus the sum's roundings.
          expect(worst, what).toBeLessThan((scale / rows) * (2 * scale * 2 ** -22 + (cols + 12) * 2 ** -23));
          for (let i = 0; i < rows; i++)
            expect(Math.abs(mine.losses[i] - exact.losses[i]), what).toBeLessThan(
              (exact.losses[i] + 2 * scale + 1) * 2 ** -21 + cols * 2 ** -23,
            );
        }
        const out = { grad: new Float32Array(rows * cols).fill(9), losses: new Float32Array(rows).fill(9) };
        const into = b.kernels.softmaxCrossEntropy(x, t, scale, 1 / rows, mask, out);
        expect(into.grad).toBe(out.grad);
        expect(sameBits(out.grad, mine.grad) && sameBits(out.losses, mine.losses), what).toBe(true);
      }
      // The mask and the logits are the caller's: untouched.
      expect(keep[t[0]]).toBe(0);
    }
    expect(b.memory()).toEqual(before);
    b.dispose();
  });

  it('throws NON_FINITE for NaN or ±Infinity anywhere in the logits, and frees what it took', async () => {
    const b = await backend({ variant });
    const before = b.memory();
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      for (const at of [0, 6, 16]) {
        const x = random(3, 6, 5);
        x.data[at] = bad;
        // Entry 16 is left out of its row's softmax: still refused.
        const keep = new Uint8Array(18).fill(1);
        keep[16] = 0;
        let e: unknown;
        try {
          b.kernels.softmaxCrossEntropy(x, Int32Array.of(0, 1, 2), 20, 1, keep);
        } catch (y) {
          e = y;
        }
        expect(isCosineKitError(e, 'NON_FINITE'), String(e)).toBe(true);
        expect(e).toMatchObject({ op: 'softmaxCrossEntropy', arg: 'logits' });
      }
    }
    expect(b.memory()).toEqual(before);
    b.dispose();
  });
});
