#!/usr/bin/env bash
# Stress for multi-node clusters: a head and two nodes on loopback, then short
# examples as drivers back to back, ROUNDS times (each driver joins right after
# the previous one left, while nodes stop its workers).
#   scripts/cluster_repro.sh [ROUNDS] [example...]
# Environment: BUILD_DIR (default build); TMO per driver (default 30 s);
# DAEMON_ENV (e.g. DRAY_DEBUG=1: the daemons and their workers log every step);
# REC=DIR (daemons record traces: `dray replay`, docs/operations.md).
# On a failure the daemons' logs are copied to /tmp/dray-repro-logs-<pid>.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${BUILD_DIR:-build}
[[ $bin == /* ]] || bin=$root/$bin
rounds=${1:-10}
shift || true
ex=("$@")
[ ${#ex[@]} -eq 0 ] && ex=(four_tasks put_get map_reduce four_counters)
dir=$(mktemp -d /tmp/dray-repro-XXXXXX)
recflag=()
[ -n "${REC:-}" ] && recflag=(--record "$REC")
env ${DAEMON_ENV:-} "$bin/dray" start --head --host 127.0.0.1 --port 0 --num-cpus 2 --temp-dir "$dir" "${recflag[@]}" >/dev/null || exit 1
addr=$(head -1 "$dir/head_address")
for _ in 1 2; do
  env ${DAEMON_ENV:-} "$bin/dray" start --address "$addr" --num-cpus 2 --temp-dir "$dir" "${recflag[@]}" >/dev/null || exit 1
done
fail=0
for r in $(seq 1 "$rounds"); do
  line=""
  for e in "${ex[@]}"; do
    t0=$(date +%s%N)
    out=$(env DRAY_TEMP_DIR="$dir" DRAY_ADDRESS="$addr" timeout -s KILL "${TMO:-30}" "$bin/examples/$e" 2>&1)
    rc=$?
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    if [ $rc -ne 0 ] || ! grep -q '^ok$' <<<"$out"; then
      echo "FAIL: round $r, $e (exit $rc after $ms ms)"
      echo "$out" | tail -20
      fail=1
      break 2
    fi
    line+="$e $ms ms; "
  done
  echo "round $r ok: $line"
done
if [ $fail = 1 ]; then
  cp -r "$dir/logs" "/tmp/dray-repro-logs-$$"
  echo "daemon logs: /tmp/dray-repro-logs-$$"
fi
"$bin/dray" stop --temp-dir "$dir" >/dev/null
exit $fail
