import type { CorpusStorage, SearchResult } from '@cosinekit/core';
import type { StoredCorpus } from '@cosinekit/core/backend';
import { check, skip } from '../assert.js';
import { type ConformanceCase, type ConformanceContext, defineCase } from './context.js';

const GROUP = 'stored corpora';

/** A search answer as exact bits, to compare two answers for identity. */
function bitsOf(r: SearchResult): string {
  const s = new Uint32Array(r.scores.buffer, r.scores.byteOffset, r.scores.length);
  return `${Array.from(r.indices)}|${Array.from(s)}|${r.ids?.join(',') ?? ''}`;
}

/** The sections of a stored form, as exact bits. */
function sectionsOf(s: StoredCorpus): string {
  const u32 = (a: Float32Array | null) =>
    a ? Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length)) : 'none';
  return [
    s.rows,
    s.cols,
    s.storage,
    s.rerank,
    u32(s.exact),
    s.half ? Array.from(s.half) : 'none',
    s.codes ? Array.from(s.codes) : 'none',
    u32(s.scales),
  ].join('|');
}

/** True when the backend itself can re-create a corpus bit for bit (else the kit re-admits rows). */
function importsExactly(ctx: ConformanceContext): boolean {
  return ctx.providers.createCorpus === ctx.backend.name
    ? typeof ctx.backend.kernels.importCorpus === 'function'
    : true;
}

const SHAPES: readonly { storage: CorpusStorage; rerank: number }[] = [
  { storage: 'float32', rerank: 0 },
  { storage: 'float16', rerank: 0 },
  { storage: 'int8', rerank: 0 },
  { storage: 'int8', rerank: 3 },
];

/**
 * A corpus keeps what it stores through save and load, on the backend that saved it: the same hits
 * and the same scores, bit for bit, and the reloaded corpus saves to the same bytes. (A backend
 * without `importCorpus` re-admits float32 rows, so there the scores are held to the tolerance.)
 */
export function storedCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  for (const { storage, rerank } of SHAPES) {
    const label = `${storage}${rerank ? `, rerank ${rerank}` : ''}`;
    cases.push(
      defineCase(
        GROUP,
        `save, load and save again keep every hit and score (${label})`,
        'createCorpus',
        async (ctx, data) => {
          const rows = data.matrix(41, 19);
          const q = data.matrix(3, 19);
          const ids = Array.from({ length: rows.rows }, (_, i) => `row-${i}`);
          const kit = ctx.kit;
          const a = await kit.corpus(rows, { storage, rerank, ids });
          try {
            await a.remove(['row-3', 'row-20']);
            const want = await a.search(q, 5);
            const bytes = await a.save();
            const b = await kit.loadCorpus(bytes);
            try {
              const got = await b.search(q, 5);
              check(
                got.ids?.join(',') === want.ids?.join(','),
                `${label}: hits after load ${got.ids} differ from before ${want.ids}`,
              );
              if (storage !== 'float32' || importsExactly(ctx)) {
                check(bitsOf(got) === bitsOf(want), `${label}: scores after load differ in their bits`);
                const again = await b.save();
                check(
                  again.length === bytes.length && again.every((v, i) => v === bytes[i]),
                  `${label}: a loaded corpus saves to different bytes`,
                );
              } else {
                for (let i = 0; i < want.scores.length; i++) {
                  check(
                    Math.abs(got.scores[i] - want.scores[i]) <= ctx.tol.cosine,
                    `${label}: score ${i} moved by ${Math.abs(got.scores[i] - want.scores[i])} after load`,
                  );
                }
              }
            } finally {
              b.dispose();
            }
          } finally {
            a.dispose();
          }
        },
      ),
    );
  }
  cases.push(
    defineCase(
      GROUP,
      'exportCorpus then importCorpus: the same stored form and the same search (float32, float16 and int8, with and without re-ranking)',
      'createCorpus',
      async (ctx, data) => {
        const k = ctx.backend.kernels;
        if (ctx.providers.createCorpus !== ctx.backend.name || !k.exportCorpus || !k.importCorpus) {
          skip(
            `backend '${ctx.backend.name}' has no exportCorpus/importCorpus of its own; the kit keeps what it needs`,
          );
        }
        const rows = data.matrix(23, 13);
        const q = data.matrix(2, 13);
        // What a merge after corpus.add or corpus.remove rebuilds: every section, for every storage.
        for (const { storage, rerank } of [...SHAPES, { storage: 'float16', rerank: 2 } as const]) {
          const label = `${storage}${rerank ? `, rerank ${rerank}` : ''}`;
          let first: Awaited<ReturnType<typeof ctx.kernels.createCorpus>>;
          try {
            first = await ctx.kernels.createCorpus(rows, { storage, rerank });
          } catch (e) {
            // A storage the backend refuses (UNSUPPORTED) has nothing to carry over.
            if ((e as { code?: string }).code === 'UNSUPPORTED') continue;
            throw e;
          }
          const stored = await k.exportCorpus(first);
          const second = await k.importCorpus(stored);
          try {
            check(
              sectionsOf(await k.exportCorpus(second)) === sectionsOf(stored),
              `${label}: a re-imported corpus exports a different stored form`,
            );
            const a = await ctx.kernels.corpusSearch(first, q, 4);
            const b = await ctx.kernels.corpusSearch(second, q, 4);
            check(
              Array.from(a.indices).join() === Array.from(b.indices).join(),
              `${label}: a re-imported corpus finds other rows`,
            );
            check(
              Array.from(a.scores).join() === Array.from(b.scores).join(),
              `${label}: a re-imported corpus scores differently`,
            );
            const ma = await ctx.kernels.corpusMatrix(first, q);
            const mb = await ctx.kernels.corpusMatrix(second, q);
            check(
              Array.from(ma).join() === Array.from(mb).join(),
              `${label}: a re-imported corpus gives a different similarity matrix`,
            );
          } finally {
            first.dispose();
            second.dispose();
          }
        }
      },
    ),
  );
  return cases;
}
