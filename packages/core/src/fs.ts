/**
 * @cosinekit/core/fs: save a corpus to a file and load it back, in Node, streaming.
 *
 * The file is the format `Corpus.save()` writes (versioned, checksummed), but neither call ever
 * holds the whole file: a save writes one segment's stored rows at a time, a load reads one segment
 * at a time and makes it resident before reading the next. A multi-gigabyte corpus costs a
 * segment's worth of host memory (64 MiB by default) beyond the corpus itself.
 *
 * ```ts
 * import { saveCorpusFile, loadCorpusFile } from '@cosinekit/core/fs';
 * await saveCorpusFile(corpus, './embeddings.ckc');
 * const again = await loadCorpusFile(kit, './embeddings.ckc');
 * ```
 *
 * @module @cosinekit/core/fs
 */
/// <reference types="node" />
import { open, rename, rm, stat } from 'node:fs/promises';
import type { Corpus } from './corpus.js';
import { argError, argErrorOf, isCosineKitError } from './errors.js';
import {
  type ByteSource,
  checkLoad,
  checkSave,
  type LoadFileOptions,
  readCorpus,
  type SaveFileOptions,
  writeCorpus,
} from './file-stream.js';
import type { CosineKit } from './kit.js';
import { describeType } from './tensor.js';

export type { LoadFileOptions, SaveFileOptions } from './file-stream.js';

/** The reason a file system call failed, in words with its code (`EACCES`, `ENOENT`, ...). */
function reason(e: unknown): string {
  const code = (e as { code?: unknown })?.code;
  const msg = e instanceof Error ? e.message : String(e);
  return typeof code === 'string' && !msg.includes(code) ? `${code}: ${msg}` : msg;
}

function checkPath(op: string, path: unknown): asserts path is string {
  if (typeof path !== 'string' || path === '')
    argError('INVALID_TYPE', op, 'path', `must be a non-empty string, got ${describeType(path)}.`);
}

/**
 * Saves `corpus` to the file at `path`, streaming: the same bytes as `corpus.save()`, written a
 * piece at a time. The file is written as `path + '.tmp'` and renamed over `path` once complete and
 * flushed, so `path` holds either its old content or the whole new file; a failed or aborted save
 * removes the temporary file. Resolves with the file's length in bytes.
 *
 * Errors: `INVALID_TYPE` for a corpus or path of the wrong type, `DISPOSED` for a disposed corpus,
 * `INVALID_ARGUMENT` naming `path` when it is a directory or cannot be written (the system's code,
 * such as `EACCES` or `ENOENT` for a missing directory, is in the message and the error is the
 * `cause`), `ABORTED` when `options.signal` fires.
 */
export async function saveCorpusFile(
  corpus: Corpus,
  path: string,
  options: SaveFileOptions = {},
): Promise<number> {
  const op = 'saveCorpusFile';
  options = checkSave(op, corpus, options);
  checkPath(op, path);
  const tmp = `${path}.tmp`;
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  // Queued on the corpus now, within the call; the file is opened when the save's turn comes.
  const written = writeCorpus(
    op,
    corpus,
    async () => {
      const old = await stat(path).catch(() => null);
      if (old?.isDirectory()) argError('INVALID_ARGUMENT', op, 'path', `is a directory: ${path}.`);
      fh = await open(tmp, 'w');
      const f = fh;
      return {
        async write(bytes) {
          for (let o = 0; o < bytes.length; ) o += (await f.write(bytes, o, bytes.length - o)).bytesWritten;
        },
      };
    },
    options,
  );
  try {
    const n = await written;
    const f = fh!;
    await f.datasync();
    await f.close();
    fh = undefined;
    await rename(tmp, path);
    return n;
  } catch (e) {
    const opened = fh !== undefined;
    await fh?.close().catch(() => undefined);
    // Only a save that got as far as creating its temporary file removes it.
    if (opened) await rm(tmp, { force: true }).catch(() => undefined);
    if (isCosineKitError(e)) throw e;
    throw argErrorOf('INVALID_ARGUMENT', op, 'path', `cannot be written (${path}): ${reason(e)}`, e);
  }
}

/**
 * Loads a corpus file (any version `loadCorpus` reads) from `path` onto `kit`'s backend,
 * streaming: one pass checks the checksum, so a corrupted file allocates nothing on the backend;
 * the second reads a segment (`options.segmentBytes`) at a time and makes it resident. The corpus
 * searches exactly as the one saved, with its ids, ordinals and removed rows as they were.
 *
 * Errors: `INVALID_TYPE` for a kit or path of the wrong type, `INVALID_ARGUMENT` naming `path` when
 * it is missing, a directory or unreadable, `CORRUPT_DATA` naming `path` for a truncated or
 * corrupted file or an unknown version, `ABORTED` when `options.signal` fires. On any failure
 * nothing stays resident.
 */
export async function loadCorpusFile(
  kit: CosineKit,
  path: string,
  options: LoadFileOptions = {},
): Promise<Corpus> {
  const op = 'loadCorpusFile';
  options = checkLoad(op, kit, options);
  checkPath(op, path);
  let fh: Awaited<ReturnType<typeof open>>;
  let size: number;
  try {
    fh = await open(path, 'r');
    const st = await fh.stat().catch(async (e: unknown) => {
      await fh.close();
      throw e;
    });
    if (!st.isFile()) {
      await fh.close();
      return argError('INVALID_ARGUMENT', op, 'path', `is not a file: ${path}.`);
    }
    size = st.size;
  } catch (e) {
    if (isCosineKitError(e)) throw e;
    throw argErrorOf('INVALID_ARGUMENT', op, 'path', `cannot be read (${path}): ${reason(e)}`, e);
  }
  const source: ByteSource = {
    size,
    async read(position, length) {
      const b = new Uint8Array(length);
      for (let o = 0; o < length; ) {
        let got: number;
        try {
          got = (await fh.read(b, o, length - o, position + o)).bytesRead;
        } catch (e) {
          throw argErrorOf('INVALID_ARGUMENT', op, 'path', `cannot be read (${path}): ${reason(e)}`, e);
        }
        if (got === 0)
          argError('CORRUPT_DATA', op, 'path', 'is truncated: the file shrank while it was being read.');
        o += got;
      }
      return b;
    },
  };
  try {
    return await readCorpus(op, { op, arg: 'path' }, kit, source, options);
  } finally {
    await fh.close().catch(() => undefined);
  }
}
