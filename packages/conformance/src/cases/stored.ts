import type { CorpusStorage, SearchResult } from '@cosinekit/core';
import type { StoredCorpus } from '@cosinekit/core/backend';
import { check, skip } from '../assert.js';
import { type ConformanceCase, type ConformanceContext, defineCase } from './context.js';
import { checkTopK } from './search.js';

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
          const stored = await ctx.kernels.exportCorpus!(first);
          // The stored form's own fields: its storage, rerank 0 for float32, and a section present
          // exactly where the storage keeps it (a float32 export claiming rerank 3, or carrying a
          // binary16 section, passed when only the round trip was compared).
          const has = (v: unknown) => v !== null && v !== undefined;
          const want = {
            rerank: storage === 'float32' ? 0 : rerank,
            exact: storage === 'float32' || rerank > 0,
            half: storage === 'float16',
            codes: storage === 'int8',
            scales: storage === 'int8',
          };
          const got = {
            rerank: stored.rerank,
            exact: has(stored.exact),
            half: has(stored.half),
            codes: has(stored.codes),
            scales: has(stored.scales),
          };
          check(
            stored.storage === storage && JSON.stringify(got) === JSON.stringify(want),
            `${label}: exportCorpus gave storage '${stored.storage}' and ${JSON.stringify(got)}, expected '${storage}' and ${JSON.stringify(want)}`,
          );
          const second = await ctx.kernels.importCorpus!(stored);
          try {
            check(
              sectionsOf(await ctx.kernels.exportCorpus!(second)) === sectionsOf(stored),
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
  cases.push(
    defineCase(
      GROUP,
      'mergeCorpora: the rows not dropped, in order, stored and searched as they were (float32, float16 and int8, with and without re-ranking)',
      'createCorpus',
      async (ctx, data) => {
        const k = ctx.backend.kernels;
        if (ctx.providers.createCorpus !== ctx.backend.name || !k.mergeCorpora) {
          skip(
            `backend '${ctx.backend.name}' has no mergeCorpora of its own; the kit gathers and re-imports rows`,
          );
        }
        // Parts of one row, of a few, and past a tile of rows, at an odd width; drops at the ends
        // (the very first row among them) and in runs.
        const d = 13;
        const parts = [data.matrix(3, d), data.matrix(1, d), data.matrix(17, d), data.matrix(70, d)];
        const drop = [
          // The first part's first row dropped: a merge that skipped the first part's drops passed.
          Uint8Array.of(1, 0, 0),
          Uint8Array.of(0),
          Uint8Array.from({ length: 17 }, (_, j) => (j === 0 || j === 16 || (j > 5 && j < 9) ? 1 : 0)),
          Uint8Array.from({ length: 70 }, (_, j) => (j % 7 === 3 || j > 64 ? 1 : 0)),
        ];
        const kept: number[] = [];
        const raw: number[] = [];
        parts.forEach((p, i) => {
          for (let j = 0; j < p.rows; j++)
            if (drop[i][j] === 0) {
              kept.push(i, j);
              raw.push(...p.data.subarray(j * d, (j + 1) * d));
            }
        });
        const rows = kept.length / 2;
        const q = data.matrix(3, d);
        for (const { storage, rerank } of [...SHAPES, { storage: 'float16', rerank: 2 } as const]) {
          const label = `${storage}${rerank ? `, rerank ${rerank}` : ''}`;
          const hs: Awaited<ReturnType<typeof ctx.kernels.createCorpus>>[] = [];
          try {
            for (const p of parts) hs.push(await ctx.kernels.createCorpus(p, { storage, rerank }));
          } catch (e) {
            for (const h of hs) h.dispose();
            if ((e as { code?: string }).code === 'UNSUPPORTED') continue;
            throw e;
          }
          const whole = await ctx.kernels.createCorpus(
            { data: Float32Array.from(raw), rows, cols: d },
            { storage, rerank },
          );
          const before = await ctx.kernels.corpusSearch(hs[3], q, 3);
          const merged = await ctx.kernels.mergeCorpora!(hs, drop);
          try {
            check(
              merged.rows === rows && merged.cols === d,
              `${label}: merged ${merged.rows} x ${merged.cols}, not ${rows} x ${d}`,
            );
            if (k.exportCorpus) {
              // Bit for bit the sections of the kept rows as each part exports them.
              const ex = await Promise.all(hs.map((h) => ctx.kernels.exportCorpus!(h)));
              const pick = <T extends { subarray(a: number, b: number): T; length: number }>(
                sec: (s: StoredCorpus) => T | null,
                per: number,
              ): number[] | null => {
                if (!sec(ex[0])) return null;
                const out: number[] = [];
                for (let t = 0; t < kept.length; t += 2)
                  out.push(
                    ...(sec(ex[kept[t]])!.subarray(
                      kept[t + 1] * per,
                      (kept[t + 1] + 1) * per,
                    ) as unknown as number[]),
                  );
                return out;
              };
              const want: StoredCorpus = {
                rows,
                cols: d,
                storage: ex[0].storage,
                rerank: ex[0].rerank,
                exact: pick((s) => s.exact, d) && Float32Array.from(pick((s) => s.exact, d)!),
                half: pick((s) => s.half, d) && Uint16Array.from(pick((s) => s.half, d)!),
                codes: pick((s) => s.codes, d) && Int8Array.from(pick((s) => s.codes, d)!),
                scales: pick((s) => s.scales, 1) && Float32Array.from(pick((s) => s.scales, 1)!),
              };
              check(
                sectionsOf(await ctx.kernels.exportCorpus!(merged)) === sectionsOf(want),
                `${label}: the merged corpus exports other sections than the kept rows of its parts`,
              );
            } else if (k.readCorpus) {
              // Bit for bit the kept rows as each part reads them.
              const read = await Promise.all(hs.map((h) => ctx.kernels.readCorpus!(h)));
              const want: number[] = [];
              for (let t = 0; t < kept.length; t += 2)
                want.push(...read[kept[t]].subarray(kept[t + 1] * d, (kept[t + 1] + 1) * d));
              check(
                Array.from(await ctx.kernels.readCorpus!(merged)).join() === want.join(),
                `${label}: the merged corpus reads other rows than the kept rows of its parts`,
              );
            }
            // The same hits as one corpus made of the kept rows, scores within the tolerance.
            for (const kk of [1, 5, rows]) {
              const a = await ctx.kernels.corpusSearch(merged, q, kk);
              const b = await ctx.kernels.corpusSearch(whole, q, kk);
              check(
                Array.from(a.indices).join() === Array.from(b.indices).join(),
                `${label}: k = ${kk}: the merged corpus finds rows ${a.indices.slice(0, 5)}, one corpus of the kept rows ${b.indices.slice(0, 5)}`,
              );
              for (let i = 0; i < a.scores.length; i++)
                check(
                  Math.abs(a.scores[i] - b.scores[i]) <= ctx.tol.cosine,
                  `${label}: k = ${kk}: score ${i} differs by ${Math.abs(a.scores[i] - b.scores[i])}`,
                );
            }
            // The parts are left as they were.
            const after = await ctx.kernels.corpusSearch(hs[3], q, 3);
            check(
              !hs.some((h) => h.disposed) &&
                Array.from(after.scores).join() === Array.from(before.scores).join(),
              `${label}: merging changed or released a part`,
            );
          } finally {
            for (const h of [...hs, merged, whole]) h.dispose();
          }
        }
      },
    ),
  );
  cases.push(
    defineCase(
      GROUP,
      're-ranked int8 and float16 corpora of 5,000 rows: the exact top k for pools of 30 to 600 rows, ties to the lower index with and without re-ranking',
      'corpusSearch',
      async (ctx, data) => {
        const n = 5000;
        const d = 24;
        const c = data.matrix(n, d);
        const q = data.matrix(3, d);
        // Copies of query 0 past 2,048 and 4,096 rows (a 12-bit or 16-bit row index wraps), and of
        // row 7 at 3,001 and 4,999: stored alike, so they tie whatever the storage.
        for (const at of [2500, 4200, 4998]) c.data.set(q.data.subarray(0, d), at * d);
        for (const at of [3001, 4999]) c.data.copyWithin(at * d, 7 * d, 8 * d);
        const twin = { data: c.data.slice(7 * d, 8 * d), rows: 1, cols: d };
        for (const { storage, rerank } of [
          { storage: 'int8', rerank: 3 },
          { storage: 'float16', rerank: 3 },
          { storage: 'int8', rerank: 0 },
          { storage: 'float16', rerank: 0 },
        ] as const) {
          const label = `${storage}, rerank ${rerank}`;
          let h: Awaited<ReturnType<typeof ctx.kernels.createCorpus>>;
          try {
            h = await ctx.kernels.createCorpus(c, { storage, rerank });
          } catch (e) {
            if ((e as { code?: string }).code === 'UNSUPPORTED') continue;
            throw e;
          }
          try {
            if (rerank > 0) {
              // Pools of rerank x k = 30, 90 and 600 rows: every score exact, the true top k.
              for (const k of [10, 30, 200])
                checkTopK(
                  `${label}, k = ${k}`,
                  await ctx.kernels.corpusSearch(h, q, k),
                  q,
                  c,
                  k,
                  ctx.tol.cosine,
                );
            }
            // Rows stored alike score alike: the lower index first.
            for (const [what, query, rows] of [
              ['three copies of query 0', q, [2500, 4200, 4998]],
              ['row 7 and its copies', twin, [7, 3001, 4999]],
            ] as const) {
              const r = await ctx.kernels.corpusSearch(h, query, 3);
              check(
                Array.from(r.indices.subarray(0, 3)).join() === rows.join(),
                `${label}: ${what}: expected rows ${rows.join(', ')} (tied, lower index first), got ${Array.from(r.indices.subarray(0, 3)).join(', ')}`,
              );
            }
          } finally {
            h.dispose();
          }
        }
      },
    ),
  );
  return cases;
}
