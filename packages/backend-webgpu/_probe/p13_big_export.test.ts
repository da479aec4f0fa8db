// Real-size blocks in Chromium (SwiftShader: maxStorageBufferBindingSize = maxBufferSize = 1 GiB).
// A re-ranking int8 corpus block holds its float32 rows up to one binding (1 GiB) plus the codes and
// scales; exportCorpus (save, readCorpus, compaction) copies all three into ONE staging buffer,
// which then exceeds maxBufferSize. 215,000 x 1024 (880 MB of float32): what does export/save do?
import { createCosineKit } from '@cosinekit/core';
import { expect, it } from 'vitest';
import { createWebGpuBackend } from '../src/index.js';
import { errText } from './util.js';

it('export of a near-full int8 + rerank block', async () => {
  const rows = 215_000;
  const d = 1024;
  const data = new Float32Array(rows * d);
  let s = 1;
  for (let i = 0; i < data.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    data[i] = (s >>> 8) / 8388608 - 1;
  }
  const b = createWebGpuBackend();
  const lines: string[] = [];
  const t0 = performance.now();
  const c = await b.kernels.createCorpus!({ data, rows, cols: d }, { storage: 'int8', rerank: 3 });
  lines.push(`created in ${((performance.now() - t0) / 1000).toFixed(1)} s; stats ${JSON.stringify(b.stats())}`);
  const q = { data: data.slice(5 * d, 6 * d), rows: 1, cols: d };
  const h = await b.kernels.corpusSearch!(c, q, 3).then((r: any) => `ok ${Array.from(r.indices)} ${Array.from(r.scores)}`, errText);
  lines.push(`search: ${h}`);
  const t1 = performance.now();
  const e = await b.kernels.exportCorpus!(c).then((st: any) => `ok codes ${st.codes.length} exact ${st.exact.length}`, errText);
  lines.push(`exportCorpus: ${e} (${((performance.now() - t1) / 1000).toFixed(1)} s)`);
  const n = await b.kernels.rowNorms!({ data: new Float32Array([3, 4]), rows: 1, cols: 2 }).then((v: any) => `ok ${v[0]}`, errText);
  lines.push(`next call: ${n}`);
  // through a kit (BACKEND_ERROR expected to wrap whatever the kernel threw)
  const kit = createCosineKit({ backend: b });
  c.dispose();
  const kc = await kit.corpus(data.subarray(0, 0) as any).catch(() => null);
  void kc;
  console.log('BIG\n' + lines.join('\n'));
  await b.dispose!();
  expect(lines.filter((l) => /exportCorpus: (?!ok)/.test(l))).toEqual([]);
}, 400_000);
