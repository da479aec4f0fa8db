import { readFileSync, writeFileSync } from 'node:fs';
import { createTfjsBackend } from '@cosinekit/backend-tfjs';
import {
  type Backend,
  type Corpus,
  type CosineKit,
  createCosineKit,
  type Tensor,
  tensor,
} from '@cosinekit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from './backends.js';
import { type Harness, HOSTILE_CASES, KERNEL_CASES } from './hostile-cases.js';
import { renderHostile } from './hostile-doc.js';

/** Runs `call` and returns what it threw (awaiting a promise), or fails when it succeeded. */
async function thrown(call: () => unknown): Promise<Error & { code?: string; op?: string; arg?: string }> {
  try {
    await call();
  } catch (e) {
    return e as Error;
  }
  return expect.fail('the call succeeded');
}

const Q = [[0.5, -1, 2, 0.25]];
const C = Array.from({ length: 8 }, (_, i) => [Math.sin(i + 1), Math.cos(i * 2), i - 3.5, (i % 3) - 1]);
const IDS = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];

/** A search result reduced to its exact bits, for "untouched" comparisons. */
async function fingerprint(corpus: Corpus): Promise<string> {
  const r = await corpus.search(C, 3);
  const s = await corpus.similarity(Q);
  return [
    Array.from(r.indices).join(','),
    Array.from(new Uint32Array(r.scores.buffer, r.scores.byteOffset, r.scores.length)).join(','),
    Array.from(new Uint32Array(s.data.buffer, s.data.byteOffset, s.data.length)).join(','),
  ].join('|');
}

for (const b of BACKENDS) {
  describe.skipIf(b.skip !== null)(`hostile inputs: ${b.label}`, () => {
    let backend: Backend;
    let kit: CosineKit;
    let h: Harness;
    let other: Corpus;
    let before: string;
    let handles: number;
    beforeAll(async () => {
      backend = b.create();
      kit = createCosineKit({ backend });
      await kit.ready();
      const disposedCorpus = await kit.corpus(C);
      disposedCorpus.dispose();
      const disposedTensor: Tensor = tensor(Q);
      disposedTensor.dispose();
      h = {
        kit,
        backend,
        q: Q,
        c: C,
        corpus: await kit.corpus(C, { ids: IDS }),
        disposedCorpus,
        disposedTensor,
      };
      // Corpus B: resident beside the abused corpus A, never touched by a hostile call.
      other = await kit.corpus(C.map((r) => r.map((v) => v * 3 - 1)));
      before = await fingerprint(other);
      handles = backend.memory?.().residentHandles ?? 0;
    });
    afterAll(async () => {
      kit.dispose();
      await backend.dispose?.();
    });

    for (const c of HOSTILE_CASES) {
      it(`${c.input} -> ${c.code}`, async () => {
        const e = await thrown(() => c.call(h));
        expect(e.name, String(e)).toBe('CosineKitError');
        expect(e.code, e.message).toBe(c.code);
        expect(e.message).toContain(`'${c.op}'`);
        if (c.arg !== undefined) expect(e.message).toContain(`'${c.arg}'`);
      });
    }

    for (const c of KERNEL_CASES.filter((k) => k.backends.test(b.label))) {
      it(`below the API: ${c.input} -> ${c.code}, and the backend carries on`, async () => {
        const bytes = backend.memory?.().bytes;
        const e = await thrown(() => c.call(backend));
        expect(e.name, String(e)).toBe('CosineKitError');
        expect(e.code, e.message).toBe(c.code);
        expect(e.message).toContain(`'${c.op}'`);
        expect(backend.memory?.().bytes).toBe(bytes);
      });
    }

    it('after every hostile call: corpus A still answers, corpus B is bit-for-bit unchanged, no handle leaked', async () => {
      expect((await h.corpus.search(Q, 8)).ids).toHaveLength(8);
      expect(await fingerprint(other)).toBe(before);
      expect(backend.memory?.().residentHandles ?? 0).toBe(handles);
    });
  });
}

describe('backend options', () => {
  it.each([
    [{ engine: 'cuda' as 'cpu' }, 'engine'],
    [{ engine: 'cpu' as const, tileColumns: 0 }, 'tileColumns'],
    [{ engine: 'cpu' as const, scoreTile: 2.5 }, 'scoreTile'],
  ])('createTfjsBackend(%j) is INVALID_ARGUMENT naming the option', async (options, arg) => {
    const e = await thrown(() => createTfjsBackend(options));
    expect(e).toMatchObject({
      name: 'CosineKitError',
      code: 'INVALID_ARGUMENT',
      op: 'createTfjsBackend',
      arg,
    });
    expect(e.message).toContain(`'${arg}'`);
  });
});

describe('HOSTILE.md', () => {
  it('lists exactly the cases this file runs (COSINEKIT_UPDATE_DOCS=1 rewrites it)', () => {
    const path = new URL('../HOSTILE.md', import.meta.url);
    const want = renderHostile();
    if (process.env.COSINEKIT_UPDATE_DOCS === '1') writeFileSync(path, want);
    let have = '';
    try {
      have = readFileSync(path, 'utf8');
    } catch {}
    expect(have, 'HOSTILE.md is out of date: run `pnpm --filter @cosinekit/reliability-tests docs`').toBe(
      want,
    );
  });
});
