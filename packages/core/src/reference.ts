import type { Backend, Kernels } from './contract.js';
import { activation, activationGrad } from './kernels/activation.js';
import { addBias } from './kernels/add-bias.js';
import {
  corpusMatrix,
  corpusSearch,
  corpusSearchAllowed,
  createCorpus,
  exportCorpus,
  importCorpus,
  ReferenceCorpus,
  readCorpus,
} from './kernels/corpus.js';
import { cosineMatrix } from './kernels/cosine-matrix.js';
import { cosineRows } from './kernels/cosine-rows.js';
import { matmul } from './kernels/matmul.js';
import { normalizeRows } from './kernels/normalize-rows.js';
import { rowNorms } from './kernels/row-norms.js';
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
  corpusSearchAllowed,
};

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
