// The backend authors' entry: the contract and its helpers, as a third-party backend uses them.
import type { CosineKit } from '@cosinekit/core';
import type * as backend from '@cosinekit/core/backend';
import {
  type Backend,
  type BackendFactory,
  type BackendMemory,
  type CosineKitError,
  createReferenceBackend,
  type KernelName,
  type Kernels,
  type Matrix,
  type ResidentCorpus,
  referenceKernels,
  registerBackend,
  type TopKResult,
  TopKSelector,
} from '@cosinekit/core/backend';
import { describe, expectTypeOf, test } from 'vitest';

describe('@cosinekit/core/backend exports the contract', () => {
  test('its runtime exports, exactly', () => {
    expectTypeOf<keyof typeof backend>().toEqualTypeOf<
      | 'ACTIVATIONS'
      | 'CORPUS_FORMAT_VERSION'
      | 'CORPUS_KERNELS'
      | 'CORPUS_MAGIC'
      | 'CORPUS_OLDEST_VERSION'
      | 'CosineKitError'
      | 'DEFAULT_INT8_RERANK'
      | 'KERNEL_NAMES'
      | 'MAX_ORDINAL'
      | 'OPTIMIZER_KERNELS'
      | 'REFERENCE_PRIORITY'
      | 'TopKSelector'
      | 'activate'
      | 'activateDerivative'
      | 'admit'
      | 'admitPair'
      | 'argError'
      | 'argErrorOf'
      | 'attached'
      | 'backendError'
      | 'beyondFloat32'
      | 'checkColumnSums'
      | 'checkFinite'
      | 'checkK'
      | 'checkKernelName'
      | 'checkOptionsObject'
      | 'checkSameCols'
      | 'checkSameShape'
      | 'extraArgument'
      | 'checkSignal'
      | 'checkSoftmaxArgs'
      | 'clampCos'
      | 'columnSums'
      | 'cosineFrom'
      | 'crc32'
      | 'createReferenceBackend'
      | 'declareKernels'
      | 'describeType'
      | 'decodeCorpusFile'
      | 'disposedBackend'
      | 'encodeCorpusFile'
      | 'errorText'
      | 'exp32'
      | 'foreignCorpus'
      | 'getBackend'
      | 'isAdmitted'
      | 'isAllocationFailure'
      | 'isArrayArg'
      | 'isCheckedKernelTable'
      | 'isCosineKitError'
      | 'orAbort'
      | 'log32'
      | 'matmulDims'
      | 'matrixArg'
      | 'optimizerCoefficients'
      | 'ownOptions'
      | 'pickRows'
      | 'reading'
      | 'referenceKernels'
      | 'refuseFakeView'
      | 'refuseUnknownOptions'
      | 'registerBackend'
      | 'resolveCorpusOptions'
      | 'resolveKernels'
      | 'throughTies'
      | 'toTensor'
      | 'unregisterBackend'
      | 'valueText'
      | 'viewArg'
    >();
  });

  test('the same error class as the users entry, so isCosineKitError works across both', () => {
    expectTypeOf<CosineKitError>().toEqualTypeOf<import('@cosinekit/core').CosineKitError>();
  });

  test('a minimal backend satisfies the contract; kernels may answer with a promise', () => {
    const mine = {
      name: 'mine',
      kernels: {
        cosineRows: async (a: Matrix, _b: Matrix, out?: Float32Array) => out ?? new Float32Array(a.rows),
      },
      memory: (): BackendMemory => ({ residentHandles: 0 }),
    } satisfies Backend;
    expectTypeOf(mine).toExtend<Backend>();
    expectTypeOf(registerBackend).parameters.toEqualTypeOf<
      [name: string, factory: BackendFactory, priority?: number]
    >();
    expectTypeOf(registerBackend).toBeCallableWith('mine', () => mine, 4);
    expectTypeOf(registerBackend).toBeCallableWith('mine', async () => mine);
    // @ts-expect-error a backend needs a name
    registerBackend('nameless', () => ({ kernels: {} }));
    // @ts-expect-error kernels answer with float32 arrays, not number[]
    registerBackend('wrong', () => ({ name: 'wrong', kernels: { rowNorms: (x: Matrix) => [x.rows] } }));
  });

  test('the reference kernels complete the table', () => {
    expectTypeOf(referenceKernels).toEqualTypeOf<Kernels>();
    expectTypeOf(createReferenceBackend).returns.toEqualTypeOf<Backend>();
    expectTypeOf<Kernels['topK']>().returns.toExtend<TopKResult | Promise<TopKResult>>();
    expectTypeOf<Kernels['createCorpus']>().returns.toExtend<ResidentCorpus | Promise<ResidentCorpus>>();
    expectTypeOf<KernelName>().toEqualTypeOf<(typeof backend.KERNEL_NAMES)[number]>();
  });

  test('TopKSelector is a class a backend instantiates', () => {
    expectTypeOf(TopKSelector).toBeConstructibleWith(2, 3);
  });

  test('a kit built on such a backend is the users type', () => {
    expectTypeOf<ReturnType<typeof import('@cosinekit/core').createCosineKit>>().toEqualTypeOf<CosineKit>();
  });
});
