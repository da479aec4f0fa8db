import { describe, expect, it } from 'vitest';
import { initTfjsEngine } from '../src/index.js';
import { RunningTopK } from '../src/running-top-k.js';
import { ENGINES } from './helpers.js';

describe('RunningTopK: merging per-tile candidates', () => {
  it('keeps the best k across tiles, ties to the lower index, whatever order a tile lists them in', () => {
    const sel = new RunningTopK(2, 4);
    // Tile 0 (rows 0-4), already in order for query 0, scrambled for query 1.
    sel.merge(0, Float32Array.from([0.9, 0.5, 0.5, 0.1]), Int32Array.from([3, 0, 2, 4]), 0, 4, 0);
    sel.merge(1, Float32Array.from([0.5, 0.9, 0.1, 0.5]), Int32Array.from([2, 3, 4, 0]), 0, 4, 0);
    // Tile 1 (rows 5-9): equal scores lose to kept ones, which have lower indices.
    for (const q of [0, 1])
      sel.merge(q, Float32Array.from([0.5, 0.7, 0.5]), Int32Array.from([1, 4, 0]), 0, 3, 5);
    const r = sel.result();
    expect(Array.from(r.indices)).toEqual([3, 9, 0, 2, 3, 9, 0, 2]);
    expect(Array.from(r.scores)).toEqual(
      Array.from(Float32Array.from([0.9, 0.7, 0.5, 0.5, 0.9, 0.7, 0.5, 0.5])),
    );
  });

  it('fills up when a tile offers fewer than k, and clamps scores to [-1, 1]', () => {
    const sel = new RunningTopK(1, 3);
    sel.merge(0, Float32Array.from([1.0000001, -1.0000001]), Int32Array.from([1, 0]), 0, 2, 0);
    sel.merge(0, Float32Array.from([0]), Int32Array.from([0]), 0, 1, 2);
    const r = sel.result();
    expect(Array.from(r.indices)).toEqual([1, 2, 0]);
    expect(Array.from(r.scores)).toEqual([1, 0, -1]);
  });
});

describe.each(ENGINES)('tf.topk on %s', (engine) => {
  it('picks and orders equal values lowest index first (what the tiled search assumes)', async () => {
    const tf = await initTfjsEngine(engine);
    const row = new Float32Array(300).fill(0.25);
    row[299] = 0.5;
    row[150] = 0.5;
    const { values, indices } = tf.topk(tf.tensor2d(row, [1, 300]), 5);
    expect(Array.from(await indices.data())).toEqual([150, 299, 0, 1, 2]);
    expect(Array.from(await values.data())).toEqual([0.5, 0.5, 0.25, 0.25, 0.25]);
    tf.dispose([values, indices]);
  });
});
