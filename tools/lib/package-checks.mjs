// The rules check-packages.mjs applies to every public package, kept apart from the packing and the
// tools that run them so that tools/test/ can show each rule failing on a package that breaks it.

/** `{ "./x": { "types": "./dist/x.d.ts", "default": "./dist/x.js" } }` or a string target. */
const isPattern = (target) => target.includes('*');

/** `./dist/*.wasm` -> a regex over packed paths (`dist/cosinekit-simd.wasm`). */
function patternRegex(target) {
  const body = target
    .replace(/^\.\//, '')
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('[^/]+');
  return new RegExp(`^${body}$`);
}

/**
 * What a public package's manifest lacks: the publishing fields publint does not require, and a
 * `prepack` that builds the package. Without it `pnpm pack` (and `pnpm publish`) of a checkout whose
 * `dist/` was never built, or was built for something else, ships a package with no code in it.
 * @param {Record<string, any>} pkg the parsed package.json
 * @param {string} dir the folder under packages/
 * @param {{ hasLicense: boolean }} files what is next to package.json
 * @returns {string[]} one line per problem; empty when the package passes
 */
export function manifestProblems(pkg, dir, { hasLicense }) {
  const missing = [];
  if (pkg.license !== 'MIT') missing.push('license must be MIT');
  if (!hasLicense) missing.push('no LICENSE file');
  if (pkg.repository?.directory !== `packages/${dir}`)
    missing.push(`repository.directory must be packages/${dir}`);
  if (!pkg.keywords?.length) missing.push('no keywords');
  if (!pkg.engines?.node) missing.push('no engines.node');
  if (pkg.sideEffects === undefined) missing.push('no sideEffects');
  if (pkg.type !== 'module') missing.push('type must be module');
  if (pkg.publishConfig?.access !== 'public') missing.push('publishConfig.access must be public');
  if (!/^\d+\.\d+\.\d+/.test(pkg.version ?? '')) missing.push('no version');
  if (typeof pkg.exports !== 'object' || pkg.exports === null) missing.push('no exports map');
  const prepack = pkg.scripts?.prepack;
  // The repository's form: turbo builds the package and what it depends on, from its cache when the
  // sources have not changed (so packing a built checkout costs about a second).
  const builds = `turbo run build --filter=${pkg.name}`;
  if (!prepack) missing.push(`no prepack script (expected "${builds} ...": packing must build dist/)`);
  else if (!prepack.startsWith(builds) && !/^(pnpm|npm) run build\b/.test(prepack))
    missing.push(`prepack "${prepack}" does not build ${pkg.name} (expected "${builds} ...")`);
  return missing;
}

/**
 * What is wrong with a package's exports map against the files its tarball holds: every entry
 * must resolve to a packed file, and every JavaScript entry must carry a `types` condition whose
 * file is packed too (`./package.json` and file patterns such as `./dist/*.wasm` carry no types;
 * a pattern must match at least one packed file).
 * @param {Record<string, any>} pkg the parsed package.json
 * @param {Iterable<string>} packed paths in the tarball relative to its `package/` folder
 * @returns {string[]} one line per problem; empty when every entry resolves and has types
 */
export function exportsProblems(pkg, packed) {
  const files = new Set(packed);
  const problems = [];
  const has = (target) => files.has(target.replace(/^\.\//, ''));
  for (const [entry, value] of Object.entries(pkg.exports ?? {})) {
    if (typeof value === 'string') {
      if (isPattern(value)) {
        const re = patternRegex(value);
        if (![...files].some((f) => re.test(f))) problems.push(`${entry}: no packed file matches ${value}`);
      } else if (!has(value)) problems.push(`${entry}: ${value} is not in the tarball`);
      if (value.endsWith('.js')) problems.push(`${entry}: JavaScript entry without a types condition`);
      continue;
    }
    const conditions = Object.keys(value ?? {});
    if (!conditions.includes('types')) problems.push(`${entry}: no types condition`);
    else if (conditions[0] !== 'types') problems.push(`${entry}: types must be the first condition`);
    if (!conditions.includes('default') && !conditions.includes('import'))
      problems.push(`${entry}: no default (or import) condition`);
    for (const [condition, target] of Object.entries(value ?? {})) {
      if (typeof target !== 'string') problems.push(`${entry}: nested conditions under ${condition}`);
      else if (!has(target)) problems.push(`${entry} (${condition}): ${target} is not in the tarball`);
      else if (condition === 'types' && !target.endsWith('.d.ts'))
        problems.push(`${entry}: types ${target} is not a .d.ts`);
    }
  }
  for (const field of ['main', 'types']) {
    if (pkg[field] && !has(pkg[field])) problems.push(`${field}: ${pkg[field]} is not in the tarball`);
  }
  return problems;
}

/**
 * The exports entries attw must have analysed with a TypeScript resolution in every ESM mode
 * (`node16-esm` and `bundler`): an entry attw skipped or resolved to JavaScript only is a problem.
 * @param {Record<string, any>} pkg the parsed package.json
 * @param {{ analysis: { entrypoints: Record<string, any> } }} attw attw's `--format json` output
 * @returns {string[]} one line per problem
 */
export function attwCoverageProblems(pkg, attw) {
  const problems = [];
  const analysed = attw.analysis?.entrypoints ?? {};
  for (const [entry, value] of Object.entries(pkg.exports ?? {})) {
    if (entry === './package.json' || typeof value === 'string') continue;
    const result = analysed[entry];
    if (!result) {
      problems.push(`attw did not analyse ${entry}`);
      continue;
    }
    for (const mode of ['node16-esm', 'bundler']) {
      const resolution = result.resolutions?.[mode]?.resolution;
      if (!resolution?.isTypeScript) problems.push(`${entry}: no types in ${mode} resolution`);
    }
  }
  return problems;
}

/**
 * The JavaScript entries of a package's exports map, as `[import specifier, file]`:
 * `['@cosinekit/core/backend', 'dist/backend.js']`. File patterns and `./package.json` are skipped.
 * @param {Record<string, any>} pkg the parsed package.json
 * @returns {[string, string][]}
 */
export function jsEntries(pkg) {
  const entries = [];
  for (const [subpath, value] of Object.entries(pkg.exports ?? { '.': pkg.main })) {
    const file = typeof value === 'string' ? value : (value?.default ?? value?.import);
    if (!file?.endsWith('.js') || file.includes('*')) continue;
    entries.push([subpath === '.' ? pkg.name : `${pkg.name}${subpath.slice(1)}`, file.replace(/^\.\//, '')]);
  }
  return entries;
}
