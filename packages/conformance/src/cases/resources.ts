import type { Tensor } from '@cosinekit/core';
import {
  ACTIVATIONS,
  type BackendMemory,
  createReferenceBackend,
  KERNEL_NAMES,
  type KernelName,
  type Kernels,
} from '@cosinekit/core/backend';
import { check, skip } from '../assert.js';
import { type CaseData, type ConformanceCase, type ConformanceContext, defineCase } from './context.js';

/** The reference keeps corpora in plain arrays; its `memory()` counts them. */
const referenceMemory = createReferenceBackend().memory!;

/**
 * Who counts what `kernel` holds: the backend's `memory()` when it runs the kernel itself, the
 * reference's when the kernel falls back to it. Skips, saying why, when nobody can count.
 */
function meterFor(ctx: ConformanceContext, kernel: KernelName): () => BackendMemory {
  if (ctx.providers[kernel] !== ctx.backend.name) return referenceMemory;
  const memory = ctx.backend.memory;
  if (!memory) {
    skip(
      `backend '${ctx.backend.name}' has no memory(), so its leaks cannot be counted; ` +
        'implement memory() to have them checked',
    );
  }
  return () => memory.call(ctx.backend);
}

/** `engine objects 12 -> 13, bytes 400 -> 528`, or '' when nothing moved. */
function moved(before: BackendMemory, after: BackendMemory): string {
  const out: string[] = [];
  if (after.residentHandles !== before.residentHandles)
    out.push(`resident handles ${before.residentHandles} -> ${after.residentHandles}`);
  if (after.objects !== before.objects) out.push(`engine objects ${before.objects} -> ${after.objects}`);
  if (after.bytes !== before.bytes) out.push(`bytes ${before.bytes} -> ${after.bytes}`);
  return out.join(', ');
}

interface Call {
  readonly label: string;
  /** False for the set-up around a counted call (a corpus made for it, then disposed). */
  readonly counted: boolean;
  readonly run: () => Promise<unknown>;
}

/**
 * Calls of `kernel` on a small shape and on one that crosses tiles and work-splitting thresholds,
 * so that a leak on any code path (a tile's scratch, a merged selection) shows.
 */
function callsOf(
  kernel: KernelName,
  kernels: Kernels,
  data: CaseData,
  corpora: (x: Tensor) => Promise<void>,
): Call[] {
  const small = { a: data.matrix(5, 17), b: data.matrix(9, 17) };
  const large = { a: data.matrix(33, 129), b: data.matrix(517, 129) };
  const calls: Call[] = [];
  for (const [size, { a, b }] of [
    ['5x17 · 9x17', small],
    ['33x129 · 517x129', large],
  ] as const) {
    const at = (what: string, run: () => unknown): Call => ({
      label: `${what} [${size}]`,
      counted: true,
      run: async () => await run(),
    });
    switch (kernel) {
      case 'rowNorms':
        calls.push(at('rowNorms', () => kernels.rowNorms(b)));
        break;
      case 'normalizeRows':
        calls.push(at('normalizeRows', () => kernels.normalizeRows(b)));
        break;
      case 'cosineRows':
        calls.push(at('cosineRows', () => kernels.cosineRows(a, a)));
        break;
      case 'cosineMatrix':
        calls.push(at('cosineMatrix', () => kernels.cosineMatrix(a, b)));
        break;
      case 'topK':
        calls.push(at('topK k=1', () => kernels.topK(a, b, 1)));
        calls.push(at('topK k=N', () => kernels.topK(a, b, b.rows)));
        break;
      case 'createCorpus':
        // A corpus made and disposed: the handle count goes up by one and back.
        calls.push(at('createCorpus + dispose', () => corpora(b)));
        break;
      case 'corpusSearch':
      case 'corpusMatrix': {
        // The corpus is made before and disposed after the counted call, outside the count.
        let h: Awaited<ReturnType<Kernels['createCorpus']>> | undefined;
        calls.push({
          label: `createCorpus [${size}]`,
          counted: false,
          run: async () => {
            h = await kernels.createCorpus(b);
          },
        });
        calls.push(
          at(kernel, () =>
            kernel === 'corpusSearch' ? kernels.corpusSearch(h!, a, 7) : kernels.corpusMatrix(h!, a),
          ),
        );
        calls.push({ label: `dispose [${size}]`, counted: false, run: async () => h?.dispose() });
        break;
      }
      case 'matmul':
        calls.push(at('matmul', () => kernels.matmul(a, b, false, true)));
        calls.push(at('matmul transposed A', () => kernels.matmul(b, b, true, false)));
        break;
      case 'addBias':
        calls.push(at('addBias', () => kernels.addBias(b, a.data.subarray(0, b.cols))));
        break;
      case 'activation':
        for (const kind of ACTIVATIONS)
          calls.push(at(`activation(${kind})`, () => kernels.activation(kind, b)));
        break;
      case 'activationGrad':
        for (const kind of ACTIVATIONS)
          calls.push(at(`activationGrad(${kind})`, () => kernels.activationGrad(kind, b, b)));
        break;
    }
  }
  return calls;
}

/** The typed arrays of a kernel's answer: itself, or a top-k result's indices and scores. */
function arraysOf(r: unknown): (Float32Array | Int32Array)[] {
  if (r instanceof Float32Array) return [r];
  const t = r as { indices?: unknown; scores?: unknown } | undefined;
  return [t?.indices, t?.scores].filter(
    (a): a is Float32Array | Int32Array => a instanceof Float32Array || a instanceof Int32Array,
  );
}

/** Leaks: live resources counted around every kernel call, and resident corpora released. */
export function resourceCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  for (const kernel of KERNEL_NAMES) {
    cases.push(
      defineCase(
        'resources',
        `${kernel}: live engine objects and bytes counted around each call come back to where they were`,
        kernel,
        async (ctx, data) => {
          const meter = meterFor(ctx, kernel);
          const probe = meter();
          // Resident handles alone still prove createCorpus releases what it makes.
          if (probe.objects === undefined && probe.bytes === undefined && kernel !== 'createCorpus') {
            skip(
              ctx.providers[kernel] === ctx.backend.name
                ? `memory() of '${ctx.backend.name}' reports neither engine objects nor bytes`
                : 'the kernel runs on the reference fallback, which holds no engine objects or bytes',
            );
          }
          const corpora = async (x: Tensor) => {
            const before = meter();
            const h = await ctx.kernels.createCorpus(x);
            const live = meter();
            check(
              live.residentHandles === before.residentHandles + 1,
              `createCorpus: resident handles ${before.residentHandles} -> ${live.residentHandles}, expected one more`,
            );
            h.dispose();
          };
          const calls = callsOf(kernel, ctx.kernels, data, corpora);
          // First calls may compile programs and fill pools that later calls reuse.
          for (const c of calls) await c.run();
          for (const c of calls) {
            if (!c.counted) {
              await c.run();
              continue;
            }
            const before = meter();
            await c.run();
            const change = moved(before, meter());
            check(change === '', `${c.label}: ${change}: the call leaks`);
          }
        },
      ),
    );
  }
  for (const kernel of KERNEL_NAMES) {
    if (kernel === 'createCorpus') continue;
    cases.push(
      defineCase(
        'answers',
        `${kernel}: each answer is a new array, shared with no input and no other answer (the caller keeps it)`,
        kernel,
        async (ctx, data) => {
          // Twice per call, on inputs of the same shapes and other values: a backend answering in a
          // buffer it reuses (a staging area, a pool) changes what its caller already holds.
          const inputs: Float32Array[] = [];
          const recorded = {
            matrix: (rows: number, cols: number) => {
              const t = data.matrix(rows, cols);
              inputs.push(t.data);
              return t;
            },
          } as CaseData;
          const first = callsOf(kernel, ctx.kernels, recorded, async () => undefined);
          const again = callsOf(kernel, ctx.kernels, recorded, async () => undefined);
          for (let i = 0; i < first.length; i++) {
            const c = first[i]!;
            if (!c.counted) {
              await c.run();
              await again[i]!.run();
              continue;
            }
            const one = arraysOf(await c.run());
            const kept = one.map((a) => a.slice());
            const two = arraysOf(await again[i]!.run());
            for (const [j, a] of one.entries()) {
              check(
                !inputs.some((x) => x.buffer === a.buffer),
                `${c.label}: the answer lies on the buffer of an input`,
              );
              check(
                !two.some((b) => b.buffer === a.buffer),
                `${c.label}: two calls answered on one buffer (the first answer is changed by the second call)`,
              );
              check(
                a.every((v, k) => Object.is(v, kept[j]![k])),
                `${c.label}: the first answer changed when the kernel was called again`,
              );
            }
          }
        },
      ),
    );
  }
  cases.push(
    defineCase(
      'resources',
      'corpora created, searched and disposed 50 times leave the resident handles where they started',
      'createCorpus',
      async (ctx, data) => {
        const meter = meterFor(ctx, 'createCorpus');
        const { kernels } = ctx;
        const c = data.matrix(64, 33);
        const q = data.matrix(3, 33);
        const start = meter();
        for (let i = 0; i < 50; i++) {
          const h = await kernels.createCorpus(c);
          check(
            meter().residentHandles === start.residentHandles + 1,
            `createCorpus: memory().residentHandles must count each live corpus once: ${start.residentHandles} before a new one, ${meter().residentHandles} with it (a disposed corpus still counted, or a new one not)`,
          );
          await kernels.corpusSearch(h, q, 5);
          await kernels.corpusMatrix(h, q);
          h.dispose();
          h.dispose(); // idempotent
          check(h.disposed, 'corpus.dispose(): handle does not say it is disposed');
        }
        const change = moved(start, meter());
        check(change === '', `50 corpora created and disposed: ${change}`);
      },
    ),
  );
  cases.push(
    defineCase(
      'resources',
      'the kit: a corpus made, searched and disposed through the public API is released',
      'createCorpus',
      async (ctx, data) => {
        const meter = meterFor(ctx, 'createCorpus');
        const rows = data.matrix(40, 24);
        const q = data.matrix(2, 24);
        // Warm the kit's paths once, then count.
        const warm = await ctx.kit.corpus(rows);
        await warm.search(q, 3);
        await warm.similarity(q);
        warm.dispose();
        const before = meter();
        const corpus = await ctx.kit.corpus(rows);
        check(
          meter().residentHandles === before.residentHandles + 1,
          'kit.corpus(): the new corpus is not counted in memory().residentHandles',
        );
        await corpus.search(q, 3);
        await corpus.similarity(q);
        corpus.dispose();
        const change = moved(before, meter());
        check(change === '', `kit.corpus() then dispose(): ${change}`);
      },
    ),
  );
  return cases;
}
