import {
  type Backend,
  type Corpus,
  type CosineKit,
  createCosineKit,
  type Kernels,
  Tensor,
} from '@cosinekit/core';
import { type BackendMemory, createReferenceBackend } from '@cosinekit/core/backend';
import { afterAll, describe, expect, it } from 'vitest';
import { BACKENDS, rows } from './backends.js';

/**
 * Soak: mixed calls on each backend with memory sampled at the start, middle and end. Default
 * 5,000 calls per backend (the CI budget); `COSINEKIT_SOAK_CALLS=100000` (`pnpm test:soak`) for the
 * full run. Figures are printed for the closing note; the assertions are about flatness, never time.
 */
const CALLS = Number(process.env.COSINEKIT_SOAK_CALLS) || 5_000;
/** JS heap growth allowed between start and end (after gc): caches and JIT code, not leaks. */
const HEAP_ALLOWANCE = 8 * 2 ** 20;

const gc = (globalThis as { gc?: () => void }).gc;

interface Sample {
  calls: number;
  heap: number;
  external: number;
  backend: BackendMemory;
  wasmBytes: number;
}

async function sample(calls: number, backend: Backend): Promise<Sample> {
  // Let pending finalisers and microtasks run, then collect (twice: weak references need a second pass).
  await new Promise((r) => setTimeout(r, 10));
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  const d = backend.describe?.() ?? {};
  return {
    calls,
    heap: m.heapUsed,
    external: m.external + m.arrayBuffers,
    backend: backend.memory?.() ?? { residentHandles: 0 },
    wasmBytes: typeof d.wasmMemoryBytes === 'number' ? d.wasmMemoryBytes : 0,
  };
}

const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
function show(s: Sample): string {
  const b = s.backend;
  const parts = [`heap ${mib(s.heap)}`, `external ${mib(s.external)}`, `handles ${b.residentHandles}`];
  if (b.objects !== undefined) parts.push(`objects ${b.objects}`);
  if (b.bytes !== undefined) parts.push(`backend bytes ${b.bytes}`);
  if (s.wasmBytes) parts.push(`wasm memory ${mib(s.wasmBytes)}`);
  return `${s.calls} calls: ${parts.join(', ')}`;
}

const D = 32;
const toRows = (data: Float32Array, n: number) => new Tensor(data, n, D);
const CORPUS = toRows(rows(200, D, 3), 200);
const EXTRA = toRows(rows(8, D, 5), 8);
const QUERIES = toRows(rows(4, D, 9), 4);
const WIDE = toRows(rows(16, D, 13), 16);
const W = toRows(rows(D, D, 17), D);
const BIAS = rows(1, D, 19);
const EXTRA_IDS = Array.from({ length: 8 }, (_, j) => `e${j}`);

/** One mixed call, chosen by `i`; returns something small to compare across runs. */
interface State {
  corpus: Corpus;
  /** A corpus with ids that only the add/remove op touches. */
  scratch: Corpus;
  added: number;
}
type Op = (kit: CosineKit, k: Kernels, state: State) => Promise<number>;
const first = (x: ArrayLike<number>) => x[0] + x[x.length - 1];
const OPS: [string, Op][] = [
  ['cosineMatrix', async (kit) => first((await kit.cosineMatrix(QUERIES, WIDE)).data)],
  ['cosineRows', async (kit) => first(await kit.cosineRows(WIDE, WIDE))],
  ['topK', async (kit) => first((await kit.topK(QUERIES, CORPUS, 5)).scores)],
  ['corpus.search', async (_, __, s) => first((await s.corpus.search(QUERIES, 10)).scores)],
  ['corpus.similarity', async (_, __, s) => first((await s.corpus.similarity(QUERIES)).data)],
  ['rowNorms', async (kit) => first(await kit.rowNorms(WIDE))],
  ['normalize', async (kit) => first((await kit.normalize(QUERIES)).data)],
  [
    'matmul + addBias + activation',
    async (_, k) => {
      const h = await k.matmul(WIDE, W, false, false);
      const b = await k.addBias({ data: h, rows: 16, cols: D }, BIAS);
      const a = await k.activation('gelu', { data: b, rows: 16, cols: D });
      return first(
        await k.activationGrad('gelu', { data: b, rows: 16, cols: D }, { data: a, rows: 16, cols: D }),
      );
    },
  ],
  [
    'corpus create/search/dispose',
    async (kit) => {
      const c = await kit.corpus(EXTRA);
      try {
        return first((await c.search(QUERIES, 3)).scores);
      } finally {
        c.dispose();
      }
    },
  ],
  [
    'corpus add/remove (compaction)',
    async (_, __, s) => {
      // On its own corpus, so the other ops' answers do not depend on where this one interleaves.
      const ids = Array.from({ length: 8 }, (_, j) => `x${s.added}-${j}`);
      s.added++;
      await s.scratch.add(EXTRA, ids);
      // Removing every row just added: the segment empties and is compacted away.
      await s.scratch.remove(ids);
      return s.scratch.rows;
    },
  ],
  [
    'save/loadCorpus',
    async (kit, _, s) => {
      const c = await kit.loadCorpus(await s.corpus.save());
      try {
        return c.rows;
      } finally {
        c.dispose();
      }
    },
  ],
];

/** Runs `n` mixed calls; `seen` records each op's answer the first time and checks later ones. */
async function mixed(
  kit: CosineKit,
  k: Kernels,
  state: State,
  from: number,
  n: number,
  seen: Map<string, number>,
): Promise<void> {
  for (let i = from; i < from + n; i++) {
    const [name, op] = OPS[i % OPS.length];
    const v = await op(kit, k, state);
    const was = seen.get(name);
    if (was === undefined) seen.set(name, v);
    else if (!Object.is(was, v)) {
      expect.fail(`call ${i} (${name}) answered ${v}, earlier ${was}`);
    }
  }
}

const report: string[] = [];
afterAll(() => {
  if (report.length > 0)
    console.log(`[reliability] soak figures (gc ${gc ? 'exposed' : 'not exposed'})\n${report.join('\n')}`);
});

for (const b of BACKENDS) {
  // Whole cycles: the add/remove op's corpus grows a segment per call and merges them every
  // MAX_SEGMENTS (8) calls, so its resident handles are only comparable at the same phase.
  const cycle = OPS.length * 8;
  const calls = Math.max(2, Math.ceil((CALLS * b.soakShare) / cycle / 2) * 2) * cycle;
  describe.skipIf(b.skip !== null)(`soak: ${b.label}`, () => {
    it(`${calls} mixed calls: memory flat (resident handles, engine objects, backend bytes, JS heap)`, async () => {
      const backend = b.create();
      const kit = createCosineKit({ backend });
      const kernels = await kit.kernels();
      const state: State = {
        corpus: await kit.corpus(CORPUS),
        scratch: await kit.corpus(EXTRA, { ids: EXTRA_IDS }),
        added: 0,
      };
      const seen = new Map<string, number>();
      // Warm-up: one round of every op, so caches, compiled programs and pools exist before the start sample.
      await mixed(kit, kernels, state, 0, cycle, seen);
      const t0 = performance.now();
      const start = await sample(0, backend);
      const half = calls / 2;
      await mixed(kit, kernels, state, 0, half, seen);
      const middle = await sample(half, backend);
      await mixed(kit, kernels, state, half, calls - half, seen);
      const end = await sample(calls, backend);
      const seconds = (performance.now() - t0) / 1000;
      report.push(
        `${b.label}: ${calls} calls in ${seconds.toFixed(1)} s\n  start  ${show(start)}\n  middle ${show(middle)}\n  end    ${show(end)}`,
      );
      expect(end.backend.residentHandles).toBe(start.backend.residentHandles);
      expect(end.backend.objects).toBe(start.backend.objects);
      expect(end.backend.bytes).toBe(start.backend.bytes);
      expect(end.wasmBytes).toBe(middle.wasmBytes);
      expect(end.heap - start.heap, `JS heap grew ${mib(end.heap - start.heap)}`).toBeLessThan(
        gc ? HEAP_ALLOWANCE : 4 * HEAP_ALLOWANCE,
      );
      state.corpus.dispose();
      state.scratch.dispose();
      kit.dispose();
      await backend.dispose?.();
    }, 600_000);

    it('concurrent callers get the same answers as sequential calls', async () => {
      const backend = b.create();
      const kit = createCosineKit({ backend });
      const kernels = await kit.kernels();
      const state: State = {
        corpus: await kit.corpus(CORPUS),
        scratch: await kit.corpus(EXTRA, { ids: EXTRA_IDS }),
        added: 0,
      };
      const work = Array.from({ length: 40 }, (_, i) => OPS[i % OPS.length]);
      const sequential: number[] = [];
      for (const [, op] of work) sequential.push(await op(kit, kernels, state));
      // 40 callers at once, each starting on a different op, all in flight together.
      const concurrent = await Promise.all(work.map(([, op]) => op(kit, kernels, state)));
      for (let i = 0; i < work.length; i++) {
        if (work[i][0] === 'corpus add/remove (compaction)') continue;
        expect(concurrent[i], `${work[i][0]} (caller ${i})`).toBe(sequential[i]);
      }
      expect(state.corpus.rows).toBe(200);
      state.corpus.dispose();
      state.scratch.dispose();
      kit.dispose();
      await backend.dispose?.();
    });
  });
}

describe('soak: ids under churn', () => {
  // Found by this suite: the corpus once kept the id of every row ever added (+5 MiB per 20,000
  // add/remove rounds of 8 rows). Removed rows now drop their ids.
  it('a corpus with ids under add/remove churn keeps its JS heap bounded', async () => {
    const kit = createCosineKit({ backend: createReferenceBackend() });
    const rows8 = Array.from({ length: 8 }, (_, i) => [i + 1, 2, 3, 4]);
    const c = await kit.corpus(rows8, { ids: rows8.map((_, j) => `e${j}`) });
    const heap = () => {
      gc?.();
      gc?.();
      return process.memoryUsage().heapUsed;
    };
    const churn = async (rounds: number, tag: string) => {
      for (let n = 0; n < rounds; n++) {
        const ids = rows8.map((_, j) => `${tag}${n}-${j}`);
        await c.add(rows8, ids);
        await c.remove(ids);
      }
    };
    // Warm-up first: compiled code and inline caches of the first rounds are not growth.
    await churn(500, 'w');
    const h0 = heap();
    await churn(5_000, 'x');
    const grown = heap() - h0;
    c.dispose();
    expect(c.rows).toBe(8);
    // 40,000 ids added and removed: a bounded corpus keeps well under 8 bytes for each.
    expect(grown, `JS heap grew ${mib(grown)}`).toBeLessThan(40_000 * 8);
  });
});
