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
 * An optimiser's moments resident in wasm memory, with staging for one parameter array and its
 * gradient: a step copies p and g in and p out, and allocates nothing. Every array starts on a
 * 16-byte boundary (lengths padded to a multiple of 4 floats).
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
    const widest = padded(Math.max(1, ...sizes)) * 4;
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
    for (let k = 0; k < params.length; k++) {
      const p = params[k];
      const n = p.length;
      f32.set(p, this.#p >>> 2);
      f32.set(grads[k], this.#g >>> 2);
      if (this.kind === 'adam')
        x.adamStep(this.#p, this.#g, this.#moments[2 * k], this.#moments[2 * k + 1], n, c);
      else x.sgdStep(this.#p, this.#g, this.#moments[k], n, c);
      p.set(f32.subarray(this.#p >>> 2, (this.#p >>> 2) + n));
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
