import type { Backend, Kernels, SelfCheckedKernelName, UngatedKernelName } from './contract.js';
import { activation, activationGrad } from './kernels/activation.js';
import { addBias } from './kernels/add-bias.js';
import { columnSums } from './kernels/column-sums.js';
import {
  corpusMatrix,
  corpusSearch,
  corpusSearchAllowed,
  createCorpus,
  exportCorpus,
  importCorpus,
  mergeCorpora,
  ReferenceCorpus,
  readCorpus,
} from './kernels/corpus.js';
import { cosineMatrix } from './kernels/cosine-matrix.js';
import { cosineRows } from './kernels/cosine-rows.js';
import { matmul } from './kernels/matmul.js';
import { normalizeRows } from './kernels/normalize-rows.js';
import { createOptimizerState, optimizerStep } from './kernels/optimizer.js';
import { rowNorms } from './kernels/row-norms.js';
import { softmaxCrossEntropy } from './kernels/softmax.js';
import { topK } from './kernels/top-k.js';

/** Every kernel in plain TypeScript: synchronous, float64 accumulation, no dependencies. */
export const referenceKernels: Kernels = {
  rowNorms,
  normalizeRows,
  cosineRows,
  cosineMatrix,
  topK,
  createCorpus,
  corpusSearch,
  corpusMatrix,
  matmul,
  addBias,
  activation,
  activationGrad,
  readCorpus,
  exportCorpus,
  importCorpus,
  mergeCorpora,
  corpusSearchAllowed,
  createOptimizerState,
  optimizerStep,
  columnSums,
  softmaxCrossEntropy,
};

/**
 * The reference kernels the kit may call on the caller's rows (see `Backend.ungated`): each answers
 * synchronously, accumulates in float64 (where no square of a float32 overflows or underflows) and
 * turns NaN or ±Infinity in a row into NaN. Known by identity wherever they run, so the reference
 * backend does not list them in its own `ungated`: a copy of it with other kernels stays gated.
 */
export const REFERENCE_UNGATED: readonly UngatedKernelName[] = ['cosineRows'];

/**
 * The reference kernels whose outputs need no pass of the kit's check (see `Backend.selfChecked`):
 * float64 products of admitted rows, each value clamped where it is written. Known by identity,
 * as {@link REFERENCE_UNGATED} is.
 */
export const REFERENCE_SELF_CHECKED: readonly SelfCheckedKernelName[] = ['cosineMatrix', 'corpusMatrix'];

/**
 * The reference backend: always available, implements every kernel, and is what other backends
 * fall back to and are checked against.
 */
export function createReferenceBackend(): Backend {
  return {
    name: 'reference',
    kernels: referenceKernels,
    memory: () => ({ residentHandles: ReferenceCorpus.live }),
    describe: () => ({ engine: 'TypeScript', precision: 'float64 accumulation', threads: 1 }),
  };
}
