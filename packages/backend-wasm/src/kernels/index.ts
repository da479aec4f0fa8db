import {
  type Activation,
  argError,
  type CorpusOptions,
  type CorpusStorage,
  type Kernels,
  type Matrix,
  type OptimizerKind,
  type OptimizerRule,
  type OptimizerState,
  type ResidentCorpus,
  type SoftmaxCrossEntropy,
  type StoredCorpus,
  type TopKResult,
} from '@cosinekit/core/backend';
import { corpusSearchAllowed } from '../filtered.js';
import type { WasmRuntime } from '../runtime.js';
import { residentBytes, type Shards } from '../shards.js';
import { activation, activationGrad } from './activation.js';
import { addBias } from './add-bias.js';
import { columnSums } from './column-sums.js';
import {
  corpusMatrix,
  corpusSearch,
  createCorpus,
  exportCorpus,
  importCorpus,
  mergeCorpora,
  readCorpus,
  type WasmCorpus,
} from './corpus.js';
import { cosineMatrix } from './cosine-matrix.js';
import { cosineRows } from './cosine-rows.js';
import { matmul } from './matmul.js';
import { normalizeRows } from './normalize-rows.js';
import { createOptimizerState, optimizerStep, type WasmOptimizerState } from './optimizer.js';
import { rowNorms } from './row-norms.js';
import { softmaxCrossEntropy } from './softmax.js';
import { topK } from './top-k.js';

/** The contract's kernels, all synchronous once the backend is initialised. */
export interface WasmKernels extends Kernels {
  rowNorms(x: Matrix, out?: Float32Array): Float32Array;
  normalizeRows(x: Matrix, out?: Float32Array): Float32Array;
  cosineRows(a: Matrix, b: Matrix, out?: Float32Array): Float32Array;
  cosineMatrix(a: Matrix, b: Matrix, out?: Float32Array): Float32Array;
  topK(queries: Matrix, corpus: Matrix, k: number): TopKResult;
  createCorpus(x: Matrix, options?: CorpusOptions): WasmCorpus;
  corpusSearch(corpus: ResidentCorpus, queries: Matrix, k: number): TopKResult;
  corpusMatrix(corpus: ResidentCorpus, queries: Matrix, out?: Float32Array): Float32Array;
  matmul(a: Matrix, b: Matrix, transA: boolean, transB: boolean, out?: Float32Array): Float32Array;
  addBias(x: Matrix, bias: Float32Array, out?: Float32Array): Float32Array;
  activation(kind: Activation, x: Matrix, out?: Float32Array): Float32Array;
  activationGrad(kind: Activation, x: Matrix, dy: Matrix, out?: Float32Array): Float32Array;
  columnSums(x: Matrix, out?: Float32Array): Float32Array;
  readCorpus(corpus: ResidentCorpus): Float32Array;
  exportCorpus(corpus: ResidentCorpus): StoredCorpus;
  importCorpus(stored: StoredCorpus): WasmCorpus;
  mergeCorpora(corpora: readonly ResidentCorpus[], drop: readonly Uint8Array[]): WasmCorpus;
  corpusSearchAllowed(corpus: ResidentCorpus, queries: Matrix, k: number, allow: Uint8Array): TopKResult;
  createOptimizerState(
    kind: OptimizerKind,
    sizes: readonly number[],
    moments?: readonly Float32Array[],
  ): WasmOptimizerState;
  optimizerStep(
    state: OptimizerState,
    params: readonly Float32Array[],
    grads: readonly Float32Array[],
    rule: OptimizerRule,
  ): void;
  softmaxCrossEntropy(
    logits: Matrix,
    targets: Int32Array,
    scale: number,
    weight: number,
    keep?: Uint8Array,
    out?: SoftmaxCrossEntropy,
  ): SoftmaxCrossEntropy;
}

/**
 * The contract's kernels over whatever runtime `get` returns (it throws when there is none). With
 * `shards`, new corpora are placed over its instances and a corpus's kernels run in its own.
 */
export function kernelsOf(get: (op: string) => WasmRuntime, shards?: () => Shards): WasmKernels {
  const of = (c: ResidentCorpus, op: string): WasmRuntime => {
    const rt = get(op);
    return shards ? shards().of(c) : rt;
  };
  const place = <T extends WasmCorpus>(op: string, bytes: number, make: (rt: WasmRuntime) => T): T => {
    const rt = get(op);
    return shards ? shards().place(bytes, make, op) : make(rt);
  };
  return {
    rowNorms: (x: Matrix, out?: Float32Array) => rowNorms(get('rowNorms'), x, out),
    normalizeRows: (x: Matrix, out?: Float32Array) => normalizeRows(get('normalizeRows'), x, out),
    cosineRows: (a: Matrix, b: Matrix, out?: Float32Array) => cosineRows(get('cosineRows'), a, b, out),
    cosineMatrix: (a: Matrix, b: Matrix, out?: Float32Array) => cosineMatrix(get('cosineMatrix'), a, b, out),
    topK: (q: Matrix, c: Matrix, k: number): TopKResult => topK(get('topK'), q, c, k),
    createCorpus: (x: Matrix, options?: CorpusOptions) =>
      place('createCorpus', bytesOf(get, x.rows, x.cols, options?.storage, options?.rerank), (rt) =>
        createCorpus(rt, x, options),
      ),
    corpusSearch: (c: ResidentCorpus, q: Matrix, k: number) => corpusSearch(of(c, 'corpusSearch'), c, q, k),
    corpusMatrix: (c: ResidentCorpus, q: Matrix, out?: Float32Array) =>
      corpusMatrix(of(c, 'corpusMatrix'), c, q, out),
    matmul: (a: Matrix, b: Matrix, ta: boolean, tb: boolean, out?: Float32Array) =>
      matmul(get('matmul'), a, b, ta, tb, out),
    addBias: (x: Matrix, bias: Float32Array, out?: Float32Array) => addBias(get('addBias'), x, bias, out),
    activation: (kind: Activation, x: Matrix, out?: Float32Array) =>
      activation(get('activation'), kind, x, out),
    activationGrad: (kind: Activation, x: Matrix, dy: Matrix, out?: Float32Array) =>
      activationGrad(get('activationGrad'), kind, x, dy, out),
    columnSums: (x: Matrix, out?: Float32Array) => columnSums(get('columnSums'), x, out),
    readCorpus: (c: ResidentCorpus) => readCorpus(of(c, 'readCorpus'), c),
    exportCorpus: (c: ResidentCorpus) => exportCorpus(of(c, 'exportCorpus'), c),
    importCorpus: (s: StoredCorpus) =>
      place('importCorpus', bytesOf(get, s.rows, s.cols, s.storage, s.rerank), (rt) => importCorpus(rt, s)),
    mergeCorpora: (cs: readonly ResidentCorpus[], drop: readonly Uint8Array[]) => {
      const rt = of(cs[0], 'mergeCorpora');
      // Corpora in different instances (see shards.ts) cannot be copied within one memory: the
      // caller gathers their rows itself, as the contract allows.
      for (let i = 1; i < cs.length; i++)
        if (of(cs[i], 'mergeCorpora') !== rt)
          argError(
            'UNSUPPORTED',
            'mergeCorpora',
            `corpora[${i}]`,
            'is held by another wasm instance than corpora[0].',
          );
      if (!shards) return mergeCorpora(rt, cs, drop);
      const first = cs[0];
      const rows = cs.reduce((n, c) => n + c.rows, 0);
      const rerank = (first as WasmCorpus).rerank;
      const bytes = residentBytes(rows, first.cols, first.storage, rerank, rt.tileCols);
      return shards().within(rt, bytes, (r) => mergeCorpora(r, cs, drop), 'mergeCorpora');
    },
    corpusSearchAllowed: (c: ResidentCorpus, q: Matrix, k: number, allow: Uint8Array) =>
      corpusSearchAllowed(of(c, 'corpusSearchAllowed'), c, q, k, allow),
    createOptimizerState: (
      kind: OptimizerKind,
      sizes: readonly number[],
      moments?: readonly Float32Array[],
    ) => createOptimizerState(get('createOptimizerState'), kind, sizes, moments),
    optimizerStep: (
      s: OptimizerState,
      p: readonly Float32Array[],
      g: readonly Float32Array[],
      r: OptimizerRule,
    ) => optimizerStep(get('optimizerStep'), s, p, g, r),
    softmaxCrossEntropy: (
      x: Matrix,
      t: Int32Array,
      scale: number,
      weight: number,
      keep?: Uint8Array,
      out?: SoftmaxCrossEntropy,
    ) => softmaxCrossEntropy(get('softmaxCrossEntropy'), x, t, scale, weight, keep, out),
  };
}

/** {@link residentBytes} in the primary's layout (every instance runs the same tile). */
function bytesOf(
  get: (op: string) => WasmRuntime,
  rows: number,
  cols: number,
  storage: CorpusStorage | undefined,
  rerank: number | undefined,
): number {
  return residentBytes(rows, cols, storage, rerank, get('createCorpus').tileCols);
}
