import {
  argError,
  argErrorOf,
  disposedBackend,
  foreignCorpus,
  type Kernels,
  type ResidentCorpus,
} from '@cosinekit/core/backend';
import type { KernelContext } from '../context.js';
import { type CorpusTile, TfjsCorpus } from '../corpus.js';
import { readAndDispose } from '../graph.js';
import { buildTiles, cosineTiles, disposeTiles, mergeTiles, searchTiles } from '../tiles.js';

/**
 * The most bytes of tensors tfjs's wasm heap holds: 4 GiB (wasm32), less 64 MiB for the module's
 * own data and a kernel's scratch. Past it the engine aborts, and cannot run again in the process.
 */
const WASM_HEAP_BYTES = 2 ** 32 - 2 ** 26;

/**
 * `OUT_OF_MEMORY` naming `arg` when a corpus of `bytes` would not fit in tfjs's wasm heap beside
 * the tensors it holds (every backend's on that engine): a corpus grown by 1 GiB adds aborted the
 * engine on the fifth, and every call after that failed.
 */
function checkWasmRoom(ctx: KernelContext, kernel: string, arg: string, bytes: number): void {
  if (ctx.engine !== 'wasm') return;
  // The corpora on the engine, every backend's (tf.memory() counts every engine's tensors: 4 GiB
  // of tfjs-cpu tensors refused a 2 x 2 wasm corpus); what else the heap holds is transient.
  let held = 0;
  for (const c of wasmCorpora) held += c.rows * c.cols * 4;
  if (held + bytes > WASM_HEAP_BYTES)
    throw argErrorOf(
      'OUT_OF_MEMORY',
      kernel,
      arg,
      `needs ${bytes} bytes of tfjs's wasm heap, whose corpora hold ${held} bytes already, and it holds at most 4 GiB (less 64 MiB for the engine): make the corpus smaller, dispose others, or use another backend.`,
    );
}

/** The live corpora on tfjs's wasm engine, of every backend (the engine's heap is one). */
const wasmCorpora = new Set<TfjsCorpus>();

/** A new corpus of `ctx`'s backend, held in `live` (and in {@link wasmCorpora} on wasm) until disposed. */
function registered(
  ctx: KernelContext,
  live: CorpusRegistry,
  x: { rows: number; cols: number },
  tiles: CorpusTile[],
) {
  const corpus = new TfjsCorpus(ctx.name, ctx.engine, x.rows, x.cols, tiles, (c) => {
    live.delete(c);
    wasmCorpora.delete(c);
  });
  live.add(corpus);
  if (ctx.engine === 'wasm') wasmCorpora.add(corpus);
  return corpus;
}

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
      checkWasmRoom(ctx, 'createCorpus', 'x', x.rows * x.cols * 4);
      return registered(ctx, live, x, buildTiles(ctx, tf, x));
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
      checkWasmRoom(ctx, 'importCorpus', 'stored', x.rows * x.cols * 4);
      return registered(ctx, live, x, buildTiles(ctx, tf, x, false));
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

/**
 * `mergeCorpora`: one corpus of the kept rows of `corpora`, copied from their tiles into new ones
 * on the host and uploaded once (see `mergeTiles`): bit for bit the rows as stored, so it searches
 * as `importCorpus` of the kept rows would.
 */
export function mergeCorpora(ctx: KernelContext, live: CorpusRegistry): NonNullable<Kernels['mergeCorpora']> {
  return async (corpora, drop) => {
    const own = corpora.map((c) => owned(ctx, c, 'mergeCorpora'));
    const claimed: TfjsCorpus[] = [];
    try {
      const tiles = own.map((c) => {
        const t = c.acquire('mergeCorpora');
        claimed.push(c);
        return t;
      });
      let rows = 0;
      for (const m of drop) for (let i = 0; i < m.length; i++) if (m[i] === 0) rows++;
      const cols = own[0].cols;
      return await ctx.run('mergeCorpora', async (tf) => {
        checkWasmRoom(ctx, 'mergeCorpora', 'corpora', rows * cols * 4);
        const made = await mergeTiles(ctx, tf, tiles, drop, rows, cols);
        // Disposed while the tiles were read (each read awaits): the backend's corpora are gone,
        // and a merged one registered now outlived it, its tensors never freed.
        if (ctx.disposed) {
          disposeTiles(made);
          disposedBackend('mergeCorpora');
        }
        return registered(ctx, live, { rows, cols }, made);
      });
    } finally {
      for (const c of claimed) c.release();
    }
  };
}

/** `corpusSearch`: tiled top-k against a resident corpus; nothing is uploaded but the queries. */
export function corpusSearch(ctx: KernelContext): Kernels['corpusSearch'] {
  return (corpus, queries, k) =>
    withTiles(ctx, corpus, 'corpusSearch', (tiles) =>
      ctx.run('corpusSearch', (tf) => searchTiles(ctx, tf, tiles, queries, k)),
    );
}

/**
 * `corpusSearchAllowed`: `corpusSearch` among the allowed rows only. A tile none of whose rows
 * passes is not scored; a few allowed rows of a tile are gathered and scored alone where that
 * costs less than scoring the tile (`gathers` in tiles.ts), and the others masked (scored around
 * the plain search, a filter passing one row of 20,000 cost 1.5x an unfiltered search).
 */
export function corpusSearchAllowed(ctx: KernelContext): NonNullable<Kernels['corpusSearchAllowed']> {
  return (corpus, queries, k, allow) =>
    withTiles(ctx, corpus, 'corpusSearchAllowed', (tiles) =>
      ctx.run('corpusSearchAllowed', (tf) => searchTiles(ctx, tf, tiles, queries, k, allow)),
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
