import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type CorpusOptions,
  createReferenceBackend,
  disposedBackend,
  type Matrix,
  type ResidentCorpus,
  referenceKernels,
} from '../src/backend.js';
import { crc32 } from '../src/crc32.js';
import { loadCorpusFile, saveCorpusFile } from '../src/fs.js';
import { type Corpus, type CorpusStorage, createCosineKit, Tensor } from '../src/index.js';
import { ReferenceCorpus } from '../src/kernels/corpus.js';
import { loadCorpusOpfs, saveCorpusOpfs } from '../src/opfs.js';
import { rows } from './fixtures/data.js';

const kit = createCosineKit({ backend: createReferenceBackend() });
const dir = mkdtempSync(join(tmpdir(), 'cosinekit-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const at = (name: string) => join(dir, name);
/**
 * The temporary files saves made in `path`'s directory still there (`.ckc-<unique>.tmp`, or the
 * older `<path>.<unique>.tmp` and `<path>.tmp`).
 */
const temps = (path: string): string[] =>
  existsSync(dirname(path))
    ? readdirSync(dirname(path)).filter(
        (f) => f.endsWith('.tmp') && (f.startsWith('.ckc-') || f.startsWith(`${basename(path)}.`)),
      )
    : [];

/** A corpus of `n` x `d` rows with string ids, built from a stream in several segments, some rows removed. */
async function build(storage: CorpusStorage, rerank: number, n = 203, d = 13): Promise<Corpus> {
  const t = rows(n, d, 7);
  const chunks = Array.from({ length: Math.ceil(n / 40) }, (_, i) => ({
    rows: new Tensor(
      t.data.slice(i * 40 * d, Math.min(n, (i + 1) * 40) * d),
      Math.min(n, (i + 1) * 40) - i * 40,
      d,
    ),
    ids: Array.from({ length: Math.min(n, (i + 1) * 40) - i * 40 }, (_, j) => `doc-${i * 40 + j}`),
  }));
  const c = await kit.corpusFrom(chunks, { storage, rerank, segmentBytes: 40 * d * 4 });
  await c.remove(['doc-0', 'doc-41', 'doc-42', 'doc-100', `doc-${n - 1}`]);
  return c;
}

async function expectSame(a: Corpus, b: Corpus): Promise<void> {
  const q = rows(5, a.cols, 99);
  const [ra, rb] = [await a.search(q, 10), await b.search(q, 10)];
  expect(Array.from(rb.indices)).toEqual(Array.from(ra.indices));
  expect(Array.from(rb.scores)).toEqual(Array.from(ra.scores));
  expect(rb.ids).toEqual(ra.ids);
  expect(b.rows).toBe(a.rows);
}

/** A backend of the reference kernels, refusing every call once disposed, as an engine's would. */
function disposableReference(name: string): {
  name: string;
  kernels: typeof referenceKernels;
  dispose(): void;
} {
  let gone = false;
  const kernels = Object.fromEntries(
    Object.entries(referenceKernels).map(([kernel, f]) => [
      kernel,
      typeof f !== 'function'
        ? f
        : (...args: unknown[]) =>
            gone ? disposedBackend(kernel) : (f as (...a: unknown[]) => unknown)(...args),
    ]),
  );
  return { name, kernels: kernels as typeof referenceKernels, dispose: () => void (gone = true) };
}

describe('kit.dispose() under a load waiting on onProgress', () => {
  it('ends the load with DISPOSED naming the kit and closes the file (a promise that never settled held both for good)', async () => {
    const c = await build('float32', 0, 60, 5);
    const path = at('stalled-progress.ckc');
    await saveCorpusFile(c, path);
    c.dispose();
    const fds = () => (existsSync('/proc/self/fd') ? readdirSync('/proc/self/fd').length : 0);
    const before = fds();
    const mine = createCosineKit({ backend: createReferenceBackend() });
    const loads = Array.from({ length: 5 }, () =>
      loadCorpusFile(mine, path, {
        segmentBytes: 100,
        onProgress: () => new Promise<void>(() => undefined),
      }).catch((e: unknown) => e),
    );
    await new Promise((r) => setTimeout(r, 50));
    mine.dispose();
    for (const e of await Promise.all(loads))
      expect(e).toMatchObject({ code: 'DISPOSED', op: 'loadCorpusFile', arg: 'kit' });
    await new Promise((r) => setTimeout(r, 20));
    expect(fds()).toBe(before);
  });
});

describe('a backend disposed under a load (found by a probe)', () => {
  it('is said as such: DISPOSED naming the kit, whose own dispose() is not blamed', async () => {
    const c = await build('float32', 0, 60, 5);
    const path = at('backend-gone.ckc');
    await saveCorpusFile(c, path);
    c.dispose();
    for (const who of ['backend', 'kit'] as const) {
      const backend = disposableReference('disposable');
      const mine = createCosineKit({ backend });
      let n = 0;
      const e = await loadCorpusFile(mine, path, {
        segmentBytes: 100,
        onProgress: async () => {
          if (n++ === 1) await (who === 'kit' ? mine.dispose() : backend.dispose());
        },
      }).catch((x: unknown) => x);
      expect(e, who).toMatchObject({ code: 'DISPOSED', op: 'loadCorpusFile', arg: 'kit' });
      const message = (e as Error).message;
      if (who === 'kit') expect(message).toMatch(/\(kit\.dispose\(\)\)/);
      else {
        expect(message).toMatch(/backend\.dispose\(\)/);
        expect(message).not.toMatch(/kit\.dispose/);
      }
      mine.dispose();
    }
  });
});

describe('saveCorpusFile / loadCorpusFile', () => {
  const cases: [CorpusStorage, number][] = [
    ['float32', 0],
    ['float16', 0],
    ['float16', 2],
    ['int8', 0],
    ['int8', 3],
  ];
  for (const [storage, rerank] of cases) {
    it(`${storage} rerank ${rerank}: the file is corpus.save()'s bytes, and loads bit for bit in small segments`, async () => {
      const c = await build(storage, rerank);
      const path = at(`${storage}-${rerank}.ckc`);
      const progress: number[][] = [];
      const n = await saveCorpusFile(c, path, { onProgress: (done, total) => progress.push([done, total]) });
      const file = readFileSync(path);
      const bytes = await c.save();
      expect(n).toBe(bytes.length);
      expect(new Uint8Array(file)).toEqual(bytes);
      expect(temps(path)).toEqual([]);
      expect(progress.at(-1)).toEqual([n, n]);
      const loaded: number[] = [];
      const back = await loadCorpusFile(kit, path, {
        segmentBytes: 1000,
        onProgress: (done, total) => {
          expect(total).toBe(c.rows);
          loaded.push(done);
        },
      });
      expect(loaded.length).toBeGreaterThan(3);
      expect(loaded.at(-1)).toBe(c.rows);
      expect(back.storage).toBe(storage);
      expect(await back.save()).toEqual(bytes);
      await expectSame(c, back);
      // Ordinals and the next ordinal survive: a new row after loading gets the same ordinal.
      await c.add(rows(1, c.cols, 5), ['new']);
      await back.add(rows(1, c.cols, 5), ['new']);
      expect(await back.save()).toEqual(await c.save());
      c.dispose();
      back.dispose();
    });
  }

  it('a corpus without ids, made in one piece, round-trips; a second save replaces the file', async () => {
    const c = await kit.corpus(rows(50, 7, 3));
    const path = at('plain.ckc');
    writeFileSync(path, 'old content');
    await saveCorpusFile(c, path);
    const back = await loadCorpusFile(kit, path);
    expect(await back.save()).toEqual(await c.save());
    await expectSame(c, back);
    c.dispose();
    back.dispose();
  });

  it('refuses bad arguments with typed errors naming the argument and the operation', async () => {
    const c = await kit.corpus(rows(4, 3, 1));
    await expect(saveCorpusFile({} as Corpus, at('x'))).rejects.toMatchObject({
      code: 'INVALID_TYPE',
      op: 'saveCorpusFile',
      arg: 'corpus',
    });
    await expect(saveCorpusFile(c, 42 as unknown as string)).rejects.toMatchObject({
      code: 'INVALID_TYPE',
      arg: 'path',
    });
    await expect(saveCorpusFile(c, at('x'), { onProgress: 1 as never })).rejects.toMatchObject({
      arg: 'options.onProgress',
    });
    await expect(loadCorpusFile({} as never, at('x'))).rejects.toMatchObject({
      code: 'INVALID_TYPE',
      op: 'loadCorpusFile',
      arg: 'kit',
    });
    await expect(loadCorpusFile(kit, at('x'), { segmentBytes: 0 })).rejects.toMatchObject({
      arg: 'options.segmentBytes',
    });
    const gone = await kit.corpus(rows(4, 3, 1));
    gone.dispose();
    await expect(saveCorpusFile(gone, at('x'))).rejects.toMatchObject({ code: 'DISPOSED', arg: 'corpus' });
    c.dispose();
  });

  it('a path that cannot be written: missing directory, a directory, a place the system refuses', async () => {
    const c = await kit.corpus(rows(4, 3, 1));
    const missing = at('no-such-dir/c.ckc');
    const e1 = await saveCorpusFile(c, missing).catch((e) => e);
    expect(e1).toMatchObject({ code: 'INVALID_ARGUMENT', op: 'saveCorpusFile', arg: 'path' });
    expect(e1.message).toMatch(/ENOENT/);
    expect(temps(missing)).toEqual([]);
    const e2 = await saveCorpusFile(c, dir).catch((e) => e);
    expect(e2).toMatchObject({ code: 'INVALID_ARGUMENT', arg: 'path' });
    expect(e2.message).toMatch(/is a directory/);
    // /proc refuses new files even to root (chmod does not stop root).
    const e3 = await saveCorpusFile(c, '/proc/cosinekit-test.ckc').catch((e) => e);
    expect(e3).toMatchObject({ code: 'INVALID_ARGUMENT', arg: 'path' });
    expect(e3.message).toMatch(/E[A-Z]+/);
    expect(e3.cause).toBeInstanceOf(Error);
    c.dispose();
  });

  it('an abort mid-save leaves the old file as it was and no temporary file', async () => {
    const c = await kit.corpus(rows(3000, 64, 1));
    const path = at('abort.ckc');
    writeFileSync(path, 'previous');
    const ac = new AbortController();
    const e = await saveCorpusFile(c, path, {
      signal: ac.signal,
      onProgress: (done) => {
        if (done > 0) ac.abort();
      },
    }).catch((x) => x);
    expect(e).toMatchObject({ code: 'ABORTED', op: 'saveCorpusFile' });
    expect(readFileSync(path, 'utf8')).toBe('previous');
    expect(temps(path)).toEqual([]);
    // The corpus is intact.
    expect(c.rows).toBe(3000);
    await expect(c.search(rows(1, 64, 2), 3)).resolves.toBeDefined();
    c.dispose();
  });

  describe('bad files: typed CORRUPT_DATA naming path and loadCorpusFile, nothing left resident', async () => {
    const c = await build('int8', 2, 120, 9);
    const good = await c.save();
    c.dispose();
    const write = (name: string, bytes: Uint8Array) => {
      writeFileSync(at(name), bytes);
      return at(name);
    };
    const withCrc = (b: Uint8Array) => {
      new DataView(b.buffer).setUint32(b.length - 4, crc32(b.subarray(0, b.length - 4)), true);
      return b;
    };
    const before = ReferenceCorpus.live;
    const bad: [string, Uint8Array, RegExp][] = [
      ['truncated', good.slice(0, good.length - 100), /bytes; its header describes/],
      ['empty', new Uint8Array(0), /truncated/],
      [
        'bit flip',
        (() => {
          const b = good.slice();
          b[b.length - 200] ^= 4;
          return b;
        })(),
        /fails its checksum/,
      ],
      [
        'version 3',
        (() => {
          const b = good.slice();
          new DataView(b.buffer).setUint32(8, 3, true);
          return withCrc(b);
        })(),
        /format version 3/,
      ],
      [
        // Checksum right, but a code no quantiser makes in the last rows: found after the first
        // segments are resident, which must then be disposed.
        'crafted late row',
        (() => {
          const b = good.slice();
          const h = new DataView(b.buffer).getUint32(12, true);
          const r = 115; // 120 rows, 5 removed
          const codes = 16 + h + 4 * r + 4 * r * 9;
          b[codes + (r - 1) * 9] = 0x80;
          return withCrc(b);
        })(),
        /int8 code -128 at row 114/,
      ],
    ];
    for (const [name, bytes, message] of bad) {
      it(name, async () => {
        const e = await loadCorpusFile(kit, write(`${name}.ckc`, bytes), { segmentBytes: 200 }).catch(
          (x) => x,
        );
        expect(e).toMatchObject({ code: 'CORRUPT_DATA', op: 'loadCorpusFile', arg: 'path' });
        expect(e.message).toMatch(message);
        expect(ReferenceCorpus.live).toBe(before);
      });
    }
    it('a missing file, a directory', async () => {
      const e1 = await loadCorpusFile(kit, at('nothing.ckc')).catch((x) => x);
      expect(e1).toMatchObject({ code: 'INVALID_ARGUMENT', op: 'loadCorpusFile', arg: 'path' });
      expect(e1.message).toMatch(/ENOENT/);
      const e2 = await loadCorpusFile(kit, dir).catch((x) => x);
      expect(e2).toMatchObject({ code: 'INVALID_ARGUMENT', arg: 'path' });
    });
    it('an abort mid-load disposes what was built', async () => {
      const ac = new AbortController();
      const e = await loadCorpusFile(kit, write('good.ckc', good), {
        segmentBytes: 200,
        signal: ac.signal,
        onProgress: () => ac.abort(),
      }).catch((x) => x);
      expect(e).toMatchObject({ code: 'ABORTED', op: 'loadCorpusFile' });
      expect(ReferenceCorpus.live).toBe(before);
    });
  });
});

describe('loadCorpus and filter masks given a Node Buffer', () => {
  // A Buffer's slice() is a view, not a copy: loadCorpus of a Buffer at an odd offset (a file read
  // into a pooled Buffer, a slice of a bundle) threw a RangeError from an Int32Array constructor,
  // and at an aligned offset the loaded corpus and a filter mask could alias the caller's memory.
  const rows = [
    [1, 0, 0],
    [0, 1, 0],
    [1, 1, 1],
  ];
  it.each(['float32', 'float16', 'int8'] as CorpusStorage[])(
    '%s: at every offset 0-7 it loads the same corpus, and overwriting the Buffer after the call changes nothing',
    async (storage) => {
      const kit = createCosineKit({ backend: createReferenceBackend() });
      const saved = await kit.corpus(rows, { storage, ids: ['x', 'y', 'z'] });
      const bytes = await saved.save();
      const want = (await saved.search([[1, 0.5, 0]], 3)).toArray();
      for (let off = 0; off < 8; off++) {
        const big = Buffer.concat([Buffer.alloc(off, 7), Buffer.from(bytes), Buffer.alloc(5, 9)]);
        const view = big.subarray(off, off + bytes.length);
        const pending = kit.loadCorpus(view);
        big.fill(0xff); // NaN bits everywhere, before the load has finished
        const loaded = await pending;
        expect((await loaded.search([[1, 0.5, 0]], 3)).toArray(), `offset ${off}`).toEqual(want);
        loaded.dispose();
      }
      kit.dispose();
    },
  );

  it('a Buffer filter mask is the mask as it was when search was called', async () => {
    const kit = createCosineKit({ backend: createReferenceBackend() });
    const corpus = await kit.corpus(rows);
    const mask = Buffer.from([0, 1, 1]);
    const pending = corpus.search([[1, 0, 0]], 2, { filter: { mask } });
    mask.fill(255);
    const r = await pending;
    expect(Array.from(r.indices)).toEqual([2, 1]);
    kit.dispose();
  });
});

describe('saveCorpusFile is queued on the corpus within the call, like save()', () => {
  it('dispose() right after the call waits for the save (was DISPOSED, the save lost)', async () => {
    const c = await kit.corpus(rows(30, 5, 3));
    const bytes = await c.save();
    const p = saveCorpusFile(c, at('then-dispose.ckc'));
    c.dispose();
    expect(await p).toBe(bytes.length);
    expect(new Uint8Array(readFileSync(at('then-dispose.ckc')))).toEqual(bytes);
    await expect(saveCorpusFile(c, at('after.ckc'))).rejects.toMatchObject({ code: 'DISPOSED' });
    expect(temps(at('after.ckc'))).toEqual([]);
  });
  it('a directory as the path is still refused by name, with no temporary file left', async () => {
    const c = await kit.corpus(rows(3, 5, 3));
    await expect(saveCorpusFile(c, dir)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', arg: 'path' });
    expect(temps(dir)).toEqual([]);
    c.dispose();
  });
});

describe('file helpers beside other writers and odd files', () => {
  it('the checksum is CRC-32 as zlib computes it, eight bytes at a time or one', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    const b = Uint8Array.from({ length: 1000 }, (_, i) => (i * 37 + 11) & 255);
    for (const cut of [0, 1, 7, 8, 9, 500, 999, 1000])
      expect(crc32(b.subarray(cut), crc32(b.subarray(0, cut)))).toBe(crc32(b));
  });

  it('two saves to one path at once both succeed, and the file is one of them whole', async () => {
    const a = await kit.corpus(rows(400, 16, 1));
    const b = await kit.corpus(rows(400, 16, 2));
    const [ba, bb] = [await a.save(), await b.save()];
    const path = at('both.ckc');
    for (let trial = 0; trial < 3; trial++) {
      // Progress callbacks that yield interleave the two saves' pieces (before, both wrote one
      // shared `path.tmp`: one save failed and the file was neither corpus).
      const slow = { onProgress: () => new Promise<void>((r) => setTimeout(r, 1)) };
      await expect(
        Promise.all([saveCorpusFile(a, path, slow), saveCorpusFile(b, path, slow)]),
      ).resolves.toEqual([ba.length, bb.length]);
      const file = new Uint8Array(readFileSync(path));
      expect([0, 1]).toContain(
        [ba, bb].findIndex((x) => x.length === file.length && x.every((v, i) => v === file[i])),
      );
      expect(temps(path)).toEqual([]);
      (await loadCorpusFile(kit, path)).dispose();
    }
    a.dispose();
    b.dispose();
  });

  it('never writes through a link where the old temporary name was', async () => {
    const c = await kit.corpus(rows(5, 4, 1));
    const victim = at('victim.txt');
    writeFileSync(victim, 'keep me');
    const path = at('linked-tmp.ckc');
    symlinkSync(victim, `${path}.tmp`);
    await saveCorpusFile(c, path);
    expect(readFileSync(victim, 'utf8')).toBe('keep me');
    expect(lstatSync(path).isSymbolicLink()).toBe(false);
    expect(new Uint8Array(readFileSync(path))).toEqual(await c.save());
    c.dispose();
  });

  it('through a link at the path, the file linked to is replaced; a replaced file keeps its mode', async () => {
    const c = await kit.corpus(rows(5, 4, 2));
    const real = at('real.ckc');
    writeFileSync(real, 'old');
    chmodSync(real, 0o640);
    const link = at('link.ckc');
    symlinkSync(real, link);
    await saveCorpusFile(c, link);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(new Uint8Array(readFileSync(real))).toEqual(await c.save());
    expect(statSync(real).mode & 0o777).toBe(0o640);
    expect(temps(real)).toEqual([]);
    c.dispose();
  });

  it('a rename that fails removes the temporary file', async () => {
    const c = await kit.corpus(rows(2000, 32, 3));
    const path = at('becomes-dir.ckc');
    // The path turns into a directory while the save is writing: the rename then fails.
    const e = await saveCorpusFile(c, path, {
      onProgress: () => {
        if (!existsSync(path)) mkdirSync(path);
      },
    }).catch((x) => x);
    expect(e).toMatchObject({ code: 'INVALID_ARGUMENT', op: 'saveCorpusFile', arg: 'path' });
    expect(temps(path)).toEqual([]);
    c.dispose();
  });

  it('a named pipe is refused as not a file, at once (opening it waited for a writer forever)', async () => {
    const fifo = at('pipe.ckc');
    execFileSync('mkfifo', [fifo]);
    const e = await loadCorpusFile(kit, fifo, { signal: AbortSignal.timeout(10_000) }).catch((x) => x);
    expect(e).toMatchObject({ code: 'INVALID_ARGUMENT', op: 'loadCorpusFile', arg: 'path' });
    expect(e.message).toMatch(/is not a file/);
  });

  it('a file changed between the checksum pass and the rows pass is CORRUPT_DATA, nothing resident', async () => {
    const a = await kit.corpus(rows(60, 8, 4), { ids: Array.from({ length: 60 }, (_, i) => `r${i}`) });
    const b = await kit.corpus(rows(60, 8, 5), { ids: Array.from({ length: 60 }, (_, i) => `r${i}`) });
    const [ba, bb] = [await a.save(), await b.save()];
    expect(bb.length).toBe(ba.length);
    const before = ReferenceCorpus.live;
    const flipped = ba.slice();
    flipped[ba.length - 40] ^= 1;
    for (const [name, later] of [
      ['another valid file', bb],
      ['one bit flipped', flipped],
    ] as const) {
      const path = at('changing.ckc');
      writeFileSync(path, ba);
      const e = await loadCorpusFile(kit, path, {
        segmentBytes: 8 * 4 * 5,
        // After the first segment is resident, the same path is rewritten in place, same length.
        onProgress: (done) => {
          if (done < 60 && readFileSync(path).equals(ba)) writeFileSync(path, later);
        },
      }).catch((x) => x);
      expect(e, name).toMatchObject({ code: 'CORRUPT_DATA', op: 'loadCorpusFile', arg: 'path' });
      expect(e.message).toMatch(/changed while it was being read/);
      expect(ReferenceCorpus.live).toBe(before);
    }
    a.dispose();
    b.dispose();
  });

  it('a file replaced by another valid one between its header and its checksum pass is CORRUPT_DATA (the first header went with the second rows)', async () => {
    const a = await kit.corpus(new Tensor(Float32Array.of(1, 0, 0, 1), 2, 2), { ids: ['a0', 'a1'] });
    const b = await kit.corpus(new Tensor(Float32Array.of(0, 1, 1, 0), 2, 2), { ids: ['b0', 'b1'] });
    const [ba, bb] = [await a.save(), await b.save()];
    expect(bb.length).toBe(ba.length);
    const path = at('replaced.ckc');
    writeFileSync(path, ba);
    // After the header's read (the second), the file is rewritten in place.
    const probe = await open(path);
    const proto = Object.getPrototypeOf(probe) as { read: (...a: unknown[]) => Promise<unknown> };
    await probe.close();
    const read = proto.read;
    let reads = 0;
    proto.read = async function (this: unknown, ...args: unknown[]) {
      const r = await read.apply(this, args);
      if (++reads === 2) writeFileSync(path, bb);
      return r;
    };
    try {
      const e = await loadCorpusFile(kit, path).catch((x) => x);
      expect(e).toMatchObject({ code: 'CORRUPT_DATA', op: 'loadCorpusFile', arg: 'path' });
    } finally {
      proto.read = read;
    }
    a.dispose();
    b.dispose();
  });

  it('saves refuse what is not a regular file, dangling links and loops, and write next to a 240-byte name', async () => {
    const fifo = at('save-pipe.ckc');
    execFileSync('mkfifo', [fifo]);
    const dangling = at('dangling.ckc');
    symlinkSync(at('nowhere.ckc'), dangling);
    const loop = at('loop-a.ckc');
    symlinkSync(at('loop-b.ckc'), loop);
    symlinkSync(loop, at('loop-b.ckc'));
    const c = await kit.corpus(rows(12, 4, 9));
    for (const path of [fifo, dangling, loop]) {
      const e = await saveCorpusFile(c, path).catch((x) => x);
      expect(e, path).toMatchObject({ code: 'INVALID_ARGUMENT', op: 'saveCorpusFile', arg: 'path' });
      // Left as it was: a FIFO, a link.
      expect(lstatSync(path).isFile(), path).toBe(false);
    }
    expect(existsSync(at('nowhere.ckc'))).toBe(false);
    const long = at(`${'n'.repeat(240)}.ckc`);
    await saveCorpusFile(c, long);
    await expectSame(c, await loadCorpusFile(kit, long));
    expect(temps(long)).toEqual([]);
    c.dispose();
  });

  it('an onProgress whose result has a throwing then getter fails a load by name (it escaped raw)', async () => {
    const c = await kit.corpus(rows(5, 4, 10));
    const path = at('then-getter.ckc');
    await saveCorpusFile(c, path);
    // A result whose `then` getter throws (defined so, as a caller's object could be).
    const odd = () =>
      Object.defineProperty({}, 'then', {
        get() {
          throw new Error('getter');
        },
      });
    const e = await loadCorpusFile(kit, path, { onProgress: odd as never }).catch((x) => x);
    expect(e).toMatchObject({ code: 'INVALID_ARGUMENT', op: 'loadCorpusFile', arg: 'options.onProgress' });
    c.dispose();
  });

  it('a kit disposed during a load: DISPOSED naming the kit, not an argument the call lacks', async () => {
    const c = await kit.corpus(rows(6, 3, 1));
    const path = at('disposed-kit.ckc');
    await saveCorpusFile(c, path);
    const other = createCosineKit({ backend: createReferenceBackend() });
    const e = await loadCorpusFile(other, path, {
      segmentBytes: 1,
      onProgress: (done) => {
        if (done === 2) other.dispose();
      },
    }).catch((x) => x);
    expect(e).toMatchObject({ code: 'DISPOSED', op: 'loadCorpusFile', arg: 'kit' });
    c.dispose();
  });

  it('disposeBackends() during a load: DISPOSED naming the kit (it named a corpus the call never had)', async () => {
    const { disposeBackends } = await import('../src/index.js');
    const { registerBackend, unregisterBackend } = await import('../src/backend.js');
    const c = await kit.corpus(rows(6, 3, 1));
    const path = at('disposed-backends.ckc');
    await saveCorpusFile(c, path);
    c.dispose();
    registerBackend('file-disposable', () => disposableReference('file-disposable'), 1);
    const other = createCosineKit({ backend: 'file-disposable' });
    let stopped: Promise<void> | undefined;
    const e = await loadCorpusFile(other, path, {
      segmentBytes: 1,
      onProgress: (done) => {
        if (done === 2) stopped = disposeBackends();
      },
    }).catch((x) => x);
    await stopped;
    expect(e).toMatchObject({ code: 'DISPOSED', op: 'loadCorpusFile', arg: 'kit' });
    expect(e.message).toMatch(/disposeBackends\(\)/);
    expect(e.message).not.toMatch(/kit\.dispose/);
    unregisterBackend('file-disposable');
  });

  it('one verdict on a header opening with a byte-order mark or 4 KiB of spaces, from bytes or from a file', async () => {
    // loadCorpus and decodeCorpusFile took both; loadCorpusFile refused both.
    const c = await kit.corpus(rows(3, 4, 2));
    const good = await c.save();
    c.dispose();
    const h = new DataView(good.buffer, good.byteOffset).getUint32(12, true);
    const json = new TextDecoder().decode(good.subarray(16, 16 + h)).trim();
    const body = good.subarray(16 + h, good.length - 4);
    for (const [what, lead] of [
      ['a few spaces', '   '],
      ['a byte-order mark', '\ufeff'],
      ['5,000 spaces', ' '.repeat(5000)],
    ] as const) {
      // The header's text after the lead, padded to 4 bytes; the checksum recomputed, so only the
      // header's start is at issue.
      const text = new TextEncoder().encode(lead + json);
      const hl = Math.ceil(text.length / 4) * 4;
      const bytes = new Uint8Array(16 + hl + body.length + 4).fill(0x20, 16, 16 + hl);
      bytes.set(good.subarray(0, 12));
      new DataView(bytes.buffer).setUint32(12, hl, true);
      bytes.set(text, 16);
      bytes.set(body, 16 + hl);
      new DataView(bytes.buffer).setUint32(
        bytes.length - 4,
        crc32(bytes.subarray(0, bytes.length - 4)),
        true,
      );
      const path = at('lead.ckc');
      writeFileSync(path, bytes);
      const fromBytes = await kit.loadCorpus(bytes).catch((x) => x);
      const fromFile = await loadCorpusFile(kit, path).catch((x) => x);
      for (const e of [fromBytes, fromFile]) {
        // A few spaces are JSON whitespace within the first bytes: the file loads, both ways.
        if (lead === '   ') {
          expect(e.rows, what).toBe(3);
          e.dispose();
        } else
          expect(e, what).toMatchObject({
            code: 'CORRUPT_DATA',
            message: expect.stringMatching(/header that is not valid JSON/),
          });
      }
    }
  });

  it('segmentBytes: Infinity loads in one segment (it failed as "changed while it was being read")', async () => {
    const c = await build('int8', 2);
    const path = at('infinite-segments.ckc');
    await saveCorpusFile(c, path);
    for (const segmentBytes of [Number.POSITIVE_INFINITY, Number.MAX_VALUE, 1]) {
      const back = await loadCorpusFile(kit, path, { segmentBytes });
      await expectSame(c, back);
      back.dispose();
    }
    c.dispose();
  });

  it('a save refuses the options only loads take, and a load those of OPFS (each was ignored)', async () => {
    const c = await kit.corpus(rows(4, 3, 1));
    for (const options of [{ segmentBytes: Number.NaN }, { segmentBytes: 4096 }, { directory: '/etc' }])
      await expect(saveCorpusFile(c, at('o.ckc'), options as never)).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        op: 'saveCorpusFile',
        arg: `options.${Object.keys(options)[0]}`,
      });
    await saveCorpusFile(c, at('o.ckc'));
    await expect(loadCorpusFile(kit, at('o.ckc'), { directory: 42 } as never)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      op: 'loadCorpusFile',
      arg: 'options.directory',
    });
    c.dispose();
  });

  it("a kit disposed by the load's last onProgress: DISPOSED naming kit (it resolved a disposed corpus)", async () => {
    const c = await build('float32', 0);
    const path = at('disposed-at-end.ckc');
    await saveCorpusFile(c, path);
    c.dispose();
    for (const segmentBytes of [undefined, 13 * 4 * 10]) {
      const other = createCosineKit({ backend: createReferenceBackend() });
      const before = ReferenceCorpus.live;
      let calls = 0;
      await expect(
        loadCorpusFile(other, path, {
          segmentBytes,
          onProgress: (done, total) => {
            calls++;
            if (done === total) other.dispose();
          },
        }),
      ).rejects.toMatchObject({ code: 'DISPOSED', op: 'loadCorpusFile', arg: 'kit' });
      expect(calls).toBeGreaterThan(0);
      expect(ReferenceCorpus.live).toBe(before);
    }
  });

  it('an abort ends a save, a load and corpusFrom whose onProgress promise is still pending', async () => {
    const c = await build('float32', 0);
    const path = at('pending.ckc');
    await saveCorpusFile(c, path);
    const saved = readFileSync(path);
    const never = () => new Promise<void>(() => undefined);
    const abortSoon = () => {
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 20);
      return ac.signal;
    };
    const before = ReferenceCorpus.live;
    await expect(saveCorpusFile(c, path, { signal: abortSoon(), onProgress: never })).rejects.toMatchObject({
      code: 'ABORTED',
      op: 'saveCorpusFile',
    });
    await expect(
      loadCorpusFile(kit, path, { segmentBytes: 13 * 4 * 10, signal: abortSoon(), onProgress: never }),
    ).rejects.toMatchObject({ code: 'ABORTED', op: 'loadCorpusFile' });
    await expect(
      kit.corpusFrom([rows(5, 13, 1), rows(5, 13, 2)], { signal: abortSoon(), onProgress: never }),
    ).rejects.toMatchObject({ code: 'ABORTED', op: 'corpusFrom' });
    expect(readFileSync(path)).toEqual(saved);
    expect(temps(path)).toEqual([]);
    expect(ReferenceCorpus.live).toBe(before);
    c.dispose();
  });
});

describe('loadCorpus refuses views it cannot read, typed', () => {
  it('a Proxy, an object made from the prototype, a view its resizable buffer shrank below', async () => {
    const c = await kit.corpus(rows(3, 4, 1));
    const bytes = await c.save();
    for (const fake of [new Proxy(bytes, {}), Object.create(Uint8Array.prototype)]) {
      await expect(kit.loadCorpus(fake)).rejects.toMatchObject({
        code: 'INVALID_TYPE',
        op: 'loadCorpus',
        arg: 'bytes',
      });
    }
    const buffer = new (
      ArrayBuffer as unknown as new (
        n: number,
        o: { maxByteLength: number },
      ) => ArrayBuffer & {
        resize(n: number): void;
      }
    )(bytes.length, { maxByteLength: bytes.length });
    const view = new Uint8Array(buffer, 0, bytes.length);
    view.set(bytes);
    await expect(kit.loadCorpus(view)).resolves.toBeDefined();
    buffer.resize(8);
    await expect(kit.loadCorpus(view)).rejects.toMatchObject({
      code: 'DISPOSED',
      op: 'loadCorpus',
      arg: 'bytes',
    });
    c.dispose();
  });
});

describe('a forged header length over a hole (a sparse file)', () => {
  it('is refused from its first bytes, before anything that size is read or allocated (a length of 2^31 aborted the process)', async () => {
    // 2 GiB apparent, a few KiB on disk: the magic, version 2, a header length of 2^31 - 4 (past
    // what one of Node's reads may ask for, which failed a native assertion, past any catch), zeros.
    const path = at('sparse-header.ckc');
    const fh = await open(path, 'w');
    const pre = new Uint8Array(16);
    const good = await createCosineKit({ backend: 'reference' }).corpus([[1, 0]]);
    pre.set((await good.save()).subarray(0, 8));
    new DataView(pre.buffer).setUint32(8, 2, true);
    new DataView(pre.buffer).setUint32(12, 2 ** 31 - 4, true);
    await fh.write(pre, 0, 16, 0);
    await fh.truncate(2 ** 31 + 32);
    await fh.close();
    const kit = createCosineKit({ backend: 'reference' });
    await expect(loadCorpusFile(kit, path)).rejects.toMatchObject({
      code: 'CORRUPT_DATA',
      op: 'loadCorpusFile',
      arg: 'path',
      message: expect.stringMatching(/header that is not valid JSON/),
    });
    rmSync(path);
  });
});

describe('a forged header length whose first bytes open a JSON object', () => {
  /** A file of `size` bytes: the preamble (version 2, header length `h`), then `lead` bytes, then zeros. */
  function forged(
    h: number,
    lead: Uint8Array,
  ): { size: number; bytes: (a: number, b: number) => Uint8Array } {
    const head = new Uint8Array(16 + lead.length);
    head.set(new TextEncoder().encode('CKCORPUS'));
    new DataView(head.buffer).setUint32(8, 2, true);
    new DataView(head.buffer).setUint32(12, h, true);
    head.set(lead, 16);
    return {
      size: 16 + h + 4 + 8,
      bytes: (a, b) => {
        const out = new Uint8Array(b - a);
        if (a < head.length) out.set(head.subarray(a, Math.min(b, head.length)));
        return out;
      },
    };
  }

  it('is refused within a piece of its header, reading no more than that (4 GiB was read and held first)', async () => {
    // '{', then spaces past the first 4 KiB (the lead read alone), then a hole of zeros.
    const lead = new Uint8Array(3 * 2 ** 20).fill(0x20);
    lead[0] = 0x7b;
    const f = forged(2 ** 32 - 8, lead);
    const asked: number[] = [];
    const file = {
      size: f.size,
      slice: (a: number, b: number) => {
        asked.push(b - a);
        return { arrayBuffer: async () => f.bytes(a, b).buffer };
      },
    };
    const directory = { getFileHandle: async () => ({ getFile: async () => file }) };
    const kit = createCosineKit({ backend: 'reference' });
    await expect(
      loadCorpusOpfs(kit, 'forged.ckc', { directory: directory as unknown as FileSystemDirectoryHandle }),
    ).rejects.toMatchObject({
      code: 'CORRUPT_DATA',
      op: 'loadCorpusOpfs',
      arg: 'name',
      message: expect.stringMatching(/header that is not valid JSON/),
    });
    // The preamble, the lead, three pieces of spaces and the one that reaches the zeros.
    expect(Math.max(...asked)).toBeLessThanOrEqual(2 ** 20);
    expect(asked.reduce((a, b) => a + b, 0)).toBeLessThan(5 * 2 ** 20);
  });

  it('a source that reads back nothing past the first bytes of a long header is CORRUPT_DATA, not a loop for ever', async () => {
    const lead = new Uint8Array(8192).fill(0x20);
    lead[0] = 0x7b;
    const f = forged(2 ** 20, lead);
    const file = {
      size: f.size,
      // Bytes up to 16 + 4096, then nothing at all (a file cut short under the reader).
      slice: (a: number, b: number) => ({
        arrayBuffer: async () => (a >= 16 + 4096 ? new ArrayBuffer(0) : f.bytes(a, b).buffer),
      }),
    };
    const directory = { getFileHandle: async () => ({ getFile: async () => file }) };
    await expect(
      loadCorpusOpfs(createCosineKit({ backend: 'reference' }), 'short.ckc', {
        directory: directory as unknown as FileSystemDirectoryHandle,
      }),
    ).rejects.toMatchObject({ code: 'CORRUPT_DATA', message: expect.stringMatching(/truncated/) });
  }, 10_000);

  it('a sparse file on disk whose header is "{" and zeros is refused from its first bytes', async () => {
    const path = at('sparse-brace.ckc');
    const f = forged(2 ** 32 - 8, Uint8Array.of(0x7b));
    const fh = await open(path, 'w');
    await fh.write(f.bytes(0, 17), 0, 17, 0);
    await fh.truncate(f.size);
    await fh.close();
    await expect(loadCorpusFile(createCosineKit({ backend: 'reference' }), path)).rejects.toMatchObject({
      code: 'CORRUPT_DATA',
      op: 'loadCorpusFile',
      arg: 'path',
      message: expect.stringMatching(/header that is not valid JSON/),
    });
    rmSync(path);
  });

  it('a header that really is longer than a piece still loads', async () => {
    // Ids long enough that the header spans several pieces.
    const kit = createCosineKit({ backend: 'reference' });
    const ids = Array.from({ length: 40 }, (_, i) => `${'x'.repeat(60_000)}-${i}`);
    const c = await kit.corpus(
      Array.from({ length: 40 }, (_, i) => [1, i]),
      { ids },
    );
    const path = at('long-header.ckc');
    await saveCorpusFile(c, path);
    const back = await loadCorpusFile(kit, path);
    expect((await back.search([[1, 39]], 1)).ids).toEqual([ids[39]]);
    expect((await back.search([[1, 0]], 1)).ids).toEqual([ids[0]]);
    rmSync(path);
  });
});

describe('a file whose ids hold -0', () => {
  it('loads it as 0, as a corpus holds it', async () => {
    const kit = createCosineKit({ backend: 'reference' });
    const c = await kit.corpus(
      [
        [1, 0],
        [0, 1],
      ],
      { ids: [0, 77] },
    );
    const bytes = await c.save();
    // Rewrite the header's "ids":[0,77] as [-0,7] (the same length), the checksum recomputed.
    const text = new TextDecoder().decode(
      bytes.subarray(16, 16 + new DataView(bytes.buffer, bytes.byteOffset).getUint32(12, true)),
    );
    const forged = text.replace('"ids":[0,77]', '"ids":[-0,7]');
    expect(forged).not.toBe(text);
    const out = bytes.slice();
    out.set(new TextEncoder().encode(forged), 16);
    new DataView(out.buffer).setUint32(out.length - 4, crc32(out.subarray(0, out.length - 4)), true);
    const back = await kit.loadCorpus(out);
    const hit = (await back.search([[1, 0]], 1)).ids![0];
    expect(Object.is(hit, 0)).toBe(true);
  });
});

describe('a backend disposed while saveCorpusFile reads the corpus', () => {
  it('fails the save naming the corpus, not a backend the call does not take', async () => {
    const made: { dispose(): void }[] = [];
    let exports = 0;
    const kernels = {
      ...referenceKernels,
      createCorpus: (x: Matrix, o?: CorpusOptions) => {
        const h = referenceKernels.createCorpus(x, o) as ResidentCorpus;
        made.push(h);
        return h;
      },
      exportCorpus: (h: ResidentCorpus) => {
        // The second segment's read finds the backend gone, as backend.dispose() leaves it.
        if (++exports === 2) {
          for (const m of made) m.dispose();
          disposedBackend('exportCorpus');
        }
        return referenceKernels.exportCorpus!(h);
      },
    };
    const kit = createCosineKit({ backend: { ...createReferenceBackend(), name: 'going', kernels } });
    const c = await kit.corpus([[1, 0]]);
    c.mergeBytes = 0;
    await c.add([[0, 1]]);
    await expect(saveCorpusFile(c, at('going.ckc'))).rejects.toMatchObject({
      code: 'DISPOSED',
      op: 'saveCorpusFile',
      arg: 'corpus',
    });
    expect(existsSync(at('going.ckc'))).toBe(false);
  });
});

describe('OPFS file names', () => {
  it("an empty name or one holding '/' is INVALID_ARGUMENT naming it (it was INVALID_TYPE, 'got string'); a name that is no string stays INVALID_TYPE", async () => {
    const kit = createCosineKit({ backend: 'reference' });
    const c = await kit.corpus([[1, 2]]);
    const directory = {} as unknown as FileSystemDirectoryHandle;
    for (const [name, code] of [
      ['', 'INVALID_ARGUMENT'],
      ['a/b', 'INVALID_ARGUMENT'],
      ['/', 'INVALID_ARGUMENT'],
      [5, 'INVALID_TYPE'],
      [null, 'INVALID_TYPE'],
    ] as const) {
      await expect(saveCorpusOpfs(c, name as string, { directory }), String(name)).rejects.toMatchObject({
        code,
        op: 'saveCorpusOpfs',
        arg: 'name',
      });
      await expect(loadCorpusOpfs(kit, name as string, { directory }), String(name)).rejects.toMatchObject({
        code,
        op: 'loadCorpusOpfs',
        arg: 'name',
      });
    }
    c.dispose();
    kit.dispose();
  });
});
