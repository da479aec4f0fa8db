import { cosine } from '@cosinekit/core';
import { backendContender } from './backend-contender.js';
import { type BackendOptions, backendSource, type ModuleLoader, tfjsEngineOf } from './backends.js';
import type { Contender, Method } from './method.js';
import {
  hoistedCosine,
  hoistedMatrix,
  naiveCosine,
  naiveMatrix,
  naiveSearch,
  rowsOf,
} from './peers/naive.js';
import { loadTfjsEngine, type TfjsEngine, tfjsPeerMethod } from './peers/tfjs.js';
import type { WorkloadKind } from './types.js';

/** Peers a run can include: what a user would write instead of CosineKit. */
export const PEERS = ['naive', 'core', 'tfjs-obvious', 'tfjs-fast'] as const;

/**
 * The plain JavaScript loops on Float32Array: first the textbook loop (the default baseline: a
 * workload's first `naive` result), then, for a pair and a matrix, the same loop with each element
 * read once (a tuned loop, shown beside it).
 */
export function naiveContender(): Contender {
  const methods = (kind: WorkloadKind): Method[] => {
    if (kind === 'pair') {
      return [
        {
          name: 'textbook loop: a[i] * b[i], norms, divide',
          prepare: ({ queries, corpus, size: { d } }) => {
            const a = queries.subarray(0, d);
            const b = corpus.subarray(0, d);
            return { call: () => ({ value: naiveCosine(a, b) }) };
          },
        },
        {
          name: 'tuned loop: each element read once',
          prepare: ({ queries, corpus, size }) => ({
            call: () => ({ value: hoistedCosine(queries, 0, corpus, 0, size.d) }),
          }),
        },
      ];
    }
    if (kind === 'matrix') {
      return [
        {
          name: 'textbook loop per pair',
          prepare: ({ queries, corpus, size: { q, n, d } }) => {
            const qs = rowsOf(queries, q, d);
            const cs = rowsOf(corpus, n, d);
            return { call: () => ({ matrix: naiveMatrix(queries, corpus, q, n, d, qs, cs) }) };
          },
        },
        {
          name: 'tuned loop per pair',
          prepare: ({ queries, corpus, size: { q, n, d } }) => ({
            call: () => ({ matrix: hoistedMatrix(queries, corpus, q, n, d) }),
          }),
        },
      ];
    }
    return [
      {
        name: 'textbook loop per pair + sort',
        prepare: ({ queries, corpus, size: { q, n, d, k } }) => {
          const qs = rowsOf(queries, q, d);
          const cs = rowsOf(corpus, n, d);
          return { call: () => naiveSearch(queries, corpus, q, n, d, k ?? 1, qs, cs) };
        },
      },
    ];
  };
  return peer('naive', { engine: 'JavaScript loop', array: 'Float32Array' }, methods);
}

/**
 * The synchronous pure-TS `cosine()` of core, for one pair: the reference backend's pair kernel
 * (`cosineOf`, also behind its `cosineRows`) without the async kit around it.
 */
export function coreContender(): Contender {
  return peer('core', { engine: 'TypeScript', call: 'cosine(a, b)', kernel: 'reference cosineOf' }, (kind) =>
    kind === 'pair'
      ? [
          {
            name: 'cosine(a, b)',
            ranBy: 'reference',
            prepare: ({ queries, corpus }) => ({ call: () => ({ value: cosine(queries, corpus) }) }),
          },
        ]
      : [],
  );
}

/** tfjs-core called directly on `engine`, the obvious way or on its fast path. */
export function tfjsPeerContender(
  engine: TfjsEngine,
  style: 'obvious' | 'fast',
  load: ModuleLoader,
  wasmPaths?: string | Record<string, string>,
): Contender {
  const id = `tfjs-${engine}:${style}`;
  return {
    id,
    role: 'peer',
    async open() {
      const { tf, via } = await loadTfjsEngine(engine, load, wasmPaths);
      const tensors = tf.memory().numTensors;
      return {
        leaks: () => {
          const grew = tf.memory().numTensors - tensors;
          return grew > 0 ? `${grew} tfjs tensor(s) more than at start` : undefined;
        },
        info: {
          id,
          role: 'peer',
          available: true,
          details: { engine: `tfjs ${tf.version_core} ${tf.getBackend()}`, style, init: via },
        },
        methods: (kind) => [tfjsPeerMethod(tf, engine, style, kind)],
        close: async () => {},
      };
    },
  };
}

function peer(
  id: string,
  details: Record<string, string>,
  methods: (kind: WorkloadKind) => Method[],
): Contender {
  return {
    id,
    role: 'peer',
    open: async () => ({
      info: { id, role: 'peer', available: true, details },
      methods,
      close: async () => {},
    }),
  };
}

/** What to include in a run, by name. */
export interface ContenderPlan {
  readonly backends: readonly string[];
  readonly peers: readonly string[];
  readonly load: ModuleLoader;
  readonly backendOptions?: BackendOptions;
}

/**
 * The contenders of a run, in the order they run: the naive loop and core's `cosine()`, then each
 * backend, each tfjs backend preceded by tfjs called directly on the same engine (peers first, so
 * they see a fresh engine).
 */
export function planContenders(plan: ContenderPlan): Contender[] {
  const out: Contender[] = [];
  const peers = new Set(plan.peers);
  if (peers.has('naive')) out.push(naiveContender());
  if (peers.has('core')) out.push(coreContender());
  for (const id of plan.backends) {
    const engine = tfjsEngineOf(id);
    if (engine) {
      const paths = plan.backendOptions?.tfjsWasmPaths;
      if (peers.has('tfjs-obvious')) out.push(tfjsPeerContender(engine, 'obvious', plan.load, paths));
      if (peers.has('tfjs-fast')) out.push(tfjsPeerContender(engine, 'fast', plan.load, paths));
    }
    const src = backendSource(id, plan.load, plan.backendOptions);
    out.push(backendContender(id, () => src.create()));
  }
  return out;
}
