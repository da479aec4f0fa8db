/**
 * @cosinekit/core/opfs: save a corpus in the browser's Origin Private File System and load it back,
 * streaming, in the format `Corpus.save()` writes (versioned, checksummed).
 *
 * A save writes one segment's stored rows at a time through `createWritable()`, whose changes reach
 * the file only when it is closed, so a failed save leaves the file as it was. A load reads the
 * file a segment at a time and makes each resident before reading the next. Works on the main
 * thread and in workers.
 *
 * ```ts
 * import { saveCorpusOpfs, loadCorpusOpfs } from '@cosinekit/core/opfs';
 * await saveCorpusOpfs(corpus, 'embeddings.ckc');
 * const again = await loadCorpusOpfs(kit, 'embeddings.ckc');
 * ```
 *
 * @module @cosinekit/core/opfs
 */
import type { Corpus } from './corpus.js';
import { argError, argErrorOf, isCosineKitError } from './errors.js';
import {
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

/** Where in the Origin Private File System a file lives. */
export interface OpfsLocation {
  /** The directory holding the file (default: the origin's root, `navigator.storage.getDirectory()`). */
  directory?: FileSystemDirectoryHandle;
}

/** Options of {@link saveCorpusOpfs}. */
export interface SaveOpfsOptions extends SaveFileOptions, OpfsLocation {}

/** Options of {@link loadCorpusOpfs}. */
export interface LoadOpfsOptions extends LoadFileOptions, OpfsLocation {}

function checkName(op: string, name: unknown): asserts name is string {
  if (typeof name !== 'string' || name === '' || name.includes('/'))
    argError(
      'INVALID_TYPE',
      op,
      'name',
      `must be a file name (a non-empty string without '/'), got ${describeType(name)}.`,
    );
}

async function directoryOf(op: string, o: OpfsLocation): Promise<FileSystemDirectoryHandle> {
  if (o.directory !== undefined) {
    if (typeof o.directory?.getFileHandle !== 'function')
      argError(
        'INVALID_TYPE',
        op,
        'options.directory',
        `must be a FileSystemDirectoryHandle, got ${describeType(o.directory)}.`,
      );
    return o.directory;
  }
  const storage = (globalThis as { navigator?: { storage?: StorageManager } }).navigator?.storage;
  if (typeof storage?.getDirectory !== 'function')
    argError(
      'UNSUPPORTED',
      op,
      'options.directory',
      'was not given and this environment has no Origin Private File System.',
    );
  try {
    return await storage.getDirectory();
  } catch (e) {
    throw argErrorOf(
      'UNSUPPORTED',
      op,
      'options.directory',
      `was not given and the Origin Private File System is unavailable: ${String(e)}`,
      e,
    );
  }
}

const why = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));

/**
 * Saves `corpus` as the file `name` in the Origin Private File System (`options.directory`, or the
 * origin's root), streaming: the same bytes as `corpus.save()`. The new content replaces the file
 * only once complete; a failed or aborted save leaves the file as it was (and removes it if the
 * save created it). Resolves with the file's length in bytes.
 *
 * Errors: `INVALID_TYPE` for a corpus, name or directory of the wrong type, `DISPOSED` for a
 * disposed corpus, `UNSUPPORTED` without an Origin Private File System or `createWritable()`,
 * `INVALID_ARGUMENT` naming `name` when it cannot be written (a directory of that name, the
 * storage quota; the browser's error is the `cause`), `ABORTED` when `options.signal` fires.
 */
export async function saveCorpusOpfs(
  corpus: Corpus,
  name: string,
  options: SaveOpfsOptions = {},
): Promise<number> {
  const op = 'saveCorpusOpfs';
  options = checkSave(op, corpus, options);
  checkName(op, name);
  let dir: FileSystemDirectoryHandle | undefined;
  let created = false;
  let w: FileSystemWritableFileStream | undefined;
  // Queued on the corpus now, within the call (a `dispose()` right after waits for the save, as
  // for `save()`); the directory and the file are opened when the save's turn comes.
  const written = writeCorpus(
    op,
    corpus,
    async () => {
      const d = await directoryOf(op, options);
      dir = d;
      const existed = await d.getFileHandle(name).then(
        () => true,
        () => false,
      );
      const handle = await d.getFileHandle(name, { create: true });
      created = !existed;
      if (typeof handle.createWritable !== 'function')
        argError(
          'UNSUPPORTED',
          op,
          'name',
          'cannot be written: this browser lacks FileSystemFileHandle.createWritable().',
        );
      const writable = await handle.createWritable();
      w = writable;
      return { write: (bytes) => writable.write(bytes as Uint8Array<ArrayBuffer>) };
    },
    options,
  );
  try {
    const n = await written;
    const writable = w!;
    w = undefined;
    await writable.close();
    return n;
  } catch (e) {
    await w?.abort().catch(() => undefined);
    if (created) await dir?.removeEntry(name).catch(() => undefined);
    if (isCosineKitError(e)) throw e;
    throw argErrorOf('INVALID_ARGUMENT', op, 'name', `cannot be written ('${name}'): ${why(e)}`, e);
  }
}

/**
 * Loads the corpus file `name` from the Origin Private File System (`options.directory`, or the
 * origin's root) onto `kit`'s backend, streaming: one pass checks the checksum, so a corrupted file
 * allocates nothing on the backend; the second reads a segment at a time and makes it resident.
 *
 * Errors: `INVALID_TYPE` for a kit, name or directory of the wrong type, `UNSUPPORTED` without an
 * Origin Private File System, `INVALID_ARGUMENT` naming `name` when there is no such file or it
 * cannot be read, `CORRUPT_DATA` naming `name` for a truncated or corrupted file or an unknown
 * version, `ABORTED` when `options.signal` fires. On any failure nothing stays resident.
 */
export async function loadCorpusOpfs(
  kit: CosineKit,
  name: string,
  options: LoadOpfsOptions = {},
): Promise<Corpus> {
  const op = 'loadCorpusOpfs';
  options = checkLoad(op, kit, options);
  checkName(op, name);
  const dir = await directoryOf(op, options);
  let file: File;
  try {
    file = await (await dir.getFileHandle(name)).getFile();
  } catch (e) {
    throw argErrorOf('INVALID_ARGUMENT', op, 'name', `cannot be read ('${name}'): ${why(e)}`, e);
  }
  return readCorpus(
    op,
    { op, arg: 'name' },
    kit,
    {
      size: file.size,
      async read(position, length) {
        try {
          return new Uint8Array(await file.slice(position, position + length).arrayBuffer());
        } catch (e) {
          throw argErrorOf('INVALID_ARGUMENT', op, 'name', `cannot be read ('${name}'): ${why(e)}`, e);
        }
      },
    },
    options,
  );
}
