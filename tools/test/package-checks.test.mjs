// The rules of check-packages.mjs, each shown failing on a manifest or tarball that breaks it and
// passing on the repository's own packages. `node --test` (no build, no packing: a second or so).
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import {
  attwCoverageProblems,
  exportsProblems,
  jsEntries,
  manifestProblems,
} from '../lib/package-checks.mjs';

const root = resolve(import.meta.dirname, '..', '..');
const publicPackages = readdirSync(join(root, 'packages'))
  .map((dir) => ({ dir, pkg: JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8')) }))
  .filter(({ pkg }) => !pkg.private);
const core = structuredClone(publicPackages.find(({ dir }) => dir === 'core').pkg);
const withLicense = { hasLicense: true };

/** What a good pack of core holds (the files its exports name, and some others). */
const corePacked = [
  'package.json',
  'README.md',
  'LICENSE',
  'dist/index.js',
  'dist/index.d.ts',
  'dist/backend.js',
  'dist/backend.d.ts',
  'dist/fs.js',
  'dist/fs.d.ts',
  'dist/opfs.js',
  'dist/opfs.d.ts',
  'src/index.ts',
];

describe('manifestProblems', () => {
  it('passes every public package of the repository', () => {
    assert.ok(publicPackages.length >= 6);
    for (const { dir, pkg } of publicPackages) {
      const hasLicense = existsSync(join(root, 'packages', dir, 'LICENSE'));
      assert.deepEqual(manifestProblems(pkg, dir, { hasLicense }), [], pkg.name);
    }
  });

  it('fails a package without prepack: packing an unbuilt checkout would ship no dist/', () => {
    const { prepack: _, ...scripts } = core.scripts;
    const problems = manifestProblems({ ...core, scripts }, 'core', withLicense);
    assert.equal(problems.length, 1);
    assert.match(problems[0], /no prepack script/);
  });

  it('fails a prepack that does not build the package itself', () => {
    for (const prepack of ['echo packing', 'turbo run build --filter=@cosinekit/nn', 'turbo run lint']) {
      const problems = manifestProblems(
        { ...core, scripts: { ...core.scripts, prepack } },
        'core',
        withLicense,
      );
      assert.equal(problems.length, 1, prepack);
      assert.match(problems[0], /does not build @cosinekit\/core/);
    }
  });

  it('accepts a prepack that runs the package build script', () => {
    const pkg = { ...core, scripts: { ...core.scripts, prepack: 'pnpm run build' } };
    assert.deepEqual(manifestProblems(pkg, 'core', withLicense), []);
  });

  it('names each missing publishing field', () => {
    const { keywords: _k, sideEffects: _s, ...rest } = core;
    const problems = manifestProblems({ ...rest, license: 'ISC' }, 'nn', { hasLicense: false });
    assert.deepEqual(problems, [
      'license must be MIT',
      'no LICENSE file',
      'repository.directory must be packages/nn',
      'no keywords',
      'no sideEffects',
    ]);
  });
});

describe('exportsProblems', () => {
  it('passes core when every entry and its types are packed', () => {
    assert.deepEqual(exportsProblems(core, corePacked), []);
  });

  it('fails a tarball without dist/ on every entry (the empty package)', () => {
    const problems = exportsProblems(core, ['package.json', 'README.md', 'LICENSE', 'src/index.ts']);
    for (const missing of ['dist/index.js', 'dist/index.d.ts', 'dist/backend.js', 'dist/backend.d.ts']) {
      assert.ok(
        problems.some((p) => p.includes(missing)),
        `${missing} in ${problems}`,
      );
    }
  });

  it('fails the backend subpath when its declaration file is not packed', () => {
    const problems = exportsProblems(
      core,
      corePacked.filter((f) => f !== 'dist/backend.d.ts'),
    );
    assert.deepEqual(problems, ['./backend (types): ./dist/backend.d.ts is not in the tarball']);
  });

  it('fails an entry without types, or with types after the JavaScript condition', () => {
    const pkg = structuredClone(core);
    pkg.exports['./backend'] = { default: './dist/backend.js' };
    assert.deepEqual(exportsProblems(pkg, corePacked), ['./backend: no types condition']);
    pkg.exports['./backend'] = { default: './dist/backend.js', types: './dist/backend.d.ts' };
    assert.deepEqual(exportsProblems(pkg, corePacked), ['./backend: types must be the first condition']);
    pkg.exports['./backend'] = './dist/backend.js';
    assert.deepEqual(exportsProblems(pkg, corePacked), [
      './backend: JavaScript entry without a types condition',
    ]);
  });

  it('requires a file pattern to match a packed file', () => {
    const pkg = { ...core, exports: { ...core.exports, './dist/*.wasm': './dist/*.wasm' } };
    assert.deepEqual(exportsProblems(pkg, corePacked), [
      './dist/*.wasm: no packed file matches ./dist/*.wasm',
    ]);
    assert.deepEqual(exportsProblems(pkg, [...corePacked, 'dist/cosinekit-simd.wasm']), []);
  });
});

describe('attwCoverageProblems', () => {
  const typed = { resolution: { isTypeScript: true } };
  const entry = { resolutions: { 'node16-esm': typed, bundler: typed } };

  // Every entry of core's exports map but the one a case leaves out or breaks.
  const others = { './fs': entry, './opfs': entry };

  it("passes when attw resolved types for every one of core's entries in every ESM mode", () => {
    const attw = {
      analysis: { entrypoints: { '.': entry, './backend': entry, ...others, './package.json': {} } },
    };
    assert.deepEqual(attwCoverageProblems(core, attw), []);
  });

  it('fails when attw did not analyse the backend subpath', () => {
    const attw = { analysis: { entrypoints: { '.': entry, ...others } } };
    assert.deepEqual(attwCoverageProblems(core, attw), ['attw did not analyse ./backend']);
  });

  it('fails when a mode resolves the subpath to JavaScript only', () => {
    const js = { resolutions: { 'node16-esm': typed, bundler: { resolution: { isTypeScript: false } } } };
    const attw = { analysis: { entrypoints: { '.': entry, './backend': js, ...others } } };
    assert.deepEqual(attwCoverageProblems(core, attw), ['./backend: no types in bundler resolution']);
  });
});

describe('jsEntries (what size.mjs budgets)', () => {
  it("lists every one of core's entries", () => {
    assert.deepEqual(jsEntries(core), [
      ['@cosinekit/core', 'dist/index.js'],
      ['@cosinekit/core/backend', 'dist/backend.js'],
      ['@cosinekit/core/fs', 'dist/fs.js'],
      ['@cosinekit/core/opfs', 'dist/opfs.js'],
    ]);
  });

  it('lists /register entries and skips file patterns and package.json', () => {
    const wasm = publicPackages.find(({ dir }) => dir === 'backend-wasm').pkg;
    assert.deepEqual(jsEntries(wasm), [
      ['@cosinekit/backend-wasm', 'dist/index.js'],
      ['@cosinekit/backend-wasm/register', 'dist/register.js'],
    ]);
  });
});
