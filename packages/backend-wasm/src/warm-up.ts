import { ACTIVATIONS, type Matrix } from '@cosinekit/core/backend';
import type { WasmKernels } from './kernels/index.js';
import type { WasmRuntime } from './runtime.js';
import { TILES } from './tuning.js';

/**
 * Runs every kernel a few times on tiny inputs right after instantiation. V8 starts wasm in its
 * baseline tier and a call that is already running never switches to optimised code, so without
 * this the first large call (a whole cosine matrix) would run several times slower.
 */
export function warmUp(rt: WasmRuntime, k: WasmKernels): void {
  const before = rt.heap.used;
  // 9 rows and 7 (padded to 8) columns reach the edge tiles and the scalar tails.
  const a = matrix(9, 7, 1);
  const b = matrix(13, 7, 2);
  const sq = matrix(7, 7, 3);
  for (let rep = 0; rep < 3; rep++) {
    k.rowNorms(a);
    k.normalizeRows(a);
    k.cosineRows(a, a);
    k.cosineMatrix(a, b);
    k.topK(a, b, 3);
    const c = k.createCorpus(b);
    k.corpusSearch(c, a, 2);
    k.corpusMatrix(c, a);
    k.readCorpus(c);
    c.dispose();
    const c8 = k.createCorpus(b, { storage: 'int8', rerank: 2 });
    k.corpusSearch(c8, a, 2);
    k.readCorpus(c8);
    c8.dispose();
    const q8 = k.createCorpus(b, { storage: 'int8', rerank: 0 });
    k.corpusMatrix(q8, a);
    k.readCorpus(q8);
    q8.dispose();
    k.matmul(a, sq, false, false);
    k.matmul(sq, a, false, true);
    k.matmul(sq, sq, true, false);
    k.matmul(sq, sq, true, true);
    k.addBias(a, a.data.subarray(0, 7));
    for (const kind of ACTIVATIONS) {
      k.activation(kind, a);
      k.activationGrad(kind, a, a);
    }
    // Every driver, so a tuning chosen later is warm too, and the single-row path of search.
    // Zeros laid out for the largest tiles: the results do not matter, only that the code runs.
    const p = rt.alloc(16 * 2 * 16, 'warmUp');
    const o = rt.alloc(16 * 16 * 4, 'warmUp');
    rt.f32.fill(0, p >>> 2, (p >>> 2) + 16 * 2 * 4);
    for (let t = 0; t < TILES.length; t++) {
      rt.exports.dotsWith(t, p, 13, p, 13, 2, o, 13 * 4, true, 2, 2, 0, true);
      rt.exports.dotsWith(t, p, 1, p, 13, 2, o, 13 * 4, true, 2, 2, 0, false);
    }
    rt.free(o);
    rt.free(p);
    const v = rt.alloc(64, 'warmUp');
    rt.f32.fill(1, v >>> 2, (v >>> 2) + 16);
    rt.exports.vectorPrepare(v + 16, 8);
    for (let i = 0; i < 100; i++) rt.exports.vectorCosine(v + 16, v + 16, 8);
    rt.free(v);
  }
  if (rt.heap.used !== before) throw new Error('wasm backend: warm-up leaked memory');
}

function matrix(rows: number, cols: number, seed: number): Matrix {
  const data = new Float32Array(rows * cols);
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(seed * 12.9898 + i * 78.233);
  return { data, rows, cols };
}
