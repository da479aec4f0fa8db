import { runConformance, runProperties } from '@cosinekit/conformance';
import { createTfjsBackend } from '../src/index.js';
import { ENGINES, TOLERANCE } from './helpers.js';

for (const engine of ENGINES) {
  const options = {
    name: `tfjs-${engine}`,
    create: () => createTfjsBackend({ engine }),
    tolerance: TOLERANCE[engine],
  };
  runConformance(options);
  // webgl and webgpu on SwiftShader spend ~20 ms per kernel call in shader compiles and read-backs: fewer runs.
  runProperties(engine === 'webgl' || engine === 'webgpu' ? { ...options, numRuns: 8 } : options);
}
