// The simulation spec: "key=value" pairs joined by commas (docs/sim.md).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "sim/scenario.h"

namespace dray::sim {

// Fault kinds (docs/fault-tolerance.md): `faults=` takes `none`, `workers`
// (= worker_crash), `swarm` (the mix drawn from the seed), or kinds joined by
// '+', e.g. `worker_crash+node_crash+partition`.
enum FaultKind : uint32_t {  // plain enum: the kinds combine as bits
  kFaultWorkerCrash = 1u << 0,
  kFaultNodeCrash = 1u << 1,
  kFaultPartition = 1u << 2,         // a node cut off both ways, healed later
  kFaultOneWayPartition = 1u << 3,   // a node that cannot send, or cannot receive
  kFaultLatencySpike = 1u << 4,      // every link of a node slow for a while
  kFaultSlowNode = 1u << 5,          // a node whose steps take virtual time
  kFaultClog = 1u << 6,              // swizzle: about half the nodes clogged, unclogged in random order
  kFaultLoss = 1u << 7,              // frames lost (retransmitted after rto_us)
  kFaultDuplicate = 1u << 8,         // frames delivered twice (deduplicated)
  kFaultReorder = 1u << 9,           // frames overtaken (buffered and put back in order)
  kFaultBuggify = 1u << 10,          // rare paths in core/ turned on (DRAY_BUGGIFY)
  kFaultGcsRestart = 1u << 11,       // the control service crashes once and restarts from its tables
  kFaultSmallStore = 1u << 12,       // every node's object store is small (512 KiB to 2 MiB): eviction, spilling
  kFaultDiskError = 1u << 13,        // a spilled copy's read fails (an I/O error): that copy is lost
};
// The kinds' names, in bit order.
extern const char* const kFaultKindNames[];
extern const int kNumFaultKinds;
// "worker_crash+node_crash" for a mask.
std::string FaultKindsStr(uint32_t kinds);

struct SimSpec {
  uint64_t seed = 1;
  uint32_t nodes = 1;
  double cpus = 4;     // per node
  double gpus = 0;     // per node
  uint64_t store_mb = 2048;  // per node
  uint64_t store_kb = 0;     // per node; when set, instead of store_mb
  int64_t disk_us = 100;     // the simulated spill disk: each restore's latency ...
  uint64_t disk_mb_per_s = 1000;  // ... plus its bytes at this bandwidth
  uint32_t disk_error_permille = 100;  // faults=disk_error: each restore fails with this chance while faults last
  std::string faults = "none";  // as written: none | workers | swarm | kind+kind+...
  uint32_t fault_kinds = 0;     // FaultKind bits the spec asks for (swarm: drawn per seed by the world)
  bool swarm = false;           // faults=swarm
  int64_t fault_every_us = 50'000;  // faults=workers: mean gap between crashes
  int64_t faults_until_ms = 2'000;  // faults stop then (the liveness phase follows)
  int64_t liveness_ms = 0;          // the liveness bound after faults_until_ms (0: LivenessBoundMs's default)
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
  // Network faults (docs/fault-tolerance.md).
  int64_t net_fault_every_us = 100'000;  // mean gap between one-way cuts, latency spikes, slow nodes, clogs
  uint32_t loss_permille = 20;           // faults=loss: each frame transmission is lost with this chance
  uint32_t dup_permille = 20;            // faults=duplicate: ... delivered twice
  uint32_t reorder_permille = 50;        // faults=reorder: ... held back so that later frames overtake it
  int64_t rto_us = 200'000;              // the retransmit timeout of a lost frame (Linux's TCP minimum)
  // scenario=FILE: scripted faults from a scenario file (sim/scenario.h).
  std::string scenario;
  std::vector<ScriptedFault> script;
};

// The liveness bound (docs/sim.md): in a run with faults, every Get or Wait
// pending when faults stop (or begun later) must end within this much virtual
// time. The default covers the longest injected outage (a 25 s cut, a 5 s
// control-service outage), four rounds of failure detection (each
// health_period_ms x (health_misses + 1): a retry, a reconstruction, ...),
// and 60 s of the workload's own time.
int64_t LivenessBoundMs(const SimSpec& s);

// Throws dray::Error naming the bad key or value.
SimSpec ParseSimSpec(const std::string& text);
std::string FormatSimSpec(const SimSpec& s);

}  // namespace dray::sim
