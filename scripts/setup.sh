#!/usr/bin/env bash
# Installs every Debian (bookworm) package dray needs to build, test, fuzz and
# benchmark. Safe to run twice: when everything is installed it only checks
# (dpkg -s) and never calls apt. Runs apt through sudo when not root.
set -euo pipefail

PACKAGES=(
  build-essential      # gcc, g++, make, libc headers
  g++
  cmake                # 3.25 in bookworm
  ccache
  pkg-config
  git
  libboost-dev         # Boost 1.74 headers (Asio; also needed by msgpack-cxx)
  libmsgpack-cxx-dev   # msgpack-cxx 4.1 (header-only)
  libsqlite3-dev       # traces and the control service's tables
  sqlite3              # to read a trace by hand
  libgtest-dev
  libgmock-dev
  librapidcheck-dev    # property tests
  libbenchmark-dev     # bench/
  libssl-dev           # libcrypto: the cluster token's HMAC
  clang                # libFuzzer targets
  libclang-rt-14-dev   # libFuzzer and sanitizer runtimes for clang 14
  python3
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup: all ${#PACKAGES[@]} packages are installed"
  exit 0
fi

echo "setup: installing ${missing[*]}"
SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
  else
    echo "setup: not root and no sudo; install as root: apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "setup: done"
