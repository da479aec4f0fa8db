/**
 * In headless Chromium: a long search in a worker kit leaves the page responsive, and an abort
 * rejects the call within milliseconds. The corpus size is a parameter (`COSINEKIT_WORKER_ROWS`,
 * default 200,000 rows x 384; the 1,000,000 is run by hand), built from a stream so the page
 * never holds it whole.
 */
import { createCosineKit, isCosineKitError, Tensor } from '@cosinekit/core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createWorkerKit, type WorkerCorpus, type WorkerKit } from '../src/index.js';
import { mat } from './fixtures/data.js';

const N = (inject as unknown as (k: string) => number)('workerRows');
const D = 384;
const CHUNK = 16_384;
/** The page's own rows for chunk `c` (seeded, so they can be made again to check results). */
const chunk = (c: number) => mat(Math.min(CHUNK, N - c * CHUNK), D, 1000 + c);

/** The shortest window the responsiveness test judges, ms. */
const MIN_MS = 400;

/**
 * Counts the page's ticks while `during` runs: rAF frames, and a 4 ms timer loop. `maxStall` is
 * the longest time in which the page ran neither: a blocked main thread runs no frame and no timer,
 * while a loaded machine can hold back one kind of task alone (a CI run showed a 508 ms timer gap
 * while frames came at most 67 ms apart), which is not the page being blocked.
 */

async function ticksDuring<T>(during: () => Promise<T>): Promise<{
  value: T | undefined;
  error: unknown;
  ms: number;
  frames: number;
  timers: number;
  maxTimerGap: number;
  maxFrameGap: number;
  maxStall: number;
}> {
  let running = true;
  let frames = 0;
  let timers = 0;
  let lastTimer = performance.now();
  let lastFrame = lastTimer;
  let maxTimerGap = 0;
  let maxFrameGap = 0;
  let lastTick = lastTimer;
  let maxStall = 0;
  const tick = (now: number) => {
    maxStall = Math.max(maxStall, now - lastTick);
    lastTick = now;
  };
  const frame = (t: number) => {
    if (!running) return;
    frames++;
    maxFrameGap = Math.max(maxFrameGap, t - lastFrame);
    lastFrame = t;
    tick(performance.now());
    requestAnimationFrame(frame);
  };
  const timer = () => {
    if (!running) return;
    const now = performance.now();
    timers++;
    maxTimerGap = Math.max(maxTimerGap, now - lastTimer);
    lastTimer = now;
    tick(now);
    setTimeout(timer, 4);
  };
  requestAnimationFrame(frame);
  setTimeout(timer, 4);
  const t0 = performance.now();
  let value: T | undefined;
  let error: unknown;
  try {
    value = await during();
  } catch (e) {
    error = e;
  }
  const end = performance.now();
  const ms = end - t0;
  running = false;
  // A page blocked to the end never ran its last tick: the gap up to now counts too.
  maxTimerGap = Math.max(maxTimerGap, end - lastTimer);
  maxStall = Math.max(maxStall, end - lastTick);
  return { value, error, ms, frames, timers, maxTimerGap, maxFrameGap, maxStall };
}

describe(`worker kit in the browser, ${N} x ${D}`, () => {
  let kit: WorkerKit;
  let corpus: WorkerCorpus;
  const queries = mat(48, D, 7);

  beforeAll(async () => {
    kit = await createWorkerKit({
      worker: new Worker(new URL('./fixtures/wasm-worker.ts', import.meta.url), { type: 'module' }),
      backend: 'wasm',
    });
    const info = await kit.ready();
    console.log(
      `[worker kit, browser] crossOriginIsolated=${globalThis.crossOriginIsolated} backend=${info.backend} ${JSON.stringify(info.details)}`,
    );
    const t0 = performance.now();
    corpus = await kit.corpusFrom(
      (function* () {
        for (let c = 0; c * CHUNK < N; c++) yield chunk(c);
      })(),
      { transfer: true },
    );
    console.log(
      `[worker kit, browser] built ${corpus.rows} x ${D} from a stream in ${(performance.now() - t0).toFixed(0)} ms`,
    );
    expect(corpus.rows).toBe(N);
  });
  afterAll(() => kit?.dispose());

  it('the tick counter sees a blocked page (the control)', async () => {
    const r = await ticksDuring(async () => {
      await new Promise((res) => setTimeout(res, 50));
      const until = performance.now() + 300;
      while (performance.now() < until) {
        // The main thread computes, as a search in the page would.
      }
      await new Promise((res) => setTimeout(res, 50));
    });
    expect(r.maxTimerGap).toBeGreaterThan(250);
    expect(r.maxStall).toBeGreaterThan(250);
  });

  it('the page keeps ticking during a long search, and the results are right', async () => {
    // Searches back to back for at least MIN_MS, so a fast machine (two threads, a quiet host)
    // still gives a window long enough to judge; the first search's answer is checked below.
    let searches = 0;
    let one = 0;
    const r = await ticksDuring(async () => {
      const s0 = performance.now();
      const first = await corpus.search(queries, 5);
      one = performance.now() - s0;
      const t0 = performance.now();
      for (searches = 1; performance.now() - t0 < MIN_MS; searches++) await corpus.search(queries, 5);
      return first;
    });
    expect(r.error).toBeUndefined();
    console.log(
      `[worker kit, browser] ${searches} searches of ${queries.rows} queries over ${N} x ${D}: ${r.ms.toFixed(0)} ms (the first ${one.toFixed(0)} ms); meanwhile ${r.frames} animation frames (largest gap ${r.maxFrameGap.toFixed(1)} ms) and ${r.timers} 4 ms timer ticks (largest gap ${r.maxTimerGap.toFixed(1)} ms); longest time with neither ${r.maxStall.toFixed(1)} ms`,
    );
    // Loose on purpose (a slow CI machine): the page was never blocked for long, in a search
    // that lasts far longer than these gaps. A search run in the page would block it for a whole
    // search (the control above), so the bound grows with one search's time: a machine loaded by
    // other work slows the search and stretches the page's gaps alike. A blocked page shows a
    // stall of at least one whole search; a CI machine busy with other work showed 0.69 of one.
    // The stall, not each signal's own gap, is judged: on a loaded machine one kind of task can
    // wait (a 367 ms frame gap with timers on time; a 508 ms timer gap with frames on time) while
    // the page still runs the other.
    expect(r.ms).toBeGreaterThan(200);
    expect(r.timers).toBeGreaterThan(r.ms / 100);
    expect(r.maxStall).toBeLessThan(Math.min(Math.max(250, one * 0.8), r.ms / 2));

    // Query 0 against float64 cosines over the corpus made again from the same seeds.
    const res = r.value!;
    const q = queries.row(0);
    let qq = 0;
    for (let j = 0; j < D; j++) qq += q[j] * q[j];
    const best: [number, number][] = [];
    for (let c = 0; c * CHUNK < N; c++) {
      const t = chunk(c);
      for (let i = 0; i < t.rows; i++) {
        const row = t.row(i);
        let ab = 0;
        let bb = 0;
        for (let j = 0; j < D; j++) {
          ab += q[j] * row[j];
          bb += row[j] * row[j];
        }
        best.push([ab / Math.sqrt(qq * bb), c * CHUNK + i]);
      }
      best.sort((a, b) => b[0] - a[0]);
      best.length = Math.min(best.length, 5);
    }
    const hits = res.hits(0);
    for (let t = 0; t < 5; t++) expect(Math.abs(hits.scores[t] - best[t][0])).toBeLessThan(1e-5);
    expect(hits.indices[0]).toBe(best[0][1]);
  });

  it('an abort rejects within milliseconds, and the corpus answers the next search', async () => {
    const small = queries.slice(0, 1);
    const want = (await corpus.search(small, 5)).toArray();
    // Aborted a quarter to a half of the way through a search of many queries, by its own time
    // here (a fixed 150 ms came after the search had finished once an abortable search ran at
    // full speed).
    const many = mat(4 * queries.rows, D, 8);
    // The shorter of two runs: a first one slowed by anything else made the abort come after a
    // search with a signal, which runs as fast as one without, had already finished.
    let whole = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 2; i++) {
      const s0 = performance.now();
      await corpus.search(many, 5);
      whole = Math.min(whole, performance.now() - s0);
    }
    const latencies: number[] = [];
    const freed: number[] = [];
    for (let round = 0; round < 3; round++) {
      // A search that still finished before the abort tested nothing: it runs again, aborted
      // sooner (at most 4 times; the 5th is held to the test as it is).
      let delay = whole * (0.25 + 0.1 * round);
      let search: Promise<unknown>;
      let c: AbortController;
      for (let tries = 0; ; tries++) {
        c = new AbortController();
        let done = false;
        search = corpus.search(many, 5, { signal: c.signal }).then(
          (r) => {
            done = true;
            return r;
          },
          (x: unknown) => x,
        );
        await new Promise((res) => setTimeout(res, delay));
        if (!done || tries === 4) break;
        await search;
        delay /= 2;
      }
      const t0 = performance.now();
      c.abort();
      const e = await search;
      latencies.push(performance.now() - t0);
      expect(isCosineKitError(e, 'ABORTED')).toBe(true);
      const again = (await corpus.search(small, 5)).toArray();
      freed.push(performance.now() - t0);
      expect(again).toEqual(want);
    }
    console.log(
      `[worker abort, browser, crossOriginIsolated=${globalThis.crossOriginIsolated}] rejected ${latencies.map((x) => x.toFixed(2)).join(' / ')} ms after abort(); the worker answered the next search ${freed.map((x) => x.toFixed(0)).join(' / ')} ms after abort()`,
    );
    for (const l of latencies) expect(l).toBeLessThan(500);
    // The worker stops between steps: it is free again well before the search would have ended (a
    // yield that ran ahead of the abort message kept it busy to the end).
    console.log(`[worker abort, browser] one search of ${many.rows} queries: ${whole.toFixed(0)} ms`);
    for (const f of freed) expect(f).toBeLessThan(Math.max(100, 0.6 * whole));
    expect(corpus.rows).toBe(N);
  });

  it('a search in the page itself blocks it, for comparison (small corpus)', async () => {
    // The same kind of work on 1/8 of the rows, in the page: the gap is the whole search.
    const local = createCosineKit({ backend: 'reference' });
    const n = Math.min(N, 25_000);
    const rowsHere = new Tensor(mat(n, D, 99).data, n, D);
    const c = await local.corpus(rowsHere);
    const r = await ticksDuring(() => c.search(queries.slice(0, 8), 5));
    console.log(
      `[in-page kit, browser] search 8 queries over ${n} x ${D}: ${r.ms.toFixed(0)} ms, largest timer gap ${r.maxTimerGap.toFixed(0)} ms, longest time with neither a frame nor a timer ${r.maxStall.toFixed(0)} ms`,
    );
    expect(r.maxStall).toBeGreaterThan(r.ms / 2);
    local.dispose();
  });
});
