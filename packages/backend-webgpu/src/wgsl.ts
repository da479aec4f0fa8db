/**
 * WGSL sources, generated per shape family (tile sizes, transposes, epilogue) and compiled once per
 * family by the engine's pipeline cache. Sizes that vary per call travel in a uniform block.
 *
 * Precision: every dot product and sum of squares accumulates in float32, never in one chain over a
 * whole long row (one chain drifts: a constant row scored 1 - 9.5e-5 against itself at d = 6494).
 * Row reductions split a row across 64 invocations and add the partial sums in a tree, so each value
 * carries about (d / 64 + 6) roundings rather than d; the tiled product sums each span of
 * {@link FOLD_DEPTH} products apart and adds the spans' sums into a second accumulator; the few-query
 * and re-rank kernels do the same over {@link BLOCK} products; and each of those sums (a row
 * reduction's terms too) joins its total in groups of {@link GROUP}. Inside the default tolerances
 * (2e-5 on cosines, 1e-5 relative on the algebra) at any d.
 *
 * Loops: llvmpipe counts every loop iteration of an invocation against one limit (65,535) and
 * leaves loops silently once it is spent. The kernels keep their counted iterations low (the query
 * loop of the few-query kernel and the depth loop of the tiled product are unrolled), and the
 * callers refuse, on software adapters, a shape that would still need more ({@link loopCount}).
 */
import type { Activation } from '@cosinekit/core/backend';

/** Workgroup width of the row reductions. */
export const ROW_WG = 64;
/** Products summed apart before they join a row's total (few-query and re-rank kernels). */
export const BLOCK = 64;
/** Depth of k the tiled product sums apart before adding into its totals. */
export const FOLD_DEPTH = 256;
/**
 * Partial sums that join a total one by one, at most: a row reduction's terms, and the few-query and
 * re-rank kernels' blocks and the tiled product's spans, add up {@link GROUP} at a time apart before
 * they join it. With the totals taking every block's sum, rows past about 200,000 dimensions drifted
 * (a three-valued row 2.1e-5 from float64 against itself at d = 500,000; `rowNorms` 1.1e-4 relative
 * at d = 1,000,000, where a query's exact copy tied at 1 with a row of cosine 0.9998). The groups
 * are counted inside the loops the kernels already run (no new loop iteration for llvmpipe to count).
 */
export const GROUP = 64;
/** Invocations per workgroup of element-wise kernels. */
export const ELEM_WG = 64;

/** `rows, cols, nx` (workgroups along x), then per-kernel extras. */
const ROW_PARAMS = 'struct P { rows: u32, cols: u32, nx: u32, extra: u32 }';

/**
 * Rows of at most this many floats are reduced one row per invocation, {@link ROW_WG} rows a
 * workgroup, rather than one row per workgroup: a workgroup on a row of 2 floats left 62 of its 64
 * invocations idle and still ran its barriers, and SwiftShader (WebGPU on the CPU) took 38 s to make
 * a corpus of 400,000 rows of 2 floats, llvmpipe 1.3 s (the host encoding of the same rows as int8:
 * 83 ms).
 */
export const LANE_ROW_MAX = ROW_WG;

/** Whether rows of `cols` floats are reduced one per invocation (see {@link LANE_ROW_MAX}). */
export function laneRows(cols: number): boolean {
  return cols <= LANE_ROW_MAX;
}

/** Workgroups the row kernels dispatch for `rows` rows of `cols` floats. */
export function rowGroups(rows: number, cols: number): number {
  return laneRows(cols) ? Math.ceil(rows / ROW_WG) : rows;
}

/** Terms a row reduced by one invocation sums apart before they join its total. */
const LANE_GROUP = 8;

function rowIndex(lanes = false): string {
  return lanes
    ? `let row = (wg.y * p.nx + wg.x) * ${ROW_WG}u + li;\n  if (row >= p.rows) { return; }\n  let base = row * p.cols;`
    : 'let row = wg.y * p.nx + wg.x;\n  if (row >= p.rows) { return; }\n  let base = row * p.cols;';
}

/**
 * A loop over the row (one invocation's whole row) adding `terms` (one expression per accumulator,
 * of `v`, the value `load` reads at column `c`) into `acc` in groups of {@link LANE_GROUP}.
 */
function laneSum(load: string, terms: Record<string, string>): string {
  const names = Object.keys(terms);
  const decl = names.map((n) => `var ${n} = 0.0; var g${n} = 0.0;`).join(' ');
  const add = names.map((n) => `g${n} = g${n} + ${terms[n]};`).join(' ');
  const join = names.map((n) => `${n} = ${n} + g${n}; g${n} = 0.0;`).join(' ');
  const rest = names.map((n) => `${n} = ${n} + g${n};`).join(' ');
  return `${decl}
  var gn = 0u;
  for (var c = 0u; c < p.cols; c = c + 1u) {
    ${load}
    ${add}
    gn = gn + 1u;
    if (gn == ${LANE_GROUP}u) { ${join} gn = 0u; }
  }
  ${rest}`;
}

function tree(names: string[]): string {
  const body = names.map((n) => `${n}[li] = ${n}[li] + ${n}[li + s];`).join(' ');
  return `for (var s = ${ROW_WG / 2}u; s > 0u; s = s >> 1u) {\n    if (li < s) { ${body} }\n    workgroupBarrier();\n  }`;
}

/**
 * `mode`: 'norms' writes ||x_r||; 'normalize' writes x_r / ||x_r|| (zero rows stay zero). To
 * normalise, a row is first divided by its largest magnitude (each quotient correctly rounded), so
 * rows that are multiples of one another (a near-duplicate at another scale) normalise to the same
 * bits and tie as they do on the reference backend; dividing by the norm directly left their
 * scores a float32 step apart, ranked out of index order.
 */
export function rowShader(mode: 'norms' | 'normalize', lanes = false): string {
  if (lanes) return laneRowShader(mode);
  if (mode === 'norms')
    return `${ROW_PARAMS}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: P;
var<workgroup> ss: array<f32, ${ROW_WG}>;
@compute @workgroup_size(${ROW_WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  ${rowIndex()}
  var acc = 0.0;
  var g = 0.0;
  var gn = 0u;
  for (var c = li; c < p.cols; c = c + ${ROW_WG}u) {
    let v = x[base + c];
    g = g + v * v;
    gn = gn + 1u;
    if (gn == ${GROUP}u) { acc = acc + g; g = 0.0; gn = 0u; }
  }
  acc = acc + g;
  ss[li] = acc;
  workgroupBarrier();
  ${tree(['ss'])}
  if (li == 0u) { out[row] = sqrt(ss[0]); }
}`;
  return `${ROW_PARAMS}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: P;
var<workgroup> ss: array<f32, ${ROW_WG}>;
var<workgroup> mx: array<f32, ${ROW_WG}>;
@compute @workgroup_size(${ROW_WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  ${rowIndex()}
  var m = 0.0;
  for (var c = li; c < p.cols; c = c + ${ROW_WG}u) { m = max(m, abs(x[base + c])); }
  mx[li] = m;
  workgroupBarrier();
  for (var s = ${ROW_WG / 2}u; s > 0u; s = s >> 1u) {
    if (li < s) { mx[li] = max(mx[li], mx[li + s]); }
    workgroupBarrier();
  }
  let top = mx[0];
  var acc = 0.0;
  var g = 0.0;
  var gn = 0u;
  for (var c = li; c < p.cols; c = c + ${ROW_WG}u) {
    let v = select(0.0, x[base + c] / top, top > 0.0);
    g = g + v * v;
    gn = gn + 1u;
    if (gn == ${GROUP}u) { acc = acc + g; g = 0.0; gn = 0u; }
  }
  acc = acc + g;
  ss[li] = acc;
  workgroupBarrier();
  ${tree(['ss'])}
  let n = sqrt(ss[0]);
  for (var c = li; c < p.cols; c = c + ${ROW_WG}u) {
    out[base + c] = select(0.0, (x[base + c] / top) / n, n > 0.0);
  }
}`;
}

/** {@link rowShader} with one row per invocation (see {@link LANE_ROW_MAX}). */
function laneRowShader(mode: 'norms' | 'normalize'): string {
  const head = `${ROW_PARAMS}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: P;
@compute @workgroup_size(${ROW_WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  ${rowIndex(true)}`;
  if (mode === 'norms')
    return `${head}
  ${laneSum('let v = x[base + c];', { ss: 'v * v' })}
  out[row] = sqrt(ss);
}`;
  return `${head}
  var top = 0.0;
  for (var c = 0u; c < p.cols; c = c + 1u) { top = max(top, abs(x[base + c])); }
  ${laneSum('let v = select(0.0, x[base + c] / top, top > 0.0);', { ss: 'v * v' })}
  let n = sqrt(ss);
  for (var c = 0u; c < p.cols; c = c + 1u) {
    out[base + c] = select(0.0, (x[base + c] / top) / n, n > 0.0);
  }
}`;
}

/** cos(a_r, b_r) per row, clamped; 0 when either row is zero. `lanes`: one row per invocation. */
export function cosineRowsShader(lanes = false): string {
  if (lanes)
    return `${ROW_PARAMS}
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: P;
@compute @workgroup_size(${ROW_WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  ${rowIndex(true)}
  ${laneSum('let u = a[base + c]; let v = b[base + c];', { d: 'u * v', na: 'u * u', nb: 'v * v' })}
  let den = sqrt(na) * sqrt(nb);
  out[row] = select(0.0, clamp(d / den, -1.0, 1.0), den > 0.0);
}`;
  return `${ROW_PARAMS}
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: P;
var<workgroup> sd: array<f32, ${ROW_WG}>;
var<workgroup> sa: array<f32, ${ROW_WG}>;
var<workgroup> sb: array<f32, ${ROW_WG}>;
@compute @workgroup_size(${ROW_WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  ${rowIndex()}
  var d = 0.0; var na = 0.0; var nb = 0.0;
  var gd = 0.0; var ga = 0.0; var gb = 0.0;
  var gn = 0u;
  for (var c = li; c < p.cols; c = c + ${ROW_WG}u) {
    let u = a[base + c]; let v = b[base + c];
    gd = gd + u * v; ga = ga + u * u; gb = gb + v * v;
    gn = gn + 1u;
    if (gn == ${GROUP}u) { d = d + gd; na = na + ga; nb = nb + gb; gd = 0.0; ga = 0.0; gb = 0.0; gn = 0u; }
  }
  d = d + gd; na = na + ga; nb = nb + gb;
  sd[li] = d; sa[li] = na; sb[li] = nb;
  workgroupBarrier();
  ${tree(['sd', 'sa', 'sb'])}
  if (li == 0u) {
    let den = sqrt(sa[0]) * sqrt(sb[0]);
    out[row] = select(0.0, clamp(sd[0] / den, -1.0, 1.0), den > 0.0);
  }
}`;
}

/** `extra`: the column of the chunk's first value (the bias is indexed by column). */
const ELEM_PARAMS = 'struct P { len: u32, cols: u32, nx: u32, extra: u32 }';
const ELEM_INDEX = `let i = (wg.y * p.nx + wg.x) * ${ELEM_WG}u + li;\n  if (i >= p.len) { return; }`;

// tanh through exp of a non-positive argument: no overflow, absolute error near float32 rounding.
const TANH = `fn tanh_(x: f32) -> f32 { let t = exp(-2.0 * abs(x)); return sign(x) * (1.0 - t) / (1.0 + t); }
fn sigm(x: f32) -> f32 { return 1.0 / (1.0 + exp(-clamp(x, -88.0, 88.0))); }
const GC: f32 = 0.7978845608028654;
const GA: f32 = 0.044715;`;

function actExpr(kind: Activation): string {
  switch (kind) {
    case 'linear':
      return 'v';
    case 'relu':
      return 'select(0.0, v, v > 0.0)';
    case 'tanh':
      return 'tanh_(v)';
    case 'sigmoid':
      return 'sigm(v)';
    case 'gelu':
      return '0.5 * v * (1.0 + tanh_(GC * (v + GA * v * v * v)))';
  }
}

function gradExpr(kind: Activation): string {
  switch (kind) {
    case 'linear':
      return '1.0';
    case 'relu':
      return 'select(0.0, 1.0, v > 0.0)';
    case 'tanh':
      return '(1.0 - tanh_(v) * tanh_(v))';
    case 'sigmoid':
      return '(sigm(v) * (1.0 - sigm(v)))';
    case 'gelu':
      return '(0.5 * (1.0 + tanh_(GC * (v + GA * v * v * v))) + 0.5 * v * (1.0 - tanh_(GC * (v + GA * v * v * v)) * tanh_(GC * (v + GA * v * v * v))) * GC * (1.0 + 3.0 * GA * v * v))';
  }
}

/** Element-wise kernels: activation, its gradient, and the bias broadcast. */
export function elementShader(op: 'act' | 'grad' | 'bias', kind: Activation = 'linear'): string {
  const second = op === 'act' ? '' : `@group(0) @binding(1) var<storage, read> y: array<f32>;\n`;
  const outB = op === 'act' ? 1 : 2;
  const expr =
    op === 'act'
      ? actExpr(kind)
      : op === 'grad'
        ? `y[i] * ${gradExpr(kind)}`
        : 'v + y[(i + p.extra) % p.cols]';
  return `${ELEM_PARAMS}
${TANH}
@group(0) @binding(0) var<storage, read> x: array<f32>;
${second}@group(0) @binding(${outB}) var<storage, read_write> out: array<f32>;
@group(0) @binding(${outB + 1}) var<uniform> p: P;
@compute @workgroup_size(${ELEM_WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  ${ELEM_INDEX}
  let v = x[i];
  out[i] = ${expr};
}`;
}

/**
 * How a resident corpus's rows sit in its buffer: `f32`; `f16`, two binary16 halves per 32-bit
 * word, decoded with `unpack2x16float` (core WGSL: no `shader-f16` needed); `i8`, four codes per
 * word, sign-extended with shifts (core WGSL: no packed-integer feature needed), scaled per row
 * after the dot product so that queries stay float32.
 */
export type RowFormat = 'f32' | 'f16' | 'i8';

/** Stored elements per row: rows padded so that each starts on a 32-bit word. */
export function rowStride(fmt: RowFormat, d: number): number {
  const per = fmt === 'f32' ? 1 : fmt === 'f16' ? 2 : 4;
  return Math.ceil(d / per) * per;
}

/** Bytes of `elements` stored elements. */
export function storedBytes(fmt: RowFormat, elements: number): number {
  return fmt === 'f32' ? 4 * elements : fmt === 'f16' ? 2 * elements : elements;
}

/**
 * Declares the corpus operand `B` at binding 1 and its readers, by element index: `ldB(i)`, or
 * `ldB4(i)` (i a multiple of 4) for vector loads.
 */
function corpusOperand(fmt: RowFormat, vec: boolean): string {
  const decl = (t: string) => `@group(0) @binding(1) var<storage, read> B: array<${t}>;\n`;
  if (fmt === 'f32') {
    return vec
      ? `${decl('vec4<f32>')}fn ldB4(i: u32) -> vec4<f32> { return B[i / 4u]; }`
      : `${decl('f32')}fn ldB(i: u32) -> f32 { return B[i]; }`;
  }
  if (fmt === 'f16') {
    return vec
      ? `${decl('vec2<u32>')}fn ldB4(i: u32) -> vec4<f32> { let w = B[i / 4u]; return vec4<f32>(unpack2x16float(w.x), unpack2x16float(w.y)); }`
      : `${decl('u32')}fn ldB(i: u32) -> f32 { let h = unpack2x16float(B[i / 2u]); return select(h.x, h.y, (i & 1u) == 1u); }`;
  }
  return vec
    ? `${decl('u32')}fn ldB4(i: u32) -> vec4<f32> { return vec4<f32>(bitcast<vec4<i32>>(vec4<u32>(B[i / 4u]) << vec4<u32>(24u, 16u, 8u, 0u)) >> vec4<u32>(24u)); }`
    : `${decl('u32')}fn ldB(i: u32) -> f32 { return f32(bitcast<i32>(B[i / 4u] << (24u - 8u * (i & 3u))) >> 24u); }`;
}

/** int8 rows: the per-row scales at binding 4, applied to a finished dot product. */
function scaled(fmt: RowFormat, expr: string, row: string): string {
  return fmt === 'i8' ? `${expr} * SC[p.sOff + ${row}]` : expr;
}

function scalesDecl(fmt: RowFormat): string {
  return fmt === 'i8' ? '@group(0) @binding(4) var<storage, read> SC: array<f32>;\n' : '';
}

/** Tile shape of the matrix product, chosen from the device's workgroup limits. */
export interface GemmTile {
  /** Invocations per side of the (square) workgroup. */
  wg: number;
  /** Outputs per invocation per side (the register block). */
  block: number;
  /** Depth of the shared tiles. */
  depth: number;
}

/** The largest tile the limits allow: 64 x 64 outputs (16 x 16 invocations, 4 x 4 each) when they can. */
export function gemmTile(storageBytes: number, invocations: number): GemmTile {
  const candidates: GemmTile[] = [
    { wg: 16, block: 4, depth: 16 },
    { wg: 8, block: 4, depth: 16 },
    { wg: 8, block: 2, depth: 8 },
    { wg: 4, block: 2, depth: 4 },
  ];
  for (const t of candidates) {
    const side = t.wg * t.block;
    if (2 * side * t.depth * 4 <= storageBytes && t.wg * t.wg <= invocations) return t;
  }
  return candidates[candidates.length - 1];
}

/**
 * `C = op(A) op(B)` on a tile grid: each workgroup stages a `side x depth` slice of A and of B in
 * workgroup memory, and each invocation accumulates a `block x block` register block from them.
 * `cos` clamps the results to [-1, 1] (the operands are normalised rows, B transposed); B may then
 * be a resident corpus's stored rows in any {@link RowFormat}.
 * Params: M, N, K, lda, ldb, ldc, aOff, bOff (elements), sOff (row of the first int8 scale).
 */
export function gemmShader(
  t: GemmTile,
  transA: boolean,
  transB: boolean,
  cos: boolean,
  vec = false,
  fmt: RowFormat = 'f32',
): string {
  const side = t.wg * t.block;
  const loads = (side * t.depth) / (t.wg * t.wg);
  if (vec && (transA || !transB || !gemmVectorizable(t)))
    throw new RangeError('vec4 loads need A plain and B transposed');
  if (fmt !== 'f32' && (!transB || !cos)) throw new RangeError('stored rows are only scored as B transposed');
  const aAt = transA ? 'p.aOff + kk * p.lda + mm' : 'p.aOff + mm * p.lda + kk';
  const bAt = transB ? 'p.bOff + nn * p.ldb + kb' : 'p.bOff + kb * p.ldb + nn';
  const value = scaled(fmt, 'acc[i][j]', 'n');
  const store = cos ? `clamp(${value}, -1.0, 1.0)` : value;
  return `struct P { M: u32, N: u32, K: u32, lda: u32, ldb: u32, ldc: u32, aOff: u32, bOff: u32, sOff: u32 }
@group(0) @binding(0) var<storage, read> A: array<${vec ? 'vec4<f32>' : 'f32'}>;
${corpusOperand(fmt, vec)}
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<uniform> p: P;
${scalesDecl(fmt)}const WG: u32 = ${t.wg}u;
const BL: u32 = ${t.block}u;
const SIDE: u32 = ${side}u;
const DEPTH: u32 = ${t.depth}u;
var<workgroup> As: array<f32, ${side * t.depth}>;
var<workgroup> Bs: array<f32, ${side * t.depth}>;
@compute @workgroup_size(${t.wg}, ${t.wg})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let m0 = wg.y * SIDE;
  let n0 = wg.x * SIDE;
  let flat = lid.y * WG + lid.x;
  var acc: array<array<f32, ${t.block}>, ${t.block}>;
  var grp: array<array<f32, ${t.block}>, ${t.block}>;
  var tot: array<array<f32, ${t.block}>, ${t.block}>;
  var gn = 0u;
  for (var k0 = 0u; k0 < p.K; k0 = k0 + DEPTH) {
${
  vec
    ? vecLoads(loads / 4, t.depth / 4)
    : `    for (var l = 0u; l < ${loads}u; l = l + 1u) {
      let e = flat + l * WG * WG;
      // Consecutive invocations read consecutive addresses of the stored layout.
      ${transA ? 'let r = e % SIDE; let c = e / SIDE;' : 'let r = e / DEPTH; let c = e % DEPTH;'}
      let mm = m0 + r; let kk = k0 + c;
      var va = 0.0;
      if (mm < p.M && kk < p.K) { va = A[${aAt}]; }
      As[c * SIDE + r] = va;
      ${transB ? 'let rb = e / DEPTH; let cb = e % DEPTH;' : 'let rb = e % SIDE; let cb = e / SIDE;'}
      let nn = n0 + rb; let kb = k0 + cb;
      var vb = 0.0;
      if (nn < p.N && kb < p.K) { vb = ldB(${bAt}); }
      Bs[cb * SIDE + rb] = vb;
    }
`
}    workgroupBarrier();
${depthSteps(t)}
    workgroupBarrier();
    // Every FOLD_DEPTH of k, the span's sums join its group's, and every GROUP spans the group's
    // join the totals (one float32 chain over k drifts).
    if ((k0 + DEPTH) % ${FOLD_DEPTH}u == 0u) {
      for (var i = 0u; i < BL; i = i + 1u) {
        for (var j = 0u; j < BL; j = j + 1u) { grp[i][j] = grp[i][j] + acc[i][j]; acc[i][j] = 0.0; }
      }
      gn = gn + 1u;
      if (gn == ${GROUP}u) {
        for (var i = 0u; i < BL; i = i + 1u) {
          for (var j = 0u; j < BL; j = j + 1u) { tot[i][j] = tot[i][j] + grp[i][j]; grp[i][j] = 0.0; }
        }
        gn = 0u;
      }
    }
  }
  for (var i = 0u; i < BL; i = i + 1u) {
    for (var j = 0u; j < BL; j = j + 1u) { acc[i][j] = tot[i][j] + (grp[i][j] + acc[i][j]); }
  }
  for (var i = 0u; i < BL; i = i + 1u) {
    let m = m0 + lid.y + i * WG;
    if (m >= p.M) { continue; }
    for (var j = 0u; j < BL; j = j + 1u) {
      let n = n0 + lid.x + j * WG;
      if (n < p.N) { C[m * p.ldc + n] = ${store}; }
    }
  }
}`;
}

/**
 * The tiled product's steps over one staged depth, unrolled: a loop here would count DEPTH
 * iterations per tile against llvmpipe's loop limit.
 */
function depthSteps(t: GemmTile): string {
  const lines: string[] = [];
  for (let c = 0; c < t.depth; c++) {
    lines.push(`    {
      var ra: array<f32, ${t.block}>;
      var rb: array<f32, ${t.block}>;
      for (var i = 0u; i < BL; i = i + 1u) { ra[i] = As[${c}u * SIDE + lid.y + i * WG]; rb[i] = Bs[${c}u * SIDE + lid.x + i * WG]; }
      for (var i = 0u; i < BL; i = i + 1u) {
        for (var j = 0u; j < BL; j = j + 1u) { acc[i][j] = fma(ra[i], rb[j], acc[i][j]); }
      }
    }`);
  }
  return lines.join('\n');
}

/** Whether a tile shape can stage its operands with vec4 loads (whole vectors per invocation). */
export function gemmVectorizable(t: GemmTile): boolean {
  const loads = (t.wg * t.block * t.depth) / (t.wg * t.wg);
  return loads % 4 === 0 && t.depth % 4 === 0;
}

/**
 * Staging with vec4 loads, for A rows and B rows both contiguous in k (the cosine layout): each
 * invocation reads whole vectors of 4 consecutive k. Needs K, lda, ldb, aOff and bOff multiples of 4.
 */
function vecLoads(loads4: number, d4: number): string {
  const spread = (name: string, v: string, r: string) =>
    [0, 1, 2, 3].map((i) => `${name}[(c4 * 4u + ${i}u) * SIDE + ${r}] = ${v}.${'xyzw'[i]};`).join(' ');
  return `for (var l = 0u; l < ${loads4}u; l = l + 1u) {
      let e = flat + l * WG * WG;
      let r = e / ${d4}u; let c4 = e % ${d4}u;
      let kk = k0 + c4 * 4u;
      let mm = m0 + r;
      var va = vec4<f32>();
      if (mm < p.M && kk < p.K) { va = A[(p.aOff + mm * p.lda + kk) / 4u]; }
      ${spread('As', 'va', 'r')}
      let nn = n0 + r;
      var vb = vec4<f32>();
      if (nn < p.N && kk < p.K) { vb = ldB4(p.bOff + nn * p.ldb + kk); }
      ${spread('Bs', 'vb', 'r')}
    }
`;
}

/** Score below any cosine: marks an empty slot of a selection. */
export const EMPTY_SCORE = -4;

const INSERT = `fn insert_(base: u32, cnt: ptr<function, u32>, v: f32, idx: i32) {
  if (*cnt == p.k && !(v > RS[base + p.k - 1u])) { return; }
  let last = select(*cnt, p.k - 1u, *cnt == p.k);
  // The slot: after every kept score >= v (binary search on the descending list), so equal scores
  // stay ahead; candidates arrive in index order, so ties keep the lower index.
  var lo = 0u;
  var hi = last;
  while (lo < hi) {
    let mid = (lo + hi) / 2u;
    if (RS[base + mid] >= v) { lo = mid + 1u; } else { hi = mid; }
  }
  for (var j = last; j > lo; j = j - 1u) {
    RS[base + j] = RS[base + j - 1u]; RI[base + j] = RI[base + j - 1u];
  }
  let i = lo;
  RS[base + i] = v; RI[base + i] = idx;
  if (*cnt < p.k) { *cnt = *cnt + 1u; }
}`;

/** The allow mask of a filtered search: one bit per corpus row, at binding `b`. */
function maskDecl(b: number): string {
  return `@group(0) @binding(${b}) var<storage, read> MASK: array<u32>;
fn allowed(row: u32) -> bool { return ((MASK[row / 32u] >> (row & 31u)) & 1u) == 1u; }`;
}

/**
 * Pass 1 of the fused top-k: invocation (q, s) selects the best k of segment s of query q's score
 * tile into its own sorted slot list. Params: queries, tileCols (ld of the tile), k, segments,
 * segLen, colOffset (corpus index of the tile's first column), nx. With `masked`, rows whose allow
 * bit is 0 never become candidates (their scores are not read).
 */
export function segmentSelectShader(masked = false): string {
  return `struct P { queries: u32, cols: u32, k: u32, segs: u32, segLen: u32, colOff: u32, nx: u32, pad: u32 }
@group(0) @binding(0) var<storage, read> S: array<f32>;
@group(0) @binding(1) var<storage, read_write> RS: array<f32>;
@group(0) @binding(2) var<storage, read_write> RI: array<i32>;
@group(0) @binding(3) var<uniform> p: P;
${masked ? maskDecl(4) : ''}
${INSERT}
@compute @workgroup_size(${ELEM_WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let id = (wg.y * p.nx + wg.x) * ${ELEM_WG}u + li;
  if (id >= p.queries * p.segs) { return; }
  let q = id / p.segs; let s = id % p.segs;
  let base = id * p.k;
  var cnt = 0u;
  let start = s * p.segLen;
  let end = min(p.cols, start + p.segLen);
  for (var j = start; j < end; j = j + 1u) {
    ${masked ? 'if (!allowed(p.colOff + j)) { continue; }' : ''}
    insert_(base, &cnt, S[q * p.cols + j], i32(p.colOff + j));
  }
  for (var j = cnt; j < p.k; j = j + 1u) { RS[base + j] = ${EMPTY_SCORE}.0; RI[base + j] = -1; }
}`;
}

/**
 * Pass 2: query q's running list (bindings RS/RI, earlier tiles, lower indices) takes in the
 * segment lists of the current tile in segment order. Params: queries, k, segs, nx.
 */
export function mergeSelectShader(): string {
  return `struct P { queries: u32, k: u32, segs: u32, nx: u32 }
@group(0) @binding(0) var<storage, read> CS: array<f32>;
@group(0) @binding(1) var<storage, read> CI: array<i32>;
@group(0) @binding(2) var<storage, read_write> RS: array<f32>;
@group(0) @binding(3) var<storage, read_write> RI: array<i32>;
@group(0) @binding(4) var<uniform> p: P;
${INSERT}
@compute @workgroup_size(${ELEM_WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let q = (wg.y * p.nx + wg.x) * ${ELEM_WG}u + li;
  if (q >= p.queries) { return; }
  let base = q * p.k;
  var cnt = 0u;
  while (cnt < p.k && RI[base + cnt] >= 0) { cnt = cnt + 1u; }
  for (var s = 0u; s < p.segs; s = s + 1u) {
    let cb = (q * p.segs + s) * p.k;
    for (var j = 0u; j < p.k; j = j + 1u) {
      let idx = CI[cb + j];
      if (idx < 0) { break; }
      let v = CS[cb + j];
      if (cnt == p.k && !(v > RS[base + p.k - 1u])) { break; }
      insert_(base, &cnt, v, idx);
    }
  }
}`;
}

/** Fills a running list with empty slots. Params: len, nx. */
export function clearSelectShader(): string {
  return `struct P { len: u32, nx: u32, a: u32, b: u32 }
@group(0) @binding(0) var<storage, read_write> RS: array<f32>;
@group(0) @binding(1) var<storage, read_write> RI: array<i32>;
@group(0) @binding(2) var<uniform> p: P;
@compute @workgroup_size(${ELEM_WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let i = (wg.y * p.nx + wg.x) * ${ELEM_WG}u + li;
  if (i >= p.len) { return; }
  RS[i] = ${EMPTY_SCORE}.0; RI[i] = -1;
}`;
}

/** Queries per invocation of the skinny scoring kernel. */
export const SKINNY_QUERIES = 4;

/**
 * Scores of a few queries (at most {@link SKINNY_QUERIES}) against corpus rows: one invocation per
 * corpus row, reading it once (4 elements at a time when `vec`, i.e. d % 4 == 0) and keeping one
 * accumulator per query. The product kernel's 64-row tiles would waste all but one row on a single
 * query; this one is bound by reading the corpus, which is what a one-query search should cost.
 * `m` (1 to 4) is the number of queries, fixed in the source so that no loop over them counts
 * against llvmpipe's loop limit.
 * Params: M (queries, <= 4), N, K (query vectors per row), ldc, aOff (vectors), bOff and ldb
 * (stored elements), nx, cOff, sOff, mOff (corpus row of the first row, for the allow mask).
 */
export function skinnyShader(
  vec: boolean,
  fmt: RowFormat = 'f32',
  masked = false,
  m = SKINNY_QUERIES,
): string {
  const T = vec ? 'vec4<f32>' : 'f32';
  const load = vec ? 'ldB4(row + c * 4u)' : 'ldB(row + c)';
  const dot = (q: number) =>
    vec ? `dot(A[p.aOff + ${q}u * p.K + c], v)` : `A[p.aOff + ${q}u * p.K + c] * v`;
  const qs = Array.from({ length: m }, (_, q) => q);
  return `struct P { M: u32, N: u32, K: u32, ldc: u32, aOff: u32, bOff: u32, nx: u32, cOff: u32, ldb: u32, sOff: u32, mOff: u32 }
@group(0) @binding(0) var<storage, read> A: array<${T}>;
${corpusOperand(fmt, vec)}
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<uniform> p: P;
${scalesDecl(fmt)}${masked ? maskDecl(fmt === 'i8' ? 5 : 4) : ''}
@compute @workgroup_size(${ELEM_WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let n = (wg.y * p.nx + wg.x) * ${ELEM_WG}u + li;
  if (n >= p.N) { return; }
  // A row the filter refuses is never read: its score is never selected either.
  ${masked ? 'if (!allowed(p.mOff + n)) { return; }' : ''}
  ${qs.map((q) => `var t${q} = 0.0; var g${q} = 0.0;`).join(' ')}
  var gn = 0u;
  let row = p.bOff + n * p.ldb;
  var c = 0u;
  loop {
    if (c >= p.K) { break; }
    // ${BLOCK} products summed apart, ${GROUP} such sums apart, then into the totals: one chain over
    // a long row drifts.
    let end = min(p.K, c + ${BLOCK}u);
    ${qs.map((q) => `var s${q} = 0.0;`).join(' ')}
    for (; c < end; c = c + 1u) {
      let v = ${load};
      ${qs.map((q) => `s${q} = s${q} + ${dot(q)};`).join(' ')}
    }
    ${qs.map((q) => `g${q} = g${q} + s${q};`).join(' ')}
    gn = gn + 1u;
    if (gn == ${GROUP}u) { ${qs.map((q) => `t${q} = t${q} + g${q}; g${q} = 0.0;`).join(' ')} gn = 0u; }
  }
  ${qs.map((q) => `t${q} = t${q} + g${q};`).join(' ')}
  ${qs.map((q) => `C[p.cOff + ${q}u * p.ldc + n] = clamp(${scaled(fmt, `t${q}`, 'n')}, -1.0, 1.0);`).join('\n  ')}
}`;
}

/**
 * Exact scores of re-ranking candidates: invocation i scores query i / wide against candidate row
 * I[i] when that row lies in the bound block of float32 rows (rows row0 .. row0 + rows).
 * Params: pairs, wide, d, row0, rows, nx.
 */
export function rerankShader(): string {
  return `struct P { pairs: u32, wide: u32, d: u32, row0: u32, rows: u32, nx: u32, a: u32, b: u32 }
@group(0) @binding(0) var<storage, read> Qn: array<f32>;
@group(0) @binding(1) var<storage, read> E: array<f32>;
@group(0) @binding(2) var<storage, read> I: array<i32>;
@group(0) @binding(3) var<storage, read_write> S: array<f32>;
@group(0) @binding(4) var<uniform> p: P;
@compute @workgroup_size(${ELEM_WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let id = (wg.y * p.nx + wg.x) * ${ELEM_WG}u + li;
  if (id >= p.pairs) { return; }
  let r = u32(I[id]) - p.row0;
  if (I[id] < i32(p.row0) || r >= p.rows) { return; }
  let qb = (id / p.wide) * p.d;
  let eb = r * p.d;
  var acc = 0.0;
  var g = 0.0;
  var gn = 0u;
  var c = 0u;
  loop {
    if (c >= p.d) { break; }
    // ${BLOCK} products summed apart, ${GROUP} such sums apart, then into the total: one chain over
    // a long row drifts.
    let end = min(p.d, c + ${BLOCK}u);
    var s = 0.0;
    for (; c < end; c = c + 1u) { s = fma(Qn[qb + c], E[eb + c], s); }
    g = g + s;
    gn = gn + 1u;
    if (gn == ${GROUP}u) { acc = acc + g; g = 0.0; gn = 0u; }
  }
  acc = acc + g;
  S[id] = clamp(acc, -1.0, 1.0);
}`;
}
