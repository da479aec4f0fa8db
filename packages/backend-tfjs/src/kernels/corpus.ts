import {
  argError,
  argErrorOf,
  foreignCorpus,
  type Kernels,
  type ResidentCorpus,
} from '@cosinekit/core/backend';
import type { KernelContext } from '../context.js';
import { type CorpusTile, TfjsCorpus } from '../corpus.js';
import { readAndDispose } from '../graph.js';
import { buildTiles, cosineTiles, searchTiles } from '../tiles.js';

/** Where a backend keeps its live corpora (for `memory()` and `dispose()`). */
export type CorpusRegistry = Set<TfjsCorpus>;

/** `createCorpus`: normalise once, store transposed in tiles, keep resident. */
export function createCorpus(ctx: KernelContext, live: CorpusRegistry): Kernels['createCorpus'] {
  return (x, options) => {
    const storage = options?.storage ?? 'float32';
    if (storage !== 'float32') {
      // tfjs has no int8 or float16 tensors: storing them widened would claim savings it lacks.
      return Promise.reject(
        argErrorOf(
          'UNSUPPORTED',
          'createCorpus',
          'options.storage',
          `is '${storage}', but backend '${ctx.name}' stores corpora as float32 only.`,
        ),
      );
    }
    return ctx.run('createCorpus', (tf) => {
      const tiles = buildTiles(ctx, tf, x);
      const corpus = new TfjsCorpus(ctx.name, ctx.engine, x.rows, x.cols, tiles, (c) => live.delete(c));
      live.add(corpus);
      return corpus;
    });
  };
}

/**
 * `importCorpus`: a corpus holding exactly the stored float32 rows (already normalised), laid out
 * as `createCorpus` lays them out but not normalised again: rebuilding a loaded or compacted corpus
 * through `createCorpus` moved some values by an ulp, and 0.2-0.3% of scores in the last bit.
 */
export function importCorpus(ctx: KernelContext, live: CorpusRegistry): NonNullable<Kernels['importCorpus']> {
  return (stored) => {
    if (stored.storage !== 'float32' || stored.exact === null)
      return Promise.reject(
        argErrorOf(
          'UNSUPPORTED',
          'importCorpus',
          'stored',
          `holds '${stored.storage}' rows, but backend '${ctx.name}' stores corpora as float32 only.`,
        ),
      );
    const x = { data: stored.exact, rows: stored.rows, cols: stored.cols };
    return ctx.run('importCorpus', (tf) => {
      const tiles = buildTiles(ctx, tf, x, false);
      const corpus = new TfjsCorpus(ctx.name, ctx.engine, x.rows, x.cols, tiles, (c) => live.delete(c));
      live.add(corpus);
      return corpus;
    });
  };
}

/** `readCorpus`: the stored (normalised) rows, row-major, transposed back tile by tile. */
export function readCorpus(ctx: KernelContext): NonNullable<Kernels['readCorpus']> {
  return (corpus) =>
    withTiles(ctx, corpus, 'readCorpus', (tiles) =>
      ctx.run('readCorpus', async (tf) => {
        const out = new Float32Array(corpus.rows * corpus.cols);
        for (const tile of tiles) {
          await ctx.reactivate(tf);
          const rows = tf.tidy(() =>
            tf.transpose(tile.parts.length === 1 ? tile.parts[0] : tf.concat([...tile.parts], 0)),
          );
          out.set(await readAndDispose(rows), tile.start * corpus.cols);
        }
        return out;
      }),
    );
}

/** `corpusSearch`: tiled top-k against a resident corpus; nothing is uploaded but the queries. */
export function corpusSearch(ctx: KernelContext): Kernels['corpusSearch'] {
  return (corpus, queries, k) =>
    withTiles(ctx, corpus, 'corpusSearch', (tiles) =>
      ctx.run('corpusSearch', (tf) => searchTiles(ctx, tf, tiles, queries, k)),
    );
}

/** `corpusMatrix`: the cosine matrix of the queries against a resident corpus. */
export function corpusMatrix(ctx: KernelContext): Kernels['corpusMatrix'] {
  return (corpus, queries, out) =>
    withTiles(ctx, corpus, 'corpusMatrix', (tiles) =>
      ctx.run('corpusMatrix', (tf) => cosineTiles(ctx, tf, tiles, corpus.rows, queries, out)),
    );
}

/** Claims the corpus's tiles at call time (so a `dispose()` right after waits) for `fn`. */
async function withTiles<T>(
  ctx: KernelContext,
  corpus: ResidentCorpus,
  op: string,
  fn: (tiles: readonly CorpusTile[]) => Promise<T>,
): Promise<T> {
  const own = owned(ctx, corpus, op);
  const tiles = own.acquire(op);
  try {
    return await fn(tiles);
  } finally {
    own.release();
  }
}

function owned(ctx: KernelContext, corpus: ResidentCorpus, op: string): TfjsCorpus {
  if (!(corpus instanceof TfjsCorpus) || corpus.backend !== ctx.name || corpus.engine !== ctx.engine) {
    foreignCorpus(op, corpus.backend, ctx.name);
  }
  if (corpus.disposed) {
    argError('DISPOSED', op, 'corpus', 'was disposed.');
  }
  return corpus;
}
