// dispose() mid-call and device loss (the injected entry's device destroyed from outside), at
// several delays, through the kit and through the backend's kernels directly. Expected: a
// CosineKitError (DISPOSED for dispose, UNSUPPORTED "device was lost" for loss), never a raw
// DOMException / TypeError, never a value computed on a dead device, never a hang.
import { createCosineKit, isCosineKitError } from '@cosinekit/core';
import { expect, it } from 'vitest';
import { createWebGpuBackend } from '../src/index.js';
import { errText, gpuEntry, opened, rng } from './util.js';

const r = rng(21);
const big = { data: Float32Array.from({ length: 60_000 * 128 }, r), rows: 60_000, cols: 128 };
const qs = { data: Float32Array.from({ length: 40 * 128 }, r), rows: 40, cols: 128 };
const bigRows = Array.from({ length: 60_000 }, (_, i) => big.data.subarray(i * 128, (i + 1) * 128));
const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | 'HANG'> {
  return Promise.race([p, sleep(ms).then(() => 'HANG' as const)]);
}

type Op = { name: string; run: (b: any, kit: any, pre: any) => Promise<any>; prep?: (b: any, kit: any) => Promise<any> };
const ops: Op[] = [
  { name: 'kernels.corpusSearch Q=40 k=10', prep: async (b) => b.kernels.createCorpus(big), run: (b, _k, c) => b.kernels.corpusSearch(c, qs, 10) },
  { name: 'kernels.corpusSearch k=100 (host select)', prep: async (b) => b.kernels.createCorpus(big), run: (b, _k, c) => b.kernels.corpusSearch(c, qs, 100) },
  { name: 'kernels.createCorpus float32', run: (b) => b.kernels.createCorpus(big) },
  { name: 'kernels.createCorpus int8', run: (b) => b.kernels.createCorpus(big, { storage: 'int8' }) },
  { name: 'kernels.createCorpus float16', run: (b) => b.kernels.createCorpus(big, { storage: 'float16' }) },
  { name: 'kernels.exportCorpus int8', prep: async (b) => b.kernels.createCorpus(big, { storage: 'int8' }), run: (b, _k, c) => b.kernels.exportCorpus(c) },
  { name: 'kernels.cosineMatrix', run: (b) => b.kernels.cosineMatrix(qs, big) },
  { name: 'kernels.matmul', run: (b) => b.kernels.matmul(qs, big, false, true) },
  { name: 'kit corpus.search', prep: async (_b, kit) => kit.corpus(bigRows), run: (_b, _k, c) => c.search(qs.data.subarray(0, 40 * 128).length ? Array.from({ length: 40 }, (_, i) => qs.data.subarray(i * 128, (i + 1) * 128)) : [], 10) },
  { name: 'kit corpus int8', run: (_b, kit) => kit.corpus(bigRows, { storage: 'int8' }) },
  { name: 'kit corpus.save int8', prep: async (_b, kit) => kit.corpus(bigRows, { storage: 'int8' }), run: (_b, _k, c) => c.save() },
];

async function scenario(kind: 'dispose' | 'loss', op: Op, delay: number): Promise<string> {
  const backend = createWebGpuBackend({ gpu: gpuEntry(false) });
  const kit = createCosineKit({ backend });
  await backend.init!();
  const dev = opened[opened.length - 1];
  const pre = op.prep ? await op.prep(backend, kit) : null;
  const p = op.run(backend, kit, pre);
  const t0 = performance.now();
  await sleep(delay);
  if (kind === 'dispose') void backend.dispose!();
  else dev.destroy();
  const got = await withTimeout(p.then((v: any) => ({ v }), (e: any) => ({ e })), 60_000);
  const ms = performance.now() - t0;
  let line: string;
  if (got === 'HANG') line = 'HANG (60 s)';
  else if ('e' in got) line = `${isCosineKitError(got.e) ? '' : 'RAW '}${errText(got.e)}`;
  else {
    const v = got.v;
    let after = '';
    if (v && typeof v === 'object' && ('rows' in v) && ('dispose' in v)) {
      // a corpus came back: is it usable?
      const s = await (v.search ? v.search([qs.data.subarray(0, 128)], 1) : backend.kernels.corpusSearch(v, { data: qs.data.subarray(0, 128), rows: 1, cols: 128 }, 1)).then(
        (h: any) => `search -> ${h.indices[0]} ${h.scores[0]}`,
        (e: any) => `search -> ${isCosineKitError(e) ? '' : 'RAW '}${errText(e)}`,
      );
      after = ` [a corpus came back: ${s}]`;
    }
    line = `RESOLVED${after}`;
  }
  // after a loss: the next call reports it, the one after works
  let next = '';
  if (kind === 'loss') {
    const n1 = await backend.kernels.rowNorms!({ data: new Float32Array([3, 4]), rows: 1, cols: 2 }).then((x: any) => `ok ${x[0]}`, (e: any) => `${isCosineKitError(e) ? '' : 'RAW '}${e.code ?? e.name}`);
    const n2 = await backend.kernels.rowNorms!({ data: new Float32Array([3, 4]), rows: 1, cols: 2 }).then((x: any) => `ok ${x[0]}`, (e: any) => `${isCosineKitError(e) ? '' : 'RAW '}${e.code ?? e.name}`);
    next = ` | next: ${n1}, then: ${n2}`;
    await backend.dispose!();
  }
  return `${kind} ${op.name} after ${delay} ms: ${line} (${ms.toFixed(0)} ms)${next}`;
}

it('dispose and loss mid-call', async () => {
  const lines: string[] = [];
  for (const op of ops) {
    for (const kind of ['dispose', 'loss'] as const) {
      for (const delay of [0, 30]) {
        lines.push(await scenario(kind, op, delay).catch((e) => `${kind} ${op.name}: scenario threw ${errText(e)}`));
      }
    }
  }
  console.log('MIDCALL\n' + lines.join('\n'));
  expect(lines.filter((l) => /RAW|HANG|RESOLVED \[/.test(l))).toEqual([]);
}, 900_000);
