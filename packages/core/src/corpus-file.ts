import { ownOptions } from './check.js';
import type { CorpusStorage, StoredCorpus } from './contract.js';
import { crc32 } from './crc32.js';
import { argError, argErrorOf, errorText, isCosineKitError, reading } from './errors.js';
import { allFinite } from './gate.js';
import { fromHalf, halfTable } from './kernels/half.js';
import { MAX_IDS, MAX_ORDINAL, normalisedF32, tooManyIds } from './stored.js';
import { attached, describeType, refuseFakeView, valueText } from './tensor.js';

/**
 * The corpus file format, version 2 (all integers little-endian):
 *
 * | offset        | size             | content                                                  |
 * |---------------|------------------|----------------------------------------------------------|
 * | 0             | 8                | magic `CKCORPUS`                                         |
 * | 8             | 4                | u32 format version (2)                                   |
 * | 12            | 4                | u32 H: header length in bytes (a multiple of 4)         |
 * | 16            | H                | UTF-8 JSON header, space-padded: `{ rows, cols, storage, rerank, next, ids }` |
 * | 16 + H        | 4 * rows         | i32 ordinal of each row (the index search results report), strictly ascending, < next |
 * | ...           | 4 * rows * cols  | float32 storage, or rerank > 0: f32 rows, L2-normalised   |
 * | ...           | 2 * rows * cols  | float16 storage: binary16 bits of the normalised rows, zero-padded to a multiple of 4 bytes |
 * | ...           | rows * cols      | int8 storage: i8 codes in [-127, 127], zero-padded to a multiple of 4 bytes |
 * | ...           | 4 * rows         | int8 storage: f32 scale of each row (component = code * scale) |
 * | end - 4       | 4                | u32 CRC-32 of every byte before it                       |
 *
 * Rows are in ordinal order. `ids` is the caller's ids in row order, or null. `rerank` is the
 * corpus's own, always explicit (an int8 corpus built with default options re-ranks, see
 * `resolveCorpusOptions`), and 0 for float32 storage. A quantised corpus is stored as it is held (codes and scales, binary16 bits), so
 * loading it quantises nothing again and searches exactly as before it was saved.
 *
 * Version 1 (still read) had, after the ordinals, only f32 rows: normalised, and dequantised for
 * quantised storage; loading one quantises those rows again.
 *
 * A file is untrusted input: any truncation, bit flip, unknown version, field out of range or
 * section inconsistent with the header is rejected with `CORRUPT_DATA` before anything is allocated
 * on a backend. Float rows that are not unit length (a crafted file) are normalised as `corpus()`
 * normalises rows; quantised rows must be what the quantiser makes (finite, normalised within their
 * error bound, codes in range), or the file is refused.
 */
export const CORPUS_MAGIC = 'CKCORPUS';
/** The version this library writes. */
export const CORPUS_FORMAT_VERSION = 2;
/** The oldest version this library reads. */
export const CORPUS_OLDEST_VERSION = 1;

/** What a corpus file holds: the stored representation of its live rows, plus their bookkeeping. */
export interface CorpusFile extends StoredCorpus {
  /** The format version the bytes were in. */
  readonly version: number;
  /** Next ordinal to assign on `add`: above every ordinal, at most `MAX_ORDINAL + 1`. */
  readonly next: number;
  readonly ids: (number | string)[] | null;
  readonly ordinals: Int32Array;
}

const pad4 = (n: number) => Math.ceil(n / 4) * 4;

/** Byte length of each section after the ordinals, for a header. */
function sections(rows: number, cols: number, storage: CorpusStorage, rerank: number) {
  const n = rows * cols;
  return {
    exact: storage === 'float32' || rerank > 0 ? 4 * n : 0,
    half: storage === 'float16' ? pad4(2 * n) : 0,
    codes: storage === 'int8' ? pad4(n) : 0,
    scales: storage === 'int8' ? 4 * rows : 0,
  };
}

/** The header fields of a corpus file: everything but its version and its row sections. */
export type CorpusFileHead = Pick<CorpusFile, 'rows' | 'cols' | 'storage' | 'rerank' | 'next' | 'ids'>;

/** The sections after the header, in file order. */
export type CorpusFileSection = 'ordinals' | 'exact' | 'half' | 'codes' | 'scales';
type SectionArray = Int32Array | Float32Array | Uint16Array | Int8Array;
const SECTIONS: readonly CorpusFileSection[] = ['ordinals', 'exact', 'half', 'codes', 'scales'];

/** The magic, version and space-padded JSON header: a file's first bytes. */
function fileHeader(f: CorpusFileHead, op: string): Uint8Array {
  const { rows, cols, storage, next, ids } = f;
  let text: string;
  try {
    text = JSON.stringify({ rows, cols, storage, rerank: storage === 'float32' ? 0 : f.rerank, next, ids });
  } catch (e) {
    // Ids whose text passes the longest string the engine makes (about 2^29 characters in V8).
    return argError(
      'INVALID_ARGUMENT',
      op,
      'ids',
      `cannot be written into a file header: their JSON text is longer than this engine's longest string (${errorText(e)}).`,
      e,
    );
  }
  const json = new TextEncoder().encode(text);
  const h = pad4(json.length);
  const out = new Uint8Array(16 + h).fill(0x20, 16);
  out.set(new TextEncoder().encode(CORPUS_MAGIC));
  const view = new DataView(out.buffer);
  view.setUint32(8, CORPUS_FORMAT_VERSION, true);
  view.setUint32(12, h, true);
  out.set(json, 16);
  return out;
}

/** Whether this host is little-endian: then the codec's typed arrays are written as they lie. */
const LITTLE = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** Reverses the bytes of each `width`-byte value of `b`, in place (for a big-endian host). */
function swap(b: Uint8Array, width: number): Uint8Array {
  if (!LITTLE) for (let i = 0; i < b.length; i += width) b.subarray(i, i + width).reverse();
  return b;
}

/** The little-endian bytes of `a`: a view of it on a little-endian host, a swapped copy otherwise. */
function leBytes(a: SectionArray): Uint8Array {
  const b = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  return LITTLE ? b : swap(b.slice(), a.BYTES_PER_ELEMENT);
}

/**
 * Writes a corpus file (version 2) a piece at a time, so that a corpus of any size can be saved
 * without ever holding the whole file: `header()`, then each section's values in file order and in
 * pieces of any size through `push` (which returns the bytes to write: views of the values on a
 * little-endian host, never a copy of more than what was pushed), then `end()` for the checksum.
 * {@link encodeCorpusFile} is this with every section pushed at once.
 */
export class CorpusFileEncoder {
  /** The file's length in bytes. */
  readonly byteLength: number;
  /** The sections this file has, in the order they are pushed. */
  readonly sections: readonly CorpusFileSection[];
  readonly #header: Uint8Array;
  readonly #plan: { name: CorpusFileSection; values: number; bytes: number }[];
  #at = 0;
  #done = 0;
  #crc = 0;

  /** `op`: the operation a failure names (ids too long for a header). */
  constructor(head: CorpusFileHead, op = 'CorpusFileEncoder') {
    const rerank = head.storage === 'float32' ? 0 : head.rerank;
    this.#header = fileHeader(head, op);
    const sec = sections(head.rows, head.cols, head.storage, rerank);
    const n = head.rows * head.cols;
    this.#plan = [
      { name: 'ordinals' as const, values: head.rows, bytes: 4 * head.rows },
      { name: 'exact' as const, values: sec.exact / 4, bytes: sec.exact },
      { name: 'half' as const, values: n, bytes: sec.half },
      { name: 'codes' as const, values: n, bytes: sec.codes },
      { name: 'scales' as const, values: head.rows, bytes: sec.scales },
    ].filter((s) => s.bytes > 0);
    this.sections = this.#plan.map((s) => s.name);
    this.byteLength = this.#header.length + this.#plan.reduce((a, s) => a + s.bytes, 0) + 4;
  }

  /** The magic, version and header: the file's first bytes. */
  header(): Uint8Array {
    this.#crc = crc32(this.#header);
    return this.#header;
  }

  /**
   * The bytes of the next `values` of section `name` (the current one; sections are pushed in
   * {@link CorpusFileEncoder.sections} order), followed by the section's zero padding once it is
   * complete. Throws `RangeError` on a section out of order or more values than it holds.
   */
  push(name: CorpusFileSection, values: SectionArray): Uint8Array[] {
    const s = this.#plan[this.#at];
    if (s?.name !== name)
      throw new RangeError(`CorpusFileEncoder: ${name} pushed where ${s?.name ?? 'the end'} is due.`);
    if (values.BYTES_PER_ELEMENT * s.values > s.bytes || this.#done + values.length > s.values)
      throw new RangeError(`CorpusFileEncoder: ${name} has the wrong type or length.`);
    const out = [leBytes(values)];
    this.#done += values.length;
    if (this.#done === s.values) {
      const pad = s.bytes - values.BYTES_PER_ELEMENT * s.values;
      if (pad > 0) out.push(new Uint8Array(pad));
      this.#at++;
      this.#done = 0;
    }
    for (const b of out) this.#crc = crc32(b, this.#crc);
    return out;
  }

  /** The checksum: the file's last 4 bytes, once every section is complete. */
  end(): Uint8Array {
    if (this.#at !== this.#plan.length)
      throw new RangeError(`CorpusFileEncoder: ${this.#plan[this.#at].name} has the wrong length.`);
    const out = new Uint8Array(4);
    new DataView(out.buffer).setUint32(0, this.#crc, true);
    return out;
  }
}

/** Options of {@link encodeCorpusFile}. */
export interface EncodeCorpusFileOptions {
  /**
   * Whether the bytes are read back with the decoder's checks before they are returned (default
   * true). `false` writes whatever the fields say, for crafting files that test a loader.
   */
  readonly verify?: boolean;
}

/**
 * Serialises a corpus file (version 2), for a backend author's own save path. Its fields are read
 * once; fields that cannot be encoded, or (unless `options.verify` is false) that would make a file
 * this codec refuses to read back (the checks `decodeCorpusFile` and `loadCorpus` make: ordinals
 * ascending and below `next`, unit rows, every section its storage needs, finite values), are
 * `INVALID_ARGUMENT` naming `file` and the problem.
 */
export function encodeCorpusFile(
  file: Omit<CorpusFile, 'version'>,
  options: EncodeCorpusFileOptions = {},
): Uint8Array {
  const op = 'encodeCorpusFile';
  const { verify = true } = ownOptions(op, options, ['verify']);
  if (typeof verify !== 'boolean')
    argError('INVALID_TYPE', op, 'options.verify', `must be true or false, got ${valueText(verify)}.`);
  if (typeof file !== 'object' || file === null)
    argError('INVALID_TYPE', op, 'file', `must be a corpus file's fields, got ${describeType(file)}.`);
  const f = reading(op, 'file', () => {
    const { rows, cols, storage, rerank, next, ids, ordinals, exact, half, codes, scales } = file;
    return { rows, cols, storage, rerank, next, ids, ordinals, exact, half, codes, scales };
  });
  let bytes: Uint8Array;
  try {
    bytes = writeCorpusFile(f, 'encodeCorpusFile');
  } catch (e) {
    throw argErrorOf('INVALID_ARGUMENT', op, 'file', `cannot be encoded: ${errorText(e)}`, e);
  }
  if (!verify) return bytes;
  try {
    decodingFor({ op, arg: 'file' }, () => readCorpusFile(bytes));
  } catch (e) {
    if (!isCosineKitError(e, 'CORRUPT_DATA')) throw e;
    const problem = e.message.replace(`Argument 'file' passed to '${op}' `, '');
    throw argErrorOf(
      'INVALID_ARGUMENT',
      op,
      'file',
      `would make a file that cannot be read back: ${problem}`,
      e,
    );
  }
  return bytes;
}

/** Serialises a corpus file (version 2) whose fields the caller checked (a corpus's save). */
export function writeCorpusFile(f: Omit<CorpusFile, 'version'>, op = 'save'): Uint8Array {
  const rerank = f.storage === 'float32' ? 0 : f.rerank;
  const head = fileHeader(f, op);
  const sec = sections(f.rows, f.cols, f.storage, rerank);
  const n = f.rows * f.cols;
  const need = (a: ArrayLike<number> | null, len: number, what: string) => {
    if (len > 0 && a?.length !== len) throw new RangeError(`encodeCorpusFile: ${what} has the wrong length.`);
  };
  need(f.exact, sec.exact / 4, 'exact');
  need(f.half, sec.half ? n : 0, 'half');
  need(f.codes, sec.codes ? n : 0, 'codes');
  need(f.scales, sec.scales / 4, 'scales');
  const total = head.length + 4 * f.rows + sec.exact + sec.half + sec.codes + sec.scales + 4;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out.set(head);
  let o = head.length;
  // Each section as one copy of its little-endian bytes (a DataView write per value made a save of
  // 200,000 x 384 float32 rows take 3.2 s, 40% of it here). Padding stays zero.
  // A section of another type (a plain array, a Float64Array: encodeCorpusFile's callers are not
  // bound by the types) is converted first, as the value-by-value writes converted it; its bytes
  // read as they lie wrote nothing, or the wrong values.
  const put = <T extends SectionArray>(
    Kind: { from(a: ArrayLike<number>): T; new (n: number): T },
    a: ArrayLike<number> | null,
    bytes: number,
  ) => {
    if (bytes === 0) return;
    out.set(leBytes(a instanceof Kind ? a : Kind.from(a!)), o);
    o += bytes;
  };
  const ords = f.ordinals.length === f.rows ? f.ordinals : Array.prototype.slice.call(f.ordinals, 0, f.rows);
  put(Int32Array, ords, 4 * f.rows);
  put(Float32Array, f.exact, sec.exact);
  put(Uint16Array, f.half, sec.half);
  put(Int8Array, f.codes, sec.codes);
  put(Float32Array, f.scales, sec.scales);
  view.setUint32(o, crc32(out.subarray(0, o)), true);
  return out;
}

/** The public operation and argument a file's problems are reported against. */
export interface FileArg {
  readonly op: string;
  readonly arg: string;
}
/** What `corrupt` names: `loadCorpus`'s bytes, unless a file helper is decoding (see `decodingFor`). */
let where: FileArg = { op: 'loadCorpus', arg: 'bytes' };

function corrupt(problem: string): never {
  argError('CORRUPT_DATA', where.op, where.arg, problem);
}

/**
 * Runs `decode` (any of the synchronous decoding functions here) with its `CORRUPT_DATA` errors
 * naming `at`'s operation and argument, such as a file helper's `path`.
 */
export function decodingFor<T>(at: FileArg, decode: () => T): T {
  const before = where;
  where = at;
  try {
    return decode();
  } finally {
    where = before;
  }
}

const isInt = (v: unknown, min: number, max: number): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;

/**
 * The first 16 bytes of a file of `total` bytes: checks the magic, the version and that the
 * header length fits; returns the version and the header length.
 */
export function readCorpusPreamble(
  first: Uint8Array,
  total: number,
): { version: number; headerLength: number } {
  if (total < 20) corrupt(`is truncated: ${total} bytes is shorter than any corpus file.`);
  if (new TextDecoder().decode(first.subarray(0, 8)) !== CORPUS_MAGIC)
    corrupt('is not a CosineKit corpus file (bad magic).');
  const view = new DataView(first.buffer, first.byteOffset, 16);
  const version = view.getUint32(8, true);
  if (version < CORPUS_OLDEST_VERSION || version > CORPUS_FORMAT_VERSION) {
    corrupt(
      `has format version ${version}; this library reads versions ${CORPUS_OLDEST_VERSION} to ${CORPUS_FORMAT_VERSION}.`,
    );
  }
  const h = view.getUint32(12, true);
  if (h % 4 !== 0 || 16 + h + 4 > total) corrupt('has a header length that does not fit the file.');
  return { version, headerLength: h };
}

/** Where each section of a file starts, in bytes, with the header's fields. */
export interface CorpusFileLayout extends CorpusFileHead {
  readonly version: number;
  /** Byte offset of each section; a section's length follows from the header (0 when absent). */
  readonly at: Readonly<Record<CorpusFileSection, number>>;
  /** Byte length of each section, padding included. */
  readonly bytes: Readonly<Record<CorpusFileSection, number>>;
  /** Byte offset of the checksum: the file is this plus 4 bytes long. */
  readonly crcAt: number;
}

/** Bytes of a header a file load reads alone first, before trusting its length. */
export const HEADER_LEAD = 4096;

/**
 * True when the first {@link HEADER_LEAD} bytes of a header open a JSON object: JSON whitespace,
 * then `{` (no byte-order mark).
 */
export function opensObject(header: Uint8Array): boolean {
  for (const c of header.subarray(0, HEADER_LEAD))
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return c === 0x7b;
  return false;
}

/**
 * Parses and validates the JSON header of a file of `total` bytes (`header` is its `headerLength`
 * bytes after the preamble) and lays out its sections; the file's length must be what they add up
 * to. Nothing is allocated beyond what the file's own length allows.
 */
export function parseCorpusHead(version: number, header: Uint8Array, total: number): CorpusFileLayout {
  let head: Record<string, unknown>;
  // The rule a file read in segments applies to its header's first bytes (a BOM, or 4 KiB of
  // spaces, passed here and not there: one verdict for the same bytes).
  if (!opensObject(header)) corrupt('has a header that is not valid JSON.');
  try {
    head = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(header));
  } catch {
    return corrupt('has a header that is not valid JSON.');
  }
  if (typeof head !== 'object' || head === null || Array.isArray(head))
    corrupt('has a header that is not a JSON object.');
  const { rows, cols, storage, rerank, next, ids } = head;
  // Each field against its range and the others; sizes are checked against the byte count before
  // anything is allocated, so a header cannot ask for more memory than the file holds.
  if (!isInt(rows, 1, MAX_ORDINAL + 1))
    corrupt(`has a header with rows ${JSON.stringify(rows)}: not an integer in [1, ${MAX_ORDINAL + 1}].`);
  if (!isInt(cols, 1, 2 ** 31 - 1))
    corrupt(`has a header with cols ${JSON.stringify(cols)}: not an integer in [1, 2^31 - 1].`);
  if (storage !== 'float32' && storage !== 'float16' && storage !== 'int8')
    corrupt(`has an unknown storage ${JSON.stringify(storage)}.`);
  if (!isInt(rerank, 0, 2 ** 31 - 1))
    corrupt(`has a header with rerank ${JSON.stringify(rerank)}: not an integer in [0, 2^31 - 1].`);
  if (version >= 2 && storage === 'float32' && rerank !== 0)
    corrupt(`has rerank ${rerank} for float32 storage.`);
  if (!isInt(next, rows, MAX_ORDINAL + 1)) {
    corrupt(
      `has a header with next ${JSON.stringify(next)}: not an integer in [rows = ${rows}, ${MAX_ORDINAL + 1}].`,
    );
  }
  if (
    ids !== null &&
    (!Array.isArray(ids) ||
      ids.length !== rows ||
      !ids.every((x) => typeof x === 'string' || (typeof x === 'number' && Number.isFinite(x))))
  ) {
    corrupt('has ids that do not match its rows.');
  }
  // A file of more ids than a corpus holds is no corrupt file, but it cannot be loaded: refused
  // before the ids are hashed (a Set of them threw a raw RangeError past 2^24).
  if (ids !== null && rows > MAX_IDS) tooManyIds(where.op, where.arg, rows, 0);
  if (ids !== null && new Set(ids as unknown[]).size !== rows) corrupt('has ids that repeat.');
  const st = storage as CorpusStorage;
  const sec =
    version === 1
      ? { exact: 4 * rows * cols, half: 0, codes: 0, scales: 0 }
      : sections(rows, cols, st, rerank);
  const bytes = { ordinals: 4 * rows, ...sec };
  const offsets = {} as Record<CorpusFileSection, number>;
  let o = 16 + header.length;
  for (const name of SECTIONS) {
    offsets[name] = o;
    o += bytes[name];
  }
  if (total !== o + 4) corrupt(`has ${total} bytes; its header describes ${o + 4}.`);
  return {
    version,
    rows,
    cols,
    storage: st,
    rerank: st === 'float32' ? 0 : rerank,
    next,
    // -0 is held as 0, as a corpus holds it (a forged file's -0 came back from searches as -0).
    ids: ids === null ? null : (ids as (string | number)[]).map((x) => (x === 0 ? 0 : x)),
    at: offsets,
    bytes,
    crcAt: o,
  };
}

/** Values of type `T` from their little-endian bytes: a view of `bytes` when `own` and aligned, else a copy. */
function fromLe<T extends SectionArray>(
  C: { new (b: ArrayBuffer, o: number, n: number): T; readonly BYTES_PER_ELEMENT: number },
  bytes: Uint8Array,
  own: boolean,
): T {
  const w = C.BYTES_PER_ELEMENT;
  // A copy by construction: a Node Buffer's slice() is a view (at its unaligned offset, too).
  const b = swap(own && bytes.byteOffset % w === 0 ? bytes : new Uint8Array(bytes), w);
  return new C(b.buffer as ArrayBuffer, b.byteOffset, b.length / w);
}

/**
 * Rows `first ...` of a file's sections, from their bytes, validated as {@link decodeCorpusFile}
 * validates a whole file: ordinals strictly ascending from `previous` (the ordinal before `first`,
 * or -1) and below `layout.next`; float rows finite (and, from version 2, unit length, or
 * normalised as `corpus()` normalises); quantised rows as the quantiser makes them. Each given
 * section holds exactly its rows (`half` and `codes` without their padding). With `own`, the
 * arrays may be views of the given bytes.
 */
export function decodeCorpusRows(
  layout: CorpusFileLayout,
  first: number,
  previous: number,
  b: Partial<Record<CorpusFileSection, Uint8Array>>,
  own: boolean,
): Omit<CorpusFile, 'version' | 'next' | 'ids'> {
  const c = layout.cols;
  const ordinals = fromLe(Int32Array, b.ordinals!, own);
  const r = ordinals.length;
  for (let i = 0; i < r; i++) {
    const o = ordinals[i];
    if (o < 0 || o >= layout.next || o <= (i > 0 ? ordinals[i - 1] : previous))
      corrupt(`has row ordinals out of order or out of [0, next) at row ${first + i}.`);
  }
  let exact: Float32Array | null = b.exact ? fromLe(Float32Array, b.exact, own) : null;
  if (exact) {
    // From version 2, the unit-length pass finds non-finite rows too (their sum of squares is).
    if (layout.version >= 2) exact = admitUnitRows(exact, r, c, first);
    // One branch-free pass (Number.isFinite per value was a fifth of a load), then the position.
    else if (!allFinite(exact, exact.length)) {
      let i = 0;
      while (Number.isFinite(exact[i])) i++;
      corrupt(`holds a non-finite value at row ${first + Math.floor(i / c)}.`);
    }
  }
  const half = b.half ? fromLe(Uint16Array, b.half, own) : null;
  if (half) checkHalfRows(half, r, c, first);
  const codes = b.codes ? fromLe(Int8Array, b.codes, own) : null;
  const scales = b.scales ? fromLe(Float32Array, b.scales, own) : null;
  if (codes) checkInt8Rows(codes, scales!, r, c, first);
  if (exact && (codes || half)) checkAgreement(exact, half, codes, scales, r, c, first);
  return {
    rows: r,
    cols: c,
    storage: layout.storage,
    rerank: layout.rerank,
    ordinals,
    exact,
    half,
    codes,
    scales,
  };
}

/** Parses and fully validates a corpus file (versions 1 and 2). */
/**
 * Parses and checks a corpus file's bytes, for a backend author's own load path: `INVALID_TYPE`
 * or `DISPOSED` naming `bytes` for what is not a readable Uint8Array, `CORRUPT_DATA` naming it
 * for a file that is not one this codec wrote (or fails its checks), as `loadCorpus` refuses them.
 */
export function decodeCorpusFile(bytes: Uint8Array): CorpusFile {
  const op = 'decodeCorpusFile';
  refuseFakeView(bytes, op, 'bytes');
  if (!reading(op, 'bytes', () => bytes instanceof Uint8Array))
    argError('INVALID_TYPE', op, 'bytes', `must be a Uint8Array, got ${describeType(bytes)}.`);
  attached(bytes, op, 'bytes');
  return decodingFor({ op, arg: 'bytes' }, () => readCorpusFile(bytes));
}

/**
 * {@link decodeCorpusFile} on bytes the caller checked (`loadCorpus`'s snapshot). With `own` (bytes
 * nobody else holds or writes), the sections are views of them rather than copies: a copy of each
 * section after the snapshot made a load of a 308 MB file touch 616 MB of new memory.
 */
export function readCorpusFile(bytes: Uint8Array, own = false): CorpusFile {
  const { version, headerLength: h } = readCorpusPreamble(bytes, bytes.length);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (crc32(bytes.subarray(0, bytes.length - 4)) !== view.getUint32(bytes.length - 4, true))
    corrupt('fails its checksum: the file is truncated or corrupted.');
  const l = parseCorpusHead(version, bytes.subarray(16, 16 + h), bytes.length);
  const n = l.rows * l.cols;
  const part = (name: CorpusFileSection, len: number) =>
    l.bytes[name] ? bytes.subarray(l.at[name], l.at[name] + len) : undefined;
  const rows = decodeCorpusRows(
    l,
    0,
    -1,
    {
      ordinals: part('ordinals', 4 * l.rows),
      exact: part('exact', l.bytes.exact),
      half: part('half', 2 * n),
      codes: part('codes', n),
      scales: part('scales', 4 * l.rows),
    },
    own,
  );
  return { ...rows, version, next: l.next, ids: l.ids };
}

/** How far from 1 the norm of a float32-rounded unit row may be (rounding only: about sqrt(d) * 2^-24). */
const UNIT_SLACK = 1e-5;

/**
 * The float rows of a file as a backend may take them verbatim: unit rows (what the encoder writes)
 * pass as they are; any other finite row (a crafted file: subnormals, 1e30, unnormalised) is
 * normalised exactly as `corpus()` would normalise it, in float64, so no engine sees an extreme.
 */
function admitUnitRows(x: Float32Array, rows: number, cols: number, first: number): Float32Array {
  let out: Float32Array | null = null;
  for (let i = 0; i < rows; i++) {
    // Four running sums (one chain of dependent adds was latency-bound: a tenth of a load), no
    // view made a row; squares of float32 values are exact in float64, and never overflow it.
    const o = i * cols;
    const end = o + cols;
    let a = 0;
    let b = 0;
    let c = 0;
    let e = 0;
    let j = o;
    for (; j + 4 <= end; j += 4) {
      const p = x[j];
      const q = x[j + 1];
      const r = x[j + 2];
      const s = x[j + 3];
      a += p * p;
      b += q * q;
      c += r * r;
      e += s * s;
    }
    for (; j < end; j++) a += x[j] * x[j];
    const ss = a + b + (c + e);
    if (!(ss <= Number.MAX_VALUE)) corrupt(`holds a non-finite value at row ${first + i}.`);
    if (ss === 0 || Math.abs(Math.sqrt(ss) - 1) <= UNIT_SLACK) continue;
    out ??= x.slice();
    out.set(normalisedF32(x.subarray(o, end), 1, cols), o);
  }
  return out ?? x;
}

/**
 * binary16 rows: finite, and unit length within float16 rounding (or zero). Each value by table
 * (its power of two computed per value made a float16 load 5.5x a float32 one, 77% of it here),
 * two running sums a row; a row holding NaN or ±Infinity sums to one of them.
 */
function checkHalfRows(h: Uint16Array, rows: number, cols: number, first: number, fail = corrupt): void {
  const slack = 2 ** -11 + Math.sqrt(cols) * 2 ** -25 + UNIT_SLACK;
  const value = halfTable();
  for (let i = 0; i < rows; i++) {
    const end = (i + 1) * cols;
    let a = 0;
    let b = 0;
    let j = i * cols;
    for (; j + 2 <= end; j += 2) {
      const x = value[h[j]];
      const y = value[h[j + 1]];
      a += x * x;
      b += y * y;
    }
    if (j < end) a += value[h[j]] * value[h[j]];
    const ss = a + b;
    // The largest finite half squared, times any row length here, is finite.
    if (!(ss <= Number.MAX_VALUE)) fail(`holds a non-finite float16 value at row ${first + i}.`);
    if (ss !== 0 && Math.abs(Math.sqrt(ss) - 1) > slack)
      fail(`holds a float16 row ${first + i} that is not unit length.`);
  }
}

/**
 * A quantised corpus that re-ranks keeps two copies of each row: the codes (or binary16 values)
 * it picks candidates with and the float32 rows it scores them with. They must be one row: each
 * stored value within the rounding the quantiser allows of the float32 row's value, as the row is
 * kept (a row within 1e-5 of unit length is kept as it is, and re-ranking scores it so; checked
 * against the row normalised, a file's codes could lie 1e-5 of a value further than the search's
 * error bound allows, and a re-ranked search left its best row out). A crafted file whose copies
 * disagreed loaded, and its searches picked candidates by one row and scored them by another.
 */
function checkAgreement(
  exact: Float32Array,
  half: Uint16Array | null,
  codes: Int8Array | null,
  scales: Float32Array | null,
  rows: number,
  cols: number,
  first: number,
  fail = corrupt,
): void {
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    // int8: half a code step, plus the float32 roundings of the factor, the product and the scale.
    // Re-ranked search's error bounds (reference, wasm, WebGPU) allow for all of this slack.
    const s = codes ? scales![i] : 0;
    for (let j = o; j < o + cols; j++) {
      const x = exact[j];
      const stored = codes ? codes[j] * s : fromHalf(half![j]);
      const slack = codes ? s * 0.5001 + 2 ** -22 : Math.abs(x) * (2 ** -11 + 2 ** -20) + 2 ** -24;
      if (!(Math.abs(stored - x) <= slack))
        fail(
          `holds ${codes ? 'int8 codes' : 'float16 values'} for row ${first + i} that disagree with its float32 row at column ${j - o} (${stored} against ${x}).`,
        );
    }
  }
}

/** int8 rows as the quantiser makes them: codes in [-127, 127] reaching ±127, scale finite and positive, unit length within the int8 bound. */
function checkInt8Rows(
  codes: Int8Array,
  scales: Float32Array,
  rows: number,
  cols: number,
  first: number,
  fail = corrupt,
): void {
  for (let i = 0; i < rows; i++) {
    const s = scales[i];
    let m = 0;
    let ss = 0;
    for (let j = i * cols; j < (i + 1) * cols; j++) {
      const q = codes[j];
      if (q === -128) fail(`holds the int8 code -128 at row ${first + i}; codes are in [-127, 127].`);
      m = Math.max(m, Math.abs(q));
      ss += q * q;
    }
    if (m === 0) {
      if (s !== 0) fail(`holds a zero int8 row ${first + i} with scale ${s}.`);
      continue;
    }
    if (m !== 127) fail(`holds an int8 row ${first + i} whose largest code is ${m}, not 127.`);
    if (!(Number.isFinite(s) && s > 0)) fail(`holds an int8 row ${first + i} with scale ${s}.`);
    // ||x^ - x|| <= sqrt(d) * s / 2 for the unit row x, so the stored row's norm is that close to 1.
    const norm = Math.sqrt(ss) * s;
    if (Math.abs(norm - 1) > (Math.sqrt(cols) * s) / 2 + UNIT_SLACK)
      fail(`holds an int8 row ${first + i} that is not unit length (norm ${norm}).`);
  }
}

/** Rows {@link checkStoredRows} checks at most, spread evenly over the corpus. */
const STORED_SAMPLE = 256;

/**
 * The checks `loadCorpus` makes of a file's rows, made of rows a backend hands back
 * (`exportCorpus`, `readCorpus`) on a sample of at most 256 rows spread evenly over them (the
 * first and the last among them), so that merges and saves of large corpora stay one pass of
 * copying: float32 rows unit length or zero, within `slack` (by default the rounding of a float32
 * normalisation; `readCorpus` of a quantised corpus answers dequantised rows, further off);
 * binary16 and int8 rows as the quantisers make them; a re-ranking corpus's two copies of a row
 * agreeing. A backend that breaks every row, or a regular share of them, is caught; one broken row
 * among many may not be. `fail` is called with the first problem found (it must throw).
 */
export function checkStoredRows(
  x: Pick<StoredCorpus, 'rows' | 'cols' | 'storage' | 'rerank' | 'exact' | 'half' | 'codes' | 'scales'>,
  fail: (problem: string) => never,
  slack = UNIT_SLACK + x.cols * 2 ** -24,
): void {
  const { rows, cols, storage } = x;
  // Only the sections the storage holds (as `stored` and the encoder read them): a stale or empty
  // section the storage does not use is ignored, as it always was.
  const exact = storage === 'float32' || x.rerank > 0 ? x.exact : null;
  const half = storage === 'float16' ? x.half : null;
  const codes = storage === 'int8' ? x.codes : null;
  const scales = storage === 'int8' ? x.scales : null;
  const count = Math.min(rows, STORED_SAMPLE);
  for (let u = 0; u < count; u++) {
    const i = count === rows ? u : Math.round((u * (rows - 1)) / (count - 1));
    const [from, to] = [i * cols, (i + 1) * cols];
    const e = exact ? exact.subarray(from, to) : null;
    const h = half ? half.subarray(from, to) : null;
    const q = codes && scales ? codes.subarray(from, to) : null;
    const s = scales ? scales.subarray(i, i + 1) : null;
    if (e) {
      let ss = 0;
      for (let j = 0; j < cols; j++) ss += e[j] * e[j];
      if (ss !== 0 && !(Math.abs(Math.sqrt(ss) - 1) <= slack))
        fail(`holds a float32 row ${i} that is neither unit length nor zero (norm ${Math.sqrt(ss)}).`);
    }
    if (h) checkHalfRows(h, 1, cols, i, fail);
    if (q) checkInt8Rows(q, s!, 1, cols, i, fail);
    if (e && (q || h)) checkAgreement(e, h, q, s, 1, cols, i, fail);
  }
}
