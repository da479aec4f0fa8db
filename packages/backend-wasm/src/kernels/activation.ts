import { ACTIVATIONS, type Activation, type Matrix } from '@cosinekit/core/backend';
import type { WasmRuntime } from '../runtime.js';
import { downloadFinite } from './finite.js';

/** The code of each activation in assembly/nn.ts: its position in core's ACTIVATIONS. */
function code(kind: Activation): number {
  return ACTIVATIONS.indexOf(kind);
}

/**
 * `activation`: `f(x)` element-wise (relu with SIMD; the smooth ones in float64). Self-checked,
 * as {@link downloadFinite} says.
 */
export function activation(rt: WasmRuntime, kind: Activation, x: Matrix, out?: Float32Array): Float32Array {
  const px = rt.upload(x.data, 'activation');
  try {
    const finite = rt.exports.activation(code(kind), px, x.data.length, px);
    return downloadFinite(rt, 'activation', finite, px, x.data.length, out);
  } finally {
    rt.free(px);
  }
}

/** `activationGrad`: `dy * f'(x)` element-wise, where `x` is the activation's input. Self-checked. */
export function activationGrad(
  rt: WasmRuntime,
  kind: Activation,
  x: Matrix,
  dy: Matrix,
  out?: Float32Array,
): Float32Array {
  const px = rt.upload(x.data, 'activationGrad');
  let pd = -1;
  try {
    pd = rt.upload(dy.data, 'activationGrad');
    const finite = rt.exports.activationGrad(code(kind), px, pd, x.data.length, pd);
    return downloadFinite(rt, 'activationGrad', finite, pd, x.data.length, out);
  } finally {
    rt.free(px);
    if (pd >= 0) rt.free(pd);
  }
}
