import type { Backend } from '@cosinekit/core';
import { createCosineKit } from '@cosinekit/core';
import { referenceKernels } from '@cosinekit/core/backend';
import { describe, expect, it } from 'vitest';
import {
  adam,
  createEncoder,
  type DenseOps,
  type Encoder,
  float64Ops,
  inBatchSampler,
  kernelOps,
  multipleNegativesRankingLoss,
  type Optimizer,
  train,
} from '../src/index.js';
import { randomVec } from './helpers.js';

// The wasm backend is written in parallel; when it is not built, these checks are skipped.
const specifier = '@cosinekit/backend-wasm';
const wasm = await import(specifier)
  .then((m: { createWasmBackend?: () => Backend }) => m.createWasmBackend?.())
  .catch(() => undefined);
if (!wasm) console.log('[nn] wasm backend tests skipped: @cosinekit/backend-wasm is not built');

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

describe.skipIf(!wasm)("the bias gradients from wasm's columnSums kernel", () => {
  it('are the bits the layers sum in JavaScript without it, and the memory comes back', async () => {
    const kit = createCosineKit({ backend: wasm! });
    const info = await kit.ready();
    expect((info.providers as Record<string, string>).columnSums).toBe('wasm');
    const kernels = await kit.kernels();
    const ops = kernelOps(kernels);
    expect(ops.columnSums).toBeTypeOf('function');
    // The same table without the kernel: the layers then sum in JS, in the contract's order.
    const bare = kernelOps({ ...kernels, columnSums: undefined });
    expect(bare.columnSums).toBeUndefined();
    const before = wasm!.memory!();
    // Odd widths (SIMD body and scalar tail), one row, and the MLP's real widths.
    for (const [rows, units] of [
      [1, 1],
      [3, 7],
      [13, 5],
      [64, 33],
    ]) {
      const enc = createEncoder({
        inputs: 9,
        layers: [{ units, activation: 'relu' }, { units: 3 }],
        normalize: true,
        seed: rows + units,
      });
      const x = Float32Array.from(randomVec(2 * rows * 9, units), (v) => 3 * v);
      const a = await gradients(ops, enc, x, rows);
      const b = await gradients(bare, enc, x, rows);
      expect(a.loss).toBe(b.loss);
      a.grads.forEach((g, k) => {
        const bits = (v: Float32Array | Float64Array) => [...new Uint32Array(Float32Array.from(v).buffer)];
        expect(bits(g), `${rows} x ${units}, parameter ${k}`).toEqual(bits(b.grads[k]));
      });
    }
    const after = wasm!.memory!();
    expect(after).toEqual(before);
    kit.dispose();
  });
});

describe.skipIf(!wasm)('sparse inputs on wasm (its matmul skips the zeros of X)', () => {
  // 64 rows of 300 inputs, 15% non-zero, input 2 always zero: X W and Xᵀ dZ take the sparse path.
  const data = {
    x: Float32Array.from(randomVec(64 * 300, 5), (v, i) => (i % 20 > 2 || i % 300 === 2 ? 0 : v)),
    rows: 64,
    cols: 300,
    labels: Array.from({ length: 64 }, (_, i) => i % 4),
  };
  const run = async (source: Parameters<typeof train>[0]['kernels'], poison: boolean) => {
    const encoder = createEncoder({
      inputs: 300,
      layers: [{ units: 64, activation: 'relu' }, { units: 16 }],
      normalize: true,
      seed: 3,
    });
    // A NaN weight on the input that is always zero: x * NaN is NaN in a dense product.
    if (poison) encoder.layers[0].weights[2 * 64 + 5] = Number.NaN;
    const r = await train({
      kernels: source,
      encoder,
      loss: multipleNegativesRankingLoss(),
      sampler: inBatchSampler(data, { batchSize: 16 }),
      optimizer: adam(),
      epochs: 2,
      seed: 7,
    });
    return { losses: r.history.map((h) => h.loss), weights: encoder.parameters() };
  };

  it('trains to the same losses twice with the same seed, within float32 of the reference', async () => {
    const kit = createCosineKit({ backend: wasm! });
    const a = await run(kit, false);
    const b = await run(kit, false);
    expect(a.losses).toEqual(b.losses);
    for (let k = 0; k < a.weights.length; k++)
      expect(Array.from(a.weights[k])).toEqual(Array.from(b.weights[k]));
    const ref = await run(referenceKernels, false);
    for (let i = 0; i < a.losses.length; i++)
      expect(Math.abs(a.losses[i] - ref.losses[i])).toBeLessThan(1e-4);
    kit.dispose();
  });

  it('a NaN weight that only ever meets zero inputs still fails, as on the reference, naming the encoder', async () => {
    // Refused before the first step: the weight is the caller's, not a kernel's output.
    const kit = createCosineKit({ backend: wasm! });
    const poisoned = { code: 'NON_FINITE', op: 'train', arg: 'encoder' };
    await expect(run(kit, true)).rejects.toMatchObject(poisoned);
    await expect(run(createCosineKit({ backend: 'reference' }), true)).rejects.toMatchObject(poisoned);
    kit.dispose();
  });

  it('a bias turned NaN between steps is caught by the self-checked addBias, and named as on the reference', async () => {
    // The wasm addBias checks its sums in wasm memory (the kit does not read them again); the NaN
    // bias meets finite products only there, and relu would turn it into 0 right after.
    const attempt = async (source: Parameters<typeof train>[0]['kernels']) => {
      const encoder = createEncoder({
        inputs: 300,
        layers: [{ units: 64, activation: 'relu' }, { units: 16 }],
        normalize: true,
        seed: 3,
      });
      // An optimiser whose second step leaves a NaN bias (a callback that did so is named itself now).
      const inner = adam();
      let steps = 0;
      const optimizer: Optimizer = {
        name: inner.name,
        get steps() {
          return inner.steps;
        },
        learningRate: () => inner.learningRate(),
        dispose: () => inner.dispose?.(),
        step: (...args: Parameters<Optimizer['step']>) => {
          const poison = () => {
            if (++steps === 2) encoder.layers[0].bias[5] = Number.NaN;
          };
          const r = inner.step(...args);
          return r instanceof Promise ? r.then(poison) : poison();
        },
      };
      return train({
        kernels: source,
        encoder,
        loss: multipleNegativesRankingLoss(),
        sampler: inBatchSampler(data, { batchSize: 16 }),
        optimizer,
        epochs: 1,
        seed: 7,
      }).then(
        () => undefined,
        (e: unknown) => e as Error & { cause?: { code?: string; kernel?: string; backend?: string } },
      );
    };
    const kit = createCosineKit({ backend: wasm! });
    expect((await kit.ready()).providers.addBias).toBe('wasm');
    const named = { code: 'NON_FINITE', op: 'train', arg: 'optimizer' };
    const onWasm = await attempt(kit);
    expect(onWasm).toMatchObject(named);
    expect(onWasm?.message).toContain('before batch 2 of epoch 0');
    // The kernel table names the NaN bias it was handed (the backend's addBias refused it).
    expect(onWasm?.cause).toMatchObject({ code: 'NON_FINITE', op: 'addBias', arg: 'bias' });
    expect(await attempt(createCosineKit({ backend: 'reference' }))).toMatchObject(named);
    kit.dispose();
  });
});

describe.skipIf(!wasm)('the optimiser on wasm', () => {
  it("steps with the wasm kernel, to the reference kernel's bits, and frees its state", async () => {
    const kit = createCosineKit({ backend: wasm! });
    const info = await kit.ready();
    expect((info.providers as Record<string, string>).optimizerStep).toBe('wasm');
    const kernels = await kit.kernels();
    const sizes = [784 * 3, 256, 5, 1];
    const start = sizes.map((n, k) => Float32Array.from(randomVec(n, k + 1)));
    const grads = (s: number) => sizes.map((n, k) => Float32Array.from(randomVec(n, 100 * s + k)));
    const held = wasm!.memory!().residentHandles;
    const onWasm = adam({ learningRate: 0.01, weightDecay: 0.01 });
    const onRef = adam({ learningRate: 0.01, weightDecay: 0.01 });
    const a = start.map((p) => p.slice());
    const b = start.map((p) => p.slice());
    for (let s = 0; s < 5; s++) {
      await onWasm.step(a, grads(s), kernels);
      await onRef.step(b, grads(s), referenceKernels);
    }
    expect(wasm!.memory!().residentHandles).toBe(held + 1);
    for (let k = 0; k < a.length; k++)
      expect(new Uint32Array(a[k].buffer)).toEqual(new Uint32Array(b[k].buffer));
    onWasm.dispose!();
    expect(wasm!.memory!().residentHandles).toBe(held);
    kit.dispose();
  });
});

describe.skipIf(!wasm)('an optimiser dropped without dispose()', () => {
  it('releases its moments on the backend once it is collected (a one-off adam() handed to train, as the README writes it, kept them for good)', async () => {
    const { setFlagsFromString } = await import('node:v8');
    const { runInNewContext } = await import('node:vm');
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const backend = (await import(specifier)).createWasmBackend({ threads: 1 }) as Backend;
    const kit = createCosineKit({ backend });
    await kit.ready();
    const rows = 32;
    const cols = 16;
    const x = Float32Array.from(randomVec(rows * cols, 3));
    const labels = Array.from({ length: rows }, (_, i) => i % 4);
    const before = backend.memory!().residentHandles;
    const run = async (seed: number) => {
      const encoder = createEncoder({
        inputs: cols,
        layers: [{ units: 32, activation: 'relu' }, { units: 8 }],
        seed,
      });
      await train({
        kernels: kit,
        encoder,
        loss: multipleNegativesRankingLoss(),
        sampler: inBatchSampler({ x, rows, cols, labels }, { batchSize: 16 }),
        optimizer: adam({ learningRate: 1e-3 }),
        epochs: 1,
      });
    };
    for (let i = 0; i < 5; i++) await run(i);
    expect(backend.memory!().residentHandles).toBeGreaterThan(before);
    for (let i = 0; i < 10 && backend.memory!().residentHandles > before; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(backend.memory!().residentHandles).toBe(before);
    kit.dispose();
    await backend.dispose?.();
  });
});
