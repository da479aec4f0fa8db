import type { Kernels } from '@cosinekit/core/backend';
import type { KernelContext } from '../context.js';
import { buildTiles, cosineTiles, disposeTiles } from '../tiles.js';

/** `cosineMatrix`: `b` laid out like a resident corpus for this one call, then the same product. */
export function cosineMatrix(ctx: KernelContext): Kernels['cosineMatrix'] {
  return (a, b, out) =>
    ctx.run('cosineMatrix', async (tf) => {
      const tiles = buildTiles(ctx, tf, b);
      try {
        return await cosineTiles(ctx, tf, tiles, b.rows, a, out);
      } finally {
        disposeTiles(tiles);
      }
    });
}
