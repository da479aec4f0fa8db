// Points a copy of examples/custom-backend at the packed tarballs: @cosinekit/* dependency ranges
// become file: tarballs (with an override, so conformance's own dependency on core takes the same
// one), a peer range on a workspace package becomes `^` its version (what `pnpm pack` writes),
// catalog: ranges become the workspace catalog's versions.
// Usage: node example-manifest.mjs <pnpm-workspace.yaml> <package.json to rewrite>
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const [workspace, manifest] = process.argv.slice(2);
const catalog = {};
let inCatalog = false;
for (const line of readFileSync(workspace, 'utf8').split('\n')) {
  if (/^\S/.test(line)) inCatalog = line.startsWith('catalog:');
  const m = inCatalog && line.match(/^\s+"?([^":]+)"?:\s*(\S+)\s*$/);
  if (m) catalog[m[1]] = m[2];
}
const pkg = JSON.parse(readFileSync(manifest, 'utf8'));
const versionOf = (name) =>
  JSON.parse(
    readFileSync(
      join(dirname(workspace), 'packages', name.slice('@cosinekit/'.length), 'package.json'),
      'utf8',
    ),
  ).version;
for (const [name, range] of Object.entries(pkg.peerDependencies ?? {})) {
  if (range.startsWith('workspace:')) pkg.peerDependencies[name] = `^${versionOf(name)}`;
}
for (const field of ['dependencies', 'devDependencies']) {
  for (const [name, range] of Object.entries(pkg[field] ?? {})) {
    if (name.startsWith('@cosinekit/')) {
      pkg[field][name] = `file:../tarballs/cosinekit-${name.slice('@cosinekit/'.length)}.tgz`;
    } else if (range.startsWith('catalog:')) {
      if (!catalog[name]) throw new Error(`${name}: not in the workspace catalog`);
      pkg[field][name] = catalog[name];
    }
  }
}
pkg.overrides = { '@cosinekit/core': '$@cosinekit/core' };
writeFileSync(manifest, `${JSON.stringify(pkg, null, 2)}\n`);
