/**
 * The shapes of the kernel table's arguments (`kit.kernels()`): the table is an entry point like
 * any other, so a call whose shapes disagree is refused by name before a kernel sees it, never
 * read past, answered for rows it does not have, or blamed on the backend. Each check costs a few
 * comparisons on the everyday path (nn's training steps call the table thousands of times an
 * epoch); the slower reading that names what is wrong runs only once something is.
 */
import { ACTIVATIONS, type Activation, type Matrix } from './contract.js';
import { argError, reading } from './errors.js';
import { callersResizable, lengthCanChange } from './out.js';
import { describeType, matrixArg, valueText, viewArg } from './tensor.js';

/** At least one row and one column. */
const LEAST = [1, 1] as const;

/**
 * `m`'s fields as they are now, in a plain matrix the kernels read from here on (a getter on `m`,
 * read again by a kernel, could answer otherwise or call back into the kit while the kernel's
 * scratch held the other operand), after checking them: a matrix of at least one row and one
 * column whose `data` is a Float32Array of exactly `rows x cols` values, else `INVALID_TYPE`,
 * `EMPTY_INPUT`, `SHAPE_MISMATCH` or `DISPOSED` (a detached buffer), naming `arg` and the kernel `op`.
 */
export function tableMatrix(op: string, arg: string, m: Matrix): Matrix {
  try {
    const { data, rows, cols } = m;
    if (
      data instanceof Float32Array &&
      rows >= 1 &&
      cols >= 1 &&
      Number.isSafeInteger(rows) &&
      Number.isSafeInteger(cols) &&
      data.length === rows * cols
    )
      return { data, rows, cols };
  } catch {
    // Named below, with the failure as its cause.
  }
  if (typeof m === 'object' && m !== null) {
    const { rows, cols } = reading(op, arg, () => ({ rows: m.rows, cols: m.cols }));
    if (rows === 0 || cols === 0)
      argError(
        'EMPTY_INPUT',
        op,
        arg,
        `has ${rows} x ${cols} values; needs at least one row and one column.`,
      );
  }
  const { data, rows, cols } = matrixArg(op, arg, m, LEAST);
  if (data.length !== rows * cols)
    argError('SHAPE_MISMATCH', op, arg, `holds ${data.length} values, not ${rows} x ${cols}.`);
  return { data, rows, cols };
}

/**
 * Throws `DISPOSED` naming the first of `args` (matrices as {@link tableMatrix} read them) whose
 * buffer was transferred or shrunk below its shape since: a later argument's getter or trap can do
 * that, and a kernel then read past the values left (wrong cosines, or another call's memory).
 */
export function tableIntact(op: string, ...args: readonly (readonly [string, Matrix])[]): void {
  for (const [arg, m] of args)
    if (m.data.length !== m.rows * m.cols)
      argError(
        'DISPOSED',
        op,
        arg,
        `had its buffer transferred (detached) or shrunk below its ${m.rows} x ${m.cols} values while a later argument was read.`,
      );
}

/** Throws `SHAPE_MISMATCH` (or `INVALID_TYPE`) naming `arg` unless `v` is a Float32Array of `length` values. */
export function tableVector(op: string, arg: string, v: unknown, length: number): void {
  if (v instanceof Float32Array && v.length === length && length > 0) return;
  if (viewArg(op, arg, v, [Float32Array]).length !== length)
    argError(
      'SHAPE_MISMATCH',
      op,
      arg,
      `must be a Float32Array of ${length} values, got ${(v as Float32Array).length}.`,
    );
}

/** {@link tableVector} for an optional `out`. */
export function tableOut(op: string, out: unknown, length: number): void {
  if (out === undefined) return;
  tableVector(op, 'out', out, length);
  // The caller's own array: an answer written into it is theirs, whatever its buffer.
  const b = (out as Float32Array).buffer;
  if (lengthCanChange(b)) callersResizable.add(b);
}

/** Throws `DIMENSION_MISMATCH` naming `arg` unless its `has` columns (or rows, with `what`) equal `want`. */
export function tableAgree(
  op: string,
  arg: string,
  has: number,
  other: string,
  want: number,
  what = 'dimension',
): void {
  if (has !== want) argError('DIMENSION_MISMATCH', op, arg, `has ${what} ${has} but '${other}' has ${want}.`);
}

/**
 * The shape of corpus handle `h` as `rowsOf`/`colsOf` give it: `INVALID_TYPE` naming `corpus`
 * unless it is an object (a backend's own check names a foreign or disposed one).
 */
export function tableCorpus<T>(op: string, h: unknown, shape: (h: never) => T): T {
  if (typeof h !== 'object' || h === null)
    argError('INVALID_TYPE', op, 'corpus', `must be a resident corpus, got ${describeType(h)}.`);
  return reading(op, 'corpus', () => shape(h as never));
}

/** Throws `INVALID_ARGUMENT` naming `kind` unless it is one of the contract's activations. */
export function tableActivation(op: string, kind: unknown): asserts kind is Activation {
  if (!ACTIVATIONS.includes(kind as Activation))
    argError(
      'INVALID_ARGUMENT',
      op,
      'kind',
      `must be one of ${ACTIVATIONS.join(', ')}; got ${valueText(kind)}.`,
    );
}
