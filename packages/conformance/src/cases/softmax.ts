import { type Matrix, referenceKernels, valueText } from '@cosinekit/core/backend';
import { assertClose, assertRejects, check } from '../assert.js';
import { softmaxCrossEntropy64 } from '../oracle.js';
import { type CaseData, type ConformanceCase, defineCase } from './context.js';

interface Shape {
  readonly name: string;
  readonly rows: number;
  readonly cols: number;
  readonly scale: number;
  /** Share of entries left out (0: no keep mask at all). */
  readonly drop: number;
  /** Multiplies the uniform [-1, 1) logits. */
  readonly size?: number;
}

/**
 * One row, one column, odd widths, not a multiple of 4, the training step's 128 x 128 (masked and
 * not), rows past 256 and a row past 1024 logits (past a tile or a workgroup), big logits.
 */
const SHAPES: readonly Shape[] = [
  { name: 'one row, one column', rows: 1, cols: 1, scale: 20, drop: 0 },
  { name: 'one row of 7', rows: 1, cols: 7, scale: 20, drop: 0 },
  { name: '5 rows of 1, masked', rows: 5, cols: 1, scale: 3, drop: 0.5 },
  { name: '3 x 5, masked', rows: 3, cols: 5, scale: 20, drop: 0.3 },
  { name: '17 x 33, masked, scale 64', rows: 17, cols: 33, scale: 64, drop: 0.2 },
  { name: '128 x 128, masked (an InfoNCE batch)', rows: 128, cols: 128, scale: 20, drop: 0.1 },
  { name: '259 x 6, masked', rows: 259, cols: 6, scale: 20, drop: 0.2 },
  { name: '2 x 1031, masked', rows: 2, cols: 1031, scale: 20, drop: 0.1 },
  { name: '9 x 10 (a classifier head), scale 0.5', rows: 9, cols: 10, scale: 0.5, drop: 0 },
  // Unmasked with every row a multiple of 4 and 16 logits (no tail): the masked shapes had them.
  { name: '64 x 128, unmasked (an InfoNCE batch, no mask)', rows: 64, cols: 128, scale: 20, drop: 0 },
  { name: '6 x 11, logits near 1e30, scale 1', rows: 6, cols: 11, scale: 1, drop: 0, size: 1e30 },
  { name: '4 x 9, scale 1e37 (exp underflows to 0)', rows: 4, cols: 9, scale: 1e37, drop: 0.2 },
];

/** Logits, targets and keep bytes of a shape; row 0 keeps only its target when masked. */
function inputs(data: CaseData, s: Shape): { x: Matrix; targets: Int32Array; keep?: Uint8Array } {
  const x = data.centred(s.rows, s.cols);
  if (s.size) for (let i = 0; i < x.data.length; i++) x.data[i] *= s.size;
  const targets = Int32Array.from({ length: s.rows }, (_, i) => (i * 7) % s.cols);
  if (!s.drop) return { x, targets };
  const flip = data.centred(s.rows, s.cols).data;
  // Kept entries as 1, 2 and 255: the contract keeps any byte but 0 (a kernel that kept only 1s
  // passed when every kept byte was 1).
  const keep = Uint8Array.from(flip, (v, k) =>
    k < s.cols ? 0 : v * 0.5 + 0.5 >= s.drop ? [1, 2, 255][k % 3]! : 0,
  );
  return { x, targets, keep };
}

/**
 * `softmaxCrossEntropy` (the reference's where a backend has none): the reference kernel's bits
 * (the contract fixes every float32 operation), float32 rounding of the float64 softmax, losses
 * that overflow as `+Infinity` with finite gradients, and `NON_FINITE` for NaN or ±Infinity logits.
 */
export function softmaxCases(): ConformanceCase[] {
  const cases = SHAPES.map((s) =>
    defineCase('softmax', `softmaxCrossEntropy: ${s.name}`, undefined, async ({ kernels }, data) => {
      const { x, targets, keep } = inputs(data, s);
      const weight = 1 / s.rows;
      const run = kernels.softmaxCrossEntropy ? kernels : referenceKernels;
      const got = await run.softmaxCrossEntropy!(x, targets, s.scale, weight, keep);
      const want = await referenceKernels.softmaxCrossEntropy!(x, targets, s.scale, weight, keep);
      assertClose(`${s.name}: grad vs the reference kernel`, got.grad, want.grad, () => 0);
      assertClose(`${s.name}: losses vs the reference kernel`, got.losses, want.losses, () => 0);
      // Into `out`'s arrays, when given: the same bits.
      const out = {
        grad: new Float32Array(s.rows * s.cols).fill(Number.NaN),
        losses: new Float32Array(s.rows).fill(Number.NaN),
      };
      await run.softmaxCrossEntropy!(x, targets, s.scale, weight, keep, out);
      assertClose(`${s.name}: grad into 'out' vs the reference kernel`, out.grad, want.grad, () => 0);
      assertClose(`${s.name}: losses into 'out' vs the reference kernel`, out.losses, want.losses, () => 0);
      const exact = softmaxCrossEntropy64(x.data, s.rows, s.cols, targets, s.scale, weight, keep);
      const c = Math.fround(s.scale * weight);
      const u = (i: number, j: number) => {
        let m = Number.NEGATIVE_INFINITY;
        for (let q = 0; q < s.cols; q++)
          if (q === targets[i] || !keep || keep[i * s.cols + q]) m = Math.max(m, x.data[i * s.cols + q]);
        return Math.abs(s.scale * (x.data[i * s.cols + j] - m));
      };
      // The scaled logits are rounded (relative 2^-23 of |u|, which exp carries over), each exp and
      // quotient within a few ulps, the sum within cols roundings.
      assertClose(`${s.name}: grad vs float64`, got.grad, exact.grad, (k) => {
        const i = Math.floor(k / s.cols);
        const j = k % s.cols;
        const p = j === targets[i] ? 1 : exact.grad[k] / c;
        return c * (p * (u(i, j) * 2 ** -22 + (s.cols + 10) * 2 ** -23) + 2 ** -23);
      });
      for (let i = 0; i < s.rows; i++) {
        const w = exact.losses[i];
        const l = got.losses[i];
        if (w > 3.4028234663852886e38) {
          check(
            l === Number.POSITIVE_INFINITY,
            `${s.name}: loss ${i} overflows float32, got ${valueText(l)}`,
          );
          continue;
        }
        const tol = (Math.abs(w) + u(i, targets[i]) + 1) * 2 ** -21 + s.cols * 2 ** -23;
        check(Math.abs(l - w) <= tol, `${s.name}: loss ${i} is ${l}, float64 says ${w} (tolerance ${tol})`);
      }
      for (let k = 0; k < got.grad.length; k++)
        check(Number.isFinite(got.grad[k]), `${s.name}: grad ${k} is ${got.grad[k]}`);
      if (keep)
        for (let j = 0; j < s.cols; j++)
          if (j !== targets[0])
            check(got.grad[j] === 0, `${s.name}: a left-out entry has grad ${got.grad[j]}`);
    }),
  );
  cases.push(
    defineCase(
      'softmax',
      'softmaxCrossEntropy: a scale that overflows float32',
      undefined,
      async ({ kernels }) => {
        const run = kernels.softmaxCrossEntropy ? kernels : referenceKernels;
        // 3e38 x (-1 - 1) overflows: the target's loss is +Infinity, its gradient -c, the others 0.
        const x = { data: Float32Array.of(1, -1, 0.5, -1, 1, 0.25), rows: 2, cols: 3 };
        const r = await run.softmaxCrossEntropy!(x, Int32Array.of(1, 0), 3e38, 1e-38);
        const c = Math.fround(3e38 * 1e-38);
        check(
          r.losses[0] === Number.POSITIVE_INFINITY && r.losses[1] === Number.POSITIVE_INFINITY,
          `losses ${r.losses[0]}, ${r.losses[1]}: want +Infinity`,
        );
        assertClose('grad', r.grad, [c, -c, 0, -c, c, 0], () => 0);
      },
    ),
    defineCase('softmax', 'softmaxCrossEntropy: NaN or Infinity logits', undefined, async ({ kernels }) => {
      const run = kernels.softmaxCrossEntropy ? kernels : referenceKernels;
      for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
        const x = { data: Float32Array.of(0.5, 0.25, 0, 0.1, bad, 0.2, 0.3), rows: 1, cols: 7 };
        await assertRejects(
          `${bad}`,
          () => run.softmaxCrossEntropy!(x, Int32Array.of(0), 20, 1),
          'NON_FINITE',
          { arg: 'logits' },
        );
      }
    }),
  );
  return cases;
}
