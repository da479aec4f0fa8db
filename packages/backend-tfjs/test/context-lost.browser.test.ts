import { createCosineKit, Tensor } from '@cosinekit/core';
import { expect, it } from 'vitest';
import { createTfjsBackend, initTfjsEngine } from '../src/index.js';

/**
 * A WebGL context the browser takes back (a GPU reset, a driver crash, or more contexts on a page
 * than it keeps) reads back zeros, and tfjs's fences on it never complete. A browser probe got a
 * search of cosines 0 ranked 0, 1, 2, ... and every other call held until the kit's timeout. Its own
 * file: the page's tfjs-webgl is one for the page, and this test ends it.
 */
it('tfjs-webgl on a lost WebGL context fails every call UNSUPPORTED naming the backend, at once (a probe)', async () => {
  const backend = createTfjsBackend({ engine: 'webgl' });
  // No bound on a kernel: one that never settled would hold the test until its own timeout.
  const kit = createCosineKit({ backend, timeoutMs: Number.POSITIVE_INFINITY });
  const d = 32;
  const rows = new Tensor(
    Float32Array.from({ length: 400 * d }, (_, i) => Math.sin(i * 0.37)),
    400,
    d,
  );
  const q = new Tensor(
    Float32Array.from({ length: d }, (_, i) => Math.cos(i * 0.11)),
    1,
    d,
  );
  const corpus = await kit.corpus(rows);
  expect((await corpus.search(q, 5)).scores[0]).toBeGreaterThan(0.1);
  const tf = await initTfjsEngine('webgl');
  const gl = (tf.backend() as unknown as { gpgpu: { gl: WebGL2RenderingContext } }).gpgpu.gl;
  gl.getExtension('WEBGL_lose_context')?.loseContext();
  expect(gl.isContextLost()).toBe(true);
  const calls: [string, () => Promise<unknown>][] = [
    ['search', () => corpus.search(q, 5)],
    ['similarity', () => corpus.similarity(q)],
    ['cosineMatrix', () => kit.cosineMatrix(q, rows)],
    ['topK', () => kit.topK(q, rows, 3)],
    ['corpus', () => kit.corpus(rows)],
  ];
  for (const [what, call] of calls)
    await expect(call(), what).rejects.toMatchObject({
      code: 'UNSUPPORTED',
      arg: 'backend',
      message: expect.stringMatching(/WebGL context the browser has taken back/),
    });
  kit.dispose();
});
