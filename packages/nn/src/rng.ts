import { argError, valueText } from '@cosinekit/core/backend';
import { checkSeed } from './check.js';

/**
 * A small seeded pseudo-random generator (xoshiro128**, seeded through splitmix32), so that
 * initialisation, shuffling and sampling are reproducible: the same seed gives the same numbers
 * on every platform, because everything is 32-bit integer arithmetic.
 */

/** A seeded source of random numbers. */
export interface Rng {
  /** A uniform float in [0, 1). */
  next(): number;
  /** A uniform integer in [0, n). */
  int(n: number): number;
  /** A standard normal sample (Box-Muller). */
  normal(): number;
  /** Shuffles `items` in place (Fisher-Yates) and returns it. */
  shuffle<T extends { length: number; [i: number]: unknown }>(items: T): T;
}

/** splitmix32's finaliser: a bijection of 32-bit words that spreads every input bit. */
function finalise(x: number): number {
  let z = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * Creates an {@link Rng} from an integer seed (|seed| <= 2^53); equal seeds give equal sequences,
 * and distinct integer seeds distinct states: the bits above the low 32 are mixed in too (seeds
 * in [0, 2^32) have no high word, so their sequences are as they always were).
 */
export function createRng(seed: number): Rng {
  // An object or a string ran on a NaN seed: the same stream for every such value, silently.
  checkSeed('createRng', 'seed', seed);
  // splitmix32 spreads even tiny seeds (0, 1, 2) over the whole state.
  let sm = seed >>> 0;
  const split = (): number => {
    sm = (sm + 0x9e3779b9) >>> 0;
    return finalise(sm);
  };
  let s0 = split();
  let s1 = split();
  let s2 = split();
  let s3 = split();
  // The high word, through the same bijection, into every word of the state: xoshiro128**'s first
  // output reads s1 alone and its third little more, so mixing it into s2 only gave seeds 2^32
  // apart (0 and 2^32, -1 and 2^32 - 1) the same first and third numbers: a layer's first weight.
  const high = Math.floor(seed / 4294967296) >>> 0;
  if (high !== 0) {
    const h = finalise(high);
    s0 = (s0 ^ h) >>> 0;
    s1 = (s1 ^ finalise(h)) >>> 0;
    s2 = (s2 ^ finalise(h ^ 0x9e3779b9)) >>> 0;
    s3 = (s3 ^ finalise(h ^ 0x3c6ef372)) >>> 0;
  }
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1;

  const nextU32 = (): number => {
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    return result;
  };
  const next = (): number => nextU32() / 4294967296;
  let spare: number | undefined;

  return {
    next,
    int(n) {
      // NaN, 0 or a negative bound answered NaN, 0 or negative numbers in silence.
      if (!(typeof n === 'number' && Number.isSafeInteger(n) && n >= 1))
        argError('INVALID_ARGUMENT', 'Rng.int', 'n', `must be a whole number >= 1, got ${valueText(n)}.`);
      return Math.floor(next() * n);
    },
    normal() {
      if (spare !== undefined) {
        const s = spare;
        spare = undefined;
        return s;
      }
      // 1 - next() lies in (0, 1], so the log is finite.
      const r = Math.sqrt(-2 * Math.log(1 - next()));
      const theta = 2 * Math.PI * next();
      spare = r * Math.sin(theta);
      return r * Math.cos(theta);
    },
    shuffle(items) {
      if (!Array.isArray(items) && !ArrayBuffer.isView(items))
        argError(
          'INVALID_TYPE',
          'Rng.shuffle',
          'items',
          `must be an array or a typed array, got ${valueText(items)}.`,
        );
      for (let i = items.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        const t = items[i];
        items[i] = items[j];
        items[j] = t;
      }
      return items;
    },
  };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
