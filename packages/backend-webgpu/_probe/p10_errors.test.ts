// Error typing at the backend's own entry points in the browser: factory options, injected entry
// points that fail, extreme `limits`, use after dispose, foreign corpora. Expected: CosineKitError
// with a stable code (or, for init(), an Error 'webgpu unavailable: ...'), never a raw
// DOMException / GPUValidationError / TypeError, never a silent wrong answer.
import { createCosineKit, isCosineKitError } from '@cosinekit/core';
import { expect, it } from 'vitest';
import { createWebGpuBackend } from '../src/index.js';
import { checkTopK, cos64, errText, rng } from './util.js';

const tag = (e: any) => (isCosineKitError(e) ? `${e.code}` : `RAW ${e?.constructor?.name}`) + `: ${String(e?.message).slice(0, 160)}`;

it('factory options', async () => {
  const lines: string[] = [];
  const cases: [string, any][] = [
    ['null', null],
    ['number', 5],
    ['array', []],
    ['gpu {}', { gpu: {} }],
    ['gpu null', { gpu: null }],
    ['gpu string', { gpu: 'navigator.gpu' }],
    ['limits null', { limits: null }],
    ['limits 5', { limits: 5 }],
    ['limits []', { limits: [] }],
    ['limits binding 0', { limits: { maxStorageBufferBindingSize: 0 } }],
    ['limits binding NaN', { limits: { maxStorageBufferBindingSize: Number.NaN } }],
    ['limits binding 1.5', { limits: { maxStorageBufferBindingSize: 1.5 } }],
    ['limits binding "4096"', { limits: { maxStorageBufferBindingSize: '4096' } }],
    ['limits binding Infinity', { limits: { maxStorageBufferBindingSize: Number.POSITIVE_INFINITY } }],
    ['limits binding 2^60', { limits: { maxStorageBufferBindingSize: 2 ** 60 } }],
    ['limits binding -4', { limits: { maxStorageBufferBindingSize: -4 } }],
    ['limits binding 4097 (not a multiple of 4)', { limits: { maxStorageBufferBindingSize: 4097 } }],
    ['limits unknown key', { limits: { maxComputeInvocationsPerWorkgroup: 64 } }],
    ['powerPreference fast', { powerPreference: 'fast' }],
    ['powerPreference null', { powerPreference: null }],
    ['unknown option', { device: 1 }],
    ['throwing getter', Object.defineProperty({}, 'gpu', { enumerable: true, get() { throw new Error('boom'); } })],
    ['proxy', new Proxy({}, { ownKeys() { throw new Error('trap'); } })],
  ];
  for (const [name, o] of cases) {
    let line: string;
    try {
      const b = createWebGpuBackend(o);
      const r = await b.kernels.rowNorms!({ data: new Float32Array([3, 4]), rows: 1, cols: 2 }).then((v: any) => `ok ${v[0]}`, tag);
      line = `accepted; rowNorms -> ${r}`;
      await b.dispose!();
    } catch (e) {
      line = `throws ${tag(e)}`;
    }
    lines.push(`${name}: ${line}`);
  }
  console.log('FACTORY\n' + lines.join('\n'));
  expect(lines.filter((l) => l.includes('RAW'))).toEqual([]);
}, 120_000);

it('injected entry points that fail', async () => {
  const real = navigator.gpu;
  const lines: string[] = [];
  const entries: [string, any][] = [
    ['requestAdapter throws', { requestAdapter() { throw new TypeError('sync throw'); } }],
    ['requestAdapter rejects', { requestAdapter: async () => { throw new DOMException('nope', 'OperationError'); } }],
    ['requestAdapter -> null', { requestAdapter: async () => null }],
    ['requestAdapter -> {}', { requestAdapter: async () => ({}) }],
    ['requestAdapter -> 42', { requestAdapter: async () => 42 }],
    ['requestDevice rejects', { requestAdapter: async () => { const a = (await real.requestAdapter())!; return { features: a.features, limits: a.limits, info: a.info, requestDevice: async () => { throw new DOMException('denied', 'OperationError'); } }; } }],
    ['requestDevice -> {}', { requestAdapter: async () => { const a = (await real.requestAdapter())!; return { features: a.features, limits: a.limits, info: a.info, requestDevice: async () => ({}) }; } }],
    ['adapter without info', { requestAdapter: async () => { const a = (await real.requestAdapter())!; return { features: a.features, limits: a.limits, requestDevice: (d: any) => a.requestDevice(d) }; } }],
    ['adapter with huge limits', { requestAdapter: async () => { const a = (await real.requestAdapter())!; const limits: any = {}; for (const k in a.limits) limits[k] = (a.limits as any)[k]; limits.maxStorageBufferBindingSize = 2 ** 40; return { features: a.features, limits, info: a.info, requestDevice: (d: any) => a.requestDevice(d) }; } }],
  ];
  for (const [name, gpu] of entries) {
    const b = createWebGpuBackend({ gpu });
    const init = await b.init!().then(() => 'ok', (e: any) => `${e?.constructor?.name}: ${String(e?.message).slice(0, 200)}`);
    const call = await Promise.resolve()
      .then(() => b.kernels.rowNorms!({ data: new Float32Array([3, 4]), rows: 1, cols: 2 }))
      .then((v: any) => `ok ${v[0]}`, tag);
    const kit = createCosineKit({ backend: createWebGpuBackend({ gpu }) });
    const kcall = await kit.rowNorms([[3, 4]]).then((v) => `ok ${v[0]} (ranBy ${kit.ranBy('rowNorms')})`, tag);
    lines.push(`${name}: init -> ${init} | kernel -> ${call} | kit -> ${kcall}`);
    await b.dispose!();
  }
  console.log('ENTRIES\n' + lines.join('\n'));
  expect(lines.filter((l) => l.includes('RAW'))).toEqual([]);
}, 120_000);

it('extreme limits: right answers or UNSUPPORTED', async () => {
  const r = rng(77);
  const lines: string[] = [];
  const rows = Array.from({ length: 50 }, () => Float32Array.from({ length: 7 }, r));
  const qs = Array.from({ length: 17 }, () => Float32Array.from({ length: 7 }, r));
  const configs: Record<string, number>[] = [
    { maxStorageBufferBindingSize: 4 },
    { maxStorageBufferBindingSize: 28 },
    { maxStorageBufferBindingSize: 100 },
    { maxBufferSize: 4 },
    { maxBufferSize: 100 },
    { maxComputeWorkgroupsPerDimension: 1 },
    { maxComputeWorkgroupsPerDimension: 2 },
    { maxComputeWorkgroupStorageSize: 1 },
    { maxStorageBufferBindingSize: 256, maxComputeWorkgroupsPerDimension: 1 },
  ];
  for (const limits of configs) {
    const backend = createWebGpuBackend({ limits: limits as any });
    const kit = createCosineKit({ backend });
    const out: string[] = [];
    for (const storage of ['float32', 'float16', 'int8'] as const) {
      const c = await kit.corpus(rows, { storage }).catch((e) => e);
      if (!(c && c.search)) { out.push(`${storage} corpus ${tag(c)}`); continue; }
      for (const Q of [1, 17]) for (const k of [1, 10, 65 > 50 ? 50 : 65]) {
        const h = await c.search(qs.slice(0, Q), k).catch((e) => e);
        if (h instanceof Error) { out.push(`${storage} Q=${Q} k=${k} ${tag(h)}`); continue; }
        const tol = storage === 'float32' ? 2e-5 : storage === 'float16' ? 1e-3 : 2e-5;
        const p = checkTopK('', qs.slice(0, Q), rows, k, h.indices, h.scores, tol, storage !== 'int8' || true);
        if (p.length) out.push(`${storage} Q=${Q} k=${k} WRONG ${p[0]}`);
        const f = await c.search(qs.slice(0, Q), k, { filter: { mask: Uint8Array.from(rows, (_, i) => (i % 2)) } }).catch((e) => e);
        if (f instanceof Error) out.push(`${storage} filtered Q=${Q} k=${k} ${tag(f)}`);
        else if ([...f.indices].some((i: number) => i % 2 === 0)) out.push(`${storage} filtered Q=${Q} k=${k} WRONG refused row returned`);
      }
      c.dispose();
    }
    const m = await kit.cosineMatrix(qs, rows).catch((e) => e);
    if (m instanceof Error) out.push(`cosineMatrix ${tag(m)}`);
    else if (Math.abs(m.data[17 * 50 - 1] - cos64(qs[16], rows[49])) > 2e-5) out.push('cosineMatrix WRONG');
    const n = await kit.normalize(rows).catch((e) => e);
    if (n instanceof Error) out.push(`normalize ${tag(n)}`);
    const k2 = await kit.kernels();
    const mm = await Promise.resolve().then(() => k2.matmul!({ data: new Float32Array(12).fill(1), rows: 3, cols: 4 }, { data: new Float32Array(20).fill(1), rows: 4, cols: 5 }, false, false)).catch((e) => e);
    if (mm instanceof Error) out.push(`matmul ${tag(mm)}`);
    else if (mm.some((v: number) => v !== 4)) out.push(`matmul WRONG ${[...mm]}`);
    const ab = await Promise.resolve().then(() => k2.addBias!({ data: new Float32Array(12).fill(1), rows: 3, cols: 4 }, new Float32Array([1, 2, 3, 4]))).catch((e) => e);
    if (ab instanceof Error) out.push(`addBias ${tag(ab)}`);
    else if (String([...ab]) !== String([2, 3, 4, 5, 2, 3, 4, 5, 2, 3, 4, 5])) out.push(`addBias WRONG ${[...ab]}`);
    lines.push(`${JSON.stringify(limits)}: ${out.length ? out.join(' | ') : 'all right'}`);
    kit.dispose();
    await backend.dispose!();
  }
  console.log('LIMITS\n' + lines.join('\n'));
  expect(lines.filter((l) => /RAW|WRONG/.test(l))).toEqual([]);
}, 300_000);

it('use after dispose, foreign corpora', async () => {
  const lines: string[] = [];
  const a = createWebGpuBackend();
  const b = createWebGpuBackend();
  const m = { data: new Float32Array([1, 2, 3, 4]), rows: 2, cols: 2 };
  const ca = await a.kernels.createCorpus!(m);
  lines.push(`foreign corpus to b.corpusSearch: ${await Promise.resolve().then(() => b.kernels.corpusSearch!(ca, m, 1)).then(() => 'ok', tag)}`);
  lines.push(`foreign corpus to b.exportCorpus: ${await Promise.resolve().then(() => b.kernels.exportCorpus!(ca)).then(() => 'ok', tag)}`);
  ca.dispose();
  lines.push(`disposed corpus search: ${await Promise.resolve().then(() => a.kernels.corpusSearch!(ca, m, 1)).then(() => 'ok', tag)}`);
  lines.push(`disposed corpus matrix: ${await Promise.resolve().then(() => a.kernels.corpusMatrix!(ca, m)).then(() => 'ok', tag)}`);
  lines.push(`disposed corpus search allowed: ${await Promise.resolve().then(() => a.kernels.corpusSearchAllowed!(ca, m, 1, new Uint8Array([1, 1]))).then(() => 'ok', tag)}`);
  const cb = await a.kernels.createCorpus!(m);
  await a.dispose!();
  await a.dispose!();
  lines.push(`after dispose: describe ${JSON.stringify(a.describe!())} stats ${JSON.stringify(a.stats())}`);
  lines.push(`after dispose init: ${await Promise.resolve().then(() => a.init!()).then(() => 'ok', tag)}`);
  lines.push(`after dispose search: ${await Promise.resolve().then(() => a.kernels.corpusSearch!(cb, m, 1)).then(() => 'ok', tag)}`);
  lines.push(`after dispose matmul: ${await Promise.resolve().then(() => a.kernels.matmul!(m, m, false, false)).then(() => 'ok', tag)}`);
  // kit: corpus whose backend was disposed
  const kb = createWebGpuBackend();
  const kit = createCosineKit({ backend: kb });
  const kc = await kit.corpus([[1, 0], [0, 1]]);
  await kb.dispose!();
  lines.push(`kit corpus after backend dispose: search ${await kc.search([[1, 0]], 1).then(() => 'ok', tag)}; save ${await kc.save().then(() => 'ok', tag)}; add ${await kc.add([[1, 1]]).then(() => 'ok', tag)}`);
  await b.dispose!();
  console.log('AFTER\n' + lines.join('\n'));
  expect(lines.filter((l) => l.includes('RAW'))).toEqual([]);
}, 120_000);
