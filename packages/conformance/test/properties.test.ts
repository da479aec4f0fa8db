import { createReferenceBackend } from '@cosinekit/core/backend';
import { runProperties } from '../src/index.js';

runProperties({ name: 'reference', create: () => createReferenceBackend() });
