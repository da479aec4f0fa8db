import type { Activation } from '@cosinekit/core/backend';
import {
  ACTIVATIONS,
  argError,
  crc32,
  describeType,
  errorText,
  isArrayArg,
  isCosineKitError,
  valueText,
} from '@cosinekit/core/backend';
import { isA, MAX_LAYER_WEIGHTS, plainView, viewLength } from './check.js';
import { Encoder } from './encoder.js';
import { layerFromSaved, type SavedLayerGeometry, savedGeometry, savedParameters } from './layer-io.js';

/** The four bytes every saved encoder starts with. */
export const ENCODER_MAGIC = 'CKNN';
/**
 * The format version this library writes. Version 2 ends with the CRC-32 of every byte before it
 * (a flipped weight bit loaded without a word in version 1, which is still read).
 */
export const ENCODER_FORMAT_VERSION = 2;
/** The oldest format version this library reads. */
const OLDEST_VERSION = 1;
/** Bytes of the checksum that ends a version 2 file. */
const TRAILER = 4;

/**
 * One layer as recorded in the header of a saved encoder: `inputs` and `units` are values per row
 * for every kind; convolution and pooling layers add their geometry.
 */
export interface SavedLayer extends SavedLayerGeometry {
  readonly inputs: number;
  readonly units: number;
  readonly activation: Activation;
  readonly bias: boolean;
}

/** The JSON header of a saved encoder (see the package README for the byte layout). */
export interface EncoderHeader {
  readonly format: 'cosinekit-nn';
  readonly normalize: boolean;
  readonly layers: readonly SavedLayer[];
  /** Number of float32 values that follow the header. */
  readonly parameters: number;
  /** Free-form metadata given to {@link saveEncoder}. */
  readonly meta?: Record<string, unknown>;
}

const PREFIX = 12;

/** Most layers a saved encoder may declare. */
export const MAX_SAVED_LAYERS = 1024;
/** Most weights one layer may hold (`inputs * units`): the largest array the kernels index. */
/**
 * Largest |weight| a saved encoder may hold. Training never reaches it, and beyond it a float32
 * engine overflows within a layer or two (2^40 times an input of 2^40, summed, times the next
 * layer's weight), so a file holding one is crafted or damaged rather than a model.
 */
export const MAX_SAVED_WEIGHT = 2 ** 40;

/**
 * Where JSON would not write a value of `meta` as it is: what a `JSON.stringify` replacer sees
 * (each value read once, after its `toJSON`), checked one value at a time. The first such value,
 * by path, is kept in `lost`: a non-finite number (null), -0 (0), a Map, Set or typed array ({} or
 * an object of indices), a function or a symbol (dropped), undefined or a hole in an array (null),
 * an object with symbol keys (dropped). A value with `toJSON` is checked as it says to write it. Checking the value JSON was handed rather than reading
 * `meta` again: a getter that answered NaN to JSON and 1 to a second reading saved null.
 */
function metaChecker(header: object): {
  replacer: (this: unknown, key: string, v: unknown) => unknown;
  lost(): string | undefined;
} {
  const paths = new Map<object, string>();
  let lost: string | undefined;
  const why = (v: unknown, path: string, inArray: boolean, hole: boolean): string | undefined => {
    if (typeof v === 'number')
      return !Number.isFinite(v)
        ? `${path} is ${v}, written as null`
        : Object.is(v, -0)
          ? `${path} is -0, written as 0`
          : undefined;
    if (v === undefined)
      return inArray ? `${path} is ${hole ? 'a hole' : 'undefined'}, written as null` : undefined;
    if (typeof v === 'function' || typeof v === 'symbol') return `${path} is a ${typeof v}, which JSON drops`;
    if (typeof v !== 'object' || v === null) return undefined;
    if (v instanceof Map || v instanceof Set || ArrayBuffer.isView(v) || v instanceof ArrayBuffer)
      return `${path} is a ${describeType(v)}, which JSON writes as a plain object`;
    if (
      !Array.isArray(v) &&
      Object.getOwnPropertySymbols(v).some((k) => Object.prototype.propertyIsEnumerable.call(v, k))
    )
      return `${path} has a symbol key, which JSON drops`;
    return undefined;
  };
  return {
    replacer(key, v) {
      const holder = this as object;
      const base = holder === header ? (key === 'meta' ? '' : undefined) : paths.get(holder);
      if (base === undefined || lost !== undefined) return v;
      const inArray = Array.isArray(holder);
      const path = holder === header ? 'meta' : inArray ? `${base}[${key}]` : `${base}.${key}`;
      lost = why(v, path, inArray, inArray && v === undefined && !(key in holder));
      if (typeof v === 'object' && v !== null) paths.set(v, path);
      return v;
    },
    lost: () => lost,
  };
}

/**
 * Serialises an encoder into one byte buffer: `'CKNN'`, version (u32 LE), header length (u32 LE),
 * the JSON header (space-padded so the weights start 4-byte aligned), then every weight as a
 * little-endian float32, layer by layer (W row-major `inputs x units`, then the bias).
 *
 * Never writes a file {@link loadEncoder} refuses: an encoder of more than
 * {@link MAX_SAVED_LAYERS} layers or holding a weight beyond ±{@link MAX_SAVED_WEIGHT} is
 * `INVALID_ARGUMENT`, a non-finite weight `NON_FINITE`, each naming `encoder`. `meta` must be a
 * plain object that JSON writes as it is: a NaN or ±Infinity (null in JSON), -0 (0), a Map, Set or
 * typed array (a plain object), a function, symbol or symbol key (dropped) anywhere in it is
 * `INVALID_ARGUMENT` naming `meta` and the path to the value. Each value is read once.
 */
export function saveEncoder(encoder: Encoder, meta?: Record<string, unknown>): Uint8Array {
  const op = 'saveEncoder';
  if (!isA(encoder, Encoder))
    argError(
      'INVALID_TYPE',
      op,
      'encoder',
      `must be an Encoder (createEncoder), got ${encoder === null ? 'null' : typeof encoder}.`,
    );
  if (meta !== undefined && (typeof meta !== 'object' || meta === null || isArrayArg(op, 'meta', meta)))
    argError('INVALID_TYPE', op, 'meta', 'must be a plain object (loadEncoder reads nothing else).');
  if (encoder.layers.length > MAX_SAVED_LAYERS)
    argError(
      'INVALID_ARGUMENT',
      op,
      'encoder',
      `has ${encoder.layers.length} layers; an encoder file holds at most ${MAX_SAVED_LAYERS}, which loadEncoder reads.`,
    );
  const params = encoder.parameters();
  const count = params.reduce((s, p) => s + p.length, 0);
  // Never write a file loadEncoder refuses: every weight, as the float32 it is stored as, finite
  // and within ±2^40 (a NaN weight once saved without a word, and the file then failed to load).
  params.forEach((p, k) => {
    for (let i = 0; i < p.length; i++) {
      const w = Math.fround(p[i]);
      if (!Number.isFinite(w))
        argError(
          'NON_FINITE',
          op,
          'encoder',
          `holds ${p[i]} in its parameter array ${k}, at ${i}${Number.isFinite(p[i]) ? ' (past float32)' : ''}.`,
        );
      if (Math.abs(w) > MAX_SAVED_WEIGHT)
        argError(
          'INVALID_ARGUMENT',
          op,
          'encoder',
          `holds ${p[i]} in its parameter array ${k}, at ${i}: beyond ±2^40, which loadEncoder refuses.`,
        );
    }
  });
  const header: EncoderHeader = {
    format: 'cosinekit-nn',
    normalize: encoder.normalize,
    layers: encoder.layers.map((l) => ({
      inputs: l.inputs,
      units: l.units,
      activation: l.activation,
      bias: l.hasBias,
      ...savedGeometry(l),
    })),
    parameters: count,
    ...(meta ? { meta } : {}),
  };
  let text: string;
  // What JSON changes without a word: NaN and ±Infinity written as null, a Map or a Set as {}, a
  // function or undefined dropped (a probe's Map came back as {}). Checked as JSON reads meta, once.
  const check = metaChecker(header);
  try {
    text = JSON.stringify(header, meta === undefined ? undefined : check.replacer);
  } catch (e) {
    // A cycle or a bigint in meta, or a getter that threw: JSON cannot hold it.
    return argError('INVALID_ARGUMENT', op, 'meta', `cannot be written as JSON: ${errorText(e)}`, e);
  }
  const lost = check.lost();
  if (lost) argError('INVALID_ARGUMENT', op, 'meta', `cannot be written as JSON as it is: ${lost}.`);
  // What loadEncoder will read back: a meta whose JSON is not an object (a Date, a toJSON
  // returning an array) once saved and then failed to load.
  if (meta !== undefined) {
    const back = (JSON.parse(text) as { meta?: unknown }).meta;
    if (typeof back !== 'object' || back === null || Array.isArray(back))
      argError(
        'INVALID_ARGUMENT',
        op,
        'meta',
        `is written by JSON as ${back === null ? 'null' : Array.isArray(back) ? 'an array' : typeof back}, not an object (its toJSON?); loadEncoder reads objects only.`,
      );
  }
  let json = new TextEncoder().encode(text);
  const pad = (4 - ((PREFIX + json.length) % 4)) % 4;
  if (pad > 0) {
    const padded = new Uint8Array(json.length + pad).fill(0x20);
    padded.set(json);
    json = padded;
  }
  const bytes = new Uint8Array(PREFIX + json.length + 4 * count + TRAILER);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < 4; i++) bytes[i] = ENCODER_MAGIC.charCodeAt(i);
  view.setUint32(4, ENCODER_FORMAT_VERSION, true);
  view.setUint32(8, json.length, true);
  bytes.set(json, PREFIX);
  let at = PREFIX + json.length;
  for (const p of params) {
    for (let i = 0; i < p.length; i++, at += 4) view.setFloat32(at, p[i], true);
  }
  view.setUint32(at, crc32(bytes.subarray(0, at)), true);
  return bytes;
}

/** The public function reading the bytes, named in its errors (set by each entry point). */
let reading = 'loadEncoder';

function corrupt(problem: string): never {
  argError('CORRUPT_DATA', reading, 'bytes', problem);
}

/**
 * Refuses what is not bytes at all before it is read as a file (see `viewLength`): another type, a
 * Proxy around a Uint8Array or one whose `length` is overridden is `INVALID_TYPE`, a Uint8Array
 * whose buffer was transferred (it reads as 0 bytes) `DISPOSED`, naming `op`. Returns a plain
 * view of the same bytes, so no subclass's `subarray` or `buffer` is read later.
 */
function checkBytes(op: string, bytes: unknown): Uint8Array {
  reading = op;
  const n = viewLength(op, 'bytes', bytes, [Uint8Array], 'Uint8Array (or Buffer)');
  return plainView(bytes as Uint8Array, n);
}

function isPositiveInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0;
}

/**
 * Reads the header of a saved encoder without building it. Throws `CORRUPT_DATA` on bad bytes
 * (`INVALID_TYPE` for a value that is not a Uint8Array, `DISPOSED` for a detached one).
 */
export function readEncoderHeader(bytes: Uint8Array): EncoderHeader {
  return readHeader(checkBytes('readEncoderHeader', bytes));
}

function readHeader(bytes: Uint8Array): EncoderHeader {
  if (bytes.length < PREFIX) corrupt(`is ${bytes.length} bytes long, too short for an encoder file.`);
  const magic = String.fromCharCode(bytes[0], bytes[1], bytes[2], bytes[3]);
  if (magic !== ENCODER_MAGIC)
    corrupt(`does not start with '${ENCODER_MAGIC}' (found ${JSON.stringify(magic)}).`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(4, true);
  if (version < OLDEST_VERSION || version > ENCODER_FORMAT_VERSION) {
    corrupt(
      `has format version ${version}; this library reads versions ${OLDEST_VERSION} to ${ENCODER_FORMAT_VERSION}.`,
    );
  }
  const trailer = version >= 2 ? TRAILER : 0;
  const length = view.getUint32(8, true);
  if (PREFIX + length > bytes.length) corrupt(`is truncated: its header needs ${length} bytes.`);
  let header: EncoderHeader;
  try {
    header = JSON.parse(
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(PREFIX, PREFIX + length)),
    );
  } catch (err) {
    corrupt(`has an unreadable header: ${errorText(err)}`);
  }
  if (header === null || typeof header !== 'object' || header.format !== 'cosinekit-nn') {
    corrupt("has a header that is not a 'cosinekit-nn' header.");
  }
  if (!Array.isArray(header.layers) || header.layers.length === 0) corrupt('has no layers.');
  if (header.layers.length > MAX_SAVED_LAYERS)
    corrupt(`declares ${header.layers.length} layers; at most ${MAX_SAVED_LAYERS} are read.`);
  if (
    header.meta !== undefined &&
    (header.meta === null || typeof header.meta !== 'object' || Array.isArray(header.meta))
  )
    corrupt("has a 'meta' that is not an object.");
  const layerError = (i: number, err: unknown): never =>
    corrupt(`has a layer ${i} that cannot be built: ${errorText(err)}`);
  // First the cheap checks of every layer and the weights each declares, then the count and the
  // file's length, and only then each layer built to check its geometry: a crafted header of many
  // large layers in a small file once took seconds to refuse.
  let count = 0;
  header.layers.forEach((l, i) => {
    if (
      !l ||
      typeof l !== 'object' ||
      !isPositiveInt(l.inputs) ||
      !isPositiveInt(l.units) ||
      typeof l.bias !== 'boolean'
    ) {
      corrupt(`has an invalid shape for layer ${i}.`);
    }
    if (l.inputs * l.units > MAX_LAYER_WEIGHTS)
      corrupt(`has layer ${i} of ${l.inputs} x ${l.units} weights, more than one array can hold.`);
    if (!ACTIVATIONS.includes(l.activation)) corrupt(`has an unknown activation for layer ${i}.`);
    if (i > 0 && l.inputs !== header.layers[i - 1].units) {
      corrupt(
        `has layer ${i} taking ${l.inputs} inputs after a layer of ${header.layers[i - 1].units} units.`,
      );
    }
    try {
      count += savedParameters(l);
    } catch (err) {
      layerError(i, err);
    }
  });
  if (typeof header.normalize !== 'boolean') corrupt("has no boolean 'normalize' flag.");
  if (header.parameters !== count)
    corrupt(`declares ${valueText(header.parameters)} parameters but its layers hold ${count}.`);
  const expected = PREFIX + length + 4 * count + trailer;
  if (bytes.length !== expected) {
    corrupt(
      bytes.length < expected
        ? `is truncated: ${bytes.length} bytes, the header's shapes need ${expected}.`
        : `has ${bytes.length - expected} unexpected trailing bytes.`,
    );
  }

  header.layers.forEach((l, i) => {
    try {
      layerFromSaved(l, undefined, reading);
    } catch (err) {
      layerError(i, err);
    }
  });
  // After the header's own checks (a forged header is named for what it is wrong in), before any
  // weight is read: bytes changed anywhere, a weight's included, are refused.
  if (
    trailer > 0 &&
    view.getUint32(expected - TRAILER, true) !== crc32(bytes.subarray(0, expected - TRAILER))
  )
    corrupt('fails its checksum: its bytes changed since it was saved.');
  return header;
}

/**
 * Rebuilds a float32 encoder from {@link saveEncoder}'s bytes. The bytes are untrusted: a file of
 * another version, with a wrong or truncated shape, more than {@link MAX_SAVED_LAYERS} layers, a
 * layer too large for one array, or a weight that is NaN, infinite or beyond
 * {@link MAX_SAVED_WEIGHT} throws a `CosineKitError` with code `'CORRUPT_DATA'` (a value that
 * is not a Uint8Array: `INVALID_TYPE`; a detached one: `DISPOSED`).
 */
export function loadEncoder(bytes: Uint8Array): Encoder {
  bytes = checkBytes('loadEncoder', bytes);
  const header = readHeader(bytes);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = PREFIX + view.getUint32(8, true);
  const read = (n: number): Float32Array => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++, at += 4) out[i] = view.getFloat32(at, true);
    for (let i = 0; i < n; i++) {
      if (!Number.isFinite(out[i])) corrupt('holds NaN or infinite weights.');
      if (Math.abs(out[i]) > MAX_SAVED_WEIGHT)
        corrupt(`holds a weight of ${out[i]}, beyond ±2^40: not a trained model.`);
    }
    return out;
  };
  const layers = header.layers.map((l, i) => {
    try {
      return layerFromSaved(l, read, reading).layer;
    } catch (e) {
      if (isCosineKitError(e)) throw e;
      // readHeader built every layer once: a layer that fails now is still the file's fault.
      return corrupt(`has a layer ${i} that cannot be built: ${errorText(e)}`);
    }
  });
  let encoder: Encoder;
  try {
    encoder = new Encoder(layers, header.normalize);
  } catch (e) {
    // Widths or images that do not chain: the file's, not the caller's.
    if (isCosineKitError(e)) corrupt(`holds layers that do not chain: ${e.message}`);
    throw e;
  }
  // As createEncoder refuses it: every embedding +-1 (a file loaded one and answered [1, -1, 1]).
  if (encoder.normalize && encoder.outputs === 1)
    corrupt('normalizes a 1-wide output: its embeddings would be +-1, a model createEncoder refuses.');
  return encoder;
}
