import { type Matrix, matmulDims } from '@cosinekit/core/backend';
import { type Engine, matrixArg } from '../engine.js';
import { runTiled } from '../tiles.js';

/**
 * The kernel for one combination of transpose flags: `C[i][j] = sum_p op(A)[i][p] op(B)[p][j]`,
 * summed in blocks of 256 products, each block's sum added to the total.
 */
function source(transA: boolean, transB: boolean): string {
  const av = transA ? 'a[p][i]' : 'a[i][p]';
  const bv = transB ? 'b[j][p]' : 'b[p][j]';
  return `function (a, b, i0, j0) {
  const i = i0 + this.thread.y;
  const j = j0 + this.thread.x;
  let g = 0.0;
  let s = 0.0;
  let t = 0.0;
  for (let p = 0; p < this.constants.k; p++) {
    t += ${av} * ${bv};
    if (p % 256 == 255) {
      s += t;
      t = 0.0;
      if (p % 16384 == 16383) {
        g += s;
        s = 0.0;
      }
    }
  }
  return g + (s + t);
}`;
}

/** `matmul`: `C = op(A) op(B)`, one thread per output, tiled over C; float32 accumulation. */
export function matmul(
  engine: Engine,
  a: Matrix,
  b: Matrix,
  transA: boolean,
  transB: boolean,
  out?: Float32Array,
): Float32Array {
  const { m, k, n } = matmulDims(a, b, transA, transB);
  const key = `matmul:${transA ? 'T' : 'N'}${transB ? 'T' : 'N'}:${k}`;
  const kernel = engine.kernel(key, () => ({ source: source(transA, transB), constants: { k }, steps: k }));
  return runTiled(
    engine,
    key,
    kernel,
    m,
    n,
    out ?? new Float32Array(m * n),
    matrixArg(engine, a.data, a.rows, a.cols),
    matrixArg(engine, b.data, b.rows, b.cols),
  );
}
