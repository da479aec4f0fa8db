import type { Kernels } from '@cosinekit/core/backend';
import type { KernelContext } from '../context.js';
import { normalizedOf, readAndDispose, upload } from '../graph.js';

/** `normalizeRows`: each row over its L2 norm; a zero row stays zero. */
export function normalizeRows(ctx: KernelContext): Kernels['normalizeRows'] {
  return (x, out) =>
    ctx.run('normalizeRows', (tf) =>
      readAndDispose(
        tf.tidy(() => normalizedOf(tf, upload(tf, x))),
        out,
      ),
    );
}
