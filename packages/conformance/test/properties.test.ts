import { createReferenceBackend } from '@cosinekit/core';
import { runProperties } from '../src/index.js';

runProperties({ name: 'reference', create: () => createReferenceBackend() });
