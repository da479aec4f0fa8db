import { isCosineKitError } from '@cosinekit/core';
import { crc32, referenceKernels } from '@cosinekit/core/backend';
import { describe, expect, it } from 'vitest';
import {
  createEncoder,
  ENCODER_FORMAT_VERSION,
  loadEncoder,
  MAX_SAVED_LAYERS,
  MAX_SAVED_WEIGHT,
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

  it("refuses a meta JSON would not keep as it is, naming the value's path (a Map came back as {})", () => {
    const enc = createEncoder({ inputs: 2, layers: [{ units: 2 }], seed: 1 });
    for (const [meta, path] of [
      [{ acc: Number.NaN }, 'meta.acc is NaN'],
      [{ runs: [1, Number.POSITIVE_INFINITY] }, 'meta.runs\\[1\\] is Infinity'],
      [{ labels: new Map([[1, 'a']]) }, 'meta.labels is a Map'],
      [new Map(), 'meta is a Map'],
      [{ deep: { set: new Set([1]) } }, 'meta.deep.set is a Set'],
      [{ w: Float32Array.of(1) }, 'meta.w is a Float32Array'],
      [{ f: () => 1 }, 'meta.f is a function'],
      [{ list: [1, undefined] }, 'meta.list\\[1\\] is undefined'],
      // Holes: JSON writes them as null too (they were skipped, and saved).
      // biome-ignore lint/suspicious/noSparseArray: the hole is the point
      [{ list: [1, , 3] }, 'meta.list\\[1\\] is a hole'],
      [{ empty: new Array(2) }, 'meta.empty\\[0\\] is a hole'],
      // -0 comes back as 0, a symbol key not at all (both were saved without a word).
      [{ z: -0 }, 'meta.z is -0, written as 0'],
      [{ deep: { [Symbol('k')]: 1, a: 2 } }, 'meta.deep has a symbol key'],
      // Read once: a getter answering NaN to JSON and 1 to a second reading was saved as null.
      [
        (() => {
          let reads = 0;
          return {
            get score() {
              reads++;
              return reads === 1 ? Number.NaN : 1;
            },
          };
        })(),
        'meta.score is NaN',
      ],
      // toJSON's answer is what is written, and checked.
      [{ t: { toJSON: () => ({ v: Number.NaN }) } }, 'meta.t.v is NaN'],
    ] as const) {
      let err: unknown;
      try {
        saveEncoder(enc, meta as never);
      } catch (e) {
        err = e;
      }
      expect(err, path).toMatchObject({ code: 'INVALID_ARGUMENT', op: 'saveEncoder', arg: 'meta' });
      expect((err as Error).message).toMatch(new RegExp(path));
    }
    // What JSON keeps: an undefined property (read back undefined), a Date (its toJSON), nesting.
    const kept = { note: undefined, when: new Date(0), nested: { a: [1, 'b', null, { c: true }] } };
    expect(readEncoderHeader(saveEncoder(enc, kept)).meta).toEqual(JSON.parse(JSON.stringify(kept)));
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
      bad((b) => new DataView(b.buffer).setUint32(4, 3, true)),
      /format version 3; this library reads versions 1 to 2/,
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
    // A weight changed: the checksum that ends the file (version 2) refuses it, one bit or a NaN;
    // a NaN under a checksum made for it is refused as NaN.
    const nan = good.slice();
    new DataView(nan.buffer).setFloat32(nan.length - 8, Number.NaN, true);
    expectCorrupt(nan, /fails its checksum/);
    for (let at = 12 + new DataView(good.buffer).getUint32(8, true); at < good.length - 4; at++) {
      const flipped = good.slice();
      flipped[at] ^= 0x10;
      expectCorrupt(flipped, /fails its checksum/);
    }
    new DataView(nan.buffer).setUint32(nan.length - 4, crc32(nan.subarray(0, nan.length - 4)), true);
    expectCorrupt(nan, /NaN/);
  });

  it('reads version 1 files (no checksum) as before', () => {
    const good = saveEncoder(enc);
    const v1 = good.slice(0, good.length - 4);
    new DataView(v1.buffer).setUint32(4, 1, true);
    const back = loadEncoder(v1);
    expect(back.parameters().map((p) => Array.from(p))).toEqual(enc.parameters().map((p) => Array.from(p)));
    expect(readEncoderHeader(v1).layers.length).toBe(enc.layers.length);
  });
});

describe('saved encoders are untrusted input', () => {
  /** A file with header `head` (any JSON) and `weights` float32 values after it. */
  function craft(head: unknown, weights: number): Uint8Array {
    let json = new TextEncoder().encode(JSON.stringify(head));
    const pad = (4 - ((12 + json.length) % 4)) % 4;
    const padded = new Uint8Array(json.length + pad).fill(0x20);
    padded.set(json);
    json = padded;
    const b = new Uint8Array(12 + json.length + 4 * weights);
    b.set(new TextEncoder().encode('CKNN'));
    // Version 1: no checksum to make.
    new DataView(b.buffer).setUint32(4, 1, true);
    new DataView(b.buffer).setUint32(8, json.length, true);
    b.set(json, 12);
    const v = new DataView(b.buffer);
    for (let i = 0; i < weights; i++) v.setFloat32(12 + json.length + 4 * i, 0.01 * ((i % 7) - 3), true);
    return b;
  }
  const layer = (inputs: number, units: number, extra: Record<string, unknown> = {}) => ({
    inputs,
    units,
    activation: 'relu',
    bias: false,
    ...extra,
  });
  const head = (layers: unknown[], extra: Record<string, unknown> = {}) => ({
    format: 'cosinekit-nn',
    normalize: false,
    layers,
    parameters: (layers as ({ inputs: number; units: number } | null)[]).reduce(
      (s, l) => s + (l?.inputs ?? 0) * (l?.units ?? 0),
      0,
    ),
    ...extra,
  });

  it('accepts a crafted file that is well formed', () => {
    const e = loadEncoder(craft(head([layer(3, 2), layer(2, 4)]), 14));
    expect(e.layers.map((l) => [l.inputs, l.units])).toEqual([
      [3, 2],
      [2, 4],
    ]);
  });

  it('checks the layer count, each shape, the chain, the activations, the meta and the count', () => {
    const many = Array.from({ length: MAX_SAVED_LAYERS + 1 }, () => layer(1, 1));
    expectCorrupt(craft(head(many), MAX_SAVED_LAYERS + 1), /1025 layers/);
    expectCorrupt(craft(head([layer(65536, 65536)]), 0), /more than one array can hold/);
    expectCorrupt(craft(head([layer(0, 2)]), 0), /invalid shape for layer 0/);
    expectCorrupt(craft(head([layer(2.5, 2)]), 5), /invalid shape for layer 0/);
    expectCorrupt(craft(head([layer(2, -1)]), 0), /invalid shape for layer 0/);
    expectCorrupt(craft(head([layer(2, 2, { bias: 1 })]), 4), /invalid shape for layer 0/);
    expectCorrupt(craft(head([layer(2, 2), [2, 2]]), 8), /invalid shape for layer 1/);
    expectCorrupt(craft(head([layer(2, 2), null]), 4), /invalid shape for layer 1/);
    expectCorrupt(
      craft(head([layer(2, 3), layer(2, 2)]), 10),
      /layer 1 taking 2 inputs after a layer of 3 units/,
    );
    expectCorrupt(craft(head([layer(2, 2, { activation: 'constructor' })]), 4), /unknown activation/);
    expectCorrupt(craft(head([layer(2, 2)], { normalize: 'yes' }), 4), /normalize/);
    expectCorrupt(craft(head([layer(2, 2)], { meta: 'note' }), 4), /meta/);
    expectCorrupt(craft(head([layer(2, 2)], { meta: [1] }), 4), /meta/);
    expectCorrupt(craft(head([layer(2, 2)], { parameters: 5 }), 5), /declares 5 parameters/);
    // An unknown kind with a count that fits a dense layer: named as what it is (it was "declares 4
    // parameters but its layers hold 0").
    for (const kind of ['lstm', 'dense', 'Conv2d'])
      expectCorrupt(craft(head([layer(2, 2, { kind })]), 4), new RegExp(`unknown layer kind '${kind}'`));
    expectCorrupt(craft(head([]), 0), /no layers/);
    expectCorrupt(craft({ ...head([layer(2, 2)]), layers: { 0: layer(2, 2) } }, 4), /no layers/);
  });

  it('refuses weights that are not finite or beyond ±2^40', () => {
    const good = craft(head([layer(2, 2)]), 4);
    for (const [w, why] of [
      [Number.POSITIVE_INFINITY, /NaN or infinite/],
      [-3e38, /beyond ±2\^40/],
      [2 ** 41, /beyond ±2\^40/],
    ] as const) {
      const b = good.slice();
      new DataView(b.buffer).setFloat32(b.length - 8, w, true);
      expectCorrupt(b, why);
    }
    const edge = good.slice();
    new DataView(edge.buffer).setFloat32(edge.length - 4, -MAX_SAVED_WEIGHT, true);
    expect(loadEncoder(edge).layers[0].weights[3]).toBe(-MAX_SAVED_WEIGHT);
  });
});

describe('what is not an encoder file at all is named by the function called', () => {
  const good = () => saveEncoder(createEncoder({ inputs: 3, layers: [{ units: 2 }], seed: 1 }));
  it('readEncoderHeader names itself, not loadEncoder', () => {
    const short = new Uint8Array(3);
    expect(() => readEncoderHeader(short)).toThrow(
      expect.objectContaining({ code: 'CORRUPT_DATA', op: 'readEncoderHeader', arg: 'bytes' }),
    );
    expect(() => loadEncoder(short)).toThrow(
      expect.objectContaining({ code: 'CORRUPT_DATA', op: 'loadEncoder', arg: 'bytes' }),
    );
  });
  it('a value of another type is INVALID_TYPE and detached bytes DISPOSED (were CORRUPT_DATA: "0 bytes long")', () => {
    for (const [name, f] of [
      ['loadEncoder', loadEncoder],
      ['readEncoderHeader', readEncoderHeader],
    ] as const) {
      for (const v of ['CKNN', good().buffer, Array.from(good()), null])
        expect(() => f(v as never), name).toThrow(
          expect.objectContaining({ code: 'INVALID_TYPE', op: name, arg: 'bytes' }),
        );
      const gone = good();
      structuredClone(gone.buffer, { transfer: [gone.buffer] });
      expect(() => f(gone), name).toThrow(
        expect.objectContaining({ code: 'DISPOSED', op: name, arg: 'bytes' }),
      );
    }
    // Good bytes still load, the same weights.
    const e = createEncoder({ inputs: 3, layers: [{ units: 2 }], seed: 1 });
    expect(Array.from(loadEncoder(saveEncoder(e)).parameters()[0])).toEqual(Array.from(e.parameters()[0]));
  });
});
