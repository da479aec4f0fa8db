#!/usr/bin/env bash
# Brings a fresh machine of this kind (Debian 12, Node 20, root) to the point where
# `pnpm test` runs every suite: pnpm, the workspace's dependencies, and the system packages the
# tests drive for real (Debian chromium for the browser projects, xvfb for headless GL, Mesa's
# EGL for Dawn).
set -euo pipefail
cd "$(dirname "$0")/.."

PNPM_VERSION=12.4.2
if [[ "$(pnpm --version 2>/dev/null || true)" != "$PNPM_VERSION" ]]; then
  npm i -g "pnpm@$PNPM_VERSION"
fi

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v xvfb-run >/dev/null 2>&1 || need+=(xvfb xauth)
# Headers to build gpu.js's optional native `gl` (headless GL) below.
[[ -f /usr/include/X11/extensions/XInput2.h ]] || need+=(libxi-dev)
# Mesa's EGL, GLES and llvmpipe: what Dawn (the `webgpu` package) runs on headless without a GPU,
# for @cosinekit/backend-webgpu's Node tests. Chromium usually brings them already.
ldconfig -p 2>/dev/null | grep -q 'libEGL_mesa.so.0' || need+=(libegl-mesa0 libgles2 libgl1-mesa-dri)
if ((${#need[@]})); then
  if [[ $(id -u) -eq 0 ]]; then
    echo "setup: installing ${need[*]} from Debian"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "setup: not root, cannot install ${need[*]}; browser or headless-GL suites will say they are skipped" >&2
  fi
fi

pnpm install --frozen-lockfile

# headless GL for @cosinekit/backend-gpujs (about 90 s on idle cores; skipped when already built),
# so the test run covers its headlessgl mode too. COSINEKIT_SKIP_GL=1 skips it.
if [[ "${COSINEKIT_SKIP_GL:-0}" != 1 ]]; then
  bash scripts/build-gl.sh || echo "setup: gl did not build; gpujs headlessgl tests will say they are skipped" >&2
fi
