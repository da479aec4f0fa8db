import {
  type Backend,
  CORPUS_KERNELS,
  KERNEL_NAMES,
  type KernelName,
  type Kernels,
  OPTIMIZER_KERNELS,
  SELF_CHECKED_KERNELS,
  type SelfCheckedKernelName,
  UNGATED_KERNELS,
  type UngatedKernelName,
} from './contract.js';
import { argError, isArrayArg, reading } from './errors.js';
import { REFERENCE_SELF_CHECKED, REFERENCE_UNGATED, referenceKernels } from './reference.js';
import { describeType, valueText } from './tensor.js';

/** For each list made by {@link declareKernels}, the kernel functions it was made for. */
const DECLARED_FOR = new WeakMap<readonly string[], Map<string, unknown>>();

/**
 * A backend's `ungated` or `selfChecked` list bound to the kernel functions in `kernels` now: the
 * kit honours it for those functions only. A backend built by spreading this one with a kernel
 * replaced keeps the list but not the promise for the replaced kernel, whose outputs the kit then
 * checks. (A plain array still declares whatever kernel the backend holds under each name.)
 */
export function declareKernels<K extends UngatedKernelName | SelfCheckedKernelName>(
  kernels: Partial<Kernels>,
  names: readonly K[],
): readonly K[] {
  const op = 'declareKernels';
  if (typeof kernels !== 'object' || kernels === null)
    argError(
      'INVALID_TYPE',
      op,
      'kernels',
      `must be an object of kernel functions, got ${describeType(kernels)}.`,
    );
  if (!isArrayArg(op, 'names', names))
    argError('INVALID_TYPE', op, 'names', `must be an array of kernel names, got ${describeType(names)}.`);
  // Each read once: the names, then the functions they declare.
  const list: readonly K[] = Object.freeze(reading(op, 'names', () => Array.from(names as readonly K[])));
  list.forEach((k, i) => {
    if (!(DECLARABLE as readonly unknown[]).includes(k))
      argError(
        'INVALID_ARGUMENT',
        op,
        `names[${i}]`,
        `is ${valueText(k)}, not a kernel that can be declared (${DECLARABLE.join(', ')}).`,
      );
  });
  DECLARED_FOR.set(list, new Map(list.map((k) => [k, reading(op, 'kernels', () => kernels[k])])));
  return list;
}

/** The kernels a backend may declare ungated or self-checked. */
const DECLARABLE = [...new Set([...UNGATED_KERNELS, ...SELF_CHECKED_KERNELS])];

/** A complete kernel table plus, for each kernel, the name of the backend that runs it. */
export interface ResolvedKernels {
  /** The backend's name, as read (once) with its kernels. */
  readonly name: string;
  readonly kernels: Kernels;
  readonly providers: Readonly<Record<KernelName, string>>;
  /** The kernels whose provider declares them ungated (see {@link Backend.ungated}). */
  readonly ungated: readonly UngatedKernelName[];
  /** The kernels whose provider declares them self-checked (see {@link Backend.selfChecked}). */
  readonly selfChecked: readonly SelfCheckedKernelName[];
  /** True when `topK` is the reference's own function (known by identity, as for `selfChecked`). */
  readonly topKTrusted: boolean;
}

/**
 * Completes a backend's kernels with the reference ones, kernel by kernel. The corpus kernels
 * travel together: a resident corpus can only be searched by the backend that made it, so a
 * backend that lacks any of them gets the reference's three.
 */
export function resolveKernels(backend: Backend): ResolvedKernels {
  // Every field read once, into a snapshot that is then checked and used: a getter that answers
  // differently on a second read cannot make the function checked, the function bound and the
  // function a declaration was made for differ.
  const snap = snapshotBackend(backend, 'resolveKernels', 'backend');
  const own = snap.kernels;
  // Each kernel bound to the backend's kernels object, except the reference's own functions, kept
  // as they are so that they are known by identity (the kit trusts those to carry NaN through).
  const bound = (f: unknown) =>
    Object.values(referenceKernels).includes(f as never)
      ? f
      : (f as (...args: unknown[]) => unknown).bind(snap.self);
  const corpusComplete = CORPUS_KERNELS.every((k) => typeof own[k] === 'function');
  const kernels = {} as Record<keyof Kernels, unknown>;
  const providers = {} as Record<KernelName, string>;
  for (const name of KERNEL_NAMES) {
    const mine = own[name];
    const usable = typeof mine === 'function' && (corpusComplete || !CORPUS_KERNELS.includes(name));
    kernels[name] = usable ? bound(mine) : referenceKernels[name];
    providers[name] = usable ? snap.name : 'reference';
  }
  // The optional corpus kernels belong to whoever owns the corpus group.
  for (const name of [
    'readCorpus',
    'exportCorpus',
    'importCorpus',
    'mergeCorpora',
    'corpusSearchAllowed',
  ] as const) {
    const k = corpusComplete
      ? own[name] === undefined
        ? undefined
        : bound(own[name])
      : referenceKernels[name];
    if (k) kernels[name] = k;
  }
  // The optimiser kernels travel together too: a state is stepped by the backend that made it.
  const optimizerOwn = OPTIMIZER_KERNELS.every((k) => typeof own[k] === 'function');
  for (const name of OPTIMIZER_KERNELS) {
    kernels[name] = optimizerOwn ? bound(own[name]) : referenceKernels[name];
    (providers as Record<string, string>)[name] = optimizerOwn ? snap.name : 'reference';
  }
  // Column sums stand alone: the backend's when it has them, otherwise the reference's.
  const sums = typeof own.columnSums === 'function';
  kernels.columnSums = sums ? bound(own.columnSums) : referenceKernels.columnSums;
  (providers as Record<string, string>).columnSums = sums ? snap.name : 'reference';
  // The softmax kernel stands alone: the contract fixes its bits, so either gives the same answer.
  const softmaxOwn = typeof own.softmaxCrossEntropy === 'function';
  kernels.softmaxCrossEntropy = softmaxOwn
    ? bound(own.softmaxCrossEntropy)
    : referenceKernels.softmaxCrossEntropy;
  (providers as Record<string, string>).softmaxCrossEntropy = softmaxOwn ? snap.name : 'reference';
  // A kernel is ungated (or self-checked) when whoever runs it says so: the backend for its own
  // kernel, the reference for the reference's (known by identity, so a copy of the reference
  // backend with another kernel in its place does not inherit the promise).
  // A list made by `declareKernels` holds only for the functions it was made for: a backend
  // spread from another (`{ ...wasm, kernels: { ...wasm.kernels, cosineMatrix: mine } }`) carries
  // the list along, but not to a kernel put in its place.
  const declared = <K extends KernelName>(names: readonly K[], list: Declaration<K>, ref: readonly K[]) =>
    names.filter((k) => {
      if (kernels[k] === referenceKernels[k] || own[k] === referenceKernels[k]) return ref.includes(k);
      const fns = list.of === undefined ? undefined : DECLARED_FOR.get(list.of);
      return list.names.includes(k) && (fns === undefined || fns.get(k) === own[k]);
    });
  const ungated = declared(UNGATED_KERNELS, snap.ungated, REFERENCE_UNGATED);
  const selfChecked = declared(SELF_CHECKED_KERNELS, snap.selfChecked, REFERENCE_SELF_CHECKED);
  const topKTrusted = kernels.topK === referenceKernels.topK || own.topK === referenceKernels.topK;
  return {
    name: snap.name,
    kernels: kernels as unknown as Kernels,
    providers,
    ungated,
    selfChecked,
    topKTrusted,
  };
}

/**
 * Checks that `b` has the shape of a {@link Backend} (a name, a kernels object whose members are
 * functions, functions for the lifecycle hooks it has), naming `arg` and `op` when it does not.
 * Backends are plug-ins: a malformed one is refused up front rather than failing deep inside a call.
 */
export function checkBackend(b: unknown, op: string, arg: string): asserts b is Backend {
  snapshotBackend(b, op, arg);
}

/** {@link checkBackend}, answering the backend's name as read in the check (so it is read once). */
export function checkedBackendName(b: unknown, op: string, arg: string): string {
  return snapshotBackend(b, op, arg).name;
}

/** A `ungated` or `selfChecked` list as read once: its names, and the list itself (its identity is what `declareKernels` bound). */
interface Declaration<K> {
  readonly names: readonly K[];
  readonly of: readonly string[] | undefined;
}

/** The fields of a backend {@link resolveKernels} uses, each read once. */
interface BackendSnapshot {
  readonly name: string;
  readonly kernels: Readonly<Partial<Record<string, unknown>>>;
  /** The kernels object itself, as read: `this` of every kernel. */
  readonly self: object;
  readonly ungated: Declaration<UngatedKernelName>;
  readonly selfChecked: Declaration<SelfCheckedKernelName>;
}

/** The kernel fields a backend may have. */
const KERNEL_FIELDS = [
  ...KERNEL_NAMES,
  'readCorpus',
  'exportCorpus',
  'importCorpus',
  'mergeCorpora',
  'corpusSearchAllowed',
  ...OPTIMIZER_KERNELS,
  'columnSums',
  'softmaxCrossEntropy',
] as const;

/**
 * `b`'s fields, each read once and checked as {@link checkBackend} does; a backend object that
 * cannot be read (a revoked Proxy, a getter or trap that throws) is named.
 */
function snapshotBackend(b: unknown, op: string, arg: string): BackendSnapshot {
  if (typeof b !== 'object' || b === null)
    argError(
      'INVALID_TYPE',
      op,
      arg,
      `must be a backend object or a registered name, got ${describeType(b)}.`,
    );
  return reading(op, arg, () => checkFields(b as Record<string, unknown>, op, arg));
}

/** The fields of a backend object {@link checkBackend} checks, each read once. */
function checkFields(o: Record<string, unknown>, op: string, arg: string): BackendSnapshot {
  const { name: n, kernels: ks } = o;
  if (typeof n !== 'string' || n === '')
    argError('INVALID_ARGUMENT', op, `${arg}.name`, `must be a non-empty string, got ${valueText(n)}.`);
  if (typeof ks !== 'object' || ks === null)
    argError(
      'INVALID_TYPE',
      op,
      `${arg}.kernels`,
      `must be an object of kernel functions, got ${describeType(ks)}.`,
    );
  const kernels: Partial<Record<string, unknown>> = {};
  for (const name of KERNEL_FIELDS) {
    const k = (ks as Record<string, unknown>)[name];
    if (k !== undefined && typeof k !== 'function')
      argError('INVALID_TYPE', op, `${arg}.kernels.${name}`, `must be a function, got ${describeType(k)}.`);
    if (k !== undefined) kernels[name] = k;
  }
  // Kernels a backend may declare: ungated (see Backend.ungated) and self-checked.
  const declaration = <K extends string>(field: string, allowed: readonly K[]): Declaration<K> => {
    const v = o[field];
    if (v === undefined) return { names: [], of: undefined };
    const names = Array.isArray(v) ? (Array.from(v) as unknown[]) : undefined;
    if (!names?.every((k) => (allowed as readonly unknown[]).includes(k)))
      argError(
        'INVALID_ARGUMENT',
        op,
        `${arg}.${field}`,
        `must be an array of kernel names (${allowed.join(' ')}).`,
      );
    return { names: names as K[], of: v as readonly string[] };
  };
  const ungated = declaration('ungated', UNGATED_KERNELS);
  const selfChecked = declaration('selfChecked', SELF_CHECKED_KERNELS);
  for (const hook of ['init', 'dispose', 'memory', 'describe']) {
    const h = o[hook];
    if (h !== undefined && typeof h !== 'function')
      argError('INVALID_TYPE', op, `${arg}.${hook}`, `must be a function, got ${describeType(h)}.`);
  }
  return { name: n, kernels, self: ks, ungated, selfChecked };
}
