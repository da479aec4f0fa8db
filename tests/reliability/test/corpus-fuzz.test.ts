import {
  type Backend,
  type CosineKit,
  createCosineKit,
  isCosineKitError,
  type SearchResult,
} from '@cosinekit/core';
import { type CorpusFile, decodeCorpusFile } from '@cosinekit/core/backend';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crc32 } from '../../../packages/core/src/crc32.js';
import { BACKENDS, rows } from './backends.js';

/**
 * Fuzz target for the corpus file format (core's corpus-file.ts) through `kit.loadCorpus`: saved
 * files are truncated, bit-flipped, spliced and have header fields rewritten (with the header length
 * and CRC recomputed, so the mutation reaches the parser behind the checksum). Every load either
 * fails with CORRUPT_DATA (or INVALID_TYPE) and leaves no resident handle, or succeeds with a corpus
 * consistent with what the bytes say. `COSINEKIT_FUZZ_RUNS` (default 200 per backend) and
 * `COSINEKIT_SEED` replay a run.
 */
const env = process.env;
const RUNS = Number(env.COSINEKIT_FUZZ_RUNS) || 200;
const SEED = Number(env.COSINEKIT_SEED) || (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;

/** The fuzzed backends: every Node backend but gpujs headlessgl (software GL, slow per call). */
const FUZZED = new Set(['reference', 'wasm (simd)', 'tfjs-wasm', 'tfjs-cpu', 'gpujs webasm', 'gpujs cpu']);

const D = 5;
/** Two queries for a corpus of width `d`. */
const queries = (d: number) => [rows(1, d, 90), rows(1, d, 91)];

/**
 * Five seeds: plain (6 rows); ids (strings and numbers) after add and remove; int8 storage with rerank (float
 * rows, codes and scales); int8 without (codes and scales only); float16 with rerank 1.
 */
async function seedFiles(kit: CosineKit): Promise<{ files: Uint8Array[]; answers: SearchResult[] }> {
  const base = rows(6, D, 1);
  const plain = await kit.corpus(
    Array.from({ length: 6 }, (_, i) => base.subarray(i * D, (i + 1) * D)),
    {},
  );
  const data = rows(9, D, 2);
  const withIds = await kit.corpus(
    Array.from({ length: 6 }, (_, i) => data.subarray(i * D, (i + 1) * D)),
    { ids: ['a', 1, 'b', 2.5, 'c', -3] },
  );
  await withIds.add(
    Array.from({ length: 3 }, (_, i) => data.subarray((6 + i) * D, (7 + i) * D)),
    ['x', 'y', 'z'],
  );
  await withIds.remove(['b', 'y']);
  const quantised = await kit.corpus(
    Array.from({ length: 7 }, (_, i) => rows(1, D, 10 + i)),
    { storage: 'int8', rerank: 2 },
  );
  const codesOnly = await kit.corpus(
    Array.from({ length: 5 }, (_, i) => rows(1, D, 20 + i)),
    { storage: 'int8', rerank: 0 },
  );
  const half = await kit.corpus(
    Array.from({ length: 4 }, (_, i) => rows(1, D, 30 + i)),
    { storage: 'float16', rerank: 1 },
  );
  const seeds = [plain, withIds, quantised, codesOnly, half];
  const files: Uint8Array[] = [];
  const answers: SearchResult[] = [];
  for (const c of seeds) {
    files.push(await c.save());
    answers.push(await c.search(queries(c.cols), c.rows));
  }
  for (const c of seeds) c.dispose();
  return { files, answers };
}

// ---- mutations -------------------------------------------------------------------------------

/** Recomputes the trailing CRC-32 so the mutation reaches the parser. */
function reseal(b: Uint8Array): Uint8Array {
  if (b.length >= 4)
    new DataView(b.buffer, b.byteOffset).setUint32(b.length - 4, crc32(b.subarray(0, b.length - 4)), true);
  return b;
}

function headerOf(b: Uint8Array): { h: number; json: Record<string, unknown> } {
  const h = new DataView(b.buffer, b.byteOffset).getUint32(12, true);
  return { h, json: JSON.parse(new TextDecoder().decode(b.subarray(16, 16 + h))) };
}

/** Replaces the JSON header (space-padded to a multiple of 4), fixing the length field and the CRC. */
function withHeader(b: Uint8Array, json: string, pad = true): Uint8Array {
  const { h } = headerOf(b);
  let head = new TextEncoder().encode(json);
  if (pad && head.length % 4 !== 0) {
    const p = new Uint8Array(Math.ceil(head.length / 4) * 4).fill(0x20);
    p.set(head);
    head = p;
  }
  const out = new Uint8Array(16 + head.length + (b.length - 16 - h));
  out.set(b.subarray(0, 16));
  new DataView(out.buffer).setUint32(12, head.length, true);
  out.set(head, 16);
  out.set(b.subarray(16 + h), 16 + head.length);
  return reseal(out);
}

type Mutation = { what: string; apply: (b: Uint8Array) => Uint8Array };

const hostileValue = fc.oneof(
  fc.constantFrom<unknown>(
    null,
    -1,
    0,
    1,
    2,
    3,
    1e9,
    2 ** 31,
    2 ** 53,
    1.5,
    -0,
    'float16',
    'int8',
    'float32',
    'int4',
    '3',
    [],
    {},
    true,
  ),
  fc.integer({ min: -5, max: 20 }),
  fc.string({ maxLength: 6 }),
  fc.array(fc.oneof(fc.string({ maxLength: 3 }), fc.integer({ min: -3, max: 12 })), { maxLength: 10 }),
);
const FIELDS = ['rows', 'cols', 'storage', 'rerank', 'next', 'ids'] as const;

/** Edits that keep the file meaningful (it must then load, and agree with its bytes). */
const validEdit: fc.Arbitrary<Mutation> = fc.oneof(
  fc.constantFrom('float32', 'float16', 'int8').map((v) => ({
    what: `header: storage = ${v}`,
    apply: (b: Uint8Array) => withHeader(b, JSON.stringify({ ...headerOf(b).json, storage: v })),
  })),
  fc.integer({ min: 0, max: 6 }).map((v) => ({
    what: `header: rerank = ${v}`,
    apply: (b: Uint8Array) => withHeader(b, JSON.stringify({ ...headerOf(b).json, rerank: v })),
  })),
  fc.integer({ min: 0, max: 1000 }).map((v) => ({
    what: `header: next += ${v}`,
    apply: (b: Uint8Array) => {
      const { json } = headerOf(b);
      return withHeader(b, JSON.stringify({ ...json, next: (json.next as number) + v }));
    },
  })),
  fc
    .uniqueArray(fc.oneof(fc.string({ maxLength: 4 }), fc.integer()), { minLength: 20, maxLength: 20 })
    .map((ids) => ({
      what: `header: ids = ${JSON.stringify(ids)} (as many as rows)`,
      apply: (b: Uint8Array) => {
        const { json } = headerOf(b);
        return withHeader(b, JSON.stringify({ ...json, ids: ids.slice(0, json.rows as number) }));
      },
    })),
  fc.constant<Mutation>({
    what: 'header: ids = null',
    apply: (b) => withHeader(b, JSON.stringify({ ...headerOf(b).json, ids: null })),
  }),
);

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  validEdit,
  validEdit,
  fc.nat().map((n) => ({
    what: `truncate to ${n} (mod length)`,
    apply: (b: Uint8Array) => b.slice(0, n % b.length),
  })),
  fc.uint8Array({ minLength: 1, maxLength: 12 }).map((x) => ({
    what: `append ${x.length} bytes`,
    apply: (b: Uint8Array) => {
      const o = new Uint8Array(b.length + x.length);
      o.set(b);
      o.set(x, b.length);
      return o;
    },
  })),
  fc
    .record({
      flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 4 }),
      seal: fc.boolean(),
    })
    .map(({ flips, seal }) => ({
      what: `flip bits ${JSON.stringify(flips)}${seal ? ', CRC recomputed' : ''}`,
      apply: (b: Uint8Array) => {
        const o = b.slice();
        for (const [p, bit] of flips) o[p % o.length] ^= 1 << bit;
        return seal ? reseal(o) : o;
      },
    })),
  fc
    .record({
      at: fc.nat(),
      del: fc.integer({ min: 0, max: 8 }),
      ins: fc.uint8Array({ maxLength: 8 }),
      seal: fc.boolean(),
    })
    .map(({ at, del, ins, seal }) => ({
      what: `splice at ${at} (mod length): delete ${del}, insert [${Array.from(ins)}]${seal ? ', CRC recomputed' : ''}`,
      apply: (b: Uint8Array) => {
        const p = at % b.length;
        const o = new Uint8Array([...b.subarray(0, p), ...ins, ...b.subarray(Math.min(b.length, p + del))]);
        return seal ? reseal(o) : o;
      },
    })),
  fc
    .record({ field: fc.constantFrom(...FIELDS), value: hostileValue, drop: fc.boolean() })
    .map(({ field, value, drop }) => ({
      what: drop ? `header: delete ${field}` : `header: ${field} = ${JSON.stringify(value)}`,
      apply: (b: Uint8Array) => {
        const { json } = headerOf(b);
        if (drop) delete json[field];
        else json[field] = value;
        return withHeader(b, JSON.stringify(json));
      },
    })),
  fc.constantFrom<Mutation>(
    { what: 'header: not JSON', apply: (b) => withHeader(b, '{"rows":') },
    { what: 'header: JSON null', apply: (b) => withHeader(b, 'null') },
    {
      what: 'header: ids repeat (the second id set to the first)',
      apply: (b) => {
        const { json } = headerOf(b);
        const ids = json.ids as unknown[] | null;
        if (ids && ids.length > 1) ids[1] = ids[0];
        return withHeader(b, JSON.stringify(json));
      },
    },
    {
      what: 'header: unpadded (length not a multiple of 4)',
      apply: (b) => withHeader(b, `${JSON.stringify(headerOf(b).json)}  `, false),
    },
    { what: 'header: a JSON array', apply: (b) => withHeader(b, '[1,2,3]') },
    { what: 'header: invalid UTF-8', apply: (b) => withHeader(b, '{"rows":1}\udc00') },
  ),
  fc.record({ value: fc.integer({ min: 0, max: 0xffffffff }) }).map(({ value }) => ({
    what: `header length field = ${value}, CRC recomputed`,
    apply: (b: Uint8Array) => {
      const o = b.slice();
      new DataView(o.buffer).setUint32(12, value, true);
      return reseal(o);
    },
  })),
  fc.integer({ min: 0, max: 0xffffffff }).map((v) => ({
    what: `version = ${v}, CRC recomputed`,
    apply: (b: Uint8Array) => {
      const o = b.slice();
      new DataView(o.buffer).setUint32(8, v, true);
      return reseal(o);
    },
  })),
  fc
    .record({
      at: fc.nat(),
      value: fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, -0, 1e30, -1e30, 1e-42, 3.4e38, 0, 2),
      ordinal: fc.boolean(),
      int: fc.integer({ min: -2, max: 20 }),
    })
    .map(({ at, value, ordinal, int }) => ({
      what: ordinal
        ? `ordinal at ${at} (mod rows) = ${int}, CRC recomputed`
        : `value at ${at} (mod n) = ${value}, CRC recomputed`,
      apply: (b: Uint8Array) => {
        const o = b.slice();
        const { h, json } = headerOf(o);
        const r = json.rows as number;
        const c = json.cols as number;
        const view = new DataView(o.buffer);
        if (ordinal) view.setInt32(16 + h + 4 * (at % r), int, true);
        else view.setFloat32(16 + h + 4 * r + 4 * (at % (r * c)), value, true);
        return reseal(o);
      },
    })),
);

// ---- consistency ----------------------------------------------------------------------------

function cos(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    d += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na === 0 || nb === 0 ? 0 : Math.max(-1, Math.min(1, d / Math.sqrt(na * nb)));
}

/** Row `j` of a decoded file: its float rows when kept, else its codes or bits decoded. */
function rowOf(file: CorpusFile, j: number): Float32Array {
  const d = file.cols;
  if (file.exact) return file.exact.subarray(j * d, (j + 1) * d);
  const out = new Float32Array(d);
  for (let p = 0; p < d; p++) {
    if (file.codes) out[p] = file.codes[j * d + p] * file.scales![j];
    else {
      const h = file.half![j * d + p];
      const e = (h >> 10) & 0x1f;
      const m = h & 0x3ff;
      out[p] = (h & 0x8000 ? -1 : 1) * (e === 0 ? m * 2 ** -24 : (1 + m / 1024) * 2 ** (e - 15));
    }
  }
  return out;
}

/** A successful load must agree with the bytes: shape, ids, ordinals, and search answers. */
async function checkConsistent(kit: CosineKit, bytes: Uint8Array, file: CorpusFile): Promise<void> {
  const c = await kit.loadCorpus(bytes);
  try {
    expect([c.rows, c.cols]).toEqual([file.rows, file.cols]);
    if (file.ids)
      expect(new Set(file.ids).size, `ids must be unique: ${JSON.stringify(file.ids)}`).toBe(file.rows);
    const ordinals = Array.from(file.ordinals);
    const q = Array.from({ length: 2 }, (_, i) => rows(1, file.cols, 100 + i));
    const k = Math.min(3, file.rows);
    const r = await c.search(q, k);
    const tol = file.storage === 'float32' || file.rerank > 0 ? 1e-4 : 5e-2;
    for (let i = 0; i < q.length; i++) {
      for (let t = 0; t < k; t++) {
        const ord = r.indices[i * k + t];
        const j = ordinals.indexOf(ord);
        expect(j, `ordinal ${ord} is not in the file`).toBeGreaterThanOrEqual(0);
        if (file.ids) expect(r.ids?.[i * k + t]).toBe(file.ids[j]);
        const want = cos(q[i], rowOf(file, j));
        const got = r.scores[i * k + t];
        expect(
          Math.abs(got - want),
          `score of row ${j} (ordinal ${ord}): ${got}, true cosine ${want}`,
        ).toBeLessThanOrEqual(tol);
      }
    }
    const again = decodeCorpusFile(await c.save());
    expect(Array.from(again.ordinals)).toEqual(ordinals);
    expect(again.ids).toEqual(file.ids);
    expect(again.next).toBe(file.next);
  } finally {
    c.dispose();
  }
}

for (const b of BACKENDS.filter((x) => FUZZED.has(x.label))) {
  describe.skipIf(b.skip !== null)(
    `corpus file fuzz: ${b.label} (COSINEKIT_SEED=${SEED}, ${RUNS} runs)`,
    () => {
      let backend: Backend;
      let kit: CosineKit;
      let files: Uint8Array[];
      let answers: SearchResult[];
      beforeAll(async () => {
        backend = b.create();
        kit = createCosineKit({ backend, onFallback: () => undefined });
        ({ files, answers } = await seedFiles(kit));
      });

      it('the seed files load to the same hits and scores, and save to the same bytes', async () => {
        for (let f = 0; f < files.length; f++) {
          const c = await kit.loadCorpus(files[f]);
          const file = decodeCorpusFile(files[f]);
          // Restored bit for bit: quantised corpora always; float32 ones where the backend imports.
          const exact = file.storage !== 'float32' || typeof backend.kernels.importCorpus === 'function';
          const r = await c.search(queries(c.cols), c.rows);
          expect(Array.from(r.indices), `seed file ${f}`).toEqual(Array.from(answers[f].indices));
          expect(r.ids, `seed file ${f}`).toEqual(answers[f].ids);
          for (let i = 0; i < r.scores.length; i++) {
            const err = Math.abs(r.scores[i] - answers[f].scores[i]);
            expect(err, `seed file ${f}, score ${i}`).toBeLessThanOrEqual(exact ? 0 : 2e-7);
          }
          if (exact) expect(await c.save(), `seed file ${f}`).toEqual(files[f]);
          c.dispose();
        }
      });
      afterAll(async () => {
        kit.dispose();
        await backend.dispose?.();
      });

      it('every mutated file loads consistently or fails with CORRUPT_DATA / INVALID_TYPE, leaking nothing', async () => {
        const handles = () => backend.memory?.().residentHandles ?? 0;
        const outcomes = new Map<string, number>();
        await fc.assert(
          fc.asyncProperty(
            fc.nat({ max: 4 }),
            fc.oneof(
              { weight: 3, arbitrary: fc.tuple(mutation) },
              { weight: 1, arbitrary: fc.array(mutation, { minLength: 2, maxLength: 4 }) },
            ),
            async (which, ms) => {
              let bytes = files[which];
              for (const m of ms) {
                try {
                  if (bytes.length > 0) bytes = m.apply(bytes);
                } catch {
                  // A header edit needs a parseable header; after an earlier mutation broke it, skip it.
                }
              }
              const base = handles();
              let file: CorpusFile | undefined;
              try {
                file = decodeCorpusFile(bytes);
              } catch {}
              try {
                if (file) {
                  await checkConsistent(kit, bytes, file);
                  outcomes.set('loaded', (outcomes.get('loaded') ?? 0) + 1);
                } else {
                  let err: unknown;
                  try {
                    (await kit.loadCorpus(bytes)).dispose();
                  } catch (e) {
                    err = e;
                  }
                  expect(
                    err,
                    'decodeCorpusFile refused the bytes but loadCorpus accepted them',
                  ).toBeDefined();
                  const ok = isCosineKitError(err, 'CORRUPT_DATA') || isCosineKitError(err, 'INVALID_TYPE');
                  expect(ok, `unexpected error: ${String(err)}`).toBe(true);
                  const code = (err as { code: string }).code;
                  outcomes.set(code, (outcomes.get(code) ?? 0) + 1);
                }
                expect(handles(), 'a resident handle was left allocated').toBe(base);
              } catch (e) {
                throw new Error(
                  `seed file ${which}, mutations: ${ms.map((m) => m.what).join('; ')}\n${String(e)}`,
                );
              }
            },
          ),
          { numRuns: RUNS, seed: SEED, endOnFailure: true },
        );
        console.log(`[reliability] corpus fuzz ${b.label}: ${JSON.stringify(Object.fromEntries(outcomes))}`);
      });
    },
  );
}
