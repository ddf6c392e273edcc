#!/usr/bin/env bash
# A failing swarm seed writes its drawn faults as a scenario file, and the
# file replays the run step for step (the same failure, the same trace hash).
# The failure is forced: a liveness bound of 1 ms after faults stop fails a
# run whose Gets are still pending then.
#   drawn_scenario_replay.sh DRAY_SIM OUT_DIR
set -euo pipefail
sim=$1
dir=$2
mkdir -p "$dir"
rm -f "$dir/dray-sim-random_dag-seed1.scenario"
out=$("$sim" --workload random_dag --tasks 100 --seed 1 --nodes 4 --cpus 2 --quiet --scenario-dir "$dir" \
  --spec faults=swarm,faults_until_ms=500,task_retries=-1,inline_kb=0,head_cpus=0,liveness_ms=1 || true)
echo "$out" | grep -q 'FAILED .*liveness bound' || { echo "seed 1 did not fail:"; echo "$out"; exit 1; }
file="$dir/dray-sim-random_dag-seed1.scenario"
echo "$out" | grep -q "its drawn faults ([0-9]*) as a scenario: $file" || { echo "no scenario printed:"; echo "$out"; exit 1; }
[ -s "$file" ] || { echo "$file was not written"; exit 1; }
cat "$file"
h1=$(echo "$out" | grep -o 'trace_hash=[0-9a-f]*' | head -1)
replay=$("$sim" --quiet --scenario "$file" || true)
echo "$replay" | grep -q 'FAILED .*liveness bound' || { echo "the replay did not fail:"; echo "$replay"; exit 1; }
h2=$(echo "$replay" | grep -o 'trace_hash=[0-9a-f]*' | head -1)
echo "swarm run: $h1, replay: $h2"
[ "$h1" = "$h2" ] && echo "drawn scenario replays exactly"
