// Bundle-size budget: every JavaScript entry of each publishable package's exports map (so core's
// `@cosinekit/core` and `@cosinekit/core/backend` alike, and each backend's `/register`), bundled
// with esbuild (minified, ESM, dependencies external: we measure our own code), gzipped at level 9;
// plus every .wasm it ships. `node size.mjs` checks the budgets (exit 1 when over); `--write` also
// updates the README table.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { jsEntries } from './lib/package-checks.mjs';

const root = resolve(import.meta.dirname, '..');
/**
 * Gzipped budgets in bytes, by import specifier. Core's users' entry has the budget the README
 * promises (22 KB: it was 15 KB until the admission gate, the checks on what backends return and
 * the versioned stored-corpus codec added about 5 KB; filtered search, abort, corpora built from
 * streams and the streaming file codec's shared pieces took it to 20.5 KB, so the budget moved
 * from 20 to 22 KB; the file helpers themselves live in /fs and /opfs; reused outputs of the
 * similarity matrices (`options.out`, with its typed errors) and self-checked matrix kernels added
 * 0.44 KB to a 21.95 KB entry, so 22.5 KB; the kernel table's optimiser checks and the gate's
reused large snapshot buffer took it to the edge of that, so 23 KB; the reference kernels of the
 * two fixed-bits nn kernels, `softmaxCrossEntropy` with its float32 exp and log and `columnSums`,
 * which run wherever a backend lacks them, and the checks on what those return took it to 24.5 KB,
 * so 25 KB; the sampled check that a top-k answer's rows are the best took it to 25.1 KB, so
 * 25.5 KB; taking `cosineMatrix` and `topK` off the gate for backends that declare them ungated
 * took it to 25.7 KB, so 26 KB; `rowNorms`, `normalizeRows` and `createCorpus` off the gate too,
 * and the faster check of a unit or cosine output, took it to 26.2 KB, so 26.5 KB; `corpus.add` and
 * `corpusFrom` off the gate's snapshot and the gate's faster scan took it to 26.6 KB, so 27 KB;
 * shapes checked with array inputs, named getter and iterator errors, OUT_OF_MEMORY and the
 * top-k check's long-row tolerance took it to 27.1 KB, so 27.5 KB; options copied once at every
 * entry, corpora refusing calls once their backend is disposed, and the corpus file's check that a
 * re-ranked row's two copies agree took it to 27.6 KB, so 28 KB; refusing options a call does not take,
 * numbers beyond float32 by name, a save's progress callbacks awaited after its turn and the registry
 * reset before disposal (hostile-input probes' findings) took it to 28.2 KB, so 28.5 KB; a backend's
 * hanging init, failing dispose and unreadable throws handled by name took it to 28.5 KB, so 29 KB; a file
 * helpers' probe (unique temporary files, re-checked reads, a faster CRC-32) and refusing overridden
 * lengths, shrunk views and overlapping `out` took it to 29.1 KB, so 29.5 KB; options read once by one
 * shared helper, an abort that does not wait for a pending progress promise, and Float32Array
 * subclasses held as plain views (three probes' findings) took it to 29.5 KB, so 30 KB; corpora being
 * made when the kit is disposed, corpus handles a timed-out kernel makes later, an `out` transferred
 * while its kernel runs and upkeep failures after an add or a remove (a concurrency probe's findings)
 * took it to 30.2 KB, so 31 KB; a third-party backend's unreadable answers and `describe()` named as
 * that backend failing, and values described by their prototype's constructor (a hostile-input
 * probe's findings) took it to 31.2 KB, so 32 KB; the kernel table naming a caller's non-finite
 * inputs and checking the stored corpora it imports (a mutation, a leak and a review probe's
 * findings) took it to 32.2 KB, so 33 KB; the kernel table checking its callers' shapes, k, out and
 * activation (a hostile-input probe's finding) took it to 33.0 KB, so 34 KB; the fixes of a
 * concurrency, a slow-shape and a file probe (bounded registry starts, removed rows searched as a
 * filter, banded similarity over segments, a float16 decode table, typed file-size limits) took it
 * to 34.1 KB, so 35 KB; a slow-shape and a file probe's fixes (one grouped pass for candidates tied at
 * the re-rank cut-off, an abort not held by a stalled stream, one header rule for bytes and files)
 * took it to 35.0 KB, so 36 KB; a contract probe's fixes (rows a backend exports or reads back checked
 * as a file's rows are) took it to 36.0 KB, so 37 KB; segments merged by the backend's own
 * `mergeCorpora` (its argument checks in the kernel table, the reference's merge) took it to 37.6 KB,
 * so 38 KB; re-ranked int8 search made exact by the storage's error bound (the reference's bound,
 * the rows within it listed, crowded queries scanned whole) took it to 38.0 KB, so 38.5 KB; a
 * hostile-input and a slow-shape probe's fixes (the kernel table's norms past float32, zero queries
 * on a re-ranked corpus, ties past the rows worth re-scoring, segments' results merged) took it to
 * just past 38.5 KB, so 39.5 KB; checks of what a third-party backend hands back (its errors that
 * blamed the caller, answers on resizable buffers) took it to 39.6 KB, so 40 KB; the checksum
 * reading words rather than bytes (loads 1.7x faster to check) took it to 40.1 KB, so 40.5 KB; a
 * corpus's queries handed to an ungated `corpusSearch` or `corpusMatrix` took it to 40.8 KB, so
 * 41 KB, and the file helpers' entries, /fs and /opfs, which bundle the corpus, to 20.1 KB, so
 * 20.5 KB; a kit's dispose ending the waits on a caller's stalled source or onProgress, and its
 * fallback hook's promise reported, took it to 41.0 KB, so 41.5 KB; OPFS saves of one name taking
 * turns and a similarity's out shrunk while it waits took /opfs to 20.5 KB, so /fs and /opfs 21 KB;
 * a throwing onFallback failing one call and a kit starting during disposeBackends() getting the
 * fresh instance took the entry to 41.5 KB, so 42 KB; kernel errors with codes outside the stable
 * list, a kernel refusing its own backend's corpus, ungated queries scanned, the table's corpus
 * options and allow bytes checked, and corpusFrom's iterator results read once took it just past
 * 42 KB, so 42.5 KB; normalised rows checked for length and a sample's direction took it to
 * 42.5 KB, so 43 KB; the kernel table's optimiser kernels checking their callers' rules, arrays
 * and states took it to 43.8 KB, so 44 KB; id lists read by their length first, an empty out
 * told from a detached one and the review's fixes to the new checks took it to 44.0 KB, so
 * 44.5 KB; ungated corpus kernels probed once for their refusal of non-finite queries instead of
 * every query scanned took it to 44.5 KB, so 45 KB; kit and corpus methods refusing arguments
 * past those they take (a docs review's finding) took it to 44.9 KB, so 45.5 KB; corpusFrom
 * handing chunks to a merging backend, the probes' control query and faster list and file checks
 * took it to 45.5 KB, so 46.5 KB); the
 * backend authors' entry (reference kernels, registry, checks; 7.6 KB when it was
 * split off, 9.9 KB with the stored-corpus kernels, 13.3 KB with the two nn kernels) gets 14 KB; exporting `checkSignal` and `disposedBackend` (final
 * disposal on every backend) took it to 14.3 KB, so 14.5 KB; the options check the backend factories share,
 * quiet disposal and readable errors for any thrown value took it to 14.5 KB, so 15 KB; the re-ranked
 * candidates taken through ties at the cut-off (`throughTies`, shared with the wasm backend) and
 * `beyondFloat32` took it to 15.1 KB, so 15.5 KB; `describeType`, `valueText` and `errorText` for
 * every package's messages (so none calls a caller's toString) and getBackend's argument checks
 * took it to 15.5 KB, so 16 KB; the authors' helpers checking what they are given (matrices, kernel
 * names, selector counts) and a corpus file verified as it is encoded took it to 16.5 KB, so 17 KB;
 * the same probes' fixes (the registry's bounded starts, the codec's header checks) took it to
 * 17.1 KB, so 17.5 KB; a re-rank that widens where the candidates' own error says crowded rows may
 * be missed took it to 17.7 KB, so 18 KB; the reference's `mergeCorpora` took it to 18.2 KB, so
 * 18.5 KB; the same exact re-rank took it to 18.5 KB, so 19 KB; `isCheckedKernelTable` and
 * `orAbort` for @cosinekit/nn took it to 19.0 KB, so 19.5 KB; the binary16 table shared with
 * the stored rows' check took it just past 19.5 KB, so 20 KB; the extra-argument check and Node's
 * own CRC-32 took it to 20.0 KB, so 20.5 KB.
 * An entry not listed here gets DEFAULT_BUDGET.
 */
const BUDGET = {
  '@cosinekit/core': 46_500,
  '@cosinekit/core/backend': 20_500,
  // The file helpers bundle the parts of core they use: core's extra-argument check took /opfs to
  // 21.1 KB, so 21.5 KB for both; the corpus's filters and faster file checks to 21.5 KB, so 22 KB.
  '@cosinekit/core/fs': 22_000,
  '@cosinekit/core/opfs': 22_000,
  // The wasm backend's JS side: within the default until `mergeCorpora` took it to 20.1 KB, so
  // 20.5 KB; exact re-ranked search on crowded rows (the error bound, the float32 scan of crowded
  // queries, the memory of crowded searches) took it to 20.7 KB, so 21 KB; float16 corpora (binary16
  // panels decoded as they are searched) took it to 21.8 KB, so 22 KB; helpers given a bound on
  // their start (tuning.helperStartMs) and a load failure said in words took it to 22.1 KB, so 22.5 KB;
  // many rows against a few streamed the other way, and queries staged a chunk at a time, took it
  // to 22.7 KB, so 23 KB (the register entry 22.5 KB).
  '@cosinekit/backend-wasm': 23_000,
  '@cosinekit/backend-wasm/register': 22_500,
  // The calling thread's side of a worker kit: messages, stand-ins and error mapping (4.1 KB when
  // it was written); the worker's side imports core itself. Naming as core names them a tensor a
  // later getter shrank, a signal whose reading throws, and a kit disposed while its arguments were
  // read took it to 8.0 KB, so 8.5 KB; naming `transfer` among the options an unknown one is
  // refused against took it just past 8.5 KB, so 9 KB; refusing arguments past those a call takes
  // took it just past 9 KB, so 9.5 KB.
  '@cosinekit/worker': 9_500,
  // The model package: 19.7 KB when every evaluation, classifier and head error was made to name the
  // function called (not the one it delegates to) and the pair samplers came to refuse labels they
  // could only train on nothing with; those took it to 20.5 KB, so 21 KB. Checking custom
  // samplers' batches, the optimisers' gradients and weights, the images layers read, null options
  // and the normalisation gradient's overflow (a hostile-input probe's findings) took it to
  // 22.6 KB, so 23 KB. Refusing null and non-boolean options, integer seeds, train's abort signal
  // and the header's length check before layers are built took it to 23.0 KB, so 23.5 KB. An
  // optimiser that starts afresh or says its moments are gone, float64 rows rescaled in the shared
  // normalisation, label and group-id checks, weights too large for float32 named and misspelt
  // options refused (a second probe's findings) took it to 23.8 KB, so 24 KB. A third probe's
  // (training that yields to the event loop, diverged weights named, every saved file loadable)
  // took it to 24.2 KB, so 24.5 KB. A fourth probe's (thresholds exact at any magnitude, float64
  // moments restarted, subnormal rows refused by embed, what the caller's own code throws named,
  // typed errors for every argument that was a TypeError) took it to 25.5 KB, so 26 KB. One train
  // per encoder, calls that read their inputs and weights at the call, and options once taken
  // silently (precisions, shapes with holes, seeds, misspelt hooks) took it to 26.0 KB, so 27 KB.
  // A fifth probe's (optimiser moments released when collected, bounded negative draws, layer
  // specs checked by type) took it to 27.1 KB, so 28 KB. A sixth probe's (every layer's and the
  // encoder's own passes checking their rows and gradients, float64Ops checking shapes, Rng and
  // the constructors their arguments) took it to 28.2 KB, so 29 KB. A seventh probe's (gradients
  // Adam's float32 moments cannot hold, rows shrunk during an epoch, optimisers and class vectors
  // shared by two trains, weights a hook wrote, evaluations in blocks with a signal) took it to
  // 29.8 KB, so 30 KB. An eighth probe's (copyFrom comparing the whole architecture, a model file
  // refused as createEncoder refuses it, generator augments) took it to 30.1 KB, so 30.5 KB. A
  // ninth's (array-like series, a sampler's batches per epoch, a loss's scale named as its own,
  // adam's epsilon past float32, randomShift's max, dOut named for its overflow, a loss term's
  // NaN, saveEncoder's meta as JSON keeps it) took it to 31.0 KB, so 31.5 KB. A tenth's (Adam's
  // epsilon bound by its second moment's underflow and float64 gradients it cannot hold, a conv
  // kernel of two entries, holes in meta, a worker kit's corpus evaluated) took it to 31.7 KB, so
  // 32 KB; the same probe's second round (a raw kernel table behind a kit's checks, promises
  // refused with their rejections handled, a custom loss's parameters and gradients checked, a
  // look-alike corpus's answers checked) to 32.6 KB, so 33 KB. Rows a shrinking model takes below
  // float32's normal range taken again in float64, allocations refused as OUT_OF_MEMORY and an
  // abort while a hook is pending took it to 33.4 KB, so 34 KB. An eleventh probe's (a custom
  // step raced against the signal, a loss's gradients and the encoder's weights bounded before use,
  // meta checked as JSON writes it, caches tied to their encoder, alloc's size named) took it to
  // 34.1 KB, so 35 KB; evaluation making a matrix corpus resident once and a typed scan of the
  // gradients took it to 35.0 KB, so 35.5 KB.
  '@cosinekit/nn': 35_500,
  // The conformance suite: 19.5 KB until the cases for ungated kernels (`Backend.ungated`) took it
  // to 20.5 KB, so 21 KB; rowNorms, normalizeRows and createCorpus among them, 21.2 KB, so 22 KB;
  // the disposal case (`checkDisposal`), 22.1 KB, so 22.5 KB; every call checked to leave its inputs
  // as they were, and timeouts on calls that never settle (a probe's findings), 22.7 KB, so 23 KB;
  // the runners' option checks (numRuns 0 ran nothing and passed), 23.1 KB, so 23.5 KB; a mutation
  // probe's findings (outputs written into `out` checked, shapes past a tile of 64, quantised scores
  // without re-ranking held to their bound), 24.3 KB, so 25 KB; a second mutation probe's (the
  // state cases: answers for each call's own inputs, disposed corpora refused; corpusMatrix's
  // range; corpusSearchAllowed's ties), 26.1 KB, so 27 KB; the `mergeCorpora` case, 27.3 KB, so
  // 27.5 KB; a third mutation probe's (views at an offset, answers over three calls and for the
  // optional kernels, dense and filtered state, re-ranked pools past 64 rows), 29.3 KB, so 30 KB;
  // a fourth's (leaks of the optional kernels, imported corpora released, stored forms' fields),
  // 30.0 KB, so 31 KB; the cases for ungated corpus queries (`corpusSearch`, `corpusMatrix`) took
  // it to 31.3 KB, so 32 KB. The suite is a test dependency, not shipped to users' bundles.
  '@cosinekit/conformance': 32_000,
};
const DEFAULT_BUDGET = 20_000;
const WASM_BUDGET = 40_000;

const rows = [];
let over = false;
// The README's order: core first, then the backends, the model, the test suite; any other after.
const ORDER = [
  'core',
  'backend-wasm',
  'backend-tfjs',
  'backend-gpujs',
  'backend-webgpu',
  'backend-pgvector',
  'worker',
  'nn',
  'conformance',
];
const rank = (dir) => (ORDER.includes(dir) ? ORDER.indexOf(dir) : ORDER.length);
const dirs = readdirSync(join(root, 'packages')).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
for (const dir of dirs) {
  const pkgDir = join(root, 'packages', dir);
  const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
  if (pkg.private) continue;
  const external = [
    ...Object.keys(pkg.dependencies ?? {}),
    ...Object.keys(pkg.peerDependencies ?? {}),
    ...builtinModules,
    ...builtinModules.map((m) => `node:${m}`),
    '*.wasm',
  ];
  for (const [specifier, file] of jsEntries(pkg)) {
    const entry = join(pkgDir, file);
    if (!existsSync(entry)) throw new Error(`${specifier}: ${entry} is missing; run pnpm build first`);
    const out = await build({
      entryPoints: [entry],
      bundle: true,
      minify: true,
      format: 'esm',
      platform: 'neutral',
      // esbuild keeps a package's subpaths (`@cosinekit/core/backend`) external with the package.
      external,
      write: false,
      logLevel: 'silent',
    });
    const code = out.outputFiles[0].contents;
    const gz = gzipSync(code, { level: 9 }).length;
    const budget = BUDGET[specifier] ?? DEFAULT_BUDGET;
    if (gz > budget) over = true;
    rows.push({ name: specifier, file, min: code.length, gz, budget });
  }
  const distFiles = readdirSync(join(pkgDir, 'dist'), { recursive: true }).map(String);
  for (const f of distFiles.filter((f) => f.endsWith('.wasm')).sort()) {
    const bytes = readFileSync(join(pkgDir, 'dist', f));
    const wgz = gzipSync(bytes, { level: 9 }).length;
    if (wgz > WASM_BUDGET) over = true;
    rows.push({ name: pkg.name, file: `dist/${f}`, min: bytes.length, gz: wgz, budget: WASM_BUDGET });
  }
}

const kb = (n) => `${(n / 1000).toFixed(1)} KB`;
const table = [
  '| import | file | minified (.js) or raw (.wasm) | gzipped | budget (gzipped) |',
  '|---|---|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.name} | ${r.file} | ${kb(r.min)} | ${kb(r.gz)} | ${kb(r.budget)}${r.gz > r.budget ? ' **over**' : ''} |`,
  ),
].join('\n');
console.log(table);

if (process.argv.includes('--write')) {
  const readme = join(root, 'README.md');
  const text = readFileSync(readme, 'utf8');
  const start = '<!-- size:start -->';
  const end = '<!-- size:end -->';
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < 0) throw new Error('README.md has no size markers');
  writeFileSync(readme, `${text.slice(0, a + start.length)}\n${table}\n${text.slice(b)}`);
  console.log('README.md updated');
}
if (over) {
  console.error('size: over budget');
  process.exit(1);
}
console.log(`size: ${rows.length} files within budget`);
