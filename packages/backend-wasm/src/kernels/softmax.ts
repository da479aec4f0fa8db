import { argError, checkSoftmaxArgs, type Matrix, type SoftmaxCrossEntropy } from '@cosinekit/core/backend';
import type { WasmRuntime } from '../runtime.js';
import { padded } from '../staging.js';

/**
 * `softmaxCrossEntropy`: the contract's float32 operations four lanes at a time (the bits are the
 * reference's). One block holds the logits (rows padded to a multiple of 4 floats with zeros),
 * which the kernel overwrites with the gradient, then the keep bytes when given (0 on the
 * padding), the targets and the losses: one copy in of each, one copy out of the gradient and the
 * losses.
 */
export function softmaxCrossEntropy(
  rt: WasmRuntime,
  logits: Matrix,
  targets: Int32Array,
  scale: number,
  weight: number,
  keep?: Uint8Array,
  out?: SoftmaxCrossEntropy,
): SoftmaxCrossEntropy {
  const op = 'softmaxCrossEntropy';
  checkSoftmaxArgs(logits, targets, scale, weight, keep, out);
  const { data, rows, cols: n } = logits;
  const stride = padded(n);
  const xBytes = rows * stride * 4;
  const kBytes = keep ? (rows * stride + 3) & ~3 : 0;
  const block = rt.alloc(xBytes + kBytes + 8 * rows, op);
  try {
    const f32 = rt.f32;
    const x = block >>> 2;
    const kp = block + xBytes;
    const tp = kp + kBytes;
    const lp = tp + 4 * rows;
    const bytes = keep ? new Uint8Array(f32.buffer, kp, kBytes) : undefined;
    if (stride === n) {
      f32.set(data, x);
      if (keep) bytes!.set(keep);
    } else {
      for (let i = 0; i < rows; i++) {
        const o = x + i * stride;
        f32.set(data.subarray(i * n, (i + 1) * n), o);
        f32.fill(0, o + n, o + stride);
        if (keep) {
          bytes!.set(keep.subarray(i * n, (i + 1) * n), i * stride);
          bytes!.fill(0, i * stride + n, (i + 1) * stride);
        }
      }
    }
    rt.i32.set(targets, tp >>> 2);
    const ok = rt.exports.softmaxCrossEntropy(
      block,
      keep ? kp : 0,
      tp,
      lp,
      rows,
      n,
      stride,
      Math.fround(scale),
      Math.fround(scale * weight),
    );
    if (!ok) {
      let at = 0;
      while (Number.isFinite(data[at])) at++;
      argError('NON_FINITE', op, 'logits', `holds ${data[at]} at row ${Math.floor(at / n)}.`);
    }
    const grad = out?.grad ?? new Float32Array(rows * n);
    if (stride === n) grad.set(f32.subarray(x, x + rows * n));
    else for (let i = 0; i < rows; i++) grad.set(f32.subarray(x + i * stride, x + i * stride + n), i * n);
    const losses = out?.losses ?? new Float32Array(rows);
    losses.set(f32.subarray(lp >>> 2, (lp >>> 2) + rows));
    return { grad, losses };
  } finally {
    rt.free(block);
  }
}
