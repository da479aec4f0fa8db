import { type Corpus, type CosineKit, SearchResult, Tensor } from '@cosinekit/core';

/**
 * The snapshot rule: what a call uses is its inputs as they were when it was called. Each case
 * makes fresh inputs, calls one public method, and right after the call returns its promise (before
 * awaiting it) tampers with the arrays it was given. The answer must equal, bit for bit, the answer
 * for the same inputs left alone. HOSTILE.md lists these cases too.
 */

/** What a case hands back: the pending call and the arrays the caller could still touch. */
export interface Called {
  readonly pending: Promise<unknown>;
  readonly floats: Float32Array[];
  readonly lists: unknown[][];
}

export interface SnapshotCase {
  /** The call, as a caller writes it. */
  readonly input: string;
  /** Calls the method on fresh inputs. `corpus` is a resident corpus of {@link SNAP_C} (with ids). */
  readonly call: (kit: CosineKit, corpus: Corpus) => Called;
  /** True when the case changes `corpus` (then it gets its own). */
  readonly mutates?: boolean;
}

/** How the caller abuses its arrays after the call. */
export type Tamper = 'overwrite' | 'NaN' | 'transfer';
export const TAMPERS: readonly Tamper[] = ['overwrite', 'NaN', 'transfer'];

const D = 5;
/** Six corpus rows of dimension 5 (not a multiple of 4). */
export const SNAP_C: number[][] = Array.from({ length: 6 }, (_, i) =>
  Array.from({ length: D }, (_, j) => Math.sin(i * 7 + j * 3 + 1)),
);
export const SNAP_IDS = ['r0', 'r1', 'r2', 'r3', 'r4', 'r5'];
const q32 = () => Float32Array.from([0.3, -1.2, 2, 0.5, -0.7, 1, 1, 0.25, -2, 0.5]);
const c32 = () => Float32Array.from(SNAP_C.flat());
const rows = (a: Float32Array) =>
  Array.from({ length: a.length / D }, (_, i) => a.subarray(i * D, (i + 1) * D));

export const SNAPSHOT_CASES: readonly SnapshotCase[] = [
  {
    input: 'kit.cosineMatrix(new Tensor(q, 2, 5), new Tensor(c, 6, 5))',
    call: (kit) => {
      const q = q32();
      const c = c32();
      return {
        pending: kit.cosineMatrix(new Tensor(q, 2, D), new Tensor(c, 6, D)),
        floats: [q, c],
        lists: [],
      };
    },
  },
  {
    input: 'kit.cosineRows(qRows, qRows) // arrays of Float32Array rows',
    call: (kit) => {
      const a = q32();
      const b = q32().reverse();
      return { pending: kit.cosineRows(rows(a), rows(b)), floats: [a, b], lists: [] };
    },
  },
  {
    input: 'kit.rowNorms(c) // one Float32Array row',
    call: (kit) => {
      const c = c32();
      return { pending: kit.rowNorms(c), floats: [c], lists: [] };
    },
  },
  {
    input: 'kit.normalize(number[][])',
    call: (kit) => {
      const list = SNAP_C.map((r) => [...r]);
      return { pending: kit.normalize(list), floats: [], lists: list };
    },
  },
  {
    input: 'kit.topK(new Tensor(q, 2, 5), c6x5, 3)',
    call: (kit) => {
      const q = q32();
      const c = c32();
      return { pending: kit.topK(new Tensor(q, 2, D), new Tensor(c, 6, D), 3), floats: [q, c], lists: [] };
    },
  },
  {
    input: 'kit.corpus(new Tensor(c, 6, 5), { ids }) then search',
    call: (kit) => {
      const c = c32();
      const ids = [...SNAP_IDS];
      const pending = kit.corpus(new Tensor(c, 6, D), { ids }).then(async (k) => {
        const r = await k.search(new Tensor(q32(), 2, D), 3);
        k.dispose();
        return r;
      });
      return { pending, floats: [c], lists: [ids] };
    },
  },
  {
    input: 'corpus.search(new Tensor(q, 2, 5), 3)',
    call: (_, corpus) => {
      const q = q32();
      return { pending: corpus.search(new Tensor(q, 2, D), 3), floats: [q], lists: [] };
    },
  },
  {
    input: 'corpus.similarity(q) // queued behind a search',
    call: (_, corpus) => {
      void corpus.search(new Tensor(q32(), 2, D), 2);
      const q = q32();
      return { pending: corpus.similarity(new Tensor(q, 2, D)), floats: [q], lists: [] };
    },
  },
  {
    input: "corpus.add(rows, ['n0', 'n1']) then search",
    mutates: true,
    call: (_, corpus) => {
      const r = q32();
      const ids = ['n0', 'n1'];
      const pending = corpus
        .add(new Tensor(r, 2, D), ids)
        .then(() => corpus.search(new Tensor(q32(), 2, D), 8));
      return { pending, floats: [r], lists: [ids] };
    },
  },
];

/** Abuses the caller's arrays as `how` says. */
export function tamper(c: Called, how: Tamper): void {
  for (const f of c.floats) {
    if (how === 'transfer') structuredClone(f.buffer, { transfer: [f.buffer] });
    else f.fill(how === 'NaN' ? Number.NaN : 0.5);
  }
  for (const l of c.lists) {
    for (let i = 0; i < l.length; i++) {
      const v = l[i];
      if (Array.isArray(v)) v.fill(how === 'NaN' ? Number.NaN : 0.5);
      else l[i] = typeof v === 'string' ? SNAP_IDS[0] : Number.NaN;
    }
    if (how === 'transfer') l.length = 0;
  }
}

/** An answer reduced to its exact bits. */
export function bits(v: unknown): string {
  const f32 = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length)).join(',');
  if (v instanceof SearchResult) return `${Array.from(v.indices)}|${f32(v.scores)}|${v.ids?.join(',')}`;
  if (v instanceof Tensor) return `${v.rows}x${v.cols}|${f32(v.data)}`;
  if (v instanceof Float32Array) return f32(v);
  return String(v);
}
