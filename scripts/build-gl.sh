#!/usr/bin/env bash
# Builds gpu.js's optional native dependency `gl` (headless-gl) in place, so that
# @cosinekit/backend-gpujs can run in `headlessgl` mode in Node.
#
# Installs never build it (`allowBuilds: gl: false` in pnpm-workspace.yaml): without it the backend
# still works in gpu.js's webasm/cpu modes. Run this when you want headless GL:
#
#   sudo apt-get install -y libxi-dev xvfb   # build headers; an X server to run it
#   scripts/build-gl.sh                       # about 2.5 min on 2 cores
#   xvfb-run -a pnpm --filter @cosinekit/backend-gpujs test
#
# Uses the installed Node's headers (no download) when they are present, and all cores.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
shopt -s nullglob
dirs=("$root"/node_modules/.pnpm/gl@*/node_modules/gl)
shopt -u nullglob
if [ "${#dirs[@]}" -eq 0 ]; then
  echo "build-gl: gl is not installed under node_modules/.pnpm (run pnpm install first)" >&2
  exit 1
fi

# The Node headers node-gyp needs: the ones shipped with this Node when they exist (Debian puts them
# in /usr/include/node), otherwise node-gyp downloads them for the running version.
node_prefix="$(dirname "$(dirname "$(command -v node)")")"
nodedir_arg=()
if [ -f "$node_prefix/include/node/common.gypi" ]; then
  nodedir_arg=(--nodedir="$node_prefix")
fi

export JOBS="${JOBS:-max}"
start=$SECONDS
for gl in "${dirs[@]}"; do
  # pnpm keeps one copy of gl per peer-dependency variant; a later install can add an unbuilt one.
  if [ -f "$gl/build/Release/webgl.node" ] && [ "${FORCE:-0}" != 1 ]; then
    echo "build-gl: already built: $gl (FORCE=1 rebuilds)"
    continue
  fi
  echo "build-gl: building $gl (JOBS=$JOBS)"
  gyp="$(dirname "$gl")/node-gyp/bin/node-gyp.js"
  if [ ! -f "$gyp" ]; then
    gyp="$(command -v node-gyp || true)"
  fi
  if [ -z "$gyp" ]; then
    echo "build-gl: node-gyp not found next to gl nor on PATH" >&2
    exit 1
  fi
  (cd "$gl" && node "$gyp" rebuild "${nodedir_arg[@]}" --jobs="$JOBS")
done
echo "build-gl: built in $((SECONDS - start)) s"

# Verify each copy: a 1x1 context needs an X server; use one if present, else a virtual one.
for gl in "${dirs[@]}"; do
  check="require('$gl')(1, 1) ? console.log('build-gl: headless gl works: $gl') : process.exit(1)"
  if [ -n "${DISPLAY:-}" ]; then
    node -e "$check"
  elif command -v xvfb-run >/dev/null; then
    xvfb-run -a node -e "$check"
  else
    echo "build-gl: built, but no X server (DISPLAY unset, no xvfb-run) to verify it; install xvfb" >&2
    exit 2
  fi
done
