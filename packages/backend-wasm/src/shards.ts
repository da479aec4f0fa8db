/**
 * Shards: the wasm instances a backend spreads its resident corpora over. A wasm32 memory addresses
 * 4 GiB at most, so one instance caps a corpus near 10M x 384 int8 rows. Each corpus (one segment of
 * a kit's `Corpus`: `corpus()`, every `add`, every `corpusFrom` segment) is placed whole in the first
 * instance with room for it below the shard limit; when none has room a new instance starts, with
 * its own memory and, on the threads build, its own helper threads. Kernels on a corpus run in the
 * instance that holds it. Core's `Corpus` merges the segments' top-k exactly (ties to the lower
 * ordinal), so a search over many instances returns what one instance would.
 *
 * An instance other than the first is dropped once it holds no corpus, so its memory (which wasm
 * cannot shrink) goes back to the engine.
 */
import {
  argError,
  type CorpusStorage,
  isCosineKitError,
  type ResidentCorpus,
  resolveCorpusOptions,
} from '@cosinekit/core/backend';
import type { WasmRuntime } from './runtime.js';
import { padded } from './staging.js';

/** Default shard limit: 4 GiB less room for the blocks a call stages next to its corpora. */
export const DEFAULT_SHARD_BYTES = 3.5 * 2 ** 30;

/** What one shard holds, as {@link WasmBackend.shards} reports it. */
export interface WasmShardInfo {
  /** Bytes of wasm memory the instance has (it only grows). */
  memoryBytes: number;
  /** Bytes its allocator holds now: resident corpora and vectors. */
  usedBytes: number;
  /** Resident corpora and vectors in it. */
  residentHandles: number;
  /** Threads computing its calls (1 + helpers started so far). */
  threads: number;
}

/**
 * Bytes a corpus of `rows` x `cols` takes once built (rows padded to whole panels of `tileCols`; int8
 * codes and scales or binary16 rows, plus the float32 rows when re-ranking, which int8 does by
 * default), for placing it.
 */
export function residentBytes(
  rows: number,
  cols: number,
  storage: CorpusStorage | undefined,
  rerank: number | undefined,
  tileCols: number,
): number {
  const o = resolveCorpusOptions({ storage, rerank });
  const float = Math.ceil(rows / tileCols) * tileCols * padded(cols) * 4;
  if (o.storage === 'float16') return float / 2 + (o.rerank > 0 ? float : 0);
  if (o.storage !== 'int8') return float;
  const codes = rows * (Math.ceil(cols / 16) * 16 + 4);
  return codes + (o.rerank > 0 ? float : 0);
}

/** The instances of one backend; the first also runs every kernel that holds no corpus. */
export class Shards {
  readonly #list: WasmRuntime[];
  readonly #owner = new WeakMap<object, WasmRuntime>();
  readonly #limit: number;
  readonly #spawn: (op: string) => WasmRuntime;

  constructor(first: WasmRuntime, limit: number, spawn: (op: string) => WasmRuntime) {
    this.#list = [first];
    this.#limit = limit;
    this.#spawn = spawn;
  }

  /** The instances, first the primary. */
  get list(): readonly WasmRuntime[] {
    return this.#list;
  }

  /** The instance holding `corpus` (the primary for corpora it did not place: it reports them). */
  of(corpus: ResidentCorpus): WasmRuntime {
    return this.#owner.get(corpus) ?? this.#list[0];
  }

  /**
   * Runs `make` (which builds a corpus of about `bytes`) in the first instance whose allocator
   * stays within the limit with it, else in a new instance. An instance in use that cannot grow
   * its memory that far (`OUT_OF_MEMORY`) hands the corpus on to the next, then to a new one; a new
   * instance that cannot hold it either rethrows, and is dropped.
   */
  place<T extends ResidentCorpus>(bytes: number, make: (rt: WasmRuntime) => T, op: string): T {
    for (const rt of this.#list) {
      if (rt.heap.used > 0 && rt.heap.used + bytes > this.#limit) continue;
      try {
        return this.#made(rt, make(rt));
      } catch (err) {
        if (!isCosineKitError(err, 'OUT_OF_MEMORY') || rt.residentHandles === 0) throw err;
      }
    }
    const rt = this.#start(op);
    try {
      return this.#made(rt, make(rt));
    } catch (err) {
      this.idle(rt);
      throw err;
    }
  }

  /**
   * Runs `make` (which builds a corpus of about `bytes`) in `rt`, the instance holding the corpora
   * it is made from: `UNSUPPORTED` when that would take `rt` past the limit (the caller then
   * builds it by {@link place}).
   */
  within<T extends ResidentCorpus>(
    rt: WasmRuntime,
    bytes: number,
    make: (rt: WasmRuntime) => T,
    op: string,
  ): T {
    if (rt.heap.used + bytes > this.#limit)
      argError('UNSUPPORTED', op, 'corpora', 'would take their wasm instance past the shard limit.');
    return this.#made(rt, make(rt));
  }

  /** Called when `rt` holds nothing any more: an instance other than the primary is dropped. */
  idle(rt: WasmRuntime): void {
    const at = this.#list.indexOf(rt);
    if (at <= 0 || rt.residentHandles > 0) return;
    this.#list.splice(at, 1);
    rt.dispose();
  }

  /** What each instance holds. */
  info(): WasmShardInfo[] {
    return this.#list.map((rt) => ({
      memoryBytes: rt.heap.capacity,
      usedBytes: rt.heap.used,
      residentHandles: rt.residentHandles,
      threads: (rt.pool?.size ?? 0) + 1,
    }));
  }

  /** Releases every instance. */
  dispose(): void {
    for (const rt of this.#list.splice(0)) rt.dispose();
  }

  #made<T extends ResidentCorpus>(rt: WasmRuntime, c: T): T {
    this.#owner.set(c, rt);
    return c;
  }

  #start(op: string): WasmRuntime {
    let rt: WasmRuntime;
    try {
      rt = this.#spawn(op);
    } catch (err) {
      if (isCosineKitError(err)) throw err;
      argError(
        'OUT_OF_MEMORY',
        op,
        'x',
        `needs another wasm instance (the ${this.#list.length} in use have no room below the shard limit of ${(this.#limit / 2 ** 20).toFixed(0)} MiB), which could not start: ${err instanceof Error ? err.message : String(err)}.`,
        err,
      );
    }
    rt.onIdle = () => this.idle(rt);
    this.#list.push(rt);
    return rt;
  }
}
