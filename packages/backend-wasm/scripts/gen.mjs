#!/usr/bin/env node
/**
 * Writes assembly/generated/tiles.ts: the register-blocked micro-kernels of the dot-product engine.
 *
 * Each tile `tileRxC` computes an R x C block of dot products between R rows of A and C rows of B
 * (row-major, row length padded to a multiple of 4, so every step is one v128 per row). Every output
 * keeps a v128 of four partial sums and is reduced horizontally once at the end. AssemblyScript
 * wants lane indices and load offsets as compile-time constants and has no macros, so the unrolled
 * bodies are generated here instead of written by hand.
 *
 * V8 gives wasm SIMD 15 vector registers and hoists every load of a loop body, so a tile fits when
 * R*C accumulators + R + C loaded vectors (+1 temporary without fused multiply-add) <= 15.
 *
 * Usage: node scripts/gen.mjs
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const outDir = join(here, '..', 'assembly', 'generated');

/** Every tile shape the drivers use: main tiles plus the edges left by rows or columns that do not divide. */
const SHAPES = [];
for (let r = 1; r <= 4; r++) for (let c = 1; c <= 4; c++) SHAPES.push([r, c]);
SHAPES.push([1, 5], [1, 6], [1, 8], [2, 5], [2, 6], [3, 4], [5, 1], [5, 2], [6, 1], [6, 2]);
const uniq = [...new Map(SHAPES.map((s) => [s.join('x'), s])).values()];

/**
 * Driver configurations: main tile R x C, and the tile width used for the rows left over at the
 * bottom (fewer than R). Selected at run time by index, so the JS side can pick per variant.
 */
export const CONFIGS = [
  { name: '4x2', r: 4, c: 2, edge: { 1: 6, 2: 4, 3: 3 } },
  { name: '3x3', r: 3, c: 3, edge: { 1: 6, 2: 4 } },
  { name: '2x4', r: 2, c: 4, edge: { 1: 6 } },
  { name: '4x3', r: 4, c: 3, edge: { 1: 6, 2: 4, 3: 3 } },
  { name: '2x6', r: 2, c: 6, edge: { 1: 6 } },
  { name: '1x6', r: 1, c: 6, edge: {} },
  { name: '1x8', r: 1, c: 8, edge: {} },
  { name: '1x4', r: 1, c: 4, edge: {} },
];
for (const cfg of CONFIGS) {
  for (let rr = 1; rr < cfg.r; rr++)
    if (!cfg.edge[rr]) throw new Error(`config ${cfg.name} lacks edge ${rr}`);
}

function tile(r, c) {
  const L = [];
  L.push(`/** ${r} x ${c} dot products: out[i * ldo + j] = A_i . B_j, i < ${r}, j < ${c} (byte strides). */`);
  L.push(`// @ts-ignore: decorator`);
  L.push(`@inline`);
  L.push(
    `export function tile${r}x${c}(a: usize, b: usize, rowBytes: usize, out: usize, ldo: usize, clamp: bool): void {`,
  );
  for (let i = 1; i < r; i++) L.push(`  const a${i} = a${i - 1 === 0 ? '' : i - 1} + rowBytes;`);
  for (let j = 1; j < c; j++) L.push(`  const b${j} = b${j - 1 === 0 ? '' : j - 1} + rowBytes;`);
  for (let i = 0; i < r; i++) {
    L.push(`  ${Array.from({ length: c }, (_, j) => `let s${i}${j} = f32x4.splat(0);`).join(' ')}`);
  }
  L.push(`  for (let p: usize = 0; p < rowBytes; p += 16) {`);
  for (let i = 0; i < r; i++) L.push(`    const x${i} = v128.load(a${i === 0 ? '' : i} + p);`);
  for (let j = 0; j < c; j++) L.push(`    const y${j} = v128.load(b${j === 0 ? '' : j} + p);`);
  for (let i = 0; i < r; i++) {
    L.push(
      `    ${Array.from({ length: c }, (_, j) => `s${i}${j} = madd(x${i}, y${j}, s${i}${j});`).join(' ')}`,
    );
  }
  L.push(`  }`);
  for (let i = 0; i < r; i++) {
    const row = i === 0 ? 'out' : `out + ${i} * ldo`;
    L.push(`  ${Array.from({ length: c }, (_, j) => `put(${row} + ${j * 4}, s${i}${j}, clamp);`).join(' ')}`);
  }
  L.push(`}`);
  return L.join('\n');
}

/**
 * A driver: out[i * ldo + j] = A_i . B_j for i < m, j < n. Blocks over B's rows (`nb` rows at a
 * time, kept in cache while every row tile of A passes over them).
 */
function driver(cfg) {
  const { r, c, edge } = cfg;
  const L = [];
  L.push(
    `function dots${cfg.name}(a: usize, m: i32, b: usize, n: i32, rowBytes: usize, out: usize, ldo: usize, clamp: bool, nb: i32): void {`,
  );
  L.push(`  const aStep = rowBytes * ${r};`);
  L.push(`  for (let j0 = 0; j0 < n; j0 += nb) {`);
  L.push(`    const j1 = min(n, j0 + nb);`);
  L.push(`    let pa = a;`);
  L.push(`    let po = out + (<usize>j0 << 2);`);
  L.push(`    let i = 0;`);
  L.push(`    for (; i + ${r} <= m; i += ${r}) {`);
  L.push(`      let j = j0;`);
  L.push(`      let pb = b + <usize>j0 * rowBytes;`);
  L.push(`      let pj = po;`);
  L.push(`      for (; j + ${c} <= j1; j += ${c}) {`);
  L.push(`        tile${r}x${c}(pa, pb, rowBytes, pj, ldo, clamp);`);
  L.push(`        pb += rowBytes * ${c};`);
  L.push(`        pj += ${c * 4};`);
  L.push(`      }`);
  if (c > 1) {
    L.push(`      for (; j < j1; j++) {`);
    L.push(`        tile${r}x1(pa, pb, rowBytes, pj, ldo, clamp);`);
    L.push(`        pb += rowBytes;`);
    L.push(`        pj += 4;`);
    L.push(`      }`);
  }
  L.push(`      pa += aStep;`);
  L.push(`      po += ldo * ${r};`);
  L.push(`    }`);
  if (r > 1) {
    L.push(`    const left = m - i;`);
    for (let rr = 1; rr < r; rr++) {
      const w = edge[rr];
      L.push(`    if (left == ${rr}) {`);
      L.push(`      let j = j0;`);
      L.push(`      let pb = b + <usize>j0 * rowBytes;`);
      L.push(`      let pj = po;`);
      L.push(`      for (; j + ${w} <= j1; j += ${w}) {`);
      L.push(`        tile${rr}x${w}(pa, pb, rowBytes, pj, ldo, clamp);`);
      L.push(`        pb += rowBytes * ${w};`);
      L.push(`        pj += ${w * 4};`);
      L.push(`      }`);
      L.push(`      for (; j < j1; j++) {`);
      L.push(`        tile${rr}x1(pa, pb, rowBytes, pj, ldo, clamp);`);
      L.push(`        pb += rowBytes;`);
      L.push(`        pj += 4;`);
      L.push(`      }`);
      L.push(`    }`);
    }
  }
  L.push(`  }`);
  L.push(`}`);
  return L.join('\n');
}

function dispatcher() {
  const L = [];
  L.push(
    `/** Runs driver number \`config\` (see CONFIGS in scripts/gen.mjs; ${CONFIGS.map((c, i) => `${i} = ${c.name}`).join(', ')}). */`,
  );
  L.push(
    `export function dotsWith(config: i32, a: usize, m: i32, b: usize, n: i32, rowBytes: usize, out: usize, ldo: usize, clamp: bool, nb: i32): void {`,
  );
  L.push(`  switch (config) {`);
  CONFIGS.forEach((cfg, i) => {
    L.push(`    case ${i}: dots${cfg.name}(a, m, b, n, rowBytes, out, ldo, clamp, nb); break;`);
  });
  L.push(`    default: unreachable();`);
  L.push(`  }`);
  L.push(`}`);
  return L.join('\n');
}

const src = [
  '// Generated by scripts/gen.mjs: do not edit.',
  "import { madd, put } from '../simd';",
  '',
  ...uniq.map(([r, c]) => tile(r, c)),
  '',
  ...CONFIGS.map(driver),
  '',
  dispatcher(),
  '',
  `/** Names of the driver configurations, by index. */`,
  `export const CONFIG_COUNT: i32 = ${CONFIGS.length};`,
  '',
].join('\n\n');

mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'tiles.ts'), src);
console.log(`gen: ${uniq.length} tiles, ${CONFIGS.length} drivers -> assembly/generated/tiles.ts`);
