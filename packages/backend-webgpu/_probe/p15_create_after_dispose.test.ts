// Minimal repro: kit.corpus() (and backend.kernels.createCorpus) still in flight when the backend is
// disposed, or when its device is lost, RESOLVES with a corpus instead of rejecting (README:
// "a call the disposal cut short fails the same way [DISPOSED]"; corpora on a lost device are
// disposed). The corpus it hands back holds nothing: every later call on it fails.
import { createCosineKit, isCosineKitError } from '@cosinekit/core';
import { expect, it } from 'vitest';
import { createWebGpuBackend } from '../src/index.js';
import { errText, gpuEntry, opened } from './util.js';

const rows = Array.from({ length: 60_000 }, (_, i) => Float32Array.from({ length: 128 }, (_, j) => Math.sin(i * 7 + j)));

it('kit.corpus resolves after backend.dispose() / device loss', async () => {
  const lines: string[] = [];
  for (const storage of ['float32', 'float16', 'int8'] as const) {
    for (const how of ['dispose', 'loss'] as const) {
      const backend = createWebGpuBackend({ gpu: gpuEntry(false) });
      const kit = createCosineKit({ backend });
      await kit.ready();
      const p = kit.corpus(rows, { storage });
      await new Promise((r) => setTimeout(r, 20));
      if (how === 'dispose') void backend.dispose!();
      else opened[opened.length - 1].destroy();
      const got = await p.then(
        async (c) => `RESOLVED a corpus of ${c.rows} rows on '${c.backend}'; its search: ${await c.search([rows[0]], 1).then((h) => `ok ${h.indices[0]}`, errText)}`,
        (e) => `rejected ${isCosineKitError(e) ? '' : 'RAW '}${errText(e)}`,
      );
      lines.push(`${storage} ${how}: ${got}`);
      await backend.dispose!();
    }
  }
  console.log('CREATE\n' + lines.join('\n'));
  expect(lines.filter((l) => l.includes('RESOLVED'))).toEqual([]);
}, 300_000);
