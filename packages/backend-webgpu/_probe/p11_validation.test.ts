// Repro: device validation errors in Chromium arrive as 'uncapturederror' events, asynchronously. The README:
// "device validation and out-of-memory errors fail the call that raised them". Here one call's own
// bind group is made invalid (a sabotaged createBindGroup drops its last entry), as a limit the
// backend misjudged on some adapter would: does that call fail, or resolve with whatever the
// readback buffer held, and the error land on a later, innocent call?
import { expect, it } from 'vitest';
import { createWebGpuBackend } from '../src/index.js';
import { errText } from './util.js';

let sabotage = false;
function entry() {
  return {
    get wgslLanguageFeatures() {
      return navigator.gpu.wgslLanguageFeatures;
    },
    async requestAdapter(o?: any) {
      const a = (await navigator.gpu.requestAdapter(o))!;
      return {
        features: a.features,
        limits: a.limits,
        info: a.info,
        async requestDevice(d: any) {
          const dev = await a.requestDevice(d);
          return new Proxy(dev, {
            get(t, k) {
              if (k === 'createBindGroup')
                return (desc: GPUBindGroupDescriptor) => {
                  if (sabotage) {
                    sabotage = false;
                    const entries = [...(desc.entries as GPUBindGroupEntry[])];
                    entries.pop();
                    return t.createBindGroup({ ...desc, entries });
                  }
                  return t.createBindGroup(desc);
                };
              const v = (t as any)[k];
              return typeof v === 'function' ? v.bind(t) : v;
            },
          });
        },
      };
    },
  };
}

it('a validation error fails the call that raised it', async () => {
  const b = createWebGpuBackend({ gpu: entry() as any });
  await b.init!();
  const x = { data: new Float32Array([3, 4, 6, 8]), rows: 2, cols: 2 };
  const lines: string[] = [];
  for (const [name, run] of [
    ['rowNorms', () => b.kernels.rowNorms!(x)],
    ['cosineMatrix', () => b.kernels.cosineMatrix!(x, x)],
    ['topK', () => b.kernels.topK!(x, x, 1)],
  ] as const) {
    sabotage = true;
    const first = await (run as () => Promise<any>)().then((v: any) => `RESOLVED ${JSON.stringify(Array.from(v.indices ?? v))}`, errText);
    const second = await b.kernels.rowNorms!(x).then((v: any) => `resolved ${Array.from(v)}`, errText);
    const third = await b.kernels.rowNorms!(x).then((v: any) => `resolved ${Array.from(v)}`, errText);
    lines.push(`${name} with an invalid bind group: ${first} | next rowNorms: ${second} | then: ${third}`);
  }
  console.log('VALIDATION\n' + lines.join('\n'));
  await b.dispose!();
  // The sabotaged call fails (right); the next, innocent call must not fail with the leftovers.
  expect(lines.filter((l) => l.includes('RESOLVED') || /next rowNorms: Error/.test(l))).toEqual([]);
}, 60_000);
