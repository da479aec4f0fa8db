import { argError, isArrayArg, reading } from './errors.js';
import { MAX_IDS } from './stored.js';
import { attached, describeType, refuseFakeView, valueText } from './tensor.js';

/** A caller's id for a corpus row (the row's ordinal when the corpus has no ids). */
type Id = number | string;

/**
 * Which rows a search may return. Exactly one of:
 * - `{ allow: ids }`: only these rows. Ids the corpus does not hold (never added, or removed) are
 *   ignored, as `remove` ignores them.
 * - `{ deny: ids }`: every row but these; unknown ids are ignored likewise.
 * - `{ mask: Uint8Array }`: one byte per live row, in ordinal order (the column order of
 *   `similarity`): 1 keeps the row, 0 drops it; its length must be `corpus.rows` when the search runs.
 *   Byte i is the i-th live row, which is ordinal i only while no row has been removed.
 * - a predicate `(id) => boolean`, called once per live row when the search runs; it must return a
 *   boolean (an async predicate is refused rather than read as true).
 *
 * Lists and masks are copied when `search` is called (a mask of ones is not: the search then runs
 * unfiltered, as for any filter every live row passes); a predicate is called when the search runs.
 */
export type SearchFilter =
  | { readonly allow: readonly Id[] }
  | { readonly deny: readonly Id[] }
  | { readonly mask: Uint8Array }
  | ((id: Id) => boolean);

/** Options of `Corpus.search`. */
export interface SearchOptions {
  /**
   * Restricts the candidates. The result holds the `k` best rows among those that pass, or all of
   * them (`result.k` is then their number, possibly 0) when fewer than `k` pass.
   */
  filter?: SearchFilter;
  /** Stops the search with an `ABORTED` error; it is checked before the call and between steps. */
  signal?: AbortSignal;
}

/** A filter after admission: a private copy, checked for type. */
export type AdmittedFilter =
  | { kind: 'allow'; ids: readonly Id[] }
  | { kind: 'deny'; ids: readonly Id[] }
  | { kind: 'mask'; mask: Uint8Array }
  /** A mask of `rows` bytes, every one 1: the search runs as one without a filter. */
  | { kind: 'all'; rows: number }
  | { kind: 'predicate'; test: (id: Id) => boolean };

/**
 * Checks and copies `filter` (the snapshot rule); `op` names the public operation. An error the
 * caller's own objects throw while read (a getter, a Proxy trap) is `INVALID_ARGUMENT` naming the
 * filter, its error as `cause`.
 */
export function admitFilter(op: string, filter: unknown): AdmittedFilter {
  return reading(op, 'options.filter', () => admitted(op, filter));
}

function admitted(op: string, filter: unknown): AdmittedFilter {
  const arg = 'options.filter';
  if (typeof filter === 'function') return { kind: 'predicate', test: filter as (id: Id) => boolean };
  if (typeof filter !== 'object' || filter === null || isArrayArg(op, arg, filter))
    argError(
      'INVALID_TYPE',
      op,
      arg,
      `must be { allow: ids }, { deny: ids }, { mask: Uint8Array } or a function, got ${describeType(filter)}.`,
    );
  const f = filter as Record<string, unknown>;
  const keys = ['allow', 'deny', 'mask'].filter((k) => f[k] !== undefined);
  if (keys.length !== 1)
    argError(
      'INVALID_ARGUMENT',
      op,
      arg,
      `must have exactly one of 'allow', 'deny' or 'mask', got ${keys.length === 0 ? 'none' : keys.join(' and ')}.`,
    );
  const key = keys[0];
  if (key === 'mask') {
    const m = f.mask;
    // A Proxy of a Uint8Array passes instanceof but not the engine's own reads.
    refuseFakeView(m, op, `${arg}.mask`);
    if (!(m instanceof Uint8Array))
      argError('INVALID_TYPE', op, `${arg}.mask`, `must be a Uint8Array, got ${describeType(m)}.`);
    attached(m, op, `${arg}.mask`);
    // Every row passing, the search is an unfiltered one: no copy, and no filtered search (which
    // cost 1.1-1.6x the plain one on one query).
    if (allOnes(m)) return { kind: 'all', rows: m.length };
    // A copy (a Node Buffer's slice() is a view): the search runs later, on the mask as it was.
    const mask = new Uint8Array(m);
    // Four bytes at a time (a byte loop was a tenth of a filtered search at 200,000 x 96), then
    // the first bad byte found one at a time.
    const words = new Uint32Array(mask.buffer, 0, mask.length >>> 2);
    let i = 0;
    while (i < words.length && (words[i] & 0xfefefefe) === 0) i++;
    for (i *= 4; i < mask.length; i++)
      if (mask[i] > 1)
        argError('INVALID_ARGUMENT', op, `${arg}.mask[${i}]`, `must be 0 or 1, got ${mask[i]}.`);
    return { kind: 'mask', mask };
  }
  const list = f[key];
  if (!isArrayArg(op, `${arg}.${key}`, list))
    argError('INVALID_TYPE', op, `${arg}.${key}`, `must be an array of ids, got ${describeType(list)}.`);
  // A corpus holds 2^24 ids at most (a Map's most entries), so a longer list names rows no corpus
  // has; refused by its length, before any id is read (a Set of them once threw RangeError).
  const length = reading(op, `${arg}.${key}`, () => list.length);
  if (length > MAX_IDS)
    argError(
      'INVALID_ARGUMENT',
      op,
      `${arg}.${key}`,
      `holds ${length} ids: a filter's list holds at most ${MAX_IDS} (2^24, the most ids a corpus holds); pass { mask } instead.`,
    );
  return reading(op, `${arg}.${key}`, () => filterIds(op, `${arg}.${key}`, key, list));
}

/** Whether every byte of `m` is 1, read four at a time where they are aligned. */
function allOnes(m: Uint8Array): boolean {
  const n = m.length;
  const head = Math.min(n, (4 - (m.byteOffset & 3)) & 3);
  for (let i = 0; i < head; i++) if (m[i] !== 1) return false;
  const words = new Uint32Array(m.buffer, m.byteOffset + head, (n - head) >>> 2);
  for (let i = 0; i < words.length; i++) if (words[i] !== 0x01010101) return false;
  for (let i = head + words.length * 4; i < n; i++) if (m[i] !== 1) return false;
  return true;
}

function filterIds(op: string, name: string, key: string, list: unknown[]): AdmittedFilter {
  // A copy, read once; repeats do no harm to a mask. A Set of them cost 58 ms for 100,000 string
  // ids, more than the search they filtered (2.8 ms unfiltered over 200,000 rows).
  const ids = idList(op, name, list);
  return key === 'allow' ? { kind: 'allow', ids } : { kind: 'deny', ids };
}

/**
 * The ids of array `ids` (argument `name` of `op`) copied one by one, each a string or a finite
 * number (`INVALID_TYPE` naming `name[i]` at the first that is not), -0 held as 0 (the corpus takes
 * them as one id already, and a saved file writes it so). Its length is read first: a list
 * claiming more than `most` ({@link MAX_IDS} unless said) (a sparse `new Array(2 ** 32 - 1)`, a Proxy) is
 * `INVALID_ARGUMENT`, as a filter's list is; copied whole before any id was looked at, such a list
 * ended the process (V8's heap exhausted, past any catch).
 */
export function idList(op: string, name: string, ids: readonly unknown[], most = MAX_IDS): Id[] {
  return reading(op, name, () => {
    const n = ids.length;
    if (!(n <= most))
      argError(
        'INVALID_ARGUMENT',
        op,
        name,
        `holds ${valueText(n)} ids: a list of ids holds at most ${most}${most === MAX_IDS ? ' (2^24, the most ids a corpus holds)' : ' here'}.`,
      );
    const out: Id[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const id: unknown = ids[i];
      if (typeof id !== 'string' && !(typeof id === 'number' && Number.isFinite(id)))
        argError(
          'INVALID_TYPE',
          op,
          `${name}[${i}]`,
          `must be a finite number or a string, got ${describeType(id)}.`,
        );
      out[i] = id === 0 ? 0 : id;
    }
    return out;
  });
}

/** Checks `signal` is an AbortSignal (or absent). */
export function checkSignalArg(op: string, signal: unknown): asserts signal is AbortSignal | undefined {
  if (signal === undefined) return;
  if (
    typeof signal !== 'object' ||
    signal === null ||
    reading(
      op,
      'options.signal',
      () =>
        typeof (signal as AbortSignal).aborted !== 'boolean' ||
        typeof (signal as AbortSignal).addEventListener !== 'function',
    )
  )
    argError('INVALID_TYPE', op, 'options.signal', `must be an AbortSignal, got ${describeType(signal)}.`);
}
