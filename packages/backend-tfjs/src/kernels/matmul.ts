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
  return (a, b, transA, transB, out) =>
    ctx.run('matmul', (tf) =>
      readAndDispose(
        tf.tidy(() => {
          const ta = upload(tf, a);
          const tb = upload(tf, b);
          if (!materialise) return tf.matMul(ta, tb, transA, transB);
          return tf.matMul(transA ? tf.transpose(ta) : ta, transB ? tf.transpose(tb) : tb);
        }),
        out,
      ),
    );
}
