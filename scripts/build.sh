#!/usr/bin/env bash
# Configures and builds dray into build/ (RelWithDebInfo, through ccache).
#   scripts/build.sh [-jN] [extra cmake -D options...]
# Environment: BUILD_DIR (default build), JOBS (default 2).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

jobs=${JOBS:-2}
cmake_args=()
for a in "$@"; do
  case "$a" in
    -j*) jobs=${a#-j} ;;
    *) cmake_args+=("$a") ;;
  esac
done
build_dir=${BUILD_DIR:-build}

# ccache: share hits between checkouts in different folders.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$root}
export CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}

launcher=()
if command -v ccache >/dev/null 2>&1; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi

echo "== configure ($build_dir, RelWithDebInfo)"
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" "${cmake_args[@]}"
echo "== build (-j$jobs)"
cmake --build "$build_dir" -j"$jobs"
