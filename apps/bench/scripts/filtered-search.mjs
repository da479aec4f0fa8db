// Filtered search: the time of `corpus.search(q, k, { filter })` with filters keeping 1%, 10% and
// 50% of the rows, against the unfiltered search, on the reference backend and on wasm (both score
// only the rows that pass; wasm gathers them when few pass and streams every row when many do), and
// on pgvector (PGlite in memory, exact; the filter goes into the SQL WHERE clause).
// Every filtered answer is checked against a brute-force top-k over the passing rows first.
// Usage (after a build): node apps/bench/scripts/filtered-search.mjs [N=1000000] [d=384] [Q=8] [k=10] [backends=reference,wasm] (add pgvector to time it too)

import { createPgvectorBackend } from '@cosinekit/backend-pgvector';
import { createWasmBackend } from '@cosinekit/backend-wasm';
import { createCosineKit, Tensor } from '@cosinekit/core';
import { createReferenceBackend } from '@cosinekit/core/backend';
import { random } from './random.mjs';

const N = Number(process.argv[2] ?? 1_000_000);
const d = Number(process.argv[3] ?? 384);
const Q = Number(process.argv[4] ?? 8);
const k = Number(process.argv[5] ?? 10);
const backends = (process.argv[6] ?? 'reference,wasm').split(',');
const REPS = 3;

/** A mask keeping about `share` of the rows, spread by a hash of the row number. */
function maskOf(share) {
  const m = new Uint8Array(N);
  for (let i = 0; i < N; i++) m[i] = (Math.imul(i + 1, 2654435761) >>> 0) / 2 ** 32 < share ? 1 : 0;
  return m;
}

/** Median wall time of `REPS` runs, in ms. */
async function time(run) {
  const t = [];
  for (let r = 0; r < REPS; r++) {
    const t0 = performance.now();
    await run();
    t.push(performance.now() - t0);
  }
  return t.sort((a, b) => a - b)[REPS >> 1];
}

const rows = new Tensor(random(N * d, 7), N, d);
const queries = new Tensor(random(Q * d, 11), Q, d);
const shares = [1, 0.5, 0.1, 0.01];
console.log(`filtered search, N=${N} d=${d} Q=${Q} k=${k}, median of ${REPS}`);
for (const name of backends) {
  const backend =
    name === 'wasm'
      ? createWasmBackend()
      : name === 'pgvector'
        ? createPgvectorBackend()
        : createReferenceBackend();
  const kit = createCosineKit({ backend, timeoutMs: 0 });
  const info = await kit.ready();
  const t0 = performance.now();
  const corpus = await kit.corpus(rows);
  console.log(`${info.backend.padEnd(10)} corpus built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  let full = 0;
  for (const share of shares) {
    const mask = share === 1 ? null : maskOf(share);
    const options = mask ? { filter: { mask } } : {};
    if (mask) {
      // Exact: the same rows as a search over a corpus of the passing rows alone.
      const keep = [];
      for (let i = 0; i < N; i++) if (mask[i]) keep.push(i);
      const sub = new Float32Array(keep.length * d);
      keep.forEach((r, i) => {
        sub.set(rows.data.subarray(r * d, (r + 1) * d), i * d);
      });
      const want = await kit.topK(queries, new Tensor(sub, keep.length, d), k);
      const got = await corpus.search(queries, k, options);
      for (let i = 0; i < Q * k; i++)
        if (keep[want.indices[i]] !== got.indices[i] && Math.abs(want.scores[i] - got.scores[i]) > 1e-6)
          throw new Error(`${name} ${share}: rank ${i} differs`);
    }
    const ms = await time(() => corpus.search(queries, k, options));
    if (share === 1) full = ms;
    console.log(
      `${info.backend.padEnd(10)} ${String(share * 100).padStart(4)}% pass  ${ms.toFixed(1).padStart(9)} ms  ${(ms / Q).toFixed(2).padStart(8)} ms/query  (${((100 * ms) / full).toFixed(0)}% of unfiltered)`,
    );
  }
  corpus.dispose();
  kit.dispose();
  await backend.dispose?.();
}
