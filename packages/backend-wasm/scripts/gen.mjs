#!/usr/bin/env node
/**
 * Writes assembly/generated/tiles.ts: the register-blocked micro-kernels of the dot-product engine
 * and the drivers that walk them over whole matrices; and assembly/generated/sparse.ts, the
 * unrolled loop of `matmul`'s sparse path.
 *
 * Layout: rows are cut into chunks of 4 floats (one v128), and the rows of a panel of P rows are
 * interleaved chunk by chunk: chunk q of row r of a panel sits at `((q * P) + r) * 16` bytes from
 * the panel's start. A tile of R query rows x C corpus rows then reads R + C vectors per step at
 * constant offsets from two pointers, and each output keeps a v128 of four partial sums (the
 * dot-product form: lower error than broadcasting GEMM panels), reduced once at the end.
 *
 * V8 gives wasm SIMD 15 vector registers and hoists every load of a loop body, so a tile fits when
 * R*C accumulators + R + C loaded vectors (+1 temporary without fused multiply-add) <= 15.
 * AssemblyScript wants load offsets and lane indices as compile-time constants and has no macros,
 * so the unrolled bodies are generated here.
 *
 * Usage: node scripts/gen.mjs
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const outDir = join(here, '..', 'assembly', 'generated');

/**
 * Driver configurations, selected at run time by index (src/tuning.ts lists the same names in the
 * same order): query panels of R rows, corpus panels of C rows. Query rows left over below a
 * multiple of R are stored as single rows: 2..R-1 of them run together against one corpus panel at
 * a time (a rows tile), a lone one streams the corpus S panels at a time (a stream tile).
 */
const CONFIGS = [
  { r: 4, c: 2 },
  { r: 3, c: 3 },
  { r: 2, c: 4 },
  { r: 2, c: 3 },
  { r: 2, c: 2 },
];

const name = (cfg) => `${cfg.r}x${cfg.c}`;

/**
 * Stores the (i, j) sums of an r x w tile. The fast branch reduces four accumulators at a time into
 * one vector (`hsum4`, the same addition order as the scalar `hsum`, so every path gives identical
 * results) and stores whole vectors; a row whose width is not a multiple of 4 stores a full vector
 * whose extra lanes land on the next tile's first outputs, which that tile overwrites later, so it
 * needs valid columns up to the next multiple of 4 (never past a row's end, nor past a thread's
 * share of the columns). Otherwise, at a row's end, outputs go one by one,
 * only the first `cols` columns.
 */
function stores(r, w, acc, outExpr) {
  const L = [];
  const row = (i) => outExpr(i, 0);
  let cond = `cols >= ${w}`;
  const fast = [];
  const v = (list) => `clamp4(hsum4(${list.join(', ')}), clamp)`;
  if (w % 4 === 0) {
    for (let i = 0; i < r; i++) {
      for (let g = 0; g < w; g += 4) {
        fast.push(`v128.store(${row(i)}, ${v([0, 1, 2, 3].map((t) => acc(i, g + t)))}, ${4 * g});`);
      }
    }
  } else if (w === 2) {
    for (let i = 0; i < r; i += 2) {
      const j = i + 1 < r ? i + 1 : i;
      fast.push(`{ const v = ${v([acc(i, 0), acc(i, 1), acc(j, 0), acc(j, 1)])};`);
      fast.push(
        `  v128.store64_lane(${row(i)}, v, 0);${j !== i ? ` v128.store64_lane(${row(j)}, v, 1);` : ''} }`,
      );
    }
  } else {
    // The vectors cover ceil(w / 4) * 4 columns: all of them must be valid (w = 3: 4; w = 6: 8).
    cond = `cols >= ${Math.ceil(w / 4) * 4}`;
    for (let i = 0; i < r; i++) {
      for (let g = 0; g < w; g += 4) {
        const lanes = [0, 1, 2, 3].map((t) => acc(i, Math.min(g + t, w - 1)));
        fast.push(`v128.store(${row(i)}, ${v(lanes)}, ${4 * g});`);
      }
    }
  }
  L.push(`  if (${cond}) {`);
  for (const f of fast) L.push(`    ${f}`);
  L.push(`  } else {`);
  for (let j = 0; j < w; j++) {
    const puts = Array.from({ length: r }, (_, i) => `put(${outExpr(i, j)}, ${acc(i, j)}, clamp);`);
    L.push(`    if (cols > ${j}) { ${puts.join(' ')} }`);
  }
  L.push(`  }`);
  return L;
}

/** R query rows (one panel) x C corpus rows (one panel). */
function tile(r, c) {
  const L = [];
  L.push(`/** ${r} query rows x ${c} corpus rows, both panel-interleaved; \`cols\` valid corpus rows. */`);
  L.push(`// @ts-ignore: decorator`);
  L.push(`@inline`);
  L.push(
    `function tile${r}x${c}(pa: usize, pb: usize, steps: i32, out: usize, ldo: usize, clamp: bool, cols: i32): void {`,
  );
  for (let i = 0; i < r; i++) {
    L.push(`  ${Array.from({ length: c }, (_, j) => `let s${i}${j} = f32x4.splat(0);`).join(' ')}`);
  }
  L.push(`  const end = pa + <usize>steps * ${16 * r};`);
  L.push(`  while (pa < end) {`);
  for (let i = 0; i < r; i++) L.push(`    const x${i} = v128.load(pa, ${16 * i});`);
  for (let j = 0; j < c; j++) L.push(`    const y${j} = v128.load(pb, ${16 * j});`);
  for (let i = 0; i < r; i++) {
    L.push(
      `    ${Array.from({ length: c }, (_, j) => `s${i}${j} = madd(x${i}, y${j}, s${i}${j});`).join(' ')}`,
    );
  }
  L.push(`    pa += ${16 * r};`);
  L.push(`    pb += ${16 * c};`);
  L.push(`  }`);
  L.push(
    ...stores(
      r,
      c,
      (i, j) => `s${i}${j}`,
      (i, j) => `out + ${i === 0 ? '' : `${i} * ldo + `}${4 * j}`,
    ),
  );
  L.push(`}`);
  return L.join('\n');
}

/**
 * Corpus streams a lone query row reads at once: S panels from S far-apart parts of the corpus, S x C
 * accumulators. Two for every panel width: on the AMD EPYC VM of this machine kind (2026-12-04,
 * `node scripts/one-query-ab.mjs <S=4 build> <S=2 build> N d reps [simd|relaxed]`, best of 5-25
 * interleaved) two streams read a one-query search's corpus 1.37-1.58x faster than the four (plain
 * SIMD, C = 2) at 10k x 384 and 10k x 768, 1.2x at 10k x 1536, 1.27x at 200k x 768 and 1.02-1.06x
 * at 200k x 384 and 1M x 96; relaxed SIMD (C = 3, four streams before) 1.17-1.5x at 10k x 384 and
 * 1536, 200k x 384 and 1M x 96; three streams were between (10k x 384: 0.31 ms against 0.28 for two
 * and 0.39 for four). Four had been chosen when one panel at a time was the alternative.
 */
const LONE_STREAMS = 2;

/**
 * `loneCPut(out, v, clamp, cols)`: stores the C sums of one query row against one corpus panel,
 * lanes 0..C-1 of `v` (C <= 4), at `out`: exactly C floats (never past them, unlike `stores`: the
 * panels of a stream are not written in order), or at a row's end only the first `cols`.
 */
function lonePut(c) {
  if (c > 4) throw new Error(`lonePut: a panel of ${c} rows does not fit one vector`);
  const L = [];
  L.push(
    `/** Stores one query row's ${c} sums, lanes of \`v\` (clamped when \`clamp\`), at \`out\`; \`cols\` valid corpus rows. */`,
  );
  L.push(`// @ts-ignore: decorator`);
  L.push(`@inline`);
  L.push(`function lone${c}Put(out: usize, v: v128, clamp: bool, cols: i32): void {`);
  L.push(`  const w = clamp4(v, clamp);`);
  L.push(`  if (cols >= ${c}) {`);
  if (c === 4) L.push(`    v128.store(out, w);`);
  else if (c === 1) L.push(`    v128.store32_lane(out, w, 0);`);
  else {
    L.push(`    v128.store64_lane(out, w, 0);`);
    if (c === 3) L.push(`    v128.store32_lane(out, w, 2, 8);`);
  }
  L.push(`  } else {`);
  for (let j = 0; j < c; j++)
    L.push(`    if (cols > ${j}) store<f32>(out, f32x4.extract_lane(w, ${j}), ${4 * j});`);
  L.push(`  }`);
  L.push(`}`);
  return L.join('\n');
}

/** The lanes of `hsum4` that reduce C accumulators `acc(0..C-1)` into one vector (the last repeated). */
const sumLanes = (c, acc) => [0, 1, 2, 3].map((t) => acc(Math.min(t, c - 1))).join(', ');

/**
 * One plain query row x `panels` corpus panels of C rows from `pb` on, outputs from `out` on: a
 * stream over the corpus. The panels are cut into S equal parts read side by side, one panel of
 * each per pass, so the memory system sees S sequential streams far apart. On this machine kind
 * that read 100-115% of a streaming read's rate where one panel at a time read 73-98% and two
 * neighbouring panels in lockstep 30-58% (N x d = 200k x 384, 20k x 3072, 1M x 96, 10k x 3072;
 * apps/bench/scripts/few-query-vs-tfjs.mjs measures the whole search). Each output is one chain
 * of multiply-adds over the steps in order, reduced by `hsum`, the same order as the tiles and
 * as `loneC` for the panels left over, so a row's score does not depend on which part
 * (or which thread's share) it falls in.
 */
function streamTile(c) {
  const S = LONE_STREAMS;
  const L = [];
  L.push(
    `/** One query row x \`panels\` corpus panels of ${c} rows, read as ${S} streams; \`cols\` valid corpus rows. */`,
  );
  L.push(
    `function stream${c}(pa: usize, pb: usize, panels: i32, steps: i32, stride: i32, out: usize, clamp: bool, cols: i32): void {`,
  );
  L.push(`  const panelBytes = (<usize>stride << 4) * ${c};`);
  L.push(`  const h = panels / ${S};`);
  L.push(`  const span = <usize>h * panelBytes;`);
  L.push(`  const end = pa + (<usize>steps << 4);`);
  L.push(`  for (let g = 0; g < h; g++) {`);
  for (let u = 0; u < S; u++) {
    L.push(`    ${Array.from({ length: c }, (_, j) => `let s${u}${j} = f32x4.splat(0);`).join(' ')}`);
  }
  L.push(`    let p0 = pb + <usize>g * panelBytes;`);
  for (let u = 1; u < S; u++) L.push(`    let p${u} = p${u - 1} + span;`);
  L.push(`    for (let x = pa; x < end; x += 16) {`);
  L.push(`      const x0 = v128.load(x);`);
  for (let u = 0; u < S; u++) {
    L.push(
      `      ${Array.from({ length: c }, (_, j) => `s${u}${j} = madd(x0, v128.load(p${u}, ${16 * j}), s${u}${j});`).join(' ')}`,
    );
  }
  L.push(`      ${Array.from({ length: S }, (_, u) => `p${u} += ${16 * c};`).join(' ')}`);
  L.push(`    }`);
  for (let u = 0; u < S; u++) {
    L.push(`    {`);
    L.push(`      const k = g + ${u === 0 ? '0' : `${u} * h`};`);
    L.push(
      `      lone${c}Store(out + <usize>k * ${4 * c}, ${Array.from({ length: c }, (_, j) => `s${u}${j}`).join(', ')}, clamp, cols - k * ${c});`,
    );
    L.push(`    }`);
  }
  L.push(`  }`);
  L.push(`  let pl = pb + <usize>(h * ${S}) * panelBytes;`);
  L.push(`  for (let g = h * ${S}; g < panels; g++) {`);
  L.push(`    lone${c}(pa, pl, steps, out + <usize>g * ${4 * c}, clamp, cols - g * ${c});`);
  L.push(`    pl += panelBytes;`);
  L.push(`  }`);
  L.push(`}`);
  return L.join('\n');
}

/**
 * One plain query row x `panels` corpus panels of C rows whose rows are longer than one span
 * (SPAN_STEPS steps, assembly/spans.ts): each panel read from its start to its end, its spans one
 * after the other, each span's sums reduced as a short row's are and added in order in float32 to
 * the spans before: the bits of `longDotsBegin`, which runs the drivers span by span over the
 * whole corpus (a lone row's stream then reads each panel a span at a time, jumping from panel to
 * panel: 54% of a streaming read's rate at 50,000 x 8192 on this machine kind). The panels are
 * read as S streams, like `streamC`; the panels left over one at a time.
 */
function longStreamTile(c) {
  const S = LONE_STREAMS;
  const lanes = (u) => sumLanes(c, (j) => `s${u}${j}`);
  /** The sums of `streams` panels from p0, p1, ... (set before), as totals t0, t1, ... */
  const body = (streams, indent) => {
    const I = ' '.repeat(indent);
    const L = [];
    for (let u = 0; u < streams; u++) L.push(`${I}let t${u} = f32x4.splat(0);`);
    L.push(`${I}let x = pa;`);
    L.push(`${I}for (let from = 0; from < steps; from += SPAN_STEPS) {`);
    L.push(`${I}  const end = x + (<usize>min(SPAN_STEPS, steps - from) << 4);`);
    for (let u = 0; u < streams; u++) {
      L.push(`${I}  ${Array.from({ length: c }, (_, j) => `let s${u}${j} = f32x4.splat(0);`).join(' ')}`);
    }
    L.push(`${I}  for (; x < end; x += 16) {`);
    L.push(`${I}    const x0 = v128.load(x);`);
    for (let u = 0; u < streams; u++) {
      L.push(
        `${I}    ${Array.from({ length: c }, (_, j) => `s${u}${j} = madd(x0, v128.load(p${u}, ${16 * j}), s${u}${j});`).join(' ')}`,
      );
    }
    L.push(`${I}    ${Array.from({ length: streams }, (_, u) => `p${u} += ${16 * c};`).join(' ')}`);
    L.push(`${I}  }`);
    // The first span's sums as they are (not added to +0, which would turn -0 into +0).
    for (let u = 0; u < streams; u++) {
      L.push(`${I}  const v${u} = hsum4(${lanes(u)});`);
      L.push(`${I}  t${u} = from === 0 ? v${u} : f32x4.add(t${u}, v${u});`);
    }
    L.push(`${I}}`);
    return L;
  };
  const L = [];
  L.push(
    `/** One query row x \`panels\` corpus panels of ${c} rows of \`steps\` steps (more than a span), spans summed in order, read as ${S} streams; \`cols\` valid corpus rows. */`,
  );
  L.push(
    `function streamLong${c}(pa: usize, pb: usize, panels: i32, steps: i32, out: usize, clamp: bool, cols: i32): void {`,
  );
  L.push(`  const panelBytes = (<usize>steps << 4) * ${c};`);
  L.push(`  const h = panels / ${S};`);
  L.push(`  const span = <usize>h * panelBytes;`);
  L.push(`  for (let g = 0; g < h; g++) {`);
  L.push(`    let p0 = pb + <usize>g * panelBytes;`);
  for (let u = 1; u < S; u++) L.push(`    let p${u} = p${u - 1} + span;`);
  L.push(...body(S, 4));
  for (let u = 0; u < S; u++) {
    L.push(`    {`);
    L.push(`      const k = g + ${u === 0 ? '0' : `${u} * h`};`);
    L.push(`      lone${c}Put(out + <usize>k * ${4 * c}, t${u}, clamp, cols - k * ${c});`);
    L.push(`    }`);
  }
  L.push(`  }`);
  L.push(`  for (let g = h * ${S}; g < panels; g++) {`);
  L.push(`    let p0 = pb + <usize>g * panelBytes;`);
  L.push(...body(1, 4));
  L.push(`    lone${c}Put(out + <usize>g * ${4 * c}, t0, clamp, cols - g * ${c});`);
  L.push(`  }`);
  L.push(`}`);
  return L.join('\n');
}

/** `rowsStreams(config, rows)`: the corpus streams of driver `config`'s rows tile of `rows` query rows. */
function rowsStreamsDispatcher() {
  const L = [];
  L.push(
    `/** Corpus streams a product of \`rows\` query rows (fewer than a tile's) reads at once in driver \`config\` (1 for a lone row: see \`streamC\`). */`,
  );
  L.push(`export function rowsStreams(config: i32, rows: i32): i32 {`);
  L.push(`  switch (config) {`);
  CONFIGS.forEach((cfg, i) => {
    L.push(`    case ${i}:`);
    for (let left = 2; left < cfg.r; left++)
      L.push(`      if (rows === ${left}) return ${rowsStreamsOf(left, cfg.c)};`);
    L.push(`      return ${LONE_STREAMS};`);
  });
  L.push(`    default: unreachable();`);
  L.push(`  }`);
  L.push(`  return 0;`);
  L.push(`}`);
  return L.join('\n');
}

function longDispatcher() {
  const L = [];
  L.push(
    `/** One query row \`a\` (\`steps\` steps, more than a span) x \`n\` corpus rows in the panels of driver \`config\` from \`b\`: \`streamLongC\`. */`,
  );
  L.push(
    `export function streamLongWith(config: i32, a: usize, b: usize, n: i32, steps: i32, out: usize, clamp: bool): void {`,
  );
  L.push(`  switch (config) {`);
  CONFIGS.forEach((cfg, i) => {
    L.push(
      `    case ${i}: streamLong${cfg.c}(a, b, (n + ${cfg.c - 1}) / ${cfg.c}, steps, out, clamp, n); break;`,
    );
  });
  L.push(`    default: unreachable();`);
  L.push(`  }`);
  L.push(`}`);
  return L.join('\n');
}

/** One query row x one corpus panel of C rows, one chain per output (the order of `streamC`). */
function loneTile(c) {
  const L = [];
  const accs = Array.from({ length: c }, (_, j) => `s${j}`);
  L.push(
    `/** Stores one query row's sums against one corpus panel of ${c} rows; \`cols\` valid corpus rows. */`,
  );
  L.push(`// @ts-ignore: decorator`);
  L.push(`@inline`);
  L.push(
    `function lone${c}Store(out: usize, ${accs.map((a) => `${a}: v128`).join(', ')}, clamp: bool, cols: i32): void {`,
  );
  L.push(`  lone${c}Put(out, hsum4(${sumLanes(c, (j) => `s${j}`)}), clamp, cols);`);
  L.push(`}`);
  L.push('');
  L.push(
    `/** One query row x one corpus panel of ${c} rows, one chain of multiply-adds per output; \`cols\` valid corpus rows. */`,
  );
  L.push(`function lone${c}(pa: usize, pb: usize, steps: i32, out: usize, clamp: bool, cols: i32): void {`);
  L.push(`  ${accs.map((a) => `let ${a} = f32x4.splat(0);`).join(' ')}`);
  L.push(`  const end = pa + (<usize>steps << 4);`);
  L.push(`  for (let x = pa; x < end; x += 16) {`);
  L.push(`    const x0 = v128.load(x);`);
  L.push(`    ${accs.map((a, j) => `${a} = madd(x0, v128.load(pb, ${16 * j}), ${a});`).join(' ')}`);
  L.push(`    pb += ${16 * c};`);
  L.push(`  }`);
  L.push(`  lone${c}Store(out, ${accs.join(', ')}, clamp, cols);`);
  L.push(`}`);
  return L.join('\n');
}

/**
 * `r` plain query rows (`rb` bytes apart, not a panel) x one corpus panel of C rows: the query rows
 * left over below a multiple of the tile's R, so that 2..R-1 of them (a search of 2, 3, 5, ...
 * queries) read each corpus panel once, as one query does, instead of once per query. Each output
 * is one chain of multiply-adds, like the tiles.
 */
function rowsTile(r, c) {
  const L = [];
  L.push(
    `/** ${r} plain query rows \`rb\` bytes apart x one corpus panel of ${c} rows; \`cols\` valid corpus rows. */`,
  );
  L.push(`// @ts-ignore: decorator`);
  L.push(`@inline`);
  L.push(
    `function rows${r}x${c}(pa: usize, rb: usize, pb: usize, steps: i32, out: usize, ldo: usize, clamp: bool, cols: i32): void {`,
  );
  for (let i = 0; i < r; i++) {
    L.push(`  ${Array.from({ length: c }, (_, j) => `let s${i}${j} = f32x4.splat(0);`).join(' ')}`);
  }
  for (let i = 1; i < r; i++) L.push(`  const pa${i} = pa + ${i === 1 ? 'rb' : `${i} * rb`};`);
  L.push(`  const end = <usize>steps << 4;`);
  L.push(`  for (let o: usize = 0; o < end; o += 16) {`);
  for (let i = 0; i < r; i++) L.push(`    const x${i} = v128.load(${i === 0 ? 'pa' : `pa${i}`} + o);`);
  for (let j = 0; j < c; j++) L.push(`    const y${j} = v128.load(pb, ${16 * j});`);
  for (let i = 0; i < r; i++) {
    L.push(
      `    ${Array.from({ length: c }, (_, j) => `s${i}${j} = madd(x${i}, y${j}, s${i}${j});`).join(' ')}`,
    );
  }
  L.push(`    pb += ${16 * c};`);
  L.push(`  }`);
  L.push(
    ...stores(
      r,
      c,
      (i, j) => `s${i}${j}`,
      (i, j) => `out + ${i === 0 ? '' : `${i} * ldo + `}${4 * j}`,
    ),
  );
  L.push(`}`);
  return L.join('\n');
}

/**
 * Corpus streams of a rows tile of r query rows: as many as keep r x C x S accumulators, the r
 * query vectors, one corpus vector and the multiply's temporary in V8's 15 vector registers (at
 * most 4), and only where each panel's outputs are stored exactly (C = 2 or a multiple of 4, see
 * `stores`), since the panels of S streams are not written in order.
 */
function rowsStreamsOf(r, c) {
  if (!(c === 2 || c % 4 === 0)) return 1;
  let s = 1;
  while (s < 4 && r * c * (s + 1) + r + 2 <= 15) s++;
  return s;
}

/**
 * `r` plain query rows x `panels` corpus panels of C rows, the panels cut into S parts read side by
 * side as for one row (`streamTile`), the panels left over one at a time by `rowsRxC`. The same
 * chain of multiply-adds per output as `rowsRxC`, so the bits do not depend on the part.
 */
function rowsStreamTile(r, c) {
  const S = rowsStreamsOf(r, c);
  const L = [];
  L.push(
    `/** ${r} plain query rows \`rb\` bytes apart x \`panels\` corpus panels of ${c} rows, read as ${S} streams; \`cols\` valid corpus rows. */`,
  );
  L.push(
    `function rowsStream${r}x${c}(pa: usize, rb: usize, pb: usize, panels: i32, steps: i32, stride: i32, out: usize, ldo: usize, clamp: bool, cols: i32): void {`,
  );
  L.push(`  const panelBytes = (<usize>stride << 4) * ${c};`);
  L.push(`  const h = panels / ${S};`);
  L.push(`  const span = <usize>h * panelBytes;`);
  L.push(`  const end = <usize>steps << 4;`);
  for (let i = 1; i < r; i++) L.push(`  const pa${i} = pa + ${i === 1 ? 'rb' : `${i} * rb`};`);
  L.push(`  for (let g = 0; g < h; g++) {`);
  for (let u = 0; u < S; u++) {
    for (let i = 0; i < r; i++) {
      L.push(`    ${Array.from({ length: c }, (_, j) => `let s${u}_${i}${j} = f32x4.splat(0);`).join(' ')}`);
    }
  }
  L.push(`    let p0 = pb + <usize>g * panelBytes;`);
  for (let u = 1; u < S; u++) L.push(`    let p${u} = p${u - 1} + span;`);
  L.push(`    for (let o: usize = 0; o < end; o += 16) {`);
  for (let i = 0; i < r; i++) L.push(`      const x${i} = v128.load(${i === 0 ? 'pa' : `pa${i}`} + o);`);
  for (let u = 0; u < S; u++) {
    for (let j = 0; j < c; j++) {
      L.push(`      { const y = v128.load(p${u}, ${16 * j});`);
      L.push(
        `        ${Array.from({ length: r }, (_, i) => `s${u}_${i}${j} = madd(x${i}, y, s${u}_${i}${j});`).join(' ')} }`,
      );
    }
  }
  L.push(`      ${Array.from({ length: S }, (_, u) => `p${u} += ${16 * c};`).join(' ')}`);
  L.push(`    }`);
  for (let u = 0; u < S; u++) {
    L.push(`    {`);
    L.push(`      const k = g + ${u === 0 ? '0' : `${u} * h`};`);
    L.push(`      const at = out + <usize>k * ${4 * c};`);
    L.push(`      const left = cols - k * ${c};`);
    L.push(
      ...stores(
        r,
        c,
        (i, j) => `s${u}_${i}${j}`,
        (i, j) => `at + ${i === 0 ? '' : `${i} * ldo + `}${4 * j}`,
      ).map((line) => `    ${line.replaceAll('cols', 'left')}`),
    );
    L.push(`    }`);
  }
  L.push(`  }`);
  L.push(`  let pl = pb + <usize>(h * ${S}) * panelBytes;`);
  L.push(`  for (let g = h * ${S}; g < panels; g++) {`);
  L.push(`    rows${r}x${c}(pa, rb, pl, steps, out + <usize>g * ${4 * c}, ldo, clamp, cols - g * ${c});`);
  L.push(`    pl += panelBytes;`);
  L.push(`  }`);
  L.push(`}`);
  return L.join('\n');
}

/**
 * A driver: `out[i * ldo + j] = A_i . B_j` for i < m, j < n. A holds `m - m % R` rows in panels of
 * R, then the rest as plain rows; B holds ceil(n / C) panels of C. Blocks over B's panels (`nbp`
 * at a time, kept in cache while every query panel passes over them; with fewer than R query rows
 * no panel is read twice, so all of B is one block). Every path sums each output in one chain of
 * multiply-adds over the steps in order, reduced by `hsum`: a query row scores the same bits alone,
 * in a panel, or left over.
 */
function driver(cfg) {
  const { r, c } = cfg;
  const L = [];
  L.push(
    `function dots${name(cfg)}(a: usize, m: i32, b: usize, n: i32, steps: i32, out: usize, ldo: usize, clamp: bool, nbp: i32, stride: i32, from: i32, touch: bool): void {`,
  );
  // Rows are \`stride\` steps long; the sums run over steps [from, from + steps) of them (one span
  // of a long row: see \`dotsWith\`).
  L.push(`  const rowBytes = <usize>stride << 4;`);
  L.push(`  const skip = <usize>from << 4;`);
  L.push(`  const panelBytes = rowBytes * ${c};`);
  L.push(`  const np = (n + ${c - 1}) / ${c};`);
  L.push(`  const mFull = m - m % ${r};`);
  // Fewer query rows than a tile: no panel is read twice, so blocking gains nothing, and one block
  // of every panel lets a lone row stream the whole corpus; unless they touch each block first
  // (see \`touchFirst\` in src/engine.ts), which needs blocks that fit in cache.
  L.push(`  const nb = mFull > 0 || touch ? nbp : np;`);
  L.push(`  for (let g0 = 0; g0 < np; g0 += nb) {`);
  L.push(`    const g1 = min(np, g0 + nb);`);
  L.push(`    let pa = a + skip * ${r};`);
  L.push(`    let po = out + <usize>g0 * ${4 * c};`);
  L.push(`    let i = 0;`);
  L.push(
    `    if (touch) touchPanels(b + <usize>g0 * panelBytes + skip * ${c}, g1 - g0, panelBytes, <usize>steps * ${16 * c});`,
  );
  L.push(`    for (; i < mFull; i += ${r}) {`);
  L.push(`      let pb = b + <usize>g0 * panelBytes + skip * ${c};`);
  L.push(`      let pj = po;`);
  L.push(`      for (let g = g0; g < g1; g++) {`);
  L.push(`        tile${r}x${c}(pa, pb, steps, pj, ldo, clamp, n - g * ${c});`);
  L.push(`        pb += panelBytes;`);
  L.push(`        pj += ${4 * c};`);
  L.push(`      }`);
  L.push(`      pa += rowBytes * ${r};`);
  L.push(`      po += ldo * ${r};`);
  L.push(`    }`);
  // The plain rows left over: rows of \`rowBytes\`, from step \`from\` of each.
  L.push(`    pa = a + <usize>mFull * rowBytes + skip;`);
  // 2..R-1 rows left over: one pass of a rows tile over the block (each panel read once).
  for (let left = 2; left < r; left++) {
    if (rowsStreamsOf(left, c) > 1) {
      L.push(`    if (m - i === ${left}) {`);
      L.push(
        `      rowsStream${left}x${c}(pa, rowBytes, b + <usize>g0 * panelBytes + skip * ${c}, g1 - g0, steps, stride, po, ldo, clamp, n - g0 * ${c});`,
      );
      L.push(`      i = m;`);
      L.push(`    }`);
      continue;
    }
    L.push(`    if (m - i === ${left}) {`);
    L.push(`      let pb = b + <usize>g0 * panelBytes + skip * ${c};`);
    L.push(`      let pj = po;`);
    L.push(`      for (let g = g0; g < g1; g++) {`);
    L.push(`        rows${left}x${c}(pa, rowBytes, pb, steps, pj, ldo, clamp, n - g * ${c});`);
    L.push(`        pb += panelBytes;`);
    L.push(`        pj += ${4 * c};`);
    L.push(`      }`);
    L.push(`      i = m;`);
    L.push(`    }`);
  }
  // A lone query row (m = 1, or one left over below a multiple of R): a stream over the block.
  L.push(`    if (m - i === 1) {`);
  L.push(
    `      stream${c}(pa, b + <usize>g0 * panelBytes + skip * ${c}, g1 - g0, steps, stride, po, clamp, n - g0 * ${c});`,
  );
  L.push(`    }`);
  L.push(`  }`);
  L.push(`}`);
  return L.join('\n');
}

/**
 * The d-blocked forms of the tiles: the same loop over `steps` steps from `pa` and `pb`, with each
 * accumulator started from zero (`first`) or from its value stored in `acc` by the previous block
 * of steps (rows `lda` bytes apart, outputs 16 bytes apart), and at the end either stored back
 * there (a v128 each: the four lanes of the chain carry on unchanged) or, after the last block
 * (`last`), reduced and stored. Each output is thus the same chain of multiply-adds over the steps
 * in order as in the undivided tiles: the same bits.
 */
function carried(r, c, acc, load) {
  const zero = [];
  for (let i = 0; i < r; i++) {
    zero.push(`  ${Array.from({ length: c }, (_, j) => `let ${acc(i, j)} = f32x4.splat(0);`).join(' ')}`);
  }
  const loads = [];
  for (let i = 0; i < r; i++) {
    loads.push(
      `    ${Array.from({ length: c }, (_, j) => `${acc(i, j)} = v128.load(${load(i)}, ${16 * j});`).join(' ')}`,
    );
  }
  const save = [];
  for (let i = 0; i < r; i++) {
    save.push(
      `    ${Array.from({ length: c }, (_, j) => `v128.store(${load(i)}, ${acc(i, j)}, ${16 * j});`).join(' ')}`,
    );
  }
  return { zero, loads, save };
}

/** Stores of r rows (`ldo` bytes apart) as `loneCStore` stores one: exactly C floats a row. */
function exactRowStores(r, c, acc, out = 'out', cols = 'cols') {
  const L = [];
  for (let i = 0; i < r; i++) {
    const args = Array.from({ length: c }, (_, j) => acc(i, j)).join(', ');
    L.push(`  lone${c}Store(${out}${i === 0 ? '' : ` + ${i} * ldo`}, ${args}, clamp, ${cols});`);
  }
  return L;
}

/** {@link tile} over one block of steps, carrying its sums in `acc` (see `carried`). */
function blockTile(r, c) {
  const L = [];
  const acc = (i, j) => `s${i}${j}`;
  const at = (i) => (i === 0 ? 'acc' : `acc + ${i} * lda`);
  const { zero, loads, save } = carried(r, c, acc, at);
  L.push(`/** ${r} query rows x ${c} corpus rows over one block of steps, sums carried in \`acc\`. */`);
  L.push(
    `function block${r}x${c}(pa: usize, pb: usize, steps: i32, acc: usize, lda: usize, first: bool, last: bool, out: usize, ldo: usize, clamp: bool, cols: i32): void {`,
  );
  L.push(...zero, `  if (!first) {`, ...loads, `  }`);
  L.push(`  const end = pa + <usize>steps * ${16 * r};`);
  L.push(`  while (pa < end) {`);
  for (let i = 0; i < r; i++) L.push(`    const x${i} = v128.load(pa, ${16 * i});`);
  for (let j = 0; j < c; j++) L.push(`    const y${j} = v128.load(pb, ${16 * j});`);
  for (let i = 0; i < r; i++) {
    L.push(
      `    ${Array.from({ length: c }, (_, j) => `${acc(i, j)} = madd(x${i}, y${j}, ${acc(i, j)});`).join(' ')}`,
    );
  }
  L.push(`    pa += ${16 * r};`);
  L.push(`    pb += ${16 * c};`);
  L.push(`  }`);
  L.push(`  if (!last) {`, ...save, `    return;`, `  }`);
  L.push(...exactRowStores(r, c, acc));
  L.push(`}`);
  return L.join('\n');
}

/** Whether two query rows x two panels of C fit V8's 15 vector registers: 4C sums, 2 rows, a corpus vector, a temporary. */
const dualOK = (r, c) => r % 2 === 0 && 4 * c + 4 <= 15;

/**
 * The drivers that have a d-blocked form: those whose tile splits into 2-row halves that fit two
 * corpus streams (`dualTile`; 4x2 and 2x2). Walking the streams one after the other instead ran
 * 0.7-0.9x the undivided driver, so the other tiles run undivided whatever the block size (and the
 * module stays smaller).
 */
const BLOCKED = CONFIGS.filter((cfg) => dualOK(cfg.r, cfg.c));

/**
 * Two query rows of a panel of R (`pa`, chunks `16 * R` bytes apart) x two corpus panels of C rows
 * far apart (`pb0`, `pb1`), over one block of steps, sums carried in `acc0` / `acc1` (see
 * `carried`): both corpus streams are read in the same loop, as `streamTile` reads its parts (one
 * panel after the other, block by block, read 0.7-0.9x as fast as one panel undivided at
 * 8 x 10,000 x 3072; both in one loop, 1.1-1.26x).
 */
function dualTile(R, c) {
  const L = [];
  const acc = (u) => (i, j) => `s${u}${i}${j}`;
  const at = (u) => (i) => (i === 0 ? `acc${u}` : `acc${u} + ${i} * lda`);
  const A = [carried(2, c, acc(0), at(0)), carried(2, c, acc(1), at(1))];
  L.push(
    `/** 2 rows of a ${R}-row query panel x 2 far-apart corpus panels of ${c} rows, one block of steps. */`,
  );
  L.push(
    `function dual${R}x${c}(pa: usize, pb0: usize, pb1: usize, steps: i32, acc0: usize, acc1: usize, lda: usize, first: bool, last: bool, out0: usize, out1: usize, ldo: usize, clamp: bool, cols0: i32, cols1: i32): void {`,
  );
  L.push(...A[0].zero, ...A[1].zero, `  if (!first) {`, ...A[0].loads, ...A[1].loads, `  }`);
  L.push(`  const end = pa + <usize>steps * ${16 * R};`);
  L.push(`  while (pa < end) {`);
  L.push(`    const x0 = v128.load(pa);`);
  L.push(`    const x1 = v128.load(pa, 16);`);
  for (let u = 0; u < 2; u++) {
    for (let j = 0; j < c; j++) {
      L.push(
        `    { const y = v128.load(pb${u}, ${16 * j}); ${acc(u)(0, j)} = madd(x0, y, ${acc(u)(0, j)}); ${acc(u)(1, j)} = madd(x1, y, ${acc(u)(1, j)}); }`,
      );
    }
  }
  L.push(`    pa += ${16 * R};`);
  L.push(`    pb0 += ${16 * c};`);
  L.push(`    pb1 += ${16 * c};`);
  L.push(`  }`);
  L.push(`  if (!last) {`, ...A[0].save, ...A[1].save, `    return;`, `  }`);
  for (let u = 0; u < 2; u++) L.push(...exactRowStores(2, c, acc(u), `out${u}`, `cols${u}`));
  L.push(`}`);
  return L.join('\n');
}

/** {@link rowsTile} (r plain rows `rb` bytes apart; r = 1: {@link loneTile}) over one block of steps. */
function blockRows(r, c) {
  const L = [];
  const acc = (i, j) => `s${i}${j}`;
  const at = (i) => (i === 0 ? 'acc' : `acc + ${i} * lda`);
  const { zero, loads, save } = carried(r, c, acc, at);
  L.push(`/** ${r} plain query rows x ${c} corpus rows over one block of steps, sums carried in \`acc\`. */`);
  L.push(
    `function blockRows${r}x${c}(pa: usize, rb: usize, pb: usize, steps: i32, acc: usize, lda: usize, first: bool, last: bool, out: usize, ldo: usize, clamp: bool, cols: i32): void {`,
  );
  L.push(...zero, `  if (!first) {`, ...loads, `  }`);
  for (let i = 1; i < r; i++) L.push(`  const pa${i} = pa + ${i === 1 ? 'rb' : `${i} * rb`};`);
  L.push(`  const end = <usize>steps << 4;`);
  L.push(`  for (let o: usize = 0; o < end; o += 16) {`);
  for (let i = 0; i < r; i++) L.push(`    const x${i} = v128.load(${i === 0 ? 'pa' : `pa${i}`} + o);`);
  for (let j = 0; j < c; j++) L.push(`    const y${j} = v128.load(pb, ${16 * j});`);
  for (let i = 0; i < r; i++) {
    L.push(
      `    ${Array.from({ length: c }, (_, j) => `${acc(i, j)} = madd(x${i}, y${j}, ${acc(i, j)});`).join(' ')}`,
    );
  }
  L.push(`    pb += ${16 * c};`);
  L.push(`  }`);
  L.push(`  if (!last) {`, ...save, `    return;`, `  }`);
  L.push(...exactRowStores(r, c, acc));
  L.push(`}`);
  return L.join('\n');
}

/**
 * One window of the d-blocked driver: the `count` corpus panels `g`, `g + h`, `g + 2h`, ... (far
 * apart, so the memory system sees `count` sequential streams, as in `streamTile`), block of steps
 * by block, every query row (full panels, then the plain rows left over) against every panel of
 * the window; two panels at a time in one loop (`dualTile`) where the tile allows. Sums of panel u
 * carried at `acc + u * C * 16`, query rows `lda` bytes apart.
 */
function blockWindow(cfg) {
  const { r, c } = cfg;
  const L = [];
  L.push(
    `function window${name(cfg)}(a: usize, m: i32, b: usize, n: i32, steps: i32, out: usize, ldo: usize, clamp: bool, kb: i32, acc: usize, lda: usize, g: i32, h: i32, count: i32): void {`,
  );
  L.push(`  const rowBytes = <usize>steps << 4;`);
  L.push(`  const panelBytes = rowBytes * ${c};`);
  L.push(`  const mFull = m - m % ${r};`);
  L.push(`  const left = m - mFull;`);
  L.push(`  const plain = a + <usize>mFull * rowBytes;`);
  L.push(`  for (let k0 = 0; k0 < steps; k0 += kb) {`);
  L.push(`    const ks = min(kb, steps - k0);`);
  L.push(`    const first = k0 === 0;`);
  L.push(`    const last = k0 + ks === steps;`);
  L.push(`    const pa0 = a + (<usize>k0 << 4) * ${r};`);
  L.push(`    const pl = plain + (<usize>k0 << 4);`);
  L.push(`    let u = 0;`);
  if (dualOK(r, c)) {
    L.push(`    for (; u + 1 < count; u += 2) {`);
    L.push(`      const g0 = g + u * h;`);
    L.push(`      const g1 = g0 + h;`);
    L.push(`      const pb0 = b + <usize>g0 * panelBytes + (<usize>k0 << 4) * ${c};`);
    L.push(`      const pb1 = b + <usize>g1 * panelBytes + (<usize>k0 << 4) * ${c};`);
    L.push(`      const pc0 = acc + <usize>u * ${16 * c};`);
    L.push(`      const pc1 = pc0 + ${16 * c};`);
    L.push(`      const pj0 = out + <usize>g0 * ${4 * c};`);
    L.push(`      const pj1 = out + <usize>g1 * ${4 * c};`);
    L.push(`      let pa = pa0;`);
    L.push(`      for (let i = 0; i < mFull; i += ${r}) {`);
    for (let t = 0; t < r; t += 2) {
      L.push(
        `        dual${r}x${c}(pa + ${16 * t}, pb0, pb1, ks, pc0 + <usize>(i + ${t}) * lda, pc1 + <usize>(i + ${t}) * lda, lda, first, last, pj0 + <usize>(i + ${t}) * ldo, pj1 + <usize>(i + ${t}) * ldo, ldo, clamp, n - g0 * ${c}, n - g1 * ${c});`,
      );
    }
    L.push(`        pa += rowBytes * ${r};`);
    L.push(`      }`);
    for (let k = 1; k < r; k++) {
      L.push(`      if (left === ${k}) {`);
      L.push(
        `        blockRows${k}x${c}(pl, rowBytes, pb0, ks, pc0 + <usize>mFull * lda, lda, first, last, pj0 + <usize>mFull * ldo, ldo, clamp, n - g0 * ${c});`,
      );
      L.push(
        `        blockRows${k}x${c}(pl, rowBytes, pb1, ks, pc1 + <usize>mFull * lda, lda, first, last, pj1 + <usize>mFull * ldo, ldo, clamp, n - g1 * ${c});`,
      );
      L.push(`      }`);
    }
    L.push(`    }`);
  }
  L.push(`    for (; u < count; u++) {`);
  L.push(`      const gu = g + u * h;`);
  L.push(`      const pb = b + <usize>gu * panelBytes + (<usize>k0 << 4) * ${c};`);
  L.push(`      const pc = acc + <usize>u * ${16 * c};`);
  L.push(`      const pj = out + <usize>gu * ${4 * c};`);
  L.push(`      const cols = n - gu * ${c};`);
  L.push(`      let pa = pa0;`);
  L.push(`      for (let i = 0; i < mFull; i += ${r}) {`);
  L.push(
    `        block${r}x${c}(pa, pb, ks, pc + <usize>i * lda, lda, first, last, pj + <usize>i * ldo, ldo, clamp, cols);`,
  );
  L.push(`        pa += rowBytes * ${r};`);
  L.push(`      }`);
  L.push(`      const pcl = pc + <usize>mFull * lda;`);
  L.push(`      const pjl = pj + <usize>mFull * ldo;`);
  for (let k = 1; k < r; k++) {
    L.push(
      `      if (left === ${k}) blockRows${k}x${c}(pl, rowBytes, pb, ks, pcl, lda, first, last, pjl, ldo, clamp, cols);`,
    );
  }
  L.push(`    }`);
  L.push(`  }`);
  L.push(`}`);
  return L.join('\n');
}

/**
 * The d-blocked driver: {@link driver}'s products with the steps (the reduction) cut into blocks
 * of `kb` (`kb` >= steps: one block), for queries whose rows do not stay in L1 over a corpus
 * panel's whole length (a few queries at large d: a 4-row panel is 48 KiB at d = 3072). The corpus
 * is cut into `wp` (at most `wmax`) equal parts walked side by side (`blockWindow`: panel g of
 * every part, then g + 1, ...), so each part is one sequential stream, each block of a corpus
 * panel is read from memory once and meets every query row while in L1, and one block of all query
 * rows stays in L1 across the window. Panels left over go as one last window of neighbours. Sums
 * are carried between blocks in this thread's scratch (`blockScratch`); outputs are stored exactly
 * (never past a panel's columns: windows are not written in column order). Each output is the same
 * chain of multiply-adds over the steps in order as in `dotsRxC`: the same bits. Runs `dotsRxC`
 * instead when there is no scratch for this thread or it cannot hold one panel's sums.
 */
function blockDriver(cfg) {
  const { c } = cfg;
  const L = [];
  L.push(
    `function dotsBlocked${name(cfg)}(a: usize, m: i32, b: usize, n: i32, steps: i32, out: usize, ldo: usize, clamp: bool, nbp: i32, kb: i32, wmax: i32): void {`,
  );
  L.push(`  const acc = blockScratch();`);
  L.push(`  const np = (n + ${c - 1}) / ${c};`);
  L.push(`  const wp = min(np, min(wmax, BLOCK_SCRATCH_BYTES / (m * ${16 * c})));`);
  L.push(`  if (kb <= 0 || acc === 0 || wp < 1) {`);
  L.push(`    dots${name(cfg)}(a, m, b, n, steps, out, ldo, clamp, nbp, steps, 0, false);`);
  L.push(`    return;`);
  L.push(`  }`);
  L.push(`  const lda = <usize>wp * ${16 * c};`);
  L.push(`  const h = np / wp;`);
  L.push(
    `  for (let g = 0; g < h; g++) window${name(cfg)}(a, m, b, n, steps, out, ldo, clamp, kb, acc, lda, g, h, wp);`,
  );
  L.push(
    `  if (h * wp < np) window${name(cfg)}(a, m, b, n, steps, out, ldo, clamp, kb, acc, lda, h * wp, 1, np - h * wp);`,
  );
  L.push(`}`);
  return L.join('\n');
}

/**
 * Per-thread scratch of the d-blocked drivers: `BLOCK_SCRATCH_SLOTS` slots of memory below the JS
 * heap, one claimed by each instance of the module (each thread has its own instance over the same
 * memory, and its own globals) on its first use, by an atomic counter in threaded builds. An
 * instance beyond the last slot gets none (0) and runs the undivided drivers: the same bits, only
 * slower.
 */
function scratchCode() {
  return `/** Bytes of one thread's scratch: sums carried between blocks of steps, 16 bytes per output. */
export const BLOCK_SCRATCH_BYTES = 6144;
/** Threads that can have scratch (with the rest, within the initial 2 pages of memory). */
const BLOCK_SCRATCH_SLOTS: i32 = ASC_FEATURE_THREADS ? 16 : 1;

/**
 * Start of the scratch area: right above the static data, below the first byte the JS allocator
 * uses (heapBase is {@link blockAreaEnd}). Not static data itself, so that no data segment
 * rewrites its slot counter when another thread instantiates the module over the same memory.
 */
// @ts-ignore: decorator
@inline
function blockArea(): usize {
  return (__heap_base + 63) & ~63;
}

/** First byte after the scratch area. */
export function blockAreaEnd(): usize {
  return blockArea() + 64 + <usize>BLOCK_SCRATCH_SLOTS * BLOCK_SCRATCH_BYTES;
}

/** This instance's scratch: 0 until claimed, 1 when there was no slot left. */
let blockSlot: usize = 0;

/** This thread's scratch of {@link BLOCK_SCRATCH_BYTES} bytes, or 0 when it has none. */
function blockScratch(): usize {
  if (blockSlot === 0) {
    let s = 0;
    if (ASC_FEATURE_THREADS) s = atomic.add<i32>(blockArea(), 1);
    blockSlot = s < BLOCK_SCRATCH_SLOTS ? blockArea() + 64 + <usize>s * BLOCK_SCRATCH_BYTES : 1;
  }
  return blockSlot === 1 ? 0 : blockSlot;
}`;
}

/**
 * The touch pass of a few-query product (the drivers' \`touch\`): one load of every 64-byte line of
 * \`count\` corpus panel spans (\`len\` bytes from \`p\` on, panels \`panelBytes\` apart), in a loop
 * that does nothing else, before the query panels pass over them. Wasm has no prefetch
 * instruction; here the loads are independent and many are in flight at once, so the block comes
 * in at about the rate of a streaming read, where the first query panel's tile, reading it as it
 * computes, leaves only a few misses in flight (and the prefetcher stops at every 4 KiB page). The
 * words' sum goes to a spare word of the scratch area's header, so no optimiser drops the loads.
 */
function touchCode() {
  return `/** One load of every 64-byte line of \`count\` panel spans before a few-query product (see scripts/gen.mjs). */
function touchPanels(p: usize, count: i32, panelBytes: usize, len: usize): void {
  let t: i32 = 0;
  for (let g = 0; g < count; g++) {
    const e = p + len;
    for (let x = p; x < e; x += 64) t += i32.load(x);
    p += panelBytes;
  }
  i32.store(blockArea(), t, 8);
}`;
}

function blockDispatcher() {
  const L = [];
  L.push(
    `/** Runs driver \`config\` (as \`dotsWith\`) with the steps in blocks of \`kb\` over at most \`wmax\` corpus streams (see the d-blocked drivers; a tile without one runs undivided). */`,
  );
  L.push(
    `export function dotsBlockedWith(config: i32, a: usize, m: i32, b: usize, n: i32, steps: i32, out: usize, ldo: usize, clamp: bool, nbp: i32, kb: i32, wmax: i32): void {`,
  );
  L.push(`  switch (config) {`);
  CONFIGS.forEach((cfg, i) => {
    L.push(
      dualOK(cfg.r, cfg.c)
        ? `    case ${i}: dotsBlocked${name(cfg)}(a, m, b, n, steps, out, ldo, clamp, nbp, kb, wmax); break;`
        : `    case ${i}: dots${name(cfg)}(a, m, b, n, steps, out, ldo, clamp, nbp, steps, 0, false); break;`,
    );
  });
  L.push(`    default: unreachable();`);
  L.push(`  }`);
  L.push(`}`);
  return L.join('\n');
}

function dispatcher() {
  const L = [];
  L.push(`/** Runs driver \`config\`: ${CONFIGS.map((c, i) => `${i} = ${name(c)}`).join(', ')}. */`);
  L.push(
    `export function dotsWith(config: i32, a: usize, m: i32, b: usize, n: i32, steps: i32, out: usize, ldo: usize, clamp: bool, nbp: i32, stride: i32, from: i32, touch: bool): void {`,
  );
  L.push(`  switch (config) {`);
  CONFIGS.forEach((cfg, i) => {
    L.push(
      `    case ${i}: dots${name(cfg)}(a, m, b, n, steps, out, ldo, clamp, nbp, stride, from, touch); break;`,
    );
  });
  L.push(`    default: unreachable();`);
  L.push(`  }`);
  L.push(`}`);
  return L.join('\n');
}

/** `panelRows(config)`: the corpus rows of driver \`config\`'s panels (its C). */
function panelRowsDispatcher() {
  const L = [];
  L.push(
    `/** Corpus rows per panel of driver \`config\`: ${CONFIGS.map((c, i) => `${i} = ${c.c}`).join(', ')}. */`,
  );
  L.push(`export function panelRows(config: i32): i32 {`);
  L.push(`  switch (config) {`);
  CONFIGS.forEach((cfg, i) => {
    L.push(`    case ${i}: return ${cfg.c};`);
  });
  L.push(`    default: unreachable();`);
  L.push(`  }`);
  L.push(`  return 0;`);
  L.push(`}`);
  return L.join('\n');
}

const tiles = new Map();
const few = new Map();
const lone = new Map();
const blocked = new Map();
for (const cfg of CONFIGS) {
  tiles.set(name(cfg), tile(cfg.r, cfg.c));
  if (dualOK(cfg.r, cfg.c)) {
    blocked.set(name(cfg), blockTile(cfg.r, cfg.c));
    blocked.set(`d${name(cfg)}`, dualTile(cfg.r, cfg.c));
    for (let left = 1; left < cfg.r; left++) blocked.set(`r${left}x${cfg.c}`, blockRows(left, cfg.c));
  }
  lone.set(
    `${cfg.c}`,
    `${lonePut(cfg.c)}\n\n${loneTile(cfg.c)}\n\n${streamTile(cfg.c)}\n\n${longStreamTile(cfg.c)}`,
  );
  for (let left = 2; left < cfg.r; left++) {
    few.set(`${left}x${cfg.c}`, rowsTile(left, cfg.c));
    if (rowsStreamsOf(left, cfg.c) > 1) few.set(`s${left}x${cfg.c}`, rowsStreamTile(left, cfg.c));
  }
}

const src = [
  '// Generated by scripts/gen.mjs: do not edit.',
  "import { clamp4, hsum4, madd, put } from './simd';",
  "import { SPAN_STEPS } from '../spans';",
  ...tiles.values(),
  ...lone.values(),
  ...few.values(),
  ...CONFIGS.map(driver),
  dispatcher(),
  panelRowsDispatcher(),
  longDispatcher(),
  rowsStreamsDispatcher(),
  touchCode(),
  ...blocked.values(),
  scratchCode(),
  ...BLOCKED.map(blockWindow),
  ...BLOCKED.map(blockDriver),
  blockDispatcher(),
  '',
].join('\n\n');

/**
 * The helpers every kernel inlines. Generated too, because AssemblyScript's `@inline` decorator on
 * a function is not TypeScript and the linter cannot parse it.
 */
const simd = `// Generated by scripts/gen.mjs: do not edit.
// The same sources build two binaries: plain SIMD, and relaxed SIMD where \`madd\` becomes one fused
// \`f32x4.relaxed_madd\` (asc folds the constant branch away).

/** \`c + a * b\` on four lanes: fused with relaxed SIMD, a multiply then an add without. */
// @ts-ignore: decorator
@inline
export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(c, f32x4.mul(a, b));
}

/** Sum of the four lanes, pairwise. */
// @ts-ignore: decorator
@inline
export function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/** Lane sums of four vectors as one vector, each added in the order of \`hsum\`. */
// @ts-ignore: decorator
@inline
export function hsum4(a: v128, b: v128, c: v128, d: v128): v128 {
  // [a0+a1, b0+b1, a2+a3, b2+b3] and the same for c, d; then the pairs of halves.
  const ab = f32x4.add(v128.shuffle<f32>(a, b, 0, 4, 2, 6), v128.shuffle<f32>(a, b, 1, 5, 3, 7));
  const cd = f32x4.add(v128.shuffle<f32>(c, d, 0, 4, 2, 6), v128.shuffle<f32>(c, d, 1, 5, 3, 7));
  return f32x4.add(v128.shuffle<f32>(ab, cd, 0, 1, 4, 5), v128.shuffle<f32>(ab, cd, 2, 3, 6, 7));
}

/** \`v\` clamped to [-1, 1] lane-wise when the sums are cosines (pmin/pmax: one instruction each). */
// @ts-ignore: decorator
@inline
export function clamp4(v: v128, clamp: bool): v128 {
  if (!clamp) return v;
  return f32x4.pmin(f32x4.pmax(v, f32x4.splat(-1)), f32x4.splat(1));
}

/**
 * Four floats times a float64 scale, rounded once to float32. Scaling in float32 would round the
 * scale and then the product: a row of one positive value would come out as 1 - 2^-24 or 1 + 2^-23
 * depending on its magnitude, so rows pointing the same way would score differently and ties at
 * the top of a search would be broken by rounding, not by index. In float64 the product is within
 * 2^-52 of the exact quotient, so it rounds to the float32 nearest the exact one (1 for those rows).
 */
// @ts-ignore: decorator
@inline
export function scale4(v: v128, s: v128): v128 {
  const lo = f64x2.mul(f64x2.promote_low_f32x4(v), s);
  const hi = f64x2.mul(f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 2, 3)), s);
  return v128.shuffle<f32>(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 1, 4, 5);
}

/** Stores the lane sum of \`v\` at \`ptr\`, clamped to [-1, 1] when the sums are cosines. */
// @ts-ignore: decorator
@inline
export function put(ptr: usize, v: v128, clamp: bool): void {
  let s = hsum(v);
  if (clamp) s = min<f32>(max<f32>(s, -1), 1);
  store<f32>(ptr, s);
}
`;

/**
 * The sparse side of `matmul` (see assembly/sparse.ts): `out` (`m x n`) = S B over the non-zeros
 * of the compressed matrix S, row i of the output kept in memory (it stays in L1) while the rows
 * of B named by row i of S stream past it, G of them per pass (G = 8, then 4, then 1 for the
 * last few): per 16-byte column chunk, one load and one store of the output for G multiply-adds,
 * each B row read in order (prefetched). The columns go 64 at a time (16 chunks, each a chain of
 * G multiply-adds onto its own output chunk), then 16, then 4, then one: the loop's own
 * instructions (V8 also checks for interrupts on every back edge) are paid once per 64 columns.
 * Every output is the sum of its terms in the non-zeros' order from +0, whatever G and the column
 * step: the same bits as any other grouping.
 */
const SPARSE_GROUPS = [8, 4, 1];
const SPARSE_STEPS = [64, 16, 4];

function sparseGroup(G) {
  const L = [];
  const I = '    ';
  L.push(`${I}for (; q + ${G} <= q1; q += ${G}) {`);
  L.push(`${I}  const e = (<usize>q) << 2;`);
  for (let u = 0; u < G; u++) {
    L.push(`${I}  const x${u} = load<f32>(val + e, ${4 * u});`);
    L.push(`${I}  const s${u} = f32x4.splat(x${u});`);
    L.push(`${I}  const p${u} = b + <usize>load<i32>(idx + e, ${4 * u}) * rowBytes;`);
  }
  L.push(`${I}  let j = 0;`);
  for (const W of SPARSE_STEPS) {
    L.push(`${I}  for (; j + ${W} <= n; j += ${W}) {`);
    L.push(`${I}    const c = (<usize>j) << 2;`);
    for (let k = 0; k < W / 4; k++) {
      L.push(`${I}    let acc${k} = v128.load(o + c, ${16 * k});`);
      L.push(
        `${I}    ${Array.from({ length: G }, (_, u) => `acc${k} = madd(s${u}, v128.load(p${u} + c, ${16 * k}), acc${k});`).join(' ')}`,
      );
      L.push(`${I}    v128.store(o + c, acc${k}, ${16 * k});`);
    }
    L.push(`${I}  }`);
  }
  L.push(`${I}  for (; j < n; j++) {`);
  L.push(`${I}    const c = (<usize>j) << 2;`);
  L.push(`${I}    let acc = load<f32>(o + c);`);
  L.push(`${I}    ${Array.from({ length: G }, (_, u) => `acc += x${u} * load<f32>(p${u} + c);`).join(' ')}`);
  L.push(`${I}    store<f32>(o + c, acc);`);
  L.push(`${I}  }`);
  L.push(`${I}}`);
  return L.join('\n');
}

const sparse = `// Generated by scripts/gen.mjs: do not edit.
import { madd } from './simd';

/**
 * \`out\` (\`m x n\`, row-major) = S B for the compressed \`m\`-row matrix S (\`ptr\`, \`idx\`, \`val\`: row
 * i's entries are [ptr[i], ptr[i + 1] - gap)) and B (\`n\` floats per row, row-major): see
 * assembly/sparse.ts. Non-zeros ${SPARSE_GROUPS.join(', then ')} at a time; columns ${SPARSE_STEPS.join(', then ')}, then 1.
 */
export function sparseProduct(
  ptr: usize,
  idx: usize,
  val: usize,
  gap: i32,
  m: i32,
  b: usize,
  n: i32,
  out: usize,
): void {
  const rowBytes = (<usize>n) << 2;
  for (let i = 0; i < m; i++) {
    const q1 = load<i32>(ptr + ((<usize>(i + 1)) << 2)) - gap;
    let q = load<i32>(ptr + ((<usize>i) << 2));
    const o = out + <usize>i * rowBytes;
    memory.fill(o, 0, rowBytes);
${SPARSE_GROUPS.map(sparseGroup).join('\n')}
  }
}
`;

mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'tiles.ts'), src);
writeFileSync(join(outDir, 'simd.ts'), simd);
writeFileSync(join(outDir, 'sparse.ts'), sparse);
console.log(
  `gen: ${tiles.size} tiles, ${lone.size} lone-row tiles, ${few.size} few-row tiles, ${CONFIGS.length} drivers -> assembly/generated/tiles.ts`,
);
