import type { CorpusStorage, StoredCorpus } from './contract.js';
import { argError } from './errors.js';
import { fromHalf } from './kernels/half.js';

/**
 * The most ids one corpus holds: 2^24, the most entries a JavaScript Map holds (V8's; the ids'
 * index is one). A corpus without ids has no such limit.
 */
export const MAX_IDS = 2 ** 24;

/** `INVALID_ARGUMENT` for `n` more ids where `held` are taken (see {@link MAX_IDS}); a file's ids are `n` with none held. */
export function tooManyIds(op: string, arg: string, n: number, held: number): never {
  const taken = held > 0 ? `, and the corpus holds ${held}` : '';
  return argError(
    'INVALID_ARGUMENT',
    op,
    arg,
    `holds ${n} ids${taken}: a corpus with ids holds at most ${MAX_IDS} (2^24, the most entries a JavaScript Map holds). Use a corpus without ids (search answers its rows' ordinals) or several corpora.`,
  );
}

/**
 * The largest ordinal a corpus row can get: ordinals are int32, and the next one to assign must
 * stay representable, so `add` refuses rows past it rather than wrap around.
 */
export const MAX_ORDINAL = 2 ** 31 - 2;

/** Whether a storage quantises (keeps something other than the exact float32 rows). */
export function quantised(storage: CorpusStorage): boolean {
  return storage !== 'float32';
}

/** The rows `stored` represents, decoded to float32: the exact rows when kept, else dequantised. */
export function decodeStoredRows(stored: StoredCorpus): Float32Array {
  if (stored.exact) return stored.exact;
  const n = stored.rows * stored.cols;
  const out = new Float32Array(n);
  if (stored.half) {
    for (let i = 0; i < n; i++) out[i] = fromHalf(stored.half[i]);
  } else if (stored.codes && stored.scales) {
    const d = stored.cols;
    for (let r = 0; r < stored.rows; r++) {
      const s = stored.scales[r];
      for (let j = r * d; j < (r + 1) * d; j++) out[j] = stored.codes[j] * s;
    }
  }
  return out;
}

/** Rows normalised in float64 and rounded to float32, as the reference stores them; zero rows stay zero. */
export function normalisedF32(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let ss = 0;
    for (let j = 0; j < cols; j++) ss += data[o + j] * data[o + j];
    const inv = ss > 0 ? 1 / Math.sqrt(ss) : 0;
    for (let j = 0; j < cols; j++) out[o + j] = data[o + j] * inv;
  }
  return out;
}

/** A stored representation, empty, for `rows` rows, with the same sections as `like`. */
function emptyLike(like: StoredCorpus, rows: number): StoredCorpus {
  const n = rows * like.cols;
  return {
    rows,
    cols: like.cols,
    storage: like.storage,
    rerank: like.rerank,
    exact: like.exact ? new Float32Array(n) : null,
    half: like.half ? new Uint16Array(n) : null,
    codes: like.codes ? new Int8Array(n) : null,
    scales: like.scales ? new Float32Array(rows) : null,
  };
}

/**
 * The rows of several stored representations (same storage and width) that `keep` selects, in
 * order, as one: codes, scales, bits and float rows copied as they are.
 */
export function gatherStored(
  parts: readonly StoredCorpus[],
  keep: (part: number, row: number) => boolean,
): StoredCorpus {
  let rows = 0;
  for (let p = 0; p < parts.length; p++) for (let j = 0; j < parts[p].rows; j++) if (keep(p, j)) rows++;
  // One part kept whole is its own gathering: a copy would be one more new buffer, whose first
  // touch costs as much as the copy (a save's export, gathering and file were three).
  if (parts.length === 1 && rows === parts[0].rows) return parts[0];
  const out = emptyLike(parts[0], rows);
  const d = out.cols;
  let r = 0;
  for (let p = 0; p < parts.length; p++) {
    const s = parts[p];
    // Runs of kept rows, each one copy per section (a copy per row was a quarter of a save).
    for (let j = 0; j < s.rows; ) {
      if (!keep(p, j)) {
        j++;
        continue;
      }
      let e = j + 1;
      while (e < s.rows && keep(p, e)) e++;
      if (out.exact) out.exact.set(s.exact!.subarray(j * d, e * d), r * d);
      if (out.half) out.half.set(s.half!.subarray(j * d, e * d), r * d);
      if (out.codes) out.codes.set(s.codes!.subarray(j * d, e * d), r * d);
      if (out.scales) out.scales.set(s.scales!.subarray(j, e), r);
      r += e - j;
      j = e;
    }
  }
  return out;
}
