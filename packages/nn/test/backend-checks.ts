import type { Backend } from '@cosinekit/core';
import { createCosineKit } from '@cosinekit/core';
import { referenceKernels } from '@cosinekit/core/backend';
import { afterAll, describe, expect, it } from 'vitest';
import {
  arcFaceLoss,
  cosFaceLoss,
  createCosineClassifier,
  createEncoder,
  type DenseOps,
  type Encoder,
  type EncoderOptions,
  float64Ops,
  kernelOps,
  type Loss,
  multipleNegativesRankingLoss,
  normFaceLoss,
  type Vec,
} from '../src/index.js';
import { randomVec } from './helpers.js';

/**
 * The float32-vs-float64 checks of the model, for the backends a test file names
 * ({@link checkBackends}): the checks on every backend that runs in Node: the same dense,
 * convolutional and classifier steps on a backend's kernels (float32, through a kit, so its
 * outputs are checked as in use) and on float64Ops, loss and every gradient compared. The packages
 * are imported by name at run time; a backend that cannot start here is skipped with its reason
 * printed. Tolerances, unless a candidate states its own: loss to 1e-4 absolute; each gradient to
 * 1e-4 of its largest magnitude plus 1e-6 (float32 products and sums over at most a few hundred
 * terms stay far inside this; a wrong kernel is off by whole values).
 */

/** A backend to check, made when the checks start. */
export interface Candidate {
  readonly name: string;
  readonly create: () => Promise<Backend>;
  /** Loss (absolute) and gradient (relative, plus 1e-6) tolerance; 1e-4 unless given. */
  readonly tolerance?: number;
}

/** A package's module, or undefined when it is not built here. */
export async function load<T>(specifier: string): Promise<T | undefined> {
  // A computed specifier: this file also type-checks and runs while a backend is not built (Node
  // only: a page resolves no bare specifier, so the browser file imports the packages by name).
  const name = specifier;
  return (await import(/* @vite-ignore */ name).catch(() => undefined)) as T | undefined;
}

export type WasmModule = { createWasmBackend(o?: { variant?: string; threads?: number }): Backend };
export type TfjsModule = { createTfjsBackend(o: { engine: string }): Backend };
export type GpujsModule = { createGpujsBackend(o: { mode: string }): Backend };
export type WebGpuModule = { createWebGpuBackend(): Backend };

export const missing = (pkg: string) => `${pkg} is not built here (pnpm turbo run build --filter=${pkg})`;

function expectGradients(g32: readonly Vec[], g64: readonly Vec[], tolerance: number): void {
  expect(g32.length).toBe(g64.length);
  g64.forEach((a, k) => {
    const b = g32[k];
    expect(b.length).toBe(a.length);
    let scale = 0;
    for (let i = 0; i < a.length; i++) scale = Math.max(scale, Math.abs(a[i]));
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(b[i] - a[i]));
    expect(worst, `gradient ${k}`).toBeLessThanOrEqual(tolerance * scale + 1e-6);
  });
}

/** Loss and gradients (parameters, then the input) of an encoder under the in-batch ranking loss. */
async function rankingStep(ops: DenseOps, enc: Encoder, x: Vec, rows: number) {
  const cache = await enc.forward(ops, x, 2 * rows);
  const d = enc.outputs;
  const r = await multipleNegativesRankingLoss().compute(ops, {
    a: cache.out.subarray(0, rows * d),
    b: cache.out.subarray(rows * d),
    rows,
    cols: d,
    groups: Int32Array.from({ length: rows }, (_, i) => i % 3),
  });
  const dOut = ops.alloc(2 * rows * d);
  dOut.set(r.gradA);
  dOut.set(r.gradB, rows * d);
  const g = await enc.backward(ops, cache, dOut, true);
  return { loss: r.loss, grads: [...g.params, g.input!] };
}

/** Loss and gradients (encoder, class vectors, input) of an encoder under a classifier loss. */
async function classifierStep(ops: DenseOps, enc: Encoder, loss: Loss, x: Vec, labels: number[]) {
  const rows = labels.length;
  const cache = await enc.forward(ops, x, rows);
  const r = await loss.compute(ops, {
    a: cache.out,
    b: ops.alloc(0),
    rows,
    cols: enc.outputs,
    labels: Int32Array.from(labels),
  });
  const g = await enc.backward(ops, cache, r.gradA, true);
  return { loss: r.loss, grads: [...g.params, ...r.gradParams!, g.input!] };
}

const mlp: EncoderOptions = {
  inputs: 37,
  layers: [{ units: 29, activation: 'gelu' }, { units: 11, activation: 'tanh' }, { units: 8 }],
  normalize: true,
};

const cnn: EncoderOptions = {
  inputs: 7 * 6 * 2,
  inputShape: [7, 6, 2],
  layers: [
    { type: 'conv2d', filters: 3, kernel: 3, padding: 1, activation: 'relu' },
    { type: 'avgPool2d', size: 2 },
    { type: 'conv2d', filters: 4, kernel: [2, 1], activation: 'gelu', bias: false },
    { type: 'maxPool2d', size: 2 },
    { type: 'flatten' },
    { units: 5, activation: 'tanh' },
    { units: 3 },
  ],
  normalize: true,
};

/** A float64 encoder with non-zero biases, and its float32 copy. */
function encoders(options: EncoderOptions, seed: number): [Encoder, Encoder] {
  const enc = createEncoder({ ...options, precision: 'float64', seed });
  for (const l of enc.layers)
    if (l.hasBias) l.bias.set(randomVec(l.bias.length, seed + 1).map((v) => 0.2 * v));
  return [enc, enc.clone('float32')];
}

/**
 * Defines the checks for each candidate that starts here, and one skipped test (its reason printed)
 * for each that does not. With `reference`, the reference runs the same checks too, and at least
 * one other backend must have run (the file that checks every Node backend); without it, only the
 * candidates are checked (a file for one backend that may be missing here).
 */
export async function checkBackends(
  candidates: readonly Candidate[],
  skipped: [string, string][],
  reference: boolean,
): Promise<void> {
  /** Each candidate's kit, or the reason it cannot start here. */
  const ready: { name: string; tolerance: number; ops: () => Promise<DenseOps>; dispose: () => void }[] = [
    ...(reference
      ? [
          {
            name: 'reference',
            tolerance: 1e-4,
            ops: async () => kernelOps(referenceKernels),
            dispose: () => {},
          },
        ]
      : []),
  ];
  for (const c of candidates) {
    try {
      const kit = createCosineKit({ backend: await c.create() });
      const info = await kit.ready();
      if (info.providers.matmul === 'reference') {
        // Its own matmul did not start (e.g. no GL context): the check would only test the reference.
        skipped.push([c.name, `matmul falls back to the reference here (${JSON.stringify(info.details)})`]);
        kit.dispose();
        continue;
      }
      ready.push({
        name: c.name,
        tolerance: c.tolerance ?? 1e-4,
        ops: async () => kernelOps(await kit.kernels()),
        dispose: () => kit.dispose(),
      });
    } catch (e) {
      skipped.push([c.name, (e as Error).message.split('\n')[0]]);
    }
  }
  for (const [name, why] of skipped) console.log(`[nn] float32-vs-float64 checks on ${name} skipped: ${why}`);
  afterAll(() => {
    for (const r of ready) r.dispose();
  });

  for (const backend of ready) {
    describe(`float32 on ${backend.name} against float64`, () => {
      it('MLP (gelu, tanh, linear; normalised) under the ranking loss, 13 pairs', async () => {
        const ops = await backend.ops();
        const [e64, e32] = encoders(mlp, 12);
        const rows = 13;
        const x = randomVec(2 * rows * mlp.inputs, 99);
        const r64 = await rankingStep(float64Ops, e64, x, rows);
        const r32 = await rankingStep(ops, e32, Float32Array.from(x), rows);
        expect(Math.abs(r32.loss - r64.loss)).toBeLessThan(backend.tolerance);
        expectGradients(r32.grads, r64.grads, backend.tolerance);
      });

      it('MLP on mostly-zero inputs (pixel-like: 85% zeros, one blank row), relu, 13 pairs', async () => {
        // Large enough (26 x 300 x 64) for a backend's sparse path (backend-wasm's matmul skips
        // the zeros of X in X W and Xᵀ dZ); the same gradients either way.
        const ops = await backend.ops();
        const sparse: EncoderOptions = {
          inputs: 300,
          layers: [{ units: 64, activation: 'relu' }, { units: 16 }],
          normalize: true,
        };
        const [e64, e32] = encoders(sparse, 5);
        const rows = 13;
        const x = randomVec(2 * rows * sparse.inputs, 31);
        for (let i = 0; i < x.length; i++) {
          if (i % 20 > 2 || Math.floor(i / sparse.inputs) === 4) x[i] = 0;
        }
        const r64 = await rankingStep(float64Ops, e64, x, rows);
        const r32 = await rankingStep(ops, e32, Float32Array.from(x), rows);
        expect(Math.abs(r32.loss - r64.loss)).toBeLessThan(backend.tolerance);
        expectGradients(r32.grads, r64.grads, backend.tolerance);
      });

      it('CNN (conv with padding, avg pool, non-square conv, max pool, flatten, dense)', async () => {
        const ops = await backend.ops();
        const [e64, e32] = encoders(cnn, 4);
        const rows = 5;
        const x = randomVec(2 * rows * e64.inputs, 7);
        const r64 = await rankingStep(float64Ops, e64, x, rows);
        const r32 = await rankingStep(ops, e32, Float32Array.from(x), rows);
        expect(Math.abs(r32.loss - r64.loss)).toBeLessThan(backend.tolerance);
        expectGradients(r32.grads, r64.grads, backend.tolerance);
      });

      const heads: [string, (c: ReturnType<typeof createCosineClassifier>) => Loss][] = [
        ['NormFace', (c) => normFaceLoss(c, { scale: 10 })],
        ['CosFace', (c) => cosFaceLoss(c, { scale: 10, margin: 0.3 })],
        ['ArcFace', (c) => arcFaceLoss(c, { scale: 8, margin: 0.4 })],
      ];
      for (const [name, make] of heads) {
        it(`${name} classifier head over a dense encoder, 9 rows of 5 classes`, async () => {
          const ops = await backend.ops();
          const [e64, e32] = encoders(
            { inputs: 19, layers: [{ units: 12, activation: 'relu' }, { units: 6 }] },
            3,
          );
          const c64 = createCosineClassifier({ classes: 5, dim: 6, seed: 8, precision: 'float64' });
          const c32 = c64.clone('float32');
          const labels = [0, 4, 1, 1, 2, 3, 0, 4, 2];
          const x = randomVec(labels.length * 19, 21);
          const r64 = await classifierStep(float64Ops, e64, make(c64), x, labels);
          const r32 = await classifierStep(ops, e32, make(c32), Float32Array.from(x), labels);
          expect(Math.abs(r32.loss - r64.loss)).toBeLessThan(backend.tolerance);
          expectGradients(r32.grads, r64.grads, backend.tolerance);
        });
      }
    });
  }
  if (skipped.length === 0 && !reference) return;
  describe('backends skipped here', () => {
    for (const [name, why] of skipped) it.skip(`${name}: ${why}`, () => {});
    if (reference)
      it('the reference and at least one other backend ran', () => {
        expect(ready.length).toBeGreaterThan(1);
      });
  });
}
