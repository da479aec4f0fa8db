import { checkTopK, cosineMatrix64, matmul64, norms64, randomTensor } from '@cosinekit/conformance';
import { activate, referenceKernels } from '@cosinekit/core/backend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebGpuBackend, type WebGpuBackend } from '../src/index.js';
import { webgpuSkipReason } from './available.js';

/**
 * A device far smaller than any real one: 4 KiB bindings, 2 KiB of workgroup memory, 4 workgroups
 * per dispatch dimension. Inputs of tens of KiB must then be split into many bindings, corpora into
 * many blocks, score tiles into many tiles and dispatches into many chunks, and still give the
 * float64 answers.
 */
const SMALL = {
  maxStorageBufferBindingSize: 4096,
  maxBufferSize: 8192,
  maxComputeWorkgroupStorageSize: 2048,
  maxComputeWorkgroupsPerDimension: 4,
};

const skip = await webgpuSkipReason();

describe.skipIf(skip !== null)('webgpu on artificially small limits', () => {
  let b: WebGpuBackend;
  beforeAll(async () => {
    b = createWebGpuBackend({ limits: SMALL });
    await b.init?.();
  });
  afterAll(() => b?.dispose?.());

  it('reports the lowered limits and a tile that fits them', () => {
    const d = b.describe!();
    expect(d.maxStorageBufferBindingSize).toBe(4096);
    expect(d.maxComputeWorkgroupsPerDimension).toBe(4);
    expect(String(d.tile)).toMatch(/^16x16 outputs/);
  });

  it('topK and a resident corpus of 300 x 37 (44 KiB: 19 resident blocks, 4 KiB tiles) give the exact top-k', async () => {
    const q = randomTensor(23, 37, 1);
    const c = randomTensor(300, 37, 2);
    checkTopK('topK small limits', await b.kernels.topK!(q, c, 7), q, c, 7, 2e-5);
    const h = await b.kernels.createCorpus!(c);
    try {
      checkTopK('corpusSearch small limits', await b.kernels.corpusSearch!(h, q, 7), q, c, 7, 2e-5);
      const m = await b.kernels.corpusMatrix!(h, q);
      const want = cosineMatrix64(q, c);
      for (let i = 0; i < want.length; i++) expect(Math.abs(m[i] - want[i])).toBeLessThanOrEqual(2e-5);
      const rows = await b.kernels.readCorpus!(h);
      expect(rows.length).toBe(300 * 37);
    } finally {
      h.dispose();
    }
  });

  it('float16 and int8 corpora of 300 x 37 (many blocks, padded rows) store the reference bits and score as it does', async () => {
    const q = randomTensor(23, 37, 1);
    const c = randomTensor(300, 37, 2);
    for (const opts of [{ storage: 'float16' as const }, { storage: 'int8' as const, rerank: 2 }]) {
      const h = await b.kernels.createCorpus!(c, opts);
      const r = await referenceKernels.createCorpus(c, opts);
      try {
        const got = await b.kernels.exportCorpus!(h);
        const want = await referenceKernels.exportCorpus!(r);
        expect(Array.from(got.half ?? [])).toEqual(Array.from(want.half ?? []));
        expect(Array.from(got.codes ?? [])).toEqual(Array.from(want.codes ?? []));
        expect(Array.from(got.scales ?? [])).toEqual(Array.from(want.scales ?? []));
        // The reference's corpusMatrix scores the stored rows: the oracle of stored semantics.
        const m = await b.kernels.corpusMatrix!(h, q);
        const m64 = await referenceKernels.corpusMatrix(r, q);
        for (let i = 0; i < m64.length; i++) expect(Math.abs(m[i] - m64[i])).toBeLessThanOrEqual(2e-5);
        const s = await b.kernels.corpusSearch!(h, q, 7);
        const t = await referenceKernels.corpusSearch(r, q, 7);
        for (let i = 0; i < t.scores.length; i++)
          expect(Math.abs(s.scores[i] - t.scores[i])).toBeLessThanOrEqual(2e-5);
      } finally {
        h.dispose();
        r.dispose();
      }
    }
  });

  it('matmul of 70 x 45 by 45 x 90, every transpose, is split into blocks and equals float64', async () => {
    for (const ta of [false, true]) {
      for (const tb of [false, true]) {
        const a = ta ? randomTensor(45, 70, 3) : randomTensor(70, 45, 3);
        const bm = tb ? randomTensor(90, 45, 4) : randomTensor(45, 90, 4);
        const got = await b.kernels.matmul!(a, bm, ta, tb);
        const { c, scale } = matmul64(a, bm, ta, tb);
        for (let i = 0; i < c.length; i++)
          expect(Math.abs(got[i] - c[i])).toBeLessThanOrEqual(1e-5 * scale[i] + 1e-30);
      }
    }
  });

  it('row and element-wise kernels on 400 x 30 (47 KiB) equal float64', async () => {
    const x = randomTensor(400, 30, 5);
    const norms = await b.kernels.rowNorms!(x);
    const want = norms64(x);
    for (let i = 0; i < want.length; i++)
      expect(Math.abs(norms[i] - want[i])).toBeLessThanOrEqual(1e-5 * want[i]);
    const g = await b.kernels.activation!('gelu', x);
    for (let i = 0; i < x.data.length; i++) {
      const w = activate('gelu', x.data[i]);
      expect(Math.abs(g[i] - w)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(w)));
    }
    const cos = await b.kernels.cosineRows!(x, randomTensor(400, 30, 6));
    expect(cos.length).toBe(400);
  });

  it('a re-rank pool past one dispatch names the workgroup limit, not the binding (it blamed the binding)', async () => {
    const few = createWebGpuBackend({ limits: { maxComputeWorkgroupsPerDimension: 2 } });
    try {
      const c = await few.kernels.createCorpus!(randomTensor(400, 8, 1), { storage: 'int8', rerank: 3 });
      await expect(
        Promise.resolve().then(() => few.kernels.corpusSearch!(c, randomTensor(1, 8, 2), 100)),
      ).rejects.toMatchObject({
        code: 'UNSUPPORTED',
        // Named by the kernel called and its argument (it said 'webgpu' and 'input').
        op: 'corpusSearch',
        arg: 'queries',
        message: expect.stringMatching(/maxComputeWorkgroupsPerDimension/),
      });
      c.dispose();
    } finally {
      await few.dispose?.();
    }
  });

  it('a row larger than one binding is refused with the reason, as UNSUPPORTED (was a RangeError)', async () => {
    const wide = randomTensor(2, 2000, 7);
    await expect(Promise.resolve().then(() => b.kernels.rowNorms!(wide))).rejects.toMatchObject({
      name: 'CosineKitError',
      code: 'UNSUPPORTED',
      op: 'rowNorms',
      arg: 'x',
      message: expect.stringMatching(/does not fit the storage binding limit/),
    });
    // A bias wider than one binding cannot be split: refused the same way.
    await expect(
      Promise.resolve().then(() => b.kernels.addBias!(wide, new Float32Array(2000))),
    ).rejects.toMatchObject({ code: 'UNSUPPORTED' });
  });

  it('a float16 or int8 corpus whose float32 query rows would not fit one binding is refused when made (it was made, and every search refused)', async () => {
    // 1500 floats: 6000 bytes as float32, past the 4096 of one binding; 3000 as binary16, 1500 as int8.
    const rows = randomTensor(3, 1500, 8);
    for (const storage of ['float16', 'int8'] as const)
      for (const rerank of [0, 2])
        await expect(
          Promise.resolve().then(() => b.kernels.createCorpus!(rows, { storage, rerank })),
          `${storage} rerank ${rerank}`,
        ).rejects.toMatchObject({
          name: 'CosineKitError',
          code: 'UNSUPPORTED',
          message: expect.stringMatching(/query row of 1500 floats/),
        });
    expect(b.memory!()).toMatchObject({ residentHandles: 0 });
  });

  it('element-wise kernels split rows wider than a dispatch or a binding (they threw RangeError)', async () => {
    // 4 x 4 workgroups of 64: 1,024 values a dispatch, 1,024 floats a binding.
    const x = randomTensor(3, 5000, 8);
    const relu = await b.kernels.activation!('relu', x);
    for (let i = 0; i < x.data.length; i++) expect(relu[i]).toBe(Math.max(0, x.data[i]));
    const grad = await b.kernels.activationGrad!('tanh', x, x);
    for (let i = 0; i < x.data.length; i += 97) {
      const t = Math.tanh(x.data[i]);
      expect(Math.abs(grad[i] - x.data[i] * (1 - t * t))).toBeLessThanOrEqual(1e-5);
    }
    // Chunks of 1,024 values start mid-row: the bias is indexed from each chunk's first column.
    const y = randomTensor(5, 900, 9);
    const bias = Float32Array.from({ length: 900 }, (_, j) => j);
    const sum = await b.kernels.addBias!(y, bias);
    for (let i = 0; i < y.data.length; i++) expect(sum[i]).toBe(Math.fround(y.data[i] + (i % 900)));
  });
});

if (skip) console.log(`[webgpu] small-limits tests skipped: ${skip}`);
