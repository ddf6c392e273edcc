#!/usr/bin/env bash
# Sets up, builds and runs every test (ctest). This is the README's test command
# and what .ci/run calls.
#   scripts/test.sh [extra ctest arguments, e.g. -R owner]
# Environment: BUILD_DIR (default build), JOBS (default 2).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

bash scripts/setup.sh
bash scripts/build.sh
echo "== ctest"
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j"${JOBS:-2}" --timeout 600 "$@"
