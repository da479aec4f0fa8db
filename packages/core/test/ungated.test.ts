import { describe, expect, it } from 'vitest';
import { resolveKernels } from '../src/backend.js';
import type { ResidentCorpus, TopKResult } from '../src/contract.js';
import {
  type Backend,
  CosineKitError,
  createCosineKit,
  isCosineKitError,
  type Kernels,
  type Matrix,
  Tensor,
} from '../src/index.js';
import { createReferenceBackend, referenceKernels } from '../src/reference.js';

/** Deterministic values in [-1, 1). */
function rows(r: number, c: number, seed: number): Float32Array {
  const out = new Float32Array(r * c);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < out.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = (s >>> 0) / 2 ** 31 - 1;
  }
  return out;
}

/** The float64 cosine of row i of a and b, as stored in float32; 0 for a zero row. */
function cos64(a: Float32Array, b: Float32Array, i: number, d: number): number {
  let dot = 0;
  let x = 0;
  let y = 0;
  for (let p = i * d; p < (i + 1) * d; p++) {
    dot += a[p] * b[p];
    x += a[p] * a[p];
    y += b[p] * b[p];
  }
  return x === 0 || y === 0 ? 0 : dot / Math.sqrt(x * y);
}

/** The result of float64 rounded once to float32, plus float64 accumulation error: 1e-7 is ample. */
const TOL = 1e-7;

/** What a rejected call threw. */
async function failure(p: Promise<unknown>): Promise<CosineKitError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(CosineKitError);
    return e as CosineKitError;
  }
  throw new Error('the call succeeded');
}

/** The reference's cosineRows behind a wrapper that records what it was handed. */
function recording(ungated: boolean): { backend: Backend; seen: Matrix[] } {
  const seen: Matrix[] = [];
  const kernels: Partial<Kernels> = {
    cosineRows(a, b, out) {
      seen.push(a, b);
      return referenceKernels.cosineRows(a, b, out);
    },
  };
  return {
    backend: {
      name: ungated ? 'declares-ungated' : 'third-party',
      kernels,
      ...(ungated ? { ungated: ['cosineRows'] } : {}),
    },
    seen,
  };
}

describe('ungated cosineRows (Backend.ungated)', () => {
  it('is what the kit uses on the reference, and on a backend only where it says so', () => {
    expect(resolveKernels(createReferenceBackend()).ungated).toEqual(['cosineRows']);
    // A backend without cosineRows falls back to the reference's, which is ungated.
    expect(resolveKernels({ name: 'none', kernels: {} }).ungated).toEqual(['cosineRows']);
    expect(resolveKernels(recording(false).backend).ungated).toEqual([]);
    expect(resolveKernels(recording(true).backend).ungated).toEqual(['cosineRows']);
    // A copy of the reference backend with another cosineRows does not inherit the promise.
    const copy = {
      ...createReferenceBackend(),
      kernels: { ...referenceKernels, cosineRows: recording(false).backend.kernels.cosineRows! },
    };
    expect(resolveKernels(copy).ungated).toEqual([]);
  });

  it('matches float64 within 1e-7 on awkward shapes: d = 1, odd d, d not a multiple of 4, one row, many rows', async () => {
    const kit = createCosineKit({ backend: 'reference' });
    await kit.ready();
    for (const d of [1, 2, 3, 5, 6, 7, 17, 255, 1024, 3071]) {
      for (const r of [1, 2, 37]) {
        const a = rows(r, d, d * 31 + r);
        const b = rows(r, d, d * 17 + r + 1);
        const ta = new Tensor(a, r, d);
        const tb = new Tensor(b, r, d);
        const inputs: [unknown, unknown][] = [[ta, tb]];
        if (r === 1) inputs.push([a, b], [Array.from(a), Array.from(b)]);
        for (const [x, y] of inputs) {
          const got = await kit.cosineRows(x as Tensor, y as Tensor);
          expect(got.length).toBe(r);
          for (let i = 0; i < r; i++)
            expect(Math.abs(got[i] - cos64(a, b, i, d)), `d=${d}, ${r} rows, row ${i}`).toBeLessThanOrEqual(
              TOL,
            );
        }
      }
    }
  });

  it('hands the caller rows to an ungated kernel as they are; a third-party backend gets the gate snapshot', async () => {
    const a = rows(1, 33, 1);
    const b = rows(1, 33, 2);
    const open = recording(true);
    const kit = createCosineKit({ backend: open.backend });
    await kit.ready();
    await kit.cosineRows(a, b);
    expect(open.seen[0].data).toBe(a);
    expect(open.seen[1].data).toBe(b);

    const gated = recording(false);
    const gkit = createCosineKit({ backend: gated.backend });
    await gkit.ready();
    const r = await gkit.cosineRows(a, b);
    expect(gated.seen[0].data).not.toBe(a);
    expect(gated.seen[1].data).not.toBe(b);
    expect(gated.seen[0].data).toEqual(a);
    expect(r[0]).toBeCloseTo(cos64(a, b, 0, 33), 7);
  });

  it('NaN, ±Infinity and values past float32 in either argument, anywhere, give the same typed error as the gate', async () => {
    const ungated = createCosineKit({ backend: 'reference' });
    const third = recording(false);
    const gated = createCosineKit({ backend: third.backend });
    await Promise.all([ungated.ready(), gated.ready()]);
    for (const [r, d] of [
      [1, 1],
      [1, 7],
      [1, 1024],
      [5, 6],
    ]) {
      const n = r * d;
      for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e39, -4e38]) {
        for (const arg of ['a', 'b'] as const) {
          for (const at of new Set([0, n >> 1, n - 1])) {
            // A Float32Array turns 1e39 into Infinity; an array of numbers is converted the same way.
            const make = () => {
              const x = [Array.from(rows(r, d, 5)), Array.from(rows(r, d, 6))];
              x[arg === 'a' ? 0 : 1][at] = bad;
              return x.map((v) => new Tensor(Float32Array.from(v), r, d));
            };
            const [xa, xb] = make();
            const e = await failure(ungated.cosineRows(xa, xb));
            const [ga, gb] = make();
            const g = await failure(gated.cosineRows(ga, gb));
            const what = `${bad} at ${at} of ${arg} (${r} x ${d})`;
            expect([e.code, e.op, e.arg, e.message], what).toEqual([g.code, g.op, g.arg, g.message]);
            expect([e.code, e.op, e.arg], what).toEqual(['NON_FINITE', 'cosineRows', arg]);
            expect(e.message, what).toContain(`row ${Math.floor(at / d)}, column ${at % d}`);
          }
        }
      }
    }
    // The gate refused all of those before its kernel ran: a third-party kernel never sees NaN.
    expect(third.seen.length).toBe(0);
  });

  it('finite rows of any magnitude give the float64 cosine (what the gate rescale guarantees)', async () => {
    const kit = createCosineKit({ backend: 'reference' });
    await kit.ready();
    for (const s of [3e38 / 1.0001, 2 ** 100, 2 ** -100, 2 ** -140, 1e-45]) {
      for (const d of [1, 5, 1024]) {
        const a = rows(2, d, 9).map((v) => v * s);
        const b = rows(2, d, 10);
        const got = await kit.cosineRows(new Tensor(a, 2, d), new Tensor(b, 2, d));
        for (let i = 0; i < 2; i++)
          expect(Math.abs(got[i] - cos64(a, b, i, d)), `scale ${s}, d=${d}`).toBeLessThanOrEqual(TOL);
      }
    }
  });

  it('answers for the inputs at call time: overwriting, poisoning or transferring them at once changes nothing', async () => {
    const kit = createCosineKit({ backend: 'reference' });
    await kit.ready();
    for (const d of [1, 3, 1024]) {
      const a0 = rows(1, d, 3);
      const b0 = rows(1, d, 4);
      const want = (await kit.cosineRows(Float32Array.from(a0), Float32Array.from(b0)))[0];
      for (const how of ['overwrite', 'NaN', 'transfer'] as const) {
        const a = Float32Array.from(a0);
        const b = Float32Array.from(b0);
        const p = kit.cosineRows(a, b);
        if (how === 'transfer') {
          structuredClone(a, { transfer: [a.buffer] });
          structuredClone(b, { transfer: [b.buffer] });
        } else {
          a.fill(how === 'NaN' ? Number.NaN : 1);
          b.fill(how === 'NaN' ? Number.NaN : -1);
        }
        expect((await p)[0], `d=${d}, ${how}`).toBe(want);
      }
    }
  });

  it('an ungated kernel that answers late, throws or answers out of range goes through the gate', async () => {
    const a = rows(2, 9, 7);
    const b = rows(2, 9, 8);
    const want = [cos64(a, b, 0, 9), cos64(a, b, 1, 9)];
    // Late: the promise is dropped and the gated call answers for the snapshot.
    let calls = 0;
    const late: Backend = {
      name: 'late',
      ungated: ['cosineRows'],
      kernels: {
        cosineRows: (x, y) => {
          calls++;
          return new Promise((done) =>
            setTimeout(() => done(referenceKernels.cosineRows(x, y) as Float32Array), 5),
          );
        },
      },
    };
    const lateKit = createCosineKit({ backend: late });
    await lateKit.ready();
    const ta = new Tensor(Float32Array.from(a), 2, 9);
    const p = lateKit.cosineRows(ta, new Tensor(b, 2, 9));
    ta.data.fill(Number.NaN);
    const got = await p;
    expect(calls).toBe(2);
    for (let i = 0; i < 2; i++) expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(TOL);
    // A rounding step past ±1 is clamped, as on the gated path.
    const past = createCosineKit({
      backend: {
        name: 'past',
        ungated: ['cosineRows'],
        kernels: { cosineRows: () => Float32Array.of(1.0004, -1.0004) },
      },
    });
    await past.ready();
    expect(Array.from(await past.cosineRows(new Tensor(a, 2, 9), new Tensor(b, 2, 9)))).toEqual([1, -1]);
    // Out of range on good input: the gated call reports the broken backend as before.
    const seven = createCosineKit({
      backend: {
        name: 'seven',
        ungated: ['cosineRows'],
        kernels: { cosineRows: () => Float32Array.of(7, 7) },
      },
    });
    await seven.ready();
    const e = await failure(seven.cosineRows(new Tensor(a, 2, 9), new Tensor(b, 2, 9)));
    expect(e.code).toBe('BACKEND_ERROR');
    // A kernel that throws is renamed after the operation, as before.
    const thrower = createCosineKit({
      backend: {
        name: 'thrower',
        ungated: ['cosineRows'],
        kernels: {
          cosineRows: () => {
            throw new Error('boom');
          },
        },
      },
    });
    await thrower.ready();
    const t = await failure(thrower.cosineRows(new Tensor(a, 2, 9), new Tensor(b, 2, 9)));
    expect([t.code, t.op, t.kernel]).toEqual(['BACKEND_ERROR', 'cosineRows', 'cosineRows']);
  });

  it('shapes and types are refused by name, before any kernel runs', async () => {
    const kit = createCosineKit({ backend: 'reference' });
    await kit.ready();
    const e = await failure(kit.cosineRows(new Float32Array(3), new Float32Array(4)));
    expect([e.code, e.op, e.arg]).toEqual(['DIMENSION_MISMATCH', 'cosineRows', 'b']);
    const f = await failure(
      kit.cosineRows(new Float64Array(3) as unknown as Float32Array, new Float32Array(3)),
    );
    expect([f.code, f.arg]).toEqual(['INVALID_TYPE', 'a']);
    const g = await failure(kit.cosineRows(new Float32Array(0), new Float32Array(0)));
    expect([g.code, g.arg]).toEqual(['EMPTY_INPUT', 'a']);
  });

  it('a malformed declaration is refused when the kit is created', () => {
    for (const ungated of ['cosineRows', ['matmul'], ['corpusSearchAllowed'], [1]]) {
      let err: unknown;
      try {
        createCosineKit({ backend: { name: 'x', kernels: {}, ungated } as unknown as Backend });
      } catch (e) {
        err = e;
      }
      expect(isCosineKitError(err, 'INVALID_ARGUMENT')).toBe(true);
      expect((err as CosineKitError).arg).toBe('backend.ungated');
    }
  });
});

/** The float64 cosine of row i of a and row j of b; 0 for a zero row. */
function pair64(a: Float32Array, i: number, b: Float32Array, j: number, d: number): number {
  let dot = 0;
  let x = 0;
  let y = 0;
  for (let p = 0; p < d; p++) {
    dot += a[i * d + p] * b[j * d + p];
    x += a[i * d + p] * a[i * d + p];
    y += b[j * d + p] * b[j * d + p];
  }
  return x === 0 || y === 0 ? 0 : dot / Math.sqrt(x * y);
}

/**
 * The reference's cosineMatrix and topK as an ungated backend would run them: they throw for NaN or
 * ±Infinity (the promise for these two), record what they were handed, and are float64 products,
 * exact at any finite magnitude.
 */
function ungatedSearch(declare = true): { backend: Backend; seen: Matrix[] } {
  const seen: Matrix[] = [];
  const refuse = (...xs: Matrix[]) => {
    for (const x of xs) for (const v of x.data) if (!Number.isFinite(v)) throw new Error('not finite');
  };
  return {
    backend: {
      name: declare ? 'ungated-search' : 'gated-search',
      kernels: {
        cosineMatrix(a, b, out) {
          seen.push(a, b);
          refuse(a, b);
          return referenceKernels.cosineMatrix(a, b, out);
        },
        topK(q, c, k) {
          seen.push(q, c);
          refuse(q, c);
          return referenceKernels.topK(q, c, k);
        },
      },
      ...(declare ? { ungated: ['cosineMatrix', 'topK'] as const } : {}),
    },
    seen,
  };
}

describe('ungated cosineMatrix and topK (Backend.ungated)', () => {
  it('are used only where declared, for the kernel functions declared', () => {
    expect(resolveKernels(ungatedSearch().backend).ungated).toEqual(['cosineRows', 'cosineMatrix', 'topK']);
    expect(resolveKernels(ungatedSearch(false).backend).ungated).toEqual(['cosineRows']);
    // The reference's own stay gated: they do not refuse NaN.
    expect(resolveKernels(createReferenceBackend()).ungated).toEqual(['cosineRows']);
  });

  it('hand the caller rows to the kernel as they are and answer the float64 cosines; a gated kit snapshots', async () => {
    const open = ungatedSearch();
    const kit = createCosineKit({ backend: open.backend });
    const shut = ungatedSearch(false);
    const gated = createCosineKit({ backend: shut.backend });
    await Promise.all([kit.ready(), gated.ready()]);
    for (const [q, n, d] of [
      [1, 1, 1],
      [1, 9, 3],
      [4, 37, 17],
    ]) {
      const a = new Tensor(rows(q, d, q + d), q, d);
      const b = new Tensor(rows(n, d, n + d), n, d);
      open.seen.length = 0;
      shut.seen.length = 0;
      const m = await kit.cosineMatrix(a, b);
      expect(open.seen[0].data).toBe(a.data);
      expect(open.seen[1].data).toBe(b.data);
      const g = await gated.cosineMatrix(a, b);
      expect(shut.seen[0].data).not.toBe(a.data);
      expect(m.data).toEqual(g.data);
      for (let i = 0; i < q; i++)
        for (let j = 0; j < n; j++)
          expect(Math.abs(m.data[i * n + j] - pair64(a.data, i, b.data, j, d))).toBeLessThanOrEqual(TOL);
      const k = Math.min(3, n);
      const t = await kit.topK(a, b, k);
      expect(open.seen[2].data).toBe(a.data);
      expect(open.seen[3].data).toBe(b.data);
      const u = await gated.topK(a, b, k);
      expect([t.indices, t.scores]).toEqual([u.indices, u.scores]);
    }
  });

  it('finite rows of any magnitude give the float64 cosine', async () => {
    const kit = createCosineKit({ backend: ungatedSearch().backend });
    await kit.ready();
    for (const s of [3e38 / 1.0001, 2 ** 100, 2 ** -100, 2 ** -140, 1e-45]) {
      for (const d of [1, 5, 64]) {
        const a = rows(2, d, 9).map((v) => v * s);
        const b = rows(3, d, 10);
        const m = await kit.cosineMatrix(new Tensor(a, 2, d), new Tensor(b, 3, d));
        for (let i = 0; i < 2; i++)
          for (let j = 0; j < 3; j++)
            expect(
              Math.abs(m.data[i * 3 + j] - pair64(a, i, b, j, d)),
              `scale ${s}, d=${d}`,
            ).toBeLessThanOrEqual(TOL);
        const t = await kit.topK(new Tensor(a, 2, d), new Tensor(b, 3, d), 1);
        for (let i = 0; i < 2; i++)
          expect(Math.abs(t.scores[i] - pair64(a, i, b, t.indices[i], d))).toBeLessThanOrEqual(TOL);
      }
    }
  });

  it('NaN or ±Infinity in either argument: the same typed error as the gate, naming the argument', async () => {
    const kit = createCosineKit({ backend: ungatedSearch().backend });
    const gated = createCosineKit({ backend: ungatedSearch(false).backend });
    await Promise.all([kit.ready(), gated.ready()]);
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      for (const which of [0, 1] as const) {
        const make = () => {
          const pair = [rows(2, 5, 1), rows(4, 5, 2)];
          pair[which][7] = bad;
          return [new Tensor(pair[0], 2, 5), new Tensor(pair[1], 4, 5)];
        };
        const [a, b] = make();
        const [c, d] = make();
        const e = await failure(kit.cosineMatrix(a, b));
        const f = await failure(gated.cosineMatrix(c, d));
        expect([e.code, e.op, e.arg, e.message]).toEqual([f.code, f.op, f.arg, f.message]);
        expect([e.code, e.arg]).toEqual(['NON_FINITE', which === 0 ? 'a' : 'b']);
        const s = await failure(kit.topK(a, b, 2));
        const r = await failure(gated.topK(c, d, 2));
        expect([s.code, s.op, s.arg, s.message]).toEqual([r.code, r.op, r.arg, r.message]);
        expect([s.code, s.arg]).toEqual(['NON_FINITE', which === 0 ? 'queries' : 'corpus']);
        // With a bad k or a bad out as well: the rows are named first, as by the gate.
        for (const [kit2, x, y] of [
          [kit, a, b],
          [gated, c, d],
        ] as const) {
          expect((await failure(kit2.topK(x, y, 0))).code).toBe('NON_FINITE');
          expect((await failure(kit2.cosineMatrix(x, y, { out: new Float32Array(3) }))).code).toBe(
            'NON_FINITE',
          );
        }
      }
    }
    // Finite rows: the bad k or out is named, on both paths.
    const a = new Tensor(rows(2, 5, 1), 2, 5);
    const b = new Tensor(rows(4, 5, 2), 4, 5);
    for (const k of [kit, gated]) {
      expect((await failure(k.topK(a, b, 5))).code).toBe('INVALID_K');
      const o = await failure(k.cosineMatrix(a, b, { out: new Float32Array(3) }));
      expect([o.code, o.arg]).toEqual(['SHAPE_MISMATCH', 'options.out']);
    }
  });

  it('a kernel that answers late, throws, or answers wrong goes through the gate, where a fault is reported', async () => {
    const a = new Tensor(rows(2, 9, 7), 2, 9);
    const b = new Tensor(rows(5, 9, 8), 5, 9);
    const want = await createCosineKit({ backend: 'reference' }).cosineMatrix(a, b);
    let calls = 0;
    const late = createCosineKit({
      backend: {
        name: 'late',
        ungated: ['cosineMatrix'],
        kernels: {
          cosineMatrix: (x, y) => {
            calls++;
            return new Promise((done) =>
              setTimeout(() => done(referenceKernels.cosineMatrix(x, y) as Float32Array), 5),
            );
          },
        },
      },
    });
    await late.ready();
    const x = new Tensor(Float32Array.from(a.data), 2, 9);
    const p = late.cosineMatrix(x, b);
    x.data.fill(Number.NaN);
    expect((await p).data).toEqual(want.data);
    expect(calls).toBe(2);
    // Out of range on good input: reported as a broken backend, as on a gated kit.
    const seven = createCosineKit({
      backend: {
        name: 'seven',
        ungated: ['cosineMatrix', 'topK'],
        kernels: {
          cosineMatrix: () => new Float32Array(10).fill(7),
          // The worst rows with their true scores: the sampled check catches the left-out best.
          topK: (q, c, k) => {
            const m = referenceKernels.cosineMatrix(q, c) as Float32Array;
            const indices = new Int32Array(q.rows * k);
            const scores = new Float32Array(q.rows * k);
            for (let i = 0; i < q.rows; i++) {
              const order = Array.from({ length: c.rows }, (_, j) => j).sort(
                (x, y) => m[i * c.rows + x] - m[i * c.rows + y],
              );
              for (let s = 0; s < k; s++) {
                indices[i * k + s] = order[k - 1 - s];
                scores[i * k + s] = m[i * c.rows + order[k - 1 - s]];
              }
            }
            return { queries: q.rows, k, indices, scores };
          },
        },
      },
    });
    await seven.ready();
    expect((await failure(seven.cosineMatrix(a, b))).code).toBe('BACKEND_ERROR');
    const big = new Tensor(rows(400, 9, 3), 400, 9);
    expect((await failure(seven.topK(a, big, 2))).code).toBe('BACKEND_ERROR');
  });
});

describe('ungated rowNorms and normalizeRows (Backend.ungated)', () => {
  /** The reference's two kernels, declared ungated, recording what they were handed. */
  const recordingRows = (alias = false) => {
    const seen: Matrix[] = [];
    const backend: Backend = {
      name: 'ungated-rows',
      ungated: ['rowNorms', 'normalizeRows'],
      kernels: {
        rowNorms(x, out) {
          seen.push(x);
          return referenceKernels.rowNorms(x, out);
        },
        normalizeRows(x, out) {
          seen.push(x);
          // A broken kernel that normalises the caller's rows in place and hands them back.
          if (alias) return referenceKernels.normalizeRows(x, x.data);
          return referenceKernels.normalizeRows(x, out);
        },
      },
    };
    return { backend, seen };
  };

  it('hand the caller rows to the kernel as they are, and answer as the gated path does', async () => {
    const open = recordingRows();
    const kit = createCosineKit({ backend: open.backend });
    const gated = createCosineKit({ backend: 'reference' });
    await Promise.all([kit.ready(), gated.ready()]);
    for (const [r, d] of [
      [1, 1],
      [3, 5],
      [9, 130],
    ]) {
      const x = new Tensor(rows(r, d, r * d), r, d);
      open.seen.length = 0;
      const n = await kit.rowNorms(x);
      const u = await kit.normalize(x);
      expect(open.seen.map((m) => m.data)).toEqual([x.data, x.data]);
      expect(open.seen[0].data).toBe(x.data);
      expect(n).toEqual(await gated.rowNorms(x));
      expect(u.data).toEqual((await gated.normalize(x)).data);
    }
  });

  it('NaN, ±Infinity and norms past float32 get the gate’s errors; an answer on the caller’s buffer is refused', async () => {
    const kit = createCosineKit({ backend: recordingRows().backend });
    const gated = createCosineKit({ backend: 'reference' });
    await Promise.all([kit.ready(), gated.ready()]);
    for (const bad of [Number.NaN, Number.NEGATIVE_INFINITY]) {
      const make = () => {
        const x = rows(3, 4, 1);
        x[5] = bad;
        return new Tensor(x, 3, 4);
      };
      for (const op of ['rowNorms', 'normalize'] as const) {
        const e = await failure(kit[op](make()));
        const g = await failure(gated[op](make()));
        expect([e.code, e.op, e.arg, e.message]).toEqual([g.code, g.op, g.arg, g.message]);
      }
    }
    const huge = () => new Tensor(new Float32Array(6).fill(3e38), 2, 3);
    const e = await failure(kit.rowNorms(huge()));
    const g = await failure(gated.rowNorms(huge()));
    expect([e.code, e.message]).toEqual([g.code, g.message]);
    // Rows of any finite magnitude: exact.
    for (const s of [1e38, 2 ** -120, 2 ** -140]) {
      const x = rows(2, 5, 3).map((v) => v * s);
      const n = await kit.rowNorms(new Tensor(x, 2, 5));
      for (let i = 0; i < 2; i++) {
        let ss = 0;
        for (let p = 0; p < 5; p++) ss += x[i * 5 + p] ** 2;
        expect(Math.abs(n[i] - Math.sqrt(ss)) / Math.sqrt(ss), `scale ${s}`).toBeLessThan(
          s < 1e-40 ? 1e-3 : 1e-7,
        );
      }
    }
    // A broken kernel's answer on the caller's own buffer is not handed back as the result: the
    // call goes through the gate, whose snapshot the kernel then writes instead.
    const alias = recordingRows(true);
    const akit = createCosineKit({ backend: alias.backend });
    await akit.ready();
    const x = rows(2, 3, 9);
    const keep = Float32Array.from(x);
    const u = await akit.normalize(new Tensor(x, 2, 3));
    expect(u.data.buffer).not.toBe(x.buffer);
    expect(alias.seen).toHaveLength(2);
    const want = (await gated.normalize(new Tensor(keep, 2, 3))).data;
    for (let i = 0; i < 6; i++) expect(Math.abs(u.data[i] - want[i])).toBeLessThan(1e-6);
  });
});

describe('ungated createCorpus (Backend.ungated)', () => {
  /** The reference's corpus kernels, createCorpus declared ungated (refusing NaN), recording its rows. */
  const corpusBackend = (canRead = true) => {
    const seen: Matrix[] = [];
    const live = { handles: 0 };
    const { readCorpus, exportCorpus, ...rest } = referenceKernels;
    const backend: Backend = {
      name: 'ungated-corpus',
      ungated: ['createCorpus'],
      kernels: {
        ...rest,
        ...(canRead ? { readCorpus, exportCorpus } : {}),
        createCorpus(x, o) {
          seen.push(x);
          for (const v of x.data) if (!Number.isFinite(v)) throw new Error('not finite');
          const h = referenceKernels.createCorpus(x, o) as ResidentCorpus;
          live.handles++;
          const dispose = h.dispose.bind(h);
          h.dispose = () => {
            if (!h.disposed) live.handles--;
            dispose();
          };
          return h;
        },
      },
    };
    return { backend, seen, live };
  };

  it('hands the caller rows to the kernel within the call, for every storage the backend can give back', async () => {
    const open = corpusBackend();
    const kit = createCosineKit({ backend: open.backend });
    const gated = createCosineKit({ backend: 'reference' });
    await Promise.all([kit.ready(), gated.ready()]);
    const x = new Tensor(rows(50, 7, 1), 50, 7);
    const q = new Tensor(rows(2, 7, 2), 2, 7);
    const c = await kit.corpus(x, { ids: Array.from({ length: 50 }, (_, i) => i * 2) });
    expect(open.seen[0].data).toBe(x.data);
    const g = await gated.corpus(x, { ids: Array.from({ length: 50 }, (_, i) => i * 2) });
    const [a, b] = [await c.search(q, 3), await g.search(q, 3)];
    expect([a.indices, a.scores, a.ids]).toEqual([b.indices, b.scores, b.ids]);
    // int8, with and without re-ranking: the caller's rows too, and the gated answers.
    for (const rerank of [undefined, 0]) {
      const c8 = await kit.corpus(x, { storage: 'int8', rerank });
      expect(open.seen.at(-1)!.data).toBe(x.data);
      const g8 = await gated.corpus(x, { storage: 'int8', rerank });
      const [a8, b8] = [await c8.search(q, 3), await g8.search(q, 3)];
      expect([a8.indices, a8.scores]).toEqual([b8.indices, b8.scores]);
    }
    // A backend that cannot give its rows back: the gate's snapshot, as before, for every storage.
    const shut = corpusBackend(false);
    const skit = createCosineKit({ backend: shut.backend });
    await skit.ready();
    await skit.corpus(x);
    expect(shut.seen[0].data).not.toBe(x.data);
  });

  it('NaN rows and bad ids get the gate’s errors, rows first', async () => {
    const kit = createCosineKit({ backend: corpusBackend().backend });
    const gated = createCosineKit({ backend: 'reference' });
    await Promise.all([kit.ready(), gated.ready()]);
    const make = () => {
      const x = rows(6, 3, 4);
      x[10] = Number.NaN;
      return new Tensor(x, 6, 3);
    };
    const e = await failure(kit.corpus(make()));
    const g = await failure(gated.corpus(make()));
    expect([e.code, e.op, e.arg, e.message]).toEqual([g.code, g.op, g.arg, g.message]);
    expect((await failure(kit.corpus(make(), { ids: [1, 1] }))).code).toBe('NON_FINITE');
    const good = new Tensor(rows(6, 3, 4), 6, 3);
    const i = await failure(kit.corpus(good, { ids: [1, 1, 2, 3, 4, 5] }));
    const j = await failure(gated.corpus(good, { ids: [1, 1, 2, 3, 4, 5] }));
    expect([i.code, i.arg, i.message]).toEqual([j.code, j.arg, j.message]);
  });

  it('corpus.add disposed while its ids are read lets the segment made for its rows go (it stayed resident)', async () => {
    const open = corpusBackend();
    const kit = createCosineKit({ backend: open.backend });
    await kit.ready();
    for (const by of ['corpus', 'kit'] as const) {
      const c = await kit.corpus(new Tensor(rows(4, 7, 1), 4, 7), { ids: ['a', 'b', 'c', 'd'] });
      const ids = new Proxy(
        Array.from({ length: 30 }, (_, j) => `n${j}`),
        {
          get(t, p) {
            if (p === '29') (by === 'corpus' ? c : kit).dispose();
            return Reflect.get(t, p);
          },
        },
      );
      const e = await failure(c.add(new Tensor(rows(30, 7, 2), 30, 7), ids));
      expect(e, by).toMatchObject({ code: 'DISPOSED', op: 'add', arg: 'corpus' });
      expect(open.live.handles, by).toBe(0);
    }
  });

  it('corpus.add hands the caller rows to the kernel within the call; the answers are the gated ones', async () => {
    const open = corpusBackend();
    const kit = createCosineKit({ backend: open.backend });
    const gated = createCosineKit({ backend: 'reference' });
    await Promise.all([kit.ready(), gated.ready()]);
    const ids = (n: number, from: number) => Array.from({ length: n }, (_, i) => `r${from + i}`);
    const [c, g] = [kit, gated].map((k) => k.corpus(new Tensor(rows(9, 7, 1), 9, 7), { ids: ids(9, 0) }));
    const [ck, gk] = [await c, await g];
    // Several adds queued at once (their rows poisoned as soon as each call returns), one
    // segment each, merged as they come: the same search answers and ids as the gated kit.
    for (const [n, seed] of [
      [1, 2],
      [13, 3],
      [5, 4],
      [40, 5],
    ] as const) {
      const x = rows(n, 7, seed);
      const y = Float32Array.from(x);
      const pending = ck.add(new Tensor(x, n, 7), ids(n, ck.rows + 100 * seed));
      expect(open.seen.at(-1)!.data).toBe(x);
      x.fill(Number.NaN);
      await Promise.all([pending, gk.add(new Tensor(y, n, 7), ids(n, gk.rows + 100 * seed))]);
    }
    expect(ck.rows).toBe(gk.rows);
    const q = new Tensor(rows(3, 7, 9), 3, 7);
    const [a, b] = [await ck.search(q, 10), await gk.search(q, 10)];
    expect([a.ids, a.scores]).toEqual([b.ids, b.scores]);
    ck.dispose();
    expect(open.live.handles).toBe(0);
    // int8 too; a backend that keeps no readable copy: the gate's snapshot, as before.
    const q8 = await kit.corpus(new Tensor(rows(4, 7, 1), 4, 7), { storage: 'int8' });
    const x8 = rows(2, 7, 6);
    await q8.add(new Tensor(x8, 2, 7));
    expect(open.seen.at(-1)!.data).toBe(x8);
    const shut = corpusBackend(false);
    const skit = createCosineKit({ backend: shut.backend });
    const sc = await skit.corpus(new Tensor(rows(4, 7, 1), 4, 7));
    const xs = rows(2, 7, 7);
    await sc.add(new Tensor(xs, 2, 7));
    expect(shut.seen.at(-1)!.data).not.toBe(xs);
  });

  it('corpus.add: NaN rows, ids refused and a corpus out of room get the gate’s errors, rows first, and leak no handle', async () => {
    const open = corpusBackend();
    const kit = createCosineKit({ backend: open.backend });
    const gated = createCosineKit({ backend: 'reference' });
    await Promise.all([kit.ready(), gated.ready()]);
    const start = new Tensor(rows(6, 3, 1), 6, 3);
    const [ck, gk] = [
      await kit.corpus(start, { ids: [0, 1, 2, 3, 4, 5] }),
      await gated.corpus(start, { ids: [0, 1, 2, 3, 4, 5] }),
    ];
    const bad = () => {
      const x = rows(2, 3, 4);
      x[4] = Number.POSITIVE_INFINITY;
      return new Tensor(x, 2, 3);
    };
    const good = () => new Tensor(rows(2, 3, 5), 2, 3);
    const same = async (make: (c: typeof ck) => Promise<void>) => {
      const [e, f] = [await failure(make(ck)), await failure(make(gk))];
      expect([e.code, e.op, e.arg, e.message]).toEqual([f.code, f.op, f.arg, f.message]);
      return e;
    };
    expect((await same((c) => c.add(bad(), [10, 11]))).code).toBe('NON_FINITE');
    // Rows first: bad rows and ids that repeat within the call.
    expect((await same((c) => c.add(bad(), [10, 10]))).code).toBe('NON_FINITE');
    await same((c) => c.add(good(), [10, 10]));
    // An id the corpus already holds: refused when the add runs, the early handle disposed.
    const before = open.live.handles;
    await same((c) => c.add(good(), [3, 12]));
    expect(open.live.handles).toBe(before);
    await same((c) => c.add(good()));
    expect(open.live.handles).toBe(before);
    expect(ck.rows).toBe(6);
    kit.dispose();
    expect(open.live.handles).toBe(0);
  });

  it('corpusFrom: each segment copied by the backend within the call, its buffer reused; the gated answers', async () => {
    const open = corpusBackend();
    const kit = createCosineKit({ backend: open.backend });
    const gated = createCosineKit({ backend: 'reference' });
    await Promise.all([kit.ready(), gated.ready()]);
    const d = 5;
    const all = rows(230, d, 3);
    // Chunks of 7 rows (views of one array, poisoned once read), segments of about 40 rows.
    async function* chunks(poison: boolean) {
      for (let i = 0; i < 230; i += 7) {
        const e = Math.min(230, i + 7);
        const x = all.slice(i * d, e * d);
        yield { rows: new Tensor(x, e - i, d), ids: Array.from({ length: e - i }, (_, j) => `r${i + j}`) };
        if (poison) x.fill(Number.NaN);
      }
    }
    const c = await kit.corpusFrom(chunks(true), { segmentBytes: 40 * d * 4 });
    const g = await gated.corpusFrom(chunks(false), { segmentBytes: 40 * d * 4 });
    expect(open.seen.length).toBeGreaterThan(4);
    expect(open.seen.slice(1).every((m) => m.data.buffer === open.seen[0].data.buffer)).toBe(true);
    const q = new Tensor(rows(3, d, 4), 3, d);
    const [a, b] = [await c.search(q, 9), await g.search(q, 9)];
    expect([a.ids, a.scores]).toEqual([b.ids, b.scores]);
    expect(c.rows).toBe(230);
    // A bad chunk: the gate's error naming it, and every segment made so far disposed.
    async function* bad() {
      yield* chunks(false);
      const x = rows(3, d, 5);
      x[7] = Number.NaN;
      yield new Tensor(x, 3, d);
    }
    const live = open.live.handles;
    const e = await failure(kit.corpusFrom(bad(), { segmentBytes: 40 * d * 4 }));
    const f = await failure(gated.corpusFrom(bad(), { segmentBytes: 40 * d * 4 }));
    expect([e.code, e.arg, e.message]).toEqual([f.code, f.arg, f.message]);
    expect([e.code, e.arg]).toEqual(['NON_FINITE', 'source[33]']);
    expect(open.live.handles).toBe(live);
    kit.dispose();
    expect(open.live.handles).toBe(0);
  });

  it('corpusFrom on a backend that merges: large chunks as they come, small ones a MiB at a time, merged by segments; the gated answers', async () => {
    const open = corpusBackend();
    let merges = 0;
    const kernels = open.backend.kernels;
    const merge = kernels.mergeCorpora!;
    const backend: Backend = {
      ...open.backend,
      kernels: { ...kernels, mergeCorpora: (...a: Parameters<typeof merge>) => (merges++, merge(...a)) },
    };
    const kit = createCosineKit({ backend });
    const gated = createCosineKit({ backend: 'reference' });
    await Promise.all([kit.ready(), gated.ready()]);
    const d = 16;
    const n = 120_000;
    const all = rows(n, d, 9);
    // Chunks of 20,000 rows (1.25 MiB: handed over as they come), 3,000 (gathered) and 1.
    const sizes = [20_000, 3_000, 1, 20_000, 3_000, 3_000, 1, 20_000];
    async function* chunks(poison: boolean, bad?: [number, number]) {
      for (let i = 0, s = 0; i < n; s++) {
        const e = Math.min(n, i + sizes[s % sizes.length]);
        const x = all.slice(i * d, e * d);
        if (bad && bad[0] === s) x[bad[1]] = Number.NaN;
        yield { rows: new Tensor(x, e - i, d), ids: Array.from({ length: e - i }, (_, j) => `r${i + j}`) };
        if (poison) x.fill(Number.NaN);
        i = e;
      }
    }
    const progress: number[] = [];
    const options = { segmentBytes: 3 * 2 ** 20, onProgress: (r: number) => void progress.push(r) };
    const c = await kit.corpusFrom(chunks(true), options);
    const g = await gated.corpusFrom(chunks(false), { segmentBytes: 3 * 2 ** 20 });
    expect(c.rows).toBe(n);
    expect(merges).toBeGreaterThan(0);
    // Three segments' worth, merged: no more handles than that left (and one for the rest).
    expect(open.live.handles).toBeLessThanOrEqual(Math.ceil((n * d * 4) / (3 * 2 ** 20)) + 1);
    expect(progress.at(-1)).toBe(n);
    expect(progress.every((r, i) => i === 0 || r > progress[i - 1])).toBe(true);
    const q = new Tensor(rows(4, d, 4), 4, d);
    const [a, b] = [await c.search(q, 12), await g.search(q, 12)];
    expect([a.ids, a.scores]).toEqual([b.ids, b.scores]);
    expect((await c.similarity(q)).data).toEqual((await g.similarity(q)).data);
    c.dispose();
    // NaN in a chunk handed over whole (0) or gathered (1), or an id repeated in a large chunk: the
    // gate's errors naming it, and nothing left on the backend.
    const before = open.live.handles;
    for (const [s, at] of [
      [3, 5 * d + 2],
      [4, 100],
      [6, 0],
    ] as const) {
      const e = await failure(kit.corpusFrom(chunks(false, [s, at]), options));
      const f = await failure(gated.corpusFrom(chunks(false, [s, at]), { segmentBytes: 3 * 2 ** 20 }));
      expect([e.code, e.arg, e.message]).toEqual([f.code, f.arg, f.message]);
      expect([e.code, e.arg]).toEqual(['NON_FINITE', `source[${s}].rows`]);
      expect(open.live.handles).toBe(before);
    }
    async function* twice() {
      yield {
        rows: new Tensor(all.slice(0, 20_000 * d), 20_000, d),
        ids: Array.from({ length: 20_000 }, (_, j) => j),
      };
      yield {
        rows: new Tensor(all.slice(0, 20_000 * d), 20_000, d),
        ids: Array.from({ length: 20_000 }, (_, j) => j + 19_999),
      };
    }
    const e = await failure(kit.corpusFrom(twice(), options));
    const f = await failure(gated.corpusFrom(twice(), options));
    expect([e.code, e.arg, e.message]).toEqual([f.code, f.arg, f.message]);
    expect(e.arg).toBe('source[1].ids[0]');
    expect(open.live.handles).toBe(before);
    kit.dispose();
    expect(open.live.handles).toBe(0);
  });

  it('corpusFrom on a backend that merges: a run is merged at 64 MiB whatever segmentBytes (two copies of it are held while it merges)', async () => {
    const open = corpusBackend();
    const sizes: number[] = [];
    const kernels = open.backend.kernels;
    const merge = kernels.mergeCorpora!;
    const backend: Backend = {
      ...open.backend,
      kernels: {
        ...kernels,
        mergeCorpora: (...a: Parameters<typeof merge>) => (
          sizes.push(a[0].reduce((t, h) => t + h.rows, 0)), merge(...a)
        ),
      },
    };
    const kit = createCosineKit({ backend });
    const d = 256;
    const n = 100_000; // 102 MB of rows: past 64 MiB
    const chunk = rows(5000, d, 5);
    async function* chunks() {
      for (let i = 0; i < n; i += 5000) yield new Tensor(chunk, 5000, d);
    }
    const c = await kit.corpusFrom(chunks(), { segmentBytes: 2 ** 30 });
    expect(c.rows).toBe(n);
    // 65,536 rows make 64 MiB: one run merged once 14 chunks of 5,000 reach it, then the rest.
    expect(sizes).toEqual([70_000, 30_000]);
    kit.dispose();
    expect(open.live.handles).toBe(0);
  });

  it('corpusFrom: a kit disposed while the stream is read refuses it and leaves no segment behind', async () => {
    // (The first segment is flushed after chunk 5: a kit disposed before that has no corpus to dispose.)
    for (const at of [8, 12, 25]) {
      const open = corpusBackend();
      const kit = createCosineKit({ backend: open.backend });
      await kit.ready();
      const d = 4;
      async function* chunks() {
        for (let i = 0; i < 30; i++) {
          if (i === at) kit.dispose();
          await Promise.resolve();
          yield new Tensor(rows(7, d, i + 1), 7, d);
        }
      }
      const e = await failure(kit.corpusFrom(chunks(), { segmentBytes: 40 * d * 4 }));
      expect([e.code, e.op]).toEqual(['DISPOSED', 'corpusFrom']);
      expect(open.seen.length).toBeGreaterThan(0);
      expect(open.live.handles).toBe(0);
    }
  });
});

/**
 * The reference's corpus kernels with `corpusSearch` and `corpusMatrix` as an ungated backend would
 * run them: they throw for NaN or ±Infinity in the queries, record the queries they answered, and
 * give the reference's float64 answers. `declare` false: the same kernels, gated.
 */
function ungatedQueries(declare = true): { backend: Backend; seen: Matrix[] } {
  const seen: Matrix[] = [];
  const refuse = (x: Matrix) => {
    for (const v of x.data) if (!Number.isFinite(v)) throw new Error('not finite');
  };
  return {
    backend: {
      name: declare ? 'ungated-queries' : 'gated-queries',
      kernels: {
        ...referenceKernels,
        corpusSearch(h, q, k) {
          refuse(q);
          seen.push(q);
          return referenceKernels.corpusSearch(h, q, k);
        },
        corpusMatrix(h, q, out) {
          refuse(q);
          seen.push(q);
          return referenceKernels.corpusMatrix(h, q, out);
        },
      },
      ...(declare ? { ungated: ['corpusSearch', 'corpusMatrix'] as const } : {}),
    },
    seen,
  };
}

describe('ungated corpusSearch and corpusMatrix (Backend.ungated)', () => {
  it('are used only where declared', () => {
    expect(resolveKernels(ungatedQueries().backend).ungated).toEqual([
      'cosineRows',
      'corpusSearch',
      'corpusMatrix',
    ]);
    expect(resolveKernels(ungatedQueries(false).backend).ungated).toEqual(['cosineRows']);
  });

  it('an idle one-segment corpus hands the caller queries to the kernel within the call; the answers are the gated ones', async () => {
    const open = ungatedQueries();
    const shut = ungatedQueries(false);
    const kit = createCosineKit({ backend: open.backend });
    const gated = createCosineKit({ backend: shut.backend });
    for (const [q, n, d] of [
      [1, 1, 1],
      [1, 9, 3],
      [4, 37, 17],
    ]) {
      const corpus = new Tensor(rows(n, d, n + d), n, d);
      const ids = Array.from({ length: n }, (_, i) => `row ${i}`);
      const [c, g] = await Promise.all([kit.corpus(corpus, { ids }), gated.corpus(corpus, { ids })]);
      const a = new Tensor(rows(q, d, q + d), q, d);
      const k = Math.min(3, n);
      open.seen.length = 0;
      shut.seen.length = 0;
      // The kernel ran before the call returned: overwriting the queries at once changes nothing.
      const p = c.search(a, k);
      expect(open.seen[0].data).toBe(a.data);
      const m = c.similarity(a);
      expect(open.seen[1].data).toBe(a.data);
      const keep = Float32Array.from(a.data);
      a.data.fill(Number.NaN);
      const [t, s] = await Promise.all([p, m]);
      a.data.set(keep);
      const [u, r] = await Promise.all([g.search(a, k), g.similarity(a)]);
      expect(shut.seen[0].data).not.toBe(a.data);
      expect([t.indices, t.scores, t.ids]).toEqual([u.indices, u.scores, u.ids]);
      expect([s.rows, s.cols, s.data]).toEqual([r.rows, r.cols, r.data]);
      for (let i = 0; i < q; i++)
        for (let j = 0; j < n; j++)
          expect(Math.abs(s.data[i * n + j] - pair64(a.data, i, corpus.data, j, d))).toBeLessThanOrEqual(TOL);
    }
  });

  it('a call queued behind another, a filter, an abort signal, an out, removed rows or a second segment snapshot the queries', async () => {
    const open = ungatedQueries();
    const kit = createCosineKit({ backend: open.backend });
    const d = 6;
    const base = new Tensor(rows(20, d, 3), 20, d);
    const c = await kit.corpus(base);
    const q = () => new Tensor(rows(2, d, 4), 2, d);
    const want = await createCosineKit({ backend: 'reference' }).topK(q(), base, 3);
    const handed = async (call: (a: Tensor) => Promise<unknown>) => {
      open.seen.length = 0;
      const a = q();
      const p = call(a);
      // Written over before the queued or snapshot call runs: its answer is for the rows as called.
      a.data.fill(Number.NaN);
      await p;
      return open.seen.some((x) => x.data === a.data);
    };
    // Queued behind a search still running (its promise not yet settled; a signal queues it).
    const first = c.search(q(), 3, { signal: new AbortController().signal });
    let late: Promise<unknown> = Promise.resolve();
    expect(
      await handed((a) => {
        late = c.search(a, 3);
        return late;
      }),
    ).toBe(false);
    await first;
    expect((await (late as Promise<{ indices: Int32Array }>)).indices).toEqual(want.indices);
    expect(await handed((a) => c.search(a, 3, { filter: { allow: [0, 1, 2, 3, 5, 8] } }))).toBe(false);
    expect(await handed((a) => c.search(a, 3, { signal: new AbortController().signal }))).toBe(false);
    expect(await handed((a) => c.similarity(a, { signal: new AbortController().signal }))).toBe(false);
    expect(await handed((a) => c.similarity(a, { out: new Float32Array(40) }))).toBe(false);
    // Idle and plain: handed over.
    expect(await handed((a) => c.search(a, 3))).toBe(true);
    await c.remove([7]);
    expect(await handed((a) => c.search(a, 3))).toBe(false);
    // Two segments (none merged): a search of each, merged in the kit.
    const c2 = await kit.corpus(base);
    c2.mergeBytes = 0;
    await c2.add(base);
    expect(await handed((a) => c2.search(a, 3))).toBe(false);
    expect(await handed((a) => c2.similarity(a))).toBe(false);
  });

  it('NaN or ±Infinity in the queries, a bad k, a wrong width: the gated errors, in the gated order', async () => {
    const kit = createCosineKit({ backend: ungatedQueries().backend });
    const gated = createCosineKit({ backend: ungatedQueries(false).backend });
    const base = new Tensor(rows(9, 5, 1), 9, 5);
    const [c, g] = await Promise.all([kit.corpus(base), gated.corpus(base)]);
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const make = () => {
        const x = rows(3, 5, 2);
        x[11] = bad;
        return new Tensor(x, 3, 5);
      };
      for (const k of [2, 0, 10]) {
        const e = await failure(c.search(make(), k));
        const f = await failure(g.search(make(), k));
        expect([e.code, e.op, e.arg, e.message]).toEqual([f.code, f.op, f.arg, f.message]);
        expect([e.code, e.op, e.arg]).toEqual(['NON_FINITE', 'search', 'queries']);
      }
      const e = await failure(c.similarity(make()));
      const f = await failure(g.similarity(make()));
      expect([e.code, e.op, e.arg, e.message]).toEqual([f.code, f.op, f.arg, f.message]);
      expect([e.code, e.op, e.arg]).toEqual(['NON_FINITE', 'similarity', 'queries']);
    }
    const a = new Tensor(rows(3, 5, 2), 3, 5);
    for (const k of [0, 10, 1.5]) {
      const e = await failure(c.search(a, k));
      const f = await failure(g.search(a, k));
      expect([e.code, e.message]).toEqual([f.code, f.message]);
      expect(e.code).toBe('INVALID_K');
    }
    for (const x of [new Tensor(rows(3, 4, 2), 3, 4), 'rows' as unknown as Tensor]) {
      const e = await failure(c.search(x, 2));
      const f = await failure(g.search(x, 2));
      expect([e.code, e.arg, e.message]).toEqual([f.code, f.arg, f.message]);
      const s = await failure(c.similarity(x));
      const t = await failure(g.similarity(x));
      expect([s.code, s.arg, s.message]).toEqual([t.code, t.arg, t.message]);
    }
  });

  it('queries whose getter disposes the corpus while they are read: DISPOSED, never another corpus rows (a review)', async () => {
    const kit = createCosineKit({ backend: ungatedQueries().backend });
    const d = 8;
    const mine = rows(30, d, 11);
    const others = rows(30, d, 12);
    for (let at = 1; at <= 6; at++)
      for (const op of ['search', 'similarity'] as const) {
        const a = await kit.corpus(new Tensor(Float32Array.from(mine), 30, d));
        let reads = 0;
        let b: Promise<unknown> | undefined;
        class Sneaky extends Tensor {
          override get data(): Float32Array {
            if (++reads === at && !a.disposed) {
              a.dispose();
              b = kit.corpus(new Tensor(Float32Array.from(others), 30, d));
            }
            return super.data;
          }
        }
        const qd = rows(2, d, 13);
        const want = await createCosineKit({ backend: 'reference' }).cosineMatrix(
          new Tensor(qd.slice(), 2, d),
          new Tensor(mine, 30, d),
        );
        const q = new Sneaky(qd, 2, d);
        const r = await (op === 'search' ? a.search(q, 30) : a.similarity(q)).then(
          (x) => x,
          (e: unknown) => e,
        );
        if (a.disposed) expect(r, `${op}, dispose at read ${at}`).toMatchObject({ code: 'DISPOSED' });
        else if (op === 'similarity')
          for (let i = 0; i < want.data.length; i++)
            expect(Math.abs((r as Tensor).data[i] - want.data[i])).toBeLessThanOrEqual(1e-6);
        ((await b) as { dispose(): void } | undefined)?.dispose();
      }
  });

  it('a kernel that answers late or wrong goes through the gate, where a fault is reported', async () => {
    const base = new Tensor(rows(12, 7, 5), 12, 7);
    const a = new Tensor(rows(2, 7, 6), 2, 7);
    const want = await createCosineKit({ backend: 'reference' }).topK(a, base, 2);
    let calls = 0;
    const late = createCosineKit({
      backend: {
        name: 'late',
        ungated: ['corpusSearch'],
        kernels: {
          ...referenceKernels,
          corpusSearch: (h, q, k) => {
            calls++;
            return new Promise((done) =>
              setTimeout(() => done(referenceKernels.corpusSearch(h, q, k) as TopKResult), 5),
            );
          },
        },
      },
    });
    const c = await late.corpus(base);
    const x = new Tensor(Float32Array.from(a.data), 2, 7);
    const p = c.search(x, 2);
    x.data.fill(Number.NaN);
    const t = await p;
    expect([t.indices, t.scores]).toEqual([want.indices, want.scores]);
    // The call and the gated call (two queries: scanned, not probed).
    expect(calls).toBe(2);
    let wrong = 0;
    const broken = createCosineKit({
      backend: {
        name: 'broken',
        ungated: ['corpusSearch', 'corpusMatrix'],
        kernels: {
          ...referenceKernels,
          corpusSearch: (_h, q, k) => {
            wrong++;
            return {
              queries: q.rows,
              k,
              indices: new Int32Array(q.rows * k).fill(99),
              scores: new Float32Array(q.rows * k),
            };
          },
          corpusMatrix: (h, q) => {
            wrong++;
            return new Float32Array(q.rows * h.rows).fill(7);
          },
        },
      },
    });
    const b = await broken.corpus(base);
    expect((await failure(b.search(a, 2))).code).toBe('BACKEND_ERROR');
    expect((await failure(b.similarity(a))).code).toBe('BACKEND_ERROR');
    expect(wrong).toBe(4);
  });

  it('a kernel that answers non-finite queries anyway never sees them: the queries are scanned first, and the gate names them (a probe)', async () => {
    // Breaks the ungated promise: NaN and ±Infinity become 0, and a plausible answer comes back.
    const tame = (q: Matrix): Matrix => ({ ...q, data: q.data.map((v) => (Number.isFinite(v) ? v : 0)) });
    let seen = 0;
    const lax = createCosineKit({
      backend: {
        name: 'lax',
        ungated: ['corpusSearch', 'corpusMatrix'],
        kernels: {
          ...referenceKernels,
          corpusSearch: (h, q, k) => {
            if (q.data.some((v) => !Number.isFinite(v))) seen++;
            return referenceKernels.corpusSearch(h, tame(q), k);
          },
          corpusMatrix: (h, q, out) => {
            if (q.data.some((v) => !Number.isFinite(v))) seen++;
            return referenceKernels.corpusMatrix(h, tame(q), out);
          },
        },
      },
    });
    const c = await lax.corpus(new Tensor(rows(9, 5, 1), 9, 5));
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const x = rows(2, 5, 3);
      x[7] = bad;
      for (const call of [() => c.search(new Tensor(x, 2, 5), 3), () => c.similarity(new Tensor(x, 2, 5))]) {
        const e = await failure(call());
        expect([e.code, e.arg]).toEqual(['NON_FINITE', 'queries']);
      }
    }
    // It answered 0.66 and ranked rows for [NaN, ...] on both calls.
    expect(seen).toBe(0);
    lax.dispose();
  });

  it('a large block of queries: a kernel that answers the finite probe and refuses the others is asked once a corpus and kernel, then handed them unread; others are scanned', async () => {
    const calls: string[] = [];
    const label = (q: Matrix) =>
      `${q.rows === 2 ? 'probe' : 'call'} ${q.data.every(Number.isFinite) ? 'finite' : 'bad'}`;
    /** Corpus kernels that refuse NaN (and ±Infinity when `all`), or every call of two queries (`one`). */
    const strict = (all: boolean, one = false) =>
      createCosineKit({
        backend: {
          name: all ? 'strict' : 'nan-only',
          ungated: ['corpusSearch', 'corpusMatrix'],
          kernels: {
            ...referenceKernels,
            corpusSearch: (h, q, k) => {
              calls.push(`search ${label(q)}`);
              if (one && q.rows === 2) throw new Error('one query a call');
              for (const v of q.data) if (all ? !Number.isFinite(v) : Number.isNaN(v)) throw new Error('bad');
              return referenceKernels.corpusSearch(h, q, k);
            },
            corpusMatrix: (h, q, out) => {
              calls.push(`matrix ${label(q)}`);
              for (const v of q.data) if (all ? !Number.isFinite(v) : Number.isNaN(v)) throw new Error('bad');
              return referenceKernels.corpusMatrix(h, q, out);
            },
          },
        },
      });
    const d = 5;
    const base = new Tensor(rows(9, d, 1), 9, d);
    // 13,108 queries of 5: 65,540 values, past the size from which the kernel is probed.
    const n = 13_108;
    const a = new Tensor(rows(n, d, 3), n, d);
    const want = await createCosineKit({ backend: 'reference' }).topK(a, base, 3);
    const kit = strict(true);
    const c = await kit.corpus(base);
    for (let i = 0; i < 2; i++) expect((await c.search(a, 3)).indices).toEqual(want.indices);
    // Small blocks are scanned, never probed.
    await c.similarity(new Tensor(rows(3, d, 4), 3, d));
    await c.similarity(a);
    await c.similarity(a);
    expect(calls.splice(0)).toEqual([
      'search probe finite',
      'search probe bad',
      'search probe bad',
      'search call finite',
      'search call finite',
      'matrix call finite',
      'matrix probe finite',
      'matrix probe bad',
      'matrix probe bad',
      'matrix call finite',
      'matrix call finite',
    ]);
    // A large block with NaN or -Infinity: refused by the kernel, named by the gate.
    for (const bad of [Number.NaN, Number.NEGATIVE_INFINITY]) {
      const x = Float32Array.from(a.data);
      x[6 * d + 1] = bad;
      const e = await failure(c.search(new Tensor(x, n, d), 3));
      expect([e.code, e.arg]).toEqual(['NON_FINITE', 'queries']);
    }
    expect(calls.splice(0)).toEqual(['search call bad', 'search call bad']);
    // Refuses NaN only (it answered the -Infinity probe), or every call of two queries (it
    // refused the finite probe): scanned, so the caller's Infinity never reaches either.
    for (const [all, one, seen] of [
      [false, false, ['search probe finite', 'search probe bad', 'search probe bad', 'search call finite']],
      [true, true, ['search probe finite', 'search call finite']],
    ] as const) {
      const lax = await strict(all, one).corpus(base);
      const x = Float32Array.from(a.data);
      x[6 * d + 1] = Number.POSITIVE_INFINITY;
      expect((await failure(lax.search(new Tensor(x, n, d), 3))).code).toBe('NON_FINITE');
      expect((await lax.search(a, 3)).indices).toEqual(want.indices);
      expect(calls.splice(0)).toEqual(seen);
    }
  });
});
