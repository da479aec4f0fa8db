// A resident corpus handle disposed while a search on it is in flight (the backend's own kernels;
// the kit queues a corpus's dispose behind its work, so this is the kernel-level contract).
import { isCosineKitError } from '@cosinekit/core';
import { expect, it } from 'vitest';
import { createWebGpuBackend } from '../src/index.js';
import { errText, rng } from './util.js';

it('corpus handle disposed mid-search', async () => {
  const r = rng(2);
  const big = { data: Float32Array.from({ length: 60_000 * 128 }, r), rows: 60_000, cols: 128 };
  const lines: string[] = [];
  const b = createWebGpuBackend();
  for (const [name, opts, Q, k] of [
    ['float32 Q=1 k=10', {}, 1, 10],
    ['float32 Q=40 k=10', {}, 40, 10],
    ['float32 Q=5 k=100 (host select)', {}, 5, 100],
    ['int8 rerank Q=3 k=10', { storage: 'int8' }, 3, 10],
  ] as const) {
    for (const delay of [-1, 0, 20]) {
      const c = await b.kernels.createCorpus!(big, opts as any);
      const q = { data: big.data.slice(0, Q * 128), rows: Q, cols: 128 };
      const p = b.kernels.corpusSearch!(c, q, k);
      if (delay >= 0) await new Promise((res) => setTimeout(res, delay));
      c.dispose();
      const got = await p.then(
        (h: any) => `resolved ${h.indices[0]} ${h.scores[0]}`,
        (e: any) => `${isCosineKitError(e) ? '' : 'RAW '}${errText(e)}`,
      );
      const next = await b.kernels.rowNorms!({ data: new Float32Array([3, 4]), rows: 1, cols: 2 }).then((v: any) => `ok ${v[0]}`, errText);
      lines.push(`${name}, dispose ${delay < 0 ? 'synchronously' : `after ${delay} ms`}: ${got} | next call: ${next}`);
    }
  }
  await b.dispose!();
  // many blocks and score tiles (64 KiB bindings): the host selection (k > 64) and corpusMatrix read
  // tiles back one at a time, so a dispose lands between two tiles
  const s = createWebGpuBackend({ limits: { maxStorageBufferBindingSize: 1 << 16 } });
  const small = { data: big.data.subarray(0, 20_000 * 128), rows: 20_000, cols: 128 };
  for (const [name, run] of [
    ['k=100 (host select)', (c: any) => s.kernels.corpusSearch!(c, { data: big.data.slice(0, 5 * 128), rows: 5, cols: 128 }, 100)],
    ['corpusMatrix', (c: any) => s.kernels.corpusMatrix!(c, { data: big.data.slice(0, 5 * 128), rows: 5, cols: 128 })],
    ['exportCorpus', (c: any) => s.kernels.exportCorpus!(c)],
  ] as const) {
    for (const delay of [5, 50]) {
      const c = await s.kernels.createCorpus!(small);
      const p = (run as any)(c);
      await new Promise((res) => setTimeout(res, delay));
      c.dispose();
      const got = await p.then(
        () => 'resolved',
        (e: any) => `${isCosineKitError(e) ? '' : 'RAW '}${errText(e)}`,
      );
      const next = await s.kernels.rowNorms!({ data: new Float32Array([3, 4]), rows: 1, cols: 2 }).then((v: any) => `ok ${v[0]}`, errText);
      lines.push(`small-limits ${name}, dispose after ${delay} ms: ${got} | next call: ${next}`);
    }
  }
  await s.dispose!();
  console.log('HANDLE\n' + lines.join('\n'));
  expect(lines.filter((l) => /RAW|next call: (?!ok)/.test(l))).toEqual([]);
}, 300_000);
