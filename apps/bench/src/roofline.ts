/**
 * The roofline of this machine, measured from inside the JavaScript engine: how many float32
 * operations per second wasm SIMD can issue (per thread and on all threads) and how many bytes per
 * second a streaming read gets from memory. Every B and C figure is then judged against the limit
 * that binds it: a product with many queries against the peak, one or a few queries against the
 * bandwidth (the bytes of the corpus it has to read).
 *
 * The microkernels are tiny wasm modules assembled here byte by byte rather than compiled from
 * AssemblyScript: no build step, the same bytes in Node and the browser page, and exact control of
 * what runs (AssemblyScript's optimiser could fold a loop whose result it can see through). Shared by
 * Node and the browser page: it imports nothing from Node (Node built-ins are loaded lazily by
 * computed names, as the wasm backend does).
 */
import { fmtBytes } from './million.js';
import { now } from './timing.js';
import type { BenchReport, BenchResult, ContenderInfo } from './types.js';

// ---------------------------------------------------------------------------------------------
// A minimal wasm encoder: just what the three microkernels need.

/** Unsigned LEB128. */
function uleb(n: number): number[] {
  const out: number[] = [];
  let v = n >>> 0;
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
  return out;
}

/** Signed LEB128 of a 32-bit integer. */
function sleb(n: number): number[] {
  const out: number[] = [];
  let v = n | 0;
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];
const name = (s: string) => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];

const I32 = 0x7f;
const F32 = 0x7d;
const V128 = 0x7b;
const op = {
  get: (i: number) => [0x20, ...uleb(i)],
  set: (i: number) => [0x21, ...uleb(i)],
  tee: (i: number) => [0x22, ...uleb(i)],
  i32: (v: number) => [0x41, ...sleb(v)],
  i32Add: [0x6a],
  i32Sub: [0x6b],
  i32And: [0x71],
  i32LtU: [0x49],
  loop: [0x03, 0x40],
  brIf: (depth: number) => [0x0d, ...uleb(depth)],
  end: [0x0b],
  /** v128.load with 16-byte alignment at a constant offset. */
  load: (offset: number) => [0xfd, ...uleb(0x00), 4, ...uleb(offset)],
  splat: [0xfd, ...uleb(0x13)],
  lane0: [0xfd, ...uleb(0x1f), 0],
  add: [0xfd, ...uleb(0xe4)],
  mul: [0xfd, ...uleb(0xe6)],
  /** f32x4.relaxed_madd(a, b, c) = a * b + c, fused where the hardware has FMA. */
  madd: [0xfd, ...uleb(0x105)],
};

interface Func {
  readonly name: string;
  readonly params: number[];
  readonly result: number;
  /** Extra locals, by type. */
  readonly locals: number[];
  readonly body: number[];
}

function encodeModule(
  funcs: readonly Func[],
  memory?: { pages: number; shared: boolean },
  own?: { pages: number; exportAs: string },
): Uint8Array<ArrayBuffer> {
  const types = funcs.map((f) => [0x60, ...vec(f.params.map((p) => [p])), ...vec([[f.result]])]);
  const imports = memory
    ? section(
        2,
        vec([
          [
            ...name('env'),
            ...name('memory'),
            0x02,
            memory.shared ? 0x03 : 0x01,
            ...uleb(memory.pages),
            ...uleb(memory.pages),
          ],
        ]),
      )
    : [];
  const bodies = funcs.map((f) => {
    const locals = vec(f.locals.map((t) => [1, t]));
    const body = [...locals, ...f.body, ...op.end];
    return [...uleb(body.length), ...body];
  });
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec(types)),
    ...imports,
    ...section(3, vec(funcs.map((_, i) => uleb(i)))),
    ...(own ? section(5, vec([[0x00, ...uleb(own.pages)]])) : []),
    ...section(
      7,
      vec([
        ...funcs.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]),
        ...(own ? [[...name(own.exportAs), 0x02, 0]] : []),
      ]),
    ),
    ...section(10, vec(bodies)),
  ]);
}

/** `body` run once, then again while local `counter`, counted down by one each time, is not zero. */
const countedLoop = (body: number[], counter = 0) => [
  ...op.loop,
  ...body,
  ...op.get(counter),
  ...op.i32(1),
  ...op.i32Sub,
  ...op.tee(counter),
  ...op.brIf(0),
  ...op.end,
];

/** Independent accumulators of the peak kernels: enough chains to hide a 4-5 cycle latency on 2 ports. */
export const PEAK_ACCUMULATORS = 12;
/** Copies of the loop body per iteration (less loop overhead per vector operation). */
const PEAK_UNROLL = 2;
/** Float operations per iteration of either peak kernel: 12 vector ops of 4 lanes (mul+add), 12 of 8 (FMA). */
export const MULADD_FLOPS_PER_ITER = PEAK_ACCUMULATORS * 4 * PEAK_UNROLL;
export const FMA_FLOPS_PER_ITER = PEAK_ACCUMULATORS * 8 * PEAK_UNROLL;
/** Bytes read per iteration of the streaming kernel (8 vector loads). */
const STREAM_STEP = 128;

/**
 * `muladd(iters, m, c)`, `tile(iters, m, c)` (see {@link TILE_FLOPS_PER_ITER}; it reads the
 * module's own one-page memory, exported as `tileMemory`) and, with `relaxed`, `fma(iters, m, c)`:
 * loops of vector arithmetic on 12 accumulators held in registers (12 + 2 operands fit V8's 15
 * vector registers on x64), no memory access. mul+add: 6 chains of `a *= m` and 6 of `b += c`, as
 * many multiplies as adds like a dot product, each chain dependent on itself only; on a core whose
 * multiplies and adds each have two ports and three cycles of latency, 6 chains of each are just
 * enough in theory and fell short in practice (43 against the outer product's 54 GFLOP/s on an AMD
 * EPYC), hence `tile`, whose multiplies are off the chains. FMA:
 * 12 chains of `s = m * c + s`, the shape of the dot-product engine's `madd(x, y, s)`. `m` and `c` are
 * parameters (1 and 0 at run time), so no compiler can fold them, and values neither grow nor go
 * denormal. Returns lane 0 of the sum, so the loop's work is used.
 */
export function peakModuleBytes(relaxed: boolean): Uint8Array<ArrayBuffer> {
  const params = [I32, F32, F32];
  const M = 3;
  const C = 4;
  const acc = (k: number) => 5 + k;
  const locals = [V128, V128, ...new Array<number>(PEAK_ACCUMULATORS).fill(V128)];
  const prologue = [
    ...op.get(1),
    ...op.splat,
    ...op.set(M),
    ...op.get(2),
    ...op.splat,
    ...op.set(C),
    ...Array.from({ length: PEAK_ACCUMULATORS }, (_, k) => [
      ...op.get(1),
      ...op.splat,
      ...op.set(acc(k)),
    ]).flat(),
  ];
  const epilogue = [
    ...op.get(acc(0)),
    ...Array.from({ length: PEAK_ACCUMULATORS - 1 }, (_, k) => [...op.get(acc(k + 1)), ...op.add]).flat(),
    ...op.lane0,
  ];
  const loop = (step: (k: number) => number[]) =>
    countedLoop(
      Array.from({ length: PEAK_UNROLL }, () =>
        Array.from({ length: PEAK_ACCUMULATORS }, (_, k) => step(k)).flat(),
      ).flat(),
    );
  const half = PEAK_ACCUMULATORS / 2;
  // Interleaved (mul, add, mul, add, ...) so the two kinds of port are fed evenly.
  const mulAdd = (k: number) => {
    const j = (k >> 1) + (k & 1 ? half : 0);
    return [...op.get(acc(j)), ...op.get(k & 1 ? C : M), ...(k & 1 ? op.add : op.mul), ...op.set(acc(j))];
  };
  const fma = (k: number) => [...op.get(M), ...op.get(C), ...op.get(acc(k)), ...op.madd, ...op.set(acc(k))];
  const funcs: Func[] = [
    { name: 'muladd', params, result: F32, locals, body: [...prologue, ...loop(mulAdd), ...epilogue] },
    tileFunc(params),
  ];
  if (relaxed)
    funcs.push({ name: 'fma', params, result: F32, locals, body: [...prologue, ...loop(fma), ...epilogue] });
  return encodeModule(funcs, undefined, { pages: 1, exportAs: 'tileMemory' });
}

/** Query and corpus vectors of the outer-product peak kernel: a 4 x 2 tile, as in a dot-product engine. */
const TILE = { rows: 4, cols: 2 } as const;
/**
 * Float operations per iteration of the outer-product kernel: 8 multiplies and 8 adds of 4 lanes.
 * One tile an iteration: with two, V8 hoisted the second tile's loads above the first's arithmetic
 * and spilled accumulators to the stack.
 */
export const TILE_FLOPS_PER_ITER = TILE.rows * TILE.cols * 8;
/** Bytes of `tileMemory` the outer-product kernel reads from, cycling (well inside L1). */
export const TILE_WINDOW = 4096;

/**
 * `tile(iters, m, c)`: the inner loop of a register-blocked dot product, `s[i][j] += x[i] * y[j]`
 * for a 4 x 2 tile, its 6 vectors loaded from L1 (`tileMemory`, cycling through
 * {@link TILE_WINDOW} bytes) every step: 8 accumulator chains of adds, the multiplies off the
 * chains. A multiply and an add in one chain (the register kernel's `a *= m`, `b += c`) bind it
 * by latency on cores whose adds and multiplies each have two ports (the engine's own tile ran at
 * 1.2x that kernel on an AMD EPYC); this one is bound by the ports, or the front end, as the
 * engine is. The accumulators start at `c`; `m` is unused (the same signature as the others).
 */
function tileFunc(params: number[]): Func {
  const ptr = 3;
  const x = (i: number) => 4 + i;
  const y = (j: number) => 5 + j;
  const acc = (i: number, j: number) => 5 + TILE.cols + i * TILE.cols + j;
  const accs = TILE.rows * TILE.cols;
  const locals = [I32, ...new Array<number>(1 + TILE.cols + accs).fill(V128)];
  const all = <T>(n: number, f: (k: number) => T[]) => Array.from({ length: n }, (_, k) => f(k)).flat();
  // The corpus vectors first, then each query vector as its two products need it: 8 accumulators,
  // 2 + 1 operands and a product in flight fit the 15 vector registers V8 allocates on x64, where
  // loading all six first spilled an accumulator (a store and a reload on its chain every step).
  const step = [
    ...all(TILE.cols, (j) => [...op.get(ptr), ...op.load(16 * (TILE.rows + j)), ...op.set(y(j))]),
    ...all(TILE.rows, (i) => [
      ...op.get(ptr),
      ...op.load(16 * i),
      ...op.set(x(0)),
      ...all(TILE.cols, (j) => [
        ...op.get(acc(i, j)),
        ...op.get(x(0)),
        ...op.get(y(j)),
        ...op.mul,
        ...op.add,
        ...op.set(acc(i, j)),
      ]),
    ]),
    // Next tile of the window: 96 bytes on, wrapping (multiples of 32, so every load stays aligned).
    ...op.get(ptr),
    ...op.i32(16 * (TILE.rows + TILE.cols)),
    ...op.i32Add,
    ...op.i32(TILE_WINDOW - 1),
    ...op.i32And,
    ...op.set(ptr),
  ];
  const body = [
    ...all(accs, (k) => [
      ...op.get(2),
      ...op.splat,
      ...op.set(acc(Math.floor(k / TILE.cols), k % TILE.cols)),
    ]),
    ...countedLoop(step),
    ...op.get(acc(0, 0)),
    ...all(accs - 1, (k) => [
      ...op.get(acc(Math.floor((k + 1) / TILE.cols), (k + 1) % TILE.cols)),
      ...op.add,
    ]),
    ...op.lane0,
  ];
  return { name: 'tile', params, result: F32, locals, body };
}

/**
 * `sum(ptr, bytes, passes)`: `passes` streaming passes over `bytes` (a multiple of 128) from `ptr`,
 * 8 vector loads per step each added into its own accumulator, on an imported memory of `pages`
 * 64 KiB pages (shared when `shared`, so helper threads read the same buffer). Also
 * `sum2(ptr, half, passes)`: the same over `2 x half` bytes read as two streams `half` apart, 64
 * bytes of each per step. Some machines' prefetchers keep more lines in flight for two streams than
 * for one (the corpus kernels read two panels at once for that reason), so one stream alone can
 * understate what a thread can read.
 */
export function streamModuleBytes(pages: number, shared: boolean): Uint8Array<ArrayBuffer> {
  const P = 3;
  const END = 4;
  const acc = (k: number) => 5 + k;
  // `passes` times: from `ptr` to `ptr + region`, `step` bytes a turn, load k of a turn at `load(k)`
  // (its address on the stack) added into accumulator k; then the eight accumulators summed.
  const streamBody = (step: number, address: (k: number) => number[]) => [
    ...op.get(0),
    ...op.get(1),
    ...op.i32Add,
    ...op.set(END),
    ...countedLoop(
      [
        ...op.get(0),
        ...op.set(P),
        ...op.loop,
        ...Array.from({ length: 8 }, (_, k) => [
          ...op.get(acc(k)),
          ...address(k),
          ...op.add,
          ...op.set(acc(k)),
        ]).flat(),
        ...op.get(P),
        ...op.i32(step),
        ...op.i32Add,
        ...op.tee(P),
        ...op.get(END),
        ...op.i32LtU,
        ...op.brIf(0),
        ...op.end,
      ],
      2,
    ),
    ...op.get(acc(0)),
    ...Array.from({ length: 7 }, (_, k) => [...op.get(acc(k + 1)), ...op.add]).flat(),
    ...op.lane0,
  ];
  // sum: one stream, 128 bytes a step.
  const body = streamBody(STREAM_STEP, (k) => [...op.get(P), ...op.load(16 * k)]);
  // sum2: two streams `half` (the second argument) apart, 64 bytes (a cache line) of each a step.
  const body2 = streamBody(STREAM_STEP / 2, (k) => [
    ...op.get(P),
    ...(k < 4 ? [] : [...op.get(1), ...op.i32Add]),
    ...op.load(16 * (k & 3)),
  ]);
  const locals = [I32, I32, ...new Array<number>(8).fill(V128)];
  return encodeModule(
    [
      { name: 'sum', params: [I32, I32, I32], result: F32, locals, body },
      { name: 'sum2', params: [I32, I32, I32], result: F32, locals, body: body2 },
    ],
    { pages, shared },
  );
}

// ---------------------------------------------------------------------------------------------
// Measuring.

/** One figure of the roofline: the best of its samples (interference only ever slows a run down) and their median. */
export interface RooflineFigure {
  readonly best: number;
  readonly median: number;
  readonly samples: readonly number[];
}

/** A limit on one thread and on all threads. */
export interface ThreadedFigure {
  readonly one: RooflineFigure;
  /** All threads together (undefined when helper threads cannot run here). */
  readonly all?: RooflineFigure;
}

/** This machine's limits as measured by {@link measureRoofline}. */
export interface Roofline {
  /** Threads in the `all` figures (the calling thread plus helpers). */
  readonly threads: number;
  /** wasm SIMD mul+add peak, GFLOP/s (a multiply and an add of 4 lanes count 8 flops). */
  readonly peakMulAdd: ThreadedFigure;
  /** Relaxed-SIMD FMA peak, GFLOP/s; undefined where relaxed SIMD does not run (see `notes`). */
  readonly peakFma?: ThreadedFigure;
  /** Streaming read bandwidth, GB/s (10^9 bytes). */
  readonly bandwidth: ThreadedFigure;
  /**
   * Writing memory for the first time, one thread, GB/s: a new `ArrayBuffer` of
   * {@link FIRST_TOUCH_BYTES} filled once, its pages faulted in as they are written. What a call
   * pays, beyond its kernel, for a new result of that size; on virtual machines whose page faults
   * trap to the host it is far below the write bandwidth. Undefined in reports made before it was
   * measured.
   */
  readonly firstTouch?: RooflineFigure;
  /** Size of the buffer streamed, bytes. */
  readonly bufferBytes: number;
  readonly durationSeconds: number;
  /** What could not be measured and why, and how the figures were made. */
  readonly notes: readonly string[];
}

export interface RooflineOptions {
  /** Bytes streamed for bandwidth (default 256 MiB, far above any last-level cache); rounded to 1 MiB. */
  readonly bytes?: number;
  /** Threads for the all-thread figures (default: every core); 1 measures one thread only. */
  readonly threads?: number;
  /** Samples per figure (default 15: on a busy machine the best of many short samples finds a quiet moment). */
  readonly reps?: number;
  /** Shortest sample of a peak kernel, ms (default 5, shorter than a scheduler's time slice). */
  readonly minMs?: number;
}

/** The same probe as the wasm backend's: `f32x4.relaxed_madd` of three zero vectors. */
// biome-ignore format: one wasm section per line
const RELAXED_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // type: () -> v128
  0x03, 0x02, 0x01, 0x00, // one function of type 0
  0x0a, 0x3d, 0x01, 0x3b, 0x00, // code: one body of 59 bytes, no locals
  ...[0, 1, 2].flatMap(() => [0xfd, 0x0c, ...new Array<number>(16).fill(0)]), // three v128.const 0
  0xfd, 0x85, 0x02, 0x0b, // f32x4.relaxed_madd, end
]);

interface NodeGlobals {
  process?: { versions?: { node?: string } };
  crossOriginIsolated?: boolean;
  navigator?: { hardwareConcurrency?: number };
}
const isNode = () => typeof (globalThis as NodeGlobals).process?.versions?.node === 'string';
// Computed specifiers keep browser bundlers away from Node built-ins.
const nodeImport = <T>(spec: string) => import(/* @vite-ignore */ spec) as Promise<T>;

/**
 * Compiles the peak module, with the FMA kernel where relaxed SIMD runs. Node 20 has relaxed SIMD
 * behind a V8 flag: it is turned on for this compile only and turned off again, so the backends
 * started later choose their binary exactly as they would without the roofline.
 */
async function compilePeak(notes: string[]): Promise<{ module: WebAssembly.Module; relaxed: boolean }> {
  if (WebAssembly.validate(RELAXED_PROBE)) {
    return { module: await WebAssembly.compile(peakModuleBytes(true)), relaxed: true };
  }
  if (isNode()) {
    const v8 = await nodeImport<{ setFlagsFromString(f: string): void }>('node:v8');
    v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
    try {
      if (WebAssembly.validate(RELAXED_PROBE)) {
        const module = await WebAssembly.compile(peakModuleBytes(true));
        notes.push('relaxed SIMD turned on (--experimental-wasm-relaxed-simd) for the FMA kernel only');
        return { module, relaxed: true };
      }
    } finally {
      v8.setFlagsFromString('--no-experimental-wasm-relaxed-simd');
    }
  }
  notes.push('relaxed-FMA peak not measured: this engine does not run relaxed SIMD');
  return { module: await WebAssembly.compile(peakModuleBytes(false)), relaxed: false };
}

async function defaultThreads(): Promise<number> {
  if (isNode()) {
    const os = await nodeImport<{ availableParallelism?: () => number; cpus(): unknown[] }>('node:os');
    return os.availableParallelism?.() ?? os.cpus().length;
  }
  return (globalThis as NodeGlobals).navigator?.hardwareConcurrency ?? 1;
}

function threadsUnavailable(): string | undefined {
  if (!isNode() && (globalThis as NodeGlobals).crossOriginIsolated !== true)
    return 'the page is not cross-origin isolated, so memory cannot be shared with workers';
  if (typeof SharedArrayBuffer !== 'function' || typeof Atomics !== 'object')
    return 'SharedArrayBuffer is not available';
  return undefined;
}

function figure(samples: number[]): RooflineFigure {
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return {
    best: s[s.length - 1],
    median: s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2,
    samples,
  };
}

/** Two measurements of one figure as one: every sample of both, the best and the median of them all. */
function mergeFigure(a: RooflineFigure, b: RooflineFigure): RooflineFigure {
  return figure([...a.samples, ...b.samples]);
}

function mergeThreaded(a: ThreadedFigure, b: ThreadedFigure): ThreadedFigure {
  const all = a.all && b.all ? mergeFigure(a.all, b.all) : (a.all ?? b.all);
  return { one: mergeFigure(a.one, b.one), ...(all ? { all } : {}) };
}

/**
 * Two rooflines of the same machine (one measured before a long run and one after it) as one:
 * each figure's samples together, so its best is the better of both; first touch as the first
 * measured it (a cost of fresh memory, which a process that has run has less of). On a shared machine a
 * roofline measured in a slow spell reads low and makes every share of it read high (a search at
 * 110% of a peak measured 25% under the one ten minutes earlier); the best the machine showed at
 * either end is the steadier denominator.
 */
export function mergeRooflines(a: Roofline, b: Roofline): Roofline {
  const peakFma = a.peakFma && b.peakFma ? mergeThreaded(a.peakFma, b.peakFma) : (a.peakFma ?? b.peakFma);
  // First touch only from the first: after a run, a new buffer may get memory the run freed,
  // already mapped (7.5 GB/s in one sample at 16:15, against 0.3-0.4 for fresh pages).
  const firstTouch = a.firstTouch ?? b.firstTouch;
  return {
    threads: Math.min(a.threads, b.threads),
    peakMulAdd: mergeThreaded(a.peakMulAdd, b.peakMulAdd),
    ...(peakFma ? { peakFma } : {}),
    bandwidth: mergeThreaded(a.bandwidth, b.bandwidth),
    ...(firstTouch ? { firstTouch } : {}),
    bufferBytes: a.bufferBytes,
    durationSeconds: a.durationSeconds + b.durationSeconds,
    notes: [
      ...a.notes,
      `measured twice, before the cells and after them (${b.durationSeconds.toFixed(1)} s), each peak and bandwidth the best of both measurements' samples, first touch the first's`,
    ],
  };
}

// Control block of a helper: [0] job sequence, [1] done sequence, [2] kind, [3..5] arguments, [6] failed.
const SEQ = 0;
const DONE = 1;
const KIND = 2;
const ARGS = 3;
const FAILED = 6;
const KIND_STOP = 0;
const KIND_STREAM = 1;
const KIND_MULADD = 2;
const KIND_FMA = 3;
const KIND_STREAM2 = 4;
const KIND_TILE = 5;

/**
 * A helper's whole program, as source: a CommonJS script for Node's `worker_threads` (`eval: true`)
 * and a classic worker from a Blob URL in browsers. It instantiates the two modules on the shared
 * memory and runs the jobs posted through its control block until told to stop.
 */
const WORKER_SOURCE = `
function start(init, ready) {
  const peak = new WebAssembly.Instance(init.peak, {}).exports;
  const stream = new WebAssembly.Instance(init.stream, { env: { memory: init.memory } }).exports;
  const ctl = new Int32Array(init.control);
  ready();
  let seen = 0;
  for (;;) {
    Atomics.wait(ctl, ${SEQ}, seen);
    const seq = Atomics.load(ctl, ${SEQ});
    if (seq === seen) continue;
    seen = seq;
    const kind = ctl[${KIND}];
    if (kind === ${KIND_STOP}) return;
    try {
      if (kind === ${KIND_STREAM}) stream.sum(ctl[${ARGS}], ctl[${ARGS + 1}], ctl[${ARGS + 2}]);
      else if (kind === ${KIND_STREAM2}) stream.sum2(ctl[${ARGS}], ctl[${ARGS + 1}] / 2, ctl[${ARGS + 2}]);
      else if (kind === ${KIND_MULADD}) peak.muladd(ctl[${ARGS + 2}], 1, 0);
      else if (kind === ${KIND_FMA}) peak.fma(ctl[${ARGS + 2}], 1, 0);
      else if (kind === ${KIND_TILE}) peak.tile(ctl[${ARGS + 2}], 1, 0);
      ctl[${FAILED}] = 0;
    } catch (e) {
      ctl[${FAILED}] = 1;
    }
    Atomics.store(ctl, ${DONE}, seq);
    Atomics.notify(ctl, ${DONE});
  }
}
if (typeof require === 'function') {
  const { parentPort } = require('node:worker_threads');
  parentPort.once('message', (init) => start(init, () => parentPort.postMessage('ready')));
} else {
  self.onmessage = (e) => { self.onmessage = null; start(e.data, () => self.postMessage('ready')); };
}
`;

interface Helper {
  readonly ctl: Int32Array;
  seq: number;
  stop(): Promise<void>;
}

interface NodeWorker {
  once(event: string, fn: (v: unknown) => void): void;
  postMessage(v: unknown): void;
  unref(): void;
  terminate(): Promise<number>;
}
interface BrowserWorker {
  onmessage: ((e: unknown) => void) | null;
  onerror: ((e: unknown) => void) | null;
  postMessage(v: unknown): void;
  terminate(): void;
}

async function spawnHelper(init: Record<string, unknown>): Promise<Helper> {
  const control = new SharedArrayBuffer(8 * 4);
  const ctl = new Int32Array(control);
  const message = { ...init, control };
  if (isNode()) {
    const { Worker } = await nodeImport<{ Worker: new (src: string, o: { eval: true }) => NodeWorker }>(
      'node:worker_threads',
    );
    const w = new Worker(WORKER_SOURCE, { eval: true });
    w.unref();
    await new Promise<void>((resolve, reject) => {
      w.once('message', () => resolve());
      w.once('error', (e) => reject(e));
      w.postMessage(message);
    });
    return { ctl, seq: 0, stop: () => w.terminate().then(() => undefined) };
  }
  const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'text/javascript' }));
  try {
    const W = (globalThis as unknown as { Worker: new (u: string) => BrowserWorker }).Worker;
    const w = new W(url);
    await new Promise<void>((resolve, reject) => {
      w.onmessage = () => resolve();
      w.onerror = (e) => reject(new Error(`a roofline worker failed to start: ${String(e)}`));
      w.postMessage(message);
    });
    w.onmessage = null;
    return {
      ctl,
      seq: 0,
      stop: async () => {
        w.terminate();
      },
    };
  } finally {
    URL.revokeObjectURL(url);
  }
}

function post(h: Helper, kind: number, args: [number, number, number]): void {
  h.ctl[KIND] = kind;
  h.ctl[ARGS] = args[0];
  h.ctl[ARGS + 1] = args[1];
  h.ctl[ARGS + 2] = args[2];
  h.seq = (h.seq + 1) | 0;
  Atomics.store(h.ctl, SEQ, h.seq);
  Atomics.notify(h.ctl, SEQ);
}

/** Waits for a helper's job: blocking where this thread may (Node), spinning where it may not (a page's main thread). */
function waitFor(h: Helper): void {
  const start = now();
  while (Atomics.load(h.ctl, DONE) !== h.seq) {
    try {
      Atomics.wait(h.ctl, DONE, Atomics.load(h.ctl, DONE), 50);
    } catch {
      // A browser's main thread may not block: spin.
    }
    if (now() - start > 120_000) throw new Error('a roofline helper thread stopped answering');
  }
  if (h.ctl[FAILED] !== 0) throw new Error('a roofline helper thread failed');
}

/**
 * `reps` samples of each job (a function timing one run and returning its rate), after one warm-up
 * round that is not kept. The jobs take turns, sample by sample, so a busy spell on a shared machine
 * slows one sample of each figure rather than every sample of one (each figure's samples would
 * otherwise fall within a tenth of a second).
 */
function interleaved<K extends string>(
  jobs: Partial<Record<K, () => number>>,
  reps: number,
): Partial<Record<K, RooflineFigure>> {
  const entries = Object.entries(jobs) as [K, () => number][];
  const samples = entries.map(() => [] as number[]);
  for (let r = 0; r <= reps; r++) {
    for (const [i, [, job]] of entries.entries()) {
      const rate = job();
      if (r > 0) samples[i].push(rate);
    }
  }
  return Object.fromEntries(entries.map(([k], i) => [k, figure(samples[i])])) as Partial<
    Record<K, RooflineFigure>
  >;
}

/**
 * Measures this machine's limits: the mul+add and relaxed-FMA peaks and the streaming read
 * bandwidth, on one thread and on `threads` (the calling thread plus helpers, each reading its own
 * slice of one shared buffer). A few seconds at the default size.
 */
export async function measureRoofline(o: RooflineOptions = {}): Promise<Roofline> {
  const t0 = now();
  const notes: string[] = [];
  const reps = Math.max(1, o.reps ?? 15);
  const minMs = o.minMs ?? 5;
  let threads = Math.max(1, Math.floor(o.threads ?? (await defaultThreads())));
  const noThreads = threads > 1 ? threadsUnavailable() : undefined;
  if (noThreads) {
    notes.push(`one thread only: ${noThreads}`);
    threads = 1;
  }
  // Slices of whole 128-byte steps per thread; at least 1 MiB each.
  const mib = Math.max(threads, Math.round((o.bytes ?? 256 * 2 ** 20) / 2 ** 20));
  const bytes = Math.min(mib, 2048) * 2 ** 20;
  const pages = bytes / 65536 + 1;
  const shared = threads > 1;
  const memory = new WebAssembly.Memory(
    shared ? { initial: pages, maximum: pages, shared: true } : { initial: pages, maximum: pages },
  );
  // Touch every page first: untouched pages all map the kernel's one zero page, which stays in cache.
  new Uint32Array(memory.buffer).fill(0x3f800000);
  const { module: peakModule, relaxed } = await compilePeak(notes);
  const streamModule = await WebAssembly.compile(streamModuleBytes(pages, shared));
  const peak = (await WebAssembly.instantiate(peakModule, {})).exports as unknown as Record<
    'muladd' | 'tile' | 'fma',
    (iters: number, m: number, c: number) => number
  >;
  const stream = (await WebAssembly.instantiate(streamModule, { env: { memory } })).exports as unknown as {
    sum(ptr: number, bytes: number, passes: number): number;
    sum2(ptr: number, half: number, passes: number): number;
  };
  const base = 65536;

  // Iterations so that one sample of a peak kernel lasts about minMs. The kernel runs once first:
  // a first call runs unoptimised code, and calibrating on it gave a sample too short for a
  // browser's coarse clock to see (0 ms: an infinite rate). Two passes, the larger count kept.
  const calibrate = (f: (n: number, m: number, c: number) => number) => {
    f(1024, 1, 0);
    return Math.max(calibrateOnce(f), calibrateOnce(f));
  };
  const calibrateOnce = (f: (n: number, m: number, c: number) => number) => {
    let iters = 1024;
    for (;;) {
      const s = now();
      f(iters, 1, 0);
      const ms = now() - s;
      if (ms >= minMs / 4 || iters >= 2 ** 30)
        return Math.max(1, Math.min(2 ** 30, Math.ceil((iters * minMs) / Math.max(ms, 1e-3))));
      iters *= 4;
    }
  };
  /**
   * One sample: `work` units per run over the time the runs took, per `unit`, running again until
   * at least minMs has passed, so that no clock (a browser's is coarsened to 0.1 ms or more) reads
   * a sample as taking no time.
   */
  const oneThread = (run: () => void, work: number, unit: number) => () => {
    const s = now();
    let runs = 0;
    let ms: number;
    do {
      run();
      runs++;
      ms = now() - s;
    } while (ms < minMs);
    return (work * runs) / (ms / 1000) / unit;
  };
  const muladdIters = calibrate(peak.muladd);
  const tileIters = calibrate(peak.tile);
  const fmaIters = relaxed ? calibrate(peak.fma) : 0;
  const one = interleaved(
    {
      muladd: oneThread(() => peak.muladd(muladdIters, 1, 0), muladdIters * MULADD_FLOPS_PER_ITER, 1e9),
      tile: oneThread(() => peak.tile(tileIters, 1, 0), tileIters * TILE_FLOPS_PER_ITER, 1e9),
      ...(relaxed
        ? { fma: oneThread(() => peak.fma(fmaIters, 1, 0), fmaIters * FMA_FLOPS_PER_ITER, 1e9) }
        : {}),
      bw: oneThread(() => stream.sum(base, bytes, 1), bytes, 1e9),
      bw2: oneThread(() => stream.sum2(base, bytes / 2, 1), bytes, 1e9),
    },
    reps,
  );
  // The mul+add peak: whichever of the register chains and the outer product from L1 runs faster.
  const better = (a: RooflineFigure, b: RooflineFigure | undefined) => (b && b.best > a.best ? b : a);
  const peakMulAddOne = better(one.muladd!, one.tile);
  const peakFmaOne = one.fma;
  // One thread's read bandwidth: whichever of one stream and two streams reads faster.
  const bwOne = better(one.bw!, one.bw2);
  const streams = bwOne === one.bw2 ? 2 : 1;

  let all: {
    muladd?: RooflineFigure;
    tile?: RooflineFigure;
    fma?: RooflineFigure;
    bw?: RooflineFigure;
    bw2?: RooflineFigure;
  } = {};
  if (threads > 1) {
    const helpers: Helper[] = [];
    try {
      for (let i = 1; i < threads; i++)
        helpers.push(await spawnHelper({ peak: peakModule, stream: streamModule, memory }));
      const slice = Math.floor(bytes / threads / STREAM_STEP) * STREAM_STEP;
      // Every thread starts together; the figure is the total work over the time the last one took
      // (rounds repeated until minMs has passed, as for one thread).
      const together = (kind: number, iters: number, own: () => void, work: number, unit: number) => () => {
        const s = now();
        let rounds = 0;
        let ms: number;
        do {
          for (const [i, h] of helpers.entries()) post(h, kind, [base + (i + 1) * slice, slice, iters]);
          own();
          for (const h of helpers) waitFor(h);
          rounds++;
          ms = now() - s;
        } while (ms < minMs);
        return (work * threads * rounds) / (ms / 1000) / unit;
      };
      all = interleaved(
        {
          muladd: together(
            KIND_MULADD,
            muladdIters,
            () => peak.muladd(muladdIters, 1, 0),
            muladdIters * MULADD_FLOPS_PER_ITER,
            1e9,
          ),
          tile: together(
            KIND_TILE,
            tileIters,
            () => peak.tile(tileIters, 1, 0),
            tileIters * TILE_FLOPS_PER_ITER,
            1e9,
          ),
          ...(relaxed
            ? {
                fma: together(
                  KIND_FMA,
                  fmaIters,
                  () => peak.fma(fmaIters, 1, 0),
                  fmaIters * FMA_FLOPS_PER_ITER,
                  1e9,
                ),
              }
            : {}),
          bw: together(KIND_STREAM, 1, () => stream.sum(base, slice, 1), slice, 1e9),
          bw2: together(KIND_STREAM2, 1, () => stream.sum2(base, slice / 2, 1), slice, 1e9),
        },
        reps,
      );
    } finally {
      for (const h of helpers) post(h, KIND_STOP, [0, 0, 0]);
      await Promise.all(helpers.map((h) => h.stop()));
    }
  }
  const firstTouch = measureFirstTouch();
  notes.push(
    `best of ${reps} samples, the kernels taking turns; mul+add peak: the better of 12 register chains, no memory access (${g(one.muladd!.best)} GFLOP/s), and a 4 x 2 outer product of vectors loaded from L1, as in a dot-product engine (${g(one.tile!.best)}); FMA peak: 12 register chains; bandwidth: 8 v128 loads per 128 bytes over ${fmtBytes(bytes)}${threads > 1 ? ` (a slice per thread, the better of one stream and two per thread)` : ''}, on 1 thread the better of one stream (${g(one.bw!.best)} GB/s) and two far-apart streams (${g(one.bw2!.best)}): ${streams === 2 ? 'two' : 'one'}; first touch: a new ${fmtBytes(FIRST_TOUCH_BYTES)} buffer filled once, best of 5`,
  );
  return {
    threads,
    peakMulAdd: { one: peakMulAddOne, ...(all.muladd ? { all: better(all.muladd, all.tile) } : {}) },
    ...(peakFmaOne ? { peakFma: { one: peakFmaOne, ...(all.fma ? { all: all.fma } : {}) } } : {}),
    bandwidth: { one: bwOne, ...(all.bw ? { all: better(all.bw, all.bw2) } : {}) },
    firstTouch,
    bufferBytes: bytes,
    durationSeconds: (now() - t0) / 1000,
    notes,
  };
}

/**
 * Bytes of each first-touch sample: above the 32 MiB beyond which glibc's malloc always maps
 * fresh pages, so the sample is of new pages whatever the allocator kept from earlier samples.
 */
export const FIRST_TOUCH_BYTES = 48 * 2 ** 20;

/** {@link Roofline.firstTouch}: `reps` samples of a new buffer filled once (best and median). */
export function measureFirstTouch(reps = 5, bytes = FIRST_TOUCH_BYTES): RooflineFigure {
  const samples: number[] = [];
  for (let r = 0; r < reps; r++) {
    const s = now();
    const b = new Float32Array(bytes / 4);
    b.fill(1);
    const ms = Math.max(now() - s, 1e-3);
    if (b[b.length - 1] !== 1) throw new Error('first-touch sample not written');
    samples.push(bytes / (ms / 1000) / 1e9);
  }
  return figure(samples);
}

// ---------------------------------------------------------------------------------------------
// Judging figures against the roofline.

/** The limits that apply to one run of a kernel. */
export interface Limits {
  /** Float operations per second the threads can issue, GFLOP/s. */
  readonly gflops: number;
  /** Bytes per second they can stream from memory, GB/s. */
  readonly gbs: number;
  /** Which figures these are, in words. */
  readonly label: string;
}

/** A figure's share of the limit that binds it. */
export interface LimitShare {
  /** `compute` when the flops take longer at peak than the bytes at full bandwidth, else `bandwidth`. */
  readonly bound: 'compute' | 'bandwidth';
  /** 2 Q N d. */
  readonly flops: number;
  /** The corpus read once: N d bytes per value (4; 2 for float16, 1 for int8 + its per-row scales). */
  readonly bytes: number;
  /** Achieved GFLOP/s (compute-bound) or GB/s of corpus read (bandwidth-bound). */
  readonly achieved: number;
  /** The limit in the same unit. */
  readonly limit: number;
  /** achieved / limit: the time at the roofline over the time measured. */
  readonly share: number;
  /** Achieved corpus bandwidth over the bandwidth limit, whichever binds (the sweep's few-query target). */
  readonly bandwidthShare: number;
  /** Achieved GFLOP/s over the peak, whichever binds. */
  readonly peakShare: number;
  readonly threads: number;
  readonly label: string;
}

/**
 * The share of the limit that binds one call of Q queries against N corpus rows of d values of
 * `bytesPerValue` bytes (`rowExtraBytes` more per row), timed at `seconds`. The call cannot be
 * faster than both `flops / peak` and `bytes / bandwidth` (the corpus must be read at least once;
 * queries and results are small beside it); the larger of the two is the limit that binds.
 */
export function limitShare(
  work: { q: number; n: number; d: number; bytesPerValue?: number; rowExtraBytes?: number },
  seconds: number,
  limits: Limits,
  threads = 1,
): LimitShare {
  const flops = 2 * work.q * work.n * work.d;
  const bytes = work.n * (work.d * (work.bytesPerValue ?? 4) + (work.rowExtraBytes ?? 0));
  const computeSeconds = flops / (limits.gflops * 1e9);
  const memorySeconds = bytes / (limits.gbs * 1e9);
  const bound = computeSeconds >= memorySeconds ? 'compute' : 'bandwidth';
  const gflops = flops / seconds / 1e9;
  const gbs = bytes / seconds / 1e9;
  return {
    bound,
    flops,
    bytes,
    achieved: bound === 'compute' ? gflops : gbs,
    limit: bound === 'compute' ? limits.gflops : limits.gbs,
    share: Math.max(computeSeconds, memorySeconds) / seconds,
    bandwidthShare: gbs / limits.gbs,
    peakShare: gflops / limits.gflops,
    threads,
    label: limits.label,
  };
}

/**
 * The limits of a run on `threads` threads: one-thread figures for one, all-thread figures for as
 * many threads as measured (more are capped there), in between `threads` times the one-thread
 * figure capped by the all-thread one. `fma` picks the relaxed-FMA peak where it was measured.
 */
export function limitsFor(r: Roofline, threads: number, fma = false): Limits {
  const peakFig = fma && r.peakFma ? r.peakFma : r.peakMulAdd;
  const kind = fma && r.peakFma ? 'FMA' : 'mul+add';
  const pick = (f: ThreadedFigure) => {
    if (threads <= 1 || !f.all) return f.one.best;
    if (threads >= r.threads) return f.all.best;
    return Math.min(f.all.best, threads * f.one.best);
  };
  const t = Math.max(1, threads);
  return {
    gflops: pick(peakFig),
    gbs: pick(r.bandwidth),
    label: `${kind} peak and read bandwidth, ${t} thread${t > 1 ? 's' : ''}`,
  };
}

/**
 * Threads a contender computes on: the `threads` its backend reports, else the `threads` of the
 * backend on the same engine (tfjs peers: `tfjs-wasm:fast` runs where `tfjs-wasm` does), else 1
 * (JavaScript loops).
 */
export function contenderThreads(id: string, contenders: readonly ContenderInfo[]): number {
  const own = contenders.find((c) => c.id === id)?.details?.threads;
  if (own !== undefined && Number(own) >= 1) return Number(own);
  const engine = contenders.find((c) => c.id === id.split(':')[0])?.details?.threads;
  return engine !== undefined && Number(engine) >= 1 ? Number(engine) : 1;
}

/** True when a contender computes with relaxed SIMD (the wasm backend's `variant`). */
function usesFma(id: string, contenders: readonly ContenderInfo[]): boolean {
  return contenders.find((c) => c.id === id)?.details?.variant === 'relaxed';
}

/**
 * The share of the binding limit of one result (its median), or undefined for pairs and results
 * without a timing. A figure measured on a slice is judged per pair at `full`, the workload's size:
 * a slice of a product's queries would otherwise look bound by bandwidth.
 */
export function resultShare(
  r: BenchResult,
  roofline: Roofline,
  contenders: readonly ContenderInfo[],
  full: { q: number; n: number; d: number } = r.size,
): LimitShare | undefined {
  if (r.status !== 'ok' || !r.timing || r.size.q * r.size.n <= 1) return undefined;
  const threads = contenderThreads(r.contender, contenders);
  const int8 = /int8/.test(r.method);
  // A float16 corpus reads 2 bytes per value and computes in float32 after unpacking them.
  const half = /float16/.test(r.method);
  const limits = limitsFor(roofline, threads, usesFma(r.contender, contenders));
  const seconds = ((r.timing.median / 1000) * (full.q * full.n)) / (r.size.q * r.size.n);
  return limitShare(
    {
      q: full.q,
      n: full.n,
      d: full.d,
      bytesPerValue: int8 ? 1 : half ? 2 : 4,
      rowExtraBytes: int8 ? 4 : 0,
    },
    seconds,
    // An int8 scan is integer work with no float peak to hold it to: judged on the bytes it reads.
    int8
      ? {
          gflops: Number.POSITIVE_INFINITY,
          gbs: limits.gbs,
          label: `read bandwidth (int8), ${threads} thread${threads > 1 ? 's' : ''}`,
        }
      : limits,
    threads,
  );
}

/** The report with the roofline attached and each search and matrix figure's share of its limit. */
export function withRoofline(report: BenchReport, roofline: Roofline): BenchReport {
  return {
    ...report,
    roofline,
    results: report.results.map((r) => {
      // Only a slice is judged at the workload's size: the million preset's 1-query figure is a
      // measurement of its own (not shrunk), and judged at 16 queries it read 16x too slow.
      const full = r.shrunk ? report.workloads.find((w) => w.id === r.workload)?.size : undefined;
      const limit = resultShare(r, roofline, report.contenders, full ?? r.size);
      return limit ? { ...r, limit } : r;
    }),
  };
}

// ---------------------------------------------------------------------------------------------
// Text.

const g = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toPrecision(2));
/** `83%`. */
export const pct = (x: number) => `${(x * 100).toFixed(x < 0.1 ? 1 : 0)}%`;

/**
 * A figure's share of its limit in one cell, as the sweep's table and the page's results table
 * both show it: `83% peak` (compute-bound) or `41% bw` (bandwidth-bound), with `mark` after it when
 * the figure ran on a slice.
 */
export function shareCell(l: LimitShare, shrunk = false, mark = '*'): string {
  return `${pct(l.share)} ${l.bound === 'compute' ? 'peak' : 'bw'}${cached(l) ? ' (cache)' : ''}${shrunk ? mark : ''}`;
}

/**
 * Smallest corpus read from memory on every call: larger than most processors' last-level cache. A
 * smaller one stays in cache between calls and can read faster than the streaming bandwidth measured
 * over 256 MiB (shares of 105-226% "bw" were shown and counted as met).
 */
export const MEMORY_CORPUS_BYTES = 32 * 2 ** 20;

/** True when `l` is bound by bandwidth on a corpus that fits in cache: that bandwidth does not bind it. */
export function cached(l: LimitShare): boolean {
  return l.bound === 'bandwidth' && l.bytes < MEMORY_CORPUS_BYTES;
}

/** The limit behind a share, in words: `7.1 GFLOP/s of 33.0 GFLOP/s (mul+add peak and read bandwidth, 2 threads)`. */
export function shareDetail(l: LimitShare): string {
  const unit = l.bound === 'compute' ? 'GFLOP/s' : 'GB/s';
  return `${g(l.achieved)} ${unit} of ${g(l.limit)} ${unit} (${l.label})`;
}

function fig(f: ThreadedFigure | undefined, unit: string, threads: number): string {
  if (!f) return 'not measured';
  const all = f.all ? `, ${g(f.all.best)} on ${threads} threads` : '';
  return `${g(f.one.best)} ${unit} per thread (median ${g(f.one.median)})${all}`;
}

/** The roofline in a few lines. */
export function describeRoofline(r: Roofline): string[] {
  return [
    `wasm SIMD mul+add peak: ${fig(r.peakMulAdd, 'GFLOP/s', r.threads)}`,
    `wasm relaxed-FMA peak:  ${fig(r.peakFma, 'GFLOP/s', r.threads)}`,
    `streaming read:         ${fig(r.bandwidth, 'GB/s', r.threads).replace(' per thread', ' on 1 thread')}`,
    ...(r.firstTouch
      ? [
          `first touch of memory:  ${g(r.firstTouch.best)} GB/s on 1 thread (median ${g(r.firstTouch.median)}): what a new result's pages cost to fault in, ${g(4 / r.firstTouch.best)} us per 1,000 floats`,
        ]
      : []),
    `measured in ${r.durationSeconds.toFixed(1)} s; ${r.notes.join('; ')}`,
  ];
}

/** Pads each column to its widest cell. */
export function columns(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  // A row's last cell is never padded, so it does not widen its column (a note may run on).
  for (const row of rows) {
    for (const [i, c] of row.slice(0, -1).entries()) widths[i] = Math.max(widths[i] ?? 0, c.length);
  }
  return rows.map((row) =>
    row
      .map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd(),
  );
}

/**
 * The roofline section of a report: the machine's limits, then each search and matrix figure with
 * the limit that binds it and its share of it. Plain text (the page shows it in a `<pre>`).
 */
export function renderRoofline(report: BenchReport): string {
  const r = report.roofline;
  if (!r) return '';
  const lines = ['Roofline of this machine', ...describeRoofline(r).map((l) => `  ${l}`)];
  const rows = report.results.filter((x) => x.limit);
  if (rows.length) {
    lines.push(
      '',
      "Share of the limit that binds each figure's median (compute: 2QNd flops at peak; bandwidth: the corpus read once; a slice judged per pair at the workload's size):",
    );
    lines.push(
      ...columns([
        ['Workload', 'Contender', 'Method', 'Threads', 'Bound', 'Achieved', 'Limit', 'Share'],
        ...rows.map((x) => {
          const l = x.limit!;
          const unit = l.bound === 'compute' ? 'GFLOP/s' : 'GB/s';
          return [
            x.workload,
            x.contender,
            x.method,
            String(l.threads),
            l.bound,
            `${g(l.achieved)} ${unit}`,
            `${g(l.limit)} ${unit}`,
            `${pct(l.share)}${cached(l) ? ' (cache)' : ''}${x.shrunk ? ' (slice)' : ''}`,
          ];
        }),
      ]).map((l) => `  ${l}`),
    );
  }
  return lines.join('\n');
}
