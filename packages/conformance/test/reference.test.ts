import { createReferenceBackend } from '@cosinekit/core/backend';
import { runConformance } from '../src/index.js';

// The reference backend is the one every other backend falls back to: it must pass the whole
// contract against the independent float64 oracle, with the default (tight) tolerances.
runConformance({ name: 'reference', create: () => createReferenceBackend() });
