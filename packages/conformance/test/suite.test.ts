import {
  type Backend,
  createReferenceBackend,
  type Kernels,
  referenceKernels,
} from '@cosinekit/core/backend';
import { describe, expect, it } from 'vitest';
import { caseTitle, conformanceCases, createContext, runCases } from '../src/index.js';

/** The reference backend, recording a digest of every matrix its kernels are given. */
function recording(): { backend: Backend; seen: string[] } {
  const seen: string[] = [];
  const digest = (v: unknown) => {
    const d = (v as { data?: unknown })?.data;
    if (d instanceof Float32Array)
      seen.push(Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString('base64'));
  };
  const kernels = {} as Record<string, unknown>;
  for (const [name, fn] of Object.entries(referenceKernels)) {
    kernels[name] = (...args: unknown[]) => {
      for (const a of args) digest(a);
      return (fn as (...a: unknown[]) => unknown)(...args);
    };
  }
  return { backend: { ...createReferenceBackend(), kernels: kernels as Partial<Kernels> }, seen };
}

describe('the suite itself', () => {
  it('gives a case the same data whichever cases run before it', async () => {
    const all = conformanceCases();
    const target = all.findIndex((c) => c.group === 'topK' && c.name.startsWith('7 queries'));
    expect(target).toBeGreaterThan(0);

    const alone = recording();
    await runCases(await createContext(alone.backend), [conformanceCases()[target]]);

    // The same case after a dozen others (which draw data of their own first).
    const after = recording();
    const ctx = await createContext(after.backend);
    await runCases(ctx, conformanceCases().slice(0, 12));
    const before = after.seen.length;
    await runCases(ctx, [conformanceCases()[target]]);

    expect(alone.seen.length).toBeGreaterThan(0);
    expect(after.seen.slice(before)).toEqual(alone.seen);
  });

  it('gives different cases different data', async () => {
    const [a, b] = conformanceCases().filter((c) => c.group === 'topK');
    const ra = recording();
    const rb = recording();
    await runCases(await createContext(ra.backend), [a]);
    await runCases(await createContext(rb.backend), [b]);
    expect(ra.seen[0]).not.toEqual(rb.seen[0]);
  });

  it('names who runs each kernel in the test name', async () => {
    // A backend with only cosineMatrix: every other kernel runs on the reference.
    const partial: Backend = { name: 'partial', kernels: { cosineMatrix: referenceKernels.cosineMatrix } };
    const { providers } = await createContext(partial);
    const titles = conformanceCases().map((c) => caseTitle(c, 'partial', providers));
    expect(titles.filter((t) => t.startsWith('cosineMatrix on partial: ')).length).toBeGreaterThan(0);
    expect(titles.filter((t) => t.startsWith('topK on reference fallback: ')).length).toBeGreaterThan(0);
    expect(titles.some((t) => t.startsWith('topK on partial'))).toBe(false);
    // Cases that prove no single kernel carry no provider.
    expect(titles.filter((t) => t.startsWith('public API on this backend: ')).length).toBeGreaterThan(0);
  });
});
