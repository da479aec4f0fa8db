// After typedoc: every documented entry of every public package has its page in docs/api, so a new
// subpath (like `@cosinekit/core/backend`) cannot go undocumented. `/register` entries only
// register a backend and export nothing, so they have no page. Exit 1 when one is missing.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { jsEntries } from './lib/package-checks.mjs';

const root = resolve(import.meta.dirname, '..');
const modules = join(root, 'docs', 'api', 'modules');
if (!existsSync(modules)) throw new Error(`${modules} is missing: run typedoc first`);
const titles = new Set(
  readdirSync(modules)
    .filter((f) => f.endsWith('.html'))
    .map((f) => readFileSync(join(modules, f), 'utf8').match(/<title>(.*?) \|/)?.[1]),
);
const missing = [];
const documented = [];
for (const dir of readdirSync(join(root, 'packages'))) {
  const pkg = JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8'));
  if (pkg.private) continue;
  for (const [specifier] of jsEntries(pkg)) {
    if (specifier.endsWith('/register')) continue;
    if (titles.has(specifier)) documented.push(specifier);
    else missing.push(specifier);
  }
}
if (missing.length) {
  console.error(`docs: no API page for ${missing.join(', ')} (add the entry to the package's typedoc.json)`);
  process.exit(1);
}
console.log(`docs: an API page for each of ${documented.join(', ')}`);
