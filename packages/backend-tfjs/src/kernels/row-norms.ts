import type { Kernels } from '@cosinekit/core/backend';
import type { KernelContext } from '../context.js';
import { readAndDispose, rowNormsOf, upload } from '../graph.js';

/** `rowNorms`: the L2 norm of each row, overflow-safe. */
export function rowNorms(ctx: KernelContext): Kernels['rowNorms'] {
  return (x, out) =>
    ctx.run('rowNorms', (tf) =>
      readAndDispose(
        tf.tidy(() => rowNormsOf(tf, upload(tf, x))),
        out,
      ),
    );
}
