import { runConformance } from '@cosinekit/conformance';
import { createKahanBackend } from '../src/index.js';

runConformance({ name: 'kahan (example third-party backend)', create: createKahanBackend });
