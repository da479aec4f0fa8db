import { type Candidate, checkBackends, type GpujsModule, load, missing } from './backend-checks.js';

/**
 * The float32-vs-float64 checks of the model on gpujs headlessgl, in a process of their own: the
 * native GL stack and Dawn's (webgpu, in backends.test.ts) do not share one. The package's test
 * script runs under xvfb where it is installed, as CI does; without an X server this is skipped,
 * saying so.
 */
const candidates: Candidate[] = [];
const skipped: [string, string][] = [];
const gpujs = await load<GpujsModule>('@cosinekit/backend-gpujs');
if (gpujs)
  candidates.push({
    name: 'gpujs headlessgl',
    create: async () => gpujs.createGpujsBackend({ mode: 'headlessgl' }),
  });
else skipped.push(['gpujs headlessgl', missing('@cosinekit/backend-gpujs')]);
await checkBackends(candidates, skipped, false);
