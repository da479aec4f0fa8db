import type { Kernels } from '@cosinekit/core/backend';
import type { KernelContext } from '../context.js';
import { clampCosines, normalizedOf, readAndDispose, upload } from '../graph.js';

/** `cosineRows`: the cosine of each pair of rows, as the row sums of two normalised matrices. */
export function cosineRows(ctx: KernelContext): Kernels['cosineRows'] {
  return (a, b, out) =>
    ctx.run('cosineRows', (tf) =>
      readAndDispose(
        tf.tidy(() => {
          const products = tf.mul(normalizedOf(tf, upload(tf, a)), normalizedOf(tf, upload(tf, b)));
          return clampCosines(tf, tf.sum(products, 1));
        }),
        out,
      ),
    );
}
