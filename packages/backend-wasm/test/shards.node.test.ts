import { existsSync, readFileSync } from 'node:fs';
import { type Corpus, createCosineKit, isCosineKitError, Tensor } from '@cosinekit/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createWasmBackend, type WasmBackend, type WasmBackendOptions } from '../src/index.js';
import { random } from './helpers.js';

const made: WasmBackend[] = [];
afterEach(() => {
  for (const b of made.splice(0)) b.dispose();
});

async function start(options: WasmBackendOptions) {
  const backend = createWasmBackend({ variant: 'simd', threads: 1, ...options });
  made.push(backend);
  const kit = createCosineKit({ backend });
  await kit.ready();
  return { backend, kit };
}

/** Linux: where this process's thread count can be read (CI and this machine are Linux). */
const PROC_STATUS = existsSync('/proc/self/status');
/** This process's OS threads, from /proc (0 where it cannot be read: see {@link PROC_STATUS}). */
const threadsNow = (): number =>
  PROC_STATUS ? Number(/Threads:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) : 0;

/** `n` rows of `d` as a stream of chunks of `size` rows, ids `id<ordinal>`. */
function* chunks(all: Float32Array, n: number, d: number, size: number) {
  for (let i = 0; i < n; i += size) {
    const r = Math.min(size, n - i);
    yield {
      rows: new Tensor(all.slice(i * d, (i + r) * d), r, d),
      ids: Array.from({ length: r }, (_, j) => `id${i + j}`),
    };
  }
}

/** Exact float64 cosines of every query against every live row: [ordinal, score][] per query, best first. */
function exact(q: Float32Array, nq: number, rows: Float32Array, d: number, live: (o: number) => boolean) {
  const n = rows.length / d;
  return Array.from({ length: nq }, (_, i) => {
    const out: [number, number][] = [];
    for (let j = 0; j < n; j++) {
      if (!live(j)) continue;
      let dot = 0;
      let a = 0;
      let b = 0;
      for (let c = 0; c < d; c++) {
        const x = q[i * d + c];
        const y = rows[j * d + c];
        dot += x * y;
        a += x * x;
        b += y * y;
      }
      out.push([j, a === 0 || b === 0 ? 0 : dot / Math.sqrt(a * b)]);
    }
    return out.sort((x, y) => y[1] - x[1] || x[0] - y[0]);
  });
}

/**
 * A result against float64: every score within `tol` of the row's exact cosine, in order, and the
 * rows are the exact top-k up to `tol` (a row left out scores no better than the k-th + tol).
 */
function expectExact(
  r: { indices: Int32Array; scores: Float32Array; k: number },
  want: [number, number][][],
  tol: number,
) {
  want.forEach((w, i) => {
    const score = new Map(w);
    const got = Array.from(r.indices.subarray(i * r.k, (i + 1) * r.k));
    expect(got.length).toBe(Math.min(r.k, w.length));
    for (let t = 0; t < got.length; t++) {
      expect(
        Math.abs(r.scores[i * r.k + t] - score.get(got[t])!),
        `query ${i} rank ${t}`,
      ).toBeLessThanOrEqual(tol);
      if (t > 0) expect(r.scores[i * r.k + t]).toBeLessThanOrEqual(r.scores[i * r.k + t - 1]);
    }
    const kth = w[got.length - 1][1];
    const chosen = new Set(got);
    for (const [o, s] of w) if (!chosen.has(o)) expect(s, `row ${o} left out`).toBeLessThanOrEqual(kth + tol);
  });
}

describe('a corpus over several wasm instances', () => {
  it('searches exactly over forced tiny shards: segments mid-panel, k past a shard, removals and filters across shards', async () => {
    const d = 13;
    const n = 1003;
    const all = random(n, d, 5).data;
    // 8 KiB shards: three 37-row segments (2.3 KiB each, 37 not a multiple of a panel) per shard.
    const { backend, kit } = await start({ shardBytes: 8 * 1024 });
    const { kit: one } = await start({});
    const c = await kit.corpusFrom(chunks(all, n, d, 37), { segmentBytes: 37 * d * 4 });
    const whole = await one.corpus(new Tensor(all, n, d), {
      ids: Array.from({ length: n }, (_, i) => `id${i}`),
    });
    expect(c.rows).toBe(n);
    const shards = backend.shards();
    expect(shards.length).toBeGreaterThan(3);
    for (const s of shards) expect(s.usedBytes).toBeLessThanOrEqual(8 * 1024);
    expect(backend.describe().shards).toBe(shards.length);
    expect(backend.describe().wasmMemoryBytes).toBe(shards.reduce((a, s) => a + s.memoryBytes, 0));

    const q = random(5, d, 6).data;
    const qt = new Tensor(q, 5, d);
    const removed = new Set<number>();
    const check = async (k: number) => {
      const r = await c.search(qt, k);
      expectExact(
        r,
        exact(q, 5, all, d, (o) => !removed.has(o)),
        2e-6,
      );
      // The same rows in one instance: the same result, bit for bit.
      const w = await whole.search(qt, k);
      expect(Array.from(r.indices)).toEqual(Array.from(w.indices));
      expect(Array.from(r.scores)).toEqual(Array.from(w.scores));
      expect(r.ids).toEqual(w.ids);
    };
    for (const k of [1, 10, 37, 200]) await check(k);

    // Removals in every shard (a whole segment, and rows on either side of each boundary).
    const gone: string[] = [];
    for (let o = 0; o < n; o++)
      if (o % 37 === 0 || o % 37 === 36 || (o >= 370 && o < 407)) gone.push(`id${o}`);
    for (const g of gone) removed.add(Number(g.slice(2)));
    expect(await c.remove(gone)).toBe(gone.length);
    expect(await whole.remove(gone)).toBe(gone.length);
    for (const k of [1, 64]) await check(k);

    // Filters across shards: an allow list spanning them, and a predicate.
    const allow = Array.from({ length: 60 }, (_, i) => `id${(i * 97) % n}`);
    const fa = await c.search(qt, 25, { filter: { allow } });
    const allowed = new Set(allow.map((a) => Number(a.slice(2))));
    expectExact(
      fa,
      exact(q, 5, all, d, (o) => allowed.has(o) && !removed.has(o)),
      2e-6,
    );
    const odd = (id: string | number) => Number(String(id).slice(2)) % 2 === 1;
    const fp = await c.search(qt, 40, { filter: odd });
    expectExact(
      fp,
      exact(q, 5, all, d, (o) => o % 2 === 1 && !removed.has(o)),
      2e-6,
    );

    // Adds merge small segments across instances (export from one, import into another).
    const more = random(50, d, 7).data;
    for (let a = 0; a < 10; a++) {
      await c.add(
        new Tensor(more.slice(a * 5 * d, (a + 1) * 5 * d), 5, d),
        [0, 1, 2, 3, 4].map((j) => `m${a * 5 + j}`),
      );
      await whole.add(
        new Tensor(more.slice(a * 5 * d, (a + 1) * 5 * d), 5, d),
        [0, 1, 2, 3, 4].map((j) => `m${a * 5 + j}`),
      );
    }
    const r = await c.search(qt, 30);
    const w = await whole.search(qt, 30);
    expect(r.ids).toEqual(w.ids);
    expect(Array.from(r.scores)).toEqual(Array.from(w.scores));

    // Saved and loaded into one instance: the same corpus.
    const back = await one.loadCorpus(await c.save());
    expect((await back.search(qt, 30)).ids).toEqual(r.ids);
    back.dispose();

    // Disposed: every instance but the first is dropped, and nothing stays resident.
    c.dispose();
    expect(backend.shards().length).toBe(1);
    expect(backend.memory()).toEqual({ residentHandles: 0, bytes: 0 });
    whole.dispose();
  });

  it('keeps int8 corpora bit for bit over shards, and drops an instance once its last corpus goes', async () => {
    const d = 40;
    const n = 700;
    const all = random(n, d, 8).data;
    const { backend, kit } = await start({ shardBytes: 8 * 1024 });
    const { kit: one } = await start({});
    const c = await kit.corpusFrom(chunks(all, n, d, 45), { storage: 'int8', segmentBytes: 90 * d * 4 });
    const whole = await one.corpus(new Tensor(all, n, d), {
      storage: 'int8',
      ids: Array.from({ length: n }, (_, i) => `id${i}`),
    });
    expect(c.storage).toBe('int8');
    expect(backend.shards().length).toBeGreaterThan(3);
    const q = new Tensor(random(3, d, 9).data, 3, d);
    for (const k of [1, 7, 120]) {
      const a = await c.search(q, k);
      const b = await whole.search(q, k);
      expect(a.ids).toEqual(b.ids);
      expect(Array.from(a.scores)).toEqual(Array.from(b.scores));
    }
    // Removing every row of the last segment compacts it away; its instance goes with it.
    const before = backend.shards().length;
    await c.remove(Array.from({ length: n - 630 }, (_, i) => `id${630 + i}`));
    expect(backend.shards().length).toBe(before - 1);
    expect(backend.memory().residentHandles).toBe(
      backend.shards().reduce((x, s) => x + s.residentHandles, 0),
    );
    c.dispose();
    whole.dispose();
    expect(backend.shards()).toHaveLength(1);
    expect(backend.memory().residentHandles).toBe(0);
  });

  it('gives the same results with helper threads in every instance', async () => {
    const d = 24;
    const n = 600;
    const all = random(n, d, 10).data;
    const { backend, kit } = await start({ shardBytes: 16 * 1024, threads: 2 });
    const { kit: one } = await start({});
    const c: Corpus = await kit.corpusFrom(chunks(all, n, d, 100), { segmentBytes: 100 * d * 4 });
    expect(backend.shards().length).toBeGreaterThan(2);
    const q = new Tensor(random(9, d, 11).data, 9, d);
    const whole = await one.corpus(new Tensor(all, n, d), {
      ids: Array.from({ length: n }, (_, i) => `id${i}`),
    });
    // Each new instance starts its helpers in the background: wait for them (bounded), then search.
    for (let t = 0; t < 200 && backend.shards().some((s) => s.threads < 2); t++)
      await new Promise((r) => setTimeout(r, 25));
    expect(backend.shards().map((s) => s.threads)).toEqual(backend.shards().map(() => 2));
    const a = await c.search(q, 50);
    const b = await whole.search(q, 50);
    expect(a.ids).toEqual(b.ids);
    expect(Array.from(a.scores)).toEqual(Array.from(b.scores));
    c.dispose();
    whole.dispose();
    expect(backend.shards()).toHaveLength(1);
  });

  it('instances made and dropped in a loop of awaits start no helpers (each started one that could not stop)', async () => {
    if (!PROC_STATUS) {
      console.log('[wasm] shard helper count not checked: no /proc/self/status here');
      return;
    }
    const { backend, kit } = await start({ shardBytes: 1 << 16, threads: 2 });
    const x = new Tensor(random(1000, 32, 14).data, 1000, 32);
    const before = threadsNow();
    for (let i = 0; i < 60; i++) {
      const a = await kit.corpus(x);
      const c = await kit.corpus(x); // no room below the shard limit: a new instance
      await a.search(x.row(0), 1);
      a.dispose();
      c.dispose();
    }
    expect(backend.shards()).toHaveLength(1);
    // Before: about one more thread a cycle (60 here), each ~8 MB, until the loop let go.
    expect(threadsNow() - before).toBeLessThan(5);
    // An instance still in use gets its helpers once the event loop turns.
    const kept = await kit.corpus(x);
    const more = await kit.corpus(x);
    for (let t = 0; t < 200 && backend.shards().some((s) => s.threads < 2); t++)
      await new Promise((r) => setTimeout(r, 25));
    expect(backend.shards().map((s) => s.threads)).toEqual([2, 2]);
    kept.dispose();
    more.dispose();
  });

  it('a backend disposed while its helpers start stops starting them, and init() is DISPOSED (it went on starting all of them, then resolved)', async () => {
    const before = threadsNow();
    const backend = createWasmBackend({ threads: 48 });
    const started = backend.init().then(
      () => undefined,
      (e: unknown) => e,
    );
    // Once the first helper is up (the module compiled), dispose.
    for (let t = 0; t < 400 && threadsNow() - before < 2; t++) await new Promise((r) => setTimeout(r, 10));
    backend.dispose();
    expect(await started).toMatchObject({ code: 'DISPOSED', op: 'init', arg: 'backend' });
    // The helpers that had started end (before: all 47 started, the last seconds later).
    for (let t = 0; t < 200 && threadsNow() - before > 4; t++) await new Promise((r) => setTimeout(r, 25));
    if (PROC_STATUS) expect(threadsNow() - before).toBeLessThanOrEqual(4);
    else console.log('[wasm] helper count after dispose not checked: no /proc/self/status here');
  });

  it('a backend of one helper disposed while it starts leaves no helper running (the pool that came up was kept)', async () => {
    if (!PROC_STATUS) {
      console.log('[wasm] helpers left by a disposed init not counted: no /proc/self/status here');
      return;
    }
    const before = threadsNow();
    // Disposed 0-38 ms into init(): before, during and after its one helper starts.
    for (let ms = 0; ms < 40; ms += 2) {
      const backend = createWasmBackend({ threads: 2 });
      const started = backend.init().then(
        () => undefined,
        (e: unknown) => e,
      );
      await new Promise((r) => setTimeout(r, ms));
      backend.dispose();
      const e = await started;
      if (e !== undefined)
        expect(e, `${ms} ms`).toMatchObject({ code: 'DISPOSED', op: 'init', arg: 'backend' });
    }
    for (let t = 0; t < 200 && threadsNow() - before > 2; t++) await new Promise((r) => setTimeout(r, 25));
    expect(threadsNow() - before).toBeLessThanOrEqual(2);
  });

  it('refuses a bad shard limit, and corpora of another backend, with typed errors', async () => {
    for (const shardBytes of [0, -1, Number.NaN, '1' as never]) {
      let err: unknown;
      try {
        createWasmBackend({ shardBytes });
      } catch (e) {
        err = e;
      }
      expect(isCosineKitError(err, 'INVALID_ARGUMENT'), String(shardBytes)).toBe(true);
      expect(err).toMatchObject({ op: 'createWasmBackend', arg: 'shardBytes' });
    }
    const { backend } = await start({ shardBytes: 4096 });
    const { backend: other } = await start({ shardBytes: 4096 });
    const x = random(40, 16, 12);
    const mine = backend.kernels.createCorpus(x);
    const theirs = other.kernels.createCorpus(x);
    const also = other.kernels.createCorpus(x);
    expect(other.shards().length).toBe(2);
    let err: unknown;
    try {
      backend.kernels.corpusSearch(also, random(1, 16, 13), 3);
    } catch (e) {
      err = e;
    }
    expect(isCosineKitError(err, 'INVALID_ARGUMENT'), String(err)).toBe(true);
    also.dispose();
    try {
      other.kernels.corpusSearch(also, random(1, 16, 13), 3);
      err = undefined;
    } catch (e) {
      err = e;
    }
    expect(isCosineKitError(err, 'DISPOSED'), String(err)).toBe(true);
    mine.dispose();
    theirs.dispose();
  });
});
