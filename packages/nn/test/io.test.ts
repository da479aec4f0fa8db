import { isCosineKitError } from '@cosinekit/core';
import { referenceKernels } from '@cosinekit/core/backend';
import { describe, expect, it } from 'vitest';
import {
  createEncoder,
  ENCODER_FORMAT_VERSION,
  loadEncoder,
  readEncoderHeader,
  saveEncoder,
} from '../src/index.js';

const enc = createEncoder({
  inputs: 5,
  layers: [{ units: 4, activation: 'gelu' }, { units: 3, activation: 'tanh', bias: false }, { units: 2 }],
  normalize: true,
  seed: 8,
});
enc.layers[0].bias.set([0.1, -0.2, 0.3, 0.4]);

function expectCorrupt(bytes: Uint8Array, message: RegExp): void {
  try {
    loadEncoder(bytes);
  } catch (e) {
    expect(isCosineKitError(e, 'CORRUPT_DATA')).toBe(true);
    expect((e as Error).message).toMatch(message);
    return;
  }
  throw new Error('loadEncoder accepted corrupt data');
}

describe('save and load', () => {
  it('round-trips shapes, activations, the normalize flag and every weight', async () => {
    const bytes = saveEncoder(enc, { note: 'test' });
    expect(String.fromCharCode(...bytes.subarray(0, 4))).toBe('CKNN');
    const view = new DataView(bytes.buffer);
    expect(view.getUint32(4, true)).toBe(ENCODER_FORMAT_VERSION);
    expect((12 + view.getUint32(8, true)) % 4).toBe(0);
    const back = loadEncoder(bytes);
    expect(back.normalize).toBe(true);
    expect(back.layers.map((l) => [l.inputs, l.units, l.activation, l.hasBias])).toEqual([
      [5, 4, 'gelu', true],
      [4, 3, 'tanh', false],
      [3, 2, 'linear', true],
    ]);
    for (const [i, p] of back.parameters().entries()) expect(p).toEqual(enc.parameters()[i]);
    expect(readEncoderHeader(bytes).meta).toEqual({ note: 'test' });
    const x = [[1, 2, 3, 4, 5]];
    expect((await back.embed(referenceKernels, x)).data).toEqual((await enc.embed(referenceKernels, x)).data);
  });

  it('reads from a Buffer-like view at an offset', () => {
    const bytes = saveEncoder(enc);
    const padded = new Uint8Array(bytes.length + 3);
    padded.set(bytes, 3);
    expect(loadEncoder(padded.subarray(3)).parameters()[0]).toEqual(enc.parameters()[0]);
  });

  it('rejects bad magic, other versions, truncation, wrong shapes and junk with CORRUPT_DATA', () => {
    const good = saveEncoder(enc);
    const bad = (edit: (b: Uint8Array) => void) => {
      const b = good.slice();
      edit(b);
      return b;
    };
    expectCorrupt(
      bad((b) => (b[0] = 0x58)),
      /does not start with 'CKNN'/,
    );
    expectCorrupt(
      bad((b) => new DataView(b.buffer).setUint32(4, 2, true)),
      /format version 2; this library reads version 1/,
    );
    expectCorrupt(good.subarray(0, 8), /too short/);
    expectCorrupt(good.subarray(0, good.length - 4), /truncated/);
    expectCorrupt(good.subarray(0, 20), /truncated: its header/);
    const extra = new Uint8Array(good.length + 4);
    extra.set(good);
    expectCorrupt(extra, /trailing bytes/);
    expectCorrupt(
      bad((b) => new DataView(b.buffer).setUint32(8, 3, true)),
      /unreadable header/,
    );
    // Edits inside the JSON header (same length, so the layout stays intact).
    const edit = (from: string, to: string) => {
      const b = good.slice();
      const length = new DataView(b.buffer).getUint32(8, true);
      const header = new TextDecoder().decode(b.subarray(12, 12 + length));
      expect(header).toContain(from);
      b.set(new TextEncoder().encode(header.replace(from, to)), 12);
      return b;
    };
    // The first layer claims 6 inputs instead of 5: the declared count no longer matches.
    expectCorrupt(edit('"inputs":5', '"inputs":6'), /declares \d+ parameters but its layers hold/);
    expectCorrupt(edit('"inputs":4', '"inputs":9'), /layer 1 taking 9 inputs/);
    expectCorrupt(edit('"gelu"', '"selu"'), /unknown activation/);
    expectCorrupt(edit('cosinekit-nn', 'cosinekit-xx'), /not a 'cosinekit-nn' header/);
    const nan = good.slice();
    new DataView(nan.buffer).setFloat32(nan.length - 4, Number.NaN, true);
    expectCorrupt(nan, /NaN/);
  });
});
