import { describe, expect, it } from 'vitest';
import {
  type CorpusStorage,
  CosineKitError,
  createReferenceBackend,
  decodeCorpusFile,
  encodeCorpusFile,
  referenceKernels,
  type StoredCorpus,
} from '../src/backend.js';
import { crc32 } from '../src/crc32.js';
import { createCosineKit, Tensor } from '../src/index.js';
import { fromHalf, toHalf } from '../src/kernels/half.js';
import { MAX_ORDINAL } from '../src/stored.js';
import { V1_FILES } from './fixtures/corpus-v1.js';
import { rows } from './fixtures/data.js';

const kit = createCosineKit({ backend: createReferenceBackend() });

/** Each ordinal's score for each query: a search of every live row. */
async function scoresByOrdinal(
  c: Awaited<ReturnType<typeof kit.corpus>>,
  q: Tensor,
): Promise<Map<string, number>> {
  const r = await c.search(q, c.rows);
  const m = new Map<string, number>();
  for (let i = 0; i < q.rows; i++) {
    for (let t = 0; t < c.rows; t++) m.set(`${i}:${r.indices[i * c.rows + t]}`, r.scores[i * c.rows + t]);
  }
  return m;
}

describe('float16 conversion', () => {
  // Values and their IEEE 754 binary16 encodings (round to nearest, ties to even).
  const table: [number, number][] = [
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3c00],
    [-2, 0xc000],
    [1 + 2 ** -11, 0x3c00], // tie between 0x3c00 and 0x3c01: even
    [1 + 3 * 2 ** -11, 0x3c02], // tie between 0x3c01 and 0x3c02: even
    [1 + 2 ** -11 + 2 ** -30, 0x3c01], // just past the tie
    [2049, 0x6800], // tie between 2048 and 2050: even
    [2051, 0x6802], // tie between 2050 and 2052: even (0x6802)
    [65504, 0x7bff],
    [65519.99, 0x7bff],
    [65520, 0x7c00], // tie between 65504 and 2^16: even, which overflows to infinity
    [2 ** -14, 0x0400],
    [2 ** -14 - 2 ** -25, 0x0400], // tie between 0x03ff and 0x0400: even
    [2 ** -24, 0x0001],
    [2 ** -25, 0x0000], // tie between 0 and the smallest subnormal: even
    [2 ** -25 + 2 ** -40, 0x0001],
    [3 * 2 ** -25, 0x0002], // tie between 1 and 2 ulps: even
    [-(5 * 2 ** -25), 0x8002], // tie between 2 and 3 ulps: even
    [0.1, 0x2e66],
    [1 / 3, 0x3555],
    [Number.POSITIVE_INFINITY, 0x7c00],
    [Number.NEGATIVE_INFINITY, 0xfc00],
  ];
  it.each(table)('toHalf(%d) is %i', (v, bits) => {
    expect(toHalf(v)).toBe(bits);
  });

  it('matches the nearest binary16 value (ties to the even encoding) over a sweep', {
    timeout: 60_000,
  }, () => {
    // Every finite non-negative half, by its own definition (independent of fromHalf).
    const values: number[] = [];
    for (let h = 0; h < 0x7c00; h++) {
      const e = h >> 10;
      const m = h & 0x3ff;
      values.push(e === 0 ? m * 2 ** -24 : (1 + m / 1024) * 2 ** (e - 15));
    }
    const nearest = (a: number): number => {
      let lo = 0;
      let hi = values.length - 1;
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if (values[mid] <= a) lo = mid;
        else hi = mid;
      }
      const dl = a - values[lo];
      const dh = values[hi] - a;
      if (dl < dh) return lo;
      if (dh < dl) return hi;
      return lo % 2 === 0 ? lo : hi;
    };
    let s = 99;
    for (let t = 0; t < 4000; t++) {
      s = (s * 48271) % 2147483647;
      const h = s % 0x7bff;
      // Exactly on a tie, a little either side of it, and anywhere between neighbours.
      const mid = (values[h] + values[h + 1]) / 2;
      const frac = (s % 1000) / 1000;
      for (const a of [
        mid,
        mid * (1 + 2 ** -40),
        mid * (1 - 2 ** -40),
        values[h] + frac * (values[h + 1] - values[h]),
      ]) {
        expect(toHalf(a)).toBe(nearest(a));
        expect(toHalf(-a)).toBe(0x8000 | nearest(a));
      }
    }
    for (let h = 0; h < 0x7c00; h++) expect(fromHalf(h)).toBe(values[h]);
  });
});

/** Rows whose small components sit just under half a quantisation step: int8 rounds them all to 0. */
function adversarial(d: number): { row: Float32Array; query: Float32Array } {
  const row = new Float32Array(d);
  row[0] = 1;
  // s = max / 127 = 1 / 127 before normalising; half a step is 1/254. Normalising scales every
  // component alike, so the ratio to the step is kept.
  for (let j = 1; j < d; j++) row[j] = (1 / 254) * (1 - 2 ** -12);
  const query = new Float32Array(d);
  for (let j = 1; j < d; j++) query[j] = 1;
  return { row, query };
}

/** The stated int8 bound for a row against a float query: sqrt(d) * max|x_j| / 254 of the unit row. */
function int8Bound(row: Float32Array): number {
  let ss = 0;
  let m = 0;
  for (const v of row) {
    ss += v * v;
    m = Math.max(m, Math.abs(v));
  }
  return (Math.sqrt(row.length) * (m / Math.sqrt(ss))) / 254;
}

function cos64(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    d += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return d / Math.sqrt(na * nb);
}

describe('int8 error bound', () => {
  it.each([5, 17, 384])('rows built to hit the bound hit it and stay within it (d = %i)', async (d) => {
    const { row, query } = adversarial(d);
    const c = await kit.corpus([row, rows(1, d, 3).data], { storage: 'int8', rerank: 0 });
    const got = (await c.similarity(query)).data[0];
    const exact = cos64(query, row);
    const bound = int8Bound(row);
    const err = Math.abs(got - exact);
    expect(err).toBeLessThanOrEqual(bound + 1e-6);
    // sqrt(d - 1) of the d components are off by just under half a step: the bound is reached.
    expect(err).toBeGreaterThanOrEqual(0.95 * Math.sqrt((d - 1) / d) * bound);
    // With re-ranking the score is exact again.
    const r = await kit.corpus([row, rows(1, d, 3).data], { storage: 'int8', rerank: 2 });
    const hit = await r.search(query, 2);
    const want = await kit.cosineRows(query, row);
    expect(hit.scores[Array.from(hit.indices).indexOf(0)]).toBe(want[0]);
    c.dispose();
    r.dispose();
  });

  it('random rows stay within the bound', async () => {
    const d = 96;
    const x = rows(300, d, 4);
    const q = rows(5, d, 5);
    const c = await kit.corpus(x, { storage: 'int8', rerank: 0 });
    const m = await c.similarity(q);
    for (let i = 0; i < 5; i++) {
      for (let j = 0; j < 300; j++) {
        const err = Math.abs(m.data[i * 300 + j] - cos64(q.row(i), x.row(j)));
        expect(err).toBeLessThanOrEqual(int8Bound(x.row(j)) + 1e-6);
      }
    }
    c.dispose();
  });
});

describe('float16 error bound', () => {
  it('scores stay within 2^-11 + sqrt(d) * 2^-25 of the exact cosine, small components included', async () => {
    const d = 64;
    const x = rows(200, d, 6);
    // Components below 2^-14 once normalised: stored as binary16 subnormals.
    for (let r = 0; r < 200; r += 3) for (let j = 1; j < d; j += 2) x.data[r * d + j] *= 1e-5;
    const q = rows(4, d, 7);
    const c = await kit.corpus(x, { storage: 'float16' });
    const m = await c.similarity(q);
    const bound = 2 ** -11 + Math.sqrt(d) * 2 ** -25 + 1e-7;
    let worst = 0;
    for (let i = 0; i < 4; i++) {
      for (let j = 0; j < 200; j++)
        worst = Math.max(worst, Math.abs(m.data[i * 200 + j] - cos64(q.row(i), x.row(j))));
    }
    expect(worst).toBeLessThanOrEqual(bound);
    expect(worst).toBeGreaterThan(0);
    c.dispose();
  });
});

const STORAGES: [CorpusStorage, number][] = [
  ['float32', 0],
  ['float16', 0],
  ['float16', 3],
  ['int8', 0],
  ['int8', 3],
];

describe('quantised corpora lose nothing', () => {
  it.each(STORAGES)(
    '%s (rerank %i): compaction, merges and save/load keep every score bit for bit',
    async (storage, rerank) => {
      const ref = createReferenceBackend();
      const k2 = createCosineKit({ backend: ref });
      const base = ref.memory!().residentHandles;
      const d = 19;
      const q = rows(3, d, 40);
      const c = await k2.corpus(rows(40, d, 41), {
        storage,
        rerank,
        ids: Array.from({ length: 40 }, (_, i) => `r${i}`),
      });
      // Nine more segments: the adds merge the small ones.
      for (let s = 0; s < 9; s++) {
        await c.add(
          rows(4, d, 50 + s),
          Array.from({ length: 4 }, (_, i) => `s${s}-${i}`),
        );
      }
      expect(ref.memory!().residentHandles - base).toBeLessThanOrEqual(8);
      const merged = await scoresByOrdinal(c, q);
      // Each segment's rows alone, never merged: the scores the rows had (a row's stored form does not
      // depend on the other rows).
      const before = new Map<string, number>();
      const parts = [rows(40, d, 41), ...Array.from({ length: 9 }, (_, s) => rows(4, d, 50 + s))];
      let offset = 0;
      for (const part of parts) {
        const alone = await k2.corpus(part, { storage, rerank });
        for (const [key, v] of await scoresByOrdinal(alone, q)) {
          const [i, j] = key.split(':').map(Number);
          before.set(`${i}:${offset + j}`, v);
        }
        offset += part.rows;
        alone.dispose();
      }
      expect(before.size).toBe(merged.size);
      for (const [key, v] of before) expect(merged.get(key), key).toBe(v);
      // Remove most of the rows: the segment is compacted.
      const gone = Array.from({ length: 30 }, (_, i) => `r${i}`);
      await c.remove(gone);
      const compacted = await scoresByOrdinal(c, q);
      for (const [key, v] of compacted) expect(v, key).toBe(merged.get(key));
      // Save and load.
      const bytes = await c.save();
      const file = decodeCorpusFile(bytes);
      expect(file.version).toBe(2);
      expect([file.storage, file.rerank]).toEqual([storage, storage === 'float32' ? 0 : rerank]);
      expect(file.codes !== null).toBe(storage === 'int8');
      expect(file.half !== null).toBe(storage === 'float16');
      expect(file.exact !== null).toBe(storage === 'float32' || rerank > 0);
      const back = await k2.loadCorpus(bytes);
      expect(back.storage).toBe(storage);
      const loaded = await scoresByOrdinal(back, q);
      expect(loaded.size).toBe(compacted.size);
      for (const [key, v] of compacted) expect(loaded.get(key), key).toBe(v);
      const r1 = await c.search(q, 5);
      const r2 = await back.search(q, 5);
      expect(r2.ids).toEqual(r1.ids);
      expect(Array.from(r2.indices)).toEqual(Array.from(r1.indices));
      expect(Array.from(r2.scores)).toEqual(Array.from(r1.scores));
      expect(await back.save()).toEqual(bytes);
      for (const x of [c, back]) x.dispose();
      k2.dispose();
      expect(ref.memory!().residentHandles).toBe(base);
    },
  );

  it('re-ranked int8 scores stay exact after a compaction and after save/load', async () => {
    const d = 32;
    const x = rows(100, d, 70);
    const q = rows(4, d, 71);
    const c = await kit.corpus(x, { storage: 'int8', rerank: 4 });
    await c.remove(Array.from({ length: 60 }, (_, i) => i));
    const back = await kit.loadCorpus(await c.save());
    for (const corpus of [c, back]) {
      const r = await corpus.search(q, 5);
      for (let t = 0; t < r.scores.length; t++) {
        const want = cos64(q.row(Math.floor(t / 5)), x.row(r.indices[t]));
        expect(Math.abs(r.scores[t] - want)).toBeLessThan(2e-7);
      }
    }
    c.dispose();
    back.dispose();
  });
});

/** Re-encodes `bytes` with a new header text, keeping the payload and fixing the CRC. */
function withHeader(bytes: Uint8Array, edit: (h: Record<string, unknown>) => void): Uint8Array {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const h = v.getUint32(12, true);
  const json = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + h)));
  edit(json);
  let head = new TextEncoder().encode(JSON.stringify(json));
  const hp = new Uint8Array(Math.ceil(head.length / 4) * 4).fill(0x20);
  hp.set(head);
  head = hp;
  const rest = bytes.subarray(16 + h, bytes.length - 4);
  const out = new Uint8Array(16 + head.length + rest.length + 4);
  out.set(bytes.subarray(0, 16));
  new DataView(out.buffer).setUint32(12, head.length, true);
  out.set(head, 16);
  out.set(rest, 16 + head.length);
  return reseal(out);
}

function reseal(out: Uint8Array): Uint8Array {
  new DataView(out.buffer, out.byteOffset).setUint32(
    out.length - 4,
    crc32(out.subarray(0, out.length - 4)),
    true,
  );
  return out;
}

/** The byte offset of the first section after the ordinals. */
function payload(bytes: Uint8Array, rows: number): number {
  return 16 + new DataView(bytes.buffer, bytes.byteOffset).getUint32(12, true) + 4 * rows;
}

async function corruptWith(bytes: Uint8Array, why: RegExp | string): Promise<void> {
  const err = await kit.loadCorpus(bytes).then(
    (c) => {
      c.dispose();
      return null;
    },
    (e) => e,
  );
  expect(err, `accepted a file that should fail with ${why}`).toBeInstanceOf(CosineKitError);
  expect(err).toMatchObject({ code: 'CORRUPT_DATA', op: 'loadCorpus', arg: 'bytes' });
  expect(err.message).toMatch(why);
}

describe('corpus files are untrusted input', () => {
  it('checks every header field against its range and the others', async () => {
    const c = await kit.corpus(rows(3, 4, 80), { ids: ['a', 'b', 'c'] });
    await c.remove(['b']);
    const good = await c.save();
    c.dispose();
    const bad: [(h: Record<string, unknown>) => void, RegExp][] = [
      [(h) => (h.rows = 0), /rows 0/],
      [(h) => (h.rows = -2), /rows -2/],
      [(h) => (h.rows = 1.5), /rows 1.5/],
      [(h) => (h.rows = '2'), /rows "2"/],
      [(h) => (h.rows = 2 ** 31), /rows 2147483648/],
      [(h) => (h.cols = 0), /cols 0/],
      [(h) => (h.cols = 2 ** 31), /cols/],
      [(h) => (h.cols = null), /cols null/],
      [(h) => (h.storage = 'int4'), /unknown storage "int4"/],
      [(h) => (h.rerank = -1), /rerank -1/],
      [(h) => (h.rerank = 0.5), /rerank 0.5/],
      [(h) => (h.rerank = 3), /rerank 3 for float32/],
      [(h) => (h.next = 1), /next 1/], // fewer than the rows
      [(h) => (h.next = 2), /ordinals/], // the last ordinal is 2: not below next
      [(h) => (h.next = 2 ** 31), /next 2147483648/],
      [(h) => (h.next = 2 ** 53), /next/],
      [(h) => (h.ids = ['a']), /ids/],
      [(h) => (h.ids = ['a', 'a']), /repeat/],
      [(h) => (h.ids = ['a', {}]), /ids/],
      [(h) => (h.ids = 'ac'), /ids/],
      [(h) => Object.assign(h, { rows: 3, ids: ['a', 'c', 'x'] }), /bytes; its header describes/],
      [(h) => (h.cols = 5), /bytes; its header describes/],
    ];
    for (const [edit, why] of bad) await corruptWith(withHeader(good, edit), why);
    const ok = await kit.loadCorpus(
      withHeader(good, (h) => {
        h.next = MAX_ORDINAL + 1;
      }),
    );
    expect(ok.rows).toBe(2);
    ok.dispose();
  });

  it('a non-finite value anywhere in a row is named by its row; finite rows off unit length are normalised', async () => {
    // Rows of 7: values in the four-wide part of the unit-length pass and in its tail.
    const c = await kit.corpus(rows(5, 7, 86));
    const good = await c.save();
    c.dispose();
    for (const [row, col] of [
      [0, 0],
      [2, 3],
      [2, 4],
      [4, 6],
    ])
      for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
        const b = good.slice();
        new DataView(b.buffer).setFloat32(payload(b, 5) + 4 * (row * 7 + col), bad, true);
        await corruptWith(reseal(b), `holds a non-finite value at row ${row}.`);
      }
    // A crafted row scaled by 1e30: loaded as its direction, as corpus() would take it.
    const b = good.slice();
    const v = new DataView(b.buffer);
    for (let j = 0; j < 7; j++)
      v.setFloat32(payload(b, 5) + 4 * (7 + j), v.getFloat32(payload(b, 5) + 4 * (7 + j), true) * 1e30, true);
    const back = await kit.loadCorpus(reseal(b));
    const want = await kit.corpus(rows(5, 7, 86));
    const q = rows(1, 7, 87);
    expect((await back.similarity(q)).data).toEqual((await want.similarity(q)).data);
    back.dispose();
    want.dispose();
  });

  it('checks the ordinals: ascending, non-negative, below next', async () => {
    const c = await kit.corpus(rows(3, 4, 81));
    const good = await c.save();
    c.dispose();
    for (const ords of [
      [0, 2, 1],
      [0, 1, 1],
      [-1, 0, 1],
      [0, 1, 3],
    ]) {
      const b = good.slice();
      const v = new DataView(b.buffer);
      for (let i = 0; i < ords.length; i++) v.setInt32(payload(b, 0) + 4 * i, ords[i], true);
      await corruptWith(reseal(b), /ordinals/);
    }
  });

  it('a file numbered up to the largest ordinal loads, adds up to it, then refuses with a typed error', async () => {
    const c = await kit.corpus(rows(2, 4, 82), { ids: ['a', 'b'] });
    const top = MAX_ORDINAL + 1;
    let b = withHeader(await c.save(), (h) => {
      h.next = top - 2;
    });
    c.dispose();
    const v = new DataView(b.buffer);
    v.setInt32(payload(b, 0), top - 4, true);
    v.setInt32(payload(b, 0) + 4, top - 3, true);
    b = reseal(b);
    const back = await kit.loadCorpus(b);
    await back.add(rows(2, 4, 83), ['c', 'd']);
    const all = await back.search(rows(1, 4, 84), 4);
    expect([...all.indices].sort((x, y) => x - y)).toEqual([top - 4, top - 3, top - 2, top - 1]);
    expect(Math.max(...all.indices)).toBe(MAX_ORDINAL);
    await expect(back.add(rows(1, 4, 85), ['e'])).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      op: 'add',
      arg: 'rows',
    });
    expect(await back.remove(['a'])).toBe(1);
    expect(back.rows).toBe(3);
    back.dispose();
  });

  it('refuses quantised rows the quantiser cannot make', async () => {
    const i8 = await kit.corpus(rows(2, 6, 86), { storage: 'int8', rerank: 0 });
    const good = await i8.save();
    i8.dispose();
    const codes = payload(good, 2);
    const scales = codes + 12; // 12 codes, already a multiple of 4
    const edit = (f: (v: DataView) => void) => {
      const b = good.slice();
      f(new DataView(b.buffer));
      return reseal(b);
    };
    const m = (v: DataView, row: number) => {
      let at = 0;
      for (let j = 0; j < 6; j++) if (Math.abs(v.getInt8(codes + 6 * row + j)) === 127) at = j;
      return codes + 6 * row + at;
    };
    await corruptWith(
      edit((v) => v.setInt8(m(v, 0), -128)),
      /-128/,
    );
    await corruptWith(
      edit((v) => v.setInt8(m(v, 0), 100)),
      /largest code/,
    );
    await corruptWith(
      edit((v) => v.setFloat32(scales, Number.NaN, true)),
      /scale NaN/,
    );
    await corruptWith(
      edit((v) => v.setFloat32(scales, -v.getFloat32(scales, true), true)),
      /scale -/,
    );
    await corruptWith(
      edit((v) => v.setFloat32(scales, 1e-40, true)),
      /not unit length/,
    );
    await corruptWith(
      edit((v) => v.setFloat32(scales + 4, 3e38, true)),
      /not unit length/,
    );
    await corruptWith(
      withHeader(good, (h) => {
        h.rerank = 2;
      }),
      /header describes/,
    );
    const f16 = await kit.corpus(rows(2, 6, 87), { storage: 'float16' });
    const half = await f16.save();
    f16.dispose();
    const at = payload(half, 2);
    const hedit = (bits: number) => {
      const b = half.slice();
      new DataView(b.buffer).setUint16(at, bits, true);
      return reseal(b);
    };
    await corruptWith(hedit(0x7c00), /non-finite float16/);
    await corruptWith(hedit(0x7e00), /non-finite float16/);
    await corruptWith(hedit(0x7bff), /not unit length/);
  });

  it('refuses re-ranked rows whose quantised copy disagrees with the float32 copy (was: loaded, candidates picked by one row and scored by another)', async () => {
    const n = 3;
    const d = 37;
    for (const storage of ['int8', 'float16'] as const) {
      const c = await kit.corpus(rows(n, d, 91), { storage, rerank: 2 });
      const good = await c.save();
      c.dispose();
      // Files of both stores load as they are.
      (await kit.loadCorpus(good)).dispose();
      // Two stored values of row 1 swapped: its norm, largest code and every range check still
      // hold; only the agreement with the float32 row (section `exact`, right after the ordinals) fails.
      const at = payload(good, n) + 4 * n * d;
      const b = good.slice();
      const v = new DataView(b.buffer);
      if (storage === 'int8') {
        let j = 0;
        while (v.getInt8(at + d + j) === v.getInt8(at + d + j + 1)) j++;
        const t = v.getInt8(at + d + j);
        v.setInt8(at + d + j, v.getInt8(at + d + j + 1));
        v.setInt8(at + d + j + 1, t);
      } else {
        let j = 0;
        while (v.getUint16(at + 2 * (d + j), true) === v.getUint16(at + 2 * (d + j + 1), true)) j++;
        const t = v.getUint16(at + 2 * (d + j), true);
        v.setUint16(at + 2 * (d + j), v.getUint16(at + 2 * (d + j + 1), true), true);
        v.setUint16(at + 2 * (d + j + 1), t, true);
      }
      await corruptWith(
        reseal(b),
        new RegExp(`${storage === 'int8' ? 'int8 codes' : 'float16 values'} for row 1 that disagree`),
      );
    }
  });

  it('re-ranked files of many shapes, tiny and huge components included, load (no false disagreement)', async () => {
    for (const [n, d, seed] of [
      [1, 1, 1],
      [4, 3, 2],
      [9, 129, 3],
      [5, 1000, 4],
    ]) {
      const x = rows(n, d, seed);
      // Components across the float32 range within a row: 1e-30 next to 1, and a huge row.
      x.data[0] = 1e-30;
      if (n > 1) for (let j = 0; j < d; j++) x.data[d + j] = (j % 3) * 1e30;
      for (const storage of ['int8', 'float16'] as const) {
        const c = await kit.corpus(x, { storage, rerank: 3 });
        const back = await kit.loadCorpus(await c.save());
        expect(back.rows, `${storage} ${n}x${d}`).toBe(n);
        back.dispose();
        c.dispose();
      }
    }
  });

  it('file rows of extreme magnitude search as corpus() of the same rows does', async () => {
    const d = 6;
    const tiny = Float32Array.from({ length: d }, (_, j) => (j + 1) * 1e-45);
    const huge = Float32Array.from({ length: d }, (_, j) => (j % 2 ? -1e30 : 2e30));
    const plain = rows(1, d, 88).data;
    const data = new Float32Array([...tiny, ...huge, ...plain]);
    const file = {
      rows: 3,
      cols: d,
      storage: 'float32' as const,
      rerank: 0,
      next: 3,
      ids: null,
      ordinals: Int32Array.from([0, 1, 2]),
      exact: data,
      half: null,
      codes: null,
      scales: null,
    };
    const loaded = await kit.loadCorpus(encodeCorpusFile(file));
    const direct = await kit.corpus(new Tensor(data, 3, d));
    const q = rows(4, d, 89);
    const [a, b] = [await loaded.search(q, 3), await direct.search(q, 3)];
    expect(Array.from(a.indices)).toEqual(Array.from(b.indices));
    expect(Array.from(a.scores)).toEqual(Array.from(b.scores));
    expect(a.scores.every(Number.isFinite)).toBe(true);
    const nan = data.slice();
    nan[3] = Number.NaN;
    await corruptWith(encodeCorpusFile({ ...file, exact: nan }, { verify: false }), /non-finite/);
    // Verified (the default), the encoder refuses it itself, with the decoder's reason.
    expect(() => encodeCorpusFile({ ...file, exact: nan })).toThrow(
      expect.objectContaining({
        code: 'INVALID_ARGUMENT',
        op: 'encodeCorpusFile',
        arg: 'file',
        message: expect.stringMatching(/cannot be read back: .*non-finite/),
      }),
    );
    loaded.dispose();
    direct.dispose();
  });
});

describe('version 1 files', () => {
  const bytesOf = (b64: string) => new Uint8Array(Buffer.from(b64, 'base64'));

  it('still load, with their ids, ordinals and next', async () => {
    const file = decodeCorpusFile(bytesOf(V1_FILES.float32));
    expect(file.version).toBe(1);
    expect(file.ids).toEqual(['a', 'c', 'd', 'e', 'f', 'g', 'h']);
    expect(Array.from(file.ordinals)).toEqual([0, 2, 3, 4, 5, 6, 7]);
    const c = await kit.loadCorpus(bytesOf(V1_FILES.float32));
    const direct = await kit.corpus(new Tensor(file.exact!, file.rows, file.cols));
    const q = rows(2, 5, 90);
    const [a, b] = [await c.search(q, 3), await direct.search(q, 3)];
    expect(Array.from(a.scores)).toEqual(Array.from(b.scores));
    expect(Array.from(a.indices)).toEqual(Array.from(b.indices, (j) => file.ordinals[j]));
    expect(a.ids).toEqual(Array.from(a.indices, (o) => file.ids![Array.from(file.ordinals).indexOf(o)]));
    await c.add(rows(1, 5, 91), ['i']);
    expect((await c.search(rows(1, 5, 91), 1)).ids).toEqual(['i']);
    expect(decodeCorpusFile(await c.save()).next).toBe(9);
    c.dispose();
    direct.dispose();
  });

  it.each([
    ['int8rerank', 'int8', 2],
    ['float16', 'float16', 0],
  ] as const)('%s loads with its storage, re-quantising its rows once', async (name, storage, rerank) => {
    const c = await kit.loadCorpus(bytesOf(V1_FILES[name]));
    expect(c.storage).toBe(storage);
    const again = decodeCorpusFile(await c.save());
    expect([again.version, again.storage, again.rerank]).toEqual([2, storage, rerank]);
    c.dispose();
  });
});

describe('a backend that exports a broken stored form', () => {
  it('is refused with BACKEND_ERROR naming exportCorpus, and the corpus stays usable', async () => {
    const broken = {
      name: 'broken-export',
      kernels: {
        ...referenceKernels,
        exportCorpus: (h: never) => {
          const s = referenceKernels.exportCorpus!(h) as StoredCorpus;
          return { ...s, codes: s.codes!.subarray(1) };
        },
      },
    };
    const k2 = createCosineKit({ backend: broken });
    const c = await k2.corpus(rows(4, 6, 95), { storage: 'int8' });
    await expect(c.save()).rejects.toMatchObject({
      code: 'BACKEND_ERROR',
      op: 'save',
      kernel: 'exportCorpus',
    });
    expect((await c.search(rows(1, 6, 96), 2)).indices.length).toBe(2);
    c.dispose();
  });
});
