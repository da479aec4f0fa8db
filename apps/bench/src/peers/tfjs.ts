import type * as TfCore from '@tensorflow/tfjs-core';
import type { ModuleLoader } from '../backends.js';
import type { Method, Output, Prepared } from '../method.js';
import type { WorkloadKind } from '../types.js';
import type { Dataset } from '../workloads.js';

/** The tfjs-core module. */
export type Tf = typeof TfCore;

/** tfjs engines the bench knows how to load. */
export type TfjsEngine = 'wasm' | 'cpu' | 'webgl' | 'webgpu';

/** How the engine was initialised, for the report. */
export interface LoadedTfjs {
  readonly tf: Tf;
  readonly via: string;
}

/**
 * Loads tfjs-core with `engine` registered and selected. Prefers `initTfjsEngine` from
 * `@cosinekit/backend-tfjs` (same tfjs instance and engine lock as the tfjs backend); without it,
 * imports the engine itself. `tf.setBackend` resolves `false` instead of throwing when an engine
 * fails to start, and tfjs then keeps whatever ran before; both paths throw instead, so a peer
 * never silently runs on another engine.
 */
export async function loadTfjsEngine(
  engine: TfjsEngine,
  load: ModuleLoader,
  wasmPaths?: string | Record<string, string>,
): Promise<LoadedTfjs> {
  const helper = await load('@cosinekit/backend-tfjs').then(
    (m) => m.initTfjsEngine,
    () => undefined,
  );
  if (typeof helper === 'function') {
    const tf = (await helper(engine, wasmPaths !== undefined ? { wasmPaths } : {})) as Tf;
    return { tf, via: '@cosinekit/backend-tfjs initTfjsEngine' };
  }
  const tf = await import('@tensorflow/tfjs-core');
  if (engine === 'cpu') await import('@tensorflow/tfjs-backend-cpu');
  else if (engine === 'webgl') await import('@tensorflow/tfjs-backend-webgl');
  else if (engine === 'webgpu') await import('@tensorflow/tfjs-backend-webgpu');
  else if (engine === 'wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    if (wasmPaths !== undefined) wasm.setWasmPaths(wasmPaths);
  } else throw new Error(`unknown tfjs engine '${engine as string}'`);
  const ok = await tf.setBackend(engine);
  await tf.ready();
  if (!ok || tf.getBackend() !== engine) {
    throw new Error(`tf.setBackend('${engine}') returned ${ok}; tfjs is on '${tf.getBackend()}'`);
  }
  return { tf, via: 'tf.setBackend' };
}

/**
 * tfjs used directly, as a user would, in one of two styles; both keep the corpus resident as a
 * normalised tensor (uploaded once, like the backends' corpora) and normalise the queries per call:
 * - `obvious`: `matMul(q, c, false, true)`, the natural call for "rows against rows";
 * - `fast`: the corpus stored transposed, then `matMul(q, cT)` (on tfjs-wasm only untransposed
 *   operands reach XNNPACK; a transposed B falls to a scalar loop).
 * Rows are normalised with `x * rsqrt(sum(x^2))`: tfjs-wasm's `tf.norm` is about 10x slower and
 * would make the peer look worse than tfjs can do. Results are read back with `data()`, so the
 * timing is end to end.
 */
export function tfjsPeerMethod(
  tf: Tf,
  engine: TfjsEngine,
  style: 'obvious' | 'fast',
  kind: WorkloadKind,
): Method {
  const normalize = (x: TfCore.Tensor2D) =>
    tf.mul(x, tf.rsqrt(tf.sum(tf.square(x), 1, true))) as TfCore.Tensor2D;
  const name = style === 'obvious' ? 'matMul(q, c, false, true)' : 'matMul(q, cT)';
  return {
    name: kind === 'search' ? `${name} + topk` : name,
    prepare(ds: Dataset): Prepared {
      const { q, n, d } = ds.size;
      const k = ds.size.k ?? 1;
      // The engine is a global: make sure another contender did not leave another one active.
      if (tf.getBackend() !== engine) throw new Error(`tfjs is on '${tf.getBackend()}', not '${engine}'`);
      const c =
        engine === 'wasm' || engine === 'cpu'
          ? corpusTensor(tf, ds.corpus, n, d, style === 'fast', normalize)
          : tf.tidy(() => {
              // GPU engines hold tensors in device memory, and reading blocks back synchronously
              // is what they do worst: built in one go, as a user would.
              const cn = normalize(tf.tensor2d(ds.corpus, [n, d]));
              return style === 'fast' ? (tf.transpose(cn) as TfCore.Tensor2D) : cn;
            });
      const scores = (): TfCore.Tensor2D =>
        tf.tidy(() => tf.matMul(normalize(tf.tensor2d(ds.queries, [q, d])), c, false, style === 'obvious'));
      const call = async (): Promise<Output> => {
        const s = scores();
        try {
          if (kind === 'search') {
            const top = tf.topk(s, k);
            try {
              const [indices, values] = await Promise.all([top.indices.data(), top.values.data()]);
              return { indices, scores: values };
            } finally {
              top.indices.dispose();
              top.values.dispose();
            }
          }
          const m = await s.data();
          return kind === 'pair' ? { value: m[0] } : { matrix: m };
        } finally {
          s.dispose();
        }
      };
      return { call, dispose: () => c.dispose() };
    },
  };
}

/** Rows per step when the peers build their corpus tensor: bounds tfjs's temporaries. */
const BUILD_ROWS = 16_384;

/**
 * The peer's resident corpus on a host engine (wasm, cpu), normalised (and transposed for the fast
 * path) by tfjs a block of rows at a time and gathered into one tensor. Done in one `tidy` over the whole corpus, tfjs holds
 * three or four corpus-sized temporaries at once, which at 200,000 x 1536 (1.2 GB each) runs out of
 * tfjs-wasm's memory; this way it holds the result and one block. Setup only: never timed.
 */
function corpusTensor(
  tf: Tf,
  corpus: Float32Array,
  n: number,
  d: number,
  transposed: boolean,
  normalize: (x: TfCore.Tensor2D) => TfCore.Tensor2D,
): TfCore.Tensor2D {
  const out = new Float32Array(n * d);
  for (let r0 = 0; r0 < n; r0 += BUILD_ROWS) {
    const rows = Math.min(BUILD_ROWS, n - r0);
    const block = tf.tidy(() => {
      const x = normalize(tf.tensor2d(corpus.subarray(r0 * d, (r0 + rows) * d), [rows, d]));
      return transposed ? tf.transpose(x) : x;
    });
    const v = block.dataSync() as Float32Array;
    block.dispose();
    if (!transposed) out.set(v, r0 * d);
    else for (let j = 0; j < d; j++) out.set(v.subarray(j * rows, (j + 1) * rows), j * n + r0);
  }
  return tf.tensor2d(out, transposed ? [d, n] : [n, d]);
}
