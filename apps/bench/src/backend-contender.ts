import { type Backend, type CosineKit, createCosineKit, type KitInfo, Tensor } from '@cosinekit/core';
import { DEFAULT_INT8_RERANK } from '@cosinekit/core/backend';
import type { Contender, Method, OpenContender } from './method.js';
import { hasChunkedCorpus, runMillion } from './million.js';
import type { WorkloadKind } from './types.js';
import type { Dataset } from './workloads.js';

/** A CosineKit backend, driven through a kit exactly as a user would. */
export function backendContender(id: string, create: () => Promise<Backend>): Contender {
  return {
    id,
    role: 'backend',
    async open(): Promise<OpenContender> {
      const backend = await create();
      const kit = createCosineKit({ backend, onFallback: () => {} });
      let info: KitInfo;
      try {
        info = await kit.ready();
      } catch (err) {
        await Promise.resolve(backend.dispose?.()).catch(() => {});
        throw err;
      }
      const before = backend.memory?.();
      return {
        leaks() {
          const after = backend.memory?.();
          if (!after) return undefined;
          const found: string[] = [];
          if (after.residentHandles > 0) found.push(`${after.residentHandles} resident handle(s)`);
          const grew = (after.objects ?? 0) - (before?.objects ?? 0);
          if (before?.objects !== undefined && grew > 0)
            found.push(`${grew} more engine object(s) than at start`);
          return found.length ? `${found.join(', ')} still alive after every corpus was disposed` : undefined;
        },
        info: {
          id,
          role: 'backend',
          available: true,
          backend: info.backend,
          details: info.details,
          providers: info.providers,
        },
        ...(backend.name === 'wasm' && hasChunkedCorpus(backend)
          ? { million: (spec, settings) => runMillion(kit, backend, id, spec, settings) }
          : {}),
        methods: (kind) => [
          ...approximateSearch(info, kitMethods(kit, info, kind)),
          ...residentPairMethods(backend, kind),
          ...quantisedMethods(kit, backend, kind),
        ],
        async close() {
          kit.dispose();
          await backend.dispose?.();
        },
      };
    },
  };
}

/**
 * A backend whose resident search is approximate by configuration (pgvector's HNSW index says so in
 * `describe().search`): its recall is measured and reported, not required (the user chose the
 * trade-off); its scores are still held to the run's tolerance.
 */
function approximateSearch(info: KitInfo, methods: Method[]): Method[] {
  if (!String(info.details?.search ?? '').startsWith('approximate')) return methods;
  return methods.map((m) =>
    m.name === 'corpus.search' ? { ...m, approximate: { tolerance: 1e-4, minRecall: 0 } } : m,
  );
}

/** A backend's own resident-vector API, when it has one (`createVector` + `vectorCosine`, as wasm does). */
interface ResidentPairApi {
  createVector(data: Float32Array): { dispose(): void };
  vectorCosine(a: unknown, b: unknown): number;
}

function residentPairMethods(backend: Backend, kind: WorkloadKind): Method[] {
  const api = backend as Backend & Partial<ResidentPairApi>;
  if (kind !== 'pair' || typeof api.createVector !== 'function' || typeof api.vectorCosine !== 'function') {
    return [];
  }
  const pairs = api as Backend & ResidentPairApi;
  return [
    {
      name: 'vectorCosine, resident pair',
      ranBy: backend.name,
      prepare: ({ queries, corpus, size: { d } }) => {
        const a = pairs.createVector(queries.subarray(0, d));
        const b = pairs.createVector(corpus.subarray(0, d));
        return {
          call: () => ({ value: pairs.vectorCosine(a, b) }),
          dispose: () => {
            a.dispose();
            b.dispose();
          },
        };
      },
    },
  ];
}

/**
 * The quantised storages each backend holds on its own (anything else would fall back to the
 * reference backend, which is not what a figure of that backend should time).
 */
const QUANTISED: Readonly<Record<string, readonly ('int8' | 'float16')[]>> = {
  wasm: ['int8', 'float16'],
  webgpu: ['int8', 'float16'],
};

/**
 * A backend's quantised corpora (`createCorpus(x, { storage, rerank })`, reached through the kit's
 * kernel table): approximate search. int8 is timed as it is made by default, with 3 x k candidates
 * re-ranked (exact float32 scores), held to recall@10 >= 0.99 and a score error of 1e-4; and
 * without re-ranking (scores about 1e-2 off where the engine quantises the query too, as wasm
 * does), held to that error and reported with the recall it gets (quantised scores reorder near
 * neighbours: 9 of B's 10), which does not fail the run. float16 as it is used, without re-ranking
 * (scores within 2^-11 + sqrt(d) 2^-25 of the exact cosine: 1e-3 covers d <= 4096), likewise.
 */
function quantisedMethods(kit: CosineKit, backend: Backend, kind: WorkloadKind): Method[] {
  const storages = QUANTISED[backend.name];
  if (kind !== 'search' || !storages) return [];
  const variant = (storage: 'int8' | 'float16', rerank: number): Method => ({
    name: `${storage} corpus${rerank ? `, re-rank ${rerank}k` : ''}`,
    ranBy: backend.name,
    approximate: {
      tolerance: rerank ? 1e-4 : storage === 'int8' ? 2e-2 : 1e-3,
      minRecall: rerank ? 0.99 : 0,
    },
    async prepare(ds) {
      const kernels = await kit.kernels();
      const create = kernels.createCorpus as (
        x: Tensor,
        options: { storage: string; rerank: number },
      ) => ReturnType<typeof kernels.createCorpus>;
      const handle = await create(new Tensor(ds.corpus, ds.size.n, ds.size.d), { storage, rerank });
      if ((handle as { storage?: string }).storage !== storage) {
        handle.dispose();
        throw new Error(`this ${backend.name} backend does not store ${storage} corpora`);
      }
      const q = new Tensor(ds.queries, ds.size.q, ds.size.d);
      const k = ds.size.k ?? 1;
      return { call: () => kernels.corpusSearch(handle, q, k), dispose: () => handle.dispose() };
    },
  });
  return storages.flatMap((s) =>
    s === 'int8' ? [variant(s, 0), variant(s, DEFAULT_INT8_RERANK)] : [variant(s, 0)],
  );
}

function kitMethods(kit: CosineKit, info: KitInfo, kind: WorkloadKind): Method[] {
  const t = (data: Float32Array, rows: number, cols: number) => new Tensor(data, rows, cols);
  if (kind === 'pair') {
    return [
      {
        name: 'cosineRows, 1 row',
        ranBy: info.providers.cosineRows,
        prepare: ({ queries, corpus, size: { d } }) => {
          const a = t(queries, 1, d);
          const b = t(corpus, 1, d);
          return { call: () => kit.cosineRows(a, b).then((r) => ({ value: r[0] })) };
        },
      },
    ];
  }
  const resident = async (ds: Dataset) => kit.corpus(t(ds.corpus, ds.size.n, ds.size.d));
  if (kind === 'search') {
    return [
      {
        name: 'corpus.search',
        ranBy: info.providers.corpusSearch,
        async prepare(ds) {
          const c = await resident(ds);
          const q = t(ds.queries, ds.size.q, ds.size.d);
          const k = ds.size.k ?? 1;
          return { call: () => c.search(q, k), dispose: () => c.dispose() };
        },
      },
      {
        // The same search as a one-off call on rows the caller holds: what a user without a corpus
        // pays (the rows copied and checked on every call).
        name: 'topK (not resident)',
        ranBy: info.providers.topK,
        prepare(ds) {
          const q = t(ds.queries, ds.size.q, ds.size.d);
          const c = t(ds.corpus, ds.size.n, ds.size.d);
          const k = ds.size.k ?? 1;
          return { call: () => kit.topK(q, c, k) };
        },
      },
    ];
  }
  return [
    {
      name: 'corpus.similarity',
      ranBy: info.providers.corpusMatrix,
      async prepare(ds) {
        const c = await resident(ds);
        const q = t(ds.queries, ds.size.q, ds.size.d);
        return { call: () => c.similarity(q).then((m) => ({ matrix: m.data })), dispose: () => c.dispose() };
      },
    },
    {
      name: 'cosineMatrix (not resident)',
      ranBy: info.providers.cosineMatrix,
      prepare(ds) {
        const q = t(ds.queries, ds.size.q, ds.size.d);
        const c = t(ds.corpus, ds.size.n, ds.size.d);
        return { call: () => kit.cosineMatrix(q, c).then((m) => ({ matrix: m.data })) };
      },
    },
  ];
}
