import { type Corpus, type CosineKit, type Id, Tensor, type TensorInput } from '@cosinekit/core';
import type { KernelName, TopKResult } from '@cosinekit/core/backend';
import { errorText, valueText } from '@cosinekit/core/backend';
import { check, fail } from '../assert.js';
import { type CaseData, type ConformanceCase, defineCase } from './context.js';

/**
 * The rule these cases hold the public API to: what a call uses is its inputs as they were when it
 * was called. The caller may reuse, poison or transfer its arrays as soon as the call has returned
 * its promise, before awaiting it, and still gets the answer for the untouched inputs, bit for bit.
 */

/** How the caller hands a matrix over. A bare Float32Array is one row. */
const FORMS = ['Float32Array', 'number[][]', 'Float32Array[]', 'Tensor'] as const;
type Form = (typeof FORMS)[number];

/** What the caller does to its input right after the call returns its promise. */
const TAMPERS = ['mutate', 'NaN', 'detach'] as const;
type Tamper = (typeof TAMPERS)[number];

/** A fresh input of `form` holding `m` (one row of it for a bare Float32Array). */
function inputOf(form: Form, m: Tensor): TensorInput {
  const row = (i: number) => Float32Array.from(m.data.subarray(i * m.cols, (i + 1) * m.cols));
  switch (form) {
    case 'Float32Array':
      return row(0);
    case 'number[][]':
      return Array.from({ length: m.rows }, (_, i) => Array.from(row(i)));
    case 'Float32Array[]':
      return Array.from({ length: m.rows }, (_, i) => row(i));
    case 'Tensor':
      return new Tensor(Float32Array.from(m.data), m.rows, m.cols);
  }
}

/** The matrix an input of `form` made from `m` stands for (what the untouched call sees). */
function seenAs(form: Form, m: Tensor): Tensor {
  return form === 'Float32Array' ? new Tensor(Float32Array.from(m.data.subarray(0, m.cols)), 1, m.cols) : m;
}

/** Transfers the buffer away, as a caller posting it to a worker does: the array reads as empty. */
function detach(a: Float32Array): void {
  structuredClone(a, { transfer: [a.buffer as ArrayBuffer] });
}

/** Overwrites, poisons or transfers away every number the input holds. */
function tamper(how: Tamper, input: TensorInput): void {
  const write = (a: { length: number; [i: number]: number }) => {
    for (let i = 0; i < a.length; i++) a[i] = how === 'NaN' ? Number.NaN : ((i * 7) % 5) - 2.5;
  };
  if (input instanceof Tensor) {
    if (how === 'detach') detach(input.data);
    else write(input.data);
  } else if (input instanceof Float32Array) {
    if (how === 'detach') detach(input);
    else write(input);
  } else {
    const rows = input as (number[] | Float32Array)[];
    for (const r of rows) {
      if (how !== 'detach') write(r);
      else if (r instanceof Float32Array) detach(r);
      // A plain array cannot be transferred: the nearest a caller comes is emptying it for reuse.
      else r.length = 0;
    }
    if (how === 'detach' && !(rows[0] instanceof Float32Array)) rows.length = 0;
  }
}

/** Ids handed over with rows, then reused: one made a duplicate of another, one of an existing id. */
function tamperIds(ids: Id[], existing: Id): void {
  if (ids.length > 1) ids[1] = ids[0];
  ids[0] = existing;
}

type Answer = Float32Array | Tensor | TopKResult | { search: TopKResult; similarity: Tensor };

/** Bit-for-bit equality of two answers; '' when equal, else where they differ. */
function differs(got: Answer, want: Answer): string {
  const bits = (what: string, a: Float32Array, b: Float32Array): string => {
    if (a.length !== b.length) return `${what}: length ${a.length}, expected ${b.length}`;
    const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
    const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
    for (let i = 0; i < x.length; i++) {
      if (x[i] !== y[i]) return `${what}[${i}] is ${a[i]}, the untouched inputs give ${b[i]}`;
    }
    return '';
  };
  if (got instanceof Float32Array) return bits('result', got, want as Float32Array);
  // Duck-typed: the kit's Tensor may come from another copy of core than this package's.
  if ('data' in got && !('indices' in got)) {
    const w = want as Tensor;
    if (got.rows !== w.rows || got.cols !== w.cols)
      return `shape ${got.rows}x${got.cols}, expected ${w.rows}x${w.cols}`;
    return bits('data', got.data, w.data);
  }
  if ('similarity' in got) {
    const w = want as { search: TopKResult; similarity: Tensor };
    return differs(got.search, w.search) || differs(got.similarity, w.similarity);
  }
  const w = want as TopKResult & { ids?: readonly Id[] };
  const g = got as TopKResult & { ids?: readonly Id[] };
  if (g.queries !== w.queries || g.k !== w.k)
    return `result is ${g.queries}x${g.k}, expected ${w.queries}x${w.k}`;
  for (let i = 0; i < w.indices.length; i++) {
    if (g.indices[i] !== w.indices[i])
      return `indices[${i}] is ${g.indices[i]}, the untouched inputs give ${w.indices[i]}`;
  }
  const gIds = g.ids ?? [];
  const wIds = w.ids ?? [];
  for (let i = 0; i < Math.max(gIds.length, wIds.length); i++) {
    if (gIds[i] !== wIds[i])
      return `ids[${i}] is ${valueText(gIds[i])}, the untouched inputs give ${valueText(wIds[i])}`;
  }
  return bits('scores', g.scores, w.scores);
}

/** What the calls are made against and read back with; the same for the tampered try and the control. */
interface Fixture {
  /** Rows of the corpus a corpus call runs on (ids `row-0`, `row-1`, ...). */
  readonly rows: Tensor;
  /** Rows added just before a corpus call, so that the call waits behind a queued job. */
  readonly queued: Tensor;
  /** Queries that read a corpus's whole content back. */
  readonly probe: Tensor;
}

const rowIds = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

/** A corpus's whole content as search (every row, with its id) and similarity see it. */
async function contents(c: Corpus, probe: Tensor): Promise<Answer> {
  return { search: await c.search(probe, c.rows), similarity: await c.similarity(probe) };
}

/** Awaits the queued job and the call, then disposes the corpus. */
async function finish(c: Corpus, queued: Promise<void>, pending: Promise<Answer>): Promise<Answer> {
  try {
    await queued;
    return await pending;
  } finally {
    c.dispose();
  }
}

/** One public call under test. */
interface Operation {
  readonly name: string;
  readonly kernel: KernelName;
  /** Shapes of the matrices it takes, drawn from the case's data. */
  readonly shapes: readonly (readonly [number, number])[];
  /** The forms tried; a bare Float32Array (one row) where one row is a sensible input. */
  readonly forms: readonly Form[];
  /**
   * Under the Float32Array form, the inputs that are bare one-row Float32Arrays (default: all);
   * the others are handed over as Float32Array rows.
   */
  readonly vectors?: readonly number[];
  /** Ids handed over with the rows, when the call takes ids. */
  readonly ids?: (n: number) => Id[];
  /** Makes the corpus a corpus call runs on (before the call, untimed). */
  readonly prepare?: (kit: CosineKit, f: Fixture) => Promise<Corpus>;
  /**
   * Makes the call and returns at once, with a function that awaits the answer: the tampering
   * comes right after this returns, with no await in between.
   */
  readonly call: (
    kit: CosineKit,
    inputs: TensorInput[],
    ids: Id[] | undefined,
    corpus: Corpus | undefined,
    f: Fixture,
  ) => () => Promise<Answer>;
}

const MATRIX_FORMS = FORMS.filter((f) => f !== 'Float32Array');
const pair = [
  [5, 19],
  [23, 19],
] as const;
const withRows = (kit: CosineKit, f: Fixture) => kit.corpus(f.rows, { ids: rowIds(f.rows.rows, 'row') });

const OPERATIONS: readonly Operation[] = [
  {
    name: 'kit.rowNorms',
    kernel: 'rowNorms',
    shapes: [[7, 19]],
    forms: FORMS,
    call: (kit, [x]) => {
      const p = kit.rowNorms(x);
      return () => p;
    },
  },
  {
    name: 'kit.normalize',
    kernel: 'normalizeRows',
    shapes: [[7, 19]],
    forms: FORMS,
    call: (kit, [x]) => {
      const p = kit.normalize(x);
      return () => p;
    },
  },
  {
    name: 'kit.cosineRows',
    kernel: 'cosineRows',
    shapes: [
      [7, 19],
      [7, 19],
    ],
    forms: FORMS,
    call: (kit, [a, b]) => {
      const p = kit.cosineRows(a, b);
      return () => p;
    },
  },
  {
    name: 'kit.cosineMatrix',
    kernel: 'cosineMatrix',
    shapes: pair,
    forms: FORMS,
    call: (kit, [a, b]) => {
      const p = kit.cosineMatrix(a, b);
      return () => p;
    },
  },
  {
    name: 'kit.topK',
    kernel: 'topK',
    shapes: pair,
    forms: FORMS,
    vectors: [0],
    call: (kit, [q, c]) => {
      const p = kit.topK(q, c, 4);
      return () => p;
    },
  },
  {
    name: 'kit.corpus (rows and ids)',
    kernel: 'createCorpus',
    shapes: [[23, 19]],
    forms: MATRIX_FORMS,
    ids: (n) => rowIds(n, 'given'),
    call: (kit, [rows], ids, _c, f) => {
      const p = kit.corpus(rows, { ids });
      return async () => {
        const c = await p;
        try {
          return await contents(c, f.probe);
        } finally {
          c.dispose();
        }
      };
    },
  },
  {
    name: 'corpus.search (queued behind an add)',
    kernel: 'corpusSearch',
    shapes: [[5, 19]],
    forms: FORMS,
    prepare: withRows,
    call: (_kit, [q], _ids, c, f) => {
      const queued = c!.add(f.queued, rowIds(f.queued.rows, 'queued'));
      const p = c!.search(q, 6);
      return () => finish(c!, queued, p);
    },
  },
  {
    name: 'corpus.similarity (queued behind an add)',
    kernel: 'corpusMatrix',
    shapes: [[5, 19]],
    forms: FORMS,
    prepare: withRows,
    call: (_kit, [q], _ids, c, f) => {
      const queued = c!.add(f.queued, rowIds(f.queued.rows, 'queued'));
      const p = c!.similarity(q);
      return () => finish(c!, queued, p);
    },
  },
  {
    name: 'corpus.add (rows and ids, queued behind an add)',
    kernel: 'createCorpus',
    shapes: [[6, 19]],
    forms: MATRIX_FORMS,
    ids: (n) => rowIds(n, 'added'),
    prepare: withRows,
    call: (_kit, [rows], ids, c, f) => {
      const queued = c!.add(f.queued, rowIds(f.queued.rows, 'queued'));
      const p = c!.add(rows, ids);
      return () =>
        finish(
          c!,
          queued,
          p.then(() => contents(c!, f.probe)),
        );
    },
  },
];

/** Snapshot semantics: every public call answers for its inputs as they were when it was called. */
export function snapshotCases(): ConformanceCase[] {
  return OPERATIONS.map((op) =>
    defineCase(
      'snapshot',
      `${op.name}: inputs (${op.forms.join(', ')}${op.ids ? ', ids' : ''}) mutated, NaN-poisoned or detached right after the call answer as if untouched`,
      op.kernel,
      async ({ kit }, data) => run(kit, op, data),
    ),
  );
}

async function run(kit: CosineKit, op: Operation, data: CaseData): Promise<void> {
  const f: Fixture = { rows: data.matrix(23, 19), queued: data.matrix(4, 19), probe: data.matrix(3, 19) };
  const base = op.shapes.map(([r, c]) => data.matrix(r, c));
  for (const form of op.forms) {
    const formOf = (i: number): Form =>
      form === 'Float32Array' && op.vectors && !op.vectors.includes(i) ? 'Float32Array[]' : form;
    const forms = base.map((_, i) => formOf(i));
    const seen = base.map((m, i) => seenAs(forms[i], m));
    const want = await attempt(kit, op, f, seen, forms, undefined);
    for (const how of TAMPERS) {
      let got: Answer;
      try {
        got = await attempt(kit, op, f, seen, forms, how);
      } catch (e) {
        fail(
          `${op.name} (${form}, ${how} after the call): rejected with ${errorText(e)}, where the untouched inputs have an answer`,
        );
      }
      const where = differs(got, want);
      check(
        where === '',
        `${op.name} (${form}, inputs ${how === 'NaN' ? 'set to NaN' : `${how}d`} after the call): ${where}`,
      );
    }
  }
}

/** One try: fresh inputs of the forms, the call, then (when `how` is given) the tampering, then the answer. */
async function attempt(
  kit: CosineKit,
  op: Operation,
  f: Fixture,
  seen: Tensor[],
  forms: Form[],
  how: Tamper | undefined,
): Promise<Answer> {
  const corpus = op.prepare ? await op.prepare(kit, f) : undefined;
  const inputs = seen.map((m, i) => inputOf(forms[i], m));
  const ids = op.ids?.(seen[0].rows);
  const read = op.call(kit, inputs, ids, corpus, f);
  if (how) {
    for (const x of inputs) tamper(how, x);
    if (ids) tamperIds(ids, 'row-0');
  }
  return read();
}
