import { HOSTILE_CASES, KERNEL_CASES } from './hostile-cases.js';
import { SNAPSHOT_CASES } from './snapshot-cases.js';

const cell = (s: string) => s.replace(/\|/g, '\\|');

/** HOSTILE.md, generated from the tables in hostile-cases.ts. */
export function renderHostile(): string {
  const out: string[] = [
    '# Hostile inputs',
    '',
    '<!-- Generated from test/hostile-cases.ts by `pnpm --filter @cosinekit/reliability-tests docs`; test/hostile.test.ts fails when it is stale. -->',
    '',
    'Every call below goes through a public entry point and gets a `CosineKitError` with the code shown,',
    'whose message names the operation and the argument. `test/hostile.test.ts` runs each one against',
    'every backend available (validation happens in core, so every backend gives the same answer), then',
    'checks that the process is alive, that another resident corpus answers bit for bit as before, and',
    'that no resident handle leaked.',
    '',
    '`q` is one query row of dimension 4, `c` eight corpus rows of dimension 4, `corpus` a resident',
    "corpus of `c` with ids `'a'` to `'h'`. `crafted(fields)` is a corpus file with a valid checksum",
    '(two unit rows of dimension 4, ordinals 0 and 1, next 2) with `fields` replaced.',
  ];
  const groups = [...new Set(HOSTILE_CASES.map((c) => c.group))];
  for (const g of groups) {
    out.push('', `## ${g}`, '', '| input | code | names |', '|---|---|---|');
    for (const c of HOSTILE_CASES.filter((x) => x.group === g)) {
      const names = [`'${c.op}'`, ...(c.arg === undefined ? [] : [`'${c.arg}'`])].join(', ');
      out.push(`| \`${cell(c.input)}\` | \`${c.code}\` | ${cell(names)} |`);
    }
  }
  out.push(
    '',
    '## Below the public API',
    '',
    'Kernels never validate (the API does it once); these calls hand a kernel directly what validation',
    'would have refused. The backend answers with a typed error and keeps working, its memory in use',
    'unchanged.',
    '',
    '| backends | input | code | names |',
    '|---|---|---|---|',
  );
  for (const c of KERNEL_CASES) {
    out.push(`| \`${cell(c.backends.source)}\` | \`${cell(c.input)}\` | \`${c.code}\` | '${c.op}' |`);
  }
  out.push(
    '',
    '## Inputs changed after the call',
    '',
    'What a call uses is its inputs as they were when it was called. `test/snapshot.test.ts` runs each',
    'call below on every backend, then, right after the call returns its promise and before awaiting',
    "it, overwrites the caller's arrays with 0.5, overwrites them with NaN, or transfers their buffers",
    '(`structuredClone(buf, { transfer })`); id lists are overwritten with a repeated id or emptied.',
    'Answer in every case: **the same result, bit for bit, as the same call on untouched inputs**.',
    '',
    '| call |',
    '|---|',
  );
  for (const c of SNAPSHOT_CASES) out.push(`| \`${cell(c.input)}\` |`);
  out.push(
    '',
    '## Lifecycle',
    '',
    'Covered by `test/lifecycle.test.ts` on every backend:',
    '',
    '| situation | what happens |',
    '|---|---|',
    '| `corpus.dispose()` while a search runs | the search finishes with the right answer; later calls get `DISPOSED` |',
    '| `corpus.dispose()` / `kit.dispose()` with 50 searches queued | all 50 finish, equal to the sequential answers; later calls get `DISPOSED`; the handle is released |',
    '| a call before `kit.ready()` | works: the kit initialises on first use, once for concurrent callers |',
    "| a backend whose `init()` throws | every call gets `BACKEND_INIT_FAILED` with the backend's reason |",
    '| a call after `backend.dispose()` | reference: answers (it holds nothing to release); wasm: `DISPOSED`; tfjs and gpujs: the kernels re-open their engine and answer correctly; corpora made before the dispose: `DISPOSED` |',
    '',
    '## Every kernel, every broken answer',
    '',
    '`test/broken-kernels.test.ts` replaces one kernel at a time of the reference, wasm and tfjs-wasm',
    'backends (in a spread copy of the backend, so the copy carries its `ungated` and `selfChecked`',
    'lists) and runs the public call that uses it. Float outputs (`rowNorms`, `normalizeRows`,',
    '`cosineRows`, `cosineMatrix`, `corpusMatrix`, `matmul`, `addBias`, `activation`,',
    '`activationGrad`): one value short or long, a plain array, a Float64Array, NaN first or last,',
    '±Infinity, undefined, null, empty, a cosine of 2 or -1.5; top-k outputs (`topK`, `corpusSearch`,',
    '`corpusSearchAllowed`): a repeated index, index -1 or past the rows, a query short or extra,',
    'Float32Array indices, plain-array scores, NaN or 3 as a score, no scores, null; the corpus group',
    '(`createCorpus`, `exportCorpus`, `readCorpus`): handles of another shape or without `dispose`,',
    'stored rows of another shape, storage or rerank, NaN or out-of-range rows; and for every kernel a',
    'throw, a thrown string, a rejection (with an Error or undefined) and a promise of a number. Answer',
    "in every case: `BACKEND_ERROR` (or the kernel's own `CosineKitError`, renamed), nothing left",
    'resident; a top-k answer merely out of order (each query worst first, or rotated) is put back in',
    'order and equals the untouched answer bit for bit.',
    '',
    'A top-k answer over rows the kit holds (`kit.topK`, and `kit.kernels().topK`) is recomputed:',
    'each score against the float64 cosine of the row it names (O(queries x k x d), small next to the',
    "search), within 5e-4, the conformance suite's loosest cosine tolerance; only the reference's own",
    '`topK` (known by identity) is not. Not detectable without recomputing everything: a resident',
    "corpus's `corpusSearch` whose indices do not match its scores (the kit does not hold the rows), a",
    'top-k of consistent but not nearest rows, a cosine matrix of 0.5 everywhere.',
    '',
    '## Extreme values',
    '',
    '`test/numerics.test.ts` (fast-check) runs vectors of 3.4e38, 1e±38, float32 and float64',
    'subnormals, 1e±300, -0, zero and repeated rows, d = 1 and single rows through `cosine`,',
    '`cosineDistance` and `normalize` (as `number[]`, `Float64Array` and `Float32Array`) and through the',
    "kit's `cosineMatrix`, `cosineRows`, `topK`, corpus search, `rowNorms` and `normalize` on the",
    'reference and wasm backends: every cosine in [-1, 1] and within 1e-9 (core) or 2e-6 (kit) of a',
    'float64 oracle, ties to the lower row, a zero vector giving cosine 0, distance 1 and a zero',
    'normal; NaN, ±Infinity (or 1e39, beyond float32) at any position is `NON_FINITE` naming the',
    'argument; k of 0, -0, N + 1, 1.5, NaN, Infinity, a string, null, a bigint, an array or an object',
    'is `INVALID_K`.',
    '',
    "## In the packages' own tests",
    '',
    '| input | answer | test |',
    '|---|---|---|',
    '| `kit.loadCorpus(buffer.subarray(odd))`, a Node Buffer at byte offsets 0-7, overwritten with 0xff before the load settles | the saved corpus, exactly | core `test/file.test.ts` |',
    '| `corpus.search(q, k, { filter: { mask: buffer } })`, the Buffer overwritten with 255 after the call | the search on the mask as it was | core `test/file.test.ts` |',
    "| `kit.kernels().cosineMatrix` / `corpusMatrix` on rows holding NaN | `BACKEND_ERROR` (the table's rows did not pass the gate, so self-checked outputs are read) | core `test/out.test.ts` |",
    "| a backend spread from one that made its lists with `declareKernels`, one kernel replaced | the replacement's outputs checked | core `test/out.test.ts` |",
    "| `createEncoder` with conv2d `padding: 1e6`, `filters: 2 ** 29`, dense `units` of 10^12 weights, `precision: 'float16'`; `createCosineClassifier` of 10^12 values or `precision: 'float16'` | `INVALID_ARGUMENT` naming `padding`, `filters`, `units`, `classes`, `precision` | nn `test/hostile.test.ts` |",
    '| `loss.compute(ops, input)` outside `train` with NaN/±Infinity in `a`, `b` or `negatives`, a NaN target, `rows: 0`, a short `a`, `a` a plain array | `NON_FINITE`, `EMPTY_INPUT`, `SHAPE_MISMATCH`, `INVALID_TYPE` naming the loss and the argument (every loss) | nn `test/hostile.test.ts` |',
    '| `classifier.predict` / `cosines` / `accuracy` with a NaN or Infinity class vector; `encoder.embed` and the cosine head with a NaN weight | `NON_FINITE` naming `classifier` / `encoder` and the method called (was: class 0 for every row; `BACKEND_ERROR`; then `predict` and `accuracy` named `CosineClassifier.cosines`, the head `embed`) | nn `test/hostile.test.ts` |',
    '| `classifier.predict` / `accuracy` / `cosines` and `CosineHead.pairs` / `matrix` with rows of another width, a NaN row, a non-kit source, a mismatched encoder; `accuracy` and `classificationAccuracy` with NaN, string or missing labels | the code of the fault naming the method called and `x`, `x1`, `x2`, `source`, `encoder` or `labels` (was: `CosineClassifier.cosines` or `embed` and `x`; NaN labels lowered the accuracy silently) | nn `test/hostile.test.ts` |',
    "| `evaluateRetrieval` with NaN, Infinity or '0' labels, no labels, a null set, k past the rows, no queries | `NON_FINITE` / `INVALID_TYPE` / `INVALID_K` / `EMPTY_INPUT` naming `evaluateRetrieval` and `set.*` or `k` | nn `test/hostile.test.ts` |",
    '| `recallAtK` / `knnAccuracy` with the same sets, k of 0, 1.5, past the rows or a list, a disposed resident corpus, a bad `tieBreak` or `options` | the same codes naming `recallAtK` / `knnAccuracy` (was: `evaluateRetrieval`; a list of k answered `undefined`) | nn `test/hostile.test.ts` |',
    '| `spearman(x, y)` with `x` or `y` constant (all equal, -0 and 0, one value) | `INVALID_ARGUMENT` naming `spearman` and the series (was: 0, read as "uncorrelated") | nn `test/evaluate.test.ts`, `test/hostile.test.ts` |',
    '| `inBatchSampler` / `tripletSampler` / `pairSampler` on labels of one class; on labels where every class has one row (no `augment`) | `INVALID_ARGUMENT` naming the sampler and `data.labels` (was: `inBatchSampler` trained at loss 0 every batch; every positive the anchor with itself) | nn `test/hostile.test.ts` |',
    "| `pairSampler(data, { positiveFraction: NaN / 2 / '0.5' })` | `INVALID_ARGUMENT` / `INVALID_TYPE` naming `positiveFraction` | nn `test/hostile.test.ts` |",
    '| `encoder.embed(kit, x, batchSize)` with 0 (looped forever), NaN (zeros), -1, 1.5, Infinity | `INVALID_ARGUMENT` naming `batchSize` | nn `test/hostile.test.ts` |',
    '| `saveEncoder` of a non-encoder, of NaN / ±Infinity / 2^41 weights (files `loadEncoder` refuses), with a cyclic or bigint `meta` | `INVALID_TYPE` / `NON_FINITE` / `INVALID_ARGUMENT` naming `encoder` or `meta` | nn `test/hostile.test.ts` |',
    '| `adam` / `sgd` with `cosineSchedule(base, total)` run past `total` steps (learning rate 0) | trains on (was: `INVALID_ARGUMENT` mid-run) | nn `test/hostile.test.ts` |',
    "| `adam` / `sgd` with a schedule that gives NaN past its end; a custom optimiser whose `learningRate()` is NaN, -1 or a string | `INVALID_ARGUMENT` naming `learningRate` (from `train` and `learningRate()`), or the code of the fault naming `optimizer` (was: NaN in `train`'s history) | nn `test/hostile.test.ts` |",
    "| `normalizeRowsForward` / `normalizeRowsBackward` with a NaN or ±Infinity row or another length; `Encoder.backward` and every layer's `forward` / `backward` with rows or gradients of another length, fractional rows or a foreign cache | `NON_FINITE` / `SHAPE_MISMATCH` / `INVALID_ARGUMENT` / `INVALID_TYPE` naming the method and `x`, `dy`, `fwd`, `dOut`, `rows` or `cache` (was: a zero row; NaN or zero gradients) | nn `test/hostile.test.ts` |",
    "| `Encoder.forward` / a layer's `forward` given a NaN row; `float64Ops.matmul` / `addBias` / `activationGrad` with short arrays, `activation('softplus')`; `createRng().int(NaN / 0 / -5)`, `shuffle(null)`; `new Conv2dLayer()`, `new CosineClassifier(2, 2, null)`; a layer `type: 'constructor'`; `encoder.embed` on a kit that cannot lend its kernels (a worker kit) | `NON_FINITE` / `SHAPE_MISMATCH` / `INVALID_ARGUMENT` / `INVALID_TYPE` / `UNSUPPORTED` naming the method called and its argument (was: `matmul` and `a`; NaN answers; raw TypeErrors; `kernels` and no argument) | nn `test/hostile.test.ts` |",
    '| a worker kit given a `Proxy` around rows, rows that are Proxies, an array carrying a function, ids or an allow list in a Proxy, a stream of Proxy chunks | the in-process answer, bit for bit (copied into a Float32Array that moves to the worker; was: `INVALID_TYPE`, cannot be sent) | worker `test/kit.node.test.ts` |',
    '| either kit given a Proxy around a Float32Array, as rows or as one row; a Proxy array core refuses (a string, ragged, NaN, empty, repeated ids) | the same `CosineKitError` from both (the Proxy around a Float32Array: `INVALID_TYPE`; was a TypeError in-process) | worker `test/kit.node.test.ts` |',
    '',
  );
  return out.join('\n');
}
