// The consumer test for @cosinekit/backend-pgvector: the packed tarball, installed with its PGlite
// dependencies, searched in Node through the public entry points, against core's reference.
import { createPgvectorBackend } from '@cosinekit/backend-pgvector';
import { createCosineKit, tensor } from '@cosinekit/core';
import { createReferenceBackend } from '@cosinekit/core/backend';

let failures = 0;
const report = (ok, what) => {
  console.log(`${ok ? 'PASS' : 'FAIL'} pgvector: ${what}`);
  if (!ok) failures++;
};

// Seeded rows, so a failure can be replayed.
let s = 7;
const random = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
const n = 300;
const d = 19;
const rows = tensor(Float32Array.from({ length: n * d }, random), [n, d]);
const ids = Array.from({ length: n }, (_, i) => (i === 3 ? 'it\'s "quoted"' : `doc-${i}`));
const queries = tensor(rows.data.slice(0, 3 * d), [3, d]);

const backend = createPgvectorBackend();
const kit = createCosineKit({ backend });
const ref = createCosineKit({ backend: createReferenceBackend() });
try {
  const info = await kit.ready();
  report(
    info.providers.corpusSearch === 'pgvector',
    `corpusSearch runs on ${info.providers.corpusSearch} (${info.details.engine}, pgvector ${info.details.pgvector})`,
  );
  const a = await kit.corpus(rows, { ids });
  const b = await ref.corpus(rows, { ids });
  const [x, y] = await Promise.all([a.search(queries, 5), b.search(queries, 5)]);
  const sameIds = JSON.stringify(x.ids) === JSON.stringify(y.ids);
  const err = Math.max(...Array.from(x.scores, (v, i) => Math.abs(v - y.scores[i])));
  report(
    sameIds && err < 1e-6,
    `top-5 of 3 queries in ${n} x ${d} equals the reference (ids ${sameIds ? 'equal' : 'differ'}, max score error ${err})`,
  );
  report(x.ids[5] === ids[1] && x.ids[10] === ids[2], 'each query finds its own row first, by id');
  a.dispose();
  b.dispose();
} catch (e) {
  report(false, `threw ${e?.stack ?? e}`);
} finally {
  kit.dispose();
  ref.dispose();
  await backend.dispose();
}
process.exit(failures ? 1 : 0);
