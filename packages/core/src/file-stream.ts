import { ownOptions } from './check.js';
import type { StoredCorpus } from './contract.js';
import { Corpus, type CorpusCreateOptions, type Id, isCorpus } from './corpus.js';
import {
  CorpusFileEncoder,
  type CorpusFileSection,
  decodeCorpusRows,
  decodingFor,
  type FileArg,
  HEADER_LEAD,
  opensObject,
  parseCorpusHead,
  readCorpusPreamble,
} from './corpus-file.js';
import { crc32 } from './crc32.js';
import {
  argError,
  argErrorOf,
  checkSignal,
  eitherSignal,
  errorText,
  isArrayArg,
  isCosineKitError,
  orAbort,
  reportProgress,
  signalFired,
} from './errors.js';
import { checkSignalArg } from './filter.js';
import { guardRows } from './gate.js';
import { type CosineKit, placeOf } from './kit.js';
import { describeType, type Tensor, valueText } from './tensor.js';

/** Options of the file helpers' saves (`saveCorpusFile`, `saveCorpusOpfs`). */
export interface SaveFileOptions {
  /** Stops the save with `ABORTED` between pieces; the file is left as it was before the call. */
  signal?: AbortSignal;
  /** Called after each piece is written with the bytes written so far and the file's length. */
  onProgress?: (bytesDone: number, bytesTotal: number) => void;
}

/** Options of the file helpers' loads (`loadCorpusFile`, `loadCorpusOpfs`). */
export interface LoadFileOptions {
  /** Stops the load with `ABORTED` between pieces; whatever was built is disposed. */
  signal?: AbortSignal;
  /** Called after each segment is resident with the rows loaded so far and the file's row count. */
  onProgress?: (rowsDone: number, rowsTotal: number) => void;
  /**
   * Host bytes read per segment (default 64 MiB, one row at least): the most the load holds
   * outside the backend at once, and the size of the corpus's segments, as in `corpusFrom`.
   */
  segmentBytes?: number;
}

/** Where bytes go, in order. @internal */
export interface ByteSink {
  write(bytes: Uint8Array): Promise<void>;
}

/** Where bytes come from, at any position. @internal */
export interface ByteSource {
  readonly size: number;
  /** Exactly `length` bytes from `position`, in a buffer of their own. */
  read(position: number, length: number): Promise<Uint8Array>;
}

/** Bytes per piece written or checksummed: small beside any corpus worth streaming. */
const PIECE = 8 * 2 ** 20;
const DEFAULT_SEGMENT_BYTES = 64 * 2 ** 20;

function checkOptions(op: string, o: unknown, segments: boolean): void {
  if (typeof o !== 'object' || o === null || isArrayArg(op, 'options', o))
    argError('INVALID_TYPE', op, 'options', `must be an object, got ${describeType(o)}.`);
  const { signal, onProgress, segmentBytes } = o as LoadFileOptions;
  checkSignalArg(op, signal);
  if (onProgress !== undefined && typeof onProgress !== 'function')
    argError(
      'INVALID_TYPE',
      op,
      'options.onProgress',
      `must be a function, got ${describeType(onProgress)}.`,
    );
  if (segments && segmentBytes !== undefined && !(typeof segmentBytes === 'number' && segmentBytes > 0))
    argError(
      'INVALID_ARGUMENT',
      op,
      'options.segmentBytes',
      `must be a number > 0, got ${valueText(segmentBytes)}.`,
    );
  checkSignal(op, signal);
}

/** The options every save takes; `more` adds a helper's own (OPFS's `directory`). */
const SAVE_OPTIONS = ['signal', 'onProgress'];
/** The options every load takes. */
const LOAD_OPTIONS = ['signal', 'onProgress', 'segmentBytes'];

/**
 * Refuses what is not a live corpus before anything is opened; returns the options' copy that the
 * save reads from then on (see `ownOptions`). `more` names options of the helper's own. @internal
 */
export function checkSave<T extends object>(
  op: string,
  corpus: unknown,
  options: T,
  more: readonly string[] = [],
): T {
  if (!isCorpus(corpus))
    argError(
      'INVALID_TYPE',
      op,
      'corpus',
      `must be a Corpus, got ${describeType(corpus)}${posesAsCorpus(corpus) ? ' (a Proxy of one, or an object made from one, which lacks its fields)' : ''}.`,
    );
  if (corpus.disposed) argError('DISPOSED', op, 'corpus', 'was disposed; create a new corpus.');
  const o = ownOptions(op, options, [...SAVE_OPTIONS, ...more]);
  checkOptions(op, o, false);
  return o;
}

/** Whether `x` passes `instanceof Corpus` (a Proxy's trap that throws: it does not). */
function posesAsCorpus(x: unknown): boolean {
  try {
    return x instanceof Corpus;
  } catch {
    return false;
  }
}

/** How many times `kit.dispose()` has run: a load begun before the next is disposed by it. @internal */
export function disposalsOf(kit: CosineKit): number {
  return placeOf.get(kit)!.disposals();
}

/** Refuses what is not a kit before anything is opened; returns the options' copy, as `checkSave`. @internal */
export function checkLoad<T extends object>(
  op: string,
  kit: unknown,
  options: T,
  more: readonly string[] = [],
): T {
  if (!placeOf.has(kit as CosineKit))
    argError('INVALID_TYPE', op, 'kit', `must be a kit made by createCosineKit, got ${describeType(kit)}.`);
  const o = ownOptions(op, options, [...LOAD_OPTIONS, ...more]);
  checkOptions(op, o, true);
  return o;
}

/**
 * Writes `corpus` to `sink` in the corpus file format, one piece at a time: the header, then each
 * section from one segment's stored rows at a time, the checksum computed as the bytes go. Beyond
 * the corpus itself, it holds one segment's stored rows at most. Resolves with the bytes written.
 *
 * `options.onProgress` runs after each piece, within the save's turn on the corpus; a promise it
 * returns is awaited after the turn, before this resolves, not between pieces: awaited there, a
 * callback that itself awaits a call on the same corpus (a search, an `add`) waited for a turn that
 * only the save's end would give, and the save never ended. A throw fails the save at once, a
 * rejection at the next piece or at the end; either way `INVALID_ARGUMENT` naming
 * `options.onProgress`, and never an unhandled rejection.
 * @internal
 */
export async function writeCorpus(
  op: string,
  corpus: Corpus,
  target: ByteSink | (() => Promise<ByteSink>),
  options: SaveFileOptions,
): Promise<number> {
  const { signal, onProgress } = options;
  const failed = (e: unknown) =>
    argErrorOf('INVALID_ARGUMENT', op, 'options.onProgress', `threw: ${errorText(e)}`, e);
  const awaited: Promise<void>[] = [];
  let rejected: { e: unknown } | undefined;
  const progress = (done: number, total: number): void => {
    if (rejected) throw failed(rejected.e);
    if (onProgress === undefined) return;
    try {
      const r = onProgress(done, total) as unknown;
      if (typeof (r as PromiseLike<unknown> | null)?.then === 'function') {
        awaited.push(
          Promise.resolve(r).then(
            () => undefined,
            (e: unknown) => {
              rejected ??= { e };
            },
          ),
        );
      }
    } catch (e) {
      throw failed(e);
    }
  };
  // Queued behind the corpus's earlier work at the call, before anything is awaited: a
  // `dispose()` right after the call then waits for the save, as it does for `save()` (the
  // file's opening used to come first, and the save then found the corpus disposed). `target`
  // opens the destination once the save's turn has come.
  const saved = corpus.streamParts(op, async (p) => {
    const sink = typeof target === 'function' ? await target() : target;
    let first: StoredCorpus | null = await p.read(0);
    const enc = new CorpusFileEncoder({ ...p, rerank: first.rerank }, op);
    let done = 0;
    const put = async (chunks: Uint8Array[]) => {
      for (const c of chunks) {
        checkSignal(op, signal);
        await sink.write(c);
        done += c.length;
      }
      progress(done, enc.byteLength);
    };
    await put([enc.header()]);
    for (const name of enc.sections) {
      const per = name === 'ordinals' || name === 'scales' ? 1 : p.cols;
      if (name === 'ordinals') {
        await pieces(p.ordinals, per, (a) => put(enc.push(name, a)));
        continue;
      }
      for (let s = 0; s < p.segments; s++) {
        const part: StoredCorpus = first ?? (await p.read(s));
        first = null;
        await pieces(part[name]!, per, (a) => put(enc.push(name, a)));
      }
    }
    await put([enc.end()]);
    return enc.byteLength;
  });
  let bytes: number;
  try {
    bytes = await saved;
  } catch (e) {
    // An abort ends the wait for the callback's promises too (one may never settle).
    await orAbort(op, Promise.all(awaited), signal).catch(() => undefined);
    throw e;
  }
  await orAbort(op, Promise.all(awaited), signal);
  // A callback that rejected fails the save, even one that rejected after the last piece.
  if (rejected) throw failed(rejected.e);
  return bytes;
}

/** Calls `f` on consecutive views of `a` of about {@link PIECE} bytes, whole rows of `per` values. */
async function pieces<A extends Int32Array | Float32Array | Uint16Array | Int8Array>(
  a: A,
  per: number,
  f: (piece: A) => Promise<void>,
): Promise<void> {
  const step = Math.max(1, Math.floor(PIECE / (a.BYTES_PER_ELEMENT * per))) * per;
  for (let i = 0; i < a.length; i += step) await f(a.subarray(i, i + step) as A);
}

/** Bytes of a header read at a time past its first {@link HEADER_LEAD}. */
const HEADER_PIECE = 2 ** 20;

/**
 * A file's header of `length` bytes, read before its checksum is known, so its length may be
 * forged. Its first bytes are read alone and must open a JSON object; the rest is read a piece at
 * a time, and a NUL byte (which JSON text cannot hold) ends it as corrupt. A forged length over a
 * hole of zeros (a sparse file: gigabytes apparent, a few KiB on disk) is thus refused after at
 * most one piece, not after reading and holding that many zeros (a 4 GiB length took 53 s and
 * 4 GiB of memory when only the first 4 KiB were checked and the rest read at once).
 */
async function readHeader(at: FileArg, source: ByteSource, length: number): Promise<Uint8Array> {
  const notJson = (): never =>
    argError('CORRUPT_DATA', at.op, at.arg, 'has a header that is not valid JSON.');
  const lead = await source.read(16, Math.min(length, HEADER_LEAD));
  if (!opensObject(lead) || lead.includes(0)) notJson();
  if (length <= HEADER_LEAD) return lead;
  const pieces = [lead];
  for (let o = lead.length; o < length; ) {
    const piece = await source.read(16 + o, Math.min(length - o, HEADER_PIECE));
    // A source that gave nothing (a file cut short under it) would loop here for ever.
    if (piece.length === 0)
      argError('CORRUPT_DATA', at.op, at.arg, 'is truncated: the file shrank while it was being read.');
    if (piece.includes(0)) notJson();
    pieces.push(piece);
    o += piece.length;
  }
  const header = new Uint8Array(length);
  for (let i = 0, o = 0; i < pieces.length; o += pieces[i].length, i++) header.set(pieces[i], o);
  return header;
}

/**
 * Reads a corpus file from `source` onto `kit`'s backend, a segment at a time. First a pass over
 * the whole file checks its checksum (and the header against its length), so a corrupted file
 * allocates nothing on the backend; then each segment's rows are read from each section, checked
 * as `loadCorpus` checks them, and made resident. Beyond the corpus itself, it holds one segment's
 * bytes at most. Any failure or an abort disposes what was built. @internal
 */
/** Most segments a load lists (see `readCorpus`): a smaller `segmentBytes` is raised to keep under it. */
const MAX_SEGMENTS = 1 << 16;

export async function readCorpus(
  op: string,
  at: FileArg,
  kit: CosineKit,
  source: ByteSource,
  options: LoadFileOptions,
  since: number,
): Promise<Corpus> {
  const { signal, onProgress, segmentBytes = DEFAULT_SEGMENT_BYTES } = options;
  const { place, halt, disposals } = placeOf.get(kit)!;
  const total = source.size;
  const first = await source.read(0, Math.min(16, total));
  const pre = decodingFor(at, () => readCorpusPreamble(first, total));
  const header = await readHeader(at, source, pre.headerLength);
  const l = decodingFor(at, () => parseCorpusHead(pre.version, header, total));
  const { rows, cols } = l;
  // Bytes each section holds per row (quantised sections without their end padding).
  const width: Record<CorpusFileSection, number> = {
    ordinals: 4,
    exact: l.bytes.exact ? 4 * cols : 0,
    half: l.bytes.half ? 2 * cols : 0,
    codes: l.bytes.codes ? cols : 0,
    scales: l.bytes.scales ? 4 : 0,
  };
  const sections = (Object.entries(width) as [CorpusFileSection, number][]).filter(([, w]) => w > 0);
  const rowBytes = sections.reduce((a, [, w]) => a + w, 0);
  // At least one row a segment, at most all of them (segmentBytes may be Infinity), and at most
  // MAX_SEGMENTS segments: their ranges are listed from the header before its checksum is known,
  // and a forged file of 2^24 one-float rows at segmentBytes 1 listed 32M of them (a fatal out of
  // memory, past any catch).
  const per = Math.min(
    rows,
    Math.max(1, Math.floor(segmentBytes / rowBytes), Math.ceil(rows / MAX_SEGMENTS)),
  );
  const segments = Math.ceil(rows / per);
  // The second pass reads each section's rows of a segment again; the first records each such
  // range's own CRC-32 as it checks the file's, so bytes that change between the passes (another
  // writer) are caught as a checksum failure rather than loaded. Range (segment s, section j) is
  // entry s * sections.length + j; the ranges do not overlap.
  const ranges: { start: number; length: number; entry: number }[] = [];
  for (let s = 0; s < segments; s++) {
    const n = Math.min(per, rows - s * per);
    sections.forEach(([name, w], j) => {
      ranges.push({ start: l.at[name] + s * per * w, length: n * w, entry: s * sections.length + j });
    });
  }
  ranges.sort((a, b) => a.start - b.start);
  const rangeCrc = new Uint32Array(ranges.length);
  let crc = 0;
  let next = 0;
  // The preamble and header as this pass reads them, to compare with those parsed above: a file
  // replaced in between by another valid one passed its own checksum with the first one's header
  // (its ids on the new file's rows).
  const headEnd = first.length + header.length;
  let headCrc = 0;
  for (let o = 0; o < l.crcAt; o += PIECE) {
    checkSignal(op, signal);
    const piece = await source.read(o, Math.min(PIECE, l.crcAt - o));
    crc = crc32(piece, crc);
    if (o < headEnd) headCrc = crc32(piece.subarray(0, Math.min(piece.length, headEnd - o)), headCrc);
    const end = o + piece.length;
    while (next < ranges.length && ranges[next].start < end) {
      const r = ranges[next];
      const from = Math.max(r.start, o);
      const to = Math.min(r.start + r.length, end);
      if (to > from) rangeCrc[r.entry] = crc32(piece.subarray(from - o, to - o), rangeCrc[r.entry]);
      if (r.start + r.length > end) break;
      next++;
    }
  }
  const stored = new DataView((await source.read(l.crcAt, 4)).buffer).getUint32(0, true);
  if (crc !== stored)
    argError('CORRUPT_DATA', at.op, at.arg, 'fails its checksum: the file is truncated or corrupted.');
  if (headCrc !== crc32(header, crc32(first)))
    argError(
      'CORRUPT_DATA',
      at.op,
      at.arg,
      'changed while it was being read: its header no longer matches the one read first.',
    );
  /** The bytes of segment `s`, section `j`, refused if they differ from those the checksum covered. */
  const readRange = async (s: number, j: number, start: number, length: number): Promise<Uint8Array> => {
    const bytes = await source.read(start, length);
    if (crc32(bytes) !== rangeCrc[s * sections.length + j])
      argError(
        'CORRUPT_DATA',
        at.op,
        at.arg,
        'changed while it was being read: its bytes no longer match the checksum they passed.',
      );
    return bytes;
  };
  let c: Corpus | undefined;
  let previous = -1;
  // A pending onProgress promise is not waited on past an abort, nor past kit.dispose() (it held
  // the load, and the file open, for good).
  const [stop, release] = eitherSignal(signal, halt());
  try {
    for (let r0 = 0; r0 < rows; r0 += per) {
      checkSignal(op, signal);
      const n = Math.min(per, rows - r0);
      const b: Partial<Record<CorpusFileSection, Uint8Array>> = {};
      for (let j = 0; j < sections.length; j++) {
        const [name, w] = sections[j];
        b[name] = await readRange(r0 / per, j, l.at[name] + r0 * w, n * w);
      }
      const part = decodingFor(at, () => decodeCorpusRows(l, r0, previous, b, true));
      previous = part.ordinals[n - 1];
      const from: Tensor | StoredCorpus =
        l.version >= 2 ? part : guardRows(part.exact!, n, cols, at.op, at.arg).tensor;
      const ids = l.ids ? (l.ids.slice(r0, r0 + n) as Id[]) : undefined;
      checkSignal(op, signal);
      if (c === undefined) {
        const opts: CorpusCreateOptions = { storage: l.storage, rerank: l.rerank, ...(ids ? { ids } : {}) };
        c = await place(op, from, opts, since);
        c.restore({ rows: n, ordinals: part.ordinals, next: l.next, ids: l.ids ? ids! : null });
      } else {
        await c.appendRows(op, from, ids, part.ordinals);
      }
      await reportProgress(op, onProgress, [r0 + n, rows], stop);
    }
    // The last onProgress may have disposed the kit (and the corpus with it): resolved, it handed
    // back a disposed corpus.
    if (c!.disposed) argError('DISPOSED', op, 'kit', 'was disposed before the load finished.');
    return c!;
  } catch (e) {
    // The corpus being built, disposed under the load (`kit.dispose()`, `disposeBackends()`), is no
    // argument of this call: say which one its end came through.
    // disposeBackends() leaves the corpus undisposed; its backend's refusal names the corpus.
    // So is a wait on onProgress that kit.dispose() ended (the caller's signal did not fire).
    // A backend disposed under the load (`backend.dispose()`, `disposeBackends()`) is said as
    // such: the kit was not disposed, and once was named as if it had been.
    if (
      (isCosineKitError(e, 'DISPOSED') && (c?.disposed || (c && e.arg !== at.arg && e.arg !== 'kit'))) ||
      (isCosineKitError(e, 'ABORTED') && since !== disposals() && !signalFired(signal))
    )
      throw argErrorOf(
        'DISPOSED',
        op,
        'kit',
        since !== disposals()
          ? 'was disposed, with the corpus being loaded, before the load finished (kit.dispose()).'
          : 'has a backend that was disposed, with the corpus being loaded, before the load finished (backend.dispose(), disposeBackends(), or a GPU device the backend lost); load it on a live kit.',
        e,
      );
    c?.dispose();
    throw e;
  } finally {
    release();
  }
}
