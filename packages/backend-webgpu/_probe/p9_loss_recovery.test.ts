// Repro (delay 0 / 30 cases fail): device lost while a call's readback is pending: that call's error, and whether the backend
// recovers (README: the next call throws UNSUPPORTED "device was lost", the call after it opens a
// fresh device).
import { createCosineKit } from '@cosinekit/core';
import { expect, it } from 'vitest';
import { createWebGpuBackend } from '../src/index.js';
import { errText, gpuEntry, opened, rng } from './util.js';

for (const delay of [-1, 0, 30])
for (const kind of ['cosineMatrix', 'corpusSearch', 'matmul'] as const)
it(`loss during a pending readback (${kind}, destroy ${delay < 0 ? 'synchronously' : `after setTimeout ${delay}`}), then recovery`, async () => {
  const r = rng(4);
  const c = { data: Float32Array.from({ length: 60000 * 128 }, r), rows: 60000, cols: 128 };
  const q = { data: Float32Array.from({ length: 40 * 128 }, r), rows: 40, cols: 128 };
  const backend = createWebGpuBackend({ gpu: gpuEntry(false) });
  await backend.init!();
  const nBefore = opened.length;
  const corpus = kind === 'corpusSearch' ? await backend.kernels.createCorpus(c) : null;
  const p = kind === 'cosineMatrix' ? backend.kernels.cosineMatrix(q, c) : kind === 'matmul' ? backend.kernels.matmul(q, c, false, true) : backend.kernels.corpusSearch(corpus!, q, 5);
  if (delay >= 0) await new Promise((res) => setTimeout(res, delay));
  opened[opened.length - 1].destroy(); // loss while the call is in flight
  const lines: string[] = [];
  lines.push(`in-flight call: ${await p.then(() => 'resolved', errText)}`);
  for (let i = 1; i <= 4; i++) {
    const x = await backend.kernels.rowNorms!({ data: new Float32Array([3, 4]), rows: 1, cols: 2 }).then(
      (v: any) => `ok ${v[0]}`,
      errText,
    );
    lines.push(`call ${i} after: ${x}`);
  }
  lines.push(`devices opened after the loss: ${opened.length - nBefore}`);
  // through a kit
  const kit = createCosineKit({ backend });
  lines.push(`kit.rowNorms: ${await kit.rowNorms([[3, 4]]).then((v) => `ok ${v[0]}`, errText)}`);
  console.log(`RECOVERY ${kind} delay ${delay}\n` + lines.join('\n'));
  await backend.dispose!();
  // README: the in-flight/next call throws a CosineKitError (UNSUPPORTED, device lost); the call after it works.
  expect(lines[0]).toMatch(/^in-flight call: CosineKitError\[UNSUPPORTED\]/);
  expect(lines[2]).toMatch(/call 2 after: ok 5/);
}, 120_000);
