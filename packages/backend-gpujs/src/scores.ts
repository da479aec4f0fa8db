import { type Engine, isTexture, matrixArg, rowsOf } from './engine.js';
import type { DeviceRows, RowChunk } from './rows.js';

/**
 * One tile of cosines between normalised query rows `q0 + y` and corpus rows `c0 + x`, summed in
 * blocks of 256 products (one float32 chain over a long row of like values drifted: 1.1e-4 at
 * d = 40,000), 64 blocks' sums apart before they join the total (one by one, they drifted past
 * about 200,000 dimensions; rows of fewer than 16,384 sum as before, bit for bit), clamped to [-1, 1] (rounding can push a unit-vector dot product just past either end). The clamp restates
 * core's `clampCos`: this source compiles to a shader, which cannot import it.
 */
const SCORE_TILE = `function (q, c, q0, c0) {
  const i = q0 + this.thread.y;
  const j = c0 + this.thread.x;
  let g = 0.0;
  let s = 0.0;
  let t = 0.0;
  for (let p = 0; p < this.constants.d; p++) {
    t += q[i][p] * c[j][p];
    if (p % 256 == 255) {
      s += t;
      t = 0.0;
      if (p % 16384 == 16383) {
        g += s;
        s = 0.0;
      }
    }
  }
  s += t;
  g += s;
  return Math.min(1.0, Math.max(-1.0, g));
}`;

/**
 * Called once per score tile: `tile[y][x]` is the cosine of query row `q0 + y` and corpus row
 * `c0 + x`. The tile is only valid during the call.
 */
export type TileVisitor = (tile: Float32Array[], q0: number, c0: number, rows: number, cols: number) => void;

/**
 * Streams the cosines of every row of `q` against every row of `c` in tiles of at most
 * `tileSize^2` scores and never beyond the texture limit on a side, one tile in memory at a time.
 * Few queries get wide tiles, so in GL modes a single query meets a whole corpus chunk in one
 * kernel call. In webasm/cpu modes each call copies its rows into the kernel (webasm keeps a
 * memory per tile shape), so a tile's rows are also held to `tileSize^2` floats.
 */
export function forEachScoreTile(engine: Engine, q: DeviceRows, c: DeviceRows, visit: TileVisitor): void {
  const d = q.cols;
  const key = `scores:${d}`;
  const k = engine.kernel(key, () => ({ source: SCORE_TILE, constants: { d }, steps: d }));
  const area = engine.tileSize * engine.tileSize;
  const maxSide = engine.textures ? engine.maxTextureSize : Math.max(1, Math.floor(area / d));
  for (const qc of q.chunks) {
    const side = Math.min(engine.tileSize, qc.rows, maxSide);
    for (let qa = 0; qa < qc.rows; qa += side) {
      const th = Math.min(side, qc.rows - qa);
      const [qArg, qOff] = tileArg(engine, qc, qa, th, d);
      const wide = Math.max(1, Math.min(maxSide, Math.floor(area / side)));
      for (const cc of c.chunks) {
        for (let ca = 0; ca < cc.rows; ca += wide) {
          const tw = Math.min(wide, cc.rows - ca);
          const [cArg, cOff] = tileArg(engine, cc, ca, tw, d);
          const tile = engine.run(key, k, [tw, th], qArg, cArg, qOff, cOff);
          visit(rowsOf(tile), qc.start + qa, cc.start + ca, th, tw);
        }
      }
    }
  }
}

/**
 * The kernel argument for `n` rows of a chunk from row `a`, and the offset to read them at: a
 * texture is passed whole (it is already on the device), an array only the rows needed, so
 * webasm/cpu modes copy just one tile's rows into the kernel.
 */
function tileArg(engine: Engine, chunk: RowChunk, a: number, n: number, d: number): [unknown, number] {
  if (isTexture(chunk.value)) return [chunk.value, a];
  return [matrixArg(engine, chunk.value.subarray(a * d, (a + n) * d), n, d), 0];
}
