import { type CosineKit, createCosineKit, type Tensor } from '@cosinekit/core';
import {
  argError,
  type Backend,
  type KernelName,
  type Kernels,
  ownOptions,
  resolveKernels,
  valueText,
} from '@cosinekit/core/backend';
import { check, fail } from '../assert.js';
import { randomTensor } from '../data.js';

/** Tolerances a backend is held to. Both are capped so that a result off by 1e-3 always fails. */
export interface Tolerance {
  /** Absolute error allowed on cosines and normalised components. Default 2e-5. */
  cosine?: number;
  /** Relative error allowed on norms, products (relative to Σ|a·b|) and activations. Default 1e-5. */
  algebra?: number;
}

/** Largest tolerance accepted: anything looser could hide a 1e-3 error. */
export const MAX_TOLERANCE = 5e-4;

/** Everything a check needs: the backend under test, its resolved kernels, and a kit bound to it. */
export interface ConformanceContext {
  readonly backend: Backend;
  /** The backend's kernels completed with the reference (see `providers`). */
  readonly kernels: Kernels;
  /** Which backend runs each kernel: the backend's own name, or `'reference'` for a fallback. */
  readonly providers: Readonly<Record<KernelName, string>>;
  readonly kit: CosineKit;
  readonly tol: Required<Tolerance>;
}

/** One conformance check. `kernel` names the kernel it proves, when it proves one. */
export interface ConformanceCase {
  readonly group: string;
  readonly name: string;
  readonly kernel?: KernelName;
  /**
   * Runs the check. It throws a `ConformanceFailure` when the backend is wrong, and a
   * `ConformanceSkip` when the check cannot run on this backend (the reason says why).
   */
  run(ctx: ConformanceContext): Promise<void>;
}

/** Initialises `backend` and builds the context the checks run in. */
export async function createContext(
  backend: Backend,
  tolerance: Tolerance = {},
): Promise<ConformanceContext> {
  // Its keys checked (a misspelt `cosin` was ignored, and the default used) and read once.
  const own = ownOptions('createContext', tolerance, ['cosine', 'algebra'], 'tolerance');
  const tol = { cosine: own.cosine ?? 2e-5, algebra: own.algebra ?? 1e-5 };
  for (const [k, v] of Object.entries(tol)) {
    if (!(typeof v === 'number' && v > 0 && v <= MAX_TOLERANCE))
      argError(
        'INVALID_ARGUMENT',
        'createContext',
        `tolerance.${k}`,
        `must be a number in (0, ${MAX_TOLERANCE}], got ${valueText(v)}.`,
      );
  }
  const kit = createCosineKit({ backend });
  await kit.ready();
  const { kernels, providers } = resolveKernels(backend);
  return { backend, kernels: readOnlyInputs(kernels), providers, kit, tol };
}

/** Kernels whose answers are values the caller owns from then on (not handles the backend keeps). */
const ANSWERING: ReadonlySet<string> = new Set([
  'rowNorms',
  'normalizeRows',
  'cosineRows',
  'cosineMatrix',
  'topK',
  'corpusSearch',
  'corpusMatrix',
  'readCorpus',
  'exportCorpus',
  'matmul',
  'addBias',
  'activation',
  'activationGrad',
  'columnSums',
  'softmaxCrossEntropy',
]);

/** Answers past this many values are not copied to be compared later. */
const KEPT_VALUES = 2 ** 22;

/** An answer's array, and a copy of it as it was handed over. */
interface Handed {
  readonly kernel: string;
  readonly field: string;
  readonly array: ArrayBufferView & ArrayLike<number>;
  readonly copy: ArrayLike<number>;
}

/** The answers of each guarded table's calls in the case running, to compare once it ends. */
const handedOver = new WeakMap<Kernels, Handed[]>();

/**
 * Cases running on each guarded table: answers are kept only while one runs, so calls made outside
 * a case (`runProperties`, a caller's own use of `ctx.kernels`) hold nothing.
 */
const running = new WeakMap<Kernels, number>();

/** The typed arrays an answer holds: itself, or its own fields (a result object), by name. */
function arraysOf(v: unknown): [string, ArrayBufferView & ArrayLike<number>][] {
  const isArray = (x: unknown): x is ArrayBufferView & ArrayLike<number> =>
    ArrayBuffer.isView(x) && !(x instanceof DataView);
  if (isArray(v)) return [['result', v]];
  if (typeof v !== 'object' || v === null) return [];
  const out: [string, ArrayBufferView & ArrayLike<number>][] = [];
  for (const [k, x] of Object.entries(v)) {
    if (isArray(x)) out.push([k, x]);
    else if (isMatrix(x)) out.push([`${k}.data`, x.data]);
  }
  return out;
}

/** True for a buffer whose length can change: a resizable ArrayBuffer or a growable SharedArrayBuffer. */
function resizes(b: ArrayBufferLike): boolean {
  const r = b as { resizable?: unknown; growable?: unknown };
  return r.resizable === true || r.growable === true;
}

/**
 * Checks an answer as it is handed over (on a buffer whose length cannot change) and keeps a copy
 * of each of its arrays, to compare when the case ends ({@link settleAnswers}): a backend that
 * recycled a read-back buffer a tick later, or overwrote an export while a file was being written
 * from it, passed every check made at once, and its callers read other values than it answered.
 */
function keep(table: Kernels, kernel: string, answer: unknown, args: readonly unknown[]): void {
  if (!ANSWERING.has(kernel)) return;
  const list = handedOver.get(table)!;
  const record = (running.get(table) ?? 0) > 0;
  for (const [field, array] of arraysOf(answer)) {
    // A caller's own `out` on a resizable buffer is theirs to have given.
    if (resizes(array.buffer) && !args.some((a) => ArrayBuffer.isView(a) && a.buffer === array.buffer))
      fail(
        `${kernel}: answered ${field} on a resizable buffer; its length can change under the caller (answer on a plain ArrayBuffer)`,
      );
    if (record && array.length <= KEPT_VALUES)
      list.push({ kernel, field, array, copy: (array as unknown as { slice(): ArrayLike<number> }).slice() });
  }
}

/**
 * A later call was handed `args`: an earlier answer among them (an `out`, say) is the caller's to
 * have written, so it is no longer compared.
 */
function release(table: Kernels, args: readonly unknown[]): void {
  const list = handedOver.get(table)!;
  if (list.length === 0) return;
  const given = new Set<ArrayBufferLike>();
  for (const a of args) for (const [, x] of arraysOf(a)) given.add(x.buffer);
  if (given.size === 0) return;
  handedOver.set(
    table,
    list.filter((h) => !given.has(h.array.buffer)),
  );
}

/**
 * Waits a few timer ticks, then compares every answer the context's kernels handed over during the
 * case with its copy: a backend must not write an answer after handing it over. Called when each
 * case ends (see `defineCase`).
 */
export async function settleAnswers(ctx: ConformanceContext, failed = false): Promise<void> {
  const list = handedOver.get(ctx.kernels);
  if (!list) return;
  handedOver.set(ctx.kernels, []);
  if (failed || list.length === 0) return;
  await new Promise((r) => setTimeout(r, 5));
  for (const h of list) {
    const { array, copy } = h;
    if (array.length !== copy.length)
      fail(
        `${h.kernel}: its answer's ${h.field} changed length after it was handed over (${copy.length} values, now ${array.length})`,
      );
    for (let i = 0; i < copy.length; i++)
      if (!Object.is(array[i], copy[i]))
        fail(
          `${h.kernel}: wrote its answer after handing it over (${h.field}[${i}]: ${copy[i]} became ${array[i]}); an answer is the caller's once returned`,
        );
  }
}

/** Whether `v` is a matrix argument (`{ data: Float32Array, rows, cols }`, a Tensor included). */
function isMatrix(v: unknown): v is { data: Float32Array } {
  return typeof v === 'object' && v !== null && (v as { data?: unknown }).data instanceof Float32Array;
}

/**
 * `kernels` with every call checked to leave its matrix arguments as they were: each is copied
 * before the call and compared after it settles (or throws). A kernel that normalised its inputs in
 * place, or wiped them, passed every other check, and through the kit (an ungated kernel reads the
 * caller's own arrays) changed the caller's data. `out` and the optimiser's parameters, which
 * kernels write by contract, are not matrices and are not compared.
 */
function readOnlyInputs(kernels: Kernels): Kernels {
  const guarded: Record<string, unknown> = {};
  const table = guarded as unknown as Kernels;
  handedOver.set(table, []);
  for (const [name, f] of Object.entries(kernels)) {
    if (typeof f !== 'function') {
      guarded[name] = f;
      continue;
    }
    guarded[name] = (...args: unknown[]) => {
      release(table, args);
      const before = args.map((a) => (isMatrix(a) ? a.data.slice() : null));
      const verify = (): void => {
        before.forEach((copy, i) => {
          if (copy === null) return;
          const now = (args[i] as { data: Float32Array }).data;
          for (let j = 0; j < copy.length; j++)
            if (!Object.is(now[j], copy[j]))
              fail(
                `${name}: wrote into its input (argument ${i + 1}, value ${j}: ${copy[j]} became ${now[j]}); a kernel must never write its inputs`,
              );
        });
      };
      let r: unknown;
      try {
        r = (f as (...a: unknown[]) => unknown).apply(kernels, args);
      } catch (e) {
        verify();
        throw e;
      }
      if (typeof (r as PromiseLike<unknown> | null)?.then === 'function')
        return Promise.resolve(r).then(
          (v) => {
            verify();
            keep(table, name, v, args);
            return v;
          },
          (e: unknown) => {
            verify();
            throw e;
          },
        );
      verify();
      keep(table, name, r, args);
      return r;
    };
  }
  return table;
}

/**
 * The awkward widths every cosine kernel is checked on. 31 is 16 + 8 + 4 + 3: a kernel unrolled by
 * 16 with tails of 8, 4 and single floats runs every tail (a tail wrong only where d % 16 is 15,
 * or only past 8, passed the other widths).
 */
export const DIMS = [1, 3, 5, 17, 31, 64, 1536] as const;
/**
 * Row counts: one row, small odd counts, and counts that are not a multiple of any tile (67 is
 * past a tile of 64 rows: a row tiling wrong past its first tile once passed).
 */
export const ROWS = [1, 5, 67] as const;

/** FNV-1a of a case's full name: its data seed, the same whichever cases run and in what order. */
export function seedOf(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0 || 1;
}

/**
 * Seeded inputs for one case. Each call draws the next matrix of the case's own stream; every other
 * matrix is shifted by `shift` so that cosines spread over [-1, 1] rather than clustering near 0.
 */
export class CaseData {
  private n = 0;
  constructor(readonly seed: number) {}

  /** A `rows x cols` matrix of the case's stream. */
  matrix(rows: number, cols: number, shift = 0.3): Tensor {
    const i = ++this.n;
    return randomTensor(rows, cols, (this.seed + Math.imul(i, 0x9e3779b9)) >>> 0, i % 2 === 0 ? shift : 0);
  }

  /** A matrix of the stream with no shift (values uniform in [-1, 1)). */
  centred(rows: number, cols: number): Tensor {
    return this.matrix(rows, cols, 0);
  }
}

/**
 * Builds a case whose data comes from a stream seeded by its group and name, so running one case
 * alone (a filtered run, a replay) sees exactly the inputs it sees in the full suite.
 */
export function defineCase(
  group: string,
  name: string,
  kernel: KernelName | undefined,
  body: (ctx: ConformanceContext, data: CaseData) => Promise<void>,
): ConformanceCase {
  const seed = seedOf(`${group}: ${name}`);
  return {
    group,
    name,
    ...(kernel ? { kernel } : {}),
    run: async (ctx) => {
      running.set(ctx.kernels, (running.get(ctx.kernels) ?? 0) + 1);
      try {
        await body(ctx, new CaseData(seed));
      } catch (e) {
        await settleAnswers(ctx, true);
        throw e;
      } finally {
        running.set(ctx.kernels, (running.get(ctx.kernels) ?? 1) - 1);
      }
      await settleAnswers(ctx);
    },
  };
}

export const f32 = (n: number): Float32Array => new Float32Array(n);

/**
 * Awaits a kernel and checks it honoured `out` when one was given. `verify`, when given, checks
 * the values twice: those returned without `out`, and those written into it (`how` is then
 * ` into 'out'`): a kernel whose own-array path was right but whose `out` path was wrong (a
 * partial write, a second code path that skipped a fix) passed when only the first was compared.
 */
export async function withOut(
  what: string,
  length: number,
  call: (out: Float32Array | undefined) => Float32Array | Promise<Float32Array>,
  verify?: (got: Float32Array, how: string) => void,
): Promise<Float32Array> {
  const plain = await call(undefined);
  check(plain instanceof Float32Array, `${what}: must return a Float32Array`);
  check(plain.length === length, `${what}: returned length ${plain.length}, expected ${length}`);
  verify?.(plain, '');
  const out = f32(length).fill(Number.NaN);
  const got = await call(out);
  for (let i = 0; i < length; i++) {
    // A NaN answered is the problem to name, not a write to `out` (NaN equals nothing).
    if (Number.isNaN(plain[i]) || Number.isNaN(got[i]))
      fail(`${what}: returned NaN at index ${i} (every input is finite)`);
    if (!(out[i] === got[i])) fail(`${what}: the result was not written to 'out' (index ${i})`);
  }
  verify?.(out, " into 'out'");
  return plain;
}
