// The checks the consumer test runs in Node (node.mjs) and in Chromium (main.js): every backend
// through the packages' public entry points, compared with core's reference backend.
import * as users from '@cosinekit/core';
import { createCosineKit, Tensor } from '@cosinekit/core';
import * as authors from '@cosinekit/core/backend';
import { adam, createEncoder, inBatchSampler, multipleNegativesRankingLoss, train } from '@cosinekit/nn';

const TOLERANCE = 1e-4;

/** Deterministic data (mulberry32), so a failure reproduces. */
function random(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function rows(n, d, seed) {
  const next = random(seed);
  const out = new Float32Array(n * d);
  for (let i = 0; i < out.length; i++) out[i] = next() * 2 - 1;
  return out;
}

// Awkward shapes on purpose: d and N are not multiples of any tile or SIMD width; one zero row.
const Q = 5;
const N = 301;
const D = 37;
const K = 7;
const queries = new Tensor(rows(Q, D, 1), Q, D);
const docData = rows(N, D, 2);
docData.fill(0, 10 * D, 11 * D);
const docs = new Tensor(docData, N, D);
const ids = Array.from({ length: N }, (_, i) => `doc-${i}`);

function maxDiff(a, b) {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/**
 * Top-k agrees when the scores agree and every hit's true (reference) cosine is its score: near
 * ties may legitimately swap between float32 engines.
 */
function topKDiff(result, refResult, refMatrix) {
  let m = maxDiff(result.scores, refResult.scores);
  for (let q = 0; q < result.queries; q++) {
    const h = result.hits(q);
    for (let j = 0; j < h.indices.length; j++) {
      m = Math.max(m, Math.abs(refMatrix[q * N + h.indices[j]] - h.scores[j]));
    }
  }
  return m;
}

async function tryCheck(log, label, fn) {
  try {
    const detail = await fn();
    log({ ok: true, label, detail });
    return true;
  } catch (err) {
    log({ ok: false, label, detail: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    return false;
  }
}

/** What each of core's entries must offer, and what neither may (internals of the kernels). */
const AUTHORS_NEED = [
  'registerBackend',
  'unregisterBackend',
  'getBackend',
  'referenceKernels',
  'createReferenceBackend',
  'resolveKernels',
  'KERNEL_NAMES',
  'TopKSelector',
  'argError',
  'checkFinite',
  'toTensor',
  'clampCos',
  'matmulDims',
  'encodeCorpusFile',
  'decodeCorpusFile',
  // The checksum of corpus files and of @cosinekit/nn's encoder files.
  'crc32',
];
const USERS_NEED = ['cosine', 'createCosineKit', 'cosinekit', 'tensor', 'Tensor', 'Corpus', 'listBackends'];
const INTERNALS = ['dotTiles', 'toHalf', 'guardRows', 'CheckedKernels'];

/**
 * `@cosinekit/core` and `@cosinekit/core/backend` from the tarball: each resolves and exports its
 * part, internals are in neither, and both are one module graph (one registry, one error class),
 * so a backend registered through the authors' entry serves a kit made with the users' entry.
 */
function checkCoreEntries(log) {
  return tryCheck(log, "core's two entries", async () => {
    const absent = [
      ...USERS_NEED.filter((n) => !(n in users)).map((n) => `@cosinekit/core lacks ${n}`),
      ...AUTHORS_NEED.filter((n) => !(n in authors)).map((n) => `@cosinekit/core/backend lacks ${n}`),
      ...['registerBackend', 'referenceKernels', 'crc32', ...INTERNALS]
        .filter((n) => n in users)
        .map((n) => `@cosinekit/core exports ${n}`),
      ...INTERNALS.filter((n) => n in authors).map((n) => `@cosinekit/core/backend exports ${n}`),
    ];
    if (absent.length) throw new Error(absent.join('; '));
    if (users.CosineKitError !== authors.CosineKitError) throw new Error('two copies of CosineKitError');
    const name = 'consumer-entries';
    // Below the reference's priority, so the default kit never picks it.
    authors.registerBackend(
      name,
      () => ({ name, kernels: { rowNorms: authors.referenceKernels.rowNorms } }),
      -100,
    );
    try {
      if (!users.listBackends().some((b) => b.name === name)) throw new Error('registry not shared');
      const kit = createCosineKit({ backend: name });
      const info = await kit.ready();
      const norms = await kit.rowNorms([[3, 4]]);
      kit.dispose();
      if (info.providers.rowNorms !== name || norms[0] !== 5)
        throw new Error(`rowNorms ran by ${info.providers.rowNorms}: ${norms[0]}`);
      return `${Object.keys(users).length} + ${Object.keys(authors).length} exports, one registry`;
    } finally {
      authors.unregisterBackend(name);
    }
  });
}

/**
 * Runs every check; `backends` is a list of `{ label, create, expect? }` where `create()` returns a
 * Backend and `expect(describe)` returns an error message when the backend runs the wrong engine.
 * `log` receives `{ ok, label, detail }` per check. Resolves to true when all pass.
 */
export async function runChecks(backends, log) {
  const reference = createCosineKit({ backend: 'reference' });
  const refMatrix = (await reference.cosineMatrix(queries, docs)).data;
  const refTopK = await reference.topK(queries, docs, K);
  let ok = await checkCoreEntries(log);

  for (const { label, create, expect } of backends) {
    ok =
      (await tryCheck(log, label, async () => {
        const backend = create();
        const kit = createCosineKit({ backend });
        const info = await kit.ready();
        const details = backend.describe?.() ?? {};
        const wrong = expect?.(details);
        if (wrong) throw new Error(`${wrong} (describe: ${JSON.stringify(details)})`);
        const matrix = await kit.cosineMatrix(queries, docs);
        const dm = maxDiff(matrix.data, refMatrix);
        const dk = topKDiff(await kit.topK(queries, docs, K), refTopK, refMatrix);
        const corpus = await kit.corpus(docs, { ids });
        const found = await corpus.search(queries, K);
        const dc = topKDiff(found, refTopK, refMatrix);
        for (let i = 0; i < found.indices.length; i++) {
          if (found.ids[i] !== `doc-${found.indices[i]}`)
            throw new Error(`corpus id ${found.ids[i]} at ${i}`);
        }
        corpus.dispose();
        const worst = Math.max(dm, dk, dc);
        if (!(worst <= TOLERANCE)) {
          throw new Error(`differs from the reference: cosineMatrix ${dm}, topK ${dk}, corpus search ${dc}`);
        }
        const ran = ['cosineMatrix', 'topK', 'corpusSearch']
          .map((k) => `${k}:${info.providers[k]}`)
          .join(' ');
        kit.dispose();
        await backend.dispose?.();
        const engine = ['engine', 'mode', 'kernel', 'variant']
          .filter((k) => k in details)
          .map((k) => details[k]);
        return `${info.backend} [${engine.join(' ')}] ${ran}, max diff ${worst.toExponential(1)}`;
      })) && ok;
  }

  ok =
    (await tryCheck(log, 'nn: train 2 epochs', async () => {
      const kit = createCosineKit({ backend: backends[0].create() });
      const classes = 4;
      const cols = 12;
      const n = 96;
      const next = random(3);
      const centres = rows(classes, cols, 4);
      const x = new Float32Array(n * cols);
      const labels = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        labels[i] = i % classes;
        for (let j = 0; j < cols; j++) x[i * cols + j] = centres[labels[i] * cols + j] + (next() - 0.5) * 0.8;
      }
      const encoder = createEncoder({
        inputs: cols,
        layers: [{ units: 16, activation: 'relu' }, { units: 8 }],
        normalize: true,
        seed: 1,
      });
      const result = await train({
        kernels: kit,
        encoder,
        loss: multipleNegativesRankingLoss(),
        sampler: inBatchSampler({ x, rows: n, cols, labels }, { batchSize: 16 }),
        optimizer: adam({ learningRate: 1e-2 }),
        epochs: 2,
      });
      const [first, second] = result.history.map((e) => e.loss);
      if (!(second < first)) throw new Error(`loss did not decrease: ${first} -> ${second}`);
      const embeddings = await encoder.embed(kit, new Tensor(x, n, cols));
      if (embeddings.rows !== n || embeddings.cols !== 8) throw new Error('embed: wrong shape');
      const ran = (await kit.ready()).backend;
      kit.dispose();
      return `on ${ran}: loss ${first.toFixed(4)} -> ${second.toFixed(4)}`;
    })) && ok;

  return ok;
}
