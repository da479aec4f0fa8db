import { argError, valueText } from '@cosinekit/core/backend';
import { builtIn } from '../built-in.js';
import { checkFloat32Scale, checkLossInput, checkNumber, checkObject, checkOps, given } from '../check.js';
import { checkUnitRows, normalizeRowsBackward, normalizeRowsForward } from '../normalize.js';
import { joined, type Vec } from '../ops.js';
import type { Loss, LossInput } from './loss.js';

/** Options of {@link multipleNegativesRankingLoss}. */
export interface MultipleNegativesRankingLossOptions {
  /** Multiplies the cosines before the softmax (inverse temperature); defaults to 20. */
  scale?: number;
  /**
   * What other rows of the anchor's class (`groups`) are: `'mask'` (default) leaves them out of
   * the softmax, since they are not negatives; `'negative'` keeps them as negatives, the textbook
   * InfoNCE / NT-Xent form (and what a loss without `groups` does). Without `groups` the two agree.
   */
  sameClass?: 'mask' | 'negative';
}

const OP = 'multipleNegativesRankingLoss';

/**
 * Multiple-negatives ranking loss (InfoNCE with in-batch negatives, as in sentence-transformers):
 * the cross-entropy of the logits `scale x cos(a_i, c_j)` against the target j = i, averaged over
 * i, where the candidates c are the positives `b` and, for triplets, the hard `negatives` after
 * them. Every other candidate in the batch is a negative for anchor i, except, when `groups` are
 * given, candidates of the anchor's own group (they are not negatives, so they leave the softmax).
 *
 * The cosine matrix and both gradient products run on the backend (`ops.matmul`):
 *   S = Â Ĉᵀ, dÂ = dS Ĉ, dĈ = dSᵀ Â, with dS = scale (softmax(scale S) - I) / rows.
 * With `normalized` inputs (unit rows, see {@link LossInput.normalized}) Â = A and Ĉ = C.
 */
export function multipleNegativesRankingLoss(options: MultipleNegativesRankingLossOptions = {}): Loss {
  options = checkObject(OP, 'options', options, true, ['scale', 'sameClass']);
  const scale = given(options.scale, 20);
  if (!(checkNumber(OP, 'scale', scale, 0, Number.MAX_VALUE) > 0))
    argError('INVALID_ARGUMENT', OP, 'scale', 'must be > 0.');
  const sameClass = given(options.sameClass, 'mask');
  if (sameClass !== 'mask' && sameClass !== 'negative') {
    argError(
      'INVALID_ARGUMENT',
      OP,
      'sameClass',
      `must be 'mask' or 'negative', got ${valueText(sameClass)}.`,
    );
  }
  const masking = sameClass === 'mask';
  checkFloat32Scale(OP, scale);
  return builtIn({
    name: 'multiple-negatives-ranking',
    sampling: 'in-batch',
    async compute(ops, input) {
      checkOps(OP, ops);
      const { a, b, rows, cols, groups, negatives, negativeGroups, normalized } = checkLossInput(
        OP,
        input,
        true,
      );
      if (groups && groups.length !== rows)
        argError('SHAPE_MISMATCH', OP, 'groups', `must hold ${rows} values.`);
      if (negatives && negatives.length !== rows * cols) {
        argError('SHAPE_MISMATCH', OP, 'negatives', `must hold ${rows} x ${cols} values.`);
      }
      if (negatives && groups && (!negativeGroups || negativeGroups.length !== rows)) {
        argError('SHAPE_MISMATCH', OP, 'negativeGroups', `must hold ${rows} values when groups are given.`);
      }
      // Group ids are compared for equality: NaN equals nothing (its row masked none of its own
      // class) and 1.5 is no class.
      for (const [arg, g] of [
        ['groups', groups],
        ['negativeGroups', negatives ? negativeGroups : undefined],
      ] as const)
        if (g)
          for (let i = 0; i < rows; i++)
            if (!Number.isInteger(g[i]))
              argError('INVALID_ARGUMENT', OP, arg, `must hold integer group ids, got ${g[i]} at ${i}.`);
      // Candidates: the positives, then the hard negatives (when given), as one block of rows.
      const n = negatives ? 2 * rows : rows;
      let c = b;
      if (negatives) {
        // In training they lie back to back (one block of embeddings): a view then, not a copy.
        const whole = joined([b, negatives], n * cols);
        if (whole) c = whole;
        else {
          c = ops.alloc(n * cols);
          c.set(b);
          c.set(negatives, rows * cols);
        }
      }
      // Each candidate's group, read once: anchor i's softmax leaves out the candidates of its own
      // group other than its positive (when masking).
      const masked = masking && groups !== undefined;
      const groupOf = new Float64Array(masked ? n : 0);
      if (masked) {
        for (let j = 0; j < rows; j++) groupOf[j] = groups[j];
        for (let j = rows; j < n; j++) groupOf[j] = negativeGroups![j - rows];
      }

      // Unit rows (input.normalized: the encoder normalised them) are their own normalisation: the
      // cosines are their dot products and the gradients go back as they are, since the encoder's
      // normalisation backward projects them onto the sphere as this one's would.
      const unit = normalized === true;
      if (unit) {
        checkUnitRows(OP, 'a', a, rows, cols);
        checkUnitRows(OP, 'b', b, rows, cols);
        if (negatives) checkUnitRows(OP, 'negatives', negatives, rows, cols);
      }
      const na = unit ? undefined : normalizeRowsForward(a, rows, cols, ops.alloc);
      const nc = unit ? undefined : normalizeRowsForward(c, n, cols, ops.alloc);
      const ya = na ? na.y : a;
      const yc = nc ? nc.y : c;
      const s = await ops.matmul(ya, rows, cols, yc, n, cols, false, true);
      let dS: Vec;
      let total: number;
      if (ops.softmaxCrossEntropy) {
        // Float32: the backend's kernel, whose operations the contract fixes (same bits everywhere).
        const keep = masked ? keepMask(rows, n, groupOf, groups) : undefined;
        const r = await ops.softmaxCrossEntropy(s, rows, n, diagonal(rows), scale, 1 / rows, keep);
        dS = r.grad;
        total = 0;
        for (let i = 0; i < rows; i++) total += r.losses[i];
      } else {
        dS = ops.alloc(rows * n);
        total = softmaxRows(s, dS, rows, n, scale, masked ? groupOf : undefined, groups);
      }
      // A scale so large that a scaled cosine overflows: the loss is not a number to train on.
      if (!Number.isFinite(total))
        argError(
          'NON_FINITE',
          OP,
          'scale',
          `${scale} makes the loss overflow (${total}); use a smaller scale.`,
        );
      const dA = await ops.matmul(dS, rows, n, yc, n, cols, false, false);
      const dCy = await ops.matmul(dS, rows, n, ya, rows, cols, true, false);
      // The gradients back to back in one array, as the encoder's output lies: train feeds it to
      // the backward pass without copying.
      const grad = ops.alloc((rows + n) * cols);
      let gradA: Vec;
      let dC: Vec;
      if (na && nc) {
        gradA = normalizeRowsBackward(na, dA, rows, cols, () => grad.subarray(0, rows * cols), OP, 'a');
        dC = normalizeRowsBackward(nc, dCy, n, cols, () => grad.subarray(rows * cols), OP, 'b');
      } else {
        grad.set(dA);
        grad.set(dCy, rows * cols);
        gradA = grad.subarray(0, rows * cols);
        dC = grad.subarray(rows * cols);
      }
      return {
        loss: total / rows,
        gradA,
        gradB: negatives ? dC.subarray(0, rows * cols) : dC,
        ...(negatives ? { gradNegatives: dC.subarray(rows * cols) } : {}),
      };
    },
  });
}

/** Anchor i's target is candidate i. */
function diagonal(rows: number): Int32Array {
  const t = new Int32Array(rows);
  for (let i = 0; i < rows; i++) t[i] = i;
  return t;
}

/**
 * 1 where candidate j takes part in anchor i's softmax: not of i's group (the kernel keeps j = i).
 * Anchors of one group share their row of the mask, so each group's row is made once and copied.
 */
function keepMask(
  rows: number,
  n: number,
  groupOf: Float64Array,
  groups: ArrayLike<number> | undefined,
): Uint8Array {
  const keep = new Uint8Array(rows * n);
  const made = new Map<number, Uint8Array>();
  for (let i = 0; i < rows; i++) {
    const gi = groups![i];
    let row = made.get(gi);
    if (!row) {
      row = new Uint8Array(n);
      for (let j = 0; j < n; j++) row[j] = groupOf[j] !== gi ? 1 : 0;
      made.set(gi, row);
    }
    keep.set(row, i * n);
  }
  return keep;
}

/**
 * Row i of `s` (`rows x n` cosines) through the softmax of `scale x s`, candidates of anchor i's
 * group other than i left out when `groupOf` is given: writes dL/dS into `dS` (zeroed by the
 * caller; it stays zero where left out) and returns the summed cross-entropy against the targets
 * j = i. A function of its own so V8 optimises it whole rather than only its first loop. Three
 * passes per row and no array of its own; the exponentials (one per kept candidate) are most of it.
 */
function softmaxRows(
  s: Vec,
  dS: Vec,
  rows: number,
  n: number,
  scale: number,
  groupOf: Float64Array | undefined,
  groups: ArrayLike<number> | undefined,
): number {
  const f = scale / rows;
  const masked = groupOf !== undefined;
  let total = 0;
  for (let i = 0; i < rows; i++) {
    const o = i * n;
    const gi = masked ? groups![i] : 0;
    // The largest kept cosine: scale > 0, so scale x it is the largest kept logit, rounded alike.
    let top = s[o + i];
    for (let j = 0; j < n; j++) {
      const v = s[o + j];
      if (v > top && (!masked || groupOf[j] !== gi)) top = v;
    }
    const max = scale * top;
    // dS holds the unnormalised probabilities first: each exponential is taken once.
    let z = 0;
    for (let j = 0; j < n; j++) {
      if (masked && j !== i && groupOf[j] === gi) continue;
      const e = Math.exp(scale * s[o + j] - max);
      dS[o + j] = e;
      z += e;
    }
    // (max - the target's logit) first, as the classifier's loss sums it (see classifier.ts).
    total += max - scale * s[o + i] + Math.log(z);
    // Left-out entries hold 0 and stay 0; the target's probability less 1.
    const target = dS[o + i];
    for (let j = 0; j < n; j++) dS[o + j] = f * (dS[o + j] / z);
    dS[o + i] = f * (target / z - 1);
  }
  return total;
}
