import { describe, expect, it } from 'vitest';
import {
  type Batch,
  createRng,
  fixedPairSampler,
  inBatchSampler,
  type LabelledData,
  labelledSampler,
  pairSampler,
  randomShift,
  type Sampler,
  tripletSampler,
} from '../src/index.js';

const data: LabelledData = {
  x: Float32Array.from({ length: 10 * 3 }, (_, i) => i),
  rows: 10,
  cols: 3,
  labels: [0, 1, 0, 1, 0, 1, 0, 1, 2, 2],
};
const pairs = { a: data.x, b: data.x, rows: 10, cols: 3, targets: new Float64Array(10) };

const sizes = (s: Sampler) => Array.from(s.epoch(createRng(1)), (b: Batch) => b.rows);

describe('dropLast in every sampler', () => {
  const makers: [string, (o: { batchSize: number; dropLast?: boolean }) => Sampler][] = [
    ['inBatchSampler', (o) => inBatchSampler(data, o)],
    ['tripletSampler', (o) => tripletSampler(data, o)],
    ['pairSampler', (o) => pairSampler(data, o)],
    ['fixedPairSampler', (o) => fixedPairSampler(pairs, o)],
    ['labelledSampler', (o) => labelledSampler(data, o)],
  ];
  for (const [name, make] of makers) {
    it(name, () => {
      const keep = make({ batchSize: 4 });
      expect(sizes(keep)).toEqual([4, 4, 2]);
      expect(keep.batchesPerEpoch).toBe(3);
      const drop = make({ batchSize: 4, dropLast: true });
      expect(sizes(drop)).toEqual([4, 4]);
      expect(drop.batchesPerEpoch).toBe(2);
    });
  }
  it('in-batch sampling drops a last batch of one pair even without dropLast', () => {
    expect(sizes(inBatchSampler(data, { batchSize: 3 }))).toEqual([3, 3, 3]);
  });
  it('rejects a batch size of 0', () => {
    expect(() => labelledSampler(data, { batchSize: 0 })).toThrow(/'batchSize'.*'labelledSampler'/);
  });
});

describe('labelledSampler', () => {
  it('yields every row once per epoch with its label', () => {
    const seen: number[] = [];
    for (const b of labelledSampler(data, { batchSize: 3 }).epoch(createRng(2))) {
      expect(b.b).toHaveLength(0);
      for (let r = 0; r < b.rows; r++) {
        const row = b.a[r * 3] / 3;
        seen.push(row);
        expect(b.labels![r]).toBe(data.labels[row]);
      }
    }
    expect(seen.sort((p, q) => p - q)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});

describe('randomShift', () => {
  it('moves an image by whole pixels and fills the border with zeros', () => {
    // 3 x 4 image, 1 channel, pixel value = 1 + index.
    const img = Float32Array.from({ length: 12 }, (_, i) => 1 + i);
    const shift = randomShift({ width: 4, height: 3, max: 1 });
    const rng = createRng(5);
    let moved = 0;
    for (let t = 0; t < 20; t++) {
      const row = img.slice();
      shift(row, rng);
      // Every non-zero pixel keeps its neighbours' offsets: find the shift and check it all.
      const first = row.findIndex((v) => v !== 0);
      const src = row[first] - 1;
      const dy = Math.floor(first / 4) - Math.floor(src / 4);
      const dx = (first % 4) - (src % 4);
      expect(Math.abs(dy)).toBeLessThanOrEqual(1);
      expect(Math.abs(dx)).toBeLessThanOrEqual(1);
      for (let y = 0; y < 3; y++) {
        for (let x = 0; x < 4; x++) {
          const sy = y - dy;
          const sx = x - dx;
          const want = sy >= 0 && sy < 3 && sx >= 0 && sx < 4 ? img[sy * 4 + sx] : 0;
          expect(row[y * 4 + x]).toBe(want);
        }
      }
      if (dx !== 0 || dy !== 0) moved++;
    }
    expect(moved).toBeGreaterThan(0);
  });
  it('is applied to the copies in a batch, never to the data', () => {
    const img: LabelledData = {
      x: Float32Array.from({ length: 2 * 9 }, (_, i) => 1 + i),
      rows: 2,
      cols: 9,
      labels: [0, 1],
    };
    const keep = img.x.slice();
    const s = labelledSampler(img, { batchSize: 2, augment: randomShift({ width: 3, height: 3, max: 1 }) });
    const a = Array.from(s.epoch(createRng(3)))[0].a;
    expect(img.x).toEqual(keep);
    expect(Array.from(s.epoch(createRng(3)))[0].a).toEqual(a);
  });
  it('rejects bad sizes', () => {
    expect(() => randomShift({ width: 0, height: 3 })).toThrow(/'width'.*'randomShift'/);
    expect(() => randomShift({ width: 2, height: 2 })(new Float32Array(5), createRng(1))).toThrow(/'row'/);
  });
  it('refuses a shift that can move every pixel out, and keeps its default below the image (found by a probe)', () => {
    // max 1e9 blanked every row, and training ran on zeros.
    for (const [width, height, max] of [
      [28, 28, 1e9],
      [28, 28, 28],
      [10, 3, 3],
    ])
      expect(() => randomShift({ width, height, max }), `${width} x ${height}, ${max}`).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT', op: 'randomShift', arg: 'max' }),
      );
    expect(() => randomShift({ width: 10, height: 3, max: 2 })).not.toThrow();
    // The default, 2, is less on an image smaller than 3 x 3: never a row of zeros from a non-zero one.
    for (const [width, height] of [
      [1, 1],
      [2, 2],
      [2, 9],
    ]) {
      const shift = randomShift({ width, height });
      const rng = createRng(4);
      for (let t = 0; t < 50; t++) {
        const row = new Float32Array(width * height).fill(1);
        shift(row, rng);
        expect(
          row.some((v) => v === 1),
          `${width} x ${height}`,
        ).toBe(true);
      }
    }
  });
});

describe('reuse: the same arrays every batch, the same values as fresh ones', () => {
  const makers: [string, Sampler][] = [
    ['inBatchSampler', inBatchSampler(data, { batchSize: 3, dropLast: true })],
    ['tripletSampler', tripletSampler(data, { batchSize: 3, dropLast: true })],
    ['pairSampler', pairSampler(data, { batchSize: 3, dropLast: true })],
    ['fixedPairSampler', fixedPairSampler(pairs, { batchSize: 3, dropLast: true })],
    ['labelledSampler', labelledSampler(data, { batchSize: 3, dropLast: true })],
  ];
  const fields = ['a', 'b', 'targets', 'groups', 'negatives', 'negativeGroups', 'labels'] as const;
  // Each batch's values copied as it is drawn, and the arrays it came in.
  const draw = (s: Sampler, reuse: boolean) => {
    const values: Record<string, number[]>[] = [];
    const arrays: unknown[][] = [];
    for (const b of s.epoch(createRng(5), reuse)) {
      values.push(Object.fromEntries(fields.filter((f) => b[f]).map((f) => [f, Array.from(b[f]!)])));
      arrays.push(fields.map((f) => b[f]));
    }
    return { values, arrays };
  };
  for (const [name, sampler] of makers) {
    it(name, () => {
      const fresh = draw(sampler, false);
      const reused = draw(sampler, true);
      expect(reused.values).toEqual(fresh.values);
      expect(reused.values.length).toBe(3);
      for (const batch of reused.arrays.slice(1)) {
        batch.forEach((arr, f) => {
          if (arr && (arr as Float32Array).length > 0) expect(arr).toBe(reused.arrays[0][f]);
        });
      }
      fresh.arrays[1].forEach((arr, f) => {
        if (arr && (arr as Float32Array).length > 0) expect(arr).not.toBe(fresh.arrays[0][f]);
      });
    });
  }
});

describe("a batch's blocks lie back to back in one buffer", () => {
  const adjacent = (x: Float32Array, y: Float32Array) =>
    x.buffer === y.buffer && y.byteOffset === x.byteOffset + x.byteLength;
  const makers: [string, Sampler, boolean][] = [
    ['inBatchSampler', inBatchSampler(data, { batchSize: 4 }), false],
    ['tripletSampler', tripletSampler(data, { batchSize: 4 }), true],
    ['pairSampler', pairSampler(data, { batchSize: 4 }), false],
    ['fixedPairSampler', fixedPairSampler(pairs, { batchSize: 4 }), false],
  ];
  for (const [name, sampler, triplets] of makers) {
    it(`${name}, fresh and reused`, () => {
      for (const reuse of [false, true]) {
        let batches = 0;
        for (const b of sampler.epoch(createRng(9), reuse)) {
          batches++;
          expect(b.a.length).toBe(b.rows * b.cols);
          expect(adjacent(b.a, b.b)).toBe(true);
          if (triplets) expect(adjacent(b.b, b.negatives!)).toBe(true);
          else expect(b.negatives).toBeUndefined();
        }
        expect(batches).toBe(sampler.batchesPerEpoch);
      }
    });
  }
});

describe('negatives and positives on unbalanced labels', () => {
  /** `createRng(seed)` counting its integer draws. */
  const counting = (seed: number) => {
    const rng = createRng(seed);
    const n = { ints: 0 };
    return {
      n,
      rng: {
        ...rng,
        int: (k: number) => (n.ints++, rng.int(k)),
        next: () => rng.next(),
        normal: () => rng.normal(),
        shuffle: rng.shuffle.bind(rng),
      },
    };
  };
  const rows = 3000;
  const cols = 2;
  const x = Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i) + 2);
  // Every row of class 0 but one of class 1 and one of class 2.
  const labels = Array.from({ length: rows }, (_, i) => (i === 7 ? 1 : i === 11 ? 2 : 0));

  it('a negative is drawn in a bounded number of draws, uniformly among the other classes (rejection alone took rows^2 an epoch)', () => {
    for (const sampler of [
      tripletSampler({ x, rows, cols, labels }, { batchSize: 100 }),
      pairSampler({ x, rows, cols, labels }, { batchSize: 100, positiveFraction: 0 }),
    ]) {
      const { rng, n } = counting(5);
      const seen = new Map<number, number>();
      for (const batch of sampler.epoch(rng)) {
        const b = batch as { negatives?: Float32Array; b: Float32Array; rows: number };
        const rowsOf = b.negatives ?? b.b;
        for (let r = 0; r < b.rows; r++) {
          const v = rowsOf[r * cols];
          seen.set(v, (seen.get(v) ?? 0) + 1);
        }
      }
      // Roughly: the shuffle, one draw a positive or coin, and at most 8 + 1 a negative.
      expect(n.ints).toBeLessThan(12 * rows);
      // The anchors of class 0 got rows 7 and 11 alike; every anchor a row of another class.
      const a = seen.get(x[7 * cols]) ?? 0;
      const b = seen.get(x[11 * cols]) ?? 0;
      expect(a + b).toBeGreaterThan(rows - 10);
      expect(Math.abs(a - b)).toBeLessThan(0.1 * rows);
    }
  });

  it("pairSampler's positives are another row of the class, never the anchor itself when it has one", () => {
    const two = Array.from({ length: 400 }, (_, i) => Math.floor(i / 2));
    const xs = Float32Array.from({ length: 400 * cols }, (_, i) => i);
    const sampler = pairSampler(
      { x: xs, rows: 400, cols, labels: two },
      { batchSize: 50, positiveFraction: 1 },
    );
    let pairs = 0;
    for (const batch of sampler.epoch(createRng(3))) {
      const { a, b, rows: n } = batch as { a: Float32Array; b: Float32Array; rows: number };
      for (let r = 0; r < n; r++) {
        expect(b[r * cols]).not.toBe(a[r * cols]);
        pairs++;
      }
    }
    expect(pairs).toBe(400);
  });
});

describe('randomShift of a shape too large for a row', () => {
  it('is refused by name before its scratch row is allocated (a raw RangeError escaped)', () => {
    expect(() => randomShift({ width: 1e6, height: 1e6, channels: 1, max: 1 })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', op: 'randomShift', arg: 'width' }),
    );
  });
});
