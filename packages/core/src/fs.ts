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
import { constants } from 'node:fs';
import { access, lstat, open, realpath, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Corpus } from './corpus.js';
import { argError, argErrorOf, errorText, isCosineKitError } from './errors.js';
import {
  type ByteSource,
  checkLoad,
  checkSave,
  disposalsOf,
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
  const msg = errorText(e);
  return typeof code === 'string' && !msg.includes(code) ? `${code}: ${msg}` : msg;
}

function checkPath(op: string, path: unknown): asserts path is string {
  if (typeof path !== 'string' || path === '')
    argError('INVALID_TYPE', op, 'path', `must be a non-empty string, got ${describeType(path)}.`);
}

/**
 * A name for a save's temporary file in `target`'s directory (the rename stays on one file system),
 * unique to this save and short whatever the target's name: `<target>.<tag>.tmp` passed the
 * 255-byte name limit for a target of 240 bytes.
 */
function tempName(target: string): string {
  const tag = `${process.pid.toString(36)}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
  return join(dirname(target), `.ckc-${tag}.tmp`);
}

/**
 * Saves `corpus` to the file at `path`, streaming: the same bytes as `corpus.save()`, written a
 * piece at a time. The bytes go to a temporary file next to the destination (a name of its own,
 * `<path>.ckc-<random>.tmp`, created exclusively, so saves at the same time never share one and an
 * existing file or link of that name is never written through), which is flushed and renamed over
 * the destination once complete: `path` holds either its old content or one whole new file (of
 * saves to the same path at once, the last to finish), and a failed or aborted save removes its
 * temporary file. Where `path` is a symbolic link the file it points to is replaced, and a file
 * being replaced keeps its permission bits; other links to the old file keep the old content.
 * Resolves with the file's length in bytes.
 *
 * Errors: `INVALID_TYPE` for a corpus or path of the wrong type, `DISPOSED` for a disposed corpus,
 * `INVALID_ARGUMENT` naming `path` when it is a directory or cannot be written (a file without
 * write permission included, as if it were written in place; the system's code, such as `EACCES`
 * or `ENOENT` for a missing directory, is in the message and the error is the `cause`), `ABORTED`
 * when `options.signal` fires.
 */
export async function saveCorpusFile(
  corpus: Corpus,
  path: string,
  options: SaveFileOptions = {},
): Promise<number> {
  const op = 'saveCorpusFile';
  options = checkSave(op, corpus, options);
  checkPath(op, path);
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  /** The temporary file, once this save created it: only then is it removed on failure. */
  let tmp: string | undefined;
  let target = path;
  let mode: number | undefined;
  // Queued on the corpus now, within the call; the file is opened when the save's turn comes.
  const written = writeCorpus(
    op,
    corpus,
    async () => {
      // What the path names, a link looked at itself first: a dangling link or a loop is not "no
      // file" (the link itself was replaced by a file), and only a regular file is replaced (a
      // device, a FIFO or a socket became a regular file).
      const entry = await lstat(path).catch((e: { code?: string }) => {
        if (e?.code === 'ENOENT') return null;
        throw e;
      });
      const old = entry?.isSymbolicLink() ? await stat(path).catch(() => null) : entry;
      if (entry?.isSymbolicLink() && !old)
        argError(
          'INVALID_ARGUMENT',
          op,
          'path',
          `is a symbolic link to nothing (dangling, or a loop): ${path}.`,
        );
      if (old?.isDirectory()) argError('INVALID_ARGUMENT', op, 'path', `is a directory: ${path}.`);
      if (old && !old.isFile())
        argError(
          'INVALID_ARGUMENT',
          op,
          'path',
          `is not a regular file (a device, a FIFO or a socket): ${path}.`,
        );
      if (old) {
        // Replace what the path names (through a link), as a write in place would, and refuse a
        // file that one could not write: a rename needs only the directory's permission.
        target = await realpath(path);
        await access(target, constants.W_OK);
        mode = old.mode & 0o7777;
      }
      const name = tempName(target);
      fh = await open(name, 'wx');
      tmp = name;
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
    if (mode !== undefined) await f.chmod(mode);
    await f.datasync();
    await f.close();
    fh = undefined;
    await rename(tmp!, target);
    tmp = undefined;
    return n;
  } catch (e) {
    await fh?.close().catch(() => undefined);
    if (tmp !== undefined) await rm(tmp, { force: true }).catch(() => undefined);
    if (isCosineKitError(e)) throw e;
    throw argErrorOf('INVALID_ARGUMENT', op, 'path', `cannot be written (${path}): ${reason(e)}`, e);
  }
}

/** Bytes one `read` of a file handle asks for at most (Node refuses 2^31 and more, fatally). */
const READ_CHUNK = 2 ** 30;

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
  const since = disposalsOf(kit);
  checkPath(op, path);
  let fh: Awaited<ReturnType<typeof open>>;
  let size: number;
  try {
    // Looked at before it is opened: opening a named pipe (FIFO) waits for a writer, and no signal
    // can end that wait. Opened without blocking for the same reason, should it change in between.
    if (!(await stat(path)).isFile()) argError('INVALID_ARGUMENT', op, 'path', `is not a file: ${path}.`);
    fh = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
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
      let b: Uint8Array;
      try {
        b = new Uint8Array(length);
      } catch (e) {
        return argError(
          'OUT_OF_MEMORY',
          op,
          'path',
          `needs ${length} bytes read at once (${path}), more than this process could allocate; a smaller options.segmentBytes reads less at a time.`,
          e,
        );
      }
      for (let o = 0; o < length; ) {
        let got: number;
        try {
          // At most 2^30 bytes a read: Node's read aborts the process (a native assertion, past any
          // catch) on a length of 2^31 or more, which a file's header length or a long row asked for.
          got = (await fh.read(b, o, Math.min(length - o, READ_CHUNK), position + o)).bytesRead;
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
    return await readCorpus(op, { op, arg: 'path' }, kit, source, options, since);
  } finally {
    await fh.close().catch(() => undefined);
  }
}
