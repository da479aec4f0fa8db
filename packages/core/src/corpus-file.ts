import type { CorpusStorage, StoredCorpus } from './contract.js';
import { crc32 } from './crc32.js';
import { argError } from './errors.js';
import { MAX_ORDINAL, normalisedF32 } from './stored.js';

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

/** Serialises a corpus file (version 2). */
export function encodeCorpusFile(f: Omit<CorpusFile, 'version'>): Uint8Array {
  const rerank = f.storage === 'float32' ? 0 : f.rerank;
  const json = JSON.stringify({
    rows: f.rows,
    cols: f.cols,
    storage: f.storage,
    rerank,
    next: f.next,
    ids: f.ids,
  });
  let header = new TextEncoder().encode(json);
  const padded = pad4(header.length);
  if (padded !== header.length) {
    const h = new Uint8Array(padded).fill(0x20);
    h.set(header);
    header = h;
  }
  const sec = sections(f.rows, f.cols, f.storage, rerank);
  const n = f.rows * f.cols;
  const need = (a: ArrayLike<number> | null, len: number, what: string) => {
    if (len > 0 && a?.length !== len) throw new RangeError(`encodeCorpusFile: ${what} has the wrong length.`);
  };
  need(f.exact, sec.exact / 4, 'exact');
  need(f.half, sec.half ? n : 0, 'half');
  need(f.codes, sec.codes ? n : 0, 'codes');
  need(f.scales, sec.scales / 4, 'scales');
  const total = 16 + padded + 4 * f.rows + sec.exact + sec.half + sec.codes + sec.scales + 4;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out.set(new TextEncoder().encode(CORPUS_MAGIC), 0);
  view.setUint32(8, CORPUS_FORMAT_VERSION, true);
  view.setUint32(12, padded, true);
  out.set(header, 16);
  let o = 16 + padded;
  for (let i = 0; i < f.rows; i++, o += 4) view.setInt32(o, f.ordinals[i], true);
  if (sec.exact) for (let i = 0; i < n; i++, o += 4) view.setFloat32(o, f.exact![i], true);
  if (sec.half) {
    for (let i = 0; i < n; i++) view.setUint16(o + 2 * i, f.half![i], true);
    o += sec.half;
  }
  if (sec.codes) {
    for (let i = 0; i < n; i++) view.setInt8(o + i, f.codes![i]);
    o += sec.codes;
  }
  if (sec.scales) for (let i = 0; i < f.rows; i++, o += 4) view.setFloat32(o, f.scales![i], true);
  view.setUint32(o, crc32(out.subarray(0, o)), true);
  return out;
}

function corrupt(problem: string): never {
  argError('CORRUPT_DATA', 'loadCorpus', 'bytes', problem);
}

const isInt = (v: unknown, min: number, max: number): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;

/** Parses and fully validates a corpus file (versions 1 and 2). */
export function decodeCorpusFile(bytes: Uint8Array): CorpusFile {
  if (!(bytes instanceof Uint8Array)) {
    argError('INVALID_TYPE', 'loadCorpus', 'bytes', 'must be a Uint8Array.');
  }
  if (bytes.length < 20) corrupt(`is truncated: ${bytes.length} bytes is shorter than any corpus file.`);
  if (new TextDecoder().decode(bytes.subarray(0, 8)) !== CORPUS_MAGIC)
    corrupt('is not a CosineKit corpus file (bad magic).');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version < CORPUS_OLDEST_VERSION || version > CORPUS_FORMAT_VERSION) {
    corrupt(
      `has format version ${version}; this library reads versions ${CORPUS_OLDEST_VERSION} to ${CORPUS_FORMAT_VERSION}.`,
    );
  }
  const stored = view.getUint32(bytes.length - 4, true);
  if (crc32(bytes.subarray(0, bytes.length - 4)) !== stored)
    corrupt('fails its checksum: the file is truncated or corrupted.');
  const h = view.getUint32(12, true);
  if (h % 4 !== 0 || 16 + h + 4 > bytes.length) corrupt('has a header length that does not fit the file.');
  let head: Record<string, unknown>;
  try {
    head = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(16, 16 + h)));
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
  if (ids !== null && new Set(ids as unknown[]).size !== rows) corrupt('has ids that repeat.');
  const r = rows;
  const c = cols;
  const st = storage as CorpusStorage;
  const sec = version === 1 ? { exact: 4 * r * c, half: 0, codes: 0, scales: 0 } : sections(r, c, st, rerank);
  const expected = 16 + h + 4 * r + sec.exact + sec.half + sec.codes + sec.scales + 4;
  if (bytes.length !== expected) corrupt(`has ${bytes.length} bytes; its header describes ${expected}.`);
  const ordinals = new Int32Array(r);
  let o = 16 + h;
  for (let i = 0; i < r; i++, o += 4) {
    ordinals[i] = view.getInt32(o, true);
    if (ordinals[i] < 0 || ordinals[i] >= next || (i > 0 && ordinals[i] <= ordinals[i - 1])) {
      corrupt(`has row ordinals out of order or out of [0, next) at row ${i}.`);
    }
  }
  const n = r * c;
  let exact: Float32Array | null = null;
  let half: Uint16Array | null = null;
  let codes: Int8Array | null = null;
  let scales: Float32Array | null = null;
  if (sec.exact) {
    exact = new Float32Array(n);
    for (let i = 0; i < n; i++, o += 4) {
      exact[i] = view.getFloat32(o, true);
      if (!Number.isFinite(exact[i])) corrupt(`holds a non-finite value at row ${Math.floor(i / c)}.`);
    }
    if (version >= 2) exact = admitUnitRows(exact, r, c);
  }
  if (sec.half) {
    half = new Uint16Array(n);
    for (let i = 0; i < n; i++) half[i] = view.getUint16(o + 2 * i, true);
    o += sec.half;
    checkHalfRows(half, r, c);
  }
  if (sec.codes) {
    codes = new Int8Array(n);
    for (let i = 0; i < n; i++) codes[i] = view.getInt8(o + i);
    o += sec.codes;
    scales = new Float32Array(r);
    for (let i = 0; i < r; i++, o += 4) scales[i] = view.getFloat32(o, true);
    checkInt8Rows(codes, scales, r, c);
  }
  return {
    version,
    rows: r,
    cols: c,
    storage: st,
    rerank: st === 'float32' ? 0 : rerank,
    next,
    ids: ids as CorpusFile['ids'],
    ordinals,
    exact,
    half,
    codes,
    scales,
  };
}

/** How far from 1 the norm of a float32-rounded unit row may be (rounding only: about sqrt(d) * 2^-24). */
const UNIT_SLACK = 1e-5;

/**
 * The float rows of a file as a backend may take them verbatim: unit rows (what the encoder writes)
 * pass as they are; any other finite row (a crafted file: subnormals, 1e30, unnormalised) is
 * normalised exactly as `corpus()` would normalise it, in float64, so no engine sees an extreme.
 */
function admitUnitRows(x: Float32Array, rows: number, cols: number): Float32Array {
  let out: Float32Array | null = null;
  for (let i = 0; i < rows; i++) {
    const row = x.subarray(i * cols, (i + 1) * cols);
    let ss = 0;
    for (let j = 0; j < cols; j++) ss += row[j] * row[j];
    if (ss === 0 || Math.abs(Math.sqrt(ss) - 1) <= UNIT_SLACK) continue;
    out ??= x.slice();
    out.set(normalisedF32(row, 1, cols), i * cols);
  }
  return out ?? x;
}

/** binary16 rows: finite, and unit length within float16 rounding (or zero). */
function checkHalfRows(h: Uint16Array, rows: number, cols: number): void {
  const slack = 2 ** -11 + Math.sqrt(cols) * 2 ** -25 + UNIT_SLACK;
  for (let i = 0; i < rows; i++) {
    let ss = 0;
    for (let j = i * cols; j < (i + 1) * cols; j++) {
      if ((h[j] & 0x7c00) === 0x7c00) corrupt(`holds a non-finite float16 value at row ${i}.`);
      const e = (h[j] >> 10) & 0x1f;
      const m = h[j] & 0x3ff;
      const v = e === 0 ? m * 2 ** -24 : (1 + m / 1024) * 2 ** (e - 15);
      ss += v * v;
    }
    if (ss !== 0 && Math.abs(Math.sqrt(ss) - 1) > slack)
      corrupt(`holds a float16 row ${i} that is not unit length.`);
  }
}

/** int8 rows as the quantiser makes them: codes in [-127, 127] reaching ±127, scale finite and positive, unit length within the int8 bound. */
function checkInt8Rows(codes: Int8Array, scales: Float32Array, rows: number, cols: number): void {
  for (let i = 0; i < rows; i++) {
    const s = scales[i];
    let m = 0;
    let ss = 0;
    for (let j = i * cols; j < (i + 1) * cols; j++) {
      const q = codes[j];
      if (q === -128) corrupt(`holds the int8 code -128 at row ${i}; codes are in [-127, 127].`);
      m = Math.max(m, Math.abs(q));
      ss += q * q;
    }
    if (m === 0) {
      if (s !== 0) corrupt(`holds a zero int8 row ${i} with scale ${s}.`);
      continue;
    }
    if (m !== 127) corrupt(`holds an int8 row ${i} whose largest code is ${m}, not 127.`);
    if (!(Number.isFinite(s) && s > 0)) corrupt(`holds an int8 row ${i} with scale ${s}.`);
    // ||x^ - x|| <= sqrt(d) * s / 2 for the unit row x, so the stored row's norm is that close to 1.
    const norm = Math.sqrt(ss) * s;
    if (Math.abs(norm - 1) > (Math.sqrt(cols) * s) / 2 + UNIT_SLACK)
      corrupt(`holds an int8 row ${i} that is not unit length (norm ${norm}).`);
  }
}
