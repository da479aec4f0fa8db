import type { Matrix } from '@cosinekit/core/backend';
import type { Engine } from '../engine.js';
import { type DeviceRows, releaseRows, toDeviceRows } from '../rows.js';
import { forEachScoreTile } from '../scores.js';

/** `cosineMatrix`: both sides normalised on the device once, then tiles of dot products. */
export function cosineMatrix(
  engine: Engine,
  a: Matrix,
  b: Matrix,
  out: Float32Array = new Float32Array(a.rows * b.rows),
): Float32Array {
  const an = toDeviceRows(engine, a);
  try {
    const bn = toDeviceRows(engine, b);
    try {
      return writeMatrix(engine, an, bn, out);
    } finally {
      releaseRows(engine, bn);
    }
  } finally {
    releaseRows(engine, an);
  }
}

/** `out[i * c.rows + j] = cos(q_i, c_j)` over normalised device rows, tile by tile. */
export function writeMatrix(engine: Engine, q: DeviceRows, c: DeviceRows, out: Float32Array): Float32Array {
  const n = c.rows;
  forEachScoreTile(engine, q, c, (tile, q0, c0, rows, cols) => {
    for (let y = 0; y < rows; y++) out.set(tile[y].subarray(0, cols), (q0 + y) * n + c0);
  });
  return out;
}
