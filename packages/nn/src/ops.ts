import type { Activation, Awaitable, Kernels } from '@cosinekit/core/backend';
import {
  ACTIVATIONS,
  activate,
  activateDerivative,
  argError,
  reading,
  referenceKernels,
  valueText,
} from '@cosinekit/core/backend';
import { checkBoolean, checkObject, memoryError } from './check.js';

/**
 * A zeroed array of `n` values (`make` makes it), for an ops' `alloc`: a size that is no count (-1, 1.5, NaN)
 * is `INVALID_ARGUMENT` and one this process cannot allocate `OUT_OF_MEMORY`, naming `n` of
 * `alloc` (they were a raw RangeError, or an array of another length without a word).
 */
function allocate<T>(make: (n: number) => T, n: number): T {
  if (!(Number.isSafeInteger(n) && n >= 0))
    argError('INVALID_ARGUMENT', 'alloc', 'n', `must be a whole number >= 0, got ${valueText(n)}.`);
  try {
    return make(n);
  } catch (e) {
    if (e instanceof RangeError) throw memoryError(e, 'alloc', 'n', `${n} values`);
    throw e;
  }
}

/**
 * The numbers the model works on: float32 on a backend, float64 in the gradient-check path.
 * One model never mixes the two.
 */
export type Vec = Float32Array | Float64Array;

/** Precision of a {@link DenseOps}: `'float32'` for backends, `'float64'` for checks. */
export type Precision = 'float32' | 'float64';

/**
 * The dense algebra the model needs, over row-major matrices given as (data, rows, cols).
 * {@link kernelOps} runs it on a backend's kernels (float32); {@link float64Ops} runs the same
 * formulas in float64, which is what the gradient checks differentiate.
 */
export interface DenseOps {
  readonly precision: Precision;
  /** A zeroed array of this precision. */
  alloc(n: number): Vec;
  /** `op(A) op(B)`; A is `aRows x aCols` as stored, B is `bRows x bCols` as stored. */
  matmul(
    a: Vec,
    aRows: number,
    aCols: number,
    b: Vec,
    bRows: number,
    bCols: number,
    transA: boolean,
    transB: boolean,
  ): Awaitable<Vec>;
  /** `x + bias` broadcast over the rows of an `rows x cols` matrix. */
  addBias(x: Vec, rows: number, cols: number, bias: Vec): Awaitable<Vec>;
  /** `f(x)` element-wise. */
  activation(kind: Activation, x: Vec, rows: number, cols: number): Awaitable<Vec>;
  /** `dy * f'(x)` element-wise, where `x` is the activation's input. */
  activationGrad(kind: Activation, x: Vec, dy: Vec, rows: number, cols: number): Awaitable<Vec>;
  /**
   * Optional: the column sums of a `rows x cols` matrix (a bias gradient), in the order of core's
   * `columnSums` kernel (down the rows from +0, rounding to this precision after every add). When
   * absent, the layers sum in JavaScript in that same order ({@link columnSums}).
   */
  columnSums?(x: Vec, rows: number, cols: number): Awaitable<Vec>;
  /**
   * Present on float32 ops: the backend's `softmaxCrossEntropy` kernel (the reference's where the
   * kernels lack it), whose float32 operations the contract fixes, so every backend gives the same
   * bits. `s` is `rows x cols` logits; see the contract for `targets`, `scale`, `weight`, `keep`.
   * Losses without it (the float64 ops of the gradient checks) take the softmax in float64.
   */
  softmaxCrossEntropy?(
    s: Vec,
    rows: number,
    cols: number,
    targets: Int32Array,
    scale: number,
    weight: number,
    keep?: Uint8Array,
  ): Awaitable<{ grad: Vec; losses: Vec }>;
  /**
   * Present on ops that reuse their arrays ({@link KernelOpsOptions.reuse}): hands every array
   * returned since the last call back to the pool, so the next calls write into them. Call it once
   * nothing from those calls (layer caches, gradients) is needed any more, e.g. after each step.
   */
  release?(): void;
}

/**
 * The arrays `parts` as one array of `length` values when they lie back to back in one buffer, of
 * one type, in order and with nothing between them; otherwise undefined.
 */
export function joined(parts: readonly Vec[], length: number): Vec | undefined {
  const first = parts[0];
  let end = first.byteOffset + first.byteLength;
  let total = first.length;
  for (let i = 1; i < parts.length; i++) {
    const p = parts[i];
    if (p.buffer !== first.buffer || p.constructor !== first.constructor || p.byteOffset !== end)
      return undefined;
    end += p.byteLength;
    total += p.length;
  }
  if (total !== length) return undefined;
  if (parts.length === 1) return first;
  return first instanceof Float32Array
    ? new Float32Array(first.buffer, first.byteOffset, length)
    : new Float64Array(first.buffer, first.byteOffset, length);
}

/** Options of {@link kernelOps}. */
export interface KernelOpsOptions {
  /**
   * Reuse arrays between {@link DenseOps.release} calls instead of allocating each result: a
   * training step then allocates nothing once the first step has sized the pool. Results are only
   * valid until the next `release()`. Defaults to false (every result is a new array).
   */
  reuse?: boolean;
}

/**
 * Float32 arrays by length, handed out in order and all taken back by `release`. A training step
 * asks for the same lengths in the same order every time, so after the first step every request
 * is met by an array already held: fresh typed arrays cost a zeroing pass and, for large ones, new
 * pages from the system on every batch.
 */
class ArrayPool {
  readonly #free = new Map<number, { arrays: Float32Array[]; next: number }>();

  take(n: number): Float32Array {
    let slot = this.#free.get(n);
    if (!slot) {
      slot = { arrays: [], next: 0 };
      this.#free.set(n, slot);
    }
    if (slot.next === slot.arrays.length) slot.arrays.push(new Float32Array(n));
    return slot.arrays[slot.next++];
  }

  release(): void {
    for (const slot of this.#free.values()) slot.next = 0;
  }
}

/**
 * Dense algebra on a backend's kernels (get them with `await kit.kernels()`): float32. With
 * `reuse`, results come from a pool of arrays that {@link DenseOps.release} recycles.
 */
export function kernelOps(kernels: Kernels, options: KernelOpsOptions = {}): DenseOps {
  // A kit (or anything else) in place of its kernels failed later as "kernels.matmul is not a function".
  if (
    typeof kernels !== 'object' ||
    kernels === null ||
    // A revoked Proxy or a throwing getter is named (it escaped raw).
    !reading('kernelOps', 'kernels', () => typeof kernels.matmul === 'function')
  )
    argError(
      'INVALID_TYPE',
      'kernelOps',
      'kernels',
      `must be a backend's kernels (await kit.kernels()), got ${kernels === null ? 'null' : typeof kernels === 'object' ? 'an object without matmul' : typeof kernels}.`,
    );
  options = checkObject('kernelOps', 'options', options, true, ['reuse']);
  checkBoolean('kernelOps', 'options.reuse', options.reuse);
  const f32 = (v: Vec): Float32Array => (v instanceof Float32Array ? v : Float32Array.from(v));
  const pool = options.reuse ? new ArrayPool() : undefined;
  // An output array for the kernel to fill, or none (the kernel allocates its own).
  const into = (n: number): Float32Array | undefined => pool?.take(n);
  const ops: DenseOps = {
    precision: 'float32',
    alloc: (n) => allocate((m) => (pool ? pool.take(m).fill(0) : new Float32Array(m)), n),
    matmul: (a, aRows, aCols, b, bRows, bCols, transA, transB) =>
      kernels.matmul(
        { data: f32(a), rows: aRows, cols: aCols },
        { data: f32(b), rows: bRows, cols: bCols },
        transA,
        transB,
        into((transA ? aCols : aRows) * (transB ? bRows : bCols)),
      ),
    addBias: (x, rows, cols, bias) =>
      kernels.addBias({ data: f32(x), rows, cols }, f32(bias), into(rows * cols)),
    activation: (kind, x, rows, cols) =>
      kernels.activation(kind, { data: f32(x), rows, cols }, into(rows * cols)),
    activationGrad: (kind, x, dy, rows, cols) =>
      kernels.activationGrad(
        kind,
        { data: f32(x), rows, cols },
        { data: f32(dy), rows, cols },
        into(rows * cols),
      ),
    softmaxCrossEntropy: (s, rows, cols, targets, scale, weight, keep) =>
      (kernels.softmaxCrossEntropy ? kernels : referenceKernels).softmaxCrossEntropy!(
        { data: f32(s), rows, cols },
        targets,
        scale,
        weight,
        keep,
        pool ? { grad: pool.take(rows * cols), losses: pool.take(rows) } : undefined,
      ),
  };
  // The kit's kernels always have it (the reference's where a backend lacks it); a bare table may not.
  const sums = kernels.columnSums;
  if (typeof sums === 'function')
    ops.columnSums = (x, rows, cols) => sums.call(kernels, { data: f32(x), rows, cols }, into(cols));
  if (pool) ops.release = () => pool.release();
  return ops;
}

/**
 * The same algebra in plain float64, sharing core's activation formulas (`activate`,
 * `activateDerivative`). Used by the finite-difference gradient checks, where float32 rounding
 * would swamp the differences being measured.
 */
export const float64Ops: DenseOps = {
  precision: 'float64',
  alloc: (n) => allocate((m) => new Float64Array(m), n),
  matmul(a, aRows, aCols, b, bRows, bCols, transA, transB) {
    // Checked as kernelOps's kernels check them: a short b was read past its end (NaN sums).
    dims('matmul', 'a', a, aRows, aCols);
    dims('matmul', 'b', b, bRows, bCols);
    if ((transA ? aRows : aCols) !== (transB ? bCols : bRows))
      argError('SHAPE_MISMATCH', 'matmul', 'b', 'has an inner dimension other than the one of a.');
    const m = transA ? aCols : aRows;
    const k = transA ? aRows : aCols;
    const n = transB ? bRows : bCols;
    const c = new Float64Array(m * n);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) {
          const av = transA ? a[p * aCols + i] : a[i * aCols + p];
          const bv = transB ? b[j * bCols + p] : b[p * bCols + j];
          s += av * bv;
        }
        c[i * n + j] = s;
      }
    }
    return c;
  },
  addBias(x, rows, cols, bias) {
    dims('addBias', 'x', x, rows, cols);
    dims('addBias', 'bias', bias, 1, cols);
    const out = new Float64Array(rows * cols);
    for (let i = 0; i < rows; i++)
      for (let j = 0; j < cols; j++) out[i * cols + j] = x[i * cols + j] + bias[j];
    return out;
  },
  activation(kind, x) {
    activationKind('activation', kind);
    const out = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) out[i] = activate(kind, x[i]);
    return out;
  },
  activationGrad(kind, x, dy) {
    activationKind('activationGrad', kind);
    if (dy?.length !== x?.length)
      argError('SHAPE_MISMATCH', 'activationGrad', 'dy', 'must hold as many values as x.');
    const out = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) out[i] = dy[i] * activateDerivative(kind, x[i]);
    return out;
  },
};

/** Refuses `v` unless it is a float array of `rows x cols` values (`op`'s argument `arg`). */
function dims(op: string, arg: string, v: unknown, rows: number, cols: number): void {
  if (!(v instanceof Float64Array || v instanceof Float32Array))
    argError('INVALID_TYPE', op, arg, 'must be a Float64Array or Float32Array.');
  if (!(Number.isSafeInteger(rows) && rows >= 0 && Number.isSafeInteger(cols) && cols >= 0))
    argError('INVALID_ARGUMENT', op, arg, `has a shape of ${rows} x ${cols}: not whole numbers >= 0.`);
  if (v.length !== rows * cols)
    argError('SHAPE_MISMATCH', op, arg, `holds ${v.length} values, not ${rows} x ${cols}.`);
}

/** Refuses an activation the kernels do not have (an unknown one answered NaN throughout). */
function activationKind(op: string, kind: unknown): void {
  if (!(ACTIVATIONS as readonly unknown[]).includes(kind))
    argError(
      'INVALID_ARGUMENT',
      op,
      'kind',
      `must be one of ${ACTIVATIONS.join(', ')}, got ${valueText(kind)}.`,
    );
}
