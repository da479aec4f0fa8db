import { createCosineKit, Tensor } from '@cosinekit/core';
import {
  ACTIVATIONS,
  type Backend,
  isCosineKitError,
  type Kernels,
  type Matrix,
  referenceKernels,
} from '@cosinekit/core/backend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type RunMode } from '../src/engine.js';
import { activation } from '../src/kernels/activation.js';
import { addBias } from '../src/kernels/add-bias.js';
import { corpusMatrix, corpusSearch, createCorpus } from '../src/kernels/corpus.js';
import { cosineMatrix } from '../src/kernels/cosine-matrix.js';
import { cosineRows } from '../src/kernels/cosine-rows.js';
import { matmul } from '../src/kernels/matmul.js';
import { normalizeRows } from '../src/kernels/normalize-rows.js';
import { rowNorms } from '../src/kernels/row-norms.js';
import { topK } from '../src/kernels/top-k.js';
import { ALG_TOL, COS_TOL, expectClose, matrix } from './helpers.js';
import { backendIn, testedModes } from './modes.js';

const KERNEL_CLASS: Record<RunMode, string> = {
  headlessgl: 'HeadlessGLKernel',
  webgl2: 'WebGL2Kernel',
  webgl: 'WebGLKernel',
  webasm: 'WebAssemblyKernel',
  cpu: 'CPUKernel',
};

/** The reference kernels answer synchronously; say so to the type checker. */
type Sync<T> = {
  [K in keyof T]-?: T[K] extends (...a: infer A) => infer R ? (...a: A) => Awaited<R> : never;
};
const ref = referenceKernels as unknown as Sync<Kernels>;
const cos = () => COS_TOL;

/** Checks every cosine kernel of `b` against the reference on one pair of inputs. */
async function checkCosines(b: Backend, q: Matrix, c: Matrix, k: number, label: string): Promise<void> {
  const kn = b.kernels;
  const norms = ref.rowNorms(c);
  expectClose(`${label} rowNorms`, await kn.rowNorms!(c), norms, (i) => ALG_TOL * norms[i]);
  expectClose(`${label} normalizeRows`, await kn.normalizeRows!(c), ref.normalizeRows(c), cos);
  const c2 = { ...c, rows: q.rows, data: c.data.subarray(0, q.rows * c.cols) };
  if (c.rows >= q.rows)
    expectClose(`${label} cosineRows`, await kn.cosineRows!(q, c2), ref.cosineRows(q, c2), cos);
  expectClose(`${label} cosineMatrix`, await kn.cosineMatrix!(q, c), ref.cosineMatrix(q, c), cos);
  const want = ref.topK(q, c, k);
  const got = await kn.topK!(q, c, k);
  // Scores must match; indices only where the reference's neighbours are not within the tolerance.
  expectClose(`${label} topK scores`, got.scores, want.scores, cos);
  const corpus = await kn.createCorpus!(c);
  try {
    const res = await kn.corpusSearch!(corpus, q, k);
    expectClose(`${label} corpusSearch scores`, res.scores, want.scores, cos);
    expect(Array.from(res.indices), `${label} corpusSearch = topK`).toEqual(Array.from(got.indices));
    expectClose(`${label} corpusMatrix`, await kn.corpusMatrix!(corpus, q), ref.cosineMatrix(q, c), cos);
  } finally {
    corpus.dispose();
  }
}

for (const { mode, skip } of testedModes()) {
  describe.skipIf(skip !== null)(`gpujs ${mode}`, () => {
    let b: Backend;
    beforeAll(() => {
      b = backendIn(mode);
    });
    afterAll(async () => {
      await b?.dispose?.();
    });

    it('reports the mode and the gpu.js kernel class that actually run', () => {
      const d = b.describe!();
      expect(d.mode).toBe(mode);
      expect(d.requested).toBe(mode);
      expect(d.kernel).toBe(KERNEL_CLASS[mode]);
      expect(d.precision).toBe('single');
    });

    for (const d of [1, 3, 5, 17, 1536]) {
      it(`cosine kernels on awkward shapes, d=${d} (one row, zero rows, N off any tile)`, async () => {
        await checkCosines(b, matrix(1, d, d), matrix(1, d, d + 1), 1, `1x1 d=${d}`);
        await checkCosines(b, matrix(3, d, d + 2, [1]), matrix(13, d, d + 3, [0, 7]), 4, `3x13 d=${d}`);
      });
    }

    it('rows of extreme magnitude (1e30, 1e-30) neither overflow nor vanish', async () => {
      const x = matrix(4, 17, 91);
      for (let j = 0; j < 17; j++) {
        x.data[j] *= 1e30;
        x.data[17 + j] *= 1e-30;
      }
      const y = matrix(4, 17, 92);
      const norms = ref.rowNorms(x);
      expectClose('rowNorms', await b.kernels.rowNorms!(x), norms, (i) => ALG_TOL * norms[i]);
      expectClose('normalizeRows', await b.kernels.normalizeRows!(x), ref.normalizeRows(x), cos);
      expectClose('cosineRows', await b.kernels.cosineRows!(x, y), ref.cosineRows(x, y), cos);
      expectClose('cosineMatrix', await b.kernels.cosineMatrix!(x, y), ref.cosineMatrix(x, y), cos);
    });

    it('rows of subnormal values (1e-40, below what a GPU reads) keep their cosines and norms (GL gave 0)', async () => {
      const x = matrix(4, 17, 93);
      const y = matrix(5, 17, 94);
      for (let j = 0; j < 17; j++) {
        x.data[j] *= 1e-40;
        x.data[2 * 17 + j] *= 1e-30;
        y.data[j] *= 1e-42;
      }
      const norms = ref.rowNorms(x);
      // Float32 holds 1e-40 to about 3 digits: each value is compared relative to its own size.
      expectClose('rowNorms', await b.kernels.rowNorms!(x), norms, (i) => 1e-3 * norms[i]);
      expectClose('normalizeRows', await b.kernels.normalizeRows!(x), ref.normalizeRows(x), cos);
      const y4 = { data: y.data.subarray(0, 4 * 17), rows: 4, cols: 17 };
      expectClose('cosineRows', await b.kernels.cosineRows!(x, y4), ref.cosineRows(x, y4), cos);
      expectClose('cosineMatrix', await b.kernels.cosineMatrix!(x, y), ref.cosineMatrix(x, y), cos);
      const t = await b.kernels.topK!(y, x, 2);
      expectClose('topK', t.scores, ref.topK(y, x, 2).scores, cos);
      const c = await b.kernels.createCorpus!(x);
      expectClose('corpusMatrix', await b.kernels.corpusMatrix!(c, y), ref.cosineMatrix(y, x), cos);
      c.dispose();
    });

    const glMode = mode === 'headlessgl' || mode === 'webgl2' || mode === 'webgl';
    if (!glMode)
      console.log(`[backend-gpujs] read-back framebuffers are GL objects: not counted in mode ${mode}`);
    it.skipIf(!glMode)(
      'kernels run at many row counts keep a bounded number of GL framebuffers (one a size, for good, before)',
      async () => {
        const probe = await b.kernels.createCorpus!(matrix(1, 3, 1));
        const gl = (probe as unknown as { engine: { gpu: { context: WebGLRenderingContext } } }).engine.gpu
          .context;
        probe.dispose();
        let live = 0;
        const make = gl.createFramebuffer.bind(gl);
        const drop = gl.deleteFramebuffer.bind(gl);
        gl.createFramebuffer = () => {
          live++;
          return make();
        };
        gl.deleteFramebuffer = (f) => {
          if (f) live--;
          drop(f);
        };
        try {
          for (let i = 0; i < 40; i++) {
            const x = matrix(20 + i * 7, 9, i);
            await b.kernels.rowNorms!(x);
            await b.kernels.normalizeRows!(x);
          }
          expect(live).toBeLessThanOrEqual(24);
        } finally {
          gl.createFramebuffer = make;
          gl.deleteFramebuffer = drop;
        }
      },
    );

    it('activations stay finite far out (no NaN from tanh, gelu or sigmoid)', async () => {
      const x: Matrix = {
        rows: 2,
        cols: 5,
        data: new Float32Array([-100, -50, -9, -0.05, 0, 0.05, 9, 50, 100, 3]),
      };
      for (const kind of ACTIVATIONS) {
        const want = ref.activation(kind, x);
        const got = await b.kernels.activation!(kind, x);
        expectClose(`activation ${kind}`, got, want, (i) => ALG_TOL * Math.max(1, Math.abs(want[i])));
        const dy: Matrix = { ...x, data: new Float32Array(10).fill(0.5) };
        const gw = ref.activationGrad(kind, x, dy);
        const gg = await b.kernels.activationGrad!(kind, x, dy);
        expectClose(`activationGrad ${kind}`, gg, gw, (i) => ALG_TOL * Math.max(1, Math.abs(gw[i])));
      }
    });

    it('leaves no textures behind; corpora hold theirs until disposed', async () => {
      const start = b.memory!();
      expect(start).toEqual({ residentHandles: 0, objects: 0 });
      const q = matrix(5, 33, 7);
      const c = matrix(40, 33, 8);
      await b.kernels.cosineMatrix!(q, c);
      await b.kernels.topK!(q, c, 3);
      await b.kernels.normalizeRows!(c);
      await b.kernels.rowNorms!(c);
      expect(b.memory!()).toEqual(start);
      const corpus = await b.kernels.createCorpus!(c);
      const held = b.memory!();
      expect(held.residentHandles).toBe(1);
      // GL modes keep the corpus as textures; webasm/cpu as a Float32Array (no textures at all).
      expect(held.objects).toBe(mode === 'webasm' || mode === 'cpu' ? 0 : 1);
      await b.kernels.corpusSearch!(corpus, q, 2);
      await b.kernels.corpusMatrix!(corpus, q);
      expect(b.memory!()).toEqual(held);
      corpus.dispose();
      corpus.dispose();
      expect(b.memory!()).toEqual(start);
    });

    it('a disposed or foreign corpus is refused with a named error', async () => {
      const c = matrix(6, 4, 3);
      const q = matrix(1, 4, 4);
      const corpus = await b.kernels.createCorpus!(c);
      expect(corpus.backend).toBe('gpujs');
      corpus.dispose();
      expect(corpus.disposed).toBe(true);
      await expect(async () => b.kernels.corpusSearch!(corpus, q, 1)).rejects.toSatisfy((e) =>
        isCosineKitError(e, 'DISPOSED'),
      );
      const foreign = ref.createCorpus(c);
      await expect(async () => b.kernels.corpusMatrix!(foreign, q)).rejects.toSatisfy((e) =>
        isCosineKitError(e, 'INVALID_ARGUMENT'),
      );
      foreign.dispose();
    });

    it('readCorpus gives back the normalised rows; quantised storage is refused as UNSUPPORTED', async () => {
      const c = matrix(23, 9, 12, [4]);
      const corpus = await b.kernels.createCorpus!(c);
      expect(corpus.storage).toBe('float32');
      expectClose('readCorpus', await b.kernels.readCorpus!(corpus), ref.normalizeRows(c), cos);
      corpus.dispose();
      await expect(async () => b.kernels.createCorpus!(c, { storage: 'int8' })).rejects.toSatisfy((e) =>
        isCosineKitError(e, 'UNSUPPORTED'),
      );
      expect(b.memory!()).toEqual({ residentHandles: 0, objects: 0 });
    });

    it('importCorpus keeps stored rows bit for bit: a loaded or compacted corpus scores as the one it came from (was normalised again: last-bit changes)', async () => {
      const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
      // Zero rows among them; several chunks under a texture limit of 16.
      const small = backendIn(mode, { maxTextureSize: 16 });
      try {
        for (const k of [b.kernels, small.kernels]) {
          const c = matrix(255, 33, 41, [7, 100]);
          const q = matrix(8, 33, 42);
          const made = await k.createCorpus!(c);
          const stored = await k.readCorpus!(made);
          const again = await k.importCorpus!({
            rows: 255,
            cols: 33,
            storage: 'float32',
            rerank: 0,
            exact: stored,
            half: null,
            codes: null,
            scales: null,
          });
          expect(bits(await k.readCorpus!(again))).toEqual(bits(stored));
          expect(bits(await k.corpusMatrix!(again, q))).toEqual(bits(await k.corpusMatrix!(made, q)));
          const [x, y] = [await k.corpusSearch!(made, q, 10), await k.corpusSearch!(again, q, 10)];
          expect(Array.from(y.indices)).toEqual(Array.from(x.indices));
          expect(bits(y.scores)).toEqual(bits(x.scores));
          made.dispose();
          again.dispose();
        }
        // Through the kit: save and load, and a compaction after removals.
        const kit = createCosineKit({ backend: b, onFallback: () => {} });
        const c = matrix(256, 33, 43);
        const q = matrix(8, 33, 44);
        const corpus = await kit.corpus(new Tensor(c.data, c.rows, c.cols));
        const loaded = await kit.loadCorpus(await corpus.save());
        const [x, y] = [
          await corpus.search(new Tensor(q.data, 8, 33), 10),
          await loaded.search(new Tensor(q.data, 8, 33), 10),
        ];
        expect(bits(y.scores)).toEqual(bits(x.scores));
        const before = await corpus.similarity(new Tensor(q.data, 8, 33));
        await corpus.remove(Array.from({ length: 128 }, (_, i) => 128 + i));
        const after = await corpus.similarity(new Tensor(q.data, 8, 33));
        for (let r = 0; r < 8; r++)
          expect(bits(after.data.subarray(r * 128, (r + 1) * 128))).toEqual(
            bits(before.data.subarray(r * 256, r * 256 + 128)),
          );
        corpus.dispose();
        loaded.dispose();
      } finally {
        await small.dispose?.();
      }
      expect(b.memory!()).toEqual({ residentHandles: 0, objects: 0 });
    });

    it('dispose() releases live corpora with the context', async () => {
      const other = backendIn(mode);
      const corpus = await other.kernels.createCorpus!(matrix(9, 3, 5));
      expect(other.memory!().residentHandles).toBe(1);
      await other.dispose!();
      expect(corpus.disposed).toBe(true);
      expect(other.memory!()).toEqual({ residentHandles: 0, objects: 0 });
    });

    it('tiles every output under a forced texture limit of 8 and still matches the reference', async () => {
      const e = createEngine({ mode, maxTextureSize: 8 });
      try {
        for (const d of [5, 40]) {
          const q = matrix(11, d, d, [2]);
          const c = matrix(37, d, d + 1, [30]);
          expectClose(`cosineMatrix d=${d}`, cosineMatrix(e, q, c), ref.cosineMatrix(q, c), cos);
          const want = ref.topK(q, c, 5);
          const got = topK(e, q, c, 5);
          expectClose(`topK d=${d}`, got.scores, want.scores, cos);
          const corpus = createCorpus(e, c);
          expectClose(`corpusSearch d=${d}`, corpusSearch(e, corpus, q, 5).scores, want.scores, cos);
          expectClose(`corpusMatrix d=${d}`, corpusMatrix(e, corpus, q), ref.cosineMatrix(q, c), cos);
          corpus.dispose();
          const norms = ref.rowNorms(c);
          expectClose(`rowNorms d=${d}`, rowNorms(e, c), norms, (i) => ALG_TOL * norms[i]);
          expectClose(`normalizeRows d=${d}`, normalizeRows(e, c), ref.normalizeRows(c), cos);
        }
        const a = matrix(50, 3, 1);
        const a2 = matrix(50, 3, 2);
        expectClose('cosineRows over 50 rows', cosineRows(e, a, a2), ref.cosineRows(a, a2), cos);
        for (const [ta, tb] of [
          [false, false],
          [false, true],
          [true, false],
          [true, true],
        ] as const) {
          const x = ta ? matrix(13, 19, 3) : matrix(19, 13, 3);
          const y = tb ? matrix(21, 13, 4) : matrix(13, 21, 4);
          const want = ref.matmul(x, y, ta, tb);
          expectClose(`matmul ${ta} ${tb}`, matmul(e, x, y, ta, tb), want, () => ALG_TOL * 13);
        }
        const x = matrix(9, 19, 5);
        const bias = matrix(1, 19, 6).data;
        expectClose('addBias', addBias(e, x, bias), ref.addBias(x, bias), () => ALG_TOL);
        expectClose('activation', activation(e, 'gelu', x), ref.activation('gelu', x), () => ALG_TOL);
        expect(e.largestTextureSide).toBeLessThanOrEqual(8);
        expect(e.liveTextures).toBe(0);
      } finally {
        await e.destroy();
      }
    });

    it('ran every kernel on the mode’s own kernel class (gpu.js fell back for none)', async () => {
      const x = matrix(6, 4, 1);
      await b.kernels.matmul!(x, x, false, true);
      await b.kernels.matmul!(x, x, true, false);
      await b.kernels.addBias!(x, matrix(1, 4, 2).data);
      expect(b.describe!().kernelFallbacks).toBeUndefined();
    });

    if (mode === 'webasm' || mode === 'cpu') {
      console.log(
        `[backend-gpujs] ${mode}: the GL texture leak test is skipped (no textures in this mode; it runs in headlessgl and webgl2)`,
      );
    }
    it.skipIf(mode === 'webasm' || mode === 'cpu')(
      'GL textures do not pile up across 20 create/search/dispose rounds',
      () => {
        const e = createEngine({ mode });
        // Count the GL textures gpu.js itself creates and deletes on this engine's context.
        const gl = (e.gpu as unknown as { context: WebGLRenderingContext }).context;
        let live = 0;
        const create = gl.createTexture.bind(gl);
        const remove = gl.deleteTexture.bind(gl);
        gl.createTexture = () => {
          live++;
          return create();
        };
        gl.deleteTexture = (t) => {
          live--;
          remove(t);
        };
        try {
          const round = (seed: number) => {
            const corpus = createCorpus(e, matrix(30, 8, seed));
            corpusSearch(e, corpus, matrix(3, 8, seed + 1), 2);
            cosineMatrix(e, matrix(2, 8, seed + 2), matrix(5, 8, seed + 3));
            corpus.dispose();
          };
          round(0); // compiles the kernels, which keep one output texture each
          const after = live;
          expect(after, 'textures seen on the context').toBeGreaterThan(0);
          for (let i = 1; i <= 20; i++) round(10 * i);
          expect(live).toBe(after);
          expect(e.liveTextures).toBe(0);
        } finally {
          void e.destroy();
        }
      },
    );

    it('compiles each kernel once per shape family (the width), whatever the row counts', () => {
      const e = createEngine({ mode });
      try {
        cosineMatrix(e, matrix(3, 6, 1), matrix(5, 6, 2));
        const n = e.kernelCount;
        cosineMatrix(e, matrix(7, 6, 3), matrix(2, 6, 4));
        cosineMatrix(e, matrix(1, 6, 5), matrix(30, 6, 6));
        expect(e.kernelCount).toBe(n);
        cosineMatrix(e, matrix(1, 7, 5), matrix(3, 7, 6));
        expect(e.kernelCount).toBe(2 * n);
      } finally {
        void e.destroy();
      }
    });
  });
}
