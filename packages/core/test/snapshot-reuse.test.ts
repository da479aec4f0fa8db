/**
 * The gate's snapshot of a large input goes into a buffer a later call may reuse (held weakly
 * between calls). Reuse must never show: every answer is right for its own input, an answer the
 * caller holds is never written by a later call, and a smaller input in a reused buffer reads no
 * stale values past its end.
 */
import { describe, expect, it } from 'vitest';
import { type Backend, isAdmitted, referenceKernels } from '../src/backend.js';
import { createCosineKit, Tensor } from '../src/index.js';

function rows(n: number, d: number, seed: number): Float32Array {
  const out = new Float32Array(n * d);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** cos(q_i, x_j) in float64. */
function cos64(q: Float32Array, x: Float32Array, d: number): Float64Array {
  const nq = q.length / d;
  const nx = x.length / d;
  const out = new Float64Array(nq * nx);
  for (let i = 0; i < nq; i++)
    for (let j = 0; j < nx; j++) {
      let ab = 0;
      let aa = 0;
      let bb = 0;
      for (let k = 0; k < d; k++) {
        const a = q[i * d + k];
        const b = x[j * d + k];
        ab += a * b;
        aa += a * a;
        bb += b * b;
      }
      out[i * nx + j] = ab / Math.sqrt(aa * bb);
    }
  return out;
}

/** Whether two arrays hold the same values (a loop: vitest's deep equality is slow on large arrays). */
const same = (a: Float32Array, b: Float32Array): boolean =>
  a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

const maxErr = (got: Float32Array, want: Float64Array) => {
  expect(got.length).toBe(want.length);
  let m = 0;
  for (let i = 0; i < got.length; i++) m = Math.max(m, Math.abs(got[i] - want[i]));
  return m;
};

describe('large snapshots in a reused buffer', () => {
  it('back-to-back products over large inputs of falling size answer each their own, within 1e-6 of float64', async () => {
    const kit = await createCosineKit({ backend: 'reference' });
    const d = 301; // odd, not a multiple of 4
    const q = rows(3, d, 7);
    const tq = new Tensor(q, 3, d);
    const kept: [Float32Array, Float32Array][] = [];
    // 90,601 values (past the small pool), then smaller ones that fit the same buffer, then larger.
    for (const [n, seed] of [
      [301, 1],
      [251, 2],
      [229, 3],
      [300, 4],
      [700, 5],
    ] as const) {
      const x = rows(n, d, seed);
      const r = await kit.cosineMatrix(tq, new Tensor(x, n, d));
      expect(maxErr(r.data, cos64(q, x, d))).toBeLessThan(1e-6);
      // The rows as the first argument too (the first of a pair's two snapshots).
      const t = await kit.cosineMatrix(new Tensor(x, n, d), tq);
      expect(maxErr(t.data, cos64(x, q, d))).toBeLessThan(1e-6);
      kept.push([r.data, r.data.slice()]);
    }
    // No later call wrote into an answer the caller holds.
    for (const [held, copy] of kept) expect(same(held, copy)).toBe(true);
    kit.dispose();
  });

  it('normalize and rowNorms over large inputs: held answers stay as they were', async () => {
    const kit = await createCosineKit({ backend: 'reference' });
    const d = 257;
    const held: [Float32Array, Float32Array][] = [];
    for (const [n, seed] of [
      [400, 11],
      [300, 12],
      [390, 13],
    ] as const) {
      const x = rows(n, d, seed);
      const u = await kit.normalize(new Tensor(x, n, d));
      const norms = await kit.rowNorms(new Tensor(x, n, d));
      // The largest errors, asserted once: an expect per value took seconds (past the test
      // timeout on a busy machine).
      let normErr = 0;
      let unitErr = 0;
      for (let i = 0; i < n; i++) {
        let ss = 0;
        for (let k = 0; k < d; k++) ss += x[i * d + k] * x[i * d + k];
        normErr = Math.max(normErr, Math.abs(norms[i] - Math.sqrt(ss)) / Math.sqrt(ss));
        for (let k = 0; k < d; k++)
          unitErr = Math.max(unitErr, Math.abs(u.data[i * d + k] - x[i * d + k] / Math.sqrt(ss)));
      }
      expect(normErr).toBeLessThan(1e-6);
      expect(unitErr).toBeLessThan(1e-6);
      held.push([u.data, u.data.slice()], [norms, norms.slice()]);
    }
    for (const [h, copy] of held) expect(same(h, copy)).toBe(true);
    kit.dispose();
  });
});

describe('isAdmitted: the kit tells a backend which rows are its own copies', () => {
  it('a kernel called by the kit sees admitted rows; the caller’s arrays and the kernel table’s inputs are not', async () => {
    const seen: [string, boolean][] = [];
    const note =
      (name: string) =>
      (...args: unknown[]) => {
        for (const a of args) {
          const data = (a as { data?: unknown } | null)?.data;
          if (data instanceof Float32Array) seen.push([name, isAdmitted(data)]);
        }
      };
    const cosineMatrix = referenceKernels.cosineMatrix;
    const backend: Backend = {
      name: 'admitted-probe',
      kernels: {
        cosineMatrix: (a, b, out) => {
          note('cosineMatrix')(a, b);
          return cosineMatrix(a, b, out);
        },
      },
    };
    const kit = createCosineKit({ backend });
    const q = new Tensor(rows(3, 5, 1), 3, 5);
    const x = new Tensor(rows(4, 5, 2), 4, 5);
    await kit.cosineMatrix(q, x);
    await kit.cosineMatrix([[1, 2, 3]], [[3, 2, 1]]);
    expect(seen).toEqual([
      ['cosineMatrix', true],
      ['cosineMatrix', true],
      ['cosineMatrix', true],
      ['cosineMatrix', true],
    ]);
    expect(isAdmitted(q.data)).toBe(false);
    seen.length = 0;
    const k = await kit.kernels();
    await k.cosineMatrix({ data: q.data, rows: 3, cols: 5 }, { data: x.data, rows: 4, cols: 5 });
    expect(seen).toEqual([
      ['cosineMatrix', false],
      ['cosineMatrix', false],
    ]);
    kit.dispose();
  });
});
