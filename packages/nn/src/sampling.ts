import { argError, argErrorOf, checkFinite, describeType, valueText } from '@cosinekit/core/backend';
import {
  checkBoolean,
  checkLayerSize,
  checkNumber,
  checkObject,
  fields,
  given,
  numbersOf,
  promised,
  viewLength,
} from './check.js';
import type { Sampling } from './losses/loss.js';
import type { Rng } from './rng.js';

/** Rows of inputs with a class label each: `x` is `rows x cols`, row-major. */
export interface LabelledData {
  readonly x: Float32Array;
  readonly rows: number;
  readonly cols: number;
  readonly labels: ArrayLike<number>;
}

/** Explicit pairs: row i of `a` with row i of `b`, and a target per pair (label or similarity). */
export interface PairData {
  readonly a: Float32Array;
  readonly b: Float32Array;
  readonly rows: number;
  readonly cols: number;
  readonly targets: ArrayLike<number>;
}

/** One training batch: `rows` pairs of inputs (`a`, `b`, each `rows x cols`). */
export interface Batch {
  readonly a: Float32Array;
  readonly b: Float32Array;
  readonly rows: number;
  readonly cols: number;
  /** Per pair: label (> 0 similar) or target similarity. */
  readonly targets?: Float64Array;
  /** Per anchor: its class, for in-batch losses. */
  readonly groups?: Int32Array;
  /** Triplets: a hard negative per anchor (`rows x cols`), and its class. */
  readonly negatives?: Float32Array;
  readonly negativeGroups?: Int32Array;
  /** Per row of `a`: its class (`'labels'` batches, where `b` is empty). */
  readonly labels?: Int32Array;
}

/**
 * Yields one epoch of batches, shuffled with the given generator. Write your own by returning an
 * object of this shape (see the package README): `sampling` must match the loss's, and `epoch`
 * must draw all its randomness from `rng` so that a seed reproduces a run.
 */
export interface Sampler {
  readonly sampling: Sampling;
  /**
   * Batches per epoch: a whole number >= 1, the most an epoch yields (the built-in samplers yield
   * exactly this many). `train` refuses an epoch that yields more, naming `sampler`.
   */
  readonly batchesPerEpoch: number;
  /**
   * One epoch of batches. With `reuse`, a sampler may fill the same arrays for every batch of an
   * epoch, so a batch is valid only until the next one is drawn; `train` asks for that (it is done
   * with each batch before drawing the next) and the built-in samplers then allocate nothing per
   * batch. Without it every batch has arrays of its own.
   */
  epoch(rng: Rng, reuse?: boolean): Iterable<Batch>;
}

/**
 * The arrays of a sampler's batches: new ones per call, or with `reuse` one per name and length,
 * handed out again every time (every built-in sampler writes all of a batch's values).
 */
function batchArrays(reuse: boolean | undefined) {
  const held = new Map<string, Float32Array | Float64Array | Int32Array>();
  const take = <T extends Float32Array | Float64Array | Int32Array>(
    name: string,
    n: number,
    make: (n: number) => T,
  ): T => {
    if (!reuse) return make(n);
    const key = `${name}:${n}`;
    let a = held.get(key) as T | undefined;
    if (!a) {
      a = make(n);
      held.set(key, a);
    }
    return a;
  };
  const blocks = new Map<string, Float32Array[]>();
  return {
    f32: (name: string, n: number) => take(name, n, (k) => new Float32Array(k)),
    f64: (name: string, n: number) => take(name, n, (k) => new Float64Array(k)),
    i32: (name: string, n: number) => take(name, n, (k) => new Int32Array(k)),
    /**
     * `count` arrays of `n` floats, back to back in one buffer (the same views again with
     * `reuse`): `train` then feeds a batch's blocks to the encoder as they lie, without copying
     * them into one input first.
     */
    f32Blocks: (name: string, n: number, count: number): Float32Array[] => {
      const key = `${name}:${n}:${count}`;
      let views = reuse ? blocks.get(key) : undefined;
      if (!views) {
        const all = new Float32Array(n * count);
        views = Array.from({ length: count }, (_, i) => all.subarray(i * n, (i + 1) * n));
        if (reuse) blocks.set(key, views);
      }
      return views;
    },
  };
}

/**
 * Changes one input row in place (`row` is a copy, never the caller's data), drawing any
 * randomness from `rng`. Samplers call it on every row they put in a batch.
 */
export type Augment = (row: Float32Array, rng: Rng) => void;

/** Options shared by the samplers. */
export interface SamplerOptions {
  /** Pairs (or rows) per batch; defaults to 64. */
  batchSize?: number;
  /**
   * Drop the last batch of an epoch when it is smaller than `batchSize` (PyTorch's `drop_last`);
   * defaults to false. In-batch sampling always drops a last batch of one pair.
   */
  dropLast?: boolean;
  /** Applied to every row copied into a batch, e.g. {@link randomShift}. */
  augment?: Augment;
}

function batchSizeOf(options: SamplerOptions, op: string): number {
  const g = options.augment;
  if (g !== undefined && typeof g !== 'function')
    argError('INVALID_TYPE', op, 'augment', `must be a function, got ${describeType(g)}.`);
  const b = given(options.batchSize, 64);
  if (!Number.isInteger(b) || b < 1)
    argError('INVALID_ARGUMENT', op, 'batchSize', `must be a positive integer, got ${valueText(b)}.`);
  return b;
}

/** A sampler's `dropLast` flag, checked (a string or `null` is refused, not read as a boolean). */
function dropLast(op: string, options: { dropLast?: boolean }): boolean {
  checkBoolean(op, 'dropLast', options.dropLast);
  return options.dropLast === true;
}

/**
 * Start and length of each batch of an epoch of `n` rows. An epoch of no batches is refused: its
 * loss would be the NaN of an empty mean.
 */
function batchBounds(
  n: number,
  batchSize: number,
  dropLast: boolean,
  minRows: number,
  op: string,
): [number, number][] {
  const out: [number, number][] = [];
  for (let s = 0; s < n; s += batchSize) {
    const rows = Math.min(batchSize, n - s);
    if (rows < minRows || (dropLast && rows < batchSize)) break;
    out.push([s, rows]);
  }
  if (out.length === 0)
    argError(
      'INVALID_ARGUMENT',
      op,
      'batchSize',
      `gives no batch for ${n} rows (batchSize ${batchSize}${dropLast ? ', dropLast' : ''}; batches need at least ${minRows} rows).`,
    );
  return out;
}

/** Checks the shape fields of `data` and that `x` (or `a`, `b`) are Float32Arrays. */
function checkShape(op: string, data: { rows: unknown; cols: unknown }, arrays: [string, unknown][]): void {
  for (const name of ['rows', 'cols'] as const) {
    const v = data[name];
    if (!(typeof v === 'number' && Number.isInteger(v) && v >= 1))
      argError('INVALID_ARGUMENT', op, `data.${name}`, `must be a positive integer, got ${valueText(v)}.`);
  }
  for (const [name, x] of arrays) viewLength(op, `data.${name}`, x, [Float32Array], 'Float32Array');
}

/**
 * Refuses `x` (a sampler's rows, held by reference, not copied) when it no longer holds the `n`
 * values it was made with: its buffer was transferred (detached) or shrunk. `DISPOSED` naming `op`
 * and `arg`, where reading it would be a plain TypeError or rows that silently are not there.
 */
function held(op: string, arg: string, x: Float32Array, n: number): void {
  if (x.length < n)
    argError(
      'DISPOSED',
      op,
      arg,
      `holds ${x.length} of its ${n} values: its buffer was transferred (detached) or shrunk after the sampler was made.`,
    );
}

/**
 * Checks that every label is an integer (a class): a fraction, NaN or string would be its own class
 * in the sampler but be cut to an integer in a batch's `groups`, mixing two classes silently.
 */
function checkLabels(op: string, labels: Float64Array): void {
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (!(Number.isInteger(y) && y >= -(2 ** 31) && y < 2 ** 31))
      argError(
        'INVALID_ARGUMENT',
        op,
        'data.labels',
        `must hold 32-bit integers, got ${valueText(y)} at row ${i}.`,
      );
  }
}

/** Options of {@link randomShift}. */
export interface RandomShiftOptions {
  /** Image width in pixels. */
  width: number;
  /** Image height in pixels. */
  height: number;
  /** Values per pixel, stored last (height x width x channels); defaults to 1. */
  channels?: number;
  /**
   * Largest shift in pixels along each axis, below the image's width and height (a shift that
   * large moves every pixel out); defaults to 2, or width - 1 or height - 1 where that is less.
   */
  max?: number;
  /** Share of rows shifted; defaults to 1. */
  probability?: number;
}

/**
 * Image augmentation: moves each image by a random whole number of pixels in
 * `[-max, max]` along each axis, filling the uncovered border with zeros.
 */
export function randomShift(options: RandomShiftOptions): Augment {
  options = checkObject('randomShift', 'options', options, false, [
    'width',
    'height',
    'channels',
    'max',
    'probability',
  ]);
  const { width, height, channels = 1, probability = 1 } = options;
  for (const [name, v] of [
    ['width', width],
    ['height', height],
    ['channels', channels],
  ] as const) {
    if (!Number.isInteger(v) || v < 1)
      argError('INVALID_ARGUMENT', 'randomShift', name, `must be a positive integer, got ${valueText(v)}.`);
  }
  // By default 2, or less on an image too small for it.
  const max = options.max ?? Math.min(2, Math.min(width, height) - 1);
  if (!Number.isInteger(max) || max < 0)
    argError('INVALID_ARGUMENT', 'randomShift', 'max', `must be an integer >= 0, got ${valueText(max)}.`);
  // A shift as wide as the image moves every pixel out: training ran on rows of zeros.
  if (max >= Math.min(width, height))
    argError(
      'INVALID_ARGUMENT',
      'randomShift',
      'max',
      `is ${max}, but the image is ${width} x ${height}: a shift that large can move every pixel out (leave it below ${Math.min(width, height)}).`,
    );
  checkNumber('randomShift', 'probability', probability, 0, 1);
  const size = width * height * channels;
  // Before the scratch row is allocated: a width and height of 1e6 threw a raw RangeError.
  checkLayerSize('randomShift', 'width', size, 'rows of width x height x channels');
  const tmp = new Float32Array(size);
  return (row, rng) => {
    if (row.length !== size) {
      argError(
        'SHAPE_MISMATCH',
        'randomShift',
        'row',
        `has ${row.length} values, not ${height} x ${width} x ${channels}.`,
      );
    }
    if (probability < 1 && rng.next() >= probability) return;
    const dy = rng.int(2 * max + 1) - max;
    const dx = rng.int(2 * max + 1) - max;
    if (dx === 0 && dy === 0) return;
    tmp.fill(0);
    const line = width * channels;
    for (let y = 0; y < height; y++) {
      const sy = y - dy;
      if (sy < 0 || sy >= height) continue;
      const x0 = Math.max(0, dx);
      const x1 = Math.min(width, width + dx);
      if (x1 <= x0) continue;
      tmp.set(
        row.subarray(sy * line + (x0 - dx) * channels, sy * line + (x1 - dx) * channels),
        y * line + x0 * channels,
      );
    }
    row.set(tmp);
  };
}

/**
 * Refuses rows holding NaN or ±Infinity, naming the first: left in, they would reach the first
 * matmul and fail there as the backend's error (or, through a ReLU, vanish into zero silently).
 */
function refuseNonFinite(x: Float32Array, cols: number, op: string, arg: string): void {
  checkFinite(op, arg, { data: x, rows: x.length / cols, cols });
}

/**
 * The caller's `data`, each field read once (`labels` copied: see `numbersOf`) and checked: the
 * sampler reads only this copy (and `x`, which it holds, not copies).
 */
function labelled(data: LabelledData, op: string): LabelledData & { labels: Float64Array } {
  checkObject(op, 'data', data, false);
  const d = fields(op, 'data', data, ['x', 'rows', 'cols', 'labels']);
  checkShape(op, d, [['x', d.x]]);
  const labels = d.labels == null ? [] : numbersOf(op, 'data.labels', d.labels, 'row ');
  if (d.x.length !== d.rows * d.cols || labels.length !== d.rows) {
    argError('SHAPE_MISMATCH', op, 'data', `needs x of ${d.rows} x ${d.cols} and ${d.rows} labels.`);
  }
  return { ...d, labels: labels as Float64Array };
}

/**
 * Draws a row uniformly among those of a class other than `c`: by rejection first (a few tries,
 * the draws of earlier releases, so seeded runs on balanced labels are unchanged), then directly
 * from the rows grouped by class. Rejection alone took rows / (rows of other classes) tries a draw:
 * with one row in a minority class, an epoch cost rows^2 (34 s at 40,000 rows).
 */
function otherClassDraw(data: LabelledData, byClass: Map<number, number[]>): (rng: Rng, c: number) => number {
  const grouped = new Int32Array(data.rows);
  const range = new Map<number, [number, number]>();
  let at = 0;
  for (const [c, list] of byClass) {
    range.set(c, [at, at + list.length]);
    grouped.set(list, at);
    at += list.length;
  }
  return (rng, c) => {
    for (let t = 0; t < REJECTION_TRIES; t++) {
      const j = rng.int(data.rows);
      if (data.labels[j] !== c) return j;
    }
    const [lo, hi] = range.get(c)!;
    const u = rng.int(data.rows - (hi - lo));
    return grouped[u < lo ? u : u + (hi - lo)];
  };
}

/** Tries of {@link otherClassDraw}'s rejection before it draws directly. */
const REJECTION_TRIES = 8;

function classIndex(data: LabelledData, op: string): Map<number, number[]> {
  checkLabels(op, data.labels as Float64Array);
  refuseNonFinite(data.x, data.cols, op, 'data.x');
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < data.rows; i++) {
    const c = data.labels[i];
    const list = byClass.get(c);
    if (list) list.push(i);
    else byClass.set(c, [i]);
  }
  return byClass;
}

/**
 * Refuses labels under which a pair sampler would train on nothing, silently:
 * - one class only (`twoClasses`): the in-batch losses mask every other row of the anchor's class,
 *   so no batch has a negative and every loss is exactly 0; a pair sampler has no dissimilar pair;
 * - every class a single row (`positives`, and no `augment`): every positive is the anchor paired
 *   with itself, a cosine of 1 by construction, with nothing to learn from (an augment makes the
 *   two copies differ, the SimCSE recipe, and is allowed).
 * `INVALID_ARGUMENT` naming `op` and `data.labels`.
 */
function checkClasses(
  op: string,
  byClass: Map<number, number[]>,
  need: { twoClasses: boolean; positives: boolean; augment: Augment | undefined },
): void {
  if (need.twoClasses && byClass.size < 2) {
    const [only] = byClass.keys();
    argError(
      'INVALID_ARGUMENT',
      op,
      'data.labels',
      `needs at least two classes, got every row in class ${only}: rows of one class are never each other's negatives (in-batch losses mask them, so every batch would train at loss 0; pair sampling has no dissimilar pair). For unlabelled rows, give each row its own label and an augment.`,
    );
  }
  if (need.positives && need.augment === undefined && byClass.size > 1) {
    for (const rows of byClass.values()) if (rows.length > 1) return;
    argError(
      'INVALID_ARGUMENT',
      op,
      'data.labels',
      `gives every class a single row (${byClass.size} classes), so every positive pair is a row with itself (cosine 1, nothing to learn); give some class two rows, or an augment so the two copies differ.`,
    );
  }
}

function copyRow(
  src: Float32Array,
  row: number,
  cols: number,
  dst: Float32Array,
  at: number,
  augment?: Augment,
  rng?: Rng,
  op = 'sampler',
  arg = 'data.x',
): void {
  // Rows shrunk or transferred under a running epoch: a row past the new end copied nothing and
  // the batch trained on the previous batch's row there, silently; a detached buffer threw a
  // TypeError. The check at each epoch's start came too late for the rest of that epoch.
  let r: Float32Array | undefined;
  try {
    r = src.subarray(row * cols, (row + 1) * cols);
  } catch {
    r = undefined;
  }
  if (r?.length !== cols)
    argError(
      'DISPOSED',
      op,
      arg,
      `holds ${src.length} values, not row ${row}'s (to ${(row + 1) * cols}): its buffer was transferred (detached) or shrunk after the sampler was made.`,
    );
  dst.set(r, at * cols);
  if (augment) {
    let r: unknown;
    try {
      r = augment(dst.subarray(at * cols, (at + 1) * cols), rng!);
    } catch (e) {
      // The caller's hook: named, its error the cause (as core names a filter predicate's).
      throw argErrorOf('INVALID_ARGUMENT', op, 'augment', `threw: ${describeError(e)}`, e);
    }
    // An async hook would write into the batch after it was handed on (or reject unhandled, which
    // ended the process): refused, its promise's rejection handled here.
    if (promised(r)) {
      argError(
        'INVALID_TYPE',
        op,
        'augment',
        'returned a promise: an augment hook must change the row synchronously.',
      );
    }
    // A generator function's body runs only when its iterator is stepped: never, here. It trained
    // on unchanged rows, and with one label a row every positive was its anchor.
    const it = r as { next?: unknown; [Symbol.iterator]?: unknown } | null;
    if (typeof it?.next === 'function' && typeof it[Symbol.iterator] === 'function')
      argError(
        'INVALID_TYPE',
        op,
        'augment',
        'returned an iterator (a generator function, whose body never runs): an augment hook must change the row before it returns.',
      );
  }
}

/** `String(e)` that cannot throw (an object without a prototype has no toString). */
function describeError(e: unknown): string {
  try {
    return String(e);
  } catch {
    return Object.prototype.toString.call(e);
  }
}

function order(n: number, rng: Rng): Int32Array {
  const idx = new Int32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  return rng.shuffle(idx);
}

/** The options every sampler takes ({@link SamplerOptions}). */
const SAMPLER_OPTIONS = ['batchSize', 'dropLast', 'augment'];

/**
 * In-batch sampling for {@link multipleNegativesRankingLoss}: every row is an anchor once per
 * epoch (shuffled), paired with a random other row of its class; the anchor's class goes in
 * `groups` so same-class rows are not used as negatives. A trailing batch of one pair is dropped.
 *
 * Labels it could only train on nothing with are refused when it is made (`INVALID_ARGUMENT`
 * naming `'inBatchSampler'` and `'data.labels'`): one class only (every negative masked: loss 0
 * every batch), and, without `augment`, every class a single row (every positive the anchor
 * itself). {@link tripletSampler} and {@link pairSampler} refuse the same.
 */
export function inBatchSampler(data: LabelledData, options: SamplerOptions = {}): Sampler {
  data = labelled(data, 'inBatchSampler');
  options = checkObject('inBatchSampler', 'options', options, true, SAMPLER_OPTIONS);
  const draw = inBatchDraw(data, options, 'inBatchSampler', 2);
  return {
    sampling: 'in-batch',
    batchesPerEpoch: draw.batchesPerEpoch,
    *epoch(rng, reuse) {
      for (const [batch] of draw.epoch(rng, reuse)) yield batch;
    },
  };
}

/**
 * The in-batch draw of {@link inBatchSampler}, its `a` and `b` the first two of `blocks` arrays
 * back to back in one buffer; each batch comes with the arrays after them (for the triplet
 * sampler's negatives), so all of a batch's rows are one block.
 */
function inBatchDraw(data: LabelledData, options: SamplerOptions, op: string, blocks: number) {
  const batchSize = batchSizeOf(options, op);
  const byClass = classIndex(data, op);
  checkClasses(op, byClass, { twoClasses: true, positives: true, augment: options.augment });
  const { cols } = data;
  const { augment } = options;
  const bounds = batchBounds(data.rows, batchSize, dropLast(op, options), 2, op);
  return {
    batchesPerEpoch: bounds.length,
    *epoch(rng: Rng, reuse: boolean | undefined): Generator<[Batch, Float32Array[]]> {
      held(op, 'data.x', data.x, data.rows * cols);
      const idx = order(data.rows, rng);
      const arrays = batchArrays(reuse);
      for (const [s, rows] of bounds) {
        const views = arrays.f32Blocks('rows', rows * cols, blocks);
        const a = views[0];
        const b = views[1];
        const groups = arrays.i32('groups', rows);
        for (let r = 0; r < rows; r++) {
          const i = idx[s + r];
          const mates = byClass.get(data.labels[i])!;
          // Uniform over the other rows of the class (the anchor itself only when it is alone).
          let j = mates.length > 1 ? mates[rng.int(mates.length - 1)] : i;
          if (j === i && mates.length > 1) j = mates[mates.length - 1];
          copyRow(data.x, i, cols, a, r, augment, rng, op);
          copyRow(data.x, j, cols, b, r, augment, rng, op);
          groups[r] = data.labels[i];
        }
        yield [{ a, b, rows, cols, groups }, views.slice(2)];
      }
    },
  };
}

/**
 * Triplet sampling for {@link multipleNegativesRankingLoss}: every row is an anchor once per epoch
 * (shuffled), with a random other row of its class as positive and a random row of another class
 * as its hard negative; the other anchors' positives and negatives are negatives too.
 */
export function tripletSampler(data: LabelledData, options: SamplerOptions = {}): Sampler {
  data = labelled(data, 'tripletSampler');
  options = checkObject('tripletSampler', 'options', options, true, SAMPLER_OPTIONS);
  const inner = inBatchDraw(data, options, 'tripletSampler', 3);
  const other = otherClassDraw(data, classIndex(data, 'tripletSampler'));
  const { cols } = data;
  return {
    sampling: 'in-batch',
    batchesPerEpoch: inner.batchesPerEpoch,
    *epoch(rng, reuse) {
      const arrays = batchArrays(reuse);
      for (const [batch, [negatives]] of inner.epoch(rng, reuse)) {
        const { rows, groups } = batch;
        const negativeGroups = arrays.i32('negativeGroups', rows);
        for (let r = 0; r < rows; r++) {
          const j = other(rng, groups![r]);
          copyRow(data.x, j, cols, negatives, r, options.augment, rng, 'tripletSampler');
          negativeGroups[r] = data.labels[j];
        }
        yield { ...batch, negatives, negativeGroups };
      }
    },
  };
}

/** Options of {@link pairSampler}. */
export interface PairSamplerOptions extends SamplerOptions {
  /** Share of similar pairs; defaults to 0.5. */
  positiveFraction?: number;
}

/**
 * Labelled-pair sampling for the pair losses: every row is an anchor once per epoch (shuffled),
 * paired with a random row of its class (target +1) or of another class (target -1).
 */
export function pairSampler(data: LabelledData, options: PairSamplerOptions = {}): Sampler {
  data = labelled(data, 'pairSampler');
  options = checkObject('pairSampler', 'options', options, true, [...SAMPLER_OPTIONS, 'positiveFraction']);
  const batchSize = batchSizeOf(options, 'pairSampler');
  // NaN once made every pair negative, 2 every pair positive, without a word.
  const positiveFraction = checkNumber(
    'pairSampler',
    'positiveFraction',
    given(options.positiveFraction, 0.5),
    0,
    1,
  );
  const byClass = classIndex(data, 'pairSampler');
  checkClasses('pairSampler', byClass, {
    twoClasses: true,
    positives: positiveFraction > 0,
    augment: options.augment,
  });
  const other = otherClassDraw(data, byClass);
  const { cols } = data;
  const { augment } = options;
  const bounds = batchBounds(data.rows, batchSize, dropLast('pairSampler', options), 1, 'pairSampler');
  return {
    sampling: 'pairs',
    batchesPerEpoch: bounds.length,
    *epoch(rng, reuse) {
      held('pairSampler', 'data.x', data.x, data.rows * cols);
      const idx = order(data.rows, rng);
      const arrays = batchArrays(reuse);
      for (const [s, rows] of bounds) {
        const [a, b] = arrays.f32Blocks('rows', rows * cols, 2);
        const targets = arrays.f64('targets', rows);
        for (let r = 0; r < rows; r++) {
          const i = idx[s + r];
          const positive = rng.next() < positiveFraction;
          let j: number;
          if (positive) {
            // Uniform over the other rows of the class (the anchor itself only when it is alone):
            // a pair of a row with itself has cosine 1 and teaches nothing (it was over half the
            // positives with two-row classes).
            const mates = byClass.get(data.labels[i])!;
            j = mates.length > 1 ? mates[rng.int(mates.length - 1)] : i;
            if (j === i && mates.length > 1) j = mates[mates.length - 1];
          } else {
            j = other(rng, data.labels[i]);
          }
          copyRow(data.x, i, cols, a, r, augment, rng, 'pairSampler');
          copyRow(data.x, j, cols, b, r, augment, rng, 'pairSampler');
          targets[r] = positive ? 1 : -1;
        }
        yield { a, b, rows, cols, targets };
      }
    },
  };
}

/** Batches of explicit pairs (shuffled each epoch), e.g. for the embedding adapter. */
export function fixedPairSampler(data: PairData, options: SamplerOptions = {}): Sampler {
  checkObject('fixedPairSampler', 'data', data, false);
  data = fields('fixedPairSampler', 'data', data, ['a', 'b', 'rows', 'cols', 'targets']);
  options = checkObject('fixedPairSampler', 'options', options, true, SAMPLER_OPTIONS);
  const batchSize = batchSizeOf(options, 'fixedPairSampler');
  const { rows: n, cols } = data;
  checkShape('fixedPairSampler', data, [
    ['a', data.a],
    ['b', data.b],
  ]);
  // Copied once (see numbersOf): an entry that is no number is INVALID_TYPE naming it.
  const values =
    data.targets == null ? [] : numbersOf('fixedPairSampler', 'data.targets', data.targets, 'row ');
  if (data.a.length !== n * cols || data.b.length !== n * cols || values.length !== n) {
    argError('SHAPE_MISMATCH', 'fixedPairSampler', 'data', `needs a, b of ${n} x ${cols} and ${n} targets.`);
  }
  for (let i = 0; i < n; i++)
    if (!Number.isFinite(values[i]))
      argError(
        'NON_FINITE',
        'fixedPairSampler',
        'data.targets',
        `must hold finite numbers, got ${values[i]} at row ${i}.`,
      );
  refuseNonFinite(data.a, cols, 'fixedPairSampler', 'data.a');
  refuseNonFinite(data.b, cols, 'fixedPairSampler', 'data.b');
  const { augment } = options;
  const bounds = batchBounds(n, batchSize, dropLast('fixedPairSampler', options), 1, 'fixedPairSampler');
  return {
    sampling: 'pairs',
    batchesPerEpoch: bounds.length,
    *epoch(rng, reuse) {
      held('fixedPairSampler', 'data.a', data.a, n * cols);
      held('fixedPairSampler', 'data.b', data.b, n * cols);
      const idx = order(n, rng);
      const arrays = batchArrays(reuse);
      for (const [s, rows] of bounds) {
        const [a, b] = arrays.f32Blocks('rows', rows * cols, 2);
        const targets = arrays.f64('targets', rows);
        for (let r = 0; r < rows; r++) {
          const i = idx[s + r];
          copyRow(data.a, i, cols, a, r, augment, rng, 'fixedPairSampler', 'data.a');
          copyRow(data.b, i, cols, b, r, augment, rng, 'fixedPairSampler', 'data.b');
          targets[r] = values[i];
        }
        yield { a, b, rows, cols, targets };
      }
    },
  };
}

/**
 * Batches of labelled rows for the cosine classifier losses ({@link normFaceLoss} and its
 * margins): every row once per epoch, shuffled, with its class in `labels`.
 */
export function labelledSampler(data: LabelledData, options: SamplerOptions = {}): Sampler {
  data = labelled(data, 'labelledSampler');
  options = checkObject('labelledSampler', 'options', options, true, SAMPLER_OPTIONS);
  const batchSize = batchSizeOf(options, 'labelledSampler');
  classIndex(data, 'labelledSampler');
  const { cols } = data;
  const { augment } = options;
  const bounds = batchBounds(
    data.rows,
    batchSize,
    dropLast('labelledSampler', options),
    1,
    'labelledSampler',
  );
  const empty = new Float32Array(0);
  return {
    sampling: 'labels',
    batchesPerEpoch: bounds.length,
    *epoch(rng, reuse) {
      held('labelledSampler', 'data.x', data.x, data.rows * cols);
      const idx = order(data.rows, rng);
      const arrays = batchArrays(reuse);
      for (const [s, rows] of bounds) {
        const a = arrays.f32('a', rows * cols);
        const labels = arrays.i32('labels', rows);
        for (let r = 0; r < rows; r++) {
          const i = idx[s + r];
          copyRow(data.x, i, cols, a, r, augment, rng, 'labelledSampler');
          labels[r] = data.labels[i];
        }
        yield { a, b: empty, rows, cols, labels };
      }
    },
  };
}
