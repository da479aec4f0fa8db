// One-off kit calls on rows held as arrays (no corpus), on two builds of the repository, A and B
// (each a checkout with core and backend-wasm built): `kit.cosineMatrix(q, rows)` and
// `kit.topK(q, rows, 10)`, calls interleaved (A, B, B, A, ...) so both see the same machine; per
// shape the median wall time of each and the median of the per-round ratios B / A. Small shapes
// repeat the call so that a timing covers at least about a million values. Every answer of B is
// compared with A's: the same top-k rows and, unless --loose, the same bits. A shape of two
// numbers, NxD, times `kit.rowNorms(rows)`, `kit.normalize(rows)`, `kit.corpus(rows)` (built and
// disposed; its search of one query is compared), the same with `storage: 'int8'`, `corpus.add(rows)` (to a corpus of one row,
// made in the call too; merged as the kit merges) and `kit.corpusFrom` (the rows streamed in
// chunks of 1000, views of one array) instead.
//   node scripts/oneoff-ab.mjs <rootA> <rootB> ['QxNxd,NxD,...' or '' for the defaults] [threads] [rounds] [--loose]
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { random } from './random.mjs';

const args = process.argv.slice(2).filter((a) => a !== '--loose');
const loose = process.argv.includes('--loose');
const [rootA, rootB] = args;
const shapes = (
  args[2] || '1x100000x64,1x100000x384,1x20000x1536,8x50000x384,64x10000x768,1000x1000x96,1x1000x384'
)
  .split(',')
  .map((s) => s.split('x').map(Number));
const threads = Number(args[3] || 1);
const rounds = Number(args[4] || 7);

async function build(root) {
  const at = (p) => pathToFileURL(join(root, 'packages', p)).href;
  const core = await import(at('core/dist/index.js'));
  const wasm = await import(at('backend-wasm/dist/index.js'));
  const kit = core.createCosineKit({ backend: wasm.createWasmBackend({ threads }) });
  await kit.ready();
  return { kit, Tensor: core.Tensor };
}

const med = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];
const bits = (v) => new Int32Array(v.buffer, v.byteOffset, v.length);
const same = (x, y) => x.length === y.length && bits(x).every((b, i) => b === bits(y)[i]);

const builds = [await build(rootA), await build(rootB)];
console.log(`A ${rootA}\nB ${rootB}\nthreads ${threads}, ${rounds} rounds, wall ms per call (medians)`);
console.log('| Q x N x d | call | A | B | B / A |\n|---|---|---:|---:|---:|');
for (const shape of shapes) {
  const rowsOnly = shape.length === 2;
  const [q, n, d] = rowsOnly ? [0, ...shape] : shape;
  const qd = random(Math.max(1, q) * d, 1);
  const cd = random(n * d, 2);
  const inputs = builds.map(({ Tensor }) => [new Tensor(qd, Math.max(1, q), d), new Tensor(cd, n, d)]);
  const reps = Math.max(1, Math.ceil(1e6 / ((q + n) * d)));
  for (const op of rowsOnly
    ? ['rowNorms', 'normalize', 'corpus', 'corpus int8', 'corpus.add', 'corpusFrom']
    : ['cosineMatrix', 'topK']) {
    let check = true;
    const call = async (i) => {
      const [a, c] = inputs[i];
      const kit = builds[i].kit;
      if (op.startsWith('corpus')) {
        const { Tensor } = builds[i];
        const chunks = function* () {
          for (let r = 0; r < n; r += 1000) {
            const e = Math.min(n, r + 1000);
            yield new Tensor(c.data.subarray(r * d, e * d), e - r, d);
          }
        };
        const corpus =
          op === 'corpusFrom'
            ? await kit.corpusFrom(chunks())
            : op === 'corpus int8'
              ? await kit.corpus(c, { storage: 'int8' })
              : await kit.corpus(op === 'corpus' ? c : a);
        if (op === 'corpus.add') await corpus.add(c);
        const r = check ? await corpus.search(a, Math.min(10, n)) : undefined;
        corpus.dispose();
        return r;
      }
      if (op === 'rowNorms') return kit.rowNorms(c);
      if (op === 'normalize') return kit.normalize(c).then((t) => ({ data: t.data }));
      return op === 'topK' ? kit.topK(a, c, Math.min(10, n)) : kit.cosineMatrix(a, c);
    };
    const answers = [await call(0), await call(1)];
    check = false;
    if (op === 'rowNorms') {
      if (!loose && !same(answers[0], answers[1])) throw new Error(`${n}x${d} rowNorms: other bits`);
    } else if (op === 'topK' || op.startsWith('corpus')) {
      const [x, y] = answers;
      if (!x.indices.every((v, i) => v === y.indices[i])) throw new Error(`${q}x${n}x${d} topK: other rows`);
      if (!loose && !same(x.scores, y.scores)) throw new Error(`${q}x${n}x${d} topK: other score bits`);
    } else if (!loose && !same(answers[0].data, answers[1].data)) {
      throw new Error(`${q}x${n}x${d} ${op}: other bits`);
    }
    const time = async (i) => {
      const t0 = performance.now();
      for (let r = 0; r < reps; r++) await call(i);
      return (performance.now() - t0) / reps;
    };
    const T = [[], []];
    const R = [];
    for (let r = 0; r < rounds; r++) {
      const t = [];
      for (const i of r % 2 ? [1, 0] : [0, 1]) t[i] = await time(i);
      T[0].push(t[0]);
      T[1].push(t[1]);
      R.push(t[1] / t[0]);
    }
    const f = (v) => (v >= 10 ? v.toFixed(1) : v.toFixed(2));
    const at = rowsOnly ? `${n} x ${d}` : `${q} x ${n} x ${d}`;
    console.log(`| ${at} | ${op} | ${f(med(T[0]))} | ${f(med(T[1]))} | ${med(R).toFixed(2)}x |`);
  }
}
for (const { kit } of builds) kit.dispose();
process.exit(0);
