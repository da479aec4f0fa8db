// The users' entry as its types promise it, checked by the compiler (vitest typecheck; nothing here
// runs). Imports go through the package name, so they see exactly what `@cosinekit/core` exports.
import * as core from '@cosinekit/core';
import {
  type Backend,
  type Corpus,
  type CosineKit,
  type CosineKitError,
  type CosineKitOptions,
  createCosineKit,
  type ErrorCode,
  type Hits,
  isCosineKitError,
  type KernelName,
  type KitInfo,
  type SearchFilter,
  type SearchOptions,
  type SearchResult,
  type Tensor,
  type TensorInput,
  tensor,
} from '@cosinekit/core';
import { describe, expectTypeOf, test } from 'vitest';

describe('@cosinekit/core exports what users call, and nothing else', () => {
  test('its runtime exports, exactly', () => {
    expectTypeOf<keyof typeof core>().toEqualTypeOf<
      | 'Corpus'
      | 'CosineKitError'
      | 'SearchResult'
      | 'Tensor'
      | 'cosine'
      | 'cosineDistance'
      | 'cosinekit'
      | 'createCosineKit'
      | 'disposeBackends'
      | 'isCosineKitError'
      | 'listBackends'
      | 'normalize'
      | 'tensor'
    >();
  });

  test('internals and backend plumbing are not reachable from it', () => {
    expectTypeOf(core).not.toHaveProperty('dotTiles');
    expectTypeOf(core).not.toHaveProperty('registerBackend');
    expectTypeOf(core).not.toHaveProperty('referenceKernels');
  });
});

describe('createCosineKit', () => {
  test('takes optional options and returns a CosineKit', () => {
    expectTypeOf(createCosineKit).parameters.toEqualTypeOf<[options?: CosineKitOptions]>();
    expectTypeOf(createCosineKit).returns.toEqualTypeOf<CosineKit>();
    expectTypeOf(core.cosinekit).toEqualTypeOf<CosineKit>();
  });

  test('backend is a registered name or a backend object', () => {
    expectTypeOf<CosineKitOptions['backend']>().toEqualTypeOf<string | Backend | undefined>();
    expectTypeOf<CosineKitOptions['onFallback']>().toEqualTypeOf<
      ((backend: string, reason: string) => void) | undefined
    >();
    expectTypeOf(createCosineKit).toBeCallableWith({ backend: 'wasm' });
    expectTypeOf(createCosineKit).toBeCallableWith({ backend: { name: 'mine', kernels: {} } });
    // @ts-expect-error a backend is not a number
    createCosineKit({ backend: 4 });
    // @ts-expect-error no such option
    createCosineKit({ threads: 2 });
  });
});

describe('CosineKit methods', () => {
  test('resolve to typed results', () => {
    expectTypeOf<CosineKit['ready']>().returns.toEqualTypeOf<Promise<KitInfo>>();
    expectTypeOf<CosineKit['ranBy']>().parameters.toEqualTypeOf<[kernel: KernelName]>();
    expectTypeOf<CosineKit['ranBy']>().returns.toEqualTypeOf<string | undefined>();
    expectTypeOf<CosineKit['rowNorms']>().returns.toEqualTypeOf<Promise<Float32Array>>();
    expectTypeOf<CosineKit['normalize']>().returns.toEqualTypeOf<Promise<Tensor>>();
    expectTypeOf<CosineKit['cosineRows']>().returns.toEqualTypeOf<Promise<Float32Array>>();
    expectTypeOf<CosineKit['cosineMatrix']>().returns.toEqualTypeOf<Promise<Tensor>>();
    expectTypeOf<CosineKit['topK']>().returns.toEqualTypeOf<Promise<SearchResult>>();
    expectTypeOf<CosineKit['corpus']>().returns.toEqualTypeOf<Promise<Corpus>>();
    expectTypeOf<CosineKit['loadCorpus']>().parameters.toEqualTypeOf<[bytes: Uint8Array]>();
    expectTypeOf<CosineKit['loadCorpus']>().returns.toEqualTypeOf<Promise<Corpus>>();
    expectTypeOf<CosineKit['dispose']>().returns.toEqualTypeOf<void>();
  });

  test('KitInfo names a provider for every kernel', () => {
    expectTypeOf<KitInfo['backend']>().toEqualTypeOf<string>();
    expectTypeOf<keyof KitInfo['providers']>().toEqualTypeOf<KernelName>();
  });

  test('kernel names are checked', () => {
    expectTypeOf<'cosineMatrix'>().toExtend<KernelName>();
    expectTypeOf<'cosine'>().not.toExtend<KernelName>();
  });
});

describe('Corpus and SearchResult', () => {
  test('Corpus.search returns a SearchResult; similarity a Tensor', () => {
    expectTypeOf<Corpus['search']>().parameters.toEqualTypeOf<
      [queries: TensorInput, k: number, options?: SearchOptions]
    >();
    expectTypeOf<SearchFilter>().toExtend<SearchOptions['filter']>();
    expectTypeOf<{ allow: string[] }>().toExtend<SearchFilter>();
    expectTypeOf<{ mask: number[] }>().not.toExtend<SearchFilter>();
    expectTypeOf<CosineKit['corpusFrom']>().returns.toEqualTypeOf<Promise<Corpus>>();
    expectTypeOf<ErrorCode>().toExtend<string>();
    expectTypeOf<'ABORTED'>().toExtend<ErrorCode>();
    expectTypeOf<Corpus['search']>().returns.toEqualTypeOf<Promise<SearchResult>>();
    expectTypeOf<Corpus['similarity']>().returns.toEqualTypeOf<Promise<Tensor>>();
    expectTypeOf<Corpus['save']>().returns.toEqualTypeOf<Promise<Uint8Array>>();
    expectTypeOf<Corpus['remove']>().returns.toEqualTypeOf<Promise<number>>();
  });

  test('a SearchResult gives hits per query, with ids when the corpus has them', () => {
    expectTypeOf<SearchResult['hits']>().returns.toEqualTypeOf<Hits>();
    expectTypeOf<Hits['indices']>().toEqualTypeOf<Int32Array>();
    expectTypeOf<Hits['scores']>().toEqualTypeOf<Float32Array>();
    expectTypeOf<SearchResult['ids']>().toEqualTypeOf<readonly (number | string)[] | undefined>();
  });
});

describe('TensorInput', () => {
  test('accepts float32 data, number arrays and rows of them', () => {
    expectTypeOf<Float32Array>().toExtend<TensorInput>();
    expectTypeOf<number[]>().toExtend<TensorInput>();
    expectTypeOf<number[][]>().toExtend<TensorInput>();
    expectTypeOf<readonly (readonly number[])[]>().toExtend<TensorInput>();
    expectTypeOf<Float32Array[]>().toExtend<TensorInput>();
    expectTypeOf<Tensor>().toExtend<TensorInput>();
  });

  test('rejects float64 and integer arrays (float32 is the one dtype)', () => {
    expectTypeOf<Float64Array>().not.toExtend<TensorInput>();
    expectTypeOf<Int32Array>().not.toExtend<TensorInput>();
    expectTypeOf<string[]>().not.toExtend<TensorInput>();
    // @ts-expect-error Float64Array is not a TensorInput: convert with Float32Array.from
    tensor(new Float64Array(4));
    // @ts-expect-error nor is it accepted by a kit's operations
    core.cosinekit.cosineMatrix(new Float64Array(4), [[1, 2, 3, 4]]);
  });

  test('tensor() takes an optional shape and returns a Tensor', () => {
    expectTypeOf(tensor).toBeCallableWith([1, 2, 3, 4], [2, 2]);
    expectTypeOf(tensor).returns.toEqualTypeOf<Tensor>();
  });
});

describe('errors', () => {
  test('isCosineKitError narrows, optionally by code', () => {
    const e: unknown = undefined;
    if (isCosineKitError(e, 'INVALID_K')) expectTypeOf(e).toEqualTypeOf<CosineKitError>();
    expectTypeOf<CosineKitError['code']>().toEqualTypeOf<ErrorCode>();
    expectTypeOf<'NON_FINITE'>().toExtend<ErrorCode>();
    // @ts-expect-error codes are a closed set
    isCosineKitError(e, 'NOT_A_CODE');
  });
});
