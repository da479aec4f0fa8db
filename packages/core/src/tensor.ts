import type { Matrix } from './contract.js';
import { argError, readFailure, reading } from './errors.js';

/** What the public API accepts wherever it needs rows of numbers. */
export type TensorInput =
  | Tensor
  | Float32Array
  | readonly number[]
  | readonly (readonly number[])[]
  | readonly Float32Array[];

/**
 * A dense float32 matrix, row-major, with a checked shape. A vector is a tensor of one row.
 * Row views share memory with the tensor; nothing is copied.
 */
export class Tensor implements Matrix {
  readonly rows: number;
  readonly cols: number;
  #data: Float32Array | null;

  /** Wraps `data` (not copied) as a `rows x cols` tensor; the length must match. */
  constructor(data: Float32Array, rows: number, cols: number) {
    refuseFakeView(data, 'tensor', 'data');
    if (!isF32Arg(data, 'tensor', 'data')) {
      argError('INVALID_TYPE', 'tensor', 'data', `must be a Float32Array, got ${describeType(data)}.`);
    }
    attached(data, 'tensor', 'data');
    checkDim('tensor', 'rows', rows);
    checkDim('tensor', 'cols', cols);
    if (data.length !== rows * cols) {
      argError(
        'SHAPE_MISMATCH',
        'tensor',
        'data',
        `has length ${data.length} but the shape [${rows}, ${cols}] needs ${rows * cols}.`,
      );
    }
    this.rows = rows;
    this.cols = cols;
    this.#data = plainFloat32(data);
  }

  /**
   * The underlying float32 values. Throws once the tensor is disposed. Once its buffer is
   * transferred (detached) or shrunk (a resizable `ArrayBuffer`) below its shape, this is an empty
   * view, and every operation refuses the tensor as `DISPOSED`.
   */
  get data(): Float32Array {
    return this.#live('Tensor.data', false);
  }

  /**
   * The data, for method `op`: a disposed tensor is `DISPOSED` naming that method, and so (when
   * `whole`) is one whose buffer was detached or shrunk below its shape.
   */
  #live(op: string, whole = true): Float32Array {
    const d = this.#data;
    if (d === null) argError('DISPOSED', op, 'tensor', 'was disposed; its data can no longer be read.');
    // A view that tracks a resizable buffer's length grew with it: keep the tensor's own length
    // from now on (checked here rather than when made: asking every new array for its buffer
    // costs the kit's small calls more than this comparison). Shrunk, it is left short (refused).
    if (d.length > this.rows * this.cols)
      this.#data = new Float32Array(d.buffer, d.byteOffset, this.rows * this.cols);
    else if (whole && d.length < this.rows * this.cols)
      argError(
        'DISPOSED',
        op,
        'tensor',
        `holds ${d.length} of its ${this.rows * this.cols} values: its buffer was transferred (detached) or shrunk.`,
      );
    return this.#data as Float32Array;
  }

  /** `[rows, cols]`. */
  get shape(): [number, number] {
    return [this.rows, this.cols];
  }

  /** True once {@link Tensor.dispose} has run. */
  get disposed(): boolean {
    return this.#data === null;
  }

  /** Row `i` as a view (no copy). */
  row(i: number): Float32Array {
    const data = this.#live('Tensor.row');
    if (!Number.isInteger(i) || i < 0 || i >= this.rows) {
      argError(
        'INVALID_ARGUMENT',
        'Tensor.row',
        'i',
        `must be an integer in [0, ${this.rows - 1}], got ${valueText(i)}.`,
      );
    }
    return data.subarray(i * this.cols, (i + 1) * this.cols);
  }

  /** Rows `[start, end)` as a tensor sharing this tensor's memory. */
  slice(start: number, end: number = this.rows): Tensor {
    const data = this.#live('Tensor.slice');
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > this.rows || start >= end) {
      argError(
        'INVALID_ARGUMENT',
        'Tensor.slice',
        'start',
        `must satisfy 0 <= start < end <= ${this.rows}, got start ${start}, end ${end}.`,
      );
    }
    return new Tensor(data.subarray(start * this.cols, end * this.cols), end - start, this.cols);
  }

  /** The values as nested arrays, one per row. */
  toArray(): number[][] {
    this.#live('Tensor.toArray');
    const out: number[][] = [];
    for (let i = 0; i < this.rows; i++) out.push(Array.from(this.row(i)));
    return out;
  }

  /** Drops the reference to the data; later use throws a `DISPOSED` error. */
  dispose(): void {
    this.#data = null;
  }
}

/**
 * Builds a tensor from a `Float32Array` plus shape (no copy), a `number[]` (one row), a
 * `number[][]` or an array of `Float32Array` rows (copied into one buffer). A `shape`, when given,
 * is `[rows, cols]` or `[length]` (one row) of integers (anything else is `INVALID_ARGUMENT`): a
 * `Float32Array` or a flat `number[]` is read as that shape, and nested rows or a `Tensor` must
 * have it; a length or shape that differs is `SHAPE_MISMATCH`, never dropped silently.
 */
export function tensor(input: TensorInput, shape?: readonly [number, number] | readonly [number]): Tensor {
  return toTensor(input, 'tensor', 'input', shape);
}

/**
 * Converts any {@link TensorInput} to a tensor, naming `arg` and `op` in errors (an error thrown
 * while reading the caller's arrays, by a getter or a Proxy, too: `INVALID_ARGUMENT` with that error as `cause`).
 */
export function toTensor(
  input: TensorInput,
  op: string,
  arg: string,
  shape?: readonly [number, number] | readonly [number],
): Tensor {
  // The try of `reading` without its closure: this runs on every call of the kit.
  try {
    return convert(input, op, arg, shape);
  } catch (e) {
    throw readFailure(op, arg, e);
  }
}

function convert(
  input: TensorInput,
  op: string,
  arg: string,
  shape?: readonly [number, number] | readonly [number],
): Tensor {
  const want = shape === undefined ? undefined : shapeOf(shape, op, arg);
  if (input instanceof Tensor) {
    if (input.disposed) argError('DISPOSED', op, arg, 'is a disposed tensor.');
    intact(input, op, arg);
    // `new Tensor` allows a shape of 0 rows or columns; as an input it is as empty as `[]`.
    if (input.rows === 0 || input.cols === 0)
      argError('EMPTY_INPUT', op, arg, `is empty (shape [${input.rows}, ${input.cols}]).`);
    if (want) sameShape(input.rows, input.cols, want, op, arg);
    return input;
  }
  refuseFakeView(input, op, arg);
  if (input instanceof Float32Array) {
    attached(input, op, arg);
    if (want === undefined) return make(input, 1, input.length, op, arg);
    const [rows, cols] = want;
    if (input.length !== rows * cols) {
      argError(
        'SHAPE_MISMATCH',
        op,
        arg,
        `has length ${input.length} but shape [${rows}, ${cols}] needs ${rows * cols}.`,
      );
    }
    return make(input, rows, cols, op, arg);
  }
  if (ArrayBuffer.isView(input)) {
    argError(
      'INVALID_TYPE',
      op,
      arg,
      `must hold float32 values, got ${describeType(input)}; convert it with Float32Array.from().`,
    );
  }
  if (!Array.isArray(input)) {
    argError(
      'INVALID_TYPE',
      op,
      arg,
      `must be a Tensor, Float32Array or array of numbers, got ${describeType(input)}.`,
    );
  }
  if (input.length === 0) argError('EMPTY_INPUT', op, arg, 'is empty.');
  const first = input[0];
  if (typeof first === 'number') {
    const data = new Float32Array(input.length);
    for (let i = 0; i < input.length; i++) {
      const v = input[i];
      if (typeof v !== 'number')
        argError('INVALID_TYPE', op, arg, `mixes numbers and ${describeType(v)} at [${i}].`);
      data[i] = v;
      // Named as the finite check names NaN: by row and column (a flat list is one row, or the shape's).
      if (data[i] - data[i] !== 0 && v - v === 0) {
        const c = want ? want[1] : input.length;
        beyondFloat32(op, arg, v, `row ${Math.floor(i / c)}, column ${i % c}`);
      }
    }
    // A flat list of numbers with a shape is read as that shape, as a Float32Array is.
    if (want && data.length !== want[0] * want[1])
      argError(
        'SHAPE_MISMATCH',
        op,
        arg,
        `has length ${data.length} but shape [${want[0]}, ${want[1]}] needs ${want[0] * want[1]}.`,
      );
    return want ? make(data, want[0], want[1], op, arg) : make(data, 1, data.length, op, arg);
  }
  const rows = input.length;
  const cols = rowLength(first, op, `${arg}[0]`);
  const data = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    const r = input[i] as unknown;
    // A plain row is measured without its name, which is made only for an error (a new string
    // a row, with the checks of an odd one, cost 3-11x a plain copy at d <= 16).
    const plain = plainRowLength(r);
    const len = plain >= 0 ? plain : rowLength(r, op, `${arg}[${i}]`);
    if (len !== cols)
      argError('SHAPE_MISMATCH', op, `${arg}[${i}]`, `has length ${len} but row 0 has ${cols}.`);
    if (r instanceof Float32Array) {
      // set() has a fixed cost that short rows feel; their values are copied one by one.
      if (cols <= 16) for (let j = 0, o = i * cols; j < cols; j++) data[o + j] = r[j];
      else data.set(r, i * cols);
    } else {
      const arr = r as readonly unknown[];
      for (let j = 0; j < cols; j++) {
        const v = arr[j];
        if (typeof v !== 'number')
          argError('INVALID_TYPE', op, `${arg}[${i}][${j}]`, `must be a number, got ${describeType(v)}.`);
        data[i * cols + j] = v;
        const f = data[i * cols + j];
        if (f - f !== 0 && v - v === 0) beyondFloat32(op, arg, v, `row ${i}, column ${j}`);
      }
    }
  }
  if (want) sameShape(rows, cols, want, op, arg);
  return make(data, rows, cols, op, arg);
}

/**
 * `NON_FINITE` for a finite number that float32 cannot hold: it would be stored as ±Infinity, which
 * the finite check would then report as if the caller had passed Infinity.
 */
export function beyondFloat32(op: string, arg: string, v: number, at: string): never {
  return argError(
    'NON_FINITE',
    op,
    arg,
    `holds ${v} at ${at}, beyond float32's range (largest finite value about 3.4028235e38); scale the row down first.`,
  );
}

/**
 * A shape argument as `[rows, cols]`: `[rows, cols]` or `[length]` (one row) of positive integers;
 * anything else (three dimensions, a string) is `INVALID_ARGUMENT` naming it, never read as
 * another shape.
 */
function shapeOf(shape: unknown, op: string, arg: string): [number, number] {
  if (!Array.isArray(shape) || (shape.length !== 1 && shape.length !== 2))
    argError(
      'INVALID_ARGUMENT',
      op,
      `${arg}.shape`,
      `must be [rows, cols] or [length], got ${Array.isArray(shape) ? `an array of ${shape.length}` : describeType(shape)}.`,
    );
  const rows = shape.length === 2 ? (shape[0] as number) : 1;
  const cols = shape.length === 2 ? (shape[1] as number) : (shape[0] as number);
  checkDim(op, `${arg}.shape`, rows);
  checkDim(op, `${arg}.shape`, cols);
  return [rows, cols];
}

/** `SHAPE_MISMATCH` unless rows x cols is the shape the caller gave (it is never dropped silently). */
function sameShape(
  rows: number,
  cols: number,
  want: readonly [number, number],
  op: string,
  arg: string,
): void {
  if (rows !== want[0] || cols !== want[1])
    argError(
      'SHAPE_MISMATCH',
      op,
      arg,
      `has shape [${rows}, ${cols}] but the shape given is [${want[0]}, ${want[1]}].`,
    );
}

function make(data: Float32Array, rows: number, cols: number, op: string, arg: string): Tensor {
  if (rows === 0 || cols === 0) argError('EMPTY_INPUT', op, arg, `is empty (shape [${rows}, ${cols}]).`);
  return new Tensor(data, rows, cols);
}

/**
 * Refuses a typed array whose buffer was transferred (detached): it reads as empty, and copying from
 * it throws a plain TypeError, so without this the caller would be told "empty" or nothing typed.
 */
export function attached(x: ArrayBufferView, op: string, arg: string): void {
  if (x.byteLength !== 0) return;
  try {
    // Only a detached buffer refuses a new view (a SharedArrayBuffer never detaches).
    new Uint8Array(x.buffer, 0, 0);
  } catch {
    argError('DISPOSED', op, arg, `is a ${describeType(x)} whose buffer was transferred (detached).`);
  }
  // A fixed-length view over a resizable ArrayBuffer shrunk below it reads as empty too, but
  // copying it throws a TypeError; `slice` refuses it and copies nothing from an empty view.
  if (!(x instanceof DataView)) {
    try {
      (TYPED_ARRAY as { slice: (a: number, b: number) => unknown }).slice.call(x, 0, 0);
    } catch {
      argError(
        'DISPOSED',
        op,
        arg,
        `is a ${describeType(x)} whose resizable buffer was shrunk below it: its values are gone.`,
      );
    }
  }
}

/** Refuses a tensor whose buffer was transferred or shrunk since it was made, naming `op` and `arg`. */
export function intact(t: Tensor, op: string, arg: string): void {
  // Disposed meanwhile (an options getter of the call did it): named here, not by Tensor.data.
  if (t.disposed) argError('DISPOSED', op, arg, 'is a disposed tensor.');
  if (t.data.length !== t.rows * t.cols)
    argError(
      'DISPOSED',
      op,
      arg,
      `is a tensor whose buffer was transferred (detached) or shrunk below its shape [${t.rows}, ${t.cols}].`,
    );
}

const TYPED_ARRAY = Object.getPrototypeOf(Int8Array.prototype) as object;
const intrinsic = (key: string) =>
  Object.getOwnPropertyDescriptor(TYPED_ARRAY, key)!.get! as (this: unknown) => number;
/** The built-in `length` getter of typed arrays: the true count, whatever an override says. */
export const TYPED_LENGTH = intrinsic('length');
const TYPED_BUFFER = intrinsic('buffer') as unknown as (this: unknown) => ArrayBufferLike;
const TYPED_OFFSET = intrinsic('byteOffset');

/**
 * `v` itself when it is a plain Float32Array; for a subclass (or one with its own `subarray`,
 * `constructor`, `buffer` or `byteOffset`), a plain Float32Array over the same memory. A subclass's
 * `subarray()` and `slice()` build their result through its constructor (`Symbol.species`), and
 * one that takes only its values (`constructor(v) { super(v); }`) made every slice the whole array:
 * chunks of a large input all read its first rows, and a copy sized for one chunk overran into
 * other data. Every view the kit hands a backend is plain.
 */
export function plainFloat32(v: Float32Array): Float32Array {
  if (
    Object.getPrototypeOf(v) === Float32Array.prototype &&
    !Object.hasOwn(v, 'subarray') &&
    !Object.hasOwn(v, 'constructor') &&
    !Object.hasOwn(v, 'buffer') &&
    !Object.hasOwn(v, 'byteOffset')
  )
    return v;
  return new Float32Array(TYPED_BUFFER.call(v), TYPED_OFFSET.call(v), TYPED_LENGTH.call(v));
}

/** `v` as a plain array of its own type over the same memory (see {@link plainFloat32}). */
export function plainOf<T extends Int32Array | Uint16Array | Int8Array>(
  v: T,
  type: { readonly prototype: T; new (b: ArrayBufferLike, o: number, n: number): T },
): T {
  if (Object.getPrototypeOf(v) === type.prototype) return v;
  return new type(TYPED_BUFFER.call(v), TYPED_OFFSET.call(v), TYPED_LENGTH.call(v));
}

/**
 * Refuses an object that inherits from a typed array's prototype without being one, a `Proxy`
 * around a Float32Array above all: `instanceof` says yes, but its `length`, `buffer` and
 * `subarray` throw a TypeError (they need the real array), so it cannot be read, here or in a
 * worker. `INVALID_TYPE` naming `op` and `arg`, not a TypeError from deep inside a call.
 */
export function refuseFakeView(v: unknown, op: string, arg: string): void {
  // A value whose inspection throws (a revoked Proxy, a throwing getPrototypeOf trap) is the
  // caller's, named: INVALID_ARGUMENT naming `arg`, its TypeError as cause.
  try {
    fakeView(v, op, arg);
  } catch (e) {
    throw readFailure(op, arg, e);
  }
}

function fakeView(v: unknown, op: string, arg: string): void {
  // A real typed array whose `length` is overridden (an own property, a subclass's getter) would be
  // read past its values, or copied short by a RangeError: its own length must be the true one.
  if (
    ArrayBuffer.isView(v) &&
    !(v instanceof DataView) &&
    (Object.getPrototypeOf(v) !== Float32Array.prototype || Object.hasOwn(v, 'length'))
  ) {
    const real = TYPED_LENGTH.call(v);
    const said = (v as { length?: unknown }).length;
    if (said !== real)
      argError(
        'INVALID_TYPE',
        op,
        arg,
        `says its length is ${valueText(said)} but holds ${real} values (its length is overridden): pass a plain ${describeType(v)}.`,
      );
  }
  if (
    typeof v === 'object' &&
    v !== null &&
    !ArrayBuffer.isView(v) &&
    Object.prototype.isPrototypeOf.call(TYPED_ARRAY, v)
  )
    argError(
      'INVALID_TYPE',
      op,
      arg,
      `claims to be a ${describeType(v)} but is not one (a Proxy around one?): its values cannot be read. Pass the typed array itself.`,
    );
}

/**
 * A typed-array argument checked: a real, readable instance of one of `types` (`INVALID_TYPE`
 * naming `arg` otherwise, a Proxy around one and an overridden `length` included, so that its
 * `length` can be trusted), not detached or shrunk (`DISPOSED`); a value whose inspection throws
 * is `INVALID_ARGUMENT`. `what` names the types in the message (by default their names joined by
 * "or"). For helpers whose callers may pass anything: backend authors' and nn's.
 */
export function viewArg<T extends ArrayBufferView & ArrayLike<number>>(
  op: string,
  arg: string,
  v: unknown,
  types: readonly (abstract new (...a: never[]) => T)[],
  what = types.map((t) => t.name).join(' or '),
): T {
  refuseFakeView(v, op, arg);
  if (!reading(op, arg, () => types.some((t) => v instanceof t)) || !ArrayBuffer.isView(v))
    argError('INVALID_TYPE', op, arg, `must be a ${what}, got ${describeType(v)}.`);
  attached(v, op, arg);
  return v as T;
}

/** `matrixArg`'s default least rows and columns (a constant: it runs inside kernels). */
const NO_LEAST = [0, 0] as const;

/**
 * A kernel's matrix argument read once and checked: an object whose `data` passes
 * {@link viewArg} as a Float32Array and whose `rows` and `cols` are whole numbers of at least
 * `least` (`SHAPE_MISMATCH` naming `arg` otherwise, as when `data` holds fewer than rows x cols
 * values). Returns the fields as read.
 */
export function matrixArg(
  op: string,
  arg: string,
  x: unknown,
  least: readonly [number, number] = NO_LEAST,
): Matrix {
  if (typeof x !== 'object' || x === null)
    argError('INVALID_TYPE', op, arg, `must be a matrix { data, rows, cols }, got ${describeType(x)}.`);
  const { data, rows, cols } = reading(op, arg, () => {
    const { data, rows, cols } = x as Matrix;
    return { data, rows, cols };
  });
  viewArg(op, `${arg}.data`, data, [Float32Array]);
  if (!(Number.isSafeInteger(rows) && rows >= least[0] && Number.isSafeInteger(cols) && cols >= least[1]))
    argError(
      'SHAPE_MISMATCH',
      op,
      arg,
      `has ${valueText(rows)} x ${valueText(cols)} values; needs whole numbers, rows >= ${least[0]}, cols >= ${least[1]}.`,
    );
  if (data.length < rows * cols)
    argError('SHAPE_MISMATCH', op, arg, `holds ${data.length} values, fewer than ${rows} x ${cols}.`);
  return { data, rows, cols };
}

/** `v instanceof Float32Array` for the caller's argument `arg`, whose inspection may throw (a revoked Proxy). */
function isF32Arg(v: unknown, op: string, arg: string): v is Float32Array {
  try {
    return v instanceof Float32Array;
  } catch (e) {
    throw readFailure(op, arg, e);
  }
}

/**
 * The length of a row that needs no other check: a Float32Array of its own class, with its true
 * length, attached and not empty; or an array of Array's own class. -1 for anything else, which
 * {@link rowLength} then checks and names.
 */
function plainRowLength(r: unknown): number {
  try {
    if (ArrayBuffer.isView(r))
      return Object.getPrototypeOf(r) === Float32Array.prototype &&
        !Object.hasOwn(r, 'length') &&
        r.byteLength !== 0
        ? (r as Float32Array).length
        : -1;
    return Array.isArray(r) && Object.getPrototypeOf(r) === Array.prototype ? r.length : -1;
  } catch {
    return -1;
  }
}

function rowLength(r: unknown, op: string, arg: string): number {
  refuseFakeView(r, op, arg);
  if (r instanceof Float32Array) attached(r, op, arg);
  if (r instanceof Float32Array || Array.isArray(r)) return r.length;
  if (ArrayBuffer.isView(r))
    argError('INVALID_TYPE', op, arg, `must hold float32 values, got ${describeType(r)}.`);
  return argError(
    'INVALID_TYPE',
    op,
    arg,
    `must be an array of numbers or a Float32Array, got ${describeType(r)}.`,
  );
}

function checkDim(op: string, arg: string, n: number): void {
  if (!Number.isInteger(n) || n < 0)
    argError('INVALID_ARGUMENT', op, arg, `must be a non-negative integer, got ${valueText(n)}.`);
}

/**
 * A caller's value as error messages show it: a string quoted (and cut at 60 characters, control
 * characters escaped), a bigint with its `n`, another primitive as itself (a symbol too), an object or a
 * function by its type, never by its own `toString` (which may throw, lie, or be missing).
 */
export function valueText(v: unknown): string {
  if (typeof v === 'string') {
    const cut = v.length > 60 ? `${v.slice(0, 57)}...` : v;
    return `'${JSON.stringify(cut).slice(1, -1).replaceAll('\\"', '"')}'`;
  }
  if ((typeof v === 'object' && v !== null) || typeof v === 'function') return describeType(v);
  return typeof v === 'bigint' ? `${v}n` : String(v);
}

/** The built-in name of a typed array's kind (`Float32Array`), whatever its subclass or own properties say. */
const TYPED_TAG = Object.getOwnPropertyDescriptor(TYPED_ARRAY, Symbol.toStringTag)!.get! as (
  this: unknown,
) => string | undefined;

/**
 * A short name for a value's type, for error messages: a typed array by its built-in kind, another
 * object by the constructor its prototype holds (an own `constructor` property, or a getter, can
 * say anything, and is not read), `object` when that has no name.
 */
export function describeType(v: unknown): string {
  if (v === null) return 'null';
  try {
    if (Array.isArray(v)) return 'Array';
    if (typeof v === 'object') {
      const tag = TYPED_TAG.call(v);
      if (tag !== undefined) return tag;
      const proto: unknown = Object.getPrototypeOf(v);
      if (proto === null || typeof proto !== 'object') return 'object';
      const ctor: unknown = Object.getOwnPropertyDescriptor(proto, 'constructor')?.value;
      const name: unknown =
        typeof ctor === 'function' ? Object.getOwnPropertyDescriptor(ctor, 'name')?.value : undefined;
      return typeof name === 'string' && name !== '' ? name : 'object';
    }
  } catch {
    // A revoked Proxy, or a trap that throws: described without reading it.
    return 'an object that cannot be inspected (a revoked Proxy?)';
  }
  return typeof v;
}
