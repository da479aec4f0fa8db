import { ACTIVATIONS } from '@cosinekit/core/backend';
import { check } from '../assert.js';
import { type ConformanceCase, defineCase } from './context.js';

/** Leaks: resident corpora and engine objects released. */
export function resourceCases(): ConformanceCase[] {
  return [
    defineCase(
      'resources',
      'corpora created and disposed 50 times leave backend memory where it started',
      undefined,
      async ({ backend, kernels }, data) => {
        const before = backend.memory?.();
        const c = data.matrix(64, 33);
        const q = data.matrix(3, 33);
        for (let i = 0; i < 50; i++) {
          const h = await kernels.createCorpus(c);
          await kernels.corpusSearch(h, q, 5);
          await kernels.corpusMatrix(h, q);
          h.dispose();
          h.dispose(); // idempotent
        }
        const after = backend.memory?.();
        if (before && after) {
          check(
            after.residentHandles === before.residentHandles,
            `resident handles ${before.residentHandles} -> ${after.residentHandles}`,
          );
          check(
            after.objects === before.objects,
            `engine objects ${before.objects} -> ${after.objects}: a kernel leaks`,
          );
          check(after.bytes === before.bytes, `bytes held ${before.bytes} -> ${after.bytes}: a kernel leaks`);
        }
      },
    ),
    defineCase(
      'resources',
      'every kernel, run once, leaves engine objects and bytes where they started',
      undefined,
      async ({ backend, kernels }, data) => {
        const a = data.matrix(5, 17);
        const b = data.matrix(9, 17);
        const runAll = async () => {
          await kernels.rowNorms(a);
          await kernels.normalizeRows(a);
          await kernels.cosineRows(a, a);
          await kernels.cosineMatrix(a, b);
          await kernels.topK(a, b, 3);
          await kernels.matmul(a, b, false, true);
          await kernels.addBias(a, b.data.subarray(0, 17));
          for (const kind of ACTIVATIONS) {
            await kernels.activation(kind, a);
            await kernels.activationGrad(kind, a, a);
          }
        };
        await runAll(); // first call may compile and cache programs
        const before = backend.memory?.();
        await runAll();
        const after = backend.memory?.();
        if (before && after) {
          check(
            after.objects === before.objects,
            `engine objects ${before.objects} -> ${after.objects}: a kernel leaks`,
          );
          check(after.bytes === before.bytes, `bytes held ${before.bytes} -> ${after.bytes}: a kernel leaks`);
        }
      },
    ),
  ];
}
