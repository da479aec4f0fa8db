import { expect, it } from 'vitest';

it("'auto' in a browser Web Worker opens WebGL2 (a probe: it was taken for Node, ran on the CPU and advised an X server)", async () => {
  const w = new Worker(new URL('./fixtures/auto-worker.ts', import.meta.url), { type: 'module' });
  try {
    const got = await new Promise<{ mode?: string; cosines?: number[]; error?: string }>(
      (resolve, reject) => {
        w.onmessage = (m) => resolve(m.data);
        w.onerror = (e) => reject(new Error(e.message));
      },
    );
    expect(got.error).toBeUndefined();
    expect(got.mode).toBe('webgl2');
    const r = Math.SQRT1_2;
    expect(got.cosines!.map((v) => Number(v.toFixed(6)))).toEqual(
      [1, r, r, 1].map((v) => Number(v.toFixed(6))),
    );
  } finally {
    w.terminate();
  }
});
