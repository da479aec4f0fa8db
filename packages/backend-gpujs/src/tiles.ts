import type { DeviceValue, Engine, KernelRun } from './engine.js';
import { rowsOf } from './engine.js';

/**
 * Runs a kernel whose output is a `rows x cols` matrix in tiles no side of which exceeds the
 * texture limit (gpu.js does not tile by itself), copying each tile into `out`. The kernel's last
 * two arguments are the tile's first row and column.
 */
export function runTiled(
  engine: Engine,
  key: string,
  k: KernelRun,
  rows: number,
  cols: number,
  out: Float32Array,
  ...args: unknown[]
): Float32Array {
  const side = engine.maxTextureSize;
  for (let r0 = 0; r0 < rows; r0 += side) {
    const th = Math.min(side, rows - r0);
    for (let c0 = 0; c0 < cols; c0 += side) {
      const tw = Math.min(side, cols - c0);
      const v: DeviceValue = engine.run(key, k, [tw, th], ...args, r0, c0);
      const tile = rowsOf(v);
      for (let y = 0; y < th; y++) out.set(tile[y].subarray(0, tw), (r0 + y) * cols + c0);
    }
  }
  return out;
}
