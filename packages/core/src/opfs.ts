/**
 * @cosinekit/core/opfs: save a corpus in the browser's Origin Private File System and load it back,
 * streaming, in the format `Corpus.save()` writes (versioned, checksummed).
 *
 * A save writes one segment's stored rows at a time to a temporary file, then moves it onto the
 * name, so a failed save leaves the file as it was and no reader sees it half written. Saves of one
 * name at once each finish: their moves onto it take turns, and the last to move wins. A load reads the
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
import { argError, argErrorOf, errorText, isCosineKitError } from './errors.js';
import {
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

/** Where in the Origin Private File System a file lives. */
export interface OpfsLocation {
  /** The directory holding the file (default: the origin's root, `navigator.storage.getDirectory()`). */
  directory?: FileSystemDirectoryHandle;
}

/** Options of {@link saveCorpusOpfs}. */
export interface SaveOpfsOptions extends SaveFileOptions, OpfsLocation {}

/** Options of {@link loadCorpusOpfs}. */
export interface LoadOpfsOptions extends LoadFileOptions, OpfsLocation {}

/** A lone UTF-16 surrogate: the browser would store U+FFFD in its place, under another name. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function checkName(op: string, name: unknown): asserts name is string {
  if (typeof name !== 'string')
    argError(
      'INVALID_TYPE',
      op,
      'name',
      `must be a file name (a non-empty string without '/'), got ${describeType(name)}.`,
    );
  // A string of the wrong form is the wrong value, not the wrong type (it said "got string").
  if (name === '' || name.includes('/'))
    argError(
      'INVALID_ARGUMENT',
      op,
      'name',
      `must be a file name (a non-empty string without '/'), got ${name === '' ? 'an empty string' : `'${name.length > 60 ? `${name.slice(0, 60)}...` : name}'`}.`,
    );
  // Chromium cuts a name at NUL ('a\0b' is the file 'a') and replaces a lone surrogate: either
  // would read or replace a file of another name.
  if (name.includes('\0') || LONE_SURROGATE.test(name))
    argError(
      'INVALID_ARGUMENT',
      op,
      'name',
      'holds a NUL character or a lone UTF-16 surrogate, which the browser would store under another name.',
    );
}

/** The temporary file a save of `name` writes before it takes the name: unique to the save. */
function partName(name: string): string {
  const tag = Array.from(crypto.getRandomValues(new Uint8Array(6)), (b) =>
    b.toString(16).padStart(2, '0'),
  ).join('');
  return `${name}.${tag}.ckc-part`;
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
      `was not given and the Origin Private File System is unavailable: ${errorText(e)}`,
      e,
    );
  }
}

type MovableHandle = FileSystemFileHandle & { move(name: string): Promise<void> };

/** Each name's last move in this page or worker: the next save's move onto the name waits for it. */
const moves = new Map<string, Promise<void>>();

/**
 * Moves `handle` onto `name`, after any other save of this page or worker to that name has moved
 * its file, and again a few times while the browser says the name is locked (another page's
 * save moving onto it): two saves of one name at once failed with `NoModificationAllowedError`
 * ("a destination which is locked") where one of them was meant to win.
 */
function moveOnto(handle: MovableHandle, name: string): Promise<void> {
  const turn = (moves.get(name) ?? Promise.resolve()).then(async () => {
    for (let wait = 4; ; wait *= 2) {
      try {
        return await handle.move(name);
      } catch (e) {
        if ((e as { name?: unknown } | null)?.name !== 'NoModificationAllowedError' || wait > 512) throw e;
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  });
  const settled = turn.then(
    () => undefined,
    () => undefined,
  );
  moves.set(name, settled);
  void settled.then(() => {
    if (moves.get(name) === settled) moves.delete(name);
  });
  return turn;
}

const why = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}` : errorText(e));

/**
 * Saves `corpus` as the file `name` in the Origin Private File System (`options.directory`, or the
 * origin's root), streaming: the same bytes as `corpus.save()`. The bytes go to a temporary file of
 * the same directory (`<name>.<random>.ckc-part`) that is then moved onto `name`, so the file `name`
 * is only ever absent, the old corpus or the new one, whole: never empty or partly written, also
 * to a reader in another tab, and two saves to one name at once leave one of the two corpora. A
 * failed or aborted save removes its temporary file and leaves `name` as it was; a page closed
 * mid-save can leave the temporary file behind (never `name` changed). In a browser without
 * `FileSystemHandle.move()` the save writes `name` through `createWritable()` itself, whose
 * changes also reach the file only when complete. Resolves with the file's length in bytes.
 *
 * Errors: `INVALID_TYPE` for a corpus, name or directory of the wrong type, `INVALID_ARGUMENT` for a
 * name that is empty or holds '/', or that the browser would store under another (a NUL character,
 * a lone surrogate), `DISPOSED` for a
 * disposed corpus, `UNSUPPORTED` without an Origin Private File System or `createWritable()`,
 * `INVALID_ARGUMENT` naming `name` when it cannot be written (a directory of that name, a file
 * another writer holds open, the storage quota; the browser's error is the `cause`), `ABORTED` when
 * `options.signal` fires.
 */
export async function saveCorpusOpfs(
  corpus: Corpus,
  name: string,
  options: SaveOpfsOptions = {},
): Promise<number> {
  const op = 'saveCorpusOpfs';
  options = checkSave(op, corpus, options, ['directory']);
  checkName(op, name);
  let dir: FileSystemDirectoryHandle | undefined;
  /** The temporary file's name, once it exists (removed on failure). */
  let part: string | undefined;
  /** Without move(): whether this save made `name` (an empty file then, until it closes). */
  let created = false;
  let handle: FileSystemFileHandle | undefined;
  let w: FileSystemWritableFileStream | undefined;
  // Queued on the corpus now, within the call (a `dispose()` right after waits for the save, as
  // for `save()`); the directory and the file are opened when the save's turn comes.
  const written = writeCorpus(
    op,
    corpus,
    async () => {
      const d = await directoryOf(op, options);
      dir = d;
      const probe = partName(name);
      const h = await d.getFileHandle(probe, { create: true });
      if (typeof (h as { move?: unknown }).move === 'function') {
        part = probe;
        handle = h;
      } else {
        await d.removeEntry(probe).catch(() => undefined);
        const existed = await d.getFileHandle(name).then(
          () => true,
          () => false,
        );
        handle = await d.getFileHandle(name, { create: true });
        created = !existed;
      }
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
    if (part !== undefined) {
      await moveOnto(handle as MovableHandle, name);
      part = undefined;
    }
    return n;
  } catch (e) {
    await w?.abort().catch(() => undefined);
    if (part !== undefined) await dir?.removeEntry(part).catch(() => undefined);
    // Without move(): the empty file this save made, unless another save has filled it since.
    if (
      created &&
      (await handle?.getFile().then(
        (f) => f.size === 0,
        () => false,
      ))
    )
      await dir?.removeEntry(name).catch(() => undefined);
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
 * Origin Private File System, `INVALID_ARGUMENT` naming `name` when it is empty or holds '/', or
 * there is no such file or it cannot be read, `CORRUPT_DATA` naming `name` for a truncated or corrupted file, an unknown
 * version, or a file written (by another save) while it was being read, `ABORTED` when
 * `options.signal` fires. On any failure nothing stays resident.
 */
export async function loadCorpusOpfs(
  kit: CosineKit,
  name: string,
  options: LoadOpfsOptions = {},
): Promise<Corpus> {
  const op = 'loadCorpusOpfs';
  options = checkLoad(op, kit, options, ['directory']);
  const since = disposalsOf(kit);
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
          // A File is a snapshot: once the file is written (another save), reading it fails so.
          if ((e as { name?: unknown } | null)?.name === 'NotReadableError')
            throw argErrorOf(
              'CORRUPT_DATA',
              op,
              'name',
              `changed while it was being read ('${name}'): ${why(e)}`,
              e,
            );
          throw argErrorOf('INVALID_ARGUMENT', op, 'name', `cannot be read ('${name}'): ${why(e)}`, e);
        }
      },
    },
    options,
    since,
  );
}
