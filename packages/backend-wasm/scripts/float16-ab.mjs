// A float16 corpus's search against a float32 corpus of the same rows, through a kit on this
// backend, samples interleaved (float32, float16, and with `ref` the reference backend's float16
// corpus, which a kit on wasm used before wasm stored float16), medians of 9. Every float16 answer
// is checked against the float32 one: the same rows within float16's bound.
//   node scripts/float16-ab.mjs [threads] [QxNxd,...] [ref]
// Needs packages/core and this package built.
import { random } from './random.mjs';

const core = await import(new URL('../../core/dist/index.js', import.meta.url).href);
const { createWasmBackend } = await import(new URL('../dist/index.js', import.meta.url).href);
const threads = Number(process.argv[2] ?? 1);
const shapes = (process.argv[3] ?? '1x20000x384,8x50000x96,64x10000x768')
  .split(',')
  .map((s) => s.split('x').map(Number));
const withRef = process.argv[4] === 'ref';
const kit = core.createCosineKit({ backend: createWasmBackend({ threads }) });
await kit.ready();
const reference = core.createCosineKit({ backend: 'reference' });
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
for (const [Q, N, d] of shapes) {
  const x = core.tensor(random(N * d, 3), [N, d]);
  const q = core.tensor(random(Q * d, 5), [Q, d]);
  const c32 = await kit.corpus(x);
  const c16 = await kit.corpus(x, { storage: 'float16' });
  if (c16.backend !== 'wasm') throw new Error(`the float16 corpus is on ${c16.backend}, not wasm`);
  const r16 = withRef ? await reference.corpus(x, { storage: 'float16' }) : null;
  const k = Math.min(10, N);
  const [a, b] = [await c32.search(q, k), await c16.search(q, k)];
  const bound = 2 ** -11 + Math.sqrt(d) * 2 ** -24 + 1e-6;
  for (let i = 0; i < Q * k; i++)
    if (Math.abs(a.scores[i] - b.scores[i]) > 2 * bound)
      throw new Error(`score ${i} differs by more than the bound`);
  const t = { f32: [], f16: [], ref: [] };
  for (let r = 0; r < 9; r++) {
    let s = performance.now();
    await c32.search(q, k);
    t.f32.push(performance.now() - s);
    s = performance.now();
    await c16.search(q, k);
    t.f16.push(performance.now() - s);
    if (r16 && r < 3) {
      s = performance.now();
      await r16.search(q, k);
      t.ref.push(performance.now() - s);
    }
  }
  const f32 = median(t.f32);
  const f16 = median(t.f16);
  const ref = r16
    ? `; reference float16 ${median(t.ref).toFixed(1)} ms (${(median(t.ref) / f32).toFixed(1)}x)`
    : '';
  console.log(
    `${Q} x ${N} x ${d}, ${threads} thread(s): float32 ${f32.toFixed(2)} ms, float16 ${f16.toFixed(2)} ms (${(f16 / f32).toFixed(2)}x)${ref}`,
  );
  c32.dispose();
  c16.dispose();
  r16?.dispose();
}
kit.dispose();
reference.dispose();
