import type { Kernels } from '@cosinekit/core/backend';
import type { KernelContext } from '../context.js';
import { buildTiles, disposeTiles, searchTiles } from '../tiles.js';

/** `topK`: the corpus laid out as resident tiles for this one call, then the tiled search. */
export function topK(ctx: KernelContext): Kernels['topK'] {
  return (queries, corpus, k) =>
    ctx.run('topK', async (tf) => {
      const tiles = buildTiles(ctx, tf, corpus);
      try {
        return await searchTiles(ctx, tf, tiles, queries, k);
      } finally {
        disposeTiles(tiles);
      }
    });
}
