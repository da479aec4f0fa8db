import type { Matrix } from '@cosinekit/core/backend';
import { type DeviceValue, type Engine, type GpuTexture, isTexture, matrixArg, rowsOf } from './engine.js';

/**
 * Per-row scale of `x` as a `[rows, 2]` output: row 0 holds max |x| of each row of `x`, row 1 the
 * sum of squares of x / max. Scaling first keeps float32 from overflowing above ~1e19 or flushing
 * to zero below ~1e-19, where a plain sum of squares would; the norm is `max * sqrt(sum)`. The sum
 * goes in blocks of 256 squares, 64 blocks' sums apart (one float32 chain drifts on long rows of
 * like values; so did the blocks' one by one past about 200,000 dimensions). Rows of
 * `x` run along the output's x axis, so webasm vectorises across them.
 */
const ROW_SCALE = `function (x) {
  const r = this.thread.x;
  let m = 0.0;
  for (let p = 0; p < this.constants.d; p++) {
    m = Math.max(m, Math.abs(x[r][p]));
  }
  if (this.thread.y == 0) {
    return m;
  }
  let g = 0.0;
  let s = 0.0;
  let t = 0.0;
  if (m > 0.0) {
    for (let p = 0; p < this.constants.d; p++) {
      const v = x[r][p] / m;
      t += v * v;
      if (p % 256 == 255) {
        s += t;
        t = 0.0;
        if (p % 16384 == 16383) {
          g += s;
          s = 0.0;
        }
      }
    }
  }
  return g + (s + t);
}`;

/** `x / ||x||` from the row scale; a zero row stays zero. */
const NORMALIZE = `function (x, scale) {
  const r = this.thread.y;
  const m = scale[0][r];
  if (m == 0.0) {
    return 0.0;
  }
  return (x[r][this.thread.x] / m) / Math.sqrt(scale[1][r]);
}`;

/** Rows `[start, start + rows)` of a normalised matrix: a texture in GL modes, else floats. */
export interface RowChunk {
  readonly start: number;
  readonly rows: number;
  readonly value: GpuTexture | Float32Array;
}

/** A row-normalised matrix kept on the device, in chunks that each fit one texture. */
export interface DeviceRows {
  readonly rows: number;
  readonly cols: number;
  readonly chunks: readonly RowChunk[];
}

/**
 * Rows per chunk for width `d`: a `[rows, 2]` scale output and a packed `d x rows` texture
 * (four floats a texel, laid out near-square) must both fit the texture size limit.
 */
export function chunkRows(engine: Engine, d: number, rows: number): number {
  const max = engine.maxTextureSize;
  const packed = Math.floor((4 * (max - 2) * (max - 2)) / d);
  return Math.max(1, Math.min(rows, max, packed));
}

/** Runs the row-scale kernel over rows `[r0, r0 + n)` of `x`: a `[n, 2]` device value. */
export function rowScale(engine: Engine, x: Matrix, r0: number, n: number): DeviceValue {
  const d = x.cols;
  const key = `rowScale:${d}`;
  const k = engine.kernel(key, () => ({ source: ROW_SCALE, constants: { d }, pipeline: true, steps: 2 * d }));
  return engine.run(key, k, [n, 2], matrixArg(engine, x.data.subarray(r0 * d, (r0 + n) * d), n, d));
}

/** Normalises rows `[r0, r0 + n)` of `x` on the device: a `[d, n]` device value. */
export function normalizeChunk(engine: Engine, x: Matrix, r0: number, n: number): DeviceValue {
  const d = x.cols;
  const scale = rowScale(engine, x, r0, n);
  try {
    const key = `normalize:${d}`;
    const k = engine.kernel(key, () => ({
      source: NORMALIZE,
      constants: { d },
      pipeline: true,
      packed: true,
    }));
    return engine.run(key, k, [d, n], matrixArg(engine, x.data.subarray(r0 * d, (r0 + n) * d), n, d), scale);
  } finally {
    engine.release(scale);
  }
}

/**
 * Uploads and normalises `x` once. In GL modes each chunk stays a texture that later kernels read
 * without another upload; in webasm/cpu modes (no device memory) each chunk is a Float32Array.
 * Release it with {@link releaseRows}.
 */
export function toDeviceRows(engine: Engine, x: Matrix): DeviceRows {
  return chunked(engine, x, (r0, n) => normalizeChunk(engine, x, r0, n));
}

/** `x[r][c]` as it is: the identity kernel that puts rows already normalised into textures. */
const COPY = `function (x) {
  return x[this.thread.y][this.thread.x];
}`;

/**
 * Rows already normalised (a stored corpus), kept as {@link toDeviceRows} keeps them but not
 * normalised again: normalising a normalised row moves some values by an ulp, and a reloaded or
 * compacted corpus would score in the last bit differently from the one it was saved from. GL
 * modes copy them into textures by the identity kernel (float32 in, float32 out); webasm and cpu
 * modes keep a copy of the floats.
 */
export function uploadRows(engine: Engine, x: Matrix): DeviceRows {
  const d = x.cols;
  return chunked(engine, x, (r0, n) => {
    if (!engine.textures) return x.data.slice(r0 * d, (r0 + n) * d);
    const key = `copyRows:${d}`;
    const k = engine.kernel(key, () => ({ source: COPY, constants: { d }, pipeline: true, packed: true }));
    return engine.run(key, k, [d, n], matrixArg(engine, x.data.subarray(r0 * d, (r0 + n) * d), n, d));
  });
}

/** `x` in chunks of rows that each fit one texture, each made by `make` (released on failure). */
function chunked(engine: Engine, x: Matrix, make: (r0: number, n: number) => DeviceValue): DeviceRows {
  const { rows, cols: d } = x;
  const step = chunkRows(engine, d, rows);
  const chunks: RowChunk[] = [];
  try {
    for (let r0 = 0; r0 < rows; r0 += step) {
      const n = Math.min(step, rows - r0);
      const v = make(r0, n);
      const value = isTexture(v) || v instanceof Float32Array ? v : flatten(rowsOf(v), d);
      chunks.push({ start: r0, rows: n, value });
    }
  } catch (e) {
    releaseRows(engine, { rows, cols: d, chunks });
    throw e;
  }
  return { rows, cols: d, chunks };
}

/** Deletes the textures of `rows` (nothing to do for arrays). */
export function releaseRows(engine: Engine, rows: DeviceRows): void {
  for (const c of rows.chunks) if (isTexture(c.value)) engine.release(c.value);
}

/**
 * Rows of floats as one row-major Float32Array, written to `out` when given. Without `out`, rows
 * that are already consecutive views of one buffer (webasm results) are returned as one view.
 */
export function flatten(rows: Float32Array[], cols: number, out?: Float32Array): Float32Array {
  const n = rows.length;
  if (out === undefined) {
    const first = rows[0];
    const last = rows[n - 1];
    if (
      first.length === cols &&
      last.buffer === first.buffer &&
      last.byteOffset === first.byteOffset + (n - 1) * cols * 4
    ) {
      return new Float32Array(first.buffer, first.byteOffset, n * cols);
    }
    out = new Float32Array(n * cols);
  }
  for (let i = 0; i < n; i++) out.set(rows[i].subarray(0, cols), i * cols);
  return out;
}

/** A row whose largest |value| is below this (2^-64) is scaled up on the host in GL modes (see {@link lifted}). */
const LIFT_BELOW = 2 ** -64;

/**
 * `x`, in GL modes, with each row whose largest |value| is below 2^-64 multiplied by the power of
 * two that brings that value into [1, 2), and those factors (`scale[i]`, 1 for rows left alone;
 * null when no row needed one). A GPU flushes subnormal values (below about 1.2e-38) to zero as a
 * shader reads them, so the per-row scaling the shaders do came too late for rows of them: their
 * cosines came out 0 and their norms 0 (rows of 1e-40 through the kit's kernel table, or called
 * straight). A power of two scales exactly; cosines and normalised rows do not change with a row's
 * scale, and a norm is divided back. webasm and cpu modes keep subnormals and are left alone.
 */
export function lifted(engine: Engine, x: Matrix): { x: Matrix; scale: Float64Array | null } {
  if (!engine.textures) return { x, scale: null };
  const { data, rows, cols: d } = x;
  let scale: Float64Array | null = null;
  let copy: Float32Array | null = null;
  for (let r = 0; r < rows; r++) {
    const o = r * d;
    let m = 0;
    for (let p = 0; p < d; p++) {
      const v = Math.abs(data[o + p]);
      if (v > m) m = v;
    }
    if (m === 0 || !(m < LIFT_BELOW)) continue;
    scale ??= new Float64Array(rows).fill(1);
    copy ??= data.slice();
    // 2^e with m * 2^e in [1, 2): exact for float32 values, subnormal ones included.
    const f = 2 ** -Math.floor(Math.log2(m));
    scale[r] = f;
    for (let p = 0; p < d; p++) copy[o + p] = data[o + p] * f;
  }
  return copy === null ? { x, scale: null } : { x: { data: copy, rows, cols: d }, scale };
}
