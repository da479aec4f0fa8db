// Bundle-size budget: each publishable package's entry bundled with esbuild (minified, ESM, its
// dependencies external: we measure our own code), gzipped at level 9; plus every .wasm it ships.
// `node size.mjs` checks the budgets (exit 1 when over); `--write` also updates the README table.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = resolve(import.meta.dirname, '..');
/** Gzipped budgets in bytes. Core's is the one the project promises (15 KB). */
const BUDGET = {
  '@cosinekit/core': 15_000,
  '@cosinekit/conformance': 20_000,
  '@cosinekit/backend-wasm': 20_000,
  '@cosinekit/backend-tfjs': 20_000,
  '@cosinekit/backend-gpujs': 20_000,
  '@cosinekit/nn': 20_000,
};
const WASM_BUDGET = 40_000;

const rows = [];
let over = false;
// The README's order: core first, then the backends, the model, the test suite; any other after.
const ORDER = ['core', 'backend-wasm', 'backend-tfjs', 'backend-gpujs', 'nn', 'conformance'];
const rank = (dir) => (ORDER.includes(dir) ? ORDER.indexOf(dir) : ORDER.length);
const dirs = readdirSync(join(root, 'packages')).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
for (const dir of dirs) {
  const pkgDir = join(root, 'packages', dir);
  const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
  if (pkg.private) continue;
  const entry = join(pkgDir, 'dist', 'index.js');
  if (!existsSync(entry)) throw new Error(`${pkg.name}: ${entry} is missing; run pnpm build first`);
  const external = [
    ...Object.keys(pkg.dependencies ?? {}),
    ...Object.keys(pkg.peerDependencies ?? {}),
    ...builtinModules,
    ...builtinModules.map((m) => `node:${m}`),
    '*.wasm',
  ];
  const out = await build({
    entryPoints: [entry],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'neutral',
    external,
    write: false,
    logLevel: 'silent',
  });
  const code = out.outputFiles[0].contents;
  const gz = gzipSync(code, { level: 9 }).length;
  const budget = BUDGET[pkg.name] ?? 20_000;
  if (gz > budget) over = true;
  rows.push({ name: pkg.name, file: 'dist/index.js', min: code.length, gz, budget });
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
  '| package | file | minified (.js) or raw (.wasm) | gzipped | budget (gzipped) |',
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
