import type { CosineKit, Tensor } from '@cosinekit/core';
import type { Backend, KernelName, Kernels, TopKResult } from '@cosinekit/core/backend';
import { describe, expectTypeOf, it } from 'vitest';
import {
  type CaseOutcome,
  type ConformanceCase,
  type ConformanceContext,
  type ConformanceFailure,
  type ConformanceOptions,
  type ConformanceSkip,
  caseTitle,
  checkTopK,
  conformanceCases,
  createContext,
  DIMS,
  type Generated,
  MAX_TOLERANCE,
  type PropertyOptions,
  type REGIMES,
  type Regime,
  runCases,
  runConformance,
  runProperties,
  type Tolerance,
} from '../src/index.js';

declare const backend: Backend;

describe('runConformance and runProperties options', () => {
  it('take a name and a factory of a backend, sync or async', () => {
    expectTypeOf(runConformance).parameter(0).toEqualTypeOf<ConformanceOptions>();
    expectTypeOf(runConformance).returns.toEqualTypeOf<void>();
    expectTypeOf<ConformanceOptions['name']>().toEqualTypeOf<string>();
    expectTypeOf<ConformanceOptions['create']>().toEqualTypeOf<() => Backend | Promise<Backend>>();
    expectTypeOf({ name: 'x', create: () => backend }).toExtend<ConformanceOptions>();
    expectTypeOf({ name: 'x', create: async () => backend }).toExtend<ConformanceOptions>();
    expectTypeOf<ConformanceOptions['tolerance']>().toEqualTypeOf<Tolerance | undefined>();
    expectTypeOf<ConformanceOptions['timeout']>().toEqualTypeOf<number | undefined>();
  });

  it('reject options without a factory, or with tolerances that are not numbers', () => {
    // @ts-expect-error: create is required
    runConformance({ name: 'x' });
    // @ts-expect-error: create must make a Backend
    runConformance({ name: 'x', create: () => 42 });
    // @ts-expect-error: tolerances are numbers
    runConformance({ name: 'x', create: () => backend, tolerance: { cosine: '1e-5' } });
    // @ts-expect-error: no such tolerance
    runConformance({ name: 'x', create: () => backend, tolerance: { angle: 1e-5 } });
  });

  it('Tolerance has two optional numbers', () => {
    expectTypeOf<Tolerance>().toEqualTypeOf<{ cosine?: number; algebra?: number }>();
  });

  it('properties take the same options plus runs and a seed', () => {
    expectTypeOf(runProperties).parameter(0).toEqualTypeOf<PropertyOptions>();
    expectTypeOf<PropertyOptions['numRuns']>().toEqualTypeOf<number | undefined>();
    expectTypeOf<PropertyOptions['seed']>().toEqualTypeOf<number | undefined>();
    expectTypeOf<Pick<ConformanceOptions, 'name' | 'create' | 'tolerance' | 'timeout'>>().toExtend<
      Pick<PropertyOptions, 'name' | 'create' | 'tolerance' | 'timeout'>
    >();
    expectTypeOf<Regime>().toEqualTypeOf<(typeof REGIMES)[number]>();
    expectTypeOf<'uniform'>().toExtend<Regime>();
    expectTypeOf<Generated['a']>().toEqualTypeOf<Tensor>();
  });
});

describe('cases and their context', () => {
  it('a case has a group, a name, maybe a kernel, and runs on a context', () => {
    expectTypeOf(conformanceCases).returns.toEqualTypeOf<ConformanceCase[]>();
    expectTypeOf<ConformanceCase['kernel']>().toEqualTypeOf<KernelName | undefined>();
    expectTypeOf<ConformanceCase['run']>().toEqualTypeOf<(ctx: ConformanceContext) => Promise<void>>();
    const c: ConformanceCase = { group: 'mine', name: 'works', run: async () => {} };
    // @ts-expect-error: a case is read-only
    c.name = 'other';
    // @ts-expect-error: kernel names are the contract's
    const bad: ConformanceCase = { group: 'g', name: 'n', kernel: 'dot', run: async () => {} };
    void bad;
  });

  it('the context holds the backend, its completed kernels, who runs each, a kit and the tolerances', () => {
    expectTypeOf(createContext).toEqualTypeOf<(b: Backend, t?: Tolerance) => Promise<ConformanceContext>>();
    expectTypeOf<ConformanceContext['backend']>().toEqualTypeOf<Backend>();
    expectTypeOf<ConformanceContext['kernels']>().toEqualTypeOf<Kernels>();
    expectTypeOf<ConformanceContext['providers']>().toEqualTypeOf<Readonly<Record<KernelName, string>>>();
    expectTypeOf<ConformanceContext['kit']>().toEqualTypeOf<CosineKit>();
    expectTypeOf<ConformanceContext['tol']>().toEqualTypeOf<Required<Tolerance>>();
  });

  it('runCases reports each case passed, failed or skipped', () => {
    expectTypeOf(runCases).returns.toEqualTypeOf<Promise<CaseOutcome[]>>();
    expectTypeOf<CaseOutcome['error']>().toEqualTypeOf<Error | undefined>();
    expectTypeOf<CaseOutcome['skipped']>().toEqualTypeOf<string | undefined>();
    expectTypeOf(caseTitle).returns.toEqualTypeOf<string>();
  });

  it('failures and skips are Errors a runner can tell apart', () => {
    expectTypeOf<ConformanceFailure>().toExtend<Error>();
    expectTypeOf<ConformanceSkip>().toExtend<Error>();
    expectTypeOf<ConformanceFailure['name']>().toEqualTypeOf<'ConformanceFailure'>();
    expectTypeOf<ConformanceSkip['name']>().toEqualTypeOf<'ConformanceSkip'>();
  });

  it('helpers a backend author reuses', () => {
    expectTypeOf(DIMS).toEqualTypeOf<readonly [1, 3, 5, 17, 31, 64, 1536]>();
    expectTypeOf(MAX_TOLERANCE).toEqualTypeOf<number>();
    expectTypeOf<TopKResult>().toExtend<Parameters<typeof checkTopK>[1]>();
    expectTypeOf(checkTopK).returns.toEqualTypeOf<void>();
  });
});
