// The simulation spec: "key=value" pairs joined by commas (docs/sim.md).
#pragma once
#include <cstdint>
#include <string>

namespace dray::sim {

struct SimSpec {
  uint64_t seed = 1;
  uint32_t nodes = 1;
  double cpus = 4;     // per node
  double gpus = 0;     // per node
  uint64_t store_mb = 2048;  // per node
  std::string faults = "none";  // none | workers (docs/fault-tolerance.md)
  int64_t fault_every_us = 50'000;  // faults=workers: mean gap between crashes
  int64_t faults_until_ms = 2'000;  // faults stop then (the liveness phase follows)
  int32_t task_retries = 3;
  int32_t actor_restarts = 0;      // max_restarts of actors that do not set it (Ray's default: 0)
  int32_t actor_task_retries = 0;  // max_task_retries of actors that do not set it (Ray's default: 0)
  double head_cpus = -1;           // node 0's CPUs (-1: like the others; 0: no tasks on the head, as Ray's --num-cpus=0)
  uint64_t inline_kb = 100;        // returns and puts above this go to the node's store (Ray: 100 KiB)
  int64_t health_period_ms = 3000;  // the control service's health checks (Ray's defaults)
  uint32_t health_misses = 5;  // max_retries of tasks that do not set it (Ray's default 3; -1 unlimited)
  std::string trace;         // SQLite trace file to write
  std::string timeline;      // Chrome trace JSON to write at the end
  int64_t latency_us = 100;  // between nodes; a tenth of it within a node
  int64_t worker_start_us = 1000;
  uint64_t chunk_kb = 1024;
  uint64_t stack_kb = 1024;  // each simulated worker's stack (a fiber; a guard page below it)
  bool check_invariants = true;
};

// Throws dray::Error naming the bad key or value.
SimSpec ParseSimSpec(const std::string& text);
std::string FormatSimSpec(const SimSpec& s);

}  // namespace dray::sim
