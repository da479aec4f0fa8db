import { expect, it } from 'vitest';
import { createWebGpuBackend } from '../src/index.js';

it('describe', async () => {
  const b = createWebGpuBackend();
  await b.init!();
  console.log('DESCRIBE', JSON.stringify(b.describe!(), null, 1));
  const a = await navigator.gpu.requestAdapter();
  console.log('ADAPTER', JSON.stringify({ info: { vendor: a!.info.vendor, arch: a!.info.architecture, desc: a!.info.description, dev: a!.info.device }, features: [...a!.features], fl: (a as any).featureLevel, isFallback: (a as any).info?.isFallbackAdapter }));
  console.log('WGSL', [...navigator.gpu.wgslLanguageFeatures].join(','));
  console.log('STATS', JSON.stringify(b.stats()));
  await b.dispose!();
  expect(1).toBe(1);
});
