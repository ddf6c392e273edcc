#!/usr/bin/env bash
# The main job: sets up, builds, runs every example program for real on the
# embedded single-node cluster (worker processes on this machine), then in the
# simulator (1 node x 4 CPUs, then 3 nodes x 2 CPUs), then a seeded failure
# simulation of a random task DAG with dray-sim (workers and nodes crash),
# whose trace dray replay re-steps, then small swarms over the examples and
# over random actor workloads.
# Exits non-zero if any run fails.
# Environment: BUILD_DIR (default build), JOBS (default 2),
#              DEMO_TIMEOUT (seconds per run, default 300).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

bash scripts/setup.sh
bash scripts/build.sh

build=${BUILD_DIR:-build}
limit=${DEMO_TIMEOUT:-300}
specs=("seed=1,nodes=1,cpus=4" "seed=2,nodes=3,cpus=2")
runs=0
failed=()

banner() {
  echo
  echo "================================================================"
  echo " $*"
  echo "================================================================"
}

# run LABEL ENV_SPEC CMD...: runs one program (DRAY_SIM=ENV_SPEC unless empty)
# and records a failure without stopping the demo.
run() {
  local label=$1 spec=$2
  shift 2
  runs=$((runs + 1))
  local rc=0
  if [[ -n "$spec" ]]; then
    DRAY_SIM="$spec" timeout "$limit" "$@" || rc=$?
  else
    timeout "$limit" "$@" || rc=$?
  fi
  if [[ $rc -eq 0 ]]; then
    echo "-- ok: $label"
  else
    [[ $rc -eq 124 ]] && echo "-- timed out after ${limit}s"
    echo "-- FAILED (exit $rc): $label"
    failed+=("$label")
  fi
}

examples=()
if [[ -d "$build/examples" ]]; then
  while IFS= read -r f; do examples+=("$f"); done < <(
    find "$build/examples" -maxdepth 1 -type f -perm -u+x ! -name '*.so*' ! -name '*.a' | sort)
fi
if [[ ${#examples[@]} -eq 0 ]]; then
  echo "demo: no example programs in $build/examples" >&2
  exit 1
fi

for exe in "${examples[@]}"; do
  name=$(basename "$exe")
  # For real first (no DRAY_SIM): the embedded cluster, 4 CPUs. Sleeps are
  # real here (message_actor takes about 102 s, as the seed's loop does).
  banner "example: $name    for real: embedded cluster, 4 CPUs"
  run "$name [embedded cluster]" "" env -u DRAY_SIM "$exe" --dray-num-cpus=4
  for spec in "${specs[@]}"; do
    banner "example: $name    DRAY_SIM=\"$spec\""
    run "$name [$spec]" "$spec" "$exe"
  done
done

# The seeded simulation also records its trace, which dray replay then
# re-steps (every effects hash must match) and dray timeline can draw.
mkdir -p "$build/demo"
trace="$build/demo/random_dag_seed42.db"
timeline="$build/demo/random_dag_seed42.json"
rm -f "$trace" "$timeline"
failspec="faults=swarm,faults_until_ms=500,task_retries=-1,inline_kb=0,head_cpus=0"
banner "seeded failure simulation: dray-sim --seed 42 --nodes 5 --cpus 2 --workload random_dag --spec $failspec"
run "dray-sim random_dag seed 42 with faults" "" "$build/dray-sim" --seed 42 --nodes 5 --cpus 2 --workload random_dag \
  --tasks 300 --spec "$failspec" --trace "$trace" --timeline "$timeline"
banner "replay of its trace: dray replay $trace"
run "dray replay" "" "$build/dray" replay "$trace"
echo "(timeline for chrome://tracing or Perfetto: $timeline)"
banner "a swarm: every example under 5 seeds of random worker and node crashes"
run "dray-sim swarm over the examples" "" "$build/dray-sim" --workload all --seeds 1-5 --nodes 3 --cpus 2 --quiet \
  --spec faults=swarm,faults_until_ms=1000,task_retries=-1
banner "a swarm of actors: random actor workloads under 50 seeds of crashes and partitions"
run "dray-sim swarm over actors" "" "$build/dray-sim" --workload actors --seeds 1-50 --nodes 4 --cpus 2 --quiet \
  --spec faults=swarm,faults_until_ms=500,task_retries=-1,head_cpus=0

echo
if [[ ${#failed[@]} -eq 0 ]]; then
  echo "demo: all $runs runs passed (${#examples[@]} examples for real and on ${#specs[@]} simulated shapes, then a failure simulation, its replay and two swarms)"
else
  echo "demo: ${#failed[@]} of $runs runs FAILED:"
  printf '  %s\n' "${failed[@]}"
  exit 1
fi
