// Checks the published shape of every public package, on the tarball `pnpm pack` makes (the file
// that would be published, workspace: and catalog: ranges rewritten):
//   - the publishing fields, and a prepack that builds the package (lib/package-checks.mjs);
//   - packed from a clean dist/: dist/ is removed first, so the tarball holds code only because
//     prepack built it (turbo restores it from its cache when the sources are unchanged);
//   - every exports entry resolves to a packed file and every JavaScript entry has its types;
//   - publint --strict, and attw (types resolve in every ESM resolution mode, for every entry:
//     `@cosinekit/core` and `@cosinekit/core/backend` alike) on that tarball.
// Leaves every package built. Exit 1 on any problem.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { attwCoverageProblems, exportsProblems, manifestProblems } from './lib/package-checks.mjs';

const root = resolve(import.meta.dirname, '..');
const bin = (name) => join(import.meta.dirname, 'node_modules', '.bin', name);
const work = mkdtempSync(join(tmpdir(), 'cosinekit-check-packages-'));
const run = (cmd, args, cwd) =>
  execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
let failed = 0;
const report = (ok, what, name, detail = '') => {
  if (!ok) failed++;
  const sep = ok ? ': ' : '\n';
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what.padEnd(7)} ${name}${detail ? `${sep}${detail.trim()}` : ''}`);
};

try {
  for (const dir of readdirSync(join(root, 'packages')).sort()) {
    const pkgDir = join(root, 'packages', dir);
    const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
    if (pkg.private) continue;
    const missing = manifestProblems(pkg, dir, { hasLicense: existsSync(join(pkgDir, 'LICENSE')) });
    report(!missing.length, 'fields', pkg.name, missing.join('\n'));

    rmSync(join(pkgDir, 'dist'), { recursive: true, force: true });
    const tarball = join(work, `${dir}.tgz`);
    try {
      run('pnpm', ['pack', '--out', tarball], pkgDir);
    } catch (e) {
      report(false, 'pack', pkg.name, `${e.stdout ?? ''}${e.stderr ?? ''}`);
      continue;
    }
    const packed = run('tar', ['-tzf', tarball])
      .split('\n')
      .filter(Boolean)
      .map((f) => f.replace(/^package\//, ''));
    const manifest = run('tar', ['-xzOf', tarball, 'package/package.json']);
    const problems = exportsProblems(pkg, packed);
    if (/"(workspace|catalog):/.test(manifest))
      problems.push('workspace: or catalog: range left in package.json');
    report(
      !problems.length,
      'pack',
      pkg.name,
      problems.length
        ? problems.join('\n')
        : `${packed.length} files from a clean dist/; exports ${Object.keys(pkg.exports).join(', ')} resolve with types`,
    );

    try {
      const out = run(bin('publint'), ['run', '--strict', tarball]);
      // Passing runs print one line; publint's suggestions (which --strict does not fail) are shown.
      report(true, 'publint', pkg.name, out.includes('All good!') ? '' : out);
    } catch (e) {
      report(false, 'publint', pkg.name, `${e.stdout ?? ''}${e.stderr ?? ''}`);
    }

    // ESM-only by design: the CommonJS `require` mode is not a target.
    const attwArgs = [tarball, '--profile', 'esm-only'];
    let attw;
    try {
      attw = JSON.parse(run(bin('attw'), [...attwArgs, '--format', 'json']));
    } catch (e) {
      let table = '';
      try {
        run(bin('attw'), [...attwArgs, '--format', 'ascii']);
      } catch (again) {
        table = again.stdout ?? '';
      }
      report(false, 'attw', pkg.name, table || `${e.stdout ?? ''}${e.stderr ?? ''}`);
      continue;
    }
    const uncovered = attwCoverageProblems(pkg, attw);
    const analysed = Object.keys(attw.analysis.entrypoints).filter((e) => e !== './package.json');
    report(
      !uncovered.length,
      'attw',
      pkg.name,
      uncovered.length ? uncovered.join('\n') : `types for ${analysed.join(', ')}`,
    );
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
if (failed) {
  console.error(`check:packages: ${failed} problem(s)`);
  process.exit(1);
}
console.log(
  'check:packages: every package packs from a clean dist/, has its publishing fields, exports that resolve with types, and passes publint and attw',
);
