import { describe, expect, it } from 'vitest';
import { crc32, crc32Loop } from '../src/crc32.js';

/** CRC-32 one bit at a time (IEEE, reflected, as zlib): the definition the tables unroll. */
function bitwise(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return ~c >>> 0;
}

describe('crc32', () => {
  it('is the standard CRC-32 ("123456789" gives cbf43926)', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });

  it('agrees with the bitwise definition at every alignment and around every unrolled length, whole or continued', () => {
    // Views starting 0-7 bytes into their buffer (the word loop first walks to a 4-byte
    // boundary), lengths below, at and past the 64 bytes where words are read, odd tails.
    const buf = Uint8Array.from({ length: 600 }, (_, i) => (i * 131 + 7) & 0xff);
    for (let off = 0; off < 8; off++)
      for (const len of [0, 1, 3, 7, 8, 9, 15, 63, 64, 65, 66, 67, 71, 72, 73, 127, 128, 129, 511]) {
        const v = buf.subarray(off, off + len);
        expect(crc32(v), `offset ${off}, length ${len}`).toBe(bitwise(v));
        // Continued from an earlier CRC: the same as over the bytes joined.
        const head = buf.subarray(0, off);
        expect(crc32(v, crc32(head)), `continued at ${off}, length ${len}`).toBe(
          bitwise(buf.subarray(0, off + len)),
        );
      }
  });

  it("the runtime's own CRC-32 (Node's zlib, for 4 KiB and more) and the loop agree, whole or continued", () => {
    const buf = Uint8Array.from({ length: 70_000 }, (_, i) => (i * 2654435761) >>> 24);
    for (const [off, len] of [
      [0, 4095],
      [0, 4096],
      [3, 4097],
      [1, 65_537],
      [5, 69_990],
    ]) {
      const v = buf.subarray(off, off + len);
      expect(crc32(v), `offset ${off}, length ${len}`).toBe(crc32Loop(v));
      const head = buf.subarray(0, off);
      expect(crc32(v, crc32(head)), `continued at ${off}`).toBe(crc32Loop(buf.subarray(0, off + len)));
      expect(crc32(v, 0x12345678)).toBe(crc32Loop(v, 0x12345678));
    }
    expect(crc32Loop(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });
});
