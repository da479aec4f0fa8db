import {
  argError,
  type OptimizerKind,
  type OptimizerRule,
  type OptimizerState,
  optimizerCoefficients,
} from '@cosinekit/core/backend';
import type { Resident, WasmRuntime } from '../runtime.js';
import { padded } from '../staging.js';

/** Bytes of the coefficient slot at the start of a state's block. */
const COEF_BYTES = 64;

/**
 * Floats of p and of g staged at once (a multiple of 4). A step copies a slice of p and g in,
 * updates it and copies p back while the slice is still in the first-level cache: staging whole
 * arrays (200k floats of a 784 x 256 layer, 800 KB each) sent every copy out to memory and back
 * and took longer than the update. The update is element-wise, so the slices give the same bits.
 */
const CHUNK = 4096;

/**
 * An optimiser's moments resident in wasm memory, with staging for a slice of one parameter
 * array and its gradient: a step copies p and g in and p out, slice by slice, and allocates
 * nothing. Every array starts on a 16-byte boundary (lengths padded to a multiple of 4 floats).
 */
export class WasmOptimizerState implements OptimizerState, Resident {
  readonly backend = 'wasm';
  readonly kind: OptimizerKind;
  readonly sizes: readonly number[];
  readonly owner: WasmRuntime;
  /** Address of the block, or -1 once disposed. */
  #block: number;
  /** Byte address of each moment array: per parameter array, Adam's m then v, SGD's velocity. */
  readonly #moments: number[] = [];
  readonly #p: number;
  readonly #g: number;

  constructor(
    rt: WasmRuntime,
    kind: OptimizerKind,
    sizes: readonly number[],
    moments: readonly Float32Array[] | undefined,
  ) {
    this.owner = rt;
    this.kind = kind;
    this.sizes = [...sizes];
    const slots = kind === 'adam' ? 2 : 1;
    const widest = Math.min(CHUNK, padded(Math.max(1, ...sizes))) * 4;
    let bytes = COEF_BYTES + 2 * widest;
    for (const n of sizes) bytes += slots * padded(n) * 4;
    this.#block = rt.alloc(bytes, 'createOptimizerState');
    this.#p = this.#block + COEF_BYTES;
    this.#g = this.#p + widest;
    let at = this.#g + widest;
    const f32 = rt.f32;
    sizes.forEach((n, k) => {
      for (let s = 0; s < slots; s++) {
        this.#moments.push(at);
        const from = moments?.[k * slots + s];
        if (from) f32.set(from, at >>> 2);
        else f32.fill(0, at >>> 2, (at >>> 2) + n);
        at += padded(n) * 4;
      }
    });
    rt.track(this);
  }

  get disposed(): boolean {
    return this.#block < 0;
  }

  #check(op: string): void {
    if (this.#block < 0) argError('DISPOSED', op, 'state', 'was disposed.');
  }

  read(): Float32Array[] {
    this.#check('OptimizerState.read');
    const slots = this.kind === 'adam' ? 2 : 1;
    return this.#moments.map((at, j) => this.owner.download(at, this.sizes[Math.floor(j / slots)]));
  }

  /** One fused update of every array, in place. */
  step(params: readonly Float32Array[], grads: readonly Float32Array[], rule: OptimizerRule): void {
    this.#check('optimizerStep');
    const rt = this.owner;
    const x = rt.exports;
    const f32 = rt.f32;
    f32.set(optimizerCoefficients(rule), this.#block >>> 2);
    const c = this.#block;
    const ps = this.#p;
    const gs = this.#g;
    const adam = this.kind === 'adam';
    for (let k = 0; k < params.length; k++) {
      const p = params[k];
      const g = grads[k];
      const n = p.length;
      const m = adam ? this.#moments[2 * k] : this.#moments[k];
      const v = adam ? this.#moments[2 * k + 1] : 0;
      for (let at = 0; at < n; at += CHUNK) {
        const len = Math.min(CHUNK, n - at);
        const end = at + len;
        f32.set(at === 0 && end === n ? p : p.subarray(at, end), ps >>> 2);
        f32.set(at === 0 && end === n ? g : g.subarray(at, end), gs >>> 2);
        // Moments advance with the slice (4 bytes a float); CHUNK is a multiple of 4 floats, so
        // every slice but the last runs whole SIMD lanes, as the whole array did.
        if (adam) x.adamStep(ps, gs, m + 4 * at, v + 4 * at, len, c);
        else x.sgdStep(ps, gs, m + 4 * at, len, c);
        p.set(f32.subarray(ps >>> 2, (ps >>> 2) + len), at);
      }
    }
  }

  dispose(): void {
    if (this.#block < 0) return;
    if (!this.owner.disposed) this.owner.free(this.#block);
    this.owner.untrack(this);
    this.#block = -1;
  }

  /** Called when the backend is disposed. */
  release(): void {
    this.#block = -1;
  }
}

/** `createOptimizerState`: the moments in wasm memory, zeroed or copied from `moments`. */
export function createOptimizerState(
  rt: WasmRuntime,
  kind: OptimizerKind,
  sizes: readonly number[],
  moments?: readonly Float32Array[],
): WasmOptimizerState {
  return new WasmOptimizerState(rt, kind, sizes, moments);
}

/** `optimizerStep` on a state of this runtime. */
export function optimizerStep(
  rt: WasmRuntime,
  state: OptimizerState,
  params: readonly Float32Array[],
  grads: readonly Float32Array[],
  rule: OptimizerRule,
): void {
  if (!(state instanceof WasmOptimizerState) || state.owner !== rt || state.kind !== rule.kind) {
    argError(
      'INVALID_ARGUMENT',
      'optimizerStep',
      'state',
      `must be a '${rule.kind}' state made by this wasm backend's createOptimizerState.`,
    );
  }
  if (params.length !== state.sizes.length || params.some((p, k) => p.length !== state.sizes[k]))
    argError('SHAPE_MISMATCH', 'optimizerStep', 'params', 'must match the state in count and lengths.');
  // A longer gradient would be copied past its staging slot, over the moments.
  if (grads.length !== params.length || grads.some((g, k) => g.length !== params[k].length))
    argError('SHAPE_MISMATCH', 'optimizerStep', 'grads', 'must match params in count and lengths.');
  state.step(params, grads, rule);
}
