import type { Kernels } from '@cosinekit/core/backend';
import type { KernelContext } from '../context.js';
import { readAndDispose, upload } from '../graph.js';

/** `addBias`: `x + bias`, broadcast over the rows. */
export function addBias(ctx: KernelContext): Kernels['addBias'] {
  return (x, bias, out) =>
    ctx.run('addBias', (tf) =>
      readAndDispose(
        tf.tidy(() => tf.add(upload(tf, x), tf.tensor1d(bias, 'float32'))),
        out,
      ),
    );
}
