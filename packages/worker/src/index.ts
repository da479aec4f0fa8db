/**
 * @cosinekit/worker: the CosineKit API served from a dedicated worker (a Web Worker in browsers, a
 * worker thread in Node), so long searches never block the calling thread, and an `AbortSignal`
 * rejects a call at once.
 *
 * ```ts
 * import { createWorkerKit } from '@cosinekit/worker';
 * const kit = await createWorkerKit({ backends: ['wasm'] });
 * const corpus = await kit.corpus(rows, { transfer: true }); // rows move to the worker
 * const hits = await corpus.search(queries, 10, { signal: AbortSignal.timeout(100) });
 * kit.dispose(); // ends the worker
 * ```
 *
 * @module @cosinekit/worker
 */

export type {
  TransferOption,
  WorkerCorpusFromOptions,
  WorkerCorpusOptions,
  WorkerKit,
  WorkerKitOptions,
  WorkerLike,
  WorkerSearchOptions,
} from './kit.js';
export { createWorkerKit, WorkerCorpus } from './kit.js';
