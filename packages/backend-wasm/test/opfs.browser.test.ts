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
    await expect(saveCorpusOpfs(c, 'a/b')).rejects.toMatchObject({ code: 'INVALID_TYPE', arg: 'name' });
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
});
