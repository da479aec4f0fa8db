import { Tensor } from '@cosinekit/core';
import {
  ACTIVATIONS,
  type BackendMemory,
  createReferenceBackend,
  KERNEL_NAMES,
  type KernelName,
  type Kernels,
  referenceKernels,
} from '@cosinekit/core/backend';
import { check, fail, skip } from '../assert.js';
import { type CaseData, type ConformanceCase, type ConformanceContext, defineCase } from './context.js';

/** The reference keeps corpora in plain arrays; its `memory()` counts them. */
const referenceMemory = createReferenceBackend().memory!;

/**
 * Who counts what `kernel` holds: the backend's `memory()` when it runs the kernel itself, the
 * reference's when the kernel falls back to it. Skips, saying why, when nobody can count.
 */
function meterFor(ctx: ConformanceContext, kernel: CalledKernel): () => BackendMemory {
  const own = isOptional(kernel)
    ? !lacks(ctx, kernel)
    : ctx.providers[kernel as KernelName] === ctx.backend.name;
  if (!own) return referenceMemory;
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

/** Optional kernels whose answers the caller keeps too (checked where the backend has them). */
const OPTIONAL_ANSWERS = ['columnSums', 'softmaxCrossEntropy', 'corpusSearchAllowed'] as const;
/** Optional kernels whose calls are counted for leaks too (where the backend has them). */
const OPTIONAL_COUNTED = [
  ...OPTIONAL_ANSWERS,
  'readCorpus',
  'exportCorpus',
  'importCorpus',
  'mergeCorpora',
  'createOptimizerState',
  'optimizerStep',
] as const;
type CalledKernel = KernelName | (typeof OPTIONAL_COUNTED)[number];

/** True when `kernel` is one the contract leaves optional. */
function isOptional(kernel: CalledKernel): boolean {
  return !(KERNEL_NAMES as readonly string[]).includes(kernel);
}

/** True when `kernel` is optional and the backend does not implement it itself. */
function lacks(ctx: ConformanceContext, kernel: CalledKernel): boolean {
  return isOptional(kernel) && typeof (ctx.backend.kernels as Record<string, unknown>)[kernel] !== 'function';
}

/** Skips the case, saying why, when the backend lacks the optional `kernel`. */
function skipIfLacking(ctx: ConformanceContext, kernel: CalledKernel): void {
  if (lacks(ctx, kernel))
    skip(`backend '${ctx.backend.name}' has no ${kernel} kernel (the reference's runs in its place)`);
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
  kernel: CalledKernel,
  kernels: Kernels,
  data: CaseData,
  corpora: (x: Tensor) => Promise<void>,
): Call[] {
  const small = { a: data.matrix(5, 17), b: data.matrix(9, 17) };
  const large = { a: data.matrix(33, 129), b: data.matrix(517, 129) };
  // Rows past 256 values, where an engine may take another path (a leak only at d >= 256 passed).
  const wide = { a: data.matrix(3, 301), b: data.matrix(70, 301) };
  const calls: Call[] = [];
  for (const [size, { a, b }] of [
    ['5x17 · 9x17', small],
    ['33x129 · 517x129', large],
    ['3x301 · 70x301', wide],
  ] as const) {
    const at = (what: string, run: () => unknown): Call => ({
      label: `${what} [${size}]`,
      counted: true,
      run: async () => await run(),
    });
    switch (kernel) {
      // Each with and without `out` (a leak only on the out path passed: 1.6 MB per 100 calls).
      case 'rowNorms':
        calls.push(at('rowNorms', () => kernels.rowNorms(b)));
        calls.push(at('rowNorms into out', () => kernels.rowNorms(b, new Float32Array(b.rows))));
        break;
      case 'normalizeRows':
        calls.push(at('normalizeRows', () => kernels.normalizeRows(b)));
        calls.push(
          at('normalizeRows into out', () => kernels.normalizeRows(b, new Float32Array(b.data.length))),
        );
        break;
      case 'cosineRows':
        calls.push(at('cosineRows', () => kernels.cosineRows(a, a)));
        calls.push(at('cosineRows into out', () => kernels.cosineRows(a, a, new Float32Array(a.rows))));
        break;
      case 'cosineMatrix':
        calls.push(at('cosineMatrix', () => kernels.cosineMatrix(a, b)));
        calls.push(
          at('cosineMatrix into out', () => kernels.cosineMatrix(a, b, new Float32Array(a.rows * b.rows))),
        );
        break;
      case 'topK':
        calls.push(at('topK k=1', () => kernels.topK(a, b, 1)));
        calls.push(at('topK k=N', () => kernels.topK(a, b, b.rows)));
        break;
      case 'createCorpus':
        // A corpus made and disposed: the handle count goes up by one and back.
        calls.push(at('createCorpus + dispose', () => corpora(b)));
        break;
      case 'columnSums':
        calls.push(at('columnSums', () => kernels.columnSums!(b)));
        break;
      case 'readCorpus':
      case 'exportCorpus':
      case 'importCorpus':
      case 'mergeCorpora': {
        // Corpora made before and disposed after the counted call; a corpus the call makes is
        // disposed within it, so what it holds must come back (resident handles included).
        let h: Awaited<ReturnType<Kernels['createCorpus']>> | undefined;
        let h2: Awaited<ReturnType<Kernels['createCorpus']>> | undefined;
        let stored: Awaited<ReturnType<NonNullable<Kernels['exportCorpus']>>> | undefined;
        calls.push({
          label: `createCorpus [${size}]`,
          counted: false,
          run: async () => {
            h = await kernels.createCorpus(b);
            if (kernel === 'mergeCorpora') h2 = await kernels.createCorpus(a);
            if (kernel === 'importCorpus') {
              // The reference's stored form (a backend may import without exporting).
              const own = await referenceKernels.createCorpus(b);
              stored = await referenceKernels.exportCorpus!(own);
              own.dispose();
            }
          },
        });
        calls.push(
          at(kernel, async () => {
            if (kernel === 'readCorpus') return kernels.readCorpus!(h!);
            if (kernel === 'exportCorpus') return kernels.exportCorpus!(h!);
            const made =
              kernel === 'importCorpus'
                ? await kernels.importCorpus!(stored!)
                : await kernels.mergeCorpora!(
                    [h!, h2!],
                    [
                      Uint8Array.from({ length: b.rows }, (_, i) => (i === 0 ? 1 : 0)),
                      new Uint8Array(a.rows),
                    ],
                  );
            made.dispose();
            return undefined;
          }),
        );
        calls.push({
          label: `dispose [${size}]`,
          counted: false,
          run: async () => {
            h?.dispose();
            h2?.dispose();
          },
        });
        break;
      }
      case 'createOptimizerState':
        calls.push(
          at('createOptimizerState + dispose', async () => {
            const st = await kernels.createOptimizerState!('adam', [b.data.length, 3]);
            st.dispose();
          }),
        );
        break;
      case 'optimizerStep': {
        let st: Awaited<ReturnType<NonNullable<Kernels['createOptimizerState']>>> | undefined;
        const params = [b.data.slice(), a.data.slice(0, 3)];
        const grads = [
          a.data.length >= b.data.length ? a.data.slice(0, b.data.length) : b.data.slice(),
          b.data.slice(0, 3),
        ];
        calls.push({
          label: `createOptimizerState [${size}]`,
          counted: false,
          run: async () => {
            st = await kernels.createOptimizerState!('adam', [params[0]!.length, 3]);
          },
        });
        calls.push(
          at('optimizerStep', () =>
            kernels.optimizerStep!(st!, params, grads, {
              kind: 'adam',
              learningRate: 1e-3,
              beta1: 0.9,
              beta2: 0.999,
              epsilon: 1e-8,
              weightDecay: 0,
              step: 1,
            }),
          ),
        );
        calls.push({ label: `dispose state [${size}]`, counted: false, run: async () => st?.dispose() });
        break;
      }
      case 'softmaxCrossEntropy': {
        const targets = Int32Array.from({ length: b.rows }, (_, i) => (i * 7) % b.cols);
        calls.push(at('softmaxCrossEntropy', () => kernels.softmaxCrossEntropy!(b, targets, 5, 1)));
        break;
      }
      case 'corpusSearch':
      case 'corpusMatrix':
      case 'corpusSearchAllowed': {
        // The corpus is made before and disposed after the counted call, outside the count.
        let h: Awaited<ReturnType<Kernels['createCorpus']>> | undefined;
        calls.push({
          label: `createCorpus [${size}]`,
          counted: false,
          run: async () => {
            h = await kernels.createCorpus(b);
          },
        });
        // Every third row allowed (at least 7 of 9).
        const allow = Uint8Array.from({ length: b.rows }, (_, i) => (i % 3 === 2 ? 0 : 1));
        calls.push(
          at(kernel, () =>
            kernel === 'corpusSearch'
              ? kernels.corpusSearch(h!, a, 7)
              : kernel === 'corpusMatrix'
                ? kernels.corpusMatrix(h!, a)
                : kernels.corpusSearchAllowed!(h!, a, 5, allow),
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

/**
 * The typed arrays of a kernel's answer: itself, a top-k result's indices and scores, or a
 * softmax cross-entropy's gradient and losses.
 */
function arraysOf(r: unknown): (Float32Array | Int32Array)[] {
  if (r instanceof Float32Array) return [r];
  const t = r as { indices?: unknown; scores?: unknown; grad?: unknown; losses?: unknown } | undefined;
  return [t?.indices, t?.scores, t?.grad, t?.losses].filter(
    (a): a is Float32Array | Int32Array => a instanceof Float32Array || a instanceof Int32Array,
  );
}

/** Leaks: live resources counted around every kernel call, and resident corpora released. */
export function resourceCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  for (const kernel of [...KERNEL_NAMES, ...OPTIONAL_COUNTED] as CalledKernel[]) {
    const optional = isOptional(kernel);
    cases.push(
      defineCase(
        'resources',
        `${kernel}: live engine objects and bytes counted around each call come back to where they were`,
        optional ? undefined : (kernel as KernelName),
        async (ctx, data) => {
          skipIfLacking(ctx, kernel);
          const meter = meterFor(ctx, kernel);
          const probe = meter();
          // Resident handles alone still prove the kernels that make corpora release them.
          const makes = kernel === 'createCorpus' || kernel === 'importCorpus' || kernel === 'mergeCorpora';
          if (probe.objects === undefined && probe.bytes === undefined && !makes) {
            skip(
              meterFor(ctx, kernel) !== referenceMemory
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
  const answering: CalledKernel[] = [
    ...KERNEL_NAMES.filter((k) => k !== 'createCorpus'),
    ...OPTIONAL_ANSWERS,
  ];
  for (const kernel of answering) {
    const optional = isOptional(kernel);
    cases.push(
      defineCase(
        'answers',
        `${kernel}: each answer is a new array, shared with no input and no other answer (the caller keeps it), and answers for its own inputs`,
        optional ? undefined : (kernel as KernelName),
        async (ctx, data) => {
          skipIfLacking(ctx, kernel);
          // Three calls on inputs of the same shapes and other values: a backend answering in a
          // buffer it reuses (a staging area, a pool, two buffers in turn) changes what its caller
          // already holds; one keeping an answer per shape gives the second call the first's values.
          const inputs: Float32Array[] = [];
          const drawn: Tensor[][] = [[], [], []];
          const recorded = (into: Tensor[]) =>
            ({
              matrix: (rows: number, cols: number) => {
                const t = data.matrix(rows, cols);
                inputs.push(t.data);
                into.push(t);
                return t;
              },
            }) as CaseData;
          const none = async () => undefined;
          const runs = drawn.map((into) => callsOf(kernel, ctx.kernels, recorded(into), none));
          // The reference on the second call's inputs: what that call must answer.
          let next = 0;
          const replay = { matrix: () => drawn[1]![next++]! } as unknown as CaseData;
          const reference = callsOf(kernel, referenceKernels, replay, none);
          for (let i = 0; i < runs[0]!.length; i++) {
            const c = runs[0]![i]!;
            if (!c.counted) {
              for (const r of [...runs, reference]) await r[i]!.run();
              continue;
            }
            const one = arraysOf(await c.run());
            const kept = one.map((a) => a.slice());
            const two = arraysOf(await runs[1]![i]!.run());
            const want = arraysOf(await reference[i]!.run());
            const three = arraysOf(await runs[2]![i]!.run());
            for (const [j, a] of one.entries()) {
              check(
                !inputs.some((x) => x.buffer === a.buffer),
                `${c.label}: the answer lies on the buffer of an input`,
              );
              check(
                !two.some((b) => b.buffer === a.buffer) && !three.some((b) => b.buffer === a.buffer),
                `${c.label}: two calls answered on one buffer (the first answer is changed by a later call)`,
              );
              check(
                a.every((v, k) => Object.is(v, kept[j]![k])),
                `${c.label}: the first answer changed when the kernel was called again`,
              );
            }
            check(
              !two.some((a) => three.some((b) => b.buffer === a.buffer)),
              `${c.label}: the second and third calls answered on one buffer`,
            );
            // Values, not bits: the reference sums in its own order. A stale answer is far off.
            two.forEach((a, j) => {
              const w = want[j];
              if (!(a instanceof Float32Array) || !(w instanceof Float32Array)) return;
              for (let k = 0; k < a.length; k++)
                if (!(Math.abs(a[k]! - w[k]!) <= 1e-3 * Math.max(1, Math.abs(w[k]!))))
                  fail(
                    `${c.label}: the second call (other values, same shapes) answered ${a[k]} at ${k} where its inputs give ${w[k]} (an answer kept from an earlier call?)`,
                  );
            });
          }
        },
      ),
    );
  }
  for (const kernel of answering) {
    const optional = isOptional(kernel);
    cases.push(
      defineCase(
        'views',
        `${kernel}: inputs that are views into larger buffers, at an offset of one float, answer as the same values in arrays of their own`,
        optional ? undefined : (kernel as KernelName),
        async (ctx, data) => {
          skipIfLacking(ctx, kernel);
          // The public API hands kernels such views (a corpus's queries cut into chunks, a caller's
          // subarray): a kernel that read from the start of the buffer, or past the view's end
          // (NaN there), passed every case whose arrays were their own.
          const drawn: Tensor[] = [];
          const plainData = {
            matrix: (rows: number, cols: number) => {
              const t = data.matrix(rows, cols);
              drawn.push(t);
              return t;
            },
          } as CaseData;
          let next = 0;
          const viewData = {
            matrix: () => {
              const t = drawn[next++]!;
              const buffer = new Float32Array(t.data.length + 2).fill(Number.NaN);
              buffer.set(t.data, 1);
              return new Tensor(buffer.subarray(1, 1 + t.data.length), t.rows, t.cols);
            },
          } as unknown as CaseData;
          const none = async () => undefined;
          const plain = callsOf(kernel, ctx.kernels, plainData, none);
          const views = callsOf(kernel, ctx.kernels, viewData, none);
          for (let i = 0; i < plain.length; i++) {
            const c = plain[i]!;
            if (!c.counted) {
              await c.run();
              await views[i]!.run();
              continue;
            }
            const want = arraysOf(await c.run());
            const got = arraysOf(await views[i]!.run());
            want.forEach((w, j) => {
              const g = got[j]!;
              check(
                g.length === w.length,
                `${c.label} on views: answered ${g.length} values, not ${w.length}`,
              );
              for (let k = 0; k < w.length; k++)
                if (!(Math.abs(g[k]! - w[k]!) <= 1e-5 * Math.max(1, Math.abs(w[k]!))))
                  fail(
                    `${c.label} on views: answered ${g[k]} at ${k} where the same values in arrays of their own give ${w[k]} (the view's offset ignored, or values past its end read?)`,
                  );
            });
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
