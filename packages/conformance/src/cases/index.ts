import { algebraCases } from './algebra.js';
import { apiCases } from './api.js';
import { selfCheckedCases } from './checked.js';
import type { ConformanceCase } from './context.js';
import { cosineCases } from './cosine.js';
import { filterCases } from './filters.js';
import { optimizerCases } from './optimizer.js';
import { resourceCases } from './resources.js';
import { scaleCases } from './scale.js';
import { searchCases } from './search.js';
import { snapshotCases } from './snapshot.js';
import { softmaxCases } from './softmax.js';
import { stateCases } from './state.js';
import { storedCases } from './stored.js';
import { tieCases } from './ties.js';
import { ungatedCases } from './ungated.js';

export type { ConformanceCase, ConformanceContext, Tolerance } from './context.js';
export { createContext, DIMS, MAX_TOLERANCE } from './context.js';
export { checkTopK } from './search.js';

/** Every conformance check, in a stable order. Each case's data depends only on its group and name. */
export function conformanceCases(): ConformanceCase[] {
  return [
    ...cosineCases(),
    ...selfCheckedCases(),
    ...ungatedCases(),
    ...searchCases(),
    ...filterCases(),
    ...tieCases(),
    ...algebraCases(),
    ...optimizerCases(),
    ...softmaxCases(),
    ...apiCases(),
    ...snapshotCases(),
    ...storedCases(),
    ...stateCases(),
    ...resourceCases(),
    ...scaleCases(),
  ];
}
