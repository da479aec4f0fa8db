import type { Backend } from '@cosinekit/core';
import { createCosineKit } from '@cosinekit/core';
import { referenceKernels } from '@cosinekit/core/backend';
import { describe, expect, it } from 'vitest';
import {
  createEncoder,
  type DenseOps,
  type Encoder,
  float64Ops,
  kernelOps,
  multipleNegativesRankingLoss,
} from '../src/index.js';
import { randomVec } from './helpers.js';

// The wasm backend is written in parallel; when it is not built, these checks are skipped.
const specifier = '@cosinekit/backend-wasm';
const wasm = await import(specifier)
  .then((m: { createWasmBackend?: () => Backend }) => m.createWasmBackend?.())
  .catch(() => undefined);

async function gradients(ops: DenseOps, enc: Encoder, x: Float64Array | Float32Array, rows: number) {
  const cache = await enc.forward(ops, x, 2 * rows);
  const d = enc.outputs;
  const r = await multipleNegativesRankingLoss().compute(ops, {
    a: cache.out.subarray(0, rows * d),
    b: cache.out.subarray(rows * d),
    rows,
    cols: d,
  });
  const dOut = ops.alloc(2 * rows * d);
  dOut.set(r.gradA);
  dOut.set(r.gradB, rows * d);
  return { loss: r.loss, grads: (await enc.backward(ops, cache, dOut)).params };
}

describe.skipIf(!wasm)('the wasm backend path matches the float64 path', () => {
  it('loss and every parameter gradient agree to float32 tolerance', async () => {
    const kit = createCosineKit({ backend: wasm! });
    const info = await kit.ready();
    expect(info.providers.matmul).toBe('wasm');
    const rows = 24;
    const enc64 = createEncoder({
      inputs: 37,
      layers: [{ units: 29, activation: 'gelu' }, { units: 11, activation: 'tanh' }, { units: 8 }],
      normalize: true,
      seed: 12,
      precision: 'float64',
    });
    for (const l of enc64.layers) l.bias.set(randomVec(l.units, l.units).map((v) => 0.2 * v));
    const x = randomVec(2 * rows * 37, 99);
    const r64 = await gradients(float64Ops, enc64, x, rows);
    for (const kernels of [await kit.kernels(), referenceKernels]) {
      const r32 = await gradients(kernelOps(kernels), enc64.clone('float32'), Float32Array.from(x), rows);
      expect(r32.loss).toBeCloseTo(r64.loss, 4);
      r64.grads.forEach((g64, k) => {
        const scale = Math.max(...Array.from(g64, Math.abs));
        const g32 = r32.grads[k];
        for (let i = 0; i < g64.length; i++)
          expect(Math.abs(g32[i] - g64[i])).toBeLessThan(1e-4 * scale + 1e-6);
      });
    }
    kit.dispose();
  });
});
