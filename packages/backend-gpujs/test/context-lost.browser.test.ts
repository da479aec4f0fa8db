import { createCosineKit, Tensor } from '@cosinekit/core';
import { expect, it } from 'vitest';
import { createGpujsBackend } from '../src/index.js';

/**
 * A WebGL context the browser takes back (a GPU reset, a driver crash, or more contexts on a page
 * than it keeps: Chromium drops the oldest past 16) reads back zeros. A browser probe got cosines of
 * 0 ranked 0, 1, 2, ... from every call, without an error.
 */
it('a lost WebGL context fails every call UNSUPPORTED naming the backend, never zeros (a probe)', async () => {
  const contexts: WebGL2RenderingContext[] = [];
  const getContext = HTMLCanvasElement.prototype.getContext;
  HTMLCanvasElement.prototype.getContext = function (this: HTMLCanvasElement, ...args: never[]) {
    const c = (getContext as (...a: unknown[]) => unknown).apply(this, args);
    if (c && String(args[0]).startsWith('webgl')) contexts.push(c as WebGL2RenderingContext);
    return c as never;
  } as typeof getContext;
  let backend: ReturnType<typeof createGpujsBackend>;
  try {
    backend = createGpujsBackend({ mode: 'webgl2' });
    await backend.init?.();
  } finally {
    HTMLCanvasElement.prototype.getContext = getContext;
  }
  const kit = createCosineKit({ backend });
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
  const before = await corpus.search(q, 5);
  expect(before.scores[0]).toBeGreaterThan(0.1);
  expect(contexts.length).toBeGreaterThan(0);
  for (const gl of contexts) gl.getExtension('WEBGL_lose_context')?.loseContext();
  expect(contexts.every((gl) => gl.isContextLost())).toBe(true);
  const calls: [string, () => Promise<unknown>][] = [
    ['search', () => corpus.search(q, 5)],
    ['similarity', () => corpus.similarity(q)],
    ['cosineMatrix', () => kit.cosineMatrix(q, rows)],
    ['topK', () => kit.topK(q, rows, 3)],
    ['cosineRows', () => kit.cosineRows(q, q)],
    ['corpus', () => kit.corpus(rows)],
  ];
  for (const [what, call] of calls)
    await expect(call(), what).rejects.toMatchObject({
      code: 'UNSUPPORTED',
      arg: 'backend',
      message: expect.stringMatching(/WebGL context the browser has taken back/),
    });
  kit.dispose();
  await backend.dispose?.();
});
