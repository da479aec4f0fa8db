// Checks the published shape of every public package: publint (package.json, exports, files) and
// attw (types resolve for every module resolution mode that applies to an ESM-only package).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const bin = (name) => join(import.meta.dirname, 'node_modules', '.bin', name);
let failed = 0;
for (const dir of readdirSync(join(root, 'packages'))) {
  const pkgDir = join(root, 'packages', dir);
  const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
  if (pkg.private) continue;
  for (const [tool, args] of [
    ['publint', ['--strict', pkgDir]],
    // ESM-only by design: the CommonJS `require` mode is not a target.
    ['attw', ['--pack', pkgDir, '--profile', 'esm-only', '--format', 'ascii']],
  ]) {
    try {
      const out = execFileSync(bin(tool), args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      console.log(
        `ok   ${tool} ${pkg.name}${out.includes('No problems') || out.trim() === '' ? '' : `\n${out.trim()}`}`,
      );
    } catch (e) {
      failed++;
      console.log(`FAIL ${tool} ${pkg.name}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
    }
  }
}
if (failed) {
  console.error(`check:packages: ${failed} problem(s)`);
  process.exit(1);
}
console.log('check:packages: every package passes publint and attw');
