import {
  type Backend,
  isCosineKitError,
  type Kernels,
  type OptimizerState,
  type ResidentCorpus,
  type StoredCorpus,
} from '@cosinekit/core/backend';
import { ConformanceFailure, check, fail, skip, within } from './assert.js';
import { randomTensor } from './data.js';

/** What a call returns when the handle it needs could not be made before the disposal. */
const NOTHING = Symbol('nothing to call it on');

/**
 * One valid call of each kernel a backend may implement (called only when it does). `h`, `stored`
 * and `state` were made before the backend was disposed.
 */
type Call = (
  k: Kernels,
  made: { h?: ResidentCorpus; stored?: StoredCorpus; state?: OptimizerState },
) => unknown;

const x = randomTensor(3, 5, 71);
const y = randomTensor(3, 5, 72);
const CALLS: Record<keyof Kernels, Call> = {
  rowNorms: (k) => k.rowNorms(x),
  normalizeRows: (k) => k.normalizeRows(x),
  cosineRows: (k) => k.cosineRows(x, y),
  cosineMatrix: (k) => k.cosineMatrix(x, y),
  topK: (k) => k.topK(x, y, 1),
  createCorpus: (k) => k.createCorpus(x, { storage: 'float32', rerank: 0 }),
  corpusSearch: (k, m) => (m.h ? k.corpusSearch(m.h, y, 1) : NOTHING),
  corpusMatrix: (k, m) => (m.h ? k.corpusMatrix(m.h, y) : NOTHING),
  matmul: (k) => k.matmul(x, y, false, true),
  addBias: (k) => k.addBias(x, new Float32Array(5)),
  activation: (k) => k.activation('relu', x),
  activationGrad: (k) => k.activationGrad('relu', x, y),
  columnSums: (k) => k.columnSums!(x),
  readCorpus: (k, m) => (m.h ? k.readCorpus!(m.h) : NOTHING),
  exportCorpus: (k, m) => (m.h ? k.exportCorpus!(m.h) : NOTHING),
  importCorpus: (k, m) => (m.stored ? k.importCorpus!(m.stored) : NOTHING),
  mergeCorpora: (k, m) => (m.h ? k.mergeCorpora!([m.h], [new Uint8Array(3)]) : NOTHING),
  corpusSearchAllowed: (k, m) =>
    m.h ? k.corpusSearchAllowed!(m.h, y, 1, new Uint8Array(3).fill(1)) : NOTHING,
  createOptimizerState: (k) => k.createOptimizerState!('sgd', [4]),
  optimizerStep: (k, m) =>
    m.state
      ? k.optimizerStep!(m.state, [new Float32Array(4)], [new Float32Array(4)], {
          kind: 'sgd',
          learningRate: 0.1,
          momentum: 0,
          weightDecay: 0,
        })
      : NOTHING,
  softmaxCrossEntropy: (k) => k.softmaxCrossEntropy!(x, new Int32Array(3), 1, 1),
};

/**
 * Proves that disposal is final: a fresh backend from `create`, once `dispose()` has run, refuses
 * every kernel it implements with `DISPOSED` (naming `backend`, or `corpus` for a resident corpus
 * disposed with it) instead of quietly reopening an engine, a device or a connection; `memory()`
 * then counts no resident corpus, a corpus made before says it is disposed, and `memory()` and
 * `describe()` still answer. Returns the
 * kernels it called. Each call that does not settle within `timeoutMs` (default 30 s) fails saying
 * which, rather than hanging the check.
 */
export async function checkDisposal(
  create: () => Backend | Promise<Backend>,
  timeoutMs = 30_000,
): Promise<string[]> {
  const t = <T>(what: string, p: Promise<T> | T): Promise<T> => within(timeoutMs, what, p);
  const b = await t('create()', create());
  if (typeof b.dispose !== 'function') skip('the backend has no dispose(), so nothing to prove');
  await t(`${b.name}.init()`, b.init?.());
  const k = b.kernels;
  const made: { h?: ResidentCorpus; stored?: StoredCorpus; state?: OptimizerState } = {};
  made.h = await t(`${b.name}.kernels.createCorpus`, k.createCorpus?.(x, { storage: 'float32', rerank: 0 }));
  if (made.h && k.exportCorpus)
    made.stored = await t(`${b.name}.kernels.exportCorpus`, k.exportCorpus(made.h));
  made.state = await t(`${b.name}.kernels.createOptimizerState`, k.createOptimizerState?.('sgd', [4]));
  await t(`${b.name}.dispose()`, b.dispose?.());
  const called: string[] = [];
  for (const [name, call] of Object.entries(CALLS) as [keyof Kernels, Call][]) {
    if (typeof k[name] !== 'function') continue;
    let outcome: unknown;
    try {
      outcome = await t(`${b.name}.kernels.${name} after dispose()`, call(k as Kernels, made));
    } catch (e) {
      if (e instanceof ConformanceFailure) throw e;
      outcome = e;
    }
    if (outcome === NOTHING) continue;
    called.push(name);
    if (!isCosineKitError(outcome, 'DISPOSED'))
      fail(
        `${b.name}.kernels.${name} after backend.dispose() must throw DISPOSED naming 'backend', got ${outcome instanceof Error ? `${outcome.name}: ${outcome.message}` : 'a result'}`,
      );
    check(
      outcome.arg === 'backend' || outcome.arg === 'corpus',
      `${b.name}.kernels.${name} after dispose: DISPOSED must name 'backend' (or 'corpus'), named '${outcome.arg}'`,
    );
  }
  const memory = b.memory?.();
  check(
    memory === undefined || memory.residentHandles === 0,
    `${b.name}: memory() after dispose must count no resident corpus, counted ${memory?.residentHandles}`,
  );
  // The corpus made before is disposed with its backend, and says so (a backend that only
  // refused its kernels, its corpora's memory held, passed).
  check(
    made.h === undefined || made.h.disposed === true,
    `${b.name}: a corpus made before backend.dispose() must be disposed with it (its 'disposed' is ${made.h?.disposed})`,
  );
  b.describe?.();
  return called;
}
