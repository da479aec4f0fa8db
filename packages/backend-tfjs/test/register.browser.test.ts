import { listBackends } from '@cosinekit/core';
import { getBackend } from '@cosinekit/core/backend';
import { expect, it } from 'vitest';

it('register adds tfjs-webgl (6) in a browser with WebGL2 and tfjs-webgpu (4) with WebGPU, around tfjs-wasm (5) and above tfjs-cpu (-1)', async () => {
  await import('../src/register.js');
  const rows = listBackends().filter((b) => b.name.startsWith('tfjs-'));
  expect(rows.map((b) => [b.name, b.priority])).toEqual([
    ['tfjs-webgl', 6],
    ['tfjs-wasm', 5],
    ['tfjs-webgpu', 4],
    ['tfjs-cpu', -1],
  ]);
  const best = await getBackend();
  expect(best.name).toBe('tfjs-webgl');
  const info = best.describe?.();
  expect(info).toMatchObject({ engine: 'webgl', webglVersion: 2 });
  // The renderer names what draws: headless Chromium here runs SwiftShader or ANGLE on a software GL.
  expect(typeof info?.renderer).toBe('string');
  expect(String(info?.renderer).length).toBeGreaterThan(0);
});
