import { createReferenceBackend } from '@cosinekit/core/backend';
import { describe, expect, it } from 'vitest';
import { runConformance, runProperties } from '../src/index.js';

// Options that made a suite test nothing, or less than asked, without a word (found by a probe).
describe('the suite runners check their options when called', () => {
  const create = () => createReferenceBackend();
  it('runProperties: numRuns 0 or fractional, a seed that cannot be replayed, an unknown key', () => {
    const refused: [object, string][] = [
      [{ name: 'x', create, numRuns: 0 }, 'options.numRuns'],
      [{ name: 'x', create, numRuns: 2.5 }, 'options.numRuns'],
      [{ name: 'x', create, numRuns: '10' }, 'options.numRuns'],
      [{ name: 'x', create, seed: 'abc' }, 'options.seed'],
      [{ name: 'x', create, seed: Symbol('s') }, 'options.seed'],
      [{ name: 'x', create, timout: 5 }, 'options.timout'],
      [{ name: 'x', create, timeout: -1 }, 'options.timeout'],
      [{ name: 'x', create: 42 }, 'options.create'],
      [{ name: Object.create(null), create }, 'options.name'],
    ];
    for (const [options, arg] of refused)
      expect(() => runProperties(options as never), arg).toThrow(
        expect.objectContaining({ name: 'CosineKitError', op: 'runProperties', arg }),
      );
  });

  it('runConformance: the same checks, and no numRuns (it runs every case once)', () => {
    for (const [options, arg] of [
      [{ name: 'x', create, numRuns: 5 }, 'options.numRuns'],
      [{ name: '', create }, 'options.name'],
      [{ name: 'x', create: 'no' }, 'options.create'],
    ] as [object, string][])
      expect(() => runConformance(options as never), arg).toThrow(
        expect.objectContaining({ name: 'CosineKitError', op: 'runConformance', arg }),
      );
  });
});
