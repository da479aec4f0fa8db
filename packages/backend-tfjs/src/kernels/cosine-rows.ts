import type { Kernels } from '@cosinekit/core/backend';
import type * as TF from '@tensorflow/tfjs-core';
import type { KernelContext } from '../context.js';
import { clampCosines, normalizedOf, readAndDispose, rowSums, upload } from '../graph.js';

/** `cosineRows`: the cosine of each pair of rows, as the row sums of two normalised matrices. */
export function cosineRows(ctx: KernelContext): Kernels['cosineRows'] {
  return (a, b, out) =>
    ctx.run('cosineRows', (tf) =>
      readAndDispose(
        tf.tidy(() => {
          const products = tf.mul(
            normalizedOf(tf, upload(tf, a)),
            normalizedOf(tf, upload(tf, b)),
          ) as TF.Tensor2D;
          return clampCosines(tf, tf.reshape(rowSums(tf, products), [a.rows]));
        }),
        out,
      ),
    );
}
