// Checks the published shape of every public package: publint (package.json, exports, files) and
// attw (types resolve for every module resolution mode that applies to an ESM-only package).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const bin = (name) => join(import.meta.dirname, 'node_modules', '.bin', name);
let failed = 0;

/** The publishing fields every public package carries (publint does not require them). */
function policy(pkg, dir, pkgDir) {
  const missing = [];
  if (pkg.license !== 'MIT') missing.push('license must be MIT');
  if (!existsSync(join(pkgDir, 'LICENSE'))) missing.push('no LICENSE file');
  if (pkg.repository?.directory !== `packages/${dir}`)
    missing.push(`repository.directory must be packages/${dir}`);
  if (!pkg.keywords?.length) missing.push('no keywords');
  if (!pkg.engines?.node) missing.push('no engines.node');
  if (pkg.sideEffects === undefined) missing.push('no sideEffects');
  if (pkg.type !== 'module') missing.push('type must be module');
  if (pkg.publishConfig?.access !== 'public') missing.push('publishConfig.access must be public');
  if (!pkg.exports?.['.']?.types) missing.push("exports['.'] has no types");
  return missing;
}
for (const dir of readdirSync(join(root, 'packages'))) {
  const pkgDir = join(root, 'packages', dir);
  const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
  if (pkg.private) continue;
  const missing = policy(pkg, dir, pkgDir);
  if (missing.length) {
    failed++;
    console.log(`FAIL fields  ${pkg.name}: ${missing.join('; ')}`);
  } else console.log(`ok   fields  ${pkg.name}`);
  for (const [tool, args] of [
    ['publint', ['--strict', pkgDir]],
    // ESM-only by design: the CommonJS `require` mode is not a target.
    ['attw', ['--pack', pkgDir, '--profile', 'esm-only', '--format', 'ascii']],
  ]) {
    try {
      const out = execFileSync(bin(tool), args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      // Passing runs print one line; publint's suggestions (which --strict does not fail) are shown.
      const notes = tool === 'publint' && !out.includes('All good!') ? `\n${out.trim()}` : '';
      console.log(`ok   ${tool.padEnd(7)} ${pkg.name}${notes}`);
    } catch (e) {
      failed++;
      console.log(`FAIL ${tool.padEnd(7)} ${pkg.name}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
    }
  }
}
if (failed) {
  console.error(`check:packages: ${failed} problem(s)`);
  process.exit(1);
}
console.log('check:packages: every package has its publishing fields and passes publint and attw');
