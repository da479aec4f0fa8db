import { CosineKitError } from '@cosinekit/core';
import { describe, expect, it } from 'vitest';
import { fromWire, ownBuffer, toWire, workerSignal } from '../src/protocol.js';

describe('the worker side of an abort', () => {
  it('reads the shared flag at each check of signal.aborted, without a message', () => {
    const flag = new SharedArrayBuffer(4);
    const { signal } = workerSignal(flag);
    const heard: unknown[] = [];
    signal.addEventListener('abort', () => heard.push(signal.reason));
    expect(signal.aborted).toBe(false);
    // What the calling thread does on abort; this thread runs no event loop in between.
    Atomics.store(new Int32Array(flag), 0, 1);
    expect(signal.aborted).toBe(true);
    expect(heard).toHaveLength(1);
    expect((signal.reason as Error).name).toBe('AbortError');
    expect(() => signal.throwIfAborted()).toThrow();
  });

  it('without shared memory, the abort message sets it', () => {
    const { signal, abort } = workerSignal(undefined);
    expect(signal.aborted).toBe(false);
    abort();
    abort();
    expect(signal.aborted).toBe(true);
  });
});

describe('errors as plain data', () => {
  it('a CosineKitError comes back with its code, op, argument, message and cause', () => {
    const inner = new Error('engine says no');
    const e = new CosineKitError('BACKEND_ERROR', 'It failed.', {
      op: 'search',
      arg: 'queries',
      backend: 'wasm',
      kernel: 'corpusSearch',
      cause: inner,
    });
    const back = fromWire(structuredClone(toWire(e)));
    expect(back).toBeInstanceOf(CosineKitError);
    expect(back).toMatchObject({
      code: 'BACKEND_ERROR',
      op: 'search',
      arg: 'queries',
      backend: 'wasm',
      kernel: 'corpusSearch',
      message: 'It failed.',
    });
    expect((back.cause as Error).message).toBe('engine says no');
    const plain = fromWire(toWire(new TypeError('x')));
    expect(plain).not.toBeInstanceOf(CosineKitError);
    expect(plain.name).toBe('TypeError');
    expect(fromWire(toWire('a string')).message).toBe('a string');
  });

  it('only a result that owns its whole buffer is moved', () => {
    const whole = new Float32Array(4);
    expect(ownBuffer(whole)).toBe(whole.buffer);
    expect(ownBuffer(whole.subarray(1))).toBeNull();
    expect(ownBuffer(new Float32Array(new SharedArrayBuffer(8)))).toBeNull();
  });
});
