#!/usr/bin/env bash
# Times three workloads for each prototype variant, interleaved, and prints CPU
# (perf stat task-clock), wall, steps and context switches.
#   bench/prototypes/compare.sh ROUNDS VARIANT...
# VARIANT is a directory $PROTO_ROOT/dray-VARIANT (default /tmp) holding a
# source copy built with build/bench/{dag_bench,micro_bench}, e.g. made with:
#   git archive 209a3ca | tar -x -C /tmp/dray-all && bench/prototypes/apply.py /tmp/dray-all hash once fiber
#   cmake -S /tmp/dray-all -B /tmp/dray-all/build -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS=-Wno-restrict
#   cmake --build /tmp/dray-all/build -j1 --target dag_bench micro_bench
set -uo pipefail
root="${PROTO_ROOT:-/tmp}"
rounds=$1; shift
for r in $(seq "$rounds"); do
  for v in "$@"; do
    b="$root/dray-$v/build/bench"
    for w in "dag10k:$b/dag_bench --tasks 10000" "dag10k_small:$b/dag_bench --tasks 10000 --max-value-bytes 2048" \
             "tiny20k:$b/micro_bench --benchmark_filter=SimTinyTasks/nodes8/"; do
      name=${w%%:*}; cmd=${w#*:}
      out=$(perf stat -x, -e task-clock,context-switches $cmd 2>&1)
      cpu=$(grep task-clock <<<"$out" | cut -d, -f1)
      cs=$(grep context-switches <<<"$out" | cut -d, -f1)
      wall=$(grep -oE "wall +[0-9.]+ s" <<<"$out" | grep -oE "[0-9.]+")
      [ -z "$wall" ] && wall=$(awk '/^SimTinyTasks/ {print $2/1000}' <<<"$out")
      steps=$(grep -oE "steps +[0-9]+" <<<"$out" | grep -oE "[0-9]+")
      [ -z "$steps" ] && steps=$(grep -oE "steps=[0-9.]+k" <<<"$out" | head -1 | grep -oE "[0-9.]+" | awk '{print $1*1000}')
      printf "round %d %-9s %-13s cpu_ms=%8.0f wall_s=%6.3f steps=%8s ctxsw=%7s steps_per_cpu_s=%8.0f\n" \
        "$r" "$v" "$name" "$cpu" "$wall" "$steps" "$cs" "$(awk -v s="$steps" -v c="$cpu" 'BEGIN{print s/(c/1000)}')"
    done
  done
done
