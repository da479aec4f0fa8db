/**
 * The shapes of the kernel table's arguments (`kit.kernels()`): the table is an entry point like
 * any other, so a call whose shapes disagree is refused by name before a kernel sees it, never
 * read past, answered for rows it does not have, or blamed on the backend. Each check costs a few
 * comparisons on the everyday path (nn's training steps call the table thousands of times an
 * epoch); the slower reading that names what is wrong runs only once something is.
 */
import {
  ACTIVATIONS,
  type Activation,
  type Matrix,
  type OptimizerKind,
  type OptimizerRule,
  optimizerCoefficients,
} from './contract.js';
import { argError, isArrayArg, reading } from './errors.js';
import { allFinite } from './gate.js';
import { callersResizable, lengthCanChange } from './out.js';
import { describeType, matrixArg, valueText, viewArg } from './tensor.js';

/** The largest float32. */
const F32_MAX = 3.4028234663852886e38;

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
  oneOf(op, kind, ACTIVATIONS);
}

/** Throws `INVALID_ARGUMENT` naming `kind` unless it is one of `kinds`. */
function oneOf(op: string, kind: unknown, kinds: readonly string[]): void {
  if (!kinds.includes(kind as string))
    argError('INVALID_ARGUMENT', op, 'kind', `must be one of ${kinds.join(', ')}; got ${valueText(kind)}.`);
}

/** The smallest normal float32: an `epsilon` below it rounds to nothing in a float32 sum. */
const F32_MIN_NORMAL = 2 ** -126;

/** The optimisers the table's optimiser kernels know. */
const OPTIMIZER_KINDS: readonly OptimizerKind[] = ['adam', 'sgd'];

/** Throws `INVALID_ARGUMENT` naming `arg` unless `v` is a number within [lo, hi). */
function inRange(op: string, arg: string, v: unknown, lo: number, hi: number): void {
  if (!(typeof v === 'number' && v >= lo && v < hi))
    argError(
      'INVALID_ARGUMENT',
      op,
      arg,
      `must be a number from ${lo} to ${hi} (not included), got ${valueText(v)}.`,
    );
}

/**
 * `rule` read once into a plain rule and checked for `state`'s optimiser: its kind, a learning rate
 * and weight decay finite and >= 0, momentum and Adam's betas within [0, 1), epsilon from the
 * smallest normal float32 to the largest, a step a whole number >= 1, and coefficients finite in
 * float32. Else `INVALID_TYPE` or `INVALID_ARGUMENT` naming `rule` or its field: a rule of NaN, a
 * step of 0 or a beta2 of 2 wrote NaN into the caller's parameters and the resident moments.
 */
export function tableOptimizerRule(op: string, rule: unknown, kind: OptimizerKind): OptimizerRule {
  if (typeof rule !== 'object' || rule === null)
    argError('INVALID_TYPE', op, 'rule', `must be an optimiser rule, got ${describeType(rule)}.`);
  const r = reading(op, 'rule', () => {
    const {
      kind: k,
      learningRate,
      weightDecay,
      momentum,
      beta1,
      beta2,
      epsilon,
      step,
    } = rule as Record<string, unknown>;
    return { kind: k, learningRate, weightDecay, momentum, beta1, beta2, epsilon, step };
  });
  if (r.kind !== kind)
    argError(
      'INVALID_ARGUMENT',
      op,
      'rule.kind',
      `is ${valueText(r.kind)}, but the state is of kind '${kind}'.`,
    );
  const finite = (arg: string, v: unknown) => {
    if (!(typeof v === 'number' && v >= 0 && v <= Number.MAX_VALUE))
      argError('INVALID_ARGUMENT', op, `rule.${arg}`, `must be a finite number >= 0, got ${valueText(v)}.`);
  };
  finite('learningRate', r.learningRate);
  finite('weightDecay', r.weightDecay);
  let plain: OptimizerRule;
  if (r.kind === 'sgd') {
    inRange(op, 'rule.momentum', r.momentum, 0, 1);
    plain = {
      kind: 'sgd',
      learningRate: r.learningRate as number,
      momentum: r.momentum as number,
      weightDecay: r.weightDecay as number,
    };
  } else {
    inRange(op, 'rule.beta1', r.beta1, 0, 1);
    inRange(op, 'rule.beta2', r.beta2, 0, 1);
    // Finite once rounded to float32 (3.4028235e38 is the largest float32, as nn's adam takes it).
    if (!(typeof r.epsilon === 'number' && r.epsilon >= F32_MIN_NORMAL && Math.fround(r.epsilon) <= F32_MAX))
      argError(
        'INVALID_ARGUMENT',
        op,
        'rule.epsilon',
        `must be a number from ${F32_MIN_NORMAL} (the smallest normal float32) to 3.4e38 (finite in float32), got ${valueText(r.epsilon)}.`,
      );
    if (!(Number.isSafeInteger(r.step) && (r.step as number) >= 1))
      argError('INVALID_ARGUMENT', op, 'rule.step', `must be a whole number >= 1, got ${valueText(r.step)}.`);
    plain = {
      kind: 'adam',
      learningRate: r.learningRate as number,
      beta1: r.beta1 as number,
      beta2: r.beta2 as number,
      epsilon: r.epsilon as number,
      weightDecay: r.weightDecay as number,
      step: r.step as number,
    };
  }
  // The step's float32 coefficients: a learning rate over a small 1 - beta1^step, or times the
  // weight decay, can overflow float32 (a weight decay of 1e300 made every weight NaN).
  const c = optimizerCoefficients(plain);
  for (let i = 0; i < c.length; i++)
    if (!Number.isFinite(c[i])) {
      const field =
        plain.kind === 'adam'
          ? i === 7
            ? 'weightDecay'
            : 'learningRate'
          : i === 1
            ? 'weightDecay'
            : 'learningRate';
      argError(
        'INVALID_ARGUMENT',
        op,
        `rule.${field}`,
        `is ${plain[field]}, which makes the step's coefficients overflow float32 (learning rate ${plain.learningRate}, weight decay ${plain.weightDecay}).`,
      );
    }
  return plain;
}

/**
 * Checks `params` and `grads` of an optimiser step against `sizes`: as many Float32Arrays of those
 * lengths (`INVALID_TYPE`, `SHAPE_MISMATCH` or `DISPOSED` naming `params[i]` or `grads[i]`), the
 * gradients finite (`NON_FINITE`): a NaN gradient was written into the caller's parameters and the
 * resident moments, poisoning every later step. The parameters are not scanned: each is next read
 * by a product whose output is checked, and a non-finite weight makes every product it enters
 * non-finite (nn's steps read them after each step too). One pass over the gradients, the rest a
 * few comparisons an array (nn calls this every step); the names are made only for an error.
 * Returns both lists as read (the arrays themselves, not copies: the step writes the parameters
 * in place).
 */
export function tableOptimizerArrays(
  op: string,
  sizes: readonly number[],
  params: unknown,
  grads: unknown,
): [Float32Array[], Float32Array[]] {
  const read: Float32Array[][] = [];
  for (const [arg, xs] of [
    ['params', params],
    ['grads', grads],
  ] as const) {
    if (!isArrayArg(op, arg, xs))
      argError('INVALID_TYPE', op, arg, `must be an array of Float32Arrays, got ${describeType(xs)}.`);
    const list = reading(op, arg, () => Array.from(xs));
    if (list.length !== sizes.length)
      argError('SHAPE_MISMATCH', op, arg, `must be ${sizes.length} arrays of lengths ${sizes}.`);
    for (let i = 0; i < list.length; i++) {
      const x = list[i];
      const ok = isPlainF32(x) && x.length === sizes[i];
      if (!ok) {
        const v = viewArg(op, `${arg}[${i}]`, x, [Float32Array]);
        if (v.length !== sizes[i])
          argError(
            'SHAPE_MISMATCH',
            op,
            `${arg}[${i}]`,
            `holds ${v.length} values; the state's array ${i} holds ${sizes[i]}.`,
          );
      }
      const v = x as Float32Array;
      if (arg === 'grads' && !allFinite(v, v.length)) {
        let j = 0;
        while (Number.isFinite(v[j])) j++;
        argError('NON_FINITE', op, `${arg}[${i}]`, `holds ${v[j]} at index ${j}.`);
      }
    }
    read.push(list as Float32Array[]);
  }
  return [read[0], read[1]];
}

/** A plain Float32Array with a buffer (not a subclass, a Proxy or a detached one's empty view). */
function isPlainF32(x: unknown): x is Float32Array {
  return ArrayBuffer.isView(x) && Object.getPrototypeOf(x) === Float32Array.prototype && x.byteLength > 0;
}

/**
 * Checks the arguments of `createOptimizerState`: a known `kind`; `sizes` an array of whole
 * numbers >= 1; `moments`, when given, per parameter array Adam's m then v (SGD's velocity) as
 * Float32Arrays of those lengths, finite, Adam's v >= 0. Else `INVALID_ARGUMENT`, `INVALID_TYPE`,
 * `SHAPE_MISMATCH` or `NON_FINITE` naming the argument: a kind of 'nope', sizes of -1 or 1.5 and
 * moments of NaN or too few values reached the backend (a state stepping NaN, or a raw error).
 * Returns `sizes` as read.
 */
export function tableOptimizerState(op: string, kind: unknown, sizes: unknown, moments: unknown): number[] {
  oneOf(op, kind, OPTIMIZER_KINDS);
  if (!isArrayArg(op, 'sizes', sizes))
    argError('INVALID_TYPE', op, 'sizes', `must be an array of array lengths, got ${describeType(sizes)}.`);
  const n = reading(op, 'sizes', () => Array.from(sizes as unknown[]));
  n.forEach((s, i) => {
    if (!(Number.isSafeInteger(s) && (s as number) >= 1))
      argError('INVALID_ARGUMENT', op, `sizes[${i}]`, `must be a whole number >= 1, got ${valueText(s)}.`);
  });
  const sized = n as number[];
  if (moments === undefined) return sized;
  if (!isArrayArg(op, 'moments', moments))
    argError(
      'INVALID_TYPE',
      op,
      'moments',
      `must be an array of Float32Arrays, got ${describeType(moments)}.`,
    );
  const m = reading(op, 'moments', () => Array.from(moments as unknown[]));
  const per = kind === 'adam' ? 2 : 1;
  if (m.length !== per * sized.length)
    argError(
      'SHAPE_MISMATCH',
      op,
      'moments',
      `holds ${m.length} arrays; a state of kind '${kind}' for ${sized.length} parameter arrays holds ${per * sized.length}${per === 2 ? ' (m then v for each)' : ''}.`,
    );
  m.forEach((x, i) => {
    const arg = `moments[${i}]`;
    const v = viewArg(op, arg, x, [Float32Array]);
    const want = sized[Math.floor(i / per)];
    if (v.length !== want) argError('SHAPE_MISMATCH', op, arg, `holds ${v.length} values, not ${want}.`);
    const second = per === 2 && i % 2 === 1;
    for (let j = 0; j < v.length; j++)
      if (!Number.isFinite(v[j]) || (second && v[j] < 0))
        argError(
          Number.isFinite(v[j]) ? 'INVALID_ARGUMENT' : 'NON_FINITE',
          op,
          arg,
          `holds ${v[j]} at index ${j}${second ? ' (a second moment is finite and >= 0)' : ''}.`,
        );
  });
  return sized;
}
