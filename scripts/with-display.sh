#!/usr/bin/env bash
# Runs a command with an X display: as is when DISPLAY is set or xvfb-run is missing (headless-GL
# suites then print that they are skipped), otherwise under `xvfb-run -a`.
set -euo pipefail
if [[ -z "${DISPLAY:-}" ]] && command -v xvfb-run >/dev/null 2>&1; then
  exec xvfb-run -a "$@"
fi
exec "$@"
