import { argError, errorText } from '@cosinekit/core/backend';

/** Bytes in one wasm page. */
const PAGE = 65536;
/** wasm32 addresses 4 GiB at most. */
const MAX_PAGES = 65536;
/** Every block starts on a cache line, so rows handed to SIMD loops are 16-byte aligned too. */
const ALIGN = 64;

interface FreeBlock {
  ptr: number;
  size: number;
}

/**
 * A first-fit free-list allocator over a wasm memory, run from JS (the module is built with
 * `--runtime stub` and never allocates). Freed blocks coalesce with their neighbours, and a block
 * freed at the top lowers the top, so memory in use returns to where it was after every call.
 * Memory grows on demand; a request beyond 4 GiB, or one the engine refuses, throws
 * `OUT_OF_MEMORY` instead of crashing.
 */
export class Heap {
  readonly #memory: WebAssembly.Memory;
  readonly #base: number;
  #top: number;
  /** Free blocks below the top, sorted by address. */
  readonly #free: FreeBlock[] = [];
  /**
   * Blocks by address: their size, or 0 for an address whose block was freed. A free keeps the
   * entry: deleting it and setting it again on the next call's scratch (the same few addresses,
   * call after call) left V8's hash table a chain of deleted entries at that key until its next
   * rehash, so every alloc and free cost time in proportion to the blocks held (19.5 us a pair with
   * 32,000 live; a corpus of 8,000 segments searched 3x slower than linear, and one corpus's search
   * 20x slower beside 64,000 other corpora). Dropped entries are swept out once they outnumber the
   * live ones (and 4,096).
   */
  #live = new Map<number, number>();
  /** Live blocks, and entries of {@link #live} that are 0. */
  #blocks = 0;
  #dead = 0;
  #used = 0;
  #peak = 0;
  /**
   * Bytes of memory known to exist. Memory only grows, so a block ending below it fits without
   * asking: reading a shared memory's `buffer` costs about 0.1 us, as much as a small call's copy.
   */
  #known: number;
  /** Times this heap grew the memory; views made before a change are stale (see runtime.ts). */
  grown = 0;

  constructor(memory: WebAssembly.Memory, base: number) {
    this.#memory = memory;
    this.#base = align(base);
    this.#top = this.#base;
    this.#known = memory.buffer.byteLength;
  }

  /** Bytes in live blocks. */
  get used(): number {
    return this.#used;
  }

  /** Most bytes live at once since the last {@link resetPeak}. */
  get peak(): number {
    return this.#peak;
  }

  /** Starts a new peak measurement from what is live now. */
  resetPeak(): void {
    this.#peak = this.#used;
  }

  /** Live blocks. */
  get blocks(): number {
    return this.#blocks;
  }

  /** Bytes of wasm memory (it only grows). */
  get capacity(): number {
    return this.#memory.buffer.byteLength;
  }

  /**
   * Address of a new block of at least `bytes` bytes, 64-byte aligned. May grow the memory, which
   * detaches every view of it: callers re-read views after allocating. `op` names the operation in
   * an `OUT_OF_MEMORY` error.
   */
  alloc(bytes: number, op: string): number {
    const size = align(Math.max(bytes, 1));
    const free = this.#free;
    for (let i = 0; i < free.length; i++) {
      const b = free[i];
      if (b.size < size) continue;
      const ptr = b.ptr;
      if (b.size === size) free.splice(i, 1);
      else {
        b.ptr += size;
        b.size -= size;
      }
      return this.#take(ptr, size);
    }
    const ptr = this.#top;
    const end = ptr + size;
    this.#ensure(end, bytes, op);
    this.#top = end;
    return this.#take(ptr, size);
  }

  /** Returns a block from {@link alloc} for reuse. Freeing an unknown address is a bug and throws. */
  free(ptr: number): void {
    const size = this.#live.get(ptr);
    if (!size) throw new Error(`wasm heap: free of unknown block ${ptr}`);
    this.#live.set(ptr, 0);
    this.#blocks--;
    if (++this.#dead > 4096 && this.#dead > this.#blocks) this.#sweep();
    this.#used -= size;
    const free = this.#free;
    if (ptr + size === this.#top) {
      // The top block (a short call's scratch, usually): lower the top, over a free block below too.
      this.#top = ptr;
      const last = free[free.length - 1];
      if (last !== undefined && last.ptr + last.size === ptr) {
        this.#top = last.ptr;
        free.pop();
      }
      return;
    }
    // Insert in address order, then merge with the neighbours.
    let lo = 0;
    let hi = free.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (free[mid].ptr < ptr) lo = mid + 1;
      else hi = mid;
    }
    let block: FreeBlock = { ptr, size };
    const prev = free[lo - 1];
    if (prev && prev.ptr + prev.size === ptr) {
      prev.size += size;
      block = prev;
      lo--;
    } else {
      free.splice(lo, 0, block);
    }
    const next = free[lo + 1];
    if (next && block.ptr + block.size === next.ptr) {
      block.size += next.size;
      free.splice(lo + 1, 1);
    }
    if (block.ptr + block.size === this.#top) {
      this.#top = block.ptr;
      free.splice(lo, 1);
    }
  }

  /** Forgets every block (the memory itself stays, as wasm memory cannot shrink). */
  reset(): void {
    this.#free.length = 0;
    this.#live.clear();
    this.#blocks = 0;
    this.#dead = 0;
    this.#used = 0;
    this.#top = this.#base;
  }

  #take(ptr: number, size: number): number {
    if (this.#live.get(ptr) === 0) this.#dead--;
    this.#live.set(ptr, size);
    this.#blocks++;
    this.#used += size;
    if (this.#used > this.#peak) this.#peak = this.#used;
    return ptr;
  }

  /** A new table of the live blocks alone (see {@link #live}). */
  #sweep(): void {
    const live = new Map<number, number>();
    for (const [ptr, size] of this.#live) if (size > 0) live.set(ptr, size);
    this.#live = live;
    this.#dead = 0;
  }

  #ensure(end: number, asked: number, op: string): void {
    if (end <= this.#known) return;
    const have = this.#memory.buffer.byteLength;
    this.#known = have;
    if (end <= have) return;
    const pages = Math.ceil((end - have) / PAGE);
    const total = have / PAGE + pages;
    if (total > MAX_PAGES) this.#oom(asked, op, 'beyond the 4 GiB a wasm32 memory can address');
    try {
      // Grow by at least a quarter of what is there, so a run of small requests grows rarely.
      const extra = Math.min(MAX_PAGES - have / PAGE, Math.max(pages, Math.ceil(have / PAGE / 4)));
      this.#memory.grow(extra);
    } catch {
      try {
        this.#memory.grow(pages);
      } catch (err) {
        this.#oom(asked, op, `the engine refused to grow wasm memory (${errorText(err)})`);
      }
    }
    this.#known = this.#memory.buffer.byteLength;
    this.grown++;
  }

  #oom(asked: number, op: string, why: string): never {
    const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
    argError(
      'OUT_OF_MEMORY',
      op,
      'x',
      `needs ${mib(asked)} more of wasm memory (${mib(this.#used)} in use): ${why}.`,
    );
  }
}

function align(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}
