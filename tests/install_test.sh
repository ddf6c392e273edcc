#!/usr/bin/env bash
# The install test (ctest: install_find_package).
#   tests/install_test.sh BUILD_DIR SOURCE_DIR
# Installs BUILD_DIR into a temporary prefix, builds tests/install (a program
# outside the tree that uses find_package(dray) and dray::dray) against it,
# runs it in the simulator and checks that it prints OK; runs it for real on
# the embedded cluster (no DRAY_SIM), recording its traces, and checks that it
# prints OK, that nothing is left behind (no process, no file in its TMPDIR,
# no shared-memory segment) and that the installed `dray replay` replays the
# traces; also checks that the prefix holds the tools bin/dray-sim and bin/dray.
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 BUILD_DIR SOURCE_DIR" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dray-install-test.XXXXXX")
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT

fail() {
  echo "install_test: FAIL: $*" >&2
  exit 1
}

echo "== cmake --install $build --prefix $tmp/prefix"
cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log" 2>&1 || {
  cat "$tmp/install.log" >&2
  fail "cmake --install failed"
}

for f in bin/dray-sim bin/dray include/dray/dray.h lib/cmake/dray/drayConfig.cmake \
         lib/cmake/dray/drayConfigVersion.cmake lib/cmake/dray/drayTargets.cmake; do
  [[ -e "$tmp/prefix/$f" ]] || fail "the install tree lacks $f"
done
for f in bin/dray-sim bin/dray; do
  [[ -x "$tmp/prefix/$f" ]] || fail "$f is not executable"
done
ls "$tmp"/prefix/lib/libdray.* >/dev/null 2>&1 || fail "the install tree lacks lib/libdray.*"

# Build the out-of-tree program with the same compiler, and with nothing but
# the install prefix to find dray by.
cc_args=()
compiler=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt" 2>/dev/null || true)
[[ -n "$compiler" ]] && cc_args+=("-DCMAKE_CXX_COMPILER=$compiler")
launcher=$(command -v ccache || true)
[[ -n "$launcher" ]] && cc_args+=("-DCMAKE_CXX_COMPILER_LAUNCHER=$launcher")

echo "== configure $src/tests/install against $tmp/prefix"
cmake -S "$src/tests/install" -B "$tmp/b" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_PREFIX_PATH="$tmp/prefix" "${cc_args[@]}" >"$tmp/configure.log" 2>&1 || {
  cat "$tmp/configure.log" >&2
  fail "configuring the out-of-tree program failed"
}
echo "== build"
cmake --build "$tmp/b" >"$tmp/build.log" 2>&1 || {
  cat "$tmp/build.log" >&2
  fail "building the out-of-tree program failed"
}

echo "== run with DRAY_SIM=seed=3,nodes=2,cpus=2"
set +e
out=$(DRAY_SIM="seed=3,nodes=2,cpus=2" timeout 300 "$tmp/b/app" 2>&1)
rc=$?
set -e
printf '%s\n' "$out"
[[ $rc -eq 0 ]] || fail "the program exited with $rc"
grep -qx "OK" <<<"$out" || fail "the program did not print OK"

echo "== run for real: the embedded cluster (no DRAY_SIM), recording into $tmp/rec"
mkdir -p "$tmp/run"
set +e
env -u DRAY_SIM -u DRAY_ADDRESS TMPDIR="$tmp/run" DRAY_RECORD="$tmp/rec" timeout 300 "$tmp/b/app" \
  --dray-num-cpus=2 >"$tmp/real.out" 2>&1 &
pid=$!
wait $pid
rc=$?
set -e
cat "$tmp/real.out"
[[ $rc -eq 0 ]] || fail "the program exited with $rc on the embedded cluster"
grep -qx "OK" "$tmp/real.out" || fail "the program did not print OK on the embedded cluster"
# Workers are the program itself (DRAY_WORKER set): none may outlive Shutdown.
sleep 0.2
left=$(ps -eo pid=,args= | grep -F "$tmp/b/app" | grep -v grep || true)
[[ -z "$left" ]] || fail "processes left behind: $left"
[[ -z "$(ls -A "$tmp/run")" ]] || fail "files left behind in TMPDIR: $(ls -A "$tmp/run")"
if [[ -d /dev/shm ]]; then
  shm=$(ls /dev/shm | grep -E "dray.*-$pid(-|$)" || true)
  [[ -z "$shm" ]] || fail "shared-memory segments left behind: $shm"
fi
"$tmp/prefix/bin/dray" replay "$tmp/rec" || fail "dray replay of the recorded run failed"

"$tmp/prefix/bin/dray-sim" --list >/dev/null 2>&1 || echo "note: dray-sim --list did not succeed (not checked)"

echo "install_test: PASS"
