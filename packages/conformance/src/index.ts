/**
 * @cosinekit/conformance: the contract's test suite. Any backend, ours or a third party's, proves
 * it agrees with the float64 oracle by calling {@link runConformance} from a vitest file:
 *
 * ```ts
 * import { runConformance } from '@cosinekit/conformance';
 * import { createMyBackend } from '../src/index.js';
 * runConformance({ name: 'my-backend', create: () => createMyBackend() });
 * ```
 */
export { ConformanceFailure, ConformanceSkip } from './assert.js';
export type { ConformanceCase, ConformanceContext, Tolerance } from './cases/index.js';
export { checkTopK, conformanceCases, createContext, DIMS, MAX_TOLERANCE } from './cases/index.js';
export { randomTensor, rng } from './data.js';
export { checkDisposal } from './disposal.js';
export {
  act64,
  cos64,
  cosineMatrix64,
  matmul64,
  norms64,
  optimizerSteps64,
  softmaxCrossEntropy64,
  topK64,
} from './oracle.js';
export type { Generated, PropertyOptions, Regime } from './properties.js';
export { generatedCase, REGIMES, runProperties } from './properties.js';
export type { CaseOutcome, ConformanceOptions } from './run.js';
export { caseTitle, runCases, runConformance } from './run.js';
