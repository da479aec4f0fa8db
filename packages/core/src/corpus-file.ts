import type { CorpusStorage } from './contract.js';
import { crc32 } from './crc32.js';
import { CosineKitError } from './errors.js';

/**
 * The corpus file format, version 1 (all integers little-endian):
 *
 * | offset        | size           | content                                                    |
 * |---------------|----------------|------------------------------------------------------------|
 * | 0             | 8              | magic `CKCORPUS`                                           |
 * | 8             | 4              | u32 format version (1)                                     |
 * | 12            | 4              | u32 H: header length in bytes (a multiple of 4)           |
 * | 16            | H              | UTF-8 JSON header, space-padded: `{ rows, cols, storage, rerank, next, ids }` |
 * | 16 + H        | 4 * rows       | i32 ordinal of each row (the index search results report), ascending |
 * | ...           | 4 * rows * cols| f32 rows, L2-normalised, in ordinal order                  |
 * | end - 4       | 4              | u32 CRC-32 of every byte before it                         |
 *
 * `ids` is the caller's ids in row order, or null. Any truncation, bit flip, unknown version or
 * inconsistent header is rejected with `CORRUPT_DATA` before anything is allocated on a backend.
 */
export const CORPUS_MAGIC = 'CKCORPUS';
export const CORPUS_FORMAT_VERSION = 1;

/** What a corpus file holds. */
export interface CorpusFile {
  rows: number;
  cols: number;
  storage: CorpusStorage;
  rerank: number;
  /** Next ordinal to assign on `add`. */
  next: number;
  ids: (number | string)[] | null;
  ordinals: Int32Array;
  data: Float32Array;
}

/** Serialises a corpus file. */
export function encodeCorpusFile(f: CorpusFile): Uint8Array {
  const json = JSON.stringify({
    rows: f.rows,
    cols: f.cols,
    storage: f.storage,
    rerank: f.rerank,
    next: f.next,
    ids: f.ids,
  });
  let header = new TextEncoder().encode(json);
  const padded = Math.ceil(header.length / 4) * 4;
  if (padded !== header.length) {
    const h = new Uint8Array(padded).fill(0x20);
    h.set(header);
    header = h;
  }
  const total = 16 + padded + 4 * f.rows + 4 * f.rows * f.cols + 4;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out.set(new TextEncoder().encode(CORPUS_MAGIC), 0);
  view.setUint32(8, CORPUS_FORMAT_VERSION, true);
  view.setUint32(12, padded, true);
  out.set(header, 16);
  let o = 16 + padded;
  for (let i = 0; i < f.rows; i++, o += 4) view.setInt32(o, f.ordinals[i], true);
  for (let i = 0; i < f.data.length; i++, o += 4) view.setFloat32(o, f.data[i], true);
  view.setUint32(o, crc32(out.subarray(0, o)), true);
  return out;
}

function corrupt(problem: string): never {
  throw new CosineKitError('CORRUPT_DATA', `Argument 'bytes' passed to 'loadCorpus' ${problem}`, {
    op: 'loadCorpus',
    arg: 'bytes',
  });
}

/** Parses and fully validates a corpus file. */
export function decodeCorpusFile(bytes: Uint8Array): CorpusFile {
  if (!(bytes instanceof Uint8Array)) {
    throw new CosineKitError(
      'INVALID_TYPE',
      "Argument 'bytes' passed to 'loadCorpus' must be a Uint8Array.",
      {
        op: 'loadCorpus',
        arg: 'bytes',
      },
    );
  }
  if (bytes.length < 20) corrupt(`is truncated: ${bytes.length} bytes is shorter than any corpus file.`);
  if (new TextDecoder().decode(bytes.subarray(0, 8)) !== CORPUS_MAGIC)
    corrupt('is not a CosineKit corpus file (bad magic).');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== CORPUS_FORMAT_VERSION)
    corrupt(`has format version ${version}; this library reads version ${CORPUS_FORMAT_VERSION}.`);
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
  const int = (v: unknown, min: number) => typeof v === 'number' && Number.isInteger(v) && v >= min;
  if (!int(rows, 1) || !int(cols, 1) || !int(rerank, 0) || !int(next, 0))
    corrupt('has a header with invalid sizes.');
  if (storage !== 'float32' && storage !== 'float16' && storage !== 'int8')
    corrupt(`has an unknown storage '${String(storage)}'.`);
  const r = rows as number;
  const c = cols as number;
  if (
    ids !== null &&
    (!Array.isArray(ids) ||
      ids.length !== r ||
      !ids.every((x) => typeof x === 'number' || typeof x === 'string'))
  ) {
    corrupt('has ids that do not match its rows.');
  }
  if (ids !== null && new Set(ids as unknown[]).size !== r) corrupt('has ids that repeat.');
  const expected = 16 + h + 4 * r + 4 * r * c + 4;
  if (bytes.length !== expected) corrupt(`has ${bytes.length} bytes; its header describes ${expected}.`);
  const ordinals = new Int32Array(r);
  let o = 16 + h;
  for (let i = 0; i < r; i++, o += 4) {
    ordinals[i] = view.getInt32(o, true);
    if (ordinals[i] < 0 || ordinals[i] >= (next as number) || (i > 0 && ordinals[i] <= ordinals[i - 1])) {
      corrupt(`has row ordinals out of order at row ${i}.`);
    }
  }
  const data = new Float32Array(r * c);
  for (let i = 0; i < data.length; i++, o += 4) {
    data[i] = view.getFloat32(o, true);
    if (!Number.isFinite(data[i])) corrupt(`holds a non-finite value at row ${Math.floor(i / c)}.`);
  }
  return {
    rows: r,
    cols: c,
    storage,
    rerank: rerank as number,
    next: next as number,
    ids: ids as CorpusFile['ids'],
    ordinals,
    data,
  };
}
