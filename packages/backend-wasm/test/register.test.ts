import { listBackends } from '@cosinekit/core';
import { getBackend, unregisterBackend } from '@cosinekit/core/backend';
import { afterAll, describe, expect, it } from 'vitest';

describe('register', () => {
  afterAll(() => {
    unregisterBackend('wasm');
  });

  it("registers 'wasm' ahead of the reference, and it initialises", async () => {
    await import('../src/register.js');
    const row = listBackends().find((b) => b.name === 'wasm');
    expect(row?.priority).toBe(10);
    const b = await getBackend();
    expect(b.name).toBe('wasm');
  });
});
