#!/usr/bin/env bash
# The consumer test: packs every public package as it would be published (`pnpm pack` rewrites
# workspace: and catalog: ranges), installs the tarballs with npm into fresh projects outside the
# workspace, and uses them as a third party would:
#   1. node.mjs: core (both entries: @cosinekit/core and @cosinekit/core/backend), every backend, nn
#      and the worker kit through their public entry points, against core's reference;
#   2. a Vite build of index.html + main.js, served by `vite preview` and run in headless Chromium;
#   3. examples/custom-backend with its conformance tests, its deps pointed at the tarballs.
# Each package's prepack builds it (from turbo's cache when unchanged). Needs npm registry access for
# third-party deps, and /usr/bin/chromium.
# KEEP=1 keeps the temporary directory. Prints PASS/FAIL lines; exits 1 on any failure.
set -euo pipefail

tools=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$tools")
packages=(core conformance backend-wasm backend-tfjs backend-gpujs backend-webgpu nn backend-pgvector worker)
work=$(mktemp -d /tmp/cosinekit-consumer.XXXXXX)
started=$SECONDS
failures=0

cleanup() {
  if [[ "${KEEP:-0}" == 1 ]]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
step() { echo "== $* ($((SECONDS - started)) s)"; }
pass() { echo "PASS $*"; }
fail() {
  echo "FAIL $*"
  failures=$((failures + 1))
}
npm_install() {
  npm install --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error >"$work/npm-$1.log" 2>&1 ||
    { cat "$work/npm-$1.log"; return 1; }
}

step "pack ${#packages[@]} packages into $work/tarballs"
mkdir -p "$work/tarballs"
for p in "${packages[@]}"; do
  pnpm -C "$root/packages/$p" pack --out "$work/tarballs/cosinekit-$p.tgz" >"$work/pack-$p.log" 2>&1 ||
    { cat "$work/pack-$p.log"; echo "FAIL pack @cosinekit/$p"; exit 1; }
  files=$(tar -tzf "$work/tarballs/cosinekit-$p.tgz")
  manifest=$(tar -xzOf "$work/tarballs/cosinekit-$p.tgz" package/package.json)
  problems=()
  grep -qx 'package/LICENSE' <<<"$files" || problems+=('no LICENSE')
  grep -qx 'package/dist/index.js' <<<"$files" || problems+=('no dist/index.js')
  grep -qx 'package/dist/index.d.ts' <<<"$files" || problems+=('no dist/index.d.ts')
  if [[ $p == core ]]; then
    grep -qx 'package/dist/backend.js' <<<"$files" || problems+=('no dist/backend.js')
    grep -qx 'package/dist/backend.d.ts' <<<"$files" || problems+=('no dist/backend.d.ts')
  fi
  grep -q '\.tsbuildinfo$\|\.test\.ts$' <<<"$files" && problems+=('ships build info or tests')
  grep -q '"workspace:\|"catalog:' <<<"$manifest" && problems+=('workspace:/catalog: range left in package.json')
  if [[ $p == backend-wasm ]]; then
    for w in simd relaxed simd-threads relaxed-threads; do
      grep -qx "package/dist/cosinekit-$w.wasm" <<<"$files" || problems+=("no dist/cosinekit-$w.wasm")
    done
  fi
  if ((${#problems[@]})); then
    fail "pack @cosinekit/$p: ${problems[*]}"
  else
    pass "pack @cosinekit/$p: $(wc -l <<<"$files") files, $(du -k "$work/tarballs/cosinekit-$p.tgz" | cut -f1) KB"
  fi
done

step "install the tarballs into a fresh project (npm)"
cp -r "$tools/consumer" "$work/app"
(cd "$work/app" && npm_install app) || { echo "FAIL npm install (consumer project)"; exit 1; }
pass "npm install: $(cd "$work/app" && npm ls --depth=0 --parseable 2>/dev/null | grep -c "node_modules/@cosinekit/") @cosinekit packages from tarballs"

step "node: every backend and nn against the reference"
(cd "$work/app" && node node.mjs) || fail "node checks"

step "node: a PGlite corpus searched from the backend-pgvector tarball"
(cd "$work/app" && npm install --no-save --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error \
  "$work/tarballs/cosinekit-backend-pgvector.tgz" >"$work/npm-pgvector.log" 2>&1 && node pgvector.mjs) ||
  { cat "$work/npm-pgvector.log"; fail "pgvector in node"; }

step "browser: vite build, vite preview, headless Chromium"
if (cd "$work/app" && npx vite build --logLevel warn); then
  wasm=$(cd "$work/app/build/assets" && ls ./*.wasm | tr '\n' ' ')
  if grep -q 'cosinekit-simd-[^ ]*\.wasm' <<<"$wasm" && grep -q 'tfjs-backend-wasm-simd-' <<<"$wasm"; then
    pass "vite build emitted the wasm binaries: $wasm"
  else
    fail "vite build did not emit backend-wasm's and tfjs's .wasm files (got: $wasm)"
  fi
  (cd "$work/app" && node browser.mjs) || fail "browser checks"
else
  fail "vite build"
fi

step "examples/custom-backend from the tarballs (typecheck + conformance)"
mkdir -p "$work/example"
(cd "$root/examples/custom-backend" && cp -r src test package.json tsconfig.json tsconfig.test.json vitest.config.ts "$work/example/")
node "$tools/consumer/example-manifest.mjs" "$root/pnpm-workspace.yaml" "$work/example/package.json"
if (cd "$work/example" && npm_install example); then
  (cd "$work/example" && npx tsc -p tsconfig.test.json) && pass "example: tsc against the published types" ||
    fail "example: tsc"
  (cd "$work/example" && NO_COLOR=1 npx vitest run) && pass "example: vitest (conformance + usage)" ||
    fail "example: vitest"
else
  fail "npm install (example)"
fi

step "done"
if ((failures)); then
  echo "consumer test: $failures FAILED"
  exit 1
fi
echo "consumer test: PASS"
