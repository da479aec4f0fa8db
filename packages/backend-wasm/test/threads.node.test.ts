import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { CosineKitError } from '@cosinekit/core/backend';
import { describe, expect, it } from 'vitest';
import { startThreaded } from '../src/backend.js';
import {
  COPY_AHEAD,
  COPY_AHEAD_LENGTH,
  COPY_DEST,
  COPY_DST,
  COPY_DST_STRIDE,
  COPY_LINES,
  COPY_SRC,
  COPY_SRC_STRIDE,
  DONE,
  FAILED,
  HELPER_GONE,
  JOB_ARGC,
  JOB_ARGS,
  JOB_CHUNK,
  JOB_COUNT_ARG,
  JOB_KIND,
  JOB_ROWS,
  JOB_STEPS,
  JOB_THREW,
  KIND_STOP,
  SEQ,
  WORK_FINISHED,
  WORK_NEXT,
} from '../src/control.js';
import { cosineMatrix } from '../src/kernels/cosine-matrix.js';
import { scheduleOf, share } from '../src/share.js';
import { chunkCount, chunkStart, threadLimit } from '../src/threads.js';
import { DEFAULT_TUNING } from '../src/tuning.js';
import { backend, expectClose, random, ref } from './helpers.js';

const LAYOUT = {
  SEQ,
  DONE,
  FAILED,
  JOB_KIND,
  JOB_ARGC,
  JOB_COUNT_ARG,
  JOB_ARGS,
  JOB_STEPS,
  JOB_ROWS,
  JOB_CHUNK,
  COPY_LINES,
  COPY_SRC,
  COPY_SRC_STRIDE,
  COPY_DST,
  COPY_DST_STRIDE,
  COPY_DEST,
  COPY_AHEAD,
  COPY_AHEAD_LENGTH,
  WORK_NEXT,
  WORK_FINISHED,
  KIND_STOP,
  JOB_THREW,
  HELPER_GONE,
};

describe('helper thread script', () => {
  it('repeats the control block layout of control.ts exactly', () => {
    const src = readFileSync(new URL('../src/worker.ts', import.meta.url), 'utf8');
    for (const [name, value] of Object.entries(LAYOUT)) {
      const m = new RegExp(`const ${name} = (\\d+);`).exec(src);
      expect(m, name).not.toBeNull();
      expect(Number(m![1]), name).toBe(value);
    }
  });

  it('compiles to a file without runtime imports', () => {
    const js = readFileSync(new URL('../dist/worker.js', import.meta.url), 'utf8');
    expect(js).not.toMatch(/^import /m);
  });
});

describe('helper threads in Node', () => {
  it('start in init(), stop in dispose(), and do not keep the process alive', async () => {
    const rt = await startThreaded('simd', DEFAULT_TUNING.simd, 2, undefined);
    const pool = rt.pool!;
    expect(pool.size).toBe(1);
    rt.dispose();
    await pool.exited;
    expect(pool.size).toBe(0);
  });

  it('turn a failing share, a helper that stops mid-call or one that died into CosineKitError', async () => {
    const rt = await startThreaded('simd', DEFAULT_TUNING.simd, 3, undefined);
    const pool = rt.pool!;
    try {
      // A share that traps (out-of-bounds addresses) fails that call only.
      pool.post(0, 'dotsWith', [0, 0x7fff0000, 4, 0x7fff0000, 4, 2, 0x7fff0000, 16, false, 1]);
      expect(() => pool.wait(0, 'test')).toThrow(
        expect.objectContaining({ code: 'UNSUPPORTED', op: 'test' }),
      );
      // A helper that leaves its loop while the caller waits releases the caller at once.
      pool.stopOne(1);
      const t0 = Date.now();
      expect(() => pool.wait(1)).toThrow(CosineKitError);
      expect(Date.now() - t0).toBeLessThan(60_000);
      expect(pool.size).toBe(1);
      // One that is gone (terminated between calls) is left out; results stay correct.
      await pool.crash(0);
      expect(pool.size).toBe(0);
      const q = random(8, 64, 1);
      const x = random(6001, 64, 2);
      expectClose(cosineMatrix(rt, q, x), ref.cosineMatrix(q, x), 1e-6);
    } finally {
      rt.dispose();
    }
  });

  it('more threads than four per core (16 at least) run that many, said in describe() (threads: 300 took 13.7 s and 2.6 GB to start on 2 cores; 1e9 held init until the kit gave up)', async () => {
    const limit = await threadLimit();
    expect(limit).toBe(Math.max(16, 4 * availableParallelism()));
    // Starting `limit` helpers is cheap only where the limit is the floor (a large machine would
    // start hundreds): there a billion threads asked run the limit; elsewhere the limit alone is checked.
    if (limit > 16) {
      console.log(
        `[wasm] a capped start not run: ${limit} helpers on this machine's ${availableParallelism()} cores`,
      );
      return;
    }
    for (const asked of [limit + 1, 1e9]) {
      const t0 = Date.now();
      const b = await backend({ variant: 'simd', threads: asked });
      try {
        expect(Date.now() - t0).toBeLessThan(60_000);
        const info = b.describe();
        expect(info).toMatchObject({ threads: limit, threadsRequested: asked });
        expect(info.threadsNote).toMatch(new RegExp(`${asked} threads asked, ${limit} at most here`));
        const q = random(3, 40, 1);
        const x = random(5000, 40, 2);
        expectClose(b.kernels.cosineMatrix(q, x) as Float32Array, ref.cosineMatrix(q, x), 1e-6);
      } finally {
        b.dispose();
      }
    }
    // The limit itself, and fewer, run as asked.
    const b = await backend({ variant: 'simd', threads: 3 });
    expect(b.describe().threads).toBe(3);
    expect(b.describe().threadsNote).toBeUndefined();
    b.dispose();
  }, 120_000);

  it('a disposed backend refuses calls rather than wait on stopped helpers', async () => {
    const b = await backend({ variant: 'simd', threads: 2 });
    expect(b.describe().threads).toBe(2);
    b.dispose();
    // After dispose, kernels refuse with DISPOSED rather than wait on a stopped helper.
    expect(() => b.kernels.cosineMatrix(random(2, 4, 1), random(2, 4, 2))).toThrow(
      expect.objectContaining({ code: 'DISPOSED' }),
    );
  });
});

describe('work shared by chunks', () => {
  it('cuts the rows into whole units, each row in one chunk, chunks of one length', () => {
    // [rows, unit, flops, threshold, threads]: sizes that divide by nothing, a last unit cut short,
    // calls where the least work per chunk decides, and more threads than this machine has.
    const cases: [number, number, number, number, number][] = [
      [20000, 2, 1000 * 20000 * 768, 2 ** 21, 2],
      [20011, 2, 450 * 20011 * 18, 2 ** 21, 2],
      [37001, 3, 777 * 37001 * 400, 2 ** 21, 2],
      [3001, 4, 3001 * 1000 * 2, 2 ** 22, 2],
      [5003, 2, 37 * 5003 * 400, 0, 3],
      [10, 2, 1e9, 0, 2],
      [4096, 2, 1e9, 0, 16],
      [999, 4, 2 ** 21, 2 ** 21, 2],
    ];
    for (const [n, unit, work, minWork, threads] of cases) {
      const s = scheduleOf(n, unit, work, minWork, threads);
      const count = chunkCount(s, n);
      let at = 0;
      const sizes: number[] = [];
      for (let k = 0; k < count; k++) {
        expect(chunkStart(s, k), `${n}/${unit} chunk ${k}`).toBe(at);
        const end = Math.min(chunkStart(s, k + 1), n);
        expect(end > at && (end === n || end % unit === 0), `${n}/${unit} chunk ${k}`).toBe(true);
        sizes.push(end - at);
        at = end;
      }
      expect(at).toBe(n);
      expect(chunkStart(s, count)).toBeGreaterThanOrEqual(n);
      // Every chunk but the last is one length; at most 8 per thread unless the least work says more.
      for (let k = 0; k < count - 1; k++) expect(sizes[k]).toBe(s.chunk);
      expect(sizes[count - 1]).toBeLessThanOrEqual(s.chunk);
      // Each chunk but the last holds its share of at least the least work (1 MFLOP, or half
      // of the threshold).
      const least = Math.min(2 ** 20, minWork / 2);
      for (let k = 0; k < count - 1; k++) expect((sizes[k] / n) * work + 1e-6).toBeGreaterThanOrEqual(least);
    }
    // A large call: 8 chunks per thread (10,000 panels of 2 rows over 2 threads: 625 panels each).
    const big = scheduleOf(20000, 2, 1000 * 20000 * 768, 2 ** 21, 2);
    expect(big.chunk).toBe(1250);
    expect(chunkCount(big, 20000)).toBe(16);
  });

  it('a chunk that traps fails the call, and the next shared call is right', async () => {
    const rt = await startThreaded('simd', DEFAULT_TUNING.simd, 3, undefined);
    try {
      // Every chunk's addresses are out of bounds: whichever thread takes one traps.
      const bad = 0x7fff0000;
      expect(() =>
        share(rt, 'dotsWith', 4096, 2, 1e9, 0, (j0, w) => [
          0,
          bad,
          4,
          bad + j0 * 16,
          w,
          1,
          bad,
          16,
          false,
          1,
          1,
          0,
          false,
        ]),
      ).toThrow();
      expect(rt.pool!.size).toBe(2);
      // The pool is left settled: a shared call now spreads over every thread and is correct.
      const q = random(9, 100, 1);
      const x = random(20011, 100, 2);
      expectClose(cosineMatrix(rt, q, x), ref.cosineMatrix(q, x), 1e-6);
    } finally {
      rt.dispose();
    }
  });

  it('a copying job that traps fails the call, and the next copying call is right', async () => {
    const rt = await startThreaded('simd', DEFAULT_TUNING.simd, 3, undefined);
    try {
      expect(rt.pool!.copies).toBe(true);
      const bad = 0x7fff0000;
      const dest = new Float32Array(new SharedArrayBuffer(4096 * 4));
      const copy = { dest, lines: 1, src: 0, srcStride: 4096, dst: 0, dstStride: 4096 };
      expect(() =>
        share(
          rt,
          'dotsWith',
          4096,
          2,
          1e9,
          0,
          (j0, w) => [0, bad, 4, bad + j0 * 16, w, 1, bad, 16, false, 1, 1, 0, false],
          copy,
        ),
      ).toThrow();
      expect(rt.pool!.size).toBe(2);
      // Each helper reads the destination of its own job, whatever was left on its port before.
      const q = random(9, 100, 1);
      const x = random(20011, 100, 2);
      // A shared array given as the result is written by every thread, whatever its size.
      const out = new Float32Array(new SharedArrayBuffer(9 * 20011 * 4)) as unknown as Float32Array;
      expect(cosineMatrix(rt, q, x, out)).toBe(out);
      expectClose(out, ref.cosineMatrix(q, x), 1e-6);
    } finally {
      rt.dispose();
    }
  });
});

describe('results written by every thread (Node)', () => {
  it('a shared product lands in a SharedArrayBuffer that each thread fills; the rest stay ordinary', async () => {
    const one = await backend({ variant: 'simd', threads: 1 });
    const two = await backend({ variant: 'simd', threads: 2 });
    try {
      // 1201 x 7001 floats: 33.6 MB, over the 32 MiB from which results are shared.
      const q = random(1201, 24, 1);
      const x = random(7001, 24, 2);
      const got = two.kernels.cosineMatrix(q, x);
      expect(got.buffer).toBeInstanceOf(SharedArrayBuffer);
      expect(got.byteLength).toBe(got.buffer.byteLength);
      expectClose(got, ref.cosineMatrix(q, x), 1e-6);
      // int8 scans are shared row by row once a row of queries is over threadMinFlopsI8.
      const q8 = random(301, 96, 3);
      const x8 = random(30011, 96, 5);
      const c8 = two.kernels.createCorpus(x8, { storage: 'int8', rerank: 0 });
      const got8 = two.kernels.corpusMatrix(c8, q8);
      expect(got8.buffer).toBeInstanceOf(SharedArrayBuffer);
      expectClose(got8, ref.cosineMatrix(q8, x8), 2e-2);
      c8.dispose();
      // One thread, a result under 32 MiB (its memory is usually recycled, no faults to share),
      // or a call below the threading threshold: an ordinary array, as before.
      expect(one.kernels.cosineMatrix(q, x).buffer).toBeInstanceOf(ArrayBuffer);
      expect(two.kernels.cosineMatrix(random(300, 24, 5), x).buffer).toBeInstanceOf(ArrayBuffer);
      expect(two.kernels.cosineMatrix(random(2, 8, 3), random(3, 8, 4)).buffer).toBeInstanceOf(ArrayBuffer);
      expect(two.memory()).toEqual({ residentHandles: 0, bytes: 0 });
    } finally {
      one.dispose();
      two.dispose();
    }
  });

  it('tuning.sharedResultBytes moves the threshold, and Infinity keeps every result ordinary', async () => {
    const low = await backend({ variant: 'simd', threads: 2, tuning: { sharedResultBytes: 1 << 20 } });
    const off = await backend({ variant: 'simd', threads: 2, tuning: { sharedResultBytes: Infinity } });
    try {
      // 130 x 3001 floats: 1.6 MB, under the default 32 MiB, over the 1 MiB asked for here, and
      // above the threading threshold (2 x 130 x 3001 x 24 flops), so the call is shared.
      const q = random(130, 24, 7);
      const x = random(3001, 24, 8);
      const want = ref.cosineMatrix(q, x);
      const shared = low.kernels.cosineMatrix(q, x);
      expect(shared.buffer).toBeInstanceOf(SharedArrayBuffer);
      expectClose(shared, want, 1e-6);
      // The same call with sharing off: an ordinary array, the same bits.
      const plain = off.kernels.cosineMatrix(q, x);
      expect(plain.buffer).toBeInstanceOf(ArrayBuffer);
      expect(plain.length).toBe(shared.length);
      // Bit for bit (a plain loop: deep equality over 390,000 elements is slow).
      let differ = -1;
      for (let i = 0; i < plain.length && differ < 0; i++) if (!Object.is(plain[i], shared[i])) differ = i;
      expect(differ).toBe(-1);
    } finally {
      low.dispose();
      off.dispose();
    }
    await expect(backend({ variant: 'simd', tuning: { sharedResultBytes: -1 } })).rejects.toThrow(
      /tuning\.sharedResultBytes/,
    );
  });

  it('helpers let go of each result: memory stays bounded over many calls', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const b = await backend({ variant: 'simd', threads: 2 });
    try {
      const q = random(1000, 16, 1);
      const c = b.kernels.createCorpus(random(9000, 16, 2));
      gc();
      const base = process.memoryUsage().arrayBuffers;
      let most = 0;
      // 24 results of 36 MB: 860 MB if helpers (or their ports) kept them. A helper's isolate
      // frees the ones it saw at its own next collection, so a few may linger.
      for (let i = 0; i < 24; i++) {
        const r = b.kernels.corpusMatrix(c, q);
        expect(r.buffer).toBeInstanceOf(SharedArrayBuffer);
        gc();
        most = Math.max(most, process.memoryUsage().arrayBuffers - base);
      }
      expect(most).toBeLessThan(600 * 2 ** 20);
      c.dispose();
    } finally {
      b.dispose();
    }
    // 6 s on an idle 2-core machine; 47 s (40 calls) while CI ran every other suite beside it.
  }, 180_000);
});
