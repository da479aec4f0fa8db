import { createCosineKit, Tensor } from '@cosinekit/core';
import { loadCorpusOpfs, saveCorpusOpfs } from '@cosinekit/core/opfs';
import { describe, expect, it } from 'vitest';
import { createWasmBackend } from '../src/index.js';

/** The OPFS file helpers in headless Chromium, on wasm: the Origin Private File System holds the same bytes as `save()`. */

function rows(n: number, d: number, seed: number): Tensor {
  let s = seed;
  const data = Float32Array.from({ length: n * d }, () => {
    s = (s * 48271) % 2147483647;
    return s / 1073741823.5 - 1;
  });
  return new Tensor(data, n, d);
}

const bytesOf = async (dir: FileSystemDirectoryHandle, name: string) =>
  new Uint8Array(await (await (await dir.getFileHandle(name)).getFile()).arrayBuffer());

describe('saveCorpusOpfs / loadCorpusOpfs (Chromium)', () => {
  it('round-trips int8 and float32 corpora with ids and removed rows, bit for bit', async () => {
    const kit = createCosineKit({ backend: createWasmBackend({ variant: 'simd' }) });
    const root = await navigator.storage.getDirectory();
    const dir = await root.getDirectoryHandle('cosinekit-test', { create: true });
    for (const [storage, rerank] of [
      ['float32', 0],
      ['int8', 2],
    ] as const) {
      const d = 29;
      const t = rows(300, d, 5);
      const chunks = [0, 1, 2].map((i) => ({
        rows: new Tensor(t.data.slice(i * 100 * d, (i + 1) * 100 * d), 100, d),
        ids: Array.from({ length: 100 }, (_, j) => `r${i * 100 + j}`),
      }));
      const c = await kit.corpusFrom(chunks, { storage, rerank, segmentBytes: 100 * d * 4 });
      await c.remove(['r0', 'r150', 'r299']);
      const name = `${storage}.ckc`;
      const n = await saveCorpusOpfs(c, name, { directory: dir });
      const saved = await c.save();
      expect(n).toBe(saved.length);
      expect(await bytesOf(dir, name)).toEqual(saved);
      const back = await loadCorpusOpfs(kit, name, { directory: dir, segmentBytes: 5000 });
      expect(await back.save()).toEqual(saved);
      const q = rows(4, d, 9);
      const [a, b] = [await c.search(q, 10), await back.search(q, 10)];
      expect(b.ids).toEqual(a.ids);
      expect(Array.from(b.scores)).toEqual(Array.from(a.scores));
      back.dispose();
      c.dispose();
    }
    // The origin's root is the default directory.
    const c = await kit.corpus(rows(10, 4, 1));
    await saveCorpusOpfs(c, 'root.ckc');
    expect(await bytesOf(root, 'root.ckc')).toEqual(await c.save());
    await root.removeEntry('root.ckc');
    await root.removeEntry('cosinekit-test', { recursive: true });
    kit.dispose();
  });

  it('bad input: typed errors naming the argument; a failed save leaves the old file; a bad file leaves nothing resident', async () => {
    const backend = createWasmBackend({ variant: 'simd' });
    const kit = createCosineKit({ backend });
    const root = await navigator.storage.getDirectory();
    const c = await kit.corpus(rows(2000, 16, 1));
    await expect(saveCorpusOpfs(c, 'a/b')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', arg: 'name' });
    await expect(loadCorpusOpfs(kit, 'missing.ckc')).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      op: 'loadCorpusOpfs',
      arg: 'name',
    });
    await root.getDirectoryHandle('a-directory', { create: true });
    await expect(saveCorpusOpfs(c, 'a-directory')).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      arg: 'name',
    });
    // An abort mid-save: the previous content stays, and a file the save created is removed.
    const old = await (await root.getFileHandle('kept.ckc', { create: true })).createWritable();
    await old.write(new Uint8Array([1, 2, 3]));
    await old.close();
    const ac = new AbortController();
    const abortAt = { signal: ac.signal, onProgress: () => ac.abort() };
    await expect(saveCorpusOpfs(c, 'kept.ckc', abortAt)).rejects.toMatchObject({ code: 'ABORTED' });
    expect(Array.from(await bytesOf(root, 'kept.ckc'))).toEqual([1, 2, 3]);
    const ac2 = new AbortController();
    await expect(
      saveCorpusOpfs(c, 'fresh.ckc', { signal: ac2.signal, onProgress: () => ac2.abort() }),
    ).rejects.toMatchObject({ code: 'ABORTED' });
    await expect(root.getFileHandle('fresh.ckc')).rejects.toThrow();
    // A truncated file and a flipped bit: CORRUPT_DATA naming name, nothing left resident.
    await saveCorpusOpfs(c, 'good.ckc');
    const good = await bytesOf(root, 'good.ckc');
    const before = backend.memory().residentHandles;
    const flipped = good.slice();
    flipped[good.length - 50] ^= 1;
    for (const [name, bytes, message] of [
      ['cut.ckc', good.slice(0, good.length - 9), /its header describes/],
      ['flip.ckc', flipped, /fails its checksum/],
    ] as const) {
      const w = await (await root.getFileHandle(name, { create: true })).createWritable();
      await w.write(bytes);
      await w.close();
      const e = await loadCorpusOpfs(kit, name, { segmentBytes: 4000 }).catch((x) => x);
      expect(e).toMatchObject({ code: 'CORRUPT_DATA', op: 'loadCorpusOpfs', arg: 'name' });
      expect(e.message).toMatch(message);
      expect(backend.memory().residentHandles).toBe(before);
      await root.removeEntry(name);
    }
    for (const name of ['kept.ckc', 'good.ckc', 'a-directory']) await root.removeEntry(name);
    kit.dispose();
  });

  it('beside other writers: a failed save never removes what another saved, no reader sees a partial file', async () => {
    const backend = createWasmBackend({ variant: 'simd' });
    const kit = createCosineKit({ backend });
    const root = await navigator.storage.getDirectory();
    const dir = await root.getDirectoryHandle('cosinekit-writers', { create: true });
    const names = async () => {
      const list: string[] = [];
      for await (const k of (dir as unknown as { keys(): AsyncIterable<string> }).keys()) list.push(k);
      return list.sort();
    };
    const big = await kit.corpus(rows(20_000, 64, 1));
    const small = await kit.corpus(rows(10, 64, 2));
    // A (a new name, several pieces) is aborted after B saved the same name: B's file stays
    // (A used to remove the name it had created, B's corpus with it).
    const ac = new AbortController();
    let seen: string[] | undefined;
    let loadMidSave: unknown;
    // The first progress callback's work, awaited below: an abort ends the save's wait for its
    // callbacks, so the save may reject before this has finished. It holds A until B has saved and
    // A is aborted (else A could finish its 5 MB before B, and resolve).
    let midSave: Promise<void> | undefined;
    let release = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const a = saveCorpusOpfs(big, 'x.ckc', {
      directory: dir,
      signal: ac.signal,
      onProgress: () => {
        midSave ??= (async () => {
          seen = await names();
          loadMidSave = await loadCorpusOpfs(kit, 'x.ckc', { directory: dir }).catch((e) => e);
          await gate;
        })();
        return midSave;
      },
    });
    await saveCorpusOpfs(small, 'x.ckc', { directory: dir });
    ac.abort();
    release();
    await expect(a).rejects.toMatchObject({ code: 'ABORTED' });
    await midSave;
    expect(await bytesOf(dir, 'x.ckc')).toEqual(await small.save());
    // While A wrote, the name held B's corpus or nothing, never an empty file: a load found it or
    // said there is no such file; A's bytes were in a part file of its own.
    expect(seen?.some((n) => /^x\.ckc\.[0-9a-f]{12}\.ckc-part/.test(n))).toBe(true);
    if (!(loadMidSave instanceof Error)) (loadMidSave as { dispose(): void }).dispose();
    else
      expect(loadMidSave).toMatchObject({
        code: 'INVALID_ARGUMENT',
        arg: 'name',
        message: expect.stringMatching(/NotFoundError/),
      });
    expect(await names()).toEqual(['x.ckc']);
    // Two saves at once: both resolve, the file is one of the corpora whole, no part file left.
    await Promise.all([
      saveCorpusOpfs(big, 'y.ckc', { directory: dir }),
      saveCorpusOpfs(small, 'y.ckc', { directory: dir }),
    ]);
    const y = await bytesOf(dir, 'y.ckc');
    expect([(await big.save()).length, (await small.save()).length]).toContain(y.length);
    expect(await names()).toEqual(['x.ckc', 'y.ckc']);
    // Six saves of one name at once, of corpora as small as each other, so their moves onto the
    // name meet (a probe: 3-5 of 6 failed, the browser saying the name was locked): each resolves,
    // and the file is one of the six whole.
    const six = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => kit.corpus(rows(40 + i, 8, i))));
    const files = await Promise.all(six.map((c) => c.save()));
    for (let trial = 0; trial < 3; trial++) {
      const settled = await Promise.allSettled(
        six.map((c) => saveCorpusOpfs(c, 'w.ckc', { directory: dir })),
      );
      expect(settled.map((r) => (r.status === 'fulfilled' ? 'ok' : String(r.reason)))).toEqual(
        Array(6).fill('ok'),
      );
      const w = await bytesOf(dir, 'w.ckc');
      expect(files.some((f) => f.length === w.length && f.every((v, i) => v === w[i]))).toBe(true);
    }
    for (const c of six) c.dispose();
    await dir.removeEntry('w.ckc');
    expect(await names()).toEqual(['x.ckc', 'y.ckc']);
    // A file written while it loads: CORRUPT_DATA (the browser's NotReadableError), nothing resident.
    const before = backend.memory().residentHandles;
    let k = 0;
    const e = await loadCorpusOpfs(kit, 'y.ckc', {
      directory: dir,
      segmentBytes: 64 * 4 * 100,
      onProgress: async () => {
        if (++k === 1) await saveCorpusOpfs(small, 'y.ckc', { directory: dir });
      },
    }).catch((x) => x);
    if (y.length === (await small.save()).length) {
      // The same bytes written again may still read: then the load is whole.
      if (!(e instanceof Error)) (e as { dispose(): void }).dispose();
    } else {
      expect(e).toMatchObject({ code: 'CORRUPT_DATA', op: 'loadCorpusOpfs', arg: 'name' });
    }
    expect(backend.memory().residentHandles).toBe(before);
    // Names the browser would store under another name: 'a\0b' was the file 'a'.
    for (const name of ['a\0b', 'x\ud800', '\udc00'])
      await expect(saveCorpusOpfs(small, name, { directory: dir })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        arg: 'name',
      });
    expect(await names()).toEqual(['x.ckc', 'y.ckc']);
    // An abort while onProgress's promise is pending ends the save and the load.
    const never = () => new Promise<void>(() => undefined);
    const soon = () => {
      const c = new AbortController();
      setTimeout(() => c.abort(), 50);
      return c.signal;
    };
    await expect(
      saveCorpusOpfs(big, 'z.ckc', { directory: dir, signal: soon(), onProgress: never }),
    ).rejects.toMatchObject({ code: 'ABORTED' });
    await expect(
      loadCorpusOpfs(kit, 'x.ckc', {
        directory: dir,
        segmentBytes: 64 * 4,
        signal: soon(),
        onProgress: never,
      }),
    ).rejects.toMatchObject({ code: 'ABORTED' });
    expect(await names()).toEqual(['x.ckc', 'y.ckc']);
    expect(backend.memory().residentHandles).toBe(before);
    await root.removeEntry('cosinekit-writers', { recursive: true });
    kit.dispose();
  });
});
