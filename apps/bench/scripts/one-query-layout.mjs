// One query against a corpus stored in panels of 2 rows (the wasm backend's layout for its plain
// SIMD tile: chunk q of row r of panel g at (g * steps + q) * 32 + r * 16), read in three orders with
// the same bytes and the same arithmetic, hand-assembled so that only the order differs:
//   two-panels:   one step of panel g and one of panel g + 1 per iteration (the engine's row2p2);
//   one-panel-x2: one panel at a time, two steps (64 contiguous bytes) per iteration;
//   one-panel-x4: one panel at a time, four steps (128 bytes) per iteration.
// Each is checked against plain dot products, then timed beside a streaming read of the same bytes.
// Usage (after pnpm bench or a build): node apps/bench/scripts/one-query-layout.mjs [N] [d] [reps]
const N = Number(process.argv[2] ?? 200000),
  d = Number(process.argv[3] ?? 384),
  reps = Number(process.argv[4] ?? 9);
const { streamModuleBytes } = await import('../dist/roofline.js');
const uleb = (n) => {
  const o = [];
  let v = n >>> 0;
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v) b |= 0x80;
    o.push(b);
  } while (v);
  return o;
};
const sleb = (n) => {
  const o = [];
  let v = n | 0;
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && !(b & 0x40)) || (v === -1 && b & 0x40)) {
      o.push(b);
      return o;
    }
    o.push(b | 0x80);
  }
};
const vec = (xs) => [...uleb(xs.length), ...xs.flat()];
const nm = (s) => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
const sec = (id, b) => [id, ...uleb(b.length), ...b];
const I32 = 0x7f,
  V = 0x7b;
const get = (i) => [0x20, ...uleb(i)],
  set = (i) => [0x21, ...uleb(i)],
  tee = (i) => [0x22, ...uleb(i)];
const i32 = (v) => [0x41, ...sleb(v)],
  add32 = [0x6a],
  lt = [0x49];
const load = (o) => [0xfd, 0x00, 4, ...uleb(o)],
  fadd = [0xfd, ...uleb(0xe4)],
  fmul = [0xfd, ...uleb(0xe6)];
const zero = [0x43, 0, 0, 0, 0, 0xfd, ...uleb(0x13)];
const lane = (l) => [0xfd, ...uleb(0x1f), l];
const hsumStore = (acc, addr, off) => [
  ...get(addr),
  ...get(acc),
  ...lane(0),
  ...get(acc),
  ...lane(1),
  0x92,
  ...get(acc),
  ...lane(2),
  0x92,
  ...get(acc),
  ...lane(3),
  0x92,
  0x38,
  2,
  ...uleb(off),
];
// params: q, b, panels, steps, out   locals from 5
const Q = 0,
  B = 1,
  G = 2,
  S = 3,
  OUT = 4;
function fn(kind) {
  // locals: 5 qp, 6 qend, 7 pc, 8.. accumulators (8 of v128), 16 x0, 17 x1, 18 x2, 19 x3
  const QP = 5,
    QE = 6,
    PC = 7,
    A = (k) => 8 + k,
    X = (k) => 16 + k;
  const locals = [
    [3, I32],
    [12, V],
  ];
  const body = [];
  const accs = kind === 'two-panels' ? 4 : kind === 'one-panel-x2' ? 4 : 8;
  body.push(0x03, 0x40); // loop over panel groups
  for (let k = 0; k < accs; k++) body.push(...zero, ...set(A(k)));
  body.push(...get(Q), ...set(QP), ...get(Q), ...get(S), ...i32(16), 0x6c, ...add32, ...set(QE));
  if (kind === 'two-panels') {
    // row2p2 as the engine does it: one step of panel g and of panel g+1 per iteration.
    body.push(...get(B), ...get(S), ...i32(32), 0x6c, ...add32, ...set(PC));
    body.push(
      0x03,
      0x40,
      ...get(QP),
      ...load(0),
      ...set(X(0)),
      ...[
        [B, 0, 0],
        [B, 16, 1],
        [PC, 0, 2],
        [PC, 16, 3],
      ].flatMap(([p, o, k]) => [
        ...get(A(k)),
        ...get(X(0)),
        ...get(p),
        ...load(o),
        ...fmul,
        ...fadd,
        ...set(A(k)),
      ]),
      ...get(B),
      ...i32(32),
      ...add32,
      ...set(B),
      ...get(PC),
      ...i32(32),
      ...add32,
      ...set(PC),
      ...get(QP),
      ...i32(16),
      ...add32,
      ...tee(QP),
      ...get(QE),
      ...lt,
      0x0d,
      0,
      0x0b,
    );
    body.push(
      ...hsumStore(A(0), OUT, 0),
      ...hsumStore(A(1), OUT, 4),
      ...hsumStore(A(2), OUT, 8),
      ...hsumStore(A(3), OUT, 12),
    );
    body.push(...get(PC), ...set(B), ...get(OUT), ...i32(16), ...add32, ...set(OUT));
    body.push(...get(G), ...i32(-2), ...add32, ...tee(G), ...i32(0), 0x4a /* i32.gt_s */, 0x0d, 0, 0x0b);
  } else {
    // One panel at a time, U steps per iteration: one sequential stream of 32*U bytes.
    const U = kind === 'one-panel-x2' ? 2 : 4;
    body.push(0x03, 0x40);
    for (let u = 0; u < U; u++) body.push(...get(QP), ...load(16 * u), ...set(X(u)));
    for (let u = 0; u < U; u++)
      for (let r = 0; r < 2; r++)
        body.push(
          ...get(A(2 * u + r)),
          ...get(X(u)),
          ...get(B),
          ...load(32 * u + 16 * r),
          ...fmul,
          ...fadd,
          ...set(A(2 * u + r)),
        );
    body.push(
      ...get(B),
      ...i32(32 * U),
      ...add32,
      ...set(B),
      ...get(QP),
      ...i32(16 * U),
      ...add32,
      ...tee(QP),
      ...get(QE),
      ...lt,
      0x0d,
      0,
      0x0b,
    );
    for (let r = 0; r < 2; r++) {
      for (let u = 1; u < U; u++) body.push(...get(A(r)), ...get(A(2 * u + r)), ...fadd, ...set(A(r)));
    }
    body.push(...hsumStore(A(0), OUT, 0), ...hsumStore(A(1), OUT, 4));
    body.push(...get(OUT), ...i32(8), ...add32, ...set(OUT));
    body.push(...get(G), ...i32(-1), ...add32, ...tee(G), 0x0d, 0, 0x0b);
  }
  const code = [...vec(locals.map(([c, t]) => [c, t])), ...body, 0x0b];
  return [...uleb(code.length), ...code];
}
const pages = Math.ceil((N * Math.ceil(d / 4) * 16 + 2 * N * 4 + 65536 * 2) / 65536);
const kinds = ['two-panels', 'one-panel-x2', 'one-panel-x4'];
const bytes = new Uint8Array([
  0,
  0x61,
  0x73,
  0x6d,
  1,
  0,
  0,
  0,
  ...sec(1, vec([[0x60, ...vec([[I32], [I32], [I32], [I32], [I32]]), 0]])),
  ...sec(2, vec([[...nm('env'), ...nm('memory'), 2, 1, ...uleb(pages), ...uleb(pages)]])),
  ...sec(3, vec(kinds.map(() => [0]))),
  ...sec(7, vec(kinds.map((k, i) => [...nm(k), 0, i]))),
  ...sec(10, vec(kinds.map(fn))),
]);
const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
const ex = (await WebAssembly.instantiate(bytes, { env: { memory } })).instance.exports;
const steps = Math.ceil(d / 4) + (Math.ceil(d / 4) % 4 ? 4 - (Math.ceil(d / 4) % 4) : 0); // a multiple of 4 steps, for the unrolled loops
const q = 0,
  b = 65536,
  out = b + N * steps * 16;
const f = new Float32Array(memory.buffer);
let s = 7;
for (let i = 0; i < (b + N * steps * 16) / 4; i++) {
  s ^= s << 13;
  s ^= s >>> 17;
  s ^= s << 5;
  f[i] = (s >>> 0) / 2 ** 32 - 0.5;
}
// Exact dots of corpus row j (panel layout) with the query, for a check.
const dot = (j) => {
  let t = 0;
  const g = j >> 1,
    r = j & 1;
  for (let st = 0; st < steps; st++)
    for (let l = 0; l < 4; l++) t += f[st * 4 + l] * f[(b + (g * steps + st) * 32 + r * 16) / 4 + l];
  return t;
};
const ps = (await WebAssembly.instantiate(streamModuleBytes(pages, false), { env: { memory } })).instance
  .exports;
const total = N * steps * 16;
const res = {};
for (const k of kinds) res[k] = Infinity;
let st = Infinity;
for (let r = 0; r < reps; r++) {
  for (const k of kinds) {
    f.fill(0, out / 4, out / 4 + N);
    const t = performance.now();
    ex[k](q, b, N >> 1, steps, out);
    res[k] = Math.min(res[k], performance.now() - t);
    for (const j of [0, 1, 2, 3, N - 1])
      if (Math.abs(f[out / 4 + j] - dot(j)) > 1e-3)
        throw new Error(`${k}: row ${j} ${f[out / 4 + j]} vs ${dot(j)}`);
  }
  const t = performance.now();
  ps.sum(b, Math.floor(total / 128) * 128, 1);
  st = Math.min(st, performance.now() - t);
}
const g = (ms) => (total / ms / 1e6).toFixed(1);
console.log(
  `N=${N} d=${d} (${steps} steps, ${(total / 2 ** 20).toFixed(0)} MiB): stream ${st.toFixed(2)} ms = ${g(st)} GB/s`,
);
for (const k of kinds)
  console.log(
    `  ${k.padEnd(14)} ${res[k].toFixed(2)} ms = ${g(res[k])} GB/s = ${((100 * st) / res[k]).toFixed(0)}% of the stream`,
  );
