import type { Kernels } from '@cosinekit/core/backend';
import type { KernelContext } from '../context.js';
import { readAndDispose, upload } from '../graph.js';

/**
 * `matmul`: `op(A) op(B)` with tfjs's transpose flags. On tfjs-wasm only a product with neither
 * flag set reaches XNNPACK (a flagged one runs a scalar loop, about 11x slower), so there the
 * transposed operand is materialised first: one O(size) copy against O(m n k) work.
 */
export function matmul(ctx: KernelContext): Kernels['matmul'] {
  const materialise = ctx.engine === 'wasm';
  const split = ctx.engine === 'webgpu';
  return (a, b, transA, transB, out) =>
    ctx.run('matmul', (tf) =>
      readAndDispose(
        tf.tidy(() => {
          const ta = upload(tf, a);
          const tb = upload(tf, b);
          const k = transA ? a.rows : a.cols;
          if (split && k > WEBGPU_SHARED) {
            // tfjs-webgpu answered wrong sums for a long shared dimension (6 x 4096 by 4096 x 56,
            // transB: 48.3 where float64 says -41.6, on SwiftShader): the product is summed over
            // parts of the shared dimension, each a product tfjs-webgpu gets right.
            let sum: ReturnType<typeof tf.matMul> | undefined;
            for (let k0 = 0; k0 < k; k0 += WEBGPU_SHARED) {
              const w = Math.min(WEBGPU_SHARED, k - k0);
              const pa = transA ? tf.slice(ta, [k0, 0], [w, -1]) : tf.slice(ta, [0, k0], [-1, w]);
              const pb = transB ? tf.slice(tb, [0, k0], [-1, w]) : tf.slice(tb, [k0, 0], [w, -1]);
              const part = tf.matMul(pa, pb, transA, transB);
              sum = sum ? tf.add(sum, part) : part;
            }
            return sum!;
          }
          if (!materialise) return tf.matMul(ta, tb, transA, transB);
          return tf.matMul(transA ? tf.transpose(ta) : ta, transB ? tf.transpose(tb) : tb);
        }),
        out,
      ),
    );
}

/** The longest shared dimension tfjs-webgpu multiplies in one product here (see {@link matmul}). */
const WEBGPU_SHARED = 1024;
