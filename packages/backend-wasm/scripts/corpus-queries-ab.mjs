// A corpus's queries through the kit's gate (A: `corpusSearch` and `corpusMatrix` taken off the
// backend's `ungated` list) against handed to the kernel as they are (B: the wasm backend as it
// ships), one process, one backend instance, calls interleaved (A, B, B, A, ...): per shape the
// median wall time of `corpus.search(q, 10)` and `corpus.similarity(q)` on each, and the median of
// the per-round ratios B / A. Every answer of B is compared with A's, bit for bit. Tall batches
// against small corpora show the gate's copy and scan most.
//   node scripts/corpus-queries-ab.mjs ['QxNxd,...'] [threads] [rounds]
import { createCosineKit, Tensor } from '@cosinekit/core';
import { createWasmBackend } from '../dist/index.js';
import { random } from './random.mjs';

const shapes = (process.argv[2] || '5000x100x384,20000x50x128,1000x100x1536,20000x10x96,1x100000x384')
  .split(',')
  .map((s) => s.split('x').map(Number));
const threads = Number(process.argv[3] || 1);
const rounds = Number(process.argv[4] || 9);

const wasm = createWasmBackend({ threads });
await wasm.init();
const gated = { ...wasm, ungated: wasm.ungated.filter((k) => k !== 'corpusSearch' && k !== 'corpusMatrix') };
const kits = [createCosineKit({ backend: gated }), createCosineKit({ backend: wasm })];
const med = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];
const bits = (v) => new Int32Array(v.buffer, v.byteOffset, v.length);
const same = (x, y) => x.length === y.length && bits(x).every((b, i) => b === bits(y)[i]);

console.log(`wasm, ${threads} thread(s), ${rounds} rounds; A gated, B ungated`);
for (const [q, n, d] of shapes) {
  const rows = new Tensor(random(n * d, n + d), n, d);
  const queries = new Tensor(random(q * d, q + 3 * d), q, d);
  const corpora = [await kits[0].corpus(rows), await kits[1].corpus(rows)];
  for (const [name, call] of [
    ['search', (c) => c.search(queries, Math.min(10, n))],
    ['similarity', (c) => c.similarity(queries)],
  ]) {
    const t = [[], []];
    const ratio = [];
    const last = [];
    for (let r = 0; r < rounds; r++) {
      const one = [0, 0];
      for (const i of r % 2 === 0 ? [0, 1] : [1, 0]) {
        const t0 = performance.now();
        last[i] = await call(corpora[i]);
        one[i] = performance.now() - t0;
        t[i].push(one[i]);
      }
      ratio.push(one[1] / one[0]);
    }
    const [a, b] = last;
    const ok =
      name === 'search' ? same(a.scores, b.scores) && same(a.indices, b.indices) : same(a.data, b.data);
    if (!ok) throw new Error(`${q}x${n}x${d} ${name}: B's answer differs from A's`);
    console.log(
      `${q}x${n}x${d} ${name}: A ${med(t[0]).toFixed(2)} ms, B ${med(t[1]).toFixed(2)} ms, B/A ${med(ratio).toFixed(2)}x (same bits)`,
    );
  }
  for (const c of corpora) c.dispose();
}
for (const k of kits) k.dispose();
wasm.dispose();
